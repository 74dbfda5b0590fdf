//! The settlement reconciliation report end to end: the service captures and refunds against
//! the in-process simulator, one capture is made at Klarna behind the service's back, the
//! simulator's clock passes two days' cut-offs, and the report names exactly what was matched,
//! what is unknown to us, what awaits a payout, and the fees and totals of the payout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use std::sync::Arc;
use std::time::Duration;

use klarna_payments::http::api::CaptureObject;
use klarna_payments::http::{DateRange, KlarnaClient};
use klarna_payments::settlements::{ItemKind, MatchedBy, ReconcileOptions, Span, Timestamp};
use klarna_payments::{
    Amount, AuthorizationToken, CaptureRequest, Cart, Completed, Intent, Klarna, KlarnaBuilder,
    ManagedOrder, ManualClock, Market, OrderId, OrderLine, Purchase, RefundRequest, SequentialKeys,
    SettlementError, reconcile, settled_transactions,
};
use klarna_simulator::settlements::{FIXED_FEE, percentage_fee};
use klarna_simulator::{ShopperDecision, Simulator};

const DAY_MS: i64 = 86_400_000;

fn sim_now(sim: &Simulator) -> i64 {
    let t = time::OffsetDateTime::parse(
        &sim.engine().now(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn cart() -> Cart {
    let line = OrderLine::builder("Shoe", 1, 89_900)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(Market::parse("SE", "SEK", "sv-SE").unwrap(), vec![line]).unwrap()
}

async fn order(klarna: &Klarna, sim: &Simulator) -> OrderId {
    let c = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let auth = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .unwrap();
    let token = AuthorizationToken::new(auth.authorization_token.unwrap()).unwrap();
    match klarna.complete(&c.payment_id, token).await.unwrap() {
        Completed::Order(o) => o.order_id().clone(),
        other => panic!("{other:?}"),
    }
}

fn capture(amount: i64, reference: &str) -> CaptureRequest {
    CaptureRequest::builder(Amount::new(amount).unwrap())
        .reference(reference)
        .build()
        .unwrap()
}

async fn managed_orders(klarna: &Klarna) -> Vec<ManagedOrder> {
    let mut out = Vec::new();
    for p in klarna.payments(1000).await.unwrap() {
        if let Some(id) = p.order_id() {
            out.push(klarna.order(id).await.unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_refunds_reconcile_against_the_payouts() {
    let sim = Simulator::start().await.unwrap();
    // Start at 01:00 UTC, so every step of "today" falls on one day.
    let now = sim_now(&sim);
    let morning = (now.div_euclid(DAY_MS) + 1) * DAY_MS + 3_600_000;
    sim.advance_clock(Duration::from_millis(u64::try_from(morning - now).unwrap()));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(sim_now(&sim))));
    let klarna = KlarnaBuilder::new()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store(Arc::new(klarna_store_memory::InMemoryStore::new()))
        .clock(clock.clone())
        .keys(Arc::new(SequentialKeys::new("settle")))
        .build()
        .await
        .unwrap();
    let client = KlarnaClient::builder(klarna_payments::Credentials::new(
        sim.username(),
        sim.password(),
    ))
    .base_url(sim.base_url())
    .build()
    .unwrap();

    // Day 1: A captured in full; B captured in part and refunded in part; at Klarna, behind
    // our back, B's rest is captured too.
    let a = order(&klarna, &sim).await;
    let b = order(&klarna, &sim).await;
    let c = order(&klarna, &sim).await;
    let a_cap = klarna.capture(&a, capture(89_900, "SHIP-A")).await.unwrap();
    let b_cap = klarna.capture(&b, capture(50_000, "SHIP-B")).await.unwrap();
    let refund = RefundRequest::builder(Amount::new(20_000).unwrap())
        .reference("RET-B")
        .build()
        .unwrap();
    let b_ref = klarna.refund(&b, refund).await.unwrap();
    let behind: CaptureObject =
        serde_json::from_value(serde_json::json!({"captured_amount": 39_900})).unwrap();
    let stranger = client
        .capture_order(b.as_str(), &behind, None)
        .await
        .unwrap()
        .body
        .capture_id;

    // Two days later C is captured: too young for any payout.
    sim.advance_clock(Duration::from_secs(2 * 86_400));
    clock.advance(Span::days(2));
    klarna.capture(&c, capture(89_900, "SHIP-C")).await.unwrap();

    let start = time::OffsetDateTime::from_unix_timestamp(morning / 1000 - 86_400).unwrap();
    let end = start + time::Duration::days(5);
    let range = DateRange::new(start, end).unwrap();
    // Pages of 2 make the reads follow pagination.
    let transactions = settled_transactions(&client, range, Some("SEK".into()), 2)
        .await
        .unwrap();
    assert_eq!(
        transactions.len(),
        10,
        "3 captures × (sale + 2 fees) + 1 return"
    );
    let orders = managed_orders(&klarna).await;
    assert_eq!(orders.len(), 3);

    let now = Timestamp::from_unix_millis(sim_now(&sim));
    let report = reconcile(&orders, &transactions, &ReconcileOptions::new(now, 1)).unwrap();

    let mut matched: Vec<(ItemKind, String, i64, MatchedBy)> = report
        .matched
        .iter()
        .map(|m| (m.item.kind, m.item.id.clone(), m.settled_amount, m.by))
        .collect();
    matched.sort();
    let mut expected = vec![
        (
            ItemKind::Capture,
            a_cap.capture_id.as_str().to_owned(),
            89_900,
            MatchedBy::KlarnaId,
        ),
        (
            ItemKind::Capture,
            b_cap.capture_id.as_str().to_owned(),
            50_000,
            MatchedBy::KlarnaId,
        ),
        (
            ItemKind::Refund,
            b_ref.refund_id.as_str().to_owned(),
            20_000,
            MatchedBy::KlarnaId,
        ),
    ];
    expected.sort();
    assert_eq!(matched, expected);
    assert_eq!(report.amount_mismatches().count(), 0);

    assert_eq!(report.unknown.len(), 1);
    let unknown = &report.unknown[0].transaction;
    assert_eq!(unknown.capture_id(), Some(stranger.as_str()));
    assert_eq!(
        (unknown.order_id.as_str(), unknown.amount),
        (b.as_str(), 39_900)
    );

    assert!(report.unsettled.is_empty(), "{:?}", report.unsettled);
    assert_eq!(report.awaiting.len(), 1);
    assert_eq!(report.awaiting[0].order_id, c);
    assert_eq!(report.awaiting[0].amount, 89_900);

    let fees = [89_900, 50_000, 39_900]
        .iter()
        .map(|&x| percentage_fee(x) + FIXED_FEE)
        .sum::<i64>();
    assert_eq!(fees, 2707 + 1550 + 1257);
    assert_eq!(
        report.payouts.len(),
        1,
        "one payout: SEK, the day after day 1"
    );
    let payout = &report.payouts[0];
    assert!(payout.payment_reference.starts_with("SIM-SEK-"));
    assert_eq!(
        (payout.sales, payout.returns, payout.fees, payout.net()),
        (179_800, 20_000, fees, 179_800 - 20_000 - fees)
    );
    assert_eq!(report.total_fees(), fees);
    // Klarna's own payout totals agree with the report's.
    let klarna_payout = client.payout(&payout.payment_reference).await.unwrap().body;
    assert_eq!(klarna_payout.totals.settlement_amount, payout.net());
    assert_eq!(klarna_payout.totals.fee_amount, payout.fees);

    // With a threshold of 0 days, C's capture is overdue.
    let strict = reconcile(&orders, &transactions, &ReconcileOptions::new(now, 0)).unwrap();
    assert_eq!(strict.unsettled.len(), 1);
    assert!(strict.awaiting.is_empty());

    // A range of the last hour checks only C of ours; day 1's transactions still match ours.
    let last_hour = ReconcileOptions {
        range: Some((
            Timestamp::from_unix_millis(now.unix_millis() - 3_600_000),
            now.plus(Span::hours(1)),
        )),
        ..ReconcileOptions::new(now, 1)
    };
    let narrow = reconcile(&orders, &transactions, &last_hour).unwrap();
    assert_eq!(narrow.matched.len(), 3);
    assert_eq!(narrow.unknown.len(), 1);
    assert_eq!(narrow.awaiting.len(), 1);
    let before_day_1 = ReconcileOptions {
        range: Some((
            Timestamp::EPOCH,
            Timestamp::from_unix_millis(morning - DAY_MS),
        )),
        ..ReconcileOptions::new(now, 0)
    };
    let none_of_ours = reconcile(&orders, &transactions, &before_day_1).unwrap();
    assert!(none_of_ours.unsettled.is_empty() && none_of_ours.awaiting.is_empty());
    assert_eq!(none_of_ours.matched.len(), 3);
}

#[test]
fn an_empty_range_is_refused_naming_the_field_and_no_transactions_is_an_empty_report() {
    let now = Timestamp::from_unix_millis(1_700_000_000_000);
    let empty = ReconcileOptions {
        range: Some((now, now)),
        ..ReconcileOptions::new(now, 3)
    };
    match reconcile(&[], &[], &empty) {
        Err(SettlementError::InvalidInput { field, .. }) => assert_eq!(field, "from"),
        other => panic!("{other:?}"),
    }
    let report = reconcile(&[], &[], &ReconcileOptions::new(now, 3)).unwrap();
    assert_eq!(report, klarna_payments::SettlementReport::default());
}
