//! Order Management with lines over the scripted fake Klarna: what is sent is the request as made, the ledger follows only Klarna's acceptance, and a lost answer is replayed with the same key and request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::Arc;

use klarna_domain::order::OmOperation;
use klarna_domain::{
    Amount, AuthorizationUpdate, CaptureRequest, Cart, Intent, LedgerError, Market,
    MerchantReferences, OmLine, OrderId, OrderLine, Purchase, RefundRequest, ShippingInfo,
    ShippingInfoInput, ShippingInfoUpdate, ShippingMethod, Span, Timestamp,
};
use klarna_ports::fake::{FakeKlarna, Fault};
use klarna_ports::{ManualClock, SequentialKeys};
use klarna_service::{PaymentService, ServiceConfig, ServiceError};
use klarna_store_memory::InMemoryStore;

type Svc = PaymentService<FakeKlarna, InMemoryStore, ManualClock, SequentialKeys>;

fn shoe() -> OrderLine {
    OrderLine::builder("Shoe", 1, 80_000)
        .tax_rate(2_500)
        .build()
        .unwrap()
}
fn belt() -> OrderLine {
    OrderLine::builder("Belt", 1, 20_000)
        .tax_rate(2_500)
        .build()
        .unwrap()
}
fn amount(minor: i64) -> Amount {
    Amount::new(minor).unwrap()
}
fn tracking(n: &str) -> ShippingInfo {
    ShippingInfo::new(ShippingInfoInput {
        shipping_company: Some("PostNord".into()),
        shipping_method: Some(ShippingMethod::PickUpPoint),
        tracking_number: Some(n.into()),
        ..ShippingInfoInput::default()
    })
    .unwrap()
}

/// A service with an accepted order of a shoe and a belt (SEK 1 000.00).
async fn ordered() -> (Svc, Arc<FakeKlarna>, Arc<ManualClock>, OrderId) {
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
    let cart = Cart::new(
        Market::parse("SE", "SEK", "sv-SE").unwrap(),
        vec![shoe(), belt()],
    )
    .unwrap();
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart).unwrap())
        .await
        .unwrap();
    let token = fake.authorize(&c.session_id);
    let done = svc.complete(&c.payment_id, token).await.unwrap();
    let order = done.order().unwrap().order_id().clone();
    (svc, fake, clock, order)
}

#[tokio::test]
async fn captures_and_refunds_send_the_request_as_made() {
    let (svc, fake, _, order) = ordered().await;
    let capture = CaptureRequest::builder(amount(100_000))
        .lines([shoe(), belt()])
        .shipping_info(tracking("T-1"))
        .reference("SHIP-1")
        .build()
        .unwrap();
    let made = svc.capture(&order, capture.clone()).await.unwrap();
    assert_eq!(fake.orders()[0].capture_requests, vec![capture]);
    let later = ShippingInfoUpdate::new(made.capture_id.clone(), vec![tracking("R-1")]).unwrap();
    svc.add_shipping_info(&order, later.clone()).await.unwrap();
    assert_eq!(fake.orders()[0].shipping_added, vec![later]);
    let refund = RefundRequest::builder(amount(15_000))
        .line(belt())
        .line(OmLine::return_fee("Return fee", 5_000, 2_500).unwrap())
        .description("Belt returned")
        .build()
        .unwrap();
    let back = svc.refund(&order, refund.clone()).await.unwrap();
    assert_eq!(fake.orders()[0].refund_requests, vec![refund]);
    assert_eq!(
        (back.order.captured(), back.order.refunded()),
        (100_000, 15_000)
    );
    let refs = MerchantReferences::new(Some("ORDER-7".into()), Some("ERP-7".into())).unwrap();
    svc.update_merchant_references(&order, refs).await.unwrap();
    assert_eq!(
        (
            fake.orders()[0].merchant_reference1.as_str(),
            fake.orders()[0].merchant_reference2.as_deref()
        ),
        ("ORDER-7", Some("ERP-7"))
    );
}

#[tokio::test]
async fn a_return_fee_or_shipping_info_the_ledger_forbids_is_never_sent() {
    let (svc, fake, _, order) = ordered().await;
    svc.capture(&order, amount(60_000)).await.unwrap();
    svc.capture(&order, amount(40_000)).await.unwrap();
    let calls = fake.calls().len();
    let refund = RefundRequest::builder(amount(15_000))
        .line(belt())
        .line(OmLine::return_fee("Return fee", 5_000, 2_500).unwrap())
        .build()
        .unwrap();
    let e = svc.refund(&order, refund).await.unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Ledger(LedgerError::ReturnFeeNeedsOneCapture { captures: 2, .. })
        ),
        "{e:?}"
    );
    let unknown = ShippingInfoUpdate::new(
        klarna_domain::CaptureId::new("not-ours").unwrap(),
        vec![tracking("T")],
    )
    .unwrap();
    let e = svc.add_shipping_info(&order, unknown).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::Ledger(LedgerError::UnknownCapture(_))),
        "{e:?}"
    );
    assert_eq!(fake.calls().len(), calls, "nothing sent");
    assert!(svc.order(&order).await.unwrap().pending().is_none());
}

#[tokio::test]
async fn an_upsell_changes_the_order_amount_only_when_klarna_accepts() {
    let (svc, fake, clock, order) = ordered().await;
    svc.capture(&order, amount(80_000)).await.unwrap();
    let lines: Vec<OmLine> = vec![shoe().into(), belt().into(), belt().into()];
    let upsell = AuthorizationUpdate::new(120_000, lines).unwrap();
    fake.script([Fault::Refuse]);
    let e = svc
        .update_authorization(&order, upsell.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Refused(_)), "{e:?}");
    let o = svc.order(&order).await.unwrap();
    assert_eq!((o.order_amount(), o.remaining()), (100_000, 20_000));
    assert_eq!(fake.orders()[0].amount, 100_000);
    // Accepted, but the answer is lost: pending until the replay, the amount unchanged.
    fake.script([Fault::LostResponse]);
    let e = svc
        .update_authorization(&order, upsell.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::OutcomeUnknown { .. }), "{e:?}");
    let o = svc.order(&order).await.unwrap();
    assert_eq!(o.order_amount(), 100_000);
    assert_eq!(
        o.pending().map(|p| p.operation.clone()),
        Some(OmOperation::UpdateAuthorization(upsell))
    );
    clock.advance(Span::minutes(3));
    svc.reconcile_all().await.unwrap();
    let o = svc.order(&order).await.unwrap();
    assert!(o.pending().is_none());
    assert_eq!((o.order_amount(), o.remaining()), (120_000, 40_000));
    assert_eq!(fake.orders()[0].amount, 120_000);
    let below = AuthorizationUpdate::new(79_999, Vec::new()).unwrap();
    let e = svc.update_authorization(&order, below).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::Ledger(LedgerError::BelowCaptured { .. })),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_lost_capture_with_lines_is_replayed_with_its_key_and_request() {
    let (svc, fake, clock, order) = ordered().await;
    let capture = CaptureRequest::builder(amount(80_000))
        .line(shoe())
        .shipping_info(tracking("T-9"))
        .build()
        .unwrap();
    fake.script([Fault::LostResponse]);
    let e = svc.capture(&order, capture.clone()).await.unwrap_err();
    assert!(matches!(e, ServiceError::OutcomeUnknown { .. }), "{e:?}");
    let first_key = fake.calls().last().unwrap().1.clone();
    clock.advance(Span::minutes(3));
    svc.reconcile_all().await.unwrap();
    let calls = fake.calls();
    let captures: Vec<_> = calls
        .iter()
        .filter(|(op, _)| *op == "ordermanagement.capture")
        .collect();
    assert_eq!(captures.len(), 2, "sent, then replayed");
    assert_eq!(captures[1].1, first_key, "under the same key");
    let at_fake = &fake.orders()[0];
    assert_eq!(at_fake.capture_requests, vec![capture], "one effect");
    let o = svc.order(&order).await.unwrap();
    assert_eq!(
        (o.captured(), o.captures().len(), o.captures()[0].id.clone()),
        (80_000, 1, at_fake.captures[0].0.clone())
    );
}
