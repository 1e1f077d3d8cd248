//! Assembling a request's package: everything the court needs is read from the store and the
//! blob store, the 申请书 is written ([`accord_cases::confirmation::application`]), and the
//! package is built and signed with the platform's key
//! ([`accord_cases::confirmation::package::build`]). Both go into the blob store; the caller
//! names them on the request.
//!
//! Nothing here holds a database transaction: reads are one by one, and the request changes
//! only when the caller submits it. A package is built in memory, so its files are capped
//! ([`MAX_PACKAGE_BYTES`]); recordings are referenced by their signed manifests, not
//! included, which keeps a package to documents and photos.
//!
//! Reading the parties' full ID numbers is audited (`party.id_number_read`), as anywhere
//! else, and so is opening their sealed proofs of identity (`party.identity_proof_read`):
//! the package is personal data, and the court is who it is for.

use tokio::io::AsyncReadExt;

use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::agreements::pdf::FontSource;
use accord_cases::confirmation::application::{
    ApplicationInput, ApplicationParty, application_pdf, application_text,
};
use accord_cases::confirmation::model::{Applicant, ConfirmationRequest};
use accord_cases::confirmation::package::{
    self, AgreementInput, EvidenceInput, ManifestSigner, MediatorInput, NamedFile, PackageInputs,
    PartyInput, RecordingFileRef, RecordingInput, SealInput, SessionRecordInput, SignatureInput,
};
use accord_cases::store::SignerStatus;
use accord_cases::store::model::{Actor, Case, Party, PartyKind};
use accord_recordings::signing::PlatformKeys;

/// The most a package's files may add up to in memory.
pub const MAX_PACKAGE_BYTES: u64 = 512 * 1024 * 1024;

/// What was built and stored.
#[derive(Clone, Debug)]
pub struct Built {
    /// The package ZIP's SHA-256 (its blob).
    pub package_sha256: String,
    /// Its size in bytes.
    pub package_size: i64,
    /// The 申请书 PDF's SHA-256 (its blob).
    pub application_sha256: String,
}

/// Reads blobs against one budget, so a case with many large files fails with a clear
/// message instead of exhausting memory.
struct Budget {
    left: u64,
}

impl Budget {
    async fn read(&mut self, state: &AppState, sha256: &str, what: &str) -> Result<Vec<u8>> {
        let Some(reader) = state.blobs().open(sha256).await? else {
            return Err(Error::Internal(format!(
                "{what} ({sha256}) is missing from the blob store"
            )));
        };
        let mut bytes = Vec::new();
        reader
            .take(self.left.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| Error::Internal(format!("reading {what}: {e}")))?;
        let size = bytes.len() as u64;
        if size > self.left {
            return Err(Error::PayloadTooLarge(format!(
                "the case's files exceed the package limit of {} MiB",
                MAX_PACKAGE_BYTES / (1024 * 1024)
            )));
        }
        self.left -= size;
        Ok(bytes)
    }
}

/// The manifest's signature, by the platform key that signs recordings and countersigns seals.
struct PlatformSigner<'a>(&'a PlatformKeys);

impl ManifestSigner for PlatformSigner<'_> {
    fn key_id(&self) -> String {
        self.0.current_key_id().to_owned()
    }
    fn public_key_b64(&self) -> String {
        self.0
            .public_keys()
            .into_iter()
            .find(|k| k.current)
            .map(|k| k.public_key)
            .unwrap_or_default()
    }
    fn sign(&self, bytes: &[u8]) -> String {
        self.0.sign(bytes).signature
    }
}

/// Where links and references in the package point.
fn base_url(state: &AppState) -> String {
    state
        .config()
        .public_url
        .as_deref()
        .unwrap_or("http://localhost:8080")
        .trim_end_matches('/')
        .to_owned()
}

/// Builds and stores the 申请书 and the package of `request`.
pub async fn build(state: &AppState, request: &ConfirmationRequest) -> Result<Built> {
    let store = state.store();
    let court = request.court.clone().ok_or_else(|| {
        Error::Conflict(
            "choose the court first: no court is configured for this organisation".into(),
        )
    })?;
    let case = store.case(&request.case_id).await?;
    let organisation = store.organisation(&case.organisation_id).await?;
    let mediator = match &case.mediator_id {
        Some(id) => {
            let staff = store.staff(id).await?;
            MediatorInput {
                id: staff.id,
                name: staff.display_name,
            }
        }
        None => return Err(Error::Conflict("the case has no mediator".into())),
    };
    let mut budget = Budget {
        left: MAX_PACKAGE_BYTES,
    };
    let agreement = agreement_input(state, request, &mut budget).await?;
    let seal = seal_input(state, request, &case).await?;
    let signatures = signature_inputs(state, request, &mut budget).await?;
    let applicants = store.confirmation_applicants(&request.id).await?;
    let parties = party_inputs(state, &case, &applicants, &mut budget).await?;
    let seal_public_keys = store
        .seal_public_keys(&case.organisation_id)
        .await?
        .into_iter()
        .map(|k| k.public_key)
        .collect();
    let mut evidence = Vec::new();
    for item in store.evidence(&case.id).await? {
        let bytes = budget.read(state, &item.sha256, "an evidence file").await?;
        evidence.push(EvidenceInput {
            evidence: item,
            bytes,
        });
    }
    let recordings = recording_inputs(state, &case, &mut budget).await?;
    let mut records = Vec::new();
    for session in store.sessions(&case.id).await? {
        records.push(SessionRecordInput {
            events: store.session_events(&session.id).await?,
            session_id: session.id,
        });
    }
    let audit = store.audit_of(&format!("case:{}", case.id)).await?;

    let application = ApplicationInput {
        case_number: case.number.clone(),
        court: court.clone(),
        applicants: application_parties(&parties, &applicants),
        organisation: organisation.name.clone(),
        mediator: mediator.name.clone(),
        facts: case.facts.clone(),
        agreement_version: agreement.version,
        agreement_effective_at: agreement.effective_at,
        agreement_text_sha256: agreement.text_sha256.clone(),
        date: applicants
            .iter()
            .map(|a| a.applied_at)
            .max()
            .unwrap_or(request.created_at),
    };
    let text = application_text(&application);
    let font = state.config().agreement_font.clone();
    let application_bytes = tokio::task::spawn_blocking(move || {
        let font = FontSource::load(&font.path, font.index)?;
        application_pdf(&application, &font)
    })
    .await
    .map_err(|e| Error::Internal(format!("writing the 申请书: {e}")))?
    .map_err(|e| Error::Unavailable(format!("the 申请书 cannot be made now: {e}")))?;

    let inputs = PackageInputs {
        request_id: request.id.clone(),
        case,
        court,
        created_at: state.now_ms(),
        agreement,
        signatures,
        seal,
        parties,
        organisation,
        mediator,
        seal_public_keys,
        evidence,
        recordings,
        records,
        audit,
        application_pdf: application_bytes.clone(),
        application_text: text,
    };
    let state_for_build = state.clone();
    let zip = tokio::task::spawn_blocking(move || {
        let signer = PlatformSigner(state_for_build.recorders().keys());
        package::build(&inputs, &signer)
    })
    .await
    .map_err(|e| Error::Internal(format!("building the package: {e}")))??;

    let application_sha256 = put(state, &application_bytes).await?.sha256;
    let stored = put(state, &zip).await?;
    Ok(Built {
        package_sha256: stored.sha256,
        package_size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        application_sha256,
    })
}

async fn put(state: &AppState, bytes: &[u8]) -> Result<accord_cases::blobs::Blob> {
    let mut writer = state.blobs().writer().await?;
    writer.write(bytes).await?;
    Ok(writer.finish().await?)
}

async fn agreement_input(
    state: &AppState,
    request: &ConfirmationRequest,
    budget: &mut Budget,
) -> Result<AgreementInput> {
    let store = state.store();
    let version = store
        .version(&request.agreement_id, request.version)
        .await?;
    let seal = store
        .seal_of(&request.agreement_id)
        .await?
        .ok_or(Error::Rule(accord_cases::agreements::Rule::NotInForce))?;
    let pdf = match &seal.pdf_sha256 {
        Some(sha) => budget.read(state, sha, "the agreement PDF").await?,
        None => {
            crate::agreements::pdf::make(state, &request.agreement_id, &base_url(state)).await?
        }
    };
    Ok(AgreementInput {
        id: request.agreement_id.clone(),
        version: version.version,
        text: version.text,
        text_sha256: version.text_sha256,
        effective_at: seal.effective_at,
        pdf,
    })
}

async fn seal_input(
    state: &AppState,
    request: &ConfirmationRequest,
    case: &Case,
) -> Result<SealInput> {
    let store = state.store();
    let seal = store
        .seal_of(&request.agreement_id)
        .await?
        .ok_or(Error::Rule(accord_cases::agreements::Rule::NotInForce))?;
    let public_key = store
        .seal_public_keys(&case.organisation_id)
        .await?
        .into_iter()
        .find(|k| k.id == seal.key_id)
        .map(|k| k.public_key)
        .ok_or_else(|| Error::Internal(format!("the seal key {} is not on record", seal.key_id)))?;
    let platform_public_key = state
        .recorders()
        .keys()
        .public_keys()
        .into_iter()
        .find(|k| k.id == seal.platform_key_id)
        .map(|k| k.public_key)
        .ok_or_else(|| {
            Error::Internal(format!(
                "the platform key {} that countersigned the seal is not on this node",
                seal.platform_key_id
            ))
        })?;
    Ok(SealInput {
        seal,
        public_key,
        platform_public_key,
    })
}

async fn signature_inputs(
    state: &AppState,
    request: &ConfirmationRequest,
    budget: &mut Budget,
) -> Result<Vec<SignatureInput>> {
    let store = state.store();
    let signers = store.signers(&request.agreement_id).await?;
    let mut inputs = Vec::new();
    for record in store
        .signature_records(&request.agreement_id, request.version)
        .await?
    {
        if record.status != SignerStatus::Signed {
            continue;
        }
        let drawn_png = match &record.image_sha256 {
            Some(sha) => Some(budget.read(state, sha, "a drawn signature").await?),
            None => None,
        };
        let principal = record
            .on_behalf_of
            .as_ref()
            .map_or(record.signer_id.as_str(), |p| p.as_str());
        let free_will = signers
            .iter()
            .find(|s| s.signer_id == principal)
            .and_then(|s| s.free_will.clone());
        inputs.push(SignatureInput {
            record,
            drawn_png,
            free_will,
        });
    }
    Ok(inputs)
}

/// A stored file name without folders or characters a ZIP reader may trip on.
fn file_name(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .collect();
    if clean.trim_matches('.').is_empty() {
        fallback.to_owned()
    } else {
        clean
    }
}

async fn party_inputs(
    state: &AppState,
    case: &Case,
    applicants: &[Applicant],
    budget: &mut Budget,
) -> Result<Vec<PartyInput>> {
    let store = state.store();
    let proofs = store.identity_proofs(&case.id).await?;
    let mut inputs = Vec::new();
    for party in store.parties(&case.id).await? {
        // The court identifies the applicants by their full ID numbers; the read is audited.
        let id_number = store.reveal_id_number(&Actor::System, &party.id).await?;
        let attorney_letter = match &party.attorney_letter {
            Some(sha) => Some(NamedFile {
                name: format!("{}.pdf", party.id),
                bytes: budget.read(state, sha, "a power of attorney").await?,
            }),
            None => None,
        };
        let address = applicants
            .iter()
            .find(|a| a.party_id == party.id || a.applied_by == party.id.as_str())
            .map(|a| a.address.clone());
        // Oldest first, so a party's files keep their numbers from one package to the next.
        let mut identity_files = Vec::new();
        for proof in proofs.iter().filter(|p| p.party_id == party.id) {
            let sealed = budget
                .read(state, &proof.sealed_blob, "a proof of identity")
                .await?;
            let bytes = super::identity::open_sealed(state, proof, &sealed)?;
            store
                .record_identity_proof_read(&Actor::System, proof)
                .await?;
            identity_files.push(NamedFile {
                name: format!("{}.{}", proof.kind.as_str(), extension_of(&bytes)),
                bytes,
            });
        }
        inputs.push(PartyInput {
            id_number,
            phone: party.phone.clone(),
            address,
            attorney_letter,
            identity_files,
            party,
        });
    }
    // The power of attorney's real type: the stored blob says nothing of its name, so the
    // extension comes from its first bytes.
    for input in &mut inputs {
        if let Some(letter) = &mut input.attorney_letter {
            letter.name = file_name(
                &format!("{}.{}", input.party.id, extension_of(&letter.bytes)),
                "attorney.bin",
            );
        }
    }
    Ok(inputs)
}

/// A file's extension from its magic bytes (PDF, PNG, JPEG), `bin` otherwise.
pub fn extension_of(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpg"
    } else {
        "bin"
    }
}

/// The applicants as the 申请书 names them: each party who applied, with who applied for
/// them when a representative did.
fn application_parties(parties: &[PartyInput], applicants: &[Applicant]) -> Vec<ApplicationParty> {
    let name_of = |id: &str| -> Option<String> {
        parties
            .iter()
            .find(|p| p.party.id.as_str() == id)
            .map(|p| p.party.name.clone())
    };
    applicants
        .iter()
        .filter_map(|applicant| {
            let input = parties.iter().find(|p| p.party.id == applicant.party_id)?;
            let party: &Party = &input.party;
            let by_representative = applicant.applied_by != party.id.as_str();
            Some(ApplicationParty {
                name: party.name.clone(),
                kind: if party.kind == PartyKind::Organisation {
                    PartyKind::Organisation
                } else {
                    PartyKind::Person
                },
                id_number: input.id_number.clone(),
                phone: input.phone.clone(),
                address: applicant.address.clone(),
                represented_by: by_representative
                    .then(|| name_of(&applicant.applied_by))
                    .flatten(),
                applied_at: applicant.applied_at,
            })
        })
        .collect()
}

async fn recording_inputs(
    state: &AppState,
    case: &Case,
    budget: &mut Budget,
) -> Result<Vec<RecordingInput>> {
    let store = state.store();
    let base = base_url(state);
    let mut inputs = Vec::new();
    for recording in store.recordings_of_case(&case.id).await? {
        let files = store.recording_files(&recording.id).await?;
        let manifest = files.iter().find(|f| f.name == "manifest.json");
        let signature = files
            .iter()
            .find(|f| f.name == package::RECORDING_SIGNATURE);
        // A recording still running, or one a crash cut short before its manifest, has
        // nothing signed to show; the index says what the court can review.
        let (Some(manifest), Some(signature)) = (manifest, signature) else {
            continue;
        };
        let manifest_bytes = budget
            .read(state, &manifest.sha256, "a recording manifest")
            .await?;
        let signature_bytes = budget
            .read(state, &signature.sha256, "a recording manifest's signature")
            .await?;
        inputs.push(RecordingInput {
            files: files
                .iter()
                .filter(|f| f.name != "manifest.json" && f.name != package::RECORDING_SIGNATURE)
                .map(|f| RecordingFileRef {
                    name: f.name.clone(),
                    sha256: f.sha256.clone(),
                    size: u64::try_from(f.size).unwrap_or_default(),
                })
                .collect(),
            review_url: format!("{base}/staff/recordings/{}", recording.id),
            manifest: manifest_bytes,
            signature: signature_bytes,
            id: recording.id,
        });
    }
    Ok(inputs)
}
