//! What each member is told about the others: the one rule for who sees whom, and the
//! differences sent after every change.

use std::collections::HashMap;

use accord_protocol::{ChatMessage, ConnectionHealth, LeaveReason, ParticipantInfo, Space};

use super::{Member, Notice, RoomState};
use accord_cases::store::model::Side;
use accord_cases::tokens::Role;

/// How `other` appears to `viewer`, if at all. Moderators see everyone admitted, with their
/// space. Anyone else sees the people in their own space, and mediators elsewhere only as
/// being elsewhere (and whether that is the viewer's other side's room, so a party waiting
/// in caucus is told the truth): never who else is in another space, nor how many.
fn view_of(viewer: &Member, other: &Member) -> Option<ParticipantInfo> {
    if other.hidden || other.waiting || viewer.waiting || viewer.info.id == other.info.id {
        return None;
    }
    let mut info = other.info.clone();
    if viewer.is_moderator() {
        info.space = Some(other.space);
        return Some(info);
    }
    if other.space == viewer.space {
        return Some(info);
    }
    if other.info.role == Role::Mediator {
        info.elsewhere = true;
        info.with_other_side = viewer.info.side.is_some_and(|side| {
            other.space
                == match side {
                    Side::Applicant => Space::Respondent,
                    Side::Respondent => Space::Applicant,
                }
        });
        return Some(info);
    }
    None
}

fn view(room: &RoomState, viewer: &Member) -> HashMap<String, ParticipantInfo> {
    room.members
        .values()
        .filter_map(|other| view_of(viewer, other).map(|info| (info.id.clone(), info)))
        .collect()
}

/// The connection health `viewer` may see: a moderator everyone admitted (what a court's
/// video-hearing console shows the presiding judge), anyone else only their own.
pub(super) fn health_of(room: &RoomState, viewer: &Member) -> Vec<ConnectionHealth> {
    let visible = |other: &&Member| {
        other.info.id == viewer.info.id
            || (viewer.is_moderator() && view_of(viewer, other).is_some())
    };
    let mut entries: Vec<ConnectionHealth> = room
        .members
        .values()
        .filter(visible)
        .filter_map(|m| {
            m.health
                .as_ref()
                .map(|h| ConnectionHealth::of(&m.info.id, h))
        })
        .collect();
    entries.sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    entries
}

/// The waiting list as moderators see it, oldest first.
pub(super) fn waiting_list(room: &RoomState) -> Vec<ParticipantInfo> {
    let mut waiting: Vec<&Member> = room.members.values().filter(|m| m.waiting).collect();
    waiting.sort_by_key(|m| m.arrived);
    waiting.into_iter().map(|m| m.info.clone()).collect()
}

/// Everyone `participant_id` sees now, in a stable order; from here on they are sent
/// differences.
pub(super) fn take_view(
    room: &mut RoomState,
    participant_id: &str,
) -> Option<Vec<ParticipantInfo>> {
    let member = room.members.get(participant_id)?;
    let seen = view(room, member);
    let waiting: Vec<ParticipantInfo> = if member.is_moderator() {
        waiting_list(room)
    } else {
        Vec::new()
    };
    let mut others: Vec<ParticipantInfo> = seen.values().cloned().collect();
    others.sort_by(|a, b| a.id.cmp(&b.id));
    let member = room.members.get_mut(participant_id)?;
    member.seen = seen;
    member.in_view = true;
    member.seen_waiting = Vec::new();
    // The waiting list follows as its own notice, so a moderator who enters sees it at once.
    if !waiting.is_empty() {
        member.seen_waiting = waiting.iter().map(|p| p.id.clone()).collect();
        member.tell(Notice::WaitingRoom(waiting));
    }
    Some(others)
}

/// Sends every member in view the difference between what they were told and what they see
/// now. `gone` gives the reason for seats that no longer exist; anyone else who left a view
/// went to another space.
pub(super) fn sync(room: &mut RoomState, gone: &[(String, LeaveReason)]) {
    let waiting: Vec<ParticipantInfo> = waiting_list(room);
    let waiting_ids: Vec<String> = waiting.iter().map(|p| p.id.clone()).collect();
    let ids: Vec<String> = room.members.keys().cloned().collect();
    for id in ids {
        let Some(member) = room.members.get(&id) else {
            continue;
        };
        if !member.in_view || member.notices.is_none() {
            continue;
        }
        let now = view(room, member);
        let mut notices = Vec::new();
        for (other, before) in &member.seen {
            match now.get(other) {
                None => {
                    let reason = gone
                        .iter()
                        .find(|(g, _)| g == other)
                        .map_or(LeaveReason::Moved, |(_, r)| *r);
                    notices.push(Notice::Left {
                        participant_id: other.clone(),
                        reason,
                    });
                }
                Some(after) if after != before => {
                    let only_pause = ParticipantInfo {
                        paused: after.paused,
                        ..before.clone()
                    } == *after;
                    notices.push(if only_pause {
                        Notice::Paused {
                            participant_id: other.clone(),
                            paused: after.paused,
                        }
                    } else {
                        Notice::Updated(after.clone())
                    });
                }
                Some(_) => {}
            }
        }
        let mut arrived: Vec<&ParticipantInfo> = now
            .iter()
            .filter(|(other, _)| !member.seen.contains_key(*other))
            .map(|(_, info)| info)
            .collect();
        arrived.sort_by(|a, b| a.id.cmp(&b.id));
        notices.extend(arrived.into_iter().cloned().map(Notice::Joined));
        let waiting_changed = member.is_moderator() && member.seen_waiting != waiting_ids;
        if waiting_changed {
            notices.push(Notice::WaitingRoom(waiting.clone()));
        }
        for notice in notices {
            member.tell(notice);
        }
        if let Some(member) = room.members.get_mut(&id) {
            member.seen = now;
            if waiting_changed {
                member.seen_waiting = waiting_ids.clone();
            }
        }
    }
}

/// A chat message as a reader sees it: the space is for moderators' eyes.
pub(super) fn chat_for(message: &ChatMessage, moderator: bool) -> ChatMessage {
    ChatMessage {
        space: if moderator { message.space } else { None },
        ..message.clone()
    }
}
