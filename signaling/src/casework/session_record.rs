//! A session's record (笔录) for staff, and what the media server forwarded to whom in its
//! room (how a mediator or an auditor sees that a private room stayed private).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::invites::visible_session;
use crate::AppState;
use crate::error::Result;
use crate::staff::StaffSession;
use accord_cases::store::model::SessionEvent;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions/{id}/timeline", get(timeline))
        .route("/api/v1/sessions/{id}/media", get(media))
}

#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn timeline(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Items<SessionEvent>>> {
    let (session, _) = visible_session(&state, &staff, &id).await?;
    let items = state.store().session_events(&session.id).await?;
    Ok(Json(Items { items }))
}

/// Per subscriber in the live room: packets forwarded to it from each publisher.
#[derive(Serialize)]
struct MediaReport {
    live: bool,
    subscribers: Vec<accord_sfu::SubscriberReport>,
}

async fn media(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<MediaReport>> {
    let (session, _) = visible_session(&state, &staff, &id).await?;
    let subscribers = state
        .sfu()
        .room_report(&accord_sfu::RoomId::new(&session.room))
        .await;
    Ok(Json(MediaReport {
        live: !subscribers.is_empty(),
        subscribers,
    }))
}
