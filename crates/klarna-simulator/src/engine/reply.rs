//! Replies the engine produces: [`Reply`] with Klarna's error bodies, the callbacks it owes
//! merchants, and the error answers several API families share.

use bytes::Bytes;
use rand::Rng as _;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::validate::BadValue;

/// An HTTP answer as the engine produced it (and as idempotent replay repeats it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, including `Klarna-Correlation-Id` and `Content-Type` when there is a body.
    pub headers: Vec<(&'static str, String)>,
    /// Response body (empty for 201/204).
    pub body: Bytes,
}

impl Reply {
    pub(super) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("klarna-correlation-id", random_uuid().to_string())],
            body: Bytes::new(),
        }
    }

    pub(super) fn json(status: u16, body: &Value) -> Self {
        Self::typed(status, body)
    }

    /// A JSON answer from any serializable body (the `klarna-api` wire models, mostly).
    pub(super) fn typed<T: Serialize>(status: u16, body: &T) -> Self {
        let mut r = Self::empty(status);
        r.headers
            .push(("content-type", "application/json".to_owned()));
        r.body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        r
    }

    pub(super) fn text(status: u16, text: &'static str) -> Self {
        let mut r = Self::empty(status);
        r.headers
            .push(("content-type", "text/plain; charset=utf-8".to_owned()));
        r.body = Bytes::from_static(text.as_bytes());
        r
    }

    /// A Klarna error body: `{error_code, error_messages, correlation_id}`.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let cid = random_uuid().to_string();
        let body = klarna_api::ErrorResponse {
            error_code: Some(code.to_owned()),
            error_messages: Some(vec![message.into()]),
            correlation_id: Some(cid.clone()),
            ..klarna_api::ErrorResponse::default()
        };
        Self {
            status,
            headers: vec![
                ("klarna-correlation-id", cid),
                ("content-type", "application/json".to_owned()),
            ],
            body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
        }
    }

    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn bad_value(e: BadValue) -> Reply {
    Reply::error(400, "BAD_VALUE", format!("Bad value: {}", e.0))
}

/// An Order Management field error: `422`, `INVALID_ADDRESS` for an address field and
/// `UNPROCESSABLE_ENTITY` otherwise (API.md §11.4; the Payments API's `400 BAD_VALUE` is not
/// what OM answers). The message names the field the way [`bad_value`] does.
pub(super) fn unprocessable(e: BadValue) -> Reply {
    let address = ["shipping_address", "billing_address"]
        .iter()
        .any(|a| e.0.starts_with(a));
    let code = if address {
        "INVALID_ADDRESS"
    } else {
        "UNPROCESSABLE_ENTITY"
    };
    Reply::error(422, code, format!("Bad value: {}", e.0))
}

/// A path order id that is not a UUID: `400 INVALID_ORDER_ID` (API.md §11.4), before any
/// lookup.
pub(super) fn invalid_order_id() -> Reply {
    Reply::error(400, "INVALID_ORDER_ID", "Order ID must be a valid UUID")
}

pub(super) type Res = Result<Reply, Reply>;

/// A random v4 UUID from the thread RNG (cheaper than the OS generator per id).
pub(crate) fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// An HTTP POST the simulator owes a merchant (authorization callback or fraud notification).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Callback {
    pub(crate) url: String,
    pub(crate) body: Value,
}

pub(super) fn not_matching(fields: &[String]) -> Reply {
    Reply::error(
        409,
        "BAD_VALUE",
        format!("Not matching fields: [{}]", fields.join(", ")),
    )
}

pub(super) fn invalid_token() -> Reply {
    Reply::error(404, "NOT_FOUND", "Invalid authorization token")
}

pub(super) fn no_such_order() -> Reply {
    Reply::error(404, "NO_SUCH_ORDER", "No such order")
}

pub(super) fn not_allowed(msg: impl Into<String>) -> Reply {
    Reply::error(403, "NOT_ALLOWED", msg)
}

pub(super) fn callback_body<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> Value {
        serde_json::from_slice(&r.body).unwrap_or_default()
    }

    #[test]
    fn an_error_carries_klarnas_body_and_the_same_correlation_id_in_the_header() {
        let r = Reply::error(403, "CAPTURE_NOT_ALLOWED", "nope");
        assert_eq!(r.status, 403);
        let b = body(&r);
        assert_eq!(b["error_code"], "CAPTURE_NOT_ALLOWED");
        assert_eq!(b["error_messages"], serde_json::json!(["nope"]));
        let cid = r.header("Klarna-Correlation-Id").map(str::to_owned);
        assert!(cid.is_some());
        assert_eq!(b["correlation_id"].as_str(), cid.as_deref());
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn an_empty_reply_has_a_correlation_id_and_no_content_type() {
        let r = Reply::empty(204);
        assert!(r.body.is_empty());
        assert!(r.header("klarna-correlation-id").is_some());
        assert_eq!(r.header("content-type"), None);
        assert_ne!(
            r.header("klarna-correlation-id"),
            Reply::empty(204).header("klarna-correlation-id")
        );
    }

    #[test]
    fn the_shared_errors_spell_klarnas_codes() {
        let cases = [
            (
                bad_value(BadValue("order_lines[2].name".into())),
                400,
                "BAD_VALUE",
                "Bad value: order_lines[2].name",
            ),
            (
                not_matching(&["order_amount".into(), "locale".into()]),
                409,
                "BAD_VALUE",
                "Not matching fields: [order_amount, locale]",
            ),
            (
                invalid_token(),
                404,
                "NOT_FOUND",
                "Invalid authorization token",
            ),
            (no_such_order(), 404, "NO_SUCH_ORDER", "No such order"),
            (
                unprocessable(BadValue("captured_amount".into())),
                422,
                "UNPROCESSABLE_ENTITY",
                "Bad value: captured_amount",
            ),
            (
                unprocessable(BadValue("shipping_address.city".into())),
                422,
                "INVALID_ADDRESS",
                "Bad value: shipping_address.city",
            ),
            (
                invalid_order_id(),
                400,
                "INVALID_ORDER_ID",
                "Order ID must be a valid UUID",
            ),
            (not_allowed("x"), 403, "NOT_ALLOWED", "x"),
        ];
        for (r, status, code, message) in cases {
            assert_eq!(r.status, status, "{code}");
            let b = body(&r);
            assert_eq!(b["error_code"], code);
            assert_eq!(b["error_messages"][0], message);
        }
    }

    #[test]
    fn text_and_json_replies_say_their_content_type() {
        let t = Reply::text(202, "accepted");
        assert_eq!(t.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert_eq!(&t.body[..], b"accepted");
        let j = Reply::json(200, &serde_json::json!({"a": 1}));
        assert_eq!(body(&j), serde_json::json!({"a": 1}));
        assert_eq!(j.header("content-type"), Some("application/json"));
    }
}
