//! Flows per second through the service with the simulator, per store, against the raw-HTTP flow.
//!
//! A one-time flow is: create session (P1), shopper authorization (simulator), create order
//! (P5) — three HTTP requests — recorded by the service in at most three store writes. The
//! raw baseline sends the same three requests with reqwest and no store. Prints one line per
//! variant and writes `target/bench-flows.json` for `cargo xtask bench`.
//!
//! Run: `cargo bench -p klarna-tests --bench flows` (PostgreSQL when `DATABASE_URL` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark binary: a panic is a failed run"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use klarna_domain::{AuthorizationToken, Cart, Intent, Market, OrderLine};
use klarna_gateway_http::UuidKeys;
use klarna_ports::{PaymentStore, SystemClock};
use klarna_service::{PaymentService, ServiceConfig, StartCheckout};
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;
use klarna_store_sql::StoreKey;
use klarna_tests::{Db, HookedStore, gateway};

const CONCURRENCY: usize = 16;

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    Cart::new(
        m,
        vec![
            OrderLine::builder("Shoe", 2, 89_900)
                .tax_rate(2_500)
                .discount(10_000)
                .build()
                .unwrap(),
        ],
    )
    .unwrap()
}

struct Outcome {
    name: &'static str,
    flows_per_s: f64,
    writes_per_flow: f64,
    http_per_flow: f64,
}

async fn run_service<S: PaymentStore + 'static>(
    name: &'static str,
    store: S,
    flows: usize,
) -> Outcome {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let writes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&writes);
    let store = Arc::new(HookedStore::new(store, move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let svc = Arc::new(PaymentService::new(
        Arc::new(gateway(sim.base_url())),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(7))),
        ServiceConfig::default(),
    ));
    let one = |svc: Arc<PaymentService<_, _, _, _>>, sim: Arc<Simulator>| async move {
        let c = svc
            .start_checkout(StartCheckout {
                intent: Intent::Buy,
                cart: cart(),
            })
            .await
            .unwrap();
        let t = sim
            .authorize(c.session_id.as_str(), ShopperDecision::approve())
            .unwrap()
            .authorization_token
            .unwrap();
        svc.place_order(&c.payment_id, Some(AuthorizationToken::new(t).unwrap()))
            .await
            .unwrap();
    };
    // Warm up connections and caches.
    one(Arc::clone(&svc), Arc::clone(&sim)).await;
    let writes_before = writes.load(Ordering::Relaxed);
    let http_before: u64 = sim.stats().requests.values().sum();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (svc, sim) = (Arc::clone(&svc), Arc::clone(&sim));
        let n = flows / CONCURRENCY + usize::from(w < flows % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                one(Arc::clone(&svc), Arc::clone(&sim)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let writes = writes.load(Ordering::Relaxed) - writes_before;
    // The shopper step goes to the simulator in-process (no HTTP); count it as the browser's request.
    let http: u64 = sim.stats().requests.values().sum::<u64>() - http_before + flows as u64;
    Outcome {
        name,
        flows_per_s: flows as f64 / secs,
        writes_per_flow: writes as f64 / flows as f64,
        http_per_flow: http as f64 / flows as f64,
    }
}

async fn run_raw(flows: usize) -> Outcome {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let body: serde_json::Value = serde_json::json!({
        "intent": "buy", "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 169_800, "order_tax_amount": 33_960,
        "order_lines": [{"type": "physical", "name": "Shoe", "quantity": 2, "unit_price": 89_900, "tax_rate": 2_500,
            "total_amount": 169_800, "total_discount_amount": 10_000, "total_tax_amount": 33_960}]
    });
    let one = |http: reqwest::Client, sim: Arc<Simulator>, body: serde_json::Value| async move {
        let base = sim.base_url().trim_end_matches('/').to_owned();
        let s: serde_json::Value = http
            .post(format!("{base}/payments/v1/sessions"))
            .basic_auth("sim_user", Some("sim_password"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sid = s["session_id"].as_str().unwrap().to_owned();
        let t = sim
            .authorize(&sid, ShopperDecision::approve())
            .unwrap()
            .authorization_token
            .unwrap();
        let r = http
            .post(format!("{base}/payments/v1/authorizations/{t}/order"))
            .basic_auth("sim_user", Some("sim_password"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    };
    one(http.clone(), Arc::clone(&sim), body.clone()).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (http, sim, body) = (http.clone(), Arc::clone(&sim), body.clone());
        let n = flows / CONCURRENCY + usize::from(w < flows % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                one(http.clone(), Arc::clone(&sim), body.clone()).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Outcome {
        name: "raw HTTP, no store",
        flows_per_s: flows as f64 / start.elapsed().as_secs_f64(),
        writes_per_flow: 0.0,
        http_per_flow: 3.0,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("KLARNA_BENCH_QUICK").is_some();
    let flows = if quick { 300 } else { 2_000 };
    let mut results = vec![run_raw(flows).await];
    results.push(run_service("memory store", InMemoryStore::new(), flows).await);
    let sqlite = Db::sqlite();
    let key = StoreKey::generate();
    results.push(
        run_service(
            "SQLite file (WAL, synchronous=FULL)",
            sqlite.store(&key, 4).await,
            flows,
        )
        .await,
    );
    if std::env::var("DATABASE_URL").is_ok()
        && let Some(pg) = Db::postgres()
    {
        results.push(run_service("PostgreSQL", pg.store(&key, 8).await, flows).await);
    }
    let raw = results[0].flows_per_s;
    let mut json = Vec::new();
    println!(
        "{:<40} {:>10} {:>8} {:>12} {:>10}",
        "one-time flow", "flows/s", "vs raw", "writes/flow", "HTTP/flow"
    );
    for r in &results {
        println!(
            "{:<40} {:>10.0} {:>8.2} {:>12.2} {:>10.2}",
            r.name,
            r.flows_per_s,
            r.flows_per_s / raw,
            r.writes_per_flow,
            r.http_per_flow
        );
        json.push(serde_json::json!({
            "name": r.name, "flows_per_s": r.flows_per_s, "ratio_vs_raw": r.flows_per_s / raw,
            "writes_per_flow": r.writes_per_flow, "http_per_flow": r.http_per_flow,
        }));
    }
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let _ = std::fs::write(
        format!("{dir}/bench-flows.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    );
}
