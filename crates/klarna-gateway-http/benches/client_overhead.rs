//! Bench: overhead of `KlarnaClient::create_session` over a hand-written reqwest + serde_json
//! call sending the same request to the same local axum server (goal: median ratio ≤ 1.05).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]
#![allow(
    clippy::panic,
    reason = "a bench that cannot set up or whose call fails must stop loudly"
)]

use std::hint::black_box;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use klarna_api::{MerchantSession, SessionCreate};
use klarna_gateway_http::{Credentials, KlarnaClient, RetryConfig};

const REQUEST: &str = include_str!("../../klarna-api/tests/fixtures/create_session.request.json");
const RESPONSE: &str = include_str!("../../klarna-api/tests/fixtures/create_session.response.json");

/// Starts the fake Klarna on an already-bound port and returns its base URL.
async fn start_server() -> String {
    let app = Router::new().route(
        "/payments/v1/sessions",
        post(|| async { ([(CONTENT_TYPE, "application/json")], RESPONSE) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[allow(
    clippy::disallowed_methods,
    reason = "the hand-written baseline mints its key like the client does"
)]
fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let base = runtime.block_on(start_server());
    let body: SessionCreate =
        serde_json::from_str(REQUEST).unwrap_or_else(|e| panic!("fixture: {e}"));

    let client = KlarnaClient::builder(Credentials::new("bench-user", "bench-password"))
        .base_url(base.as_str())
        .retry(RetryConfig::none())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    // Same reqwest settings as the client (timeouts, no redirects), so that the ratio
    // measures our layer, not reqwest options.
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("reqwest: {e}"));
    let url = format!("{base}/payments/v1/sessions");

    let mut group = c.benchmark_group("create_session");
    group.bench_function("klarna_client", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = client
                .create_session(black_box(&body), None)
                .await
                .unwrap_or_else(|e| panic!("client call: {e}"));
            black_box(response.body)
        });
    });
    group.bench_function("hand_written_reqwest", |b| {
        b.to_async(&runtime).iter(|| async {
            let bytes =
                serde_json::to_vec(black_box(&body)).unwrap_or_else(|e| panic!("serialize: {e}"));
            let response = raw
                .post(url.as_str())
                .basic_auth("bench-user", Some("bench-password"))
                .header("accept", "application/json")
                .header("content-type", "application/json")
                .header("user-agent", "Library/bench_0 Language/Rust_x OS/linux")
                .header("klarna-idempotency-key", fresh_key())
                .body(bytes)
                .send()
                .await
                .unwrap_or_else(|e| panic!("send: {e}"));
            let bytes = response
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("read: {e}"));
            let session: MerchantSession =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse: {e}"));
            black_box(session)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
