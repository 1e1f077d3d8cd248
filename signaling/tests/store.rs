//! The case store against both databases it supports: every test runs once on SQLite (a
//! fresh file) and once on PostgreSQL (a fresh schema in `$ACCORD_TEST_POSTGRES_URL`, by
//! default the `test` database at 127.0.0.1:5432, which CI provides).

use accord_signaling::error::Error;
use accord_signaling::store::model::{
    Actor, CaseFilter, CaseStatus, Category, Channel, NewCase, NewOrganisation, NewParty, NewStaff,
    Organisation, PartyKind, Risk, Side, StaffRole,
};
use accord_signaling::store::{Store, StoreKeys};
use sqlx::Row;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store on a database of its own, removed when dropped.
struct Scratch {
    store: Store,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema(String, String),
}

impl Scratch {
    async fn sqlite() -> Scratch {
        let dir = std::env::temp_dir().join(format!("accord-store-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}/accord.db", dir.display());
        let store = Store::open(&url, StoreKeys::random())
            .await
            .expect("open sqlite");
        Scratch {
            store,
            url,
            cleanup: Cleanup::File(dir),
        }
    }

    async fn postgres() -> Scratch {
        let base =
            std::env::var("ACCORD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let schema = format!("accord_test_{:016x}", rand::random::<u64>());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for the store tests: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("schema");
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let store = Store::open(&url, StoreKeys::random())
            .await
            .expect("open postgres");
        Scratch {
            store,
            url,
            cleanup: Cleanup::Schema(base, schema),
        }
    }

    async fn finish(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema(base, schema) => {
                if let Ok(admin) = sqlx::AnyPool::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            }
        }
    }
}

/// Runs `$body(scratch)` on SQLite and on PostgreSQL, as two tests.
macro_rules! both_databases {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let scratch = super::Scratch::sqlite().await;
                super::$body(&scratch).await;
                scratch.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let scratch = super::Scratch::postgres().await;
                super::$body(&scratch).await;
                scratch.finish().await;
            }
        }
    };
}

fn admin() -> Actor {
    Actor::System
}

async fn organisation(store: &Store, short: &str, region: &str) -> Organisation {
    store
        .create_organisation(
            &admin(),
            NewOrganisation {
                name: format!("{short}区人民调解委员会"),
                short_name: short.into(),
                region: region.into(),
                channel: Channel::Peoples,
                court: Some(format!("{short}区人民法院")),
            },
        )
        .await
        .expect("organisation")
}

fn new_case(org: &Organisation, title: &str) -> NewCase {
    NewCase {
        organisation_id: org.id.clone(),
        category: Category::Neighbours,
        region: org.region.clone(),
        risk: Risk::Blue,
        title: title.into(),
        facts: "楼上卫生间漏水，楼下天花板发霉。".into(),
        claims: "赔偿维修费 3000 元。".into(),
        status: CaseStatus::Accepted,
        tracking_code: None,
    }
}

fn person(name: &str, side: Side, id_number: Option<&str>) -> NewParty {
    NewParty {
        side,
        kind: PartyKind::Person,
        name: name.into(),
        phone: Some("13800138000".into()),
        id_number: id_number.map(str::to_owned),
        represents: None,
        attorney_letter: None,
    }
}

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
    assert_eq!(assigned.mediator_id.as_deref(), Some(mediator.id.as_str()));
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
            .transition_case(&admin(), "CA_nope", CaseStatus::Closed)
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
    let ids: std::collections::BTreeSet<String> =
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
        Some("440306********1234")
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

async fn usernames_are_unique_and_staff_are_found_by_them(s: &Scratch) {
    let store = &s.store;
    assert_eq!(store.staff_count().await.expect("count"), 0);
    let new = || NewStaff {
        organisation_id: None,
        username: "admin".into(),
        display_name: "管理员".into(),
        role: StaffRole::Administrator,
        court: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let admin_account = store.create_staff(&admin(), new()).await.expect("first");
    assert!(matches!(
        store.create_staff(&admin(), new()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.staff_count().await.expect("count"), 1);
    let found = store
        .staff_by_username("admin")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, admin_account);
    assert!(
        store
            .staff_by_username("nobody")
            .await
            .expect("lookup")
            .is_none()
    );
    store
        .set_password_hash(&admin(), &found.id, "$argon2id$new")
        .await
        .expect("password");
    assert_eq!(
        store.staff(&found.id).await.expect("staff").password_hash,
        "$argon2id$new"
    );
    assert!(matches!(
        store.set_password_hash(&admin(), "ST_nobody", "x").await,
        Err(Error::NotFound(_))
    ));
}
both_databases!(
    staff_accounts,
    usernames_are_unique_and_staff_are_found_by_them
);

async fn an_intake_is_stored_whole_once_and_its_history_follows_it(s: &Scratch) {
    use accord_signaling::store::{IntakeFile, NewIntake};
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

async fn staff_member(store: &Store, username: &str) -> accord_signaling::store::model::Staff {
    let new = NewStaff {
        organisation_id: None,
        username: username.into(),
        display_name: username.into(),
        role: StaffRole::Mediator,
        court: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    store.create_staff(&admin(), new).await.expect("staff")
}

async fn access_tokens_verify_across_key_rotation_until_their_key_retires(s: &Scratch) {
    use accord_signaling::staff::{issue_access, issue_access_at, verify_access};
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let old = issue_access(store, &staff)
        .await
        .expect("first key is made");
    let claims = verify_access(store, &old).await.expect("valid");
    assert_eq!(claims.sub, staff.id);
    assert_eq!(claims.role, StaffRole::Mediator);
    assert_eq!(claims.aud, "accord-staff");
    assert_eq!(claims.exp - claims.iat, 15 * 60);
    let first = store
        .current_signing_key()
        .await
        .expect("key")
        .expect("one");

    let second = store.add_signing_key(&[7u8; 32]).await.expect("rotate");
    let new = issue_access(store, &staff).await.expect("signed");
    let kid = |token: &str| jsonwebtoken::decode_header(token).expect("header").kid;
    assert_eq!(kid(&new), Some(second.kid.clone()));
    assert_eq!(kid(&old), Some(first.kid.clone()));
    verify_access(store, &old)
        .await
        .expect("older key still verifies");

    store.retire_signing_key(&first.kid).await.expect("retire");
    assert!(matches!(
        verify_access(store, &old).await,
        Err(Error::Unauthorized(_))
    ));
    verify_access(store, &new)
        .await
        .expect("current key verifies");

    let an_hour_ago = accord_signaling::store::now_ms() as u64 / 1000 - 3600;
    let expired = issue_access_at(store, &staff, an_hour_ago)
        .await
        .expect("signed");
    assert!(matches!(
        verify_access(store, &expired).await,
        Err(Error::Unauthorized("the access token has expired"))
    ));

    let mut forged = new.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert!(matches!(
        verify_access(store, &forged).await,
        Err(Error::Unauthorized(_))
    ));
    let raw: Vec<u8> = sqlx::query("SELECT secret FROM signing_keys WHERE kid = $1")
        .bind(&second.kid)
        .fetch_one(store.pool())
        .await
        .expect("row")
        .get(0);
    assert_ne!(raw, vec![7u8; 32], "signing secrets are sealed at rest");
}
both_databases!(
    signing_key_rotation,
    access_tokens_verify_across_key_rotation_until_their_key_retires
);

async fn join_and_staff_tokens_are_never_taken_for_each_other(s: &Scratch) {
    use accord_signaling::auth::{TokenKeys, TokenRequest};
    use accord_signaling::staff::{issue_access, verify_access};
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let secret = [9u8; 32];
    let join_keys = TokenKeys::new(&secret);
    let request: TokenRequest =
        serde_json::from_value(serde_json::json!({"room": "r1", "identity": "p1"}))
            .expect("request");
    let join = join_keys.mint(request).expect("join token");
    assert!(matches!(
        verify_access(store, &join).await,
        Err(Error::Unauthorized(_))
    ));

    // Even signed with the very key of the staff tokens and naming its kid, a join token's
    // audience keeps it out.
    let key = store.add_signing_key(&secret).await.expect("key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid);
    let claims = join_keys.verify(&join).expect("join claims");
    let resigned = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("resign");
    assert!(matches!(
        verify_access(store, &resigned).await,
        Err(Error::Unauthorized(_))
    ));

    let access = issue_access(store, &staff).await.expect("access");
    assert!(join_keys.verify(&access).is_err());
}
both_databases!(
    join_tokens_are_not_staff_tokens,
    join_and_staff_tokens_are_never_taken_for_each_other
);

async fn a_refresh_token_is_spent_once_and_its_reuse_revokes_the_rest(s: &Scratch) {
    use accord_signaling::store::Refreshed;
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let later = accord_signaling::store::now_ms() + 60_000;
    store
        .record_login(&staff.id, "h1", later)
        .await
        .expect("login");
    store
        .record_login(&staff.id, "other-device", later)
        .await
        .expect("login");
    let rotated = Refreshed::Rotated {
        staff_id: staff.id.clone(),
    };
    assert_eq!(
        store
            .rotate_refresh_token("h1", "h2", later)
            .await
            .expect("rotate"),
        rotated
    );
    assert_eq!(
        store
            .rotate_refresh_token("h1", "h3", later)
            .await
            .expect("reuse"),
        Refreshed::Reused {
            staff_id: staff.id.clone()
        }
    );
    for spent in ["h2", "other-device"] {
        assert_eq!(
            store
                .rotate_refresh_token(spent, "h4", later)
                .await
                .expect("after reuse"),
            Refreshed::Reused {
                staff_id: staff.id.clone()
            },
            "every token of the account is revoked after a reuse"
        );
    }
    assert_eq!(
        store
            .rotate_refresh_token("unknown", "h5", later)
            .await
            .expect("unknown"),
        Refreshed::Refused
    );
    let past = accord_signaling::store::now_ms() - 1;
    store
        .record_login(&staff.id, "stale", past)
        .await
        .expect("login");
    assert_eq!(
        store
            .rotate_refresh_token("stale", "h6", later)
            .await
            .expect("expired"),
        Refreshed::Refused
    );
    store
        .record_login(&staff.id, "l1", later)
        .await
        .expect("login");
    assert_eq!(
        store.revoke_refresh_token("l1").await.expect("logout"),
        Some(staff.id.clone())
    );
    assert_eq!(store.revoke_refresh_token("l1").await.expect("again"), None);
    let actions: Vec<String> = store
        .audit_of(&format!("staff:{}", staff.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"staff.login".to_owned()));
    assert!(actions.contains(&"staff.logout".to_owned()));
    assert!(actions.contains(&"staff.refresh_token_reused".to_owned()));
    let trail = store.verify_audit().await.expect("verify");
    assert!(trail.intact(), "{:?}", trail.problems);
}
both_databases!(
    refresh_token_rotation,
    a_refresh_token_is_spent_once_and_its_reuse_revokes_the_rest
);

async fn first_run_setup_creates_one_administrator_even_when_raced(s: &Scratch) {
    let store = &s.store;
    let attempts = (0..4).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .complete_setup(format!("admin{i}"), "管理员".into(), "$argon2id$x".into())
                .await
        })
    });
    let mut created = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.expect("task") {
            Ok(staff) => {
                assert_eq!(staff.role, StaffRole::Administrator);
                created += 1;
            }
            Err(Error::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.staff_count().await.expect("count"), 1);
    assert!(matches!(
        store
            .complete_setup("late".into(), "x".into(), "$argon2id$x".into())
            .await,
        Err(Error::Conflict(_))
    ));
}
both_databases!(
    first_run_setup,
    first_run_setup_creates_one_administrator_even_when_raced
);

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
    let now = accord_signaling::store::now_ms() / 1000;
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
    assert_eq!(
        live.status,
        accord_signaling::store::model::SessionStatus::Live
    );
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

async fn a_disabled_account_loses_its_refresh_tokens(s: &Scratch) {
    let store = &s.store;
    let staff = staff_member(store, "li").await;
    let (_token, hash) = accord_signaling::staff::tokens::new_refresh_token();
    store
        .record_login(
            &staff.id,
            &hash,
            accord_signaling::store::now_ms() + 3_600_000,
        )
        .await
        .expect("login");
    let disabled = store
        .disable_staff(&admin(), &staff.id)
        .await
        .expect("disable");
    assert!(disabled.disabled_at.is_some());
    let row = sqlx::query(
        "SELECT COUNT(*) FROM refresh_tokens WHERE staff_id = $1 AND revoked_at IS NULL",
    )
    .bind(&staff.id)
    .fetch_one(s.store.pool())
    .await
    .expect("count");
    assert_eq!(row.try_get::<i64, _>(0).expect("count"), 0);
    assert_eq!(
        store.staff_list(None).await.expect("list")[0].disabled_at,
        disabled.disabled_at
    );
}

both_databases!(disable_staff, a_disabled_account_loses_its_refresh_tokens);
