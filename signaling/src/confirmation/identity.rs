//! `/api/v1/agreements/{id}/confirmation/identity-proofs…`: the parties' proofs of identity
//! (身份证明: both sides of an ID card, a passport, a business licence) that go into the
//! confirmation package under `parties/identity/`.
//!
//! A proof shows a full ID number and a face, so it is kept sealed: the edge reads the upload
//! into memory, seals it with the store's PII key and writes only the sealed bytes to the
//! blob store; the record keeps the clear file's hash, which the package and every read check.
//! A party uploads and reads their own (a representative with a power of attorney, those of
//! whom they represent); the case's mediators upload for any party; staff who may see the
//! case and the court the request went to read them, and each of those reads is audited.
//! Changes stop once the request is with the court: the package it received is what counts.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Caller, LinkCaller, hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use crate::evidence::{FRAMING_BYTES, body_limit, multipart_error};
use accord_cases::agreements::model::Agreement;
use accord_cases::evidence_files::sniff;
use accord_cases::store::model::{
    Case, NewPartyIdentityProof, Party, PartyIdentityProof, PartyIdentityProofKind, PartyKind,
};
use accord_cases::{IdentityProofId, PartyId};

const NO_PROOF: Error = Error::NotFound("no such identity proof");

const UNSUPPORTED: &str = "identity proofs must be JPEG or PNG photos or a PDF";

/// What sealing adds to a file: the nonce before and the tag after the ciphertext.
const SEAL_OVERHEAD: u64 = 12 + 16;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agreements/{id}/confirmation/identity-proofs",
            // The body is bounded by `read_body` against the configured file size, which the
            // router does not know when it is built.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/agreements/{id}/confirmation/identity-proofs/{proof_id}",
            get(show).delete(remove),
        )
}

/// A proof of identity as the confirmation view and an upload's answer show it.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityProofView {
    id: IdentityProofId,
    party_id: PartyId,
    kind: PartyIdentityProofKind,
    media_type: String,
    size: i64,
    created_at: i64,
    /// Whether the caller may remove it now: theirs to change, and not yet with the court.
    may_remove: bool,
}

/// Whether a party caller `me` acts for `party`: they are that party, or a representative of
/// theirs with a power of attorney on file (as for applying).
pub fn acts_for(me: &PartyId, party: &PartyId, parties: &[Party]) -> bool {
    me == party
        || parties.iter().any(|p| {
            &p.id == me
                && p.kind == PartyKind::Representative
                && p.attorney_letter.is_some()
                && p.represents.as_ref() == Some(party)
        })
}

/// Whether the caller sees `party`'s proofs: staff and court users who reach the case see all
/// of them, a party those of whom they act for.
fn sees(caller: &Caller, party: &PartyId, parties: &[Party]) -> bool {
    match caller.party_id() {
        Some(me) => acts_for(&me, party, parties),
        None => true,
    }
}

/// Whether the caller may add or remove `party`'s proofs: a mediator of the case, or the party
/// (or their representative). Court users and other staff only read them.
fn changes(caller: &Caller, case: &Case, party: &PartyId, parties: &[Party]) -> bool {
    match caller.party_id() {
        Some(me) => acts_for(&me, party, parties),
        None => caller.mediates(case),
    }
}

/// Whether the case's proofs may still change: no request of the case is with the court (a
/// rejected one lets the parties apply again). The store checks the same when it changes them.
pub async fn changeable(state: &AppState, case: &Case) -> Result<bool> {
    let requests = state
        .store()
        .confirmation_requests_of_cases(std::slice::from_ref(&case.id))
        .await?;
    Ok(!requests.iter().any(|r| r.status.is_with_court()))
}

/// The proofs of `case` the caller sees, oldest first.
pub fn views(
    caller: &Caller,
    case: &Case,
    proofs: &[PartyIdentityProof],
    parties: &[Party],
    changeable: bool,
) -> Vec<IdentityProofView> {
    proofs
        .iter()
        .filter(|p| sees(caller, &p.party_id, parties))
        .map(|p| view(caller, case, p, parties, changeable))
        .collect()
}

fn view(
    caller: &Caller,
    case: &Case,
    proof: &PartyIdentityProof,
    parties: &[Party],
    changeable: bool,
) -> IdentityProofView {
    IdentityProofView {
        id: proof.id.clone(),
        party_id: proof.party_id.clone(),
        kind: proof.kind,
        media_type: proof.media_type.clone(),
        size: proof.size,
        created_at: proof.created_at,
        may_remove: changeable && changes(caller, case, &proof.party_id, parties),
    }
}

/// The clear bytes of a proof from its `sealed` blob, checked against the hash on record.
pub fn open_sealed(state: &AppState, proof: &PartyIdentityProof, sealed: &[u8]) -> Result<Vec<u8>> {
    let clear = state.store().keys().open_bytes(sealed).map_err(|_| {
        tracing::error!(proof = %proof.id, "an identity proof's blob does not open");
        Error::Internal(format!("identity proof {} does not open", proof.id))
    })?;
    if hex::encode(Sha256::digest(&clear)) != proof.sha256 {
        tracing::error!(proof = %proof.id, "an identity proof's bytes do not match their hash");
        return Err(Error::Internal(format!(
            "identity proof {} does not match its hash",
            proof.id
        )));
    }
    Ok(clear)
}

/// Reads a proof's sealed blob, no longer than its record says it can be.
async fn read_sealed(state: &AppState, proof: &PartyIdentityProof) -> Result<Vec<u8>> {
    let Some(reader) = state.blobs().open(&proof.sealed_blob).await? else {
        return Err(Error::Internal(format!(
            "identity proof {} is missing from the blob store",
            proof.id
        )));
    };
    let bound = u64::try_from(proof.size)
        .unwrap_or_default()
        .saturating_add(SEAL_OVERHEAD + 1);
    let mut sealed = Vec::new();
    reader
        .take(bound)
        .read_to_end(&mut sealed)
        .await
        .map_err(|e| Error::Internal(format!("reading identity proof {}: {e}", proof.id)))?;
    Ok(sealed)
}

/// An upload's form: the file and its fields, not yet judged.
struct Form {
    file: Option<Vec<u8>>,
    kind: Option<String>,
    party_id: Option<String>,
}

/// Reads the whole body into memory, at most one file of the configured size and its
/// framing: the file is sealed as a whole, so it is never streamed to the blob store in the
/// clear. A body over the bound is read on (up to a few times the bound) and dropped, so a
/// client still sending gets the 413 rather than a connection closed under its upload.
async fn read_form(state: &AppState, request: Request) -> Result<Form> {
    let max = state.config().max_evidence_bytes;
    let limit = body_limit(max, 1, FRAMING_BYTES);
    let too_large = || {
        Error::PayloadTooLarge(format!(
            "an identity proof may be at most {} MiB",
            max / (1024 * 1024)
        ))
    };
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Error::BadRequest("the upload ended before its end".into()))?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            if seen > limit.saturating_mul(4) {
                return Err(too_large());
            }
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if seen > limit {
        return Err(too_large());
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|_| Error::UnsupportedMediaType("send the file as multipart/form-data"))?;
    let mut form = Form {
        file: None,
        kind: None,
        party_id: None,
    };
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if form.file.is_some() => {
                return Err(Error::BadRequest("send one `file` per upload".into()));
            }
            "file" => form.file = Some(field.bytes().await.map_err(multipart_error)?.to_vec()),
            "kind" => {
                let text = field.text().await.map_err(multipart_error)?;
                form.kind = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            }
            "party_id" => {
                let text = field.text().await.map_err(multipart_error)?;
                form.party_id = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            }
            _ => {
                return Err(Error::BadRequest(format!(
                    "unexpected field `{name}`: send `file`, `kind` and optionally `party_id`"
                )));
            }
        }
    }
    Ok(form)
}

/// The file's media type, if it is one a court reads as a proof of identity: judged by its
/// first bytes, whatever the client called it.
fn media_type(bytes: &[u8], max: u64) -> Result<&'static str> {
    if bytes.is_empty() {
        return Err(Error::UnsupportedMediaType(UNSUPPORTED));
    }
    if bytes.len() as u64 > max {
        return Err(Error::PayloadTooLarge(format!(
            "an identity proof may be at most {} MiB",
            max / (1024 * 1024)
        )));
    }
    match sniff(bytes) {
        Some(known @ ("image/jpeg" | "image/png" | "application/pdf")) => Ok(known),
        _ => Err(Error::UnsupportedMediaType(UNSUPPORTED)),
    }
}

fn parse_kind(text: Option<&str>) -> Result<PartyIdentityProofKind> {
    let Some(text) = text else {
        return Err(Error::field("kind", "required"));
    };
    PartyIdentityProofKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| Error::field("kind", "one of id_card_front, id_card_back, other"))
}

/// The case of agreement `id` with its parties, if the caller reaches it.
async fn case_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Agreement, Case, Vec<Party>)> {
    let (agreement, case) = caller.agreement(state, id).await?;
    let parties = state.store().parties(&case.id).await?;
    Ok((agreement, case, parties))
}

async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
    request: Request,
) -> Result<(StatusCode, Json<IdentityProofView>)> {
    if caller.is_court() {
        return Err(Error::Forbidden(
            "the court reads the parties' proofs of identity; the parties and their mediator upload them",
        ));
    }
    hit(&limits(&state).identity, caller.identity())?;
    let (_, case, parties) = case_of(&state, &caller, &id).await?;
    if caller.party_id().is_none() {
        caller.mediator_of(&case)?;
    }
    let form = read_form(&state, request).await?;
    let file = form.file.ok_or_else(|| Error::field("file", "required"))?;
    let media_type = media_type(&file, state.config().max_evidence_bytes)?;
    let kind = parse_kind(form.kind.as_deref())?;
    let party = match (caller.party_id(), form.party_id) {
        (Some(me), None) => me,
        (Some(me), Some(named)) => {
            let named = PartyId::from(named);
            if !acts_for(&me, &named, &parties) {
                return Err(Error::Forbidden(
                    "a party uploads their own proofs; a representative, those of whom they represent with a power of attorney",
                ));
            }
            named
        }
        (None, Some(named)) => PartyId::from(named),
        (None, None) => {
            return Err(Error::field(
                "party_id",
                "required: whose identity it proves",
            ));
        }
    };

    let sha256 = hex::encode(Sha256::digest(&file));
    let sealed = state.store().keys().seal_bytes(&file)?;
    let size = i64::try_from(file.len()).unwrap_or(i64::MAX);
    drop(file);
    let mut writer = state.blobs().writer().await?;
    writer.write(&sealed).await?;
    let blob = writer.finish().await?;
    let stored = state
        .store()
        .add_identity_proof(
            &caller.actor(),
            NewPartyIdentityProof {
                case_id: case.id.clone(),
                party_id: party,
                kind,
                media_type: media_type.to_owned(),
                size,
                sha256,
                sealed_blob: blob.sha256.clone(),
            },
        )
        .await;
    let proof = match stored {
        Ok(proof) => proof,
        Err(refused) => {
            // Sealed with a fresh nonce, the blob is this upload's alone.
            if let Err(e) = state.blobs().delete(&blob.sha256).await {
                tracing::warn!(error = %e, "cannot delete a refused identity proof's sealed blob");
            }
            return Err(refused.into());
        }
    };
    crate::agreements::announce(&state, &case.id);
    Ok((
        StatusCode::CREATED,
        Json(view(&caller, &case, &proof, &parties, true)),
    ))
}

/// The proof `proof_id` of agreement `id`'s case, if the caller may see it; 404 otherwise.
async fn visible_proof(
    state: &AppState,
    caller: &Caller,
    id: &str,
    proof_id: &str,
) -> Result<(Case, Vec<Party>, PartyIdentityProof)> {
    let (agreement, case, parties) = case_of(state, caller, id).await?;
    let proof = match state
        .store()
        .identity_proof(&IdentityProofId::from(proof_id))
        .await
    {
        Ok(proof) if proof.case_id == case.id => proof,
        Ok(_) | Err(accord_cases::Error::NotFound(_)) => return Err(NO_PROOF),
        Err(other) => return Err(other.into()),
    };
    if caller.is_court() {
        // The court sees what was sent to it, once it was.
        let request = state
            .store()
            .confirmation_of_agreement(&agreement.id)
            .await?;
        if !request.is_some_and(|r| caller.court_of(&r)) {
            return Err(NO_PROOF);
        }
    }
    if !sees(caller, &proof.party_id, &parties) {
        return Err(NO_PROOF);
    }
    Ok((case, parties, proof))
}

async fn show(
    State(state): State<AppState>,
    Path((id, proof_id)): Path<(String, String)>,
    LinkCaller(caller): LinkCaller,
) -> Result<Response> {
    hit(&limits(&state).documents, caller.identity())?;
    let (_, _, proof) = visible_proof(&state, &caller, &id, &proof_id).await?;
    let sealed = read_sealed(&state, &proof).await?;
    let clear = open_sealed(&state, &proof, &sealed)?;
    // A party looking at their own document is not news; anyone else seeing a face and an
    // ID number is.
    if caller.party_id().is_none() {
        state
            .store()
            .record_identity_proof_read(&caller.actor(), &proof)
            .await?;
    }
    let name = format!(
        "{}.{}",
        proof.kind.as_str(),
        super::assemble::extension_of(&clear)
    );
    let mut response = clear.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&proof.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    // The name is ours (a kind and an extension), so it is always a valid header.
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn remove(
    State(state): State<AppState>,
    Path((id, proof_id)): Path<(String, String)>,
    LinkCaller(caller): LinkCaller,
) -> Result<StatusCode> {
    if caller.is_court() {
        return Err(Error::Forbidden(
            "the court reads the parties' proofs of identity; the parties and their mediator remove them",
        ));
    }
    hit(&limits(&state).identity, caller.identity())?;
    let (case, parties, proof) = visible_proof(&state, &caller, &id, &proof_id).await?;
    if !changes(&caller, &case, &proof.party_id, &parties) {
        return Err(Error::Forbidden(
            "only the party, their representative or the case's mediators remove a proof of identity",
        ));
    }
    let removed = state
        .store()
        .remove_identity_proof(&caller.actor(), &proof.id)
        .await?;
    if let Err(e) = state.blobs().delete(&removed.sealed_blob).await {
        tracing::warn!(proof = %removed.id, error = %e, "cannot delete a removed identity proof's sealed blob");
    }
    crate::agreements::announce(&state, &case.id);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_cases::CaseId;
    use accord_cases::store::model::Side;

    fn party(id: &str, kind: PartyKind, represents: Option<&str>, letter: bool) -> Party {
        Party {
            id: PartyId::from(id),
            case_id: CaseId::from("CA_1"),
            side: Side::Respondent,
            kind,
            name: id.to_owned(),
            phone: None,
            id_number_masked: None,
            represents: represents.map(PartyId::from),
            attorney_letter: letter.then(|| "ab".repeat(32)),
            created_at: 0,
        }
    }

    #[test]
    fn a_representative_acts_for_their_party_only_with_a_power_of_attorney() {
        let parties = vec![
            party("PT_li", PartyKind::Person, None, false),
            party("PT_qian", PartyKind::Representative, Some("PT_li"), true),
            party("PT_zhao", PartyKind::Representative, Some("PT_li"), false),
        ];
        let li = PartyId::from("PT_li");
        assert!(acts_for(&li, &li, &parties));
        assert!(acts_for(&PartyId::from("PT_qian"), &li, &parties));
        assert!(!acts_for(&PartyId::from("PT_zhao"), &li, &parties));
        assert!(!acts_for(&li, &PartyId::from("PT_qian"), &parties));
    }

    #[test]
    fn only_photos_and_pdfs_are_taken() {
        assert_eq!(
            media_type(b"\x89PNG\r\n\x1a\n....", 100).ok(),
            Some("image/png")
        );
        assert_eq!(media_type(b"%PDF-1.7\n", 100).ok(), Some("application/pdf"));
        assert!(matches!(
            media_type(b"RIFF\0\0\0\0WEBPVP8 ", 100),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            media_type(b"hello", 100),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            media_type(b"", 100),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            media_type(&[0xFF; 101], 100),
            Err(Error::PayloadTooLarge(_))
        ));
    }

    #[test]
    fn the_kind_is_one_of_three() {
        assert_eq!(
            parse_kind(Some("id_card_back")).ok(),
            Some(PartyIdentityProofKind::IdCardBack)
        );
        assert!(matches!(parse_kind(Some("selfie")), Err(Error::Invalid(_))));
        assert!(matches!(parse_kind(None), Err(Error::Invalid(_))));
    }
}
