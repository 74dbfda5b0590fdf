//! Payments API (P1–P6): sessions, authorizations, orders from an authorization, customer tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::clock::{Millis, format_time};
use crate::validate;

use super::Engine;
use super::json::{klarna_reference, non_null, parse_id, parse_obj, str_of, substitute};
use super::reply::{Reply, Res, bad_value, invalid_token, not_matching, random_uuid};
use super::session::SessionBody;
use super::state::{
    Capture, Closure, CustomerToken, ORDER_LIFE, Order, OrderSource, SESSION_LIFE,
    SESSION_READ_ONLY, Session, State, live_auth, live_session, next_seq,
};
use super::status::{FraudStatus, Intent, SessionStatus, TokenStatus};

impl Engine {
    pub(super) fn client_token(&self, session_id: &Uuid) -> String {
        let header =
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"klarna-simulator","typ":"JWT"}"#);
        // The JS stand-in reads the session's categories from here, so `load` and `authorize`
        // can throw Klarna's category errors synchronously, as the SDK does.
        let payload = json!({
            "session_id": session_id.to_string(),
            "base_url": self.base_url,
            "payment_method_categories": super::shopper::CATEGORIES.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        });
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let sig = URL_SAFE_NO_PAD.encode(b"klarna-simulator-unsigned");
        format!("{header}.{payload}.{sig}")
    }

    pub(super) fn create_session(&self, st: &mut State, body: &[u8], now: Millis) -> Res {
        let mut obj = parse_obj(body)?;
        validate::check_session(&obj).map_err(bad_value)?;
        for k in SESSION_READ_ONLY {
            obj.remove(*k);
        }
        let body = SessionBody::from_map(obj);
        let id = random_uuid();
        st.sessions.insert(
            id,
            Session {
                intent: body.intent(),
                body: Box::new(body),
                created_at: now,
                status: SessionStatus::Incomplete,
                current_auth: None,
                awaiting_finalize: None,
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

    pub(super) fn read_session(&self, st: &State, id: &str, now: Millis) -> Res {
        let (uuid, s) = live_session(st, id, now)?;
        let mut obj = read_view(s.body.to_map());
        obj.insert(
            "client_token".into(),
            Value::String(self.client_token(&uuid)),
        );
        obj.insert("status".into(), Value::String(s.status.wire().into()));
        obj.insert(
            "expires_at".into(),
            Value::String(format_time(s.created_at + SESSION_LIFE)),
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

    pub(super) fn create_order(
        &self,
        st: &mut State,
        token: &str,
        body: &[u8],
        now: Millis,
    ) -> Res {
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
        let snap = auth.snapshot.to_map();
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
            attachment: pick("attachment"),
            options: pick("options"),
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
        if auto_capture && fraud_status == FraudStatus::Accepted && order.order_amount > 0 {
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
            s.status = SessionStatus::Complete;
        }
        Ok(Reply::typed(
            200,
            &klarna_api::payments::Order {
                order_id: oid,
                fraud_status: Some(fraud_status.to_api()),
                redirect_url: redirect,
                authorized_payment_method: Some(invoice()),
            },
        ))
    }

    pub(super) fn create_customer_token(
        &self,
        st: &mut State,
        token: &str,
        body: &[u8],
        now: Millis,
    ) -> Res {
        let tid = parse_id(token).ok_or_else(invalid_token)?;
        let auth = live_auth(st, &tid, now)?;
        if auth.intent == Intent::Buy {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Not allowed to create customer token for intent buy",
            ));
        }
        // One token per authorization, and none after the order: with `buy_and_tokenize` the
        // token comes first (P6, then P5), as Klarna's recurring guide and the WooCommerce
        // integration do it; an order consumes the authorization (API.md §11.1, §11.2).
        if auth.customer_token.is_some() || auth.order_id.is_some() {
            return Err(Reply::error(
                403,
                "INVALID_OPERATION",
                "Authorization token already consumed",
            ));
        }
        let req = parse_obj(body)?;
        validate::check_customer_token_request(&req).map_err(bad_value)?;
        let snap = auth.snapshot.to_map();
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
                status: TokenStatus::Active,
                forbidden: false,
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
            s.status = SessionStatus::Complete;
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
}

pub(super) fn update_session(st: &mut State, id: &str, body: &[u8], now: Millis) -> Res {
    let (uuid, s) = live_session(st, id, now)?;
    if s.status == SessionStatus::Complete {
        return Err(Reply::error(
            404,
            "SESSION_COMPLETED",
            "Session has already been completed",
        ));
    }
    let update = parse_obj(body)?;
    let mut merged = s.body.to_map();
    for (k, v) in update {
        if !SESSION_READ_ONLY.contains(&k.as_str()) {
            merged.insert(k, v);
        }
    }
    validate::check_session(&merged).map_err(bad_value)?;
    let merged = SessionBody::from_map(merged);
    if let Some(s) = st.sessions.get_mut(&uuid) {
        // The session's life is not extended: it ends 48 h after creation (API.md §11.8).
        s.intent = merged.intent();
        *s.body = merged;
    }
    Ok(Reply::empty(204))
}

pub(super) fn cancel_authorization(st: &mut State, token: &str, now: Millis) -> Res {
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

/// The fields of `session_read` (payments-v1.yml) P2 answers; anything else the merchant sent is
/// stored (P5/P6 compare it) but not read back.
const SESSION_READ_FIELDS: &[&str] = &[
    "acquiring_channel",
    "attachment",
    "authorization_token",
    "billing_address",
    "client_token",
    "custom_payment_method_ids",
    "customer",
    "design",
    "expires_at",
    "intent",
    "locale",
    "merchant_data",
    "merchant_reference1",
    "merchant_reference2",
    "merchant_urls",
    "options",
    "order_amount",
    "order_lines",
    "order_tax_amount",
    "payment_method_categories",
    "purchase_country",
    "purchase_currency",
    "shipping_address",
    "status",
];

/// `customer_read`: no `national_identification_number`, no `last_four_ssn`.
const CUSTOMER_READ_FIELDS: &[&str] = &[
    "date_of_birth",
    "gender",
    "organization_entity_type",
    "organization_registration_id",
    "title",
    "type",
    "vat_id",
];

/// The fields of an address P2 answers (and the shopper's summary, `GET /sim/sessions/{id}/summary`).
pub(super) const ADDRESS_FIELDS: &[&str] = &[
    "attention",
    "city",
    "country",
    "email",
    "family_name",
    "given_name",
    "organization_name",
    "phone",
    "postal_code",
    "region",
    "street_address",
    "street_address2",
    "title",
];

const ORDER_LINE_FIELDS: &[&str] = &[
    "image_url",
    "merchant_data",
    "name",
    "product_identifiers",
    "product_url",
    "quantity",
    "quantity_unit",
    "reference",
    "subscription",
    "tax_rate",
    "total_amount",
    "total_discount_amount",
    "total_tax_amount",
    "type",
    "unit_price",
];

const MERCHANT_URL_FIELDS: &[&str] = &["authorization", "confirmation", "notification", "push"];

fn keep_only(v: &mut Value, fields: &[&str]) {
    if let Value::Object(m) = v {
        m.retain(|k, _| fields.contains(&k.as_str()));
    }
}

/// What P2 reads back of a stored session: only what Klarna's `session_read` documents
/// (a read answers nothing Klarna's schema lacks, e.g. the shopper's national id).
pub(super) fn read_view(mut obj: Map<String, Value>) -> Map<String, Value> {
    obj.retain(|k, _| SESSION_READ_FIELDS.contains(&k.as_str()));
    for (key, fields) in [
        ("customer", CUSTOMER_READ_FIELDS),
        ("billing_address", ADDRESS_FIELDS),
        ("shipping_address", ADDRESS_FIELDS),
        ("merchant_urls", MERCHANT_URL_FIELDS),
    ] {
        if let Some(v) = obj.get_mut(key) {
            keep_only(v, fields);
        }
    }
    if let Some(Value::Array(lines)) = obj.get_mut("order_lines") {
        for line in lines {
            keep_only(line, ORDER_LINE_FIELDS);
        }
    }
    obj
}

/// Compares the create-order/customer-token request with what was authorized (409 on difference).
pub(super) fn mismatches(
    auth: &Map<String, Value>,
    req: &Map<String, Value>,
    with_cart: bool,
) -> Vec<String> {
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

pub(super) const PAYMENT_METHOD_CATEGORIES: &str = r#"[{"identifier":"klarna","name":"Pay with Klarna (simulator)","asset_urls":{"descriptive":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg","standard":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"}},{"identifier":"pay_now","name":"Pay now (simulator)","asset_urls":{"descriptive":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg","standard":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"}},{"identifier":"pay_over_time","name":"Pay in parts / financing (simulator)","asset_urls":{"descriptive":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg","standard":"https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"}}]"#;

pub(super) fn categories() -> Value {
    serde_json::from_str(PAYMENT_METHOD_CATEGORIES).unwrap_or(Value::Null)
}

pub(super) fn typed_categories() -> Option<Vec<klarna_api::PaymentMethodCategory>> {
    serde_json::from_str(PAYMENT_METHOD_CATEGORIES).ok()
}

/// The payment method every simulated authorization uses: pay later by invoice in 30 days.
pub(super) fn invoice() -> klarna_api::AuthorizedPaymentMethod {
    klarna_api::AuthorizedPaymentMethod::Details(klarna_api::AuthorizedPaymentMethodDetails {
        r#type: Some(klarna_api::AuthorizedPaymentMethodType::Invoice),
        number_of_days: Some(30),
        number_of_installments: None,
    })
}
