//! What several nodes sharing one database rely on, on SQLite and PostgreSQL (see `store.rs`
//! for the databases): the session record stays in order across a failover; a running
//! recording's pieces in the blob store are listed while it runs and forgotten after; a
//! dead node's recording is taken over by one node only; and a session's takeover is recorded
//! once, in its record and the case's audit trail.

#[macro_use]
mod common;

use accord_cases::SessionId;
use accord_cases::store::model::{
    AuditAction, NewRecording, RecordingSegment, RecordingStatus, SessionEvent, SessionEventKind,
};
use accord_cases::store::{Store, StoreKeys, new_id, next_seq, now_ms};
use common::recordings::{finish, finished, live_session, mediator};
use common::{Scratch, organisation};

fn entry(seq: i64, session: &SessionId, case: &accord_cases::CaseId, detail: &str) -> SessionEvent {
    SessionEvent {
        id: new_id("SV"),
        seq,
        session_id: session.clone(),
        case_id: case.clone(),
        at: now_ms(),
        kind: SessionEventKind::Chat,
        actor_identity: None,
        actor_name: None,
        actor_role: None,
        subject_identity: None,
        subject_name: None,
        space: Some("joint".into()),
        detail: Some(detail.into()),
    }
}

async fn entries_after_a_failover_sort_after_the_dead_nodes(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (case, session) = live_session(store, &org, "漏水").await;
    // The node that served the session numbered its entries an hour ahead of this one (a
    // clock running fast): what this node writes next must still come after them.
    let ahead = next_seq() + 3_600_000_000;
    for (i, detail) in ["先到的", "后到的"].into_iter().enumerate() {
        store
            .append_session_event(&entry(ahead + i as i64, &session.id, &case.id, detail))
            .await
            .expect("the dead node's entry");
    }
    // What a node does when it opens the store or takes over a dead node's work.
    store.seed_record_seq().await.expect("seed");
    let taken_over = next_seq();
    assert!(taken_over > ahead + 1, "{taken_over} <= {}", ahead + 1);
    store
        .append_session_event(&entry(taken_over, &session.id, &case.id, "接手后"))
        .await
        .expect("the new node's entry");
    // Opening the store seeds the same way: a node starting after the dead one wrote.
    let further = next_seq() + 3_600_000_000;
    store
        .append_session_event(&entry(further, &session.id, &case.id, "再往后"))
        .await
        .expect("a later entry of the dead node");
    let reopened = Store::open(&s.url, StoreKeys::random())
        .await
        .expect("reopen");
    assert!(next_seq() > further);
    reopened.close().await;
    let details: Vec<String> = store
        .session_events(&session.id)
        .await
        .expect("record")
        .into_iter()
        .filter(|e| e.kind == SessionEventKind::Chat)
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(details, ["先到的", "后到的", "接手后", "再往后"]);
}
both_databases!(
    record_order_after_failover,
    entries_after_a_failover_sort_after_the_dead_nodes
);

async fn a_takeover_is_recorded_once_after_the_dead_nodes_entries(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (case, session) = live_session(store, &org, "漏水").await;
    // The dead node's clock ran ahead: the takeover still comes after what it wrote.
    let ahead = next_seq() + 3_600_000_000;
    store
        .append_session_event(&entry(ahead, &session.id, &case.id, "宕机前"))
        .await
        .expect("the dead node's entry");
    for first in [true, false] {
        let recorded = store
            .record_failover(&case.id, &session.id, "N_a", "N_b")
            .await
            .expect("record the takeover");
        assert_eq!(recorded, first, "recorded once");
    }
    let record = store.session_events(&session.id).await.expect("record");
    let kinds: Vec<(SessionEventKind, Option<String>)> = record
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .filter(|(k, _)| matches!(k, SessionEventKind::Chat | SessionEventKind::NodeFailover))
        .collect();
    assert_eq!(
        kinds,
        [
            (SessionEventKind::Chat, Some("宕机前".to_owned())),
            (SessionEventKind::NodeFailover, Some("N_a → N_b".to_owned())),
        ]
    );
    let audit = store
        .audit_of(&format!("case:{}", case.id))
        .await
        .expect("audit");
    let failovers: Vec<_> = audit
        .iter()
        .filter(|e| e.action == AuditAction::SessionFailedOver.as_str())
        .collect();
    assert_eq!(failovers.len(), 1);
    assert_eq!(failovers[0].actor, "system");
    assert!(failovers[0].detail.contains("\"from_node\":\"N_a\""));
    assert!(
        store
            .verify_audit()
            .await
            .expect("verify")
            .problems
            .is_empty()
    );
}
both_databases!(
    failover_recorded_once,
    a_takeover_is_recorded_once_after_the_dead_nodes_entries
);

fn piece(file: &str, start: i64, size: i64, sha: char) -> RecordingSegment {
    RecordingSegment {
        file: file.into(),
        start,
        size,
        sha256: sha.to_string().repeat(64),
    }
}

async fn a_running_recordings_pieces_are_listed_and_a_dead_nodes_taken_over_once(s: &Scratch) {
    let store = &s.store;
    let org = organisation(store, "宝安", "新安街道").await;
    let (_, session) = live_session(store, &org, "漏水").await;
    let recording = store
        .create_recording(
            &mediator(),
            NewRecording {
                session_id: session.id.clone(),
                started_by: "ST_mediator".into(),
                private_rooms_recorded: false,
                node: "N_a".into(),
            },
        )
        .await
        .expect("start");
    assert_eq!(recording.node, "N_a");
    let id = &recording.id;

    // Pieces as node A stores them, each once; listed by file and position.
    for p in [
        piece("t01-audio.rtplog", 0, 4096, 'a'),
        piece("events.jsonl", 0, 300, 'e'),
        piece("t01-audio.rtplog", 4096, 1000, 'b'),
    ] {
        assert!(store.add_recording_segment(id, &p).await.expect("add"));
    }
    assert!(
        !store
            .add_recording_segment(id, &piece("events.jsonl", 0, 300, 'e'))
            .await
            .expect("again")
    );
    let listed = store.recording_segments(id).await.expect("list");
    let order: Vec<(&str, i64)> = listed.iter().map(|p| (p.file.as_str(), p.start)).collect();
    assert_eq!(
        order,
        [
            ("events.jsonl", 0),
            ("t01-audio.rtplog", 0),
            ("t01-audio.rtplog", 4096)
        ]
    );
    // Retention leaves a listed piece's blob alone.
    assert!(store.blob_in_use(&"b".repeat(64)).await.expect("in use"));

    // Node A is gone: B and C both see it; one of them takes the recording.
    assert!(
        !store
            .take_over_recording(id, "N_x", "N_b")
            .await
            .expect("not x's")
    );
    assert!(
        store
            .take_over_recording(id, "N_a", "N_b")
            .await
            .expect("b takes it")
    );
    assert!(
        !store
            .take_over_recording(id, "N_a", "N_c")
            .await
            .expect("c is late")
    );
    assert_eq!(store.recording(id).await.expect("read").node, "N_b");

    // Finalised: no more pieces; the listed ones are forgotten, each blob named once.
    finish(
        store,
        id,
        finished(RecordingStatus::Interrupted, now_ms(), None),
    )
    .await;
    assert!(
        !store
            .add_recording_segment(id, &piece("t01-audio.rtplog", 5096, 10, 'c'))
            .await
            .expect("late piece")
    );
    assert!(
        !store
            .take_over_recording(id, "N_b", "N_c")
            .await
            .expect("ended")
    );
    let blobs = store.remove_recording_segments(id).await.expect("remove");
    assert_eq!(blobs, ["a", "b", "e"].map(|c| c.repeat(64)).to_vec());
    assert!(store.recording_segments(id).await.expect("list").is_empty());
    assert!(!store.blob_in_use(&"b".repeat(64)).await.expect("free"));
}
both_databases!(
    recording_pieces_and_take_over,
    a_running_recordings_pieces_are_listed_and_a_dead_nodes_taken_over_once
);
