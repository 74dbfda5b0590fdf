//! Shared helpers: a started simulator with a reqwest client, valid carts, and error assertions.

use klarna_simulator::{ShopperDecision, Simulator, SimulatorBuilder};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A running simulator and a client for it.
pub(crate) struct Ctx {
    pub(crate) sim: Simulator,
    pub(crate) http: reqwest::Client,
}

/// A response, read fully.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    pub(crate) body: Value,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Ctx {
    pub(crate) async fn new() -> Self {
        Self {
            sim: Simulator::start().await.unwrap(),
            http: client(),
        }
    }

    /// A context over a simulator started from `builder`.
    pub(crate) async fn with(builder: SimulatorBuilder) -> Self {
        Self {
            sim: builder.start().await.unwrap(),
            http: client(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method, self.url(path))
            .basic_auth(self.sim.username(), Some(self.sim.password()));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = key {
            req = req.header("Klarna-Idempotency-Key", k);
        }
        read(req.send().await.unwrap()).await
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body), None).await
    }
    pub(crate) async fn post_key(&self, path: &str, body: &Value, key: &str) -> Resp {
        self.send(Method::POST, path, Some(body), Some(key)).await
    }
    pub(crate) async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None, None).await
    }
    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), None).await
    }
    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, None).await
    }

    /// POST to a `/sim` endpoint (no credentials).
    pub(crate) async fn sim_post(&self, path: &str, body: &Value) -> Resp {
        read(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// P5: an order from the authorization `token`.
    pub(crate) async fn create_order(&self, token: &str, body: &Value) -> Resp {
        self.post(&format!("/payments/v1/authorizations/{token}/order"), body)
            .await
    }

    /// P6: a customer token from the authorization `token` ([`customer_token_body`]).
    pub(crate) async fn create_token(&self, token: &str) -> Resp {
        self.post(
            &format!("/payments/v1/authorizations/{token}/customer-token"),
            &customer_token_body(),
        )
        .await
    }

    pub(crate) async fn create_session(&self, body: &Value) -> String {
        let r = self.post("/payments/v1/sessions", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["session_id"].as_str().unwrap().to_owned()
    }

    pub(crate) fn authorize(&self, session_id: &str) -> String {
        self.sim
            .authorize(session_id, ShopperDecision::approve())
            .unwrap()
            .authorization_token
            .unwrap()
    }

    /// A session with `intent`, authorized: (session id, authorization token, session body).
    pub(crate) async fn authorized(&self, intent: &str) -> (String, String, Value) {
        let body = session_body(intent);
        let sid = self.create_session(&body).await;
        let token = self.authorize(&sid);
        (sid, token, body)
    }

    /// A placed one-time order (SE cart of 174 700), returns its id.
    pub(crate) async fn placed_order(&self) -> String {
        let (_, token, body) = self.authorized("buy").await;
        let r = self.create_order(&token, &order_body(&body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["order_id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn order(&self, id: &str) -> Value {
        let r = self.get(&format!("/ordermanagement/v1/orders/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

pub(crate) async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}

/// API.md's worked SE example: 2 × 89 900 − 10 000 at 25 %, shipping 4 900.
pub(crate) fn lines_se() -> Value {
    json!([
        {"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 2,
         "unit_price": 89_900, "tax_rate": 2500, "total_amount": 169_800,
         "total_discount_amount": 10_000, "total_tax_amount": 33_960},
        {"type": "shipping_fee", "name": "Standard delivery", "quantity": 1, "unit_price": 4900,
         "tax_rate": 2500, "total_amount": 4900, "total_discount_amount": 0, "total_tax_amount": 980}
    ])
}

pub(crate) fn session_body(intent: &str) -> Value {
    json!({
        "intent": intent,
        "purchase_country": "SE",
        "purchase_currency": "SEK",
        "locale": "sv-SE",
        "order_amount": 174_700,
        "order_tax_amount": 34_940,
        "order_lines": lines_se(),
        "merchant_reference1": "pay-0001",
    })
}

/// The P5 body matching an authorized session body.
pub(crate) fn order_body(session: &Value) -> Value {
    let mut b = json!({});
    for k in [
        "purchase_country",
        "purchase_currency",
        "locale",
        "order_amount",
        "order_tax_amount",
        "order_lines",
        "merchant_reference1",
    ] {
        b[k] = session[k].clone();
    }
    b
}

pub(crate) fn customer_token_body() -> Value {
    json!({
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "description": "Coffee subscription", "intended_use": "SUBSCRIPTION"
    })
}

/// A T2 body in SEK.
pub(crate) fn token_order_body(reference: &str) -> Value {
    json!({
        "purchase_currency": "SEK",
        "order_amount": 10_000,
        "order_tax_amount": 2000,
        "order_lines": [{"name": "Coffee box", "quantity": 1, "unit_price": 10_000, "tax_rate": 2500,
                         "total_amount": 10_000, "total_tax_amount": 2000}],
        "merchant_reference1": reference,
    })
}

/// Asserts a Klarna error: status, code, a message containing `msg`, and a correlation id that
/// matches the header.
#[track_caller]
pub(crate) fn assert_error(r: &Resp, status: u16, code: &str, msg: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error_code"], code, "{}", r.text);
    let m = r.body["error_messages"][0].as_str().unwrap_or_default();
    assert!(m.contains(msg), "message {m:?} lacks {msg:?}");
    let cid = r.body["correlation_id"].as_str().unwrap();
    assert_eq!(Some(cid), r.header("klarna-correlation-id"));
}

/// Asserts `400 BAD_VALUE "Bad value: <field>"` exactly.
#[track_caller]
pub(crate) fn assert_bad_value(r: &Resp, field: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error_code"], "BAD_VALUE", "{}", r.text);
    assert_eq!(
        r.body["error_messages"][0],
        format!("Bad value: {field}"),
        "{}",
        r.text
    );
}

/// An Order Management field error: `422`, `UNPROCESSABLE_ENTITY` (`INVALID_ADDRESS` for an
/// address field), naming the field (API.md §11.4).
pub(crate) fn assert_om_field_error(r: &Resp, field: &str) {
    assert_eq!(r.status, 422, "{}", r.text);
    let code = if field.starts_with("shipping_address") || field.starts_with("billing_address") {
        "INVALID_ADDRESS"
    } else {
        "UNPROCESSABLE_ENTITY"
    };
    assert_eq!(r.body["error_code"], code, "{}", r.text);
    assert_eq!(
        r.body["error_messages"][0],
        format!("Bad value: {field}"),
        "{}",
        r.text
    );
}
