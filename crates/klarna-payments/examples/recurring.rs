//! A subscription end to end, offline: `tokenize` session → the shopper authorizes once →
//! customer token → two charges without the shopper → the token is cancelled.
//!
//! `cargo run -p klarna-payments --example recurring`

use klarna_payments::{
    AuthorizationToken, Cart, ChargeRequest, Completed, Intent, Interval, KlarnaBuilder, Market,
    OrderLine, PaymentId, Purchase, StoreKey,
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
    let klarna = KlarnaBuilder::new()
        .base_url(sim.base_url())
        .credentials(sim.username(), sim.password())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await?;

    // 1. A `tokenize` session: the purchase needs a line with a subscription.
    let checkout = klarna
        .start_checkout(Purchase::new(Intent::Tokenize, coffee()?)?)
        .await?;

    // 2. The shopper authorizes once (the simulator stands in for the browser).
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;

    // 3. The authorization becomes a customer token (stored encrypted; never print it).
    let Completed::Token(customer_token) = klarna.complete(&checkout.payment_id, token).await?
    else {
        return Err("no customer token".into());
    };
    let tokenized = klarna.payment(&checkout.payment_id).await?;
    println!("payment {} is {}", tokenized.id(), tokenized.kind());

    // Later, every month, without the shopper. Choose charge ids deterministically: calling
    // again with the same id returns the first charge instead of charging twice.
    for month in ["2026-12", "2027-01"] {
        let payment_id = PaymentId::new(format!("{}-{month}", checkout.payment_id))?;
        let order = klarna
            .charge_customer_token(ChargeRequest {
                merchant: Default::default(),
                payment_id: payment_id.clone(),
                token: customer_token.clone(),
                cart: coffee()?,
            })
            .await?;
        println!(
            "charge {payment_id}: Klarna order {} ({})",
            order.order_id(),
            order.fraud_status().as_str()
        );
    }

    // The shopper ends the subscription.
    let cancelled = klarna.cancel_customer_token(&customer_token).await?;
    println!("token is now {}", cancelled.status().as_str());
    sim.shutdown().await;
    Ok(())
}
