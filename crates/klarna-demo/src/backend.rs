//! Wires what the demo runs on: the in-process simulator (or Klarna's playground), the store,
//! and the service through the `klarna-payments` builder.

use klarna_payments::simulator::Simulator;
use klarna_payments::{Klarna, MerchantUrls, Payments, StoreKey};

use crate::DemoError;

/// The service and what it runs on. Dropping it stops the simulator and removes the
/// temporary database.
pub(crate) struct Backend {
    pub(crate) payments: Payments,
    /// `None` against the playground.
    pub(crate) sim: Option<Simulator>,
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
        _ => StoreKey::generate().expose_hex(),
    };
    // Against the playground the environment names the account; the demo's own store
    // settings are applied after it, so they win over KLARNA_STORE_URL.
    let base = if playground {
        Klarna::builder()
            .from_env()
            .map_err(|e| DemoError::Config(e.to_string()))?
    } else {
        Klarna::builder()
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
        progress(&format!("opening {store_label}"));
        let payments = builder.build().await?;
        Ok(Backend {
            payments,
            sim: None,
            store_label,
            klarna_label: format!("Klarna playground, region {region}"),
            _tmp: tmp,
        })
    } else {
        progress("starting the Klarna simulator in-process");
        let sim = Simulator::start().await?;
        progress(&format!("opening {store_label} and applying migrations"));
        let payments = builder.simulator(&sim).build().await?;
        let klarna_label = format!("Klarna simulator at {}", sim.base_url());
        Ok(Backend {
            payments,
            sim: Some(sim),
            store_label,
            klarna_label,
            _tmp: tmp,
        })
    }
}
