//! The Settlements API v1 on [`KlarnaClient`] (S1–S8 of `docs/klarna/settlements.md`): typed
//! filters validated before anything is sent, one method per operation, and paginated streams of
//! payouts and transactions whose error says how far they got.
//!
//! Every operation is a read: retried like any read (429, 5xx, transport), classified by the one
//! table (`outcome`): 400 → `InvalidRequest`, 404 (an unknown payout) → `NotFound`.

use std::future::Future;

use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use klarna_api::settlements::{
    Pagination, Payout, PayoutCollection, PayoutSummary, Transaction, TransactionCollection,
};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time, UtcOffset};

use crate::client::{KlarnaClient, Response, build_path};
use crate::error::KlarnaError;
use crate::operation::Operation;

/// Klarna's default page size (`size`, S1 and S4).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Klarna's largest page size (`maximum: 500`).
pub const MAX_PAGE_SIZE: u32 = 500;

fn invalid(field: &'static str, reason: impl Into<String>) -> KlarnaError {
    KlarnaError::InvalidInput {
        field,
        reason: reason.into(),
    }
}

/// A payout-date range: `start ≤ end`, sent as full RFC 3339 UTC date-times (Klarna reads a bare
/// date as midnight, which makes a one-day range empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    start: OffsetDateTime,
    end: OffsetDateTime,
}

impl DateRange {
    /// A range from `start` to `end`, both included.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `start_date` when it is after `end`, or the field
    /// whose year RFC 3339 cannot write (outside 0000–9999).
    pub fn new(start: OffsetDateTime, end: OffsetDateTime) -> Result<Self, KlarnaError> {
        let range = Self { start, end };
        if start > end {
            return Err(invalid("start_date", "is after end_date"));
        }
        range.query()?;
        Ok(range)
    }

    /// Whole UTC days: from `first` at 00:00:00 to `last` at 23:59:59, as Klarna advises.
    ///
    /// # Errors
    /// As [`DateRange::new`].
    pub fn days(first: Date, last: Date) -> Result<Self, KlarnaError> {
        let end_of_day = Time::from_hms(23, 59, 59).map_err(|_| invalid("end_date", "time"))?;
        Self::new(
            first.midnight().assume_utc(),
            last.with_time(end_of_day).assume_utc(),
        )
    }

    /// The start.
    #[must_use]
    pub fn start(&self) -> OffsetDateTime {
        self.start
    }

    /// The end.
    #[must_use]
    pub fn end(&self) -> OffsetDateTime {
        self.end
    }

    /// Whether `at` lies in the range (both ends included).
    #[must_use]
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.start <= at && at <= self.end
    }

    fn query(&self) -> Result<[(&'static str, String); 2], KlarnaError> {
        Ok([
            ("start_date", rfc3339("start_date", self.start)?),
            ("end_date", rfc3339("end_date", self.end)?),
        ])
    }
}

fn rfc3339(field: &'static str, at: OffsetDateTime) -> Result<String, KlarnaError> {
    at.to_offset(UtcOffset::UTC).format(&Rfc3339).map_err(|_| {
        invalid(
            field,
            "cannot be written as RFC 3339 (year outside 0000-9999)",
        )
    })
}

/// Where a page starts and how many elements it holds: `size` in `1..=500`, `offset` at most
/// `i64::MAX` (Klarna's `int64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    offset: u64,
}

impl Page {
    /// A page of `size` elements from `offset`.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `size` outside `1..=500`, or `offset` above
    /// `i64::MAX`.
    pub fn new(size: u32, offset: u64) -> Result<Self, KlarnaError> {
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(invalid(
                "size",
                format!("must be between 1 and {MAX_PAGE_SIZE}, is {size}"),
            ));
        }
        if i64::try_from(offset).is_err() {
            return Err(invalid("offset", "larger than Klarna's int64"));
        }
        Ok(Self { size, offset })
    }

    /// The first page, of `size` elements.
    ///
    /// # Errors
    /// As [`Page::new`].
    pub fn first(size: u32) -> Result<Self, KlarnaError> {
        Self::new(size, 0)
    }

    /// Elements per page.
    #[must_use]
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Offset of the page's first element.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn query(self) -> [(&'static str, String); 2] {
        [
            ("size", self.size.to_string()),
            ("offset", self.offset.to_string()),
        ]
    }
}

impl Default for Page {
    /// Klarna's defaults: 20 from offset 0.
    fn default() -> Self {
        Self {
            size: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which payouts S1 lists: optionally a payout-date range and a currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutFilter {
    /// Payout dates.
    pub range: Option<DateRange>,
    /// ISO 4217 currency code, three upper-case letters (`currency_code`).
    pub currency: Option<String>,
}

impl PayoutFilter {
    fn query(&self) -> Result<Vec<(&'static str, String)>, KlarnaError> {
        let mut q = Vec::new();
        if let Some(range) = &self.range {
            q.extend(range.query()?);
        }
        if let Some(currency) = &self.currency {
            q.push(("currency_code", currency_code(currency)?));
        }
        Ok(q)
    }
}

fn currency_code(code: &str) -> Result<String, KlarnaError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code.to_owned())
    } else {
        Err(invalid(
            "currency_code",
            "must be an ISO 4217 code of three upper-case letters",
        ))
    }
}

/// Which transactions S4 lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionFilter {
    /// Every transaction Klarna gives.
    All,
    /// The transactions of one payout.
    PaymentReference(String),
    /// The transactions of one Klarna order.
    OrderId(String),
}

impl TransactionFilter {
    fn query(&self) -> Result<Vec<(&'static str, String)>, KlarnaError> {
        Ok(match self {
            Self::All => Vec::new(),
            Self::PaymentReference(r) => {
                vec![("payment_reference", reference("payment_reference", r)?)]
            }
            Self::OrderId(id) => vec![("order_id", reference("order_id", id)?)],
        })
    }
}

fn reference(field: &'static str, value: &str) -> Result<String, KlarnaError> {
    if value.trim().is_empty() {
        Err(invalid(field, "must not be empty"))
    } else if value.len() > 4096 {
        Err(invalid(field, "longer than 4096 bytes"))
    } else {
        Ok(value.to_owned())
    }
}

/// One of the report downloads (S5–S8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Report {
    /// S5: one payout with its transactions, CSV.
    PayoutCsv(String),
    /// S6: one payout summed up, PDF.
    PayoutPdf(String),
    /// S7: the payouts of a range with their transactions, CSV.
    SummaryCsv(DateRange),
    /// S8: the payouts of a range summed up, PDF.
    SummaryPdf(DateRange),
}

impl Report {
    fn operation(&self) -> Operation {
        match self {
            Self::PayoutCsv(_) => Operation::PayoutReportCsv,
            Self::PayoutPdf(_) => Operation::PayoutReportPdf,
            Self::SummaryCsv(_) => Operation::SummaryReportCsv,
            Self::SummaryPdf(_) => Operation::SummaryReportPdf,
        }
    }

    fn query(&self) -> Result<Vec<(&'static str, String)>, KlarnaError> {
        Ok(match self {
            Self::PayoutCsv(r) | Self::PayoutPdf(r) => {
                vec![("payment_reference", reference("payment_reference", r)?)]
            }
            Self::SummaryCsv(range) | Self::SummaryPdf(range) => range.query()?.to_vec(),
        })
    }

    /// Whether the report is CSV (else PDF).
    #[must_use]
    pub fn is_csv(&self) -> bool {
        matches!(self, Self::PayoutCsv(_) | Self::SummaryCsv(_))
    }
}

fn with_query(path: String, query: &[(&'static str, String)]) -> String {
    if query.is_empty() {
        return path;
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    format!("{path}?{encoded}")
}

impl KlarnaClient {
    async fn settlements_get(
        &self,
        op: Operation,
        ids: &[&str],
        query: &[(&'static str, String)],
    ) -> Result<crate::client::RawResponse, KlarnaError> {
        let path = with_query(build_path(op, ids)?, query);
        self.execute(op, path, None, None).await
    }

    async fn settlements_json<T: serde::de::DeserializeOwned>(
        &self,
        op: Operation,
        ids: &[&str],
        query: &[(&'static str, String)],
    ) -> Result<Response<T>, KlarnaError> {
        let raw = self.settlements_get(op, ids, query).await?;
        let parsed = raw.decode(op)?;
        Ok(raw.into_response(parsed))
    }

    /// S1: one page of payouts.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `currency_code` (not three upper-case letters)
    /// before anything is sent; otherwise as any read.
    pub async fn payouts(
        &self,
        filter: &PayoutFilter,
        page: Page,
    ) -> Result<Response<PayoutCollection>, KlarnaError> {
        let mut query = filter.query()?;
        query.extend(page.query());
        self.settlements_json(Operation::ListPayouts, &[], &query)
            .await
    }

    /// S2: one payout by its `payment_reference`.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `payment_reference` when it is empty or `summary`
    /// (that path is S3); 404 → [`klarna_ports::ErrorAction::NotFound`].
    pub async fn payout(&self, payment_reference: &str) -> Result<Response<Payout>, KlarnaError> {
        reference("payment_reference", payment_reference)?;
        if payment_reference == "summary" {
            return Err(invalid(
                "payment_reference",
                "`summary` is the path of the payouts summary",
            ));
        }
        self.settlements_json(Operation::GetPayout, &[payment_reference], &[])
            .await
    }

    /// S3: the totals of the payouts in `range`, one summary per currency (or only `currency`).
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `currency_code`; otherwise as any read.
    pub async fn payouts_summary(
        &self,
        range: &DateRange,
        currency: Option<&str>,
    ) -> Result<Response<Vec<PayoutSummary>>, KlarnaError> {
        let mut query = range.query()?.to_vec();
        if let Some(c) = currency {
            query.push(("currency_code", currency_code(c)?));
        }
        self.settlements_json(Operation::PayoutsSummary, &[], &query)
            .await
    }

    /// S4: one page of settled transactions.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `payment_reference` or `order_id` when empty;
    /// otherwise as any read.
    pub async fn transactions(
        &self,
        filter: &TransactionFilter,
        page: Page,
    ) -> Result<Response<TransactionCollection>, KlarnaError> {
        let mut query = filter.query()?;
        query.extend(page.query());
        self.settlements_json(Operation::ListTransactions, &[], &query)
            .await
    }

    /// S5–S8: a report's bytes, verbatim.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `payment_reference` when empty; 404 for an unknown
    /// payout; otherwise as any read.
    pub async fn report(&self, report: &Report) -> Result<Response<Bytes>, KlarnaError> {
        let op = report.operation();
        let raw = self.settlements_get(op, &[], &report.query()?).await?;
        let body = raw.body.clone();
        Ok(raw.into_response(body))
    }

    /// S5 or S7: a CSV report as text.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] naming `report` for a PDF report (before anything is
    /// sent); [`KlarnaError::MalformedResponse`] when the answer is not UTF-8; as
    /// [`KlarnaClient::report`] otherwise.
    pub async fn report_csv(&self, report: &Report) -> Result<Response<String>, KlarnaError> {
        if !report.is_csv() {
            return Err(invalid("report", "is a PDF report, not CSV"));
        }
        let op = report.operation();
        let response = self.report(report).await?;
        let text = String::from_utf8(response.body.to_vec()).map_err(|e| {
            KlarnaError::MalformedResponse {
                operation: op,
                status: response.status,
                correlation_id: response.correlation_id.clone(),
                detail: format!("CSV is not UTF-8 at byte {}", e.utf8_error().valid_up_to()),
            }
        })?;
        Ok(Response {
            body: text,
            status: response.status,
            correlation_id: response.correlation_id,
            idempotency_key: None,
        })
    }

    /// Every payout `filter` selects, page after page from `first` (following the offset of
    /// `pagination.next`), as a stream of payouts.
    ///
    /// # Errors
    /// The filter is checked now ([`KlarnaError::InvalidInput`] naming the field); a page that
    /// fails later ends the stream with a [`StreamError`] saying how far it got.
    pub fn payouts_stream(
        &self,
        filter: PayoutFilter,
        first: Page,
    ) -> Result<impl Stream<Item = Result<Payout, StreamError>> + Send + 'static, KlarnaError> {
        filter.query()?;
        let client = self.clone();
        Ok(paged(Operation::ListPayouts, first, move |page| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                client
                    .payouts(&filter, page)
                    .await
                    .map(|r| (r.body.payouts, r.body.pagination, r.correlation_id))
            }
        }))
    }

    /// Every transaction `filter` selects, page after page from `first`, as a stream.
    ///
    /// # Errors
    /// As [`KlarnaClient::payouts_stream`].
    pub fn transactions_stream(
        &self,
        filter: TransactionFilter,
        first: Page,
    ) -> Result<impl Stream<Item = Result<Transaction, StreamError>> + Send + 'static, KlarnaError>
    {
        filter.query()?;
        let client = self.clone();
        Ok(paged(Operation::ListTransactions, first, move |page| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                client
                    .transactions(&filter, page)
                    .await
                    .map(|r| (r.body.transactions, r.body.pagination, r.correlation_id))
            }
        }))
    }
}

/// A paginated stream failed: how far it got, and why.
#[derive(Debug, thiserror::Error)]
#[error(
    "{operation}: page at offset {offset} failed after {pages_read} pages and {items_read} items"
)]
#[non_exhaustive]
pub struct StreamError {
    /// The operation that failed.
    pub operation: Operation,
    /// Items the stream yielded before the failure.
    pub items_read: u64,
    /// Pages read before the failure.
    pub pages_read: u64,
    /// The `offset` of the page that failed; resume from here.
    pub offset: u64,
    /// The page's error.
    #[source]
    pub source: KlarnaError,
}

/// The stream's position between pages.
struct Cursor<F> {
    fetch: F,
    next: Option<Page>,
    pages: u64,
    items: u64,
}

type PageOf<T> = (Vec<T>, Pagination, Option<String>);

fn paged<T, F, Fut>(
    op: Operation,
    first: Page,
    fetch: F,
) -> impl Stream<Item = Result<T, StreamError>> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(Page) -> Fut + Send + 'static,
    Fut: Future<Output = Result<PageOf<T>, KlarnaError>> + Send,
{
    let start = Cursor {
        fetch,
        next: Some(first),
        pages: 0,
        items: 0,
    };
    stream::unfold(start, move |mut cursor| async move {
        let page = cursor.next.take()?;
        let failed = |cursor: &Cursor<F>, source| StreamError {
            operation: op,
            items_read: cursor.items,
            pages_read: cursor.pages,
            offset: page.offset(),
            source,
        };
        let out: Vec<Result<T, StreamError>> = match (cursor.fetch)(page).await {
            Ok((items, pagination, correlation_id)) => {
                match following(&pagination, page, items.len()) {
                    Ok(next) => {
                        cursor.pages += 1;
                        cursor.items += u64::try_from(items.len()).unwrap_or(u64::MAX);
                        cursor.next = next;
                        items.into_iter().map(Ok).collect()
                    }
                    Err(detail) => {
                        let source = KlarnaError::MalformedResponse {
                            operation: op,
                            status: 200,
                            correlation_id,
                            detail,
                        };
                        vec![Err(failed(&cursor, source))]
                    }
                }
            }
            Err(source) => vec![Err(failed(&cursor, source))],
        };
        Some((stream::iter(out), cursor))
    })
    .flatten()
}

/// The page after `page` (which held `got` elements), or `None` at the end: no `next` (or an
/// empty one), an empty page, or `offset + got ≥ total`. The offset comes from `next`'s
/// query (the URI itself is never fetched) or, without one, `offset + got`; a `next` that does
/// not move forward is an error (it would loop forever).
fn following(pagination: &Pagination, page: Page, got: usize) -> Result<Option<Page>, String> {
    let got = u64::try_from(got).unwrap_or(u64::MAX);
    let reached = page.offset().saturating_add(got);
    let next = pagination.next.as_deref().filter(|n| !n.trim().is_empty());
    let at_total = pagination
        .total
        .is_some_and(|t| u64::try_from(t).map_or(true, |t| reached >= t));
    let Some(next) = next else {
        return Ok(None);
    };
    if got == 0 || at_total {
        return Ok(None);
    }
    let query = next.split_once('?').map_or("", |(_, q)| q);
    let offset = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "offset")
        .map(|(_, v)| v.parse::<u64>())
        .transpose()
        .map_err(|_| "pagination.next has an offset that is not a number".to_owned())?
        .unwrap_or(reached);
    if offset <= page.offset() {
        return Err(format!(
            "pagination.next does not move forward (offset {offset} after {})",
            page.offset()
        ));
    }
    Page::new(page.size(), offset)
        .map(Some)
        .map_err(|_| "pagination.next has an offset beyond int64".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pagination(next: Option<&str>, total: Option<i64>) -> Pagination {
        Pagination {
            count: 2,
            total,
            next: next.map(str::to_owned),
            prev: None,
            offset: None,
        }
    }

    #[test]
    fn the_next_page_follows_next_and_stops_at_the_end() {
        let p = Page::new(2, 0).unwrap();
        let next = following(
            &pagination(Some("https://x/p?offset=2&size=2"), Some(5)),
            p,
            2,
        );
        assert_eq!(next, Ok(Some(Page::new(2, 2).unwrap())));
        // No `next`, an empty one, an empty page, or the total reached: the end.
        assert_eq!(following(&pagination(None, Some(5)), p, 2), Ok(None));
        assert_eq!(following(&pagination(Some(""), None), p, 2), Ok(None));
        assert_eq!(
            following(&pagination(Some("/p?offset=2"), None), p, 0),
            Ok(None)
        );
        let last = Page::new(2, 4).unwrap();
        assert_eq!(
            following(&pagination(Some("/p?offset=6"), Some(5)), last, 1),
            Ok(None)
        );
        // A `next` without an offset: the offset after this page.
        assert_eq!(
            following(&pagination(Some("/p?size=2"), None), p, 2),
            Ok(Some(Page::new(2, 2).unwrap()))
        );
        // A `next` that does not move forward is an error, not a loop.
        assert!(following(&pagination(Some("/p?offset=0"), None), p, 2).is_err());
        assert!(following(&pagination(Some("/p?offset=x"), None), p, 2).is_err());
    }

    #[test]
    fn inputs_are_checked_naming_the_field() {
        let field = |e: KlarnaError| match e {
            KlarnaError::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Page::new(0, 0).unwrap_err()), "size");
        assert_eq!(field(Page::new(501, 0).unwrap_err()), "size");
        assert!(Page::new(500, 0).is_ok());
        assert_eq!(field(Page::new(1, u64::MAX).unwrap_err()), "offset");
        let day = |d| Date::from_calendar_date(2024, time::Month::May, d).unwrap();
        assert_eq!(
            field(DateRange::days(day(3), day(2)).unwrap_err()),
            "start_date"
        );
        let one_day = DateRange::days(day(2), day(2)).unwrap();
        assert_eq!(
            one_day.query().unwrap()[1].1,
            "2024-05-02T23:59:59Z",
            "a one-day range ends at the end of the day"
        );
        assert_eq!(field(currency_code("sek").unwrap_err()), "currency_code");
        assert_eq!(
            field(TransactionFilter::OrderId(" ".into()).query().unwrap_err()),
            "order_id"
        );
    }
}
