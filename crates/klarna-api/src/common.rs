//! Shapes shared by the Payments, Customer Token and Order Management APIs: order lines,
//! addresses, customer, merchant URLs, payment-method descriptions and the error body.

use serde::{Deserialize, Serialize};

use crate::{REDACTED, RedactedOpt};

open_enum! {
    /// `order_lines[].type` (API.md §2.7; OM also accepts `return_fee`).
    pub enum OrderLineType {
        /// A physical good.
        Physical => "physical",
        /// A discount line (negative amounts).
        Discount => "discount",
        /// Shipping cost.
        ShippingFee => "shipping_fee",
        /// US-style sales tax line.
        SalesTax => "sales_tax",
        /// A digital good.
        Digital => "digital",
        /// A gift card (negative amounts).
        GiftCard => "gift_card",
        /// Store credit (negative amounts).
        StoreCredit => "store_credit",
        /// A surcharge.
        Surcharge => "surcharge",
        /// A return fee on a refund (Order Management only).
        ReturnFee => "return_fee",
    }
}

open_enum! {
    /// `subscription.interval` (API.md §2.7).
    pub enum SubscriptionInterval {
        /// Daily.
        Day => "DAY",
        /// Weekly.
        Week => "WEEK",
        /// Monthly.
        Month => "MONTH",
        /// Yearly.
        Year => "YEAR",
    }
}

open_enum! {
    /// `fraud_status` on P5, T2 and O1 (API.md §4.5).
    pub enum FraudStatus {
        /// May ship and capture.
        Accepted => "ACCEPTED",
        /// Hold the shipment until Klarna notifies.
        Pending => "PENDING",
        /// Do not fulfil.
        Rejected => "REJECTED",
        /// Accepted after a manual review (seen in one integration only).
        AcceptedAfterReview => "ACCEPTED_AFTER_REVIEW",
        /// Rejected after a manual review (seen in one integration only).
        RejectedAfterReview => "REJECTED_AFTER_REVIEW",
        /// Klarna stopped an order it had accepted (`FRAUD_RISK_STOPPED`; API.md §11.3): do
        /// not ship.
        Stopped => "STOPPED",
    }
}

open_enum! {
    /// `acquiring_channel` of a session (API.md §2.1).
    pub enum AcquiringChannel {
        /// Online (the default).
        Ecommerce => "ECOMMERCE",
        /// In a physical store.
        InStore => "IN_STORE",
        /// Over the phone.
        Telesales => "TELESALES",
    }
}

open_enum! {
    /// `customer.type` (API.md §2.9).
    pub enum CustomerType {
        /// A consumer (B2C, the default).
        Person => "person",
        /// A business (B2B).
        Organization => "organization",
    }
}

open_enum! {
    /// `customer.organization_entity_type` (API.md §2.9).
    pub enum OrganizationEntityType {
        /// Limited company.
        LimitedCompany => "LIMITED_COMPANY",
        /// Public limited company.
        PublicLimitedCompany => "PUBLIC_LIMITED_COMPANY",
        /// Entrepreneurial company.
        EntrepreneurialCompany => "ENTREPRENEURIAL_COMPANY",
        /// Limited partnership limited company.
        LimitedPartnershipLimitedCompany => "LIMITED_PARTNERSHIP_LIMITED_COMPANY",
        /// Limited partnership.
        LimitedPartnership => "LIMITED_PARTNERSHIP",
        /// General partnership.
        GeneralPartnership => "GENERAL_PARTNERSHIP",
        /// Registered sole trader.
        RegisteredSoleTrader => "REGISTERED_SOLE_TRADER",
        /// Sole trader.
        SoleTrader => "SOLE_TRADER",
        /// Civil law partnership.
        CivilLawPartnership => "CIVIL_LAW_PARTNERSHIP",
        /// Public institution.
        PublicInstitution => "PUBLIC_INSTITUTION",
        /// Anything else.
        Other => "OTHER",
    }
}

open_enum! {
    /// `authorized_payment_method.type` (API.md §2.13, union of the Payments and
    /// Customer Token specs).
    pub enum AuthorizedPaymentMethodType {
        /// Pay later by invoice.
        Invoice => "invoice",
        /// Fixed-amount instalments.
        FixedAmount => "fixed_amount",
        /// Klarna account.
        BaseAccount => "base_account",
        /// Direct debit.
        DirectDebit => "direct_debit",
        /// Direct bank transfer.
        DirectBankTransfer => "direct_bank_transfer",
        /// Business invoice.
        B2bInvoice => "b2b_invoice",
        /// Card.
        Card => "card",
        /// Slice it, paid by card.
        SliceItByCard => "slice_it_by_card",
        /// Pay later, paid by card.
        PayLaterByCard => "pay_later_by_card",
        /// Pay by card.
        PayByCard => "pay_by_card",
        /// Fixed-sum credit.
        FixedSumCredit => "fixed_sum_credit",
        /// An alternative payment method.
        AlternativePaymentMethod => "alternative_payment_method",
        /// Pix (Customer Token API).
        Pix => "pix",
        /// Deferred interest (Customer Token API).
        DeferredInterest => "deferred_interest",
    }
}

/// One line of a cart (API.md §2.7; the OM variant §4.6 has the same fields).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderLine {
    /// Line type; Klarna does not document the default.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<OrderLineType>,
    /// SKU or article number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Descriptive name (required).
    pub name: String,
    /// Quantity (required, ≥ 0).
    pub quantity: i64,
    /// Unit of the quantity, e.g. `pcs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_unit: Option<String>,
    /// Price per unit in minor units, tax included, discount excluded (required).
    pub unit_price: i64,
    /// Tax rate in basis points (`2500` = 25 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<i64>,
    /// `quantity × unit_price − total_discount_amount` in minor units (required).
    pub total_amount: i64,
    /// Discount for the whole line, tax included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_discount_amount: Option<i64>,
    /// Tax for the whole line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tax_amount: Option<i64>,
    /// Opaque merchant data for this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Product page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
    /// Product image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Brand, GTIN, category and similar identifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_identifiers: Option<ProductIdentifiers>,
    /// Subscription details for recurring items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<Subscription>,
}

/// `order_lines[].product_identifiers` (API.md §2.7).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProductIdentifiers {
    /// Brand name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Category path, segments separated by `" > "`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_path: Option<String>,
    /// GTIN / EAN / ISBN / UPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_trade_item_number: Option<String>,
    /// Manufacturer part number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_part_number: Option<String>,
    /// Colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// `order_lines[].subscription` (API.md §2.7).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subscription {
    /// Subscription name (required).
    pub name: String,
    /// Billing interval unit (required; `Option` only so that the struct has a `Default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<SubscriptionInterval>,
    /// Number of interval units between charges (required, ≥ 1).
    pub interval_count: i64,
}

/// A postal address with contact data (API.md §2.8, OM variant §4.6).
///
/// `Debug` shows only the country: everything else is personal data.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Title, e.g. `Mr`, `Frau`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Organization name (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Attention line (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street and number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// Second street line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address2: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-2 region (mandatory for US and AU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

/// The customer object (API.md §2.9; the read, P6 and OM variants are subsets).
///
/// `Debug` shows only the customer type: everything else is personal data.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// Date of birth, `yyyy-mm-dd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// `male` / `female`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Person (B2C) or organization (B2B).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<CustomerType>,
    /// National identification number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_identification_number: Option<String>,
    /// Last four (or all nine) digits of a US SSN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_four_ssn: Option<String>,
    /// Organization registration id (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_registration_id: Option<String>,
    /// Organization entity type (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_entity_type: Option<OrganizationEntityType>,
    /// VAT id (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<String>,
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customer")
            .field("type", &self.r#type)
            .finish_non_exhaustive()
    }
}

/// `merchant_urls` (API.md §2.10; the Customer Token API uses `confirmation` and `push`).
///
/// `Debug` hides `authorization`: merchants embed a one-time secret in its query (§1.10).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MerchantUrls {
    /// Where the shopper lands after Klarna's redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<String>,
    /// Pending-fraud notification callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<String>,
    /// Order-completed push callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    /// Authorization callback (server-side copy of the JS `authorize()` result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
}

impl std::fmt::Debug for MerchantUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantUrls")
            .field("confirmation", &self.confirmation)
            .field("notification", &self.notification)
            .field("push", &self.push)
            .field("authorization", &RedactedOpt(&self.authorization))
            .finish()
    }
}

/// Extra Merchant Data (API.md §2.12). `Debug` hides `body` (it may carry personal data).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// Normally `application/vnd.klarna.internal.emd-v2+json`.
    pub content_type: String,
    /// A JSON document serialized into a string.
    pub body: String,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("content_type", &self.content_type)
            .field("body", &REDACTED)
            .finish()
    }
}

/// `authorized_payment_method` in its object form (API.md §2.13).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthorizedPaymentMethodDetails {
    /// The payment method (required by the spec).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<AuthorizedPaymentMethodType>,
    /// Days until payment is due (pay later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_days: Option<i64>,
    /// Number of instalments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_installments: Option<i64>,
}

/// `authorized_payment_method`: an object in the specs, a bare string in Klarna's docs
/// examples (API.md §9 item 2). Both parse; each serializes back in its own form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuthorizedPaymentMethod {
    /// `{"type": "invoice", "number_of_days": 30}`.
    Details(AuthorizedPaymentMethodDetails),
    /// `"invoice"`.
    Name(AuthorizedPaymentMethodType),
}

impl AuthorizedPaymentMethod {
    /// The payment method type, whichever form Klarna sent.
    #[must_use]
    pub fn payment_method_type(&self) -> Option<&AuthorizedPaymentMethodType> {
        match self {
            Self::Details(details) => details.r#type.as_ref(),
            Self::Name(name) => Some(name),
        }
    }
}

/// Klarna's error body (`ErrorV2` / `ErrorMessageDto`, API.md §1.5). Every field is optional
/// because some 4xx/5xx arrive without a body or with only part of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Machine code, e.g. `BAD_VALUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Human-readable messages (English, not stable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_messages: Option<Vec<String>>,
    /// The singular form some Klarna services send instead of `error_messages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Same as the `Klarna-Correlation-Id` response header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Service version (read by Klarna's PHP SDK when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    /// Only on the T2 400 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_payment_method: Option<AuthorizedPaymentMethod>,
    /// Only on the T2 400 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_status: Option<FraudStatus>,
    /// Only on the T2 400 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ErrorResponse {
    /// All messages: `error_messages` followed by the singular `error_message`, if any.
    #[must_use]
    pub fn messages(&self) -> Vec<String> {
        let mut all = self.error_messages.clone().unwrap_or_default();
        if let Some(single) = &self.error_message
            && !all.contains(single)
        {
            all.push(single.clone());
        }
        all
    }
}
