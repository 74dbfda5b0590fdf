//! Integration tests for the simulator, over HTTP with reqwest against `Simulator::start()`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a failing assertion is the point"
)]

mod callbacks;
mod common;
mod connections;
mod faults;
mod hpp;
mod idempotency;
mod js;
mod orders;
mod payments;
mod props;
mod replay;
mod settlements;
mod shopper;
mod tokens;
mod validation;
