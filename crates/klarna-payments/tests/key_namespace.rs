//! Idempotency keys are namespaced per store (its installation id), never per API username.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use klarna_payments::ports::PaymentStore;
use klarna_payments::ports::fake::FakeKlarna;
use klarna_payments::{
    Cart, ChargeRequest, Intent, Interval, Klarna, KlarnaBuilder, Market, OrderLine, PaymentId,
    Purchase, SqlStore, StoreKey,
};

const CHARGE: &str = "customer_token.create_order";

fn subscription() -> Cart {
    let line = OrderLine::builder("Coffee box", 1, 2_499)
        .subscription("Coffee", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(Market::parse("US", "USD", "en-US").unwrap(), vec![line]).unwrap()
}

/// An installation: the same API username for all of them, its own store.
fn installation(fake: &Arc<FakeKlarna>) -> KlarnaBuilder {
    KlarnaBuilder::new()
        .credentials("shared-merchant-user", "shared-password")
        .gateway(fake.clone())
}

/// Tokenizes a subscription, then charges it under the caller-chosen id `charge_id`; answers
/// the Klarna order id the installation recorded.
async fn tokenize_and_charge(klarna: &Klarna, fake: &FakeKlarna, charge_id: &str) -> String {
    let c = klarna
        .start_checkout(Purchase::new(Intent::Tokenize, subscription()).unwrap())
        .await
        .unwrap();
    let auth = fake.authorize(&c.session_id);
    let done = klarna.complete(&c.payment_id, auth).await.unwrap();
    let token = done.token().cloned().expect("tokenized");
    let charged = klarna
        .charge_customer_token(ChargeRequest {
            merchant: Default::default(),
            payment_id: PaymentId::new(charge_id).unwrap(),
            token,
            cart: subscription(),
        })
        .await
        .unwrap();
    charged.order_id().to_string()
}

/// The keys of every token charge the fake saw, in order.
fn charge_keys(fake: &FakeKlarna) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|(op, _)| *op == CHARGE)
        .map(|(_, key)| key.expect("charges carry a key"))
        .collect()
}

/// Two installations share one Klarna account (the fake replays by key, as Klarna does for
/// token charges) and both charge `sub-42-2026-11`: two charges, two keys. With keys derived
/// from the username, the second installation's charge replayed the first one's answer: it
/// recorded the other installation's order and its shopper was never charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_installations_on_one_account_never_share_a_key() {
    let fake = Arc::new(FakeKlarna::new());
    let a = installation(&fake)
        .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
        .build()
        .await
        .unwrap();
    let b = installation(&fake)
        .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
        .build()
        .await
        .unwrap();
    let order_a = tokenize_and_charge(&a, &fake, "sub-42-2026-11").await;
    let order_b = tokenize_and_charge(&b, &fake, "sub-42-2026-11").await;
    let keys = charge_keys(&fake);
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "same charge id, different installations");
    assert_ne!(order_a, order_b, "each installation got its own charge");
    let charges = fake
        .orders()
        .into_iter()
        .filter(|o| o.merchant_reference1 == "sub-42-2026-11")
        .count();
    assert_eq!(charges, 2, "both shoppers were charged");
}

fn url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// One installation keeps its keys across a restart: a copy of its SQLite file taken after
/// the first start (the same store, restored) mints the same key for the same charge as the
/// original, while a fresh store mints another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_file_keeps_its_keys_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let original = dir.path().join("original.db");
    let restored = dir.path().join("restored.db");
    let fresh = dir.path().join("fresh.db");
    // The first start makes the installation id; the process stops (the pool closes).
    let first = SqlStore::connect(&url(&original), key.clone())
        .await
        .unwrap();
    first.migrate().await.unwrap();
    let id = first.installation_id().await.unwrap();
    first.close().await;
    std::fs::copy(&original, &restored).unwrap();

    let mut keys = Vec::new();
    for path in [&original, &restored, &fresh] {
        let fake = Arc::new(FakeKlarna::new());
        let klarna = installation(&fake)
            .store_url(url(path))
            .store_key(&key)
            .build()
            .await
            .unwrap();
        tokenize_and_charge(&klarna, &fake, "sub-7-2026-12").await;
        keys.push(charge_keys(&fake).pop().unwrap());
    }
    let reopened = SqlStore::connect(&url(&original), key).await.unwrap();
    assert_eq!(
        reopened.installation_id().await.unwrap(),
        id,
        "kept in the file"
    );
    assert_eq!(
        keys[0], keys[1],
        "the same store mints the same keys after a restart"
    );
    assert_ne!(keys[0], keys[2], "another store mints other keys");
}

/// An explicit namespace still wins over the store's installation id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_namespace_wins() {
    let fake = Arc::new(FakeKlarna::new());
    for _ in 0..2 {
        let klarna = installation(&fake)
            .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
            .key_namespace("6f1c1b7e-2f4b-4a43-9a51-1f0f2b7f9c11")
            .build()
            .await
            .unwrap();
        let c = klarna
            .start_checkout(Purchase::new(Intent::Tokenize, subscription()).unwrap())
            .await
            .unwrap();
        let auth = fake.authorize(&c.session_id);
        let token = klarna
            .complete(&c.payment_id, auth)
            .await
            .unwrap()
            .token()
            .cloned()
            .unwrap();
        // The fake replays the first answer for the second store's charge: the key is the
        // namespace's, not the store's.
        klarna
            .charge_customer_token(ChargeRequest {
                merchant: Default::default(),
                payment_id: PaymentId::new("sub-9-2026-12").unwrap(),
                token,
                cart: subscription(),
            })
            .await
            .unwrap();
    }
    let keys = charge_keys(&fake);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "one explicit namespace, one key");
}
