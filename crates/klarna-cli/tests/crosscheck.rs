//! The CLI's local validation (`klarna_cli::validate`) and the simulator's independent one
//! (`klarna-simulator`, written over JSON without the domain) check each other: the same
//! bodies go to both, and they must agree on accept or refuse, and on the field when both
//! name one (in the spirit of the workspace's `tests/it/crosscheck.rs` for carts).
//!
//! "Accepted by the simulator" means its validation passed: any answer but `400 BAD_VALUE`
//! (Order Management: `422 UNPROCESSABLE_ENTITY` or `INVALID_ADDRESS`; a capture above the
//! remaining authorization is a valid body refused later with 403).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api as api;
use klarna_cli::validate::{self, ValidationError};
use klarna_simulator::{Operation, ShopperDecision, Simulator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../klarna-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The CLI's verdict: `None` accepted, `Some(field)` refused naming the field.
fn cli<T: DeserializeOwned>(
    body: &Value,
    check: fn(&T) -> Result<(), ValidationError>,
) -> Option<String> {
    let typed: T = serde_json::from_value(body.clone()).expect("the case decodes");
    check(&typed).err().map(|e| e.field().to_owned())
}

/// The simulator's verdict on `op` with `params`: `None` accepted, `Some(field)` refused.
fn sim(sim: &Simulator, op: Operation, params: &[String], body: &Value) -> Option<String> {
    let reply = sim
        .engine()
        .dispatch(op, params, None, &serde_json::to_vec(body).unwrap());
    let answer: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    match (reply.status, answer["error_code"].as_str()) {
        (400, Some("BAD_VALUE")) | (422, Some("UNPROCESSABLE_ENTITY" | "INVALID_ADDRESS")) => {}
        (400 | 422, _) => panic!("a field error without a field code: {answer}"),
        _ => return None,
    }
    let message = answer["error_messages"][0].as_str().unwrap();
    Some(
        message
            .strip_prefix("Bad value: ")
            .unwrap_or(message)
            .to_owned(),
    )
}

fn with(base: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = base.clone();
    edit(&mut body);
    body
}

fn agree(name: &str, cli: Option<String>, sim: Option<String>) {
    assert_eq!(
        cli.is_some(),
        sim.is_some(),
        "{name}: the CLI says {cli:?}, the simulator says {sim:?}"
    );
    if let (Some(c), Some(s)) = (&cli, &sim) {
        assert_eq!(c, s, "{name}: both refuse, naming different fields");
    }
}

/// An order at the simulator, made from the session example, to run Order Management on.
fn order(s: &Simulator, session: &Value) -> String {
    let created = s.engine().dispatch(
        Operation::CreateSession,
        &[],
        None,
        &serde_json::to_vec(session).unwrap(),
    );
    assert_eq!(created.status, 200);
    let created: Value = serde_json::from_slice(&created.body).unwrap();
    let session_id = created["session_id"].as_str().unwrap();
    let token = s
        .authorize(session_id, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let mut order = session.clone();
    let o = order.as_object_mut().unwrap();
    for k in ["intent", "acquiring_channel", "options"] {
        o.remove(k);
    }
    let placed = s.engine().dispatch(
        Operation::CreateOrder,
        &[token],
        None,
        &serde_json::to_vec(&order).unwrap(),
    );
    assert_eq!(
        placed.status,
        200,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let placed: Value = serde_json::from_slice(&placed.body).unwrap();
    placed["order_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_simulator_agree_on_the_same_bodies() {
    let s = Simulator::start().await.unwrap();
    let session = fixture("create_session.request.json");

    // P1: the session body.
    let sessions: Vec<(&str, Value)> = vec![
        ("example", session.clone()),
        (
            "merchant_reference1 at 255",
            with(&session, |b| {
                b["merchant_reference1"] = json!("r".repeat(255))
            }),
        ),
        (
            "merchant_reference1 at 256",
            with(&session, |b| {
                b["merchant_reference1"] = json!("r".repeat(256))
            }),
        ),
        (
            "merchant_reference2 at 256",
            with(&session, |b| {
                b["merchant_reference2"] = json!("r".repeat(256))
            }),
        ),
        (
            "merchant_data at 6001",
            with(&session, |b| b["merchant_data"] = json!("d".repeat(6001))),
        ),
        (
            "order_amount off by one",
            with(&session, |b| b["order_amount"] = json!(174_701)),
        ),
        (
            "order_tax_amount off",
            with(&session, |b| b["order_tax_amount"] = json!(34_960)),
        ),
        (
            "currency not of the country",
            with(&session, |b| b["purchase_currency"] = json!("USD")),
        ),
        (
            "no order lines",
            with(&session, |b| b["order_lines"] = json!([])),
        ),
        (
            "line name at 256",
            with(&session, |b| {
                b["order_lines"][0]["name"] = json!("n".repeat(256))
            }),
        ),
        (
            "billing city at 99",
            with(&session, |b| {
                b["billing_address"] = json!({"city": "c".repeat(99), "country": "SE"})
            }),
        ),
        (
            "billing city at 100",
            with(&session, |b| {
                b["billing_address"] = json!({"city": "c".repeat(100), "country": "SE"})
            }),
        ),
        (
            "billing attention at 100",
            with(&session, |b| {
                b["billing_address"] = json!({"attention": "a".repeat(100)})
            }),
        ),
        (
            "line quantity_unit at 9",
            with(&session, |b| {
                b["order_lines"][0]["quantity_unit"] = json!("u".repeat(9))
            }),
        ),
    ];
    for (name, body) in &sessions {
        agree(
            name,
            cli::<api::SessionCreate>(body, validate::session_create),
            sim(&s, Operation::CreateSession, &[], body),
        );
    }

    // O2, O5, O10, O11 on one order (valid bodies may be refused later, with 403).
    let id = vec![order(&s, &session)];
    let capture = json!({"captured_amount": 1, "description": "part"});
    let captures: Vec<(&str, Value)> = vec![
        ("capture 1", capture.clone()),
        (
            "capture 0",
            with(&capture, |b| b["captured_amount"] = json!(0)),
        ),
        (
            "capture -1",
            with(&capture, |b| b["captured_amount"] = json!(-1)),
        ),
        (
            "capture at the cap",
            with(&capture, |b| b["captured_amount"] = json!(200_000_000)),
        ),
        (
            "capture over the cap",
            with(&capture, |b| b["captured_amount"] = json!(200_000_001)),
        ),
        (
            "capture reference at 256",
            with(&capture, |b| b["reference"] = json!("r".repeat(256))),
        ),
        (
            "capture description at 256",
            with(&capture, |b| b["description"] = json!("d".repeat(256))),
        ),
        (
            "negative shipping delay",
            with(&capture, |b| b["shipping_delay"] = json!(-1)),
        ),
        (
            "capture line quantity_unit at 10",
            with(&capture, |b| {
                b["order_lines"] = json!([{"name": "Box", "quantity": 1, "quantity_unit":
                    "u".repeat(10), "unit_price": 1, "total_amount": 1}])
            }),
        ),
        (
            "capture line quantity_unit at 11",
            with(&capture, |b| {
                b["order_lines"] = json!([{"name": "Box", "quantity": 1, "quantity_unit":
                    "u".repeat(11), "unit_price": 1, "total_amount": 1}])
            }),
        ),
    ];
    for (name, body) in &captures {
        agree(
            name,
            cli::<api::CaptureObject>(body, validate::capture),
            sim(&s, Operation::Capture, &id, body),
        );
    }
    let refund = json!({"refunded_amount": 1});
    let refunds: Vec<(&str, Value)> = vec![
        ("refund 1", refund.clone()),
        ("refund 0", json!({"refunded_amount": 0})),
        ("refund -1", json!({"refunded_amount": -1})),
        (
            "refund over the cap",
            json!({"refunded_amount": 200_000_001}),
        ),
        (
            "refund description at 256",
            with(&refund, |b| b["description"] = json!("d".repeat(256))),
        ),
    ];
    for (name, body) in &refunds {
        agree(
            name,
            cli::<api::RefundObject>(body, validate::refund),
            sim(&s, Operation::Refund, &id, body),
        );
    }
    let updates: Vec<(&str, Value)> = vec![
        ("new amount -1", json!({"order_amount": -1})),
        (
            "new amount over the cap",
            json!({"order_amount": 200_000_001}),
        ),
        (
            "description at 256",
            json!({"order_amount": 174_700, "description": "d".repeat(256)}),
        ),
    ];
    for (name, body) in &updates {
        agree(
            name,
            cli::<api::UpdateAuthorization>(body, validate::update_authorization),
            sim(&s, Operation::UpdateAuthorization, &id, body),
        );
    }
    let references: Vec<(&str, Value)> = vec![
        ("references", json!({"merchant_reference1": "r1"})),
        (
            "merchant_reference1 at 256",
            json!({"merchant_reference1": "r".repeat(256)}),
        ),
        (
            "merchant_reference2 at 256",
            json!({"merchant_reference2": "r".repeat(256)}),
        ),
    ];
    for (name, body) in &references {
        agree(
            name,
            cli::<api::UpdateMerchantReferences>(body, validate::merchant_references),
            sim(&s, Operation::UpdateMerchantReferences, &id, body),
        );
    }
    s.shutdown().await;
}
