//! The case store against both databases it supports: every test runs once on SQLite (a
//! fresh file) and once on PostgreSQL (a fresh schema in `$ACCORD_TEST_POSTGRES_URL`, by
//! default the `test` database at 127.0.0.1:5432, which CI provides).

#[macro_use]
mod common;

use accord_cases::Error;
use accord_cases::store::model::{
    Actor, CaseFilter, CaseStatus, NewParty, NewStaff, PartyKind, Side, StaffRole,
};
use accord_cases::store::{Store, StoreKeys};
use common::{Scratch, admin, new_case, organisation, person};
use sqlx::Row;

async fn cases_are_numbered_per_organisation_and_listed_with_filters(s: &Scratch) {
    let store = &s.store;
    let baoan = organisation(store, "宝安", "新安街道").await;
    let nanshan = organisation(store, "南山", "粤海街道").await;
    let first = store
        .create_case(&admin(), new_case(&baoan, "漏水纠纷"), None)
        .await
        .expect("case");
    let second = store
        .create_case(&admin(), new_case(&baoan, "噪音纠纷"), None)
        .await
        .expect("case");
    let other = store
        .create_case(&admin(), new_case(&nanshan, "物业费纠纷"), None)
        .await
        .expect("case");
    let year = &first.number[..4];
    assert!(first.number.ends_with("-宝安-000001"), "{}", first.number);
    assert_eq!(second.number, format!("{year}-宝安-000002"));
    assert_eq!(other.number, format!("{year}-南山-000001"));
    store
        .add_party(&admin(), &second.id, person("张三", Side::Applicant, None))
        .await
        .expect("party");

    let mine = |limit| CaseFilter {
        organisation_id: Some(baoan.id.clone()),
        limit,
        ..CaseFilter::default()
    };
    let page = store.cases(&mine(10)).await.expect("list");
    assert_eq!(
        page.items.iter().map(|c| &c.id).collect::<Vec<_>>(),
        vec![&second.id, &first.id]
    );
    assert!(page.next.is_none());

    let page1 = store.cases(&mine(1)).await.expect("page 1");
    let page2 = store
        .cases(&CaseFilter {
            after: page1.next.clone(),
            ..mine(1)
        })
        .await
        .expect("page 2");
    assert_eq!(page1.items[0].id, second.id);
    assert_eq!(page2.items[0].id, first.id);
    assert!(page2.next.is_none());

    let by_party = store
        .cases(&CaseFilter {
            search: Some("张三".into()),
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .expect("search");
    assert_eq!(by_party.items.len(), 1);
    assert_eq!(by_party.items[0].id, second.id);
    let by_number = store
        .cases(&CaseFilter {
            search: Some("南山-0000".into()),
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .expect("search");
    assert_eq!(
        by_number.items.iter().map(|c| &c.id).collect::<Vec<_>>(),
        vec![&other.id]
    );
    let wildcard = store
        .cases(&CaseFilter {
            search: Some("%".into()),
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .expect("search");
    assert!(wildcard.items.is_empty(), "`%` must match literally");

    store
        .transition_case(&admin(), &first.id, CaseStatus::Closed)
        .await
        .expect("close");
    let open = store
        .cases(&CaseFilter {
            status: Some(CaseStatus::Accepted),
            ..mine(10)
        })
        .await
        .expect("filter");
    assert_eq!(
        open.items.iter().map(|c| &c.id).collect::<Vec<_>>(),
        vec![&second.id]
    );
    assert!(matches!(
        store
            .cases(&CaseFilter {
                after: Some("garbage".into()),
                ..mine(10)
            })
            .await,
        Err(Error::BadRequest(_))
    ));
}
both_databases!(
    numbering_and_listing,
    cases_are_numbered_per_organisation_and_listed_with_filters
);

async fn only_legal_status_transitions_are_allowed(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let mut intake = new_case(&org, "网上申请");
    intake.status = CaseStatus::Intake;
    intake.tracking_code = Some("TRACK-1".into());
    let case = store
        .create_case(&Actor::Applicant, intake, None)
        .await
        .expect("intake");
    assert_eq!(
        store
            .case_by_tracking_code("TRACK-1")
            .await
            .expect("tracked")
            .id,
        case.id
    );

    let refused = store
        .transition_case(&admin(), &case.id, CaseStatus::Signed)
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(
        store.case(&case.id).await.expect("case").status,
        CaseStatus::Intake
    );

    let mediator = store
        .create_staff(
            &admin(),
            NewStaff {
                organisation_id: Some(org.id.clone()),
                username: "li".into(),
                display_name: "李调解员".into(),
                role: StaffRole::Mediator,
                court: None,
                password_hash: "$argon2id$placeholder-not-checked-here".into(),
            },
        )
        .await
        .expect("staff");
    assert!(matches!(
        store.assign_case(&admin(), &case.id, &mediator.id).await,
        Err(Error::Conflict(_))
    ));
    store
        .transition_case(&admin(), &case.id, CaseStatus::Accepted)
        .await
        .expect("accept");
    let assigned = store
        .assign_case(&admin(), &case.id, &mediator.id)
        .await
        .expect("assign");
    assert_eq!(assigned.status, CaseStatus::Assigned);
    assert_eq!(
        assigned.mediator_id.as_ref().map(|id| id.as_str()),
        Some(mediator.id.as_str())
    );
    let session = store
        .schedule_session(&admin(), &case.id, 1_800_000_000_000)
        .await
        .expect("session");
    assert_eq!(
        store.sessions(&case.id).await.expect("sessions"),
        vec![session]
    );
    for step in [
        CaseStatus::InMediation,
        CaseStatus::AgreementReached,
        CaseStatus::Signed,
    ] {
        store
            .transition_case(&admin(), &case.id, step)
            .await
            .expect("step");
    }
    assert!(matches!(
        store
            .schedule_session(&admin(), &case.id, 1_800_000_000_000)
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store
            .transition_case(&admin(), &"CA_nope".into(), CaseStatus::Closed)
            .await,
        Err(Error::NotFound(_))
    ));
    // Every step is in the case's audit trail, attributed.
    let actions: Vec<String> = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.first().map(String::as_str), Some("case.created"));
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "case.status_changed")
            .count(),
        4
    );
    assert!(actions.contains(&"case.assigned".to_owned()));
}
both_databases!(
    status_transitions,
    only_legal_status_transitions_are_allowed
);

async fn a_retried_create_with_one_key_makes_one_case(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let phone = Actor::Staff("ST_phone".into());
    let first = store
        .create_case(&phone, new_case(&org, "重试"), Some("key-1"))
        .await
        .expect("first");
    let again = store
        .create_case(&phone, new_case(&org, "重试"), Some("key-1"))
        .await
        .expect("retry");
    assert_eq!(first, again);
    // At the same moment, from several connections.
    let racing = futures_util::future::join_all((0..4).map(|_| {
        let store = store.clone();
        let org = org.clone();
        let phone = phone.clone();
        async move {
            store
                .create_case(&phone, new_case(&org, "并发"), Some("key-2"))
                .await
        }
    }))
    .await;
    let ids: std::collections::BTreeSet<accord_cases::CaseId> =
        racing.into_iter().map(|r| r.expect("create").id).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Another actor's key is another key.
    let other = store
        .create_case(
            &Actor::Staff("ST_other".into()),
            new_case(&org, "重试"),
            Some("key-1"),
        )
        .await
        .expect("other");
    assert_ne!(other.id, first.id);
    let all = store
        .cases(&CaseFilter {
            limit: 100,
            ..CaseFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.items.len(), 3);
}
both_databases!(
    idempotent_creates,
    a_retried_create_with_one_key_makes_one_case
);

async fn id_numbers_are_sealed_at_rest_and_masked_when_shown(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = store
        .create_case(&admin(), new_case(&org, "身份证"), None)
        .await
        .expect("case");
    let id_number = "440306199001011234";
    let party = store
        .add_party(
            &admin(),
            &case.id,
            person("张三", Side::Applicant, Some(id_number)),
        )
        .await
        .expect("party");
    assert_eq!(
        party.id_number_masked.as_deref(),
        Some("440***********1234")
    );
    let lawyer = store
        .add_party(
            &admin(),
            &case.id,
            NewParty {
                kind: PartyKind::Representative,
                side: Side::Respondent,
                represents: Some(party.id.clone()),
                ..person("王律师", Side::Respondent, None)
            },
        )
        .await
        .expect("representative");
    assert_eq!(
        lawyer.side,
        Side::Applicant,
        "a representative is on the side of the party they act for"
    );
    assert!(matches!(
        store
            .add_party(
                &admin(),
                &case.id,
                NewParty {
                    kind: PartyKind::Representative,
                    ..person("无主", Side::Applicant, None)
                }
            )
            .await,
        Err(Error::Conflict(_))
    ));

    let raw = sqlx::query("SELECT * FROM parties WHERE id = $1")
        .bind(&party.id)
        .fetch_one(store.pool())
        .await
        .expect("raw");
    let sealed: Vec<u8> = raw.try_get("id_number_sealed").expect("sealed column");
    assert!(
        !sealed.windows(8).any(|w| w == b"19900101"),
        "the ID number is stored in clear"
    );
    for column in ["name", "phone", "id_number_masked"] {
        let value: Option<String> = raw.try_get(column).expect("column");
        assert!(!value.unwrap_or_default().contains("19900101"));
    }
    let dump: Vec<String> = sqlx::query("SELECT detail FROM audit_log")
        .fetch_all(store.pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        dump.iter().all(|d| !d.contains("19900101")),
        "the audit trail holds the ID number"
    );

    assert_eq!(
        store
            .reveal_id_number(&admin(), &party.id)
            .await
            .expect("reveal")
            .as_deref(),
        Some(id_number)
    );
    // With another key (a stolen database without the key file) it does not open.
    let thief = Store::open(&s.url, StoreKeys::random())
        .await
        .expect("second store");
    assert!(thief.reveal_id_number(&admin(), &party.id).await.is_err());
    thief.close().await;
}
both_databases!(
    sealed_id_numbers,
    id_numbers_are_sealed_at_rest_and_masked_when_shown
);

async fn any_change_to_the_audit_trail_is_detected(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    for title in ["一", "二", "三"] {
        let case = store
            .create_case(&admin(), new_case(&org, title), None)
            .await
            .expect("case");
        store
            .transition_case(&admin(), &case.id, CaseStatus::Assigned)
            .await
            .expect("step");
    }
    let intact = store.verify_audit().await.expect("verify");
    assert!(intact.intact(), "{:?}", intact.problems);
    assert_eq!(intact.entries, 7);
    let pool = store.pool();
    let entry = |seq: i64| async move {
        let row = sqlx::query("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .expect("entry");
        (0..8)
            .map(|i| {
                row.try_get::<String, _>(i)
                    .or_else(|_| row.try_get::<i64, _>(i).map(|v| v.to_string()))
                    .expect("column")
            })
            .collect::<Vec<String>>()
    };
    let put_back = |e: Vec<String>| async move {
        sqlx::query("INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(e[0].parse::<i64>().expect("seq"))
            .bind(e[1].parse::<i64>().expect("at"))
            .bind(&e[2]).bind(&e[3]).bind(&e[4]).bind(&e[5]).bind(&e[6]).bind(&e[7])
            .execute(pool)
            .await
            .expect("restore");
    };
    let broken = |what: &'static str| async move {
        let report = store.verify_audit().await.expect("verify");
        assert!(!report.intact(), "{what} went unnoticed");
        report
    };

    // An altered detail.
    let original = entry(3).await;
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = 3")
        .bind(r#"{"to":"closed"}"#)
        .execute(pool)
        .await
        .expect("alter");
    assert!(
        broken("an altered entry")
            .await
            .problems
            .iter()
            .any(|p| p.contains("entry 3 was altered"))
    );
    sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(pool)
        .await
        .expect("delete");
    put_back(original.clone()).await;
    assert!(store.verify_audit().await.expect("verify").intact());

    // A re-hashed alteration: the next entry no longer links to it.
    sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 3")
        .bind("ab".repeat(32))
        .execute(pool)
        .await
        .expect("rehash");
    assert!(
        broken("a rehashed entry")
            .await
            .problems
            .iter()
            .any(|p| p.contains("entry 4 does not link"))
    );
    sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 3")
        .bind(&original[7])
        .execute(pool)
        .await
        .expect("undo");

    // A deleted entry in the middle.
    sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(pool)
        .await
        .expect("delete");
    assert!(
        broken("a deleted entry")
            .await
            .problems
            .iter()
            .any(|p| p.contains("missing"))
    );
    put_back(original).await;

    // The newest entry cut off: the MACed head still names it.
    let last = entry(7).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 7")
        .execute(pool)
        .await
        .expect("cut");
    assert!(
        broken("a cut-off tail")
            .await
            .problems
            .iter()
            .any(|p| p.contains("audit head names entry 7"))
    );
    // Rewriting the head to match needs the key, which is not in the database.
    sqlx::query("UPDATE audit_head SET seq = 6, hash = $1")
        .bind(&entry(6).await[7])
        .execute(pool)
        .await
        .expect("forge head");
    assert!(
        broken("a forged head")
            .await
            .problems
            .iter()
            .any(|p| p.contains("MAC"))
    );
    put_back(last.clone()).await;
    sqlx::query("UPDATE audit_head SET seq = 7, hash = $1")
        .bind(&last[7])
        .execute(pool)
        .await
        .expect("restore head");
    let restored = store.verify_audit().await.expect("verify");
    assert!(restored.intact(), "{:?}", restored.problems);
    // And the trail goes on from where it was.
    organisation(store, "南山", "粤海街道").await;
    assert_eq!(store.verify_audit().await.expect("verify").entries, 8);
}
both_databases!(audit_chain, any_change_to_the_audit_trail_is_detected);

async fn an_intake_is_stored_whole_once_and_its_history_follows_it(s: &Scratch) {
    use accord_cases::store::{IntakeFile, NewIntake};
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let intake = NewIntake {
        case: new_case(&org, "漏水"),
        applicant: person("张三", Side::Applicant, Some("11010519491231002X")),
        respondent: person("李四", Side::Respondent, None),
        files: vec![IntakeFile {
            sha256: "ab".repeat(32),
            media_type: "image/png".into(),
            size: 1234,
            file_name: "漏水.png".into(),
        }],
    };
    let first = store
        .submit_intake(intake.clone(), "key-intake-1")
        .await
        .expect("submit");
    assert!(first.created);
    assert_eq!(first.case.status, CaseStatus::Intake);
    let code = first.case.tracking_code.clone().expect("tracking code");
    let again = store
        .submit_intake(intake, "key-intake-1")
        .await
        .expect("retry");
    assert!(!again.created);
    assert_eq!(again.case.id, first.case.id);
    assert_eq!(
        store.parties(&first.case.id).await.expect("parties").len(),
        2
    );
    let evidence = store.evidence(&first.case.id).await.expect("evidence");
    assert_eq!(evidence.len(), 1);
    assert_eq!(
        evidence[0].uploaded_by,
        format!("party:{}", evidence[0].party_id.clone().expect("party"))
    );
    assert_eq!(
        store
            .case_by_tracking_code(&code)
            .await
            .expect("by code")
            .id,
        first.case.id
    );
    assert_eq!(store.regions().await.expect("regions"), ["新安街道"]);

    store
        .transition_case(&admin(), &first.case.id, CaseStatus::Accepted)
        .await
        .expect("accept");
    let steps: Vec<CaseStatus> = store
        .status_history(&first.case.id)
        .await
        .expect("history")
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(steps, [CaseStatus::Intake, CaseStatus::Accepted]);
}
both_databases!(
    online_intake,
    an_intake_is_stored_whole_once_and_its_history_follows_it
);

async fn cases_made_in_one_burst_list_newest_first_across_pages(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let mut numbers = Vec::new();
    for i in 0..25 {
        let case = store
            .create_case(&admin(), new_case(&org, &format!("纠纷{i}")), None)
            .await
            .expect("case");
        numbers.push(case.number);
    }
    numbers.reverse();
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .cases(&CaseFilter {
                organisation_id: Some(org.id.clone()),
                limit: 7,
                after: after.clone(),
                ..CaseFilter::default()
            })
            .await
            .expect("page");
        listed.extend(page.items.into_iter().map(|c| c.number));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, numbers);
}

both_databases!(
    burst_order,
    cases_made_in_one_burst_list_newest_first_across_pages
);

async fn phones_stored_in_clear_by_an_older_version_are_sealed_on_open(s: &Scratch) {
    let keys = StoreKeys::random();
    let store = Store::open(&s.url, keys.clone()).await.expect("store");
    let org = organisation(&store, "宝安", "新安街道").await;
    let case = store
        .create_case(&admin(), new_case(&org, "漏水"), None)
        .await
        .expect("case");
    let party = store
        .add_party(&admin(), &case.id, person("张三", Side::Applicant, None))
        .await
        .expect("party");
    let stored = sqlx::query("SELECT phone, phone_sealed, phone_masked FROM parties WHERE id = $1")
        .bind(&party.id)
        .fetch_one(store.pool())
        .await
        .expect("row");
    assert_eq!(stored.try_get::<Option<String>, _>(0).expect("phone"), None);
    let sealed: Vec<u8> = stored.try_get(1).expect("sealed");
    assert!(!sealed.windows(11).any(|w| w == b"13800138000"));
    assert_eq!(
        stored.try_get::<String, _>(2).expect("masked"),
        "138****8000"
    );
    assert_eq!(party.phone.as_deref(), Some("13800138000"));

    // As a version before sealing left it.
    sqlx::query(
        "UPDATE parties SET phone = '13900139000', phone_sealed = NULL, phone_masked = NULL \
         WHERE id = $1",
    )
    .bind(&party.id)
    .execute(store.pool())
    .await
    .expect("downgrade");
    store.close().await;
    let reopened = Store::open(&s.url, keys).await.expect("reopened");
    let row = sqlx::query("SELECT phone, phone_masked FROM parties WHERE id = $1")
        .bind(&party.id)
        .fetch_one(reopened.pool())
        .await
        .expect("row");
    assert_eq!(row.try_get::<Option<String>, _>(0).expect("phone"), None);
    assert_eq!(row.try_get::<String, _>(1).expect("masked"), "139****9000");
    assert_eq!(
        reopened
            .party(&party.id)
            .await
            .expect("party")
            .phone
            .as_deref(),
        Some("13900139000")
    );
    assert!(reopened.verify_audit().await.expect("verify").intact());
    reopened.close().await;
}

both_databases!(
    sealed_phones,
    phones_stored_in_clear_by_an_older_version_are_sealed_on_open
);
