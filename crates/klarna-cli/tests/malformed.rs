//! Malformed request bodies through the CLI's body parser (reliability.md §5 P1): JSON →
//! wire model → [`validate`] on mutated Klarna request bodies ends in `Ok`, a decode error, or
//! a `ValidationError` naming a field; never a panic (amounts up to `i64::MAX`/`MIN` go through
//! the cart arithmetic). Moved here from klarna-gateway-http's `tests/malformed.rs` with
//! `validate.rs`; the answer half (the client against a scripted server) stays there.
//!
//! `PROPTEST_RNG_SEED=<n>` replays a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api::{
    CaptureObject, CreateOrderRequest, CustomerTokenCreationRequest, CustomerTokenOrder,
    RefundObject, SessionCreate, SessionUpdate, UpdateAuthorization, UpdateConsumer,
    UpdateMerchantReferences, UpdateShippingInfo,
};
use klarna_cli::validate::{self, ValidationError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[path = "../../klarna-api/tests/support/mutate.rs"]
mod mutate;

use mutate::{Mutation, apply, fixture, mutation};

/// Mutated request bodies through decode + validate, per test (two tests).
const CASES_REQUESTS: u32 = 10_000;

// ---------------------------------------------------------------------------------------------
// Requests: the CLI body parser.

/// One request kind: its seed body and "decode, then validate".
struct RequestKind {
    name: &'static str,
    seed: fn() -> Value,
    parse: fn(&[u8]) -> Parsed,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Valid,
    Undecodable,
    Invalid(ValidationError),
}

fn parse_with<T: DeserializeOwned>(
    bytes: &[u8],
    check: fn(&T) -> Result<(), ValidationError>,
) -> Parsed {
    match serde_json::from_slice::<T>(bytes) {
        Err(_) => Parsed::Undecodable,
        Ok(body) => match check(&body) {
            Ok(()) => Parsed::Valid,
            Err(e) => Parsed::Invalid(e),
        },
    }
}

fn om_lines() -> Value {
    json!([{"type": "physical", "name": "Socks", "quantity": 2, "unit_price": 5000,
        "tax_rate": 2500, "total_amount": 10000, "total_discount_amount": 0,
        "total_tax_amount": 2000}])
}

const REQUESTS: &[RequestKind] = &[
    RequestKind {
        name: "session_create",
        seed: || fixture("create_session.request.json"),
        parse: |b| parse_with::<SessionCreate>(b, validate::session_create),
    },
    RequestKind {
        name: "session_update",
        seed: || fixture("create_session.request.json"),
        parse: |b| parse_with::<SessionUpdate>(b, validate::session_update),
    },
    RequestKind {
        name: "create_order",
        seed: || fixture("create_order.request.json"),
        parse: |b| parse_with::<CreateOrderRequest>(b, validate::create_order),
    },
    RequestKind {
        name: "customer_token_creation",
        seed: || fixture("customer_token.request.json"),
        parse: |b| parse_with::<CustomerTokenCreationRequest>(b, validate::customer_token_creation),
    },
    RequestKind {
        name: "token_order",
        seed: || fixture("token_order.request.json"),
        parse: |b| parse_with::<CustomerTokenOrder>(b, validate::token_order),
    },
    RequestKind {
        name: "capture",
        seed: || {
            json!({"captured_amount": 10000, "description": "all", "order_lines": om_lines(),
            "shipping_info": [{"shipping_company": "DHL", "tracking_number": "1"}]})
        },
        parse: |b| parse_with::<CaptureObject>(b, validate::capture),
    },
    RequestKind {
        name: "refund",
        seed: || json!({"refunded_amount": 10000, "description": "all", "order_lines": om_lines()}),
        parse: |b| parse_with::<RefundObject>(b, validate::refund),
    },
    RequestKind {
        name: "update_authorization",
        seed: || json!({"order_amount": 10000, "order_lines": om_lines()}),
        parse: |b| parse_with::<UpdateAuthorization>(b, validate::update_authorization),
    },
    RequestKind {
        name: "merchant_references",
        seed: || json!({"merchant_reference1": "r1", "merchant_reference2": "r2"}),
        parse: |b| parse_with::<UpdateMerchantReferences>(b, validate::merchant_references),
    },
    RequestKind {
        name: "customer_details",
        seed: || {
            let address = json!({"given_name": "A", "family_name": "B",
                "email": "a@example.com", "street_address": "S 1", "postal_code": "11157",
                "city": "Stockholm", "country": "SE"});
            json!({"billing_address": address, "shipping_address": address})
        },
        parse: |b| parse_with::<UpdateConsumer>(b, validate::customer_details),
    },
    RequestKind {
        name: "shipping_info_update",
        seed: || json!({"shipping_info": [{"shipping_company": "DHL", "tracking_number": "1"}]}),
        parse: |b| parse_with::<UpdateShippingInfo>(b, validate::shipping_info_update),
    },
];

fn check_request(kind: usize, muts: &[Mutation]) -> Result<(), TestCaseError> {
    let k = &REQUESTS[kind];
    let body = serde_json::to_vec(&apply(&(k.seed)(), muts)).unwrap();
    if let Parsed::Invalid(e) = (k.parse)(&body) {
        let field = e.field();
        prop_assert!(
            !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')),
            "{}: error does not name a field: {:?}",
            k.name,
            e
        );
        prop_assert!(!e.reason().is_empty(), "{}: empty reason", k.name);
        prop_assert!(e.to_string().starts_with(field), "{}: {}", k.name, e);
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_REQUESTS))]

    /// Batch 1 of 2.
    #[test]
    fn request_bodies_are_valid_undecodable_or_name_a_field_1(
        kind in 0..REQUESTS.len(),
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        check_request(kind, &muts)?;
    }

    /// Batch 2 of 2.
    #[test]
    fn request_bodies_are_valid_undecodable_or_name_a_field_2(
        kind in 0..REQUESTS.len(),
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        check_request(kind, &muts)?;
    }
}

#[test]
fn request_seeds_are_valid_and_a_broken_amount_is_named() {
    for k in REQUESTS {
        let body = serde_json::to_vec(&(k.seed)()).unwrap();
        assert_eq!((k.parse)(&body), Parsed::Valid, "{}", k.name);
    }
    let mut body = fixture("create_session.request.json");
    body["order_lines"][0]["unit_price"] = json!(i64::MAX);
    let parsed = (REQUESTS[0].parse)(&serde_json::to_vec(&body).unwrap());
    let Parsed::Invalid(e) = parsed else {
        panic!("accepted i64::MAX unit price: {parsed:?}")
    };
    assert!(e.field().starts_with("order_lines[0]."), "{e}");
}
