//! Property tests of the lifecycle and ledger invariants, driven through the public API only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::HashMap;

use klarna_domain::order::{ManagedOrder, OmOperation, OmResult};
use klarna_domain::strategies::{cart_with, valid_cart};
use klarna_domain::{
    AnyPayment, AuthorizationToken, CaptureId, Cart, ClientToken, FraudStatus, IdempotencyKey,
    Intent, Money, OrderId, OrderSource, Payment, PaymentId, PlacedOrder, RefundId, Session,
    SessionId, Span, StageKind, Timestamp, Tokenization, time::lifetimes,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Cmd {
    UpdateCart(Cart),
    Authorize,
    BeginOrder,
    BeginToken,
    Attempt(bool),
    RecordOrder(u8),
    Refuse,
    Review,
    ResolveFraud(bool),
    Cancel,
    Advance(i64),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        1 => valid_cart().prop_map(Cmd::UpdateCart),
        3 => Just(Cmd::Authorize),
        3 => Just(Cmd::BeginOrder),
        2 => Just(Cmd::BeginToken),
        2 => any::<bool>().prop_map(Cmd::Attempt),
        3 => (0_u8..3).prop_map(Cmd::RecordOrder),
        1 => Just(Cmd::Refuse),
        1 => Just(Cmd::Review),
        1 => any::<bool>().prop_map(Cmd::ResolveFraud),
        1 => Just(Cmd::Cancel),
        2 => (0_i64..=3_000).prop_map(Cmd::Advance),
    ]
}

fn intent() -> impl Strategy<Value = Intent> {
    prop_oneof![
        Just(Intent::Buy),
        Just(Intent::Tokenize),
        Just(Intent::BuyAndTokenize)
    ]
}

struct World {
    now: Timestamp,
    seq: u32,
    orders_per_token: HashMap<String, u32>,
}

impl World {
    fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{}", self.seq)
    }
}

/// Applies one command the way the service would; refused transitions leave the payment as it was.
fn apply(p: AnyPayment, c: &Cmd, w: &mut World) -> AnyPayment {
    let now = w.now;
    match (p, c) {
        (AnyPayment::Open(p), Cmd::UpdateCart(cart)) => p
            .update_cart(cart.clone(), now)
            .map_or_else(|e| (*e.payment).into(), Into::into),
        (AnyPayment::Authorized(p), Cmd::UpdateCart(cart)) => p
            .update_cart(cart.clone(), now)
            .map_or_else(|e| (*e.payment).into(), |(o, _)| o.into()),
        (AnyPayment::Open(p), Cmd::Authorize) => {
            let t = AuthorizationToken::new(w.next("auth")).unwrap();
            p.authorize(t, now)
                .map_or_else(|e| (*e.payment).into(), Into::into)
        }
        (AnyPayment::Authorized(p), Cmd::Authorize) => {
            let t = AuthorizationToken::new(w.next("auth")).unwrap();
            p.reauthorize(t, now)
                .map_or_else(|e| (*e.payment).into(), Into::into)
        }
        (AnyPayment::Authorized(p), Cmd::BeginOrder) => {
            let k = IdempotencyKey::new(w.next("key")).unwrap();
            p.begin_order(k, now)
                .map_or_else(|e| (*e.payment).into(), Into::into)
        }
        (AnyPayment::Authorized(p), Cmd::BeginToken) => {
            let k = IdempotencyKey::new(w.next("key")).unwrap();
            p.begin_tokenization(k, now)
                .map_or_else(|e| (*e.payment).into(), Into::into)
        }
        (AnyPayment::Ordered(p), Cmd::BeginToken) => {
            let k = IdempotencyKey::new(w.next("key")).unwrap();
            p.begin_tokenization(k, now)
                .map_or_else(|e| (*e.payment).into(), Into::into)
        }
        (AnyPayment::OrderPending(p), Cmd::Attempt(u)) => p.attempted(*u).into(),
        (AnyPayment::TokenPending(p), Cmd::Attempt(u)) => p.attempted(*u).into(),
        (AnyPayment::OrderPending(p), Cmd::RecordOrder(f)) => {
            if let OrderSource::Authorization { authorization, .. } = p.source() {
                *w.orders_per_token
                    .entry(authorization.token().expose_secret().to_owned())
                    .or_default() += 1;
            }
            let fraud = [
                FraudStatus::Accepted,
                FraudStatus::Pending,
                FraudStatus::Rejected,
            ][usize::from(*f)];
            p.record_order(PlacedOrder::new(
                OrderId::new(w.next("order")).unwrap(),
                fraud,
                now,
            ))
            .into_any()
        }
        (AnyPayment::TokenPending(p), Cmd::RecordOrder(_)) => {
            let token = klarna_domain::CustomerTokenId::new(w.next("ct")).unwrap();
            if p.intent() == Intent::BuyAndTokenize {
                p.record_token_before_order(token).into()
            } else {
                p.record_token(token, now).into()
            }
        }
        (AnyPayment::Ordered(p), Cmd::RecordOrder(_)) => p
            .record_token(klarna_domain::CustomerTokenId::new(w.next("ct")).unwrap())
            .map_or_else(|e| (*e.payment).into(), Into::into),
        (AnyPayment::OrderPending(p), Cmd::Refuse) => p
            .record_refusal("REJECTED", now)
            .map_or_else(|e| (*e.payment).into(), Into::into),
        (AnyPayment::TokenPending(p), Cmd::Refuse) => p
            .record_refusal("REJECTED", now)
            .map_or_else(|e| (*e.payment).into(), Into::into),
        (AnyPayment::OrderPending(p), Cmd::Review) => p.needs_review("unresolved", now).into(),
        (AnyPayment::FraudReview(p), Cmd::ResolveFraud(ok)) => p.resolve(*ok, now),
        (AnyPayment::Open(p), Cmd::Cancel) => p.cancel(now).into(),
        (AnyPayment::Authorized(p), Cmd::Cancel) => p.cancel(now).into(),
        (AnyPayment::FraudReview(p), Cmd::Cancel) => p.cancel(now).into(),
        (AnyPayment::Ordered(p), Cmd::Cancel) => p.cancel(now).into(),
        (p, Cmd::Advance(minutes)) => {
            w.now = w.now.plus(Span::minutes(*minutes));
            p.expire(w.now)
        }
        (p, _) => p,
    }
}

fn open(intent: Intent, cart: Cart) -> AnyPayment {
    let session = Session::new(
        SessionId::new("s-1").unwrap(),
        ClientToken::new("ct-secret").unwrap(),
        Timestamp::EPOCH.plus(lifetimes::SESSION),
    );
    Payment::open(
        PaymentId::new("pay-1").unwrap(),
        intent,
        cart,
        session,
        Timestamp::EPOCH,
    )
    .into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// At most one order per authorization; no order or token for a cart other than the
    /// authorized one; terminal stages absorb; pending stages never expire.
    #[test]
    fn lifecycle_invariants(intent in intent(), cart in valid_cart(), cmds in proptest::collection::vec(cmd(), 1..60)) {
        let mut w = World { now: Timestamp::EPOCH, seq: 0, orders_per_token: HashMap::new() };
        let mut p = open(intent, cart);
        for c in &cmds {
            let before = p.clone();
            p = apply(p, c, &mut w);
            // Terminal stages absorb every command.
            if before.kind().is_terminal() {
                prop_assert_eq!(&p, &before);
            }
            // In-doubt stages never silently disappear through the clock.
            if before.pending_op().is_some() && matches!(c, Cmd::Advance(_)) {
                prop_assert_eq!(&p, &before);
            }
            // What is being ordered or tokenized is exactly what was authorized.
            match &p {
                AnyPayment::OrderPending(x) => {
                    if let OrderSource::Authorization { authorization, .. } = x.source() {
                        prop_assert_eq!(authorization.fingerprint(), x.cart().fingerprint());
                    }
                    prop_assert!(x.intent().allows_order());
                }
                AnyPayment::TokenPending(x) => {
                    prop_assert_eq!(x.authorization().fingerprint(), x.cart().fingerprint());
                    prop_assert!(matches!(x.intent(), Intent::Tokenize | Intent::BuyAndTokenize));
                }
                // buy_and_tokenize orders only once its customer token exists.
                AnyPayment::Ordered(x) if x.intent() == Intent::BuyAndTokenize => {
                    prop_assert!(matches!(x.tokenization(), Tokenization::Done(_)));
                }
                AnyPayment::Ordered(x) if !matches!(x.tokenization(), Tokenization::NotRequested) => {
                    prop_assert_eq!(x.intent(), Intent::BuyAndTokenize);
                }
                _ => {}
            }
            // A pending operation keeps its key across attempts.
            if let (Some(a), Some(b)) = (before.pending_op(), p.pending_op())
                && before.kind() == p.kind()
            {
                prop_assert_eq!(a.key(), b.key());
            }
        }
        for (token, n) in &w.orders_per_token {
            prop_assert!(*n <= 1, "authorization {} produced {} orders", token, n);
        }
    }

    /// Expiry follows the clock passed in: nothing changes before the deadline; after it, an
    /// open session expires and an unused authorization falls back to open or expires.
    #[test]
    fn expiry_respects_the_clock(cart in valid_cart(), minutes in 0_i64..=(60 * 50)) {
        let now = Timestamp::EPOCH.plus(Span::minutes(minutes));
        let p = open(Intent::Buy, cart);
        let expired = p.clone().expire(now);
        if now < Timestamp::EPOCH.plus(lifetimes::SESSION) {
            prop_assert_eq!(expired.kind(), StageKind::Open);
        } else {
            prop_assert_eq!(expired.kind(), StageKind::Expired);
        }
        let AnyPayment::Open(o) = p else { unreachable!() };
        let a = o.authorize(AuthorizationToken::new("t").unwrap(), Timestamp::EPOCH).unwrap();
        let after = AnyPayment::from(a).expire(now);
        let want = if now < Timestamp::EPOCH.plus(lifetimes::AUTHORIZATION) {
            StageKind::Authorized
        } else if now < Timestamp::EPOCH.plus(lifetimes::SESSION) {
            StageKind::Open
        } else {
            StageKind::Expired
        };
        prop_assert_eq!(after.kind(), want);
    }

    /// The ledger never goes negative or over: captured ≤ authorized, refunded ≤ captured,
    /// whatever sequence of operations, results, refusals and doubts is applied.
    #[test]
    fn ledger_never_negative_or_over(
        amount in 1_i64..=1_000_000,
        ops in proptest::collection::vec((0_u8..6, (0_u8..4, 0_i64..=1_200_000), 0_u8..4), 1..80),
    ) {
        let mut o = ManagedOrder::new(
            OrderId::new("o").unwrap(), PaymentId::new("p").unwrap(),
            Money::new(amount, klarna_domain::Currency::Sek), Timestamp::EPOCH,
        );
        for (i, (kind, (pick, random), outcome)) in ops.into_iter().enumerate() {
            // Aim at the edges of the ledger as often as at random amounts.
            let edge = match kind {
                0 => o.order_amount() - o.captured(),
                // An upsell aims at the captured amount, the floor of a new order amount.
                5 => o.captured(),
                _ => o.captured() - o.refunded(),
            };
            let value = match pick {
                0 => edge,
                1 => edge + 1,
                2 => edge / 2,
                _ => random,
            };
            // A non-positive amount cannot even be made: nothing begins, as when the ledger refuses.
            let amount = klarna_domain::Amount::new(value);
            let op = match (kind, amount) {
                (0 | 1, Err(_)) => continue,
                (0, Ok(a)) => OmOperation::Capture(a.into()),
                (1, Ok(a)) => OmOperation::Refund(a.into()),
                (2, _) => OmOperation::Cancel,
                (3, _) => OmOperation::ReleaseRemaining,
                (5, _) => match klarna_domain::AuthorizationUpdate::new(value, Vec::new()) {
                    Ok(u) => OmOperation::UpdateAuthorization(u),
                    Err(_) => continue,
                },
                _ => OmOperation::ExtendAuthorization,
            };
            let result = match &op {
                OmOperation::Capture(_) => OmResult::Captured(CaptureId::new(format!("c{i}")).unwrap()),
                OmOperation::Refund(_) => OmResult::Refunded(RefundId::new(format!("r{i}")).unwrap()),
                _ => OmResult::Done,
            };
            let key = IdempotencyKey::new(format!("k{i}")).unwrap();
            if let Ok(next) = o.clone().begin(op, key, Timestamp::EPOCH) {
                o = next.attempted(outcome == 3);
                o = match outcome {
                    0 | 3 => o.clone().complete(result, Timestamp::EPOCH).unwrap_or(o),
                    1 => o.clone().refused().unwrap_or(o),
                    _ => o,
                };
            }
            prop_assert!(0 <= o.refunded());
            prop_assert!(o.refunded() <= o.captured());
            prop_assert!(o.captured() <= o.order_amount());
            prop_assert!(ManagedOrder::restore(o.parts()).is_ok());
        }
    }

    /// Every payment the public transitions reach (the exported `payment()` strategy)
    /// round-trips through storage, and the clock never touches an operation in doubt or a
    /// terminal stage.
    #[test]
    fn reachable_payments_round_trip_and_pending_never_expire(
        (p, now) in klarna_domain::strategies::payment(),
        later in 0_i64..=100_000,
    ) {
        prop_assert_eq!(&p.snapshot().restore().unwrap(), &p);
        let after = p.clone().expire(now.plus(Span::minutes(later)));
        if p.pending_op().is_some() || p.kind().is_terminal() {
            prop_assert_eq!(after, p);
        }
    }

    /// Snapshots round-trip through the public constructors.
    #[test]
    fn snapshots_round_trip(intent in intent(), cart in cart_with(4), cmds in proptest::collection::vec(cmd(), 0..30)) {
        let mut w = World { now: Timestamp::EPOCH, seq: 0, orders_per_token: HashMap::new() };
        let mut p = open(intent, cart);
        for c in &cmds {
            p = apply(p, c, &mut w);
            let back = p.snapshot().restore().unwrap();
            prop_assert_eq!(&back, &p);
        }
    }
}

#[test]
fn buy_and_tokenize_tokenizes_then_orders_from_the_same_authorization() {
    let cart = Cart::new(
        klarna_domain::Market::parse("US", "USD", "en-US").unwrap(),
        vec![
            klarna_domain::OrderLine::builder("Plan", 1, 1_000)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let AnyPayment::Open(p) = open(Intent::BuyAndTokenize, cart) else {
        unreachable!()
    };
    let t0 = Timestamp::EPOCH;
    let a = p
        .authorize(AuthorizationToken::new("a").unwrap(), t0)
        .unwrap();
    // The order before the token is refused: a refused token would leave a charged shopper.
    let early = a
        .clone()
        .begin_order(IdempotencyKey::new("k0").unwrap(), t0)
        .unwrap_err();
    assert!(matches!(
        early.error,
        klarna_domain::LifecycleError::WrongStage { .. }
    ));
    let a = a
        .begin_tokenization(IdempotencyKey::new("k1").unwrap(), t0)
        .unwrap()
        .record_token_before_order(klarna_domain::CustomerTokenId::new("ct").unwrap());
    assert!(a.customer_token().is_some());
    assert!(AnyPayment::from(a.clone()).awaits_order());
    // No second token from the same payment.
    assert!(
        a.clone()
            .begin_tokenization(IdempotencyKey::new("k2").unwrap(), t0)
            .is_err()
    );
    let pending = a
        .begin_order(IdempotencyKey::new("k3").unwrap(), t0)
        .unwrap();
    // The token survives a store round trip while the order is in flight.
    let stored = AnyPayment::from(pending.clone())
        .snapshot()
        .restore()
        .unwrap();
    assert_eq!(stored, AnyPayment::from(pending.clone()));
    assert!(stored.customer_token().is_some());
    // A refusal that would reopen the payment records it instead: no second token.
    assert!(pending.clone().reopen(t0).is_err());
    let klarna_domain::OrderOutcome::Ordered(o) = pending.record_order(PlacedOrder::new(
        OrderId::new("o").unwrap(),
        FraudStatus::Accepted,
        t0,
    )) else {
        panic!("accepted order goes to Ordered")
    };
    assert!(matches!(o.tokenization(), Tokenization::Done(_)));
    assert_eq!(
        AnyPayment::from(o)
            .customer_token()
            .map(|t| t.expose_secret().to_owned()),
        Some("ct".to_owned())
    );
}

/// A `buy_and_tokenize` payment stored by an earlier version (ordered, token step due) still
/// completes its token step after the order.
#[test]
fn a_stored_buy_and_tokenize_with_its_token_due_after_the_order_still_tokenizes() {
    let cart = Cart::new(
        klarna_domain::Market::parse("US", "USD", "en-US").unwrap(),
        vec![
            klarna_domain::OrderLine::builder("Plan", 1, 1_000)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let AnyPayment::Open(p) = open(Intent::BuyAndTokenize, cart) else {
        unreachable!()
    };
    let t0 = Timestamp::EPOCH;
    let a = p
        .authorize(AuthorizationToken::new("a").unwrap(), t0)
        .unwrap();
    // The row an earlier version wrote: the order in flight, no token yet.
    let mut snap = AnyPayment::from(a).snapshot();
    let klarna_domain::snapshot::StageSnapshot::Authorized {
        session,
        authorization,
        ..
    } = snap.stage
    else {
        unreachable!()
    };
    snap.stage = klarna_domain::snapshot::StageSnapshot::OrderPending {
        source: klarna_domain::snapshot::SourceSnapshot::Authorization {
            session,
            authorization,
        },
        op: klarna_domain::snapshot::OpSnapshot {
            key: "k1".to_owned(),
            attempts: 0,
            in_doubt: false,
            started_at: t0,
            fence: None,
            request: None,
        },
        customer_token: None,
    };
    let AnyPayment::OrderPending(pending) = snap.restore().unwrap() else {
        unreachable!()
    };
    let klarna_domain::OrderOutcome::Ordered(o) = pending.record_order(PlacedOrder::new(
        OrderId::new("o").unwrap(),
        FraudStatus::Accepted,
        t0,
    )) else {
        panic!("accepted order goes to Ordered")
    };
    assert!(matches!(o.tokenization(), Tokenization::Due(_)));
    let o = o
        .begin_tokenization(IdempotencyKey::new("k2").unwrap(), t0)
        .unwrap();
    let o = o
        .record_token(klarna_domain::CustomerTokenId::new("ct").unwrap())
        .unwrap();
    assert!(AnyPayment::from(o).customer_token().is_some());
}

#[test]
fn refusal_after_an_in_doubt_attempt_stays_pending() {
    let cart = Cart::new(
        klarna_domain::Market::parse("SE", "SEK", "sv-SE").unwrap(),
        vec![
            klarna_domain::OrderLine::builder("Shoe", 1, 1_000)
                .tax_rate(2_500)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let AnyPayment::Open(p) = open(Intent::Buy, cart) else {
        unreachable!()
    };
    let t0 = Timestamp::EPOCH;
    let pending = p
        .authorize(AuthorizationToken::new("a").unwrap(), t0)
        .unwrap()
        .begin_order(IdempotencyKey::new("k").unwrap(), t0)
        .unwrap()
        .attempted(true);
    let err = pending.record_refusal("INVALID_OPERATION", t0).unwrap_err();
    assert_eq!(err.error, klarna_domain::LifecycleError::NotDefinitive);
    assert_eq!(err.payment.op().attempts(), 1);
}
