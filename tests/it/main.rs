//! One end-to-end test binary across the crates, a module per use case.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod browser;
mod browser_hpp;
mod browser_modal;
mod canary;
mod chaos;
mod chromium;
mod crash;
mod crosscheck;
mod demo;
mod exactly_once;
mod gateway;
mod links;
mod merchant_data;
mod order_management;
mod stopped;
mod strict;

/// The shopper approves `session` at the simulator: the authorization token it issues.
fn approve(
    sim: &klarna_simulator::Simulator,
    session: &klarna_domain::SessionId,
) -> klarna_domain::AuthorizationToken {
    let shopper = sim
        .authorize(
            session.as_str(),
            klarna_simulator::ShopperDecision::approve(),
        )
        .expect("the shopper approves");
    klarna_domain::AuthorizationToken::new(shopper.authorization_token.expect("a token"))
        .expect("a token")
}
