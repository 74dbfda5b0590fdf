//! Klarna's own example request bodies (the `klarna-api` fixtures, checked there against the
//! §1.8 formulas) pass local validation, and a single broken field in each is named.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use klarna_api as api;
use klarna_cli::validate;

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/../klarna-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn klarnas_examples_are_valid() {
    let session: api::SessionCreate = fixture("create_session.request.json");
    assert_eq!(validate::session_create(&session), Ok(()));
    let order: api::CreateOrderRequest = fixture("create_order.request.json");
    assert_eq!(validate::create_order(&order), Ok(()));
    let token: api::CustomerTokenCreationRequest = fixture("customer_token.request.json");
    assert_eq!(validate::customer_token_creation(&token), Ok(()));
    let charge: api::CustomerTokenOrder = fixture("token_order.request.json");
    assert_eq!(validate::token_order(&charge), Ok(()));
}

#[test]
fn one_broken_field_is_named() {
    let mut session: api::SessionCreate = fixture("create_session.request.json");
    let last = session.order_lines.len() - 1;
    session.order_lines[last].total_tax_amount =
        session.order_lines[last].total_tax_amount.map(|t| t + 5);
    let err = validate::session_create(&session).unwrap_err();
    assert_eq!(err.field(), format!("order_lines[{last}].total_tax_amount"));

    let mut order: api::CreateOrderRequest = fixture("create_order.request.json");
    order.locale = Some("xx".into());
    assert_eq!(
        validate::create_order(&order).unwrap_err().field(),
        "locale"
    );

    let mut token: api::CustomerTokenCreationRequest = fixture("customer_token.request.json");
    token.purchase_country = "ZZ".into();
    assert_eq!(
        validate::customer_token_creation(&token)
            .unwrap_err()
            .field(),
        "purchase_country"
    );

    let mut charge: api::CustomerTokenOrder = fixture("token_order.request.json");
    charge.order_amount += 1;
    assert_eq!(
        validate::token_order(&charge).unwrap_err().field(),
        "order_amount"
    );
    let mut charge: api::CustomerTokenOrder = fixture("token_order.request.json");
    charge.merchant_data = Some("x".repeat(6001));
    assert_eq!(
        validate::token_order(&charge).unwrap_err().field(),
        "merchant_data"
    );
}

/// The P5 body the gateway sends for a US cart with a sales-tax line passes the same local
/// validation the CLI applies (moved here from klarna-gateway-http's `cart_goes_out_field_for_field`).
#[test]
fn the_gateways_wire_body_passes_local_validation() {
    use klarna_domain::{
        AuthorizationToken, Cart, Interval, LineKind, Market, OrderLine, PaymentId,
    };
    use klarna_ports::{MerchantUrls, PlaceOrder};
    let market = Market::parse("US", "USD", "en-US").unwrap();
    let plan = OrderLine::builder("Plan", 1, 1000)
        .kind(LineKind::Digital)
        .reference("SKU-1")
        .quantity_unit("pcs")
        .subscription("Plan", Interval::Month, 1)
        .build()
        .unwrap();
    let cart = Cart::new(market, vec![plan])
        .unwrap()
        .with_sales_tax(85)
        .unwrap();
    let order = klarna_gateway_http::gateway::order_body(&PlaceOrder {
        merchant: Default::default(),
        payment_id: PaymentId::new("pay_1").unwrap(),
        cart,
        authorization: AuthorizationToken::new("tok").unwrap(),
        urls: MerchantUrls {
            confirmation: Some("https://shop.example/done".into()),
            ..MerchantUrls::default()
        },
    });
    assert_eq!(validate::create_order(&order), Ok(()));
}
