//! Order Management reads (O1, O3, O4, O6, O16): an order, its captures and refunds as Klarna's JSON.

use serde_json::{Map, Value, json};

use crate::clock::{Millis, format_time};

use super::json::parse_id;
use super::reply::{Reply, Res};
use super::state::{Capture, Order, Refund, State, with_capture, with_order};

pub(super) fn capture_json(o: &Order, c: &Capture) -> Value {
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

pub(super) fn refund_json(r: &Refund) -> Value {
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

pub(super) fn get_order(st: &State, id: &str, now: Millis) -> Res {
    with_order(st, id, |o| {
        let oid = id.to_ascii_lowercase();
        let mut m = Map::new();
        m.insert("order_id".into(), Value::String(oid));
        m.insert("status".into(), Value::String(o.status(now).wire().into()));
        m.insert(
            "fraud_status".into(),
            Value::String(o.fraud_status.wire().into()),
        );
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

pub(super) fn list_captures(st: &State, id: &str) -> Res {
    with_order(st, id, |o| {
        Ok(Reply::json(
            200,
            &Value::Array(o.captures.iter().map(|c| capture_json(o, c)).collect()),
        ))
    })
}

pub(super) fn get_capture(st: &State, id: &str, capture_id: &str) -> Res {
    with_capture(st, id, capture_id, |o, c| {
        Ok(Reply::json(200, &capture_json(o, c)))
    })
}

pub(super) fn get_refund(st: &State, id: &str, refund_id: &str) -> Res {
    with_order(st, id, |o| {
        let r = parse_id(refund_id)
            .and_then(|rid| o.refunds.iter().find(|r| r.id == rid))
            .ok_or_else(|| Reply::error(404, "NOT_FOUND", "No such refund"))?;
        Ok(Reply::json(200, &refund_json(r)))
    })
}

/// O16: the due-date extension options of a capture (14 or 30 days, free).
pub(super) fn extend_due_date_options(st: &State, id: &str, capture_id: &str) -> Res {
    with_capture(st, id, capture_id, |o, _| {
        Ok(Reply::json(
            200,
            &json!({"currency": o.purchase_currency, "options": [
                {"number_of_days": 14, "amount": 0},
                {"number_of_days": 30, "amount": 0}
            ]}),
        ))
    })
}
