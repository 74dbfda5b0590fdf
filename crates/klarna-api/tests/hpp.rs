//! The Hosted Payment Page wire models against the examples of Klarna's OpenAPI document
//! (`docs/klarna/openapi/hpp-v1.yml`, collected in `tests/fixtures/hpp/`) and Kustom's copy of
//! the status-callback page: round trips, open enums, and `Debug` without personal data.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api::hpp::{
    DistributionMethod, DistributionRequest, HppPaymentMethodCategory, HppStatus, PlaceOrderMode,
    PurchaseType, SessionCreationRequest, SessionCreationResponse, SessionResponse, StatusUpdate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/hpp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn spec() -> String {
    let path = format!(
        "{}/../../docs/klarna/openapi/hpp-v1.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse → serialize gives back the same JSON.
fn round_trip<T>(name: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let text = fixture(name);
    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: Value = serde_json::to_value(&parsed).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(original, again, "{name}: JSON differs after a round trip");
    parsed
}

#[test]
fn create_session_request_round_trips() {
    let r: SessionCreationRequest = round_trip("create_session.request.json");
    let options = r.options.unwrap();
    assert_eq!(options.place_order_mode, Some(PlaceOrderMode::PlaceOrder));
    assert_eq!(options.purchase_type, Some(PurchaseType::Buy));
    assert_eq!(
        options.payment_method_category,
        Some(HppPaymentMethodCategory::DirectDebit)
    );
    assert!(
        r.merchant_urls
            .unwrap()
            .success
            .unwrap()
            .contains("{{authorization_token}}")
    );
}

#[test]
fn create_session_response_round_trips() {
    let r: SessionCreationResponse = round_trip("create_session.response.json");
    assert_eq!(r.session_id, "9cbc9884-1fdb-45a8-9694-9340340d0436");
    assert_eq!(
        r.redirect_url.as_deref(),
        Some("https://pay.klarna.com/eu/hpp/payments/2OCkffK")
    );
    assert!(
        !format!("{r:?}").contains("module-token-secret"),
        "module token shown"
    );
}

#[test]
fn read_session_response_round_trips_and_debug_hides_token_and_customer() {
    let r: SessionResponse = round_trip("read_session.response.json");
    assert_eq!(r.status, Some(HppStatus::Completed));
    assert!(r.status.as_ref().unwrap().is_final());
    let debug = format!("{r:?}");
    for secret in [
        "70850a20-a2a0-5c70-810c-096fa6f850bb",
        "Andersson",
        "19870815",
        "1987-08-15",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("93d644a2-43f3-11e9-b210-d663bd873d93"));
}

#[test]
fn distribution_request_round_trips_and_debug_hides_contact() {
    let r: DistributionRequest = round_trip("distribution.request.json");
    assert_eq!(r.method, DistributionMethod::Sms);
    let debug = format!("{r:?}");
    assert!(!debug.contains("07000212345"), "{debug}");
    let email = DistributionRequest::email("shopper@example.com");
    assert!(!format!("{email:?}").contains("shopper@example.com"));
    assert_eq!(
        serde_json::to_value(&email).unwrap(),
        serde_json::json!({"contact_information": {"email": "shopper@example.com"}, "method": "email"})
    );
}

#[test]
fn status_update_callback_parses() {
    let u: StatusUpdate = round_trip("status_update.json");
    assert_eq!(u.session.status, Some(HppStatus::InProgress));
    assert!(!u.session.status.unwrap().is_final());
}

#[test]
fn every_enum_value_of_the_spec_is_known_and_unknown_ones_survive() {
    let spec = spec();
    let statuses = [
        "WAITING",
        "BACK",
        "IN_PROGRESS",
        "MANUAL_ID_CHECK",
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "DISABLED",
        "ERROR",
    ];
    for s in statuses {
        assert!(spec.contains(&format!("- {s}\n")), "{s} not in the spec");
        assert!(!matches!(HppStatus::from(s), HppStatus::Unknown(_)), "{s}");
    }
    let finals: Vec<&str> = statuses
        .into_iter()
        .filter(|s| HppStatus::from(*s).is_final())
        .collect();
    assert_eq!(finals, ["COMPLETED", "CANCELLED", "DISABLED"]);
    for m in ["PLACE_ORDER", "CAPTURE_ORDER", "NONE"] {
        assert!(spec.contains(&format!("- {m}\n")), "{m}");
        assert!(!matches!(
            PlaceOrderMode::from(m),
            PlaceOrderMode::Unknown(_)
        ));
    }
    for m in ["sms", "email", "token"] {
        assert!(spec.contains(&format!("- {m}\n")), "{m}");
        assert!(!matches!(
            DistributionMethod::from(m),
            DistributionMethod::Unknown(_)
        ));
    }
    let r: SessionResponse = serde_json::from_str(r#"{"status":"TIMEOUT","new":1}"#).unwrap();
    assert_eq!(r.status, Some(HppStatus::Unknown("TIMEOUT".into())));
    assert!(!r.status.as_ref().unwrap().is_final());
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"status": "TIMEOUT"})
    );
}
