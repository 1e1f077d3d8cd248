//! What happens to a recording after it is made, on SQLite and PostgreSQL: who may review it,
//! the retention rules (a hold or a confirmation request keeps it), integrity results, the
//! organisation's recording policy, and the audit chain intact after all of it.

#[macro_use]
mod common;

use accord_cases::access::Viewer;
use accord_cases::store::model::{
    Actor, Case, CaseStatus, IntegrityProblem, IntegrityState, NewStaff, Organisation, Recording,
    RecordingPolicy, RecordingStatus, StaffRole,
};
use accord_cases::store::{DEFAULT_RETENTION_DAYS, Store, now_ms};
use accord_cases::{Error, RecordingId, StaffId};
use common::recordings::*;
use common::{Scratch, admin, organisation};

const DAY_MS: i64 = 86_400_000;

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
    review_access,
    only_the_case_s_staff_and_its_court_may_review_a_recording
);
both_databases!(retention, retention_deletes_only_what_nothing_keeps);
both_databases!(integrity, integrity_results_are_kept_and_audited);
both_databases!(
    recording_policy,
    an_organisation_s_recording_policy_is_kept_and_audited
);
