//! Signing agreements in the store, on SQLite and PostgreSQL: identity checks (one-time
//! codes, attestation, the mediator's login), free will, signatures made with a real P-256
//! key as a phone's WebCrypto makes them, each rule that refuses a signature, the seal that
//! puts the agreement in force, the public status, and seal key rotation.

#[macro_use]
mod common;
#[path = "store_signing/refusals.rs"]
mod refusals;
#[path = "store_signing/world.rs"]
mod world;

use world::*;

async fn the_happy_path_ends_in_force_under_the_seal(s: &Scratch) {
    let store = &s.store;
    let w = world(store, Category::Neighbours, true).await;
    let now = now_ms();
    let e = store.e_signable(&w.case.id).await.expect("e-signable");
    assert!(e.e_signable && e.reason.is_none());

    let signers = store.signers(&w.agreement).await.expect("signers");
    let ids: Vec<(&str, SignerRole, bool, bool)> = signers
        .iter()
        .map(|s| (s.signer_id.as_str(), s.role, s.required, s.may_sign))
        .collect();
    assert_eq!(
        ids,
        vec![
            (w.applicant.id.as_str(), SignerRole::Party, true, true),
            (w.respondent.id.as_str(), SignerRole::Party, true, true),
            (
                w.representative.id.as_str(),
                SignerRole::Representative,
                false,
                true
            ),
            (w.mediator.as_str(), SignerRole::Mediator, true, true),
        ],
        "the interpreter never signs"
    );
    assert_eq!(signers[2].represents_name.as_deref(), Some("李四"));
    assert!(signers.iter().all(|s| s.status == SignerStatus::Pending));

    // The applicant: a one-time code; a second one within the minute is refused.
    let zhang = Phone::new();
    let otp = store
        .issue_otp(&w.agreement, &w.applicant.id, now)
        .await
        .expect("code");
    assert_eq!(otp.sent_to, "138****5678");
    assert_eq!(otp.phone, "13812345678");
    assert_eq!(otp.expires_at, now + 5 * 60_000);
    assert!(!format!("{otp:?}").contains(&otp.code), "no code in Debug");
    match store
        .issue_otp(&w.agreement, &w.applicant.id, now + 10_000)
        .await
    {
        Err(Error::TooManyRequests {
            retry_after_seconds,
        }) => assert_eq!(retry_after_seconds, 50),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    store
        .check_identity(
            &Actor::Party(w.applicant.id.clone()),
            &w.agreement,
            &pt(&w.applicant.id),
            IdentityProof::Otp { code: otp.code },
            &zhang.spki,
            now,
        )
        .await
        .expect("identity");
    w.free_will(store, &w.applicant.id, FreeWillAnswer::Yes)
        .await;
    w.sign(store, &pt(&w.applicant.id), &zhang, now)
        .await
        .expect("applicant signs");

    // The respondent's representative, attested on camera, signs for them.
    let smith = Phone::new();
    store
        .attest(
            &w.mediator,
            &w.agreement,
            &w.representative.id,
            &w.session.id,
        )
        .await
        .expect("attest");
    store
        .check_identity(
            &Actor::Party(w.representative.id.clone()),
            &w.agreement,
            &pt(&w.representative.id),
            IdentityProof::Attestation,
            &smith.spki,
            now,
        )
        .await
        .expect("identity by attestation");
    w.free_will(store, &w.representative.id, FreeWillAnswer::Yes)
        .await;
    w.sign(store, &pt(&w.representative.id), &smith, now)
        .await
        .expect("representative signs");
    assert_eq!(
        rule(w.sign(store, &pt(&w.respondent.id), &smith, now).await),
        Rule::AlreadyDecided,
        "the respondent was signed for"
    );

    // Not yet: the mediator has not signed.
    let platform = |bytes: &[u8]| Ok(("PK_platform".to_owned(), BASE64.encode(&bytes[..8])));
    assert_eq!(
        rule(store.seal(&w.mediator, &w.agreement, platform, now).await),
        Rule::SignaturesMissing
    );
    let wang = Phone::new();
    let mediator = SignerRef::Staff(w.mediator.clone());
    assert_eq!(
        rule(
            store
                .check_identity(
                    &Actor::Staff(StaffId::new("ST_someoneelse")),
                    &w.agreement,
                    &mediator,
                    IdentityProof::Staff,
                    &wang.spki,
                    now,
                )
                .await
        ),
        Rule::NotASigner
    );
    store
        .check_identity(
            &w.mediator_actor(),
            &w.agreement,
            &mediator,
            IdentityProof::Staff,
            &wang.spki,
            now,
        )
        .await
        .expect("mediator identity");
    w.sign(store, &mediator, &wang, now)
        .await
        .expect("mediator signs, no free-will question for them");

    let signers = store.signers(&w.agreement).await.expect("signers");
    assert!(
        signers
            .iter()
            .filter(|s| s.required)
            .all(|s| s.status == SignerStatus::Signed && s.signed_at.is_some())
    );
    assert_eq!(
        signers[0].identity.as_ref().map(|i| i.method),
        Some(IdentityMethod::Otp)
    );
    assert_eq!(
        signers[2].identity.as_ref().map(|i| i.method),
        Some(IdentityMethod::Attestation)
    );
    assert!(signers[2].attested_at.is_some());
    assert_eq!(
        signers[0].free_will.as_ref().map(|f| f.answer),
        Some(FreeWillAnswer::Yes)
    );

    let mut countersigned = Vec::new();
    let outcome = store
        .seal(
            &w.mediator,
            &w.agreement,
            |bytes: &[u8]| {
                countersigned = bytes.to_vec();
                Ok(("PK_platform".to_owned(), "cGxhdGZvcm0=".to_owned()))
            },
            now + 1,
        )
        .await
        .expect("seal");
    assert_eq!(countersigned, outcome.statement.as_bytes());
    assert_eq!(outcome.effective_at, now + 1);
    assert_eq!(outcome.version, 1);
    let keys = store.seal_public_keys(&w.org.id).await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, outcome.key_id);
    assert!(verify_seal(
        &keys[0].public_key,
        outcome.statement.as_bytes(),
        &outcome.seal_signature
    ));
    let statement: serde_json::Value =
        serde_json::from_str(&outcome.statement).expect("statement json");
    assert_eq!(statement["text_sha256"], outcome.text_sha256.as_str());
    assert_eq!(statement["signatures"].as_array().map(Vec::len), Some(3));

    let agreement = store.agreement(&w.agreement).await.expect("agreement");
    assert_eq!(agreement.status, AgreementStatus::InForce);
    assert_eq!(
        store.case(&w.case.id).await.expect("case").status,
        CaseStatus::Signed
    );
    let seal = store
        .seal_of(&w.agreement)
        .await
        .expect("seal")
        .expect("sealed");
    assert_eq!(
        (
            seal.key_id.as_str(),
            seal.platform_key_id.as_str(),
            seal.sealed_at
        ),
        (outcome.key_id.as_str(), "PK_platform", now + 1)
    );
    assert_eq!(
        serde_json::to_value(&seal).expect("json"),
        serde_json::json!({"key_id": outcome.key_id, "sealed_at": now + 1,
                           "platform_key_id": "PK_platform"})
    );
    store
        .set_seal_pdf(&w.agreement, 1, &"ef".repeat(32))
        .await
        .expect("pdf");
    assert_eq!(
        store
            .seal_of(&w.agreement)
            .await
            .expect("seal")
            .and_then(|s| s.pdf_sha256),
        Some("ef".repeat(32))
    );
    assert!(matches!(
        store.set_seal_pdf(&w.agreement, 2, "00").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        rule(store.seal(&w.mediator, &w.agreement, platform, now).await),
        Rule::InForce
    );

    // What the public sees by the hash: no names in full, no text.
    let public = store
        .public_status(&outcome.text_sha256)
        .await
        .expect("public")
        .expect("found");
    assert!(public.genuine);
    assert_eq!(public.status, "in_force");
    assert_eq!(public.effective_at, Some(now + 1));
    assert_eq!(public.organisation, "宝安区人民调解委员会");
    // Signed in the same millisecond here: compare without the order.
    let mut masked: Vec<(&str, &str)> = public
        .signers
        .iter()
        .map(|s| (s.name_masked.as_str(), s.role.as_str()))
        .collect();
    masked.sort();
    assert_eq!(
        masked,
        vec![
            ("J*** Smith", "representative"),
            ("张*", "party"),
            ("王***", "mediator"),
        ]
    );
    assert_eq!(
        store.public_status(&"0".repeat(64)).await.expect("none"),
        None
    );
    assert_eq!(store.public_status("nothex").await.expect("none"), None);

    let records = store
        .signature_records(&w.agreement, 1)
        .await
        .expect("records");
    assert_eq!(records.len(), 3);
    let by_smith = records
        .iter()
        .find(|r| r.signer_id == w.representative.id.as_str())
        .expect("the representative's");
    assert_eq!(by_smith.on_behalf_of.as_ref(), Some(&w.respondent.id));
    assert_eq!(by_smith.public_key.as_deref(), Some(smith.spki.as_str()));
    assert!(records.iter().all(|r| r.identity.is_some()));

    // Rotation: a new key; the old one stays listed, retired, and its seal still verifies.
    let rotated = store
        .rotate_seal_key(&w.mediator, &w.org.id)
        .await
        .expect("rotate");
    let keys = store.seal_public_keys(&w.org.id).await.expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].id, rotated.id);
    assert!(keys[0].retired_at.is_none());
    assert_eq!(keys[1].id, outcome.key_id);
    assert!(keys[1].retired_at.is_some());
    assert!(verify_seal(
        &keys[1].public_key,
        outcome.statement.as_bytes(),
        &outcome.seal_signature
    ));
    assert!(!verify_seal(
        &keys[0].public_key,
        outcome.statement.as_bytes(),
        &outcome.seal_signature
    ));

    let trail: Vec<String> = store
        .audit_of(&format!("case:{}", w.case.id))
        .await
        .expect("audit")
        .iter()
        .map(|e| e.action.as_str().to_owned())
        .collect();
    for action in [
        "agreement.identity_checked",
        "agreement.attested",
        "agreement.free_will",
        "agreement.signed",
        "agreement.sealed",
        "case.status_changed",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
    let rotations = store
        .audit_of(&format!("organisation:{}", w.org.id))
        .await
        .expect("audit");
    assert_eq!(
        rotations
            .iter()
            .filter(|e| e.action.as_str() == "seal_key.rotated")
            .count(),
        2
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(happy_path, the_happy_path_ends_in_force_under_the_seal);

async fn personal_status_cases_are_not_signed_electronically(s: &Scratch) {
    let store = &s.store;
    let w = world(store, Category::Family, true).await;
    let now = now_ms();
    let e = store.e_signable(&w.case.id).await.expect("e-signable");
    assert!(!e.e_signable);
    assert_eq!(e.reason, Some(Rule::NotESignable.message()));
    let signers = store.signers(&w.agreement).await.expect("signers");
    assert!(
        signers
            .iter()
            .all(|s| !s.may_sign && s.cannot_sign_reason == Some("not_e_signable"))
    );
    let phone = Phone::new();
    assert_eq!(
        rule(w.sign(store, &pt(&w.applicant.id), &phone, now).await),
        Rule::NotESignable
    );
    assert_eq!(
        rule(store.issue_otp(&w.agreement, &w.applicant.id, now).await),
        Rule::NotESignable
    );
    let fake = Payload {
        case: w.case.id.clone(),
        version: 1,
        text_sha256: "00".repeat(32),
        signer: w.applicant.id.to_string(),
        time: now,
        nonce: "x".into(),
    }
    .to_json();
    assert_eq!(
        rule(
            store
                .sign(
                    &Actor::Party(w.applicant.id.clone()),
                    &w.agreement,
                    &pt(&w.applicant.id),
                    phone.request(&fake),
                    now
                )
                .await
        ),
        Rule::NotESignable
    );
    assert_eq!(
        rule(
            store
                .seal(
                    &w.mediator,
                    &w.agreement,
                    |_: &[u8]| Ok((String::new(), String::new())),
                    now
                )
                .await
        ),
        Rule::NotESignable
    );
    assert_eq!(store.signers(&w.agreement).await.expect("signers").len(), 4);
}
both_databases!(
    personal_status,
    personal_status_cases_are_not_signed_electronically
);
