//! Order Management as merchants use it, through the facade against the simulator: captures with lines and shipping info, shipping info added later, a refund with a return fee, an upsell accepted and refused, merchant references, and a capture with lines replayed after a lost answer.

use std::sync::Arc;

use klarna_domain::order::OmOperation;
use klarna_payments::service::ServiceError;
use klarna_payments::{
    Amount, AuthorizationUpdate, CaptureRequest, Cart, Intent, KlarnaBuilder, ManualClock, Market,
    MerchantReferences, OmLine, OrderId, OrderLine, Purchase, RefundRequest, ShippingInfo,
    ShippingInfoInput, ShippingInfoUpdate, ShippingMethod, StoreKey,
};
use klarna_ports::{Clock, SystemClock};
use klarna_simulator::{Fault, FaultRule, Simulator};

type Klarna = klarna_payments::Klarna;

pub(crate) fn shoe() -> OrderLine {
    OrderLine::builder("Trail shoe", 1, 89_900)
        .tax_rate(2_500)
        .reference("SHOE-42")
        .build()
        .unwrap()
}
pub(crate) fn socks() -> OrderLine {
    OrderLine::builder("Wool socks", 2, 14_900)
        .tax_rate(2_500)
        .build()
        .unwrap()
}
/// The upsell's extra line: its unit is OM's 10 characters, more than a cart allows.
fn gloves() -> OmLine {
    let mut input = OrderLine::builder("Gloves", 1, 25_300)
        .tax_rate(2_500)
        .build()
        .unwrap()
        .fields()
        .clone();
    input.quantity_unit = Some("pair-pack1".into());
    OmLine::from_input(input).unwrap()
}

pub(crate) fn postnord(tracking: &str) -> ShippingInfo {
    ShippingInfo::new(ShippingInfoInput {
        shipping_company: Some("PostNord".into()),
        shipping_method: Some(ShippingMethod::Home),
        tracking_number: Some(tracking.into()),
        tracking_uri: Some(format!("https://tracking.example/{tracking}")),
        return_shipping_company: Some("PostNord".into()),
        return_tracking_number: Some(format!("R-{tracking}")),
        return_tracking_uri: Some(format!("https://tracking.example/R-{tracking}")),
    })
    .unwrap()
}

pub(crate) async fn setup() -> (Simulator, Klarna, Arc<ManualClock>) {
    let sim = Simulator::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let klarna = KlarnaBuilder::new()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    (sim, klarna, clock)
}

/// A placed order of a shoe and two pairs of socks (SEK 1 197.00).
pub(crate) async fn ordered(sim: &Simulator, klarna: &Klarna) -> OrderId {
    let cart = Cart::new(
        Market::parse("SE", "SEK", "sv-SE").unwrap(),
        vec![shoe(), socks()],
    )
    .unwrap();
    let checkout = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart).unwrap())
        .await
        .unwrap();
    let token = crate::approve(sim, &checkout.session_id);
    let completed = klarna.complete(&checkout.payment_id, token).await.unwrap();
    completed.order().unwrap().order_id().clone()
}

pub(crate) fn amt(minor: i64) -> Amount {
    Amount::new(minor).unwrap()
}

#[tokio::test]
async fn captures_with_lines_and_shipping_an_upsell_and_merchant_references() {
    let (sim, klarna, _) = setup().await;
    let order = ordered(&sim, &klarna).await;
    let raw = klarna_tests::client(sim.base_url());

    // The shoe ships first, with its tracking.
    let first = CaptureRequest::builder(amt(89_900))
        .line(shoe())
        .shipping_info(postnord("00370712345678901234"))
        .reference("SHIP-1")
        .description("The shoe shipped")
        .build()
        .unwrap();
    let captured = klarna.capture(&order, first).await.unwrap();
    let at_klarna = raw
        .get_capture(order.as_str(), captured.capture_id.as_str())
        .await
        .unwrap()
        .body;
    assert_eq!(at_klarna.reference.as_deref(), Some("SHIP-1"));
    assert_eq!(at_klarna.order_lines.as_ref().map(Vec::len), Some(1));
    let shipping = at_klarna.shipping_info.unwrap();
    assert_eq!(shipping.len(), 1);
    assert_eq!(
        shipping[0].tracking_number.as_deref(),
        Some("00370712345678901234")
    );
    assert_eq!(
        shipping[0].return_tracking_number.as_deref(),
        Some("R-00370712345678901234")
    );

    // The return label comes later: added to the capture.
    let later =
        ShippingInfoUpdate::new(captured.capture_id.clone(), vec![postnord("RETURN-7")]).unwrap();
    let after = klarna.add_shipping_info(&order, later).await.unwrap();
    assert_eq!(after.captured(), 89_900, "shipping info leaves the ledger");
    let at_klarna = raw
        .get_capture(order.as_str(), captured.capture_id.as_str())
        .await
        .unwrap()
        .body;
    assert_eq!(at_klarna.shipping_info.map(|s| s.len()), Some(2));

    // Lines that do not add up are refused before any call, naming the field.
    let short = CaptureRequest::builder(amt(29_799)).line(socks()).build();
    assert_eq!(short.unwrap_err().field().as_str(), "captured_amount");

    // An upsell Klarna's risk check refuses leaves the ledger as it was.
    let lines = |extra: bool| {
        let mut l: Vec<OmLine> = vec![shoe().into(), socks().into()];
        if extra {
            l.push(gloves());
        }
        l
    };
    let upsell = AuthorizationUpdate::new(145_000, lines(true))
        .unwrap()
        .with_description("Gloves added")
        .unwrap();
    sim.add_fault(FaultRule::new(
        "orders.update_authorization",
        1,
        Fault::Refuse,
    ));
    let refused = klarna
        .update_authorization(&order, upsell.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Refused(e) if e.code.as_deref() == Some("NOT_ALLOWED")),
        "{refused:?}"
    );
    let kept = klarna.order(&order).await.unwrap();
    assert_eq!((kept.order_amount(), kept.remaining()), (119_700, 29_800));
    assert!(kept.pending().is_none());
    // Klarna was asked, and its order is as it was.
    assert_eq!(sim.stats().count("orders.update_authorization"), 1);
    let remote = raw.get_order(order.as_str()).await.unwrap().body;
    assert_eq!(
        (remote.order_amount, remote.remaining_authorized_amount),
        (Some(119_700), Some(29_800)),
        "nothing raised at Klarna"
    );
    // Capturing the gloves before Klarna accepted is over the authorization, refused locally.
    let too_much = klarna.capture(&order, amt(55_100)).await.unwrap_err();
    assert!(matches!(too_much, ServiceError::Ledger(_)), "{too_much:?}");

    // Accepted: the order amount, and so what may be captured, rises.
    let raised = klarna.update_authorization(&order, upsell).await.unwrap();
    assert_eq!(
        (raised.order_amount(), raised.remaining()),
        (145_000, 55_100)
    );
    let remote = raw.get_order(order.as_str()).await.unwrap().body;
    assert_eq!(remote.order_amount, Some(145_000));
    assert_eq!(remote.remaining_authorized_amount, Some(55_100));
    let rest = CaptureRequest::builder(amt(55_100))
        .line(socks())
        .line(gloves())
        .shipping_info(postnord("00370712345678909999"))
        .build()
        .unwrap();
    let done = klarna.capture(&order, rest).await.unwrap().order;
    assert_eq!(
        (
            done.captured(),
            done.captures().len(),
            done.status().as_str()
        ),
        (145_000, 2, "CAPTURED")
    );

    // A return fee needs the order captured in one capture: this one had two.
    let refund = RefundRequest::builder(amt(84_900))
        .line(shoe())
        .line(OmLine::return_fee("Return fee", 5_000, 2_500).unwrap())
        .build()
        .unwrap();
    let e = klarna.refund(&order, refund).await.unwrap_err();
    assert!(matches!(e, ServiceError::Ledger(_)), "{e:?}");

    // The merchant's own reference; the first (our payment id) stays.
    let refs = MerchantReferences::new(None, Some("ERP-2026-0042".into())).unwrap();
    klarna
        .update_merchant_references(&order, refs)
        .await
        .unwrap();
    let remote = raw.get_order(order.as_str()).await.unwrap().body;
    assert_eq!(remote.merchant_reference2.as_deref(), Some("ERP-2026-0042"));
    assert_eq!(
        remote.merchant_reference1.as_deref(),
        Some(done.payment_id().as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refund_with_a_return_fee_after_one_capture() {
    let (sim, klarna, _) = setup().await;
    let order = ordered(&sim, &klarna).await;
    let all = CaptureRequest::builder(amt(119_700))
        .lines([shoe(), socks()])
        .shipping_info(postnord("1"))
        .build()
        .unwrap();
    klarna.capture(&order, all).await.unwrap();
    // The shoe comes back; the shop keeps a SEK 50.00 return fee.
    let refund = RefundRequest::builder(amt(84_900))
        .line(shoe())
        .line(OmLine::return_fee("Return fee", 5_000, 2_500).unwrap())
        .reference("RET-1")
        .description("Shoe returned")
        .build()
        .unwrap();
    let refunded = klarna.refund(&order, refund).await.unwrap();
    assert_eq!(
        (refunded.order.refunded(), refunded.order.captured()),
        (84_900, 119_700)
    );
    let raw = klarna_tests::client(sim.base_url());
    let at_klarna = raw
        .get_refund(order.as_str(), refunded.refund_id.as_str())
        .await
        .unwrap()
        .body;
    assert_eq!(at_klarna.refunded_amount, Some(84_900));
    let lines = at_klarna.order_lines.unwrap();
    assert_eq!(
        lines[1].r#type.as_ref().map(|t| t.as_str()),
        Some("return_fee")
    );
    assert_eq!(lines[1].total_amount, -5_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_capture_with_lines_is_replayed_with_its_key_and_body() {
    let (sim, klarna, clock) = setup().await;
    let order = ordered(&sim, &klarna).await;
    let request = CaptureRequest::builder(amt(89_900))
        .line(shoe())
        .shipping_info(postnord("REPLAY-1"))
        .reference("SHIP-R")
        .build()
        .unwrap();
    // Klarna captures, and every answer is lost.
    sim.add_fault(FaultRule::new("orders.capture", 10, Fault::DropAfterEffect));
    let lost = klarna.capture(&order, request.clone()).await.unwrap_err();
    assert!(
        matches!(lost, ServiceError::OutcomeUnknown { .. }),
        "{lost:?}"
    );
    sim.clear_faults();
    let pending = klarna.order(&order).await.unwrap();
    let stored = pending.pending().unwrap();
    assert_eq!(
        stored.operation,
        OmOperation::Capture(request),
        "the whole request is stored with its key"
    );
    assert_eq!(pending.captured(), 0);

    // Past the call's fence, the reconciler replays the stored request under the same key:
    // Klarna answers the capture it made, and nothing is captured twice.
    clock.advance(klarna_payments::domain::Span::minutes(10));
    let report = klarna.reconcile_all().await.unwrap();
    assert_eq!(report.resolved, 1, "{report:?}");
    let settled = klarna.order(&order).await.unwrap();
    assert!(settled.pending().is_none());
    assert_eq!((settled.captured(), settled.captures().len()), (89_900, 1));
    let raw = klarna_tests::client(sim.base_url());
    let captures = raw.list_captures(order.as_str()).await.unwrap().body;
    assert_eq!(captures.len(), 1, "one capture at Klarna");
    assert_eq!(
        captures[0].capture_id.as_deref(),
        Some(settled.captures()[0].id.as_str())
    );
    assert_eq!(captures[0].reference.as_deref(), Some("SHIP-R"));
    assert_eq!(captures[0].order_lines.as_ref().map(Vec::len), Some(1));
    sim.shutdown().await;
}
