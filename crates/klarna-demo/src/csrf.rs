//! CSRF protection of the demo shop's forms: a double-submit token. Every client gets a random
//! token in an HttpOnly, `SameSite=Strict` cookie; every form carries it in a hidden `csrf`
//! field, and a `POST` whose field does not match its cookie (compared in constant time) is
//! refused with 403 before any handler runs. The Klarna routes (`/klarna/…`) sit outside this
//! layer: they take JSON only and carry the payment's secret or the callback secret instead.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::{pages, secret};

/// The form field that carries the token.
pub(crate) const FIELD: &str = "csrf";
/// The cookie that carries the token.
const COOKIE: &str = "klarna_demo_csrf";
/// The largest form body read to find the token (the shop's forms are a few hundred bytes).
const MAX_FORM: usize = 64 * 1024;

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// This client's token, for the forms of the page being rendered.
#[derive(Clone)]
pub(crate) struct CsrfToken(String);

impl CsrfToken {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Present whenever the route sits behind `protect`.
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(pages::error(
            "Refused",
            "This form has no valid CSRF token (it is stale, or it was sent from another site). \
             Nothing was changed: reload the page and try again.",
            Some(("/", "Back to the shop")),
        )),
    )
        .into_response()
}

/// How the token's cookie is set: `Secure` when the shop is reached over https.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cookies {
    pub(crate) https: bool,
}

/// The middleware: hands every request its token (a new one, with a `Set-Cookie`, for a client
/// without one) and refuses a `POST` without the matching field.
pub(crate) async fn protect(State(cookies): State<Cookies>, req: Request, next: Next) -> Response {
    let existing = cookie(req.headers(), COOKIE)
        .filter(|t| well_formed(t))
        .map(str::to_owned);
    let mut req = if req.method() == Method::POST {
        let Some(expected) = existing.as_deref() else {
            return refused();
        };
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        };
        // The same form parser the handlers use, on a copy of the body.
        let mut copy = Request::new(Body::from(bytes.clone()));
        if let Some(t) = parts.headers.get(header::CONTENT_TYPE) {
            copy.headers_mut().insert(header::CONTENT_TYPE, t.clone());
        }
        *copy.method_mut() = Method::POST;
        let given = axum::Form::<HashMap<String, String>>::from_request(copy, &())
            .await
            .ok()
            .and_then(|axum::Form(mut f)| f.remove(FIELD));
        if !given.is_some_and(|g| secret::same(expected, &g)) {
            return refused();
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };
    let (token, fresh) = match existing {
        Some(t) => (t, false),
        None => (secret::random_token(), true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(req).await;
    if fresh
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
            if cookies.https { "; Secure" } else { "" }
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
