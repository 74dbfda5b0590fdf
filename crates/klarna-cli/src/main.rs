//! `klarna`: the command line of the Klarna toolkit (contract: `shared/CLI.md`).
//!
//! * one command per operation of Klarna's API (`klarna sessions create --body FILE`, …,
//!   `klarna orders add-shipping-info ORDER_ID --body FILE`): bodies are parsed into the typed
//!   wire models of `klarna-api` and validated locally (`klarna_cli::validate`) before
//!   anything is sent;
//! * `klarna settlements …`: the Settlements API's reads and the reconciliation report of the
//!   store against Klarna's payouts;
//! * `klarna sim`: the local Klarna simulator;
//! * `klarna demo`: the end-to-end demo (`--serve`: the demo shop).
//!
//! Exit codes: `0` success (the response as JSON on stdout), `1` Klarna answered with an error
//! (one JSON object on stderr), `2` bad usage or invalid input (nothing sent), `3` no answer
//! could be had (the message says whether the request may have reached Klarna). On `1` and `3`
//! after a mutating call, stderr names the `Klarna-Idempotency-Key` used (`idempotency_key` in
//! the JSON object on `1`, a line on `3`), to repeat the same operation with
//! `--idempotency-key`.
//!
//! Authorization and customer tokens may be given as `-` (read from standard input) or `@FILE`
//! (read from a file), so they stay out of `ps` and shell history. A `--base-url` with plain
//! `http://` is accepted for loopback hosts only (exit 2 otherwise, nothing sent).

mod api;
mod demo;
mod hpp;
mod payments;
mod settlements;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: bad usage, missing credentials or invalid input; nothing was sent.
const EXIT_USAGE: u8 = 2;

/// Command line of Klarna Payments: every API operation, a local simulator, a demo.
#[derive(Debug, Parser)]
#[command(
    name = "klarna",
    version,
    about = "Klarna Payments from the command line: every API operation, a local simulator, a demo.",
    after_help = "Credentials for API commands come from KLARNA_USERNAME and KLARNA_PASSWORD.\n\
                  Tokens: give an authorization or customer token as `-` (standard input) or \
                  `@FILE` to keep it out of `ps` and shell history.\n\
                  Exit codes: 0 success, 1 Klarna refused (JSON error on stderr), 2 invalid usage or \
                  input (nothing sent), 3 no answer (says whether the request may have reached Klarna). \
                  On 1 and 3 after a mutating call, stderr names the idempotency key used: repeat the \
                  same operation with --idempotency-key KEY."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options that come before the command group.
#[derive(Debug, clap::Args)]
pub(crate) struct Global {
    /// Send to this base URL instead of the region's (the simulator, a proxy); plain http only
    /// to a loopback host (127.0.0.0/8, ::1, localhost).
    #[arg(long, env = "KLARNA_BASE_URL", value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Region of the merchant account.
    #[arg(long, env = "KLARNA_REGION", value_enum, default_value_t = RegionArg::Eu)]
    pub(crate) region: RegionArg,
    /// Use Klarna's production hosts (default: the playground).
    #[arg(long, env = "KLARNA_PRODUCTION", value_parser = clap::builder::FalseyValueParser::new())]
    pub(crate) production: bool,
    /// For mutating commands: send this Klarna-Idempotency-Key instead of a fresh one (to
    /// repeat an operation whose outcome is unknown, give the key its failure named).
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Log each attempt to stderr (never secrets, never bodies); RUST_LOG overrides the filter.
    #[arg(short, long)]
    pub(crate) verbose: bool,
}

/// Region of the merchant account (API.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RegionArg {
    /// Europe.
    Eu,
    /// North America.
    Na,
    /// Oceania.
    Oc,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Payment sessions (P1–P3).
    #[command(subcommand)]
    Sessions(api::Sessions),
    /// Authorizations from the shopper's checkout (P4–P6).
    #[command(subcommand)]
    Authorizations(api::Authorizations),
    /// Customer tokens for recurring charges (T1–T3).
    #[command(subcommand)]
    CustomerTokens(api::CustomerTokens),
    /// Order Management (O1–O13).
    #[command(subcommand)]
    Orders(api::Orders),
    /// Hosted Payment Page sessions (H1–H4): pay by link, telesales, kiosks.
    #[command(subcommand)]
    Hpp(hpp::Hpp),
    /// The operator's commands over the payment store (KLARNA_STORE_URL): list, show,
    /// reconcile, resolve a payment in review.
    #[command(subcommand)]
    Payments(payments::Payments),
    /// Settlements API reads (payouts, payout, summary, transactions, report) and the
    /// reconciliation report of the store against Klarna's payouts.
    #[command(subcommand)]
    Settlements(settlements::Settlements),
    /// Run the local Klarna simulator; prints its base URL on the first line of stdout.
    Sim(sim::SimArgs),
    /// The end-to-end demo: one-time, recurring, buy-and-tokenize and re-authorization, through
    /// the real service and HTTP gateway (in-process simulator and a SQLite file by default);
    /// `--serve` runs the demo shop instead.
    Demo(demo::DemoArgs),
}

fn init_tracing(verbose: bool) {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    if !verbose && !from_env {
        return;
    }
    // Only our crates by default: the HTTP stack's own debug output is not vetted for secrets.
    let filter = if from_env {
        tracing_subscriber::EnvFilter::from_default_env()
    } else {
        tracing_subscriber::EnvFilter::new("klarna_gateway_http=debug,klarna=debug")
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    match cli.command {
        Command::Sessions(c) => api::run(&cli.global, api::ApiCommand::Sessions(c)).await,
        Command::Authorizations(c) => {
            api::run(&cli.global, api::ApiCommand::Authorizations(c)).await
        }
        Command::CustomerTokens(c) => {
            api::run(&cli.global, api::ApiCommand::CustomerTokens(c)).await
        }
        Command::Orders(c) => api::run(&cli.global, api::ApiCommand::Orders(c)).await,
        Command::Hpp(c) => hpp::run(&cli.global, c).await,
        Command::Payments(c) => payments::run(&cli.global, c).await,
        Command::Settlements(c) => settlements::run(&cli.global, c).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}
