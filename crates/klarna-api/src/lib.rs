//! Klarna Payments, Customer Token, Order Management, Settlements and Hosted Payment Page wire models (serde).
//!
//! This crate is pure data: one Rust type per JSON body that Klarna's merchant APIs accept or
//! return (see `klarna/API.md` §0 for the operation map), with no validation and no I/O.
//! Validation lives in `klarna-domain`; HTTP lives in `klarna-gateway-http`.
//!
//! Conventions, all chosen for forward compatibility with Klarna:
//!
//! * money is `i64` minor units;
//! * ids are plain `String`s at this layer;
//! * enums are *open*: every value Klarna may add later lands in an `Unknown(String)` variant
//!   and serializes back to the same string;
//! * unknown fields are ignored when parsing and `None` is never serialized;
//! * response fields are `Option` except the few Klarna guarantees (`session_id`,
//!   `client_token`, `order_id`, `token_id`, the token `status`);
//! * `Debug` never shows personal data (addresses, customer) or tokens
//!   (`client_token`, `authorization_token`, `token_id`).
//!
//! # Example
//!
//! ```
//! use klarna_api::common::{FraudStatus, OrderLine, OrderLineType};
//! use klarna_api::payments::{Order, SessionCreate};
//!
//! let session = SessionCreate {
//!     purchase_country: "SE".to_owned(),
//!     purchase_currency: "SEK".to_owned(),
//!     locale: Some("sv-SE".to_owned()),
//!     order_amount: 4900,
//!     order_tax_amount: Some(980),
//!     order_lines: vec![OrderLine {
//!         r#type: Some(OrderLineType::ShippingFee),
//!         name: "Standard delivery".to_owned(),
//!         quantity: 1,
//!         unit_price: 4900,
//!         tax_rate: Some(2500),
//!         total_amount: 4900,
//!         total_tax_amount: Some(980),
//!         ..OrderLine::default()
//!     }],
//!     ..SessionCreate::default()
//! };
//! let json = serde_json::to_string(&session)?;
//! assert!(json.contains(r#""type":"shipping_fee""#));
//! assert!(!json.contains("billing_address")); // `None` is never sent
//!
//! // Unknown enum values and unknown fields are accepted.
//! let order: Order = serde_json::from_str(
//!     r#"{"order_id":"o-1","fraud_status":"MAYBE_LATER","brand_new_field":1}"#,
//! )?;
//! assert_eq!(order.fraud_status, Some(FraudStatus::Unknown("MAYBE_LATER".to_owned())));
//! # Ok::<(), serde_json::Error>(())
//! ```

#[macro_use]
mod open_enum;

pub mod callbacks;
pub mod common;
pub mod customer_token;
pub mod hpp;
pub mod order_management;
pub mod payments;
pub mod settlements;

pub use callbacks::{AuthorizationCallback, FraudNotification, NotificationEventType};
pub use common::{
    AcquiringChannel, Address, Attachment, AuthorizedPaymentMethod, AuthorizedPaymentMethodDetails,
    AuthorizedPaymentMethodType, Customer, CustomerType, ErrorResponse, FraudStatus, MerchantUrls,
    OrderLine, OrderLineType, OrganizationEntityType, ProductIdentifiers, Subscription,
    SubscriptionInterval,
};
pub use customer_token::{
    CustomerToken, CustomerTokenOrder, TokenCard, TokenDirectDebit, TokenStatus, TokenStatusUpdate,
};
pub use order_management::{
    Capture, CaptureObject, CarrierProduct, DueDateOption, ExtendDueDateOptions,
    ExtendDueDateRequest, InitialPaymentMethod, InitialPaymentMethodType, OmOrder, OrderStatus,
    Refund, RefundObject, SelectedShippingOption, ShippingAddon, ShippingInfo, ShippingLocation,
    ShippingMethod, ShippingTimeslot, UpdateAuthorization, UpdateConsumer,
    UpdateMerchantReferences, UpdateShippingInfo,
};
pub use payments::{
    AssetUrls, CreateOrderRequest, CustomerTokenCreationRequest, CustomerTokenCreationResponse,
    IntendedUse, Intent, MerchantSession, Order, PaymentMethodCategory,
    PaymentMethodCategoryIdentifier, SessionCreate, SessionOptions, SessionRead, SessionStatus,
    SessionUpdate,
};
pub use settlements::{
    DetailedType, Pagination, Payout, PayoutCollection, PayoutSummary, SettlementType, Totals,
    Transaction, TransactionCollection, TransactionType,
};

/// Placeholder used by hand-written `Debug` impls in place of secrets and personal data.
const REDACTED: &str = "<redacted>";

/// Shows whether an optional secret is present without showing it.
struct RedactedOpt<'a, T>(&'a Option<T>);

impl<T> std::fmt::Debug for RedactedOpt<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => write!(f, "Some({REDACTED})"),
            None => f.write_str("None"),
        }
    }
}
