//! compose.yaml: the two nodes, the services they need, and the volumes.

use super::*;

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
