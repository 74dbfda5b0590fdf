//! Round-trip and leniency tests of the wire models against Klarna example payloads.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns: a failing assertion is the point"
)]

use klarna_api::{
    Address, AuthorizationCallback, AuthorizedPaymentMethod, AuthorizedPaymentMethodType,
    CreateOrderRequest, Customer, CustomerToken, CustomerTokenCreationRequest,
    CustomerTokenCreationResponse, CustomerTokenOrder, ErrorResponse, FraudNotification,
    FraudStatus, IntendedUse, Intent, MerchantSession, MerchantUrls, NotificationEventType,
    OmOrder, Order, OrderLineType, OrderStatus, SessionCreate, SessionRead, SessionStatus,
    TokenStatus, TokenStatusUpdate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse → serialize → parse gives an equal value, and the serialized JSON equals the original.
fn round_trip<T>(name: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let text = fixture(name);
    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let serialized = serde_json::to_string(&parsed).unwrap();
    let reparsed: T = serde_json::from_str(&serialized).unwrap();
    assert_eq!(parsed, reparsed, "{name}: parse/serialize/parse differs");
    let original: Value = serde_json::from_str(&text).unwrap();
    let again: Value = serde_json::from_str(&serialized).unwrap();
    assert_eq!(original, again, "{name}: JSON differs after a round trip");
    parsed
}

#[test]
fn create_session_request_round_trips() {
    let s: SessionCreate = round_trip("create_session.request.json");
    assert_eq!(s.intent, Some(Intent::Buy));
    assert_eq!(s.order_amount, 174_700);
    assert_eq!(s.order_lines[1].r#type, Some(OrderLineType::ShippingFee));
}

#[test]
fn create_session_response_round_trips() {
    let s: MerchantSession = round_trip("create_session.response.json");
    assert_eq!(s.session_id, "5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d");
}

#[test]
fn read_session_response_round_trips() {
    let s: SessionRead = round_trip("read_session.response.json");
    assert_eq!(s.status, Some(SessionStatus::Incomplete));
}

#[test]
fn create_order_request_round_trips() {
    let o: CreateOrderRequest = round_trip("create_order.request.json");
    assert_eq!(o.auto_capture, Some(false));
}

#[test]
fn create_order_response_round_trips() {
    let o: Order = round_trip("create_order.response.json");
    assert_eq!(o.fraud_status, Some(FraudStatus::Accepted));
    let method = o.authorized_payment_method.unwrap();
    assert_eq!(
        method.payment_method_type(),
        Some(&AuthorizedPaymentMethodType::Invoice)
    );
    assert!(matches!(method, AuthorizedPaymentMethod::Details(d) if d.number_of_days == Some(30)));
}

#[test]
fn customer_token_request_round_trips() {
    let r: CustomerTokenCreationRequest = round_trip("customer_token.request.json");
    assert_eq!(r.intended_use, Some(IntendedUse::Subscription));
}

#[test]
fn customer_token_response_round_trips() {
    let r: CustomerTokenCreationResponse = round_trip("customer_token.response.json");
    assert_eq!(r.token_id, "8f2e6c1a-3b4d-4e5f-9a0b-1c2d3e4f5a6b");
}

#[test]
fn token_order_request_round_trips() {
    let r: CustomerTokenOrder = round_trip("token_order.request.json");
    assert_eq!(r.order_lines[1].r#type, Some(OrderLineType::SalesTax));
    assert!(r.order_lines[0].subscription.is_some());
}

#[test]
fn token_order_response_round_trips() {
    let r: Order = round_trip("token_order.response.json");
    assert_eq!(
        r.authorized_payment_method.unwrap().payment_method_type(),
        Some(&AuthorizedPaymentMethodType::PayLaterByCard)
    );
}

#[test]
fn error_response_round_trips() {
    let e: ErrorResponse = round_trip("error.response.json");
    assert_eq!(e.error_code.as_deref(), Some("BAD_VALUE"));
}

#[test]
fn authorized_payment_method_string_form_parses_and_round_trips() {
    let o: Order =
        serde_json::from_str(r#"{"order_id":"o","authorized_payment_method":"invoice"}"#).unwrap();
    let method = o.authorized_payment_method.clone().unwrap();
    assert_eq!(
        method,
        AuthorizedPaymentMethod::Name(AuthorizedPaymentMethodType::Invoice)
    );
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        json!({"order_id":"o","authorized_payment_method":"invoice"})
    );
    // An unknown string still parses.
    let o: Order =
        serde_json::from_str(r#"{"order_id":"o","authorized_payment_method":"moon_money"}"#)
            .unwrap();
    assert_eq!(
        o.authorized_payment_method.unwrap().payment_method_type(),
        Some(&AuthorizedPaymentMethodType::Unknown("moon_money".into()))
    );
}

#[test]
fn unknown_enum_values_parse_and_serialize_back_unchanged() {
    let text = r#"{"order_id":"o","status":"ON_THE_MOON","fraud_status":"MAYBE"}"#;
    let o: OmOrder = serde_json::from_str(text).unwrap();
    assert_eq!(o.status, Some(OrderStatus::Unknown("ON_THE_MOON".into())));
    assert_eq!(o.fraud_status, Some(FraudStatus::Unknown("MAYBE".into())));
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        serde_json::from_str::<Value>(text).unwrap()
    );
    // Casing differences are kept verbatim, not normalised.
    let use_: IntendedUse = serde_json::from_str(r#""subscription""#).unwrap();
    assert_eq!(use_, IntendedUse::Unknown("subscription".into()));
    assert_eq!(use_.as_str(), "subscription");
    assert_eq!(serde_json::to_string(&use_).unwrap(), r#""subscription""#);
}

#[test]
fn known_enum_values_map_both_ways() {
    for status in [
        TokenStatus::Active,
        TokenStatus::Cancelled,
        TokenStatus::Suspended,
    ] {
        let text = serde_json::to_string(&status).unwrap();
        assert_eq!(text, format!("\"{}\"", status.as_str()));
        assert_eq!(serde_json::from_str::<TokenStatus>(&text).unwrap(), status);
        assert_eq!(TokenStatus::from(status.as_str()), status);
    }
    assert_eq!(OrderStatus::PartCaptured.to_string(), "PART_CAPTURED");
}

#[test]
fn unknown_fields_are_ignored() {
    let s: MerchantSession = serde_json::from_str(
        r#"{"session_id":"s","client_token":"c","new_thing":{"a":[1,2]},"x":null}"#,
    )
    .unwrap();
    assert_eq!(s.session_id, "s");
    let t: CustomerToken = serde_json::from_str(
        r#"{"status":"ACTIVE","payment_method_type":"INVOICE","future":true}"#,
    )
    .unwrap();
    assert_eq!(t.status, TokenStatus::Active);
}

#[test]
fn none_is_never_serialized() {
    let empty = serde_json::to_value(OmOrder::default()).unwrap();
    assert_eq!(empty, json!({}));
    let line = serde_json::to_value(klarna_api::OrderLine::default()).unwrap();
    assert_eq!(
        line,
        json!({"name":"","quantity":0,"unit_price":0,"total_amount":0})
    );
    let session = serde_json::to_string(&SessionRead::default()).unwrap();
    assert_eq!(session, "{}");
}

#[test]
fn token_status_update_is_the_cancel_body() {
    assert_eq!(
        serde_json::to_value(TokenStatusUpdate::cancel()).unwrap(),
        json!({"status":"CANCELLED"})
    );
}

#[test]
fn error_messages_merge_the_singular_form() {
    let e: ErrorResponse = serde_json::from_str(
        r#"{"error_code":"X","error_messages":["a"],"error_message":"b","service_version":"1"}"#,
    )
    .unwrap();
    assert_eq!(e.messages(), vec!["a".to_owned(), "b".to_owned()]);
    let only_single: ErrorResponse = serde_json::from_str(r#"{"error_message":"b"}"#).unwrap();
    assert_eq!(only_single.messages(), vec!["b".to_owned()]);
    let empty: ErrorResponse = serde_json::from_str("{}").unwrap();
    assert!(empty.messages().is_empty());
}

#[test]
fn callbacks_parse() {
    let cb: AuthorizationCallback =
        serde_json::from_str(r#"{"authorization_token":"tok-secret","session_id":"s1"}"#).unwrap();
    assert_eq!(cb.session_id, "s1");
    assert!(!format!("{cb:?}").contains("tok-secret"));
    let n: FraudNotification =
        serde_json::from_str(r#"{"order_id":"o1","event_type":"FRAUD_RISK_STOPPED"}"#).unwrap();
    assert_eq!(n.event_type, Some(NotificationEventType::FraudRiskStopped));
}

#[test]
fn debug_hides_personal_data_and_tokens() {
    let read: SessionRead = serde_json::from_str(&fixture("read_session.response.json")).unwrap();
    let shown = format!("{read:?}");
    for secret in [
        "Maja",
        "Lindqvist",
        "maja.lindqvist",
        "+46701234567",
        "Sveavägen",
        "eyJhbGci",
        "auth-callback?t=",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(shown.contains("SE"), "country should stay visible");

    let session: MerchantSession =
        serde_json::from_str(&fixture("create_session.response.json")).unwrap();
    assert!(!format!("{session:?}").contains("eyJhbGci"));

    let token: CustomerTokenCreationResponse =
        serde_json::from_str(&fixture("customer_token.response.json")).unwrap();
    let shown = format!("{token:?}");
    for secret in ["8f2e6c1a", "Jordan", "1988-03-14", "female", "Erie"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }

    let address = Address {
        given_name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        country: Some("GB".into()),
        ..Address::default()
    };
    assert_eq!(
        format!("{address:?}"),
        r#"Address { country: Some("GB"), .. }"#
    );
    let customer = Customer {
        date_of_birth: Some("1970-01-01".into()),
        national_identification_number: Some("19700101-1234".into()),
        ..Customer::default()
    };
    let shown = format!("{customer:?}");
    assert!(!shown.contains("1970"), "{shown}");
    let urls = MerchantUrls {
        authorization: Some("https://x/cb?t=one-time-secret".into()),
        ..MerchantUrls::default()
    };
    assert!(!format!("{urls:?}").contains("one-time-secret"));
}
