//! Payloads Klarna POSTs to the merchant (API.md §1.10): the authorization callback and the
//! pending-fraud notification.

use serde::{Deserialize, Serialize};

use crate::REDACTED;

/// Body of the `merchant_urls.authorization` callback. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthorizationCallback {
    /// The authorization token (single use, valid 60 minutes).
    pub authorization_token: String,
    /// The session that was authorized.
    pub session_id: String,
}

impl std::fmt::Debug for AuthorizationCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCallback")
            .field("authorization_token", &REDACTED)
            .field("session_id", &self.session_id)
            .finish()
    }
}

open_enum! {
    /// `event_type` of a pending-fraud notification (API.md §1.10).
    pub enum NotificationEventType {
        /// Klarna accepted the order after review.
        FraudRiskAccepted => "FRAUD_RISK_ACCEPTED",
        /// Klarna rejected the order after review.
        FraudRiskRejected => "FRAUD_RISK_REJECTED",
        /// Klarna stopped the order.
        FraudRiskStopped => "FRAUD_RISK_STOPPED",
    }
}

/// Body of the `merchant_urls.notification` callback.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FraudNotification {
    /// The order concerned.
    pub order_id: String,
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<NotificationEventType>,
}
