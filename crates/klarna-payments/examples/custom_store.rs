//! Your own store adapter: a wrapper around the in-memory store that counts writes. The same
//! shape wraps your database: implement `PaymentStore` (and run the contract suite from
//! `klarna_payments::ports::contract`, feature `test-util`, against it).
//!
//! `cargo run -p klarna-payments --example custom_store`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use klarna_payments::domain::{Span, Timestamp};
use klarna_payments::ports::{Also, PaymentStore};
use klarna_payments::{
    AnyPayment, AuthorizationToken, Cart, CustomerToken, CustomerTokenId, Intent, Klarna,
    ManagedOrder, Market, OrderId, OrderLine, PaymentId, SessionId, StartCheckout, StoreError,
    Versioned,
};
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;

/// Counts every write, then hands the call to the wrapped store.
#[derive(Debug, Default)]
struct CountingStore {
    inner: InMemoryStore,
    writes: AtomicUsize,
}

impl CountingStore {
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl PaymentStore for CountingStore {
    async fn insert_payment(&self, payment: &AnyPayment) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.insert_payment(payment).await
    }
    async fn load_payment(
        &self,
        id: &PaymentId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.inner.load_payment(id).await
    }
    async fn update_payment(
        &self,
        expected: u64,
        payment: &AnyPayment,
        also: &Also,
    ) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.update_payment(expected, payment, also).await
    }
    async fn find_payment_by_order(
        &self,
        order: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.inner.find_payment_by_order(order).await
    }
    async fn find_payment_by_session(
        &self,
        session: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.inner.find_payment_by_session(session).await
    }
    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.list_payments(limit).await
    }
    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.claim_in_doubt_payments(now, lease, limit).await
    }
    async fn insert_customer_token(&self, token: &CustomerToken) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.insert_customer_token(token).await
    }
    async fn load_customer_token(
        &self,
        id: &CustomerTokenId,
    ) -> Result<Option<Versioned<CustomerToken>>, StoreError> {
        self.inner.load_customer_token(id).await
    }
    async fn update_customer_token(
        &self,
        expected: u64,
        token: &CustomerToken,
    ) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.update_customer_token(expected, token).await
    }
    async fn insert_order(&self, order: &ManagedOrder) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.insert_order(order).await
    }
    async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<Versioned<ManagedOrder>>, StoreError> {
        self.inner.load_order(id).await
    }
    async fn update_order(&self, expected: u64, order: &ManagedOrder) -> Result<u64, StoreError> {
        self.wrote();
        self.inner.update_order(expected, order).await
    }
    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError> {
        self.inner.claim_in_doubt_orders(now, lease, limit).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    let store = Arc::new(CountingStore::default());
    // Any `Arc<dyn PaymentStore>` plugs in; the service type stays `Payments`.
    let klarna = Klarna::builder()
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
        .start_checkout(StartCheckout {
            intent: Intent::Buy,
            cart,
        })
        .await?;
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;
    let paid = klarna
        .place_order(&checkout.payment_id, Some(token))
        .await?;
    klarna
        .capture(
            paid.order_id().ok_or("no order")?,
            paid.cart().order_amount(),
        )
        .await?;

    println!(
        "session, order and capture took {} store writes (payments stored: {})",
        store.writes.load(Ordering::Relaxed),
        store.inner.len()
    );
    sim.shutdown().await;
    Ok(())
}
