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

/// Starts what the options ask for. Prints a progress line for each slow part.
pub(crate) async fn start(
    playground: bool,
    store_url: Option<String>,
    urls: MerchantUrls,
) -> Result<Backend, DemoError> {
    let (store_url, tmp, store_label) = match store_url {
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
    let key_hex = match std::env::var("KLARNA_STORE_KEY") {
        Ok(k) if !k.trim().is_empty() => k,
        _ => match sqlite_file(&store_url) {
            // A file the user named outlives this run: keep its key next to it, so the next
            // run (or `--serve` after `run`) can read the tokens it holds.
            Some(file) if tmp.is_none() => key_beside(&file)?,
            _ => StoreKey::generate().expose_hex(),
        },
    };
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

/// The store key kept in `<file>.key` (created on first use, readable by the owner only).
fn key_beside(file: &str) -> Result<String, DemoError> {
    let path = format!("{file}.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        StoreKey::from_hex(&text).map_err(|e| DemoError::Config(format!("{path}: {e}")))?;
        return Ok(text.trim().to_owned());
    }
    let hex = StoreKey::generate().expose_hex();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, hex.as_bytes())?;
    progress(&format!(
        "generated the store key in {path} (set KLARNA_STORE_KEY to keep it elsewhere)"
    ));
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::{key_beside, sqlite_file};

    #[test]
    fn only_named_sqlite_files_get_a_key_file() {
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
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shop.db").display().to_string();
        let first = key_beside(&file).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(key_beside(&file).unwrap(), first);
    }
}
