//! `klarna hpp create|get|disable|distribute`, the built binary against the in-process
//! simulator: the whole pay-by-link flow, local checks (exit 2, nothing sent), Klarna's refusals
//! (exit 1 with the JSON error and the idempotency key).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use klarna_simulator::{HppPageAction, Simulator};
use serde_json::{Value, json};

mod support;

use support::Out;

/// Runs `klarna --base-url <sim> ARGS` with the simulator's credentials; `stdin` is piped in.
async fn klarna(sim: &Simulator, args: &[&str], stdin: Option<String>) -> Out {
    run(sim.base_url(), args, stdin).await
}

/// Runs `klarna --base-url BASE ARGS` with the simulator's default credentials.
async fn run(base: &str, args: &[&str], stdin: Option<String>) -> Out {
    let mut all = vec!["--base-url".to_owned(), base.to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let envs = vec![
        ("KLARNA_USERNAME", "sim_user".to_owned()),
        ("KLARNA_PASSWORD", "sim_password".to_owned()),
    ];
    support::run(all, envs, stdin).await
}

fn session_body() -> Value {
    json!({"intent": "buy", "purchase_country": "SE", "purchase_currency": "SEK",
           "locale": "sv-SE", "order_amount": 10000, "order_tax_amount": 2000,
           "merchant_reference1": "pay_hpp_1",
           "order_lines": [{"type": "physical", "reference": "SOCK-1", "name": "Socks",
             "quantity": 2, "unit_price": 5000, "tax_rate": 2500, "total_amount": 10000,
             "total_discount_amount": 0, "total_tax_amount": 2000}]})
}

async fn kp_session(sim: &Simulator) -> String {
    let s = klarna(
        sim,
        &["sessions", "create", "--body", "-"],
        Some(session_body().to_string()),
    )
    .await
    .json();
    s["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_by_link_end_to_end() {
    let sim = Simulator::start().await.unwrap();
    let kp = kp_session(&sim).await;
    let created = klarna(
        &sim,
        &[
            "hpp",
            "create",
            "--session",
            &kp,
            "--success",
            "https://shop.example/ok?hpp={{session_id}}",
            "--cancel",
            "https://shop.example/cancel",
            "--place-order-mode",
            "place-order",
            "--page-title",
            "Your order",
        ],
        None,
    )
    .await
    .json();
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["redirect_url"],
        format!("{}/hpp/pay/{id}", sim.base_url())
    );
    assert!(created["expires_at"].is_string());
    assert_eq!(
        sim.hpp_session(&id).unwrap().place_order_mode,
        "PLACE_ORDER"
    );

    let sent = klarna(
        &sim,
        &["hpp", "distribute", &id, "--email", "shopper@example.com"],
        None,
    )
    .await
    .json();
    assert_eq!(sent, json!({}));
    let sent = klarna(
        &sim,
        &[
            "hpp",
            "distribute",
            &id,
            "--sms",
            "07000212345",
            "--phone-country",
            "SE",
        ],
        None,
    )
    .await
    .json();
    assert_eq!(sent, json!({}));
    let recorded = sim.hpp_session(&id).unwrap().distributions;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["method"], "email");
    assert_eq!(recorded[1]["contact_information"]["phone"], "07000212345");

    let read = klarna(&sim, &["hpp", "get", &id], None).await.json();
    assert_eq!(read["status"], "WAITING");
    assert!(sim.hpp_open(&id));
    let landed = sim.hpp_act(&id, HppPageAction::Pay).unwrap();
    assert_eq!(
        landed.as_deref(),
        Some(format!("https://shop.example/ok?hpp={id}").as_str())
    );
    let read = klarna(&sim, &["hpp", "get", &id], None).await.json();
    assert_eq!(read["status"], "COMPLETED");
    assert_eq!(read["order_id"], sim.orders()[0].order_id.as_str());
    assert_eq!(
        sim.orders()[0].merchant_reference1.as_deref(),
        Some("pay_hpp_1")
    );

    // Completed: disabling is refused by Klarna (exit 1, one JSON object with the key).
    let refused = klarna(&sim, &["hpp", "disable", &id], None).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let error: Value = serde_json::from_str(refused.stderr.trim()).unwrap();
    assert_eq!(error["http_status"], 400);
    assert!(error["idempotency_key"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_a_body_and_disable() {
    let sim = Simulator::start().await.unwrap();
    let kp = kp_session(&sim).await;
    let body = json!({
        "payment_session_url": format!("{}/payments/v1/sessions/{kp}", sim.base_url()),
        "options": {"place_order_mode": "NONE"},
    });
    let created = klarna(
        &sim,
        &["hpp", "create", "--body", "-"],
        Some(body.to_string()),
    )
    .await
    .json();
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert_eq!(
        klarna(&sim, &["hpp", "disable", &id], None).await.json(),
        json!({})
    );
    let read = klarna(&sim, &["hpp", "get", &id], None).await.json();
    assert_eq!(read["status"], "DISABLED");
    let gone = klarna(
        &sim,
        &["hpp", "get", "00000000-0000-4000-8000-000000000000"],
        None,
    )
    .await;
    assert_eq!(gone.code, 1, "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_exit_2_naming_the_field_and_nothing_is_sent() {
    // Nothing listens there: a request that went out would end in exit 3, not 2.
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cases: Vec<(Vec<&str>, Option<String>, &str)> = vec![
        (
            vec![
                "hpp",
                "create",
                "--session",
                "kp-1",
                "--success",
                "http://shop.example/ok",
            ],
            None,
            "merchant_urls.success",
        ),
        (
            vec!["hpp", "create", "--body", "-"],
            Some(
                json!({"payment_session_url": "https://api.klarna.com/checkout/v3/orders/1"})
                    .to_string(),
            ),
            "payment_session_url",
        ),
        (
            vec!["hpp", "create", "--body", "-"],
            Some(json!({"payment_session_url": ""}).to_string()),
            "payment_session_url",
        ),
        (
            vec!["hpp", "distribute", "h-1", "--email", "not-an-address"],
            None,
            "contact_information.email",
        ),
        (
            vec![
                "hpp",
                "distribute",
                "h-1",
                "--sms",
                "0700021234",
                "--phone-country",
                "Sweden",
            ],
            None,
            "contact_information.phone_country",
        ),
    ];
    for (args, stdin, field) in cases {
        let out = run(&nowhere, &args, stdin).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(field), "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("not-an-address"),
            "personal data echoed"
        );
    }
    // Usage errors from clap: a method without its contact field, or both methods.
    for args in [
        vec!["hpp", "distribute", "h-1"],
        vec!["hpp", "distribute", "h-1", "--sms", "0700021234"],
        vec![
            "hpp",
            "distribute",
            "h-1",
            "--email",
            "a@b.se",
            "--sms",
            "0700021234",
            "--phone-country",
            "SE",
        ],
        vec!["hpp", "create"],
    ] {
        let out = run(&nowhere, &args, None).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    // The same address does end in exit 3 once a valid request is sent (the check can fail).
    let sent = run(&nowhere, &["hpp", "get", "h-1"], None).await;
    assert_eq!(sent.code, 3, "{}", sent.stderr);
}
