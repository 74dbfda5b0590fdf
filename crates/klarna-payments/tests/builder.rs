//! The builder wires a working service from configuration alone, and names what is missing.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::sync::Arc;

use klarna_payments::ports::fake::FakeKlarna;
use klarna_payments::{
    BuildError, Cart, Completed, Intent, Klarna, KlarnaBuilder, Market, OrderLine, Purchase,
    Region, SequentialKeys, StageKind, StoreKey,
};

fn cart() -> Cart {
    let line = OrderLine::builder("Shoe", 1, 89_900)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(Market::parse("SE", "SEK", "sv-SE").unwrap(), vec![line]).unwrap()
}

/// The three steps on whatever store the configuration picked.
async fn three_steps(klarna: &Klarna, fake: &FakeKlarna) {
    let c = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let token = fake.authorize(&c.session_id);
    let done = klarna.complete(&c.payment_id, token).await.unwrap();
    assert!(matches!(done, Completed::Order(_)), "{done:?}");
    let stored = klarna.payment(&c.payment_id).await.unwrap();
    assert_eq!(stored.kind(), StageKind::Ordered);
    assert_eq!(stored.order_id(), done.order().map(|o| o.order_id()));
    assert_eq!(fake.orders().len(), 1);
}

fn with_fake(fake: &Arc<FakeKlarna>) -> KlarnaBuilder {
    KlarnaBuilder::new()
        .gateway(fake.clone())
        .keys(Arc::new(SequentialKeys::new("t")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_url_gives_a_migrated_working_store() {
    let fake = Arc::new(FakeKlarna::new());
    let klarna = with_fake(&fake)
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await
        .unwrap();
    three_steps(&klarna, &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_your_own_plugs_in_without_a_url() {
    let fake = Arc::new(FakeKlarna::new());
    let store = Arc::new(klarna_store_memory::InMemoryStore::new());
    let klarna = with_fake(&fake).store(store.clone()).build().await.unwrap();
    three_steps(&klarna, &fake).await;
    assert_eq!(store.len(), 1);
}

async fn error(builder: KlarnaBuilder) -> BuildError {
    match builder.build().await {
        Ok(_) => panic!("built with incomplete configuration"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_invalid_settings_are_named() {
    let e = error(KlarnaBuilder::new().store_url("sqlite::memory:")).await;
    assert!(
        matches!(e, BuildError::Missing(_)) && e.to_string().contains("KLARNA_USERNAME"),
        "{e}"
    );

    let fake = Arc::new(FakeKlarna::new());
    let e = error(with_fake(&fake)).await;
    assert!(e.to_string().contains("KLARNA_STORE_URL"), "{e}");

    let e = error(with_fake(&fake).store_url("mysql://db")).await;
    assert!(
        matches!(e, BuildError::Invalid { .. }) && e.to_string().contains("mysql"),
        "{e}"
    );

    let e = error(with_fake(&fake).store_url("sqlite::memory:")).await;
    assert!(e.to_string().contains("KLARNA_STORE_KEY"), "{e}");

    let e = error(
        with_fake(&fake)
            .store_url("sqlite::memory:")
            .store_key_hex("not hex"),
    )
    .await;
    assert!(matches!(e, BuildError::Invalid { .. }), "{e}");

    // A region is typed; the one setting that parses it (KLARNA_REGION) fails with this.
    let e = BuildError::from("mars".parse::<Region>().unwrap_err());
    assert!(
        matches!(e, BuildError::Region(_)) && e.to_string().contains("eu, na or oc"),
        "{e}"
    );

    // Without explicit keys, ids come from UuidKeys in the configured namespace.
    let e = error(
        KlarnaBuilder::new()
            .gateway(fake.clone())
            .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
            .key_namespace("not-a-uuid"),
    )
    .await;
    assert!(e.to_string().contains("KLARNA_KEY_NAMESPACE"), "{e}");
    let built = KlarnaBuilder::new()
        .gateway(fake)
        .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
        .key_namespace("6f1c1b7e-2f4b-4a43-9a51-1f0f2b7f9c11")
        .build()
        .await;
    assert!(built.is_ok());
}

/// Defect 10 of issue 11: a base URL with plain http to a host that is not loopback would
/// send Basic credentials in clear; the builder refuses it, naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_base_url_is_refused_unless_loopback() {
    let with_url = |url: &str| {
        KlarnaBuilder::new()
            .credentials("merchant-user", "hunter2-secret")
            .base_url(url)
            .keys(Arc::new(SequentialKeys::new("t")))
            .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
    };
    let e = error(with_url("http://api.playground.klarna.com")).await;
    assert!(
        matches!(e, BuildError::Invalid { .. })
            && e.to_string().contains("KLARNA_BASE_URL")
            && e.to_string().contains("https is required"),
        "{e}"
    );
    assert!(!e.to_string().contains("hunter2-secret"), "{e}");
    for loopback in [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "https://proxy.example",
    ] {
        assert!(with_url(loopback).build().await.is_ok(), "{loopback}");
    }
}

#[test]
fn debug_output_never_shows_credentials_or_the_store_key() {
    let b = KlarnaBuilder::new()
        .credentials("merchant-user", "hunter2-secret")
        .store_url("postgres://app:db-password@db/payments")
        .store_key_hex("ab".repeat(32));
    let shown = format!("{b:?}");
    for secret in ["hunter2-secret", "db-password", "abab", "merchant-user"] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

/// The shopper's step at a simulator: the authorization token it issues.
fn authorize_at(
    sim: &klarna_simulator::Simulator,
    session: &str,
) -> klarna_payments::AuthorizationToken {
    let outcome = sim
        .authorize(session, klarna_simulator::ShopperDecision::approve())
        .unwrap();
    klarna_payments::AuthorizationToken::new(outcome.authorization_token.unwrap()).unwrap()
}

/// Two accounts, one per region (a simulator standing in for each): a Swedish purchase is
/// made at the EU account and an American one at the North American account, each order at
/// its own; an Australian purchase, a region with no account, is refused before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_region_has_its_account_and_a_region_without_one_is_refused_before_any_call() {
    let eu = klarna_simulator::Simulator::start().await.unwrap();
    let na = klarna_simulator::Simulator::start().await.unwrap();
    let klarna = KlarnaBuilder::new()
        .region_base_url(Region::Eu, eu.base_url())
        .region_account(Region::Eu, eu.username(), eu.password())
        .region_base_url(Region::Na, na.base_url())
        .region_account(Region::Na, na.username(), na.password())
        .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
        .keys(Arc::new(SequentialKeys::new("r")))
        .build()
        .await
        .unwrap();
    assert_eq!(klarna.regions(), [Region::Eu, Region::Na]);
    let us = Cart::new(
        Market::parse("US", "USD", "en-US").unwrap(),
        vec![OrderLine::builder("Boots", 1, 12_900).build().unwrap()],
    )
    .unwrap();
    for (cart, sim, other) in [(cart(), &eu, &na), (us, &na, &eu)] {
        let before = other.stats().count("payments.create_session");
        let c = klarna
            .start_checkout(Purchase::new(Intent::Buy, cart).unwrap())
            .await
            .unwrap();
        let token = authorize_at(sim, c.session_id.as_str());
        let done = klarna.complete(&c.payment_id, token).await.unwrap();
        let order = done.order().unwrap().order_id().clone();
        klarna
            .capture(&order, klarna_payments::Amount::new(100).unwrap())
            .await
            .unwrap();
        assert!(
            sim.order(order.as_str()).is_some(),
            "the order is at its region's account"
        );
        assert!(other.order(order.as_str()).is_none());
        assert_eq!(other.stats().count("payments.create_session"), before);
    }
    let total = |s: &klarna_simulator::Simulator| s.stats().requests.values().sum::<u64>();
    let calls = (total(&eu), total(&na));
    let au = Cart::new(
        Market::parse("AU", "AUD", "en-AU").unwrap(),
        vec![OrderLine::builder("Hat", 1, 2_500).build().unwrap()],
    )
    .unwrap();
    let err = klarna
        .start_checkout(Purchase::new(Intent::Buy, au).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            klarna_payments::ServiceError::RegionNotConfigured { region: Region::Oc }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("oc"), "{err}");
    assert_eq!((total(&eu), total(&na)), calls, "no call");
}

/// A region's account needs both its username and its password; the error names the
/// variable that is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_account_without_its_credentials_is_named() {
    let e = error(
        KlarnaBuilder::new()
            .credentials("eu-user", "eu-pass")
            .region_base_url(Region::Na, "http://127.0.0.1:9")
            .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
            .keys(Arc::new(SequentialKeys::new("r"))),
    )
    .await;
    assert!(
        matches!(e, BuildError::Missing("KLARNA_NA_USERNAME")),
        "{e}"
    );
}
