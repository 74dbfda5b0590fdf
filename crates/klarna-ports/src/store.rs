//! Driven port: durable storage of payments, customer tokens and managed orders, with compare-and-set.

use async_trait::async_trait;
use klarna_domain::{
    AnyPayment, CustomerToken, CustomerTokenId, ManagedOrder, OrderId, PaymentId, SessionId, Span,
    StageKind, Timestamp,
};

/// A stored value and the version it was stored at. Versions start at 1 and grow by 1 on
/// every successful update.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Versioned<T> {
    /// The version to pass back to the next compare-and-set.
    pub version: u64,
    /// The value.
    pub value: T,
}

/// Records written in the same transaction as a payment update, so a flow's state change and
/// what it creates land together or not at all.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Alongside {
    /// A managed order to insert (the payment just got its Klarna order).
    pub order: Option<ManagedOrder>,
    /// A customer token to insert (the payment just got its token).
    pub token: Option<CustomerToken>,
}

/// Which unique constraint a write broke.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Unique {
    /// The payment id.
    PaymentId,
    /// The Klarna order id.
    OrderId,
    /// The authorization token (stored hashed).
    AuthorizationToken,
    /// The idempotency key of a pending operation.
    IdempotencyKey,
    /// The customer token.
    CustomerToken,
}

/// A random value a store makes once, on first use, and keeps for its whole life: the
/// installation's own namespace for idempotency keys.
///
/// Two installations that share a Klarna account but not a store have different ids, so their
/// keys never collide even when callers choose the same payment ids; one installation keeps
/// its id across restarts (it is in the store), so the keys of its pending operations stay
/// the same and in-doubt replays still match. Treat it like a secret: whoever knows it can
/// predict the installation's keys. `Debug` does not show it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstallationId([u8; 16]);

impl InstallationId {
    /// The id made of these bytes (an adapter's stored value, or fresh random bytes).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes (to derive a key namespace from, or to store).
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl std::fmt::Debug for InstallationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationId([REDACTED])")
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The compare-and-set lost: someone else changed the record first. Reload and decide.
    #[error("version conflict: the record changed since it was read")]
    VersionConflict,
    /// The record to update does not exist.
    #[error("record not found")]
    NotFound,
    /// A unique constraint refused the write.
    #[error("duplicate {0:?}")]
    Duplicate(Unique),
    /// A stored record does not rebuild into a valid value (corruption, or a newer schema).
    #[error("corrupt record {id}: {reason}")]
    Corrupt {
        /// The record's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed (connection lost, disk full). The write may or may not have
    /// happened only if the backend says so; retrying a compare-and-set is always safe.
    #[error("store backend failed: {0}")]
    Backend(String),
}

/// Durable storage for the payment lifecycle.
///
/// # Contract
/// - Every update MUST be a compare-and-set on the version: it succeeds only when the stored
///   version equals `expected`, stores version `expected + 1`, and returns it; otherwise
///   [`StoreError::VersionConflict`] and nothing changes. Inserts store version 1.
/// - [`PaymentStore::update_payment`] MUST write the payment and everything in [`Alongside`]
///   atomically: all or nothing.
/// - MUST enforce uniqueness of: payment ids; the Klarna order id of a payment
///   ([`AnyPayment::order_id`]) and of managed orders; the authorization token
///   ([`AnyPayment::authorization_token`], stored only as a hash); the idempotency key of a
///   pending operation ([`AnyPayment::pending_op`], and of managed orders'); customer tokens.
///   A violation returns [`StoreError::Duplicate`] and writes nothing.
/// - MUST NOT hold a transaction or lock across calls; callers never call Klarna inside one.
/// - MUST store customer tokens so that a copy of the storage alone cannot charge them
///   (adapters document how), and SHOULD store authorization tokens hashed.
/// - Loading MUST rebuild values through the domain's constructors: a corrupt record is a
///   [`StoreError::Corrupt`], never a panic.
/// - Claims ([`PaymentStore::claim_in_doubt_payments`]) MUST hand each record to at most one
///   claimer per lease, so several instances can reconcile one database. The same holds for
///   [`PaymentStore::claim_fraud_reviews`], whose lease is independent of the in-doubt one.
/// - [`PaymentStore::installation_id`] MUST answer the same value on every call for the
///   store's whole life, across restarts and from every instance on one database: made once
///   at random (at least 122 random bits) and kept, with insert-if-absent, so that instances
///   starting at once agree (the loser of the insert reads the winner's value).
#[cfg_attr(feature = "test-util", mockall::automock)]
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Inserts a new payment at version 1.
    async fn insert_payment(&self, payment: &AnyPayment) -> Result<u64, StoreError>;
    /// Loads a payment.
    async fn load_payment(
        &self,
        id: &PaymentId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError>;
    /// Compare-and-set: replaces the payment stored at `expected`, together with `also`.
    async fn update_payment(
        &self,
        expected: u64,
        payment: &AnyPayment,
        also: &Alongside,
    ) -> Result<u64, StoreError>;
    /// Finds the payment that holds a Klarna order.
    async fn find_payment_by_order(
        &self,
        order: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError>;
    /// Finds the payment of a Klarna session (for the authorization callback), for the
    /// payment's whole life: also after the order, when the stage no longer names the session.
    async fn find_payment_by_session(
        &self,
        session: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError>;
    /// Payments, newest first, at most `limit` (for admin views).
    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError>;
    /// Payments whose stored stage is `kind`, newest first, at most `limit` (the operator's
    /// queue: `NeedsReview`). MUST select by stage before the limit, so old payments in the
    /// stage are found however many newer payments there are. The stage is the stored one
    /// (no clock applied).
    async fn list_payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError>;
    /// Claims up to `limit` payments with a pending operation whose previous claim (if any)
    /// ended before `now`, leasing them until `now + lease`.
    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError>;

    /// Inserts a customer token at version 1 (tokens are usually inserted through [`Alongside`]).
    async fn insert_customer_token(&self, token: &CustomerToken) -> Result<u64, StoreError>;
    /// Loads a customer token.
    async fn load_customer_token(
        &self,
        id: &CustomerTokenId,
    ) -> Result<Option<Versioned<CustomerToken>>, StoreError>;
    /// Compare-and-set on a customer token.
    async fn update_customer_token(
        &self,
        expected: u64,
        token: &CustomerToken,
    ) -> Result<u64, StoreError>;

    /// Inserts a managed order at version 1 (orders are usually inserted through [`Alongside`]).
    async fn insert_order(&self, order: &ManagedOrder) -> Result<u64, StoreError>;
    /// Loads a managed order.
    async fn load_order(&self, id: &OrderId)
    -> Result<Option<Versioned<ManagedOrder>>, StoreError>;
    /// Compare-and-set on a managed order.
    async fn update_order(&self, expected: u64, order: &ManagedOrder) -> Result<u64, StoreError>;
    /// Claims up to `limit` managed orders with a pending operation, as for payments.
    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError>;

    /// Claims up to `limit` payments in stage `FraudReview` (an order Klarna holds for fraud
    /// review) whose previous fraud-review claim (if any) ended at or before `now`, oldest
    /// first, leasing them until `now + lease`, so each is polled at most once per lease and
    /// by one instance. The lease is separate from the one of
    /// [`PaymentStore::claim_in_doubt_payments`].
    async fn claim_fraud_reviews(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError>;

    /// The store's [`InstallationId`]: made at random on first use, then the same forever.
    async fn installation_id(&self) -> Result<InstallationId, StoreError>;
}
