//! Agreements in the store, on SQLite and PostgreSQL (see `store.rs` for the databases): an
//! agreement started from a template, edited, frozen and reopened by a later edit; refused
//! changes once in force; private drafts; sequence numbers under concurrent appends;
//! comments, the history and clause moments; organisation templates; the audit entries and
//! the chain they leave.

#[macro_use]
mod common;
#[path = "store_agreements/comments.rs"]
mod comments_and_history;
#[path = "store_agreements/templates.rs"]
mod templates_and_access;

use accord_cases::access::{Viewer, sees_draft};
use accord_cases::agreements::Rule;
use accord_cases::agreements::document::{Draft, canonical_text, text_sha256};
use accord_cases::agreements::model::{
    AgreementStatus, Editor, MAIN_DOC, NewAgreement, VersionStatus,
};
use accord_cases::agreements::templates::{CaseFacts, TemplateClauseInput, TemplateInput, fill};
use accord_cases::store::model::{Actor, Case, Category, Organisation, Side, StaffRole};
use accord_cases::store::{Store, now_ms};
use accord_cases::{AgreementId, CommentId, DraftId, Error, OrganisationId, StaffId};
use common::recordings::{actions_of, scheduled_session};
use common::{Scratch, new_case, organisation};
use yrs::updates::decoder::Decode;
use yrs::{Array, Doc, Map, Out, Text, Transact, Update};

fn mediator(name: &str) -> Editor {
    Editor {
        identity: format!("ST_{name}"),
        name: format!("{name}调解员"),
        role: "mediator".into(),
        actor: Actor::Staff(StaffId::from(format!("ST_{name}"))),
    }
}

fn party() -> Editor {
    Editor {
        identity: "PT_applicant".into(),
        name: "张三".into(),
        role: "party".into(),
        actor: Actor::System,
    }
}

async fn case_of(store: &Store, org: &Organisation, category: Category) -> Case {
    let mut new = new_case(org, "楼上漏水纠纷");
    new.category = category;
    store
        .create_case(&Actor::System, new, None)
        .await
        .expect("case")
}

/// The first draft of `case`'s agreement from the built-in template, as the edge makes it.
fn first_draft(case: &Case) -> Vec<u8> {
    let template = accord_cases::agreements::templates::builtin(case.category, "zh-CN");
    let facts = CaseFacts {
        applicant: "张三".into(),
        respondent: "李四".into(),
        facts: case.facts.clone(),
        claims: case.claims.clone(),
        organisation: "宝安区人民调解委员会".into(),
        mediator: "王调解员".into(),
        date: "2026年12月6日".into(),
    };
    let (title, clauses) = fill(&template, &facts);
    Draft::new_from(&title, &clauses).1
}

fn new_agreement(case: &Case, personal_status: Option<bool>) -> NewAgreement {
    NewAgreement {
        case_id: case.id.clone(),
        locale: "zh-CN".into(),
        template_id: Some(format!("builtin:{}:zh-CN", case.category.as_str())),
        personal_status,
        initial_update: first_draft(case),
    }
}

/// The document the stored updates of `doc` build.
async fn stored_draft(store: &Store, agreement: &AgreementId, doc: &str) -> Draft {
    let updates = store.draft_updates(agreement, doc).await.expect("updates");
    Draft::from_updates(updates.iter().map(|u| u.data.as_slice())).expect("draft")
}

/// An editor's change: `text` appended to clause `index` of the document the stored
/// updates build, as the update a browser would send, and that clause's id.
async fn typed(
    store: &Store,
    agreement: &AgreementId,
    doc: &str,
    index: u32,
    text: &str,
) -> (Vec<u8>, String) {
    let updates = store.draft_updates(agreement, doc).await.expect("updates");
    let ydoc = Doc::new();
    let clauses = ydoc.get_or_insert_array("clauses");
    ydoc.get_or_insert_text("title");
    {
        let mut txn = ydoc.transact_mut();
        for update in &updates {
            txn.apply_update(Update::decode_v1(&update.data).expect("decode"))
                .expect("apply");
        }
    }
    let mut txn = ydoc.transact_mut();
    let Some(Out::YMap(clause)) = clauses.get(&txn, index) else {
        panic!("no clause {index}");
    };
    let id = clause
        .get(&txn, "id")
        .map(|v| v.to_string(&txn))
        .expect("id");
    let Some(Out::YText(body)) = clause.get(&txn, "text") else {
        panic!("clause {index} has no text");
    };
    let end = body.len(&txn);
    body.insert(&mut txn, end, text);
    (txn.encode_update_v1(), id)
}

fn canonical(draft: &Draft) -> String {
    let parties = vec!["申请人：张三".to_owned(), "被申请人：李四".to_owned()];
    canonical_text(&draft.title(), &parties, &draft.clauses(), "zh-CN")
}

async fn an_agreement_is_drafted_finalised_and_reopened_by_an_edit(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let (_, session) = scheduled_session(store, &org, "漏水").await;
    let wang = mediator("wang");
    assert_eq!(store.agreement_of_case(&case.id).await.expect("none"), None);

    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    assert!(agreement.id.starts_with("AG_"), "{}", agreement.id);
    assert_eq!(agreement.status, AgreementStatus::Drafting);
    assert_eq!(agreement.version, 1);
    assert_eq!(agreement.created_by, "ST_wang");
    let again = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await;
    assert!(
        matches!(again, Err(Error::Rule(Rule::AgreementExists))),
        "{again:?}"
    );
    assert_eq!(
        store.agreement_of_case(&case.id).await.expect("some"),
        Some(agreement.clone())
    );
    let docs = store.draft_docs(&agreement.id).await.expect("docs");
    assert_eq!(docs.len(), 1);
    assert!(docs[0].is_main() && docs[0].shown_to.is_none());
    assert_eq!(
        store.last_seq(&agreement.id, MAIN_DOC).await.expect("seq"),
        1
    );

    // An edit in the session: stored as update 2, the clause's moment kept.
    let (update, clause) = typed(store, &agreement.id, MAIN_DOC, 1, "人民币3000元").await;
    let at = now_ms();
    let appended = store
        .append_update(
            &agreement.id,
            MAIN_DOC,
            &update,
            &wang,
            Some(&session.id),
            std::slice::from_ref(&clause),
            at,
        )
        .await
        .expect("append");
    assert_eq!((appended.seq, appended.reopened), (2, None));
    let stored = store
        .draft_updates(&agreement.id, MAIN_DOC)
        .await
        .expect("updates");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].data, update);
    assert_eq!(stored[1].clauses, vec![clause.clone()]);
    assert_eq!(stored[1].session_id.as_ref(), Some(&session.id));
    assert_eq!(stored[1].by_name, "wang调解员");
    let draft = stored_draft(store, &agreement.id, MAIN_DOC).await;
    assert!(
        draft.clauses()[1].text.ends_with("人民币3000元"),
        "{:?}",
        draft.clauses()[1]
    );
    let moments = store.clause_moments(&agreement.id).await.expect("moments");
    assert_eq!(moments.len(), 1);
    assert_eq!(moments[0].clause_id, clause);
    assert_eq!(moments[0].last_edit_at, at);
    assert_eq!(moments[0].session_id.as_ref(), Some(&session.id));

    // Frozen: version 1 with the canonical text's hash.
    let text = canonical(&draft);
    let v1 = store
        .finalise(&agreement.id, &text, &wang)
        .await
        .expect("finalise");
    assert_eq!(v1.version, 1);
    assert_eq!(v1.status, VersionStatus::Final);
    assert_eq!(v1.text, text);
    assert_eq!(v1.text_sha256, text_sha256(&text));
    assert_eq!(v1.finalised_by_name, "wang调解员");
    let frozen = store.agreement(&agreement.id).await.expect("agreement");
    assert_eq!((frozen.status, frozen.version), (AgreementStatus::Final, 1));
    assert_eq!(
        store.current_final(&agreement.id).await.expect("final"),
        Some(v1.clone())
    );
    // Finalising the same text again is the same version, and not a second entry.
    let same = store
        .finalise(&agreement.id, &text, &wang)
        .await
        .expect("again");
    assert_eq!(same, v1);

    // A private draft's edit leaves the final version alone.
    let private = store
        .create_private_draft(&agreement.id, draft.full_update(), &wang)
        .await
        .expect("private draft");
    let (private_edit, _) = typed(store, &agreement.id, &private.doc, 0, "（草）").await;
    let on_private = store
        .append_update(
            &agreement.id,
            &private.doc,
            &private_edit,
            &wang,
            None,
            &[],
            now_ms(),
        )
        .await
        .expect("private append");
    assert_eq!((on_private.seq, on_private.reopened), (2, None));
    assert_eq!(
        store.agreement(&agreement.id).await.expect("a").status,
        AgreementStatus::Final
    );

    // An edit of the shared draft after freezing starts version 2; version 1 is superseded.
    let (edit, _) = typed(store, &agreement.id, MAIN_DOC, 2, "，分两期支付").await;
    let reopened = store
        .append_update(&agreement.id, MAIN_DOC, &edit, &wang, None, &[], now_ms())
        .await
        .expect("reopen");
    assert_eq!((reopened.seq, reopened.reopened), (3, Some(2)));
    let drafting = store.agreement(&agreement.id).await.expect("agreement");
    assert_eq!(
        (drafting.status, drafting.version),
        (AgreementStatus::Drafting, 2)
    );
    assert_eq!(
        store.current_final(&agreement.id).await.expect("none"),
        None
    );
    assert_eq!(
        store.version(&agreement.id, 1).await.expect("v1").status,
        VersionStatus::Superseded
    );
    let missing = store.version(&agreement.id, 2).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    let text2 = canonical(&stored_draft(store, &agreement.id, MAIN_DOC).await);
    assert_ne!(text2, text);
    let v2 = store
        .finalise(&agreement.id, &text2, &wang)
        .await
        .expect("finalise 2");
    assert_eq!((v2.version, v2.status), (2, VersionStatus::Final));
    let versions = store.versions(&agreement.id).await.expect("versions");
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.status))
            .collect::<Vec<_>>(),
        vec![(1, VersionStatus::Superseded), (2, VersionStatus::Final)]
    );

    assert_eq!(
        actions_of(store, &case).await,
        vec![
            "case.created",
            "agreement.created",
            "agreement.finalised",
            "agreement.reopened",
            "agreement.finalised",
        ]
    );
    let report = store.verify_audit().await.expect("verify");
    assert!(report.intact(), "{:?}", report.problems);
}
both_databases!(
    drafted_finalised_reopened,
    an_agreement_is_drafted_finalised_and_reopened_by_an_edit
);

async fn a_family_case_says_whether_it_concerns_personal_status(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let family = case_of(store, &org, Category::Family).await;
    let wang = mediator("wang");
    let unsaid = store
        .create_agreement(new_agreement(&family, None), &wang)
        .await;
    match unsaid {
        Err(Error::Invalid(fields)) => assert_eq!(fields[0].field, "personal_status"),
        other => panic!("{other:?}"),
    }
    assert!(!store.personal_status(&family.id).await.expect("status"));
    let mut english = new_agreement(&family, Some(true));
    english.locale = "fr".into();
    let refused = store.create_agreement(english, &wang).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    store
        .create_agreement(new_agreement(&family, Some(true)), &wang)
        .await
        .expect("create");
    assert!(store.personal_status(&family.id).await.expect("status"));

    let neighbours = case_of(store, &org, Category::Neighbours).await;
    store
        .create_agreement(new_agreement(&neighbours, None), &wang)
        .await
        .expect("create");
    assert!(!store.personal_status(&neighbours.id).await.expect("status"));
    store
        .set_personal_status(&family.id, false, &wang)
        .await
        .expect("set");
    store
        .set_personal_status(&family.id, false, &wang)
        .await
        .expect("unchanged");
    assert!(!store.personal_status(&family.id).await.expect("status"));
    let entries = store
        .audit_of(&format!("case:{}", family.id))
        .await
        .expect("audit");
    let created = entries
        .iter()
        .find(|e| e.action == "agreement.created")
        .expect("agreement.created");
    assert!(
        created.detail.contains("\"personal_status\":true"),
        "{}",
        created.detail
    );
    let set: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "agreement.personal_status_set")
        .collect();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].detail, "{\"personal_status\":false}");
}
both_databases!(
    family_personal_status,
    a_family_case_says_whether_it_concerns_personal_status
);

async fn an_agreement_in_force_takes_no_more_changes(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let wang = mediator("wang");
    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    let draft = stored_draft(store, &agreement.id, MAIN_DOC).await;
    store
        .finalise(&agreement.id, &canonical(&draft), &wang)
        .await
        .expect("finalise");
    // Sealing is the signing store's; it leaves the agreement and its version in force.
    sqlx::query("UPDATE agreements SET status = 'in_force' WHERE id = $1")
        .bind(agreement.id.as_str())
        .execute(store.pool())
        .await
        .expect("seal");
    sqlx::query("UPDATE agreement_versions SET status = 'in_force' WHERE agreement_id = $1")
        .bind(agreement.id.as_str())
        .execute(store.pool())
        .await
        .expect("seal version");

    let (edit, clause) = typed(store, &agreement.id, MAIN_DOC, 1, "改").await;
    let refused = store
        .append_update(
            &agreement.id,
            MAIN_DOC,
            &edit,
            &wang,
            None,
            std::slice::from_ref(&clause),
            now_ms(),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::Rule(Rule::InForce))),
        "{refused:?}"
    );
    let refinalise = store.finalise(&agreement.id, "另一文本", &wang).await;
    assert!(
        matches!(refinalise, Err(Error::Rule(Rule::InForce))),
        "{refinalise:?}"
    );
    let private = store
        .create_private_draft(&agreement.id, draft.full_update(), &wang)
        .await;
    assert!(
        matches!(private, Err(Error::Rule(Rule::InForce))),
        "{private:?}"
    );
    let comment = store
        .add_comment(&agreement.id, &clause, "请修改", &party())
        .await;
    assert!(
        matches!(comment, Err(Error::Rule(Rule::InForce))),
        "{comment:?}"
    );
    assert_eq!(
        store.last_seq(&agreement.id, MAIN_DOC).await.expect("seq"),
        1
    );
    let current = store
        .current_final(&agreement.id)
        .await
        .expect("final")
        .expect("in force");
    assert_eq!(current.status, VersionStatus::InForce);
}
both_databases!(
    in_force_refuses,
    an_agreement_in_force_takes_no_more_changes
);

async fn private_drafts_are_shown_to_one_side(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let wang = mediator("wang");
    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    let main = stored_draft(store, &agreement.id, MAIN_DOC).await;
    let private = store
        .create_private_draft(&agreement.id, main.full_update(), &wang)
        .await
        .expect("private");
    assert!(private.doc.starts_with("PD_"), "{}", private.doc);
    assert_eq!(private.shown_to, None);
    let copy = stored_draft(store, &agreement.id, &private.doc).await;
    assert_eq!(copy.clauses(), main.clauses());
    assert_eq!(copy.title(), main.title());
    assert!(!sees_draft(&private, false, Some(Side::Applicant)));
    assert!(sees_draft(&private, true, None));

    let doc = DraftId::from(private.doc.clone());
    let shown = store
        .show_private_draft(&agreement.id, &doc, Some(Side::Applicant), &wang)
        .await
        .expect("show");
    assert_eq!(shown.shown_to, Some(Side::Applicant));
    assert!(sees_draft(&shown, false, Some(Side::Applicant)));
    assert!(!sees_draft(&shown, false, Some(Side::Respondent)));
    assert!(!sees_draft(&shown, false, None));
    let hidden = store
        .show_private_draft(&agreement.id, &doc, None, &wang)
        .await
        .expect("hide");
    assert_eq!(hidden.shown_to, None);
    let docs = store.draft_docs(&agreement.id).await.expect("docs");
    assert_eq!(
        docs.iter().map(|d| d.doc.as_str()).collect::<Vec<_>>(),
        vec![MAIN_DOC, private.doc.as_str()]
    );
    assert!(sees_draft(&docs[0], false, None));

    let main_shown = store
        .show_private_draft(
            &agreement.id,
            &DraftId::from(MAIN_DOC),
            Some(Side::Respondent),
            &wang,
        )
        .await;
    assert!(
        matches!(main_shown, Err(Error::NotFound(_))),
        "{main_shown:?}"
    );
    let unknown = store
        .append_update(
            &agreement.id,
            "PD_nothing",
            b"\x00\x00",
            &wang,
            None,
            &[],
            now_ms(),
        )
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    let missing = store.draft_doc(&agreement.id, "PD_nothing").await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    let entries = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit");
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "agreement.private_draft_shown")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].contains("\"shown_to\":\"applicant\""),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("\"shown_to\":null"), "{}", shown[1]);
}
both_databases!(private_drafts, private_drafts_are_shown_to_one_side);

async fn concurrent_appends_get_distinct_sequence_numbers(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let wang = mediator("wang");
    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    let main = stored_draft(store, &agreement.id, MAIN_DOC).await;
    let private = store
        .create_private_draft(&agreement.id, main.full_update(), &wang)
        .await
        .expect("private");
    // The bytes need not build on each other here: the store keeps what the edge checked.
    let appends = (0..24).map(|n| {
        let doc = if n % 3 == 0 {
            private.doc.clone()
        } else {
            MAIN_DOC.to_owned()
        };
        let (store, id, wang) = (store.clone(), agreement.id.clone(), wang.clone());
        tokio::spawn(async move {
            let seq = store
                .append_update(&id, &doc, &[n as u8, 1, 2], &wang, None, &[], now_ms())
                .await
                .expect("append")
                .seq;
            (doc, seq)
        })
    });
    let mut main_seqs = Vec::new();
    let mut private_seqs = Vec::new();
    for handle in appends.collect::<Vec<_>>() {
        let (doc, seq) = handle.await.expect("task");
        if doc == MAIN_DOC {
            main_seqs.push(seq);
        } else {
            private_seqs.push(seq);
        }
    }
    main_seqs.sort_unstable();
    private_seqs.sort_unstable();
    assert_eq!(main_seqs, (2..=17).collect::<Vec<_>>());
    assert_eq!(private_seqs, (2..=9).collect::<Vec<_>>());
    let stored: Vec<i64> = store
        .draft_updates(&agreement.id, MAIN_DOC)
        .await
        .expect("updates")
        .iter()
        .map(|u| u.seq)
        .collect();
    assert_eq!(stored, (1..=17).collect::<Vec<_>>());
}
both_databases!(
    concurrent_appends,
    concurrent_appends_get_distinct_sequence_numbers
);
