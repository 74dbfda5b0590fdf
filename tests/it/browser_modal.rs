//! The simulator's stand-in for Klarna's SDK in headless Chromium, with its shopper's dialog:
//! `authorize()` opens it with the session's cart and shopper, Tab stays inside, Escape closes
//! it as an abandoned popup, an invalid e-mail is refused inline (by the dialog, then by the
//! simulator) and fixed, the simulator's decline button declines, a `pay_now` pick asks for
//! `finalize()` whose confirm dialog issues the token (after a closed one), and `pay_over_time`
//! is one step.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test fails when `CI` is
//! set and prints a skip message otherwise.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use klarna_simulator::Simulator;
use serde_json::{Value, json};

use crate::chromium::{Browser, PATIENCE, click, text};

/// A shop page on the simulator's origin with the stand-in loaded, started for `token` and
/// loaded for every category. `call(method, options, data)` focuses `#buy` (the element focus
/// returns to) and calls the SDK; `window.__answer` is the promise of what its callback gets,
/// `window.__settled` whether it came.
const PAGE: &str = r#"
var sim = arguments[0], token = arguments[1], done = arguments[arguments.length - 1];
document.body.innerHTML = '<main><h1>Shop</h1><p>Lots of page</p><button id="buy" type="button">Buy</button><div id="c"></div></main>';
delete window.KLARNA_SIM_HEADLESS;
window.call = function (method, options, data) {
  window.__settled = false;
  window.__answer = new Promise(function (resolve) {
    document.getElementById('buy').focus();
    Klarna.Payments[method](options, data || {}, function (r) { window.__settled = true; resolve(r); });
  });
  return true;
};
function start() {
  Klarna.Payments.init({ client_token: token });
  ['klarna', 'pay_now', 'pay_over_time'].forEach(function (c) {
    Klarna.Payments.load({ container: '#c', payment_method_category: c }, {}, function () {});
  });
  done(true);
}
if (window.Klarna && window.Klarna.Payments) { start(); } else {
  window.klarnaAsyncCallback = start;
  var s = document.createElement('script');
  s.src = sim + '/sim/js/klarna-payments.js';
  s.async = true;
  document.head.appendChild(s);
}
"#;

/// The cart of the dialog's sessions: 2 × 89 900 − 10 000 and a delivery, SEK.
fn session_body() -> Value {
    json!({
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 174_700, "order_tax_amount": 34_940,
        "order_lines": [
            {"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 2,
             "unit_price": 89_900, "tax_rate": 2500, "total_amount": 169_800,
             "total_discount_amount": 10_000, "total_tax_amount": 33_960},
            {"type": "shipping_fee", "name": "Standard delivery", "quantity": 1, "unit_price": 4900,
             "tax_rate": 2500, "total_amount": 4900, "total_discount_amount": 0,
             "total_tax_amount": 980}
        ],
        "billing_address": {"given_name": "Alice", "family_name": "Andersson",
                            "email": "alice@example.se", "street_address": "Stårgatan 1",
                            "postal_code": "12345", "city": "Ankeborg", "country": "SE"}
    })
}

/// The simulator's Klarna API, with its credentials.
struct Api<'a> {
    sim: &'a Simulator,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn send(&self, req: reqwest::RequestBuilder) -> Value {
        let r = req
            .basic_auth(self.sim.username(), Some(self.sim.password()))
            .send()
            .await
            .expect("the simulator answers");
        let status = r.status();
        let body: Value = r.json().await.expect("JSON");
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    /// P1: (session id, client token).
    async fn session(&self) -> (String, String) {
        let url = format!("{}/payments/v1/sessions", self.sim.base_url());
        let s = self.send(self.http.post(url).json(&session_body())).await;
        (
            s["session_id"].as_str().expect("id").to_owned(),
            s["client_token"].as_str().expect("token").to_owned(),
        )
    }

    /// P2.
    async fn read(&self, sid: &str) -> Value {
        let url = format!("{}/payments/v1/sessions/{sid}", self.sim.base_url());
        self.send(self.http.get(url)).await
    }

    /// P5 from `token` for the session's cart and billing address: the order id.
    async fn order(&self, token: &str, billing: &Value) -> String {
        let mut body = session_body();
        body["billing_address"] = billing.clone();
        let url = format!(
            "{}/payments/v1/authorizations/{token}/order",
            self.sim.base_url()
        );
        let o = self.send(self.http.post(url).json(&body)).await;
        o["order_id"].as_str().expect("order id").to_owned()
    }
}

async fn js(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Starts the page for a session's client token.
async fn page(c: &Client, sim: &str, token: &str) {
    let ready = c
        .execute_async(PAGE, vec![json!(sim), json!(token)])
        .await
        .expect("the page starts");
    assert_eq!(ready, true);
}

/// Calls `Klarna.Payments[method](options, data, …)` and waits for the dialog.
async fn open(c: &Client, method: &str, options: Value) {
    js(
        c,
        "return call(arguments[0], arguments[1], {});",
        vec![json!(method), options],
    )
    .await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("klarna-sim-modal"))
        .await
        .unwrap_or_else(|e| panic!("{method} opens the dialog: {e}"));
}

/// What the page's callback got (waits for it), after which the dialog is gone and focus is
/// back on the page's button.
async fn answer(c: &Client) -> Value {
    let a = c
        .execute_async(
            "window.__answer.then(arguments[arguments.length - 1]);",
            vec![],
        )
        .await
        .expect("the callback is called");
    let after = js(
        c,
        "return [document.getElementById('klarna-sim-backdrop') === null, document.activeElement.id, document.body.style.overflow];",
        vec![],
    )
    .await;
    assert_eq!(
        after,
        json!([true, "buy", ""]),
        "the dialog is gone, focus is back where it was, the page scrolls again ({a})"
    );
    a
}

async fn settled(c: &Client) -> bool {
    js(c, "return window.__settled;", vec![]).await == true
}

async fn active(c: &Client) -> String {
    let v = js(
        c,
        "var a = document.activeElement; return [a.id, document.getElementById('klarna-sim-modal').contains(a)];",
        vec![],
    )
    .await;
    assert_eq!(v[1], true, "focus stays inside the dialog: {v}");
    v[0].as_str().unwrap_or_default().to_owned()
}

async fn press(c: &Client, keys: &str) {
    c.active_element()
        .await
        .expect("a focused element")
        .send_keys(keys)
        .await
        .expect("keys");
}

async fn displayed(c: &Client, id: &str) -> bool {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .is_displayed()
        .await
        .expect("displayed")
}

async fn type_email(c: &Client, address: &str) {
    let e = c
        .find(Locator::Id("klarna-sim-email"))
        .await
        .expect("e-mail");
    e.clear().await.expect("clear");
    if !address.is_empty() {
        e.send_keys(address).await.expect("type");
    }
}

/// Waits until the e-mail error shows `needle`, then checks how the field is marked.
async fn email_refused(c: &Client, needle: &str) {
    let shown = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(&format!(
            "//p[@id='klarna-sim-email-error' and not(@hidden) and contains(., \"{needle}\")]"
        )))
        .await
        .unwrap_or_else(|e| panic!("the e-mail error says {needle:?}: {e}"));
    assert_eq!(
        shown.attr("role").await.expect("role").as_deref(),
        Some("alert")
    );
    let field = c
        .find(Locator::Id("klarna-sim-email"))
        .await
        .expect("e-mail");
    assert_eq!(
        field.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    assert_eq!(
        field
            .attr("aria-describedby")
            .await
            .expect("attr")
            .as_deref(),
        Some("klarna-sim-email-error")
    );
    assert_eq!(
        active(c).await,
        "klarna-sim-email",
        "focus moves to the field"
    );
    assert!(!settled(c).await, "nothing handed to the page yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_ins_dialog_lets_a_shopper_pay_fix_decline_and_close() {
    let Some(browser) = Browser::start("the dialog's browser test").await else {
        return;
    };
    let c = &browser.c;
    let sim = Simulator::start().await.expect("the simulator starts");
    let api = Api {
        sim: &sim,
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client"),
    };

    c.goto(&format!("{}/sim/clock", sim.base_url()))
        .await
        .expect("a page on the simulator");
    let base = sim.base_url();

    // 1. authorize() opens the dialog with the session's cart and shopper.
    let (sid, token) = api.session().await;
    page(c, base, &token).await;
    open(
        c,
        "authorize",
        json!({"payment_method_category": "klarna", "auto_finalize": false}),
    )
    .await;
    let dialog = js(
        c,
        "var m = document.getElementById('klarna-sim-modal');\
         return [m.getAttribute('role'), m.getAttribute('aria-modal'),\
                 document.getElementById(m.getAttribute('aria-labelledby')).textContent,\
                 m.getAttribute('data-mode')];",
        vec![],
    )
    .await;
    assert_eq!(
        dialog,
        json!(["dialog", "true", "Complete your purchase", "authorize"])
    );
    let lines = js(
        c,
        "return Array.prototype.map.call(document.querySelectorAll('.klarna-sim-line'), function (l) {\
           return ['quantity', 'name', 'amount'].map(function (k) {\
             return l.querySelector('.klarna-sim-line-' + k).textContent; }); });",
        vec![],
    )
    .await;
    assert_eq!(
        lines,
        json!([
            ["2 \u{d7}", "Trail running shoe", "1698.00 SEK"],
            ["1 \u{d7}", "Standard delivery", "49.00 SEK"]
        ])
    );
    assert_eq!(text(c, "klarna-sim-total").await, "1747.00 SEK");
    assert_eq!(text(c, "klarna-sim-shopper").await, "Alice Andersson");
    let email = c
        .find(Locator::Id("klarna-sim-email"))
        .await
        .expect("e-mail");
    assert_eq!(
        email.prop("value").await.expect("value").as_deref(),
        Some("alice@example.se"),
        "prefilled from the session"
    );
    let categories = js(
        c,
        "return Array.prototype.map.call(document.querySelectorAll('input[name=klarna-sim-category]'), function (r) {\
           return [r.id, r.checked, r.labels[0].textContent]; });",
        vec![],
    )
    .await;
    assert_eq!(
        categories,
        json!([
            ["klarna-sim-category-klarna", true, "Pay later (in 30 days)"],
            [
                "klarna-sim-category-pay_now",
                false,
                "Pay now (bank transfer)"
            ],
            [
                "klarna-sim-category-pay_over_time",
                false,
                "Pay in parts or finance"
            ]
        ])
    );
    assert!(
        !displayed(c, "klarna-sim-plan-3").await,
        "plans only for pay_over_time"
    );
    assert_eq!(text(c, "klarna-sim-pay").await, "Pay");
    let covered = js(
        c,
        "var b = document.getElementById('buy').getBoundingClientRect();\
         var at = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);\
         return document.getElementById('klarna-sim-backdrop').contains(at);",
        vec![],
    )
    .await;
    assert_eq!(covered, true, "the backdrop covers the page's button");

    // Keyboard: focus starts on the checked category; Tab and Shift+Tab wrap inside.
    assert_eq!(active(c).await, "klarna-sim-category-klarna");
    let mut forward = Vec::new();
    for _ in 0..8 {
        press(c, &Key::Tab.to_string()).await;
        forward.push(active(c).await);
    }
    assert_eq!(
        forward,
        [
            "klarna-sim-pay",
            "klarna-sim-decline",
            "klarna-sim-fraud",
            "klarna-sim-close",
            "klarna-sim-email",
            "klarna-sim-category-klarna",
            "klarna-sim-pay",
            "klarna-sim-decline",
        ]
    );
    let mut backward = Vec::new();
    for _ in 0..5 {
        press(c, &(Key::Shift + &Key::Tab)).await;
        backward.push(active(c).await);
    }
    assert_eq!(
        backward,
        [
            "klarna-sim-pay",
            "klarna-sim-category-klarna",
            "klarna-sim-email",
            "klarna-sim-close",
            "klarna-sim-fraud",
        ]
    );

    // Escape: the shopper abandons; nothing is posted.
    press(c, &Key::Escape.to_string()).await;
    assert_eq!(
        answer(c).await,
        json!({"approved": false, "show_form": true})
    );
    let read = api.read(&sid).await;
    assert!(read.get("authorization_token").is_none(), "{read}");

    // 2. An invalid e-mail is refused in the dialog, then by the simulator (over 99
    //    characters), then fixed and approved.
    open(c, "authorize", json!({"payment_method_category": "klarna"})).await;
    type_email(c, "alice@example").await;
    click(c, "klarna-sim-pay").await;
    email_refused(c, "name@example.com").await;
    type_email(c, "").await;
    click(c, "klarna-sim-pay").await;
    email_refused(c, "Enter your e-mail address").await;
    type_email(c, &format!("{}@example.se", "a".repeat(100))).await;
    click(c, "klarna-sim-pay").await;
    email_refused(c, "cannot accept").await;
    type_email(c, "alice.andersson@example.se").await;
    press(c, &Key::Enter.to_string()).await;
    let approved = answer(c).await;
    assert_eq!(approved["approved"], true, "{approved}");
    assert_eq!(approved["show_form"], true, "{approved}");
    assert_eq!(approved["finalize_required"], false, "{approved}");
    let token = approved["authorization_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let read = api.read(&sid).await;
    assert_eq!(read["authorization_token"], token.as_str(), "{read}");
    assert_eq!(
        read["billing_address"]["email"], "alice.andersson@example.se",
        "{read}"
    );
    assert_eq!(
        read["billing_address"]["street_address"], "Stårgatan 1",
        "the rest of the address is kept: {read}"
    );

    // 3. The simulator's decline button.
    open(c, "authorize", json!({"payment_method_category": "klarna"})).await;
    click(c, "klarna-sim-decline").await;
    assert_eq!(
        answer(c).await,
        json!({"approved": false, "show_form": false})
    );

    // 4. Pay now picked in the dialog: finalize_required; the page's finalize() (naming its own
    //    category) opens the confirm dialog; closed once, then confirmed with fraud PENDING.
    let (_, token) = api.session().await;
    page(c, base, &token).await;
    open(
        c,
        "authorize",
        json!({"payment_method_category": "klarna", "auto_finalize": false}),
    )
    .await;
    click(c, "klarna-sim-category-pay_now").await;
    assert_eq!(text(c, "klarna-sim-pay").await, "Continue");
    click(c, "klarna-sim-pay").await;
    assert_eq!(
        answer(c).await,
        json!({"approved": true, "show_form": true, "finalize_required": true})
    );
    open(c, "finalize", json!({"payment_method_category": "klarna"})).await;
    let confirm = js(
        c,
        "var m = document.getElementById('klarna-sim-modal');\
         return [document.getElementById(m.getAttribute('aria-labelledby')).textContent,\
                 m.getAttribute('data-mode'), document.activeElement.id,\
                 document.getElementById('klarna-sim-chosen').textContent,\
                 document.querySelectorAll('.klarna-sim-line').length,\
                 document.getElementById('klarna-sim-total').textContent];",
        vec![],
    )
    .await;
    assert_eq!(
        confirm,
        json!([
            "Confirm your payment",
            "confirm",
            "klarna-sim-confirm",
            "Payment method: Pay now (bank transfer)",
            2,
            "1747.00 SEK"
        ])
    );
    click(c, "klarna-sim-close").await;
    assert_eq!(
        answer(c).await,
        json!({"approved": false, "show_form": true})
    );
    open(c, "finalize", json!({"payment_method_category": "klarna"})).await;
    c.find(Locator::Id("klarna-sim-fraud"))
        .await
        .expect("fraud")
        .select_by_value("PENDING")
        .await
        .expect("select");
    click(c, "klarna-sim-confirm").await;
    let finalized = answer(c).await;
    assert_eq!(finalized["approved"], true, "{finalized}");
    let token = finalized["authorization_token"]
        .as_str()
        .expect("finalize answers the token");
    let order = api.order(token, &session_body()["billing_address"]).await;
    assert_eq!(
        sim.order(&order).expect("the order").fraud_status,
        "PENDING",
        "the simulator section's fraud status"
    );

    // 5. Pay in parts: the plans show, and it is one step.
    let (_, token) = api.session().await;
    page(c, base, &token).await;
    open(
        c,
        "authorize",
        json!({"payment_method_category": "klarna", "auto_finalize": false}),
    )
    .await;
    click(c, "klarna-sim-category-pay_over_time").await;
    assert!(displayed(c, "klarna-sim-plan-3").await);
    let plans = js(
        c,
        "return ['3', '12'].map(function (p) { var r = document.getElementById('klarna-sim-plan-' + p);\
           return [r.checked, r.labels[0].querySelector('.ks-option-label').textContent]; });",
        vec![],
    )
    .await;
    assert_eq!(
        plans,
        json!([
            [true, "Pay in 3 interest-free parts"],
            [false, "Financing, 12 months"]
        ])
    );
    click(c, "klarna-sim-plan-12").await;
    assert_eq!(
        text(c, "klarna-sim-pay").await,
        "Pay",
        "no finalize to come"
    );
    click(c, "klarna-sim-pay").await;
    let parts = answer(c).await;
    assert_eq!(parts["approved"], true, "{parts}");
    assert_eq!(parts["finalize_required"], false, "{parts}");
    assert!(parts["authorization_token"].is_string(), "{parts}");

    c.clone().close().await.expect("close the browser");
    sim.shutdown().await;
}
