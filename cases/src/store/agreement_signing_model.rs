//! The records of signing an agreement: who signs, how their identity was checked, their
//! free-will answer, their signature or refusal, and the organisation's seal. Serialised with
//! the names of the Agreement JSON the API returns.

use serde::{Deserialize, Serialize, Serializer};

use super::model::{Side, text_enum};
use crate::error::{Error, Result};
use crate::ids::{CaseId, OrganisationId, PartyId, RecordingId, SessionId, StaffId};

/// Who signs: a party (or a representative, also a party record) or the case's mediator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SignerRef {
    /// `PT_…`.
    Party(PartyId),
    /// `ST_…`.
    Staff(StaffId),
}

impl SignerRef {
    /// Reads `PT_…` or `ST_…`.
    pub fn parse(text: &str) -> Result<SignerRef> {
        if text.starts_with("PT_") {
            Ok(SignerRef::Party(PartyId::new(text)))
        } else if text.starts_with("ST_") {
            Ok(SignerRef::Staff(StaffId::new(text)))
        } else {
            Err(Error::field(
                "signer_id",
                "must be a party (PT_…) or staff (ST_…) id",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            SignerRef::Party(id) => id.as_str(),
            SignerRef::Staff(id) => id.as_str(),
        }
    }
}

impl Serialize for SignerRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

text_enum!(
    /// In what capacity someone signs.
    SignerRole {
        /// A party (person or organisation) for themselves.
        Party = "party",
        /// 代理人: for the party they represent, with a power of attorney.
        Representative = "representative",
        /// The case's mediator.
        Mediator = "mediator",
    }
);

text_enum!(
    /// Where a signer stands on the current version.
    SignerStatus {
        /// Has neither signed nor declined.
        Pending = "pending",
        /// Signed.
        Signed = "signed",
        /// Refused to sign.
        Declined = "declined",
    }
);

text_enum!(
    /// How a signer's identity was checked before their key was registered.
    IdentityMethod {
        /// A one-time code sent to the phone on record.
        Otp = "otp",
        /// The mediator confirmed them on camera.
        Attestation = "attestation",
        /// The mediator, by their own staff login.
        Staff = "staff",
    }
);

text_enum!(
    /// The answer to "do you sign this of your own free will?".
    FreeWillAnswer {
        /// Yes.
        Yes = "yes",
        /// No.
        No = "no",
    }
);

/// When and how a signer's identity was checked for the current version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityView {
    /// How.
    pub method: IdentityMethod,
    /// Unix ms.
    pub at: i64,
}

/// A party's free-will answer for the current version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FreeWillView {
    /// Their answer.
    pub answer: FreeWillAnswer,
    /// Unix ms.
    pub at: i64,
    /// The session's recording when it ran.
    pub recording_id: Option<RecordingId>,
    /// Where in that recording the answer was given.
    pub recording_offset_ms: Option<i64>,
}

/// One entry of the Agreement JSON's `signers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignerView {
    /// `PT_…` or `ST_…`.
    pub signer_id: String,
    /// Their name.
    pub name: String,
    /// In what capacity.
    pub role: SignerRole,
    /// Their side; none for the mediator.
    pub side: Option<Side>,
    /// For a representative: the party they sign for.
    pub represents: Option<PartyId>,
    /// For a representative: that party's name.
    pub represents_name: Option<String>,
    /// Whether the seal waits for this signer (a represented party is required; their
    /// representative's signature counts for them).
    pub required: bool,
    /// Whether they may sign now.
    pub may_sign: bool,
    /// Why not: `not_e_signable`, `attorney_letter_missing`.
    pub cannot_sign_reason: Option<&'static str>,
    /// Where they stand on the current version.
    pub status: SignerStatus,
    /// When they (or their representative) signed.
    pub signed_at: Option<i64>,
    /// What they said when declining.
    pub declined_reason: Option<String>,
    /// Their identity check for the current version.
    pub identity: Option<IdentityView>,
    /// Their free-will answer for the current version.
    pub free_will: Option<FreeWillView>,
    /// When the mediator attested them on camera for the current version.
    pub attested_at: Option<i64>,
}

/// Whether a case's agreement may be signed electronically.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ESignable {
    /// Whether it may.
    pub e_signable: bool,
    /// Why not, for people.
    pub reason: Option<&'static str>,
}

/// A one-time code to send. `phone` is in clear for the gateway only: never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedOtp {
    /// The 6 digits.
    pub code: String,
    /// The phone on record.
    pub phone: String,
    /// The phone as it may be shown: `138****1234`.
    pub sent_to: String,
    /// Unix ms.
    pub expires_at: i64,
}

impl std::fmt::Debug for IssuedOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedOtp")
            .field("sent_to", &self.sent_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How a signer proves who they are before their device key is registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityProof {
    /// The one-time code sent to their phone.
    Otp {
        /// The 6 digits they typed.
        code: String,
    },
    /// The mediator attested them on camera in this version's session.
    Attestation,
    /// The mediator signs with their own staff login.
    Staff,
}

/// A party's free-will answer, as the mediator records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFreeWill {
    /// The party (or representative) asked.
    pub party_id: PartyId,
    /// Their answer.
    pub answer: FreeWillAnswer,
    /// The mediator's note.
    pub note: Option<String>,
    /// The live session it was asked in.
    pub session_id: SessionId,
    /// The session's recording, when it runs.
    pub recording_id: Option<RecordingId>,
    /// Milliseconds into that recording.
    pub recording_offset_ms: Option<i64>,
}

/// A signature as the phone sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// The challenge payload, exactly as issued.
    pub payload: String,
    /// Base64 of the 64-byte `r||s`.
    pub signature: String,
    /// The SPKI key the device says it signed with, base64; when given it must be the one
    /// registered.
    pub public_key: Option<String>,
    /// SHA-256 of the handwritten-signature image stored in the blob store.
    pub image_sha256: Option<String>,
}

/// An agreement's seal, for the Agreement JSON's `seal` (the first three fields) and the PDF.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SealView {
    /// The organisation seal key's id.
    pub key_id: String,
    /// Unix ms.
    pub sealed_at: i64,
    /// The platform key that countersigned.
    pub platform_key_id: String,
    /// The version sealed.
    #[serde(skip)]
    pub version: i64,
    /// From when it is in force (the moment of sealing), Unix ms.
    #[serde(skip)]
    pub effective_at: i64,
    /// The organisation's Ed25519 signature over `statement`, base64.
    #[serde(skip)]
    pub seal_signature: String,
    /// The platform's signature over `statement`, base64.
    #[serde(skip)]
    pub platform_signature: String,
    /// The bytes both signed ([`crate::agreements::signing::SealStatement`]).
    #[serde(skip)]
    pub statement: String,
    /// SHA-256 of the PDF, once made.
    #[serde(skip)]
    pub pdf_sha256: Option<String>,
}

/// What sealing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealOutcome {
    /// The case, now `signed`.
    pub case_id: CaseId,
    /// The version now in force.
    pub version: i64,
    /// Its canonical text's SHA-256.
    pub text_sha256: String,
    /// The seal key's id.
    pub key_id: String,
    /// The bytes signed.
    pub statement: String,
    /// The organisation's signature, base64.
    pub seal_signature: String,
    /// The platform key's id.
    pub platform_key_id: String,
    /// The platform's signature, base64.
    pub platform_signature: String,
    /// Unix ms.
    pub effective_at: i64,
}

/// An organisation's seal key, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SealKey {
    /// `SK_…`.
    pub id: String,
    /// Whose.
    pub organisation_id: OrganisationId,
    /// Ed25519, base64 of 32 bytes.
    pub public_key: String,
    /// Unix ms.
    pub created_at: i64,
    /// When it was replaced; seals made before stay valid under it.
    pub retired_at: Option<i64>,
}

/// What the public verification page shows of an agreement found by its text's hash:
/// never the text or anyone's full name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicStatus {
    /// The agreement, for the edge to look up its confirmation; never shown.
    #[serde(skip)]
    pub agreement_id: crate::AgreementId,
    /// The hash is that of a version we froze.
    pub genuine: bool,
    /// `final`, `superseded` or `in_force`.
    pub status: String,
    /// When it came into force.
    pub effective_at: Option<i64>,
    /// The organisation's name.
    pub organisation: String,
    /// Who signed, masked.
    pub signers: Vec<PublicSigner>,
}

/// A signer on the public page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicSigner {
    /// `张*`, `J*** Smith`.
    pub name_masked: String,
    /// In what capacity.
    pub role: SignerRole,
    /// Unix ms.
    pub signed_at: i64,
}

/// One signature or refusal of a version, in full, for the PDF and the confirmation package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureRecord {
    /// `PT_…` or `ST_…`.
    pub signer_id: String,
    /// Their name.
    pub name: String,
    /// In what capacity.
    pub role: SignerRole,
    /// Their side; none for the mediator.
    pub side: Option<Side>,
    /// For a representative: the party signed for.
    pub on_behalf_of: Option<PartyId>,
    /// Signed or declined.
    pub status: SignerStatus,
    /// The registered device key, SPKI base64 (signed only).
    pub public_key: Option<String>,
    /// The payload signed (signed only).
    pub payload: Option<String>,
    /// The signature, base64 P1363 (signed only).
    pub signature: Option<String>,
    /// SHA-256 of the handwritten image in the blob store.
    pub image_sha256: Option<String>,
    /// Why they declined.
    pub declined_reason: Option<String>,
    /// Unix ms.
    pub at: i64,
    /// How their identity was checked.
    pub identity: Option<IdentityView>,
}

impl<'de> Deserialize<'de> for SignerRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SignerRef::parse(&text).map_err(serde::de::Error::custom)
    }
}
