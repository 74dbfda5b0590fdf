//! Four stores (four pools) on one database race 32 compare-and-sets on one row, 50 rounds:
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]
//! exactly one winner per round, and no "database is locked" ever reaches the caller.

mod common;

use std::sync::Arc;

use klarna_domain::{AnyPayment, PaymentId, Span, Timestamp};
use klarna_ports::contract::{authorized, pending};
use klarna_ports::{Alongside, PaymentStore, StoreError};
use klarna_store_sql::SqlStore;
use tokio::sync::Barrier;

const ROUNDS: u64 = 50;
const RACERS: usize = 32;

async fn race(stores: Vec<SqlStore>) {
    assert_eq!(stores.len(), 4);
    let first = stores.first().unwrap().clone();
    first
        .insert_payment(&authorized(1, "a1").into())
        .await
        .unwrap();
    let stores = Arc::new(stores);
    let mut locked = 0_usize;
    for round in 0..ROUNDS {
        let expected = round + 1;
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for i in 0..RACERS {
            let stores = Arc::clone(&stores);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                let s = &stores[i % 4];
                let p: AnyPayment = pending(1, "a1", &format!("r{round}-{i}")).into();
                barrier.wait().await;
                s.update_payment(expected, &p, &Alongside::default()).await
            }));
        }
        let (mut wins, mut conflicts, mut other) = (0, 0, Vec::new());
        for t in tasks {
            match t.await.unwrap() {
                Ok(v) => {
                    assert_eq!(v, expected + 1);
                    wins += 1;
                }
                Err(StoreError::VersionConflict) => conflicts += 1,
                Err(e) => {
                    if e.to_string().contains("locked") {
                        locked += 1;
                    }
                    other.push(e.to_string());
                }
            }
        }
        assert_eq!(
            (wins, conflicts, other),
            (1, RACERS - 1, Vec::<String>::new()),
            "round {round}: one winner, the rest conflicts, no other error"
        );
    }
    assert_eq!(locked, 0, "no 'database is locked' surfaced");
    let last = first
        .load_payment(&PaymentId::new("pay-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        last.version,
        ROUNDS + 1,
        "every round moved the version by one"
    );
}

const PAYMENTS: u32 = 40;

/// Four instances claim 7 at a time, concurrently, until nothing is left: each in-doubt
/// payment goes to exactly one of them.
async fn claim_race(stores: Vec<SqlStore>) {
    let now = Timestamp::from_unix_millis(1_700_000_000_000);
    let first = stores.first().unwrap().clone();
    for n in 1..=PAYMENTS {
        first
            .insert_payment(&pending(n, &format!("t{n}"), &format!("k{n}")).into())
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for s in stores {
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_in_doubt_payments(now, Span::minutes(5), 7)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|p| p.value.id().to_string()));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(claimed, all.len(), "no payment claimed by two instances");
    assert_eq!(
        all.len(),
        PAYMENTS as usize,
        "every in-doubt payment claimed"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_sqlite_pools_claim_disjointly() {
    let ts = common::sqlite_store().await;
    let mut stores = vec![ts.store.clone()];
    for _ in 0..3 {
        stores.push(ts.another().await);
    }
    claim_race(stores).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_postgres_pools_claim_disjointly() {
    let Some(ts) = common::pg_store().await else {
        return;
    };
    let mut stores = vec![ts.store.clone()];
    for _ in 0..3 {
        stores.push(ts.another().await);
    }
    claim_race(stores).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_sqlite_pools_on_one_file_have_one_winner_per_round() {
    let ts = common::sqlite_store().await;
    let mut stores = vec![ts.store.clone()];
    for _ in 0..3 {
        stores.push(ts.another().await);
    }
    race(stores).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_postgres_pools_on_one_database_have_one_winner_per_round() {
    let Some(ts) = common::pg_store().await else {
        return;
    };
    let mut stores = vec![ts.store.clone()];
    for _ in 0..3 {
        stores.push(ts.another().await);
    }
    race(stores).await;
}
