//! The Hosted Payment Page: Klarna's four HPP endpoints, the hosted page and its actions for
//! every status path (per `place_order_mode`), the status callbacks, final statuses and expiry.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::*;

/// A browser that does not follow redirects, so the `303` target is the assertion.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const SHOP: &str = "https://shop.example";

fn urls() -> Value {
    json!({
        "success": format!("{SHOP}/ok?hpp={{{{session_id}}}}&token={{{{authorization_token}}}}&order={{{{order_id}}}}"),
        "cancel": format!("{SHOP}/cancel?hpp={{{{session_id}}}}"),
        "back": format!("{SHOP}/back?hpp={{{{session_id}}}}"),
        "failure": format!("{SHOP}/fail?hpp={{{{session_id}}}}"),
        "error": format!("{SHOP}/error?hpp={{{{session_id}}}}"),
    })
}

/// A KP session and an HPP session on it: (kp id, hpp id, H1 answer).
async fn hpp(ctx: &Ctx, mode: Option<&str>, merchant_urls: Value) -> (String, String, Value) {
    let kp = ctx.create_session(&session_body("buy")).await;
    let mut body = json!({
        "payment_session_url": ctx.url(&format!("/payments/v1/sessions/{kp}")),
        "merchant_urls": merchant_urls,
    });
    if let Some(m) = mode {
        body["options"] = json!({"place_order_mode": m, "page_title": "Pay <b>now</b>"});
    }
    let r = ctx.post("/hpp/v1/sessions", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["session_id"].as_str().unwrap().to_owned();
    (kp, id, r.body)
}

async fn status(ctx: &Ctx, id: &str) -> Value {
    let r = ctx.get(&format!("/hpp/v1/sessions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Opens the page as a browser does: (status, HTML).
async fn open(ctx: &Ctx, id: &str) -> (u16, String) {
    let r = browser()
        .get(ctx.url(&format!("/hpp/pay/{id}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Clicks a button: (status, `Location`, body).
async fn click(ctx: &Ctx, id: &str, action: &str) -> (u16, Option<String>, String) {
    let r = browser()
        .post(ctx.url(&format!("/hpp/pay/{id}/{action}")))
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), location, r.text().await.unwrap())
}

#[tokio::test]
async fn create_answers_the_urls_and_an_expiry_one_hour_before_the_kp_session() {
    let ctx = Ctx::new().await;
    let (kp, id, created) = hpp(&ctx, Some("NONE"), urls()).await;
    let base = ctx.sim.base_url();
    assert_eq!(created["redirect_url"], format!("{base}/hpp/pay/{id}"));
    assert_eq!(
        created["session_url"],
        format!("{base}/hpp/v1/sessions/{id}")
    );
    assert_eq!(
        created["distribution_url"],
        format!("{base}/hpp/v1/sessions/{id}/distribution")
    );
    assert_eq!(created["qr_code_url"], format!("{base}/hpp/pay/{id}/qr"));
    let kp_expiry = ctx.get(&format!("/payments/v1/sessions/{kp}")).await.body["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(
        parse(&kp_expiry) - parse(created["expires_at"].as_str().unwrap()),
        time::Duration::hours(1)
    );
    let read = status(&ctx, &id).await;
    assert_eq!(read["status"], "WAITING");
    assert_eq!(read["session_id"], id.as_str());
    assert!(read.get("authorization_token").is_none());
    let state = ctx.sim.hpp_session(&id).unwrap();
    assert_eq!(state.payment_session_id, kp);
    assert_eq!(state.place_order_mode, "NONE");
}

#[tokio::test]
async fn create_validates_the_payment_session_url_and_merchant_urls() {
    let ctx = Ctx::new().await;
    let kp = ctx.create_session(&session_body("buy")).await;
    let kp_url = ctx.url(&format!("/payments/v1/sessions/{kp}"));
    let cases = [
        (json!({}), 400, "Bad value: payment_session_url"),
        (
            json!({"payment_session_url": 7}),
            400,
            "Bad value: payment_session_url",
        ),
        (
            json!({"payment_session_url": format!("https://api.klarna.com/payments/v1/sessions/{kp}")}),
            400,
            "Bad value: payment_session_url",
        ),
        (
            json!({"payment_session_url": ctx.url("/checkout/v3/orders/1")}),
            400,
            "Bad value: payment_session_url",
        ),
        (
            json!({"payment_session_url": ctx.url("/payments/v1/sessions/00000000-0000-4000-8000-000000000000")}),
            404,
            "Payment session has expired",
        ),
        (
            json!({"payment_session_url": kp_url, "merchant_urls": {"success": "not a url"}}),
            400,
            "Bad value: merchant_urls.success",
        ),
        (
            json!({"payment_session_url": kp_url, "merchant_urls": {"status_update": "ftp://x.example/"}}),
            400,
            "Bad value: merchant_urls.status_update",
        ),
        (
            json!({"payment_session_url": kp_url, "options": {"place_order_mode": "LATER"}}),
            400,
            "Bad value: options.place_order_mode",
        ),
    ];
    for (body, code, message) in cases {
        let r = ctx.post("/hpp/v1/sessions", &body).await;
        assert_eq!(r.status, code, "{body}: {}", r.text);
        assert_eq!(r.body["error_messages"][0], message, "{body}");
    }
    // Klarna's Basic auth, as on every path.
    let r = ctx
        .http
        .post(ctx.url("/hpp/v1/sessions"))
        .json(&json!({"payment_session_url": kp_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Less than an hour before the KP session expires, the HPP session would be born expired.
    ctx.sim.advance_clock(Duration::from_secs(47 * 3600));
    let r = ctx
        .post("/hpp/v1/sessions", &json!({"payment_session_url": kp_url}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn pay_with_mode_none_completes_with_the_token_for_the_merchant() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("NONE"), urls()).await;
    let (code, page) = open(&ctx, &id).await;
    assert_eq!(code, 200);
    for element in [
        "hpp-pay",
        "hpp-cancel",
        "hpp-back",
        "hpp-decline",
        "hpp-total",
    ] {
        assert!(page.contains(&format!("id=\"{element}\"")), "{element}");
    }
    assert!(page.contains("1747.00 SEK"), "total shown");
    assert!(page.contains("Trail running shoe"));
    assert!(page.contains("Pay &lt;b&gt;now&lt;/b&gt;"), "title escaped");
    assert!(!page.contains("<b>now</b>"));
    assert!(!page.contains("<script"));
    assert_eq!(status(&ctx, &id).await["status"], "IN_PROGRESS");

    let (code, location, _) = click(&ctx, &id, "pay").await;
    assert_eq!(code, 303);
    let read = status(&ctx, &id).await;
    assert_eq!(read["status"], "COMPLETED");
    let token = read["authorization_token"].as_str().unwrap().to_owned();
    assert!(read.get("order_id").is_none());
    assert_eq!(
        location.unwrap(),
        format!("{SHOP}/ok?hpp={id}&token={token}&order=")
    );
    assert!(ctx.sim.orders().is_empty(), "the merchant places the order");
    // The merchant can: the token is a live P5 authorization.
    let order = ctx
        .create_order(&token, &order_body(&session_body("buy")))
        .await;
    assert_eq!(order.status, 200, "{}", order.text);
    // Final: no second payment.
    let (code, _, page) = click(&ctx, &id, "pay").await;
    assert_eq!(code, 409);
    assert!(page.contains("id=\"hpp-closed\"") && !page.contains("id=\"hpp-pay\""));
}

#[tokio::test]
async fn pay_with_place_order_places_the_order_as_p5_would() {
    let ctx = Ctx::new().await;
    let (kp, id, _) = hpp(&ctx, Some("PLACE_ORDER"), urls()).await;
    open(&ctx, &id).await;
    let (code, location, _) = click(&ctx, &id, "pay").await;
    assert_eq!(code, 303);
    let read = status(&ctx, &id).await;
    assert_eq!(read["status"], "COMPLETED");
    let order_id = read["order_id"].as_str().unwrap().to_owned();
    let token = read["authorization_token"].as_str().unwrap().to_owned();
    assert_eq!(
        location.unwrap(),
        format!("{SHOP}/ok?hpp={id}&token={token}&order={order_id}")
    );
    let orders = ctx.sim.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_id, order_id);
    assert_eq!(orders[0].merchant_reference1.as_deref(), Some("pay-0001"));
    assert_eq!(orders[0].order_amount, 174_700);
    assert_eq!(orders[0].status, "AUTHORIZED");
    assert_eq!(orders[0].captured_amount, 0);
    // The token is consumed, and the KP session complete.
    let again = ctx
        .create_order(&token, &order_body(&session_body("buy")))
        .await;
    assert_eq!(again.status, 403, "{}", again.text);
    let kp_read = ctx.get(&format!("/payments/v1/sessions/{kp}")).await;
    assert_eq!(kp_read.body["status"], "complete");
}

#[tokio::test]
async fn pay_with_capture_order_captures_fully() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("CAPTURE_ORDER"), urls()).await;
    click(&ctx, &id, "pay").await;
    let read = status(&ctx, &id).await;
    assert_eq!(read["status"], "COMPLETED");
    let order = ctx.sim.order(read["order_id"].as_str().unwrap()).unwrap();
    assert_eq!(order.status, "CAPTURED");
    assert_eq!(order.captured_amount, 174_700);
    assert_eq!(order.captures, 1);
}

#[tokio::test]
async fn cancel_is_final() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("PLACE_ORDER"), urls()).await;
    open(&ctx, &id).await;
    let (code, location, _) = click(&ctx, &id, "cancel").await;
    assert_eq!(
        (code, location.unwrap()),
        (303, format!("{SHOP}/cancel?hpp={id}"))
    );
    assert_eq!(status(&ctx, &id).await["status"], "CANCELLED");
    for action in ["pay", "back", "decline", "cancel"] {
        let (code, location, page) = click(&ctx, &id, action).await;
        assert_eq!((code, location), (409, None), "{action}");
        assert!(page.contains("was cancelled"), "{action}");
    }
    let (code, page) = open(&ctx, &id).await;
    assert_eq!(code, 200);
    assert!(page.contains("id=\"hpp-closed\"") && !page.contains("id=\"hpp-pay\""));
    assert_eq!(
        status(&ctx, &id).await["status"],
        "CANCELLED",
        "opening changes nothing"
    );
    assert!(ctx.sim.orders().is_empty());
    assert_eq!(
        ctx.delete(&format!("/hpp/v1/sessions/{id}")).await.status,
        400
    );
}

#[tokio::test]
async fn back_and_decline_leave_the_page_open_for_another_try() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("PLACE_ORDER"), urls()).await;
    open(&ctx, &id).await;
    let (code, location, _) = click(&ctx, &id, "back").await;
    assert_eq!(
        (code, location.unwrap()),
        (303, format!("{SHOP}/back?hpp={id}"))
    );
    assert_eq!(status(&ctx, &id).await["status"], "BACK");
    open(&ctx, &id).await;
    assert_eq!(status(&ctx, &id).await["status"], "IN_PROGRESS");

    let (code, location, _) = click(&ctx, &id, "decline").await;
    assert_eq!(
        (code, location.unwrap()),
        (303, format!("{SHOP}/fail?hpp={id}"))
    );
    assert_eq!(status(&ctx, &id).await["status"], "FAILED");
    assert!(ctx.sim.orders().is_empty());
    let (_, page) = open(&ctx, &id).await;
    assert!(
        page.contains("id=\"hpp-pay\""),
        "still open after a decline"
    );
    assert_eq!(status(&ctx, &id).await["status"], "IN_PROGRESS");

    let (code, _, _) = click(&ctx, &id, "pay").await;
    assert_eq!(code, 303);
    assert_eq!(status(&ctx, &id).await["status"], "COMPLETED");
    assert_eq!(ctx.sim.orders().len(), 1);
}

#[tokio::test]
async fn without_merchant_urls_the_browser_lands_on_the_result_page() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("PLACE_ORDER"), json!({})).await;
    let (code, location, _) = click(&ctx, &id, "pay").await;
    assert_eq!(code, 303);
    let location = location.unwrap();
    assert_eq!(location, format!("/hpp/pay/{id}/result"));
    let page = browser()
        .get(ctx.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-status=\"COMPLETED\""), "{page}");
    assert!(page.contains(&ctx.sim.orders()[0].order_id));
}

#[tokio::test]
async fn disable_closes_the_session_but_not_a_completed_one() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, None, urls()).await;
    let r = ctx.delete(&format!("/hpp/v1/sessions/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(status(&ctx, &id).await["status"], "DISABLED");
    assert_eq!(
        ctx.delete(&format!("/hpp/v1/sessions/{id}")).await.status,
        204
    );
    let (_, page) = open(&ctx, &id).await;
    assert!(page.contains("disabled by the merchant"));
    assert_eq!(click(&ctx, &id, "pay").await.0, 409);
    let r = ctx
        .post(
            &format!("/hpp/v1/sessions/{id}/distribution"),
            &json!({"method": "email", "contact_information": {"email": "a@b.se"}}),
        )
        .await;
    assert_eq!(r.status, 400, "a disabled session is not distributed");

    let (_, done, _) = hpp(&ctx, None, urls()).await;
    click(&ctx, &done, "pay").await;
    let r = ctx.delete(&format!("/hpp/v1/sessions/{done}")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(status(&ctx, &done).await["status"], "COMPLETED");
    let unknown = ctx
        .delete("/hpp/v1/sessions/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn past_expiry_the_read_is_404_and_the_page_says_it_expired() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("PLACE_ORDER"), urls()).await;
    let (_, done, _) = hpp(&ctx, Some("NONE"), urls()).await;
    click(&ctx, &done, "pay").await;
    ctx.sim.advance_clock(Duration::from_secs(47 * 3600 - 60));
    assert_eq!(status(&ctx, &id).await["status"], "WAITING", "not yet");
    ctx.sim.advance_clock(Duration::from_secs(61));
    for session in [&id, &done] {
        let r = ctx.get(&format!("/hpp/v1/sessions/{session}")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        let (code, page) = open(&ctx, session).await;
        assert_eq!(code, 404);
        assert!(page.contains("id=\"hpp-expired\""), "{page}");
        assert!(!page.contains("id=\"hpp-pay\""));
        let (code, location, _) = click(&ctx, session, "pay").await;
        assert_eq!((code, location), (404, None));
    }
    assert!(ctx.sim.hpp_session(&id).unwrap().expired);
    assert!(ctx.sim.orders().is_empty());
    assert_eq!(
        ctx.delete(&format!("/hpp/v1/sessions/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn distribution_is_validated_and_recorded_not_sent() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, None, urls()).await;
    let path = format!("/hpp/v1/sessions/{id}/distribution");
    let cases = [
        (
            json!({"method": "email", "contact_information": {}}),
            "MISSING_CONTACT_DATA",
            "contact_information.email",
        ),
        (
            json!({"method": "email", "contact_information": {"email": "nope"}}),
            "CONSTRAINT_VIOLATION",
            "contact_information.email",
        ),
        (
            json!({"method": "sms", "contact_information": {"phone": "0700021234"}}),
            "MISSING_CONTACT_DATA",
            "contact_information.phone_country",
        ),
        (
            json!({"method": "sms", "contact_information": {"phone_country": "SE"}}),
            "MISSING_CONTACT_DATA",
            "contact_information.phone",
        ),
        (
            json!({"method": "sms", "contact_information": {"phone": "07", "phone_country": "SE"}}),
            "CONSTRAINT_VIOLATION",
            "contact_information.phone",
        ),
        (
            json!({"method": "sms", "contact_information": {"phone": "0700021234", "phone_country": "SWE"}}),
            "CONSTRAINT_VIOLATION",
            "contact_information.phone_country",
        ),
        (
            json!({"method": "pigeon", "contact_information": {}}),
            "CONSTRAINT_VIOLATION",
            "method",
        ),
        (
            json!({"method": "email"}),
            "MISSING_CONTACT_DATA",
            "contact_information",
        ),
    ];
    for (body, code, field) in cases {
        let r = ctx.post(&path, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["error_code"], code, "{body}");
        assert!(
            r.body["error_messages"][0]
                .as_str()
                .unwrap()
                .ends_with(field),
            "{body}: {}",
            r.text
        );
    }
    assert!(ctx.sim.hpp_session(&id).unwrap().distributions.is_empty());
    for body in [
        json!({"method": "email", "contact_information": {"email": "shopper@example.com"}}),
        json!({"method": "sms", "contact_information": {"phone": "07000212345", "phone_country": "SE"}}),
    ] {
        let r = ctx.post(&path, &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let recorded = ctx.get(&format!("/sim/hpp/{id}")).await.body;
    let d = recorded["distributions"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["method"], "email");
    assert_eq!(d[0]["contact_information"]["email"], "shopper@example.com");
    assert_eq!(d[1]["contact_information"]["phone_country"], "SE");
    assert_eq!(
        recorded["status"], "WAITING",
        "distribution is no status change"
    );
    // Personal data and the merchant's URLs stay out of the engine's Debug.
    let debug = format!("{:?}", ctx.sim.engine());
    assert!(!debug.contains("shopper@example.com") && !debug.contains("07000212345"));
    assert!(!debug.contains("shop.example/ok"), "merchant URLs shown");
    let unknown = ctx
        .post(
            "/hpp/v1/sessions/00000000-0000-4000-8000-000000000000/distribution",
            &json!({"method": "email", "contact_information": {"email": "a@b.se"}}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[derive(Clone)]
struct Hook(mpsc::UnboundedSender<Value>);

async fn hook(State(h): State<Hook>, axum::Json(body): axum::Json<Value>) -> StatusCode {
    let _ = h.0.send(body);
    StatusCode::OK
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("a status callback within 15 s")
        .unwrap()
}

#[tokio::test]
async fn every_status_change_posts_the_status_update_url() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/status", post(hook))
        .with_state(Hook(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let ctx = Ctx::new().await;
    let mut merchant_urls = urls();
    merchant_urls["status_update"] = json!(format!("http://{addr}/status?hpp={{{{session_id}}}}"));
    let (_, id, _) = hpp(&ctx, Some("PLACE_ORDER"), merchant_urls.clone()).await;

    open(&ctx, &id).await;
    let first = next(&mut rx).await;
    assert!(first["event_id"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(first["session"]["session_id"], id.as_str());
    assert_eq!(first["session"]["status"], "IN_PROGRESS");
    assert!(
        first["session"]["updated_at"].is_string() && first["session"]["expires_at"].is_string()
    );
    let typed: klarna_api::hpp::StatusUpdate = serde_json::from_value(first.clone()).unwrap();
    assert_eq!(
        typed.session.status,
        Some(klarna_api::hpp::HppStatus::InProgress)
    );

    click(&ctx, &id, "decline").await;
    assert_eq!(next(&mut rx).await["session"]["status"], "FAILED");
    click(&ctx, &id, "pay").await;
    let done = next(&mut rx).await;
    assert_eq!(done["session"]["status"], "COMPLETED");
    assert_eq!(
        done["session"]["order_id"],
        ctx.sim.orders()[0].order_id.as_str()
    );
    assert!(done["session"]["authorization_token"].is_string());
    assert_ne!(done["event_id"], first["event_id"]);

    let (_, other, _) = hpp(&ctx, None, merchant_urls).await;
    assert_eq!(
        ctx.delete(&format!("/hpp/v1/sessions/{other}"))
            .await
            .status,
        204
    );
    let disabled = next(&mut rx).await;
    assert_eq!(disabled["session"]["session_id"], other.as_str());
    assert_eq!(disabled["session"]["status"], "DISABLED");
}

#[tokio::test]
async fn the_pages_buttons_work_in_process_too() {
    let ctx = Ctx::new().await;
    let (_, id, _) = hpp(&ctx, Some("NONE"), urls()).await;
    assert!(ctx.sim.hpp_open(&id));
    assert!(!ctx.sim.hpp_open("00000000-0000-4000-8000-000000000000"));
    assert_eq!(ctx.sim.hpp_session(&id).unwrap().status, "IN_PROGRESS");
    let landed = ctx
        .sim
        .hpp_act(&id, klarna_simulator::HppPageAction::Cancel)
        .unwrap();
    assert_eq!(landed, Some(format!("{SHOP}/cancel?hpp={id}")));
    match ctx.sim.hpp_act(&id, klarna_simulator::HppPageAction::Pay) {
        Err(klarna_simulator::SimError::Refused { status, .. }) => assert_eq!(status, 409),
        other => panic!("a cancelled session pays: {other:?}"),
    }
    ctx.sim.advance_clock(Duration::from_secs(48 * 3600));
    match ctx.sim.hpp_act(&id, klarna_simulator::HppPageAction::Back) {
        Err(klarna_simulator::SimError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("an expired session acts: {other:?}"),
    }
}
