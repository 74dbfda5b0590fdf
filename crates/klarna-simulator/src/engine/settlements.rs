//! The Settlements API v1 (S1–S8 of `docs/klarna/settlements.md`): payouts computed from the
//! captures and refunds the engine has recorded, as the simulated clock passes each day's cut-off.
//!
//! The rules (documented in `docs/klarna/settlements.md` §5 and the crate docs):
//!
//! * captures and refunds recorded on UTC day `D` settle in the payout dated `D+1T00:00:00Z`,
//!   which exists once the clock is at or past that instant: nothing recorded today is settled;
//! * one payout per currency per day (only days with transactions), `payment_reference`
//!   `SIM-<CURRENCY>-<YYYYMMDD>` of the payout date;
//! * a capture is a `SALE` plus two `FEE`s: [`FEE_PERMILLE`] ‰ of it rounded half up to the minor
//!   unit, and [`FIXED_FEE`] minor units; a refund is a `RETURN` (no fee);
//! * `settlement_amount = sale − return − fee`; every other total is 0.
//!
//! Payouts are not stored: they are a pure function of the recorded orders and the clock, so
//! they are the same on every read.

use bytes::Bytes;
use klarna_api::settlements::{
    DetailedType, Pagination, Payout, PayoutCollection, PayoutSummary, SettlementType, Totals,
    Transaction, TransactionCollection, TransactionType,
};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::Engine;
use super::reply::Reply;
use super::state::State;
use crate::clock::{DAY, Millis, format_time};

/// The percentage fee on every capture, in tenths of a percent: 29 ‰ = 2.9 %.
pub const FEE_PERMILLE: i64 = 29;
/// The fixed fee on every capture, in minor units (1.00 of the currency).
pub const FIXED_FEE: i64 = 100;
/// Klarna's default page size.
const DEFAULT_SIZE: u64 = 20;
/// Klarna's largest page size.
const MAX_SIZE: u64 = 500;
/// The `merchant_id` of every payout.
const MERCHANT_ID: &str = "simulator";
/// The column names of the CSV reports, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "payment_reference",
    "payout_date",
    "order_id",
    "short_order_id",
    "type",
    "detailed_type",
    "amount",
    "currency_code",
    "capture_id",
    "refund_id",
    "merchant_capture_reference",
    "merchant_refund_reference",
    "merchant_reference1",
    "merchant_reference2",
    "sale_date",
    "capture_date",
    "purchase_country",
];

/// The percentage fee on a captured `amount`: 2.9 % rounded half up, in integer arithmetic.
pub fn percentage_fee(amount: i64) -> i64 {
    amount
        .saturating_mul(FEE_PERMILLE)
        .saturating_add(500)
        .div_euclid(1000)
}

/// One settled transaction before it is written as Klarna's `Transaction`.
struct Line {
    day: i64,
    currency: String,
    /// Sort key within a payout: the order's sequence, the event's time, the kind.
    key: (u64, Millis, u8),
    tx: Transaction,
}

/// One payout with its transactions.
struct Settled {
    payout: Payout,
    day: i64,
    transactions: Vec<Transaction>,
}

fn reference(currency: &str, payout_day: i64) -> String {
    let date = format_time(payout_day.saturating_mul(DAY));
    let ymd: String = date.chars().take(10).filter(|c| *c != '-').collect();
    format!("SIM-{currency}-{ymd}")
}

fn text(v: Option<&serde_json::Value>) -> Option<String> {
    v.and_then(serde_json::Value::as_str).map(str::to_owned)
}

/// Every transaction of a day whose cut-off has passed at `now`.
fn lines(st: &State, now: Millis, base_url: &str) -> Vec<Line> {
    let today = now.div_euclid(DAY);
    let mut out = Vec::new();
    for (id, order) in &st.orders {
        let order_id = id.to_string();
        let base = |amount, r#type, detailed, at: Millis| {
            let payout_day = at.div_euclid(DAY) + 1;
            let payment_reference = reference(&order.purchase_currency, payout_day);
            Transaction {
                amount,
                capture_id: None,
                merchant_reference1: order.merchant_reference1.clone(),
                sale_date: format_time(order.created_at),
                r#type,
                capture_date: format_time(at),
                payment_reference: Some(payment_reference.clone()),
                order_id: order_id.clone(),
                payout: Some(format!(
                    "{base_url}/settlements/v1/payouts/{payment_reference}"
                )),
                refund_id: None,
                short_order_id: Some(order.klarna_reference.clone()),
                merchant_reference2: order.merchant_reference2.clone(),
                currency_code: order.purchase_currency.clone(),
                purchase_country: order.purchase_country.clone(),
                vat_rate: None,
                vat_amount: None,
                shipping_country: None,
                initial_payment_method_type: None,
                initial_number_of_installments: None,
                initial_payment_method_monthly_downpayments: None,
                merchant_capture_reference: None,
                merchant_refund_reference: None,
                detailed_type: Some(detailed),
                tax_in_currency_of_registration_country: None,
                currency_code_of_registration_country: None,
                klarna_comment: None,
                reversal_reference: None,
            }
        };
        let mut push = |at: Millis, kind: u8, tx: Transaction| {
            let day = at.div_euclid(DAY);
            if day < today {
                out.push(Line {
                    day,
                    currency: order.purchase_currency.clone(),
                    key: (order.seq, at, kind),
                    tx,
                });
            }
        };
        for c in &order.captures {
            let capture_id = Some(c.id.to_string());
            let merchant_capture_reference = text(c.reference.as_ref());
            let with_capture = |mut tx: Transaction| {
                tx.capture_id.clone_from(&capture_id);
                tx.merchant_capture_reference
                    .clone_from(&merchant_capture_reference);
                tx
            };
            let sale = base(
                c.amount,
                TransactionType::Sale,
                DetailedType::Purchase,
                c.at,
            );
            push(c.at, 0, with_capture(sale));
            let fee = base(
                percentage_fee(c.amount),
                TransactionType::Fee,
                DetailedType::PurchaseFeePercentage,
                c.at,
            );
            push(c.at, 1, with_capture(fee));
            let fixed = base(
                FIXED_FEE,
                TransactionType::Fee,
                DetailedType::PurchaseFeeFixed,
                c.at,
            );
            push(c.at, 2, with_capture(fixed));
        }
        for r in &order.refunds {
            let mut tx = base(
                r.amount,
                TransactionType::Return,
                DetailedType::PurchaseReturn,
                r.at,
            );
            // Klarna sends an empty capture id on returns.
            tx.capture_id = Some(String::new());
            tx.refund_id = Some(r.id.to_string());
            tx.merchant_refund_reference = text(r.reference.as_ref());
            push(r.at, 3, tx);
        }
    }
    out.sort_by(|a, b| (a.day, &a.currency, a.key).cmp(&(b.day, &b.currency, b.key)));
    out
}

/// Every payout at `now`, oldest first (then by currency), with its transactions.
fn settled(st: &State, now: Millis, base_url: &str) -> Vec<Settled> {
    let mut out: Vec<Settled> = Vec::new();
    for line in lines(st, now, base_url) {
        let payout_day = line.day + 1;
        let same = out
            .last()
            .is_some_and(|s| s.day == payout_day && s.payout.currency_code == line.currency);
        if !same {
            let payment_reference = reference(&line.currency, payout_day);
            out.push(Settled {
                payout: Payout {
                    totals: Totals::default(),
                    transactions: Some(format!(
                        "{base_url}/settlements/v1/transactions?payment_reference={payment_reference}"
                    )),
                    payment_reference,
                    payout_date: format_time(payout_day.saturating_mul(DAY)),
                    currency_code: line.currency.clone(),
                    currency_code_of_registration_country: None,
                    merchant_settlement_type: SettlementType::Net,
                    merchant_id: MERCHANT_ID.to_owned(),
                },
                day: payout_day,
                transactions: Vec::new(),
            });
        }
        if let Some(s) = out.last_mut() {
            let t = &mut s.payout.totals;
            match line.tx.r#type {
                TransactionType::Sale => {
                    t.sale_amount = t.sale_amount.saturating_add(line.tx.amount)
                }
                TransactionType::Return => {
                    t.return_amount = t.return_amount.saturating_add(line.tx.amount);
                }
                _ => t.fee_amount = t.fee_amount.saturating_add(line.tx.amount),
            }
            t.settlement_amount = t
                .sale_amount
                .saturating_sub(t.return_amount)
                .saturating_sub(t.fee_amount);
            s.transactions.push(line.tx);
        }
    }
    out
}

/// A query string's pairs, percent-decoded (`+` is a space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes `s` (invalid escapes are kept as they are).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = || {
            let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            u8::from_str_radix(h, 16).ok()
        };
        match (b, hex()) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parsed query of a request.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A date filter: RFC 3339, or a bare date meaning its midnight (UTC).
    fn date(&self, name: &str, required: bool) -> Result<Option<Millis>, Reply> {
        let Some(v) = self.get(name) else {
            return if required {
                Err(bad_value(name, "is required"))
            } else {
                Ok(None)
            };
        };
        let parsed = OffsetDateTime::parse(v, &Rfc3339).ok().or_else(|| {
            Date::parse(v, format_description!("[year]-[month]-[day]"))
                .ok()
                .map(|d| d.midnight().assume_utc())
        });
        let t = parsed.ok_or_else(|| bad_value(name, "is not an ISO 8601 date-time"))?;
        Ok(Some(
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        ))
    }

    fn number(&self, name: &str, default: u64, max: Option<u64>) -> Result<u64, Reply> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let n: u64 = v
            .parse()
            .map_err(|_| bad_value(name, "is not a non-negative integer"))?;
        match max {
            Some(max) if n == 0 || n > max => {
                Err(bad_value(name, format!("must be between 1 and {max}")))
            }
            _ => Ok(n),
        }
    }

    /// `start_date ≤ payout date ≤ end_date`, either end optional unless `required`.
    fn range(&self, required: bool) -> Result<(Millis, Millis), Reply> {
        let start = self.date("start_date", required)?.unwrap_or(i64::MIN);
        let end = self.date("end_date", required)?.unwrap_or(i64::MAX);
        if start > end {
            return Err(bad_value("start_date", "is after end_date"));
        }
        Ok((start, end))
    }
}

fn bad_value(field: &str, why: impl std::fmt::Display) -> Reply {
    Reply::error(400, "BAD_VALUE", format!("Bad value: {field} {why}"))
}

fn not_found() -> Reply {
    Reply::error(404, "NOT_FOUND", "No payout with this payment reference")
}

/// One page of `items` with Klarna's pagination object; `next`/`prev` repeat `filters`.
fn page<T: Clone>(
    items: &[T],
    q: &Query,
    url: &str,
    filters: &[&str],
) -> Result<(Vec<T>, Pagination), Reply> {
    let size = q.number("size", DEFAULT_SIZE, Some(MAX_SIZE))?;
    let offset = q.number("offset", 0, None)?;
    let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let start = usize::try_from(offset.min(total)).unwrap_or(usize::MAX);
    let end = usize::try_from(offset.saturating_add(size).min(total)).unwrap_or(usize::MAX);
    let chunk = items.get(start..end).unwrap_or_default().to_vec();
    let kept: String = filters
        .iter()
        .filter_map(|f| q.get(f).map(|v| format!("{f}={}&", encode(v))))
        .collect();
    let link = |o: u64| format!("{url}?{kept}offset={o}&size={size}");
    let count = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let pagination = Pagination {
        count: as_i64(count),
        total: Some(as_i64(total)),
        next: (offset.saturating_add(count) < total && count > 0)
            .then(|| link(offset.saturating_add(count))),
        prev: (offset > 0).then(|| link(offset.saturating_sub(size))),
        offset: Some(as_i64(offset)),
    };
    Ok((chunk, pagination))
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The CSV report: a header row of [`CSV_COLUMNS`], one row per transaction.
fn csv(payouts: &[&Settled]) -> Reply {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for s in payouts {
        for t in &s.transactions {
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            let row = [
                s.payout.payment_reference.clone(),
                s.payout.payout_date.clone(),
                t.order_id.clone(),
                o(&t.short_order_id),
                t.r#type.to_string(),
                t.detailed_type
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                t.amount.to_string(),
                t.currency_code.clone(),
                o(&t.capture_id),
                o(&t.refund_id),
                o(&t.merchant_capture_reference),
                o(&t.merchant_refund_reference),
                o(&t.merchant_reference1),
                o(&t.merchant_reference2),
                t.sale_date.clone(),
                t.capture_date.clone(),
                t.purchase_country.clone(),
            ];
            let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    let mut r = Reply::empty(200);
    r.headers
        .push(("content-type", "text/csv; charset=utf-8".to_owned()));
    r.body = Bytes::from(out);
    r
}

/// The PDF reports are a fixed placeholder: the simulator renders no PDF.
fn pdf() -> Reply {
    let mut r = Reply::empty(200);
    r.headers
        .push(("content-type", "application/pdf".to_owned()));
    r.body = Bytes::from_static(b"%PDF-1.4\n% Klarna simulator: report placeholder\n%%EOF\n");
    r
}

impl Engine {
    /// Answers a Settlements API request: `path` below the host (`/settlements/v1/...`) and the
    /// raw query string. Authentication is the HTTP layer's.
    pub fn settlements(&self, path: &str, query: Option<&str>) -> Reply {
        let now = self.clock.now();
        let q = Query(query_pairs(query.unwrap_or("")));
        let all = settled(&self.lock(), now, &self.base_url);
        let rest = path.strip_prefix("/settlements/v1").unwrap_or("");
        let result = match rest {
            "/payouts" => self.list_payouts(&all, &q),
            "/payouts/summary" => summary(&all, &q),
            "/transactions" => self.list_transactions(&all, &q),
            "/reports/payout-with-transactions" => by_reference(&all, &q).map(|s| csv(&[s])),
            "/reports/payout" => by_reference(&all, &q).map(|_| pdf()),
            "/reports/payouts-summary-with-transactions" => q.range(true).map(|(a, b)| {
                let chosen: Vec<&Settled> = all.iter().filter(|s| in_range(s, a, b)).collect();
                csv(&chosen)
            }),
            "/reports/payouts-summary" => q.range(true).map(|_| pdf()),
            other => match other.strip_prefix("/payouts/") {
                Some(r) if !r.contains('/') => {
                    let r = decode(r);
                    all.iter()
                        .find(|s| s.payout.payment_reference == r)
                        .map(|s| Reply::typed(200, &s.payout))
                        .ok_or_else(not_found)
                }
                _ => Err(Reply::error(404, "NOT_FOUND", "No such resource")),
            },
        };
        match result {
            Ok(r) | Err(r) => r,
        }
    }

    /// Every payout at the current simulated time, oldest first (for tests and inspection).
    pub fn payouts(&self) -> Vec<Payout> {
        let now = self.clock.now();
        settled(&self.lock(), now, &self.base_url)
            .into_iter()
            .map(|s| s.payout)
            .collect()
    }

    fn list_payouts(&self, all: &[Settled], q: &Query) -> Result<Reply, Reply> {
        let (a, b) = q.range(false)?;
        let currency = q.get("currency_code");
        let chosen: Vec<Payout> = all
            .iter()
            .filter(|s| in_range(s, a, b))
            .filter(|s| currency.is_none_or(|c| s.payout.currency_code == c))
            .map(|s| s.payout.clone())
            .collect();
        let url = format!("{}/settlements/v1/payouts", self.base_url);
        let (payouts, pagination) = page(
            &chosen,
            q,
            &url,
            &["start_date", "end_date", "currency_code"],
        )?;
        Ok(Reply::typed(
            200,
            &PayoutCollection {
                payouts,
                pagination,
            },
        ))
    }

    fn list_transactions(&self, all: &[Settled], q: &Query) -> Result<Reply, Reply> {
        let reference = q.get("payment_reference");
        let order = q.get("order_id");
        let chosen: Vec<Transaction> = all
            .iter()
            .filter(|s| reference.is_none_or(|r| s.payout.payment_reference == r))
            .flat_map(|s| s.transactions.iter())
            .filter(|t| order.is_none_or(|o| t.order_id == o))
            .cloned()
            .collect();
        let url = format!("{}/settlements/v1/transactions", self.base_url);
        let (transactions, pagination) =
            page(&chosen, q, &url, &["payment_reference", "order_id"])?;
        Ok(Reply::typed(
            200,
            &TransactionCollection {
                transactions,
                pagination,
            },
        ))
    }
}

fn in_range(s: &Settled, start: Millis, end: Millis) -> bool {
    let at = s.day.saturating_mul(DAY);
    start <= at && at <= end
}

fn by_reference<'a>(all: &'a [Settled], q: &Query) -> Result<&'a Settled, Reply> {
    let r = q
        .get("payment_reference")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad_value("payment_reference", "is required"))?;
    all.iter()
        .find(|s| s.payout.payment_reference == r)
        .ok_or_else(not_found)
}

fn summary(all: &[Settled], q: &Query) -> Result<Reply, Reply> {
    let (a, b) = q.range(true)?;
    let currency = q.get("currency_code");
    let mut out: Vec<PayoutSummary> = Vec::new();
    let mut chosen: Vec<&Settled> = all
        .iter()
        .filter(|s| in_range(s, a, b))
        .filter(|s| currency.is_none_or(|c| s.payout.currency_code == c))
        .collect();
    chosen.sort_by(|x, y| x.payout.currency_code.cmp(&y.payout.currency_code));
    for s in chosen {
        let t = &s.payout.totals;
        let same = out
            .last()
            .is_some_and(|o| o.summary_settlement_currency == s.payout.currency_code);
        if !same {
            out.push(PayoutSummary {
                summary_total_fee_correction_amount: 0,
                summary_payout_date_start: format_time(a),
                summary_total_release_amount: 0,
                summary_settlement_currency: s.payout.currency_code.clone(),
                summary_payout_date_end: format_time(b),
                summary_total_tax_amount: 0,
                summary_total_settlement_amount: 0,
                summary_total_holdback_amount: 0,
                summary_total_reversal_amount: 0,
                summary_total_return_amount: 0,
                summary_total_fee_amount: 0,
                summary_total_commission_amount: 0,
                summary_total_sale_amount: 0,
                summary_total_repay_amount: 0,
            });
        }
        if let Some(o) = out.last_mut() {
            o.summary_total_sale_amount = o.summary_total_sale_amount.saturating_add(t.sale_amount);
            o.summary_total_return_amount = o
                .summary_total_return_amount
                .saturating_add(t.return_amount);
            o.summary_total_fee_amount = o.summary_total_fee_amount.saturating_add(t.fee_amount);
            o.summary_total_settlement_amount = o
                .summary_total_settlement_amount
                .saturating_add(t.settlement_amount);
        }
    }
    Ok(Reply::typed(200, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentage_fee_rounds_half_up_in_integers() {
        assert_eq!(percentage_fee(174_700), 5066); // 5066.3
        assert_eq!(percentage_fee(1000), 29);
        assert_eq!(percentage_fee(50), 1); // 1.45 → 1
        assert_eq!(percentage_fee(500), 15); // 14.5 → 15
        assert_eq!(percentage_fee(0), 0);
    }

    #[test]
    fn references_name_currency_and_payout_day() {
        // 2024-05-02 is day 19845 since the epoch.
        assert_eq!(reference("SEK", 19_845), "SIM-SEK-20240502");
    }

    #[test]
    fn query_values_are_decoded() {
        let q = Query(query_pairs("a=x%2By+z&b=&c"));
        assert_eq!(q.get("a"), Some("x+y z"));
        assert_eq!(q.get("b"), Some(""));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
