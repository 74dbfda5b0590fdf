//! Wires what the demo runs on: the in-process simulator (or Klarna's playground), the store,
//! and the service through the `klarna-payments` builder.

use klarna_payments::simulator::Simulator;
use klarna_payments::{Klarna, KlarnaBuilder, MerchantUrls, Region, StoreKey};

use crate::DemoError;

/// The service and what it runs on. Dropping it stops the simulator and removes the
/// temporary database.
pub(crate) struct Backend {
    pub(crate) payments: Klarna,
    /// `None` against the playground. The account of region `eu`.
    pub(crate) sim: Option<Simulator>,
    /// The account of region `na` (a second simulator: one Klarna account per region);
    /// `None` against the playground.
    pub(crate) sim_na: Option<Simulator>,
    /// For the printout: where the payments are stored.
    pub(crate) store_label: String,
    /// For the printout: where Klarna is.
    pub(crate) klarna_label: String,
    // Keeps the temporary directory (and so the SQLite file) alive as long as the backend.
    _tmp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("store", &self.store_label)
            .field("klarna", &self.klarna_label)
            .finish_non_exhaustive()
    }
}

fn progress(line: &str) {
    println!("  … {line}");
}

/// Where the payments are stored and the key that encrypts their tokens, before anything is
/// opened. A persistent store (PostgreSQL, a named SQLite file) needs an explicit key: a key
/// generated for one run would leave every row unreadable after a restart, and a key kept
/// beside the database would travel with every backup of it.
pub(crate) struct StoreConfig {
    url: String,
    label: String,
    key: StoreKey,
    tmp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("store", &self.label)
            .finish_non_exhaustive()
    }
}

impl StoreConfig {
    /// The store of `store_url` (default: a SQLite file in a temporary directory) with `key`,
    /// else `KLARNA_STORE_KEY`, else (only for a store that dies with this run) a generated key.
    ///
    /// # Errors
    /// [`DemoError::Config`] for a persistent store without a key, or a key that does not parse.
    pub(crate) fn new(store_url: Option<String>, key: Option<StoreKey>) -> Result<Self, DemoError> {
        let (url, tmp, label) = match store_url {
            Some(url) => {
                let label = url
                    .split('?')
                    .next()
                    .map(|u| {
                        if u.starts_with("postgres") {
                            "PostgreSQL".to_owned()
                        } else {
                            u.to_owned()
                        }
                    })
                    .unwrap_or_default();
                (url, None, label)
            }
            None => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("klarna-demo.db");
                let label = format!("SQLite file {}", path.display());
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Some(dir),
                    label,
                )
            }
        };
        let key = match key {
            Some(k) => k,
            None => match std::env::var("KLARNA_STORE_KEY") {
                Ok(k) if !k.trim().is_empty() => StoreKey::from_hex(&k)
                    .map_err(|e| DemoError::Config(format!("KLARNA_STORE_KEY: {e}")))?,
                _ if tmp.is_none() && persistent(&url) => {
                    return Err(DemoError::Config(format!(
                        "the store {label} outlives this run: set KLARNA_STORE_KEY (64 hex digits, \
                         e.g. from `openssl rand -hex 32`, kept in your secret manager) so its \
                         tokens stay readable after a restart"
                    )));
                }
                _ => StoreKey::generate(),
            },
        };
        Ok(Self {
            url,
            label,
            key,
            tmp,
        })
    }

    /// The store key (the demo shop derives its callback secret from it).
    pub(crate) fn key(&self) -> &StoreKey {
        &self.key
    }
}

/// Whether the store outlives the process: PostgreSQL, or a SQLite file (not `:memory:`).
fn persistent(url: &str) -> bool {
    url.starts_with("postgres") || sqlite_file(url).is_some()
}

/// Starts what the options ask for. Prints a progress line for each slow part.
pub(crate) async fn start(
    playground: bool,
    store: StoreConfig,
    urls: MerchantUrls,
) -> Result<Backend, DemoError> {
    let StoreConfig {
        url: store_url,
        label: store_label,
        key,
        tmp,
    } = store;
    let key_hex = key.expose_hex();
    // Against the playground the environment names the account; the demo's own store
    // settings are applied after it, so they win over KLARNA_STORE_URL.
    let base = if playground {
        KlarnaBuilder::new()
            .from_env()
            .map_err(|e| DemoError::Config(e.to_string()))?
    } else {
        KlarnaBuilder::new()
    };
    let builder = base
        .store_url(store_url)
        .store_key_hex(key_hex)
        .merchant_urls(urls);
    if playground {
        if std::env::var("KLARNA_USERNAME").is_err() || std::env::var("KLARNA_PASSWORD").is_err() {
            return Err(DemoError::Config(
                "--playground needs KLARNA_USERNAME and KLARNA_PASSWORD (playground credentials \
                 from Klarna's Merchant Portal)"
                    .to_owned(),
            ));
        }
        let region = std::env::var("KLARNA_REGION").unwrap_or_else(|_| "eu".to_owned());
        progress(&format!("opening the store: {store_label}"));
        let payments = builder.build().await?;
        Ok(Backend {
            payments,
            sim: None,
            sim_na: None,
            store_label,
            klarna_label: format!("Klarna playground, region {region}"),
            _tmp: tmp,
        })
    } else {
        progress("starting two Klarna simulators in-process: the eu and the na account");
        let sim = Simulator::start().await?;
        let sim_na = Simulator::start().await?;
        progress(&format!("opening the store: {store_label}"));
        // One account per region: Swedish purchases go to the eu account, American ones to
        // the na account, and a country of a region without an account is refused.
        let payments = builder
            .simulator(&sim)
            .region_simulator(Region::Na, &sim_na)
            .build()
            .await?;
        let klarna_label = format!(
            "Klarna simulators: region eu at {}, region na at {}",
            sim.base_url(),
            sim_na.base_url()
        );
        Ok(Backend {
            payments,
            sim: Some(sim),
            sim_na: Some(sim_na),
            store_label,
            klarna_label,
            _tmp: tmp,
        })
    }
}

/// The file of a `sqlite://` URL, unless it is an in-memory database.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{StoreConfig, sqlite_file};
    use klarna_payments::StoreKey;

    #[test]
    fn only_named_sqlite_files_are_persistent() {
        assert_eq!(
            sqlite_file("sqlite://shop.db?mode=rwc").as_deref(),
            Some("shop.db")
        );
        assert_eq!(sqlite_file("sqlite:shop.db").as_deref(), Some("shop.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn a_persistent_store_needs_an_explicit_key() {
        // Through the options, so the process-global environment is not touched; only when
        // KLARNA_STORE_KEY is unset can the refusal be seen.
        let dir = tempfile::tempdir().unwrap();
        let file = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
        let key = StoreKey::generate();
        assert!(StoreConfig::new(Some(file.clone()), Some(key)).is_ok());
        assert!(StoreConfig::new(Some("memory:".to_owned()), None).is_ok());
        assert!(StoreConfig::new(None, None).is_ok());
        if std::env::var_os("KLARNA_STORE_KEY").is_none() {
            for url in [file, "postgres://u@h/db".to_owned()] {
                let err = StoreConfig::new(Some(url), None).unwrap_err();
                assert!(err.to_string().contains("KLARNA_STORE_KEY"), "{err}");
            }
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no key file"
        );
    }
}
