//! One recorded track: its RTP log (the master copy) and its playable file, written together
//! as packets arrive, and the same file rebuilt from the log after a crash.
//!
//! Packets go into the log first, exactly as they arrived, then through the session clock
//! (in arrival order, as [`TrackClock::place`] wants), the reorder buffer and the
//! depacketizer into the WebM / Matroska file. [`rebuild_from_log`] replays the log through
//! the same steps, so a rebuilt file holds what the live one would have.

use std::path::{Path, PathBuf};

use crate::clock::TrackClock;
use crate::depacketize::{Depacketizer, Frame, SequencedPacket};
use crate::log::{LogHeader, LogRecord, LogWriter, read_log};
use crate::mkv::MkvWriter;
use crate::reorder::ReorderBuffer;
use crate::rtp::RtpPacket;
use crate::{Error, Result};

/// Assumed length of a video frame when there is no next frame to measure it by (30 fps).
const DEFAULT_VIDEO_FRAME_US: u64 = 33_333;

/// Where a track's files go and what the track is.
#[derive(Debug, Clone)]
pub struct TrackFileSpec {
    /// The recording's folder.
    pub dir: PathBuf,
    /// File name without extension, "t01-audio".
    pub stem: String,
    /// The log's header: the track and its codec.
    pub header: LogHeader,
}

/// What a finished track left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSummary {
    /// The log's file name in the recording folder.
    pub log_file: String,
    /// The playable file's name; None when nothing playable arrived (no keyframe, no packet).
    pub media_file: Option<String>,
    /// Session time of the first frame in the file, µs.
    pub start_us: Option<u64>,
    /// Session time where the last frame ends, µs.
    pub end_us: Option<u64>,
    /// Frames in the file.
    pub frames: u64,
}

/// One track being recorded: log, reorder buffer, depacketizer and live file.
pub struct TrackFile {
    log: LogWriter,
    log_path: PathBuf,
    media: MediaPipeline,
}

impl TrackFile {
    /// Creates the track's log (`<stem>.rtplog`); the playable file is created when its first
    /// frame can be written.
    pub fn create(spec: TrackFileSpec, clock: TrackClock) -> Result<Self> {
        let media = MediaPipeline::new(&spec.dir, &spec.stem, &spec.header, clock)?;
        let log_path = spec.dir.join(format!("{}.rtplog", spec.stem));
        let log = LogWriter::create(&log_path, &spec.header)?;
        Ok(Self {
            log,
            log_path,
            media,
        })
    }

    /// Logs a sender report and gives it to the clock.
    pub fn sender_report(&mut self, arrival_us: u64, ntp_time: u64, rtp_time: u32) -> Result<()> {
        self.log.append(&LogRecord::SenderReport {
            arrival_us,
            ntp_time,
            rtp_time,
        })?;
        self.media
            .clock
            .sender_report(arrival_us, ntp_time, rtp_time);
        Ok(())
    }

    /// Logs a packet, then places, reorders and depacketizes it and writes the frames it
    /// completes.
    pub fn push(&mut self, arrival_us: u64, packet: &RtpPacket) -> Result<()> {
        self.log.append(&LogRecord::Rtp {
            arrival_us,
            packet: packet.marshal(),
        })?;
        self.media.push(arrival_us, packet.clone())
    }

    /// Hands the log's buffered records and the file's closed clusters to the OS.
    pub fn flush(&mut self) -> Result<()> {
        self.log.flush()?;
        self.media.flush()
    }

    /// The log's path.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The playable file's path (it exists once a first frame was written).
    pub fn media_path(&self) -> &Path {
        &self.media.path
    }

    /// Writes out what is still held, finalises the playable file and syncs the log to disk.
    pub fn finish(mut self) -> Result<TrackSummary> {
        self.log.sync()?;
        self.media.finish(file_name(&self.log_path))
    }
}

/// Removes a file an earlier, cut-short run left where a rebuilt one goes (media files are
/// created exclusively, so a leftover would stop the rebuild).
pub(crate) fn remove_leftover(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("replacing {}", path.display()), e)),
    }
}

/// After a crash: rebuilds the playable file from the log (replacing a cut one) and finalises
/// it. Records after a cut are gone; a record that is not a valid RTP packet is skipped.
pub fn rebuild_from_log(
    log_path: &Path,
    dir: &Path,
    stem: &str,
    clock: TrackClock,
) -> Result<TrackSummary> {
    let log = read_log(log_path)?;
    let mut media = MediaPipeline::new(dir, stem, &log.header, clock)?;
    remove_leftover(&media.path)?;
    for record in log.records {
        match record {
            LogRecord::SenderReport {
                arrival_us,
                ntp_time,
                rtp_time,
            } => media.clock.sender_report(arrival_us, ntp_time, rtp_time),
            LogRecord::Rtp { arrival_us, packet } => {
                if let Ok(packet) = RtpPacket::parse(&packet) {
                    media.push(arrival_us, packet)?;
                }
            }
        }
    }
    media.finish(file_name(log_path))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Clock, reorder buffer, depacketizer and file: everything from a packet to the file.
struct MediaPipeline {
    clock: TrackClock,
    reorder: ReorderBuffer<(u64, RtpPacket)>,
    depacketizer: Depacketizer,
    path: PathBuf,
    writer: Option<MkvWriter>,
    first_us: Option<u64>,
    /// Session time of the last frame written and how long it plays, if known.
    last_frame: Option<(u64, Option<u64>)>,
    last_video_interval_us: u64,
    frames: u64,
    released: Vec<(u64, (u64, RtpPacket))>,
    completed: Vec<Frame>,
}

impl MediaPipeline {
    fn new(dir: &Path, stem: &str, header: &LogHeader, clock: TrackClock) -> Result<Self> {
        let depacketizer = Depacketizer::for_mime_type(&header.mime_type, header.channels)?;
        let extension = if matches!(depacketizer, Depacketizer::H264(_)) {
            "mkv"
        } else {
            "webm"
        };
        Ok(Self {
            clock,
            reorder: ReorderBuffer::default(),
            depacketizer,
            path: dir.join(format!("{stem}.{extension}")),
            writer: None,
            first_us: None,
            last_frame: None,
            last_video_interval_us: DEFAULT_VIDEO_FRAME_US,
            frames: 0,
            released: Vec::new(),
            completed: Vec::new(),
        })
    }

    fn push(&mut self, arrival_us: u64, packet: RtpPacket) -> Result<()> {
        let session_us = self.clock.place(arrival_us, packet.timestamp);
        self.reorder.push(
            packet.sequence_number,
            arrival_us,
            (session_us, packet),
            &mut self.released,
        );
        self.depacketize_released();
        self.write_completed()
    }

    fn depacketize_released(&mut self) {
        for (extended_sequence, (session_us, packet)) in self.released.drain(..) {
            self.depacketizer.push(
                SequencedPacket {
                    extended_sequence,
                    session_us,
                    packet: &packet,
                },
                &mut self.completed,
            );
        }
    }

    fn write_completed(&mut self) -> Result<()> {
        let completed = std::mem::take(&mut self.completed);
        for frame in &completed {
            self.write(frame)?;
        }
        self.completed = completed;
        self.completed.clear();
        Ok(())
    }

    fn write(&mut self, frame: &Frame) -> Result<()> {
        if self.writer.is_none() {
            // Video waits for a keyframe that says its size (and, for H.264, SPS and PPS).
            let Some(codec) = self.depacketizer.track_codec(frame) else {
                return Ok(());
            };
            self.writer = Some(MkvWriter::create(&self.path, &codec)?);
            self.first_us = Some(frame.session_us);
        }
        let first_us = self.first_us.unwrap_or(frame.session_us);
        let session_us = match self.last_frame {
            Some((last_us, _)) => frame.session_us.max(last_us),
            None => frame.session_us,
        };
        if let Some((last_us, None)) = self.last_frame
            && session_us > last_us
        {
            self.last_video_interval_us = session_us - last_us;
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.write_frame((session_us - first_us) / 1000, frame.keyframe, &frame.data)?;
        }
        self.last_frame = Some((session_us, frame.duration_us));
        self.frames += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        match self.writer.as_mut() {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }

    fn finish(mut self, log_file: String) -> Result<TrackSummary> {
        self.reorder.drain(&mut self.released);
        self.depacketize_released();
        self.depacketizer.finish(&mut self.completed);
        self.write_completed()?;
        let end_us = self
            .last_frame
            .map(|(at, duration)| at + duration.unwrap_or(self.last_video_interval_us));
        let media_file = match (self.writer.take(), self.first_us, end_us) {
            (Some(writer), Some(first_us), Some(end_us)) => {
                writer.finalise((end_us - first_us) / 1000)?;
                Some(file_name(&self.path))
            }
            _ => None,
        };
        Ok(TrackSummary {
            log_file,
            media_file,
            start_us: self.first_us,
            end_us,
            frames: self.frames,
        })
    }
}
