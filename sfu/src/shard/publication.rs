//! A published track in a room, its simulcast layers, and everyone subscribed to it.

use std::time::{Duration, Instant};

use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

use crate::events::TrackInfo;
use crate::forward::{Codec, Forwarder};
use crate::ids::{Layer, MediaKind, ParticipantId, RoomId, TrackId, TrackSource};

/// Highest simulcast layer index we handle (three layers: 0, 1, 2).
pub(crate) const MAX_LAYERS: usize = 3;
/// A layer is live while its packets keep coming; video runs at ≥ 5 fps even when static.
const LAYER_LIVE_FOR: Duration = Duration::from_millis(1500);
/// At most one keyframe request per publisher layer per second.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// One simulcast layer (or the only stream of a plain track).
#[derive(Debug, Default)]
pub(crate) struct LayerState {
    pub ssrc: Option<u32>,
    /// When fresh video (beyond [`newest_seq`](Self::newest_seq)) last arrived.
    pub last_packet: Option<Instant>,
    /// The highest sequence number of the layer's video so far.
    pub newest_seq: Option<u16>,
    pub last_keyframe_request: Option<Instant>,
    /// Frame size read from the layer's last keyframe (VP8 only).
    pub size: Option<(u16, u16)>,
    /// Bytes received since the last rate measurement.
    pub bytes: u64,
    /// Smoothed incoming bitrate of the layer, bits per second.
    pub bitrate: f64,
    /// A keyframe was asked for and has not arrived yet.
    pub keyframe_wanted: bool,
}

/// The most a subscriber's bandwidth allows of one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap {
    /// Whatever the rendered size asks for.
    Unlimited,
    /// At most this layer.
    UpTo(Layer),
    /// No video at all (audio-only fallback).
    Paused,
}

/// One subscriber's view of the track.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The subscriber's slot in the shard.
    pub subscriber: usize,
    /// Set once the subscriber's connection has a sender for this track.
    pub sender_id: Option<RTCRtpSenderId>,
    pub out_ssrc: u32,
    pub out_payload_type: u8,
    /// The subscriber has answered an offer containing this track: packets may flow.
    pub active: bool,
    pub forwarder: Forwarder,
    /// Rendered size the subscriber asked for; `None` until it says.
    pub wanted_size: Option<(u32, u32)>,
    /// What the subscriber's bandwidth estimate allows.
    pub cap: Cap,
    /// RTP packets forwarded on it.
    pub packets: u64,
    /// Their payload bytes.
    pub bytes: u64,
}

/// A track someone publishes.
#[derive(Debug)]
pub(crate) struct Publication {
    pub id: TrackId,
    pub room: RoomId,
    pub owner: usize,
    pub owner_id: ParticipantId,
    pub receiver_id: RTCRtpReceiverId,
    pub kind: MediaKind,
    pub source: TrackSource,
    pub codec: Codec,
    pub codec_params: RTCRtpCodec,
    pub declared_size: Option<(u32, u32)>,
    pub simulcast: bool,
    pub muted: bool,
    /// A moderator muted it: nothing is forwarded until its publisher unmutes.
    pub held: bool,
    pub audio_level_ext: Option<u8>,
    pub layers: [LayerState; MAX_LAYERS],
    pub subscriptions: Vec<Subscription>,
    /// Smoothed loudness (0 silent – 127 loudest) for active-speaker detection.
    pub loudness: f32,
    pub last_level_at: Option<Instant>,
    /// Layers demanded the last time the publisher was told.
    pub demanded: [bool; MAX_LAYERS],
    /// Layers the publisher's offer says it sends, whether or not any has arrived yet.
    pub offered: [bool; MAX_LAYERS],
    /// When layer bitrates were last measured.
    pub rates_at: Option<Instant>,
    /// What the room's recorder gets of it, while the room is recorded.
    pub tap: Option<Box<super::TrackTap>>,
}

impl Publication {
    pub fn info(&self) -> TrackInfo {
        TrackInfo {
            id: self.id.clone(),
            participant_id: self.owner_id.clone(),
            kind: self.kind,
            source: self.source,
            muted: self.muted,
            simulcast: self.simulcast,
            width: self.declared_size.map(|s| s.0),
            height: self.declared_size.map(|s| s.1),
        }
    }

    fn layer_live(&self, layer: usize, now: Instant) -> bool {
        self.layers[layer]
            .last_packet
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_LIVE_FOR)
    }

    /// The size of a layer: measured from its keyframes, else derived from the declared
    /// full size (browsers scale simulcast layers by 4, 2, 1).
    fn layer_size(&self, layer: usize) -> Option<(u32, u32)> {
        if let Some((w, h)) = self.layers[layer].size {
            return Some((u32::from(w), u32::from(h)));
        }
        let (w, h) = self.declared_size?;
        let down = 1 << (MAX_LAYERS - 1 - layer);
        Some((w / down, h / down))
    }

    /// The layer a subscriber should get, from the size it renders and what is arriving.
    /// With `live_only`, layers that stopped arriving are skipped (unless none arrive);
    /// without it, every layer the publisher sent or offers counts (for telling the publisher
    /// which layers are wanted, including ones it paused, and ones that never arrived: a
    /// browser starts its top layer only once its bandwidth estimate has grown, and one told
    /// early that nobody wants that layer would otherwise never send it).
    pub fn choose_layer(
        &self,
        wanted: Option<(u32, u32)>,
        now: Instant,
        live_only: bool,
    ) -> Option<Layer> {
        if self.kind == MediaKind::Audio {
            return Some(Layer(0));
        }
        if wanted.is_some_and(|(w, h)| w == 0 || h == 0) {
            return None;
        }
        let live: Vec<usize> = (0..MAX_LAYERS)
            .filter(|&l| self.layer_live(l, now))
            .collect();
        let known: Vec<usize> = (0..MAX_LAYERS)
            .filter(|&l| self.layers[l].ssrc.is_some() || (!live_only && self.offered[l]))
            .collect();
        let candidates = if live_only && !live.is_empty() {
            &live
        } else {
            &known
        };
        let (&lowest, &highest) = (candidates.first()?, candidates.last()?);
        let Some((_, want_h)) = wanted else {
            // No size yet: the middle layer is a fair guess for a phone-sized tile.
            return Some(Layer(
                candidates
                    .iter()
                    .copied()
                    .filter(|&l| l <= 1)
                    .max()
                    .unwrap_or(lowest) as u8,
            ));
        };
        // The smallest layer that is at least ~80% of the rendered height; upscaling a
        // little looks better than spending the bandwidth of the next layer.
        let fits = candidates.iter().copied().find(|&l| {
            self.layer_size(l)
                .is_some_and(|(_, h)| u64::from(h) * 10 >= u64::from(want_h) * 8)
        });
        Some(Layer(fits.unwrap_or(highest) as u8))
    }

    /// Turns the bytes counted since the last call into smoothed per-layer bitrates.
    pub fn measure_rates(&mut self, now: Instant) {
        let Some(since) = self.rates_at.replace(now) else {
            return;
        };
        let seconds = now.saturating_duration_since(since).as_secs_f64();
        if seconds <= 0.0 {
            return;
        }
        for layer in &mut self.layers {
            let rate = std::mem::take(&mut layer.bytes) as f64 * 8.0 / seconds;
            layer.bitrate = if layer.bitrate == 0.0 {
                rate
            } else {
                0.7 * layer.bitrate + 0.3 * rate
            };
        }
    }

    /// The layer a subscriber gets: what its rendered size asks for, within its cap.
    pub fn target_for(&self, sub: &Subscription, now: Instant) -> Option<Layer> {
        let desired = self.choose_layer(sub.wanted_size, now, true)?;
        match sub.cap {
            Cap::Unlimited => Some(desired),
            Cap::UpTo(cap) => Some(desired.min(cap)),
            Cap::Paused => None,
        }
    }

    /// The next live layer below `layer`, if any.
    pub fn layer_below(&self, layer: Layer, now: Instant) -> Option<Layer> {
        (0..usize::from(layer.0))
            .rev()
            .find(|&l| self.layer_live(l, now))
            .map(|l| Layer(l as u8))
    }

    /// Whether a keyframe may be requested for `layer` now; records the request if so.
    pub fn take_keyframe_request(&mut self, layer: Layer, now: Instant) -> Option<u32> {
        // Only a codec whose keyframes we recognise can tell us the request was answered.
        let answer_visible = matches!(self.codec, Codec::Vp8 | Codec::H264);
        let state = self.layers.get_mut(usize::from(layer.0))?;
        let ssrc = state.ssrc?;
        state.keyframe_wanted = answer_visible;
        if state
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return None;
        }
        state.last_keyframe_request = Some(now);
        Some(ssrc)
    }

    /// Layers still arriving whose keyframe was asked for and has not come.
    pub fn layers_awaiting_keyframe(&self, now: Instant) -> impl Iterator<Item = Layer> + '_ {
        (0..MAX_LAYERS)
            .filter(move |&l| self.layers[l].keyframe_wanted && self.layer_live(l, now))
            .map(|l| Layer(l as u8))
    }

    /// Which layers subscribers (and the recorder) would choose if every layer were
    /// arriving.
    pub fn layer_demand(&self, now: Instant) -> [bool; MAX_LAYERS] {
        let mut demand = [false; MAX_LAYERS];
        let recorded = self
            .tap
            .as_deref()
            .filter(|t| !t.withheld)
            .map(|t| Some(t.preferred_size));
        let sizes = self.subscriptions.iter().map(|s| s.wanted_size);
        for wanted in sizes.chain(recorded) {
            if let Some(Layer(l)) = self.choose_layer(wanted, now, false)
                && let Some(d) = demand.get_mut(usize::from(l))
            {
                *d = true;
            }
        }
        demand
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A desktop camera (1280×720, layers q, h, f offered) whose `seen` layers have arrived,
    /// watched by one subscriber rendering it at `wanted`.
    fn camera(seen: &[usize], wanted: (u32, u32), now: Instant) -> Publication {
        let mut layers: [LayerState; MAX_LAYERS] = Default::default();
        for &l in seen {
            layers[l].ssrc = Some(1000 + l as u32);
            layers[l].last_packet = Some(now);
        }
        Publication {
            id: TrackId::random(),
            room: RoomId::new("room"),
            owner: 0,
            owner_id: ParticipantId::new("publisher"),
            receiver_id: RTCRtpReceiverId::default(),
            kind: MediaKind::Video,
            source: TrackSource::Camera,
            codec: Codec::Vp8,
            codec_params: RTCRtpCodec::default(),
            declared_size: Some((1280, 720)),
            simulcast: true,
            muted: false,
            held: false,
            audio_level_ext: None,
            layers,
            subscriptions: vec![Subscription {
                subscriber: 1,
                sender_id: None,
                out_ssrc: 1,
                out_payload_type: 96,
                active: true,
                forwarder: Forwarder::new(Codec::Vp8, None),
                wanted_size: Some(wanted),
                cap: Cap::Unlimited,
                packets: 0,
                bytes: 0,
            }],
            loudness: 0.0,
            last_level_at: None,
            demanded: [true; MAX_LAYERS],
            offered: [true; MAX_LAYERS],
            rates_at: None,
            tap: None,
        }
    }

    #[test]
    fn a_large_tile_asks_for_the_full_layer_before_it_ever_arrived() {
        let now = Instant::now();
        let publication = camera(&[0, 1], (1280, 720), now);
        assert_eq!(publication.layer_demand(now), [false, false, true]);
        // Meanwhile the subscriber gets the best layer that does arrive.
        let target = publication.target_for(&publication.subscriptions[0], now);
        assert_eq!(target, Some(Layer(1)));
    }

    fn recorded(publication: &mut Publication, preferred: (u32, u32), withheld: bool) {
        let (events, _) = tokio::sync::mpsc::channel(1);
        publication.tap = Some(Box::new(super::super::TrackTap::new(
            events,
            Default::default(),
            Codec::Vp8,
            preferred,
            withheld,
            withheld,
        )));
    }

    #[test]
    fn the_recorder_takes_the_layer_nearest_640_by_360() {
        let now = Instant::now();
        let mut publication = camera(&[0, 1, 2], (160, 90), now);
        recorded(&mut publication, (640, 360), false);
        let tap = publication.tap.as_deref().expect("tapped");
        assert_eq!(tap.target(&publication, now), Some(Layer(1)));
        // Its layer is demanded of the publisher like a subscriber's.
        assert_eq!(publication.layer_demand(now), [true, true, false]);
    }

    #[test]
    fn the_recorder_takes_the_best_arriving_layer_and_asks_for_the_one_it_prefers() {
        let now = Instant::now();
        let mut publication = camera(&[0], (160, 90), now);
        recorded(&mut publication, (1280, 720), false);
        let tap = publication.tap.as_deref().expect("tapped");
        assert_eq!(tap.target(&publication, now), Some(Layer(0)));
        assert_eq!(publication.layer_demand(now), [true, false, true]);
    }

    #[test]
    fn a_withheld_track_is_neither_recorded_nor_demanded_for_the_recorder() {
        let now = Instant::now();
        let mut publication = camera(&[0, 1, 2], (160, 90), now);
        recorded(&mut publication, (1280, 720), true);
        let tap = publication.tap.as_deref().expect("tapped");
        assert_eq!(tap.target(&publication, now), None);
        assert_eq!(publication.layer_demand(now), [true, false, false]);
    }

    #[test]
    fn a_small_tile_leaves_the_upper_layers_unwanted() {
        let now = Instant::now();
        let publication = camera(&[0, 1, 2], (160, 90), now);
        assert_eq!(publication.layer_demand(now), [true, false, false]);
    }
}
