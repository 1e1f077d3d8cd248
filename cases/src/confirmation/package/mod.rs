//! The confirmation package: one ZIP with everything 法释〔2011〕5号 第三条 asks the court for,
//! signed so that anyone can check it offline (`accord verify PACKAGE.zip`, or the browser
//! page that runs the same checks).
//!
//! [`build`] writes it from [`PackageInputs`] the edge has read (no database, no network
//! here); [`verify()`] checks one and says what is wrong in a [`Report`]. The layout, the
//! manifest and the problem codes are the contract in the project brief ("The package");
//! the TypeScript verifier (`web-client/src/verify/package.ts`) follows the same rules:
//!
//! - `manifest.json` lists every other file with its SHA-256 and size; `manifest.sig.json`
//!   holds the platform's Ed25519 signature over the exact bytes of `manifest.json`, with
//!   the public key and its id (the first 16 hex digits of the key's SHA-256, as the
//!   recordings' keys are named).
//! - Each signer's folder `signatures/<NN>-<signer>/` keeps the exact payload string the
//!   phone signed and the ECDSA P-256 signature (WebCrypto `r||s`) with the signer's SPKI key.
//! - `seal/statement.json` is the exact statement the organisation's seal key signed and
//!   the platform countersigned; `seal/seal.json` holds both signatures and keys.
//! - `audit/audit.json` is the case's entries of the platform's audit chain. The chain is
//!   global, so a case's entries are not all consecutive: each entry's hash must recompute,
//!   and where two entries are consecutive (`seq` and `seq + 1`) the second's `prev_hash`
//!   must be the first's hash.
//! - A recording's `manifest.json` is signed by the platform in `manifest.sig` (Ed25519 over
//!   the manifest's exact bytes; the file is JSON `{key_id, algorithm, public_key,
//!   signature}`, the key id being the first 16 hex digits of the public key's SHA-256).
//!
//! Files are written in a fixed order with fixed timestamps (2000-01-01 00:00), so the
//! same inputs give the same bytes.

mod build;
mod index;
mod report;
mod verify;

pub use build::build;
pub use index::{IndexItem, IndexRow, index_rows, index_text};
pub use report::{Check, Lang, Problem, ProblemCode, Report};
pub use verify::{looks_like_package, verify};

use serde::{Deserialize, Serialize};

use crate::ids::{AgreementId, ConfirmationRequestId, RecordingId, SessionId, StaffId};
use crate::store::agreement_signing_model::{FreeWillView, SealView, SignatureRecord};
use crate::store::model::{AuditEntry, Case, Evidence, Organisation, Party, SessionEvent};

/// The `format` of a package's manifest.
pub const FORMAT: &str = "accord-confirmation-package/1";
/// The manifest's name in the ZIP.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's signature's name in the ZIP.
pub const MANIFEST_SIGNATURE: &str = "manifest.sig.json";
/// The Chinese index's name in the ZIP.
pub const INDEX_TEXT: &str = "index.zh.txt";
/// A recording manifest's signature file, as the recording keeps it.
pub const RECORDING_SIGNATURE: &str = "manifest.sig";

/// Signs the manifest: the edge implements it over the platform's Ed25519 key (the one
/// that signs recording manifests), which this crate cannot reach.
pub trait ManifestSigner {
    /// The key's id: the first 16 hex digits of the SHA-256 of its public key.
    fn key_id(&self) -> String;
    /// The 32-byte Ed25519 public key, base64.
    fn public_key_b64(&self) -> String;
    /// The 64-byte Ed25519 signature of `bytes`, base64.
    fn sign(&self, bytes: &[u8]) -> String;
}

/// A file to include under a name of its own (an identity scan, a power of attorney).
#[derive(Clone, PartialEq, Eq)]
pub struct NamedFile {
    /// Its file name (cleaned by the caller; folders are stripped here again).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for NamedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedFile")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The agreement as sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreementInput {
    /// `AG_…`.
    pub id: AgreementId,
    /// The sealed version.
    pub version: i64,
    /// The canonical text, byte for byte as hashed.
    pub text: String,
    /// SHA-256 of `text`, lowercase hex (as stored; the verifier recomputes it).
    pub text_sha256: String,
    /// When it came into force, Unix ms.
    pub effective_at: i64,
    /// The agreement PDF.
    pub pdf: Vec<u8>,
}

/// One signature of the sealed version, with what the package shows beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInput {
    /// The record (only `signed` ones are packaged).
    pub record: SignatureRecord,
    /// The handwritten signature as PNG, when there is one.
    pub drawn_png: Option<Vec<u8>>,
    /// Their free-will answer, for a party.
    pub free_will: Option<FreeWillView>,
}

/// The seal as stored, with the keys that check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealInput {
    /// The seal (its `statement` is the exact bytes both keys signed).
    pub seal: SealView,
    /// The organisation's seal key, Ed25519 base64.
    pub public_key: String,
    /// The platform key that countersigned, Ed25519 base64.
    pub platform_public_key: String,
}

/// A party with what only the court may see.
#[derive(Clone, PartialEq)]
pub struct PartyInput {
    /// The party record.
    pub party: Party,
    /// Full ID number (unsealed by the edge).
    pub id_number: Option<String>,
    /// Full phone.
    pub phone: Option<String>,
    /// 送达地址 from their application.
    pub address: Option<String>,
    /// Their power of attorney, for a representative.
    pub attorney_letter: Option<NamedFile>,
    /// Scans of their identity document.
    pub identity_files: Vec<NamedFile>,
}

impl std::fmt::Debug for PartyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyInput")
            .field("party", &self.party.id)
            .finish_non_exhaustive()
    }
}

/// The mediator who presided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediatorInput {
    /// `ST_…`.
    pub id: StaffId,
    /// Their display name.
    pub name: String,
}

/// One evidence file with its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceInput {
    /// The record.
    pub evidence: Evidence,
    /// The file.
    pub bytes: Vec<u8>,
}

/// A file of a recording as its manifest lists it (the media stay with the platform; the
/// court reviews them at `review_url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFileRef {
    /// The file's name in the recording's folder.
    pub name: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// A recording's signed manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingInput {
    /// `RC_…`.
    pub id: RecordingId,
    /// `manifest.json`'s exact bytes.
    pub manifest: Vec<u8>,
    /// `manifest.sig`'s exact bytes.
    pub signature: Vec<u8>,
    /// The files it lists.
    pub files: Vec<RecordingFileRef>,
    /// Where a court user reviews it.
    pub review_url: String,
}

/// A session's record (笔录).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecordInput {
    /// `SE_…`.
    pub session_id: SessionId,
    /// Its entries in order.
    pub events: Vec<SessionEvent>,
}

/// Everything a package holds, already read by the caller.
#[derive(Clone, Debug)]
pub struct PackageInputs {
    /// `CR_…`.
    pub request_id: ConfirmationRequestId,
    /// The case.
    pub case: Case,
    /// The court it goes to.
    pub court: String,
    /// When the package is made (it is in the manifest), Unix ms.
    pub created_at: i64,
    /// The sealed agreement.
    pub agreement: AgreementInput,
    /// Its signatures, in the order signed.
    pub signatures: Vec<SignatureInput>,
    /// Its seal.
    pub seal: SealInput,
    /// Every party of the case, representatives included.
    pub parties: Vec<PartyInput>,
    /// The mediation organisation.
    pub organisation: Organisation,
    /// The mediator.
    pub mediator: MediatorInput,
    /// The organisation's seal keys (Ed25519 base64), current and retired.
    pub seal_public_keys: Vec<String>,
    /// The case's evidence with the files.
    pub evidence: Vec<EvidenceInput>,
    /// The case's recordings' manifests.
    pub recordings: Vec<RecordingInput>,
    /// The case's session records.
    pub records: Vec<SessionRecordInput>,
    /// The case's audit entries, oldest first.
    pub audit: Vec<AuditEntry>,
    /// The 申请书 PDF.
    pub application_pdf: Vec<u8>,
    /// The 申请书 text.
    pub application_text: String,
}

/// One file as `manifest.json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path in the ZIP.
    pub path: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// What it is: `application`, `agreement`, `signature`, `seal`, `party`, `identity`,
    /// `attorney`, `organisation`, `evidence`, `recording`, `record`, `audit`, `index`.
    pub kind: String,
}

/// One signature as `manifest.json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSignature {
    /// `signatures/<NN>-<signer>`.
    pub dir: String,
    /// `PT_…` or `ST_…`.
    pub signer: String,
    /// `party`, `representative`, `mediator`.
    pub role: String,
    /// The text hash the payload names.
    pub text_sha256: String,
    /// The version the payload names.
    pub version: i64,
}

/// The case as the manifest names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCase {
    /// `CA_…`.
    pub id: String,
    /// Its number.
    pub number: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: String,
}

/// The agreement as the manifest names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestAgreement {
    /// `AG_…`.
    pub id: String,
    /// The sealed version.
    pub version: i64,
    /// Its canonical text's SHA-256.
    pub text_sha256: String,
    /// Unix ms.
    pub effective_at: i64,
    /// Where the canonical text is.
    pub text_path: String,
}

/// Where the seal is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSeal {
    /// `seal/seal.json`.
    pub path: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// `CR_…`.
    pub request_id: String,
    /// The case.
    pub case: ManifestCase,
    /// The court.
    pub court: String,
    /// Unix ms.
    pub created_at: i64,
    /// The agreement.
    pub agreement: ManifestAgreement,
    /// Every file but the manifest and its signature, sorted by path.
    pub files: Vec<ManifestFile>,
    /// The signatures.
    pub signatures: Vec<ManifestSignature>,
    /// The seal.
    pub seal: ManifestSeal,
    /// The 第三条 index.
    pub index: Vec<IndexRow>,
    /// The key that signed this manifest.
    pub platform_key_id: String,
}

/// `manifest.sig.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSignatureFile {
    /// `Ed25519`.
    pub algorithm: String,
    /// The key's id.
    pub key_id: String,
    /// The key, base64 of 32 bytes.
    pub public_key: String,
    /// Over the exact bytes of `manifest.json`, base64 of 64 bytes.
    pub signature: String,
}

/// `signatures/<dir>/signature.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    /// `PT_…` or `ST_…`.
    pub signer: String,
    /// `party`, `representative`, `mediator`.
    pub role: String,
    /// Their name.
    pub name: String,
    /// The device's P-256 key, SPKI DER base64.
    pub public_key_spki_b64: String,
    /// `r||s`, base64.
    pub signature_b64: String,
    /// Unix ms.
    pub signed_at: i64,
    /// How their identity was checked.
    pub identity: Option<serde_json::Value>,
    /// Their free-will answer.
    pub free_will: Option<serde_json::Value>,
}

/// `seal/seal.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealFile {
    /// `OR_…`.
    pub organisation: String,
    /// The seal key's id.
    pub key_id: String,
    /// The seal key, Ed25519 base64.
    pub public_key: String,
    /// Its signature over `seal/statement.json`, base64.
    pub seal_signature: String,
    /// The platform key's id.
    pub platform_key_id: String,
    /// The platform key, Ed25519 base64.
    pub platform_public_key: String,
    /// Its countersignature over the same bytes, base64.
    pub platform_signature: String,
    /// Unix ms.
    pub effective_at: i64,
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The id of an Ed25519 public key: the first 16 hex digits of its SHA-256 (as
/// `accord-recordings` names its keys).
pub fn key_id_of(public_key: &[u8]) -> String {
    sha256_hex(public_key).chars().take(16).collect()
}
