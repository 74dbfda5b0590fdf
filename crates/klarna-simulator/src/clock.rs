//! The simulator's controllable clock: real time since start plus an offset tests can advance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use time::OffsetDateTime;
use time::macros::format_description;

/// Milliseconds since the Unix epoch, the simulator's internal time unit.
pub(crate) type Millis = i64;

/// One minute in milliseconds.
pub(crate) const MINUTE: Millis = 60_000;
/// One hour in milliseconds.
pub(crate) const HOUR: Millis = 60 * MINUTE;
/// One day in milliseconds.
pub(crate) const DAY: Millis = 24 * HOUR;

/// Simulator time = the real time at start + real time elapsed since + an offset.
///
/// The offset only grows (`advance`), so simulated time never runs backwards.
#[derive(Debug)]
pub(crate) struct SimClock {
    base: Millis,
    start: Instant,
    offset: AtomicI64,
}

impl SimClock {
    /// A clock that starts at the current wall-clock time.
    #[allow(
        clippy::disallowed_methods,
        reason = "the simulator is an adapter: it reads the wall clock once, at start"
    )]
    pub(crate) fn new() -> Self {
        let now = OffsetDateTime::now_utc();
        let base = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        Self {
            base,
            start: Instant::now(),
            offset: AtomicI64::new(0),
        }
    }

    /// Current simulator time.
    pub(crate) fn now(&self) -> Millis {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX / 4);
        self.base
            .saturating_add(elapsed)
            .saturating_add(self.offset.load(Ordering::SeqCst))
    }

    /// Moves simulated time forward by `millis` (negative values are ignored).
    pub(crate) fn advance(&self, millis: Millis) {
        if millis > 0 {
            self.offset.fetch_add(millis, Ordering::SeqCst);
        }
    }
}

/// Formats a simulator time as RFC 3339 with milliseconds, as Klarna does (`2024-05-16T09:12:44.000Z`).
pub(crate) fn format_time(ms: Millis) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_klarna() {
        assert_eq!(format_time(1_715_850_764_000), "2024-05-16T09:12:44.000Z");
    }

    #[test]
    fn advance_moves_forward_only() {
        let clock = SimClock::new();
        let before = clock.now();
        clock.advance(DAY);
        assert!(clock.now() >= before + DAY);
        clock.advance(-DAY);
        assert!(clock.now() >= before + DAY);
    }
}
