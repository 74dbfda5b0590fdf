//! The JavaScript stand-in and the client token it reads.

use base64::Engine as _;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn the_js_stand_in_is_served() {
    let ctx = Ctx::new().await;
    let r = ctx
        .http
        .get(ctx.url("/sim/js/klarna-payments.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    let text = r.text().await.unwrap();
    for needle in [
        "Klarna.Payments",
        "init:",
        "load:",
        "authorize:",
        "/sim/sessions/",
        "KLARNA_SIM_DECLINE",
        "KLARNA_SIM_INVALID_FIELDS",
        "show_form: true",
        "finalize:",
        "send(\"finalize\"",
        "auto_finalize",
        "window.klarnaAsyncCallback()",
        "ApplicationNotLoadedError",
        "PaymentMethodCategoryNotProvidedError",
        "PaymentMethodCategoryNotSupportedError",
        "InvalidContainerSelectorError",
        "order_lines",
        "KLARNA_SIM_HEADLESS",
        "sessionUrl(\"summary\")",
        "klarna-sim-modal",
        "aria-modal",
        "klarna-sim-pay",
        "klarna-sim-confirm",
        "klarna-sim-decline",
        "klarna-sim-close",
        "pay_over_time",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
}

#[tokio::test]
async fn the_client_token_payload_names_the_session_and_the_simulator() {
    let ctx = Ctx::new().await;
    let r = ctx
        .post("/payments/v1/sessions", &session_body("buy"))
        .await;
    let token = r.body["client_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["session_id"], r.body["session_id"]);
    assert_eq!(payload["base_url"], ctx.sim.base_url());
    let offered: Vec<&Value> = r.body["payment_method_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["identifier"])
        .collect();
    let in_token: Vec<&Value> = payload["payment_method_categories"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        in_token, offered,
        "the stand-in checks categories from the token"
    );
}

#[tokio::test]
async fn the_shopper_endpoint_allows_cross_origin_calls() {
    let ctx = Ctx::new().await;
    let sid = ctx.create_session(&session_body("buy")).await;
    let pre = ctx
        .http
        .request(
            reqwest::Method::OPTIONS,
            ctx.url(&format!("/sim/sessions/{sid}/authorize")),
        )
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    let r = ctx
        .http
        .post(ctx.url(&format!("/sim/sessions/{sid}/authorize")))
        .json(&serde_json::json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

/// A session with a shopper: the billing address and customer the merchant sent in P1.
fn session_with_shopper() -> Value {
    let mut body = session_body("buy");
    body["billing_address"] = serde_json::json!({
        "given_name": "Testperson-se", "family_name": "Approved", "email": "customer@email.se",
        "street_address": "Stårgatan 1", "postal_code": "12345", "city": "Ankeborg",
        "phone": "+46765260000", "country": "SE", "not_an_address_field": "kept out"
    });
    body["customer"] = serde_json::json!({"date_of_birth": "1970-01-01", "type": "person"});
    body
}

async fn summary(ctx: &Ctx, sid: &str, authorization: Option<&str>) -> Resp {
    let mut req = ctx
        .http
        .get(ctx.url(&format!("/sim/sessions/{sid}/summary")));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    read(req.send().await.unwrap()).await
}

/// P1: (session id, client token).
async fn session_and_token(ctx: &Ctx, body: &Value) -> (String, String) {
    let r = ctx.post("/payments/v1/sessions", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.body["session_id"].as_str().unwrap().to_owned(),
        r.body["client_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_summary_shows_the_token_holder_the_cart_the_categories_and_the_shopper() {
    let ctx = Ctx::new().await;
    let (sid, token) = session_and_token(&ctx, &session_with_shopper()).await;
    let r = summary(&ctx, &sid, Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        r.body,
        serde_json::json!({
            "purchase_currency": "SEK",
            "locale": "sv-SE",
            "order_amount": 174_700,
            "order_tax_amount": 34_940,
            "order_lines": [
                {"name": "Trail running shoe", "quantity": 2, "total_amount": 169_800},
                {"name": "Standard delivery", "quantity": 1, "total_amount": 4900}
            ],
            "payment_method_categories": [
                {"identifier": "klarna", "name": "Pay with Klarna (simulator)", "needs_finalize": false},
                {"identifier": "pay_now", "name": "Pay now (simulator)", "needs_finalize": true},
                {"identifier": "pay_over_time", "name": "Pay in parts / financing (simulator)", "needs_finalize": false}
            ],
            // The address as P2 shows it; of the customer not the date of birth.
            "billing_address": {
                "given_name": "Testperson-se", "family_name": "Approved", "email": "customer@email.se",
                "street_address": "Stårgatan 1", "postal_code": "12345", "city": "Ankeborg",
                "phone": "+46765260000", "country": "SE"
            },
            "customer": {"type": "person"}
        }),
        "{}",
        r.text
    );

    // Without a shopper the summary has no `billing_address` or `customer`, and a cart passed
    // to authorize(…, data) is the session's afterwards.
    let (sid, token) = session_and_token(&ctx, &session_body("buy")).await;
    let cart = serde_json::json!({"approve": false, "order_amount": 50_000, "order_tax_amount": 10_000,
        "order_lines": [{"name": "Socks", "quantity": 5, "unit_price": 10_000, "tax_rate": 2500,
                         "total_amount": 50_000, "total_tax_amount": 10_000}]});
    let a = ctx
        .sim_post(&format!("/sim/sessions/{sid}/authorize"), &cart)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = summary(&ctx, &sid, Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["order_amount"], 50_000);
    assert_eq!(
        r.body["order_lines"],
        serde_json::json!([{"name": "Socks", "quantity": 5, "total_amount": 50_000}])
    );
    assert!(r.body.get("billing_address").is_none(), "{}", r.text);
    assert!(r.body.get("customer").is_none(), "{}", r.text);
}

#[tokio::test]
async fn the_summary_needs_the_sessions_own_client_token() {
    let ctx = Ctx::new().await;
    let (sid, token) = session_and_token(&ctx, &session_with_shopper()).await;
    let (_, other) = session_and_token(&ctx, &session_body("buy")).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            ctx.sim.username(),
            ctx.sim.password()
        ))
    );
    for authorization in [
        None,
        Some(String::new()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer {other}")),
        Some(format!("Bearer {token}x")),
        Some(token.clone()),
        Some(basic),
    ] {
        let r = summary(&ctx, &sid, authorization.as_deref()).await;
        assert_error(&r, 401, "UNAUTHORIZED", "client token");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"Klarna simulator\"")
        );
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(
            !r.text.contains("Testperson"),
            "{authorization:?}: {}",
            r.text
        );
    }
    // An unknown or malformed session id, and a session past its 48 hours: 404.
    let unknown = "2b1a3e3c-1f7e-4d0a-9d2a-7c1f2b3a4d5e";
    for id in [unknown, "not-a-session"] {
        let r = summary(&ctx, id, Some(&format!("Bearer {token}"))).await;
        assert_error(&r, 404, "NOT_FOUND", "Invalid session id");
    }
    ctx.sim
        .advance_clock(std::time::Duration::from_secs(48 * 3600));
    let r = summary(&ctx, &sid, Some(&format!("Bearer {token}"))).await;
    assert_error(&r, 404, "NOT_FOUND", "Invalid session id");
}

#[tokio::test]
async fn the_summary_allows_cross_origin_calls_with_a_bearer_token() {
    let ctx = Ctx::new().await;
    let (sid, _) = session_and_token(&ctx, &session_body("buy")).await;
    let pre = ctx
        .http
        .request(
            reqwest::Method::OPTIONS,
            ctx.url(&format!("/sim/sessions/{sid}/summary")),
        )
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("GET"), "{methods}");
    let headers = h["access-control-allow-headers"].to_str().unwrap();
    assert!(headers.contains("authorization"), "{headers}");
}
