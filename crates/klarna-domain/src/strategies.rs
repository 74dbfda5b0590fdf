//! proptest strategies for markets, lines, carts and lifecycles, built through the public constructors and transitions.
//!
//! Enabled by the `test-util` feature so that users can reuse them in their own property tests:
//!
//! ```
//! use klarna_domain::strategies::valid_cart;
//! use proptest::prelude::*;
//! proptest!(|(cart in valid_cart())| {
//!     prop_assert_eq!(cart.total().minor(), cart.lines().iter().map(|l| l.total_amount()).sum::<i64>());
//! });
//! ```

use proptest::prelude::*;

use crate::cart::{Cart, Interval, LineKind, OrderLine};
use crate::ids::{
    AuthorizationToken, ClientToken, CustomerTokenId, IdempotencyKey, OrderId, PaymentId, SessionId,
};
use crate::market::{Country, Locale, Market};
use crate::payment::{AnyPayment, FraudStatus, Intent, Payment, PlacedOrder, Session};
use crate::time::{Span, Timestamp, lifetimes};

/// Any valid market (country, its currency, one of its locales).
pub fn market() -> impl Strategy<Value = Market> {
    proptest::sample::select(Country::ALL)
        .prop_flat_map(|country| {
            proptest::sample::select(country.languages()).prop_map(move |lang| {
                let locale = Locale::parse(&format!("{lang}-{}", country.code()));
                // Every (country, language) pair of the table is valid by construction.
                locale
                    .and_then(|l| Market::new(country, country.currency(), l))
                    .ok()
            })
        })
        .prop_filter_map("valid market", |m| m)
}

/// A valid product line with a positive total: any quantity, price, discount and rate.
pub fn product_line() -> impl Strategy<Value = OrderLine> {
    (
        "[A-Za-z][A-Za-z0-9 ]{0,40}",
        1_i64..=20,
        0_i64..=5_000_000,
        prop_oneof![
            Just(0_i64),
            Just(600),
            Just(1_200),
            Just(2_000),
            Just(2_500),
            0_i64..=10_000
        ],
        0_i64..=100,
        proptest::bool::ANY,
    )
        .prop_filter_map(
            "line within limits",
            |(name, qty, price, rate, discount_pct, sub)| {
                let discount = qty * price * discount_pct / 100 / 2;
                let mut b = OrderLine::builder(name, qty, price)
                    .tax_rate(rate)
                    .discount(discount);
                if sub {
                    b = b.subscription("Plan", Interval::Month, 1);
                }
                b.build().ok()
            },
        )
}

/// A valid discount line (negative amounts).
pub fn discount_line() -> impl Strategy<Value = OrderLine> {
    (1_i64..=50_000, prop_oneof![Just(0_i64), Just(2_500)]).prop_filter_map(
        "discount",
        |(amount, rate)| {
            OrderLine::builder("Discount", 1, -amount)
                .kind(LineKind::Discount)
                .tax_rate(rate)
                .build()
                .ok()
        },
    )
}

/// A valid cart of 1..=`max_lines` lines with a non-negative total.
pub fn cart_with(max_lines: usize) -> impl Strategy<Value = Cart> {
    (
        market(),
        proptest::collection::vec(product_line(), 1..=max_lines.max(1)),
        proptest::option::of(discount_line()),
    )
        .prop_filter_map("non-negative cart", |(m, mut lines, discount)| {
            if let Some(d) = discount {
                lines.push(d);
            }
            Cart::new(m, lines).ok()
        })
}

/// A valid cart of 1..=8 lines.
pub fn valid_cart() -> impl Strategy<Value = Cart> {
    cart_with(8)
}

/// One step of a random lifecycle walk (see [`payment`]).
#[derive(Clone, Debug)]
enum Step {
    Authorize,
    Reauthorize,
    ChangeCart(Cart),
    BeginOrder,
    BeginToken,
    Attempt(bool),
    Record(FraudStatus),
    Refuse,
    Review,
    Resolve(bool),
    Stop,
    Resume,
    Cancel,
    Advance(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Authorize),
        1 => Just(Step::Reauthorize),
        1 => valid_cart().prop_map(Step::ChangeCart),
        3 => Just(Step::BeginOrder),
        2 => Just(Step::BeginToken),
        2 => proptest::bool::ANY.prop_map(Step::Attempt),
        3 => prop_oneof![Just(FraudStatus::Accepted), Just(FraudStatus::Pending), Just(FraudStatus::Rejected)]
            .prop_map(Step::Record),
        1 => Just(Step::Refuse),
        1 => Just(Step::Review),
        1 => proptest::bool::ANY.prop_map(Step::Resolve),
        1 => Just(Step::Stop),
        1 => Just(Step::Resume),
        1 => Just(Step::Cancel),
        1 => (0_i64..=120).prop_map(Step::Advance),
    ]
}

/// Any intent.
pub fn intent() -> impl Strategy<Value = Intent> {
    prop_oneof![
        Just(Intent::Buy),
        Just(Intent::Tokenize),
        Just(Intent::BuyAndTokenize)
    ]
}

/// A payment in any stage, reached from `Open` through the public transitions only (refused
/// transitions leave the payment as it was), with the time it was reached.
///
/// ```
/// use klarna_domain::strategies::payment;
/// use proptest::prelude::*;
/// proptest!(|((p, _now) in payment())| {
///     // Whatever the stage, the storage form rebuilds the same payment.
///     prop_assert_eq!(p.snapshot().restore().unwrap(), p);
/// });
/// ```
pub fn payment() -> impl Strategy<Value = (AnyPayment, Timestamp)> {
    (
        intent(),
        valid_cart(),
        proptest::collection::vec(step(), 0..24),
    )
        .prop_map(|(intent, cart, steps)| walk(intent, cart, &steps))
}

#[allow(
    clippy::expect_used,
    reason = "the ids below are fixed, printable and non-empty"
)]
fn walk(intent: Intent, cart: Cart, steps: &[Step]) -> (AnyPayment, Timestamp) {
    let id = |prefix: &str, n: usize| format!("{prefix}-{n}");
    let mut now = Timestamp::from_unix_millis(1_700_000_000_000);
    let session = Session::new(
        SessionId::new("session-1").expect("id"),
        ClientToken::new("client-token-1").expect("token"),
        now.plus(lifetimes::SESSION),
    );
    let mut p: AnyPayment = Payment::open(
        PaymentId::new("pay-1").expect("id"),
        intent,
        cart,
        session,
        now,
    )
    .into();
    for (n, s) in steps.iter().enumerate() {
        let token = || AuthorizationToken::new(id("auth", n)).expect("token");
        let key = || IdempotencyKey::new(id("key", n)).expect("key");
        p = match (p, s) {
            (AnyPayment::Open(x), Step::Authorize) => x
                .authorize(token(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::Authorized(x), Step::Reauthorize) => x
                .reauthorize(token(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::Open(x), Step::ChangeCart(c)) => x
                .update_cart(c.clone(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::Authorized(x), Step::ChangeCart(c)) => x
                .update_cart(c.clone(), now)
                .map_or_else(|e| (*e.payment).into(), |(o, _)| o.into()),
            (AnyPayment::Authorized(x), Step::BeginOrder) => x
                .begin_order(key(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::Authorized(x), Step::BeginToken) => x
                .begin_tokenization(key(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::Ordered(x), Step::BeginToken) => x
                .begin_tokenization(key(), now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::OrderPending(x), Step::Attempt(u)) => x.attempted(*u).into(),
            (AnyPayment::TokenPending(x), Step::Attempt(u)) => x.attempted(*u).into(),
            (AnyPayment::Ordered(x), Step::Attempt(u)) => x.token_attempted(*u).into(),
            (AnyPayment::OrderPending(x), Step::Record(f)) => x
                .record_order(PlacedOrder::new(
                    OrderId::new(id("order", n)).expect("id"),
                    *f,
                    now,
                ))
                .into_any(),
            (AnyPayment::TokenPending(x), Step::Record(_)) => x
                .record_token(CustomerTokenId::new(id("ct", n)).expect("id"), now)
                .into(),
            (AnyPayment::Ordered(x), Step::Record(_)) => x
                .record_token(CustomerTokenId::new(id("ct", n)).expect("id"))
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::OrderPending(x), Step::Refuse) => x
                .record_refusal("REJECTED", now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::TokenPending(x), Step::Refuse) => x
                .record_refusal("REJECTED", now)
                .map_or_else(|e| (*e.payment).into(), Into::into),
            (AnyPayment::OrderPending(x), Step::Review) => x.needs_review("unresolved", now).into(),
            (AnyPayment::FraudReview(x), Step::Resolve(ok)) => x.resolve(*ok, now),
            (AnyPayment::Open(x), Step::Cancel) => x.cancel(now).into(),
            (AnyPayment::Authorized(x), Step::Cancel) => x.cancel(now).into(),
            (AnyPayment::FraudReview(x), Step::Stop) => x.stop(now).into(),
            (AnyPayment::Ordered(x), Step::Stop) => {
                x.stop(now).map_or_else(|e| (*e.payment).into(), Into::into)
            }
            (AnyPayment::Stopped(x), Step::Resume) => x.resume().into(),
            (AnyPayment::Stopped(x), Step::Cancel) => x.cancel(now).into(),
            (AnyPayment::FraudReview(x), Step::Cancel) => x.cancel(now).into(),
            (AnyPayment::Ordered(x), Step::Cancel) => x.cancel(now).into(),
            (p, Step::Advance(minutes)) => {
                now = now.plus(Span::minutes(*minutes));
                p.expire(now)
            }
            (p, _) => p,
        };
    }
    (p, now)
}
