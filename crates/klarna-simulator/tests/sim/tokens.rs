//! Customer Token API (T1–T3): reading, charging and cancelling tokens.

use klarna_simulator::OrderSource;
use serde_json::json;

use crate::common::*;

async fn customer_token(ctx: &Ctx) -> String {
    let (_, token, _) = ctx.authorized("tokenize").await;
    let r = ctx.create_token(&token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["token_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_charge_creates_an_order_recording_the_token() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    let read = ctx.get(&format!("/customer-token/v1/tokens/{t}")).await;
    let typed: klarna_api::CustomerToken = serde_json::from_str(&read.text).unwrap();
    assert_eq!(typed.status, klarna_api::TokenStatus::Active);
    let r = ctx
        .post_key(
            &format!("/customer-token/v1/tokens/{t}/order"),
            &token_order_body("sub-1"),
            "k-1",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order: klarna_api::payments::Order = serde_json::from_str(&r.text).unwrap();
    let summary = ctx.sim.order(&order.order_id).unwrap();
    assert_eq!(summary.merchant_reference1.as_deref(), Some("sub-1"));
    assert_eq!(summary.order_amount, 10_000);
    assert_eq!(
        summary.source,
        OrderSource::CustomerToken {
            customer_token: t.clone()
        }
    );
    let om = ctx.order(&order.order_id).await;
    assert_eq!(om["purchase_country"], "SE");
    assert_eq!(om["status"], "AUTHORIZED");
}

#[tokio::test]
async fn a_cancelled_token_cannot_be_charged() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    let r = ctx
        .patch(
            &format!("/customer-token/v1/tokens/{t}/status"),
            &json!({"status": "CANCELLED"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(r.text.contains("accepted"));
    assert_eq!(
        ctx.get(&format!("/customer-token/v1/tokens/{t}"))
            .await
            .body["status"],
        "CANCELLED"
    );
    let charge = ctx
        .post(
            &format!("/customer-token/v1/tokens/{t}/order"),
            &token_order_body("sub-2"),
        )
        .await;
    assert_error(&charge, 403, "TOKEN_CANCELED", "cancelled");
    assert!(ctx.sim.orders().is_empty());
}

#[tokio::test]
async fn token_status_update_only_accepts_cancelled() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    let r = ctx
        .patch(
            &format!("/customer-token/v1/tokens/{t}/status"),
            &json!({"status": "ACTIVE"}),
        )
        .await;
    assert_bad_value(&r, "status");
}

#[tokio::test]
async fn unknown_tokens_are_404() {
    let ctx = Ctx::new().await;
    let unknown = "8f2e6c1a-3b4d-4e5f-9a0b-1c2d3e4f5a6b";
    let r = ctx
        .post(
            &format!("/customer-token/v1/tokens/{unknown}/order"),
            &token_order_body("x"),
        )
        .await;
    assert_error(&r, 404, "TOKEN_NOT_FOUND", "Invalid customer-token ID");
    assert_error(
        &ctx.get(&format!("/customer-token/v1/tokens/{unknown}"))
            .await,
        404,
        "NOT_FOUND",
        "Invalid customer-token ID",
    );
    let p = ctx
        .patch(
            &format!("/customer-token/v1/tokens/{unknown}/status"),
            &json!({"status": "CANCELLED"}),
        )
        .await;
    assert_error(&p, 404, "TOKEN_NOT_FOUND", "Invalid customer-token ID");
}

#[tokio::test]
async fn token_orders_are_validated() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    let path = format!("/customer-token/v1/tokens/{t}/order");
    let mut b = token_order_body("x");
    b["purchase_currency"] = json!("E1R");
    assert_bad_value(&ctx.post(&path, &b).await, "purchase_currency");
    let mut b = token_order_body("x");
    b.as_object_mut().unwrap().remove("order_tax_amount");
    assert_bad_value(&ctx.post(&path, &b).await, "order_tax_amount");
    let mut b = token_order_body("x");
    b["order_lines"][0]["unit_price"] = json!(100_000_001);
    assert_bad_value(&ctx.post(&path, &b).await, "order_lines[0].unit_price");
    let mut b = token_order_body("x");
    b["order_lines"][0]["total_amount"] = json!(9999);
    assert_bad_value(&ctx.post(&path, &b).await, "order_lines[0].total_amount");
    assert!(ctx.sim.orders().is_empty());
}

#[tokio::test]
async fn a_charge_in_another_currency_is_403_payment_method_currency_mismatch() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    let path = format!("/customer-token/v1/tokens/{t}/order");
    let mut b = token_order_body("x");
    b["purchase_currency"] = json!("EUR");
    let r = ctx.post(&path, &b).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error_code"], "PAYMENT_METHOD_CURRENCY_MISMATCH");
    assert!(ctx.sim.orders().is_empty());
    // The token itself is fine: a charge in its currency goes through.
    assert_eq!(ctx.post(&path, &token_order_body("y")).await.status, 200);
}

#[tokio::test]
async fn a_forbidden_token_is_refused_with_403_token_forbidden() {
    let ctx = Ctx::new().await;
    let t = customer_token(&ctx).await;
    assert!(ctx.sim.forbid_token(&t));
    assert!(!ctx.sim.forbid_token("5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d"));
    let r = ctx
        .post(
            &format!("/customer-token/v1/tokens/{t}/order"),
            &token_order_body("x"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error_code"], "TOKEN_FORBIDDEN");
    assert!(ctx.sim.orders().is_empty());
}
