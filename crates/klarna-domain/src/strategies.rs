//! proptest strategies for markets, lines, carts and lifecycles, built through the public constructors.
//!
//! Enabled by the `test-util` feature so that users can reuse them in their own property tests:
//!
//! ```
//! use klarna_domain::strategies::valid_cart;
//! use proptest::prelude::*;
//! proptest!(|(cart in valid_cart())| {
//!     prop_assert_eq!(cart.order_amount(), cart.lines().iter().map(|l| l.total_amount()).sum::<i64>());
//! });
//! ```

use proptest::prelude::*;

use crate::cart::{Cart, Interval, LineKind, OrderLine};
use crate::market::{Country, Locale, Market};

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
