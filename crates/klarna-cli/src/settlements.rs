//! `klarna settlements …`: the Settlements API's reads (payouts, one payout, the summary,
//! transactions, the CSV report) and the reconciliation report of the payment store against
//! Klarna's payouts (`docs/klarna/settlements.md`, CLI.md).
//!
//! Dates are `YYYY-MM-DD` (whole UTC days: `--from` at 00:00:00, `--to` at 23:59:59) or full
//! RFC 3339 date-times. Inputs are checked before anything is sent (exit 2 naming the field);
//! output and exit codes are those of the API commands.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use futures::TryStreamExt as _;
use klarna_gateway_http::{DateRange, Page, PayoutFilter, Report, TransactionFilter};
use klarna_payments::ports::Clock as _;
use klarna_payments::settlements::{
    ItemKind, LedgerItem, Matched, PayoutTotals, ReconcileOptions, SettlementError,
    SettlementReport, Timestamp,
};
use klarna_payments::{KlarnaBuilder, ManagedOrder, Region, SystemClock};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::api::{Failure, client, print_json, report, to_json};
use crate::{Global, RegionArg};

/// A payout-date range on the command line.
#[derive(Debug, Clone, Args)]
pub(crate) struct RangeArgs {
    /// First payout date: YYYY-MM-DD (from 00:00:00 UTC) or an RFC 3339 date-time.
    #[arg(long, value_name = "DATE", requires = "to")]
    from: Option<String>,
    /// Last payout date: YYYY-MM-DD (until 23:59:59 UTC) or an RFC 3339 date-time.
    #[arg(long, value_name = "DATE", requires = "from")]
    to: Option<String>,
}

/// `klarna settlements …`
#[derive(Debug, Subcommand)]
pub(crate) enum Settlements {
    /// S1: payouts (one page; `--all` follows every page).
    Payouts {
        #[command(flatten)]
        range: RangeArgs,
        /// Only payouts in this currency (ISO 4217, e.g. SEK).
        #[arg(long, value_name = "CODE")]
        currency: Option<String>,
        /// Page size, 1–500 (Klarna's default 20).
        #[arg(long, value_name = "N", default_value_t = 20)]
        size: u32,
        /// Offset of the first payout.
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
        /// Read every page from the offset on and print all payouts.
        #[arg(long)]
        all: bool,
    },
    /// S2: one payout by its payment reference (the reference on the bank statement).
    Payout {
        /// The payout's payment_reference.
        reference: String,
    },
    /// S3: the totals of the payouts in a date range, per currency.
    Summary {
        /// First payout date.
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last payout date.
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Only this currency.
        #[arg(long, value_name = "CODE")]
        currency: Option<String>,
    },
    /// S4: settled transactions (one page; `--all` follows every page).
    Transactions {
        /// The transactions of this payout.
        #[arg(long, value_name = "REF", conflicts_with = "order_id")]
        payment_reference: Option<String>,
        /// The transactions of this Klarna order.
        #[arg(long, value_name = "ID")]
        order_id: Option<String>,
        /// Page size, 1–500.
        #[arg(long, value_name = "N", default_value_t = 20)]
        size: u32,
        /// Offset of the first transaction.
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
        /// Read every page from the offset on.
        #[arg(long)]
        all: bool,
    },
    /// S5: a payout's CSV report with its transactions, printed as it came.
    Report {
        /// The payout's payment_reference.
        reference: String,
    },
    /// The reconciliation report: the store's captures and refunds (KLARNA_STORE_URL or
    /// --store, KLARNA_STORE_KEY) against the transactions of Klarna's payouts.
    Reconcile {
        /// The payment store (default: KLARNA_STORE_URL).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Ours without a payout after this many days are unsettled (younger: awaiting).
        #[arg(long, value_name = "N", default_value_t = 7)]
        older_than_days: u32,
        /// Our captures and refunds recorded in these days (default: the last 30 days); the
        /// payouts read run from `--from` to `--to` plus the threshold and a day.
        #[command(flatten)]
        range: RangeArgs,
        /// At most this many payments are read from the store, newest first.
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        limit: usize,
    },
}

/// Runs a `klarna settlements` command.
pub(crate) async fn run(global: &Global, command: Settlements) -> ExitCode {
    match execute(global, command).await {
        Ok(Output::Json(value)) => print_json(&value),
        Ok(Output::Text(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(failure) => report(&failure),
    }
}

enum Output {
    Json(Value),
    Text(String),
}

fn usage(field: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Usage(format!("invalid {field}: {why} (nothing was sent)"))
}

/// A day (`YYYY-MM-DD`, at `start` or end of day) or an RFC 3339 date-time.
fn instant(field: &str, text: &str, end_of_day: bool) -> Result<OffsetDateTime, Failure> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let day = Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| usage(field, "not YYYY-MM-DD or an RFC 3339 date-time"))?;
    let range = DateRange::days(day, day)?;
    Ok(if end_of_day {
        range.end()
    } else {
        range.start()
    })
}

fn range(from: &str, to: &str) -> Result<DateRange, Failure> {
    let start = instant("from", from, false)?;
    let end = instant("to", to, true)?;
    DateRange::new(start, end).map_err(|_| usage("from", "is after --to"))
}

fn optional_range(r: &RangeArgs) -> Result<Option<DateRange>, Failure> {
    match (&r.from, &r.to) {
        (Some(from), Some(to)) => range(from, to).map(Some),
        (None, None) => Ok(None),
        _ => Err(Failure::Usage("give both --from and --to".to_owned())),
    }
}

async fn execute(global: &Global, command: Settlements) -> Result<Output, Failure> {
    // Every input is checked before credentials or network.
    match command {
        Settlements::Payouts {
            range,
            currency,
            size,
            offset,
            all,
        } => {
            let filter = PayoutFilter {
                range: optional_range(&range)?,
                currency,
            };
            let page = Page::new(size, offset)?;
            let c = client(global)?;
            if all {
                let payouts: Vec<_> = c
                    .payouts_stream(filter, page)?
                    .try_collect()
                    .await
                    .map_err(stream_failure)?;
                Ok(Output::Json(json!({"payouts": payouts})))
            } else {
                Ok(Output::Json(to_json(
                    &c.payouts(&filter, page).await?.body,
                )?))
            }
        }
        Settlements::Payout { reference } => {
            let c = client(global)?;
            Ok(Output::Json(to_json(&c.payout(&reference).await?.body)?))
        }
        Settlements::Summary { from, to, currency } => {
            let r = range(&from, &to)?;
            let c = client(global)?;
            let body = c.payouts_summary(&r, currency.as_deref()).await?.body;
            Ok(Output::Json(to_json(&body)?))
        }
        Settlements::Transactions {
            payment_reference,
            order_id,
            size,
            offset,
            all,
        } => {
            let filter = match (payment_reference, order_id) {
                (Some(r), None) => TransactionFilter::PaymentReference(r),
                (None, Some(id)) => TransactionFilter::OrderId(id),
                (None, None) => TransactionFilter::All,
                (Some(_), Some(_)) => {
                    return Err(Failure::Usage(
                        "give at most one of --payment-reference and --order-id".to_owned(),
                    ));
                }
            };
            let page = Page::new(size, offset)?;
            let c = client(global)?;
            if all {
                let transactions: Vec<_> = c
                    .transactions_stream(filter, page)?
                    .try_collect()
                    .await
                    .map_err(stream_failure)?;
                Ok(Output::Json(json!({"transactions": transactions})))
            } else {
                Ok(Output::Json(to_json(
                    &c.transactions(&filter, page).await?.body,
                )?))
            }
        }
        Settlements::Report { reference } => {
            let c = client(global)?;
            let csv = c.report_csv(&Report::PayoutCsv(reference)).await?.body;
            Ok(Output::Text(csv))
        }
        Settlements::Reconcile {
            store,
            older_than_days,
            range,
            limit,
        } => reconcile(global, store, older_than_days, &range, limit)
            .await
            .map(Output::Json),
    }
}

/// A stream that failed part way: how far it got is in the message; Klarna's answer decides
/// the exit code.
fn stream_failure(e: klarna_gateway_http::StreamError) -> Failure {
    // Klarna's refusal is one JSON object on stderr (CLI.md), so the progress line goes out
    // only with the other failures.
    let refused =
        matches!(&e.source, klarna_gateway_http::KlarnaError::Api { status, .. } if *status < 500);
    if !refused {
        eprintln!("klarna: {e}; resume with --offset {}", e.offset);
    }
    Failure::from(e.source)
}

const DAY_MS: i64 = 86_400_000;

fn to_datetime(at: Timestamp) -> Result<OffsetDateTime, Failure> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.unix_millis()) * 1_000_000)
        .map_err(|_| Failure::Usage("the clock is out of range".to_owned()))
}

fn to_timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_unix_millis(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

async fn reconcile(
    global: &Global,
    store: Option<String>,
    older_than_days: u32,
    range_args: &RangeArgs,
    limit: usize,
) -> Result<Value, Failure> {
    let now = SystemClock.now();
    let ours = match optional_range(range_args)? {
        Some(r) => r,
        None => {
            let today = to_datetime(now)?.date();
            let first = today
                .checked_sub(time::Duration::days(30))
                .ok_or_else(|| usage("from", "out of range"))?;
            DateRange::days(first, today)?
        }
    };
    // Ours recorded in [from, to]; their payouts come up to the threshold and a day later.
    let from = to_timestamp(ours.start());
    let to = Timestamp::from_unix_millis(to_timestamp(ours.end()).unix_millis().saturating_add(1));
    let payout_end =
        ours.end() + time::Duration::days(i64::from(older_than_days)) + time::Duration::days(1);
    let payouts = DateRange::new(ours.start(), payout_end)?;
    let options = ReconcileOptions {
        range: Some((from, to)),
        ..ReconcileOptions::new(now, older_than_days)
    };

    let orders = store_orders(global, store, limit).await?;
    let c = client(global)?;
    let transactions = klarna_payments::settled_transactions(&c, payouts, None, 500)
        .await
        .map_err(settlement_failure)?;
    let report =
        klarna_payments::reconcile(&orders, &transactions, &options).map_err(settlement_failure)?;
    Ok(report_json(&report, now, older_than_days))
}

fn settlement_failure(e: SettlementError) -> Failure {
    match e {
        SettlementError::InvalidInput { field, reason } => usage(field, reason),
        SettlementError::Klarna(e) => Failure::from(*e),
        SettlementError::Stream(e) => stream_failure(*e),
        other => Failure::Usage(other.to_string()),
    }
}

/// The managed orders of the newest `limit` payments in the store.
async fn store_orders(
    global: &Global,
    store: Option<String>,
    limit: usize,
) -> Result<Vec<ManagedOrder>, Failure> {
    let mut builder = KlarnaBuilder::new()
        .from_env()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(url) = store {
        builder = builder.store_url(url);
    }
    builder = match &global.base_url {
        Some(url) => builder.base_url(url.clone()),
        None => builder
            .region(match global.region {
                RegionArg::Eu => Region::Eu,
                RegionArg::Na => Region::Na,
                RegionArg::Oc => Region::Oc,
            })
            .production(global.production),
    };
    // BuildError names settings only, never the URL or the key.
    let klarna = builder
        .build()
        .await
        .map_err(|e| Failure::Usage(format!("cannot open the store: {e}")))?;
    let payments = klarna
        .payments(limit)
        .await
        .map_err(|e| Failure::Usage(format!("cannot read the store: {e}")))?;
    let mut orders = Vec::new();
    for p in payments {
        if let Some(id) = p.order_id() {
            let order = klarna
                .order(id)
                .await
                .map_err(|e| Failure::Usage(format!("cannot read order {id}: {e}")))?;
            orders.push(order);
        }
    }
    Ok(orders)
}

fn item_json(i: &LedgerItem, now: Timestamp) -> Value {
    json!({
        "order_id": i.order_id.as_str(),
        "kind": match i.kind {
            ItemKind::Capture => "capture",
            ItemKind::Refund => "refund",
            _ => "other",
        },
        "id": i.id,
        "amount": i.amount,
        "reference": i.reference,
        "age_days": now.since(i.at).as_millis() / DAY_MS,
    })
}

fn matched_json(m: &Matched, now: Timestamp) -> Value {
    let mut v = item_json(&m.item, now);
    if let Some(o) = v.as_object_mut() {
        o.insert("settled_amount".to_owned(), json!(m.settled_amount));
        o.insert("payment_reference".to_owned(), json!(m.payment_reference));
    }
    v
}

fn payout_json(p: &PayoutTotals) -> Value {
    json!({
        "payment_reference": p.payment_reference,
        "currency": p.currency,
        "sales": p.sales,
        "returns": p.returns,
        "fees": p.fees,
        "net": p.net(),
        "other": p.other,
        "transactions": p.transactions,
    })
}

fn report_json(r: &SettlementReport, now: Timestamp, older_than_days: u32) -> Value {
    json!({
        "older_than_days": older_than_days,
        "summary": {
            "matched": r.matched.len(),
            "amount_mismatches": r.amount_mismatches().count(),
            "unsettled": r.unsettled.len(),
            "awaiting": r.awaiting.len(),
            "unknown": r.unknown.len(),
            "fees": r.total_fees(),
        },
        "matched": r.matched.iter().map(|m| matched_json(m, now)).collect::<Vec<_>>(),
        "unsettled": r.unsettled.iter().map(|i| item_json(i, now)).collect::<Vec<_>>(),
        "awaiting": r.awaiting.iter().map(|i| item_json(i, now)).collect::<Vec<_>>(),
        "unknown": r.unknown.iter().map(|u| &u.transaction).collect::<Vec<_>>(),
        "payouts": r.payouts.iter().map(payout_json).collect::<Vec<_>>(),
    })
}
