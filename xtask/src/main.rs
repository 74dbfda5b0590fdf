//! Project automation, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! This is the cargo-xtask pattern (github.com/matklad/cargo-xtask): automation written in Rust,
//! so that `cargo xtask ci` on a laptop and `.ci/run` in CI are the same program.
//! The crate depends on std and serde_json only, and reaches everything else through `cargo`
//! and `git` subprocesses.

mod bench;
mod ci;
mod tidy;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  ci             fmt --check, tidy, clippy -D warnings, tests (nextest if installed, plus
                 doctests), rustdoc -D warnings; stops at the first failing step
  tidy           repository policy: `//!` file headers, dependency rules (DESIGN.md §2),
                 no ignored tests, `[lints] workspace = true` in every member
  bench [--quick]
                 build once in release, run every benchmark and measurement program, print
                 the table of figures against goals and write docs/benchmarks.md;
                 --quick makes a short smoke run
  demo [args]    cargo run --release -p klarna-cli -- demo [args]
  chaos [N | --seed S]
                 N seeded fault schedules (default 100000) through the service and the
                 pessimistic simulator on the memory store, N/10 against the optimistic
                 simulator and (with DATABASE_URL) N/10 on PostgreSQL; --seed S replays
                 the one schedule S on each of them
  load [--shoppers N] [--seconds S] [--store memory|sqlite|postgres]
                 concurrent shoppers through the service over HTTP; throughput,
                 latency percentiles, errors and lost payments
  help           this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let outcome = match task {
        "ci" => no_options(task, rest).and_then(|()| ci::run()),
        "tidy" => no_options(task, rest).and_then(|()| tidy::run()),
        "bench" => bench::Options::parse(rest).and_then(|options| bench::run(&options)),
        "demo" => demo(rest),
        "chaos" => chaos(rest),
        "load" => load(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        unknown => Err(format!("unknown task `{unknown}`\n\n{USAGE}").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {task}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Rejects arguments for tasks that take none, so a typo does not silently run the default.
fn no_options(task: &str, rest: &[String]) -> workspace::Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(extra) => Err(format!("`{task}` takes no arguments, got `{extra}`").into()),
    }
}

/// Runs the main job of the project: the end-to-end demo of the `klarna` binary.
fn demo(args: &[String]) -> workspace::Result<()> {
    const CLI: &str = "klarna-cli";
    let metadata = workspace::metadata()?;
    if !workspace::package_names(&metadata).any(|name| name == CLI) {
        return Err(format!(
            "the `{CLI}` package does not exist yet; the demo arrives with it \
             (see README.md, \"Status\")"
        )
        .into());
    }
    let mut command = workspace::cargo();
    command
        .args(["run", "--release", "-p", CLI, "--", "demo"])
        .args(args);
    workspace::run(&mut command)
}

/// Runs many more seeded fault schedules than CI does (`KLARNA_CHAOS_SCHEDULES`), or replays
/// one (`KLARNA_CHAOS_SEED`).
fn chaos(args: &[String]) -> workspace::Result<()> {
    let (name, value) = match args {
        [] => ("KLARNA_CHAOS_SCHEDULES", "100000".to_owned()),
        [n] if n.parse::<u64>().is_ok() => ("KLARNA_CHAOS_SCHEDULES", n.clone()),
        [flag, s] if flag == "--seed" && s.parse::<u64>().is_ok() => {
            ("KLARNA_CHAOS_SEED", s.clone())
        }
        _ => return Err("usage: cargo xtask chaos [SCHEDULES | --seed SEED]".into()),
    };
    let mut command = workspace::cargo();
    command.env(name, value).args([
        "test",
        "--release",
        "-p",
        "klarna-tests",
        "--test",
        "it",
        "chaos",
        "--",
        "--nocapture",
    ]);
    workspace::run(&mut command)
}

/// Runs the load test (a release bench binary of the `klarna-tests` package).
fn load(args: &[String]) -> workspace::Result<()> {
    let mut command = workspace::cargo();
    command
        .args(["bench", "-p", "klarna-tests", "--bench", "load", "--"])
        .args(args);
    workspace::run(&mut command)
}
