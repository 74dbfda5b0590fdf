//! SQLite on disk: no clear token in the database files; memory URLs on one connection.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

mod common;

use klarna_domain::{
    AuthorizationToken, CustomerTokenId, IdempotencyKey, Intent, PaymentId, Timestamp,
};
use klarna_ports::contract::{full_merchant_data, managed, open_payment, ordered, token};
use klarna_ports::{Alongside, PaymentStore};
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
/// token (Alongside), a payment tokenized with another customer token.
async fn store_secrets(s: &SqlStore) {
    let p = open_payment(1, Intent::Buy);
    s.insert_payment(&p.clone().into()).await.unwrap();
    let authorized = p
        .authorize(AuthorizationToken::new(AUTH_SECRET).unwrap(), T0)
        .unwrap();
    s.update_payment(1, &authorized.clone().into(), &Alongside::default())
        .await
        .unwrap();
    let pending = authorized
        .begin_order(IdempotencyKey::new("key-1").unwrap(), T0)
        .unwrap();
    s.update_payment(2, &pending.into(), &Alongside::default())
        .await
        .unwrap();
    let also = Alongside {
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
    // The search itself works: non-secret ids are stored in clear (in the database or, until
    // the checkpoint, its WAL).
    let all: Vec<u8> = read_dir_bytes(&ts)
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert!(contains(&all, "pay-1") && contains(&all, "o-1"));
}

#[tokio::test]
async fn personal_data_never_reaches_the_sqlite_files() {
    let ts = common::sqlite_store().await;
    let m = full_merchant_data();
    let p = open_payment(1, Intent::Buy).with_merchant(m.clone());
    ts.store.insert_payment(&p.into()).await.unwrap();
    let back = ts
        .store
        .load_payment(&PaymentId::new("pay-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.value.merchant(), &m, "it reads back through the store");
    let before_close = read_dir_bytes(&ts);
    ts.store.close().await;
    for (name, bytes) in before_close.into_iter().chain(read_dir_bytes(&ts)) {
        for personal in [
            "Canarysson",
            "maja.canary@example.se",
            "+46701740605",
            "Canarygatan",
            "556036-0793",
            "SE556036079301",
            "canary-account",
            "opaque-77",
        ] {
            assert!(!contains(&bytes, personal), "{personal} found in {name}");
        }
    }
}

fn read_dir_bytes(ts: &TestStore) -> Vec<(String, Vec<u8>)> {
    let path = ts.sqlite_path().unwrap();
    let dir = path.parent().unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        // The WAL and shm files disappear when the last connection checkpoints on close.
        match std::fs::read(e.path()) {
            Ok(bytes) => files.push((e.file_name().to_string_lossy().into_owned(), bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => panic!("reading {}: {err}", e.path().display()),
        }
    }
    assert!(!files.is_empty());
    files
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
