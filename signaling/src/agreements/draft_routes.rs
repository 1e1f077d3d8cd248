//! Reading an agreement and drafting it over HTTP: the case page drafts between sessions with
//! the same Yjs updates the session's socket carries, through the same [`super::drafts::apply`].
//! Finalising composes the canonical text from the main document and the case's parties.

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::drafts::{self, ChangedBy};
use super::signing::{note, noted_caller};
use super::view::{AgreementView, Audience, agreement_view_for};
use crate::AppState;
use crate::auth::CaseReader;
use crate::cluster::placement_key;
use crate::cluster::send_on::{Sending, owner_elsewhere, relay_to_owner, relayed_here};
use crate::error::{Error, Result};
use crate::staff::StaffSession;
use accord_cases::agreements::document::{Draft, canonical_text};
use accord_cases::agreements::model::{Agreement, Editor, MAIN_DOC};
use accord_cases::store::model::{Case, PartyKind, SessionEventKind, SessionStatus, Side};
use accord_cases::{AgreementId, CaseId, DraftId, PartyId};

/// Every drafting route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{id}/agreement",
            get(case_agreement).post(super::templates::create),
        )
        .route("/api/v1/room/agreement", get(room_agreement))
        .route("/api/v1/agreements/{id}", get(agreement))
        .route(
            "/api/v1/agreements/{id}/draft",
            get(read_draft).merge(post_at_session_owner(write_draft, WRITE_BODY_LIMIT)),
        )
        .route(
            "/api/v1/agreements/{id}/private-drafts",
            post_at_session_owner(new_private_draft, SMALL_BODY_LIMIT),
        )
        .route(
            "/api/v1/agreements/{id}/private-drafts/{doc}/show",
            post_at_session_owner(show_private_draft, SMALL_BODY_LIMIT),
        )
        .route(
            "/api/v1/agreements/{id}/finalise",
            post_at_session_owner(finalise, SMALL_BODY_LIMIT),
        )
}

/// How the caller is shown the agreement.
async fn audience(state: &AppState, caller: &Caller) -> Result<Audience> {
    Ok(match caller {
        Caller::Staff(_) => Audience::Staff,
        Caller::Party(claims) => Audience::Side(Some(
            state
                .store()
                .party(&PartyId::from(claims.sub.as_str()))
                .await?
                .side,
        )),
    })
}

/// The Agreement JSON for `caller`.
pub(crate) async fn view_for(
    state: &AppState,
    caller: &Caller,
    agreement: &Agreement,
    case: &Case,
) -> Result<Json<AgreementView>> {
    let audience = audience(state, caller).await?;
    Ok(Json(
        agreement_view_for(state, agreement, case, audience).await?,
    ))
}

async fn case_agreement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AgreementView>> {
    let case_id = CaseId::from(id.as_str());
    match &caller {
        Caller::Staff(session) => {
            state
                .store()
                .visible_case(&session.viewer(), &case_id)
                .await?;
        }
        Caller::Party(_) if caller.party_case().as_ref() == Some(&case_id) => {}
        Caller::Party(_) => return Err(Error::NotFound("no such case")),
    }
    let agreement = state
        .store()
        .agreement_of_case(&case_id)
        .await?
        .ok_or(Error::NotFound("this case has no agreement yet"))?;
    let (agreement, case) = caller.agreement(&state, agreement.id.as_str()).await?;
    view_for(&state, &caller, &agreement, &case).await
}

/// The agreement of the case whose session the join token is for: anyone seated may read it.
async fn room_agreement(
    State(state): State<AppState>,
    CaseReader(claims): CaseReader,
) -> Result<Json<AgreementView>> {
    let case_id = claims
        .case
        .as_deref()
        .map(CaseId::from)
        .ok_or(Error::NotFound("this room belongs to no case"))?;
    let agreement = state
        .store()
        .agreement_of_case(&case_id)
        .await?
        .ok_or(Error::NotFound("this case has no agreement yet"))?;
    let case = state.store().case(&case_id).await?;
    let audience = match claims.role {
        accord_cases::tokens::Role::Mediator => Audience::Staff,
        accord_cases::tokens::Role::Party => Audience::Side(
            state
                .store()
                .party(&PartyId::from(claims.sub.as_str()))
                .await
                .ok()
                .map(|p| p.side),
        ),
        _ => Audience::Side(None),
    };
    Ok(Json(
        agreement_view_for(&state, &agreement, &case, audience).await?,
    ))
}

async fn agreement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AgreementView>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    view_for(&state, &caller, &agreement, &case).await
}

/// The editor a staff member is, for the store.
pub(crate) async fn staff_editor(state: &AppState, session: &StaffSession) -> Result<Editor> {
    let staff = state.store().staff(&session.sub).await?;
    Ok(Editor {
        identity: session.sub.to_string(),
        name: staff.display_name,
        role: session.role.as_str().to_owned(),
        actor: session.actor(),
    })
}

/// Checks that `caller` may see draft `doc` of `agreement`: main everyone, a private one
/// mediators and the side it is shown to.
async fn check_sees(
    state: &AppState,
    caller: &Caller,
    agreement: &Agreement,
    doc: &str,
) -> Result<()> {
    let draft = state.store().draft_doc(&agreement.id, doc).await?;
    let (moderator, side) = match audience(state, caller).await? {
        Audience::Staff => (true, None),
        Audience::Side(side) => (false, side),
    };
    if accord_cases::access::sees_draft(&draft, moderator, side) {
        Ok(())
    } else {
        Err(Error::NotFound("no such draft"))
    }
}

#[derive(Deserialize)]
struct DraftQuery {
    doc: Option<String>,
    state_vector: Option<String>,
}

#[derive(Serialize)]
struct DraftStateView {
    doc: String,
    update: String,
    state_vector: String,
    seq: i64,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

async fn read_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<DraftQuery>,
) -> Result<Json<DraftStateView>> {
    let (agreement, _) = caller.agreement(&state, &id).await?;
    let doc = query.doc.unwrap_or_else(|| MAIN_DOC.to_owned());
    check_sees(&state, &caller, &agreement, &doc).await?;
    let sv = b64()
        .decode(query.state_vector.unwrap_or_default())
        .map_err(|_| Error::field("state_vector", "not base64"))?;
    let mut guard = state.drafts().lock(&state, &agreement.id, &doc).await?;
    let loaded = guard.loaded()?;
    Ok(Json(DraftStateView {
        update: b64().encode(loaded.draft.diff(&sv)?),
        state_vector: b64().encode(loaded.draft.state_vector()),
        seq: loaded.seq,
        doc,
    }))
}

#[derive(Deserialize)]
struct DraftWrite {
    doc: Option<String>,
    update: String,
}

#[derive(Serialize)]
struct Seq {
    seq: i64,
}

/// The largest update in base64, with room for padding.
const MAX_UPDATE_B64: usize = accord_cases::agreements::document::MAX_UPDATE_BYTES.div_ceil(3) * 4;

/// Decodes a base64 update, refusing one over the size limit before decoding it.
pub(crate) fn decode_update(text: &str) -> std::result::Result<Vec<u8>, String> {
    if text.len() > MAX_UPDATE_B64 {
        return Err(format!(
            "a document update is at most {} bytes",
            accord_cases::agreements::document::MAX_UPDATE_BYTES
        ));
    }
    b64()
        .decode(text)
        .map_err(|_| "the update is not base64".to_owned())
}

/// What of a request about an agreement goes on to the node of the case's live session:
/// the caller's credentials (a staff access token or a party's join token) and the body's
/// type.
const SESSION_OWNER_PASSED: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT_LANGUAGE,
];

/// A draft write's body at most: the largest update in base64, and its JSON around it.
const WRITE_BODY_LIMIT: usize = MAX_UPDATE_B64 + 4096;

/// The body of the other agreement actions sent on: axum's own default JSON limit, which
/// those routes keep.
pub(crate) const SMALL_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// How long the caller has to send a body, and the owner to answer.
const SESSION_OWNER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// `POST` of `handler` for a route `/api/v1/agreements/{id}/…` that reads the live room (who
/// is seated, in which space, alone with whom) or records what it does in the session the
/// caller is seated in: served on the node that runs the case's live session when another
/// node does, since only there are the seats known. Served here when the session runs here,
/// when no session of the case is live, or when another node relayed the request here.
/// A body past `body_limit` bytes is refused (413) before it is sent on.
pub(crate) fn post_at_session_owner<H, T>(handler: H, body_limit: usize) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    post(
        move |State(state): State<AppState>, request: Request| async move {
            let (mut parts, body) = request.into_parts();
            let owner = live_session_elsewhere(&state, &mut parts).await;
            let request = Request::from_parts(parts, body);
            match owner {
                Some(owner) => {
                    let sending = Sending {
                        body_limit,
                        body_deadline: SESSION_OWNER_DEADLINE,
                        pass: SESSION_OWNER_PASSED,
                        deadline: SESSION_OWNER_DEADLINE,
                    };
                    relay_to_owner(&state, &owner, request, sending)
                        .await
                        .unwrap_or_else(IntoResponse::into_response)
                }
                None => handler.call(request, state).await,
            }
        },
    )
}

/// The node running a live session of the agreement's case, when that is another node and
/// no live session of the case has its room here. Anything unreadable (no such agreement,
/// a store error) is left to the handler, which answers it as it would anywhere.
async fn live_session_elsewhere(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
) -> Option<crate::cluster::Placement> {
    if !state.cluster().clustered() || relayed_here(state, parts) {
        return None;
    }
    let Path(id) = Path::<String>::from_request_parts(parts, state)
        .await
        .ok()?;
    let store = state.store();
    let agreement = store
        .agreement(&AgreementId::from(id.as_str()))
        .await
        .ok()?;
    let live: Vec<_> = store
        .sessions(&agreement.case_id)
        .await
        .ok()?
        .into_iter()
        .filter(|s| s.status == SessionStatus::Live)
        .collect();
    if live.iter().any(|s| state.rooms().exists(&s.room)) {
        return None;
    }
    for session in &live {
        let key = placement_key(Some(session.id.as_str()), &session.room);
        if let Some(owner) = owner_elsewhere(state, &key).await {
            return Some(owner);
        }
    }
    None
}

async fn write_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: crate::error::JsonBody<DraftWrite>,
) -> Result<Json<Seq>> {
    let body = crate::error::json_body(body)?;
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let session = caller.mediator_of(&case)?;
    state
        .limits()
        .draft_http
        .hit(caller.identity(), std::time::Instant::now())?;
    let doc = body.doc.unwrap_or_else(|| MAIN_DOC.to_owned());
    state.store().draft_doc(&agreement.id, &doc).await?;
    let update = decode_update(&body.update).map_err(|m| Error::field("update", &m))?;
    let editor = staff_editor(&state, session).await?;
    // Drafting from the case page while seated in the session is still that session's work.
    let live = state.rooms().live_seat(&case.id, caller.identity());
    let applied = drafts::apply(
        &state,
        &agreement,
        &doc,
        &update,
        ChangedBy {
            editor: &editor,
            seat: None,
            session: live.as_ref().map(|s| &s.session_id),
        },
    )
    .await?;
    if applied.reopened.is_some() {
        super::announce(&state, &case.id);
    }
    Ok(Json(Seq { seq: applied.seq }))
}

#[derive(Serialize)]
struct NewDoc {
    doc: String,
}

async fn new_private_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<NewDoc>)> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let session = caller.mediator_of(&case)?;
    let editor = staff_editor(&state, session).await?;
    let copy = {
        let mut guard = state.drafts().lock(&state, &agreement.id, MAIN_DOC).await?;
        guard.loaded()?.draft.full_update()
    };
    let doc = state
        .store()
        .create_private_draft(&agreement.id, copy, &editor)
        .await?;
    super::announce(&state, &case.id);
    Ok((StatusCode::CREATED, Json(NewDoc { doc: doc.doc })))
}

#[derive(Deserialize)]
struct ShowBody {
    side: Option<Side>,
}

async fn show_private_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
    body: crate::error::JsonBody<ShowBody>,
) -> Result<Json<AgreementView>> {
    let body = crate::error::json_body(body)?;
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let session = caller.mediator_of(&case)?;
    let editor = staff_editor(&state, session).await?;
    let shown = state
        .store()
        .show_private_draft(
            &agreement.id,
            &DraftId::from(doc.as_str()),
            body.side,
            &editor,
        )
        .await?;
    // Seats of the side it was shown to before stop receiving its changes.
    state.drafts().retain_followers(&agreement.id, &doc, |f| {
        state
            .rooms()
            .case_seat(&f.room, &f.participant_id)
            .is_some_and(|s| accord_cases::access::sees_draft(&shown, s.moderator, s.side))
    });
    super::announce(&state, &case.id);
    let agreement = state.store().agreement(&agreement.id).await?;
    view_for(&state, &caller, &agreement, &case).await
}

/// The parties block of the canonical text: who agrees, as the case records them (ID numbers
/// only ever masked), then the organisation and the mediator.
pub(crate) async fn parties_block(
    state: &AppState,
    case: &Case,
    locale: &str,
) -> Result<Vec<String>> {
    let zh = locale != "en";
    let parties = state.store().parties(&case.id).await?;
    let name_of = |id: &PartyId| {
        parties
            .iter()
            .find(|p| &p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for side in [Side::Applicant, Side::Respondent] {
        let label = match (side, zh) {
            (Side::Applicant, true) => "申请人",
            (Side::Respondent, true) => "被申请人",
            (Side::Applicant, false) => "Applicant",
            (Side::Respondent, false) => "Respondent",
        };
        for p in parties.iter().filter(|p| p.side == side) {
            let line = match p.kind {
                PartyKind::Person | PartyKind::Organisation => {
                    let id_label = match (p.kind == PartyKind::Person, zh) {
                        (true, true) => "身份证号",
                        (false, true) => "证件号",
                        (_, false) => "ID",
                    };
                    match (&p.id_number_masked, zh) {
                        (Some(n), true) => format!("{label}：{}（{id_label} {n}）", p.name),
                        (Some(n), false) => format!("{label}: {} ({id_label} {n})", p.name),
                        (None, true) => format!("{label}：{}", p.name),
                        (None, false) => format!("{label}: {}", p.name),
                    }
                }
                PartyKind::Representative => {
                    let of = p.represents.as_ref().map(name_of).unwrap_or_default();
                    if zh {
                        format!("{label}：{}（代理人，代理 {of}）", p.name)
                    } else {
                        format!("{label}: {} (representative of {of})", p.name)
                    }
                }
                // Interpreters and experts help; they are not parties to the agreement.
                _ => continue,
            };
            lines.push(line);
        }
    }
    let organisation = state
        .store()
        .organisation(&case.organisation_id)
        .await?
        .name;
    lines.push(if zh {
        format!("调解组织：{organisation}")
    } else {
        format!("Mediation organisation: {organisation}")
    });
    if let Some(mediator) = &case.mediator_id {
        let name = state.store().staff(mediator).await?.display_name;
        lines.push(if zh {
            format!("调解员：{name}")
        } else {
            format!("Mediator: {name}")
        });
    }
    Ok(lines)
}

async fn finalise(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AgreementView>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let session = caller.mediator_of(&case)?;
    let editor = staff_editor(&state, session).await?;
    let parties = parties_block(&state, &case, &agreement.locale).await?;
    // Under the main document's lock: no update slips in between the text and the version.
    let version = {
        let mut guard = state.drafts().lock(&state, &agreement.id, MAIN_DOC).await?;
        let draft: &Draft = &guard.loaded()?.draft;
        let text = canonical_text(
            &draft.title(),
            &parties,
            &draft.clauses(),
            &agreement.locale,
        );
        state
            .store()
            .finalise(&agreement.id, &text, &editor)
            .await?
    };
    let (noted, live) = noted_caller(&state, &caller, &case.id).await?;
    note(
        &state,
        &case.id,
        live,
        SessionEventKind::AgreementFinalised,
        noted,
        None,
        format!("version {} sha256 {}", version.version, version.text_sha256),
    )
    .await?;
    let agreement = state.store().agreement(&agreement.id).await?;
    super::announce_agreement(&state, &agreement);
    view_for(&state, &caller, &agreement, &case).await
}
