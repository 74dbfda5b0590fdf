//! The settlement reconciliation report: our recorded captures and refunds against the
//! transactions Klarna has paid out (Settlements API, `docs/klarna/settlements.md`).
//!
//! [`reconcile`] is a pure function: the store's [`ManagedOrder`]s and Klarna's settled
//! [`Transaction`]s in, a [`SettlementReport`] out. [`settled_transactions`] fetches the latter
//! for a payout-date range through [`KlarnaClient`]'s paginated streams.
//!
//! Matching, per order (Klarna's `order_id` is our [`OrderId`]):
//!
//! * a `SALE` matches our capture with Klarna's `capture_id`, else (no id) the one whose
//!   `reference` is the transaction's `merchant_capture_reference`;
//! * a `RETURN` matches our refund with Klarna's `refund_id`, else by
//!   `merchant_refund_reference`;
//! * each of ours matches at most once; a Klarna sale or return that matches none of ours is
//!   **unknown** (also a second one for the same capture);
//! * `FEE` transactions are Klarna's fees, summed per payout; every other type (commission,
//!   holdback, …) is summed per payout under `other`, never matched;
//! * ours that no transaction matched are **unsettled** once older than the threshold, and
//!   **awaiting** before (Klarna pays out after a delay: a capture of today is in no payout);
//!   with a range, only ours recorded in it are checked, but every transaction is matched
//!   against all of ours.
//!
//! Amounts are compared as magnitudes: the Settlements document states no sign convention for
//! returns and fees. A match with a different amount stays a match and is listed by
//! [`SettlementReport::amount_mismatches`].

use std::collections::{BTreeMap, HashSet};

use futures::TryStreamExt as _;
use klarna_domain::{ManagedOrder, OrderId};
/// Time as the report takes it: the domain's.
pub use klarna_domain::{Span, Timestamp};
use klarna_gateway_http::api::settlements::{Transaction, TransactionType};
use klarna_gateway_http::{
    DateRange, KlarnaClient, KlarnaError, Page, PayoutFilter, StreamError, TransactionFilter,
};

/// Which side of our ledger an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ItemKind {
    /// A capture (Klarna's `SALE`).
    Capture,
    /// A refund (Klarna's `RETURN`).
    Refund,
}

/// How a match was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MatchedBy {
    /// Klarna's `capture_id` / `refund_id`.
    KlarnaId,
    /// Our `reference` (`merchant_capture_reference` / `merchant_refund_reference`).
    MerchantReference,
}

/// One of our captures or refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerItem {
    /// The order.
    pub order_id: OrderId,
    /// Capture or refund.
    pub kind: ItemKind,
    /// Klarna's capture or refund id.
    pub id: String,
    /// Our amount, minor units.
    pub amount: i64,
    /// When we recorded it.
    pub at: Timestamp,
    /// Our `reference`, if we sent one.
    pub reference: Option<String>,
}

/// One of ours, settled by Klarna.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Ours.
    pub item: LedgerItem,
    /// Klarna's amount (magnitude), minor units.
    pub settled_amount: i64,
    /// The payout it was paid in, if Klarna said.
    pub payment_reference: Option<String>,
    /// How it was matched.
    pub by: MatchedBy,
}

/// A Klarna sale or return that matches nothing of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTransaction {
    /// Klarna's transaction as it came.
    pub transaction: Transaction,
}

/// What one payout holds, computed from its transactions (minor units, magnitudes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutTotals {
    /// Klarna's `payment_reference` (empty when transactions named none).
    pub payment_reference: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// `SALE`s.
    pub sales: i64,
    /// `RETURN`s.
    pub returns: i64,
    /// `FEE`s.
    pub fees: i64,
    /// Every other type, by its wire name (`COMMISSION`, `HOLDBACK`, …), as Klarna signed it.
    pub other: BTreeMap<String, i64>,
    /// Number of transactions.
    pub transactions: usize,
}

impl PayoutTotals {
    /// `sales − returns − fees` (what the payout pays when no other type is present).
    #[must_use]
    pub fn net(&self) -> i64 {
        self.sales
            .saturating_sub(self.returns)
            .saturating_sub(self.fees)
    }
}

/// The reconciliation report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettlementReport {
    /// Ours, settled by Klarna.
    pub matched: Vec<Matched>,
    /// Ours, older than the threshold, in no payout.
    pub unsettled: Vec<LedgerItem>,
    /// Ours, in no payout yet, but younger than the threshold.
    pub awaiting: Vec<LedgerItem>,
    /// Klarna's sales and returns that match nothing of ours.
    pub unknown: Vec<UnknownTransaction>,
    /// Per payout, by `payment_reference`.
    pub payouts: Vec<PayoutTotals>,
}

impl SettlementReport {
    /// The matches whose settled amount differs from ours.
    pub fn amount_mismatches(&self) -> impl Iterator<Item = &Matched> {
        self.matched
            .iter()
            .filter(|m| m.item.amount != m.settled_amount)
    }

    /// The fees of every payout, summed.
    #[must_use]
    pub fn total_fees(&self) -> i64 {
        self.payouts
            .iter()
            .fold(0i64, |sum, p| sum.saturating_add(p.fees))
    }
}

/// What [`reconcile`] considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Now: ages are measured from here.
    pub now: Timestamp,
    /// Ours older than this without a payout are unsettled (younger: awaiting).
    pub older_than: Span,
    /// Only our captures and refunds recorded in `[from, to)` must be settled (the others are
    /// never unsettled or awaiting); `None`: all. Klarna's transactions are matched against
    /// all of ours whatever the range, so a payout that straddles it reports nothing unknown.
    pub range: Option<(Timestamp, Timestamp)>,
}

impl ReconcileOptions {
    /// Everything, unsettled after `days` days.
    #[must_use]
    pub fn new(now: Timestamp, days: u32) -> Self {
        Self {
            now,
            older_than: Span::days(i64::from(days)),
            range: None,
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettlementError {
    /// Bad input: nothing was read.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput {
        /// The field, e.g. `from`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A Settlements call failed.
    #[error("reading Klarna's settlements failed")]
    Klarna(#[source] Box<KlarnaError>),
    /// A paginated read failed part way (how far it got is in the error).
    #[error("reading Klarna's settlements failed part way")]
    Stream(#[source] Box<StreamError>),
}

impl From<KlarnaError> for SettlementError {
    fn from(e: KlarnaError) -> Self {
        match e {
            KlarnaError::InvalidInput { field, reason } => Self::InvalidInput { field, reason },
            other => Self::Klarna(Box::new(other)),
        }
    }
}

/// The report of `orders` against Klarna's `transactions`.
///
/// # Errors
/// [`SettlementError::InvalidInput`] naming `from` when the range is empty (`from ≥ to`).
/// No transactions is not an error: everything of ours is then unsettled or awaiting.
pub fn reconcile(
    orders: &[ManagedOrder],
    transactions: &[Transaction],
    options: &ReconcileOptions,
) -> Result<SettlementReport, SettlementError> {
    if let Some((from, to)) = options.range
        && from >= to
    {
        return Err(SettlementError::InvalidInput {
            field: "from",
            reason: "the range is empty: from is not before to".to_owned(),
        });
    }
    let in_range = |at: Timestamp| options.range.is_none_or(|(from, to)| from <= at && at < to);
    let mut ours: Vec<LedgerItem> = Vec::new();
    for order in orders {
        for c in order.captures() {
            ours.push(LedgerItem {
                order_id: order.order_id().clone(),
                kind: ItemKind::Capture,
                id: c.id.as_str().to_owned(),
                amount: c.amount,
                at: c.at,
                reference: c.reference.clone(),
            });
        }
        for r in order.refunds() {
            ours.push(LedgerItem {
                order_id: order.order_id().clone(),
                kind: ItemKind::Refund,
                id: r.id.as_str().to_owned(),
                amount: r.amount,
                at: r.at,
                reference: r.reference.clone(),
            });
        }
    }

    let mut report = SettlementReport::default();
    let mut taken: HashSet<usize> = HashSet::new();
    let mut payouts: BTreeMap<String, PayoutTotals> = BTreeMap::new();
    for tx in transactions {
        let reference = tx.payment_reference.clone().unwrap_or_default();
        let totals = payouts
            .entry(reference.clone())
            .or_insert_with(|| PayoutTotals {
                payment_reference: reference,
                currency: tx.currency_code.clone(),
                ..PayoutTotals::default()
            });
        totals.transactions = totals.transactions.saturating_add(1);
        let magnitude = tx.amount.saturating_abs();
        let kind = match &tx.r#type {
            TransactionType::Sale => {
                totals.sales = totals.sales.saturating_add(magnitude);
                ItemKind::Capture
            }
            TransactionType::Return => {
                totals.returns = totals.returns.saturating_add(magnitude);
                ItemKind::Refund
            }
            TransactionType::Fee => {
                totals.fees = totals.fees.saturating_add(magnitude);
                continue;
            }
            other => {
                let sum = totals.other.entry(other.as_str().to_owned()).or_insert(0);
                *sum = sum.saturating_add(tx.amount);
                continue;
            }
        };
        let (klarna_id, merchant_reference) = match kind {
            ItemKind::Capture => (tx.capture_id(), tx.merchant_capture_reference.as_deref()),
            ItemKind::Refund => (tx.refund_id(), tx.merchant_refund_reference.as_deref()),
        };
        let candidate = |by: MatchedBy| {
            ours.iter().enumerate().position(|(i, item)| {
                !taken.contains(&i)
                    && item.kind == kind
                    && item.order_id.as_str() == tx.order_id
                    && match by {
                        MatchedBy::KlarnaId => klarna_id == Some(item.id.as_str()),
                        MatchedBy::MerchantReference => {
                            klarna_id.is_none()
                                && merchant_reference.is_some_and(|r| !r.is_empty())
                                && item.reference.as_deref() == merchant_reference
                        }
                    }
            })
        };
        let found = candidate(MatchedBy::KlarnaId)
            .map(|i| (i, MatchedBy::KlarnaId))
            .or_else(|| {
                candidate(MatchedBy::MerchantReference).map(|i| (i, MatchedBy::MerchantReference))
            });
        match found.and_then(|(i, by)| ours.get(i).map(|item| (i, item, by))) {
            Some((i, item, by)) => {
                taken.insert(i);
                report.matched.push(Matched {
                    item: item.clone(),
                    settled_amount: magnitude,
                    payment_reference: tx.payment_reference.clone(),
                    by,
                });
            }
            None => report.unknown.push(UnknownTransaction {
                transaction: tx.clone(),
            }),
        }
    }
    for (i, item) in ours.into_iter().enumerate() {
        if taken.contains(&i) || !in_range(item.at) {
            continue;
        }
        if options.now.since(item.at) >= options.older_than {
            report.unsettled.push(item);
        } else {
            report.awaiting.push(item);
        }
    }
    report.payouts = payouts.into_values().collect();
    Ok(report)
}

/// Every transaction of the payouts dated in `range` (optionally of one currency), read with
/// pages of `page_size` through the paginated streams.
///
/// # Errors
/// [`SettlementError::InvalidInput`] naming the field (`size`, `currency_code`) before any
/// call; [`SettlementError::Stream`] when a page fails, saying how far the read got.
pub async fn settled_transactions(
    client: &KlarnaClient,
    range: DateRange,
    currency: Option<String>,
    page_size: u32,
) -> Result<Vec<Transaction>, SettlementError> {
    let first = Page::first(page_size)?;
    let filter = PayoutFilter {
        range: Some(range),
        currency,
    };
    let payouts: Vec<_> = client
        .payouts_stream(filter, first)?
        .try_collect()
        .await
        .map_err(|e| SettlementError::Stream(Box::new(e)))?;
    let mut out = Vec::new();
    for payout in payouts {
        let filter = TransactionFilter::PaymentReference(payout.payment_reference);
        let mut page: Vec<Transaction> = client
            .transactions_stream(filter, first)?
            .try_collect()
            .await
            .map_err(|e| SettlementError::Stream(Box::new(e)))?;
        out.append(&mut page);
    }
    Ok(out)
}
