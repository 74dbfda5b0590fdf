//! Malformed input at both edges of the gateway (reliability.md §5 P1):
//!
//! * answers: a local axum server replies to `KlarnaClient` calls with random statuses, headers
//!   and bodies (mutated Klarna responses, HTML, random bytes, empty, oversized); every call ends
//!   in time with `Ok` only on a 2xx that decodes, else a typed `KlarnaError`, and a malformed
//!   body never shows up in the error;
//! * requests: the CLI's body parser on mutated request bodies lives with it, in
//!   klarna-cli's `tests/malformed.rs`.
//!
//! `PROPTEST_RNG_SEED=<n>` replays a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use klarna_gateway_http::api::{
    CaptureObject, CreateOrderRequest, CustomerTokenCreationRequest, CustomerTokenOrder,
    RefundObject, SessionCreate,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaError, RetryConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

#[path = "../../klarna-api/tests/support/mutate.rs"]
mod mutate;

use mutate::{BODY_CANARY, Mutation, apply, fixture, mutation};

/// Calls per run against the scripted server (each is a real HTTP exchange on loopback).
const CASES_ANSWERS: u32 = 5_000;
/// Response cap of the client under test, so oversized bodies are cheap to produce.
const CAP: usize = 16 * 1024;

fn om_lines() -> Value {
    json!([{"type": "physical", "name": "Socks", "quantity": 2, "unit_price": 5000,
        "tax_rate": 2500, "total_amount": 10000, "total_discount_amount": 0,
        "total_tax_amount": 2000}])
}

// ---------------------------------------------------------------------------------------------
// Answers: a scripted server.

/// The next answer of the scripted server.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

type Slot = Arc<Mutex<Option<Answer>>>;

async fn scripted(slot: Slot) -> Response {
    let answer = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or(Answer {
            status: 500,
            headers: vec![],
            body: vec![],
        });
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .append(HeaderName::from_static(name), v);
        }
    }
    response
}

/// The operations exercised, each a call with fixed arguments returning `Ok(status)` or the
/// error.
#[derive(Debug, Clone, Copy)]
enum Call {
    CreateSession,
    ReadSession,
    CreateOrder,
    CreateCustomerToken,
    ReadCustomerToken,
    TokenOrder,
    CancelToken,
    GetOrder,
    Capture,
    ListCaptures,
    Refund,
    CancelOrder,
}

const CALLS: &[Call] = &[
    Call::CreateSession,
    Call::ReadSession,
    Call::CreateOrder,
    Call::CreateCustomerToken,
    Call::ReadCustomerToken,
    Call::TokenOrder,
    Call::CancelToken,
    Call::GetOrder,
    Call::Capture,
    Call::ListCaptures,
    Call::Refund,
    Call::CancelOrder,
];

/// A seed answer body for the call's model, so mutations land close to valid.
fn answer_seed(call: Call) -> Value {
    match call {
        Call::CreateSession => fixture("create_session.response.json"),
        Call::ReadSession => fixture("read_session.response.json"),
        Call::CreateOrder => fixture("create_order.response.json"),
        Call::CreateCustomerToken => fixture("customer_token.response.json"),
        Call::TokenOrder => fixture("token_order.response.json"),
        Call::ReadCustomerToken => json!({"status": "ACTIVE", "payment_method_type": "INVOICE"}),
        Call::GetOrder => json!({"order_id": "o-1", "status": "AUTHORIZED",
            "order_amount": 10000, "captured_amount": 0, "refunded_amount": 0,
            "remaining_authorized_amount": 10000, "order_lines": om_lines()}),
        Call::ListCaptures => json!([{"capture_id": "c-1", "captured_amount": 10000}]),
        Call::CancelToken | Call::Capture | Call::Refund | Call::CancelOrder => json!({}),
    }
}

async fn call(client: &KlarnaClient, call: Call) -> Result<u16, KlarnaError> {
    let session = || fixture("create_session.request.json");
    Ok(match call {
        Call::CreateSession => {
            let body: SessionCreate = serde_json::from_value(session()).unwrap();
            client.create_session(&body, None).await?.status
        }
        Call::ReadSession => client.read_session("s-1").await?.status,
        Call::CreateOrder => {
            let body: CreateOrderRequest =
                serde_json::from_value(fixture("create_order.request.json")).unwrap();
            client.create_order("auth-1", &body, None).await?.status
        }
        Call::CreateCustomerToken => {
            let body: CustomerTokenCreationRequest =
                serde_json::from_value(fixture("customer_token.request.json")).unwrap();
            client
                .create_customer_token("auth-1", &body, None)
                .await?
                .status
        }
        Call::ReadCustomerToken => client.read_customer_token("ct-1").await?.status,
        Call::TokenOrder => {
            let body: CustomerTokenOrder =
                serde_json::from_value(fixture("token_order.request.json")).unwrap();
            client.create_token_order("ct-1", &body, None).await?.status
        }
        Call::CancelToken => client.cancel_customer_token("ct-1", None).await?.status,
        Call::GetOrder => client.get_order("o-1").await?.status,
        Call::Capture => {
            let body = CaptureObject {
                captured_amount: 100,
                ..CaptureObject::default()
            };
            client.capture_order("o-1", &body, None).await?.status
        }
        Call::ListCaptures => client.list_captures("o-1").await?.status,
        Call::Refund => {
            let body = RefundObject {
                refunded_amount: 100,
                ..RefundObject::default()
            };
            client.refund_order("o-1", &body, None).await?.status
        }
        Call::CancelOrder => client.cancel_order("o-1", None).await?.status,
    })
}

#[derive(Debug, Clone)]
enum AnswerBody {
    Mutated(Vec<Mutation>),
    Raw(Vec<u8>),
    Oversized(usize),
}

fn answer_body() -> impl Strategy<Value = AnswerBody> {
    prop_oneof![
        6 => prop::collection::vec(mutation(), 0..4).prop_map(AnswerBody::Mutated),
        2 => prop_oneof![
            Just(Vec::new()),
            Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
            Just(format!("{{\"error_code\":\"X\",\"error_messages\":[\"{BODY_CANARY}\"]").into_bytes()),
            Just(format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
        .prop_map(AnswerBody::Raw),
        1 => (CAP + 1..CAP * 4).prop_map(AnswerBody::Oversized),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => prop::sample::select(&[200u16, 201, 202, 204][..]),
        4 => prop::sample::select(
            &[301u16, 302, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504][..]
        ),
        1 => 200u16..600,
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let content_type = prop::option::of(prop::sample::select(
        &[
            "application/json",
            "application/json; charset=utf-8",
            "text/html",
            "",
            "x/y",
        ][..],
    ));
    let retry_after = prop::option::of(prop_oneof![
        Just("1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("-5".to_owned()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        "\\PC{0,10}",
    ]);
    let ids = prop::option::of(prop_oneof![
        Just("c-1".to_owned()),
        Just(String::new()),
        Just("x".repeat(5000)),
        "[ -~]{0,40}",
    ]);
    (content_type, retry_after, ids.clone(), ids.clone(), ids).prop_map(
        |(ct, ra, correlation, capture, location)| {
            let mut h = Vec::new();
            if let Some(ct) = ct {
                h.push(("content-type", ct.to_owned()));
            }
            if let Some(ra) = ra {
                h.push(("retry-after", ra));
            }
            if let Some(c) = correlation {
                h.push(("klarna-correlation-id", c));
            }
            if let Some(c) = capture {
                h.push(("capture-id", c.clone()));
                h.push(("refund-id", c));
            }
            if let Some(l) = location {
                h.push(("location", l));
            }
            h
        },
    )
}

#[test]
fn every_answer_ends_in_time_as_ok_on_2xx_or_a_typed_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let slot: Slot = Arc::default();
    let base_url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = Arc::clone(&slot);
        let app = axum::Router::new().fallback(move || scripted(Arc::clone(&s)));
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    });
    let client = KlarnaClient::builder(Credentials::new("user", "password"))
        .base_url(base_url)
        .retry(RetryConfig::none())
        .max_response_bytes(CAP)
        .total_timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let strategy = (
        prop::sample::select(CALLS),
        status(),
        headers(),
        answer_body(),
    );
    // A manual runner (the server and client live outside the case closure): no regression file;
    // a failure prints the minimal case, and PROPTEST_RNG_SEED replays it.
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::with_cases(CASES_ANSWERS)
    });
    let outcomes = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    let result = runner.run(&strategy, |(which, status, headers, body)| {
        let bytes = match &body {
            AnswerBody::Mutated(muts) => {
                let mut v = apply(&answer_seed(which), muts);
                if let Value::Object(o) = &mut v {
                    o.insert("planted".to_owned(), json!(BODY_CANARY));
                }
                serde_json::to_vec(&v).unwrap()
            }
            AnswerBody::Raw(b) => b.clone(),
            AnswerBody::Oversized(n) => {
                let mut b = format!("{{\"x\":\"{BODY_CANARY}").into_bytes();
                b.resize(*n, b'a');
                b
            }
        };
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Answer {
            status,
            headers,
            body: bytes,
        });
        let outcome = runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), call(&client, which)).await
            })
            .map_err(|_| TestCaseError::fail(format!("{which:?}: no answer in 10 s")))?;
        match outcome {
            Ok(got) => {
                prop_assert!(
                    (200..300).contains(&status),
                    "{:?}: Ok on HTTP {}",
                    which,
                    status
                );
                prop_assert_eq!(got, status);
                *outcomes.borrow_mut().entry("ok".to_owned()).or_default() += 1;
            }
            Err(e) => {
                let shown = format!("{e} {e:?}");
                prop_assert!(!e.to_string().is_empty());
                if let KlarnaError::MalformedResponse { .. }
                | KlarnaError::ResponseTooLarge { .. } = &e
                {
                    prop_assert!(
                        !shown.contains(BODY_CANARY),
                        "{:?}: body in error: {}",
                        which,
                        shown
                    );
                }
                if let Some(s) = e.status() {
                    prop_assert_eq!(s, status, "{:?}: wrong status in {}", which, shown);
                }
                if matches!(e, KlarnaError::Api { .. }) {
                    prop_assert!(
                        !(200..300).contains(&status),
                        "{:?}: Api error on {}",
                        which,
                        status
                    );
                }
                let kind = format!("{e:?}");
                let kind = kind
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                *outcomes.borrow_mut().entry(kind).or_default() += 1;
                let _ = e.action();
                let _ = e.may_have_reached_klarna();
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let outcomes = outcomes.into_inner();
    eprintln!("answer outcomes: {outcomes:?}");
    // The run reached each kind of result (so the properties above were exercised).
    for kind in ["ok", "Api", "MalformedResponse", "ResponseTooLarge"] {
        assert!(
            outcomes.contains_key(kind),
            "no {kind} outcome in {outcomes:?}"
        );
    }
}
