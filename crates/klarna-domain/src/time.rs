//! Time as a value: the domain never reads a clock; callers pass `Timestamp`s in.

use std::fmt;

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// The domain never reads the clock: the service asks its `Clock` port and passes the
/// value in, so every expiry rule is a pure function of its inputs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// A timestamp from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This timestamp moved forward by `span` (saturating at the far future).
    #[must_use]
    pub const fn plus(self, span: Span) -> Self {
        Self(self.0.saturating_add(span.0))
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    #[must_use]
    pub const fn since(self, earlier: Self) -> Span {
        let d = self.0.saturating_sub(earlier.0);
        Span(if d < 0 { 0 } else { d })
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}ms)", self.0)
    }
}

/// A non-negative length of time in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Span(i64);

impl Span {
    /// A span of `n` milliseconds (negative values become zero).
    #[must_use]
    pub const fn millis(n: i64) -> Self {
        Self(if n < 0 { 0 } else { n })
    }
    /// A span of `n` seconds.
    #[must_use]
    pub const fn seconds(n: i64) -> Self {
        Self::millis(n.saturating_mul(1_000))
    }
    /// A span of `n` minutes.
    #[must_use]
    pub const fn minutes(n: i64) -> Self {
        Self::seconds(n.saturating_mul(60))
    }
    /// A span of `n` hours.
    #[must_use]
    pub const fn hours(n: i64) -> Self {
        Self::minutes(n.saturating_mul(60))
    }
    /// A span of `n` days.
    #[must_use]
    pub const fn days(n: i64) -> Self {
        Self::hours(n.saturating_mul(24))
    }
    /// Length in milliseconds.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

/// Lifetimes Klarna documents (API.md §1.7).
pub mod lifetimes {
    use super::Span;

    /// A payment session lives 48 hours (Klarna's `expires_at` is authoritative when known).
    pub const SESSION: Span = Span::hours(48);
    /// An authorization token must be turned into an order or customer token within 60 minutes.
    pub const AUTHORIZATION: Span = Span::minutes(60);
    /// Default time an order's authorization can be captured.
    pub const ORDER_AUTHORIZATION: Span = Span::days(28);
    /// Authorization time can only be extended within 180 days of the order's creation.
    pub const ORDER_EXTENSION_WINDOW: Span = Span::days(180);
    /// Klarna de-duplicates retries with the same idempotency key for 24 hours.
    pub const IDEMPOTENCY_WINDOW: Span = Span::hours(24);
    /// Klarna keeps the risk of a stopped order only if the merchant replies to the stop
    /// request within 24 hours (API.md §11.3).
    pub const STOP_REPLY: Span = Span::hours(24);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_compose() {
        assert_eq!(Span::hours(1).as_millis(), 3_600_000);
        assert_eq!(Span::millis(-5).as_millis(), 0);
        let t = Timestamp::from_unix_millis(1_000);
        assert_eq!(t.plus(Span::seconds(1)).unix_millis(), 2_000);
        assert_eq!(t.since(Timestamp::from_unix_millis(5_000)), Span::millis(0));
        assert_eq!(
            Timestamp::from_unix_millis(i64::MAX)
                .plus(Span::days(1))
                .unix_millis(),
            i64::MAX
        );
    }
}
