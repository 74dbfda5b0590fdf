//! Hosted Payment Page API v1 bodies (`docs/klarna/hpp.md`): create (H1), read (H2), disable
//! (H3, no body) and distribute (H4) an HPP session, and the `status_update` callback.
//!
//! `Debug` hides the authorization token, the customer and the contact information (e-mail,
//! phone, access id).

use serde::{Deserialize, Serialize};

use crate::RedactedOpt;

open_enum! {
    /// HPP session `status` (hpp.md §4). Final: `COMPLETED`, `CANCELLED`, `DISABLED`.
    pub enum HppStatus {
        /// Created; the shopper has not opened the page.
        Waiting => "WAITING",
        /// The shopper pressed Back (not final).
        Back => "BACK",
        /// The shopper opened the page.
        InProgress => "IN_PROGRESS",
        /// In-store manual identification check.
        ManualIdCheck => "MANUAL_ID_CHECK",
        /// Authorized (final).
        Completed => "COMPLETED",
        /// Cancelled by the shopper (final).
        Cancelled => "CANCELLED",
        /// Declined; the shopper may retry (not final).
        Failed => "FAILED",
        /// Disabled by the merchant (final).
        Disabled => "DISABLED",
        /// An error while paying; the shopper may retry (not final).
        Error => "ERROR",
    }
}

impl HppStatus {
    /// Whether Klarna documents the status as final (`COMPLETED`, `CANCELLED`, `DISABLED`).
    /// An unknown status is not final: keep polling.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Disabled)
    }
}

open_enum! {
    /// `options.place_order_mode` (hpp.md §2).
    pub enum PlaceOrderMode {
        /// Klarna places the order; the read shows `order_id`.
        PlaceOrder => "PLACE_ORDER",
        /// Klarna places the order and captures it fully.
        CaptureOrder => "CAPTURE_ORDER",
        /// Klarna only authorizes; the merchant places the order with the authorization token.
        None => "NONE",
    }
}

open_enum! {
    /// A payment method category of `options.payment_method_categories`.
    pub enum HppPaymentMethodCategory {
        /// Direct debit.
        DirectDebit => "DIRECT_DEBIT",
        /// Direct bank transfer.
        DirectBankTransfer => "DIRECT_BANK_TRANSFER",
        /// Pay now.
        PayNow => "PAY_NOW",
        /// Pay later.
        PayLater => "PAY_LATER",
        /// Pay over time.
        PayOverTime => "PAY_OVER_TIME",
        /// Klarna's combined category.
        Klarna => "KLARNA",
    }
}

open_enum! {
    /// `options.purchase_type`: the wording of the pay button.
    pub enum PurchaseType {
        /// Buy.
        Buy => "BUY",
        /// Rent.
        Rent => "RENT",
        /// Book.
        Book => "BOOK",
        /// Subscribe.
        Subscribe => "SUBSCRIBE",
        /// Download.
        Download => "DOWNLOAD",
        /// Order.
        Order => "ORDER",
        /// Continue.
        Continue => "CONTINUE",
    }
}

open_enum! {
    /// `method` of a distribution (lower case on the wire).
    pub enum DistributionMethod {
        /// An SMS to `contact_information.phone` / `phone_country`.
        Sms => "sms",
        /// An e-mail to `contact_information.email`.
        Email => "email",
        /// An in-store token (`contact_information.access_id`).
        Token => "token",
    }
}

/// `merchant_urls` of an HPP session (hpp.md §1.1). `{{session_id}}` and
/// `{{authorization_token}}` are replaced by Klarna.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MerchantUrls {
    /// After a successful authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    /// After the shopper cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    /// After the shopper pressed Back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back: Option<String>,
    /// After a declined authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// After a system error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Klarna POSTs every status change here ([`StatusUpdate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update: Option<String>,
}

/// One `options.background_images` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BackgroundImage {
    /// Image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
}

/// `options` of an HPP session (hpp.md §1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Options {
    /// Background images (best matching resolution used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_images: Option<Vec<BackgroundImage>>,
    /// Logo URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// Page title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// Categories to offer (all when none is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_categories: Option<Vec<HppPaymentMethodCategory>>,
    /// One category to offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_category: Option<HppPaymentMethodCategory>,
    /// Who places the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_order_mode: Option<PlaceOrderMode>,
    /// Wording of the pay button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_type: Option<PurchaseType>,
    /// `HIDE` is the only value published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_subtotal_detail: Option<String>,
}

/// H1 request body `SessionCreationRequestV1`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCreationRequest {
    /// URL of the KP session, `https://<host>/payments/v1/sessions/<id>` (required).
    pub payment_session_url: String,
    /// Where the shopper goes after each outcome, and the status callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_urls: Option<MerchantUrls>,
    /// Page options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// Profile with default options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

/// `distribution_module` of an H1 response (in-store; undocumented).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DistributionModule {
    /// Generation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_url: Option<String>,
    /// Standalone URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standalone_url: Option<String>,
    /// A token (treated as a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for DistributionModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributionModule")
            .field("generation_url", &self.generation_url)
            .field("standalone_url", &self.standalone_url)
            .field("token", &RedactedOpt(&self.token))
            .finish()
    }
}

/// H1 response body `SessionCreationResponseV1` (201).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCreationResponse {
    /// The HPP session id.
    pub session_id: String,
    /// The page to send the shopper to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// H2/H3 endpoint of this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_url: Option<String>,
    /// H4 endpoint of this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_url: Option<String>,
    /// A QR code image of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_code_url: Option<String>,
    /// Expiry (RFC 3339): one hour before the KP session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// In-store distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_module: Option<DistributionModule>,
    /// In-store manual identification check endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_identification_check_url: Option<String>,
}

/// `CustomerV1` (in-store identification): personal data, so `Debug` shows only which fields
/// are present.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HppCustomer {
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// National identity number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_identification_number: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl std::fmt::Debug for HppCustomer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HppCustomer")
            .field("date_of_birth", &RedactedOpt(&self.date_of_birth))
            .field("family_name", &RedactedOpt(&self.family_name))
            .field("given_name", &RedactedOpt(&self.given_name))
            .field(
                "national_identification_number",
                &RedactedOpt(&self.national_identification_number),
            )
            .field("title", &RedactedOpt(&self.title))
            .finish()
    }
}

/// `manual_identification` of a read (in-store).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManualIdentification {
    /// Identification challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// The customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<HppCustomer>,
    /// The customer, obfuscated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_obfuscated: Option<HppCustomer>,
    /// Expiry of the identification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// H2 response body `SessionResponseV1`, also the `session` of a [`StatusUpdate`]. `Debug`
/// hides the authorization token and the customer.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionResponse {
    /// The HPP session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Current status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HppStatus>,
    /// Last status change (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Expiry (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The KP authorization token, once `COMPLETED` (single use, 60 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_token: Option<String>,
    /// The order Klarna placed (`PLACE_ORDER`, `CAPTURE_ORDER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Klarna's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klarna_reference: Option<String>,
    /// The customer (in-store identification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<HppCustomer>,
    /// In-store manual identification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_identification: Option<ManualIdentification>,
}

impl std::fmt::Debug for SessionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionResponse")
            .field("session_id", &self.session_id)
            .field("status", &self.status)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .field(
                "authorization_token",
                &RedactedOpt(&self.authorization_token),
            )
            .field("order_id", &self.order_id)
            .field("klarna_reference", &self.klarna_reference)
            .field("customer", &RedactedOpt(&self.customer))
            .field(
                "manual_identification",
                &RedactedOpt(&self.manual_identification),
            )
            .finish()
    }
}

/// `contact_information` of a distribution: personal data, so `Debug` shows only which fields
/// are present.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DistributionContact {
    /// For `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// For `sms`, with `phone_country`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// ISO 3166 alpha-2 country of `phone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_country: Option<String>,
    /// For `token`: the id from the in-store QR code, unaltered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
}

impl std::fmt::Debug for DistributionContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributionContact")
            .field("email", &RedactedOpt(&self.email))
            .field("phone", &RedactedOpt(&self.phone))
            .field("phone_country", &self.phone_country)
            .field("access_id", &RedactedOpt(&self.access_id))
            .finish()
    }
}

/// H4 request body `DistributionRequestV1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionRequest {
    /// Who to send the link to.
    pub contact_information: DistributionContact,
    /// How.
    pub method: DistributionMethod,
    /// `INSTORE_PURCHASE` (unused by Klarna).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl DistributionRequest {
    /// A link by e-mail.
    #[must_use]
    pub fn email(address: impl Into<String>) -> Self {
        Self {
            contact_information: DistributionContact {
                email: Some(address.into()),
                ..DistributionContact::default()
            },
            method: DistributionMethod::Email,
            template: None,
        }
    }

    /// A link by SMS to `phone` in `phone_country` (ISO 3166 alpha-2).
    #[must_use]
    pub fn sms(phone: impl Into<String>, phone_country: impl Into<String>) -> Self {
        Self {
            contact_information: DistributionContact {
                phone: Some(phone.into()),
                phone_country: Some(phone_country.into()),
                ..DistributionContact::default()
            },
            method: DistributionMethod::Sms,
            template: None,
        }
    }
}

/// Body Klarna POSTs to `merchant_urls.status_update` on every status change (hpp.md §5, from
/// Kustom's copy of Klarna's page): an event id for de-duplication and the session as H2
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// Identifier of the event, for de-duplication.
    pub event_id: String,
    /// The session, as a read shows it.
    pub session: SessionResponse,
}
