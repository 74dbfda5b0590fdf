//! `cargo xtask ci`: the whole gate, in the order that fails fastest. `.ci/run` runs exactly this.

use std::env;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::tidy;
use crate::workspace::{self, Result};

/// One step of the gate.
#[derive(Debug)]
struct Step {
    name: &'static str,
    run: fn() -> Result<()>,
}

/// Cheap checks first, so a formatting slip does not wait for a full build.
const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        run: fmt,
    },
    Step {
        name: "tidy",
        run: tidy::run,
    },
    Step {
        name: "clippy",
        run: clippy,
    },
    Step {
        name: "test",
        run: test,
    },
    Step {
        name: "doc",
        run: doc,
    },
];

/// Runs every step in order and stops at the first failure.
///
/// # Errors
///
/// The first failing step, named, with how long the run took.
pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let total = STEPS.len();
    for (index, step) in STEPS.iter().enumerate() {
        let number = index + 1;
        println!("xtask ci: [{number}/{total}] {} ...", step.name);
        let step_started = Instant::now();
        let outcome = (step.run)();
        let took = seconds(step_started.elapsed());
        if let Err(error) = outcome {
            println!(
                "xtask ci: [{number}/{total}] {} FAILED after {took}",
                step.name
            );
            println!(
                "xtask ci: FAILED at step {number}/{total} ({}) after {}",
                step.name,
                seconds(started.elapsed())
            );
            return Err(format!("step `{}` failed: {error}", step.name).into());
        }
        println!("xtask ci: [{number}/{total}] {} ok in {took}", step.name);
    }
    println!(
        "xtask ci: ok, all {total} steps passed in {}",
        seconds(started.elapsed())
    );
    Ok(())
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Prints the command, then runs it with inherited output and environment (so `DATABASE_URL`
/// and friends reach the tests untouched).
fn run_shown(command: &mut Command) -> Result<()> {
    println!("xtask ci: $ {}", workspace::show(command));
    workspace::run(command)
}

fn fmt() -> Result<()> {
    run_shown(workspace::cargo().args(["fmt", "--all", "--check"]))
}

fn clippy() -> Result<()> {
    run_shown(workspace::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}

/// nextest when it is installed (parallel, clearer failures), then the doctests, which nextest
/// does not run; plain `cargo test` otherwise.
fn test() -> Result<()> {
    if nextest_available() {
        run_shown(workspace::cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]))?;
        run_shown(workspace::cargo().args(["test", "--workspace", "--doc", "--all-features"]))
    } else {
        println!("xtask ci: cargo-nextest not found, using cargo test");
        run_shown(workspace::cargo().args([
            "test",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]))
    }
}

fn nextest_available() -> bool {
    workspace::cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn doc() -> Result<()> {
    // Keep any flags the caller set, and make every rustdoc warning an error.
    let mut flags = env::var("RUSTDOCFLAGS").unwrap_or_default();
    if !flags.is_empty() {
        flags.push(' ');
    }
    flags.push_str("-Dwarnings");
    run_shown(
        workspace::cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", flags),
    )
}
