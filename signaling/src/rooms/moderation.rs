//! What moderators do to a room (admit, deny, lock, move, mute, remove, end), and what
//! everyone admitted may do (raise a hand, chat, share a file). Every action is checked here
//! against the actor's seat, whatever the client's screen offered.

use std::collections::HashSet;

use accord_protocol::{ChatMessage, LeaveReason, SharedEvidence, Space};
use accord_sfu::TrackSource;

use super::minutes::RoomMinutes;
use super::{Member, Notice, RoomState, Rooms, view};
use accord_cases::store::model::SessionEvent;
use accord_cases::store::model::SessionEventKind;
use accord_cases::tokens::Role;

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Longest removal or denial reason, in characters.
const MAX_REASON_CHARS: usize = 500;

/// Why a room action was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RoomError {
    /// Only a moderator may do this.
    NotModerator,
    /// No such seat, or not one the action applies to.
    UnknownParticipant(&'static str),
    /// The request itself is wrong.
    BadRequest(&'static str),
    /// The room or the actor's seat is gone.
    Gone,
}

impl std::fmt::Display for RoomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoomError::NotModerator => f.write_str("only the mediator may do this"),
            RoomError::UnknownParticipant(m) | RoomError::BadRequest(m) => f.write_str(m),
            RoomError::Gone => f.write_str("you are no longer in this room"),
        }
    }
}

fn moderator<'a>(room: &'a RoomState, by: &str) -> Result<&'a Member, RoomError> {
    let actor = room.members.get(by).ok_or(RoomError::Gone)?;
    if actor.is_moderator() {
        Ok(actor)
    } else {
        Err(RoomError::NotModerator)
    }
}

fn admitted<'a>(room: &'a RoomState, id: &str) -> Result<&'a Member, RoomError> {
    room.members
        .get(id)
        .filter(|m| !m.waiting && !m.hidden)
        .ok_or(RoomError::UnknownParticipant(
            "no such participant in the room",
        ))
}

fn reason_text(reason: &str) -> Result<String, RoomError> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(RoomError::BadRequest("a reason is at most 500 characters"));
    }
    Ok(reason.to_owned())
}

impl Rooms {
    fn with_room<T>(
        &self,
        room: &str,
        act: impl FnOnce(&mut RoomState) -> Result<T, RoomError>,
    ) -> Result<T, RoomError> {
        let mut rooms = self.lock();
        let state = rooms.get_mut(room).ok_or(RoomError::Gone)?;
        act(state)
    }

    /// Lets one waiting person in, or everyone waiting. Returns how many were admitted.
    pub fn admit_waiting(
        &self,
        room: &str,
        by: &str,
        target: Option<&str>,
    ) -> Result<usize, RoomError> {
        self.with_room(room, |state| {
            moderator(state, by)?;
            let chosen: Vec<String> = match target {
                Some(id) => {
                    if !state.members.get(id).is_some_and(|m| m.waiting) {
                        return Err(RoomError::UnknownParticipant(
                            "nobody by that id is waiting",
                        ));
                    }
                    vec![id.to_owned()]
                }
                None => view::waiting_list(state)
                    .into_iter()
                    .map(|p| p.id)
                    .collect(),
            };
            for id in &chosen {
                let follows_space = state
                    .members
                    .get(id)
                    .and_then(|m| m.follows.as_ref())
                    .and_then(|party| {
                        state
                            .members
                            .values()
                            .find(|m| &m.info.identity == party && !m.waiting)
                            .map(|m| m.space)
                    });
                let Some(member) = state.members.get_mut(id) else {
                    continue;
                };
                member.waiting = false;
                if let Some(space) = follows_space {
                    member.space = space;
                }
                member.tell(Notice::Admitted);
                let identity = member.info.identity.clone();
                let space = member.space;
                state.admitted.insert(identity);
                if let (Some(actor), Some(subject)) = (state.members.get(by), state.members.get(id))
                {
                    self.minutes.note(
                        state,
                        SessionEventKind::Admitted,
                        Some(actor),
                        Some(subject),
                        Some(space),
                        None,
                    );
                }
            }
            view::sync(state, &[]);
            Ok(chosen.len())
        })
    }

    /// Turns a waiting person away with a reason.
    pub fn deny(&self, room: &str, by: &str, target: &str, reason: &str) -> Result<(), RoomError> {
        let reason = reason_text(reason)?;
        let denied = self.with_room(room, |state| {
            let actor = moderator(state, by)?;
            let subject = state.members.get(target).filter(|m| m.waiting).ok_or(
                RoomError::UnknownParticipant("nobody by that id is waiting"),
            )?;
            self.minutes.note(
                state,
                SessionEventKind::Denied,
                Some(actor),
                Some(subject),
                None,
                Some(reason.clone()),
            );
            let denied = state.members.remove(target);
            if let Some(m) = &denied {
                m.tell(Notice::YouAreGone(LeaveReason::Denied, Some(reason)));
            }
            view::sync(state, &[]);
            Ok(denied)
        })?;
        drop(denied);
        Ok(())
    }

    /// Locks or unlocks the room.
    pub fn set_locked(&self, room: &str, by: &str, locked: bool) -> Result<(), RoomError> {
        self.with_room(room, |state| {
            let actor = moderator(state, by)?;
            if state.locked == locked {
                return Ok(());
            }
            let kind = if locked {
                SessionEventKind::Locked
            } else {
                SessionEventKind::Unlocked
            };
            self.minutes
                .note(state, kind, Some(actor), None, None, None);
            state.locked = locked;
            for m in state.members.values().filter(|m| m.in_view) {
                m.tell(Notice::Locked(locked));
            }
            Ok(())
        })
    }

    /// Moves someone (and the helpers who follow them) to a space. Returns who moved.
    pub fn move_to(
        &self,
        room: &str,
        by: &str,
        target: &str,
        to: Space,
    ) -> Result<Vec<String>, RoomError> {
        self.relocate_person(room, by, target, to, false)
    }

    /// Moves only this person, leaving their helpers where they are: the free-will question
    /// before signing is asked with the party alone. Returns who moved.
    pub fn move_alone(
        &self,
        room: &str,
        by: &str,
        target: &str,
        to: Space,
    ) -> Result<Vec<String>, RoomError> {
        self.relocate_person(room, by, target, to, true)
    }

    fn relocate_person(
        &self,
        room: &str,
        by: &str,
        target: &str,
        to: Space,
        alone: bool,
    ) -> Result<Vec<String>, RoomError> {
        self.with_room(room, |state| {
            moderator(state, by)?;
            let subject = admitted(state, target)?;
            let identity = subject.info.identity.clone();
            let mut moving: Vec<String> = vec![target.to_owned()];
            // Helpers follow their party, unless it is a mediator moving only themself or the
            // party is asked to come alone.
            if subject.info.role != Role::Mediator && !alone {
                moving.extend(
                    state
                        .members
                        .values()
                        .filter(|m| m.follows.as_deref() == Some(identity.as_str()) && !m.waiting)
                        .map(|m| m.info.id.clone()),
                );
            }
            Ok(self.relocate(state, by, &moving, to))
        })
    }

    /// Everyone back to the joint room. Returns who moved.
    pub fn gather(&self, room: &str, by: &str) -> Result<Vec<String>, RoomError> {
        self.with_room(room, |state| {
            moderator(state, by)?;
            let moving: Vec<String> = state
                .members
                .values()
                .filter(|m| m.space != Space::Joint && !m.waiting)
                .map(|m| m.info.id.clone())
                .collect();
            Ok(self.relocate(state, by, &moving, Space::Joint))
        })
    }

    fn relocate(
        &self,
        state: &mut RoomState,
        by: &str,
        moving: &[String],
        to: Space,
    ) -> Vec<String> {
        let mut moved = Vec::new();
        for id in moving {
            let Some(member) = state.members.get_mut(id) else {
                continue;
            };
            if member.space == to {
                continue;
            }
            let from = member.space;
            member.space = to;
            let identity = member.info.identity.clone();
            state.last_space.insert(identity, to);
            if let (Some(actor), Some(subject)) = (state.members.get(by), state.members.get(id)) {
                self.minutes.note(
                    state,
                    SessionEventKind::Moved,
                    Some(actor),
                    Some(subject),
                    Some(to),
                    Some(format!("{} → {}", from.as_str(), to.as_str())),
                );
            }
            moved.push(id.clone());
        }
        // Everyone learns who is now in view before any mover's media moves, so a track the
        // media server announces after the move never names someone the client has not met.
        view::sync(state, &[]);
        for id in &moved {
            if let Some(member) = state.members.get(id) {
                member.tell(Notice::Moved(to));
            }
        }
        super::recording::after_move(&self.minutes, state, by, &moved);
        moved
    }

    /// Asks someone to turn a source on (never forces it).
    pub fn ask_unmute(
        &self,
        room: &str,
        by: &str,
        target: &str,
        source: TrackSource,
    ) -> Result<(), RoomError> {
        self.with_room(room, |state| {
            let actor = moderator(state, by)?;
            let subject = admitted(state, target)?;
            subject.tell(Notice::UnmuteRequested {
                source,
                by: actor.info.name.clone(),
            });
            let detail = source_name(source).to_owned();
            self.minutes.note(
                state,
                SessionEventKind::UnmuteAsked,
                Some(actor),
                Some(subject),
                Some(subject.space),
                Some(detail),
            );
            Ok(())
        })
    }

    /// Mutes someone's microphone or stops their camera or screen.
    pub fn mute(
        &self,
        room: &str,
        by: &str,
        target: &str,
        source: TrackSource,
    ) -> Result<(), RoomError> {
        self.with_room(room, |state| {
            let actor = moderator(state, by)?;
            let subject = admitted(state, target)?;
            subject.tell(Notice::Hold(source));
            let kind = match source {
                TrackSource::Microphone => SessionEventKind::Muted,
                _ => SessionEventKind::VideoStopped,
            };
            self.minutes.note(
                state,
                kind,
                Some(actor),
                Some(subject),
                Some(subject.space),
                Some(source_name(source).to_owned()),
            );
            Ok(())
        })
    }

    /// Removes someone from the session for good.
    pub fn remove_by(
        &self,
        room: &str,
        by: &str,
        target: &str,
        reason: &str,
    ) -> Result<(), RoomError> {
        let reason = reason_text(reason)?;
        let removed = self.with_room(room, |state| {
            let actor = moderator(state, by)?;
            let subject = state.members.get(target).filter(|m| !m.hidden).ok_or(
                RoomError::UnknownParticipant("no such participant in the room"),
            )?;
            if subject.info.role == Role::Mediator {
                return Err(RoomError::UnknownParticipant(
                    "a mediator cannot be removed",
                ));
            }
            self.minutes.note(
                state,
                SessionEventKind::Removed,
                Some(actor),
                Some(subject),
                Some(subject.space),
                Some(reason.clone()),
            );
            let removed = state.members.remove(target);
            if let Some(m) = &removed {
                state.removed.insert(m.info.identity.clone());
                m.tell(Notice::YouAreGone(LeaveReason::Removed, Some(reason)));
            }
            view::sync(state, &[(target.to_owned(), LeaveReason::Removed)]);
            Ok(removed)
        })?;
        drop(removed);
        Ok(())
    }

    /// Ends the session for everyone: every seat goes.
    pub fn end(&self, room: &str, by: &str) -> Result<(), RoomError> {
        let ended = {
            let mut rooms = self.lock();
            let state = rooms.get_mut(room).ok_or(RoomError::Gone)?;
            let actor = moderator(state, by)?;
            self.minutes.note(
                state,
                SessionEventKind::Ended,
                Some(actor),
                None,
                None,
                None,
            );
            for m in state.members.values() {
                m.tell(Notice::YouAreGone(LeaveReason::Ended, None));
            }
            rooms.remove(room)
        };
        drop(ended);
        Ok(())
    }

    /// Raises or lowers a hand.
    pub fn raise_hand(&self, room: &str, id: &str, raised: bool) -> Result<(), RoomError> {
        self.with_room(room, |state| {
            let member = admitted(state, id).map_err(|_| RoomError::Gone)?;
            if member.info.hand_raised == raised {
                return Ok(());
            }
            let kind = if raised {
                SessionEventKind::HandRaised
            } else {
                SessionEventKind::HandLowered
            };
            self.minutes
                .note(state, kind, Some(member), None, Some(member.space), None);
            if let Some(member) = state.members.get_mut(id) {
                member.info.hand_raised = raised;
            }
            view::sync(state, &[]);
            Ok(())
        })
    }

    /// A chat message ready to be stored: the record entry to write before anyone sees it,
    /// and the message to [`deliver_chat`](Self::deliver_chat) once written.
    pub fn prepare_chat(
        &self,
        room: &str,
        id: &str,
        text: &str,
    ) -> Result<(ChatMessage, Option<SessionEvent>), RoomError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RoomError::BadRequest("a chat message needs some text"));
        }
        if text.chars().count() > MAX_CHAT_CHARS {
            return Err(RoomError::BadRequest(
                "a chat message is at most 2000 characters",
            ));
        }
        self.with_room(room, |state| {
            let member = admitted(state, id).map_err(|_| RoomError::Gone)?;
            let entry = super::minutes::entry(
                state,
                SessionEventKind::Chat,
                Some(member),
                None,
                Some(member.space),
                Some(text.to_owned()),
            );
            let message = ChatMessage {
                id: entry
                    .as_ref()
                    .map_or_else(|| accord_cases::store::new_id("SV"), |e| e.id.to_string()),
                participant_id: member.info.id.clone(),
                name: member.info.name.clone(),
                text: text.to_owned(),
                at: entry
                    .as_ref()
                    .map_or_else(accord_cases::store::now_ms, |e| e.at),
                space: Some(member.space),
            };
            Ok((message, entry))
        })
    }

    /// Delivers a stored chat message to its space (and to moderators anywhere).
    pub fn deliver_chat(&self, room: &str, message: ChatMessage) {
        let mut rooms = self.lock();
        let Some(state) = rooms.get_mut(room) else {
            return;
        };
        for m in state.members.values().filter(|m| m.in_view) {
            if m.is_moderator() || Some(m.space) == message.space {
                m.tell(Notice::Chat(view::chat_for(&message, m.is_moderator())));
            }
        }
        state.chat.push_back(message);
        while state.chat.len() > super::CHAT_KEPT {
            state.chat.pop_front();
        }
    }

    /// Shows a stored file to the people in the sharer's space (and moderators anywhere).
    pub fn share_evidence(
        &self,
        room: &str,
        identity: &str,
        mut evidence: SharedEvidence,
    ) -> Result<(), RoomError> {
        self.with_room(room, |state| {
            let sharer = state
                .members
                .values()
                .find(|m| m.info.identity == identity && !m.waiting && !m.hidden)
                .ok_or(RoomError::Gone)?;
            let space = sharer.space;
            evidence.participant_id = sharer.info.id.clone();
            evidence.shared_by = sharer.info.name.clone();
            self.minutes.note(
                state,
                SessionEventKind::EvidenceShared,
                Some(sharer),
                None,
                Some(space),
                Some(format!("{} {}", evidence.id, evidence.name)),
            );
            let mut shown_to: HashSet<String> = HashSet::new();
            for m in state.members.values().filter(|m| !m.waiting) {
                if m.is_moderator() || m.space == space {
                    shown_to.insert(m.info.identity.clone());
                    if m.in_view {
                        m.tell(Notice::Evidence(evidence.clone()));
                    }
                }
            }
            state
                .shared
                .entry(evidence.id.clone())
                .or_default()
                .extend(shown_to);
            Ok(())
        })
    }

    /// Whether `identity` may fetch a file shared in the room: it was shown to them, or they
    /// moderate.
    pub fn may_fetch_evidence(&self, room: &str, identity: &str, evidence_id: &str) -> bool {
        let rooms = self.lock();
        let Some(state) = rooms.get(room) else {
            return false;
        };
        let moderates = state
            .members
            .values()
            .any(|m| m.info.identity == identity && m.is_moderator());
        moderates
            || state
                .shared
                .get(evidence_id)
                .is_some_and(|who| who.contains(identity))
    }

    /// Whether a removed identity is barred from the room (kept while the room lives; the
    /// session record keeps it for good).
    pub fn is_removed(&self, room: &str, identity: &str) -> bool {
        self.lock()
            .get(room)
            .is_some_and(|r| r.removed.contains(identity))
    }
}

fn source_name(source: TrackSource) -> &'static str {
    match source {
        TrackSource::Microphone => "microphone",
        TrackSource::Camera => "camera",
        TrackSource::Screen => "screen",
        TrackSource::Unknown => "unknown",
    }
}
