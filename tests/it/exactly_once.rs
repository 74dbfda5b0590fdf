//! Exactly once with several app instances: 4 services (separate pools) on one database race
//! 32 place-order calls on the same authorization, round after round.

use std::sync::Arc;

use klarna_domain::{Cart, Intent, Market, OrderLine, Purchase};
use klarna_service::ServiceError;
use klarna_simulator::{ShopperDecision, Simulator};
use klarna_store_sql::StoreKey;
use klarna_tests::{CrashPoint, Db, Service, service};

const INSTANCES: usize = 4;
const CALLERS: usize = 32;
const ROUNDS: usize = 200;

fn cart() -> Cart {
    let m = Market::parse("NL", "EUR", "nl-NL").expect("market");
    Cart::new(
        m,
        vec![
            OrderLine::builder("Fiets", 1, 45_000)
                .tax_rate(2_100)
                .build()
                .expect("line"),
        ],
    )
    .expect("cart")
}

async fn race(db: Db) {
    let sim = Simulator::start().await.expect("simulator");
    let key = StoreKey::generate();
    let mut instances: Vec<Arc<Service>> = Vec::new();
    for _ in 0..INSTANCES {
        instances.push(Arc::new(service(
            sim.base_url(),
            db.store(&key, 4).await,
            CrashPoint::None,
        )));
    }
    for round in 0..ROUNDS {
        let c = instances[round % INSTANCES]
            .start_checkout(Purchase::new(Intent::Buy, cart()).expect("purchase"))
            .await
            .expect("checkout");
        let token = sim
            .authorize(c.session_id.as_str(), ShopperDecision::approve())
            .expect("shopper")
            .authorization_token;
        let token =
            klarna_domain::AuthorizationToken::new(token.expect("approved")).expect("token");
        let tasks: Vec<_> = (0..CALLERS)
            .map(|i| {
                let (svc, id, token) = (
                    Arc::clone(&instances[i % INSTANCES]),
                    c.payment_id.clone(),
                    token.clone(),
                );
                tokio::spawn(async move { svc.complete(&id, token).await })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            match t.await.expect("join") {
                Ok(done) => seen.push(
                    done.order()
                        .map(|o| o.order_id().clone())
                        .expect("completed buy payments have an order id"),
                ),
                Err(ServiceError::InProgress(_)) => {}
                Err(e) => panic!("round {round}: a caller failed: {e}"),
            }
        }
        seen.dedup();
        assert!(
            seen.len() <= 1,
            "round {round}: callers saw different orders {seen:?}"
        );
        let at_klarna: Vec<_> = sim
            .orders()
            .into_iter()
            .filter(|o| o.merchant_reference1.as_deref() == Some(c.payment_id.as_str()))
            .collect();
        assert_eq!(
            at_klarna.len(),
            1,
            "round {round}: orders at Klarna {at_klarna:?}"
        );
        let stored = instances[0].payment(&c.payment_id).await.expect("stored");
        assert_eq!(
            stored.order_id().map(|o| o.as_str()),
            Some(at_klarna[0].order_id.as_str()),
            "round {round}"
        );
    }
    assert_eq!(
        sim.stats().count("payments.create_order"),
        ROUNDS as u64,
        "exactly one create-order call per round"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_per_authorization_across_instances_on_sqlite() {
    race(Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_per_authorization_across_instances_on_postgres() {
    let Some(db) = Db::postgres() else { return };
    race(db).await;
}
