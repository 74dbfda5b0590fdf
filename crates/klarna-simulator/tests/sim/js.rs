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
