//! JSON-tree mutations for the malformed-input suites (included with `#[path]` by the suites of klarna-gateway-http and klarna-cli): Klarna's fixtures, weird values, drops and replacements at random JSON pointers.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each suite that includes this uses its own part of it"
)]

use proptest::prelude::*;
use serde_json::{Value, json};

/// Planted among the mutations: a suite checks it never shows in an error.
pub const BODY_CANARY: &str = "body-canary-qz7w";

/// One of klarna-api's fixtures.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../klarna-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Mutations on JSON trees (the decoders themselves are covered by klarna-api's malformed suite;
// here the point is what the client and the validator do with the results).

/// A value of an unexpected shape or size.
pub fn weird() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!(200_000_001)),
        Just(json!(10_001)),
        Just(json!("\u{0}\n")),
        Just(json!("XX")),
        Just(json!(BODY_CANARY)),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        (0usize..7_000).prop_map(|n| Value::String("a".repeat(n))),
    ]
}

#[derive(Debug, Clone)]
/// One change to a JSON tree.
pub enum Mutation {
    Drop(usize),
    Replace(usize, Value),
}

/// A random change.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::Drop),
        3 => (any::<usize>(), weird()).prop_map(|(n, v)| Mutation::Replace(n, v)),
    ]
}

/// Every JSON pointer in `v`, below `here`.
pub fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
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

/// `seed` with `muts` applied in turn.
pub fn apply(seed: &Value, muts: &[Mutation]) -> Value {
    let mut tree = seed.clone();
    for m in muts {
        let mut ptrs = Vec::new();
        pointers(&tree, String::new(), &mut ptrs);
        match m {
            Mutation::Drop(n) => {
                let ptr = ptrs[n % ptrs.len()].clone();
                if let Some((parent, last)) = ptr.rsplit_once('/') {
                    match tree.pointer_mut(parent) {
                        Some(Value::Object(o)) => {
                            o.remove(&last.replace("~1", "/").replace("~0", "~"));
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
            Mutation::Replace(n, v) => {
                let ptr = ptrs[n % ptrs.len()].clone();
                if let Some(node) = tree.pointer_mut(&ptr) {
                    *node = v.clone();
                }
            }
        }
    }
    tree
}
