//! `UuidKeys`: the `IdempotencyKeys` port with UUIDs — deterministic v5 keys per operation and
//! random v4 payment ids.

use klarna_domain::{IdempotencyKey, PaymentId};
use klarna_ports::IdempotencyKeys;
use uuid::Uuid;

/// Idempotency keys as UUID v5 of `"{payment}:{operation}:{seq}"` in a per-installation
/// namespace, and payment ids `pay_<uuid v4 simple>`.
///
/// The namespace must stay the same for the life of an installation (a new namespace gives
/// every new operation a new key); two installations sharing a Klarna account must use
/// different namespaces. `klarna-payments`' builder derives it from the store's installation
/// id (`PaymentStore::installation_id`), which gives both by construction.
///
/// ```
/// use klarna_gateway_http::UuidKeys;
/// use klarna_ports::IdempotencyKeys;
///
/// let keys = UuidKeys::new(uuid::Uuid::from_u128(0x5eed));
/// let payment = keys.payment_id();
/// assert_eq!(keys.key(&payment, "capture", 1), keys.key(&payment, "capture", 1));
/// assert_ne!(keys.key(&payment, "capture", 1), keys.key(&payment, "capture", 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UuidKeys {
    namespace: Uuid,
}

impl UuidKeys {
    /// Keys in `namespace` (per installation, from configuration).
    #[must_use]
    pub fn new(namespace: Uuid) -> Self {
        Self { namespace }
    }

    /// The namespace.
    #[must_use]
    pub fn namespace(&self) -> Uuid {
        self.namespace
    }

    /// A fresh random UUID v4 key (Klarna's API reference recommends v4): what the client
    /// sends on a mutating call when the caller gave no key.
    #[must_use]
    #[allow(
        clippy::disallowed_methods,
        reason = "the gateway mints its own key when the caller gave none (DESIGN.md §6)"
    )]
    #[allow(
        clippy::expect_used,
        reason = "a hyphenated UUID is always a valid key"
    )]
    pub fn random_key() -> IdempotencyKey {
        IdempotencyKey::new(Uuid::new_v4().to_string()).expect("valid key")
    }
}

impl IdempotencyKeys for UuidKeys {
    #[allow(
        clippy::disallowed_methods,
        reason = "this adapter is the key-minting port: a payment id must be fresh and unguessable"
    )]
    #[allow(
        clippy::expect_used,
        reason = "`pay_` plus 32 hex digits is always a valid id"
    )]
    fn payment_id(&self) -> PaymentId {
        PaymentId::new(format!("pay_{}", Uuid::new_v4().simple())).expect("valid payment id")
    }

    #[allow(
        clippy::expect_used,
        reason = "a hyphenated UUID is always a valid key"
    )]
    fn key(&self, payment: &PaymentId, operation: &str, seq: u32) -> IdempotencyKey {
        let name = format!("{payment}:{operation}:{seq}");
        let uuid = Uuid::new_v5(&self.namespace, name.as_bytes());
        IdempotencyKey::new(uuid.to_string()).expect("valid key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let ns = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let keys = UuidKeys::new(ns);
        let p = PaymentId::new("pay_1").unwrap();
        let k = keys.key(&p, "create_order", 1);
        // Golden value from Python's `uuid.uuid5(namespace, "pay_1:create_order:1")`.
        assert_eq!(k.as_str(), "0ce5f9de-186d-561e-8e70-15e2dab7cdf9");
        assert_eq!(Uuid::parse_str(k.as_str()).unwrap().get_version_num(), 5);
        assert_eq!(keys.key(&p, "create_order", 1), k);
        assert_ne!(keys.key(&p, "create_order", 2), k);
        assert_ne!(keys.key(&p, "capture", 1), k);
        assert_ne!(
            keys.key(&PaymentId::new("pay_2").unwrap(), "create_order", 1),
            k
        );
        let other = UuidKeys::new(Uuid::from_u128(1));
        assert_ne!(other.key(&p, "create_order", 1), k);
        assert!(k.as_str().len() <= 255);
    }

    #[test]
    fn random_keys_are_fresh_uuids() {
        let a = UuidKeys::random_key();
        let b = UuidKeys::random_key();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
    }

    #[test]
    fn payment_ids_are_fresh() {
        let keys = UuidKeys::new(Uuid::from_u128(7));
        let a = keys.payment_id();
        let b = keys.payment_id();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("pay_"));
        assert_eq!(a.as_str().len(), 4 + 32);
    }
}
