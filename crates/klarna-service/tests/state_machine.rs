//! Model-based test (proptest-state-machine): random workloads with random faults and racing
//! callers, driven through the service over the in-memory store and the scripted fake Klarna.
//!
//! After every step: no duplicate orders (at most one order per payment at Klarna), no
//! phantom orders, no over-capture or over-refund, locally or at Klarna, and the local ledger
//! never runs ahead of Klarna's. After every reconciliation (and at the end): no lost orders —
//! every order Klarna created is recorded on its payment, with Klarna's captured and refunded
//! amounts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::HashMap;
use std::sync::Arc;

use klarna_domain::{
    Amount, AnyPayment, AuthorizationToken, Cart, Intent, Interval, Market, OrderLine, PaymentId,
    Purchase, Span, StageKind, Timestamp,
};
use klarna_ports::fake::{FakeKlarna, Fault};
use klarna_ports::{ManualClock, PaymentStore, SequentialKeys};
use klarna_service::{AuthorizedVia, ChargeRequest, PaymentService, ServiceConfig};
use klarna_store_memory::InMemoryStore;
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

type Svc = PaymentService<FakeKlarna, InMemoryStore, ManualClock, SequentialKeys>;

/// Klarna's idempotency window is 24 h; the model keeps every run inside it, so that an
/// in-doubt operation can always be resolved by replay and "lost" has no excuse.
const MAX_ELAPSED_MINUTES: u32 = 20 * 60;

#[derive(Clone, Debug)]
struct Model {
    elapsed_minutes: u32,
}

#[derive(Clone, Debug)]
enum Step {
    Start(Intent, i64),
    Authorize(usize),
    Complete(usize, Fault),
    Race(usize),
    Charge(usize, u8, Fault),
    Capture(usize, u8, Fault),
    Refund(usize, u8, Fault),
    CancelOrder(usize, Fault),
    Advance(u32),
    Reconcile,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::None),
        1 => Just(Fault::LostResponse),
        1 => Just(Fault::TimeoutBefore),
        1 => Just(Fault::ServerError),
        1 => Just(Fault::Unreachable),
    ]
}

impl ReferenceStateMachine for Model {
    type State = Self;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Self> {
        Just(Self { elapsed_minutes: 0 }).boxed()
    }

    fn transitions(_: &Self) -> BoxedStrategy<Step> {
        let intent = prop_oneof![
            Just(Intent::Buy),
            Just(Intent::Tokenize),
            Just(Intent::BuyAndTokenize)
        ];
        prop_oneof![
            3 => (intent, 100_i64..50_000).prop_map(|(i, p)| Step::Start(i, p)),
            3 => (0_usize..8).prop_map(Step::Authorize),
            4 => (0_usize..8, fault()).prop_map(|(i, f)| Step::Complete(i, f)),
            1 => (0_usize..8).prop_map(Step::Race),
            2 => (0_usize..4, 0_u8..4, fault()).prop_map(|(t, n, f)| Step::Charge(t, n, f)),
            3 => (0_usize..8, 0_u8..=120, fault()).prop_map(|(o, p, f)| Step::Capture(o, p, f)),
            2 => (0_usize..8, 0_u8..=120, fault()).prop_map(|(o, p, f)| Step::Refund(o, p, f)),
            1 => (0_usize..8, fault()).prop_map(|(o, f)| Step::CancelOrder(o, f)),
            1 => (0_u32..=70).prop_map(Step::Advance),
            2 => Just(Step::Reconcile),
        ]
        .boxed()
    }

    fn preconditions(state: &Self, step: &Step) -> bool {
        match step {
            Step::Advance(m) => state.elapsed_minutes + m < MAX_ELAPSED_MINUTES,
            Step::Reconcile => state.elapsed_minutes < MAX_ELAPSED_MINUTES,
            _ => true,
        }
    }

    fn apply(mut state: Self, step: &Step) -> Self {
        match step {
            Step::Advance(m) => state.elapsed_minutes += m,
            Step::Reconcile => state.elapsed_minutes += 1,
            _ => {}
        }
        state
    }
}

struct Sut {
    rt: tokio::runtime::Runtime,
    svc: Svc,
    store: Arc<InMemoryStore>,
    fake: Arc<FakeKlarna>,
    clock: Arc<ManualClock>,
    payments: Vec<PaymentId>,
}

fn cart(intent: Intent, price: i64) -> Cart {
    match intent {
        Intent::Buy => Cart::new(
            Market::parse("SE", "SEK", "sv-SE").unwrap(),
            vec![
                OrderLine::builder("Shoe", 2, price)
                    .tax_rate(2_500)
                    .build()
                    .unwrap(),
            ],
        )
        .unwrap(),
        Intent::Tokenize | Intent::BuyAndTokenize => Cart::new(
            Market::parse("US", "USD", "en-US").unwrap(),
            vec![
                OrderLine::builder("Plan", 1, price)
                    .subscription("Plan", Interval::Month, 1)
                    .build()
                    .unwrap(),
            ],
        )
        .unwrap(),
    }
}

/// At least one minor unit (with nothing left to capture or refund, the ledger refuses it).
fn positive(minor: i64) -> Amount {
    Amount::new(minor.max(1)).unwrap()
}

impl Sut {
    /// The authorization recorded on the payment. Without one, completing was refused or
    /// answered from the stored stage without a call (open, or past its order), so the model
    /// skips it.
    async fn recorded_token(&self, id: &PaymentId) -> Option<AuthorizationToken> {
        self.svc
            .payment(id)
            .await
            .unwrap()
            .authorization_token()
            .cloned()
    }

    fn payment(&self, i: usize) -> Option<PaymentId> {
        (!self.payments.is_empty()).then(|| self.payments[i % self.payments.len()].clone())
    }

    async fn all_payments(&self) -> Vec<klarna_domain::AnyPayment> {
        self.store
            .list_payments(usize::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.value)
            .collect()
    }

    async fn orders(&self) -> Vec<klarna_domain::OrderId> {
        let mut ids: Vec<_> = self
            .all_payments()
            .await
            .iter()
            .filter_map(|p| p.order_id().cloned())
            .collect();
        ids.sort();
        ids
    }

    async fn tokens(&self) -> Vec<klarna_domain::CustomerTokenId> {
        self.all_payments()
            .await
            .iter()
            .filter_map(|p| p.customer_token().cloned())
            .collect()
    }

    async fn step(&mut self, step: Step) {
        match step {
            Step::Start(intent, price) => {
                let Ok(purchase) = Purchase::new(intent, cart(intent, price)) else {
                    return;
                };
                if let Ok(c) = self.svc.start_checkout(purchase).await {
                    self.payments.push(c.payment_id);
                }
            }
            Step::Authorize(i) => {
                let Some(id) = self.payment(i) else { return };
                let p = self.svc.payment(&id).await.unwrap();
                if let (Some(session), StageKind::Open | StageKind::Authorized) =
                    (p.session_id(), p.kind())
                {
                    let token = self.fake.authorize(session);
                    let _ = self.svc.authorize(AuthorizedVia::Browser(&id), token).await;
                }
            }
            Step::Complete(i, f) => {
                let Some(id) = self.payment(i) else { return };
                let Some(token) = self.recorded_token(&id).await else {
                    return;
                };
                self.fake.script([f]);
                let _ = self.svc.complete(&id, token).await;
            }
            Step::Race(i) => {
                let Some(id) = self.payment(i) else { return };
                let Some(token) = self.recorded_token(&id).await else {
                    return;
                };
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let (svc, id, token) = (self.svc.clone(), id.clone(), token.clone());
                        tokio::spawn(async move { svc.complete(&id, token).await })
                    })
                    .collect();
                for t in tasks {
                    let _ = t.await.unwrap();
                }
            }
            Step::Charge(t, n, f) => {
                let tokens = self.tokens().await;
                if tokens.is_empty() {
                    return;
                }
                let token = tokens[t % tokens.len()].clone();
                self.fake.script([f]);
                let payment_id =
                    PaymentId::new(format!("charge-{}-{n}", t % tokens.len())).unwrap();
                let _ = self
                    .svc
                    .charge_customer_token(ChargeRequest {
                        merchant: Default::default(),
                        payment_id,
                        token,
                        cart: cart(Intent::Tokenize, 999),
                    })
                    .await;
            }
            Step::Capture(o, pct, f) | Step::Refund(o, pct, f) => {
                let orders = self.orders().await;
                if orders.is_empty() {
                    return;
                }
                let id = &orders[o % orders.len()];
                let Ok(order) = self.svc.order(id).await else {
                    return;
                };
                self.fake.script([f]);
                if matches!(step, Step::Capture(..)) {
                    let amount = (order.order_amount() - order.captured()) * i64::from(pct) / 100;
                    let _ = self.svc.capture(id, positive(amount)).await;
                } else {
                    let amount = (order.captured() - order.refunded()) * i64::from(pct) / 100;
                    let _ = self.svc.refund(id, positive(amount)).await;
                }
            }
            Step::CancelOrder(o, f) => {
                let orders = self.orders().await;
                if orders.is_empty() {
                    return;
                }
                self.fake.script([f]);
                let _ = self.svc.cancel_order(&orders[o % orders.len()]).await;
            }
            Step::Advance(m) => self.clock.advance(Span::minutes(i64::from(m))),
            Step::Reconcile => {
                self.clock.advance(Span::minutes(3));
                self.svc.reconcile_all().await.unwrap();
                self.check_nothing_lost().await;
            }
        }
    }

    /// Invariants that hold after every step.
    async fn check_safety(&self) {
        let fake = self.fake.orders();
        let mut per_payment: HashMap<&str, usize> = HashMap::new();
        for o in &fake {
            *per_payment
                .entry(o.merchant_reference1.as_str())
                .or_default() += 1;
            assert!(o.captured <= o.amount, "over-capture at Klarna: {o:?}");
            assert!(o.refunded <= o.captured, "over-refund at Klarna: {o:?}");
        }
        for (p, n) in &per_payment {
            assert_eq!(*n, 1, "payment {p} has {n} orders at Klarna");
        }
        for p in self.all_payments().await {
            let Some(order_id) = p.order_id() else {
                continue;
            };
            let remote = fake
                .iter()
                .find(|o| &o.order_id == order_id)
                .unwrap_or_else(|| panic!("phantom order {order_id}"));
            assert_eq!(remote.merchant_reference1, p.id().as_str());
            assert_eq!(remote.amount, p.cart().total().minor());
            if let Some(local) = self.store.load_order(order_id).await.unwrap() {
                let l = local.value;
                assert!(
                    l.refunded() <= l.captured() && l.captured() <= l.order_amount(),
                    "local ledger broken: {l:?}"
                );
                assert!(
                    l.captured() <= remote.captured,
                    "local captured runs ahead of Klarna"
                );
                assert!(
                    l.refunded() <= remote.refunded,
                    "local refunded runs ahead of Klarna"
                );
            }
        }
    }

    /// After reconciliation: every order Klarna created is recorded, with Klarna's amounts.
    async fn check_nothing_lost(&self) {
        let payments = self.all_payments().await;
        for o in self.fake.orders() {
            let p = payments
                .iter()
                .find(|p| p.id().as_str() == o.merchant_reference1)
                .unwrap_or_else(|| panic!("Klarna order {} has no payment", o.order_id));
            if let AnyPayment::NeedsReview(r) = p {
                // Klarna replays no key on the Payments API, and its session read carries no
                // order id: an order whose answer was lost is not guessed. It is not lost
                // either: the review names where to find it, and nobody could touch it.
                assert!(
                    r.reason().contains("merchant_reference1") && r.key().is_some(),
                    "review without its evidence: {r:?}"
                );
                assert_eq!((o.captured, o.refunded), (0, 0), "{o:?}");
                continue;
            }
            assert_eq!(
                p.order_id(),
                Some(&o.order_id),
                "lost order {}: payment is {:?}",
                o.order_id,
                p.kind()
            );
            let local = self
                .store
                .load_order(&o.order_id)
                .await
                .unwrap()
                .expect("managed order recorded")
                .value;
            assert!(
                local.pending().is_none(),
                "operation still pending after reconciliation: {local:?}"
            );
            assert_eq!(
                (local.captured(), local.refunded()),
                (o.captured, o.refunded),
                "ledger differs from Klarna"
            );
        }
        for p in &payments {
            assert!(
                p.pending_op().is_none(),
                "payment {} still in doubt after reconciliation",
                p.id()
            );
        }
    }
}

struct ServiceMachine;

impl StateMachineTest for ServiceMachine {
    type SystemUnderTest = Sut;
    type Reference = Model;

    fn init_test(_: &Model) -> Sut {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fake = Arc::new(FakeKlarna::new());
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
            1_700_000_000_000,
        )));
        let svc = PaymentService::new(
            Arc::clone(&fake),
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::new(SequentialKeys::new("pay")),
            ServiceConfig::default(),
        );
        Sut {
            rt,
            svc,
            store,
            fake,
            clock,
            payments: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, _: &Model, step: Step) -> Sut {
        let rt = std::mem::replace(
            &mut sut.rt,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        );
        rt.block_on(sut.step(step));
        // A fault scripted for a call the step did not make must not hit a later step.
        sut.fake.clear_script();
        sut.rt = rt;
        sut
    }

    fn check_invariants(sut: &Sut, _: &Model) {
        sut.rt.block_on(sut.check_safety());
    }

    fn teardown(sut: Sut, _: Model) {
        sut.rt.block_on(async {
            sut.clock.advance(Span::minutes(3));
            sut.svc.reconcile_all().await.unwrap();
            sut.check_nothing_lost().await;
        });
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 1_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// 1,000 random workloads of up to 40 steps each, per run.
    #[test]
    fn service_never_duplicates_loses_or_over_captures(sequential 1..40 => ServiceMachine);
}
