//! A one-time purchase end to end, offline: session → the shopper authorizes → order →
//! capture → partial refund, against the in-process simulator with a SQLite store.
//!
//! `cargo run -p klarna-payments --example one_time`

use klarna_payments::{
    AuthorizationToken, Cart, Intent, Klarna, Market, Money, OrderLine, StartCheckout, StoreKey,
};
use klarna_simulator::{ShopperDecision, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Klarna, locally. In production: `Klarna::builder().from_env()?` instead of the
    // simulator's URL and credentials.
    let sim = Simulator::start().await?;
    let klarna = Klarna::builder()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await?;

    // 1. Initiate: a validated cart (Klarna's arithmetic is checked before any call).
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
        .start_checkout(StartCheckout {
            intent: Intent::Buy,
            cart,
        })
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
    let paid = klarna
        .place_order(&checkout.payment_id, Some(token))
        .await?;
    let order = paid.order_id().ok_or("no order")?.clone();
    println!(
        "payment is {}, Klarna order {order}, {}",
        paid.kind(),
        paid.cart().total()
    );

    // After the order: ship and capture, then refund one pair of socks.
    let captured = klarna.capture(&order, paid.cart().order_amount()).await?;
    let refunded = klarna.refund(&order, 14_900).await?;
    let money = |minor| Money::new(minor, refunded.currency());
    println!(
        "order {}: captured {}, refunded {}",
        captured.status().as_str(),
        money(refunded.captured()),
        money(refunded.refunded())
    );
    sim.shutdown().await;
    Ok(())
}
