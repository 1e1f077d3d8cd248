//! Comments on clauses, the history of edits and each clause's last moment.

use super::*;

async fn comments_are_kept_and_resolved(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let wang = mediator("wang");
    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    let clause = stored_draft(store, &agreement.id, MAIN_DOC).await.clauses()[1]
        .id
        .clone();
    let comment = store
        .add_comment(
            &agreement.id,
            &clause,
            "  付款期限能否延后一个月？ ",
            &party(),
        )
        .await
        .expect("comment");
    assert!(comment.id.starts_with("CM_"), "{}", comment.id);
    assert_eq!(comment.text, "付款期限能否延后一个月？");
    assert_eq!(
        (comment.author_name.as_str(), comment.author_role.as_str()),
        ("张三", "party")
    );
    assert_eq!(comment.resolved_at, None);
    let empty = store
        .add_comment(&agreement.id, &clause, "   ", &party())
        .await;
    assert!(matches!(empty, Err(Error::Invalid(_))), "{empty:?}");
    let long = store
        .add_comment(&agreement.id, &clause, &"长".repeat(2001), &party())
        .await;
    assert!(matches!(long, Err(Error::Invalid(_))), "{long:?}");
    let unknown = store
        .add_comment(&AgreementId::from("AG_none"), &clause, "?", &party())
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    store
        .add_comment(&agreement.id, &clause, "同意", &wang)
        .await
        .expect("second");
    let all = store.comments(&agreement.id).await.expect("comments");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], comment);

    let resolved = store
        .resolve_comment(&agreement.id, &comment.id)
        .await
        .expect("resolve");
    let at = resolved.resolved_at.expect("resolved");
    let again = store
        .resolve_comment(&agreement.id, &comment.id)
        .await
        .expect("again");
    assert_eq!(again.resolved_at, Some(at));
    let missing = store
        .resolve_comment(&agreement.id, &CommentId::from("CM_none"))
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
both_databases!(comments, comments_are_kept_and_resolved);

async fn the_history_groups_an_editor_s_updates_into_edits(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let (wang, li) = (mediator("wang"), mediator("li"));
    let agreement = store
        .create_agreement(new_agreement(&case, None), &wang)
        .await
        .expect("create");
    let clauses: Vec<String> = stored_draft(store, &agreement.id, MAIN_DOC)
        .await
        .clauses()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let start = now_ms() + 600_000;
    // wang twice within a minute, then again after a pause; then li.
    let steps = [
        (&wang, 0, 1),
        (&wang, 20_000, 2),
        (&wang, 50_000, 1),
        (&wang, 120_000, 3),
        (&li, 125_000, 3),
    ];
    for (editor, offset, clause) in steps {
        store
            .append_update(
                &agreement.id,
                MAIN_DOC,
                b"\x01",
                editor,
                None,
                std::slice::from_ref(&clauses[clause]),
                start + offset,
            )
            .await
            .expect("append");
    }
    let text = canonical(&Draft::new_from("协议", &[]).0);
    store
        .finalise(&agreement.id, &text, &wang)
        .await
        .expect("finalise");
    let history = store.history(&agreement.id).await.expect("history");
    let edits: Vec<_> = history
        .edits
        .iter()
        .map(|e| (e.from_seq, e.to_seq, e.by_name.as_str(), e.clauses.clone()))
        .collect();
    assert_eq!(
        edits,
        vec![
            (1, 1, "wang调解员", vec![]),
            (
                2,
                4,
                "wang调解员",
                vec![clauses[1].clone(), clauses[2].clone()]
            ),
            (5, 5, "wang调解员", vec![clauses[3].clone()]),
            (6, 6, "li调解员", vec![clauses[3].clone()]),
        ]
    );
    assert_eq!(history.edits[1].first_at, start);
    assert_eq!(history.edits[1].last_at, start + 50_000);
    assert_eq!(history.versions.len(), 1);
    assert_eq!(history.versions[0].text_sha256, text_sha256(&text));

    let moments = store.clause_moments(&agreement.id).await.expect("moments");
    let of = |id: &str| moments.iter().find(|m| m.clause_id == id).expect("moment");
    assert_eq!(of(&clauses[1]).last_edit_at, start + 50_000);
    assert_eq!(of(&clauses[3]).last_edit_at, start + 125_000);
    assert_eq!(of(&clauses[3]).by_name, "li调解员");
    assert_eq!(moments.len(), 3);
    let unknown = store.history(&AgreementId::from("AG_none")).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}
both_databases!(history, the_history_groups_an_editor_s_updates_into_edits);
