//! Measures the simulator's memory for 100,000 live sessions (goal: at most 200 MB).
//!
//! Run with `cargo run --release -p klarna-simulator --example memory [COUNT]`. Sessions are
//! created in-process through the state engine with Klarna's example cart
//! (`shared/klarna/examples/create_session.request.json`, two lines, product identifiers,
//! merchant URLs and widget options) and the resident set size is read from `/proc/self/status`.

use std::time::Instant;

use klarna_simulator::{Engine, Operation};

const CART: &str = r##"{
  "acquiring_channel": "ECOMMERCE", "intent": "buy",
  "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
  "order_amount": 174700, "order_tax_amount": 34940,
  "order_lines": [
    {"type": "physical", "reference": "SHOE-TR-42-BLU", "name": "Trail running shoe, blue, EU 42",
     "quantity": 2, "quantity_unit": "pcs", "unit_price": 89900, "tax_rate": 2500,
     "total_amount": 169800, "total_discount_amount": 10000, "total_tax_amount": 33960,
     "product_url": "https://shop.example.se/p/shoe-tr-42-blu",
     "image_url": "https://shop.example.se/img/shoe-tr-42-blu.jpg",
     "product_identifiers": {"brand": "Nordtrail", "category_path": "Shoes > Running > Trail",
       "global_trade_item_number": "7350000123457", "manufacturer_part_number": "NT-TR42-B",
       "color": "blue", "size": "42"}},
    {"type": "shipping_fee", "reference": "SHIP-STD", "name": "Standard delivery", "quantity": 1,
     "unit_price": 4900, "tax_rate": 2500, "total_amount": 4900, "total_discount_amount": 0,
     "total_tax_amount": 980}
  ],
  "merchant_reference1": "SO-2024-000418", "merchant_reference2": "cart-7f3c9d",
  "merchant_urls": {
    "confirmation": "https://shop.example.se/checkout/done?sid={session.id}&oid={order.id}",
    "notification": "https://shop.example.se/klarna/notify?oid={order.id}",
    "authorization": "https://shop.example.se/klarna/auth-callback?t=4e1f6c2a-9b7d-4f0e-8a55-2c1d3b9e7a10"
  },
  "options": {"color_border": "#D8D8D8", "color_border_selected": "#1A1A1A",
    "color_details": "#1A1A1A", "color_text": "#1A1A1A", "radius_border": "4px"}
}"##;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let engine = Engine::new("http://127.0.0.1:0");
    let before = rss_kib();
    let start = Instant::now();
    let mut refused = 0usize;
    for _ in 0..count {
        if engine
            .dispatch(Operation::CreateSession, &[], None, CART.as_bytes())
            .status
            != 200
        {
            refused += 1;
        }
    }
    let elapsed = start.elapsed();
    let after = rss_kib();
    let population = engine.population();
    let grown_mib = after.saturating_sub(before) / 1024;
    println!("sessions held:        {}", population.sessions);
    println!("refused:              {refused}");
    println!("body bytes (compact): {}", CART.len());
    println!("RSS before:           {} MiB", before / 1024);
    println!("RSS after:            {} MiB", after / 1024);
    println!("RSS growth:           {grown_mib} MiB");
    println!(
        "bytes per session:    {}",
        (after.saturating_sub(before) * 1024) / u64::try_from(count.max(1)).unwrap_or(1)
    );
    println!(
        "in-process creates/s: {:.0}",
        f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / elapsed.as_secs_f64()
    );
}
