//! Client configuration: region × environment → base URL (API.md §1.1), credentials held in
//! `secrecy`, and timeouts.

use std::fmt;
use std::time::Duration;

use klarna_domain::Region;
use secrecy::SecretString;

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
    fn credentials_debug_hides_password() {
        let c = Credentials::new("user-1", "hunter2-canary");
        let shown = format!("{c:?}");
        assert!(shown.contains("user-1"));
        assert!(!shown.contains("hunter2-canary"));
    }
}
