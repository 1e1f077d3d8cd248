//! The case, people and phones the signing tests share.
#![allow(dead_code)]

pub use crate::common::{Scratch, admin, new_case, organisation};
pub use accord_cases::agreements::Rule;
pub use accord_cases::agreements::document::{ClauseKind, Draft};
pub use accord_cases::agreements::model::{AgreementStatus, Editor, MAIN_DOC, NewAgreement};
pub use accord_cases::agreements::signing::{CHALLENGE_TTL_MS, Payload, verify_seal};
pub use accord_cases::store::model::{
    Actor, Case, CaseStatus, Category, NewParty, NewStaff, Organisation, Party, PartyKind, Session,
    Side, StaffRole,
};
pub use accord_cases::store::{
    FreeWillAnswer, IdentityMethod, IdentityProof, NewFreeWill, SignRequest, SignerRef, SignerRole,
    SignerStatus, Store, now_ms,
};
pub use accord_cases::{AgreementId, Error, PartyId, StaffId};
pub use base64::Engine as _;
pub use base64::engine::general_purpose::STANDARD as BASE64;
pub use p256::ecdsa::signature::Signer as _;
pub use p256::pkcs8::EncodePublicKey as _;
pub use yrs::updates::decoder::Decode;
pub use yrs::{Array, Doc, Map, Out, Text, Transact, Update};

/// A phone's signing key and its public half as the browser exports it (SPKI DER, base64).
pub struct Phone {
    pub key: p256::ecdsa::SigningKey,
    pub spki: String,
}

impl Phone {
    pub fn new() -> Phone {
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
    pub fn sign(&self, payload: &str) -> String {
        let signature: p256::ecdsa::Signature = self.key.sign(payload.as_bytes());
        BASE64.encode(signature.to_bytes())
    }

    pub fn request(&self, payload: &str) -> SignRequest {
        SignRequest {
            payload: payload.to_owned(),
            signature: self.sign(payload),
            public_key: Some(self.spki.clone()),
            image_sha256: Some("ab".repeat(32)),
        }
    }
}

/// A case with its mediator, parties, a live session and a finalised agreement.
pub struct World {
    pub org: Organisation,
    pub case: Case,
    pub mediator: StaffId,
    pub session: Session,
    pub applicant: Party,
    pub respondent: Party,
    pub representative: Party,
    pub interpreter: Party,
    pub agreement: AgreementId,
}

pub fn editor(id: &StaffId) -> Editor {
    Editor {
        identity: id.to_string(),
        name: "王调解员".into(),
        role: "mediator".into(),
        actor: Actor::Staff(id.clone()),
    }
}

pub fn party(name: &str, side: Side, kind: PartyKind) -> NewParty {
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

pub const TEXT_V1: &str =
    "人民调解协议书\n\n申请人：张三\n被申请人：李四\n\n第一条 李四赔偿张三维修费 3000 元。";

pub async fn world(store: &Store, category: Category, letter: bool) -> World {
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

pub fn rule<T: std::fmt::Debug>(result: Result<T, Error>) -> Rule {
    match result {
        Err(Error::Rule(rule)) => rule,
        other => panic!("expected a rule, got {other:?}"),
    }
}

pub fn pt(id: &PartyId) -> SignerRef {
    SignerRef::Party(id.clone())
}

impl World {
    pub fn mediator_actor(&self) -> Actor {
        Actor::Staff(self.mediator.clone())
    }

    /// `who`'s identity checked by a one-time code, with `phone`'s key.
    pub async fn by_code(&self, store: &Store, who: &PartyId, phone: &Phone, now: i64) {
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

    pub async fn free_will(&self, store: &Store, who: &PartyId, answer: FreeWillAnswer) {
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

    pub async fn sign(
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
    pub async fn edit(&self, store: &Store) -> i64 {
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
