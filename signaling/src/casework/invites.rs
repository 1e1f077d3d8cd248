//! `/api/v1/sessions/{id}/…` and `/api/v1/invites/…`: inviting people to a session, and
//! the mediator opening its room. The handlers here; by job beside them: whether a token
//! still admits ([`admission`]), join tokens and links ([`links`]), the link as a QR code
//! ([`qr`]). What an invite says and how long it lives are the domain's
//! ([`accord_cases::invites`]), and so is the log channel that records a message was due
//! ([`accord_cases::notify`]).
//!
//! An invite's link carries a join token whose claims name the case, the session, the
//! person and the invite. The token alone does not admit: [`check_join`] looks the invite
//! up at every join, so revoking it (or the session ending) shuts the link at once.

mod admission;
mod links;
mod qr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use admission::{check_join, check_party_link, check_staff_seat};
use links::{base_url, invite_token, join_link, mediator_token};

use super::{Body, Problems, body, party_of};
use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::{CaseWorker, StaffSession};
use accord_cases::invites::{DEFAULT_TTL_HOURS, Invitation, Language, MAX_TTL_HOURS, status_of};
use accord_cases::store::model::{
    Case, CaseStatus, Invite, Organisation, Party, PartyKind, Session, Side, StaffRole,
};
use accord_cases::store::{mask_phone, now_ms};
use accord_cases::{CaseId, InviteId, PartyId, SessionId};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sessions/{id}/invites",
            get(list_invites).post(create_invite),
        )
        .route("/api/v1/sessions/{id}/start", post(start))
        .route("/api/v1/invites/{id}", get(show_invite))
        .route("/api/v1/invites/{id}/qr.svg", get(qr_svg))
        .route("/api/v1/invites/{id}/qr.png", get(qr_png))
        .route("/api/v1/invites/{id}/revoke", post(revoke))
        .route("/api/v1/invites/{id}/send", post(send))
}

/// An invite as staff see it: who, until when, the link, and the text to send.
#[derive(Debug, Serialize)]
struct InviteView {
    id: InviteId,
    session_id: SessionId,
    case_id: CaseId,
    party_id: PartyId,
    name: String,
    side: Side,
    kind: PartyKind,
    link: String,
    expires_at: i64,
    revoked_at: Option<i64>,
    created_at: i64,
    status: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct Items<T> {
    items: Vec<T>,
}

/// Everything an invite's view and message are made from.
struct Context {
    case: Case,
    session: Session,
    organisation: Organisation,
    base_url: String,
}

/// The session `id` and its case, if the bearer may see the case (404 otherwise).
pub(super) async fn visible_session(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
) -> Result<(Session, Case)> {
    let viewer = staff.viewer();
    Ok(state
        .store()
        .visible_session(&viewer, &SessionId::from(id))
        .await?)
}

/// The invite `id`, the person it invites and its context, if the bearer may see its case.
async fn visible_invite(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
) -> Result<(Invite, Party, Context)> {
    let viewer = staff.viewer();
    let (invite, session, case) = state
        .store()
        .visible_invite(&viewer, &InviteId::from(id))
        .await?;
    let context = context(state, session, case).await?;
    let party = state.store().party(&invite.party_id).await?;
    Ok((invite, party, context))
}

async fn context(state: &AppState, session: Session, case: Case) -> Result<Context> {
    Ok(Context {
        organisation: state.store().organisation(&case.organisation_id).await?,
        base_url: base_url(state),
        case,
        session,
    })
}

impl Context {
    /// What the invite of `party` says, in the words of [`accord_cases::invites`].
    fn invitation<'a>(&'a self, party: &'a Party) -> Invitation<'a> {
        Invitation {
            party,
            case: &self.case,
            organisation: &self.organisation,
            session: &self.session,
        }
    }
}

fn view(state: &AppState, invite: Invite, party: &Party, context: &Context) -> Result<InviteView> {
    let token = invite_token(state, &invite, party, &context.session)?;
    let link = join_link(&context.base_url, &token);
    Ok(InviteView {
        message: context
            .invitation(party)
            .text(Language::Chinese, &link, invite.expires_at),
        status: status_of(&invite, now_ms() / 1000),
        name: party.name.clone(),
        side: party.side,
        kind: party.kind,
        link,
        id: invite.id,
        session_id: invite.session_id,
        case_id: invite.case_id,
        party_id: invite.party_id,
        expires_at: invite.expires_at,
        revoked_at: invite.revoked_at,
        created_at: invite.created_at,
    })
}

async fn list_invites(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Json<Items<InviteView>>> {
    let (session, case) = visible_session(&state, &staff, &id).await?;
    let parties = state.store().parties(&case.id).await?;
    let invites = state.store().invites_of_session(&session.id).await?;
    let context = context(&state, session, case).await?;
    let mut items = Vec::with_capacity(invites.len());
    for invite in invites {
        let Some(party) = parties.iter().find(|p| p.id == invite.party_id) else {
            return Err(Error::Internal(format!(
                "invite {} names a missing party",
                invite.id
            )));
        };
        items.push(view(&state, invite, party, &context)?);
    }
    Ok(Json(Items { items }))
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    party_id: Option<String>,
    ttl_hours: Option<serde_json::Value>,
}

async fn create_invite(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
    form: Body<InviteForm>,
) -> Result<(StatusCode, Json<InviteView>)> {
    let (session, case) = visible_session(&state, &staff, &id).await?;
    let form = body(form)?;
    let mut problems = Problems::default();
    let party_id = problems.text("party_id", form.party_id.as_deref(), 64);
    let ttl_hours = match &form.ttl_hours {
        None | Some(serde_json::Value::Null) => DEFAULT_TTL_HOURS,
        Some(value) => match value.as_i64() {
            Some(h) if (1..=MAX_TTL_HOURS).contains(&h) => h,
            _ => {
                problems.add("ttl_hours", &format!("1–{MAX_TTL_HOURS}"));
                DEFAULT_TTL_HOURS
            }
        },
    };
    problems.finish()?;
    let party = party_of(&state, &case, &party_id).await?;
    let invite = state
        .store()
        .create_invite(&staff.actor(), &session.id, &party.id, ttl_hours * 3600)
        .await?;
    let context = context(&state, session, case).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, invite, &party, &context)?),
    ))
}

async fn show_invite(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Json<InviteView>> {
    let (invite, party, context) = visible_invite(&state, &staff, &id).await?;
    Ok(Json(view(&state, invite, &party, &context)?))
}

async fn invite_link(state: &AppState, staff: &CaseWorker, id: &str) -> Result<String> {
    let (invite, party, context) = visible_invite(state, staff, id).await?;
    let token = invite_token(state, &invite, &party, &context.session)?;
    Ok(join_link(&context.base_url, &token))
}

async fn qr_svg(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Response> {
    qr::svg(&invite_link(&state, &staff, &id).await?)
}

async fn qr_png(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Response> {
    qr::png(&invite_link(&state, &staff, &id).await?)
}

async fn revoke(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Json<InviteView>> {
    let (invite, party, context) = visible_invite(&state, &staff, &id).await?;
    let revoked = state
        .store()
        .revoke_invite(&staff.actor(), &invite.id)
        .await?;
    Ok(Json(view(&state, revoked, &party, &context)?))
}

#[derive(Debug, Default, Deserialize)]
struct SendForm {
    lang: Option<String>,
}

#[derive(Debug, Serialize)]
struct Sent {
    channel: &'static str,
    to_masked: String,
    message: String,
}

async fn send(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
    form: Option<Json<SendForm>>,
) -> Result<(StatusCode, Json<Sent>)> {
    let language = Language::from_tag(form.and_then(|f| f.0.lang).as_deref())
        .ok_or_else(|| Error::field("lang", "zh-CN or en"))?;
    let (invite, party, context) = visible_invite(&state, &staff, &id).await?;
    if !invite.is_active(now_ms() / 1000) {
        return Err(Error::Conflict(
            "the invite is revoked or expired; make a new one".into(),
        ));
    }
    let Some(phone) = party.phone.clone() else {
        return Err(Error::Conflict(
            "no phone number is on record for this person; copy the message instead".into(),
        ));
    };
    let token = invite_token(&state, &invite, &party, &context.session)?;
    let link = join_link(&context.base_url, &token);
    let invitation = context.invitation(&party);
    let text = invitation.text(language, &link, invite.expires_at);
    let notification = invitation.notification(&invite, phone.clone(), link, text.clone());
    let notifier = state.notifier();
    notifier.send(&notification).await?;
    state
        .store()
        .record_invite_sent(&staff.actor(), &invite, notifier.channel())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Sent {
            channel: notifier.channel(),
            to_masked: mask_phone(&phone),
            message: text,
        }),
    ))
}

#[derive(Debug, Serialize)]
struct Started {
    token: String,
    link: String,
    session: Session,
}

/// Opens the session's room for the mediator: the session goes live, the case moves into
/// mediation (assigning it to the mediator who opens it, if nobody had it), and the
/// mediator gets a join token for the room.
async fn start(
    State(state): State<AppState>,
    staff: CaseWorker,
    Path(id): Path<String>,
) -> Result<Json<Started>> {
    let (session, case) = visible_session(&state, &staff, &id).await?;
    let store = state.store();
    let actor = staff.actor();
    let me = store.staff(&staff.sub).await?;
    let case = if case.status == CaseStatus::Accepted && me.role == StaffRole::Mediator {
        store.assign_case(&actor, &case.id, &me.id).await?
    } else {
        case
    };
    if case.status == CaseStatus::Assigned {
        store
            .transition_case(&actor, &case.id, CaseStatus::InMediation)
            .await?;
    }
    let session = store.start_session(&actor, &session.id).await?;
    let token = mediator_token(&state, &me, &case, &session)?;
    let link = join_link(&base_url(&state), &token);
    Ok(Json(Started {
        token,
        link,
        session,
    }))
}
