//! Fuzz target: `Cart::from_input` on arbitrary lines and totals (amounts across the whole `i64`
//! range, so the checked arithmetic is exercised): a cart or a `CartError` naming a field.
#![no_main]

use arbitrary::Arbitrary;
use klarna_domain::{Cart, LineInput, LineKind, Market};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Line {
    kind: u8,
    name: String,
    reference: Option<String>,
    quantity: i64,
    unit_price: i64,
    tax_rate: i64,
    total_amount: i64,
    total_discount_amount: i64,
    total_tax_amount: i64,
}

#[derive(Debug, Arbitrary)]
struct Input {
    market: u8,
    lines: Vec<Line>,
    order_amount: i64,
    order_tax_amount: i64,
}

const KINDS: [LineKind; 8] = [
    LineKind::Physical,
    LineKind::Discount,
    LineKind::ShippingFee,
    LineKind::SalesTax,
    LineKind::Digital,
    LineKind::GiftCard,
    LineKind::StoreCredit,
    LineKind::Surcharge,
];

const MARKETS: [(&str, &str, &str); 4] = [
    ("SE", "SEK", "sv-SE"),
    ("US", "USD", "en-US"),
    ("DE", "EUR", "de-DE"),
    ("GB", "GBP", "en-GB"),
];

fuzz_target!(|input: Input| {
    let (country, currency, locale) = MARKETS[usize::from(input.market) % MARKETS.len()];
    let market = Market::parse(country, currency, locale).expect("known market");
    let lines = input
        .lines
        .into_iter()
        .map(|l| LineInput {
            kind: KINDS[usize::from(l.kind) % KINDS.len()],
            name: l.name,
            reference: l.reference,
            quantity: l.quantity,
            unit_price: l.unit_price,
            tax_rate: l.tax_rate,
            total_amount: l.total_amount,
            total_discount_amount: l.total_discount_amount,
            total_tax_amount: l.total_tax_amount,
            ..LineInput::default()
        })
        .collect();
    match Cart::from_input(market, lines, input.order_amount, input.order_tax_amount) {
        Ok(cart) => {
            let _ = format!("{cart:?}");
        }
        Err(e) => {
            assert!(
                !e.field().as_str().is_empty(),
                "error names no field: {e:?}"
            );
            let _ = e.to_string();
        }
    }
});
