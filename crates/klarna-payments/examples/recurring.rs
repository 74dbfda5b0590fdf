//! A subscription end to end, offline: `tokenize` session → the shopper authorizes once →
//! customer token → two charges without the shopper → the token is cancelled.
//!
//! `cargo run -p klarna-payments --example recurring`

use klarna_payments::{
    AuthorizationToken, Cart, ChargeRequest, Intent, Interval, Klarna, Market, OrderLine,
    PaymentId, StartCheckout, StoreKey,
};
use klarna_simulator::{ShopperDecision, Simulator};

fn coffee() -> Result<Cart, Box<dyn std::error::Error>> {
    let line = OrderLine::builder("Coffee beans, monthly", 1, 19_900)
        .tax_rate(1_200)
        .subscription("Coffee beans", Interval::Month, 1)
        .build()?;
    Ok(Cart::new(Market::parse("SE", "SEK", "sv-SE")?, vec![line])?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    let klarna = Klarna::builder()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await?;

    // 1. A `tokenize` session: the cart needs a line with a subscription.
    let checkout = klarna
        .start_checkout(StartCheckout {
            intent: Intent::Tokenize,
            cart: coffee()?,
        })
        .await?;

    // 2. The shopper authorizes once (the simulator stands in for the browser).
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;

    // 3. The authorization becomes a customer token (stored encrypted; never print it).
    let tokenized = klarna
        .create_customer_token(&checkout.payment_id, Some(token))
        .await?;
    let customer_token = tokenized.customer_token().ok_or("no token")?.clone();
    println!("payment {} is {}", tokenized.id(), tokenized.kind());

    // Later, every month, without the shopper. Choose charge ids deterministically: calling
    // again with the same id returns the first charge instead of charging twice.
    for month in ["2026-12", "2027-01"] {
        let charge = klarna
            .charge_customer_token(ChargeRequest {
                payment_id: PaymentId::new(format!("{}-{month}", checkout.payment_id))?,
                token: customer_token.clone(),
                cart: coffee()?,
            })
            .await?;
        println!(
            "charge {}: {} ({})",
            charge.id(),
            charge.kind(),
            charge
                .order_id()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }

    // The shopper ends the subscription.
    let cancelled = klarna.cancel_customer_token(&customer_token).await?;
    println!("token is now {}", cancelled.status().as_str());
    sim.shutdown().await;
    Ok(())
}
