//! Measurement helpers shared by the benches that compare a variant with its hand-written
//! baseline (`tests/benches/flows.rs`, `crates/klarna-gateway-http/benches/client_overhead.rs`,
//! which includes this file by path).
//!
//! Two measurements hold still on a noisy machine:
//! * time, interleaved: every round runs each variant once, in an order that rotates from round
//!   to round, so a slow second hits all variants alike; the figure is the median of the
//!   per-round ratios, with its spread ([`Spread`]);
//! * instructions, under `valgrind --tool=callgrind`: the bench runs itself as a server (a
//!   child process, not under valgrind) and as a client under callgrind twice, with a small and a
//!   larger number of calls; the difference divided by the difference of the counts is the
//!   client's instructions per call, without start-up, warm-up or the server
//!   ([`instructions_per_call`]).

#![allow(dead_code, reason = "each bench uses the part of the helpers it needs")]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The argument that makes a bench binary run as the server of a callgrind measurement.
pub(crate) const SERVE: &str = "__serve";
/// The argument that makes a bench binary run as the measured client under callgrind.
pub(crate) const COUNT: &str = "__count";

/// Whether this is a short smoke run (`KLARNA_BENCH_QUICK` set, or `--quick`).
#[must_use]
pub(crate) fn quick() -> bool {
    std::env::var_os("KLARNA_BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick")
}

/// Where the bench writes its JSON: `KLARNA_BENCH_DIR` (set by `cargo xtask bench`), else
/// `CARGO_TARGET_DIR`, else the target directory that holds this binary.
#[must_use]
pub(crate) fn out_dir() -> PathBuf {
    if let Some(dir) =
        std::env::var_os("KLARNA_BENCH_DIR").or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
    {
        return PathBuf::from(dir);
    }
    // <target>/<profile>/deps/<bench>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Median and spread of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) p10: f64,
    pub(crate) p90: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values` (nearest-rank percentiles); `None` when empty.
    #[must_use]
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let last = sorted.len().checked_sub(1)?;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank within a short sample"
        )]
        let at = |q: f64| sorted[((last as f64) * q).round() as usize];
        Some(Self {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            min: sorted[0],
            max: sorted[last],
        })
    }

    /// `{name}`, `{name}_p10`, `{name}_p90`, `{name}_min`, `{name}_max` into a JSON object.
    pub(crate) fn put(&self, object: &mut serde_json::Map<String, serde_json::Value>, name: &str) {
        for (suffix, value) in [
            ("", self.median),
            ("_p10", self.p10),
            ("_p90", self.p90),
            ("_min", self.min),
            ("_max", self.max),
        ] {
            object.insert(format!("{name}{suffix}"), serde_json::json!(value));
        }
    }
}

/// Runs `rounds` rounds of every variant; in round `r` the variants run in the order
/// `r, r+1, …` (mod their count). `run(v)` runs variant `v` once and returns its measure
/// (seconds). Returns the measures by variant, one per round.
pub(crate) fn interleave(
    variants: usize,
    rounds: usize,
    mut run: impl FnMut(usize) -> f64,
) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::with_capacity(rounds); variants];
    for round in 0..rounds {
        for j in 0..variants {
            let v = (round + j) % variants;
            out[v].push(run(v));
        }
    }
    out
}

/// Per-round `a[i] / b[i]`.
#[must_use]
pub(crate) fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}

/// In a child started with [`SERVE`]: prints the server's base URL on the first line of stdout,
/// then exits when stdin closes (the parent dropped it or died).
pub(crate) fn serve_until_stdin_closes(url: &str) {
    println!("{url}");
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
}

/// A server child of this bench binary (`<exe> __serve <args>`), killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// Its base URL.
    pub(crate) url: String,
}

impl Server {
    /// Starts `<this exe> __serve <args>` and reads its base URL.
    ///
    /// # Errors
    ///
    /// When the child cannot start or prints no URL.
    pub(crate) fn start(args: &[&str]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .arg(SERVE)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("server child: {e}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let url = line.trim().to_owned();
        if url.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the server child printed no URL".to_owned());
        }
        Ok(Self { child, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `valgrind` can run here.
#[must_use]
pub(crate) fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Instructions the client spends per call: for each of `small` and `large`, starts a fresh
/// server (`<exe> __serve <server_args>`, not under valgrind) and runs
/// `valgrind --tool=callgrind <exe> __count <client_args> <url> <n>` (which must warm up, then
/// make `n` calls); returns `(I(large) - I(small)) / (large - small)`.
///
/// # Errors
///
/// When a run fails or its counts cannot be read.
pub(crate) fn instructions_per_call(
    server_args: &[&str],
    client_args: &[&str],
    small: u64,
    large: u64,
) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut counts = Vec::new();
    for n in [small, large] {
        let server = Server::start(server_args)?;
        let out =
            std::env::temp_dir().join(format!("klarna-bench-{}-{n}.callgrind", std::process::id()));
        let output = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .arg(COUNT)
            .args(client_args)
            .arg(&server.url)
            .arg(n.to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("valgrind: {e}"))?;
        drop(server);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            return Err(format!(
                "callgrind run of {client_args:?} with {n} calls failed ({}): {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        counts.push(callgrind_total(&text).ok_or("no `totals:` line in the callgrind output")?);
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "instruction counts far below 2^52"
    )]
    let per_call = (counts[1] as f64 - counts[0] as f64) / (large - small) as f64;
    Ok(per_call)
}

/// The first event (`Ir`) of the `totals:` (or `summary:`) line of a callgrind output file.
#[must_use]
pub(crate) fn callgrind_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The `n` argument of a [`COUNT`] run: the last argument.
#[must_use]
pub(crate) fn count_arg() -> u64 {
    std::env::args()
        .next_back()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
}

/// Writes `value` pretty-printed to `<out_dir>/<file>` and says where.
pub(crate) fn write_json(file: &str, value: &serde_json::Value) {
    let path = out_dir().join(file);
    match serde_json::to_string_pretty(value) {
        Ok(text) => match std::fs::write(&path, text) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        },
        Err(e) => eprintln!("cannot encode {file}: {e}"),
    }
}
