//! Operator use cases over the in-memory store and the scripted fake Klarna: payments reach
//! `NeedsReview` the honest way (an answer lost, then Klarna's 24 h key window elapses), are
//! found by stage, and are resolved with an order checked at Order Management, or without one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::error::Error as _;
use std::sync::Arc;

use klarna_domain::{
    Amount, Cart, Intent, Interval, LifecycleError, Market, OrderId, OrderLine, PaymentId,
    Purchase, Span, StageKind, Timestamp,
};
use klarna_ports::fake::{FakeKlarna, Fault};
use klarna_ports::{ManualClock, SequentialKeys};
use klarna_service::{PaymentService, ServiceConfig, ServiceError};
use klarna_store_memory::InMemoryStore;

type Svc = PaymentService<FakeKlarna, InMemoryStore, ManualClock, SequentialKeys>;

struct World {
    svc: Svc,
    fake: Arc<FakeKlarna>,
    clock: Arc<ManualClock>,
    store: Arc<InMemoryStore>,
}

fn world() -> World {
    let fake = Arc::new(FakeKlarna::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )));
    let store = Arc::new(InMemoryStore::new());
    let svc = PaymentService::new(
        Arc::clone(&fake),
        Arc::clone(&store),
        Arc::clone(&clock),
        Arc::new(SequentialKeys::new("pay")),
        ServiceConfig::default(),
    );
    World {
        svc,
        fake,
        clock,
        store,
    }
}

fn cart(price: i64) -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 1, price)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

fn subscription_cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Coffee box", 1, 20_000)
        .tax_rate(2_500)
        .subscription("Coffee", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

impl World {
    /// A payment whose completing call took effect at Klarna but lost its answer.
    async fn lost_answer(&self, intent: Intent, cart: Cart) -> PaymentId {
        let c = self
            .svc
            .start_checkout(Purchase::new(intent, cart).unwrap())
            .await
            .unwrap();
        let token = self.fake.authorize(&c.session_id);
        self.fake.script([Fault::LostResponse]);
        let e = self.svc.complete(&c.payment_id, token).await.unwrap_err();
        assert!(
            matches!(e, ServiceError::OutcomeUnknown { .. }),
            "setup: {e}"
        );
        c.payment_id
    }

    /// Lets Klarna's 24 h key window pass and reconciles: the payments in doubt go to review.
    async fn to_review(&self, expected: usize) {
        self.clock.advance(Span::hours(25));
        let report = self.svc.reconcile(100).await.unwrap();
        assert_eq!(report.needs_review, expected, "setup: {report:?}");
    }

    /// Klarna's order for our payment `id` (merchant_reference1).
    fn order_of(&self, id: &PaymentId) -> OrderId {
        self.fake
            .orders()
            .into_iter()
            .find(|o| o.merchant_reference1 == id.as_str())
            .expect("Klarna holds the order")
            .order_id
    }

    async fn stage(&self, id: &PaymentId) -> StageKind {
        self.svc.payment(id).await.unwrap().kind()
    }
}

fn mismatch_field(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::OrderMismatch { mismatch, .. } => mismatch.field,
        other => panic!("expected OrderMismatch, got {other}"),
    }
}

#[tokio::test]
async fn an_old_review_is_found_under_any_number_of_newer_payments() {
    let w = world();
    let id = w.lost_answer(Intent::Buy, cart(10_000)).await;
    w.to_review(1).await;
    for _ in 0..3 {
        w.svc
            .start_checkout(Purchase::new(Intent::Buy, cart(5_000)).unwrap())
            .await
            .unwrap();
    }
    let ids = |v: Vec<klarna_domain::AnyPayment>| -> Vec<PaymentId> {
        v.into_iter().map(|p| p.id().clone()).collect()
    };
    // Fails on the old `payments_in_review`, which filtered the newest `limit` payments.
    assert_eq!(
        ids(w.svc.payments_in_review(1).await.unwrap()),
        vec![id.clone()]
    );
    assert_eq!(
        ids(w
            .svc
            .payments_in_stage(StageKind::NeedsReview, 10)
            .await
            .unwrap()),
        vec![id]
    );
    assert_eq!(
        w.svc
            .payments_in_stage(StageKind::Open, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn resolving_with_the_right_order_orders_the_payment_and_its_order_can_be_captured() {
    let w = world();
    let id = w.lost_answer(Intent::Buy, cart(10_000)).await;
    w.to_review(1).await;
    let order = w.order_of(&id);

    let resolved = w.svc.resolve_with_order(&id, &order).await.unwrap();
    assert_eq!(resolved.kind(), StageKind::Ordered);
    assert_eq!(resolved.order_id(), Some(&order));
    assert!(w.svc.payments_in_review(10).await.unwrap().is_empty());
    let managed = w.svc.order(&order).await.unwrap();
    assert_eq!(
        (managed.payment_id(), managed.order_amount()),
        (&id, 10_000)
    );
    // The order is managed like any other from now on.
    let captured = w.svc.capture(&order, Amount::new(10_000).unwrap()).await;
    assert_eq!(captured.unwrap().order.captured(), 10_000);

    // A repeat answers the payment as it is (one write, one read of the order each time).
    let again = w.svc.resolve_with_order(&id, &order).await.unwrap();
    assert_eq!(again.order_id(), Some(&order));
    let e = w.svc.resolve_no_order(&id, "oops").await.unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::WrongStage {
                stage: StageKind::Ordered,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn an_order_of_another_payment_or_an_unknown_order_is_refused_and_nothing_is_written() {
    let w = world();
    let id = w.lost_answer(Intent::Buy, cart(10_000)).await;
    // Another shopper's order, same amount.
    let other = w.lost_answer(Intent::Buy, cart(10_000)).await;
    w.to_review(2).await;
    let before = w.store.orders().len();
    let versions = w.svc.payment(&id).await.unwrap();

    let e = w
        .svc
        .resolve_with_order(&id, &w.order_of(&other))
        .await
        .unwrap_err();
    assert_eq!(mismatch_field(&e), "merchant_reference1");
    let cause = e.source().unwrap().to_string();
    assert!(
        cause.contains(&format!("`{other}`")) && cause.contains(&format!("`{id}`")),
        "the cause names both references: {cause}"
    );

    let e = w
        .svc
        .resolve_with_order(&id, &OrderId::new("no-such-order").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Refused(_)), "{e}");

    let e = w
        .svc
        .resolve_with_order(&PaymentId::new("pay-unknown").unwrap(), &w.order_of(&id))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::NotFound(_)), "{e}");

    assert_eq!(w.svc.payment(&id).await.unwrap(), versions, "unchanged");
    assert_eq!(w.store.orders().len(), before, "no managed order created");
    assert_eq!(w.stage(&id).await, StageKind::NeedsReview);
}

#[tokio::test]
async fn resolving_without_an_order_cancels_once_and_then_refuses_an_order() {
    let w = world();
    let id = w.lost_answer(Intent::Buy, cart(10_000)).await;
    w.to_review(1).await;
    let done = w
        .svc
        .resolve_no_order(&id, "no order at Klarna for merchant_reference1")
        .await
        .unwrap();
    assert_eq!(done.kind(), StageKind::Cancelled);
    assert_eq!(done.order_id(), None);
    assert_eq!(
        w.svc.resolve_no_order(&id, "again").await.unwrap(),
        done,
        "a repeat is answered unchanged"
    );
    let e = w
        .svc
        .resolve_with_order(&id, &w.order_of(&id))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::WrongStage {
                stage: StageKind::Cancelled,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_review_of_a_token_step_cannot_take_an_order_but_ends_without_one() {
    let w = world();
    let buy = w.lost_answer(Intent::Buy, cart(20_000)).await;
    let id = w.lost_answer(Intent::Tokenize, subscription_cart()).await;
    w.to_review(2).await;
    let e = w
        .svc
        .resolve_with_order(&id, &w.order_of(&buy))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Lifecycle(LifecycleError::IntentForbids {
                intent: "tokenize",
                ..
            })
        ),
        "{e}"
    );
    assert_eq!(w.stage(&id).await, StageKind::NeedsReview);
    let done = w.svc.resolve_no_order(&id, "no token").await.unwrap();
    assert_eq!(done.kind(), StageKind::Cancelled);
    assert!(done.customer_token().is_none());
}

#[tokio::test]
async fn a_wrong_stage_is_refused_by_name() {
    let w = world();
    let c = w
        .svc
        .start_checkout(Purchase::new(Intent::Buy, cart(10_000)).unwrap())
        .await
        .unwrap();
    let e = w
        .svc
        .resolve_no_order(&c.payment_id, "x")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "resolving a review without an order is not possible: payment {} is open",
            c.payment_id
        )
    );
}
