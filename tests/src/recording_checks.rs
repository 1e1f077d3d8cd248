//! Checks a court or an auditor would make of a recording, for the crash, tamper and S3
//! tests: a session recorded by two people publishing camera and microphone, the offline
//! `accord verify` run on an archive or folder, files damaged on purpose, and the playable
//! length of a file as ffmpeg decodes it.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};

use crate::protocol::{ClientFrame, ServerFrame};
use crate::session_world::SessionWorld;
use crate::{ClientOptions, TestClient};

/// How long a frame the test waits for may take; the notice alone is 5 s.
const FRAME_WAIT: Duration = Duration::from_secs(20);

/// The mediator and one party of `world`, both publishing audio and video, with media
/// flowing between them.
pub struct RecordedPair {
    /// The mediator (moderates, so may record).
    pub mediator: TestClient,
    /// The applicant, let in from the waiting room.
    pub party: TestClient,
}

impl RecordedPair {
    /// Joins the mediator, then `party_name` through the waiting room, and waits until each
    /// receives the other's audio and video.
    pub async fn join(world: &SessionWorld, party_name: &str) -> Result<Self> {
        let party_token = world.token(party_name)?;
        Self::join_with(
            &world.ws_url(),
            &world.mediator_token,
            party_token,
            party_name,
        )
        .await
    }

    /// Like [`RecordedPair::join`], with the server's WebSocket URL and the join tokens
    /// given (a test that restarted the server has no [`SessionWorld`] for it).
    pub async fn join_with(
        ws_url: &str,
        mediator_token: &str,
        party_token: &str,
        party_name: &str,
    ) -> Result<Self> {
        let mediator = TestClient::connect(
            ws_url,
            mediator_token,
            ClientOptions::new("mediator", "mediator"),
        )
        .await?;
        let (url, token) = (ws_url.to_owned(), party_token.to_owned());
        let options = ClientOptions::new("party", "party");
        let joining = tokio::spawn(async move { TestClient::connect(&url, &token, options).await });
        let waiting = mediator
            .wait_for_frame(&format!("{party_name} waiting"), FRAME_WAIT, |f| {
                matches!(f, ServerFrame::WaitingRoom { waiting }
                    if waiting.iter().any(|p| p.name == party_name))
            })
            .await?;
        let ServerFrame::WaitingRoom { waiting } = waiting else {
            return Err(anyhow!("not a waiting-room frame"));
        };
        let seat = waiting
            .iter()
            .find(|p| p.name == party_name)
            .map(|p| p.id.clone());
        mediator
            .send(ClientFrame::Admit {
                participant_id: seat,
            })
            .await?;
        let party = joining.await??;
        for kind in ["audio", "video"] {
            mediator
                .wait_for_media_from(party.id(), kind, 20, FRAME_WAIT)
                .await?;
            party
                .wait_for_media_from(mediator.id(), kind, 20, FRAME_WAIT)
                .await?;
        }
        Ok(Self { mediator, party })
    }

    /// Sends `record start` and waits through the notice until the mediator is told the
    /// recording is `on`; returns when it went on (unix ms, the server's `since`).
    pub async fn start_recording(&self) -> Result<i64> {
        self.record("start", "on").await
    }

    /// Sends `record stop` and waits until the mediator is told it is `off`.
    pub async fn stop_recording(&self) -> Result<()> {
        self.record("stop", "off").await.map(|_| ())
    }

    /// Sends `record <action>` and waits until the mediator is told the recording is in
    /// `state` (a state not seen before: frames already received count); returns when it
    /// got there (unix ms, the server's `since`).
    pub async fn record(&self, action: &str, state: &str) -> Result<i64> {
        self.mediator
            .send(ClientFrame::Record {
                action: action.into(),
            })
            .await?;
        let reached = self
            .mediator
            .wait_for_frame(
                &format!("the recording to be {state}"),
                FRAME_WAIT,
                |f| matches!(f, ServerFrame::Recording(r) if r.state == state),
            )
            .await?;
        match reached {
            ServerFrame::Recording(r) => Ok(r.since),
            other => Err(anyhow!("not a recording frame: {other:?}")),
        }
    }

    /// Closes both clients; errors are ignored, since after a crash there is no server to
    /// say goodbye to.
    pub async fn close(self) {
        let _ = self.party.close().await;
        let _ = self.mediator.close().await;
    }
}

/// What one run of `accord verify` said.
#[derive(Debug)]
pub struct VerifyRun {
    /// The exit code (0 verified, 1 a problem, 2 unusable input).
    pub code: i32,
    /// Its standard output: `OK …` or `FAIL <file>: <problem>` lines.
    pub stdout: String,
}

impl VerifyRun {
    /// The `FAIL` lines naming `file`.
    pub fn failures_of(&self, file: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(&format!("FAIL {file}:")))
            .collect()
    }
}

/// Runs the real `accord verify <path>` (a ZIP or a folder), as a court would offline;
/// with `published_keys` (a saved `signing-keys.json`) the signing key is checked too.
pub fn accord_verify(path: &Path, published_keys: Option<&Path>) -> Result<VerifyRun> {
    let mut command = Process::new(crate::server::accord_binary()?);
    command.arg("verify").arg(path);
    if let Some(keys) = published_keys {
        command.arg("--keys").arg(keys);
    }
    let output = command.output().context("running accord verify")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let code = output.status.code().with_context(|| {
        format!(
            "accord verify was killed by a signal: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    Ok(VerifyRun { code, stdout })
}

/// Extracts `zip` into a new folder `dir` with the system's `unzip`.
pub fn unzip(zip: &Path, dir: &Path) -> Result<()> {
    let output = Process::new("unzip")
        .args(["-q", "-o"])
        .arg(zip)
        .arg("-d")
        .arg(dir)
        .output()
        .context("running unzip")?;
    ensure!(
        output.status.success(),
        "unzip {} failed: {}",
        zip.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Copies the plain files of folder `from` into a new folder `to`.
pub fn copy_folder(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Inverts every bit of the byte in the middle of `path` (made writable first: stored blobs
/// are read-only); returns its offset.
pub fn flip_middle_byte(path: &Path) -> Result<u64> {
    let mut permissions = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(path, permissions)?;
    let mut bytes = std::fs::read(path)?;
    ensure!(!bytes.is_empty(), "{} is empty", path.display());
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(path, &bytes)?;
    Ok(at as u64)
}

/// Where the local blob store keeps the blob with this SHA-256 (`blobs/ab/cd/<sha>`).
pub fn local_blob_path(data_dir: &Path, sha256: &str) -> Result<PathBuf> {
    ensure!(
        sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a SHA-256: {sha256:?}"
    );
    Ok(data_dir
        .join("blobs")
        .join(&sha256[0..2])
        .join(&sha256[2..4])
        .join(sha256))
}

/// Decodes all of `path` with the real ffmpeg (`ffmpeg -v error -i f -f null -`), failing on
/// any decoding error; returns what ffprobe says its duration is, in seconds.
pub fn playable_seconds(path: &Path) -> Result<f64> {
    let output = Process::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .context("running ffmpeg")?;
    let errors = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "ffmpeg could not decode {}: {errors}",
        path.display()
    );
    let probe = Process::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .context("running ffprobe")?;
    let text = String::from_utf8_lossy(&probe.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("ffprobe gives no duration for {}: {text}", path.display()))
}

/// The `name` → `sha256` list of a `manifest.json`.
pub fn manifest_files(manifest: &[u8]) -> Result<Vec<(String, String)>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).context("manifest.json is not JSON")?;
    manifest["files"]
        .as_array()
        .context("the manifest lists no files")?
        .iter()
        .map(|f| {
            Ok((
                f["name"]
                    .as_str()
                    .context("a file without a name")?
                    .to_owned(),
                f["sha256"]
                    .as_str()
                    .context("a file without a hash")?
                    .to_owned(),
            ))
        })
        .collect()
}
