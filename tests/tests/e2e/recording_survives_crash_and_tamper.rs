//! A recording is evidence: it must survive the server dying under it, and any change to it
//! afterwards must be caught and named.
//!
//! - Crash: the server is killed with SIGKILL 8 s into a recording and started again on the
//!   same data. The recording comes back `interrupted`, its files play to within 3 s of the
//!   kill, its prefix verifies, the audit chain still verifies, and the session record says
//!   the recording was cut. The session then goes on and records again on the new server.
//! - Tamper: the archive a court downloads verifies offline with `accord verify`; a flipped
//!   byte in a media file, a truncated RTP log and an edited manifest each fail naming the
//!   file; a blob altered in the server's store fails the server's own check, named there.
//! - S3: the same recording with the blob store on a real S3-compatible server (moto).

#[path = "../../../cases/tests/blobs/moto.rs"]
mod moto;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accord_tests::StaffApi;
use accord_tests::case_world::PASSWORD;
use accord_tests::recording::{download, finished_detail, recording_of_case};
use accord_tests::recording_checks::{
    RecordedPair, accord_verify, copy_folder, flip_middle_byte, local_blob_path, manifest_files,
    playable_seconds, unzip,
};
use accord_tests::server::{TestServer, accord_binary};
use accord_tests::session_world::{APPLICANT, SessionWorld};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::Value;

/// How long the crash test records before the kill.
const BEFORE_KILL: Duration = Duration::from_secs(8);
/// How much of the end a crash may lose (the brief allows 3 s).
const MAY_LOSE_S: f64 = 3.0;

fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The ticketed URLs of every playable file of a detail: each track, then the mixed audio.
fn playable_urls(detail: &Value) -> Result<Vec<String>> {
    let mut urls: Vec<String> = detail["tracks"]
        .as_array()
        .context("the detail has no tracks")?
        .iter()
        .filter_map(|t| t["url"].as_str().map(str::to_owned))
        .collect();
    ensure!(
        urls.len() == 4,
        "two people with camera and microphone make four track files: {detail}"
    );
    urls.push(
        detail["mixed_audio"]["url"]
            .as_str()
            .with_context(|| format!("no mixed audio in {detail}"))?
            .to_owned(),
    );
    Ok(urls)
}

/// Fails unless the detail's recording ended `status` and its integrity check passed.
fn ensure_finished(detail: &Value, status: &str) -> Result<()> {
    ensure!(
        detail["status"] == status,
        "the recording is {status}: {detail}"
    );
    ensure!(
        detail["verification"]["state"] == "verified",
        "the {status} recording verifies: {}",
        detail["verification"]
    );
    Ok(())
}

/// The mediator and applicant of `world` joined and recorded: the pair, when the recording
/// went on (unix ms) and its id.
async fn start_recorded(world: &SessionWorld) -> Result<(RecordedPair, i64, String)> {
    let pair = RecordedPair::join(world, APPLICANT).await?;
    let started_at = pair.start_recording().await?;
    let api = &world.world.api;
    let id = recording_of_case(api, &world.world.mediator_a, &world.case_id).await?;
    Ok((pair, started_at, id))
}

/// Starts a server on the killed one's data with its token secret, signs the mediator in,
/// and waits until recording `id` is finished and checked; returns the server, its API, the
/// mediator's token and the recording's detail.
async fn restart(
    data_dir: &Path,
    secret: &str,
    id: &str,
) -> Result<(TestServer, StaffApi, String, Value)> {
    let data = data_dir.to_string_lossy().into_owned();
    let env = [
        ("ACCORD_DATA_DIR", data.as_str()),
        ("ACCORD_AUTH_TOKEN_SECRET", secret),
    ];
    let server = TestServer::start_with_args(&env, &[]).await?;
    let api = StaffApi::new(server.http_url());
    let mediator = api.login("li", PASSWORD).await?;
    let detail = finished_detail(&api, &mediator, id).await?;
    Ok((server, api, mediator, detail))
}

#[tokio::test]
async fn a_recording_killed_mid_session_comes_back_interrupted_and_verified() -> Result<()> {
    let world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let (pair, started_at, id) = start_recorded(&world).await?;
    tokio::time::sleep(BEFORE_KILL).await;

    let killed_at = unix_ms_now();
    let (case_id, session_id) = (world.case_id.clone(), world.session_id.clone());
    // The same secret after the restart, so the invites sent before it still let people in.
    let secret = world.world.server.token_secret().to_owned();
    let party_token = world.token(APPLICANT)?.to_owned();
    let data_dir = world.world.server.kill_hard().await?;
    pair.close().await;
    let recorded_s = (killed_at - started_at) as f64 / 1000.0;
    eprintln!("crash: killed {recorded_s:.2} s after the recording went on");

    let (server, api, mediator, detail) = restart(&data_dir, &secret, &id).await?;
    // What was recorded before the crash verifies: the logs' prefix against the chain.
    ensure_finished(&detail, "interrupted")?;
    ensure!(
        detail["case_id"] == case_id.as_str(),
        "the recording stays with its case"
    );

    for track in detail["tracks"].as_array().into_iter().flatten() {
        eprintln!(
            "crash: {} on the session clock {}..{} ms",
            track["name"], track["start_ms"], track["end_ms"]
        );
    }
    let files = accord_tests::fresh_temp_dir("accord-crash-files")?;
    for url in playable_urls(&detail)? {
        let path = download(&api, &mediator, &url, &files).await?;
        let seconds = playable_seconds(&path)?;
        eprintln!(
            "crash: {} plays {seconds:.2} s of {recorded_s:.2} s recorded",
            path.display()
        );
        ensure!(
            seconds >= recorded_s - MAY_LOSE_S,
            "{} plays {seconds:.2} s; the kill came {recorded_s:.2} s in, so at least \
             {:.2} s must play",
            path.display(),
            recorded_s - MAY_LOSE_S
        );
    }

    let timeline = api
        .get(
            &format!("/api/v1/sessions/{session_id}/timeline"),
            &mediator,
        )
        .await?
        .expect(StatusCode::OK)?
        .body;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .context("timeline items")?
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    ensure!(
        kinds.contains(&"recording_interrupted"),
        "the session record says the recording was cut: {kinds:?}"
    );

    // The session goes on after the restart, and records again.
    let reopened = api
        .post(
            &format!("/api/v1/sessions/{session_id}/start"),
            serde_json::json!({}),
            &mediator,
        )
        .await?
        .expect(StatusCode::OK)?;
    let pair = RecordedPair::join_with(
        &server.ws_url(),
        &reopened.text("token")?,
        &party_token,
        APPLICANT,
    )
    .await?;
    pair.start_recording().await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    pair.stop_recording().await?;
    let list = api
        .get(&format!("/api/v1/cases/{case_id}/recordings"), &mediator)
        .await?
        .expect(StatusCode::OK)?
        .body;
    let second = list["recordings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .find(|other| *other != id)
        .with_context(|| format!("a second recording after the restart: {list}"))?
        .to_owned();
    let again = finished_detail(&api, &mediator, &second).await?;
    pair.close().await;
    ensure_finished(&again, "complete")?;

    server.stop().await?;
    let audit = std::process::Command::new(accord_binary()?)
        .args(["audit", "verify"])
        .env("ACCORD_DATA_DIR", &data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ACCORD_DATABASE_URL")
        .output()
        .context("running accord audit verify")?;
    ensure!(
        audit.status.success(),
        "the audit chain still verifies after the crash and the recovery: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    let _ = std::fs::remove_dir_all(&files);
    if let Some(first_server_dir) = data_dir.parent() {
        let _ = std::fs::remove_dir_all(first_server_dir);
    }
    Ok(())
}

#[tokio::test]
async fn a_recording_killed_while_paused_keeps_the_pause_to_the_end() -> Result<()> {
    let world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let (pair, started_at, id) = start_recorded(&world).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let paused_at = pair.record("pause", "paused").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let secret = world.world.server.token_secret().to_owned();
    let data_dir = world.world.server.kill_hard().await?;
    pair.close().await;

    let (server, _, _, detail) = restart(&data_dir, &secret, &id).await?;
    ensure_finished(&detail, "interrupted")?;
    let pauses = detail["pauses"].as_array().context("pauses")?;
    eprintln!(
        "paused crash: paused {} ms in; pauses {pauses:?}, duration {} ms",
        paused_at - started_at,
        detail["duration_ms"]
    );
    ensure!(pauses.len() == 1, "one pause, open at the kill: {pauses:?}");
    let (from, to) = (
        pauses[0]["from_ms"].as_i64().context("from_ms")?,
        pauses[0]["to_ms"].as_i64().context("to_ms")?,
    );
    ensure!(
        (from - (paused_at - started_at)).abs() <= 500,
        "the pause begins when it was asked for ({} ms in): {from}",
        paused_at - started_at
    );
    ensure!(
        Some(to) == detail["duration_ms"].as_i64() && to - from >= 2_000,
        "the pause lasts until the recording ended at the kill: {from}..{to}, \
         duration {}",
        detail["duration_ms"]
    );
    server.stop().await?;
    if let Some(first_server_dir) = data_dir.parent() {
        let _ = std::fs::remove_dir_all(first_server_dir);
    }
    Ok(())
}

#[tokio::test]
async fn a_finalisation_cut_short_is_redone_on_restart() -> Result<()> {
    let world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let (pair, _, id) = start_recorded(&world).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let secret = world.world.server.token_secret().to_owned();
    let data_dir = world.world.server.kill_hard().await?;
    pair.close().await;
    // What a kill in the middle of finalising leaves (the window after `stop` is tens of
    // milliseconds, so it is made here rather than hit by timing): half a mixed audio file
    // and an unsigned manifest.
    let folder = data_dir.join("recordings").join(&id);
    ensure!(
        folder.is_dir(),
        "the recording's folder {}",
        folder.display()
    );
    std::fs::write(
        folder.join("mixed-audio.webm"),
        [0x1a, 0x45, 0xdf, 0xa3, 0, 0],
    )?;
    std::fs::write(folder.join("manifest.json"), b"{\"format\":")?;

    let (server, api, mediator, detail) = restart(&data_dir, &secret, &id).await?;
    ensure_finished(&detail, "interrupted")?;
    let files = accord_tests::fresh_temp_dir("accord-refinalised")?;
    let mixed_url = detail["mixed_audio"]["url"]
        .as_str()
        .context("mixed audio")?;
    let mixed = download(&api, &mediator, mixed_url, &files).await?;
    let seconds = playable_seconds(&mixed)?;
    eprintln!("refinalised: the mixed audio plays {seconds:.2} s of about 4 s");
    ensure!(
        seconds >= 4.0 - MAY_LOSE_S,
        "the rebuilt mixed audio plays the recording, not the leftover: {seconds:.2} s"
    );
    server.stop().await?;
    let _ = std::fs::remove_dir_all(&files);
    if let Some(first_server_dir) = data_dir.parent() {
        let _ = std::fs::remove_dir_all(first_server_dir);
    }
    Ok(())
}

/// Records a few seconds of `world` with its mediator and applicant, stops, and returns the
/// finished detail and the recording's id.
async fn record_briefly(world: &SessionWorld) -> Result<(String, Value)> {
    let (pair, _, id) = start_recorded(world).await?;
    let (api, mediator) = (&world.world.api, &world.world.mediator_a);
    tokio::time::sleep(Duration::from_secs(5)).await;
    pair.stop_recording().await?;
    let detail = finished_detail(api, mediator, &id).await?;
    pair.close().await;
    ensure_finished(&detail, "complete")?;
    Ok((id, detail))
}

/// Asserts `accord verify` fails on `folder` naming `file`.
fn assert_named(folder: &Path, file: &str, what: &str) -> Result<()> {
    let run = accord_verify(folder, None)?;
    ensure!(
        run.code == 1,
        "{what}: accord verify exits 1, not {}:\n{}",
        run.code,
        run.stdout
    );
    ensure!(
        !run.failures_of(file).is_empty(),
        "{what}: accord verify names {file}:\n{}",
        run.stdout
    );
    eprintln!("tamper: {what}: {}", run.failures_of(file).join(" | "));
    Ok(())
}

#[tokio::test]
async fn every_change_to_a_recording_is_caught_and_named() -> Result<()> {
    let world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let (id, detail) = record_briefly(&world).await?;
    let (api, mediator) = (&world.world.api, &world.world.mediator_a);

    let work = accord_tests::fresh_temp_dir("accord-tamper")?;
    let archive_url = detail["downloads"]["archive_url"]
        .as_str()
        .context("no archive_url")?;
    let (status, content_type, zip) = api.get_bytes(archive_url, mediator).await?;
    ensure!(status == StatusCode::OK, "the archive downloads: {status}");
    ensure!(content_type == "application/zip", "a ZIP: {content_type}");
    let zip_path = work.join("recording.zip");
    std::fs::write(&zip_path, &zip)?;
    let (status, _, keys) = api
        .get_bytes("/.well-known/accord/signing-keys.json", mediator)
        .await?;
    ensure!(
        status == StatusCode::OK,
        "the signing keys are published: {status}"
    );
    let keys_path = work.join("signing-keys.json");
    std::fs::write(&keys_path, &keys)?;
    let intact = accord_verify(&zip_path, Some(&keys_path))?;
    ensure!(
        intact.code == 0
            && intact.stdout.starts_with("OK ")
            && !intact.stdout.contains("not checked"),
        "the downloaded archive verifies offline (exit {}):\n{}",
        intact.code,
        intact.stdout
    );
    eprintln!("tamper: intact archive: {}", intact.stdout.trim());

    // The archive holds one top folder named after the recording.
    unzip(&zip_path, &work.join("extracted"))?;
    let extracted = work.join("extracted").join(&id);
    let unpacked = accord_verify(&extracted, None)?;
    ensure!(
        unpacked.code == 0,
        "the extracted folder verifies too:\n{}",
        unpacked.stdout
    );

    let media = detail["tracks"][0]["name"]
        .as_str()
        .context("a track file name")?
        .to_owned();
    let flipped = work.join("flipped");
    copy_folder(&extracted, &flipped)?;
    flip_middle_byte(&flipped.join(&media))?;
    assert_named(&flipped, &media, "one byte of a media file flipped")?;

    let logs: Vec<String> = std::fs::read_dir(&extracted)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".rtplog"))
        .collect();
    let log = logs.first().context("the archive holds the RTP logs")?;
    let truncated = work.join("truncated");
    copy_folder(&extracted, &truncated)?;
    let log_file = std::fs::OpenOptions::new()
        .write(true)
        .open(truncated.join(log))?;
    let length = log_file.metadata()?.len();
    log_file.set_len(length - length / 3)?;
    drop(log_file);
    assert_named(&truncated, log, "an RTP log cut short")?;

    let edited = work.join("edited");
    copy_folder(&extracted, &edited)?;
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(edited.join("manifest.json"))?)?;
    ensure!(
        manifest["status"] == "complete",
        "the manifest says complete: {manifest}"
    );
    manifest["status"] = "interrupted".into();
    std::fs::write(
        edited.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    let run = accord_verify(&edited, None)?;
    ensure!(
        run.code == 1
            && (!run.failures_of("manifest.sig").is_empty()
                || !run.failures_of("manifest.json").is_empty()),
        "an edited manifest fails its signature (exit {}):\n{}",
        run.code,
        run.stdout
    );
    eprintln!("tamper: manifest edited: {}", run.stdout.trim());

    // Now the stored copy itself, behind the server's back.
    let files = manifest_files(&std::fs::read(extracted.join("manifest.json"))?)?;
    let sha = files
        .iter()
        .find(|(name, _)| *name == media)
        .map(|(_, sha)| sha.clone())
        .with_context(|| format!("the manifest lists {media}"))?;
    let blob = local_blob_path(&world.world.server.data_dir(), &sha)?;
    ensure!(blob.is_file(), "the blob is stored at {}", blob.display());
    flip_middle_byte(&blob)?;
    let checked = api
        .post(
            &format!("/api/v1/recordings/{id}/verify"),
            serde_json::json!({}),
            mediator,
        )
        .await?
        .expect(StatusCode::OK)?
        .body;
    ensure!(
        checked["state"] == "failed",
        "the server's check fails: {checked}"
    );
    let names_media = |problems: &Value| {
        problems
            .as_array()
            .is_some_and(|list| list.iter().any(|p| p["file"] == media.as_str()))
    };
    ensure!(
        names_media(&checked["problems"]),
        "the server's check names {media}: {checked}"
    );
    let after = api
        .get(&format!("/api/v1/recordings/{id}"), mediator)
        .await?
        .expect(StatusCode::OK)?
        .body;
    ensure!(
        after["verification"]["state"] == "failed"
            && names_media(&after["verification"]["problems"]),
        "the detail shows the failed check naming {media}: {}",
        after["verification"]
    );
    eprintln!("tamper: server check: {}", checked["problems"]);

    let _ = std::fs::remove_dir_all(&work);
    world.world.server.stop().await
}

#[tokio::test]
async fn a_recording_on_s3_completes_verifies_and_serves_ranges() -> Result<()> {
    const BUCKET: &str = "accord-recordings";
    let Some(s3) = moto::MotoServer::start(BUCKET).await else {
        return Ok(());
    };
    let endpoint = s3.endpoint();
    let world = SessionWorld::new_with_env(&[
        accord_tests::ONE_PROCESS,
        ("ACCORD_BLOBS_BACKEND", "s3"),
        ("ACCORD_BLOBS_S3_BUCKET", BUCKET),
        ("ACCORD_BLOBS_S3_ENDPOINT", &endpoint),
        ("ACCORD_BLOBS_S3_REGION", "us-east-1"),
        ("ACCORD_BLOBS_S3_ALLOW_HTTP", "true"),
        ("ACCORD_S3_ACCESS_KEY_ID", "test-key"),
        ("ACCORD_S3_SECRET_ACCESS_KEY", "test-secret"),
    ])
    .await?;
    let (_, detail) = record_briefly(&world).await?;
    let (api, mediator) = (&world.world.api, &world.world.mediator_a);

    let manifest_url = detail["downloads"]["manifest_url"]
        .as_str()
        .context("no manifest_url")?;
    let (status, _, manifest) = api.get_bytes(manifest_url, mediator).await?;
    ensure!(status == StatusCode::OK, "the manifest downloads: {status}");
    let (listed_status, listing) = s3
        .request("GET", &format!("/{BUCKET}?list-type=2&max-keys=1000"))
        .await?;
    ensure!(listed_status == 200, "the bucket lists: {listing}");
    for (name, sha) in manifest_files(&manifest)? {
        ensure!(
            listing.contains(&format!("/{sha}</Key>")),
            "{name} is in the bucket as its SHA-256 {sha}: {listing}"
        );
        ensure!(
            !local_blob_path(&world.world.server.data_dir(), &sha)?.exists(),
            "{name} went to the bucket, not the local blob directory"
        );
    }

    let track_url = detail["tracks"][0]["url"].as_str().context("a track url")?;
    let ranged = reqwest::Client::new()
        .get(format!("{}{track_url}", world.world.server.http_url()))
        .header(reqwest::header::RANGE, "bytes=0-99")
        .send()
        .await?;
    ensure!(
        ranged.status() == StatusCode::PARTIAL_CONTENT,
        "a range request answers 206: {}",
        ranged.status()
    );
    let content_range = ranged
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = ranged.bytes().await?;
    ensure!(
        body.len() == 100 && content_range.starts_with("bytes 0-99/"),
        "the first 100 bytes ({} bytes, {content_range})",
        body.len()
    );
    eprintln!(
        "s3: {} files in the bucket, range {content_range}",
        manifest_files(&manifest)?.len()
    );
    world.world.server.stop().await
}
