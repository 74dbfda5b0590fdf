//! Klarna's operations (API.md §0): their names for faults and stats, and routing from method + path.

/// One Klarna operation the simulator answers. The names (see [`Operation::name`]) are what fault
/// rules and [`crate::Stats`] use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// P1 `POST /payments/v1/sessions`.
    CreateSession,
    /// P2 `GET /payments/v1/sessions/{id}`.
    ReadSession,
    /// P3 `POST /payments/v1/sessions/{id}`.
    UpdateSession,
    /// P4 `DELETE /payments/v1/authorizations/{token}`.
    CancelAuthorization,
    /// P5 `POST /payments/v1/authorizations/{token}/order`.
    CreateOrder,
    /// P6 `POST /payments/v1/authorizations/{token}/customer-token`.
    CreateCustomerToken,
    /// T1 `GET /customer-token/v1/tokens/{token}`.
    ReadToken,
    /// T2 `POST /customer-token/v1/tokens/{token}/order`.
    TokenOrder,
    /// T3 `PATCH /customer-token/v1/tokens/{token}/status`.
    UpdateTokenStatus,
    /// O1 `GET /ordermanagement/v1/orders/{id}`.
    GetOrder,
    /// O2 `POST .../captures`.
    Capture,
    /// O3 `GET .../captures`.
    ListCaptures,
    /// O4 `GET .../captures/{capture_id}`.
    GetCapture,
    /// O5 `POST .../refunds`.
    Refund,
    /// O6 `GET .../refunds/{refund_id}`.
    GetRefund,
    /// O7 `POST .../cancel`.
    CancelOrder,
    /// O8 `POST .../release-remaining-authorization`.
    ReleaseRemainingAuthorization,
    /// O9 `POST .../extend-authorization-time`.
    ExtendAuthorizationTime,
    /// O10 `PATCH .../authorization`.
    UpdateAuthorization,
    /// O11 `PATCH .../merchant-references`.
    UpdateMerchantReferences,
    /// O12 `PATCH .../customer-details`.
    UpdateCustomerDetails,
    /// O13 `POST .../shipping-info`.
    AddShippingInfo,
    /// O14 `POST .../captures/{capture_id}/shipping-info`.
    AddCaptureShippingInfo,
    /// O15 `POST .../captures/{capture_id}/trigger-send-out`.
    TriggerSendOut,
    /// O16 `GET .../captures/{capture_id}/extend-due-date-options`.
    ExtendDueDateOptions,
    /// O17 `PATCH .../captures/{capture_id}/extend-due-date`.
    ExtendDueDate,
    /// O18 `POST .../acknowledge`.
    Acknowledge,
}

impl Operation {
    /// Every operation, in API.md §0 order.
    pub const ALL: [Self; 27] = [
        Self::CreateSession,
        Self::ReadSession,
        Self::UpdateSession,
        Self::CancelAuthorization,
        Self::CreateOrder,
        Self::CreateCustomerToken,
        Self::ReadToken,
        Self::TokenOrder,
        Self::UpdateTokenStatus,
        Self::GetOrder,
        Self::Capture,
        Self::ListCaptures,
        Self::GetCapture,
        Self::Refund,
        Self::GetRefund,
        Self::CancelOrder,
        Self::ReleaseRemainingAuthorization,
        Self::ExtendAuthorizationTime,
        Self::UpdateAuthorization,
        Self::UpdateMerchantReferences,
        Self::UpdateCustomerDetails,
        Self::AddShippingInfo,
        Self::AddCaptureShippingInfo,
        Self::TriggerSendOut,
        Self::ExtendDueDateOptions,
        Self::ExtendDueDate,
        Self::Acknowledge,
    ];

    /// The operation's name, `<api>.<verb>`, used by fault rules and stats.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateSession => "payments.create_session",
            Self::ReadSession => "payments.read_session",
            Self::UpdateSession => "payments.update_session",
            Self::CancelAuthorization => "payments.cancel_authorization",
            Self::CreateOrder => "payments.create_order",
            Self::CreateCustomerToken => "payments.create_customer_token",
            Self::ReadToken => "tokens.read",
            Self::TokenOrder => "tokens.create_order",
            Self::UpdateTokenStatus => "tokens.update_status",
            Self::GetOrder => "orders.get",
            Self::Capture => "orders.capture",
            Self::ListCaptures => "orders.list_captures",
            Self::GetCapture => "orders.get_capture",
            Self::Refund => "orders.refund",
            Self::GetRefund => "orders.get_refund",
            Self::CancelOrder => "orders.cancel",
            Self::ReleaseRemainingAuthorization => "orders.release_remaining_authorization",
            Self::ExtendAuthorizationTime => "orders.extend_authorization_time",
            Self::UpdateAuthorization => "orders.update_authorization",
            Self::UpdateMerchantReferences => "orders.update_merchant_references",
            Self::UpdateCustomerDetails => "orders.update_customer_details",
            Self::AddShippingInfo => "orders.add_shipping_info",
            Self::AddCaptureShippingInfo => "orders.add_capture_shipping_info",
            Self::TriggerSendOut => "orders.trigger_send_out",
            Self::ExtendDueDateOptions => "orders.extend_due_date_options",
            Self::ExtendDueDate => "orders.extend_due_date",
            Self::Acknowledge => "orders.acknowledge",
        }
    }

    /// Whether the operation changes state (and so has its answers replayed by
    /// `Klarna-Idempotency-Key` under [`crate::ReplayPolicy::Optimistic`]; the default
    /// [`crate::ReplayPolicy::Pessimistic`] replays only
    /// [`documents_idempotency_key`](Self::documents_idempotency_key) operations).
    pub fn is_mutating(self) -> bool {
        !matches!(
            self,
            Self::ReadSession
                | Self::ReadToken
                | Self::GetOrder
                | Self::ListCaptures
                | Self::GetCapture
                | Self::GetRefund
                | Self::ExtendDueDateOptions
        )
    }

    /// Whether Klarna documents `Klarna-Idempotency-Key` on the operation (API.md §1.4): every
    /// Order Management write (O2, O5, O7–O15, O17, O18) and the token charge T2. The Payments API
    /// (P1–P6) and T1/T3 declare no such header.
    pub fn documents_idempotency_key(self) -> bool {
        matches!(
            self,
            Self::TokenOrder
                | Self::Capture
                | Self::Refund
                | Self::CancelOrder
                | Self::ReleaseRemainingAuthorization
                | Self::ExtendAuthorizationTime
                | Self::UpdateAuthorization
                | Self::UpdateMerchantReferences
                | Self::UpdateCustomerDetails
                | Self::AddShippingInfo
                | Self::AddCaptureShippingInfo
                | Self::TriggerSendOut
                | Self::ExtendDueDate
                | Self::Acknowledge
        )
    }

    /// Routes an HTTP method and path to an operation and its path parameters.
    pub fn route(method: &str, path: &str) -> Option<(Self, Vec<String>)> {
        let segs: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        let p = |s: &str| s.to_owned();
        let found = match (method, segs.as_slice()) {
            ("POST", ["payments", "v1", "sessions"]) => (Self::CreateSession, vec![]),
            ("GET", ["payments", "v1", "sessions", id]) => (Self::ReadSession, vec![p(id)]),
            ("POST", ["payments", "v1", "sessions", id]) => (Self::UpdateSession, vec![p(id)]),
            ("DELETE", ["payments", "v1", "authorizations", t]) => {
                (Self::CancelAuthorization, vec![p(t)])
            }
            ("POST", ["payments", "v1", "authorizations", t, "order"]) => {
                (Self::CreateOrder, vec![p(t)])
            }
            ("POST", ["payments", "v1", "authorizations", t, "customer-token"]) => {
                (Self::CreateCustomerToken, vec![p(t)])
            }
            ("GET", ["customer-token", "v1", "tokens", t]) => (Self::ReadToken, vec![p(t)]),
            ("POST", ["customer-token", "v1", "tokens", t, "order"]) => {
                (Self::TokenOrder, vec![p(t)])
            }
            ("PATCH", ["customer-token", "v1", "tokens", t, "status"]) => {
                (Self::UpdateTokenStatus, vec![p(t)])
            }
            ("GET", ["ordermanagement", "v1", "orders", o]) => (Self::GetOrder, vec![p(o)]),
            ("POST", ["ordermanagement", "v1", "orders", o, "captures"]) => {
                (Self::Capture, vec![p(o)])
            }
            ("GET", ["ordermanagement", "v1", "orders", o, "captures"]) => {
                (Self::ListCaptures, vec![p(o)])
            }
            ("GET", ["ordermanagement", "v1", "orders", o, "captures", c]) => {
                (Self::GetCapture, vec![p(o), p(c)])
            }
            ("POST", ["ordermanagement", "v1", "orders", o, "refunds"]) => {
                (Self::Refund, vec![p(o)])
            }
            ("GET", ["ordermanagement", "v1", "orders", o, "refunds", r]) => {
                (Self::GetRefund, vec![p(o), p(r)])
            }
            ("POST", ["ordermanagement", "v1", "orders", o, "cancel"]) => {
                (Self::CancelOrder, vec![p(o)])
            }
            (
                "POST",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "release-remaining-authorization",
                ],
            ) => (Self::ReleaseRemainingAuthorization, vec![p(o)]),
            (
                "POST",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "extend-authorization-time",
                ],
            ) => (Self::ExtendAuthorizationTime, vec![p(o)]),
            ("PATCH", ["ordermanagement", "v1", "orders", o, "authorization"]) => {
                (Self::UpdateAuthorization, vec![p(o)])
            }
            ("PATCH", ["ordermanagement", "v1", "orders", o, "merchant-references"]) => {
                (Self::UpdateMerchantReferences, vec![p(o)])
            }
            ("PATCH", ["ordermanagement", "v1", "orders", o, "customer-details"]) => {
                (Self::UpdateCustomerDetails, vec![p(o)])
            }
            ("POST", ["ordermanagement", "v1", "orders", o, "shipping-info"]) => {
                (Self::AddShippingInfo, vec![p(o)])
            }
            (
                "POST",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "captures",
                    c,
                    "shipping-info",
                ],
            ) => (Self::AddCaptureShippingInfo, vec![p(o), p(c)]),
            (
                "POST",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "captures",
                    c,
                    "trigger-send-out",
                ],
            ) => (Self::TriggerSendOut, vec![p(o), p(c)]),
            (
                "GET",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "captures",
                    c,
                    "extend-due-date-options",
                ],
            ) => (Self::ExtendDueDateOptions, vec![p(o), p(c)]),
            (
                "PATCH",
                [
                    "ordermanagement",
                    "v1",
                    "orders",
                    o,
                    "captures",
                    c,
                    "extend-due-date",
                ],
            ) => (Self::ExtendDueDate, vec![p(o), p(c)]),
            ("POST", ["ordermanagement", "v1", "orders", o, "acknowledge"]) => {
                (Self::Acknowledge, vec![p(o)])
            }
            _ => return None,
        };
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_operation_uniquely() {
        let mut names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
        assert_eq!(
            Operation::route("POST", "/payments/v1/authorizations/abc/order"),
            Some((Operation::CreateOrder, vec!["abc".to_owned()]))
        );
        assert_eq!(Operation::route("PUT", "/payments/v1/sessions/x"), None);
    }

    #[test]
    fn documented_keys_are_order_management_writes_and_token_charges_only() {
        for op in Operation::ALL {
            let name = op.name();
            let expected =
                (name.starts_with("orders.") && op.is_mutating()) || op == Operation::TokenOrder;
            assert_eq!(op.documents_idempotency_key(), expected, "{name}");
            // A documented key is only ever on a write.
            assert!(
                !op.documents_idempotency_key() || op.is_mutating(),
                "{name}"
            );
        }
        assert!(!Operation::CreateOrder.documents_idempotency_key());
        assert!(!Operation::CreateCustomerToken.documents_idempotency_key());
        assert!(!Operation::UpdateTokenStatus.documents_idempotency_key());
    }
}
