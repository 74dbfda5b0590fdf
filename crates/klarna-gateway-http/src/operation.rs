//! The catalogue of Klarna operations (API.md §0, and S1–S8 of `docs/klarna/settlements.md`):
//! name, HTTP method, path template, the media type answered and whether a retry is safe. Errors and logs name operations through this type.

use std::fmt;

/// HTTP method of an operation (only the ones Klarna's merchant APIs use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method name as sent on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One Klarna operation. The doc of each variant gives its API.md §0 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// P1 `POST /payments/v1/sessions`.
    CreateSession,
    /// P2 `GET /payments/v1/sessions/{session_id}`.
    ReadSession,
    /// P3 `POST /payments/v1/sessions/{session_id}`.
    UpdateSession,
    /// P4 `DELETE /payments/v1/authorizations/{authorizationToken}`.
    CancelAuthorization,
    /// P5 `POST /payments/v1/authorizations/{authorizationToken}/order`.
    CreateOrder,
    /// P6 `POST /payments/v1/authorizations/{authorizationToken}/customer-token`.
    CreateCustomerToken,
    /// T1 `GET /customer-token/v1/tokens/{customerToken}`.
    ReadCustomerToken,
    /// T2 `POST /customer-token/v1/tokens/{customerToken}/order`.
    CreateTokenOrder,
    /// T3 `PATCH /customer-token/v1/tokens/{customerToken}/status`.
    CancelCustomerToken,
    /// O1 `GET /ordermanagement/v1/orders/{order_id}`.
    GetOrder,
    /// O2 `POST …/orders/{order_id}/captures`.
    CaptureOrder,
    /// O3 `GET …/orders/{order_id}/captures`.
    ListCaptures,
    /// O4 `GET …/orders/{order_id}/captures/{capture_id}`.
    GetCapture,
    /// O5 `POST …/orders/{order_id}/refunds`.
    RefundOrder,
    /// O6 `GET …/orders/{order_id}/refunds/{refund_id}`.
    GetRefund,
    /// O7 `POST …/orders/{order_id}/cancel`.
    CancelOrder,
    /// O8 `POST …/orders/{order_id}/release-remaining-authorization`.
    ReleaseRemainingAuthorization,
    /// O9 `POST …/orders/{order_id}/extend-authorization-time`.
    ExtendAuthorizationTime,
    /// O10 `PATCH …/orders/{order_id}/authorization`.
    UpdateAuthorization,
    /// O11 `PATCH …/orders/{order_id}/merchant-references`.
    UpdateMerchantReferences,
    /// O12 `PATCH …/orders/{order_id}/customer-details`.
    UpdateCustomerDetails,
    /// O13 `POST …/orders/{order_id}/shipping-info`.
    AddShippingInfo,
    /// O14 `POST …/orders/{order_id}/captures/{capture_id}/shipping-info`.
    AddCaptureShippingInfo,
    /// O15 `POST …/orders/{order_id}/captures/{capture_id}/trigger-send-out`.
    TriggerSendOut,
    /// O16 `GET …/orders/{order_id}/captures/{capture_id}/extend-due-date-options`.
    GetExtendDueDateOptions,
    /// O17 `PATCH …/orders/{order_id}/captures/{capture_id}/extend-due-date`.
    ExtendDueDate,
    /// O18 `POST …/orders/{order_id}/acknowledge`.
    AcknowledgeOrder,
    /// S1 `GET /settlements/v1/payouts`.
    ListPayouts,
    /// S2 `GET /settlements/v1/payouts/{payment_reference}`.
    GetPayout,
    /// S3 `GET /settlements/v1/payouts/summary`.
    PayoutsSummary,
    /// S4 `GET /settlements/v1/transactions`.
    ListTransactions,
    /// S5 `GET /settlements/v1/reports/payout-with-transactions` (CSV).
    PayoutReportCsv,
    /// S6 `GET /settlements/v1/reports/payout` (PDF).
    PayoutReportPdf,
    /// S7 `GET /settlements/v1/reports/payouts-summary-with-transactions` (CSV).
    SummaryReportCsv,
    /// S8 `GET /settlements/v1/reports/payouts-summary` (PDF).
    SummaryReportPdf,
    /// H1 `POST /hpp/v1/sessions` (`docs/klarna/hpp.md`).
    CreateHppSession,
    /// H2 `GET /hpp/v1/sessions/{session_id}`.
    ReadHppSession,
    /// H3 `DELETE /hpp/v1/sessions/{session_id}`.
    DisableHppSession,
    /// H4 `POST /hpp/v1/sessions/{session_id}/distribution`.
    DistributeHppSession,
}

impl Operation {
    /// Every operation, in API.md §0 order, then the Settlements API's S1–S8, then the Hosted
    /// Payment Page's H1–H4.
    pub const ALL: [Self; 39] = [
        Self::CreateSession,
        Self::ReadSession,
        Self::UpdateSession,
        Self::CancelAuthorization,
        Self::CreateOrder,
        Self::CreateCustomerToken,
        Self::ReadCustomerToken,
        Self::CreateTokenOrder,
        Self::CancelCustomerToken,
        Self::GetOrder,
        Self::CaptureOrder,
        Self::ListCaptures,
        Self::GetCapture,
        Self::RefundOrder,
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
        Self::GetExtendDueDateOptions,
        Self::ExtendDueDate,
        Self::AcknowledgeOrder,
        Self::ListPayouts,
        Self::GetPayout,
        Self::PayoutsSummary,
        Self::ListTransactions,
        Self::PayoutReportCsv,
        Self::PayoutReportPdf,
        Self::SummaryReportCsv,
        Self::SummaryReportPdf,
        Self::CreateHppSession,
        Self::ReadHppSession,
        Self::DisableHppSession,
        Self::DistributeHppSession,
    ];

    /// Stable name used in logs and errors, e.g. `payments.create_order`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateSession => "payments.create_session",
            Self::ReadSession => "payments.read_session",
            Self::UpdateSession => "payments.update_session",
            Self::CancelAuthorization => "payments.cancel_authorization",
            Self::CreateOrder => "payments.create_order",
            Self::CreateCustomerToken => "payments.create_customer_token",
            Self::ReadCustomerToken => "customer_token.read",
            Self::CreateTokenOrder => "customer_token.create_order",
            Self::CancelCustomerToken => "customer_token.cancel",
            Self::GetOrder => "order_management.get_order",
            Self::CaptureOrder => "order_management.capture",
            Self::ListCaptures => "order_management.list_captures",
            Self::GetCapture => "order_management.get_capture",
            Self::RefundOrder => "order_management.refund",
            Self::GetRefund => "order_management.get_refund",
            Self::CancelOrder => "order_management.cancel",
            Self::ReleaseRemainingAuthorization => {
                "order_management.release_remaining_authorization"
            }
            Self::ExtendAuthorizationTime => "order_management.extend_authorization_time",
            Self::UpdateAuthorization => "order_management.update_authorization",
            Self::UpdateMerchantReferences => "order_management.update_merchant_references",
            Self::UpdateCustomerDetails => "order_management.update_customer_details",
            Self::AddShippingInfo => "order_management.add_shipping_info",
            Self::AddCaptureShippingInfo => "order_management.add_capture_shipping_info",
            Self::TriggerSendOut => "order_management.trigger_send_out",
            Self::GetExtendDueDateOptions => "order_management.get_extend_due_date_options",
            Self::ExtendDueDate => "order_management.extend_due_date",
            Self::AcknowledgeOrder => "order_management.acknowledge",
            Self::ListPayouts => "settlements.list_payouts",
            Self::GetPayout => "settlements.get_payout",
            Self::PayoutsSummary => "settlements.payouts_summary",
            Self::ListTransactions => "settlements.list_transactions",
            Self::PayoutReportCsv => "settlements.payout_report_csv",
            Self::PayoutReportPdf => "settlements.payout_report_pdf",
            Self::SummaryReportCsv => "settlements.summary_report_csv",
            Self::SummaryReportPdf => "settlements.summary_report_pdf",
            Self::CreateHppSession => "hpp.create_session",
            Self::ReadHppSession => "hpp.read_session",
            Self::DisableHppSession => "hpp.disable_session",
            Self::DistributeHppSession => "hpp.distribute_session",
        }
    }

    /// HTTP method.
    #[must_use]
    pub fn method(self) -> HttpMethod {
        match self {
            Self::ReadSession
            | Self::ReadCustomerToken
            | Self::GetOrder
            | Self::ListCaptures
            | Self::GetCapture
            | Self::GetRefund
            | Self::GetExtendDueDateOptions
            | Self::ListPayouts
            | Self::GetPayout
            | Self::PayoutsSummary
            | Self::ListTransactions
            | Self::PayoutReportCsv
            | Self::PayoutReportPdf
            | Self::SummaryReportCsv
            | Self::SummaryReportPdf
            | Self::ReadHppSession => HttpMethod::Get,
            Self::CancelAuthorization | Self::DisableHppSession => HttpMethod::Delete,
            Self::CancelCustomerToken
            | Self::UpdateAuthorization
            | Self::UpdateMerchantReferences
            | Self::UpdateCustomerDetails
            | Self::ExtendDueDate => HttpMethod::Patch,
            Self::CreateSession
            | Self::UpdateSession
            | Self::CreateOrder
            | Self::CreateCustomerToken
            | Self::CreateTokenOrder
            | Self::CaptureOrder
            | Self::RefundOrder
            | Self::CancelOrder
            | Self::ReleaseRemainingAuthorization
            | Self::ExtendAuthorizationTime
            | Self::AddShippingInfo
            | Self::AddCaptureShippingInfo
            | Self::TriggerSendOut
            | Self::AcknowledgeOrder
            | Self::CreateHppSession
            | Self::DistributeHppSession => HttpMethod::Post,
        }
    }

    /// Path template with placeholders; this, never the real path, is what logs show,
    /// because real paths carry authorization and customer tokens.
    #[must_use]
    pub fn path_template(self) -> &'static str {
        match self {
            Self::CreateSession => "/payments/v1/sessions",
            Self::ReadSession | Self::UpdateSession => "/payments/v1/sessions/{session_id}",
            Self::CancelAuthorization => "/payments/v1/authorizations/{token}",
            Self::CreateOrder => "/payments/v1/authorizations/{token}/order",
            Self::CreateCustomerToken => "/payments/v1/authorizations/{token}/customer-token",
            Self::ReadCustomerToken => "/customer-token/v1/tokens/{token}",
            Self::CreateTokenOrder => "/customer-token/v1/tokens/{token}/order",
            Self::CancelCustomerToken => "/customer-token/v1/tokens/{token}/status",
            Self::GetOrder => "/ordermanagement/v1/orders/{order_id}",
            Self::CaptureOrder | Self::ListCaptures => {
                "/ordermanagement/v1/orders/{order_id}/captures"
            }
            Self::GetCapture => "/ordermanagement/v1/orders/{order_id}/captures/{capture_id}",
            Self::RefundOrder => "/ordermanagement/v1/orders/{order_id}/refunds",
            Self::GetRefund => "/ordermanagement/v1/orders/{order_id}/refunds/{refund_id}",
            Self::CancelOrder => "/ordermanagement/v1/orders/{order_id}/cancel",
            Self::ReleaseRemainingAuthorization => {
                "/ordermanagement/v1/orders/{order_id}/release-remaining-authorization"
            }
            Self::ExtendAuthorizationTime => {
                "/ordermanagement/v1/orders/{order_id}/extend-authorization-time"
            }
            Self::UpdateAuthorization => "/ordermanagement/v1/orders/{order_id}/authorization",
            Self::UpdateMerchantReferences => {
                "/ordermanagement/v1/orders/{order_id}/merchant-references"
            }
            Self::UpdateCustomerDetails => "/ordermanagement/v1/orders/{order_id}/customer-details",
            Self::AddShippingInfo => "/ordermanagement/v1/orders/{order_id}/shipping-info",
            Self::AddCaptureShippingInfo => {
                "/ordermanagement/v1/orders/{order_id}/captures/{capture_id}/shipping-info"
            }
            Self::TriggerSendOut => {
                "/ordermanagement/v1/orders/{order_id}/captures/{capture_id}/trigger-send-out"
            }
            Self::GetExtendDueDateOptions => {
                "/ordermanagement/v1/orders/{order_id}/captures/{capture_id}/extend-due-date-options"
            }
            Self::ExtendDueDate => {
                "/ordermanagement/v1/orders/{order_id}/captures/{capture_id}/extend-due-date"
            }
            Self::AcknowledgeOrder => "/ordermanagement/v1/orders/{order_id}/acknowledge",
            Self::ListPayouts => "/settlements/v1/payouts",
            Self::GetPayout => "/settlements/v1/payouts/{payment_reference}",
            Self::PayoutsSummary => "/settlements/v1/payouts/summary",
            Self::ListTransactions => "/settlements/v1/transactions",
            Self::PayoutReportCsv => "/settlements/v1/reports/payout-with-transactions",
            Self::PayoutReportPdf => "/settlements/v1/reports/payout",
            Self::SummaryReportCsv => "/settlements/v1/reports/payouts-summary-with-transactions",
            Self::SummaryReportPdf => "/settlements/v1/reports/payouts-summary",
            Self::CreateHppSession => "/hpp/v1/sessions",
            Self::ReadHppSession | Self::DisableHppSession => "/hpp/v1/sessions/{session_id}",
            Self::DistributeHppSession => "/hpp/v1/sessions/{session_id}/distribution",
        }
    }

    /// The media type the operation answers with, sent as `Accept`: JSON, except the
    /// Settlements reports (CSV or PDF).
    #[must_use]
    pub fn accept(self) -> &'static str {
        match self {
            Self::PayoutReportCsv | Self::SummaryReportCsv => "text/csv",
            Self::PayoutReportPdf | Self::SummaryReportPdf => "application/pdf",
            _ => "application/json",
        }
    }

    /// Whether the call changes state at Klarna (every POST, PATCH and DELETE). Mutating
    /// calls always carry `Klarna-Idempotency-Key`.
    #[must_use]
    pub fn is_mutating(self) -> bool {
        self.method() != HttpMethod::Get
    }

    /// Whether the path carries an authorization token (P4–P6): a 404 there means the token
    /// expired or was superseded, so the shopper must authorize again.
    #[must_use]
    pub fn uses_authorization_token(self) -> bool {
        matches!(
            self,
            Self::CancelAuthorization | Self::CreateOrder | Self::CreateCustomerToken
        )
    }

    /// Whether Klarna documents `Klarna-Idempotency-Key` for this call (every Order
    /// Management POST/PATCH and T2, API.md §1.4).
    #[must_use]
    pub fn idempotency_documented(self) -> bool {
        self.is_mutating()
            && !matches!(
                self,
                Self::CreateSession
                    | Self::UpdateSession
                    | Self::CancelAuthorization
                    | Self::CreateOrder
                    | Self::CreateCustomerToken
                    | Self::CancelCustomerToken
                    | Self::CreateHppSession
                    | Self::DisableHppSession
                    | Self::DistributeHppSession
            )
    }

    /// Whether repeating the call after an unknown outcome cannot cause a second effect.
    ///
    /// True for reads, for calls whose idempotency key Klarna documents (§1.4), and for P1
    /// (a duplicate session is harmless: unused sessions expire) and P3 (the update
    /// overwrites with the same data). False for P4, P5, P6 and T3: we send a key there too,
    /// but Klarna does not document honouring it, and a repeat after a success that was lost
    /// in transit answers with an error ("already consumed", 404) that would hide the success.
    /// False for H1, H3 and H4 too (no key documented; a repeated H1 makes a second HPP session,
    /// a repeated H4 a second message to the shopper).
    #[must_use]
    pub fn retry_safe(self) -> bool {
        !self.is_mutating()
            || self.idempotency_documented()
            || matches!(self, Self::CreateSession | Self::UpdateSession)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
