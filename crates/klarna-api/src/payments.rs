//! Payments API v1 bodies (API.md §2): sessions (P1–P3), orders from an authorization (P5)
//! and customer tokens from an authorization (P6). P4 has no body.

use serde::{Deserialize, Serialize};

use crate::common::{
    AcquiringChannel, Address, Attachment, AuthorizedPaymentMethod, Customer, FraudStatus,
    MerchantUrls, OrderLine,
};
use crate::{REDACTED, RedactedOpt};

open_enum! {
    /// Session `intent` (API.md §2.1, §9 item 1).
    pub enum Intent {
        /// One-time purchase.
        Buy => "buy",
        /// Create a customer token only.
        Tokenize => "tokenize",
        /// Purchase now and create a customer token.
        BuyAndTokenize => "buy_and_tokenize",
        /// Mixed payments (docs only).
        BuyAndDefaultTokenize => "buy_and_default_tokenize",
        /// Account linking (docs only).
        BuyAndLink => "buy_and_link",
    }
}

open_enum! {
    /// Read-only session `status` (API.md §2.1).
    pub enum SessionStatus {
        /// An order was placed.
        Complete => "complete",
        /// No order yet.
        Incomplete => "incomplete",
    }
}

open_enum! {
    /// `payment_method_categories[].identifier` (API.md §2.13).
    pub enum PaymentMethodCategoryIdentifier {
        /// Klarna's combined category.
        Klarna => "klarna",
        /// Pay later.
        PayLater => "pay_later",
        /// Pay now.
        PayNow => "pay_now",
        /// Pay over time.
        PayOverTime => "pay_over_time",
        /// Direct bank transfer.
        DirectBankTransfer => "direct_bank_transfer",
        /// Direct debit.
        DirectDebit => "direct_debit",
    }
}

open_enum! {
    /// `intended_use` of a customer token (API.md §2.6; the docs example writes it in lower
    /// case, which lands in `Unknown("subscription")` and round-trips unchanged).
    pub enum IntendedUse {
        /// Recurring charges.
        Subscription => "SUBSCRIPTION",
    }
}

/// Widget styling `options` (API.md §2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionOptions {
    /// `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_border: Option<String>,
    /// `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_border_selected: Option<String>,
    /// `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_details: Option<String>,
    /// `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_text: Option<String>,
    /// e.g. `5px`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_border: Option<String>,
}

/// Badge asset URLs of a payment method category.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetUrls {
    /// Descriptive badge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptive: Option<String>,
    /// Standard badge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<String>,
}

/// A payment method category the shopper may be offered (API.md §2.13).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentMethodCategory {
    /// Pass this to the JS SDK's `load()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<PaymentMethodCategoryIdentifier>,
    /// Localized display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Badge assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_urls: Option<AssetUrls>,
}

/// P1 request body `session_create` (API.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCreate {
    /// Sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquiring_channel: Option<AcquiringChannel>,
    /// One-time, tokenize or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// ISO 3166-1 alpha-2 (required).
    pub purchase_country: String,
    /// ISO 4217 (required).
    pub purchase_currency: String,
    /// RFC 1766 locale, default `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Total in minor units (required).
    pub order_amount: i64,
    /// Total tax in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_tax_amount: Option<i64>,
    /// The cart (required, 1..1000 lines).
    pub order_lines: Vec<OrderLine>,
    /// Billing address (Klarna recommends sending it in `authorize()` instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Customer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Callback and redirect URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference (settlement files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Widget styling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SessionOptions>,
    /// Extra Merchant Data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Promotional payment method ids agreed with Klarna.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_payment_method_ids: Option<Vec<String>>,
    /// Custom design package id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
}

/// P1 response body `merchant_session`. `Debug` hides the client token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MerchantSession {
    /// Session id for P2/P3.
    pub session_id: String,
    /// JWT for the browser SDK's `init()`.
    pub client_token: String,
    /// Categories the shopper may be offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_categories: Option<Vec<PaymentMethodCategory>>,
}

impl std::fmt::Debug for MerchantSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantSession")
            .field("session_id", &self.session_id)
            .field("client_token", &REDACTED)
            .field("payment_method_categories", &self.payment_method_categories)
            .finish()
    }
}

/// P2 response body `session_read`. Everything is optional. `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionRead {
    /// Sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquiring_channel: Option<AcquiringChannel>,
    /// Session intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// `complete` once an order exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SessionStatus>,
    /// RFC 3339 expiry; authoritative for the session lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The session's client token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Authorization token, if Klarna returns it (undocumented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_token: Option<String>,
    /// Purchase country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_country: Option<String>,
    /// Purchase currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_currency: Option<String>,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Total in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_amount: Option<i64>,
    /// Total tax in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_tax_amount: Option<i64>,
    /// The cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// Billing address (after authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address (after authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Customer (`customer_read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Callback and redirect URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Widget styling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SessionOptions>,
    /// Extra Merchant Data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Promotional payment method ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_payment_method_ids: Option<Vec<String>>,
    /// Custom design package id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
    /// Categories the shopper may be offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_categories: Option<Vec<PaymentMethodCategory>>,
}

impl std::fmt::Debug for SessionRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRead")
            .field("acquiring_channel", &self.acquiring_channel)
            .field("intent", &self.intent)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .field("client_token", &RedactedOpt(&self.client_token))
            .field(
                "authorization_token",
                &RedactedOpt(&self.authorization_token),
            )
            .field("purchase_country", &self.purchase_country)
            .field("purchase_currency", &self.purchase_currency)
            .field("locale", &self.locale)
            .field("order_amount", &self.order_amount)
            .field("order_tax_amount", &self.order_tax_amount)
            .field("order_lines", &self.order_lines)
            .field("billing_address", &self.billing_address)
            .field("shipping_address", &self.shipping_address)
            .field("customer", &self.customer)
            .field("merchant_urls", &self.merchant_urls)
            .field("merchant_reference1", &self.merchant_reference1)
            .field("merchant_reference2", &self.merchant_reference2)
            .field("merchant_data", &self.merchant_data)
            .field("options", &self.options)
            .field("attachment", &self.attachment)
            .field("custom_payment_method_ids", &self.custom_payment_method_ids)
            .field("design", &self.design)
            .field("payment_method_categories", &self.payment_method_categories)
            .finish()
    }
}

/// P3 request body `session` (partial update; every field optional). Send the full current
/// cart when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionUpdate {
    /// Sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquiring_channel: Option<AcquiringChannel>,
    /// Session intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Purchase country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_country: Option<String>,
    /// Purchase currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_currency: Option<String>,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Total in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_amount: Option<i64>,
    /// Total tax in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_tax_amount: Option<i64>,
    /// The cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Customer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Callback and redirect URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Widget styling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SessionOptions>,
    /// Extra Merchant Data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Promotional payment method ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_payment_method_ids: Option<Vec<String>>,
    /// Custom design package id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
}

/// P5 request body `create_order_request` (API.md §2.5). Must match what was authorized.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateOrderRequest {
    /// Purchase country (required).
    pub purchase_country: String,
    /// Purchase currency (required).
    pub purchase_currency: String,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Total in minor units (required).
    pub order_amount: i64,
    /// Total tax in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_tax_amount: Option<i64>,
    /// The authorized cart (required).
    pub order_lines: Vec<OrderLine>,
    /// Billing address; must match the authorized one if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Shipping address; must match the authorized one if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Customer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// `confirmation` and `notification` are used here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Capture immediately (restricted use; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_capture: Option<bool>,
    /// Promotional payment method ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_payment_method_ids: Option<Vec<String>>,
    /// Extra Merchant Data (not in the spec for P5; API.md §9 item 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// P5 and T2 response body `order`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Order {
    /// Order Management key for all later calls.
    pub order_id: String,
    /// `ACCEPTED`, `PENDING` or `REJECTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_status: Option<FraudStatus>,
    /// Where to send the shopper's browser next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The payment method the shopper chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_payment_method: Option<AuthorizedPaymentMethod>,
}

/// P6 request body `customer_token_creation_request` (API.md §2.6).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerTokenCreationRequest {
    /// Purchase country (required).
    pub purchase_country: String,
    /// Purchase currency (required).
    pub purchase_currency: String,
    /// Locale (required).
    pub locale: String,
    /// Purpose of the token (required, 1..255).
    pub description: String,
    /// Intended use (required; `Option` only so that the struct has a `Default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_use: Option<IntendedUse>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// Customer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Sent by Klarna's docs example, not in the spec (API.md §9 item 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
}

/// P6 response body `customer_token_creation_response`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerTokenCreationResponse {
    /// The customer token, used by T1–T3.
    pub token_id: String,
    /// Where to send the shopper's browser next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// `{date_of_birth, gender}` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Reference to the stored payment method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_reference: Option<String>,
}

impl std::fmt::Debug for CustomerTokenCreationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerTokenCreationResponse")
            .field("token_id", &REDACTED)
            // The redirect URL can carry the token itself.
            .field(
                "redirect_url",
                &self.redirect_url.as_ref().map(|_| REDACTED),
            )
            .field("billing_address", &self.billing_address)
            .field("customer", &self.customer)
            .field("payment_method_reference", &self.payment_method_reference)
            .finish()
    }
}
