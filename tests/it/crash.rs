//! Crash recovery: the service runs in a child process that dies at each crash point of the
//! exactly-once protocol (also inside the reconciler, and in the token flows); a restarted
//! service reconciles; each point ends in the exact stage its evidence allows.
//!
//! A *point* is a flow (what the child runs) and how the child dies; optionally a first
//! restart (a child running `reconcile_all`) dies too, at its own point; then a last restart
//! (here, in the parent) reconciles. Each restart runs on a [`restarted_clock`]: later than
//! the crash by a fence and a lease, as a real restart is, so the fences (never zero) are
//! passed by time, not switched off. Each point is a *lane*: its own simulator (its faults and
//! counters are the lane's alone) and its own database, its runs one after the other; lanes run
//! concurrently. Every run asserts one exact outcome, chosen by the point and the simulator's
//! replay policy; the number of runs per lane is counted and asserted. See docs/testing.md.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use klarna_domain::{
    Amount, AnyPayment, AuthorizationToken, CustomerTokenId, Intent, OrderId, PaymentId, Purchase,
    StageKind,
};
use klarna_gateway_http::KlarnaClient;
use klarna_ports::SystemClock;
use klarna_service::ChargeRequest;
use klarna_simulator::{Fault, FaultRule, ReplayPolicy, ShopperDecision, Simulator};
use klarna_store_sql::{SqlStore, StoreKey};
use klarna_tests::{CrashPoint, Db, Service, client, crash_cart, restarted_clock, service_with};
use tokio::sync::Semaphore;

/// Runs per point with the pessimistic simulator (the default, and the one that matters).
const RUNS_PESSIMISTIC: usize = 50;
/// Runs per point with the optimistic simulator (replays P1–P6 by key: the kinder Klarna).
const RUNS_OPTIMISTIC: usize = 10;
/// Lanes in flight at once per test (the machine has 2 cores; children mostly wait).
const LANES_AT_ONCE: usize = 4;

/// What the child runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flow {
    /// `complete` of a `buy` payment: P5.
    Buy,
    /// `complete` of a `tokenize` payment: P6.
    Tokenize,
    /// `complete` of a `buy_and_tokenize` payment: P6, then P5.
    BuyAndTokenize,
    /// `charge_customer_token`: T2 (keyed).
    Charge,
    /// `capture` of 200.00 of an order (Order Management, keyed).
    Capture,
    /// `refund` of 50.00 of a captured order (Order Management, keyed).
    Refund,
}

/// How the first child dies.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// It aborts itself at a crash point.
    Abort(CrashPoint),
    /// The parent SIGKILLs it while Klarna holds its request (operation name), before the
    /// effect: the simulator abandons the request when the connection goes. The parent kills
    /// once the simulator reports the request held and restarts once it reports it abandoned.
    KilledInFlight(&'static str),
}

/// The one outcome a run must end with, after the last restart reconciled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Ordered with the one order Klarna has under the payment's `merchant_reference1`
    /// (`buy_and_tokenize`: and its one customer token).
    Ordered,
    /// Tokenized with the one customer token Klarna made.
    Tokenized,
    /// `NeedsReview`: Klarna made the order (exactly one, uncaptured) but no answer gave its
    /// id; the reason names `merchant_reference1` and the key. An operator then resolves it
    /// with that order, and the payment is ordered with it.
    ReviewOrderResolved,
    /// `NeedsReview`: Klarna made the customer token (one) but no answer gave it, and a P6
    /// replay is refused; no order exists; the reason names the key.
    ReviewTokenLost,
    /// Exactly one capture at Klarna; the ledger equals Klarna's.
    OneCapture,
    /// Exactly one refund at Klarna; the ledger equals Klarna's.
    OneRefund,
}

/// One crash point.
#[derive(Clone, Copy, Debug)]
struct Point {
    flow: Flow,
    death: Death,
    /// A first restart that crashes too (inside the reconciler), at this point.
    reconciler_dies: Option<CrashPoint>,
    pessimistic: Expect,
    optimistic: Expect,
}

impl Point {
    fn expect(&self, policy: ReplayPolicy) -> Expect {
        match policy {
            ReplayPolicy::Pessimistic => self.pessimistic,
            ReplayPolicy::Optimistic => self.optimistic,
        }
    }
}

const fn point(
    flow: Flow,
    death: Death,
    reconciler_dies: Option<CrashPoint>,
    pessimistic: Expect,
    optimistic: Expect,
) -> Point {
    Point {
        flow,
        death,
        reconciler_dies,
        pessimistic,
        optimistic,
    }
}

use CrashPoint::{
    AfterAnswer, AfterOrderAnswer, AfterOrderPendingWrite, AfterPendingWrite, AfterTokenRecorded,
};
use Death::{Abort, KilledInFlight};
use Expect::{OneCapture, OneRefund, Ordered, ReviewOrderResolved, ReviewTokenLost, Tokenized};
use Flow::{Buy, BuyAndTokenize, Capture, Charge, Refund, Tokenize};

const P5: &str = "payments.create_order";
const P6: &str = "payments.create_customer_token";
const T2: &str = "tokens.create_order";
const CAPTURE: &str = "orders.capture";
const REFUND: &str = "orders.refund";

/// Every point, with its exact outcome under each replay policy.
const POINTS: [Point; 31] = [
    // buy: P5.
    point(Buy, Abort(AfterPendingWrite), None, Ordered, Ordered),
    point(Buy, KilledInFlight(P5), None, Ordered, Ordered),
    point(Buy, Abort(AfterAnswer), None, ReviewOrderResolved, Ordered),
    // The reconciler sends P5 (nothing was sent), Klarna makes the order, the reconciler dies.
    point(
        Buy,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        ReviewOrderResolved,
        Ordered,
    ),
    // tokenize: P6.
    point(
        Tokenize,
        Abort(AfterPendingWrite),
        None,
        Tokenized,
        Tokenized,
    ),
    point(Tokenize, KilledInFlight(P6), None, Tokenized, Tokenized),
    point(
        Tokenize,
        Abort(AfterAnswer),
        None,
        ReviewTokenLost,
        Tokenized,
    ),
    point(
        Tokenize,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        ReviewTokenLost,
        Tokenized,
    ),
    // buy_and_tokenize: P6, then P5.
    point(
        BuyAndTokenize,
        Abort(AfterPendingWrite),
        None,
        Ordered,
        Ordered,
    ),
    point(BuyAndTokenize, KilledInFlight(P6), None, Ordered, Ordered),
    point(
        BuyAndTokenize,
        Abort(AfterAnswer),
        None,
        ReviewTokenLost,
        Ordered,
    ),
    point(
        BuyAndTokenize,
        Abort(AfterTokenRecorded),
        None,
        Ordered,
        Ordered,
    ),
    point(
        BuyAndTokenize,
        Abort(AfterOrderPendingWrite),
        None,
        Ordered,
        Ordered,
    ),
    point(BuyAndTokenize, KilledInFlight(P5), None, Ordered, Ordered),
    point(
        BuyAndTokenize,
        Abort(AfterOrderAnswer),
        None,
        ReviewOrderResolved,
        Ordered,
    ),
    // Inside the reconciler, which finishes what the first child left: P6, then P5.
    point(
        BuyAndTokenize,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        ReviewTokenLost,
        Ordered,
    ),
    point(
        BuyAndTokenize,
        Abort(AfterPendingWrite),
        Some(AfterTokenRecorded),
        Ordered,
        Ordered,
    ),
    point(
        BuyAndTokenize,
        Abort(AfterPendingWrite),
        Some(AfterOrderPendingWrite),
        Ordered,
        Ordered,
    ),
    point(
        BuyAndTokenize,
        Abort(AfterPendingWrite),
        Some(AfterOrderAnswer),
        ReviewOrderResolved,
        Ordered,
    ),
    // A token charge: T2, replayed by key under both policies.
    point(Charge, Abort(AfterPendingWrite), None, Ordered, Ordered),
    point(Charge, KilledInFlight(T2), None, Ordered, Ordered),
    point(Charge, Abort(AfterAnswer), None, Ordered, Ordered),
    point(
        Charge,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        Ordered,
        Ordered,
    ),
    // Order Management, replayed by key under both policies.
    point(
        Capture,
        Abort(AfterPendingWrite),
        None,
        OneCapture,
        OneCapture,
    ),
    point(
        Capture,
        KilledInFlight(CAPTURE),
        None,
        OneCapture,
        OneCapture,
    ),
    point(Capture, Abort(AfterAnswer), None, OneCapture, OneCapture),
    point(
        Capture,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        OneCapture,
        OneCapture,
    ),
    point(Refund, Abort(AfterPendingWrite), None, OneRefund, OneRefund),
    point(Refund, KilledInFlight(REFUND), None, OneRefund, OneRefund),
    point(Refund, Abort(AfterAnswer), None, OneRefund, OneRefund),
    point(
        Refund,
        Abort(AfterPendingWrite),
        Some(AfterAnswer),
        OneRefund,
        OneRefund,
    ),
];

/// One lane's fixtures: its simulator, database, store key and a pool on it.
struct Lane {
    /// Charges made so far (their ids are unique in the lane's database and simulator).
    charges: AtomicUsize,
    /// The HTTP client every service of the lane shares.
    client: KlarnaClient,
    /// The caller's service (system clock, no crash point) for the setup.
    svc: Service,
    sim: Simulator,
    db: Db,
    key: StoreKey,
    store: SqlStore,
}

/// What the child runs, as environment variables.
type Envs = Vec<(&'static str, String)>;

impl Lane {
    /// Spawns the crash child with `envs`, kills it in flight if asked, and asserts that it
    /// died.
    async fn run_child(&self, death: Death, restart: Option<u32>, envs: &Envs) {
        let point = match death {
            Death::Abort(p) => p,
            Death::KilledInFlight(_) => CrashPoint::None,
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klarna-crash-child"));
        cmd.env("CRASH_POINT", point.name())
            .env("DB_URL", self.db.url())
            .env("STORE_KEY", self.key.expose_hex())
            .env("SIM_URL", self.sim.base_url())
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(s) = self.db.schema() {
            cmd.env("DB_SCHEMA", s);
        }
        if let Some(roots) = one_root() {
            // The child talks plain HTTP to the loopback simulator; reading the platform's
            // whole trust store (as every HTTP client does at start) is most of its start-up.
            cmd.env("SSL_CERT_FILE", roots)
                .env("SSL_CERT_DIR", roots.with_extension("none"));
        }
        if let Some(n) = restart {
            cmd.env("RESTART", n.to_string());
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let killed_in_flight = match death {
            Death::KilledInFlight(op) => {
                // Klarna holds the request (far longer than the test) before acting on it.
                self.sim
                    .add_fault(FaultRule::new(op, 1, Fault::Latency { ms: 60_000 }));
                Some((op, self.sim.stats()))
            }
            Death::Abort(_) => None,
        };
        let mut child = cmd.spawn().expect("child starts");
        if let Some((op, before)) = &killed_in_flight {
            // Until Klarna holds the request: the hold has begun, so the fault is taken and the
            // effect not had. (The request counter is no such signal: it counts the request
            // before the fault is taken, and a fault cleared in between lets the call through
            // at once, with its effect.) Then kill the child mid-call.
            self.stats_when(&format!("the child never had {op} held"), |s| {
                s.held(op) > before.held(op)
            })
            .await;
            child.kill().expect("SIGKILL");
        }
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait");
        assert!(
            !out.status.success(),
            "the child should have died at {death:?} (restart {restart:?}) but ended: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        if let Some((op, before)) = &killed_in_flight {
            // Klarna notices the closed connection and abandons the request it held, before its
            // effect (for a keyed operation, its key leaves flight first): a restart happens
            // later than that. The simulator says so; nothing here assumes it from time.
            self.stats_when("the simulator never abandoned the killed request", |s| {
                s.abandoned(op) > before.abandoned(op)
            })
            .await;
        }
        self.sim.clear_faults();
    }

    /// Waits (bounded) until the lane's simulator counters satisfy `ready`.
    async fn stats_when(&self, what: &str, ready: impl FnMut(&klarna_simulator::Stats) -> bool) {
        tokio::time::timeout(Duration::from_secs(30), self.sim.stats_when(ready))
            .await
            .unwrap_or_else(|_| panic!("{what} (in 30 s)"));
    }

    fn tokens_at_klarna(&self) -> usize {
        self.sim.engine().population().customer_tokens
    }

    /// The orders Klarna holds under `merchant_reference1` = `id`.
    fn orders_of(&self, id: &PaymentId) -> Vec<klarna_simulator::OrderSummary> {
        self.sim
            .orders()
            .into_iter()
            .filter(|o| o.merchant_reference1.as_deref() == Some(id.as_str()))
            .collect()
    }
}

/// A PEM file with the first certificate of the platform's trust store (`None` when there is
/// no such file: then the children read the whole store, which is only slower).
fn one_root() -> Option<&'static std::path::Path> {
    static ROOT: std::sync::OnceLock<Option<(tempfile::TempDir, std::path::PathBuf)>> =
        std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let bundle = [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())?;
        let end = "-----END CERTIFICATE-----";
        let start = bundle.find("-----BEGIN CERTIFICATE-----")?;
        let stop = bundle[start..].find(end)? + start + end.len();
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("one-root.pem");
        std::fs::write(&path, format!("{}\n", &bundle[start..stop])).ok()?;
        Some((dir, path))
    })
    .as_ref()
    .map(|(_, p)| p.as_path())
}

/// Everything a run made before the child starts.
struct Setup {
    /// The payment the child completes or charges (for Order Management: the order's).
    payment: PaymentId,
    /// Its authorization (complete flows).
    authorization: Option<String>,
    /// The customer token charged (charge flow).
    token: Option<CustomerTokenId>,
    /// The order (Order Management flows).
    order: Option<OrderId>,
    envs: Envs,
}

async fn checkout(lane: &Lane, intent: Intent) -> (PaymentId, String) {
    let c = lane
        .svc
        .start_checkout(Purchase::new(intent, crash_cart(intent != Intent::Buy)).expect("purchase"))
        .await
        .expect("checkout");
    let token = lane
        .sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .expect("shopper")
        .authorization_token
        .expect("approved");
    (c.payment_id, token)
}

async fn setup(lane: &Lane, flow: Flow) -> Setup {
    let svc = &lane.svc;
    let complete = |intent| async move {
        let (payment, auth) = checkout(lane, intent).await;
        svc_complete(lane, &payment, &auth).await
    };
    match flow {
        Buy | Tokenize | BuyAndTokenize => {
            let intent = match flow {
                Buy => Intent::Buy,
                Tokenize => Intent::Tokenize,
                _ => Intent::BuyAndTokenize,
            };
            let (payment, auth) = checkout(lane, intent).await;
            let envs = vec![
                ("OPERATION", "complete".to_owned()),
                ("PAYMENT_ID", payment.to_string()),
                ("AUTH_TOKEN", auth.clone()),
            ];
            Setup {
                payment,
                authorization: Some(auth),
                token: None,
                order: None,
                envs,
            }
        }
        Charge => {
            let tokenized = complete(Intent::Tokenize).await;
            let token = tokenized.customer_token().expect("token").clone();
            let n = lane.charges.fetch_add(1, Ordering::SeqCst);
            let payment = PaymentId::new(format!("charge-{n}")).unwrap();
            let envs = vec![
                ("OPERATION", "charge".to_owned()),
                ("PAYMENT_ID", payment.to_string()),
                ("CUSTOMER_TOKEN", token.expose_secret().to_owned()),
            ];
            Setup {
                payment,
                authorization: None,
                token: Some(token),
                order: None,
                envs,
            }
        }
        Capture | Refund => {
            let ordered = complete(Intent::Buy).await;
            let payment = ordered.id().clone();
            let order = ordered.order_id().expect("order").clone();
            let (op, amount) = if flow == Capture {
                ("capture", "20000")
            } else {
                svc.capture(&order, Amount::new(20_000).unwrap())
                    .await
                    .expect("capture before the refund");
                ("refund", "5000")
            };
            let envs = vec![
                ("OPERATION", op.to_owned()),
                ("ORDER_ID", order.to_string()),
                ("AMOUNT", amount.to_owned()),
            ];
            Setup {
                payment,
                authorization: None,
                token: None,
                order: Some(order),
                envs,
            }
        }
    }
}

async fn svc_complete(lane: &Lane, id: &PaymentId, auth: &str) -> AnyPayment {
    let svc = &lane.svc;
    svc.complete(id, AuthorizationToken::new(auth.to_owned()).unwrap())
        .await
        .expect("setup completes");
    svc.payment(id).await.expect("stored")
}

/// One run of a point; answers the stage the payment (or, for Order Management, the order's
/// payment) reached.
async fn run(lane: &Lane, p: Point, policy: ReplayPolicy) -> String {
    let s = setup(lane, p.flow).await;
    let tokens_before = lane.tokens_at_klarna();
    let ctx = format!("{:?} / {policy:?} / payment {}", p, s.payment);
    lane.run_child(p.death, None, &s.envs).await;
    let mut restart = 1;
    if let Some(point) = p.reconciler_dies {
        lane.run_child(
            Death::Abort(point),
            Some(restart),
            &vec![("OPERATION", "reconcile".to_owned())],
        )
        .await;
        restart += 1;
    }
    // The last restart: later again, on the same database.
    let svc = service_with(
        &lane.client,
        lane.store.clone(),
        CrashPoint::None,
        restarted_clock(restart),
    );
    svc.reconcile_all().await.expect("reconcile");
    let new_tokens = lane.tokens_at_klarna() - tokens_before;
    let orders = lane.orders_of(&s.payment);
    let stored = svc.payment(&s.payment).await.expect("payment survives");
    let expect = p.expect(policy);
    let reached = format!("{:?}", stored.kind());
    match expect {
        Ordered => {
            assert_eq!(stored.kind(), StageKind::Ordered, "{ctx}: {stored:?}");
            assert_eq!(orders.len(), 1, "{ctx}: orders at Klarna {orders:?}");
            assert_eq!(
                stored.order_id().map(OrderId::as_str),
                Some(orders[0].order_id.as_str()),
                "{ctx}: recorded the wrong order"
            );
            let tokens = usize::from(p.flow == BuyAndTokenize);
            assert_eq!(new_tokens, tokens, "{ctx}: customer tokens at Klarna");
            assert_eq!(
                stored.customer_token().is_some(),
                p.flow == BuyAndTokenize,
                "{ctx}: customer token recorded"
            );
            assert_eq!(orders[0].captured_amount, 0, "{ctx}");
            // The caller's retry answers the recorded order, and Klarna makes no second one.
            let again = match (&s.authorization, &s.token) {
                (Some(auth), _) => svc
                    .complete(&s.payment, AuthorizationToken::new(auth.clone()).unwrap())
                    .await
                    .expect("retry")
                    .order()
                    .map(|o| o.order_id().clone()),
                (None, Some(token)) => Some(
                    svc.charge_customer_token(ChargeRequest {
                        merchant: Default::default(),
                        payment_id: s.payment.clone(),
                        token: token.clone(),
                        cart: crash_cart(true),
                    })
                    .await
                    .expect("retry")
                    .order_id()
                    .clone(),
                ),
                (None, None) => unreachable!("{ctx}: a payment flow without a source"),
            };
            assert_eq!(again.as_ref(), stored.order_id(), "{ctx}: retry");
            assert_eq!(lane.orders_of(&s.payment).len(), 1, "{ctx}: retry ordered");
        }
        Tokenized => {
            assert_eq!(stored.kind(), StageKind::Tokenized, "{ctx}: {stored:?}");
            assert_eq!(new_tokens, 1, "{ctx}: customer tokens at Klarna");
            assert!(orders.is_empty(), "{ctx}: orders {orders:?}");
            let token = stored.customer_token().expect("token recorded").clone();
            let again = svc
                .complete(
                    &s.payment,
                    AuthorizationToken::new(s.authorization.clone().unwrap()).unwrap(),
                )
                .await
                .expect("retry");
            assert_eq!(again.token(), Some(&token), "{ctx}: retry");
            assert_eq!(lane.tokens_at_klarna() - tokens_before, 1, "{ctx}: retry");
        }
        ReviewOrderResolved => {
            let AnyPayment::NeedsReview(review) = &stored else {
                panic!("{ctx}: expected review, got {stored:?}");
            };
            assert_eq!(orders.len(), 1, "{ctx}: orders at Klarna {orders:?}");
            assert_eq!(orders[0].captured_amount, 0, "{ctx}");
            let key = review.key().expect("the review names its key");
            assert!(
                review
                    .reason()
                    .contains(&format!("merchant_reference1 = {}", s.payment))
                    && review.reason().contains(key.as_str()),
                "{ctx}: reason {:?}",
                review.reason()
            );
            assert_eq!(
                new_tokens,
                usize::from(p.flow == BuyAndTokenize),
                "{ctx}: tokens"
            );
            // The operator finds the order at Klarna and names it.
            let order = OrderId::new(orders[0].order_id.clone()).unwrap();
            let resolved = svc
                .resolve_with_order(&s.payment, &order)
                .await
                .expect("resolve");
            assert_eq!(resolved.kind(), StageKind::Ordered, "{ctx}: {resolved:?}");
            assert_eq!(resolved.order_id(), Some(&order), "{ctx}");
            assert_eq!(
                resolved.customer_token().is_some(),
                p.flow == BuyAndTokenize,
                "{ctx}: token kept"
            );
            let managed = svc.order(&order).await.expect("managed order created");
            assert_eq!(managed.captured(), 0, "{ctx}");
            assert_eq!(lane.orders_of(&s.payment).len(), 1, "{ctx}");
            return "NeedsReview, resolved: Ordered".to_owned();
        }
        ReviewTokenLost => {
            let AnyPayment::NeedsReview(review) = &stored else {
                panic!("{ctx}: expected review, got {stored:?}");
            };
            let key = review.key().expect("the review names its key");
            assert!(
                review.reason().contains(key.as_str()),
                "{ctx}: reason {:?}",
                review.reason()
            );
            assert_eq!(new_tokens, 1, "{ctx}: customer tokens at Klarna");
            assert!(orders.is_empty(), "{ctx}: nobody was charged: {orders:?}");
        }
        OneCapture | OneRefund => {
            let order = s.order.clone().expect("order");
            let local = svc.order(&order).await.expect("order stored");
            let remote = lane.sim.order(order.as_str()).expect("order at Klarna");
            assert!(local.pending().is_none(), "{ctx}: still in doubt");
            assert_eq!(remote.captures, 1, "{ctx}: captures at Klarna");
            assert_eq!(remote.captured_amount, 20_000, "{ctx}");
            assert_eq!(local.captured(), remote.captured_amount, "{ctx}: ledger");
            let refunds = usize::from(expect == OneRefund);
            assert_eq!(remote.refunds, refunds, "{ctx}: refunds at Klarna");
            assert_eq!(
                remote.refunded_amount,
                if refunds == 1 { 5_000 } else { 0 },
                "{ctx}"
            );
            assert_eq!(local.refunded(), remote.refunded_amount, "{ctx}: ledger");
            assert_eq!(new_tokens, 0, "{ctx}");
            assert_eq!(stored.kind(), StageKind::Ordered, "{ctx}");
            return format!("order {:?}", local.status());
        }
    }
    reached
}

/// Runs every point `runs` times on fresh lanes from `db`, concurrently, and reports.
async fn all(
    db: impl Fn() -> Option<Db>,
    backend: &str,
    policy: ReplayPolicy,
    runs: usize,
) -> Vec<String> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(LANES_AT_ONCE));
    let executed: Arc<Vec<AtomicUsize>> =
        Arc::new(POINTS.iter().map(|_| AtomicUsize::new(0)).collect());
    let mut lanes = Vec::new();
    for (i, p) in POINTS.into_iter().enumerate() {
        let Some(db) = db() else {
            return Vec::new();
        };
        let (gate, executed) = (Arc::clone(&gate), Arc::clone(&executed));
        lanes.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            let sim = Simulator::builder()
                .replay(policy)
                .start()
                .await
                .expect("simulator");
            let key = StoreKey::generate();
            let store = db.store(&key, 4).await;
            let client = client(sim.base_url());
            let lane = Lane {
                charges: AtomicUsize::new(0),
                svc: service_with(
                    &client,
                    store.clone(),
                    CrashPoint::None,
                    Arc::new(SystemClock),
                ),
                client,
                sim,
                db,
                key,
                store,
            };
            let mut stages = BTreeMap::<String, usize>::new();
            for _ in 0..runs {
                let reached = run(&lane, p, policy).await;
                *stages.entry(reached).or_default() += 1;
                executed[i].fetch_add(1, Ordering::SeqCst);
            }
            stages
        }));
    }
    let mut stages = BTreeMap::<String, usize>::new();
    let mut failed = Vec::new();
    for lane in lanes {
        match lane.await {
            Ok(reached) => {
                for (stage, n) in reached {
                    *stages.entry(stage).or_default() += n;
                }
            }
            // Every lane runs to its end or its first failure; all failures are reported.
            Err(e) => failed.push(match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            }),
        }
    }
    for (i, p) in POINTS.iter().enumerate() {
        let done = executed[i].load(Ordering::SeqCst);
        if done != runs && failed.is_empty() {
            failed.push(format!("{p:?}: {done} of {runs} runs executed"));
        }
    }
    let total: usize = stages.values().sum();
    if failed.is_empty() {
        assert_eq!(total, runs * POINTS.len(), "runs reported");
    }
    eprintln!(
        "crash suite {backend} {}: {} points x {runs} runs: {total} runs passed, {} points failed, in {:.1} s; stages reached (after the operator's resolution or the caller's retry where the point needs one; captures and refunds: the order's status): {stages:?}",
        policy.as_str(),
        POINTS.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    failed
        .into_iter()
        .map(|f| format!("{backend} {}: {f}", policy.as_str()))
        .collect()
}

/// Both policies on one backend; fails with every failed point of both.
async fn both_policies(db: impl Fn() -> Option<Db> + Copy, backend: &str) {
    let mut failed = all(db, backend, ReplayPolicy::Pessimistic, RUNS_PESSIMISTIC).await;
    failed.extend(all(db, backend, ReplayPolicy::Optimistic, RUNS_OPTIMISTIC).await);
    assert!(
        failed.is_empty(),
        "{} crash points failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_end_in_their_exact_stage_on_sqlite() {
    both_policies(|| Some(Db::sqlite()), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_end_in_their_exact_stage_on_postgres() {
    both_policies(Db::postgres, "postgres").await;
}
