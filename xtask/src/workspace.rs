//! Helpers shared by the tasks: where the workspace is, running `cargo` and `git`, and reading
//! `cargo metadata`.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The error type of every task: a message for a human, printed once by `main`.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The workspace root, the parent of this crate's folder.
pub(crate) fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time; the compile-time value covers a binary
    // started by hand. Either way it is `<root>/xtask`.
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), PathBuf::from)
}

/// A `cargo` command in the workspace root, using the cargo that started us when there is one.
pub(crate) fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root());
    command
}

/// Runs a command with inherited stdio and environment; a non-zero exit is an error.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .map_err(|error| format!("cannot start `{}`: {error}", show(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(command)).into())
    }
}

/// Runs a command and returns its standard output; a non-zero exit is an error that carries
/// the command's standard error.
pub(crate) fn output(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot start `{}`: {error}", show(command)))?;
    if output.status.success() {
        Ok(String::from_utf8(output.stdout)?)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "`{}` failed ({}):\n{}",
            show(command),
            output.status,
            stderr.trim_end()
        )
        .into())
    }
}

/// The command line as it would be typed, for messages.
pub(crate) fn show(command: &Command) -> String {
    let program = command.get_program().to_string_lossy();
    // Show `cargo` rather than the toolchain path CARGO points at.
    let program = if program.ends_with("cargo") {
        "cargo".into()
    } else {
        program
    };
    let args: Vec<_> = command
        .get_args()
        .map(|arg| arg.to_string_lossy())
        .collect();
    format!("{program} {}", args.join(" "))
}

/// `cargo metadata --format-version 1 --no-deps`: the workspace members and their declared
/// dependencies, without resolving or building anything.
pub(crate) fn metadata() -> Result<Value> {
    let text = output(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    Ok(serde_json::from_str(&text)?)
}

/// The names of the workspace's packages in `metadata`.
pub(crate) fn package_names(metadata: &Value) -> impl Iterator<Item = &str> {
    packages(metadata).filter_map(|package| package.get("name").and_then(Value::as_str))
}

/// The workspace's packages in `metadata` (with `--no-deps`, exactly the members).
pub(crate) fn packages(metadata: &Value) -> impl Iterator<Item = &Value> {
    metadata
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}
