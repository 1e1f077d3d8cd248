//! A session's share of evidence across the nodes of a cluster, on SQLite and PostgreSQL:
//! two nodes (two `AppState`s) on one database and the local Redis (a prefix of the test's
//! own). Uploads are HTTP and may land on either node; the share is the session's, whichever
//! node takes each file. Each node is asked as the upload route asks it
//! ([`session_share`]): is there room, then take this file.

use std::sync::Arc;
use std::time::Duration;

use accord_cases::evidence_tally::ShareAsk;
use accord_cases::store::Store;
use accord_cases::store::model::{Actor, Evidence, Session, SessionEvent, SessionEventKind};
use accord_cases::store::now_ms;
use accord_signaling::cluster::{Cluster, ClusterConfig};
use accord_signaling::evidence::session_share;
use accord_signaling::limits::RoomLimits;
use accord_signaling::{AppState, Error, SignalingConfig};

use crate::cluster::{Relay, clean, config, fresh_prefix, redis_url};
use crate::common::recordings::live_session;
use crate::common::{Scratch, organisation};

const FILES: u32 = 5;
const BYTES: u64 = 1024 * 1024;

/// A node of the cluster under `prefix`, reaching Redis at `redis`, sharing `store`.
async fn node(store: &Store, prefix: &str, id: &str, redis: String) -> (AppState, Cluster) {
    let cluster = Cluster::start(ClusterConfig {
        redis_url: Some(redis),
        ..config(prefix, id)
    })
    .await
    .expect("a node on the local Redis");
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let sfu = accord_sfu::Sfu::start(accord_sfu::SfuConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tcp: accord_sfu::TcpListen::Off,
        ..Default::default()
    })
    .expect("sfu");
    let config = SignalingConfig {
        room_limits: RoomLimits {
            evidence_per_session: FILES,
            evidence_bytes_per_session: BYTES,
            ..RoomLimits::default()
        },
        ..SignalingConfig::default()
    };
    let blobs = Arc::new(accord_cases::blobs::LocalBlobs::open(dir.join("blobs")).expect("blobs"));
    let recording = accord_signaling::recording::RecordingSettings {
        recorder: accord_recordings::recorder::RecorderConfig {
            work_dir: dir.join("recordings"),
            ..Default::default()
        },
        keys_dir: dir.join("keys"),
        notice: Duration::from_millis(0),
    };
    let state = AppState::new_in_cluster(
        sfu,
        &[9u8; 32],
        config,
        store.clone(),
        blobs,
        recording,
        cluster.clone(),
    )
    .expect("state");
    (state, cluster)
}

/// What the upload route stores once a file is taken: the evidence and its entry in the
/// session's record.
async fn stored(store: &Store, session: &Session, n: u32, size: u64) {
    let id = format!("EV_share{n}_{}", accord_sfu::random_token(6));
    store
        .add_evidence(
            &Actor::Staff("ST_mediator".into()),
            Evidence {
                id: id.as_str().into(),
                case_id: session.case_id.clone(),
                party_id: None,
                sha256: "0".repeat(64),
                media_type: "image/png".into(),
                size: i64::try_from(size).expect("small"),
                file_name: "照片.png".into(),
                uploaded_by: "ST_mediator".into(),
                created_at: now_ms(),
            },
        )
        .await
        .expect("evidence");
    store
        .append_session_event(&SessionEvent {
            id: format!("SV_{id}").into(),
            seq: i64::from(n) + 1,
            session_id: session.id.clone(),
            case_id: session.case_id.clone(),
            at: now_ms(),
            kind: SessionEventKind::EvidenceShared,
            actor_identity: None,
            actor_name: None,
            actor_role: None,
            subject_identity: None,
            subject_name: None,
            space: Some("joint".into()),
            detail: Some(format!("{id} 照片.png")),
        })
        .await
        .expect("record");
}

fn refused(answer: Result<(), Error>) -> bool {
    match answer {
        Err(Error::PayloadTooLarge(message)) => message.contains("share of evidence"),
        Ok(()) => false,
        Err(other) => panic!("a refusal past the share, not {other:?}"),
    }
}

async fn uploads_through_two_nodes_share_one_cap(s: &Scratch) {
    let store = &s.store;
    let prefix = fresh_prefix();
    let (a, cluster_a) = node(store, &prefix, "N_a", redis_url()).await;
    let (b, cluster_b) = node(store, &prefix, "N_b", redis_url()).await;
    let org = organisation(store, "宝安", "新安街道").await;

    // One file is in the session's record already: four more fit, through whichever node.
    let (_, files) = live_session(store, &org, "漏水").await;
    stored(store, &files, 0, 1000).await;
    let session = files.id.to_string();
    let takes = (0..12).map(|i| {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        let session = session.clone();
        async move {
            let answer = session_share(&node, &session, ShareAsk::Take(1000)).await;
            (i % 2, !refused(answer))
        }
    });
    let answers = futures_util::future::join_all(takes).await;
    let taken: Vec<usize> = answers
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(n, _)| *n)
        .collect();
    eprintln!("12 uploads at once through A and B: taken through {taken:?} (0 = A, 1 = B)");
    assert_eq!(taken.len(), 4, "the record's one and four more make five");
    for state in [&a, &b] {
        assert!(
            refused(session_share(state, &session, ShareAsk::Room).await),
            "either node tells the next phone before it sends its file"
        );
    }

    // Bytes add up across the nodes too.
    let (_, bytes) = live_session(store, &org, "欠款").await;
    let session = bytes.id.to_string();
    let file = 400 * 1024;
    session_share(&a, &session, ShareAsk::Take(file))
        .await
        .expect("400 KiB through A");
    session_share(&b, &session, ShareAsk::Take(file))
        .await
        .expect("800 KiB after this one through B");
    assert!(refused(
        session_share(&a, &session, ShareAsk::Take(file)).await
    ));
    session_share(&b, &session, ShareAsk::Room)
        .await
        .expect("room for a smaller file");
    session_share(&b, &session, ShareAsk::Take(BYTES - 2 * file))
        .await
        .expect("exactly what is left");

    // A session whose count Redis lost (a restart, or a day without uploads) starts from
    // its record, on a node that never counted it.
    let (_, full) = live_session(store, &org, "合同").await;
    for n in 0..FILES {
        stored(store, &full, n, 10).await;
    }
    assert!(refused(
        session_share(&b, full.id.as_ref(), ShareAsk::Room).await
    ));

    cluster_a.leave().await;
    cluster_b.leave().await;
    clean(&prefix).await;
}
both_databases!(two_nodes, uploads_through_two_nodes_share_one_cap);

async fn without_redis_the_record_decides_and_the_count_catches_up(s: &Scratch) {
    let store = &s.store;
    let prefix = fresh_prefix();
    let relay = Relay::start().await;
    let (a, cluster_a) = node(store, &prefix, "N_a", redis_url()).await;
    let (cut, cluster_cut) = node(store, &prefix, "N_cut", relay.url.clone()).await;
    let org = organisation(store, "宝安", "新安街道").await;
    let (_, live) = live_session(store, &org, "漏水").await;
    let session = live.id.to_string();

    // Three files taken through A and stored.
    for n in 0..3 {
        session_share(&a, &session, ShareAsk::Take(10))
            .await
            .expect("fits");
        stored(store, &live, n, 10).await;
    }

    relay.cut();
    // The node that lost Redis neither errs nor refuses on a guess: the record says three of
    // five, so two more are taken (each stored before the next, as uploads are).
    for n in 3..5 {
        session_share(&cut, &session, ShareAsk::Take(10))
            .await
            .expect("taken on the record's count");
        stored(store, &live, n, 10).await;
    }
    assert!(refused(
        session_share(&cut, &session, ShareAsk::Take(10)).await
    ));

    // A, on Redis all along, counted three; the record holds five now, and so does its
    // count from the next upload on.
    assert!(refused(
        session_share(&a, &session, ShareAsk::Take(10)).await
    ));

    cluster_cut.halt();
    cluster_a.leave().await;
    clean(&prefix).await;
}
both_databases!(
    redis_cut,
    without_redis_the_record_decides_and_the_count_catches_up
);
