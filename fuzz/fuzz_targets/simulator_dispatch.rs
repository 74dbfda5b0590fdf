//! Fuzz target: the simulator's request handling. The first byte picks the operation, the
//! second how many path ids follow (each up to a NUL), the rest is the body. Every reply must be
//! a 2xx or 4xx with Klarna's JSON error body on a 4xx.
#![no_main]

use std::sync::OnceLock;

use klarna_api::ErrorResponse;
use klarna_simulator::{Engine, Operation};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new("http://127.0.0.1:0"))
}

fuzz_target!(|data: &[u8]| {
    let [op, ids, rest @ ..] = data else { return };
    let op = Operation::ALL[usize::from(*op) % Operation::ALL.len()];
    let mut rest = rest;
    let mut params = Vec::new();
    for _ in 0..(ids % 3) {
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        params.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    let reply = engine().dispatch(op, &params, None, rest);
    assert!(
        (200..300).contains(&reply.status) || (400..500).contains(&reply.status),
        "{}: HTTP {}",
        op.name(),
        reply.status
    );
    if reply.status >= 400 {
        let body: ErrorResponse =
            serde_json::from_slice(&reply.body).expect("4xx body is Klarna's error JSON");
        assert!(body.error_code.is_some_and(|c| !c.is_empty()));
    }
});
