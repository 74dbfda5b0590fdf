//! Fraud reviews no notification resolved: poll Klarna's order for its decision, so a lost notification strands nothing.

use klarna_domain::{AnyPayment, StageKind};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore};
use tracing::{info, warn};

use crate::{PaymentService, ServiceError};

/// What one fraud-review poll did ([`PaymentService::poll_fraud_reviews`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FraudPollReport {
    /// Payments under fraud review claimed by this poll.
    pub examined: usize,
    /// Klarna had decided: the payment is now ordered (accepted) or cancelled (rejected).
    pub resolved: usize,
    /// Klarna has not decided yet, or its order could not be read: polled again after
    /// [`crate::ServiceConfig::fraud_poll_interval`].
    pub still_pending: usize,
    /// Placed less than [`crate::ServiceConfig::fraud_poll_interval`] ago: left to Klarna's
    /// notification for now; claimed for one interval all the same, so polled on the first
    /// pass after that (between one and two intervals after the order).
    pub too_young: usize,
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Polls at most `limit` payments under fraud review whose order was placed at least
    /// [`crate::ServiceConfig::fraud_poll_interval`] ago: reads each order at Klarna and
    /// applies its fraud decision exactly as [`Self::handle_fraud_notification`] does
    /// (accepted: ordered; rejected: cancelled; still pending: left as it is). The reconciler
    /// pass ([`Self::reconcile`]) calls it, so a lost notification delays the decision by
    /// about an interval and strands nothing.
    ///
    /// Each payment is claimed for one interval ([`PaymentStore::claim_fraud_reviews`]), so
    /// it is read at most once per interval, by one instance, and the oldest are not polled
    /// over and over while younger ones wait.
    ///
    /// # Errors
    /// Store errors while claiming; per-payment failures are counted, not returned.
    pub async fn poll_fraud_reviews(&self, limit: usize) -> Result<FraudPollReport, ServiceError> {
        let mut report = FraudPollReport::default();
        let now = self.clock.now();
        let interval = self.config.fraud_poll_interval;
        let claimed = self.store.claim_fraud_reviews(now, interval, limit).await?;
        for v in claimed {
            let AnyPayment::FraudReview(p) = &v.value else {
                continue;
            };
            report.examined += 1;
            let order = p.order().order_id().clone();
            if now.since(p.order().placed_at()) < interval {
                report.too_young += 1;
                continue;
            }
            match self.handle_fraud_notification(&order).await {
                Ok(next) if next.kind() == StageKind::FraudReview => report.still_pending += 1,
                Ok(next) => {
                    info!(payment = %next.id(), order = %order, stage = %next.kind(), "fraud review resolved by polling");
                    report.resolved += 1;
                }
                Err(e) => {
                    warn!(payment = %p.id(), order = %order, error = %e, "polling a fraud review failed; polled again later");
                    report.still_pending += 1;
                }
            }
        }
        Ok(report)
    }
}
