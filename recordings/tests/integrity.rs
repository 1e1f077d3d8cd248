//! Integrity of a finished recording, end to end on real files: a folder with RTP logs
//! written by the log writer, chained while they grow, a signed manifest, then every kind of
//! tampering a court must notice, checked on the folder and on its exported ZIP.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use accord_recordings::archive::write_zip;
use accord_recordings::chain::{CHAIN_FILE, ChainWriter, verify_chain};
use accord_recordings::log::{LogHeader, LogRecord, LogWriter};
use accord_recordings::manifest::{
    ChainSummary, FORMAT, FileEntry, MANIFEST_FILE, Manifest, ManifestStatus, ManifestTrack,
    MixedAudio, Pause, PrivateGap, PrivateRooms, SIGNATURE_FILE,
};
use accord_recordings::signing::{PlatformKeys, PublicKeyInfo};
use accord_recordings::verify::{VerifyReport, verify_recording};
use bytes::Bytes;

const AUDIO_LOG: &str = "t01-audio.rtplog";
const VIDEO_LOG: &str = "t02-video.rtplog";
const AUDIO_FILE: &str = "t01-audio.webm";
const VIDEO_FILE: &str = "t02-video.webm";
const MIXED_FILE: &str = "mixed-audio.webm";

/// A recording folder under construction, with the keys that sign it.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
    keys: PlatformKeys,
    audio: LogWriter,
    video: LogWriter,
    chain: ChainWriter,
    sequence: u16,
}

fn header(track: &str, kind: &str, mime: &str, clock_rate: u32) -> LogHeader {
    LogHeader {
        track_id: track.into(),
        participant_id: "party-1".into(),
        kind: kind.into(),
        mime_type: mime.into(),
        clock_rate,
        channels: if kind == "audio" { 2 } else { 0 },
        fmtp: String::new(),
        started_at_ms: 1_765_000_000_000,
    }
}

/// An RTP packet: version 2, no extensions, a payload that differs per packet.
fn rtp(sequence: u16, payload_type: u8, size: usize) -> Bytes {
    let mut packet = vec![0x80, payload_type];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 960).to_be_bytes());
    packet.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    packet.extend((0..size).map(|i| (i as u8) ^ (sequence as u8)));
    Bytes::from(packet)
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_owned();
        let dir = root.join("rec-1");
        std::fs::create_dir(&dir).expect("recording folder");
        let keys = PlatformKeys::load_or_create(&root.join("keys")).expect("keys");
        let audio = LogWriter::create(
            &dir.join(AUDIO_LOG),
            &header("TR_a", "audio", "audio/opus", 48_000),
        )
        .expect("audio log");
        let video = LogWriter::create(
            &dir.join(VIDEO_LOG),
            &header("TR_v", "video", "video/VP8", 90_000),
        )
        .expect("video log");
        let chain = ChainWriter::open(&dir).expect("chain");
        Self {
            _tmp: tmp,
            root,
            dir,
            keys,
            audio,
            video,
            chain,
            sequence: 0,
        }
    }

    /// A second of media on both tracks, flushed as the recorder does before a checkpoint.
    fn record_second(&mut self) {
        for _ in 0..50 {
            self.sequence = self.sequence.wrapping_add(1);
            let at = u64::from(self.sequence) * 20_000;
            self.audio
                .append(&LogRecord::Rtp {
                    arrival_us: at,
                    packet: rtp(self.sequence, 111, 80),
                })
                .expect("audio append");
            self.video
                .append(&LogRecord::Rtp {
                    arrival_us: at,
                    packet: rtp(self.sequence, 96, 900),
                })
                .expect("video append");
        }
        self.audio
            .append(&LogRecord::SenderReport {
                arrival_us: u64::from(self.sequence) * 20_000,
                ntp_time: 0xE000_0000_0000_0000 + u64::from(self.sequence),
                rtp_time: u32::from(self.sequence) * 960,
            })
            .expect("sender report");
        self.audio.flush().expect("flush audio");
        self.video.flush().expect("flush video");
    }

    fn checkpoint(&mut self) -> u64 {
        let logs = [self.dir.join(AUDIO_LOG), self.dir.join(VIDEO_LOG)];
        let checkpoint = self.chain.checkpoint(&logs).expect("checkpoint");
        checkpoint.map_or(0, |c| c.seq)
    }

    /// The playable files and the rest of the folder, then the signed manifest.
    fn finalise(&mut self, status: ManifestStatus) -> Manifest {
        write_bytes(&self.dir.join(AUDIO_FILE), 40_000, 3);
        write_bytes(&self.dir.join(VIDEO_FILE), 300_000, 7);
        write_bytes(&self.dir.join(MIXED_FILE), 50_000, 11);
        std::fs::write(
            self.dir.join("events.jsonl"),
            b"{\"event\":\"paused\",\"at_us\":1}\n",
        )
        .expect("events");
        let mut manifest = manifest_for(&self.dir, &self.chain, status);
        manifest
            .write(&self.dir, &self.keys)
            .expect("write manifest");
        manifest
    }

    fn trusted(&self) -> Vec<PublicKeyInfo> {
        self.keys.public_keys()
    }

    /// A copy of the finished folder to tamper with.
    fn copy(&self, name: &str) -> PathBuf {
        let copy = self.root.join(name);
        std::fs::create_dir(&copy).expect("copy folder");
        for entry in std::fs::read_dir(&self.dir).expect("list") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy file");
        }
        copy
    }
}

fn write_bytes(path: &Path, len: usize, seed: u8) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect();
    std::fs::write(path, bytes).expect("media file");
}

fn manifest_for(dir: &Path, chain: &ChainWriter, status: ManifestStatus) -> Manifest {
    let track = |id: &str, kind: &str, codec: &str, file: &str, log: &str| ManifestTrack {
        track_id: id.into(),
        participant_id: "party-1".into(),
        role: Some("party".into()),
        kind: kind.into(),
        codec: codec.into(),
        space: "joint".into(),
        file: Some(file.into()),
        log: log.into(),
        start_ms: 0,
        end_ms: 3_000,
    };
    Manifest {
        format: FORMAT.into(),
        recording_id: "rec-1".into(),
        case_id: "case-1".into(),
        session_id: "session-1".into(),
        status,
        started_at_ms: 1_765_000_000_000,
        ended_at_ms: 1_765_000_003_000,
        duration_ms: 3_000,
        tracks: vec![
            track("TR_a", "audio", "audio/opus", AUDIO_FILE, AUDIO_LOG),
            track("TR_v", "video", "video/VP8", VIDEO_FILE, VIDEO_LOG),
        ],
        mixed_audio: Some(MixedAudio {
            file: MIXED_FILE.into(),
            start_ms: 0,
            end_ms: 3_000,
        }),
        pauses: vec![Pause {
            from_ms: 1_000,
            to_ms: 1_500,
        }],
        private_rooms: PrivateRooms {
            recorded: false,
            gaps: vec![PrivateGap {
                participant_id: "party-2".into(),
                from_ms: 2_000,
                to_ms: 2_500,
            }],
        },
        files: FileEntry::all_in(dir).expect("hash files"),
        chain: ChainSummary {
            segments: chain.segments(),
            head: chain.head(),
        },
        signed_at_ms: 0,
        key_id: String::new(),
    }
}

/// A recording stopped cleanly after three seconds, chained each second.
fn finished() -> (Fixture, Manifest) {
    let mut fixture = Fixture::new();
    for _ in 0..3 {
        fixture.record_second();
        fixture.checkpoint();
    }
    let manifest = fixture.finalise(ManifestStatus::Complete);
    (fixture, manifest)
}

fn verify(path: &Path, trusted: &[PublicKeyInfo]) -> VerifyReport {
    verify_recording(path, Some(trusted)).expect("a readable recording")
}

fn export(fixture: &Fixture, dir: &Path, name: &str) -> PathBuf {
    let path = fixture.root.join(name);
    let out = std::fs::File::create(&path).expect("zip file");
    write_zip(dir, out).expect("export");
    path
}

fn assert_fails_naming(report: &VerifyReport, file: &str) {
    assert!(!report.ok, "tampering with {file} went unnoticed");
    assert!(
        report.problems.iter().any(|p| p.file == file),
        "no problem names {file}: {:?}",
        report.problems
    );
}

fn flip_byte(path: &Path, at: u64) {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at)).expect("seek");
    file.read_exact(&mut byte).expect("read");
    file.seek(SeekFrom::Start(at)).expect("seek");
    file.write_all(&[byte[0] ^ 0x01]).expect("write");
}

#[test]
fn an_untouched_recording_verifies_as_a_folder_and_as_a_zip() {
    let (fixture, manifest) = finished();
    assert_eq!(manifest.chain.segments, 6, "two logs, three checkpoints");
    let report = verify(&fixture.dir, &fixture.trusted());
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.key_trusted, Some(true));
    assert_eq!(report.segments, 6);
    let files = manifest.files.len();
    assert_eq!(
        report.lines(),
        vec![format!(
            "OK rec-1 (complete, {files} files, signed by key {})",
            fixture.keys.current_key_id()
        )]
    );
    let zip = export(&fixture, &fixture.dir, "rec-1.zip");
    let report = verify(&zip, &fixture.trusted());
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.recording_id, "rec-1");
    let unchecked = verify_recording(&zip, None).expect("readable");
    assert!(unchecked.ok);
    assert_eq!(unchecked.key_trusted, None);
    assert!(
        unchecked
            .lines()
            .iter()
            .any(|l| l.contains("not checked against a published key"))
    );
}

#[test]
fn the_zip_stores_media_as_is_and_holds_every_file_under_the_recording_folder() {
    let (fixture, manifest) = finished();
    let zip = export(&fixture, &fixture.dir, "rec-1.zip");
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(&zip).expect("open")).expect("a ZIP");
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    let mut expected: Vec<String> = manifest
        .files
        .iter()
        .map(|f| format!("rec-1/{}", f.name))
        .chain([
            format!("rec-1/{MANIFEST_FILE}"),
            format!("rec-1/{SIGNATURE_FILE}"),
        ])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    let video = archive
        .by_name(&format!("rec-1/{VIDEO_FILE}"))
        .expect("video entry");
    assert_eq!(video.compression(), zip::CompressionMethod::Stored);
    drop(video);
    let manifest_entry = archive
        .by_name(&format!("rec-1/{MANIFEST_FILE}"))
        .expect("manifest entry");
    assert_eq!(
        manifest_entry.compression(),
        zip::CompressionMethod::Deflated
    );
}

#[test]
fn flipping_one_byte_of_any_file_fails_naming_that_file() {
    let (fixture, manifest) = finished();
    for (i, entry) in manifest.files.iter().enumerate() {
        let copy = fixture.copy(&format!("flip-{i}"));
        flip_byte(&copy.join(&entry.name), entry.size / 2);
        let report = verify(&copy, &fixture.trusted());
        assert_fails_naming(&report, &entry.name);
        assert!(
            report
                .lines()
                .iter()
                .any(|l| l.starts_with(&format!("FAIL {}: ", entry.name))),
            "{:?}",
            report.lines()
        );
    }
}

#[test]
fn a_flipped_log_byte_names_the_segment_that_covers_it() {
    let (fixture, manifest) = finished();
    let copy = fixture.copy("flip-log");
    let log = manifest
        .files
        .iter()
        .find(|f| f.name == VIDEO_LOG)
        .expect("video log listed");
    flip_byte(&copy.join(VIDEO_LOG), log.size - 10);
    let chain = verify_chain(&copy);
    let problem = chain.problem.expect("the last video segment is bad");
    assert_eq!(problem.file, VIDEO_LOG);
    assert!(problem.problem.starts_with("segment 6 "), "{problem:?}");
    assert_eq!(
        chain.segments, 5,
        "segments before the bad one still verify"
    );
}

/// Where the entry for `name` starts in the ZIP at `zip`: its local header and its data.
fn entry_offsets(zip: &Path, name: &str) -> (u64, u64) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).expect("open")).expect("a ZIP");
    let entry = archive.by_name(&format!("rec-1/{name}")).expect("an entry");
    (entry.header_start(), entry.data_start())
}

#[test]
fn flipping_a_byte_inside_the_zip_fails_naming_the_file() {
    let (fixture, _) = finished();
    let zip = export(&fixture, &fixture.dir, "rec-1.zip");
    let (_, data) = entry_offsets(&zip, VIDEO_FILE);
    flip_byte(&zip, data + 1000);
    assert_fails_naming(&verify(&zip, &fixture.trusted()), VIDEO_FILE);

    // A damaged entry header is that file's failure too, not an unreadable archive.
    let zip = export(&fixture, &fixture.dir, "rec-1-header.zip");
    let (header, _) = entry_offsets(&zip, AUDIO_FILE);
    flip_byte(&zip, header);
    assert_fails_naming(&verify(&zip, &fixture.trusted()), AUDIO_FILE);
}

#[test]
fn truncating_a_file_fails_naming_it() {
    let (fixture, manifest) = finished();
    for name in [AUDIO_FILE, AUDIO_LOG, CHAIN_FILE] {
        let copy = fixture.copy(&format!("cut-{name}"));
        let size = manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .expect("listed")
            .size;
        let file = OpenOptions::new()
            .write(true)
            .open(copy.join(name))
            .expect("open");
        file.set_len(size - 7).expect("truncate");
        let report = verify(&copy, &fixture.trusted());
        assert_fails_naming(&report, name);
    }
    let copy = fixture.copy("missing");
    std::fs::remove_file(copy.join(MIXED_FILE)).expect("remove");
    assert_fails_naming(&verify(&copy, &fixture.trusted()), MIXED_FILE);
}

#[test]
fn editing_the_manifest_fails_on_its_signature() {
    let (fixture, _) = finished();
    let copy = fixture.copy("edited");
    let path = copy.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).expect("manifest");
    let edited = text.replacen("\"duration_ms\": 3000", "\"duration_ms\": 2000", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).expect("write");
    let report = verify(&copy, &fixture.trusted());
    assert_fails_naming(&report, SIGNATURE_FILE);
}

#[test]
fn a_manifest_signed_by_another_key_fails_against_the_trusted_keys() {
    let (fixture, mut manifest) = finished();
    let copy = fixture.copy("other-key");
    let other = PlatformKeys::load_or_create(&fixture.root.join("other-keys")).expect("keys");
    manifest.write(&copy, &other).expect("re-sign");
    let report = verify(&copy, &fixture.trusted());
    assert_fails_naming(&report, SIGNATURE_FILE);
    assert_eq!(report.key_trusted, Some(false));
    assert_eq!(report.key_id, other.current_key_id());
    let raw = PublicKeyInfo::from_public_key(&other.public_keys()[0].public_key).expect("key");
    assert!(verify(&copy, &[raw]).ok, "trusting that key instead");
}

#[test]
fn an_unlisted_file_fails_naming_it() {
    let (fixture, _) = finished();
    let copy = fixture.copy("extra");
    write_bytes(&copy.join("t03-video.webm"), 1000, 5);
    assert_fails_naming(&verify(&copy, &fixture.trusted()), "t03-video.webm");
}

#[test]
fn an_interrupted_recording_verifies_the_prefix_its_chain_covers() {
    let mut fixture = Fixture::new();
    fixture.record_second();
    fixture.checkpoint();
    fixture.record_second();
    fixture.checkpoint();
    // The crash came after more media reached the logs but before the next checkpoint.
    fixture.record_second();
    let chained = verify_chain(&fixture.dir);
    assert!(chained.ok(), "{:?}", chained.problem);
    let manifest = fixture.finalise(ManifestStatus::Interrupted);
    let report = verify(&fixture.dir, &fixture.trusted());
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.status, Some(ManifestStatus::Interrupted));
    for log in [AUDIO_LOG, VIDEO_LOG] {
        let size = manifest
            .files
            .iter()
            .find(|f| f.name == log)
            .expect("listed")
            .size;
        let coverage = report
            .coverage
            .iter()
            .find(|c| c.file == log)
            .expect("covered");
        assert_eq!(coverage.size, size);
        assert_eq!(coverage.chained_bytes, chained.covered[log]);
        assert!(
            coverage.chained_bytes < size,
            "{log}: the tail is not chained"
        );
    }
    assert!(
        report
            .lines()
            .iter()
            .any(|l| l.contains("proven by the segment chain")),
        "{:?}",
        report.lines()
    );
    // The same folder claiming to be complete is caught: its logs are not wholly chained.
    let mut complete = manifest.clone();
    complete.status = ManifestStatus::Complete;
    complete
        .write(&fixture.dir, &fixture.keys)
        .expect("re-sign");
    assert_fails_naming(&verify(&fixture.dir, &fixture.trusted()), AUDIO_LOG);
}

#[test]
fn the_chain_resumes_after_a_crash_cut_its_last_line() {
    let mut fixture = Fixture::new();
    fixture.record_second();
    assert_eq!(fixture.checkpoint(), 2);
    let head = fixture.chain.head();
    let mut chain = OpenOptions::new()
        .append(true)
        .open(fixture.dir.join(CHAIN_FILE))
        .expect("chain");
    chain
        .write_all(b"{\"seq\":3,\"file\":\"t01-au")
        .expect("cut line");
    drop(chain);
    let mut resumed = ChainWriter::open(&fixture.dir).expect("resume");
    assert_eq!(resumed.head(), head);
    assert_eq!(resumed.segments(), 2);
    fixture.record_second();
    let logs = [fixture.dir.join(AUDIO_LOG), fixture.dir.join(VIDEO_LOG)];
    let next = resumed
        .checkpoint(&logs)
        .expect("checkpoint")
        .expect("grew");
    assert_eq!(next.seq, 4);
    let check = verify_chain(&fixture.dir);
    assert!(check.ok(), "{:?}", check.problem);
    assert_eq!(check.head, next.head);
    assert_eq!(
        check.covered[AUDIO_LOG],
        std::fs::metadata(fixture.dir.join(AUDIO_LOG))
            .expect("meta")
            .len()
    );
    assert_eq!(resumed.checkpoint(&logs).expect("checkpoint"), None);
}

#[test]
fn an_edited_chain_entry_fails_naming_the_chain() {
    let (fixture, _) = finished();
    let copy = fixture.copy("chain-edit");
    let path = copy.join(CHAIN_FILE);
    let text = std::fs::read_to_string(&path).expect("chain");
    let edited = text.replacen("\"offset\":0", "\"offset\":1", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).expect("write");
    let check = verify_chain(&copy);
    assert_eq!(check.problem.expect("broken").file, CHAIN_FILE);
    assert_fails_naming(&verify(&copy, &fixture.trusted()), CHAIN_FILE);
}

#[test]
fn input_that_is_no_recording_is_an_error_not_a_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(verify_recording(&tmp.path().join("absent"), None).is_err());
    let not_zip = tmp.path().join("x.zip");
    std::fs::write(&not_zip, b"not a zip").expect("write");
    assert!(verify_recording(&not_zip, None).is_err());
    let empty = verify_recording(tmp.path(), None).expect("a folder");
    assert!(!empty.ok);
    assert!(empty.problems.iter().any(|p| p.file == MANIFEST_FILE));
}

#[test]
fn a_failed_checkpoint_leaves_the_chain_as_it_was() {
    let mut fixture = Fixture::new();
    fixture.record_second();
    fixture.checkpoint();
    fixture.record_second();
    let missing = fixture.dir.join("t09-audio.rtplog");
    let logs = [fixture.dir.join(AUDIO_LOG), missing];
    assert!(fixture.chain.checkpoint(&logs).is_err());
    assert_eq!(fixture.chain.segments(), 2);
    assert_eq!(
        fixture.checkpoint(),
        4,
        "the next checkpoint chains what grew"
    );
    let check = verify_chain(&fixture.dir);
    assert!(check.ok(), "{:?}", check.problem);
    assert_eq!(check.segments, 4);
}
