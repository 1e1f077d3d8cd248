//! Each rule that refuses a signature, one after the other on one case.

use super::world::*;

async fn each_rule_refuses_a_signature(s: &Scratch) {
    let store = &s.store;
    let w = world(store, Category::Neighbours, false).await;
    let now = now_ms();
    let zhang = Phone::new();
    let applicant = pt(&w.applicant.id);

    // Not signers: an interpreter, a staff member who is not the case's mediator.
    assert_eq!(
        rule(w.sign(store, &pt(&w.interpreter.id), &zhang, now).await),
        Rule::NotASigner
    );
    assert_eq!(
        rule(
            w.sign(
                store,
                &SignerRef::Staff(StaffId::new("ST_other")),
                &zhang,
                now
            )
            .await
        ),
        Rule::NotASigner
    );
    // A representative without a power of attorney.
    assert_eq!(
        rule(w.sign(store, &pt(&w.representative.id), &zhang, now).await),
        Rule::AttorneyLetterMissing
    );
    let rep_view = store.signers(&w.agreement).await.expect("signers");
    let rep_view = rep_view
        .iter()
        .find(|s| s.signer_id == w.representative.id.as_str())
        .expect("listed");
    assert!(!rep_view.may_sign);
    assert_eq!(rep_view.cannot_sign_reason, Some("attorney_letter_missing"));
    // Nobody checked who holds this phone.
    assert_eq!(
        rule(w.sign(store, &applicant, &zhang, now).await),
        Rule::IdentityUnchecked
    );

    // Five wrong codes kill the code, even for the right one after.
    let otp = store
        .issue_otp(&w.agreement, &w.applicant.id, now)
        .await
        .expect("code");
    let wrong = if otp.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let party_actor = Actor::Party(w.applicant.id.clone());
    let try_code = |code: String| {
        store.check_identity(
            &party_actor,
            &w.agreement,
            &applicant,
            IdentityProof::Otp { code },
            &zhang.spki,
            now,
        )
    };
    for _ in 0..5 {
        assert_eq!(rule(try_code(wrong.to_owned()).await), Rule::WrongCode);
    }
    assert_eq!(rule(try_code(otp.code.clone()).await), Rule::WrongCode);
    // A new code a minute later; it too expires.
    let later = now + 61_000;
    let otp = store
        .issue_otp(&w.agreement, &w.applicant.id, later)
        .await
        .expect("another code");
    assert_eq!(
        rule(
            store
                .check_identity(
                    &Actor::Party(w.applicant.id.clone()),
                    &w.agreement,
                    &applicant,
                    IdentityProof::Otp {
                        code: otp.code.clone()
                    },
                    &zhang.spki,
                    later + 5 * 60_000,
                )
                .await
        ),
        Rule::WrongCode
    );
    assert!(matches!(
        store
            .check_identity(
                &Actor::Party(w.applicant.id.clone()),
                &w.agreement,
                &applicant,
                IdentityProof::Otp { code: otp.code },
                "bm90IGEga2V5",
                later,
            )
            .await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(
        rule(
            store
                .check_identity(
                    &Actor::Party(w.applicant.id.clone()),
                    &w.agreement,
                    &applicant,
                    IdentityProof::Attestation,
                    &zhang.spki,
                    later,
                )
                .await
        ),
        Rule::AttestationMissing
    );
    w.by_code(store, &w.applicant.id, &zhang, later + 61_000)
        .await;

    // Another key than the one registered: refused as such when the phone says which key
    // it used, as a bad signature when it does not.
    let thief = Phone::new();
    let payload = store
        .issue_challenge(&w.agreement, &applicant, now)
        .await
        .expect("challenge");
    let actor = Actor::Party(w.applicant.id.clone());
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    thief.request(&payload),
                    now
                )
                .await
        ),
        Rule::KeyNotRegistered
    );
    let mut unnamed = thief.request(&payload);
    unnamed.public_key = None;
    assert_eq!(
        rule(
            store
                .sign(&actor, &w.agreement, &applicant, unnamed, now)
                .await
        ),
        Rule::BadSignature
    );
    // No free will yet; a "no" is not a yes.
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&payload),
                    now
                )
                .await
        ),
        Rule::FreeWillMissing
    );
    w.free_will(store, &w.applicant.id, FreeWillAnswer::No)
        .await;
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&payload),
                    now
                )
                .await
        ),
        Rule::FreeWillMissing
    );
    w.free_will(store, &w.applicant.id, FreeWillAnswer::Yes)
        .await;

    // An expired challenge, a forged one, one made for someone else.
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&payload),
                    now + CHALLENGE_TTL_MS
                )
                .await
        ),
        Rule::ChallengeExpired
    );
    let mut forged = Payload::parse(&payload).expect("payload");
    forged.nonce = "madeup".into();
    let forged = forged.to_json();
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&forged),
                    now
                )
                .await
        ),
        Rule::ChallengeExpired
    );
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&payload.replace(",\"", ", \"")),
                    now
                )
                .await
        ),
        Rule::ChallengeExpired
    );

    // Signed once; the same challenge again is a replay; a new one finds it decided.
    store
        .sign(
            &actor,
            &w.agreement,
            &applicant,
            zhang.request(&payload),
            now,
        )
        .await
        .expect("signs");
    assert_eq!(
        rule(
            store
                .sign(
                    &actor,
                    &w.agreement,
                    &applicant,
                    zhang.request(&payload),
                    now
                )
                .await
        ),
        Rule::ChallengeExpired
    );
    assert_eq!(
        rule(w.sign(store, &applicant, &zhang, now).await),
        Rule::AlreadyDecided
    );

    // The respondent declines; they cannot sign after.
    let li = Phone::new();
    store
        .decline(
            &Actor::Party(w.respondent.id.clone()),
            &w.agreement,
            &pt(&w.respondent.id),
            "赔偿金额太高",
            now,
        )
        .await
        .expect("decline");
    w.by_code(store, &w.respondent.id, &li, now).await;
    w.free_will(store, &w.respondent.id, FreeWillAnswer::Yes)
        .await;
    assert_eq!(
        rule(w.sign(store, &pt(&w.respondent.id), &li, now).await),
        Rule::AlreadyDecided
    );
    let view = store.signers(&w.agreement).await.expect("signers");
    let of = |id: &PartyId| {
        view.iter()
            .find(|s| s.signer_id == id.as_str())
            .expect("listed")
    };
    assert_eq!(of(&w.respondent.id).status, SignerStatus::Declined);
    assert_eq!(
        of(&w.respondent.id).declined_reason.as_deref(),
        Some("赔偿金额太高")
    );
    assert_eq!(of(&w.applicant.id).status, SignerStatus::Signed);

    // An edit reopens the agreement: a challenge of version 1 is outdated, and version 1's
    // signatures, keys and answers no longer count.
    let wang = Phone::new();
    let mediator = SignerRef::Staff(w.mediator.clone());
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
    let v1_payload = store
        .issue_challenge(&w.agreement, &mediator, now)
        .await
        .expect("challenge on v1");
    assert_eq!(w.edit(store).await, 2);
    assert_eq!(
        rule(
            store
                .sign(
                    &w.mediator_actor(),
                    &w.agreement,
                    &mediator,
                    wang.request(&v1_payload),
                    now
                )
                .await
        ),
        Rule::VersionOutdated
    );
    assert_eq!(
        rule(store.issue_challenge(&w.agreement, &applicant, now).await),
        Rule::NotFinal
    );
    let drafting = store.signers(&w.agreement).await.expect("signers");
    assert!(
        drafting
            .iter()
            .all(|s| s.status == SignerStatus::Pending && !s.may_sign && s.identity.is_none())
    );
    store
        .finalise(
            &w.agreement,
            &format!("{TEXT_V1}分两期付清。"),
            &editor(&w.mediator),
        )
        .await
        .expect("v2");
    assert_eq!(
        rule(w.sign(store, &applicant, &zhang, now).await),
        Rule::IdentityUnchecked,
        "the key of version 1 does not carry over"
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(refusals, each_rule_refuses_a_signature);
