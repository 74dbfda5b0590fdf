//! The simulator's Hosted Payment Page in headless Chromium, driven through `KlarnaClient`: a
//! KP session and an HPP session (`PLACE_ORDER`) whose success and cancel URLs point to a local
//! shop; the browser opens `redirect_url`, sees the purchase, clicks Pay and lands on the success
//! URL with `{{session_id}}` and `{{authorization_token}}` filled, after which the HPP read says
//! `COMPLETED` with the one order the simulator holds; a second session is cancelled and lands on
//! the cancel URL, `CANCELLED`, no second order.
//!
//! Needs Debian's `chromium` and `chromium-driver` ([`crate::chromium`]).

use fantoccini::{Client, Locator};
use klarna_api::hpp::{MerchantUrls, Options, PlaceOrderMode, SessionCreationRequest};
use klarna_gateway_http::{Credentials, KlarnaClient};
use klarna_simulator::Simulator;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::chromium::{Browser, PATIENCE, click, text};

/// 2 × 89 900 − 10 000 and a delivery, SEK, with the shop's order number.
fn session_body() -> Value {
    json!({
        "intent": "buy",
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 174_700, "order_tax_amount": 34_940,
        "merchant_reference1": "hpp-browser-1",
        "order_lines": [
            {"type": "physical", "reference": "SHOE-42", "name": "Trail running shoe", "quantity": 2,
             "unit_price": 89_900, "tax_rate": 2500, "total_amount": 169_800,
             "total_discount_amount": 10_000, "total_tax_amount": 33_960},
            {"type": "shipping_fee", "name": "Standard delivery", "quantity": 1, "unit_price": 4900,
             "tax_rate": 2500, "total_amount": 4900, "total_discount_amount": 0,
             "total_tax_amount": 980}
        ]
    })
}

/// A KP session and an HPP session on it (`PLACE_ORDER`, success and cancel URLs on `shop`):
/// (HPP id, redirect URL).
async fn hpp_session(client: &KlarnaClient, shop: &str) -> (String, String) {
    let kp = client
        .create_session(
            &serde_json::from_value(session_body()).expect("a session body"),
            None,
        )
        .await
        .expect("P1")
        .body
        .session_id;
    let request = SessionCreationRequest {
        payment_session_url: client
            .payment_session_url(&kp)
            .expect("the KP session's URL"),
        merchant_urls: Some(MerchantUrls {
            success: Some(format!(
                "{shop}/ok?hpp={{{{session_id}}}}&token={{{{authorization_token}}}}"
            )),
            cancel: Some(format!("{shop}/cancel?hpp={{{{session_id}}}}")),
            ..MerchantUrls::default()
        }),
        options: Some(Options {
            place_order_mode: Some(PlaceOrderMode::PlaceOrder),
            page_title: Some("Complete your purchase".to_owned()),
            ..Options::default()
        }),
        profile_id: None,
    };
    let created = client
        .create_hpp_session(&request, None)
        .await
        .expect("H1")
        .body;
    (
        created.session_id,
        created.redirect_url.expect("a redirect URL"),
    )
}

/// Opens the hosted page, checks what it shows, clicks `button` and waits for the shop's page.
async fn pay_or_cancel(c: &Client, redirect_url: &str, button: &str) -> String {
    c.goto(redirect_url).await.expect("the hosted page");
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(button))
        .await
        .unwrap_or_else(|e| panic!("#{button}: {e}"));
    assert_eq!(text(c, "hpp-title").await, "Complete your purchase");
    assert_eq!(text(c, "hpp-total").await, "1747.00 SEK");
    assert_eq!(text(c, "hpp-status").await, "Status: IN_PROGRESS");
    for id in ["hpp-pay", "hpp-cancel", "hpp-back", "hpp-decline"] {
        c.find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id} on the page: {e}"));
    }
    click(c, button).await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("landed"))
        .await
        .expect("the browser lands on the shop");
    c.current_url().await.expect("the URL").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_page_pays_and_cancels_in_a_browser() {
    let Some(browser) = Browser::start("the hosted page's browser test").await else {
        return;
    };
    let c = &browser.c;
    let sim = Simulator::start().await.expect("the simulator starts");
    let client = KlarnaClient::builder(Credentials::new(sim.username(), sim.password()))
        .base_url(sim.base_url())
        .build()
        .expect("a client");
    // The shop: two pages the browser lands on.
    let shop = MockServer::start().await;
    for (p, title) in [("/ok", "Thank you"), ("/cancel", "Cancelled")] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                format!("<!doctype html><title>{title}</title><p id=\"landed\">{title}</p>"),
                "text/html; charset=utf-8",
            ))
            .mount(&shop)
            .await;
    }

    // 1. Pay: the success URL with both placeholders filled, COMPLETED, exactly one order.
    let (hpp, redirect) = hpp_session(&client, &shop.uri()).await;
    let landed = pay_or_cancel(c, &redirect, "hpp-pay").await;
    let read = client.read_hpp_session(&hpp).await.expect("H2").body;
    assert_eq!(
        read.status,
        Some(klarna_api::hpp::HppStatus::Completed),
        "{read:?}"
    );
    let token = read
        .authorization_token
        .clone()
        .expect("a token in the read");
    assert_eq!(landed, format!("{}/ok?hpp={hpp}&token={token}", shop.uri()));
    let orders = sim.orders();
    assert_eq!(orders.len(), 1, "exactly one order");
    assert_eq!(read.order_id.as_deref(), Some(orders[0].order_id.as_str()));
    assert_eq!(
        orders[0].merchant_reference1.as_deref(),
        Some("hpp-browser-1")
    );
    assert_eq!(orders[0].order_amount, 174_700);
    // The page of a completed session is closed: no second payment.
    c.goto(&redirect).await.expect("the page again");
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("hpp-closed"))
        .await
        .expect("the page says it is closed");
    assert!(
        c.find(Locator::Id("hpp-pay")).await.is_err(),
        "no Pay button"
    );

    // 2. Cancel: the cancel URL, CANCELLED, still one order.
    let (hpp, redirect) = hpp_session(&client, &shop.uri()).await;
    let landed = pay_or_cancel(c, &redirect, "hpp-cancel").await;
    assert_eq!(landed, format!("{}/cancel?hpp={hpp}", shop.uri()));
    let read = client.read_hpp_session(&hpp).await.expect("H2").body;
    assert_eq!(read.status, Some(klarna_api::hpp::HppStatus::Cancelled));
    assert!(read.authorization_token.is_none() && read.order_id.is_none());
    assert_eq!(sim.orders().len(), 1, "no order for a cancelled session");

    c.clone().close().await.expect("close the browser");
    sim.shutdown().await;
}
