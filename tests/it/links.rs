//! Pay by link end to end: the facade over the simulator's Hosted Payment Page. The shopper opens the link, pays (or cancels) on the hosted page and is sent to the merchant's URL with the link's id filled in; the service then records the order Klarna placed (`PLACE_ORDER`, never placing one itself) or places it from the authorization the page handed back (`NONE`), once, however often it is asked.

use std::sync::Arc;

use klarna_payments::simulator::Simulator;
use klarna_payments::{
    Cart, InMemoryStore, Intent, KlarnaBuilder, LinkOutcome, LinkUrls, Market, OrderLine,
    PaymentLinkRequest, PlaceOrderMode, Purchase, StageKind,
};

fn purchase() -> Purchase {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Trail shoe", 1, 89_900)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Purchase::new(Intent::Buy, Cart::new(m, vec![line]).unwrap()).unwrap()
}

fn link(mode: PlaceOrderMode) -> PaymentLinkRequest {
    let urls = LinkUrls::new("http://127.0.0.1:9/paid?link={{session_id}}")
        .and_then(|u| u.cancel("http://127.0.0.1:9/cancelled?link={{session_id}}"))
        .unwrap();
    PaymentLinkRequest::new(mode, urls)
}

/// The shopper's browser: opens the page, presses `button` (`pay`, `cancel`), and answers
/// where the page sends them.
async fn shopper(redirect_url: &str, button: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(redirect_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("hpp-pay"), "{html}");
    let r = http
        .post(format!("{redirect_url}/{button}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{button}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_is_paid_on_klarnas_page_and_recorded_once() {
    let sim = Simulator::start().await.unwrap();
    let klarna = KlarnaBuilder::new()
        .simulator(&sim)
        .store(Arc::new(InMemoryStore::new()))
        .build()
        .await
        .unwrap();
    for mode in [PlaceOrderMode::PlaceOrder, PlaceOrderMode::None] {
        let before = sim.orders().len();
        let placed_before = sim.stats().count("payments.create_order");
        let l = klarna
            .start_payment_link(purchase(), &link(mode))
            .await
            .unwrap();
        assert!(matches!(
            klarna.settle_payment_link(&l.payment_id).await.unwrap(),
            LinkOutcome::Waiting(_)
        ));
        let landed = shopper(&l.redirect_url, "pay").await;
        assert_eq!(
            landed,
            format!("http://127.0.0.1:9/paid?link={}", l.hosted_page),
            "{mode:?}: the success URL with the link's id"
        );
        // The success page, Klarna's status callback and the reconciler may all ask.
        for _ in 0..2 {
            let LinkOutcome::Paid(p) = klarna.settle_payment_link(&l.payment_id).await.unwrap()
            else {
                panic!("{mode:?}: paid")
            };
            assert_eq!(p.kind(), StageKind::Ordered, "{mode:?}");
        }
        let p = klarna.payment(&l.payment_id).await.unwrap();
        let orders = sim.orders();
        assert_eq!(orders.len(), before + 1, "{mode:?}: one order at Klarna");
        assert_eq!(
            p.order_id().map(|o| o.as_str().to_owned()),
            orders.last().map(|o| o.order_id.clone()),
            "{mode:?}"
        );
        let placed = sim.stats().count("payments.create_order") - placed_before;
        let expected = u64::from(mode == PlaceOrderMode::None);
        assert_eq!(
            placed, expected,
            "{mode:?}: orders the service placed itself"
        );
        assert_eq!(
            klarna
                .order(p.order_id().unwrap())
                .await
                .unwrap()
                .order_amount(),
            89_900
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_link_leaves_the_payment_open() {
    let sim = Simulator::start().await.unwrap();
    let klarna = KlarnaBuilder::new()
        .simulator(&sim)
        .store(Arc::new(InMemoryStore::new()))
        .build()
        .await
        .unwrap();
    let l = klarna
        .start_payment_link(purchase(), &link(PlaceOrderMode::PlaceOrder))
        .await
        .unwrap();
    let landed = shopper(&l.redirect_url, "cancel").await;
    assert_eq!(
        landed,
        format!("http://127.0.0.1:9/cancelled?link={}", l.hosted_page)
    );
    assert_eq!(
        klarna.settle_payment_link(&l.payment_id).await.unwrap(),
        LinkOutcome::Ended(klarna_payments::HostedPageStatus::Cancelled)
    );
    assert_eq!(
        klarna.payment(&l.payment_id).await.unwrap().kind(),
        StageKind::Open
    );
    assert!(sim.orders().is_empty());
}
