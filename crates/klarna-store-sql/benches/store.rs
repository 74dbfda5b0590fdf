//! Write transactions per second: insert a payment, then compare-and-set it (SQLite file with
//! `synchronous=FULL` and `NORMAL`, and PostgreSQL when `DATABASE_URL` is set), from one
//! client and from 8 concurrent clients.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark harness: setup failures abort the run"
)]

use std::sync::atomic::{AtomicU32, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use klarna_domain::Intent;
use klarna_ports::contract::{authorized, open_payment};
use klarna_ports::{Alongside, PaymentStore};
use klarna_store_sql::{SqlStore, SqlStoreOptions, StoreKey, Synchronous};
use tokio::runtime::Runtime;

static NEXT: AtomicU32 = AtomicU32::new(1);

/// One iteration: two write transactions (insert at version 1, CAS to version 2).
async fn insert_and_update(store: &SqlStore) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    store
        .insert_payment(&open_payment(n, Intent::Buy).into())
        .await
        .unwrap();
    let v = store
        .update_payment(
            1,
            &authorized(n, &format!("t{n}")).into(),
            &Alongside::default(),
        )
        .await
        .unwrap();
    assert_eq!(v, 2);
}

/// Clients running iterations side by side in the concurrent variant.
const CLIENTS: u64 = 8;

/// `CLIENTS` iterations at once, each on its own pooled connection.
async fn concurrent(store: &SqlStore) {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { insert_and_update(&s).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, store: &SqlStore) {
    let mut g = c.benchmark_group("store_write_tx");
    g.sample_size(20);
    g.throughput(Throughput::Elements(2));
    g.bench_function(format!("{name}/1_client"), |b| {
        b.to_async(rt).iter(|| insert_and_update(store));
    });
    g.throughput(Throughput::Elements(2 * CLIENTS));
    g.bench_function(format!("{name}/8_clients"), |b| {
        b.to_async(rt).iter(|| concurrent(store));
    });
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    for (name, sync) in [
        ("sqlite_file_full", Synchronous::Full),
        ("sqlite_file_normal", Synchronous::Normal),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let store = rt.block_on(async {
            let s = SqlStoreOptions::new(url, StoreKey::generate())
                .synchronous(sync)
                .max_connections(8)
                .connect()
                .await
                .unwrap();
            s.migrate().await.unwrap();
            s
        });
        bench_store(c, &rt, name, &store);
        rt.block_on(store.close());
    }
}

fn postgres(c: &mut Criterion) {
    use sqlx::Connection as _;

    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("SKIPPED: PostgreSQL benchmark (set DATABASE_URL to run it)");
        return;
    };
    let rt = Runtime::new().unwrap();
    let schema = format!("klarna_bench_{:08x}", rand::random::<u32>());
    let store = rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let s = SqlStoreOptions::new(url.clone(), StoreKey::generate())
            .pg_schema(&schema)
            .max_connections(8)
            .connect()
            .await
            .unwrap();
        s.migrate().await.unwrap();
        s
    });
    bench_store(c, &rt, "postgres", &store);
    rt.block_on(async {
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
