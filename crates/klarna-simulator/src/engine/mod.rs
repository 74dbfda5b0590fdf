//! The simulator's state engine: sessions, authorizations, customer tokens, orders, idempotent
//! replay and lifetimes, all behind one mutex and driven by the simulated clock. No I/O here: the
//! HTTP layer (`http.rs`) feeds it requests and performs the callbacks it asks for.
//!
//! # Layout, by API family
//!
//! | module | holds |
//! |---|---|
//! | `mod.rs` | [`Engine`]: the lock, the clock, counters, inspection, and `dispatch` routing each [`Operation`] to its family |
//! | `state` | the state types (sessions, authorizations, tokens, orders), their lifetimes, the shared lookups and the sweep |
//! | `session` | a session's body as typed fields over one string buffer (what P2 echoes, what an authorization snapshots) |
//! | `status` | intent, session, fraud, order and token statuses as enums with their wire spelling |
//! | `reply` | [`Reply`], Klarna's error bodies, the error answers families share, merchant callbacks |
//! | `json` | helpers over request JSON (parse a body, read a field, ids, URL templates) |
//! | `payments` | Payments API P1–P6 |
//! | `tokens` | Customer Token API T1–T3 |
//! | `orders` | Order Management writes (O2, O5, O7–O15, O17, O18) |
//! | `order_reads` | Order Management reads (O1, O3, O4, O6, O16) and the order's JSON |
//! | `shopper` | the shopper's step and fraud-review resolution (the `/sim/...` side) |
//! | `replay` | keyed replay: the table, the in-flight keys and the [`ReplayPolicy`] |
//! | `settlements` | Settlements API S1–S8: payouts computed from the recorded captures and refunds as the clock passes each day's cut-off |
//! | `hpp` | the Hosted Payment Page API (H1–H4) and the hosted page's shopper actions (routed by `crate::hpp_page`, not by `dispatch`) |
//!
//! Validation is not here: it is `crate::validate`, over JSON and independent of `klarna-domain`.
//!
//! # Replay and in-flight keys
//!
//! `dispatch` consults the [`ReplayPolicy`] (held in the state, switchable at run time) to decide
//! whether an operation's `Klarna-Idempotency-Key` is looked up and recorded; the HTTP layer
//! brackets a replayed request with [`Engine::enter_key`] / [`Engine::leave_key`] so a duplicate
//! arriving meanwhile is answered `409 CONFLICT`. The engine's own `dispatch` is synchronous
//! under the lock, so a request can only be "in flight" across the HTTP layer's awaits (faults).
//!
//! # Where coming features go
//!
//! * **Stricter answers**: the family module of the operation (e.g. `payments` for P5's
//!   answer), with any new request rule in `crate::validate`.
//! * **Hosted Payment Page**: done as the family module `hpp` (its sessions in `state`), served
//!   by its own routes (`crate::hpp_page`) rather than through `crate::ops::Operation` and
//!   `dispatch`, because a disable and the page's actions owe callbacks `dispatch` cannot
//!   return; so HPP calls are not counted in [`Stats`] nor subject to fault rules yet.
//! * **Settlements**: a new family module `settlements` reading the captures and refunds of
//!   `state`, routed the same way.

mod hpp;
mod json;
mod order_reads;
mod orders;
mod payments;
mod replay;
mod reply;
mod session;
pub mod settlements;
mod shopper;
mod state;
mod status;
mod tokens;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::{SimClock, format_time};
use crate::ops::Operation;

pub use hpp::HppPageAction;
pub use hpp::HppSessionState;
pub(crate) use hpp::{HppStatus, PageView};
use json::parse_id;
pub use replay::ReplayPolicy;
pub use reply::Reply;
pub(crate) use reply::{Callback, random_uuid};
pub use shopper::{FraudDecision, ShopperDecision};
use state::{Order, State};
pub use state::{OrderSource, OrderSummary, Population, Stats};

/// The simulator's state engine, usable without HTTP (benches, memory measurement, embedding).
#[derive(Debug)]
pub struct Engine {
    state: Mutex<State>,
    /// The counters behind [`Stats`], on a watch so a test can wait for a change
    /// ([`Engine::stats_when`]) instead of polling.
    stats: watch::Sender<Counters>,
    clock: SimClock,
    base_url: String,
}

/// What [`Stats`] reports, per operation name.
#[derive(Debug, Default)]
struct Counters {
    requests: HashMap<&'static str, u64>,
    held: HashMap<&'static str, u64>,
    abandoned: HashMap<&'static str, u64>,
}

impl Counters {
    fn to_stats(&self) -> Stats {
        let owned =
            |m: &HashMap<&'static str, u64>| m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        Stats {
            requests: owned(&self.requests),
            held: owned(&self.held),
            abandoned: owned(&self.abandoned),
        }
    }
}

fn bump(counts: &mut HashMap<&'static str, u64>, op: Operation) {
    *counts.entry(op.name()).or_insert(0) += 1;
}

impl Engine {
    /// A fresh engine whose clock starts now. `base_url` (no trailing slash) is used in
    /// `Location` headers, redirect URLs and the client token.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            stats: watch::Sender::new(Counters::default()),
            clock: SimClock::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Current simulated time as RFC 3339.
    pub fn now(&self) -> String {
        format_time(self.clock.now())
    }

    /// Moves the simulated clock forward.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.clock
            .advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4));
    }

    /// Counts one request for an operation.
    pub(crate) fn count(&self, op: Operation) {
        self.stats.send_modify(|c| bump(&mut c.requests, op));
    }

    /// Counts one call of `op` held by a `latency` fault, before its effect.
    pub(crate) fn count_held(&self, op: Operation) {
        self.stats.send_modify(|c| bump(&mut c.held, op));
    }

    /// Counts one held call of `op` abandoned before its effect (its client went away during
    /// the hold). The HTTP layer counts it once the call's key, if any, has left flight.
    pub(crate) fn count_abandoned(&self, op: Operation) {
        self.stats.send_modify(|c| bump(&mut c.abandoned, op));
    }

    /// Request counts per operation, and the calls held and abandoned.
    pub fn stats(&self) -> Stats {
        self.stats.borrow().to_stats()
    }

    /// Waits until the counters satisfy `ready` (checked now, then after every change) and
    /// answers them: a notification, not a poll. It waits for ever if they never do: bound it
    /// with a timeout.
    pub async fn stats_when(&self, mut ready: impl FnMut(&Stats) -> bool) -> Stats {
        let mut rx = self.stats.subscribe();
        // The engine owns the sender, so it outlives this wait: the channel never closes here.
        match rx.wait_for(|c| ready(&c.to_stats())).await {
            Ok(c) => c.to_stats(),
            Err(_) => self.stats(),
        }
    }

    /// How much state is held.
    pub fn population(&self) -> Population {
        let st = self.lock();
        Population {
            sessions: st.sessions.len(),
            authorizations: st.authorizations.len(),
            customer_tokens: st.tokens.len(),
            orders: st.orders.len(),
            idempotency_entries: st.replay.len(),
        }
    }

    /// Which operations are replayed by key.
    pub fn replay_policy(&self) -> ReplayPolicy {
        self.lock().policy
    }

    /// Switches the replay policy. Answers recorded before stay in the table (for their 24 h)
    /// but are served only while the policy replays their operation.
    pub fn set_replay_policy(&self, policy: ReplayPolicy) {
        self.lock().policy = policy;
    }

    /// Marks a request's key in flight before it is handled: `Ok(Some(key))` when the key was
    /// marked (pass it to [`Engine::leave_key`] once the answer is out), `Ok(None)` when there is
    /// nothing to mark (no key, or an operation the policy does not replay), and `Err` with the
    /// `409 CONFLICT` answer when a request with that key is still in flight.
    pub(crate) fn enter_key(
        &self,
        op: Operation,
        key: Option<&str>,
    ) -> Result<Option<String>, Reply> {
        let mut st = self.lock();
        let Some(k) = key.filter(|_| st.policy.replays(op)) else {
            return Ok(None);
        };
        if st.replay.begin(k) {
            Ok(Some(k.to_owned()))
        } else {
            Err(replay::in_flight_conflict())
        }
    }

    /// Clears the in-flight mark set by [`Engine::enter_key`].
    pub(crate) fn leave_key(&self, key: &str) {
        self.lock().replay.end(key);
    }

    /// Runs the lazy sweep now (it also runs by itself at most once per simulated minute).
    pub fn sweep(&self) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.last_sweep = i64::MIN / 2;
        st.sweep(now);
    }

    /// All orders, oldest first.
    pub fn orders(&self) -> Vec<OrderSummary> {
        let now = self.clock.now();
        let st = self.lock();
        let mut v: Vec<(&Uuid, &Order)> = st.orders.iter().collect();
        v.sort_by_key(|(_, o)| o.seq);
        v.into_iter().map(|(id, o)| o.summary(*id, now)).collect()
    }

    /// One order.
    pub fn order(&self, order_id: &str) -> Option<OrderSummary> {
        let now = self.clock.now();
        let id = parse_id(order_id)?;
        self.lock().orders.get(&id).map(|o| o.summary(id, now))
    }

    /// Handles one Klarna operation (already routed, see [`Operation::route`]) with its path
    /// parameters, the optional `Klarna-Idempotency-Key`, and the raw body. This is exactly what
    /// the HTTP layer runs, minus authentication, body limits, faults and the in-flight check.
    /// The key is looked up and the answer recorded only when the [`ReplayPolicy`] replays `op`;
    /// otherwise the operation runs as if no key had been sent.
    pub fn dispatch(
        &self,
        op: Operation,
        params: &[String],
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let now = self.clock.now();
        let mut st = self.lock();
        st.sweep(now);
        let key = idempotency_key.filter(|_| st.policy.replays(op));
        if let Some(k) = key
            && let Some(stored) = st.replay.lookup(k, now)
        {
            return stored.clone();
        }
        let p0 = params.first().map_or("", String::as_str);
        let p1 = params.get(1).map_or("", String::as_str);
        let result = match op {
            Operation::CreateSession => self.create_session(&mut st, body, now),
            Operation::ReadSession => self.read_session(&st, p0, now),
            Operation::UpdateSession => payments::update_session(&mut st, p0, body, now),
            Operation::CancelAuthorization => payments::cancel_authorization(&mut st, p0, now),
            Operation::CreateOrder => self.create_order(&mut st, p0, body, now),
            Operation::CreateCustomerToken => self.create_customer_token(&mut st, p0, body, now),
            Operation::ReadToken => tokens::read_token(&st, p0),
            Operation::TokenOrder => self.token_order(&mut st, p0, body, now),
            Operation::UpdateTokenStatus => tokens::update_token_status(&mut st, p0, body),
            Operation::GetOrder => order_reads::get_order(&st, p0, now),
            Operation::Capture => self.capture(&mut st, p0, body, now),
            Operation::ListCaptures => order_reads::list_captures(&st, p0),
            Operation::GetCapture => order_reads::get_capture(&st, p0, p1),
            Operation::Refund => self.refund(&mut st, p0, body, now),
            Operation::GetRefund => order_reads::get_refund(&st, p0, p1),
            Operation::CancelOrder => orders::cancel_order(&mut st, p0, now),
            Operation::ReleaseRemainingAuthorization => orders::release(&mut st, p0, now),
            Operation::ExtendAuthorizationTime => orders::extend(&mut st, p0, now),
            Operation::UpdateAuthorization => orders::update_authorization(&mut st, p0, body, now),
            Operation::UpdateMerchantReferences => orders::update_references(&mut st, p0, body),
            Operation::UpdateCustomerDetails => orders::update_customer_details(&mut st, p0, body),
            Operation::AddShippingInfo => orders::add_shipping_info(&mut st, p0, body),
            Operation::AddCaptureShippingInfo => {
                orders::add_capture_shipping_info(&mut st, p0, p1, body)
            }
            Operation::TriggerSendOut => orders::trigger_send_out(&st, p0, p1),
            Operation::ExtendDueDateOptions => order_reads::extend_due_date_options(&st, p0, p1),
            Operation::ExtendDueDate => orders::extend_due_date(&st, p0, p1, body),
            Operation::Acknowledge => orders::acknowledge(&st, p0),
        };
        let reply = match result {
            Ok(r) | Err(r) => r,
        };
        if let Some(k) = key {
            st.replay.record(k, &reply, now);
        }
        reply
    }
    /// The confirmation URL an order's `redirect_url` leads to.
    pub(crate) fn confirmation_url(&self, order_id: &str) -> Option<String> {
        let id = parse_id(order_id)?;
        self.lock()
            .orders
            .get(&id)
            .and_then(|o| o.confirmation_url.clone())
    }
}
