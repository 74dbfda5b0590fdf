//! The parts of a request other than the cart: addresses, customer, merchant fields, widget
//! options and the attachment.

use serde_json::{Map, Value};

use super::market::is_alpha;
use super::{Check, bad, opt_enum, opt_obj, opt_str, path, req_str};

/// Which API's address limits apply: Payments and Customer Token cap every text field at 99
/// characters (title 20, postal code 10); Order Management allows more (API.md §11.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressLimits {
    /// Payments API v1 and Customer Token API v1 (`address` in payments-v1.yml).
    Payments,
    /// Order Management API v1 (`address` in order-management-v1.yml).
    OrderManagement,
}

impl AddressLimits {
    fn fields(self) -> [(&'static str, usize); 12] {
        match self {
            Self::Payments => [
                ("title", 20),
                ("given_name", 99),
                ("family_name", 99),
                ("organization_name", 99),
                ("attention", 99),
                ("email", 99),
                ("phone", 99),
                ("street_address", 99),
                ("street_address2", 99),
                ("postal_code", 10),
                ("city", 99),
                ("region", 99),
            ],
            Self::OrderManagement => [
                ("title", 20),
                ("given_name", 100),
                ("family_name", 100),
                ("organization_name", 255),
                ("attention", 255),
                ("email", 100),
                ("phone", 100),
                ("street_address", 100),
                ("street_address2", 100),
                ("postal_code", 10),
                ("city", 200),
                ("region", 200),
            ],
        }
    }
}

/// Validates an address object (Payments/CT §2.8, OM §4.6) with `limits`.
pub(crate) fn check_address(obj: &Map<String, Value>, key: &str, limits: AddressLimits) -> Check {
    let Some(addr) = opt_obj(obj, key, "")? else {
        return Ok(());
    };
    for (k, n) in limits.fields() {
        opt_str(addr, k, key, 0, n)?;
    }
    if let Some(c) = opt_str(addr, "country", key, 0, 2)?
        && !is_alpha(c, 2)
    {
        return Err(bad(path(key, "country")));
    }
    Ok(())
}

pub(super) fn check_customer(obj: &Map<String, Value>) -> Check {
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

pub(super) fn check_merchant_fields(obj: &Map<String, Value>) -> Check {
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

pub(super) fn check_attachment(obj: &Map<String, Value>) -> Check {
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

pub(super) fn check_options(obj: &Map<String, Value>) -> Check {
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
