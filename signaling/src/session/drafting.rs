//! The drafting frames of a seated session: following a draft (`draft_open`), editing it
//! (`draft_update`, mediators only), saying where one types (`draft_typing`) and commenting
//! on a clause (`draft_comment`, anyone seated).
//!
//! Replies go through the seat's own notice queue, not straight onto the socket: the
//! `draft_state` a follower starts from and every `draft_changed` after it then reach the
//! client in the order the document's lock put them in.

use std::time::Instant;

use accord_cases::agreements::model::{Agreement, Editor};
use accord_cases::store::model::Actor;
use accord_cases::tokens::Role;
use accord_cases::{AgreementId, PartyId, StaffId};
use accord_protocol::{ClientMessage, ErrorCode, ServerMessage};
use base64::Engine as _;

use super::{Refusal, Seated};
use crate::AppState;
use crate::agreements::drafts::{self, ApplyError, ChangedBy, Follower};
use crate::rooms::seats::CaseSeat;

fn rejected(message: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::DraftRejected, message, false)
}

fn failed(what: &str, e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "drafting: {what}");
    Refusal::new(ErrorCode::Internal, "the server failed; try again", false)
}

/// Whether `message` is a drafting frame.
pub(super) fn is_drafting(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::DraftOpen { .. }
            | ClientMessage::DraftUpdate { .. }
            | ClientMessage::DraftTyping { .. }
            | ClientMessage::DraftComment { .. }
    )
}

/// Refuses a drafting frame sent more often than its limit, before it is carried out.
pub(super) fn check_rate(
    state: &AppState,
    seated: &Seated,
    message: &ClientMessage,
) -> Result<(), Refusal> {
    let limits = state.limits();
    let limiters = match message {
        ClientMessage::DraftUpdate { .. } => vec![&limits.draft_burst, &limits.draft_minute],
        ClientMessage::DraftTyping { .. } => vec![&limits.draft_typing],
        ClientMessage::DraftComment { .. } => vec![&limits.draft_comments],
        _ => return Ok(()),
    };
    let key = format!("{}/{}", seated.room, seated.participant.identity);
    let now = Instant::now();
    for limiter in limiters {
        limiter.take(&key, now).map_err(Refusal::rate_limited)?;
    }
    Ok(())
}

/// The seat, its case's agreement `agreement_id`, and whether the seat sees `doc`.
async fn context(
    state: &AppState,
    seated: &Seated,
    agreement_id: &str,
) -> Result<(CaseSeat, Agreement), Refusal> {
    let Some(link) = &seated.session else {
        return Err(rejected(
            "this room holds no case session, so it has no agreement",
        ));
    };
    let seat = state
        .rooms()
        .case_seat(&seated.room, &seated.participant.id)
        .ok_or_else(|| rejected("only people let into the session follow its agreement"))?;
    let agreement = match state
        .store()
        .agreement(&AgreementId::from(agreement_id))
        .await
    {
        Ok(agreement) => agreement,
        Err(accord_cases::Error::NotFound(_)) => return Err(rejected("no such agreement")),
        Err(e) => return Err(failed("reading an agreement", e)),
    };
    if agreement.case_id != link.case_id {
        return Err(rejected("no such agreement"));
    }
    Ok((seat, agreement))
}

/// Refuses unless `seat` sees `doc` of `agreement` (main: everyone let in; a private draft:
/// moderators and the side it is shown to).
async fn check_sees(
    state: &AppState,
    seat: &CaseSeat,
    agreement: &Agreement,
    doc: &str,
) -> Result<(), Refusal> {
    let draft = match state.store().draft_doc(&agreement.id, doc).await {
        Ok(draft) => draft,
        Err(accord_cases::Error::NotFound(_)) => return Err(rejected("no such draft")),
        Err(e) => return Err(failed("reading a draft", e)),
    };
    if accord_cases::access::sees_draft(&draft, seat.moderator, seat.side) {
        Ok(())
    } else {
        Err(rejected("no such draft"))
    }
}

/// Editors are the mediators seated in the session (staff of the case's organisation, checked
/// when their join token was issued and again at every moderator action).
fn editor(seat: &CaseSeat) -> Result<Editor, Refusal> {
    if seat.role != Role::Mediator || !seat.moderator {
        return Err(rejected("only the mediators edit the agreement"));
    }
    Ok(Editor {
        identity: seat.identity.clone(),
        name: seat.name.clone(),
        role: Role::Mediator.as_str().to_owned(),
        actor: Actor::Staff(StaffId::from(seat.identity.as_str())),
    })
}

fn tell_me(state: &AppState, seated: &Seated, frame: ServerMessage) {
    state
        .rooms()
        .tell_seat(&seated.room, &seated.participant.id, frame);
}

/// Carries out a drafting frame.
pub(super) async fn act(
    state: &AppState,
    seated: &Seated,
    message: &ClientMessage,
) -> Result<(), Refusal> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let me = Follower {
        room: seated.room.clone(),
        participant_id: seated.participant.id.clone(),
    };
    match message {
        ClientMessage::DraftOpen {
            agreement_id,
            doc,
            state_vector,
            request_id,
        } => {
            let (seat, agreement) = context(state, seated, agreement_id).await?;
            check_sees(state, &seat, &agreement, doc).await?;
            let sv = b64
                .decode(state_vector)
                .map_err(|_| rejected("the state vector is not base64"))?;
            let mut guard = state
                .drafts()
                .lock(state, &agreement.id, doc)
                .await
                .map_err(|e| failed("loading a draft", e))?;
            let loaded = guard.loaded().map_err(|e| failed("loading a draft", e))?;
            let update = loaded
                .draft
                .diff(&sv)
                .map_err(|e| rejected(e.to_string()))?;
            let frame = ServerMessage::DraftState {
                request_id: request_id.clone(),
                agreement_id: agreement.id.to_string(),
                doc: doc.clone(),
                update: b64.encode(update),
                state_vector: b64.encode(loaded.draft.state_vector()),
                seq: loaded.seq,
            };
            // Following starts under the lock: no change falls between the state and the
            // first `draft_changed`.
            state
                .drafts()
                .follow(state, &agreement.id, doc, me)
                .map_err(|e| failed("following a draft", e))?;
            tell_me(state, seated, frame);
        }
        ClientMessage::DraftUpdate {
            agreement_id,
            doc,
            update,
            request_id,
        } => {
            let (seat, agreement) = context(state, seated, agreement_id).await?;
            let editor = editor(&seat)?;
            check_sees(state, &seat, &agreement, doc).await?;
            let bytes = crate::agreements::draft_routes::decode_update(update).map_err(rejected)?;
            let applied = drafts::apply(
                state,
                &agreement,
                doc,
                &bytes,
                ChangedBy {
                    editor: &editor,
                    seat: Some(&me),
                    session: Some(&seat.session_id),
                },
            )
            .await
            .map_err(|e| match e {
                ApplyError::Rejected(m) => rejected(m),
                ApplyError::Rule(rule) => rejected(rule.message()),
                ApplyError::NotStored(e) => {
                    tracing::error!(error = %e, "drafting: an update was not stored");
                    Refusal::new(
                        ErrorCode::DraftNotStored,
                        "the update could not be stored and was not applied; send it again",
                        false,
                    )
                }
            })?;
            tell_me(
                state,
                seated,
                ServerMessage::DraftAck {
                    request_id: request_id.clone(),
                    agreement_id: agreement.id.to_string(),
                    doc: doc.clone(),
                    seq: applied.seq,
                },
            );
            if applied.reopened.is_some() {
                crate::agreements::announce(state, &agreement.case_id);
            }
        }
        ClientMessage::DraftTyping {
            agreement_id,
            doc,
            clause_id,
            ..
        } => {
            let (seat, agreement) = context(state, seated, agreement_id).await?;
            editor(&seat)?;
            check_sees(state, &seat, &agreement, doc).await?;
            if clause_id.is_empty()
                || clause_id.chars().count()
                    > accord_cases::agreements::document::MAX_CLAUSE_ID_CHARS
            {
                return Err(rejected("not a clause id"));
            }
            let frame = ServerMessage::DraftTyping {
                agreement_id: agreement.id.to_string(),
                doc: doc.clone(),
                clause_id: clause_id.clone(),
                participant_id: seat.participant_id.clone(),
                name: seat.name.clone(),
            };
            drafts::tell(state, &agreement.id, doc, &frame, Some(&me));
        }
        ClientMessage::DraftComment {
            agreement_id,
            clause_id,
            text,
            ..
        } => {
            let (seat, agreement) = context(state, seated, agreement_id).await?;
            let actor = match seat.role {
                Role::Mediator => Actor::Staff(StaffId::from(seat.identity.as_str())),
                Role::Party => Actor::Party(PartyId::from(seat.identity.as_str())),
                _ => return Err(rejected("only the parties and the mediators comment")),
            };
            crate::agreements::comments::check_clause(state, &agreement.id, clause_id)
                .await
                .map_err(|e| match e {
                    crate::error::Error::Invalid(_) => Refusal::new(
                        ErrorCode::BadRequest,
                        "the agreement has no such clause",
                        false,
                    ),
                    other => failed("checking a clause", other),
                })?;
            let author = Editor {
                identity: seat.identity.clone(),
                name: seat.name.clone(),
                role: seat.role.as_str().to_owned(),
                actor,
            };
            let comment = match state
                .store()
                .add_comment(&agreement.id, clause_id, text, &author)
                .await
            {
                Ok(comment) => comment,
                Err(accord_cases::Error::Invalid(fields)) => {
                    let what = fields
                        .first()
                        .map(|f| format!("{}: {}", f.field, f.message))
                        .unwrap_or_else(|| "the comment is invalid".to_owned());
                    return Err(Refusal::new(ErrorCode::BadRequest, what, false));
                }
                Err(accord_cases::Error::Rule(rule)) => return Err(rejected(rule.message())),
                Err(e) => return Err(failed("storing a comment", e)),
            };
            crate::agreements::comments::deliver(
                state,
                &agreement.case_id,
                &comment,
                Some(seat.session_id.clone()),
            )
            .await
            .map_err(|e| failed("delivering a comment", e))?;
        }
        _ => {}
    }
    Ok(())
}
