//! Order Management writes (O2, O5, O7–O15, O17, O18): captures, refunds, cancel, release, extend, updates, shipping info.

use serde_json::Value;

use crate::clock::Millis;
use crate::validate::{self, BadValue};

use super::Engine;
use super::json::{non_null, parse_id, parse_obj, parse_opt_obj};
use super::reply::{Reply, Res, not_allowed, random_uuid, unprocessable};
use super::state::{
    Capture, Closure, MAX_EXTENSION, ORDER_LIFE, Refund, State, order_mut, with_capture, with_order,
};
use super::status::{FraudStatus, OrderStatus};

impl Engine {
    pub(super) fn capture(&self, st: &mut State, order_id: &str, body: &[u8], now: Millis) -> Res {
        let (oid, order) = order_mut(st, order_id)?;
        let req = parse_obj(body)?;
        let amount =
            validate::check_capture_or_refund(&req, "captured_amount").map_err(unprocessable)?;
        let status = order.status(now);
        if !status.is_open() {
            return Err(Reply::error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!("Capture not allowed: order is {status}"),
            ));
        }
        if order.fraud_status != FraudStatus::Accepted {
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

    pub(super) fn refund(&self, st: &mut State, order_id: &str, body: &[u8], now: Millis) -> Res {
        let _ = now;
        let (oid, order) = order_mut(st, order_id)?;
        let req = parse_obj(body)?;
        let amount =
            validate::check_capture_or_refund(&req, "refunded_amount").map_err(unprocessable)?;
        let captured = order.captured();
        if captured == 0 {
            return Err(Reply::error(
                403,
                "REFUND_NOT_ALLOWED",
                "Order has no captures to refund",
            ));
        }
        // A return fee only on an order captured in full in one capture (API.md §4.3).
        let return_fee = req
            .get("order_lines")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|l| l.get("type").and_then(Value::as_str) == Some("return_fee"))
            });
        if return_fee && (order.captures.len() != 1 || captured != order.order_amount) {
            return Err(Reply::error(
                403,
                "REFUND_NOT_ALLOWED",
                "A return fee is only possible on an order captured in full in one capture",
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
}

pub(super) fn cancel_order(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let status = o.status(now);
    if status != OrderStatus::Authorized {
        return Err(Reply::error(
            403,
            "CANCEL_NOT_ALLOWED",
            format!("Order cannot be cancelled: order is {status}"),
        ));
    }
    o.closure = Closure::Cancelled;
    Ok(Reply::empty(204))
}

pub(super) fn release(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    match o.status(now) {
        OrderStatus::PartCaptured => {
            o.closure = Closure::Closed;
            Ok(Reply::empty(204))
        }
        OrderStatus::Captured => Err(not_allowed(
            "Order is fully captured. Remaining authorization cannot be released.",
        )),
        OrderStatus::Authorized => Err(not_allowed(
            "Order has no captures. Cancel the order instead of releasing the authorization.",
        )),
        s => Err(not_allowed(format!(
            "Order is {s}. Remaining authorization cannot be released."
        ))),
    }
}

pub(super) fn extend(st: &mut State, id: &str, now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let status = o.status(now);
    if status == OrderStatus::Expired || (now > o.expires_at && o.closure == Closure::Open) {
        return Err(not_allowed(
            "Order is expired. Authorization time cannot be extended.",
        ));
    }
    if !status.is_open() {
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

pub(super) fn update_authorization(st: &mut State, id: &str, body: &[u8], now: Millis) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    let amount = validate::check_update_authorization(&req).map_err(unprocessable)?;
    let status = o.status(now);
    if !status.is_open() {
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

pub(super) fn update_references(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    validate::check_merchant_references(&req).map_err(unprocessable)?;
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

pub(super) fn update_customer_details(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    if req.contains_key("billing_address") {
        return Err(not_allowed("Billing address cannot be updated"));
    }
    validate::check_customer_details(&req).map_err(unprocessable)?;
    if o.closure == Closure::Cancelled {
        return Err(not_allowed(
            "Order is cancelled. Customer details cannot be updated.",
        ));
    }
    o.shipping_address = non_null(&req, "shipping_address");
    Ok(Reply::empty(204))
}

pub(super) fn add_shipping_info(st: &mut State, id: &str, body: &[u8]) -> Res {
    let (_, o) = order_mut(st, id)?;
    let req = parse_obj(body)?;
    validate::check_shipping_info(&req, true).map_err(unprocessable)?;
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

pub(super) fn add_capture_shipping_info(
    st: &mut State,
    id: &str,
    capture_id: &str,
    body: &[u8],
) -> Res {
    let (_, o) = order_mut(st, id)?;
    let cid = parse_id(capture_id);
    let c = o
        .captures
        .iter_mut()
        .find(|c| Some(c.id) == cid)
        .ok_or_else(|| Reply::error(404, "NO_SUCH_CAPTURE", "No such capture"))?;
    let req = parse_obj(body)?;
    validate::check_shipping_info(&req, true).map_err(unprocessable)?;
    if let Some(Value::Array(a)) = req.get("shipping_info") {
        c.shipping_info.extend(a.iter().cloned());
    }
    Ok(Reply::empty(204))
}

pub(super) fn extend_due_date(st: &State, id: &str, capture_id: &str, body: &[u8]) -> Res {
    with_capture(st, id, capture_id, |_, _| {
        let req = parse_opt_obj(body)?;
        match req.get("number_of_days").and_then(Value::as_i64) {
            Some(14 | 30) => Ok(Reply::empty(204)),
            Some(_) => Err(not_allowed(
                "Due date cannot be extended by that number of days",
            )),
            None => Err(unprocessable(BadValue("number_of_days".into()))),
        }
    })
}

/// O15: a send-out is accepted for any existing capture.
pub(super) fn trigger_send_out(st: &State, id: &str, capture_id: &str) -> Res {
    with_capture(st, id, capture_id, |_, _| Ok(Reply::empty(204)))
}

/// O18: acknowledging any existing order succeeds.
pub(super) fn acknowledge(st: &State, id: &str) -> Res {
    with_order(st, id, |_| Ok(Reply::empty(204)))
}
