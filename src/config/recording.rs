//! Where recordings are written and signed. Recordings are people's disputes: by default they
//! sit under the data directory, which is its owner's alone.

use std::time::Duration;

use accord_recordings::recorder::RecorderConfig;
use accord_signaling::recording::RecordingSettings;

use super::Config;

impl Config {
    /// The recorder's settings from `[recording]`; keys under `<keys dir>/keys/signing`
    /// (`[keys] dir`, by default the data directory), shared by the nodes of a cluster.
    pub fn recording(&self) -> RecordingSettings {
        let section = &self.recording;
        let work_dir = if section.dir.as_os_str().is_empty() {
            self.data_dir.join("recordings")
        } else {
            section.dir.clone()
        };
        RecordingSettings {
            recorder: RecorderConfig {
                work_dir,
                preferred_size: (section.video_width, section.video_height),
                min_free_bytes: section.min_free_mib.saturating_mul(1024 * 1024),
                ..RecorderConfig::default()
            },
            keys_dir: accord_recordings::signing::signing_dir(&self.keys_dir()),
            notice: Duration::from_millis(section.notice_ms),
        }
    }
}
