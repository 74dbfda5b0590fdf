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
    })
    .await
    .expect_err("no credentials");
    assert!(err.to_string().contains("KLARNA_USERNAME"), "{err}");
}

/// Bad input at the demo shop gets a clear message and loses nothing.
mod shop_input {
    use klarna_demo::{ServeOptions, start_shop};
    use klarna_payments::{PaymentId, StageKind};

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
        let http = client();
        for (form, field) in [
            (vec![("qty-shoe", "1"), ("price-shoe", "100")], "price-shoe"),
            (vec![("qty-shoe", "abc")], "qty-shoe"),
            (vec![("qty-shoe", "-3")], "qty-shoe"),
            (vec![("qty-shoe", "0"), ("qty-socks", "0")], "empty"),
        ] {
            let r = http
                .post(format!("{}/checkout", shop.url()))
                .form(&form)
                .send()
                .await
                .unwrap();
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
        let r = http
            .post(format!("{}/checkout", shop.url()))
            .form(&[("qty-shoe", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let pid = PaymentId::new(location.trim_start_matches("/checkout/")).unwrap();
        let page = http
            .get(format!("{}{location}", shop.url()))
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

        let r = http
            .post(format!("{}/payments/{pid}/complete", shop.url()))
            .form(&[("authorization_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let body = r.text().await.unwrap();
        assert!(body.contains("authorize again"), "{body}");
        assert!(body.contains("Nothing was charged"), "{body}");

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
        let again = http
            .get(format!("{}/checkout/{pid}", shop.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);

        // An empty token and a forged callback change nothing either.
        let r = http
            .post(format!("{}/payments/{pid}/complete", shop.url()))
            .form(&[("authorization_token", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("authorization_token"));
        let forged = http
            .post(format!("{}/klarna/authorization?secret=guess", shop.url()))
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
        let r = http
            .post(format!("{}/subscribe", shop.url()))
            .form(&[("price-coffee", "19900")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let pid = PaymentId::new(location.trim_start_matches("/checkout/")).unwrap();
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
        let admin = http
            .get(format!("{}/admin", shop.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(admin.contains(&format!("id=\"complete-{pid}\"")), "{admin}");
        let r = http
            .post(format!("{}/admin/payments/{pid}/complete", shop.url()))
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
