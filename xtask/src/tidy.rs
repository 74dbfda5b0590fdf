//! `cargo xtask tidy`: repository policy as code.
//!
//! Five checks: every `.rs` file opens with a `//!` line; the dependency rules of DESIGN.md §2
//! (the "Architecture Invariant" lines of ARCHITECTURE.md); no ignored tests; every member
//! inherits the workspace lints; the HTTP, TLS and SQL stacks resolve to one major version
//! each. The dependency rules are data, in the tables right below.
//! A rule about a crate that does not exist yet is skipped, so rules can land before crates.

use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::workspace::{self, Result};

// ---------------------------------------------------------------------------------------------
// The rules. Names are package names; a trailing `*` matches any suffix (`klarna-store-*`).
// Only NORMAL dependencies are checked: dev-dependencies may use anything (tests need adapters
// and servers), and build-dependencies do not reach the compiled crate.
// ---------------------------------------------------------------------------------------------

/// What each crate may name as a normal dependency.
const CRATE_RULES: &[CrateRule] = &[
    CrateRule {
        krate: "klarna-domain",
        // serde only behind an opt-in feature (DESIGN.md §2), proptest only behind `test-util`.
        deps: Deps::Only(&[always("thiserror"), optional("proptest"), optional("serde")]),
        why: "the domain is pure: std, thiserror and small pure crates behind opt-in features",
    },
    CrateRule {
        krate: "klarna-ports",
        deps: Deps::Only(&[
            always("klarna-domain"),
            always("async-trait"),
            always("thiserror"),
            optional("mockall"),
            // Only for the store contract suite behind `test-util` (concurrent checks spawn tasks).
            optional("tokio"),
        ]),
        why: "ports speak only domain types and their own errors",
    },
    CrateRule {
        krate: "klarna-service",
        deps: Deps::Never(&[
            "klarna-api",
            "klarna-gateway-*",
            "klarna-store-*",
            "klarna-simulator",
            "klarna-cli",
            "klarna-payments",
            "reqwest",
            "sqlx",
            "axum",
            "hyper",
            "tokio",
        ]),
        why: "the service is generic over the ports and never names an adapter or a runtime",
    },
    CrateRule {
        krate: "klarna-api",
        deps: Deps::Never(&["klarna-*", "tokio", "reqwest", "sqlx", "axum", "hyper"]),
        why: "wire models are a leaf without I/O, so the simulator can use them and still \
              check the domain independently",
    },
    CrateRule {
        krate: "klarna-gateway-http",
        deps: Deps::Never(ADAPTER_NEVER),
        why: ADAPTER_WHY,
    },
    CrateRule {
        krate: "klarna-store-memory",
        deps: Deps::Never(ADAPTER_NEVER),
        why: ADAPTER_WHY,
    },
    CrateRule {
        krate: "klarna-store-sql",
        deps: Deps::Never(ADAPTER_NEVER),
        why: ADAPTER_WHY,
    },
    CrateRule {
        krate: "klarna-simulator",
        deps: Deps::Never(&[
            "klarna-domain",
            "klarna-ports",
            "klarna-service",
            "klarna-gateway-*",
            "klarna-store-*",
            "klarna-cli",
            "klarna-payments",
        ]),
        why: "the simulator validates independently of the domain, so the two check each other",
    },
    CrateRule {
        krate: "klarna-axum",
        deps: Deps::Never(&[
            "klarna-domain",
            "klarna-ports",
            "klarna-service",
            "klarna-api",
            "klarna-gateway-*",
            "klarna-store-*",
            "klarna-simulator",
            "klarna-cli",
            "klarna-demo",
            "reqwest",
            "sqlx",
        ]),
        why: "the web adapter speaks to the facade only (domain and ports types through its \
              re-exports); the merchant picks the gateway and store",
    },
    CrateRule {
        krate: "xtask",
        deps: Deps::Never(&["klarna-*"]),
        why: "xtask builds before and apart from the workspace crates",
    },
];

const ADAPTER_NEVER: &[&str] = &[
    "klarna-service",
    "klarna-gateway-*",
    "klarna-store-*",
    "klarna-simulator",
    "klarna-cli",
    "klarna-payments",
];
const ADAPTER_WHY: &str =
    "adapters depend on the domain and ports, never on each other or the service";

/// Third-party crates that only some of ours may name as a normal dependency.
const CONFINED: &[Confined] = &[
    Confined {
        dep: "reqwest",
        only_in: &["klarna-gateway-http", "klarna-simulator", "klarna-cli"],
        why: "HTTP clients stay inside the gateway (the simulator and CLI talk HTTP too)",
    },
    Confined {
        dep: "sqlx",
        only_in: &["klarna-store-sql"],
        why: "only the SQL store knows SQL",
    },
    Confined {
        dep: "axum",
        only_in: &[
            "klarna-simulator",
            "klarna-demo",
            "klarna-cli",
            "klarna-axum",
        ],
        why: "the HTTP servers are the simulator, the demo shop, and klarna-axum (the routes a \
              merchant mounts)",
    },
];

/// Crates whose whole resolved normal dependency tree (`cargo tree -e normal`, default features)
/// must not contain these packages, however indirectly. Default features are what a consumer
/// gets; what opt-in features such as `test-util` may add is policed by the allow-lists above.
const TREE_RULES: &[TreeRule] = &[
    TreeRule {
        krate: "klarna-domain",
        absent: &["tokio", "reqwest", "sqlx", "axum", "hyper", "async-trait"],
    },
    TreeRule {
        krate: "klarna-ports",
        absent: &["tokio", "reqwest", "sqlx", "axum", "hyper"],
    },
    TreeRule {
        krate: "klarna-service",
        absent: &["tokio", "reqwest", "sqlx", "axum", "hyper"],
    },
    TreeRule {
        krate: "klarna-api",
        absent: &["tokio", "reqwest", "sqlx", "axum", "hyper"],
    },
    // The facade comes without adapters here: the merchant's own dependency picks them.
    TreeRule {
        krate: "klarna-axum",
        absent: &["reqwest", "sqlx"],
    },
];

/// Packages that must resolve to ONE major version in the whole workspace (every member, every
/// feature, every target, dev and build dependencies included): two majors of an HTTP, TLS or
/// SQL stack are two copies built, and two sets of bugs and advisories to follow. A 0.x
/// version counts x as the major (Cargo's compatibility rule), so 0.12 and 0.13 are two.
const SINGLE_MAJOR: &[&str] = &["reqwest", "hyper", "rustls", "sqlx"];

/// Folders whose `.rs` files the file checks look at.
const SOURCE_ROOTS: &[&str] = &["crates", "xtask", "tests"];

// ---------------------------------------------------------------------------------------------
// Rule types.
// ---------------------------------------------------------------------------------------------

/// The dependency rule of one crate.
#[derive(Debug)]
struct CrateRule {
    krate: &'static str,
    deps: Deps,
    why: &'static str,
}

/// An allow-list or a deny-list of normal dependencies.
#[derive(Debug)]
enum Deps {
    /// Nothing outside this list.
    Only(&'static [Allowed]),
    /// Anything but these.
    Never(&'static [&'static str]),
}

/// One entry of an allow-list.
#[derive(Debug)]
struct Allowed {
    name: &'static str,
    /// The dependency must be `optional = true`, i.e. behind a feature.
    optional_only: bool,
}

const fn always(name: &'static str) -> Allowed {
    Allowed {
        name,
        optional_only: false,
    }
}

const fn optional(name: &'static str) -> Allowed {
    Allowed {
        name,
        optional_only: true,
    }
}

/// A third-party crate that only the listed crates may depend on.
#[derive(Debug)]
struct Confined {
    dep: &'static str,
    only_in: &'static [&'static str],
    why: &'static str,
}

/// Packages that must be absent from a crate's resolved normal dependency tree.
#[derive(Debug)]
struct TreeRule {
    krate: &'static str,
    absent: &'static [&'static str],
}

/// One broken rule, with the file to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    file: String,
    message: String,
}

impl Violation {
    fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

// ---------------------------------------------------------------------------------------------
// The task.
// ---------------------------------------------------------------------------------------------

/// Runs every check, prints each violation, and fails if there is any.
///
/// # Errors
///
/// When a check finds a violation, or when `git` or `cargo` cannot be run.
pub(crate) fn run() -> Result<()> {
    let violations = check()?;
    for violation in &violations {
        eprintln!("tidy: {violation}");
    }
    if violations.is_empty() {
        println!("tidy: ok");
        Ok(())
    } else {
        Err(format!("{} violation(s), listed above", violations.len()).into())
    }
}

/// Runs every check and collects the violations.
fn check() -> Result<Vec<Violation>> {
    let root = workspace::root();
    let mut violations = Vec::new();

    for file in source_files(&root)? {
        let text = fs::read_to_string(root.join(&file))
            .map_err(|error| format!("cannot read {file}: {error}"))?;
        if !has_module_doc_header(&text) {
            violations.push(Violation::new(
                &file,
                "the first line must be a `//!` comment saying what the file is for",
            ));
        }
        for line in ignore_attribute_lines(&text) {
            violations.push(Violation::new(
                format!("{file}:{line}"),
                "ignored test: fix it or delete it (no ignored tests in this repository)",
            ));
        }
    }

    let metadata = workspace::metadata()?;
    let workspace_root = metadata
        .get("workspace_root")
        .and_then(Value::as_str)
        .unwrap_or("");
    for package in workspace::packages(&metadata) {
        let manifest = manifest_path(package, workspace_root);
        let text = fs::read_to_string(root.join(&manifest))
            .map_err(|error| format!("cannot read {manifest}: {error}"))?;
        if !has_workspace_lints(&text) {
            violations.push(Violation::new(
                manifest,
                "missing `[lints] workspace = true`: every member inherits the workspace lints",
            ));
        }
    }
    violations.extend(check_dependencies(&metadata));

    let names: Vec<&str> = workspace::package_names(&metadata).collect();
    for rule in TREE_RULES.iter().filter(|rule| names.contains(&rule.krate)) {
        // Default features on purpose: `test-util` may pull tokio into the ports for the store
        // contract suite, and CRATE_RULES already limits what optional dependencies may be.
        let tree = workspace::output(workspace::cargo().args([
            "tree",
            "--package",
            rule.krate,
            "--edges",
            "normal",
            "--prefix",
            "none",
        ]))?;
        let manifest = workspace::packages(&metadata)
            .find(|package| package.get("name").and_then(Value::as_str) == Some(rule.krate))
            .map_or_else(
                || rule.krate.to_owned(),
                |package| manifest_path(package, workspace_root),
            );
        violations.extend(check_tree(rule, &manifest, &tree));
    }

    let tree = workspace::output(workspace::cargo().args([
        "tree",
        "--workspace",
        "--all-features",
        "--target",
        "all",
        "--edges",
        "normal,build,dev",
        "--prefix",
        "none",
    ]))?;
    violations.extend(check_single_major(SINGLE_MAJOR, &tree));
    Ok(violations)
}

/// The `.rs` files under [`SOURCE_ROOTS`] that git tracks or would track (untracked but not
/// ignored), as paths relative to the workspace root.
fn source_files(root: &Path) -> Result<Vec<String>> {
    let mut command = std::process::Command::new("git");
    command
        .current_dir(root)
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
        ])
        .args(SOURCE_ROOTS);
    let listing = workspace::output(&mut command)?;
    let mut files: Vec<String> = listing
        .lines()
        .filter(|path| path.ends_with(".rs"))
        // A tracked file deleted in the work tree is still listed; it has nothing to check.
        .filter(|path| root.join(path).is_file())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// The package's manifest path relative to the workspace root, for messages.
fn manifest_path(package: &Value, workspace_root: &str) -> String {
    let path = package
        .get("manifest_path")
        .and_then(Value::as_str)
        .unwrap_or("Cargo.toml");
    path.strip_prefix(workspace_root)
        .map_or(path, |rest| rest.trim_start_matches('/'))
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// The checks, as pure functions over text and data.
// ---------------------------------------------------------------------------------------------

/// Whether the first line of a source file is an inner doc comment (`//!`).
fn has_module_doc_header(text: &str) -> bool {
    text.lines()
        .next()
        .is_some_and(|first| first.starts_with("//!"))
}

/// Spelled in two halves so that this file does not trip its own check.
const IGNORE_ATTRIBUTE: &str = concat!("#", "[ignore");

/// The 1-based numbers of the lines that carry an ignore attribute. Comment lines are skipped,
/// so docs may still talk about the attribute.
fn ignore_attribute_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            !line.starts_with("//") && line.contains(IGNORE_ATTRIBUTE)
        })
        .map(|(index, _)| index + 1)
        .collect()
}

/// Whether a `Cargo.toml` has `workspace = true` in its `[lints]` table (or the dotted
/// `lints.workspace = true` at the top level).
fn has_workspace_lints(manifest: &str) -> bool {
    let mut table = String::new();
    for line in manifest.lines() {
        let compact: String = line
            .split('#')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if compact.starts_with('[') {
            table = compact;
        } else if (table == "[lints]" && compact == "workspace=true")
            || (table.is_empty() && compact == "lints.workspace=true")
        {
            return true;
        }
    }
    false
}

/// Whether `name` matches `pattern`, where a trailing `*` matches any suffix.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// A declared normal dependency of a workspace package.
#[derive(Debug)]
struct NormalDep<'a> {
    name: &'a str,
    optional: bool,
}

/// The normal (not dev, not build) dependencies a package declares in `cargo metadata`.
fn normal_deps(package: &Value) -> Vec<NormalDep<'_>> {
    package
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|dep| dep.get("kind").is_none_or(Value::is_null))
        .filter_map(|dep| {
            Some(NormalDep {
                name: dep.get("name")?.as_str()?,
                optional: dep
                    .get("optional")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// Checks [`CRATE_RULES`] and [`CONFINED`] against the declared dependencies in `cargo metadata
/// --format-version 1 --no-deps` output. Packages the rules name but the workspace lacks are
/// skipped.
fn check_dependencies(metadata: &Value) -> Vec<Violation> {
    let workspace_root = metadata
        .get("workspace_root")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut violations = Vec::new();
    for package in workspace::packages(metadata) {
        let Some(name) = package.get("name").and_then(Value::as_str) else {
            continue;
        };
        let manifest = manifest_path(package, workspace_root);
        let deps = normal_deps(package);

        for rule in CRATE_RULES.iter().filter(|rule| rule.krate == name) {
            for dep in &deps {
                let problem = match rule.deps {
                    Deps::Only(allowed) => match allowed.iter().find(|a| matches(a.name, dep.name))
                    {
                        None => Some(format!("may not depend on `{}`", dep.name)),
                        Some(entry) if entry.optional_only && !dep.optional => Some(format!(
                            "may depend on `{}` only as an optional dependency",
                            dep.name
                        )),
                        Some(_) => None,
                    },
                    Deps::Never(denied) => denied
                        .iter()
                        .any(|pattern| matches(pattern, dep.name))
                        .then(|| format!("may not depend on `{}`", dep.name)),
                };
                if let Some(problem) = problem {
                    violations.push(Violation::new(
                        &manifest,
                        format!("`{name}` {problem} ({})", rule.why),
                    ));
                }
            }
        }

        for confined in CONFINED {
            let declared = deps.iter().any(|dep| dep.name == confined.dep);
            if declared && !confined.only_in.contains(&name) {
                violations.push(Violation::new(
                    &manifest,
                    format!(
                        "`{name}` may not depend on `{}`: only {} may ({})",
                        confined.dep,
                        confined.only_in.join(", "),
                        confined.why
                    ),
                ));
            }
        }
    }
    violations
}

/// Checks one [`TreeRule`] against `cargo tree --prefix none` output (one `name vX.Y.Z ...`
/// line per package).
fn check_tree(rule: &TreeRule, manifest: &str, tree: &str) -> Vec<Violation> {
    let present: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    rule.absent
        .iter()
        .filter(|absent| present.contains(absent))
        .map(|absent| {
            Violation::new(
                manifest,
                format!(
                    "`{absent}` is in the normal dependency tree of `{}` (`cargo tree -p {} -e normal -i {absent}` shows the path)",
                    rule.krate, rule.krate
                ),
            )
        })
        .collect()
}

/// The compatibility class of a version: `0.x` below 1.0, else the major (`1.12.0` → `1`,
/// `0.13.5` → `0.13`, `0.0.3` → `0.0.3`, `0.9.0-alpha.1` → `0.9`).
fn major(version: &str) -> String {
    let release = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<&str> = release.split('.').collect();
    match parts.as_slice() {
        ["0", "0", patch, ..] => format!("0.0.{patch}"),
        ["0", minor, ..] => format!("0.{minor}"),
        [major, ..] => (*major).to_owned(),
        [] => version.to_owned(),
    }
}

/// Checks that each of `names` appears in at most one major version in `cargo tree --prefix
/// none` output (one `name vX.Y.Z ...` line per package).
fn check_single_major(names: &[&str], tree: &str) -> Vec<Violation> {
    let mut found: Vec<(&str, &str)> = tree
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            names.contains(&name).then_some((name, version))
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    names
        .iter()
        .filter_map(|name| {
            let versions: Vec<&str> = found
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .collect();
            let mut majors: Vec<String> = versions.iter().map(|v| major(v)).collect();
            majors.sort_unstable();
            majors.dedup();
            (majors.len() > 1).then(|| {
                let first = versions.first().copied().unwrap_or_default();
                Violation::new(
                    "Cargo.lock",
                    format!(
                        "`{name}` is in the tree in {} major versions ({}): keep one \
                         (`cargo tree --workspace --all-features --target all -i {name}@{first}` \
                         shows who pulls it)",
                        majors.len(),
                        versions.join(", ")
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `cargo metadata` value with one package per `(name, normal deps, dev deps)`; a dep
    /// name ending in `?` is optional.
    fn metadata(packages: &[(&str, &[&str], &[&str])]) -> Value {
        let dep = |name: &&str, kind: Value| {
            let optional = name.ends_with('?');
            json!({ "name": name.trim_end_matches('?'), "kind": kind, "optional": optional })
        };
        let packages: Vec<Value> = packages
            .iter()
            .map(|(name, normal, dev)| {
                let mut deps: Vec<Value> = normal.iter().map(|d| dep(d, Value::Null)).collect();
                deps.extend(dev.iter().map(|d| dep(d, json!("dev"))));
                json!({
                    "name": name,
                    "manifest_path": format!("/ws/crates/{name}/Cargo.toml"),
                    "dependencies": deps,
                })
            })
            .collect();
        json!({ "workspace_root": "/ws", "packages": packages })
    }

    fn messages(violations: &[Violation]) -> Vec<String> {
        violations.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn header_must_be_the_first_line() {
        assert!(has_module_doc_header(
            "//! What this file is for.\nfn main() {}\n"
        ));
        assert!(!has_module_doc_header("\n//! Too late.\n"));
        assert!(!has_module_doc_header(
            "/// An item doc, not a module doc.\nfn f() {}\n"
        ));
        assert!(!has_module_doc_header("// A plain comment.\n"));
        assert!(!has_module_doc_header(""));
    }

    #[test]
    fn ignore_attribute_is_found_outside_comments() {
        let source = format!(
            "//! Tests.\n// {IGNORE_ATTRIBUTE}] in a comment is fine\n#[test]\n    {IGNORE_ATTRIBUTE} = \"slow\"]\nfn t() {{}}\n"
        );
        assert_eq!(ignore_attribute_lines(&source), vec![4]);
        assert!(ignore_attribute_lines("#[test]\nfn t() {}\n").is_empty());
    }

    #[test]
    fn lints_table_must_opt_into_the_workspace() {
        assert!(has_workspace_lints(
            "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n"
        ));
        assert!(has_workspace_lints(
            "[lints] # shared\n  workspace=true  # yes\n"
        ));
        assert!(has_workspace_lints(
            "lints.workspace = true\n[package]\nname = \"a\"\n"
        ));
        assert!(!has_workspace_lints("[package]\nname = \"a\"\n"));
        assert!(!has_workspace_lints("[lints]\nworkspace = false\n"));
        // `workspace = true` under another table does not count.
        assert!(!has_workspace_lints(
            "[lints]\n[dependencies]\nworkspace = true\n"
        ));
    }

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(matches("klarna-store-*", "klarna-store-sql"));
        assert!(matches("tokio", "tokio"));
        assert!(!matches("tokio", "tokio-util"));
        assert!(!matches("klarna-store-*", "klarna-service"));
    }

    #[test]
    fn conforming_workspace_has_no_violations() {
        let metadata = metadata(&[
            ("klarna-domain", &["thiserror", "proptest?"], &["proptest"]),
            (
                "klarna-ports",
                &["klarna-domain", "async-trait", "thiserror", "mockall?"],
                &["tokio"],
            ),
            (
                "klarna-service",
                &["klarna-domain", "klarna-ports", "tracing"],
                &["klarna-store-memory", "tokio"],
            ),
            (
                "klarna-store-sql",
                &["klarna-domain", "klarna-ports", "sqlx"],
                &[],
            ),
            ("klarna-gateway-http", &["klarna-api", "reqwest"], &["axum"]),
            ("xtask", &["serde_json"], &[]),
        ]);
        assert_eq!(
            messages(&check_dependencies(&metadata)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn allow_list_rejects_unknown_and_non_optional_deps() {
        let metadata = metadata(&[("klarna-domain", &["thiserror", "tokio", "proptest"], &[])]);
        let found = messages(&check_dependencies(&metadata));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("crates/klarna-domain/Cargo.toml: "),
            "{found:#?}"
        );
        assert!(found[0].contains("may not depend on `tokio`"), "{found:#?}");
        assert!(
            found[1].contains("`proptest` only as an optional dependency"),
            "{found:#?}"
        );
    }

    #[test]
    fn deny_lists_catch_adapters_and_runtimes() {
        let metadata = metadata(&[
            (
                "klarna-service",
                &["klarna-ports", "klarna-store-memory", "tokio"],
                &[],
            ),
            ("klarna-store-memory", &["klarna-store-sql"], &[]),
            ("xtask", &["klarna-domain"], &[]),
        ]);
        let found = messages(&check_dependencies(&metadata));
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].contains("`klarna-service` may not depend on `klarna-store-memory`"));
        assert!(found[1].contains("`klarna-service` may not depend on `tokio`"));
        assert!(found[2].contains("`klarna-store-memory` may not depend on `klarna-store-sql`"));
        assert!(found[3].contains("`xtask` may not depend on `klarna-domain`"));
    }

    #[test]
    fn confined_crates_stay_in_their_adapters() {
        let metadata = metadata(&[
            ("klarna-payments", &["reqwest", "sqlx"], &[]),
            ("klarna-store-sql", &["sqlx"], &[]),
            ("klarna-tests", &[], &["reqwest", "sqlx", "axum"]),
        ]);
        let found = messages(&check_dependencies(&metadata));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("`klarna-payments` may not depend on `reqwest`"));
        assert!(
            found[1]
                .contains("`klarna-payments` may not depend on `sqlx`: only klarna-store-sql may")
        );
    }

    #[test]
    fn rules_for_missing_crates_are_skipped() {
        // No rule crate exists here, and `klarna-cli` has no rule of its own.
        let metadata = metadata(&[("klarna-cli", &["reqwest", "axum", "tokio"], &[])]);
        assert!(check_dependencies(&metadata).is_empty());
    }

    #[test]
    fn tree_check_finds_transitive_packages() {
        let rule = &TREE_RULES[0];
        let clean = "klarna-domain v0.1.0 (/ws/crates/klarna-domain)\nthiserror v2.0.1\nproc-macro2 v1.0.0\n";
        assert!(check_tree(rule, "crates/klarna-domain/Cargo.toml", clean).is_empty());

        let dirty =
            format!("{clean}some-helper v1.0.0\ntokio v1.40.0\ntokio-macros v2.0.0 (proc-macro)\n");
        let found = messages(&check_tree(rule, "crates/klarna-domain/Cargo.toml", &dirty));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("`tokio` is in the normal dependency tree of `klarna-domain`"));
    }

    #[test]
    fn majors_follow_cargos_compatibility_rule() {
        assert_eq!(major("1.12.0"), "1");
        assert_eq!(major("0.13.5"), "0.13");
        assert_eq!(major("0.0.3"), "0.0.3");
        assert_eq!(major("0.9.0-alpha.1"), "0.9");
        assert_eq!(major("2.0.0+build.7"), "2");
    }

    #[test]
    fn one_major_per_stack_package() {
        let names = SINGLE_MAJOR;
        let clean = "klarna-tests v0.1.0 (/ws/tests)\nreqwest v0.13.5\nhyper v1.12.0\nhyper v1.9.0\n\
                     rustls v0.23.46\nsqlx v0.9.0\nsqlx-core v0.9.0\nsqlx-core v0.8.6\n\
                     reqwest v0.13.5 (*)\n";
        assert!(
            check_single_major(names, clean).is_empty(),
            "same major twice is one"
        );

        let dirty = format!(
            "{clean}reqwest v0.12.28\nhyper v0.14.32\nsqlx-macros v0.9.0 (proc-macro)\nrustls v0.23.1\n"
        );
        let found = messages(&check_single_major(names, &dirty));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("`reqwest` is in the tree in 2 major versions (0.12.28, 0.13.5)"),
            "{found:#?}"
        );
        assert!(
            found[1]
                .contains("`hyper` is in the tree in 2 major versions (0.14.32, 1.12.0, 1.9.0)"),
            "{found:#?}"
        );
    }
}
