//! Runs the simulator standalone until interrupted: `cargo run -p klarna-simulator --example serve
//! [ADDR]` (default `127.0.0.1:0`). Prints the base URL on the first line of stdout, as
//! `klarna sim` does; credentials come from `KLARNA_USERNAME` / `KLARNA_PASSWORD` when set.

use std::net::SocketAddr;

use klarna_simulator::SimulatorConfig;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut config = SimulatorConfig::default();
    if let (Ok(u), Ok(p)) = (
        std::env::var("KLARNA_USERNAME"),
        std::env::var("KLARNA_PASSWORD"),
    ) {
        config.username = u;
        config.password = p;
    }
    klarna_simulator::run(addr, config, |url| println!("{url}")).await
}
