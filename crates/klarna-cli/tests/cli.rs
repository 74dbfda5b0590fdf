//! The built `klarna` binary against the in-process simulator (every API command, exit codes,
//! local validation, idempotency keys, verbose output) and `klarna sim` as a child process.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use klarna_simulator::{Fault, FaultRule, ShopperDecision, Simulator};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_klarna");

/// What a run of the binary produced.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
    fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stderr))
    }
}

/// Runs `klarna` with the given credentials, global args before `args`, and optional stdin.
async fn run_with(creds: Option<(&str, &str)>, args: Vec<String>, stdin: Option<String>) -> Out {
    let creds = creds.map(|(u, p)| (u.to_owned(), p.to_owned()));
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(BIN);
        cmd.args(&args)
            .env_remove("KLARNA_BASE_URL")
            .env_remove("KLARNA_REGION")
            .env_remove("KLARNA_PRODUCTION")
            .env_remove("RUST_LOG")
            .env_remove("KLARNA_USERNAME")
            .env_remove("KLARNA_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((u, p)) = creds {
            cmd.env("KLARNA_USERNAME", u).env("KLARNA_PASSWORD", p);
        }
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Runs an API command against the simulator; `body` goes through stdin (`--body -`).
async fn klarna(sim: &Simulator, args: &[&str], body: Option<Value>) -> Out {
    let mut all = vec!["--base-url".to_owned(), sim.base_url().to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    if body.is_some() {
        all.extend(["--body".to_owned(), "-".to_owned()]);
    }
    run_with(
        Some((sim.username(), sim.password())),
        all,
        body.map(|b| b.to_string()),
    )
    .await
}

fn socks_line() -> Value {
    json!({"type": "physical", "reference": "SOCK-1", "name": "Socks", "quantity": 2,
           "quantity_unit": "pcs", "unit_price": 5000, "tax_rate": 2500, "total_amount": 10000,
           "total_discount_amount": 0, "total_tax_amount": 2000})
}

fn session_body(intent: &str, line: Value) -> Value {
    json!({"intent": intent, "purchase_country": "SE", "purchase_currency": "SEK",
           "locale": "sv-SE", "order_amount": 10000, "order_tax_amount": 2000,
           "order_lines": [line]})
}

fn order_body(line: Value) -> Value {
    json!({"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
           "order_amount": 10000, "order_tax_amount": 2000, "order_lines": [line],
           "merchant_reference1": "pay_cli_1"})
}

fn subscription_line() -> Value {
    let mut line = socks_line();
    line["subscription"] = json!({"name": "Sock club", "interval": "MONTH", "interval_count": 1});
    line
}

async fn authorized(sim: &Simulator, intent: &str, line: Value) -> (String, String) {
    let session = klarna(
        sim,
        &["sessions", "create"],
        Some(session_body(intent, line)),
    )
    .await
    .json();
    let session_id = session["session_id"].as_str().unwrap().to_owned();
    let token = sim
        .authorize(&session_id, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    (session_id, token)
}

fn total_requests(sim: &Simulator) -> u64 {
    sim.stats().requests.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_payment_and_order_management_end_to_end() {
    let sim = Simulator::start().await.unwrap();

    // P1 from a file, P2, P3.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.json");
    std::fs::write(&file, session_body("buy", socks_line()).to_string()).unwrap();
    let created = run_with(
        Some((sim.username(), sim.password())),
        vec![
            "--base-url".into(),
            sim.base_url().into(),
            "sessions".into(),
            "create".into(),
            "--body".into(),
            file.display().to_string(),
        ],
        None,
    )
    .await
    .json();
    let session_id = created["session_id"].as_str().unwrap().to_owned();
    assert!(created["client_token"].as_str().unwrap().contains('.'));
    let read = klarna(&sim, &["sessions", "get", &session_id], None)
        .await
        .json();
    assert_eq!(read["status"], "incomplete");
    assert_eq!(read["order_amount"], 10000);
    assert_eq!(read["order_lines"][0]["reference"], "SOCK-1");
    let updated = klarna(
        &sim,
        &["sessions", "update", &session_id],
        Some(session_body("buy", socks_line())),
    )
    .await;
    assert_eq!(updated.json(), json!({}));

    // The shopper authorizes; P5.
    let token = sim
        .authorize(&session_id, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let order = klarna(
        &sim,
        &["authorizations", "create-order", &token],
        Some(order_body(socks_line())),
    )
    .await
    .json();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(order["fraud_status"], "ACCEPTED");
    assert_eq!(sim.orders().len(), 1);

    // O1, O9–O13.
    let got = klarna(&sim, &["orders", "get", &order_id], None)
        .await
        .json();
    assert_eq!(got["status"], "AUTHORIZED");
    assert_eq!(got["merchant_reference1"], "pay_cli_1");
    for (args, body) in [
        (vec!["orders", "extend-authorization-time", &order_id], None),
        (
            vec!["orders", "update-authorization", &order_id],
            Some(json!({"order_amount": 10000, "description": "same cart",
                        "order_lines": [socks_line()]})),
        ),
        (
            vec!["orders", "update-merchant-references", &order_id],
            Some(json!({"merchant_reference2": "ref-2"})),
        ),
        (
            vec!["orders", "update-customer-details", &order_id],
            Some(
                json!({"shipping_address": {"given_name": "Testperson", "family_name": "Approved",
                        "street_address": "Sveavägen 46", "postal_code": "11134",
                        "city": "Stockholm", "country": "SE"}}),
            ),
        ),
    ] {
        let out = klarna(&sim, &args, body).await;
        assert_eq!(out.json(), json!({}), "{args:?}");
    }
    let got = klarna(&sim, &["orders", "get", &order_id], None)
        .await
        .json();
    assert_eq!(got["merchant_reference2"], "ref-2");

    // O2–O6.
    let capture = klarna(
        &sim,
        &["orders", "capture", &order_id],
        Some(json!({"captured_amount": 6000, "description": "first box"})),
    )
    .await
    .json();
    let capture_id = capture["capture_id"].as_str().unwrap().to_owned();
    // Shipping info needs a capture (403 NOT_ALLOWED before).
    let out = klarna(
        &sim,
        &["orders", "add-shipping-info", &order_id],
        Some(json!({"shipping_info": [{"shipping_company": "PostNord",
                    "shipping_method": "Home", "tracking_number": "123"}]})),
    )
    .await;
    assert_eq!(out.json(), json!({}));
    assert!(capture["location"].as_str().unwrap().ends_with(&capture_id));
    let list = klarna(&sim, &["orders", "list-captures", &order_id], None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = klarna(
        &sim,
        &["orders", "get-capture", &order_id, &capture_id],
        None,
    )
    .await
    .json();
    assert_eq!(one["captured_amount"], 6000);
    let refund = klarna(
        &sim,
        &["orders", "refund", &order_id],
        Some(json!({"refunded_amount": 1000, "reference": "R-1"})),
    )
    .await
    .json();
    let refund_id = refund["refund_id"].as_str().unwrap().to_owned();
    assert!(refund["location"].as_str().is_some());
    let one = klarna(&sim, &["orders", "get-refund", &order_id, &refund_id], None)
        .await
        .json();
    assert_eq!(one["refunded_amount"], 1000);

    // O8 closes the partly captured order.
    let out = klarna(
        &sim,
        &["orders", "release-remaining-authorization", &order_id],
        None,
    )
    .await;
    assert_eq!(out.json(), json!({}));
    let got = klarna(&sim, &["orders", "get", &order_id], None)
        .await
        .json();
    assert_eq!(got["status"], "CLOSED");
    assert_eq!(got["captured_amount"], 6000);
    assert_eq!(got["refunded_amount"], 1000);

    // P4 on a second authorization; O7 on a third order.
    let (_, token) = authorized(&sim, "buy", socks_line()).await;
    let out = klarna(&sim, &["authorizations", "cancel", &token], None).await;
    assert_eq!(out.json(), json!({}));
    let again = klarna(
        &sim,
        &["authorizations", "create-order", &token],
        Some(order_body(socks_line())),
    )
    .await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(again.error_json()["http_status"], 404);
    let (_, token) = authorized(&sim, "buy", socks_line()).await;
    let order = klarna(
        &sim,
        &["authorizations", "create-order", &token],
        Some(order_body(socks_line())),
    )
    .await
    .json();
    let order_id = order["order_id"].as_str().unwrap();
    let out = klarna(&sim, &["orders", "cancel", order_id], None).await;
    assert_eq!(out.json(), json!({}));
    assert_eq!(sim.order(order_id).unwrap().status, "CANCELLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_payment_with_customer_tokens() {
    let sim = Simulator::start().await.unwrap();
    let (_, token) = authorized(&sim, "tokenize", subscription_line()).await;
    let created = klarna(
        &sim,
        &["authorizations", "create-customer-token", &token],
        Some(
            json!({"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
                    "description": "Sock club", "intended_use": "SUBSCRIPTION"}),
        ),
    )
    .await
    .json();
    let customer_token = created["token_id"].as_str().unwrap().to_owned();
    let read = klarna(&sim, &["customer-tokens", "get", &customer_token], None)
        .await
        .json();
    assert_eq!(read["status"], "ACTIVE");

    let charge = json!({"purchase_currency": "SEK", "locale": "sv-SE", "order_amount": 10000,
                        "order_tax_amount": 2000, "order_lines": [subscription_line()],
                        "merchant_reference1": "sub-1-2026-11"});
    let args = [
        "--idempotency-key",
        "sub-1-2026-11",
        "customer-tokens",
        "create-order",
        &customer_token,
    ];
    let first = klarna(&sim, &args, Some(charge.clone())).await.json();
    let second = klarna(&sim, &args, Some(charge.clone())).await.json();
    // Same key: Klarna (and the simulator) replay the first answer, one order only.
    assert_eq!(first["order_id"], second["order_id"]);
    assert_eq!(sim.orders().len(), 1);

    let out = klarna(&sim, &["customer-tokens", "cancel", &customer_token], None).await;
    assert_eq!(out.json(), json!({}));
    let read = klarna(&sim, &["customer-tokens", "get", &customer_token], None)
        .await
        .json();
    assert_eq!(read["status"], "CANCELLED");

    // Exit 1: Klarna's error as one JSON object on stderr.
    let refused = klarna(
        &sim,
        &["customer-tokens", "create-order", &customer_token],
        Some(charge),
    )
    .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stdout.is_empty());
    let error = refused.error_json();
    assert_eq!(error["http_status"], 403);
    assert_eq!(error["error_code"], "TOKEN_CANCELED");
    assert!(error["error_messages"].is_array());
    assert!(error["correlation_id"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_exits_2_naming_the_field_and_sends_nothing() {
    let sim = Simulator::start().await.unwrap();
    let mut bad_tax = socks_line();
    bad_tax["total_tax_amount"] = json!(1500);
    let mut body = session_body("buy", socks_line());
    body["order_lines"] = json!([socks_line(), bad_tax]);
    body["order_amount"] = json!(20000);
    body["order_tax_amount"] = json!(3500);
    let cases: Vec<(Vec<&str>, Value, &str)> = vec![
        (
            vec!["sessions", "create"],
            body,
            "order_lines[1].total_tax_amount",
        ),
        (
            vec!["sessions", "create"],
            {
                let mut b = session_body("buy", socks_line());
                b["purchase_currency"] = json!("EUR");
                b
            },
            "purchase_currency",
        ),
        (
            vec!["orders", "capture", "o-1"],
            json!({"captured_amount": 200_000_001}),
            "captured_amount",
        ),
        (
            vec!["orders", "update-merchant-references", "o-1"],
            json!({"merchant_reference1": "x".repeat(256)}),
            "merchant_reference1",
        ),
        (
            vec!["authorizations", "create-customer-token", "tok"],
            json!({"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
                   "description": "", "intended_use": "SUBSCRIPTION"}),
            "description",
        ),
        (
            vec!["customer-tokens", "create-order", "tok"],
            json!({"purchase_currency": "SEK", "order_amount": 10000, "order_tax_amount": 2001,
                   "order_lines": [socks_line()]}),
            "order_tax_amount",
        ),
    ];
    for (args, body, field) in cases {
        let out = klarna(&sim, &args, Some(body)).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(field), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    // Not JSON of the model at all.
    let out = klarna(
        &sim,
        &["orders", "refund", "o-1"],
        Some(json!({"amount": 1})),
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("refunded_amount"), "{}", out.stderr);
    // A value of the wrong type: the path names it.
    let mut wrong_type = session_body("buy", socks_line());
    wrong_type["order_lines"][0]["quantity"] = json!("two");
    let out = klarna(&sim, &["sessions", "create"], Some(wrong_type)).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("order_lines[0].quantity"),
        "{}",
        out.stderr
    );
    // A bad idempotency key is bad usage.
    let out = klarna(
        &sim,
        &["--idempotency-key", "has space", "orders", "cancel", "o-1"],
        None,
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(total_requests(&sim), 0, "nothing may reach Klarna");

    // Missing credentials.
    let out = run_with(
        None,
        vec![
            "--base-url".into(),
            sim.base_url().into(),
            "orders".into(),
            "get".into(),
            "o-1".into(),
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("KLARNA_USERNAME"), "{}", out.stderr);
    assert_eq!(total_requests(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_exits_3_and_says_whether_klarna_was_reached() {
    // A closed port: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run_with(
        Some(("u", "p")),
        vec![
            "--base-url".into(),
            format!("http://127.0.0.1:{port}"),
            "orders".into(),
            "get".into(),
            "o-1".into(),
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("did not reach Klarna"),
        "{}",
        out.stderr
    );

    // 5xx on every attempt: the retries are spent, and the request did reach Klarna.
    let sim = Simulator::start().await.unwrap();
    sim.add_fault(FaultRule::new(
        "orders.get",
        10,
        Fault::Status { status: 503 },
    ));
    let out = klarna(&sim, &["orders", "get", "o-1"], None).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("may have reached Klarna"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.stats().count("orders.get"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_and_headers_are_sent_as_given() {
    use wiremock::matchers::{header, header_regex, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ordermanagement/v1/orders/o-1/cancel"))
        .and(header("klarna-idempotency-key", "my-key-123"))
        .and(header_regex("authorization", "^Basic "))
        .and(header_regex("user-agent", "^Library/"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_with(
        Some(("u", "p")),
        vec![
            "--base-url".into(),
            server.uri(),
            "--idempotency-key".into(),
            "my-key-123".into(),
            "orders".into(),
            "cancel".into(),
            "o-1".into(),
        ],
        None,
    )
    .await;
    assert_eq!(out.json(), json!({}));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_attempts_without_secrets() {
    let password = "pa55-canary-word";
    let sim = Simulator::builder()
        .credentials("cli_user", password)
        .start()
        .await
        .unwrap();
    let session = klarna(
        &sim,
        &["-v", "sessions", "create"],
        Some(session_body("buy", socks_line())),
    )
    .await;
    let created = session.json();
    let client_token = created["client_token"].as_str().unwrap().to_owned();
    let session_id = created["session_id"].as_str().unwrap().to_owned();
    let token = sim
        .authorize(&session_id, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let order = klarna(
        &sim,
        &["--verbose", "authorizations", "create-order", &token],
        Some(order_body(socks_line())),
    )
    .await;
    order.json();
    for out in [&session, &order] {
        assert!(
            out.stderr.contains("payments."),
            "no log lines: {}",
            out.stderr
        );
        for secret in [password, "Basic ", "Y2xpX3VzZXI6", &token, &client_token] {
            assert!(
                !out.stderr.contains(secret),
                "stderr leaks {secret}: {}",
                out.stderr
            );
        }
    }
    assert!(order.stderr.contains("payments.create_order"));
}

#[test]
fn sim_prints_its_base_url_first_and_serves() {
    let mut child = Command::new(BIN)
        .args(["sim", "--addr", "127.0.0.1:0"])
        .env("KLARNA_USERNAME", "sim_cli_user")
        .env("KLARNA_PASSWORD", "sim_cli_password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let call = |user: &str| {
        let out = Command::new(BIN)
            .args(["--base-url", &url, "sessions", "create", "--body", "-"])
            .env("KLARNA_USERNAME", user)
            .env("KLARNA_PASSWORD", "sim_cli_password")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(session_body("buy", socks_line()).to_string().as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, stdout) = call("sim_cli_user");
    let (wrong_code, _) = call("someone_else");
    // SIGTERM stops it cleanly (exit 0).
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(code, Some(0));
    assert!(stdout.contains("session_id"), "{stdout}");
    assert_eq!(
        wrong_code,
        Some(1),
        "the simulator checks the configured credentials"
    );
}

#[test]
fn demo_runs_every_scenario_and_exits_zero() {
    let out = Command::new(BIN)
        .args(["demo", "--store", "memory:"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("every step landed where it should"),
        "{stdout}"
    );
    for scenario in [
        "one-time",
        "recurring",
        "buy_and_tokenize",
        "cart change",
        "declined shopper",
    ] {
        assert!(
            stdout.contains(scenario),
            "scenario {scenario} missing from the report"
        );
    }
}

#[test]
fn help_lists_every_command() {
    let out = Command::new(BIN)
        .args(["orders", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in [
        "get",
        "capture",
        "list-captures",
        "get-capture",
        "refund",
        "get-refund",
        "cancel",
        "release-remaining-authorization",
        "extend-authorization-time",
        "update-authorization",
        "update-merchant-references",
        "update-customer-details",
        "add-shipping-info",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

/// An order at the simulator, placed through the CLI; returns its id.
async fn placed_order(sim: &Simulator) -> String {
    let (_, token) = authorized(sim, "buy", socks_line()).await;
    let order = klarna(
        sim,
        &["authorizations", "create-order", &token],
        Some(order_body(socks_line())),
    )
    .await
    .json();
    order["order_id"].as_str().unwrap().to_owned()
}

/// The key a failure names on stderr (`… --idempotency-key KEY`).
fn named_key(stderr: &str) -> String {
    let (_, rest) = stderr
        .split_once("--idempotency-key ")
        .unwrap_or_else(|| panic!("no key named: {stderr}"));
    rest.split_whitespace().next().unwrap().to_owned()
}

/// Issue 11, defect 3: after exit 3 the operator must be able to repeat *the same* operation.
/// Every attempt of the capture takes effect (the first) or is replayed (the retries) and then
/// loses its answer: the outcome is unknown. The key the CLI names is the one it sent: a rerun
/// with it is answered from the first capture instead of making a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_3_names_the_idempotency_key_so_the_same_operation_can_be_repeated() {
    let sim = Simulator::start().await.unwrap();
    let order_id = placed_order(&sim).await;
    sim.add_fault(FaultRule::new("orders.capture", 3, Fault::DropAfterEffect));
    let capture = json!({"captured_amount": 6000});
    let out = klarna(
        &sim,
        &["orders", "capture", &order_id],
        Some(capture.clone()),
    )
    .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("may have reached Klarna"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("idempotency key: "), "{}", out.stderr);
    let key = named_key(&out.stderr);
    assert_eq!(key.len(), 36, "a fresh UUID: {key}");
    assert_eq!(sim.order(&order_id).unwrap().captures, 1);

    let again = klarna(
        &sim,
        &["--idempotency-key", &key, "orders", "capture", &order_id],
        Some(capture),
    )
    .await
    .json();
    assert!(again["capture_id"].as_str().is_some(), "{again}");
    let order = sim.order(&order_id).unwrap();
    assert_eq!(
        (order.captures, order.captured_amount),
        (1, 6000),
        "the rerun repeated the same capture"
    );

    // A read has no key to name.
    sim.add_fault(FaultRule::new(
        "orders.get",
        3,
        Fault::Status { status: 503 },
    ));
    let out = klarna(&sim, &["orders", "get", &order_id], None).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(!out.stderr.contains("idempotency"), "{}", out.stderr);
}

/// Exit 1 after a mutating call: the one JSON object names the key (given or minted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_1_names_the_idempotency_key_in_its_json() {
    let sim = Simulator::start().await.unwrap();
    let order_id = placed_order(&sim).await;
    // Nothing captured: a refund is refused.
    let refund = json!({"refunded_amount": 1000});
    let out = klarna(
        &sim,
        &[
            "--idempotency-key",
            "refund-key-1",
            "orders",
            "refund",
            &order_id,
        ],
        Some(refund.clone()),
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    let error = out.error_json();
    assert_eq!(error["http_status"], 403);
    assert_eq!(error["idempotency_key"], "refund-key-1");

    let out = klarna(&sim, &["orders", "refund", &order_id], Some(refund)).await;
    assert_eq!(out.code, 1, "{out:?}");
    let minted = out.error_json()["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(minted.len(), 36, "{minted}");

    // A read carries no key.
    let out = klarna(&sim, &["orders", "get", "no-such-order"], None).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.error_json().get("idempotency_key").is_none());
}

/// Issue 11, defect 11: tokens from standard input (`-`) or a file (`@FILE`), never on the
/// command line; one trailing newline is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_from_standard_input_or_a_file() {
    let sim = Simulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = || vec!["--base-url".to_owned(), sim.base_url().to_owned()];
    let creds = Some((sim.username(), sim.password()));
    let args = |rest: &[&str]| {
        let mut all = base();
        all.extend(rest.iter().map(|a| (*a).to_owned()));
        all
    };

    // P6 with the authorization token on stdin, the body from a file.
    let (_, auth_token) = authorized(&sim, "tokenize", subscription_line()).await;
    let body = dir.path().join("token.json");
    std::fs::write(
        &body,
        json!({"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
               "description": "Sock club", "intended_use": "SUBSCRIPTION"})
        .to_string(),
    )
    .unwrap();
    let body = body.display().to_string();
    let created = run_with(
        creds,
        args(&[
            "authorizations",
            "create-customer-token",
            "-",
            "--body",
            &body,
        ]),
        Some(format!("{auth_token}\n")),
    )
    .await
    .json();
    let customer_token = created["token_id"].as_str().unwrap().to_owned();

    // T1 with the customer token from a file (CRLF line end).
    let token_file = dir.path().join("customer-token");
    std::fs::write(&token_file, format!("{customer_token}\r\n")).unwrap();
    let at_file = format!("@{}", token_file.display());
    let read = run_with(creds, args(&["customer-tokens", "get", &at_file]), None)
        .await
        .json();
    assert_eq!(read["status"], "ACTIVE");

    // P4 with the authorization token from a file, T3 with the customer token on stdin.
    let (_, other_auth) = authorized(&sim, "buy", socks_line()).await;
    let auth_file = dir.path().join("auth-token");
    std::fs::write(&auth_file, &other_auth).unwrap();
    let out = run_with(
        creds,
        args(&[
            "authorizations",
            "cancel",
            &format!("@{}", auth_file.display()),
        ]),
        None,
    )
    .await;
    assert_eq!(out.json(), json!({}));
    let out = run_with(
        creds,
        args(&["customer-tokens", "cancel", "-"]),
        Some(format!("{customer_token}\n")),
    )
    .await;
    assert_eq!(out.json(), json!({}));
    let read = klarna(&sim, &["customer-tokens", "get", &customer_token], None)
        .await
        .json();
    assert_eq!(read["status"], "CANCELLED");

    // Both from stdin cannot be; an empty or missing file is bad usage. Nothing is sent.
    let before = total_requests(&sim);
    for (rest, stdin) in [
        (
            vec!["customer-tokens", "create-order", "-", "--body", "-"],
            Some("tok\n".to_owned()),
        ),
        (vec!["customer-tokens", "get", "-"], Some("\n".to_owned())),
        (vec!["customer-tokens", "get", "@/nonexistent/token"], None),
    ] {
        let out = run_with(creds, args(&rest), stdin).await;
        assert_eq!(out.code, 2, "{rest:?}: {out:?}");
    }
    assert_eq!(total_requests(&sim), before, "nothing may reach Klarna");

    // And `--help` says so for every token argument.
    for command in [
        vec!["authorizations", "create-order", "--help"],
        vec!["authorizations", "cancel", "--help"],
        vec!["customer-tokens", "create-order", "--help"],
        vec!["customer-tokens", "get", "--help"],
    ] {
        let out = Command::new(BIN).args(&command).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("standard input") && help.contains("@FILE"),
            "{command:?}:\n{help}"
        );
    }
}

/// Issue 11, defect 10: plain http to a host that is not loopback is refused before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_exits_2() {
    let out = run_with(
        Some(("u", "p")),
        vec![
            "--base-url".into(),
            "http://10.255.255.1:9".into(),
            "orders".into(),
            "get".into(),
            "o-1".into(),
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("https is required"), "{}", out.stderr);
}
