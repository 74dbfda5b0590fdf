//! Payments API request validation (§1.8, §1.9, §2.7): each refusal names the field as Klarna does.

use serde_json::{Value, json};

use crate::common::*;

async fn refused_with(mutate: impl FnOnce(&mut Value), field: &str) {
    let ctx = Ctx::new().await;
    let mut body = session_body("buy");
    mutate(&mut body);
    let r = ctx.post("/payments/v1/sessions", &body).await;
    assert_bad_value(&r, field);
}

#[tokio::test]
async fn line_total_must_be_quantity_times_price_minus_discount() {
    refused_with(
        |b| b["order_lines"][1]["total_amount"] = json!(4901),
        "order_lines[1].total_amount",
    )
    .await;
}

#[tokio::test]
async fn line_tax_must_be_within_one_of_the_formula() {
    // 33 960 is exact; ±1 is tolerated, ±2 is not.
    let ctx = Ctx::new().await;
    let mut ok = session_body("buy");
    ok["order_lines"][0]["total_tax_amount"] = json!(33_961);
    ok["order_tax_amount"] = json!(34_941);
    assert_eq!(ctx.post("/payments/v1/sessions", &ok).await.status, 200);
    refused_with(
        |b| {
            b["order_lines"][0]["total_tax_amount"] = json!(33_962);
            b["order_tax_amount"] = json!(34_942);
        },
        "order_lines[0].total_tax_amount",
    )
    .await;
}

#[tokio::test]
async fn order_amount_must_be_the_sum_of_line_totals() {
    refused_with(|b| b["order_amount"] = json!(174_701), "order_amount").await;
}

#[tokio::test]
async fn order_tax_amount_must_be_the_sum_of_line_taxes() {
    refused_with(
        |b| b["order_tax_amount"] = json!(34_939),
        "order_tax_amount",
    )
    .await;
}

#[tokio::test]
async fn currency_must_be_the_countrys() {
    refused_with(
        |b| b["purchase_currency"] = json!("EUR"),
        "purchase_currency",
    )
    .await;
}

#[tokio::test]
async fn locale_must_belong_to_the_country() {
    refused_with(|b| b["locale"] = json!("de-DE"), "locale").await;
}

#[tokio::test]
async fn country_must_be_a_klarna_market() {
    refused_with(|b| b["purchase_country"] = json!("BR"), "purchase_country").await;
}

#[tokio::test]
async fn at_most_1000_lines() {
    refused_with(
        |b| {
            let line = json!({"name": "Pin", "quantity": 1, "unit_price": 100, "tax_rate": 0,
                              "total_amount": 100, "total_tax_amount": 0});
            b["order_lines"] = Value::Array(vec![line; 1001]);
            b["order_amount"] = json!(100_100);
            b["order_tax_amount"] = json!(0);
        },
        "order_lines",
    )
    .await;
}

#[tokio::test]
async fn at_least_one_line() {
    refused_with(
        |b| {
            b["order_lines"] = json!([]);
            b["order_amount"] = json!(0);
        },
        "order_lines",
    )
    .await;
}

#[tokio::test]
async fn required_fields_are_named_when_missing() {
    refused_with(
        |b| drop(b.as_object_mut().unwrap().remove("purchase_currency")),
        "purchase_currency",
    )
    .await;
    refused_with(
        |b| drop(b["order_lines"][1].as_object_mut().unwrap().remove("name")),
        "order_lines[1].name",
    )
    .await;
    refused_with(
        |b| drop(b.as_object_mut().unwrap().remove("order_amount")),
        "order_amount",
    )
    .await;
}

#[tokio::test]
async fn ranges_and_lengths_are_checked() {
    refused_with(
        |b| b["order_lines"][0]["tax_rate"] = json!(10_001),
        "order_lines[0].tax_rate",
    )
    .await;
    refused_with(
        |b| b["order_lines"][0]["quantity"] = json!(-1),
        "order_lines[0].quantity",
    )
    .await;
    refused_with(
        |b| b["order_lines"][0]["name"] = json!("n".repeat(256)),
        "order_lines[0].name",
    )
    .await;
    refused_with(
        |b| b["order_lines"][0]["name"] = json!(""),
        "order_lines[0].name",
    )
    .await;
    refused_with(
        |b| b["merchant_reference1"] = json!("r".repeat(256)),
        "merchant_reference1",
    )
    .await;
    refused_with(
        |b| b["order_lines"][0]["unit_price"] = json!(200_000_001),
        "order_lines[0].unit_price",
    )
    .await;
}

#[tokio::test]
async fn us_sales_tax_style_is_accepted() {
    let ctx = Ctx::new().await;
    let body = json!({
        "purchase_country": "US", "purchase_currency": "USD", "locale": "en-US",
        "order_amount": 2711, "order_tax_amount": 212,
        "order_lines": [
            {"name": "Box", "quantity": 1, "unit_price": 2499, "tax_rate": 0, "total_amount": 2499, "total_tax_amount": 0},
            {"type": "sales_tax", "name": "Sales Tax", "quantity": 1, "unit_price": 212, "total_amount": 212}
        ]
    });
    assert_eq!(ctx.post("/payments/v1/sessions", &body).await.status, 200);
}
