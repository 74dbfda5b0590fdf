//! What the CLI's test binaries share: the built `klarna` run as a child process with a clean environment, and what it printed.
#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses part of it"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_klarna");

/// Exit code and output of one run.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    /// The JSON the command printed, after exit 0.
    pub(crate) fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The JSON error on stderr, after exit `code`.
    pub(crate) fn error(&self, code: i32) -> Value {
        assert_eq!(self.code, code, "{self:?}");
        serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stderr))
    }
}

/// Runs `klarna ARGS` with exactly `envs` of the variables it reads (the test process's own
/// `KLARNA_*` and `RUST_LOG` are removed), `stdin` piped in.
pub(crate) async fn run(
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
    stdin: Option<String>,
) -> Out {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(BIN);
        cmd.args(&args);
        for var in [
            "KLARNA_BASE_URL",
            "KLARNA_REGION",
            "KLARNA_PRODUCTION",
            "KLARNA_STORE_URL",
            "KLARNA_STORE_KEY",
            "KLARNA_KEY_NAMESPACE",
            "KLARNA_USERNAME",
            "KLARNA_PASSWORD",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(envs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}
