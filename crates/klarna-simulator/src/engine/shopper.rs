//! The shopper's step (the browser part of an authorization) and fraud review resolution.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::validate::{self, BadValue};

use super::Engine;
use super::reply::{Callback, Reply, bad_value, callback_body, random_uuid};
use super::session::SessionBody;
use super::state::{Authorization, Closure, live_session, order_mut};
use super::status::{FraudStatus, SessionStatus};

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

impl Engine {
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
            if s.status == SessionStatus::Complete {
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
                None => FraudStatus::Accepted,
                Some(s) => FraudStatus::from_wire(s)
                    .ok_or_else(|| bad_value(BadValue("fraud_status".into())))?,
            };
            let mut body = s.body.to_map();
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
            let body = SessionBody::from_map(body);
            let callback_url = body.merchant_url("authorization").map(str::to_owned);
            let token = random_uuid();
            let intent = s.intent;
            let old = s.current_auth;
            if let Some(old) = old {
                st.authorizations.remove(&old);
            }
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
            if let Some(s) = st.sessions.get_mut(&sid) {
                s.current_auth = Some(token);
                *s.body = body;
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
