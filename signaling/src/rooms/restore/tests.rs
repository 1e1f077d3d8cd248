//! Replaying a session record gives back what the room held: who may come back without
//! waiting, where each person was, and what each person may read.

use accord_cases::store::model::{SessionEvent, SessionEventKind};
use accord_protocol::Space;

use super::Restored;
use crate::rooms::SessionLink;

const MEDIATOR: &str = "ST_mediator";
const APPLICANT: &str = "PT_applicant";
const RESPONDENT: &str = "PT_respondent";

fn link() -> SessionLink {
    SessionLink {
        case_id: "CA_case".into(),
        session_id: "SE_session".into(),
    }
}

struct Entry(SessionEvent);

fn entry(seq: i64, kind: SessionEventKind) -> Entry {
    Entry(SessionEvent {
        id: format!("SV_{seq}").into(),
        seq,
        detail: None,
        ..SessionEvent::by_the_server(
            "SE_session".into(),
            "CA_case".into(),
            seq,
            kind,
            String::new(),
        )
    })
}

impl Entry {
    fn by(mut self, identity: &str, role: &str) -> Self {
        self.0.actor_identity = Some(identity.into());
        self.0.actor_name = Some(format!("name of {identity}"));
        self.0.actor_role = Some(role.into());
        self
    }
    fn to(mut self, identity: &str) -> Self {
        self.0.subject_identity = Some(identity.into());
        self
    }
    fn in_space(mut self, space: &str) -> Self {
        self.0.space = Some(space.into());
        self
    }
    fn saying(mut self, detail: &str) -> Self {
        self.0.detail = Some(detail.into());
        self
    }
}

/// A mediator and both parties, admitted from the waiting room; the respondent is then moved
/// into their private room, where they chat and share a file.
fn separated() -> Vec<SessionEvent> {
    use SessionEventKind::*;
    vec![
        entry(1, Joined).by(MEDIATOR, "mediator").in_space("joint"),
        entry(2, Waiting).by(APPLICANT, "party"),
        entry(3, Waiting).by(RESPONDENT, "party"),
        entry(4, Admitted)
            .by(MEDIATOR, "mediator")
            .to(APPLICANT)
            .in_space("joint"),
        entry(5, Admitted)
            .by(MEDIATOR, "mediator")
            .to(RESPONDENT)
            .in_space("joint"),
        entry(6, Chat)
            .by(APPLICANT, "party")
            .in_space("joint")
            .saying("大家好"),
        entry(7, Moved)
            .by(MEDIATOR, "mediator")
            .to(RESPONDENT)
            .in_space("respondent")
            .saying("joint → respondent"),
        entry(8, Chat)
            .by(RESPONDENT, "party")
            .in_space("respondent")
            .saying("只对调解员说"),
        entry(9, EvidenceShared)
            .by(RESPONDENT, "party")
            .in_space("respondent")
            .saying("EV_receipt 维修 收据.jpg"),
    ]
    .into_iter()
    .map(|e| e.0)
    .collect()
}

#[test]
fn admitted_people_come_back_to_their_private_room_without_waiting() {
    let restored = Restored::replay(&link(), &separated());
    for who in [MEDIATOR, APPLICANT, RESPONDENT] {
        assert!(restored.admitted().contains(who), "{who} was let in");
    }
    assert_eq!(restored.last_space(RESPONDENT), Some(Space::Respondent));
    assert_eq!(
        restored.last_space(APPLICANT),
        None,
        "never moved: joint room"
    );
    assert!(!restored.locked());
}

#[test]
fn chat_keeps_its_room_and_a_shared_file_is_shown_only_in_the_room_it_was_shared_in() {
    let restored = Restored::replay(&link(), &separated());
    let chat = restored.chat();
    assert_eq!(chat.len(), 2);
    assert_eq!(chat[0].space, Some(Space::Joint));
    assert_eq!(chat[1].space, Some(Space::Respondent));
    assert_eq!(chat[1].text, "只对调解员说");
    assert!(chat.iter().all(|m| m.participant_id.is_empty()));
    assert!(restored.shown("EV_receipt", RESPONDENT));
    assert!(
        restored.shown("EV_receipt", MEDIATOR),
        "mediators see every room"
    );
    assert!(
        !restored.shown("EV_receipt", APPLICANT),
        "the other side never saw it"
    );
}

#[test]
fn someone_still_waiting_waits_again_and_a_removal_stays() {
    use SessionEventKind::*;
    let mut events = separated();
    events.extend(
        [
            entry(10, Waiting).by("PT_late", "party"),
            entry(11, Removed)
                .by(MEDIATOR, "mediator")
                .to(APPLICANT)
                .saying("扰乱秩序"),
            entry(12, Locked).by(MEDIATOR, "mediator"),
        ]
        .into_iter()
        .map(|e| e.0),
    );
    let restored = Restored::replay(&link(), &events);
    assert!(!restored.admitted().contains("PT_late"));
    assert!(restored.is_removed(APPLICANT));
    assert!(restored.locked());
}

#[test]
fn a_room_that_emptied_starts_afresh_but_remembers_removals() {
    use SessionEventKind::*;
    let mut events = separated();
    events.extend(
        [
            entry(10, Removed)
                .by(MEDIATOR, "mediator")
                .to(APPLICANT)
                .saying("扰乱秩序"),
            entry(11, Left)
                .by(RESPONDENT, "party")
                .in_space("respondent")
                .saying("left"),
            entry(12, Left)
                .by(MEDIATOR, "mediator")
                .in_space("joint")
                .saying("left"),
        ]
        .into_iter()
        .map(|e| e.0),
    );
    let restored = Restored::replay(&link(), &events);
    assert!(restored.admitted().is_empty());
    assert!(restored.chat().is_empty());
    assert_eq!(restored.last_space(RESPONDENT), None);
    assert!(restored.is_removed(APPLICANT));
}

#[test]
fn a_second_failover_carries_the_room_over_again() {
    use SessionEventKind::*;
    let mut events = separated();
    events.extend(
        [
            entry(10, NodeFailover).saying("N_a → N_b"),
            entry(11, Joined)
                .by(RESPONDENT, "party")
                .in_space("respondent"),
        ]
        .into_iter()
        .map(|e| e.0),
    );
    let restored = Restored::replay(&link(), &events);
    assert!(restored.admitted().contains(APPLICANT));
    assert_eq!(restored.last_space(RESPONDENT), Some(Space::Respondent));
    // Only the respondent came back; their leaving empties the room on the new node.
    events.push(
        entry(12, Left)
            .by(RESPONDENT, "party")
            .in_space("respondent")
            .saying("left")
            .0,
    );
    let restored = Restored::replay(&link(), &events);
    assert!(restored.admitted().is_empty());
}

#[test]
fn people_a_draining_node_let_go_keep_their_rooms() {
    use SessionEventKind::*;
    let mut events = separated();
    events.extend(
        [
            entry(10, Left)
                .by(APPLICANT, "party")
                .in_space("joint")
                .saying("node_moving"),
            entry(11, Left)
                .by(RESPONDENT, "party")
                .in_space("respondent")
                .saying("node_moving"),
            entry(12, Left)
                .by(MEDIATOR, "mediator")
                .in_space("joint")
                .saying("node_moving"),
        ]
        .into_iter()
        .map(|e| e.0),
    );
    let restored = Restored::replay(&link(), &events);
    assert!(restored.admitted().contains(APPLICANT));
    assert_eq!(restored.last_space(RESPONDENT), Some(Space::Respondent));
    assert_eq!(restored.chat().len(), 2);
}

fn claims(identity: &str, role: accord_cases::tokens::Role) -> accord_cases::tokens::JoinClaims {
    accord_cases::tokens::JoinClaims {
        sub: identity.into(),
        name: format!("name of {identity}"),
        room: "room-1".into(),
        role,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: Some("CA_case".into()),
        session: Some("SE_session".into()),
        inv: None,
        aud: "accord".into(),
        iat: 0,
        nbf: 0,
        exp: u64::MAX,
    }
}

fn party_seating(side: accord_cases::store::model::Side) -> crate::rooms::Seating {
    crate::rooms::Seating {
        side: Some(side),
        lobby: true,
        session: Some(link()),
        ..crate::rooms::Seating::default()
    }
}

#[tokio::test]
async fn a_rebuilt_room_seats_a_returning_party_in_their_private_room_and_a_newcomer_waits() {
    use accord_cases::store::model::Side;
    use accord_cases::tokens::Role;
    let rooms = crate::rooms::Rooms::default();
    assert!(!rooms.has_room("room-1"));
    {
        let _gate = rooms.rebuild_gate("room-1").await;
        rooms.restore("room-1", Restored::replay(&link(), &separated()));
    }
    assert!(rooms.has_room("room-1"), "kept for its first seat");

    let back = rooms
        .admit(
            &claims(RESPONDENT, Role::Party),
            party_seating(Side::Respondent),
            20,
        )
        .expect("the respondent is seated");
    assert!(!back.waiting, "let in before: no waiting room");
    assert_eq!(
        rooms.space_of("room-1", &back.participant.id),
        Some(Space::Respondent)
    );
    let snapshot = rooms
        .snapshot("room-1", &back.participant.id)
        .expect("a snapshot");
    let texts: Vec<&str> = snapshot.chat.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["只对调解员说"], "only their own room's chat");
    assert!(rooms.may_fetch_evidence("room-1", RESPONDENT, "EV_receipt"));
    assert!(!rooms.may_fetch_evidence("room-1", APPLICANT, "EV_receipt"));

    let newcomer = rooms
        .admit(
            &claims("PT_new", Role::Party),
            party_seating(Side::Applicant),
            20,
        )
        .expect("a newcomer is seated");
    assert!(newcomer.waiting, "someone never let in waits");
}

#[tokio::test]
async fn joins_wait_at_the_gate_while_the_room_is_rebuilt() {
    let rooms = crate::rooms::Rooms::default();
    let gate = rooms.rebuild_gate("room-1").await;
    let waiting = {
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let _gate = rooms.rebuild_gate("room-1").await;
            rooms.has_room("room-1")
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the second join waits");
    rooms.restore("room-1", Restored::replay(&link(), &separated()));
    drop(gate);
    assert!(
        waiting.await.expect("the waiting join ends"),
        "it finds the rebuilt room"
    );
}
