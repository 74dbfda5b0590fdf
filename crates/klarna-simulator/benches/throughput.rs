//! Throughput of the simulator over HTTP keep-alive on loopback: create-session and read-session,
//! one request at a time and 64 in flight (goal: at least 10,000 create-session/s on 2 cores).

use criterion::{Criterion, Throughput, criterion_main};
use futures::future::join_all;
use klarna_simulator::Simulator;
use serde_json::{Value, json};

fn cart() -> Value {
    json!({
        "intent": "buy", "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 174_700, "order_tax_amount": 34_940,
        "order_lines": [
            {"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 2,
             "unit_price": 89_900, "tax_rate": 2500, "total_amount": 169_800,
             "total_discount_amount": 10_000, "total_tax_amount": 33_960},
            {"type": "shipping_fee", "name": "Standard delivery", "quantity": 1, "unit_price": 4900,
             "tax_rate": 2500, "total_amount": 4900, "total_tax_amount": 980}
        ],
        "merchant_reference1": "SO-2024-000418"
    })
}

#[allow(
    clippy::expect_used,
    reason = "benchmark setup: failing loudly is right"
)]
fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt.block_on(Simulator::start()).expect("simulator");
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(128)
        .build()
        .expect("client");
    let create_url = format!("{}/payments/v1/sessions", sim.base_url());
    let body = serde_json::to_vec(&cart()).expect("body");
    let (user, pass) = (sim.username().to_owned(), sim.password().to_owned());

    let create = {
        let (http, url, body, user, pass) = (
            http.clone(),
            create_url.clone(),
            body.clone(),
            user.clone(),
            pass.clone(),
        );
        move || {
            let req = http
                .post(&url)
                .basic_auth(&user, Some(&pass))
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let r = req.send().await.expect("send");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("body")
            }
        }
    };
    let session_id: String = rt.block_on(async {
        let b = create().await;
        let v: Value = serde_json::from_slice(&b).expect("json");
        v.get("session_id")
            .and_then(Value::as_str)
            .expect("id")
            .to_owned()
    });
    let read_url = format!("{}/payments/v1/sessions/{session_id}", sim.base_url());
    let read = {
        let (http, user, pass) = (http.clone(), user.clone(), pass.clone());
        move || {
            let req = http.get(&read_url).basic_auth(&user, Some(&pass));
            async move {
                let r = req.send().await.expect("send");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("body")
            }
        }
    };

    let mut g = c.benchmark_group("sequential");
    g.throughput(Throughput::Elements(1));
    g.bench_function("create_session", |b| b.to_async(&rt).iter(&create));
    g.bench_function("read_session", |b| b.to_async(&rt).iter(&read));
    g.finish();

    const IN_FLIGHT: u64 = 64;
    let mut g = c.benchmark_group("concurrent_64");
    g.throughput(Throughput::Elements(IN_FLIGHT));
    g.bench_function("create_session", |b| {
        b.to_async(&rt)
            .iter(|| join_all((0..IN_FLIGHT).map(|_| tokio::spawn(create()))))
    });
    g.bench_function("read_session", |b| {
        b.to_async(&rt)
            .iter(|| join_all((0..IN_FLIGHT).map(|_| tokio::spawn(read()))))
    });
    g.finish();
    drop(sim);
}

#[allow(
    missing_docs,
    reason = "criterion's macro generates an undocumented function"
)]
mod group {
    use super::bench;
    criterion::criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
