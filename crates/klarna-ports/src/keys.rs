//! Driven port: minting payment ids and idempotency keys.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};

use klarna_domain::{IdempotencyKey, PaymentId};

/// Mints our payment ids and the idempotency key of each logical operation.
///
/// # Contract
/// - [`IdempotencyKeys::payment_id`] MUST return a fresh, unique id on every call.
/// - [`IdempotencyKeys::key`] MUST return a key unique to `(payment, operation, seq)` (across
///   installations, if several share a Klarna account); it SHOULD be deterministic in them, a
///   second line of defence behind persisting the key before the call.
/// - Keys follow the wire's rule by construction ([`IdempotencyKey`]: visible ASCII, at most
///   255 bytes), so a key saved with a pending operation can always be sent.
#[cfg_attr(feature = "test-util", mockall::automock)]
pub trait IdempotencyKeys: Send + Sync {
    /// A fresh payment id.
    fn payment_id(&self) -> PaymentId;
    /// The key of operation `operation` number `seq` of `payment`.
    fn key(&self, payment: &PaymentId, operation: &str, seq: u32) -> IdempotencyKey;
}

/// Readable sequential ids and keys for tests and the simulator-backed demo. Not for
/// production: its keys are guessable and restart from zero with the process.
#[derive(Debug)]
pub struct SequentialKeys {
    prefix: String,
    next: AtomicU64,
}

impl SequentialKeys {
    /// Ids `"{prefix}-1"`, `"{prefix}-2"`, … (the prefix keeps only ASCII letters, digits and `_`,
    /// at most 200 of them, so every id fits [`PaymentId`]'s 255 characters).
    #[must_use]
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix: String = prefix
            .into()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(200)
            .collect();
        let prefix = if prefix.is_empty() {
            "pay".to_owned()
        } else {
            prefix
        };
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl IdempotencyKeys for SequentialKeys {
    #[allow(
        clippy::expect_used,
        reason = "a non-empty prefix plus `-N` is always a valid id"
    )]
    fn payment_id(&self) -> PaymentId {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        PaymentId::new(format!("{}-{n}", self.prefix)).expect("printable non-empty id")
    }

    #[allow(
        clippy::expect_used,
        reason = "16 hex digits plus a visible-ASCII `:op:N` is always a valid key"
    )]
    fn key(&self, payment: &PaymentId, operation: &str, seq: u32) -> IdempotencyKey {
        // Readable when the id fits the wire's rule; else a deterministic digest of it.
        IdempotencyKey::new(format!("{payment}:{operation}:{seq}")).unwrap_or_else(|_| {
            let mut h = DefaultHasher::new();
            payment.as_str().hash(&mut h);
            operation.hash(&mut h);
            let op: String = operation
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            IdempotencyKey::new(format!("h{:016x}:{op}:{seq}", h.finish())).expect("valid key")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keys_are_deterministic_even_for_ids_that_cannot_be_keys() {
        let keys = SequentialKeys::new("t");
        let plain = PaymentId::new("sub-42").unwrap();
        assert_eq!(keys.key(&plain, "charge", 0).as_str(), "sub-42:charge:0");
        let spaced = PaymentId::new("sub 42 ü").unwrap();
        let k = keys.key(&spaced, "charge", 0);
        assert_eq!(k, keys.key(&spaced, "charge", 0));
        assert_ne!(k, keys.key(&spaced, "charge", 1));
        assert_ne!(k, keys.key(&spaced, "capture", 0));
        assert!(k.as_str().ends_with(":charge:0"));
    }
}
