//! Where recordings are written and signed, from the data directory. Recordings are people's
//! disputes: they sit under the data directory, which is its owner's alone.

use std::time::Duration;

use accord_recordings::recorder::RecorderConfig;
use accord_signaling::recording::{NOTICE, RecordingSettings};

use super::Config;

impl Config {
    /// The recorder's settings: folders under `<data_dir>/recordings`, keys under
    /// `<data_dir>/keys/signing`. `ACCORD_RECORDING_NOTICE_MS` shortens the notice (tests).
    pub fn recording(&self) -> RecordingSettings {
        let notice = std::env::var("ACCORD_RECORDING_NOTICE_MS")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(NOTICE, Duration::from_millis);
        let min_free_bytes = std::env::var("ACCORD_RECORDING_MIN_FREE_MB")
            .ok()
            .and_then(|mb| mb.parse::<u64>().ok())
            .map_or(RecorderConfig::default().min_free_bytes, |mb| {
                mb * 1024 * 1024
            });
        RecordingSettings {
            recorder: RecorderConfig {
                work_dir: self.data_dir.join("recordings"),
                min_free_bytes,
                ..RecorderConfig::default()
            },
            keys_dir: accord_recordings::signing::signing_dir(&self.data_dir),
            notice,
        }
    }
}
