//! Organisation templates (override, reset, audit) and who sees and edits an agreement.

use super::*;

async fn an_organisation_replaces_and_resets_a_template(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let other = organisation(store, "南山", "南头街道").await;
    let admin = Actor::Staff(StaffId::from("ST_admin"));
    let all = store
        .templates(&org.id, None, None)
        .await
        .expect("templates");
    assert_eq!(all.len(), Category::ALL.len() * 2);
    assert!(all.iter().all(|t| t.id.starts_with("builtin:")));
    let neighbours = store
        .templates(&org.id, Some(Category::Neighbours), Some("zh-CN"))
        .await
        .expect("templates");
    assert_eq!(neighbours.len(), 1);
    assert_eq!(neighbours[0].id, "builtin:neighbours:zh-CN");

    let input = TemplateInput {
        name: Some("邻里纠纷（本会）".into()),
        title: Some("人民调解协议书".into()),
        clauses: Some(vec![
            TemplateClauseInput {
                kind: Some("facts".into()),
                text: Some("纠纷事实：{{facts}}".into()),
            },
            TemplateClauseInput {
                kind: Some("term".into()),
                text: Some("{{respondent}}于＿＿前向{{applicant}}支付＿＿元。".into()),
            },
        ]),
    };
    let saved = store
        .save_template(&org.id, Category::Neighbours, "zh-CN", &input, &admin)
        .await
        .expect("save");
    assert_eq!(saved.id, format!("{}:neighbours:zh-CN", org.id));
    assert_eq!(saved.organisation_id.as_ref(), Some(&org.id));
    assert_eq!(saved.clauses.len(), 2);
    assert!(saved.updated_at.is_some());
    let listed = store
        .templates(&org.id, None, None)
        .await
        .expect("templates");
    assert_eq!(listed.len(), Category::ALL.len() * 2);
    assert_eq!(listed[0], saved);
    assert_eq!(
        store.template(&org.id, &saved.id).await.expect("by id"),
        saved
    );
    assert_eq!(
        store
            .template_for(&org.id, Category::Neighbours, "zh-CN")
            .await
            .expect("for"),
        saved
    );
    let elsewhere = store.template(&other.id, &saved.id).await;
    assert!(
        matches!(elsewhere, Err(Error::NotFound(_))),
        "{elsewhere:?}"
    );
    assert_eq!(
        store
            .template_for(&other.id, Category::Neighbours, "zh-CN")
            .await
            .expect("built-in")
            .id,
        "builtin:neighbours:zh-CN"
    );
    let builtin = store
        .template(&org.id, "builtin:labour:en")
        .await
        .expect("built-in");
    assert_eq!(
        (builtin.category, builtin.locale.as_str()),
        (Category::Labour, "en")
    );
    for bad in [
        "nonsense",
        "builtin:labour:fr",
        "OR_x:neighbours:zh-CN",
        "a:b:c:d",
    ] {
        let missing = store.template(&org.id, bad).await;
        assert!(
            matches!(missing, Err(Error::NotFound(_))),
            "{bad}: {missing:?}"
        );
    }

    // Saving again replaces it; a wrong one names its fields and stores nothing.
    let mut renamed = input.clone();
    renamed.name = Some("邻里纠纷（新）".into());
    let resaved = store
        .save_template(&org.id, Category::Neighbours, "zh-CN", &renamed, &admin)
        .await
        .expect("save again");
    assert_eq!(resaved.name, "邻里纠纷（新）");
    let mut wrong = input.clone();
    wrong.clauses = Some(vec![TemplateClauseInput {
        kind: Some("preamble".into()),
        text: Some("{{nobody}}".into()),
    }]);
    let refused = store
        .save_template(&org.id, Category::Neighbours, "zh-CN", &wrong, &admin)
        .await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let bad_locale = store
        .save_template(&org.id, Category::Neighbours, "fr", &input, &admin)
        .await;
    assert!(
        matches!(bad_locale, Err(Error::Invalid(_))),
        "{bad_locale:?}"
    );
    let no_org = store
        .save_template(
            &OrganisationId::from("OR_none"),
            Category::Neighbours,
            "zh-CN",
            &input,
            &admin,
        )
        .await;
    assert!(matches!(no_org, Err(Error::NotFound(_))), "{no_org:?}");

    let reset = store
        .reset_template(&org.id, Category::Neighbours, "zh-CN", &admin)
        .await
        .expect("reset");
    assert_eq!(reset.id, "builtin:neighbours:zh-CN");
    assert_eq!(
        store
            .template_for(&org.id, Category::Neighbours, "zh-CN")
            .await
            .expect("for")
            .id,
        "builtin:neighbours:zh-CN"
    );
    // Resetting what is not replaced changes nothing and is not an entry.
    store
        .reset_template(&org.id, Category::Neighbours, "zh-CN", &admin)
        .await
        .expect("reset again");
    let entries = store
        .audit_of(&format!("organisation:{}", org.id))
        .await
        .expect("audit");
    let saves: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "agreement_template.saved")
        .collect();
    assert_eq!(saves.len(), 3);
    assert!(
        saves[2].detail.contains("\"reset\":true"),
        "{}",
        saves[2].detail
    );
    assert_eq!(saves[0].actor, "staff:ST_admin");
    let report = store.verify_audit().await.expect("verify");
    assert!(report.intact(), "{:?}", report.problems);
}
both_databases!(templates, an_organisation_replaces_and_resets_a_template);

async fn only_the_case_s_organisation_sees_and_edits_its_agreement(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let other = organisation(store, "南山", "南头街道").await;
    let case = case_of(store, &org, Category::Neighbours).await;
    let agreement = store
        .create_agreement(new_agreement(&case, None), &mediator("wang"))
        .await
        .expect("create");
    let me = StaffId::from("ST_me");
    let viewer = |role, organisation_id| Viewer {
        id: &me,
        role,
        organisation_id,
        court: None,
    };
    let (seen, seen_case) = store
        .visible_agreement(&viewer(StaffRole::Mediator, Some(&org.id)), &agreement.id)
        .await
        .expect("visible");
    assert_eq!(
        (seen.id, seen_case.id),
        (agreement.id.clone(), case.id.clone())
    );
    let hidden = store
        .visible_agreement(&viewer(StaffRole::Mediator, Some(&other.id)), &agreement.id)
        .await;
    assert!(
        matches!(hidden, Err(Error::NotFound("no such agreement"))),
        "{hidden:?}"
    );
    let missing = store
        .visible_agreement(
            &viewer(StaffRole::Mediator, Some(&org.id)),
            &AgreementId::from("AG_none"),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound("no such agreement"))),
        "{missing:?}"
    );

    assert!(viewer(StaffRole::Mediator, Some(&org.id)).may_edit_agreement(&case));
    assert!(!viewer(StaffRole::Mediator, Some(&other.id)).may_edit_agreement(&case));
    assert!(!viewer(StaffRole::Administrator, Some(&org.id)).may_edit_agreement(&case));
    assert!(!viewer(StaffRole::Court, None).may_edit_agreement(&case));
    assert!(viewer(StaffRole::Administrator, Some(&org.id)).may_manage_templates(&org.id));
    assert!(viewer(StaffRole::Administrator, None).may_manage_templates(&org.id));
    assert!(!viewer(StaffRole::Administrator, Some(&other.id)).may_manage_templates(&org.id));
    assert!(!viewer(StaffRole::Mediator, Some(&org.id)).may_manage_templates(&org.id));
}
both_databases!(
    access,
    only_the_case_s_organisation_sees_and_edits_its_agreement
);
