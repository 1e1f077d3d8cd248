//! The deployment files in `deploy/` are held to the code they deploy, so that renaming a
//! config key, a binary or a file without updating them fails here rather than in someone's
//! data centre:
//! - every `ACCORD_*` name in `deploy/` and `docs/operations.md` is one `Config::load` knows;
//! - each node's whole environment in compose, Kubernetes and systemd loads without an
//!   unknown name or a bad value;
//! - the YAML parses (PyYAML through `python3`: no YAML crate in the workspace; in CI it must be
//!   there, elsewhere its absence skips only the YAML checks) and what it references exists:
//!   files, services, volumes, ConfigMaps and Secrets;
//! - the Dockerfile copies sources that exist, builds the binary that exists, and stops,
//!   checks readiness and runs as the operations guide says;
//! - every stop timeout outlasts the drain deadline.
//!
//! Docker has no daemon on the project's machine: the image itself is not built here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use accord::config::Config;
use serde_json::Value;

/// Names that look like settings but are not: the line the server prints when ready, and
/// the load tool's key.
const NOT_CONFIG: &[&str] = &["ACCORD_READY", "ACCORD_LOAD_API_KEY"];

/// The default drain deadline (`[cluster] drain_deadline_seconds`) when a file sets none.
const DEFAULT_DRAIN_DEADLINE_SECONDS: u64 = 14_400;

/// What a stop timeout must allow beyond the drain deadline: a draining node gives stopped
/// recordings 15 minutes to be finalised and stored (`signaling/src/drain.rs`), and its
/// participants a few seconds to hear that they move.
const AFTER_DEADLINE_SECONDS: u64 = 15 * 60 + 60;

type Env = BTreeMap<String, String>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// An empty TOML file, so that `Config::load` never picks up a stray `./accord.toml`.
fn empty_config() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("accord-deploy-files-{}.toml", std::process::id()));
    std::fs::write(&path, "").expect("writing an empty config");
    path
}

/// Loads `env` over `file` (or the defaults) as the server would; panics naming `what` on
/// an error or an unknown `ACCORD_*` name.
fn load(what: &str, file: Option<&Path>, env: &Env) -> Config {
    let empty = empty_config();
    let file = file.unwrap_or(&empty);
    let pairs = env.iter().map(|(k, v)| (k.clone(), v.clone()));
    match Config::load(Some(file), pairs) {
        Ok((config, unknown)) => {
            assert!(
                unknown.is_empty(),
                "{what}: unknown to the configuration: {unknown:?}"
            );
            config
        }
        Err(e) => panic!("{what}: the configuration does not load: {e}"),
    }
}

/// Whether `Config::load` knows `name`. An unknown name is returned as such whatever its value;
/// a known one is applied (or its value refused), never returned.
fn is_config_name(name: &str) -> bool {
    let empty = empty_config();
    match Config::load(Some(&empty), [(name.to_owned(), "1".to_owned())]) {
        Ok((_, unknown)) => !unknown.iter().any(|u| u == name),
        Err(_) => true,
    }
}

/// The `ACCORD_*` names in `text`. Patterns (`ACCORD_CLUSTER_*`, `ACCORD_<SECTION>_<KEY>`)
/// are not names and are skipped.
fn accord_names(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("ACCORD_").map(|i| i + from) {
        let mut end = at;
        while end < bytes.len() && is_name(bytes[end]) {
            end += 1;
        }
        from = end.max(at + 1);
        let preceded = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let name = &text[at..end];
        if preceded || name.ends_with('_') {
            continue;
        }
        names.push(name.to_owned());
    }
    names
}

#[test]
fn every_accord_name_in_the_deployment_files_is_a_config_key() {
    let mut sources = files_under(&deploy());
    sources.push(repo().join("docs/operations.md"));
    let mut unknown = Vec::new();
    let mut seen = 0;
    for path in &sources {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for name in accord_names(&text) {
            seen += 1;
            if !NOT_CONFIG.contains(&name.as_str()) && !is_config_name(&name) {
                unknown.push(format!("{name} ({})", path.display()));
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        seen > 40,
        "only {seen} ACCORD_ names found: is the scan broken?"
    );
    assert!(unknown.is_empty(), "not config keys: {unknown:#?}");
}

#[test]
fn the_name_scan_finds_names_and_skips_patterns() {
    assert_eq!(
        accord_names("a ACCORD_HTTP_LISTEN=1 XACCORD_NO ACCORD_CLUSTER_* ACCORD_<SECTION>_<KEY>"),
        vec!["ACCORD_HTTP_LISTEN".to_owned()]
    );
    assert!(is_config_name("ACCORD_HTTP_LISTEN"));
    assert!(!is_config_name("ACCORD_HTTP_LISTEN_TYPO"));
}

// ---------------------------------------------------------------------------------------
// YAML, through python3 and PyYAML.

/// The documents of a YAML file as JSON, or `None` when PyYAML is not available outside CI.
fn yaml_documents(path: &Path) -> Option<Vec<Value>> {
    const SCRIPT: &str = "import json, sys, yaml\n\
        with open(sys.argv[1], encoding='utf-8') as f:\n\
        \x20   docs = [d for d in yaml.safe_load_all(f) if d is not None]\n\
        json.dump(docs, sys.stdout)\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .output();
    let missing = |why: String| {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 with PyYAML (python3-yaml) to parse {}: {why}",
            path.display()
        );
        eprintln!("skipping the YAML checks of {}: {why}", path.display());
        None
    };
    let output = match output {
        Ok(output) => output,
        Err(e) => return missing(format!("python3: {e}")),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("No module named 'yaml'") {
            return missing("no PyYAML".to_owned());
        }
        panic!("{} does not parse as YAML: {stderr}", path.display());
    }
    Some(serde_json::from_slice(&output.stdout).expect("python's JSON"))
}

fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `KEY=VALUE` lines (comments and blanks skipped), as in `.env` and systemd environment files.
fn env_file(text: &str) -> Env {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// The `ENV` defaults the image sets.
fn dockerfile_env(dockerfile: &str) -> Env {
    let mut env = Env::new();
    for instruction in dockerfile_instructions(dockerfile) {
        if let Some(rest) = instruction.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    env.insert(k.to_owned(), v.to_owned());
                }
            }
        }
    }
    env
}

/// Instructions with their continuation lines joined, comments dropped.
fn dockerfile_instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            if !current.trim().is_empty() {
                out.push(current.trim().to_owned());
            }
            current.clear();
        }
    }
    out
}

/// Compose's interpolation: `${NAME}`, `${NAME:?message}`, `${NAME:-default}`, `$$`.
fn interpolate(value: &str, vars: &Env) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let close = body
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {value}"));
            let expr = &body[..close];
            let name_end = expr.find([':', '-', '?']).unwrap_or(expr.len());
            let name = &expr[..name_end];
            let default = expr.split_once(":-").map(|(_, d)| d);
            match (vars.get(name), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    panic!("{name} is used in compose.yaml but not in compose.env.example")
                }
            }
            rest = &body[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `4h20m`, `4h20min`, `90s`, `15600` as seconds.
fn duration_seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    let mut unit = String::new();
    let mut flush = |number: &mut String, unit: &mut String| {
        if number.is_empty() {
            return;
        }
        let n: u64 = number
            .parse()
            .unwrap_or_else(|_| panic!("a duration: {text}"));
        total += n * match unit.as_str() {
            "h" => 3600,
            "m" | "min" => 60,
            "s" | "" => 1,
            other => panic!("unit {other} in {text}"),
        };
        number.clear();
        unit.clear();
    };
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            if !unit.is_empty() {
                flush(&mut number, &mut unit);
            }
            number.push(c);
        } else {
            unit.push(c);
        }
    }
    flush(&mut number, &mut unit);
    total
}

/// The drain deadline `env` sets. Read from the environment rather than the config struct,
/// so that this check does not depend on the field's name; `load` has checked the value.
fn drain_deadline(env: &Env) -> u64 {
    env.get("ACCORD_CLUSTER_DRAIN_DEADLINE_SECONDS")
        .map(|v| v.parse().expect("a number of seconds"))
        .unwrap_or(DEFAULT_DRAIN_DEADLINE_SECONDS)
}

mod compose;
mod dockerfile;
mod kubernetes;
mod systemd;

// ---------------------------------------------------------------------------------------
// Documents

#[test]
fn links_in_the_operations_guide_and_readme_point_at_files_that_exist() {
    let root = repo();
    for doc in ["docs/operations.md", "README.md"] {
        let path = root.join(doc);
        let text = read(&path);
        let base = path.parent().expect("a folder").to_path_buf();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split('#').next().unwrap_or_default();
            rest = &after[end..];
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            assert!(
                base.join(target).exists(),
                "{doc} links to missing {target}"
            );
        }
    }
    // The guide covers what the issue asks of it.
    let guide = read(&root.join("docs/operations.md"));
    for topic in [
        "Ports",
        "One node or several",
        "Sizing",
        "Backups",
        "Key rotation",
        "Upgrades",
        "Placement",
        "Monitoring",
        "Logs",
        "What works",
        "When a node dies",
    ] {
        assert!(
            guide.contains(&format!("## {topic}")),
            "docs/operations.md lacks \"## {topic}\""
        );
    }
}
