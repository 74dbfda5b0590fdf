//! Measures the memory store's footprint per stored payment.
//!
//! Run with `cargo run --release -p klarna-store-memory --example payment_memory [COUNT]`
//! (default 100,000). Each payment is the contract suite's ordered one-time payment (one cart line,
//! session, authorization, order) with its managed order; the resident set size is read from
//! `/proc/self/status` before and after. The last line, `bytes per payment: N`, is what
//! `cargo xtask bench` reads.

use klarna_ports::PaymentStore;
use klarna_ports::contract::{managed, ordered};
use klarna_store_memory::InMemoryStore;

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

#[allow(
    clippy::expect_used,
    reason = "a measurement program: failing loudly is right"
)]
fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = InMemoryStore::new();
    let before = rss_kib();
    runtime.block_on(async {
        for n in 0..count {
            let order = format!("00000000-0000-4000-8000-{n:012}");
            store
                .insert_payment(&ordered(n, &order))
                .await
                .expect("insert payment");
            store
                .insert_order(&managed(&order, n))
                .await
                .expect("insert order");
        }
    });
    let after = rss_kib();
    assert_eq!(store.len(), usize::try_from(count).unwrap_or(usize::MAX));
    let grown = after.saturating_sub(before) * 1024;
    println!("payments stored:   {count} (each with its managed order)");
    println!("RSS before:        {} MiB", before / 1024);
    println!("RSS after:         {} MiB", after / 1024);
    println!("RSS growth:        {} MiB", grown / 1024 / 1024);
    println!("bytes per payment: {}", grown / u64::from(count.max(1)));
}
