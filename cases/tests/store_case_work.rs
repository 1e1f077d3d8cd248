//! Case work in the store, on SQLite and PostgreSQL (see `store.rs` for the databases): a
//! case registered with its parties once per key, invites bound to their case and stopped by
//! revocation, and confirmation requests reaching the organisation's court.

#[macro_use]
mod common;

use accord_cases::store::model::{
    Actor, CaseFilter, CaseStatus, Evidence, PartyKind, SessionEvent, SessionEventKind, Side,
};
use accord_cases::{Error, SessionId};
use common::{Scratch, new_case, organisation, person};

async fn a_case_and_its_parties_are_registered_together_once_per_key(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let parties = vec![
        person("张三", Side::Applicant, Some("11010519491231002X")),
        person("李四", Side::Respondent, None),
    ];
    let actor = Actor::Staff("ST_registrar".into());
    let (case, created) = store
        .register_case(
            &actor,
            new_case(&org, "漏水"),
            parties.clone(),
            Some("key-0001"),
        )
        .await
        .expect("register");
    assert!(created);
    let (again, created) = store
        .register_case(
            &actor,
            new_case(&org, "漏水"),
            parties.clone(),
            Some("key-0001"),
        )
        .await
        .expect("retry");
    assert!(!created);
    assert_eq!(again.id, case.id);
    assert_eq!(store.parties(&case.id).await.expect("parties").len(), 2);

    // A party that acts for someone cannot come with the case: nothing is stored then.
    let mut helper = person("王律师", Side::Applicant, None);
    helper.kind = PartyKind::Representative;
    helper.represents = Some("PT_unknown".into());
    let refused = store
        .register_case(
            &actor,
            new_case(&org, "欠薪"),
            vec![helper],
            Some("key-0002"),
        )
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    let all = store
        .cases(&CaseFilter {
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1);
}

both_databases!(
    register_case,
    a_case_and_its_parties_are_registered_together_once_per_key
);

async fn an_invite_is_bound_to_its_case_and_stops_when_revoked(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let other = organisation(store, "南山", "粤海街道").await;
    let actor = Actor::Staff("ST_mediator".into());
    let case = store
        .create_case(&actor, new_case(&org, "漏水"), None)
        .await
        .expect("case");
    let party = store
        .add_party(&actor, &case.id, person("张三", Side::Applicant, None))
        .await
        .expect("party");
    let stranger_case = store
        .create_case(&actor, new_case(&other, "别的案子"), None)
        .await
        .expect("other case");
    let stranger = store
        .add_party(
            &actor,
            &stranger_case.id,
            person("路人", Side::Applicant, None),
        )
        .await
        .expect("stranger");
    let (session, created) = store
        .schedule_session_once(&actor, &case.id, 1_900_000_000_000, Some("session-key-1"))
        .await
        .expect("session");
    assert!(created);
    let (same, created) = store
        .schedule_session_once(&actor, &case.id, 1_900_000_000_000, Some("session-key-1"))
        .await
        .expect("retried session");
    assert!(!created);
    assert_eq!(same.id, session.id);

    let refused = store
        .create_invite(&actor, &session.id, &stranger.id, 3600)
        .await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    let invite = store
        .create_invite(&actor, &session.id, &party.id, 3600)
        .await
        .expect("invite");
    let now = accord_cases::store::now_ms() / 1000;
    assert!(invite.is_active(now));
    assert!(!invite.is_active(now + 3600));
    assert_eq!(invite.case_id, case.id);
    let revoked = store
        .revoke_invite(&actor, &invite.id)
        .await
        .expect("revoke");
    assert!(!revoked.is_active(now));
    // Revoking again keeps the first time and writes nothing more.
    let again = store
        .revoke_invite(&actor, &invite.id)
        .await
        .expect("again");
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert_eq!(
        store
            .invites_of_session(&session.id)
            .await
            .expect("list")
            .len(),
        1
    );
    let live = store
        .start_session(&actor, &session.id)
        .await
        .expect("start");
    assert_eq!(live.status, accord_cases::store::model::SessionStatus::Live);
    let actions: Vec<String> = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "case.created",
            "party.added",
            "session.scheduled",
            "invite.created",
            "invite.revoked",
            "session.started"
        ]
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}

both_databases!(
    invites,
    an_invite_is_bound_to_its_case_and_stops_when_revoked
);

async fn a_confirmation_request_goes_to_the_organisations_court(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let actor = Actor::Staff("ST_mediator".into());
    let case = store
        .create_case(&actor, new_case(&org, "漏水"), None)
        .await
        .expect("case");
    for step in [
        CaseStatus::Assigned,
        CaseStatus::InMediation,
        CaseStatus::AgreementReached,
        CaseStatus::Signed,
    ] {
        store
            .transition_case(&actor, &case.id, step)
            .await
            .expect("step");
    }
    assert_eq!(store.case(&case.id).await.expect("case").court, None);
    let sent = store
        .transition_case(&actor, &case.id, CaseStatus::ConfirmationRequested)
        .await
        .expect("request");
    assert_eq!(sent.court.as_deref(), Some("宝安区人民法院"));
    let inbox = store
        .cases(&CaseFilter {
            court: Some("宝安区人民法院".into()),
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .expect("inbox");
    assert_eq!(inbox.items.len(), 1);
}

both_databases!(
    confirmation_court,
    a_confirmation_request_goes_to_the_organisations_court
);

async fn a_sessions_evidence_share_is_counted_from_its_record(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let actor = Actor::Staff("ST_mediator".into());
    let case = store
        .create_case(&actor, new_case(&org, "漏水"), None)
        .await
        .expect("case");
    let (session, _) = store
        .schedule_session_once(&actor, &case.id, 1_900_000_000_000, None)
        .await
        .expect("session");
    let (other_session, _) = store
        .schedule_session_once(&actor, &case.id, 1_900_000_100_000, None)
        .await
        .expect("another session");
    let evidence = |id: &str, size: i64| Evidence {
        id: id.into(),
        case_id: case.id.clone(),
        party_id: None,
        sha256: "0".repeat(64),
        media_type: "image/png".into(),
        size,
        file_name: "照片.png".into(),
        uploaded_by: "ST_mediator".into(),
        created_at: 1_900_000_000_000,
    };
    let shared = |seq: i64, session: &SessionId, kind: &str, detail: &str| SessionEvent {
        id: format!("SV_{seq}").into(),
        seq,
        session_id: session.clone(),
        case_id: case.id.clone(),
        at: 1_900_000_000_000,
        kind: SessionEventKind::parse(kind).expect("a kind the session record writes"),
        actor_identity: None,
        actor_name: None,
        actor_role: None,
        subject_identity: None,
        subject_name: None,
        space: Some("joint".into()),
        detail: Some(detail.into()),
    };
    for (id, size) in [("EV_one", 1000), ("EV_two", 2500), ("EV_three", 7)] {
        store
            .add_evidence(&actor, evidence(id, size))
            .await
            .expect("evidence");
    }
    for event in [
        shared(1, &session.id, "evidence_shared", "EV_one 照片.png"),
        shared(2, &session.id, "evidence_shared", "EV_two 合同 第2页.pdf"),
        // Shared in another session, and a chat that names a file: neither counts here.
        shared(3, &other_session.id, "evidence_shared", "EV_three 照片.png"),
        shared(4, &session.id, "chat", "EV_three 看这张"),
    ] {
        store.append_session_event(&event).await.expect("record");
    }
    assert_eq!(
        store
            .evidence_shared_in_session(&session.id)
            .await
            .expect("share"),
        (2, 3500)
    );
    assert_eq!(
        store
            .evidence_shared_in_session(&"SE_nothing_shared".into())
            .await
            .expect("share"),
        (0, 0)
    );
}
both_databases!(
    evidence_share,
    a_sessions_evidence_share_is_counted_from_its_record
);
