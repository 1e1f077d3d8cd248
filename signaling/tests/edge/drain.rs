//! A draining node's rooms: only rooms already live admit anyone, and at the end every seat
//! is let go with `node_moving`, held seats included, and nobody is admitted after.

use accord_cases::tokens::JoinClaims;
use accord_protocol::{LeaveReason, Role};
use accord_signaling::drain::Pending;
use accord_signaling::rooms::{AdmitError, Admits, Notice, Rooms, Seating};

fn claims(identity: &str, room: &str) -> JoinClaims {
    JoinClaims {
        sub: identity.into(),
        name: identity.to_uppercase(),
        room: room.into(),
        role: Role::Party,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: None,
        session: None,
        inv: None,
        aud: "accord-join".into(),
        iat: 0,
        nbf: 0,
        exp: 0,
    }
}

#[test]
fn a_draining_node_admits_only_into_live_rooms() {
    let rooms = Rooms::default();
    assert_eq!(rooms.admits(), Admits::All);
    let live = rooms
        .admit(&claims("alice", "live"), Seating::default(), 20)
        .expect("a serving node opens a room");
    rooms.set_admits(Admits::LiveRooms);
    assert_eq!(
        rooms
            .admit(&claims("bob", "new"), Seating::default(), 20)
            .err(),
        Some(AdmitError::Draining),
        "no new room on a draining node"
    );
    assert_eq!(
        rooms.room_count(),
        1,
        "the refused join left no room behind"
    );
    let joined = rooms
        .admit(&claims("bob", "live"), Seating::default(), 20)
        .expect("a live room still admits");
    // The room empties: it is gone, and a join for it would now open a new one.
    rooms.remove("live", &joined.participant.id, LeaveReason::Left);
    rooms.remove("live", &live.participant.id, LeaveReason::Left);
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(
        rooms
            .admit(&claims("alice", "live"), Seating::default(), 20)
            .err(),
        Some(AdmitError::Draining)
    );
}

#[test]
fn releasing_tells_every_seat_node_moving_and_admits_nobody_after() {
    let rooms = Rooms::default();
    let mut seats = Vec::new();
    for (who, room) in [("alice", "one"), ("bob", "one"), ("carol", "two")] {
        seats.push(
            rooms
                .admit(&claims(who, room), Seating::default(), 20)
                .expect("admitted"),
        );
    }
    for seat in &mut seats {
        while seat.notices.try_recv().is_ok() {}
    }
    rooms.set_admits(Admits::LiveRooms);
    let released = rooms.release_all(LeaveReason::NodeMoving);
    assert_eq!((released.rooms, released.seats), (2, 3));
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.admits(), Admits::Nobody);
    for seat in &mut seats {
        let mut told = Vec::new();
        while let Ok(n) = seat.notices.try_recv() {
            told.push(n);
        }
        assert!(
            told.iter()
                .any(|n| matches!(n, Notice::YouAreGone(LeaveReason::NodeMoving, None))),
            "each seat is told to move: {told:?}"
        );
    }
    assert_eq!(
        rooms
            .admit(&claims("alice", "one"), Seating::default(), 20)
            .err(),
        Some(AdmitError::Draining),
        "after the release not even a room that was live admits"
    );
}

#[test]
fn a_node_is_idle_only_with_nothing_left_to_store() {
    assert!(Pending::default().is_idle());
    // Open sockets that never joined a room hold nothing.
    assert!(
        Pending {
            sockets: 3,
            ..Pending::default()
        }
        .is_idle()
    );
    for busy in [
        Pending {
            rooms: 1,
            ..Pending::default()
        },
        Pending {
            recordings: 1,
            ..Pending::default()
        },
        Pending {
            finalising: 1,
            ..Pending::default()
        },
        Pending {
            uploads: 2,
            ..Pending::default()
        },
        Pending {
            deliveries: 1,
            ..Pending::default()
        },
    ] {
        assert!(!busy.is_idle(), "{busy:?} is not idle");
    }
}
