//! The statuses of the simulator's state as enums, each with its wire spelling: intent, session
//! status, fraud status, order status and customer-token status.

use std::fmt;

/// A payment session's `intent` (API.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Intent {
    /// `buy`, Klarna's default.
    Buy,
    /// `tokenize`: a customer token, no order.
    Tokenize,
    /// `buy_and_tokenize`: one order and one customer token.
    BuyAndTokenize,
}

impl Intent {
    /// The intent spelled exactly `s`, if any.
    pub(super) fn from_wire(s: &str) -> Option<Self> {
        match s {
            "buy" => Some(Self::Buy),
            "tokenize" => Some(Self::Tokenize),
            "buy_and_tokenize" => Some(Self::BuyAndTokenize),
            _ => None,
        }
    }

    /// The wire spelling.
    pub(super) fn wire(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Tokenize => "tokenize",
            Self::BuyAndTokenize => "buy_and_tokenize",
        }
    }
}

/// A payment session's `status` in P2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionStatus {
    /// No order (or, for `tokenize`, no customer token) yet: the session can still be updated.
    Incomplete,
    /// An order (or customer token) exists: updates and new shopper steps are refused.
    Complete,
}

impl SessionStatus {
    /// The wire spelling.
    pub(super) fn wire(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::Complete => "complete",
        }
    }
}

/// An authorization's or order's `fraud_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FraudStatus {
    /// `ACCEPTED`: the order may be captured.
    Accepted,
    /// `PENDING`: under review; captures are refused until resolved.
    Pending,
    /// `REJECTED`: the order is cancelled.
    Rejected,
    /// `STOPPED`: Klarna stopped an accepted order (`FRAUD_RISK_STOPPED`); it is not
    /// cancelled, and captures are refused until the stop is lifted. Never a starting status.
    Stopped,
}

impl FraudStatus {
    /// The status an order may start with, spelled exactly `s`, if any (`STOPPED` is not one:
    /// Klarna stops orders it accepted earlier).
    pub(super) fn from_wire(s: &str) -> Option<Self> {
        match s {
            "ACCEPTED" => Some(Self::Accepted),
            "PENDING" => Some(Self::Pending),
            "REJECTED" => Some(Self::Rejected),
            _ => None,
        }
    }

    /// The wire spelling.
    pub(super) fn wire(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Stopped => "STOPPED",
        }
    }

    /// The `klarna-api` wire model of this status.
    pub(super) fn to_api(self) -> klarna_api::FraudStatus {
        match self {
            Self::Accepted => klarna_api::FraudStatus::Accepted,
            Self::Pending => klarna_api::FraudStatus::Pending,
            Self::Rejected => klarna_api::FraudStatus::Rejected,
            Self::Stopped => klarna_api::FraudStatus::Stopped,
        }
    }
}

impl fmt::Display for FraudStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire())
    }
}

/// An order's Order Management `status` (derived from its captures, closure and expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OrderStatus {
    /// `AUTHORIZED`: nothing captured yet.
    Authorized,
    /// `PART_CAPTURED`: some of the authorized amount captured.
    PartCaptured,
    /// `CAPTURED`: the whole authorized amount captured.
    Captured,
    /// `CANCELLED`: cancelled by O7 or a fraud rejection.
    Cancelled,
    /// `EXPIRED`: the authorization ran out without a capture.
    Expired,
    /// `CLOSED`: the rest of the authorization released, or expired after a partial capture.
    Closed,
}

impl OrderStatus {
    /// The wire spelling.
    pub(super) fn wire(self) -> &'static str {
        match self {
            Self::Authorized => "AUTHORIZED",
            Self::PartCaptured => "PART_CAPTURED",
            Self::Captured => "CAPTURED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Closed => "CLOSED",
        }
    }

    /// Whether the authorization is still usable: `AUTHORIZED` or `PART_CAPTURED`.
    pub(super) fn is_open(self) -> bool {
        matches!(self, Self::Authorized | Self::PartCaptured)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire())
    }
}

/// A customer token's status (T1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenStatus {
    /// `ACTIVE`: can be charged.
    Active,
    /// `CANCELLED`: cancelled by T3; charges are refused.
    Cancelled,
}

impl TokenStatus {
    /// The `klarna-api` wire model of this status.
    pub(super) fn to_api(self) -> klarna_api::TokenStatus {
        match self {
            Self::Active => klarna_api::TokenStatus::Active,
            Self::Cancelled => klarna_api::TokenStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_round_trips_its_wire_spelling_exactly() {
        for (i, wire) in [
            (Intent::Buy, "buy"),
            (Intent::Tokenize, "tokenize"),
            (Intent::BuyAndTokenize, "buy_and_tokenize"),
        ] {
            assert_eq!(i.wire(), wire);
            assert_eq!(Intent::from_wire(wire), Some(i));
        }
        assert_eq!(Intent::from_wire("TOKENIZE"), None);
        assert_eq!(Intent::from_wire("Buy"), None);
    }

    #[test]
    fn fraud_status_round_trips_its_wire_spelling() {
        for s in [
            FraudStatus::Accepted,
            FraudStatus::Pending,
            FraudStatus::Rejected,
        ] {
            assert_eq!(FraudStatus::from_wire(s.wire()), Some(s));
            assert_eq!(s.to_string(), s.wire());
            let api = serde_json::to_value(s.to_api()).ok();
            assert_eq!(api.as_ref().and_then(|v| v.as_str()), Some(s.wire()));
        }
        assert_eq!(FraudStatus::from_wire("accepted"), None);
        assert_eq!(FraudStatus::from_wire("STOPPED"), None);
        assert_eq!(FraudStatus::Stopped.to_string(), "STOPPED");
        let api = serde_json::to_value(FraudStatus::Stopped.to_api()).ok();
        assert_eq!(api.as_ref().and_then(|v| v.as_str()), Some("STOPPED"));
    }

    #[test]
    fn order_statuses_spell_klarnas_names_and_only_two_are_open() {
        let all = [
            (OrderStatus::Authorized, "AUTHORIZED", true),
            (OrderStatus::PartCaptured, "PART_CAPTURED", true),
            (OrderStatus::Captured, "CAPTURED", false),
            (OrderStatus::Cancelled, "CANCELLED", false),
            (OrderStatus::Expired, "EXPIRED", false),
            (OrderStatus::Closed, "CLOSED", false),
        ];
        for (s, wire, open) in all {
            assert_eq!(s.wire(), wire);
            assert_eq!(format!("order is {s}"), format!("order is {wire}"));
            assert_eq!(s.is_open(), open, "{wire}");
        }
    }

    #[test]
    fn session_and_token_statuses_spell_the_wire_names() {
        assert_eq!(SessionStatus::Incomplete.wire(), "incomplete");
        assert_eq!(SessionStatus::Complete.wire(), "complete");
        for (s, wire) in [
            (TokenStatus::Active, "ACTIVE"),
            (TokenStatus::Cancelled, "CANCELLED"),
        ] {
            let api = serde_json::to_value(s.to_api()).ok();
            assert_eq!(api.as_ref().and_then(|v| v.as_str()), Some(wire));
        }
    }
}
