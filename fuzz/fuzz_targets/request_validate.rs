//! Fuzz target: the CLI's body parser, JSON to a request model to `validate`: `Ok`, a decode
//! error, or a `ValidationError` naming a field. The first byte picks the request kind.
#![no_main]

use klarna_gateway_http::api;
use klarna_gateway_http::validate::{self, ValidationError};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn run<T: DeserializeOwned>(body: &[u8], check: fn(&T) -> Result<(), ValidationError>) {
    if let Ok(parsed) = serde_json::from_slice::<T>(body)
        && let Err(e) = check(&parsed)
    {
        assert!(!e.field().is_empty(), "error names no field: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, body @ ..] = data else { return };
    match kind % 11 {
        0 => run::<api::SessionCreate>(body, validate::session_create),
        1 => run::<api::SessionUpdate>(body, validate::session_update),
        2 => run::<api::CreateOrderRequest>(body, validate::create_order),
        3 => run::<api::CustomerTokenCreationRequest>(body, validate::customer_token_creation),
        4 => run::<api::CustomerTokenOrder>(body, validate::token_order),
        5 => run::<api::CaptureObject>(body, validate::capture),
        6 => run::<api::RefundObject>(body, validate::refund),
        7 => run::<api::UpdateAuthorization>(body, validate::update_authorization),
        8 => run::<api::UpdateMerchantReferences>(body, validate::merchant_references),
        9 => run::<api::UpdateConsumer>(body, validate::customer_details),
        _ => run::<api::UpdateShippingInfo>(body, validate::shipping_info_update),
    }
});
