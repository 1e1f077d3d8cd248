//! A burst of new sessions spreads over the cluster's nodes: each node's load in the registry
//! is up to two thirds of a lease old, so placement also counts what it placed on each node
//! since (two nodes on the local Redis, a prefix of the test's own).

use std::collections::BTreeMap;
use std::time::Duration;

use accord_signaling::cluster::{Cluster, Load};

use crate::cluster::{clean, config, fresh_prefix};

async fn node(prefix: &str, id: &str) -> Cluster {
    Cluster::start(config(prefix, id))
        .await
        .expect("a node on the local Redis")
}

/// Places `count` sessions named `<name>-<n>`, asking through the nodes in turn, and counts
/// where they went.
async fn burst(nodes: &[&Cluster], name: &str, count: usize) -> BTreeMap<String, usize> {
    let mut owners = BTreeMap::new();
    for n in 0..count {
        let asked = nodes[n % nodes.len()];
        let placed = asked
            .place(&format!("session:{name}-{n}"))
            .await
            .expect("placed");
        *owners.entry(placed.owner).or_insert(0) += 1;
    }
    owners
}

#[tokio::test]
async fn sessions_opened_at_once_go_to_both_nodes_and_fewer_to_a_busy_one() {
    let prefix = fresh_prefix();
    let a = node(&prefix, "N_a").await;
    let b = node(&prefix, "N_b").await;

    // Both idle as last reported: ten sessions within one heartbeat split evenly.
    let owners = burst(&[&a, &b], "morning", 10).await;
    eprintln!("10 sessions at once on two idle nodes: {owners:?}");
    assert_eq!(owners.get("N_a"), Some(&5), "{owners:?}");
    assert_eq!(owners.get("N_b"), Some(&5), "{owners:?}");

    // A node that reports five rooms of two takes fewer of the next burst.
    let c = node(&prefix, "N_c").await;
    a.report_load(Load {
        rooms: 5,
        participants: 10,
        ..Load::default()
    });
    // Its next heartbeat (every lease/3) carries it.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let owners = burst(&[&a, &c], "afternoon", 10).await;
    eprintln!("10 more with N_a reporting 5 rooms: {owners:?}");
    let on_a = owners.get("N_a").copied().unwrap_or(0);
    assert!(on_a < 3, "the busy node took {on_a} of 10: {owners:?}");
    assert_eq!(owners.values().sum::<usize>(), 10);

    a.leave().await;
    b.leave().await;
    c.leave().await;
    clean(&prefix).await;
}
