//! What several nodes sharing one database rely on, on SQLite and PostgreSQL (see `store.rs`
//! for the databases): the session record stays in order across a failover.

#[macro_use]
mod common;

use accord_cases::SessionId;
use accord_cases::store::model::{SessionEvent, SessionEventKind};
use accord_cases::store::{Store, StoreKeys, new_id, next_seq, now_ms};
use common::recordings::live_session;
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
