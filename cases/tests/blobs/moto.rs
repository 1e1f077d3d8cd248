//! A real S3-compatible server for tests: moto's server (PyPI `moto[server]`) on a free
//! loopback port, with a bucket created through the S3 API, killed when dropped. The file
//! stands alone (std and tokio only), so any crate's tests can include it with `#[path]`, as
//! signaling's S3 run of the blob suite does.
//!
//! Where moto is: `ACCORD_MOTO` (the path of `moto_server`, as `.ci/run` sets it), else
//! `moto_server` on `PATH`, else `.venv-s3/bin/moto_server` in the checkout
//! (`scripts/s3-test-server.sh install` makes it). Without it, a test fails in CI and is
//! skipped, saying why, only when `CI` is unset.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running moto server; dropping it kills the process.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// How long moto may take to answer after it was started; Python imports on a busy
/// two-core machine can take several seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl MotoServer {
    /// Starts moto, waits until it answers, and creates `bucket`. `None` when moto is not
    /// installed and `CI` is unset (the reason is printed); panics when it is needed.
    pub async fn start(bucket: &str) -> Option<Self> {
        let program = find_moto()?;
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("accord-moto-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("the temp dir is writable");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a log file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut server = Self { child, port, log };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "moto exited ({status}) before answering:\n{}",
                    server.log_text()
                );
            }
            // Creating the bucket is also the readiness probe: it succeeds once moto answers.
            if let Ok((200, _)) = server.request("PUT", &format!("/{bucket}")).await {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on port {port} within {START_TIMEOUT:?}:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoint to hand an S3 client (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One unsigned S3 request (moto does not check signatures): its status and body.
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let head = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        );
        stream.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:.80}")))?;
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The `moto_server` program, or `None` (with the reason printed) when it may be skipped.
fn find_moto() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ACCORD_MOTO").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            is_executable(&path),
            "ACCORD_MOTO={} is not an executable moto_server",
            path.display()
        );
        return Some(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"));
    let in_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-s3/bin/moto_server");
    if let Some(found) = on_path
        .chain([in_checkout])
        .find(|path| is_executable(path))
    {
        return Some(found);
    }
    let why = "moto's S3 server is not installed: run `scripts/s3-test-server.sh install` \
               (or `pip install 'moto[server]'`), or set ACCORD_MOTO to moto_server's path";
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipping the S3 tests: {why}");
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port nothing listens on right now (the OS picks it; the listener is closed at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding a loopback port")
}
