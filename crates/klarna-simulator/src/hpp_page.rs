//! The Hosted Payment Page over HTTP: Klarna's four HPP endpoints (`/hpp/v1/sessions…`, Basic
//! auth), the hosted page the shopper sees (`/hpp/pay/{id}`: the purchase, Pay, Cancel, Back and
//! a "Simulator" section with "Simulate a decline"), the result page for sessions without a
//! merchant URL, and the `/sim/hpp/{id}` debug read.
//!
//! The page is plain HTML with no external assets and no script; every value from a session is
//! escaped as text. Its buttons post forms; each action answers `303 See Other` to the merchant
//! URL of the outcome (placeholders filled) or to the result page.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::engine::{HppPageAction, HppStatus, PageView, Reply};
use crate::http::{BODY_LIMIT, Shared, to_response};

/// The routes, merged into the simulator's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/hpp/v1/sessions", post(create))
        .route("/hpp/v1/sessions/{id}", get(read).delete(disable))
        .route("/hpp/v1/sessions/{id}/distribution", post(distribute))
        .route("/hpp/pay/{id}", get(page))
        .route("/hpp/pay/{id}/pay", post(pay))
        .route("/hpp/pay/{id}/decline", post(decline))
        .route("/hpp/pay/{id}/cancel", post(cancel))
        .route("/hpp/pay/{id}/back", post(back))
        .route("/hpp/pay/{id}/result", get(result))
        .route("/hpp/pay/{id}/qr", get(qr))
        .route("/sim/hpp/{id}", get(sim_state))
}

/// Basic auth and the body limit, as on every Klarna path: `Some` is the refusal to answer.
fn guard(sh: &Shared, headers: &HeaderMap, body: &Bytes) -> Option<Response> {
    if !sh.authorized(headers) {
        let mut r = to_response(Reply::error(401, "UNAUTHORIZED", "Bad credentials"));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Klarna simulator\""),
        );
        return Some(r);
    }
    if body.len() > BODY_LIMIT {
        return Some(to_response(Reply::error(
            413,
            "REQUEST_TOO_LARGE",
            "Request body exceeds 1 MB",
        )));
    }
    None
}

async fn create(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = guard(&sh, &headers, &body) {
        return r;
    }
    to_response(sh.engine.hpp_create(&body))
}

async fn read(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = guard(&sh, &headers, &Bytes::new()) {
        return r;
    }
    to_response(sh.engine.hpp_read(&id))
}

async fn disable(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = guard(&sh, &headers, &Bytes::new()) {
        return r;
    }
    let (reply, callback) = sh.engine.hpp_disable(&id);
    if let Some(cb) = callback {
        sh.spawn_callback(cb);
    }
    to_response(reply)
}

async fn distribute(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = guard(&sh, &headers, &body) {
        return r;
    }
    to_response(sh.engine.hpp_distribute(&id, &body))
}

async fn sim_state(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match sh.engine.hpp_session(&id) {
        Some(s) => axum::Json(s).into_response(),
        None => to_response(Reply::error(404, "NOT_FOUND", "No such HPP session")),
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// Minor units as `123.45 SEK` (two decimals, integer arithmetic; the simulator's markets all
/// use two).
fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f6;color:#111}\
main{max-width:32rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:.5rem}\
table{width:100%;border-collapse:collapse;margin:1rem 0}th,td{text-align:left;padding:.4rem;\
border-bottom:1px solid #ddd}td.num,th.num{text-align:right}\
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem .3rem 0;border-radius:.3rem;\
border:1px solid #333;background:#fff;cursor:pointer}#hpp-pay{background:#ffb3c7;border-color:#111}\
button:focus{outline:3px solid #0a58ca;outline-offset:2px}\
section{margin-top:1.5rem;border-top:1px dashed #999;padding-top:.5rem}form{display:inline}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main aria-labelledby=\"hpp-title\">{body}</main></body></html>",
        esc(title)
    )
}

fn html(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No script, no external assets; forms post to this page's own paths (no `form-action`:
    // browsers apply it to the redirect to the merchant too).
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

fn not_found_page() -> Response {
    html(
        StatusCode::NOT_FOUND,
        document(
            "Payment page not found",
            "<h1 id=\"hpp-title\">Payment page not found</h1>\
             <p id=\"hpp-expired\">This payment link is unknown or has expired.</p>",
        ),
    )
}

fn closed_text(status: HppStatus) -> &'static str {
    match status {
        HppStatus::Completed => "This payment is complete.",
        HppStatus::Cancelled => "This payment was cancelled.",
        HppStatus::Disabled => "This payment link was disabled by the merchant.",
        HppStatus::Waiting
        | HppStatus::InProgress
        | HppStatus::Back
        | HppStatus::Failed
        | HppStatus::Error => "",
    }
}

/// The hosted page for `view`: the purchase and, while open, the buttons.
fn render(id: &str, view: &PageView) -> Response {
    let title = view.title.as_deref().unwrap_or("Complete your purchase");
    let mut b = String::new();
    let _ = write!(b, "<h1 id=\"hpp-title\">{}</h1>", esc(title));
    if view.expired {
        b.push_str("<p id=\"hpp-expired\" role=\"status\">This payment link has expired.</p>");
        return html(StatusCode::NOT_FOUND, document(title, &b));
    }
    let _ = write!(
        b,
        "<p id=\"hpp-status\" role=\"status\">Status: {}</p>",
        view.status.wire()
    );
    b.push_str(
        "<table><caption>Your purchase</caption><thead><tr><th scope=\"col\">Item</th>\
         <th scope=\"col\" class=\"num\">Quantity</th><th scope=\"col\" class=\"num\">Amount</th></tr></thead><tbody>",
    );
    for (name, quantity, total) in &view.lines {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{quantity}</td><td class=\"num\">{}</td></tr>",
            esc(name),
            esc(&money(*total, &view.currency))
        );
    }
    let total = money(view.order_amount, &view.currency);
    let _ = write!(
        b,
        "</tbody><tfoot><tr><th scope=\"row\" colspan=\"2\">Total</th>\
         <td class=\"num\" id=\"hpp-total\">{}</td></tr></tfoot></table>",
        esc(&total)
    );
    if view.status.is_final() {
        let _ = write!(
            b,
            "<p id=\"hpp-closed\" role=\"status\">{} This page is closed.</p>",
            closed_text(view.status)
        );
        return html(StatusCode::OK, document(title, &b));
    }
    if view.status == HppStatus::Failed {
        b.push_str(
            "<p id=\"hpp-declined\" role=\"alert\">The payment was declined. You can try again.</p>",
        );
    }
    let id = esc(id);
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/hpp/pay/{id}/pay\"><button id=\"hpp-pay\" type=\"submit\">Pay {}</button></form>\
         <form method=\"post\" action=\"/hpp/pay/{id}/cancel\"><button id=\"hpp-cancel\" type=\"submit\">Cancel</button></form>\
         <form method=\"post\" action=\"/hpp/pay/{id}/back\"><button id=\"hpp-back\" type=\"submit\">Back</button></form>\
         <section aria-labelledby=\"hpp-sim\"><h2 id=\"hpp-sim\">Simulator</h2>\
         <form method=\"post\" action=\"/hpp/pay/{id}/decline\"><button id=\"hpp-decline\" type=\"submit\">Simulate a decline</button></form></section>",
        esc(&total)
    );
    html(StatusCode::OK, document(title, &b))
}

async fn page(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match sh.engine.hpp_open(&id) {
        Some((view, callback)) => {
            if let Some(cb) = callback {
                sh.spawn_callback(cb);
            }
            render(&id, &view)
        }
        None => not_found_page(),
    }
}

async fn act(sh: &Shared, id: &str, action: HppPageAction) -> Response {
    match sh.engine.hpp_action(id, action) {
        Ok(outcome) => {
            for cb in outcome.callbacks {
                sh.spawn_callback(cb);
            }
            let target = outcome
                .redirect
                .unwrap_or_else(|| format!("/hpp/pay/{id}/result"));
            match HeaderValue::from_str(&target) {
                Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
                Err(_) => to_response(Reply::error(500, "INTERNAL_SERVER_ERROR", "Bad URL")),
            }
        }
        // Nothing changed: the page again, saying why (closed, expired, or a payment running).
        Err(Some(view)) => {
            let mut r = render(id, &view);
            if r.status() == StatusCode::OK {
                *r.status_mut() = StatusCode::CONFLICT;
            }
            r
        }
        Err(None) => not_found_page(),
    }
}

async fn pay(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&sh, &id, HppPageAction::Pay).await
}

async fn decline(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&sh, &id, HppPageAction::Decline).await
}

async fn cancel(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&sh, &id, HppPageAction::Cancel).await
}

async fn back(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&sh, &id, HppPageAction::Back).await
}

/// The simulator's result page, where the browser goes when the session has no merchant URL
/// for the outcome. It changes nothing.
async fn result(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(view) = sh.engine.hpp_view(&id) else {
        return not_found_page();
    };
    let text = match view.status {
        HppStatus::Completed => "Payment completed.",
        HppStatus::Cancelled => "Payment cancelled.",
        HppStatus::Back => "You went back to the merchant.",
        HppStatus::Failed => "The payment was declined.",
        HppStatus::Error => "The payment could not be completed.",
        HppStatus::Disabled => "This payment link was disabled.",
        HppStatus::Waiting | HppStatus::InProgress => "The payment is not finished.",
    };
    let mut b = String::from("<h1 id=\"hpp-title\">Payment result</h1>");
    let _ = write!(
        b,
        "<p id=\"hpp-result\" role=\"status\" data-status=\"{}\">{text}</p>",
        view.status.wire()
    );
    if let Some(order) = &view.order_id {
        let _ = write!(
            b,
            "<p>Order <span id=\"hpp-order\">{}</span></p>",
            esc(order)
        );
    }
    html(StatusCode::OK, document("Payment result", &b))
}

/// A placeholder image for `qr_code_url` (not a real QR code: the simulator has no encoder).
async fn qr(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if sh.engine.hpp_view(&id).is_none() {
        return not_found_page();
    }
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"120\" role=\"img\" \
               aria-label=\"QR code placeholder\"><rect width=\"120\" height=\"120\" fill=\"#fff\" \
               stroke=\"#000\"/><text x=\"60\" y=\"64\" text-anchor=\"middle\" font-size=\"14\">QR</text></svg>";
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_money_is_integer() {
        assert_eq!(
            esc("<b onclick=\"x\">&'"),
            "&lt;b onclick=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(money(174_700, "SEK"), "1747.00 SEK");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-1250, "EUR"), "-12.50 EUR");
    }
}
