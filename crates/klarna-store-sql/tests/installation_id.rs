//! The installation id: made once per database, kept across reopening, agreed on by racing instances.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

mod common;

use std::sync::Arc;

use klarna_ports::PaymentStore;
use klarna_store_sql::SqlStore;
use tokio::sync::Barrier;

use common::TestStore;

/// Eight pools on one freshly migrated database ask for the id at once (nobody has made it
/// yet): all agree; a pool opened afterwards reads the same; another database has another.
async fn racing_instances_agree(ts: TestStore, other: TestStore) {
    let mut pools = Vec::new();
    for _ in 0..8 {
        pools.push(ts.another().await);
    }
    let barrier = Arc::new(Barrier::new(pools.len()));
    let mut tasks = Vec::new();
    for s in pools {
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let id = s.installation_id().await.unwrap();
            s.close().await;
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let first = ids[0];
    assert!(ids.iter().all(|id| *id == first), "racing instances agree");
    let later: SqlStore = ts.another().await;
    assert_eq!(
        later.installation_id().await.unwrap(),
        first,
        "kept in the database"
    );
    assert_eq!(ts.store.installation_id().await.unwrap(), first);
    assert_ne!(
        other.store.installation_id().await.unwrap(),
        first,
        "another database makes its own id"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_instances_agree_on_sqlite() {
    racing_instances_agree(common::sqlite_store().await, common::sqlite_store().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_instances_agree_on_postgres() {
    let (Some(ts), Some(other)) = (common::pg_store().await, common::pg_store().await) else {
        return;
    };
    racing_instances_agree(ts, other).await;
}

/// The SQLite file closed and opened again (a restart) keeps its id, and migrating again does
/// not touch it.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_reopened_sqlite_file_keeps_its_id() {
    let ts = common::sqlite_store().await;
    let before = ts.store.installation_id().await.unwrap();
    ts.store.close().await;
    let reopened = SqlStore::connect(&ts.url(), ts.key.clone()).await.unwrap();
    reopened.migrate().await.unwrap();
    assert_eq!(reopened.installation_id().await.unwrap(), before);
}
