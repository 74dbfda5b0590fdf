//! A one-time purchase end to end, offline: session → the shopper authorizes → order →
//! capture → partial refund, against the in-process simulator with a SQLite store.
//!
//! `cargo run -p klarna-payments --example one_time`

use klarna_payments::{
    Amount, AuthorizationToken, Cart, Intent, KlarnaBuilder, Market, Money, OrderLine, Purchase,
    StoreKey,
};
use klarna_simulator::{ShopperDecision, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Klarna, locally. In production: `KlarnaBuilder::new().from_env()?` instead of the
    // simulator's URL and credentials.
    let sim = Simulator::start().await?;
    let klarna = KlarnaBuilder::new()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await?;

    // 1. Initiate: a validated purchase (Klarna's arithmetic is checked before any call).
    let market = Market::parse("SE", "SEK", "sv-SE")?;
    let cart = Cart::new(
        market,
        vec![
            OrderLine::builder("Trail shoe", 1, 89_900)
                .tax_rate(2_500)
                .build()?,
            OrderLine::builder("Wool socks", 2, 14_900)
                .tax_rate(2_500)
                .build()?,
        ],
    )?;
    let checkout = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart)?)
        .await?;
    println!(
        "session {} for payment {}",
        checkout.session_id, checkout.payment_id
    );

    // 2. Check out: in a shop the browser runs Klarna.Payments.authorize(); the simulator's
    //    shopper step stands in for it and hands back the authorization_token.
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;

    // 3. Create the order.
    let completed = klarna.complete(&checkout.payment_id, token).await?;
    let order = completed.order().ok_or("no order")?.order_id().clone();
    let paid = klarna.payment(&checkout.payment_id).await?;
    println!(
        "payment is {}, Klarna order {order}, {}",
        paid.kind(),
        paid.cart().total()
    );

    // After the order: ship and capture, then refund one pair of socks.
    let captured = klarna
        .capture(&order, Amount::new(paid.cart().total().minor())?)
        .await?;
    let refunded = klarna.refund(&order, Amount::new(14_900)?).await?.order;
    let money = |minor| Money::new(minor, refunded.currency());
    println!(
        "order {}: captured {} (capture {}), refunded {}",
        captured.order.status().as_str(),
        money(refunded.captured()),
        captured.capture_id,
        money(refunded.refunded())
    );
    sim.shutdown().await;
    Ok(())
}
