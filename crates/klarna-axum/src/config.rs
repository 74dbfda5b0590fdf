//! The routes' configuration: allowed origins, the callback secret, the capability key and the limits, with secrets redacted from `Debug`.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use klarna_payments::{MerchantUrls, PaymentId};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The shortest capability key accepted, in bytes (the HMAC-SHA256 block of security).
pub const MIN_CAPABILITY_KEY: usize = 32;
/// The shortest callback secret accepted, in characters.
pub const MIN_CALLBACK_SECRET: usize = 24;
/// The default body limit: a cart of a few hundred lines fits, a flood does not.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The default number of requests the routes serve at once (the rest wait).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Why a configuration was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The capability key is shorter than [`MIN_CAPABILITY_KEY`] bytes.
    #[error("capability_key: must be at least {MIN_CAPABILITY_KEY} bytes")]
    ShortCapabilityKey,
    /// The callback secret is too short or has characters that need escaping in a URL.
    #[error(
        "callback_secret: must be at least {MIN_CALLBACK_SECRET} characters of A-Z, a-z, 0-9, `-`, `_`"
    )]
    BadCallbackSecret,
    /// An allowed origin is not `scheme://host[:port]`.
    #[error("allowed_origins[{index}]: must be scheme://host[:port] without a path")]
    BadOrigin {
        /// Which one.
        index: usize,
    },
}

/// How the routes authenticate and limit requests. Build with [`RoutesConfig::new`].
///
/// * The **capability key** signs a per-payment secret (`payment_secret`, HMAC-SHA256 of the
///   payment id) that the browser sends back in the [`PAYMENT_SECRET_HEADER`] header to change
///   or complete that payment. Keep it stable across restarts (from your secret store), or
///   payments started before a restart cannot be completed.
/// * The **callback secret** rides in the query of the callback URLs Klarna calls
///   ([`RoutesConfig::merchant_urls`]); Klarna's callbacks carry no other authentication
///   (API.md §1.10). Keep it stable too: Klarna calls the URL a session was created with.
/// * **Allowed origins**: a browser request with an `Origin` header must come from one of
///   them; an empty list refuses every cross-origin request and admits same-origin ones only
///   when the browser omits `Origin`.
///
/// [`PAYMENT_SECRET_HEADER`]: crate::PAYMENT_SECRET_HEADER
#[derive(Clone)]
pub struct RoutesConfig {
    allowed_origins: Vec<String>,
    callback_secret: String,
    capability_key: Vec<u8>,
    body_limit: usize,
    max_in_flight: usize,
}

impl fmt::Debug for RoutesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutesConfig")
            .field("allowed_origins", &self.allowed_origins)
            .field("callback_secret", &"[REDACTED]")
            .field("capability_key", &"[REDACTED]")
            .field("body_limit", &self.body_limit)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl RoutesConfig {
    /// A configuration with the given secrets, no allowed origins, and the default limits.
    ///
    /// # Errors
    /// [`ConfigError::ShortCapabilityKey`], [`ConfigError::BadCallbackSecret`].
    pub fn new(
        capability_key: impl Into<Vec<u8>>,
        callback_secret: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let capability_key = capability_key.into();
        if capability_key.len() < MIN_CAPABILITY_KEY {
            return Err(ConfigError::ShortCapabilityKey);
        }
        let callback_secret = callback_secret.into();
        let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if callback_secret.chars().count() < MIN_CALLBACK_SECRET
            || !callback_secret.chars().all(url_safe)
        {
            return Err(ConfigError::BadCallbackSecret);
        }
        Ok(Self {
            allowed_origins: Vec::new(),
            callback_secret,
            capability_key,
            body_limit: DEFAULT_BODY_LIMIT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        })
    }

    /// The origins (`https://shop.example`) whose pages may call the browser endpoints.
    ///
    /// # Errors
    /// [`ConfigError::BadOrigin`] for one with a path, or without a scheme or host.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list = Vec::new();
        for (index, o) in origins.into_iter().enumerate() {
            let o: String = o.into();
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            match host {
                Some(h) if !h.is_empty() && !h.contains('/') && !h.contains('?') => {
                    list.push(o.to_ascii_lowercase());
                }
                _ => return Err(ConfigError::BadOrigin { index }),
            }
        }
        self.allowed_origins = list;
        Ok(self)
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How many requests the routes serve at once; more wait (default
    /// [`DEFAULT_MAX_IN_FLIGHT`], at least 1).
    #[must_use]
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// The callback URLs to give the service ([`KlarnaBuilder::merchant_urls`]), for routes
    /// mounted at `mounted_at` (the public URL of the nest, `https://shop.example/klarna`).
    /// They carry the callback secret: do not log them.
    ///
    /// [`KlarnaBuilder::merchant_urls`]: klarna_payments::KlarnaBuilder::merchant_urls
    #[must_use]
    pub fn merchant_urls(&self, mounted_at: &str) -> MerchantUrls {
        let base = mounted_at.trim_end_matches('/');
        MerchantUrls {
            authorization: Some(format!(
                "{base}/callbacks/authorization?secret={}",
                self.callback_secret
            )),
            notification: Some(format!(
                "{base}/callbacks/notification?secret={}",
                self.callback_secret
            )),
            confirmation: None,
            push: None,
        }
    }

    /// The payment's secret: HMAC-SHA256 of its id under the capability key, in hex. The
    /// browser proves with it that it started the payment; nothing is stored.
    #[must_use]
    pub fn payment_secret(&self, payment: &PaymentId) -> String {
        hex::encode(self.mac(b"payment:", payment.as_str().as_bytes()))
    }

    pub(crate) fn allowed_origins_list(&self) -> &[String] {
        &self.allowed_origins
    }

    pub(crate) fn body_limit_bytes(&self) -> usize {
        self.body_limit
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Whether `given` (hex) is the payment's secret, compared in constant time.
    pub(crate) fn verify_payment_secret(&self, payment: &PaymentId, given: &str) -> bool {
        let Ok(bytes) = hex::decode(given) else {
            return false;
        };
        self.keyed(b"payment:", payment.as_str().as_bytes())
            .verify_slice(&bytes)
            .is_ok()
    }

    /// Whether `given` is the callback secret, in constant time: both sides go through the
    /// HMAC, and the MACs are compared by `verify_slice`.
    pub(crate) fn verify_callback_secret(&self, given: &str) -> bool {
        let expected = self.mac(b"callback:", self.callback_secret.as_bytes());
        self.keyed(b"callback:", given.as_bytes())
            .verify_slice(&expected)
            .is_ok()
    }

    fn keyed(&self, domain: &[u8], message: &[u8]) -> HmacSha256 {
        // Any key length is valid for HMAC; the constructor checked the minimum.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.capability_key)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        mac.update(domain);
        mac.update(message);
        mac
    }

    fn mac(&self, domain: &[u8], message: &[u8]) -> Vec<u8> {
        self.keyed(domain, message).finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use super::*;

    fn config() -> RoutesConfig {
        RoutesConfig::new([7u8; 32], "cb-secret-0123456789abcdef").unwrap()
    }

    #[test]
    fn secrets_verify_and_refuse() {
        let c = config();
        let id = PaymentId::new("pay-1").unwrap();
        let s = c.payment_secret(&id);
        assert!(c.verify_payment_secret(&id, &s));
        assert!(!c.verify_payment_secret(&PaymentId::new("pay-2").unwrap(), &s));
        assert!(!c.verify_payment_secret(&id, "zz"));
        assert!(c.verify_callback_secret("cb-secret-0123456789abcdef"));
        assert!(!c.verify_callback_secret("cb-secret-0123456789abcdeF"));
        assert!(!c.verify_callback_secret(""));
    }

    #[test]
    fn bad_settings_are_named_and_secrets_hidden() {
        assert_eq!(
            RoutesConfig::new([1u8; 8], "cb-secret-0123456789abcdef").unwrap_err(),
            ConfigError::ShortCapabilityKey
        );
        assert_eq!(
            RoutesConfig::new([1u8; 32], "short").unwrap_err(),
            ConfigError::BadCallbackSecret
        );
        assert_eq!(
            config()
                .allowed_origins(["https://a.example", "https://b.example/path"])
                .unwrap_err(),
            ConfigError::BadOrigin { index: 1 }
        );
        let debug = format!("{:?}", config());
        assert!(!debug.contains("cb-secret"), "{debug}");
    }
}
