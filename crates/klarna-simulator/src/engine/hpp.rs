//! The Hosted Payment Page API v1 (`docs/klarna/hpp.md`): HPP sessions wrapping this
//! simulator's KP sessions (H1–H4), and the shopper's steps on the hosted page (open, pay,
//! decline, cancel, back), which run the same shopper step as `POST /sim/sessions/{id}/authorize`
//! and, under `PLACE_ORDER` / `CAPTURE_ORDER`, the same order creation as P5.
//!
//! Statuses follow Klarna's lifecycle: `COMPLETED`, `CANCELLED` and `DISABLED` are final;
//! `BACK` and `FAILED` leave the page open for another try. Every status change owes a
//! `status_update` callback (`{event_id, session}`), which the HTTP layer sends. Past
//! `expires_at` (the KP session's expiry − 1 h) the session reads 404 and its page says it
//! expired.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use klarna_api::hpp::{SessionCreationResponse, SessionResponse, StatusUpdate};

use crate::clock::{HOUR, Millis, format_time};

use super::Engine;
use super::json::parse_id;
use super::reply::{Callback, Reply, callback_body, random_uuid};
use super::shopper::ShopperDecision;
use super::state::{SESSION_LIFE, State};
use super::status::SessionStatus;

/// An HPP session ends this long before its KP session (hpp.md §8).
const BEFORE_KP_EXPIRY: Millis = HOUR;

/// The statuses the simulator's HPP sessions take (a subset of Klarna's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum HppStatus {
    Waiting,
    InProgress,
    Back,
    Failed,
    Error,
    Completed,
    Cancelled,
    Disabled,
}

impl HppStatus {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::InProgress => "IN_PROGRESS",
            Self::Back => "BACK",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Disabled => "DISABLED",
        }
    }

    /// Final as Klarna documents it: no further change, no payment.
    pub(crate) fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Disabled)
    }
}

/// `options.place_order_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    PlaceOrder,
    CaptureOrder,
}

impl Mode {
    fn wire(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::PlaceOrder => "PLACE_ORDER",
            Self::CaptureOrder => "CAPTURE_ORDER",
        }
    }
}

/// The merchant URL names of `merchant_urls`, in the order they are checked.
const URL_NAMES: [&str; 6] = [
    "success",
    "cancel",
    "back",
    "failure",
    "error",
    "status_update",
];

/// One recorded distribution (nothing is sent). The contact data is the shopper's: `Debug`
/// hides it.
#[derive(Clone, Serialize)]
pub(crate) struct Distribution {
    method: String,
    contact_information: Value,
    at: String,
}

impl std::fmt::Debug for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distribution")
            .field("method", &self.method)
            .field("contact_information", &"<redacted>")
            .field("at", &self.at)
            .finish()
    }
}

/// One HPP session. `Debug` shows neither the merchant URLs (a `status_update` URL carries the
/// merchant's secret) nor the authorization token.
pub(crate) struct HppSession {
    kp_session: Uuid,
    status: HppStatus,
    updated_at: Millis,
    expires_at: Millis,
    mode: Mode,
    urls: HashMap<&'static str, String>,
    page_title: Option<String>,
    /// Secret (the KP authorization token): never in `Debug` output of the engine's users.
    authorization_token: Option<Uuid>,
    order_id: Option<Uuid>,
    distributions: Vec<Distribution>,
    /// A Pay is running (between the shopper step and the order): a second one is refused.
    paying: bool,
}

impl std::fmt::Debug for HppSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HppSession")
            .field("kp_session", &self.kp_session)
            .field("status", &self.status)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .field("mode", &self.mode)
            .field("urls", &self.urls.keys().collect::<Vec<_>>())
            .field("authorized", &self.authorization_token.is_some())
            .field("order_id", &self.order_id)
            .field("distributions", &self.distributions)
            .field("paying", &self.paying)
            .finish()
    }
}

/// A shopper's action on the hosted page (its buttons; [`crate::Simulator::hpp_act`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HppPageAction {
    /// Pay: an approving shopper step.
    Pay,
    /// "Simulate a decline": a declining shopper step.
    Decline,
    /// Cancel the purchase (final).
    Cancel,
    /// Back to the merchant (not final).
    Back,
}

/// What the hosted page shows (all text; the HTML layer escapes it).
#[derive(Debug, Clone)]
pub(crate) struct PageView {
    pub(crate) status: HppStatus,
    /// Past `expires_at` (or unknown): the page says so and offers nothing.
    pub(crate) expired: bool,
    pub(crate) title: Option<String>,
    pub(crate) currency: String,
    pub(crate) order_amount: i64,
    /// `(name, quantity, total_amount)`.
    pub(crate) lines: Vec<(String, i64, i64)>,
    pub(crate) order_id: Option<String>,
}

/// The outcome of a page action: where the browser goes (a merchant URL with its placeholders
/// filled, or `None` for the simulator's own result page) and the callbacks owed.
#[derive(Debug)]
pub(crate) struct ActionOutcome {
    pub(crate) redirect: Option<String>,
    pub(crate) callbacks: Vec<Callback>,
}

/// In-process view of an HPP session ([`crate::Simulator::hpp_session`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HppSessionState {
    /// The HPP session id.
    pub session_id: String,
    /// The KP session it wraps.
    pub payment_session_id: String,
    /// `WAITING`, `IN_PROGRESS`, `BACK`, `FAILED`, `ERROR`, `COMPLETED`, `CANCELLED`, `DISABLED`.
    pub status: String,
    /// `NONE`, `PLACE_ORDER` or `CAPTURE_ORDER`.
    pub place_order_mode: String,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// Whether the simulator clock is past `expires_at`.
    pub expired: bool,
    /// The order placed, under `PLACE_ORDER` / `CAPTURE_ORDER`.
    pub order_id: Option<String>,
    /// Whether an authorization token was issued.
    pub authorized: bool,
    /// Recorded distributions (`method`, `contact_information`, `at`), oldest first.
    pub distributions: Vec<Value>,
}

fn bad(field: &str) -> Reply {
    Reply::error(400, "BAD_VALUE", format!("Bad value: {field}"))
}

fn not_found() -> Reply {
    Reply::error(
        404,
        "NOT_FOUND",
        "HPP session has expired or could not be found",
    )
}

/// Percent-encodes a placeholder's value (everything but RFC 3986 unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `raw` is an absolute `http(s)` URL with a host (plain http is accepted anywhere:
/// tests run on loopback).
fn is_web_url(raw: &str) -> bool {
    reqwest::Url::parse(raw)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

impl HppSession {
    fn live(&self, now: Millis) -> bool {
        now < self.expires_at
    }

    fn fill(&self, url: &str, id: Uuid) -> String {
        url.replace("{{session_id}}", &encode(&id.to_string()))
            .replace(
                "{{authorization_token}}",
                &self
                    .authorization_token
                    .map(|t| encode(&t.to_string()))
                    .unwrap_or_default(),
            )
            .replace(
                "{{order_id}}",
                &self
                    .order_id
                    .map(|o| encode(&o.to_string()))
                    .unwrap_or_default(),
            )
    }

    fn read(&self, id: Uuid) -> SessionResponse {
        SessionResponse {
            session_id: Some(id.to_string()),
            status: Some(klarna_api::hpp::HppStatus::from(self.status.wire())),
            updated_at: Some(format_time(self.updated_at)),
            expires_at: Some(format_time(self.expires_at)),
            authorization_token: self.authorization_token.map(|t| t.to_string()),
            order_id: self.order_id.map(|o| o.to_string()),
            ..SessionResponse::default()
        }
    }

    /// Moves to `status` and answers the `status_update` callback owed, if any.
    fn change(&mut self, id: Uuid, status: HppStatus, now: Millis) -> Option<Callback> {
        self.status = status;
        self.updated_at = now;
        let url = self.urls.get("status_update")?;
        Some(Callback {
            url: self.fill(url, id),
            body: callback_body(&StatusUpdate {
                event_id: random_uuid().to_string(),
                session: self.read(id),
            }),
        })
    }
}

fn session<'a>(st: &'a State, id: &str, now: Millis) -> Result<(Uuid, &'a HppSession), Reply> {
    let uuid = parse_id(id).ok_or_else(not_found)?;
    let s = st
        .hpp
        .get(&uuid)
        .filter(|s| s.live(now))
        .ok_or_else(not_found)?;
    Ok((uuid, s))
}

impl Engine {
    /// H1 `POST /hpp/v1/sessions`.
    pub(crate) fn hpp_create(&self, body: &[u8]) -> Reply {
        let now = self.clock.now();
        let mut st = self.lock();
        st.sweep(now);
        match self.hpp_create_in(&mut st, body, now) {
            Ok(r) | Err(r) => r,
        }
    }

    fn hpp_create_in(&self, st: &mut State, body: &[u8], now: Millis) -> Result<Reply, Reply> {
        let req: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|_| Reply::error(400, "BAD_REQUEST", "Invalid JSON body"))?;
        let url = req
            .get("payment_session_url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("payment_session_url"))?;
        let prefix = format!("{}/payments/v1/sessions/", self.base_url);
        let kp_id = url
            .strip_prefix(&prefix)
            .filter(|id| !id.is_empty() && !id.contains(['/', '?', '#']))
            .ok_or_else(|| bad("payment_session_url"))?;
        let expired = || Reply::error(404, "NOT_FOUND", "Payment session has expired");
        let kp = parse_id(kp_id).ok_or_else(expired)?;
        let session = st.sessions.get(&kp).ok_or_else(expired)?;
        let expires_at = session.created_at + SESSION_LIFE - BEFORE_KP_EXPIRY;
        if now >= expires_at {
            return Err(expired());
        }
        if session.status == SessionStatus::Complete {
            return Err(bad("payment_session_url"));
        }
        let mut urls = HashMap::new();
        match req.get("merchant_urls") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for name in URL_NAMES {
                    match m.get(name) {
                        None | Some(Value::Null) => {}
                        Some(Value::String(u)) if is_web_url(u) => {
                            urls.insert(name, u.clone());
                        }
                        Some(_) => return Err(bad(&format!("merchant_urls.{name}"))),
                    }
                }
            }
            Some(_) => return Err(bad("merchant_urls")),
        }
        let options = match req.get("options") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(bad("options")),
        };
        // Klarna documents no default; the less convenient one is that nobody places the order.
        let mode = match options.get("place_order_mode") {
            None | Some(Value::Null) => Mode::None,
            Some(Value::String(m)) => match m.as_str() {
                "NONE" => Mode::None,
                "PLACE_ORDER" => Mode::PlaceOrder,
                "CAPTURE_ORDER" => Mode::CaptureOrder,
                _ => return Err(bad("options.place_order_mode")),
            },
            Some(_) => return Err(bad("options.place_order_mode")),
        };
        let page_title = match options.get("page_title") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.chars().count() <= 255 => Some(t.clone()),
            Some(_) => return Err(bad("options.page_title")),
        };
        let id = random_uuid();
        st.hpp.insert(
            id,
            HppSession {
                kp_session: kp,
                status: HppStatus::Waiting,
                updated_at: now,
                expires_at,
                mode,
                urls,
                page_title,
                authorization_token: None,
                order_id: None,
                distributions: Vec::new(),
                paying: false,
            },
        );
        let api = format!("{}/hpp/v1/sessions/{id}", self.base_url);
        Ok(Reply::typed(
            201,
            &SessionCreationResponse {
                session_id: id.to_string(),
                redirect_url: Some(format!("{}/hpp/pay/{id}", self.base_url)),
                session_url: Some(api.clone()),
                distribution_url: Some(format!("{api}/distribution")),
                qr_code_url: Some(format!("{}/hpp/pay/{id}/qr", self.base_url)),
                expires_at: Some(format_time(expires_at)),
                ..SessionCreationResponse::default()
            },
        ))
    }

    /// H2 `GET /hpp/v1/sessions/{id}`: 404 past expiry, whatever the status.
    pub(crate) fn hpp_read(&self, id: &str) -> Reply {
        let now = self.clock.now();
        let st = self.lock();
        match session(&st, id, now) {
            Ok((uuid, s)) => Reply::typed(200, &s.read(uuid)),
            Err(r) => r,
        }
    }

    /// H3 `DELETE /hpp/v1/sessions/{id}`.
    pub(crate) fn hpp_disable(&self, id: &str) -> (Reply, Option<Callback>) {
        let now = self.clock.now();
        let mut st = self.lock();
        let uuid = match session(&st, id, now) {
            Ok((uuid, _)) => uuid,
            Err(r) => return (r, None),
        };
        let Some(s) = st.hpp.get_mut(&uuid) else {
            return (not_found(), None);
        };
        match s.status {
            HppStatus::Completed => (
                Reply::error(
                    400,
                    "BAD_REQUEST",
                    "HPP session has already been successfully completed",
                ),
                None,
            ),
            HppStatus::Cancelled => (
                Reply::error(400, "BAD_REQUEST", "HPP session has been cancelled"),
                None,
            ),
            HppStatus::Disabled => (Reply::empty(204), None),
            HppStatus::Waiting
            | HppStatus::InProgress
            | HppStatus::Back
            | HppStatus::Failed
            | HppStatus::Error => {
                if s.paying {
                    return (
                        Reply::error(400, "BAD_REQUEST", "A payment is in progress"),
                        None,
                    );
                }
                let cb = s.change(uuid, HppStatus::Disabled, now);
                (Reply::empty(204), cb)
            }
        }
    }

    /// H4 `POST /hpp/v1/sessions/{id}/distribution`: validated as Klarna does, recorded, 201.
    pub(crate) fn hpp_distribute(&self, id: &str, body: &[u8]) -> Reply {
        let now = self.clock.now();
        let mut st = self.lock();
        let uuid = match session(&st, id, now) {
            Ok((_, s)) if s.status.is_final() => {
                return Reply::error(400, "BAD_REQUEST", "HPP session is no longer open");
            }
            Ok((uuid, _)) => uuid,
            Err(r) => return r,
        };
        let req: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(m) => m,
            Err(_) => return Reply::error(400, "BAD_REQUEST", "Invalid JSON body"),
        };
        let missing = |field: &str| {
            Reply::error(
                400,
                "MISSING_CONTACT_DATA",
                format!("Missing contact data: {field}"),
            )
        };
        let invalid = |field: &str| {
            Reply::error(
                400,
                "CONSTRAINT_VIOLATION",
                format!("Constraint violation: {field}"),
            )
        };
        let Some(contact) = req.get("contact_information").and_then(Value::as_object) else {
            return missing("contact_information");
        };
        let text = |k: &str| {
            contact
                .get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let checked = match method {
            "email" => match text("email") {
                None => Err(missing("contact_information.email")),
                Some(e) => {
                    let ok = e
                        .split_once('@')
                        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                        && !e.chars().any(char::is_whitespace);
                    if ok {
                        Ok(())
                    } else {
                        Err(invalid("contact_information.email"))
                    }
                }
            },
            "sms" => match (text("phone"), text("phone_country")) {
                (None, _) => Err(missing("contact_information.phone")),
                (_, None) => Err(missing("contact_information.phone_country")),
                (Some(p), Some(c)) => {
                    let digits = p.chars().filter(char::is_ascii_digit).count();
                    if digits < 5
                        || !p.chars().all(|ch| {
                            ch.is_ascii_digit() || matches!(ch, '+' | ' ' | '-' | '(' | ')')
                        })
                    {
                        Err(invalid("contact_information.phone"))
                    } else if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                        Err(invalid("contact_information.phone_country"))
                    } else {
                        Ok(())
                    }
                }
            },
            "token" => text("access_id")
                .map(|_| ())
                .ok_or_else(|| missing("contact_information.access_id")),
            _ => Err(invalid("method")),
        };
        if let Err(r) = checked {
            return r;
        }
        if let Some(s) = st.hpp.get_mut(&uuid) {
            s.distributions.push(Distribution {
                method: method.to_owned(),
                contact_information: Value::Object(contact.clone()),
                at: format_time(now),
            });
        }
        Reply::empty(201)
    }

    /// The hosted page is opened: `WAITING`, `BACK`, `FAILED` and `ERROR` move to
    /// `IN_PROGRESS`. `None` for an unknown session.
    pub(crate) fn hpp_open(&self, id: &str) -> Option<(PageView, Option<Callback>)> {
        let now = self.clock.now();
        let mut st = self.lock();
        let uuid = parse_id(id)?;
        let s = st.hpp.get_mut(&uuid)?;
        let reopens = matches!(
            s.status,
            HppStatus::Waiting | HppStatus::Back | HppStatus::Failed | HppStatus::Error
        );
        let cb = if s.live(now) && reopens && !s.paying {
            s.change(uuid, HppStatus::InProgress, now)
        } else {
            None
        };
        let view = page_view(&st, uuid, now)?;
        Some((view, cb))
    }

    /// What the page shows, without changing anything (the result page).
    pub(crate) fn hpp_view(&self, id: &str) -> Option<PageView> {
        let now = self.clock.now();
        let st = self.lock();
        page_view(&st, parse_id(id)?, now)
    }

    /// A shopper's action on the page. `Err` with the page to show again when the session is
    /// unknown, expired, final or busy (nothing changes then).
    pub(crate) fn hpp_action(
        &self,
        id: &str,
        action: HppPageAction,
    ) -> Result<ActionOutcome, Option<PageView>> {
        let now = self.clock.now();
        let uuid = parse_id(id).ok_or(None)?;
        let kp_session = {
            let mut st = self.lock();
            let view = page_view(&st, uuid, now);
            let Some(s) = st.hpp.get_mut(&uuid) else {
                return Err(None);
            };
            if !s.live(now) || s.status.is_final() || s.paying {
                return Err(view);
            }
            match action {
                HppPageAction::Cancel | HppPageAction::Back => {
                    let (status, name) = if action == HppPageAction::Cancel {
                        (HppStatus::Cancelled, "cancel")
                    } else {
                        (HppStatus::Back, "back")
                    };
                    let cb = s.change(uuid, status, now);
                    return Ok(ActionOutcome {
                        redirect: s.urls.get(name).map(|u| s.fill(u, uuid)),
                        callbacks: cb.into_iter().collect(),
                    });
                }
                HppPageAction::Pay | HppPageAction::Decline => {
                    s.paying = true;
                    s.kp_session
                }
            }
        };
        // The same shopper step as `POST /sim/sessions/{id}/authorize`, outside the lock (it
        // takes it itself).
        let decision = if action == HppPageAction::Pay {
            ShopperDecision::approve()
        } else {
            ShopperDecision::decline()
        };
        let (result, auth_callback) = self.authorize_session(&kp_session.to_string(), &decision);
        let now = self.clock.now();
        let mut st = self.lock();
        let token = match &result {
            Ok(v) => v
                .get("authorization_token")
                .and_then(Value::as_str)
                .and_then(parse_id)
                .map(Ok),
            Err(_) => Some(Err(())),
        };
        let Some(mode) = st.hpp.get(&uuid).map(|s| s.mode) else {
            return Err(None);
        };
        let (status, url_name, order_id) = match token {
            None => (HppStatus::Failed, "failure", None),
            Some(Err(())) => (HppStatus::Error, "error", None),
            Some(Ok(t)) => match mode {
                Mode::None => (HppStatus::Completed, "success", None),
                Mode::PlaceOrder | Mode::CaptureOrder => {
                    match self.hpp_place_order(&mut st, t, mode, now) {
                        Some(order) => (HppStatus::Completed, "success", Some(order)),
                        None => (HppStatus::Error, "error", None),
                    }
                }
            },
        };
        let Some(s) = st.hpp.get_mut(&uuid) else {
            return Err(None);
        };
        s.paying = false;
        if status == HppStatus::Completed {
            s.authorization_token = token.and_then(Result::ok);
            s.order_id = order_id;
        }
        let cb = s.change(uuid, status, now);
        let redirect = s.urls.get(url_name).map(|u| s.fill(u, uuid));
        Ok(ActionOutcome {
            redirect,
            callbacks: auth_callback.into_iter().chain(cb).collect(),
        })
    }

    /// Places the order for an authorization as a P5 with the authorized data would (the
    /// engine's own P5 path, `auto_capture` under `CAPTURE_ORDER`); `None` when P5 refuses.
    fn hpp_place_order(
        &self,
        st: &mut State,
        token: Uuid,
        mode: Mode,
        now: Millis,
    ) -> Option<Uuid> {
        let mut body = st.authorizations.get(&token)?.snapshot.to_map();
        if mode == Mode::CaptureOrder {
            body.insert("auto_capture".into(), Value::Bool(true));
        }
        let bytes = serde_json::to_vec(&Value::Object(body)).ok()?;
        let reply = self
            .create_order(st, &token.to_string(), &bytes, now)
            .ok()?;
        let v: Value = serde_json::from_slice(&reply.body).ok()?;
        v.get("order_id").and_then(Value::as_str).and_then(parse_id)
    }

    /// An HPP session's state, for tests (`GET /sim/hpp/{id}`, [`crate::Simulator::hpp_session`]).
    pub fn hpp_session(&self, id: &str) -> Option<HppSessionState> {
        let now = self.clock.now();
        let st = self.lock();
        let uuid = parse_id(id)?;
        let s = st.hpp.get(&uuid)?;
        Some(HppSessionState {
            session_id: uuid.to_string(),
            payment_session_id: s.kp_session.to_string(),
            status: s.status.wire().to_owned(),
            place_order_mode: s.mode.wire().to_owned(),
            expires_at: format_time(s.expires_at),
            expired: !s.live(now),
            order_id: s.order_id.map(|o| o.to_string()),
            authorized: s.authorization_token.is_some(),
            distributions: s
                .distributions
                .iter()
                .map(|d| json!({"method": d.method, "contact_information": d.contact_information, "at": d.at}))
                .collect(),
        })
    }
}

fn page_view(st: &State, id: Uuid, now: Millis) -> Option<PageView> {
    let s = st.hpp.get(&id)?;
    let kp = st.sessions.get(&s.kp_session).map(|k| k.body.to_map());
    let kp = kp.unwrap_or_default();
    let lines = kp
        .get("order_lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                l.get("quantity").and_then(Value::as_i64).unwrap_or(0),
                l.get("total_amount").and_then(Value::as_i64).unwrap_or(0),
            )
        })
        .collect();
    Some(PageView {
        status: s.status,
        expired: !s.live(now),
        title: s.page_title.clone(),
        currency: kp
            .get("purchase_currency")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        order_amount: kp.get("order_amount").and_then(Value::as_i64).unwrap_or(0),
        lines,
        order_id: s.order_id.map(|o| o.to_string()),
    })
}
