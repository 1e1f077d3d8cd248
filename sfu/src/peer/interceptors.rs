//! The SFU's own interceptors in each connection's chain: one takes what the SFU needs from
//! inside it (keyframe requests, the bandwidth estimate, link measurements, adopted media
//! streams), one raises the loss reported to publishers to what their listeners suffer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;

use crate::health::LinkMeter;

/// What the receiver reports we send a publisher should say about its audio.
#[derive(Debug, Default)]
pub(crate) struct EchoedLoss {
    /// Its audio SSRCs.
    pub audio_ssrcs: Vec<u32>,
    /// The worst loss (fraction of 256) among those who receive its audio.
    pub fraction_lost: u8,
}

/// Tells a publisher about the loss its listeners suffer, in the receiver reports about its
/// audio. Without it the publisher only ever hears of its own hop to us, which is usually
/// clean, so its Opus encoder never adds in-band FEC, and a listener on a lossy phone link
/// conceals every lost packet. With it, the encoder adds FEC in proportion, and the
/// listener's decoder rebuilds most lost packets from the next one. Only audio blocks are
/// raised: the congestion controller weighs loss over all streams, and audio is a small share
/// of them, so its video is not held back.
pub(super) struct LossEcho {
    pub(super) echo: Arc<Mutex<EchoedLoss>>,
}

impl LossEcho {
    fn raise(&self, packets: &mut [Box<dyn rtc::rtcp::Packet>]) {
        let echo = self.echo.lock().unwrap_or_else(|p| p.into_inner());
        if echo.fraction_lost == 0 {
            return;
        }
        for packet in packets.iter_mut() {
            let Some(rr) = packet.as_any().downcast_ref::<ReceiverReport>() else {
                continue;
            };
            let raises = |b: &rtc::rtcp::reception_report::ReceptionReport| {
                echo.audio_ssrcs.contains(&b.ssrc) && b.fraction_lost < echo.fraction_lost
            };
            if !rr.reports.iter().any(raises) {
                continue;
            }
            let mut raised = rr.clone();
            for block in raised.reports.iter_mut().filter(|b| raises(b)) {
                tracing::trace!(
                    ssrc = block.ssrc,
                    from = block.fraction_lost,
                    to = echo.fraction_lost,
                    "echoing listeners' loss to a publisher"
                );
                block.fraction_lost = echo.fraction_lost;
            }
            *packet = Box::new(raised);
        }
    }
}

impl Hook for LossEcho {
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket> {
        Some(msg)
    }

    fn write(&mut self, msg: &mut TaggedPacket) {
        if let Packet::Rtcp(packets) = &mut msg.message.packet {
            self.raise(packets);
        }
    }

    fn observes_rtp_reads(&self) -> bool {
        false
    }

    fn observes_rtp_writes(&self) -> bool {
        false
    }
}

/// Incoming RTP streams the SFU has adopted, and their packets since it last looked.
///
/// Why: on every remote description, `rtc` 0.21 resets the receiver of a simulcast track to
/// "SSRCs unknown, waiting for rid header extensions" (`start_rtp`), but browsers stop
/// sending those extensions once the stream is established, so after the first
/// renegotiation every simulcast layer is dropped as an unknown SSRC. Once the engine has
/// bound a stream for the first time, the SFU adopts its SSRC and receives its packets here,
/// after the NACK, report and TWCC interceptors have seen them and before the engine's
/// receiver bookkeeping can lose them.
#[derive(Debug, Default)]
pub(crate) struct Adopted {
    pub ssrcs: Vec<u32>,
    pub packets: VecDeque<(Instant, rtc::rtp::Packet)>,
    /// The publisher's sender reports since the shard last looked, for a recorder's lip
    /// sync. Kept always rather than only while recording: a publisher sends about one per
    /// stream per second, and the report interceptor consumes them after this point.
    pub sender_reports: VecDeque<SeenSenderReport>,
}

/// At most this many sender reports wait for the shard; it looks after every datagram, so
/// more only pile up if it stalls, and then the oldest are the least useful.
const SENDER_REPORTS_KEPT: usize = 32;

/// What a recorder needs of one RTCP sender report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeenSenderReport {
    /// When it reached us.
    pub arrival: Instant,
    /// The media SSRC it describes.
    pub ssrc: u32,
    /// The sender's NTP wall clock.
    pub ntp_time: u64,
    /// The RTP time of that instant.
    pub rtp_time: u32,
}

impl Adopted {
    fn keep_sender_report(&mut self, report: SeenSenderReport) {
        if self.sender_reports.len() >= SENDER_REPORTS_KEPT {
            self.sender_reports.pop_front();
        }
        self.sender_reports.push_back(report);
    }
}

/// What the SFU needs from inside a connection's interceptor chain: keyframe requests (PLI,
/// FIR) from subscribers, relayed to the publisher of the layer that subscriber receives, and
/// the congestion controller's estimate. Everything else stays with the interceptors
/// (reports, NACKs), which consume it.
pub(super) struct ApplicationTap {
    pub(super) estimate: Arc<AtomicU64>,
    pub(super) adopted: Arc<Mutex<Adopted>>,
    pub(super) stats: Arc<crate::stats::SfuStats>,
    pub(super) link: Arc<Mutex<LinkMeter>>,
}

impl ApplicationTap {
    /// A poisoned lock only means a panic elsewhere; counters stay usable.
    fn lock_link(&self) -> std::sync::MutexGuard<'_, LinkMeter> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Hook for ApplicationTap {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Some(&Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.estimate
                .store(bits_per_second.max(1.0) as u64, Ordering::Relaxed);
        }
        match &msg.message.packet {
            Packet::Rtp(rtp) => self.lock_link().on_rtp_in(
                rtp.header.ssrc,
                rtp.header.sequence_number,
                rtp.payload.len(),
            ),
            Packet::Rtcp(packets) => {
                let mut link = self.lock_link();
                for packet in packets {
                    let any = packet.as_any();
                    if let Some(sr) = any.downcast_ref::<SenderReport>() {
                        self.adopted
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .keep_sender_report(SeenSenderReport {
                                arrival: msg.now,
                                ssrc: sr.ssrc,
                                ntp_time: sr.ntp_time,
                                rtp_time: sr.rtp_time,
                            });
                    }
                    let blocks = match (
                        any.downcast_ref::<ReceiverReport>(),
                        any.downcast_ref::<SenderReport>(),
                    ) {
                        (Some(rr), _) => &rr.reports,
                        (None, Some(sr)) => &sr.reports,
                        (None, None) => continue,
                    };
                    for b in blocks {
                        link.on_report_block(
                            b.ssrc,
                            b.fraction_lost,
                            b.last_sender_report,
                            b.delay,
                            msg.now,
                        );
                    }
                }
            }
            // Non-exhaustive upstream; nothing else carries what we measure.
            _ => {}
        }
        if let Packet::Rtp(rtp) = &msg.message.packet {
            let mut adopted = self.adopted.lock().unwrap_or_else(|p| p.into_inner());
            if adopted.ssrcs.contains(&rtp.header.ssrc) {
                if let Packet::Rtp(rtp) = msg.message.packet {
                    adopted.packets.push_back((msg.now, rtp));
                }
                return None;
            }
        }
        if let Packet::Rtcp(packets) = &msg.message.packet {
            // NACKs were answered by the responder nearer the wire; they are counted here.
            for nack in packets
                .iter()
                .filter_map(|p| p.as_any().downcast_ref::<TransportLayerNack>())
            {
                let requested: u64 = nack
                    .nacks
                    .iter()
                    .map(|pair| u64::from(pair.lost_packets.count_ones()) + 1)
                    .sum();
                self.stats.add_nack(requested);
            }
            let wants_keyframe = packets.iter().any(|p| {
                p.as_any().downcast_ref::<PictureLossIndication>().is_some()
                    || p.as_any().downcast_ref::<FullIntraRequest>().is_some()
            });
            if wants_keyframe {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
        Some(msg)
    }

    /// Nothing to take on the way out: the shard counts the bytes it forwards itself, so that
    /// forwarded media can pass this hook by (`observes_rtp_writes`).
    fn write(&mut self, _msg: &mut TaggedPacket) {}

    fn observes_rtp_reads(&self) -> bool {
        true
    }

    fn observes_rtp_writes(&self) -> bool {
        false
    }
}

/// What one of our interceptors does to the packets passing it; [`Hooked`] queues them and
/// keeps the rest of the interceptor contract, the same for every hook.
pub(super) trait Hook: Send + Sync {
    /// A packet from the wire; `None` if the hook keeps it.
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket>;
    /// A packet toward the wire.
    fn write(&mut self, msg: &mut TaggedPacket);
    /// Whether the hook looks at RTP read from the wire; a chain carries RTP past a hook that
    /// does not, without moving it through the hook's queue.
    fn observes_rtp_reads(&self) -> bool;
    /// Whether the hook looks at RTP written toward the wire.
    fn observes_rtp_writes(&self) -> bool;
}

/// A [`Hook`] in a connection's chain: each packet goes on in order once the hook has seen it.
pub(super) struct Hooked<H> {
    hook: H,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl<H> Hooked<H> {
    pub(super) fn new(hook: H) -> Self {
        Self {
            hook,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl<H: Hook> Protocol<TaggedPacket, TaggedPacket, ()> for Hooked<H> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Some(msg) = self.hook.read(msg) {
            self.read.push_back(msg);
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        self.hook.write(&mut msg);
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        None
    }
}

impl<H: Hook> Interceptor for Hooked<H> {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}

    fn observes_rtp_reads(&self) -> bool {
        self.hook.observes_rtp_reads()
    }

    fn observes_rtp_writes(&self) -> bool {
        self.hook.observes_rtp_writes()
    }
}
