//! Order Management: capture, refund, release, extend and cancel an order, add shipping info, update the authorization and the merchant references, each checked against the ledger first.

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::{
    AnyPayment, AuthorizationUpdate, CaptureId, CaptureRequest, Decision, ManagedOrder,
    MerchantReferences, OrderId, OrderStatus, RefundId, RefundRequest, ShippingInfoUpdate,
};
use klarna_ports::{
    Clock, ErrorAction, GatewayError, IdempotencyKeys, PaymentGateway, PaymentStore, Versioned,
};
use tracing::info;

use crate::step::{Orders, PaymentOfOrder, Plan, attempt, decided, finished};
use crate::{PaymentService, RecordId, ServiceError};

/// A capture Klarna made.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Capture {
    /// Klarna's id of the capture.
    pub capture_id: CaptureId,
    /// The order's ledger after it.
    pub order: ManagedOrder,
}

/// A refund Klarna made.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refund {
    /// Klarna's id of the refund.
    pub refund_id: RefundId,
    /// The order's ledger after it.
    pub order: ManagedOrder,
}

/// The id a settled capture or refund just appended to the ledger.
fn last_id<T: Clone>(id: Option<&T>, order: &OrderId) -> Result<T, ServiceError> {
    id.cloned()
        .ok_or_else(|| ServiceError::ContradictoryEvidence(order.clone()))
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Captures an amount (an [`klarna_domain::Amount`] in minor units of the order's
    /// currency) or a [`CaptureRequest`] (with lines, shipping info, reference and
    /// description), and answers Klarna's capture id with the order's ledger. The ledger is
    /// checked before any call; the whole request is persisted with the pending operation, so
    /// a retry or the reconciler's replay sends the same body under the same key.
    ///
    /// # Errors
    /// Over-capture, wrong status, expiry, an order Klarna stopped
    /// ([`klarna_domain::payment::LifecycleError::OrderStopped`]), all checked locally first;
    /// as [`Self::complete`].
    pub async fn capture(
        &self,
        order: &OrderId,
        request: impl Into<CaptureRequest> + Send,
    ) -> Result<Capture, ServiceError> {
        // Nothing ships from an order Klarna stopped: refused before any call.
        if let Some(p) = self.store.find_payment_by_order(order).await? {
            p.value.check_capture()?;
        }
        let managed = self
            .order_operation(order, OmOperation::Capture(request.into()))
            .await?;
        let capture_id = last_id(managed.captures().last().map(|c| &c.id), order)?;
        Ok(Capture {
            capture_id,
            order: managed,
        })
    }

    /// Refunds an amount (minor units) of what was captured, or a [`RefundRequest`] (with
    /// lines, a return fee among them, reference and description), and answers Klarna's
    /// refund id with the order's ledger.
    ///
    /// # Errors
    /// Over-refund, a return fee on an order not captured in full in one capture (checked
    /// locally first); as [`Self::capture`].
    pub async fn refund(
        &self,
        order: &OrderId,
        request: impl Into<RefundRequest> + Send,
    ) -> Result<Refund, ServiceError> {
        let managed = self
            .order_operation(order, OmOperation::Refund(request.into()))
            .await?;
        let refund_id = last_id(managed.refunds().last().map(|r| &r.id), order)?;
        Ok(Refund {
            refund_id,
            order: managed,
        })
    }

    /// Adds shipping info to a capture made earlier (Klarna appends it).
    ///
    /// # Errors
    /// A capture this order does not hold (checked locally first); as [`Self::capture`].
    pub async fn add_shipping_info(
        &self,
        order: &OrderId,
        update: ShippingInfoUpdate,
    ) -> Result<ManagedOrder, ServiceError> {
        self.order_operation(order, OmOperation::AddShippingInfo(update))
            .await
    }

    /// Sets a new order amount and lines after the order (an upsell raises it). The ledger's
    /// order amount changes only once Klarna accepted; Klarna's risk check may refuse an
    /// increase, answered as [`ServiceError::Refused`] with [`klarna_ports::Refusal::NotAllowed`]
    /// and the ledger unchanged.
    ///
    /// # Errors
    /// An amount below what was captured, wrong status, expiry (checked locally first); as
    /// [`Self::capture`].
    pub async fn update_authorization(
        &self,
        order: &OrderId,
        update: AuthorizationUpdate,
    ) -> Result<ManagedOrder, ServiceError> {
        self.order_operation(order, OmOperation::UpdateAuthorization(update))
            .await
    }

    /// Updates the order's merchant references at Klarna. `merchant_reference1` holds our
    /// payment id from the order's creation, and the operator's checks read it: change it
    /// only when you know nothing needs it any more.
    ///
    /// # Errors
    /// A cancelled order (checked locally first); as [`Self::capture`].
    pub async fn update_merchant_references(
        &self,
        order: &OrderId,
        references: MerchantReferences,
    ) -> Result<ManagedOrder, ServiceError> {
        self.order_operation(order, OmOperation::UpdateMerchantReferences(references))
            .await
    }

    /// Releases the remaining authorization after a partial capture.
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn release_remaining_authorization(
        &self,
        order: &OrderId,
    ) -> Result<ManagedOrder, ServiceError> {
        self.order_operation(order, OmOperation::ReleaseRemaining)
            .await
    }

    /// Extends the order's authorization time (within 180 days of creation).
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn extend_authorization(
        &self,
        order: &OrderId,
    ) -> Result<ManagedOrder, ServiceError> {
        self.order_operation(order, OmOperation::ExtendAuthorization)
            .await
    }

    /// Cancels an order with nothing captured; the payment is marked cancelled.
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn cancel_order(&self, order: &OrderId) -> Result<ManagedOrder, ServiceError> {
        let managed = self.order_operation(order, OmOperation::Cancel).await?;
        self.mark_payment_cancelled(order).await?;
        Ok(managed)
    }

    /// Order Management cancelled the order: the payment follows.
    pub(crate) async fn mark_payment_cancelled(
        &self,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<PaymentOfOrder, _>(order, None, |p, now| {
                let id = p.id().clone();
                decided(
                    &id,
                    p.decide_order_cancelled(now),
                    |next| Ok(Plan::write(next.clone(), next)),
                    |p| p,
                )
            })
            .await?;
        Ok(stepped.output)
    }

    /// Begins the operation in the ledger (its key persisted with it), sends it, settles it.
    async fn order_operation(
        &self,
        order: &OrderId,
        operation: OmOperation,
    ) -> Result<ManagedOrder, ServiceError> {
        let stepped = self
            .step::<Orders, _>(order, None, |o, now| {
                if o.pending().is_some() {
                    return Err(ServiceError::InProgress(o.payment_id().clone()));
                }
                let name = format!("order:{}", o.order_id());
                let key = self.keys.key(o.payment_id(), &name, o.next_op_seq());
                let begun = o
                    .expire(now)
                    .begin(operation.clone(), key, now)?
                    .fenced_until(self.fence_from(now));
                Ok(Plan::write(begun.clone(), begun))
            })
            .await?;
        let begun = stepped.output;
        let result = self.send_order_operation(&begun).await;
        let known = Versioned {
            version: stepped.version,
            value: begun,
        };
        self.settle_order_operation(order, Some(known), result, false)
            .await
    }

    /// Sends the order's pending operation.
    pub(crate) async fn send_order_operation(
        &self,
        o: &ManagedOrder,
    ) -> Result<OmResult, GatewayError> {
        let Some(p) = o.pending() else {
            return Err(GatewayError::new(
                "ordermanagement",
                ErrorAction::InvalidRequest,
                false,
            ));
        };
        let (id, key) = (o.order_id(), p.op.key());
        // An order knows its currency, and each currency is paid in one region only.
        let gateway = self.routed(o.currency().region(), "ordermanagement")?;
        match &p.operation {
            OmOperation::Capture(request) => gateway
                .capture(id, request, key)
                .await
                .map(OmResult::Captured),
            OmOperation::Refund(request) => gateway
                .refund(id, request, key)
                .await
                .map(OmResult::Refunded),
            OmOperation::AddShippingInfo(update) => gateway
                .add_shipping_info(id, update, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::UpdateAuthorization(update) => gateway
                .update_authorization(id, update, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::UpdateMerchantReferences(references) => gateway
                .update_merchant_references(id, references, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::Cancel => gateway.cancel_order(id, key).await.map(|()| OmResult::Done),
            OmOperation::ReleaseRemaining => gateway
                .release_remaining_authorization(id, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::ExtendAuthorization => gateway
                .extend_authorization_time(id, key)
                .await
                .map(|()| OmResult::Done),
        }
    }

    /// Applies the outcome of an Order Management call to the order's pending operation.
    pub(crate) async fn settle_order_operation(
        &self,
        order: &OrderId,
        mut known: Option<Versioned<ManagedOrder>>,
        result: Result<OmResult, GatewayError>,
        recovering: bool,
    ) -> Result<ManagedOrder, ServiceError> {
        let mut failures = 0;
        let stepped = loop {
            let stepped = self
                .step::<Orders, _>(order, known.take(), |o, now| {
                    let in_doubt = recovering || o.pending().is_some_and(|p| p.op.in_doubt());
                    let attempt = attempt(&result, in_doubt, OmResult::clone);
                    let payment_id = o.payment_id().clone();
                    match o.settle(attempt.clone(), now)? {
                        Decision::Next(next) => {
                            Ok(Plan::write(next.clone(), (next, Some(attempt))))
                        }
                        Decision::Done(o) => Ok(Plan::Answer((o, None))),
                        Decision::InProgress => Err(ServiceError::InProgress(payment_id)),
                        Decision::Refused(e) => Err(ServiceError::Lifecycle(e)),
                    }
                })
                .await;
            match stepped {
                // Klarna did it: the store must not lose its id (tried again, then logged).
                Err(ServiceError::Store(e)) if result.is_ok() => {
                    failures += 1;
                    if failures > crate::step::SETTLE_STORE_RETRIES {
                        tracing::error!(order = %order, klarna = ?result.as_ref().ok(), error = %e,
                            "Klarna succeeded but the store failed; the operation stays pending for the reconciler");
                        return Err(ServiceError::NotRecorded {
                            record: RecordId::Order(order.clone()),
                            source: e,
                        });
                    }
                    tracing::warn!(order = %order, error = %e, "recording Klarna's success failed; trying again");
                }
                other => break other?,
            }
        };
        let (next, attempt) = stepped.output;
        let Some(attempt) = attempt else {
            return Ok(next);
        };
        info!(order = %order, status = ?next.status(), captured = next.captured(), refunded = next.refunded(), "order operation settled");
        let payment_id = next.payment_id().clone();
        let queued = next.pending().is_some();
        finished(result, next, &attempt, &payment_id, false, queued)
    }

    /// Adopts the status Klarna reports for an order.
    pub(crate) async fn observe_order_status(
        &self,
        order: &OrderId,
        status: OrderStatus,
    ) -> Result<(), ServiceError> {
        self.step::<Orders, _>(order, None, |o, _| {
            Ok(Plan::write(o.observe_status(status), ()))
        })
        .await?;
        Ok(())
    }
}
