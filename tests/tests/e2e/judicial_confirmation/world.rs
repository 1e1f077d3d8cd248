//! What the judicial-confirmation suite stands on: the deployment's storage (see
//! `storage.rs`) seeded through the store with agreements IN FORCE (signed by real P-256
//! device keys, sealed with the organisation's key and countersigned by the platform key the
//! binary itself loads from the keys folder every node shares).
//!
//! Seeding goes through `accord_cases::store::Store`, the same code the binary runs, before
//! the binary starts: the signing flow over the wire needs a live room for the free-will
//! question, which this suite is not about. Everything after the seal (case links, the
//! applications, the package, the delivery, the callbacks) runs through the binary's HTTP API.

use std::path::PathBuf;

use accord_cases::agreements::document::{ClauseKind, Draft, canonical_text};
use accord_cases::agreements::model::{Editor, NewAgreement};
use accord_cases::store::model::{
    Actor, CaseStatus, Category, Channel, NewCase, NewOrganisation, NewParty, NewStaff,
    Organisation, PartyKind, Risk, Side, Staff, StaffRole,
};
use accord_cases::store::{
    FreeWillAnswer, IdentityProof, NewFreeWill, SignRequest, SignerRef, Store, StoreKeys, now_ms,
};
use accord_recordings::signing::{PlatformKeys, signing_dir};
use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;

use super::storage::Storage;

/// Every staff account's password.
pub const PASSWORD: &str = "correct horse battery";
/// The court the organisation sits under: the proposed venue (organisation_seat).
pub const COURT: &str = "深圳市宝安区人民法院";
/// The shared secret of the court's system: at least 16 bytes, as the config demands.
pub const SECRET: &str = "stand-in-court-shared-secret-0123456789";
/// A valid resident ID number (its check character is right).
pub const ID_NUMBER: &str = "11010519491231002X";

/// A phone's signing key: P-256, signatures as WebCrypto gives them (`r || s`).
pub struct Device {
    /// The signer (`PT_…` or `ST_…`).
    pub signer: String,
    /// The key.
    pub key: p256::ecdsa::SigningKey,
}

impl Device {
    fn new(signer: &str) -> Result<Device> {
        let key = p256::ecdsa::SigningKey::from_slice(&rand::random::<[u8; 32]>())
            .context("a random P-256 scalar")?;
        Ok(Device {
            signer: signer.to_owned(),
            key,
        })
    }

    fn public_key(&self) -> Result<String> {
        let spki = self
            .key
            .verifying_key()
            .to_public_key_der()
            .context("SPKI of a device key")?;
        Ok(B64.encode(spki.as_bytes()))
    }

    /// Base64 of the 64-byte `r || s` signature over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: p256::ecdsa::Signature = self.key.sign(payload);
        B64.encode(signature.to_bytes())
    }
}

/// One case whose agreement is in force.
pub struct SeededCase {
    /// The agreement (`AG_…`).
    pub agreement_id: String,
    /// The case (`CA_…`).
    pub case_id: String,
    /// The signers' device keys, the parties first.
    pub devices: Vec<Device>,
}

/// A storage holding agreements in force, ready for `accord serve`.
pub struct Seeded {
    /// The temp directory everything of this world lives in.
    pub root: PathBuf,
    /// The database and folders the deployment's nodes use.
    pub storage: Storage,
    /// The first case.
    pub case: SeededCase,
    /// The cases after the first (see [`seed_cases`]).
    pub more: Vec<SeededCase>,
}

/// Seeds a fresh storage: an organisation whose court is [`COURT`], a mediator `li` and a
/// court user `judge` (password [`PASSWORD`]), and one case with 张三 (applicant) and 李四
/// (respondent), its agreement signed by both and the mediator, then sealed.
pub async fn seed() -> Result<Seeded> {
    seed_cases(1).await
}

/// Like [`seed`], with `cases` such cases (at least one).
pub async fn seed_cases(cases: usize) -> Result<Seeded> {
    let root = accord_tests::fresh_temp_dir("accord-confirmation")?;
    let storage = Storage::create(&root).await?;
    let keys = StoreKeys::load_or_create(storage.keys_dir()).context("store keys")?;
    let store = Store::open(storage.database_url(), keys)
        .await
        .context("opening the store")?;
    let seeded = seed_store(&store, &storage, cases.max(1)).await;
    store.close().await;
    let mut seeded = seeded?.into_iter();
    let case = seeded.next().context("no case was seeded")?;
    Ok(Seeded {
        root,
        storage,
        case,
        more: seeded.collect(),
    })
}

async fn seed_store(store: &Store, storage: &Storage, cases: usize) -> Result<Vec<SeededCase>> {
    let system = Actor::System;
    let org = store
        .create_organisation(
            &system,
            NewOrganisation {
                name: "宝安区新安街道人民调解委员会".into(),
                short_name: "宝安".into(),
                region: "新安街道".into(),
                channel: Channel::Peoples,
                court: Some(COURT.into()),
            },
        )
        .await?;
    let hash = accord_cases::staff_password::hash_password(PASSWORD)?;
    let staff = |username: &str, role, org, court: Option<&str>| NewStaff {
        organisation_id: org,
        username: username.into(),
        display_name: username.into(),
        role,
        court: court.map(str::to_owned),
        password_hash: hash.clone(),
    };
    let mediator = store
        .create_staff(
            &system,
            staff("li", StaffRole::Mediator, Some(org.id.clone()), None),
        )
        .await?;
    store
        .create_staff(&system, staff("judge", StaffRole::Court, None, Some(COURT)))
        .await?;
    // The countersignature is the binary's own platform key, from where it loads it.
    let platform = PlatformKeys::load_or_create(&signing_dir(storage.keys_dir()))
        .map_err(|e| anyhow::anyhow!("platform keys: {e}"))?;
    let mut seeded = Vec::with_capacity(cases);
    for _ in 0..cases {
        seeded.push(seed_case(store, &org, &mediator, &platform).await?);
    }
    Ok(seeded)
}

/// A case of `org` assigned to `mediator`, with its agreement in force.
async fn seed_case(
    store: &Store,
    org: &Organisation,
    mediator: &Staff,
    platform: &PlatformKeys,
) -> Result<SeededCase> {
    let system = Actor::System;
    let case = store
        .create_case(
            &system,
            NewCase {
                organisation_id: org.id.clone(),
                category: Category::Neighbours,
                region: org.region.clone(),
                risk: Risk::Blue,
                title: "楼上漏水纠纷".into(),
                facts: "楼上卫生间漏水，浸泡楼下天花板。".into(),
                claims: "赔偿维修费用3000元。".into(),
                status: CaseStatus::Accepted,
                tracking_code: None,
            },
            None,
        )
        .await?;
    let case = store.assign_case(&system, &case.id, &mediator.id).await?;
    let person = |name: &str, side, phone: &str, id_number: Option<&str>| NewParty {
        side,
        kind: PartyKind::Person,
        name: name.into(),
        phone: Some(phone.into()),
        id_number: id_number.map(str::to_owned),
        represents: None,
        attorney_letter: None,
    };
    let applicant = store
        .add_party(
            &system,
            &case.id,
            person("张三", Side::Applicant, "13800138000", Some(ID_NUMBER)),
        )
        .await?;
    let respondent = store
        .add_party(
            &system,
            &case.id,
            person("李四", Side::Respondent, "13900139000", None),
        )
        .await?;
    let session = store.schedule_session(&system, &case.id, now_ms()).await?;

    let editor = Editor {
        identity: mediator.id.to_string(),
        name: mediator.display_name.clone(),
        role: "mediator".into(),
        actor: Actor::Staff(mediator.id.clone()),
    };
    let clauses = vec![
        (
            ClauseKind::Facts,
            "楼上卫生间漏水，楼下天花板发霉。".to_owned(),
        ),
        (
            ClauseKind::Term,
            "李四于2026年12月31日前赔偿张三维修费3000元。".to_owned(),
        ),
        (
            ClauseKind::Closing,
            "本协议自各方签名并加盖调解委员会印章之日起生效。".to_owned(),
        ),
    ];
    let (draft, update) = Draft::new_from("人民调解协议书", &clauses);
    let agreement = store
        .create_agreement(
            NewAgreement {
                case_id: case.id.clone(),
                locale: "zh-CN".into(),
                template_id: None,
                personal_status: Some(false),
                initial_update: update,
            },
            &editor,
        )
        .await?;
    let parties = vec![
        format!("申请人：{}", applicant.name),
        format!("被申请人：{}", respondent.name),
    ];
    let text = canonical_text(&draft.title(), &parties, &draft.clauses(), "zh-CN");
    store.finalise(&agreement.id, &text, &editor).await?;

    let mut devices = Vec::new();
    for party in [&applicant, &respondent] {
        let signer = SignerRef::Party(party.id.clone());
        let device = Device::new(party.id.as_str())?;
        store
            .record_free_will(
                &mediator.id,
                &agreement.id,
                NewFreeWill {
                    party_id: party.id.clone(),
                    answer: FreeWillAnswer::Yes,
                    note: None,
                    session_id: session.id.clone(),
                    recording_id: None,
                    recording_offset_ms: None,
                },
            )
            .await?;
        let code = store
            .issue_otp(&agreement.id, &party.id, now_ms())
            .await?
            .code;
        let actor = Actor::Party(party.id.clone());
        store
            .check_identity(
                &actor,
                &agreement.id,
                &signer,
                IdentityProof::Otp { code },
                &device.public_key()?,
                now_ms(),
            )
            .await?;
        sign(store, &actor, &agreement.id, &signer, &device).await?;
        devices.push(device);
    }
    let signer = SignerRef::Staff(mediator.id.clone());
    let device = Device::new(mediator.id.as_str())?;
    let actor = Actor::Staff(mediator.id.clone());
    store
        .check_identity(
            &actor,
            &agreement.id,
            &signer,
            IdentityProof::Staff,
            &device.public_key()?,
            now_ms(),
        )
        .await?;
    sign(store, &actor, &agreement.id, &signer, &device).await?;
    devices.push(device);

    store
        .seal(
            &mediator.id,
            &agreement.id,
            |statement| {
                let signature = platform.sign(statement);
                Ok((signature.key_id, signature.signature))
            },
            now_ms(),
        )
        .await?;
    Ok(SeededCase {
        agreement_id: agreement.id.to_string(),
        case_id: case.id.to_string(),
        devices,
    })
}

async fn sign(
    store: &Store,
    actor: &Actor,
    agreement: &accord_cases::AgreementId,
    signer: &SignerRef,
    device: &Device,
) -> Result<()> {
    let payload = store.issue_challenge(agreement, signer, now_ms()).await?;
    let request = SignRequest {
        signature: device.sign(payload.as_bytes()),
        payload,
        public_key: Some(device.public_key()?),
        image_sha256: None,
    };
    store
        .sign(actor, agreement, signer, request, now_ms())
        .await?;
    Ok(())
}
