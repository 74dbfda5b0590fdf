//! Corrupt rows (garbage, moved ciphertexts, broken ledgers, a wrong key) load as `Corrupt`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

mod common;

use klarna_domain::{CustomerTokenId, OrderId, PaymentId, Span, Timestamp};
use klarna_ports::contract::{managed, pending, token};
use klarna_ports::{PaymentStore, StoreError};
use klarna_store_sql::StoreKey;

use common::TestStore;

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);

fn is_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(r, Err(StoreError::Corrupt { .. })),
        "{what}: expected Corrupt, got {r:?}"
    );
}

/// Plants garbage of every kind with raw SQL, then loads: `Corrupt`, never a panic.
async fn corrupt_rows_are_reported(ts: TestStore) {
    let s = &ts.store;
    for n in 1..=4 {
        s.insert_payment(&pending(n, &format!("t{n}"), &format!("k{n}")).into())
            .await
            .unwrap();
    }
    s.insert_order(&managed("o-1", 1)).await.unwrap();
    s.insert_order(&managed("o-2", 2)).await.unwrap();
    s.insert_customer_token(&token("ct-1")).await.unwrap();

    // Not a ciphertext at all.
    let garbage = if ts.schema().is_some() {
        "UPDATE payments SET snapshot = '\\x01deadbeef'::bytea WHERE id = 'pay-1'"
    } else {
        "UPDATE payments SET snapshot = X'01DEADBEEF' WHERE id = 'pay-1'"
    };
    assert_eq!(common::raw_exec(&ts, garbage).await, 1);
    // A valid ciphertext moved to another row: bound to its row, it does not decrypt.
    common::raw_exec(
        &ts,
        "UPDATE payments SET snapshot = (SELECT snapshot FROM payments WHERE id = 'pay-3') \
         WHERE id = 'pay-2'",
    )
    .await;
    common::raw_exec(
        &ts,
        "UPDATE managed_orders SET data = 'not json' WHERE order_id = 'o-1'",
    )
    .await;
    // Valid JSON that breaks the ledger (nothing captured can exceed a negative amount).
    common::raw_exec(
        &ts,
        "UPDATE managed_orders SET data = REPLACE(data, '\"order_amount\":1000', \
         '\"order_amount\":-5') WHERE order_id = 'o-2'",
    )
    .await;
    common::raw_exec(&ts, "UPDATE customer_tokens SET data = '{}'").await;

    is_corrupt(
        s.load_payment(&PaymentId::new("pay-1").unwrap()).await,
        "garbage snapshot",
    );
    is_corrupt(
        s.load_payment(&PaymentId::new("pay-2").unwrap()).await,
        "moved snapshot",
    );
    is_corrupt(s.list_payments(10).await, "list with a corrupt row");
    is_corrupt(
        s.load_order(&OrderId::new("o-1").unwrap()).await,
        "order not json",
    );
    is_corrupt(
        s.load_order(&OrderId::new("o-2").unwrap()).await,
        "ledger broken",
    );
    is_corrupt(
        s.load_customer_token(&CustomerTokenId::new("ct-1").unwrap())
            .await,
        "token data",
    );
    assert!(
        s.load_payment(&PaymentId::new("pay-3").unwrap())
            .await
            .unwrap()
            .is_some(),
        "healthy rows still load"
    );
    // Claims hand out the healthy in-doubt payments and leave the corrupt ones out.
    let claimed = s
        .claim_in_doubt_payments(T0, Span::minutes(5), 10)
        .await
        .unwrap();
    let mut ids: Vec<_> = claimed.iter().map(|p| p.value.id().to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["pay-3", "pay-4"]);

    // The same database under another key: nothing decrypts.
    let other = klarna_store_sql::SqlStoreOptions::new(ts.url(), StoreKey::generate());
    let other = match ts.schema() {
        Some(schema) => other.pg_schema(schema),
        None => other,
    }
    .connect()
    .await
    .unwrap();
    is_corrupt(
        other.load_payment(&PaymentId::new("pay-3").unwrap()).await,
        "wrong key",
    );
    assert!(
        other
            .load_customer_token(&CustomerTokenId::new("ct-1").unwrap())
            .await
            .unwrap()
            .is_none(),
        "lookups are keyed: another key finds nothing"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn corrupt_rows_are_reported_on_sqlite() {
    corrupt_rows_are_reported(common::sqlite_store().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn corrupt_rows_are_reported_on_postgres() {
    let Some(ts) = common::pg_store().await else {
        return;
    };
    corrupt_rows_are_reported(ts).await;
}
