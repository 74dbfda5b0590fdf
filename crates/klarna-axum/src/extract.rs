//! The request guards, as extractors in the order a handler lists them: the origin, the secret (a payment's or the callbacks'), then the JSON body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_TYPE, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use klarna_payments::{Cart, Completed, Klarna, PaymentId};
use serde::de::DeserializeOwned;

use crate::{ApiError, PAYMENT_SECRET_HEADER, RoutesConfig};

/// The merchant's check of a cart the browser sent (prices against the catalog).
pub(crate) type CartCheck = Arc<dyn Fn(&Cart) -> Result<(), ApiError> + Send + Sync>;

/// The merchant's step after a payment completed (a subscription's first charge).
pub(crate) type OnComplete = Arc<
    dyn Fn(
            PaymentId,
            Completed,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send>>
        + Send
        + Sync,
>;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) klarna: Arc<Klarna>,
    pub(crate) config: Arc<RoutesConfig>,
    pub(crate) cart_check: Option<CartCheck>,
    pub(crate) on_complete: Option<OnComplete>,
}

impl Shared {
    /// The merchant's verdict on a cart, before anything is sent or stored.
    pub(crate) fn check(&self, cart: &Cart) -> Result<(), ApiError> {
        self.cart_check.as_ref().map_or(Ok(()), |check| check(cart))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("cart_check", &self.cart_check.is_some())
            .field("on_complete", &self.on_complete.is_some())
            .finish_non_exhaustive()
    }
}

/// A browser request: refused when it names an `Origin` that is not allowed. (A request
/// without `Origin` is same-origin or not from a browser; cross-site forms cannot send JSON
/// without a preflight, which [`JsonBody`] makes necessary.)
pub(crate) struct AllowedOrigin;

impl FromRequestParts<Shared> for AllowedOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Some(origin) = parts.headers.get(ORIGIN) else {
            return Ok(Self);
        };
        let origin = origin
            .to_str()
            .map_err(|_| ApiError::ForbiddenOrigin)?
            .to_ascii_lowercase();
        if state.config.allowed_origins_list().contains(&origin) {
            Ok(Self)
        } else {
            Err(ApiError::ForbiddenOrigin)
        }
    }
}

/// The payment of the path, proven by its secret in the [`PAYMENT_SECRET_HEADER`] header.
pub(crate) struct PaymentCapability(pub(crate) PaymentId);

impl FromRequestParts<Shared> for PaymentCapability {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("id", "the path must name one payment"))?;
        let id = PaymentId::new(id).map_err(|e| ApiError::invalid("id", e))?;
        let given = secret_header(&parts.headers).ok_or(ApiError::MissingSecret)?;
        if state.config.verify_payment_secret(&id, given) {
            Ok(Self(id))
        } else {
            Err(ApiError::BadSecret)
        }
    }
}

fn secret_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(PAYMENT_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A callback from Klarna, proven by the callback secret in `?secret=`.
pub(crate) struct CallbackSecret;

impl FromRequestParts<Shared> for CallbackSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        // The secret is URL-safe by construction (`RoutesConfig::new`), so it needs no
        // percent-decoding; anything encoded simply does not match.
        let given = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("secret="))
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::MissingSecret)?;
        if state.config.verify_callback_secret(given) {
            Ok(Self)
        } else {
            Err(ApiError::BadSecret)
        }
    }
}

/// A JSON body: declared `application/json`, within the body limit, and parsed with the path
/// of the field at fault in the error (never the value sent).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Shared> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::NotJson);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::MalformedJson {
                    field: None,
                    message: "the body could not be read".to_owned(),
                }
            }
        })?;
        parse(&bytes).map(Self)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses `bytes`, naming the field at fault. serde's messages can quote the value sent (a
/// token in the wrong field), so only the parts that come from the type are kept.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let at = format!("line {} column {}", inner.line(), inner.column());
        let message = match inner.classify() {
            serde_json::error::Category::Data => {
                let text = inner.to_string();
                if let Some(rest) = text.strip_prefix("missing field `") {
                    // `missing field `x`` names a field of the type, not a value.
                    let name = rest.split('`').next().unwrap_or("");
                    let field = if path == "." {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    return ApiError::MalformedJson {
                        field: Some(field),
                        message: "is required".to_owned(),
                    };
                }
                if text.starts_with("unknown field") {
                    "is not a field of this request".to_owned()
                } else {
                    match text.split_once(", expected ") {
                        Some((_, expected)) => {
                            let expected = expected.split(" at line").next().unwrap_or(expected);
                            format!("has the wrong type or value: expected {expected}")
                        }
                        None => "has the wrong type or value".to_owned(),
                    }
                }
            }
            serde_json::error::Category::Syntax => format!("is not valid JSON ({at})"),
            serde_json::error::Category::Eof => format!("ends early ({at})"),
            serde_json::error::Category::Io => "could not be read".to_owned(),
        };
        ApiError::MalformedJson {
            field: (path != ".").then_some(path),
            message,
        }
    })?;
    de.end().map_err(|e| ApiError::MalformedJson {
        field: None,
        message: format!(
            "has trailing characters (line {} column {})",
            e.line(),
            e.column()
        ),
    })?;
    Ok(parsed)
}
