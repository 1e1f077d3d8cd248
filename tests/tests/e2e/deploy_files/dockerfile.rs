//! The Dockerfile: what it copies exists, it builds the binary, it runs as the guide says.

use super::*;

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

    // Every crate patched in place of crates.io's is there too, or Cargo cannot resolve the
    // workspace: a path missing from the image fails the build before it starts.
    let patches = manifest
        .split("[patch.crates-io]")
        .nth(1)
        .expect("the patched crates");
    let patch_paths: Vec<&str> = patches
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split("path = \"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!patch_paths.is_empty(), "patched crates are listed");
    for path in patch_paths {
        assert!(
            copied
                .iter()
                .any(|c| c == path || path.starts_with(&format!("{c}/"))),
            "the build stage lacks the patched crate {path}"
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
