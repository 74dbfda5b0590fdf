//! Fuzz target: every `klarna-api` model decoded from arbitrary bytes must return `Ok` or `Err`,
//! and whatever is accepted must serialize and parse back to the same value.
#![no_main]

use klarna_api::{
    AuthorizationCallback, Capture, CaptureObject, CreateOrderRequest, CustomerToken,
    CustomerTokenCreationRequest, CustomerTokenCreationResponse, CustomerTokenOrder, ErrorResponse,
    ExtendDueDateOptions, ExtendDueDateRequest, FraudNotification, MerchantSession, OmOrder, Order,
    Refund, RefundObject, SessionCreate, SessionRead, SessionUpdate, TokenStatusUpdate,
    UpdateAuthorization, UpdateConsumer, UpdateMerchantReferences, UpdateShippingInfo,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let _ = format!("{value:?}");
        let text = serde_json::to_vec(&value).expect("serialize");
        let again: T = serde_json::from_slice(&text).expect("accepted value must round-trip");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<MerchantSession>(data);
    check::<SessionRead>(data);
    check::<Order>(data);
    check::<CustomerTokenCreationResponse>(data);
    check::<CustomerToken>(data);
    check::<OmOrder>(data);
    check::<Capture>(data);
    check::<Vec<Capture>>(data);
    check::<Refund>(data);
    check::<ExtendDueDateOptions>(data);
    check::<ErrorResponse>(data);
    check::<AuthorizationCallback>(data);
    check::<FraudNotification>(data);
    check::<SessionCreate>(data);
    check::<SessionUpdate>(data);
    check::<CreateOrderRequest>(data);
    check::<CustomerTokenCreationRequest>(data);
    check::<CustomerTokenOrder>(data);
    check::<TokenStatusUpdate>(data);
    check::<CaptureObject>(data);
    check::<RefundObject>(data);
    check::<UpdateAuthorization>(data);
    check::<UpdateMerchantReferences>(data);
    check::<UpdateConsumer>(data);
    check::<UpdateShippingInfo>(data);
    check::<ExtendDueDateRequest>(data);
});
