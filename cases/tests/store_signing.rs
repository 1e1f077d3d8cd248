//! Signing agreements in the store, on SQLite and PostgreSQL: identity checks (one-time
//! codes, attestation, the mediator's login), free will, signatures made with a real P-256
//! key as a phone's WebCrypto makes them, each rule that refuses a signature, the seal that
//! puts the agreement in force, the public status, and seal key rotation.

#[macro_use]
mod common;

use accord_cases::agreements::Rule;
use accord_cases::agreements::document::{ClauseKind, Draft};
use accord_cases::agreements::model::{AgreementStatus, Editor, MAIN_DOC, NewAgreement};
use accord_cases::agreements::signing::{CHALLENGE_TTL_MS, Payload, verify_seal};
use accord_cases::store::model::{
    Actor, Case, CaseStatus, Category, NewParty, NewStaff, Organisation, Party, PartyKind, Session,
    Side, StaffRole,
};
use accord_cases::store::{
    FreeWillAnswer, IdentityMethod, IdentityProof, NewFreeWill, SignRequest, SignerRef, SignerRole,
    SignerStatus, Store, now_ms,
};
use accord_cases::{AgreementId, Error, PartyId, StaffId};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Scratch, admin, new_case, organisation};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use yrs::updates::decoder::Decode;
use yrs::{Array, Doc, Map, Out, Text, Transact, Update};

/// A phone's signing key and its public half as the browser exports it (SPKI DER, base64).
struct Phone {
    key: p256::ecdsa::SigningKey,
    spki: String,
}

impl Phone {
    fn new() -> Phone {
        use rand::RngCore;
        loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                let der = key.verifying_key().to_public_key_der().expect("spki");
                let spki = BASE64.encode(der.as_bytes());
                return Phone { key, spki };
            }
        }
    }

    /// What WebCrypto's ECDSA P-256 / SHA-256 gives: 64 bytes `r||s`, base64.
    fn sign(&self, payload: &str) -> String {
        let signature: p256::ecdsa::Signature = self.key.sign(payload.as_bytes());
        BASE64.encode(signature.to_bytes())
    }

    fn request(&self, payload: &str) -> SignRequest {
        SignRequest {
            payload: payload.to_owned(),
            signature: self.sign(payload),
            public_key: Some(self.spki.clone()),
            image_sha256: Some("ab".repeat(32)),
        }
    }
}

/// A case with its mediator, parties, a live session and a finalised agreement.
struct World {
    org: Organisation,
    case: Case,
    mediator: StaffId,
    session: Session,
    applicant: Party,
    respondent: Party,
    representative: Party,
    interpreter: Party,
    agreement: AgreementId,
}

fn editor(id: &StaffId) -> Editor {
    Editor {
        identity: id.to_string(),
        name: "王调解员".into(),
        role: "mediator".into(),
        actor: Actor::Staff(id.clone()),
    }
}

fn party(name: &str, side: Side, kind: PartyKind) -> NewParty {
    NewParty {
        side,
        kind,
        name: name.into(),
        phone: Some("13812345678".into()),
        id_number: None,
        represents: None,
        attorney_letter: None,
    }
}

const TEXT_V1: &str =
    "人民调解协议书\n\n申请人：张三\n被申请人：李四\n\n第一条 李四赔偿张三维修费 3000 元。";

async fn world(store: &Store, category: Category, letter: bool) -> World {
    let org = organisation(store, "宝安", "新安街道").await;
    let mediator = store
        .create_staff(
            &admin(),
            NewStaff {
                organisation_id: Some(org.id.clone()),
                username: format!("wang{}", rand::random::<u32>()),
                display_name: "王调解员".into(),
                role: StaffRole::Mediator,
                court: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        )
        .await
        .expect("mediator");
    let mut new = new_case(&org, "楼上漏水纠纷");
    new.category = category;
    let case = store.create_case(&admin(), new, None).await.expect("case");
    let case = store
        .assign_case(&admin(), &case.id, &mediator.id)
        .await
        .expect("assigned");
    let system = admin();
    let add = |new: NewParty| store.add_party(&system, &case.id, new);
    let applicant = add(party("张三", Side::Applicant, PartyKind::Person))
        .await
        .expect("applicant");
    let respondent = add(party("李四", Side::Respondent, PartyKind::Person))
        .await
        .expect("respondent");
    let mut rep = party("John Smith", Side::Respondent, PartyKind::Representative);
    rep.represents = Some(respondent.id.clone());
    rep.attorney_letter = letter.then(|| "cd".repeat(32));
    let representative = add(rep).await.expect("representative");
    let mut interp = party("赵六", Side::Applicant, PartyKind::Interpreter);
    interp.represents = Some(applicant.id.clone());
    let interpreter = add(interp).await.expect("interpreter");
    let session = store
        .schedule_session(&admin(), &case.id, now_ms())
        .await
        .expect("session");
    let session = store
        .start_session(&Actor::Staff(mediator.id.clone()), &session.id)
        .await
        .expect("live");
    let (_, draft) = Draft::new_from(
        "人民调解协议书",
        &[(ClauseKind::Term, "李四赔偿张三维修费 3000 元。".to_owned())],
    );
    let agreement = store
        .create_agreement(
            NewAgreement {
                case_id: case.id.clone(),
                locale: "zh-CN".into(),
                template_id: None,
                personal_status: (category == Category::Family).then_some(true),
                initial_update: draft.clone(),
            },
            &editor(&mediator.id),
        )
        .await
        .expect("agreement");
    store
        .finalise(&agreement.id, TEXT_V1, &editor(&mediator.id))
        .await
        .expect("final");
    World {
        org,
        case,
        mediator: mediator.id,
        session,
        applicant,
        respondent,
        representative,
        interpreter,
        agreement: agreement.id,
    }
}

fn rule<T: std::fmt::Debug>(result: Result<T, Error>) -> Rule {
    match result {
        Err(Error::Rule(rule)) => rule,
        other => panic!("expected a rule, got {other:?}"),
    }
}

fn pt(id: &PartyId) -> SignerRef {
    SignerRef::Party(id.clone())
}

impl World {
    fn mediator_actor(&self) -> Actor {
        Actor::Staff(self.mediator.clone())
    }

    /// `who`'s identity checked by a one-time code, with `phone`'s key.
    async fn by_code(&self, store: &Store, who: &PartyId, phone: &Phone, now: i64) {
        let otp = store
            .issue_otp(&self.agreement, who, now)
            .await
            .expect("code");
        store
            .check_identity(
                &Actor::Party(who.clone()),
                &self.agreement,
                &pt(who),
                IdentityProof::Otp { code: otp.code },
                &phone.spki,
                now,
            )
            .await
            .expect("identity by code");
    }

    async fn free_will(&self, store: &Store, who: &PartyId, answer: FreeWillAnswer) {
        store
            .record_free_will(
                &self.mediator,
                &self.agreement,
                NewFreeWill {
                    party_id: who.clone(),
                    answer,
                    note: None,
                    session_id: self.session.id.clone(),
                    recording_id: None,
                    recording_offset_ms: None,
                },
            )
            .await
            .expect("free will");
    }

    async fn sign(
        &self,
        store: &Store,
        signer: &SignerRef,
        phone: &Phone,
        now: i64,
    ) -> Result<(), Error> {
        let payload = store.issue_challenge(&self.agreement, signer, now).await?;
        let actor = match signer {
            SignerRef::Party(id) => Actor::Party(id.clone()),
            SignerRef::Staff(id) => Actor::Staff(id.clone()),
        };
        store
            .sign(
                &actor,
                &self.agreement,
                signer,
                phone.request(&payload),
                now,
            )
            .await
    }

    /// An edit of the main document, as a browser would send it.
    async fn edit(&self, store: &Store) -> i64 {
        let ydoc = Doc::new();
        let clauses = ydoc.get_or_insert_array("clauses");
        ydoc.get_or_insert_text("title");
        let updates = store
            .draft_updates(&self.agreement, MAIN_DOC)
            .await
            .expect("updates");
        let mut txn = ydoc.transact_mut();
        for update in &updates {
            txn.apply_update(Update::decode_v1(&update.data).expect("decode"))
                .expect("apply");
        }
        let Some(Out::YMap(clause)) = clauses.get(&txn, 0) else {
            panic!("no clause");
        };
        let Some(Out::YText(body)) = clause.get(&txn, "text") else {
            panic!("no text");
        };
        let end = body.len(&txn);
        body.insert(&mut txn, end, "分两期付清。");
        let update = txn.encode_update_v1();
        drop(txn);
        store
            .append_update(
                &self.agreement,
                MAIN_DOC,
                &update,
                &editor(&self.mediator),
                Some(&self.session.id),
                &[],
                now_ms(),
            )
            .await
            .expect("edit")
            .reopened
            .expect("reopened")
    }
}

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
    assert_eq!(view[1].status, SignerStatus::Declined);
    assert_eq!(view[1].declined_reason.as_deref(), Some("赔偿金额太高"));
    assert_eq!(view[0].status, SignerStatus::Signed);

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
