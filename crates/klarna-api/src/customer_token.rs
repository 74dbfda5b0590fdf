//! Customer Token API v1 bodies (API.md §3): read a token (T1), charge it (T2), cancel it (T3).

use serde::{Deserialize, Serialize};

use crate::common::{Address, Attachment, MerchantUrls, OrderLine};

open_enum! {
    /// Customer token `status` (API.md §3.1; casing and list uncertain, so kept open).
    pub enum TokenStatus {
        /// Usable.
        Active => "ACTIVE",
        /// Cancelled (irreversible).
        Cancelled => "CANCELLED",
        /// Suspended by Klarna.
        Suspended => "SUSPENDED",
    }
}

/// Card details of a token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenCard {
    /// e.g. `VISA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// e.g. `12/2020`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    /// Masked card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_number: Option<String>,
}

/// Direct-debit details of a token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenDirectDebit {
    /// Masked account number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_number: Option<String>,
}

/// T1 response body `customer_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerToken {
    /// Token status.
    pub status: TokenStatus,
    /// e.g. `INVOICE` (no enum published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_type: Option<String>,
    /// Card details, for card tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<TokenCard>,
    /// Direct-debit details, for direct-debit tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_debit: Option<TokenDirectDebit>,
}

/// T2 request body `customer_token_order` (API.md §3.2). Send it with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerTokenOrder {
    /// Purchase currency (required).
    pub purchase_currency: String,
    /// Locale (docs example only; API.md §9 item 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Total in minor units (required, ≥ 1).
    pub order_amount: i64,
    /// Total tax in minor units (required).
    pub order_tax_amount: i64,
    /// The cart (required).
    pub order_lines: Vec<OrderLine>,
    /// Capture immediately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_capture: Option<bool>,
    /// Shown as "order number" to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference1: Option<String>,
    /// Second merchant reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference2: Option<String>,
    /// Opaque pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// `confirmation` (required within) and `push`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// Extra Merchant Data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Read-only in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// T3 request body `{"status": "CANCELLED"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStatusUpdate {
    /// The only allowed value is `CANCELLED`.
    pub status: TokenStatus,
}

impl TokenStatusUpdate {
    /// The body that cancels a token.
    #[must_use]
    pub fn cancel() -> Self {
        Self {
            status: TokenStatus::Cancelled,
        }
    }
}

impl Default for TokenStatusUpdate {
    fn default() -> Self {
        Self::cancel()
    }
}
