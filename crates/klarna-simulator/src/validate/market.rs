//! Markets (API.md §1.9): which currency and locales go with a purchase country, and the format
//! checks of country, currency and locale.

use serde_json::{Map, Value};

use super::{Check, bad, opt_str, req_str};

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

pub(super) fn is_alpha(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_alphabetic())
}

pub(super) fn is_locale_format(s: &str) -> bool {
    let mut parts = s.split('-');
    parts.next().is_some_and(|p| is_alpha(p, 2)) && parts.all(|p| is_alpha(p, 2))
}

/// Checks country, currency and locale formats and their combination.
pub(super) fn check_market_fields(obj: &Map<String, Value>, locale_required: bool) -> Check {
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
