//! The demo shop in headless Chromium: a declined then approved one-time purchase, a
//! subscription with a second charge, an admin capture; then the store is checked. Takes the
//! screenshots in `docs/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test fails when `CI` is
//! set and prints a skip message otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use klarna_demo::{ServeOptions, start_shop};
use klarna_payments::{PaymentId, StageKind};

/// How long any one page state may take to appear.
const PATIENCE: Duration = Duration::from_secs(30);

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
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v.pointer("/value/ready") == Some(&serde_json::Value::Bool(true))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver not ready within {PATIENCE:?}"
        );
    }
}

async fn text(c: &Client, id: &str) -> String {
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

async fn click(c: &Client, id: &str) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id} never appeared: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking #{id}: {e}"));
}

/// Waits until Klarna's widget (here the simulator's stand-in) is loaded and ready.
async fn widget_ready(c: &Client) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='klarna-status' and text()='Klarna is ready']",
        ))
        .await
        .expect("Klarna's widget loads");
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("docs/screenshots");
    std::fs::write(dir.join(name), png).expect("write the screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_subscribes_and_the_merchant_captures_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (
        on_path(&["chromium", "chromium-browser", "google-chrome"]),
        on_path(&["chromedriver"]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium / chromedriver are missing: install Debian's `chromium` and `chromium-driver`"
        );
        eprintln!("skipping the browser test: chromium and chromedriver are not installed");
        return;
    };

    let tmp = tempfile::tempdir().expect("temp dir");
    let shop = start_shop(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("address"),
        store_url: Some(format!(
            "sqlite://{}?mode=rwc",
            tmp.path().join("shop.db").display()
        )),
        ..ServeOptions::default()
    })
    .await
    .expect("the shop starts");

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

    // 1. One-time purchase: one shoe and two pairs of socks. The shopper is declined first
    //    (nothing lost: the same checkout still works), then approved.
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    let socks = c.find(Locator::Id("qty-socks")).await.expect("socks");
    socks.clear().await.expect("clear");
    socks.send_keys("2").await.expect("type");
    click(&c, "checkout-button").await;
    widget_ready(&c).await;
    assert_eq!(text(&c, "cart-total").await, "1197.00 SEK");
    let one_time = PaymentId::new(text(&c, "payment-id").await).expect("payment id");
    screenshot(&c, "checkout.png").await;

    click(&c, "simulate-decline").await;
    click(&c, "authorize-button").await;
    // The error line is in the page from the start, hidden: wait for the decline to show it.
    let declined = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='klarna-error' and not(@hidden) and string-length(normalize-space()) > 0]",
        ))
        .await
        .expect("the decline is shown")
        .text()
        .await
        .expect("text");
    assert!(declined.contains("declined"), "{declined}");
    assert_eq!(
        shop.payments()
            .payment(&one_time)
            .await
            .expect("stored")
            .kind(),
        StageKind::Open,
        "a declined shopper leaves the payment open"
    );
    // Klarna's `show_form: false` removes the widget; the shopper comes back to the same
    // checkout (the payment is still open) and is approved.
    c.goto(&format!("{}/checkout/{one_time}", shop.url()))
        .await
        .expect("back to the checkout");
    widget_ready(&c).await;
    click(&c, "authorize-button").await;
    assert_eq!(text(&c, "payment-stage").await, "ordered");
    let order_id = text(&c, "order-id").await;
    assert!(!order_id.is_empty());

    // 2. Subscription: tokenize, the first month charged at once, then "charge again".
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    click(&c, "subscribe-button").await;
    widget_ready(&c).await;
    let subscription = PaymentId::new(text(&c, "payment-id").await).expect("payment id");
    click(&c, "authorize-button").await;
    assert_eq!(text(&c, "payment-stage").await, "tokenized");
    let first = c
        .find_all(Locator::Css("tr.charge"))
        .await
        .expect("charges");
    assert_eq!(first.len(), 1, "the first month is charged");
    click(&c, "charge-again-button").await;
    let charged = text(&c, "charge-result").await;
    assert!(charged.contains("-period-2"), "{charged}");
    let charges = c
        .find_all(Locator::Css("tr.charge"))
        .await
        .expect("charges");
    assert_eq!(charges.len(), 2, "two charges after charging again");

    // 3. Admin: capture the one-time order.
    c.goto(&format!("{}/admin", shop.url()))
        .await
        .expect("admin");
    click(&c, &format!("capture-{one_time}")).await;
    let message = text(&c, "message").await;
    assert!(message.contains("Captured 1197.00 SEK"), "{message}");
    let status = c
        .find(Locator::Css(&format!("#payment-{one_time} .order-status")))
        .await
        .expect("the order's row")
        .text()
        .await
        .expect("status");
    assert_eq!(status, "CAPTURED");
    screenshot(&c, "admin.png").await;
    c.close().await.expect("close the browser");

    // 4. The store agrees with what the pages showed.
    let p = shop
        .payments()
        .payment(&one_time)
        .await
        .expect("one-time payment");
    assert_eq!(p.kind(), StageKind::Ordered);
    let order = p.order_id().expect("an order").clone();
    assert_eq!(order.as_str(), order_id);
    let managed = shop.payments().order(&order).await.expect("managed order");
    assert_eq!(managed.captured(), 119_700);
    assert_eq!(managed.order_amount(), 119_700);

    let sub = shop
        .payments()
        .payment(&subscription)
        .await
        .expect("subscription");
    assert_eq!(sub.kind(), StageKind::Tokenized);
    let mut orders = Vec::new();
    for n in 1..=2 {
        let id = PaymentId::new(format!("{subscription}-period-{n}")).expect("id");
        let charge = shop.payments().payment(&id).await.expect("charge stored");
        assert_eq!(charge.kind(), StageKind::Ordered, "charge {n}");
        assert_eq!(charge.cart().total().minor(), 19_900);
        orders.push(charge.order_id().expect("order").clone());
    }
    assert_ne!(orders[0], orders[1], "two charges, two orders");
    let all = shop.payments().payments(100).await.expect("list");
    assert_eq!(all.len(), 4, "one purchase, one subscription, two charges");
    shop.shutdown().await;
}
