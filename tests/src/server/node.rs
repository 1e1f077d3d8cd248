//! One `accord serve` child process: started with the environment its deployment gives it,
//! its output copied into the deployment's log, its ready line parsed.

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, oneshot};

/// How long `accord serve` may take to print its ready line (PostgreSQL migrations included).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The line prefix the server prints on stdout once it listens.
const READY_PREFIX: &str = "ACCORD_READY";

/// Variables only the harness reads; passed on, each would earn an "unknown ACCORD_
/// variable" warning in the server's log.
const HARNESS_ONLY: [&str; 6] = [
    "ACCORD_BIN",
    "ACCORD_TEST_KEEP",
    "ACCORD_TEST_LOG",
    "ACCORD_TEST_DEPLOYMENT",
    "ACCORD_TEST_POSTGRES_URL",
    "ACCORD_TEST_REDIS_URL",
];

/// The log file every node of one deployment writes into, so a test reads one log whatever
/// the deployment.
pub(super) type SharedLog = Arc<Mutex<File>>;

/// See the module docs.
#[derive(Debug)]
pub(super) struct Node {
    child: Child,
    http: SocketAddr,
    media: SocketAddr,
}

impl Node {
    /// Starts `bin serve ARGS` with `env` (applied in order, later wins) and waits for its
    /// ready line. `tag` prefixes its lines in the log at `log_path`.
    pub(super) async fn start(
        bin: &Path,
        env: &[(String, String)],
        args: &[&str],
        log: SharedLog,
        log_path: &Path,
        tag: &str,
    ) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("ACCORD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in HARNESS_ONLY {
            cmd.env_remove(key);
        }
        for (key, value) in env {
            if !HARNESS_ONLY.contains(&key.as_str()) {
                cmd.env(key, value);
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {} serve", bin.display()))?;

        let (ready_tx, ready_rx) = oneshot::channel();
        let stdout = child.stdout.take().context("child stdout not piped")?;
        let stderr = child.stderr.take().context("child stderr not piped")?;
        let out_tag = format!("[{tag}out]");
        let err_tag = format!("[{tag}err]");
        tokio::spawn(copy_lines(stdout, out_tag, log.clone(), Some(ready_tx)));
        tokio::spawn(copy_lines(stderr, err_tag, log, None));

        let line = match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                let status = child.wait().await.ok();
                bail!(
                    "accord serve exited before printing {READY_PREFIX} (status {status:?}); \
                     log {}:\n{}",
                    log_path.display(),
                    crate::tail_of_file(log_path, 40)
                );
            }
            Err(_) => {
                let _ = child.start_kill();
                bail!(
                    "accord serve printed no {READY_PREFIX} line within {READY_TIMEOUT:?}; \
                     log {}:\n{}",
                    log_path.display(),
                    crate::tail_of_file(log_path, 40)
                );
            }
        };
        let (http, media) = parse_ready_line(&line)?;
        Ok(Self { child, http, media })
    }

    pub(super) fn http(&self) -> SocketAddr {
        self.http
    }

    pub(super) fn media(&self) -> SocketAddr {
        self.media
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills it (SIGKILL through tokio) and gives it 5 s to be reaped.
    pub(super) async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// Sends SIGKILL (no shutdown code runs) and waits until the process is gone.
    pub(super) async fn kill_hard(&mut self) -> Result<()> {
        if self.exited().is_some() {
            return Ok(());
        }
        self.signal("-9")?;
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the killed server did not exit within 10 s")?
            .context("waiting for the killed server")?;
        Ok(())
    }

    /// Sends SIGTERM.
    pub(super) fn terminate(&self) -> Result<()> {
        self.signal("-TERM")
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.pid().context("the server has already exited")?;
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .with_context(|| format!("running kill {signal}"))?;
        ensure!(status.success(), "kill {signal} {pid} failed ({status})");
        Ok(())
    }

    /// Waits up to `within` for the process to exit by itself.
    pub(super) async fn wait_exit(&mut self, within: Duration) -> Option<Result<ExitStatus>> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|status| status.context("waiting for the server to exit"))
    }

    /// Asks the process to end without waiting (a test that failed drops its servers).
    pub(super) fn start_kill(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Creates the log file every node of a deployment writes into.
pub(super) async fn create_log(path: &Path) -> Result<SharedLog> {
    let file = File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    Ok(Arc::new(Mutex::new(file)))
}

/// A node's folders under the deployment's directory: `<dir>/<name>/data`.
pub(super) fn data_dir_in(dir: &Path, name: &str) -> Result<PathBuf> {
    let data = dir.join(name).join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    Ok(data)
}

/// Parses `ACCORD_READY http=127.0.0.1:PORT media=127.0.0.1:PORT`.
pub(super) fn parse_ready_line(line: &str) -> Result<(SocketAddr, SocketAddr)> {
    let mut http = None;
    let mut media = None;
    for word in line.split_whitespace().skip(1) {
        if let Some(v) = word.strip_prefix("http=") {
            http = Some(
                v.parse()
                    .with_context(|| format!("bad http address in {line:?}"))?,
            );
        } else if let Some(v) = word.strip_prefix("media=") {
            media = Some(
                v.parse()
                    .with_context(|| format!("bad media address in {line:?}"))?,
            );
        }
    }
    match (http, media) {
        (Some(h), Some(m)) => Ok((h, m)),
        _ => Err(anyhow!("ready line lacks http= or media=: {line:?}")),
    }
}

/// Copies one output stream of the child into the log, handing the ready line to `ready`.
async fn copy_lines(
    stream: impl AsyncRead + Unpin,
    tag: String,
    log: SharedLog,
    mut ready: Option<oneshot::Sender<String>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with(READY_PREFIX)
            && let Some(tx) = ready.take()
        {
            let _ = tx.send(line.clone());
        }
        let mut file = log.lock().await;
        let _ = file.write_all(format!("{tag} {line}\n").as_bytes()).await;
        let _ = file.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (h, m) = parse_ready_line("ACCORD_READY http=127.0.0.1:4000 media=127.0.0.1:5000")
            .expect("parses");
        assert_eq!(h.port(), 4000);
        assert_eq!(m.port(), 5000);
        assert!(parse_ready_line("ACCORD_READY http=127.0.0.1:4000").is_err());
    }
}
