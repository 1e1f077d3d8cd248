//! Finalising a recording folder: after a clean stop (every track file already closed) or
//! after a crash ([`recover`]: every playable file rebuilt from its log), the mixed audio is
//! made from the audio logs, and the manifest — tracks, pauses, private-room gaps, every
//! file's hash, the chain's head — is written and signed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::chain::{CHAIN_FILE, ChainWriter};
use crate::clock::{ClockGroup, TrackClock};
use crate::error::{Error, Result};
use crate::log::{LogRecord, read_log};
use crate::manifest::{
    ChainSummary, FileEntry, MANIFEST_FILE, Manifest, ManifestStatus, ManifestTrack, MixedAudio,
    Pause, PrivateGap, PrivateRooms, SIGNATURE_FILE,
};
use crate::mix::{AudioInput, MixOptions, PlacedPacket, mix};
use crate::mkv::{MkvWriter, TrackCodec};
use crate::rtp::RtpPacket;
use crate::signing::PlatformKeys;
use crate::track::{TrackSummary, rebuild_from_log};

use super::RecordingMeta;
use super::events::{FolderEvent, read_events};

/// The mixed audio's file name.
pub const MIXED_AUDIO_FILE: &str = "mixed-audio.webm";
/// The manifest's format name.
pub const FORMAT: &str = "accord-recording/1";

/// A finalised recording folder.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The folder.
    pub dir: PathBuf,
    /// Complete, or interrupted by a crash.
    pub status: ManifestStatus,
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json` (hex).
    pub manifest_sha256: String,
}

/// The RTP logs of a folder, by name.
pub fn log_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut logs: Vec<PathBuf> = list(dir)?
        .into_iter()
        .filter(|name| name.ends_with(".rtplog"))
        .map(|name| dir.join(name))
        .collect();
    logs.sort();
    Ok(logs)
}

/// Bytes in a folder's files.
pub fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    for name in list(dir)? {
        let meta = std::fs::metadata(dir.join(&name))
            .map_err(|e| Error::io(format!("reading {}", dir.join(&name).display()), e))?;
        total = total.saturating_add(meta.len());
    }
    Ok(total)
}

/// The files a finalised folder keeps: what its manifest lists, the manifest and its
/// signature.
pub fn stored_files(dir: &Path) -> Result<Vec<String>> {
    let manifest = Manifest::read(dir)?;
    let mut names: Vec<String> = manifest.files.iter().map(|f| f.name.clone()).collect();
    names.push(MANIFEST_FILE.to_owned());
    names.push(SIGNATURE_FILE.to_owned());
    Ok(names)
}

fn list(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// Finalises a folder whose recorder stopped cleanly; `summaries` are the closed track files
/// by stem (a track missing from it is rebuilt from its log).
pub fn finalise(
    dir: &Path,
    keys: &PlatformKeys,
    summaries: HashMap<String, TrackSummary>,
) -> Result<Finished> {
    build(dir, keys, ManifestStatus::Complete, summaries)
}

/// After a crash: rebuilds every track's playable file from its log, makes the mixed audio and
/// signs the manifest of an `interrupted` recording. The chain is not extended: it proves what
/// was written before the crash, and the manifest says how much of each log that is.
pub fn recover(dir: &Path, keys: &PlatformKeys) -> Result<Finished> {
    build(dir, keys, ManifestStatus::Interrupted, HashMap::new())
}

/// What `events.jsonl` says about a track.
struct TrackFacts {
    stem: String,
    track: String,
    participant: String,
    role: Option<String>,
    kind: String,
    space: String,
}

fn build(
    dir: &Path,
    keys: &PlatformKeys,
    status: ManifestStatus,
    mut summaries: HashMap<String, TrackSummary>,
) -> Result<Finished> {
    let events = read_events(dir)?;
    let (meta, started_at_ms) = events
        .iter()
        .find_map(|e| match e {
            FolderEvent::Started {
                meta,
                started_at_ms,
            } => Some((meta.clone(), *started_at_ms)),
            _ => None,
        })
        .ok_or_else(|| Error::Malformed("a recording folder without its start".into()))?;
    let tracks: Vec<TrackFacts> = events
        .iter()
        .filter_map(|e| match e {
            FolderEvent::Track {
                stem,
                track,
                participant,
                role,
                kind,
                space,
                ..
            } => Some(TrackFacts {
                stem: stem.clone(),
                track: track.clone(),
                participant: participant.clone(),
                role: role.clone(),
                kind: kind.clone(),
                space: space.clone(),
            }),
            _ => None,
        })
        .collect();
    // A participant's tracks share one clock group, as they did live, so their audio and
    // video stay together in rebuilt files.
    let mut groups: HashMap<String, ClockGroup> = HashMap::new();
    for facts in &tracks {
        if summaries.contains_key(&facts.stem) {
            continue;
        }
        let log = dir.join(format!("{}.rtplog", facts.stem));
        let header = read_log(&log)?.header;
        let group = groups.entry(facts.participant.clone()).or_default().clone();
        let clock = TrackClock::new(header.clock_rate, group);
        let summary = rebuild_from_log(&log, dir, &facts.stem, clock)?;
        summaries.insert(facts.stem.clone(), summary);
    }
    let media_end = summaries
        .values()
        .filter_map(|s| s.end_us)
        .max()
        .unwrap_or(0);
    // After a crash the last sign of life is the end: the last packet, or the last event
    // (a pause writes one every flush while no packet is written).
    let end_us = events
        .iter()
        .filter_map(FolderEvent::at_us)
        .max()
        .unwrap_or(0)
        .max(media_end);
    let end_ms = end_us / 1000;

    let mut manifest_tracks = Vec::new();
    for facts in &tracks {
        let summary = summaries.get(&facts.stem);
        let codec = read_log(&dir.join(format!("{}.rtplog", facts.stem)))
            .map(|l| l.header.mime_type)
            .unwrap_or_default();
        manifest_tracks.push(ManifestTrack {
            track_id: facts.track.clone(),
            participant_id: facts.participant.clone(),
            role: facts.role.clone(),
            kind: facts.kind.clone(),
            codec,
            space: facts.space.clone(),
            file: summary.and_then(|s| s.media_file.clone()),
            log: format!("{}.rtplog", facts.stem),
            start_ms: summary.and_then(|s| s.start_us).unwrap_or(0) / 1000,
            end_ms: summary.and_then(|s| s.end_us).unwrap_or(0) / 1000,
        });
    }

    let logs: Vec<(String, String, PathBuf)> = tracks
        .iter()
        .map(|t| {
            (
                t.participant.clone(),
                t.kind.clone(),
                dir.join(format!("{}.rtplog", t.stem)),
            )
        })
        .collect();
    let mixed_audio = write_mixed_audio(dir, &logs, end_us)?;

    let chain = ChainWriter::open(dir)?;
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        recording_id: meta.recording_id.clone(),
        case_id: meta.case_id.clone(),
        session_id: meta.session_id.clone(),
        status,
        started_at_ms,
        ended_at_ms: started_at_ms.saturating_add(end_ms),
        duration_ms: end_ms,
        tracks: manifest_tracks,
        mixed_audio,
        pauses: pauses(&events, end_ms),
        private_rooms: private_rooms(&meta, &events, end_ms),
        files: Vec::new(),
        chain: ChainSummary {
            segments: chain.segments(),
            head: chain.head(),
        },
        signed_at_ms: 0,
        key_id: String::new(),
    };
    drop(chain);
    manifest.files = FileEntry::all_in(dir)?;
    debug_assert!(manifest.lists(CHAIN_FILE) || manifest.chain.segments == 0);
    let written = manifest.write(dir, keys)?;
    Ok(Finished {
        dir: dir.to_path_buf(),
        status,
        manifest,
        manifest_sha256: written.sha256,
    })
}

fn pauses(events: &[FolderEvent], end_ms: u64) -> Vec<Pause> {
    let mut pauses = Vec::new();
    let mut open: Option<u64> = None;
    for event in events {
        match event {
            FolderEvent::Paused { at_us } => {
                open.get_or_insert(*at_us / 1000);
            }
            FolderEvent::Resumed { at_us } => {
                if let Some(from_ms) = open.take() {
                    pauses.push(Pause {
                        from_ms,
                        to_ms: at_us / 1000,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(from_ms) = open {
        pauses.push(Pause {
            from_ms,
            to_ms: end_ms,
        });
    }
    pauses
}

fn private_rooms(meta: &RecordingMeta, events: &[FolderEvent], end_ms: u64) -> PrivateRooms {
    let mut gaps = Vec::new();
    let mut open: HashMap<String, u64> = HashMap::new();
    for event in events {
        match event {
            FolderEvent::PrivateRoom {
                participant, at_us, ..
            } => {
                open.entry(participant.clone()).or_insert(at_us / 1000);
            }
            FolderEvent::Returned {
                participant, at_us, ..
            } => {
                if let Some(from_ms) = open.remove(participant) {
                    gaps.push(PrivateGap {
                        participant_id: participant.clone(),
                        from_ms,
                        to_ms: at_us / 1000,
                    });
                }
            }
            _ => {}
        }
    }
    let mut still: Vec<(String, u64)> = open.into_iter().collect();
    still.sort();
    for (participant_id, from_ms) in still {
        gaps.push(PrivateGap {
            participant_id,
            from_ms,
            to_ms: end_ms,
        });
    }
    gaps.sort_by_key(|g| (g.from_ms, g.participant_id.clone()));
    PrivateRooms {
        recorded: meta.private_rooms_recorded,
        gaps,
    }
}

/// Mixes every audio log onto the session clock and writes the result; `None` when nobody
/// published audio. Each participant's logs, audio and video, are replayed through one clock
/// group in arrival order, as the recorder placed them live, so the mixed audio sits where the
/// track files do (the review page plays them together).
fn write_mixed_audio(
    dir: &Path,
    logs: &[(String, String, PathBuf)],
    end_us: u64,
) -> Result<Option<MixedAudio>> {
    if !logs.iter().any(|(_, kind, _)| kind == "audio") || end_us == 0 {
        return Ok(None);
    }
    let mut participants: Vec<&str> = logs.iter().map(|(p, _, _)| p.as_str()).collect();
    participants.sort_unstable();
    participants.dedup();
    let mut inputs = Vec::new();
    for participant in participants {
        let theirs: Vec<(&str, &Path)> = logs
            .iter()
            .filter(|(p, _, _)| p == participant)
            .map(|(_, kind, path)| (kind.as_str(), path.as_path()))
            .collect();
        inputs.extend(place_audio_of(&theirs)?);
    }
    let frames = mix(&inputs, end_us, &MixOptions::default())?;
    let path = dir.join(MIXED_AUDIO_FILE);
    // A crash while a clean stop was finalising can leave a mixed file behind.
    crate::track::remove_leftover(&path)?;
    let mut writer = MkvWriter::create(&path, &TrackCodec::Opus { channels: 1 })?;
    for frame in &frames {
        writer.write_frame(frame.at_us / 1000, true, &frame.opus)?;
    }
    writer.finalise(end_us / 1000)?;
    Ok(Some(MixedAudio {
        file: MIXED_AUDIO_FILE.to_owned(),
        start_ms: 0,
        end_ms: end_us / 1000,
    }))
}

/// One record of a participant's logs, for replaying them together.
enum Replayed {
    Report {
        ntp_time: u64,
        rtp_time: u32,
    },
    Packet {
        timestamp: u32,
        sequence: u16,
        payload: Option<bytes::Bytes>,
    },
}

/// Places one participant's audio packets: all their logs through one clock group, merged by
/// arrival (each log is in arrival order already). Video keeps only what the clock needs.
fn place_audio_of(logs: &[(&str, &Path)]) -> Result<Vec<AudioInput>> {
    let group = ClockGroup::default();
    let mut clocks = Vec::with_capacity(logs.len());
    let mut merged: Vec<(u64, usize, Replayed)> = Vec::new();
    for (index, (kind, path)) in logs.iter().enumerate() {
        let log = read_log(path)?;
        clocks.push((
            *kind == "audio",
            TrackClock::new(log.header.clock_rate, group.clone()),
        ));
        for record in log.records {
            let (arrival_us, replayed) = match record {
                LogRecord::SenderReport {
                    arrival_us,
                    ntp_time,
                    rtp_time,
                } => (arrival_us, Replayed::Report { ntp_time, rtp_time }),
                LogRecord::Rtp { arrival_us, packet } => {
                    let Ok(packet) = RtpPacket::parse(&packet) else {
                        continue;
                    };
                    let payload = (*kind == "audio").then_some(packet.payload);
                    (
                        arrival_us,
                        Replayed::Packet {
                            timestamp: packet.timestamp,
                            sequence: packet.sequence_number,
                            payload,
                        },
                    )
                }
            };
            merged.push((arrival_us, index, replayed));
        }
    }
    merged.sort_by_key(|(arrival_us, _, _)| *arrival_us);
    let mut placed: Vec<Vec<PlacedPacket>> = vec![Vec::new(); logs.len()];
    let mut highest: Vec<Option<u64>> = vec![None; logs.len()];
    for (arrival_us, index, replayed) in merged {
        let Some((_, clock)) = clocks.get_mut(index) else {
            continue;
        };
        match replayed {
            Replayed::Report { ntp_time, rtp_time } => {
                clock.sender_report(arrival_us, ntp_time, rtp_time);
            }
            Replayed::Packet {
                timestamp,
                sequence,
                payload,
            } => {
                let at_us = clock.place(arrival_us, timestamp);
                if let (Some(payload), Some(list), Some(top)) =
                    (payload, placed.get_mut(index), highest.get_mut(index))
                {
                    let sequence = extend(top, sequence);
                    list.push(PlacedPacket {
                        at_us,
                        sequence,
                        payload,
                    });
                }
            }
        }
    }
    Ok(clocks
        .iter()
        .zip(placed)
        .filter(|((audio, _), _)| *audio)
        .map(|(_, mut packets)| {
            // Arrival order is not sequence order under reordering; the mixer wants sequence
            // order, each packet once.
            packets.sort_by_key(|p| p.sequence);
            packets.dedup_by_key(|p| p.sequence);
            AudioInput { packets }
        })
        .collect())
}

/// A 16-bit sequence number extended across wraps, relative to the highest seen so far.
fn extend(highest: &mut Option<u64>, sequence: u16) -> u64 {
    let Some(top) = *highest else {
        let first = u64::from(sequence) + (1 << 16);
        *highest = Some(first);
        return first;
    };
    let cycle = top & !0xFFFF;
    let candidates = [
        cycle.wrapping_sub(1 << 16) | u64::from(sequence),
        cycle | u64::from(sequence),
        (cycle + (1 << 16)) | u64::from(sequence),
    ];
    let value = candidates
        .into_iter()
        .min_by_key(|c| c.abs_diff(top))
        .unwrap_or(top);
    if value > top {
        *highest = Some(value);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_the_wrap() {
        let mut highest = None;
        let a = extend(&mut highest, 65_534);
        let b = extend(&mut highest, 65_535);
        let c = extend(&mut highest, 0);
        let d = extend(&mut highest, 65_533);
        assert_eq!((b - a, c - b), (1, 1));
        assert_eq!(a - d, 1);
    }
}
