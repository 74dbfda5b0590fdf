//! Local validation of request bodies before anything is sent: Klarna's order-line arithmetic,
//! country/currency/locale combinations, totals, lengths and ranges (API.md §1.8, §1.9, §2, §3,
//! §4). Every error names the field in Klarna's own path syntax (`order_lines[1].total_tax_amount`).
//!
//! Carts go through `klarna-domain` ([`Cart::from_input`], [`Market::parse`]), so the rules are
//! the ones the service itself relies on; this module adds the fields the domain does not model
//! (merchant references, descriptions, URLs, addresses, Order Management amounts).
//!
//! ```
//! use klarna_api as api;
//! use klarna_cli::validate;
//!
//! let body: api::SessionCreate = serde_json::from_str(r#"{
//!     "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
//!     "order_amount": 10000, "order_tax_amount": 2001,
//!     "order_lines": [{"name": "Socks", "quantity": 1, "unit_price": 10000, "tax_rate": 2500,
//!                      "total_amount": 10000, "total_tax_amount": 2000}]
//! }"#)?;
//! let err = validate::session_create(&body).unwrap_err();
//! assert_eq!(err.field(), "order_tax_amount");
//! # Ok::<(), serde_json::Error>(())
//! ```

use klarna_api as api;
use klarna_domain::cart::ProductIdentifiers;
use klarna_domain::{
    Cart, CartError, Country, Currency, Interval, LineInput, LineKind, Locale, Market, MarketError,
    OrderLine, Subscription,
};

/// Largest amount of a capture, refund or authorization update (Order Management spec).
pub const MAX_OM_AMOUNT: i64 = 200_000_000;

/// A request field that Klarna would refuse: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    field: String,
    reason: String,
}

impl ValidationError {
    /// An error for `field` (Klarna's path syntax) with a human-readable reason.
    #[must_use]
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The offending field, e.g. `order_lines[1].total_tax_amount`.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    fn prefixed(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}{}", self.field),
            reason: self.reason,
        }
    }
}

impl From<CartError> for ValidationError {
    fn from(e: CartError) -> Self {
        Self::new(e.field().as_str(), e.problem().to_string())
    }
}

impl From<MarketError> for ValidationError {
    fn from(e: MarketError) -> Self {
        let field = e.field().to_string();
        let message = e.to_string();
        // The domain's message starts with the field; keep it once.
        let reason = message
            .strip_prefix(&format!("{field}: "))
            .map_or_else(|| message.clone(), str::to_owned);
        Self::new(field, reason)
    }
}

type Result<T = ()> = std::result::Result<T, ValidationError>;

fn text(field: &str, value: Option<&str>, min: usize, max: usize) -> Result {
    let Some(value) = value else { return Ok(()) };
    let len = value.chars().count();
    if len < min {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if len > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters (is {len})"),
        ));
    }
    Ok(())
}

fn range(field: &str, value: i64, min: i64, max: i64) -> Result {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("is {value}, must be within {min}..={max}"),
        ))
    }
}

fn count(field: &str, len: usize, min: usize, max: usize) -> Result {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("has {len} items, must have {min}..={max}"),
        ))
    }
}

// ----- markets and carts -----

/// The market of a body. Without a locale the country's first language is assumed for the
/// combination check (Klarna's own default, `en-US`, fits only the US).
///
/// # Errors
/// `purchase_country`, `purchase_currency` or `locale`.
pub fn market(country: &str, currency: &str, locale: Option<&str>) -> Result<Market> {
    match locale {
        Some(locale) => Ok(Market::parse(country, currency, locale)?),
        None => {
            let country: Country = country.parse()?;
            let currency: Currency = currency.parse()?;
            let language = country.languages().first().copied().unwrap_or("en");
            let locale = Locale::parse(&format!("{language}-{}", country.code()))?;
            Ok(Market::new(country, currency, locale)?)
        }
    }
}

/// A market for a body that names only a currency (and maybe a locale), as T2 does: the
/// locale's country when given, else any country of that currency.
fn market_for_currency(currency: &str, locale: Option<&str>) -> Result<Market> {
    let currency: Currency = currency.parse()?;
    if let Some(locale) = locale {
        let parsed = Locale::parse(locale)?;
        return Ok(Market::new(parsed.country(), currency, parsed)?);
    }
    let country = Country::ALL
        .iter()
        .copied()
        .find(|c| c.currency() == currency)
        .ok_or_else(|| ValidationError::new("purchase_currency", "no Klarna country uses it"))?;
    market(country.code(), currency.code(), None)
}

/// Converts one wire order line into the domain's unvalidated [`LineInput`]. `om` accepts the
/// Order Management-only type `return_fee` (checked with the arithmetic of a physical line).
///
/// # Errors
/// `order_lines[index].type` (unknown type), `order_lines[index].subscription.*`.
pub fn line_input(index: usize, line: &api::OrderLine, om: bool) -> Result<LineInput> {
    let at = |name: &str| format!("order_lines[{index}].{name}");
    let kind = match &line.r#type {
        None => LineKind::Physical,
        Some(api::OrderLineType::ReturnFee) if om => LineKind::Physical,
        Some(t) => LineKind::parse(t.as_str()).ok_or_else(|| {
            ValidationError::new(at("type"), format!("`{}` is not an order line type", t))
        })?,
    };
    let subscription = match &line.subscription {
        None => None,
        Some(s) => {
            let interval = s
                .interval
                .as_ref()
                .ok_or_else(|| ValidationError::new(at("subscription.interval"), "is required"))?;
            let interval = Interval::parse(interval.as_str()).ok_or_else(|| {
                ValidationError::new(
                    at("subscription.interval"),
                    format!("`{interval}` is not DAY, WEEK, MONTH or YEAR"),
                )
            })?;
            let interval_count = u32::try_from(s.interval_count)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ValidationError::new(
                        at("subscription.interval_count"),
                        format!("is {}, must be at least 1", s.interval_count),
                    )
                })?;
            Some(Subscription {
                name: s.name.clone(),
                interval,
                interval_count,
            })
        }
    };
    Ok(LineInput {
        kind,
        name: line.name.clone(),
        reference: line.reference.clone(),
        quantity: line.quantity,
        quantity_unit: line.quantity_unit.clone(),
        unit_price: line.unit_price,
        tax_rate: line.tax_rate.unwrap_or(0),
        total_amount: line.total_amount,
        total_discount_amount: line.total_discount_amount.unwrap_or(0),
        total_tax_amount: line.total_tax_amount.unwrap_or(0),
        merchant_data: line.merchant_data.clone(),
        product_url: line.product_url.clone(),
        image_url: line.image_url.clone(),
        product_identifiers: line
            .product_identifiers
            .as_ref()
            .map(|p| ProductIdentifiers {
                brand: p.brand.clone(),
                category_path: p.category_path.clone(),
                global_trade_item_number: p.global_trade_item_number.clone(),
                manufacturer_part_number: p.manufacturer_part_number.clone(),
                color: p.color.clone(),
                size: p.size.clone(),
            }),
        subscription,
    })
}

/// Validates a whole cart: every line's arithmetic, `order_amount` = Σ line totals and
/// `order_tax_amount` = Σ line taxes (a `sales_tax` line counts its total). A missing
/// `order_tax_amount` is not checked.
///
/// # Errors
/// The first offending field.
pub fn cart(
    market: Market,
    lines: &[api::OrderLine],
    order_amount: i64,
    order_tax_amount: Option<i64>,
) -> Result<Cart> {
    let inputs = lines
        .iter()
        .enumerate()
        .map(|(i, l)| line_input(i, l, false))
        .collect::<Result<Vec<_>>>()?;
    let tax = match order_tax_amount {
        Some(tax) => tax,
        None => inputs.iter().fold(0_i64, |sum, l| {
            let part = if l.kind == LineKind::SalesTax {
                l.total_amount
            } else {
                l.total_tax_amount
            };
            sum.saturating_add(part)
        }),
    };
    Ok(Cart::from_input(market, inputs, order_amount, tax)?)
}

/// Order Management lines (captures, refunds, authorization updates): each line's arithmetic,
/// 0..=1000 lines, no totals.
fn om_lines(lines: Option<&Vec<api::OrderLine>>) -> Result {
    let Some(lines) = lines else { return Ok(()) };
    count("order_lines", lines.len(), 0, 1000)?;
    for (i, line) in lines.iter().enumerate() {
        let input = line_input(i, line, true)?;
        OrderLine::from_om_input(input)
            .map_err(|e| ValidationError::from(e).prefixed(&format!("order_lines[{i}].")))?;
    }
    Ok(())
}

// ----- shared shapes -----

fn merchant_fields(r1: Option<&str>, r2: Option<&str>, data: Option<&str>) -> Result {
    text("merchant_reference1", r1, 0, 255)?;
    text("merchant_reference2", r2, 0, 255)?;
    text("merchant_data", data, 0, 6000)
}

fn merchant_urls(urls: Option<&api::MerchantUrls>) -> Result {
    let Some(u) = urls else { return Ok(()) };
    text(
        "merchant_urls.confirmation",
        u.confirmation.as_deref(),
        0,
        2000,
    )?;
    text(
        "merchant_urls.notification",
        u.notification.as_deref(),
        0,
        2000,
    )?;
    text("merchant_urls.push", u.push.as_deref(), 0, 2000)?;
    text(
        "merchant_urls.authorization",
        u.authorization.as_deref(),
        0,
        2000,
    )
}

/// Payments / Customer Token address (API.md §2.8): 99 characters unless stated.
fn address(prefix: &str, a: Option<&api::Address>) -> Result {
    let Some(a) = a else { return Ok(()) };
    let f = |name: &str| format!("{prefix}.{name}");
    text(&f("title"), a.title.as_deref(), 0, 20)?;
    text(&f("postal_code"), a.postal_code.as_deref(), 0, 10)?;
    for (name, value) in [
        ("given_name", &a.given_name),
        ("family_name", &a.family_name),
        ("organization_name", &a.organization_name),
        ("attention", &a.attention),
        ("email", &a.email),
        ("phone", &a.phone),
        ("street_address", &a.street_address),
        ("street_address2", &a.street_address2),
        ("city", &a.city),
        ("region", &a.region),
    ] {
        text(&f(name), value.as_deref(), 0, 99)?;
    }
    country_code(&f("country"), a.country.as_deref())
}

/// Order Management address (API.md §4.6).
fn om_address(prefix: &str, a: Option<&api::Address>) -> Result {
    let Some(a) = a else { return Ok(()) };
    let f = |name: &str| format!("{prefix}.{name}");
    text(&f("title"), a.title.as_deref(), 0, 20)?;
    text(&f("postal_code"), a.postal_code.as_deref(), 0, 10)?;
    for (name, value, max) in [
        ("given_name", &a.given_name, 100),
        ("family_name", &a.family_name, 100),
        ("email", &a.email, 100),
        ("phone", &a.phone, 100),
        ("street_address", &a.street_address, 100),
        ("street_address2", &a.street_address2, 100),
        ("city", &a.city, 200),
        ("region", &a.region, 200),
        ("organization_name", &a.organization_name, 255),
        ("attention", &a.attention, 255),
    ] {
        text(&f(name), value.as_deref(), 0, max)?;
    }
    country_code(&f("country"), a.country.as_deref())
}

fn country_code(field: &str, value: Option<&str>) -> Result {
    match value {
        Some(c) if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) => Err(
            ValidationError::new(field, "must be an ISO 3166-1 alpha-2 code"),
        ),
        _ => Ok(()),
    }
}

fn attachment(a: Option<&api::Attachment>) -> Result {
    let Some(a) = a else { return Ok(()) };
    text("attachment.content_type", Some(&a.content_type), 1, 255)?;
    if serde_json::from_str::<serde::de::IgnoredAny>(&a.body).is_err() {
        return Err(ValidationError::new(
            "attachment.body",
            "must be a JSON document serialized into a string",
        ));
    }
    Ok(())
}

fn options(o: Option<&api::SessionOptions>) -> Result {
    let Some(o) = o else { return Ok(()) };
    for (name, value) in [
        ("options.color_border", &o.color_border),
        ("options.color_border_selected", &o.color_border_selected),
        ("options.color_details", &o.color_details),
        ("options.color_text", &o.color_text),
    ] {
        if let Some(v) = value {
            let ok = v.len() == 7
                && v.starts_with('#')
                && v.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(ValidationError::new(name, "must be #RRGGBB"));
            }
        }
    }
    Ok(())
}

fn shipping_info(prefix: &str, entries: &[api::ShippingInfo], min: usize) -> Result {
    count(prefix, entries.len(), min, 500)?;
    for (i, s) in entries.iter().enumerate() {
        let f = |name: &str| format!("{prefix}[{i}].{name}");
        text(
            &f("shipping_company"),
            s.shipping_company.as_deref(),
            0,
            100,
        )?;
        text(&f("tracking_number"), s.tracking_number.as_deref(), 0, 100)?;
        text(&f("tracking_uri"), s.tracking_uri.as_deref(), 0, 1024)?;
        text(
            &f("return_shipping_company"),
            s.return_shipping_company.as_deref(),
            0,
            100,
        )?;
        text(
            &f("return_tracking_number"),
            s.return_tracking_number.as_deref(),
            0,
            100,
        )?;
        text(
            &f("return_tracking_uri"),
            s.return_tracking_uri.as_deref(),
            0,
            1024,
        )?;
    }
    Ok(())
}

// ----- one function per request body -----

/// P1 `session_create`.
///
/// # Errors
/// The first offending field.
pub fn session_create(b: &api::SessionCreate) -> Result {
    let m = market(
        &b.purchase_country,
        &b.purchase_currency,
        b.locale.as_deref(),
    )?;
    cart(m, &b.order_lines, b.order_amount, b.order_tax_amount)?;
    merchant_fields(
        b.merchant_reference1.as_deref(),
        b.merchant_reference2.as_deref(),
        b.merchant_data.as_deref(),
    )?;
    merchant_urls(b.merchant_urls.as_ref())?;
    address("billing_address", b.billing_address.as_ref())?;
    address("shipping_address", b.shipping_address.as_ref())?;
    options(b.options.as_ref())?;
    attachment(b.attachment.as_ref())
}

/// P3 `session` (partial update). The cart is checked when `order_lines` is present; the
/// market when country and currency are.
///
/// # Errors
/// The first offending field.
pub fn session_update(b: &api::SessionUpdate) -> Result {
    let m = match (&b.purchase_country, &b.purchase_currency) {
        (Some(country), Some(currency)) => Some(market(country, currency, b.locale.as_deref())?),
        (country, currency) => {
            if let Some(c) = country {
                c.parse::<Country>()?;
            }
            if let Some(c) = currency {
                c.parse::<Currency>()?;
            }
            if let Some(l) = &b.locale {
                Locale::parse(l)?;
            }
            None
        }
    };
    if let Some(lines) = &b.order_lines {
        let amount = b
            .order_amount
            .ok_or_else(|| ValidationError::new("order_amount", "is required with order_lines"))?;
        match m {
            Some(m) => {
                cart(m, lines, amount, b.order_tax_amount)?;
            }
            None => {
                // Without a market the arithmetic is still checked (with a neutral market).
                let any = market("US", "USD", Some("en-US"))?;
                cart(any, lines, amount, b.order_tax_amount)?;
            }
        }
    } else if let Some(amount) = b.order_amount {
        range("order_amount", amount, 0, i64::MAX)?;
    }
    merchant_fields(
        b.merchant_reference1.as_deref(),
        b.merchant_reference2.as_deref(),
        b.merchant_data.as_deref(),
    )?;
    merchant_urls(b.merchant_urls.as_ref())?;
    address("billing_address", b.billing_address.as_ref())?;
    address("shipping_address", b.shipping_address.as_ref())?;
    options(b.options.as_ref())?;
    attachment(b.attachment.as_ref())
}

/// P5 `create_order_request`.
///
/// # Errors
/// The first offending field.
pub fn create_order(b: &api::CreateOrderRequest) -> Result {
    let m = market(
        &b.purchase_country,
        &b.purchase_currency,
        b.locale.as_deref(),
    )?;
    cart(m, &b.order_lines, b.order_amount, b.order_tax_amount)?;
    merchant_fields(
        b.merchant_reference1.as_deref(),
        b.merchant_reference2.as_deref(),
        b.merchant_data.as_deref(),
    )?;
    merchant_urls(b.merchant_urls.as_ref())?;
    address("billing_address", b.billing_address.as_ref())?;
    address("shipping_address", b.shipping_address.as_ref())?;
    attachment(b.attachment.as_ref())
}

/// P6 `customer_token_creation_request`.
///
/// # Errors
/// The first offending field.
pub fn customer_token_creation(b: &api::CustomerTokenCreationRequest) -> Result {
    market(&b.purchase_country, &b.purchase_currency, Some(&b.locale))?;
    text("description", Some(&b.description), 1, 255)?;
    match &b.intended_use {
        None => return Err(ValidationError::new("intended_use", "is required")),
        Some(u) if !u.as_str().eq_ignore_ascii_case("SUBSCRIPTION") => {
            return Err(ValidationError::new(
                "intended_use",
                format!("`{u}` is not SUBSCRIPTION"),
            ));
        }
        Some(_) => {}
    }
    address("billing_address", b.billing_address.as_ref())?;
    merchant_urls(b.merchant_urls.as_ref())
}

/// T2 `customer_token_order`.
///
/// # Errors
/// The first offending field.
pub fn token_order(b: &api::CustomerTokenOrder) -> Result {
    let m = market_for_currency(&b.purchase_currency, b.locale.as_deref())?;
    range("order_amount", b.order_amount, 1, i64::MAX)?;
    cart(m, &b.order_lines, b.order_amount, Some(b.order_tax_amount))?;
    merchant_fields(
        b.merchant_reference1.as_deref(),
        b.merchant_reference2.as_deref(),
        b.merchant_data.as_deref(),
    )?;
    merchant_urls(b.merchant_urls.as_ref())?;
    address("shipping_address", b.shipping_address.as_ref())?;
    attachment(b.attachment.as_ref())
}

/// O2 `CaptureObject`.
///
/// # Errors
/// The first offending field.
pub fn capture(b: &api::CaptureObject) -> Result {
    range("captured_amount", b.captured_amount, 1, MAX_OM_AMOUNT)?;
    text("reference", b.reference.as_deref(), 0, 255)?;
    text("description", b.description.as_deref(), 0, 255)?;
    om_lines(b.order_lines.as_ref())?;
    if let Some(s) = &b.shipping_info {
        shipping_info("shipping_info", s, 0)?;
    }
    if let Some(d) = b.shipping_delay {
        range("shipping_delay", d, 0, i64::MAX)?;
    }
    Ok(())
}

/// O5 `RefundObject`.
///
/// # Errors
/// The first offending field.
pub fn refund(b: &api::RefundObject) -> Result {
    range("refunded_amount", b.refunded_amount, 1, MAX_OM_AMOUNT)?;
    text("reference", b.reference.as_deref(), 0, 255)?;
    text("description", b.description.as_deref(), 0, 255)?;
    om_lines(b.order_lines.as_ref())
}

/// O10: new order amount and lines.
///
/// # Errors
/// The first offending field.
pub fn update_authorization(b: &api::UpdateAuthorization) -> Result {
    range("order_amount", b.order_amount, 0, MAX_OM_AMOUNT)?;
    text("description", b.description.as_deref(), 0, 255)?;
    om_lines(b.order_lines.as_ref())?;
    // The new lines describe the new amount: they must add up to it.
    if let Some(lines) = b.order_lines.as_ref().filter(|l| !l.is_empty()) {
        let sum: i128 = lines.iter().map(|l| i128::from(l.total_amount)).sum();
        if sum != i128::from(b.order_amount) {
            return Err(ValidationError::new(
                "order_amount",
                format!(
                    "is {}, expected {sum} (the sum of the order lines)",
                    b.order_amount
                ),
            ));
        }
    }
    Ok(())
}

/// O11: merchant references.
///
/// # Errors
/// The first offending field.
pub fn merchant_references(b: &api::UpdateMerchantReferences) -> Result {
    merchant_fields(
        b.merchant_reference1.as_deref(),
        b.merchant_reference2.as_deref(),
        None,
    )
}

/// O12: the new shipping address.
///
/// # Errors
/// The first offending field.
pub fn customer_details(b: &api::UpdateConsumer) -> Result {
    if b.shipping_address.is_none() {
        return Err(ValidationError::new("shipping_address", "is required"));
    }
    om_address("shipping_address", b.shipping_address.as_ref())
}

/// O13/O14: shipping info to append (1..=500 entries).
///
/// # Errors
/// The first offending field.
pub fn shipping_info_update(b: &api::UpdateShippingInfo) -> Result {
    shipping_info("shipping_info", &b.shipping_info, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> api::OrderLine {
        serde_json::from_str(json).unwrap()
    }

    fn session(lines: Vec<api::OrderLine>, amount: i64, tax: Option<i64>) -> api::SessionCreate {
        api::SessionCreate {
            purchase_country: "SE".into(),
            purchase_currency: "SEK".into(),
            locale: Some("sv-SE".into()),
            order_amount: amount,
            order_tax_amount: tax,
            order_lines: lines,
            ..Default::default()
        }
    }

    fn shoe() -> api::OrderLine {
        line(
            r#"{"name":"Shoe","quantity":2,"unit_price":89900,"tax_rate":2500,
                "total_amount":169800,"total_discount_amount":10000,"total_tax_amount":33960}"#,
        )
    }

    #[test]
    fn klarnas_example_is_valid() {
        let shipping = line(
            r#"{"type":"shipping_fee","name":"Ship","quantity":1,"unit_price":4900,
                "tax_rate":2500,"total_amount":4900,"total_tax_amount":980}"#,
        );
        assert_eq!(
            session_create(&session(vec![shoe(), shipping], 174_700, Some(34_940))),
            Ok(())
        );
    }

    #[test]
    fn names_the_offending_line_field() {
        let mut bad = shoe();
        bad.total_tax_amount = Some(30_000);
        let err = session_create(&session(vec![shoe(), bad], 339_600, Some(63_960))).unwrap_err();
        assert_eq!(err.field(), "order_lines[1].total_tax_amount");
        let err = session_create(&session(vec![shoe()], 169_801, Some(33_960))).unwrap_err();
        assert_eq!(err.field(), "order_amount");
    }

    #[test]
    fn market_errors_name_the_field() {
        let mut s = session(vec![shoe()], 169_800, Some(33_960));
        s.purchase_currency = "EUR".into();
        assert_eq!(session_create(&s).unwrap_err().field(), "purchase_currency");
        s.purchase_currency = "SEK".into();
        s.locale = Some("de-DE".into());
        assert_eq!(session_create(&s).unwrap_err().field(), "locale");
        s.locale = None;
        assert_eq!(session_create(&s), Ok(()));
    }

    #[test]
    fn lengths_and_ranges() {
        let mut s = session(vec![shoe()], 169_800, Some(33_960));
        s.merchant_reference1 = Some("x".repeat(256));
        assert_eq!(
            session_create(&s).unwrap_err().field(),
            "merchant_reference1"
        );
        let c = api::CaptureObject {
            captured_amount: MAX_OM_AMOUNT + 1,
            ..Default::default()
        };
        assert_eq!(capture(&c).unwrap_err().field(), "captured_amount");
        let r = api::RefundObject {
            refunded_amount: -1,
            ..Default::default()
        };
        assert_eq!(refund(&r).unwrap_err().field(), "refunded_amount");
        let u = api::UpdateAuthorization {
            order_amount: 169_801,
            order_lines: Some(vec![shoe()]),
            ..Default::default()
        };
        assert_eq!(
            update_authorization(&u).unwrap_err().field(),
            "order_amount"
        );
        assert_eq!(
            customer_details(&api::UpdateConsumer::default())
                .unwrap_err()
                .field(),
            "shipping_address"
        );
        let p6 = api::CustomerTokenCreationRequest {
            purchase_country: "US".into(),
            purchase_currency: "USD".into(),
            locale: "en-US".into(),
            description: String::new(),
            intended_use: Some(api::IntendedUse::Subscription),
            ..Default::default()
        };
        assert_eq!(
            customer_token_creation(&p6).unwrap_err().field(),
            "description"
        );
        let shipping = api::UpdateShippingInfo {
            shipping_info: vec![],
        };
        assert_eq!(
            shipping_info_update(&shipping).unwrap_err().field(),
            "shipping_info"
        );
    }

    #[test]
    fn om_lines_are_prefixed_and_return_fees_accepted() {
        let mut bad = shoe();
        bad.total_amount = 1;
        let c = api::CaptureObject {
            captured_amount: 1,
            order_lines: Some(vec![shoe(), bad]),
            ..Default::default()
        };
        assert_eq!(
            capture(&c).unwrap_err().field(),
            "order_lines[1].total_amount"
        );
        let fee = line(
            r#"{"type":"return_fee","name":"Fee","quantity":1,"unit_price":-500,
                "tax_rate":0,"total_amount":-500,"total_tax_amount":0}"#,
        );
        let r = api::RefundObject {
            refunded_amount: 1000,
            order_lines: Some(vec![fee]),
            ..Default::default()
        };
        assert_eq!(refund(&r), Ok(()));
    }

    #[test]
    fn us_sales_tax_token_order() {
        let body: api::CustomerTokenOrder = serde_json::from_str(
            r#"{"purchase_currency":"USD","order_amount":1085,"order_tax_amount":85,
                "order_lines":[
                  {"type":"digital","name":"Plan","quantity":1,"unit_price":1000,"total_amount":1000,
                   "subscription":{"name":"Plan","interval":"MONTH","interval_count":1}},
                  {"type":"sales_tax","name":"Sales Tax","quantity":1,"unit_price":85,"total_amount":85}]}"#,
        )
        .unwrap();
        assert_eq!(token_order(&body), Ok(()));
        let mut zero = body.clone();
        zero.order_amount = 0;
        assert_eq!(token_order(&zero).unwrap_err().field(), "order_amount");
        let mut bad_sub = body;
        if let Some(s) = bad_sub.order_lines[0].subscription.as_mut() {
            s.interval_count = 0;
        }
        assert_eq!(
            token_order(&bad_sub).unwrap_err().field(),
            "order_lines[0].subscription.interval_count"
        );
    }
}
