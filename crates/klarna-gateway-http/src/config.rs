//! Client configuration: region × environment → base URL (API.md §1.1), credentials held in
//! `secrecy`, timeouts, and the idempotency key type.

use std::fmt;
use std::time::Duration;

use klarna_domain::Region;
use secrecy::SecretString;

use crate::error::KlarnaError;

/// Live or test system. Credentials are per environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Environment {
    /// Test system (the default, so a misconfiguration never charges anyone).
    #[default]
    Playground,
    /// Live system.
    Production,
}

impl Environment {
    /// Klarna's base URL for this environment in `region` (ends with `/`).
    #[must_use]
    pub fn base_url(self, region: Region) -> &'static str {
        match (region, self) {
            (Region::Eu, Self::Production) => "https://api.klarna.com/",
            (Region::Eu, Self::Playground) => "https://api.playground.klarna.com/",
            (Region::Na, Self::Production) => "https://api-na.klarna.com/",
            (Region::Na, Self::Playground) => "https://api-na.playground.klarna.com/",
            (Region::Oc, Self::Production) => "https://api-oc.klarna.com/",
            (Region::Oc, Self::Playground) => "https://api-oc.playground.klarna.com/",
        }
    }
}

/// API credentials for HTTP Basic (API.md §1.2). `Debug` shows the username only.
#[derive(Clone)]
pub struct Credentials {
    /// Username (the API credential's user part or the portal-shown UUID).
    pub username: String,
    /// Password or API key.
    pub password: SecretString,
}

impl Credentials {
    /// Credentials from a username and a password.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Timeouts of every request. `None` disables one (useful only in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect (default 10 s).
    pub connect: Option<Duration>,
    /// Whole request including the body (default 30 s, API.md §1.6).
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Some(Duration::from_secs(10)),
            total: Some(Duration::from_secs(30)),
        }
    }
}

/// A `Klarna-Idempotency-Key`: non-empty visible ASCII, at most 255 bytes.
///
/// Klarna replays the first answer for 24 h to any request with the same key, ignoring the
/// body (API.md §1.4), so one key must serve exactly one logical operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Maximum length accepted.
    pub const MAX_LEN: usize = 255;

    /// Wraps a caller-chosen key.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] (field `idempotency_key`) when empty, longer than
    /// [`Self::MAX_LEN`], or not visible ASCII (it must fit in an HTTP header).
    pub fn new(key: impl Into<String>) -> Result<Self, KlarnaError> {
        let key = key.into();
        let reason = if key.is_empty() {
            Some("must not be empty".to_owned())
        } else if key.len() > Self::MAX_LEN {
            Some(format!("longer than {} bytes", Self::MAX_LEN))
        } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
            Some("only visible ASCII characters are allowed".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => Err(KlarnaError::InvalidInput {
                field: "idempotency_key",
                reason,
            }),
            None => Ok(Self(key)),
        }
    }

    /// A fresh random UUID v4 key (Klarna's API reference recommends v4).
    #[must_use]
    #[allow(
        clippy::disallowed_methods,
        reason = "the gateway mints its own key when the caller gave none (DESIGN.md §6)"
    )]
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The key text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_base_urls() {
        assert_eq!(
            Environment::Production.base_url(Region::Eu),
            "https://api.klarna.com/"
        );
        assert_eq!(
            Environment::Playground.base_url(Region::Na),
            "https://api-na.playground.klarna.com/"
        );
        assert_eq!(
            Environment::Production.base_url(Region::Oc),
            "https://api-oc.klarna.com/"
        );
        assert_eq!(
            Environment::default().base_url(Region::default()),
            "https://api.playground.klarna.com/"
        );
    }

    #[test]
    fn idempotency_key_validation() {
        assert!(IdempotencyKey::new("abc-123").is_ok());
        for bad in ["", "has space", "tab\t", "ünicode"] {
            let err = IdempotencyKey::new(bad).unwrap_err();
            assert!(matches!(
                err,
                KlarnaError::InvalidInput {
                    field: "idempotency_key",
                    ..
                }
            ));
        }
        assert!(IdempotencyKey::new("k".repeat(256)).is_err());
        let a = IdempotencyKey::random();
        let b = IdempotencyKey::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
    }

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials::new("user-1", "hunter2-canary");
        let shown = format!("{c:?}");
        assert!(shown.contains("user-1"));
        assert!(!shown.contains("hunter2-canary"));
    }
}
