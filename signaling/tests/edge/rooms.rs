//! Who is in which room: admission and the waiting room, a locked room, removal, and what
//! each side is shown while the mediator keeps the sides in their private rooms.

use accord_cases::store::model::{PartyKind, Side};
use accord_cases::tokens::JoinClaims;
use accord_protocol::{LeaveReason, Role, Space};
use accord_signaling::rooms::{Admission, AdmitError, Notice, RoomError, Rooms, Seating};

fn claims(identity: &str, role: Role, hidden: bool) -> JoinClaims {
    JoinClaims {
        sub: identity.into(),
        name: identity.to_uppercase(),
        room: "r".into(),
        role,
        can_publish: true,
        can_subscribe: true,
        hidden,
        case: None,
        session: None,
        inv: None,
        aud: "accord-join".into(),
        iat: 0,
        nbf: 0,
        exp: 0,
    }
}

fn party(side: Side, follows: Option<&str>) -> Seating {
    Seating {
        side: Some(side),
        kind: Some(if follows.is_some() {
            PartyKind::Representative
        } else {
            PartyKind::Person
        }),
        follows: follows.map(str::to_owned),
        lobby: true,
        session: None,
    }
}

/// Admits and, if waiting, lets a moderator admit; then enters the room view.
fn enter(rooms: &Rooms, who: &str, role: Role, seating: Seating, host: Option<&str>) -> Admission {
    let a = rooms
        .admit(&claims(who, role, false), seating, 20)
        .expect("room has space");
    if a.waiting {
        let host = host.expect("a host to admit");
        rooms
            .admit_waiting("r", host, Some(&a.participant.id))
            .expect("host admits");
    }
    rooms.snapshot("r", &a.participant.id).expect("in the room");
    a
}

fn drain(a: &mut Admission) -> Vec<Notice> {
    let mut out = Vec::new();
    while let Ok(n) = a.notices.try_recv() {
        out.push(n);
    }
    out
}

#[test]
fn a_full_room_refuses_and_a_rejoin_replaces_the_old_seat() {
    let rooms = Rooms::default();
    let a = enter(&rooms, "alice", Role::Mediator, Seating::default(), None);
    let mut b = enter(&rooms, "bob", Role::Party, Seating::default(), None);
    assert_eq!(
        rooms
            .admit(&claims("carol", Role::Party, false), Seating::default(), 2)
            .err(),
        Some(AdmitError::Full)
    );
    let again = enter(&rooms, "alice", Role::Mediator, Seating::default(), None);
    assert_ne!(again.participant.id, a.participant.id);
    let left = drain(&mut b).into_iter().any(|n| {
        matches!(n, Notice::Left { participant_id, reason }
            if participant_id == a.participant.id && reason == LeaveReason::Replaced)
    });
    assert!(left, "bob was told the old seat was replaced");
}

#[test]
fn hidden_participants_are_never_listed_or_announced() {
    let rooms = Rooms::default();
    let mut visible_one = enter(&rooms, "alice", Role::Mediator, Seating::default(), None);
    let _hidden = rooms
        .admit(&claims("rec", Role::Guest, true), Seating::default(), 5)
        .expect("admit");
    assert!(drain(&mut visible_one).is_empty());
    let late = enter(&rooms, "bob", Role::Party, Seating::default(), None);
    let snapshot = rooms.snapshot("r", &late.participant.id).expect("in room");
    assert_eq!(snapshot.others.len(), 1);
}

#[test]
fn parties_wait_until_admitted_and_a_locked_room_takes_nobody_new() {
    let rooms = Rooms::default();
    let mut host = enter(&rooms, "med", Role::Mediator, Seating::default(), None);
    let guest = rooms
        .admit(
            &claims("zhang", Role::Party, false),
            party(Side::Applicant, None),
            20,
        )
        .expect("admit");
    assert!(guest.waiting);
    let waiting = drain(&mut host)
        .into_iter()
        .find_map(|n| match n {
            Notice::WaitingRoom(list) => Some(list),
            _ => None,
        })
        .expect("the host hears of the waiting list");
    assert_eq!(waiting[0].name, "ZHANG");
    assert_eq!(
        rooms.admit_waiting("r", &guest.participant.id, None),
        Err(RoomError::NotModerator),
        "a waiting party cannot admit itself"
    );
    rooms
        .set_locked("r", &host.participant.id, true)
        .expect("lock");
    assert_eq!(
        rooms
            .admit(
                &claims("li", Role::Party, false),
                party(Side::Respondent, None),
                20
            )
            .err(),
        Some(AdmitError::Locked)
    );
    assert_eq!(
        rooms.admit_waiting("r", &host.participant.id, None),
        Ok(1),
        "someone who was waiting before the lock can still be let in"
    );
}

#[test]
fn in_caucus_a_party_sees_only_its_own_space_and_the_mediator_as_elsewhere() {
    let rooms = Rooms::default();
    let med = enter(&rooms, "med", Role::Mediator, Seating::default(), None);
    let host = med.participant.id.clone();
    let mut a = enter(
        &rooms,
        "a1",
        Role::Party,
        party(Side::Applicant, None),
        Some(&host),
    );
    let a_rep = enter(
        &rooms,
        "a2",
        Role::Party,
        party(Side::Applicant, Some("a1")),
        Some(&host),
    );
    let b = enter(
        &rooms,
        "b1",
        Role::Party,
        party(Side::Respondent, None),
        Some(&host),
    );
    let b_rep = enter(
        &rooms,
        "b2",
        Role::Party,
        party(Side::Respondent, Some("b1")),
        Some(&host),
    );
    drain(&mut a);
    let moved = rooms
        .move_to("r", &host, &b.participant.id, Space::Respondent)
        .expect("move");
    assert_eq!(moved.len(), 2, "the representative follows their party");
    assert_eq!(
        rooms.space_of("r", &b_rep.participant.id),
        Some(Space::Respondent)
    );
    rooms
        .move_to("r", &host, &a.participant.id, Space::Applicant)
        .expect("move");
    // From here on, nothing about side B may reach side A.
    drain(&mut a);
    rooms
        .move_to("r", &host, &host, Space::Respondent)
        .expect("the mediator goes to side B");
    rooms
        .raise_hand("r", &b.participant.id, true)
        .expect("B raises a hand");
    let (said, _) = rooms
        .prepare_chat("r", &b.participant.id, "只在B方说")
        .expect("chat");
    rooms.deliver_chat("r", said);
    let b_interpreter = enter(
        &rooms,
        "b3",
        Role::Party,
        party(Side::Respondent, Some("b1")),
        Some(&host),
    );
    assert_eq!(
        rooms.space_of("r", &b_interpreter.participant.id),
        Some(Space::Respondent),
        "a helper admitted later joins their party's private room"
    );
    let b_ids = [
        b.participant.id.clone(),
        b_rep.participant.id.clone(),
        b_interpreter.participant.id.clone(),
    ];
    for notice in drain(&mut a) {
        let text = format!("{notice:?}");
        for id in &b_ids {
            assert!(!text.contains(id.as_str()), "side A heard of {id}: {text}");
        }
        // Names as Debug prints them, quoted: a random seat id may contain "B1".
        assert!(
            ["\"B1\"", "\"B2\"", "\"B3\""]
                .iter()
                .all(|name| !text.contains(name)),
            "{text}"
        );
        assert!(!text.contains("只在B方说"), "{text}");
    }
    let seen = rooms.snapshot("r", &a.participant.id).expect("in").others;
    let ids: Vec<&str> = seen.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        2,
        "A sees its representative and the mediator: {ids:?}"
    );
    assert!(ids.contains(&a_rep.participant.id.as_str()));
    let mediator = seen.iter().find(|p| p.id == host).expect("mediator listed");
    assert!(mediator.elsewhere && mediator.space.is_none());
    assert_eq!(
        rooms.move_to("r", &a.participant.id, &b.participant.id, Space::Joint),
        Err(RoomError::NotModerator)
    );
    rooms.gather("r", &host).expect("gather");
    assert_eq!(
        rooms
            .snapshot("r", &a.participant.id)
            .expect("in")
            .others
            .len(),
        5
    );
}

#[test]
fn a_party_asked_to_come_alone_leaves_their_representative_behind() {
    let rooms = Rooms::default();
    let med = enter(&rooms, "med", Role::Mediator, Seating::default(), None);
    let host = med.participant.id.clone();
    let a = enter(
        &rooms,
        "a1",
        Role::Party,
        party(Side::Applicant, None),
        Some(&host),
    );
    let a_rep = enter(
        &rooms,
        "a2",
        Role::Party,
        party(Side::Applicant, Some("a1")),
        Some(&host),
    );
    let moved = rooms
        .move_alone("r", &host, &a.participant.id, Space::Applicant)
        .expect("move alone");
    assert_eq!(
        moved,
        vec![a.participant.id.clone()],
        "only the party moves"
    );
    assert_eq!(
        rooms.space_of("r", &a_rep.participant.id),
        Some(Space::Joint),
        "the representative stays in the joint room"
    );
    assert!(
        rooms
            .move_alone(
                "r",
                &a.participant.id,
                &a_rep.participant.id,
                Space::Applicant
            )
            .is_err(),
        "only a moderator moves people"
    );
}

#[test]
fn a_party_in_caucus_is_told_the_mediator_is_with_the_other_side_only_when_so() {
    let rooms = Rooms::default();
    let host = enter(&rooms, "med", Role::Mediator, Seating::default(), None)
        .participant
        .id;
    let [a, b] = [("a1", Side::Applicant), ("b1", Side::Respondent)].map(|(who, side)| {
        enter(&rooms, who, Role::Party, party(side, None), Some(&host))
            .participant
            .id
    });
    rooms
        .move_to("r", &host, &a, Space::Applicant)
        .expect("move A");
    rooms
        .move_to("r", &host, &b, Space::Respondent)
        .expect("move B");
    let mediator_as_seen_by = |who: &str| {
        rooms
            .snapshot("r", who)
            .expect("in")
            .others
            .into_iter()
            .find(|p| p.id == host)
            .expect("the mediator is listed")
    };
    // Separated, the mediator still alone in the joint room: with neither side.
    for side in [&a, &b] {
        let seen = mediator_as_seen_by(side);
        assert!(seen.elsewhere && !seen.with_other_side, "{seen:?}");
    }
    rooms
        .move_to("r", &host, &host, Space::Respondent)
        .expect("the mediator goes to side B");
    let at_a = mediator_as_seen_by(&a);
    assert!(at_a.elsewhere && at_a.with_other_side, "{at_a:?}");
    assert!(
        at_a.space.is_none(),
        "A is not told which room by name: {at_a:?}"
    );
    let at_b = mediator_as_seen_by(&b);
    assert!(
        !at_b.elsewhere && !at_b.with_other_side,
        "B has the mediator here: {at_b:?}"
    );
}

#[test]
fn chat_reaches_only_its_space_and_moderators() {
    let rooms = Rooms::default();
    let mut med = enter(&rooms, "med", Role::Mediator, Seating::default(), None);
    let host = med.participant.id.clone();
    let a = enter(
        &rooms,
        "a1",
        Role::Party,
        party(Side::Applicant, None),
        Some(&host),
    );
    let mut b = enter(
        &rooms,
        "b1",
        Role::Party,
        party(Side::Respondent, None),
        Some(&host),
    );
    rooms
        .move_to("r", &host, &a.participant.id, Space::Applicant)
        .expect("move");
    drain(&mut med);
    drain(&mut b);
    let (message, _) = rooms
        .prepare_chat("r", &a.participant.id, " 我同意分期 ")
        .expect("chat");
    rooms.deliver_chat("r", message);
    assert!(
        !drain(&mut b).iter().any(|n| matches!(n, Notice::Chat(_))),
        "the other side never sees a caucus chat"
    );
    let heard = drain(&mut med).into_iter().find_map(|n| match n {
        Notice::Chat(m) => Some(m),
        _ => None,
    });
    let heard = heard.expect("the mediator sees it");
    assert_eq!(heard.text, "我同意分期");
    assert_eq!(heard.space, Some(Space::Applicant));
    assert_eq!(
        rooms.prepare_chat("r", &a.participant.id, "   ").err(),
        Some(RoomError::BadRequest("a chat message needs some text"))
    );
}

#[test]
fn a_removed_identity_cannot_come_back() {
    let rooms = Rooms::default();
    let med = enter(&rooms, "med", Role::Mediator, Seating::default(), None);
    let host = med.participant.id.clone();
    let mut a = enter(
        &rooms,
        "a1",
        Role::Party,
        party(Side::Applicant, None),
        Some(&host),
    );
    rooms
        .remove_by("r", &host, &a.participant.id, "扰乱秩序")
        .expect("remove");
    assert!(drain(&mut a).iter().any(|n| matches!(
        n,
        Notice::YouAreGone(LeaveReason::Removed, Some(reason)) if reason == "扰乱秩序"
    )));
    assert_eq!(
        rooms
            .admit(
                &claims("a1", Role::Party, false),
                party(Side::Applicant, None),
                20
            )
            .err(),
        Some(AdmitError::Removed)
    );
}
