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

// ---------------------------------------------------------------------------------------
// compose.yaml

#[test]
fn compose_nodes_load_their_environment_and_reference_what_exists() {
    let dir = deploy();
    let Some(docs) = yaml_documents(&dir.join("compose.yaml")) else {
        return;
    };
    let compose = &docs[0];
    let vars = env_file(&read(&dir.join("compose.env.example")));
    let image_env = dockerfile_env(&read(&dir.join("Dockerfile")));
    let services = compose["services"].as_object().expect("services");
    let volumes = compose["volumes"].as_object().cloned().unwrap_or_default();
    for wanted in ["postgres", "redis", "minio", "coturn", "caddy"] {
        assert!(services.contains_key(wanted), "compose has no {wanted}");
    }
    let mut nodes = Vec::new();
    for (name, service) in services {
        if let Some(build) = service.get("build") {
            let context = dir.join(str_of(&build["context"]));
            assert!(
                context.is_dir(),
                "{name}: build context {}",
                context.display()
            );
            let dockerfile = context.join(str_of(&build["dockerfile"]));
            assert!(dockerfile.is_file(), "{name}: {}", dockerfile.display());
        }
        let depends = match service.get("depends_on") {
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            Some(Value::Array(list)) => list.iter().map(str_of).collect(),
            _ => Vec::new(),
        };
        for other in depends {
            assert!(
                services.contains_key(&other),
                "{name} depends on unknown {other}"
            );
        }
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = str_of(volume)
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            if source.starts_with('.') || source.starts_with('/') {
                assert!(dir.join(&source).exists(), "{name} mounts missing {source}");
            } else {
                assert!(
                    volumes.contains_key(&source),
                    "{name}: volume {source} is not declared"
                );
            }
        }
        let Some(env) = service.get("environment").and_then(Value::as_object) else {
            continue;
        };
        if !env.keys().any(|k| k.starts_with("ACCORD_")) {
            continue;
        }
        let mut full = image_env.clone();
        for (k, v) in env {
            full.insert(k.clone(), interpolate(&str_of(v), &vars));
        }
        let config = load(&format!("compose service {name}"), None, &full);
        nodes.push((name.clone(), service.clone(), full.clone()));

        // Media: the port the node listens on is the one published, over UDP (and TCP for
        // ICE over TCP), so the address it announces is reachable.
        let port = config.media.listen.port();
        let ports: Vec<String> = service["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        for proto in ["udp", "tcp"] {
            assert!(
                ports.contains(&format!("{port}:{port}/{proto}")),
                "{name}: media port {port}/{proto} is not published as itself: {ports:?}"
            );
        }
        let grace = duration_seconds(&str_of(&service["stop_grace_period"]));
        assert!(
            grace >= drain_deadline(&full) + AFTER_DEADLINE_SECONDS,
            "{name}: stop_grace_period {grace} s does not outlast the drain"
        );
        assert_eq!(str_of(&service["stop_signal"]), "SIGTERM", "{name}");
    }
    assert_eq!(nodes.len(), 2, "two Accord nodes");
    let ids: Vec<&String> = nodes
        .iter()
        .filter_map(|(_, _, env)| env.get("ACCORD_CLUSTER_NODE_ID"))
        .collect();
    assert_eq!(ids.len(), 2, "each node names itself");
    assert_ne!(ids[0], ids[1], "node ids differ");
    let keys: Vec<&String> = nodes
        .iter()
        .filter_map(|(_, _, env)| env.get("ACCORD_KEYS_DIR"))
        .collect();
    assert!(
        keys.len() == 2 && keys[0] == keys[1],
        "both nodes use one keys folder"
    );
    for (name, service, env) in &nodes {
        let mounts: Vec<String> = service["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        let keys_dir = &env["ACCORD_KEYS_DIR"];
        assert!(
            mounts
                .iter()
                .any(|m| m.starts_with("keys:") && m.contains(keys_dir.as_str())),
            "{name}: the shared keys volume is not at {keys_dir}"
        );
        assert!(
            env.contains_key("ACCORD_CLUSTER_REDIS_URL"),
            "{name}: no Redis"
        );
        assert_eq!(
            env.get("ACCORD_BLOBS_BACKEND").map(String::as_str),
            Some("s3"),
            "{name}"
        );
    }

    // Caddy proxies to the nodes by their service names and HTTP port.
    let caddyfile = read(&dir.join("Caddyfile"));
    let upstreams: Vec<&str> = caddyfile
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("reverse_proxy "))
        .expect("a reverse_proxy")
        .trim_end_matches('{')
        .split_whitespace()
        .collect();
    assert_eq!(upstreams.len(), nodes.len(), "Caddy proxies to every node");
    for upstream in upstreams {
        let (host, port) = upstream.split_once(':').expect("host:port");
        let (_, _, env) = nodes
            .iter()
            .find(|(name, _, _)| name == host)
            .unwrap_or_else(|| panic!("Caddy's upstream {host} is not a node"));
        let listen = env
            .get("ACCORD_HTTP_LISTEN")
            .expect("the image sets the listen address");
        assert!(
            listen.ends_with(&format!(":{port}")),
            "{host} listens on {listen}, not {port}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes

#[test]
fn kubernetes_manifests_load_their_environment_and_reference_what_exists() {
    let dir = deploy().join("k8s");
    let Some(kustomization) = yaml_documents(&dir.join("kustomization.yaml")) else {
        return;
    };
    let mut objects = Vec::new();
    for resource in kustomization[0]["resources"].as_array().expect("resources") {
        let path = dir.join(str_of(resource));
        assert!(
            path.is_file(),
            "kustomization lists missing {}",
            path.display()
        );
        objects.extend(yaml_documents(&path).expect("parsed like the kustomization"));
    }
    // Nothing in the directory is left out of the kustomization.
    for file in files_under(&dir) {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                kustomization[0]["resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| str_of(r) == name),
                "{name} is not in kustomization.yaml"
            );
        }
    }
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    for object in &objects {
        assert!(
            object["metadata"].get("namespace").is_none(),
            "{} {} names a namespace",
            object["kind"],
            object["metadata"]["name"]
        );
    }

    let set = objects
        .iter()
        .find(|o| o["kind"] == "StatefulSet")
        .expect("a StatefulSet")
        .clone();
    let pod = &set["spec"]["template"];
    let spec = &pod["spec"];
    let labels = pod["metadata"]["labels"].as_object().expect("pod labels");
    let selects_pods = |selector: &Value| {
        selector
            .as_object()
            .expect("a selector")
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    assert!(selects_pods(&set["spec"]["selector"]["matchLabels"]));
    let containers = spec["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];

    // The environment, in Kubernetes' order: the image, envFrom, then env (with $(VAR)).
    let mut env = dockerfile_env(&read(&deploy().join("Dockerfile")));
    for source in container["envFrom"].as_array().into_iter().flatten() {
        if let Some(name) = source["configMapRef"]["name"].as_str() {
            for (k, v) in find("ConfigMap", name)["data"].as_object().expect("data") {
                env.insert(k.clone(), str_of(v));
            }
        }
        if let Some(name) = source["secretRef"]["name"].as_str() {
            for (k, v) in find("Secret", name)["stringData"]
                .as_object()
                .expect("stringData")
            {
                env.insert(k.clone(), str_of(v));
            }
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let name = str_of(&var["name"]);
        let value = if let Some(value) = var.get("value") {
            let mut value = str_of(value);
            for (k, v) in &env {
                value = value.replace(&format!("$({k})"), v);
            }
            assert!(
                !value.contains("$("),
                "{name}: {value} refers to an unset variable"
            );
            value
        } else {
            match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => "accord-0".to_owned(),
                Some("status.podIP" | "status.hostIP") => "10.0.0.11".to_owned(),
                other => panic!("{name}: a value from {other:?}"),
            }
        };
        env.insert(name, value);
    }
    let config = load("the StatefulSet's container", None, &env);
    assert_eq!(
        env.get("ACCORD_CLUSTER_NODE_ID").map(String::as_str),
        Some("accord-0"),
        "each pod's name is its node id"
    );
    assert!(env.contains_key("ACCORD_CLUSTER_REDIS_URL"));

    // Stopping: SIGTERM drains, so no preStop, and the grace period outlasts the drain.
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("a grace period");
    assert!(
        grace >= drain_deadline(&env) + AFTER_DEADLINE_SECONDS,
        "grace {grace} s does not outlast the drain"
    );
    assert!(
        container["lifecycle"]["preStop"].is_null(),
        "no preStop: SIGTERM drains"
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    let http_port = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "http")
        .and_then(|p| p["containerPort"].as_u64())
        .expect("an http port");
    assert_eq!(u64::from(config.http.listen.port()), http_port);
    let media = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["protocol"] == "UDP")
        .and_then(|p| p["containerPort"].as_u64())
        .expect("a UDP media port");
    assert_eq!(u64::from(config.media.listen.port()), media);
    assert_eq!(spec["hostNetwork"], true, "media on the host's network");

    // The keys folder is the Secret every pod mounts, where ACCORD_KEYS_DIR points.
    let keys_dir = env.get("ACCORD_KEYS_DIR").expect("ACCORD_KEYS_DIR");
    let mount = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mountPath"] == keys_dir.as_str())
        .expect("the keys folder is mounted");
    let volume = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == mount["name"])
        .expect("the keys volume");
    let secret = find(
        "Secret",
        volume["secret"]["secretName"].as_str().expect("a Secret"),
    );
    for item in volume["secret"]["items"].as_array().into_iter().flatten() {
        let key = str_of(&item["key"]);
        assert!(
            secret["stringData"].get(&key).is_some(),
            "the keys volume maps {key}, which the Secret lacks"
        );
    }

    // Services, Ingress and the disruption budget reach these pods.
    let services: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Service").collect();
    assert!(
        services
            .iter()
            .any(|s| s["metadata"]["name"] == set["spec"]["serviceName"])
    );
    for service in &services {
        assert!(
            selects_pods(&service["spec"]["selector"]),
            "{}",
            service["metadata"]["name"]
        );
    }
    let ingress = objects
        .iter()
        .find(|o| o["kind"] == "Ingress")
        .expect("an Ingress");
    for rule in ingress["spec"]["rules"].as_array().into_iter().flatten() {
        for path in rule["http"]["paths"].as_array().into_iter().flatten() {
            let backend = str_of(&path["backend"]["service"]["name"]);
            find("Service", &backend);
        }
    }
    let pdb = objects
        .iter()
        .find(|o| o["kind"] == "PodDisruptionBudget")
        .expect("a PDB");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(selects_pods(&pdb["spec"]["selector"]["matchLabels"]));

    // kubectl renders the kustomization offline, where it is installed.
    match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Ok(output) => assert!(
            output.status.success(),
            "kubectl kustomize: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => eprintln!("kubectl not run: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// systemd

#[test]
fn the_systemd_unit_drains_and_its_environment_loads() {
    let dir = deploy();
    let unit = read(&dir.join("accord.service"));
    let directives: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |key: &str| {
        directives
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("accord.service has no {key}="))
    };
    assert_eq!(get("Type"), "simple");
    assert_eq!(get("KillSignal"), "SIGTERM");
    assert_eq!(get("User"), "accord");
    assert!(!get("StateDirectory").is_empty());
    let exec = get("ExecStart");
    assert!(
        exec.starts_with("/usr/local/bin/accord ") && exec.ends_with(" serve"),
        "{exec}"
    );

    let mut env: Env = directives
        .iter()
        .filter(|(k, _)| *k == "Environment")
        .filter_map(|(_, v)| v.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    env.extend(env_file(&read(&dir.join("accord.env.example"))));
    // The unit reads the sample config (installed as /etc/accord/accord.toml).
    load("accord.service", Some(&dir.join("accord.toml")), &env);
    let timeout = duration_seconds(get("TimeoutStopSec"));
    assert!(
        timeout >= drain_deadline(&env) + AFTER_DEADLINE_SECONDS,
        "TimeoutStopSec {timeout} s does not outlast the drain"
    );

    // systemd's own check, where it is installed, with the binary pointed at one that exists
    // (verify refuses a missing executable).
    let copy = std::env::temp_dir().join(format!("accord-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&copy).expect("a scratch folder");
    let unit_copy = copy.join("accord.service");
    std::fs::write(
        &unit_copy,
        unit.replace("/usr/local/bin/accord", "/bin/true"),
    )
    .expect("writing the unit's copy");
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_copy)
        .output()
    {
        Ok(output) => {
            // verify exits 0 on a directive it could not parse: it says so, naming the
            // file and line, and ignores the directive.
            let stderr = String::from_utf8_lossy(&output.stderr);
            let complaints: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("accord.service:"))
                .collect();
            assert!(
                output.status.success() && complaints.is_empty(),
                "systemd-analyze verify: {stderr}"
            );
        }
        Err(e) => eprintln!("systemd-analyze not run: {e}"),
    }
    let _ = std::fs::remove_dir_all(&copy);
}

// ---------------------------------------------------------------------------------------
// Dockerfile

#[test]
fn the_dockerfile_copies_what_exists_and_builds_the_accord_binary() {
    let root = repo();
    let dockerfile = read(&deploy().join("Dockerfile"));
    let instructions = dockerfile_instructions(&dockerfile);
    let ignore = read(&deploy().join("Dockerfile.dockerignore"));
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    let mut copied = Vec::new();
    for instruction in &instructions {
        let Some(args) = instruction.strip_prefix("COPY ") else {
            continue;
        };
        if args.contains("--from=") {
            continue;
        }
        let parts: Vec<&str> = args
            .split_whitespace()
            .filter(|a| !a.starts_with("--"))
            .collect();
        let (_destination, sources) = parts.split_last().expect("COPY sources destination");
        for source in sources {
            let source = source.trim_end_matches('/');
            assert!(
                root.join(source).exists(),
                "COPY {source}: not in the repository"
            );
            assert!(
                !ignored
                    .iter()
                    .any(|i| *i == source || source.starts_with(&format!("{i}/"))),
                "COPY {source}: excluded by Dockerfile.dockerignore"
            );
            copied.push(source.to_owned());
        }
    }

    // Every workspace member is in the build stage, or Cargo cannot load the workspace.
    let manifest = read(&root.join("Cargo.toml"));
    let members_line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace members");
    let members: Vec<&str> = members_line.split('"').skip(1).step_by(2).collect();
    assert!(!members.is_empty());
    for member in members
        .iter()
        .chain(["src", "migrations", "Cargo.toml", "Cargo.lock"].iter())
    {
        assert!(
            copied.iter().any(|c| c == member),
            "the build stage lacks {member}"
        );
    }

    // The binary: the root package's (named accord, from src/main.rs), built and run as such.
    let package = manifest
        .split("[package]")
        .nth(1)
        .expect("the root package");
    assert!(
        package.contains("name = \"accord\"\n"),
        "the root package is accord"
    );
    assert!(root.join("src/main.rs").is_file());
    let build = instructions
        .iter()
        .find(|i| i.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.contains("--bin accord") && build.contains("--release"),
        "{build}"
    );
    assert!(build.contains("target/release/accord"), "{build}");
    let entry = instructions
        .iter()
        .find_map(|i| i.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    assert!(entry.contains("/usr/local/bin/accord"), "{entry}");
    assert!(
        instructions
            .iter()
            .any(|i| i.starts_with("COPY --from=build") && i.ends_with("/usr/local/bin/accord")),
        "the runtime stage copies the binary to /usr/local/bin/accord"
    );

    // Runtime: not root, stopped with SIGTERM, ready means /readyz, the ports documented.
    let user = instructions
        .iter()
        .filter_map(|i| i.strip_prefix("USER "))
        .next_back()
        .expect("a USER");
    assert!(
        !user.starts_with("root") && !user.starts_with("0:") && user != "0",
        "USER {user}"
    );
    assert!(instructions.iter().any(|i| i == "STOPSIGNAL SIGTERM"));
    let health = instructions
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK"))
        .expect("a HEALTHCHECK");
    assert!(health.contains("/readyz"), "{health}");
    let expose = instructions
        .iter()
        .find_map(|i| i.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    let env = dockerfile_env(&dockerfile);
    let config = load("the image's ENV", None, &env);
    assert!(
        expose.contains(&format!("{}/tcp", config.http.listen.port())),
        "{expose}"
    );
    assert!(
        expose.contains(&format!("{}/udp", config.media.listen.port())),
        "{expose}"
    );
    assert!(
        env.get("ACCORD_DATA_DIR").is_some_and(|d| instructions
            .iter()
            .any(|i| i.contains(d.as_str()) && i.starts_with("VOLUME"))),
        "the data directory is a volume"
    );
}

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
        "What works now",
    ] {
        assert!(
            guide.contains(&format!("## {topic}")),
            "docs/operations.md lacks \"## {topic}\""
        );
    }
}
