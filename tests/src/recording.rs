//! Helpers for end-to-end tests of the recorder: a speaker whose microphone can fall silent
//! (it stops sending audio packets, as a phone does when muted), fetching a finished
//! recording through the review API, and reading its files with the real `ffprobe` and
//! `ffmpeg`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use reqwest::StatusCode;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::PeerConnection;

use crate::client::publish::{LocalMedia, Outlet, set_ext, wait_ready};
use crate::client::signaling::{Command, Signaling, open_and_join};
use crate::client::state::Shared;
use crate::client::{VideoPublish, media_ready, peer};
use crate::media::{self, AUDIO_FRAME, AUDIO_SAMPLES_PER_FRAME, AudioClip, VideoSize};
use crate::payload::{PayloadKind, PayloadLedger, is_vp8_keyframe, payload_hash};
use crate::protocol::{ClientFrame, ServerFrame};
use crate::wait::{wait_until, within};
use crate::{StaffApi, TestServer};

/// Sample rate everything is decoded at for analysis.
pub const ANALYSIS_RATE: u32 = 48_000;

/// Unix milliseconds of a wall-clock time.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds of a monotonic instant of this process (same machine clock as the
/// server's, so comparable with the unix times it reports).
pub fn unix_ms_of(at: Instant) -> i64 {
    let (now, wall) = (Instant::now(), unix_ms(SystemTime::now()));
    let ago = i64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(0);
    wall - ago
}

/// A participant publishing only a microphone (a sine tone), which it can silence: while
/// muted it sends no audio packets at all; its RTP clock keeps running, as a browser's does.
pub struct MutingSpeaker {
    who: String,
    id: String,
    shared: Arc<Shared>,
    pc: Arc<dyn PeerConnection>,
    commands: mpsc::UnboundedSender<Command>,
    muted: watch::Sender<bool>,
    first_sent: Arc<Mutex<Option<SystemTime>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MutingSpeaker {
    /// Joins with `token` (returning once `joined` arrived: after admission, if the room has
    /// a waiting room) and starts sending the tone of media variant `variant`.
    pub async fn connect(ws_url: &str, token: &str, who: &str, variant: u32) -> Result<Self> {
        crate::init_logging();
        let shared = Arc::new(Shared::default());
        let (socket, joined, _) =
            open_and_join(ws_url, token, None, who, &shared, Duration::from_secs(15)).await?;
        let peer = peer::build(Arc::clone(&shared), false).await?;
        let pc = Arc::clone(&peer.pc);
        let local =
            match LocalMedia::create(&pc, &format!("accord-test-{who}"), true, VideoPublish::None)
                .await
            {
                Ok(local) => Arc::new(local),
                Err(err) => {
                    let _ = pc.close().await;
                    return Err(err);
                }
            };
        let track = local
            .tracks
            .first()
            .context("the microphone track was not created")?;
        let outlet = Outlet {
            track: Arc::clone(&track.track),
            transceiver: Arc::clone(&track.transceiver),
            ledger: Arc::new(PayloadLedger::default()),
        };
        let ssrc = track.layers.first().map(|l| l.1).unwrap_or_default();
        let clip = media::audio_clip_async(variant).await?;
        let (stop, stop_rx) = watch::channel(false);
        let (muted, muted_rx) = watch::channel(false);
        let (answered_tx, answered_rx) = watch::channel(0u64);
        let first_sent = Arc::new(Mutex::new(None));
        let pacer = MutingPacer {
            out: outlet,
            clip,
            ssrc,
            muted: muted_rx,
            first_sent: Arc::clone(&first_sent),
        };
        let ready = media_ready(answered_rx, peer.state.clone());
        let mut tasks = vec![tokio::spawn(pacer.run(ready, stop_rx))];
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let signaling = Signaling::new(
            who.to_owned(),
            socket,
            Arc::clone(&pc),
            Arc::clone(&shared),
            local,
            commands_rx,
            peer.candidates,
            answered_tx,
        );
        tasks.push(tokio::spawn(signaling.run()));
        Ok(Self {
            who: who.to_owned(),
            id: joined.participant.id,
            shared,
            pc,
            commands,
            muted,
            first_sent,
            stop,
            tasks,
        })
    }

    /// Our seat.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the first audio packet went out, once it did.
    pub fn first_audio_sent(&self) -> Option<SystemTime> {
        self.first_sent.lock().ok().and_then(|g| *g)
    }

    /// Stops (or resumes) sending audio packets, and tells the server with a `mute` frame as
    /// a browser does.
    pub async fn set_muted(&self, muted: bool) -> Result<()> {
        self.muted.send_replace(muted);
        self.send(ClientFrame::Mute {
            source: "microphone".into(),
            muted,
        })
        .await
    }

    /// Sends a frame.
    pub async fn send(&self, frame: ClientFrame) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Send(frame, tx))
            .map_err(|_| anyhow!("{}: the signaling task has ended", self.who))?;
        within(Duration::from_secs(5), "a frame to be sent", rx)
            .await?
            .map_err(|_| anyhow!("{}: the signaling task dropped a send", self.who))?
    }

    /// Every server frame received so far.
    pub fn frames(&self) -> Vec<ServerFrame> {
        self.shared.lock().frames.clone()
    }

    /// Stops sending, closes the socket and the peer connection.
    pub async fn close(mut self) -> Result<()> {
        self.stop.send_replace(true);
        let _ = self.commands.send(Command::Close);
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let ended = within(
            Duration::from_secs(2),
            "the speaker's pacer and signaling to end",
            futures_util::future::join_all(tasks),
        )
        .await;
        if ended.is_err() {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        self.pc
            .close()
            .await
            .map_err(|e| anyhow!("{}: closing the peer connection: {e}", self.who))
    }
}

impl Drop for MutingSpeaker {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Paces the tone in real time; skips the packets of muted ticks.
struct MutingPacer {
    out: Outlet,
    clip: Arc<AudioClip>,
    ssrc: u32,
    muted: watch::Receiver<bool>,
    first_sent: Arc<Mutex<Option<SystemTime>>>,
}

impl MutingPacer {
    async fn run(self, mut ready: watch::Receiver<bool>, mut stop: watch::Receiver<bool>) {
        if !wait_ready(&mut ready, &mut stop).await {
            return;
        }
        let mut stamp = self.out.stamp(MIME_TYPE_OPUS).await;
        let mut refreshed = tokio::time::Instant::now();
        let mut ticker = tokio::time::interval(AUDIO_FRAME);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
        let mut sent = 0usize;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            // The RTP clock runs on while muted: the audio device keeps its pace.
            let this_ts = ts;
            ts = ts.wrapping_add(AUDIO_SAMPLES_PER_FRAME);
            if *self.muted.borrow() {
                continue;
            }
            if refreshed.elapsed() >= Duration::from_secs(1) {
                stamp = self.out.stamp(MIME_TYPE_OPUS).await;
                refreshed = tokio::time::Instant::now();
            }
            let Some(pt) = stamp.payload_type else {
                continue;
            };
            let packet = &self.clip.packets[sent % self.clip.packets.len()];
            let Ok(payload) = media::opus_payload(packet) else {
                continue;
            };
            let mut pkt = rtp::Packet {
                header: rtp::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp: this_ts,
                    ssrc: self.ssrc,
                    ..Default::default()
                },
                payload,
            };
            if let Some(mid) = &stamp.mid {
                set_ext(&mut pkt.header, stamp.mid_id, mid);
            }
            set_ext(
                &mut pkt.header,
                stamp.audio_level_id,
                &Bytes::from_static(&[0x80 | 30]),
            );
            self.out
                .ledger
                .record(PayloadKind::Opus, &pkt.payload, None);
            if let Ok(mut first) = self.first_sent.lock() {
                first.get_or_insert_with(SystemTime::now);
            }
            if let Err(err) = self.out.track.write_rtp(pkt).await {
                tracing::debug!("write_rtp: {err}");
            }
            seq = seq.wrapping_add(1);
            sent += 1;
        }
    }
}

/// The one recording of a case, once the case's list shows it.
pub async fn recording_of_case(api: &StaffApi, bearer: &str, case_id: &str) -> Result<String> {
    let path = format!("/api/v1/cases/{case_id}/recordings");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = api.get(&path, bearer).await?.expect(StatusCode::OK)?;
        if let Some(id) = answer.body["recordings"]
            .as_array()
            .and_then(|list| list.first())
            .and_then(|r| r["id"].as_str())
        {
            return Ok(id.to_owned());
        }
        ensure!(
            Instant::now() < deadline,
            "the case lists no recording: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `GET /api/v1/recordings/{id}` until the recording is finished (complete or
/// interrupted) and its integrity was checked; returns that detail.
pub async fn finished_detail(api: &StaffApi, bearer: &str, id: &str) -> Result<Value> {
    let path = format!("/api/v1/recordings/{id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail = api.get(&path, bearer).await?.expect(StatusCode::OK)?.body;
        let status = detail["status"].as_str().unwrap_or_default().to_owned();
        ensure!(status != "failed", "the recording failed: {detail}");
        let checked = detail["verification"]["state"] != "unchecked";
        if (status == "complete" || status == "interrupted") && checked {
            return Ok(detail);
        }
        if Instant::now() >= deadline {
            bail!("the recording was not finished and checked within 60 s; last detail: {detail}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Downloads a file of the detail by its ticketed `url` into `dir`; returns its path.
pub async fn download(api: &StaffApi, bearer: &str, url: &str, dir: &Path) -> Result<PathBuf> {
    let name = url
        .split('?')
        .next()
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("no file name in {url}"))?;
    let (status, _, bytes) = api.get_bytes(url, bearer).await?;
    ensure!(status == StatusCode::OK, "GET {url} answered {status}");
    let path = dir.join(name);
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What `ffprobe` says of a media file.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The container's duration in seconds.
    pub duration: f64,
    /// Codec names of its streams.
    pub codecs: Vec<String>,
    /// Width × height of its video streams.
    pub sizes: Vec<(u64, u64)>,
}

/// Runs `ffprobe -show_entries format=duration:stream=codec_name,width,height` on `path`.
pub fn probe(path: &Path) -> Result<Probe> {
    let output = Process::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("format=duration:stream=codec_name,width,height")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .context("running ffprobe")?;
    ensure!(
        output.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).context("ffprobe's JSON")?;
    let duration = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .with_context(|| format!("no duration for {}: {json}", path.display()))?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    Ok(Probe {
        duration,
        codecs: streams
            .iter()
            .filter_map(|s| s["codec_name"].as_str().map(str::to_owned))
            .collect(),
        sizes: streams
            .iter()
            .filter_map(|s| Some((s["width"].as_u64()?, s["height"].as_u64()?)))
            .collect(),
    })
}

/// Decodes the audio of `path` to mono f32 samples at [`ANALYSIS_RATE`] with the real
/// ffmpeg.
pub fn decode_mono(path: &Path) -> Result<Vec<f32>> {
    let output = Process::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-ac", "1", "-ar"])
        .arg(ANALYSIS_RATE.to_string())
        .arg("-")
        .output()
        .context("running ffmpeg")?;
    ensure!(
        output.status.success(),
        "ffmpeg could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The samples of `pcm` (at [`ANALYSIS_RATE`]) between `from` and `to` seconds.
pub fn window(pcm: &[f32], from: f64, to: f64) -> &[f32] {
    let at = |s: f64| ((s.max(0.0) * f64::from(ANALYSIS_RATE)) as usize).min(pcm.len());
    &pcm[at(from)..at(to).max(at(from))]
}

/// A counter from `/metrics`, exported with or without the `_total` suffix.
pub async fn counter(server: &TestServer, name: &str) -> Result<f64> {
    if let Some(value) = server.metric(&format!("{name}_total")).await? {
        return Ok(value);
    }
    server
        .metric(name)
        .await?
        .with_context(|| format!("/metrics has no {name}"))
}

/// Waits until the session record (as `timeline` returns it) holds an entry of `kind`.
pub async fn wait_for_record_entry<F, Fut>(kind: &str, timeline: F) -> Result<Value>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Value>>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let items = timeline().await?;
        if let Some(entry) = items.iter().find(|e| e["kind"] == kind) {
            return Ok(entry.clone());
        }
        ensure!(
            Instant::now() < deadline,
            "the session record has no {kind} entry: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for a `recording` frame in `state` among `frames()`; returns it.
pub async fn wait_recording_state(
    who: &str,
    state: &str,
    frames: impl Fn() -> Vec<ServerFrame>,
) -> Result<crate::protocol::Recording> {
    let found = |frames: Vec<ServerFrame>| {
        frames.into_iter().find_map(|f| match f {
            ServerFrame::Recording(r) if r.state == state => Some(r),
            _ => None,
        })
    };
    wait_until(
        Duration::from_secs(15),
        &format!("{who} to be told the recording is {state}"),
        || Ok(found(frames())),
        || {
            format!(
                "recording frames: {:?}",
                frames()
                    .into_iter()
                    .filter(|f| matches!(f, ServerFrame::Recording(_)))
                    .collect::<Vec<_>>()
            )
        },
    )
    .await
}

/// Payload hashes of the first RTP packet of every keyframe in the VP8 clip a client of
/// media variant `variant` sends at `size`, to find in its send log when a keyframe went out.
pub fn keyframe_hashes(size: VideoSize, variant: u32) -> Result<HashSet<u64>> {
    let clip = media::video_clip(size, variant)?;
    let mut hashes = HashSet::new();
    // The payloader's picture id takes one byte below 128 and two from then on, which moves
    // where a frame is split: pace the clip twice, as a sender does, to see both splits.
    let mut payloader = media::new_vp8_payloader();
    for frame in clip.frames.iter().chain(&clip.frames) {
        let payloads = media::vp8_payloads(&mut payloader, frame)?;
        if !is_vp8_keyframe(frame) {
            continue;
        }
        if let Some(hash) = payloads
            .first()
            .and_then(|p| payload_hash(PayloadKind::Vp8, p))
        {
            hashes.insert(hash);
        }
    }
    ensure!(!hashes.is_empty(), "the clip has no keyframe");
    Ok(hashes)
}

/// Unix ms when `ledger` (with its send log on) first sent one of `keyframes` at or after
/// `after_ms`: where a recording of the stream can begin, as video decodes from a keyframe.
pub fn first_keyframe_sent(
    ledger: &PayloadLedger,
    keyframes: &HashSet<u64>,
    after_ms: i64,
) -> Option<i64> {
    ledger
        .send_log()
        .into_iter()
        .filter(|p| p.kind == PayloadKind::Vp8 && keyframes.contains(&p.hash))
        .map(|p| unix_ms_of(p.at))
        .find(|&at| at >= after_ms)
}
