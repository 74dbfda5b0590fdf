//! `klarna demo`'s engine: the scenarios run offline (simulator + SQLite) and every step lands.

use klarna_demo::{DemoOptions, Outcome, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_demo_lands_every_step_of_its_scenarios() {
    let report = run(DemoOptions::default()).await.expect("the demo starts");
    let failed: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.outcome != Outcome::Landed)
        .collect();
    assert!(failed.is_empty(), "steps that did not land: {failed:#?}");
    assert!(report.all_landed());
    for scenario in ["1", "2", "3", "4a", "4b", "5"] {
        assert!(
            report.scenario_landed(scenario),
            "scenario {scenario} missing or incomplete:\n{report}"
        );
    }
    // The scenarios' key steps are all there (a scenario cut short would miss some).
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    for step in [
        "capture",
        "partial refund",
        "create customer token",
        "charge #1",
        "charge #2",
        "cancel the token",
        "charge a cancelled token",
        "order + customer token",
        "create order (new cart)",
        "shopper declines",
        "cancel the payment",
        "create order (na)",
        "capture (na)",
        "a purchase in Australia",
    ] {
        assert!(steps.contains(&step), "no step {step:?} in {steps:?}");
    }
    // Amounts are printed as money, never as minor units.
    let capture = report.steps.iter().find(|s| s.step == "capture").unwrap();
    assert_eq!(capture.amount, "1197.00 SEK");
    assert_eq!(capture.stage, "CAPTURED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_without_credentials_is_a_configuration_error() {
    // Only meaningful when the machine has no playground credentials configured.
    if std::env::var("KLARNA_USERNAME").is_ok() {
        return;
    }
    let err = run(DemoOptions {
        playground: true,
        store_url: Some("memory:".to_owned()),
        store_key: None,
    })
    .await
    .expect_err("no credentials");
    assert!(err.to_string().contains("KLARNA_USERNAME"), "{err}");
}

/// A shop's client as a browser is one: it keeps the CSRF cookie the shop hands out (and the
/// operator's session after a login) and sends them back; every form it posts carries the
/// CSRF token.
struct ShopClient {
    http: reqwest::Client,
    base: String,
    csrf: String,
    operator: Option<String>,
}

/// The payment's secret in a checkout page (the Klarna snippets send it with the token).
fn page_secret(page: &str) -> String {
    page.split("\"x-payment-secret\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the checkout page carries the payment's secret")
        .to_owned()
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl ShopClient {
    async fn new(shop: &klarna_demo::Shop) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let home = http.get(format!("{}/", shop.url())).send().await.unwrap();
        assert_eq!(home.status(), 200);
        let csrf = set_cookie(&home, "klarna_demo_csrf").expect("the shop hands out a CSRF cookie");
        let page = home.text().await.unwrap();
        assert!(
            page.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
            "the forms carry the token"
        );
        Self {
            http,
            base: shop.url().to_owned(),
            csrf,
            operator: None,
        }
    }

    fn cookies(&self) -> String {
        let mut c = format!("klarna_demo_csrf={}", self.csrf);
        if let Some(o) = &self.operator {
            c.push_str(&format!("; klarna_demo_operator={o}"));
        }
        c
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookies())
    }

    /// A form POST without the CSRF field (the cookies are still sent).
    fn post_bare(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookies())
            .form(form)
    }

    /// A form POST as the shop's own pages make it.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut form = form.to_vec();
        form.push(("csrf", &self.csrf));
        self.post_bare(path, &form)
    }

    /// What the checkout page's script does with Klarna's authorization token: posts it as
    /// JSON, with the payment's secret from the page, to the Klarna routes' complete endpoint.
    async fn complete(&self, pid: &klarna_payments::PaymentId, token: &str) -> reqwest::Response {
        self.klarna("POST", &format!("/klarna/payments/{pid}/complete"), pid)
            .await
            .json(&serde_json::json!({ "authorization_token": token }))
            .send()
            .await
            .unwrap()
    }

    /// A request of the checkout page's script to the Klarna routes: same origin, with the
    /// payment's secret the page carries.
    async fn klarna(
        &self,
        method: &str,
        path: &str,
        pid: &klarna_payments::PaymentId,
    ) -> reqwest::RequestBuilder {
        let page = self
            .get(&format!("/checkout/{pid}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let secret = page_secret(&page);
        self.http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("x-payment-secret", secret)
    }

    /// Posts a form that starts a checkout (`/checkout`, `/subscribe`): the payment the shop
    /// started, from its redirect to `/checkout/{payment}`.
    async fn start(&self, path: &str, form: &[(&str, &str)]) -> klarna_payments::PaymentId {
        let r = self.post(path, form).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        let location = r.headers()["location"].to_str().unwrap();
        klarna_payments::PaymentId::new(location.trim_start_matches("/checkout/")).unwrap()
    }

    /// Logs in with `token`: the status of `POST /admin/login`.
    async fn login(&mut self, token: &str) -> reqwest::StatusCode {
        let r = self
            .post("/admin/login", &[("token", token)])
            .send()
            .await
            .unwrap();
        if let Some(session) = set_cookie(&r, "klarna_demo_operator") {
            self.operator = Some(session);
        }
        r.status()
    }
}

/// Bad input at the demo shop gets a clear message and loses nothing.
mod shop_input {
    use klarna_demo::{ServeOptions, start_shop};
    use klarna_payments::{PaymentId, StageKind};

    use super::ShopClient;

    /// For the simulator's own endpoints (no shop cookies).
    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Waits (bounded) until Klarna's authorization callback has recorded the authorization.
    async fn authorized_by_callback(shop: &klarna_demo::Shop, pid: &PaymentId) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
        let mut stage = StageKind::Open;
        for _ in 0..500 {
            tick.tick().await;
            stage = shop.payments().payment(pid).await.unwrap().kind();
            if stage != StageKind::Open {
                break;
            }
        }
        assert_eq!(
            stage,
            StageKind::Authorized,
            "the callback recorded the authorization"
        );
    }

    async fn memory_shop() -> klarna_demo::Shop {
        start_shop(ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some("memory:".to_owned()),
            ..ServeOptions::default()
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampered_prices_and_quantities_are_refused_with_the_field_named() {
        let shop = memory_shop().await;
        let http = ShopClient::new(&shop).await;
        for (form, field) in [
            (vec![("qty-shoe", "1"), ("price-shoe", "100")], "price-shoe"),
            (vec![("qty-shoe", "abc")], "qty-shoe"),
            (vec![("qty-shoe", "-3")], "qty-shoe"),
            (vec![("qty-shoe", "0"), ("qty-socks", "0")], "empty"),
        ] {
            let r = http.post("/checkout", &form).send().await.unwrap();
            assert_eq!(r.status(), 400, "{form:?}");
            let body = r.text().await.unwrap();
            assert!(body.contains("id=\"error\""), "{body}");
            assert!(body.contains(field), "{form:?} → {body}");
        }
        let stored = shop.payments().payments(10).await.unwrap();
        assert!(stored.is_empty(), "nothing was started");
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_authorization_asks_to_authorize_again_and_keeps_the_payment() {
        let shop = memory_shop().await;
        let sim = shop.simulator_url().unwrap().to_owned();
        let http = client();
        let browser = ShopClient::new(&shop).await;
        let pid = browser.start("/checkout", &[("qty-shoe", "1")]).await;
        let page = browser
            .get(&format!("/checkout/{pid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("authorize-button"));

        // The shopper authorizes, then waits more than the token's 60 minutes.
        let session = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .session_id()
            .unwrap()
            .clone();
        let auth: serde_json::Value = http
            .post(format!("{sim}/sim/sessions/{session}/authorize"))
            .json(&serde_json::json!({"approve": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = auth["authorization_token"].as_str().unwrap().to_owned();
        // Klarna's authorization callback follows; let it land first so nothing arrives later.
        authorized_by_callback(&shop, &pid).await;
        let advanced = http
            .post(format!("{sim}/sim/clock/advance"))
            .json(&serde_json::json!({"seconds": 3_700}))
            .send()
            .await
            .unwrap();
        assert!(advanced.status().is_success());

        let r = browser.complete(&pid, &token).await;
        assert_eq!(r.status(), 409);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "reauthorize", "{body}");

        // Nothing lost: the payment is still payable and Klarna has no order.
        let p = shop.payments().payment(&pid).await.unwrap();
        assert_eq!(p.kind(), StageKind::Open, "the shopper can authorize again");
        let orders: serde_json::Value = http
            .get(format!("{sim}/sim/orders"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(orders.as_array().map(Vec::len), Some(0), "{orders}");
        let again = browser
            .get(&format!("/checkout/{pid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);

        // An empty token and a forged callback change nothing either.
        let r = browser.complete(&pid, "").await;
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["field"], "authorization_token", "{body}");
        let forged = http
            .post(format!(
                "{}/klarna/callbacks/authorization?secret=guess-guess-guess-guess-00",
                shop.url()
            ))
            .json(&serde_json::json!({"authorization_token": "x", "session_id": session.as_str()}))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(
            shop.payments().payment(&pid).await.unwrap().kind(),
            StageKind::Open
        );
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn klarnas_authorization_callback_reaches_the_shop() {
        let shop = memory_shop().await;
        let sim = shop.simulator_url().unwrap().to_owned();
        let http = client();
        let mut browser = ShopClient::new(&shop).await;
        let pid = browser
            .start("/subscribe", &[("price-coffee", "19900")])
            .await;
        let session = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .session_id()
            .unwrap()
            .clone();
        // The shopper authorizes and the browser goes away: only Klarna's server-side
        // callback (to merchant_urls.authorization, with the shop's secret) brings the token.
        let auth = http
            .post(format!("{sim}/sim/sessions/{session}/authorize"))
            .json(&serde_json::json!({"approve": true}))
            .send()
            .await
            .unwrap();
        assert!(auth.status().is_success());
        authorized_by_callback(&shop, &pid).await;
        // The merchant finishes without the browser, from the admin page.
        assert_eq!(browser.login(shop.operator_token()).await, 303);
        let admin = browser
            .get("/admin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(admin.contains(&format!("id=\"complete-{pid}\"")), "{admin}");
        let r = browser
            .post(&format!("/admin/payments/{pid}/complete"), &[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/admin?msg="), "{to}");
        let done = shop.payments().payment(&pid).await.unwrap();
        assert_eq!(done.kind(), StageKind::Tokenized);
        shop.shutdown().await;
    }
}

/// The demo shop locked down (issue 13, item 2): the admin behind a login, CSRF tokens, `Host`
/// and `Origin` checks, charges only for the next period, a bound on open checkouts, and no
/// persistent store without an explicit key.
mod shop_security {
    use klarna_demo::{DemoError, ServeOptions, Shop, start_shop};
    use klarna_payments::{PaymentId, StageKind, StoreKey};

    use super::{ShopClient, page_secret};

    fn sim_client() -> reqwest::Client {
        reqwest::Client::new()
    }

    async fn memory_shop(max_open_checkouts: usize) -> Shop {
        start_shop(ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some("memory:".to_owned()),
            max_open_checkouts,
            ..ServeOptions::default()
        })
        .await
        .unwrap()
    }

    /// Every request the simulator has received, per operation.
    async fn sim_stats(shop: &Shop) -> serde_json::Value {
        sim_client()
            .get(format!("{}/sim/stats", shop.simulator_url().unwrap()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Starts a checkout (`/checkout` or `/subscribe`) and has the shopper approve it at the
    /// simulator; completes it through the shop's form. The payment id.
    async fn paid(shop: &Shop, browser: &ShopClient, path: &str) -> PaymentId {
        let pid = browser.start(path, &[]).await;
        let session = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .session_id()
            .unwrap()
            .clone();
        let auth: serde_json::Value = sim_client()
            .post(format!(
                "{}/sim/sessions/{session}/authorize",
                shop.simulator_url().unwrap()
            ))
            .json(&serde_json::json!({"approve": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = auth["authorization_token"].as_str().unwrap();
        let r = browser.complete(&pid, token).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        pid
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_admin_needs_the_operators_login() {
        let shop = memory_shop(20).await;
        let mut browser = ShopClient::new(&shop).await;
        let pid = paid(&shop, &browser, "/checkout").await;
        let order = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .order_id()
            .unwrap()
            .clone();
        let before = sim_stats(&shop).await;

        // Without a session: the page redirects to the login, every action is 403.
        let r = browser.get("/admin").send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/admin/login");
        for action in [
            format!("/admin/orders/{order}/capture"),
            format!("/admin/orders/{order}/cancel"),
            format!("/admin/payments/{pid}/cancel"),
        ] {
            let r = browser.post(&action, &[]).send().await.unwrap();
            assert_eq!(r.status(), 403, "{action}");
        }
        let r = browser
            .post(&format!("/admin/orders/{order}/refund"), &[("amount", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        // A wrong token opens nothing; a made-up session cookie neither.
        assert_eq!(browser.login("not-the-token").await, 403);
        assert!(browser.operator.is_none(), "no session for a wrong token");
        browser.operator = Some("0".repeat(64));
        let r = browser.get("/admin").send().await.unwrap();
        assert_eq!(r.status(), 303, "a guessed session is no session");
        let r = browser
            .post(&format!("/admin/orders/{order}/capture"), &[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(sim_stats(&shop).await, before, "nothing reached Klarna");
        let managed = shop.payments().order(&order).await.unwrap();
        assert_eq!(managed.captured(), 0, "nothing was captured");

        // The operator's token opens the admin.
        browser.operator = None;
        assert_eq!(browser.login(shop.operator_token()).await, 303);
        assert!(browser.operator.is_some());
        let r = browser.get("/admin").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = browser
            .post(&format!("/admin/orders/{order}/capture"), &[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg=")
        );
        let managed = shop.payments().order(&order).await.unwrap();
        assert_eq!(managed.captured(), managed.order_amount());

        // Logging out ends the session at the shop, not only in the browser: the old cookie
        // no longer opens the admin.
        let r = browser.post("/admin/logout", &[]).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let cleared = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("klarna_demo_operator=;") && v.contains("Max-Age=0"));
        assert!(cleared, "the cookie is cleared");
        let r = browser.get("/admin").send().await.unwrap();
        assert_eq!(r.status(), 303, "the old session is gone");
        assert_eq!(r.headers()["location"], "/admin/login");
        shop.shutdown().await;
    }

    /// Behind https (a tunnel, a proxy: the public URL), the shop's cookies are `Secure`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cookies_are_secure_behind_https() {
        let shop = start_shop(ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some("memory:".to_owned()),
            public_url: Some("https://shop.example".to_owned()),
            ..ServeOptions::default()
        })
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let home = http
            .get(format!("{}/", shop.url()))
            .header("host", "shop.example")
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), 200);
        let csrf = home.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(csrf.contains("; Secure"), "{csrf}");
        let token = super::set_cookie(&home, "klarna_demo_csrf").unwrap();
        let login = http
            .post(format!("{}/admin/login", shop.url()))
            .header("host", "shop.example")
            .header("origin", "https://shop.example")
            .header("cookie", format!("klarna_demo_csrf={token}"))
            .form(&[("token", shop.operator_token()), ("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let session = login.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(session.starts_with("klarna_demo_operator="), "{session}");
        assert!(session.contains("; Secure"), "{session}");
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_without_the_csrf_token_changes_nothing() {
        let shop = memory_shop(20).await;
        let mut browser = ShopClient::new(&shop).await;
        let before = sim_stats(&shop).await;
        // Without the field, with a wrong one, and without the cookie (another site's form).
        let r = browser
            .post_bare("/checkout", &[("qty-shoe", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = browser
            .post_bare("/checkout", &[("qty-shoe", "1"), ("csrf", &"a".repeat(64))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = browser
            .http
            .post(format!("{}/subscribe", shop.url()))
            .form(&[("csrf", browser.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a token without its cookie");
        assert!(shop.payments().payments(10).await.unwrap().is_empty());
        assert_eq!(sim_stats(&shop).await, before, "no Klarna session");

        // The operator's forms too, logged in or not.
        let pid = paid(&shop, &browser, "/checkout").await;
        assert_eq!(browser.login(shop.operator_token()).await, 303);
        let order = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .order_id()
            .unwrap()
            .clone();
        let before = sim_stats(&shop).await;
        let r = browser
            .post_bare(&format!("/admin/orders/{order}/capture"), &[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = browser
            .post_bare("/admin/login", &[("token", shop.operator_token())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "the login form carries the token too");
        assert_eq!(sim_stats(&shop).await, before);
        assert_eq!(shop.payments().order(&order).await.unwrap().captured(), 0);
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_foreign_host_or_origin_is_refused() {
        let shop = memory_shop(20).await;
        let browser = ShopClient::new(&shop).await;
        let before = sim_stats(&shop).await;
        // DNS rebinding (the shop's address under another name: 421), and cross-site POSTs,
        // even with a valid token (403).
        for (post, header, value, status) in [
            (false, "host", "rebind.example:80", 421),
            (true, "host", "rebind.example", 421),
            (true, "origin", "https://evil.example", 403),
            (true, "origin", "null", 403),
        ] {
            let request = if post {
                browser.post("/checkout", &[("qty-shoe", "1")])
            } else {
                browser.get("/")
            };
            let r = request.header(header, value).send().await.unwrap();
            assert_eq!(r.status(), status, "{header}: {value}");
        }
        assert!(shop.payments().payments(10).await.unwrap().is_empty());
        assert_eq!(sim_stats(&shop).await, before, "no Klarna session");
        // Its own names and origin are served.
        let port = shop.url().rsplit(':').next().unwrap().to_owned();
        let r = browser
            .get("/")
            .header("host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = browser
            .post("/checkout", &[("qty-shoe", "1")])
            .header("origin", shop.url())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_next_period_is_charged() {
        let shop = memory_shop(20).await;
        let browser = ShopClient::new(&shop).await;
        let pid = paid(&shop, &browser, "/subscribe").await;
        let charge = format!("/subscriptions/{pid}/charge");
        let before = sim_stats(&shop).await;
        // Period 1 was charged at the subscription; a skipped period or a new suffix is not
        // the next charge.
        for id in [
            format!("{pid}-period-3"),
            format!("{pid}-period-2x"),
            format!("{pid}-period-02"),
            format!("{pid}-period-0"),
        ] {
            let r = browser
                .post(&charge, &[("charge_id", &id)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{id}");
            assert!(
                shop.payments()
                    .payment(&PaymentId::new(id.as_str()).unwrap())
                    .await
                    .is_err(),
                "{id} was not charged"
            );
        }
        assert_eq!(sim_stats(&shop).await, before, "nothing was charged");

        // The next one is charged, once however often it is sent, and the page lists both.
        let next = format!("{pid}-period-2");
        for _ in 0..2 {
            let r = browser
                .post(&charge, &[("charge_id", &next)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
        }
        let p2 = shop
            .payments()
            .payment(&PaymentId::new(next.as_str()).unwrap())
            .await
            .unwrap();
        assert_eq!(p2.kind(), StageKind::Ordered);
        let page = browser
            .get(&format!("/payments/{pid}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(page.matches("class=\"charge\"").count(), 2, "{page}");
        assert!(page.contains(&format!("value=\"{pid}-period-3\"")));
        let orders: serde_json::Value = sim_client()
            .get(format!("{}/sim/orders", shop.simulator_url().unwrap()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(orders.as_array().map(Vec::len), Some(2), "two charges");
        shop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_checkouts_are_bounded_per_client() {
        let shop = memory_shop(2).await;
        let browser = ShopClient::new(&shop).await;
        for path in ["/checkout", "/subscribe"] {
            let r = browser.post(path, &[]).send().await.unwrap();
            assert_eq!(r.status(), 303, "{path}");
        }
        let before = sim_stats(&shop).await;
        for path in ["/checkout", "/subscribe"] {
            let r = browser.post(path, &[]).send().await.unwrap();
            assert_eq!(r.status(), 429, "{path}");
        }
        assert_eq!(sim_stats(&shop).await, before, "no Klarna session");
        assert_eq!(shop.payments().payments(10).await.unwrap().len(), 2);

        // An open checkout cancelled by the operator frees its slot.
        let mut operator = ShopClient::new(&shop).await;
        assert_eq!(operator.login(shop.operator_token()).await, 303);
        let first = shop.payments().payments(10).await.unwrap()[0].id().clone();
        let r = operator
            .post(&format!("/admin/payments/{first}/cancel"), &[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let r = browser.post("/checkout", &[]).send().await.unwrap();
        assert_eq!(r.status(), 303);
        shop.shutdown().await;
    }

    /// The admin's review queue: a create order whose answer was lost after Klarna made the
    /// order goes to review (Klarna replays nothing on the Payments API); the operator's
    /// resolutions are form posts behind the login and the CSRF token. A wrong order id is
    /// refused with nothing written; the right one records the order; "no order" cancels.
    /// The payments are driven into review by a second instance of the service on the same
    /// store (a manual clock past the fence), as a second shop instance would.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_admin_resolves_the_review_queue() {
        use std::sync::Arc;

        use klarna_payments::{KlarnaBuilder, ManualClock, ServiceError, SystemClock};
        use klarna_ports::Clock as _;

        let dir = tempfile::tempdir().unwrap();
        let store_url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
        let key = StoreKey::generate();
        let shop = start_shop(ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some(store_url.clone()),
            store_key: Some(StoreKey::from_hex(&key.expose_hex()).unwrap()),
            ..ServeOptions::default()
        })
        .await
        .unwrap();
        let sim = shop.simulator_url().unwrap().to_owned();
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let other = KlarnaBuilder::new()
            .base_url(sim.clone())
            .credentials("sim_user", "sim_password")
            .store_url(store_url)
            .store_key(&key)
            .clock(clock.clone())
            .build()
            .await
            .unwrap();
        let mut browser = ShopClient::new(&shop).await;
        let mut in_review = Vec::new();
        for _ in 0..2 {
            let pid = browser.start("/checkout", &[]).await;
            let session = other
                .payment(&pid)
                .await
                .unwrap()
                .session_id()
                .unwrap()
                .clone();
            let auth: serde_json::Value = sim_client()
                .post(format!("{sim}/sim/sessions/{session}/authorize"))
                .json(&serde_json::json!({"approve": true}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = klarna_payments::AuthorizationToken::new(
                auth["authorization_token"].as_str().unwrap(),
            )
            .unwrap();
            let added = sim_client()
                .post(format!("{sim}/sim/faults"))
                .json(
                    &serde_json::json!({"operation": "payments.create_order", "times": 1,
                                          "fault": {"kind": "drop_after_effect"}}),
                )
                .send()
                .await
                .unwrap();
            assert!(added.status().is_success());
            let err = other.complete(&pid, token).await.unwrap_err();
            assert!(
                matches!(err, ServiceError::OutcomeUnknown { .. }),
                "{err:?}"
            );
            in_review.push(pid);
        }
        clock.advance(klarna_domain::Span::minutes(3));
        let report = other.reconcile_all().await.unwrap();
        assert_eq!(report.needs_review, 2, "{report:?}");
        let orders: serde_json::Value = sim_client()
            .get(format!("{sim}/sim/orders"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // What Klarna holds as `merchant_reference1`: the shop's order number.
        let mut refs = std::collections::HashMap::new();
        for pid in &in_review {
            let p = other.payment(pid).await.unwrap();
            refs.insert(pid.clone(), p.merchant_reference1().to_owned());
        }
        let order_of = |pid: &PaymentId| {
            orders
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["merchant_reference1"] == refs[pid].as_str())
                .map(|o| o["order_id"].as_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("Klarna holds the order of {pid}: {orders}"))
        };
        let (found, none) = (&in_review[0], &in_review[1]);

        // Behind the login.
        let r = browser
            .post(
                &format!("/admin/payments/{found}/resolve-order"),
                &[("order_id", "x")],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "no operator session");
        assert_eq!(browser.login(shop.operator_token()).await, 303);
        let admin = browser
            .get("/admin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for pid in [found, none] {
            assert!(admin.contains(&format!("id=\"review-{pid}\"")), "{admin}");
        }
        assert!(
            admin.contains("merchant_reference1"),
            "the reason is shown: {admin}"
        );
        let resolve = |path: String, form: Vec<(&'static str, String)>| {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post(&path, &form).send()
        };
        // The other payment's order is not this payment's: refused, nothing written.
        let r = resolve(
            format!("/admin/payments/{found}/resolve-order"),
            vec![("order_id", order_of(none))],
        )
        .await
        .unwrap();
        let err = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(err.starts_with("/admin?err="), "{err}");
        assert_eq!(
            shop.payments().payment(found).await.unwrap().kind(),
            StageKind::NeedsReview
        );
        let r = resolve(
            format!("/admin/payments/{found}/resolve-order"),
            vec![("order_id", order_of(found))],
        )
        .await
        .unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg="),
            "{:?}",
            r.headers()["location"]
        );
        let p = shop.payments().payment(found).await.unwrap();
        assert_eq!(p.kind(), StageKind::Ordered);
        assert_eq!(
            p.order_id().map(|o| o.as_str().to_owned()),
            Some(order_of(found))
        );
        // "No order" needs a reason.
        let r = resolve(
            format!("/admin/payments/{none}/resolve-none"),
            vec![("reason", " ".to_owned())],
        )
        .await
        .unwrap();
        assert!(r.headers()["location"].to_str().unwrap().contains("reason"));
        let r = resolve(
            format!("/admin/payments/{none}/resolve-none"),
            vec![("reason", "checked the portal".to_owned())],
        )
        .await
        .unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg=")
        );
        assert_eq!(
            shop.payments().payment(none).await.unwrap().kind(),
            StageKind::Cancelled
        );
        let admin = browser
            .get("/admin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(admin.contains("id=\"review-empty\""), "{admin}");
        shop.shutdown().await;
    }

    /// A capture from the admin sends the cart's lines and the shipping info typed in; more
    /// shipping info is added later; the ledger shows both, and the refund's lines.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_admin_captures_with_lines_and_shipping_info() {
        let shop = memory_shop(20).await;
        let mut browser = ShopClient::new(&shop).await;
        let pid = paid(&shop, &browser, "/checkout").await;
        let order = shop
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .order_id()
            .unwrap()
            .clone();
        assert_eq!(browser.login(shop.operator_token()).await, 303);
        let r = browser
            .post(
                &format!("/admin/orders/{order}/capture"),
                &[
                    ("shipping_company", "PostNord SE"),
                    ("tracking_number", "PN-1"),
                ],
            )
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg=")
        );
        let managed = shop.payments().order(&order).await.unwrap();
        let capture = managed.captures().first().unwrap().clone();
        assert_eq!(capture.lines.len(), 2, "the cart's two lines ship");
        assert_eq!(capture.shipping_info.len(), 1);
        let r = browser
            .post(
                &format!(
                    "/admin/orders/{order}/captures/{}/shipping-info",
                    capture.id
                ),
                &[("shipping_company", "DHL SE"), ("tracking_number", "DHL-2")],
            )
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg="),
            "{:?}",
            r.headers()["location"]
        );
        let r = browser
            .post(
                &format!("/admin/orders/{order}/refund"),
                &[("amount", "149.00")],
            )
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin?msg=")
        );
        let admin = browser
            .get("/admin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ledger = admin
            .split(&format!("id=\"ledger-{pid}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("the order's ledger is shown: {admin}"));
        let ledger = ledger.split("</tr>").next().unwrap();
        for shown in [
            "1 × Trail shoe",
            "1 × Wool socks",
            "PostNord SE PN-1",
            "DHL SE DHL-2",
            "Refund",
        ] {
            assert!(ledger.contains(shown), "{shown} in {ledger}");
        }
        assert_eq!(
            shop.payments().order(&order).await.unwrap().captures()[0]
                .shipping_info
                .len(),
            2
        );
        shop.shutdown().await;
    }

    /// The browser cannot open a Klarna session of its own (the shop starts payments from
    /// its catalog), and a cart it sends back is held to the catalog: nothing reaches Klarna.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_klarna_routes_hold_the_browser_to_the_catalog() {
        let shop = memory_shop(20).await;
        let browser = ShopClient::new(&shop).await;
        let pid = browser.start("/checkout", &[]).await;
        let before = sim_stats(&shop).await;
        let start = browser
            .klarna("POST", "/klarna/payments", &pid)
            .await
            .json(&serde_json::json!({"intent": "buy", "cart": {}}))
            .send()
            .await
            .unwrap();
        // No such route: the request falls through to the shop's own routes, whose CSRF
        // layer refuses any POST without the form's token.
        assert_eq!(start.status(), 403, "no browser start");
        let cheap = serde_json::json!({"cart": {
            "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
            "order_lines": [{"name": "Trail shoe", "quantity": 1, "unit_price": 100,
                             "tax_rate": 2500, "reference": "shoe"}]
        }});
        let r = browser
            .klarna("PUT", &format!("/klarna/payments/{pid}/cart"), &pid)
            .await
            .json(&cheap)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["field"], "cart.order_lines[0].unit_price", "{body}");
        assert_eq!(sim_stats(&shop).await, before, "nothing reached Klarna");
        assert_eq!(
            shop.payments()
                .payment(&pid)
                .await
                .unwrap()
                .cart()
                .total()
                .minor(),
            104_800,
            "the cart is unchanged (a shoe and a pair of socks)"
        );
        shop.shutdown().await;
    }

    /// The secrets of the Klarna routes follow the store key: after a restart with the same
    /// store, a checkout page carries the same payment secret, and Klarna's callback for a
    /// payment made before the restart (at the URL the session was created with) is accepted,
    /// once; a guessed secret is not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callbacks_and_checkout_pages_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::generate();
        let options = || ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some(format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("shop.db").display()
            )),
            store_key: Some(StoreKey::from_hex(&key.expose_hex()).unwrap()),
            ..ServeOptions::default()
        };
        let before = start_shop(options()).await.unwrap();
        let browser = ShopClient::new(&before).await;
        let pid = browser.start("/checkout", &[]).await;
        let location = format!("/checkout/{pid}");
        let session = before
            .payments()
            .payment(&pid)
            .await
            .unwrap()
            .session_id()
            .unwrap()
            .clone();
        let page = browser
            .get(&location)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let secret_before = page_secret(&page);
        // The authorization callback URL Klarna holds for this session.
        let read: serde_json::Value = sim_client()
            .get(format!(
                "{}/payments/v1/sessions/{session}",
                before.simulator_url().unwrap()
            ))
            .basic_auth("sim_user", Some("sim_password"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = read["merchant_urls"]["authorization"]
            .as_str()
            .unwrap_or_else(|| panic!("the session holds the callback URL: {read}"))
            .to_owned();
        let path = url
            .strip_prefix(before.url())
            .expect("the callback goes to the shop")
            .to_owned();
        assert!(
            path.starts_with("/klarna/callbacks/authorization?secret="),
            "{path}"
        );
        before.shutdown().await;

        let after = start_shop(options()).await.unwrap();
        let browser = ShopClient::new(&after).await;
        let page = browser
            .get(&location)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(page_secret(&page), secret_before, "the same payment secret");
        let callback = |path: String| {
            sim_client()
                .post(format!("{}{path}", after.url()))
                .json(&serde_json::json!({
                    "authorization_token": "auth-token-from-before-the-restart",
                    "session_id": session.as_str(),
                }))
                .send()
        };
        let forged = callback(
            "/klarna/callbacks/authorization?secret=guess-guess-guess-guess-00".to_owned(),
        )
        .await
        .unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(
            after.payments().payment(&pid).await.unwrap().kind(),
            StageKind::Open
        );
        for attempt in ["first", "replayed"] {
            let r = callback(path.clone()).await.unwrap();
            assert_eq!(r.status(), 204, "the {attempt} callback");
            assert_eq!(
                after.payments().payment(&pid).await.unwrap().kind(),
                StageKind::Authorized,
                "after the {attempt} callback"
            );
        }
        after.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_persistent_store_needs_an_explicit_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
        let options = |key: Option<StoreKey>| ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            store_url: Some(file.clone()),
            store_key: key,
            ..ServeOptions::default()
        };
        // The environment is process-wide: the refusal shows only where it has no key.
        if std::env::var_os("KLARNA_STORE_KEY").is_none() {
            let err = start_shop(options(None)).await.expect_err("refused");
            assert!(matches!(err, DemoError::Config(_)), "{err}");
            assert!(err.to_string().contains("KLARNA_STORE_KEY"), "{err}");
        }
        let shop = start_shop(options(Some(StoreKey::generate())))
            .await
            .unwrap();
        shop.shutdown().await;
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            files.iter().all(|f| !f.ends_with(".key")),
            "no key beside the database: {files:?}"
        );
    }
}
