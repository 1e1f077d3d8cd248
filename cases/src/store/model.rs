//! The records of the case side (see `../shared/DOMAIN.md` in the project brief): what the
//! store keeps and what the API returns.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{
    CaseId, ConsentId, EvidenceId, IdentityProofId, InviteId, OrganisationId, PartyId,
    SessionEventId, SessionId, StaffId,
};

/// Names an enum's variants once for the database, the API and parsing back.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a stored name; anything else is data we did not write.
            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::Internal(format!(
                        "unknown {} `{other}` in the database",
                        stringify!($name)
                    ))),
                }
            }
        }
    };
}

pub(crate) use text_enum;

pub use super::recording_model::{
    IntegrityProblem, IntegrityState, LEGACY_NODE, NewRecording, Recording, RecordingFile,
    RecordingFileKind, RecordingPause, RecordingPolicy, RecordingSegment, RecordingStatus,
};
pub use super::vocabulary::{AuditAction, SessionEventKind};

text_enum!(
    /// The three mediation channels of 三调联动.
    Channel {
        /// 人民调解.
        Peoples = "peoples",
        /// 行政调解.
        Administrative = "administrative",
        /// 司法调解 (court-annexed).
        CourtAnnexed = "court_annexed",
    }
);

text_enum!(
    /// What a staff account may do.
    StaffRole {
        /// Manages organisations, staff and settings.
        Administrator = "administrator",
        /// Hosts sessions and runs the cases of their organisation.
        Mediator = "mediator",
        /// A court clerk or judge: sees what was sent to their court.
        Court = "court",
    }
);

text_enum!(
    /// 纠纷类别.
    Category {
        /// 家事.
        Family = "family",
        /// 邻里.
        Neighbours = "neighbours",
        /// 劳动.
        Labour = "labour",
        /// 物业.
        Property = "property",
        /// 消费.
        Consumer = "consumer",
        /// 交通.
        Traffic = "traffic",
        /// 医疗.
        Medical = "medical",
        /// 合同.
        Contract = "contract",
        /// 其他.
        Other = "other",
    }
);

text_enum!(
    /// 风险等级.
    Risk {
        /// 红: may escalate; handled first.
        Red = "red",
        /// 黄.
        Yellow = "yellow",
        /// 蓝: ordinary.
        Blue = "blue",
    }
);

text_enum!(
    /// Where a case is in its life (DOMAIN.md, "A case's life").
    CaseStatus {
        /// 自主申报 / 登记: applied for, not yet looked at.
        Intake = "intake",
        /// 受理.
        Accepted = "accepted",
        /// 分派: an organisation and a mediator have it.
        Assigned = "assigned",
        /// 调解: sessions are being held.
        InMediation = "in_mediation",
        /// 达成协议.
        AgreementReached = "agreement_reached",
        /// 调解不成.
        Failed = "failed",
        /// 签署: everyone signed; the agreement is in effect.
        Signed = "signed",
        /// 申请司法确认.
        ConfirmationRequested = "confirmation_requested",
        /// 确认有效.
        Confirmed = "confirmed",
        /// 驳回.
        Rejected = "rejected",
        /// 回访.
        FollowUp = "follow_up",
        /// 结案.
        Closed = "closed",
        /// 不予受理: an intake that is not taken up.
        Declined = "declined",
    }
);

impl CaseStatus {
    /// The statuses a case may move to from this one.
    pub fn next(self) -> &'static [CaseStatus] {
        use CaseStatus::*;
        match self {
            Intake => &[Accepted, Declined],
            Accepted => &[Assigned, Closed],
            Assigned => &[InMediation, Closed],
            InMediation => &[AgreementReached, Failed],
            AgreementReached => &[Signed, InMediation, Failed],
            Failed => &[Closed],
            Signed => &[ConfirmationRequested, FollowUp, Closed],
            ConfirmationRequested => &[Confirmed, Rejected],
            Confirmed => &[FollowUp, Closed],
            // After a rejection the parties may amend the agreement (back to mediation) or sue.
            Rejected => &[InMediation, Closed],
            FollowUp => &[Closed],
            Closed | Declined => &[],
        }
    }

    /// Whether `to` may follow this status.
    pub fn may_become(self, to: CaseStatus) -> bool {
        self.next().contains(&to)
    }
}

text_enum!(
    /// Which side of the dispute a party is on.
    Side {
        /// 申请人.
        Applicant = "applicant",
        /// 被申请人.
        Respondent = "respondent",
    }
);

text_enum!(
    /// Who a party (or their helper) is.
    PartyKind {
        /// A natural person.
        Person = "person",
        /// A company or other organisation.
        Organisation = "organisation",
        /// 代理人: acts for the party in `represents`, with a power of attorney.
        Representative = "representative",
        /// 翻译 (方言): follows the party in `represents`.
        Interpreter = "interpreter",
        /// 专家.
        Expert = "expert",
    }
);

text_enum!(
    /// A session's state.
    SessionStatus {
        /// Planned.
        Scheduled = "scheduled",
        /// Under way.
        Live = "live",
        /// Over.
        Ended = "ended",
        /// Called off.
        Cancelled = "cancelled",
    }
);

/// A mediation organisation (调委会 or a court's mediation office).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organisation {
    /// `OR_…`.
    pub id: OrganisationId,
    /// Full name, e.g. 宝安区新安街道人民调解委员会.
    pub name: String,
    /// Used in case numbers, e.g. 宝安.
    pub short_name: String,
    /// The street or community it serves; intakes from there come to it.
    pub region: String,
    /// Its channel.
    pub channel: Channel,
    /// The basic-level court its agreements go to for confirmation.
    pub court: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Whether its private (背对背) rooms are recorded; when not, the recorder gets nothing
    /// from them.
    pub record_private_rooms: bool,
    /// Days a recording is kept after it ends, unless held or sent to a court; `None`
    /// keeps recordings until deleted by hand.
    pub recording_retention_days: Option<u32>,
}

/// A new organisation.
#[derive(Clone, Debug, Deserialize)]
pub struct NewOrganisation {
    /// See [`Organisation::name`].
    pub name: String,
    /// See [`Organisation::short_name`].
    pub short_name: String,
    /// See [`Organisation::region`].
    pub region: String,
    /// See [`Organisation::channel`].
    pub channel: Channel,
    /// See [`Organisation::court`].
    #[serde(default)]
    pub court: Option<String>,
}

/// A staff account. The password hash never leaves the store's callers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Staff {
    /// `ST_…`.
    pub id: StaffId,
    /// Their organisation (none for a court user or the first administrator).
    pub organisation_id: Option<OrganisationId>,
    /// Login name.
    pub username: String,
    /// Shown on screens and in the audit trail.
    pub display_name: String,
    /// What they may do.
    pub role: StaffRole,
    /// For court users: the court whose inbox they see.
    pub court: Option<String>,
    /// argon2 PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// Set when the account was switched off.
    pub disabled_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Join tokens issued before this (Unix milliseconds) no longer admit: moved forward when
    /// the account is disabled, its password changes or a stolen refresh token is detected.
    #[serde(skip)]
    pub tokens_valid_from: i64,
}

/// A new staff account.
#[derive(Clone, Debug)]
pub struct NewStaff {
    /// See [`Staff::organisation_id`].
    pub organisation_id: Option<OrganisationId>,
    /// See [`Staff::username`].
    pub username: String,
    /// See [`Staff::display_name`].
    pub display_name: String,
    /// See [`Staff::role`].
    pub role: StaffRole,
    /// See [`Staff::court`].
    pub court: Option<String>,
    /// An argon2 PHC string, hashed by the caller.
    pub password_hash: String,
}

/// A case record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Case {
    /// `CA_…`.
    pub id: CaseId,
    /// `2026-宝安-000123`: year, the organisation's short name, a yearly sequence.
    pub number: String,
    /// The organisation that has it.
    pub organisation_id: OrganisationId,
    /// Its mediator, once assigned.
    pub mediator_id: Option<StaffId>,
    /// What the dispute is about.
    pub category: Category,
    /// Its channel.
    pub channel: Channel,
    /// Street or community.
    pub region: String,
    /// Risk level.
    pub risk: Risk,
    /// Where it is in its life.
    pub status: CaseStatus,
    /// One line, e.g. 楼上漏水纠纷.
    pub title: String,
    /// What happened, in the applicant's words.
    pub facts: String,
    /// What the applicant asks for.
    pub claims: String,
    /// For online intakes: the code the applicant follows progress with.
    pub tracking_code: Option<String>,
    /// The court a confirmation request went to.
    pub court: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A new case, entered by staff or through online intake.
#[derive(Clone, Debug, Serialize)]
pub struct NewCase {
    /// The organisation that takes it.
    pub organisation_id: OrganisationId,
    /// What the dispute is about.
    pub category: Category,
    /// Street or community.
    pub region: String,
    /// Risk level.
    pub risk: Risk,
    /// One line.
    pub title: String,
    /// What happened.
    pub facts: String,
    /// What is asked for.
    pub claims: String,
    /// `Intake` for online applications, `Accepted` for cases staff register.
    pub status: CaseStatus,
    /// Given to the applicant of an online intake.
    pub tracking_code: Option<String>,
}

/// One person or organisation in a case, or someone who helps one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Party {
    /// `PT_…`.
    pub id: PartyId,
    /// Their case.
    pub case_id: CaseId,
    /// Their side (a representative takes the side of the party they act for).
    pub side: Side,
    /// Who they are.
    pub kind: PartyKind,
    /// Name.
    pub name: String,
    /// Phone on record (invites and identity checks go there).
    pub phone: Option<String>,
    /// The ID number with all but its first 3 and last 4 characters hidden.
    pub id_number_masked: Option<String>,
    /// For representatives, interpreters and experts: the party they act for.
    pub represents: Option<PartyId>,
    /// SHA-256 of the power-of-attorney file in the blob store.
    pub attorney_letter: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A new party.
#[derive(Clone, Debug, Serialize)]
pub struct NewParty {
    /// See [`Party::side`].
    pub side: Side,
    /// See [`Party::kind`].
    pub kind: PartyKind,
    /// See [`Party::name`].
    pub name: String,
    /// See [`Party::phone`].
    pub phone: Option<String>,
    /// In clear; the store seals it.
    pub id_number: Option<String>,
    /// See [`Party::represents`].
    pub represents: Option<PartyId>,
    /// See [`Party::attorney_letter`].
    pub attorney_letter: Option<String>,
}

/// A scheduled video session of a case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    /// `SE_…`.
    pub id: SessionId,
    /// Its case.
    pub case_id: CaseId,
    /// The media room it is held in.
    pub room: String,
    /// Unix milliseconds.
    pub scheduled_at: i64,
    /// Its state.
    pub status: SessionStatus,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An evidence file's record; the bytes are in the blob store under `sha256`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    /// `EV_…`.
    pub id: EvidenceId,
    /// Its case.
    pub case_id: CaseId,
    /// The party who brought it, if one did.
    pub party_id: Option<PartyId>,
    /// Content hash, hex.
    pub sha256: String,
    /// `image/jpeg`, `image/png`, `application/pdf`, …
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// As uploaded.
    pub file_name: String,
    /// Who uploaded it (a staff id or `party:PT_…`).
    pub uploaded_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

text_enum!(
    /// What a proof of identity shows.
    PartyIdentityProofKind {
        /// 居民身份证人像面: the side with the photo, name and ID number.
        IdCardFront = "id_card_front",
        /// 居民身份证国徽面: the side with the issuing office and validity.
        IdCardBack = "id_card_back",
        /// Anything else that proves who they are: a passport, a residence permit, a
        /// business licence with the legal representative's certificate.
        Other = "other",
    }
);

/// Most proofs of identity a party keeps: both sides of an ID card and two more documents.
pub const MAX_IDENTITY_PROOFS: usize = 4;

/// A party's proof of identity (身份证明) for the confirmation package. The file is sealed
/// with the PII key in the blob store under `sealed_blob`; `sha256` and `size` are the clear
/// file's, as the court receives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartyIdentityProof {
    /// `IP_…`.
    pub id: IdentityProofId,
    /// Its case.
    pub case_id: CaseId,
    /// Whose identity it proves.
    pub party_id: PartyId,
    /// What it shows.
    pub kind: PartyIdentityProofKind,
    /// `image/jpeg`, `image/png` or `application/pdf`.
    pub media_type: String,
    /// Bytes of the clear file.
    pub size: i64,
    /// SHA-256 of the clear file, hex.
    pub sha256: String,
    /// SHA-256 of the sealed blob: where the bytes are, never shown.
    #[serde(skip)]
    pub sealed_blob: String,
    /// Who uploaded it (an actor label).
    pub uploaded_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A proof of identity whose sealed blob is stored, to be recorded.
#[derive(Clone, Debug)]
pub struct NewPartyIdentityProof {
    /// See [`PartyIdentityProof::case_id`].
    pub case_id: CaseId,
    /// See [`PartyIdentityProof::party_id`].
    pub party_id: PartyId,
    /// See [`PartyIdentityProof::kind`].
    pub kind: PartyIdentityProofKind,
    /// See [`PartyIdentityProof::media_type`].
    pub media_type: String,
    /// See [`PartyIdentityProof::size`].
    pub size: i64,
    /// See [`PartyIdentityProof::sha256`].
    pub sha256: String,
    /// See [`PartyIdentityProof::sealed_blob`].
    pub sealed_blob: String,
}

/// Who did something, for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A staff account.
    Staff(StaffId),
    /// A party (by party id), e.g. uploading evidence.
    Party(PartyId),
    /// A resident applying online (not yet a party).
    Applicant,
    /// The server itself (first-run setup, demo data, timers).
    System,
    /// A court's own system, by the court's name: its signed status callbacks on a
    /// confirmation request.
    CourtSystem(String),
}

impl Actor {
    /// As written in the audit trail.
    pub fn label(&self) -> String {
        match self {
            Actor::Staff(id) => format!("staff:{id}"),
            Actor::Party(id) => format!("party:{id}"),
            Actor::Applicant => "applicant".into(),
            Actor::System => "system".into(),
            Actor::CourtSystem(court) => format!("court_system:{court}"),
        }
    }
}

/// One entry of the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// [`Actor::label`].
    pub actor: String,
    /// What happened, e.g. `case.created`.
    pub action: String,
    /// What it happened to, e.g. `case:CA_…`.
    pub subject: String,
    /// Details as JSON text (never personal data in clear).
    pub detail: String,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over this entry and `prev_hash`, hex.
    pub hash: String,
}

/// A page of results and where the next one starts.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// Which cases to list.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// Only this organisation's.
    pub organisation_id: Option<OrganisationId>,
    /// Only those sent to this court.
    pub court: Option<String>,
    /// Only in this status.
    pub status: Option<CaseStatus>,
    /// Only of this category.
    pub category: Option<Category>,
    /// Created at or after (Unix ms).
    pub created_from: Option<i64>,
    /// Created before (Unix ms).
    pub created_to: Option<i64>,
    /// Matches the case number or a party's name (substring).
    pub search: Option<String>,
    /// At most this many (1–100).
    pub limit: u32,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// An invite of one person to one session. Its link's join token is derived from this row
/// and the server's secret; the row decides whether the link still admits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Invite {
    /// `IN_…`, the token's `inv` claim.
    pub id: InviteId,
    /// The session it admits to.
    pub session_id: SessionId,
    /// That session's case.
    pub case_id: CaseId,
    /// The person invited.
    pub party_id: PartyId,
    /// Seconds since the epoch: the token's `iat`.
    pub issued_at: i64,
    /// Seconds since the epoch: the token's `exp`.
    pub expires_at: i64,
    /// Unix milliseconds, once revoked.
    pub revoked_at: Option<i64>,
    /// Who made it ([`Actor::label`]).
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl Invite {
    /// Whether its link still admits at `now_seconds`.
    pub fn is_active(&self, now_seconds: i64) -> bool {
        self.revoked_at.is_none() && now_seconds < self.expires_at
    }
}

/// One entry of a session's record (笔录): who did what, to whom, where, when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionEvent {
    /// `SV_…`.
    pub id: SessionEventId,
    /// Position in the record.
    pub seq: i64,
    /// The session.
    pub session_id: SessionId,
    /// Its case.
    pub case_id: CaseId,
    /// Unix milliseconds.
    pub at: i64,
    /// What happened.
    pub kind: SessionEventKind,
    /// Who did it (a party id, staff id or tool identity).
    pub actor_identity: Option<String>,
    /// Their name then.
    pub actor_name: Option<String>,
    /// Their role in the room.
    pub actor_role: Option<String>,
    /// Who it was done to, if someone else.
    pub subject_identity: Option<String>,
    /// Their name then.
    pub subject_name: Option<String>,
    /// The space it happened in (`joint`, `applicant`, `respondent`).
    pub space: Option<String>,
    /// Chat text, a reason, the space moved to, an evidence id.
    pub detail: Option<String>,
}

/// A party's consent to online mediation and recording (在线调解规则 第四条).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Consent {
    /// `CO_…`.
    pub id: ConsentId,
    /// The case.
    pub case_id: CaseId,
    /// The party.
    pub party_id: PartyId,
    /// The session it was given before, if any.
    pub session_id: Option<SessionId>,
    /// The text agreed to.
    pub version: String,
    /// Unix milliseconds.
    pub created_at: i64,
}
