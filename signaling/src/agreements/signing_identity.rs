//! Before a signature counts, the signer's identity is checked for this version and their
//! device key registered (a one-time code to the phone on record, or the mediator's
//! attestation on camera; the mediator with their own account), and each party is asked,
//! alone with the mediator, whether they sign of their own free will.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::caller::Caller;
use super::signing::{Noted, changed, ensure_e_signable, note, noted_caller};
use super::signing_limits::{hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use crate::limits::ClientAddress;
use accord_cases::agreements::Rule;
use accord_cases::agreements::signing::{CODE_TTL_MS, check_device_key};
use accord_cases::ids::RecordingId;
use accord_cases::notify::Notification;
use accord_cases::store::model::{RecordingStatus, SessionEventKind, StaffRole};
use accord_cases::store::{
    FreeWillAnswer, IdentityProof, NewFreeWill, SignerRef, mask_phone, now_ms,
};
use accord_cases::{CaseId, PartyId, SessionId};

use crate::error::JsonBody as Body;

/// `POST /agreements/{id}/identity/otp`.
#[derive(Serialize)]
pub(crate) struct CodeSent {
    /// The phone the code went to, masked (`138****1234`).
    sent_to: String,
    /// Unix ms.
    expires_at: i64,
}

/// The message carrying a signing code, in the agreement's language.
fn code_text(locale: &str, code: &str, minutes: i64) -> String {
    if locale == "en" {
        format!(
            "Your code to sign the agreement is {code}. It is valid for {minutes} minutes. Do not tell anyone."
        )
    } else {
        format!("您的协议签署验证码为 {code}，{minutes}分钟内有效。请勿告诉他人。")
    }
}

fn phone_key(phone: &str) -> String {
    // The limiter's table holds a digest, not the number.
    hex::encode(Sha256::digest(phone.as_bytes()))
}

pub(crate) async fn send_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    address: ClientAddress,
    caller: Caller,
) -> Result<Json<CodeSent>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let Caller::Party(claims) = &caller else {
        return Err(Error::Forbidden(
            "a one-time code is for a party's phone; staff confirm with method `staff`",
        ));
    };
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).otp_per_address, &address.key())?;
    let party_id = PartyId::from(claims.sub.as_str());
    let party = state.store().party(&party_id).await?;
    if let Some(phone) = party.phone.as_deref() {
        hit(&limits(&state).otp_per_phone, &phone_key(phone))?;
    }
    let issued = state
        .store()
        .issue_otp(&agreement.id, &party_id, now_ms())
        .await?;
    let minutes = CODE_TTL_MS / 60_000;
    let notification = Notification {
        template: "signing_code",
        to: issued.phone.clone(),
        params: BTreeMap::from([
            ("code", issued.code.clone()),
            ("minutes", minutes.to_string()),
        ]),
        text: code_text(&agreement.locale, &issued.code, minutes),
        invite_id: None,
    };
    let notifier = state.notifier();
    notifier.send(&notification).await?;
    if notifier.channel() == "log" {
        // Without a gateway the code reaches the signer through whoever reads the log (the
        // issue asks for this on installs without one): the code and the masked phone only,
        // never the name or the number.
        tracing::info!(
            template = "signing_code",
            code = %issued.code,
            to = %mask_phone(&issued.phone),
            "signing code (log channel: no gateway configured)"
        );
    }
    Ok(Json(CodeSent {
        sent_to: issued.sent_to,
        expires_at: issued.expires_at,
    }))
}

/// `POST /agreements/{id}/identity`.
#[derive(Deserialize)]
pub(crate) struct IdentityBody {
    method: String,
    #[serde(default)]
    code: Option<String>,
    /// The device's public key, base64 SPKI DER.
    public_key: String,
}

pub(crate) async fn check_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Body<IdentityBody>,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).identity, caller.identity())?;
    let Json(body) = body?;
    let proof = match (body.method.as_str(), &caller) {
        ("otp", Caller::Party(_)) => {
            let code = body
                .code
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| Error::field("code", "enter the code sent to your phone"))?;
            IdentityProof::Otp {
                code: code.trim().to_owned(),
            }
        }
        ("attestation", Caller::Party(_)) => IdentityProof::Attestation,
        ("staff", Caller::Staff(_)) => IdentityProof::Staff,
        ("otp" | "attestation", Caller::Staff(_)) => {
            return Err(Error::field(
                "method",
                "staff confirm their identity with method `staff`",
            ));
        }
        ("staff", Caller::Party(_)) => {
            return Err(Error::field(
                "method",
                "a party confirms with `otp` or `attestation`",
            ));
        }
        _ => {
            return Err(Error::field(
                "method",
                "one of `otp`, `attestation` or `staff`",
            ));
        }
    };
    check_device_key(&body.public_key)?;
    state
        .store()
        .check_identity(
            &caller.actor(),
            &agreement.id,
            &caller.signer(),
            proof,
            &body.public_key,
            now_ms(),
        )
        .await?;
    changed(&state, &id, &case.id).await
}

/// `POST /agreements/{id}/attest`.
#[derive(Deserialize)]
pub(crate) struct AttestBody {
    signer_id: String,
}

fn not_seated() -> Error {
    Error::Conflict(
        "the signer is not in a live session of this case; the mediator attests only someone they see on camera"
            .into(),
    )
}

/// A signer named in a body: one of the case's parties (the mediator signs with their own
/// account and is never attested or asked about free will).
fn party_named(field: &'static str, id: &str) -> Result<PartyId> {
    match SignerRef::parse(id) {
        Ok(SignerRef::Party(party)) => Ok(party),
        _ => Err(Error::field(field, "a party of this case (PT_…)")),
    }
}

pub(crate) async fn attest(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Body<AttestBody>,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let mediator = caller.mediator_of(&case)?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).mediator, caller.identity())?;
    let Json(body) = body?;
    let party_id = party_named("signer_id", &body.signer_id)?;
    let seat = state
        .rooms()
        .live_seat(&case.id, party_id.as_str())
        .ok_or_else(not_seated)?;
    state
        .store()
        .attest(&mediator.sub, &agreement.id, &party_id, &seat.session_id)
        .await?;
    changed(&state, &id, &case.id).await
}

/// `POST /agreements/{id}/free-will`.
#[derive(Deserialize)]
pub(crate) struct FreeWillBody {
    party_id: String,
    answer: String,
    #[serde(default)]
    note: Option<String>,
}

/// A note long enough for what was said, short enough for the record.
const MAX_NOTE_CHARS: usize = 1000;

pub(crate) async fn free_will(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Body<FreeWillBody>,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let mediator = caller.mediator_of(&case)?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).mediator, caller.identity())?;
    let Json(body) = body?;
    let party_id = party_named("party_id", &body.party_id)?;
    let answer =
        FreeWillAnswer::parse(&body.answer).map_err(|_| Error::field("answer", "`yes` or `no`"))?;
    let note_text = body
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note_text
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(Error::field(
            "note",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    // Asked where nobody else can hear: the party in a private room of the live session
    // with only moderators, as the room itself says at this moment.
    let seat = state
        .rooms()
        .live_seat(&case.id, party_id.as_str())
        .ok_or(Error::Rule(Rule::NotAlone))?;
    let space = state
        .rooms()
        .alone_with_moderators(&seat.room, party_id.as_str())
        .ok_or(Error::Rule(Rule::NotAlone))?;
    let (recording_id, recording_offset_ms) =
        recording_moment(&state, &case.id, &seat.session_id).await?;
    let party = state.store().party(&party_id).await?;
    state
        .store()
        .record_free_will(
            &mediator.sub,
            &agreement.id,
            NewFreeWill {
                party_id: party_id.clone(),
                answer,
                note: note_text,
                session_id: seat.session_id.clone(),
                recording_id,
                recording_offset_ms,
            },
        )
        .await?;
    let (noted, _) = noted_caller(&state, &caller, &case.id).await?;
    note(
        &state,
        &case.id,
        Some(seat.session_id),
        SessionEventKind::AgreementFreeWill,
        Noted {
            role: StaffRole::Mediator.as_str(),
            ..noted
        },
        Some((party_id.as_str(), &party.name)),
        format!(
            "version {}: {} ({})",
            agreement.version,
            answer.as_str(),
            space.as_str()
        ),
    )
    .await?;
    changed(&state, &id, &case.id).await
}

/// The recording of `session` running now, and how far into it we are: the session clock
/// the review page plays on (the mixed audio keeps a pause as silence, so the offset counts
/// from the start, pauses included).
async fn recording_moment(
    state: &AppState,
    case_id: &CaseId,
    session_id: &SessionId,
) -> Result<(Option<RecordingId>, Option<i64>)> {
    let running = state
        .store()
        .recordings_of_case(case_id)
        .await?
        .into_iter()
        .filter(|r| &r.session_id == session_id)
        .find(|r| {
            matches!(
                r.status,
                RecordingStatus::Recording | RecordingStatus::Paused
            )
        });
    Ok(match running {
        Some(recording) => (
            Some(recording.id),
            Some((now_ms() - recording.started_at).max(0)),
        ),
        None => (None, None),
    })
}
