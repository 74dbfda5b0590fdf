//! What Klarna tells us unasked: the fraud notification of an order under review or a stopped one, and the read of an order that stands in for a lost notification (the authorization callback is [`PaymentService::authorize`]).

use klarna_domain::{AnyPayment, FraudStatus, OrderId, OrderStatus, StageKind};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore};

use crate::step::{Orders, PaymentOfOrder, Plan, decided};
use crate::{PaymentService, ServiceError};

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Klarna's fraud notification (`FRAUD_RISK_ACCEPTED`, `FRAUD_RISK_REJECTED`,
    /// `FRAUD_RISK_STOPPED`) for an order under review or an accepted one. The notification
    /// is only a hint: the order is always re-read at Klarna ([`Self::refresh_order`]), and a
    /// cancel beats a late accept.
    ///
    /// # Errors
    /// As [`Self::refresh_order`].
    pub async fn handle_fraud_notification(
        &self,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        self.refresh_order(order).await
    }

    /// Reads the order at Klarna (one O1) and applies its fraud status to the payment: a
    /// review is accepted, rejected (cancelled) or stopped; an accepted order Klarna stopped
    /// becomes `Stopped` (nothing ships: cancel it, or reply to Klarna before
    /// [`klarna_domain::payment::Payment::reply_by`]); a stopped order whose read shows
    /// `ACCEPTED` again is ordered again. Anything else is left as it is. Call it before
    /// shipping to catch a stop whose notification was lost.
    ///
    /// # Errors
    /// Unknown order; gateway and store errors; [`ServiceError::Lifecycle`] when a stop
    /// cannot be applied yet (a customer-token step of the order is in flight).
    pub async fn refresh_order(&self, order: &OrderId) -> Result<AnyPayment, ServiceError> {
        let managed = self.fetch::<Orders>(order).await?;
        let remote = self
            .gateway(managed.value.currency().region())?
            .read_order(order)
            .await
            .map_err(ServiceError::Unavailable)?;
        self.apply_fraud_status(order, remote.fraud_status).await
    }

    /// Applies the fraud status a read of `order` reported to its payment.
    pub(crate) async fn apply_fraud_status(
        &self,
        order: &OrderId,
        fraud_status: Option<FraudStatus>,
    ) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<PaymentOfOrder, _>(order, None, |p, now| {
                let id = p.id().clone();
                decided(
                    &id,
                    p.decide_fraud_decision(fraud_status, now),
                    |next| Ok(Plan::write(next.clone(), (next, true))),
                    |p| (p, false),
                )
            })
            .await?;
        let (next, changed) = stepped.output;
        if changed && next.kind() == StageKind::Cancelled {
            self.observe_order_status(order, OrderStatus::Cancelled)
                .await?;
        }
        if changed && next.kind() == StageKind::Stopped {
            tracing::warn!(payment = %next.id(), order = %order, "Klarna stopped the order: do not ship; cancel it or reply to Klarna within 24 hours");
        }
        Ok(next)
    }
}
