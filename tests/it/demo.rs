//! `klarna demo`'s engine: the four scenarios run offline (simulator + SQLite) and every step lands.

use klarna_demo::{DemoOptions, Outcome, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_demo_lands_every_step_of_the_four_scenarios() {
    let report = run(DemoOptions::default()).await.expect("the demo starts");
    let failed: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.outcome != Outcome::Landed)
        .collect();
    assert!(failed.is_empty(), "steps that did not land: {failed:#?}");
    assert!(report.all_landed());
    for scenario in ["1", "2", "3", "4a", "4b"] {
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
