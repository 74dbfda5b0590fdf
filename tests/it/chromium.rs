//! Headless Chromium for the browser tests: Debian's `chromium` and `chromedriver` found on `PATH`, the driver started and killed, a browser session opened; the page helpers the tests share.
//!
//! Without them a test fails when `CI` is set and is skipped with a message otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

/// How long any one page state may take to appear.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver, killed when the test ends however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls chromedriver's `/status` until it says ready, at most `PATIENCE`.
async fn wait_until_ready(driver: &mut Driver, url: &str) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        tick.tick().await;
        if let Some(status) = driver.0.try_wait().expect("chromedriver status") {
            panic!("chromedriver exited early: {status}");
        }
        if let Ok(r) = http.get(format!("{url}/status")).send().await
            && let Ok(v) = r.json::<Value>().await
            && v.pointer("/value/ready") == Some(&Value::Bool(true))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver not ready within {PATIENCE:?}"
        );
    }
}

/// A browser session in headless Chromium, with the driver and the profile it needs.
pub(crate) struct Browser {
    /// The WebDriver client.
    pub(crate) c: Client,
    // Dropped after the client: the driver is killed and the profile removed last.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1280 × 900), or `None` when they
    /// are not installed and `CI` is unset (the skip is printed, naming `test`).
    ///
    /// # Panics
    /// When `CI` is set and they are missing, or the driver does not come up.
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) = (
            on_path(&["chromium", "chromium-browser", "google-chrome"]),
            on_path(&["chromedriver"]),
        ) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but chromium / chromedriver are missing: install Debian's `chromium` and `chromium-driver`"
            );
            eprintln!("skipping {test}: chromium and chromedriver are not installed");
            return None;
        };
        let port = free_port();
        let mut driver = Driver(
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&mut driver, &driver_url).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a browser session");
        Some(Self {
            c,
            _driver: driver,
            _profile: profile,
        })
    }
}

/// The text of `#id` once it is in the page, at most `PATIENCE`.
pub(crate) async fn text(c: &Client, id: &str) -> String {
    match c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
    {
        Ok(e) => e.text().await.expect("element text"),
        Err(e) => {
            let page = c.source().await.unwrap_or_default();
            panic!("#{id} never appeared ({e}); the page:\n{page}");
        }
    }
}

/// Clicks `#id` once it is in the page, at most `PATIENCE`.
pub(crate) async fn click(c: &Client, id: &str) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id} never appeared: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking #{id}: {e}"));
}
