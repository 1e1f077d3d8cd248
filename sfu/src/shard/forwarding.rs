//! The packet path: media read from a publisher's connection is rewritten per subscriber
//! and written into each subscriber's connection; keyframe requests travel the other way.

use std::time::Instant;

use rtc::peer_connection::message::RTCMessage;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;

use super::publication::{Cap, MAX_LAYERS};
use super::{Shard, post, speaker};
use crate::events::SfuEvent;
use crate::forward::{seq_after, vp8};
use crate::ids::{Layer, MediaKind};

impl Shard {
    /// Forwards everything the participant's connection has read.
    pub(super) fn forward_reads(&mut self, publisher: usize) {
        let mut touched = std::mem::take(&mut self.scratch_touched);
        touched.clear();
        while let Some(msg) = self
            .participants
            .get_mut(publisher)
            .and_then(|p| p.pc.poll_read())
        {
            match msg.message {
                RTCMessage::RtpPacket(_, packet) => {
                    self.forward_rtp(publisher, packet, msg.now, &mut touched);
                }
                RTCMessage::RtcpPacket(track_id, packets) => {
                    let wants_keyframe = packets.iter().any(|p| {
                        p.as_any().downcast_ref::<PictureLossIndication>().is_some()
                            || p.as_any().downcast_ref::<FullIntraRequest>().is_some()
                    });
                    if wants_keyframe {
                        self.relay_keyframe_request(publisher, &track_id, msg.now);
                    }
                }
                _ => {}
            }
        }
        let (adopted, reports) = self
            .participants
            .get(publisher)
            .map(|p| p.take_adopted())
            .unwrap_or_default();
        for (at, packet) in adopted {
            self.forward_rtp(publisher, packet, at, &mut touched);
        }
        if !reports.is_empty() {
            self.tap_sender_reports(publisher, &reports);
        }
        // Each subscriber once: flushed if anything of its connection's waits in its queues,
        // otherwise only brought up to date with what went straight out.
        touched.sort_unstable();
        touched.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            kept.1 |= same && later.1;
            same
        });
        for &(k, queued) in &touched {
            if queued {
                self.flush(k);
            } else {
                self.sent_straight(k);
            }
        }
        self.scratch_touched = touched;
    }

    fn forward_rtp(
        &mut self,
        publisher: usize,
        mut packet: rtc::rtp::Packet,
        now: Instant,
        touched: &mut Vec<(usize, bool)>,
    ) {
        let Some(route) = self
            .participants
            .get(publisher)
            .and_then(|p| p.route_of(packet.header.ssrc))
        else {
            return;
        };
        let Some(pubn) = self.publications.get_mut(route.publication) else {
            return;
        };
        if pubn.held {
            return;
        }
        let layer_index = usize::from(route.layer.0);
        let info = pubn.codec.inspect(&packet.payload);
        // A layer is live while fresh video of it arrives. Padding (a publisher probing its
        // bandwidth) and retransmissions of old packets do not count: a layer the publisher
        // paused may keep getting both, and must not hold its subscribers on a frozen picture.
        let carries_media = !packet.payload.is_empty();
        let seq = packet.header.sequence_number;
        if let Some(state) = pubn.layers.get_mut(layer_index).filter(|_| carries_media) {
            if state.newest_seq.is_none_or(|newest| seq_after(seq, newest)) {
                state.newest_seq = Some(seq);
                state.last_packet = Some(now);
            }
            // Payload plus the 12-byte RTP header, as it costs on the subscriber's link.
            state.bytes += packet.payload.len() as u64 + 12;
            if info.keyframe_start && pubn.kind == MediaKind::Video {
                state.keyframe_wanted = false;
                if let Some(size) = vp8::keyframe_size(&packet.payload) {
                    state.size = Some(size);
                }
            }
        }
        if let Some(id) = pubn.audio_level_ext
            && let Some(level) = packet
                .header
                .get_extension(id)
                .and_then(|b| b.first().copied())
        {
            pubn.loudness = speaker::smooth(pubn.loudness, level);
            pubn.last_level_at = Some(now);
        }
        if let Some(tap) = pubn.tap.as_deref_mut() {
            tap.on_rtp(&pubn.id, route.layer, &packet, &info, now, &self.ctx.stats);
        }
        // Extension ids are negotiated per connection; what subscribers need (transport-wide
        // sequence numbers) their own chain adds.
        packet.header.extension = false;
        packet.header.extensions.clear();
        packet.header.extension_profile = 0;
        packet.header.extensions_padding = 0;

        let bytes = packet.payload.len() as u64;
        for sub in pubn.subscriptions.iter_mut() {
            if !sub.active {
                continue;
            }
            if sub.sender_id.is_none() {
                continue;
            }
            // Until the subscriber's DTLS is up there is no SRTP context to send with.
            if self
                .participants
                .get(sub.subscriber)
                .is_none_or(|p| p.liveness.connected_at.is_none())
            {
                continue;
            }
            let Some(rewrite) = sub.forwarder.forward(
                route.layer,
                packet.header.sequence_number,
                packet.header.timestamp,
                &info,
                now,
            ) else {
                continue;
            };
            if rewrite.switched {
                self.ctx.stats.add_layer_switch();
            }
            let mut header = packet.header.clone();
            header.ssrc = sub.out_ssrc;
            header.payload_type = sub.out_payload_type;
            header.sequence_number = rewrite.sequence_number;
            header.timestamp = rewrite.timestamp;
            let payload = rewrite.payload(&packet.payload, &info);
            let Some(subscriber) = self.participants.get_mut(sub.subscriber) else {
                continue;
            };
            // Straight to the connection's interceptors and SRTP (`write_rtp`, our patch of
            // `rtc`) rather than through `RTCRtpSender::write_rtp`, which rebuilds the sender's
            // parameters (several allocations) on every packet to check what we already
            // guarantee: the SSRC is the sender's, the payload type was negotiated
            // (`activate_subscriptions`), and no header extension is left for the pipeline to
            // reject.
            // The datagram comes straight back unless the connection has something of its own
            // to send first; then it waits its turn in the connection's queue.
            let queued = match subscriber
                .pc
                .write_rtp(now, rtc::rtp::Packet { header, payload })
            {
                Ok(sent) => {
                    subscriber.bytes_out += bytes as usize;
                    self.ctx.stats.add_forwarded(1, bytes);
                    sub.packets += 1;
                    sub.bytes += bytes;
                    match sent {
                        Some(datagram) => {
                            let (outbox, stats) = (&mut self.outbox, &self.ctx.stats);
                            post(
                                subscriber,
                                sub.subscriber,
                                datagram,
                                outbox,
                                stats,
                                self.now,
                            );
                            false
                        }
                        None => true,
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "forwarded packet refused");
                    true
                }
            };
            touched.push((sub.subscriber, queued));
        }
    }

    /// A subscriber asked for a keyframe of a track it receives: ask the publisher for one
    /// of the layer that subscriber is fed (rate-limited per layer).
    fn relay_keyframe_request(&mut self, subscriber: usize, track_id: &str, now: Instant) {
        let Some(room) = self.participants.get(subscriber).map(|p| p.room.clone()) else {
            return;
        };
        let Some(publication) = self.rooms.get(&room).and_then(|r| {
            r.publications.iter().copied().find(|&k| {
                self.publications
                    .get(k)
                    .is_some_and(|p| p.id.as_str() == track_id)
            })
        }) else {
            return;
        };
        let layer = self.publications[publication]
            .subscriptions
            .iter()
            .find(|s| s.subscriber == subscriber)
            .and_then(|s| s.forwarder.current().or(s.forwarder.target()));
        if let Some(layer) = layer {
            self.request_keyframe(publication, layer, now);
        }
    }

    /// Sends a PLI for one layer of a publication, at most once a second per layer.
    pub(super) fn request_keyframe(&mut self, publication: usize, layer: Layer, now: Instant) {
        let Some(pubn) = self.publications.get_mut(publication) else {
            return;
        };
        if pubn.kind != MediaKind::Video {
            return;
        }
        let Some(media_ssrc) = pubn.take_keyframe_request(layer, now) else {
            return;
        };
        let (owner, receiver_id) = (pubn.owner, pubn.receiver_id);
        let Some(p) = self.participants.get_mut(owner) else {
            return;
        };
        if let Some(mut receiver) = p.pc.rtp_receiver(receiver_id) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => self.ctx.stats.add_pli(),
                Err(e) => tracing::debug!(error = %e, "keyframe request refused"),
            }
        }
        self.flush(owner);
    }

    /// Marks subscriptions the subscriber has now answered for as flowing, with the payload
    /// type it negotiated, and asks for keyframes so its decoders can start.
    pub(super) fn activate_subscriptions(&mut self, subscriber: usize, now: Instant) {
        for k in self.publications_around(subscriber) {
            let Some(pubn) = self.publications.get_mut(k) else {
                continue;
            };
            let mime = pubn.codec_params.mime_type.clone();
            let fmtp = pubn.codec_params.sdp_fmtp_line.clone();
            let Some(sub) = pubn
                .subscriptions
                .iter_mut()
                .find(|s| s.subscriber == subscriber && !s.active)
            else {
                continue;
            };
            let Some(sender) = sub.sender_id else {
                continue;
            };
            let Some(p) = self.participants.get_mut(subscriber) else {
                return;
            };
            let Some(mut rtp_sender) = p.pc.rtp_sender(sender) else {
                continue;
            };
            let codecs = &rtp_sender.get_parameters().rtp_parameters.codecs;
            let negotiated = codecs
                .iter()
                .find(|c| {
                    c.rtp_codec.mime_type.eq_ignore_ascii_case(&mime)
                        && c.rtp_codec.sdp_fmtp_line == fmtp
                })
                .or_else(|| {
                    codecs
                        .iter()
                        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&mime))
                });
            let Some(codec) = negotiated else {
                tracing::info!("subscriber did not accept the track's codec");
                continue;
            };
            sub.out_payload_type = codec.payload_type;
            sub.active = true;
            if let Some(layer) = sub.forwarder.target() {
                self.request_keyframe(k, layer, now);
            }
        }
    }

    /// A subscriber's connection came up: ask for keyframes of everything it receives so
    /// its decoders start at once.
    pub(super) fn request_keyframes_for(&mut self, subscriber: usize, now: Instant) {
        for k in self.publications_around(subscriber) {
            let target = self.publications.get(k).and_then(|p| {
                p.subscriptions
                    .iter()
                    .find(|s| s.subscriber == subscriber && s.active)
                    .and_then(|s| s.forwarder.target())
            });
            if let Some(layer) = target {
                self.request_keyframe(k, layer, now);
            }
        }
    }

    /// Re-chooses every subscriber's layer of a publication, requests keyframes for pending
    /// switches, and tells the publisher which layers anybody still needs.
    pub(super) fn update_layers(&mut self, publication: usize, now: Instant) {
        self.retarget_tap(publication, now, false);
        let Some(pubn) = self.publications.get_mut(publication) else {
            return;
        };
        if pubn.kind != MediaKind::Video {
            return;
        }
        let mut wanted_keyframes = [false; MAX_LAYERS];
        for i in 0..pubn.subscriptions.len() {
            let target = pubn.target_for(&pubn.subscriptions[i], now);
            let sub = &mut pubn.subscriptions[i];
            if sub.forwarder.target() != target {
                tracing::debug!(
                    subscriber = sub.subscriber,
                    from = ?sub.forwarder.target(),
                    to = ?target,
                    cap = ?sub.cap,
                    "subscriber's target layer changes"
                );
                sub.forwarder.set_target(target);
            }
            if let Some(Layer(l)) = target
                && sub.active
                && sub.forwarder.current() != target
            {
                wanted_keyframes[usize::from(l)] = true;
            }
        }
        // A request that got lost on the way leaves subscribers frozen until they ask again
        // (Chrome waits seconds): ask again ourselves until the keyframe comes.
        for Layer(l) in pubn.layers_awaiting_keyframe(now) {
            wanted_keyframes[usize::from(l)] = true;
        }
        let demand = pubn.layer_demand(now);
        let demand_changed = pubn.simulcast && demand != pubn.demanded;
        if demand_changed {
            pubn.demanded = demand;
        }
        let (owner, track) = (pubn.owner, pubn.id.clone());
        if demand_changed && let Some(p) = self.participants.get(owner) {
            p.tell(SfuEvent::LayerDemand {
                track,
                active: demand.to_vec(),
            });
        }
        for (l, wanted) in wanted_keyframes.into_iter().enumerate() {
            if wanted {
                self.request_keyframe(publication, Layer(l as u8), now);
            }
        }
    }
}

impl Shard {
    /// Fits one subscriber's video into its bandwidth estimate: every track starts at the
    /// layer its rendered size asks for; while the sum is over budget the costliest track
    /// steps down a layer, and when nothing can step down, video is paused track by track.
    /// Below the audio-only threshold (or when the subscriber asked to save data) no video
    /// goes to it at all; audio always flows.
    pub(super) fn allocate(&mut self, subscriber: usize, now: Instant) {
        let video_allowed = self.gate_video(subscriber, now);
        let Some(p) = self.participants.get(subscriber) else {
            return;
        };
        let budget = match (video_allowed, p.send_budget()) {
            (true, Some(budget)) => budget,
            // No video at all, or no estimate yet to fit it into.
            (allowed, _) => {
                let cap = if allowed { Cap::Unlimited } else { Cap::Paused };
                let room = p.room.clone();
                self.cap_video_of(subscriber, &room, cap);
                return;
            }
        };
        // Headroom for audio, RTCP and retransmissions.
        let budget = budget as f64 * 0.85;
        let Some(room) = self.rooms.get(&p.room) else {
            return;
        };
        struct Choice {
            publication: usize,
            layer: Option<Layer>,
            desired: Option<Layer>,
        }
        let mut choices: Vec<Choice> = Vec::new();
        for &k in &room.publications {
            let Some(pubn) = self.publications.get(k) else {
                continue;
            };
            if pubn.kind != MediaKind::Video {
                continue;
            }
            if let Some(sub) = pubn
                .subscriptions
                .iter()
                .find(|s| s.subscriber == subscriber)
            {
                let desired = pubn.choose_layer(sub.wanted_size, now, true);
                choices.push(Choice {
                    publication: k,
                    layer: desired,
                    desired,
                });
            }
        }
        let rate = |c: &Choice| -> f64 {
            c.layer.map_or(0.0, |Layer(l)| {
                self.publications[c.publication].layers[usize::from(l)].bitrate
            })
        };
        let mut total: f64 = choices.iter().map(rate).sum();
        while total > budget {
            let costliest = (0..choices.len())
                .filter(|&i| choices[i].layer.is_some())
                .max_by(|&a, &b| rate(&choices[a]).total_cmp(&rate(&choices[b])));
            let Some(i) = costliest else {
                break;
            };
            let pubn = &self.publications[choices[i].publication];
            let before = rate(&choices[i]);
            choices[i].layer = match choices[i].layer {
                Some(l) => pubn.layer_below(l, now),
                None => None,
            };
            total = total - before + rate(&choices[i]);
        }
        tracing::trace!(
            subscriber,
            budget,
            total,
            "allocated video to the send estimate"
        );
        for c in choices {
            let cap = match (c.layer, c.desired) {
                (l, d) if l == d => Cap::Unlimited,
                (Some(l), _) => Cap::UpTo(l),
                (None, _) => Cap::Paused,
            };
            if let Some(sub) = self.publications[c.publication]
                .subscriptions
                .iter_mut()
                .find(|s| s.subscriber == subscriber)
            {
                sub.cap = cap;
            }
        }
    }

    /// Sets one cap on every video track a subscriber receives.
    fn cap_video_of(&mut self, subscriber: usize, room: &crate::ids::RoomId, cap: Cap) {
        let Some(room) = self.rooms.get(room) else {
            return;
        };
        for &k in &room.publications {
            let Some(pubn) = self.publications.get_mut(k) else {
                continue;
            };
            if pubn.kind != MediaKind::Video {
                continue;
            }
            for sub in pubn
                .subscriptions
                .iter_mut()
                .filter(|s| s.subscriber == subscriber)
            {
                sub.cap = cap;
            }
        }
    }
}
