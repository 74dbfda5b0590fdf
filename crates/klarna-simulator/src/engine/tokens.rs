//! Customer Token API (T1–T3): reading a token, charging it, cancelling it.

use serde_json::Value;

use crate::clock::Millis;
use crate::validate::{self, BadValue};

use super::Engine;
use super::json::{klarna_reference, non_null, parse_id, parse_obj, str_of, substitute};
use super::payments::invoice;
use super::reply::{Reply, Res, bad_value, random_uuid};
use super::state::{Capture, Closure, ORDER_LIFE, Order, OrderSource, State, next_seq};
use super::status::{FraudStatus, TokenStatus};

impl Engine {
    pub(super) fn token_order(&self, st: &mut State, token: &str, body: &[u8], now: Millis) -> Res {
        let not_found = || Reply::error(404, "TOKEN_NOT_FOUND", "Invalid customer-token ID");
        let id = parse_id(token).ok_or_else(not_found)?;
        let t = st.tokens.get(&id).ok_or_else(not_found)?;
        if t.status == TokenStatus::Cancelled {
            return Err(Reply::error(
                403,
                "TOKEN_CANCELED",
                "The customer token has been cancelled",
            ));
        }
        if t.forbidden {
            return Err(Reply::error(
                403,
                "TOKEN_FORBIDDEN",
                "The customer token cannot be used by this merchant",
            ));
        }
        let req = parse_obj(body)?;
        validate::check_token_order(&req).map_err(bad_value)?;
        // A charge in another currency than the token's is a refusal of the payment method,
        // not a bad value (API.md §11.6).
        let currency = str_of(&req, "purchase_currency").unwrap_or_default();
        if !currency.eq_ignore_ascii_case(&t.purchase_currency) {
            return Err(Reply::error(
                403,
                "PAYMENT_METHOD_CURRENCY_MISMATCH",
                format!(
                    "The payment method of the customer token cannot be used for {}",
                    currency.to_uppercase()
                ),
            ));
        }
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
            fraud_status: FraudStatus::Accepted,
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
            attachment: non_null(&req, "attachment"),
            options: None,
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
                fraud_status: Some(FraudStatus::Accepted.to_api()),
                redirect_url,
                authorized_payment_method: Some(invoice()),
            },
        ))
    }
}

impl Engine {
    /// Makes a customer token forbidden to this merchant from now on: charges (T2) answer
    /// `403 TOKEN_FORBIDDEN` (API.md §11.6). Klarna does not document when it answers so;
    /// this is the knob that makes the simulator say it. `false` for an unknown token.
    pub fn forbid_token(&self, token_id: &str) -> bool {
        let mut st = self.lock();
        match parse_id(token_id).and_then(|id| st.tokens.get_mut(&id)) {
            Some(t) => {
                t.forbidden = true;
                true
            }
            None => false,
        }
    }
}

pub(super) fn read_token(st: &State, token: &str) -> Res {
    let not_found = || Reply::error(404, "NOT_FOUND", "Invalid customer-token ID");
    let id = parse_id(token).ok_or_else(not_found)?;
    let t = st.tokens.get(&id).ok_or_else(not_found)?;
    Ok(Reply::typed(
        200,
        &klarna_api::CustomerToken {
            status: t.status.to_api(),
            payment_method_type: Some("INVOICE".to_owned()),
            card: None,
            direct_debit: None,
        },
    ))
}

pub(super) fn update_token_status(st: &mut State, token: &str, body: &[u8]) -> Res {
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
        t.status = TokenStatus::Cancelled;
    }
    Ok(Reply::text(
        202,
        "Token patch request has been accepted and is being processed.",
    ))
}
