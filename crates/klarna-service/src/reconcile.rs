//! The reconciler: resolves in-doubt operations from evidence, never to "failed".

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::payment::PendingOp;
use klarna_domain::{
    AnyPayment, IdempotencyKey, ManagedOrder, OrderSource, OrderStatus, Span, Timestamp,
};
use klarna_ports::{
    Clock, ErrorAction, IdempotencyKeys, PaymentGateway, PaymentStore, SessionProgress, Versioned,
};
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
    /// Open payments whose payment link the pass found paid and recorded (the shop missed the
    /// shopper's return and Klarna's callback).
    pub links_paid: usize,
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
    /// Then the payments in fraud review are polled and the open payment links settled.
    ///
    /// # Errors
    /// Store errors while claiming; per-record failures are counted, not returned.
    pub async fn reconcile(&self, limit: usize) -> Result<ReconcileReport, ServiceError> {
        let mut report = self.reconcile_in_doubt(limit).await?;
        report.links_paid = self.sweep_payment_links(limit).await?;
        Ok(report)
    }

    /// The pass without the sweep of payment links: in-doubt payments and orders, then the
    /// fraud poll.
    async fn reconcile_in_doubt(&self, limit: usize) -> Result<ReconcileReport, ServiceError> {
        let mut report = ReconcileReport::default();
        let lease = self.claim_lease();
        // One record at a time: each claim's lease covers the work on that record (a replay
        // and the reads that decide it, each within the call deadline), never a whole pass.
        for _ in 0..limit {
            let now = self.clock.now();
            let Some(v) = self
                .store
                .claim_in_doubt_payments(now, lease, 1)
                .await?
                .into_iter()
                .next()
            else {
                break;
            };
            report.examined += 1;
            let Some(op) = v.value.pending_op() else {
                continue;
            };
            if !self.may_take(op, now) {
                report.too_young += 1;
                continue;
            }
            let mut reviewed = false;
            match self.reconcile_payment(v, &mut reviewed).await {
                // A review of a token step leaves the ordered payment ordered: still a review.
                Ok(p) if p.pending_op().is_none() && reviewed => report.needs_review += 1,
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
        for _ in 0..limit {
            let now = self.clock.now();
            let Some(v) = self
                .store
                .claim_in_doubt_orders(now, lease, 1)
                .await?
                .into_iter()
                .next()
            else {
                break;
            };
            report.examined += 1;
            let Some(p) = v.value.pending() else { continue };
            if !self.may_take(&p.op, now) {
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

    /// The claim lease: the configured one, but never shorter than three call deadlines (a
    /// replay and the reads that decide it), so a claim outlives the work on its record.
    pub(crate) fn claim_lease(&self) -> Span {
        let floor = self.config.call_deadline.as_millis().saturating_mul(3);
        Span::millis(self.config.claim_lease.as_millis().max(floor))
    }

    /// Whether the reconciler may take the operation at `now`: past its fence (the caller's
    /// call may run until then) and past the grace the caller has to finish it.
    fn may_take(&self, op: &PendingOp, now: Timestamp) -> bool {
        now >= op.fence() && now.since(op.started_at()) >= self.config.reconcile_grace
    }

    /// Reconciles until nothing in doubt is left that evidence can resolve now (bounded), then
    /// settles the open payment links once (each is a read at Klarna: not once per round).
    ///
    /// # Errors
    /// As [`Self::reconcile`].
    pub async fn reconcile_all(&self) -> Result<ReconcileReport, ServiceError> {
        const LIMIT: usize = 1_000;
        let mut total = ReconcileReport::default();
        for _ in 0..16 {
            let r = self.reconcile_in_doubt(LIMIT).await?;
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
        total.links_paid = self.sweep_payment_links(LIMIT).await?;
        Ok(total)
    }

    /// Moves the payment whose operation `key` is in doubt to review (or abandons the token
    /// step of an ordered payment). If the operation was resolved meanwhile, nothing changes.
    async fn review(
        &self,
        stored: Versioned<AnyPayment>,
        key: &IdempotencyKey,
        reason: &str,
        reviewed: &mut bool,
    ) -> Result<AnyPayment, ServiceError> {
        let id = stored.value.id().clone();
        // The evidence a human needs: an order may exist at Klarna under our reference (the
        // shop's order number when it gave one).
        let reason = if stored.value.pending_order().is_some() {
            let reference = stored.value.merchant_reference1().to_owned();
            format!(
                "{reason}; find the order at Klarna by merchant_reference1 = {reference} (idempotency key {key})"
            )
        } else {
            format!("{reason} (idempotency key {key})")
        };
        let reason = reason.as_str();
        let stepped = self
            .step::<Payments, _>(&id, Some(stored), |p, now| {
                if !pending_with(&p, key) {
                    return Ok(Plan::Answer((p, false)));
                }
                decided(
                    &id,
                    p.decide_review(reason, now),
                    |next| Ok(Plan::write(next.clone(), (next, true))),
                    |p| (p, false),
                )
            })
            .await?;
        let (next, wrote) = stepped.output;
        if wrote {
            *reviewed = true;
            warn!(payment = %id, reason, "payment needs review");
        }
        Ok(next)
    }

    async fn reconcile_payment(
        &self,
        stored: Versioned<AnyPayment>,
        reviewed: &mut bool,
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
                    reviewed,
                )
                .await;
        }
        // A replay sends the request as first sent: if what it takes from configuration
        // changed since (callback URLs, the token description), it is not sent under the
        // same key; a human decides.
        let now_request = if stored
            .value
            .pending_order()
            .is_some_and(|p| matches!(p.source(), OrderSource::Authorization { .. }))
        {
            Some(self.order_request())
        } else if stored.value.pending_tokenization().is_some() {
            Some(self.token_request())
        } else {
            None
        };
        if let (Some(first), Some(now_request)) = (op.request(), now_request)
            && first != now_request
        {
            return self
                .review(
                    stored,
                    op.key(),
                    "the configured part of the request (callback URLs or token description) changed since it was first sent; a replay would send other bytes under the same key",
                    reviewed,
                )
                .await;
        }
        if let Some(pending) = stored.value.pending_order().cloned() {
            let result = self.send_order(&pending).await;
            return match result {
                Err(e) if e.action.is_refusal() => {
                    // The replay was refused. Within the key window a replay of a token charge
                    // (keys documented) returns the first answer, so its refusal is evidence.
                    // The Payments API replays nothing: a refused create order is evidence of
                    // no order only when the authorization itself is gone (not "consumed",
                    // which means an order exists) AND the session says, explicitly, that it
                    // is incomplete. An absent or unknown status, or a failed read, is no
                    // evidence: the operation stays pending (and goes to review once the key
                    // window has passed).
                    let no_order = match pending.source() {
                        OrderSource::CustomerToken(_) => true,
                        OrderSource::Authorization { session, .. } => {
                            let consumed = matches!(e.action, ErrorAction::Rejected(_));
                            let read = match self
                                .routed(pending.cart().market().region(), "payments.read_session")
                            {
                                Ok(g) => g.read_session(session.id()).await,
                                Err(e) => Err(e),
                            };
                            match read {
                                Ok(s) if s.progress == SessionProgress::Complete => false,
                                Ok(s) if s.progress == SessionProgress::Incomplete && !consumed => {
                                    true
                                }
                                Ok(_) | Err(_) => return Ok(stored.value),
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
                            "Klarna completed the session, and no answer gave the order id",
                            reviewed,
                        )
                        .await
                    }
                }
                other => match self.settle_order(&id, Some(stored), other, true).await {
                    Err(
                        ServiceError::OutcomeUnknown { .. }
                        | ServiceError::Queued { .. }
                        | ServiceError::Unavailable(_),
                    ) => self.payment(&id).await,
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
                        reviewed,
                    )
                    .await
                }
                other => match self.settle_token(&id, Some(stored), other, true).await {
                    Err(
                        ServiceError::OutcomeUnknown { .. }
                        | ServiceError::Queued { .. }
                        | ServiceError::Unavailable(_),
                    ) => self.payment(&id).await,
                    // buy_and_tokenize: the token is resolved and its order begun: send it.
                    Ok(p) => match self.send_begun_order(&id, p).await {
                        Err(
                            ServiceError::OutcomeUnknown { .. }
                            | ServiceError::Queued { .. }
                            | ServiceError::Unavailable(_),
                        ) => self.payment(&id).await,
                        done => done,
                    },
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
        let cancel = pending.operation == OmOperation::Cancel;
        if !pending.op.key_window_open(self.clock.now()) {
            // Past Klarna's 24 h the key may no longer de-duplicate: a resend could capture or
            // refund twice. Never send; the order's own captures and refunds decide.
            return self.decide_from_order(stored, &pending).await;
        }
        match self.send_order_operation(&stored.value).await {
            // The replay was refused: evidence from the order itself decides.
            Err(e) if e.action.is_refusal() => self.decide_from_order(stored, &pending).await,
            other => {
                let done = match self
                    .settle_order_operation(&order, Some(stored), other, true)
                    .await
                {
                    Err(
                        ServiceError::OutcomeUnknown { .. }
                        | ServiceError::Queued { .. }
                        | ServiceError::Unavailable(_),
                    ) => self.order(&order).await?,
                    done => done?,
                };
                if cancel && done.status() == OrderStatus::Cancelled {
                    self.mark_payment_cancelled(&order).await?;
                }
                Ok(done)
            }
        }
    }

    /// Decides an in-doubt Order Management operation from a read of the order: its effect
    /// and a capture or refund id we do not hold mean it happened; otherwise it did not (a
    /// request older than the call's deadline is no longer running). An extension of the
    /// authorization time leaves no trace: it is recorded as not applied, the conservative
    /// side (the order is treated as expiring earlier than it may). A failed read leaves it
    /// pending.
    async fn decide_from_order(
        &self,
        stored: Versioned<ManagedOrder>,
        pending: &klarna_domain::order::PendingOm,
    ) -> Result<ManagedOrder, ServiceError> {
        let order = stored.value.order_id().clone();
        let cancel = pending.operation == OmOperation::Cancel;
        let Ok(gateway) = self.routed(stored.value.currency().region(), "ordermanagement.read")
        else {
            return Ok(stored.value);
        };
        let Ok(remote) = gateway.read_order(&order).await else {
            return Ok(stored.value);
        };
        if remote.fraud_status == Some(klarna_domain::FraudStatus::Stopped)
            && let Err(e) = self.apply_fraud_status(&order, remote.fraud_status).await
        {
            tracing::warn!(order = %order, error = %e, "Klarna stopped the order; recording the stop failed, the next read tries again");
        }
        let value = &stored.value;
        let applied = match &pending.operation {
            OmOperation::Capture(c) => {
                remote.captured_amount >= value.captured() + c.amount().minor()
                    && remote
                        .captures
                        .iter()
                        .any(|(id, _)| !value.captures().iter().any(|c| &c.id == id))
            }
            OmOperation::Refund(r) => {
                remote.refunded_amount >= value.refunded() + r.amount().minor()
                    && remote
                        .refunds
                        .iter()
                        .any(|(id, _)| !value.refunds().iter().any(|r| &r.id == id))
            }
            OmOperation::Cancel => remote.status == OrderStatus::Cancelled,
            OmOperation::ReleaseRemaining => remote.status == OrderStatus::Closed,
            // The order amount shows an accepted update; an unchanged amount leaves the
            // ledger as it is either way.
            OmOperation::UpdateAuthorization(u) => {
                remote.order_amount == u.order_amount() && value.order_amount() != u.order_amount()
            }
            // Neither leaves a trace the order read carries: recorded as not applied (the
            // merchant may add the shipping info or references again; Klarna appends or
            // overwrites, the ledger is untouched).
            OmOperation::AddShippingInfo(_) | OmOperation::UpdateMerchantReferences(_) => false,
            OmOperation::ExtendAuthorization => false,
        };
        if applied {
            let r = match &pending.operation {
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
                | OmOperation::ExtendAuthorization
                | OmOperation::AddShippingInfo(_)
                | OmOperation::UpdateAuthorization(_)
                | OmOperation::UpdateMerchantReferences(_) => OmResult::Done,
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
