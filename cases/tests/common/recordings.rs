//! Builders the recording suites share: a live session to record, a recording started by its
//! mediator and finalised as the recorder would, and a case's audit actions.

use accord_cases::store::model::{
    Actor, Case, NewRecording, Organisation, Recording, RecordingFile, RecordingFileKind,
    RecordingStatus, Session,
};
use accord_cases::store::{FinishedRecording, Store, now_ms};
use accord_cases::{RecordingId, StaffId};

use super::{admin, new_case};

pub fn mediator() -> Actor {
    Actor::Staff(StaffId::from("ST_mediator"))
}

/// A case of `org` with a session scheduled for now.
pub async fn scheduled_session(store: &Store, org: &Organisation, title: &str) -> (Case, Session) {
    let case = store
        .create_case(&admin(), new_case(org, title), None)
        .await
        .expect("case");
    let session = store
        .schedule_session(&admin(), &case.id, now_ms())
        .await
        .expect("session");
    (case, session)
}

/// A case of `org` with a live session, ready to be recorded.
pub async fn live_session(store: &Store, org: &Organisation, title: &str) -> (Case, Session) {
    let (case, session) = scheduled_session(store, org, title).await;
    let session = store
        .start_session(&mediator(), &session.id)
        .await
        .expect("live");
    (case, session)
}

/// A start of recording `session` by its mediator.
pub fn request(session: &Session) -> NewRecording {
    NewRecording {
        session_id: session.id.clone(),
        started_by: "ST_mediator".into(),
        private_rooms_recorded: false,
        node: "local".into(),
    }
}

pub async fn start(store: &Store, session: &Session) -> Recording {
    store
        .create_recording(&mediator(), request(session))
        .await
        .expect("start recording")
}

pub fn file(name: &str, kind: RecordingFileKind, size: i64) -> RecordingFile {
    let track = matches!(kind, RecordingFileKind::Log | RecordingFileKind::Media);
    RecordingFile {
        name: name.into(),
        kind,
        size,
        sha256: format!("{:064x}", size),
        track_id: track.then(|| "TR_audio1".into()),
        participant_id: track.then(|| "PT_zhang".into()),
        media_kind: track.then(|| "audio".into()),
        space: track.then(|| "joint".into()),
        start_ms: track.then_some(0),
        end_ms: track.then_some(20_000),
    }
}

pub fn finished(
    status: RecordingStatus,
    ended_at: i64,
    delete_after: Option<i64>,
) -> FinishedRecording {
    FinishedRecording {
        status,
        manifest_sha256: "ab".repeat(32),
        files: vec![
            file("t01-audio.rtplog", RecordingFileKind::Log, 4000),
            file("t01-audio.webm", RecordingFileKind::Media, 3000),
            file("mixed-audio.webm", RecordingFileKind::Mixed, 2000),
            file("chain.jsonl", RecordingFileKind::Chain, 300),
            file("manifest.json", RecordingFileKind::Manifest, 1200),
            file("manifest.sig", RecordingFileKind::Signature, 64),
        ],
        ended_at,
        delete_after,
    }
}

/// Finalises the recording `id` as the recorder would, expecting it to be accepted.
pub async fn finish(store: &Store, id: &RecordingId, finished: FinishedRecording) -> Recording {
    store
        .finish_recording(&Actor::System, id, &finished)
        .await
        .expect("finish")
}

pub async fn actions_of(store: &Store, case: &Case) -> Vec<String> {
    store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}
