//! `klarna settlements …` as a child process against the simulator: the reads (payouts, one
//! payout, the summary, transactions, the CSV report), inputs refused before anything is sent
//! (exit 2 naming the field), an unknown payout (exit 1, 404), and the reconciliation report of
//! a SQLite store whose orders the service captured and refunded.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::Duration;

use klarna_payments::{
    Amount, AuthorizationToken, CaptureRequest, Cart, Completed, Intent, Klarna, KlarnaBuilder,
    Market, OrderId, OrderLine, Purchase, RefundRequest, StoreKey,
};
use klarna_simulator::settlements::{FIXED_FEE, percentage_fee};
use klarna_simulator::{ShopperDecision, Simulator};
use serde_json::Value;

mod support;

use support::{Out, run};

struct Env {
    sim: Simulator,
    store_url: String,
    key: StoreKey,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("payments.db").display()
        );
        Self {
            sim: Simulator::start().await.unwrap(),
            store_url,
            key: StoreKey::generate(),
            _dir: dir,
        }
    }

    async fn klarna(&self, args: &[&str]) -> Out {
        let mut all = vec!["--base-url".to_owned(), self.sim.base_url().to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let envs = vec![
            ("KLARNA_STORE_KEY", self.key.expose_hex()),
            ("KLARNA_USERNAME", self.sim.username().to_owned()),
            ("KLARNA_PASSWORD", self.sim.password().to_owned()),
        ];
        run(all, envs, None).await
    }

    async fn service(&self) -> Klarna {
        KlarnaBuilder::new()
            .base_url(self.sim.base_url())
            .credentials(self.sim.username(), self.sim.password())
            .store_url(self.store_url.clone())
            .store_key(&self.key)
            .build()
            .await
            .unwrap()
    }

    async fn order(&self, klarna: &Klarna) -> OrderId {
        let line = OrderLine::builder("Shoe", 1, 89_900)
            .tax_rate(2_500)
            .build()
            .unwrap();
        let cart = Cart::new(Market::parse("SE", "SEK", "sv-SE").unwrap(), vec![line]).unwrap();
        let c = klarna
            .start_checkout(Purchase::new(Intent::Buy, cart).unwrap())
            .await
            .unwrap();
        let auth = self
            .sim
            .authorize(c.session_id.as_str(), ShopperDecision::approve())
            .unwrap();
        let token = AuthorizationToken::new(auth.authorization_token.unwrap()).unwrap();
        match klarna.complete(&c.payment_id, token).await.unwrap() {
            Completed::Order(o) => o.order_id().clone(),
            other => panic!("{other:?}"),
        }
    }
}

fn field_error(out: &Out, field: &str) {
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains(&format!("invalid {field}")), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_refusals_and_the_reconciliation_report() {
    let env = Env::new().await;
    let klarna = env.service().await;
    let a = env.order(&klarna).await;
    let b = env.order(&klarna).await;
    let capture = |amount, reference: &str| {
        CaptureRequest::builder(Amount::new(amount).unwrap())
            .reference(reference)
            .build()
            .unwrap()
    };
    klarna.capture(&a, capture(89_900, "SHIP-A")).await.unwrap();
    klarna.capture(&b, capture(60_000, "SHIP-B")).await.unwrap();
    klarna
        .refund(
            &b,
            RefundRequest::builder(Amount::new(10_000).unwrap())
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    // Before the cut-off nothing is settled.
    let before = env.klarna(&["settlements", "payouts"]).await.json();
    assert_eq!(before["payouts"], Value::Array(vec![]));
    env.sim.advance_clock(Duration::from_secs(2 * 86_400));

    let page = env
        .klarna(&["settlements", "payouts", "--currency", "SEK"])
        .await
        .json();
    assert_eq!(page["payouts"].as_array().unwrap().len(), 1);
    let reference = page["payouts"][0]["payment_reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let fees = percentage_fee(89_900) + percentage_fee(60_000) + 2 * FIXED_FEE;
    assert_eq!(page["payouts"][0]["totals"]["fee_amount"], fees);

    let one = env
        .klarna(&["settlements", "payout", &reference])
        .await
        .json();
    assert_eq!(one, page["payouts"][0]);

    let all = env
        .klarna(&[
            "settlements",
            "transactions",
            "--order-id",
            b.as_str(),
            "--size",
            "2",
            "--all",
        ])
        .await
        .json();
    assert_eq!(
        all["transactions"].as_array().unwrap().len(),
        4,
        "sale, 2 fees, return"
    );

    let summary = env
        .klarna(&[
            "settlements",
            "summary",
            "--from",
            "2000-01-01",
            "--to",
            "2999-12-31",
        ])
        .await
        .json();
    assert_eq!(summary[0]["summary_total_sale_amount"], 149_900);

    let csv = env.klarna(&["settlements", "report", &reference]).await;
    assert_eq!(csv.code, 0, "{csv:?}");
    assert_eq!(
        csv.stdout.lines().count(),
        1 + 7,
        "a header and 7 transactions"
    );

    // Refused before anything is sent, naming the field.
    field_error(
        &env.klarna(&["settlements", "payouts", "--size", "501"])
            .await,
        "size",
    );
    field_error(
        &env.klarna(&[
            "settlements",
            "payouts",
            "--from",
            "2024-05-03",
            "--to",
            "2024-05-01",
        ])
        .await,
        "from",
    );
    field_error(
        &env.klarna(&["settlements", "payout", ""]).await,
        "payment_reference",
    );
    field_error(
        &env.klarna(&["settlements", "transactions", "--order-id", " "])
            .await,
        "order_id",
    );
    // An unknown payout: Klarna's 404 as one JSON object, exit 1.
    let unknown = env
        .klarna(&["settlements", "payout", "SIM-SEK-19990101"])
        .await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    let e: Value = serde_json::from_str(unknown.stderr.trim()).unwrap();
    assert_eq!(
        (e["http_status"].as_u64(), e["error_code"].as_str()),
        (Some(404), Some("NOT_FOUND"))
    );

    // The report over the store (the credentials and store key from the environment).
    let r = env
        .klarna(&[
            "settlements",
            "reconcile",
            "--store",
            &env.store_url,
            "--older-than-days",
            "0",
        ])
        .await
        .json();
    assert_eq!(r["summary"]["matched"], 3, "{r}");
    assert_eq!(r["summary"]["unknown"], 0, "{r}");
    assert_eq!(r["summary"]["unsettled"], 0, "{r}");
    assert_eq!(r["summary"]["fees"], fees, "{r}");
    assert_eq!(r["payouts"][0]["payment_reference"], reference.as_str());
    assert_eq!(r["payouts"][0]["net"], 149_900 - 10_000 - fees);
    let empty_range = env
        .klarna(&[
            "settlements",
            "reconcile",
            "--store",
            &env.store_url,
            "--from",
            "2024-05-02",
            "--to",
            "2024-05-01",
        ])
        .await;
    field_error(&empty_range, "from");
}
