//! Connection refusal: connect attempts fail with a real `ECONNREFUSED` (reqwest's
//! `is_connect()`), while a window lasts or until accepted again; the `refuse_connections` fault.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use klarna_simulator::{Fault, FaultRule, SimulatorConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

/// A client without a connection pool: every request connects.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect(addr).await {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
            true
        }
    }
}

/// Connects until a connection is accepted (at most 10 s): how long that took.
async fn until_accepted(addr: SocketAddr, from: Instant) -> Duration {
    while refused(addr).await {
        assert!(from.elapsed() < Duration::from_secs(10), "still refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    from.elapsed()
}

#[tokio::test]
async fn refused_connections_are_connect_errors_until_accepted_again() {
    let ctx = Ctx::new().await;
    let http = fresh_client();
    let url = ctx.url("/ordermanagement/v1/orders/5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d");
    assert!(!ctx.sim.refusing_connections());
    ctx.sim.refuse_connections(Duration::MAX);
    assert!(ctx.sim.refusing_connections());
    for _ in 0..3 {
        let err = http
            .get(&url)
            .basic_auth("sim_user", Some("sim_password"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    }
    assert!(refused(ctx.sim.addr()).await);
    assert_eq!(ctx.sim.stats().count("orders.get"), 0, "nothing was sent");
    ctx.sim.accept_connections();
    assert!(!ctx.sim.refusing_connections());
    // Listening again on the same port, at once.
    let r = http
        .get(&url)
        .basic_auth("sim_user", Some("sim_password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(ctx.sim.stats().count("orders.get"), 1);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_when_a_refusal_starts() {
    let ctx = Ctx::new().await;
    let mut conn = TcpStream::connect(ctx.sim.addr()).await.unwrap();
    conn.write_all(b"GET /sim/clock HTTP/1.1\r\nhost: sim\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The connection is idle and kept alive; a refusal closes it.
    ctx.sim.refuse_connections(Duration::MAX);
    let eof = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("the idle connection was not closed");
    assert_eq!(eof.unwrap_or(0), 0);
    ctx.sim.accept_connections();
}

#[tokio::test]
async fn a_timed_refusal_over_the_admin_endpoint_ends_by_itself() {
    let ctx = Ctx::new().await;
    let window = Duration::from_millis(300);
    let start = Instant::now();
    let r = ctx
        .sim_post("/sim/connections/refuse", &json!({"ms": 300}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["refusing_ms"], 300);
    let err = fresh_client()
        .get(ctx.url("/sim/clock"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(until_accepted(ctx.sim.addr(), start).await >= window);
    assert!(!ctx.sim.refusing_connections());
    let bad = ctx
        .sim_post("/sim/connections/refuse", &json!({"ms": -1}))
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_caller_bound_port_zero_listener_gets_its_port_back() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(klarna_simulator::serve_with_shutdown(
        listener,
        SimulatorConfig::default(),
        async {
            let _ = rx.await;
        },
    ));
    let http = fresh_client();
    let start = Instant::now();
    let r = http
        .post(format!("http://{addr}/sim/connections/refuse"))
        .json(&json!({"ms": 200}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(refused(addr).await);
    assert!(until_accepted(addr, start).await >= Duration::from_millis(200));
    let r = http
        .get(format!("http://{addr}/sim/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_fault_after_the_effect_loses_the_answer_and_refuses_the_retry() {
    let ctx = Ctx::new().await;
    let (_, token, body) = ctx.authorized("buy").await;
    ctx.sim.add_fault(FaultRule::new(
        "payments.create_order",
        1,
        Fault::RefuseConnections {
            ms: 60_000,
            after_effect: true,
        },
    ));
    let http = fresh_client();
    let url = ctx.url(&format!("/payments/v1/authorizations/{token}/order"));
    let send = || {
        http.post(&url)
            .basic_auth("sim_user", Some("sim_password"))
            .json(&order_body(&body))
            .send()
    };
    let first = send().await.unwrap_err();
    assert!(!first.is_connect(), "the first attempt was sent: {first:?}");
    assert_eq!(ctx.sim.orders().len(), 1, "and took effect");
    assert!(ctx.sim.refusing_connections());
    let retry = send().await.unwrap_err();
    assert!(retry.is_connect(), "{retry:?}");
    ctx.sim.accept_connections();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 403, "the authorization is consumed");
    assert_eq!(ctx.sim.orders().len(), 1);
}

#[tokio::test]
async fn the_fault_before_the_effect_leaves_nothing_at_klarna() {
    let ctx = Ctx::new().await;
    let id = ctx.placed_order().await;
    ctx.sim.add_fault(FaultRule::new(
        "orders.capture",
        1,
        Fault::RefuseConnections {
            ms: 60_000,
            after_effect: false,
        },
    ));
    let http = fresh_client();
    let url = ctx.url(&format!("/ordermanagement/v1/orders/{id}/captures"));
    let send = || {
        http.post(&url)
            .basic_auth("sim_user", Some("sim_password"))
            .header("Klarna-Idempotency-Key", "cap-refused")
            .json(&json!({"captured_amount": 100}))
            .send()
    };
    let first = send().await.unwrap_err();
    assert!(!first.is_connect(), "{first:?}");
    assert!(send().await.unwrap_err().is_connect());
    let o = ctx.sim.order(&id).unwrap();
    assert_eq!((o.captures, o.captured_amount), (0, 0));
    assert_eq!(ctx.sim.engine().population().idempotency_entries, 0);
    ctx.sim.accept_connections();
    let ok = send().await.unwrap();
    assert_eq!(ok.status(), 201);
    assert_eq!(ctx.sim.order(&id).unwrap().captures, 1);
}

#[tokio::test]
async fn a_stopped_simulator_refuses_connections_even_after_a_refusal() {
    let sim = klarna_simulator::Simulator::start().await.unwrap();
    let addr = sim.addr();
    sim.refuse_connections(Duration::from_millis(1));
    sim.accept_connections();
    assert!(!refused(addr).await);
    sim.shutdown().await;
    assert!(refused(addr).await);
}
