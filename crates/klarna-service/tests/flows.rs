//! End-to-end use cases of the service over the in-memory store and the scripted fake Klarna.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::Arc;

use klarna_domain::{
    AnyPayment, Cart, FraudStatus, Intent, Interval, Market, OrderLine, OrderStatus, PaymentId,
    Span, StageKind, Timestamp, Tokenization,
};
use klarna_ports::fake::{FakeKlarna, Fault};
use klarna_ports::{ManualClock, SequentialKeys};
use klarna_service::{ChargeRequest, PaymentService, ServiceConfig, ServiceError, StartCheckout};
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
    Cart::new(
        m,
        vec![
            OrderLine::builder("Shoe", 2, 89_900)
                .tax_rate(2_500)
                .discount(10_000)
                .build()
                .unwrap(),
            OrderLine::builder("Delivery", 1, 4_900)
                .tax_rate(2_500)
                .build()
                .unwrap(),
        ],
    )
    .unwrap()
}

fn subscription_cart(price: i64) -> Cart {
    let m = Market::parse("US", "USD", "en-US").unwrap();
    let line = OrderLine::builder("Coffee box", 1, price)
        .subscription("Coffee", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

async fn checkout(
    svc: &Svc,
    fake: &FakeKlarna,
    intent: Intent,
    cart: Cart,
) -> (PaymentId, klarna_domain::AuthorizationToken) {
    let c = svc
        .start_checkout(StartCheckout { intent, cart })
        .await
        .unwrap();
    let token = fake.authorize(&c.session_id);
    (c.payment_id, token)
}

fn order_id(p: &AnyPayment) -> klarna_domain::OrderId {
    p.order_id().cloned().expect("payment has an order")
}

#[tokio::test]
async fn one_time_purchase_capture_and_refund() {
    let (svc, fake, _) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    let placed = svc.place_order(&id, Some(token)).await.unwrap();
    assert_eq!(placed.kind(), StageKind::Ordered);
    let order = order_id(&placed);
    assert_eq!(
        fake.orders()[0].merchant_reference1,
        id.to_string(),
        "merchant_reference1 carries our payment id"
    );

    // Placing again returns the stored order without calling Klarna.
    let calls = fake.calls().len();
    let again = svc.place_order(&id, None).await.unwrap();
    assert_eq!(order_id(&again), order);
    assert_eq!(fake.calls().len(), calls, "no call for an ordered payment");

    let o = svc.capture(&order, 100_000).await.unwrap();
    assert_eq!(
        (o.status(), o.captured()),
        (OrderStatus::PartCaptured, 100_000)
    );
    let o = svc.refund(&order, 40_000).await.unwrap();
    assert_eq!(o.refunded(), 40_000);
    let calls = fake.calls().len();
    let over = svc.capture(&order, 74_701).await.unwrap_err();
    assert!(
        matches!(over, ServiceError::Ledger(_)),
        "over-capture refused locally: {over}"
    );
    assert_eq!(
        fake.calls().len(),
        calls,
        "the ledger refuses before any call"
    );
    let o = svc.capture(&order, 74_700).await.unwrap();
    assert_eq!(o.status(), OrderStatus::Captured);
    assert_eq!(fake.orders()[0].captured, 174_700);
}

#[tokio::test]
async fn recurring_tokenize_then_charge_twice_and_never_double_charge() {
    let (svc, fake, _) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Tokenize, subscription_cart(2_499)).await;
    let p = svc.complete(&id, Some(token)).await.unwrap();
    let ct = p.customer_token().cloned().expect("tokenized");
    assert_eq!(p.kind(), StageKind::Tokenized);
    for month in ["2026-11", "2026-12"] {
        let charge = ChargeRequest {
            payment_id: PaymentId::new(format!("sub-1-{month}")).unwrap(),
            token: ct.clone(),
            cart: subscription_cart(2_499),
        };
        let first = svc.charge_customer_token(charge.clone()).await.unwrap();
        let second = svc.charge_customer_token(charge).await.unwrap();
        assert_eq!(
            first.order_id(),
            second.order_id(),
            "same charge id, same order"
        );
    }
    assert_eq!(fake.orders().len(), 2, "two months, two charges");
    svc.cancel_customer_token(&ct).await.unwrap();
    let refused = svc
        .charge_customer_token(ChargeRequest {
            payment_id: PaymentId::new("sub-1-2027-01").unwrap(),
            token: ct,
            cart: subscription_cart(2_499),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Token(_)),
        "cancelled token refused locally: {refused}"
    );
}

#[tokio::test]
async fn buy_and_tokenize_gives_an_order_and_a_token() {
    let (svc, fake, _) = service();
    let (id, token) = checkout(
        &svc,
        &fake,
        Intent::BuyAndTokenize,
        subscription_cart(1_000),
    )
    .await;
    let p = svc.complete(&id, Some(token)).await.unwrap();
    let AnyPayment::Ordered(o) = &p else {
        panic!("ordered, got {:?}", p.kind())
    };
    assert!(matches!(o.tokenization(), Tokenization::Done(_)));
    assert_eq!(fake.orders().len(), 1);
}

#[tokio::test]
async fn cart_change_after_authorization_needs_reauthorization() {
    let (svc, fake, _) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    svc.record_authorization(&id, token.clone()).await.unwrap();
    let bigger = Cart::new(
        cart().market(),
        vec![
            OrderLine::builder("Shoe", 3, 89_900)
                .tax_rate(2_500)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let p = svc.update_cart(&id, bigger.clone()).await.unwrap();
    assert_eq!(
        p.kind(),
        StageKind::Open,
        "a cart change drops the authorization"
    );
    let err = svc.place_order(&id, None).await.unwrap_err();
    assert!(matches!(err, ServiceError::WrongStage { .. }), "{err}");
    let session = svc
        .payment(&id)
        .await
        .unwrap()
        .session_id()
        .cloned()
        .unwrap();
    let new_token = fake.authorize(&session);
    let placed = svc.place_order(&id, Some(new_token)).await.unwrap();
    assert_eq!(placed.cart().order_amount(), bigger.order_amount());
    assert_eq!(fake.orders()[0].amount, 269_700);
}

#[tokio::test]
async fn lost_response_is_reconciled_to_exactly_one_order() {
    let (svc, fake, clock) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    fake.script([Fault::LostResponse]);
    let err = svc.place_order(&id, Some(token)).await.unwrap_err();
    assert!(matches!(err, ServiceError::OutcomeUnknown { .. }), "{err}");
    assert_eq!(
        svc.payment(&id).await.unwrap().kind(),
        StageKind::OrderPending,
        "in doubt, not failed"
    );
    assert!(matches!(
        svc.place_order(&id, None).await,
        Err(ServiceError::InProgress(_))
    ));
    clock.advance(Span::minutes(1));
    let report = svc.reconcile_all().await.unwrap();
    assert_eq!(report.resolved, 1);
    let p = svc.payment(&id).await.unwrap();
    assert_eq!(p.kind(), StageKind::Ordered);
    assert_eq!(
        fake.orders().len(),
        1,
        "the replay returned the first order"
    );
    assert_eq!(order_id(&p), fake.orders()[0].order_id);
    let keys: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|(op, _)| *op == "payments.create_order")
        .map(|(_, k)| k)
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the replay reused the key");
}

#[tokio::test]
async fn in_doubt_attempt_then_expired_authorization_reopens_without_an_order() {
    let (svc, fake, clock) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    fake.script([Fault::TimeoutBefore]);
    assert!(svc.place_order(&id, Some(token.clone())).await.is_err());
    // The shopper's authorization is withdrawn before the reconciler runs.
    use klarna_ports::PaymentGateway;
    fake.cancel_authorization(&token).await.unwrap();
    clock.advance(Span::minutes(2));
    svc.reconcile_all().await.unwrap();
    let p = svc.payment(&id).await.unwrap();
    assert_eq!(
        p.kind(),
        StageKind::Open,
        "no order at Klarna and the session is incomplete: open again"
    );
    assert!(fake.orders().is_empty());
}

#[tokio::test]
async fn fraud_review_resolves_by_re_reading_the_order() {
    let (svc, fake, _) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    fake.next_fraud_statuses([FraudStatus::Pending]);
    let p = svc.place_order(&id, Some(token)).await.unwrap();
    assert_eq!(p.kind(), StageKind::FraudReview);
    let order = order_id(&p);
    fake.decide_fraud(&order, true);
    let p = svc.handle_fraud_notification(&order).await.unwrap();
    assert_eq!(p.kind(), StageKind::Ordered);

    let (id2, token2) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    fake.next_fraud_statuses([FraudStatus::Pending]);
    let order2 = order_id(&svc.place_order(&id2, Some(token2)).await.unwrap());
    fake.decide_fraud(&order2, false);
    let p = svc.handle_fraud_notification(&order2).await.unwrap();
    assert_eq!(p.kind(), StageKind::Cancelled);
    assert_eq!(
        svc.order(&order2).await.unwrap().status(),
        OrderStatus::Cancelled
    );
}

#[tokio::test]
async fn authorization_callback_and_browser_token_are_idempotent() {
    let (svc, fake, _) = service();
    let c = svc
        .start_checkout(StartCheckout {
            intent: Intent::Buy,
            cart: cart(),
        })
        .await
        .unwrap();
    let token = fake.authorize(&c.session_id);
    for _ in 0..3 {
        let p = svc
            .handle_authorization_callback(&c.session_id, token.clone())
            .await
            .unwrap();
        assert_eq!(p.kind(), StageKind::Authorized);
    }
    let p = svc
        .place_order(&c.payment_id, Some(token.clone()))
        .await
        .unwrap();
    assert_eq!(p.kind(), StageKind::Ordered);
    let late = svc
        .handle_authorization_callback(&c.session_id, token)
        .await
        .unwrap();
    assert_eq!(
        late.kind(),
        StageKind::Ordered,
        "a late callback changes nothing"
    );
}

#[tokio::test]
async fn recurring_intent_needs_a_subscription_line() {
    let (svc, _, _) = service();
    let err = svc
        .start_checkout(StartCheckout {
            intent: Intent::Tokenize,
            cart: cart(),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("order_lines"), "{err}");
}

#[tokio::test]
async fn cancel_before_capture_and_lost_capture_response() {
    let (svc, fake, clock) = service();
    let (id, token) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    let order = order_id(&svc.place_order(&id, Some(token)).await.unwrap());
    fake.script([Fault::LostResponse]);
    assert!(matches!(
        svc.capture(&order, 1_000).await,
        Err(ServiceError::OutcomeUnknown { .. })
    ));
    assert!(
        matches!(
            svc.capture(&order, 1_000).await,
            Err(ServiceError::InProgress(_))
        ),
        "one operation at a time"
    );
    clock.advance(Span::minutes(1));
    svc.reconcile_all().await.unwrap();
    let o = svc.order(&order).await.unwrap();
    assert_eq!(o.captured(), 1_000);
    assert_eq!(fake.orders()[0].captured, 1_000, "one capture, not two");
    assert!(
        matches!(svc.cancel_order(&order).await, Err(ServiceError::Ledger(_))),
        "no cancel after a capture"
    );

    let (id2, token2) = checkout(&svc, &fake, Intent::Buy, cart()).await;
    let order2 = order_id(&svc.place_order(&id2, Some(token2)).await.unwrap());
    let (p, o) = svc.cancel_order(&order2).await.unwrap();
    assert_eq!(
        (p.kind(), o.status()),
        (StageKind::Cancelled, OrderStatus::Cancelled)
    );
}
