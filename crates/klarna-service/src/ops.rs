//! The use cases: start a checkout, update the cart, record an authorization, place the order,
//! create and charge customer tokens, Order Management, fraud notifications.

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::payment::{Authorized, OrderPending};
use klarna_domain::{
    AnyPayment, AuthorizationToken, Cart, ClientToken, CustomerToken, CustomerTokenId, FraudStatus,
    IdempotencyKey, Intent, ManagedOrder, OrderId, OrderSource, Payment, PaymentId, PlacedOrder,
    Session, SessionId, StageKind, Tokenization, time::lifetimes,
};
use klarna_ports::{
    Also, ChargeToken, Clock, CreateCustomerToken, ErrorAction, GatewayError, IdempotencyKeys,
    NewSession, OrderPlaced, PaymentGateway, PaymentStore, PlaceOrder, Refusal, StoreError,
    Versioned,
};
use tracing::{info, warn};

use crate::{PaymentService, ServiceError};

/// Start a checkout: one-time (`buy`) or recurring (`tokenize`, `buy_and_tokenize`).
#[derive(Clone, Debug)]
pub struct StartCheckout {
    /// The intent.
    pub intent: Intent,
    /// The cart (validated by construction).
    pub cart: Cart,
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

/// Charge a customer token, shopper absent.
#[derive(Clone, Debug)]
pub struct ChargeRequest {
    /// Your id for this charge, chosen deterministically (e.g. `sub-42-2026-11`): calling
    /// again with the same id returns the first charge instead of charging twice.
    pub payment_id: PaymentId,
    /// The token.
    pub token: CustomerTokenId,
    /// What to charge; its currency must be the token's.
    pub cart: Cart,
}

/// How an attempt at Klarna ended, seen from the protocol.
enum Verdict {
    /// Klarna refused, and the refusal is definitive.
    Refused(GatewayError),
    /// The request certainly did not reach Klarna (nothing happened there).
    NotReached(GatewayError),
    /// It may have had an effect: stay pending.
    Unknown(GatewayError),
}

/// Classifies a gateway error. A refusal is definitive only when no earlier attempt of the
/// operation is in doubt (DESIGN.md §5, rule 3).
fn verdict(e: GatewayError, in_doubt: bool) -> Verdict {
    if e.action.is_refusal() && !in_doubt {
        Verdict::Refused(e)
    } else if !e.may_have_reached_klarna {
        Verdict::NotReached(e)
    } else {
        Verdict::Unknown(e)
    }
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    pub(crate) async fn load(&self, id: &PaymentId) -> Result<Versioned<AnyPayment>, ServiceError> {
        self.store
            .load_payment(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("payment {id}")))
    }

    /// Reads a payment, with the clock applied (an expired session shows as expired).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or a store error.
    pub async fn payment(&self, id: &PaymentId) -> Result<AnyPayment, ServiceError> {
        Ok(self.load(id).await?.value.expire(self.clock.now()))
    }

    /// Reads a managed order.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or a store error.
    pub async fn order(&self, id: &OrderId) -> Result<ManagedOrder, ServiceError> {
        Ok(self.load_order(id).await?.value)
    }

    fn wrong(p: &AnyPayment, operation: &'static str) -> ServiceError {
        ServiceError::WrongStage {
            payment_id: p.id().clone(),
            stage: p.kind(),
            operation,
        }
    }

    /// Step 1: creates the Klarna session and stores the payment (one write).
    ///
    /// # Errors
    /// Recurring intents need a line with a `subscription`; gateway and store errors. When
    /// the session cannot be created nothing is stored (an unused session costs nothing).
    pub async fn start_checkout(&self, request: StartCheckout) -> Result<Checkout, ServiceError> {
        if request.intent.allows_token() && !request.cart.has_subscription() {
            return Err(ServiceError::Invalid(
                "order_lines: a recurring intent needs at least one line with a subscription"
                    .to_owned(),
            ));
        }
        let payment_id = self.keys.payment_id();
        let new = NewSession {
            payment_id: payment_id.clone(),
            intent: request.intent,
            cart: request.cart.clone(),
            urls: self.config.urls.clone(),
        };
        let created = self
            .gateway
            .create_session(&new)
            .await
            .map_err(ServiceError::Unavailable)?;
        let now = self.clock.now();
        let session = Session::new(
            created.session_id.clone(),
            created.client_token.clone(),
            now.plus(lifetimes::SESSION),
        );
        let payment = Payment::open(
            payment_id.clone(),
            request.intent,
            request.cart,
            session,
            now,
        );
        self.store.insert_payment(&payment.into()).await?;
        info!(payment = %payment_id, session = %created.session_id, intent = request.intent.as_str(), "checkout started");
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
    /// Wrong stage (an order exists), expired session, gateway and store errors.
    pub async fn update_cart(
        &self,
        id: &PaymentId,
        cart: Cart,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load(id).await?;
            let now = self.clock.now();
            let session = match &value {
                AnyPayment::Open(p) => p.session().id().clone(),
                AnyPayment::Authorized(p) => p.session().id().clone(),
                other @ (AnyPayment::OrderPending(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::FraudReview(_)
                | AnyPayment::Ordered(_)
                | AnyPayment::Tokenized(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(other, "updating the cart"));
                }
            };
            self.gateway
                .update_session(&session, &cart)
                .await
                .map_err(ServiceError::Unavailable)?;
            let (next, released) = match value {
                AnyPayment::Open(p) => (
                    AnyPayment::from(p.update_cart(cart.clone(), now).map_err(|e| e.error)?),
                    None,
                ),
                AnyPayment::Authorized(p) => {
                    let (open, auth) = p.update_cart(cart.clone(), now).map_err(|e| e.error)?;
                    (open.into(), Some(auth))
                }
                other @ (AnyPayment::OrderPending(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::FraudReview(_)
                | AnyPayment::Ordered(_)
                | AnyPayment::Tokenized(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(&other, "updating the cart"));
                }
            };
            if landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )?
            .is_some()
            {
                if let Some(auth) = released {
                    // Best effort: an unreleased authorization simply expires in 60 minutes.
                    if let Err(e) = self.gateway.cancel_authorization(auth.token()).await {
                        warn!(payment = %id, error = %e, "could not release the replaced authorization");
                    }
                }
                return Ok(next);
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    /// Records the shopper's authorization (from the browser). Duplicates are harmless; a
    /// new token for an authorized payment replaces the old one (re-authorization).
    ///
    /// # Errors
    /// Expired session, wrong stage, store errors.
    pub async fn record_authorization(
        &self,
        id: &PaymentId,
        token: AuthorizationToken,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load(id).await?;
            let now = self.clock.now();
            if value.authorization_token() == Some(&token) {
                return Ok(value);
            }
            let next: AnyPayment = match value.expire(now) {
                AnyPayment::Open(p) => p.authorize(token.clone(), now).map_err(|e| e.error)?.into(),
                AnyPayment::Authorized(p) => p
                    .reauthorize(token.clone(), now)
                    .map_err(|e| e.error)?
                    .into(),
                // Already past authorization: a late or repeated callback changes nothing.
                other @ (AnyPayment::OrderPending(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::FraudReview(_)
                | AnyPayment::Ordered(_)
                | AnyPayment::Tokenized(_)) => return Ok(other),
                other @ (AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(&other, "recording an authorization"));
                }
            };
            if landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )?
            .is_some()
            {
                return Ok(next);
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    /// Klarna's authorization callback (`{authorization_token, session_id}`): the same as
    /// [`Self::record_authorization`], found by session. Safe to receive any number of times.
    ///
    /// # Errors
    /// Unknown session, and the errors of [`Self::record_authorization`].
    pub async fn handle_authorization_callback(
        &self,
        session: &SessionId,
        token: AuthorizationToken,
    ) -> Result<AnyPayment, ServiceError> {
        let found = self
            .store
            .find_payment_by_session(session)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("session {session}")))?;
        self.record_authorization(found.value.id(), token).await
    }

    fn order_key(&self, p: &Payment<Authorized>) -> IdempotencyKey {
        // The payment's operation counter makes every logical operation's key unique: a
        // re-authorization after a refusal is a new operation with a new key.
        self.keys.key(p.id(), "create_order", p.next_op_seq())
    }

    /// Step 3 (one-time): turns the authorization into an order. With `authorization`, the
    /// token from the browser is recorded in the same write. Calling again for an ordered
    /// payment returns it without calling Klarna; while another caller is placing the order,
    /// returns [`ServiceError::InProgress`].
    ///
    /// # Errors
    /// See [`ServiceError`]: `OutcomeUnknown` keeps the order pending for the reconciler.
    pub async fn place_order(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load(id).await?;
            let now = self.clock.now();
            let authorized = match value.expire(now) {
                AnyPayment::Open(p) => match authorization.clone() {
                    Some(t) => p.authorize(t, now).map_err(|e| e.error)?,
                    None => {
                        return Err(Self::wrong(
                            &AnyPayment::Open(p),
                            "placing an order without an authorization",
                        ));
                    }
                },
                AnyPayment::Authorized(p) => match &authorization {
                    Some(t) if t != p.authorization().token() => {
                        p.reauthorize(t.clone(), now).map_err(|e| e.error)?
                    }
                    _ => p,
                },
                done @ (AnyPayment::Ordered(_) | AnyPayment::FraudReview(_)) => return Ok(done),
                AnyPayment::OrderPending(_) | AnyPayment::TokenPending(_) => {
                    return Err(ServiceError::InProgress(id.clone()));
                }
                other @ (AnyPayment::Tokenized(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(&other, "placing an order"));
                }
            };
            let key = self.order_key(&authorized);
            let pending = authorized.begin_order(key, now).map_err(|e| e.error)?;
            if let Some(v) = landed(
                self.store
                    .update_payment(version, &pending.clone().into(), &Also::default())
                    .await,
            )? {
                let result = self.send_order(&pending).await;
                return self
                    .settle_order(id, Some((v, pending)), result, false)
                    .await;
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

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
                };
                self.gateway.place_order(&req, key).await
            }
            OrderSource::CustomerToken(token) => {
                let req = ChargeToken {
                    payment_id: p.id().clone(),
                    token: token.clone(),
                    cart: p.cart().clone(),
                };
                self.gateway.charge_customer_token(&req, key).await
            }
        }
    }

    /// Applies the outcome of a create-order call to the pending payment (reloading on a lost
    /// compare-and-set). `recovering` marks reconciler replays: every earlier attempt is then
    /// in doubt, because a crash may have hidden it.
    pub(crate) async fn settle_order(
        &self,
        id: &PaymentId,
        mut known: Option<(u64, Payment<OrderPending>)>,
        result: Result<OrderPlaced, GatewayError>,
        recovering: bool,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let (version, pending) = match known.take() {
                Some(k) => k,
                None => {
                    let Versioned { version, value } = self.load(id).await?;
                    match value {
                        AnyPayment::OrderPending(p) => (version, p),
                        // Someone else (the reconciler, a racing caller) resolved it first.
                        other @ (AnyPayment::Open(_)
                        | AnyPayment::Authorized(_)
                        | AnyPayment::TokenPending(_)
                        | AnyPayment::FraudReview(_)
                        | AnyPayment::Ordered(_)
                        | AnyPayment::Tokenized(_)
                        | AnyPayment::Cancelled(_)
                        | AnyPayment::Expired(_)
                        | AnyPayment::Refused(_)
                        | AnyPayment::NeedsReview(_)) => return Ok(other),
                    }
                }
            };
            let now = self.clock.now();
            let in_doubt = recovering || pending.op().in_doubt();
            let (next, also, err) = match &result {
                Ok(placed) => {
                    let order = PlacedOrder::new(placed.order_id.clone(), placed.fraud_status, now);
                    let managed = ManagedOrder::new(
                        placed.order_id.clone(),
                        id.clone(),
                        pending.cart().total(),
                        now,
                    );
                    let next = pending.attempted(false).record_order(order).into_any();
                    (
                        next,
                        Also {
                            order: Some(managed),
                            token: None,
                        },
                        None,
                    )
                }
                Err(e) => match verdict(e.clone(), in_doubt) {
                    Verdict::Refused(e) if e.action == ErrorAction::Reauthorize => match pending
                        .attempted(false)
                        .reopen(now)
                    {
                        Ok(open) => (
                            open.into(),
                            Also::default(),
                            Some(ServiceError::Reauthorize {
                                payment_id: id.clone(),
                                source: e,
                            }),
                        ),
                        Err(f) => {
                            let refused = f.payment.record_refusal(e.refusal_text(), now);
                            let next = refused
                                .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from);
                            (next, Also::default(), Some(ServiceError::Refused(e)))
                        }
                    },
                    Verdict::Refused(e) => {
                        let refused = pending
                            .attempted(false)
                            .record_refusal(e.refusal_text(), now);
                        let next =
                            refused.map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from);
                        (next, Also::default(), Some(ServiceError::Refused(e)))
                    }
                    Verdict::NotReached(e) => (
                        pending.attempted(false).into(),
                        Also::default(),
                        Some(ServiceError::Unavailable(e)),
                    ),
                    Verdict::Unknown(e) => (
                        pending.attempted(true).into(),
                        Also::default(),
                        Some(ServiceError::OutcomeUnknown {
                            payment_id: id.clone(),
                            source: e,
                        }),
                    ),
                },
            };
            if self
                .commit_settled(version, &next, &also, result.is_ok())
                .await?
            {
                info!(payment = %id, stage = %next.kind(), "order attempt settled");
                return err.map_or(Ok(next), Err);
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    /// Writes the stage an answer from Klarna settled, with what it created. `false` means
    /// re-read and decide again: another writer got there first, or — after a success — a
    /// racing settle of the same answer already recorded the order or token (a duplicate).
    async fn commit_settled(
        &self,
        version: u64,
        next: &AnyPayment,
        also: &Also,
        success: bool,
    ) -> Result<bool, ServiceError> {
        match self.store.update_payment(version, next, also).await {
            Err(StoreError::Duplicate(_)) if success => Ok(false),
            other => Ok(landed(other)?.is_some()),
        }
    }

    /// Step 3 (recurring): turns the authorization into a customer token (intent
    /// `tokenize`), or — for `buy_and_tokenize`, after the order — creates the token from
    /// the same authorization. Idempotent like [`Self::place_order`].
    ///
    /// # Errors
    /// See [`ServiceError`].
    pub async fn create_customer_token(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load(id).await?;
            let now = self.clock.now();
            let key_for = |seq: u32| self.keys.key(id, "customer_token", seq);
            let next: AnyPayment = match value.expire(now) {
                AnyPayment::Open(p) => {
                    let Some(t) = authorization.clone() else {
                        return Err(Self::wrong(
                            &AnyPayment::Open(p),
                            "creating a customer token without an authorization",
                        ));
                    };
                    let a = p.authorize(t, now).map_err(|e| e.error)?;
                    let key = key_for(a.next_op_seq());
                    a.begin_tokenization(key, now).map_err(|e| e.error)?.into()
                }
                AnyPayment::Authorized(p) => {
                    let p = match &authorization {
                        Some(t) if t != p.authorization().token() => {
                            p.reauthorize(t.clone(), now).map_err(|e| e.error)?
                        }
                        _ => p,
                    };
                    let key = key_for(p.next_op_seq());
                    p.begin_tokenization(key, now).map_err(|e| e.error)?.into()
                }
                AnyPayment::Ordered(p) => match p.tokenization() {
                    Tokenization::Due(_) => {
                        let key = key_for(p.next_op_seq());
                        p.begin_tokenization(key, now).map_err(|e| e.error)?.into()
                    }
                    Tokenization::Pending(..) => return Err(ServiceError::InProgress(id.clone())),
                    Tokenization::Done(_) => return Ok(AnyPayment::Ordered(p)),
                    Tokenization::NotRequested | Tokenization::Refused(_) => {
                        return Err(Self::wrong(
                            &AnyPayment::Ordered(p),
                            "creating a customer token",
                        ));
                    }
                },
                done @ AnyPayment::Tokenized(_) => return Ok(done),
                AnyPayment::TokenPending(_) | AnyPayment::OrderPending(_) => {
                    return Err(ServiceError::InProgress(id.clone()));
                }
                other @ (AnyPayment::FraudReview(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(&other, "creating a customer token"));
                }
            };
            if let Some(v) = landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )? {
                let result = self.send_token(&next).await;
                return self.settle_token(id, Some((v, next)), result, false).await;
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    /// The pending token request of a payment, if any: (key, request).
    fn token_request(&self, p: &AnyPayment) -> Option<(IdempotencyKey, CreateCustomerToken)> {
        let (auth, key) = match p {
            AnyPayment::TokenPending(t) => {
                (t.authorization().token().clone(), t.op().key().clone())
            }
            AnyPayment::Ordered(o) => match o.tokenization() {
                Tokenization::Pending(a, op) => (a.token().clone(), op.key().clone()),
                Tokenization::NotRequested
                | Tokenization::Due(_)
                | Tokenization::Done(_)
                | Tokenization::Refused(_) => {
                    return None;
                }
            },
            AnyPayment::Open(_)
            | AnyPayment::Authorized(_)
            | AnyPayment::OrderPending(_)
            | AnyPayment::FraudReview(_)
            | AnyPayment::Tokenized(_)
            | AnyPayment::Cancelled(_)
            | AnyPayment::Expired(_)
            | AnyPayment::Refused(_)
            | AnyPayment::NeedsReview(_) => return None,
        };
        let req = CreateCustomerToken {
            payment_id: p.id().clone(),
            market: p.cart().market(),
            description: self.config.token_description.clone(),
            authorization: auth,
        };
        Some((key, req))
    }

    pub(crate) async fn send_token(&self, p: &AnyPayment) -> Result<CustomerTokenId, GatewayError> {
        match self.token_request(p) {
            Some((key, req)) => self.gateway.create_customer_token(&req, &key).await,
            None => Err(GatewayError::new(
                "payments.create_customer_token",
                ErrorAction::InvalidRequest,
                false,
            )),
        }
    }

    pub(crate) async fn settle_token(
        &self,
        id: &PaymentId,
        mut known: Option<(u64, AnyPayment)>,
        result: Result<CustomerTokenId, GatewayError>,
        recovering: bool,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let (version, current) = match known.take() {
                Some(k) => k,
                None => {
                    let v = self.load(id).await?;
                    (v.version, v.value)
                }
            };
            let Some(op) = current.pending_op().cloned() else {
                return Ok(current);
            };
            let now = self.clock.now();
            let in_doubt = recovering || op.in_doubt();
            let mut also = Also::default();
            let (next, err): (AnyPayment, Option<ServiceError>) = match (current, &result) {
                (AnyPayment::TokenPending(p), Ok(token)) => {
                    also.token = Some(CustomerToken::issued(
                        token.clone(),
                        id.clone(),
                        p.cart().market(),
                        now,
                    ));
                    (p.record_token(token.clone(), now).into(), None)
                }
                (AnyPayment::Ordered(p), Ok(token)) => {
                    also.token = Some(CustomerToken::issued(
                        token.clone(),
                        id.clone(),
                        p.cart().market(),
                        now,
                    ));
                    match p.record_token(token.clone()) {
                        Ok(p) => (p.into(), None),
                        Err(f) => return Ok((*f.payment).into()),
                    }
                }
                (current, Err(e)) => match (current, verdict(e.clone(), in_doubt)) {
                    (AnyPayment::TokenPending(p), Verdict::Refused(e)) => {
                        let code = e.refusal_text();
                        let next = p
                            .record_refusal(code, now)
                            .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from);
                        (next, Some(ServiceError::Refused(e)))
                    }
                    (AnyPayment::Ordered(p), Verdict::Refused(e)) => {
                        let code = e.refusal_text();
                        let next = p
                            .record_token_refusal(code)
                            .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from);
                        (next, Some(ServiceError::Refused(e)))
                    }
                    (AnyPayment::TokenPending(p), Verdict::Unknown(e)) => (
                        p.attempted(true).into(),
                        Some(ServiceError::OutcomeUnknown {
                            payment_id: id.clone(),
                            source: e,
                        }),
                    ),
                    (AnyPayment::Ordered(p), Verdict::Unknown(e)) => (
                        p.token_attempted(true).into(),
                        Some(ServiceError::OutcomeUnknown {
                            payment_id: id.clone(),
                            source: e,
                        }),
                    ),
                    (AnyPayment::TokenPending(p), Verdict::NotReached(e)) => (
                        p.attempted(false).into(),
                        Some(ServiceError::Unavailable(e)),
                    ),
                    (AnyPayment::Ordered(p), Verdict::NotReached(e)) => (
                        p.token_attempted(false).into(),
                        Some(ServiceError::Unavailable(e)),
                    ),
                    (other, _) => return Ok(other),
                },
                (other, Ok(_)) => return Ok(other),
            };
            if self
                .commit_settled(version, &next, &also, result.is_ok())
                .await?
            {
                info!(payment = %id, stage = %next.kind(), "customer token attempt settled");
                return err.map_or(Ok(next), Err);
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    /// Completes an authorized payment as its intent asks: `buy` → order; `tokenize` →
    /// customer token; `buy_and_tokenize` → order, then token.
    ///
    /// # Errors
    /// As [`Self::place_order`] and [`Self::create_customer_token`].
    pub async fn complete(
        &self,
        id: &PaymentId,
        authorization: Option<AuthorizationToken>,
    ) -> Result<AnyPayment, ServiceError> {
        let intent = self.load(id).await?.value.intent();
        match intent {
            Intent::Buy => self.place_order(id, authorization).await,
            Intent::Tokenize => self.create_customer_token(id, authorization).await,
            Intent::BuyAndTokenize => {
                let ordered = self.place_order(id, authorization).await?;
                match ordered {
                    AnyPayment::Ordered(_) => self.create_customer_token(id, None).await,
                    other @ (AnyPayment::Open(_)
                    | AnyPayment::Authorized(_)
                    | AnyPayment::OrderPending(_)
                    | AnyPayment::TokenPending(_)
                    | AnyPayment::FraudReview(_)
                    | AnyPayment::Tokenized(_)
                    | AnyPayment::Cancelled(_)
                    | AnyPayment::Expired(_)
                    | AnyPayment::Refused(_)
                    | AnyPayment::NeedsReview(_)) => Ok(other),
                }
            }
        }
    }

    /// Charges a customer token, shopper absent. The charge is a new payment with your id:
    /// the same id again returns the first charge's payment and never charges twice.
    ///
    /// # Errors
    /// Token not active or of another currency; as [`Self::place_order`].
    pub async fn charge_customer_token(
        &self,
        request: ChargeRequest,
    ) -> Result<AnyPayment, ServiceError> {
        if let Some(existing) = self.store.load_payment(&request.payment_id).await? {
            return match existing.value {
                AnyPayment::OrderPending(_) => Err(ServiceError::InProgress(request.payment_id)),
                other @ (AnyPayment::Open(_)
                | AnyPayment::Authorized(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::FraudReview(_)
                | AnyPayment::Ordered(_)
                | AnyPayment::Tokenized(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => Ok(other),
            };
        }
        let token = self
            .store
            .load_customer_token(&request.token)
            .await?
            .ok_or_else(|| ServiceError::NotFound("customer token".to_owned()))?;
        token.value.ensure_chargeable()?;
        if token.value.market().currency() != request.cart.market().currency() {
            return Err(ServiceError::Invalid(format!(
                "purchase_currency: the token charges {}, the cart is in {}",
                token.value.market().currency(),
                request.cart.market().currency()
            )));
        }
        let now = self.clock.now();
        let key = self.keys.key(&request.payment_id, "charge", 0);
        let pending = Payment::charge(
            request.payment_id.clone(),
            request.cart,
            request.token.clone(),
            key,
            now,
        );
        match self.store.insert_payment(&pending.clone().into()).await {
            Ok(v) => {
                let result = self.send_order(&pending).await;
                if let Err(e) = &result
                    && let Some(Refusal::TokenUnusable(status)) = e.refusal()
                {
                    self.observe_token(&request.token, status).await;
                }
                self.settle_order(&request.payment_id, Some((v, pending)), result, false)
                    .await
            }
            Err(StoreError::Duplicate(klarna_ports::Unique::PaymentId)) => {
                // A racing caller with the same charge id won: report its payment.
                self.load(&request.payment_id).await.map(|v| v.value)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn observe_token(&self, token: &CustomerTokenId, status: klarna_domain::TokenStatus) {
        for _ in 0..=self.config.max_cas_retries {
            let Ok(Some(t)) = self.store.load_customer_token(token).await else {
                return;
            };
            match self
                .store
                .update_customer_token(t.version, &t.value.observe(status))
                .await
            {
                Err(StoreError::VersionConflict) => {}
                Ok(_) | Err(_) => return,
            }
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
        self.store
            .load_customer_token(token)
            .await?
            .ok_or_else(|| ServiceError::NotFound("customer token".to_owned()))?;
        self.gateway
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
        for _ in 0..=self.config.max_cas_retries {
            let t = self
                .store
                .load_customer_token(token)
                .await?
                .ok_or_else(|| ServiceError::NotFound("customer token".to_owned()))?;
            let cancelled = t.value.cancel();
            if landed(
                self.store
                    .update_customer_token(t.version, &cancelled)
                    .await,
            )?
            .is_some()
            {
                return Ok(cancelled);
            }
        }
        Err(ServiceError::Contended("customer token".to_owned()))
    }

    /// Reads a stored customer token.
    ///
    /// # Errors
    /// Unknown token; store errors.
    pub async fn customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<CustomerToken, ServiceError> {
        Ok(self
            .store
            .load_customer_token(token)
            .await?
            .ok_or_else(|| ServiceError::NotFound("customer token".to_owned()))?
            .value)
    }

    /// Cancels a payment before its order: releases the authorization if there is one.
    /// For an ordered payment, use [`Self::cancel_order`].
    ///
    /// # Errors
    /// Wrong stage; store errors.
    pub async fn cancel(&self, id: &PaymentId) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load(id).await?;
            let now = self.clock.now();
            let (next, release) = match value {
                AnyPayment::Open(p) => (AnyPayment::from(p.cancel(now)), None),
                AnyPayment::Authorized(p) => {
                    let token = p.authorization().token().clone();
                    (p.cancel(now).into(), Some(token))
                }
                AnyPayment::FraudReview(p) => {
                    let order = p.order().order_id().clone();
                    drop(p);
                    return self.cancel_order(&order).await.map(|(p, _)| p);
                }
                done @ AnyPayment::Cancelled(_) => return Ok(done),
                other @ (AnyPayment::OrderPending(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::Ordered(_)
                | AnyPayment::Tokenized(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => {
                    return Err(Self::wrong(
                        &other,
                        "cancelling (use cancel_order once ordered)",
                    ));
                }
            };
            if landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )?
            .is_some()
            {
                if let Some(token) = release
                    && let Err(e) = self.gateway.cancel_authorization(&token).await
                {
                    warn!(payment = %id, error = %e, "could not release the authorization; it expires in 60 minutes");
                }
                return Ok(next);
            }
        }
        Err(ServiceError::Contended(id.to_string()))
    }

    pub(crate) async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Versioned<ManagedOrder>, ServiceError> {
        self.store
            .load_order(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("order {id}")))
    }

    /// Captures `amount` (minor units) of an order. The ledger is checked before any call.
    ///
    /// # Errors
    /// Over-capture, wrong status, expiry (checked locally first); as [`Self::place_order`].
    pub async fn capture(
        &self,
        order: &OrderId,
        amount: i64,
    ) -> Result<ManagedOrder, ServiceError> {
        self.om(order, OmOperation::Capture(amount)).await
    }

    /// Refunds `amount` (minor units) of what was captured.
    ///
    /// # Errors
    /// Over-refund (checked locally first); as [`Self::capture`].
    pub async fn refund(&self, order: &OrderId, amount: i64) -> Result<ManagedOrder, ServiceError> {
        self.om(order, OmOperation::Refund(amount)).await
    }

    /// Releases the remaining authorization after a partial capture.
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn release_remaining_authorization(
        &self,
        order: &OrderId,
    ) -> Result<ManagedOrder, ServiceError> {
        self.om(order, OmOperation::ReleaseRemaining).await
    }

    /// Extends the order's authorization time (within 180 days of creation).
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn extend_authorization(
        &self,
        order: &OrderId,
    ) -> Result<ManagedOrder, ServiceError> {
        self.om(order, OmOperation::ExtendAuthorization).await
    }

    /// Cancels an order with nothing captured; the payment is marked cancelled.
    ///
    /// # Errors
    /// As [`Self::capture`].
    pub async fn cancel_order(
        &self,
        order: &OrderId,
    ) -> Result<(AnyPayment, ManagedOrder), ServiceError> {
        let managed = self.om(order, OmOperation::Cancel).await?;
        let payment = self.mark_payment_cancelled(order).await?;
        Ok((payment, managed))
    }

    pub(crate) async fn mark_payment_cancelled(
        &self,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Some(Versioned { version, value }) =
                self.store.find_payment_by_order(order).await?
            else {
                return Err(ServiceError::NotFound(format!("payment of order {order}")));
            };
            let now = self.clock.now();
            let next: AnyPayment = match value {
                AnyPayment::Ordered(p) => p.cancel(now).into(),
                AnyPayment::FraudReview(p) => p.cancel(now).into(),
                other @ (AnyPayment::Open(_)
                | AnyPayment::Authorized(_)
                | AnyPayment::OrderPending(_)
                | AnyPayment::TokenPending(_)
                | AnyPayment::Tokenized(_)
                | AnyPayment::Cancelled(_)
                | AnyPayment::Expired(_)
                | AnyPayment::Refused(_)
                | AnyPayment::NeedsReview(_)) => return Ok(other),
            };
            if landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )?
            .is_some()
            {
                return Ok(next);
            }
        }
        Err(ServiceError::Contended(order.to_string()))
    }

    async fn om(
        &self,
        order: &OrderId,
        operation: OmOperation,
    ) -> Result<ManagedOrder, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = self.load_order(order).await?;
            let now = self.clock.now();
            if value.pending().is_some() {
                return Err(ServiceError::InProgress(value.payment_id().clone()));
            }
            let op_name = format!("order:{}", value.order_id());
            let key = self
                .keys
                .key(value.payment_id(), &op_name, value.next_op_seq());
            let begun = value.expire(now).begin(operation, key, now)?;
            if let Some(v) = landed(self.store.update_order(version, &begun).await)? {
                let result = self.send_om(&begun).await;
                return self.settle_om(order, Some((v, begun)), result, false).await;
            }
        }
        Err(ServiceError::Contended(order.to_string()))
    }

    pub(crate) async fn send_om(&self, o: &ManagedOrder) -> Result<OmResult, GatewayError> {
        let Some(p) = o.pending() else {
            return Err(GatewayError::new(
                "ordermanagement",
                ErrorAction::InvalidRequest,
                false,
            ));
        };
        let (id, key) = (o.order_id(), p.op.key());
        match p.operation {
            OmOperation::Capture(amount) => self
                .gateway
                .capture(id, amount, key)
                .await
                .map(OmResult::Captured),
            OmOperation::Refund(amount) => self
                .gateway
                .refund(id, amount, key)
                .await
                .map(OmResult::Refunded),
            OmOperation::Cancel => self
                .gateway
                .cancel_order(id, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::ReleaseRemaining => self
                .gateway
                .release_remaining_authorization(id, key)
                .await
                .map(|()| OmResult::Done),
            OmOperation::ExtendAuthorization => self
                .gateway
                .extend_authorization_time(id, key)
                .await
                .map(|()| OmResult::Done),
        }
    }

    pub(crate) async fn settle_om(
        &self,
        order: &OrderId,
        mut known: Option<(u64, ManagedOrder)>,
        result: Result<OmResult, GatewayError>,
        recovering: bool,
    ) -> Result<ManagedOrder, ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let (version, current) = match known.take() {
                Some(k) => k,
                None => {
                    let v = self.load_order(order).await?;
                    (v.version, v.value)
                }
            };
            let Some(p) = current.pending().cloned() else {
                return Ok(current);
            };
            let now = self.clock.now();
            let in_doubt = recovering || p.op.in_doubt();
            let payment_id = current.payment_id().clone();
            let (next, err) = match &result {
                Ok(r) => (current.attempted(false).complete(r.clone(), now)?, None),
                Err(e) => match verdict(e.clone(), in_doubt) {
                    Verdict::Refused(e) => (
                        current.attempted(false).refused()?,
                        Some(ServiceError::Refused(e)),
                    ),
                    Verdict::NotReached(e) => {
                        (current.attempted(false), Some(ServiceError::Unavailable(e)))
                    }
                    Verdict::Unknown(e) => (
                        current.attempted(true),
                        Some(ServiceError::OutcomeUnknown {
                            payment_id,
                            source: e,
                        }),
                    ),
                },
            };
            if landed(self.store.update_order(version, &next).await)?.is_some() {
                info!(order = %order, status = ?next.status(), captured = next.captured(), refunded = next.refunded(), "order operation settled");
                return err.map_or(Ok(next), Err);
            }
        }
        Err(ServiceError::Contended(order.to_string()))
    }

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
        for _ in 0..=self.config.max_cas_retries {
            let Some(Versioned { version, value }) =
                self.store.find_payment_by_order(order).await?
            else {
                return Err(ServiceError::NotFound(format!("payment of order {order}")));
            };
            let now = self.clock.now();
            let next = match (value, remote.fraud_status) {
                (AnyPayment::FraudReview(p), Some(FraudStatus::Accepted)) => p.resolve(true, now),
                (AnyPayment::FraudReview(p), Some(FraudStatus::Rejected)) => p.resolve(false, now),
                (other, _) => return Ok(other),
            };
            if landed(
                self.store
                    .update_payment(version, &next, &Also::default())
                    .await,
            )?
            .is_some()
            {
                if next.kind() == StageKind::Cancelled {
                    self.observe_order_status(order, klarna_domain::OrderStatus::Cancelled)
                        .await?;
                }
                return Ok(next);
            }
        }
        Err(ServiceError::Contended(order.to_string()))
    }

    async fn observe_order_status(
        &self,
        order: &OrderId,
        status: klarna_domain::OrderStatus,
    ) -> Result<(), ServiceError> {
        for _ in 0..=self.config.max_cas_retries {
            let v = self.load_order(order).await?;
            if landed(
                self.store
                    .update_order(v.version, &v.value.observe_status(status))
                    .await,
            )?
            .is_some()
            {
                return Ok(());
            }
        }
        Err(ServiceError::Contended(order.to_string()))
    }
}

/// The outcome of a compare-and-set: `Some(version)` when it landed, `None` when another
/// writer got there first (re-read and decide again); any other store failure is an error.
fn landed(result: Result<u64, StoreError>) -> Result<Option<u64>, ServiceError> {
    match result {
        Ok(version) => Ok(Some(version)),
        Err(StoreError::VersionConflict) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
