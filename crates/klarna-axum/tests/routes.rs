//! Every endpoint of `KlarnaRoutes` through `oneshot`, against the facade over the in-process simulator: the happy paths, and each refusal with its status, its code, and proof that nothing happened.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use klarna_axum::{ApiError, KlarnaRoutes, PAYMENT_SECRET_HEADER, RoutesConfig};
use klarna_payments::simulator::{FraudDecision, ShopperDecision, Simulator};
use klarna_payments::{
    AnyPayment, InMemoryStore, Klarna, KlarnaBuilder, PaymentId, SequentialKeys, StageKind,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const CALLBACK_SECRET: &str = "test-callback-secret-000000001";
const SHOP: &str = "https://shop.example";

struct Fixture {
    sim: Simulator,
    store: Arc<InMemoryStore>,
    klarna: Arc<Klarna>,
    routes: KlarnaRoutes,
}

async fn fixture_with(config: RoutesConfig) -> Fixture {
    let sim = Simulator::start().await.unwrap();
    let store = Arc::new(InMemoryStore::new());
    let klarna = Arc::new(
        KlarnaBuilder::new()
            .simulator(&sim)
            .store(store.clone())
            .keys(Arc::new(SequentialKeys::new("t")))
            .build()
            .await
            .unwrap(),
    );
    let routes = KlarnaRoutes::new(klarna.clone(), config);
    Fixture {
        sim,
        store,
        klarna,
        routes,
    }
}

fn config() -> RoutesConfig {
    RoutesConfig::new([9u8; 32], CALLBACK_SECRET)
        .unwrap()
        .allowed_origins([SHOP])
        .unwrap()
}

async fn fixture() -> Fixture {
    fixture_with(config()).await
}

fn cart() -> Value {
    json!({
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_lines": [{"name": "Trail shoe", "quantity": 1, "unit_price": 89_900, "tax_rate": 2_500}]
    })
}

fn subscription_cart() -> Value {
    json!({
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_lines": [{"name": "Coffee", "quantity": 1, "unit_price": 14_900, "tax_rate": 1_200,
            "subscription": {"name": "Coffee", "interval": "MONTH", "interval_count": 1}}]
    })
}

fn json_request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
}

/// Sends one request and answers the status and the JSON body (`Null` when empty).
async fn send(app: Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

async fn post(f: &Fixture, uri: &str, body: &Value, secret: Option<&str>) -> (StatusCode, Value) {
    let mut b = json_request("POST", uri);
    if let Some(s) = secret {
        b = b.header(PAYMENT_SECRET_HEADER, s);
    }
    send(
        f.routes.router(),
        b.body(Body::from(body.to_string())).unwrap(),
    )
    .await
}

async fn start(f: &Fixture, intent: &str, cart: Value) -> Value {
    let (status, body) = post(
        f,
        "/payments",
        &json!({"intent": intent, "cart": cart}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn approve(f: &Fixture, started: &Value) -> String {
    f.sim
        .authorize(
            started["session_id"].as_str().unwrap(),
            ShopperDecision::approve(),
        )
        .unwrap()
        .authorization_token
        .unwrap()
}

async fn payment(f: &Fixture, started: &Value) -> AnyPayment {
    f.klarna
        .payment(&PaymentId::new(started["payment_id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
}

/// The browser posts the shopper's authorization token with the payment's secret.
async fn complete(f: &Fixture, started: &Value, token: &str) -> (StatusCode, Value) {
    let secret = started["payment_secret"].as_str().unwrap();
    post(
        f,
        &complete_uri(started),
        &json!({"authorization_token": token}),
        Some(secret),
    )
    .await
}

fn complete_uri(started: &Value) -> String {
    format!(
        "/payments/{}/complete",
        started["payment_id"].as_str().unwrap()
    )
}

fn klarna_requests(f: &Fixture) -> u64 {
    f.sim.stats().requests.values().sum()
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_purchase_start_update_complete_once() {
    let f = fixture().await;
    let (status, started) = post(
        &f,
        "/payments",
        &json!({"intent": "buy", "cart": cart(), "merchant": {"order_number": "SO-1"}}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    for field in ["payment_id", "session_id", "client_token", "payment_secret"] {
        assert!(
            started[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {started}"
        );
    }
    assert!(started["payment_method_categories"].is_array(), "{started}");
    let secret = started["payment_secret"].as_str().unwrap().to_owned();
    let id = started["payment_id"].as_str().unwrap().to_owned();

    // The shopper adds a second pair before authorizing.
    let mut bigger = cart();
    bigger["order_lines"][0]["quantity"] = json!(2);
    let req = json_request("PUT", &format!("/payments/{id}/cart"))
        .header(PAYMENT_SECRET_HEADER, &secret)
        .body(Body::from(json!({"cart": bigger}).to_string()))
        .unwrap();
    let (status, updated) = send(f.routes.router(), req).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["stage"], "open", "{updated}");
    assert_eq!(payment(&f, &started).await.cart().total().minor(), 179_800);

    let token = approve(&f, &started);
    let body = json!({"authorization_token": token});
    let (status, done) = post(&f, &complete_uri(&started), &body, Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["stage"], "ordered", "{done}");
    assert_eq!(done["payment_id"], id.as_str());
    assert_eq!(done["tokenized"], false);
    let orders = f.sim.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(done["order_id"], orders[0].order_id.as_str(), "{done}");
    assert_eq!(orders[0].order_amount, 179_800);
    assert!(!done.to_string().contains(&token), "no token in {done}");

    // A double click answers the same order and places no second one.
    let (status, again) = post(&f, &complete_uri(&started), &body, Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["order_id"], done["order_id"]);
    assert_eq!(f.sim.orders().len(), 1);
    assert_eq!(f.sim.stats().count("payments.create_order"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenize_answers_no_customer_token() {
    let f = fixture().await;
    let started = start(&f, "tokenize", subscription_cart()).await;
    let secret = started["payment_secret"].as_str().unwrap();
    let token = approve(&f, &started);
    let (status, done) = post(
        &f,
        &complete_uri(&started),
        &json!({"authorization_token": token}),
        Some(secret),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["stage"], "tokenized", "{done}");
    assert_eq!(done["tokenized"], true, "{done}");
    assert!(done.get("order_id").is_none(), "{done}");
    let stored = payment(&f, &started).await;
    let customer_token = stored.customer_token().unwrap().expose_secret().to_owned();
    assert!(!done.to_string().contains(&customer_token), "{done}");
    assert!(f.sim.orders().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_payment_secret_changes_nothing() {
    let f = fixture().await;
    let started = start(&f, "buy", cart()).await;
    let other = start(&f, "buy", cart()).await;
    let token = approve(&f, &started);
    let body = json!({"authorization_token": token});
    let before = payment(&f, &started).await;
    let requests = klarna_requests(&f);

    let (status, e) = post(&f, &complete_uri(&started), &body, None).await;
    assert_error(status, &e, StatusCode::UNAUTHORIZED, "missing_secret");
    let (status, e) = post(&f, &complete_uri(&started), &body, Some("00ff")).await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "bad_secret");
    // Another payment's secret is no key to this one.
    let foreign = other["payment_secret"].as_str().unwrap();
    let (status, e) = post(&f, &complete_uri(&started), &body, Some(foreign)).await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "bad_secret");
    let uri = format!("/payments/{}/cart", started["payment_id"].as_str().unwrap());
    let req = json_request("PUT", &uri)
        .header(PAYMENT_SECRET_HEADER, foreign)
        .body(Body::from(json!({"cart": cart()}).to_string()))
        .unwrap();
    let (status, e) = send(f.routes.router(), req).await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "bad_secret");

    assert_eq!(payment(&f, &started).await, before);
    assert_eq!(klarna_requests(&f), requests, "nothing reached Klarna");
    assert!(f.sim.orders().is_empty());
    assert!(!e.to_string().contains(foreign), "no secret echoed: {e}");
}

fn callback(path: &str, secret: Option<&str>, body: &Value) -> Request<Body> {
    let uri = match secret {
        Some(s) => format!("{path}?secret={s}"),
        None => path.to_owned(),
    };
    json_request("POST", &uri)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_callback_is_refused_and_changes_nothing() {
    let f = fixture().await;
    let started = start(&f, "buy", cart()).await;
    let token = approve(&f, &started);
    let body = json!({"authorization_token": token, "session_id": started["session_id"]});
    let before = payment(&f, &started).await;
    let requests = klarna_requests(&f);

    let forged = callback(
        "/callbacks/authorization",
        Some("test-callback-secret-000000002"),
        &body,
    );
    let (status, e) = send(f.routes.router(), forged).await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "bad_secret");
    let (status, e) = send(
        f.routes.router(),
        callback("/callbacks/authorization", None, &body),
    )
    .await;
    assert_error(status, &e, StatusCode::UNAUTHORIZED, "missing_secret");
    let note = json!({"order_id": "4a6e7a4c-0000-4000-8000-000000000000", "event_type": "FRAUD_RISK_ACCEPTED"});
    let (status, e) = send(
        f.routes.router(),
        callback("/callbacks/notification", Some("wrong"), &note),
    )
    .await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "bad_secret");

    assert_eq!(payment(&f, &started).await, before);
    assert_eq!(payment(&f, &started).await.kind(), StageKind::Open);
    assert_eq!(klarna_requests(&f), requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_callback_changes_nothing() {
    let f = fixture().await;
    let started = start(&f, "buy", cart()).await;
    let token = approve(&f, &started);
    let body = json!({"authorization_token": token, "session_id": started["session_id"]});

    let auth = || callback("/callbacks/authorization", Some(CALLBACK_SECRET), &body);
    let (status, _) = send(f.routes.router(), auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let recorded = payment(&f, &started).await;
    assert_eq!(recorded.kind(), StageKind::Authorized);
    let (status, _) = send(f.routes.router(), auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        payment(&f, &started).await,
        recorded,
        "the replay changed nothing"
    );

    // The browser completes with the same token; a late callback still changes nothing.
    let (status, done) = complete(&f, &started, &token).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let ordered = payment(&f, &started).await;
    let (status, _) = send(f.routes.router(), auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(payment(&f, &started).await, ordered);
    assert_eq!(f.sim.orders().len(), 1);

    // Klarna stops the order; its notification, and a repeat of it, make the payment stopped.
    let order_id = done["order_id"].as_str().unwrap();
    f.sim
        .resolve_fraud(order_id, FraudDecision::Stopped)
        .unwrap();
    let note = json!({"order_id": order_id, "event_type": "FRAUD_RISK_STOPPED"});
    let notify = || callback("/callbacks/notification", Some(CALLBACK_SECRET), &note);
    let (status, _) = send(f.routes.router(), notify()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stopped = payment(&f, &started).await;
    assert_eq!(stopped.kind(), StageKind::Stopped);
    let (status, _) = send(f.routes.router(), notify()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(payment(&f, &started).await, stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_are_refused_before_anything_happens() {
    let f = fixture().await;
    // What an HTML form on another site sends.
    let form = Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(Body::from("intent=buy"))
        .unwrap();
    let (status, e) = send(f.routes.router(), form).await;
    // The origin is checked first: a foreign page is refused whatever it sends.
    assert_error(status, &e, StatusCode::FORBIDDEN, "forbidden_origin");
    let form = Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "text/plain")
        .body(Body::from(
            json!({"intent": "buy", "cart": cart()}).to_string(),
        ))
        .unwrap();
    let (status, e) = send(f.routes.router(), form).await;
    assert_error(
        status,
        &e,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let form = Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("intent=buy"))
        .unwrap();
    let (status, e) = send(f.routes.router(), form).await;
    assert_error(
        status,
        &e,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let body = json!({"intent": "buy", "cart": cart()});
    let foreign = json_request("POST", "/payments")
        .header("origin", "https://evil.example")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, e) = send(f.routes.router(), foreign).await;
    assert_error(status, &e, StatusCode::FORBIDDEN, "forbidden_origin");
    assert!(f.store.is_empty(), "nothing stored");
    assert_eq!(klarna_requests(&f), 0, "nothing sent to Klarna");

    let own = json_request("POST", "/payments")
        .header("origin", SHOP)
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, started) = send(f.routes.router(), own).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(f.store.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_and_nothing_is_stored() {
    let f = fixture_with(config().body_limit(2_048)).await;
    let mut huge = cart();
    huge["order_lines"][0]["name"] = json!("x".repeat(4_096));
    let (status, e) = post(
        &f,
        "/payments",
        &json!({"intent": "buy", "cart": huge}),
        None,
    )
    .await;
    assert_error(
        status,
        &e,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(f.store.is_empty());
    assert_eq!(klarna_requests(&f), 0);
    // Under the limit it goes through.
    start(&f, "buy", cart()).await;
    assert_eq!(f.store.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_invalid_input_names_what_is_wrong() {
    let f = fixture().await;
    let raw = |text: &'static str| {
        Request::builder()
            .method("POST")
            .uri("/payments")
            .header("content-type", "application/json")
            .body(Body::from(text))
            .unwrap()
    };
    let (status, e) = send(f.routes.router(), raw("{\"intent\": \"buy\", ")).await;
    assert_error(status, &e, StatusCode::BAD_REQUEST, "malformed_json");
    let (status, e) = send(f.routes.router(), raw("{\"intent\": buy}")).await;
    assert_error(status, &e, StatusCode::BAD_REQUEST, "malformed_json");
    assert!(e["message"].as_str().unwrap().contains("line 1"), "{e}");

    let cases = [
        (json!({"intent": "buy"}), "malformed_json", "cart"),
        (
            json!({"intent": "buy", "cart": {"purchase_country": "SE", "purchase_currency": "SEK", "order_lines": []}}),
            "malformed_json",
            "cart.locale",
        ),
        (
            {
                let mut c = cart();
                c["order_lines"][0]["quantity"] = json!("one");
                json!({"intent": "buy", "cart": c})
            },
            "malformed_json",
            "cart.order_lines[0].quantity",
        ),
        (
            json!({"intent": "rent", "cart": cart()}),
            "invalid_input",
            "intent",
        ),
        (
            {
                let mut c = cart();
                c["order_lines"][0]["tax_rate"] = json!(20_000);
                json!({"intent": "buy", "cart": c})
            },
            "invalid_input",
            "cart.order_lines[0].tax_rate",
        ),
        (
            {
                let mut c = cart();
                c["order_lines"][0]["total_amount"] = json!(1);
                json!({"intent": "buy", "cart": c})
            },
            "invalid_input",
            "cart.order_lines[0].total_amount",
        ),
        (
            {
                let mut c = cart();
                c["purchase_currency"] = json!("XYZ");
                json!({"intent": "buy", "cart": c})
            },
            "invalid_input",
            "cart.purchase_currency",
        ),
        (
            json!({"intent": "buy", "cart": {"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE", "order_lines": []}}),
            "invalid_input",
            "cart.order_lines",
        ),
        (
            json!({"intent": "tokenize", "cart": cart()}),
            "invalid_input",
            "cart.order_lines",
        ),
    ];
    for (body, code, field) in cases {
        let (status, e) = post(&f, "/payments", &body, None).await;
        assert_error(status, &e, StatusCode::BAD_REQUEST, code);
        assert_eq!(e["field"], field, "{body} -> {e}");
    }

    // A token in a field of the wrong type is not echoed.
    let started = start(&f, "buy", cart()).await;
    let secret = started["payment_secret"].as_str().unwrap();
    let (status, e) = post(
        &f,
        &complete_uri(&started),
        &json!({"authorization_token": ["secret-token-value"]}),
        Some(secret),
    )
    .await;
    assert_error(status, &e, StatusCode::BAD_REQUEST, "malformed_json");
    assert_eq!(e["field"], "authorization_token", "{e}");
    assert!(!e.to_string().contains("secret-token-value"), "{e}");

    assert_eq!(f.store.len(), 1, "only the valid payment is stored");
    assert_eq!(f.sim.stats().count("payments.create_session"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payment_is_not_found() {
    let f = fixture().await;
    let unknown = PaymentId::new("t-no-such-payment").unwrap();
    let secret = f.routes.config().payment_secret(&unknown);
    let (status, e) = post(
        &f,
        "/payments/t-no-such-payment/complete",
        &json!({"authorization_token": "tok"}),
        Some(&secret),
    )
    .await;
    assert_error(status, &e, StatusCode::NOT_FOUND, "not_found");
    let req = json_request("PUT", "/payments/t-no-such-payment/cart")
        .header(PAYMENT_SECRET_HEADER, &secret)
        .body(Body::from(json!({"cart": cart()}).to_string()))
        .unwrap();
    let (status, e) = send(f.routes.router(), req).await;
    assert_error(status, &e, StatusCode::NOT_FOUND, "not_found");
    let body = json!({"authorization_token": "tok", "session_id": "no-such-session"});
    let (status, e) = send(
        f.routes.router(),
        callback("/callbacks/authorization", Some(CALLBACK_SECRET), &body),
    )
    .await;
    assert_error(status, &e, StatusCode::NOT_FOUND, "not_found");
    assert!(f.store.is_empty());
    assert_eq!(klarna_requests(&f), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_nests_under_a_path() {
    let f = fixture().await;
    let app = Router::new().nest("/klarna", f.routes.router());
    let body = json!({"intent": "buy", "cart": cart()});
    let req = json_request("POST", "/klarna/payments")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, started) = send(app, req).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let urls = f
        .routes
        .config()
        .merchant_urls("https://shop.example/klarna/");
    assert_eq!(
        urls.authorization.as_deref(),
        Some(
            "https://shop.example/klarna/callbacks/authorization?secret=test-callback-secret-000000001"
        )
    );
}

/// An order under fraud review: the notifications Klarna sends when it decides (accepted,
/// rejected) move the payment, and a repeat moves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_notifications_accept_or_reject_a_pending_order() {
    let f = fixture().await;
    for (decision, event, stage) in [
        (
            FraudDecision::Accepted,
            "FRAUD_RISK_ACCEPTED",
            StageKind::Ordered,
        ),
        (
            FraudDecision::Rejected,
            "FRAUD_RISK_REJECTED",
            StageKind::Cancelled,
        ),
    ] {
        let started = start(&f, "buy", cart()).await;
        let pending = ShopperDecision {
            fraud_status: Some("PENDING".to_owned()),
            ..ShopperDecision::approve()
        };
        let token = f
            .sim
            .authorize(started["session_id"].as_str().unwrap(), pending)
            .unwrap()
            .authorization_token
            .unwrap();
        let (status, done) = complete(&f, &started, &token).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["stage"], "fraud_review", "{done}");
        assert_eq!(done["fraud_status"], "PENDING", "{done}");

        let order_id = done["order_id"].as_str().unwrap();
        f.sim.resolve_fraud(order_id, decision).unwrap();
        let note = json!({"order_id": order_id, "event_type": event});
        for _ in 0..2 {
            let (status, body) = send(
                f.routes.router(),
                callback("/callbacks/notification", Some(CALLBACK_SECRET), &note),
            )
            .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
            assert_eq!(payment(&f, &started).await.kind(), stage, "{event}");
        }
    }
}

/// A category that needs `finalize()` (pay now with `auto_finalize: false`): the browser
/// finalizes at Klarna, then posts the token like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalized_authorization_completes_like_any_other() {
    let f = fixture().await;
    let started = start(&f, "buy", cart()).await;
    let session = started["session_id"].as_str().unwrap();
    let step = ShopperDecision {
        payment_method_category: Some("pay_now".to_owned()),
        auto_finalize: Some(false),
        ..ShopperDecision::approve()
    };
    let first = f.sim.authorize(session, step).unwrap();
    assert!(first.finalize_required && first.authorization_token.is_none());
    let token = f
        .sim
        .finalize(session, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let (status, done) = complete(&f, &started, &token).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["stage"], "ordered", "{done}");
    assert_eq!(f.sim.orders().len(), 1);
}

/// The merchant's cart check holds the browser's prices to the catalog: a tampered price is
/// refused by name before anything reaches Klarna or the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_check_refuses_a_tampered_price() {
    let mut f = fixture().await;
    f.routes = f.routes.clone().cart_check(|cart| {
        for (i, line) in cart.lines().iter().enumerate() {
            if line.name() == "Trail shoe" && line.unit_price() != 89_900 {
                return Err(klarna_axum::ApiError::InvalidInput {
                    field: format!("cart.order_lines[{i}].unit_price"),
                    message: "is not the catalog's price".to_owned(),
                });
            }
        }
        Ok(())
    });
    let mut cheap = cart();
    cheap["order_lines"][0]["unit_price"] = json!(100);
    let (status, e) = post(
        &f,
        "/payments",
        &json!({"intent": "buy", "cart": cheap}),
        None,
    )
    .await;
    assert_error(status, &e, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(e["field"], "cart.order_lines[0].unit_price", "{e}");
    assert!(f.store.is_empty());
    assert_eq!(klarna_requests(&f), 0);

    let started = start(&f, "buy", cart()).await;
    let before = payment(&f, &started).await;
    let uri = format!("/payments/{}/cart", started["payment_id"].as_str().unwrap());
    let req = json_request("PUT", &uri)
        .header(
            PAYMENT_SECRET_HEADER,
            started["payment_secret"].as_str().unwrap(),
        )
        .body(Body::from(json!({"cart": cheap}).to_string()))
        .unwrap();
    let (status, e) = send(f.routes.router(), req).await;
    assert_error(status, &e, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(payment(&f, &started).await, before);
    assert_eq!(f.sim.stats().count("payments.update_session"), 0);
}

/// The in-flight bound holds across routes: with one request in flight (its body still
/// arriving), a second one to another route waits for it, then runs. Polled by hand, so
/// nothing here depends on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_bound_wait_their_turn() {
    use futures::{SinkExt as _, poll};

    for (bound, second_waits) in [(1, true), (2, false)] {
        let f = fixture_with(config().max_in_flight(bound)).await;
        let app = f.routes.router();
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        let slow = json_request("POST", "/payments")
            .body(Body::from_stream(rx))
            .unwrap();
        let mut first = Box::pin(app.clone().oneshot(slow));
        assert!(
            poll!(&mut first).is_pending(),
            "the first waits for its body"
        );

        // Refused at once (no JSON content type) when it gets to run.
        let quick = Request::builder()
            .method("POST")
            .uri("/callbacks/notification?secret=x")
            .body(Body::empty())
            .unwrap();
        let mut second = Box::pin(app.clone().oneshot(quick));
        let early = match poll!(&mut second) {
            std::task::Poll::Ready(res) => Some(res.unwrap().status()),
            std::task::Poll::Pending => None,
        };
        assert_eq!(early.is_none(), second_waits, "bound {bound}");

        tx.send(Ok(b"{".to_vec())).await.unwrap();
        drop(tx);
        let res = first.await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let status = match early {
            Some(status) => status,
            None => second.await.unwrap().status(),
        };
        assert_eq!(status, StatusCode::FORBIDDEN, "bound {bound}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_completion_step_runs_on_every_completion_and_its_error_is_the_answer() {
    use std::sync::Mutex;

    let mut f = fixture().await;
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let fail_first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (record, fail) = (seen.clone(), fail_first.clone());
    f.routes = f.routes.on_complete(move |id, done| {
        let (record, fail) = (record.clone(), fail.clone());
        async move {
            record
                .lock()
                .unwrap()
                .push((id.to_string(), done.token().is_some()));
            if fail.swap(false, std::sync::atomic::Ordering::SeqCst) {
                return Err(ApiError::invalid("subscription", "first charge refused"));
            }
            Ok(())
        }
    });
    let started = start(&f, "tokenize", subscription_cart()).await;
    let token = approve(&f, &started);
    let (status, body) = complete(&f, &started, &token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(body["field"], "subscription", "{body}");
    // The completion is recorded even though the step failed: the retry completes nothing
    // twice, and the step runs again with the same customer token.
    let stored = payment(&f, &started).await;
    assert_eq!(stored.kind(), klarna_payments::StageKind::Tokenized);
    let (status, body) = complete(&f, &started, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = started["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(id.clone(), true), (id, true)],
        "the step saw both calls, each with the customer token"
    );
    assert_eq!(
        f.sim.stats().count("payments.create_customer_token"),
        1,
        "one customer token for the two calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_payment_completes_and_the_browser_cannot_start_one() {
    use klarna_payments::{Cart, Intent, Market, OrderLine, Purchase};

    let mut f = fixture().await;
    f.routes = f.routes.without_browser_start();
    let (status, _) = post(
        &f,
        "/payments",
        &json!({"intent": "buy", "cart": cart()}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no browser start");
    assert_eq!(klarna_requests(&f), 0, "nothing reached Klarna");
    // The shop starts the payment from its catalog and puts the secret into its page.
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 1, 50_000)
        .tax_rate(2_500)
        .build()
        .unwrap();
    let purchase = Purchase::new(Intent::Buy, Cart::new(market, vec![line]).unwrap()).unwrap();
    let c = f.klarna.start_checkout(purchase).await.unwrap();
    let started = json!({
        "payment_id": c.payment_id.to_string(),
        "session_id": c.session_id.to_string(),
        "payment_secret": f.routes.config().payment_secret(&c.payment_id),
    });
    let token = approve(&f, &started);
    let (status, done) = complete(&f, &started, &token).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["stage"], "ordered", "{done}");
    assert_eq!(payment(&f, &started).await.kind(), StageKind::Ordered);
}
