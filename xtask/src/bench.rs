//! `cargo xtask bench [--quick]`: runs every benchmark runner in turn.
//!
//! Today there is one runner, criterion over every `[[bench]]` target of the workspace.
//! Extension point: a runner is one entry in [`RUNNERS`]; to publish numbers, have runners
//! return their results and render them into `docs/benchmarks.md` at the end of [`run`]
//! (criterion leaves machine-readable estimates under `target/criterion/*/new/estimates.json`).

use serde_json::Value;

use crate::workspace::{self, Result};

/// Options of the bench task.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// A short run for a smoke test, not for numbers worth publishing.
    quick: bool,
}

impl Options {
    /// Parses the task's arguments.
    ///
    /// # Errors
    ///
    /// On an unknown argument.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self::default();
        for arg in args {
            match arg.as_str() {
                "--quick" => options.quick = true,
                other => return Err(format!("unknown bench option `{other}`").into()),
            }
        }
        Ok(options)
    }
}

/// One way of running benchmarks.
#[derive(Debug)]
struct Runner {
    name: &'static str,
    run: fn(&Options, &Value) -> Result<()>,
}

/// The runners, in order. Add load tests or instruction counts here.
const RUNNERS: &[Runner] = &[Runner {
    name: "criterion",
    run: criterion,
}];

/// Runs every runner, stopping at the first failure.
///
/// # Errors
///
/// The first runner that fails, or `cargo metadata` failing.
pub(crate) fn run(options: &Options) -> Result<()> {
    let metadata = workspace::metadata()?;
    for runner in RUNNERS {
        println!("xtask bench: {} ...", runner.name);
        (runner.run)(options, &metadata)
            .map_err(|error| format!("runner `{}` failed: {error}", runner.name))?;
    }
    println!(
        "xtask bench: done (results are printed above; docs/benchmarks.md is not written yet)"
    );
    Ok(())
}

/// Criterion flags for a short run.
const QUICK_FLAGS: &[&str] = &["--warm-up-time", "1", "--measurement-time", "2"];

/// `cargo bench` per package over its `[[bench]]` targets only. Naming the targets keeps the
/// libtest harnesses of lib and bin targets out, since they would reject criterion's flags.
fn criterion(options: &Options, metadata: &Value) -> Result<()> {
    let targets = bench_targets(metadata);
    if targets.is_empty() {
        println!("xtask bench: no [[bench]] targets in the workspace yet, nothing to run");
        return Ok(());
    }
    for (package, benches) in targets {
        let mut command = workspace::cargo();
        command.args(["bench", "--package", package]);
        for bench in benches {
            command.args(["--bench", bench]);
        }
        if options.quick {
            command.arg("--").args(QUICK_FLAGS);
        }
        println!("xtask bench: $ {}", workspace::show(&command));
        workspace::run(&mut command)?;
    }
    Ok(())
}

/// `(package, bench target names)` for every package with `[[bench]]` targets.
fn bench_targets(metadata: &Value) -> Vec<(&str, Vec<&str>)> {
    workspace::packages(metadata)
        .filter_map(|package| {
            let name = package.get("name")?.as_str()?;
            let benches: Vec<&str> = package
                .get("targets")?
                .as_array()?
                .iter()
                .filter(|target| {
                    target
                        .get("kind")
                        .and_then(Value::as_array)
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bench"))
                })
                .filter_map(|target| target.get("name")?.as_str())
                .collect();
            (!benches.is_empty()).then_some((name, benches))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_bench_targets_are_selected() {
        let metadata = json!({ "packages": [
            { "name": "a", "targets": [
                { "kind": ["lib"], "name": "a" },
                { "kind": ["bench"], "name": "cart" },
                { "kind": ["bench"], "name": "retry" },
            ]},
            { "name": "b", "targets": [{ "kind": ["lib"], "name": "b" }] },
        ]});
        assert_eq!(bench_targets(&metadata), vec![("a", vec!["cart", "retry"])]);
    }

    #[test]
    fn options_accept_quick_and_reject_the_rest() {
        assert!(Options::parse(&["--quick".to_owned()]).is_ok_and(|options| options.quick));
        assert!(Options::parse(&[]).is_ok_and(|options| !options.quick));
        assert!(Options::parse(&["--slow".to_owned()]).is_err());
    }
}
