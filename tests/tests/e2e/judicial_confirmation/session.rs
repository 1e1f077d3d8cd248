//! The binary running on a seeded world: its configuration (the court, its system's
//! endpoint, the connector's timings), the deployment started on the world's storage, the
//! staff signed in on it, and the checks every test makes of its log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::world::{COURT, ID_NUMBER, PASSWORD, SECRET, Seeded};

/// The connector's lease when a test does not care: an attempt may then take 120 s.
pub const LONG_LEASE_MS: u64 = 130_000;

/// Writes the configuration: the court with its secret and, when given, its system's
/// endpoint; retries from `retry_base_ms`; deliveries claimed for `lease_ms`.
pub fn write_config(
    root: &Path,
    endpoint: Option<&str>,
    retry_base_ms: u64,
    lease_ms: u64,
) -> Result<PathBuf> {
    let endpoint = endpoint.map_or(String::new(), |e| format!("endpoint = \"{e}\"\n"));
    let text = format!(
        "[confirmation]\nretry_base_ms = {retry_base_ms}\npoll_ms = 100\nlease_ms = {lease_ms}\n\n\
         [[confirmation.courts]]\nname = \"{COURT}\"\n{endpoint}hmac_secret = \"{SECRET}\"\n"
    );
    let path = root.join("accord.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The deployment under test on `seeded`'s storage, every node with the configuration at
/// `config`: started again on the same storage after a SIGKILL, it is the same service.
pub async fn serve(seeded: &Seeded, config: &Path) -> Result<TestServer> {
    let env = seeded.storage.server_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = config.display().to_string();
    TestServer::start_with_args(&env, &["--config", config.as_str()]).await
}

/// Fails when the server's log carries what no log line may: a party's name, phone or ID
/// number, a join token (JWTs start `eyJ`) or a link with one, the court's shared secret.
pub fn ensure_log_clean(server: &TestServer) -> Result<()> {
    ensure_log_file_clean(server.log_path())
}

/// [`ensure_log_clean`] on the log at `path` (of a server that may be gone).
pub fn ensure_log_file_clean(path: &Path) -> Result<()> {
    let log = std::fs::read_to_string(path)?;
    for secret in [
        "张三",
        "李四",
        "13800138000",
        "13900139000",
        ID_NUMBER,
        "eyJ",
        "#token=",
        SECRET,
    ] {
        let line = log.lines().find(|line| line.contains(secret));
        ensure!(line.is_none(), "the server logged {secret:?}: {line:?}");
    }
    Ok(())
}

/// `accord audit verify` on `seeded`'s store, as an operator runs it on any node: (exit
/// code, output).
pub async fn audit_verify(seeded: &Seeded, config: &Path) -> Result<(i32, String)> {
    let bin = accord_tests::server::accord_binary()?;
    let mut command = tokio::process::Command::new(&bin);
    command
        .arg("--config")
        .arg(config)
        .args(["audit", "verify"])
        .envs(seeded.storage.tool_env())
        .kill_on_drop(true);
    // The harness's own variables are not the binary's (each would be warned about).
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("ACCORD_TEST_")) {
        command.env_remove(key);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .context("accord audit verify ran for more than a minute")??;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.code().unwrap_or(-1), text))
}

/// A running binary and who acts on it.
pub struct Session {
    /// The server.
    pub server: TestServer,
    /// Its API.
    pub api: StaffApi,
    /// The mediator's access token.
    pub mediator: String,
    /// The court user's access token.
    pub court: String,
}

impl Session {
    /// Signs the mediator and the court user in on `server`.
    pub async fn sign_in(server: TestServer) -> Result<Session> {
        let api = StaffApi::new(server.http_url());
        Ok(Session {
            mediator: api.login("li", PASSWORD).await?,
            court: api.login("judge", PASSWORD).await?,
            api,
            server,
        })
    }

    /// The confirmation view of `agreement`, as the mediator sees it.
    pub async fn view(&self, agreement: &str) -> Result<Value> {
        Ok(self
            .api
            .get(
                &format!("/api/v1/agreements/{agreement}/confirmation"),
                &self.mediator,
            )
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body)
    }

    /// How many entries of the case's audit trail have `action`.
    pub async fn audited(&self, case: &str, action: &str) -> Result<usize> {
        let list = self
            .api
            .get(&format!("/api/v1/cases/{case}/audit"), &self.mediator)
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body;
        let items = list["items"]
            .as_array()
            .with_context(|| format!("no audit items in {list}"))?;
        Ok(items.iter().filter(|i| i["action"] == action).count())
    }

    /// The mediator sends the case links; every required party applies with theirs. Returns
    /// the view after the last application.
    pub async fn everyone_applies(&self, agreement: &str) -> Result<Value> {
        let links = self
            .api
            .post(
                &format!("/api/v1/agreements/{agreement}/confirmation/links"),
                json!({}),
                &self.mediator,
            )
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body;
        let links = links["links"]
            .as_array()
            .with_context(|| format!("no links in {links}"))?;
        ensure!(links.len() == 2, "a link per party: {links:?}");
        let mut view = Value::Null;
        for (n, link) in links.iter().enumerate() {
            let token = link["link"]
                .as_str()
                .and_then(|l| l.split_once("#token="))
                .map(|(_, token)| token.to_owned())
                .with_context(|| format!("no token in {link}"))?;
            view = self
                .api
                .post(
                    &format!("/api/v1/agreements/{agreement}/confirmation/apply"),
                    json!({"address": format!("深圳市宝安区新安街道{}号", n + 1), "declarations": true}),
                    &token,
                )
                .await?
                .expect(reqwest::StatusCode::OK)?
                .body;
        }
        Ok(view)
    }

    /// Waits until the mediator's view of `agreement` satisfies `done`, for up to `timeout`.
    pub async fn wait_for_view(
        &self,
        agreement: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.view(agreement).await?;
            if done(&view) {
                return Ok(view);
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "{what} did not happen within {timeout:?}; the view: {view}"
            );
            // Views are rate-limited per caller (120 a minute): poll well under that.
            tokio::time::sleep(Duration::from_millis(750)).await;
        }
    }
}
