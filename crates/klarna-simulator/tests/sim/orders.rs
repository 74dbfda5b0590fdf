//! Order Management (O1–O18): the ledger rules, statuses, lifetimes and updates.

use std::time::Duration;

use klarna_simulator::{FraudDecision, ShopperDecision};
use serde_json::{Value, json};

use crate::common::*;

fn om(id: &str, rest: &str) -> String {
    format!("/ordermanagement/v1/orders/{id}{rest}")
}

async fn capture(ctx: &Ctx, id: &str, amount: i64) -> Resp {
    ctx.post(
        &om(id, "/captures"),
        &json!({"captured_amount": amount, "description": "shipped"}),
    )
    .await
}

async fn refund(ctx: &Ctx, id: &str, amount: i64) -> Resp {
    ctx.post(&om(id, "/refunds"), &json!({"refunded_amount": amount}))
        .await
}

#[tokio::test]
async fn read_order_returns_amounts_status_and_references() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let o = ctx.order(&id).await;
    let typed: klarna_api::OmOrder = serde_json::from_value(o.clone()).unwrap();
    assert_eq!(typed.order_id.as_deref(), Some(id.as_str()));
    assert_eq!(o["status"], "AUTHORIZED");
    assert_eq!(o["order_amount"], 174_700);
    assert_eq!(o["original_order_amount"], 174_700);
    assert_eq!(o["captured_amount"], 0);
    assert_eq!(o["refunded_amount"], 0);
    assert_eq!(o["remaining_authorized_amount"], 174_700);
    assert_eq!(o["merchant_reference1"], "pay-0001");
    assert_eq!(o["captures"], json!([]));
    assert_eq!(o["order_lines"].as_array().unwrap().len(), 2);
    assert!(uuid_like(&id));
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn captures_move_the_status_and_are_capped_by_the_remaining_authorization() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let c1 = capture(&ctx, &id, 100_000).await;
    assert_eq!(c1.status, 201, "{}", c1.text);
    assert!(c1.text.is_empty());
    let cid = c1.header("capture-id").unwrap().to_owned();
    assert!(
        c1.header("location")
            .unwrap()
            .ends_with(&format!("/captures/{cid}"))
    );
    let o = ctx.order(&id).await;
    assert_eq!(o["status"], "PART_CAPTURED");
    assert_eq!(o["remaining_authorized_amount"], 74_700);
    let over = capture(&ctx, &id, 74_701).await;
    assert_error(&over, 403, "CAPTURE_NOT_ALLOWED", "remaining");
    assert_eq!(capture(&ctx, &id, 74_700).await.status, 201);
    let o = ctx.order(&id).await;
    assert_eq!(o["status"], "CAPTURED");
    assert_eq!(o["captured_amount"], 174_700);
    assert_eq!(o["remaining_authorized_amount"], 0);
    assert_error(
        &capture(&ctx, &id, 1).await,
        403,
        "CAPTURE_NOT_ALLOWED",
        "CAPTURED",
    );

    let list = ctx.get(&om(&id, "/captures")).await;
    let typed: Vec<klarna_api::Capture> = serde_json::from_str(&list.text).unwrap();
    assert_eq!(typed.len(), 2);
    let one = ctx.get(&om(&id, &format!("/captures/{cid}"))).await;
    assert_eq!(one.body["captured_amount"], 100_000);
    assert_eq!(one.body["description"], "shipped");
    let missing = ctx
        .get(&om(&id, "/captures/5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d"))
        .await;
    assert_error(&missing, 404, "NO_SUCH_CAPTURE", "No such capture");
}

#[tokio::test]
async fn capture_body_is_validated() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    assert_om_field_error(
        &ctx.post(&om(&id, "/captures"), &json!({})).await,
        "captured_amount",
    );
    assert_om_field_error(
        &ctx.post(
            &om(&id, "/captures"),
            &json!({"captured_amount": 10, "description": "d".repeat(256)}),
        )
        .await,
        "description",
    );
}

#[tokio::test]
async fn refunds_are_capped_by_captured_minus_refunded() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    assert_error(
        &refund(&ctx, &id, 1).await,
        403,
        "REFUND_NOT_ALLOWED",
        "no captures",
    );
    assert_eq!(capture(&ctx, &id, 50_000).await.status, 201);
    let r1 = refund(&ctx, &id, 30_000).await;
    assert_eq!(r1.status, 201, "{}", r1.text);
    let rid = r1.header("refund-id").unwrap().to_owned();
    assert!(
        r1.header("location")
            .unwrap()
            .ends_with(&format!("/refunds/{rid}"))
    );
    assert_error(
        &refund(&ctx, &id, 20_001).await,
        403,
        "REFUND_NOT_ALLOWED",
        "Over refund",
    );
    assert_eq!(refund(&ctx, &id, 20_000).await.status, 201);
    let o = ctx.order(&id).await;
    assert_eq!(o["refunded_amount"], 50_000);
    assert_eq!(o["refunds"].as_array().unwrap().len(), 2);
    let one = ctx.get(&om(&id, &format!("/refunds/{rid}"))).await;
    let typed: klarna_api::Refund = serde_json::from_str(&one.text).unwrap();
    assert_eq!(typed.refunded_amount, Some(30_000));
    let missing = ctx
        .get(&om(&id, "/refunds/5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d"))
        .await;
    assert_error(&missing, 404, "NOT_FOUND", "No such refund");
}

#[tokio::test]
async fn cancel_only_before_any_capture() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    assert_eq!(ctx.post_empty(&om(&id, "/cancel")).await.status, 204);
    assert_eq!(ctx.order(&id).await["status"], "CANCELLED");
    assert_error(
        &capture(&ctx, &id, 1).await,
        403,
        "CAPTURE_NOT_ALLOWED",
        "CANCELLED",
    );
    assert_error(
        &ctx.post_empty(&om(&id, "/cancel")).await,
        403,
        "CANCEL_NOT_ALLOWED",
        "CANCELLED",
    );

    let id2 = ctx.placed_order().await;
    capture(&ctx, &id2, 1000).await;
    assert_error(
        &ctx.post_empty(&om(&id2, "/cancel")).await,
        403,
        "CANCEL_NOT_ALLOWED",
        "PART_CAPTURED",
    );
}

#[tokio::test]
async fn release_remaining_authorization_only_after_a_partial_capture() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    assert_error(
        &ctx.post_empty(&om(&id, "/release-remaining-authorization"))
            .await,
        403,
        "NOT_ALLOWED",
        "no captures",
    );
    capture(&ctx, &id, 70_000).await;
    assert_eq!(
        ctx.post_empty(&om(&id, "/release-remaining-authorization"))
            .await
            .status,
        204
    );
    let o = ctx.order(&id).await;
    assert_eq!(o["status"], "CLOSED");
    assert_eq!(o["remaining_authorized_amount"], 0);
    assert_error(
        &capture(&ctx, &id, 1).await,
        403,
        "CAPTURE_NOT_ALLOWED",
        "CLOSED",
    );
    // Refunds of what was captured stay possible.
    assert_eq!(refund(&ctx, &id, 70_000).await.status, 201);

    let full = ctx.placed_order().await;
    capture(&ctx, &full, 174_700).await;
    assert_error(
        &ctx.post_empty(&om(&full, "/release-remaining-authorization"))
            .await,
        403,
        "NOT_ALLOWED",
        "fully captured",
    );
}

#[tokio::test]
async fn orders_expire_after_28_days_and_cannot_then_be_extended() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let partial = ctx.placed_order().await;
    capture(&ctx, &partial, 1000).await;
    ctx.sim.advance_clock(Duration::from_secs(28 * 86_400 + 1));
    let o = ctx.order(&id).await;
    assert_eq!(o["status"], "EXPIRED");
    assert_eq!(o["remaining_authorized_amount"], 0);
    assert_error(
        &capture(&ctx, &id, 1).await,
        403,
        "CAPTURE_NOT_ALLOWED",
        "EXPIRED",
    );
    assert_error(
        &ctx.post_empty(&om(&id, "/extend-authorization-time")).await,
        403,
        "NOT_ALLOWED",
        "expired",
    );
    assert_eq!(ctx.order(&partial).await["status"], "CLOSED");
}

#[tokio::test]
async fn extending_adds_28_days_from_now_within_180_days_of_creation() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let before = ctx.order(&id).await["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    ctx.sim.advance_clock(Duration::from_secs(20 * 86_400));
    assert_eq!(
        ctx.post_empty(&om(&id, "/extend-authorization-time"))
            .await
            .status,
        204
    );
    let after = ctx.order(&id).await["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(after > before, "{after} <= {before}");
    // Keep extending every 27 days, up to day 155 (expiry then capped at day 180).
    for _ in 0..5 {
        ctx.sim.advance_clock(Duration::from_secs(27 * 86_400));
        assert_eq!(
            ctx.post_empty(&om(&id, "/extend-authorization-time"))
                .await
                .status,
            204
        );
    }
    // Day 181: past 180 days since creation.
    ctx.sim.advance_clock(Duration::from_secs(26 * 86_400));
    let r = ctx.post_empty(&om(&id, "/extend-authorization-time")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error_code"], "NOT_ALLOWED");
}

#[tokio::test]
async fn extension_is_refused_after_180_days_even_when_not_expired() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    // Extend every 25 days up to day 175; expiry is then capped at day 180.
    for _ in 0..7 {
        ctx.sim.advance_clock(Duration::from_secs(25 * 86_400));
        assert_eq!(
            ctx.post_empty(&om(&id, "/extend-authorization-time"))
                .await
                .status,
            204
        );
    }
    let o = ctx.order(&id).await;
    assert_eq!(o["status"], "AUTHORIZED");
    ctx.sim.advance_clock(Duration::from_secs(5 * 86_400 + 1));
    let r = ctx.post_empty(&om(&id, "/extend-authorization-time")).await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn update_authorization_cannot_go_below_captured() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    capture(&ctx, &id, 100_000).await;
    let low = ctx
        .patch(&om(&id, "/authorization"), &json!({"order_amount": 99_999}))
        .await;
    assert_error(
        &low,
        403,
        "NOT_ALLOWED",
        "cannot be less than the captured amount 100000",
    );
    let lines = lines_se();
    let ok = ctx
        .patch(
            &om(&id, "/authorization"),
            &json!({"order_amount": 174_700, "order_lines": lines}),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let lower = ctx
        .patch(
            &om(&id, "/authorization"),
            &json!({"order_amount": 150_000}),
        )
        .await;
    assert_eq!(lower.status, 204, "{}", lower.text);
    let o = ctx.order(&id).await;
    assert_eq!(o["order_amount"], 150_000);
    assert_eq!(o["original_order_amount"], 174_700);
    assert_eq!(o["remaining_authorized_amount"], 50_000);
    let mismatch = ctx
        .patch(
            &om(&id, "/authorization"),
            &json!({"order_amount": 1, "order_lines": lines_se()}),
        )
        .await;
    assert_om_field_error(&mismatch, "order_amount");
}

#[tokio::test]
async fn merchant_references_update_and_refuse_on_cancelled_orders() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let r = ctx
        .patch(
            &om(&id, "/merchant-references"),
            &json!({"merchant_reference1": "pay-9", "merchant_reference2": "x"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let o = ctx.order(&id).await;
    assert_eq!(o["merchant_reference1"], "pay-9");
    assert_eq!(
        ctx.sim.order(&id).unwrap().merchant_reference2.as_deref(),
        Some("x")
    );
    ctx.post_empty(&om(&id, "/cancel")).await;
    let r = ctx
        .patch(
            &om(&id, "/merchant-references"),
            &json!({"merchant_reference1": "y"}),
        )
        .await;
    assert_error(&r, 403, "NOT_ALLOWED", "cancelled");
}

#[tokio::test]
async fn customer_details_change_the_shipping_address_only() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let addr = json!({"given_name": "Ola", "family_name": "Nordmann", "postal_code": "0150", "country": "SE"});
    let r = ctx
        .patch(
            &om(&id, "/customer-details"),
            &json!({"shipping_address": addr}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        ctx.order(&id).await["shipping_address"]["given_name"],
        "Ola"
    );
    let r = ctx
        .patch(
            &om(&id, "/customer-details"),
            &json!({"billing_address": addr}),
        )
        .await;
    assert_error(&r, 403, "NOT_ALLOWED", "Billing address cannot be updated");
    let r = ctx.patch(&om(&id, "/customer-details"), &json!({})).await;
    assert_om_field_error(&r, "shipping_address");
}

#[tokio::test]
async fn shipping_info_needs_a_capture_and_is_appended() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let info = json!({"shipping_info": [{"shipping_company": "PostNord", "shipping_method": "Home", "tracking_number": "123"}]});
    assert_error(
        &ctx.post(&om(&id, "/shipping-info"), &info).await,
        403,
        "NOT_ALLOWED",
        "without captures",
    );
    let c = capture(&ctx, &id, 1000).await;
    let cid = c.header("capture-id").unwrap().to_owned();
    assert_eq!(
        ctx.post(&om(&id, "/shipping-info"), &info).await.status,
        204
    );
    assert_eq!(
        ctx.post(&om(&id, "/shipping-info"), &info).await.status,
        204
    );
    assert_eq!(
        ctx.order(&id).await["shipping_info"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_om_field_error(
        &ctx.post(
            &om(&id, "/shipping-info"),
            &json!({"shipping_info": [{"shipping_method": "Teleport"}]}),
        )
        .await,
        "shipping_info[0].shipping_method",
    );
    // O14–O17 on the capture.
    assert_eq!(
        ctx.post(&om(&id, &format!("/captures/{cid}/shipping-info")), &info)
            .await
            .status,
        204
    );
    let cap = ctx.get(&om(&id, &format!("/captures/{cid}"))).await;
    assert_eq!(cap.body["shipping_info"].as_array().unwrap().len(), 1);
    assert_eq!(
        ctx.post_empty(&om(&id, &format!("/captures/{cid}/trigger-send-out")))
            .await
            .status,
        204
    );
    let opts = ctx
        .get(&om(
            &id,
            &format!("/captures/{cid}/extend-due-date-options"),
        ))
        .await;
    let typed: klarna_api::ExtendDueDateOptions = serde_json::from_str(&opts.text).unwrap();
    assert_eq!(typed.currency.as_deref(), Some("SEK"));
    let ext = ctx
        .patch(
            &om(&id, &format!("/captures/{cid}/extend-due-date")),
            &json!({"number_of_days": 14}),
        )
        .await;
    assert_eq!(ext.status, 204);
    let bad = ctx
        .patch(
            &om(&id, &format!("/captures/{cid}/extend-due-date")),
            &json!({"number_of_days": 99}),
        )
        .await;
    assert_eq!(bad.status, 403);
    assert_eq!(ctx.post_empty(&om(&id, "/acknowledge")).await.status, 204);
}

#[tokio::test]
async fn unknown_orders_are_404_no_such_order() {
    let ctx = Ctx::new().await;
    let path = om("5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d", "");
    assert_error(&ctx.get(&path).await, 404, "NO_SUCH_ORDER", "No such order");
    let r = capture(&ctx, "5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d", 1).await;
    assert_error(&r, 404, "NO_SUCH_ORDER", "No such order");
}

#[tokio::test]
async fn a_malformed_order_id_is_400_invalid_order_id() {
    let ctx = Ctx::new().await;
    let invalid =
        |r: &Resp| assert_error(r, 400, "INVALID_ORDER_ID", "Order ID must be a valid UUID");
    invalid(&ctx.get(&om("not-a-uuid", "")).await);
    invalid(&capture(&ctx, "not-a-uuid", 1).await);
    invalid(&ctx.get(&om("not-a-uuid", "/captures")).await);
    invalid(&ctx.post_empty(&om("not-a-uuid", "/cancel")).await);
}

#[tokio::test]
async fn order_management_field_errors_are_422_and_addresses_take_om_limits() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    // 200 characters is within OM's city limit (payments: 99), 201 is not.
    let r = ctx
        .patch(
            &om(&id, "/customer-details"),
            &json!({"shipping_address": {"city": "c".repeat(200), "country": "SE"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = ctx
        .patch(
            &om(&id, "/customer-details"),
            &json!({"shipping_address": {"city": "c".repeat(201), "country": "SE"}}),
        )
        .await;
    assert_om_field_error(&r, "shipping_address.city");
    let r = ctx
        .patch(
            &om(&id, "/merchant-references"),
            &json!({"merchant_reference1": "r".repeat(256)}),
        )
        .await;
    assert_om_field_error(&r, "merchant_reference1");
}

#[tokio::test]
async fn om_quantity_unit_may_be_empty_or_ten_characters() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let line = |unit: &str| {
        json!({"captured_amount": 100, "order_lines": [{"name": "Box", "quantity": 1,
            "quantity_unit": unit, "unit_price": 100, "total_amount": 100}]})
    };
    for unit in ["", "cartonbox1"] {
        let r = ctx.post(&om(&id, "/captures"), &line(unit)).await;
        assert_eq!(r.status, 201, "{unit:?}: {}", r.text);
    }
    let r = ctx.post(&om(&id, "/captures"), &line("cartonbox12")).await;
    assert_om_field_error(&r, "order_lines[0].quantity_unit");
}

async fn pending_order(ctx: &Ctx) -> String {
    let body = session_body("buy");
    let sid = ctx.create_session(&body).await;
    let decision = ShopperDecision {
        approve: true,
        fraud_status: Some("PENDING".into()),
        ..ShopperDecision::default()
    };
    let token = ctx
        .sim
        .authorize(&sid, decision)
        .unwrap()
        .authorization_token
        .unwrap();
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(r.body["fraud_status"], "PENDING");
    r.body["order_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pending_orders_cannot_be_captured_until_accepted() {
    let ctx = Ctx::new().await;
    let id = pending_order(&ctx).await;
    assert_eq!(ctx.order(&id).await["fraud_status"], "PENDING");
    assert_error(
        &capture(&ctx, &id, 1000).await,
        403,
        "CAPTURE_NOT_ALLOWED",
        "PENDING",
    );
    ctx.sim.resolve_fraud(&id, FraudDecision::Accepted).unwrap();
    assert_eq!(ctx.order(&id).await["fraud_status"], "ACCEPTED");
    assert_eq!(capture(&ctx, &id, 1000).await.status, 201);
    // Only a PENDING order can be resolved.
    assert!(ctx.sim.resolve_fraud(&id, FraudDecision::Rejected).is_err());
}

#[tokio::test]
async fn rejected_orders_are_cancelled() {
    let ctx = Ctx::new().await;
    let id = pending_order(&ctx).await;
    let r = ctx
        .sim_post(
            &format!("/sim/orders/{id}/fraud"),
            &json!({"decision": "REJECTED"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let o: Value = ctx.order(&id).await;
    assert_eq!(o["fraud_status"], "REJECTED");
    assert_eq!(o["status"], "CANCELLED");
}

#[tokio::test]
async fn sim_orders_lists_every_order_with_its_source() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let r = read(ctx.http.get(ctx.url("/sim/orders")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["order_id"], id.as_str());
    assert_eq!(list[0]["merchant_reference1"], "pay-0001");
    assert_eq!(list[0]["source"]["kind"], "authorization");
    assert!(list[0]["source"]["authorization_token"].is_string());
    let one = read(
        ctx.http
            .get(ctx.url(&format!("/sim/orders/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one.body["order_amount"], 174_700);
}

#[tokio::test]
async fn redirect_url_leads_to_the_confirmation_url() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    let mut req = order_body(&body);
    req["merchant_urls"] = json!({"confirmation": "https://shop.example/done?oid={order.id}"});
    let r = ctx.create_order(&token, &req).await;
    let id = r.body["order_id"].as_str().unwrap();
    let redirect = r.body["redirect_url"].as_str().unwrap();
    let no_follow = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_follow.get(redirect).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("https://shop.example/done?oid={id}")
    );
}

fn return_fee_line(fee: i64) -> Value {
    json!({"type": "return_fee", "name": "Return fee", "quantity": 1, "unit_price": -fee,
           "tax_rate": 2500, "total_amount": -fee, "total_tax_amount": -fee / 5})
}

#[tokio::test]
async fn captures_keep_their_lines_shipping_info_and_references() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    let shipping = json!([{"shipping_company": "PostNord", "shipping_method": "Home",
        "tracking_number": "00370712345678901234",
        "tracking_uri": "https://tracking.example/00370712345678901234",
        "return_shipping_company": "PostNord", "return_tracking_number": "R-1"}]);
    let c = ctx
        .post(
            &om(&id, "/captures"),
            &json!({"captured_amount": 174_700, "reference": "SHIP-1",
                    "description": "All items shipped", "order_lines": lines_se(),
                    "shipping_info": shipping}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    let cid = c.header("capture-id").unwrap().to_owned();
    let read = ctx.get(&om(&id, &format!("/captures/{cid}"))).await;
    let typed: klarna_api::Capture = serde_json::from_str(&read.text).unwrap();
    assert_eq!(typed.reference.as_deref(), Some("SHIP-1"));
    assert_eq!(typed.order_lines.map(|l| l.len()), Some(2));
    assert_eq!(read.body["shipping_info"], shipping);
    // Lines that do not add up to the amount, or a return fee on a capture, are refused.
    let id = ctx.placed_order().await;
    let short = ctx
        .post(
            &om(&id, "/captures"),
            &json!({"captured_amount": 174_699, "order_lines": lines_se()}),
        )
        .await;
    assert_om_field_error(&short, "captured_amount");
    let mut with_fee = lines_se();
    with_fee
        .as_array_mut()
        .unwrap()
        .push(return_fee_line(4_900));
    let fee = ctx
        .post(
            &om(&id, "/captures"),
            &json!({"captured_amount": 169_800, "order_lines": with_fee}),
        )
        .await;
    assert_om_field_error(&fee, "order_lines[2].type");
    let long = ctx
        .post(
            &om(&id, "/captures"),
            &json!({"captured_amount": 1, "shipping_info": [{"tracking_number": "1".repeat(101)}]}),
        )
        .await;
    assert_om_field_error(&long, "shipping_info[0].tracking_number");
}

#[tokio::test]
async fn a_refund_with_a_return_fee_needs_the_order_captured_in_one_capture() {
    let ctx = Ctx::new().await;
    let shoe = lines_se()[0].clone();
    let body = json!({"refunded_amount": 164_800, "reference": "RET-1",
                      "order_lines": [shoe, return_fee_line(5_000)]});
    let split = ctx.placed_order().await;
    capture(&ctx, &split, 100_000).await;
    capture(&ctx, &split, 74_700).await;
    assert_error(
        &ctx.post(&om(&split, "/refunds"), &body).await,
        403,
        "REFUND_NOT_ALLOWED",
        "one capture",
    );
    let id = ctx.placed_order().await;
    assert_eq!(capture(&ctx, &id, 174_700).await.status, 201);
    let mismatch = json!({"refunded_amount": 169_800,
                          "order_lines": [lines_se()[0].clone(), return_fee_line(5_000)]});
    assert_om_field_error(
        &ctx.post(&om(&id, "/refunds"), &mismatch).await,
        "refunded_amount",
    );
    let r = ctx.post(&om(&id, "/refunds"), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rid = r.header("refund-id").unwrap().to_owned();
    let read = ctx.get(&om(&id, &format!("/refunds/{rid}"))).await;
    assert_eq!(read.body["refunded_amount"], 164_800);
    assert_eq!(read.body["reference"], "RET-1");
    assert_eq!(read.body["order_lines"][1]["type"], "return_fee");
    assert_eq!(ctx.order(&id).await["refunded_amount"], 164_800);
}

#[tokio::test]
async fn a_raised_authorization_raises_what_may_be_captured_unless_refused() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    capture(&ctx, &id, 100_000).await;
    let mut lines = lines_se();
    lines.as_array_mut().unwrap().push(json!({
        "type": "physical", "name": "Socks", "quantity": 1, "quantity_unit": "pair-pack",
        "unit_price": 25_300, "tax_rate": 2500, "total_amount": 25_300, "total_tax_amount": 5_060}));
    let upsell =
        json!({"order_amount": 200_000, "description": "Socks added", "order_lines": lines});
    ctx.sim.add_fault(klarna_simulator::FaultRule::new(
        "orders.update_authorization",
        1,
        klarna_simulator::Fault::Refuse,
    ));
    let refused = ctx.patch(&om(&id, "/authorization"), &upsell).await;
    assert_error(&refused, 403, "NOT_ALLOWED", "risk assessment");
    let o = ctx.order(&id).await;
    assert_eq!(
        (
            o["order_amount"].as_i64(),
            o["remaining_authorized_amount"].as_i64()
        ),
        (Some(174_700), Some(74_700))
    );
    let ok = ctx.patch(&om(&id, "/authorization"), &upsell).await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let o = ctx.order(&id).await;
    assert_eq!(o["order_amount"], 200_000);
    assert_eq!(o["remaining_authorized_amount"], 100_000);
    assert_eq!(o["order_lines"][2]["quantity_unit"], "pair-pack");
    assert_eq!(capture(&ctx, &id, 100_000).await.status, 201);
    assert_eq!(ctx.order(&id).await["status"], "CAPTURED");
}
