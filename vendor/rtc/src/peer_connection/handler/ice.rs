use crate::peer_connection::event::RTCPeerConnectionEvent;
use crate::peer_connection::event::{RTCEventInternal, TaggedRTCEventInternal};
use crate::peer_connection::message::internal::{
    RTCMessageInternal, STUNMessage, TaggedRTCMessageInternal,
};
use crate::peer_connection::transport::ice::IceTransport;
use crate::statistics::accumulator::RTCStatsAccumulator;
use crate::statistics::stats::ice_candidate_pair::RTCStatsIceCandidatePairState;
use log::{debug, trace};
use shared::error::{Error, Result};
use shared::{TransportContext, TransportMessage};
use std::collections::VecDeque;
use std::time::Instant;

pub(crate) struct IceHandlerContext {
    pub(crate) ice_transport: IceTransport,

    pub(crate) read_outs: VecDeque<TaggedRTCMessageInternal>,
    pub(crate) write_outs: VecDeque<TaggedRTCMessageInternal>,
    pub(crate) event_outs: VecDeque<TaggedRTCEventInternal>,

    /// Cached stats key of the currently selected ICE candidate pair
    /// (`RTCIceCandidatePair_<local>_<remote>`), refreshed only when the selected
    /// pair changes. The per-packet read/write path looks the pair's stats
    /// accumulator up with this key instead of re-`format!`ing it on every packet
    /// — that formatting was a heap allocation on the hot path in both directions.
    pub(crate) selected_pair_key: Option<String>,

    /// Traffic on the selected pair not yet added to its stats accumulator (Accord's patch).
    /// Looking the accumulator up hashed the pair's key string on every packet, each way: a
    /// forwarding server paid that for every copy it sent. Counted here, the traffic is added
    /// when the selected pair changes and before stats are read ([`Self::settle_pair_traffic`]).
    pub(crate) pair_traffic: PairTraffic,
}

/// Packets and bytes each way since the selected pair's accumulator was last brought up to date.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairTraffic {
    sent: Counted,
    received: Counted,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counted {
    packets: u64,
    bytes: u64,
    last: Option<Instant>,
}

impl Counted {
    fn count(&mut self, bytes: usize, now: Instant) {
        self.packets += 1;
        self.bytes += bytes as u64;
        self.last = Some(now);
    }
}

impl PairTraffic {
    /// Adds what was counted to the accumulator of the pair `key` names, and starts again.
    /// Without a key or an accumulator the traffic is dropped, as the per-packet lookup did.
    pub(crate) fn settle(&mut self, key: Option<&str>, stats: &mut RTCStatsAccumulator) {
        let PairTraffic { sent, received } = std::mem::take(self);
        let Some(pair) = key.and_then(|key| stats.ice_candidate_pairs.get_mut(key)) else {
            return;
        };
        if let Some(last) = sent.last {
            pair.on_packets_sent(sent.packets, sent.bytes, last);
        }
        if let Some(last) = received.last {
            pair.on_packets_received(received.packets, received.bytes, last);
        }
    }
}

impl IceHandlerContext {
    pub(crate) fn new(ice_transport: IceTransport) -> Self {
        Self {
            ice_transport,

            read_outs: VecDeque::new(),
            write_outs: VecDeque::new(),
            event_outs: VecDeque::new(),

            selected_pair_key: None,
            pair_traffic: PairTraffic::default(),
        }
    }

    /// Brings the selected pair's stats accumulator up to date with the traffic counted since.
    pub(crate) fn settle_pair_traffic(&mut self, stats: &mut RTCStatsAccumulator) {
        self.pair_traffic
            .settle(self.selected_pair_key.as_deref(), stats);
    }
}

/// IceHandler implements ICE Protocol handling
pub(crate) struct IceHandler<'a> {
    ctx: &'a mut IceHandlerContext,
    stats: &'a mut RTCStatsAccumulator,
}

impl<'a> IceHandler<'a> {
    pub(crate) fn new(ctx: &'a mut IceHandlerContext, stats: &'a mut RTCStatsAccumulator) -> Self {
        IceHandler { ctx, stats }
    }

    pub(crate) fn name(&self) -> &'static str {
        "IceHandler"
    }
}

impl IceHandler<'_> {
    /// Addresses an outgoing message to the selected candidate pair; `None` (dropped) while
    /// there is none.
    pub(crate) fn route(
        &mut self,
        mut msg: TaggedRTCMessageInternal,
    ) -> Option<TaggedRTCMessageInternal> {
        if let Some((local, remote)) = self.ctx.ice_transport.agent.get_selected_candidate_pair() {
            // use ICE selected candidate pair to replace local/peer addr and
            // transport protocol: DTLS/SCTP endpoints run on placeholder
            // transport contexts, so without the protocol rewrite their
            // transmits stay stamped UDP even when the selected pair is TCP,
            // and consumers routing poll_write() output by transport_protocol
            // send every non-STUN packet down the wrong transport.
            // Use the local candidate's base address: for (server/peer-)
            // reflexive candidates the candidate address is the NAT mapping,
            // not a bound local socket (RFC 8445 §5.1.1).
            msg.transport.local_addr = local.base_addr();
            msg.transport.peer_addr = remote.addr();
            msg.transport.transport_protocol = local.network_type().to_protocol();
            debug!("Bypass ice write {:?}", msg.transport.peer_addr);

            // Track packets/bytes sent on the selected candidate pair (see `pair_traffic`).
            if self.ctx.selected_pair_key.is_some() {
                let bytes = msg.message.len();
                self.ctx.pair_traffic.sent.count(bytes, msg.now);
            }

            Some(msg)
        } else {
            trace!(
                "drop message from {:?} to {:?} before ICE connection is connected",
                msg.transport.local_addr, msg.transport.peer_addr,
            );
            None
        }
    }
}

impl<'a>
    sansio::Protocol<TaggedRTCMessageInternal, TaggedRTCMessageInternal, TaggedRTCEventInternal>
    for IceHandler<'a>
{
    type Rout = TaggedRTCMessageInternal;
    type Wout = TaggedRTCMessageInternal;
    type Eout = TaggedRTCEventInternal;
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedRTCMessageInternal) -> Result<()> {
        if let RTCMessageInternal::Stun(STUNMessage::Raw(message)) = msg.message {
            self.ctx.ice_transport.agent.handle_read(TransportMessage {
                now: msg.now,
                transport: msg.transport,
                message,
            })?;
        } else if self
            .ctx
            .ice_transport
            .agent
            .get_selected_candidate_pair()
            .is_some()
        {
            // only ICE connection is ready and bypass it
            debug!("bypass ice read {:?}", msg.transport.peer_addr);

            // Track packets/bytes received on the selected candidate pair; they reach its
            // accumulator when the pair changes or stats are read (`settle_pair_traffic`).
            if self.ctx.selected_pair_key.is_some() {
                let bytes = msg.message.len();
                self.ctx.pair_traffic.received.count(bytes, msg.now);
            }

            // When ICE restarts and the selected candidate pair changes,
            // WebRTC treats this as a path migration, and DTLS continues unchanged, bound to the ICE transport, not to a fixed 5-tuple.
            // Use default for transport to make DTLS tunneled
            msg.transport = TransportContext::default();
            self.ctx.read_outs.push_back(msg);
        } else {
            trace!(
                "drop message from {:?} to {:?} before ICE connection is connected",
                msg.transport.peer_addr, msg.transport.local_addr
            );
        }

        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.ctx.read_outs.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedRTCMessageInternal) -> Result<()> {
        if let Some(msg) = self.route(msg) {
            self.ctx.write_outs.push_back(msg);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        while let Some(transmit) = self.ctx.ice_transport.agent.poll_write() {
            self.ctx.write_outs.push_back(TaggedRTCMessageInternal {
                now: transmit.now,
                transport: transmit.transport,
                message: RTCMessageInternal::Stun(STUNMessage::Raw(transmit.message)),
            });
        }

        self.ctx.write_outs.pop_front()
    }

    fn handle_event(&mut self, evt: TaggedRTCEventInternal) -> Result<()> {
        self.ctx.event_outs.push_back(evt);
        Ok(())
    }

    fn poll_event(&mut self) -> Option<Self::Eout> {
        if let Some(evt) = self.ctx.ice_transport.agent.poll_event() {
            // The agent stamps its own events, so this drain *propagates* that instant rather
            // than retaining one: the condition was observed when the agent saw it, not when
            // the pipeline got round to polling for it.
            let now = evt.now;
            match evt.event {
                ::ice::Event::ConnectionStateChange(state) => {
                    let ice_connection_state = state.into();
                    self.ctx.ice_transport.ice_connection_state = ice_connection_state;

                    // Update transport stats for ICE state change
                    // Use the original ice state which converts to RTCIceTransportState
                    self.stats.transport.on_ice_state_changed(state.into());

                    self.ctx.event_outs.push_back(TaggedRTCEventInternal {
                        now,
                        event: RTCEventInternal::RTCPeerConnectionEvent(
                            RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(
                                ice_connection_state,
                            ),
                        ),
                    });
                }
                ::ice::Event::SelectedCandidatePairChange(local, remote) => {
                    debug!(
                        "ice selected candidate pair {:?} <-> {:?}",
                        local.addr(),
                        remote.addr()
                    );

                    // What went over the previous pair is that pair's.
                    self.ctx.settle_pair_traffic(self.stats);

                    // Create/update the candidate pair accumulator
                    let pair = self
                        .stats
                        .get_or_create_candidate_pair(local.id(), remote.id());
                    pair.nominated = true;
                    pair.state = RTCStatsIceCandidatePairState::Succeeded;

                    // Cache the pair's stats key so the per-packet path can look
                    // the accumulator up by borrow instead of re-formatting (and
                    // allocating) the key on every read/write.
                    let key = format!("RTCIceCandidatePair_{}_{}", local.id(), remote.id());
                    self.ctx.selected_pair_key = Some(key.clone());
                    // Update transport stats for selected candidate pair change
                    self.stats.transport.on_selected_candidate_pair_changed(key);

                    self.ctx.event_outs.push_back(TaggedRTCEventInternal {
                        now,
                        event: RTCEventInternal::ICESelectedCandidatePairChange,
                    });
                }
                ::ice::Event::RoleChange(is_controlling) => {
                    self.stats.transport.on_ice_role_changed(is_controlling);
                }
                _ => {}
            }
        }

        self.ctx.event_outs.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<()> {
        self.ctx.ice_transport.agent.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ctx.ice_transport.agent.poll_timeout()
    }

    fn close(&mut self) -> Result<()> {
        self.ctx.ice_transport.agent.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: &str = "RTCIceCandidatePair_l_r";

    #[test]
    fn traffic_counted_on_the_side_reaches_the_pair_when_settled() {
        let mut stats = RTCStatsAccumulator::default();
        stats.get_or_create_candidate_pair("l", "r");
        let mut traffic = PairTraffic::default();
        let t0 = Instant::now();
        for i in 0..3u64 {
            traffic.sent.count(1200, t0 + Duration::from_millis(i));
        }
        traffic.received.count(100, t0);
        assert_eq!(stats.ice_candidate_pairs[KEY].packets_sent, 0);

        traffic.settle(Some(KEY), &mut stats);
        let pair = &stats.ice_candidate_pairs[KEY];
        assert_eq!((pair.packets_sent, pair.bytes_sent), (3, 3600));
        assert_eq!(
            pair.last_packet_sent_timestamp,
            Some(t0 + Duration::from_millis(2))
        );
        assert_eq!((pair.packets_received, pair.bytes_received), (1, 100));
        assert_eq!(pair.last_packet_received_timestamp, Some(t0));

        // The count starts over: settling again adds nothing.
        traffic.settle(Some(KEY), &mut stats);
        assert_eq!(stats.ice_candidate_pairs[KEY].packets_sent, 3);
        assert_eq!(traffic, PairTraffic::default());
    }

    #[test]
    fn traffic_with_no_pair_to_go_to_is_dropped() {
        let mut stats = RTCStatsAccumulator::default();
        let mut traffic = PairTraffic::default();
        traffic.sent.count(1200, Instant::now());
        traffic.settle(None, &mut stats);
        assert_eq!(traffic, PairTraffic::default());

        traffic.received.count(1200, Instant::now());
        traffic.settle(Some(KEY), &mut stats);
        assert_eq!(traffic, PairTraffic::default());
        assert!(stats.ice_candidate_pairs.is_empty());
    }
}
