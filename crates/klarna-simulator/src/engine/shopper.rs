//! The shopper's step (the browser part of an authorization, with `finalize`) and fraud review
//! resolution.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock::Millis;
use crate::validate::{self, BadValue};

use super::Engine;
use super::payments::{ADDRESS_FIELDS, categories};
use super::reply::{Callback, Reply, bad_value, callback_body, random_uuid};
use super::session::SessionBody;
use super::state::{AUTHORIZATION_LIFE, Authorization, Closure, live_session, order_mut};
use super::status::{FraudStatus, SessionStatus};

/// The payment method categories every simulated session offers (P1's
/// `payment_method_categories`, in this order), and whether an `authorize` with
/// `auto_finalize: false` leaves the category's authorization to `finalize()`.
///
/// Klarna does not say which categories need finalizing (API.md §5, §11.10: "mainly
/// pay-now/direct-debit/bank-transfer"); the simulator makes its pay-now category need it and
/// its pay-later and pay-in-parts/financing ones not, so a merchant's page meets both answers
/// and must read `finalize_required` rather than assume either.
pub(super) const CATEGORIES: &[(&str, bool)] = &[
    ("klarna", false),
    ("pay_now", true),
    ("pay_over_time", false),
];

/// The category a shopper step without one is taken for (the in-process shortcut; the JS
/// stand-in always names one).
const DEFAULT_CATEGORY: &str = "klarna";

/// A session whose approved authorization waits for `finalize()` (no token yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AwaitingFinalize {
    /// The category `authorize` was called for; `finalize` must name the same one.
    pub(super) category: String,
    /// When `authorize` answered `finalize_required`; the wait lasts as long as an
    /// authorization token would (60 minutes), then `finalize` is refused.
    pub(super) since: Millis,
}

/// The shopper's decision in the simulated browser step (`POST /sim/sessions/{id}/authorize`
/// and `POST /sim/sessions/{id}/finalize`).
///
/// What Klarna's SDK takes in `authorize(options, data)` maps onto it: `options` gives
/// [`payment_method_category`](Self::payment_method_category) and
/// [`auto_finalize`](Self::auto_finalize); `data` gives the addresses, the customer and an
/// optional cart ([`order_amount`](Self::order_amount), [`order_tax_amount`](Self::order_tax_amount),
/// [`order_lines`](Self::order_lines)), which update the session as Klarna does. The rest is
/// the shopper's part: approve, decline, a fixable decline ([`invalid_fields`](Self::invalid_fields))
/// and the fraud status of the order to come.
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
    /// The category the shopper pays with (`options.payment_method_category`, or the one picked
    /// in the stand-in's dialog): `klarna` (pay later), `pay_now` or `pay_over_time` (pay in
    /// parts or finance). `None` means `klarna` for `authorize` and the awaiting one for
    /// `finalize`; any other value is `400 BAD_VALUE "Bad value: payment_method_category"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_category: Option<String>,
    /// `options.auto_finalize`. `Some(false)` with a category that needs it (`pay_now`) makes an
    /// approving `authorize` answer `finalize_required: true` without a token; `finalize` issues
    /// it. `None` is Klarna's default, `true`: one step. Ignored by `finalize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_finalize: Option<bool>,
    /// A fixable decline: when not empty, the step answers `{approved: false, show_form: true,
    /// error: {invalid_fields}}` with these dotted paths (e.g. `billing_address.email`),
    /// whatever `approve` says; the shopper may correct them and try again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_fields: Vec<String>,
    /// A new `order_amount` from `authorize(…, data)`; with the lines and tax it replaces the
    /// session's cart (checked as P3 checks an update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_amount: Option<i64>,
    /// A new `order_tax_amount` from `authorize(…, data)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_tax_amount: Option<i64>,
    /// New `order_lines` from `authorize(…, data)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Value>,
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

    /// A fixable decline naming the fields the shopper must correct (`billing_address.email`).
    pub fn fixable<I, S>(invalid_fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            invalid_fields: invalid_fields.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The same decision for another payment method category (`pay_now`).
    #[must_use]
    pub fn in_category(mut self, category: impl Into<String>) -> Self {
        self.payment_method_category = Some(category.into());
        self
    }

    /// The same decision with `auto_finalize: false` (a multi-step checkout).
    #[must_use]
    pub fn without_auto_finalize(mut self) -> Self {
        self.auto_finalize = Some(false);
        self
    }
}

/// A fraud decision (`POST /sim/orders/{id}/fraud`): resolves a `PENDING` order, stops an
/// `ACCEPTED` one, or lifts the stop of a `STOPPED` one (`ACCEPTED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FraudDecision {
    /// The order may be fulfilled: notification `FRAUD_RISK_ACCEPTED`.
    Accepted,
    /// The order is rejected and cancelled: notification `FRAUD_RISK_REJECTED`.
    Rejected,
    /// Klarna stops the order (pending or accepted): notification `FRAUD_RISK_STOPPED`. The
    /// order is not cancelled (Klarna documents no cancel; the merchant is to cancel it or
    /// reply within 24 hours), its fraud status reads `STOPPED`, and captures are refused.
    Stopped,
}

/// Which call of Klarna's SDK a shopper step stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `authorize()` (and `reauthorize()`).
    Authorize,
    /// `finalize()`, after an `authorize` that answered `finalize_required`.
    Finalize,
}

/// What a shopper step comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// `show_form: true` with `error.invalid_fields`: the shopper may correct and retry.
    Fixable,
    /// `show_form: false`: Klarna is not offered for this purchase.
    Declined,
    /// Approved, but the token waits for `finalize()`.
    AwaitsFinalize,
    /// Approved with a new authorization token.
    Token,
}

/// Keys of a session that an authorization snapshots (what P5 and P6 are compared with).
const SNAPSHOT_KEYS: &[&str] = &[
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
    "attachment",
    "options",
];

fn bad_category() -> Reply {
    bad_value(BadValue("payment_method_category".into()))
}

/// The fields of `customer` the summary answers (not the date of birth or a national id: the
/// dialog shows neither).
const SUMMARY_CUSTOMER_KEYS: &[&str] = &["type"];

/// The object at `key` of `m`, cut down to `keys` (`None` when absent or empty).
fn picked(m: &Map<String, Value>, key: &str, keys: &[&str]) -> Option<Value> {
    let o = m.get(key)?.as_object()?;
    let out: Map<String, Value> = keys
        .iter()
        .filter_map(|k| o.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    (!out.is_empty()).then_some(Value::Object(out))
}

impl Engine {
    /// The shopper's `authorize()`: approve or decline a session, issuing a new authorization
    /// token (which replaces any earlier one), or, for a category that needs it with
    /// `auto_finalize: false`, answering `finalize_required` without one. Returns the JS-style
    /// result and the callback to make, if any.
    pub(crate) fn authorize_session(
        &self,
        session_id: &str,
        decision: &ShopperDecision,
    ) -> (Result<Value, Reply>, Option<Callback>) {
        self.shopper_step(session_id, decision, Step::Authorize)
    }

    /// What the stand-in's dialog shows of a session (`GET /sim/sessions/{id}/summary`): the
    /// cart, the categories, the billing address (as P2 shows it) and the customer's `type`, for
    /// the holder of the session's client token (`bearer`). `401 UNAUTHORIZED` without it or with another token, `404
    /// NOT_FOUND` for an unknown or expired session.
    pub(crate) fn session_summary(
        &self,
        session_id: &str,
        bearer: Option<&str>,
    ) -> Result<Value, Reply> {
        let unauthorized = || {
            Reply::error(
                401,
                "UNAUTHORIZED",
                "The session's client token is required as a bearer token",
            )
        };
        let bearer = bearer.ok_or_else(unauthorized)?;
        let now = self.clock.now();
        let st = self.lock();
        let (sid, s) = live_session(&st, session_id, now)?;
        if bearer != self.client_token(&sid) {
            return Err(unauthorized());
        }
        let m = s.body.to_map();
        let lines: Vec<Value> = m
            .get("order_lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|l| {
                json!({
                    "name": l.get("name").cloned().unwrap_or(Value::Null),
                    "quantity": l.get("quantity").cloned().unwrap_or(Value::Null),
                    "total_amount": l.get("total_amount").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        let offered = categories();
        let categories: Vec<Value> = offered
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c.get("identifier")?.as_str()?;
                let needs_finalize = CATEGORIES.iter().any(|&(k, f)| k == id && f);
                Some(json!({
                    "identifier": id,
                    "name": c.get("name").cloned().unwrap_or(Value::Null),
                    "needs_finalize": needs_finalize,
                }))
            })
            .collect();
        let mut out = json!({
            "purchase_currency": m.get("purchase_currency").cloned().unwrap_or(Value::Null),
            "locale": m.get("locale").cloned().unwrap_or_else(|| Value::String("en-US".into())),
            "order_amount": m.get("order_amount").cloned().unwrap_or(Value::Null),
            "order_tax_amount": m.get("order_tax_amount").cloned().unwrap_or(Value::Null),
            "order_lines": lines,
            "payment_method_categories": categories,
        });
        for (key, keys) in [
            // The whole address as P2 shows it: the dialog sends it back with the e-mail the
            // shopper confirmed, so the authorized address is the session's, not a part of it.
            ("billing_address", ADDRESS_FIELDS),
            ("customer", SUMMARY_CUSTOMER_KEYS),
        ] {
            if let (Some(v), Some(o)) = (picked(&m, key, keys), out.as_object_mut()) {
                o.insert(key.to_owned(), v);
            }
        }
        Ok(out)
    }

    /// The shopper's `finalize()`: completes the authorization an `authorize` left awaiting it,
    /// issuing the token. Refused (`403 INVALID_OPERATION`) when nothing awaits or the wait is
    /// over 60 minutes old.
    pub(crate) fn finalize_session(
        &self,
        session_id: &str,
        decision: &ShopperDecision,
    ) -> (Result<Value, Reply>, Option<Callback>) {
        self.shopper_step(session_id, decision, Step::Finalize)
    }

    fn shopper_step(
        &self,
        session_id: &str,
        decision: &ShopperDecision,
        step: Step,
    ) -> (Result<Value, Reply>, Option<Callback>) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.sweep(now);
        let result = (|| {
            let (sid, s) = live_session(&st, session_id, now)?;
            if s.status == SessionStatus::Complete {
                return Err(Reply::error(
                    404,
                    "SESSION_COMPLETED",
                    "Session has already been completed",
                ));
            }
            let category = match (step, &s.awaiting_finalize) {
                (Step::Authorize, _) => decision
                    .payment_method_category
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CATEGORY.to_owned()),
                (Step::Finalize, None) => {
                    return Err(Reply::error(
                        403,
                        "INVALID_OPERATION",
                        "No authorization on this session awaits finalize",
                    ));
                }
                (Step::Finalize, Some(w)) => {
                    if now >= w.since + AUTHORIZATION_LIFE {
                        return Err(Reply::error(
                            403,
                            "INVALID_OPERATION",
                            "The authorization awaiting finalize has expired",
                        ));
                    }
                    match &decision.payment_method_category {
                        Some(c) if *c != w.category => return Err(bad_category()),
                        _ => w.category.clone(),
                    }
                }
            };
            let needs_finalize = CATEGORIES
                .iter()
                .find(|(c, _)| *c == category)
                .map(|&(_, f)| f)
                .ok_or_else(bad_category)?;
            if decision.invalid_fields.iter().any(String::is_empty) {
                return Err(bad_value(BadValue("invalid_fields".into())));
            }
            let fraud_status = match decision.fraud_status.as_deref() {
                None => FraudStatus::Accepted,
                Some(s) => FraudStatus::from_wire(s)
                    .ok_or_else(|| bad_value(BadValue("fraud_status".into())))?,
            };
            // What `data` carries reaches Klarna with the call and updates the session before
            // the decision, so it is kept whatever the decision is.
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
            let mut cart = false;
            for (k, v) in [
                ("order_amount", decision.order_amount.map(Value::from)),
                (
                    "order_tax_amount",
                    decision.order_tax_amount.map(Value::from),
                ),
                ("order_lines", decision.order_lines.clone()),
            ] {
                if let Some(v) = v {
                    data.insert(k.into(), v);
                    cart = true;
                }
            }
            let mut merged = s.body.to_map();
            merged.extend(data);
            if cart {
                // A cart in `authorize(…, data)` is a session update: checked as P3 checks one.
                validate::check_session(&merged).map_err(bad_value)?;
            }
            let outcome = if !decision.invalid_fields.is_empty() {
                Outcome::Fixable
            } else if !decision.approve {
                Outcome::Declined
            } else if step == Step::Authorize
                && needs_finalize
                && decision.auto_finalize == Some(false)
            {
                Outcome::AwaitsFinalize
            } else {
                Outcome::Token
            };
            let intent = s.intent;
            let old = s.current_auth;
            let awaiting = s.awaiting_finalize.clone();
            let mut snap = Map::new();
            if outcome == Outcome::Token {
                for k in SNAPSHOT_KEYS {
                    if let Some(v) = merged.get(*k) {
                        snap.insert((*k).into(), v.clone());
                    }
                }
            }
            let body = SessionBody::from_map(merged);
            let callback_url = body.merchant_url("authorization").map(str::to_owned);
            // A new authorize supersedes an authorization awaiting finalize; a fixable
            // finalize keeps it, so the shopper can correct and finalize again.
            let keep_awaiting = match (outcome, step) {
                (Outcome::Fixable, Step::Finalize) => awaiting,
                (Outcome::AwaitsFinalize, _) => Some(AwaitingFinalize {
                    category: category.clone(),
                    since: now,
                }),
                (Outcome::Fixable | Outcome::Declined | Outcome::Token, _) => None,
            };
            let token = (outcome == Outcome::Token).then(random_uuid);
            // An approved authorize replaces the earlier token even when the new one waits for
            // finalize (the less convenient reading: the old one is gone at once).
            if matches!(outcome, Outcome::Token | Outcome::AwaitsFinalize)
                && let Some(old) = old
            {
                st.authorizations.remove(&old);
            }
            if let Some(token) = token {
                st.authorizations.insert(
                    token,
                    Authorization {
                        session_id: sid,
                        created_at: now,
                        intent,
                        snapshot: Box::new(SessionBody::from_map(snap)),
                        order_id: None,
                        customer_token: None,
                        fraud_status,
                    },
                );
            }
            if let Some(s) = st.sessions.get_mut(&sid) {
                *s.body = body;
                s.awaiting_finalize = keep_awaiting;
                match outcome {
                    Outcome::Token => s.current_auth = token,
                    Outcome::AwaitsFinalize => s.current_auth = None,
                    Outcome::Fixable | Outcome::Declined => {}
                }
            }
            let answer = match outcome {
                Outcome::Fixable => json!({
                    "approved": false,
                    "show_form": true,
                    "error": {"invalid_fields": decision.invalid_fields},
                }),
                Outcome::Declined => json!({"approved": false, "show_form": false}),
                Outcome::AwaitsFinalize => {
                    json!({"approved": true, "show_form": true, "finalize_required": true})
                }
                Outcome::Token => {
                    let t = token.map(|t| t.to_string()).unwrap_or_default();
                    match step {
                        Step::Authorize => json!({
                            "approved": true,
                            "show_form": true,
                            "authorization_token": t,
                            "finalize_required": false,
                        }),
                        Step::Finalize => {
                            json!({"approved": true, "show_form": true, "authorization_token": t})
                        }
                    }
                }
            };
            let cb = match (token, callback_url) {
                (Some(t), Some(url)) => Some(Callback {
                    url,
                    body: callback_body(&klarna_api::AuthorizationCallback {
                        authorization_token: t.to_string(),
                        session_id: sid.to_string(),
                    }),
                }),
                _ => None,
            };
            Ok((answer, cb))
        })();
        match result {
            Ok((v, cb)) => (Ok(v), cb),
            Err(e) => (Err(e), None),
        }
    }

    /// Resolves a `PENDING` order's fraud review, stops an `ACCEPTED` order (or lifts a stop
    /// with `ACCEPTED`), and returns the notification to send, if the order has a notification
    /// URL. Any other combination is `409 CONFLICT`.
    pub(crate) fn resolve_fraud(
        &self,
        order_id: &str,
        decision: FraudDecision,
    ) -> Result<Option<Callback>, Reply> {
        let mut st = self.lock();
        let (oid, order) = order_mut(&mut st, order_id)?;
        use klarna_api::NotificationEventType as Event;
        let open = order.status(self.clock.now()).is_open();
        let event = match (order.fraud_status, decision) {
            (FraudStatus::Pending | FraudStatus::Stopped, FraudDecision::Accepted) => {
                order.fraud_status = FraudStatus::Accepted;
                Event::FraudRiskAccepted
            }
            (FraudStatus::Pending, FraudDecision::Rejected) => {
                order.fraud_status = FraudStatus::Rejected;
                order.closure = Closure::Cancelled;
                Event::FraudRiskRejected
            }
            (FraudStatus::Pending, FraudDecision::Stopped)
            | (FraudStatus::Accepted, FraudDecision::Stopped)
                if open =>
            {
                order.fraud_status = FraudStatus::Stopped;
                Event::FraudRiskStopped
            }
            (status, _) => {
                return Err(Reply::error(
                    409,
                    "CONFLICT",
                    format!("Order fraud status is {status}: {decision:?} does not apply"),
                ));
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
}

#[cfg(test)]
mod tests {
    use super::{CATEGORIES, categories};

    #[test]
    fn the_categories_sessions_offer_are_the_ones_the_shopper_step_knows() {
        let all = categories();
        let offered: Vec<&str> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("identifier").and_then(serde_json::Value::as_str))
            .collect();
        let known: Vec<&str> = CATEGORIES.iter().map(|(c, _)| *c).collect();
        assert_eq!(offered, known);
        assert!(
            CATEGORIES.iter().any(|(_, f)| *f) && CATEGORIES.iter().any(|(_, f)| !*f),
            "one category needs finalize and one does not"
        );
    }
}
