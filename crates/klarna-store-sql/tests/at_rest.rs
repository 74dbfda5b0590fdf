//! What lands on disk: no clear token in the SQLite files, corrupt rows load as `Corrupt`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

mod common;

use klarna_domain::{
    AuthorizationToken, CustomerTokenId, IdempotencyKey, Intent, OrderId, PaymentId, Span,
    Timestamp,
};
use klarna_ports::contract::{managed, open_payment, ordered, pending, token};
use klarna_ports::{Also, PaymentStore, StoreError};
use klarna_store_sql::{SqlStore, StoreKey};

use common::TestStore;

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);
const AUTH_SECRET: &str = "auth-SECRETAUTH7f3a9c";
const CUSTOMER_SECRET: &str = "ct-SECRETCUSTOMER91b2";
const TOKENIZED_SECRET: &str = "ct-SECRETTOKENIZED44d0";

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A flow that stores every kind of secret: client tokens, an authorization token, a customer
/// token (Also), a payment tokenized with another customer token.
async fn store_secrets(s: &SqlStore) {
    let p = open_payment(1, Intent::Buy);
    s.insert_payment(&p.clone().into()).await.unwrap();
    let authorized = p
        .authorize(AuthorizationToken::new(AUTH_SECRET).unwrap(), T0)
        .unwrap();
    s.update_payment(1, &authorized.clone().into(), &Also::default())
        .await
        .unwrap();
    let pending = authorized
        .begin_order(IdempotencyKey::new("key-1").unwrap(), T0)
        .unwrap();
    s.update_payment(2, &pending.into(), &Also::default())
        .await
        .unwrap();
    let also = Also {
        order: Some(managed("o-1", 1)),
        token: Some(token(CUSTOMER_SECRET)),
    };
    s.update_payment(3, &ordered(1, "o-1"), &also)
        .await
        .unwrap();

    let tokenized = open_payment(2, Intent::Tokenize)
        .authorize(AuthorizationToken::new("auth-other").unwrap(), T0)
        .unwrap()
        .begin_tokenization(IdempotencyKey::new("key-2").unwrap(), T0)
        .unwrap()
        .record_token(CustomerTokenId::new(TOKENIZED_SECRET).unwrap(), T0);
    s.insert_payment(&tokenized.into()).await.unwrap();
}

#[tokio::test]
async fn clear_tokens_never_reach_the_sqlite_files() {
    let ts = common::sqlite_store().await;
    store_secrets(&ts.store).await;
    // Everything reads back in clear through the store…
    let t = ts
        .store
        .load_customer_token(&CustomerTokenId::new(CUSTOMER_SECRET).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.value.id().expose_secret(), CUSTOMER_SECRET);
    let p = ts
        .store
        .load_payment(&PaymentId::new("pay-2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.value
            .customer_token()
            .map(|c| c.expose_secret().to_owned()),
        Some(TOKENIZED_SECRET.to_owned())
    );
    let before_close = read_dir_bytes(&ts);
    ts.store.close().await;
    // …but not from the files: the database, its WAL and shared memory, before and after
    // the checkpoint that closing runs.
    for (name, bytes) in before_close.into_iter().chain(read_dir_bytes(&ts)) {
        for secret in [
            AUTH_SECRET,
            CUSTOMER_SECRET,
            TOKENIZED_SECRET,
            "client-token-1",
            "client-token-2",
        ] {
            assert!(!contains(&bytes, secret), "{secret} found in {name}");
        }
    }
    // The search itself works: non-secret ids are stored in clear.
    let db = std::fs::read(ts.sqlite_path().unwrap()).unwrap();
    assert!(contains(&db, "pay-1") && contains(&db, "o-1"));
}

fn read_dir_bytes(ts: &TestStore) -> Vec<(String, Vec<u8>)> {
    let path = ts.sqlite_path().unwrap();
    let dir = path.parent().unwrap();
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    assert!(!files.is_empty());
    files
}

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

#[tokio::test]
async fn memory_urls_use_one_connection_and_keep_their_data() {
    let s = SqlStore::connect("sqlite::memory:", StoreKey::generate())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s.insert_payment(&open_payment(1, Intent::Buy).into())
        .await
        .unwrap();
    // Concurrent writers on the single connection queue instead of seeing another database.
    let mut tasks = Vec::new();
    for n in 2..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.insert_payment(&open_payment(n, Intent::Buy).into()).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    assert_eq!(s.list_payments(100).await.unwrap().len(), 9);
}
