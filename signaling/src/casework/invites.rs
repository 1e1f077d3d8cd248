//! `/api/v1/sessions/{id}/…` and `/api/v1/invites/…`: inviting people to a session, and
//! the mediator opening its room.
//!
//! An invite's link carries a join token signed with the server's secret whose claims name
//! the case, the session, the person (`sub` = party id) and the invite (`inv`). Signing is
//! deterministic, so the link is rebuilt from the invite's row whenever staff want to copy
//! it again, and nothing secret is stored. The token alone does not admit: [`check_join`]
//! looks the invite up at every join, so revoking it (or the session ending) shuts the
//! link at once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};

use super::{Body, Problems, body, party_of, require_case_worker, visible_case};
use crate::AppState;
use crate::auth::{JoinClaims, Role};
use crate::error::{Error, Result};
use crate::notify::Notification;
use crate::staff::StaffSession;
use accord_cases::access::Seat;
use accord_cases::store::model::{
    Case, CaseStatus, Invite, Organisation, Party, PartyKind, Session, Side, StaffRole,
};
use accord_cases::store::{ChinaTime, china_time, mask_phone, now_ms};

/// Invites live three days unless staff say otherwise, and a week at most.
const DEFAULT_TTL_HOURS: i64 = 72;
const MAX_TTL_HOURS: i64 = 168;
/// A mediator's own seat lasts a working day.
const MEDIATOR_TTL_SECONDS: i64 = 10 * 3600;

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

/// Refuses a join token the domain's admission rules refuse
/// ([`accord_cases::store::Store::admits`]: a revoked or expired invite, a session that is
/// over or that the bearer was removed from, a mediator's seat whose account was disabled,
/// a token minted without a session for a case session's room), and a bearer a moderator
/// removed from the live room.
pub async fn check_join(state: &AppState, claims: &JoinClaims) -> Result<()> {
    let seat = Seat {
        sub: &claims.sub,
        room: &claims.room,
        session: claims.session.as_deref(),
        invite: claims.inv.as_deref(),
        issued_at: claims.iat,
    };
    state.store().admits(&seat).await?;
    if claims.session.is_some() && state.rooms().is_removed(&claims.room, &claims.sub) {
        return Err(Error::Unauthorized(
            "the mediator removed you from this session",
        ));
    }
    Ok(())
}

/// Refuses a mediator's seat once their staff account is disabled or its tokens were
/// revoked ([`accord_cases::store::Store::check_staff_seat`]): the 10-hour token from
/// [`start`] must not outlive either. Checked at every join and before every moderator
/// action.
pub async fn check_staff_seat(state: &AppState, staff_id: &str, issued_at: u64) -> Result<()> {
    Ok(state
        .store()
        .check_staff_seat(&staff_id.into(), issued_at)
        .await?)
}

/// An invite as staff see it: who, until when, the link, and the text to send.
#[derive(Debug, Serialize)]
struct InviteView {
    id: String,
    session_id: String,
    case_id: String,
    party_id: String,
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
    let session = match state.store().session(&id.into()).await.map_err(Error::from) {
        Ok(session) => session,
        Err(Error::NotFound(_)) => return Err(Error::NotFound("no such session")),
        Err(other) => return Err(other),
    };
    let case = visible_case(state, staff, &session.case_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => Error::NotFound("no such session"),
            other => other,
        })?;
    Ok((session, case))
}

/// The invite `id`, the person it invites and its context, if the bearer may see its case.
async fn visible_invite(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
) -> Result<(Invite, Party, Context)> {
    let invite = state.store().invite(&id.into()).await?;
    let (session, case) = visible_session(state, staff, &invite.session_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => Error::NotFound("no such invite"),
            other => other,
        })?;
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

/// Where links point: the configured public address (the binary derives one from its
/// listen address when none is set). Never the request's `Host` header: whoever sends the
/// request chooses that, and the link goes out by SMS under the organisation's name.
fn base_url(state: &AppState) -> String {
    state
        .config()
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".to_owned())
}

fn invite_token(
    state: &AppState,
    invite: &Invite,
    party: &Party,
    session: &Session,
) -> Result<String> {
    let issued = u64::try_from(invite.issued_at).unwrap_or_default();
    state.keys().sign(&JoinClaims {
        sub: party.id.to_string(),
        name: party.name.clone(),
        room: session.room.clone(),
        role: Role::Party,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: Some(invite.case_id.to_string()),
        session: Some(invite.session_id.to_string()),
        inv: Some(invite.id.to_string()),
        aud: String::new(),
        iat: issued,
        // Phone clocks run a little behind.
        nbf: issued.saturating_sub(300),
        exp: u64::try_from(invite.expires_at).unwrap_or_default(),
    })
}

fn join_link(base_url: &str, token: &str) -> String {
    // The token rides in the fragment: it never reaches server logs, proxies or Referer.
    format!("{base_url}/join#token={token}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Language {
    Chinese,
    English,
}

fn message(
    language: Language,
    party: &Party,
    context: &Context,
    link: &str,
    expires_at: i64,
) -> String {
    let (name, org) = (&party.name, &context.organisation.name);
    let (title, number) = (&context.case.title, &context.case.number);
    let at = china_time(context.session.scheduled_at);
    let until = china_time(expires_at * 1000);
    match language {
        Language::Chinese => {
            let when =
                |t: ChinaTime| format!("{}月{}日{:02}:{:02}", t.month, t.day, t.hour, t.minute);
            format!(
                "{name}您好：{org}定于{}就“{title}”（案号{number}）进行在线视频调解。\
                 请届时用手机浏览器打开以下链接，按提示检查摄像头和麦克风后进入：{link} \
                 此链接仅限您本人使用，{}前有效。",
                when(at),
                when(until)
            )
        }
        Language::English => {
            let when = |t: ChinaTime| {
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}",
                    t.year, t.month, t.day, t.hour, t.minute
                )
            };
            format!(
                "Dear {name}, {org} will hold an online video mediation of \"{title}\" (case \
                 {number}) on {} (Beijing time). At that time, open this link in your phone's \
                 browser, check your camera and microphone, and join: {link} The link is for \
                 you only and works until {}.",
                when(at),
                when(until)
            )
        }
    }
}

fn status_of(invite: &Invite) -> &'static str {
    if invite.revoked_at.is_some() {
        "revoked"
    } else if invite.is_active(now_ms() / 1000) {
        "active"
    } else {
        "expired"
    }
}

fn view(state: &AppState, invite: Invite, party: &Party, context: &Context) -> Result<InviteView> {
    let token = invite_token(state, &invite, party, &context.session)?;
    let link = join_link(&context.base_url, &token);
    Ok(InviteView {
        message: message(Language::Chinese, party, context, &link, invite.expires_at),
        status: status_of(&invite),
        name: party.name.clone(),
        side: party.side,
        kind: party.kind,
        link,
        id: invite.id.into(),
        session_id: invite.session_id.into(),
        case_id: invite.case_id.into(),
        party_id: invite.party_id.into(),
        expires_at: invite.expires_at,
        revoked_at: invite.revoked_at,
        created_at: invite.created_at,
    })
}

async fn list_invites(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Items<InviteView>>> {
    require_case_worker(&staff)?;
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
    staff: StaffSession,
    Path(id): Path<String>,
    form: Body<InviteForm>,
) -> Result<(StatusCode, Json<InviteView>)> {
    require_case_worker(&staff)?;
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
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<InviteView>> {
    require_case_worker(&staff)?;
    let (invite, party, context) = visible_invite(&state, &staff, &id).await?;
    Ok(Json(view(&state, invite, &party, &context)?))
}

async fn invite_link(state: &AppState, staff: &StaffSession, id: &str) -> Result<String> {
    require_case_worker(staff)?;
    let (invite, party, context) = visible_invite(state, staff, id).await?;
    let token = invite_token(state, &invite, &party, &context.session)?;
    Ok(join_link(&context.base_url, &token))
}

fn qr_code(link: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M)
        .map_err(|e| Error::Internal(format!("encoding a QR code: {e}")))
}

fn private_image(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The image is the link: it must not sit in shared caches.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

async fn qr_svg(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Response> {
    let link = invite_link(&state, &staff, &id).await?;
    let svg = qr_code(&link)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(private_image("image/svg+xml", svg))
}

async fn qr_png(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Response> {
    let link = invite_link(&state, &staff, &id).await?;
    let png = qr_png_bytes(&qr_code(&link)?)?;
    Ok(private_image("image/png", png))
}

/// Pixels per module and the quiet zone around the code, in modules (ISO/IEC 18004 asks
/// for four).
const PNG_SCALE: usize = 6;
const QUIET_ZONE: usize = 4;

fn qr_png_bytes(code: &QrCode) -> Result<Vec<u8>> {
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (row, column) = (index / modules + QUIET_ZONE, index % modules + QUIET_ZONE);
        for y in row * PNG_SCALE..(row + 1) * PNG_SCALE {
            let line = y * side;
            pixels[line + column * PNG_SCALE..line + (column + 1) * PNG_SCALE].fill(0);
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| Error::Internal("QR code too large".into()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let encoding = |e: png::EncodingError| Error::Internal(format!("encoding a PNG: {e}"));
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(&pixels).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    Ok(out)
}

async fn revoke(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<InviteView>> {
    require_case_worker(&staff)?;
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
    staff: StaffSession,
    Path(id): Path<String>,
    form: Option<Json<SendForm>>,
) -> Result<(StatusCode, Json<Sent>)> {
    require_case_worker(&staff)?;
    let language = match form.and_then(|f| f.0.lang).as_deref() {
        None | Some("zh-CN" | "zh") => Language::Chinese,
        Some("en") => Language::English,
        Some(_) => {
            return Err(Error::field("lang", "zh-CN or en"));
        }
    };
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
    let text = message(language, &party, &context, &link, invite.expires_at);
    let at = china_time(context.session.scheduled_at);
    let params = BTreeMap::from([
        ("name", party.name.clone()),
        ("organisation", context.organisation.name.clone()),
        ("case_number", context.case.number.clone()),
        (
            "time",
            format!(
                "{}-{:02}-{:02} {:02}:{:02}",
                at.year, at.month, at.day, at.hour, at.minute
            ),
        ),
        ("link", link),
    ]);
    let notification = Notification {
        template: "session_invite",
        to: phone.clone(),
        params,
        text: text.clone(),
        invite_id: Some(invite.id.to_string()),
    };
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
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Started>> {
    require_case_worker(&staff)?;
    let (session, case) = visible_session(&state, &staff, &id).await?;
    let store = state.store();
    let actor = staff.actor();
    let me = store.staff(&staff.0.sub).await?;
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
    let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
    let token = state.keys().sign(&JoinClaims {
        sub: me.id.to_string(),
        name: me.display_name.clone(),
        room: session.room.clone(),
        role: Role::Mediator,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: Some(case.id.to_string()),
        session: Some(session.id.to_string()),
        inv: None,
        aud: String::new(),
        iat: now,
        nbf: now.saturating_sub(5),
        exp: now + MEDIATOR_TTL_SECONDS.unsigned_abs(),
    })?;
    let link = join_link(&base_url(&state), &token);
    Ok(Json(Started {
        token,
        link,
        session,
    }))
}
