//! A store of your own, plugged into the builder: here the in-memory store behind a hook that
//! counts writes. Any `Arc<dyn PaymentStore>` plugs in the same way; the service type stays
//! `Klarna`.
//!
//! To write an adapter for your database, implement `PaymentStore`. The smallest complete
//! adapter to copy is the in-memory store, crate `klarna-store-memory`
//! (`crates/klarna-store-memory`); the contract suite in `klarna_payments::ports::contract`
//! (feature `test-util`) checks yours. To wrap a store instead (count, log, inject faults),
//! `ports::HookedStore` (feature `test-util`) forwards every call and reports each successful
//! write.
//!
//! `cargo run -p klarna-payments --example custom_store`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use klarna_payments::ports::{HookedStore, Write};
use klarna_payments::{
    Amount, AuthorizationToken, Cart, Intent, KlarnaBuilder, Market, OrderLine, Purchase,
};
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    // Counts every write (one write = one transaction), then the wrapped store has it.
    let writes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&writes);
    let store = Arc::new(HookedStore::new(
        InMemoryStore::new(),
        move |_: Write<'_>| {
            counted.fetch_add(1, Ordering::Relaxed);
        },
    ));
    let klarna = KlarnaBuilder::new()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store(store.clone())
        .build()
        .await?;

    let cart = Cart::new(
        Market::parse("SE", "SEK", "sv-SE")?,
        vec![
            OrderLine::builder("Trail shoe", 1, 89_900)
                .tax_rate(2_500)
                .build()?,
        ],
    )?;
    let checkout = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart)?)
        .await?;
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;
    let completed = klarna.complete(&checkout.payment_id, token).await?;
    let order = completed.order().ok_or("no order")?.order_id();
    klarna.capture(order, Amount::new(89_900)?).await?;

    println!(
        "session, order and capture took {} store writes (payments stored: {})",
        writes.load(Ordering::Relaxed),
        store.inner().len()
    );
    sim.shutdown().await;
    Ok(())
}
