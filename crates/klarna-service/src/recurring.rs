//! Recurring payments: turn an authorization into a customer token, charge it with the shopper absent, read and cancel it.

use klarna_domain::payment::Payment;
use klarna_domain::{
    AnyPayment, AuthorizationToken, Cart, CustomerToken, CustomerTokenId, Decision, MerchantData,
    PaymentId, PlacedOrder, TokenStatus,
};
use klarna_ports::{
    Clock, CreateCustomerToken, ErrorAction, GatewayError, IdempotencyKeys, PaymentGateway,
    PaymentStore, Refusal, StoreError, Unique, Versioned,
};

use crate::checkout::Begun;
use crate::step::{Payments, Plan, Tokens, decided, refused};
use crate::{PaymentService, ServiceError};

/// Charge a customer token, shopper absent.
#[derive(Clone, Debug)]
pub struct ChargeRequest {
    /// Your id for this charge, chosen deterministically (e.g. `sub-42-2026-11`): calling
    /// again with the same id returns the first charge instead of charging twice.
    pub payment_id: PaymentId,
    /// The token.
    pub token: CustomerTokenId,
    /// What to charge; its currency must be the token's, and each good carries its
    /// `subscription` ([`Cart::check_recurring`]).
    pub cart: Cart,
    /// References, `merchant_data`, attachment and shipping address for this charge
    /// (`MerchantData::default()` for none: then `merchant_reference1` is the charge's id).
    pub merchant: MerchantData,
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Recurring: turns the authorization into a customer token (intent `tokenize`), or —
    /// for `buy_and_tokenize`, after the order — creates the token from the same
    /// authorization. Idempotent like [`Self::place_order`].
    pub(crate) async fn create_customer_token(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
        known: Option<Versioned<AnyPayment>>,
    ) -> Result<AnyPayment, ServiceError> {
        let key = |id: &PaymentId, seq| self.keys.key(id, "customer_token", seq);
        let stepped = self
            .step::<Payments, _>(id, known, |p, now| {
                decided(
                    id,
                    p.decide_begin_tokenization(authorization.clone(), key, now),
                    |next| {
                        let next = next
                            .fenced_until(self.fence_from(now))
                            .with_request(Some(self.token_request()));
                        Ok(Plan::write(next.clone(), Begun::Sent(next)))
                    },
                    Begun::Done,
                )
            })
            .await?;
        match stepped.output {
            Begun::Done(p) => Ok(p),
            Begun::Sent(next) => {
                let result = self.send_token(&next).await;
                let known = Versioned {
                    version: stepped.version,
                    value: next,
                };
                let settled = self.settle_token(id, Some(known), result, false).await?;
                self.send_begun_order(id, settled).await
            }
        }
    }

    /// `buy_and_tokenize`: when recording the token began the order (a pending create order
    /// not yet attempted), sends it; otherwise answers the payment as it is.
    pub(crate) async fn send_begun_order(
        &self,
        id: &PaymentId,
        p: AnyPayment,
    ) -> Result<AnyPayment, ServiceError> {
        let Some(pending) = p
            .pending_order()
            .filter(|o| {
                o.intent() == klarna_domain::Intent::BuyAndTokenize && o.op().attempts() == 0
            })
            .cloned()
        else {
            return Ok(p);
        };
        let result = self.send_order(&pending).await;
        self.settle_order(id, None, result, false).await
    }

    /// Sends the payment's pending token request.
    pub(crate) async fn send_token(&self, p: &AnyPayment) -> Result<CustomerTokenId, GatewayError> {
        let Some(step) = p.pending_tokenization() else {
            return Err(GatewayError::new(
                "payments.create_customer_token",
                ErrorAction::InvalidRequest,
                false,
            ));
        };
        let req = CreateCustomerToken {
            payment_id: p.id().clone(),
            market: p.cart().market(),
            description: self.config.token_description.clone(),
            authorization: step.authorization.token().clone(),
            merchant: p.merchant().clone(),
        };
        self.routed(req.market.region(), "payments.create_customer_token")?
            .create_customer_token(&req, step.op.key())
            .await
    }

    /// Applies the outcome of a create-customer-token call, as [`Self::settle_order`] does
    /// for orders.
    pub(crate) async fn settle_token(
        &self,
        id: &PaymentId,
        known: Option<Versioned<AnyPayment>>,
        result: Result<CustomerTokenId, GatewayError>,
        recovering: bool,
    ) -> Result<AnyPayment, ServiceError> {
        let order_key = |id: &PaymentId, seq| self.keys.key(id, "create_order", seq);
        self.settle_payment(
            id,
            known,
            result,
            recovering,
            |token, _| token.clone(),
            |p, attempt, now| match p.settle_token(attempt, now) {
                // buy_and_tokenize: the order is begun in the same write that records the
                // token, so a crash between the two steps leaves it pending for the
                // reconciler, never stranded (and the token is never made twice).
                Decision::Next(mut s) if s.payment.awaits_order() => {
                    if let Decision::Next(pending) =
                        s.payment.clone().decide_begin_order(None, order_key, now)
                    {
                        s.payment = pending
                            .fenced_until(self.fence_from(now))
                            .with_request(Some(self.order_request()))
                            .into();
                    }
                    Decision::Next(s)
                }
                other @ (Decision::Next(_)
                | Decision::Done(_)
                | Decision::InProgress
                | Decision::Refused(_)) => other,
            },
            "customer token",
            |_| "a customer token (a secret: not logged)".to_owned(),
        )
        .await
    }

    /// Charges a customer token, shopper absent, and answers the order Klarna created. The
    /// charge is a new payment with your id: the same id again answers the first charge's
    /// order and never charges twice.
    ///
    /// # Errors
    /// Token not active or of another currency (checked before any call); as
    /// [`Self::complete`]. A charge refused earlier under the same id is a
    /// [`ServiceError::WrongStage`] naming the refused payment.
    pub async fn charge_customer_token(
        &self,
        request: ChargeRequest,
    ) -> Result<PlacedOrder, ServiceError> {
        let id = request.payment_id.clone();
        let p = self.charge_stage(request).await?;
        p.completed()
            .and_then(|c| c.order().cloned())
            .ok_or_else(|| ServiceError::WrongStage {
                payment_id: id,
                stage: p.kind(),
                operation: "charging a customer token",
            })
    }

    /// Charges, to the stage the charge's payment reaches.
    pub(crate) async fn charge_stage(
        &self,
        request: ChargeRequest,
    ) -> Result<AnyPayment, ServiceError> {
        // Checked before anything is read or sent: a charge of a subscription token carries
        // the subscription on its goods, and only what T2 accepts.
        request.cart.check_recurring()?;
        request.cart.check_for_token_charge()?;
        request.merchant.check_for_charge()?;
        request
            .merchant
            .check_country(request.cart.market().country())?;
        self.gateway(request.cart.market().region())?;
        if let Some(existing) = self.store.load_payment(&request.payment_id).await? {
            return match existing.value.decide_repeated_charge() {
                Decision::Done(p) => Ok(p),
                Decision::Next(()) | Decision::InProgress => {
                    Err(ServiceError::InProgress(request.payment_id))
                }
                Decision::Refused(e) => Err(refused(&request.payment_id, e)),
            };
        }
        let token = self.fetch::<Tokens>(&request.token).await?;
        token.value.ensure_chargeable()?;
        if token.value.market().currency() != request.cart.market().currency() {
            return Err(ServiceError::CurrencyMismatch {
                token: token.value.market().currency(),
                cart: request.cart.market().currency(),
            });
        }
        let now = self.clock.now();
        let key = self.keys.key(&request.payment_id, "charge", 0);
        let pending = Payment::charge(
            request.payment_id.clone(),
            request.cart,
            request.token.clone(),
            key,
            now,
        )
        .with_merchant(request.merchant)
        .fenced_until(self.fence_from(now));
        match self.store.insert_payment(&pending.clone().into()).await {
            Ok(version) => {
                let result = self.send_order(&pending).await;
                if let Err(e) = &result
                    && let Some(Refusal::TokenUnusable(status)) = e.refusal()
                {
                    self.observe_token(&request.token, status).await;
                }
                let known = Versioned {
                    version,
                    value: pending.into(),
                };
                self.settle_order(&request.payment_id, Some(known), result, false)
                    .await
            }
            Err(StoreError::Duplicate(Unique::PaymentId)) => {
                // A racing caller with the same charge id won: report its payment.
                self.payment(&request.payment_id).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records the status Klarna reported for a token (best effort: the charge's own outcome
    /// is what matters to the caller).
    async fn observe_token(&self, token: &CustomerTokenId, status: TokenStatus) {
        let observed = self
            .step::<Tokens, _>(token, None, |t, _| Ok(Plan::write(t.observe(status), ())))
            .await;
        if let Err(e) = observed {
            tracing::warn!(error = %e, "could not record the customer token's status");
        }
    }

    /// Cancels a customer token at Klarna and records it (irreversible).
    ///
    /// # Errors
    /// Unknown token; gateway and store errors.
    pub async fn cancel_customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<CustomerToken, ServiceError> {
        let record = self.fetch::<Tokens>(token).await?;
        self.gateway(record.value.market().region())?
            .cancel_customer_token(token)
            .await
            .map_err(|e| match e.action {
                ErrorAction::OutcomeUnknown | ErrorAction::Retry => ServiceError::Unavailable(e),
                ErrorAction::Reauthorize
                | ErrorAction::Rejected(_)
                | ErrorAction::InvalidRequest
                | ErrorAction::Unauthorized
                | ErrorAction::NotFound => ServiceError::Refused(e),
            })?;
        let stepped = self
            .step::<Tokens, _>(token, None, |t, _| {
                let cancelled = t.cancel();
                Ok(Plan::write(cancelled.clone(), cancelled))
            })
            .await?;
        Ok(stepped.output)
    }

    /// Reads a stored customer token.
    ///
    /// # Errors
    /// Unknown token; store errors.
    pub async fn customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<CustomerToken, ServiceError> {
        Ok(self.fetch::<Tokens>(token).await?.value)
    }
}
