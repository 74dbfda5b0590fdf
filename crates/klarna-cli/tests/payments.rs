//! `klarna payments …` (the operator's commands) as a child process against the simulator and a
//! SQLite store file: payments in review are listed, shown, resolved with an order checked at
//! Order Management (a wrong order or amount is refused naming the field), or without one.
//!
//! The payments in review are written to the store through the library, each as the reconciler
//! leaves one (an in-doubt create-order whose outcome evidence could not decide), for orders
//! that really exist at the simulator with `merchant_reference1` = the payment id.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use klarna_domain::{
    AuthorizationToken, Cart, ClientToken, IdempotencyKey, Intent, Market, OrderLine, Payment,
    PaymentId, Session, SessionId, Span, Timestamp,
};
use klarna_payments::ports::PaymentStore as _;
use klarna_payments::{SqlStore, StoreKey};
use klarna_simulator::{ShopperDecision, Simulator};
use serde_json::{Value, json};

mod support;

use support::{Out, run};

/// The store and Klarna the commands run against.
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

    /// Runs `klarna --base-url SIM args…` with the store and credentials in the environment.
    async fn klarna(&self, args: &[&str]) -> Out {
        let mut all = vec!["--base-url".to_owned(), self.sim.base_url().to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let envs = vec![
            ("KLARNA_STORE_URL", self.store_url.clone()),
            ("KLARNA_STORE_KEY", self.key.expose_hex()),
            ("KLARNA_USERNAME", self.sim.username().to_owned()),
            ("KLARNA_PASSWORD", self.sim.password().to_owned()),
        ];
        run(all, envs, None).await
    }

    async fn store(&self) -> SqlStore {
        let s = SqlStore::connect(&self.store_url, self.key.clone())
            .await
            .unwrap();
        s.migrate().await.unwrap();
        s
    }

    /// A payment in review whose create-order took effect at Klarna: the order exists there
    /// with `merchant_reference1` = `id` for a cart of `klarna_amount`; the stored payment's
    /// cart totals `our_amount`. Returns Klarna's order id and the authorization token.
    async fn in_review(&self, id: &str, klarna_amount: i64, our_amount: i64) -> (String, String) {
        let sim = &self.sim;
        let session = self
            .klarna_api(&["sessions", "create"], session_body(klarna_amount))
            .await
            .json();
        let session_id = session["session_id"].as_str().unwrap().to_owned();
        let token = sim
            .authorize(&session_id, ShopperDecision::approve())
            .unwrap()
            .authorization_token
            .unwrap();
        let mut body = session_body(klarna_amount);
        body["merchant_reference1"] = json!(id);
        let order = self
            .klarna_api(&["authorizations", "create-order", &token], body)
            .await
            .json();
        let order_id = order["order_id"].as_str().unwrap().to_owned();

        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let payment = Payment::open(
            PaymentId::new(id).unwrap(),
            Intent::Buy,
            cart(our_amount),
            Session::new(
                SessionId::new(session_id).unwrap(),
                ClientToken::new(session["client_token"].as_str().unwrap()).unwrap(),
                now.plus(Span::hours(48)),
            ),
            now,
        )
        .authorize(AuthorizationToken::new(token.clone()).unwrap(), now)
        .unwrap()
        .begin_order(IdempotencyKey::new(format!("key-{id}")).unwrap(), now)
        .unwrap()
        .attempted(true)
        .needs_review(
            "Klarna completed the session but the order id is unknown; find it by merchant_reference1",
            now.plus(Span::hours(25)),
        );
        let store = self.store().await;
        store.insert_payment(&payment.into()).await.unwrap();
        store.close().await;
        (order_id, token)
    }

    /// An API command with its body on standard input.
    async fn klarna_api(&self, args: &[&str], body: Value) -> Out {
        let mut all = vec!["--base-url".to_owned(), self.sim.base_url().to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all.extend(["--body".to_owned(), "-".to_owned()]);
        let envs = vec![
            ("KLARNA_USERNAME", self.sim.username().to_owned()),
            ("KLARNA_PASSWORD", self.sim.password().to_owned()),
        ];
        run(all, envs, Some(body.to_string())).await
    }
}

/// One line of `quantity` × 5 000 öre at 25 % VAT (total = `amount`, a multiple of 5 000).
fn line(amount: i64) -> Value {
    let quantity = amount / 5_000;
    json!({"type": "physical", "reference": "SOCK-1", "name": "Socks", "quantity": quantity,
           "quantity_unit": "pcs", "unit_price": 5000, "tax_rate": 2500, "total_amount": amount,
           "total_discount_amount": 0, "total_tax_amount": amount / 5})
}

fn session_body(amount: i64) -> Value {
    json!({"intent": "buy", "purchase_country": "SE", "purchase_currency": "SEK",
           "locale": "sv-SE", "order_amount": amount, "order_tax_amount": amount / 5,
           "order_lines": [line(amount)]})
}

fn cart(amount: i64) -> Cart {
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Socks", amount / 5_000, 5_000)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(market, vec![line]).unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["payment_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_shows_and_resolves_payments_in_review() {
    let env = Env::new().await;
    let (order_1, token_1) = env.in_review("pay-review-1", 10_000, 10_000).await;
    let (order_2, _) = env.in_review("pay-review-2", 10_000, 10_000).await;
    // Klarna's order for pay-review-3 is for 100.00 SEK; our payment says 150.00 SEK.
    let (order_3, _) = env.in_review("pay-review-3", 10_000, 15_000).await;

    // list --review finds them, newest first; nothing printed is a secret.
    let out = env.klarna(&["payments", "list", "--review"]).await;
    let list = out.json();
    assert_eq!(
        ids(&list),
        vec!["pay-review-3", "pay-review-2", "pay-review-1"]
    );
    let first = &list["payments"][2];
    assert_eq!(first["stage"], "needs_review");
    assert_eq!(first["amount"], 10_000);
    assert!(
        first["review"]["reason"]
            .as_str()
            .unwrap()
            .contains("merchant_reference1")
    );
    assert_eq!(first["review"]["idempotency_key"], "key-pay-review-1");
    assert!(!out.stdout.contains(&token_1), "no authorization token");
    assert_eq!(
        ids(&env
            .klarna(&["payments", "list", "--review", "--limit", "1"])
            .await
            .json()),
        vec!["pay-review-3"]
    );

    // The wrong order (another payment's) is refused naming merchant_reference1; nothing written.
    let e = env
        .klarna(&["payments", "resolve", "pay-review-1", "--order", &order_2])
        .await
        .error(2);
    assert_eq!(e["error"], "order_mismatch", "{e}");
    assert_eq!(e["field"], "merchant_reference1");
    assert_eq!(e["klarna"], "`pay-review-2`");
    assert_eq!(e["ours"], "`pay-review-1`");

    // An order Klarna does not know (a well-formed id): Klarna's refusal, exit 1.
    let e = env
        .klarna(&[
            "payments",
            "resolve",
            "pay-review-1",
            "--order",
            "6d4b8f4e-0c1a-4e8b-9a3e-5f0a1b2c3d4e",
        ])
        .await
        .error(1);
    assert_eq!(e["error"], "klarna_refused", "{e}");
    assert_eq!(e["http_status"], 404);

    // The amount differs: refused naming order_amount.
    let e = env
        .klarna(&["payments", "resolve", "pay-review-3", "--order", &order_3])
        .await
        .error(2);
    assert_eq!(
        (&e["field"], &e["ours"], &e["klarna"]),
        (&json!("order_amount"), &json!("15000"), &json!("10000")),
        "{e}"
    );

    let out = env.klarna(&["payments", "show", "pay-review-1"]).await;
    assert!(!out.stdout.contains(&token_1), "no authorization token");
    let shown = out.json();
    assert_eq!(shown["stage"], "needs_review", "refusals wrote nothing");
    assert_eq!(shown["pending"], Value::Null);

    // The right order: ordered, with its managed order.
    let resolved = env
        .klarna(&["payments", "resolve", "pay-review-1", "--order", &order_1])
        .await
        .json();
    assert_eq!(resolved["stage"], "ordered", "{resolved}");
    assert_eq!(resolved["order_id"], order_1.as_str());
    let shown = env
        .klarna(&["payments", "show", "pay-review-1"])
        .await
        .json();
    assert_eq!(shown["order"]["status"], "AUTHORIZED");
    assert_eq!(shown["order"]["order_amount"], 10_000);
    assert_eq!(shown["order"]["captured"], 0);
    // Once resolved, a second resolution names the stage.
    let e = env
        .klarna(&["payments", "resolve", "pay-review-1", "--no-order"])
        .await
        .error(2);
    assert_eq!(
        (&e["error"], &e["stage"]),
        (&json!("wrong_stage"), &json!("ordered"))
    );

    // --no-order ends a payment without an order.
    let done = env
        .klarna(&[
            "payments",
            "resolve",
            "pay-review-2",
            "--no-order",
            "--reason",
            "no order at Klarna for this merchant_reference1",
        ])
        .await
        .json();
    assert_eq!(done["stage"], "cancelled");
    assert_eq!(done["order_id"], Value::Null);

    assert_eq!(
        ids(&env.klarna(&["payments", "list", "--review"]).await.json()),
        vec!["pay-review-3"]
    );
    assert_eq!(
        ids(&env.klarna(&["payments", "list"]).await.json()).len(),
        3
    );
    let report = env.klarna(&["payments", "reconcile"]).await.json();
    assert_eq!(report["examined"], 0, "nothing in doubt: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_name_what_is_missing() {
    let env = Env::new().await;
    // Neither --order nor --no-order.
    let out = env.klarna(&["payments", "resolve", "pay-1"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    // Both.
    let out = env
        .klarna(&[
            "payments",
            "resolve",
            "pay-1",
            "--order",
            "o-1",
            "--no-order",
        ])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    // An unknown payment.
    let e = env
        .klarna(&["payments", "show", "pay-unknown"])
        .await
        .error(2);
    assert_eq!(e["error"], "not_found", "{e}");
    // No store configured.
    let out = run(
        vec![
            "--base-url".to_owned(),
            env.sim.base_url().to_owned(),
            "payments".to_owned(),
            "list".to_owned(),
        ],
        vec![
            ("KLARNA_USERNAME", env.sim.username().to_owned()),
            ("KLARNA_PASSWORD", env.sim.password().to_owned()),
        ],
        None,
    )
    .await;
    let e = out.error(2);
    assert!(
        e["message"].as_str().unwrap().contains("KLARNA_STORE_URL"),
        "{e}"
    );
}
