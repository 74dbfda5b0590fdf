//! The child process of the crash tests: runs one operation through the service and aborts at a crash point.
//!
//! Driven by environment variables set by `tests/it/crash.rs`: `CRASH_POINT`, `DB_URL`,
//! `DB_SCHEMA` (optional), `STORE_KEY` (hex), `SIM_URL`, `OPERATION` (`place_order`: complete
//! a `buy` payment, or `capture`), `PAYMENT_ID`, `AUTH_TOKEN`, `ORDER_ID`, `AMOUNT`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test helper process: a panic fails the parent test"
)]

use klarna_domain::{Amount, AuthorizationToken, OrderId, PaymentId};
use klarna_store_sql::StoreKey;
use klarna_tests::{CrashPoint, connect, service};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("crash child: {name} not set"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let crash = CrashPoint::parse(&var("CRASH_POINT"));
    let key = StoreKey::from_hex(&var("STORE_KEY")).unwrap();
    let schema = std::env::var("DB_SCHEMA").ok();
    let store = connect(&var("DB_URL"), schema.as_deref(), &key, 2).await;
    let svc = service(&var("SIM_URL"), store, crash);
    let result = match var("OPERATION").as_str() {
        "place_order" => svc
            .complete(
                &PaymentId::new(var("PAYMENT_ID")).unwrap(),
                AuthorizationToken::new(var("AUTH_TOKEN")).unwrap(),
            )
            .await
            .map(|done| format!("{done:?}")),
        "capture" => svc
            .capture(
                &OrderId::new(var("ORDER_ID")).unwrap(),
                Amount::new(var("AMOUNT").parse().unwrap()).unwrap(),
            )
            .await
            .map(|c| format!("{:?}", c.order.status())),
        other => panic!("unknown operation {other}"),
    };
    // Reaching this line means the crash point did not fire (or the parent kills us later).
    println!("completed: {result:?}");
}
