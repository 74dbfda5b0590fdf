//! Malformed-input properties of the wire decoders (reliability.md §5 P1): every model `klarna-api`
//! decodes, fed random and mutated JSON (dropped, duplicated and retyped fields, 2^63 and other
//! out-of-range numbers, deep nesting, invalid UTF-8, lone surrogates, truncation), returns `Ok`
//! or `Err` and never panics; what it accepts survives a serialize/parse round trip.
//!
//! Case counts: the properties add up to 100,000 cases per run (see `CASES_*`; `PROPTEST_CASES`
//! does not change them). A failure prints the minimal input and is saved to a regression file;
//! `PROPTEST_RNG_SEED=<n>` replays a whole run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use std::fmt::Debug;

use klarna_api::{
    AuthorizationCallback, Capture, CaptureObject, CreateOrderRequest, CustomerToken,
    CustomerTokenCreationRequest, CustomerTokenCreationResponse, CustomerTokenOrder, ErrorResponse,
    ExtendDueDateOptions, ExtendDueDateRequest, FraudNotification, MerchantSession, OmOrder, Order,
    Refund, RefundObject, SessionCreate, SessionRead, SessionUpdate, TokenStatusUpdate,
    UpdateAuthorization, UpdateConsumer, UpdateMerchantReferences, UpdateShippingInfo,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Cases per property; they add up to 100,000 per run (about 30 s of a debug build on two
/// cores, most of it in the mutation tests).
const CASES_MUTATED: u32 = 15_000; // × 4 tests
const CASES_RANDOM_JSON: u32 = 10_000;
const CASES_RANDOM_BYTES: u32 = 10_000;
const CASES_TRUNCATED: u32 = 8_000;
const CASES_INVALID_UTF8: u32 = 8_000;
const CASES_DEEP: u32 = 4_000;

#[test]
fn case_counts_add_up_to_the_ci_target() {
    let total = 4 * CASES_MUTATED
        + CASES_RANDOM_JSON
        + CASES_RANDOM_BYTES
        + CASES_TRUNCATED
        + CASES_INVALID_UTF8
        + CASES_DEEP;
    assert_eq!(total, 100_000);
}

/// How many seeds `seeds()` returns (checked by `decoders_accept_the_seeds_they_are_for`).
const SEEDS: usize = 17;

// ---------------------------------------------------------------------------------------------
// The decoders under test.

/// What one decoder did with one input.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Accepted,
    Rejected,
}

/// Decodes `bytes` as `T`; if accepted, checks that `Debug` works and that the value survives a
/// serialize/parse round trip (a decoder that accepts what it cannot write back is a bug).
fn decode<T>(name: &str, bytes: &[u8]) -> Outcome
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    match serde_json::from_slice::<T>(bytes) {
        Ok(value) => {
            let shown = format!("{value:?}");
            assert!(!shown.is_empty(), "{name}: empty Debug");
            let again = serde_json::to_vec(&value).unwrap();
            let reparsed: T = serde_json::from_slice(&again)
                .unwrap_or_else(|e| panic!("{name}: accepted input does not round-trip: {e}"));
            assert_eq!(reparsed, value, "{name}: round trip changed the value");
            Outcome::Accepted
        }
        Err(e) => {
            // The error must describe the problem without echoing the input back.
            let shown = e.to_string();
            assert!(!shown.is_empty(), "{name}: empty error");
            Outcome::Rejected
        }
    }
}

/// One entry per model: every Klarna response and error body, the callbacks Klarna posts to us,
/// and the request bodies (the simulator and the CLI decode those from untrusted input).
type Decoder = (&'static str, fn(&str, &[u8]) -> Outcome);

const DECODERS: &[Decoder] = &[
    ("MerchantSession", decode::<MerchantSession>),
    ("SessionRead", decode::<SessionRead>),
    ("Order", decode::<Order>),
    (
        "CustomerTokenCreationResponse",
        decode::<CustomerTokenCreationResponse>,
    ),
    ("CustomerToken", decode::<CustomerToken>),
    ("OmOrder", decode::<OmOrder>),
    ("Capture", decode::<Capture>),
    ("Vec<Capture>", decode::<Vec<Capture>>),
    ("Refund", decode::<Refund>),
    ("ExtendDueDateOptions", decode::<ExtendDueDateOptions>),
    ("ErrorResponse", decode::<ErrorResponse>),
    ("AuthorizationCallback", decode::<AuthorizationCallback>),
    ("FraudNotification", decode::<FraudNotification>),
    ("SessionCreate", decode::<SessionCreate>),
    ("SessionUpdate", decode::<SessionUpdate>),
    ("CreateOrderRequest", decode::<CreateOrderRequest>),
    (
        "CustomerTokenCreationRequest",
        decode::<CustomerTokenCreationRequest>,
    ),
    ("CustomerTokenOrder", decode::<CustomerTokenOrder>),
    ("TokenStatusUpdate", decode::<TokenStatusUpdate>),
    ("CaptureObject", decode::<CaptureObject>),
    ("RefundObject", decode::<RefundObject>),
    ("UpdateAuthorization", decode::<UpdateAuthorization>),
    (
        "UpdateMerchantReferences",
        decode::<UpdateMerchantReferences>,
    ),
    ("UpdateConsumer", decode::<UpdateConsumer>),
    ("UpdateShippingInfo", decode::<UpdateShippingInfo>),
    ("ExtendDueDateRequest", decode::<ExtendDueDateRequest>),
];

/// Runs every decoder; returns how many accepted.
fn decode_all(bytes: &[u8]) -> Vec<(&'static str, Outcome)> {
    DECODERS.iter().map(|(n, f)| (*n, f(n, bytes))).collect()
}

// ---------------------------------------------------------------------------------------------
// Seeds: the fixtures of tests/fixtures plus the bodies there is no fixture for.

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The seeds, read once per test binary.
fn seeds() -> &'static [Value] {
    static SEEDS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(build_seeds)
}

fn build_seeds() -> Vec<Value> {
    let mut v: Vec<Value> = [
        "create_session.response.json",
        "read_session.response.json",
        "create_order.response.json",
        "customer_token.response.json",
        "token_order.response.json",
        "error.response.json",
        "create_session.request.json",
        "create_order.request.json",
        "customer_token.request.json",
        "token_order.request.json",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    let line = json!({"type": "physical", "name": "Socks", "quantity": 2, "unit_price": 5000,
        "tax_rate": 2500, "total_amount": 10000, "total_discount_amount": 0,
        "total_tax_amount": 2000});
    let address = json!({"given_name": "Ann", "family_name": "Andersson",
        "email": "ann@example.com", "street_address": "Sveavägen 1", "postal_code": "11157",
        "city": "Stockholm", "country": "SE"});
    let capture = json!({"capture_id": "c-1", "klarna_reference": "K1", "captured_amount": 10000,
        "captured_at": "2026-01-01T00:00:00Z", "order_lines": [line], "refunded_amount": 0,
        "billing_address": address, "shipping_info": [{"tracking_number": "T1"}]});
    v.push(
        json!({"order_id": "o-1", "status": "PART_CAPTURED", "fraud_status": "ACCEPTED",
        "order_amount": 10000, "original_order_amount": 10000, "captured_amount": 5000,
        "refunded_amount": 0, "remaining_authorized_amount": 5000, "purchase_country": "SE",
        "purchase_currency": "SEK", "locale": "sv-SE", "order_lines": [line],
        "billing_address": address, "shipping_address": address, "captures": [capture],
        "refunds": [{"refund_id": "r-1", "refunded_amount": 100, "order_lines": [line]}],
        "initial_payment_method": {"type": "INVOICE", "description": "Pay later"},
        "expires_at": "2026-02-01T00:00:00Z"}),
    );
    v.push(json!([capture, capture]));
    v.push(json!({"currency": "SEK", "options": [{"number_of_days": 14, "amount": 0}]}));
    v.push(json!({"status": "ACTIVE", "payment_method_type": "INVOICE",
        "card": {"brand": "VISA", "masked_number": "**** 1111", "expiry_date": "12/30"}}));
    v.push(json!({"authorization_token": "tok", "session_id": "s-1"}));
    v.push(json!({"order_id": "o-1", "event_type": "FRAUD_RISK_ACCEPTED"}));
    v.push(json!({"captured_amount": 100, "order_lines": [line], "shipping_info": []}));
    v
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Replacement values chosen to hit the edges of the models' types.
fn weird_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"x\"".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("-0".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("9223372036854775808".to_owned()), // 2^63
        Just("-9223372036854775808".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e400".to_owned()),
        Just("-1e400".to_owned()),
        Just("1E2".to_owned()),
        Just("\"\\ud800\"".to_owned()),    // lone surrogate
        Just("\"\\u0000\\n\"".to_owned()), // control characters
        (1usize..300).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..300).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        (1usize..100).prop_map(|n| format!("{}null{}", "{\"a\":".repeat(n), "}".repeat(n))),
        Just(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        (0usize..5000).prop_map(|n| format!("\"{}\"", "é".repeat(n))),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

/// Field names the models know, so mutations hit real fields (and duplicate them).
const FIELDS: &[&str] = &[
    "session_id",
    "client_token",
    "order_id",
    "token_id",
    "status",
    "fraud_status",
    "order_amount",
    "order_tax_amount",
    "order_lines",
    "quantity",
    "unit_price",
    "total_amount",
    "total_tax_amount",
    "tax_rate",
    "name",
    "type",
    "captured_amount",
    "refunded_amount",
    "remaining_authorized_amount",
    "billing_address",
    "email",
    "street_address",
    "error_code",
    "error_messages",
    "correlation_id",
    "authorized_payment_method",
    "payment_method_categories",
    "expires_at",
    "captures",
    "refunds",
    "purchase_currency",
    "purchase_country",
    "redirect_url",
    "options",
    "event_type",
    "authorization_token",
];

/// Byte sequences that are never valid UTF-8 (stray, truncated, surrogate, out of range, overlong).
const BAD_UTF8: &[&[u8]] = &[
    &[0xFF],
    &[0xC3],
    &[0xED, 0xA0, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xC0, 0x80],
    &[0x80],
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the `n`th member of some object or element of some array.
    Drop(usize),
    /// Replace the `n`th node with raw JSON text.
    Replace(usize, String),
    /// Add `"field": value` as the first member of the `n`th object (a duplicate when present).
    Insert(usize, &'static str, String),
    /// Cut the text at a byte position (per mille of its length).
    Truncate(u16),
    /// Insert raw bytes (invalid UTF-8 among them) at a position (per mille).
    Bytes(u16, Vec<u8>),
    /// XOR one byte (per mille position) with a mask.
    Flip(u16, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop_oneof![
        Just(vec![0xFF]),
        Just(vec![0xC3]),
        Just(vec![0xED, 0xA0, 0x80]),
        Just(vec![0xF4, 0x90, 0x80, 0x80]),
        Just(vec![0x00]),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Drop),
        4 => (any::<usize>(), weird_value()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        3 => (any::<usize>(), prop::sample::select(FIELDS), weird_value())
            .prop_map(|(n, f, v)| Mutation::Insert(n, f, v)),
        1 => (0u16..1000).prop_map(Mutation::Truncate),
        1 => (0u16..1000, bytes).prop_map(|(p, b)| Mutation::Bytes(p, b)),
        1 => (0u16..1000, 1u8..=255).prop_map(|(p, m)| Mutation::Flip(p, m)),
    ]
}

/// Every node's JSON pointer, in document order.
fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(c, format!("{here}/{key}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

fn at(len: usize, per_mille: u16) -> usize {
    len * usize::from(per_mille) / 1000
}

/// A placeholder the structural mutations put in the tree and the text stage swaps for raw
/// JSON (which may be out of range for `Value`, e.g. `1e400`, or 10,000 levels deep).
fn placeholder(i: usize) -> String {
    format!("\u{1}raw{i}\u{1}")
}

/// Applies the mutations: structural ones on the tree, then text and byte ones on the output.
fn apply(seed: &Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut tree = seed.clone();
    let mut raws: Vec<String> = Vec::new();
    for m in mutations {
        let mut ptrs = Vec::new();
        pointers(&tree, String::new(), &mut ptrs);
        match m {
            Mutation::Drop(n) => {
                let ptr = &ptrs[n % ptrs.len()];
                if let Some((parent, last)) = ptr.rsplit_once('/') {
                    match tree.pointer_mut(parent) {
                        Some(Value::Object(o)) => {
                            let key = last.replace("~1", "/").replace("~0", "~");
                            o.remove(&key);
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(i) = last.parse::<usize>()
                                && i < a.len()
                            {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Mutation::Replace(n, raw) => {
                let ptr = ptrs[n % ptrs.len()].clone();
                if let Some(node) = tree.pointer_mut(&ptr) {
                    *node = Value::String(placeholder(raws.len()));
                    raws.push(raw.clone());
                }
            }
            Mutation::Insert(n, field, raw) => {
                let objects: Vec<&String> = ptrs
                    .iter()
                    .filter(|p| tree.pointer(p).is_some_and(Value::is_object))
                    .collect();
                if !objects.is_empty() {
                    let ptr = objects[n % objects.len()].clone();
                    if let Some(Value::Object(o)) = tree.pointer_mut(&ptr) {
                        // A key that sorts like the field but is unique in the map; the text
                        // stage renames it to the bare field, creating a duplicate if present.
                        let i = raws.len();
                        o.insert(format!("{field}\u{2}{i}"), Value::String(placeholder(i)));
                        raws.push(raw.clone());
                    }
                }
            }
            Mutation::Truncate(_) | Mutation::Bytes(..) | Mutation::Flip(..) => {}
        }
    }
    let mut text = serde_json::to_string(&tree).unwrap();
    for (i, raw) in raws.iter().enumerate() {
        // serde_json writes the control characters of the placeholder as `\u0001`.
        text = text.replace(&format!("\"\\u0001raw{i}\\u0001\""), raw);
        let marker = format!("\\u0002{i}");
        if let Some(start) = text.find(&format!("{marker}\"")) {
            text.replace_range(start..start + marker.len(), "");
        }
    }
    let mut bytes = text.into_bytes();
    for m in mutations {
        match m {
            Mutation::Truncate(p) => bytes.truncate(at(bytes.len(), *p)),
            Mutation::Bytes(p, b) => {
                let pos = at(bytes.len(), *p);
                bytes.splice(pos..pos, b.iter().copied());
            }
            Mutation::Flip(p, mask) if !bytes.is_empty() => {
                let pos = at(bytes.len() - 1, *p);
                bytes[pos] ^= mask;
            }
            _ => {}
        }
    }
    bytes
}

fn mutated() -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    let n = seeds().len();
    (0..n, prop::collection::vec(mutation(), 1..6))
}

/// Any JSON value, nested a few levels, with keys drawn from the models' field names.
fn random_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(&["ACCEPTED", "PENDING", "ACTIVE", "invoice", "SEK", "SE"][..])
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(FIELDS).prop_map(str::to_owned),
                        1 => "\\PC{0,8}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// The mutation property, shared by the four batches (four tests run on separate threads).
fn mutated_fixture_decodes_or_fails_cleanly(seed: usize, muts: &[Mutation]) {
    let bytes = apply(&seeds()[seed], muts);
    // Every check is inside `decode`: no panic, a non-empty error, accepted values round-trip.
    let outcomes = decode_all(&bytes);
    assert_eq!(outcomes.len(), DECODERS.len());
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_MUTATED))]

    /// Fixtures with one to five mutations (batch 1 of 4).
    #[test]
    fn mutated_fixtures_1((seed, muts) in mutated()) {
        mutated_fixture_decodes_or_fails_cleanly(seed, &muts);
    }

    /// Batch 2 of 4.
    #[test]
    fn mutated_fixtures_2((seed, muts) in mutated()) {
        mutated_fixture_decodes_or_fails_cleanly(seed, &muts);
    }

    /// Batch 3 of 4.
    #[test]
    fn mutated_fixtures_3((seed, muts) in mutated()) {
        mutated_fixture_decodes_or_fails_cleanly(seed, &muts);
    }

    /// Batch 4 of 4.
    #[test]
    fn mutated_fixtures_4((seed, muts) in mutated()) {
        mutated_fixture_decodes_or_fails_cleanly(seed, &muts);
    }
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_RANDOM_JSON))]

    /// Random JSON documents of any shape.
    #[test]
    fn random_json_decodes_or_fails_cleanly(v in random_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        prop_assert_eq!(decode_all(&bytes).len(), DECODERS.len());
    }
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_RANDOM_BYTES))]

    /// Random bytes, JSON-ish or not. Non-JSON is refused by every decoder.
    #[test]
    fn random_bytes_are_rejected_or_decoded(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "[\\[\\]{}\":,0-9a-z\\- .eE\\\\]{0,128}".prop_map(String::into_bytes),
    ]) {
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
        for (name, outcome) in decode_all(&bytes) {
            if !is_json {
                prop_assert_eq!(outcome, Outcome::Rejected, "{} accepted non-JSON", name);
            }
        }
    }
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_TRUNCATED))]

    /// A document cut anywhere before its last byte is never accepted.
    #[test]
    fn truncated_documents_are_rejected(seed in 0..SEEDS, cut in 0u16..1000) {
        let text = serde_json::to_vec(&seeds()[seed]).unwrap();
        let len = at(text.len() - 1, cut);
        for (name, outcome) in decode_all(&text[..len]) {
            prop_assert_eq!(outcome, Outcome::Rejected, "{} accepted {} of {} bytes", name, len, text.len());
        }
    }
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_INVALID_UTF8))]

    /// Invalid UTF-8 in a document is refused, except inside content the model skips (serde_json
    /// does not validate the strings of unknown fields it ignores): then the decoded value is
    /// exactly that of the clean document, so no invalid text ever reaches a model.
    #[test]
    fn invalid_utf8_is_rejected_or_skipped(
        seed in 0..SEEDS,
        pos in 0u16..1000,
        bad in prop::sample::select(BAD_UTF8),
    ) {
        let clean = serde_json::to_vec(&seeds()[seed]).unwrap();
        let mut bytes = clean.clone();
        let p = at(bytes.len(), pos);
        bytes.splice(p..p, bad.iter().copied());
        for (name, outcome) in decode_all(&bytes) {
            if outcome == Outcome::Accepted {
                prop_assert!(
                    same_decoding(name, &bytes, &clean),
                    "{} decoded invalid UTF-8 at {} into a different value", name, p
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(Config::with_cases(CASES_DEEP))]

    /// Nesting deeper than serde_json's limit (128) is refused at the top level and skipped or
    /// refused inside a field, without exhausting the stack (10,000 levels now and then).
    #[test]
    fn deep_nesting_is_rejected(
        seed in 0..SEEDS,
        node in any::<usize>(),
        depth in prop_oneof![9 => 129usize..2_000, 1 => Just(10_000usize)],
    ) {
        let raw = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let bytes = apply(&seeds()[seed], &[Mutation::Replace(node, raw.clone())]);
        prop_assert_eq!(decode_all(&bytes).len(), DECODERS.len());
        for (name, outcome) in decode_all(raw.as_bytes()) {
            prop_assert_eq!(outcome, Outcome::Rejected, "{} accepted depth {}", name, depth);
        }
    }
}

/// A known field given twice is refused by every model that knows it (every seed × field).
#[test]
fn duplicate_fields_are_rejected() {
    let mut checked = 0;
    for seed in seeds() {
        let Some(obj) = seed.as_object() else {
            continue;
        };
        let text = serde_json::to_string(seed).unwrap();
        for field in FIELDS.iter().filter(|f| obj.contains_key(**f)) {
            let dup = format!("{{\"{field}\":null,{}", &text[1..]);
            for (name, decoder) in DECODERS {
                if decoder(name, text.as_bytes()) == Outcome::Accepted && knows_field(name, field) {
                    assert_eq!(
                        decoder(name, dup.as_bytes()),
                        Outcome::Rejected,
                        "{name} accepted a duplicate {field}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} duplicate checks ran");
}

/// Money fields with values outside `i64` (2^63, 1e400, 1.5, a string) are refused, in every
/// model that has them.
#[test]
fn out_of_range_money_is_rejected() {
    let mut checked = 0;
    for field in [
        "order_amount",
        "order_tax_amount",
        "captured_amount",
        "refunded_amount",
    ] {
        for raw in [
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "1e400",
            "1.5",
            "\"100\"",
        ] {
            let doc = format!("{{\"{field}\":{raw}}}");
            for (name, outcome) in decode_all(doc.as_bytes()) {
                if knows_field(name, field) {
                    assert_eq!(outcome, Outcome::Rejected, "{name} accepted {field}={raw}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 24, "only {checked} checks ran");
}

/// Whether two documents decode to equal values of the named model (via its `Value` form).
fn same_decoding(model: &str, a: &[u8], b: &[u8]) -> bool {
    macro_rules! cmp {
        ($($t:ty),* $(,)?) => {
            $(if model == stringify!($t).replace(' ', "") {
                let x: Option<$t> = serde_json::from_slice(a).ok();
                let y: Option<$t> = serde_json::from_slice(b).ok();
                return x.is_some() && x == y;
            })*
        };
    }
    cmp!(
        MerchantSession,
        SessionRead,
        Order,
        CustomerTokenCreationResponse,
        CustomerToken,
        OmOrder,
        Capture,
        Vec<Capture>,
        Refund,
        ExtendDueDateOptions,
        ErrorResponse,
        AuthorizationCallback,
        FraudNotification,
        SessionCreate,
        SessionUpdate,
        CreateOrderRequest,
        CustomerTokenCreationRequest,
        CustomerTokenOrder,
        TokenStatusUpdate,
        CaptureObject,
        RefundObject,
        UpdateAuthorization,
        UpdateMerchantReferences,
        UpdateConsumer,
        UpdateShippingInfo,
        ExtendDueDateRequest,
    );
    panic!("unknown model {model}")
}

/// Whether a model has `field` as a direct member: a decode of `{field: <wrong type>}` fails only
/// if it does (every other member is optional or missing anyway, so this also needs the model's
/// required fields to be absent — which we check by decoding `{}` first).
fn knows_field(model: &str, field: &str) -> bool {
    let decoder = DECODERS.iter().find(|(n, _)| *n == model).unwrap().1;
    // Only meaningful for models that accept `{}`: then `{field: {"\u0003": 0}}` fails iff the
    // field exists with a non-object type or an object type that rejects... keep it simple:
    if decoder(model, b"{}") == Outcome::Rejected {
        return false;
    }
    // An array of arrays fits none of our field types, so this fails iff the field is known.
    let probe = format!("{{\"{field}\":[[[]]]}}");
    decoder(model, probe.as_bytes()) == Outcome::Rejected
}

#[test]
fn mutations_produce_what_they_say() {
    let seed = json!({"a": 1, "b": [1, 2]});
    // Replace the first pointer (`/a`) with 2^63.
    let out = apply(
        &seed,
        &[Mutation::Replace(
            usize::MAX,
            "9223372036854775808".to_owned(),
        )],
    );
    let ptr_count = 5; // "/a", "/b/0", "/b/1", "/b", ""
    assert_eq!(usize::MAX % ptr_count, 0);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"a":9223372036854775808,"b":[1,2]}"#
    );
    // Insert a duplicate field at the root (the only object).
    let out = apply(&seed, &[Mutation::Insert(0, "a", "1e400".to_owned())]);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("\"a\":").count(), 2, "{text}");
    assert!(text.contains("1e400"), "{text}");
    // Truncate and invalid bytes.
    assert_eq!(apply(&seed, &[Mutation::Truncate(0)]), b"");
    let out = apply(&seed, &[Mutation::Bytes(0, vec![0xFF])]);
    assert_eq!(out[0], 0xFF);
}

#[test]
fn decoders_accept_the_seeds_they_are_for() {
    let seeds = seeds();
    let accepted = |i: usize, model: &str| {
        let bytes = serde_json::to_vec(&seeds[i]).unwrap();
        decode_all(&bytes)
            .into_iter()
            .any(|(n, o)| n == model && o == Outcome::Accepted)
    };
    assert!(accepted(0, "MerchantSession"));
    assert!(accepted(1, "SessionRead"));
    assert!(accepted(2, "Order"));
    assert!(accepted(3, "CustomerTokenCreationResponse"));
    assert!(accepted(5, "ErrorResponse"));
    assert!(accepted(10, "OmOrder"));
    assert!(accepted(11, "Vec<Capture>"));
    assert_eq!(seeds.len(), SEEDS);
    assert!(knows_field("OmOrder", "captured_amount"));
    assert!(!knows_field("OmOrder", "no_such_field"));
}
