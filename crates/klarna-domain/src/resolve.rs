//! Operator resolutions: a human settles a payment in `NeedsReview` that evidence could not decide.
//!
//! A payment reaches `NeedsReview` when an in-doubt operation cannot be resolved by the
//! machine (for example Klarna's session says `complete` but the order id never reached us).
//! An operator looks at Klarna (the Merchant Portal, by `merchant_reference1` = our payment id)
//! and tells the service what happened. These are the pure decisions for that, in the style
//! of [`crate::decision`]:
//!
//! - [`AnyPayment::decide_resolve_with_order`]: the operator found the order. It is checked
//!   against what Klarna's Order Management reports ([`OrderEvidence`]): the order must carry
//!   our payment id as `merchant_reference1`, authorize exactly the payment's cart total, and be
//!   untouched (`AUTHORIZED`, nothing captured or refunded), or it is refused with a
//!   [`ResolveMismatch`] naming the field. The payment becomes `Ordered` (or `FraudReview` while
//!   Klarna's fraud decision is pending or unreported: do not ship yet) and a [`ManagedOrder`]
//!   is created with it, as when a create-order call settles.
//! - [`AnyPayment::decide_resolve_no_order`]: the operator made sure no order exists. The
//!   payment ends `Cancelled` (by the merchant, no order).
//!
//! Both are idempotent: repeating a resolution that is already recorded is [`Decision::Done`];
//! any other stage is refused naming it ([`LifecycleError::WrongStage`]).

use crate::decision::{Decision, Settled};
use crate::ids::OrderId;
use crate::order::{ManagedOrder, OrderStatus};
use crate::payment::{
    AnyPayment, CancelReason, Cancelled, FraudReview, FraudStatus, Intent, LifecycleError, Ordered,
    Payment, PlacedOrder, Stage, Tokenization,
};
use crate::time::{Timestamp, lifetimes};

/// What Klarna's Order Management reports about the order an operator names: the evidence a
/// resolution with an order is checked against (the service reads it with O1 first).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderEvidence {
    /// Klarna's order id.
    pub order_id: OrderId,
    /// The order's `merchant_reference1` (our payment id, when we created the order).
    pub merchant_reference1: Option<String>,
    /// The authorized total, in minor units.
    pub order_amount: i64,
    /// The order's status.
    pub status: OrderStatus,
    /// Klarna's fraud decision, when reported.
    pub fraud_status: Option<FraudStatus>,
    /// Σ captures, in minor units.
    pub captured_amount: i64,
    /// Σ refunds, in minor units.
    pub refunded_amount: i64,
    /// The capture deadline, when reported.
    pub expires_at: Option<Timestamp>,
}

/// Klarna's order does not fit the payment in review: the resolution is refused and nothing
/// is written. `field` names what differs.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: Klarna's order {order_id} has {klarna}, the payment needs {ours}")]
pub struct ResolveMismatch {
    /// The order the operator named.
    pub order_id: OrderId,
    /// The field that differs (`merchant_reference1`, `order_amount`, `status`,
    /// `captured_amount`, `refunded_amount`).
    pub field: &'static str,
    /// What the payment needs.
    pub ours: String,
    /// What Klarna reports.
    pub klarna: String,
}

/// A payment in a new stage, keeping everything the payment holds in common.
fn moved<S: Stage, T: Stage>(p: Payment<S>, stage: T) -> Payment<T> {
    Payment::from_parts(
        p.id().clone(),
        p.intent(),
        p.cart().clone(),
        p.created_at(),
        p.next_op_seq(),
        stage,
    )
}

impl OrderEvidence {
    /// The first way this order does not fit `p`, if any.
    fn mismatch<S: Stage>(&self, p: &Payment<S>) -> Option<ResolveMismatch> {
        let differs = |field, ours: String, klarna: String| {
            Some(ResolveMismatch {
                order_id: self.order_id.clone(),
                field,
                ours,
                klarna,
            })
        };
        // The shop's order number when it gave one, else our payment id.
        let reference = self.merchant_reference1.as_deref();
        if reference != Some(p.merchant_reference1()) {
            return differs(
                "merchant_reference1",
                format!("`{}`", p.merchant_reference1()),
                reference.map_or_else(|| "none".to_owned(), |r| format!("`{r}`")),
            );
        }
        let total = p.cart().total().minor();
        if self.order_amount != total {
            return differs(
                "order_amount",
                total.to_string(),
                self.order_amount.to_string(),
            );
        }
        if self.status != OrderStatus::Authorized {
            return differs(
                "status",
                OrderStatus::Authorized.as_str().to_owned(),
                self.status.as_str().to_owned(),
            );
        }
        if self.captured_amount != 0 {
            return differs(
                "captured_amount",
                "0".to_owned(),
                self.captured_amount.to_string(),
            );
        }
        if self.refunded_amount != 0 {
            return differs(
                "refunded_amount",
                "0".to_owned(),
                self.refunded_amount.to_string(),
            );
        }
        None
    }
}

impl AnyPayment {
    /// The operator found the order of a payment in review (`--order ORDER_ID`), and
    /// `evidence` is what Order Management reports about it.
    ///
    /// - The order must carry the payment's `merchant_reference1` (the shop's order number
    ///   when given, else the payment id) (it is then this
    ///   payment's order and no other's), authorize exactly the cart's total (the shopper is
    ///   charged what the payment says), and be `AUTHORIZED` with nothing captured or refunded
    ///   (the new [`ManagedOrder`]'s ledger starts at zero, so it must agree with Klarna's).
    ///   Otherwise `Err` names the first field that differs.
    /// - The payment becomes `Ordered` with Klarna's fraud decision (`ACCEPTED`, or `REJECTED`,
    ///   which must not be fulfilled, as when an order is recorded), or `FraudReview` when the
    ///   decision is `PENDING` or not reported (pessimistic: do not ship until Klarna decides).
    ///   The managed order is created with it; its capture deadline is Klarna's when reported,
    ///   else the earliest it can be (28 days from the payment's creation).
    /// - `buy_and_tokenize`: the review dropped the shopper's authorization, so no customer
    ///   token can be made from it any more; the token step is recorded as refused (the order
    ///   stands).
    /// - Intent `tokenize` has no order: refused ([`LifecycleError::IntentForbids`]); such a
    ///   review came from the customer-token step and can only be resolved with
    ///   [`Self::decide_resolve_no_order`].
    /// - A payment already holding this order is done; any other stage is refused naming it.
    ///
    /// # Errors
    /// [`ResolveMismatch`] when Klarna's order does not fit the payment (checked only for a
    /// payment in review).
    pub fn decide_resolve_with_order(
        self,
        evidence: &OrderEvidence,
        now: Timestamp,
    ) -> Result<Decision<Settled>, ResolveMismatch> {
        const OPERATION: &str = "resolving a review with an order";
        let p = match self {
            Self::NeedsReview(p) => p,
            done @ (Self::Ordered(_) | Self::FraudReview(_) | Self::Stopped(_))
                if done.order_id() == Some(&evidence.order_id) =>
            {
                return Ok(Decision::Done(done));
            }
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)) => {
                return Ok(Decision::Refused(LifecycleError::WrongStage {
                    operation: OPERATION,
                    stage: other.kind(),
                }));
            }
        };
        let tokenization = match p.intent() {
            Intent::Buy => Tokenization::NotRequested,
            // The token is made first: kept when the review holds it (a payment stored before
            // tokens came first has none, and its authorization is gone).
            Intent::BuyAndTokenize => match p.customer_token() {
                Some(t) => Tokenization::Done(t.clone()),
                None => Tokenization::Refused(
                    "NEEDS_REVIEW: resolved by an operator; the authorization is gone, no customer token"
                        .to_owned(),
                ),
            },
            Intent::Tokenize => {
                return Ok(Decision::Refused(LifecycleError::IntentForbids {
                    intent: Intent::Tokenize.as_str(),
                    operation: OPERATION,
                }));
            }
        };
        ordered_by_evidence(p, evidence, tokenization, now)
    }

    /// The operator made sure that no order exists for a payment in review (`--no-order`):
    /// the payment ends `Cancelled` by the merchant, without an order.
    ///
    /// `Cancelled` rather than `Refused`: `Refused` records that *Klarna* refused on an
    /// unambiguous attempt, which nobody observed here; the merchant's operator ended the
    /// payment, which is what `Cancelled` with [`CancelReason::Merchant`] says. (The stage
    /// holds no text: the service logs the operator's reason.) Nothing is sent to Klarna.
    ///
    /// For intent `tokenize` the review came from the customer-token step: resolving it
    /// without an order means the payment has no customer token, and none is ever charged
    /// (a token Klarna may have created is unknown to the store; cancel it at Klarna if the
    /// operator finds one). A payment already cancelled without an order is done; any other
    /// stage is refused naming it.
    pub fn decide_resolve_no_order(self, now: Timestamp) -> Decision<AnyPayment> {
        match self {
            Self::NeedsReview(p) => Decision::Next(
                moved(
                    p,
                    Cancelled {
                        reason: CancelReason::Merchant,
                        order_id: None,
                        at: now,
                    },
                )
                .into(),
            ),
            Self::Cancelled(p) if p.order_id().is_none() => Decision::Done(p.into()),
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)) => Decision::Refused(LifecycleError::WrongStage {
                operation: "resolving a review without an order",
                stage: other.kind(),
            }),
        }
    }
}

impl AnyPayment {
    /// Klarna placed the order of an open (or authorized) one-time payment itself, through
    /// its payment link (`PLACE_ORDER`), and `evidence` is what Order Management reports about
    /// the order the link names. Checked as a review's resolution is (the payment's
    /// `merchant_reference1`, the cart's total, untouched), then recorded the same way: the
    /// payment becomes `Ordered` (`FraudReview` while Klarna's decision is pending or
    /// unreported, `Stopped` if Klarna stopped it) with its managed order. The service never
    /// places an order for such a payment, so none is placed twice.
    ///
    /// A payment already holding this order is done; a recurring intent, or any stage other
    /// than open or authorized, is refused naming it.
    ///
    /// # Errors
    /// [`ResolveMismatch`] when Klarna's order does not fit the payment.
    pub fn decide_ordered_by_link(
        self,
        evidence: &OrderEvidence,
        now: Timestamp,
    ) -> Result<Decision<Settled>, ResolveMismatch> {
        const OPERATION: &str = "recording the order a payment link placed";
        if !matches!(self.intent(), Intent::Buy) {
            return Ok(Decision::Refused(LifecycleError::IntentForbids {
                intent: self.intent().as_str(),
                operation: OPERATION,
            }));
        }
        match self {
            Self::Open(p) => ordered_by_evidence(p, evidence, Tokenization::NotRequested, now),
            Self::Authorized(p) => {
                ordered_by_evidence(p, evidence, Tokenization::NotRequested, now)
            }
            done @ (Self::Ordered(_) | Self::FraudReview(_) | Self::Stopped(_))
                if done.order_id() == Some(&evidence.order_id) =>
            {
                Ok(Decision::Done(done))
            }
            other @ (Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Ok(Decision::Refused(LifecycleError::WrongStage {
                operation: OPERATION,
                stage: other.kind(),
            })),
        }
    }
}

/// The payment with the order `evidence` reports, checked against it first: `Ordered` with
/// Klarna's fraud decision (`FraudReview` while it is pending or unreported: do not ship yet;
/// `Stopped` when Klarna stopped it), and its managed order, as when a create-order call
/// settles. A review's resolution and a payment link's order are recorded through it.
fn ordered_by_evidence<S: Stage>(
    p: Payment<S>,
    evidence: &OrderEvidence,
    tokenization: Tokenization,
    now: Timestamp,
) -> Result<Decision<Settled>, ResolveMismatch> {
    if let Some(m) = evidence.mismatch(&p) {
        return Err(m);
    }
    let managed = managed_order(&p, evidence, now);
    let fraud_status = match evidence.fraud_status {
        Some(f @ (FraudStatus::Accepted | FraudStatus::Rejected | FraudStatus::Stopped)) => f,
        Some(FraudStatus::Pending) | None => FraudStatus::Pending,
    };
    let order = PlacedOrder::new(evidence.order_id.clone(), fraud_status, now);
    let payment: AnyPayment = match fraud_status {
        FraudStatus::Pending => moved(
            p,
            FraudReview {
                order,
                tokenization,
            },
        )
        .into(),
        FraudStatus::Accepted | FraudStatus::Rejected => moved(
            p,
            Ordered {
                order,
                tokenization,
            },
        )
        .into(),
        // Klarna stopped the order: nothing ships.
        FraudStatus::Stopped => moved(
            p,
            crate::payment::Stopped {
                order,
                tokenization,
                stopped_at: now,
            },
        )
        .into(),
    };
    Ok(Decision::Next(Settled {
        payment,
        order: Some(managed),
        token: None,
    }))
}

/// The managed order of a resolved payment: the cart's total, nothing captured, and Klarna's
/// capture deadline (or the earliest it can be).
fn managed_order<S: Stage>(
    p: &Payment<S>,
    evidence: &OrderEvidence,
    now: Timestamp,
) -> ManagedOrder {
    let fresh = ManagedOrder::new(
        evidence.order_id.clone(),
        p.id().clone(),
        p.cart().total(),
        now,
    );
    let mut parts = fresh.parts();
    parts.expires_at = evidence
        .expires_at
        .unwrap_or_else(|| p.created_at().plus(lifetimes::ORDER_AUTHORIZATION));
    ManagedOrder::restore(parts).unwrap_or(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AuthorizationToken, ClientToken, IdempotencyKey, PaymentId, SessionId};
    use crate::payment::{Session, StageKind};
    use crate::{Cart, Market, OrderLine};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(s * 1_000)
    }

    fn cart(intent: Intent) -> Cart {
        let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
        let mut line = OrderLine::builder("Shoe", 1, 10_000).tax_rate(2_500);
        if intent != Intent::Buy {
            line = line.subscription("Club", crate::Interval::Month, 1);
        }
        Cart::new(market, vec![line.build().unwrap()]).unwrap()
    }

    fn in_review(intent: Intent) -> AnyPayment {
        let session = Session::new(
            SessionId::new("s-1").unwrap(),
            ClientToken::new("ct").unwrap(),
            t(1_000_000),
        );
        let authorized = Payment::open(
            PaymentId::new("pay-1").unwrap(),
            intent,
            cart(intent),
            session,
            t(0),
        )
        .authorize(AuthorizationToken::new("auth").unwrap(), t(1))
        .unwrap();
        let key = IdempotencyKey::new("k-1").unwrap();
        if intent == Intent::Tokenize {
            authorized
                .begin_tokenization(key, t(2))
                .unwrap()
                .attempted(true)
                .needs_review("token step in doubt", t(3))
                .into()
        } else if intent == Intent::BuyAndTokenize {
            // buy_and_tokenize makes its customer token first, then the order.
            authorized
                .begin_tokenization(IdempotencyKey::new("k-0").unwrap(), t(2))
                .unwrap()
                .record_token_before_order(crate::CustomerTokenId::new("ct-1").unwrap())
                .begin_order(key, t(2))
                .unwrap()
                .attempted(true)
                .needs_review("session complete, order id unknown", t(3))
                .into()
        } else {
            authorized
                .begin_order(key, t(2))
                .unwrap()
                .attempted(true)
                .needs_review("session complete, order id unknown", t(3))
                .into()
        }
    }

    fn evidence() -> OrderEvidence {
        OrderEvidence {
            order_id: OrderId::new("o-1").unwrap(),
            merchant_reference1: Some("pay-1".to_owned()),
            order_amount: 10_000,
            status: OrderStatus::Authorized,
            fraud_status: Some(FraudStatus::Accepted),
            captured_amount: 0,
            refunded_amount: 0,
            expires_at: None,
        }
    }

    fn settled(d: Result<Decision<Settled>, ResolveMismatch>) -> Settled {
        match d {
            Ok(Decision::Next(s)) => s,
            other => panic!("expected Next, got {other:?}"),
        }
    }

    #[test]
    fn a_matching_order_orders_the_payment_with_its_managed_order_and_a_repeat_is_done() {
        let s = settled(in_review(Intent::Buy).decide_resolve_with_order(&evidence(), t(10)));
        assert_eq!(s.payment.kind(), StageKind::Ordered);
        assert_eq!(s.payment.order_id(), Some(&evidence().order_id));
        let AnyPayment::Ordered(o) = &s.payment else {
            panic!("ordered")
        };
        assert_eq!(o.next_op_seq(), 1, "the operation counter is kept");
        assert_eq!(o.tokenization(), &Tokenization::NotRequested);
        let managed = s.order.clone().unwrap();
        assert_eq!(managed.order_amount(), 10_000);
        assert_eq!(managed.payment_id().as_str(), "pay-1");
        assert_eq!(managed.captured(), 0);
        assert_eq!(
            managed.expires_at(),
            t(0).plus(lifetimes::ORDER_AUTHORIZATION),
            "without Klarna's deadline, the earliest it can be"
        );
        assert!(s.token.is_none());
        assert_eq!(
            s.payment
                .clone()
                .decide_resolve_with_order(&evidence(), t(11)),
            Ok(Decision::Done(s.payment.clone()))
        );
        // Another order for the ordered payment is refused, naming the stage.
        let other = OrderEvidence {
            order_id: OrderId::new("o-2").unwrap(),
            ..evidence()
        };
        assert_eq!(
            s.payment.decide_resolve_with_order(&other, t(12)),
            Ok(Decision::Refused(LifecycleError::WrongStage {
                operation: "resolving a review with an order",
                stage: StageKind::Ordered,
            }))
        );
    }

    #[test]
    fn a_pending_or_unreported_fraud_decision_goes_to_fraud_review_and_klarnas_deadline_is_kept() {
        for fraud_status in [Some(FraudStatus::Pending), None] {
            let e = OrderEvidence {
                fraud_status,
                expires_at: Some(t(5_000)),
                ..evidence()
            };
            let s = settled(in_review(Intent::Buy).decide_resolve_with_order(&e, t(10)));
            assert_eq!(s.payment.kind(), StageKind::FraudReview, "{fraud_status:?}");
            assert_eq!(s.order.unwrap().expires_at(), t(5_000));
        }
    }

    /// The crash suite found it: `buy_and_tokenize` makes its customer token first, so a
    /// review of its order holds the token, and the resolution keeps it (renewals charge it).
    #[test]
    fn buy_and_tokenize_keeps_the_order_and_the_customer_token_made_before_it() {
        let review = in_review(Intent::BuyAndTokenize);
        let back = review.snapshot().restore().unwrap();
        assert_eq!(back, review, "the review's token survives the store");
        let s = settled(review.decide_resolve_with_order(&evidence(), t(10)));
        let AnyPayment::Ordered(o) = &s.payment else {
            panic!("ordered")
        };
        assert!(matches!(o.tokenization(), Tokenization::Done(t) if t.expose_secret() == "ct-1"));
        assert!(s.payment.pending_op().is_none());
    }

    #[test]
    fn every_mismatch_is_refused_naming_the_field() {
        let cases = [
            (
                OrderEvidence {
                    merchant_reference1: Some("pay-2".to_owned()),
                    ..evidence()
                },
                "merchant_reference1",
            ),
            (
                OrderEvidence {
                    merchant_reference1: None,
                    ..evidence()
                },
                "merchant_reference1",
            ),
            (
                OrderEvidence {
                    order_amount: 9_999,
                    ..evidence()
                },
                "order_amount",
            ),
            (
                OrderEvidence {
                    status: OrderStatus::Cancelled,
                    ..evidence()
                },
                "status",
            ),
            (
                OrderEvidence {
                    captured_amount: 1,
                    ..evidence()
                },
                "captured_amount",
            ),
            (
                OrderEvidence {
                    refunded_amount: 1,
                    ..evidence()
                },
                "refunded_amount",
            ),
        ];
        for (e, field) in cases {
            let err = in_review(Intent::Buy)
                .decide_resolve_with_order(&e, t(10))
                .unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.to_string().starts_with(field), "{err}");
        }
        let err = in_review(Intent::Buy)
            .decide_resolve_with_order(
                &OrderEvidence {
                    merchant_reference1: Some("pay-2".to_owned()),
                    ..evidence()
                },
                t(10),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "merchant_reference1: Klarna's order o-1 has `pay-2`, the payment needs `pay-1`"
        );
    }

    #[test]
    fn a_token_review_cannot_take_an_order_but_ends_without_one() {
        let review = in_review(Intent::Tokenize);
        assert_eq!(
            review.clone().decide_resolve_with_order(&evidence(), t(10)),
            Ok(Decision::Refused(LifecycleError::IntentForbids {
                intent: "tokenize",
                operation: "resolving a review with an order",
            }))
        );
        let Decision::Next(done) = review.decide_resolve_no_order(t(10)) else {
            panic!("resolved")
        };
        assert_eq!(done.kind(), StageKind::Cancelled);
        assert!(done.customer_token().is_none());
    }

    #[test]
    fn no_order_cancels_once_and_other_stages_are_refused_by_name() {
        let Decision::Next(c) = in_review(Intent::Buy).decide_resolve_no_order(t(10)) else {
            panic!("resolved")
        };
        let AnyPayment::Cancelled(p) = &c else {
            panic!("cancelled")
        };
        assert_eq!(p.reason(), CancelReason::Merchant);
        assert!(p.order_id().is_none());
        assert_eq!(c.clone().decide_resolve_no_order(t(11)), Decision::Done(c));
        let ordered =
            settled(in_review(Intent::Buy).decide_resolve_with_order(&evidence(), t(10))).payment;
        assert_eq!(
            ordered.decide_resolve_no_order(t(11)),
            Decision::Refused(LifecycleError::WrongStage {
                operation: "resolving a review without an order",
                stage: StageKind::Ordered,
            })
        );
        let AnyPayment::NeedsReview(r) = in_review(Intent::Buy) else {
            panic!("in review")
        };
        let open: AnyPayment = moved(
            r,
            crate::payment::Open {
                session: Session::new(
                    SessionId::new("s-1").unwrap(),
                    ClientToken::new("ct").unwrap(),
                    t(1_000_000),
                ),
            },
        )
        .into();
        assert_eq!(
            open.decide_resolve_with_order(&evidence(), t(11)),
            Ok(Decision::Refused(LifecycleError::WrongStage {
                operation: "resolving a review with an order",
                stage: StageKind::Open,
            }))
        );
    }

    fn open(intent: Intent) -> AnyPayment {
        let session = Session::new(
            SessionId::new("s-1").unwrap(),
            ClientToken::new("ct").unwrap(),
            t(1_000_000),
        )
        .with_hosted_page(crate::HostedPageId::new("hpp-1").unwrap());
        Payment::open(
            PaymentId::new("pay-1").unwrap(),
            intent,
            cart(intent),
            session,
            t(0),
        )
        .into()
    }

    #[test]
    fn an_order_a_link_placed_is_recorded_once_and_checked() {
        let s = settled(open(Intent::Buy).decide_ordered_by_link(&evidence(), t(10)));
        assert_eq!(s.payment.kind(), StageKind::Ordered);
        assert_eq!(s.payment.order_id(), Some(&evidence().order_id));
        let managed = s.order.expect("its managed order");
        assert_eq!(managed.order_amount(), 10_000);
        // The repeat (the success page and the status callback both report it) is done.
        assert!(matches!(
            s.payment.clone().decide_ordered_by_link(&evidence(), t(11)),
            Ok(Decision::Done(_))
        ));
        // Pending fraud decision: do not ship yet.
        let pending = OrderEvidence {
            fraud_status: Some(FraudStatus::Pending),
            ..evidence()
        };
        let s = settled(open(Intent::Buy).decide_ordered_by_link(&pending, t(10)));
        assert_eq!(s.payment.kind(), StageKind::FraudReview);
        // Another payment's order, or another amount, is refused naming the field.
        let other = OrderEvidence {
            merchant_reference1: Some("pay-2".to_owned()),
            ..evidence()
        };
        let m = open(Intent::Buy)
            .decide_ordered_by_link(&other, t(10))
            .unwrap_err();
        assert_eq!(m.field, "merchant_reference1");
        let more = OrderEvidence {
            order_amount: 20_000,
            ..evidence()
        };
        let m = open(Intent::Buy)
            .decide_ordered_by_link(&more, t(10))
            .unwrap_err();
        assert_eq!(m.field, "order_amount");
        // Recurring intents make their token from the authorization: never by a link's order.
        assert!(matches!(
            open(Intent::Tokenize).decide_ordered_by_link(&evidence(), t(10)),
            Ok(Decision::Refused(LifecycleError::IntentForbids { .. }))
        ));
        // A payment in review is the operator's to resolve.
        assert!(matches!(
            in_review(Intent::Buy).decide_ordered_by_link(&evidence(), t(10)),
            Ok(Decision::Refused(LifecycleError::WrongStage { .. }))
        ));
    }

    #[test]
    fn a_link_survives_the_store_and_follows_the_authorization() {
        let p = open(Intent::Buy);
        assert_eq!(p.hosted_page().map(|h| h.as_str()), Some("hpp-1"));
        let back = p.snapshot().restore().unwrap();
        assert_eq!(back, p);
        let AnyPayment::Open(o) = p else {
            panic!("open")
        };
        let authorized: AnyPayment = o
            .authorize(AuthorizationToken::new("auth").unwrap(), t(1))
            .unwrap()
            .into();
        assert_eq!(authorized.hosted_page().map(|h| h.as_str()), Some("hpp-1"));
    }
}
