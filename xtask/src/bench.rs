//! `cargo xtask bench [--quick]`: builds every benchmark once in release, runs the criterion
//! benches and the measurement programs, and prints one table of figures against their goals,
//! also written to `docs/benchmarks.md`.
//!
//! The table is data: [`ROWS`] says where each figure comes from (a criterion benchmark id, a
//! line a program prints, or an entry of `target/bench-flows.json` or
//! `target/bench-gateway.json`), its unit and its goal. A new benchmark adds one row there.
//! The flows and gateway figures are interleaved (variant and baseline alternate, round after
//! round; the median of the per-round ratios is shown with its p10–p90) and counted in
//! instructions under callgrind, so that they hold still on a busy machine. Results older than the run are ignored, so a benchmark that
//! did not run shows as "not run" rather than as a stale number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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

// ---------------------------------------------------------------------------------------------
// What the table shows.

/// Where a figure comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Median time of a criterion benchmark (by its full id), in microseconds.
    MedianMicros(&'static str),
    /// Elements per second of a criterion benchmark: its throughput elements / median time.
    PerSecond(&'static str),
    /// The number a [`Program`] printed after `label`.
    Printed {
        program: &'static str,
        label: &'static str,
    },
    /// A numeric field of the entry named `name` in `<target>/<file>`, a JSON array written by
    /// a bench ([`FLOWS`], [`GATEWAY`]). When the entry also has `<field>_p10` and
    /// `<field>_p90`, the table shows that spread.
    Entry {
        file: &'static str,
        name: &'static str,
        field: &'static str,
    },
}

/// Written by `tests/benches/flows.rs`.
const FLOWS: &str = "bench-flows.json";
/// Written by `crates/klarna-gateway-http/benches/client_overhead.rs`.
const GATEWAY: &str = "bench-gateway.json";

/// What counts as meeting the goal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Goal {
    /// Reported, no goal.
    None,
    /// At most this.
    AtMost(f64),
    /// At least this.
    AtLeast(f64),
}

/// One line of the table.
#[derive(Debug)]
struct Row {
    figure: &'static str,
    source: Source,
    unit: &'static str,
    goal: Goal,
}

const SQLITE_FLOW: &str = "SQLite file (WAL, synchronous=FULL)";
const RECURRING_RAW: &str = "recurring: raw HTTP, no store";
const RECURRING_MEMORY: &str = "recurring: memory store";
const RECURRING_SQLITE: &str = "recurring: SQLite file (WAL, synchronous=FULL)";

const fn gateway(field: &'static str) -> Source {
    Source::Entry {
        file: GATEWAY,
        name: "create_session",
        field,
    }
}

const fn flows(name: &'static str, field: &'static str) -> Source {
    Source::Entry {
        file: FLOWS,
        name,
        field,
    }
}

/// The table, in order. Add a row per new figure.
const ROWS: &[Row] = &[
    Row {
        figure: "Gateway overhead: `KlarnaClient` / hand-written reqwest, create session (time, \
                 median of interleaved rounds)",
        source: gateway("time_ratio"),
        unit: "×",
        goal: Goal::AtMost(1.05),
    },
    Row {
        figure: "Gateway overhead: `KlarnaClient` / hand-written reqwest, create session \
                 (instructions, callgrind)",
        source: gateway("instructions_ratio"),
        unit: "×",
        goal: Goal::AtMost(1.05),
    },
    Row {
        figure: "Create session through `KlarnaClient`, time per call (median round)",
        source: gateway("client_us"),
        unit: "µs",
        goal: Goal::None,
    },
    Row {
        figure: "Create session by hand (reqwest + serde_json), time per call (median round)",
        source: gateway("raw_us"),
        unit: "µs",
        goal: Goal::None,
    },
    Row {
        figure: "Create session through `KlarnaClient`, instructions per call (client side)",
        source: gateway("client_instructions"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Create session by hand, instructions per call (client side)",
        source: gateway("raw_instructions"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows/s, raw HTTP, no store (baseline)",
        source: flows("raw HTTP, no store", "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows/s, service + memory store",
        source: flows("memory store", "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows, memory store / raw HTTP (time, interleaved)",
        source: flows("memory store", "ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows/s, service + SQLite file",
        source: flows(SQLITE_FLOW, "flows_per_s"),
        unit: "flows/s",
        goal: Goal::AtLeast(200.0),
    },
    Row {
        figure: "One-time flows, SQLite / raw HTTP (time, interleaved)",
        source: flows(SQLITE_FLOW, "ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows/s, service + PostgreSQL",
        source: flows("PostgreSQL", "flows_per_s"),
        unit: "flows/s",
        goal: Goal::AtLeast(200.0),
    },
    Row {
        figure: "Instructions per one-time flow, raw HTTP (client side, callgrind)",
        source: flows("raw HTTP, no store", "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Instructions per one-time flow, service + memory store",
        source: flows("memory store", "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Instructions per one-time flow, service + SQLite file",
        source: flows(SQLITE_FLOW, "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows, memory store / raw HTTP (instructions)",
        source: flows("memory store", "instructions_ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "One-time flows, SQLite / raw HTTP (instructions)",
        source: flows(SQLITE_FLOW, "instructions_ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "HTTP requests per one-time flow (SQLite)",
        source: flows(SQLITE_FLOW, "http_per_flow"),
        unit: "requests",
        goal: Goal::AtMost(3.0),
    },
    Row {
        figure: "Store write transactions per one-time flow (SQLite)",
        source: flows(SQLITE_FLOW, "writes_per_flow"),
        unit: "tx",
        goal: Goal::AtMost(3.0),
    },
    Row {
        figure: "Store write transactions per one-time flow (memory)",
        source: flows("memory store", "writes_per_flow"),
        unit: "tx",
        goal: Goal::AtMost(3.0),
    },
    Row {
        figure: "Recurring flows/s (tokenize, customer token, one charge), raw HTTP, no store",
        source: flows(RECURRING_RAW, "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows/s, service + memory store",
        source: flows(RECURRING_MEMORY, "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows, memory store / raw HTTP (time, interleaved)",
        source: flows(RECURRING_MEMORY, "ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows/s, service + SQLite file",
        source: flows(RECURRING_SQLITE, "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows/s, service + PostgreSQL",
        source: flows("recurring: PostgreSQL", "flows_per_s"),
        unit: "flows/s",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows, SQLite / raw HTTP (time, interleaved)",
        source: flows(RECURRING_SQLITE, "ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "Instructions per recurring flow, raw HTTP (client side, callgrind)",
        source: flows(RECURRING_RAW, "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Instructions per recurring flow, service + memory store",
        source: flows(RECURRING_MEMORY, "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Instructions per recurring flow, service + SQLite file",
        source: flows(RECURRING_SQLITE, "instructions_per_flow"),
        unit: "instr",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows, memory store / raw HTTP (instructions)",
        source: flows(RECURRING_MEMORY, "instructions_ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "Recurring flows, SQLite / raw HTTP (instructions)",
        source: flows(RECURRING_SQLITE, "instructions_ratio_vs_raw"),
        unit: "×",
        goal: Goal::None,
    },
    Row {
        figure: "HTTP requests per recurring flow (SQLite)",
        source: flows(RECURRING_SQLITE, "http_per_flow"),
        unit: "requests",
        goal: Goal::None,
    },
    Row {
        figure: "Store write transactions per recurring flow (SQLite)",
        source: flows(RECURRING_SQLITE, "writes_per_flow"),
        unit: "tx",
        goal: Goal::None,
    },
    Row {
        figure: "Simulator create-session/s, 64 in flight over HTTP",
        source: Source::PerSecond("concurrent_64/create_session"),
        unit: "/s",
        goal: Goal::AtLeast(10_000.0),
    },
    Row {
        figure: "Simulator create-session/s, one at a time over HTTP",
        source: Source::PerSecond("sequential/create_session"),
        unit: "/s",
        goal: Goal::None,
    },
    Row {
        figure: "Simulator memory for 100,000 live sessions (RSS growth)",
        source: Source::Printed {
            program: "simulator-memory",
            label: "RSS growth:",
        },
        unit: "MiB",
        goal: Goal::AtMost(200.0),
    },
    Row {
        figure: "Cart validation, 1 line",
        source: Source::MedianMicros("cart_from_input/1"),
        unit: "µs",
        goal: Goal::None,
    },
    Row {
        figure: "Cart validation, 100 lines",
        source: Source::MedianMicros("cart_from_input/100"),
        unit: "µs",
        goal: Goal::None,
    },
    Row {
        figure: "Cart validation, 1,000 lines",
        source: Source::MedianMicros("cart_from_input/1000"),
        unit: "µs",
        goal: Goal::AtMost(100.0),
    },
    Row {
        figure: "Memory store: RSS per stored payment (with its managed order), 100,000 stored",
        source: Source::Printed {
            program: "store-memory",
            label: "bytes per payment:",
        },
        unit: "bytes",
        goal: Goal::None,
    },
    Row {
        figure: "SQLite store write tx/s, 1 client, synchronous=FULL",
        source: Source::PerSecond("store_write_tx/sqlite_file_full/1_client"),
        unit: "tx/s",
        goal: Goal::None,
    },
    Row {
        figure: "SQLite store write tx/s, 8 clients, synchronous=FULL",
        source: Source::PerSecond("store_write_tx/sqlite_file_full/8_clients"),
        unit: "tx/s",
        goal: Goal::None,
    },
    Row {
        figure: "SQLite store write tx/s, 8 clients, synchronous=NORMAL",
        source: Source::PerSecond("store_write_tx/sqlite_file_normal/8_clients"),
        unit: "tx/s",
        goal: Goal::None,
    },
    Row {
        figure: "PostgreSQL store write tx/s, 8 clients",
        source: Source::PerSecond("store_write_tx/postgres/8_clients"),
        unit: "tx/s",
        goal: Goal::None,
    },
];

/// A measurement program whose output feeds [`Source::Printed`] rows.
#[derive(Debug)]
struct Program {
    name: &'static str,
    package: &'static str,
    example: &'static str,
}

const PROGRAMS: &[Program] = &[
    Program {
        name: "simulator-memory",
        package: "klarna-simulator",
        example: "memory",
    },
    Program {
        name: "store-memory",
        package: "klarna-store-memory",
        example: "payment_memory",
    },
];

/// Bench targets that are not benchmarks of the table: `(package, target)`. The load test has
/// its own task (`cargo xtask load`) and runs for a fixed time.
const NOT_IN_TABLE: &[(&str, &str)] = &[("klarna-tests", "load")];

/// Criterion flags for a short run.
const QUICK_FLAGS: &[&str] = &[
    "--warm-up-time",
    "1",
    "--measurement-time",
    "2",
    "--sample-size",
    "10",
];

// ---------------------------------------------------------------------------------------------
// Running.

/// What the run produced, by source.
#[derive(Debug, Default)]
struct Results {
    /// Criterion full id → (median in ns, throughput elements per iteration).
    criterion: BTreeMap<String, (f64, Option<f64>)>,
    /// Program name → its standard output.
    printed: BTreeMap<String, String>,
    /// File name → the JSON a bench wrote to the target directory ([`FLOWS`], [`GATEWAY`]),
    /// if written by this run.
    json: BTreeMap<String, Value>,
    /// Runners that failed, with why.
    failures: Vec<String>,
}

/// Builds once, runs everything, prints the table and writes `docs/benchmarks.md`.
///
/// # Errors
///
/// When the build fails or `cargo metadata` fails; or, after the table is written, when any
/// benchmark or program failed (they are listed in the table's notes).
pub(crate) fn run(options: &Options) -> Result<()> {
    let metadata = workspace::metadata()?;
    let targets = bench_targets(&metadata);
    let target_dir = target_dir(&metadata);
    fs::create_dir_all(&target_dir)?;
    // Results older than this marker are from earlier runs.
    let marker = target_dir.join("xtask-bench.started");
    fs::write(&marker, b"")?;
    let started = fs::metadata(&marker)?.modified()?;

    // One build of every bench target and measurement program, in one cargo invocation so
    // that they share one feature resolution: then nothing is rebuilt to run them, because
    // the executables the build reports are run directly.
    let mut build = workspace::cargo();
    build.args([
        "build",
        "--profile",
        "bench",
        "--all-features",
        "--message-format=json-render-diagnostics",
    ]);
    for (package, benches) in &targets {
        build.args(["--package", package]);
        for bench in benches {
            build.args(["--bench", bench]);
        }
    }
    for program in PROGRAMS {
        build.args(["--package", program.package, "--example", program.example]);
    }
    println!("xtask bench: $ {}", workspace::show(&build));
    let output = build
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot start `{}`: {error}", workspace::show(&build)))?;
    if !output.status.success() {
        return Err(format!("`{}` failed ({})", workspace::show(&build), output.status).into());
    }
    let executables = executables(&String::from_utf8_lossy(&output.stdout), &metadata);

    let mut results = Results::default();
    for (package, benches) in &targets {
        for bench in benches {
            let Some(built) = executables.get(&(package.to_string(), bench.to_string())) else {
                results
                    .failures
                    .push(format!("`{package}` bench `{bench}`: no executable built"));
                continue;
            };
            let mut command = built.command(&target_dir);
            command.arg("--bench");
            if options.quick {
                command.env("KLARNA_BENCH_QUICK", "1");
                command.args(QUICK_FLAGS);
            }
            println!(
                "xtask bench: {package} {bench}: $ {}",
                workspace::show(&command)
            );
            if let Err(error) = workspace::run(&mut command) {
                results
                    .failures
                    .push(format!("`{package}` bench `{bench}`: {error}"));
            }
        }
    }
    for program in PROGRAMS {
        let key = (program.package.to_owned(), program.example.to_owned());
        let Some(built) = executables.get(&key) else {
            results
                .failures
                .push(format!("program `{}`: no executable built", program.name));
            continue;
        };
        let mut command = built.command(&target_dir);
        println!(
            "xtask bench: {}: $ {}",
            program.name,
            workspace::show(&command)
        );
        match workspace::output(&mut command) {
            Ok(stdout) => {
                print!("{stdout}");
                results.printed.insert(program.name.to_owned(), stdout);
            }
            Err(error) => results
                .failures
                .push(format!("program `{}`: {error}", program.name)),
        }
    }
    results.criterion = criterion_results(&target_dir.join("criterion"), started);
    for file in [FLOWS, GATEWAY] {
        let path = target_dir.join(file);
        if fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started)
            && let Ok(value) = serde_json::from_str(&fs::read_to_string(&path)?)
        {
            results.json.insert(file.to_owned(), value);
        }
    }

    let header = run_header(options)?;
    let table = render(&results);
    println!("\n{table}");
    let doc = document(&header, &table, &results);
    let path = workspace::root().join("docs").join("benchmarks.md");
    fs::write(&path, doc)?;
    println!("xtask bench: wrote {}", path.display());
    if results.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", results.failures.join("; ")).into())
    }
}

/// A built bench or example: its executable and its package's folder.
#[derive(Debug, PartialEq)]
struct Executable {
    path: PathBuf,
    package_dir: PathBuf,
}

impl Executable {
    /// The command that runs it as `cargo bench` / `cargo run` would: in its package's folder,
    /// with `CARGO_MANIFEST_DIR` and the target directory (where criterion writes, and
    /// `KLARNA_BENCH_DIR`, where the benches that write JSON put it).
    fn command(&self, target_dir: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(&self.path);
        command
            .current_dir(&self.package_dir)
            .env("CARGO_MANIFEST_DIR", &self.package_dir)
            .env("CARGO_TARGET_DIR", target_dir)
            .env("KLARNA_BENCH_DIR", target_dir);
        command
    }
}

/// `(package, target)` → executable, from the JSON messages of a cargo build.
fn executables(messages: &str, metadata: &Value) -> BTreeMap<(String, String), Executable> {
    let packages: BTreeMap<&str, (&str, PathBuf)> = workspace::packages(metadata)
        .filter_map(|package| {
            let id = package.get("id")?.as_str()?;
            let name = package.get("name")?.as_str()?;
            let dir = Path::new(package.get("manifest_path")?.as_str()?).parent()?;
            Some((id, (name, dir.to_path_buf())))
        })
        .collect();
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| {
            message.get("reason").and_then(Value::as_str) == Some("compiler-artifact")
        })
        .filter_map(|message| {
            let path = message.get("executable")?.as_str()?;
            let target = message.get("target")?.get("name")?.as_str()?;
            let (package, dir) = packages.get(message.get("package_id")?.as_str()?)?;
            Some((
                ((*package).to_owned(), target.to_owned()),
                Executable {
                    path: PathBuf::from(path),
                    package_dir: dir.clone(),
                },
            ))
        })
        .collect()
}

/// The target directory from `cargo metadata`.
fn target_dir(metadata: &Value) -> PathBuf {
    metadata
        .get("target_directory")
        .and_then(Value::as_str)
        .map_or_else(|| workspace::root().join("target"), PathBuf::from)
}

/// `(package, bench target names)` for every package with `[[bench]]` targets, minus
/// [`NOT_IN_TABLE`].
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
                .filter(|bench| !NOT_IN_TABLE.contains(&(name, *bench)))
                .collect();
            (!benches.is_empty()).then_some((name, benches))
        })
        .collect()
}

/// Every `<dir>/**/new/benchmark.json` written since `since`, with its `estimates.json`.
fn criterion_results(dir: &Path, since: SystemTime) -> BTreeMap<String, (f64, Option<f64>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "benchmark.json")
                && path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "new")
                && fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since)
                && let Some((id, result)) = read_criterion(&path)
            {
                out.insert(id, result);
            }
        }
    }
    out
}

/// `(full id, (median ns, throughput elements))` from one `benchmark.json` and its sibling
/// `estimates.json`.
fn read_criterion(benchmark: &Path) -> Option<(String, (f64, Option<f64>))> {
    let meta: Value = serde_json::from_str(&fs::read_to_string(benchmark).ok()?).ok()?;
    let estimates: Value =
        serde_json::from_str(&fs::read_to_string(benchmark.with_file_name("estimates.json")).ok()?)
            .ok()?;
    parse_criterion(&meta, &estimates)
}

fn parse_criterion(meta: &Value, estimates: &Value) -> Option<(String, (f64, Option<f64>))> {
    let id = meta.get("full_id")?.as_str()?.to_owned();
    let median = estimates.get("median")?.get("point_estimate")?.as_f64()?;
    let elements = meta
        .get("throughput")
        .and_then(|t| t.get("Elements"))
        .and_then(Value::as_f64);
    Some((id, (median, elements)))
}

// ---------------------------------------------------------------------------------------------
// The table.

/// A figure: its value and, for interleaved measurements, its p10–p90 spread.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figure {
    value: f64,
    spread: Option<(f64, f64)>,
}

impl From<f64> for Figure {
    fn from(value: f64) -> Self {
        Self {
            value,
            spread: None,
        }
    }
}

/// A row's value, or why there is none.
fn evaluate(source: Source, results: &Results) -> std::result::Result<Figure, &'static str> {
    match source {
        Source::MedianMicros(id) => results
            .criterion
            .get(id)
            .map(|(ns, _)| Figure::from(ns / 1_000.0))
            .ok_or("not run"),
        Source::PerSecond(id) => {
            let (ns, elements) = results.criterion.get(id).ok_or("not run")?;
            let elements = elements.ok_or("no throughput set")?;
            if *ns > 0.0 {
                Ok(Figure::from(elements * 1e9 / ns))
            } else {
                Err("zero time")
            }
        }
        Source::Printed { program, label } => {
            let out = results.printed.get(program).ok_or("not run")?;
            printed_number(out, label)
                .map(Figure::from)
                .ok_or("not printed")
        }
        Source::Entry { file, name, field } => {
            let entry = results
                .json
                .get(file)
                .and_then(Value::as_array)
                .ok_or("not run")?
                .iter()
                .find(|entry| entry.get("name").and_then(Value::as_str) == Some(name))
                .ok_or("not run")?;
            let number = |key: &str| entry.get(key).and_then(Value::as_f64);
            let value = number(field).ok_or("not measured")?;
            let spread = number(&format!("{field}_p10")).zip(number(&format!("{field}_p90")));
            Ok(Figure { value, spread })
        }
    }
}

/// The first number after `label` on the first line that starts with it.
fn printed_number(output: &str, label: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|word| word.replace(',', "").parse().ok())
}

/// A number with a precision that suits its size and thousands separators.
fn number(value: f64) -> String {
    if value.abs() < 10.0 {
        format!("{value:.2}")
    } else if value.abs() < 100.0 {
        format!("{value:.1}")
    } else {
        let text = format!("{value:.0}");
        let (sign, digits) = text
            .strip_prefix('-')
            .map_or(("", text.as_str()), |d| ("-", d));
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped}")
    }
}

fn goal_text(goal: Goal, unit: &str) -> String {
    match goal {
        Goal::None => "—".to_owned(),
        Goal::AtMost(v) => format!("≤ {} {unit}", number(v)),
        Goal::AtLeast(v) => format!("≥ {} {unit}", number(v)),
    }
}

fn met(goal: Goal, value: f64) -> &'static str {
    match goal {
        Goal::None => "—",
        Goal::AtMost(v) if value <= v => "yes",
        Goal::AtLeast(v) if value >= v => "yes",
        Goal::AtMost(_) | Goal::AtLeast(_) => "**NO**",
    }
}

/// The Markdown table of every row.
fn render(results: &Results) -> String {
    let mut out = String::from("| Figure | Measured | Goal | Met |\n|---|---:|---|---|\n");
    for row in ROWS {
        let (measured, ok) = match evaluate(row.source, results) {
            Ok(Figure { value, spread }) => {
                let spread = spread.map_or_else(String::new, |(p10, p90)| {
                    format!(" (p10–p90 {}–{})", number(p10), number(p90))
                });
                (
                    format!("{} {}{spread}", number(value), row.unit),
                    met(row.goal, value),
                )
            }
            Err(why) => (why.to_owned(), "—"),
        };
        let _ = writeln!(
            out,
            "| {} | {measured} | {} | {ok} |",
            row.figure,
            goal_text(row.goal, row.unit)
        );
    }
    out
}

/// When, where and how the run was made.
fn run_header(options: &Options) -> Result<String> {
    let commit = workspace::output(
        std::process::Command::new("git")
            .current_dir(workspace::root())
            .args(["rev-parse", "--short", "HEAD"]),
    )
    .unwrap_or_default();
    // Say so when the tree measured is not exactly the commit (a before-run with new benches
    // copied in, for example).
    let dirty = workspace::output(
        std::process::Command::new("git")
            .current_dir(workspace::root())
            .args(["status", "--porcelain", "--untracked-files=no"]),
    )
    .is_ok_and(|status| !status.trim().is_empty());
    let date =
        workspace::output(std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
            .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    Ok(format!(
        "Generated by `cargo xtask bench{}` on {} at commit `{}`{} ({cpus} CPUs){}.",
        if options.quick { " --quick" } else { "" },
        date.trim(),
        commit.trim(),
        if dirty {
            " with uncommitted changes"
        } else {
            ""
        },
        if options.quick {
            ": a smoke run (criterion: 1 s warm-up, 2 s measurement, 10 samples; flows: 6 \
             interleaved rounds of 50; gateway: 40 rounds of 50 calls; callgrind over 25 flows \
             and 50 calls), so treat the numbers as indicative"
        } else {
            ""
        }
    ))
}

/// `docs/benchmarks.md`.
fn document(header: &str, table: &str, results: &Results) -> String {
    let mut doc = String::from(
        "# Benchmarks\n\n\
         <!-- Written by `cargo xtask bench`; edit xtask/src/bench.rs, not this file. -->\n\n",
    );
    let _ = writeln!(doc, "{header}\n");
    doc.push_str(table);
    doc.push_str(
        "\n## Where the figures come from\n\n\
         * Gateway overhead: `crates/klarna-gateway-http/benches/client_overhead.rs`, the same \
         create-session call through `KlarnaClient` and through hand-written reqwest + \
         serde_json against one local axum server. Time: 300 rounds (40 with `--quick`), each \
         timing a block of 100 calls of each variant, the order alternating between rounds; \
         the figure is the median of the per-round ratios, p10–p90 in brackets (min–max in \
         `target/bench-gateway.json`). Instructions: `valgrind --tool=callgrind` on the client \
         only (the server is a child process not run under valgrind), counted for 20 and for \
         220 calls after a warm-up; the difference / 200 is the cost of one call, without \
         start-up or warm-up. Instruction counts repeat whatever else runs on the machine \
         (between two full runs: the gateway's within 0.1 %, the raw and memory-store flows' \
         within 1 %, the SQLite flows' within about 2.5 %, as its worker threads and WAL vary), \
         so they, and the interleaved ratios, are the figures to compare across runs: \
         issue 10's \"no figure worse by more than 10 %\" is judged on them.\n\
         * Flows: `tests/benches/flows.rs` (create session, shopper authorization, create order \
         through `PaymentService`, per store, against the same requests by hand with reqwest \
         against the simulator, storing nothing: the raw baseline). Time: every variant has its \
         own simulator in the process; 20 rounds (6 with `--quick`), each running a block of \
         200 flows (50) of every variant, 16 in flight, in an order rotating between rounds; \
         flows/s and the ratio to raw are medians of the per-round figures, p10–p90 in \
         brackets. Instructions: one flow at a time under callgrind, the simulator in a child \
         process (not counted) and the shopper step sent to it over HTTP in every variant; \
         counted for 20 and 220 flows (5 and 30), the difference / 200 (25). Ratios below 1 in \
         time and above 1 in instructions mean the service costs more than raw. It writes \
         `target/bench-flows.json`. PostgreSQL rows need `DATABASE_URL`.\n\
         * Simulator: `crates/klarna-simulator/benches/throughput.rs` (criterion, HTTP keep-alive \
         on loopback) and `cargo run --release -p klarna-simulator --example memory` (RSS growth \
         for 100,000 sessions created in-process).\n\
         * Cart validation: `crates/klarna-domain/benches/cart.rs`, `Cart::from_input` on valid \
         carts.\n\
         * Memory store: `cargo run --release -p klarna-store-memory --example payment_memory` (RSS \
         growth / 100,000 ordered payments, each with its managed order).\n\
         * Store write transactions: `crates/klarna-store-sql/benches/store.rs` (an insert and \
         a compare-and-swap update per iteration, so two transactions).\n\n\
         \"not run\" means the benchmark produced no result in this run (for example PostgreSQL \
         without `DATABASE_URL`). Rows are defined in `xtask/src/bench.rs` (`ROWS`).\n",
    );
    if !results.failures.is_empty() {
        doc.push_str("\n## Failures in this run\n\n");
        for failure in &results.failures {
            let first = failure.lines().next().unwrap_or_default();
            let _ = writeln!(doc, "* {first}");
        }
    }
    doc
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
            { "name": "klarna-tests", "targets": [{ "kind": ["bench"], "name": "load" }] },
        ]});
        assert_eq!(bench_targets(&metadata), vec![("a", vec!["cart", "retry"])]);
    }

    #[test]
    fn executables_come_from_the_build_messages() {
        let metadata = json!({ "packages": [
            { "id": "path+file:///w/tests#klarna-tests@0.1.0", "name": "klarna-tests",
              "manifest_path": "/w/tests/Cargo.toml", "targets": [] },
        ]});
        let messages = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tests#klarna-tests@0.1.0","target":{"name":"flows","kind":["bench"]},"executable":"/t/release/deps/flows-1"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tests#klarna-tests@0.1.0","target":{"name":"klarna_tests","kind":["lib"]},"executable":null}"#,
            r#"{"reason":"compiler-artifact","package_id":"registry+https://x#serde@1.0.0","target":{"name":"serde","kind":["lib"]},"executable":"/t/x"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        let found = executables(&messages, &metadata);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found.get(&("klarna-tests".to_owned(), "flows".to_owned())),
            Some(&Executable {
                path: PathBuf::from("/t/release/deps/flows-1"),
                package_dir: PathBuf::from("/w/tests"),
            })
        );
    }

    #[test]
    fn options_accept_quick_and_reject_the_rest() {
        assert!(Options::parse(&["--quick".to_owned()]).is_ok_and(|options| options.quick));
        assert!(Options::parse(&[]).is_ok_and(|options| !options.quick));
        assert!(Options::parse(&["--slow".to_owned()]).is_err());
    }

    fn results() -> Results {
        let mut r = Results::default();
        r.criterion.insert("g/client".to_owned(), (1_100.0, None));
        r.criterion.insert("g/raw".to_owned(), (1_000.0, None));
        r.criterion
            .insert("sim/create".to_owned(), (2_000_000.0, Some(64.0)));
        r.printed.insert(
            "mem".to_owned(),
            "RSS before: 2 MiB\nRSS growth:  150 MiB\n".to_owned(),
        );
        r.json.insert(
            FLOWS.to_owned(),
            json!([{"name": "memory store", "flows_per_s": 420.5}]),
        );
        r.json.insert(
            GATEWAY.to_owned(),
            json!([{"name": "create_session", "time_ratio": 1.02, "time_ratio_p10": 0.97,
                "time_ratio_p90": 1.08, "client_us": 80.0}]),
        );
        r
    }

    #[test]
    fn sources_evaluate_from_criterion_programs_and_bench_json() {
        let r = results();
        let eval = |s| evaluate(s, &r).map(|f| f.value);
        let per_s = eval(Source::PerSecond("sim/create")).unwrap_or_default();
        assert!((per_s - 32_000.0).abs() < 1e-6);
        let us = eval(Source::MedianMicros("g/raw")).unwrap_or_default();
        assert!((us - 1.0).abs() < 1e-9);
        assert_eq!(
            eval(Source::Printed {
                program: "mem",
                label: "RSS growth:"
            }),
            Ok(150.0)
        );
        assert_eq!(eval(flows("memory store", "flows_per_s")), Ok(420.5));
        assert_eq!(
            evaluate(gateway("time_ratio"), &r),
            Ok(Figure {
                value: 1.02,
                spread: Some((0.97, 1.08))
            })
        );
        assert_eq!(
            evaluate(gateway("client_us"), &r),
            Ok(Figure::from(80.0)),
            "no spread without _p10 and _p90"
        );
        assert_eq!(eval(gateway("raw_us")), Err("not measured"));
        assert_eq!(eval(Source::MedianMicros("missing")), Err("not run"));
        assert_eq!(eval(Source::PerSecond("g/raw")), Err("no throughput set"));
        assert_eq!(eval(flows("PostgreSQL", "flows_per_s")), Err("not run"));
    }

    #[test]
    fn goals_are_judged_and_numbers_formatted() {
        assert_eq!(met(Goal::AtMost(1.05), 1.04), "yes");
        assert_eq!(met(Goal::AtMost(1.05), 1.06), "**NO**");
        assert_eq!(met(Goal::AtLeast(10_000.0), 9_999.0), "**NO**");
        assert_eq!(met(Goal::None, 1.0), "—");
        assert_eq!(number(1.0432), "1.04");
        assert_eq!(number(45.26), "45.3");
        assert_eq!(number(32_000.4), "32,000");
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(goal_text(Goal::AtLeast(10_000.0), "/s"), "≥ 10,000 /s");
    }

    #[test]
    fn criterion_files_parse_and_the_table_has_a_row_per_figure() {
        let meta = json!({"full_id": "cart_from_input/1000", "throughput": {"Elements": 1000}});
        let estimates = json!({"median": {"point_estimate": 45_000.0}});
        assert_eq!(
            parse_criterion(&meta, &estimates),
            Some(("cart_from_input/1000".to_owned(), (45_000.0, Some(1000.0))))
        );
        let mut r = results();
        r.criterion
            .insert("cart_from_input/1000".to_owned(), (45_000.0, Some(1000.0)));
        let table = render(&r);
        assert_eq!(table.lines().count(), ROWS.len() + 2);
        assert!(table.contains("| Cart validation, 1,000 lines | 45.0 µs | ≤ 100 µs | yes |"));
        assert!(table.contains("not run"));
        assert!(table.contains("| 1.02 × (p10–p90 0.97–1.08) | ≤ 1.05 × | yes |"));
    }
}
