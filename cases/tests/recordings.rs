//! Recordings in the store, on SQLite and PostgreSQL (see `store.rs` for the databases): a
//! recording's life from start to finalised with its pauses and files, what a restart must
//! recover, and that only a live session is recorded. Review, retention, integrity and the
//! policy are in `recording_review.rs`.

#[macro_use]
mod common;

use accord_cases::store::model::{Actor, IntegrityState, RecordingFileKind, RecordingStatus};
use accord_cases::store::{DEFAULT_RETENTION_DAYS, now_ms};
use accord_cases::{Error, RecordingId};
use common::recordings::*;
use common::{Scratch, organisation};

const DAY_MS: i64 = 86_400_000;

async fn a_recording_runs_pauses_and_is_finalised_with_its_files(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (case, session) = live_session(store, &org, "漏水").await;
    let recording = start(store, &session).await;
    assert!(recording.id.starts_with("RC_"), "{}", recording.id);
    assert_eq!(recording.status, RecordingStatus::Recording);
    assert_eq!(recording.case_id, case.id);
    assert!(!recording.private_rooms_recorded);
    assert_eq!(recording.integrity, IntegrityState::Unchecked);
    let second = store.create_recording(&mediator(), request(&session)).await;
    assert!(matches!(second, Err(Error::Conflict(_))), "{second:?}");

    let paused = store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Paused)
        .await
        .expect("pause");
    assert_eq!(paused.status, RecordingStatus::Paused);
    // Pausing twice is one pause.
    store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Paused)
        .await
        .expect("pause again");
    let pauses = store.recording_pauses(&recording.id).await.expect("pauses");
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].resumed_at, None);
    store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Recording)
        .await
        .expect("resume");
    let pauses = store.recording_pauses(&recording.id).await.expect("pauses");
    assert!(
        pauses[0]
            .resumed_at
            .is_some_and(|r| r >= pauses[0].paused_at)
    );
    // A second pause is still open when the recording stops: stopping closes it.
    store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Paused)
        .await
        .expect("pause");

    store
        .checkpoint_recording(&recording.id, &"c0".repeat(32), 4, 9_000, now_ms())
        .await
        .expect("checkpoint");
    let checked = store.recording(&recording.id).await.expect("recording");
    assert_eq!(checked.chain_head, Some("c0".repeat(32)));
    assert_eq!((checked.chain_segments, checked.bytes), (4, 9_000));

    let stopping = store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Finalising)
        .await
        .expect("stop");
    assert_eq!(stopping.status, RecordingStatus::Finalising);
    let pauses = store.recording_pauses(&recording.id).await.expect("pauses");
    assert_eq!(pauses.len(), 2);
    assert!(pauses.iter().all(|p| p.resumed_at.is_some()));
    let refused = store
        .set_recording_status(&mediator(), &recording.id, RecordingStatus::Recording)
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");

    let ended_at = now_ms();
    let policy = org.recording_policy();
    assert_eq!(
        policy.recording_retention_days,
        Some(DEFAULT_RETENTION_DAYS)
    );
    let delete_after = policy.delete_after(ended_at);
    assert_eq!(
        delete_after,
        Some(ended_at + i64::from(DEFAULT_RETENTION_DAYS) * DAY_MS)
    );
    let done = finish(
        store,
        &recording.id,
        finished(RecordingStatus::Complete, ended_at, delete_after),
    )
    .await;
    assert_eq!(done.status, RecordingStatus::Complete);
    assert_eq!(done.ended_at, Some(ended_at));
    assert_eq!(done.delete_after, delete_after);
    assert_eq!(done.manifest_sha256, Some("ab".repeat(32)));
    assert_eq!(done.manifest_blob, Some(format!("{:064x}", 1200)));
    assert_eq!(done.bytes, 4000 + 3000 + 2000 + 300 + 1200 + 64);
    let files = store.recording_files(&recording.id).await.expect("files");
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "chain.jsonl",
            "manifest.json",
            "manifest.sig",
            "mixed-audio.webm",
            "t01-audio.rtplog",
            "t01-audio.webm"
        ]
    );
    assert_eq!(
        files[5],
        file("t01-audio.webm", RecordingFileKind::Media, 3000)
    );
    // Finished is final: neither a second finish nor a checkpoint changes it.
    let again = store
        .finish_recording(
            &Actor::System,
            &recording.id,
            &finished(RecordingStatus::Interrupted, ended_at, None),
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let late = store
        .checkpoint_recording(&recording.id, "x", 5, 1, now_ms())
        .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");

    // Once it is finished the session can be recorded again.
    let next = start(store, &session).await;
    assert_ne!(next.id, recording.id);
    let listed: Vec<RecordingId> = store
        .recordings_of_case(&case.id)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![recording.id.clone(), next.id.clone()]);

    let actions = actions_of(store, &case).await;
    let recording_actions: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("recording."))
        .collect();
    assert_eq!(
        recording_actions,
        [
            "recording.started",
            "recording.paused",
            "recording.resumed",
            "recording.paused",
            "recording.stopped",
            "recording.finalised",
            "recording.started"
        ]
    );
    let finalised = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.action == "recording.finalised")
        .expect("finalised entry");
    assert!(
        finalised.detail.contains(&"ab".repeat(32)),
        "the manifest's hash enters the chain: {}",
        finalised.detail
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}

async fn a_restart_finds_what_was_running_and_recovers_or_fails_it(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (_, first) = live_session(store, &org, "漏水").await;
    let (_, second) = live_session(store, &org, "欠薪").await;
    let (_, third) = live_session(store, &org, "噪音").await;
    let running = start(store, &first).await;
    // Recordings are listed by start time, then id (random): started in the same millisecond,
    // these two would come in either order.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let paused = start(store, &second).await;
    store
        .set_recording_status(&mediator(), &paused.id, RecordingStatus::Paused)
        .await
        .expect("pause");
    let clean = start(store, &third).await;
    finish(
        store,
        &clean.id,
        finished(RecordingStatus::Complete, now_ms(), None),
    )
    .await;

    let unfinished: Vec<RecordingId> = store
        .unfinished_recordings()
        .await
        .expect("unfinished")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(unfinished, vec![running.id.clone(), paused.id.clone()]);

    let recovered = finish(
        store,
        &running.id,
        finished(RecordingStatus::Interrupted, now_ms(), None),
    )
    .await;
    assert_eq!(recovered.status, RecordingStatus::Interrupted);
    let failed = store
        .mark_recording_failed(&Actor::System, &paused.id, "no usable track log")
        .await
        .expect("fail");
    assert_eq!(failed.status, RecordingStatus::Failed);
    assert!(failed.ended_at.is_some());
    let pauses = store.recording_pauses(&paused.id).await.expect("pauses");
    assert!(pauses.iter().all(|p| p.resumed_at.is_some()));
    assert!(
        store
            .unfinished_recordings()
            .await
            .expect("unfinished")
            .is_empty()
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}

async fn a_session_is_recorded_only_while_live(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (case, session) = scheduled_session(store, &org, "漏水").await;
    let refused = store.create_recording(&mediator(), request(&session)).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert!(
        store
            .recordings_of_case(&case.id)
            .await
            .expect("list")
            .is_empty()
    );
}

both_databases!(
    a_recording_s_life,
    a_recording_runs_pauses_and_is_finalised_with_its_files
);
both_databases!(
    recovery,
    a_restart_finds_what_was_running_and_recovers_or_fails_it
);
both_databases!(only_live_sessions, a_session_is_recorded_only_while_live);
