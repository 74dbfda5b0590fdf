//! The simulator's answers and our request bodies against Klarna's own OpenAPI documents
//! (`docs/klarna/openapi/`, copies of `shared/klarna/openapi/`): every JSON answer of the
//! Payments, Customer Token and Order Management operations the simulator serves (successes and
//! errors) validates against the schema Klarna declares for its status, and every request body
//! `klarna-api` serializes (what `KlarnaClient` sends) validates against the operation's request
//! schema.
//!
//! Answers are checked strictly: an object may carry only the properties Klarna's schema lists
//! (`additionalProperties: false` is added to every object schema), so a read that answers an
//! undocumented field fails here. `$ref`s resolve to the document's `components`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failing assertion is the point"
)]

use klarna_api as api;
use klarna_simulator::{Operation, ShopperDecision, Simulator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One of Klarna's documents, parsed and prepared for validation.
struct Spec {
    doc: Value,
    /// The schema of a 4xx/5xx answer that declares none.
    error_schema: &'static str,
}

fn load(file: &str, error_schema: &'static str) -> Spec {
    let path = format!(
        "{}/../../docs/klarna/openapi/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut doc: Value = yaml_serde::from_str(&text).unwrap();
    tidy(&mut doc);
    Spec { doc, error_schema }
}

/// Works around the copies' blemishes (docs/klarna/openapi/README.md): `$ref`s to names with
/// spaces are percent-encoded, an empty `enum` is dropped, and an `enum` of one `a|b|c` string
/// is dropped (its `pattern` stays).
fn tidy(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                *r = r.replace(' ', "%20");
            }
            let broken_enum = m.get("enum").and_then(Value::as_array).is_some_and(|e| {
                e.is_empty() || (e.len() == 1 && e[0].as_str().is_some_and(|s| s.contains('|')))
            });
            if broken_enum {
                m.remove("enum");
            }
            m.values_mut().for_each(tidy);
        }
        Value::Array(a) => a.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Adds `additionalProperties: false` to every object schema that lists properties.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("properties").is_some_and(Value::is_object)
                && !m.contains_key("additionalProperties")
            {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (k, sub) in m.iter_mut() {
                // Property names are not schemas; their values are.
                if k == "properties" {
                    if let Value::Object(props) = sub {
                        props.values_mut().for_each(strict);
                    }
                } else {
                    strict(sub);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

impl Spec {
    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    /// Validates `instance` against `schema` with the document's components around it.
    fn check(&self, what: &str, schema: &Value, instance: &Value, strict_objects: bool) {
        let mut root = json!({"components": self.doc["components"].clone()});
        if strict_objects {
            strict(&mut root);
        }
        let mut schema = schema.clone();
        if strict_objects {
            strict(&mut schema);
        }
        root.as_object_mut()
            .unwrap()
            .extend(schema.as_object().unwrap().clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: {instance}\nviolates Klarna's schema:\n{}",
            errors.join("\n")
        );
    }

    /// Checks an answer of `method template` with `status` and JSON `body`.
    fn answer(&self, method: &str, template: &str, status: u16, body: &Value) {
        let op = self.operation(method, template);
        let declared =
            &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        let schema = if declared.is_object() {
            declared.clone()
        } else {
            assert!(
                status >= 400,
                "{method} {template}: {status} with a body Klarna does not declare"
            );
            json!({"$ref": format!("#/components/schemas/{}", self.error_schema)})
        };
        self.check(
            &format!("{method} {template} → {status}"),
            &schema,
            body,
            true,
        );
    }

    /// Checks a request body of `method template`.
    fn request(&self, method: &str, template: &str, body: &Value) {
        let op = self.operation(method, template);
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {template} takes no body");
        self.check(&format!("request {method} {template}"), schema, body, true);
    }
}

fn payments() -> Spec {
    load("payments-v1.yml", "ErrorV2")
}
fn tokens() -> Spec {
    load("customer-token-v1.yml", "ErrorV2")
}
fn om() -> Spec {
    load("order-management-v1.yml", "ErrorMessageDto")
}

/// Dispatches one operation and returns (status, JSON body or `Null`).
fn call(s: &Simulator, op: Operation, params: &[&str], body: &Value) -> (u16, Value) {
    let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let r = s.engine().dispatch(op, &params, None, &bytes);
    let json = if r.header("content-type") == Some("application/json") {
        serde_json::from_slice(&r.body).unwrap()
    } else {
        Value::Null
    };
    (r.status, json)
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../klarna-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn session(intent: &str) -> Value {
    let mut b = fixture("create_session.request.json");
    b["intent"] = json!(intent);
    b["customer"] = json!({"date_of_birth": "1980-01-01",
        "national_identification_number": "198001011234"});
    b["billing_address"] = json!({"given_name": "Ada", "family_name": "Lovelace",
        "email": "ada@example.com", "street_address": "Gatan 1", "postal_code": "12345",
        "city": "Stockholm", "country": "SE"});
    b
}

const SESSION: &str = "/payments/v1/sessions/{session_id}";
const ORDER: &str = "/ordermanagement/v1/orders/{order_id}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_the_simulator_serves_validates_against_klarnas_schemas() {
    let (p, t, o) = (payments(), tokens(), om());
    let s = Simulator::start().await.unwrap();
    let none = Value::Null;

    // Payments: P1, P2, P3, P5, P6, and their errors.
    let body = session("buy");
    let (status, created) = call(&s, Operation::CreateSession, &[], &body);
    assert_eq!(status, 200, "{created}");
    p.answer("post", "/payments/v1/sessions", status, &created);
    let sid = created["session_id"].as_str().unwrap().to_owned();
    let (status, read) = call(&s, Operation::ReadSession, &[&sid], &none);
    p.answer("get", SESSION, status, &read);
    let (status, _) = call(
        &s,
        Operation::UpdateSession,
        &[&sid],
        &json!({"merchant_reference2": "x"}),
    );
    assert_eq!(status, 204);
    let mut bad = body.clone();
    bad["order_amount"] = json!(1);
    let (status, e) = call(&s, Operation::CreateSession, &[], &bad);
    assert_eq!(status, 400);
    p.answer("post", "/payments/v1/sessions", status, &e);
    let unknown = "5c0b7d1e-2a43-4f6b-9c1d-8e2f3a4b5c6d";
    let (status, e) = call(&s, Operation::ReadSession, &[unknown], &none);
    assert_eq!(status, 404);
    p.answer("get", SESSION, status, &e);

    let token = s
        .authorize(&sid, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let (status, read) = call(&s, Operation::ReadSession, &[&sid], &none);
    p.answer("get", SESSION, status, &read);
    let order_body = fixture("create_order.request.json");
    let (status, e) = call(&s, Operation::CreateOrder, &[unknown], &order_body);
    assert_eq!(status, 404);
    p.answer(
        "post",
        "/payments/v1/authorizations/{authorizationToken}/order",
        status,
        &e,
    );
    let mut order_req = body.clone();
    for k in ["intent", "customer"] {
        order_req.as_object_mut().unwrap().remove(k);
    }
    let (status, placed) = call(&s, Operation::CreateOrder, &[&token], &order_req);
    assert_eq!(status, 200, "{placed}");
    p.answer(
        "post",
        "/payments/v1/authorizations/{authorizationToken}/order",
        status,
        &placed,
    );
    let order_id = placed["order_id"].as_str().unwrap().to_owned();

    let tbody = session("tokenize");
    let (_, tcreated) = call(&s, Operation::CreateSession, &[], &tbody);
    let tsid = tcreated["session_id"].as_str().unwrap().to_owned();
    let ttoken = s
        .authorize(&tsid, ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let mut treq = fixture("customer_token.request.json");
    for k in [
        "purchase_country",
        "purchase_currency",
        "locale",
        "billing_address",
    ] {
        treq[k] = tbody[k].clone();
    }
    let (status, ct) = call(&s, Operation::CreateCustomerToken, &[&ttoken], &treq);
    assert_eq!(status, 200, "{ct}");
    p.answer(
        "post",
        "/payments/v1/authorizations/{authorizationToken}/customer-token",
        status,
        &ct,
    );
    let customer_token = ct["token_id"].as_str().unwrap().to_owned();

    // Customer Token: T1, T2 and its refusals.
    let (status, read) = call(&s, Operation::ReadToken, &[&customer_token], &none);
    t.answer(
        "get",
        "/customer-token/v1/tokens/{customerToken}",
        status,
        &read,
    );
    let mut charge = fixture("token_order.request.json");
    charge["purchase_currency"] = tbody["purchase_currency"].clone();
    let (status, charged) = call(&s, Operation::TokenOrder, &[&customer_token], &charge);
    assert_eq!(status, 200, "{charged}");
    let t2 = "/customer-token/v1/tokens/{customerToken}/order";
    t.answer("post", t2, status, &charged);
    let mut other = charge.clone();
    other["purchase_currency"] = json!("JPY");
    let (status, e) = call(&s, Operation::TokenOrder, &[&customer_token], &other);
    assert_eq!(status, 403, "{e}");
    t.answer("post", t2, status, &e);
    let mut broken = charge.clone();
    broken["order_amount"] = json!(-1);
    let (status, e) = call(&s, Operation::TokenOrder, &[&customer_token], &broken);
    assert_eq!(status, 400, "{e}");
    t.answer("post", t2, status, &e);

    // Order Management: reads after a capture and a refund, and the errors.
    let (status, _) = call(
        &s,
        Operation::Capture,
        &[&order_id],
        &json!({"captured_amount": 1000, "description": "part",
            "shipping_info": [{"shipping_company": "DHL", "tracking_number": "1"}]}),
    );
    assert_eq!(status, 201);
    let (status, _) = call(
        &s,
        Operation::Refund,
        &[&order_id],
        &json!({"refunded_amount": 500, "description": "back"}),
    );
    assert_eq!(status, 201);
    let (status, order) = call(&s, Operation::GetOrder, &[&order_id], &none);
    o.answer("get", ORDER, status, &order);
    let (status, captures) = call(&s, Operation::ListCaptures, &[&order_id], &none);
    o.answer("get", &format!("{ORDER}/captures"), status, &captures);
    let capture_id = captures[0]["capture_id"].as_str().unwrap().to_owned();
    let refund_id = order["refunds"][0]["refund_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let capture_path = format!("{ORDER}/captures/{{capture_id}}");
    let (status, capture) = call(&s, Operation::GetCapture, &[&order_id, &capture_id], &none);
    o.answer("get", &capture_path, status, &capture);
    let (status, refund) = call(&s, Operation::GetRefund, &[&order_id, &refund_id], &none);
    o.answer(
        "get",
        &format!("{ORDER}/refunds/{{refund_id}}"),
        status,
        &refund,
    );
    let (status, options) = call(
        &s,
        Operation::ExtendDueDateOptions,
        &[&order_id, &capture_id],
        &none,
    );
    o.answer(
        "get",
        &format!("{capture_path}/extend-due-date-options"),
        status,
        &options,
    );
    let (status, e) = call(&s, Operation::GetOrder, &[unknown], &none);
    assert_eq!(status, 404);
    o.answer("get", ORDER, status, &e);
    let (status, e) = call(&s, Operation::GetOrder, &["not-a-uuid"], &none);
    assert_eq!(status, 400);
    o.answer("get", ORDER, status, &e);
    let (status, e) = call(
        &s,
        Operation::Capture,
        &[&order_id],
        &json!({"captured_amount": 999_999_999}),
    );
    assert_eq!(status, 422, "{e}");
    o.answer("post", &format!("{ORDER}/captures"), status, &e);
    let (status, e) = call(
        &s,
        Operation::Capture,
        &[&order_id],
        &json!({"captured_amount": 190_000_000}),
    );
    assert_eq!(status, 403, "{e}");
    o.answer("post", &format!("{ORDER}/captures"), status, &e);
    let (status, e) = call(
        &s,
        Operation::Refund,
        &[&order_id],
        &json!({"refunded_amount": 190_000_000}),
    );
    assert_eq!(status, 403, "{e}");
    o.answer("post", &format!("{ORDER}/refunds"), status, &e);
    let (status, e) = call(&s, Operation::CancelOrder, &[&order_id], &none);
    assert_eq!(status, 403, "{e}");
    o.answer("post", &format!("{ORDER}/cancel"), status, &e);
    let (status, e) = call(&s, Operation::GetCapture, &[&order_id, unknown], &none);
    assert_eq!(status, 404);
    o.answer("get", &capture_path, status, &e);
}

/// A body decoded into the `klarna-api` request type and serialized again: what the client
/// sends for it.
fn wire<T: Serialize + DeserializeOwned>(body: &Value) -> Value {
    let typed: T = serde_json::from_value(body.clone()).unwrap();
    serde_json::to_value(&typed).unwrap()
}

#[test]
fn every_request_body_the_client_sends_validates_against_klarnas_schemas() {
    let (p, t, o) = (payments(), tokens(), om());
    let session = session("buy_and_tokenize");
    p.request(
        "post",
        "/payments/v1/sessions",
        &wire::<api::SessionCreate>(&session),
    );
    p.request("post", SESSION, &wire::<api::SessionUpdate>(&session));
    p.request(
        "post",
        "/payments/v1/authorizations/{authorizationToken}/order",
        &wire::<api::CreateOrderRequest>(&fixture("create_order.request.json")),
    );
    p.request(
        "post",
        "/payments/v1/authorizations/{authorizationToken}/customer-token",
        &wire::<api::CustomerTokenCreationRequest>(&fixture("customer_token.request.json")),
    );
    t.request(
        "post",
        "/customer-token/v1/tokens/{customerToken}/order",
        &wire::<api::CustomerTokenOrder>(&fixture("token_order.request.json")),
    );
    let line = json!({"type": "physical", "name": "Box", "quantity": 1, "quantity_unit": "pcs",
        "unit_price": 1000, "tax_rate": 2500, "total_amount": 1000, "total_tax_amount": 200});
    let shipping = json!([{"shipping_company": "DHL", "shipping_method": "Home",
        "tracking_number": "1", "tracking_uri": "https://track.example/1"}]);
    o.request(
        "post",
        &format!("{ORDER}/captures"),
        &wire::<api::CaptureObject>(&json!({"captured_amount": 1000, "description": "part",
            "reference": "c-1", "order_lines": [line], "shipping_info": shipping,
            "shipping_delay": 0})),
    );
    o.request(
        "post",
        &format!("{ORDER}/refunds"),
        &wire::<api::RefundObject>(&json!({"refunded_amount": 1000, "description": "back",
            "reference": "r-1", "order_lines": [line]})),
    );
    o.request(
        "patch",
        &format!("{ORDER}/authorization"),
        &wire::<api::UpdateAuthorization>(&json!({"order_amount": 1000,
            "description": "less", "order_lines": [line]})),
    );
    o.request(
        "patch",
        &format!("{ORDER}/merchant-references"),
        &wire::<api::UpdateMerchantReferences>(
            &json!({"merchant_reference1": "r1", "merchant_reference2": "r2"}),
        ),
    );
    o.request(
        "patch",
        &format!("{ORDER}/customer-details"),
        &wire::<api::UpdateConsumer>(&json!({"shipping_address": {"given_name": "Ada",
            "street_address": "Gatan 1", "postal_code": "12345", "city": "Stockholm",
            "country": "SE"}})),
    );
    o.request(
        "post",
        &format!("{ORDER}/shipping-info"),
        &wire::<api::UpdateShippingInfo>(&json!({"shipping_info": shipping})),
    );
}

#[test]
fn the_strict_check_fails_on_an_undocumented_field() {
    // The check can fail: a session read with the national id Klarna's read schema lacks.
    let p = payments();
    let schema = json!({"$ref": "#/components/schemas/session_read"});
    let read = json!({"customer": {"national_identification_number": "198001011234"}});
    let failed = std::panic::catch_unwind(|| p.check("session_read", &schema, &read, true));
    assert!(failed.is_err());
    p.check(
        "session_read",
        &schema,
        &json!({"customer": {"date_of_birth": "1980-01-01"}}),
        true,
    );
}

/// The Hosted Payment Page's answers (H1, H2 before and after payment) and the bodies
/// `klarna-api` sends (H1, H4) against Klarna's HPP document; the `status_update` callback's
/// `session` against the read's schema (Kustom's page says it is the same structure).
#[tokio::test]
async fn hosted_payment_page_answers_and_bodies_validate_against_klarnas_hpp_schemas() {
    let spec = load("hpp-v1.yml", "");
    let s = Simulator::start().await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let send = |req: reqwest::RequestBuilder| async {
        let r = req
            .basic_auth(s.username(), Some(s.password()))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, kp) = send(
        http.post(format!("{}/payments/v1/sessions", s.base_url()))
            .json(&fixture("create_session.request.json")),
    )
    .await;
    assert_eq!(status, 200);
    let kp = kp["session_id"].as_str().unwrap();
    let create = api::hpp::SessionCreationRequest {
        payment_session_url: format!("{}/payments/v1/sessions/{kp}", s.base_url()),
        merchant_urls: Some(api::hpp::MerchantUrls {
            success: Some("https://shop.example/ok?hpp={{session_id}}".into()),
            status_update: Some("https://shop.example/status".into()),
            ..Default::default()
        }),
        options: Some(api::hpp::Options {
            place_order_mode: Some(api::hpp::PlaceOrderMode::PlaceOrder),
            ..Default::default()
        }),
        profile_id: None,
    };
    let body = serde_json::to_value(&create).unwrap();
    spec.request("post", "/hpp/v1/sessions", &body);
    spec.request(
        "post",
        "/hpp/v1/sessions",
        &wire::<api::hpp::SessionCreationRequest>(&fixture("hpp/create_session.request.json")),
    );
    for d in [
        api::hpp::DistributionRequest::email("a@b.se"),
        api::hpp::DistributionRequest::sms("07000212345", "SE"),
    ] {
        spec.request(
            "post",
            "/hpp/v1/sessions/{session_id}/distribution",
            &serde_json::to_value(&d).unwrap(),
        );
    }

    let (status, created) = send(
        http.post(format!("{}/hpp/v1/sessions", s.base_url()))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    spec.answer("post", "/hpp/v1/sessions", 201, &created);
    let id = created["session_id"].as_str().unwrap();
    let read_url = format!("{}/hpp/v1/sessions/{id}", s.base_url());
    let (status, waiting) = send(http.get(&read_url)).await;
    assert_eq!(status, 200);
    spec.answer("get", "/hpp/v1/sessions/{session_id}", 200, &waiting);
    s.hpp_act(id, klarna_simulator::HppPageAction::Pay).unwrap();
    let (_, completed) = send(http.get(&read_url)).await;
    assert_eq!(completed["status"], "COMPLETED");
    assert!(completed["order_id"].is_string());
    spec.answer("get", "/hpp/v1/sessions/{session_id}", 200, &completed);
    let schema = json!({"$ref": "#/components/schemas/SessionResponseV1"});
    let update = serde_json::to_value(api::hpp::StatusUpdate {
        event_id: "e-1".into(),
        session: serde_json::from_value(completed.clone()).unwrap(),
    })
    .unwrap();
    spec.check("status_update.session", &schema, &update["session"], true);
}
