//! The customer token aggregate: ACTIVE, SUSPENDED, CANCELLED; only ACTIVE tokens are charged.

use crate::ids::{CustomerTokenId, PaymentId};
use crate::market::Market;
use crate::time::Timestamp;

/// Status of a customer token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TokenStatus {
    /// May be charged.
    Active,
    /// Klarna suspended it; it may come back.
    Suspended,
    /// Cancelled for good (terminal).
    Cancelled,
}

impl TokenStatus {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
            Self::Cancelled => "CANCELLED",
        }
    }
    /// Parses Klarna's spelling, case-insensitively (the docs write both cases).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(Self::Active),
            "SUSPENDED" => Some(Self::Suspended),
            "CANCELLED" | "CANCELED" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// Why a token cannot be used.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("the customer token is {}", .0.as_str())]
pub struct TokenNotChargeable(pub TokenStatus);

/// A customer token: lets the merchant charge the shopper later, shopper absent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CustomerToken {
    id: CustomerTokenId,
    origin: PaymentId,
    market: Market,
    status: TokenStatus,
    created_at: Timestamp,
}

impl CustomerToken {
    /// A token Klarna just issued for the payment `origin`.
    #[must_use]
    pub fn issued(id: CustomerTokenId, origin: PaymentId, market: Market, now: Timestamp) -> Self {
        Self {
            id,
            origin,
            market,
            status: TokenStatus::Active,
            created_at: now,
        }
    }
    /// Rebuilds a stored token.
    #[must_use]
    pub fn restore(
        id: CustomerTokenId,
        origin: PaymentId,
        market: Market,
        status: TokenStatus,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id,
            origin,
            market,
            status,
            created_at,
        }
    }
    /// The token.
    #[must_use]
    pub fn id(&self) -> &CustomerTokenId {
        &self.id
    }
    /// The payment that created it.
    #[must_use]
    pub fn origin(&self) -> &PaymentId {
        &self.origin
    }
    /// The market it was authorized in (charges use its currency).
    #[must_use]
    pub fn market(&self) -> Market {
        self.market
    }
    /// Status.
    #[must_use]
    pub fn status(&self) -> TokenStatus {
        self.status
    }
    /// When it was issued.
    #[must_use]
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Checks the token may be charged.
    ///
    /// # Errors
    /// [`TokenNotChargeable`] unless the token is `ACTIVE`.
    pub fn ensure_chargeable(&self) -> Result<(), TokenNotChargeable> {
        match self.status {
            TokenStatus::Active => Ok(()),
            TokenStatus::Suspended | TokenStatus::Cancelled => Err(TokenNotChargeable(self.status)),
        }
    }

    /// Cancels the token for good.
    #[must_use]
    pub fn cancel(mut self) -> Self {
        self.status = TokenStatus::Cancelled;
        self
    }

    /// Applies the status Klarna reports. `CANCELLED` absorbs: a cancelled token never
    /// becomes active again, whatever a stale read says.
    #[must_use]
    pub fn observe(mut self, reported: TokenStatus) -> Self {
        if self.status != TokenStatus::Cancelled {
            self.status = reported;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_tokens_charge_and_cancel_absorbs() {
        let m = Market::parse("US", "USD", "en-US").unwrap();
        let t = CustomerToken::issued(
            CustomerTokenId::new("ct").unwrap(),
            PaymentId::new("p").unwrap(),
            m,
            Timestamp::EPOCH,
        );
        assert!(t.ensure_chargeable().is_ok());
        let s = t.clone().observe(TokenStatus::Suspended);
        assert_eq!(
            s.ensure_chargeable(),
            Err(TokenNotChargeable(TokenStatus::Suspended))
        );
        let c = s
            .observe(TokenStatus::Active)
            .cancel()
            .observe(TokenStatus::Active);
        assert_eq!(c.status(), TokenStatus::Cancelled);
        assert!(c.ensure_chargeable().is_err());
        assert_eq!(TokenStatus::parse("active"), Some(TokenStatus::Active));
    }
}
