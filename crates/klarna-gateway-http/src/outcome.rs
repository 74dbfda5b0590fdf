//! The one classification of a failed call: (operation, HTTP status, Klarna `error_code`) →
//! the port's [`ErrorAction`], as one table ([`TABLE`]), and [`gateway_error`], the mapping
//! [`KlarnaError`] → [`GatewayError`] built on it.
//!
//! Rows are read top to bottom, the first that matches wins; [`gateway_error`]'s docs list
//! them with their sources in API.md (§11 corrects the earlier sections). Where the docs are
//! silent the answer is the pessimistic one: a mutation may have taken effect
//! ([`ErrorAction::OutcomeUnknown`]), a read may be repeated ([`ErrorAction::Retry`]).

use klarna_domain::TokenStatus;
use klarna_ports::{ErrorAction, GatewayError, Refusal};

use crate::error::KlarnaError;
use crate::operation::Operation;

/// What a row answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Then {
    /// This action.
    Act(ErrorAction),
    /// A mutation may have taken effect (`OutcomeUnknown`); a read may be repeated (`Retry`).
    Unknown,
}

/// One row of [`TABLE`].
struct Row {
    /// The operations it covers.
    ops: fn(Operation) -> bool,
    /// The statuses it covers.
    status: (u16, u16),
    /// The `error_code`s it covers; empty: any (or none).
    codes: &'static [&'static str],
    /// The answer.
    then: Then,
}

const fn row(
    ops: fn(Operation) -> bool,
    status: (u16, u16),
    codes: &'static [&'static str],
    then: Then,
) -> Row {
    Row {
        ops,
        status,
        codes,
        then,
    }
}

const fn act(action: ErrorAction) -> Then {
    Then::Act(action)
}

const REJECTED_NOT_ALLOWED: Then = act(ErrorAction::Rejected(Refusal::NotAllowed));

fn all(_: Operation) -> bool {
    true
}
fn authorization(op: Operation) -> bool {
    op.uses_authorization_token()
}
fn order_from_authorization(op: Operation) -> bool {
    matches!(op, Operation::CreateOrder | Operation::CreateCustomerToken)
}
fn create_order(op: Operation) -> bool {
    op == Operation::CreateOrder
}
fn token_order(op: Operation) -> bool {
    op == Operation::CreateTokenOrder
}
fn update_session(op: Operation) -> bool {
    op == Operation::UpdateSession
}
fn documents_404(op: Operation) -> bool {
    op != Operation::CreateSession
}
fn order_management(op: Operation) -> bool {
    op.path_template().starts_with("/ordermanagement/")
}
fn read(op: Operation) -> bool {
    !op.is_mutating()
}
fn keyed(op: Operation) -> bool {
    op.idempotency_documented()
}

/// The one table (see the module docs, which list the same rows with their sources).
const TABLE: [Row; 25] = [
    row(all, (429, 429), &[], act(ErrorAction::Retry)),
    row(all, (401, 401), &[], act(ErrorAction::Unauthorized)),
    row(
        all,
        (403, 403),
        &["MERCHANT_INACTIVE"],
        act(ErrorAction::Unauthorized),
    ),
    row(all, (400, 400), &[], act(ErrorAction::InvalidRequest)),
    row(all, (413, 413), &[], act(ErrorAction::InvalidRequest)),
    row(all, (500, 599), &[], Then::Unknown),
    row(
        order_from_authorization,
        (404, 404),
        &["SESSION_COMPLETED"],
        Then::Unknown,
    ),
    row(
        authorization,
        (404, 404),
        &[],
        act(ErrorAction::Reauthorize),
    ),
    row(
        authorization,
        (403, 403),
        &["INVALID_OPERATION"],
        act(ErrorAction::Reauthorize),
    ),
    row(
        order_from_authorization,
        (409, 409),
        &[],
        act(ErrorAction::Reauthorize),
    ),
    row(
        create_order,
        (403, 403),
        &["REJECTED"],
        act(ErrorAction::Rejected(Refusal::Declined)),
    ),
    row(
        token_order,
        (403, 403),
        &["TOKEN_CANCELED", "TOKEN_CANCELLED"],
        act(ErrorAction::Rejected(Refusal::TokenUnusable(
            TokenStatus::Cancelled,
        ))),
    ),
    row(
        token_order,
        (403, 403),
        &["TOKEN_SUSPENDED"],
        act(ErrorAction::Rejected(Refusal::TokenUnusable(
            TokenStatus::Suspended,
        ))),
    ),
    row(
        token_order,
        (403, 403),
        &["PAYMENT_METHOD_FAILED"],
        act(ErrorAction::Rejected(Refusal::Declined)),
    ),
    row(
        token_order,
        (403, 403),
        &[
            "PAYMENT_METHOD_CURRENCY_MISMATCH",
            "UNAVAILABLE_PAYMENT_METHOD",
        ],
        act(ErrorAction::Rejected(Refusal::CurrencyMismatch)),
    ),
    row(
        token_order,
        (403, 403),
        &["TOKEN_FORBIDDEN"],
        act(ErrorAction::Rejected(Refusal::TokenForbidden)),
    ),
    row(keyed, (409, 409), &["CONFLICT"], Then::Unknown),
    row(token_order, (409, 409), &[], REJECTED_NOT_ALLOWED),
    row(
        update_session,
        (404, 404),
        &["SESSION_COMPLETED"],
        REJECTED_NOT_ALLOWED,
    ),
    row(documents_404, (404, 404), &[], act(ErrorAction::NotFound)),
    row(all, (403, 403), &[], REJECTED_NOT_ALLOWED),
    row(order_management, (409, 409), &[], REJECTED_NOT_ALLOWED),
    row(
        order_management,
        (422, 422),
        &[],
        act(ErrorAction::InvalidRequest),
    ),
    row(read, (400, 499), &[], act(ErrorAction::InvalidRequest)),
    row(all, (0, u16::MAX), &[], Then::Unknown),
];

/// No usable answer: for a mutation the effect may exist; a read may be repeated.
fn unknown(op: Operation) -> ErrorAction {
    if op.is_mutating() {
        ErrorAction::OutcomeUnknown
    } else {
        ErrorAction::Retry
    }
}

/// What the caller can do about Klarna's answer `status` (with `code`) to `op`: the first
/// matching row of the one table.
#[must_use]
pub(crate) fn answer_action(op: Operation, status: u16, code: Option<&str>) -> ErrorAction {
    let then = TABLE
        .iter()
        .find(|r| {
            (r.ops)(op)
                && (r.status.0..=r.status.1).contains(&status)
                && (r.codes.is_empty() || code.is_some_and(|c| r.codes.contains(&c)))
        })
        .map_or(Then::Unknown, |r| r.then);
    match then {
        Then::Act(action) => action,
        Then::Unknown => unknown(op),
    }
}

impl KlarnaError {
    /// What the caller can do about this error: the port's [`ErrorAction`], read from the one
    /// table (module `outcome`, listed in [`gateway_error`]'s docs).
    #[must_use]
    pub fn action(&self) -> ErrorAction {
        match self {
            Self::InvalidInput { .. } => ErrorAction::InvalidRequest,
            Self::NotSent { .. } => ErrorAction::Retry,
            Self::MaybeSent { operation, .. }
            | Self::MalformedResponse { operation, .. }
            | Self::ResponseTooLarge { operation, .. } => unknown(*operation),
            Self::Api {
                operation,
                status,
                error_code,
                ..
            } => answer_action(*operation, *status, error_code.as_deref()),
        }
    }
}

/// Maps a client error of `op` to the port's error: the action from the one table, whether
/// the request may have reached Klarna, and Klarna's words as evidence.
///
/// The table (first matching row wins; "unknown" is `OutcomeUnknown` for a mutation and
/// `Retry` for a read; sections of API.md):
///
/// | # | operations | status | `error_code` | action | source |
/// |---|---|---|---|---|---|
/// | 1 | all | 429 | any | `Retry` (refused before processing) | §1.6 |
/// | 2 | all | 401 | any | `Unauthorized` | §1.5 |
/// | 3 | all | 403 | `MERCHANT_INACTIVE` | `Unauthorized` | §1.5 |
/// | 4 | all | 400 | any | `InvalidRequest` | §1.5 |
/// | 5 | all | 413 | any | `InvalidRequest` | §1.6 |
/// | 6 | all | 5xx | any | unknown | §1.5 |
/// | 7 | P5, P6 | 404 | `SESSION_COMPLETED` | unknown: an order exists, maybe ours | §1.5, §11.2 |
/// | 8 | P4–P6 | 404 | any | `Reauthorize` (expired, superseded, unknown) | §1.7, §2.4–§2.6 |
/// | 9 | P4–P6 | 403 | `INVALID_OPERATION` | `Reauthorize` (consumed, wrong intent) | §2.5, §2.6 |
/// | 10 | P5, P6 | 409 | any | `Reauthorize` (not matching the authorization) | §1.5 |
/// | 11 | P5 | 403 | `REJECTED` | `Rejected(Declined)` | §1.5 |
/// | 12 | T2 | 403 | `TOKEN_CANCELED`, `TOKEN_CANCELLED` | `Rejected(TokenUnusable(Cancelled))` | §3.2, §11.6 |
/// | 13 | T2 | 403 | `TOKEN_SUSPENDED` | `Rejected(TokenUnusable(Suspended))` | §3.2 |
/// | 14 | T2 | 403 | `PAYMENT_METHOD_FAILED` | `Rejected(Declined)` | §3.2 |
/// | 15 | T2 | 403 | `PAYMENT_METHOD_CURRENCY_MISMATCH`, `UNAVAILABLE_PAYMENT_METHOD` | `Rejected(CurrencyMismatch)` | §3.2, §11.6 |
/// | 16 | T2 | 403 | `TOKEN_FORBIDDEN` | `Rejected(TokenForbidden)` | §11.6 |
/// | 17 | keyed: Order Management mutations, T2 | 409 | `CONFLICT` | unknown: a request with the same `Klarna-Idempotency-Key` is still in flight and may yet succeed | §1.4, §1.5 |
/// | 18 | T2 | 409 | any | `Rejected(NotAllowed)` (data does not match the token) | §3.2 |
/// | 19 | P3 | 404 | `SESSION_COMPLETED` | `Rejected(NotAllowed)` (the session is closed) | §2.3 |
/// | 20 | all but P1 | 404 | any | `NotFound` | §2.2–§4.3 |
/// | 21 | all | 403 | any | `Rejected(NotAllowed)` | §1.5, §3.2, §11.6 |
/// | 22 | Order Management | 409 | any | `Rejected(NotAllowed)` (another conflict with the order's state) | §1.5 |
/// | 23 | Order Management | 422 | any | `InvalidRequest` (field validation) | §11.4 |
/// | 24 | reads | 4xx | any | `InvalidRequest` (nothing changed) | — |
/// | 25 | all | anything else (3xx, other 4xx on a mutation) | any | unknown | silent: pessimistic |
///
/// Transport: not sent → `Retry`; invalid local input → `InvalidRequest` (neither reached
/// Klarna); sent without a usable answer (timeout, reset, malformed, oversized) → unknown.
#[must_use]
pub fn gateway_error(op: Operation, error: &KlarnaError) -> GatewayError {
    let operation = error.operation().unwrap_or(op);
    let (status, code, messages, correlation_id) = match error {
        KlarnaError::Api {
            status,
            error_code,
            error_messages,
            correlation_id,
            ..
        } => (
            Some(*status),
            error_code.clone(),
            error_messages.clone(),
            correlation_id.clone(),
        ),
        KlarnaError::MalformedResponse {
            status,
            correlation_id,
            ..
        }
        | KlarnaError::ResponseTooLarge {
            status,
            correlation_id,
            ..
        } => (Some(*status), None, Vec::new(), correlation_id.clone()),
        KlarnaError::NotSent { .. }
        | KlarnaError::MaybeSent { .. }
        | KlarnaError::InvalidInput { .. } => (None, None, Vec::new(), None),
    };
    GatewayError {
        operation: operation.name(),
        action: error.action(),
        may_have_reached_klarna: error.may_have_reached_klarna(),
        status,
        code,
        messages,
        correlation_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn api_error(op: Operation, status: u16, code: Option<&str>) -> KlarnaError {
        KlarnaError::Api {
            operation: op,
            status,
            error_code: code.map(str::to_owned),
            error_messages: vec!["m".into()],
            correlation_id: Some("corr".into()),
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    /// Every (operation, status, code) API.md names, row by row, with the table's answer.
    #[test]
    fn every_documented_answer_row_by_row() {
        use ErrorAction::*;
        use Operation::*;
        const DECLINED: ErrorAction = Rejected(Refusal::Declined);
        const NOT_ALLOWED: ErrorAction = Rejected(Refusal::NotAllowed);
        const CANCELLED: ErrorAction = Rejected(Refusal::TokenUnusable(TokenStatus::Cancelled));
        const SUSPENDED: ErrorAction = Rejected(Refusal::TokenUnusable(TokenStatus::Suspended));
        const CURRENCY: ErrorAction = Rejected(Refusal::CurrencyMismatch);
        const FORBIDDEN: ErrorAction = Rejected(Refusal::TokenForbidden);
        let table: &[(Operation, u16, Option<&str>, ErrorAction)] = &[
            // §1.5 Payments API, and §2.1–§2.6 per operation.
            (CreateSession, 400, Some("BAD_VALUE"), InvalidRequest),
            (CreateSession, 400, Some("BAD_REQUEST"), InvalidRequest),
            (CreateOrder, 400, Some("BAD_VALUE"), InvalidRequest),
            (
                CreateCustomerToken,
                400,
                Some("BAD_REQUEST"),
                InvalidRequest,
            ),
            (UpdateSession, 400, Some("BAD_VALUE"), InvalidRequest),
            (CreateOrder, 401, None, Unauthorized),
            (CaptureOrder, 401, None, Unauthorized),
            (CreateSession, 403, Some("MERCHANT_INACTIVE"), Unauthorized),
            (CreateOrder, 403, Some("MERCHANT_INACTIVE"), Unauthorized),
            (CreateSession, 403, Some("INVALID_OPERATION"), NOT_ALLOWED),
            (CreateOrder, 403, Some("INVALID_OPERATION"), Reauthorize),
            (
                CreateCustomerToken,
                403,
                Some("INVALID_OPERATION"),
                Reauthorize,
            ),
            (
                CancelAuthorization,
                403,
                Some("INVALID_OPERATION"),
                Reauthorize,
            ),
            (CreateOrder, 403, Some("REJECTED"), DECLINED),
            (CreateOrder, 404, Some("NOT_FOUND"), Reauthorize),
            (CreateCustomerToken, 404, None, Reauthorize),
            (CreateCustomerToken, 404, Some("NOT_FOUND"), Reauthorize),
            (CancelAuthorization, 404, Some("NOT_FOUND"), Reauthorize),
            (CreateOrder, 404, Some("SESSION_COMPLETED"), OutcomeUnknown),
            (
                CreateCustomerToken,
                404,
                Some("SESSION_COMPLETED"),
                OutcomeUnknown,
            ),
            (CreateOrder, 409, Some("BAD_VALUE"), Reauthorize),
            (CreateCustomerToken, 409, None, Reauthorize),
            (UpdateSession, 404, Some("SESSION_COMPLETED"), NOT_ALLOWED),
            (UpdateSession, 404, Some("NOT_FOUND"), NotFound),
            (UpdateSession, 403, None, NOT_ALLOWED),
            (ReadSession, 404, Some("NOT_FOUND"), NotFound),
            (ReadSession, 403, None, NOT_ALLOWED),
            (
                CreateOrder,
                500,
                Some("INTERNAL_SERVER_ERROR"),
                OutcomeUnknown,
            ),
            (CreateOrder, 500, None, OutcomeUnknown),
            (ReadSession, 502, None, Retry),
            (CreateOrder, 429, None, Retry),
            // §1.5 Customer Token API, §3.1–§3.3, §11.6.
            (CreateTokenOrder, 400, Some("BAD_REQUEST"), InvalidRequest),
            (CreateTokenOrder, 403, Some("TOKEN_SUSPENDED"), SUSPENDED),
            (CreateTokenOrder, 403, Some("TOKEN_CANCELED"), CANCELLED),
            (CreateTokenOrder, 403, Some("TOKEN_CANCELLED"), CANCELLED),
            (
                CreateTokenOrder,
                403,
                Some("PAYMENT_METHOD_FAILED"),
                DECLINED,
            ),
            (
                CreateTokenOrder,
                403,
                Some("UNAVAILABLE_PAYMENT_METHOD"),
                CURRENCY,
            ),
            (
                CreateTokenOrder,
                403,
                Some("PAYMENT_METHOD_CURRENCY_MISMATCH"),
                CURRENCY,
            ),
            (CreateTokenOrder, 403, Some("TOKEN_FORBIDDEN"), FORBIDDEN),
            // Elsewhere the codes mean nothing special: a plain refusal.
            (CreateOrder, 403, Some("TOKEN_FORBIDDEN"), NOT_ALLOWED),
            (CaptureOrder, 403, Some("TOKEN_FORBIDDEN"), NOT_ALLOWED),
            (CreateTokenOrder, 404, Some("TOKEN_NOT_FOUND"), NotFound),
            (CreateTokenOrder, 409, None, NOT_ALLOWED),
            (
                CreateTokenOrder,
                503,
                Some("SERVICE_UNAVAILABLE"),
                OutcomeUnknown,
            ),
            (ReadCustomerToken, 404, Some("NOT_FOUND"), NotFound),
            (ReadCustomerToken, 403, None, NOT_ALLOWED),
            (CancelCustomerToken, 400, None, InvalidRequest),
            (CancelCustomerToken, 403, None, NOT_ALLOWED),
            (CancelCustomerToken, 404, None, NotFound),
            (CancelCustomerToken, 500, None, OutcomeUnknown),
            // §1.5 Order Management, §4.2–§4.4, §11.4.
            (RefundOrder, 400, Some("NOT_FOUND"), InvalidRequest),
            (GetOrder, 400, Some("INVALID_ORDER_ID"), InvalidRequest),
            (CaptureOrder, 403, Some("CAPTURE_NOT_ALLOWED"), NOT_ALLOWED),
            (CancelOrder, 403, Some("CANCEL_NOT_ALLOWED"), NOT_ALLOWED),
            (RefundOrder, 403, Some("REFUND_NOT_ALLOWED"), NOT_ALLOWED),
            (
                ReleaseRemainingAuthorization,
                403,
                Some("NOT_ALLOWED"),
                NOT_ALLOWED,
            ),
            (
                ExtendAuthorizationTime,
                403,
                Some("NOT_ALLOWED"),
                NOT_ALLOWED,
            ),
            (UpdateAuthorization, 403, Some("NOT_ALLOWED"), NOT_ALLOWED),
            (GetOrder, 404, Some("NO_SUCH_ORDER"), NotFound),
            (CaptureOrder, 404, Some("NO_SUCH_ORDER"), NotFound),
            (GetCapture, 404, Some("NO_SUCH_CAPTURE"), NotFound),
            (GetRefund, 404, Some("NOT_FOUND"), NotFound),
            // 409 CONFLICT on a keyed call: the first request with the same key is still in
            // flight (it may yet succeed); any other 409 is a refusal.
            (CaptureOrder, 409, Some("CONFLICT"), OutcomeUnknown),
            (RefundOrder, 409, Some("CONFLICT"), OutcomeUnknown),
            (CancelOrder, 409, Some("CONFLICT"), OutcomeUnknown),
            (UpdateAuthorization, 409, Some("CONFLICT"), OutcomeUnknown),
            (CreateTokenOrder, 409, Some("CONFLICT"), OutcomeUnknown),
            (CaptureOrder, 409, None, NOT_ALLOWED),
            (CaptureOrder, 409, Some("BAD_VALUE"), NOT_ALLOWED),
            (CreateTokenOrder, 409, Some("BAD_VALUE"), NOT_ALLOWED),
            (CreateOrder, 409, Some("CONFLICT"), Reauthorize),
            (GetOrder, 409, Some("CONFLICT"), NOT_ALLOWED),
            (CaptureOrder, 413, Some("REQUEST_TOO_LARGE"), InvalidRequest),
            (CaptureOrder, 413, None, InvalidRequest),
            (CaptureOrder, 422, Some("INVALID_ADDRESS"), InvalidRequest),
            (
                UpdateCustomerDetails,
                422,
                Some("UNPROCESSABLE_ENTITY"),
                InvalidRequest,
            ),
            (GetOrder, 429, Some("TOO_MANY_REQUESTS"), Retry),
            (CaptureOrder, 500, Some("UNEXPECTED_ERROR"), OutcomeUnknown),
            (
                CaptureOrder,
                503,
                Some("TEMPORARILY_UNAVAILABLE"),
                OutcomeUnknown,
            ),
            (GetOrder, 500, Some("INTERNAL_SERVER_ERROR"), Retry),
            (GetOrder, 504, Some("TEMPORARILY_UNAVAILABLE"), Retry),
            // Silent docs: a mutation may have taken effect, a read may be repeated.
            (
                CreateOrder,
                422,
                Some("UNPROCESSABLE_ENTITY"),
                OutcomeUnknown,
            ),
            (CreateSession, 404, None, OutcomeUnknown),
            (CancelCustomerToken, 409, None, OutcomeUnknown),
            (CaptureOrder, 405, None, OutcomeUnknown),
            (CaptureOrder, 302, None, OutcomeUnknown),
            (GetOrder, 302, None, Retry),
            (GetOrder, 418, None, InvalidRequest),
            (CreateOrder, 101, None, OutcomeUnknown),
            // docs/klarna/settlements.md §3: reads, classified by status.
            (ListPayouts, 400, Some("BAD_VALUE"), InvalidRequest),
            (GetPayout, 404, Some("NOT_FOUND"), NotFound),
            (PayoutReportCsv, 404, None, NotFound),
            (ListTransactions, 401, None, Unauthorized),
            (PayoutsSummary, 503, None, Retry),
            (SummaryReportCsv, 429, None, Retry),
        ];
        for &(op, status, code, expected) in table {
            let mapped = gateway_error(op, &api_error(op, status, code));
            assert_eq!(mapped.action, expected, "{op} {status} {code:?}");
            assert!(mapped.may_have_reached_klarna, "{op} {status}");
            assert_eq!(mapped.status, Some(status));
            assert_eq!(mapped.code.as_deref(), code);
            assert_eq!(mapped.messages, vec!["m".to_owned()]);
            assert_eq!(mapped.correlation_id.as_deref(), Some("corr"));
            assert_eq!(mapped.operation, op.name());
            // Refusals only for 4xx answers (the port's contract).
            if mapped.action.is_refusal() {
                assert!((400..500).contains(&status), "{op} {status}");
            }
        }
    }

    #[test]
    fn every_row_is_reachable_and_every_answer_classified() {
        // Each row but the catch-all wins for some (operation, status, code).
        let codes = [
            None,
            Some("MERCHANT_INACTIVE"),
            Some("SESSION_COMPLETED"),
            Some("INVALID_OPERATION"),
            Some("REJECTED"),
            Some("TOKEN_CANCELED"),
            Some("TOKEN_SUSPENDED"),
            Some("PAYMENT_METHOD_FAILED"),
            Some("PAYMENT_METHOD_CURRENCY_MISMATCH"),
            Some("TOKEN_FORBIDDEN"),
            Some("CONFLICT"),
        ];
        let mut used = [false; TABLE.len()];
        for op in Operation::ALL {
            for status in 100..=599 {
                for code in codes {
                    let i = TABLE
                        .iter()
                        .position(|r| {
                            (r.ops)(op)
                                && (r.status.0..=r.status.1).contains(&status)
                                && (r.codes.is_empty()
                                    || code.is_some_and(|c| r.codes.contains(&c)))
                        })
                        .unwrap();
                    used[i] = true;
                    let action = answer_action(op, status, code);
                    if action.is_refusal() {
                        assert!((400..500).contains(&status), "{op} {status}");
                    }
                    if !(400..500).contains(&status) || status == 429 {
                        assert!(!action.is_refusal(), "{op} {status} {code:?}");
                    }
                }
            }
        }
        assert!(used.iter().all(|u| *u), "{used:?}");
    }

    #[test]
    fn transport_mapping_table() {
        use ErrorAction::*;
        let not_sent = KlarnaError::NotSent {
            operation: Operation::CreateOrder,
            detail: "refused".into(),
        };
        let e = gateway_error(Operation::CreateOrder, &not_sent);
        assert_eq!((e.action, e.may_have_reached_klarna), (Retry, false));
        assert!(!not_sent.may_have_reached_klarna());

        for op in [
            Operation::CreateOrder,
            Operation::CaptureOrder,
            Operation::RefundOrder,
            Operation::CancelCustomerToken,
        ] {
            let maybe = KlarnaError::MaybeSent {
                operation: op,
                detail: "timeout".into(),
            };
            assert!(maybe.may_have_reached_klarna());
            let e = gateway_error(op, &maybe);
            assert_eq!(
                (e.action, e.may_have_reached_klarna),
                (OutcomeUnknown, true)
            );
            let malformed = KlarnaError::MalformedResponse {
                operation: op,
                status: 200,
                correlation_id: Some("c".into()),
                detail: "eof".into(),
            };
            let e = gateway_error(op, &malformed);
            assert_eq!((e.action, e.status), (OutcomeUnknown, Some(200)));
            assert_eq!(e.correlation_id.as_deref(), Some("c"));
            let large = KlarnaError::ResponseTooLarge {
                operation: op,
                status: 200,
                correlation_id: None,
                limit: 1,
            };
            assert_eq!(gateway_error(op, &large).action, OutcomeUnknown);
        }
        let read = KlarnaError::MaybeSent {
            operation: Operation::GetOrder,
            detail: "timeout".into(),
        };
        assert_eq!(gateway_error(Operation::GetOrder, &read).action, Retry);
        let input = KlarnaError::InvalidInput {
            field: "idempotency_key",
            reason: "bad".into(),
        };
        assert!(!input.may_have_reached_klarna());
        assert_eq!(input.action(), InvalidRequest);
        let e = gateway_error(Operation::CaptureOrder, &input);
        assert_eq!(
            (e.action, e.may_have_reached_klarna),
            (InvalidRequest, false)
        );
        assert_eq!(e.operation, "order_management.capture");
    }
}
