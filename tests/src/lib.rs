//! Test harness for Accord: real `accord serve` child processes in one of three deployments
//! ([`server::TestServer`], [`server::Deployment`]) and a
//! WebRTC participant on the async `webrtc` crate ([`client::TestClient`]) that publishes
//! generated VP8/Opus media, follows the signaling protocol of `docs/protocol.md` and records
//! everything it receives so end-to-end tests can assert on it.

pub mod agreement;
pub mod case_world;
pub mod client;
pub mod impair;
pub mod load;
pub mod media;
pub mod payload;
pub mod protocol;
pub mod recording;
pub mod recording_checks;
pub mod scenario;
pub mod scratch_db;
pub mod server;
pub mod session_world;
pub mod shared_nodes;
pub mod staff_api;
pub mod wait;
pub mod whip_world;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::Once;

pub use client::{Bystander, ClientOptions, ReceivedTrack, TestClient, VideoPublish};
pub use server::{Deployment, ONE_PROCESS, TestServer, TokenRequest};
pub use staff_api::{Answer, StaffApi};

/// The cargo target directory these tests were built into.
///
/// `CARGO_TARGET_DIR` wins when it is absolute; otherwise we walk up from the running test
/// executable (`<target>/debug/deps/<test>-<hash>`) to the first directory holding cargo's
/// `CACHEDIR.TAG`, because a relative `CARGO_TARGET_DIR` is relative to wherever cargo was
/// started, which the test process cannot know.
pub fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() {
            return Ok(dir);
        }
    }
    let exe = std::env::current_exe().context("locating the running test executable")?;
    for dir in exe.ancestors().skip(1) {
        if dir.join("CACHEDIR.TAG").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    // Fall back to the conventional layout: <target>/<profile>/deps/<exe>.
    match exe.ancestors().nth(3) {
        Some(dir) => Ok(dir.to_path_buf()),
        None => bail!(
            "cannot find the cargo target directory above {}",
            exe.display()
        ),
    }
}

/// Installs a `tracing` subscriber once per test process.
///
/// The `webrtc` crate reports rejected RTP writes only through `log` errors (see the notes on
/// `write_rtp`), so tests must see them; the subscriber's `log` bridge forwards them. The level
/// comes from `RUST_LOG`, defaulting to warnings.
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,rtc_dtls::config=error,rtc_ice::agent=error")
        });
        // A second subscriber (another harness in the same process) is not an error for us.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Creates a fresh, uniquely named directory under the system temp dir.
pub fn fresh_temp_dir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Reads the last `max_lines` lines of a text file, for failure messages.
pub fn tail_of_file(path: &Path, max_lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(max_lines);
            lines[start..].join("\n")
        }
        Err(err) => format!("(could not read {}: {err})", path.display()),
    }
}
