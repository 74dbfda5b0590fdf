//! Wiremock tests of `KlarnaClient`: every operation's method, path, headers and body; status
//! mapping; retries with key reuse; redirects, malformed and oversized answers; and a log
//! canary proving that secrets never reach logs or `Debug` output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failing assertion is the point"
)]

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use klarna_domain::TokenStatus;
use klarna_gateway_http::{
    Credentials, DateRange, IdempotencyKey, KlarnaClient, KlarnaError, Operation, Page,
    PayoutFilter, Report, RetryConfig, Timeouts, TransactionFilter, gateway_error,
};
use klarna_ports::{ErrorAction, Refusal};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USERNAME: &str = "merchant-user";
const PASSWORD: &str = "canary-password-9f8e7d";
const AUTH_TOKEN: &str = "auth-canary tok/1";
const AUTH_TOKEN_ENCODED: &str = "auth-canary%20tok%2F1";
const CUSTOMER_TOKEN: &str = "ctok-canary-77";
const SESSION_ID: &str = "sess-1";
const ORDER_ID: &str = "ord-1";
const CAPTURE_ID: &str = "cap-1";
const REFUND_ID: &str = "ref-1";
const PAYMENT_REFERENCE: &str = "XISA93DJ";

fn range() -> DateRange {
    let day = |d| time::Date::from_calendar_date(2024, time::Month::May, d).unwrap();
    DateRange::days(day(1), day(2)).unwrap()
}

fn payout() -> Value {
    let totals: serde_json::Map<String, Value> = [
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
    ]
    .into_iter()
    .map(|k| (k.to_owned(), json!(0)))
    .collect();
    json!({"totals": totals, "payment_reference": PAYMENT_REFERENCE,
        "payout_date": "2024-05-02T00:00:00Z", "currency_code": "SEK",
        "merchant_settlement_type": "NET", "merchant_id": "M1"})
}

const HPP_ID: &str = "hpp-1";

fn basic_header() -> String {
    let raw = format!("{USERNAME}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../klarna-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn typed<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap()
}

/// Test client: no timeouts and no deadline (paused-time tests would otherwise fire them
/// while waiting on the socket) and short backoff.
fn client_with(server_uri: &str, retry: RetryConfig) -> KlarnaClient {
    KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(server_uri)
        .timeouts(Timeouts {
            connect: None,
            total: None,
        })
        .without_deadline()
        .retry(retry)
        .build()
        .unwrap()
}

fn client(server: &MockServer) -> KlarnaClient {
    client_with(&server.uri(), RetryConfig::default())
}

fn om_order() -> Value {
    json!({
        "order_id": ORDER_ID,
        "status": "PART_CAPTURED",
        "fraud_status": "ACCEPTED",
        "order_amount": 174700,
        "original_order_amount": 174700,
        "captured_amount": 100000,
        "refunded_amount": 0,
        "remaining_authorized_amount": 74700,
        "purchase_country": "SE",
        "purchase_currency": "SEK",
        "captures": [{"capture_id": CAPTURE_ID, "captured_amount": 100000}],
        "refunds": [],
        "initial_payment_method": {"type": "INVOICE", "description": "Invoice"}
    })
}

fn capture() -> Value {
    json!({"capture_id": CAPTURE_ID, "captured_amount": 100000, "captured_at": "2024-05-15T10:00:00Z",
           "shipping_info": [{"shipping_company": "PostNord", "shipping_method": "Home"}]})
}

fn shipping_info() -> Value {
    json!({"shipping_info": [{"shipping_company": "PostNord", "shipping_method": "Home",
           "tracking_number": "0037", "tracking_uri": "https://tracking.example/0037"}]})
}

/// Calls `op` with `request` as its body and returns the response body as JSON.
async fn invoke(
    client: &KlarnaClient,
    op: Operation,
    request: Option<&Value>,
    key: Option<IdempotencyKey>,
) -> Result<Value, KlarnaError> {
    use Operation::*;
    let req = || request.expect("this operation needs a body");
    let out = match op {
        CreateSession => json!(client.create_session(&typed(req()), key).await?.body),
        ReadSession => json!(client.read_session(SESSION_ID).await?.body),
        UpdateSession => json!(
            client
                .update_session(SESSION_ID, &typed(req()), key)
                .await?
                .body
        ),
        CancelAuthorization => json!(client.cancel_authorization(AUTH_TOKEN, key).await?.body),
        CreateOrder => json!(
            client
                .create_order(AUTH_TOKEN, &typed(req()), key)
                .await?
                .body
        ),
        CreateCustomerToken => json!(
            client
                .create_customer_token(AUTH_TOKEN, &typed(req()), key)
                .await?
                .body
        ),
        ReadCustomerToken => json!(client.read_customer_token(CUSTOMER_TOKEN).await?.body),
        CreateTokenOrder => json!(
            client
                .create_token_order(CUSTOMER_TOKEN, &typed(req()), key)
                .await?
                .body
        ),
        CancelCustomerToken => {
            json!(
                client
                    .cancel_customer_token(CUSTOMER_TOKEN, key)
                    .await?
                    .body
            )
        }
        GetOrder => json!(client.get_order(ORDER_ID).await?.body),
        CaptureOrder => json!(
            client
                .capture_order(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        ListCaptures => json!(client.list_captures(ORDER_ID).await?.body),
        GetCapture => json!(client.get_capture(ORDER_ID, CAPTURE_ID).await?.body),
        RefundOrder => json!(
            client
                .refund_order(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        GetRefund => json!(client.get_refund(ORDER_ID, REFUND_ID).await?.body),
        CancelOrder => json!(client.cancel_order(ORDER_ID, key).await?.body),
        ReleaseRemainingAuthorization => json!(
            client
                .release_remaining_authorization(ORDER_ID, key)
                .await?
                .body
        ),
        ExtendAuthorizationTime => {
            json!(client.extend_authorization_time(ORDER_ID, key).await?.body)
        }
        UpdateAuthorization => json!(
            client
                .update_authorization(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        UpdateMerchantReferences => json!(
            client
                .update_merchant_references(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        UpdateCustomerDetails => json!(
            client
                .update_customer_details(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        AddShippingInfo => json!(
            client
                .add_shipping_info(ORDER_ID, &typed(req()), key)
                .await?
                .body
        ),
        AddCaptureShippingInfo => json!(
            client
                .add_capture_shipping_info(ORDER_ID, CAPTURE_ID, &typed(req()), key)
                .await?
                .body
        ),
        TriggerSendOut => json!(
            client
                .trigger_send_out(ORDER_ID, CAPTURE_ID, key)
                .await?
                .body
        ),
        GetExtendDueDateOptions => json!(
            client
                .get_extend_due_date_options(ORDER_ID, CAPTURE_ID)
                .await?
                .body
        ),
        ExtendDueDate => json!(
            client
                .extend_due_date(ORDER_ID, CAPTURE_ID, &typed(req()), key)
                .await?
                .body
        ),
        AcknowledgeOrder => json!(client.acknowledge_order(ORDER_ID, key).await?.body),
        ListPayouts => json!(
            client
                .payouts(&PayoutFilter::default(), Page::default())
                .await?
                .body
        ),
        GetPayout => json!(client.payout(PAYMENT_REFERENCE).await?.body),
        PayoutsSummary => json!(client.payouts_summary(&range(), None).await?.body),
        ListTransactions => json!(
            client
                .transactions(&TransactionFilter::All, Page::default())
                .await?
                .body
        ),
        PayoutReportCsv | PayoutReportPdf | SummaryReportCsv | SummaryReportPdf => {
            let report = match op {
                PayoutReportCsv => Report::PayoutCsv(PAYMENT_REFERENCE.into()),
                PayoutReportPdf => Report::PayoutPdf(PAYMENT_REFERENCE.into()),
                SummaryReportCsv => Report::SummaryCsv(range()),
                _ => Report::SummaryPdf(range()),
            };
            json!(String::from_utf8_lossy(&client.report(&report).await?.body))
        }

        CreateHppSession => json!(client.create_hpp_session(&typed(req()), key).await?.body),
        ReadHppSession => json!(client.read_hpp_session(HPP_ID).await?.body),
        DisableHppSession => json!(client.disable_hpp_session(HPP_ID, key).await?.body),
        DistributeHppSession => json!(
            client
                .distribute_hpp_session(HPP_ID, &typed(req()), key)
                .await?
                .body
        ),
        other => panic!("no case for {other:?}"),
    };
    Ok(out)
}

struct Case {
    op: Operation,
    path: String,
    request: Option<Value>,
    response: ResponseTemplate,
    expected: Value,
}

fn cases() -> Vec<Case> {
    use Operation::*;
    let om = |rest: &str| format!("/ordermanagement/v1/orders/{ORDER_ID}{rest}");
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let no_content = || ResponseTemplate::new(204);
    vec![
        Case {
            op: CreateSession,
            path: "/payments/v1/sessions".into(),
            request: Some(fixture("create_session.request.json")),
            response: ok(fixture("create_session.response.json")),
            expected: fixture("create_session.response.json"),
        },
        Case {
            op: ReadSession,
            path: format!("/payments/v1/sessions/{SESSION_ID}"),
            request: None,
            response: ok(fixture("read_session.response.json")),
            expected: fixture("read_session.response.json"),
        },
        Case {
            op: UpdateSession,
            path: format!("/payments/v1/sessions/{SESSION_ID}"),
            request: Some(json!({"order_amount": 4900, "locale": "sv-SE"})),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: CancelAuthorization,
            path: format!("/payments/v1/authorizations/{AUTH_TOKEN_ENCODED}"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: CreateOrder,
            path: format!("/payments/v1/authorizations/{AUTH_TOKEN_ENCODED}/order"),
            request: Some(fixture("create_order.request.json")),
            response: ok(fixture("create_order.response.json")),
            expected: fixture("create_order.response.json"),
        },
        Case {
            op: CreateCustomerToken,
            path: format!("/payments/v1/authorizations/{AUTH_TOKEN_ENCODED}/customer-token"),
            request: Some(fixture("customer_token.request.json")),
            response: ok(fixture("customer_token.response.json")),
            expected: fixture("customer_token.response.json"),
        },
        Case {
            op: ReadCustomerToken,
            path: format!("/customer-token/v1/tokens/{CUSTOMER_TOKEN}"),
            request: None,
            response: ok(json!({"status": "ACTIVE", "payment_method_type": "INVOICE"})),
            expected: json!({"status": "ACTIVE", "payment_method_type": "INVOICE"}),
        },
        Case {
            op: CreateTokenOrder,
            path: format!("/customer-token/v1/tokens/{CUSTOMER_TOKEN}/order"),
            request: Some(fixture("token_order.request.json")),
            response: ok(fixture("token_order.response.json")),
            expected: fixture("token_order.response.json"),
        },
        Case {
            op: CancelCustomerToken,
            path: format!("/customer-token/v1/tokens/{CUSTOMER_TOKEN}/status"),
            request: Some(json!({"status": "CANCELLED"})),
            response: ResponseTemplate::new(202).set_body_raw(
                "Token patch request has been accepted and is being processed.",
                "text/plain",
            ),
            expected: Value::Null,
        },
        Case {
            op: GetOrder,
            path: om(""),
            request: None,
            response: ok(om_order()),
            expected: om_order(),
        },
        Case {
            op: CaptureOrder,
            path: om("/captures"),
            request: Some(json!({"captured_amount": 174700, "reference": "SHIP-1",
                "shipping_info": [{"shipping_company": "PostNord", "shipping_method": "Home"}]})),
            response: ResponseTemplate::new(201)
                .insert_header("Capture-Id", CAPTURE_ID)
                .insert_header(
                    "Location",
                    "https://api.klarna.com/ordermanagement/v1/orders/ord-1/captures/cap-1",
                ),
            expected: json!({"capture_id": CAPTURE_ID,
                "location": "https://api.klarna.com/ordermanagement/v1/orders/ord-1/captures/cap-1"}),
        },
        Case {
            op: ListCaptures,
            path: om("/captures"),
            request: None,
            response: ok(json!([capture()])),
            expected: json!([capture()]),
        },
        Case {
            op: GetCapture,
            path: om(&format!("/captures/{CAPTURE_ID}")),
            request: None,
            response: ok(capture()),
            expected: capture(),
        },
        Case {
            op: RefundOrder,
            path: om("/refunds"),
            request: Some(
                json!({"refunded_amount": 4900, "description": "Shipping refund",
                "order_lines": [{"type": "shipping_fee", "name": "Standard delivery", "quantity": 1,
                    "unit_price": 4900, "total_amount": 4900}]}),
            ),
            response: ResponseTemplate::new(201)
                .insert_header("Refund-Id", REFUND_ID)
                .insert_header("Location", "/ordermanagement/v1/orders/ord-1/refunds/ref-1"),
            expected: json!({"refund_id": REFUND_ID,
                "location": "/ordermanagement/v1/orders/ord-1/refunds/ref-1"}),
        },
        Case {
            op: GetRefund,
            path: om(&format!("/refunds/{REFUND_ID}")),
            request: None,
            response: ok(
                json!({"refund_id": REFUND_ID, "refunded_amount": 4900, "credit_invoice": false}),
            ),
            expected: json!({"refund_id": REFUND_ID, "refunded_amount": 4900, "credit_invoice": false}),
        },
        Case {
            op: CancelOrder,
            path: om("/cancel"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: ReleaseRemainingAuthorization,
            path: om("/release-remaining-authorization"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: ExtendAuthorizationTime,
            path: om("/extend-authorization-time"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: UpdateAuthorization,
            path: om("/authorization"),
            request: Some(json!({"order_amount": 100000, "description": "smaller",
                "order_lines": [{"name": "Shoe", "quantity": 1, "unit_price": 100000, "total_amount": 100000}]})),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: UpdateMerchantReferences,
            path: om("/merchant-references"),
            request: Some(json!({"merchant_reference1": "SO-1", "merchant_reference2": ""})),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: UpdateCustomerDetails,
            path: om("/customer-details"),
            request: Some(json!({"shipping_address": {"given_name": "Maja", "country": "SE"}})),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: AddShippingInfo,
            path: om("/shipping-info"),
            request: Some(shipping_info()),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: AddCaptureShippingInfo,
            path: om(&format!("/captures/{CAPTURE_ID}/shipping-info")),
            request: Some(shipping_info()),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: TriggerSendOut,
            path: om(&format!("/captures/{CAPTURE_ID}/trigger-send-out")),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: GetExtendDueDateOptions,
            path: om(&format!("/captures/{CAPTURE_ID}/extend-due-date-options")),
            request: None,
            response: ok(
                json!({"currency": "SEK", "options": [{"amount": 1000, "number_of_days": 14}]}),
            ),
            expected: json!({"currency": "SEK", "options": [{"amount": 1000, "number_of_days": 14}]}),
        },
        Case {
            op: ExtendDueDate,
            path: om(&format!("/captures/{CAPTURE_ID}/extend-due-date")),
            request: Some(json!({"number_of_days": 14})),
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: AcknowledgeOrder,
            path: om("/acknowledge"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: ListPayouts,
            path: "/settlements/v1/payouts".into(),
            request: None,
            response: ok(json!({"payouts": [payout()], "pagination": {"count": 1}})),
            expected: json!({"payouts": [payout()], "pagination": {"count": 1}}),
        },
        Case {
            op: GetPayout,
            path: format!("/settlements/v1/payouts/{PAYMENT_REFERENCE}"),
            request: None,
            response: ok(payout()),
            expected: payout(),
        },
        Case {
            op: PayoutsSummary,
            path: "/settlements/v1/payouts/summary".into(),
            request: None,
            response: ok(json!([])),
            expected: json!([]),
        },
        Case {
            op: ListTransactions,
            path: "/settlements/v1/transactions".into(),
            request: None,
            response: ok(json!({"transactions": [], "pagination": {"count": 0}})),
            expected: json!({"transactions": [], "pagination": {"count": 0}}),
        },
        Case {
            op: PayoutReportCsv,
            path: "/settlements/v1/reports/payout-with-transactions".into(),
            request: None,
            response: ResponseTemplate::new(200).set_body_string("type,amount\nSALE,100\n"),
            expected: json!("type,amount\nSALE,100\n"),
        },
        Case {
            op: PayoutReportPdf,
            path: "/settlements/v1/reports/payout".into(),
            request: None,
            response: ResponseTemplate::new(200).set_body_string("%PDF-1.4"),
            expected: json!("%PDF-1.4"),
        },
        Case {
            op: SummaryReportCsv,
            path: "/settlements/v1/reports/payouts-summary-with-transactions".into(),
            request: None,
            response: ResponseTemplate::new(200).set_body_string("type\n"),
            expected: json!("type\n"),
        },
        Case {
            op: SummaryReportPdf,
            path: "/settlements/v1/reports/payouts-summary".into(),
            request: None,
            response: ResponseTemplate::new(200).set_body_string("%PDF-1.4"),
            expected: json!("%PDF-1.4"),
        },
        Case {
            op: CreateHppSession,
            path: "/hpp/v1/sessions".into(),
            request: Some(fixture("hpp/create_session.request.json")),
            response: ResponseTemplate::new(201)
                .set_body_json(fixture("hpp/create_session.response.json")),
            expected: fixture("hpp/create_session.response.json"),
        },
        Case {
            op: ReadHppSession,
            path: format!("/hpp/v1/sessions/{HPP_ID}"),
            request: None,
            response: ok(fixture("hpp/read_session.response.json")),
            expected: fixture("hpp/read_session.response.json"),
        },
        Case {
            op: DisableHppSession,
            path: format!("/hpp/v1/sessions/{HPP_ID}"),
            request: None,
            response: no_content(),
            expected: Value::Null,
        },
        Case {
            op: DistributeHppSession,
            path: format!("/hpp/v1/sessions/{HPP_ID}/distribution"),
            request: Some(fixture("hpp/distribution.request.json")),
            response: ResponseTemplate::new(201),
            expected: Value::Null,
        },
    ]
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_common_headers(request: &Request, op: Operation, has_body: bool) {
    assert_eq!(
        header(request, "authorization"),
        Some(basic_header().as_str()),
        "{op}"
    );
    assert_eq!(header(request, "accept"), Some(op.accept()), "{op}");
    let ua = header(request, "user-agent").unwrap_or_default();
    assert!(ua.starts_with("Library/klarna-gateway-http_"), "{op}: {ua}");
    assert!(
        ua.contains(" Language/Rust_") && ua.contains(" OS/"),
        "{op}: {ua}"
    );
    assert_eq!(
        header(request, "content-type"),
        has_body.then_some("application/json"),
        "{op}: Content-Type only with a body"
    );
    let key = header(request, "klarna-idempotency-key");
    assert_eq!(
        key.is_some(),
        op.is_mutating(),
        "{op}: idempotency key iff mutating"
    );
}

#[tokio::test]
async fn every_operation_sends_the_documented_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    let client = client(&server);
    let all = cases();
    assert_eq!(all.len(), Operation::ALL.len(), "one case per operation");
    for case in all {
        server.reset().await;
        Mock::given(method(case.op.method().as_str()))
            .and(path(case.path.as_str()))
            .respond_with(case.response.clone())
            .expect(1)
            .mount(&server)
            .await;
        let got = invoke(&client, case.op, case.request.as_ref(), None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.op));
        assert_eq!(got, case.expected, "{}: parsed answer", case.op);

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1, "{}", case.op);
        let request = &requests[0];
        assert_eq!(
            request.method.as_str(),
            case.op.method().as_str(),
            "{}",
            case.op
        );
        assert_eq!(request.url.path(), case.path, "{}", case.op);
        assert_common_headers(request, case.op, case.request.is_some());
        match &case.request {
            Some(expected) => {
                let sent: Value = serde_json::from_slice(&request.body).unwrap();
                assert_eq!(&sent, expected, "{}: body", case.op);
            }
            None => assert!(request.body.is_empty(), "{}: no body", case.op),
        }
        server.verify().await;
    }
}

#[tokio::test]
async fn the_callers_idempotency_key_is_sent_verbatim() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let key = IdempotencyKey::new("caller-key-123").unwrap();
    let response = client(&server)
        .cancel_order(ORDER_ID, Some(key.clone()))
        .await
        .unwrap();
    assert_eq!(response.idempotency_key, Some(key));
    assert_eq!(response.status, 204);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        header(&requests[0], "klarna-idempotency-key"),
        Some("caller-key-123")
    );
}

#[tokio::test]
async fn minted_keys_differ_between_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = client(&server);
    client.cancel_order(ORDER_ID, None).await.unwrap();
    client.cancel_order(ORDER_ID, None).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let a = header(&requests[0], "klarna-idempotency-key").unwrap();
    let b = header(&requests[1], "klarna-idempotency-key").unwrap();
    assert_ne!(a, b);
    assert!(uuid_v4_shaped(a), "{a}");
}

fn uuid_v4_shaped(s: &str) -> bool {
    s.len() == 36 && s.as_bytes()[14] == b'4' && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test(start_paused = true)]
async fn retries_reuse_the_key_and_identical_bytes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ordermanagement/v1/orders/ord-1/captures"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Capture-Id", "cap-9")
                .insert_header("Klarna-Correlation-Id", "corr-3"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let body = typed(&json!({"captured_amount": 100, "description": "part"}));
    let created = client(&server)
        .capture_order(ORDER_ID, &body, None)
        .await
        .unwrap();
    assert_eq!(created.body.capture_id, "cap-9");
    assert_eq!(created.body.location, None);
    assert_eq!(created.correlation_id.as_deref(), Some("corr-3"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let key = header(&requests[0], "klarna-idempotency-key").unwrap();
    assert_eq!(
        Some(key),
        created.idempotency_key.as_ref().map(IdempotencyKey::as_str)
    );
    for r in &requests {
        assert_eq!(header(r, "klarna-idempotency-key"), Some(key));
        assert_eq!(
            r.body, requests[0].body,
            "byte-identical body on every attempt"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error_code": "INTERNAL_SERVER_ERROR", "correlation_id": "c-500"}),
        ))
        .mount(&server)
        .await;
    let err = client(&server).get_order(ORDER_ID).await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.error_code(), Some("INTERNAL_SERVER_ERROR"));
    assert_eq!(err.correlation_id(), Some("c-500"));
    assert_eq!(err.action(), ErrorAction::Retry);
}

#[tokio::test(start_paused = true)]
async fn unsafe_calls_are_not_retried_on_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let body = typed(&fixture("create_order.request.json"));
    let err = client(&server)
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    assert!(err.may_have_reached_klarna());
}

#[tokio::test(start_paused = true)]
async fn no_retry_on_4xx_refusals() {
    let server = MockServer::start().await;
    let client = client(&server);
    for (status, code, class) in [
        (409, "BAD_VALUE", ErrorAction::Rejected(Refusal::NotAllowed)),
        (400, "BAD_REQUEST", ErrorAction::InvalidRequest),
        (
            403,
            "TOKEN_SUSPENDED",
            ErrorAction::Rejected(Refusal::TokenUnusable(TokenStatus::Suspended)),
        ),
        (404, "TOKEN_NOT_FOUND", ErrorAction::NotFound),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"error_code": code, "error_messages": ["Not matching fields: [x]"]}),
            ))
            .mount(&server)
            .await;
        let body = typed(&fixture("token_order.request.json"));
        let err = client
            .create_token_order(CUSTOMER_TOKEN, &body, None)
            .await
            .unwrap_err();
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status}"
        );
        assert_eq!(err.action(), class, "{status}");
        assert_eq!(err.error_code(), Some(code));
        let KlarnaError::Api { error_messages, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(error_messages, &vec!["Not matching fields: [x]".to_owned()]);
    }
}

/// A token charge Klarna refuses for the currency or for the merchant reaches the port as a
/// typed refusal the caller can act on (API.md §11.6), not a generic "not allowed".
#[tokio::test(start_paused = true)]
async fn token_charge_refusals_for_currency_and_forbidden_tokens_are_typed() {
    let server = MockServer::start().await;
    let client = client(&server);
    for (code, refusal) in [
        (
            "PAYMENT_METHOD_CURRENCY_MISMATCH",
            Refusal::CurrencyMismatch,
        ),
        ("UNAVAILABLE_PAYMENT_METHOD", Refusal::CurrencyMismatch),
        ("TOKEN_FORBIDDEN", Refusal::TokenForbidden),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"error_code": code, "error_messages": ["no"]})),
            )
            .mount(&server)
            .await;
        let body = typed(&fixture("token_order.request.json"));
        let err = client
            .create_token_order(CUSTOMER_TOKEN, &body, None)
            .await
            .unwrap_err();
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{code}");
        let port = gateway_error(Operation::CreateTokenOrder, &err);
        assert_eq!(port.action, ErrorAction::Rejected(refusal), "{code}");
        assert_eq!(port.refusal(), Some(refusal), "{code}");
        assert_ne!(port.refusal(), Some(Refusal::NotAllowed), "{code}");
        assert_eq!(port.code.as_deref(), Some(code));
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ordermanagement/v1/orders/ord-1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(om_order()))
        .with_priority(2)
        .mount(&server)
        .await;
    let start = tokio::time::Instant::now();
    let order = client(&server).get_order(ORDER_ID).await.unwrap();
    assert_eq!(order.body.order_id.as_deref(), Some(ORDER_ID));
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
        .mount(&server)
        .await;
    let retry = RetryConfig {
        max_attempts: 2,
        retry_after_cap: Duration::from_secs(3),
        ..RetryConfig::default()
    };
    let start = tokio::time::Instant::now();
    let err = client_with(&server.uri(), retry)
        .get_order(ORDER_ID)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(86400), "{elapsed:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert!(
        matches!(err, KlarnaError::Api { status: 429, retry_after: Some(d), .. } if d == Duration::from_secs(86400))
    );
}

#[tokio::test]
async fn error_body_forms_and_correlation_header_fallback() {
    let server = MockServer::start().await;
    let client = client(&server);

    Mock::given(method("GET"))
        .and(path("/payments/v1/sessions/sess-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error.response.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let err = client.read_session(SESSION_ID).await.unwrap_err();
    assert!(
        matches!(&err, KlarnaError::Api { status: 400, error_messages, .. }
        if error_messages == &vec!["Bad value: order_lines[0].total_tax_amount".to_owned()])
    );
    assert_eq!(
        err.correlation_id(),
        Some("9d3c5e7a-1b2f-4c6d-8e0a-2f4b6d8c0e1a")
    );
    assert_eq!(err.action(), ErrorAction::InvalidRequest);

    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("Klarna-Correlation-Id", "from-header")
                .set_body_json(json!({"error_code": "NOT_ALLOWED", "error_message": "singular"})),
        )
        .mount(&server)
        .await;
    let err = client.read_session(SESSION_ID).await.unwrap_err();
    assert!(
        matches!(&err, KlarnaError::Api { error_messages, .. } if error_messages == &vec!["singular".to_owned()])
    );
    assert_eq!(err.correlation_id(), Some("from-header"));

    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw("<html>nope</html>", "text/html"))
        .mount(&server)
        .await;
    let err = client.read_session(SESSION_ID).await.unwrap_err();
    assert_eq!(err.action(), ErrorAction::Unauthorized);
    assert_eq!(err.error_code(), None);
}

#[tokio::test]
async fn malformed_success_body_is_a_typed_error_without_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"order_id": 12345, "redirect_url": "maja@example.se"})),
        )
        .mount(&server)
        .await;
    let body = typed(&fixture("create_order.request.json"));
    let err = client(&server)
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            KlarnaError::MalformedResponse {
                operation: Operation::CreateOrder,
                status: 200,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains("12345") && !shown.contains("maja"),
        "{shown}"
    );

    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"fraud_status": "ACCEPTED"})))
        .mount(&server)
        .await;
    let err = client(&server)
        .read_customer_token(CUSTOMER_TOKEN)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing field `status`"), "{err}");
}

#[tokio::test]
async fn oversized_responses_are_refused() {
    let server = MockServer::start().await;
    let big = json!({"order_id": ORDER_ID, "merchant_data": "x".repeat(10_000)});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(big))
        .mount(&server)
        .await;
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(server.uri())
        .max_response_bytes(1024)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let err = client.get_order(ORDER_ID).await.unwrap_err();
    assert!(
        matches!(
            err,
            KlarnaError::ResponseTooLarge {
                limit: 1024,
                status: 200,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn created_without_id_header_falls_back_to_location_or_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ordermanagement/v1/orders/ord-1/refunds"))
        .respond_with(ResponseTemplate::new(201).insert_header(
            "Location",
            "/ordermanagement/v1/orders/ord-1/refunds/ref-77",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let body = typed(&json!({"refunded_amount": 100}));
    let created = client.refund_order(ORDER_ID, &body, None).await.unwrap();
    assert_eq!(created.body.refund_id, "ref-77");
    assert_eq!(created.status, 201);

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let err = client
        .refund_order(ORDER_ID, &body, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KlarnaError::MalformedResponse { status: 201, .. }),
        "{err:?}"
    );
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
}

#[tokio::test]
async fn redirects_are_not_followed_and_leak_no_credentials() {
    let target = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(om_order()))
        .mount(&target)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/ordermanagement/v1/orders/ord-1", target.uri()),
        ))
        .mount(&server)
        .await;
    let err = client(&server).get_order(ORDER_ID).await.unwrap_err();
    assert!(
        matches!(err, KlarnaError::Api { status: 302, .. }),
        "{err:?}"
    );
    assert!(target.received_requests().await.unwrap().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// A port on which nothing listens: a socket bound but never listening holds the port (so
/// no parallel test server can take it) and connections to it are refused.
fn closed_port() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", socket.local_addr().unwrap());
    (socket, url)
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    let (_socket, url) = closed_port();
    let client = client_with(&url, RetryConfig::none());
    let body = typed(&fixture("create_order.request.json"));
    let err = client
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            KlarnaError::NotSent {
                operation: Operation::CreateOrder,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.may_have_reached_klarna());
    assert_eq!(err.action(), ErrorAction::Retry);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_may_have_reached_klarna() {
    // Not from wiremock's pool: the abandoned request may still be in the server's socket
    // when this test ends, and must not reach the next test's server.
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .mount(&server)
        .await;
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(server.uri())
        .total_timeout(Duration::from_secs(30))
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let body = typed(&fixture("create_order.request.json"));
    let err = client
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KlarnaError::MaybeSent { detail, .. } if detail.starts_with("timeout")),
        "{err:?}"
    );
    assert!(err.may_have_reached_klarna());
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains("auth-canary") && !shown.contains("127.0.0.1"),
        "{shown}"
    );
}

/// Shared in-memory log sink for the canary test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_or_debug_output() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global (not thread-local) so that the `log` records of reqwest are bridged in too and
    // every test running in parallel in this binary feeds the canary.
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).unwrap();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/payments/v1/authorizations/{AUTH_TOKEN_ENCODED}/order"
        )))
        .respond_with(
            ResponseTemplate::new(500).insert_header("Klarna-Correlation-Id", "corr-canary"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ACTIVE"})))
        .mount(&server)
        .await;
    let client = client(&server);
    let mut shown = format!("{client:?}");

    let body = typed(&fixture("create_order.request.json"));
    let err = client
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    shown.push_str(&format!("{err:?} {err}"));
    let token = client.read_customer_token(CUSTOMER_TOKEN).await.unwrap();
    shown.push_str(&format!("{token:?}"));
    let (_socket, url) = closed_port();
    let refused = client_with(&url, RetryConfig::none());
    let err = refused
        .create_token_order(
            CUSTOMER_TOKEN,
            &typed(&fixture("token_order.request.json")),
            None,
        )
        .await
        .unwrap_err();
    shown.push_str(&format!("{err:?} {err} {refused:?}"));
    std::io::stdout().flush().unwrap();

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    if std::env::var_os("SHOW_CANARY_LOGS").is_some() {
        eprintln!("{logs}");
    }
    assert!(
        logs.contains("payments.create_order"),
        "logs were captured: {logs}"
    );
    assert!(
        logs.contains("corr-canary"),
        "correlation id is logged: {logs}"
    );
    assert!(
        logs.contains("{token}"),
        "path templates are logged: {logs}"
    );
    let basic = basic_header();
    let encoded = basic.trim_start_matches("Basic ");
    for secret in [
        PASSWORD,
        encoded,
        "auth-canary",
        AUTH_TOKEN_ENCODED,
        CUSTOMER_TOKEN,
        "Lindqvist",
        "maja.lindqvist",
        "Jordan",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
        assert!(
            !shown.contains(secret),
            "{secret} leaked into Debug/Display:\n{shown}"
        );
    }
}

/// A one-shot raw HTTP/1.1 server on a plain thread, for failures wiremock cannot produce.
/// Each entry in `replies` serves one connection: `None` reads the request and hangs up
/// without answering; `Some(bytes)` writes those bytes and closes. Returns the base URL and a
/// handle yielding the raw requests received.
fn raw_server(replies: Vec<Option<Vec<u8>>>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for reply in replies {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0_u8; 4096];
            // Read the head, then as many body bytes as Content-Length says.
            let body_start = loop {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                request.extend_from_slice(&buf[..n]);
                if let Some(pos) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
            };
            let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while request.len() < body_start + length {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "client closed mid-body");
                request.extend_from_slice(&buf[..n]);
            }
            seen.push(request);
            if let Some(bytes) = reply {
                stream.write_all(&bytes).unwrap();
            }
            // Dropping the stream closes the connection.
        }
        seen
    });
    (url, handle)
}

fn idempotency_header_of(raw: &[u8]) -> Option<String> {
    String::from_utf8_lossy(raw).lines().find_map(|l| {
        l.to_lowercase()
            .strip_prefix("klarna-idempotency-key:")
            .map(|v| v.trim().to_owned())
    })
}

fn body_of(raw: &[u8]) -> Vec<u8> {
    let pos = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    raw[pos + 4..].to_vec()
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_after_sending_is_retried_with_the_same_key_when_safe() {
    let ok = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec();
    let (url, server) = raw_server(vec![None, Some(ok)]);
    let client = client_with(&url, RetryConfig::default());
    let body = typed(&shipping_info());
    let response = client
        .add_shipping_info(ORDER_ID, &body, None)
        .await
        .unwrap();
    assert_eq!(response.status, 204);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    let key = idempotency_header_of(&seen[0]).unwrap();
    assert_eq!(
        idempotency_header_of(&seen[1]).as_deref(),
        Some(key.as_str())
    );
    assert_eq!(body_of(&seen[0]), body_of(&seen[1]));
    assert!(!body_of(&seen[0]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_on_an_unsafe_call_is_outcome_unknown() {
    let (url, server) = raw_server(vec![None]);
    let client = client_with(&url, RetryConfig::default());
    let body = typed(&fixture("create_order.request.json"));
    let err = client
        .create_order(AUTH_TOKEN, &body, None)
        .await
        .unwrap_err();
    assert!(matches!(err, KlarnaError::MaybeSent { .. }), "{err:?}");
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains("auth-canary") && !shown.contains("tok%2F1"),
        "{shown}"
    );
    assert_eq!(server.join().unwrap().len(), 1);
}

#[tokio::test]
async fn oversized_chunked_bodies_are_cut_off() {
    let mut reply =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for _ in 0..4 {
        reply.extend_from_slice(format!("{:x}\r\n{}\r\n", 600, " ".repeat(600)).as_bytes());
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    let (url, server) = raw_server(vec![Some(reply)]);
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(url)
        .max_response_bytes(1024)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let err = client.get_order(ORDER_ID).await.unwrap_err();
    assert!(
        matches!(err, KlarnaError::ResponseTooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert_eq!(server.join().unwrap().len(), 1);
}

/// A refusal on a retry that follows an attempt which may have taken effect is not a refusal:
/// the first capture may have happened (then the retry is "over the remaining amount").
#[tokio::test(start_paused = true)]
async fn a_refusal_after_an_uncertain_attempt_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ordermanagement/v1/orders/ord-1/captures"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_code": "CAPTURE_NOT_ALLOWED",
            "error_messages": ["Captured amount is higher than the remaining authorized amount"],
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let body = typed(&json!({"captured_amount": 100}));
    let err = client(&server)
        .capture_order(ORDER_ID, &body, None)
        .await
        .unwrap_err();
    assert!(matches!(err, KlarnaError::MaybeSent { .. }), "{err:?}");
    assert!(err.may_have_reached_klarna());
    // The port sees an unknown outcome, never a refusal.
    let port =
        klarna_gateway_http::gateway_error(klarna_gateway_http::Operation::CaptureOrder, &err);
    assert_eq!(port.action, klarna_ports::ErrorAction::OutcomeUnknown);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Reads one HTTP/1.1 request (head, then as many body bytes as `Content-Length` says).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut request = Vec::new();
    let mut buf = [0_u8; 4096];
    let body_start = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed early");
        request.extend_from_slice(&buf[..n]);
        if let Some(pos) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while request.len() < body_start + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed mid-body");
        request.extend_from_slice(&buf[..n]);
    }
    request
}

/// Defect 3 of issue 11: the first attempt is read and hung up on (it may have taken effect),
/// the retry finds nothing listening (connection refused). "Not sent" would tell the caller
/// that nothing happened; the first capture may well have: the outcome is unknown.
#[tokio::test]
async fn a_connect_failure_after_an_uncertain_attempt_is_an_unknown_outcome() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let request = read_request(&mut stream).await;
        // The listener goes first, so the retry cannot reach anything; then the connection
        // closes without an answer.
        drop(listener);
        drop(stream);
        request
    });
    let retry = RetryConfig {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
        ..RetryConfig::default()
    };
    // Real time, default timeouts and deadline.
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(url)
        .retry(retry)
        .build()
        .unwrap();
    let body = typed(&json!({"captured_amount": 100}));
    let err = client
        .capture_order(ORDER_ID, &body, None)
        .await
        .unwrap_err();
    let first = server.await.unwrap();
    assert!(idempotency_header_of(&first).is_some());
    // The last attempt was refused at connect, and that is what the message says…
    assert!(
        matches!(&err, KlarnaError::MaybeSent { detail, .. } if detail.contains("request not sent")),
        "{err:?}"
    );
    // …but the call may have reached Klarna: unknown, never "retry, nothing happened".
    assert!(err.may_have_reached_klarna());
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let port = klarna_gateway_http::gateway_error(Operation::CaptureOrder, &err);
    assert!(port.may_have_reached_klarna);
    assert_eq!(port.action, ErrorAction::OutcomeUnknown);
}

/// Defect 2 of issue 11: a server that answers `503`, then `429 Retry-After: 1` forever, would
/// keep the client retrying for `max_attempts` seconds. With a deadline of 2.5 s and attempts
/// of at most 1 s, a retry is started only if its wait plus one whole attempt ends before the
/// deadline: the second (at about 1 s, could end at 2 s) is, a third (would start at 2 s and
/// could end at 3 s) is not. The first attempt may have taken effect, so the call ends
/// `MaybeSent`.
#[tokio::test]
async fn retries_and_retry_after_waits_stay_within_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .with_priority(2)
        .mount(&server)
        .await;
    let retry = RetryConfig {
        max_attempts: 10,
        ..RetryConfig::default()
    };
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(server.uri())
        .timeouts(Timeouts {
            connect: None,
            total: Some(Duration::from_secs(1)),
        })
        .deadline(Duration::from_millis(2500))
        .retry(retry)
        .build()
        .unwrap();
    assert_eq!(client.deadline(), Duration::from_millis(2500));
    let start = std::time::Instant::now();
    let body = typed(&json!({"captured_amount": 100}));
    let err = client
        .capture_order(ORDER_ID, &body, None)
        .await
        .unwrap_err();
    let attempts = server.received_requests().await.unwrap().len();
    // Two, or one on a machine so slow that the first attempt took half a second.
    assert!((1..=2).contains(&attempts), "{attempts} attempts");
    // Loose: without the deadline the ten attempts take nine seconds of Retry-After.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, KlarnaError::MaybeSent { .. }), "{err:?}");
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
}

/// Defect 2 of issue 11: an attempt still in flight at the deadline is cut there (paused
/// clock: the deadline is the only timer) and may have been sent.
#[tokio::test(start_paused = true)]
async fn an_attempt_in_flight_at_the_deadline_is_cut_and_may_have_been_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    // Accepts, reads and never answers (holds the connection until the test ends).
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _request = read_request(&mut stream).await;
        std::future::pending::<()>().await;
    });
    let client = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url(url)
        .timeouts(Timeouts {
            connect: None,
            total: None,
        })
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let body = typed(&json!({"captured_amount": 100}));
    // Without the cut nothing would ever answer: the test's own bound fails it instead.
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        client.capture_order(ORDER_ID, &body, None),
    )
    .await
    .expect("the deadline cuts the call")
    .unwrap_err();
    let elapsed = start.elapsed();
    server.abort();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
    assert!(
        matches!(&err, KlarnaError::MaybeSent { detail, .. } if detail.starts_with("deadline")),
        "{err:?}"
    );
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let read = KlarnaError::MaybeSent {
        operation: Operation::GetOrder,
        detail: "deadline".into(),
    };
    assert_eq!(read.action(), ErrorAction::Retry);
}

#[test]
fn plain_http_is_for_loopback_hosts_only() {
    for url in [
        "http://127.0.0.1:1/",
        "http://localhost:1/",
        "http://[::1]:1/",
    ] {
        assert!(
            KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
                .base_url(url)
                .build()
                .is_ok(),
            "{url}"
        );
    }
    let err = KlarnaClient::builder(Credentials::new(USERNAME, PASSWORD))
        .base_url("http://api.klarna.com/")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            KlarnaError::InvalidInput {
                field: "base_url",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("https is required"), "{err}");
}

/// Klarna's Order Management answers `409 CONFLICT` to a request whose key's first request is
/// still in flight: that first request may yet succeed, so this is no refusal.
#[tokio::test]
async fn a_conflict_on_a_keyed_call_is_an_unknown_outcome_not_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "error_code": "CONFLICT",
            "error_messages": ["A request with this idempotency key is being processed"],
        })))
        .mount(&server)
        .await;
    let client = client(&server);
    let capture = typed(&json!({"captured_amount": 100}));
    let err = client
        .capture_order(ORDER_ID, &capture, None)
        .await
        .unwrap_err();
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    let port = klarna_gateway_http::gateway_error(Operation::CaptureOrder, &err);
    assert_eq!(port.action, ErrorAction::OutcomeUnknown);
    assert!(port.may_have_reached_klarna);
    assert!(!port.action.is_refusal());
    let charge = typed(&fixture("token_order.request.json"));
    let err = client
        .create_token_order(CUSTOMER_TOKEN, &charge, None)
        .await
        .unwrap_err();
    assert_eq!(err.action(), ErrorAction::OutcomeUnknown);
    // Not repeated at once: the first request would only be met again.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
