//! Fault injection: rules that make the next N matching Klarna calls slow, fail, or lose their answer.

use serde::{Deserialize, Serialize};

/// One fault-injection rule: applies `fault` to the next `times` calls whose operation name matches
/// `operation`.
///
/// `operation` is an operation name such as `payments.create_order` or `orders.capture` (see
/// [`crate::Operation::name`]), a prefix pattern such as `orders.*`, or `*` for every Klarna call.
/// Rules are consulted in the order they were added; the first live matching rule applies and is
/// used up by one. Simulator-only `/sim/...` endpoints are never faulted.
///
/// JSON form (`POST /sim/faults`):
/// `{"operation": "payments.create_order", "times": 1, "fault": {"kind": "drop_after_effect"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Operation name, `prefix.*`, or `*`.
    pub operation: String,
    /// How many matching calls this rule affects (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// What happens to those calls.
    pub fault: Fault,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// A rule for the next `times` calls of `operation`.
    pub fn new(operation: impl Into<String>, times: u32, fault: Fault) -> Self {
        Self {
            operation: operation.into(),
            times,
            fault,
        }
    }

    fn matches(&self, op: &str) -> bool {
        if self.operation == "*" || self.operation == op {
            return true;
        }
        self.operation.strip_suffix(".*").is_some_and(|prefix| {
            op.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }
}

/// What a fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// Wait `ms` milliseconds (real time) before handling the call normally. The wait is before
    /// the effect: if the client gives up meanwhile, the simulator normally notices the closed
    /// connection and abandons the call (not promised either way). Both are counted: the hold
    /// once begun ([`crate::Stats::held`]: the rule is used up, the effect not had), the
    /// abandonment once the call's key left flight ([`crate::Stats::abandoned`]); wait for
    /// them with [`crate::Simulator::stats_when`], not for time.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Answer with this HTTP status (e.g. 500 or 503) and a Klarna error body, without performing
    /// the operation.
    Status {
        /// HTTP status to answer with (400..=599).
        status: u16,
    },
    /// Refuse the call as Klarna refuses an operation its rules or its risk check do not allow,
    /// without performing it: `403` with the operation's documented code
    /// (`CAPTURE_NOT_ALLOWED`, `REFUND_NOT_ALLOWED`, `CANCEL_NOT_ALLOWED`, else `NOT_ALLOWED`).
    /// On `orders.update_authorization` it is Klarna declining to raise an authorization
    /// after its new risk check (`order-management-v1.yml`: "Decision is based on order state
    /// and outcome of risk assessment").
    Refuse,
    /// Answer `429 TOO_MANY_REQUESTS` with a `Retry-After: <retry_after>` header, without
    /// performing the operation.
    RateLimit {
        /// Seconds for the `Retry-After` header.
        retry_after: u64,
    },
    /// Perform the operation (recording its replay entry, if the operation is replayed), then
    /// hold the answer `ms` milliseconds of real time before sending it: a client whose whole
    /// deadline is shorter times out although the effect happened. The key stays in flight for
    /// the whole hold, even if the client goes away (a duplicate meanwhile gets `409 CONFLICT`).
    LatencyAfterEffect {
        /// How long the answer is held after the effect, in milliseconds.
        ms: u64,
    },
    /// Perform the operation (recording its replay entry, if the operation is replayed), then
    /// close the connection without a usable answer: the client sees a transport error although
    /// the effect happened.
    DropAfterEffect,
    /// Close the connection without performing the operation.
    DropBeforeEffect,
    /// Stop accepting TCP connections for `ms` milliseconds of real time, starting with this
    /// call: connection attempts in that window fail with `ECONNREFUSED` (a client sees a
    /// connect error: the request was never sent), and idle keep-alive connections are closed so
    /// pooled clients must connect again. This call itself is performed first if `after_effect`
    /// (recording its replay entry), else not at all, and its connection is then closed without
    /// an answer. The window is real time, not a number of attempts (a socket that does not
    /// listen cannot count them). See the crate docs, "Connection refusal".
    RefuseConnections {
        /// How long connection attempts are refused, in milliseconds.
        ms: u64,
        /// Whether this call takes effect before its connection is closed (default `false`).
        #[serde(default)]
        after_effect: bool,
    },
}

/// The ordered rule list.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<FaultRule>,
}

impl Faults {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        if rule.times > 0 {
            self.rules.push(rule);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn list(&self) -> Vec<FaultRule> {
        self.rules.clone()
    }

    /// Takes one use of the first live rule matching `op`.
    pub(crate) fn take(&mut self, op: &str) -> Option<Fault> {
        let idx = self.rules.iter().position(|r| r.matches(op))?;
        let rule = self.rules.get_mut(idx)?;
        let fault = rule.fault.clone();
        rule.times = rule.times.saturating_sub(1);
        if rule.times == 0 {
            self.rules.remove(idx);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_counts() {
        let mut f = Faults::default();
        f.add(FaultRule::new("orders.*", 2, Fault::Status { status: 503 }));
        f.add(FaultRule::new("*", 1, Fault::DropAfterEffect));
        assert_eq!(
            f.take("orders.capture"),
            Some(Fault::Status { status: 503 })
        );
        assert_eq!(
            f.take("payments.create_order"),
            Some(Fault::DropAfterEffect)
        );
        assert_eq!(f.take("payments.create_order"), None);
        assert_eq!(f.take("orders.refund"), Some(Fault::Status { status: 503 }));
        assert_eq!(f.take("orders.refund"), None);
        assert!(!FaultRule::new("orders.*", 1, Fault::DropAfterEffect).matches("ordersx.get"));
    }

    #[test]
    fn json_shape() {
        let r: FaultRule = serde_json::from_str(
            r#"{"operation":"orders.capture","times":3,"fault":{"kind":"rate_limit","retry_after":2}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            FaultRule::new("orders.capture", 3, Fault::RateLimit { retry_after: 2 })
        );
        let r: FaultRule = serde_json::from_str(
            r#"{"operation":"orders.*","fault":{"kind":"latency_after_effect","ms":2500}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            FaultRule::new("orders.*", 1, Fault::LatencyAfterEffect { ms: 2500 })
        );
        let r: FaultRule = serde_json::from_str(
            r#"{"operation":"*","fault":{"kind":"refuse_connections","ms":800}}"#,
        )
        .unwrap();
        assert_eq!(
            r.fault,
            Fault::RefuseConnections {
                ms: 800,
                after_effect: false
            }
        );
        let r: FaultRule = serde_json::from_str(
            r#"{"operation":"*","fault":{"kind":"refuse_connections","ms":1,"after_effect":true}}"#,
        )
        .unwrap();
        assert_eq!(
            r.fault,
            Fault::RefuseConnections {
                ms: 1,
                after_effect: true
            }
        );
    }
}
