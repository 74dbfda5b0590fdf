//! Load: N concurrent shoppers run full one-time flows (session, authorization, order,
//! capture) through the service, the real HTTP gateway and the simulator for a fixed time.
//! Reports throughput, latency percentiles and errors, then checks that no payment was lost:
//! every order at Klarna is recorded on its payment, captured amounts equal.
//!
//! Run: `cargo xtask load [--shoppers N] [--seconds S] [--store memory|sqlite|postgres]`, or
//! `cargo bench -p klarna-tests --bench load -- --shoppers 32 --seconds 20`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a load-test binary: a panic is a failed run"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use klarna_domain::{Amount, AuthorizationToken, Cart, Intent, Market, OrderLine, Purchase};
use klarna_gateway_http::UuidKeys;
use klarna_ports::{PaymentStore, SystemClock};
use klarna_service::{PaymentService, ServiceConfig};
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;
use klarna_store_sql::StoreKey;
use klarna_tests::{Db, gateway};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    Cart::new(
        m,
        vec![
            OrderLine::builder("Shoe", 1, 89_900)
                .tax_rate(2_500)
                .build()
                .unwrap(),
        ],
    )
    .unwrap()
}

async fn drive<S: PaymentStore + 'static>(store: Arc<S>, shoppers: usize, seconds: u64) {
    let sim = Arc::new(Simulator::start().await.unwrap());
    let svc = Arc::new(PaymentService::new(
        Arc::new(gateway(sim.base_url())),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(0x10ad))),
        ServiceConfig::default(),
    ));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..shoppers {
        let (svc, sim) = (Arc::clone(&svc), Arc::clone(&sim));
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0_u64);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let flow = async {
                    let c = svc
                        .start_checkout(Purchase::new(Intent::Buy, cart()).ok()?)
                        .await
                        .ok()?;
                    let t = sim
                        .authorize(c.session_id.as_str(), ShopperDecision::approve())
                        .ok()?
                        .authorization_token?;
                    let done = svc
                        .complete(&c.payment_id, AuthorizationToken::new(t).ok()?)
                        .await
                        .ok()?;
                    let amount = Amount::new(89_900).ok()?;
                    svc.capture(done.order()?.order_id(), amount).await.ok()
                };
                match flow.await {
                    Some(_) => latencies.push(t0.elapsed()),
                    None => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get(latencies.len() * p / 100)
            .copied()
            .unwrap_or_default()
    };
    let flows = latencies.len();
    // Lost payments: every order at Klarna must be recorded, with its capture.
    let mut lost = 0;
    for o in sim.orders() {
        let id = klarna_domain::OrderId::new(o.order_id.clone()).unwrap();
        let recorded = store.load_order(&id).await.unwrap();
        if recorded.is_none_or(|r| r.value.captured() != o.captured_amount) {
            lost += 1;
        }
    }
    println!(
        "load: {shoppers} shoppers for {seconds}s: {flows} flows ({:.0}/s), p50 {:?}, p90 {:?}, p99 {:?}, max {:?}, {errors} errors, {lost} lost payments",
        flows as f64 / seconds as f64,
        pct(50),
        pct(90),
        pct(99),
        latencies.last().copied().unwrap_or_default()
    );
    assert_eq!(errors, 0, "errors under load");
    assert_eq!(lost, 0, "lost payments under load");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let shoppers: usize = arg("--shoppers").and_then(|s| s.parse().ok()).unwrap_or(32);
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let key = StoreKey::generate();
    match arg("--store").as_deref().unwrap_or("sqlite") {
        "memory" => drive(Arc::new(InMemoryStore::new()), shoppers, seconds).await,
        "postgres" => {
            let db = Db::postgres().expect("set DATABASE_URL for --store postgres");
            drive(Arc::new(db.store(&key, 8).await), shoppers, seconds).await;
        }
        _ => {
            let db = Db::sqlite();
            drive(Arc::new(db.store(&key, 4).await), shoppers, seconds).await;
        }
    }
}
