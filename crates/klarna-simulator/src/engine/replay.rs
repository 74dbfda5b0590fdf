//! Keyed replay: the table of answers recorded under a `Klarna-Idempotency-Key`, the keys whose
//! first request is still in flight, and the [`ReplayPolicy`] saying which operations are replayed.
//!
//! * **Which operations.** [`ReplayPolicy::Pessimistic`] (the default) replays only what Klarna
//!   documents a key on (API.md §1.4): Order Management writes and the token charge T2 (see
//!   [`Operation::documents_idempotency_key`]). A Payments API call (P1–P6) or T3 with a key runs
//!   again, as if it had no key, and so answers whatever the state says now (a second P5 on one
//!   authorization: `403 "Authorization token already consumed"`). [`ReplayPolicy::Optimistic`]
//!   replays every mutating operation, P1–P6 included (the simulator's behaviour before the
//!   pessimistic default).
//! * **Which answers, how long.** 5xx answers are not recorded; an entry lives
//!   [`IDEMPOTENCY_WINDOW`] (24 h) of simulator time. Matching is by key only, as at Klarna.
//! * **In flight.** The HTTP layer marks a replayed operation's key in flight from the moment the
//!   request is accepted until its answer is handed to the connection (so across a `latency` or
//!   `latency_after_effect` fault); a second request with that key meanwhile is answered
//!   `409 CONFLICT` without running, and that answer is not recorded.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::clock::{DAY, Millis};
use crate::ops::Operation;

use super::reply::Reply;

/// How long a recorded answer is replayed (simulator time).
pub(super) const IDEMPOTENCY_WINDOW: Millis = DAY;

/// Which operations the simulator replays by `Klarna-Idempotency-Key`.
///
/// Set it with [`crate::SimulatorBuilder::replay`], [`crate::Simulator::set_replay_policy`],
/// [`crate::SimulatorConfig::replay`], `POST /sim/faults {"replay": "optimistic"}` on a running
/// simulator, or `klarna sim --optimistic-replay`. JSON: `"pessimistic"` / `"optimistic"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicy {
    /// The default, as pessimistic as Klarna's documentation allows: only Order Management
    /// writes and T2 (token charge) are replayed by key, within 24 h of simulator time. A
    /// Payments API call (P1–P6) or T3 sent again with the same key runs again and gets
    /// whatever the state now says.
    #[default]
    Pessimistic,
    /// Every mutating operation is replayed by key, P1–P6 included (where Klarna documents no
    /// key): a repeated P5 with the key of a successful one gets the same order back.
    Optimistic,
}

impl ReplayPolicy {
    /// Whether an answer of `op` is recorded and replayed by key under this policy.
    pub fn replays(self, op: Operation) -> bool {
        match self {
            Self::Pessimistic => op.documents_idempotency_key(),
            Self::Optimistic => op.is_mutating(),
        }
    }

    /// The policy's JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pessimistic => "pessimistic",
            Self::Optimistic => "optimistic",
        }
    }
}

/// The `409 CONFLICT` answer to a request whose key is still in flight.
pub(super) fn in_flight_conflict() -> Reply {
    Reply::error(
        409,
        "CONFLICT",
        "A request with the same idempotency key is still being processed",
    )
}

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
    in_flight: HashSet<String>,
}

impl ReplayTable {
    /// Marks `key` in flight; `false` if a request with it already is.
    pub(super) fn begin(&mut self, key: &str) -> bool {
        if self.in_flight.contains(key) {
            return false;
        }
        self.in_flight.insert(key.to_owned());
        true
    }

    /// Clears the in-flight mark of `key`.
    pub(super) fn end(&mut self, key: &str) {
        self.in_flight.remove(key);
    }

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

    #[test]
    fn a_key_is_in_flight_once_until_it_ends() {
        let mut t = ReplayTable::default();
        assert!(t.begin("k"));
        assert!(!t.begin("k"));
        assert!(t.begin("other"));
        t.end("k");
        assert!(t.begin("k"));
        // Ending a key that is not in flight is harmless.
        t.end("never");
        assert_eq!(t.len(), 0, "in-flight marks are not entries");
    }

    #[test]
    fn pessimistic_replays_documented_keys_only_and_optimistic_every_write() {
        for op in Operation::ALL {
            assert_eq!(
                ReplayPolicy::Pessimistic.replays(op),
                op.documents_idempotency_key(),
                "{}",
                op.name()
            );
            assert_eq!(
                ReplayPolicy::Optimistic.replays(op),
                op.is_mutating(),
                "{}",
                op.name()
            );
        }
        assert!(!ReplayPolicy::Pessimistic.replays(Operation::CreateOrder));
        assert!(ReplayPolicy::Optimistic.replays(Operation::CreateOrder));
        assert!(ReplayPolicy::Pessimistic.replays(Operation::Capture));
        assert!(ReplayPolicy::Pessimistic.replays(Operation::TokenOrder));
        assert_eq!(ReplayPolicy::default(), ReplayPolicy::Pessimistic);
    }

    #[test]
    fn the_policy_is_spelled_in_snake_case() {
        for p in [ReplayPolicy::Pessimistic, ReplayPolicy::Optimistic] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<ReplayPolicy>(&json).unwrap(), p);
        }
        assert!(serde_json::from_str::<ReplayPolicy>("\"maybe\"").is_err());
    }
}
