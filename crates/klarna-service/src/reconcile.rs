//! The reconciler: resolves in-doubt operations from evidence, never to "failed".

use klarna_domain::order::OmResult;
use klarna_domain::{AnyPayment, ManagedOrder, OrderSource};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore, StoreError, Versioned};
use tracing::{info, warn};

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
                Ok(p)
                    if p.pending_op().is_none()
                        && p.kind() == klarna_domain::StageKind::NeedsReview =>
                {
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
            total.still_pending = r.still_pending;
            if r.resolved == 0 && r.needs_review == 0 {
                break;
            }
        }
        Ok(total)
    }

    async fn review(
        &self,
        version: u64,
        p: AnyPayment,
        reason: &str,
    ) -> Result<AnyPayment, ServiceError> {
        let now = self.clock.now();
        let next: AnyPayment = match p {
            AnyPayment::OrderPending(x) => x.needs_review(reason, now).into(),
            AnyPayment::TokenPending(x) => x.needs_review(reason, now).into(),
            AnyPayment::Ordered(x) => x
                .abandon_token_step(format!("NEEDS_REVIEW: {reason}"))
                .into(),
            other @ (AnyPayment::Open(_)
            | AnyPayment::Authorized(_)
            | AnyPayment::FraudReview(_)
            | AnyPayment::Tokenized(_)
            | AnyPayment::Cancelled(_)
            | AnyPayment::Expired(_)
            | AnyPayment::Refused(_)
            | AnyPayment::NeedsReview(_)) => return Ok(other),
        };
        warn!(payment = %next.id(), reason, "payment needs review");
        match self
            .store
            .update_payment(version, &next, &klarna_ports::Also::default())
            .await
        {
            Ok(_) => Ok(next),
            Err(StoreError::VersionConflict) => Ok(self.load(next.id()).await?.value),
            Err(e) => Err(e.into()),
        }
    }

    async fn reconcile_payment(
        &self,
        v: Versioned<AnyPayment>,
    ) -> Result<AnyPayment, ServiceError> {
        let now = self.clock.now();
        let Versioned { version, value } = v;
        let id = value.id().clone();
        let Some(op) = value.pending_op().cloned() else {
            return Ok(value);
        };
        if !op.key_window_open(now) {
            return self
                .review(
                    version,
                    value,
                    "the idempotency window elapsed before the outcome was known",
                )
                .await;
        }
        match value {
            AnyPayment::OrderPending(p) => {
                let result = self.send_order(&p).await;
                match result {
                    Err(e) if e.action.is_refusal() => {
                        // The replay was refused. Within the key window a replay returns the
                        // first answer, so for token charges (keys documented) the refusal is
                        // evidence; for one-time orders, ask whether the session completed.
                        let no_order = match p.source() {
                            OrderSource::CustomerToken(_) => true,
                            OrderSource::Authorization { session, .. } => {
                                match self.gateway.read_session(session.id()).await {
                                    Ok(state) => !state.complete,
                                    Err(_) => return Ok(AnyPayment::OrderPending(p)),
                                }
                            }
                        };
                        if no_order {
                            let cleared = p.cleared_by_evidence();
                            self.settle_order(&id, Some((version, cleared)), Err(e), false)
                                .await
                        } else {
                            self.review(
                                version,
                                p.into(),
                                "Klarna completed the session but the order id is unknown; find it by merchant_reference1",
                            )
                            .await
                        }
                    }
                    other => match self
                        .settle_order(&id, Some((version, p)), other, true)
                        .await
                    {
                        Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                            Ok(self.load(&id).await?.value)
                        }
                        done => done,
                    },
                }
            }
            p @ (AnyPayment::TokenPending(_) | AnyPayment::Ordered(_)) => {
                let result = self.send_token(&p).await;
                match result {
                    Err(e) if e.action.is_refusal() => {
                        self.review(
                            version,
                            p,
                            &format!("token creation refused after an in-doubt attempt ({e})"),
                        )
                        .await
                    }
                    other => match self
                        .settle_token(&id, Some((version, p)), other, true)
                        .await
                    {
                        Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                            Ok(self.load(&id).await?.value)
                        }
                        done => done,
                    },
                }
            }
            other @ (AnyPayment::Open(_)
            | AnyPayment::Authorized(_)
            | AnyPayment::FraudReview(_)
            | AnyPayment::Tokenized(_)
            | AnyPayment::Cancelled(_)
            | AnyPayment::Expired(_)
            | AnyPayment::Refused(_)
            | AnyPayment::NeedsReview(_)) => Ok(other),
        }
    }

    async fn reconcile_order(
        &self,
        v: Versioned<ManagedOrder>,
    ) -> Result<ManagedOrder, ServiceError> {
        let Versioned { version, value } = v;
        let order = value.order_id().clone();
        let result = self.send_om(&value).await;
        match result {
            Err(e) if e.action.is_refusal() => {
                // Evidence from the order itself decides whether the operation happened.
                let Ok(remote) = self.gateway.read_order(&order).await else {
                    return Ok(value);
                };
                let Some(p) = value.pending().cloned() else {
                    return Ok(value);
                };
                let applied = match p.operation {
                    klarna_domain::OmOperation::Capture(a) => {
                        remote.captured_amount >= value.captured() + a
                            && remote
                                .captures
                                .iter()
                                .any(|(id, _)| !value.captures().iter().any(|c| &c.id == id))
                    }
                    klarna_domain::OmOperation::Refund(a) => {
                        remote.refunded_amount >= value.refunded() + a
                            && remote
                                .refunds
                                .iter()
                                .any(|(id, _)| !value.refunds().iter().any(|r| &r.id == id))
                    }
                    klarna_domain::OmOperation::Cancel => {
                        remote.status == klarna_domain::OrderStatus::Cancelled
                    }
                    klarna_domain::OmOperation::ReleaseRemaining => {
                        remote.status == klarna_domain::OrderStatus::Closed
                    }
                    klarna_domain::OmOperation::ExtendAuthorization => false,
                };
                if applied {
                    let r = match p.operation {
                        klarna_domain::OmOperation::Capture(_) => {
                            OmResult::Captured(new_id(&remote.captures, |c| {
                                value.captures().iter().any(|x| &x.id == c)
                            })?)
                        }
                        klarna_domain::OmOperation::Refund(_) => {
                            OmResult::Refunded(new_id(&remote.refunds, |r| {
                                value.refunds().iter().any(|x| &x.id == r)
                            })?)
                        }
                        klarna_domain::OmOperation::Cancel
                        | klarna_domain::OmOperation::ReleaseRemaining
                        | klarna_domain::OmOperation::ExtendAuthorization => OmResult::Done,
                    };
                    let done = self
                        .settle_om(&order, Some((version, value)), Ok(r), true)
                        .await?;
                    if p.operation == klarna_domain::OmOperation::Cancel {
                        self.mark_payment_cancelled(&order).await?;
                    }
                    Ok(done)
                } else {
                    let cleared = value.not_applied()?;
                    match self.store.update_order(version, &cleared).await {
                        Ok(_) => Ok(cleared),
                        Err(StoreError::VersionConflict) => {
                            Ok(self.load_order(&order).await?.value)
                        }
                        Err(e) => Err(e.into()),
                    }
                }
            }
            other => {
                let cancel = value
                    .pending()
                    .is_some_and(|p| p.operation == klarna_domain::OmOperation::Cancel);
                let done = match self
                    .settle_om(&order, Some((version, value)), other, true)
                    .await
                {
                    Err(ServiceError::OutcomeUnknown { .. } | ServiceError::Unavailable(_)) => {
                        self.load_order(&order).await?.value
                    }
                    done => done?,
                };
                if cancel && done.status() == klarna_domain::OrderStatus::Cancelled {
                    self.mark_payment_cancelled(&order).await?;
                }
                Ok(done)
            }
        }
    }
}

/// The first id in `remote` that `known` does not hold.
fn new_id<T: Clone>(remote: &[(T, i64)], known: impl Fn(&T) -> bool) -> Result<T, ServiceError> {
    remote
        .iter()
        .map(|(id, _)| id)
        .find(|id| !known(id))
        .cloned()
        .ok_or_else(|| {
            ServiceError::Invalid("Klarna's order shows the effect but no new id".to_owned())
        })
}
