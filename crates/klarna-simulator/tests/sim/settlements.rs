//! The Settlements API: payouts appear only after the day's cut-off, one per currency and day,
//! with the documented fees, filters and pagination, 404 for an unknown payout, CSV reports, and
//! every JSON answer valid against Klarna's `settlements-v1.yml`.

use std::time::Duration;

use klarna_simulator::settlements::{CSV_COLUMNS, FIXED_FEE, percentage_fee};
use serde_json::{Value, json};

use crate::common::{Ctx, Resp, assert_error};

const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the epoch of the simulator's clock.
async fn now_ms(ctx: &Ctx) -> i64 {
    let r = ctx.get("/sim/clock").await;
    let now = r.body["now"].as_str().unwrap().to_owned();
    let t =
        time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339).unwrap();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// Moves the clock to 01:00 UTC of the next day, so a test's steps all fall on one day.
async fn to_next_morning(ctx: &Ctx) {
    let now = now_ms(ctx).await;
    let target = (now.div_euclid(DAY_MS) + 1) * DAY_MS + 3_600_000;
    ctx.sim
        .advance_clock(Duration::from_millis(u64::try_from(target - now).unwrap()));
}

fn advance_days(ctx: &Ctx, days: u64) {
    ctx.sim.advance_clock(Duration::from_secs(days * 86_400));
}

async fn capture(ctx: &Ctx, order: &str, amount: i64, reference: &str) -> String {
    let r = ctx
        .post(
            &format!("/ordermanagement/v1/orders/{order}/captures"),
            &json!({"captured_amount": amount, "reference": reference}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.header("capture-id").unwrap().to_owned()
}

async fn refund(ctx: &Ctx, order: &str, amount: i64, reference: &str) -> String {
    let r = ctx
        .post(
            &format!("/ordermanagement/v1/orders/{order}/refunds"),
            &json!({"refunded_amount": amount, "reference": reference}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.header("refund-id").unwrap().to_owned()
}

/// Klarna's document, and a check of one answer against a schema of its components.
fn schema_check(name: &str, instance: &Value) {
    let path = format!(
        "{}/../../docs/klarna/openapi/settlements-v1.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema = if name.ends_with("[]") {
        json!({"type": "array", "items": {"$ref":
            format!("#/components/schemas/{}", name.trim_end_matches("[]"))}})
    } else {
        json!({"$ref": format!("#/components/schemas/{name}")})
    };
    let mut root = json!({"components": doc["components"].clone()});
    root.as_object_mut()
        .unwrap()
        .extend(schema.as_object().unwrap().clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&root)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: {instance}\n{}",
        errors.join("\n")
    );
}

async fn get_ok(ctx: &Ctx, path: &str, schema: &str) -> Resp {
    let r = ctx.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    schema_check(schema, &r.body);
    r
}

#[tokio::test]
async fn captures_and_refunds_settle_after_the_days_cut_off_with_the_documented_fees() {
    let ctx = Ctx::new().await;
    to_next_morning(&ctx).await;
    let order = ctx.placed_order().await;
    let cap = capture(&ctx, &order, 100_000, "SHIP-1").await;

    // Pessimistic: a capture made today is in no payout yet.
    let none = get_ok(&ctx, "/settlements/v1/payouts", "PayoutCollection").await;
    assert_eq!(none.body["payouts"], json!([]));
    assert_eq!(none.body["pagination"]["count"], 0);

    advance_days(&ctx, 1);
    let rf = refund(&ctx, &order, 30_000, "RET-1").await;
    let one = get_ok(&ctx, "/settlements/v1/payouts", "PayoutCollection").await;
    let payouts = one.body["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 1, "the refund of today is not settled yet");
    let fee = percentage_fee(100_000) + FIXED_FEE;
    assert_eq!(fee, 3000);
    let totals = &payouts[0]["totals"];
    assert_eq!(totals["sale_amount"], 100_000);
    assert_eq!(totals["fee_amount"], fee);
    assert_eq!(totals["return_amount"], 0);
    assert_eq!(totals["settlement_amount"], 100_000 - fee);
    let first_ref = payouts[0]["payment_reference"].as_str().unwrap().to_owned();
    assert!(first_ref.starts_with("SIM-SEK-"), "{first_ref}");
    assert!(
        payouts[0]["payout_date"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00.000Z")
    );

    advance_days(&ctx, 1);
    let two = get_ok(&ctx, "/settlements/v1/payouts", "PayoutCollection").await;
    let payouts = two.body["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 2);
    let second_ref = payouts[1]["payment_reference"].as_str().unwrap().to_owned();
    assert_ne!(
        first_ref, second_ref,
        "payment references are unique per payout"
    );
    assert_eq!(payouts[1]["totals"]["return_amount"], 30_000);
    assert_eq!(payouts[1]["totals"]["settlement_amount"], -30_000);

    // The transactions of the first payout: the sale and its two fees, with the capture's ids.
    let txs = get_ok(
        &ctx,
        &format!("/settlements/v1/transactions?payment_reference={first_ref}"),
        "TransactionCollection",
    )
    .await;
    let list = txs.body["transactions"].as_array().unwrap();
    let kinds: Vec<(&str, &str, i64)> = list
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap(),
                t["detailed_type"].as_str().unwrap(),
                t["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("SALE", "PURCHASE", 100_000),
            ("FEE", "PURCHASE_FEE_PERCENTAGE", 2900),
            ("FEE", "PURCHASE_FEE_FIXED", 100),
        ]
    );
    for t in list {
        assert_eq!(t["capture_id"], cap.as_str());
        assert_eq!(t["merchant_capture_reference"], "SHIP-1");
        assert_eq!(t["order_id"], order.as_str());
        assert_eq!(t["payment_reference"], first_ref.as_str());
        assert_eq!(t["merchant_reference1"], "pay-0001");
    }
    // The refund: a RETURN with an empty capture id, Klarna's refund id and our reference.
    let by_order = get_ok(
        &ctx,
        &format!("/settlements/v1/transactions?order_id={order}"),
        "TransactionCollection",
    )
    .await;
    let ret = &by_order.body["transactions"][3];
    assert_eq!(ret["type"], "RETURN");
    assert_eq!(ret["capture_id"], "");
    assert_eq!(ret["refund_id"], rf.as_str());
    assert_eq!(ret["merchant_refund_reference"], "RET-1");
    assert_eq!(ret["payment_reference"], second_ref.as_str());

    let single = get_ok(
        &ctx,
        &format!("/settlements/v1/payouts/{first_ref}"),
        "Payout",
    )
    .await;
    assert_eq!(single.body, two.body["payouts"][0]);
}

#[tokio::test]
async fn filters_pagination_and_limits() {
    let ctx = Ctx::new().await;
    to_next_morning(&ctx).await;
    let order = ctx.placed_order().await;
    for i in 0..3 {
        capture(&ctx, &order, 10_000, &format!("C{i}")).await;
    }
    advance_days(&ctx, 1);

    // 9 transactions (3 captures × sale + 2 fees), pages of 4.
    let p1 = get_ok(
        &ctx,
        "/settlements/v1/transactions?size=4",
        "TransactionCollection",
    )
    .await;
    let pag = &p1.body["pagination"];
    assert_eq!(
        (pag["count"].as_i64(), pag["total"].as_i64()),
        (Some(4), Some(9))
    );
    assert!(pag.get("prev").is_none());
    let next = pag["next"].as_str().unwrap();
    assert!(
        next.ends_with("/settlements/v1/transactions?offset=4&size=4"),
        "{next}"
    );
    let p3 = get_ok(
        &ctx,
        "/settlements/v1/transactions?size=4&offset=8",
        "TransactionCollection",
    )
    .await;
    assert_eq!(p3.body["pagination"]["count"], 1);
    assert!(
        p3.body["pagination"].get("next").is_none(),
        "the last page has no next"
    );
    assert!(
        p3.body["pagination"]["prev"]
            .as_str()
            .unwrap()
            .ends_with("offset=4&size=4")
    );
    // The default page is 20.
    let all = get_ok(
        &ctx,
        "/settlements/v1/transactions",
        "TransactionCollection",
    )
    .await;
    assert_eq!(all.body["transactions"].as_array().unwrap().len(), 9);

    for bad in ["size=0", "size=501", "size=x", "offset=-1"] {
        let r = ctx.get(&format!("/settlements/v1/payouts?{bad}")).await;
        let field = bad.split('=').next().unwrap();
        assert_error(&r, 400, "BAD_VALUE", field);
        schema_check("ErrorResponse", &r.body);
    }
    let reversed = ctx
        .get("/settlements/v1/payouts?start_date=2024-05-03&end_date=2024-05-01")
        .await;
    assert_error(&reversed, 400, "BAD_VALUE", "start_date");

    // The date and currency filters.
    let r = get_ok(
        &ctx,
        "/settlements/v1/payouts?start_date=2000-01-01T00:00:00Z&end_date=2000-01-02",
        "PayoutCollection",
    )
    .await;
    assert_eq!(r.body["payouts"], json!([]));
    let eur = get_ok(
        &ctx,
        "/settlements/v1/payouts?currency_code=EUR",
        "PayoutCollection",
    )
    .await;
    assert_eq!(eur.body["payouts"], json!([]));
    let sek = get_ok(
        &ctx,
        "/settlements/v1/payouts?currency_code=SEK",
        "PayoutCollection",
    )
    .await;
    assert_eq!(sek.body["payouts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn summary_reports_unknown_payouts_and_auth() {
    let ctx = Ctx::new().await;
    to_next_morning(&ctx).await;
    let order = ctx.placed_order().await;
    capture(&ctx, &order, 174_700, "C,\"1\"").await;
    advance_days(&ctx, 1);
    let payouts = get_ok(&ctx, "/settlements/v1/payouts", "PayoutCollection").await;
    let reference = payouts.body["payouts"][0]["payment_reference"]
        .as_str()
        .unwrap()
        .to_owned();

    let summary = get_ok(
        &ctx,
        "/settlements/v1/payouts/summary?start_date=2000-01-01T00:00:00Z&end_date=2999-12-31T23:59:59Z",
        "PayoutSummary[]",
    )
    .await;
    let fee = percentage_fee(174_700) + FIXED_FEE;
    assert_eq!(
        (
            summary.body[0]["summary_settlement_currency"].as_str(),
            summary.body[0]["summary_total_sale_amount"].as_i64(),
            summary.body[0]["summary_total_fee_amount"].as_i64(),
        ),
        (Some("SEK"), Some(174_700), Some(fee))
    );
    let no_dates = ctx.get("/settlements/v1/payouts/summary").await;
    assert_error(&no_dates, 400, "BAD_VALUE", "start_date");

    let csv = ctx
        .get(&format!(
            "/settlements/v1/reports/payout-with-transactions?payment_reference={reference}"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let rows: Vec<&str> = csv.text.lines().collect();
    assert_eq!(rows[0], CSV_COLUMNS.join(","));
    assert_eq!(rows.len(), 4, "a header and the sale with its two fees");
    assert!(
        rows[1].contains(",SALE,PURCHASE,174700,SEK,"),
        "{}",
        rows[1]
    );
    assert!(
        rows[1].contains(",\"C,\"\"1\"\"\","),
        "a reference with a comma is quoted"
    );
    let range_csv = ctx
        .get("/settlements/v1/reports/payouts-summary-with-transactions?start_date=2000-01-01&end_date=2999-01-01")
        .await;
    assert_eq!(range_csv.text, csv.text);
    let pdf = ctx
        .get(&format!(
            "/settlements/v1/reports/payout?payment_reference={reference}"
        ))
        .await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.text.starts_with("%PDF-"));

    let unknown = ctx.get("/settlements/v1/payouts/SIM-SEK-19990101").await;
    assert_error(&unknown, 404, "NOT_FOUND", "payment reference");
    schema_check("ErrorResponse", &unknown.body);
    let unknown_csv = ctx
        .get("/settlements/v1/reports/payout-with-transactions?payment_reference=NOPE")
        .await;
    assert_eq!(unknown_csv.status, 404);
    let missing = ctx.get("/settlements/v1/reports/payout").await;
    assert_error(&missing, 400, "BAD_VALUE", "payment_reference");

    let anonymous = ctx
        .http
        .get(ctx.url("/settlements/v1/payouts"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
