//! The child process of the crash tests: runs one operation through the service and aborts at a crash point.
//!
//! Driven by environment variables set by `tests/it/crash.rs`: `CRASH_POINT` (a
//! [`CrashPoint::name`]), `DB_URL`, `DB_SCHEMA` (optional), `STORE_KEY` (hex), `SIM_URL`,
//! `RESTART` (optional: the service runs on [`restarted_clock`] of that number, as a service
//! restarted that much later; else on the system clock), and `OPERATION`:
//!
//! - `complete`: completes payment `PAYMENT_ID` with authorization `AUTH_TOKEN` as its intent
//!   asks (`buy`: P5; `tokenize`: P6; `buy_and_tokenize`: P6 then P5);
//! - `charge`: charges customer token `CUSTOMER_TOKEN` (T2) under charge id `PAYMENT_ID`, with
//!   [`crash_cart`]`(true)`;
//! - `capture` / `refund`: `AMOUNT` on order `ORDER_ID`;
//! - `reconcile`: one [`reconcile_all`](klarna_service::PaymentService::reconcile_all), the
//!   restarted service itself crashing at the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test helper process: a panic fails the parent test"
)]

use std::sync::Arc;

use klarna_domain::{Amount, AuthorizationToken, CustomerTokenId, OrderId, PaymentId};
use klarna_ports::{Clock, SystemClock};
use klarna_service::ChargeRequest;
use klarna_store_sql::StoreKey;
use klarna_tests::{CrashPoint, connect, crash_cart, restarted_clock, service_at};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("crash child: {name} not set"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let crash = CrashPoint::parse(&var("CRASH_POINT"));
    let key = StoreKey::from_hex(&var("STORE_KEY")).unwrap();
    let schema = std::env::var("DB_SCHEMA").ok();
    let store = connect(&var("DB_URL"), schema.as_deref(), &key, 2).await;
    let clock: Arc<dyn Clock> = match std::env::var("RESTART") {
        Ok(n) => restarted_clock(n.parse().unwrap()),
        Err(_) => Arc::new(SystemClock),
    };
    let svc = service_at(&var("SIM_URL"), store, crash, clock);
    let amount = || Amount::new(var("AMOUNT").parse().unwrap()).unwrap();
    let order = || OrderId::new(var("ORDER_ID")).unwrap();
    let result = match var("OPERATION").as_str() {
        "complete" => svc
            .complete(
                &PaymentId::new(var("PAYMENT_ID")).unwrap(),
                AuthorizationToken::new(var("AUTH_TOKEN")).unwrap(),
            )
            .await
            .map(|done| format!("{done:?}")),
        "charge" => svc
            .charge_customer_token(ChargeRequest {
                merchant: Default::default(),
                payment_id: PaymentId::new(var("PAYMENT_ID")).unwrap(),
                token: CustomerTokenId::new(var("CUSTOMER_TOKEN")).unwrap(),
                cart: crash_cart(true),
            })
            .await
            .map(|o| format!("{:?}", o.order_id())),
        "capture" => svc
            .capture(&order(), amount())
            .await
            .map(|c| format!("{:?}", c.order.status())),
        "refund" => svc
            .refund(&order(), amount())
            .await
            .map(|r| format!("{:?}", r.order.status())),
        "reconcile" => svc.reconcile_all().await.map(|r| format!("{r:?}")),
        other => panic!("unknown operation {other}"),
    };
    // Reaching this line means the crash point did not fire (the parent fails the test, or
    // kills us first).
    println!("completed: {result:?}");
}
