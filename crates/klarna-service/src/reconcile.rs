//! The reconciler: resolves in-doubt operations from evidence, never to "failed".

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::{
    AnyPayment, IdempotencyKey, ManagedOrder, OrderSource, OrderStatus, StageKind,
};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore, Versioned};
use tracing::{info, warn};

use crate::step::{Orders, Payments, Plan, decided};
use crate::{PaymentService, ServiceError};

/// What one reconciler pass did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ReconcileReport {
    /// In-doubt records claimed.
    pub examined: usize,
    /// Resolved (recorded as done, or definitively refused by evidence).
    pub resolved: usize,
    /// Still pending (Klarna unreachable or still in doubt); tried again on a later pass.
    pub still_pending: usize,
    /// Moved to `NeedsReview`: evidence could not decide.
    pub needs_review: usize,
    /// Left to their caller: younger than the grace period.
    pub too_young: usize,
    /// Payments under fraud review whose decision the pass read from Klarna's order
    /// (accepted or rejected), because no notification had resolved them
    /// ([`PaymentService::poll_fraud_reviews`]).
    pub fraud_resolved: usize,
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// One reconciler pass over at most `limit` in-doubt payments and orders. Several
    /// instances may run it at once: records are claimed with a lease.
    ///
    /// Evidence, in order: an idempotent replay with the stored key and the same body (inside
    /// Klarna's 24 h window); for one-time orders, whether the session is `complete`; for
    /// Order Management, a read of the order. Anything evidence cannot decide goes to
    /// `NeedsReview`.
    ///
    /// # Errors
    /// Store errors while claiming; per-record failures are counted, not returned.
    pub async fn reconcile(&self, limit: usize) -> Result<ReconcileReport, ServiceError> {
        let mut report = ReconcileReport::default();
        let now = self.clock.now();
        let payments = self
            .store
            .claim_in_doubt_payments(now, self.config.claim_lease, limit)
            .await?;
        for v in payments {
            report.examined += 1;
            let Some(op) = v.value.pending_op() else {
                continue;
            };
            if now.since(op.started_at()) < self.config.reconcile_grace {
                report.too_young += 1;
                continue;
            }
            match self.reconcile_payment(v).await {
                Ok(p) if p.pending_op().is_none() && p.kind() == StageKind::NeedsReview => {
                    report.needs_review += 1
                }
                Ok(p) if p.pending_op().is_none() => report.resolved += 1,
                Ok(_) => report.still_pending += 1,
                Err(ServiceError::Refused(_) | ServiceError::Reauthorize { .. }) => {
                    report.resolved += 1
                }
                Err(e) => {
                    warn!(error = %e, "reconciling a payment failed; it stays pending");
                    report.still_pending += 1;
                }
            }
        }
        let orders = self
            .store
            .claim_in_doubt_orders(now, self.config.claim_lease, limit)
            .await?;
        for v in orders {
            report.examined += 1;
            let Some(p) = v.value.pending() else { continue };
            if now.since(p.op.started_at()) < self.config.reconcile_grace {
                report.too_young += 1;
                continue;
            }
            match self.reconcile_order(v).await {
                Ok(o) if o.pending().is_none() => report.resolved += 1,
                Ok(_) => report.still_pending += 1,
                Err(ServiceError::Refused(_)) => report.resolved += 1,
                Err(e) => {
                    warn!(error = %e, "reconciling an order failed; it stays pending");
                    report.still_pending += 1;
                }
            }
        }
        report.fraud_resolved = self.poll_fraud_reviews(limit).await?.resolved;
        if report.examined > 0 {
            info!(?report, "reconciler pass");
        }
        Ok(report)
    }

    /// Reconciles until nothing in doubt is left that evidence can resolve now (bounded).
    ///
    /// # Errors
    /// As [`Self::reconcile`].
    pub async fn reconcile_all(&self) -> Result<ReconcileReport, ServiceError> {
        let mut total = ReconcileReport::default();
        for _ in 0..16 {
            let r = self.reconcile(1_000).await?;
            total.examined += r.examined;
            total.resolved += r.resolved;
            total.needs_review += r.needs_review;
            total.too_young += r.too_young;
            total.fraud_resolved += r.fraud_resolved;
            total.still_pending = r.still_pending;
            if r.resolved == 0 && r.needs_review == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Moves the payment whose operation `key` is in doubt to review (or abandons the token
    /// step of an ordered payment). If the operation was resolved meanwhile, nothing changes.
    async fn review(
        &self,
        stored: Versioned<AnyPayment>,
        key: &IdempotencyKey,
        reason: &str,
    ) -> Result<AnyPayment, ServiceError> {
        let id = stored.value.id().clone();
        let stepped = self
            .step::<Payments, _>(&id, Some(stored), |p, now| {
                if !pending_with(&p, key) {
                    return Ok(Plan::Answer(p));
                }
                decided(
                    &id,
                    p.decide_review(reason, now),
                    |next| Ok(Plan::write(next.clone(), next)),
                    |p| p,
                )
            })
            .await?;
        if stepped.output.pending_op().is_none() {
            warn!(payment = %id, reason, "payment needs review");
        }
        Ok(stepped.output)
    }

    async fn reconcile_payment(
        &self,
        stored: Versioned<AnyPayment>,
    ) -> Result<AnyPayment, ServiceError> {
        let now = self.clock.now();
        let id = stored.value.id().clone();
        let Some(op) = stored.value.pending_op().cloned() else {
            return Ok(stored.value);
        };
        if !op.key_window_open(now) {
            return self
                .review(
                    stored,
                    op.key(),
                    "the idempotency window elapsed before the outcome was known",
                )
                .await;
        }
        if let Some(pending) = stored.value.pending_order().cloned() {
            let result = self.send_order(&pending).await;
            return match result {
                Err(e) if e.action.is_refusal() => {
                    // The replay was refused. Within the key window a replay returns the
                    // first answer, so for token charges (keys documented) the refusal is
                    // evidence; for one-time orders, ask whether the session completed.
                    let no_order = match pending.source() {
                        OrderSource::CustomerToken(_) => true,
                        OrderSource::Authorization { session, .. } => {
                            match self.gateway.read_session(session.id()).await {
                                Ok(state) => !state.complete,
                                Err(_) => return Ok(stored.value),
                            }
                        }
                    };
                    if no_order {
                        let cleared = Versioned {
                            version: stored.version,
                            value: pending.cleared_by_evidence().into(),
                        };
                        self.settle_order(&id, Some(cleared), Err(e), false).await
                    } else {
                        self.review(
                            stored,
                            op.key(),
                            "Klarna completed the session but the order id is unknown; find it by merchant_reference1",
                        )
                        .await
                    }
                }
                other => match self.settle_order(&id, Some(stored), other, true).await {
                    Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                        self.payment(&id).await
                    }
                    done => done,
                },
            };
        }
        if stored.value.pending_tokenization().is_some() {
            let result = self.send_token(&stored.value).await;
            return match result {
                Err(e) if e.action.is_refusal() => {
                    self.review(
                        stored,
                        op.key(),
                        &format!("token creation refused after an in-doubt attempt ({e})"),
                    )
                    .await
                }
                other => match self.settle_token(&id, Some(stored), other, true).await {
                    Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                        self.payment(&id).await
                    }
                    done => done,
                },
            };
        }
        Ok(stored.value)
    }

    async fn reconcile_order(
        &self,
        stored: Versioned<ManagedOrder>,
    ) -> Result<ManagedOrder, ServiceError> {
        let order = stored.value.order_id().clone();
        let Some(pending) = stored.value.pending().cloned() else {
            return Ok(stored.value);
        };
        let result = self.send_order_operation(&stored.value).await;
        let cancel = pending.operation == OmOperation::Cancel;
        match result {
            Err(e) if e.action.is_refusal() => {
                // Evidence from the order itself decides whether the operation happened.
                let Ok(remote) = self.gateway.read_order(&order).await else {
                    return Ok(stored.value);
                };
                let value = &stored.value;
                let applied = match pending.operation {
                    OmOperation::Capture(a) => {
                        remote.captured_amount >= value.captured() + a.minor()
                            && remote
                                .captures
                                .iter()
                                .any(|(id, _)| !value.captures().iter().any(|c| &c.id == id))
                    }
                    OmOperation::Refund(a) => {
                        remote.refunded_amount >= value.refunded() + a.minor()
                            && remote
                                .refunds
                                .iter()
                                .any(|(id, _)| !value.refunds().iter().any(|r| &r.id == id))
                    }
                    OmOperation::Cancel => remote.status == OrderStatus::Cancelled,
                    OmOperation::ReleaseRemaining => remote.status == OrderStatus::Closed,
                    OmOperation::ExtendAuthorization => false,
                };
                if applied {
                    let r = match pending.operation {
                        OmOperation::Capture(_) => OmResult::Captured(
                            new_id(&remote.captures, |c| {
                                value.captures().iter().any(|x| &x.id == c)
                            })
                            .ok_or_else(|| ServiceError::ContradictoryEvidence(order.clone()))?,
                        ),
                        OmOperation::Refund(_) => OmResult::Refunded(
                            new_id(&remote.refunds, |r| {
                                value.refunds().iter().any(|x| &x.id == r)
                            })
                            .ok_or_else(|| ServiceError::ContradictoryEvidence(order.clone()))?,
                        ),
                        OmOperation::Cancel
                        | OmOperation::ReleaseRemaining
                        | OmOperation::ExtendAuthorization => OmResult::Done,
                    };
                    let done = self
                        .settle_order_operation(&order, Some(stored), Ok(r), true)
                        .await?;
                    if cancel {
                        self.mark_payment_cancelled(&order).await?;
                    }
                    Ok(done)
                } else {
                    let key = pending.op.key().clone();
                    let stepped = self
                        .step::<Orders, _>(&order, Some(stored), |o, _| {
                            if o.pending().is_none_or(|p| p.op.key() != &key) {
                                return Ok(Plan::Answer(o));
                            }
                            let cleared = o.not_applied()?;
                            Ok(Plan::write(cleared.clone(), cleared))
                        })
                        .await?;
                    Ok(stepped.output)
                }
            }
            other => {
                let done = match self
                    .settle_order_operation(&order, Some(stored), other, true)
                    .await
                {
                    Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                        self.order(&order).await?
                    }
                    done => done?,
                };
                if cancel && done.status() == OrderStatus::Cancelled {
                    self.mark_payment_cancelled(&order).await?;
                }
                Ok(done)
            }
        }
    }
}

/// Whether the payment's pending operation is the one with `key`.
fn pending_with(p: &AnyPayment, key: &IdempotencyKey) -> bool {
    p.pending_op().is_some_and(|op| op.key() == key)
}

/// The first id in `remote` that `known` does not hold.
fn new_id<T: Clone>(remote: &[(T, i64)], known: impl Fn(&T) -> bool) -> Option<T> {
    remote
        .iter()
        .map(|(id, _)| id)
        .find(|id| !known(id))
        .cloned()
}
