//! The demo shop in headless Chromium, the shopper deciding in Klarna's window (the
//! simulator's stand-in and its dialog): the stand-in against Klarna's documented SDK
//! behaviour; a one-time purchase declined by Klarna, then the window closed, then paid in
//! parts; a pay-now purchase whose e-mail the window refuses until fixed and which then needs
//! `finalize()`; a fixable decline the page names; a subscription with a second charge; the
//! admin refusing without the operator's login, then a capture; a form without its CSRF token
//! refused; then the store is checked. Takes the screenshots in `docs/screenshots/` (the
//! checkout with Klarna's window open, the admin).
//!
//! Needs Debian's `chromium` and `chromium-driver` ([`crate::chromium`]).

use std::path::PathBuf;

use fantoccini::{Client, Locator};
use klarna_demo::{ServeOptions, start_shop};
use klarna_payments::{PaymentId, StageKind, StoreKey};

use crate::chromium::{Browser, PATIENCE, click, text};

/// Waits until Klarna's window (the stand-in's dialog) is open for the shopper.
async fn klarna_window(c: &Client) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(
            "#klarna-sim-modal[role='dialog'][aria-modal='true']",
        ))
        .await
        .expect("Klarna's window opens");
}

/// The shopper types an e-mail address into Klarna's window (the shop sends none) and pays.
async fn shopper_pays(c: &Client) {
    let email = c
        .find(Locator::Id("klarna-sim-email"))
        .await
        .expect("the e-mail field");
    email.clear().await.expect("clear");
    email.send_keys("shopper@example.com").await.expect("type");
    click(c, "klarna-sim-pay").await;
}

/// Waits until the page's error line (in the page from the start, hidden) shows `needle`.
async fn page_error(c: &Client, needle: &str) -> String {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(&format!(
            "//p[@id='klarna-error' and not(@hidden) and contains(., \"{needle}\")]"
        )))
        .await
        .unwrap_or_else(|e| panic!("the page's error names {needle:?}: {e}"))
        .text()
        .await
        .expect("text")
}

/// Waits until Klarna's widget (here the simulator's stand-in) is loaded and ready.
async fn widget_ready(c: &Client) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='klarna-status' and text()='Klarna is ready']",
        ))
        .await
        .expect("Klarna's widget loads");
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("docs/screenshots");
    std::fs::write(dir.join(name), png).expect("write the screenshot");
}

/// Runs Klarna's documented calls against the stand-in on a page of the simulator's origin,
/// loaded the way Klarna's loader is (`async`, then `window.klarnaAsyncCallback`), and returns
/// what each call threw and handed its callback.
const STAND_IN_CONTRACT: &str = r#"
var sim = arguments[0], token = arguments[1], cart = arguments[2], done = arguments[arguments.length - 1];
var out = {};
window.KLARNA_SIM_HEADLESS = true;
function attempt(name, call) {
  var got = null;
  try { call(function (r) { got = r; }); out[name] = { thrown: null, result: got }; }
  catch (e) { out[name] = { thrown: e.name, result: got }; }
}
document.body.innerHTML = '<div id="c"></div>';
window.klarnaAsyncCallback = function () {
  out.ready = typeof Klarna.Payments.authorize === 'function';
  attempt('authorize_before_init', function (cb) { Klarna.Payments.authorize({ payment_method_category: 'klarna' }, {}, cb); });
  Klarna.Payments.init({ client_token: token });
  attempt('authorize_before_load', function (cb) { Klarna.Payments.authorize({ payment_method_category: 'klarna' }, {}, cb); });
  attempt('load_without_category', function (cb) { Klarna.Payments.load({ container: '#c' }, {}, cb); });
  attempt('load_unknown_category', function (cb) { Klarna.Payments.load({ container: '#c', payment_method_category: 'card' }, {}, cb); });
  attempt('load_pay_now', function (cb) { Klarna.Payments.load({ container: '#c', payment_method_category: 'pay_now' }, {}, cb); });
  attempt('authorize_unloaded_category', function (cb) { Klarna.Payments.authorize({ payment_method_category: 'klarna' }, {}, cb); });
  window.KLARNA_SIM_INVALID_FIELDS = ['billing_address.email'];
  Klarna.Payments.authorize({ payment_method_category: 'pay_now', auto_finalize: false }, {}, function (fixable) {
    out.fixable = fixable;
    window.KLARNA_SIM_INVALID_FIELDS = [];
    Klarna.Payments.authorize({ payment_method_category: 'pay_now', auto_finalize: false }, cart, function (a) {
      out.authorize = a;
      Klarna.Payments.finalize({ payment_method_category: 'pay_now' }, {}, function (f) { out.finalize = f; done(out); });
    });
  });
};
var s = document.createElement('script');
s.src = sim + '/sim/js/klarna-payments.js';
s.async = true;
document.head.appendChild(s);
"#;

/// A cart of one line at 25 % VAT: what `authorize(…, data)` sends in the contract check.
fn one_line_cart() -> serde_json::Value {
    serde_json::json!({
        "order_amount": 50_000, "order_tax_amount": 10_000,
        "order_lines": [{"name": "Trail running shoe", "quantity": 1, "unit_price": 50_000,
                         "tax_rate": 2500, "total_amount": 50_000, "total_tax_amount": 10_000}]
    })
}

/// The stand-in meets Klarna's SDK contract (API.md §5, §11.10) in a real browser.
async fn the_stand_in_behaves_like_klarnas_sdk(c: &Client, sim: &str) {
    let http = reqwest::Client::new();
    let session: serde_json::Value = http
        .post(format!("{sim}/payments/v1/sessions"))
        .basic_auth("sim_user", Some("sim_password"))
        .json(&serde_json::json!({
            "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
            "order_amount": 10_000, "order_tax_amount": 2000,
            "order_lines": [{"name": "Socks", "quantity": 1, "unit_price": 10_000,
                             "tax_rate": 2500, "total_amount": 10_000, "total_tax_amount": 2000}]
        }))
        .send()
        .await
        .expect("a session")
        .json()
        .await
        .expect("its JSON");
    let sid = session["session_id"].as_str().expect("session id");
    c.goto(&format!("{sim}/sim/clock"))
        .await
        .expect("a page on the simulator");
    let out = c
        .execute_async(
            STAND_IN_CONTRACT,
            vec![
                serde_json::json!(sim),
                session["client_token"].clone(),
                one_line_cart(),
            ],
        )
        .await
        .expect("the contract script runs");
    assert_eq!(
        out["ready"], true,
        "klarnaAsyncCallback ran with the SDK ready: {out}"
    );
    for (call, error, callback) in [
        (
            "authorize_before_init",
            "ApplicationNotInitializedError",
            serde_json::json!({"approved": false, "show_form": false}),
        ),
        (
            "authorize_before_load",
            "ApplicationNotLoadedError",
            serde_json::json!({"approved": false, "show_form": false}),
        ),
        (
            "load_without_category",
            "PaymentMethodCategoryNotProvidedError",
            serde_json::json!({"show_form": false}),
        ),
        (
            "load_unknown_category",
            "PaymentMethodCategoryNotSupportedError",
            serde_json::json!({"show_form": false}),
        ),
        (
            "authorize_unloaded_category",
            "ApplicationNotLoadedError",
            serde_json::json!({"approved": false, "show_form": false}),
        ),
    ] {
        assert_eq!(out[call]["thrown"], error, "{call}: {out}");
        let result = &out[call]["result"];
        for (k, v) in callback.as_object().expect("object") {
            assert_eq!(&result[k], v, "{call}'s callback: {out}");
        }
        assert_eq!(result["error"]["name"], error, "{call}'s callback: {out}");
    }
    assert_eq!(
        out["load_pay_now"]["thrown"],
        serde_json::Value::Null,
        "{out}"
    );
    assert_eq!(out["load_pay_now"]["result"]["show_form"], true, "{out}");
    assert_eq!(
        out["fixable"],
        serde_json::json!({"approved": false, "show_form": true,
                           "error": {"invalid_fields": ["billing_address.email"]}}),
        "{out}"
    );
    assert_eq!(
        out["authorize"],
        serde_json::json!({"approved": true, "show_form": true, "finalize_required": true}),
        "pay now with auto_finalize false waits for finalize, without a token: {out}"
    );
    assert_eq!(out["finalize"]["approved"], true, "{out}");
    let token = out["finalize"]["authorization_token"]
        .as_str()
        .expect("finalize answers the token");
    // The cart passed to authorize is now the session's, and the token is the session's.
    let read: serde_json::Value = http
        .get(format!("{sim}/payments/v1/sessions/{sid}"))
        .basic_auth("sim_user", Some("sim_password"))
        .send()
        .await
        .expect("read the session")
        .json()
        .await
        .expect("its JSON");
    assert_eq!(read["order_amount"], 50_000, "{read}");
    assert_eq!(
        read["order_lines"],
        one_line_cart()["order_lines"],
        "{read}"
    );
    assert_eq!(read["authorization_token"], token, "{read}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_subscribes_and_the_merchant_captures_in_a_real_browser() {
    let Some(browser) = Browser::start("the browser test").await else {
        return;
    };
    let c = &browser.c;
    let tmp = tempfile::tempdir().expect("temp dir");
    let shop = start_shop(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("address"),
        store_url: Some(format!(
            "sqlite://{}?mode=rwc",
            tmp.path().join("shop.db").display()
        )),
        // A named file needs an explicit key (given here, not through the process's env).
        store_key: Some(StoreKey::generate()),
        ..ServeOptions::default()
    })
    .await
    .expect("the shop starts");

    // 0. The stand-in for Klarna's SDK, on its own.
    let sim = shop
        .simulator_url()
        .expect("the shop runs on the simulator");
    the_stand_in_behaves_like_klarnas_sdk(c, sim).await;

    // 1. One-time purchase: one shoe and two pairs of socks. Klarna's window (the stand-in's
    //    dialog) shows the purchase; Klarna declines first (nothing lost: the same checkout
    //    still works), then the shopper closes the window, then picks "pay in parts" and pays.
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    let socks = c.find(Locator::Id("qty-socks")).await.expect("socks");
    socks.clear().await.expect("clear");
    socks.send_keys("2").await.expect("type");
    click(c, "checkout-button").await;
    widget_ready(c).await;
    assert_eq!(text(c, "cart-total").await, "1197.00 SEK");
    let one_time = PaymentId::new(text(c, "payment-id").await).expect("payment id");
    click(c, "authorize-button").await;
    klarna_window(c).await;
    assert_eq!(text(c, "klarna-sim-total").await, "1197.00 SEK");
    let lines = c
        .find_all(Locator::Css("#klarna-sim-modal .klarna-sim-line"))
        .await
        .expect("lines");
    assert_eq!(lines.len(), 2, "the shoe and the socks");
    screenshot(c, "checkout.png").await;
    click(c, "klarna-sim-decline").await;
    let declined = page_error(c, "declined").await;
    assert!(declined.contains("Nothing was charged"), "{declined}");
    assert_eq!(
        shop.payments()
            .payment(&one_time)
            .await
            .expect("stored")
            .kind(),
        StageKind::Open,
        "a declined shopper leaves the payment open"
    );
    // Klarna's `show_form: false` removes the widget; the shopper comes back to the same
    // checkout (the payment is still open), closes Klarna's window once, then pays.
    c.goto(&format!("{}/checkout/{one_time}", shop.url()))
        .await
        .expect("back to the checkout");
    widget_ready(c).await;
    click(c, "authorize-button").await;
    klarna_window(c).await;
    click(c, "klarna-sim-close").await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='klarna-status' and contains(., 'You closed Klarna')]",
        ))
        .await
        .expect("closing Klarna's window is not a decline");
    click(c, "authorize-button").await;
    klarna_window(c).await;
    click(c, "klarna-sim-category-pay_over_time").await;
    click(c, "klarna-sim-plan-12").await;
    shopper_pays(c).await;
    assert_eq!(text(c, "payment-stage").await, "ordered");
    let order_id = text(c, "order-id").await;
    assert!(!order_id.is_empty());

    // 1b. Pay now, a multi-step checkout: the shopper picks the pay-now category on the page,
    //     types an e-mail Klarna's window refuses and fixes it; Klarna answers
    //     `finalize_required`, so there is no token until the shopper reviews the order and
    //     confirms (the page calls `finalize()`, Klarna's window asks once more).
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    click(c, "checkout-button").await;
    widget_ready(c).await;
    let pay_now = PaymentId::new(text(c, "payment-id").await).expect("payment id");
    click(c, "category-pay_now").await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(
            "#klarna-payments-container [data-payment-method-category='pay_now']",
        ))
        .await
        .expect("the widget is loaded for pay now");
    widget_ready(c).await;
    click(c, "authorize-button").await;
    klarna_window(c).await;
    let email = c
        .find(Locator::Id("klarna-sim-email"))
        .await
        .expect("the e-mail field");
    email.clear().await.expect("clear");
    email.send_keys("not-an-address").await.expect("type");
    click(c, "klarna-sim-pay").await;
    let refused = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='klarna-sim-email-error' and not(@hidden)]",
        ))
        .await
        .expect("the form error is shown at the field")
        .text()
        .await
        .expect("text");
    assert!(!refused.is_empty());
    assert_eq!(
        email.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    email.clear().await.expect("clear");
    email.send_keys("shopper@example.com").await.expect("type");
    click(c, "klarna-sim-pay").await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//div[@id='klarna-review' and not(@hidden)]",
        ))
        .await
        .expect("Klarna asks for finalize: the review step shows");
    assert_eq!(
        shop.payments()
            .payment(&pay_now)
            .await
            .expect("stored")
            .kind(),
        StageKind::Open,
        "no authorization token before finalize"
    );
    click(c, "finalize-button").await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#klarna-sim-modal[data-mode='confirm']"))
        .await
        .expect("Klarna's window asks to confirm");
    click(c, "klarna-sim-confirm").await;
    assert_eq!(text(c, "payment-stage").await, "ordered");

    // 1c. A fixable decline: Klarna refuses a field the page sent (here the billing address
    //     the stand-in steers with its automation global), the page names it, the shopper
    //     tries again and pays.
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    click(c, "checkout-button").await;
    widget_ready(c).await;
    let fixable = PaymentId::new(text(c, "payment-id").await).expect("payment id");
    c.execute(
        "window.KLARNA_SIM_INVALID_FIELDS = ['billing_address.postal_code'];",
        vec![],
    )
    .await
    .expect("steer the stand-in");
    click(c, "authorize-button").await;
    let named = page_error(c, "billing_address.postal_code").await;
    assert!(named.contains("try again"), "{named}");
    c.execute("delete window.KLARNA_SIM_INVALID_FIELDS;", vec![])
        .await
        .expect("the shopper fixed it");
    click(c, "authorize-button").await;
    klarna_window(c).await;
    shopper_pays(c).await;
    assert_eq!(text(c, "payment-stage").await, "ordered");
    assert_eq!(
        shop.payments()
            .payment(&fixable)
            .await
            .expect("stored")
            .kind(),
        StageKind::Ordered
    );

    // 2. Subscription: tokenize, the first month charged at once, then "charge again".
    c.goto(&format!("{}/", shop.url())).await.expect("the shop");
    click(c, "subscribe-button").await;
    widget_ready(c).await;
    let subscription = PaymentId::new(text(c, "payment-id").await).expect("payment id");
    click(c, "authorize-button").await;
    klarna_window(c).await;
    shopper_pays(c).await;
    assert_eq!(text(c, "payment-stage").await, "tokenized");
    let first = c
        .find_all(Locator::Css("tr.charge"))
        .await
        .expect("charges");
    assert_eq!(first.len(), 1, "the first month is charged");
    click(c, "charge-again-button").await;
    let charged = text(c, "charge-result").await;
    assert!(charged.contains("-period-2"), "{charged}");
    let charges = c
        .find_all(Locator::Css("tr.charge"))
        .await
        .expect("charges");
    assert_eq!(charges.len(), 2, "two charges after charging again");

    // 3. Admin: the page needs the operator's login (a wrong token is refused), then capture
    //    the one-time order. Every form carries the CSRF token the shop set in a cookie.
    c.goto(&format!("{}/admin", shop.url()))
        .await
        .expect("admin");
    let login = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("admin-token"))
        .await
        .expect("the admin redirects to its login");
    assert!(
        c.current_url().await.expect("url").path() == "/admin/login",
        "redirected to the login"
    );
    login.send_keys("not-the-token").await.expect("type");
    click(c, "login-button").await;
    let refused = text(c, "error").await;
    assert!(refused.contains("not the operator token"), "{refused}");
    c.find(Locator::Id("admin-token"))
        .await
        .expect("the login again")
        .send_keys(shop.operator_token())
        .await
        .expect("type");
    click(c, "login-button").await;
    click(c, &format!("capture-{one_time}")).await;
    let message = text(c, "message").await;
    assert!(message.contains("Captured 1197.00 SEK"), "{message}");
    let status = c
        .find(Locator::Css(&format!("#payment-{one_time} .order-status")))
        .await
        .expect("the order's row")
        .text()
        .await
        .expect("status");
    assert_eq!(status, "CAPTURED");
    screenshot(c, "admin.png").await;

    // 3b. A form posted without its CSRF token is refused and changes nothing: the refund
    //     form of the captured order, its hidden token removed.
    c.execute(
        &format!(
            "var f=document.getElementById('refund-{one_time}').form;\
             f.querySelector('input[name=csrf]').remove();f.submit();"
        ),
        vec![],
    )
    .await
    .expect("post the form without its token");
    let refused = text(c, "error").await;
    assert!(refused.contains("CSRF"), "{refused}");
    c.clone().close().await.expect("close the browser");

    // 4. The store agrees with what the pages showed.
    let p = shop
        .payments()
        .payment(&one_time)
        .await
        .expect("one-time payment");
    assert_eq!(p.kind(), StageKind::Ordered);
    let order = p.order_id().expect("an order").clone();
    assert_eq!(order.as_str(), order_id);
    let managed = shop.payments().order(&order).await.expect("managed order");
    assert_eq!(managed.captured(), 119_700);
    assert_eq!(
        managed.refunded(),
        0,
        "the CSRF-less refund changed nothing"
    );
    assert_eq!(managed.order_amount(), 119_700);

    let sub = shop
        .payments()
        .payment(&subscription)
        .await
        .expect("subscription");
    assert_eq!(sub.kind(), StageKind::Tokenized);
    let mut orders = Vec::new();
    for n in 1..=2 {
        let id = PaymentId::new(format!("{subscription}-period-{n}")).expect("id");
        let charge = shop.payments().payment(&id).await.expect("charge stored");
        assert_eq!(charge.kind(), StageKind::Ordered, "charge {n}");
        assert_eq!(charge.cart().total().minor(), 19_900);
        orders.push(charge.order_id().expect("order").clone());
    }
    assert_ne!(orders[0], orders[1], "two charges, two orders");
    let paid_now = shop
        .payments()
        .payment(&pay_now)
        .await
        .expect("pay-now payment");
    assert_eq!(paid_now.kind(), StageKind::Ordered);
    let paid_now_order = shop
        .payments()
        .order(paid_now.order_id().expect("an order"))
        .await
        .expect("managed order");
    assert_eq!(
        paid_now_order.order_amount(),
        paid_now.cart().total().minor()
    );
    let all = shop.payments().payments(100).await.expect("list");
    assert_eq!(
        all.len(),
        6,
        "three purchases, one subscription, two charges"
    );
    shop.shutdown().await;
}
