//! Wiremock tests of the Hosted Payment Page methods of `KlarnaClient`: bad input never reaches
//! the network (a typed error naming the field), answers map to errors as every call's do, no
//! HPP mutation is retried after an unknown outcome, and `payment_session_url` builds the KP
//! session's URL from the base URL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api::hpp::{
    DistributionRequest, HppStatus, MerchantUrls, Options, PlaceOrderMode, SessionCreationRequest,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaError, Operation, gateway_error};
use klarna_ports::ErrorAction;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> KlarnaClient {
    KlarnaClient::builder(Credentials::new("u", "p"))
        .base_url(server.uri())
        .build()
        .unwrap()
}

fn request(client: &KlarnaClient) -> SessionCreationRequest {
    SessionCreationRequest {
        payment_session_url: client.payment_session_url("kp-1").unwrap(),
        merchant_urls: Some(MerchantUrls {
            success: Some(
                "https://shop.example/ok?hpp={{session_id}}&t={{authorization_token}}".into(),
            ),
            ..MerchantUrls::default()
        }),
        options: Some(Options {
            place_order_mode: Some(PlaceOrderMode::PlaceOrder),
            ..Options::default()
        }),
        profile_id: None,
    }
}

fn field(e: KlarnaError) -> &'static str {
    match e {
        KlarnaError::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn payment_session_url_is_the_kp_session_on_the_base_url() {
    let server = MockServer::start().await;
    let c = client(&server);
    assert_eq!(
        c.payment_session_url("a b/c").unwrap(),
        format!("{}/payments/v1/sessions/a%20b%2Fc", server.uri())
    );
    assert_eq!(field(c.payment_session_url("").unwrap_err()), "session_id");
    let eu = KlarnaClient::builder(Credentials::new("u", "p"))
        .build()
        .unwrap();
    assert_eq!(
        eu.payment_session_url("92d9").unwrap(),
        "https://api.playground.klarna.com/payments/v1/sessions/92d9"
    );
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);

    let mut missing = request(&c);
    missing.payment_session_url = String::new();
    assert_eq!(
        field(c.create_hpp_session(&missing, None).await.unwrap_err()),
        "payment_session_url"
    );
    let mut malformed = request(&c);
    malformed.payment_session_url = format!("{}/checkout/v3/orders/1", server.uri());
    assert_eq!(
        field(c.create_hpp_session(&malformed, None).await.unwrap_err()),
        "payment_session_url"
    );
    let mut plain = request(&c);
    plain.merchant_urls = Some(MerchantUrls {
        status_update: Some("http://shop.example/status".into()),
        ..MerchantUrls::default()
    });
    assert_eq!(
        field(c.create_hpp_session(&plain, None).await.unwrap_err()),
        "merchant_urls.status_update"
    );
    for (body, expected) in [
        (DistributionRequest::email(""), "contact_information.email"),
        (
            DistributionRequest::sms("0700021234", ""),
            "contact_information.phone_country",
        ),
        (
            DistributionRequest::sms("", "SE"),
            "contact_information.phone",
        ),
    ] {
        assert_eq!(
            field(
                c.distribute_hpp_session("hpp-1", &body, None)
                    .await
                    .unwrap_err()
            ),
            expected
        );
    }
    assert_eq!(
        field(c.read_hpp_session("").await.unwrap_err()),
        "session_id"
    );
    server.verify().await;
}

#[tokio::test]
async fn answers_map_as_every_calls_do() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hpp/v1/sessions"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error_code": "NOT_FOUND", "error_messages": ["Payment session has expired"], "correlation_id": "c-1"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/hpp/v1/sessions/done"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error_code": "BAD_REQUEST"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hpp/v1/sessions/hpp-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"session_id": "hpp-1", "status": "COMPLETED", "authorization_token": "tok-canary", "order_id": "o-1"}),
        ))
        .mount(&server)
        .await;
    let c = client(&server);

    let e = c.create_hpp_session(&request(&c), None).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.operation(), Some(Operation::CreateHppSession));
    assert_eq!(e.correlation_id(), Some("c-1"));
    assert_eq!(
        gateway_error(Operation::CreateHppSession, &e).action,
        ErrorAction::NotFound
    );

    let e = c.disable_hpp_session("done", None).await.unwrap_err();
    assert_eq!(e.error_code(), Some("BAD_REQUEST"));
    assert_eq!(
        gateway_error(Operation::DisableHppSession, &e).action,
        ErrorAction::InvalidRequest
    );

    let read = c.read_hpp_session("hpp-1").await.unwrap();
    assert_eq!(read.body.status, Some(HppStatus::Completed));
    assert_eq!(read.body.order_id.as_deref(), Some("o-1"));
    assert!(!format!("{read:?}").contains("tok-canary"));
}

#[tokio::test]
async fn hpp_mutations_are_not_retried_after_an_unknown_outcome_but_reads_are() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hpp/v1/sessions/hpp-1/distribution"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hpp/v1/sessions/hpp-1"))
        .respond_with(ResponseTemplate::new(503))
        .expect(2..)
        .mount(&server)
        .await;
    let c = KlarnaClient::builder(Credentials::new("u", "p"))
        .base_url(server.uri())
        .retry(klarna_gateway_http::RetryConfig {
            max_attempts: 3,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(2),
            ..klarna_gateway_http::RetryConfig::default()
        })
        .build()
        .unwrap();
    let e = c
        .distribute_hpp_session("hpp-1", &DistributionRequest::email("a@b.se"), None)
        .await
        .unwrap_err();
    assert!(e.may_have_reached_klarna());
    assert_eq!(
        gateway_error(Operation::DistributeHppSession, &e).action,
        ErrorAction::OutcomeUnknown
    );
    assert!(c.read_hpp_session("hpp-1").await.is_err());
    server.verify().await;
    for op in [
        Operation::CreateHppSession,
        Operation::DisableHppSession,
        Operation::DistributeHppSession,
    ] {
        assert!(!op.retry_safe(), "{op}");
        assert!(op.is_mutating(), "{op}");
    }
    assert!(Operation::ReadHppSession.retry_safe());
}
