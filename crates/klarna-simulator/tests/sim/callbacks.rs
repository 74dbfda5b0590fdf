//! Callbacks to the merchant: the authorization callback and the fraud notification.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use klarna_simulator::{FraudDecision, ShopperDecision};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::*;

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<(Option<String>, Value)>,
    /// Number of initial requests to refuse with 500.
    refuse_first: Arc<AtomicUsize>,
}

async fn receive(
    State(r): State<Receiver>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    axum::Json(body): axum::Json<Value>,
) -> StatusCode {
    let left = r.refuse_first.load(Ordering::SeqCst);
    if left > 0 {
        r.refuse_first.store(left - 1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let _ = r.tx.send((q.get("oid").cloned(), body));
    StatusCode::OK
}

/// A merchant endpoint on 127.0.0.1:0: returns its base URL and the channel of received bodies.
async fn merchant(
    refuse_first: usize,
) -> (String, mpsc::UnboundedReceiver<(Option<String>, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        tx,
        refuse_first: Arc::new(AtomicUsize::new(refuse_first)),
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx)
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(Option<String>, Value)>,
) -> (Option<String>, Value) {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("callback did not arrive in time")
        .expect("receiver closed")
}

#[tokio::test]
async fn authorization_callback_carries_the_token() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(0).await;
    let mut body = session_body("buy");
    body["merchant_urls"] = json!({"authorization": format!("{base}/hook")});
    let sid = ctx.create_session(&body).await;
    let token = ctx.authorize(&sid);
    let (_, got) = next(&mut rx).await;
    let typed: klarna_api::AuthorizationCallback = serde_json::from_value(got).unwrap();
    assert_eq!(typed.authorization_token, token);
    assert_eq!(typed.session_id, sid);
}

#[tokio::test]
async fn authorization_callback_is_retried_after_a_failure() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(1).await;
    let mut body = session_body("buy");
    body["merchant_urls"] = json!({"authorization": format!("{base}/hook")});
    let sid = ctx.create_session(&body).await;
    let token = ctx.authorize(&sid);
    let (_, got) = next(&mut rx).await;
    assert_eq!(got["authorization_token"], token.as_str());
}

#[tokio::test]
async fn the_authorization_callback_waits_for_finalize() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(0).await;
    let mut body = session_body("buy");
    body["merchant_urls"] = json!({"authorization": format!("{base}/hook")});
    let sid = ctx.create_session(&body).await;
    let pending = ctx
        .sim
        .authorize(
            &sid,
            ShopperDecision::approve()
                .in_category("pay_now")
                .without_auto_finalize(),
        )
        .unwrap();
    assert!(pending.finalize_required);
    let token = ctx
        .sim
        .finalize(&sid, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let (_, got) = next(&mut rx).await;
    assert_eq!(
        got["authorization_token"],
        token.as_str(),
        "the first callback is finalize's"
    );
    assert_eq!(got["session_id"], sid.as_str());
}

#[tokio::test]
async fn fraud_decision_notifies_the_merchant() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(0).await;
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
    let mut req = order_body(&body);
    req["merchant_urls"] = json!({"notification": format!("{base}/hook?oid={{order.id}}")});
    let r = ctx.create_order(&token, &req).await;
    let id = r.body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["fraud_status"], "PENDING");

    let resolve = ctx
        .sim_post(
            &format!("/sim/orders/{id}/fraud"),
            &json!({"decision": "ACCEPTED"}),
        )
        .await;
    assert_eq!(resolve.status, 204, "{}", resolve.text);
    let (oid, got) = next(&mut rx).await;
    assert_eq!(
        oid.as_deref(),
        Some(id.as_str()),
        "{{order.id}} is substituted"
    );
    let typed: klarna_api::FraudNotification = serde_json::from_value(got).unwrap();
    assert_eq!(typed.order_id, id);
    assert_eq!(
        typed.event_type,
        Some(klarna_api::NotificationEventType::FraudRiskAccepted)
    );
}

#[tokio::test]
async fn rejection_notifies_with_the_session_notification_url() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(0).await;
    let mut body = session_body("buy");
    body["merchant_urls"] = json!({"notification": format!("{base}/hook")});
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
    let id = r.body["order_id"].as_str().unwrap().to_owned();
    ctx.sim.resolve_fraud(&id, FraudDecision::Rejected).unwrap();
    let (_, got) = next(&mut rx).await;
    assert_eq!(
        got,
        json!({"order_id": id, "event_type": "FRAUD_RISK_REJECTED"})
    );
}

/// Klarna stops an accepted order: `FRAUD_RISK_STOPPED` is sent, the order reads `STOPPED`
/// and is not cancelled, captures are refused; `ACCEPTED` lifts the stop.
#[tokio::test]
async fn stopping_an_accepted_order_notifies_and_refuses_captures() {
    let ctx = Ctx::new().await;
    let (base, mut rx) = merchant(0).await;
    let mut body = session_body("buy");
    body["merchant_urls"] = json!({"notification": format!("{base}/hook")});
    let sid = ctx.create_session(&body).await;
    let token = ctx.authorize(&sid);
    let r = ctx.create_order(&token, &order_body(&body)).await;
    assert_eq!(r.body["fraud_status"], "ACCEPTED");
    let id = r.body["order_id"].as_str().unwrap().to_owned();
    let stop = ctx
        .sim_post(
            &format!("/sim/orders/{id}/fraud"),
            &json!({"decision": "STOPPED"}),
        )
        .await;
    assert_eq!(stop.status, 204, "{}", stop.text);
    let (_, got) = next(&mut rx).await;
    assert_eq!(
        got,
        json!({"order_id": id, "event_type": "FRAUD_RISK_STOPPED"})
    );
    let read = ctx.get(&format!("/ordermanagement/v1/orders/{id}")).await;
    assert_eq!(read.body["fraud_status"], "STOPPED");
    assert_eq!(read.body["status"], "AUTHORIZED", "not cancelled by Klarna");
    let path = format!("/ordermanagement/v1/orders/{id}/captures");
    let amount = json!({"captured_amount": 100});
    let refused = ctx.post(&path, &amount).await;
    assert_eq!(
        (refused.status, refused.body["error_code"].as_str()),
        (403, Some("CAPTURE_NOT_ALLOWED")),
        "{}",
        refused.text
    );
    // Only an accepted (or pending) order can be stopped; a stopped one cannot be rejected.
    assert!(ctx.sim.resolve_fraud(&id, FraudDecision::Rejected).is_err());
    ctx.sim.resolve_fraud(&id, FraudDecision::Accepted).unwrap();
    let (_, got) = next(&mut rx).await;
    assert_eq!(got["event_type"], "FRAUD_RISK_ACCEPTED");
    assert_eq!(ctx.post(&path, &amount).await.status, 201);
}
