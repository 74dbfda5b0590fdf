//! Klarna's request validation (API.md §1.8, §1.9, §2.7–§2.12, §4), written over `serde_json::Value`:
//! the field readers and one check per request; order lines, markets and the parts of a request
//! (addresses, customer, merchant fields, options, attachment) are in the submodules.
//!
//! This is deliberately independent of `klarna-domain`: the simulator and the domain implement the
//! same rules separately so that each checks the other. Every refusal names the offending field
//! the way Klarna does (`order_lines[2].total_tax_amount`).

mod lines;
mod market;
mod parts;

use serde_json::{Map, Value};

use lines::{LineLimits, check_lines};
#[cfg(test)]
use market::check_market;
use market::{check_market_fields, is_alpha, is_locale_format};
use parts::{
    AddressLimits, check_address, check_attachment, check_customer, check_merchant_fields,
    check_options,
};

/// A refused field: rendered as `400 BAD_VALUE "Bad value: <field>"` by the Payments and
/// Customer Token APIs and as `422 UNPROCESSABLE_ENTITY` (or `INVALID_ADDRESS`) by Order
/// Management (API.md §11.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadValue(pub(crate) String);

/// Result of a validation step.
pub(crate) type Check = Result<(), BadValue>;

pub(super) fn bad(field: impl Into<String>) -> BadValue {
    BadValue(field.into())
}

pub(super) fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
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

pub(super) fn opt_obj<'a>(
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

pub(super) fn opt_enum(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    allowed: &[&str],
) -> Check {
    if let Some(v) = opt_str(obj, key, prefix, 0, 255)?
        && !allowed.contains(&v)
    {
        return Err(bad(path(prefix, key)));
    }
    Ok(())
}

pub(super) fn opt_bool(obj: &Map<String, Value>, key: &str) -> Check {
    match obj.get(key) {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(_) => Err(bad(key)),
    }
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
    check_address(obj, "billing_address", AddressLimits::Payments)?;
    check_address(obj, "shipping_address", AddressLimits::Payments)?;
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
    check_address(obj, "billing_address", AddressLimits::Payments)?;
    check_address(obj, "shipping_address", AddressLimits::Payments)?;
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
    check_address(obj, "billing_address", AddressLimits::Payments)?;
    check_customer(obj)?;
    Ok(())
}

/// Validates T2's `customer_token_order` (the format of `purchase_currency`; whether the
/// token's payment method takes that currency is the engine's `403`, not a bad value).
pub(crate) fn check_token_order(obj: &Map<String, Value>) -> Check {
    let currency = req_str(obj, "purchase_currency", "", 3, 3)?;
    if !is_alpha(currency, 3) {
        return Err(bad("purchase_currency"));
    }
    if let Some(l) = opt_str(obj, "locale", "", 2, 255)?
        && !is_locale_format(l)
    {
        return Err(bad("locale"));
    }
    let sums = check_lines(obj, LineLimits::CustomerToken, true)?;
    check_sums(obj, sums, 1, true)?;
    check_address(obj, "shipping_address", AddressLimits::Payments)?;
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
    if let Some((sum, _)) = check_lines(obj, LineLimits::OrderManagement, false)? {
        let lines = obj
            .get("order_lines")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        // A return fee is kept from a refund; a capture has nothing to keep it from.
        if amount_field == "captured_amount"
            && let Some(i) = lines
                .iter()
                .position(|l| l.get("type").and_then(Value::as_str) == Some("return_fee"))
        {
            return Err(bad(format!("order_lines[{i}].type")));
        }
        // Klarna requires the lines of a return-fee refund to add up to the amount (API.md
        // §4.3); pessimistic: every capture's and refund's lines must.
        if !lines.is_empty() && sum != i128::from(amount) {
            return Err(bad(amount_field));
        }
    }
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
    check_address(obj, "shipping_address", AddressLimits::OrderManagement)
}

/// Validates the shopper step's optional `billing_address` / `customer`.
pub(crate) fn check_shopper_data(obj: &Map<String, Value>) -> Check {
    check_address(obj, "billing_address", AddressLimits::Payments)?;
    check_address(obj, "shipping_address", AddressLimits::Payments)?;
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
        assert_eq!(check_token_order(&s), Ok(()));
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
