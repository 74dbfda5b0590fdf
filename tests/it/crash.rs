//! Crash recovery: the service runs in a child process that dies at each crash point of the
//! exactly-once protocol; a restarted service reconciles; nothing is lost or duplicated.

use std::process::{Command, Stdio};
use std::time::Duration;

use klarna_domain::{
    AnyPayment, AuthorizationToken, Cart, Intent, Market, OrderLine, Purchase, StageKind,
};
use klarna_simulator::{Fault, FaultRule, ShopperDecision, Simulator};
use klarna_store_sql::StoreKey;
use klarna_tests::{CrashPoint, Db, service};

/// How the child dies.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// It aborts itself at a crash point.
    Abort(CrashPoint),
    /// The parent SIGKILLs it while its request is in flight at Klarna.
    KilledInFlight,
}

const RUNS_PER_POINT: usize = 3;

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").expect("market");
    Cart::new(
        m,
        vec![
            OrderLine::builder("Shoe", 1, 50_000)
                .tax_rate(2_500)
                .build()
                .expect("line"),
        ],
    )
    .expect("cart")
}

async fn run_child(
    db: &Db,
    key: &StoreKey,
    sim: &Simulator,
    death: Death,
    envs: &[(&str, String)],
) {
    let point = match death {
        Death::Abort(p) => p,
        Death::KilledInFlight => CrashPoint::None,
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klarna-crash-child"));
    cmd.env("CRASH_POINT", point.name())
        .env("DB_URL", db.url())
        .env("STORE_KEY", key.expose_hex())
        .env("SIM_URL", sim.base_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(s) = db.schema() {
        cmd.env("DB_SCHEMA", s);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("child starts");
    if let Death::KilledInFlight = death {
        // Poll (bounded) the simulator's request counter — it offers no notification — until
        // Klarna has the request, then kill the child mid-call.
        let op = envs
            .iter()
            .find(|(k, _)| *k == "OPERATION")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let name = if op == "capture" {
            "orders.capture"
        } else {
            "payments.create_order"
        };
        let before = sim.stats().count(name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while sim.stats().count(name) <= before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the child never sent {name}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("SIGKILL");
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(!status.success(), "the child should have died at {death:?}");
}

async fn crash_place_order(db: &Db, death: Death) {
    let sim = Simulator::start().await.expect("simulator");
    let key = StoreKey::generate();
    let svc = service(sim.base_url(), db.store(&key, 2).await, CrashPoint::None);
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).expect("purchase"))
        .await
        .expect("checkout");
    let token = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .expect("shopper")
        .authorization_token
        .expect("approved");
    if let Death::KilledInFlight = death {
        sim.add_fault(FaultRule::new(
            "payments.create_order",
            1,
            Fault::Latency { ms: 3_000 },
        ));
    }
    run_child(
        db,
        &key,
        &sim,
        death,
        &[
            ("OPERATION", "place_order".to_owned()),
            ("PAYMENT_ID", c.payment_id.to_string()),
            ("AUTH_TOKEN", token.clone()),
        ],
    )
    .await;
    sim.clear_faults();

    // Restart: a fresh service on the same database reconciles.
    let restarted = service(sim.base_url(), db.store(&key, 2).await, CrashPoint::None);
    restarted.reconcile_all().await.expect("reconcile");
    let p = restarted
        .payment(&c.payment_id)
        .await
        .expect("payment survives");
    let at_klarna: Vec<_> = sim
        .orders()
        .into_iter()
        .filter(|o| o.merchant_reference1.as_deref() == Some(c.payment_id.as_str()))
        .collect();
    assert!(
        at_klarna.len() <= 1,
        "{death:?}: duplicate orders at Klarna: {at_klarna:?}"
    );
    match (&p, at_klarna.first()) {
        (AnyPayment::Ordered(_), Some(o)) => {
            assert_eq!(
                p.order_id().map(|id| id.as_str()),
                Some(o.order_id.as_str()),
                "{death:?}: recorded the wrong order"
            );
        }
        (_, Some(o)) => panic!(
            "{death:?}: lost order {} (payment is {:?})",
            o.order_id,
            p.kind()
        ),
        // No order at Klarna: the payment must not pretend otherwise, nor stay in doubt.
        (_, None) => assert!(
            !matches!(p.kind(), StageKind::Ordered | StageKind::OrderPending),
            "{death:?}: phantom or unresolved order, stage {:?}",
            p.kind()
        ),
    }
    // Retrying the caller's request now returns the recorded order without a second one.
    if p.kind() == StageKind::Ordered {
        let token = AuthorizationToken::new(token).expect("token");
        let again = restarted
            .complete(&c.payment_id, token)
            .await
            .expect("idempotent");
        assert_eq!(again.order().map(|o| o.order_id()), p.order_id());
    }
}

async fn crash_capture(db: &Db, death: Death) {
    let sim = Simulator::start().await.expect("simulator");
    let key = StoreKey::generate();
    let svc = service(sim.base_url(), db.store(&key, 2).await, CrashPoint::None);
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).expect("purchase"))
        .await
        .expect("checkout");
    let token = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .expect("shopper")
        .authorization_token;
    let token = klarna_domain::AuthorizationToken::new(token.expect("approved")).expect("token");
    let order = svc
        .complete(&c.payment_id, token)
        .await
        .expect("order")
        .order()
        .expect("order id")
        .order_id()
        .clone();
    if let Death::KilledInFlight = death {
        sim.add_fault(FaultRule::new(
            "orders.capture",
            1,
            Fault::Latency { ms: 3_000 },
        ));
    }
    run_child(
        db,
        &key,
        &sim,
        death,
        &[
            ("OPERATION", "capture".to_owned()),
            ("ORDER_ID", order.to_string()),
            ("AMOUNT", "20000".to_owned()),
        ],
    )
    .await;
    sim.clear_faults();

    let restarted = service(sim.base_url(), db.store(&key, 2).await, CrashPoint::None);
    restarted.reconcile_all().await.expect("reconcile");
    let local = restarted.order(&order).await.expect("order stored");
    let remote = sim.order(order.as_str()).expect("order at Klarna");
    assert!(
        local.pending().is_none(),
        "{death:?}: capture still in doubt"
    );
    assert!(
        remote.captured_amount <= 20_000,
        "{death:?}: captured twice at Klarna"
    );
    assert_eq!(
        local.captured(),
        remote.captured_amount,
        "{death:?}: ledger differs from Klarna"
    );
}

const DEATHS: [Death; 3] = [
    Death::Abort(CrashPoint::AfterPendingWrite),
    Death::KilledInFlight,
    Death::Abort(CrashPoint::AfterAnswer),
];

async fn all(db: impl Fn() -> Option<Db>) {
    for death in DEATHS {
        for _ in 0..RUNS_PER_POINT {
            let Some(d) = db() else { return };
            crash_place_order(&d, death).await;
            crash_capture(&d, death).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lose_and_duplicate_nothing_on_sqlite() {
    all(|| Some(Db::sqlite())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lose_and_duplicate_nothing_on_postgres() {
    all(Db::postgres).await;
}
