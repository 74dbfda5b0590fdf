//! `klarna sim`: runs the simulator until Ctrl-C or SIGTERM, printing its base URL first.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use klarna_simulator::{ReplayPolicy, SimulatorConfig};

/// Arguments of `klarna sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Replay every mutating call by `Klarna-Idempotency-Key`, Payments API calls (P1–P6)
    /// included. Without it the simulator is pessimistic, as Klarna documents keys: only Order
    /// Management writes and token charges (T2) are replayed, and a repeated P5 finds its
    /// authorization consumed. A running simulator switches with
    /// `POST /sim/faults {"replay": "optimistic"|"pessimistic"}`.
    #[arg(long)]
    optimistic_replay: bool,
}

/// The simulator's configuration from the arguments and the environment: credentials from
/// `KLARNA_USERNAME` / `KLARNA_PASSWORD` when both are set, else the simulator's defaults.
fn config(args: &SimArgs, username: Option<String>, password: Option<String>) -> SimulatorConfig {
    let mut config = SimulatorConfig::default();
    if let (Some(username), Some(password)) = (username, password) {
        config.username = username;
        config.password = password;
    }
    if args.optimistic_replay {
        config.replay = ReplayPolicy::Optimistic;
    }
    config
}

/// Runs the simulator. Credentials come from `KLARNA_USERNAME` / `KLARNA_PASSWORD` when both
/// are set, else the simulator's defaults (`sim_user` / `sim_password`).
pub(crate) async fn run(args: SimArgs) -> ExitCode {
    let config = config(
        &args,
        std::env::var("KLARNA_USERNAME").ok(),
        std::env::var("KLARNA_PASSWORD").ok(),
    );
    let server = klarna_simulator::run(args.addr, config, |url| {
        // Scripts read the first line to find the simulator: it must leave the buffer now.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{url}").and_then(|()| out.flush());
    });
    tokio::select! {
        result = server => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("klarna sim: cannot serve on {}: {e}", args.addr);
                ExitCode::FAILURE
            }
        },
        () = shutdown_signal() => ExitCode::SUCCESS,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn replay_is_pessimistic_unless_the_flag_says_optimistic() {
        let plain = Cli::try_parse_from(["sim"]).unwrap();
        assert_eq!(
            config(&plain.sim, None, None).replay,
            ReplayPolicy::Pessimistic
        );
        let opt = Cli::try_parse_from(["sim", "--optimistic-replay"]).unwrap();
        assert_eq!(
            config(&opt.sim, None, None).replay,
            ReplayPolicy::Optimistic
        );
        assert!(Cli::try_parse_from(["sim", "--optimistic-replay=maybe"]).is_err());
    }

    #[test]
    fn credentials_come_from_the_environment_only_when_both_are_set() {
        let args = Cli::try_parse_from(["sim"]).unwrap().sim;
        let both = config(&args, Some("u".into()), Some("p".into()));
        assert_eq!((both.username.as_str(), both.password.as_str()), ("u", "p"));
        let one = config(&args, Some("u".into()), None);
        assert_eq!(one.username, klarna_simulator::DEFAULT_USERNAME);
        assert_eq!(one.password, klarna_simulator::DEFAULT_PASSWORD);
    }
}
