//! Fault injection: latency, 5xx, 429 with Retry-After, and dropped answers after the effect.

use std::time::Duration;

use klarna_simulator::{Fault, FaultRule, ReplayPolicy, Simulator, Stats};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn latency_is_visible_through_a_client_timeout() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.sim
        .add_fault(FaultRule::new("orders.get", 1, Fault::Latency { ms: 3000 }));
    let url = ctx.url(&format!("/ordermanagement/v1/orders/{id}"));
    let slow = ctx
        .http
        .get(&url)
        .basic_auth("sim_user", Some("sim_password"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
    // The rule is used up: the next call answers promptly.
    let ok = ctx
        .http
        .get(&url)
        .basic_auth("sim_user", Some("sim_password"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn server_errors_for_the_next_n_calls_then_success() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.sim.add_fault(FaultRule::new(
        "orders.capture",
        2,
        Fault::Status { status: 503 },
    ));
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let body = json!({"captured_amount": 100});
    assert_error(
        &ctx.post_key(&path, &body, "k").await,
        503,
        "TEMPORARILY_UNAVAILABLE",
        "unavailable",
    );
    assert_error(
        &ctx.post_key(&path, &body, "k").await,
        503,
        "TEMPORARILY_UNAVAILABLE",
        "unavailable",
    );
    // Nothing happened during the faults, and the 5xx were not recorded for the key.
    assert_eq!(ctx.order(&id).await["captured_amount"], 0);
    assert_eq!(ctx.post_key(&path, &body, "k").await.status, 201);
    assert_eq!(ctx.order(&id).await["captured_amount"], 100);

    ctx.sim
        .add_fault(FaultRule::new("*", 1, Fault::Status { status: 500 }));
    assert_error(
        &ctx.get(&format!("/ordermanagement/v1/orders/{id}")).await,
        500,
        "INTERNAL_SERVER_ERROR",
        "Internal error",
    );
    assert_eq!(
        ctx.get(&format!("/ordermanagement/v1/orders/{id}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let ctx = Ctx::new().await;
    ctx.sim.add_fault(FaultRule::new(
        "payments.create_session",
        1,
        Fault::RateLimit { retry_after: 7 },
    ));
    let r = ctx
        .post("/payments/v1/sessions", &session_body("buy"))
        .await;
    assert_error(&r, 429, "TOO_MANY_REQUESTS", "Too many");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(
        ctx.post("/payments/v1/sessions", &session_body("buy"))
            .await
            .status,
        200
    );
}

/// P5 with `drop_after_effect`: the order exists, the client saw only a transport error.
async fn dropped_create_order(ctx: &Ctx) -> (String, serde_json::Value) {
    let (_, token, body) = ctx.authorized("buy").await;
    ctx.sim.add_fault(FaultRule::new(
        "payments.create_order",
        1,
        Fault::DropAfterEffect,
    ));
    let url = ctx.url(&format!("/payments/v1/authorizations/{token}/order"));
    let attempt = ctx
        .http
        .post(&url)
        .basic_auth("sim_user", Some("sim_password"))
        .header("Klarna-Idempotency-Key", "drop-1")
        .json(&order_body(&body))
        .send()
        .await;
    // No status line reaches the client: `send` itself fails.
    assert!(
        attempt.is_err(),
        "the client must see a transport error: {attempt:?}"
    );
    assert_eq!(ctx.sim.orders().len(), 1, "the effect happened");
    (token, body)
}

#[tokio::test]
async fn drop_after_effect_loses_the_answer_but_not_the_order() {
    let ctx = Ctx::new().await;
    let (token, body) = dropped_create_order(&ctx).await;
    // Pessimistic by default: a retry with the same key is not replayed, it finds the
    // authorization consumed and cannot learn the order id.
    let retry = ctx
        .post_key(
            &format!("/payments/v1/authorizations/{token}/order"),
            &order_body(&body),
            "drop-1",
        )
        .await;
    assert_error(&retry, 403, "INVALID_OPERATION", "already consumed");
    assert_eq!(ctx.sim.orders().len(), 1);
}

#[tokio::test]
async fn drop_after_effect_is_recovered_by_the_key_when_optimistic() {
    let ctx = Ctx::with(Simulator::builder().replay(ReplayPolicy::Optimistic)).await;
    let (token, body) = dropped_create_order(&ctx).await;
    let retry = ctx
        .post_key(
            &format!("/payments/v1/authorizations/{token}/order"),
            &order_body(&body),
            "drop-1",
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    let orders = ctx.sim.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(retry.body["order_id"], orders[0].order_id.as_str());
}

#[tokio::test]
async fn drop_before_effect_loses_the_answer_and_does_nothing() {
    let ctx = Ctx::new().await;
    ctx.sim
        .add_fault(FaultRule::new("payments.*", 1, Fault::DropBeforeEffect));
    let resp = ctx
        .http
        .post(ctx.url("/payments/v1/sessions"))
        .basic_auth("sim_user", Some("sim_password"))
        .json(&session_body("buy"))
        .send()
        .await;
    let outcome = match resp {
        Ok(r) => r.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err());
    assert_eq!(ctx.sim.engine().population().sessions, 0);
}

#[tokio::test]
async fn faults_are_configured_over_http_and_cleared() {
    let ctx = Ctx::new().await;
    let add = ctx
        .sim_post(
            "/sim/faults",
            &json!([{"operation": "payments.create_session", "times": 3, "fault": {"kind": "status", "status": 500}}]),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.text);
    assert_eq!(add.body["rules"][0]["times"], 3);
    assert_eq!(
        ctx.post("/payments/v1/sessions", &session_body("buy"))
            .await
            .status,
        500
    );
    let list = read(ctx.http.get(ctx.url("/sim/faults")).send().await.unwrap()).await;
    assert_eq!(list.body["rules"][0]["times"], 2);
    let cleared = ctx
        .http
        .delete(ctx.url("/sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(
        ctx.post("/payments/v1/sessions", &session_body("buy"))
            .await
            .status,
        200
    );
    let bad = ctx
        .sim_post(
            "/sim/faults",
            &json!({"operation": "x", "fault": {"kind": "explode"}}),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn stats_count_requests_per_operation() {
    let ctx = Ctx::new().await;
    ctx.sim.add_fault(FaultRule::new(
        "payments.create_session",
        1,
        Fault::Status { status: 503 },
    ));
    ctx.post("/payments/v1/sessions", &session_body("buy"))
        .await;
    ctx.post("/payments/v1/sessions", &session_body("buy"))
        .await;
    ctx.get("/ordermanagement/v1/orders/x").await;
    let stats = ctx.sim.stats();
    assert_eq!(stats.count("payments.create_session"), 2);
    assert_eq!(stats.count("orders.get"), 1);
    assert_eq!(stats.count("orders.capture"), 0);
    let http = read(ctx.http.get(ctx.url("/sim/stats")).send().await.unwrap()).await;
    assert_eq!(http.body["requests"]["payments.create_session"], 2);
}

/// Sends a keyed capture of 100 on a raw connection, and answers the connection (no answer
/// read): dropping it closes the connection, as a killed client's does.
async fn capture_on_raw_connection(ctx: &Ctx, id: &str, key: &str) -> TcpStream {
    use base64::Engine as _;
    let body = r#"{"captured_amount":100}"#;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        ctx.sim.username(),
        ctx.sim.password()
    ));
    let request = format!(
        "POST /ordermanagement/v1/orders/{id}/captures HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nKlarna-Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        ctx.sim.addr(),
        body.len()
    );
    let mut conn = TcpStream::connect(ctx.sim.addr()).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    conn
}

/// Waits (bounded) for the simulator's counters to satisfy `ready`: a notification, not a poll.
async fn stats_when(ctx: &Ctx, what: &str, ready: impl FnMut(&Stats) -> bool) -> Stats {
    tokio::time::timeout(Duration::from_secs(10), ctx.sim.stats_when(ready))
        .await
        .unwrap_or_else(|_| panic!("never: {what}"))
}

#[tokio::test]
async fn a_held_call_whose_client_leaves_is_abandoned_before_its_effect_and_counted() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let op = "orders.capture";
    // Held far longer than the test: only the client leaving can end the hold.
    ctx.sim
        .add_fault(FaultRule::new(op, 1, Fault::Latency { ms: 60_000 }));
    let conn = capture_on_raw_connection(&ctx, &id, "cap-held").await;
    let held = stats_when(&ctx, "the call is held", |s| s.held(op) == 1).await;
    assert_eq!(held.abandoned(op), 0, "{held:?}");
    // The fault was taken when the hold began: clearing the rules now changes nothing.
    ctx.sim.clear_faults();
    drop(conn);
    let after = stats_when(&ctx, "the held call is abandoned", |s| s.abandoned(op) == 1).await;
    assert_eq!((after.count(op), after.held(op)), (1, 1), "{after:?}");
    // Abandoned before its effect: nothing captured, nothing recorded under the key, and the
    // key already left flight (a request with it runs, neither 409 nor a replay).
    assert_eq!(ctx.sim.order(&id).unwrap().captured_amount, 0);
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let body = json!({"captured_amount": 100});
    let again = ctx.post_key(&path, &body, "cap-held").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(ctx.sim.order(&id).unwrap().captured_amount, 100);
    // A hold that ends with its client still there goes on to its effect: held, not abandoned.
    ctx.sim
        .add_fault(FaultRule::new(op, 1, Fault::Latency { ms: 20 }));
    let slow = ctx.post_key(&path, &body, "cap-slow").await;
    assert_eq!(slow.status, 201, "{}", slow.text);
    let stats = ctx.sim.stats();
    assert_eq!((stats.held(op), stats.abandoned(op)), (2, 1), "{stats:?}");
    assert_eq!(ctx.sim.order(&id).unwrap().captured_amount, 200);
    let http = read(ctx.http.get(ctx.url("/sim/stats")).send().await.unwrap()).await;
    assert_eq!(http.body["held"][op], 2);
    assert_eq!(http.body["abandoned"][op], 1);
}
