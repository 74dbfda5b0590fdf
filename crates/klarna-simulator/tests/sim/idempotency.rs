//! Idempotent replay of `Klarna-Idempotency-Key` for 24 h of simulator time.

use std::time::Duration;

use klarna_simulator::{ReplayPolicy, Simulator};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn same_key_on_create_order_is_not_replayed_by_default() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    let path = format!("/payments/v1/authorizations/{token}/order");
    let first = ctx.post_key(&path, &order_body(&body), "key-1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    // Klarna documents no key on P5: the repeat runs again and finds the token consumed.
    let second = ctx.post_key(&path, &order_body(&body), "key-1").await;
    assert_error(&second, 403, "INVALID_OPERATION", "already consumed");
    assert_eq!(ctx.sim.orders().len(), 1);
    assert_eq!(ctx.sim.engine().population().idempotency_entries, 0);
}

#[tokio::test]
async fn same_key_on_create_order_replays_the_first_answer_when_optimistic() {
    let ctx = Ctx::with(Simulator::builder().replay(ReplayPolicy::Optimistic)).await;
    assert_eq!(ctx.sim.replay_policy(), ReplayPolicy::Optimistic);
    let (_, token, body) = ctx.authorized("buy").await;
    let path = format!("/payments/v1/authorizations/{token}/order");
    let first = ctx.post_key(&path, &order_body(&body), "key-1").await;
    let second = ctx.post_key(&path, &order_body(&body), "key-1").await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(first.body["order_id"], second.body["order_id"]);
    assert_eq!(first.text, second.text);
    assert_eq!(
        first.header("klarna-correlation-id"),
        second.header("klarna-correlation-id")
    );
    assert_eq!(ctx.sim.orders().len(), 1);
    // A different key is a new attempt: the token is consumed by then.
    let third = ctx.post_key(&path, &order_body(&body), "key-2").await;
    assert_error(&third, 403, "INVALID_OPERATION", "already consumed");
}

#[tokio::test]
async fn same_key_on_capture_creates_one_capture_and_replays_headers() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let a = ctx
        .post_key(&path, &json!({"captured_amount": 1000}), "cap-1")
        .await;
    let b = ctx
        .post_key(&path, &json!({"captured_amount": 1000}), "cap-1")
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(b.status, 201);
    assert_eq!(a.header("capture-id"), b.header("capture-id"));
    assert_eq!(a.header("location"), b.header("location"));
    assert_eq!(ctx.order(&id).await["captured_amount"], 1000);
    // The key alone matters: a different body with the same key still replays.
    let c = ctx
        .post_key(&path, &json!({"captured_amount": 5}), "cap-1")
        .await;
    assert_eq!(c.header("capture-id"), a.header("capture-id"));
    assert_eq!(
        ctx.order(&id).await["captures"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn replay_lasts_24_hours_of_simulator_time() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let a = ctx
        .post_key(&path, &json!({"captured_amount": 1000}), "cap-day")
        .await;
    ctx.sim.advance_clock(Duration::from_secs(23 * 3600));
    let b = ctx
        .post_key(&path, &json!({"captured_amount": 1000}), "cap-day")
        .await;
    assert_eq!(a.header("capture-id"), b.header("capture-id"));
    ctx.sim.advance_clock(Duration::from_secs(3600 + 1));
    let c = ctx
        .post_key(&path, &json!({"captured_amount": 1000}), "cap-day")
        .await;
    assert_eq!(c.status, 201);
    assert_ne!(a.header("capture-id"), c.header("capture-id"));
    assert_eq!(ctx.order(&id).await["captured_amount"], 2000);
}

#[tokio::test]
async fn refusals_are_replayed_too() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let path = format!("/ordermanagement/v1/orders/{id}/refunds");
    let a = ctx
        .post_key(&path, &json!({"refunded_amount": 10}), "ref-1")
        .await;
    assert_eq!(a.status, 403);
    ctx.post(
        &format!("/ordermanagement/v1/orders/{id}/captures"),
        &json!({"captured_amount": 100}),
    )
    .await;
    let b = ctx
        .post_key(&path, &json!({"refunded_amount": 10}), "ref-1")
        .await;
    assert_eq!(b.status, 403);
    assert_eq!(a.text, b.text);
}

#[tokio::test]
async fn token_charges_are_idempotent() {
    let ctx = Ctx::new().await;
    let (_, token, _) = ctx.authorized("tokenize").await;
    let t = ctx.create_token(&token).await.body["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/customer-token/v1/tokens/{t}/order");
    let a = ctx
        .post_key(&path, &token_order_body("sub-1"), "charge-1")
        .await;
    let b = ctx
        .post_key(&path, &token_order_body("sub-1"), "charge-1")
        .await;
    assert_eq!(a.body["order_id"], b.body["order_id"]);
    assert_eq!(ctx.sim.orders().len(), 1);
    let c = ctx
        .post_key(&path, &token_order_body("sub-1"), "charge-2")
        .await;
    assert_ne!(a.body["order_id"], c.body["order_id"]);
    assert_eq!(ctx.sim.orders().len(), 2);
}

#[tokio::test]
async fn reads_ignore_the_key() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let path = format!("/ordermanagement/v1/orders/{id}");
    let a = ctx
        .send(reqwest::Method::GET, &path, None, Some("read-1"))
        .await;
    ctx.post(
        &format!("{path}/captures"),
        &json!({"captured_amount": 100}),
    )
    .await;
    let b = ctx
        .send(reqwest::Method::GET, &path, None, Some("read-1"))
        .await;
    assert_eq!(a.body["captured_amount"], 0);
    assert_eq!(b.body["captured_amount"], 100);
}

#[tokio::test]
async fn expired_state_is_evicted_but_orders_and_tokens_are_kept() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.create_session(&session_body("buy")).await;
    let (_, token, _) = ctx.authorized("tokenize").await;
    ctx.create_token(&token).await;
    ctx.post_key(
        &format!("/ordermanagement/v1/orders/{id}/captures"),
        &json!({"captured_amount": 1}),
        "evict-me",
    )
    .await;
    let engine = ctx.sim.engine();
    let before = engine.population();
    assert_eq!(before.sessions, 3);
    assert_eq!(before.idempotency_entries, 1);
    assert_eq!(before.authorizations, 2);

    // Sessions expire 48 h after their last update and are kept another 48 h.
    ctx.sim.advance_clock(Duration::from_secs(95 * 3600));
    engine.sweep();
    let mid = engine.population();
    assert_eq!(mid.sessions, 3);
    assert_eq!(
        mid.idempotency_entries, 0,
        "idempotency entries go after 24 h"
    );
    assert_eq!(
        mid.authorizations, 0,
        "authorizations go a day after their 60 minutes"
    );

    ctx.sim.advance_clock(Duration::from_secs(3600 + 1));
    engine.sweep();
    let after = engine.population();
    assert_eq!(after.sessions, 0);
    assert_eq!(after.orders, 1);
    assert_eq!(after.customer_tokens, 1);
    assert_eq!(ctx.order(&id).await["captured_amount"], 1);
}

#[tokio::test]
async fn the_sweep_also_runs_by_itself_as_simulated_time_passes() {
    let ctx = Ctx::new().await;
    ctx.create_session(&session_body("buy")).await;
    ctx.sim.advance_clock(Duration::from_secs(97 * 3600));
    // Any request after a simulated minute triggers the lazy sweep.
    ctx.get("/ordermanagement/v1/orders/x").await;
    assert_eq!(ctx.sim.engine().population().sessions, 0);
}
