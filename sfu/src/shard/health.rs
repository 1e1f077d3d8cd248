//! Per-participant connection health, reported to signaling every [`HEALTH_INTERVAL`], and
//! the audio-only gate that follows the subscriber's bandwidth estimate (or its wish to save
//! data).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Shard;
use crate::events::SfuEvent;
use crate::health::LinkHealth;
use crate::ids::MediaKind;

/// How often each participant's link is measured and reported.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// Percentages to one decimal: finer is noise over a two-second window.
fn percent(fraction: f32) -> f32 {
    (fraction * 1000.0).round() / 10.0
}

impl Shard {
    pub(super) fn report_health(&mut self, k: usize, now: Instant) {
        let media_timeout = self.ctx.media_timeout;
        let Some(p) = self.participants.get_mut(k) else {
            return;
        };
        if p.liveness.connected_at.is_none() || p.liveness.paused {
            return;
        }
        let sample = p
            .taps
            .link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sample(now);
        p.downlink_loss = sample.downlink_loss.unwrap_or(0.0);
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
            silent: now.saturating_duration_since(p.liveness.last_rx) > media_timeout,
        };
        p.tell(SfuEvent::Health(health));
    }

    /// Tells each publisher, in the receiver reports about its audio, the worst loss among
    /// those who hear it (see `peer::LossEcho`), so its encoder protects its speech.
    pub(super) fn echo_loss(&mut self) {
        let mut worst: HashMap<usize, f32> = HashMap::new();
        for (_, pubn) in self.publications.iter() {
            if pubn.kind != MediaKind::Audio {
                continue;
            }
            let loss = pubn
                .subscriptions
                .iter()
                .filter_map(|s| self.participants.get(s.subscriber))
                .map(|p| p.downlink_loss)
                .fold(0.0f32, f32::max);
            let entry = worst.entry(pubn.owner).or_default();
            *entry = entry.max(loss);
        }
        for (owner, p) in self.participants.iter() {
            // Someone whose listeners left (or who has none) hears of no loss any more.
            let loss = worst.get(&owner).copied().unwrap_or(0.0);
            let audio_ssrcs: Vec<u32> = p
                .publishing
                .inbound
                .iter()
                .filter(|i| {
                    self.publications
                        .get(i.publication)
                        .is_some_and(|pubn| pubn.kind == MediaKind::Audio)
                })
                .map(|i| i.ssrc)
                .collect();
            tracing::trace!(participant = %p.id, loss, ?audio_ssrcs, "loss to echo");
            let mut echo = p.taps.loss_echo.lock().unwrap_or_else(|e| e.into_inner());
            echo.audio_ssrcs = audio_ssrcs;
            echo.fraction_lost = (loss * 256.0).clamp(0.0, 255.0) as u8;
        }
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
