//! Wiremock tests of the Settlements API on `KlarnaClient`: query strings, paginated streams
//! across pages, a failure on page 2 that names how far the stream got, 404 for an unknown
//! payout, CSV reports, and inputs refused before anything is sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use futures::StreamExt as _;
use klarna_gateway_http::{
    Credentials, DateRange, KlarnaClient, KlarnaError, Page, PayoutFilter, Report, RetryConfig,
    Timeouts, TransactionFilter,
};
use klarna_ports::ErrorAction;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> KlarnaClient {
    KlarnaClient::builder(Credentials::new("user", "pw"))
        .base_url(server.uri())
        .timeouts(Timeouts {
            connect: None,
            total: None,
        })
        .without_deadline()
        .retry(RetryConfig::default())
        .build()
        .unwrap()
}

fn day(d: u8) -> time::Date {
    time::Date::from_calendar_date(2024, time::Month::May, d).unwrap()
}

fn payout(reference: &str) -> Value {
    let mut totals = serde_json::Map::new();
    for k in [
        "commission_amount",
        "repay_amount",
        "sale_amount",
        "holdback_amount",
        "settlement_amount",
        "reversal_amount",
        "release_amount",
        "return_amount",
        "fee_amount",
        "charge_amount",
        "credit_amount",
        "fee_refund_amount",
        "tax_refund_amount",
        "deposit_amount",
        "opening_debt_balance_amount",
        "closing_debt_balance_amount",
    ] {
        totals.insert(k.to_owned(), json!(100));
    }
    json!({"totals": totals, "payment_reference": reference,
        "payout_date": "2024-05-02T00:00:00Z", "currency_code": "SEK",
        "merchant_settlement_type": "NET", "merchant_id": "M1"})
}

fn transaction(n: u32) -> Value {
    json!({"amount": 1000 + n, "sale_date": "2024-05-01T10:00:00Z", "type": "SALE",
        "capture_date": "2024-05-01T10:00:00Z", "order_id": "o-1", "currency_code": "SEK",
        "purchase_country": "SE", "capture_id": format!("c-{n}")})
}

/// Mounts one page of payouts at `offset` (size 2, total 5).
async fn payout_page(server: &MockServer, offset: u32, refs: &[&str]) {
    let next = offset + 2;
    let mut pagination = json!({"count": refs.len(), "total": 5, "offset": offset});
    if next < 5 {
        pagination["next"] = json!(format!(
            "https://elsewhere.example/payouts?offset={next}&size=2"
        ));
    }
    Mock::given(method("GET"))
        .and(path("/settlements/v1/payouts"))
        .and(query_param("offset", offset.to_string()))
        .and(query_param("size", "2"))
        .and(query_param("currency_code", "SEK"))
        .and(query_param("start_date", "2024-05-01T00:00:00Z"))
        .and(query_param("end_date", "2024-05-03T23:59:59Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "payouts": refs.iter().map(|r| payout(r)).collect::<Vec<_>>(),
            "pagination": pagination,
        })))
        .expect(1)
        .mount(server)
        .await;
}

fn filter() -> PayoutFilter {
    PayoutFilter {
        range: Some(DateRange::days(day(1), day(3)).unwrap()),
        currency: Some("SEK".into()),
    }
}

#[tokio::test]
async fn the_payouts_stream_reads_every_page_by_offset() {
    let server = MockServer::start().await;
    payout_page(&server, 0, &["P1", "P2"]).await;
    payout_page(&server, 2, &["P3", "P4"]).await;
    payout_page(&server, 4, &["P5"]).await;
    let stream = client(&server)
        .payouts_stream(filter(), Page::first(2).unwrap())
        .unwrap();
    let got: Vec<String> = stream.map(|p| p.unwrap().payment_reference).collect().await;
    assert_eq!(got, ["P1", "P2", "P3", "P4", "P5"]);
    // `next` named another host: the stream took its offset, never the URI.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    server.verify().await;
}

#[tokio::test]
async fn a_failing_second_page_says_how_far_the_stream_got() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/transactions"))
        .and(query_param("order_id", "o-1"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transactions": [transaction(1), transaction(2), transaction(3)],
            "pagination": {"count": 3, "total": 9, "next": "/transactions?offset=3&size=3"},
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/transactions"))
        .and(query_param("offset", "3"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_code": "BAD_VALUE", "error_messages": ["offset"], "correlation_id": "corr-2"})))
        .mount(&server)
        .await;
    let results: Vec<_> = client(&server)
        .transactions_stream(
            TransactionFilter::OrderId("o-1".into()),
            Page::first(3).unwrap(),
        )
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        results.len(),
        4,
        "three items, then the error, then the end"
    );
    assert!(results[..3].iter().all(Result::is_ok));
    let err = results[3].as_ref().unwrap_err();
    assert_eq!((err.items_read, err.pages_read, err.offset), (3, 1, 3));
    assert_eq!(err.source.status(), Some(400));
    assert_eq!(err.source.correlation_id(), Some("corr-2"));
    assert_eq!(
        err.to_string(),
        "settlements.list_transactions: page at offset 3 failed after 1 pages and 3 items"
    );
}

#[tokio::test]
async fn a_next_that_does_not_move_forward_ends_the_stream_with_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transactions": [transaction(1)],
            "pagination": {"count": 1, "next": "/transactions?offset=0&size=1"},
        })))
        .mount(&server)
        .await;
    let results: Vec<_> = client(&server)
        .transactions_stream(TransactionFilter::All, Page::first(1).unwrap())
        .unwrap()
        .collect()
        .await;
    // The page whose pagination cannot be followed counts as failed: its items are not
    // yielded, so resuming from the error's offset reads them once.
    assert_eq!(results.len(), 1);
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(err.source, KlarnaError::MalformedResponse { .. }),
        "{err:?}"
    );
    assert_eq!((err.items_read, err.pages_read, err.offset), (0, 0, 0));
}

#[tokio::test]
async fn an_unknown_payout_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/payouts/NOPE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error_code": "NOT_FOUND", "error_messages": ["no payout"], "correlation_id": "c"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).payout("NOPE").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.error_code(), Some("NOT_FOUND"));
    assert_eq!(err.action(), ErrorAction::NotFound);
}

#[tokio::test]
async fn a_known_payout_parses() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/payouts/P%2F1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(payout("P/1")))
        .mount(&server)
        .await;
    let p = client(&server).payout("P/1").await.unwrap().body;
    assert_eq!(p.payment_reference, "P/1");
    assert_eq!(p.totals.sale_amount, 100);
}

#[tokio::test]
async fn csv_reports_are_text_and_asked_for_as_csv() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/reports/payout-with-transactions"))
        .and(query_param("payment_reference", "P1"))
        .and(header("accept", "text/csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string("type,amount\nSALE,100\n"))
        .expect(1)
        .mount(&server)
        .await;
    let csv = client(&server)
        .report_csv(&Report::PayoutCsv("P1".into()))
        .await
        .unwrap()
        .body;
    assert_eq!(csv, "type,amount\nSALE,100\n");
}

#[tokio::test]
async fn the_summary_sends_the_range_and_currency() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settlements/v1/payouts/summary"))
        .and(query_param("start_date", "2024-05-01T00:00:00Z"))
        .and(query_param("end_date", "2024-05-01T23:59:59Z"))
        .and(query_param("currency_code", "EUR"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let range = DateRange::days(day(1), day(1)).unwrap();
    let summaries = client(&server)
        .payouts_summary(&range, Some("EUR"))
        .await
        .unwrap();
    assert!(summaries.body.is_empty());
}

fn field(e: KlarnaError) -> &'static str {
    match e {
        KlarnaError::InvalidInput { field, .. } => field,
        other => panic!("not an input error: {other:?}"),
    }
}

#[tokio::test]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    let c = client(&server);
    assert_eq!(field(c.payout("").await.unwrap_err()), "payment_reference");
    assert_eq!(
        field(c.payout("summary").await.unwrap_err()),
        "payment_reference"
    );
    assert_eq!(field(Page::first(501).unwrap_err()), "size");
    assert_eq!(field(Page::first(0).unwrap_err()), "size");
    assert_eq!(
        field(DateRange::days(day(3), day(1)).unwrap_err()),
        "start_date"
    );
    let bad_currency = PayoutFilter {
        range: None,
        currency: Some("kr".into()),
    };
    assert_eq!(
        field(c.payouts(&bad_currency, Page::default()).await.unwrap_err()),
        "currency_code"
    );
    assert_eq!(
        field(
            c.payouts_stream(bad_currency, Page::default())
                .err()
                .unwrap()
        ),
        "currency_code"
    );
    assert_eq!(
        field(
            c.transactions(
                &TransactionFilter::PaymentReference(String::new()),
                Page::default()
            )
            .await
            .unwrap_err()
        ),
        "payment_reference"
    );
    assert_eq!(
        field(
            c.report_csv(&Report::PayoutPdf("P1".into()))
                .await
                .unwrap_err()
        ),
        "report"
    );
    assert_eq!(
        field(c.report(&Report::PayoutCsv(" ".into())).await.unwrap_err()),
        "payment_reference"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
