//! The systemd unit: it drains on SIGTERM and its environment loads.

use super::*;

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
