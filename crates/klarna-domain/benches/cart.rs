//! Cart validation speed: `Cart::from_input` for 1, 100 and 1,000 lines (goal: at most 100 µs
//! for 1,000 lines). Input vectors are cloned outside the timed part.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_main};
use klarna_domain::{Cart, LineInput, LineKind, Market};

/// A valid line: `quantity × unit_price − discount`, tax by Klarna's formula at 25 %.
fn line(i: i64) -> LineInput {
    let quantity = 1 + i % 3;
    let unit_price = 1_000 + (i % 7) * 100;
    let discount = if i % 5 == 0 { 100 } else { 0 };
    let total = quantity * unit_price - discount;
    LineInput {
        kind: LineKind::Physical,
        name: format!("Article {i}"),
        reference: Some(format!("SKU-{i:05}")),
        quantity,
        quantity_unit: Some("pcs".to_owned()),
        unit_price,
        tax_rate: 2_500,
        total_amount: total,
        total_discount_amount: discount,
        total_tax_amount: total - total * 10_000 / 12_500,
        ..LineInput::default()
    }
}

fn input(lines: usize) -> (Vec<LineInput>, i64, i64) {
    let lines: Vec<LineInput> = (0..i64::try_from(lines).unwrap_or(0)).map(line).collect();
    let amount = lines.iter().map(|l| l.total_amount).sum();
    let tax = lines.iter().map(|l| l.total_tax_amount).sum();
    (lines, amount, tax)
}

#[allow(
    clippy::expect_used,
    reason = "benchmark setup: failing loudly is right"
)]
fn bench(c: &mut Criterion) {
    let market = Market::parse("SE", "SEK", "sv-SE").expect("market");
    let mut g = c.benchmark_group("cart_from_input");
    for n in [1usize, 100, 1_000] {
        let (lines, amount, tax) = input(n);
        // The input is valid, so the benchmark measures the full validation, not an early exit.
        Cart::from_input(market, lines.clone(), amount, tax).expect("valid cart");
        g.throughput(Throughput::Elements(u64::try_from(n).unwrap_or(0)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_batched(
                || lines.clone(),
                |lines| Cart::from_input(market, lines, amount, tax),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

#[allow(
    missing_docs,
    reason = "criterion's macro generates an undocumented function"
)]
mod group {
    use super::bench;
    criterion::criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
