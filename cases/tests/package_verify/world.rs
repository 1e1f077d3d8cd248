//! The world of the package tests: keys, signatures and every input of a real package.

use accord_cases::agreements::pdf::FontSource;
use accord_cases::agreements::signing::{
    Payload, SealStatement, StatementSignature, seal_sign, signature_sha256,
};
use accord_cases::confirmation::application::{
    ApplicationInput, ApplicationParty, application_pdf, application_text,
};
use accord_cases::confirmation::package::{
    AgreementInput, EvidenceInput, ManifestSignatureFile, ManifestSigner, MediatorInput, NamedFile,
    PackageInputs, PartyInput, RecordingFileRef, RecordingInput, SealInput, SessionRecordInput,
    SignatureInput, key_id_of,
};
use accord_cases::store::agreement_signing_model::{
    IdentityMethod, IdentityView, SealView, SignatureRecord, SignerRole, SignerStatus,
};
use accord_cases::store::model::{
    AuditEntry, Case, CaseStatus, Category, Channel, Evidence, Organisation, Party, PartyKind,
    Risk, SessionEvent, SessionEventKind, Side,
};
use accord_cases::{
    AgreementId, CaseId, ConfirmationRequestId, EvidenceId, OrganisationId, PartyId, RecordingId,
    SessionEventId, SessionId, StaffId,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use sha2::Digest as _;

const CASE: &str = "CA_package0000001";
const EFFECTIVE_AT: i64 = 1_796_530_000_000;
const TEXT: &str =
    "人民调解协议书\n\n第一条 被申请人于2027年1月31日前向申请人支付货款人民币10000元。\n";

pub struct Ed25519Signer(ed25519_dalek::SigningKey);

impl Ed25519Signer {
    pub fn new(seed: u8) -> Self {
        Ed25519Signer(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }
    pub fn public(&self) -> String {
        BASE64.encode(self.0.verifying_key().to_bytes())
    }
}

impl ManifestSigner for Ed25519Signer {
    fn key_id(&self) -> String {
        key_id_of(&self.0.verifying_key().to_bytes())
    }
    fn public_key_b64(&self) -> String {
        self.public()
    }
    fn sign(&self, bytes: &[u8]) -> String {
        BASE64.encode(self.0.sign(bytes).to_bytes())
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn device(seed: u8) -> (p256::ecdsa::SigningKey, String) {
    let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("a P-256 scalar");
    let der = key.verifying_key().to_public_key_der().expect("SPKI");
    (key, BASE64.encode(der.as_bytes()))
}

/// A signed record of `signer` over (`version`, `text_sha256`), with its device key.
fn signed(
    signer: &str,
    name: &str,
    role: SignerRole,
    seed: u8,
    version: i64,
    text_sha256: &str,
) -> SignatureRecord {
    let (key, spki) = device(seed);
    let payload = Payload {
        case: CaseId::new(CASE),
        version,
        text_sha256: text_sha256.to_owned(),
        signer: signer.to_owned(),
        time: EFFECTIVE_AT - 3_600_000 + i64::from(seed),
        nonce: format!("nonce{seed}"),
    }
    .to_json();
    let signature: p256::ecdsa::Signature = key.sign(payload.as_bytes());
    SignatureRecord {
        signer_id: signer.to_owned(),
        name: name.to_owned(),
        role,
        side: None,
        on_behalf_of: None,
        status: SignerStatus::Signed,
        public_key: Some(spki),
        payload: Some(payload),
        signature: Some(BASE64.encode(signature.to_bytes())),
        image_sha256: None,
        declined_reason: None,
        at: EFFECTIVE_AT - 1_800_000 + i64::from(seed),
        identity: Some(IdentityView {
            method: IdentityMethod::Otp,
            at: EFFECTIVE_AT - 3_700_000,
        }),
    }
}

fn party(id: &str, kind: PartyKind, side: Side, name: &str, represents: Option<&str>) -> Party {
    Party {
        id: PartyId::new(id),
        case_id: CaseId::new(CASE),
        side,
        kind,
        name: name.to_owned(),
        phone: Some("138****1234".into()),
        id_number_masked: None,
        represents: represents.map(PartyId::new),
        attorney_letter: represents.map(|_| "blob".to_owned()),
        created_at: 1_796_000_000_000,
    }
}

fn audit_chain() -> Vec<AuditEntry> {
    // seq 7 and 8 are consecutive; 11 follows entries of other cases.
    let mut entries = Vec::new();
    let mut prev = "11".repeat(32);
    for (seq, action) in [
        (7, "case_created"),
        (8, "agreement_sealed"),
        (11, "confirmation_applied"),
    ] {
        if seq == 11 {
            prev = "22".repeat(32);
        }
        let (at, actor, subject, detail) = (
            1_796_000_000_000 + seq,
            "system",
            format!("case:{CASE}"),
            format!("{{\"n\":{seq}}}"),
        );
        let canonical =
            serde_json::json!([seq, at, actor, action, subject, detail, prev]).to_string();
        let hash = sha256(canonical.as_bytes());
        entries.push(AuditEntry {
            seq,
            at,
            actor: actor.into(),
            action: action.into(),
            subject,
            detail,
            prev_hash: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    entries
}

fn recording(platform: &Ed25519Signer) -> RecordingInput {
    let manifest = b"{\n  \"format\": \"accord-recording/1\",\n  \"recording_id\": \"RC_rec0000000000001\"\n}\n".to_vec();
    let signature = serde_json::to_vec_pretty(&ManifestSignatureFile {
        algorithm: "Ed25519".into(),
        key_id: platform.key_id(),
        public_key: platform.public(),
        signature: platform.sign(&manifest),
    })
    .unwrap();
    RecordingInput {
        id: RecordingId::new("RC_rec0000000000001"),
        manifest,
        signature,
        files: vec![RecordingFileRef {
            name: "mix.webm".into(),
            sha256: "cd".repeat(32),
            size: 1234,
        }],
        review_url: "https://accord.example/review/RC_rec0000000000001".into(),
    }
}

/// Everything a real package holds. `outdated` makes the respondent's signature one over
/// the previous version (validly signed, and sealed as it is).
pub fn inputs(outdated: bool, platform: &Ed25519Signer) -> PackageInputs {
    let text_sha256 = sha256(TEXT.as_bytes());
    let mut signatures = vec![
        signed(
            "PT_applicant000001",
            "张三",
            SignerRole::Party,
            1,
            3,
            &text_sha256,
        ),
        signed(
            "PT_agent0000000001",
            "李四",
            SignerRole::Representative,
            2,
            3,
            &text_sha256,
        ),
        signed(
            "ST_mediator0000001",
            "王调解",
            SignerRole::Mediator,
            3,
            3,
            &text_sha256,
        ),
    ];
    if outdated {
        signatures[1] = signed(
            "PT_agent0000000001",
            "李四",
            SignerRole::Representative,
            2,
            2,
            &"ee".repeat(32),
        );
    }
    let organisation_key = Ed25519Signer::new(40);
    let organisation_secret = BASE64.encode([40u8; 32]);
    let platform_secret = BASE64.encode([50u8; 32]);
    assert_eq!(platform.public(), Ed25519Signer::new(50).public());
    let statement = SealStatement {
        agreement: AgreementId::new("AG_agreement000001"),
        case: CaseId::new(CASE),
        version: 3,
        text_sha256: text_sha256.clone(),
        signatures: signatures
            .iter()
            .map(|s| StatementSignature {
                signer: s.signer_id.clone(),
                signature_sha256: signature_sha256(s.signature.as_deref().unwrap()),
                signed_at: s.at,
            })
            .collect(),
        effective_at: EFFECTIVE_AT,
        organisation: OrganisationId::new("OR_org000000000001"),
        key_id: "SK_seal00000000001".into(),
    }
    .bytes();
    let seal = SealView {
        key_id: "SK_seal00000000001".into(),
        sealed_at: EFFECTIVE_AT,
        platform_key_id: platform.key_id(),
        version: 3,
        effective_at: EFFECTIVE_AT,
        seal_signature: seal_sign(&organisation_secret, &statement).unwrap(),
        platform_signature: seal_sign(&platform_secret, &statement).unwrap(),
        statement: String::from_utf8(statement).unwrap(),
        pdf_sha256: None,
    };
    let application = ApplicationInput {
        case_number: "2026-宝安-000042".into(),
        court: "深圳市宝安区人民法院".into(),
        applicants: vec![
            ApplicationParty {
                name: "张三".into(),
                kind: PartyKind::Person,
                id_number: Some("110101199003071234".into()),
                phone: Some("13800001234".into()),
                address: "深圳市宝安区新安街道1号".into(),
                represented_by: None,
                applied_at: EFFECTIVE_AT + 86_400_000,
            },
            ApplicationParty {
                name: "某某贸易有限公司".into(),
                kind: PartyKind::Organisation,
                id_number: Some("91440300MA5XXXXXX1".into()),
                phone: Some("075512345678".into()),
                address: "深圳市南山区科技园2号".into(),
                represented_by: Some("李四".into()),
                applied_at: EFFECTIVE_AT + 2 * 86_400_000,
            },
        ],
        organisation: "宝安区人民调解委员会".into(),
        mediator: "王调解".into(),
        facts: "双方因货款支付发生纠纷。".into(),
        agreement_version: 3,
        agreement_effective_at: EFFECTIVE_AT,
        agreement_text_sha256: text_sha256.clone(),
        date: EFFECTIVE_AT + 2 * 86_400_000,
    };
    let application_pdf = match FontSource::load_default() {
        Ok(font) => application_pdf(&application, &font).expect("the 申请书 PDF"),
        Err(_) => b"%PDF-1.7 (font not installed)".to_vec(),
    };
    let event = |seq: i64, kind: SessionEventKind, name: &str, detail: Option<&str>| SessionEvent {
        id: SessionEventId::new(format!("SV_event{seq:010}")),
        seq,
        session_id: SessionId::new("SE_session00000001"),
        case_id: CaseId::new(CASE),
        at: EFFECTIVE_AT - 7_200_000 + seq * 60_000,
        kind,
        actor_identity: Some("PT_applicant000001".into()),
        actor_name: Some(name.into()),
        actor_role: Some("party".into()),
        subject_identity: None,
        subject_name: None,
        space: Some("joint".into()),
        detail: detail.map(str::to_owned),
    };
    PackageInputs {
        request_id: ConfirmationRequestId::new("CR_request00000001"),
        case: Case {
            id: CaseId::new(CASE),
            number: "2026-宝安-000042".into(),
            organisation_id: OrganisationId::new("OR_org000000000001"),
            mediator_id: Some(StaffId::new("ST_mediator0000001")),
            category: Category::Contract,
            channel: Channel::Peoples,
            region: "宝安".into(),
            risk: Risk::Blue,
            status: CaseStatus::Signed,
            title: "货款纠纷".into(),
            facts: "双方因货款支付发生纠纷。".into(),
            claims: "支付货款".into(),
            tracking_code: None,
            court: None,
            created_at: 1_796_000_000_000,
            updated_at: EFFECTIVE_AT,
        },
        court: "深圳市宝安区人民法院".into(),
        created_at: EFFECTIVE_AT + 2 * 86_400_000,
        agreement: AgreementInput {
            id: AgreementId::new("AG_agreement000001"),
            version: 3,
            text: TEXT.into(),
            text_sha256,
            effective_at: EFFECTIVE_AT,
            pdf: b"%PDF-1.7 agreement".to_vec(),
        },
        signatures: signatures
            .into_iter()
            .enumerate()
            .map(|(n, record)| SignatureInput {
                record,
                drawn_png: (n == 0).then(|| b"\x89PNG\r\n\x1a\nsignature".to_vec()),
                free_will: None,
            })
            .collect(),
        seal: SealInput {
            seal,
            public_key: organisation_key.public(),
            platform_public_key: platform.public(),
        },
        parties: vec![
            PartyInput {
                party: party(
                    "PT_applicant000001",
                    PartyKind::Person,
                    Side::Applicant,
                    "张三",
                    None,
                ),
                id_number: Some("110101199003071234".into()),
                phone: Some("13800001234".into()),
                address: Some("深圳市宝安区新安街道1号".into()),
                attorney_letter: None,
                identity_files: vec![NamedFile {
                    name: "身份证.jpg".into(),
                    bytes: b"\xff\xd8\xffidentity".to_vec(),
                }],
            },
            PartyInput {
                party: party(
                    "PT_company00000001",
                    PartyKind::Organisation,
                    Side::Respondent,
                    "某某贸易有限公司",
                    None,
                ),
                id_number: Some("91440300MA5XXXXXX1".into()),
                phone: Some("075512345678".into()),
                address: Some("深圳市南山区科技园2号".into()),
                attorney_letter: None,
                identity_files: Vec::new(),
            },
            PartyInput {
                party: party(
                    "PT_agent0000000001",
                    PartyKind::Representative,
                    Side::Respondent,
                    "李四",
                    Some("PT_company00000001"),
                ),
                id_number: Some("440301198805051234".into()),
                phone: Some("13900005678".into()),
                address: None,
                attorney_letter: Some(NamedFile {
                    name: "授权委托书.pdf".into(),
                    bytes: b"%PDF-1.7 power of attorney".to_vec(),
                }),
                identity_files: Vec::new(),
            },
        ],
        organisation: Organisation {
            id: OrganisationId::new("OR_org000000000001"),
            name: "宝安区人民调解委员会".into(),
            short_name: "宝安".into(),
            region: "宝安".into(),
            channel: Channel::Peoples,
            court: Some("深圳市宝安区人民法院".into()),
            created_at: 1_790_000_000_000,
            record_private_rooms: false,
            recording_retention_days: None,
        },
        mediator: MediatorInput {
            id: StaffId::new("ST_mediator0000001"),
            name: "王调解".into(),
        },
        seal_public_keys: vec![organisation_key.public()],
        evidence: vec![EvidenceInput {
            evidence: Evidence {
                id: EvidenceId::new("EV_evidence0000001"),
                case_id: CaseId::new(CASE),
                party_id: Some(PartyId::new("PT_applicant000001")),
                sha256: sha256(b"%PDF-1.7 invoice"),
                media_type: "application/pdf".into(),
                size: 16,
                file_name: "发票.pdf".into(),
                uploaded_by: "party:PT_applicant000001".into(),
                created_at: 1_796_100_000_000,
            },
            bytes: b"%PDF-1.7 invoice".to_vec(),
        }],
        recordings: vec![recording(platform)],
        records: vec![SessionRecordInput {
            session_id: SessionId::new("SE_session00000001"),
            events: vec![
                event(1, SessionEventKind::Joined, "张三", None),
                event(2, SessionEventKind::Consent, "张三", Some("v1")),
            ],
        }],
        audit: audit_chain(),
        application_text: application_text(&application),
        application_pdf,
    }
}
