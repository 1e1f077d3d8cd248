//! Per-participant connection health, reported to signaling every [`HEALTH_INTERVAL`], and
//! the audio-only gate that follows the subscriber's bandwidth estimate (or its wish to save
//! data).

use std::time::{Duration, Instant};

use super::Shard;
use crate::events::SfuEvent;
use crate::health::LinkHealth;

/// How often each participant's link is measured and reported.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// Percentages to one decimal: finer is noise over a two-second window.
fn percent(fraction: f32) -> f32 {
    (fraction * 1000.0).round() / 10.0
}

impl Shard {
    pub(super) fn report_health(&mut self, k: usize, now: Instant) {
        let media_timeout = self.ctx.media_timeout;
        let Some(p) = self.participants.get(k) else {
            return;
        };
        if p.connected_at.is_none() || p.paused {
            return;
        }
        let sample = p.link.lock().unwrap_or_else(|e| e.into_inner()).sample(now);
        let health = LinkHealth {
            uplink_loss_percent: sample.uplink_loss.map(percent),
            downlink_loss_percent: sample.downlink_loss.map(percent),
            rtt_ms: sample
                .rtt
                .map(|rtt| u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX)),
            send_kbps: sample.kbps_in,
            receive_kbps: sample.kbps_out,
            estimate_kbps: p
                .send_budget()
                .map(|bps| u32::try_from(bps / 1000).unwrap_or(u32::MAX)),
            audio_only: p.video.reason().is_some(),
            silent: now.saturating_duration_since(p.last_rx) > media_timeout,
        };
        p.tell(SfuEvent::Health(health));
    }

    /// Decides whether a subscriber gets video at all, and tells it when that changes.
    /// Returns whether it gets video.
    pub(super) fn gate_video(&mut self, subscriber: usize, now: Instant) -> bool {
        let Some(p) = self.participants.get_mut(subscriber) else {
            return false;
        };
        let estimate = p.send_budget();
        p.video.observe(estimate, now);
        let reason = p.video.reason();
        if reason != p.video.told {
            p.video.told = reason;
            tracing::debug!(participant = %p.id, ?reason, ?estimate, "video to a subscriber gated");
            p.tell(SfuEvent::AudioOnly {
                active: reason.is_some(),
                reason,
            });
        }
        reason.is_none()
    }
}
