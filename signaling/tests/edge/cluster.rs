//! The cluster handle: two nodes on the real local Redis (a key prefix of their own per
//! test, removed after), and the single-node backend.

use std::time::{Duration, Instant};

use accord_signaling::cluster::{Cluster, ClusterConfig, ClusterError, ClusterEvent, Load};
use accord_signaling::limits::Limiter;

const LEASE: Duration = Duration::from_secs(3);

/// The Redis the cluster tests use (`ACCORD_TEST_REDIS_URL`, default the local one).
pub(crate) fn redis_url() -> String {
    std::env::var("ACCORD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The config of node `node` of the cluster under `prefix` (on the local Redis, a 3 s lease).
pub(crate) fn config(prefix: &str, node: &str) -> ClusterConfig {
    ClusterConfig {
        node_id: node.into(),
        redis_url: Some(redis_url()),
        internal_url: format!("http://{node}.internal:8080"),
        media_addr: "127.0.0.1:40000".into(),
        max_rooms: 0,
        lease: LEASE,
        prefix: prefix.into(),
    }
}

/// A key prefix of a test's own, so tests running at once never see each other's nodes.
pub(crate) fn fresh_prefix() -> String {
    format!("accord-test-{}", accord_sfu::random_token(10))
}

/// Removes every key of `prefix`.
pub(crate) async fn clean(prefix: &str) {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .expect("in time")
    .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .expect("del");
    }
}

async fn two_nodes(prefix: &str) -> (Cluster, Cluster) {
    let a = Cluster::start(config(prefix, "N_a")).await.expect("node a");
    let b = Cluster::start(config(prefix, "N_b")).await.expect("node b");
    (a, b)
}

fn busy(rooms: u32) -> Load {
    Load {
        rooms,
        participants: rooms * 2,
        ..Load::default()
    }
}

/// A heartbeat (every lease/3) has carried what was just reported.
async fn next_heartbeat() {
    tokio::time::sleep(LEASE / 3 + Duration::from_millis(300)).await;
}

#[tokio::test]
async fn two_nodes_list_each_other_and_new_rooms_go_to_the_less_loaded() {
    let prefix = fresh_prefix();
    let (a, b) = two_nodes(&prefix).await;
    assert!(a.clustered() && b.clustered());
    let ids: Vec<String> = a.live_nodes().await.into_iter().map(|n| n.id).collect();
    assert_eq!(ids, ["N_a", "N_b"]);
    assert!(a.is_live("N_b").await && b.is_live("N_a").await);
    assert!(!a.is_live("N_nobody").await);

    a.report_load(busy(5));
    b.report_load(busy(0));
    next_heartbeat().await;
    let first = a.place("room:one").await.expect("placed");
    assert_eq!(first.owner, "N_b", "the idle node takes it");
    assert!(!first.local && first.moved_from.is_none());
    assert_eq!(first.internal_url, "http://N_b.internal:8080");
    let again = b.place("room:one").await.expect("placed");
    assert_eq!((again.owner.as_str(), again.local), ("N_b", true));
    assert_eq!(
        a.owner_of("room:one")
            .await
            .expect("owner")
            .map(|p| p.owner),
        Some("N_b".into())
    );

    a.report_load(busy(0));
    b.report_load(busy(9));
    next_heartbeat().await;
    let second = b.place("room:two").await.expect("placed");
    assert_eq!((second.owner.as_str(), second.local), ("N_a", false));
    assert_eq!(
        b.place("room:one").await.expect("placed").owner,
        "N_b",
        "a live owner keeps its room whatever its load"
    );

    // A room that emptied is given up by its owner only.
    a.release("room:one").await.expect("release");
    assert!(a.owner_of("room:one").await.expect("owner").is_some());
    b.release("room:one").await.expect("release");
    assert!(a.owner_of("room:one").await.expect("owner").is_none());

    a.leave().await;
    b.leave().await;
    clean(&prefix).await;
}

#[tokio::test]
async fn a_node_that_stops_heartbeating_is_gone_within_the_lease_and_its_room_moves() {
    let prefix = fresh_prefix();
    let (a, b) = two_nodes(&prefix).await;
    a.report_load(busy(5));
    next_heartbeat().await;
    let placed = a.place("session:SE_1").await.expect("placed");
    assert_eq!(placed.owner, "N_b");

    b.halt();
    let stopped = Instant::now();
    while a.is_live("N_b").await {
        assert!(
            stopped.elapsed() < LEASE + Duration::from_secs(2),
            "still listed {:?} after its last heartbeat",
            stopped.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: Vec<String> = a.live_nodes().await.into_iter().map(|n| n.id).collect();
    assert_eq!(ids, ["N_a"]);

    let moved = a.place("session:SE_1").await.expect("placed again");
    assert_eq!(moved.owner, "N_a");
    assert!(moved.local);
    assert_eq!(
        moved.moved_from.as_deref(),
        Some("N_b"),
        "the caller records who had it"
    );
    let settled = a.place("session:SE_1").await.expect("placed");
    assert_eq!(settled.moved_from, None, "told once");

    a.leave().await;
    clean(&prefix).await;
}

#[tokio::test]
async fn a_draining_node_gets_no_new_placements_but_keeps_its_own() {
    let prefix = fresh_prefix();
    let (a, b) = two_nodes(&prefix).await;
    b.report_load(busy(9));
    next_heartbeat().await;
    assert_eq!(a.place("room:kept").await.expect("placed").owner, "N_a");

    let mut heard = b.subscribe();
    a.set_draining(true);
    assert!(a.draining());
    let event = tokio::time::timeout(Duration::from_secs(2), heard.recv())
        .await
        .expect("in time")
        .expect("event");
    assert_eq!(
        event,
        ClusterEvent::NodeDraining {
            node_id: "N_a".into()
        }
    );
    next_heartbeat().await;
    let listed = b.live_nodes().await;
    assert!(listed.iter().any(|n| n.id == "N_a" && n.draining));
    for key in ["room:new-1", "room:new-2"] {
        assert_eq!(
            a.place(key).await.expect("placed").owner,
            "N_b",
            "the busy node, as the other drains"
        );
    }
    assert_eq!(a.place("room:kept").await.expect("placed").owner, "N_a");

    b.set_draining(true);
    next_heartbeat().await;
    assert!(matches!(
        b.place("room:new-3").await,
        Err(ClusterError::NoNodeAvailable)
    ));

    a.leave().await;
    b.leave().await;
    clean(&prefix).await;
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_every_node_once() {
    let prefix = fresh_prefix();
    let (a, b) = two_nodes(&prefix).await;
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    let event = ClusterEvent::AgreementChanged {
        case_id: "CA_1".into(),
    };
    a.publish(event.clone());
    for rx in [&mut on_a, &mut on_b] {
        let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("in time")
            .expect("event");
        assert_eq!(got, event);
    }
    // Nothing more: A skips its own coming back from Redis.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(on_a.try_recv().is_err(), "A applied it twice");
    assert!(on_b.try_recv().is_err(), "B applied it twice");

    a.leave().await;
    b.leave().await;
    clean(&prefix).await;
}

#[tokio::test]
async fn a_shared_limiter_refuses_on_one_node_after_hits_on_the_other() {
    let prefix = fresh_prefix();
    let (a, b) = two_nodes(&prefix).await;
    // An hour's window: the test does not straddle two.
    let on_a = Limiter::new(3, Duration::from_secs(3600));
    let on_b = Limiter::new(3, Duration::from_secs(3600));
    on_a.share("login_test");
    on_b.share("login_test");
    let now = Instant::now();
    for _ in 0..3 {
        on_a.hit("203.0.113.9", now).expect("within the limit");
    }
    assert!(on_a.hit("203.0.113.9", now).is_err());
    a.flush_limits(&[&on_a]).await.expect("pushed");

    // B has not heard of the key yet: one hit gets through (the bound the module documents),
    // and its push reads every node's total back.
    on_b.hit("203.0.113.9", now).expect("not yet known here");
    b.flush_limits(&[&on_b]).await.expect("pushed");
    assert!(
        on_b.check("203.0.113.9", now).is_err(),
        "refused across nodes"
    );
    assert!(on_b.take("203.0.113.9", now).is_err());
    assert!(on_b.hit("198.51.100.1", now).is_ok(), "other keys are not");

    a.leave().await;
    b.leave().await;
    clean(&prefix).await;
}

#[tokio::test]
async fn redis_unreachable_at_start_refuses_without_the_password() {
    let mut config = config(&fresh_prefix(), "N_a");
    config.redis_url = Some("redis://:hunter2secret@127.0.0.1:1".into());
    let err = Cluster::start(config)
        .await
        .expect_err("nothing listens there");
    let message = err.to_string();
    assert!(message.contains("cannot reach"), "{message}");
    assert!(!message.contains("hunter2secret"), "{message}");
}

#[tokio::test]
async fn a_single_node_places_everything_here_until_it_drains_or_fills() {
    let node = Cluster::local(ClusterConfig {
        node_id: "N_solo".into(),
        max_rooms: 2,
        ..ClusterConfig::default()
    });
    assert!(!node.clustered());
    assert_eq!(node.node_id(), "N_solo");
    assert!(node.is_live("N_solo").await);
    assert!(!node.is_live("N_other").await);
    let listed = node.live_nodes().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "N_solo");

    for key in ["room:a", "room:b"] {
        let placed = node.place(key).await.expect("placed");
        assert!(placed.local && placed.moved_from.is_none());
        assert_eq!(placed.owner, "N_solo");
    }
    assert!(matches!(
        node.place("room:c").await,
        Err(ClusterError::NoNodeAvailable)
    ));
    node.release("room:a").await.expect("release");
    assert!(node.owner_of("room:a").await.expect("owner").is_none());
    node.place("room:c").await.expect("room for it now");

    let mut events = node.subscribe();
    node.set_draining(true);
    assert!(matches!(
        node.place("room:d").await,
        Err(ClusterError::NoNodeAvailable)
    ));
    assert!(node.place("room:b").await.expect("kept").local);
    assert_eq!(
        events.try_recv().expect("told at once"),
        ClusterEvent::NodeDraining {
            node_id: "N_solo".into()
        }
    );
    node.publish(ClusterEvent::StaffDisabled {
        staff_id: "ST_1".into(),
    });
    assert!(matches!(
        events.try_recv(),
        Ok(ClusterEvent::StaffDisabled { .. })
    ));
    assert!(events.try_recv().is_err(), "once");

    // A shared limiter on a single node is flushed nowhere and limits as it counts.
    let limiter = Limiter::new(1, Duration::from_secs(3600));
    limiter.share("solo");
    node.flush_limits(&[&limiter]).await.expect("nothing to do");
    let now = Instant::now();
    assert!(limiter.hit("k", now).is_ok());
    assert!(limiter.hit("k", now).is_err());
}

#[test]
fn events_are_tagged_json() {
    let json = serde_json::to_value(ClusterEvent::DraftUpdated {
        agreement_id: "AG_1".into(),
        doc: "main".into(),
    })
    .expect("json");
    assert_eq!(
        json,
        serde_json::json!({"type": "draft_updated", "agreement_id": "AG_1", "doc": "main"})
    );
}

/// A TCP relay to Redis that the test can cut, as a network failure would.
pub(crate) struct Relay {
    pub(crate) url: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    pub(crate) async fn start() -> Relay {
        let target = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("redis://{}", listener.local_addr().expect("addr"));
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let copy = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                held.lock().expect("tasks").push(copy);
            }
        });
        tasks.lock().expect("tasks").push(accept);
        Relay { url, tasks }
    }

    /// Closes the listener and every connection through it.
    pub(crate) fn cut(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }
}

#[tokio::test]
async fn with_redis_gone_after_start_a_node_keeps_its_rooms_and_serves_new_ones() {
    let prefix = fresh_prefix();
    let relay = Relay::start().await;
    let mut through = config(&prefix, "N_cut");
    through.redis_url = Some(relay.url.clone());
    let node = Cluster::start(through)
        .await
        .expect("started through the relay");
    let other = Cluster::start(config(&prefix, "N_other"))
        .await
        .expect("other");
    node.report_load(busy(9));
    next_heartbeat().await;
    assert_eq!(
        node.place("room:there").await.expect("placed").owner,
        "N_other"
    );
    other.report_load(busy(20));
    next_heartbeat().await;
    assert!(node.place("room:here").await.expect("placed").local);

    relay.cut();
    let asked = Instant::now();
    let kept = node.place("room:here").await.expect("no error: kept here");
    assert!(kept.local);
    let new = node.place("room:new").await.expect("no error: served here");
    assert!(new.local && new.owner == "N_cut");
    assert!(
        node.is_live("N_other").await,
        "nothing of another node is taken over on a guess"
    );
    assert_eq!(node.live_nodes().await.len(), 1, "only itself, as it knows");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "every call timed out in time"
    );
    node.publish(ClusterEvent::AgreementChanged {
        case_id: "CA_2".into(),
    });

    node.halt();
    other.leave().await;
    clean(&prefix).await;
}
