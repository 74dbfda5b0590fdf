//! Order Management API v1 bodies (API.md §4): the order (O1), captures (O2–O4), refunds
//! (O5–O6), authorization changes (O10–O12), shipping info (O13–O14) and due dates (O16–O17).
//! O7–O9, O15 and O18 have no body.

use serde::{Deserialize, Serialize};

use crate::common::{Address, Customer, FraudStatus, OrderLine};

open_enum! {
    /// OM order `status` (API.md §4.1).
    pub enum OrderStatus {
        /// Nothing captured.
        Authorized => "AUTHORIZED",
        /// Partly captured; authorization remains.
        PartCaptured => "PART_CAPTURED",
        /// Fully captured.
        Captured => "CAPTURED",
        /// Cancelled before capture.
        Cancelled => "CANCELLED",
        /// Authorization ran out.
        Expired => "EXPIRED",
        /// No further captures possible.
        Closed => "CLOSED",
    }
}

open_enum! {
    /// `initial_payment_method.type` (API.md §4.1; open set).
    pub enum InitialPaymentMethodType {
        /// Klarna account.
        Account => "ACCOUNT",
        /// Alternative payment method.
        AlternativePaymentMethod => "ALTERNATIVE_PAYMENT_METHOD",
        /// Bank transfer.
        BankTransfer => "BANK_TRANSFER",
        /// Card.
        Card => "CARD",
        /// Deferred interest.
        DeferredInterest => "DEFERRED_INTEREST",
        /// Direct debit.
        DirectDebit => "DIRECT_DEBIT",
        /// Fixed amount by card.
        FixedAmountByCard => "FIXED_AMOUNT_BY_CARD",
        /// Fixed amount.
        FixedAmount => "FIXED_AMOUNT",
        /// Fixed-sum credit.
        FixedSumCredit => "FIXED_SUM_CREDIT",
        /// Business invoice.
        InvoiceBusiness => "INVOICE_BUSINESS",
        /// Invoice.
        Invoice => "INVOICE",
        /// MobilePay.
        Mobilepay => "MOBILEPAY",
        /// Pay by card.
        PayByCard => "PAY_BY_CARD",
        /// Pay in X.
        PayInX => "PAY_IN_X",
        /// Pay later by card.
        PayLaterByCard => "PAY_LATER_BY_CARD",
        /// Pay later in parts.
        PayLaterInParts => "PAY_LATER_IN_PARTS",
        /// Swish.
        Swish => "SWISH",
        /// Other.
        Other => "OTHER",
    }
}

open_enum! {
    /// `shipping_info[].shipping_method` (API.md §4.2).
    pub enum ShippingMethod {
        /// Pick-up in store.
        PickUpStore => "PickUpStore",
        /// Home delivery.
        Home => "Home",
        /// Registered box.
        BoxReg => "BoxReg",
        /// Unregistered box.
        BoxUnreg => "BoxUnreg",
        /// Pick-up point.
        PickUpPoint => "PickUpPoint",
        /// Own delivery.
        Own => "Own",
        /// Postal.
        Postal => "Postal",
        /// DHL Packstation.
        DhlPackstation => "DHLPackstation",
        /// Digital delivery.
        Digital => "Digital",
        /// Undefined.
        Undefined => "Undefined",
        /// Pick-up at warehouse.
        PickUpWarehouse => "PickUpWarehouse",
        /// Click and collect.
        ClickCollect => "ClickCollect",
        /// Pallet delivery.
        PalletDelivery => "PalletDelivery",
    }
}

/// `initial_payment_method` of an OM order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InitialPaymentMethod {
    /// Payment method type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<InitialPaymentMethodType>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Number of instalments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_installments: Option<i64>,
}

/// One `shipping_info` entry (API.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShippingInfo {
    /// Carrier, e.g. "DHL US".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_company: Option<String>,
    /// Shipping method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<ShippingMethod>,
    /// Tracking number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Tracking URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_uri: Option<String>,
    /// Return carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_shipping_company: Option<String>,
    /// Return tracking number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_tracking_number: Option<String>,
    /// Return tracking URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_tracking_uri: Option<String>,
}

/// `selected_shipping_option.carrier_product`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CarrierProduct {
    /// Identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `selected_shipping_option.location`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShippingLocation {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Address of the location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// `selected_shipping_option.timeslot`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShippingTimeslot {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Cut-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// Price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
}

/// `selected_shipping_option.selected_addons[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShippingAddon {
    /// Add-on type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// External id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Shopper input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_input: Option<String>,
}

/// `selected_shipping_option` (Klarna Checkout shipping-assistant data, API.md §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SelectedShippingOption {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Tax in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<i64>,
    /// Tax rate in basis points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<i64>,
    /// Type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// TMS reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tms_reference: Option<String>,
    /// Carrier product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_product: Option<CarrierProduct>,
    /// Pick-up location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ShippingLocation>,
    /// Delivery time slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeslot: Option<ShippingTimeslot>,
    /// Selected add-ons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_addons: Option<Vec<ShippingAddon>>,
}

/// O3/O4 response: one capture.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capture {
    /// Capture id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    /// Customer-facing reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klarna_reference: Option<String>,
    /// Amount captured in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_amount: Option<i64>,
    /// RFC 3339 time of capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
    /// Description shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Captured lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// Amount refunded from this capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    /// Merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Shipping info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_info: Option<Vec<ShippingInfo>>,
}

/// O6 response: one refund.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Refund {
    /// Refund id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Amount refunded in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    /// RFC 3339 time of refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<String>,
    /// Description shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Refunded lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// B2B invoice only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_invoice: Option<bool>,
}

/// O1 response: the order as Order Management sees it (`MerchantOrderDto`, API.md §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OmOrder {
    /// Order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Order status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// Fraud status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_status: Option<FraudStatus>,
    /// Current authorized total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_amount: Option<i64>,
    /// Amount at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_order_amount: Option<i64>,
    /// Sum of captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_amount: Option<i64>,
    /// Sum of refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    /// What can still be captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_authorized_amount: Option<i64>,
    /// Purchase country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_country: Option<String>,
    /// Purchase currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_currency: Option<String>,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The order lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Short customer-facing reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klarna_reference: Option<String>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// `{date_of_birth, national_identification_number}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339 capture deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captures: Option<Vec<Capture>>,
    /// Refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<Refund>>,
    /// Shipping info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_info: Option<Vec<ShippingInfo>>,
    /// Payment method chosen at purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_payment_method: Option<InitialPaymentMethod>,
    /// Klarna Checkout shipping data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_shipping_option: Option<SelectedShippingOption>,
}

/// O2 request body `CaptureObject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaptureObject {
    /// Amount to capture in minor units (required).
    pub captured_amount: i64,
    /// Merchant reference (settlement files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Description shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Captured lines (recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// Shipping info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_info: Option<Vec<ShippingInfo>>,
    /// Delay in days (must be enabled for the account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_delay: Option<i64>,
}

/// O5 request body `RefundObject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RefundObject {
    /// Amount to refund in minor units (required).
    pub refunded_amount: i64,
    /// Merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Description shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Refunded lines (strongly recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
}

/// O10 request body: new order amount and lines.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdateAuthorization {
    /// New order amount in minor units (required).
    pub order_amount: i64,
    /// Description of the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The new lines; omitting them deletes the stored lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
}

/// O11 request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdateMerchantReferences {
    /// New first reference; `""` clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// New second reference; `""` clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
}

/// O12 request body (only the shipping address can change).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdateConsumer {
    /// New shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
}

/// O13/O14 request body (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdateShippingInfo {
    /// 1..500 entries.
    pub shipping_info: Vec<ShippingInfo>,
}

/// One due-date extension option.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DueDateOption {
    /// Fee in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Extension in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_days: Option<i64>,
}

/// O16 response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExtendDueDateOptions {
    /// Currency of the fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<DueDateOption>>,
}

/// O17 request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExtendDueDateRequest {
    /// Chosen extension in days (required).
    pub number_of_days: i64,
}
