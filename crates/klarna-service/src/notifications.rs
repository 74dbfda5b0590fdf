//! What Klarna tells us unasked: the fraud notification of a pending order (the authorization callback is [`PaymentService::authorize`]).

use klarna_domain::{AnyPayment, OrderId, OrderStatus, StageKind};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore};

use crate::step::{PaymentOfOrder, Plan, decided};
use crate::{PaymentService, ServiceError};

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Klarna's fraud notification for a pending order. The notification is only a hint:
    /// the order is always re-read at Klarna, and a cancel beats a late accept.
    ///
    /// # Errors
    /// Unknown order; gateway and store errors.
    pub async fn handle_fraud_notification(
        &self,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        let remote = self
            .gateway
            .read_order(order)
            .await
            .map_err(ServiceError::Unavailable)?;
        let stepped = self
            .step::<PaymentOfOrder, _>(order, None, |p, now| {
                let id = p.id().clone();
                decided(
                    &id,
                    p.decide_fraud_decision(remote.fraud_status, now),
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
        Ok(next)
    }
}
