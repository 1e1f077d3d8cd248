//! A recording's end: the recorder's folder goes into the blob store file by file, its record
//! into the case (status, manifest hash into the audit chain, files), its integrity is checked
//! once, and the working folder is removed. After a crash, [`recover`] does the same for each
//! recording the last run left unfinished, as `interrupted`, and for those of nodes that are
//! gone, from what they stored while recording ([`super::segments`]). [`retention`] deletes
//! what the organisation's policy no longer keeps.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use accord_cases::ids::RecordingId;
use accord_cases::store::FinishedRecording;
use accord_cases::store::model::{Actor, SessionEvent, SessionEventKind};
use accord_cases::store::model::{
    IntegrityProblem, IntegrityState, LEGACY_NODE, RecordingFile, RecordingFileKind,
    RecordingStatus,
};
use accord_cases::store::now_ms;
use accord_recordings::manifest::ManifestStatus as FolderStatus;
use accord_recordings::recorder::Recording;
use accord_recordings::recorder::finalise::{self, Finished};
use accord_recordings::verify::{VerifyReport, verify_recording};

use super::segments;
use crate::AppState;

/// Stops the recorder and stores what it wrote, without holding up the caller.
pub fn finalise_in_background(
    state: &AppState,
    id: RecordingId,
    recording: Arc<Recording>,
    actor: Actor,
) {
    let state = state.clone();
    // A draining node waits for this before it exits (`crate::drain`).
    let holding = state.drain().hold(crate::drain::Work::Finalising);
    // The recorder stops at once: everyone has just been told recording is off, and marking
    // the record first (a database write, a second on a busy disk) let the recorder go on
    // writing what people said after that.
    let stopping = tokio::spawn(async move { recording.stop().await });
    tokio::spawn(async move {
        let _holding = holding;
        if let Err(e) = state
            .store()
            .set_recording_status(&actor, &id, RecordingStatus::Finalising)
            .await
        {
            tracing::warn!(error = %e, "cannot mark a recording as finalising");
        }
        let stopped = stopping.await.unwrap_or_else(|_| {
            Err(accord_recordings::Error::State(
                "the recorder's stop was cancelled".into(),
            ))
        });
        match stopped {
            Ok(finished) => {
                if let Err(e) = store_finished(&state, &id, &finished, &actor).await {
                    tracing::error!(error = %e, recording = %id,
                        "a finished recording could not be stored; the next start retries");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, recording = %id, "a recording could not be finalised");
                let _ = state
                    .store()
                    .mark_recording_failed(
                        &Actor::System,
                        &id,
                        "the recording could not be finalised",
                    )
                    .await;
            }
        }
    });
}

/// Puts a finalised folder into the blob store and the case record, checks it, and removes
/// the working folder.
pub async fn store_finished(
    state: &AppState,
    id: &RecordingId,
    finished: &Finished,
    actor: &Actor,
) -> crate::Result<()> {
    let recorders = state.recorders();
    let names = finalise::stored_files(&finished.dir)?;
    let mut files = Vec::with_capacity(names.len());
    recorders
        .metrics()
        .uploads_pending(i64::try_from(names.len()).unwrap_or(0));
    for name in &names {
        let stored = state.blobs().put_file(&finished.dir.join(name)).await;
        recorders.metrics().uploads_pending(-1);
        let blob = stored?;
        files.push(file_row(finished, name, blob.sha256, blob.size));
    }
    let record = state.store().recording(id).await?;
    let policy = super::policy_of_case(state, &record.case_id).await?;
    let ended_at = i64::try_from(finished.manifest.ended_at_ms).unwrap_or(i64::MAX);
    let status = match finished.status {
        FolderStatus::Complete => RecordingStatus::Complete,
        FolderStatus::Interrupted => RecordingStatus::Interrupted,
    };
    state
        .store()
        .finish_recording(
            actor,
            id,
            &FinishedRecording {
                status,
                manifest_sha256: finished.manifest_sha256.clone(),
                files,
                ended_at,
                delete_after: policy.delete_after(ended_at),
            },
        )
        .await?;
    let dir = finished.dir.clone();
    let trusted = recorders.keys().public_keys();
    let report = tokio::task::spawn_blocking(move || verify_recording(&dir, Some(&trusted)))
        .await
        .map_err(|e| crate::Error::Internal(format!("verifying a recording: {e}")))??;
    record_integrity(state, id, &report).await?;
    // Its own files are stored: the pieces stored while it ran are not needed any more.
    super::segments::discard(state, id).await;
    if let Err(e) = tokio::fs::remove_dir_all(&finished.dir).await {
        tracing::warn!(error = %e, recording = %id, "cannot remove a stored recording's working folder");
    }
    Ok(())
}

/// Stores the result of an integrity check.
pub async fn record_integrity(
    state: &AppState,
    id: &RecordingId,
    report: &VerifyReport,
) -> crate::Result<()> {
    let problems: Vec<IntegrityProblem> = report
        .problems
        .iter()
        .map(|p| IntegrityProblem {
            file: p.file.clone(),
            problem: p.problem.clone(),
        })
        .collect();
    let integrity = if report.ok {
        IntegrityState::Verified
    } else {
        IntegrityState::Failed
    };
    state
        .store()
        .set_recording_integrity(&Actor::System, id, integrity, &problems)
        .await?;
    Ok(())
}

fn file_row(finished: &Finished, name: &str, sha256: String, size: u64) -> RecordingFile {
    let manifest = &finished.manifest;
    let track = manifest
        .tracks
        .iter()
        .find(|t| t.file.as_deref() == Some(name) || t.log == name);
    let kind = if name.ends_with(".rtplog") {
        RecordingFileKind::Log
    } else if manifest
        .mixed_audio
        .as_ref()
        .is_some_and(|m| m.file == name)
    {
        RecordingFileKind::Mixed
    } else if name == "chain.jsonl" {
        RecordingFileKind::Chain
    } else if name == "manifest.json" {
        RecordingFileKind::Manifest
    } else if name == "manifest.sig" {
        RecordingFileKind::Signature
    } else {
        RecordingFileKind::Media
    };
    let mixed = manifest.mixed_audio.as_ref().filter(|m| m.file == name);
    RecordingFile {
        name: name.to_owned(),
        kind,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256,
        track_id: track.map(|t| t.track_id.clone()),
        participant_id: track.map(|t| t.participant_id.clone()),
        media_kind: track
            .map(|t| t.kind.clone())
            .or(mixed.map(|_| "audio".to_owned())),
        space: track.map(|t| t.space.clone()),
        start_ms: track
            .map(|t| t.start_ms)
            .or(mixed.map(|m| m.start_ms))
            .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        end_ms: track
            .map(|t| t.end_ms)
            .or(mixed.map(|m| m.end_ms))
            .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
    }
}

/// Finalises every recording this node left unfinished when it last stopped, and every
/// unfinished recording of a node that is gone (`is_live` says no): what its logs hold becomes
/// an `interrupted` recording, with its prefix checked against the chain. This node's own
/// recordings are finalised from its working folder; a dead node's from that node's pieces in
/// the blob store ([`segments::rebuild`]), once this node has taken it over (so two nodes never
/// both do). A recording of a node that is alive is left alone: that node is writing it. One
/// nothing usable is left of is marked failed, never left `recording`.
pub async fn recover(
    state: &AppState,
    is_live: impl Fn(&str) -> bool + Sync,
) -> crate::Result<usize> {
    let recovered = recover_rows(state, &is_live, Whose::OursAndDead).await?;
    sweep_stored_folders(state).await;
    Ok(recovered)
}

/// [`recover`] at a node's start, asking the cluster which nodes are alive; then, on a node
/// of several, looks every [`DEAD_NODE_CHECK`] for recordings of nodes that died meanwhile.
pub async fn recover_at_start(state: &AppState) -> crate::Result<usize> {
    let alive = live_writers(state).await?;
    let recovered = recover(state, |node| alive.contains(node)).await?;
    if state.cluster().clustered() {
        let weak = state.downgrade();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(DEAD_NODE_CHECK);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(state) = AppState::upgrade(&weak) else {
                    return;
                };
                if let Err(e) = recover_dead_nodes(&state).await {
                    tracing::warn!(error = %e, "cannot look for recordings of nodes that are gone");
                }
            }
        });
    }
    Ok(recovered)
}

/// How often a node of several looks for recordings whose node died.
pub const DEAD_NODE_CHECK: Duration = Duration::from_secs(15);

/// A recording whose last checkpoint (or start) is this recent is being written, whatever
/// the registry says: a node that missed its heartbeats but still records (a stalled link to
/// Redis) keeps its recording rather than have it cut as `interrupted` under it.
pub const WRITER_SILENCE: Duration = Duration::from_secs(30);

/// Takes over and finalises the unfinished recordings of nodes that are gone (not this
/// node's own: those may be running). Returns how many were finalised.
pub async fn recover_dead_nodes(state: &AppState) -> crate::Result<usize> {
    let alive = live_writers(state).await?;
    recover_rows(state, &|node: &str| alive.contains(node), Whose::Dead).await
}

/// The nodes writing unfinished recordings that are alive, this one included.
async fn live_writers(state: &AppState) -> crate::Result<HashSet<String>> {
    let mut nodes: Vec<String> = state
        .store()
        .unfinished_recordings()
        .await?
        .into_iter()
        .map(|r| r.node)
        .collect();
    nodes.sort();
    nodes.dedup();
    let mut alive = HashSet::new();
    for node in nodes {
        if state.cluster().is_live(&node).await {
            alive.insert(node);
        }
    }
    Ok(alive)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Whose {
    OursAndDead,
    Dead,
}

async fn recover_rows(
    state: &AppState,
    is_live: &(dyn Fn(&str) -> bool + Sync),
    whose: Whose,
) -> crate::Result<usize> {
    let me = state.cluster().node_id().to_owned();
    let unfinished = state.store().unfinished_recordings().await?;
    let mut recovered = 0;
    for record in unfinished {
        let ours = record.node == me || record.node == LEGACY_NODE;
        if ours && whose == Whose::Dead {
            continue;
        }
        if !ours {
            let last_sign = record.checkpoint_at.unwrap_or(record.started_at);
            let silent = now_ms().saturating_sub(last_sign)
                >= i64::try_from(WRITER_SILENCE.as_millis()).unwrap_or(i64::MAX);
            if is_live(&record.node) || !silent {
                continue;
            }
            if !state
                .store()
                .take_over_recording(&record.id, &record.node, &me)
                .await?
            {
                continue;
            }
            tracing::warn!(recording = %record.id, node = %record.node,
                "taking over the recording of a node that is gone");
            // What this node writes in the session record from now on sorts after what the
            // dead node wrote.
            if let Err(e) = state.store().seed_record_seq().await {
                tracing::warn!(error = %e, "cannot seed the session record's numbering");
            }
        }
        if recover_one(state, &record, ours).await? {
            recovered += 1;
        }
    }
    Ok(recovered)
}

/// Finalises one unfinished recording this node holds (its own, or taken over from
/// `record.node`, a node that is gone); whether it was finalised.
async fn recover_one(
    state: &AppState,
    record: &accord_cases::store::model::Recording,
    ours: bool,
) -> crate::Result<bool> {
    let recorders = state.recorders();
    let mut dir = recorders.settings().recorder.folder_of(&record.id);
    if !is_recording_folder(&dir) {
        match segments::rebuild(state, &record.id).await {
            Ok(Some(rebuilt)) => dir = rebuilt,
            Ok(None) => {
                tracing::error!(recording = %record.id, "an unfinished recording left no folder");
                state
                    .store()
                    .mark_recording_failed(
                        &Actor::System,
                        &record.id,
                        "the recording's files are missing",
                    )
                    .await?;
                return Ok(false);
            }
            Err(e) => {
                // The blob store may be back later. A dead node's recording goes back to that
                // node, for the next look for dead nodes' recordings (every node's, every
                // `DEAD_NODE_CHECK`) to try again; this node's own waits for its next start.
                tracing::error!(error = %e, recording = %record.id,
                    "cannot rebuild a recording from storage; it is tried again later");
                if !ours {
                    let me = state.cluster().node_id();
                    state
                        .store()
                        .take_over_recording(&record.id, me, &record.node)
                        .await?;
                }
                return Ok(false);
            }
        }
    }
    let keys = recorders.keys_arc();
    let folder = dir.clone();
    let finished = tokio::task::spawn_blocking(move || finalise::recover(&folder, &keys))
        .await
        .map_err(|e| crate::Error::Internal(format!("recovering a recording: {e}")))?;
    match finished {
        Ok(finished) => {
            store_finished(state, &record.id, &finished, &Actor::System).await?;
            note_interruption(state, record, &finished).await;
            Ok(true)
        }
        Err(e) => {
            tracing::error!(error = %e, recording = %record.id, "an interrupted recording could not be recovered");
            state
                .store()
                .mark_recording_failed(
                    &Actor::System,
                    &record.id,
                    "the recording could not be recovered",
                )
                .await?;
            Ok(false)
        }
    }
}

/// Removes working folders whose recording the case record already holds as stored (a crash
/// between storing a recording and removing its folder leaves one); a folder the record does
/// not know, still counts as running, or marks failed is left alone.
async fn sweep_stored_folders(state: &AppState) {
    let work_dir = state.recorders().settings().recorder.work_dir.clone();
    let Ok(mut entries) = tokio::fs::read_dir(&work_dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let dir = entry.path();
        if !is_recording_folder(&dir) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let stored = match state
            .store()
            .recording(&RecordingId::from(name.as_str()))
            .await
        {
            // A failed recording's folder may be all that is left of it: kept for a person to
            // look at.
            Ok(record) => record.status.has_files() || record.status == RecordingStatus::Deleted,
            Err(_) => false,
        };
        if stored && let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(error = %e, recording = %name, "cannot remove a stored recording's working folder");
        }
    }
}

/// The session record says when a recording was cut, for whoever reads it later.
async fn note_interruption(
    state: &AppState,
    record: &accord_cases::store::model::Recording,
    finished: &Finished,
) {
    let event = SessionEvent::by_the_server(
        record.session_id.clone(),
        record.case_id.clone(),
        i64::try_from(finished.manifest.ended_at_ms).unwrap_or_else(|_| now_ms()),
        SessionEventKind::RecordingInterrupted,
        format!(
            "the server stopped; {} s recorded",
            finished.manifest.duration_ms / 1000
        ),
    );
    if let Err(e) = state.store().append_session_event(&event).await {
        tracing::error!(error = %e, "cannot note a recording's interruption in the session record");
    }
}

/// How often the retention policy is applied.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes the files of every recording the retention policy no longer keeps (not held, no
/// confirmation request on its case), each deletion audited. Returns how many.
pub async fn retention(state: &AppState) -> crate::Result<usize> {
    let due = state.store().recordings_due_for_deletion(now_ms()).await?;
    let mut deleted = 0;
    for record in due {
        // The record first: it refuses a recording held meanwhile, and a blob is deleted only
        // once no record still names it.
        let files = state.store().recording_files(&record.id).await?;
        match state
            .store()
            .mark_recording_deleted(&Actor::System, &record.id)
            .await
        {
            Ok(_) => {}
            Err(accord_cases::Error::Conflict(why)) => {
                tracing::info!(recording = %record.id, why = %why, "a recording due for deletion is kept");
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        for file in files {
            if state.store().blob_in_use(&file.sha256).await? {
                continue;
            }
            if let Err(e) = state.blobs().delete(&file.sha256).await {
                tracing::warn!(error = %e, recording = %record.id, "cannot delete a recording's file");
            }
        }
        deleted += 1;
    }
    Ok(deleted)
}

/// Whether a path is a recording folder this node was writing.
pub fn is_recording_folder(dir: &Path) -> bool {
    dir.join(accord_recordings::recorder::events::EVENTS_FILE)
        .exists()
}
