//! Recordings in the store, on SQLite and PostgreSQL (see `store.rs` for the databases): a
//! recording's life from start to finalised with its pauses and files, what a restart must
//! recover, who may review it, the retention rules (a hold or a confirmation request keeps
//! it), the organisation's recording policy, and the audit chain intact after all of it.

#[macro_use]
mod common;

use accord_cases::access::Viewer;
use accord_cases::store::model::{
    Actor, Case, CaseStatus, IntegrityProblem, IntegrityState, NewRecording, NewStaff,
    Organisation, Recording, RecordingFile, RecordingFileKind, RecordingPolicy, RecordingStatus,
    Session, StaffRole,
};
use accord_cases::store::{DEFAULT_RETENTION_DAYS, FinishedRecording, Store, now_ms};
use accord_cases::{Error, RecordingId, StaffId};
use common::{Scratch, admin, new_case, organisation};

const DAY_MS: i64 = 86_400_000;

fn mediator() -> Actor {
    Actor::Staff(StaffId::from("ST_mediator"))
}

/// A case of `org` with a session scheduled for now.
async fn scheduled_session(store: &Store, org: &Organisation, title: &str) -> (Case, Session) {
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
async fn live_session(store: &Store, org: &Organisation, title: &str) -> (Case, Session) {
    let (case, session) = scheduled_session(store, org, title).await;
    let session = store
        .start_session(&mediator(), &session.id)
        .await
        .expect("live");
    (case, session)
}

/// A start of recording `session` by its mediator.
fn request(session: &Session) -> NewRecording {
    NewRecording {
        session_id: session.id.clone(),
        started_by: "ST_mediator".into(),
        private_rooms_recorded: false,
        node: "local".into(),
    }
}

async fn start(store: &Store, session: &Session) -> Recording {
    store
        .create_recording(&mediator(), request(session))
        .await
        .expect("start recording")
}

fn file(name: &str, kind: RecordingFileKind, size: i64) -> RecordingFile {
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

fn finished(
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
async fn finish(store: &Store, id: &RecordingId, finished: FinishedRecording) -> Recording {
    store
        .finish_recording(&Actor::System, id, &finished)
        .await
        .expect("finish")
}

async fn actions_of(store: &Store, case: &Case) -> Vec<String> {
    store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

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

/// Takes `case` through its steps to a confirmation request to its organisation's court.
async fn send_to_court(store: &Store, case: &Case) {
    for step in [
        CaseStatus::Assigned,
        CaseStatus::InMediation,
        CaseStatus::AgreementReached,
        CaseStatus::Signed,
        CaseStatus::ConfirmationRequested,
    ] {
        store
            .transition_case(&admin(), &case.id, step)
            .await
            .expect("step");
    }
}

async fn staff(
    store: &Store,
    username: &str,
    role: StaffRole,
    org: Option<&Organisation>,
    court: Option<&str>,
) -> accord_cases::store::model::Staff {
    store
        .create_staff(
            &admin(),
            NewStaff {
                organisation_id: org.map(|o| o.id.clone()),
                username: username.into(),
                display_name: username.into(),
                role,
                court: court.map(str::to_owned),
                password_hash: "$argon2id$placeholder-not-checked-here".into(),
            },
        )
        .await
        .expect("staff")
}

async fn only_the_case_s_staff_and_its_court_may_review_a_recording(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let elsewhere = organisation(store, "南山", "南头街道").await;
    let (case, session) = live_session(store, &org, "漏水").await;
    let recording = start(store, &session).await;
    let court = org
        .court
        .clone()
        .expect("the test organisation has a court");
    let mediator = staff(store, "li", StaffRole::Mediator, Some(&org), None).await;
    let org_admin = staff(store, "wang", StaffRole::Administrator, Some(&org), None).await;
    let stranger = staff(store, "zhao", StaffRole::Mediator, Some(&elsewhere), None).await;
    let other_admin = staff(
        store,
        "qian",
        StaffRole::Administrator,
        Some(&elsewhere),
        None,
    )
    .await;
    let judge = staff(store, "judge", StaffRole::Court, None, Some(&court)).await;
    let other_judge = staff(
        store,
        "judge2",
        StaffRole::Court,
        None,
        Some("南山区人民法院"),
    )
    .await;
    let viewer = |s: &accord_cases::store::model::Staff| -> (
        StaffId,
        StaffRole,
        Option<accord_cases::OrganisationId>,
        Option<String>,
    ) {
        (
            s.id.clone(),
            s.role,
            s.organisation_id.clone(),
            s.court.clone(),
        )
    };
    let may_review = |who: (
        StaffId,
        StaffRole,
        Option<accord_cases::OrganisationId>,
        Option<String>,
    )| {
        let id = recording.id.clone();
        async move {
            let v = Viewer {
                id: &who.0,
                role: who.1,
                organisation_id: who.2.as_ref(),
                court: who.3.as_deref(),
            };
            match store.visible_recording(&v, &id).await {
                Ok((seen, case)) => {
                    assert_eq!(seen.id, id);
                    assert_eq!(seen.case_id, case.id);
                    true
                }
                Err(Error::NotFound(message)) => {
                    assert_eq!(message, "no such recording");
                    false
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    };
    assert!(may_review(viewer(&mediator)).await);
    assert!(may_review(viewer(&org_admin)).await);
    assert!(!may_review(viewer(&stranger)).await);
    assert!(!may_review(viewer(&other_admin)).await);
    // The court sees it once the case is sent to it, and not before.
    assert!(!may_review(viewer(&judge)).await);
    send_to_court(store, &case).await;
    assert!(may_review(viewer(&judge)).await);
    assert!(!may_review(viewer(&other_judge)).await);
    // A recording that does not exist reads the same as one that is not yours.
    let me = viewer(&mediator);
    let v = Viewer {
        id: &me.0,
        role: me.1,
        organisation_id: me.2.as_ref(),
        court: None,
    };
    let missing = store
        .visible_recording(&v, &RecordingId::from("RC_missing"))
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound("no such recording"))),
        "{missing:?}"
    );
    store
        .recording_viewed(&Actor::Staff(judge.id.clone()), &recording)
        .await
        .expect("viewed");
    store
        .recording_downloaded(
            &Actor::Staff(judge.id.clone()),
            &recording,
            "t01-audio.webm",
        )
        .await
        .expect("downloaded");
    let entries = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit");
    let downloaded = entries
        .iter()
        .find(|e| e.action == "recording.downloaded")
        .expect("download audited");
    assert_eq!(downloaded.actor, format!("staff:{}", judge.id));
    assert!(downloaded.detail.contains("t01-audio.webm"));
    assert!(entries.iter().any(|e| e.action == "recording.viewed"));
}

/// A finalised recording of a new case of `org` that fell due `days_ago` days ago.
async fn recording_due(
    store: &Store,
    org: &Organisation,
    title: &str,
    days_ago: i64,
) -> (Case, Recording) {
    let (case, session) = live_session(store, org, title).await;
    let recording = start(store, &session).await;
    let now = now_ms();
    let done = finish(
        store,
        &recording.id,
        finished(
            RecordingStatus::Complete,
            now - 400 * DAY_MS,
            Some(now - days_ago * DAY_MS),
        ),
    )
    .await;
    (case, done)
}

async fn retention_deletes_only_what_nothing_keeps(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (plain_case, plain) = recording_due(store, &org, "漏水", 1).await;
    let (_, not_yet) = recording_due(store, &org, "欠薪", -1).await;
    let (_, held) = recording_due(store, &org, "噪音", 1).await;
    let (sent_case, sent) = recording_due(store, &org, "物业", 1).await;
    let (_, kept_forever) = {
        let (case, session) = live_session(store, &org, "借款").await;
        let recording = start(store, &session).await;
        let done = finish(
            store,
            &recording.id,
            finished(RecordingStatus::Complete, now_ms() - 4000 * DAY_MS, None),
        )
        .await;
        (case, done)
    };
    let running = {
        let (_, session) = live_session(store, &org, "合同").await;
        start(store, &session).await
    };
    store
        .set_recording_hold(&mediator(), &held.id, true, Some("当事人已起诉"))
        .await
        .expect("hold");
    send_to_court(store, &sent_case).await;

    let due = |now: i64| async move {
        store
            .recordings_due_for_deletion(now)
            .await
            .expect("due")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(due(now_ms()).await, vec![plain.id.clone()]);
    // A court's rejection does not release them: the court's file refers to them.
    store
        .transition_case(&admin(), &sent_case.id, CaseStatus::Rejected)
        .await
        .expect("rejected");
    assert_eq!(due(now_ms()).await, vec![plain.id.clone()]);
    // Two days on, the one not yet due is due too.
    assert_eq!(
        due(now_ms() + 2 * DAY_MS).await,
        vec![plain.id.clone(), not_yet.id.clone()]
    );
    for kept in [&held.id, &sent.id, &kept_forever.id, &running.id] {
        assert!(!due(now_ms() + 2 * DAY_MS).await.contains(kept));
    }

    // A held recording is not deleted even if asked, until its hold is lifted.
    let refused = store.mark_recording_deleted(&Actor::System, &held.id).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    let released = store
        .set_recording_hold(&mediator(), &held.id, false, Some("诉讼已终结"))
        .await
        .expect("release");
    assert!(!released.hold);
    assert_eq!(released.hold_reason, None);
    assert_eq!(due(now_ms()).await, vec![plain.id.clone(), held.id.clone()]);
    let refused = store
        .mark_recording_deleted(&Actor::System, &running.id)
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");

    let deleted = store
        .mark_recording_deleted(&Actor::System, &plain.id)
        .await
        .expect("delete");
    assert_eq!(deleted.status, RecordingStatus::Deleted);
    assert!(deleted.deleted_at.is_some());
    assert_eq!(due(now_ms()).await, vec![held.id.clone()]);
    let hold_deleted = store
        .set_recording_hold(&mediator(), &plain.id, true, Some("too late"))
        .await;
    assert!(
        matches!(hold_deleted, Err(Error::Conflict(_))),
        "{hold_deleted:?}"
    );
    let actions = actions_of(store, &plain_case).await;
    assert!(
        actions.contains(&"recording.deleted".to_owned()),
        "{actions:?}"
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}

async fn integrity_results_are_kept_and_audited(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (case, recording) = recording_due(store, &org, "漏水", -10).await;
    let problems = vec![IntegrityProblem {
        file: "t01-audio.webm".into(),
        problem: "its SHA-256 does not match the manifest".into(),
    }];
    let checked = store
        .set_recording_integrity(
            &mediator(),
            &recording.id,
            IntegrityState::Failed,
            &problems,
        )
        .await
        .expect("integrity");
    assert_eq!(checked.integrity, IntegrityState::Failed);
    assert_eq!(checked.integrity_problems, problems);
    assert!(checked.integrity_checked_at.is_some());
    let verified = store
        .set_recording_integrity(&mediator(), &recording.id, IntegrityState::Verified, &[])
        .await
        .expect("integrity");
    assert!(verified.integrity_problems.is_empty());
    let (_, session) = live_session(store, &org, "欠薪").await;
    let running = start(store, &session).await;
    let refused = store
        .set_recording_integrity(&mediator(), &running.id, IntegrityState::Verified, &[])
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    let checks = actions_of(store, &case)
        .await
        .into_iter()
        .filter(|a| a == "recording.integrity_checked")
        .count();
    assert_eq!(checks, 2);
    assert!(store.verify_audit().await.expect("verify").intact());
}

async fn an_organisation_s_recording_policy_is_kept_and_audited(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    assert!(
        !org.record_private_rooms,
        "caucus rooms are not recorded by default"
    );
    assert_eq!(org.recording_retention_days, Some(DEFAULT_RETENTION_DAYS));
    let policy = RecordingPolicy {
        record_private_rooms: true,
        recording_retention_days: None,
    };
    let actor = Actor::Staff(StaffId::from("ST_admin"));
    let changed = store
        .set_recording_policy(&actor, &org.id, policy)
        .await
        .expect("policy");
    assert_eq!(changed.recording_policy(), policy);
    assert_eq!(
        store
            .organisation(&org.id)
            .await
            .expect("org")
            .recording_policy(),
        policy
    );
    assert_eq!(policy.delete_after(now_ms()), None);
    // The same policy again writes nothing.
    store
        .set_recording_policy(&actor, &org.id, policy)
        .await
        .expect("policy");
    let entries = store
        .audit_of(&format!("organisation:{}", org.id))
        .await
        .expect("audit");
    let changes: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "organisation.recording_policy_changed")
        .collect();
    assert_eq!(changes.len(), 1);
    assert!(
        changes[0].detail.contains("\"to\":true"),
        "{}",
        changes[0].detail
    );
    store
        .record_signing_key_rotated(&Actor::System, "k2", Some("k1"))
        .await
        .expect("rotated");
    assert_eq!(
        store.audit_of("signing_key:k2").await.expect("audit").len(),
        1
    );
    assert!(store.verify_audit().await.expect("verify").intact());
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
both_databases!(
    review_access,
    only_the_case_s_staff_and_its_court_may_review_a_recording
);
both_databases!(retention, retention_deletes_only_what_nothing_keeps);
both_databases!(integrity, integrity_results_are_kept_and_audited);
both_databases!(
    recording_policy,
    an_organisation_s_recording_policy_is_kept_and_audited
);
