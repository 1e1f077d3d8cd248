//! Recording a case session for real: Rust WebRTC clients publish Opus tones and VP8 video,
//! the mediator records, and the finished recording is fetched through the review API and
//! read with the real `ffprobe` and `ffmpeg`.
//!
//! 1. Twenty seconds with three parties, one of them joining 5 s late and one falling silent
//!    for 5 s: every file has its codec and lasts as long as its track was live, the mixed
//!    audio lasts the whole session, and the late joiner's tone starts in the mix when it
//!    really began to speak (found by cross-correlation).
//! 2. With the organisation's default policy, a party taken into a private room is not
//!    recorded there: the SFU hands the recorder nothing from that room, and the recording
//!    and the session record say there is a gap.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use accord_recordings::mix::analysis::{onset_of, tone_power};
use accord_tests::media::{VideoSize, media_dir};
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::recording::{
    ANALYSIS_RATE, MutingSpeaker, Probe, counter, decode_mono, download, finished_detail,
    first_keyframe_sent, keyframe_hashes, probe, recording_of_case, unix_ms, unix_ms_of,
    wait_for_record_entry, wait_recording_state, window,
};
use accord_tests::recording_checks::playable_seconds;
use accord_tests::session_world::{APPLICANT, LATECOMER, RESPONDENT, SessionWorld, admit};
use accord_tests::{Bystander, ClientOptions, TestClient, fresh_temp_dir};
use anyhow::{Context, Result, ensure};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);
/// Media variants: each party's tone has its own frequency (220 + 110 × variant Hz).
const RESPONDENT_VARIANT: u32 = 0;
const APPLICANT_VARIANT: u32 = 2;
const LATECOMER_VARIANT: u32 = 7;
const APPLICANT_HZ: f64 = 440.0;
/// How far a file's duration may be from the time its track was live.
const DURATION_SLACK_S: f64 = 0.5;

fn tone_hz(variant: u32) -> u32 {
    220 + 110 * variant
}

/// Sleeps until `at_ms` (unix ms).
async fn sleep_until_unix(at_ms: i64) {
    let now = unix_ms(SystemTime::now());
    if at_ms > now {
        tokio::time::sleep(Duration::from_millis((at_ms - now) as u64)).await;
    }
}

async fn party(
    world: &SessionWorld,
    mediator: &Bystander,
    name: &str,
    variant: u32,
) -> Result<TestClient> {
    let (url, token) = (world.ws_url(), world.token(name)?.to_owned());
    let mut options = ClientOptions::new(name, "party");
    options.variant = variant;
    let joining = tokio::spawn(async move { TestClient::connect(&url, &token, options).await });
    admit(mediator, name).await?;
    joining.await?
}

async fn muting_party(
    world: &SessionWorld,
    mediator: &Bystander,
    name: &str,
    variant: u32,
) -> Result<MutingSpeaker> {
    let (url, token, who) = (
        world.ws_url(),
        world.token(name)?.to_owned(),
        name.to_owned(),
    );
    let joining =
        tokio::spawn(async move { MutingSpeaker::connect(&url, &token, &who, variant).await });
    admit(mediator, name).await?;
    joining.await?
}

/// The mediator starts recording; returns when everyone listed saw `starting` then `on`,
/// with the `on` frame's unix ms.
async fn start_recording(
    mediator: &Bystander,
    watchers: &[(&str, &dyn Fn() -> Vec<ServerFrame>)],
) -> Result<i64> {
    let asked = unix_ms(SystemTime::now());
    mediator
        .send(ClientFrame::Record {
            action: "start".into(),
        })
        .await?;
    let mut on_since = 0;
    for (who, frames) in watchers {
        let starting = wait_recording_state(who, "starting", frames).await?;
        let starts_at = starting
            .starts_at
            .with_context(|| format!("{who}'s `starting` frame has no starts_at"))?;
        ensure!(
            (starts_at - asked - 5_000).abs() < 1_000,
            "{who}: the notice runs 5 s (starts_at {starts_at}, asked at {asked})"
        );
        let on = wait_recording_state(who, "on", frames).await?;
        ensure!(on.recorded_here, "{who} is recorded in the joint room");
        on_since = on.since;
    }
    Ok(on_since)
}

/// Stops the recording; returns the unix ms of the mediator's `off` frame.
async fn stop_recording(mediator: &Bystander) -> Result<i64> {
    mediator
        .send(ClientFrame::Record {
            action: "stop".into(),
        })
        .await?;
    let off = wait_recording_state("the mediator", "off", || mediator.frames()).await?;
    Ok(off.since)
}

/// The manifest of a finished recording, downloaded by its `manifest_url`.
async fn manifest(world: &SessionWorld, detail: &Value, dir: &Path) -> Result<Value> {
    let url = detail["downloads"]["manifest_url"]
        .as_str()
        .context("a manifest_url")?;
    let path = download(&world.world.api, &world.world.mediator_a, url, dir).await?;
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// The mixed audio of a finished recording, downloaded into `dir`, and where it starts on the
/// session clock (seconds).
async fn mixed_audio(world: &SessionWorld, detail: &Value, dir: &Path) -> Result<(PathBuf, f64)> {
    let mixed = &detail["mixed_audio"];
    let url = mixed["url"].as_str().context("a mixed audio url")?;
    let file = download(&world.world.api, &world.world.mediator_a, url, dir).await?;
    let start_ms = mixed["start_ms"].as_f64().context("mixed start_ms")?;
    Ok((file, start_ms / 1000.0))
}

/// Fails unless the tone of `hz` is gone from `pcm` between `from` and `to` seconds (a margin
/// off each end) and there in the seconds before and after.
fn absent_between(pcm: &[f32], hz: f64, from: f64, to: f64, when: &str) -> Result<()> {
    let power = |a: f64, b: f64| tone_power(window(pcm, a, b), ANALYSIS_RATE, hz);
    let before = power(from - 2.0, from - 0.3);
    let during = power(from + 0.3, to - 0.3);
    let after = power(to + 0.3, to + 2.0);
    eprintln!("{hz} Hz tone: before {before:.2e}, {when} {during:.2e}, after {after:.2e}");
    ensure!(
        during < before / 100.0 && during < after / 100.0,
        "the {hz} Hz tone is heard {when} ({during:.2e}), not only before ({before:.2e}) \
         and after ({after:.2e})"
    );
    Ok(())
}

/// The detail's tracks of the participant shown as `name`, by kind.
fn track_of<'a>(detail: &'a Value, name: &str, kind: &str) -> Result<&'a Value> {
    detail["tracks"]
        .as_array()
        .context("tracks")?
        .iter()
        .find(|t| t["participant_name"] == name && t["kind"] == kind)
        .with_context(|| format!("no {kind} track of {name} in {}", detail["tracks"]))
}

#[tokio::test]
async fn a_twenty_second_session_is_recorded_with_its_late_joiner_and_its_silence() -> Result<()> {
    let world = SessionWorld::new().await?;
    world.consent(LATECOMER).await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    ensure!(
        mediator.joined().moderator,
        "the mediator's token moderates"
    );
    let respondent = party(&world, &mediator, RESPONDENT, RESPONDENT_VARIANT).await?;
    respondent.ledger().start_send_log();
    let applicant = muting_party(&world, &mediator, APPLICANT, APPLICANT_VARIANT).await?;
    respondent
        .wait_for_media_from(applicant.id(), "audio", 25, WAIT)
        .await?;

    let on_ms = start_recording(
        &mediator,
        &[
            ("the mediator", &|| mediator.frames()),
            ("the respondent", &|| respondent.frames()),
            ("the applicant", &|| applicant.frames()),
        ],
    )
    .await?;

    // The late joiner asks to come in: admission and connecting take the rest of the way to
    // about five seconds.
    sleep_until_unix(on_ms + 4_700).await;
    let latecomer = party(&world, &mediator, LATECOMER, LATECOMER_VARIANT).await?;
    latecomer.ledger().start_send_log();
    let told = latecomer
        .joined()
        .recording
        .as_deref()
        .context("a late joiner is told of the recording in `joined`")?;
    ensure!(
        told.state == "on" && told.recorded_here,
        "the late joiner sees the recording on: {told:?}"
    );
    let first_sent = |kind| {
        latecomer
            .ledger()
            .send_log()
            .into_iter()
            .find(|p| p.kind == kind)
            .map(|p| unix_ms_of(p.at))
    };
    let late_audio_ms = accord_tests::wait::wait_until(
        WAIT,
        "the late joiner's first audio packet",
        || Ok(first_sent(accord_tests::payload::PayloadKind::Opus)),
        || latecomer.describe(),
    )
    .await?;

    // The applicant falls silent from 8 s to 13 s.
    sleep_until_unix(on_ms + 8_000).await;
    applicant.set_muted(true).await?;
    let muted_ms = unix_ms(SystemTime::now());
    sleep_until_unix(on_ms + 13_000).await;
    applicant.set_muted(false).await?;
    let unmuted_ms = unix_ms(SystemTime::now());

    sleep_until_unix(on_ms + 20_000).await;
    let off_ms = stop_recording(&mediator).await?;
    // Video is recorded from a keyframe on (the test client sends one a second and ignores
    // requests for more), so its track is live from the first keyframe sent while recording.
    let keyframes = |variant| keyframe_hashes(VideoSize::Half, variant);
    let respondent_video_ms =
        first_keyframe_sent(respondent.ledger(), &keyframes(RESPONDENT_VARIANT)?, on_ms)
            .context("the respondent sent a keyframe while recording")?;
    let late_video_ms =
        first_keyframe_sent(latecomer.ledger(), &keyframes(LATECOMER_VARIANT)?, on_ms)
            .context("the late joiner sent a keyframe")?;

    let api = &world.world.api;
    let bearer = &world.world.mediator_a;
    let id = recording_of_case(api, bearer, &world.case_id).await?;
    let detail = finished_detail(api, bearer, &id).await?;
    ensure!(detail["status"] == "complete", "a clean stop: {detail}");
    ensure!(
        detail["verification"]["state"] == "verified",
        "the integrity check passed: {}",
        detail["verification"]
    );
    let dir = fresh_temp_dir("accord-recording-test")?;
    let manifest = manifest(&world, &detail, &dir).await?;
    let started_ms = manifest["started_at_ms"]
        .as_i64()
        .context("started_at_ms")?;
    eprintln!(
        "recording {id}: `on` at {on_ms}, manifest started_at_ms {started_ms} ({} ms apart), \
         `off` {} ms later, duration_ms {}",
        started_ms - on_ms,
        off_ms - on_ms,
        manifest["duration_ms"]
    );

    let session_s = (off_ms - on_ms) as f64 / 1000.0;
    let expectations = [
        (RESPONDENT, "audio", session_s, "opus"),
        (
            RESPONDENT,
            "video",
            (off_ms - respondent_video_ms) as f64 / 1000.0,
            "vp8",
        ),
        (APPLICANT, "audio", session_s, "opus"),
        (
            LATECOMER,
            "audio",
            (off_ms - late_audio_ms) as f64 / 1000.0,
            "opus",
        ),
        (
            LATECOMER,
            "video",
            (off_ms - late_video_ms) as f64 / 1000.0,
            "vp8",
        ),
    ];
    let tracks = detail["tracks"].as_array().context("tracks")?;
    ensure!(
        tracks.len() == expectations.len(),
        "one file per published track: {}",
        detail["tracks"]
    );
    for (name, kind, live_s, codec) in expectations {
        let track = track_of(&detail, name, kind)?;
        let url = track["url"].as_str().context("a track url")?;
        let file = download(api, bearer, url, &dir).await?;
        // Decodes from start to end without an error.
        playable_seconds(&file)?;
        let Probe {
            duration,
            codecs,
            sizes,
        } = probe(&file)?;
        eprintln!(
            "{name} {kind}: {} {codecs:?} {sizes:?}, {duration:.3} s, live {live_s:.3} s \
             (start_ms {}, end_ms {})",
            track["name"], track["start_ms"], track["end_ms"]
        );
        ensure!(
            codecs == [codec],
            "{name}'s {kind} file is {codec}: {codecs:?}"
        );
        if kind == "video" {
            ensure!(
                sizes == [(640, 360)],
                "{name}'s video is 640x360: {sizes:?}"
            );
        }
        ensure!(
            (duration - live_s).abs() <= DURATION_SLACK_S,
            "{name}'s {kind} file lasts {duration:.3} s; its track was live {live_s:.3} s"
        );
    }

    let mixed = &detail["mixed_audio"];
    let (mixed_file, mixed_start_s) = mixed_audio(&world, &detail, &dir).await?;
    playable_seconds(&mixed_file)?;
    let mixed_probe = probe(&mixed_file)?;
    eprintln!(
        "mixed audio: {:?}, {:.3} s, session {session_s:.3} s (start_ms {}, end_ms {})",
        mixed_probe.codecs, mixed_probe.duration, mixed["start_ms"], mixed["end_ms"]
    );
    ensure!(mixed_probe.codecs == ["opus"], "the mix is Opus");
    ensure!(
        (mixed_probe.duration - session_s).abs() <= DURATION_SLACK_S,
        "the mixed audio lasts the whole session: {:.3} s of {session_s:.3} s",
        mixed_probe.duration
    );

    // Where the late joiner's tone begins in the mix, against when it really began.
    let pcm = decode_mono(&mixed_file)?;
    let reference_pcm =
        decode_mono(&media_dir()?.join(format!("sine-{}hz.ogg", tone_hz(LATECOMER_VARIANT))))?;
    // 20 ms of the steady tone (past the encoder's first frame): the rise of the correlation
    // is then at most 20 ms long, and a mixer's limiter moving the plateau cannot move the
    // half-way point by more than that. 20 ms of 990 Hz is 20 periods, selective enough
    // against the other speakers' 220 and 440 Hz.
    let reference = window(&reference_pcm, 0.1, 0.12);
    let search_from = 2.0;
    let found = onset_of(reference, window(&pcm, search_from, 16.0), ANALYSIS_RATE)
        .context("the late joiner's tone is in the mix")?;
    let onset_s = mixed_start_s + search_from + found;
    let expected_s = (late_audio_ms - started_ms) as f64 / 1000.0;
    eprintln!(
        "late joiner: first audio sent {:.3} s after recording began, its tone starts at \
         {onset_s:.3} s in the mix: error {:+.0} ms",
        expected_s,
        (onset_s - expected_s) * 1000.0
    );
    ensure!(
        (onset_s - expected_s).abs() <= 0.1,
        "the late joiner's audio starts at {onset_s:.3} s in the mix; it began at {expected_s:.3} s"
    );
    // Asked in at 4.7 s, they arrive about 5 s in on a quiet machine and up to a few seconds
    // later on a loaded one; what matters is that they came late and stayed long enough to
    // be heard, not how long admitting took.
    ensure!(
        (4.0..14.0).contains(&expected_s),
        "the late joiner came in after the start and before the last 6 s ({expected_s:.3} s)"
    );

    // The applicant's silence is silence in the mix, and the tone is back afterwards where
    // it belongs (a gap that closed up would move it earlier).
    let at = |ms: i64| (ms - started_ms) as f64 / 1000.0 - mixed_start_s;
    absent_between(
        &pcm,
        APPLICANT_HZ,
        at(muted_ms),
        at(unmuted_ms),
        "while muted",
    )?;

    applicant.close().await?;
    latecomer.close().await?;
    respondent.close().await?;
    drop(mediator);
    let _ = std::fs::remove_dir_all(&dir);
    world.world.server.stop().await
}

#[tokio::test]
async fn a_private_room_is_not_recorded_and_the_gap_is_shown() -> Result<()> {
    let world = SessionWorld::new().await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let applicant = party(&world, &mediator, APPLICANT, APPLICANT_VARIANT).await?;
    let respondent = party(&world, &mediator, RESPONDENT, RESPONDENT_VARIANT).await?;
    respondent
        .wait_for_media_from(applicant.id(), "audio", 25, WAIT)
        .await?;
    applicant
        .wait_for_media_from(respondent.id(), "audio", 25, WAIT)
        .await?;
    let on_ms = start_recording(
        &mediator,
        &[
            ("the mediator", &|| mediator.frames()),
            ("the applicant", &|| applicant.frames()),
        ],
    )
    .await?;
    let server = &world.world.server;
    let private_before = counter(server, "accord_recorder_private_room_packets").await?;

    sleep_until_unix(on_ms + 2_000).await;
    mediator
        .send(ClientFrame::Move {
            participant_id: applicant.id().to_owned(),
            to: "applicant".into(),
        })
        .await?;
    applicant
        .wait_for_frame(
            "moved to the applicant room",
            WAIT,
            |f| matches!(f, ServerFrame::Moved { space } if space == "applicant"),
        )
        .await?;
    let moved_ms = unix_ms(SystemTime::now());
    applicant
        .wait_for_frame(
            "told it is not recorded here",
            WAIT,
            |f| matches!(f, ServerFrame::Recording(r) if r.state == "on" && !r.recorded_here),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    mediator.send(ClientFrame::Gather).await?;
    applicant
        .wait_for_frame(
            "back in the joint room",
            WAIT,
            |f| matches!(f, ServerFrame::Moved { space } if space == "joint"),
        )
        .await?;
    let back_ms = unix_ms(SystemTime::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_recording(&mediator).await?;

    let private = counter(server, "accord_recorder_private_room_packets").await?;
    let withheld = counter(server, "accord_recorder_withheld_private_packets").await?;
    eprintln!("recorder: {private} packets from private rooms, {withheld} withheld");
    ensure!(
        private == private_before && private == 0.0,
        "nothing from the private room reached the recorder ({private} packets)"
    );
    ensure!(
        withheld > 0.0,
        "the SFU held back the private room's packets"
    );

    let api = &world.world.api;
    let bearer = &world.world.mediator_a;
    let id = recording_of_case(api, bearer, &world.case_id).await?;
    let detail = finished_detail(api, bearer, &id).await?;
    ensure!(
        detail["verification"]["state"] == "verified",
        "the integrity check passed: {}",
        detail["verification"]
    );
    let started_ms = on_ms;
    let gaps = detail["gaps"].as_array().context("gaps")?;
    let gap = gaps
        .iter()
        .find(|g| g["participant_name"] == APPLICANT)
        .with_context(|| format!("a gap for the applicant: {gaps:?}"))?;
    let (from, to) = (
        gap["from_ms"].as_i64().context("from_ms")?,
        gap["to_ms"].as_i64().context("to_ms")?,
    );
    eprintln!(
        "gap {from}..{to} ms; the applicant was away from {} to {} ms",
        moved_ms - started_ms,
        back_ms - started_ms
    );
    ensure!(
        ((to - from) - (back_ms - moved_ms)).abs() <= 1_000,
        "the gap ({from}..{to} ms) spans the time in the private room ({} ms)",
        back_ms - moved_ms
    );
    ensure!(
        gaps.iter().all(|g| g["participant_name"] == APPLICANT),
        "only the applicant was away: {gaps:?}"
    );
    // What the applicant said in the private room is not in the mix; before and after, it is.
    let dir = fresh_temp_dir("accord-recording-caucus")?;
    let (mixed_file, mixed_start_s) = mixed_audio(&world, &detail, &dir).await?;
    let pcm = decode_mono(&mixed_file)?;
    let at = |ms: i64| ms as f64 / 1000.0 - mixed_start_s;
    absent_between(&pcm, APPLICANT_HZ, at(from), at(to), "in the private room")?;
    let _ = std::fs::remove_dir_all(&dir);
    wait_for_record_entry("recording_private_room_skipped", || world.timeline()).await?;

    applicant.close().await?;
    respondent.close().await?;
    drop(mediator);
    world.world.server.stop().await
}
