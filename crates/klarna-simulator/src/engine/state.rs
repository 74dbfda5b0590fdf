//! The engine's state: sessions, authorizations, customer tokens and orders, their lifetimes and
//! the lookups every API family shares.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::clock::{DAY, HOUR, MINUTE, Millis};

use super::json::parse_id;
use super::replay::{ReplayPolicy, ReplayTable};
use super::reply::{Reply, Res, invalid_order_id, invalid_token, no_such_order};
use super::session::SessionBody;
use super::status::{FraudStatus, Intent, OrderStatus, SessionStatus, TokenStatus};

/// Session lifetime, counted from creation: an update does not extend it (API.md §11.8).
pub(super) const SESSION_LIFE: Millis = 48 * HOUR;
/// Authorization-token lifetime (API.md §1.7).
pub(super) const AUTHORIZATION_LIFE: Millis = 60 * MINUTE;
/// Default time to capture an order (API.md §1.7).
pub(super) const ORDER_LIFE: Millis = 28 * DAY;
/// Extensions are only allowed within this long after order creation.
pub(super) const MAX_EXTENSION: Millis = 180 * DAY;
/// How often (in simulated time) the lazy sweep evicts expired state.
pub(super) const SWEEP_EVERY: Millis = MINUTE;

/// Keys that are read-only on a session and never stored from a request body.
pub(super) const SESSION_READ_ONLY: &[&str] = &[
    "client_token",
    "status",
    "expires_at",
    "authorization_token",
    "payment_method_categories",
    "session_id",
];

/// Where an order came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderSource {
    /// P5: an order from an authorization token.
    Authorization {
        /// The authorization token the order consumed.
        authorization_token: String,
        /// The payment session it was authorized on.
        session_id: String,
    },
    /// T2: an order charged to a customer token.
    CustomerToken {
        /// The customer token charged.
        customer_token: String,
    },
}

/// A summary of one order, for tests (`GET /sim/orders`, [`crate::Simulator::orders`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// Klarna order id (a UUID).
    pub order_id: String,
    /// OM status: `AUTHORIZED`, `PART_CAPTURED`, `CAPTURED`, `CANCELLED`, `EXPIRED`, `CLOSED`.
    pub status: String,
    /// `ACCEPTED`, `PENDING` or `REJECTED`.
    pub fraud_status: String,
    /// Current authorized amount.
    pub order_amount: i64,
    /// Amount at creation.
    pub original_order_amount: i64,
    /// Sum of captures.
    pub captured_amount: i64,
    /// Sum of refunds.
    pub refunded_amount: i64,
    /// What can still be captured.
    pub remaining_authorized_amount: i64,
    /// Purchase currency.
    pub purchase_currency: String,
    /// The merchant's first reference (our payment id, by convention).
    pub merchant_reference1: Option<String>,
    /// The merchant's second reference.
    pub merchant_reference2: Option<String>,
    /// `merchant_data`, as given.
    #[serde(default)]
    pub merchant_data: Option<String>,
    /// The billing address, as given (on the order or its session).
    #[serde(default)]
    pub billing_address: Option<Value>,
    /// The shipping address, as given (Klarna copies the billing address when none is).
    #[serde(default)]
    pub shipping_address: Option<Value>,
    /// The customer, as given.
    #[serde(default)]
    pub customer: Option<Value>,
    /// The Extra Merchant Data `attachment` (`content_type`, `body`), as given on the order
    /// or its session.
    #[serde(default)]
    pub attachment: Option<Value>,
    /// The session's widget `options`, as given.
    #[serde(default)]
    pub options: Option<Value>,
    /// The order lines, as given.
    #[serde(default)]
    pub lines: Value,
    /// Number of captures.
    pub captures: usize,
    /// Number of refunds.
    pub refunds: usize,
    /// Where the order came from.
    pub source: OrderSource,
}

/// Counts per operation name (see [`Operation::name`](crate::Operation::name)): requests
/// received, and the calls a `latency` fault held and of those, the ones abandoned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received per operation name, including faulted and refused ones (counted as
    /// soon as routed, before the body is read and before any fault is taken).
    pub requests: BTreeMap<String, u64>,
    /// Calls held by a `latency` fault, counted when the hold begins: the fault is taken and
    /// the call has not had its effect.
    #[serde(default)]
    pub held: BTreeMap<String, u64>,
    /// Held calls abandoned before their effect: the client's connection closed during the
    /// hold (counted once the call's key, if any, is no longer in flight).
    #[serde(default)]
    pub abandoned: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests seen for one operation name.
    pub fn count(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// Calls of one operation held by a `latency` fault so far.
    pub fn held(&self, operation: &str) -> u64 {
        self.held.get(operation).copied().unwrap_or(0)
    }

    /// Held calls of one operation abandoned before their effect so far.
    pub fn abandoned(&self, operation: &str) -> u64 {
        self.abandoned.get(operation).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
pub(super) struct Session {
    /// The session's fields, typed (boxed: the map of sessions holds small entries).
    pub(super) body: Box<SessionBody>,
    /// The body's intent.
    pub(super) intent: Intent,
    /// When P1 created it: the session lives [`SESSION_LIFE`] from here, updates or not.
    pub(super) created_at: Millis,
    pub(super) status: SessionStatus,
    pub(super) current_auth: Option<Uuid>,
    /// An approved `authorize` whose token waits for `finalize()` (JS `auto_finalize: false`).
    pub(super) awaiting_finalize: Option<super::shopper::AwaitingFinalize>,
}

#[derive(Debug)]
pub(super) struct Authorization {
    pub(super) session_id: Uuid,
    pub(super) created_at: Millis,
    pub(super) intent: Intent,
    /// What was authorized (cart, addresses, merchant urls).
    pub(super) snapshot: Box<SessionBody>,
    pub(super) order_id: Option<Uuid>,
    pub(super) customer_token: Option<Uuid>,
    pub(super) fraud_status: FraudStatus,
}

#[derive(Debug)]
pub(super) struct CustomerToken {
    pub(super) status: TokenStatus,
    /// Charges answer `403 TOKEN_FORBIDDEN` ([`super::Engine::forbid_token`]).
    pub(super) forbidden: bool,
    pub(super) purchase_country: String,
    pub(super) purchase_currency: String,
    pub(super) locale: Option<String>,
    pub(super) billing_address: Option<Value>,
    pub(super) customer: Option<Value>,
}

#[derive(Debug, Clone)]
pub(super) struct Capture {
    pub(super) id: Uuid,
    pub(super) amount: i64,
    pub(super) refunded: i64,
    pub(super) at: Millis,
    pub(super) reference: Option<Value>,
    pub(super) description: Option<Value>,
    pub(super) lines: Option<Value>,
    pub(super) shipping_info: Vec<Value>,
    pub(super) klarna_reference: String,
}

#[derive(Debug, Clone)]
pub(super) struct Refund {
    pub(super) id: Uuid,
    pub(super) amount: i64,
    pub(super) at: Millis,
    pub(super) reference: Option<Value>,
    pub(super) description: Option<Value>,
    pub(super) lines: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closure {
    Open,
    Cancelled,
    Closed,
}

#[derive(Debug)]
pub(super) struct Order {
    pub(super) seq: u64,
    pub(super) created_at: Millis,
    pub(super) expires_at: Millis,
    pub(super) closure: Closure,
    pub(super) fraud_status: FraudStatus,
    pub(super) purchase_country: String,
    pub(super) purchase_currency: String,
    pub(super) locale: Option<String>,
    pub(super) order_amount: i64,
    pub(super) original_order_amount: i64,
    pub(super) lines: Value,
    pub(super) merchant_reference1: Option<String>,
    pub(super) merchant_reference2: Option<String>,
    pub(super) merchant_data: Option<String>,
    pub(super) billing_address: Option<Value>,
    pub(super) shipping_address: Option<Value>,
    pub(super) customer: Option<Value>,
    pub(super) attachment: Option<Value>,
    pub(super) options: Option<Value>,
    pub(super) captures: Vec<Capture>,
    pub(super) refunds: Vec<Refund>,
    pub(super) shipping_info: Vec<Value>,
    pub(super) klarna_reference: String,
    pub(super) source: OrderSource,
    pub(super) notification_url: Option<String>,
    pub(super) confirmation_url: Option<String>,
}

impl Order {
    pub(super) fn captured(&self) -> i64 {
        self.captures.iter().map(|c| c.amount).sum()
    }
    pub(super) fn refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }
    pub(super) fn status(&self, now: Millis) -> OrderStatus {
        let captured = self.captured();
        match self.closure {
            Closure::Cancelled => OrderStatus::Cancelled,
            Closure::Closed => OrderStatus::Closed,
            Closure::Open if captured > 0 && captured >= self.order_amount => OrderStatus::Captured,
            Closure::Open if now > self.expires_at => {
                if captured > 0 {
                    OrderStatus::Closed
                } else {
                    OrderStatus::Expired
                }
            }
            Closure::Open if captured > 0 => OrderStatus::PartCaptured,
            Closure::Open => OrderStatus::Authorized,
        }
    }
    pub(super) fn remaining(&self, now: Millis) -> i64 {
        if self.status(now).is_open() {
            self.order_amount - self.captured()
        } else {
            0
        }
    }
    pub(super) fn summary(&self, id: Uuid, now: Millis) -> OrderSummary {
        OrderSummary {
            order_id: id.to_string(),
            status: self.status(now).wire().to_owned(),
            fraud_status: self.fraud_status.wire().to_owned(),
            order_amount: self.order_amount,
            original_order_amount: self.original_order_amount,
            captured_amount: self.captured(),
            refunded_amount: self.refunded(),
            remaining_authorized_amount: self.remaining(now),
            purchase_currency: self.purchase_currency.clone(),
            merchant_reference1: self.merchant_reference1.clone(),
            merchant_reference2: self.merchant_reference2.clone(),
            merchant_data: self.merchant_data.clone(),
            billing_address: self.billing_address.clone(),
            shipping_address: self.shipping_address.clone(),
            customer: self.customer.clone(),
            attachment: self.attachment.clone(),
            options: self.options.clone(),
            lines: self.lines.clone(),
            captures: self.captures.len(),
            refunds: self.refunds.len(),
            source: self.source.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) sessions: HashMap<Uuid, Session>,
    pub(super) authorizations: HashMap<Uuid, Authorization>,
    pub(super) tokens: HashMap<Uuid, CustomerToken>,
    pub(super) orders: HashMap<Uuid, Order>,
    /// Hosted Payment Page sessions (`super::hpp`), kept like orders (not swept).
    pub(super) hpp: HashMap<Uuid, super::hpp::HppSession>,
    pub(super) replay: ReplayTable,
    /// Which operations `replay` serves (switchable at run time).
    pub(super) policy: ReplayPolicy,
    pub(super) next_seq: u64,
    pub(super) last_sweep: Millis,
}

impl State {
    /// Evicts expired state: sessions 48 h after they expired, authorizations a day after theirs,
    /// idempotency entries after their 24 h window. Customer tokens and orders are kept.
    pub(super) fn sweep(&mut self, now: Millis) {
        if now - self.last_sweep < SWEEP_EVERY {
            return;
        }
        self.last_sweep = now;
        self.sessions
            .retain(|_, s| now < s.created_at + SESSION_LIFE + SESSION_LIFE);
        self.authorizations
            .retain(|_, a| now < a.created_at + AUTHORIZATION_LIFE + DAY);
        self.replay.sweep(now);
    }
}

/// Counts of live state, for tests and the memory example.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Population {
    /// Sessions held (including expired ones not yet evicted).
    pub sessions: usize,
    /// Authorizations held.
    pub authorizations: usize,
    /// Customer tokens held.
    pub customer_tokens: usize,
    /// Orders held.
    pub orders: usize,
    /// Idempotency entries held.
    pub idempotency_entries: usize,
}

pub(super) fn next_seq(st: &mut State) -> u64 {
    st.next_seq += 1;
    st.next_seq
}

pub(super) fn live_session<'a>(
    st: &'a State,
    id: &str,
    now: Millis,
) -> Result<(Uuid, &'a Session), Reply> {
    let not_found = || Reply::error(404, "NOT_FOUND", "Invalid session id");
    let uuid = parse_id(id).ok_or_else(not_found)?;
    let s = st.sessions.get(&uuid).ok_or_else(not_found)?;
    if now >= s.created_at + SESSION_LIFE {
        return Err(not_found());
    }
    Ok((uuid, s))
}

pub(super) fn live_auth<'a>(
    st: &'a State,
    id: &Uuid,
    now: Millis,
) -> Result<&'a Authorization, Reply> {
    let a = st.authorizations.get(id).ok_or_else(invalid_token)?;
    if now >= a.created_at + AUTHORIZATION_LIFE {
        return Err(invalid_token());
    }
    // The pessimistic reading of "the session stays open for 48 hours or until you place an
    // order": an authorization outlives nothing of its session, so an order from a closed
    // session is refused like an expired token.
    let session_open = st
        .sessions
        .get(&a.session_id)
        .is_some_and(|s| now < s.created_at + SESSION_LIFE);
    if !session_open {
        return Err(invalid_token());
    }
    Ok(a)
}

pub(super) fn order_mut<'a>(st: &'a mut State, id: &str) -> Result<(Uuid, &'a mut Order), Reply> {
    let uuid = parse_id(id).ok_or_else(invalid_order_id)?;
    let o = st.orders.get_mut(&uuid).ok_or_else(no_such_order)?;
    Ok((uuid, o))
}

pub(super) fn with_order(st: &State, id: &str, f: impl FnOnce(&Order) -> Res) -> Res {
    let uuid = parse_id(id).ok_or_else(invalid_order_id)?;
    let o = st.orders.get(&uuid).ok_or_else(no_such_order)?;
    f(o)
}

pub(super) fn with_capture(
    st: &State,
    id: &str,
    capture_id: &str,
    f: impl FnOnce(&Order, &Capture) -> Res,
) -> Res {
    with_order(st, id, |o| {
        let c = parse_id(capture_id)
            .and_then(|cid| o.captures.iter().find(|c| c.id == cid))
            .ok_or_else(|| Reply::error(404, "NO_SUCH_CAPTURE", "No such capture"))?;
        f(o, c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(amount: i64) -> Order {
        Order {
            seq: 1,
            created_at: 0,
            expires_at: ORDER_LIFE,
            closure: Closure::Open,
            fraud_status: FraudStatus::Accepted,
            purchase_country: "SE".into(),
            purchase_currency: "SEK".into(),
            locale: None,
            order_amount: amount,
            original_order_amount: amount,
            lines: Value::Array(vec![]),
            merchant_reference1: Some("R1".into()),
            merchant_reference2: None,
            merchant_data: None,
            billing_address: None,
            shipping_address: None,
            customer: None,
            attachment: None,
            options: None,
            captures: Vec::new(),
            refunds: Vec::new(),
            shipping_info: Vec::new(),
            klarna_reference: "ABCD0123".into(),
            source: OrderSource::CustomerToken {
                customer_token: "t".into(),
            },
            notification_url: None,
            confirmation_url: None,
        }
    }

    fn capture(amount: i64) -> Capture {
        Capture {
            id: Uuid::nil(),
            amount,
            refunded: 0,
            at: 0,
            reference: None,
            description: None,
            lines: None,
            shipping_info: Vec::new(),
            klarna_reference: String::new(),
        }
    }

    /// A `buy` session created at time 0, incomplete.
    fn session() -> Session {
        Session {
            body: Box::new(SessionBody::from_map(serde_json::Map::new())),
            intent: Intent::Buy,
            created_at: 0,
            status: SessionStatus::Incomplete,
            current_auth: None,
            awaiting_finalize: None,
        }
    }

    /// An accepted `buy` authorization of `session_id` made at `created_at`.
    fn authorization(session_id: Uuid, created_at: Millis) -> Authorization {
        Authorization {
            session_id,
            created_at,
            intent: Intent::Buy,
            snapshot: Box::new(SessionBody::from_map(serde_json::Map::new())),
            order_id: None,
            customer_token: None,
            fraud_status: FraudStatus::Accepted,
        }
    }

    #[test]
    fn order_status_follows_captures_closure_and_expiry() {
        let mut o = order(1000);
        assert_eq!(o.status(0), OrderStatus::Authorized);
        assert_eq!(o.remaining(0), 1000);
        assert_eq!(o.status(ORDER_LIFE + 1), OrderStatus::Expired);
        assert_eq!(o.remaining(ORDER_LIFE + 1), 0);
        o.captures.push(capture(400));
        assert_eq!(o.status(0), OrderStatus::PartCaptured);
        assert_eq!(o.remaining(0), 600);
        // Expiry after a partial capture closes the order.
        assert_eq!(o.status(ORDER_LIFE + 1), OrderStatus::Closed);
        o.captures.push(capture(600));
        assert_eq!(o.status(0), OrderStatus::Captured);
        // A fully captured order stays captured past its expiry.
        assert_eq!(o.status(ORDER_LIFE + 1), OrderStatus::Captured);
        assert_eq!(o.remaining(0), 0);
        o.closure = Closure::Closed;
        assert_eq!(o.status(0), OrderStatus::Closed);
        o.closure = Closure::Cancelled;
        assert_eq!(o.status(0), OrderStatus::Cancelled);
    }

    #[test]
    fn a_zero_amount_order_is_authorized_not_captured() {
        let o = order(0);
        assert_eq!(o.status(0), OrderStatus::Authorized);
        assert_eq!(o.remaining(0), 0);
    }

    #[test]
    fn the_summary_spells_the_statuses_and_sums_the_amounts() {
        let mut o = order(1000);
        o.fraud_status = FraudStatus::Pending;
        o.captures.push(capture(300));
        o.refunds.push(Refund {
            id: Uuid::nil(),
            amount: 100,
            at: 0,
            reference: None,
            description: None,
            lines: None,
        });
        let s = o.summary(Uuid::nil(), 0);
        assert_eq!(s.status, "PART_CAPTURED");
        assert_eq!(s.fraud_status, "PENDING");
        assert_eq!(
            (
                s.captured_amount,
                s.refunded_amount,
                s.remaining_authorized_amount
            ),
            (300, 100, 700)
        );
        assert_eq!((s.captures, s.refunds), (1, 1));
        assert_eq!(s.merchant_reference1.as_deref(), Some("R1"));
        assert_eq!(s.order_id, Uuid::nil().to_string());
    }

    #[test]
    fn the_sweep_evicts_expired_sessions_and_authorizations_at_most_once_a_minute() {
        let mut st = State::default();
        let sid = Uuid::from_u128(1);
        st.sessions.insert(sid, session());
        st.authorizations
            .insert(Uuid::from_u128(2), authorization(sid, 0));
        st.tokens.insert(
            Uuid::from_u128(3),
            CustomerToken {
                status: TokenStatus::Active,
                forbidden: false,
                purchase_country: "SE".into(),
                purchase_currency: "SEK".into(),
                locale: None,
                billing_address: None,
                customer: None,
            },
        );
        st.orders.insert(Uuid::from_u128(4), order(1));
        let auth_gone = AUTHORIZATION_LIFE + DAY;
        st.sweep(auth_gone - 1);
        assert_eq!((st.sessions.len(), st.authorizations.len()), (1, 1));
        // Within a minute of the last sweep nothing runs.
        st.sweep(auth_gone);
        assert_eq!(st.authorizations.len(), 1);
        st.sweep(auth_gone - 1 + SWEEP_EVERY);
        assert_eq!((st.sessions.len(), st.authorizations.len()), (1, 0));
        st.sweep(2 * SESSION_LIFE);
        assert_eq!(st.sessions.len(), 0);
        // Customer tokens and orders are kept.
        assert_eq!((st.tokens.len(), st.orders.len()), (1, 1));
    }

    /// An authorization made in its session's last hour dies with the session (48 hours from
    /// its creation), not 60 minutes after it was made.
    #[test]
    fn an_authorization_is_refused_once_its_session_has_closed() {
        let mut st = State::default();
        let sid = Uuid::from_u128(3);
        st.sessions.insert(sid, session());
        let aid = Uuid::from_u128(4);
        st.authorizations
            .insert(aid, authorization(sid, SESSION_LIFE - 30 * MINUTE));
        assert!(live_auth(&st, &aid, SESSION_LIFE - 1).is_ok());
        let closed = live_auth(&st, &aid, SESSION_LIFE).err();
        assert_eq!(closed.map(|r| r.status), Some(404), "the session closed");
    }

    #[test]
    fn live_lookups_refuse_expired_and_unknown_ids() {
        let mut st = State::default();
        let sid = Uuid::from_u128(7);
        st.sessions.insert(sid, session());
        let id = sid.to_string();
        assert!(live_session(&st, &id, SESSION_LIFE - 1).is_ok());
        let expired = live_session(&st, &id, SESSION_LIFE).err();
        assert_eq!(expired.map(|r| r.status), Some(404));
        assert!(live_session(&st, "not-a-uuid", 0).is_err());
        assert_eq!(
            order_mut(&mut st, "not-a-uuid").err().map(|r| r.status),
            Some(400)
        );
        assert_eq!(
            order_mut(&mut st, &Uuid::nil().to_string())
                .err()
                .and_then(|r| r.header("content-type").map(str::to_owned)),
            Some("application/json".to_owned())
        );
    }
}
