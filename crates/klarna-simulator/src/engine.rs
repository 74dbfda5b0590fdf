//! The simulator's state engine: sessions, authorizations, customer tokens, orders, idempotent
//! replay and lifetimes, all behind one mutex and driven by the simulated clock. No I/O here: the
//! HTTP layer (`http.rs`) feeds it requests and performs the callbacks it asks for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::clock::{DAY, HOUR, MINUTE, Millis, SimClock, format_time};
use crate::ops::Operation;
use crate::validate::{self, BadValue};

/// Session lifetime after creation or the last update (API.md §1.7).
const SESSION_LIFE: Millis = 48 * HOUR;
/// Authorization-token lifetime (API.md §1.7).
const AUTHORIZATION_LIFE: Millis = 60 * MINUTE;
/// Default time to capture an order (API.md §1.7).
const ORDER_LIFE: Millis = 28 * DAY;
/// Extensions are only allowed within this long after order creation.
const MAX_EXTENSION: Millis = 180 * DAY;
/// Idempotent replay window.
const IDEMPOTENCY_WINDOW: Millis = DAY;
/// How often (in simulated time) the lazy sweep evicts expired state.
const SWEEP_EVERY: Millis = MINUTE;

/// Keys that are read-only on a session and never stored from a request body.
const SESSION_READ_ONLY: &[&str] = &[
    "client_token",
    "status",
    "expires_at",
    "authorization_token",
    "payment_method_categories",
    "session_id",
];

/// An HTTP answer as the engine produced it (and as idempotent replay repeats it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, including `Klarna-Correlation-Id` and `Content-Type` when there is a body.
    pub headers: Vec<(&'static str, String)>,
    /// Response body (empty for 201/204).
    pub body: Bytes,
}

impl Reply {
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("klarna-correlation-id", random_uuid().to_string())],
            body: Bytes::new(),
        }
    }

    fn json(status: u16, body: &Value) -> Self {
        Self::typed(status, body)
    }

    /// A JSON answer from any serializable body (the `klarna-api` wire models, mostly).
    fn typed<T: Serialize>(status: u16, body: &T) -> Self {
        let mut r = Self::empty(status);
        r.headers
            .push(("content-type", "application/json".to_owned()));
        r.body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        r
    }

    fn text(status: u16, text: &'static str) -> Self {
        let mut r = Self::empty(status);
        r.headers
            .push(("content-type", "text/plain; charset=utf-8".to_owned()));
        r.body = Bytes::from_static(text.as_bytes());
        r
    }

    /// A Klarna error body: `{error_code, error_messages, correlation_id}`.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let cid = random_uuid().to_string();
        let body = klarna_api::ErrorResponse {
            error_code: Some(code.to_owned()),
            error_messages: Some(vec![message.into()]),
            correlation_id: Some(cid.clone()),
            ..klarna_api::ErrorResponse::default()
        };
        Self {
            status,
            headers: vec![
                ("klarna-correlation-id", cid),
                ("content-type", "application/json".to_owned()),
            ],
            body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
        }
    }

    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad_value(e: BadValue) -> Reply {
    Reply::error(400, "BAD_VALUE", format!("Bad value: {}", e.0))
}

type Res = Result<Reply, Reply>;

/// A random v4 UUID from the thread RNG (cheaper than the OS generator per id).
pub(crate) fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// An HTTP POST the simulator owes a merchant (authorization callback or fraud notification).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Callback {
    pub(crate) url: String,
    pub(crate) body: Value,
}

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
    /// Number of captures.
    pub captures: usize,
    /// Number of refunds.
    pub refunds: usize,
    /// Where the order came from.
    pub source: OrderSource,
}

/// Request counts per operation name (see [`Operation::name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received per operation name, including faulted and refused ones.
    pub requests: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests seen for one operation name.
    pub fn count(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }
}

/// The shopper's decision in the simulated browser step (`POST /sim/sessions/{id}/authorize`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShopperDecision {
    /// Approve (true) or decline (false) the authorization.
    pub approve: bool,
    /// Billing address the shopper entered (as Klarna's `address` JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Value>,
    /// Shipping address the shopper entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Value>,
    /// Customer data (`date_of_birth`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Value>,
    /// Fraud status the resulting order starts with: `ACCEPTED` (default), `PENDING`, `REJECTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_status: Option<String>,
}

impl ShopperDecision {
    /// An approving shopper without extra data.
    pub fn approve() -> Self {
        Self {
            approve: true,
            ..Self::default()
        }
    }

    /// A declining shopper.
    pub fn decline() -> Self {
        Self::default()
    }
}

/// A fraud decision for a `PENDING` order (`POST /sim/orders/{id}/fraud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FraudDecision {
    /// The order may be fulfilled: notification `FRAUD_RISK_ACCEPTED`.
    Accepted,
    /// The order is rejected and cancelled: notification `FRAUD_RISK_REJECTED`.
    Rejected,
    /// The order is stopped and cancelled: notification `FRAUD_RISK_STOPPED`.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Buy,
    Tokenize,
    BuyAndTokenize,
}

impl Intent {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("tokenize") => Self::Tokenize,
            Some("buy_and_tokenize") => Self::BuyAndTokenize,
            _ => Self::Buy,
        }
    }
}

#[derive(Debug)]
struct Session {
    /// The session's fields as compact JSON (kept as text: a parsed `Value` costs several times more).
    body: Box<str>,
    intent: Intent,
    updated_at: Millis,
    completed: bool,
    current_auth: Option<Uuid>,
}

#[derive(Debug)]
struct Authorization {
    session_id: Uuid,
    created_at: Millis,
    intent: Intent,
    /// What was authorized (cart, addresses, merchant urls) as compact JSON.
    snapshot: Box<str>,
    order_id: Option<Uuid>,
    customer_token: Option<Uuid>,
    fraud_status: &'static str,
}

#[derive(Debug)]
struct CustomerToken {
    cancelled: bool,
    purchase_country: String,
    purchase_currency: String,
    locale: Option<String>,
    billing_address: Option<Value>,
    customer: Option<Value>,
}

#[derive(Debug, Clone)]
struct Capture {
    id: Uuid,
    amount: i64,
    refunded: i64,
    at: Millis,
    reference: Option<Value>,
    description: Option<Value>,
    lines: Option<Value>,
    shipping_info: Vec<Value>,
    klarna_reference: String,
}

#[derive(Debug, Clone)]
struct Refund {
    id: Uuid,
    amount: i64,
    at: Millis,
    reference: Option<Value>,
    description: Option<Value>,
    lines: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closure {
    Open,
    Cancelled,
    Closed,
}

#[derive(Debug)]
struct Order {
    seq: u64,
    created_at: Millis,
    expires_at: Millis,
    closure: Closure,
    fraud_status: &'static str,
    purchase_country: String,
    purchase_currency: String,
    locale: Option<String>,
    order_amount: i64,
    original_order_amount: i64,
    lines: Value,
    merchant_reference1: Option<String>,
    merchant_reference2: Option<String>,
    merchant_data: Option<String>,
    billing_address: Option<Value>,
    shipping_address: Option<Value>,
    customer: Option<Value>,
    captures: Vec<Capture>,
    refunds: Vec<Refund>,
    shipping_info: Vec<Value>,
    klarna_reference: String,
    source: OrderSource,
    notification_url: Option<String>,
    confirmation_url: Option<String>,
}

impl Order {
    fn captured(&self) -> i64 {
        self.captures.iter().map(|c| c.amount).sum()
    }
    fn refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }
    fn status(&self, now: Millis) -> &'static str {
        let captured = self.captured();
        match self.closure {
            Closure::Cancelled => "CANCELLED",
            Closure::Closed => "CLOSED",
            Closure::Open if captured > 0 && captured >= self.order_amount => "CAPTURED",
            Closure::Open if now > self.expires_at => {
                if captured > 0 {
                    "CLOSED"
                } else {
                    "EXPIRED"
                }
            }
            Closure::Open if captured > 0 => "PART_CAPTURED",
            Closure::Open => "AUTHORIZED",
        }
    }
    fn remaining(&self, now: Millis) -> i64 {
        match self.status(now) {
            "AUTHORIZED" | "PART_CAPTURED" => self.order_amount - self.captured(),
            _ => 0,
        }
    }
    fn summary(&self, id: Uuid, now: Millis) -> OrderSummary {
        OrderSummary {
            order_id: id.to_string(),
            status: self.status(now).to_owned(),
            fraud_status: self.fraud_status.to_owned(),
            order_amount: self.order_amount,
            original_order_amount: self.original_order_amount,
            captured_amount: self.captured(),
            refunded_amount: self.refunded(),
            remaining_authorized_amount: self.remaining(now),
            purchase_currency: self.purchase_currency.clone(),
            merchant_reference1: self.merchant_reference1.clone(),
            merchant_reference2: self.merchant_reference2.clone(),
            captures: self.captures.len(),
            refunds: self.refunds.len(),
            source: self.source.clone(),
        }
    }
}

#[derive(Debug)]
struct StoredReply {
    reply: Reply,
    at: Millis,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<Uuid, Session>,
    authorizations: HashMap<Uuid, Authorization>,
    tokens: HashMap<Uuid, CustomerToken>,
    orders: HashMap<Uuid, Order>,
    idempotency: HashMap<String, StoredReply>,
    next_seq: u64,
    last_sweep: Millis,
}

impl State {
    /// Evicts expired state: sessions 48 h after they expired, authorizations a day after theirs,
    /// idempotency entries after their 24 h window. Customer tokens and orders are kept.
    fn sweep(&mut self, now: Millis) {
        if now - self.last_sweep < SWEEP_EVERY {
            return;
        }
        self.last_sweep = now;
        self.sessions
            .retain(|_, s| now < s.updated_at + SESSION_LIFE + SESSION_LIFE);
        self.authorizations
            .retain(|_, a| now < a.created_at + AUTHORIZATION_LIFE + DAY);
        self.idempotency
            .retain(|_, r| now - r.at < IDEMPOTENCY_WINDOW);
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

/// The simulator's state engine, usable without HTTP (benches, memory measurement, embedding).
#[derive(Debug)]
pub struct Engine {
    state: Mutex<State>,
    stats: Mutex<HashMap<&'static str, u64>>,
    clock: SimClock,
    base_url: String,
}

fn parse_obj(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(400, "BAD_REQUEST", "Request body is missing"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reply::error(
            400,
            "BAD_REQUEST",
            "Request body must be a JSON object",
        )),
        Err(_) => Err(Reply::error(
            400,
            "BAD_REQUEST",
            "Malformed JSON in request body",
        )),
    }
}

/// Parses an optional body: empty means `{}`.
fn parse_opt_obj(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        parse_obj(body)
    }
}

fn str_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn non_null(obj: &Map<String, Value>, key: &str) -> Option<Value> {
    obj.get(key).filter(|v| !v.is_null()).cloned()
}

fn parse_id(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

fn klarna_reference() -> String {
    let mut b = [0u8; 4];
    rand::rng().fill_bytes(&mut b);
    format!("{:08X}", u32::from_be_bytes(b))
}

fn substitute(url: &str, session_id: Option<&str>, order_id: &str) -> String {
    let u = url.replace("{order.id}", order_id);
    match session_id {
        Some(s) => u.replace("{session.id}", s),
        None => u,
    }
}

/// Compares the create-order/customer-token request with what was authorized (409 on difference).
fn mismatches(auth: &Map<String, Value>, req: &Map<String, Value>, with_cart: bool) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["purchase_country", "purchase_currency"] {
        let a = auth.get(k).and_then(Value::as_str).unwrap_or("");
        let r = req.get(k).and_then(Value::as_str).unwrap_or("");
        if !a.eq_ignore_ascii_case(r) {
            out.push(k.to_owned());
        }
    }
    if with_cart {
        if auth.get("order_amount") != req.get("order_amount") {
            out.push("order_amount".to_owned());
        }
        if req.get("order_tax_amount").is_some_and(|v| !v.is_null())
            && auth.get("order_tax_amount") != req.get("order_tax_amount")
        {
            out.push("order_tax_amount".to_owned());
        }
        let empty = Vec::new();
        let al = auth
            .get("order_lines")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let rl = req
            .get("order_lines")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        if al.len() == rl.len() {
            for (i, (a, r)) in al.iter().zip(rl).enumerate() {
                for f in ["name", "type", "reference", "quantity_unit"] {
                    let av = a.get(f).and_then(Value::as_str).unwrap_or("");
                    let rv = r.get(f).and_then(Value::as_str).unwrap_or("");
                    if av != rv {
                        out.push(format!("order_lines[{i}].{f}"));
                    }
                }
                for f in [
                    "quantity",
                    "unit_price",
                    "tax_rate",
                    "total_amount",
                    "total_discount_amount",
                    "total_tax_amount",
                ] {
                    let av = a.get(f).and_then(Value::as_i64).unwrap_or(0);
                    let rv = r.get(f).and_then(Value::as_i64).unwrap_or(0);
                    if av != rv {
                        out.push(format!("order_lines[{i}].{f}"));
                    }
                }
            }
        } else {
            out.push(format!(
                "order_lines (Incorrect number of items in the cart. Expected: {}, Actual: {})",
                al.len(),
                rl.len()
            ));
        }
    }
    for key in ["billing_address", "shipping_address"] {
        let (Some(Value::Object(a)), Some(Value::Object(r))) = (auth.get(key), req.get(key)) else {
            continue;
        };
        let mut fields: Vec<&String> = a.keys().chain(r.keys()).collect();
        fields.sort();
        fields.dedup();
        for f in fields {
            let av = a.get(f).and_then(Value::as_str).unwrap_or("");
            let rv = r.get(f).and_then(Value::as_str).unwrap_or("");
            if av != rv {
                out.push(format!("{key}.{f}"));
            }
        }
    }
    out
}

fn not_matching(fields: &[String]) -> Reply {
    Reply::error(
        409,
        "BAD_VALUE",
        format!("Not matching fields: [{}]", fields.join(", ")),
    )
}

fn invalid_token() -> Reply {
    Reply::error(404, "NOT_FOUND", "Invalid authorization token")
}

fn no_such_order() -> Reply {
    Reply::error(404, "NO_SUCH_ORDER", "No such order")
}

fn not_allowed(msg: impl Into<String>) -> Reply {
    Reply::error(403, "NOT_ALLOWED", msg)
}

const PAYMENT_METHOD_CATEGORIES: &str = r#"[{"identifier":"klarna","name":"Pay with Klarna (simulator)","asset_urls":{"descriptive":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg","standard":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"}}]"#;

fn categories() -> Value {
    serde_json::from_str(PAYMENT_METHOD_CATEGORIES).unwrap_or(Value::Null)
}

fn typed_categories() -> Option<Vec<klarna_api::PaymentMethodCategory>> {
    serde_json::from_str(PAYMENT_METHOD_CATEGORIES).ok()
}

fn wire_fraud_status(s: &str) -> klarna_api::FraudStatus {
    match s {
        "PENDING" => klarna_api::FraudStatus::Pending,
        "REJECTED" => klarna_api::FraudStatus::Rejected,
        _ => klarna_api::FraudStatus::Accepted,
    }
}

/// The payment method every simulated authorization uses: pay later by invoice in 30 days.
fn invoice() -> klarna_api::AuthorizedPaymentMethod {
    klarna_api::AuthorizedPaymentMethod::Details(klarna_api::AuthorizedPaymentMethodDetails {
        r#type: Some(klarna_api::AuthorizedPaymentMethodType::Invoice),
        number_of_days: Some(30),
        number_of_installments: None,
    })
}

fn callback_body<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

impl Engine {
    /// A fresh engine whose clock starts now. `base_url` (no trailing slash) is used in
    /// `Location` headers, redirect URLs and the client token.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            stats: Mutex::new(HashMap::new()),
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
        let mut s = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        *s.entry(op.name()).or_insert(0) += 1;
    }

    /// Request counts per operation.
    pub fn stats(&self) -> Stats {
        let s = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        Stats {
            requests: s.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
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
            idempotency_entries: st.idempotency.len(),
        }
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
    /// the HTTP layer runs, minus authentication, body limits and faults.
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
        let key = idempotency_key.filter(|_| op.is_mutating());
        if let Some(k) = key
            && let Some(stored) = st.idempotency.get(k)
            && now - stored.at < IDEMPOTENCY_WINDOW
        {
            return stored.reply.clone();
        }
        let p0 = params.first().map_or("", String::as_str);
        let p1 = params.get(1).map_or("", String::as_str);
        let result = match op {
            Operation::CreateSession => self.create_session(&mut st, body, now),
            Operation::ReadSession => self.read_session(&st, p0, now),
            Operation::UpdateSession => update_session(&mut st, p0, body, now),
            Operation::CancelAuthorization => cancel_authorization(&mut st, p0, now),
            Operation::CreateOrder => self.create_order(&mut st, p0, body, now),
            Operation::CreateCustomerToken => self.create_customer_token(&mut st, p0, body, now),
            Operation::ReadToken => read_token(&st, p0),
            Operation::TokenOrder => self.token_order(&mut st, p0, body, now),
            Operation::UpdateTokenStatus => update_token_status(&mut st, p0, body),
            Operation::GetOrder => get_order(&st, p0, now),
            Operation::Capture => self.capture(&mut st, p0, body, now),
            Operation::ListCaptures => list_captures(&st, p0),
            Operation::GetCapture => get_capture(&st, p0, p1),
            Operation::Refund => self.refund(&mut st, p0, body, now),
            Operation::GetRefund => get_refund(&st, p0, p1),
            Operation::CancelOrder => cancel_order(&mut st, p0, now),
            Operation::ReleaseRemainingAuthorization => release(&mut st, p0, now),
            Operation::ExtendAuthorizationTime => extend(&mut st, p0, now),
            Operation::UpdateAuthorization => update_authorization(&mut st, p0, body, now),
            Operation::UpdateMerchantReferences => update_references(&mut st, p0, body),
            Operation::UpdateCustomerDetails => update_customer_details(&mut st, p0, body),
            Operation::AddShippingInfo => add_shipping_info(&mut st, p0, body),
            Operation::AddCaptureShippingInfo => add_capture_shipping_info(&mut st, p0, p1, body),
            Operation::TriggerSendOut => with_capture(&st, p0, p1, |_, _| Ok(Reply::empty(204))),
            Operation::ExtendDueDateOptions => with_capture(&st, p0, p1, |o, _| {
                Ok(Reply::json(
                    200,
                    &json!({"currency": o.purchase_currency, "options": [
                        {"number_of_days": 14, "amount": 0},
                        {"number_of_days": 30, "amount": 0}
                    ]}),
                ))
            }),
            Operation::ExtendDueDate => extend_due_date(&st, p0, p1, body),
            Operation::Acknowledge => with_order(&st, p0, |_| Ok(Reply::empty(204))),
        };
        let reply = match result {
            Ok(r) | Err(r) => r,
        };
        if let Some(k) = key {
            // 5xx answers are not recorded, so a retry after a server error runs the operation.
            if reply.status < 500 {
                st.idempotency.insert(
                    k.to_owned(),
                    StoredReply {
                        reply: reply.clone(),
                        at: now,
                    },
                );
            }
        }
        reply
    }

    fn client_token(&self, session_id: &Uuid) -> String {
        let header =
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"klarna-simulator","typ":"JWT"}"#);
        let payload = json!({"session_id": session_id.to_string(), "base_url": self.base_url});
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let sig = URL_SAFE_NO_PAD.encode(b"klarna-simulator-unsigned");
        format!("{header}.{payload}.{sig}")
    }

    fn create_session(&self, st: &mut State, body: &[u8], now: Millis) -> Res {
        let mut obj = parse_obj(body)?;
        validate::check_session(&obj).map_err(bad_value)?;
        for k in SESSION_READ_ONLY {
            obj.remove(*k);
        }
        let intent = Intent::parse(obj.get("intent").and_then(Value::as_str));
        let id = random_uuid();
        let text = serde_json::to_string(&obj).unwrap_or_default();
        st.sessions.insert(
            id,
            Session {
                body: text.into_boxed_str(),
                intent,
                updated_at: now,
                completed: false,
                current_auth: None,
            },
        );
        Ok(Reply::typed(
            200,
            &klarna_api::MerchantSession {
                session_id: id.to_string(),
                client_token: self.client_token(&id),
                payment_method_categories: typed_categories(),
            },
        ))
    }

    fn read_session(&self, st: &State, id: &str, now: Millis) -> Res {
        let (uuid, s) = live_session(st, id, now)?;
        let mut obj: Map<String, Value> = serde_json::from_str(&s.body).unwrap_or_default();
        obj.insert(
            "client_token".into(),
            Value::String(self.client_token(&uuid)),
        );
        obj.insert(
            "status".into(),
            Value::String(
                if s.completed {
                    "complete"
                } else {
                    "incomplete"
                }
                .into(),
            ),
        );
        obj.insert(
            "expires_at".into(),
            Value::String(format_time(s.updated_at + SESSION_LIFE)),
        );
        obj.entry("intent")
            .or_insert_with(|| Value::String("buy".into()));
        obj.entry("locale")
            .or_insert_with(|| Value::String("en-US".into()));
        obj.insert("payment_method_categories".into(), categories());
        if let Some(t) = s.current_auth {
            obj.insert("authorization_token".into(), Value::String(t.to_string()));
        }
        Ok(Reply::json(200, &Value::Object(obj)))
    }

    fn create_order(&self, st: &mut State, token: &str, body: &[u8], now: Millis) -> Res {
        let tid = parse_id(token).ok_or_else(invalid_token)?;
        let auth = live_auth(st, &tid, now)?;
        if auth.intent == Intent::Tokenize {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Not allowed to create order for intent tokenize",
            ));
        }
        if auth.order_id.is_some() {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Authorization token already consumed",
            ));
        }
        let req = parse_obj(body)?;
        validate::check_create_order(&req).map_err(bad_value)?;
        let snap: Map<String, Value> = serde_json::from_str(&auth.snapshot).unwrap_or_default();
        let diff = mismatches(&snap, &req, true);
        if !diff.is_empty() {
            return Err(not_matching(&diff));
        }
        let session_id = auth.session_id;
        let fraud_status = auth.fraud_status;
        let order_id = random_uuid();
        let pick = |k: &str| non_null(&req, k).or_else(|| non_null(&snap, k));
        let urls = |k: &str| {
            req.get("merchant_urls")
                .and_then(|u| u.get(k))
                .or_else(|| snap.get("merchant_urls").and_then(|u| u.get(k)))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let sid = session_id.to_string();
        let oid = order_id.to_string();
        let order = Order {
            seq: next_seq(st),
            created_at: now,
            expires_at: now + ORDER_LIFE,
            closure: Closure::Open,
            fraud_status,
            purchase_country: str_of(&req, "purchase_country")
                .unwrap_or_default()
                .to_uppercase(),
            purchase_currency: str_of(&req, "purchase_currency")
                .unwrap_or_default()
                .to_uppercase(),
            locale: str_of(&req, "locale").or_else(|| str_of(&snap, "locale")),
            order_amount: req.get("order_amount").and_then(Value::as_i64).unwrap_or(0),
            original_order_amount: req.get("order_amount").and_then(Value::as_i64).unwrap_or(0),
            lines: req
                .get("order_lines")
                .cloned()
                .unwrap_or(Value::Array(vec![])),
            merchant_reference1: pick("merchant_reference1")
                .and_then(|v| v.as_str().map(str::to_owned)),
            merchant_reference2: pick("merchant_reference2")
                .and_then(|v| v.as_str().map(str::to_owned)),
            merchant_data: pick("merchant_data").and_then(|v| v.as_str().map(str::to_owned)),
            billing_address: pick("billing_address"),
            shipping_address: pick("shipping_address").or_else(|| pick("billing_address")),
            customer: pick("customer"),
            captures: Vec::new(),
            refunds: Vec::new(),
            shipping_info: Vec::new(),
            klarna_reference: klarna_reference(),
            source: OrderSource::Authorization {
                authorization_token: token.to_owned(),
                session_id: sid.clone(),
            },
            notification_url: urls("notification").map(|u| substitute(&u, Some(&sid), &oid)),
            confirmation_url: urls("confirmation").map(|u| substitute(&u, Some(&sid), &oid)),
        };
        let auto_capture = req
            .get("auto_capture")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let redirect = order
            .confirmation_url
            .as_ref()
            .map(|_| format!("{}/sim/redirect/{oid}", self.base_url));
        let mut order = order;
        if auto_capture && fraud_status == "ACCEPTED" && order.order_amount > 0 {
            order.captures.push(Capture {
                id: random_uuid(),
                amount: order.order_amount,
                refunded: 0,
                at: now,
                reference: None,
                description: None,
                lines: Some(order.lines.clone()),
                shipping_info: Vec::new(),
                klarna_reference: order.klarna_reference.clone(),
            });
        }
        st.orders.insert(order_id, order);
        if let Some(a) = st.authorizations.get_mut(&tid) {
            a.order_id = Some(order_id);
        }
        if let Some(s) = st.sessions.get_mut(&session_id) {
            s.completed = true;
        }
        Ok(Reply::typed(
            200,
            &klarna_api::payments::Order {
                order_id: oid,
                fraud_status: Some(wire_fraud_status(fraud_status)),
                redirect_url: redirect,
                authorized_payment_method: Some(invoice()),
            },
        ))
    }

    fn create_customer_token(&self, st: &mut State, token: &str, body: &[u8], now: Millis) -> Res {
        let tid = parse_id(token).ok_or_else(invalid_token)?;
        let auth = live_auth(st, &tid, now)?;
        if auth.intent == Intent::Buy {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Not allowed to create customer token for intent buy",
            ));
        }
        if auth.customer_token.is_some() {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Authorization token already consumed",
            ));
        }
        let req = parse_obj(body)?;
        validate::check_customer_token_request(&req).map_err(bad_value)?;
        let snap: Map<String, Value> = serde_json::from_str(&auth.snapshot).unwrap_or_default();
        let diff = mismatches(&snap, &req, false);
        if !diff.is_empty() {
            return Err(not_matching(&diff));
        }
        let (session_id, intent) = (auth.session_id, auth.intent);
        let token_id = random_uuid();
        let billing =
            non_null(&req, "billing_address").or_else(|| non_null(&snap, "billing_address"));
        let customer = non_null(&snap, "customer").or_else(|| non_null(&req, "customer"));
        st.tokens.insert(
            token_id,
            CustomerToken {
                cancelled: false,
                purchase_country: str_of(&req, "purchase_country")
                    .unwrap_or_default()
                    .to_uppercase(),
                purchase_currency: str_of(&req, "purchase_currency")
                    .unwrap_or_default()
                    .to_uppercase(),
                locale: str_of(&req, "locale"),
                billing_address: billing.clone(),
                customer: customer.clone(),
            },
        );
        if let Some(a) = st.authorizations.get_mut(&tid) {
            a.customer_token = Some(token_id);
        }
        if intent == Intent::Tokenize
            && let Some(s) = st.sessions.get_mut(&session_id)
        {
            s.completed = true;
        }
        // The response's customer carries only `date_of_birth` and `gender` (API.md §2.6).
        let customer = customer.and_then(|c| {
            let mut cc = Map::new();
            for k in ["date_of_birth", "gender"] {
                if let Some(v) = c.get(k) {
                    cc.insert(k.into(), v.clone());
                }
            }
            serde_json::from_value::<klarna_api::Customer>(Value::Object(cc)).ok()
        });
        Ok(Reply::typed(
            200,
            &klarna_api::CustomerTokenCreationResponse {
                token_id: token_id.to_string(),
                redirect_url: Some(format!("{}/sim/redirect/token/{token_id}", self.base_url)),
                billing_address: billing.and_then(|b| serde_json::from_value(b).ok()),
                customer,
                payment_method_reference: Some(random_uuid().to_string()),
            },
        ))
    }

    fn token_order(&self, st: &mut State, token: &str, body: &[u8], now: Millis) -> Res {
        let not_found = || Reply::error(404, "TOKEN_NOT_FOUND", "Invalid customer-token ID");
        let id = parse_id(token).ok_or_else(not_found)?;
        let t = st.tokens.get(&id).ok_or_else(not_found)?;
        if t.cancelled {
            return Err(Reply::error(
                403,
                "TOKEN_CANCELED",
                "The customer token has been cancelled",
            ));
        }
        let req = parse_obj(body)?;
        validate::check_token_order(&req, &t.purchase_currency).map_err(bad_value)?;
        let order_id = random_uuid();
        let oid = order_id.to_string();
        let confirmation = req
            .get("merchant_urls")
            .and_then(|u| u.get("confirmation"))
            .and_then(Value::as_str)
            .map(|u| substitute(u, None, &oid));
        let amount = req.get("order_amount").and_then(Value::as_i64).unwrap_or(0);
        let order = Order {
            seq: 0,
            created_at: now,
            expires_at: now + ORDER_LIFE,
            closure: Closure::Open,
            fraud_status: "ACCEPTED",
            purchase_country: t.purchase_country.clone(),
            purchase_currency: t.purchase_currency.clone(),
            locale: str_of(&req, "locale").or_else(|| t.locale.clone()),
            order_amount: amount,
            original_order_amount: amount,
            lines: req
                .get("order_lines")
                .cloned()
                .unwrap_or(Value::Array(vec![])),
            merchant_reference1: str_of(&req, "merchant_reference1"),
            merchant_reference2: str_of(&req, "merchant_reference2"),
            merchant_data: str_of(&req, "merchant_data"),
            billing_address: t.billing_address.clone(),
            shipping_address: non_null(&req, "shipping_address")
                .or_else(|| t.billing_address.clone()),
            customer: t.customer.clone(),
            captures: Vec::new(),
            refunds: Vec::new(),
            shipping_info: Vec::new(),
            klarna_reference: klarna_reference(),
            source: OrderSource::CustomerToken {
                customer_token: token.to_owned(),
            },
            notification_url: None,
            confirmation_url: confirmation,
        };
        let mut order = order;
        order.seq = next_seq(st);
        if req
            .get("auto_capture")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            order.captures.push(Capture {
                id: random_uuid(),
                amount,
                refunded: 0,
                at: now,
                reference: None,
                description: None,
                lines: Some(order.lines.clone()),
                shipping_info: Vec::new(),
                klarna_reference: order.klarna_reference.clone(),
            });
        }
        st.orders.insert(order_id, order);
        let redirect_url = Some(format!("{}/sim/redirect/{oid}", self.base_url));
        Ok(Reply::typed(
            200,
            &klarna_api::payments::Order {
                order_id: oid,
                fraud_status: Some(klarna_api::FraudStatus::Accepted),
                redirect_url,
                authorized_payment_method: Some(invoice()),
            },
        ))
    }

    fn capture(&self, st: &mut State, order_id: &str, body: &[u8], now: Millis) -> Res {
        let (oid, order) = order_mut(st, order_id)?;
        let req = parse_obj(body)?;
        let amount =
            validate::check_capture_or_refund(&req, "captured_amount").map_err(bad_value)?;
        let status = order.status(now);
        if !matches!(status, "AUTHORIZED" | "PART_CAPTURED") {
            return Err(Reply::error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!("Capture not allowed: order is {status}"),
            ));
        }
        if order.fraud_status != "ACCEPTED" {
            return Err(Reply::error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!(
                    "Capture not allowed: fraud status is {}",
                    order.fraud_status
                ),
            ));
        }
        let remaining = order.remaining(now);
        if amount > remaining {
            return Err(Reply::error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!(
                    "Captured amount {amount} is higher than the remaining authorized amount {remaining}"
                ),
            ));
        }
        let id = random_uuid();
        let mut infos = Vec::new();
        if let Some(Value::Array(a)) = req.get("shipping_info") {
            infos.clone_from(a);
        }
        order.captures.push(Capture {
            id,
            amount,
            refunded: 0,
            at: now,
            reference: non_null(&req, "reference"),
            description: non_null(&req, "description"),
            lines: non_null(&req, "order_lines"),
            shipping_info: infos,
            klarna_reference: order.klarna_reference.clone(),
        });
        let mut r = Reply::empty(201);
        r.headers.push(("capture-id", id.to_string()));
        r.headers.push((
            "location",
            format!(
                "{}/ordermanagement/v1/orders/{oid}/captures/{id}",
                self.base_url
            ),
        ));
        Ok(r)
    }

    fn refund(&self, st: &mut State, order_id: &str, body: &[u8], now: Millis) -> Res {
        let _ = now;
        let (oid, order) = order_mut(st, order_id)?;
        let req = parse_obj(body)?;
        let amount =
            validate::check_capture_or_refund(&req, "refunded_amount").map_err(bad_value)?;
        let captured = order.captured();
        if captured == 0 {
            return Err(Reply::error(
                403,
                "REFUND_NOT_ALLOWED",
                "Order has no captures to refund",
            ));
        }
        let refundable = captured - order.refunded();
        if amount > refundable {
            return Err(Reply::error(
                403,
                "REFUND_NOT_ALLOWED",
                "Over refund is not allowed",
            ));
        }
        // Allocate the refund to captures oldest first, for the capture's `refunded_amount`.
        let mut left = amount;
        for c in &mut order.captures {
            let take = left.min(c.amount - c.refunded);
            c.refunded += take;
            left -= take;
        }
        let id = random_uuid();
        order.refunds.push(Refund {
            id,
            amount,
            at: now,
            reference: non_null(&req, "reference"),
            description: non_null(&req, "description"),
            lines: non_null(&req, "order_lines"),
        });
        let mut r = Reply::empty(201);
        r.headers.push(("refund-id", id.to_string()));
        r.headers.push((
            "location",
            format!(
                "{}/ordermanagement/v1/orders/{oid}/refunds/{id}",
                self.base_url
            ),
        ));
        Ok(r)
    }

    /// The shopper's step: approve or decline a session, issuing a new authorization token (which
    /// replaces any earlier one). Returns the JS-style result and the callback to make, if any.
    pub(crate) fn authorize_session(
        &self,
        session_id: &str,
        decision: &ShopperDecision,
    ) -> (Result<Value, Reply>, Option<Callback>) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.sweep(now);
        let result = (|| {
            let (sid, s) = live_session(&st, session_id, now)?;
            if s.completed {
                return Err(Reply::error(
                    404,
                    "SESSION_COMPLETED",
                    "Session has already been completed",
                ));
            }
            if !decision.approve {
                return Ok((json!({"approved": false, "show_form": false}), None));
            }
            let mut data = Map::new();
            for (k, v) in [
                ("billing_address", &decision.billing_address),
                ("shipping_address", &decision.shipping_address),
                ("customer", &decision.customer),
            ] {
                if let Some(v) = v {
                    data.insert(k.into(), v.clone());
                }
            }
            validate::check_shopper_data(&data).map_err(bad_value)?;
            let fraud_status = match decision.fraud_status.as_deref() {
                None | Some("ACCEPTED") => "ACCEPTED",
                Some("PENDING") => "PENDING",
                Some("REJECTED") => "REJECTED",
                Some(_) => return Err(bad_value(BadValue("fraud_status".into()))),
            };
            let mut body: Map<String, Value> = serde_json::from_str(&s.body).unwrap_or_default();
            for (k, v) in data {
                body.insert(k, v);
            }
            let mut snap = Map::new();
            for k in [
                "purchase_country",
                "purchase_currency",
                "locale",
                "order_amount",
                "order_tax_amount",
                "order_lines",
                "billing_address",
                "shipping_address",
                "customer",
                "merchant_urls",
                "merchant_reference1",
                "merchant_reference2",
                "merchant_data",
            ] {
                if let Some(v) = body.get(k) {
                    snap.insert(k.into(), v.clone());
                }
            }
            let callback_url = body
                .get("merchant_urls")
                .and_then(|u| u.get("authorization"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let token = random_uuid();
            let intent = s.intent;
            let old = s.current_auth;
            let body_text = serde_json::to_string(&body).unwrap_or_default();
            let snap_text = serde_json::to_string(&snap).unwrap_or_default();
            if let Some(old) = old {
                st.authorizations.remove(&old);
            }
            st.authorizations.insert(
                token,
                Authorization {
                    session_id: sid,
                    created_at: now,
                    intent,
                    snapshot: snap_text.into_boxed_str(),
                    order_id: None,
                    customer_token: None,
                    fraud_status,
                },
            );
            if let Some(s) = st.sessions.get_mut(&sid) {
                s.current_auth = Some(token);
                s.body = body_text.into_boxed_str();
            }
            let t = token.to_string();
            let cb = callback_url.map(|url| Callback {
                url,
                body: callback_body(&klarna_api::AuthorizationCallback {
                    authorization_token: t.clone(),
                    session_id: sid.to_string(),
                }),
            });
            Ok((
                json!({"approved": true, "show_form": true, "authorization_token": t, "finalize_required": false}),
                cb,
            ))
        })();
        match result {
            Ok((v, cb)) => (Ok(v), cb),
            Err(e) => (Err(e), None),
        }
    }

    /// Resolves a `PENDING` order's fraud review and returns the notification to send, if the
    /// order has a notification URL.
    pub(crate) fn resolve_fraud(
        &self,
        order_id: &str,
        decision: FraudDecision,
    ) -> Result<Option<Callback>, Reply> {
        let mut st = self.lock();
        let (oid, order) = order_mut(&mut st, order_id)?;
        if order.fraud_status != "PENDING" {
            return Err(Reply::error(
                409,
                "CONFLICT",
                format!("Order fraud status is {}, not PENDING", order.fraud_status),
            ));
        }
        use klarna_api::NotificationEventType as Event;
        let event = match decision {
            FraudDecision::Accepted => {
                order.fraud_status = "ACCEPTED";
                Event::FraudRiskAccepted
            }
            FraudDecision::Rejected => {
                order.fraud_status = "REJECTED";
                order.closure = Closure::Cancelled;
                Event::FraudRiskRejected
            }
            FraudDecision::Stopped => {
                order.fraud_status = "REJECTED";
                order.closure = Closure::Cancelled;
                Event::FraudRiskStopped
            }
        };
        Ok(order.notification_url.clone().map(|url| Callback {
            url,
            body: callback_body(&klarna_api::FraudNotification {
                order_id: oid.to_string(),
                event_type: Some(event),
            }),
        }))
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

fn next_seq(st: &mut State) -> u64 {
    st.next_seq += 1;
    st.next_seq
}

fn live_session<'a>(st: &'a State, id: &str, now: Millis) -> Result<(Uuid, &'a Session), Reply> {
    let not_found = || Reply::error(404, "NOT_FOUND", "Invalid session id");
    let uuid = parse_id(id).ok_or_else(not_found)?;
    let s = st.sessions.get(&uuid).ok_or_else(not_found)?;
    if now >= s.updated_at + SESSION_LIFE {
        return Err(not_found());
    }
    Ok((uuid, s))
}

fn live_auth<'a>(st: &'a State, id: &Uuid, now: Millis) -> Result<&'a Authorization, Reply> {
    let a = st.authorizations.get(id).ok_or_else(invalid_token)?;
    if now >= a.created_at + AUTHORIZATION_LIFE {
        return Err(invalid_token());
    }
    Ok(a)
}

fn update_session(st: &mut State, id: &str, body: &[u8], now: Millis) -> Res {
    let (uuid, s) = live_session(st, id, now)?;
    if s.completed {
        return Err(Reply::error(
            404,
            "SESSION_COMPLETED",
            "Session has already been completed",
        ));
    }
    let update = parse_obj(body)?;
    let mut merged: Map<String, Value> = serde_json::from_str(&s.body).unwrap_or_default();
    for (k, v) in update {
        if !SESSION_READ_ONLY.contains(&k.as_str()) {
            merged.insert(k, v);
        }
    }
    validate::check_session(&merged).map_err(bad_value)?;
    let intent = Intent::parse(merged.get("intent").and_then(Value::as_str));
    let text = serde_json::to_string(&merged).unwrap_or_default();
    if let Some(s) = st.sessions.get_mut(&uuid) {
        s.body = text.into_boxed_str();
        s.intent = intent;
        s.updated_at = now;
    }
    Ok(Reply::empty(204))
}

fn cancel_authorization(st: &mut State, token: &str, now: Millis) -> Res {
    let tid = parse_id(token).ok_or_else(invalid_token)?;
    let a = live_auth(st, &tid, now)?;
    if a.order_id.is_some() || a.customer_token.is_some() {
        return Err(Reply::error(
            404,
            "NOT_FOUND",
            "Authorization cannot be deleted",
        ));
    }
    let sid = a.session_id;
    st.authorizations.remove(&tid);
    if let Some(s) = st.sessions.get_mut(&sid)
        && s.current_auth == Some(tid)
    {
        s.current_auth = None;
    }
    Ok(Reply::empty(204))
}

fn read_token(st: &State, token: &str) -> Res {
    let not_found = || Reply::error(404, "NOT_FOUND", "Invalid customer-token ID");
    let id = parse_id(token).ok_or_else(not_found)?;
    let t = st.tokens.get(&id).ok_or_else(not_found)?;
    Ok(Reply::typed(
        200,
        &klarna_api::CustomerToken {
            status: if t.cancelled {
                klarna_api::TokenStatus::Cancelled
            } else {
                klarna_api::TokenStatus::Active
            },
            payment_method_type: Some("INVOICE".to_owned()),
            card: None,
            direct_debit: None,
        },
    ))
}

fn update_token_status(st: &mut State, token: &str, body: &[u8]) -> Res {
    let not_found = || Reply::error(404, "TOKEN_NOT_FOUND", "Invalid customer-token ID");
    let id = parse_id(token).ok_or_else(not_found)?;
    if !st.tokens.contains_key(&id) {
        return Err(not_found());
    }
    let req = parse_obj(body)?;
    if req.get("status").and_then(Value::as_str) != Some("CANCELLED") {
        return Err(bad_value(BadValue("status".into())));
    }
    if let Some(t) = st.tokens.get_mut(&id) {
        t.cancelled = true;
    }
    Ok(Reply::text(
        202,
        "Token patch request has been accepted and is being processed.",
    ))
}

fn order_mut<'a>(st: &'a mut State, id: &str) -> Result<(Uuid, &'a mut Order), Reply> {
    let uuid = parse_id(id).ok_or_else(no_such_order)?;
    let o = st.orders.get_mut(&uuid).ok_or_else(no_such_order)?;
    Ok((uuid, o))
}

fn with_order(st: &State, id: &str, f: impl FnOnce(&Order) -> Res) -> Res {
    let uuid = parse_id(id).ok_or_else(no_such_order)?;
    let o = st.orders.get(&uuid).ok_or_else(no_such_order)?;
    f(o)
}

fn with_capture(
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

fn capture_json(o: &Order, c: &Capture) -> Value {
    let mut m = Map::new();
    m.insert("capture_id".into(), Value::String(c.id.to_string()));
    m.insert(
        "klarna_reference".into(),
        Value::String(c.klarna_reference.clone()),
    );
    m.insert("captured_amount".into(), Value::from(c.amount));
    m.insert("captured_at".into(), Value::String(format_time(c.at)));
    m.insert("refunded_amount".into(), Value::from(c.refunded));
    for (k, v) in [
        ("reference", &c.reference),
        ("description", &c.description),
        ("order_lines", &c.lines),
        ("billing_address", &o.billing_address),
        ("shipping_address", &o.shipping_address),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert(
        "shipping_info".into(),
        Value::Array(c.shipping_info.clone()),
    );
    Value::Object(m)
}

fn refund_json(r: &Refund) -> Value {
    let mut m = Map::new();
    m.insert("refund_id".into(), Value::String(r.id.to_string()));
    m.insert("refunded_amount".into(), Value::from(r.amount));
    m.insert("refunded_at".into(), Value::String(format_time(r.at)));
    for (k, v) in [
        ("reference", &r.reference),
        ("description", &r.description),
        ("order_lines", &r.lines),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone());
        }
    }
    Value::Object(m)
}

fn get_order(st: &State, id: &str, now: Millis) -> Res {
    with_order(st, id, |o| {
        let oid = id.to_ascii_lowercase();
        let mut m = Map::new();
        m.insert("order_id".into(), Value::String(oid));
        m.insert("status".into(), Value::String(o.status(now).into()));
        m.insert("fraud_status".into(), Value::String(o.fraud_status.into()));
        m.insert("order_amount".into(), Value::from(o.order_amount));
        m.insert(
            "original_order_amount".into(),
            Value::from(o.original_order_amount),
        );
        m.insert("captured_amount".into(), Value::from(o.captured()));
        m.insert("refunded_amount".into(), Value::from(o.refunded()));
        m.insert(
            "remaining_authorized_amount".into(),
            Value::from(o.remaining(now)),
        );
        m.insert(
            "purchase_country".into(),
            Value::String(o.purchase_country.clone()),
        );
        m.insert(
            "purchase_currency".into(),
            Value::String(o.purchase_currency.clone()),
        );
        if let Some(l) = &o.locale {
            m.insert("locale".into(), Value::String(l.clone()));
        }
        m.insert("order_lines".into(), o.lines.clone());
        for (k, v) in [
            ("merchant_reference1", &o.merchant_reference1),
            ("merchant_reference2", &o.merchant_reference2),
            ("merchant_data", &o.merchant_data),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        m.insert(
            "klarna_reference".into(),
            Value::String(o.klarna_reference.clone()),
        );
        for (k, v) in [
            ("billing_address", &o.billing_address),
            ("shipping_address", &o.shipping_address),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.clone());
            }
        }
        if let Some(Value::Object(c)) = &o.customer {
            let mut cc = Map::new();
            for k in ["date_of_birth", "national_identification_number"] {
                if let Some(v) = c.get(k) {
                    cc.insert(k.into(), v.clone());
                }
            }
            m.insert("customer".into(), Value::Object(cc));
        }
        m.insert(
            "created_at".into(),
            Value::String(format_time(o.created_at)),
        );
        m.insert(
            "expires_at".into(),
            Value::String(format_time(o.expires_at)),
        );
        m.insert(
            "captures".into(),
            Value::Array(o.captures.iter().map(|c| capture_json(o, c)).collect()),
        );
        m.insert(
            "refunds".into(),
            Value::Array(o.refunds.iter().map(refund_json).collect()),
        );
        m.insert(
            "shipping_info".into(),
            Value::Array(o.shipping_info.clone()),
        );
        m.insert(
            "initial_payment_method".into(),
            json!({"type": "INVOICE", "description": "Pay later in 30 days"}),
        );
        Ok(Reply::json(200, &Value::Object(m)))
    })
}

fn list_captures(st: &State, id: &str) -> Res {
    with_order(st, id, |o| {
        Ok(Reply::json(
            200,
            &Value::Array(o.captures.iter().map(|c| capture_json(o, c)).collect()),
        ))
    })
}

fn get_capture(st: &State, id: &str, capture_id: &str) -> Res {
    with_capture(st, id, capture_id, |o, c| {
        Ok(Reply::json(200, &capture_json(o, c)))
    })
}

fn get_refund(st: &State, id: &str, refund_id: &str) -> Res {
    with_order(st, id, |o| {
        let r = parse_id(refund_id)
            .and_then(|rid| o.refunds.iter().find(|r| r.id == rid))
            .ok_or_else(|| Reply::error(404, "NOT_FOUND", "No such refund"))?;
        Ok(Reply::json(200, &refund_json(r)))
    })
}

fn cancel_order(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let status = o.status(now);
    if status != "AUTHORIZED" {
        return Err(Reply::error(
            403,
            "CANCEL_NOT_ALLOWED",
            format!("Order cannot be cancelled: order is {status}"),
        ));
    }
    o.closure = Closure::Cancelled;
    Ok(Reply::empty(204))
}

fn release(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    match o.status(now) {
        "PART_CAPTURED" => {
            o.closure = Closure::Closed;
            Ok(Reply::empty(204))
        }
        "CAPTURED" => Err(not_allowed(
            "Order is fully captured. Remaining authorization cannot be released.",
        )),
        "AUTHORIZED" => Err(not_allowed(
            "Order has no captures. Cancel the order instead of releasing the authorization.",
        )),
        s => Err(not_allowed(format!(
            "Order is {s}. Remaining authorization cannot be released."
        ))),
    }
}

fn extend(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let status = o.status(now);
    if status == "EXPIRED" || (now > o.expires_at && o.closure == Closure::Open) {
        return Err(not_allowed(
            "Order is expired. Authorization time cannot be extended.",
        ));
    }
    if !matches!(status, "AUTHORIZED" | "PART_CAPTURED") {
        return Err(not_allowed(format!(
            "Order is {status}. Authorization time cannot be extended."
        )));
    }
    let limit = o.created_at + MAX_EXTENSION;
    if now > limit {
        return Err(not_allowed(
            "Authorization time can only be extended within 180 days of order creation.",
        ));
    }
    o.expires_at = o.expires_at.max((now + ORDER_LIFE).min(limit));
    Ok(Reply::empty(204))
}

fn update_authorization(st: &mut State, id: &str, body: &[u8], now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    let amount = validate::check_update_authorization(&req).map_err(bad_value)?;
    let status = o.status(now);
    if !matches!(status, "AUTHORIZED" | "PART_CAPTURED") {
        return Err(not_allowed(format!(
            "Order is {status}. Authorization cannot be updated."
        )));
    }
    let captured = o.captured();
    if amount < captured {
        return Err(not_allowed(format!(
            "Resulting authorization amount {amount} cannot be less than the captured amount {captured}"
        )));
    }
    o.order_amount = amount;
    // Klarna deletes the stored lines when `order_lines` is omitted (API.md §4.4).
    o.lines = req
        .get("order_lines")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    Ok(Reply::empty(204))
}

fn update_references(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    validate::check_merchant_references(&req).map_err(bad_value)?;
    if o.closure == Closure::Cancelled {
        return Err(not_allowed(
            "Order is cancelled. Merchant references cannot be updated.",
        ));
    }
    for (k, slot) in [
        ("merchant_reference1", &mut o.merchant_reference1),
        ("merchant_reference2", &mut o.merchant_reference2),
    ] {
        if let Some(v) = req.get(k).and_then(Value::as_str) {
            *slot = if v.is_empty() {
                None
            } else {
                Some(v.to_owned())
            };
        }
    }
    Ok(Reply::empty(204))
}

fn update_customer_details(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    if req.contains_key("billing_address") {
        return Err(not_allowed("Billing address cannot be updated"));
    }
    validate::check_customer_details(&req).map_err(bad_value)?;
    if o.closure == Closure::Cancelled {
        return Err(not_allowed(
            "Order is cancelled. Customer details cannot be updated.",
        ));
    }
    o.shipping_address = non_null(&req, "shipping_address");
    Ok(Reply::empty(204))
}

fn add_shipping_info(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    validate::check_shipping_info(&req, true).map_err(bad_value)?;
    if o.captured() == 0 {
        return Err(not_allowed(
            "Shipping info cannot be added to an order without captures",
        ));
    }
    if let Some(Value::Array(a)) = req.get("shipping_info") {
        o.shipping_info.extend(a.iter().cloned());
    }
    Ok(Reply::empty(204))
}

fn add_capture_shipping_info(st: &mut State, id: &str, capture_id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let cid = parse_id(capture_id);
    let c = o
        .captures
        .iter_mut()
        .find(|c| Some(c.id) == cid)
        .ok_or_else(|| Reply::error(404, "NO_SUCH_CAPTURE", "No such capture"))?;
    let req = parse_obj(body)?;
    validate::check_shipping_info(&req, true).map_err(bad_value)?;
    if let Some(Value::Array(a)) = req.get("shipping_info") {
        c.shipping_info.extend(a.iter().cloned());
    }
    Ok(Reply::empty(204))
}

fn extend_due_date(st: &State, id: &str, capture_id: &str, body: &[u8]) -> Res {
    with_capture(st, id, capture_id, |_, _| {
        let req = parse_opt_obj(body)?;
        match req.get("number_of_days").and_then(Value::as_i64) {
            Some(14 | 30) => Ok(Reply::empty(204)),
            Some(_) => Err(not_allowed(
                "Due date cannot be extended by that number of days",
            )),
            None => Err(bad_value(BadValue("number_of_days".into()))),
        }
    })
}
