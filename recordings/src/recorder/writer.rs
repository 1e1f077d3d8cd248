//! The recorder thread: tap events into track files, the folder's event log and the segment
//! chain, until a stop; then the track files are closed and the folder finalised.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use accord_sfu::{MediaKind, RecorderTap, TapEvent, TapPacket, TapStopReason};
use tokio::sync::mpsc;

use super::{
    Control, FolderEvent, FolderLog, Participants, Progress, RecorderConfig, RecorderMetrics,
    finalise, free_bytes, micros_since, space_name,
};
use crate::chain::ChainWriter;
use crate::clock::{ClockGroup, TrackClock};
use crate::error::{Error, Result};
use crate::log::LogHeader;
use crate::recorder::finalise::Finished;
use crate::rtp::RtpPacket;
use crate::signing::PlatformKeys;
use crate::track::{TrackFile, TrackFileSpec};

/// Tap events written per wake-up before the stop, flush and checkpoint timers are looked at.
const EVENTS_PER_WAKE: usize = 256;

pub(super) struct TrackEntry {
    file: TrackFile,
    stem: String,
    participant: String,
}

/// The recorder thread's state.
pub(super) struct Writer {
    pub(super) config: RecorderConfig,
    pub(super) dir: PathBuf,
    pub(super) origin: Instant,
    pub(super) started_at_ms: u64,
    pub(super) tracks: HashMap<String, TrackEntry>,
    /// One clock group per participant: their audio and video share a sender clock.
    pub(super) clocks: HashMap<String, ClockGroup>,
    pub(super) folder: FolderLog,
    pub(super) chain: ChainWriter,
    pub(super) participants: Arc<dyn Participants>,
    pub(super) metrics: Arc<RecorderMetrics>,
    pub(super) progress: mpsc::Sender<Progress>,
    pub(super) paused_since: Option<u64>,
    pub(super) written_reported: u64,
}

impl Writer {
    pub(super) fn run(
        mut self,
        mut tap: RecorderTap,
        mut control: mpsc::Receiver<Control>,
        keys: Arc<PlatformKeys>,
    ) -> Result<Finished> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| Error::io("starting the recorder's timer", e))?;
        let stopped_by_itself = runtime.block_on(async {
            let mut flush = tokio::time::interval(self.config.flush_every);
            let mut checkpoint = tokio::time::interval(self.config.checkpoint_every);
            loop {
                tokio::select! {
                    biased;
                    command = control.recv() => match command {
                        None | Some(Control::Stop) => return None,
                        Some(Control::Pause(reply)) => {
                            tap.pause();
                            let _ = reply.send(self.pause());
                        }
                        Some(Control::Resume(reply)) => {
                            tap.resume();
                            let _ = reply.send(self.resume());
                        }
                    },
                    event = tap.events.recv() => match event {
                        // The SFU went away (shutdown): finalise what we have.
                        None => return None,
                        Some(event) => {
                            // What else is queued is written in the same wake-up: the thread
                            // wakes per batch, not per packet.
                            let mut next = Some(event);
                            let mut taken = 0;
                            while let Some(event) = next.take() {
                                if let Err(e) = self.on_event(event) {
                                    return Some(self.failed(e).await);
                                }
                                taken += 1;
                                if taken < EVENTS_PER_WAKE {
                                    next = tap.events.try_recv().ok();
                                }
                            }
                        }
                    },
                    _ = flush.tick() => {
                        if let Err(e) = self.flush() {
                            return Some(self.failed(e).await);
                        }
                    }
                    _ = checkpoint.tick() => {
                        if let Err(e) = self.checkpoint().await {
                            return Some(self.failed(e).await);
                        }
                    }
                }
            }
        });
        if let Some(reason) = stopped_by_itself {
            tracing::warn!(reason = %reason, "a recording stopped itself");
        }
        let counters = tap.counters();
        drop(tap);
        let end_us = self.now_us();
        if self.paused_since.is_some() {
            let _ = self.resume_at(end_us);
        }
        self.folder.append(&FolderEvent::Ended {
            at_us: end_us,
            private_room_packets: counters.from_private_rooms,
            withheld_private_packets: counters.withheld_private,
            dropped_packets: counters.dropped,
        })?;
        let mut summaries = HashMap::new();
        for (_, entry) in self.tracks.drain() {
            let stem = entry.stem.clone();
            match entry.file.finish() {
                Ok(summary) => {
                    summaries.insert(stem, summary);
                }
                // Left out of `summaries`, it is rebuilt from its log.
                Err(e) => tracing::error!(error = %e, "a track file could not be finished"),
            }
        }
        self.chain.checkpoint(&finalise::log_files(&self.dir)?)?;
        finalise::finalise(&self.dir, &keys, summaries)
    }

    async fn failed(&mut self, e: Error) -> String {
        self.metrics.write_failed();
        let (reason, code) = match &e {
            Error::DiskFull { .. } => ("the disk is nearly full".to_owned(), "no_disk_space"),
            other => (other.to_string(), "failed"),
        };
        let _ = self
            .progress
            .send(Progress::Stopping {
                reason: reason.clone(),
                code,
            })
            .await;
        reason
    }

    fn now_us(&self) -> u64 {
        micros_since(self.origin, Instant::now())
    }

    fn pause(&mut self) -> Result<u64> {
        if self.paused_since.is_some() {
            return Err(Error::State("the recording is already paused".into()));
        }
        let at = self.now_us();
        self.paused_since = Some(at);
        self.folder.append(&FolderEvent::Paused { at_us: at })?;
        Ok(at / 1000)
    }

    fn resume(&mut self) -> Result<u64> {
        let at = self.now_us();
        self.resume_at(at)?;
        Ok(at / 1000)
    }

    fn resume_at(&mut self, at: u64) -> Result<()> {
        if self.paused_since.take().is_none() {
            return Err(Error::State("the recording is not paused".into()));
        }
        self.folder.append(&FolderEvent::Resumed { at_us: at })
    }

    fn on_event(&mut self, event: TapEvent) -> Result<()> {
        match event {
            TapEvent::TrackStarted {
                track,
                participant,
                kind,
                codec,
                space,
                at,
                ..
            } => {
                let at_us = micros_since(self.origin, at);
                let participant = participant.to_string();
                if let Some(entry) = self.tracks.get(track.as_str()) {
                    // Back from an unrecorded private room: the same file goes on after a gap.
                    // Named as the `PrivateRoom` event named them (the case identity, not the
                    // SFU's id), or the gap would never close.
                    return self.folder.append(&FolderEvent::Returned {
                        track: track.to_string(),
                        participant: entry.participant.clone(),
                        at_us,
                    });
                }
                let stem = format!(
                    "t{:02}-{}",
                    self.tracks.len() + 1,
                    if kind == MediaKind::Video {
                        "video"
                    } else {
                        "audio"
                    }
                );
                let (identity, role) = match self.participants.describe(&participant) {
                    Some((identity, role)) => (identity, Some(role)),
                    None => (participant.clone(), None),
                };
                let header_participant = identity.clone();
                let header = LogHeader {
                    track_id: track.to_string(),
                    participant_id: identity.clone(),
                    kind: if kind == MediaKind::Video {
                        "video"
                    } else {
                        "audio"
                    }
                    .into(),
                    mime_type: codec.mime_type.clone(),
                    clock_rate: codec.clock_rate,
                    channels: codec.channels,
                    fmtp: codec.fmtp.clone(),
                    started_at_ms: self.started_at_ms,
                };
                let group = self.clocks.entry(participant.clone()).or_default().clone();
                let clock = TrackClock::new(codec.clock_rate, group);
                let file = match TrackFile::create(
                    TrackFileSpec {
                        dir: self.dir.clone(),
                        stem: stem.clone(),
                        header,
                    },
                    clock,
                ) {
                    Ok(file) => file,
                    Err(Error::UnsupportedCodec(codec)) => {
                        tracing::warn!(codec = %codec, "a track's codec cannot be recorded");
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                let stem_name = stem.clone();
                self.folder.append(&FolderEvent::Track {
                    stem,
                    track: track.to_string(),
                    participant: identity,
                    role,
                    kind: if kind == MediaKind::Video {
                        "video"
                    } else {
                        "audio"
                    }
                    .into(),
                    space: space_name(space).into(),
                    at_us,
                })?;
                self.tracks.insert(
                    track.to_string(),
                    TrackEntry {
                        file,
                        stem: stem_name,
                        participant: header_participant,
                    },
                );
                Ok(())
            }
            TapEvent::TrackStopped { track, reason, at } => {
                let at_us = micros_since(self.origin, at);
                let Some(entry) = self.tracks.get_mut(track.as_str()) else {
                    return Ok(());
                };
                entry.file.flush()?;
                let participant = entry.participant.clone();
                let event = match reason {
                    TapStopReason::PrivateRoom => FolderEvent::PrivateRoom {
                        track: track.to_string(),
                        participant,
                        at_us,
                    },
                    _ => FolderEvent::Stopped {
                        track: track.to_string(),
                        at_us,
                    },
                };
                self.folder.append(&event)
            }
            TapEvent::TrackSpace { track, space, at } => self.folder.append(&FolderEvent::Space {
                track: track.to_string(),
                space: space_name(space).into(),
                at_us: micros_since(self.origin, at),
            }),
            TapEvent::Rtp {
                track,
                arrival,
                packet,
            } => {
                let Some(entry) = self.tracks.get_mut(track.as_str()) else {
                    return Ok(());
                };
                let arrival_us = micros_since(self.origin, arrival);
                entry.file.push(arrival_us, &rtp_of(packet))
            }
            TapEvent::SenderReport {
                track,
                arrival,
                ntp_time,
                rtp_time,
            } => {
                let Some(entry) = self.tracks.get_mut(track.as_str()) else {
                    return Ok(());
                };
                entry
                    .file
                    .sender_report(micros_since(self.origin, arrival), ntp_time, rtp_time)
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        for entry in self.tracks.values_mut() {
            entry.file.flush()?;
        }
        if self.paused_since.is_some() {
            let at_us = self.now_us();
            self.folder.append(&FolderEvent::StillPaused { at_us })?;
        }
        Ok(())
    }

    async fn checkpoint(&mut self) -> Result<()> {
        let available = free_bytes(&self.dir)?;
        if available < self.config.min_free_bytes / 2 {
            return Err(Error::DiskFull {
                available,
                needed: self.config.min_free_bytes / 2,
            });
        }
        self.flush()?;
        let logs = finalise::log_files(&self.dir)?;
        let Some(checkpoint) = self.chain.checkpoint(&logs)? else {
            return Ok(());
        };
        let bytes = finalise::folder_bytes(&self.dir)?;
        self.metrics
            .add_bytes(bytes.saturating_sub(self.written_reported));
        self.written_reported = bytes;
        // A full queue means the server is behind on storing heads; the next one supersedes.
        let _ = self.progress.try_send(Progress::Checkpoint {
            segments: checkpoint.seq,
            head: checkpoint.head,
            bytes,
        });
        Ok(())
    }
}

fn rtp_of(packet: TapPacket) -> RtpPacket {
    RtpPacket {
        sequence_number: packet.sequence_number,
        timestamp: packet.timestamp,
        ssrc: packet.ssrc,
        payload_type: packet.payload_type,
        marker: packet.marker,
        payload: packet.payload,
    }
}
