//! The store key and what the store does with it: AES-256-GCM for secrets, HMAC-SHA256 for lookups.

use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit, Nonce, Payload};
use aes_gcm::{Aes256Gcm, Key};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Format byte in front of every ciphertext, so a future format (or key rotation scheme) can
/// be told apart from this one.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 32-byte secret that encrypts secrets at rest and keys the lookup hashes.
///
/// Load it from configuration or the environment ([`StoreKey::from_hex`]), keep it out of the
/// database and its backups: a dump without the key reveals no customer token, authorization
/// token or client token. Losing the key makes every stored payment unreadable
/// ([`klarna_ports::StoreError::Corrupt`]). `Debug` prints `StoreKey([REDACTED])`.
///
/// ```
/// use klarna_store_sql::StoreKey;
/// let key = StoreKey::from_hex(&"ab".repeat(32))?;
/// assert_eq!(format!("{key:?}"), "StoreKey([REDACTED])");
/// # Ok::<(), klarna_store_sql::KeyError>(())
/// ```
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

/// A store key that does not parse.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not 64 hexadecimal digits.
    #[error("store key: expected 64 hexadecimal digits (32 bytes), got {0} characters")]
    Length(usize),
    /// A character is not a hexadecimal digit.
    #[error("store key: not hexadecimal")]
    NotHex,
    /// The environment variable is unset or not Unicode.
    #[error("store key: environment variable {0} is not set")]
    Missing(String),
}

impl StoreKey {
    /// A key from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hexadecimal digits (surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`KeyError`] when the text is not exactly 32 bytes of hex.
    pub fn from_hex(hex_text: &str) -> Result<Self, KeyError> {
        let t = hex_text.trim();
        if t.len() != 64 {
            return Err(KeyError::Length(t.chars().count()));
        }
        let mut out = [0_u8; 32];
        hex::decode_to_slice(t, &mut out).map_err(|_| KeyError::NotHex)?;
        Ok(Self(out))
    }

    /// The key in environment variable `var`, as 64 hexadecimal digits.
    ///
    /// # Errors
    /// [`KeyError::Missing`] when the variable is unset, else as [`StoreKey::from_hex`].
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let v = std::env::var(var).map_err(|_| KeyError::Missing(var.to_owned()))?;
        Self::from_hex(&v)
    }

    /// A fresh random key from the operating system's generator (for demos and tests; in
    /// production generate one once, store it in your secret manager, load it with
    /// [`StoreKey::from_hex`]).
    #[must_use]
    pub fn generate() -> Self {
        let k = Key::<Aes256Gcm>::generate();
        let mut out = [0_u8; 32];
        out.copy_from_slice(k.as_slice());
        Self(out)
    }

    /// 16 fresh random bytes from the operating system's generator (the installation id).
    pub(crate) fn random_16() -> Result<[u8; 16], String> {
        let k = Key::<Aes256Gcm>::try_generate()
            .map_err(|e| format!("no random bytes from the operating system: {e}"))?;
        let mut out = [0_u8; 16];
        for (o, b) in out.iter_mut().zip(k.as_slice()) {
            *o = *b;
        }
        Ok(out)
    }

    /// The key as 64 hexadecimal digits, to save a generated key. Handle like a password.
    #[must_use]
    pub fn expose_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey([REDACTED])")
    }
}

/// The working keys derived from a [`StoreKey`]: one for encryption, one for lookup hashes,
/// so neither use can leak anything about the other.
#[derive(Clone)]
pub(crate) struct Crypto {
    aead: Aes256Gcm,
    mac: HmacSha256,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Crypto([REDACTED])")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], String> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).map_err(|e| e.to_string())?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize().into_bytes().into())
}

impl Crypto {
    pub(crate) fn new(key: &StoreKey) -> Result<Self, String> {
        let enc = hmac(&key.0, &[b"klarna-store-sql/v1/aes-256-gcm"])?;
        let mac = hmac(&key.0, &[b"klarna-store-sql/v1/hmac-lookup"])?;
        Ok(Self {
            aead: Aes256Gcm::new_from_slice(&enc).map_err(|e| e.to_string())?,
            mac: <HmacSha256 as KeyInit>::new_from_slice(&mac).map_err(|e| e.to_string())?,
        })
    }

    /// The lookup hash of a secret value in a domain (`"authorization_token"`,
    /// `"customer_token"`): hex HMAC-SHA256, so equal values find each other while a dump
    /// alone cannot confirm a guessed token.
    pub(crate) fn lookup(&self, domain: &str, value: &str) -> String {
        let mut m = self.mac.clone();
        m.update(domain.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// Encrypts `plain`, bound to `aad` (table and row id), so a ciphertext copied into another
    /// row does not decrypt. Output: format byte, 12-byte random nonce, ciphertext and tag.
    pub(crate) fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, String> {
        let nonce = Nonce::<Aes256Gcm>::try_generate()
            .map_err(|e| format!("no random nonce from the operating system: {e}"))?;
        let ct = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "encryption failed".to_owned())?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`Crypto::seal`] wrote for the same `aad`.
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let Some((&format, rest)) = sealed.split_first() else {
            return Err("empty ciphertext".to_owned());
        };
        if format != FORMAT_V1 {
            return Err(format!("unknown ciphertext format {format}"));
        }
        if rest.len() < NONCE_LEN {
            return Err("ciphertext too short".to_owned());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce =
            Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| "bad nonce length".to_owned())?;
        self.aead
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                "does not decrypt: wrong store key, or the row was altered or moved".to_owned()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_to_the_row() {
        let c = Crypto::new(&StoreKey::generate()).unwrap();
        let s = c.seal("payments:p1", b"secret").unwrap();
        assert_eq!(c.open("payments:p1", &s).unwrap(), b"secret");
        assert!(
            c.open("payments:p2", &s).is_err(),
            "moved ciphertext refused"
        );
        let other = Crypto::new(&StoreKey::generate()).unwrap();
        assert!(other.open("payments:p1", &s).is_err(), "wrong key refused");
        assert!(c.open("payments:p1", &[]).is_err());
        assert!(c.open("payments:p1", &[1, 2, 3]).is_err());
        assert_ne!(
            c.seal("a", b"x").unwrap(),
            c.seal("a", b"x").unwrap(),
            "fresh nonce"
        );
    }

    #[test]
    fn lookups_are_keyed_and_domain_separated() {
        let k = StoreKey::from_hex(&"01".repeat(32)).unwrap();
        let c = Crypto::new(&k).unwrap();
        assert_eq!(c.lookup("d", "v"), c.lookup("d", "v"));
        assert_ne!(c.lookup("d", "v"), c.lookup("e", "v"));
        let c2 = Crypto::new(&StoreKey::from_hex(&"02".repeat(32)).unwrap()).unwrap();
        assert_ne!(c.lookup("d", "v"), c2.lookup("d", "v"));
        assert_eq!(c.lookup("d", "v").len(), 64);
    }

    /// Rows written by any earlier build still open, and lookups still match: the values below
    /// were computed outside this crate (Python `hmac` and `cryptography`'s AESGCM) from the
    /// documented derivation, so a crypto crate upgrade that changed an output fails here.
    #[test]
    fn known_answers_of_the_v1_format() {
        let c = Crypto::new(&StoreKey::from_hex(&"01".repeat(32)).unwrap()).unwrap();
        assert_eq!(
            c.lookup("authorization_token", "tok-1"),
            "bb0f2c3a7e0ead92460036dd128200d94eed20fd9d5df859fa56f1fef164902d"
        );
        let sealed =
            hex::decode("01000102030405060708090a0b82672c7abe1bfb2567fb1d5a63c27183db4a0ba4ed1d")
                .unwrap();
        assert_eq!(c.open("payments:p1", &sealed).unwrap(), b"secret");
        assert!(c.open("payments:p2", &sealed).is_err(), "bound to its row");
    }

    #[test]
    fn parses_hex_and_redacts() {
        assert_eq!(StoreKey::from_hex("ab").unwrap_err(), KeyError::Length(2));
        assert_eq!(
            StoreKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            KeyError::NotHex
        );
        let k = StoreKey::generate();
        assert_eq!(StoreKey::from_hex(&k.expose_hex()).unwrap().0, k.0);
        assert_eq!(format!("{k:?}"), "StoreKey([REDACTED])");
        assert_eq!(
            StoreKey::from_env("KLARNA_STORE_SQL_TEST_UNSET_VARIABLE").unwrap_err(),
            KeyError::Missing("KLARNA_STORE_SQL_TEST_UNSET_VARIABLE".to_owned())
        );
    }
}
