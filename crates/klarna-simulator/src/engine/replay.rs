//! Keyed replay: the table of answers recorded under a `Klarna-Idempotency-Key`, and the policy of
//! which answers are recorded and for how long.
//!
//! This module is where a replay policy lives. Today every mutating operation is replayed by key
//! (including P1–P6, where Klarna does not document it), 5xx answers are not recorded, and an
//! entry lives [`IDEMPOTENCY_WINDOW`] of simulator time. Rooms for what comes next:
//!
//! * **Pessimistic replay** (Payments calls P1–P6 not replayed by key, since Klarna documents
//!   idempotency keys only on Order Management and T2): a policy consulted by
//!   [`ReplayTable::lookup`] / [`ReplayTable::record`] per `Operation`.
//! * **Duplicate in-flight keys answered `409 CONFLICT`**: an in-flight marker per key, set before
//!   the handler runs and cleared by `record`; the engine's `dispatch` asks the table first.

use std::collections::HashMap;

use crate::clock::{DAY, Millis};

use super::reply::Reply;

/// How long a recorded answer is replayed (simulator time).
pub(super) const IDEMPOTENCY_WINDOW: Millis = DAY;

/// One recorded answer and when it was recorded.
#[derive(Debug)]
struct StoredReply {
    reply: Reply,
    at: Millis,
}

/// Answers recorded by idempotency key. Matching is by key only, as at Klarna.
#[derive(Debug, Default)]
pub(super) struct ReplayTable {
    entries: HashMap<String, StoredReply>,
}

impl ReplayTable {
    /// The answer recorded under `key`, if it is still within the replay window at `now`.
    pub(super) fn lookup(&self, key: &str, now: Millis) -> Option<&Reply> {
        self.entries
            .get(key)
            .filter(|stored| now - stored.at < IDEMPOTENCY_WINDOW)
            .map(|stored| &stored.reply)
    }

    /// Records `reply` under `key` at `now`, unless it is a server error (5xx answers are not
    /// recorded, so a retry after a server error runs the operation). A later answer for the same
    /// key (after the window) replaces the earlier one.
    pub(super) fn record(&mut self, key: &str, reply: &Reply, now: Millis) {
        if reply.status < 500 {
            self.entries.insert(
                key.to_owned(),
                StoredReply {
                    reply: reply.clone(),
                    at: now,
                },
            );
        }
    }

    /// Evicts entries whose window has passed at `now`.
    pub(super) fn sweep(&mut self, now: Millis) {
        self.entries
            .retain(|_, stored| now - stored.at < IDEMPOTENCY_WINDOW);
    }

    /// Number of entries held (including expired ones not yet swept).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16) -> Reply {
        Reply::error(status, "X", "x")
    }

    #[test]
    fn a_recorded_answer_is_replayed_within_the_window_only() {
        let mut t = ReplayTable::default();
        let r = reply(403);
        t.record("k", &r, 1_000);
        assert_eq!(t.lookup("k", 1_000), Some(&r));
        assert_eq!(t.lookup("k", 1_000 + IDEMPOTENCY_WINDOW - 1), Some(&r));
        assert_eq!(t.lookup("k", 1_000 + IDEMPOTENCY_WINDOW), None);
        assert_eq!(t.lookup("other", 1_000), None);
    }

    #[test]
    fn server_errors_are_not_recorded() {
        let mut t = ReplayTable::default();
        t.record("k", &reply(503), 0);
        t.record("k2", &reply(500), 0);
        assert_eq!(t.len(), 0);
        assert_eq!(t.lookup("k", 0), None);
        t.record("k", &reply(499), 0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_later_answer_for_the_same_key_replaces_the_earlier_one() {
        let mut t = ReplayTable::default();
        let first = reply(400);
        let second = reply(409);
        t.record("k", &first, 0);
        t.record("k", &second, IDEMPOTENCY_WINDOW);
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup("k", IDEMPOTENCY_WINDOW), Some(&second));
    }

    #[test]
    fn sweep_evicts_expired_entries_and_keeps_live_ones() {
        let mut t = ReplayTable::default();
        t.record("old", &reply(200), 0);
        t.record("new", &reply(200), IDEMPOTENCY_WINDOW / 2);
        t.sweep(IDEMPOTENCY_WINDOW);
        assert_eq!(t.len(), 1);
        assert!(t.lookup("new", IDEMPOTENCY_WINDOW).is_some());
        assert!(t.lookup("old", IDEMPOTENCY_WINDOW).is_none());
    }
}
