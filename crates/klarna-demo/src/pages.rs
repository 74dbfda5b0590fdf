//! The demo shop's pages: server-rendered HTML strings, no front-end build step. Elements the
//! browser test uses have stable ids.

use std::fmt::Write as _;

use klarna_axum::js;
use klarna_payments::{AnyPayment, Cart, ManagedOrder};

use crate::catalog::{PRODUCTS, sek};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Encodes a value for a URL query (`?msg=...`).
pub(crate) fn query_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#17120f}\
nav a{margin-right:1rem}h1{font-size:1.6rem}table{border-collapse:collapse;width:100%;font-size:.85rem}\
td,th{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;vertical-align:top}\
.card{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:.5rem 0}.money{font-variant-numeric:tabular-nums}\
.msg{background:#e9f7ef;border:1px solid #7bc99a;padding:.6rem;border-radius:6px}\
.err{background:#fdecea;border:1px solid #e57373;padding:.6rem;border-radius:6px}\
button{background:#ffb3c7;border:0;border-radius:6px;padding:.5rem 1rem;font-weight:600;cursor:pointer}\
button:disabled{opacity:.5}input[type=number]{width:4rem}.muted{color:#666;font-size:.85rem}form.inline{display:inline}";

/// The hidden field that carries the client's CSRF token in every form.
fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        crate::csrf::FIELD,
        esc(token)
    )
}

/// The page frame.
pub(crate) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Klarna demo shop</title>\
<style>{STYLE}</style></head><body><nav><a id=\"nav-shop\" href=\"/\">Shop</a><a id=\"nav-admin\" href=\"/admin\">Admin</a></nav>\
<h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

/// An error page: what went wrong and what was (not) lost.
pub(crate) fn error(title: &str, message: &str, next: Option<(&str, &str)>) -> String {
    let mut body = format!("<p id=\"error\" class=\"err\">{}</p>", esc(message));
    if let Some((href, label)) = next {
        let _ = write!(
            body,
            "<p><a id=\"error-next\" href=\"{}\">{}</a></p>",
            esc(href),
            esc(label)
        );
    }
    layout(title, &body)
}

/// The cart page: one-time products and the subscription.
pub(crate) fn home(simulator: bool, csrf: &str) -> String {
    let csrf = csrf_field(csrf);
    let mut body = String::from("<p class=\"muted\">A demo shop for the Klarna Payments toolkit. ");
    body.push_str(if simulator {
        "Klarna is the in-process simulator: no real money, no real credit check.</p>"
    } else {
        "Klarna is the playground: test data only.</p>"
    });
    let _ = write!(
        body,
        "<form id=\"cart-form\" method=\"post\" action=\"/checkout\">{csrf}<div id=\"cart\">"
    );
    for p in PRODUCTS.iter().filter(|p| !p.subscription) {
        let _ = write!(
            body,
            "<div class=\"card\" id=\"product-{sku}\"><strong>{name}</strong> <span class=\"money\">{price}</span> \
<label>Quantity <input type=\"number\" min=\"0\" max=\"99\" id=\"qty-{sku}\" name=\"qty-{sku}\" value=\"{qty}\"></label>\
<input type=\"hidden\" name=\"price-{sku}\" value=\"{minor}\"></div>",
            sku = p.sku,
            name = esc(p.name),
            price = sek(p.unit_price),
            qty = i32::from(p.sku == "shoe"),
            minor = p.unit_price,
        );
    }
    body.push_str("</div><button id=\"checkout-button\" type=\"submit\">Check out with Klarna</button></form>");
    for p in PRODUCTS.iter().filter(|p| p.subscription) {
        let _ = write!(
            body,
            "<h2>Subscription</h2><form id=\"subscribe-form\" method=\"post\" action=\"/subscribe\">{csrf}<div class=\"card\" id=\"product-{sku}\">\
<strong>{name}</strong> <span class=\"money\">{price} per month</span>\
<input type=\"hidden\" name=\"price-{sku}\" value=\"{minor}\">\
<p class=\"muted\">Authorize once with Klarna (intent <code>tokenize</code>); the shop charges the first month now and can charge again later without you.</p>\
<button id=\"subscribe-button\" type=\"submit\">Subscribe with Klarna</button></div></form>",
            sku = p.sku,
            name = esc(p.name),
            price = sek(p.unit_price),
            minor = p.unit_price,
            csrf = csrf,
        );
    }
    layout("Shop", &body)
}

fn cart_table(cart: &Cart) -> String {
    let mut t = String::from(
        "<table id=\"cart-lines\"><tr><th>item</th><th>qty</th><th>price</th><th>total</th></tr>",
    );
    for l in cart.lines() {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td class=\"money\">{}</td><td class=\"money\">{}</td></tr>",
            esc(l.name()),
            l.quantity(),
            sek(l.unit_price()),
            sek(l.total_amount())
        );
    }
    let _ = write!(
        t,
        "<tr><th colspan=\"3\">Total (VAT {})</th><th id=\"cart-total\" class=\"money\">{}</th></tr></table>",
        sek(cart.order_tax_amount()),
        cart.total()
    );
    t
}

/// Everything the checkout page needs.
pub(crate) struct CheckoutView<'a> {
    pub(crate) payment_id: &'a str,
    pub(crate) intent: &'a str,
    pub(crate) cart: &'a Cart,
    pub(crate) client_token: &'a str,
    /// The payment method categories Klarna offered for this session (at least one).
    pub(crate) categories: &'a [String],
    pub(crate) sdk_url: &'a str,
    /// The payment's secret for the Klarna routes' complete endpoint.
    pub(crate) payment_secret: &'a str,
}

/// A shopper-facing name for a payment method category identifier Klarna offers.
fn category_label(identifier: &str) -> &str {
    match identifier {
        "klarna" => "Pay later with Klarna",
        "pay_later" => "Pay later",
        "pay_now" => "Pay now (bank transfer)",
        "pay_over_time" => "Pay in parts or finance",
        "direct_debit" => "Direct debit",
        "direct_bank_transfer" => "Bank transfer",
        other => other,
    }
}

/// The calls of `klarna-axum`'s snippets for each category the session offers:
/// `calls[category].load()`, `.authorize()`, `.finalize()`.
fn klarna_calls(v: &CheckoutView<'_>, complete_url: &str) -> String {
    let mut out = String::from("var calls={};");
    for c in v.categories {
        let completion = js::Completion {
            complete_url,
            payment_secret: v.payment_secret,
            payment_method_category: c,
        };
        let _ = write!(
            out,
            "calls[{key}]={{load:function(){{{load}}},authorize:function(){{{authorize}}},finalize:function(){{{finalize}}}}};",
            key = js::literal(c),
            load = js::load("#klarna-payments-container", c),
            authorize = js::authorize(&completion, &serde_json::json!({}), false),
            finalize = js::finalize(&completion, &serde_json::json!({})),
        );
    }
    out
}

/// The checkout page: loads Klarna's SDK the way Klarna's loader does (`async`, starting in
/// `window.klarnaAsyncCallback`), then `klarna-axum`'s snippets: `init` → `load` for the chosen
/// category → `authorize` with `auto_finalize: false`; when Klarna answers
/// `finalize_required`, the shopper reviews the order and confirms, which calls `finalize`.
/// The snippet posts the `authorization_token` with the payment's secret to the Klarna
/// routes (`/klarna/payments/{id}/complete`), and the page follows to the confirmation. A
/// fixable decline names the fields to correct; a shopper who closes Klarna's window may
/// simply try again.
pub(crate) fn checkout(v: &CheckoutView<'_>) -> String {
    let mut body = format!(
        "<p class=\"muted\">Payment <code id=\"payment-id\">{pid}</code> · intent <code>{intent}</code></p>{cart}",
        pid = esc(v.payment_id),
        intent = esc(v.intent),
        cart = cart_table(v.cart),
    );
    if v.categories.len() > 1 {
        body.push_str("<fieldset id=\"klarna-categories\" class=\"card\"><legend>How would you like to pay?</legend>");
        for (i, c) in v.categories.iter().enumerate() {
            let _ = write!(
                body,
                "<label><input type=\"radio\" name=\"klarna-category\" id=\"category-{c}\" value=\"{c}\"{checked}> {label}</label> ",
                c = esc(c),
                checked = if i == 0 { " checked" } else { "" },
                label = esc(category_label(c)),
            );
        }
        body.push_str("</fieldset>");
    }
    let complete_url = format!("/klarna/payments/{}/complete", v.payment_id);
    let _ = write!(
        body,
        "<div id=\"klarna-payments-container\" class=\"card\"></div><p id=\"klarna-status\" class=\"muted\" role=\"status\">Loading Klarna…</p>\
<p id=\"klarna-error\" class=\"err\" role=\"alert\" hidden></p>\
<button id=\"authorize-button\" type=\"button\" disabled>Pay with Klarna</button>\
<div id=\"klarna-review\" class=\"card\" hidden><p id=\"review-text\">Klarna approved your payment method. Check your order above, then confirm the purchase.</p>\
<button id=\"finalize-button\" type=\"button\">Confirm and pay</button></div>\
<script>\
(function(){{\
var categories={categories};\
var category=categories[0];\
var done={done};\
var phase='load';\
{calls}\
var button=document.getElementById('authorize-button');\
var review=document.getElementById('klarna-review');\
var confirmButton=document.getElementById('finalize-button');\
var status=document.getElementById('klarna-status');\
var error=document.getElementById('klarna-error');\
function fail(text){{error.textContent=text;error.hidden=false;}}\
function again(){{if(review.hidden){{button.disabled=false;}}else{{confirmButton.disabled=false;}}}}\
function load(){{\
phase='load';button.disabled=true;review.hidden=true;status.textContent='Loading Klarna…';\
try{{calls[category].load();}}catch(e){{fail('Klarna could not load: '+e.name);}}\
}}\
document.addEventListener('klarna:loaded',function(){{status.textContent='Klarna is ready';button.disabled=false;}});\
document.addEventListener('klarna:finalize_required',function(){{\
status.textContent='Approved: review your order, then confirm';review.hidden=false;confirmButton.disabled=false;\
}});\
document.addEventListener('klarna:complete',function(e){{\
var d=e.detail||{{}};\
if(d.ok){{status.textContent='Approved, order placed';window.location.assign(done);return;}}\
if(d.body&&d.body.error==='reauthorize'){{fail('The approval from Klarna has expired: please pay with Klarna again. Nothing was charged.');load();return;}}\
fail('The payment could not be completed: '+((d.body&&d.body.message)||'try again')+'. Nothing was charged twice.');again();\
}});\
document.addEventListener('klarna:declined',function(e){{\
var res=e.detail||{{}};\
if(phase==='load'){{status.textContent='Klarna is not available for this purchase';return;}}\
var fields=(res.error&&res.error.invalid_fields)||[];\
if(!res.show_form){{\
review.hidden=true;button.disabled=true;\
fail('Klarna declined this payment. Nothing was charged; please choose another way to pay.');\
}}else if(fields.length){{\
fail('Klarna could not approve this payment. Please correct '+fields.join(', ')+' and try again.');again();\
}}else if(res.error&&res.error.message){{\
fail('Klarna could not approve this payment: '+res.error.message+'.');again();\
}}else{{\
error.hidden=true;status.textContent='You closed Klarna. Nothing was charged; pay when you are ready.';again();\
}}\
}});\
window.klarnaAsyncCallback=function(){{\
try{{{init}}}catch(e){{fail('Klarna could not start: '+e.name);return;}}\
load();\
}};\
var radios=document.getElementsByName('klarna-category');\
for(var i=0;i<radios.length;i++){{radios[i].addEventListener('change',function(){{category=this.value;error.hidden=true;load();}});}}\
button.addEventListener('click',function(){{\
phase='authorize';button.disabled=true;error.hidden=true;\
try{{calls[category].authorize();}}catch(e){{fail('Klarna could not authorize: '+e.name);button.disabled=false;}}\
}});\
confirmButton.addEventListener('click',function(){{\
phase='finalize';confirmButton.disabled=true;error.hidden=true;\
try{{calls[category].finalize();}}catch(e){{fail('Klarna could not finalize: '+e.name);confirmButton.disabled=false;}}\
}});\
}})();\
</script>\
<script src=\"{sdk}\" async></script>",
        sdk = esc(v.sdk_url),
        categories = js::literal(v.categories),
        done = js::literal(&format!("/payments/{}", v.payment_id)),
        calls = klarna_calls(v, &complete_url),
        init = js::init(v.client_token),
    );
    layout("Checkout", &body)
}

/// One subscription charge, for the confirmation page.
pub(crate) struct ChargeView {
    pub(crate) id: String,
    pub(crate) stage: String,
    pub(crate) order: String,
    pub(crate) amount: String,
}

/// What the confirmation page shows.
pub(crate) struct PaymentView<'a> {
    pub(crate) payment: &'a AnyPayment,
    pub(crate) charges: &'a [ChargeView],
    pub(crate) next_charge_id: Option<String>,
    pub(crate) message: Option<&'a str>,
    /// The client's CSRF token, for the "charge again" form.
    pub(crate) csrf: &'a str,
}

/// The confirmation page (and the subscription page with "charge again").
pub(crate) fn payment(v: &PaymentView<'_>) -> String {
    let p = v.payment;
    let mut body = String::new();
    if let Some(m) = v.message {
        let _ = write!(body, "<p id=\"charge-result\" class=\"msg\">{}</p>", esc(m));
    }
    let headline = match p.kind().as_str() {
        "ordered" => "Thank you! Your order is placed.",
        "tokenized" => "Your subscription is set up.",
        "fraud_review" => "Thank you! Your order is being reviewed by Klarna.",
        "stopped" => "Klarna has put this order on hold; we will contact you.",
        "order_pending" | "token_pending" => {
            "We are confirming your order with Klarna; this page will show the result. Do not pay again."
        }
        "cancelled" => "This payment was cancelled.",
        _ => "Payment status",
    };
    let _ = write!(
        body,
        "<div id=\"confirmation\" class=\"card\"><p><strong>{}</strong></p><table>\
<tr><th>payment</th><td id=\"payment-id\">{}</td></tr>\
<tr><th>stage</th><td id=\"payment-stage\">{}</td></tr>\
<tr><th>amount</th><td id=\"payment-amount\" class=\"money\">{}</td></tr>",
        esc(headline),
        esc(p.id().as_str()),
        esc(p.kind().as_str()),
        p.cart().total(),
    );
    if let Some(o) = p.order_id() {
        let _ = write!(
            body,
            "<tr><th>Klarna order</th><td id=\"order-id\">{}</td></tr>",
            esc(o.as_str())
        );
    }
    if p.customer_token().is_some() {
        body.push_str("<tr><th>customer token</th><td id=\"customer-token\">stored (encrypted at rest, never shown)</td></tr>");
    }
    body.push_str("</table>");
    body.push_str(&cart_table(p.cart()));
    body.push_str("</div>");
    if p.customer_token().is_some() {
        body.push_str("<h2>Charges</h2><table id=\"charges\"><tr><th>charge</th><th>stage</th><th>Klarna order</th><th>amount</th></tr>");
        for c in v.charges {
            let _ = write!(
                body,
                "<tr class=\"charge\" id=\"charge-{id}\"><td>{id}</td><td>{stage}</td><td>{order}</td><td class=\"money\">{amount}</td></tr>",
                id = esc(&c.id),
                stage = esc(&c.stage),
                order = esc(&c.order),
                amount = esc(&c.amount),
            );
        }
        body.push_str("</table>");
        if let Some(next) = &v.next_charge_id {
            let _ = write!(
                body,
                "<form id=\"charge-form\" method=\"post\" action=\"/subscriptions/{pid}/charge\">{csrf}\
<input type=\"hidden\" name=\"charge_id\" value=\"{next}\">\
<button id=\"charge-again-button\" type=\"submit\">Charge the next month</button>\
<span class=\"muted\"> Charge id <code>{next}</code>: submitting twice charges once.</span></form>",
                pid = esc(p.id().as_str()),
                next = esc(next),
                csrf = csrf_field(v.csrf),
            );
        }
    }
    layout("Your payment", &body)
}

/// One row of the admin page.
pub(crate) struct AdminRow {
    pub(crate) payment: AnyPayment,
    pub(crate) order: Option<ManagedOrder>,
}

/// A time as `YYYY-MM-DD HH:MM UTC` (the civil calendar from days since the epoch, integers only).
fn utc(t: klarna_payments::domain::Timestamp) -> String {
    let secs = t.unix_millis().div_euclid(1_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

/// The admin page: every payment with stage, amounts and Klarna ids, and buttons.
pub(crate) fn admin(
    review: &[AnyPayment],
    rows: &[AdminRow],
    message: Option<&str>,
    error: Option<&str>,
    csrf: &str,
) -> String {
    let csrf = csrf_field(csrf);
    let mut body = String::new();
    if let Some(m) = message {
        let _ = write!(body, "<p id=\"message\" class=\"msg\">{}</p>", esc(m));
    }
    if let Some(e) = error {
        let _ = write!(body, "<p id=\"error\" class=\"err\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<form class=\"inline\" method=\"post\" action=\"/admin/logout\">{csrf}<button id=\"logout-button\" type=\"submit\">Log out</button></form>"
    );
    review_queue(&mut body, review, &csrf);
    body.push_str("<h2>Payments</h2>");
    body.push_str(
        "<table id=\"admin-payments\"><tr><th>payment</th><th>intent</th><th>stage</th><th>amount</th>\
<th>Klarna order</th><th>order status</th><th>captured</th><th>refunded</th><th>actions</th></tr>",
    );
    for r in rows {
        let p = &r.payment;
        let pid = esc(p.id().as_str());
        let currency = p.cart().market().currency();
        let m = |minor: i64| klarna_payments::Money::new(minor, currency).to_string();
        let (status, captured, refunded) = match &r.order {
            Some(o) => (
                o.status().as_str().to_owned(),
                m(o.captured()),
                m(o.refunded()),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let mut actions = String::new();
        // Klarna stopped the order: nothing ships (no capture button); cancel or contact Klarna.
        let stopped = if let klarna_payments::AnyPayment::Stopped(s) = p {
            Some(s.reply_by())
        } else {
            None
        };
        if let Some(reply_by) = stopped {
            let _ = write!(
                actions,
                "<span id=\"stopped-{pid}\" class=\"err\">Stopped by Klarna: do not ship; cancel the order or reply to Klarna before {}</span> ",
                utc(reply_by)
            );
        }
        if let Some(o) = &r.order {
            let oid = esc(o.order_id().as_str());
            if stopped.is_none() && o.status().capturable() && o.remaining() > 0 {
                let _ = write!(
                    actions,
                    "<form class=\"inline\" method=\"post\" action=\"/admin/orders/{oid}/capture\">{csrf}\
<input id=\"capture-carrier-{pid}\" name=\"shipping_company\" size=\"10\" placeholder=\"carrier\" aria-label=\"shipping company\">\
<input id=\"capture-tracking-{pid}\" name=\"tracking_number\" size=\"10\" placeholder=\"tracking no.\" aria-label=\"tracking number\">\
<button id=\"capture-{pid}\" type=\"submit\">Capture {}</button></form> ",
                    m(o.remaining())
                );
            }
            if o.captured() > o.refunded() {
                let _ = write!(
                    actions,
                    "<form class=\"inline\" method=\"post\" action=\"/admin/orders/{oid}/refund\">{csrf}\
<input id=\"refund-amount-{pid}\" name=\"amount\" size=\"7\" value=\"{}\" aria-label=\"refund amount\">\
<button id=\"refund-{pid}\" type=\"submit\">Refund</button></form> ",
                    klarna_payments::Money::new(o.captured() - o.refunded(), currency)
                        .to_string()
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                );
            }
            if o.captured() == 0 && o.status().capturable() {
                let _ = write!(
                    actions,
                    "<form class=\"inline\" method=\"post\" action=\"/admin/orders/{oid}/cancel\">{csrf}\
<button id=\"cancel-{pid}\" type=\"submit\">Cancel order</button></form>"
                );
            }
        } else if matches!(p.kind().as_str(), "open" | "authorized") {
            if p.kind().as_str() == "authorized" {
                // Authorized through Klarna's callback while the shopper's browser went away.
                let _ = write!(
                    actions,
                    "<form class=\"inline\" method=\"post\" action=\"/admin/payments/{pid}/complete\">{csrf}\
<button id=\"complete-{pid}\" type=\"submit\">Place order</button></form> "
                );
            }
            let _ = write!(
                actions,
                "<form class=\"inline\" method=\"post\" action=\"/admin/payments/{pid}/cancel\">{csrf}\
<button id=\"cancel-{pid}\" type=\"submit\">Cancel</button></form>"
            );
        }
        let _ = write!(
            body,
            "<tr id=\"payment-{pid}\"><td><a href=\"/payments/{pid}\">{pid}</a></td><td>{intent}</td>\
<td class=\"stage\">{stage}</td><td class=\"money\">{amount}</td><td class=\"order\">{order}</td><td class=\"order-status\">{status}</td>\
<td class=\"captured money\">{captured}</td><td class=\"refunded money\">{refunded}</td><td>{actions}</td></tr>",
            intent = p.intent().as_str(),
            stage = esc(p.kind().as_str()),
            amount = p.cart().total(),
            order = p.order_id().map(|o| esc(o.as_str())).unwrap_or_default(),
            status = esc(&status),
        );
        if let Some(o) = &r.order {
            ledger(&mut body, p.id().as_str(), o, &csrf);
        }
    }
    body.push_str("</table>");
    layout("Admin: payments", &body)
}

/// The payments in review, each with the two resolutions an operator may record once they
/// looked the payment up at Klarna.
fn review_queue(body: &mut String, review: &[AnyPayment], csrf: &str) {
    body.push_str("<h2>Needs review</h2>");
    if review.is_empty() {
        body.push_str("<p id=\"review-empty\" class=\"muted\">Nothing needs review.</p>");
        return;
    }
    body.push_str(
        "<p class=\"muted\">Klarna may have acted on these, and the evidence could not decide how. \
Find the order in Klarna's Merchant Portal by its reference (the order's <code>merchant_reference1</code>), then record \
what you found: the order is checked with Klarna before anything is written.</p>\
<table id=\"review-queue\"><tr><th>payment</th><th>reference at Klarna</th><th>amount</th><th>why</th><th>resolve</th></tr>",
    );
    for p in review {
        let pid = esc(p.id().as_str());
        let reason = match p {
            AnyPayment::NeedsReview(r) => r.reason().to_owned(),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr id=\"review-{pid}\"><td>{pid}</td><td class=\"reference\">{reference}</td><td class=\"money\">{amount}</td><td class=\"reason\">{reason}</td><td>\
<form class=\"inline\" method=\"post\" action=\"/admin/payments/{pid}/resolve-order\">{csrf}\
<input id=\"resolve-order-id-{pid}\" name=\"order_id\" size=\"20\" placeholder=\"Klarna order id\" aria-label=\"Klarna order id\">\
<button id=\"resolve-order-{pid}\" type=\"submit\">This is its order</button></form> \
<form class=\"inline\" method=\"post\" action=\"/admin/payments/{pid}/resolve-none\">{csrf}\
<input id=\"resolve-reason-{pid}\" name=\"reason\" size=\"20\" placeholder=\"how you know\" aria-label=\"why there is no order\">\
<button id=\"resolve-none-{pid}\" type=\"submit\">No order exists</button></form></td></tr>",
            reference = esc(p.merchant_reference1()),
            amount = p.cart().total(),
            reason = esc(&reason),
        );
    }
    body.push_str("</table>");
}

/// Lines as `2 × Wool socks, 1 × Trail shoe`.
fn line_list(lines: &[klarna_payments::OmLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let f = l.fields();
            format!("{} × {}", f.quantity, esc(&f.name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An order's captures (lines, shipping info, a form to add more) and refunds (lines), under
/// its payment's row.
fn ledger(body: &mut String, pid: &str, o: &ManagedOrder, csrf: &str) {
    if o.captures().is_empty() && o.refunds().is_empty() {
        return;
    }
    let m = |minor: i64| klarna_payments::Money::new(minor, o.currency()).to_string();
    let pid = esc(pid);
    let oid = esc(o.order_id().as_str());
    let _ = write!(
        body,
        "<tr class=\"ledger\" id=\"ledger-{pid}\"><td colspan=\"9\"><ul>"
    );
    for c in o.captures() {
        let cid = esc(c.id.as_str());
        let lines = if c.lines.is_empty() {
            "an amount, no lines".to_owned()
        } else {
            line_list(&c.lines)
        };
        let shipping = if c.shipping_info.is_empty() {
            "no shipping info".to_owned()
        } else {
            c.shipping_info
                .iter()
                .map(|s| {
                    let f = s.fields();
                    format!(
                        "{} {}",
                        esc(f.shipping_company.as_deref().unwrap_or("carrier?")),
                        esc(f
                            .tracking_number
                            .as_deref()
                            .unwrap_or("(no tracking number)"))
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = write!(
            body,
            "<li class=\"capture\" id=\"capture-record-{cid}\">Capture <code>{cid}</code> {amount} at {at}: \
<span class=\"lines\">{lines}</span> · shipped: <span class=\"shipping\">{shipping}</span> \
<form class=\"inline\" method=\"post\" action=\"/admin/orders/{oid}/captures/{cid}/shipping-info\">{csrf}\
<input id=\"ship-carrier-{cid}\" name=\"shipping_company\" size=\"10\" placeholder=\"carrier\" aria-label=\"shipping company\">\
<input id=\"ship-tracking-{cid}\" name=\"tracking_number\" size=\"10\" placeholder=\"tracking no.\" aria-label=\"tracking number\">\
<button id=\"ship-{cid}\" type=\"submit\">Add shipping info</button></form></li>",
            amount = m(c.amount),
            at = utc(c.at),
        );
    }
    for r in o.refunds() {
        let lines = if r.lines.is_empty() {
            "an amount, no lines".to_owned()
        } else {
            line_list(&r.lines)
        };
        let _ = write!(
            body,
            "<li class=\"refund\" id=\"refund-record-{rid}\">Refund <code>{rid}</code> {amount} at {at}: <span class=\"lines\">{lines}</span></li>",
            rid = esc(r.id.as_str()),
            amount = m(r.amount),
            at = utc(r.at),
        );
    }
    body.push_str("</ul></td></tr>");
}

/// The operator's login: the token printed when the shop started.
pub(crate) fn login(csrf: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        let _ = write!(body, "<p id=\"error\" class=\"err\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<form id=\"login-form\" method=\"post\" action=\"/admin/login\">{}\
<label>Operator token <input id=\"admin-token\" name=\"token\" type=\"password\" autocomplete=\"off\" size=\"40\"></label> \
<button id=\"login-button\" type=\"submit\">Log in</button></form>\
<p class=\"muted\">The token is printed when the shop starts (or set <code>KLARNA_DEMO_ADMIN_TOKEN</code>).</p>",
        csrf_field(csrf)
    );
    layout("Admin: log in", &body)
}

#[cfg(test)]
mod tests {
    use super::{CheckoutView, checkout};
    use crate::catalog;

    fn page(categories: &[String]) -> String {
        let cart = catalog::cart(&[("socks", 1)]).unwrap();
        checkout(&CheckoutView {
            payment_id: "pay-1",
            intent: "buy",
            cart: &cart,
            client_token: "a.b.c</script>",
            categories,
            sdk_url: "http://sim/sim/js/klarna-payments.js",
            payment_secret: "s3cr3t",
        })
    }

    #[test]
    fn the_checkout_offers_each_category_and_finalizes_when_klarna_asks() {
        let html = page(&["klarna".to_owned(), "pay_now".to_owned()]);
        assert!(html.contains("id=\"category-klarna\" value=\"klarna\" checked"));
        assert!(html.contains("id=\"category-pay_now\" value=\"pay_now\">"));
        assert!(html.contains("var categories=[\"klarna\",\"pay_now\"];"));
        // klarna-axum's snippets, one set per category, posting to the Klarna routes with the
        // payment's secret.
        for c in ["klarna", "pay_now"] {
            assert!(
                html.contains(&format!("calls[\"{c}\"]={{load:function()")),
                "{c}"
            );
            assert!(html.contains(&format!(
                "Klarna.Payments.authorize({{payment_method_category: \"{c}\", auto_finalize: false}}"
            )));
            assert!(html.contains(&format!(
                "Klarna.Payments.finalize({{payment_method_category: \"{c}\"}}"
            )));
        }
        assert!(html.contains("fetch(\"/klarna/payments/pay-1/complete\""));
        assert!(html.contains("\"x-payment-secret\": \"s3cr3t\""));
        assert!(html.contains("klarna:finalize_required"));
        assert!(html.contains("id=\"finalize-button\""));
        assert!(html.contains("res.error.invalid_fields"));
        assert!(
            !html.contains("simulate-"),
            "the shopper decides in Klarna's window"
        );
        // Klarna's loader: the page starts Klarna in `klarnaAsyncCallback`, the SDK loads async
        // after it.
        let callback = html.find("window.klarnaAsyncCallback=function").unwrap();
        let sdk = html
            .find("<script src=\"http://sim/sim/js/klarna-payments.js\" async></script>")
            .unwrap();
        assert!(callback < sdk);
        assert!(
            !html.contains("a.b.c</script>"),
            "the token cannot close the script"
        );
    }

    #[test]
    fn one_category_needs_no_choice() {
        let html = page(&["klarna".to_owned()]);
        assert!(!html.contains("klarna-categories"));
        assert!(html.contains("var categories=[\"klarna\"];"));
        assert!(!html.contains("calls[\"pay_now\"]"));
    }

    #[test]
    fn utc_spells_the_civil_date() {
        let t = klarna_payments::domain::Timestamp::from_unix_millis;
        assert_eq!(super::utc(t(0)), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(t(1_798_106_400_000)), "2026-12-24 10:00 UTC");
        assert_eq!(super::utc(t(951_782_400_000)), "2000-02-29 00:00 UTC");
    }
}
