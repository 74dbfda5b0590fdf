//! Klarna's request validation (API.md §1.8, §1.9, §2.7–§2.12, §4), written over `serde_json::Value`.
//!
//! This is deliberately independent of `klarna-domain`: the simulator and the domain implement the
//! same rules separately so that each checks the other. Every refusal names the offending field
//! the way Klarna does (`order_lines[2].total_tax_amount`).

use serde_json::{Map, Value};

/// A refused field: rendered by the HTTP layer as `400 BAD_VALUE "Bad value: <field>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadValue(pub(crate) String);

/// Result of a validation step.
pub(crate) type Check = Result<(), BadValue>;

fn bad(field: impl Into<String>) -> BadValue {
    BadValue(field.into())
}

fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Which API's limits apply to order lines (they differ, API.md §9 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineLimits {
    /// Payments API v1.
    Payments,
    /// Customer Token API v1.
    CustomerToken,
    /// Order Management API v1.
    OrderManagement,
}

impl LineLimits {
    fn max_amount(self) -> i64 {
        match self {
            Self::Payments | Self::OrderManagement => 200_000_000,
            Self::CustomerToken => 100_000_000,
        }
    }
    fn max_reference(self) -> usize {
        match self {
            Self::CustomerToken => 256,
            Self::Payments | Self::OrderManagement => 255,
        }
    }
    fn max_merchant_data(self) -> usize {
        match self {
            Self::CustomerToken => 255,
            Self::Payments | Self::OrderManagement => 1024,
        }
    }
    fn max_quantity_unit(self) -> usize {
        match self {
            Self::OrderManagement => 10,
            Self::Payments | Self::CustomerToken => 8,
        }
    }
    fn min_name(self) -> usize {
        match self {
            Self::OrderManagement => 0,
            Self::Payments | Self::CustomerToken => 1,
        }
    }
    fn min_lines(self) -> usize {
        match self {
            Self::OrderManagement => 0,
            Self::Payments | Self::CustomerToken => 1,
        }
    }
}

/// Purchase country → (currency, locales), API.md §1.9.
const MARKETS: &[(&str, &str, &[&str])] = &[
    ("AU", "AUD", &["en-AU"]),
    ("AT", "EUR", &["de-AT", "en-AT"]),
    ("BE", "EUR", &["nl-BE", "fr-BE", "en-BE"]),
    ("CA", "CAD", &["en-CA", "fr-CA"]),
    ("CZ", "CZK", &["cs-CZ", "en-CZ"]),
    ("DK", "DKK", &["da-DK", "en-DK"]),
    ("FI", "EUR", &["fi-FI", "sv-FI", "en-FI"]),
    ("FR", "EUR", &["fr-FR", "en-FR"]),
    ("DE", "EUR", &["de-DE", "en-DE"]),
    ("GR", "EUR", &["el-GR", "en-GR"]),
    ("HU", "HUF", &["hu-HU", "en-HU"]),
    ("IE", "EUR", &["en-IE"]),
    ("IT", "EUR", &["it-IT", "en-IT"]),
    ("MX", "MXN", &["en-MX", "es-MX"]),
    ("NL", "EUR", &["nl-NL", "en-NL"]),
    ("NZ", "NZD", &["en-NZ"]),
    ("NO", "NOK", &["nb-NO", "en-NO"]),
    ("PL", "PLN", &["pl-PL", "en-PL"]),
    ("PT", "EUR", &["pt-PT", "en-PT"]),
    ("RO", "RON", &["ro-RO", "en-RO"]),
    ("SK", "EUR", &["sk-SK", "en-SK"]),
    ("ES", "EUR", &["es-ES", "en-ES"]),
    ("SE", "SEK", &["sv-SE", "en-SE"]),
    ("CH", "CHF", &["de-CH", "fr-CH", "it-CH", "en-CH"]),
    ("GB", "GBP", &["en-GB"]),
    ("US", "USD", &["en-US", "es-US"]),
];

/// Checks the country / currency / locale combination of §1.9. A missing locale is Klarna's
/// default `en-US`, which is only valid for the US.
pub(crate) fn check_market(country: &str, currency: &str, locale: Option<&str>) -> Check {
    let Some((_, cur, locales)) = MARKETS
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(country))
    else {
        return Err(bad("purchase_country"));
    };
    if !cur.eq_ignore_ascii_case(currency) {
        return Err(bad("purchase_currency"));
    }
    if let Some(locale) = locale
        && !locales.iter().any(|l| l.eq_ignore_ascii_case(locale))
    {
        return Err(bad("locale"));
    }
    Ok(())
}

fn is_alpha(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_locale_format(s: &str) -> bool {
    let mut parts = s.split('-');
    parts.next().is_some_and(|p| is_alpha(p, 2)) && parts.all(|p| is_alpha(p, 2))
}

/// Reads an optional integer field; present but not an integer → bad value.
pub(crate) fn opt_i64(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
) -> Result<Option<i64>, BadValue> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| bad(path(prefix, key))),
    }
}

/// Reads a required integer field.
pub(crate) fn req_i64(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<i64, BadValue> {
    opt_i64(obj, key, prefix)?.ok_or_else(|| bad(path(prefix, key)))
}

/// Reads an optional string field with a length range (in characters).
pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
    min: usize,
    max: usize,
) -> Result<Option<&'a str>, BadValue> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                Err(bad(path(prefix, key)))
            } else {
                Ok(Some(s.as_str()))
            }
        }
        Some(_) => Err(bad(path(prefix, key))),
    }
}

/// Reads a required string field with a length range.
pub(crate) fn req_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
    min: usize,
    max: usize,
) -> Result<&'a str, BadValue> {
    opt_str(obj, key, prefix, min, max)?.ok_or_else(|| bad(path(prefix, key)))
}

fn opt_obj<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a Map<String, Value>>, BadValue> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(bad(path(prefix, key))),
    }
}

fn opt_enum(obj: &Map<String, Value>, key: &str, prefix: &str, allowed: &[&str]) -> Check {
    if let Some(v) = opt_str(obj, key, prefix, 0, 255)?
        && !allowed.contains(&v)
    {
        return Err(bad(path(prefix, key)));
    }
    Ok(())
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Check {
    match obj.get(key) {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(_) => Err(bad(key)),
    }
}

/// Validates one order line (range checks first, then the arithmetic of §1.8).
pub(crate) fn check_line(line: &Value, index: usize, limits: LineLimits) -> Check {
    let prefix = format!("order_lines[{index}]");
    let Some(obj) = line.as_object() else {
        return Err(bad(prefix));
    };
    let p = prefix.as_str();
    let max = limits.max_amount();
    let mut types = vec![
        "physical",
        "discount",
        "shipping_fee",
        "sales_tax",
        "digital",
        "gift_card",
        "store_credit",
        "surcharge",
    ];
    if limits == LineLimits::OrderManagement {
        types.push("return_fee");
    }
    opt_enum(obj, "type", p, &types)?;
    opt_str(obj, "reference", p, 0, limits.max_reference())?;
    req_str(obj, "name", p, limits.min_name(), 255)?;
    let quantity = req_i64(obj, "quantity", p)?;
    if quantity < 0 {
        return Err(bad(path(p, "quantity")));
    }
    opt_str(obj, "quantity_unit", p, 1, limits.max_quantity_unit())?;
    let unit_price = req_i64(obj, "unit_price", p)?;
    if unit_price.unsigned_abs() > max.unsigned_abs() {
        return Err(bad(path(p, "unit_price")));
    }
    let tax_rate = opt_i64(obj, "tax_rate", p)?.unwrap_or(0);
    if !(0..=10_000).contains(&tax_rate) {
        return Err(bad(path(p, "tax_rate")));
    }
    let discount = opt_i64(obj, "total_discount_amount", p)?.unwrap_or(0);
    if !(0..=max).contains(&discount) {
        return Err(bad(path(p, "total_discount_amount")));
    }
    let total = req_i64(obj, "total_amount", p)?;
    if total.unsigned_abs() > max.unsigned_abs() {
        return Err(bad(path(p, "total_amount")));
    }
    let tax = opt_i64(obj, "total_tax_amount", p)?;
    if tax.is_some_and(|t| t.unsigned_abs() > max.unsigned_abs()) {
        return Err(bad(path(p, "total_tax_amount")));
    }
    opt_str(obj, "merchant_data", p, 0, limits.max_merchant_data())?;
    opt_str(obj, "product_url", p, 0, 1024)?;
    opt_str(obj, "image_url", p, 0, 1024)?;
    if let Some(ids) = opt_obj(obj, "product_identifiers", p)? {
        let ip = path(p, "product_identifiers");
        for (k, n) in [
            ("brand", 70),
            ("category_path", 750),
            ("global_trade_item_number", 50),
            ("manufacturer_part_number", 70),
            ("color", 64),
            ("size", 64),
        ] {
            opt_str(ids, k, &ip, 0, n)?;
        }
    }
    if let Some(sub) = opt_obj(obj, "subscription", p)? {
        let sp = path(p, "subscription");
        req_str(sub, "name", &sp, 1, 255)?;
        let interval = req_str(sub, "interval", &sp, 1, 10)?;
        if !["DAY", "WEEK", "MONTH", "YEAR"].contains(&interval) {
            return Err(bad(path(&sp, "interval")));
        }
        if req_i64(sub, "interval_count", &sp)? < 1 {
            return Err(bad(path(&sp, "interval_count")));
        }
    }
    // Arithmetic in i128: quantity × unit_price cannot overflow there.
    let expected_total = i128::from(quantity) * i128::from(unit_price) - i128::from(discount);
    if expected_total != i128::from(total) {
        return Err(bad(path(p, "total_amount")));
    }
    let is_sales_tax = obj.get("type").and_then(Value::as_str) == Some("sales_tax");
    if let Some(tax) = tax.filter(|_| !is_sales_tax) {
        let t = i128::from(total);
        let expected_tax = t - t * 10_000 / (10_000 + i128::from(tax_rate));
        if (i128::from(tax) - expected_tax).abs() > 1 {
            return Err(bad(path(p, "total_tax_amount")));
        }
    }
    Ok(())
}

/// Validates `order_lines` (count and each line) and returns (Σ total_amount, Σ tax) where the
/// tax sum counts a US `sales_tax` line without `total_tax_amount` by its `total_amount`.
pub(crate) fn check_lines(
    obj: &Map<String, Value>,
    limits: LineLimits,
    required: bool,
) -> Result<Option<(i128, i128)>, BadValue> {
    let lines = match obj.get("order_lines") {
        None | Some(Value::Null) if !required => return Ok(None),
        Some(Value::Array(a)) => a,
        _ => return Err(bad("order_lines")),
    };
    if lines.len() < limits.min_lines() || lines.len() > 1000 {
        return Err(bad("order_lines"));
    }
    let mut sum = 0i128;
    let mut tax_sum = 0i128;
    for (i, line) in lines.iter().enumerate() {
        check_line(line, i, limits)?;
        let total = line
            .get("total_amount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        sum += i128::from(total);
        // A US `sales_tax` line is the tax itself: it adds its total to the order's tax, and its
        // own tax fields carry nothing (API.md §1.8, US style).
        if line.get("type").and_then(Value::as_str) == Some("sales_tax") {
            tax_sum += i128::from(total);
        } else {
            tax_sum += i128::from(
                line.get("total_tax_amount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            );
        }
    }
    Ok(Some((sum, tax_sum)))
}

/// Validates an address object (Payments/CT §2.8, OM §4.6).
pub(crate) fn check_address(obj: &Map<String, Value>, key: &str) -> Check {
    let Some(addr) = opt_obj(obj, key, "")? else {
        return Ok(());
    };
    for (k, n) in [
        ("title", 20),
        ("given_name", 99),
        ("family_name", 99),
        ("organization_name", 255),
        ("attention", 255),
        ("email", 99),
        ("phone", 99),
        ("street_address", 99),
        ("street_address2", 99),
        ("postal_code", 10),
        ("city", 200),
        ("region", 200),
    ] {
        opt_str(addr, k, key, 0, n)?;
    }
    if let Some(c) = opt_str(addr, "country", key, 0, 2)?
        && !is_alpha(c, 2)
    {
        return Err(bad(path(key, "country")));
    }
    Ok(())
}

fn check_customer(obj: &Map<String, Value>) -> Check {
    let Some(c) = opt_obj(obj, "customer", "")? else {
        return Ok(());
    };
    if let Some(dob) = opt_str(c, "date_of_birth", "customer", 0, 10)? {
        let ok = dob.len() == 10
            && dob.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok {
            return Err(bad("customer.date_of_birth"));
        }
    }
    opt_enum(c, "type", "customer", &["person", "organization"])?;
    opt_enum(c, "gender", "customer", &["male", "female"])?;
    if let Some(ssn) = opt_str(c, "last_four_ssn", "customer", 0, 9)?
        && !((ssn.len() == 4 || ssn.len() == 9) && ssn.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("customer.last_four_ssn"));
    }
    Ok(())
}

fn check_merchant_fields(obj: &Map<String, Value>) -> Check {
    opt_str(obj, "merchant_reference1", "", 0, 255)?;
    opt_str(obj, "merchant_reference2", "", 0, 255)?;
    opt_str(obj, "merchant_data", "", 0, 6000)?;
    if let Some(urls) = opt_obj(obj, "merchant_urls", "")? {
        for k in ["confirmation", "notification", "push", "authorization"] {
            opt_str(urls, k, "merchant_urls", 0, 2000)?;
        }
    }
    Ok(())
}

fn check_attachment(obj: &Map<String, Value>) -> Check {
    let Some(att) = opt_obj(obj, "attachment", "")? else {
        return Ok(());
    };
    let ct = req_str(att, "content_type", "attachment", 1, 255)?;
    let body = req_str(att, "body", "attachment", 0, 100_000)?;
    if ct.is_empty() || serde_json::from_str::<Value>(body).is_err() {
        return Err(bad("attachment.attachment"));
    }
    Ok(())
}

fn check_options(obj: &Map<String, Value>) -> Check {
    let Some(o) = opt_obj(obj, "options", "")? else {
        return Ok(());
    };
    for k in [
        "color_border",
        "color_border_selected",
        "color_details",
        "color_text",
    ] {
        if let Some(c) = opt_str(o, k, "options", 0, 7)? {
            let ok = c.len() == 7
                && c.starts_with('#')
                && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(bad(path("options", k)));
            }
        }
    }
    opt_str(o, "radius_border", "options", 0, 255)?;
    Ok(())
}

/// Checks country, currency and locale formats and their combination.
fn check_market_fields(obj: &Map<String, Value>, locale_required: bool) -> Check {
    let country = req_str(obj, "purchase_country", "", 2, 2)?;
    if !is_alpha(country, 2) {
        return Err(bad("purchase_country"));
    }
    let currency = req_str(obj, "purchase_currency", "", 3, 3)?;
    if !is_alpha(currency, 3) {
        return Err(bad("purchase_currency"));
    }
    let locale = if locale_required {
        Some(req_str(obj, "locale", "", 2, 255)?)
    } else {
        opt_str(obj, "locale", "", 2, 255)?
    };
    if locale.is_some_and(|l| !is_locale_format(l)) {
        return Err(bad("locale"));
    }
    // Klarna defaults a missing locale to en-US (API.md §1.9); whether it then refuses e.g. an
    // SE session is undocumented, so a missing locale is not checked against the country.
    check_market(country, currency, locale)
}

/// Checks the order amounts against the line sums (exact, §1.8).
fn check_sums(
    obj: &Map<String, Value>,
    sums: Option<(i128, i128)>,
    min_amount: i64,
    tax_required: bool,
) -> Check {
    let amount = req_i64(obj, "order_amount", "")?;
    if amount < min_amount {
        return Err(bad("order_amount"));
    }
    let tax = if tax_required {
        Some(req_i64(obj, "order_tax_amount", "")?)
    } else {
        opt_i64(obj, "order_tax_amount", "")?
    };
    if tax.is_some_and(|t| t < 0) {
        return Err(bad("order_tax_amount"));
    }
    if let Some((sum, tax_sum)) = sums {
        if sum != i128::from(amount) {
            return Err(bad("order_amount"));
        }
        if let Some(t) = tax
            && tax_sum != i128::from(t)
        {
            return Err(bad("order_tax_amount"));
        }
    }
    Ok(())
}

/// Validates a full payment session (P1, and P3 after merging the update into the stored session).
pub(crate) fn check_session(obj: &Map<String, Value>) -> Check {
    opt_enum(
        obj,
        "acquiring_channel",
        "",
        &["ECOMMERCE", "IN_STORE", "TELESALES"],
    )?;
    opt_enum(obj, "intent", "", &["buy", "tokenize", "buy_and_tokenize"])?;
    check_market_fields(obj, false)?;
    let sums = check_lines(obj, LineLimits::Payments, true)?;
    check_sums(obj, sums, 0, false)?;
    check_address(obj, "billing_address")?;
    check_address(obj, "shipping_address")?;
    check_customer(obj)?;
    check_merchant_fields(obj)?;
    check_options(obj)?;
    check_attachment(obj)?;
    opt_str(obj, "design", "", 0, 255)?;
    Ok(())
}

/// Validates P5's `create_order_request`.
pub(crate) fn check_create_order(obj: &Map<String, Value>) -> Check {
    check_market_fields(obj, false)?;
    let sums = check_lines(obj, LineLimits::Payments, true)?;
    check_sums(obj, sums, 0, false)?;
    check_address(obj, "billing_address")?;
    check_address(obj, "shipping_address")?;
    check_customer(obj)?;
    check_merchant_fields(obj)?;
    opt_bool(obj, "auto_capture")?;
    Ok(())
}

/// Validates P6's `customer_token_creation_request`.
pub(crate) fn check_customer_token_request(obj: &Map<String, Value>) -> Check {
    check_market_fields(obj, true)?;
    req_str(obj, "description", "", 1, 255)?;
    let intended = req_str(obj, "intended_use", "", 1, 64)?;
    // The docs' example writes it lower-case (API.md §9 item 8); accept either casing.
    if !intended.eq_ignore_ascii_case("SUBSCRIPTION") {
        return Err(bad("intended_use"));
    }
    check_address(obj, "billing_address")?;
    check_customer(obj)?;
    Ok(())
}

/// Validates T2's `customer_token_order`.
pub(crate) fn check_token_order(obj: &Map<String, Value>, token_currency: &str) -> Check {
    let currency = req_str(obj, "purchase_currency", "", 3, 3)?;
    if !currency.eq_ignore_ascii_case(token_currency) {
        return Err(bad("purchase_currency"));
    }
    if let Some(l) = opt_str(obj, "locale", "", 2, 255)?
        && !is_locale_format(l)
    {
        return Err(bad("locale"));
    }
    let sums = check_lines(obj, LineLimits::CustomerToken, true)?;
    check_sums(obj, sums, 1, true)?;
    check_address(obj, "shipping_address")?;
    opt_str(obj, "merchant_reference1", "", 0, 255)?;
    opt_str(obj, "merchant_reference2", "", 0, 255)?;
    opt_str(obj, "merchant_data", "", 0, 6000)?;
    if let Some(urls) = opt_obj(obj, "merchant_urls", "")? {
        req_str(urls, "confirmation", "merchant_urls", 1, 2000)?;
        opt_str(urls, "push", "merchant_urls", 0, 2000)?;
    }
    check_attachment(obj)?;
    opt_bool(obj, "auto_capture")?;
    Ok(())
}

/// Validates a `shipping_info[]` array (OM).
pub(crate) fn check_shipping_info(obj: &Map<String, Value>, required: bool) -> Check {
    let infos = match obj.get("shipping_info") {
        None | Some(Value::Null) if !required => return Ok(()),
        Some(Value::Array(a)) => a,
        _ => return Err(bad("shipping_info")),
    };
    if infos.len() > 500 || (required && infos.is_empty()) {
        return Err(bad("shipping_info"));
    }
    for (i, info) in infos.iter().enumerate() {
        let p = format!("shipping_info[{i}]");
        let Some(o) = info.as_object() else {
            return Err(bad(p));
        };
        for (k, n) in [
            ("shipping_company", 100),
            ("tracking_number", 100),
            ("tracking_uri", 1024),
            ("return_shipping_company", 100),
            ("return_tracking_number", 100),
            ("return_tracking_uri", 1024),
        ] {
            opt_str(o, k, &p, 0, n)?;
        }
        opt_enum(
            o,
            "shipping_method",
            &p,
            &[
                "PickUpStore",
                "Home",
                "BoxReg",
                "BoxUnreg",
                "PickUpPoint",
                "Own",
                "Postal",
                "DHLPackstation",
                "Digital",
                "Undefined",
                "PickUpWarehouse",
                "ClickCollect",
                "PalletDelivery",
            ],
        )?;
    }
    Ok(())
}

/// Validates O2's `CaptureObject` / O5's `RefundObject` (`amount_field` names the amount).
pub(crate) fn check_capture_or_refund(
    obj: &Map<String, Value>,
    amount_field: &str,
) -> Result<i64, BadValue> {
    let amount = req_i64(obj, amount_field, "")?;
    if !(1..=200_000_000).contains(&amount) {
        return Err(bad(amount_field));
    }
    opt_str(obj, "reference", "", 0, 255)?;
    opt_str(obj, "description", "", 0, 255)?;
    check_lines(obj, LineLimits::OrderManagement, false)?;
    check_shipping_info(obj, false)?;
    if opt_i64(obj, "shipping_delay", "")?.is_some_and(|d| d < 0) {
        return Err(bad("shipping_delay"));
    }
    Ok(amount)
}

/// Validates O10's body and returns the new order amount.
pub(crate) fn check_update_authorization(obj: &Map<String, Value>) -> Result<i64, BadValue> {
    let amount = req_i64(obj, "order_amount", "")?;
    if !(0..=200_000_000).contains(&amount) {
        return Err(bad("order_amount"));
    }
    opt_str(obj, "description", "", 0, 255)?;
    if let Some((sum, _)) = check_lines(obj, LineLimits::OrderManagement, false)? {
        let has_lines = obj
            .get("order_lines")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if has_lines && sum != i128::from(amount) {
            return Err(bad("order_amount"));
        }
    }
    Ok(amount)
}

/// Validates O11's body.
pub(crate) fn check_merchant_references(obj: &Map<String, Value>) -> Check {
    opt_str(obj, "merchant_reference1", "", 0, 255)?;
    opt_str(obj, "merchant_reference2", "", 0, 255)?;
    Ok(())
}

/// Validates O12's body (`shipping_address` required).
pub(crate) fn check_customer_details(obj: &Map<String, Value>) -> Check {
    if !obj.get("shipping_address").is_some_and(Value::is_object) {
        return Err(bad("shipping_address"));
    }
    check_address(obj, "shipping_address")
}

/// Validates the shopper step's optional `billing_address` / `customer`.
pub(crate) fn check_shopper_data(obj: &Map<String, Value>) -> Check {
    check_address(obj, "billing_address")?;
    check_address(obj, "shipping_address")?;
    check_customer(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn worked_example_is_valid() {
        let s = obj(json!({
            "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
            "order_amount": 174_700, "order_tax_amount": 34_940,
            "order_lines": [
                {"name": "Shoe", "quantity": 2, "unit_price": 89_900, "tax_rate": 2500,
                 "total_amount": 169_800, "total_discount_amount": 10_000, "total_tax_amount": 33_960},
                {"name": "Ship", "quantity": 1, "unit_price": 4900, "tax_rate": 2500,
                 "total_amount": 4900, "total_tax_amount": 980}
            ]
        }));
        assert_eq!(check_session(&s), Ok(()));
    }

    #[test]
    fn us_sales_tax_line_counts_as_tax() {
        let s = obj(json!({
            "purchase_currency": "USD", "order_amount": 2711, "order_tax_amount": 212,
            "order_lines": [
                {"name": "Box", "quantity": 1, "unit_price": 2499, "tax_rate": 0,
                 "total_amount": 2499, "total_tax_amount": 0},
                {"type": "sales_tax", "name": "Sales Tax", "quantity": 1, "unit_price": 212, "total_amount": 212}
            ]
        }));
        assert_eq!(check_token_order(&s, "USD"), Ok(()));
    }

    #[test]
    fn sales_tax_line_with_zero_tax_fields_counts_its_total() {
        let s = obj(json!({
            "purchase_country": "US", "purchase_currency": "USD", "locale": "en-US",
            "order_amount": 2711, "order_tax_amount": 212,
            "order_lines": [
                {"name": "Box", "quantity": 1, "unit_price": 2499, "tax_rate": 0,
                 "total_amount": 2499, "total_tax_amount": 0},
                {"type": "sales_tax", "name": "Sales Tax", "quantity": 1, "unit_price": 212,
                 "tax_rate": 0, "total_amount": 212, "total_discount_amount": 0, "total_tax_amount": 0}
            ]
        }));
        assert_eq!(check_session(&s), Ok(()));
    }

    #[test]
    fn market_table() {
        assert_eq!(check_market("SE", "SEK", Some("sv-SE")), Ok(()));
        assert_eq!(
            check_market("SE", "EUR", Some("sv-SE")),
            Err(bad("purchase_currency"))
        );
        assert_eq!(check_market("SE", "SEK", Some("de-DE")), Err(bad("locale")));
        assert_eq!(
            check_market("XX", "SEK", None),
            Err(bad("purchase_country"))
        );
    }
}
