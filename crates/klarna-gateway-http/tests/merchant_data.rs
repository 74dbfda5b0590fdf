//! Wiremock tests of the merchant data `KlarnaGateway` sends: the shop's order number as
//! `merchant_reference1` (our payment id without one), references, `merchant_data`, customer,
//! addresses, EMD and widget options, on P1, P5, P6 and T2, each where Klarna documents it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failing assertion is the point"
)]

use klarna_domain::{
    Address, Attachment, AuthorizationToken, Cart, Customer, CustomerAccountInfo, CustomerTokenId,
    Emd, IdempotencyKey, Intent, Interval, Market, MerchantData, OrderLine, OrganizationType,
    PaymentId, WidgetOptions,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway, RetryConfig, Timeouts};
use klarna_ports::{
    ChargeToken, CreateCustomerToken, MerchantUrls, NewSession, PaymentGateway, PlaceOrder,
};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn gateway(server: &MockServer) -> KlarnaGateway {
    let client = KlarnaClient::builder(Credentials::new("u", "p"))
        .base_url(server.uri())
        .timeouts(Timeouts {
            connect: None,
            total: None,
        })
        .without_deadline()
        .retry(RetryConfig::default())
        .build()
        .unwrap();
    KlarnaGateway::new(client)
}

fn cart() -> Cart {
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Coffee", 1, 10_000)
        .tax_rate(2_500)
        .subscription("Coffee club", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(m, vec![line]).unwrap()
}

fn address() -> Address {
    Address {
        given_name: Some("Maja".into()),
        family_name: Some("Larsson".into()),
        email: Some("maja@example.se".into()),
        street_address: Some("Sveavägen 1".into()),
        postal_code: Some("11157".into()),
        city: Some("Stockholm".into()),
        country: Some("SE".into()),
        organization_name: Some("Kaffe AB".into()),
        ..Address::default()
    }
}

fn merchant() -> MerchantData {
    MerchantData::builder()
        .order_number("SO-1001")
        .reference2("cart-7")
        .merchant_data("{\"k\":1}")
        .customer(Customer {
            organization_entity_type: Some(OrganizationType::LimitedCompany),
            vat_id: Some("SE556036079301".into()),
            ..Customer::organization("556036-0793")
        })
        .billing_address(address())
        .shipping_address(address())
        .attachment(Attachment::Emd(Emd {
            customer_account_info: vec![CustomerAccountInfo {
                unique_account_identifier: "acct-9".into(),
                ..CustomerAccountInfo::default()
            }],
            ..Emd::default()
        }))
        .options(WidgetOptions {
            color_text: Some("#1A1A1A".into()),
            ..WidgetOptions::default()
        })
        .build()
        .unwrap()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "session_id": "s-1", "client_token": "ct", "order_id": "o-1",
            "fraud_status": "ACCEPTED", "redirect_url": "https://r", "token_id": "tok-1"
        })))
        .mount(&server)
        .await;
    server
}

async fn last_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    serde_json::from_slice(&requests.last().unwrap().body).unwrap()
}

fn key() -> IdempotencyKey {
    IdempotencyKey::new("key-1").unwrap()
}

#[tokio::test]
async fn the_session_carries_all_merchant_data() {
    let server = server().await;
    let g = gateway(&server);
    g.create_session(&NewSession {
        payment_id: PaymentId::new("pay_1").unwrap(),
        intent: Intent::Tokenize,
        cart: cart(),
        urls: MerchantUrls::default(),
        merchant: merchant(),
    })
    .await
    .unwrap();
    let b = last_body(&server).await;
    assert_eq!(
        b["merchant_reference1"], "SO-1001",
        "the shop's order number"
    );
    assert_eq!(b["merchant_reference2"], "cart-7");
    assert_eq!(b["merchant_data"], "{\"k\":1}");
    assert_eq!(b["customer"]["type"], "organization");
    assert_eq!(b["customer"]["organization_registration_id"], "556036-0793");
    assert_eq!(b["customer"]["organization_entity_type"], "LIMITED_COMPANY");
    assert_eq!(b["customer"]["vat_id"], "SE556036079301");
    assert_eq!(b["billing_address"]["postal_code"], "11157");
    assert_eq!(b["shipping_address"]["organization_name"], "Kaffe AB");
    assert_eq!(b["options"]["color_text"], "#1A1A1A");
    assert_eq!(
        b["attachment"]["content_type"],
        "application/vnd.klarna.internal.emd-v2+json"
    );
    let emd: Value = serde_json::from_str(b["attachment"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        emd["customer_account_info"][0]["unique_account_identifier"],
        "acct-9"
    );
    assert_eq!(b["order_lines"][0]["subscription"]["interval"], "MONTH");
}

#[tokio::test]
async fn without_merchant_data_the_payment_id_is_the_reference_and_nothing_else_is_sent() {
    let server = server().await;
    let g = gateway(&server);
    g.create_session(&NewSession {
        payment_id: PaymentId::new("pay_1").unwrap(),
        intent: Intent::Buy,
        cart: cart(),
        urls: MerchantUrls::default(),
        merchant: MerchantData::default(),
    })
    .await
    .unwrap();
    let b = last_body(&server).await;
    assert_eq!(b["merchant_reference1"], "pay_1");
    for absent in [
        "merchant_reference2",
        "merchant_data",
        "customer",
        "billing_address",
        "shipping_address",
        "options",
        "attachment",
    ] {
        assert!(b.get(absent).is_none(), "{absent} sent: {b}");
    }
}

#[tokio::test]
async fn the_order_repeats_references_and_parties_but_not_widget_or_attachment() {
    let server = server().await;
    let g = gateway(&server);
    g.place_order(
        &PlaceOrder {
            payment_id: PaymentId::new("pay_1").unwrap(),
            cart: cart(),
            authorization: AuthorizationToken::new("auth-1").unwrap(),
            urls: MerchantUrls::default(),
            merchant: merchant(),
        },
        &key(),
    )
    .await
    .unwrap();
    let b = last_body(&server).await;
    assert_eq!(b["merchant_reference1"], "SO-1001");
    assert_eq!(b["merchant_reference2"], "cart-7");
    assert_eq!(b["merchant_data"], "{\"k\":1}");
    assert_eq!(b["customer"]["type"], "organization");
    assert_eq!(b["billing_address"]["city"], "Stockholm");
    assert_eq!(b["shipping_address"]["city"], "Stockholm");
    assert!(b.get("options").is_none(), "{b}");
    assert!(b.get("attachment").is_none(), "{b}");
}

#[tokio::test]
async fn the_customer_token_request_carries_billing_address_and_customer_only() {
    let server = server().await;
    let g = gateway(&server);
    g.create_customer_token(
        &CreateCustomerToken {
            payment_id: PaymentId::new("pay_1").unwrap(),
            market: cart().market(),
            description: "Coffee club".into(),
            authorization: AuthorizationToken::new("auth-1").unwrap(),
            merchant: merchant(),
        },
        &key(),
    )
    .await
    .unwrap();
    let b = last_body(&server).await;
    assert_eq!(b["billing_address"]["given_name"], "Maja");
    assert_eq!(b["customer"]["vat_id"], "SE556036079301");
    for absent in ["shipping_address", "merchant_reference1", "attachment"] {
        assert!(b.get(absent).is_none(), "{absent} sent: {b}");
    }
}

#[tokio::test]
async fn a_token_charge_carries_references_data_attachment_and_shipping_address() {
    let server = server().await;
    let g = gateway(&server);
    let m = MerchantData::builder()
        .order_number("SUB-42-2026-12")
        .reference2("plan-7")
        .merchant_data("renewal 3")
        .shipping_address(address())
        .attachment(Attachment::Raw {
            content_type: "application/vnd.klarna.internal.emd-v2+json".into(),
            body: "{\"subscription\":[]}".into(),
        })
        .build()
        .unwrap();
    g.charge_customer_token(
        &ChargeToken {
            payment_id: PaymentId::new("charge-1").unwrap(),
            token: CustomerTokenId::new("tok-1").unwrap(),
            cart: cart(),
            merchant: m,
        },
        &key(),
    )
    .await
    .unwrap();
    let b = last_body(&server).await;
    assert_eq!(b["merchant_reference1"], "SUB-42-2026-12");
    assert_eq!(b["merchant_reference2"], "plan-7");
    assert_eq!(b["merchant_data"], "renewal 3");
    assert_eq!(b["shipping_address"]["street_address"], "Sveavägen 1");
    assert_eq!(b["attachment"]["body"], "{\"subscription\":[]}");
    assert_eq!(b["order_lines"][0]["subscription"]["name"], "Coffee club");
    assert!(b.get("billing_address").is_none(), "{b}");
}
