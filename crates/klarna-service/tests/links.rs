//! Pay by link over the scripted fake Klarna: a link Klarna's page pays with `PLACE_ORDER` is recorded once from Klarna's order (never placed by us), `NONE` is completed by the service exactly once, a cancelled page leaves the payment open, a lost answer is settled by the reconciler's sweep, and bad links are refused before any call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::Arc;

use klarna_domain::{
    Cart, HostedPageStatus, Intent, Interval, LinkUrls, Market, OrderLine, PaymentLinkRequest,
    PlaceOrderMode, Purchase, StageKind, Timestamp,
};
use klarna_ports::fake::{FakeKlarna, Fault};
use klarna_ports::{ManualClock, SequentialKeys};
use klarna_service::{LinkOutcome, PaymentService, ServiceConfig, ServiceError};
use klarna_store_memory::InMemoryStore;

type Svc = PaymentService<FakeKlarna, InMemoryStore, ManualClock, SequentialKeys>;

fn service() -> (Svc, Arc<FakeKlarna>) {
    let (svc, fake, _) = service_with_clock();
    (svc, fake)
}

fn service_with_clock() -> (Svc, Arc<FakeKlarna>, Arc<ManualClock>) {
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

fn purchase(intent: Intent) -> Purchase {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let mut line = OrderLine::builder("Shoe", 1, 89_900).tax_rate(2_500);
    if intent != Intent::Buy {
        line = line.subscription("Shoe club", Interval::Month, 1);
    }
    Purchase::new(intent, Cart::new(m, vec![line.build().unwrap()]).unwrap()).unwrap()
}

fn link(mode: PlaceOrderMode) -> PaymentLinkRequest {
    let urls = LinkUrls::new("https://shop.example/paid?link={{session_id}}")
        .and_then(|u| u.cancel("https://shop.example/cancelled"))
        .unwrap();
    PaymentLinkRequest::new(mode, urls)
}

fn placed_orders(fake: &FakeKlarna) -> usize {
    fake.calls()
        .iter()
        .filter(|(op, _)| *op == "payments.create_order")
        .count()
}

#[tokio::test]
async fn klarnas_order_is_recorded_once_and_never_placed_by_us() {
    let (svc, fake) = service();
    let l = svc
        .start_payment_link(purchase(Intent::Buy), &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    assert!(l.redirect_url.starts_with("https://"), "{}", l.redirect_url);
    let stored = svc.payment(&l.payment_id).await.unwrap();
    assert_eq!(
        stored.hosted_page(),
        Some(&l.hosted_page),
        "the link is stored"
    );
    assert_eq!(
        svc.settle_payment_link(&l.payment_id).await.unwrap(),
        LinkOutcome::Waiting(Some(HostedPageStatus::Waiting))
    );
    fake.pay_link(&l.hosted_page);
    // The success page, Klarna's callback and the reconciler may all ask.
    let LinkOutcome::Paid(p) = svc.settle_payment_link(&l.payment_id).await.unwrap() else {
        panic!("paid")
    };
    assert_eq!(p.kind(), StageKind::Ordered);
    let order = p.order_id().unwrap().clone();
    assert_eq!(order, fake.orders()[0].order_id);
    let managed = svc.order(&order).await.unwrap();
    assert_eq!(managed.order_amount(), 89_900);
    let LinkOutcome::Paid(again) = svc.settle_payment_link(&l.payment_id).await.unwrap() else {
        panic!("paid")
    };
    assert_eq!(again.order_id(), Some(&order));
    assert_eq!(svc.reconcile_all().await.unwrap().links_paid, 0);
    assert_eq!(fake.orders().len(), 1, "one order at Klarna");
    assert_eq!(placed_orders(&fake), 0, "the service placed none");
}

#[tokio::test]
async fn none_hands_the_authorization_back_and_the_service_orders_once() {
    let (svc, fake) = service();
    let l = svc
        .start_payment_link(purchase(Intent::Buy), &link(PlaceOrderMode::None))
        .await
        .unwrap();
    fake.pay_link(&l.hosted_page);
    for _ in 0..3 {
        let LinkOutcome::Paid(p) = svc.settle_payment_link(&l.payment_id).await.unwrap() else {
            panic!("paid")
        };
        assert_eq!(p.kind(), StageKind::Ordered);
    }
    assert_eq!(fake.orders().len(), 1);
    assert_eq!(placed_orders(&fake), 1, "placed by the service, once");
}

#[tokio::test]
async fn a_subscription_link_makes_its_customer_token() {
    let (svc, fake) = service();
    let err = svc
        .start_payment_link(
            purchase(Intent::Tokenize),
            &link(PlaceOrderMode::PlaceOrder),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Link(e) if e.field() == "link.place_order_mode"),
        "{err:?}"
    );
    assert!(fake.calls().is_empty(), "refused before any call");
    let l = svc
        .start_payment_link(purchase(Intent::Tokenize), &link(PlaceOrderMode::None))
        .await
        .unwrap();
    fake.pay_link(&l.hosted_page);
    let LinkOutcome::Paid(p) = svc.settle_payment_link(&l.payment_id).await.unwrap() else {
        panic!("paid")
    };
    assert_eq!(p.kind(), StageKind::Tokenized);
    assert!(p.customer_token().is_some());
    assert!(fake.orders().is_empty());
}

#[tokio::test]
async fn a_cancelled_page_leaves_the_payment_open_for_a_new_link() {
    let (svc, fake) = service();
    let l = svc
        .start_payment_link(purchase(Intent::Buy), &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    fake.set_link_status(&l.hosted_page, HostedPageStatus::Cancelled);
    assert_eq!(
        svc.settle_payment_link(&l.payment_id).await.unwrap(),
        LinkOutcome::Ended(HostedPageStatus::Cancelled)
    );
    assert_eq!(
        svc.payment(&l.payment_id).await.unwrap().kind(),
        StageKind::Open
    );
    let again = svc
        .link_payment(&l.payment_id, &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    assert_ne!(again.hosted_page, l.hosted_page);
    fake.pay_link(&again.hosted_page);
    let LinkOutcome::Paid(p) = svc.settle_payment_link(&l.payment_id).await.unwrap() else {
        panic!("paid")
    };
    assert_eq!(p.kind(), StageKind::Ordered);
}

#[tokio::test]
async fn the_reconciler_records_a_paid_link_nobody_reported() {
    let (svc, fake) = service();
    let l = svc
        .start_payment_link(purchase(Intent::Buy), &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    fake.pay_link(&l.hosted_page);
    // The shopper closed the browser and Klarna's status callback never arrived.
    let report = svc.reconcile_all().await.unwrap();
    assert_eq!(report.links_paid, 1, "{report:?}");
    assert_eq!(
        svc.payment(&l.payment_id).await.unwrap().kind(),
        StageKind::Ordered
    );
}

#[tokio::test]
async fn a_lost_link_answer_leaves_the_payment_open_and_linkable() {
    let (svc, fake) = service();
    let c = svc.start_checkout(purchase(Intent::Buy)).await.unwrap();
    fake.script([Fault::LostResponse]);
    let err = svc
        .link_payment(&c.payment_id, &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    let p = svc.payment(&c.payment_id).await.unwrap();
    assert_eq!((p.kind(), p.hosted_page()), (StageKind::Open, None));
    // Trying again makes a second page for the same session: only the stored one is used,
    // and one session can be paid once.
    let l = svc
        .link_payment(&c.payment_id, &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    fake.pay_link(&l.hosted_page);
    assert!(matches!(
        svc.settle_payment_link(&c.payment_id).await.unwrap(),
        LinkOutcome::Paid(_)
    ));
    assert_eq!(fake.orders().len(), 1);
}

#[tokio::test]
async fn the_reconciler_reads_each_open_link_once_however_many_rounds_it_takes() {
    let (svc, fake, clock) = service_with_clock();
    let l = svc
        .start_payment_link(purchase(Intent::Buy), &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    // An order in doubt elsewhere makes `reconcile_all` go round more than once.
    let c = svc.start_checkout(purchase(Intent::Buy)).await.unwrap();
    let token = fake.authorize(&c.session_id);
    fake.script([Fault::LostResponse]);
    assert!(svc.complete(&c.payment_id, token).await.is_err());
    clock.advance(klarna_domain::Span::minutes(3));
    let report = svc.reconcile_all().await.unwrap();
    assert!(report.resolved + report.needs_review > 0, "{report:?}");
    let reads = fake
        .calls()
        .iter()
        .filter(|(op, _)| *op == "hpp.read_session")
        .count();
    assert_eq!(reads, 1, "one read of the waiting link: {report:?}");
    assert_eq!(
        svc.payment(&l.payment_id).await.unwrap().kind(),
        StageKind::Open
    );
}
