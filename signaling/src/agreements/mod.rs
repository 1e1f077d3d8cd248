//! The agreement (人民调解协议书) at the edge: templates, live drafting, versions, comments,
//! and signing. The rules and records are the domain's ([`accord_cases::agreements`] and the
//! store); this module finds who is calling, keeps the drafts being edited in memory
//! ([`drafts`]), and tells the case's live sessions what changed.
//!
//! - [`templates`]: the templates an agreement starts from, and an organisation's own.
//! - [`draft_routes`]: creating the agreement, reading it, drafting over HTTP between
//!   sessions, private drafts, history, versions, moments and finalising.
//! - [`comments`]: comments on clauses.
//! - [`view`]: the Agreement JSON every route answers with.
//! - Signing ([`signing`], [`seal`], [`pdf`], [`public`]): identity checks, signatures, the
//!   seal, the PDF and the public check of a text's hash.
//!
//! The WebSocket frames of drafting are carried out in `session::drafting`.

pub mod caller;
pub mod comments;
pub mod draft_routes;
pub mod drafts;
pub mod pdf;
pub mod public;
pub mod seal;
pub mod signing;
mod signing_identity;
mod signing_limits;
pub mod templates;
pub mod view;

use accord_cases::CaseId;
use accord_cases::agreements::model::Agreement;
use accord_protocol::ServerMessage;
use axum::Router;

use crate::AppState;
use crate::cluster::ClusterEvent;

/// Every agreement route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(templates::router())
        .merge(draft_routes::router())
        .merge(comments::router())
        .merge(signing::router())
        .merge(public::router())
}

/// Sends `agreement_changed` to every admitted seat of the case's live sessions, after any
/// change of the agreement's state: they fetch it again over HTTP. The seats may be on any
/// node, so this is a cluster event: every node (this one at once) reads the agreement in
/// the background and tells its own seats ([`crate::cluster::apply`]). Returns at once.
pub fn announce(state: &AppState, case_id: &CaseId) {
    state.cluster().publish(ClusterEvent::AgreementChanged {
        case_id: case_id.to_string(),
    });
}

/// [`announce`] for an agreement already read.
pub fn announce_agreement(state: &AppState, agreement: &Agreement) {
    let frame = ServerMessage::AgreementChanged {
        agreement_id: agreement.id.to_string(),
        status: agreement.status.as_str().to_owned(),
        version: agreement.version,
    };
    for seat in state.rooms().case_seats(&agreement.case_id) {
        state
            .rooms()
            .tell_seat(&seat.room, &seat.participant_id, frame.clone());
    }
}
