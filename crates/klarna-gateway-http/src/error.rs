//! `KlarnaError`, the one error type of the low-level client, and `ErrorClass`, what a caller
//! can do about it. Errors never carry credentials, tokens, bodies or personal data.

use std::time::Duration;

use crate::operation::Operation;

/// What the caller can do about an error; the ports layer maps from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Nothing happened at Klarna, or repeating is safe: try again later (same key).
    Retryable,
    /// The request may have taken effect and repeating it is not known to be safe:
    /// reconcile (read the session/order) before doing anything else.
    OutcomeUnknown,
    /// The authorization token expired, was consumed or superseded: the shopper must
    /// authorize again.
    NeedsReauthorization,
    /// Klarna refused the operation for business reasons (403: not allowed, rejected,
    /// token suspended/cancelled, payment failed).
    Rejected,
    /// The request is wrong (400, 413, 422, other 4xx, bad local input): fix it.
    InvalidRequest,
    /// Credentials are wrong or the merchant is inactive (401, 403 `MERCHANT_INACTIVE`).
    Unauthorized,
    /// The session, order, capture, refund or token does not exist (404).
    NotFound,
    /// The request conflicts with what Klarna holds (409, e.g. "Not matching fields";
    /// 404 `SESSION_COMPLETED`).
    Conflict,
}

/// Error of a [`KlarnaClient`](crate::KlarnaClient) call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KlarnaError {
    /// Klarna (or something at its address) answered with a non-success status.
    #[error("{operation}: Klarna answered HTTP {status}{}", code_suffix(error_code.as_deref()))]
    Api {
        /// The operation.
        operation: Operation,
        /// HTTP status.
        status: u16,
        /// Klarna's `error_code`, if the body had one.
        error_code: Option<String>,
        /// `error_messages` plus the singular `error_message`, if any.
        error_messages: Vec<String>,
        /// From the body, else from the `Klarna-Correlation-Id` header.
        correlation_id: Option<String>,
        /// Server hint from `Retry-After` (delta seconds) or `X-Ratelimit-Reset`.
        retry_after: Option<Duration>,
    },
    /// The request certainly did not reach Klarna (connection refused, DNS, connect timeout).
    #[error("{operation}: request not sent, it did not reach Klarna ({detail})")]
    NotSent {
        /// The operation.
        operation: Operation,
        /// What failed, without URL.
        detail: String,
    },
    /// The transport failed after the request may have been sent (timeout, reset, body read).
    #[error(
        "{operation}: transport failed after sending, the request may have reached Klarna ({detail})"
    )]
    MaybeSent {
        /// The operation.
        operation: Operation,
        /// What failed, without URL.
        detail: String,
    },
    /// A response body could not be parsed into the expected model, or a required header was
    /// missing (e.g. `Capture-Id` and `Location` on a 201).
    #[error("{operation}: malformed response (HTTP {status}): {detail}")]
    MalformedResponse {
        /// The operation.
        operation: Operation,
        /// HTTP status of the response.
        status: u16,
        /// From the `Klarna-Correlation-Id` header.
        correlation_id: Option<String>,
        /// Parser category and position only: never the body text.
        detail: String,
    },
    /// The response body exceeded the configured cap and was not read to the end.
    #[error("{operation}: response body larger than {limit} bytes (HTTP {status})")]
    ResponseTooLarge {
        /// The operation.
        operation: Operation,
        /// HTTP status of the response.
        status: u16,
        /// From the `Klarna-Correlation-Id` header.
        correlation_id: Option<String>,
        /// The cap in bytes.
        limit: usize,
    },
    /// Bad input or configuration; nothing was sent.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput {
        /// The field or setting, e.g. `base_url`, `order_id`.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" {c}")).unwrap_or_default()
}

impl KlarnaError {
    /// Whether the request may have reached Klarna (and so may have taken effect).
    #[must_use]
    pub fn may_have_reached_klarna(&self) -> bool {
        match self {
            Self::Api { .. }
            | Self::MaybeSent { .. }
            | Self::MalformedResponse { .. }
            | Self::ResponseTooLarge { .. } => true,
            Self::NotSent { .. } | Self::InvalidInput { .. } => false,
        }
    }

    /// The operation, if the error came from one.
    #[must_use]
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Self::Api { operation, .. }
            | Self::NotSent { operation, .. }
            | Self::MaybeSent { operation, .. }
            | Self::MalformedResponse { operation, .. }
            | Self::ResponseTooLarge { operation, .. } => Some(*operation),
            Self::InvalidInput { .. } => None,
        }
    }

    /// HTTP status, if Klarna answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. }
            | Self::MalformedResponse { status, .. }
            | Self::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Klarna's `error_code`, if any.
    #[must_use]
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { error_code, .. } => error_code.as_deref(),
            _ => None,
        }
    }

    /// The correlation id to quote to Klarna support, if any.
    #[must_use]
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Self::Api { correlation_id, .. }
            | Self::MalformedResponse { correlation_id, .. }
            | Self::ResponseTooLarge { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// What the caller can do about this error.
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidInput { .. } => ErrorClass::InvalidRequest,
            Self::NotSent { .. } => ErrorClass::Retryable,
            Self::MaybeSent { operation, .. } => unknown_unless_safe(*operation),
            Self::MalformedResponse { operation, .. }
            | Self::ResponseTooLarge { operation, .. } => {
                // Klarna answered but we cannot read the answer: for a mutation it may well
                // have succeeded.
                if operation.is_mutating() {
                    ErrorClass::OutcomeUnknown
                } else {
                    ErrorClass::Retryable
                }
            }
            Self::Api {
                operation,
                status,
                error_code,
                ..
            } => classify_status(*operation, *status, error_code.as_deref()),
        }
    }
}

fn unknown_unless_safe(operation: Operation) -> ErrorClass {
    if operation.retry_safe() {
        ErrorClass::Retryable
    } else {
        ErrorClass::OutcomeUnknown
    }
}

fn classify_status(operation: Operation, status: u16, code: Option<&str>) -> ErrorClass {
    match (status, code) {
        (429, _) => ErrorClass::Retryable,
        (500..=599, _) => unknown_unless_safe(operation),
        (401, _) | (403, Some("MERCHANT_INACTIVE")) => ErrorClass::Unauthorized,
        (404, Some("SESSION_COMPLETED")) | (409, _) => ErrorClass::Conflict,
        (404, _) if operation.uses_authorization_token() => ErrorClass::NeedsReauthorization,
        (403, Some("INVALID_OPERATION")) if operation.uses_authorization_token() => {
            // "Authorization token already consumed" and its relatives.
            ErrorClass::NeedsReauthorization
        }
        (404, _) => ErrorClass::NotFound,
        (403, _) => ErrorClass::Rejected,
        // Klarna never redirects; a 3xx comes from a proxy or a wrong base URL, and a mutation
        // may or may not have been forwarded.
        (300..=399, _) if operation.is_mutating() => ErrorClass::OutcomeUnknown,
        _ => ErrorClass::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(operation: Operation, status: u16, code: Option<&str>) -> KlarnaError {
        KlarnaError::Api {
            operation,
            status,
            error_code: code.map(str::to_owned),
            error_messages: vec![],
            correlation_id: None,
            retry_after: None,
        }
    }

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        use Operation::*;
        let table: &[(Operation, u16, Option<&str>, ErrorClass)] = &[
            (CreateOrder, 400, Some("BAD_VALUE"), InvalidRequest),
            (CreateOrder, 401, None, Unauthorized),
            (CreateSession, 403, Some("MERCHANT_INACTIVE"), Unauthorized),
            (
                CreateOrder,
                403,
                Some("INVALID_OPERATION"),
                NeedsReauthorization,
            ),
            (CreateOrder, 403, Some("REJECTED"), Rejected),
            (CreateOrder, 404, Some("NOT_FOUND"), NeedsReauthorization),
            (CreateCustomerToken, 404, None, NeedsReauthorization),
            (CreateOrder, 404, Some("SESSION_COMPLETED"), Conflict),
            (CreateOrder, 409, Some("BAD_VALUE"), Conflict),
            (CreateOrder, 500, None, OutcomeUnknown),
            (CreateOrder, 429, None, Retryable),
            (
                CreateTokenOrder,
                503,
                Some("SERVICE_UNAVAILABLE"),
                Retryable,
            ),
            (CreateTokenOrder, 403, Some("TOKEN_SUSPENDED"), Rejected),
            (CreateTokenOrder, 404, Some("TOKEN_NOT_FOUND"), NotFound),
            (CaptureOrder, 403, Some("CAPTURE_NOT_ALLOWED"), Rejected),
            (CaptureOrder, 404, Some("NO_SUCH_ORDER"), NotFound),
            (CaptureOrder, 500, None, Retryable),
            (CaptureOrder, 422, Some("INVALID_ADDRESS"), InvalidRequest),
            (CaptureOrder, 413, None, InvalidRequest),
            (CaptureOrder, 302, None, OutcomeUnknown),
            (GetOrder, 302, None, InvalidRequest),
            (GetOrder, 500, None, Retryable),
            (ReadSession, 404, Some("NOT_FOUND"), NotFound),
            (CancelCustomerToken, 500, None, OutcomeUnknown),
        ];
        for &(op, status, code, expected) in table {
            assert_eq!(
                api(op, status, code).class(),
                expected,
                "{op} {status} {code:?}"
            );
        }
    }

    #[test]
    fn transport_errors_say_whether_klarna_was_reached() {
        let not_sent = KlarnaError::NotSent {
            operation: Operation::CreateOrder,
            detail: "connection refused".into(),
        };
        assert!(!not_sent.may_have_reached_klarna());
        assert_eq!(not_sent.class(), ErrorClass::Retryable);
        let maybe = KlarnaError::MaybeSent {
            operation: Operation::CreateOrder,
            detail: "timeout".into(),
        };
        assert!(maybe.may_have_reached_klarna());
        assert_eq!(maybe.class(), ErrorClass::OutcomeUnknown);
        let maybe_keyed = KlarnaError::MaybeSent {
            operation: Operation::RefundOrder,
            detail: "timeout".into(),
        };
        assert_eq!(maybe_keyed.class(), ErrorClass::Retryable);
        let input = KlarnaError::InvalidInput {
            field: "order_id",
            reason: "empty".into(),
        };
        assert!(!input.may_have_reached_klarna());
        assert_eq!(input.class(), ErrorClass::InvalidRequest);
    }

    #[test]
    fn display_names_operation_status_and_code() {
        let e = api(Operation::CaptureOrder, 403, Some("CAPTURE_NOT_ALLOWED"));
        assert_eq!(
            e.to_string(),
            "order_management.capture: Klarna answered HTTP 403 CAPTURE_NOT_ALLOWED"
        );
    }
}
