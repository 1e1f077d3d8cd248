//! The Kubernetes manifests: the StatefulSet, its ConfigMap and Secrets, probes and grace.

use super::*;

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
