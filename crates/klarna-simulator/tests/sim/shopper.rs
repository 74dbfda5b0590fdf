//! The shopper's step as Klarna's JS SDK drives it: categories, `finalize`, fixable declines
//! and a cart passed in `authorize(…, data)`.

use std::time::Duration;

use klarna_simulator::{ShopperDecision, SimError};
use serde_json::{Value, json};

use crate::common::*;

/// The status and code of a refused simulator control call.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, SimError>) -> (u16, String, String) {
    match r {
        Err(SimError::Refused {
            status,
            code,
            message,
        }) => (status, code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn deferred_pay_now() -> ShopperDecision {
    ShopperDecision::approve()
        .in_category("pay_now")
        .without_auto_finalize()
}

#[tokio::test]
async fn sessions_offer_pay_later_pay_now_and_pay_over_time() {
    let ctx = Ctx::new().await;
    let r = ctx
        .post("/payments/v1/sessions", &session_body("buy"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["payment_method_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["klarna", "pay_now", "pay_over_time"]);
    let sid = r.body["session_id"].as_str().unwrap();
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(
        read.body["payment_method_categories"], r.body["payment_method_categories"],
        "P2 offers what P1 did"
    );
}

#[tokio::test]
async fn pay_over_time_authorizes_in_one_step_even_without_auto_finalize() {
    let ctx = Ctx::new().await;
    let body = session_body("buy");
    for decision in [
        ShopperDecision::approve().in_category("pay_over_time"),
        ShopperDecision::approve()
            .in_category("pay_over_time")
            .without_auto_finalize(),
    ] {
        let sid = ctx.create_session(&body).await;
        let out = ctx.sim.authorize(&sid, decision.clone()).unwrap();
        assert!(out.approved && out.show_form, "{decision:?}");
        assert!(!out.finalize_required, "{decision:?}");
        let token = out
            .authorization_token
            .unwrap_or_else(|| panic!("a token at once: {decision:?}"));
        let (status, code, _) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
        assert_eq!(
            (status, code.as_str()),
            (403, "INVALID_OPERATION"),
            "nothing awaits"
        );
        let r = ctx.create_order(&token, &order_body(&body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Over HTTP, as the stand-in posts it.
    let sid = ctx.create_session(&body).await;
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "payment_method_category": "pay_over_time", "auto_finalize": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["finalize_required"], false, "{}", r.text);
    assert!(
        r.body["authorization_token"].as_str().is_some(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn pay_now_without_auto_finalize_waits_for_finalize() {
    let ctx = Ctx::new().await;
    let body = session_body("buy");
    let sid = ctx.create_session(&body).await;
    let first = ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    assert!(first.approved);
    assert!(first.show_form);
    assert!(first.finalize_required);
    assert_eq!(first.authorization_token, None, "no token before finalize");
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body.get("authorization_token"), None, "{}", read.text);

    let done = ctx
        .sim
        .finalize(&sid, ShopperDecision::approve().in_category("pay_now"))
        .unwrap();
    assert!(done.approved);
    assert!(!done.finalize_required);
    let token = done.authorization_token.expect("finalize issues the token");
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["authorization_token"], token.as_str());
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn finalize_takes_the_awaited_category_when_none_is_named() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    let done = ctx.sim.finalize(&sid, ShopperDecision::approve()).unwrap();
    assert!(done.authorization_token.is_some());
}

#[tokio::test]
async fn pay_now_with_auto_finalize_and_pay_later_without_it_are_one_step() {
    let ctx = Ctx::new().await;
    for decision in [
        ShopperDecision::approve().in_category("pay_now"),
        ShopperDecision::approve()
            .in_category("klarna")
            .without_auto_finalize(),
        ShopperDecision {
            auto_finalize: Some(true),
            ..deferred_pay_now()
        },
    ] {
        let sid = ctx.create_session(&session_body("buy")).await;
        let out = ctx.sim.authorize(&sid, decision.clone()).unwrap();
        assert!(out.approved, "{decision:?}");
        assert!(!out.finalize_required, "{decision:?}");
        assert!(out.authorization_token.is_some(), "{decision:?}");
        // Nothing awaits finalize after a one-step authorization.
        let (status, code, _) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
        assert_eq!((status, code.as_str()), (403, "INVALID_OPERATION"));
    }
}

#[tokio::test]
async fn finalize_without_an_awaiting_authorization_is_refused() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let (status, code, message) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
    assert_eq!((status, code.as_str()), (403, "INVALID_OPERATION"));
    assert!(message.contains("finalize"), "{message}");

    // Once finalized, a second finalize has nothing to complete.
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    ctx.sim.finalize(&sid, ShopperDecision::approve()).unwrap();
    let (status, _, _) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_wait_for_finalize_ends_after_sixty_minutes() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    ctx.sim.advance_clock(Duration::from_secs(60 * 60));
    let (status, code, message) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
    assert_eq!((status, code.as_str()), (403, "INVALID_OPERATION"));
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn finalize_must_name_the_category_authorize_did() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    let (status, code, message) = refused(
        ctx.sim
            .finalize(&sid, ShopperDecision::approve().in_category("klarna")),
    );
    assert_eq!((status, code.as_str()), (400, "BAD_VALUE"));
    assert_eq!(message, "Bad value: payment_method_category");
    // The refusal left the wait in place.
    assert!(
        ctx.sim
            .finalize(&sid, ShopperDecision::approve().in_category("pay_now"))
            .unwrap()
            .authorization_token
            .is_some()
    );
}

#[tokio::test]
async fn an_unknown_category_is_refused_in_process_and_over_http() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let (status, code, message) = refused(
        ctx.sim
            .authorize(&sid, ShopperDecision::approve().in_category("pay_later")),
    );
    assert_eq!((status, code.as_str()), (400, "BAD_VALUE"));
    assert_eq!(message, "Bad value: payment_method_category");
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "payment_method_category": "card"}),
        )
        .await;
    assert_bad_value(&r, "payment_method_category");
    // Nothing was authorized by the refusals.
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body.get("authorization_token"), None);
}

#[tokio::test]
async fn an_approved_authorize_awaiting_finalize_replaces_the_earlier_token() {
    let ctx = Ctx::new().await;
    let body = session_body("buy");
    let sid = ctx.create_session(&body).await;
    let old = ctx.authorize(&sid);
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    let r = ctx.create_order(&old, &order_body(&body)).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn a_declined_finalize_ends_the_wait() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    let out = ctx.sim.finalize(&sid, ShopperDecision::decline()).unwrap();
    assert!(!out.approved);
    assert!(!out.show_form);
    assert_eq!(out.authorization_token, None);
    let (status, _, _) = refused(ctx.sim.finalize(&sid, ShopperDecision::approve()));
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_fixable_decline_names_the_fields_and_the_shopper_can_retry() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let out = ctx
        .sim
        .authorize(&sid, ShopperDecision::fixable(["billing_address.email"]))
        .unwrap();
    assert!(!out.approved);
    assert!(out.show_form, "fixable: the form stays");
    assert_eq!(out.invalid_fields, ["billing_address.email"]);
    assert_eq!(out.authorization_token, None);
    // The fields win over `approve`: the shopper has to correct them first.
    let out = ctx
        .sim
        .authorize(
            &sid,
            ShopperDecision {
                approve: true,
                ..ShopperDecision::fixable(["billing_address.phone"])
            },
        )
        .unwrap();
    assert!(!out.approved);
    assert_eq!(out.invalid_fields, ["billing_address.phone"]);
    let fixed = ctx.sim.authorize(&sid, ShopperDecision::approve()).unwrap();
    assert!(fixed.approved && fixed.authorization_token.is_some());
}

#[tokio::test]
async fn a_fixable_decline_over_http_has_klarnas_shape() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "invalid_fields": ["billing_address.email", "customer.date_of_birth"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"approved": false, "show_form": true,
               "error": {"invalid_fields": ["billing_address.email", "customer.date_of_birth"]}})
    );
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "invalid_fields": [""]}),
        )
        .await;
    assert_bad_value(&r, "invalid_fields");
}

#[tokio::test]
async fn a_fixable_finalize_keeps_the_wait_for_another_try() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    ctx.sim.authorize(&sid, deferred_pay_now()).unwrap();
    let out = ctx
        .sim
        .finalize(&sid, ShopperDecision::fixable(["billing_address.email"]))
        .unwrap();
    assert!(!out.approved && out.show_form);
    assert_eq!(out.invalid_fields, ["billing_address.email"]);
    let done = ctx.sim.finalize(&sid, ShopperDecision::approve()).unwrap();
    assert!(done.authorization_token.is_some());
}

#[tokio::test]
async fn finalize_over_http_answers_the_token_and_allows_cross_origin_calls() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "payment_method_category": "pay_now", "auto_finalize": false}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"approved": true, "show_form": true, "finalize_required": true}),
        "{}",
        r.text
    );
    let pre = ctx
        .http
        .request(
            reqwest::Method::OPTIONS,
            ctx.url(&format!("/sim/sessions/{sid}/finalize")),
        )
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/finalize"),
            &json!({"approve": true, "payment_method_category": "pay_now"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.body["approved"], true);
    assert!(r.body["authorization_token"].as_str().is_some());
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/finalize"),
            &json!({"approve": true}),
        )
        .await;
    assert_error(&r, 403, "INVALID_OPERATION", "awaits finalize");
}

/// A cart of one line: 1 × 50 000 at 25 % (tax 10 000).
fn one_line() -> Value {
    json!([{"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 1,
            "unit_price": 50_000, "tax_rate": 2500, "total_amount": 50_000,
            "total_discount_amount": 0, "total_tax_amount": 10_000}])
}

#[tokio::test]
async fn a_cart_passed_to_authorize_updates_the_session() {
    let ctx = Ctx::new().await;
    let body = session_body("buy");
    let sid = ctx.create_session(&body).await;
    let token = ctx
        .sim
        .authorize(
            &sid,
            ShopperDecision {
                order_amount: Some(50_000),
                order_tax_amount: Some(10_000),
                order_lines: Some(one_line()),
                ..ShopperDecision::approve()
            },
        )
        .unwrap()
        .authorization_token
        .unwrap();
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["order_amount"], 50_000, "{}", read.text);
    assert_eq!(read.body["order_tax_amount"], 10_000);
    assert_eq!(read.body["order_lines"], one_line());
    // The authorization is of the new cart: the old one no longer matches.
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_error(&r, 409, "BAD_VALUE", "Not matching fields");
    let mut new = order_body(&body);
    new["order_amount"] = json!(50_000);
    new["order_tax_amount"] = json!(10_000);
    new["order_lines"] = one_line();
    let r = ctx.create_order(&token, &new).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order = ctx.order(r.body["order_id"].as_str().unwrap()).await;
    assert_eq!(order["order_amount"], 50_000);
}

#[tokio::test]
async fn a_cart_passed_to_a_declined_authorize_still_updates_the_session() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let out = ctx
        .sim
        .authorize(
            &sid,
            ShopperDecision {
                order_amount: Some(50_000),
                order_tax_amount: Some(10_000),
                order_lines: Some(one_line()),
                ..ShopperDecision::decline()
            },
        )
        .unwrap();
    assert!(!out.approved);
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["order_amount"], 50_000, "{}", read.text);
}

#[tokio::test]
async fn an_inconsistent_cart_passed_to_authorize_is_refused_and_changes_nothing() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let r = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true, "order_amount": 50_001, "order_tax_amount": 10_000,
                    "order_lines": one_line()}),
        )
        .await;
    assert_bad_value(&r, "order_amount");
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["order_amount"], 174_700);
    assert_eq!(read.body.get("authorization_token"), None);
}
