//! Bench: overhead of `KlarnaClient::create_session` over a hand-written reqwest + serde_json
//! call sending the same request to the same local axum server (goal: median ratio ≤ 1.05).
//!
//! Two figures, both written to `target/bench-gateway.json` for `cargo xtask bench`:
//! * time, interleaved: each round times a block of calls through the client and a block by
//!   hand (the order alternates between rounds), against a server in the same process; the
//!   figure is the median of the per-round ratios, with p10–p90 and min–max;
//! * instructions per call under `valgrind --tool=callgrind`: the server runs in a child
//!   process (not under valgrind), so only the client side is counted (see `measure`).
//!
//! Run: `cargo bench -p klarna-gateway-http --bench client_overhead` (`KLARNA_BENCH_QUICK=1`
//! for a short run).

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench that cannot set up or whose call fails must stop loudly"
)]

#[path = "../../../tests/benches/measure/mod.rs"]
mod measure;

use std::hint::black_box;
use std::time::Instant;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use klarna_api::{MerchantSession, SessionCreate};
use klarna_gateway_http::{Credentials, KlarnaClient, RetryConfig};
use serde_json::{Value, json};

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

/// The two variants, set up against one base URL.
struct Calls {
    body: SessionCreate,
    client: KlarnaClient,
    raw: reqwest::Client,
    url: String,
}

const CLIENT: usize = 0;
const RAW: usize = 1;

impl Calls {
    fn new(base: &str) -> Self {
        let body: SessionCreate =
            serde_json::from_str(REQUEST).unwrap_or_else(|e| panic!("fixture: {e}"));
        let client = KlarnaClient::builder(Credentials::new("bench-user", "bench-password"))
            .base_url(base)
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
        Self {
            body,
            client,
            raw,
            url,
        }
    }

    async fn client_call(&self) {
        let response = self
            .client
            .create_session(black_box(&self.body), None)
            .await
            .unwrap_or_else(|e| panic!("client call: {e}"));
        black_box(response.body);
    }

    async fn raw_call(&self) {
        let bytes =
            serde_json::to_vec(black_box(&self.body)).unwrap_or_else(|e| panic!("serialize: {e}"));
        let response = self
            .raw
            .post(self.url.as_str())
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
        black_box(session);
    }

    async fn calls(&self, variant: usize, n: u64) {
        for _ in 0..n {
            if variant == CLIENT {
                self.client_call().await;
            } else {
                self.raw_call().await;
            }
        }
    }
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(1);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// `__serve`: the fake Klarna alone, until stdin closes.
fn serve() {
    let runtime = runtime(true);
    runtime.block_on(async {
        let base = start_server().await;
        measure::serve_until_stdin_closes(&base);
        std::future::pending::<()>().await;
    });
}

/// `__count <client|raw> <url> <n>`: a warm-up, then `n` calls (run under callgrind).
fn count(args: &[String]) {
    let variant = if args.get(2).map(String::as_str) == Some("client") {
        CLIENT
    } else {
        RAW
    };
    let base = args.get(3).cloned().unwrap_or_default();
    let n = measure::count_arg();
    let runtime = runtime(false);
    runtime.block_on(async {
        let calls = Calls::new(&base);
        calls.calls(variant, 20).await;
        calls.calls(variant, n).await;
    });
}

/// Interleaved timing in one process, then callgrind counts.
fn bench() {
    let quick = measure::quick();
    let (rounds, per_round, warm_up) = if quick {
        (40, 50, 200)
    } else {
        (300, 100, 2_000)
    };
    let runtime = runtime(true);
    let base = runtime.block_on(start_server());
    let calls = Calls::new(&base);
    runtime.block_on(async {
        calls.calls(CLIENT, warm_up).await;
        calls.calls(RAW, warm_up).await;
    });
    let times = measure::interleave(2, rounds, |variant| {
        let start = Instant::now();
        runtime.block_on(calls.calls(variant, per_round));
        #[allow(clippy::cast_precision_loss, reason = "a small count")]
        let per_call = start.elapsed().as_secs_f64() / per_round as f64;
        per_call
    });
    let ratio = measure::Spread::of(&measure::ratios(&times[CLIENT], &times[RAW]));
    let client_us = measure::Spread::of(&times[CLIENT]).map_or(f64::NAN, |s| s.median * 1e6);
    let raw_us = measure::Spread::of(&times[RAW]).map_or(f64::NAN, |s| s.median * 1e6);
    let mut entry = serde_json::Map::new();
    entry.insert("name".to_owned(), json!("create_session"));
    entry.insert("rounds".to_owned(), json!(rounds));
    entry.insert("calls_per_round".to_owned(), json!(per_round));
    entry.insert("client_us".to_owned(), json!(client_us));
    entry.insert("raw_us".to_owned(), json!(raw_us));
    if let Some(ratio) = ratio {
        ratio.put(&mut entry, "time_ratio");
        println!(
            "create_session: client {client_us:.1} µs, hand-written {raw_us:.1} µs per call; \
             client / hand-written over {rounds} interleaved rounds: median {:.3} \
             (p10–p90 {:.3}–{:.3}, min–max {:.3}–{:.3})",
            ratio.median, ratio.p10, ratio.p90, ratio.min, ratio.max
        );
    }
    drop(calls);
    drop(runtime);

    if measure::valgrind_available() {
        let (small, large) = if quick { (10, 60) } else { (20, 220) };
        let mut counted = [f64::NAN; 2];
        for (variant, name) in [(CLIENT, "client"), (RAW, "raw")] {
            match measure::instructions_per_call(&[], &[name], small, large) {
                Ok(per_call) => counted[variant] = per_call,
                Err(e) => eprintln!("callgrind ({name}): {e}"),
            }
        }
        println!(
            "create_session instructions per call (callgrind, {} calls): client {:.0}, \
             hand-written {:.0}, ratio {:.3}",
            large - small,
            counted[CLIENT],
            counted[RAW],
            counted[CLIENT] / counted[RAW]
        );
        if counted.iter().all(|c| c.is_finite()) {
            entry.insert("client_instructions".to_owned(), json!(counted[CLIENT]));
            entry.insert("raw_instructions".to_owned(), json!(counted[RAW]));
            entry.insert(
                "instructions_ratio".to_owned(),
                json!(counted[CLIENT] / counted[RAW]),
            );
        }
    } else {
        eprintln!("SKIPPED: instruction counts (valgrind not found)");
    }
    measure::write_json(
        "bench-gateway.json",
        &Value::Array(vec![Value::Object(entry)]),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(measure::SERVE) => serve(),
        Some(measure::COUNT) => count(&args),
        _ => bench(),
    }
}
