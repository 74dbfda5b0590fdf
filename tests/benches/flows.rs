//! Flows per second through the service with the simulator, per store, against the raw-HTTP flow.
//!
//! A one-time flow is: create session (P1), shopper authorization (the browser's request,
//! answered by the simulator's shopper step), create order (P5) — three HTTP requests —
//! recorded by the service in at most three store writes. A recurring flow is: a `tokenize`
//! session, the shopper's authorization, a customer token (P6), one charge (T2). The raw
//! baselines send the same requests with reqwest and store nothing. Prints one line per
//! variant and writes `target/bench-flows.json` for `cargo xtask bench`.
//!
//! Run: `cargo bench -p klarna-tests --bench flows` (PostgreSQL when `DATABASE_URL` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark binary: a panic is a failed run"
)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use klarna_domain::{
    AuthorizationToken, Cart, Intent, Interval, Market, OrderLine, PaymentId, Purchase,
};
use klarna_gateway_http::UuidKeys;
use klarna_ports::{PaymentStore, SystemClock};
use klarna_service::{ChargeRequest, PaymentService, ServiceConfig};
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;
use klarna_store_sql::StoreKey;
use klarna_tests::{Db, HookedStore, gateway};
use serde_json::{Value, json};

const CONCURRENCY: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    OneTime,
    Recurring,
}

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 2, 89_900)
        .tax_rate(2_500)
        .discount(10_000)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

fn plan() -> Cart {
    let m = Market::parse("US", "USD", "en-US").unwrap();
    let line = OrderLine::builder("Plan", 1, 1_999)
        .subscription("Plan", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

struct Outcome {
    kind: Kind,
    name: String,
    flows_per_s: f64,
    writes_per_flow: f64,
    http_per_flow: f64,
}

/// Runs `flows` flows with `CONCURRENCY` workers (after one warm-up flow the caller ran);
/// returns the elapsed seconds.
async fn drive<F, Fut>(flows: usize, one: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let one = one.clone();
        let n = flows / CONCURRENCY + usize::from(w < flows % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for i in 0..n {
                one(w * flows + i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

async fn run_service<S: PaymentStore + 'static>(
    kind: Kind,
    name: &str,
    store: S,
    flows: usize,
) -> Outcome {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let writes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&writes);
    let store = HookedStore::new(store, move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let svc = Arc::new(PaymentService::new(
        Arc::new(gateway(sim.base_url())),
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(7))),
        ServiceConfig::default(),
    ));
    let run = uuid::Uuid::from_u128(u128::from(std::process::id()))
        .simple()
        .to_string();
    let (s, m) = (Arc::clone(&svc), Arc::clone(&sim));
    let one = move |i: usize| {
        let (svc, sim, run) = (Arc::clone(&s), Arc::clone(&m), run.clone());
        async move {
            let (intent, cart) = match kind {
                Kind::OneTime => (Intent::Buy, cart()),
                Kind::Recurring => (Intent::Tokenize, plan()),
            };
            let c = svc
                .start_checkout(Purchase::new(intent, cart).unwrap())
                .await
                .unwrap();
            let t = sim
                .authorize(c.session_id.as_str(), ShopperDecision::approve())
                .unwrap()
                .authorization_token
                .unwrap();
            let token = AuthorizationToken::new(t).unwrap();
            match kind {
                Kind::OneTime => {
                    svc.complete(&c.payment_id, token).await.unwrap();
                }
                Kind::Recurring => {
                    let done = svc.complete(&c.payment_id, token).await.unwrap();
                    let charge = ChargeRequest {
                        payment_id: PaymentId::new(format!("charge-{run}-{i}")).unwrap(),
                        token: done.token().cloned().unwrap(),
                        cart: plan(),
                    };
                    svc.charge_customer_token(charge).await.unwrap();
                }
            }
        }
    };
    one(usize::MAX).await; // warm up connections
    let writes_before = writes.load(Ordering::Relaxed);
    let http_before: u64 = sim.stats().requests.values().sum();
    let secs = drive(flows, one).await;
    let writes = writes.load(Ordering::Relaxed) - writes_before;
    // The shopper step is the browser's request; the simulator answers it in-process here.
    let http: u64 = sim.stats().requests.values().sum::<u64>() - http_before + flows as u64;
    Outcome {
        kind,
        name: name.to_owned(),
        flows_per_s: flows as f64 / secs,
        writes_per_flow: writes as f64 / flows as f64,
        http_per_flow: http as f64 / flows as f64,
    }
}

async fn post(http: &reqwest::Client, url: String, body: &Value) -> Value {
    let r = http
        .post(url)
        .basic_auth("sim_user", Some("sim_password"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "raw call failed: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn run_raw(kind: Kind, flows: usize) -> Outcome {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let line = |sub: bool| {
        let mut l = json!({"type": "physical", "name": "Plan", "quantity": 1, "unit_price": 1_999, "tax_rate": 0,
            "total_amount": 1_999, "total_discount_amount": 0, "total_tax_amount": 0});
        if sub {
            l["subscription"] = json!({"name": "Plan", "interval": "MONTH", "interval_count": 1});
        }
        l
    };
    let session = match kind {
        Kind::OneTime => json!({
            "intent": "buy", "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
            "order_amount": 169_800, "order_tax_amount": 33_960,
            "order_lines": [{"type": "physical", "name": "Shoe", "quantity": 2, "unit_price": 89_900, "tax_rate": 2_500,
                "total_amount": 169_800, "total_discount_amount": 10_000, "total_tax_amount": 33_960}]
        }),
        Kind::Recurring => json!({
            "intent": "tokenize", "purchase_country": "US", "purchase_currency": "USD", "locale": "en-US",
            "order_amount": 1_999, "order_tax_amount": 0, "order_lines": [line(true)]
        }),
    };
    let (h, m) = (http.clone(), Arc::clone(&sim));
    let one = move |_| {
        let (http, sim, session) = (h.clone(), Arc::clone(&m), session.clone());
        let line = line(true);
        async move {
            let base = sim.base_url().trim_end_matches('/').to_owned();
            let s = post(&http, format!("{base}/payments/v1/sessions"), &session).await;
            let sid = s["session_id"].as_str().unwrap().to_owned();
            let t = sim
                .authorize(&sid, ShopperDecision::approve())
                .unwrap()
                .authorization_token
                .unwrap();
            match kind {
                Kind::OneTime => {
                    post(
                        &http,
                        format!("{base}/payments/v1/authorizations/{t}/order"),
                        &session,
                    )
                    .await;
                }
                Kind::Recurring => {
                    let req = json!({"purchase_country": "US", "purchase_currency": "USD", "locale": "en-US",
                        "description": "Plan", "intended_use": "SUBSCRIPTION"});
                    let ct = post(
                        &http,
                        format!("{base}/payments/v1/authorizations/{t}/customer-token"),
                        &req,
                    )
                    .await;
                    let token = ct["token_id"].as_str().unwrap().to_owned();
                    let order = json!({"purchase_currency": "USD", "order_amount": 1_999, "order_tax_amount": 0,
                        "order_lines": [line]});
                    post(
                        &http,
                        format!("{base}/customer-token/v1/tokens/{token}/order"),
                        &order,
                    )
                    .await;
                }
            }
        }
    };
    one(usize::MAX).await; // warm up connections
    let secs = drive(flows, one).await;
    let http_per_flow = match kind {
        Kind::OneTime => 3.0,
        Kind::Recurring => 4.0,
    };
    Outcome {
        kind,
        name: "raw HTTP, no store".to_owned(),
        flows_per_s: flows as f64 / secs,
        writes_per_flow: 0.0,
        http_per_flow,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("KLARNA_BENCH_QUICK").is_some();
    let flows = if quick { 300 } else { 2_000 };
    let key = StoreKey::generate();
    let sqlite = Db::sqlite();
    let pg = if std::env::var("DATABASE_URL").is_ok() {
        Db::postgres()
    } else {
        None
    };
    let mut results = Vec::new();
    for kind in [Kind::OneTime, Kind::Recurring] {
        results.push(run_raw(kind, flows).await);
        results.push(run_service(kind, "memory store", InMemoryStore::new(), flows).await);
        results.push(
            run_service(
                kind,
                "SQLite file (WAL, synchronous=FULL)",
                sqlite.store(&key, 4).await,
                flows,
            )
            .await,
        );
        if let Some(pg) = &pg {
            results.push(run_service(kind, "PostgreSQL", pg.store(&key, 8).await, flows).await);
        }
    }
    let mut out = Vec::new();
    println!(
        "{:<50} {:>10} {:>8} {:>12} {:>10}",
        "flow", "flows/s", "vs raw", "writes/flow", "HTTP/flow"
    );
    for r in &results {
        let raw = results
            .iter()
            .find(|b| b.kind == r.kind && b.name.starts_with("raw"))
            .map_or(1.0, |b| b.flows_per_s);
        // One-time rows keep their plain names (the table's rows were first written for them).
        let name = match r.kind {
            Kind::OneTime => r.name.clone(),
            Kind::Recurring => format!("recurring: {}", r.name),
        };
        println!(
            "{:<50} {:>10.0} {:>8.2} {:>12.2} {:>10.2}",
            name,
            r.flows_per_s,
            r.flows_per_s / raw,
            r.writes_per_flow,
            r.http_per_flow
        );
        out.push(json!({
            "name": name, "flows_per_s": r.flows_per_s, "ratio_vs_raw": r.flows_per_s / raw,
            "writes_per_flow": r.writes_per_flow, "http_per_flow": r.http_per_flow,
        }));
    }
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let _ = std::fs::write(
        format!("{dir}/bench-flows.json"),
        serde_json::to_string_pretty(&out).unwrap(),
    );
}
