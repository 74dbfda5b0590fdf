//! In-memory store adapter for the Klarna toolkit: a real adapter and the canonical fake.
//!
//! [`InMemoryStore`] implements [`PaymentStore`] with the full contract — compare-and-set on
//! versions, atomic [`Alongside`] writes, every unique constraint, leased claims — behind one
//! mutex, so it is both a usable store for single-process apps and demos and the reference
//! the SQL adapter is checked against (it runs the same contract suite). Nothing survives the
//! process: use `klarna-store-sql` when payments must outlive a restart.
//!
//! ```
//! use klarna_store_memory::InMemoryStore;
//! let store = InMemoryStore::new();
//! assert_eq!(store.len(), 0);
//! ```

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use klarna_domain::{
    AnyPayment, CustomerToken, CustomerTokenId, ManagedOrder, OrderId, PaymentId, SessionId, Span,
    StageKind, Timestamp,
};
use klarna_ports::{Alongside, InstallationId, PaymentStore, StoreError, Unique, Versioned};

#[derive(Debug)]
struct Row<T> {
    version: u64,
    value: T,
    claimed_until: Timestamp,
    seq: u64,
}

/// Which record owns a unique value.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Owner {
    Payment(PaymentId),
    Order(OrderId),
}

#[derive(Default)]
struct Inner {
    seq: u64,
    payments: HashMap<PaymentId, Row<AnyPayment>>,
    by_seq: BTreeMap<u64, PaymentId>,
    orders: HashMap<OrderId, Row<ManagedOrder>>,
    tokens: HashMap<String, Row<CustomerToken>>,
    /// Klarna order id → payment.
    order_owner: HashMap<String, PaymentId>,
    /// Authorization token → payment. Kept in memory only, like everything here.
    auth_owner: HashMap<String, PaymentId>,
    /// Idempotency key → the payment or order whose pending operation holds it.
    key_owner: HashMap<String, Owner>,
    /// Session → payment.
    session_owner: HashMap<String, PaymentId>,
    /// Payment under fraud review → end of its fraud-review claim (separate from in-doubt
    /// claims).
    fraud_claimed_until: HashMap<PaymentId, Timestamp>,
    /// Made on first use, then the same for this store's life.
    installation: Option<InstallationId>,
}

/// 128 random bits from the standard library's randomly keyed hasher (its keys come from the
/// operating system's generator and differ per hasher), so no two stores share an id.
fn random_installation_id() -> InstallationId {
    let mut bytes = [0_u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    InstallationId::from_bytes(bytes)
}

/// The unique values a payment holds.
struct Keys {
    order: Option<String>,
    auth: Option<String>,
    key: Option<String>,
    session: Option<String>,
}

fn keys_of(p: &AnyPayment) -> Keys {
    Keys {
        order: p.order_id().map(ToString::to_string),
        auth: p
            .authorization_token()
            .map(|t| t.expose_secret().to_owned()),
        key: p.pending_op().map(|o| o.key().to_string()),
        session: p.session_id().map(ToString::to_string),
    }
}

impl Inner {
    /// Checks the unique values of `p` against every other record (`me` is the payment itself).
    fn check_payment(&self, p: &AnyPayment, me: &PaymentId) -> Result<(), StoreError> {
        let k = keys_of(p);
        if let Some(o) = &k.order
            && self.order_owner.get(o).is_some_and(|owner| owner != me)
        {
            return Err(StoreError::Duplicate(Unique::OrderId));
        }
        if let Some(a) = &k.auth
            && self.auth_owner.get(a).is_some_and(|owner| owner != me)
        {
            return Err(StoreError::Duplicate(Unique::AuthorizationToken));
        }
        if let Some(key) = &k.key
            && self
                .key_owner
                .get(key)
                .is_some_and(|owner| *owner != Owner::Payment(me.clone()))
        {
            return Err(StoreError::Duplicate(Unique::IdempotencyKey));
        }
        Ok(())
    }

    fn check_order(&self, o: &ManagedOrder, inserting: bool) -> Result<(), StoreError> {
        if inserting && self.orders.contains_key(o.order_id()) {
            return Err(StoreError::Duplicate(Unique::OrderId));
        }
        if let Some(p) = o.pending() {
            let owner = Owner::Order(o.order_id().clone());
            if self
                .key_owner
                .get(p.op.key().as_str())
                .is_some_and(|k| *k != owner)
            {
                return Err(StoreError::Duplicate(Unique::IdempotencyKey));
            }
        }
        Ok(())
    }

    fn unindex_payment(&mut self, p: &AnyPayment) {
        let k = keys_of(p);
        if let Some(o) = k.order {
            self.order_owner.remove(&o);
        }
        if let Some(a) = k.auth {
            self.auth_owner.remove(&a);
        }
        if let Some(key) = k.key {
            self.key_owner.remove(&key);
        }
        // The session index is never removed: a session belongs to its payment for life, so a
        // late authorization callback still finds an ordered payment.
        let _ = k.session;
    }

    fn index_payment(&mut self, p: &AnyPayment) {
        let id = p.id().clone();
        let k = keys_of(p);
        if let Some(o) = k.order {
            self.order_owner.insert(o, id.clone());
        }
        if let Some(a) = k.auth {
            self.auth_owner.insert(a, id.clone());
        }
        if let Some(key) = k.key {
            self.key_owner.insert(key, Owner::Payment(id.clone()));
        }
        if let Some(s) = k.session {
            self.session_owner.insert(s, id);
        }
    }

    fn index_order(&mut self, old: Option<&ManagedOrder>, new: &ManagedOrder) {
        if let Some(p) = old.and_then(ManagedOrder::pending) {
            self.key_owner.remove(p.op.key().as_str());
        }
        if let Some(p) = new.pending() {
            self.key_owner
                .insert(p.op.key().to_string(), Owner::Order(new.order_id().clone()));
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn insert_order_row(&mut self, o: &ManagedOrder) {
        self.index_order(None, o);
        let seq = self.next_seq();
        self.orders.insert(
            o.order_id().clone(),
            Row {
                version: 1,
                value: o.clone(),
                claimed_until: order_fence(o),
                seq,
            },
        );
    }

    fn insert_token_row(&mut self, t: &CustomerToken) {
        let seq = self.next_seq();
        self.tokens.insert(
            t.id().expose_secret().to_owned(),
            Row {
                version: 1,
                value: t.clone(),
                claimed_until: Timestamp::EPOCH,
                seq,
            },
        );
    }

    fn check_also(&self, also: &Alongside) -> Result<(), StoreError> {
        if let Some(o) = &also.order {
            self.check_order(o, true)?;
        }
        if let Some(t) = &also.token
            && self.tokens.contains_key(t.id().expose_secret())
        {
            return Err(StoreError::Duplicate(Unique::CustomerToken));
        }
        Ok(())
    }
}

/// An in-memory [`PaymentStore`]: one mutex, every contract rule, nothing persisted.
///
/// Its [`InstallationId`] is random per store value: a new store (a restarted process) gets
/// a new one, so its idempotency keys never repeat those of an earlier life, whose payments
/// it no longer holds anyway.
#[derive(Default)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for InMemoryStore {
    /// Counts only: the maps hold tokens (as keys, too) that must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("InMemoryStore")
            .field("payments", &g.payments.len())
            .field("orders", &g.orders.len())
            .field("customer_tokens", &g.tokens.len())
            .finish()
    }
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written record: every method
        // checks first and mutates after, so the data stays consistent and usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of payments stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().payments.len()
    }

    /// Whether no payment is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every managed order (for tests and admin views).
    #[must_use]
    pub fn orders(&self) -> Vec<Versioned<ManagedOrder>> {
        self.lock()
            .orders
            .values()
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            })
            .collect()
    }
}

/// Until when a payment is not claimable: its pending operation's fence (the caller's call
/// may still run), which rides on the pending write.
fn payment_fence(p: &AnyPayment) -> Timestamp {
    p.pending_op().map_or(Timestamp::EPOCH, |op| op.fence())
}

/// As [`payment_fence`], for an order.
fn order_fence(o: &ManagedOrder) -> Timestamp {
    o.pending().map_or(Timestamp::EPOCH, |p| p.op.fence())
}

/// The claim after a write: the same pending operation keeps its lease (and at least its
/// fence); a new or finished one drops any lease on the old one and waits for its own fence.
fn rewrite_claim(claimed_until: Timestamp, same_op: bool, fence: Timestamp) -> Timestamp {
    if same_op {
        claimed_until.max(fence)
    } else {
        fence
    }
}

fn claim<T: Clone>(
    rows: Vec<&mut Row<T>>,
    now: Timestamp,
    lease: Span,
    limit: usize,
) -> Vec<Versioned<T>> {
    let mut rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.claimed_until <= now)
        .collect();
    rows.sort_by_key(|r| r.seq);
    rows.into_iter()
        .take(limit)
        .map(|r| {
            r.claimed_until = now.plus(lease);
            Versioned {
                version: r.version,
                value: r.value.clone(),
            }
        })
        .collect()
}

#[async_trait]
impl PaymentStore for InMemoryStore {
    async fn insert_payment(&self, payment: &AnyPayment) -> Result<u64, StoreError> {
        let mut g = self.lock();
        if g.payments.contains_key(payment.id()) {
            return Err(StoreError::Duplicate(Unique::PaymentId));
        }
        g.check_payment(payment, payment.id())?;
        g.index_payment(payment);
        let seq = g.next_seq();
        g.by_seq.insert(seq, payment.id().clone());
        g.payments.insert(
            payment.id().clone(),
            Row {
                version: 1,
                value: payment.clone(),
                claimed_until: payment_fence(payment),
                seq,
            },
        );
        Ok(1)
    }

    async fn load_payment(
        &self,
        id: &PaymentId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        Ok(self.lock().payments.get(id).map(|r| Versioned {
            version: r.version,
            value: r.value.clone(),
        }))
    }

    async fn update_payment(
        &self,
        expected: u64,
        payment: &AnyPayment,
        also: &Alongside,
    ) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let current = g.payments.get(payment.id()).ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::VersionConflict);
        }
        let old = current.value.clone();
        g.check_payment(payment, payment.id())?;
        g.check_also(also)?;
        g.unindex_payment(&old);
        g.index_payment(payment);
        if let Some(o) = &also.order {
            g.insert_order_row(o);
        }
        if let Some(t) = &also.token {
            g.insert_token_row(t);
        }
        let row = g
            .payments
            .get_mut(payment.id())
            .ok_or(StoreError::NotFound)?;
        let same_op =
            row.value.pending_op().map(|o| o.key()) == payment.pending_op().map(|o| o.key());
        row.claimed_until = rewrite_claim(row.claimed_until, same_op, payment_fence(payment));
        row.version += 1;
        row.value = payment.clone();
        Ok(row.version)
    }

    async fn find_payment_by_order(
        &self,
        order: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        let g = self.lock();
        Ok(g.order_owner
            .get(order.as_str())
            .and_then(|id| g.payments.get(id))
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            }))
    }

    async fn find_payment_by_session(
        &self,
        session: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        let g = self.lock();
        Ok(g.session_owner
            .get(session.as_str())
            .and_then(|id| g.payments.get(id))
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            }))
    }

    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let g = self.lock();
        Ok(g.by_seq
            .values()
            .rev()
            .filter_map(|id| g.payments.get(id))
            .take(limit)
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            })
            .collect())
    }

    async fn list_payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let g = self.lock();
        Ok(g.by_seq
            .values()
            .rev()
            .filter_map(|id| g.payments.get(id))
            .filter(|r| r.value.kind() == kind)
            .take(limit)
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            })
            .collect())
    }

    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let mut g = self.lock();
        let rows = g
            .payments
            .values_mut()
            .filter(|r| r.value.pending_op().is_some())
            .collect();
        Ok(claim(rows, now, lease, limit))
    }

    async fn insert_customer_token(&self, token: &CustomerToken) -> Result<u64, StoreError> {
        let mut g = self.lock();
        if g.tokens.contains_key(token.id().expose_secret()) {
            return Err(StoreError::Duplicate(Unique::CustomerToken));
        }
        g.insert_token_row(token);
        Ok(1)
    }

    async fn load_customer_token(
        &self,
        id: &CustomerTokenId,
    ) -> Result<Option<Versioned<CustomerToken>>, StoreError> {
        Ok(self
            .lock()
            .tokens
            .get(id.expose_secret())
            .map(|r| Versioned {
                version: r.version,
                value: r.value.clone(),
            }))
    }

    async fn update_customer_token(
        &self,
        expected: u64,
        token: &CustomerToken,
    ) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let row = g
            .tokens
            .get_mut(token.id().expose_secret())
            .ok_or(StoreError::NotFound)?;
        if row.version != expected {
            return Err(StoreError::VersionConflict);
        }
        row.version += 1;
        row.value = token.clone();
        Ok(row.version)
    }

    async fn insert_order(&self, order: &ManagedOrder) -> Result<u64, StoreError> {
        let mut g = self.lock();
        g.check_order(order, true)?;
        g.insert_order_row(order);
        Ok(1)
    }

    async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<Versioned<ManagedOrder>>, StoreError> {
        Ok(self.lock().orders.get(id).map(|r| Versioned {
            version: r.version,
            value: r.value.clone(),
        }))
    }

    async fn update_order(&self, expected: u64, order: &ManagedOrder) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let current = g.orders.get(order.order_id()).ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::VersionConflict);
        }
        let old = current.value.clone();
        g.check_order(order, false)?;
        g.index_order(Some(&old), order);
        let row = g
            .orders
            .get_mut(order.order_id())
            .ok_or(StoreError::NotFound)?;
        let same_op =
            row.value.pending().map(|p| p.op.key()) == order.pending().map(|p| p.op.key());
        row.claimed_until = rewrite_claim(row.claimed_until, same_op, order_fence(order));
        row.version += 1;
        row.value = order.clone();
        Ok(row.version)
    }

    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError> {
        let mut g = self.lock();
        let rows = g
            .orders
            .values_mut()
            .filter(|r| r.value.pending().is_some())
            .collect();
        Ok(claim(rows, now, lease, limit))
    }

    async fn claim_fraud_reviews(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let mut g = self.lock();
        let inner = &mut *g;
        let mut due: Vec<(u64, &PaymentId, &Row<AnyPayment>)> = inner
            .payments
            .iter()
            .filter(|(id, r)| {
                r.value.kind() == StageKind::FraudReview
                    && inner
                        .fraud_claimed_until
                        .get(*id)
                        .is_none_or(|until| *until <= now)
            })
            .map(|(id, r)| (r.seq, id, r))
            .collect();
        due.sort_by_key(|(seq, _, _)| *seq);
        let claimed: Vec<(PaymentId, Versioned<AnyPayment>)> = due
            .into_iter()
            .take(limit)
            .map(|(_, id, r)| {
                (
                    id.clone(),
                    Versioned {
                        version: r.version,
                        value: r.value.clone(),
                    },
                )
            })
            .collect();
        // Forget the leases of payments no longer under review, so the map stays small.
        let payments = &inner.payments;
        inner.fraud_claimed_until.retain(|id, _| {
            payments
                .get(id)
                .is_some_and(|r| r.value.kind() == StageKind::FraudReview)
        });
        Ok(claimed
            .into_iter()
            .map(|(id, v)| {
                inner.fraud_claimed_until.insert(id, now.plus(lease));
                v
            })
            .collect())
    }

    async fn installation_id(&self) -> Result<InstallationId, StoreError> {
        Ok(*self
            .lock()
            .installation
            .get_or_insert_with(random_installation_id))
    }
}
