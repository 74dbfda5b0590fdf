//! Stopped orders (issue 12, item 4): Klarna stops an accepted order, over the notification or
//! found by a read; nothing ships, the merchant cancels, and every store keeps the stage.

use std::sync::Arc;

use klarna_domain::{
    Amount, AnyPayment, Cart, FraudStatus, Intent, LifecycleError, Market, OrderId, OrderLine,
    OrderStatus, PaymentId, Purchase, StageKind,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway, UuidKeys};
use klarna_ports::{PaymentStore, SystemClock};
use klarna_service::{PaymentService, ServiceConfig, ServiceError};
use klarna_simulator::{FraudDecision, ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;
use klarna_store_sql::StoreKey;
use klarna_tests::Db;

type Service<S> = PaymentService<KlarnaGateway, S, SystemClock, UuidKeys>;

fn service<S: PaymentStore>(sim: &Simulator, store: Arc<S>) -> Service<S> {
    let client = KlarnaClient::builder(Credentials::new(sim.username(), sim.password()))
        .base_url(sim.base_url())
        .build()
        .unwrap();
    PaymentService::new(
        Arc::new(KlarnaGateway::new(client)),
        store,
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(0x5707_9ed0))),
        ServiceConfig::default(),
    )
}

fn cart() -> Cart {
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 1, 50_000)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(market, vec![line]).unwrap()
}

/// A one-time payment, ordered and accepted at the simulator.
async fn ordered<S: PaymentStore>(sim: &Simulator, svc: &Service<S>) -> (PaymentId, OrderId) {
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let token = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let done = svc
        .complete(
            &c.payment_id,
            klarna_domain::AuthorizationToken::new(token).unwrap(),
        )
        .await
        .unwrap();
    let order = done.order().unwrap();
    assert_eq!(order.fraud_status(), FraudStatus::Accepted);
    (c.payment_id, order.order_id().clone())
}

/// Both ways of learning of a stop, the capture refused before any call, the cancel; the
/// payment read back from `reopen()` (a fresh handle on the same store).
async fn flow<S: PaymentStore>(
    sim: &Simulator,
    store: Arc<S>,
    reopen: impl AsyncFnOnce() -> Arc<S>,
) {
    let svc = service(sim, store);
    // 1. Stopped, and the merchant's notification endpoint passes Klarna's order id on.
    let (paid, order) = ordered(sim, &svc).await;
    sim.resolve_fraud(order.as_str(), FraudDecision::Stopped)
        .unwrap();
    let p = svc.handle_fraud_notification(&order).await.unwrap();
    assert_eq!(p.kind(), StageKind::Stopped);
    let before = sim.stats().requests.values().sum::<u64>();
    let err = svc
        .capture(&order, Amount::new(50_000).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Lifecycle(LifecycleError::OrderStopped { order_id, .. }) if order_id == &order),
        "{err}"
    );
    assert_eq!(
        sim.stats().requests.values().sum::<u64>(),
        before,
        "refused before any call to Klarna"
    );

    // 2. Stopped without a notification: the read finds it.
    let (quiet, quiet_order) = ordered(sim, &svc).await;
    sim.resolve_fraud(quiet_order.as_str(), FraudDecision::Stopped)
        .unwrap();
    assert_eq!(
        svc.payment(&quiet).await.unwrap().kind(),
        StageKind::Ordered,
        "nothing delivered yet"
    );
    assert_eq!(
        svc.refresh_order(&quiet_order).await.unwrap().kind(),
        StageKind::Stopped
    );

    // The store keeps the stage, its reply deadline and the order.
    let AnyPayment::Stopped(kept) = p else {
        unreachable!()
    };
    let again = service(sim, reopen().await);
    let AnyPayment::Stopped(read) = again.payment(&paid).await.unwrap() else {
        panic!("the stored stage is lost");
    };
    assert_eq!(read.reply_by(), kept.reply_by());
    assert_eq!(read.order().order_id(), &order);
    let mut stopped: Vec<PaymentId> = again
        .payments_in_stage(StageKind::Stopped, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id().clone())
        .collect();
    stopped.sort();
    let mut expected = vec![paid.clone(), quiet.clone()];
    expected.sort();
    assert_eq!(stopped, expected);

    // The merchant cancels: the order at Klarna too.
    let o = again.cancel_order(&order).await.unwrap();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(
        again.payment(&paid).await.unwrap().kind(),
        StageKind::Cancelled
    );
    assert_eq!(sim.order(order.as_str()).unwrap().status, "CANCELLED");
    // `cancel` on the payment takes the same path.
    assert_eq!(
        again.cancel(&quiet).await.unwrap().kind(),
        StageKind::Cancelled
    );
    assert_eq!(sim.order(quiet_order.as_str()).unwrap().status, "CANCELLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_orders_in_memory() {
    let sim = Simulator::start().await.unwrap();
    let store = Arc::new(InMemoryStore::new());
    let same = Arc::clone(&store);
    flow(&sim, store, async move || same).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_orders_in_sqlite_and_postgres() {
    let sim = Simulator::start().await.unwrap();
    let mut dbs = vec![Db::sqlite()];
    dbs.extend(Db::postgres());
    for db in &dbs {
        let key = StoreKey::generate();
        let store = Arc::new(db.store(&key, 2).await);
        flow(&sim, store, async || Arc::new(db.store(&key, 2).await)).await;
    }
}
