//! `KlarnaError`, the one error type of the low-level client (what a caller can do about one is
//! [`KlarnaError::action`], read from the one table in `outcome`). Errors never carry
//! credentials, tokens, bodies or personal data.

use std::time::Duration;

use crate::operation::Operation;

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
    fn display_names_operation_status_and_code() {
        let e = api(Operation::CaptureOrder, 403, Some("CAPTURE_NOT_ALLOWED"));
        assert_eq!(
            e.to_string(),
            "order_management.capture: Klarna answered HTTP 403 CAPTURE_NOT_ALLOWED"
        );
    }
}
