//! The domain's cart rules and the simulator's independent validation check each other.
//!
//! Random valid carts (the domain's own proptest strategies) must be accepted by the
//! simulator; a cart with one field corrupted must be refused by both, naming the same field.

use klarna_domain::{Cart, CartError, LineInput};
use klarna_simulator::{Engine, Operation};
use proptest::prelude::*;
use serde_json::{Value, json};

fn line_json(l: &LineInput) -> Value {
    let mut v = json!({
        "type": l.kind.as_str(),
        "name": l.name,
        "quantity": l.quantity,
        "unit_price": l.unit_price,
        "total_amount": l.total_amount,
        "total_discount_amount": l.total_discount_amount,
    });
    if l.kind != klarna_domain::LineKind::SalesTax {
        v["tax_rate"] = json!(l.tax_rate);
        v["total_tax_amount"] = json!(l.total_tax_amount);
    }
    if let Some(s) = &l.subscription {
        v["subscription"] = json!({"name": s.name, "interval": s.interval.as_str(), "interval_count": s.interval_count});
    }
    v
}

fn session_json(
    market: klarna_domain::Market,
    lines: &[LineInput],
    amount: i64,
    tax: i64,
) -> Value {
    json!({
        "intent": "buy",
        "purchase_country": market.country().code(),
        "purchase_currency": market.currency().code(),
        "locale": market.locale().to_string(),
        "order_amount": amount,
        "order_tax_amount": tax,
        "order_lines": lines.iter().map(line_json).collect::<Vec<_>>(),
    })
}

fn simulate(body: &Value) -> (u16, String) {
    let engine = Engine::new("http://127.0.0.1:1");
    let reply = engine.dispatch(
        Operation::CreateSession,
        &[],
        None,
        &serde_json::to_vec(body).unwrap_or_default(),
    );
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}

/// Which single field a corruption touches.
#[derive(Clone, Copy, Debug)]
enum Corruption {
    TotalAmount,
    TotalTaxAmount,
    TaxRate,
    OrderAmount,
    OrderTaxAmount,
    Quantity,
}

fn corrupt(cart: &Cart, c: Corruption, line: usize, delta: i64) -> (Vec<LineInput>, i64, i64) {
    let mut lines: Vec<LineInput> = cart.lines().iter().map(|l| l.fields().clone()).collect();
    let (mut amount, mut tax) = (cart.total().minor(), cart.order_tax_amount());
    let i = line % lines.len();
    let l = &mut lines[i];
    match c {
        Corruption::TotalAmount => l.total_amount += delta,
        // ±1 is tolerated: move at least 2 away.
        Corruption::TotalTaxAmount => l.total_tax_amount += 2 + delta.abs(),
        Corruption::TaxRate => l.tax_rate = 10_001 + delta.abs(),
        Corruption::OrderAmount => amount += delta,
        Corruption::OrderTaxAmount => tax += delta,
        Corruption::Quantity => l.quantity = -delta.abs(),
    }
    (lines, amount, tax)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_domain_carts_are_accepted_by_the_simulator(cart in klarna_domain::strategies::valid_cart()) {
        let lines: Vec<LineInput> = cart.lines().iter().map(|l| l.fields().clone()).collect();
        let (status, body) = simulate(&session_json(cart.market(), &lines, cart.total().minor(), cart.order_tax_amount()));
        prop_assert_eq!(status, 200, "simulator refused a cart the domain accepts: {}", body);
    }

    #[test]
    fn single_field_corruptions_are_refused_by_both_naming_the_same_field(
        cart in klarna_domain::strategies::valid_cart(),
        which in prop_oneof![
            Just(Corruption::TotalAmount), Just(Corruption::TotalTaxAmount), Just(Corruption::TaxRate),
            Just(Corruption::OrderAmount), Just(Corruption::OrderTaxAmount), Just(Corruption::Quantity),
        ],
        line in 0_usize..16,
        delta in prop_oneof![1_i64..1_000, -1_000_i64..-1],
    ) {
        let (lines, amount, tax) = corrupt(&cart, which, line, delta);
        let domain: Result<Cart, CartError> = Cart::from_input(cart.market(), lines.clone(), amount, tax);
        let err = domain.expect_err("the domain refuses the corruption");
        let (status, body) = simulate(&session_json(cart.market(), &lines, amount, tax));
        prop_assert_eq!(status, 400, "simulator accepted a corrupted cart ({:?}): {}", which, body);
        prop_assert!(
            body.contains(err.field().as_str()),
            "domain names `{}`, simulator says {}", err.field(), body
        );
    }
}
