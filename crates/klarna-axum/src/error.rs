//! The one rejection type of the routes: every refusal as a status and a JSON body `{"error", "field"?, "message"}` that never carries a token, a secret or personal data.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klarna_payments::ServiceError;
use serde::Serialize;

/// Why a request was refused. Its response is the status and `{"error": code, "field"?: …,
/// "message": …}`; [`ApiError::code`] is stable, the message is for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The input is invalid: fix the named field (400 `invalid_input`).
    #[error("{field}: {message}")]
    InvalidInput {
        /// The field, as a JSON path (`cart.order_lines[0].tax_rate`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The body is not the JSON this endpoint takes (400 `malformed_json`).
    #[error("the body is not valid JSON for this endpoint: {message}")]
    MalformedJson {
        /// The field at fault, when the JSON parsed but a field did not.
        field: Option<String>,
        /// What is wrong, without the value sent.
        message: String,
    },
    /// No secret: the payment secret header or the callback's `secret` (401 `missing_secret`).
    #[error("the secret is missing")]
    MissingSecret,
    /// The secret does not match (403 `bad_secret`).
    #[error("the secret does not match")]
    BadSecret,
    /// A browser request from an origin that is not allowed (403 `forbidden_origin`).
    #[error("requests from this origin are not allowed")]
    ForbiddenOrigin,
    /// The body is larger than the limit (413 `payload_too_large`).
    #[error("the body is larger than the limit")]
    TooLarge,
    /// The body is not declared as `application/json` (415 `unsupported_media_type`).
    #[error("the body must be sent as Content-Type: application/json")]
    NotJson,
    /// The service refused or could not finish; mapped variant by variant (boxed: the
    /// service's error is large, and rejections travel by value).
    #[error(transparent)]
    Service(Box<ServiceError>),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Self::Service(Box::new(e))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    message: String,
}

impl ApiError {
    /// Invalid input in `field` (a JSON path, `cart.order_lines[0].unit_price`), for the
    /// reason `message`: 400 `invalid_input`. What a [`KlarnaRoutes::cart_check`] or an
    /// [`KlarnaRoutes::on_complete`] step answers to refuse.
    ///
    /// [`KlarnaRoutes::cart_check`]: crate::KlarnaRoutes::cart_check
    /// [`KlarnaRoutes::on_complete`]: crate::KlarnaRoutes::on_complete
    #[must_use]
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The status, the stable code and the field of the response.
    #[must_use]
    pub fn parts(&self) -> (StatusCode, &'static str, Option<String>) {
        match self {
            Self::InvalidInput { field, .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_input",
                Some(field.clone()),
            ),
            Self::MalformedJson { field, .. } => {
                (StatusCode::BAD_REQUEST, "malformed_json", field.clone())
            }
            Self::MissingSecret => (StatusCode::UNAUTHORIZED, "missing_secret", None),
            Self::BadSecret => (StatusCode::FORBIDDEN, "bad_secret", None),
            Self::ForbiddenOrigin => (StatusCode::FORBIDDEN, "forbidden_origin", None),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            Self::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
            ),
            Self::Service(e) => service_parts(e),
        }
    }

    /// The stable code of the JSON body (`invalid_input`, `not_found`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.parts().1
    }
}

/// Every variant of the service's error, deliberately. Messages are the service's `Display`,
/// which names records by id and never prints a token (ARCHITECTURE.md, "Secrets").
fn service_parts(e: &ServiceError) -> (StatusCode, &'static str, Option<String>) {
    use StatusCode as S;
    match e {
        ServiceError::Cart(c) => (
            S::BAD_REQUEST,
            "invalid_input",
            Some(format!("cart.{}", c.field())),
        ),
        ServiceError::MerchantData(m) => (
            S::BAD_REQUEST,
            "invalid_input",
            Some(format!("merchant.{}", m.field())),
        ),
        ServiceError::Link(l) => (S::BAD_REQUEST, "invalid_input", Some(l.field())),
        ServiceError::CurrencyMismatch { .. } => (
            S::BAD_REQUEST,
            "invalid_input",
            Some("cart.purchase_currency".to_owned()),
        ),
        // The shopper's country is served by a region this merchant has no account for.
        ServiceError::RegionNotConfigured { .. } => (
            S::BAD_REQUEST,
            "region_not_configured",
            Some("cart.purchase_country".to_owned()),
        ),
        ServiceError::NotFound(_) => (S::NOT_FOUND, "not_found", None),
        ServiceError::WrongStage { .. } => (S::CONFLICT, "wrong_stage", None),
        ServiceError::Lifecycle(_) => (S::CONFLICT, "not_possible", None),
        ServiceError::Ledger(_) => (S::CONFLICT, "not_possible", None),
        ServiceError::Token(_) => (S::CONFLICT, "token_not_chargeable", None),
        ServiceError::InProgress(_) => (S::CONFLICT, "in_progress", None),
        ServiceError::Reauthorize { .. } => (S::CONFLICT, "reauthorize", None),
        ServiceError::OrderMismatch { .. } => (S::CONFLICT, "order_mismatch", None),
        ServiceError::Contended(_) => (S::CONFLICT, "contended", None),
        // Klarna answered no: the shopper may pick another way to pay.
        ServiceError::Refused(_) => (S::PAYMENT_REQUIRED, "refused", None),
        // Nothing is pending: trying again later is safe.
        ServiceError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "klarna_unavailable", None),
        // Pending at our side; the reconciler sends it. Never pay again.
        ServiceError::Queued { .. } => (S::SERVICE_UNAVAILABLE, "queued", None),
        // Klarna may have acted: the reconciler resolves it. Never pay again.
        ServiceError::OutcomeUnknown { .. } => (S::BAD_GATEWAY, "outcome_unknown", None),
        ServiceError::ContradictoryEvidence(_) => (S::BAD_GATEWAY, "outcome_unknown", None),
        ServiceError::NotRecorded { .. } => (S::BAD_GATEWAY, "outcome_unknown", None),
        ServiceError::Store(_) => (S::SERVICE_UNAVAILABLE, "store_unavailable", None),
        // `ServiceError` is `#[non_exhaustive]`, so another crate must have this arm; every
        // variant that exists today is listed above. A new one answers 500 until it is mapped.
        _ => (S::INTERNAL_SERVER_ERROR, "internal", None),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        if status.is_server_error() {
            tracing::warn!(code, error = %self, "klarna-axum request failed");
        }
        let body = Body {
            error: code,
            field: field.as_deref(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
