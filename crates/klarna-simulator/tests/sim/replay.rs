//! The replay policy (pessimistic by default, optimistic on request), keys in flight answered
//! `409 CONFLICT`, and answers held after the effect (`latency_after_effect`).

use std::future::Future;
use std::time::{Duration, Instant};

use klarna_simulator::{Fault, FaultRule, ReplayPolicy, Simulator};
use serde_json::{Value, json};

use crate::common::*;

/// A keyed POST that can run on its own task while the test sends others.
fn keyed_post(
    ctx: &Ctx,
    path: &str,
    body: &Value,
    key: &str,
) -> impl Future<Output = Resp> + Send + 'static + use<> {
    let req = ctx
        .http
        .post(ctx.url(path))
        .basic_auth(ctx.sim.username(), Some(ctx.sim.password()))
        .header("Klarna-Idempotency-Key", key)
        .json(body);
    async move { read(req.send().await.unwrap()).await }
}

/// Waits (up to 10 s) until `cond` holds: the first request of a test has reached its effect.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn payments_calls_run_again_under_the_same_key_by_default() {
    let ctx = Ctx::new().await;
    assert_eq!(ctx.sim.replay_policy(), ReplayPolicy::Pessimistic);
    // P1: two sessions.
    let a = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "p1")
        .await;
    let b = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "p1")
        .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_ne!(a.body["session_id"], b.body["session_id"]);
    assert_eq!(ctx.sim.engine().population().sessions, 2);
    // P6 (tokenize): the repeat finds the authorization consumed.
    let (_, token, _) = ctx.authorized("tokenize").await;
    let path = format!("/payments/v1/authorizations/{token}/customer-token");
    let t1 = ctx.post_key(&path, &customer_token_body(), "p6").await;
    assert_eq!(t1.status, 200, "{}", t1.text);
    let t2 = ctx.post_key(&path, &customer_token_body(), "p6").await;
    assert_error(&t2, 403, "INVALID_OPERATION", "already consumed");
    assert_eq!(ctx.sim.engine().population().customer_tokens, 1);
    // P4: the repeat finds the authorization gone.
    let (_, token, _) = ctx.authorized("buy").await;
    let path = format!("/payments/v1/authorizations/{token}");
    let d1 = ctx
        .send(reqwest::Method::DELETE, &path, None, Some("p4"))
        .await;
    let d2 = ctx
        .send(reqwest::Method::DELETE, &path, None, Some("p4"))
        .await;
    assert_eq!(d1.status, 204);
    assert_error(&d2, 404, "NOT_FOUND", "Invalid authorization token");
    assert_eq!(ctx.sim.engine().population().idempotency_entries, 0);
}

#[tokio::test]
async fn optimistic_replays_payments_calls_by_key() {
    let ctx = Ctx::with(Simulator::builder().replay(ReplayPolicy::Optimistic)).await;
    let a = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "p1")
        .await;
    let b = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "p1")
        .await;
    assert_eq!(a.body["session_id"], b.body["session_id"]);
    assert_eq!(ctx.sim.engine().population().sessions, 1);
    let (_, token, _) = ctx.authorized("tokenize").await;
    let path = format!("/payments/v1/authorizations/{token}/customer-token");
    let t1 = ctx.post_key(&path, &customer_token_body(), "p6").await;
    let t2 = ctx.post_key(&path, &customer_token_body(), "p6").await;
    assert_eq!(t2.status, 200, "{}", t2.text);
    assert_eq!(t1.body["token_id"], t2.body["token_id"]);
}

#[tokio::test]
async fn the_replay_policy_is_switched_at_run_time_over_the_fault_admin_endpoint() {
    let ctx = Ctx::new().await;
    let state = read(ctx.http.get(ctx.url("/sim/faults")).send().await.unwrap()).await;
    assert_eq!(state.body, json!({"rules": [], "replay": "pessimistic"}));

    let set = ctx
        .sim_post("/sim/faults", &json!({"replay": "optimistic"}))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["replay"], "optimistic");
    assert_eq!(ctx.sim.replay_policy(), ReplayPolicy::Optimistic);
    let a = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "k")
        .await;
    let b = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "k")
        .await;
    assert_eq!(a.body["session_id"], b.body["session_id"]);

    // Rules and the switch in one body; clearing the rules keeps the policy.
    let set = ctx
        .sim_post(
            "/sim/faults",
            &json!({"replay": "pessimistic", "rules": [
                {"operation": "orders.get", "fault": {"kind": "status", "status": 503}}
            ]}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["replay"], "pessimistic");
    assert_eq!(set.body["rules"].as_array().map(Vec::len), Some(1));
    let c = ctx
        .post_key("/payments/v1/sessions", &session_body("buy"), "k")
        .await;
    assert_ne!(c.body["session_id"], a.body["session_id"]);
    ctx.http
        .delete(ctx.url("/sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(ctx.sim.replay_policy(), ReplayPolicy::Pessimistic);

    ctx.sim.set_replay_policy(ReplayPolicy::Optimistic);
    let state = read(ctx.http.get(ctx.url("/sim/faults")).send().await.unwrap()).await;
    assert_eq!(state.body["replay"], "optimistic");

    for bad in [
        json!({"replay": "sometimes"}),
        json!({"replay": "optimistic", "extra": 1}),
    ] {
        let r = ctx.sim_post("/sim/faults", &bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    assert_eq!(ctx.sim.replay_policy(), ReplayPolicy::Optimistic);
}

#[tokio::test]
async fn a_duplicate_key_while_the_first_is_in_flight_is_409_conflict() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.sim.add_fault(FaultRule::new(
        "orders.capture",
        1,
        Fault::LatencyAfterEffect { ms: 3000 },
    ));
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let body = json!({"captured_amount": 100});
    let first = tokio::spawn(keyed_post(&ctx, &path, &body, "cap-x"));
    until("the first capture took effect", || {
        ctx.sim.order(&id).is_some_and(|o| o.captured_amount == 100)
    })
    .await;
    let dup = ctx.post_key(&path, &body, "cap-x").await;
    assert_error(&dup, 409, "CONFLICT", "still being processed");
    // Another key is another request: it runs.
    let other = ctx.post_key(&path, &body, "cap-y").await;
    assert_eq!(other.status, 201, "{}", other.text);
    let first = first.await.unwrap();
    assert_eq!(first.status, 201, "{}", first.text);
    // The 409 was not recorded: once the first is out, its answer is replayed.
    let again = ctx.post_key(&path, &body, "cap-x").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("capture-id"), first.header("capture-id"));
    let o = ctx.sim.order(&id).unwrap();
    assert_eq!((o.captures, o.captured_amount), (2, 200));
}

#[tokio::test]
async fn create_order_keys_are_not_in_flight_by_default_but_are_when_optimistic() {
    for policy in [ReplayPolicy::Pessimistic, ReplayPolicy::Optimistic] {
        let ctx = Ctx::with(Simulator::builder().replay(policy)).await;
        let (_, token, session) = ctx.authorized("buy").await;
        ctx.sim.add_fault(FaultRule::new(
            "payments.create_order",
            1,
            Fault::LatencyAfterEffect { ms: 3000 },
        ));
        let path = format!("/payments/v1/authorizations/{token}/order");
        let first = tokio::spawn(keyed_post(&ctx, &path, &order_body(&session), "p5"));
        until("the first order exists", || ctx.sim.orders().len() == 1).await;
        let dup = ctx.post_key(&path, &order_body(&session), "p5").await;
        match policy {
            // No key on P5 at Klarna: the duplicate runs and finds the token consumed.
            ReplayPolicy::Pessimistic => {
                assert_error(&dup, 403, "INVALID_OPERATION", "already consumed");
            }
            ReplayPolicy::Optimistic => {
                assert_error(&dup, 409, "CONFLICT", "still being processed")
            }
        }
        let first = first.await.unwrap();
        assert_eq!(first.status, 200, "{}", first.text);
        let after = ctx.post_key(&path, &order_body(&session), "p5").await;
        match policy {
            ReplayPolicy::Pessimistic => {
                assert_error(&after, 403, "INVALID_OPERATION", "already consumed");
            }
            ReplayPolicy::Optimistic => {
                assert_eq!(after.status, 200, "{}", after.text);
                assert_eq!(after.body["order_id"], first.body["order_id"]);
            }
        }
        assert_eq!(ctx.sim.orders().len(), 1, "{policy:?}");
    }
}

#[tokio::test]
async fn latency_after_effect_outlasts_the_client_deadline_and_keeps_the_key_in_flight() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let hold = Duration::from_millis(4000);
    ctx.sim.add_fault(FaultRule::new(
        "orders.capture",
        1,
        Fault::LatencyAfterEffect {
            ms: u64::try_from(hold.as_millis()).unwrap(),
        },
    ));
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let body = json!({"captured_amount": 100});
    let sent = Instant::now();
    let attempt = ctx
        .http
        .post(ctx.url(&path))
        .basic_auth("sim_user", Some("sim_password"))
        .header("Klarna-Idempotency-Key", "slow")
        .json(&body)
        .timeout(Duration::from_millis(1000))
        .send()
        .await;
    assert!(attempt.unwrap_err().is_timeout());
    // The effect happened before the client's deadline passed.
    assert_eq!(ctx.sim.order(&id).unwrap().captured_amount, 100);
    // The client gave up, but Klarna is still answering it: the retry conflicts.
    let retry = ctx.post_key(&path, &body, "slow").await;
    assert_error(&retry, 409, "CONFLICT", "still being processed");
    // Once the hold is over, the recorded answer is replayed.
    let replayed = loop {
        let r = ctx.post_key(&path, &body, "slow").await;
        if r.status != 409 {
            break r;
        }
        assert!(sent.elapsed() < Duration::from_secs(10), "still in flight");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(sent.elapsed() >= hold);
    assert_eq!(replayed.status, 201, "{}", replayed.text);
    assert!(replayed.header("capture-id").is_some());
    let o = ctx.sim.order(&id).unwrap();
    assert_eq!((o.captures, o.captured_amount), (1, 100));
}

#[tokio::test]
async fn a_keyed_call_dropped_before_its_effect_leaves_nothing_behind() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.sim
        .add_fault(FaultRule::new("orders.capture", 1, Fault::DropBeforeEffect));
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let body = json!({"captured_amount": 100});
    let attempt = ctx
        .http
        .post(ctx.url(&path))
        .basic_auth("sim_user", Some("sim_password"))
        .header("Klarna-Idempotency-Key", "lost")
        .json(&body)
        .send()
        .await;
    assert!(attempt.is_err(), "{attempt:?}");
    assert_eq!(ctx.sim.order(&id).unwrap().captures, 0);
    assert_eq!(ctx.sim.engine().population().idempotency_entries, 0);
    // No replay entry and no in-flight mark: the retry runs once.
    let retry = ctx.post_key(&path, &body, "lost").await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(ctx.sim.order(&id).unwrap().captures, 1);
}
