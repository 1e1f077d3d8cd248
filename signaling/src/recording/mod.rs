//! Recording case sessions, as the edge runs it: a moderator's `record` frame starts, pauses,
//! resumes or stops the recorder of [`accord_recordings`] on the room's SFU tap ([`control`]);
//! a finished recording's files go into the blob store and its record into the case
//! ([`finish`]), and after a crash the next start finalises what the last one left
//! ([`finish::recover`]). Court users and the case's mediators review recordings over HTTP
//! ([`review`]).

pub mod control;
pub mod finish;
pub mod review;
pub mod segments;
mod tickets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_cases::ids::RecordingId;
use accord_recordings::recorder::{RecorderConfig, RecorderMetrics, Recording};
use accord_recordings::signing::PlatformKeys;

use crate::rooms::SessionLink;
pub use tickets::Tickets;

/// How long everyone sees and hears the notice before recording begins.
pub const NOTICE: Duration = Duration::from_secs(5);

/// Recording settings (from Accord's config file and environment).
#[derive(Clone, Debug)]
pub struct RecordingSettings {
    /// How recordings are written.
    pub recorder: RecorderConfig,
    /// Where the platform's signing keys are kept.
    pub keys_dir: std::path::PathBuf,
    /// How long the notice shows before recording begins.
    pub notice: Duration,
}

/// Every recording of this node, and what they share.
pub struct Recorders {
    settings: RecordingSettings,
    keys: Arc<PlatformKeys>,
    metrics: Arc<RecorderMetrics>,
    tickets: Tickets,
    active: Mutex<HashMap<String, Active>>,
}

impl std::fmt::Debug for Recorders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorders")
            .field("work_dir", &self.settings.recorder.work_dir)
            .finish()
    }
}

/// One room's recording on this node.
struct Active {
    /// Bumped for every announce, so a start whose notice was cut short by a stop does not
    /// begin after all.
    generation: u64,
    session: SessionLink,
    /// The case record's recording, once the recorder runs.
    id: Option<RecordingId>,
    recording: Option<Arc<Recording>>,
    paused: bool,
}

impl Recorders {
    /// Recorders writing under `settings`, signing with the keys in `settings.keys_dir`
    /// (created on first run).
    pub fn open(
        settings: RecordingSettings,
        token_secret: &[u8],
    ) -> accord_recordings::Result<Self> {
        let keys = Arc::new(PlatformKeys::load_or_create(&settings.keys_dir)?);
        Ok(Self {
            settings,
            keys,
            metrics: Arc::new(RecorderMetrics::default()),
            tickets: Tickets::new(token_secret),
            active: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Active>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The platform's signing keys (their public halves are published).
    pub fn keys(&self) -> &PlatformKeys {
        &self.keys
    }

    pub(crate) fn keys_arc(&self) -> Arc<PlatformKeys> {
        self.keys.clone()
    }

    pub(crate) fn metrics_arc(&self) -> Arc<RecorderMetrics> {
        self.metrics.clone()
    }

    /// The recorder's counters.
    pub fn metrics(&self) -> &RecorderMetrics {
        &self.metrics
    }

    /// Settings.
    pub fn settings(&self) -> &RecordingSettings {
        &self.settings
    }

    /// Short-lived download tickets for media elements.
    pub fn tickets(&self) -> &Tickets {
        &self.tickets
    }

    /// Rooms recording (or announcing a recording) now.
    pub fn active_rooms(&self) -> usize {
        self.lock().len()
    }

    /// The rooms recording (or announcing a recording) now, for stopping them all.
    pub(crate) fn active_room_names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

/// The recording policy of the organisation a case belongs to.
pub(crate) async fn policy_of_case(
    state: &crate::AppState,
    case_id: &accord_cases::CaseId,
) -> accord_cases::Result<accord_cases::store::model::RecordingPolicy> {
    let case = state.store().case(case_id).await?;
    let organisation = state.store().organisation(&case.organisation_id).await?;
    Ok(organisation.recording_policy())
}
