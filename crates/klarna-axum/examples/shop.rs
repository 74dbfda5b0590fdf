//! A whole shop in one screen: an existing axum app mounts `klarna-axum` under `/klarna`, on the in-process simulator (`cargo run -p klarna-axum --example shop`).

use std::sync::Arc;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use klarna_axum::{ApiError, KlarnaRoutes, RoutesConfig};
use klarna_payments::{InMemoryStore, KlarnaBuilder, simulator::Simulator};

const PUBLIC: &str = "http://127.0.0.1:3000";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Real credentials: `KlarnaBuilder::new().from_env()?` instead of the simulator, and the
    // SDK from https://x.klarnacdn.net/kp/lib/v1/api.js.
    let sim = Simulator::start().await?;
    // Demo secrets; a shop loads both from its secret store, the same on every start.
    let config =
        RoutesConfig::new([42u8; 32], "example-callback-secret-0001")?.allowed_origins([PUBLIC])?;
    let klarna = KlarnaBuilder::new()
        .simulator(&sim)
        .store(Arc::new(InMemoryStore::new()))
        .merchant_urls(config.merchant_urls(&format!("{PUBLIC}/klarna")))
        .build()
        .await?;
    // The browser sends the cart: hold every line to the catalog (one shoe, 899 kr).
    let routes = KlarnaRoutes::new(Arc::new(klarna), config).cart_check(|cart| {
        match cart.lines().iter().position(|l| l.unit_price() != 89_900) {
            Some(i) => Err(ApiError::InvalidInput {
                field: format!("cart.order_lines[{i}].unit_price"),
                message: "is not the catalog's price".to_owned(),
            }),
            None => Ok(()),
        }
    });

    let sdk = format!("{}/sim/js/klarna-payments.js", sim.base_url());
    let app = Router::new()
        .route("/", get(move || page(sdk.clone())))
        .nest("/klarna", routes.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("shop: {PUBLIC}/");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The checkout page: start a payment, show Klarna's widget, complete on Buy. The page's
/// script is built in the browser from the answer of `POST /klarna/payments`; the server-side
/// `klarna_axum::js` helpers render the same calls into a page when the payment is started
/// on the server.
async fn page(sdk: String) -> Html<String> {
    let sdk = klarna_axum::js::literal(&sdk);
    Html(format!(
        r#"<!doctype html><meta charset="utf-8"><title>Shoe shop</title>
<h1>Trail shoe, 899 kr</h1><div id="klarna"></div>
<button id="buy" disabled>Buy with Klarna</button><pre id="out"></pre>
<script>
const s = document.createElement('script'); s.src = {sdk}; document.head.appendChild(s);
const cart = {{purchase_country: 'SE', purchase_currency: 'SEK', locale: 'sv-SE',
  order_lines: [{{name: 'Trail shoe', quantity: 1, unit_price: 89900, tax_rate: 2500}}]}};
let payment;
s.onload = async () => {{
  const r = await fetch('/klarna/payments', {{method: 'POST',
    headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{intent: 'buy', cart, merchant: {{order_number: 'SO-1'}}}})}});
  payment = await r.json();
  if (!r.ok) {{ document.getElementById('out').textContent = payment.message; return; }}
  Klarna.Payments.init({{client_token: payment.client_token}});
  Klarna.Payments.load({{container: '#klarna',
    payment_method_category: payment.payment_method_categories[0] || 'klarna'}}, {{}}, () => {{}});
  document.getElementById('buy').disabled = false;
}};
document.getElementById('buy').onclick = () => Klarna.Payments.authorize(
  {{payment_method_category: payment.payment_method_categories[0] || 'klarna'}}, {{}},
  async (res) => {{
    if (!res.approved) return;
    const r = await fetch(`/klarna/payments/${{payment.payment_id}}/complete`, {{method: 'POST',
      headers: {{'Content-Type': 'application/json', 'x-payment-secret': payment.payment_secret}},
      body: JSON.stringify({{authorization_token: res.authorization_token}})}});
    document.getElementById('out').textContent = JSON.stringify(await r.json(), null, 2);
  }});
</script>"#
    ))
}
