//! The node's one subscriber: turns cluster events into frames for the seats on this node,
//! and samples this node's load for the registry.

use std::time::Duration;

use accord_cases::CaseId;
use accord_protocol::ServerMessage;
use tokio::sync::broadcast::error::RecvError;

use super::{ClusterEvent, CpuSampler};
use crate::AppState;

/// Starts the subscriber and the load sampler of `state`'s node. They hold the state weakly
/// and end with it.
pub(crate) fn spawn(state: &AppState) {
    let weak = state.downgrade();
    let mut events = state.cluster().subscribe();
    let every = (state.cluster().config().lease / 3).max(Duration::from_millis(500));
    tokio::spawn(async move {
        let mut sampler = CpuSampler::default();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => {
                    let event = match event {
                        Ok(event) => event,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "cluster events came faster than this node applied them");
                            continue;
                        }
                        Err(RecvError::Closed) => break,
                    };
                    let Some(state) = AppState::upgrade(&weak) else { break };
                    apply(&state, event);
                }
                _ = ticks.tick() => {
                    let Some(state) = AppState::upgrade(&weak) else { break };
                    let load = sampler.sample(state.sfu());
                    state.cluster().report_load(load);
                }
            }
        }
    });
}

/// Pushes the shared rate limits' hits to Redis and reads the totals back, every
/// [`super::redis::LIMIT_FLUSH`], while the state lives (clustered nodes only).
pub(crate) fn spawn_limit_flush(state: &AppState) {
    if !state.cluster().clustered() {
        return;
    }
    state.limits().share();
    let weak = state.downgrade();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(super::redis::LIMIT_FLUSH);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(state) = AppState::upgrade(&weak) else {
                break;
            };
            let Some(redis) = state.cluster().redis() else {
                break;
            };
            // A failed push loses those hits from the shared count: each node then limits
            // on its own, as it would without Redis.
            match redis.flush_limits(&state.limits().shared()).await {
                Ok(()) => {}
                Err(e) => redis.unreachable(&e),
            }
        }
    });
}

/// Applies one event on this node.
fn apply(state: &AppState, event: ClusterEvent) {
    match event {
        ClusterEvent::AgreementChanged { case_id } => {
            let state = state.clone();
            tokio::spawn(async move {
                let case_id = CaseId::from(case_id.as_str());
                match state.store().agreement_of_case(&case_id).await {
                    Ok(Some(agreement)) => {
                        crate::agreements::announce_agreement(&state, &agreement);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read an agreement to announce it")
                    }
                }
            });
        }
        ClusterEvent::CommentAdded {
            case_id,
            author_identity,
            comment,
        } => {
            let frame = ServerMessage::DraftComment {
                comment: comment.into(),
            };
            let case_id = CaseId::from(case_id.as_str());
            for seat in state.rooms().case_seats(&case_id) {
                if seat.moderator || seat.identity == author_identity {
                    state
                        .rooms()
                        .tell_seat(&seat.room, &seat.participant_id, frame.clone());
                }
            }
        }
        ClusterEvent::StaffDisabled { staff_id } => {
            let state = state.clone();
            tokio::spawn(async move {
                let live = match state.store().live_sessions().await {
                    Ok(live) => live,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot list live sessions to remove a disabled account's seats");
                        return;
                    }
                };
                for live in live {
                    if let Some((seat, _, _)) = state.rooms().seat_of(&live.room, &staff_id) {
                        state.rooms().remove(
                            &live.room,
                            &seat,
                            accord_protocol::LeaveReason::Removed,
                        );
                    }
                }
            });
        }
        // A node holding the draft open catches up from the store and tells its followers.
        ClusterEvent::DraftUpdated { agreement_id, doc } => {
            let state = state.clone();
            tokio::spawn(async move {
                let agreement = accord_cases::AgreementId::from(agreement_id.as_str());
                if let Err(e) = state.drafts().refresh(&state, &agreement, &doc).await {
                    tracing::error!(error = %e, "cannot catch a draft up with another node's edit");
                }
            });
        }
        // This node's own drain is logged where it starts.
        ClusterEvent::NodeDraining { node_id } if node_id != state.cluster().node_id() => {
            tracing::info!(node = %node_id, "another node is draining: it takes no new rooms");
        }
        ClusterEvent::NodeDraining { .. } => {}
    }
}
