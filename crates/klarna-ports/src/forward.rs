//! `HookedStore`: a store that forwards every call to another and calls a hook after each successful write (test-util).
//!
//! The one forwarding store to wrap: count writes in a benchmark, abort the process at a crash
//! point, fail chosen writes ([`HookedStore::failing`]), or log. Reads and claims pass through
//! untouched.

use async_trait::async_trait;
use klarna_domain::{
    AnyPayment, CustomerToken, CustomerTokenId, ManagedOrder, OrderId, PaymentId, SessionId, Span,
    StageKind, Timestamp,
};

use crate::store::{Alongside, InstallationId, PaymentStore, StoreError, Versioned};

/// A successful store write, as [`HookedStore`] reports it.
#[derive(Clone, Copy, Debug)]
pub enum Write<'a> {
    /// A payment was inserted or updated.
    Payment(&'a AnyPayment),
    /// A managed order was inserted or updated.
    Order(&'a ManagedOrder),
    /// A customer token was inserted or updated.
    Token(&'a CustomerToken),
}

/// A store that calls a hook after every successful write (one write = one transaction):
/// crash points abort the process there, benchmarks count writes.
pub struct HookedStore<S> {
    inner: S,
    hook: Box<dyn Fn(Write<'_>) + Send + Sync>,
    check: Box<WriteCheck>,
}

/// What [`HookedStore::failing`] asks before a write.
type WriteCheck = dyn Fn(Write<'_>) -> Result<(), StoreError> + Send + Sync;

impl<S> std::fmt::Debug for HookedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookedStore")
    }
}

impl<S> HookedStore<S> {
    /// Wraps `inner`, calling `hook` after each successful write.
    pub fn new(inner: S, hook: impl Fn(Write<'_>) + Send + Sync + 'static) -> Self {
        Self {
            inner,
            hook: Box::new(hook),
            check: Box::new(|_| Ok(())),
        }
    }

    /// Also asks `check` before every write: an error fails the write without making it (a
    /// store outage at a chosen point).
    #[must_use]
    pub fn failing(
        mut self,
        check: impl Fn(Write<'_>) -> Result<(), StoreError> + Send + Sync + 'static,
    ) -> Self {
        self.check = Box::new(check);
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn after<T>(&self, r: Result<T, StoreError>, w: Write<'_>) -> Result<T, StoreError> {
        if r.is_ok() {
            (self.hook)(w);
        }
        r
    }
}

#[async_trait]
impl<S: PaymentStore> PaymentStore for HookedStore<S> {
    async fn insert_payment(&self, p: &AnyPayment) -> Result<u64, StoreError> {
        (self.check)(Write::Payment(p))?;
        let r = self.inner.insert_payment(p).await;
        self.after(r, Write::Payment(p))
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
        p: &AnyPayment,
        also: &Alongside,
    ) -> Result<u64, StoreError> {
        (self.check)(Write::Payment(p))?;
        let r = self.inner.update_payment(expected, p, also).await;
        self.after(r, Write::Payment(p))
    }
    async fn find_payment_by_order(
        &self,
        o: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.inner.find_payment_by_order(o).await
    }
    async fn find_payment_by_session(
        &self,
        s: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.inner.find_payment_by_session(s).await
    }
    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.list_payments(limit).await
    }
    async fn list_payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.list_payments_in_stage(kind, limit).await
    }
    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.claim_in_doubt_payments(now, lease, limit).await
    }
    async fn insert_customer_token(&self, t: &CustomerToken) -> Result<u64, StoreError> {
        (self.check)(Write::Token(t))?;
        let r = self.inner.insert_customer_token(t).await;
        self.after(r, Write::Token(t))
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
        t: &CustomerToken,
    ) -> Result<u64, StoreError> {
        (self.check)(Write::Token(t))?;
        let r = self.inner.update_customer_token(expected, t).await;
        self.after(r, Write::Token(t))
    }
    async fn insert_order(&self, o: &ManagedOrder) -> Result<u64, StoreError> {
        (self.check)(Write::Order(o))?;
        let r = self.inner.insert_order(o).await;
        self.after(r, Write::Order(o))
    }
    async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<Versioned<ManagedOrder>>, StoreError> {
        self.inner.load_order(id).await
    }
    async fn update_order(&self, expected: u64, o: &ManagedOrder) -> Result<u64, StoreError> {
        (self.check)(Write::Order(o))?;
        let r = self.inner.update_order(expected, o).await;
        self.after(r, Write::Order(o))
    }
    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError> {
        self.inner.claim_in_doubt_orders(now, lease, limit).await
    }
    async fn claim_fraud_reviews(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.inner.claim_fraud_reviews(now, lease, limit).await
    }
    async fn installation_id(&self) -> Result<InstallationId, StoreError> {
        self.inner.installation_id().await
    }
}
