//! A one-track WebM / Matroska writer built for crashes.
//!
//! The file is written front to back while the session runs: the EBML header, a Segment of
//! unknown size, a Void reserved for the SeekHead, Info (1 ms timestamps, a Void where the
//! Duration goes), Tracks, then Clusters. A cluster holds at most one second (video also
//! starts one at each keyframe) and is written whole when it closes, so a file cut by a
//! SIGKILL ends in whole clusters plus at most one partly written, and players read it to
//! within the last flushed cluster. [`MkvWriter::finalise`] appends Cues and patches the
//! Duration, the Segment size and the SeekHead, which makes the file seekable.

mod ebml;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use ebml::{id, put_bytes, put_float, put_master, put_size, put_uint, put_void};

use crate::{Error, Result};

/// Longest a cluster spans, ms: the most a crash can cost beyond the last flush.
const MAX_CLUSTER_MS: u64 = 1_000;
/// A cluster closes at this size even before a second has passed, to bound what is held.
const MAX_CLUSTER_BYTES: usize = 8 << 20;
/// Closed clusters kept before they go to the OS without waiting for [`MkvWriter::flush`].
const MAX_PENDING_BYTES: usize = 4 << 20;
/// Bytes reserved for the SeekHead: three Seek entries fit in well under this.
const SEEK_HEAD_SPACE: usize = 96;
/// A Duration element: 2-byte ID, 1-byte size, 8-byte float.
const DURATION_SPACE: usize = 11;
/// Opus in WebM: decoders should start 80 ms before a seek target (RFC 7845 §4.6).
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// What the file's one track holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackCodec {
    /// Opus audio (WebM).
    Opus {
        /// 1 or 2.
        channels: u8,
    },
    /// VP8 video (WebM).
    Vp8 {
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// H.264 video (Matroska), AVCC access units.
    H264 {
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
        /// The `avcC` record (SPS and PPS).
        avcc: Vec<u8>,
    },
}

impl TrackCodec {
    /// The file extension this codec is written with.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::H264 { .. } => "mkv",
            _ => "webm",
        }
    }

    fn is_video(&self) -> bool {
        !matches!(self, Self::Opus { .. })
    }
}

/// Writes one track's frames into a WebM / Matroska file.
pub struct MkvWriter {
    file: File,
    what: String,
    video: bool,
    /// File offset where the Segment's data begins: positions inside are relative to it.
    segment_data_at: u64,
    seek_head_at: u64,
    duration_at: u64,
    info_at: u64,
    tracks_at: u64,
    /// Bytes in the file plus those pending.
    written: u64,
    pending: Vec<u8>,
    cluster: Option<Cluster>,
    cues: Vec<(u64, u64)>,
    /// Time of the last block written; None before the first.
    last_ms: Option<u64>,
}

struct Cluster {
    start_ms: u64,
    blocks: Vec<u8>,
}

impl MkvWriter {
    /// Creates the file (0600, refusing to overwrite) and writes everything before the first
    /// cluster.
    pub fn create(path: &Path, codec: &TrackCodec) -> Result<Self> {
        let what = format!("media file {}", path.display());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| Error::io(&what, e))?;
        let mut head = Vec::new();
        let doc_type = if codec.extension() == "webm" {
            "webm"
        } else {
            "matroska"
        };
        put_master(&mut head, id::EBML, |out| {
            put_uint(out, id::EBML_VERSION, 1);
            put_uint(out, id::EBML_READ_VERSION, 1);
            put_uint(out, id::EBML_MAX_ID_LENGTH, 4);
            put_uint(out, id::EBML_MAX_SIZE_LENGTH, 8);
            put_bytes(out, id::DOC_TYPE, doc_type.as_bytes());
            put_uint(out, id::DOC_TYPE_VERSION, 4);
            put_uint(out, id::DOC_TYPE_READ_VERSION, 2);
        });
        ebml::put_id(&mut head, id::SEGMENT);
        head.extend_from_slice(&ebml::UNKNOWN_SIZE);
        let segment_data_at = head.len() as u64;
        put_void(&mut head, SEEK_HEAD_SPACE);
        let info_at = head.len() as u64;
        let mut info = Vec::new();
        put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        put_bytes(&mut info, id::MUXING_APP, b"accord");
        put_bytes(&mut info, id::WRITING_APP, b"accord");
        let duration_in_info = info.len();
        put_void(&mut info, DURATION_SPACE);
        ebml::put_id(&mut head, id::INFO);
        put_size(&mut head, info.len() as u64);
        let duration_at = (head.len() + duration_in_info) as u64;
        head.extend_from_slice(&info);
        let tracks_at = head.len() as u64;
        put_master(&mut head, id::TRACKS, |out| {
            put_master(out, id::TRACK_ENTRY, |out| track_entry(out, codec));
        });
        file.write_all(&head).map_err(|e| Error::io(&what, e))?;
        Ok(Self {
            file,
            what,
            video: codec.is_video(),
            segment_data_at,
            seek_head_at: segment_data_at,
            duration_at,
            info_at,
            tracks_at,
            written: head.len() as u64,
            pending: Vec::new(),
            cluster: None,
            cues: Vec::new(),
            last_ms: None,
        })
    }

    /// Adds a frame at `time_ms` (from the file's start; a time not after the previous
    /// frame's is moved to 1 ms after it, since blocks must not go back in time).
    pub fn write_frame(&mut self, time_ms: u64, keyframe: bool, data: &[u8]) -> Result<()> {
        // Two blocks at one time, or one going back, make players drop or reorder frames.
        let time_ms = match self.last_ms {
            Some(last_ms) => time_ms.max(last_ms + 1),
            None => time_ms,
        };
        self.last_ms = Some(time_ms);
        let starts_cluster = match &self.cluster {
            None => true,
            Some(cluster) => {
                time_ms - cluster.start_ms >= MAX_CLUSTER_MS
                    || (self.video && keyframe)
                    || cluster.blocks.len() >= MAX_CLUSTER_BYTES
            }
        };
        if starts_cluster {
            self.close_cluster()?;
            // Audio is cued at every cluster; video only where decoding can start.
            if keyframe || !self.video {
                self.cues
                    .push((time_ms, self.written - self.segment_data_at));
            }
            self.cluster = Some(Cluster {
                start_ms: time_ms,
                blocks: Vec::new(),
            });
        }
        let Some(cluster) = self.cluster.as_mut() else {
            return Ok(());
        };
        let relative = (time_ms - cluster.start_ms).min(i16::MAX as u64) as i16;
        // Written straight into the cluster: one copy of the frame per block.
        let blocks = &mut cluster.blocks;
        ebml::put_id(blocks, id::SIMPLE_BLOCK);
        put_size(blocks, 4 + data.len() as u64);
        blocks.push(0x81); // track number 1 as a one-byte vint
        blocks.extend_from_slice(&relative.to_be_bytes());
        blocks.push(if keyframe { 0x80 } else { 0x00 });
        blocks.extend_from_slice(data);
        Ok(())
    }

    /// Hands closed clusters to the OS; the open one stays until it closes, so that the file
    /// never ends in a cluster that claims blocks it does not have.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .map_err(|e| Error::io(&self.what, e))?;
        self.pending.clear();
        Ok(())
    }

    /// Closes the last cluster, writes the Cues, patches Duration (`duration_ms`: the end of
    /// the last frame), the Segment size and the SeekHead, and syncs the file to disk.
    pub fn finalise(mut self, duration_ms: u64) -> Result<()> {
        self.close_cluster()?;
        let cues_at = self.written - self.segment_data_at;
        let mut cues = Vec::new();
        put_master(&mut cues, id::CUES, |out| {
            for &(time_ms, position) in &self.cues {
                put_master(out, id::CUE_POINT, |out| {
                    put_uint(out, id::CUE_TIME, time_ms);
                    put_master(out, id::CUE_TRACK_POSITIONS, |out| {
                        put_uint(out, id::CUE_TRACK, 1);
                        put_uint(out, id::CUE_CLUSTER_POSITION, position);
                    });
                });
            }
        });
        if !self.cues.is_empty() {
            self.pending.extend_from_slice(&cues);
            self.written += cues.len() as u64;
        }
        self.flush()?;

        let mut duration = Vec::with_capacity(DURATION_SPACE);
        put_float(&mut duration, id::DURATION, duration_ms as f64);
        self.patch(self.duration_at, &duration)?;

        let mut seek_head = Vec::with_capacity(SEEK_HEAD_SPACE);
        put_master(&mut seek_head, id::SEEK_HEAD, |out| {
            let mut entries = vec![
                (id::INFO, self.info_at - self.segment_data_at),
                (id::TRACKS, self.tracks_at - self.segment_data_at),
            ];
            if !self.cues.is_empty() {
                entries.push((id::CUES, cues_at));
            }
            for (element, position) in entries {
                put_master(out, id::SEEK, |out| {
                    let mut element_id = Vec::new();
                    ebml::put_id(&mut element_id, element);
                    put_bytes(out, id::SEEK_ID, &element_id);
                    put_uint(out, id::SEEK_POSITION, position);
                });
            }
        });
        let unused = SEEK_HEAD_SPACE.saturating_sub(seek_head.len());
        put_void(&mut seek_head, unused);
        self.patch(self.seek_head_at, &seek_head)?;

        let mut segment_size = Vec::with_capacity(8);
        ebml::put_size_fixed(&mut segment_size, self.written - self.segment_data_at, 8);
        self.patch(self.segment_data_at - 8, &segment_size)?;
        self.file.sync_all().map_err(|e| Error::io(&self.what, e))
    }

    fn close_cluster(&mut self) -> Result<()> {
        let Some(cluster) = self.cluster.take() else {
            return Ok(());
        };
        let mut body = Vec::with_capacity(cluster.blocks.len() + 10);
        put_uint(&mut body, id::TIMESTAMP, cluster.start_ms);
        body.extend_from_slice(&cluster.blocks);
        let before = self.pending.len();
        ebml::put_id(&mut self.pending, id::CLUSTER);
        put_size(&mut self.pending, body.len() as u64);
        self.pending.extend_from_slice(&body);
        self.written += (self.pending.len() - before) as u64;
        if self.pending.len() >= MAX_PENDING_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> Result<()> {
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.write_all(bytes))
            .map_err(|e| Error::io(&self.what, e))
    }
}

fn track_entry(out: &mut Vec<u8>, codec: &TrackCodec) {
    put_uint(out, id::TRACK_NUMBER, 1);
    put_uint(out, id::TRACK_UID, 1);
    put_uint(out, id::FLAG_LACING, 0);
    match codec {
        TrackCodec::Opus { channels } => {
            put_uint(out, id::TRACK_TYPE, 2);
            put_bytes(out, id::CODEC_ID, b"A_OPUS");
            put_bytes(out, id::CODEC_PRIVATE, &opus_head(*channels));
            put_uint(out, id::CODEC_DELAY, 0);
            put_uint(out, id::SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
            put_master(out, id::AUDIO, |out| {
                put_float(out, id::SAMPLING_FREQUENCY, 48_000.0);
                put_uint(out, id::CHANNELS, u64::from(*channels));
            });
        }
        TrackCodec::Vp8 { width, height } => {
            put_uint(out, id::TRACK_TYPE, 1);
            put_bytes(out, id::CODEC_ID, b"V_VP8");
            video(out, *width, *height);
        }
        TrackCodec::H264 {
            width,
            height,
            avcc,
        } => {
            put_uint(out, id::TRACK_TYPE, 1);
            put_bytes(out, id::CODEC_ID, b"V_MPEG4/ISO/AVC");
            put_bytes(out, id::CODEC_PRIVATE, avcc);
            video(out, *width, *height);
        }
    }
}

fn video(out: &mut Vec<u8>, width: u32, height: u32) {
    put_master(out, id::VIDEO, |out| {
        put_uint(out, id::PIXEL_WIDTH, u64::from(width));
        put_uint(out, id::PIXEL_HEIGHT, u64::from(height));
    });
}

/// The Opus identification header (RFC 7845 §5.1). WebRTC senders do not pre-skip, so
/// neither does the file: its first sample is the first one sent.
fn opus_head(channels: u8) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&0u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family: mono or stereo
    head
}
