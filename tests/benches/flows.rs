//! Flows per second through the service with the simulator, per store, against the raw-HTTP flow.
//!
//! A one-time flow is: create session (P1), shopper authorization (the browser's request,
//! answered by the simulator's shopper step), create order (P5) — three HTTP requests —
//! recorded by the service in at most three store writes. A recurring flow is: a `tokenize`
//! session, the shopper's authorization, a customer token (P6), one charge (T2). The raw
//! baselines send the same requests with reqwest and store nothing.
//!
//! Two measurements (see `measure`):
//! * time, interleaved: every variant (raw, memory, SQLite, PostgreSQL) has its own simulator in
//!   this process; each round runs a block of flows of every variant, in a rotating order, with
//!   16 flows in flight; flows/s and the ratio to raw are medians of the per-round figures;
//! * instructions per flow under `valgrind --tool=callgrind`, one flow at a time, with the
//!   simulator in a child process (not counted) and the shopper step sent to it over HTTP (the
//!   same request in every variant).
//!
//! Prints one line per variant and writes `target/bench-flows.json` for `cargo xtask bench`.
//! Run: `cargo bench -p klarna-tests --bench flows` (PostgreSQL when `DATABASE_URL` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: a panic is a failed run"
)]

mod measure;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use klarna_domain::{
    AuthorizationToken, Cart, Intent, Interval, Market, OrderLine, PaymentId, Purchase,
};
use klarna_gateway_http::UuidKeys;
use klarna_ports::{PaymentStore, SystemClock};
use klarna_service::{ChargeRequest, PaymentService, ServiceConfig};
use klarna_simulator::{ShopperDecision, Simulator, SimulatorConfig};
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

impl Kind {
    const fn arg(self) -> &'static str {
        match self {
            Self::OneTime => "one-time",
            Self::Recurring => "recurring",
        }
    }
}

/// The stores, by the argument that names them in a callgrind run and the table's name.
const STORES: &[(&str, &str)] = &[
    ("raw", "raw HTTP, no store"),
    ("memory", "memory store"),
    ("sqlite", "SQLite file (WAL, synchronous=FULL)"),
    ("postgres", "PostgreSQL"),
];

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

type Flow = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The shopper's step: in this process (timing) or over HTTP to a simulator child (callgrind).
#[derive(Clone)]
enum Shopper {
    InProcess(Arc<Simulator>),
    Http { http: reqwest::Client, base: String },
}

impl Shopper {
    /// Approves the session; returns the authorization token.
    async fn approve(&self, session_id: &str) -> String {
        match self {
            Self::InProcess(sim) => sim
                .authorize(session_id, ShopperDecision::approve())
                .unwrap()
                .authorization_token
                .unwrap(),
            Self::Http { http, base } => {
                let r = http
                    .post(format!("{base}/sim/sessions/{session_id}/authorize"))
                    .json(&ShopperDecision::approve())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "shopper step: {}", r.status());
                let v: Value = r.json().await.unwrap();
                v["authorization_token"].as_str().unwrap().to_owned()
            }
        }
    }
}

/// A flow through the service over `store`, and its store-write counter.
fn service_flow<S: PaymentStore + 'static>(
    kind: Kind,
    base: &str,
    shopper: Shopper,
    store: S,
) -> (Flow, Arc<AtomicU64>) {
    let writes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&writes);
    let store = HookedStore::new(store, move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let svc = Arc::new(PaymentService::new(
        Arc::new(gateway(base)),
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(7))),
        ServiceConfig::default(),
    ));
    let run = uuid::Uuid::from_u128(u128::from(std::process::id()))
        .simple()
        .to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let flow: Flow = Arc::new(move || {
        let (svc, shopper, run) = (Arc::clone(&svc), shopper.clone(), run.clone());
        let i = next.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let (intent, cart) = match kind {
                Kind::OneTime => (Intent::Buy, cart()),
                Kind::Recurring => (Intent::Tokenize, plan()),
            };
            let c = svc
                .start_checkout(Purchase::new(intent, cart).unwrap())
                .await
                .unwrap();
            let t = shopper.approve(c.session_id.as_str()).await;
            let token = AuthorizationToken::new(t).unwrap();
            match kind {
                Kind::OneTime => {
                    svc.complete(&c.payment_id, token).await.unwrap();
                }
                Kind::Recurring => {
                    let done = svc.complete(&c.payment_id, token).await.unwrap();
                    let charge = ChargeRequest {
                        merchant: Default::default(),
                        payment_id: PaymentId::new(format!("charge-{run}-{i}")).unwrap(),
                        token: done.token().cloned().unwrap(),
                        cart: plan(),
                    };
                    svc.charge_customer_token(charge).await.unwrap();
                }
            }
        })
    });
    (flow, writes)
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

/// The same requests by hand with reqwest, storing nothing.
fn raw_flow(kind: Kind, base: &str, shopper: Shopper) -> Flow {
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
    let base = base.trim_end_matches('/').to_owned();
    Arc::new(move || {
        let (http, shopper, session, base) =
            (http.clone(), shopper.clone(), session.clone(), base.clone());
        let line = line(true);
        Box::pin(async move {
            let s = post(&http, format!("{base}/payments/v1/sessions"), &session).await;
            let sid = s["session_id"].as_str().unwrap().to_owned();
            let t = shopper.approve(&sid).await;
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
        })
    })
}

/// Runs `flows` flows with `CONCURRENCY` workers; returns the elapsed seconds.
async fn drive(flows: usize, one: &Flow) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let one = Arc::clone(one);
        let n = flows / CONCURRENCY + usize::from(w < flows % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                one().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

/// One variant of the timing run, with its own simulator.
struct Variant {
    store: &'static str,
    name: &'static str,
    sim: Arc<Simulator>,
    flow: Flow,
    writes: Option<Arc<AtomicU64>>,
}

async fn variant(
    kind: Kind,
    store: &'static str,
    name: &'static str,
    key: &StoreKey,
    dbs: &Dbs,
) -> Option<Variant> {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let shopper = Shopper::InProcess(Arc::clone(&sim));
    let base = sim.base_url().to_owned();
    let (flow, writes) = match store {
        "raw" => (raw_flow(kind, &base, shopper), None),
        "memory" => {
            let (f, w) = service_flow(kind, &base, shopper, InMemoryStore::new());
            (f, Some(w))
        }
        "sqlite" => {
            let (f, w) = service_flow(kind, &base, shopper, dbs.sqlite.store(key, 4).await);
            (f, Some(w))
        }
        _ => {
            let pg = dbs.postgres.as_ref()?;
            let (f, w) = service_flow(kind, &base, shopper, pg.store(key, 8).await);
            (f, Some(w))
        }
    };
    Some(Variant {
        store,
        name,
        sim,
        flow,
        writes,
    })
}

struct Dbs {
    sqlite: Db,
    postgres: Option<Db>,
}

fn http_requests(sim: &Simulator) -> u64 {
    sim.stats().requests.values().sum()
}

/// The interleaved timing of every variant of `kind`; one JSON entry per variant.
fn time_kind(
    runtime: &tokio::runtime::Runtime,
    kind: Kind,
    rounds: usize,
    per_round: usize,
    key: &StoreKey,
    dbs: &Dbs,
) -> Vec<serde_json::Map<String, Value>> {
    let mut variants = Vec::new();
    for (store, name) in STORES {
        if let Some(v) = runtime.block_on(variant(kind, store, name, key, dbs)) {
            variants.push(v);
        }
    }
    for v in &variants {
        runtime.block_on((v.flow)()); // warm up connections
    }
    let before: Vec<(u64, u64)> = variants
        .iter()
        .map(|v| {
            (
                v.writes.as_ref().map_or(0, |w| w.load(Ordering::Relaxed)),
                http_requests(&v.sim),
            )
        })
        .collect();
    let times = measure::interleave(variants.len(), rounds, |i| {
        runtime.block_on(drive(per_round, &variants[i].flow))
    });
    let flows = (rounds * per_round) as f64;
    let rates: Vec<Vec<f64>> = times
        .iter()
        .map(|t| t.iter().map(|s| per_round as f64 / s).collect())
        .collect();
    let mut out = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let writes = v.writes.as_ref().map_or(0, |w| w.load(Ordering::Relaxed)) - before[i].0;
        // The shopper step is the browser's request; the simulator answers it in-process here.
        let http = (http_requests(&v.sim) - before[i].1) as f64 + flows;
        let mut entry = serde_json::Map::new();
        entry.insert("store".to_owned(), json!(v.store));
        entry.insert("name".to_owned(), json!(v.name));
        entry.insert("rounds".to_owned(), json!(rounds));
        entry.insert("flows_per_round".to_owned(), json!(per_round));
        if let Some(s) = measure::Spread::of(&rates[i]) {
            s.put(&mut entry, "flows_per_s");
        }
        if let Some(s) = measure::Spread::of(&measure::ratios(&rates[i], &rates[0])) {
            s.put(&mut entry, "ratio_vs_raw");
        }
        entry.insert("writes_per_flow".to_owned(), json!(writes as f64 / flows));
        entry.insert("http_per_flow".to_owned(), json!(http / flows));
        out.push(entry);
    }
    out
}

/// `__serve`: the simulator alone, until stdin closes.
fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(klarna_simulator::run(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            SimulatorConfig::default(),
            measure::serve_until_stdin_closes,
        ))
        .unwrap();
}

/// `__count <kind> <store> <url> <n>`: one warm-up flow, then `n` flows one at a time (run under
/// callgrind).
fn count(args: &[String]) {
    let kind = if args[2] == Kind::Recurring.arg() {
        Kind::Recurring
    } else {
        Kind::OneTime
    };
    let store = args[3].clone();
    let base = args[4].trim_end_matches('/').to_owned();
    let n = measure::count_arg();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let shopper = Shopper::Http {
            http: reqwest::Client::new(),
            base: base.clone(),
        };
        let key = StoreKey::generate();
        let sqlite = Db::sqlite();
        let pg = if store == "postgres" {
            Db::postgres()
        } else {
            None
        };
        let flow = match store.as_str() {
            "raw" => raw_flow(kind, &base, shopper),
            "memory" => service_flow(kind, &base, shopper, InMemoryStore::new()).0,
            "sqlite" => service_flow(kind, &base, shopper, sqlite.store(&key, 4).await).0,
            _ => service_flow(kind, &base, shopper, pg.unwrap().store(&key, 8).await).0,
        };
        flow().await;
        for _ in 0..n {
            flow().await;
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(measure::SERVE) => return serve(),
        Some(measure::COUNT) => return count(&args),
        _ => {}
    }
    let quick = measure::quick();
    let (rounds, per_round) = if quick { (6, 50) } else { (20, 200) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let key = StoreKey::generate();
    let postgres = std::env::var("DATABASE_URL")
        .is_ok()
        .then(Db::postgres)
        .flatten();
    let has_postgres = postgres.is_some();
    let dbs = Dbs {
        sqlite: Db::sqlite(),
        postgres,
    };
    let mut entries = Vec::new();
    for kind in [Kind::OneTime, Kind::Recurring] {
        entries.extend(
            time_kind(&runtime, kind, rounds, per_round, &key, &dbs)
                .into_iter()
                .map(|e| (kind, e)),
        );
    }
    drop(dbs);
    drop(runtime);

    let valgrind = measure::valgrind_available();
    if !valgrind {
        eprintln!("SKIPPED: instruction counts (valgrind not found)");
    }
    let (small, large) = if quick { (5, 30) } else { (20, 220) };
    let mut raw_instructions = 0.0;
    for (kind, entry) in &mut entries {
        let store = entry["store"].as_str().unwrap_or_default().to_owned();
        if !valgrind || (store == "postgres" && !has_postgres) {
            continue;
        }
        match measure::instructions_per_call(&[], &[kind.arg(), &store], small, large) {
            Ok(per_flow) => {
                if store == "raw" {
                    raw_instructions = per_flow;
                }
                entry.insert("instructions_per_flow".to_owned(), json!(per_flow));
                entry.insert(
                    "instructions_ratio_vs_raw".to_owned(),
                    json!(per_flow / raw_instructions),
                );
            }
            Err(e) => eprintln!("callgrind ({} {store}): {e}", kind.arg()),
        }
    }

    println!(
        "{:<50} {:>10} {:>18} {:>12} {:>10} {:>14} {:>8}",
        "flow", "flows/s", "vs raw (p10–p90)", "writes/flow", "HTTP/flow", "instr/flow", "vs raw"
    );
    let mut out = Vec::new();
    for (kind, mut entry) in entries {
        // One-time rows keep their plain names (the table's rows were first written for them).
        let name = entry["name"].as_str().unwrap_or_default().to_owned();
        let name = match kind {
            Kind::OneTime => name,
            Kind::Recurring => format!("recurring: {name}"),
        };
        let f = |k: &str| entry.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
        println!(
            "{:<50} {:>10.0} {:>6.2} ({:.2}–{:.2}) {:>12.2} {:>10.2} {:>14.0} {:>8.2}",
            name,
            f("flows_per_s"),
            f("ratio_vs_raw"),
            f("ratio_vs_raw_p10"),
            f("ratio_vs_raw_p90"),
            f("writes_per_flow"),
            f("http_per_flow"),
            f("instructions_per_flow"),
            f("instructions_ratio_vs_raw"),
        );
        entry.insert("kind".to_owned(), json!(kind.arg()));
        entry.insert("name".to_owned(), json!(name));
        out.push(Value::Object(entry));
    }
    measure::write_json("bench-flows.json", &Value::Array(out));
}
