//! One-time checkout: start it, change the cart, record the shopper's authorization, place the order, cancel before it.

use klarna_domain::payment::{OrderPending, Payment};
use klarna_domain::{
    AnyPayment, AuthorizationToken, Cancellation, Cart, ClientToken, Completed, Intent,
    ManagedOrder, OrderId, OrderSource, PaymentId, PlacedOrder, Purchase, Session, SessionId,
    time::lifetimes,
};
use klarna_ports::{
    ChargeToken, Clock, GatewayError, IdempotencyKeys, NewSession, OrderPlaced, PaymentGateway,
    PaymentStore, PlaceOrder, Versioned,
};
use tracing::{info, warn};

use crate::error::RecordId;
use crate::step::{Orders, Payments, Plan, decided};
use crate::{PaymentService, ServiceError};

/// Where the shopper's authorization token reached us from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthorizedVia<'a> {
    /// The browser posted it back for our payment (`Klarna.Payments.authorize` answered).
    Browser(&'a PaymentId),
    /// Klarna's authorization callback (`merchant_urls.authorization`) named the session.
    Callback(&'a SessionId),
}

/// What the browser needs to show Klarna's widget.
#[derive(Clone, Debug)]
pub struct Checkout {
    /// Our payment id (keep it in the shopper's session).
    pub payment_id: PaymentId,
    /// Klarna's session id.
    pub session_id: SessionId,
    /// The token for `Klarna.Payments.init({client_token})`.
    pub client_token: ClientToken,
    /// Payment method categories to offer.
    pub payment_method_categories: Vec<String>,
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Reads a payment, with the clock applied (an expired session shows as expired).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or a store error.
    pub async fn payment(&self, id: &PaymentId) -> Result<AnyPayment, ServiceError> {
        Ok(self
            .fetch::<Payments>(id)
            .await?
            .value
            .expire(self.clock.now()))
    }

    /// Reads a managed order.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or a store error.
    pub async fn order(&self, id: &OrderId) -> Result<ManagedOrder, ServiceError> {
        Ok(self.fetch::<Orders>(id).await?.value)
    }

    /// The newest payments, at most `limit`, with the clock applied (for admin views).
    ///
    /// # Errors
    /// Store errors.
    pub async fn payments(&self, limit: usize) -> Result<Vec<AnyPayment>, ServiceError> {
        let now = self.clock.now();
        Ok(self
            .store
            .list_payments(limit)
            .await?
            .into_iter()
            .map(|v| v.value.expire(now))
            .collect())
    }

    /// The payments a human must decide (`NeedsReview`), newest first, at most `limit`:
    /// [`Self::payments_in_stage`], so an old one is found under any number of newer payments.
    ///
    /// # Errors
    /// Store errors.
    pub async fn payments_in_review(&self, limit: usize) -> Result<Vec<AnyPayment>, ServiceError> {
        self.payments_in_stage(klarna_domain::StageKind::NeedsReview, limit)
            .await
    }

    /// Step 1: creates the Klarna session and stores the payment (one write).
    ///
    /// # Errors
    /// Gateway and store errors (a [`Purchase`] is valid by construction: a recurring intent
    /// without a subscription line never gets here). When the session cannot be created
    /// nothing is stored (an unused session costs nothing).
    pub async fn start_checkout(&self, purchase: Purchase) -> Result<Checkout, ServiceError> {
        let (intent, cart, merchant) = purchase.into_all_parts();
        let payment_id = self.keys.payment_id();
        let new = NewSession {
            payment_id: payment_id.clone(),
            intent,
            cart: cart.clone(),
            urls: self.config.urls.clone(),
            merchant,
        };
        // Routed by the purchase country, before any call.
        let created = self
            .gateway(new.cart.market().region())?
            .create_session(&new)
            .await
            .map_err(ServiceError::Unavailable)?;
        let now = self.clock.now();
        let session = Session::new(
            created.session_id.clone(),
            created.client_token.clone(),
            now.plus(lifetimes::SESSION),
        );
        // The merchant data rides on the one write: every later request of the payment sends
        // it from the stored record, so a replay sends the same body.
        let payment = Payment::open(payment_id.clone(), intent, cart, session, now)
            .with_merchant(new.merchant);
        self.store.insert_payment(&payment.into()).await?;
        info!(payment = %payment_id, session = %created.session_id, intent = intent.as_str(), "checkout started");
        Ok(Checkout {
            payment_id,
            session_id: created.session_id,
            client_token: created.client_token,
            payment_method_categories: created.payment_method_categories,
        })
    }

    /// Replaces the cart. Before authorization the session is updated; after it, the
    /// authorization no longer covers the cart: the payment is open again, the old
    /// authorization is released at Klarna, and the shopper must re-authorize.
    ///
    /// # Errors
    /// Wrong stage (an order exists), expired session; [`ServiceError::Refused`] when Klarna
    /// refuses the update (the session is gone or completed there),
    /// [`ServiceError::Unavailable`] when it cannot be reached; store errors. The stored cart
    /// changes only after Klarna took it.
    pub async fn update_cart(
        &self,
        id: &PaymentId,
        cart: Cart,
    ) -> Result<AnyPayment, ServiceError> {
        let stored = self.fetch::<Payments>(id).await?;
        let session = stored
            .value
            .session_for_cart_update()
            .map_err(|e| crate::step::refused(id, e))?
            .clone();
        // The session lives in the region of the cart it was created with.
        let gateway = self.gateway(stored.value.cart().market().region())?;
        // Nothing is written unless Klarna took the new cart. Klarna's refusal (the session is
        // gone or completed there) is an answer, not an outage.
        gateway
            .update_session(&session, &cart)
            .await
            .map_err(crate::step::refused_or_unavailable)?;
        let stepped = self
            .step::<Payments, _>(id, Some(stored), |p, now| {
                decided(
                    id,
                    p.decide_cart_update(cart.clone(), now),
                    |(next, released)| Ok(Plan::write(next.clone(), (next, released))),
                    |p| (p, None),
                )
            })
            .await?;
        let (next, released) = stepped.output;
        if let Some(auth) = released {
            self.release_authorization(&next, auth.token()).await;
        }
        Ok(next)
    }

    /// Releases at Klarna an authorization of `p` that will not become an order (P4), best
    /// effort after the payment is written: one that is not released (Klarna unreachable, or no
    /// account for the payment's region any more) simply expires in 60 minutes.
    async fn release_authorization(&self, p: &AnyPayment, token: &AuthorizationToken) {
        let released =
            match self.routed(p.cart().market().region(), "payments.cancel_authorization") {
                Ok(g) => g.cancel_authorization(token).await,
                Err(e) => Err(e),
            };
        if let Err(e) = released {
            warn!(payment = %p.id(), error = %e, "could not release the authorization; it expires in 60 minutes");
        }
    }

    /// Step 2: records the shopper's authorization, from the browser or from Klarna's
    /// callback, and answers whose payment it is. Duplicates are harmless (a late or repeated
    /// callback changes nothing); a new token for an authorized payment replaces the old one
    /// (re-authorization).
    ///
    /// # Errors
    /// Unknown payment or session, expired session, wrong stage, store errors.
    pub async fn authorize(
        &self,
        via: AuthorizedVia<'_>,
        token: AuthorizationToken,
    ) -> Result<PaymentId, ServiceError> {
        let id = match via {
            AuthorizedVia::Browser(id) => id.clone(),
            AuthorizedVia::Callback(session) => self
                .store
                .find_payment_by_session(session)
                .await?
                .ok_or_else(|| ServiceError::NotFound(RecordId::Session(session.clone())))?
                .value
                .id()
                .clone(),
        };
        self.record_authorization(&id, token).await?;
        Ok(id)
    }

    /// Records an authorization for a payment.
    pub(crate) async fn record_authorization(
        &self,
        id: &PaymentId,
        token: AuthorizationToken,
    ) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<Payments, _>(id, None, |p, now| {
                decided(
                    id,
                    p.decide_authorization(token.clone(), now),
                    |next| Ok(Plan::write(next.clone(), next)),
                    |p| p,
                )
            })
            .await?;
        Ok(stepped.output)
    }

    /// One-time: turns the authorization into an order. With `authorization`, the token is
    /// recorded in the same write. For an ordered payment, the stored one; while another
    /// caller is placing the order, [`ServiceError::InProgress`].
    pub(crate) async fn place_order(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
        known: Option<Versioned<AnyPayment>>,
    ) -> Result<AnyPayment, ServiceError> {
        // The payment's operation counter makes every logical operation's key unique: a
        // re-authorization after a refusal is a new operation with a new key.
        let key = |id: &PaymentId, seq| self.keys.key(id, "create_order", seq);
        let stepped = self
            .step::<Payments, _>(id, known, |p, now| {
                decided(
                    id,
                    p.decide_begin_order(authorization.clone(), key, now),
                    |pending| {
                        // The fence rides on the pending write: no reconciler before our deadline.
                        let pending = pending
                            .fenced_until(self.fence_from(now))
                            .with_request(Some(self.order_request()));
                        Ok(Plan::write(pending.clone().into(), Begun::Sent(pending)))
                    },
                    Begun::Done,
                )
            })
            .await?;
        match stepped.output {
            Begun::Done(p) => Ok(p),
            Begun::Sent(pending) => {
                let result = self.send_order(&pending).await;
                let known = Versioned {
                    version: stepped.version,
                    value: pending.into(),
                };
                self.settle_order(id, Some(known), result, false).await
            }
        }
    }

    /// Sends the pending order request: P5 from an authorization, T2 from a customer token.
    pub(crate) async fn send_order(
        &self,
        p: &Payment<OrderPending>,
    ) -> Result<OrderPlaced, GatewayError> {
        let key = p.op().key();
        match p.source() {
            OrderSource::Authorization { authorization, .. } => {
                let req = PlaceOrder {
                    payment_id: p.id().clone(),
                    cart: p.cart().clone(),
                    authorization: authorization.token().clone(),
                    urls: self.config.urls.clone(),
                    merchant: p.merchant().clone(),
                };
                self.routed(p.cart().market().region(), "payments.create_order")?
                    .place_order(&req, key)
                    .await
            }
            OrderSource::CustomerToken(token) => {
                let req = ChargeToken {
                    payment_id: p.id().clone(),
                    token: token.clone(),
                    cart: p.cart().clone(),
                    merchant: p.merchant().clone(),
                };
                self.routed(p.cart().market().region(), "customer_token.create_order")?
                    .charge_customer_token(&req, key)
                    .await
            }
        }
    }

    /// Applies the outcome of a create-order call to the pending payment (`known`: the value
    /// just written, else it is loaded). `recovering` marks reconciler replays: every earlier
    /// attempt is then in doubt, because a crash may have hidden it.
    pub(crate) async fn settle_order(
        &self,
        id: &PaymentId,
        known: Option<Versioned<AnyPayment>>,
        result: Result<OrderPlaced, GatewayError>,
        recovering: bool,
    ) -> Result<AnyPayment, ServiceError> {
        self.settle_payment(
            id,
            known,
            result,
            recovering,
            |placed, now| PlacedOrder::new(placed.order_id.clone(), placed.fraud_status, now),
            AnyPayment::settle_order,
            "order",
            |placed| format!("order_id {}", placed.order_id),
        )
        .await
    }

    /// Step 3: completes the payment with the shopper's authorization, as its intent asks:
    /// `buy` → an order; `tokenize` → a customer token; `buy_and_tokenize` → the customer
    /// token, then the order. The token is recorded in the same write that begins the
    /// operation (if it is new). Exactly once: calling again — a double click, a retry, the
    /// callback racing the browser — answers what the first call made, never a second order.
    ///
    /// # Errors
    /// See [`ServiceError`]: [`ServiceError::InProgress`] while another caller completes it;
    /// [`ServiceError::OutcomeUnknown`] keeps the operation pending for the reconciler (never
    /// retry with a new payment); [`ServiceError::Reauthorize`] when the shopper must
    /// authorize again.
    pub async fn complete(
        &self,
        id: &PaymentId,
        authorization: AuthorizationToken,
    ) -> Result<Completed, ServiceError> {
        let p = self.complete_stage(id, Some(authorization)).await?;
        p.completed().ok_or_else(|| ServiceError::WrongStage {
            payment_id: id.clone(),
            stage: p.kind(),
            operation: "completing the payment",
        })
    }

    /// Completes as the intent asks, to the stage the payment reaches.
    pub(crate) async fn complete_stage(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
    ) -> Result<AnyPayment, ServiceError> {
        // One read serves both the intent and the step's first decision.
        let stored = self.fetch::<Payments>(id).await?;
        // A region without an account is refused before anything is begun.
        self.gateway(stored.value.cart().market().region())?;
        match stored.value.intent() {
            Intent::Buy => self.place_order(id, authorization, Some(stored)).await,
            Intent::Tokenize => {
                self.create_customer_token(id, authorization, Some(stored))
                    .await
            }
            // As Klarna documents it (and WooCommerce does): the customer token first, then
            // the order from the same authorization. A refused token charges nobody; with the
            // order first, a refused token would leave a charged shopper whose renewals fail.
            //
            // The authorization goes to both steps: when the token exists already (a first
            // call made it, then its order failed or the authorization ran out), a new
            // authorization from the shopper is for the order.
            Intent::BuyAndTokenize => {
                let tokenized = self
                    .create_customer_token(id, authorization.clone(), Some(stored))
                    .await?;
                if tokenized.awaits_order() {
                    self.place_order(id, authorization, None).await
                } else {
                    Ok(tokenized)
                }
            }
        }
    }

    /// Cancels a payment before its order: releases the authorization if there is one.
    /// For an ordered payment, use [`Self::cancel_order`].
    ///
    /// # Errors
    /// Wrong stage; store errors.
    pub async fn cancel(&self, id: &PaymentId) -> Result<AnyPayment, ServiceError> {
        let stepped = self
            .step::<Payments, _>(id, None, |p, now| {
                decided(
                    id,
                    p.decide_cancel(now),
                    |c| {
                        Ok(match c {
                            Cancellation::Cancelled(next, release) => {
                                Plan::write(next.clone(), Cancelled::Now(next, release))
                            }
                            Cancellation::ViaOrder(order) => {
                                Plan::Answer(Cancelled::ViaOrder(order))
                            }
                        })
                    },
                    Cancelled::Already,
                )
            })
            .await?;
        match stepped.output {
            Cancelled::Now(next, release) => {
                if let Some(token) = release {
                    self.release_authorization(&next, &token).await;
                }
                Ok(next)
            }
            Cancelled::Already(p) => Ok(p),
            Cancelled::ViaOrder(order) => {
                self.cancel_order(&order).await?;
                self.payment(id).await
            }
        }
    }
}

/// A step that began an operation, or found it done.
#[allow(
    clippy::large_enum_variant,
    reason = "short-lived, moved once; boxing buys nothing"
)]
pub(crate) enum Begun<P> {
    /// The pending stage is written: send the request.
    Sent(P),
    /// Nothing to send: the payment as stored.
    Done(AnyPayment),
}

/// What cancelling led to.
enum Cancelled {
    Now(AnyPayment, Option<AuthorizationToken>),
    Already(AnyPayment),
    ViaOrder(OrderId),
}
