//! Merchant data on a payment: the shop's order number and references, `merchant_data`, Extra
//! Merchant Data (EMD), the customer, addresses and the widget's `options` (API.md §2.1, §2.8,
//! §2.9, §2.11, §2.12, §11.5).
//!
//! The parts are plain data ([`Address`], [`Customer`], [`WidgetOptions`], [`Attachment`]);
//! a [`MerchantData`] that exists is valid: [`MerchantDataBuilder::build`] checks Klarna's
//! limits and names the offending field (`billing_address.postal_code`). Names, e-mail
//! addresses, phones, addresses, national ids, dates of birth and the EMD body are personal
//! data: every `Debug` here hides them.

use std::fmt;

use crate::cart::Problem;
use crate::field::FieldPath;
use crate::market::Country;

/// The content type of Klarna's Extra Merchant Data v2 (API.md §2.12).
pub const EMD_CONTENT_TYPE: &str = "application/vnd.klarna.internal.emd-v2+json";
/// Longest `merchant_reference1` / `merchant_reference2` (API.md §2.1).
pub const MAX_REFERENCE: usize = 255;
/// Longest `merchant_data` (API.md §2.1).
pub const MAX_MERCHANT_DATA: usize = 6_000;
/// Longest free text we send in a field Klarna gives no limit for (customer ids, EMD texts):
/// our decision, the width of Klarna's other text fields.
pub const MAX_TEXT: usize = 255;

const REDACTED: &str = "[REDACTED]";

/// Invalid merchant data: the field to fix and what is wrong with it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct MerchantDataError {
    field: FieldPath,
    problem: Problem,
}

impl MerchantDataError {
    fn new(field: String, problem: Problem) -> Self {
        Self {
            field: FieldPath::new(&field),
            problem,
        }
    }
    /// The offending field, e.g. `shipping_address.region`.
    #[must_use]
    pub fn field(&self) -> &FieldPath {
        &self.field
    }
    /// What is wrong.
    #[must_use]
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

type Checked = Result<(), MerchantDataError>;

fn text(field: &str, value: &str, min: usize, max: usize) -> Checked {
    let len = value.chars().count();
    if len < min {
        return Err(MerchantDataError::new(field.to_owned(), Problem::Empty));
    }
    if len > max {
        return Err(MerchantDataError::new(
            field.to_owned(),
            Problem::TooLong { max },
        ));
    }
    Ok(())
}

fn opt_text(field: &str, value: Option<&String>, min: usize, max: usize) -> Checked {
    value.map_or(Ok(()), |v| text(field, v, min, max))
}

fn format(field: &str, expected: &'static str) -> MerchantDataError {
    MerchantDataError::new(field.to_owned(), Problem::Format { expected })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `yyyy-mm-dd` with a month 01..=12 and a day 01..=31.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let in_range =
        |t: &str, lo: u32, hi: u32| t.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v));
    y.len() == 4
        && digits(y)
        && m.len() == 2
        && digits(m)
        && d.len() == 2
        && digits(d)
        && in_range(m, 1, 12)
        && in_range(d, 1, 31)
}

/// EMD's time stamps: `yyyy-mm-ddThh:mm`, optionally `:ss`, optionally `Z` (Klarna's examples
/// use both `2020-11-24T15:00` and `2020-11-24T15:00:00Z`).
fn is_emd_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else {
        return false;
    };
    let time = time.strip_suffix('Z').unwrap_or(time);
    let parts: Vec<&str> = time.split(':').collect();
    let two = |t: &&str| t.len() == 2 && digits(t);
    is_date(date) && (parts.len() == 2 || parts.len() == 3) && parts.iter().all(two)
}

fn is_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
}

/// A postal address with contact data (API.md §2.8): all fields optional.
///
/// Limits (Payments and Customer Token APIs, §11.5): `title` ≤ 20, `postal_code` ≤ 10, every
/// other field ≤ 99; `given_name` and `family_name` at least 2 characters and not only digits;
/// `phone` at least 5; `email` with an `@`; `country` ISO alpha-2; `region` required when the
/// address is in the US or Australia. `Debug` shows only the country.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs, reason = "Klarna's field names, documented on the type")]
pub struct Address {
    pub title: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// B2B only.
    pub organization_name: Option<String>,
    /// B2B only.
    pub attention: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub street_address: Option<String>,
    pub street_address2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-2 subdivision; mandatory for US and AU.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2; overrides the purchase country when different.
    pub country: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

impl Address {
    fn check(&self, at: &str) -> Checked {
        let p = |name: &str| format!("{at}.{name}");
        opt_text(&p("title"), self.title.as_ref(), 1, 20)?;
        for (name, v) in [
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
        ] {
            if let Some(v) = v {
                text(&p(name), v, 2, 99)?;
                if v.chars().all(|c| c.is_ascii_digit() || c.is_whitespace()) {
                    return Err(format(&p(name), "a name, not only digits"));
                }
            }
        }
        for (name, v) in [
            ("organization_name", &self.organization_name),
            ("attention", &self.attention),
            ("street_address", &self.street_address),
            ("street_address2", &self.street_address2),
            ("city", &self.city),
            ("region", &self.region),
        ] {
            opt_text(&p(name), v.as_ref(), 1, 99)?;
        }
        if let Some(email) = &self.email {
            text(&p("email"), email, 3, 99)?;
            if !email.contains('@') {
                return Err(format(&p("email"), "an e-mail address"));
            }
        }
        opt_text(&p("phone"), self.phone.as_ref(), 5, 99)?;
        opt_text(&p("postal_code"), self.postal_code.as_ref(), 1, 10)?;
        if let Some(c) = &self.country
            && c.parse::<Country>().is_err()
        {
            return Err(format(
                &p("country"),
                "an ISO 3166-1 alpha-2 country Klarna serves",
            ));
        }
        Ok(())
    }

    /// US and AU addresses need a `region` (§2.8); the country is the address's, else the
    /// purchase country.
    fn check_region(&self, at: &str, purchase: Country) -> Checked {
        let country = self
            .country
            .as_deref()
            .and_then(|c| c.parse::<Country>().ok())
            .unwrap_or(purchase);
        if matches!(country.code(), "US" | "AU") && self.region.is_none() {
            return Err(MerchantDataError::new(
                format!("{at}.region"),
                Problem::Empty,
            ));
        }
        Ok(())
    }
}

/// Person (B2C, Klarna's default) or organization (B2B): Klarna's `customer.type`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CustomerKind {
    /// A consumer.
    #[default]
    Person,
    /// A business: B2B.
    Organization,
}

impl CustomerKind {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Organization => "organization",
        }
    }
}

/// `customer.gender`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Gender {
    /// `male`.
    Male,
    /// `female`.
    Female,
}

impl Gender {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
        }
    }
}

/// `customer.organization_entity_type` (API.md §2.9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs, reason = "Klarna's values, one for one")]
pub enum OrganizationType {
    LimitedCompany,
    PublicLimitedCompany,
    EntrepreneurialCompany,
    LimitedPartnershipLimitedCompany,
    LimitedPartnership,
    GeneralPartnership,
    RegisteredSoleTrader,
    SoleTrader,
    CivilLawPartnership,
    PublicInstitution,
    Other,
}

impl OrganizationType {
    /// Klarna's spelling (`LIMITED_COMPANY`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LimitedCompany => "LIMITED_COMPANY",
            Self::PublicLimitedCompany => "PUBLIC_LIMITED_COMPANY",
            Self::EntrepreneurialCompany => "ENTREPRENEURIAL_COMPANY",
            Self::LimitedPartnershipLimitedCompany => "LIMITED_PARTNERSHIP_LIMITED_COMPANY",
            Self::LimitedPartnership => "LIMITED_PARTNERSHIP",
            Self::GeneralPartnership => "GENERAL_PARTNERSHIP",
            Self::RegisteredSoleTrader => "REGISTERED_SOLE_TRADER",
            Self::SoleTrader => "SOLE_TRADER",
            Self::CivilLawPartnership => "CIVIL_LAW_PARTNERSHIP",
            Self::PublicInstitution => "PUBLIC_INSTITUTION",
            Self::Other => "OTHER",
        }
    }
}

/// The customer (API.md §2.9). B2B fields (`organization_*`, `vat_id`) only with
/// [`CustomerKind::Organization`]; `date_of_birth` is `yyyy-mm-dd`; `last_four_ssn` 4 or 9
/// digits; `title` ≤ 20; other texts ≤ [`MAX_TEXT`]. `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs, reason = "Klarna's field names, documented on the type")]
pub struct Customer {
    /// Klarna's `type`.
    pub kind: CustomerKind,
    pub date_of_birth: Option<String>,
    pub gender: Option<Gender>,
    pub title: Option<String>,
    pub national_identification_number: Option<String>,
    /// US.
    pub last_four_ssn: Option<String>,
    /// B2B.
    pub organization_registration_id: Option<String>,
    /// B2B.
    pub organization_entity_type: Option<OrganizationType>,
    /// B2B.
    pub vat_id: Option<String>,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Customer {
    /// An organization (B2B) with its registration id.
    #[must_use]
    pub fn organization(registration_id: impl Into<String>) -> Self {
        Self {
            kind: CustomerKind::Organization,
            organization_registration_id: Some(registration_id.into()),
            ..Self::default()
        }
    }

    fn check(&self) -> Checked {
        if let Some(d) = &self.date_of_birth
            && !is_date(d)
        {
            return Err(format("customer.date_of_birth", "a date yyyy-mm-dd"));
        }
        opt_text("customer.title", self.title.as_ref(), 1, 20)?;
        opt_text(
            "customer.national_identification_number",
            self.national_identification_number.as_ref(),
            1,
            MAX_TEXT,
        )?;
        if let Some(s) = &self.last_four_ssn
            && !(digits(s) && (s.len() == 4 || s.len() == 9))
        {
            return Err(format("customer.last_four_ssn", "4 or 9 digits"));
        }
        let b2b = [
            (
                "customer.organization_registration_id",
                self.organization_registration_id.is_some(),
            ),
            (
                "customer.organization_entity_type",
                self.organization_entity_type.is_some(),
            ),
            ("customer.vat_id", self.vat_id.is_some()),
        ];
        if self.kind == CustomerKind::Person
            && let Some((field, _)) = b2b.iter().find(|(_, given)| *given)
        {
            return Err(format(
                field,
                "absent for a person (B2B field: type organization)",
            ));
        }
        opt_text(
            "customer.organization_registration_id",
            self.organization_registration_id.as_ref(),
            1,
            MAX_TEXT,
        )?;
        opt_text("customer.vat_id", self.vat_id.as_ref(), 1, MAX_TEXT)
    }
}

/// The widget's styling (Klarna's `options`, §2.11): colours are `#RRGGBB`; `radius_border`
/// is free CSS text such as `5px` (≤ [`MAX_TEXT`], our decision).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs, reason = "Klarna's field names, documented on the type")]
pub struct WidgetOptions {
    pub color_border: Option<String>,
    pub color_border_selected: Option<String>,
    pub color_details: Option<String>,
    pub color_text: Option<String>,
    pub radius_border: Option<String>,
}

impl WidgetOptions {
    fn check(&self) -> Checked {
        for (name, v) in [
            ("options.color_border", &self.color_border),
            ("options.color_border_selected", &self.color_border_selected),
            ("options.color_details", &self.color_details),
            ("options.color_text", &self.color_text),
        ] {
            if let Some(v) = v
                && !is_color(v)
            {
                return Err(format(name, "a colour #RRGGBB"));
            }
        }
        opt_text(
            "options.radius_border",
            self.radius_border.as_ref(),
            1,
            MAX_TEXT,
        )
    }
}

/// EMD `customer_account_info`: the shopper's account at the shop.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CustomerAccountInfo {
    /// The shop's id of the account (often an e-mail address: personal data).
    pub unique_account_identifier: String,
    /// When the account was registered, `yyyy-mm-ddThh:mm[:ss][Z]`.
    pub account_registration_date: Option<String>,
    /// When the account last changed, same format.
    pub account_last_modified: Option<String>,
}

/// EMD `subscription`: the subscription the purchase belongs to.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EmdSubscription {
    /// Its name.
    pub subscription_name: String,
    /// Start, `yyyy-mm-ddThh:mm[:ss][Z]`.
    pub start_time: String,
    /// End, same format.
    pub end_time: String,
    /// Whether it renews by itself.
    pub auto_renewal_of_subscription: bool,
}

/// EMD `marketplace_seller_info`: the sub-seller of a marketplace order.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarketplaceSellerInfo {
    /// The marketplace's id of the seller.
    pub sub_merchant_id: String,
    /// Category of the products sold.
    pub product_category: String,
    /// Name of the product sold.
    pub product_name: String,
    /// The seller's completed trades, when known.
    pub number_of_trades: Option<u64>,
}

impl fmt::Debug for CustomerAccountInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerAccountInfo")
            .field("unique_account_identifier", &REDACTED)
            .field("account_registration_date", &self.account_registration_date)
            .field("account_last_modified", &self.account_last_modified)
            .finish()
    }
}

/// Typed Extra Merchant Data v2: the packages this crate models. At least one entry.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Emd {
    /// `customer_account_info`.
    pub customer_account_info: Vec<CustomerAccountInfo>,
    /// `subscription`.
    pub subscription: Vec<EmdSubscription>,
    /// `marketplace_seller_info`.
    pub marketplace_seller_info: Vec<MarketplaceSellerInfo>,
}

/// Extra Merchant Data (Klarna's `attachment`, §2.12): typed EMD, or a body of your own with
/// its own content type for the packages not modelled here (travel, events, ...).
#[derive(Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Attachment {
    /// EMD v2, sent as [`EMD_CONTENT_TYPE`] with the body rendered by [`Attachment::body`].
    Emd(Emd),
    /// Sent as given.
    Raw {
        /// The content type (Klarna documents [`EMD_CONTENT_TYPE`]).
        content_type: String,
        /// The body: a JSON document as text.
        body: String,
    },
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("content_type", &self.content_type())
            .field("body", &REDACTED)
            .finish()
    }
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object from `(key, rendered value)` pairs, skipping absent values.
fn json_obj(out: &mut String, fields: &[(&str, Option<String>)]) {
    out.push('{');
    let mut first = true;
    for (k, v) in fields {
        if let Some(v) = v {
            if !first {
                out.push(',');
            }
            first = false;
            json_str(out, k);
            out.push(':');
            out.push_str(v);
        }
    }
    out.push('}');
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    json_str(&mut out, s);
    out
}

fn json_array<T>(items: &[T], render: impl Fn(&T) -> String) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    Some(format!(
        "[{}]",
        items.iter().map(render).collect::<Vec<_>>().join(",")
    ))
}

impl Attachment {
    /// The content type sent.
    #[must_use]
    pub fn content_type(&self) -> &str {
        match self {
            Self::Emd(_) => EMD_CONTENT_TYPE,
            Self::Raw { content_type, .. } => content_type,
        }
    }

    /// The body sent: the EMD rendered as compact JSON (packages in a fixed order, empty ones
    /// left out), or the raw body as given.
    #[must_use]
    pub fn body(&self) -> String {
        let emd = match self {
            Self::Raw { body, .. } => return body.clone(),
            Self::Emd(emd) => emd,
        };
        let account = json_array(&emd.customer_account_info, |a| {
            let mut o = String::new();
            json_obj(
                &mut o,
                &[
                    (
                        "unique_account_identifier",
                        Some(quoted(&a.unique_account_identifier)),
                    ),
                    (
                        "account_registration_date",
                        a.account_registration_date.as_deref().map(quoted),
                    ),
                    (
                        "account_last_modified",
                        a.account_last_modified.as_deref().map(quoted),
                    ),
                ],
            );
            o
        });
        let subscription = json_array(&emd.subscription, |s| {
            let mut o = String::new();
            json_obj(
                &mut o,
                &[
                    ("subscription_name", Some(quoted(&s.subscription_name))),
                    ("start_time", Some(quoted(&s.start_time))),
                    ("end_time", Some(quoted(&s.end_time))),
                    (
                        "auto_renewal_of_subscription",
                        Some(s.auto_renewal_of_subscription.to_string()),
                    ),
                ],
            );
            o
        });
        let seller = json_array(&emd.marketplace_seller_info, |m| {
            let mut o = String::new();
            json_obj(
                &mut o,
                &[
                    ("sub_merchant_id", Some(quoted(&m.sub_merchant_id))),
                    ("product_category", Some(quoted(&m.product_category))),
                    ("product_name", Some(quoted(&m.product_name))),
                    (
                        "number_of_trades",
                        m.number_of_trades.map(|n| n.to_string()),
                    ),
                ],
            );
            o
        });
        let mut out = String::new();
        json_obj(
            &mut out,
            &[
                ("customer_account_info", account),
                ("subscription", subscription),
                ("marketplace_seller_info", seller),
            ],
        );
        out
    }

    fn check(&self) -> Checked {
        let emd = match self {
            Self::Raw { content_type, body } => {
                text("attachment.content_type", content_type, 1, MAX_TEXT)?;
                text("attachment.body", body, 1, usize::MAX)?;
                let trimmed = body.trim_start();
                if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
                    return Err(format("attachment.body", "a JSON document"));
                }
                return Ok(());
            }
            Self::Emd(emd) => emd,
        };
        if emd.customer_account_info.is_empty()
            && emd.subscription.is_empty()
            && emd.marketplace_seller_info.is_empty()
        {
            return Err(MerchantDataError::new(
                "attachment.body".into(),
                Problem::Empty,
            ));
        }
        let time = |field: String, v: &str| {
            if is_emd_time(v) {
                Ok(())
            } else {
                Err(MerchantDataError::new(
                    field,
                    Problem::Format {
                        expected: "a time yyyy-mm-ddThh:mm[:ss][Z]",
                    },
                ))
            }
        };
        for (i, a) in emd.customer_account_info.iter().enumerate() {
            let p = |n: &str| format!("attachment.body.customer_account_info[{i}].{n}");
            text(
                &p("unique_account_identifier"),
                &a.unique_account_identifier,
                1,
                MAX_TEXT,
            )?;
            if let Some(t) = &a.account_registration_date {
                time(p("account_registration_date"), t)?;
            }
            if let Some(t) = &a.account_last_modified {
                time(p("account_last_modified"), t)?;
            }
        }
        for (i, s) in emd.subscription.iter().enumerate() {
            let p = |n: &str| format!("attachment.body.subscription[{i}].{n}");
            text(&p("subscription_name"), &s.subscription_name, 1, MAX_TEXT)?;
            time(p("start_time"), &s.start_time)?;
            time(p("end_time"), &s.end_time)?;
        }
        for (i, m) in emd.marketplace_seller_info.iter().enumerate() {
            let p = |n: &str| format!("attachment.body.marketplace_seller_info[{i}].{n}");
            text(&p("sub_merchant_id"), &m.sub_merchant_id, 1, MAX_TEXT)?;
            text(&p("product_category"), &m.product_category, 1, MAX_TEXT)?;
            text(&p("product_name"), &m.product_name, 1, MAX_TEXT)?;
        }
        Ok(())
    }
}

/// What the shop sends with a payment besides the cart: valid by construction.
///
/// Empty by default: then `merchant_reference1` is our payment id, as before. Build one with
/// [`MerchantData::builder`]. `Debug` shows the order number and second reference and only
/// whether the rest is present.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct MerchantData {
    parts: MerchantDataParts,
}

/// The plain parts of [`MerchantData`], field for field (the storage form; rebuild with
/// [`MerchantData::from_parts`], which validates again).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs, reason = "mirrors the builder, documented there")]
pub struct MerchantDataParts {
    #[cfg_attr(feature = "serde", serde(default))]
    pub order_number: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub reference2: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub merchant_data: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub attachment: Option<Attachment>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub customer: Option<Customer>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub billing_address: Option<Address>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub shipping_address: Option<Address>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub options: Option<WidgetOptions>,
}

impl fmt::Debug for MerchantDataParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |b: bool| if b { "present" } else { "absent" };
        f.debug_struct("MerchantData")
            .field("order_number", &self.order_number)
            .field("reference2", &self.reference2)
            .field("merchant_data", &shown(self.merchant_data.is_some()))
            .field("attachment", &self.attachment)
            .field("customer", &self.customer)
            .field("billing_address", &self.billing_address)
            .field("shipping_address", &self.shipping_address)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for MerchantData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts.fmt(f)
    }
}

impl MerchantData {
    /// Starts merchant data.
    #[must_use]
    pub fn builder() -> MerchantDataBuilder {
        MerchantDataBuilder(MerchantDataParts::default())
    }

    /// Validates stored or hand-made parts.
    ///
    /// # Errors
    /// A [`MerchantDataError`] naming the first offending field.
    pub fn from_parts(parts: MerchantDataParts) -> Result<Self, MerchantDataError> {
        MerchantDataBuilder(parts).build()
    }

    /// The parts, field for field.
    #[must_use]
    pub fn parts(&self) -> &MerchantDataParts {
        &self.parts
    }
    /// Whether nothing is set (the default behaviour: our payment id as the reference).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.parts == MerchantDataParts::default()
    }
    /// The shop's order number (`merchant_reference1`), when given.
    #[must_use]
    pub fn order_number(&self) -> Option<&str> {
        self.parts.order_number.as_deref()
    }
    /// `merchant_reference2` (settlement files).
    #[must_use]
    pub fn reference2(&self) -> Option<&str> {
        self.parts.reference2.as_deref()
    }
    /// `merchant_data`, opaque to Klarna.
    #[must_use]
    pub fn merchant_data(&self) -> Option<&str> {
        self.parts.merchant_data.as_deref()
    }
    /// Extra Merchant Data.
    #[must_use]
    pub fn attachment(&self) -> Option<&Attachment> {
        self.parts.attachment.as_ref()
    }
    /// The customer.
    #[must_use]
    pub fn customer(&self) -> Option<&Customer> {
        self.parts.customer.as_ref()
    }
    /// The billing address.
    #[must_use]
    pub fn billing_address(&self) -> Option<&Address> {
        self.parts.billing_address.as_ref()
    }
    /// The shipping address.
    #[must_use]
    pub fn shipping_address(&self) -> Option<&Address> {
        self.parts.shipping_address.as_ref()
    }
    /// The widget's styling.
    #[must_use]
    pub fn options(&self) -> Option<&WidgetOptions> {
        self.parts.options.as_ref()
    }

    /// Checks what depends on the purchase country: a US or AU address needs a `region`.
    ///
    /// # Errors
    /// `billing_address.region` or `shipping_address.region`.
    pub fn check_country(&self, purchase: Country) -> Result<(), MerchantDataError> {
        if let Some(a) = &self.parts.billing_address {
            a.check_region("billing_address", purchase)?;
        }
        if let Some(a) = &self.parts.shipping_address {
            a.check_region("shipping_address", purchase)?;
        }
        Ok(())
    }

    /// Checks that only what a token charge (T2) carries is set: references,
    /// `merchant_data`, the attachment and the shipping address. A charge has no billing
    /// address, customer or widget (they come from the token), so giving one is an error
    /// rather than silently dropped.
    ///
    /// # Errors
    /// `billing_address`, `customer` or `options`.
    pub fn check_for_charge(&self) -> Result<(), MerchantDataError> {
        let not_sent = |field: &str| {
            MerchantDataError::new(
                field.to_owned(),
                Problem::Format {
                    expected: "absent on a token charge (it comes from the customer token)",
                },
            )
        };
        if self.parts.billing_address.is_some() {
            return Err(not_sent("billing_address"));
        }
        if self.parts.customer.is_some() {
            return Err(not_sent("customer"));
        }
        if self.parts.options.is_some() {
            return Err(not_sent("options"));
        }
        Ok(())
    }
}

/// Builds [`MerchantData`]; [`Self::build`] checks everything.
#[derive(Clone, Debug, Default)]
pub struct MerchantDataBuilder(MerchantDataParts);

impl MerchantDataBuilder {
    /// The shop's order number, sent as `merchant_reference1` (1..=255; shown to the shopper
    /// as the order number). Without it, our payment id is sent.
    #[must_use]
    pub fn order_number(mut self, v: impl Into<String>) -> Self {
        self.0.order_number = Some(v.into());
        self
    }
    /// `merchant_reference2` (≤ 255; in the settlement files).
    #[must_use]
    pub fn reference2(mut self, v: impl Into<String>) -> Self {
        self.0.reference2 = Some(v.into());
        self
    }
    /// `merchant_data` (≤ 6000), opaque to Klarna.
    #[must_use]
    pub fn merchant_data(mut self, v: impl Into<String>) -> Self {
        self.0.merchant_data = Some(v.into());
        self
    }
    /// Extra Merchant Data.
    #[must_use]
    pub fn attachment(mut self, v: Attachment) -> Self {
        self.0.attachment = Some(v);
        self
    }
    /// The customer (person or organization).
    #[must_use]
    pub fn customer(mut self, v: Customer) -> Self {
        self.0.customer = Some(v);
        self
    }
    /// The billing address.
    #[must_use]
    pub fn billing_address(mut self, v: Address) -> Self {
        self.0.billing_address = Some(v);
        self
    }
    /// The shipping address.
    #[must_use]
    pub fn shipping_address(mut self, v: Address) -> Self {
        self.0.shipping_address = Some(v);
        self
    }
    /// The widget's styling.
    #[must_use]
    pub fn options(mut self, v: WidgetOptions) -> Self {
        self.0.options = Some(v);
        self
    }

    /// Checks Klarna's limits.
    ///
    /// # Errors
    /// A [`MerchantDataError`] naming the first offending field.
    pub fn build(self) -> Result<MerchantData, MerchantDataError> {
        let p = &self.0;
        opt_text(
            "merchant_reference1",
            p.order_number.as_ref(),
            1,
            MAX_REFERENCE,
        )?;
        opt_text(
            "merchant_reference2",
            p.reference2.as_ref(),
            1,
            MAX_REFERENCE,
        )?;
        opt_text(
            "merchant_data",
            p.merchant_data.as_ref(),
            1,
            MAX_MERCHANT_DATA,
        )?;
        if let Some(a) = &p.attachment {
            a.check()?;
        }
        if let Some(c) = &p.customer {
            c.check()?;
        }
        if let Some(a) = &p.billing_address {
            a.check("billing_address")?;
        }
        if let Some(a) = &p.shipping_address {
            a.check("shipping_address")?;
        }
        if let Some(o) = &p.options {
            o.check()?;
        }
        Ok(MerchantData { parts: self.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: MerchantDataBuilder) -> String {
        b.build().unwrap_err().field().to_string()
    }

    fn address() -> Address {
        Address {
            given_name: Some("Jordan".into()),
            family_name: Some("Reyes".into()),
            email: Some("jordan.reyes@example.com".into()),
            phone: Some("+13125550147".into()),
            street_address: Some("221 W Erie St".into()),
            postal_code: Some("60654".into()),
            city: Some("Chicago".into()),
            region: Some("IL".into()),
            country: Some("US".into()),
            ..Address::default()
        }
    }

    #[test]
    fn each_limit_names_its_field() {
        let b = MerchantData::builder;
        assert_eq!(err(b().order_number("")), "merchant_reference1");
        assert_eq!(
            err(b().order_number("x".repeat(256))),
            "merchant_reference1"
        );
        assert!(b().order_number("x".repeat(255)).build().is_ok());
        assert_eq!(err(b().reference2("x".repeat(256))), "merchant_reference2");
        assert_eq!(err(b().merchant_data("x".repeat(6_001))), "merchant_data");
        assert!(b().merchant_data("x".repeat(6_000)).build().is_ok());
        let with = |f: fn(&mut Address)| {
            let mut a = address();
            f(&mut a);
            err(b().billing_address(a))
        };
        assert_eq!(
            with(|a| a.title = Some("x".repeat(21))),
            "billing_address.title"
        );
        assert_eq!(
            with(|a| a.given_name = Some("J".into())),
            "billing_address.given_name"
        );
        assert_eq!(
            with(|a| a.family_name = Some("1234".into())),
            "billing_address.family_name"
        );
        assert_eq!(
            with(|a| a.city = Some("x".repeat(100))),
            "billing_address.city"
        );
        assert_eq!(
            with(|a| a.region = Some("x".repeat(100))),
            "billing_address.region"
        );
        assert_eq!(
            with(|a| a.organization_name = Some("x".repeat(100))),
            "billing_address.organization_name"
        );
        assert_eq!(
            with(|a| a.attention = Some("x".repeat(100))),
            "billing_address.attention"
        );
        assert_eq!(
            with(|a| a.postal_code = Some("x".repeat(11))),
            "billing_address.postal_code"
        );
        assert_eq!(
            with(|a| a.email = Some("nobody".into())),
            "billing_address.email"
        );
        assert_eq!(
            with(|a| a.phone = Some("1234".into())),
            "billing_address.phone"
        );
        assert_eq!(
            with(|a| a.country = Some("USA".into())),
            "billing_address.country"
        );
        let mut a = address();
        a.postal_code = Some("x".repeat(11));
        assert_eq!(err(b().shipping_address(a)), "shipping_address.postal_code");
    }

    #[test]
    fn customer_rules_name_their_field() {
        let b = MerchantData::builder;
        let c = |f: fn(&mut Customer)| {
            let mut c = Customer::organization("556036-0793");
            f(&mut c);
            err(b().customer(c))
        };
        assert_eq!(
            c(|c| c.date_of_birth = Some("1990-13-01".into())),
            "customer.date_of_birth"
        );
        assert_eq!(
            c(|c| c.date_of_birth = Some("19900101".into())),
            "customer.date_of_birth"
        );
        assert_eq!(
            c(|c| c.last_four_ssn = Some("12345".into())),
            "customer.last_four_ssn"
        );
        assert_eq!(c(|c| c.title = Some("x".repeat(21))), "customer.title");
        assert_eq!(c(|c| c.vat_id = Some(String::new())), "customer.vat_id");
        assert_eq!(
            c(|c| c.kind = CustomerKind::Person),
            "customer.organization_registration_id"
        );
        let ok = Customer {
            date_of_birth: Some("1990-01-31".into()),
            last_four_ssn: Some("1234".into()),
            organization_entity_type: Some(OrganizationType::LimitedCompany),
            vat_id: Some("SE556036079301".into()),
            ..Customer::organization("556036-0793")
        };
        assert!(b().customer(ok).build().is_ok());
    }

    #[test]
    fn options_and_attachments_name_their_field() {
        let b = MerchantData::builder;
        let o = WidgetOptions {
            color_text: Some("#12345G".into()),
            ..WidgetOptions::default()
        };
        assert_eq!(err(b().options(o)), "options.color_text");
        assert_eq!(
            err(b().attachment(Attachment::Emd(Emd::default()))),
            "attachment.body"
        );
        let emd = Emd {
            subscription: vec![EmdSubscription {
                subscription_name: "Coffee".into(),
                start_time: "2026-12-01".into(),
                end_time: "2027-12-01T00:00".into(),
                auto_renewal_of_subscription: true,
            }],
            ..Emd::default()
        };
        assert_eq!(
            err(b().attachment(Attachment::Emd(emd))),
            "attachment.body.subscription[0].start_time"
        );
        let raw = Attachment::Raw {
            content_type: EMD_CONTENT_TYPE.into(),
            body: "not json".into(),
        };
        assert_eq!(err(b().attachment(raw)), "attachment.body");
        let raw = Attachment::Raw {
            content_type: String::new(),
            body: "{}".into(),
        };
        assert_eq!(err(b().attachment(raw)), "attachment.content_type");
    }

    #[test]
    fn emd_renders_as_klarna_documents_it() {
        let a = Attachment::Emd(Emd {
            customer_account_info: vec![CustomerAccountInfo {
                unique_account_identifier: "Adam \"A\"".into(),
                account_registration_date: Some("2020-11-24T15:00".into()),
                account_last_modified: None,
            }],
            subscription: vec![EmdSubscription {
                subscription_name: "Contact_lenses".into(),
                start_time: "2020-11-24T15:00".into(),
                end_time: "2021-11-24T15:00:00Z".into(),
                auto_renewal_of_subscription: false,
            }],
            marketplace_seller_info: vec![MarketplaceSellerInfo {
                sub_merchant_id: "seller-7".into(),
                product_category: "Shoes".into(),
                product_name: "Trail shoe".into(),
                number_of_trades: Some(12),
            }],
        });
        assert_eq!(a.content_type(), EMD_CONTENT_TYPE);
        assert_eq!(
            a.body(),
            r#"{"customer_account_info":[{"unique_account_identifier":"Adam \"A\"","account_registration_date":"2020-11-24T15:00"}],"subscription":[{"subscription_name":"Contact_lenses","start_time":"2020-11-24T15:00","end_time":"2021-11-24T15:00:00Z","auto_renewal_of_subscription":false}],"marketplace_seller_info":[{"sub_merchant_id":"seller-7","product_category":"Shoes","product_name":"Trail shoe","number_of_trades":12}]}"#
        );
        assert!(MerchantData::builder().attachment(a).build().is_ok());
    }

    #[test]
    fn us_and_au_addresses_need_a_region() {
        let mut a = address();
        a.region = None;
        let m = MerchantData::builder()
            .shipping_address(a.clone())
            .build()
            .unwrap();
        let us: Country = "US".parse().unwrap();
        assert_eq!(
            m.check_country(us).unwrap_err().field().as_str(),
            "shipping_address.region"
        );
        a.country = Some("SE".into());
        let m = MerchantData::builder()
            .billing_address(a.clone())
            .build()
            .unwrap();
        assert!(
            m.check_country(us).is_ok(),
            "the address's own country counts"
        );
        a.country = None;
        let m = MerchantData::builder().billing_address(a).build().unwrap();
        assert_eq!(
            m.check_country(us).unwrap_err().field().as_str(),
            "billing_address.region",
            "without a country, the purchase country counts"
        );
    }

    #[test]
    fn a_charge_carries_no_billing_data() {
        let m = MerchantData::builder()
            .customer(Customer::default())
            .build()
            .unwrap();
        assert_eq!(
            m.check_for_charge().unwrap_err().field().as_str(),
            "customer"
        );
        let m = MerchantData::builder()
            .shipping_address(address())
            .build()
            .unwrap();
        assert!(m.check_for_charge().is_ok());
    }

    #[test]
    fn debug_hides_personal_data() {
        let m = MerchantData::builder()
            .order_number("SO-1")
            .merchant_data("secret-blob")
            .billing_address(address())
            .shipping_address(address())
            .customer(Customer {
                date_of_birth: Some("1990-01-31".into()),
                national_identification_number: Some("199001311234".into()),
                ..Customer::default()
            })
            .attachment(Attachment::Emd(Emd {
                customer_account_info: vec![CustomerAccountInfo {
                    unique_account_identifier: "jordan.reyes@example.com".into(),
                    ..CustomerAccountInfo::default()
                }],
                ..Emd::default()
            }))
            .build()
            .unwrap();
        let text = format!("{m:?}");
        assert!(text.contains("SO-1"), "{text}");
        for secret in [
            "Jordan",
            "Reyes",
            "jordan.reyes",
            "+1312",
            "Erie",
            "60654",
            "Chicago",
            "1990-01-31",
            "199001311234",
            "secret-blob",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}
