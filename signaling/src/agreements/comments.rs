//! Comments on clauses, and what the record says of the drafting: the edits (who changed
//! which clauses, when), the finalised versions, and when each clause was last changed in
//! which session (the review of a recording jumps to those moments).
//!
//! A comment is for the mediators: they and its author see it, the other side never does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::draft_routes::staff_editor;
use super::draft_routes::{SMALL_BODY_LIMIT, post_at_session_owner};
use super::signing::{note, noted_caller};
use crate::AppState;
use crate::cluster::ClusterEvent;
use crate::error::{Error, Result};
use accord_cases::agreements::document::label;
use accord_cases::agreements::model::{Comment, Editor, History, MAIN_DOC};
use accord_cases::store::model::{Actor, SessionEventKind};
use accord_cases::{AgreementId, CaseId, PartyId, SessionId};
use accord_protocol::DraftCommentInfo;

/// The comment, history, version and moment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agreements/{id}/comments",
            get(list).merge(post_at_session_owner(add, SMALL_BODY_LIMIT)),
        )
        .route("/api/v1/agreements/{id}/history", get(history))
        .route("/api/v1/agreements/{id}/versions/{n}", get(version))
        .route("/api/v1/agreements/{id}/moments", get(moments))
}

/// A comment as the session's frames carry it.
pub(crate) fn info(comment: &Comment) -> DraftCommentInfo {
    DraftCommentInfo {
        id: comment.id.to_string(),
        agreement_id: comment.agreement_id.to_string(),
        clause_id: comment.clause_id.clone(),
        author_name: comment.author_name.clone(),
        author_role: comment.author_role.clone(),
        text: comment.text.clone(),
        at: comment.at,
    }
}

/// Sends a stored comment to the moderators of the case's live sessions and to its author's
/// seat, and writes it into the record of the session it was made in.
pub(crate) async fn deliver(
    state: &AppState,
    case_id: &CaseId,
    comment: &Comment,
    session: Option<SessionId>,
) -> Result<()> {
    // The case's seats may be on any node: each node shows it to its own
    // (`cluster::apply`), this one at once.
    state.cluster().publish(ClusterEvent::CommentAdded {
        case_id: case_id.to_string(),
        author_identity: comment.author_identity.clone(),
        comment: info(comment).into(),
    });
    note(
        state,
        case_id,
        session,
        SessionEventKind::AgreementComment,
        super::signing::Noted {
            identity: &comment.author_identity,
            name: Some(comment.author_name.clone()),
            role: &comment.author_role,
        },
        None,
        format!("clause {} comment {}", comment.clause_id, comment.id),
    )
    .await
}

/// Refuses a comment on a clause the agreement does not have: it would be stored and shown
/// under nothing anyone can find.
pub(crate) async fn check_clause(
    state: &AppState,
    agreement: &AgreementId,
    clause_id: &str,
) -> Result<()> {
    let mut guard = state.drafts().lock(state, agreement, MAIN_DOC).await?;
    if guard
        .loaded()?
        .draft
        .clauses()
        .iter()
        .any(|c| c.id == clause_id)
    {
        Ok(())
    } else {
        Err(Error::field(
            "clause_id",
            "the agreement has no such clause",
        ))
    }
}

/// Who the caller is as the author of a comment.
async fn author(state: &AppState, caller: &Caller) -> Result<Editor> {
    match caller {
        Caller::Staff(session) => staff_editor(state, session).await,
        Caller::Party(claims) => Ok(Editor {
            identity: claims.sub.clone(),
            name: claims.name.clone(),
            role: claims.role.as_str().to_owned(),
            actor: Actor::Party(PartyId::from(claims.sub.as_str())),
        }),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Comment>>> {
    let (agreement, _) = caller.agreement(&state, &id).await?;
    let mut comments = state.store().comments(&agreement.id).await?;
    if let Caller::Party(claims) = &caller {
        comments.retain(|c| c.author_identity == claims.sub);
    }
    Ok(Json(comments))
}

#[derive(Deserialize)]
struct NewComment {
    clause_id: String,
    text: String,
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: crate::error::JsonBody<NewComment>,
) -> Result<(StatusCode, Json<Comment>)> {
    let body = crate::error::json_body(body)?;
    let (agreement, case) = caller.agreement(&state, &id).await?;
    state
        .limits()
        .draft_comments
        .hit(caller.identity(), std::time::Instant::now())?;
    check_clause(&state, &agreement.id, &body.clause_id).await?;
    let by = author(&state, &caller).await?;
    let comment = state
        .store()
        .add_comment(&agreement.id, &body.clause_id, &body.text, &by)
        .await?;
    let (_, session) = noted_caller(&state, &caller, &case.id).await?;
    deliver(&state, &case.id, &comment, session).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

/// Only staff read the drafting's record; parties see the agreement itself.
fn staff_only(caller: &Caller) -> Result<()> {
    match caller {
        Caller::Staff(_) => Ok(()),
        Caller::Party(_) => Err(Error::Forbidden(
            "the drafting record is for the case's staff",
        )),
    }
}

async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<History>> {
    staff_only(&caller)?;
    let (agreement, _) = caller.agreement(&state, &id).await?;
    Ok(Json(state.store().history(&agreement.id).await?))
}

#[derive(Serialize)]
struct VersionView {
    version: i64,
    text: String,
    text_sha256: String,
    finalised_at: i64,
    status: &'static str,
}

async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, String)>,
) -> Result<Json<VersionView>> {
    let (agreement, _) = caller.agreement(&state, &id).await?;
    let n: i64 = n.parse().map_err(|_| Error::NotFound("no such version"))?;
    let v = state.store().version(&agreement.id, n).await?;
    Ok(Json(VersionView {
        version: v.version,
        text: v.text,
        text_sha256: v.text_sha256,
        finalised_at: v.finalised_at,
        status: v.status.as_str(),
    }))
}

#[derive(Serialize)]
struct MomentView {
    clause_id: String,
    /// As the clause is numbered now; empty for a facts clause or one since removed.
    label: String,
    last_edit_at: i64,
    session_id: Option<SessionId>,
    by_name: String,
}

async fn moments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<MomentView>>> {
    staff_only(&caller)?;
    let (agreement, _) = caller.agreement(&state, &id).await?;
    let moments = state.store().clause_moments(&agreement.id).await?;
    let clauses = {
        let mut guard = state.drafts().lock(&state, &agreement.id, MAIN_DOC).await?;
        guard.loaded()?.draft.clauses()
    };
    let mut number = 0;
    let labels: Vec<(String, String)> = clauses
        .iter()
        .map(|c| {
            if c.kind.numbered() {
                number += 1;
                (c.id.clone(), label(&agreement.locale, number))
            } else {
                (c.id.clone(), String::new())
            }
        })
        .collect();
    Ok(Json(
        moments
            .into_iter()
            .map(|m| MomentView {
                label: labels
                    .iter()
                    .find(|(id, _)| id == &m.clause_id)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default(),
                clause_id: m.clause_id,
                last_edit_at: m.last_edit_at,
                session_id: m.session_id,
                by_name: m.by_name,
            })
            .collect(),
    ))
}
