//! `klarna demo`: the main job — the three steps of Klarna Payments end to end, or the demo shop with `--serve`.

use std::net::SocketAddr;
use std::process::ExitCode;

use klarna_demo::{DemoOptions, ServeOptions};

/// Arguments of `klarna demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Run against Klarna's playground with `KLARNA_USERNAME` / `KLARNA_PASSWORD` (and
    /// `KLARNA_REGION`) instead of the in-process simulator.
    #[arg(long)]
    playground: bool,
    /// Where payments are stored: `sqlite://file.db?mode=rwc`, `memory:`, `postgres://…`.
    /// Default: a SQLite file in a temporary directory. A file you name or PostgreSQL needs
    /// `KLARNA_STORE_KEY` (64 hex digits).
    #[arg(long, env = "KLARNA_STORE_URL")]
    store: Option<String>,
    /// Serve the demo shop (cart, checkout, subscription, admin) instead of running the scenarios.
    #[arg(long)]
    serve: bool,
    /// Address of the demo shop (with `--serve`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Public base URL of the shop for Klarna's callbacks (with `--serve`; default `http://ADDR`).
    /// The shop also answers to this URL's host (and only to it, the bound address and
    /// `localhost:PORT`).
    #[arg(long)]
    public_url: Option<String>,
    /// Open checkouts allowed per client address (with `--serve`); beyond it 429.
    #[arg(long, default_value_t = 20)]
    max_open_checkouts: usize,
}

/// Runs the demo; exit 0 only if every step landed where it should.
pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    if args.serve {
        let options = ServeOptions {
            playground: args.playground,
            store_url: args.store,
            // KLARNA_STORE_KEY from the environment: a key is no command-line argument.
            store_key: None,
            addr: args.addr,
            public_url: args.public_url,
            max_open_checkouts: args.max_open_checkouts,
        };
        return match klarna_demo::serve(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("klarna demo --serve: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match klarna_demo::run(DemoOptions {
        playground: args.playground,
        store_url: args.store,
        store_key: None,
    })
    .await
    {
        Ok(report) if report.all_landed() => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "klarna demo: {} of {} steps did not land where they should",
                report.failed(),
                report.steps.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("klarna demo: {e}");
            ExitCode::FAILURE
        }
    }
}
