//! JavaScript snippets for Klarna's SDK (`Klarna.Payments.init/load/authorize/finalize`, API.md §5 and §11.10), every interpolated value JSON-escaped and safe inside a `<script>` element.
//!
//! Each function answers a statement to put inside `<script>` after Klarna's SDK loaded
//! (`https://x.klarnacdn.net/kp/lib/v1/api.js`). [`authorize`] and [`finalize`] post the
//! token to the routes' complete endpoint with the payment secret, and announce the outcome as
//! a `klarna:complete` event on `document` (`detail`: the endpoint's JSON and `ok`; `ok:
//! false` with `error: "unreachable"` when the endpoint could not be reached or did not answer
//! JSON: the payment may have completed, and posting the token again is safe), or
//! `klarna:declined` (`detail`: Klarna's answer, `show_form` and `error.invalid_fields`), or
//! `klarna:finalize_required`; [`load`] announces `klarna:loaded` or `klarna:declined`.
//!
//! ```
//! use klarna_axum::js;
//!
//! let script = js::init("eyJ...</script><script>alert(1)//");
//! assert!(!script.contains("</script>"));
//! ```

use serde::Serialize;

/// `value` as a JavaScript literal: JSON, with `<`, `>`, `&`, U+2028 and U+2029 escaped, so
/// the text can neither end the `<script>` element nor break a JavaScript string.
#[must_use]
pub fn literal<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing plain data cannot fail; `null` is the safe answer if it ever did.
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            // Outside strings JSON has none of these characters, so escaping them as string
            // escapes keeps the value the same.
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `Klarna.Payments.init({client_token})`: the mandatory first call.
#[must_use]
pub fn init(client_token: &str) -> String {
    format!(
        "Klarna.Payments.init({{client_token: {}}});",
        literal(client_token)
    )
}

/// `Klarna.Payments.load({container, payment_method_category}, {}, cb)`: renders the widget
/// into `container` (a CSS selector). The answer is announced as `klarna:loaded` (`show_form:
/// true`, the shopper may authorize) or `klarna:declined` (`show_form: false`), `detail`
/// Klarna's answer.
#[must_use]
pub fn load(container: &str, payment_method_category: &str) -> String {
    format!(
        "Klarna.Payments.load({{container: {}, payment_method_category: {}}}, {{}}, function (res) {{ \
         document.dispatchEvent(new CustomEvent(res.show_form ? 'klarna:loaded' : 'klarna:declined', {{detail: res}})); }});",
        literal(container),
        literal(payment_method_category)
    )
}

/// Where [`authorize`] and [`finalize`] send the token.
#[derive(Clone, Copy, Debug)]
pub struct Completion<'a> {
    /// The complete endpoint of the payment (`/klarna/payments/{id}/complete`).
    pub complete_url: &'a str,
    /// The payment's secret, as `POST /payments` answered it.
    pub payment_secret: &'a str,
    /// The category the widget loaded (`pay_later`, `klarna`).
    pub payment_method_category: &'a str,
}

/// The callback shared by `authorize` and `finalize`: post the token, or announce why not.
fn callback(c: &Completion<'_>) -> String {
    format!(
        "function (res) {{ \
         if (res.approved && res.authorization_token) {{ \
         fetch({url}, {{method: 'POST', credentials: 'same-origin', \
         headers: {{'Content-Type': 'application/json', {header}: {secret}}}, \
         body: JSON.stringify({{authorization_token: res.authorization_token}})}}) \
         .then(function (r) {{ return r.json().then(function (body) {{ \
         document.dispatchEvent(new CustomEvent('klarna:complete', {{detail: {{ok: r.ok, body: body}}}})); }}); }}) \
         .catch(function () {{ document.dispatchEvent(new CustomEvent('klarna:complete', {{detail: {{ok: false, \
         body: {{error: 'unreachable', message: 'the shop did not answer'}}}}}})); }}); \
         }} else if (res.finalize_required) {{ \
         document.dispatchEvent(new CustomEvent('klarna:finalize_required', {{detail: res}})); \
         }} else {{ \
         document.dispatchEvent(new CustomEvent('klarna:declined', {{detail: res}})); \
         }} }}",
        url = literal(c.complete_url),
        header = literal(crate::PAYMENT_SECRET_HEADER),
        secret = literal(c.payment_secret),
    )
}

/// `Klarna.Payments.authorize({payment_method_category, auto_finalize}, data, cb)` when the
/// shopper clicks Buy. `data` is what Klarna takes there (`billing_address`, `customer`, …;
/// `serde_json::json!({})` for nothing); `auto_finalize: false` defers the token to
/// [`finalize`] for the categories that answer `finalize_required` (API.md §11.10).
#[must_use]
pub fn authorize<D: Serialize + ?Sized>(
    c: &Completion<'_>,
    data: &D,
    auto_finalize: bool,
) -> String {
    let finalize = if auto_finalize {
        ""
    } else {
        ", auto_finalize: false"
    };
    format!(
        "Klarna.Payments.authorize({{payment_method_category: {}{finalize}}}, {}, {});",
        literal(c.payment_method_category),
        literal(data),
        callback(c)
    )
}

/// `Klarna.Payments.finalize({payment_method_category}, data, cb)`: the browser's step after
/// `finalize_required`, before the token goes to the complete endpoint.
#[must_use]
pub fn finalize<D: Serialize + ?Sized>(c: &Completion<'_>, data: &D) -> String {
    format!(
        "Klarna.Payments.finalize({{payment_method_category: {}}}, {}, {});",
        literal(c.payment_method_category),
        literal(data),
        callback(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_leave_the_string_or_the_script() {
        let evil = "x</script><script>alert(1)</script>\u{2028}'\"&";
        for s in [
            init(evil),
            load(evil, evil),
            authorize(
                &Completion {
                    complete_url: evil,
                    payment_secret: evil,
                    payment_method_category: evil,
                },
                &serde_json::json!({"customer": {"note": evil}}),
                false,
            ),
        ] {
            assert!(!s.contains("</"), "{s}");
            assert!(!s.contains('<'), "{s}");
            assert!(!s.contains('\u{2028}'), "{s}");
            assert!(!s.contains("\"&"), "{s}");
        }
        // The escaped literal is still the same value as JSON.
        let back: String = serde_json::from_str(&literal(evil)).unwrap_or_default();
        assert_eq!(back, evil);
    }

    #[test]
    fn authorize_posts_the_token_with_the_secret() {
        let s = authorize(
            &Completion {
                complete_url: "/klarna/payments/p-1/complete",
                payment_secret: "abc123",
                payment_method_category: "pay_later",
            },
            &serde_json::json!({}),
            true,
        );
        assert!(s.starts_with("Klarna.Payments.authorize({payment_method_category: \"pay_later\"}, {}, function (res)"), "{s}");
        assert!(s.contains("fetch(\"/klarna/payments/p-1/complete\""), "{s}");
        assert!(s.contains("\"x-payment-secret\": \"abc123\""), "{s}");
        assert!(!s.contains("auto_finalize"), "{s}");
        let f = finalize(
            &Completion {
                complete_url: "/c",
                payment_secret: "s",
                payment_method_category: "pay_now",
            },
            &serde_json::json!({}),
        );
        assert!(
            f.starts_with("Klarna.Payments.finalize({payment_method_category: \"pay_now\"}"),
            "{f}"
        );
    }
}
