//! Small helpers over request JSON: parsing a body into an object, reading fields, ids and URLs.

use rand::Rng as _;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::reply::Reply;

pub(super) fn parse_obj(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(400, "BAD_REQUEST", "Request body is missing"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reply::error(
            400,
            "BAD_REQUEST",
            "Request body must be a JSON object",
        )),
        Err(_) => Err(Reply::error(
            400,
            "BAD_REQUEST",
            "Malformed JSON in request body",
        )),
    }
}

/// Parses an optional body: empty means `{}`.
pub(super) fn parse_opt_obj(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        parse_obj(body)
    }
}

pub(super) fn str_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(super) fn non_null(obj: &Map<String, Value>, key: &str) -> Option<Value> {
    obj.get(key).filter(|v| !v.is_null()).cloned()
}

pub(super) fn parse_id(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

pub(super) fn klarna_reference() -> String {
    let mut b = [0u8; 4];
    rand::rng().fill_bytes(&mut b);
    format!("{:08X}", u32::from_be_bytes(b))
}

pub(super) fn substitute(url: &str, session_id: Option<&str>, order_id: &str) -> String {
    let u = url.replace("{order.id}", order_id);
    match session_id {
        Some(s) => u.replace("{session.id}", s),
        None => u,
    }
}
