//! Malformed-input properties of the simulator's request parser (reliability.md §5 P1): every
//! operation, dispatched through `Engine::dispatch` with valid or random path ids and a valid,
//! mutated or random body, answers with a 2xx or 4xx reply, never a panic or a 5xx; a 4xx carries
//! Klarna's JSON error body, and a 400 `BAD_VALUE` (Order Management: a 422) names the offending
//! field.
//!
//! Each case runs against fresh state (an authorized session, a placed and captured order with a
//! refund, a customer token), so mutations of a valid body reach the deep validation paths rather
//! than stopping at "not found". `PROPTEST_RNG_SEED=<n>` replays a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use std::sync::OnceLock;

use klarna_api::ErrorResponse;
use klarna_simulator::{Engine, Operation, ShopperDecision, Simulator};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// Cases per property (two properties run in parallel): 2 × 6,000 = 12,000 dispatches of
/// mutated or random bodies, each after setting up fresh state.
const CASES: u32 = 6_000;

// ---------------------------------------------------------------------------------------------
// A simulator whose engine the properties drive directly.

struct Harness {
    // Keeps the simulator's server task alive; dropped at process exit.
    _runtime: tokio::runtime::Runtime,
    sim: Simulator,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sim = runtime.block_on(Simulator::start()).unwrap();
        Harness {
            _runtime: runtime,
            sim,
        }
    })
}

fn engine() -> &'static Engine {
    harness().sim.engine()
}

/// Ids of fresh entities of every kind, for the path parameters.
#[derive(Debug, Default)]
struct World {
    session: String,
    authorization: String,
    customer_token: String,
    order: String,
    capture: String,
    refund: String,
}

fn lines() -> Value {
    json!([
        {"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 2,
         "unit_price": 89_900, "tax_rate": 2500, "total_amount": 169_800,
         "total_discount_amount": 10_000, "total_tax_amount": 33_960},
        {"type": "shipping_fee", "name": "Standard delivery", "quantity": 1, "unit_price": 4900,
         "tax_rate": 2500, "total_amount": 4900, "total_discount_amount": 0,
         "total_tax_amount": 980}
    ])
}

fn address() -> Value {
    json!({"given_name": "Ann", "family_name": "Andersson", "email": "ann@example.com",
        "street_address": "Sveavägen 1", "postal_code": "11157", "city": "Stockholm",
        "country": "SE", "phone": "+46701740615"})
}

fn session_body(intent: &str) -> Value {
    json!({"intent": intent, "purchase_country": "SE", "purchase_currency": "SEK",
        "locale": "sv-SE", "order_amount": 174_700, "order_tax_amount": 34_940,
        "order_lines": lines(), "merchant_reference1": "pay-0001"})
}

fn order_body() -> Value {
    json!({"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 174_700, "order_tax_amount": 34_940, "order_lines": lines(),
        "merchant_reference1": "pay-0001"})
}

/// A valid body for each operation that takes one (the seed the mutations start from).
fn valid_body(op: Operation) -> Value {
    match op {
        Operation::CreateSession | Operation::UpdateSession => session_body("buy"),
        Operation::CreateOrder => order_body(),
        Operation::CreateCustomerToken => json!({"purchase_country": "SE",
            "purchase_currency": "SEK", "locale": "sv-SE", "description": "Coffee subscription",
            "intended_use": "SUBSCRIPTION"}),
        Operation::TokenOrder => json!({"purchase_currency": "SEK", "locale": "sv-SE",
            "order_amount": 174_700, "order_tax_amount": 34_940, "order_lines": lines(),
            "auto_capture": false, "merchant_reference1": "sub-1"}),
        Operation::UpdateTokenStatus => json!({"status": "CANCELLED"}),
        Operation::Capture => json!({"captured_amount": 4900, "description": "part",
            "shipping_info": [{"shipping_company": "PostNord", "tracking_number": "T1"}]}),
        Operation::Refund => json!({"refunded_amount": 100, "description": "goodwill"}),
        Operation::UpdateAuthorization => json!({"order_amount": 174_700,
            "order_lines": lines()}),
        Operation::UpdateMerchantReferences => json!({"merchant_reference1": "r1",
            "merchant_reference2": "r2"}),
        Operation::UpdateCustomerDetails => json!({"billing_address": address(),
            "shipping_address": address()}),
        Operation::AddShippingInfo | Operation::AddCaptureShippingInfo => json!({"shipping_info": [
            {"shipping_company": "DHL", "shipping_method": "Home", "tracking_number": "63456",
             "tracking_uri": "https://example.com/t/63456"}]}),
        Operation::ExtendDueDate => json!({"number_of_days": 14}),
        _ => json!({}),
    }
}

fn ok_json(r: &klarna_simulator::Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "{what}: HTTP {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn authorize(session: &str) -> String {
    harness()
        .sim
        .authorize(session, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap()
}

/// Creates fresh entities through the same engine.
fn world() -> World {
    let e = engine();
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    let r = e.dispatch(
        Operation::CreateSession,
        &[],
        None,
        &body(session_body("buy")),
    );
    let session = ok_json(&r, "create session")["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorization = authorize(&session);
    // A second authorization to place the order the OM operations work on, so the first stays
    // unconsumed for the P4–P6 operations.
    let r = e.dispatch(
        Operation::CreateSession,
        &[],
        None,
        &body(session_body("buy")),
    );
    let s2 = ok_json(&r, "create session 2")["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = authorize(&s2);
    let r = e.dispatch(Operation::CreateOrder, &[a2], None, &body(order_body()));
    let order = ok_json(&r, "create order")["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = e.dispatch(
        Operation::Capture,
        std::slice::from_ref(&order),
        None,
        &body(json!({"captured_amount": 100_000})),
    );
    ok_json(&r, "capture");
    let capture = r
        .header("capture-id")
        .map(str::to_owned)
        .unwrap_or_default();
    let r = e.dispatch(
        Operation::Refund,
        std::slice::from_ref(&order),
        None,
        &body(json!({"refunded_amount": 1000})),
    );
    ok_json(&r, "refund");
    let refund = r.header("refund-id").map(str::to_owned).unwrap_or_default();
    let r = e.dispatch(
        Operation::CreateSession,
        &[],
        None,
        &body(session_body("tokenize")),
    );
    let s3 = ok_json(&r, "create session 3")["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a3 = authorize(&s3);
    let r = e.dispatch(
        Operation::CreateCustomerToken,
        &[a3],
        None,
        &body(valid_body(Operation::CreateCustomerToken)),
    );
    let customer_token = ok_json(&r, "customer token")["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        session,
        authorization,
        customer_token,
        order,
        capture,
        refund,
    }
}

/// The path parameters an operation takes, as ids of the fresh world.
fn valid_params(op: Operation, w: &World) -> Vec<String> {
    match op {
        Operation::CreateSession => vec![],
        Operation::ReadSession | Operation::UpdateSession => vec![w.session.clone()],
        Operation::CancelAuthorization
        | Operation::CreateOrder
        | Operation::CreateCustomerToken => vec![w.authorization.clone()],
        Operation::ReadToken | Operation::TokenOrder | Operation::UpdateTokenStatus => {
            vec![w.customer_token.clone()]
        }
        Operation::GetCapture
        | Operation::AddCaptureShippingInfo
        | Operation::TriggerSendOut
        | Operation::ExtendDueDateOptions
        | Operation::ExtendDueDate => vec![w.order.clone(), w.capture.clone()],
        Operation::GetRefund => vec![w.order.clone(), w.refund.clone()],
        _ => vec![w.order.clone()],
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// What a path parameter is.
#[derive(Debug, Clone)]
enum Param {
    Valid,
    Random(String),
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        6 => Just(Param::Valid),
        1 => prop_oneof![
            Just(String::new()),
            Just("..".to_owned()),
            Just("00000000-0000-0000-0000-000000000000".to_owned()),
            "\\PC{0,40}",
            "[a-f0-9-]{36}",
            Just("x".repeat(5000)),
        ]
        .prop_map(Param::Random),
    ]
}

/// Raw JSON text for replacements: the edges of every field type.
fn weird() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "null",
                "true",
                "\"\"",
                "[]",
                "{}",
                "0",
                "-1",
                "1.5",
                "-0",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "-9223372036854775809",
                "18446744073709551616",
                "1e400",
                "\"\\ud800\"",
                "\"\\u0000\"",
                "\"SEK\"",
                "\"XX\"",
                "200000001",
                "10001",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        "\\PC{0,30}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        (0usize..400).prop_map(|n| format!("\"{}\"", "a".repeat(n))),
        (1usize..300).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the `n`th node (a member or an element).
    Drop(usize),
    /// Replace the `n`th node with raw JSON text.
    Replace(usize, String),
    /// Cut the text at a byte position (per mille).
    Truncate(u16),
    /// Insert raw bytes at a position (per mille).
    Bytes(u16, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Drop),
        6 => (any::<usize>(), weird()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        1 => (0u16..1000).prop_map(Mutation::Truncate),
        1 => (0u16..1000, prop::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(p, b)| Mutation::Bytes(p, b)),
    ]
}

fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(c, format!("{here}/{key}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

fn at(len: usize, per_mille: u16) -> usize {
    len * usize::from(per_mille) / 1000
}

/// Applies the mutations: structural ones on the tree (replacements go in as placeholders so
/// the raw text may be out of `Value`'s range), then the byte ones on the text.
fn apply(seed: &Value, muts: &[Mutation]) -> Vec<u8> {
    let mut tree = seed.clone();
    let mut raws = Vec::new();
    for m in muts {
        let mut ptrs = Vec::new();
        pointers(&tree, String::new(), &mut ptrs);
        match m {
            Mutation::Drop(n) => {
                let ptr = ptrs[n % ptrs.len()].clone();
                if let Some((parent, last)) = ptr.rsplit_once('/') {
                    match tree.pointer_mut(parent) {
                        Some(Value::Object(o)) => {
                            o.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(i) = last.parse::<usize>()
                                && i < a.len()
                            {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Mutation::Replace(n, raw) => {
                let ptr = ptrs[n % ptrs.len()].clone();
                if let Some(node) = tree.pointer_mut(&ptr) {
                    *node = Value::String(format!("\u{1}raw{}\u{1}", raws.len()));
                    raws.push(raw.clone());
                }
            }
            Mutation::Truncate(_) | Mutation::Bytes(..) => {}
        }
    }
    let mut text = serde_json::to_string(&tree).unwrap();
    for (i, raw) in raws.iter().enumerate() {
        text = text.replace(&format!("\"\\u0001raw{i}\\u0001\""), raw);
    }
    let mut bytes = text.into_bytes();
    for m in muts {
        match m {
            Mutation::Truncate(p) => bytes.truncate(at(bytes.len(), *p)),
            Mutation::Bytes(p, b) => {
                let pos = at(bytes.len(), *p);
                bytes.splice(pos..pos, b.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

/// The body of one case.
#[derive(Debug, Clone)]
enum Body {
    /// The operation's valid body with 0–4 mutations (0: the success path runs too).
    Mutated(Vec<Mutation>),
    /// Anything at all.
    Raw(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        8 => prop::collection::vec(mutation(), 0..5).prop_map(Body::Mutated),
        1 => prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(b"   ".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"null".to_vec()),
            "\\PC{0,40}".prop_map(String::into_bytes),
        ]
        .prop_map(Body::Raw),
    ]
}

// ---------------------------------------------------------------------------------------------
// The property.

/// Checks one reply: 2xx or 4xx; every reply has a correlation id; a 4xx has Klarna's error body;
/// a 400 is `BAD_REQUEST` (body unusable), `INVALID_ORDER_ID` (an order id that is no UUID) or
/// `BAD_VALUE` naming a field path; a 422 (Order Management's field errors) is
/// `UNPROCESSABLE_ENTITY` or `INVALID_ADDRESS` naming a field path.
fn check_reply(op: Operation, r: &klarna_simulator::Reply) -> Result<(), TestCaseError> {
    let body = String::from_utf8_lossy(&r.body);
    prop_assert!(
        (200..300).contains(&r.status) || (400..500).contains(&r.status),
        "{}: HTTP {} {}",
        op.name(),
        r.status,
        body
    );
    prop_assert!(
        r.header("klarna-correlation-id").is_some(),
        "{}: no correlation id",
        op.name()
    );
    if r.status >= 400 {
        let e: ErrorResponse = serde_json::from_slice(&r.body)
            .map_err(|e| TestCaseError::fail(format!("{}: error body {e}: {body}", op.name())))?;
        let code = e.error_code.clone().unwrap_or_default();
        prop_assert!(!code.is_empty(), "{}: no error_code: {}", op.name(), body);
        prop_assert!(
            !e.messages().is_empty(),
            "{}: no message: {}",
            op.name(),
            body
        );
        if r.status == 400 {
            prop_assert!(
                ["BAD_VALUE", "BAD_REQUEST", "INVALID_ORDER_ID"].contains(&code.as_str()),
                "{}: 400 with {}",
                op.name(),
                code
            );
        }
        if r.status == 422 {
            prop_assert!(
                code == "UNPROCESSABLE_ENTITY" || code == "INVALID_ADDRESS",
                "{}: 422 with {}",
                op.name(),
                code
            );
        }
        if (r.status == 400 || r.status == 422)
            && code != "BAD_REQUEST"
            && code != "INVALID_ORDER_ID"
        {
            let msg = &e.messages()[0];
            let field = msg.strip_prefix("Bad value: ").unwrap_or("");
            prop_assert!(
                !field.is_empty()
                    && field
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')),
                "{}: BAD_VALUE does not name a field: {}",
                op.name(),
                msg
            );
        }
    } else if !r.body.is_empty() && r.header("content-type") == Some("application/json") {
        prop_assert!(
            serde_json::from_slice::<Value>(&r.body).is_ok(),
            "{}: 2xx body is not JSON",
            op.name()
        );
    }
    Ok(())
}

fn run_case(
    op: Operation,
    params: &[Param],
    key: Option<&str>,
    body: &Body,
) -> Result<(), TestCaseError> {
    let w = world();
    let valid = valid_params(op, &w);
    let params: Vec<String> = valid
        .iter()
        .zip(params.iter().chain(std::iter::repeat(&Param::Valid)))
        .map(|(v, p)| match p {
            Param::Valid => v.clone(),
            Param::Random(s) => s.clone(),
        })
        .collect();
    let bytes = match body {
        Body::Mutated(muts) => apply(&valid_body(op), muts),
        Body::Raw(b) => b.clone(),
    };
    let reply = engine().dispatch(op, &params, key, &bytes);
    check_reply(op, &reply)?;
    // The same request again with the same key replays (where the replay policy, pessimistic by
    // default, replays the operation), else runs again: either way the answer obeys the same
    // rules.
    let again = engine().dispatch(op, &params, key, &bytes);
    check_reply(op, &again)?;
    if key.is_some() && engine().replay_policy().replays(op) {
        prop_assert_eq!(again.status, reply.status, "{}: replay differs", op.name());
        prop_assert_eq!(&again.body, &reply.body, "{}: replay differs", op.name());
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (Operation, Vec<Param>, Option<String>, Body)> {
    (
        prop::sample::select(&Operation::ALL[..]),
        prop::collection::vec(param(), 2),
        prop::option::of("[a-z0-9-]{1,40}"),
        body(),
    )
}

proptest! {
    #![proptest_config(Config::with_cases(CASES))]

    /// Batch 1 of 2.
    #[test]
    fn every_operation_answers_malformed_input_with_a_typed_4xx_1((op, params, key, body) in case()) {
        run_case(op, &params, key.as_deref(), &body)?;
    }

    /// Batch 2 of 2.
    #[test]
    fn every_operation_answers_malformed_input_with_a_typed_4xx_2((op, params, key, body) in case()) {
        run_case(op, &params, key.as_deref(), &body)?;
    }
}

#[test]
fn valid_bodies_succeed_and_mutations_are_refused_by_field() {
    // The unmutated seeds really are valid (otherwise the mutation cases would test little).
    for op in [
        Operation::CreateSession,
        Operation::UpdateSession,
        Operation::CreateOrder,
        Operation::Capture,
        Operation::Refund,
        Operation::UpdateMerchantReferences,
        Operation::AddShippingInfo,
    ] {
        let w = world();
        let r = engine().dispatch(
            op,
            &valid_params(op, &w),
            None,
            &serde_json::to_vec(&valid_body(op)).unwrap(),
        );
        assert!(
            (200..300).contains(&r.status),
            "{}: HTTP {}",
            op.name(),
            r.status
        );
    }
    // 2^63 in the amount: refused as a bad value of that field.
    let w = world();
    let bytes = br#"{"captured_amount": 9223372036854775808}"#;
    let r = engine().dispatch(Operation::Capture, &[w.order], None, bytes);
    assert!(r.status == 422, "HTTP {}", r.status);
    check_reply(Operation::Capture, &r).unwrap();
    // A negative quantity names the line field.
    let mut body = session_body("buy");
    body["order_lines"][0]["quantity"] = json!(-1);
    let r = engine().dispatch(
        Operation::CreateSession,
        &[],
        None,
        &serde_json::to_vec(&body).unwrap(),
    );
    let e: ErrorResponse = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.status, 400);
    assert!(
        e.messages()[0].starts_with("Bad value: order_lines[0]."),
        "{:?}",
        e.messages()
    );
}
