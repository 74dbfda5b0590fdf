//! Driven port: the clock. The domain never reads time; the service asks this port.

use std::sync::atomic::{AtomicI64, Ordering};

use klarna_domain::{Span, Timestamp};

/// Where the service reads the time.
///
/// # Contract
/// - MUST be monotonic enough for expiry decisions: successive calls SHOULD NOT go backwards.
#[cfg_attr(feature = "test-util", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one adapter that reads the system clock"
    )]
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(millis)
    }
}

/// A clock that moves only when told: for tests, simulations and demos.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.unix_millis()))
    }
    /// Moves the clock forward.
    pub fn advance(&self, span: Span) {
        self.0.fetch_add(span.as_millis(), Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}
