//! Decisions: for each transition of a stored payment or order, the one exhaustive match that says what happens.
//!
//! A use case loads a stored value, asks one of these methods what to do with it, and writes the
//! answer with compare-and-set. The methods are pure: they take the stored value, the inputs and
//! the time, and return either the next value ([`Decision::Next`]) or a typed disposition: the
//! operation is already done ([`Decision::Done`]), another caller's operation is in flight
//! ([`Decision::InProgress`]), or the lifecycle refuses it ([`Decision::Refused`], naming the
//! stage). Every match over the stages of [`AnyPayment`] that decides a transition lives here,
//! once per transition, so a new stage breaks exactly these places.
//!
//! The outcome of a call to Klarna reaches the decisions as an [`Attempt`]: the service's port
//! says what happened at Klarna; these methods say what that means for the record.

use crate::ids::{AuthorizationToken, CustomerTokenId, IdempotencyKey, OrderId, PaymentId};
use crate::order::{LedgerError, ManagedOrder, OmResult};
use crate::payment::{
    AnyPayment, Authorization, Authorized, FraudStatus, LifecycleError, Open, OrderPending,
    Payment, PendingOp, PlacedOrder, StageKind, Tokenization,
};
use crate::time::Timestamp;
use crate::token::CustomerToken;
use crate::{Cart, SessionId};

/// What the domain decided for one transition of a stored value `R`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[must_use]
pub enum Decision<T, R = AnyPayment> {
    /// Write the next value (and whatever goes with it) with compare-and-set.
    Next(T),
    /// Nothing to write: the stored value already shows the operation's result, or a later
    /// stage that the operation must not disturb. Here it is, unchanged.
    Done(R),
    /// Another caller's operation on this record is in flight: wait, then read it again.
    InProgress,
    /// The lifecycle refuses the transition; [`LifecycleError::WrongStage`] names the stage.
    Refused(LifecycleError),
}

impl<T, R> Decision<T, R> {
    fn wrong_stage(operation: &'static str, stage: StageKind) -> Self {
        Self::Refused(LifecycleError::WrongStage { operation, stage })
    }
}

/// How a call to Klarna ended, as the protocol reads it (DESIGN.md §5).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Attempt<T> {
    /// Klarna answered with the result.
    Succeeded(T),
    /// Klarna refused, and the refusal is definitive (no earlier attempt is in doubt).
    Refused {
        /// Why, in words to store with the record (never a secret).
        reason: String,
        /// The authorization itself is unusable: the shopper may authorize again.
        reauthorize: bool,
    },
    /// The request certainly did not reach Klarna: nothing happened there.
    NotReached,
    /// It may have had an effect without our seeing the answer: stay pending.
    Unknown,
}

impl<T> Attempt<T> {
    /// Whether the attempt ended with Klarna's result.
    #[must_use]
    pub const fn succeeded(&self) -> bool {
        matches!(self, Self::Succeeded(_))
    }
}

/// A settled payment and the records created with it, to write in one compare-and-set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Settled {
    /// The payment's next stage.
    pub payment: AnyPayment,
    /// The managed order to insert (the payment just got its Klarna order).
    pub order: Option<ManagedOrder>,
    /// The customer token to insert (the payment just got its token).
    pub token: Option<CustomerToken>,
}

impl Settled {
    fn alone(payment: impl Into<AnyPayment>) -> Self {
        Self {
            payment: payment.into(),
            order: None,
            token: None,
        }
    }
}

/// What cancelling a payment before its order leads to.
#[derive(Clone, PartialEq, Eq, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "short-lived, moved once; boxing buys nothing"
)]
pub enum Cancellation {
    /// The payment is cancelled; release this authorization at Klarna once it is written.
    Cancelled(AnyPayment, Option<AuthorizationToken>),
    /// Klarna already holds an order (under fraud review): cancel it through Order Management.
    ViaOrder(OrderId),
}

/// The customer token a payment is creating: the authorization it comes from and the operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TokenStep<'a> {
    /// The authorization being turned into a token.
    pub authorization: &'a Authorization,
    /// The in-flight operation.
    pub op: &'a PendingOp,
}

/// What completing a payment made, as its intent asked.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Completed {
    /// `buy` (or a token charge): Klarna created the order. Its fraud status may be `PENDING`
    /// (do not ship yet) or `REJECTED` (do not ship).
    Order(PlacedOrder),
    /// `tokenize`: the customer token, to charge later with the shopper absent.
    Token(CustomerTokenId),
    /// `buy_and_tokenize`: the order, and its customer token unless the token step is still
    /// to come (the order is under fraud review) or was refused (the order stands).
    OrderAndToken {
        /// The order.
        order: PlacedOrder,
        /// The customer token, when it exists.
        token: Option<CustomerTokenId>,
    },
}

impl Completed {
    /// The order, if the payment made one.
    #[must_use]
    pub fn order(&self) -> Option<&PlacedOrder> {
        match self {
            Self::Order(order) | Self::OrderAndToken { order, .. } => Some(order),
            Self::Token(_) => None,
        }
    }
    /// The customer token, if the payment made one.
    #[must_use]
    pub fn token(&self) -> Option<&CustomerTokenId> {
        match self {
            Self::Token(token) => Some(token),
            Self::OrderAndToken { token, .. } => token.as_ref(),
            Self::Order(_) => None,
        }
    }
}

impl AnyPayment {
    /// The session to update before replacing the cart (only while no order exists).
    ///
    /// # Errors
    /// [`LifecycleError::WrongStage`] past authorization.
    pub fn session_for_cart_update(&self) -> Result<&SessionId, LifecycleError> {
        match self {
            Self::Open(p) => Ok(p.session().id()),
            Self::Authorized(p) => Ok(p.session().id()),
            Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => Err(LifecycleError::WrongStage {
                operation: "updating the cart",
                stage: self.kind(),
            }),
        }
    }

    /// Replaces the cart (after Klarna accepted the session update). An authorized payment is
    /// open again; the dropped authorization comes back so the caller can release it.
    pub fn decide_cart_update(
        self,
        cart: Cart,
        now: Timestamp,
    ) -> Decision<(AnyPayment, Option<Authorization>)> {
        match self {
            Self::Open(p) => match p.update_cart(cart, now) {
                Ok(p) => Decision::Next((p.into(), None)),
                Err(f) => Decision::Refused(f.error),
            },
            Self::Authorized(p) => match p.update_cart(cart, now) {
                Ok((open, released)) => Decision::Next((open.into(), Some(released))),
                Err(f) => Decision::Refused(f.error),
            },
            other @ (Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::wrong_stage("updating the cart", other.kind()),
        }
    }

    /// Records the shopper's authorization. The same token again, or a payment already past
    /// authorization (a late or repeated callback), changes nothing; a new token for an
    /// authorized payment replaces the old one.
    pub fn decide_authorization(
        self,
        token: AuthorizationToken,
        now: Timestamp,
    ) -> Decision<AnyPayment> {
        if self.authorization_token() == Some(&token) {
            return Decision::Done(self);
        }
        match self.expire(now) {
            Self::Open(p) => match p.authorize(token, now) {
                Ok(p) => Decision::Next(p.into()),
                Err(f) => Decision::Refused(f.error),
            },
            Self::Authorized(p) => match p.reauthorize(token, now) {
                Ok(p) => Decision::Next(p.into()),
                Err(f) => Decision::Refused(f.error),
            },
            done @ (Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)) => Decision::Done(done),
            other @ (Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => {
                Decision::wrong_stage("recording an authorization", other.kind())
            }
        }
    }

    /// Starts "create order" (one-time): records `authorization` if it is new, mints the
    /// operation's key from the payment's operation counter (`key(id, seq)`), and moves to
    /// `OrderPending`. An ordered payment is done; a pending one is in progress.
    pub fn decide_begin_order(
        self,
        authorization: Option<AuthorizationToken>,
        key: impl FnOnce(&PaymentId, u32) -> IdempotencyKey,
        now: Timestamp,
    ) -> Decision<Payment<OrderPending>> {
        let authorized = match self.expire(now) {
            Self::Open(p) => authorize_open(
                p,
                authorization,
                "placing an order without an authorization",
                now,
            ),
            Self::Authorized(p) => with_newest_token(p, authorization, now),
            done @ (Self::Ordered(_) | Self::FraudReview(_) | Self::Stopped(_)) => {
                return Decision::Done(done);
            }
            Self::OrderPending(_) | Self::TokenPending(_) => return Decision::InProgress,
            other @ (Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => {
                return Decision::wrong_stage("placing an order", other.kind());
            }
        };
        let authorized = match authorized {
            Ok(a) => a,
            Err(e) => return Decision::Refused(e),
        };
        let key = key(authorized.id(), authorized.next_op_seq());
        match authorized.begin_order(key, now) {
            Ok(pending) => Decision::Next(pending),
            Err(f) => Decision::Refused(f.error),
        }
    }

    /// Starts "create customer token" from an authorization: intent `tokenize`, and
    /// `buy_and_tokenize` before its order (a payment stored before tokens came first may
    /// still have its token step due after the order). A payment with its token is done; one
    /// with an operation in flight is in progress.
    pub fn decide_begin_tokenization(
        self,
        authorization: Option<AuthorizationToken>,
        key: impl FnOnce(&PaymentId, u32) -> IdempotencyKey,
        now: Timestamp,
    ) -> Decision<AnyPayment> {
        const OPERATION: &str = "creating a customer token";
        match self.expire(now) {
            Self::Open(p) => begin_tokenization(
                authorize_open(
                    p,
                    authorization,
                    "creating a customer token without an authorization",
                    now,
                ),
                key,
                now,
            ),
            // buy_and_tokenize: the token exists, the order is due.
            Self::Authorized(p) if p.customer_token().is_some() => Decision::Done(p.into()),
            Self::Authorized(p) => {
                begin_tokenization(with_newest_token(p, authorization, now), key, now)
            }
            Self::Ordered(p) => match p.tokenization() {
                Tokenization::Due(_) => {
                    let key = key(p.id(), p.next_op_seq());
                    next_or_refused(p.begin_tokenization(key, now))
                }
                Tokenization::Pending(..) => Decision::InProgress,
                Tokenization::Done(_) => Decision::Done(p.into()),
                Tokenization::NotRequested | Tokenization::Refused(_) => {
                    Decision::wrong_stage(OPERATION, StageKind::Ordered)
                }
            },
            done @ Self::Tokenized(_) => Decision::Done(done),
            Self::TokenPending(_) | Self::OrderPending(_) => Decision::InProgress,
            other @ (Self::FraudReview(_)
            | Self::Stopped(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::wrong_stage(OPERATION, other.kind()),
        }
    }

    /// A charge with this payment id exists already: the first charge's payment is the answer,
    /// unless its order request is still in flight.
    pub fn decide_repeated_charge(self) -> Decision<()> {
        match self {
            Self::OrderPending(_) => Decision::InProgress,
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::Done(other),
        }
    }

    /// The pending order request of the payment, if it has one.
    #[must_use]
    pub fn pending_order(&self) -> Option<&Payment<OrderPending>> {
        match self {
            Self::OrderPending(p) => Some(p),
            Self::Open(_)
            | Self::Authorized(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// The customer token the payment is creating, if a token request may be in flight.
    #[must_use]
    pub fn pending_tokenization(&self) -> Option<TokenStep<'_>> {
        match self {
            Self::TokenPending(t) => Some(TokenStep {
                authorization: t.authorization(),
                op: t.op(),
            }),
            Self::Ordered(o) => match o.tokenization() {
                Tokenization::Pending(authorization, op) => Some(TokenStep { authorization, op }),
                Tokenization::NotRequested
                | Tokenization::Due(_)
                | Tokenization::Done(_)
                | Tokenization::Refused(_) => None,
            },
            Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::FraudReview(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// What the payment made, once it is complete (an order, a customer token, or both);
    /// `None` in any other stage.
    #[must_use]
    pub fn completed(&self) -> Option<Completed> {
        let with_order = |order: &PlacedOrder, token: Option<&CustomerTokenId>| match self.intent()
        {
            crate::Intent::BuyAndTokenize => Completed::OrderAndToken {
                order: order.clone(),
                token: token.cloned(),
            },
            crate::Intent::Buy | crate::Intent::Tokenize => Completed::Order(order.clone()),
        };
        match self {
            Self::Ordered(p) => Some(with_order(p.order(), self.customer_token())),
            Self::Stopped(p) => Some(with_order(p.order(), p.customer_token())),
            Self::FraudReview(p) => Some(with_order(p.order(), None)),
            Self::Tokenized(p) => Some(Completed::Token(p.customer_token().clone())),
            Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// Whether the payment is `buy_and_tokenize`, has its customer token, and waits for its
    /// order (the step after the token).
    #[must_use]
    pub fn awaits_order(&self) -> bool {
        matches!(self, Self::Authorized(p) if p.customer_token().is_some())
    }

    /// Whether the payment holds an order that is not under fraud review (the point after
    /// which a `buy_and_tokenize` payment stored before tokens came first creates its token).
    #[must_use]
    pub fn is_ordered(&self) -> bool {
        matches!(self, Self::Ordered(_))
    }

    /// Applies the outcome of a create-order call (P5 or a token charge) to the pending
    /// payment. Anything but `OrderPending` was resolved by someone else first: done.
    ///
    /// A success that arrives when its operation is no longer pending is never dropped: a
    /// payment in review takes the order (it is what the review was about); a payment left
    /// without an order (cleared, rolled back, refused, expired) goes to review naming Klarna's
    /// order id; one with that very order is done.
    pub fn settle_order(self, attempt: Attempt<PlacedOrder>, now: Timestamp) -> Decision<Settled> {
        let (pending, attempt) = match (self, attempt) {
            (Self::OrderPending(p), attempt) => (p, attempt),
            (Self::NeedsReview(p), Attempt::Succeeded(order)) => {
                let managed = ManagedOrder::new(
                    order.order_id().clone(),
                    p.id().clone(),
                    p.cart().total(),
                    now,
                );
                return Decision::Next(Settled {
                    payment: p.resolve_with_order(order).into(),
                    order: Some(managed),
                    token: None,
                });
            }
            (other, Attempt::Succeeded(order)) if other.order_id().is_none() => {
                let reason = format!(
                    "Klarna answered order_id {} after the operation was resolved as {}",
                    order.order_id(),
                    other.kind()
                );
                let review: Payment<crate::payment::NeedsReview> = match other {
                    Self::Open(p) => p.contradicted(reason, now),
                    Self::Authorized(p) => p.contradicted(reason, now),
                    Self::TokenPending(p) => p.contradicted(reason, now),
                    Self::Tokenized(p) => p.contradicted(reason, now),
                    Self::Cancelled(p) => p.contradicted(reason, now),
                    Self::Expired(p) => p.contradicted(reason, now),
                    Self::Refused(p) => p.contradicted(reason, now),
                    done @ (Self::OrderPending(_)
                    | Self::FraudReview(_)
                    | Self::Ordered(_)
                    | Self::Stopped(_)
                    | Self::NeedsReview(_)) => return Decision::Done(done),
                };
                return Decision::Next(Settled::alone(review));
            }
            (other, _) => return Decision::Done(other),
        };
        Decision::Next(match attempt {
            Attempt::Succeeded(order) => {
                let managed = ManagedOrder::new(
                    order.order_id().clone(),
                    pending.id().clone(),
                    pending.cart().total(),
                    now,
                );
                Settled {
                    payment: pending.attempted(false).record_order(order).into_any(),
                    order: Some(managed),
                    token: None,
                }
            }
            Attempt::Refused {
                reason,
                reauthorize,
            } => {
                let pending = pending.attempted(false);
                let pending = if reauthorize {
                    match pending.reopen(now) {
                        Ok(open) => return Decision::Next(Settled::alone(open)),
                        Err(f) => *f.payment,
                    }
                } else {
                    pending
                };
                Settled::alone(
                    pending
                        .record_refusal(reason, now)
                        .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from),
                )
            }
            // Nothing left: back to the authorization (a charge stays queued).
            Attempt::NotReached => Settled::alone(
                pending
                    .roll_back()
                    .map_or_else(|f| AnyPayment::from(f.payment.attempted(false)), Into::into),
            ),
            Attempt::Unknown => Settled::alone(pending.attempted(true)),
        })
    }

    /// Applies the outcome of a create-customer-token call to the payment whose token step is
    /// pending. Without a pending token step someone else resolved it first: done.
    pub fn settle_token(
        self,
        attempt: Attempt<CustomerTokenId>,
        now: Timestamp,
    ) -> Decision<Settled> {
        let issued = |p: &Self, token: &CustomerTokenId| {
            CustomerToken::issued(token.clone(), p.id().clone(), p.cart().market(), now)
        };
        if self.pending_tokenization().is_none() {
            // A late success is never dropped: a `tokenize` payment in review takes its
            // token; any other payment without this token keeps its stage, and the token is
            // recorded beside it (it exists at Klarna, and it is a secret nobody may log).
            return match (self, attempt) {
                (Self::NeedsReview(p), Attempt::Succeeded(token))
                    if p.intent() == crate::Intent::Tokenize =>
                {
                    let record = issued(&Self::NeedsReview(p.clone()), &token);
                    Decision::Next(Settled {
                        payment: p.resolve_with_token(token, now).into(),
                        order: None,
                        token: Some(record),
                    })
                }
                (other, Attempt::Succeeded(token)) if other.customer_token() != Some(&token) => {
                    let record = issued(&other, &token);
                    Decision::Next(Settled {
                        payment: other,
                        order: None,
                        token: Some(record),
                    })
                }
                (other, _) => Decision::Done(other),
            };
        }
        let settled = match (self, attempt) {
            (Self::TokenPending(p), Attempt::Succeeded(token)) => {
                let record = issued(&Self::TokenPending(p.clone()), &token);
                let payment = if p.intent() == crate::Intent::BuyAndTokenize {
                    p.record_token_before_order(token).into()
                } else {
                    p.record_token(token, now).into()
                };
                Settled {
                    payment,
                    order: None,
                    token: Some(record),
                }
            }
            (Self::Ordered(p), Attempt::Succeeded(token)) => {
                let record = issued(&Self::Ordered(p.clone()), &token);
                match p.record_token(token) {
                    Ok(p) => Settled {
                        payment: p.into(),
                        order: None,
                        token: Some(record),
                    },
                    Err(f) => return Decision::Done((*f.payment).into()),
                }
            }
            (Self::TokenPending(p), Attempt::Refused { reason, .. }) => Settled::alone(
                p.record_refusal(reason, now)
                    .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from),
            ),
            (Self::Ordered(p), Attempt::Refused { reason, .. }) => Settled::alone(
                p.record_token_refusal(reason)
                    .map_or_else(|f| AnyPayment::from(*f.payment), AnyPayment::from),
            ),
            (Self::TokenPending(p), Attempt::NotReached) if !p.op().in_doubt() => {
                Settled::alone(p.roll_back())
            }
            (Self::TokenPending(p), Attempt::NotReached) => Settled::alone(p.attempted(false)),
            (Self::TokenPending(p), Attempt::Unknown) => Settled::alone(p.attempted(true)),
            (Self::Ordered(p), Attempt::NotReached) => {
                Settled::alone(p.token_attempted(false).roll_back_token_step())
            }
            (Self::Ordered(p), Attempt::Unknown) => Settled::alone(p.token_attempted(true)),
            (
                other @ (Self::Open(_)
                | Self::Authorized(_)
                | Self::OrderPending(_)
                | Self::FraudReview(_)
                | Self::Stopped(_)
                | Self::Tokenized(_)
                | Self::Cancelled(_)
                | Self::Expired(_)
                | Self::Refused(_)
                | Self::NeedsReview(_)),
                _,
            ) => return Decision::Done(other),
        };
        Decision::Next(settled)
    }

    /// Evidence could not resolve the pending operation: a human decides. A pending token
    /// step of an ordered payment is abandoned (the order stands); a payment with nothing
    /// pending is done.
    pub fn decide_review(self, reason: &str, now: Timestamp) -> Decision<AnyPayment> {
        match self {
            Self::OrderPending(p) => Decision::Next(p.needs_review(reason, now).into()),
            Self::TokenPending(p) => Decision::Next(p.needs_review(reason, now).into()),
            Self::Ordered(p) if matches!(p.tokenization(), Tokenization::Pending(..)) => {
                Decision::Next(
                    p.abandon_token_step(format!("NEEDS_REVIEW: {reason}"))
                        .into(),
                )
            }
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::Done(other),
        }
    }

    /// Cancels a payment before its order. A payment under fraud review already has an order,
    /// which must be cancelled through Order Management.
    pub fn decide_cancel(self, now: Timestamp) -> Decision<Cancellation> {
        match self {
            Self::Open(p) => Decision::Next(Cancellation::Cancelled(p.cancel(now).into(), None)),
            Self::Authorized(p) => {
                let token = p.authorization().token().clone();
                Decision::Next(Cancellation::Cancelled(p.cancel(now).into(), Some(token)))
            }
            Self::FraudReview(p) => {
                Decision::Next(Cancellation::ViaOrder(p.order().order_id().clone()))
            }
            Self::Stopped(p) => {
                Decision::Next(Cancellation::ViaOrder(p.order().order_id().clone()))
            }
            done @ Self::Cancelled(_) => Decision::Done(done),
            other @ (Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::Ordered(_)
            | Self::Tokenized(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => {
                Decision::wrong_stage("cancelling (use cancel_order once ordered)", other.kind())
            }
        }
    }

    /// Order Management cancelled the payment's order: the payment is cancelled too.
    pub fn decide_order_cancelled(self, now: Timestamp) -> Decision<AnyPayment> {
        match self {
            Self::Ordered(p) => Decision::Next(p.cancel(now).into()),
            Self::FraudReview(p) => Decision::Next(p.cancel(now).into()),
            Self::Stopped(p) => Decision::Next(p.cancel(now).into()),
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::Done(other),
        }
    }

    /// Klarna's fraud decision for an order, as a read of the order reports it (never taken
    /// from a notification alone):
    ///
    /// - under review: `ACCEPTED` orders it, `REJECTED` cancels it, `STOPPED` stops it;
    /// - ordered: `STOPPED` stops it (Klarna stopped an accepted order); a pending token step
    ///   of the order first has to resolve (refused naming the stage, the stop comes on a
    ///   later read);
    /// - stopped: only an explicit `ACCEPTED` resumes it (Klarna lifted the stop); anything
    ///   else, a missing or unknown status included, keeps it stopped: never ship on a guess.
    ///
    /// Anything else is done.
    pub fn decide_fraud_decision(
        self,
        fraud_status: Option<FraudStatus>,
        now: Timestamp,
    ) -> Decision<AnyPayment> {
        match (self, fraud_status) {
            (Self::FraudReview(p), Some(FraudStatus::Accepted)) => {
                Decision::Next(p.resolve(true, now))
            }
            (Self::FraudReview(p), Some(FraudStatus::Rejected)) => {
                Decision::Next(p.resolve(false, now))
            }
            (Self::FraudReview(p), Some(FraudStatus::Stopped)) => {
                Decision::Next(p.stop(now).into())
            }
            (Self::Ordered(p), Some(FraudStatus::Stopped)) => match p.stop(now) {
                Ok(stopped) => Decision::Next(stopped.into()),
                Err(f) => Decision::Refused(f.error),
            },
            (Self::Stopped(p), Some(FraudStatus::Accepted)) => Decision::Next(p.resume().into()),
            (other, _) => Decision::Done(other),
        }
    }

    /// Whether a capture of the payment's order may be sent: a stopped order ships nothing
    /// (checked before any call to Klarna).
    ///
    /// # Errors
    /// [`LifecycleError::OrderStopped`] with the reply deadline when Klarna stopped the order.
    pub fn check_capture(&self) -> Result<(), LifecycleError> {
        match self {
            Self::Stopped(p) => Err(p.capture_refusal()),
            Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => Ok(()),
        }
    }
}

/// Authorizes an open payment with the shopper's token; without one, the step is not due
/// (`operation` names it).
fn authorize_open(
    p: Payment<Open>,
    token: Option<AuthorizationToken>,
    operation: &'static str,
    now: Timestamp,
) -> Result<Payment<Authorized>, LifecycleError> {
    let Some(token) = token else {
        return Err(LifecycleError::WrongStage {
            operation,
            stage: StageKind::Open,
        });
    };
    p.authorize(token, now).map_err(|f| f.error)
}

/// An authorized payment as it is, or re-authorized when `token` is a different one.
fn with_newest_token(
    p: Payment<Authorized>,
    token: Option<AuthorizationToken>,
    now: Timestamp,
) -> Result<Payment<Authorized>, LifecycleError> {
    match token {
        Some(t) if &t != p.authorization().token() => p.reauthorize(t, now).map_err(|f| f.error),
        Some(_) | None => Ok(p),
    }
}

/// Starts "create customer token" from an authorization (intent `tokenize`).
fn begin_tokenization(
    authorized: Result<Payment<Authorized>, LifecycleError>,
    key: impl FnOnce(&PaymentId, u32) -> IdempotencyKey,
    now: Timestamp,
) -> Decision<AnyPayment> {
    match authorized {
        Ok(a) => {
            let key = key(a.id(), a.next_op_seq());
            next_or_refused(a.begin_tokenization(key, now))
        }
        Err(e) => Decision::Refused(e),
    }
}

fn next_or_refused<P: Into<AnyPayment>, F>(
    result: Result<P, crate::payment::TransitionFailed<F>>,
) -> Decision<AnyPayment> {
    match result {
        Ok(p) => Decision::Next(p.into()),
        Err(f) => Decision::Refused(f.error),
    }
}

impl ManagedOrder {
    /// Applies the outcome of an Order Management call to the pending operation. An order
    /// with nothing pending was resolved by someone else first: done.
    ///
    /// # Errors
    /// A [`LedgerError`] when the result does not fit the pending operation (it stays pending).
    pub fn settle(
        self,
        attempt: Attempt<OmResult>,
        now: Timestamp,
    ) -> Result<Decision<ManagedOrder, ManagedOrder>, LedgerError> {
        if self.pending().is_none() {
            return Ok(Decision::Done(self));
        }
        Ok(Decision::Next(match attempt {
            Attempt::Succeeded(result) => self.attempted(false).complete(result, now)?,
            Attempt::Refused { .. } => self.attempted(false).refused()?,
            // Nothing left and nothing earlier in doubt: the reservation is released.
            Attempt::NotReached if self.pending().is_some_and(|p| !p.op.in_doubt()) => {
                self.attempted(false).not_applied()?
            }
            Attempt::NotReached => self.attempted(false),
            Attempt::Unknown => self.attempted(true),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{Intent, Session};
    use crate::{ClientToken, Market, OrderLine};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(s * 1_000)
    }

    fn cart() -> Cart {
        let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
        let line = OrderLine::builder("Shoe", 1, 10_000)
            .tax_rate(2_500)
            .build()
            .unwrap();
        Cart::new(market, vec![line]).unwrap()
    }

    fn open(intent: Intent) -> AnyPayment {
        let session = Session::new(
            SessionId::new("s-1").unwrap(),
            ClientToken::new("ct").unwrap(),
            t(1_000_000),
        );
        Payment::open(
            PaymentId::new("p-1").unwrap(),
            intent,
            cart(),
            session,
            t(0),
        )
        .into()
    }

    fn token(s: &str) -> AuthorizationToken {
        AuthorizationToken::new(s).unwrap()
    }

    fn key(id: &PaymentId, seq: u32) -> IdempotencyKey {
        IdempotencyKey::new(format!("{id}:{seq}")).unwrap()
    }

    fn next<T: std::fmt::Debug, R: std::fmt::Debug>(d: Decision<T, R>) -> T {
        match d {
            Decision::Next(t) => t,
            other @ (Decision::Done(_) | Decision::InProgress | Decision::Refused(_)) => {
                panic!("expected Next, got {other:?}")
            }
        }
    }

    #[test]
    fn the_same_token_twice_is_done_and_a_new_one_reauthorizes() {
        let authorized = next(open(Intent::Buy).decide_authorization(token("a"), t(1)));
        assert_eq!(authorized.kind(), StageKind::Authorized);
        let again = authorized.clone().decide_authorization(token("a"), t(2));
        assert_eq!(again, Decision::Done(authorized.clone()));
        let replaced = next(authorized.decide_authorization(token("b"), t(3)));
        assert_eq!(replaced.authorization_token(), Some(&token("b")));
    }

    /// Defect 2 of the exactly-once issue: a success that arrives when its operation is no
    /// longer pending was dropped (`Done`). A review takes the order; a stage without an order
    /// goes to review naming Klarna's id; the same order again is done.
    #[test]
    fn a_late_success_is_never_dropped() {
        let placed =
            || PlacedOrder::new(OrderId::new("o-late").unwrap(), FraudStatus::Accepted, t(9));
        let pending = AnyPayment::from(next(open(Intent::Buy).decide_begin_order(
            Some(token("a")),
            key,
            t(1),
        )));
        let review = next(pending.decide_review("unresolved", t(5)));
        let s = next(review.settle_order(Attempt::Succeeded(placed()), t(9)));
        assert_eq!(s.payment.order_id().map(OrderId::as_str), Some("o-late"));
        assert_eq!(
            s.order.map(|o| o.order_id().clone()),
            s.payment.order_id().cloned()
        );

        let authorized = next(open(Intent::Buy).decide_authorization(token("a"), t(1)));
        let s = next(authorized.settle_order(Attempt::Succeeded(placed()), t(9)));
        let AnyPayment::NeedsReview(r) = &s.payment else {
            panic!("review, got {:?}", s.payment.kind())
        };
        assert!(r.reason().contains("o-late"), "{}", r.reason());
        assert!(s.order.is_none());

        let ordered = next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1)));
        let ordered =
            next(AnyPayment::from(ordered).settle_order(Attempt::Succeeded(placed()), t(2)))
                .payment;
        assert!(matches!(
            ordered
                .clone()
                .settle_order(Attempt::Succeeded(placed()), t(3)),
            Decision::Done(_)
        ));
    }

    #[test]
    fn begin_order_mints_the_key_from_the_operation_counter_and_then_is_in_progress() {
        let pending = next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1)));
        assert_eq!(pending.op().key().as_str(), "p-1:0");
        let stored = AnyPayment::from(pending);
        assert_eq!(
            stored.clone().decide_begin_order(None, key, t(2)),
            Decision::InProgress
        );
        assert_eq!(
            stored.decide_cart_update(cart(), t(2)),
            Decision::Refused(LifecycleError::WrongStage {
                operation: "updating the cart",
                stage: StageKind::OrderPending,
            })
        );
    }

    #[test]
    fn an_order_without_an_authorization_is_refused_naming_the_stage() {
        assert_eq!(
            open(Intent::Buy).decide_begin_order(None, key, t(1)),
            Decision::Refused(LifecycleError::WrongStage {
                operation: "placing an order without an authorization",
                stage: StageKind::Open,
            })
        );
    }

    #[test]
    fn settling_an_order_creates_the_managed_order_and_a_second_settle_is_done() {
        let pending: AnyPayment =
            next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1))).into();
        let placed = PlacedOrder::new(OrderId::new("o-1").unwrap(), FraudStatus::Accepted, t(2));
        let settled = next(pending.settle_order(Attempt::Succeeded(placed.clone()), t(2)));
        assert_eq!(settled.payment.kind(), StageKind::Ordered);
        let order = settled.order.clone().unwrap();
        assert_eq!(order.order_amount(), 10_000);
        assert_eq!(
            settled
                .payment
                .clone()
                .settle_order(Attempt::Succeeded(placed), t(3)),
            Decision::Done(settled.payment)
        );
    }

    #[test]
    fn an_unknown_outcome_stays_pending_and_in_doubt() {
        let pending: AnyPayment =
            next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1))).into();
        let settled = next(pending.settle_order(Attempt::Unknown, t(2)));
        assert_eq!(settled.payment.kind(), StageKind::OrderPending);
        assert!(settled.payment.pending_op().unwrap().in_doubt());
        // A refusal after the in-doubt attempt is not definitive: it stays pending.
        let refused = next(settled.payment.settle_order(
            Attempt::Refused {
                reason: "REJECTED".to_owned(),
                reauthorize: false,
            },
            t(3),
        ));
        assert_eq!(refused.payment.kind(), StageKind::OrderPending);
    }

    #[test]
    fn a_refused_authorization_reopens_the_payment_while_the_session_lives() {
        let pending: AnyPayment =
            next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1))).into();
        let settled = next(pending.settle_order(
            Attempt::Refused {
                reason: "INVALID_OPERATION".to_owned(),
                reauthorize: true,
            },
            t(2),
        ));
        let AnyPayment::Open(reopened) = settled.payment else {
            panic!("the payment is open again");
        };
        // The refused operation counted: the next order gets a new key.
        assert_eq!(reopened.next_op_seq(), 1);
    }

    #[test]
    fn tokenize_settles_into_a_token_record() {
        let pending =
            next(open(Intent::Tokenize).decide_begin_tokenization(Some(token("a")), key, t(1)));
        assert_eq!(pending.kind(), StageKind::TokenPending);
        assert!(pending.pending_tokenization().is_some());
        let ct = CustomerTokenId::new("ct-1").unwrap();
        let settled = next(pending.settle_token(Attempt::Succeeded(ct.clone()), t(2)));
        assert_eq!(settled.payment.customer_token(), Some(&ct));
        assert_eq!(settled.token.unwrap().id(), &ct);
        assert_eq!(
            settled
                .payment
                .clone()
                .decide_begin_tokenization(None, key, t(3)),
            Decision::Done(settled.payment)
        );
    }

    #[test]
    fn a_recurring_purchase_needs_a_subscription_line_named_in_the_error() {
        let err = crate::Purchase::new(Intent::Tokenize, cart()).unwrap_err();
        assert_eq!(err.field().to_string(), "order_lines");
        assert_eq!(
            err.to_string(),
            "order_lines: intent `tokenize` needs at least one line with a subscription"
        );
        assert!(crate::Purchase::new(Intent::Buy, cart()).is_ok());
    }

    fn ordered(fraud_status: FraudStatus) -> AnyPayment {
        let pending: AnyPayment =
            next(open(Intent::Buy).decide_begin_order(Some(token("a")), key, t(1))).into();
        let placed = PlacedOrder::new(OrderId::new("o-1").unwrap(), fraud_status, t(2));
        next(pending.settle_order(Attempt::Succeeded(placed), t(2))).payment
    }

    #[test]
    fn a_stopped_accepted_order_refuses_captures_until_cancelled() {
        let accepted = ordered(FraudStatus::Accepted);
        assert_eq!(accepted.check_capture(), Ok(()));
        let stopped = next(
            accepted
                .clone()
                .decide_fraud_decision(Some(FraudStatus::Stopped), t(100)),
        );
        let AnyPayment::Stopped(s) = &stopped else {
            panic!("stopped, got {:?}", stopped.kind());
        };
        assert_eq!(s.stopped_at(), t(100));
        assert_eq!(s.reply_by(), t(100 + 24 * 3_600));
        assert_eq!(s.order().fraud_status(), FraudStatus::Stopped);
        assert_eq!(stopped.order_id().map(OrderId::as_str), Some("o-1"));
        assert_eq!(
            stopped.check_capture(),
            Err(LifecycleError::OrderStopped {
                order_id: OrderId::new("o-1").unwrap(),
                reply_by: t(100 + 24 * 3_600),
            })
        );
        assert!(
            stopped
                .check_capture()
                .unwrap_err()
                .to_string()
                .contains("stopped by Klarna: do not ship")
        );
        // A second stop is done; the merchant cancels through Order Management.
        assert_eq!(
            stopped
                .clone()
                .decide_fraud_decision(Some(FraudStatus::Stopped), t(101)),
            Decision::Done(stopped.clone())
        );
        assert_eq!(
            stopped.clone().decide_cancel(t(102)),
            Decision::Next(Cancellation::ViaOrder(OrderId::new("o-1").unwrap()))
        );
        let cancelled = next(stopped.decide_order_cancelled(t(103)));
        let AnyPayment::Cancelled(c) = &cancelled else {
            panic!("cancelled, got {:?}", cancelled.kind());
        };
        assert_eq!(c.order_id().map(OrderId::as_str), Some("o-1"));
        assert_eq!(c.reason(), crate::payment::CancelReason::Merchant);
    }

    #[test]
    fn only_an_explicit_accepted_read_lifts_a_stop() {
        let stopped = next(
            ordered(FraudStatus::Accepted).decide_fraud_decision(Some(FraudStatus::Stopped), t(5)),
        );
        for unclear in [
            None,
            Some(FraudStatus::Pending),
            Some(FraudStatus::Rejected),
            Some(FraudStatus::Stopped),
        ] {
            assert_eq!(
                stopped.clone().decide_fraud_decision(unclear, t(6)),
                Decision::Done(stopped.clone()),
                "{unclear:?}"
            );
        }
        let resumed = next(stopped.decide_fraud_decision(Some(FraudStatus::Accepted), t(7)));
        let AnyPayment::Ordered(o) = &resumed else {
            panic!("ordered, got {:?}", resumed.kind());
        };
        assert_eq!(o.order().fraud_status(), FraudStatus::Accepted);
        assert_eq!(resumed.check_capture(), Ok(()));
    }

    #[test]
    fn a_review_can_end_stopped_and_an_order_born_stopped_is_held() {
        let review = ordered(FraudStatus::Pending);
        assert_eq!(review.kind(), StageKind::FraudReview);
        let stopped = next(review.decide_fraud_decision(Some(FraudStatus::Stopped), t(9)));
        assert_eq!(stopped.kind(), StageKind::Stopped);
        assert!(stopped.check_capture().is_err());
        // Klarna documents no order born STOPPED: it is held like a review, never shipped.
        assert_eq!(ordered(FraudStatus::Stopped).kind(), StageKind::FraudReview);
        // The stored form keeps the stage.
        assert_eq!(stopped.snapshot().restore().unwrap(), stopped);
        assert_eq!(StageKind::parse("stopped"), Some(StageKind::Stopped));
        assert_eq!(FraudStatus::parse("STOPPED"), Some(FraudStatus::Stopped));
        assert_eq!(FraudStatus::Stopped.as_str(), "STOPPED");
    }

    #[test]
    fn review_and_cancel_dispositions() {
        let o = open(Intent::Buy);
        assert_eq!(
            o.clone().decide_review("x", t(1)),
            Decision::Done(o.clone())
        );
        let Decision::Next(Cancellation::Cancelled(c, None)) = o.decide_cancel(t(1)) else {
            panic!("an open payment cancels without a release");
        };
        assert_eq!(c.kind(), StageKind::Cancelled);
        assert_eq!(c.clone().decide_cancel(t(2)), Decision::Done(c));
    }
}
