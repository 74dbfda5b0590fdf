//! `klarna sim`: runs the simulator until Ctrl-C or SIGTERM, printing its base URL first.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use klarna_simulator::SimulatorConfig;

/// Arguments of `klarna sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
}

/// Runs the simulator. Credentials come from `KLARNA_USERNAME` / `KLARNA_PASSWORD` when both
/// are set, else the simulator's defaults (`sim_user` / `sim_password`).
pub(crate) async fn run(args: SimArgs) -> ExitCode {
    let mut config = SimulatorConfig::default();
    if let (Ok(username), Ok(password)) = (
        std::env::var("KLARNA_USERNAME"),
        std::env::var("KLARNA_PASSWORD"),
    ) {
        config.username = username;
        config.password = password;
    }
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
