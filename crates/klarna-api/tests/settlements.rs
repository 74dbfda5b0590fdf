//! The Settlements wire models against Klarna's OpenAPI document
//! (`docs/klarna/openapi/settlements-v1.yml`): an instance built from each schema's examples
//! parses, serializes back to the same JSON and validates against the schema; every property the
//! schema lists is a field of the model; exactly the schema's required fields are required; open
//! enums keep unknown values.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api::settlements::{
    DetailedType, ErrorResponse, Pagination, Payout, PayoutCollection, PayoutSummary,
    SettlementType, Totals, Transaction, TransactionCollection, TransactionType,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn doc() -> Value {
    let path = format!(
        "{}/../../docs/klarna/openapi/settlements-v1.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    yaml_serde::from_str(&text).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "{name} is not in the document");
    s
}

/// An instance of `schema` with every property set: the property's `example`, else the first
/// `enum` value, else a value of its type; `$ref`s and arrays of them are built recursively.
fn example(doc: &Value, schema: &Value) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return example(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let props = schema["properties"].as_object().unwrap();
            Value::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), example(doc, v)))
                    .collect(),
            )
        }
        Some("array") => json!([example(doc, &schema["items"])]),
        Some("integer") => json!(7),
        Some("string") if schema["format"] == "date-time" => json!("2024-05-01T00:00:00Z"),
        Some("string") => json!("text"),
        other => panic!("no example for type {other:?}"),
    }
}

/// The violations of `instance` against the named schema, with the document's components.
fn violations(doc: &Value, name: &str, instance: &Value) -> Vec<String> {
    let root = json!({"components": doc["components"].clone(),
        "$ref": format!("#/components/schemas/{name}")});
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&root)
        .unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Validates `instance` against the named schema.
fn validate(doc: &Value, name: &str, instance: &Value) {
    let errors = violations(doc, name, instance);
    assert!(
        errors.is_empty(),
        "{name}: {instance}\nviolates the schema:\n{}",
        errors.join("\n")
    );
}

/// The example parses, serializes back to the same JSON, and that JSON validates.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let doc = doc();
    let instance = example(&doc, schema(&doc, name));
    let parsed: T =
        serde_json::from_value(instance.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        again, instance,
        "{name}: a property is lost or renamed on the round trip"
    );
    validate(&doc, name, &again);
    required_fields_match::<T>(&doc, name, &instance);
    parsed
}

/// Dropping a property the schema requires fails to parse; dropping any other parses.
fn required_fields_match<T: DeserializeOwned>(doc: &Value, name: &str, instance: &Value) {
    let required: Vec<&str> = schema(doc, name)["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for key in instance.as_object().unwrap().keys() {
        let mut without = instance.clone();
        without.as_object_mut().unwrap().remove(key);
        let parses = serde_json::from_value::<T>(without).is_ok();
        assert_eq!(
            parses,
            !required.contains(&key.as_str()),
            "{name}.{key}: required in the schema iff required by the model"
        );
    }
}

#[test]
fn pagination_matches_the_schema() {
    let p: Pagination = check("Pagination");
    assert_eq!(p.count, 10);
    assert_eq!(p.total, Some(42));
    assert_eq!(
        p.next.as_deref(),
        Some("http://example.com/collection?offset=21&size=10")
    );
}

#[test]
fn totals_match_the_schema() {
    let t: Totals = check("Totals");
    assert_eq!(t.sale_amount, 500);
    assert_eq!(t.settlement_amount, 550);
    assert_eq!(t.tax_amount, Some(550));
}

#[test]
fn payout_matches_the_schema() {
    let p: Payout = check("Payout");
    assert_eq!(p.payment_reference, "XISA93DJ");
    assert_eq!(p.merchant_settlement_type, SettlementType::Net);
    assert_eq!(p.totals.fee_amount, 500);
}

#[test]
fn payout_collection_matches_the_schema() {
    let c: PayoutCollection = check("PayoutCollection");
    assert_eq!(c.payouts.len(), 1);
    assert_eq!(c.pagination.offset, Some(10));
}

#[test]
fn payout_summary_matches_the_schema() {
    let s: PayoutSummary = check("PayoutSummary");
    assert_eq!(s.summary_settlement_currency, "USD");
    assert_eq!(s.summary_total_sale_amount, 500);
}

#[test]
fn transaction_matches_the_schema() {
    let t: Transaction = check("Transaction");
    assert_eq!(t.r#type, TransactionType::Sale);
    assert_eq!(t.detailed_type, Some(DetailedType::Purchase));
    assert_eq!(t.amount, 2000);
    assert_eq!(t.capture_id(), Some("33db6f16-9f43-43fa-a587-cc51411c98e4"));
    assert_eq!(t.vat_rate, Some(2000));
}

#[test]
fn transaction_collection_matches_the_schema() {
    let c: TransactionCollection = check("TransactionCollection");
    assert_eq!(
        c.transactions[0].order_id,
        "ce17b4cb-147f-48b7-b8e6-dde2fa397f04"
    );
}

#[test]
fn error_response_round_trips_and_validates() {
    let doc = doc();
    let instance = example(&doc, schema(&doc, "ErrorResponse"));
    let parsed: ErrorResponse = serde_json::from_value(instance.clone()).unwrap();
    assert_eq!(
        parsed.correlation_id.as_deref(),
        Some("2fe0311b-adc5-45e5-ac2b-963dac83c88b")
    );
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(again, instance);
    validate(&doc, "ErrorResponse", &again);
    // Lenient by design: an error answer without a body part still parses.
    assert_eq!(
        serde_json::from_str::<ErrorResponse>("{}").unwrap(),
        ErrorResponse::default()
    );
}

/// Every value the document lists for an enum is a known variant, and its wire string.
#[test]
fn every_documented_enum_value_is_known() {
    let doc = doc();
    let props = &schema(&doc, "Transaction")["properties"];
    for v in props["type"]["enum"].as_array().unwrap() {
        let s = v.as_str().unwrap();
        let parsed = TransactionType::from(s);
        assert!(!matches!(parsed, TransactionType::Unknown(_)), "type {s}");
        assert_eq!(parsed.as_str(), s);
    }
    for v in props["detailed_type"]["enum"].as_array().unwrap() {
        let s = v.as_str().unwrap();
        let parsed = DetailedType::from(s);
        assert!(
            !matches!(parsed, DetailedType::Unknown(_)),
            "detailed_type {s}"
        );
        assert_eq!(parsed.as_str(), s);
    }
    for v in schema(&doc, "Payout")["properties"]["merchant_settlement_type"]["enum"]
        .as_array()
        .unwrap()
    {
        let s = v.as_str().unwrap();
        assert!(
            !matches!(SettlementType::from(s), SettlementType::Unknown(_)),
            "{s}"
        );
    }
}

#[test]
fn unknown_enum_values_and_fields_are_kept_or_ignored() {
    let doc = doc();
    let mut t = example(&doc, schema(&doc, "Transaction"));
    t["type"] = json!("BRAND_NEW_TYPE");
    t["detailed_type"] = json!("BRAND_NEW_DETAIL");
    t["a_field_from_the_future"] = json!(1);
    let parsed: Transaction = serde_json::from_value(t).unwrap();
    assert_eq!(
        parsed.r#type,
        TransactionType::Unknown("BRAND_NEW_TYPE".into())
    );
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(again["type"], "BRAND_NEW_TYPE");
    assert_eq!(again["detailed_type"], "BRAND_NEW_DETAIL");
    assert!(again.get("a_field_from_the_future").is_none());
}

#[test]
fn empty_capture_ids_of_returns_read_as_none() {
    let doc = doc();
    let mut t = example(&doc, schema(&doc, "Transaction"));
    t["type"] = json!("RETURN");
    t["capture_id"] = json!("");
    let parsed: Transaction = serde_json::from_value(t).unwrap();
    assert_eq!(parsed.capture_id(), None);
    assert_eq!(
        parsed.refund_id(),
        Some("ef1baa1f-b42e-44be-b9e4-4b94510b53e5")
    );
}

#[test]
fn amounts_are_integers_floats_are_refused() {
    let doc = doc();
    let mut t = example(&doc, schema(&doc, "Transaction"));
    t["amount"] = json!(20.5);
    assert!(serde_json::from_value::<Transaction>(t).is_err());
}

/// The schema check itself catches a missing required field, a wrong type and an extra field.
#[test]
fn the_schema_check_can_fail() {
    let doc = doc();
    let good = example(&doc, schema(&doc, "Payout"));
    assert!(violations(&doc, "Payout", &good).is_empty());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("merchant_id");
    assert!(!violations(&doc, "Payout", &missing).is_empty());
    let mut retyped = good.clone();
    retyped["totals"]["sale_amount"] = json!("500");
    assert!(!violations(&doc, "Payout", &retyped).is_empty());
    let mut extra = good;
    extra["surprise"] = json!(1);
    assert!(!violations(&doc, "Payout", &extra).is_empty());
}
