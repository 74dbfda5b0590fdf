//! Operator use cases: list payments by stage and resolve a payment in review, checked with Klarna's Order Management.
//!
//! A payment in `NeedsReview` holds an operation the reconciler could not decide from evidence
//! (for example: Klarna's session is `complete`, but the order id never reached us). A human
//! looks it up at Klarna (Merchant Portal: search by `merchant_reference1`, which is our
//! payment id) and then either
//!
//! - [`PaymentService::resolve_with_order`]: names the order. The service reads it from Order
//!   Management first (O1, a read: nothing changes at Klarna) and writes nothing unless its
//!   `merchant_reference1` is the payment id, its amount is the cart's total and it is
//!   untouched ([`ServiceError::OrderMismatch`] names what differs); then the payment is
//!   ordered and its managed order created, in one compare-and-set; or
//! - [`PaymentService::resolve_no_order`]: states that no order exists; the payment ends
//!   cancelled, without an order.
//!
//! Both go through the same step as every use case (load, the domain's decision, compare-and-
//! set, retry a lost race), so a resolution racing another one, or the reconciler, is decided
//! once; repeating a resolution that is already recorded answers the payment unchanged.

use klarna_domain::{
    AnyPayment, Decision, OrderId, PaymentId, ResolveMismatch, Settled, StageKind, Timestamp,
};
use klarna_ports::{Alongside, Clock, IdempotencyKeys, PaymentGateway, PaymentStore, Versioned};
use tracing::{info, warn};

use crate::step::{Payments, Plan, decided, refused_or_unavailable};
use crate::{PaymentService, ServiceError};

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// The payments whose stored stage is `kind`, newest first, at most `limit`, selected by
    /// stage in the store (not among the newest payments only). The values are as stored: no
    /// clock is applied, so each one is in stage `kind`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<AnyPayment>, ServiceError> {
        Ok(self
            .store
            .list_payments_in_stage(kind, limit)
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect())
    }

    /// An operator found the Klarna order of a payment in review: reads it from Order
    /// Management, checks it, and records it (the payment becomes ordered, or under fraud
    /// review while Klarna's decision is pending, and its managed order is created). See
    /// [`AnyPayment::decide_resolve_with_order`] for what is checked and why.
    ///
    /// # Errors
    /// [`ServiceError::OrderMismatch`] when Klarna's order does not fit the payment (its id,
    /// `merchant_reference1`, amount or state), nothing written; [`ServiceError::Refused`]
    /// when Klarna refuses the read (an unknown order); [`ServiceError::Unavailable`] when
    /// Klarna cannot be reached; [`ServiceError::WrongStage`] when the payment is not in
    /// review (or holds another order); [`ServiceError::Lifecycle`] for intent `tokenize`;
    /// [`ServiceError::NotFound`] and store errors.
    pub async fn resolve_with_order(
        &self,
        id: &PaymentId,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        // Fail on an unknown payment before asking Klarna anything.
        let stored = self.fetch::<Payments>(id).await?;
        let gateway = self.gateway(stored.value.cart().market().region())?;
        let remote = gateway
            .read_order(order)
            .await
            .map_err(refused_or_unavailable)?;
        if &remote.order_id != order {
            return Err(ServiceError::OrderMismatch {
                payment_id: id.clone(),
                mismatch: ResolveMismatch {
                    order_id: order.clone(),
                    field: "order_id",
                    ours: format!("`{order}`"),
                    klarna: format!("`{}`", remote.order_id),
                },
            });
        }
        let evidence = remote.evidence();
        let stepped = self
            .record_order(id, None, |p, now| {
                p.decide_resolve_with_order(&evidence, now)
            })
            .await?;
        info!(payment = %id, %order, stage = %stepped.kind(), "review resolved by an operator with Klarna's order");
        Ok(stepped)
    }

    /// Records the order Klarna reports through `decide` (a review's resolution, a payment
    /// link's order): one compare-and-set writes the payment with its managed order; an order
    /// that does not fit is [`ServiceError::OrderMismatch`], nothing written.
    pub(crate) async fn record_order(
        &self,
        id: &PaymentId,
        known: Option<Versioned<AnyPayment>>,
        decide: impl Fn(AnyPayment, Timestamp) -> Result<Decision<Settled>, ResolveMismatch>,
    ) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<Payments, _>(id, known, |p, now| {
                let decision = decide(p, now).map_err(|m| ServiceError::OrderMismatch {
                    payment_id: id.clone(),
                    mismatch: m,
                })?;
                decided(
                    id,
                    decision,
                    |s| {
                        Ok(Plan::Write {
                            value: s.payment.clone(),
                            with: Alongside {
                                order: s.order,
                                token: s.token,
                            },
                            output: s.payment,
                        })
                    },
                    |p| p,
                )
            })
            .await?;
        Ok(stepped.output)
    }

    /// An operator made sure that no Klarna order exists for a payment in review: the payment
    /// ends cancelled, without an order (nothing is sent to Klarna). `reason` is logged with
    /// the payment id (the stage holds no text). See [`AnyPayment::decide_resolve_no_order`].
    ///
    /// # Errors
    /// [`ServiceError::WrongStage`] when the payment is not in review; [`ServiceError::NotFound`]
    /// and store errors.
    pub async fn resolve_no_order(
        &self,
        id: &PaymentId,
        reason: &str,
    ) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<Payments, _>(id, None, |p, now| {
                decided(
                    id,
                    p.decide_resolve_no_order(now),
                    |next| Ok(Plan::write(next.clone(), next)),
                    |p| p,
                )
            })
            .await?;
        warn!(payment = %id, reason, "review resolved by an operator: no order");
        Ok(stepped.output)
    }
}
