//! Payments API (P1–P6): authentication, limits, sessions and authorizations (request validation: `validation.rs`).

use std::time::Duration;

use klarna_simulator::{ShopperDecision, Simulator};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_correlation_id() {
    let ctx = Ctx::new().await;
    let url = ctx.url("/payments/v1/sessions");
    let none = ctx
        .http
        .post(&url)
        .json(&session_body("buy"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("klarna-correlation-id"));
    let wrong = ctx
        .http
        .post(&url)
        .basic_auth("sim_user", Some("nope"))
        .json(&session_body("buy"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(ctx.sim.orders().is_empty());
}

#[tokio::test]
async fn builder_credentials_replace_the_defaults() {
    let sim = Simulator::builder()
        .credentials("merchant", "s3cret")
        .start()
        .await
        .unwrap();
    let http = client();
    let url = format!("{}/payments/v1/sessions", sim.base_url());
    let ok = http
        .post(&url)
        .basic_auth("merchant", Some("s3cret"))
        .json(&session_body("buy"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let default = http
        .post(&url)
        .basic_auth("sim_user", Some("sim_password"))
        .json(&session_body("buy"))
        .send()
        .await
        .unwrap();
    assert_eq!(default.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn default_credentials_are_documented_values() {
    let ctx = Ctx::new().await;
    assert_eq!(ctx.sim.username(), "sim_user");
    assert_eq!(ctx.sim.password(), "sim_password");
}

#[tokio::test]
async fn body_over_one_megabyte_gets_413() {
    let ctx = Ctx::new().await;
    let mut body = session_body("buy");
    body["merchant_data"] = Value::String("x".repeat(1024 * 1024 + 10));
    let r = ctx.post("/payments/v1/sessions", &body).await;
    assert_error(&r, 413, "REQUEST_TOO_LARGE", "1 MB");
}

#[tokio::test]
async fn malformed_json_gets_400_bad_request() {
    let ctx = Ctx::new().await;
    let r = read(
        ctx.http
            .post(ctx.url("/payments/v1/sessions"))
            .basic_auth("sim_user", Some("sim_password"))
            .header("content-type", "application/json")
            .body("{\"purchase_country\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 400, "BAD_REQUEST", "Malformed JSON");
}

#[tokio::test]
async fn session_create_read_update_round_trip_with_klarna_api_models() {
    let ctx = Ctx::new().await;
    let r = ctx
        .post("/payments/v1/sessions", &session_body("buy"))
        .await;
    let created: klarna_api::MerchantSession = serde_json::from_str(&r.text).unwrap();
    let read = ctx
        .get(&format!("/payments/v1/sessions/{}", created.session_id))
        .await;
    assert_eq!(read.status, 200);
    let typed: klarna_api::SessionRead = serde_json::from_str(&read.text).unwrap();
    assert_eq!(typed.order_amount, Some(174_700));
    assert_eq!(read.body["status"], "incomplete");
    assert!(read.body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(read.body["client_token"], created.client_token.as_str());

    let mut update =
        json!({"order_lines": lines_se(), "order_amount": 174_700, "order_tax_amount": 34_940});
    update["order_lines"][1]["unit_price"] = json!(9800);
    update["order_lines"][1]["total_amount"] = json!(9800);
    update["order_lines"][1]["total_tax_amount"] = json!(1960);
    update["order_amount"] = json!(179_600);
    update["order_tax_amount"] = json!(35_920);
    let u = ctx
        .post(
            &format!("/payments/v1/sessions/{}", created.session_id),
            &update,
        )
        .await;
    assert_eq!(u.status, 204, "{}", u.text);
    assert!(u.header("klarna-correlation-id").is_some());
    let read = ctx
        .get(&format!("/payments/v1/sessions/{}", created.session_id))
        .await;
    assert_eq!(read.body["order_amount"], 179_600);

    // An update is validated like a create, on the merged session.
    let bad = ctx
        .post(
            &format!("/payments/v1/sessions/{}", created.session_id),
            &json!({"order_amount": 1}),
        )
        .await;
    assert_bad_value(&bad, "order_amount");
}

#[tokio::test]
async fn sessions_expire_48_hours_after_creation_whatever_the_updates() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let path = format!("/payments/v1/sessions/{sid}");
    let created = ctx.get(&path).await.body["expires_at"].clone();
    ctx.sim.advance_clock(Duration::from_secs(47 * 3600));
    assert_eq!(ctx.get(&path).await.status, 200);
    // An update does not extend the 48 hours (API.md §11.8).
    assert_eq!(
        ctx.post(&path, &json!({"merchant_reference2": "x"}))
            .await
            .status,
        204
    );
    assert_eq!(ctx.get(&path).await.body["expires_at"], created);
    ctx.sim.advance_clock(Duration::from_secs(3600 - 1));
    assert_eq!(ctx.get(&path).await.status, 200);
    ctx.sim.advance_clock(Duration::from_secs(1));
    assert_error(
        &ctx.get(&path).await,
        404,
        "NOT_FOUND",
        "Invalid session id",
    );
    assert_error(
        &ctx.post(&path, &json!({})).await,
        404,
        "NOT_FOUND",
        "Invalid session id",
    );
    assert!(ctx.sim.authorize(&sid, ShopperDecision::approve()).is_err());
}

#[tokio::test]
async fn clock_advance_endpoint_moves_time() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let r = ctx
        .sim_post("/sim/clock/advance", &json!({"seconds": 49 * 3600}))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["now"].is_string());
    assert_eq!(
        ctx.get(&format!("/payments/v1/sessions/{sid}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn unknown_session_is_404() {
    let ctx = Ctx::new().await;
    assert_error(
        &ctx.get("/payments/v1/sessions/5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d")
            .await,
        404,
        "NOT_FOUND",
        "Invalid session id",
    );
}

#[tokio::test]
async fn an_order_completes_the_session() {
    let ctx = Ctx::new().await;
    let (sid, token, body) = ctx.authorized("buy").await;
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let typed: klarna_api::payments::Order = serde_json::from_str(&r.text).unwrap();
    assert!(!typed.order_id.is_empty());
    assert_eq!(r.body["fraud_status"], "ACCEPTED");
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["status"], "complete");
    let upd = ctx
        .post(
            &format!("/payments/v1/sessions/{sid}"),
            &json!({"merchant_reference2": "x"}),
        )
        .await;
    assert_error(&upd, 404, "SESSION_COMPLETED", "already been completed");
    assert!(ctx.sim.authorize(&sid, ShopperDecision::approve()).is_err());
    let order = &ctx.sim.orders()[0];
    assert_eq!(order.merchant_reference1.as_deref(), Some("pay-0001"));
    assert_eq!(order.order_id, typed.order_id);
}

#[tokio::test]
async fn an_authorization_token_places_one_order() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    let path = format!("/payments/v1/authorizations/{token}/order");
    assert_eq!(ctx.post(&path, &order_body(&body)).await.status, 200);
    let again = ctx.post(&path, &order_body(&body)).await;
    assert_error(
        &again,
        403,
        "INVALID_OPERATION",
        "Authorization token already consumed",
    );
    assert_eq!(ctx.sim.orders().len(), 1);
}

#[tokio::test]
async fn authorization_tokens_expire_after_60_minutes() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    ctx.sim.advance_clock(Duration::from_secs(60 * 60 + 1));
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_error(&r, 404, "NOT_FOUND", "Invalid authorization token");
}

#[tokio::test]
async fn a_token_just_under_60_minutes_old_still_works() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    ctx.sim.advance_clock(Duration::from_secs(59 * 60));
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn reauthorization_replaces_the_token() {
    let ctx = Ctx::new().await;
    let (sid, old, body) = ctx.authorized("buy").await;
    let new = ctx.authorize(&sid);
    assert_ne!(old, new);
    let r = ctx.create_order(&old, &order_body(&body)).await;
    assert_error(&r, 404, "NOT_FOUND", "Invalid authorization token");
    let r = ctx.create_order(&new, &order_body(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_cart_that_differs_from_the_authorized_one_is_409() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    let path = format!("/payments/v1/authorizations/{token}/order");
    let mut changed = order_body(&body);
    changed["order_lines"][1]["unit_price"] = json!(5900);
    changed["order_lines"][1]["total_amount"] = json!(5900);
    changed["order_lines"][1]["total_tax_amount"] = json!(1180);
    changed["order_amount"] = json!(175_700);
    changed["order_tax_amount"] = json!(35_140);
    let r = ctx.post(&path, &changed).await;
    assert_error(
        &r,
        409,
        "BAD_VALUE",
        "Not matching fields: [order_amount, order_tax_amount, order_lines[1].unit_price",
    );

    let mut other_currency = order_body(&body);
    other_currency["purchase_country"] = json!("FI");
    other_currency["purchase_currency"] = json!("EUR");
    other_currency["locale"] = json!("fi-FI");
    let r = ctx.post(&path, &other_currency).await;
    assert_error(&r, 409, "BAD_VALUE", "purchase_country, purchase_currency");

    let mut fewer = order_body(&body);
    fewer["order_lines"] = json!([lines_se()[0].clone()]);
    fewer["order_amount"] = json!(169_800);
    fewer["order_tax_amount"] = json!(33_960);
    let r = ctx.post(&path, &fewer).await;
    assert_error(
        &r,
        409,
        "BAD_VALUE",
        "Incorrect number of items in the cart. Expected: 2, Actual: 1",
    );
    // The refusals did not consume the token.
    assert_eq!(ctx.post(&path, &order_body(&body)).await.status, 200);
}

#[tokio::test]
async fn billing_address_must_match_the_authorized_one() {
    let ctx = Ctx::new().await;
    let body = session_body("buy");
    let sid = ctx.create_session(&body).await;
    let billing = json!({"given_name": "Maja", "family_name": "Lindqvist", "postal_code": "111 34", "country": "SE"});
    let token = ctx
        .sim
        .authorize(
            &sid,
            ShopperDecision {
                approve: true,
                billing_address: Some(billing.clone()),
                ..ShopperDecision::default()
            },
        )
        .unwrap()
        .authorization_token
        .unwrap();
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["billing_address"]["postal_code"], "111 34");
    let mut req = order_body(&body);
    req["billing_address"] = billing.clone();
    req["billing_address"]["postal_code"] = json!("111 35");
    let r = ctx.create_order(&token, &req).await;
    assert_error(&r, 409, "BAD_VALUE", "billing_address.postal_code");
    req["billing_address"] = billing;
    assert_eq!(ctx.create_order(&token, &req).await.status, 200);
}

#[tokio::test]
async fn customer_token_on_intent_buy_is_403() {
    let ctx = Ctx::new().await;
    let (_, token, _) = ctx.authorized("buy").await;
    let r = ctx.create_token(&token).await;
    assert_error(
        &r,
        403,
        "INVALID_OPERATION",
        "Not allowed to create customer token for intent buy",
    );
}

#[tokio::test]
async fn tokenize_yields_a_customer_token_and_no_order() {
    let ctx = Ctx::new().await;
    let (sid, token, body) = ctx.authorized("tokenize").await;
    let r = ctx.create_token(&token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let typed: klarna_api::CustomerTokenCreationResponse = serde_json::from_str(&r.text).unwrap();
    assert!(!typed.token_id.is_empty());
    let again = ctx.create_token(&token).await;
    assert_error(&again, 403, "INVALID_OPERATION", "already consumed");
    let order = ctx.create_order(&token, &order_body(&body)).await;
    assert_error(&order, 403, "INVALID_OPERATION", "intent tokenize");
    assert_eq!(
        ctx.get(&format!("/payments/v1/sessions/{sid}")).await.body["status"],
        "complete"
    );
    let t1 = ctx
        .get(&format!("/customer-token/v1/tokens/{}", typed.token_id))
        .await;
    assert_eq!(t1.body["status"], "ACTIVE");
}

#[tokio::test]
async fn customer_token_request_is_validated() {
    let ctx = Ctx::new().await;
    let (_, token, _) = ctx.authorized("tokenize").await;
    let path = format!("/payments/v1/authorizations/{token}/customer-token");
    let mut b = customer_token_body();
    b.as_object_mut().unwrap().remove("description");
    assert_bad_value(&ctx.post(&path, &b).await, "description");
    let mut b = customer_token_body();
    b["intended_use"] = json!("GIFT");
    assert_bad_value(&ctx.post(&path, &b).await, "intended_use");
    let mut b = customer_token_body();
    b["purchase_country"] = json!("FI");
    b["purchase_currency"] = json!("EUR");
    b["locale"] = json!("fi-FI");
    assert_error(
        &ctx.post(&path, &b).await,
        409,
        "BAD_VALUE",
        "Not matching fields: [purchase_country, purchase_currency]",
    );
}

#[tokio::test]
async fn buy_and_tokenize_takes_the_token_first_then_one_order() {
    let ctx = Ctx::new().await;
    let (sid, token, body) = ctx.authorized("buy_and_tokenize").await;
    // P6 first (Klarna's recurring guide, the WooCommerce integration): the session stays open.
    let t = ctx.create_token(&token).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["status"], "incomplete");
    let t2 = ctx.create_token(&token).await;
    assert_error(&t2, 403, "INVALID_OPERATION", "already consumed");
    // Then P5 on the same authorization.
    let o = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(o.status, 200, "{}", o.text);
    let read = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(read.body["status"], "complete");
    let o2 = ctx.create_order(&token, &order_body(&body)).await;
    assert_error(&o2, 403, "INVALID_OPERATION", "already consumed");
    assert_eq!(ctx.sim.orders().len(), 1);
    assert_eq!(ctx.sim.engine().population().customer_tokens, 1);
}

#[tokio::test]
async fn an_order_consumes_the_authorization_so_a_later_customer_token_is_refused() {
    let ctx = Ctx::new().await;
    let (sid, token, body) = ctx.authorized("buy_and_tokenize").await;
    let o = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(o.status, 200, "{}", o.text);
    assert_eq!(
        ctx.get(&format!("/payments/v1/sessions/{sid}")).await.body["status"],
        "complete"
    );
    // P5 then P6 on one authorization: refused, same key or not, and no token is made.
    for key in [None, Some("p6-after-p5")] {
        let t = ctx
            .send(
                reqwest::Method::POST,
                &format!("/payments/v1/authorizations/{token}/customer-token"),
                Some(&customer_token_body()),
                key,
            )
            .await;
        assert_error(
            &t,
            403,
            "INVALID_OPERATION",
            "Authorization token already consumed",
        );
    }
    assert_eq!(ctx.sim.engine().population().customer_tokens, 0);
}

#[tokio::test]
async fn cancelling_an_authorization_makes_the_token_unusable() {
    let ctx = Ctx::new().await;
    let (sid, token, body) = ctx.authorized("buy").await;
    let r = ctx
        .delete(&format!("/payments/v1/authorizations/{token}"))
        .await;
    assert_eq!(r.status, 204);
    assert!(r.header("klarna-correlation-id").is_some());
    let o = ctx.create_order(&token, &order_body(&body)).await;
    assert_error(&o, 404, "NOT_FOUND", "Invalid authorization token");
    assert_error(
        &ctx.delete(&format!("/payments/v1/authorizations/{token}"))
            .await,
        404,
        "NOT_FOUND",
        "Invalid authorization token",
    );
    // The session can be authorized again.
    let again = ctx.authorize(&sid);
    assert_eq!(
        ctx.create_order(&again, &order_body(&body)).await.status,
        200
    );
}

#[tokio::test]
async fn a_consumed_authorization_cannot_be_deleted() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    ctx.create_order(&token, &order_body(&body)).await;
    assert_error(
        &ctx.delete(&format!("/payments/v1/authorizations/{token}"))
            .await,
        404,
        "NOT_FOUND",
        "cannot be deleted",
    );
}

#[tokio::test]
async fn shopper_endpoint_approves_and_declines() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let declined = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": false}),
        )
        .await;
    assert_eq!(
        declined.body,
        json!({"approved": false, "show_form": false})
    );
    let approved = ctx
        .sim_post(
            &format!("/sim/sessions/{sid}/authorize"),
            &json!({"approve": true}),
        )
        .await;
    assert_eq!(approved.status, 200);
    assert_eq!(approved.body["approved"], true);
    assert_eq!(approved.body["finalize_required"], false);
    assert!(approved.body["authorization_token"].is_string());
    let missing = ctx
        .sim_post(
            "/sim/sessions/5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d/authorize",
            &json!({"approve": true}),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn errors_parse_as_klarna_api_error_response() {
    let ctx = Ctx::new().await;
    let r = ctx.get("/ordermanagement/v1/orders/not-an-order").await;
    let e: klarna_api::ErrorResponse = serde_json::from_str(&r.text).unwrap();
    assert_eq!(e.error_code.as_deref(), Some("INVALID_ORDER_ID"));
    assert_eq!(
        e.correlation_id.as_deref(),
        r.header("klarna-correlation-id")
    );
}

#[tokio::test]
async fn every_documented_intent_is_accepted_and_read_back() {
    // payments-v1.yml's `intent` enum: buy, tokenize, buy_and_tokenize.
    let ctx = Ctx::new().await;
    for intent in ["buy", "tokenize", "buy_and_tokenize"] {
        let sid = ctx.create_session(&session_body(intent)).await;
        let r = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
        assert_eq!(r.body["intent"], intent, "{}", r.text);
    }
    let r = ctx
        .post("/payments/v1/sessions", &session_body("subscribe"))
        .await;
    assert_bad_value(&r, "intent");
}

#[tokio::test]
async fn payments_addresses_cap_city_region_organization_and_attention_at_99() {
    let ctx = Ctx::new().await;
    for field in ["city", "region", "organization_name", "attention"] {
        let mut body = session_body("buy");
        body["billing_address"] = json!({field: "x".repeat(99), "country": "SE"});
        let r = ctx.post("/payments/v1/sessions", &body).await;
        assert_eq!(r.status, 200, "{field}: {}", r.text);
        body["billing_address"][field] = json!("x".repeat(100));
        let r = ctx.post("/payments/v1/sessions", &body).await;
        assert_bad_value(&r, &format!("billing_address.{field}"));
    }
}

#[tokio::test]
async fn a_session_read_answers_only_what_klarnas_read_schema_documents() {
    let ctx = Ctx::new().await;
    let mut body = session_body("buy");
    body["customer"] = json!({
        "date_of_birth": "1980-01-01",
        "national_identification_number": "198001011234",
        "last_four_ssn": "1234",
    });
    body["billing_address"] = json!({"given_name": "Ada", "country": "SE", "nickname": "A"});
    body["not_a_klarna_field"] = json!("x");
    let sid = ctx.create_session(&body).await;
    let r = ctx.get(&format!("/payments/v1/sessions/{sid}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["customer"], json!({"date_of_birth": "1980-01-01"}));
    assert_eq!(
        r.body["billing_address"],
        json!({"given_name": "Ada", "country": "SE"})
    );
    assert!(r.body.get("not_a_klarna_field").is_none(), "{}", r.text);
    assert!(!r.text.contains("198001011234"), "{}", r.text);
}
