//! The demo shop's secrets: random tokens, the callback secret, and constant-time comparison.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use klarna_payments::StoreKey;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 32 random bytes from the operating system's generator, as 64 hex digits (session ids, CSRF
/// tokens, the operator token).
pub(crate) fn random_token() -> String {
    StoreKey::generate().expose_hex()
}

fn keyed(key: &[u8], message: &[u8]) -> HmacSha256 {
    // Any key length is valid for HMAC.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    mac.update(message);
    mac
}

/// Whether `given` is `expected`, in constant time: both go through an HMAC and the MACs are
/// compared by `verify_slice`, so the time taken says nothing about a matching prefix.
pub(crate) fn same(expected: &str, given: &str) -> bool {
    const DOMAIN: &[u8] = b"klarna-demo: compare secrets";
    let tag = keyed(DOMAIN, expected.as_bytes()).finalize().into_bytes();
    keyed(DOMAIN, given.as_bytes()).verify_slice(&tag).is_ok()
}

/// The callback secret for Klarna's callback URLs, derived from the store key: it lives
/// exactly as long as the store's tokens stay readable, so callbacks for payments made before
/// a restart are still recognised, and no second secret needs a place to be kept.
pub(crate) fn callback_secret(store_key: &StoreKey) -> String {
    let tag = keyed(
        store_key.expose_hex().as_bytes(),
        b"klarna-demo: callback secret v1",
    )
    .finalize()
    .into_bytes();
    let mut out = String::with_capacity(32);
    for b in tag.iter().take(16) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The key the Klarna routes sign each payment's secret with (`klarna-axum`'s capability
/// key), derived from the store key like the callback secret, under another label: a
/// checkout page rendered before a restart can still complete its payment after it.
pub(crate) fn capability_key(store_key: &StoreKey) -> Vec<u8> {
    keyed(
        store_key.expose_hex().as_bytes(),
        b"klarna-demo: capability key v1",
    )
    .finalize()
    .into_bytes()
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::{callback_secret, capability_key, same};
    use klarna_payments::StoreKey;

    #[test]
    fn secrets_compare_by_value_and_the_callback_secret_follows_the_key() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("abc", ""));
        let key = StoreKey::generate();
        let again = StoreKey::from_hex(&key.expose_hex()).unwrap();
        assert_eq!(callback_secret(&key), callback_secret(&again));
        assert_eq!(callback_secret(&key).len(), 32);
        assert_ne!(
            callback_secret(&key),
            callback_secret(&StoreKey::generate())
        );
        assert_eq!(capability_key(&key), capability_key(&again));
        assert_eq!(capability_key(&key).len(), 32);
        assert_ne!(capability_key(&key), capability_key(&StoreKey::generate()));
    }
}
