//! Rows written by earlier builds: an order row without `op_seq` never re-mints the keys of operations already made.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

mod common;

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::{Amount, CaptureId, IdempotencyKey, OrderId, PaymentId, Timestamp};
use klarna_ports::contract::managed;
use klarna_ports::{IdempotencyKeys, PaymentStore, SequentialKeys};

use common::TestStore;

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);
/// Far above any operation number a real order reaches (one per operation begun).
const FLOOR: u32 = 1 << 20;

/// An order with one capture made under the key of sequence 0, stored without `op_seq` (as a
/// row from before the field existed, raw), then a second without it and with `null`: the next
/// capture's key is never the first capture's.
async fn rows_without_op_seq_never_reuse_a_key(ts: TestStore) {
    let s = &ts.store;
    let keys = SequentialKeys::new("t");
    let payment = PaymentId::new("pay-1").unwrap();
    let o = managed("o-1", 1);
    s.insert_order(&o).await.unwrap();
    let first_key = keys.key(&payment, "capture", o.next_op_seq());
    let capturing = o
        .begin(
            OmOperation::Capture(Amount::new(300).unwrap().into()),
            IdempotencyKey::new(first_key.as_str()).unwrap(),
            T0,
        )
        .unwrap();
    s.update_order(1, &capturing).await.unwrap();
    let captured = capturing
        .complete(OmResult::Captured(CaptureId::new("c-1").unwrap()), T0)
        .unwrap();
    assert_eq!(captured.next_op_seq(), 1);
    s.update_order(2, &captured).await.unwrap();
    s.insert_order(&managed("o-2", 2)).await.unwrap();

    let stripped = common::raw_exec(
        &ts,
        "UPDATE managed_orders SET data = REPLACE(data, '\"op_seq\":1,', '') \
         WHERE order_id = 'o-1'",
    )
    .await;
    assert_eq!(stripped, 1);
    let nulled = common::raw_exec(
        &ts,
        "UPDATE managed_orders SET data = REPLACE(data, '\"op_seq\":0,', '\"op_seq\":null,') \
         WHERE order_id = 'o-2'",
    )
    .await;
    assert_eq!(nulled, 1);

    let loaded = s
        .load_order(&OrderId::new("o-1").unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        loaded.captured(),
        300,
        "the rest of the row loads as it was"
    );
    let next = loaded.next_op_seq();
    assert_ne!(next, 0, "an order row without op_seq must not restart at 0");
    assert_eq!(next, FLOOR + 1, "the floor plus the one recorded capture");
    assert_ne!(keys.key(&payment, "capture", next), first_key);
    let null = s
        .load_order(&OrderId::new("o-2").unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(null.next_op_seq(), FLOOR, "null counts as absent");

    // Once written back, the row carries its op_seq again and keeps counting from there.
    let again = loaded
        .begin(
            OmOperation::Capture(Amount::new(100).unwrap().into()),
            keys.key(&payment, "capture", next),
            T0,
        )
        .unwrap();
    s.update_order(3, &again).await.unwrap();
    let back = s
        .load_order(&OrderId::new("o-1").unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(back.next_op_seq(), FLOOR + 2);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn rows_without_op_seq_never_reuse_a_key_on_sqlite() {
    rows_without_op_seq_never_reuse_a_key(common::sqlite_store().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn rows_without_op_seq_never_reuse_a_key_on_postgres() {
    let Some(ts) = common::pg_store().await else {
        return;
    };
    rows_without_op_seq_never_reuse_a_key(ts).await;
}

/// A pending capture stored before captures carried lines (`{"Capture":300}`, a bare amount)
/// loads as a bare capture of that amount, so its replay sends the same body as before.
async fn a_bare_amount_capture_still_loads(ts: TestStore) {
    let s = &ts.store;
    let o = managed("o-bare", 1);
    s.insert_order(&o).await.unwrap();
    let capturing = o
        .begin(
            OmOperation::Capture(Amount::new(300).unwrap().into()),
            IdempotencyKey::new("k-bare").unwrap(),
            T0,
        )
        .unwrap();
    s.update_order(1, &capturing).await.unwrap();
    let rewritten = common::raw_exec(
        &ts,
        "UPDATE managed_orders SET data = REPLACE(data, \
         '{\"Capture\":{\"amount\":300,\"order_lines\":[],\"shipping_info\":[],\"reference\":null,\"description\":null}}', \
         '{\"Capture\":300}') WHERE order_id = 'o-bare'",
    )
    .await;
    assert_eq!(rewritten, 1);
    let loaded = s
        .load_order(&OrderId::new("o-bare").unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        loaded, capturing,
        "the bare amount is a bare capture request"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_bare_amount_capture_still_loads_on_sqlite() {
    a_bare_amount_capture_still_loads(common::sqlite_store().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_bare_amount_capture_still_loads_on_postgres() {
    let Some(ts) = common::pg_store().await else {
        return;
    };
    a_bare_amount_capture_still_loads(ts).await;
}
