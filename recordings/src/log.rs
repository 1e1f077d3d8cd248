//! The per-track RTP log: the master copy of a recording, which a crash can cut but never
//! corrupt.
//!
//! File layout: magic `ACCRTPL1`, a u32-BE header length, the header as JSON ([`LogHeader`]),
//! then records. A record is `kind: u8` (1 = RTP, 2 = sender report), `len: u32 BE` (body
//! length), `arrival_us: u64 BE` (session clock), the body, and a CRC-32 over everything
//! before it in the record. Records are only ever appended, so a SIGKILL can leave at most one
//! cut record at the end; [`read_log`] stops at the first incomplete or bad record and says how
//! many bytes were whole.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// First bytes of every log file.
const MAGIC: &[u8; 8] = b"ACCRTPL1";
const KIND_RTP: u8 = 1;
const KIND_SENDER_REPORT: u8 = 2;
/// kind + len + arrival_us.
const RECORD_HEAD: usize = 1 + 4 + 8;
const CRC_LEN: usize = 4;
const SENDER_REPORT_BODY: usize = 8 + 4;
/// No RTP packet comes near this; a larger length can only be a cut or damaged record, and
/// refusing it keeps a damaged length from making the reader allocate gigabytes.
const MAX_BODY: usize = 64 * 1024;
/// A header is a few hundred bytes of JSON; anything beyond this is not a log.
const MAX_HEADER: usize = 64 * 1024;

/// What a log records: the track, its codec and when the session clock started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHeader {
    /// The SFU's track id.
    pub track_id: String,
    /// The publishing participant's id.
    pub participant_id: String,
    /// "audio" or "video".
    pub kind: String,
    /// Codec MIME type as negotiated ("audio/opus", "video/VP8", "video/H264").
    pub mime_type: String,
    /// RTP clock rate of the codec.
    pub clock_rate: u32,
    /// Audio channels (0 or 1 for video).
    pub channels: u16,
    /// The codec's SDP fmtp line.
    pub fmtp: String,
    /// Unix ms of session clock 0 (when the recording started).
    pub started_at_ms: u64,
}

/// One record of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// An RTP packet as received.
    Rtp {
        /// Arrival on the session clock, µs.
        arrival_us: u64,
        /// The whole packet: 12-byte header and payload.
        packet: Bytes,
    },
    /// An RTCP sender report's timing pair.
    SenderReport {
        /// Arrival on the session clock, µs.
        arrival_us: u64,
        /// The sender's NTP time (64-bit fixed point).
        ntp_time: u64,
        /// The RTP timestamp matching `ntp_time`.
        rtp_time: u32,
    },
}

impl LogRecord {
    fn encode(&self) -> Bytes {
        let (kind, arrival_us, body) = match self {
            Self::Rtp { arrival_us, packet } => (KIND_RTP, *arrival_us, packet.clone()),
            Self::SenderReport {
                arrival_us,
                ntp_time,
                rtp_time,
            } => {
                let mut body = BytesMut::with_capacity(SENDER_REPORT_BODY);
                body.put_u64(*ntp_time);
                body.put_u32(*rtp_time);
                (KIND_SENDER_REPORT, *arrival_us, body.freeze())
            }
        };
        let mut out = BytesMut::with_capacity(RECORD_HEAD + body.len() + CRC_LEN);
        out.put_u8(kind);
        // Bodies are RTP packets (≤ MTU) or 12 bytes, far below u32::MAX.
        out.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
        out.put_u64(arrival_us);
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        out.put_u32(crc);
        out.freeze()
    }
}

/// Appends records to a new log file.
pub struct LogWriter {
    out: BufWriter<File>,
    len: u64,
    what: String,
}

impl LogWriter {
    /// Creates the file (mode 0600, refusing to overwrite) and writes the header to the OS.
    pub fn create(path: &Path, header: &LogHeader) -> Result<Self> {
        let what = format!("RTP log {}", path.display());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| Error::io(&what, e))?;
        let json =
            serde_json::to_vec(header).map_err(|e| Error::Malformed(format!("log header: {e}")))?;
        let json_len = u32::try_from(json.len())
            .map_err(|_| Error::Malformed("log header too long".into()))?;
        let mut head = Vec::with_capacity(MAGIC.len() + 4 + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&json_len.to_be_bytes());
        head.extend_from_slice(&json);
        let mut writer = Self {
            out: BufWriter::new(file),
            len: 0,
            what,
        };
        writer.write(&head)?;
        writer.flush()?;
        Ok(writer)
    }

    /// Appends one record (buffered until [`LogWriter::flush`] or the buffer fills). A packet
    /// larger than any UDP datagram is refused: [`read_log`] would stop at it.
    pub fn append(&mut self, record: &LogRecord) -> Result<()> {
        if let LogRecord::Rtp { packet, .. } = record
            && packet.len() > MAX_BODY
        {
            return Err(Error::Malformed(format!(
                "RTP packet of {} bytes",
                packet.len()
            )));
        }
        self.write(&record.encode())
    }

    /// Flushes and waits until the disk has the records: for a clean stop, before the
    /// recording's manifest vouches for the file.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.what, e))
    }

    /// Hands buffered records to the OS: once this returns, a SIGKILL of the process keeps them.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.what, e))
    }

    /// Bytes in the file so far, buffered ones included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing at all was written (never true after [`LogWriter::create`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.what, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// A log read back: its header, every whole record, and where the whole part ends.
#[derive(Debug, Clone)]
pub struct LogContents {
    /// The header.
    pub header: LogHeader,
    /// Every record up to the first cut or damaged one.
    pub records: Vec<LogRecord>,
    /// Bytes from the start of the file up to the end of the last whole record.
    pub valid_bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
}

/// Reads a log; a cut or damaged tail ends the records instead of failing. A missing or
/// damaged header fails: without it nothing in the file can be interpreted.
pub fn read_log(path: &Path) -> Result<LogContents> {
    let what = format!("RTP log {}", path.display());
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| Error::io(&what, e))?;
    let header_start = MAGIC.len() + 4;
    if data.len() < header_start || &data[..MAGIC.len()] != MAGIC {
        return Err(Error::Malformed(format!("{what}: not an RTP log")));
    }
    let header_len = u32::from_be_bytes([data[8], data[9], data[10], data[11]]) as usize;
    let header_end = header_start + header_len;
    if header_len > MAX_HEADER || data.len() < header_end {
        return Err(Error::Malformed(format!("{what}: header cut")));
    }
    let header: LogHeader = serde_json::from_slice(&data[header_start..header_end])
        .map_err(|e| Error::Malformed(format!("{what}: header: {e}")))?;
    let data = Bytes::from(data);
    let mut records = Vec::new();
    let mut at = header_end;
    while let Some((record, next)) = decode_record(&data, at) {
        records.push(record);
        at = next;
    }
    Ok(LogContents {
        header,
        records,
        valid_bytes: at as u64,
        file_bytes: data.len() as u64,
    })
}

/// The record starting at `at` and where the next one starts, or None if it is cut or bad.
fn decode_record(data: &Bytes, at: usize) -> Option<(LogRecord, usize)> {
    let head = data.get(at..at + RECORD_HEAD)?;
    let kind = head[0];
    let body_len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if body_len > MAX_BODY {
        return None;
    }
    let body_start = at + RECORD_HEAD;
    let body_end = body_start + body_len;
    let crc_bytes = data.get(body_end..body_end + CRC_LEN)?;
    let stored = u32::from_be_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
    if crc32fast::hash(&data[at..body_end]) != stored {
        return None;
    }
    let mut arrival = [0u8; 8];
    arrival.copy_from_slice(&head[5..13]);
    let arrival_us = u64::from_be_bytes(arrival);
    let body = data.slice(body_start..body_end);
    let record = match kind {
        KIND_RTP => LogRecord::Rtp {
            arrival_us,
            packet: body,
        },
        KIND_SENDER_REPORT if body.len() == SENDER_REPORT_BODY => {
            let mut ntp = [0u8; 8];
            ntp.copy_from_slice(&body[..8]);
            LogRecord::SenderReport {
                arrival_us,
                ntp_time: u64::from_be_bytes(ntp),
                rtp_time: u32::from_be_bytes([body[8], body[9], body[10], body[11]]),
            }
        }
        _ => return None,
    };
    Some((record, body_end + CRC_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> LogHeader {
        LogHeader {
            track_id: "TR_a".into(),
            participant_id: "PA_b".into(),
            kind: "audio".into(),
            mime_type: "audio/opus".into(),
            clock_rate: 48_000,
            channels: 2,
            fmtp: "minptime=10;useinbandfec=1".into(),
            started_at_ms: 1_700_000_000_000,
        }
    }

    fn records() -> Vec<LogRecord> {
        vec![
            LogRecord::SenderReport {
                arrival_us: 5,
                ntp_time: 0x1234_5678_9abc_def0,
                rtp_time: 960,
            },
            LogRecord::Rtp {
                arrival_us: 20_000,
                packet: Bytes::from_static(&[0x80, 111, 0, 1, 0, 0, 3, 192, 0, 0, 0, 7, 1, 2]),
            },
            LogRecord::Rtp {
                arrival_us: 40_000,
                packet: Bytes::from_static(&[0x80, 111, 0, 2, 0, 0, 7, 128, 0, 0, 0, 7, 3, 4]),
            },
        ]
    }

    fn write_log(path: &Path) -> u64 {
        let mut writer = LogWriter::create(path, &header()).expect("create");
        for record in records() {
            writer.append(&record).expect("append");
        }
        writer.flush().expect("flush");
        writer.len()
    }

    #[test]
    fn records_read_back_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t01-audio.rtplog");
        let len = write_log(&path);
        let log = read_log(&path).expect("read");
        assert_eq!(log.header, header());
        assert_eq!(log.records, records());
        assert_eq!(log.valid_bytes, len);
        assert_eq!(log.file_bytes, len);
        assert!(
            LogWriter::create(&path, &header()).is_err(),
            "never overwrites"
        );
        let mut writer = LogWriter::create(&dir.path().join("other"), &header()).expect("create");
        let jumbo = LogRecord::Rtp {
            arrival_us: 0,
            packet: Bytes::from(vec![0x80; MAX_BODY + 1]),
        };
        assert!(
            writer.append(&jumbo).is_err(),
            "what the reader would refuse"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_cut_or_flipped_tail_keeps_every_whole_record_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let len = write_log(&path);
        let bytes = std::fs::read(&path).expect("read");
        let last_len = (RECORD_HEAD + 14 + CRC_LEN) as u64;
        for cut in 1..last_len {
            std::fs::write(&path, &bytes[..(len - cut) as usize]).expect("write");
            let log = read_log(&path).expect("read");
            assert_eq!(log.records.len(), 2, "cut {cut}");
            assert_eq!(log.valid_bytes, len - last_len);
        }
        let mut flipped = bytes.clone();
        flipped[(len - 6) as usize] ^= 0x40;
        std::fs::write(&path, &flipped).expect("write");
        assert_eq!(read_log(&path).expect("read").records.len(), 2);
        std::fs::write(&path, &bytes[..10]).expect("write");
        assert!(read_log(&path).is_err(), "a cut header is an error");
    }
}
