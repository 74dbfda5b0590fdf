//! Fraud reviews whose notification never comes: the reconciler polls Klarna's order after an interval.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::Arc;

use klarna_domain::{
    Cart, Completed, FraudStatus, Intent, Market, OrderId, OrderLine, OrderStatus, PaymentId,
    Purchase, Span, StageKind, Timestamp,
};
use klarna_ports::fake::FakeKlarna;
use klarna_ports::{ManualClock, SequentialKeys};
use klarna_service::{FraudPollReport, PaymentService, ServiceConfig};
use klarna_store_memory::InMemoryStore;

type Svc = PaymentService<FakeKlarna, InMemoryStore, ManualClock, SequentialKeys>;

fn service() -> (Svc, Arc<FakeKlarna>, Arc<ManualClock>) {
    let fake = Arc::new(FakeKlarna::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )));
    let svc = PaymentService::new(
        Arc::clone(&fake),
        Arc::new(InMemoryStore::new()),
        Arc::clone(&clock),
        Arc::new(SequentialKeys::new("pay")),
        ServiceConfig::default(),
    );
    (svc, fake, clock)
}

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 1, 89_900)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

/// A one-time checkout whose order Klarna holds for fraud review (`PENDING`).
async fn in_fraud_review(svc: &Svc, fake: &FakeKlarna) -> (PaymentId, OrderId) {
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let token = fake.authorize(&c.session_id);
    fake.next_fraud_statuses([FraudStatus::Pending]);
    let done = svc.complete(&c.payment_id, token).await.unwrap();
    let Completed::Order(order) = done else {
        panic!("expected an order, got {done:?}");
    };
    assert_eq!(order.fraud_status(), FraudStatus::Pending);
    assert_eq!(stage(svc, &c.payment_id).await, StageKind::FraudReview);
    (c.payment_id, order.order_id().clone())
}

async fn stage(svc: &Svc, id: &PaymentId) -> StageKind {
    svc.payment(id).await.unwrap().kind()
}

/// Klarna accepts, the notification is lost: the reconciler's pass after the poll interval
/// reads the order and records the acceptance. (On the code before fraud polling the payment
/// stayed in fraud review for good.)
#[tokio::test]
async fn a_lost_acceptance_is_found_by_the_reconciler() {
    let (svc, fake, clock) = service();
    let (id, order) = in_fraud_review(&svc, &fake).await;
    clock.advance(Span::minutes(1));
    let early = svc.reconcile(100).await.unwrap();
    assert_eq!(early.fraud_resolved, 0, "too young to poll");
    fake.decide_fraud(&order, true); // ...and the notification never arrives.
    assert_eq!(stage(&svc, &id).await, StageKind::FraudReview);
    clock.advance(Span::minutes(16));
    let pass = svc.reconcile(100).await.unwrap();
    assert_eq!(pass.fraud_resolved, 1, "{pass:?}");
    let p = svc.payment(&id).await.unwrap();
    assert_eq!(p.kind(), StageKind::Ordered);
    assert_eq!(p.order_id(), Some(&order));
    assert_eq!(
        svc.reconcile_all().await.unwrap().fraud_resolved,
        0,
        "nothing left to poll"
    );
}

/// Klarna rejects, the notification is lost: the payment and the order end cancelled.
#[tokio::test]
async fn a_lost_rejection_is_found_by_the_reconciler() {
    let (svc, fake, clock) = service();
    let (id, order) = in_fraud_review(&svc, &fake).await;
    fake.decide_fraud(&order, false);
    clock.advance(Span::minutes(15));
    let total = svc.reconcile_all().await.unwrap();
    assert_eq!(total.fraud_resolved, 1, "{total:?}");
    assert_eq!(stage(&svc, &id).await, StageKind::Cancelled);
    assert_eq!(
        svc.order(&order).await.unwrap().status(),
        OrderStatus::Cancelled
    );
}

/// While Klarna's review goes on, a poll leaves the payment as it is and reads the order
/// again only after another interval.
#[tokio::test]
async fn an_undecided_review_stays_and_is_read_once_per_interval() {
    let (svc, fake, clock) = service();
    let (id, order) = in_fraud_review(&svc, &fake).await;
    assert_eq!(
        svc.poll_fraud_reviews(10).await.unwrap(),
        FraudPollReport {
            examined: 1,
            too_young: 1,
            ..FraudPollReport::default()
        },
        "placed just now: left to the notification"
    );
    clock.advance(Span::minutes(15));
    assert_eq!(
        svc.poll_fraud_reviews(10).await.unwrap(),
        FraudPollReport {
            examined: 1,
            still_pending: 1,
            ..FraudPollReport::default()
        },
        "Klarna still says PENDING"
    );
    assert_eq!(stage(&svc, &id).await, StageKind::FraudReview);
    clock.advance(Span::minutes(14));
    assert_eq!(
        svc.poll_fraud_reviews(10).await.unwrap(),
        FraudPollReport::default(),
        "not read again within the interval"
    );
    fake.decide_fraud(&order, true);
    clock.advance(Span::minutes(1));
    assert_eq!(
        svc.poll_fraud_reviews(10).await.unwrap(),
        FraudPollReport {
            examined: 1,
            resolved: 1,
            ..FraudPollReport::default()
        }
    );
    assert_eq!(stage(&svc, &id).await, StageKind::Ordered);
}

/// A limit smaller than the number of reviews still reaches every one: those just polled
/// wait out their interval while the others get their turn.
#[tokio::test]
async fn every_review_gets_its_turn_under_a_small_limit() {
    let (svc, fake, clock) = service();
    let mut reviews = Vec::new();
    for _ in 0..3 {
        reviews.push(in_fraud_review(&svc, &fake).await);
    }
    clock.advance(Span::minutes(15));
    let first = svc.poll_fraud_reviews(2).await.unwrap();
    assert_eq!((first.examined, first.still_pending), (2, 2));
    let second = svc.poll_fraud_reviews(2).await.unwrap();
    assert_eq!((second.examined, second.still_pending), (1, 1));
    assert_eq!(svc.poll_fraud_reviews(2).await.unwrap().examined, 0);
    for (_, order) in &reviews {
        fake.decide_fraud(order, true);
    }
    clock.advance(Span::minutes(15));
    assert_eq!(svc.reconcile_all().await.unwrap().fraud_resolved, 3);
    for (id, _) in &reviews {
        assert_eq!(stage(&svc, id).await, StageKind::Ordered);
    }
}

/// A notification that arrives while Klarna still reviews changes nothing (the order is
/// re-read, and it says PENDING); one after the decision resolves the payment, and the poll
/// then finds nothing to do.
#[tokio::test]
async fn notifications_and_polls_agree() {
    let (svc, fake, clock) = service();
    let (id, order) = in_fraud_review(&svc, &fake).await;
    let early = svc.handle_fraud_notification(&order).await.unwrap();
    assert_eq!(
        early.kind(),
        StageKind::FraudReview,
        "Klarna has not decided"
    );
    fake.decide_fraud(&order, true);
    assert_eq!(
        svc.handle_fraud_notification(&order).await.unwrap().kind(),
        StageKind::Ordered
    );
    clock.advance(Span::hours(1));
    assert_eq!(
        svc.poll_fraud_reviews(10).await.unwrap(),
        FraudPollReport::default()
    );
    assert_eq!(stage(&svc, &id).await, StageKind::Ordered);
}
