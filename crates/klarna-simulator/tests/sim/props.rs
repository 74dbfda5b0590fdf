//! Property tests: random valid carts are accepted; one corrupted field is refused by name.

use klarna_simulator::{Engine, Operation};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::common::*;

const MARKETS: &[(&str, &str, &str)] = &[
    ("SE", "SEK", "sv-SE"),
    ("DE", "EUR", "de-DE"),
    ("GB", "GBP", "en-GB"),
    ("US", "USD", "en-US"),
    ("CH", "CHF", "fr-CH"),
];

/// The spec's tax formula (§1.8), computed here independently of the simulator.
fn tax(total: i64, rate: i64) -> i64 {
    let t = i128::from(total);
    i64::try_from(t - t * 10_000 / (10_000 + i128::from(rate))).unwrap()
}

fn line() -> impl Strategy<Value = Value> {
    (
        0i64..20,
        -50_000i64..2_000_000,
        prop_oneof![Just(0i64), Just(600), Just(1200), Just(2500), 0i64..=10_000],
        0i64..=100,
        "[a-zA-Z ]{1,40}",
        -1i64..=1,
    )
        .prop_map(|(qty, price, rate, discount_pct, name, jitter)| {
            let gross = qty * price;
            let discount = if gross > 0 {
                gross * discount_pct / 100
            } else {
                0
            };
            let total = gross - discount;
            json!({
                "name": name, "quantity": qty, "unit_price": price, "tax_rate": rate,
                "total_amount": total, "total_discount_amount": discount,
                // Klarna tolerates ±1 on the line tax.
                "total_tax_amount": tax(total, rate) + jitter,
            })
        })
}

fn cart() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(MARKETS),
        prop::collection::vec(line(), 1..8),
    )
        .prop_filter("order totals are non-negative", |(_, lines)| {
            let sum = |k: &str| lines.iter().map(|l| l[k].as_i64().unwrap()).sum::<i64>();
            sum("total_amount") >= 0 && sum("total_tax_amount") >= 0
        })
        .prop_map(|((c, cur, loc), lines)| {
            let amount: i64 = lines
                .iter()
                .map(|l| l["total_amount"].as_i64().unwrap())
                .sum();
            let tax: i64 = lines
                .iter()
                .map(|l| l["total_tax_amount"].as_i64().unwrap())
                .sum();
            json!({
                "purchase_country": c, "purchase_currency": cur, "locale": loc,
                "order_amount": amount, "order_tax_amount": tax, "order_lines": lines,
            })
        })
}

#[derive(Debug, Clone)]
enum Corruption {
    LineTotal(usize, i64),
    LineTax(usize, i64),
    TaxRate(usize),
    NegativeQuantity(usize),
    EmptyName(usize),
    LongName(usize),
    MissingPrice(usize),
    OrderAmount(i64),
    OrderTax(i64),
    Currency,
    Locale,
    Country,
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let delta = prop_oneof![-1000i64..=-1, 1i64..=1000];
    let big = prop_oneof![-1000i64..=-3, 3i64..=1000];
    prop_oneof![
        (any::<prop::sample::Index>(), delta.clone())
            .prop_map(|(i, d)| Corruption::LineTotal(i.index(64), d)),
        (any::<prop::sample::Index>(), big).prop_map(|(i, d)| Corruption::LineTax(i.index(64), d)),
        any::<prop::sample::Index>().prop_map(|i| Corruption::TaxRate(i.index(64))),
        any::<prop::sample::Index>().prop_map(|i| Corruption::NegativeQuantity(i.index(64))),
        any::<prop::sample::Index>().prop_map(|i| Corruption::EmptyName(i.index(64))),
        any::<prop::sample::Index>().prop_map(|i| Corruption::LongName(i.index(64))),
        any::<prop::sample::Index>().prop_map(|i| Corruption::MissingPrice(i.index(64))),
        delta.clone().prop_map(Corruption::OrderAmount),
        delta.prop_map(Corruption::OrderTax),
        Just(Corruption::Currency),
        Just(Corruption::Locale),
        Just(Corruption::Country),
    ]
}

/// Applies the corruption and returns the field Klarna must name.
fn corrupt(cart: &mut Value, c: &Corruption) -> String {
    let n = cart["order_lines"].as_array().unwrap().len();
    let idx = |i: &usize| i % n;
    match c {
        Corruption::LineTotal(i, d) => {
            let i = idx(i);
            let t = cart["order_lines"][i]["total_amount"].as_i64().unwrap();
            cart["order_lines"][i]["total_amount"] = json!(t + d);
            format!("order_lines[{i}].total_amount")
        }
        Corruption::LineTax(i, d) => {
            let i = idx(i);
            let t = cart["order_lines"][i]["total_amount"].as_i64().unwrap();
            let r = cart["order_lines"][i]["tax_rate"].as_i64().unwrap();
            cart["order_lines"][i]["total_tax_amount"] = json!(tax(t, r) + d);
            format!("order_lines[{i}].total_tax_amount")
        }
        Corruption::TaxRate(i) => {
            let i = idx(i);
            cart["order_lines"][i]["tax_rate"] = json!(10_001);
            format!("order_lines[{i}].tax_rate")
        }
        Corruption::NegativeQuantity(i) => {
            let i = idx(i);
            cart["order_lines"][i]["quantity"] = json!(-1);
            format!("order_lines[{i}].quantity")
        }
        Corruption::EmptyName(i) => {
            let i = idx(i);
            cart["order_lines"][i]["name"] = json!("");
            format!("order_lines[{i}].name")
        }
        Corruption::LongName(i) => {
            let i = idx(i);
            cart["order_lines"][i]["name"] = json!("x".repeat(256));
            format!("order_lines[{i}].name")
        }
        Corruption::MissingPrice(i) => {
            let i = idx(i);
            cart["order_lines"][i]
                .as_object_mut()
                .unwrap()
                .remove("unit_price");
            format!("order_lines[{i}].unit_price")
        }
        Corruption::OrderAmount(d) => {
            let a = cart["order_amount"].as_i64().unwrap();
            cart["order_amount"] = json!(a + d);
            "order_amount".into()
        }
        Corruption::OrderTax(d) => {
            let a = cart["order_tax_amount"].as_i64().unwrap();
            cart["order_tax_amount"] = json!(a + d);
            "order_tax_amount".into()
        }
        Corruption::Currency => {
            let wrong = if cart["purchase_currency"] == "EUR" {
                "SEK"
            } else {
                "EUR"
            };
            cart["purchase_currency"] = json!(wrong);
            "purchase_currency".into()
        }
        Corruption::Locale => {
            cart["locale"] = json!("pt-BR");
            "locale".into()
        }
        Corruption::Country => {
            cart["purchase_country"] = json!("JP");
            "purchase_country".into()
        }
    }
}

fn create(engine: &Engine, cart: &Value) -> (u16, Value) {
    let reply = engine.dispatch(
        Operation::CreateSession,
        &[],
        None,
        &serde_json::to_vec(cart).unwrap(),
    );
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn valid_carts_are_accepted(cart in cart()) {
        let engine = Engine::new("http://127.0.0.1");
        let (status, body) = create(&engine, &cart);
        prop_assert_eq!(status, 200, "{}", body);
    }

    #[test]
    fn one_corrupted_field_is_refused_by_name(mut cart in cart(), c in corruption()) {
        let engine = Engine::new("http://127.0.0.1");
        let field = corrupt(&mut cart, &c);
        let (status, body) = create(&engine, &cart);
        prop_assert_eq!(status, 400, "{:?} {}", c, body);
        prop_assert_eq!(&body["error_code"], "BAD_VALUE");
        prop_assert_eq!(body["error_messages"][0].as_str().unwrap(), format!("Bad value: {field}"));
    }
}

#[test]
fn over_http_valid_carts_pass_and_corruptions_are_named() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = rt.block_on(Ctx::new());
    let mut runner = TestRunner::new(Config::with_cases(48));
    runner
        .run(&(cart(), corruption()), |(cart, c)| {
            let ok = rt.block_on(ctx.post("/payments/v1/sessions", &cart));
            prop_assert_eq!(ok.status, 200, "{}", ok.text);
            let mut bad = cart.clone();
            let field = corrupt(&mut bad, &c);
            let r = rt.block_on(ctx.post("/payments/v1/sessions", &bad));
            prop_assert_eq!(r.status, 400);
            prop_assert_eq!(
                r.body["error_messages"][0].as_str().unwrap(),
                format!("Bad value: {field}")
            );
            Ok(())
        })
        .unwrap();
}
