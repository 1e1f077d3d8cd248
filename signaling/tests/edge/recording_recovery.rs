//! A recording whose node died, finalised by another node from what reached storage while it
//! ran, on SQLite and PostgreSQL: two nodes (two `AppState`s) with their own data folders on
//! one database, one blob folder and one keys folder, as nodes share S3 and the keys. Node A
//! writes a recording folder as its recorder does and stores its pieces at each checkpoint;
//! then its folder is gone. While A counts as alive, or its last checkpoint is recent, B
//! leaves the recording alone; once A is gone, B rebuilds the folder from the pieces,
//! finalises it as `interrupted` (a track begun after the last stored checkpoint left out),
//! signs it, and the stored files verify as `accord verify` checks them. Then the same with
//! two nodes of a cluster on the local Redis: node A's uploader stores the pieces at its
//! checkpoints, A stops heartbeating, and B's look for dead nodes' recordings takes it over.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use accord_cases::blobs::LocalBlobs;
use accord_cases::store::model::{
    Actor, IntegrityState, NewRecording, Organisation, Recording, RecordingFileKind,
    RecordingStatus, Session, SessionEventKind,
};
use accord_cases::store::{Store, now_ms};
use accord_recordings::chain::ChainWriter;
use accord_recordings::log::{LogHeader, LogRecord, LogWriter};
use accord_recordings::recorder::{FolderEvent, FolderLog, RecordingMeta};
use accord_recordings::verify::verify_recording;
use accord_signaling::cluster::{Cluster, ClusterConfig};
use accord_signaling::recording::finish::{recover, recover_dead_nodes};
use accord_signaling::recording::segments::{self, Pieces};
use accord_signaling::{AppState, SignalingConfig};
use tokio::io::AsyncReadExt as _;

use crate::common::recordings::live_session;
use crate::common::{Scratch, organisation};

/// One node: its own data folder, the shared blob and keys folders.
fn node(store: &Store, data: &Path, shared: &Path) -> AppState {
    node_in(store, data, shared, None)
}

/// [`node`], as a node of `cluster`.
fn node_in(store: &Store, data: &Path, shared: &Path, cluster: Option<Cluster>) -> AppState {
    let sfu = accord_sfu::Sfu::start(accord_sfu::SfuConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tcp: accord_sfu::TcpListen::Off,
        ..Default::default()
    })
    .expect("sfu");
    let blobs = Arc::new(LocalBlobs::open(shared.join("blobs")).expect("blobs"));
    let recording = accord_signaling::recording::RecordingSettings {
        recorder: accord_recordings::recorder::RecorderConfig {
            work_dir: data.join("recordings"),
            min_free_bytes: 0,
            ..Default::default()
        },
        keys_dir: shared.join("keys"),
        notice: Duration::from_millis(0),
    };
    let config = SignalingConfig::default();
    match cluster {
        Some(cluster) => AppState::new_in_cluster(
            sfu,
            &[9u8; 32],
            config,
            store.clone(),
            blobs,
            recording,
            cluster,
        ),
        None => AppState::new(sfu, &[9u8; 32], config, store.clone(), blobs, recording),
    }
    .expect("state")
}

/// Opus's 20 ms silence frame, in an RTP packet.
fn opus_packet(sequence: u16) -> bytes::Bytes {
    let mut packet = vec![0x80, 111];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 960).to_be_bytes());
    packet.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    packet.extend_from_slice(&[0xf8, 0xff, 0xfe]);
    bytes::Bytes::from(packet)
}

/// A recording folder as node A's recorder writes it.
struct Folder {
    dir: PathBuf,
    events: FolderLog,
    audio: LogWriter,
    chain: ChainWriter,
    sequence: u16,
}

impl Folder {
    fn start(dir: PathBuf, meta: RecordingMeta, participant: &str) -> Folder {
        std::fs::create_dir_all(&dir).expect("folder");
        let mut events = FolderLog::create(&dir).expect("events");
        let started_at_ms = u64::try_from(now_ms()).expect("time");
        events
            .append(&FolderEvent::Started {
                meta,
                started_at_ms,
            })
            .expect("started");
        let audio = LogWriter::create(
            &dir.join("t01-audio.rtplog"),
            &LogHeader {
                track_id: "TR_audio".into(),
                participant_id: participant.into(),
                kind: "audio".into(),
                mime_type: "audio/opus".into(),
                clock_rate: 48_000,
                channels: 2,
                fmtp: String::new(),
                started_at_ms,
            },
        )
        .expect("audio log");
        events
            .append(&track_event(
                "t01-audio",
                "TR_audio",
                participant,
                "audio",
                0,
            ))
            .expect("track");
        let chain = ChainWriter::open(&dir).expect("chain");
        Folder {
            dir,
            events,
            audio,
            chain,
            sequence: 0,
        }
    }

    /// A second of audio, flushed.
    fn second(&mut self) {
        for _ in 0..50 {
            self.sequence += 1;
            self.audio
                .append(&LogRecord::Rtp {
                    arrival_us: u64::from(self.sequence) * 20_000,
                    packet: opus_packet(self.sequence),
                })
                .expect("append");
        }
        self.audio.flush().expect("flush");
    }

    /// The recorder's checkpoint: the chain covers what the logs gained.
    fn checkpoint(&mut self) -> (String, u64) {
        let logs = accord_recordings::recorder::finalise::log_files(&self.dir).expect("logs");
        let checkpoint = self
            .chain
            .checkpoint(&logs)
            .expect("checkpoint")
            .expect("the log grew");
        (checkpoint.head, checkpoint.seq)
    }
}

fn track_event(stem: &str, track: &str, participant: &str, kind: &str, at_us: u64) -> FolderEvent {
    FolderEvent::Track {
        stem: stem.into(),
        track: track.into(),
        participant: participant.into(),
        role: Some("party".into()),
        kind: kind.into(),
        space: "joint".into(),
        at_us,
    }
}

/// A live session of `org` recorded on `node` (the state `a`), with the recording's folder as its
/// recorder starts it.
async fn recording_on(
    store: &Store,
    a: &AppState,
    org: &Organisation,
    node: &str,
) -> (Session, Recording, PathBuf, Folder) {
    let (case, session) = live_session(store, org, "漏水").await;
    let record = store
        .create_recording(
            &Actor::System,
            NewRecording {
                session_id: session.id.clone(),
                started_by: "ST_mediator".into(),
                private_rooms_recorded: false,
                node: node.into(),
            },
        )
        .await
        .expect("recording");
    let dir = a
        .recorders()
        .settings()
        .recorder
        .folder_of(record.id.as_str());
    let folder = Folder::start(
        dir.clone(),
        RecordingMeta {
            recording_id: record.id.to_string(),
            case_id: case.id.to_string(),
            session_id: session.id.to_string(),
            private_rooms_recorded: false,
        },
        "PT_zhang",
    );
    (session, record, dir, folder)
}

async fn a_dead_nodes_recording_is_finalised_by_another_from_storage(s: &Scratch) {
    let store = &s.store;
    let shared = tempfile::tempdir().expect("shared");
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = node(store, data_a.path(), shared.path());
    let b = node(store, data_b.path(), shared.path());
    let (node_a, node_b) = (
        a.cluster().node_id().to_owned(),
        b.cluster().node_id().to_owned(),
    );
    assert_ne!(node_a, node_b);
    // Node A records; each checkpoint's pieces reach storage.
    let org = organisation(store, "宝安", "新安街道").await;
    let (session, record, dir, mut folder) = recording_on(store, &a, &org, &node_a).await;
    let mut pieces = Pieces::new(record.id.clone(), dir.clone());
    let mut stored_log = 0;
    for round in 1..=2 {
        folder.second();
        let (head, segments) = folder.checkpoint();
        store
            .checkpoint_recording(
                &record.id,
                &head,
                i64::try_from(segments).expect("n"),
                0,
                now_ms(),
            )
            .await
            .expect("checkpoint");
        let stored = pieces.store_new(&a).await.expect("pieces stored");
        // A log piece, the chain's new line, the events' new lines (the first time).
        assert_eq!(stored, if round == 1 { 3 } else { 2 }, "round {round}");
        stored_log = std::fs::metadata(dir.join("t01-audio.rtplog"))
            .expect("log")
            .len();
    }
    // After the last stored checkpoint: more audio, and a video track whose log the chain
    // never covered; its event reaches storage with the next events, its log never does.
    folder.second();
    folder
        .events
        .append(&track_event(
            "t02-video",
            "TR_video",
            "PT_zhang",
            "video",
            2_100_000,
        ))
        .expect("video track");
    LogWriter::create(
        &dir.join("t02-video.rtplog"),
        &LogHeader {
            track_id: "TR_video".into(),
            participant_id: "PT_zhang".into(),
            kind: "video".into(),
            mime_type: "video/VP8".into(),
            clock_rate: 90_000,
            channels: 0,
            fmtp: String::new(),
            started_at_ms: 0,
        },
    )
    .expect("video log");
    assert_eq!(pieces.store_new(&a).await.expect("events"), 1);
    let (head_at_death, _) = folder.checkpoint();
    drop(folder);

    // While A counts as alive, B leaves its recording alone.
    assert_eq!(recover(&b, |_| true).await.expect("recover"), 0);
    // Gone, but it checkpointed moments ago: it may still be writing (a stalled heartbeat).
    assert_eq!(recover(&b, |n| n == node_b).await.expect("recover"), 0);
    let still = store.recording(&record.id).await.expect("read");
    assert_eq!(
        (still.status, still.node.as_str()),
        (RecordingStatus::Recording, node_a.as_str())
    );

    // A died: its folder is gone with it, its last checkpoint a minute old.
    std::fs::remove_dir_all(&dir).expect("A's disk is gone");
    store
        .checkpoint_recording(&record.id, &head_at_death, 3, 0, now_ms() - 60_000)
        .await
        .expect("backdated checkpoint");
    assert_eq!(recover(&b, |n| n == node_b).await.expect("recover"), 1);

    let done = store.recording(&record.id).await.expect("read");
    assert_eq!(done.status, RecordingStatus::Interrupted);
    assert_eq!(done.node, node_b, "B took it over");
    assert_eq!(
        done.integrity,
        IntegrityState::Verified,
        "{:?}",
        done.integrity_problems
    );
    assert!(
        store
            .recording_segments(&record.id)
            .await
            .expect("pieces")
            .is_empty(),
        "the pieces go once the files are stored"
    );
    let files = store.recording_files(&record.id).await.expect("files");
    let log = files
        .iter()
        .find(|f| f.name == "t01-audio.rtplog")
        .expect("the audio log");
    assert_eq!(
        log.size,
        i64::try_from(stored_log).expect("size"),
        "exactly what the stored checkpoints covered"
    );
    assert!(files.iter().any(|f| f.kind == RecordingFileKind::Media));
    assert!(
        files.iter().all(|f| !f.name.starts_with("t02-")),
        "{files:?}"
    );

    // What storage holds verifies as `accord verify` checks a recording, with the shared keys.
    let export = tempfile::tempdir().expect("export");
    for file in &files {
        let mut reader = b
            .blobs()
            .open(&file.sha256)
            .await
            .expect("open")
            .expect("stored");
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await.expect("read");
        std::fs::write(export.path().join(&file.name), bytes).expect("write");
    }
    let trusted = b.recorders().keys().public_keys();
    let report = verify_recording(export.path(), Some(&trusted)).expect("verify");
    assert!(report.ok, "{}", report.lines().join("\n"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(export.path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["status"], "interrupted");
    assert_eq!(manifest["tracks"].as_array().map(Vec::len), Some(1));
    assert_eq!(manifest["chain"]["segments"], 2);

    // The case record says the recording was cut, after everything before it.
    let record_entries = store.session_events(&session.id).await.expect("record");
    assert_eq!(
        record_entries.last().map(|e| e.kind),
        Some(SessionEventKind::RecordingInterrupted)
    );

    // A dead node's recording of which nothing reached storage fails; B's folder is clean.
    let (_, other) = live_session(store, &org, "欠薪").await;
    let lost = store
        .create_recording(
            &Actor::System,
            NewRecording {
                session_id: other.id.clone(),
                started_by: "ST_mediator".into(),
                private_rooms_recorded: false,
                node: "N_gone".into(),
            },
        )
        .await
        .expect("recording");
    store
        .checkpoint_recording(&lost.id, &"0".repeat(64), 0, 0, now_ms() - 60_000)
        .await
        .expect("old checkpoint");
    assert_eq!(recover(&b, |n| n == node_b).await.expect("recover"), 0);
    assert_eq!(
        store.recording(&lost.id).await.expect("read").status,
        RecordingStatus::Failed
    );
    let left: Vec<_> = std::fs::read_dir(data_b.path().join("recordings"))
        .expect("B's work folder")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

both_databases!(
    recording_from_storage,
    a_dead_nodes_recording_is_finalised_by_another_from_storage
);

/// Waits (10 s at most) for `done`.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(
            std::time::Instant::now() < until,
            "{what} did not happen in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_node_that_stops_heartbeating_loses_its_recording_to_a_live_one(s: &Scratch) {
    let store = &s.store;
    let prefix = crate::cluster::fresh_prefix();
    let config = |id: &str| ClusterConfig {
        node_id: id.into(),
        redis_url: Some(crate::cluster::redis_url()),
        lease: Duration::from_secs(3),
        prefix: prefix.clone(),
        ..ClusterConfig::default()
    };
    let shared = tempfile::tempdir().expect("shared");
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let cluster_a = Cluster::start(config("N_a")).await.expect("node a");
    let cluster_b = Cluster::start(config("N_b")).await.expect("node b");
    let a = node_in(store, data_a.path(), shared.path(), Some(cluster_a));
    let b = node_in(store, data_b.path(), shared.path(), Some(cluster_b));
    let org = organisation(store, "宝安", "新安街道").await;
    let (_, record, dir, mut folder) = recording_on(store, &a, &org, "N_a").await;

    // A's uploader, told of a checkpoint as the recorder's watch tells it.
    let uploads = segments::start(&a, record.id.clone(), dir.clone()).expect("clustered");
    folder.second();
    let (head, segments_chained) = folder.checkpoint();
    uploads.checkpoint();
    eventually("the pieces reached storage", || async {
        let pieces = store.recording_segments(&record.id).await.expect("pieces");
        ["t01-audio.rtplog", "chain.jsonl", "events.jsonl"]
            .iter()
            .all(|f| pieces.iter().any(|p| p.file == *f))
    })
    .await;
    store
        .checkpoint_recording(
            &record.id,
            &head,
            i64::try_from(segments_chained).expect("n"),
            0,
            now_ms() - 60_000,
        )
        .await
        .expect("checkpoint a minute ago");
    // A heartbeats: B takes nothing, however old the checkpoint.
    assert_eq!(recover_dead_nodes(&b).await.expect("look"), 0);

    // A dies: no more heartbeats, its disk gone. Once its lease has run out, B takes over.
    a.cluster().halt();
    drop(uploads);
    drop(folder);
    std::fs::remove_dir_all(&dir).expect("A's disk is gone");
    eventually("A's lease ran out", || async {
        !b.cluster().is_live("N_a").await
    })
    .await;
    assert_eq!(recover_dead_nodes(&b).await.expect("look"), 1);
    let done = store.recording(&record.id).await.expect("read");
    assert_eq!(
        (done.status, done.node.as_str(), done.integrity),
        (
            RecordingStatus::Interrupted,
            "N_b",
            IntegrityState::Verified
        ),
        "{:?}",
        done.integrity_problems
    );
    crate::cluster::clean(&prefix).await;
}

both_databases!(
    recording_of_a_dead_cluster_node,
    a_node_that_stops_heartbeating_loses_its_recording_to_a_live_one
);
