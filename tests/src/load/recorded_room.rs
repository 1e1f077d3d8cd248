//! `--record`: one room of the run is a case session that its mediator records, so the
//! forwarding cost can be measured with the real SFU tap and recorder running beside it.
//!
//! The case is made through the staff API as a mediation centre would (first administrator,
//! organisation, mediator, a case with one party per load participant of the room, a
//! session, an invite and consent for each party). The mediator joins the session's room
//! without media, starts recording, and admits everyone from the waiting room while the load
//! participants join with their invite tokens (the server mints no API-key tokens for a
//! session's room). After the window the mediator stops the recording and the tool reads the
//! signed manifest for the files' sizes and the tracks' live time.

use crate::case_world::id_of;
use crate::client::Bystander;
use crate::protocol::{ClientFrame, ServerFrame};
use crate::staff_api::StaffApi;
use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const PASSWORD: &str = "load tool password 1";
/// The notice everyone hears lasts 5 s before recording begins.
const RECORDING_ON_LIMIT: Duration = Duration::from_secs(20);
/// Finalising mixes the audio and uploads every file; bounded so a stuck server fails the run.
const FINISHED_LIMIT: Duration = Duration::from_secs(120);
/// How often the mediator admits whoever waits while the load joins.
const ADMIT_EVERY: Duration = Duration::from_millis(250);

/// A recorded case session whose room the load joins.
pub struct RecordedRoom {
    api: StaffApi,
    mediator_token: String,
    case_id: String,
    room: String,
    mediator: Arc<Bystander>,
    /// Invite tokens not yet handed out, one per party.
    invites: Vec<String>,
    admitting: Option<JoinHandle<()>>,
}

/// Size and live time of one recorded file, from the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedFile {
    /// File name in the recording, e.g. `t01-video.webm`.
    pub name: String,
    /// `audio` or `video`; `mixed` for the mixed audio.
    pub kind: String,
    /// `playable` (WebM / Matroska) or `log` (the RTP log).
    pub role: String,
    /// Bytes.
    pub size: u64,
    /// How long its track was live on the session clock, ms.
    pub live_ms: u64,
}

impl RecordedFile {
    /// Bytes per minute of live time.
    pub fn bytes_per_minute(&self) -> f64 {
        if self.live_ms == 0 {
            return 0.0;
        }
        self.size as f64 * 60_000.0 / self.live_ms as f64
    }
}

/// What the finished recording holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordingFigures {
    /// The recording's id.
    pub recording_id: String,
    /// `complete` or `interrupted`.
    pub status: String,
    /// Session clock from start to stop, ms.
    pub duration_ms: u64,
    /// RTP packets the SFU handed to recorders during the measured window.
    pub recorded_packets: f64,
    /// CPU seconds of the server's `recorder` threads during the window.
    pub recorder_thread_seconds: f64,
    /// Every track's playable file and log, and the mixed audio.
    pub files: Vec<RecordedFile>,
}

impl RecordingFigures {
    /// The recorder thread's CPU per recorded packet, µs.
    pub fn recorder_us_per_packet(&self) -> Option<f64> {
        (self.recorded_packets > 0.0)
            .then(|| self.recorder_thread_seconds * 1e6 / self.recorded_packets)
    }

    /// Median bytes per minute over the files of one `kind` and `role`.
    pub fn median_bytes_per_minute(&self, kind: &str, role: &str) -> Option<f64> {
        let mut rates: Vec<f64> = self
            .files
            .iter()
            .filter(|f| f.kind == kind && f.role == role && f.live_ms > 0)
            .map(RecordedFile::bytes_per_minute)
            .collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied()
    }
}

impl RecordedRoom {
    /// Makes the case session with `seats` parties on a fresh server at `http_url`, joins its
    /// mediator and starts recording; returns once the recording runs, with the mediator
    /// admitting everyone who arrives until [`RecordedRoom::stop_admitting`].
    pub async fn open(http_url: &str, ws_url: &str, seats: usize) -> Result<Self> {
        let api = StaffApi::new(http_url);
        let admin = api
            .setup("admin", PASSWORD)
            .await
            .context("--record needs a fresh server (first-run setup)")?;
        let organisation = api
            .post(
                "/api/v1/organisations",
                json!({"name": "负载测试调解委员会", "short_name": "负载", "region": "测试",
                       "channel": "peoples", "court": null}),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        api.post(
            "/api/v1/staff",
            json!({"username": "mediator", "display_name": "mediator", "password": PASSWORD,
                   "role": "mediator", "organisation_id": organisation, "court": null}),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
        let mediator_token = api.login("mediator", PASSWORD).await?;
        let parties: Vec<Value> = (0..seats)
            .map(|seat| {
                let side = if seat % 2 == 0 {
                    "applicant"
                } else {
                    "respondent"
                };
                json!({"side": side, "kind": "person", "name": format!("当事人{seat}"),
                       "phone": format!("1380013{seat:04}")})
            })
            .collect();
        let case = api
            .post(
                "/api/v1/cases",
                json!({"category": "neighbours", "risk": "yellow", "title": "负载测试",
                       "facts": "录制开销测量。", "claims": "无。", "parties": parties}),
                &mediator_token,
            )
            .await?
            .expect(StatusCode::CREATED)?;
        let case_id = id_of(&case.body, "/case/id")?;
        let in_an_hour = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            .saturating_add(3_600_000);
        let in_an_hour = u64::try_from(in_an_hour)?;
        let session_id = api
            .post(
                &format!("/api/v1/cases/{case_id}/sessions"),
                json!({"scheduled_at": in_an_hour}),
                &mediator_token,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        let started = api
            .post(
                &format!("/api/v1/sessions/{session_id}/start"),
                json!({}),
                &mediator_token,
            )
            .await?
            .expect(StatusCode::OK)?;
        let room = id_of(&started.body, "/session/room")?;
        let mut invites = Vec::with_capacity(seats);
        for party in case.body["parties"]
            .as_array()
            .context("the case's parties")?
        {
            let invite = api
                .post(
                    &format!("/api/v1/sessions/{session_id}/invites"),
                    json!({"party_id": id_of(party, "/id")?}),
                    &mediator_token,
                )
                .await?
                .expect(StatusCode::CREATED)?;
            let link = invite.text("link")?;
            let token = link
                .split_once("#token=")
                .map(|(_, token)| token.to_owned())
                .context("a token in the invite link")?;
            api.post(
                "/api/v1/room/consent",
                json!({"online_mediation": true, "recording": true}),
                &token,
            )
            .await?
            .expect(StatusCode::CREATED)?;
            invites.push(token);
        }
        let mediator = Bystander::join(ws_url, &started.text("token")?, None, "mediator").await?;
        mediator
            .send(ClientFrame::Record {
                action: "start".into(),
            })
            .await?;
        mediator
            .wait_for_frame(
                "recording on",
                RECORDING_ON_LIMIT,
                |f| matches!(f, ServerFrame::Recording(r) if r.state == "on"),
            )
            .await?;
        let mediator = Arc::new(mediator);
        let admitter = Arc::clone(&mediator);
        let admitting = tokio::spawn(async move {
            // Admitting nobody is harmless; a dead socket shows up as failed joins.
            while admitter
                .send(ClientFrame::Admit {
                    participant_id: None,
                })
                .await
                .is_ok()
            {
                tokio::time::sleep(ADMIT_EVERY).await;
            }
        });
        Ok(Self {
            api,
            mediator_token,
            case_id,
            room,
            mediator,
            invites,
            admitting: Some(admitting),
        })
    }

    /// The room name the load participants join.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The next party's invite token, `None` once every party has one.
    pub fn next_invite(&mut self) -> Option<String> {
        self.invites.pop()
    }

    /// Everyone has joined: the mediator stops admitting, so it sends nothing during the
    /// measured window.
    pub fn stop_admitting(&mut self) {
        if let Some(task) = self.admitting.take() {
            task.abort();
        }
    }

    /// Stops the recording, waits until it is finalised and stored, and reads its manifest.
    /// `recorded_packets` and `recorder_thread_seconds` are left for the caller, who measured
    /// the window.
    pub async fn stop(mut self) -> Result<RecordingFigures> {
        self.stop_admitting();
        self.mediator
            .send(ClientFrame::Record {
                action: "stop".into(),
            })
            .await?;
        let list = format!("/api/v1/cases/{}/recordings", self.case_id);
        let deadline = Instant::now() + FINISHED_LIMIT;
        let summary = loop {
            let answer = self.api.get(&list, &self.mediator_token).await?;
            let finished = answer.body["recordings"]
                .as_array()
                .and_then(|all| all.first())
                .filter(|r| r["status"] != "recording" && !r["ended_at"].is_null())
                .cloned();
            if let Some(summary) = finished {
                break summary;
            }
            if Instant::now() > deadline {
                bail!("the recording was not finalised within {FINISHED_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let id = id_of(&summary, "/id")?;
        let detail = self
            .api
            .get(&format!("/api/v1/recordings/{id}"), &self.mediator_token)
            .await?
            .expect(StatusCode::OK)?;
        let manifest_url = id_of(&detail.body, "/downloads/manifest_url")?;
        let (status, _, bytes) = self
            .api
            .get_bytes(&manifest_url, &self.mediator_token)
            .await?;
        if !status.is_success() {
            bail!("GET {manifest_url} answered {status}");
        }
        let manifest: Value = serde_json::from_slice(&bytes).context("the manifest")?;
        figures(&manifest)
    }
}

/// File sizes and live times from a manifest (`tracks[].file`/`log`, `mixed_audio`, `files`).
fn figures(manifest: &Value) -> Result<RecordingFigures> {
    let size_of = |name: &str| {
        manifest["files"]
            .as_array()
            .and_then(|files| files.iter().find(|f| f["name"] == name))
            .and_then(|f| f["size"].as_u64())
            .unwrap_or(0)
    };
    let span = |v: &Value| {
        let (start, end) = (v["start_ms"].as_u64(), v["end_ms"].as_u64());
        end.zip(start).map_or(0, |(e, s)| e.saturating_sub(s))
    };
    let mut files = Vec::new();
    for track in manifest["tracks"].as_array().context("manifest tracks")? {
        let kind = track["kind"].as_str().unwrap_or_default().to_owned();
        for (key, role) in [("file", "playable"), ("log", "log")] {
            if let Some(name) = track[key].as_str() {
                files.push(RecordedFile {
                    name: name.to_owned(),
                    kind: kind.clone(),
                    role: role.into(),
                    size: size_of(name),
                    live_ms: span(track),
                });
            }
        }
    }
    if let Some(name) = manifest["mixed_audio"]["file"].as_str() {
        files.push(RecordedFile {
            name: name.to_owned(),
            kind: "mixed".into(),
            role: "playable".into(),
            size: size_of(name),
            live_ms: span(&manifest["mixed_audio"]),
        });
    }
    Ok(RecordingFigures {
        recording_id: manifest["recording_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        status: manifest["status"].as_str().unwrap_or_default().to_owned(),
        duration_ms: manifest["duration_ms"].as_u64().unwrap_or(0),
        files,
        ..RecordingFigures::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_minute_come_from_the_manifest() {
        let manifest = json!({
            "recording_id": "RC_1", "status": "complete", "duration_ms": 30_000,
            "tracks": [
                {"kind": "audio", "file": "t01-audio.webm", "log": "t01-audio.rtplog", "start_ms": 0, "end_ms": 30_000},
                {"kind": "video", "file": "t02-video.webm", "log": "t02-video.rtplog", "start_ms": 15_000, "end_ms": 30_000},
                {"kind": "video", "file": null, "log": "t03-video.rtplog", "start_ms": 0, "end_ms": 0}
            ],
            "mixed_audio": {"file": "mixed-audio.webm", "start_ms": 0, "end_ms": 30_000},
            "files": [
                {"name": "t01-audio.webm", "size": 100_000}, {"name": "t01-audio.rtplog", "size": 150_000},
                {"name": "t02-video.webm", "size": 1_000_000}, {"name": "t02-video.rtplog", "size": 1_200_000},
                {"name": "t03-video.rtplog", "size": 40}, {"name": "mixed-audio.webm", "size": 90_000}
            ]
        });
        let figures = figures(&manifest).expect("figures");
        assert_eq!(figures.files.len(), 6);
        assert_eq!(
            figures.median_bytes_per_minute("audio", "playable"),
            Some(200_000.0)
        );
        assert_eq!(
            figures.median_bytes_per_minute("video", "log"),
            Some(4_800_000.0),
            "a track live for 15 s counts its own 15 s, and one never live is left out"
        );
        assert_eq!(
            figures.median_bytes_per_minute("mixed", "playable"),
            Some(180_000.0)
        );
    }
}
