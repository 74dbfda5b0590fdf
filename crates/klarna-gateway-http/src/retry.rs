//! The retry policy as a pure function ([`decide`]) plus its configuration ([`RetryConfig`]).
//!
//! Rules (DESIGN.md §6, reliability.md §0 item 5, API.md §1.5):
//! * only transport failures, 429 and 5xx are retried, never another status (a Klarna 409
//!   means "does not match the authorization", a definitive answer; or, as `CONFLICT` on a
//!   keyed call, that the first request with the same key is still in flight, which a repeat
//!   at once would only meet again: the call's outcome is left unknown, see `gateway_error`);
//! * a request that certainly did not reach Klarna (connect failure) and a 429 (Klarna refused
//!   it before processing) are retried for every operation; everything else only when the
//!   operation is safe to repeat (a read, or an idempotency key Klarna honours);
//! * exponential backoff with jitter, `Retry-After` honoured but capped, bounded attempts.

use std::time::Duration;

/// Retry settings. `Default` gives 3 attempts, 500 ms base delay, 5 s cap, `Retry-After`
/// capped at 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Total attempts including the first (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles on every further attempt.
    pub base_delay: Duration,
    /// Upper bound of the computed backoff.
    pub max_delay: Duration,
    /// Upper bound applied to a server-sent `Retry-After`.
    pub retry_after_cap: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// A configuration that never retries.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// What one attempt ended with, as far as the retry policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// No HTTP response. `sent` is false only when the request certainly did not leave
    /// (connection refused, DNS failure, connect timeout).
    Transport {
        /// Whether the request may have reached Klarna.
        sent: bool,
    },
    /// Klarna answered with this non-success status.
    Status(u16),
}

/// The policy's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then send the same request again (same key, same bytes).
    RetryAfter(Duration),
    /// Stop and surface the error.
    GiveUp,
}

/// Decides whether to retry after attempt number `attempt` (1-based) ended with `outcome`.
///
/// `safe` says whether the operation may be repeated after an unknown outcome;
/// `retry_after` is the server's hint; `jitter_permille` (0..=1000, clamped) picks the point
/// in the upper half of the backoff window, so the delay is between 50 % and 100 % of the
/// exponential backoff. Pure: no clock, no randomness.
#[must_use]
pub fn decide(
    attempt: u32,
    outcome: AttemptOutcome,
    safe: bool,
    retry_after: Option<Duration>,
    cfg: &RetryConfig,
    jitter_permille: u32,
) -> Decision {
    if attempt >= cfg.max_attempts {
        return Decision::GiveUp;
    }
    let retryable = match outcome {
        // Certainly never reached Klarna: repeating cannot duplicate anything.
        AttemptOutcome::Transport { sent: false } => true,
        AttemptOutcome::Transport { sent: true } => safe,
        // Klarna rejects rate-limited requests before processing them.
        AttemptOutcome::Status(429) => true,
        AttemptOutcome::Status(status) => (500..=599).contains(&status) && safe,
    };
    if !retryable {
        return Decision::GiveUp;
    }
    if let Some(hint) = retry_after {
        return Decision::RetryAfter(hint.min(cfg.retry_after_cap));
    }
    Decision::RetryAfter(backoff(attempt, cfg, jitter_permille))
}

/// Exponential backoff for the wait after attempt `attempt`: `base × 2^(attempt−1)`, capped at
/// `max_delay`, then scaled into `[50 %, 100 %]` by the jitter.
fn backoff(attempt: u32, cfg: &RetryConfig, jitter_permille: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let full = cfg
        .base_delay
        .saturating_mul(1_u32 << exponent)
        .min(cfg.max_delay);
    let jitter = jitter_permille.min(1000);
    let half = full / 2;
    half + (full - half) * jitter / 1000
}

/// Parses `Retry-After` in its delta-seconds form. The HTTP-date form is ignored: it would
/// need the wall clock, and the exponential backoff is a sound fallback.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RetryConfig {
        RetryConfig {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            retry_after_cap: Duration::from_secs(30),
        }
    }

    const T_SENT: AttemptOutcome = AttemptOutcome::Transport { sent: true };
    const T_NOT_SENT: AttemptOutcome = AttemptOutcome::Transport { sent: false };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn decision_table() {
        use AttemptOutcome::Status;
        use Decision::{GiveUp, RetryAfter};
        // (attempt, outcome, safe, retry_after, jitter, expected)
        type Row = (u32, AttemptOutcome, bool, Option<Duration>, u32, Decision);
        let table: &[Row] = &[
            // Transport failures.
            (1, T_NOT_SENT, false, None, 1000, RetryAfter(ms(500))),
            (1, T_NOT_SENT, true, None, 1000, RetryAfter(ms(500))),
            (1, T_SENT, true, None, 1000, RetryAfter(ms(500))),
            (1, T_SENT, false, None, 1000, GiveUp),
            // 5xx only when safe.
            (1, Status(500), true, None, 1000, RetryAfter(ms(500))),
            (1, Status(503), true, None, 0, RetryAfter(ms(250))),
            (1, Status(599), true, None, 1000, RetryAfter(ms(500))),
            (1, Status(500), false, None, 1000, GiveUp),
            (1, Status(502), false, None, 1000, GiveUp),
            // 429 always (refused before processing).
            (1, Status(429), false, None, 1000, RetryAfter(ms(500))),
            (
                1,
                Status(429),
                true,
                Some(Duration::from_secs(7)),
                0,
                RetryAfter(Duration::from_secs(7)),
            ),
            // Retry-After is capped.
            (
                1,
                Status(429),
                true,
                Some(Duration::from_secs(3600)),
                0,
                RetryAfter(Duration::from_secs(30)),
            ),
            (
                1,
                Status(503),
                true,
                Some(Duration::from_secs(2)),
                500,
                RetryAfter(Duration::from_secs(2)),
            ),
            // Never a 4xx refusal, never a 3xx, even when safe.
            (1, Status(400), true, None, 1000, GiveUp),
            (1, Status(401), true, None, 1000, GiveUp),
            (1, Status(403), true, None, 1000, GiveUp),
            (1, Status(404), true, None, 1000, GiveUp),
            (1, Status(409), true, None, 1000, GiveUp),
            (
                1,
                Status(409),
                true,
                Some(Duration::from_secs(1)),
                1000,
                GiveUp,
            ),
            (1, Status(422), true, None, 1000, GiveUp),
            (1, Status(302), true, None, 1000, GiveUp),
            (1, Status(600), true, None, 1000, GiveUp),
            // Exponential growth, capped at max_delay.
            (2, Status(500), true, None, 1000, RetryAfter(ms(1000))),
            (2, Status(500), true, None, 0, RetryAfter(ms(500))),
            // Bounded attempts.
            (3, Status(500), true, None, 1000, GiveUp),
            (3, T_NOT_SENT, true, None, 1000, GiveUp),
            (
                3,
                Status(429),
                true,
                Some(Duration::from_secs(1)),
                1000,
                GiveUp,
            ),
        ];
        for (i, &(attempt, outcome, safe, ra, jitter, expected)) in table.iter().enumerate() {
            assert_eq!(
                decide(attempt, outcome, safe, ra, &cfg(), jitter),
                expected,
                "row {i}: attempt {attempt} {outcome:?} safe={safe} ra={ra:?}"
            );
        }
    }

    #[test]
    fn backoff_is_capped_and_jitter_stays_in_the_upper_half() {
        let big = RetryConfig {
            max_attempts: 100,
            ..cfg()
        };
        for attempt in 1..60 {
            for jitter in [0, 1, 250, 999, 1000, 5000] {
                let Decision::RetryAfter(d) = decide(
                    attempt,
                    AttemptOutcome::Status(500),
                    true,
                    None,
                    &big,
                    jitter,
                ) else {
                    panic!("attempt {attempt} should retry");
                };
                assert!(d <= big.max_delay, "{d:?} over the cap");
                let full = big
                    .base_delay
                    .saturating_mul(1 << (attempt - 1).min(20))
                    .min(big.max_delay);
                assert!(d >= full / 2, "{d:?} below half of {full:?}");
            }
        }
    }

    #[test]
    fn max_attempts_one_never_retries() {
        assert_eq!(
            decide(1, T_NOT_SENT, true, None, &RetryConfig::none(), 0),
            Decision::GiveUp
        );
    }

    #[test]
    fn retry_after_parses_delta_seconds_only() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
