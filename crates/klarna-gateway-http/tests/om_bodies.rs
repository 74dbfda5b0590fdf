//! The bodies `KlarnaGateway` sends for Order Management with lines: captures with lines and shipping info, shipping info added later, refunds with a return fee, authorization updates and merchant references, each checked byte for byte as JSON against wiremock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use klarna_domain::{
    Amount, AuthorizationUpdate, CaptureId, CaptureRequest, IdempotencyKey, MerchantReferences,
    OmLine, OrderId, OrderLine, RefundRequest, ShippingInfo, ShippingInfoInput, ShippingInfoUpdate,
    ShippingMethod,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway, RetryConfig, Timeouts};
use klarna_ports::{ErrorAction, PaymentGateway, Refusal};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn gateway(server: &MockServer) -> KlarnaGateway {
    let client = KlarnaClient::builder(Credentials::new("u", "p"))
        .base_url(server.uri())
        .timeouts(Timeouts {
            connect: None,
            total: None,
        })
        .without_deadline()
        .retry(RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    KlarnaGateway::new(client)
}

fn order() -> OrderId {
    OrderId::new("ord-1").unwrap()
}
fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}
fn shoe() -> OrderLine {
    OrderLine::builder("Shoe", 1, 10_000)
        .tax_rate(2_500)
        .reference("SKU-1")
        .build()
        .unwrap()
}
fn shoe_json() -> Value {
    json!({"type": "physical", "reference": "SKU-1", "name": "Shoe", "quantity": 1,
           "unit_price": 10_000, "tax_rate": 2_500, "total_amount": 10_000,
           "total_discount_amount": 0, "total_tax_amount": 2_000})
}
fn info() -> ShippingInfo {
    ShippingInfo::new(ShippingInfoInput {
        shipping_company: Some("DHL US".into()),
        shipping_method: Some(ShippingMethod::DhlPackstation),
        tracking_number: Some("T-1".into()),
        tracking_uri: Some("https://t.example/T-1".into()),
        return_shipping_company: Some("DHL US".into()),
        return_tracking_number: Some("R-1".into()),
        return_tracking_uri: Some("https://t.example/R-1".into()),
    })
    .unwrap()
}
fn info_json() -> Value {
    json!({"shipping_company": "DHL US", "shipping_method": "DHLPackstation",
           "tracking_number": "T-1", "tracking_uri": "https://t.example/T-1",
           "return_shipping_company": "DHL US", "return_tracking_number": "R-1",
           "return_tracking_uri": "https://t.example/R-1"})
}

/// Mounts a mock that answers only the exact body and key; anything else gets wiremock's 404.
async fn expect(server: &MockServer, verb: &str, at: &str, body: Value, k: &str) {
    let answer = match verb {
        "POST" if at.ends_with("/captures") => ResponseTemplate::new(201)
            .insert_header("Capture-Id", "cap-1")
            .insert_header("Location", "https://x/captures/cap-1"),
        "POST" if at.ends_with("/refunds") => ResponseTemplate::new(201)
            .insert_header("Refund-Id", "ref-1")
            .insert_header("Location", "https://x/refunds/ref-1"),
        _ => ResponseTemplate::new(204),
    };
    Mock::given(method(verb))
        .and(path(at))
        .and(header("klarna-idempotency-key", k))
        .and(body_json(body))
        .respond_with(answer)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_capture_sends_its_lines_shipping_info_and_references() {
    let server = MockServer::start().await;
    expect(
        &server,
        "POST",
        "/ordermanagement/v1/orders/ord-1/captures",
        json!({"captured_amount": 10_000, "reference": "SHIP-1", "description": "Shipped",
               "order_lines": [shoe_json()], "shipping_info": [info_json()]}),
        "k-cap",
    )
    .await;
    let request = CaptureRequest::builder(Amount::new(10_000).unwrap())
        .line(shoe())
        .shipping_info(info())
        .reference("SHIP-1")
        .description("Shipped")
        .build()
        .unwrap();
    let id = gateway(&server)
        .capture(&order(), &request, &key("k-cap"))
        .await
        .unwrap();
    assert_eq!(id.as_str(), "cap-1");
}

#[tokio::test]
async fn a_bare_capture_sends_the_amount_only() {
    let server = MockServer::start().await;
    expect(
        &server,
        "POST",
        "/ordermanagement/v1/orders/ord-1/captures",
        json!({"captured_amount": 500}),
        "k-bare",
    )
    .await;
    let request = CaptureRequest::from(Amount::new(500).unwrap());
    gateway(&server)
        .capture(&order(), &request, &key("k-bare"))
        .await
        .unwrap();
}

#[tokio::test]
async fn shipping_info_added_later_goes_to_the_capture() {
    let server = MockServer::start().await;
    expect(
        &server,
        "POST",
        "/ordermanagement/v1/orders/ord-1/captures/cap-1/shipping-info",
        json!({"shipping_info": [info_json()]}),
        "k-ship",
    )
    .await;
    let update = ShippingInfoUpdate::new(CaptureId::new("cap-1").unwrap(), vec![info()]).unwrap();
    gateway(&server)
        .add_shipping_info(&order(), &update, &key("k-ship"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refund_sends_its_return_fee_line() {
    let server = MockServer::start().await;
    expect(
        &server,
        "POST",
        "/ordermanagement/v1/orders/ord-1/refunds",
        json!({"refunded_amount": 8_000, "reference": "RET-1",
               "order_lines": [shoe_json(),
                   {"type": "return_fee", "name": "Return fee", "quantity": 1,
                    "unit_price": -2_000, "tax_rate": 2_500, "total_amount": -2_000,
                    "total_discount_amount": 0, "total_tax_amount": -400}]}),
        "k-ref",
    )
    .await;
    let request = RefundRequest::builder(Amount::new(8_000).unwrap())
        .line(shoe())
        .line(OmLine::return_fee("Return fee", 2_000, 2_500).unwrap())
        .reference("RET-1")
        .build()
        .unwrap();
    let id = gateway(&server)
        .refund(&order(), &request, &key("k-ref"))
        .await
        .unwrap();
    assert_eq!(id.as_str(), "ref-1");
}

#[tokio::test]
async fn an_authorization_update_always_sends_its_lines() {
    let server = MockServer::start().await;
    expect(
        &server,
        "PATCH",
        "/ordermanagement/v1/orders/ord-1/authorization",
        json!({"order_amount": 10_000, "description": "Upsell", "order_lines": [shoe_json()]}),
        "k-up",
    )
    .await;
    let update = AuthorizationUpdate::new(10_000, vec![shoe().into()])
        .unwrap()
        .with_description("Upsell")
        .unwrap();
    gateway(&server)
        .update_authorization(&order(), &update, &key("k-up"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_increase_is_a_not_allowed_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/ordermanagement/v1/orders/ord-1/authorization"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_code": "NOT_ALLOWED",
            "error_messages": ["Decision is based on order state and outcome of risk assessment"],
            "correlation_id": "c-1"})))
        .mount(&server)
        .await;
    let update = AuthorizationUpdate::new(20_000, Vec::new()).unwrap();
    let e = gateway(&server)
        .update_authorization(&order(), &update, &key("k-up"))
        .await
        .unwrap_err();
    assert_eq!(e.action, ErrorAction::Rejected(Refusal::NotAllowed));
    assert_eq!(e.code.as_deref(), Some("NOT_ALLOWED"));
}

#[tokio::test]
async fn merchant_references_send_only_what_is_given() {
    let server = MockServer::start().await;
    expect(
        &server,
        "PATCH",
        "/ordermanagement/v1/orders/ord-1/merchant-references",
        json!({"merchant_reference2": "ERP-42"}),
        "k-refs",
    )
    .await;
    let refs = MerchantReferences::new(None, Some("ERP-42".into())).unwrap();
    gateway(&server)
        .update_merchant_references(&order(), &refs, &key("k-refs"))
        .await
        .unwrap();
}
