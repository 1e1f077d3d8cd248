//! Driving the server by hand: a publisher's packet is built and encrypted outside the part
//! being timed or checked, then handed to the server as its driver would hand it, and what
//! the server sends is counted (the forwarding bench) or put on the links (the slicing tests).

use std::time::Duration;

use rtc::sansio::Protocol;

use super::SimRoom;
use crate::error::{Error, Result};
use crate::net::Datagram;

/// Datagrams one client produced for the server, not yet delivered (see
/// [`SimRoom::prepare_audio`]).
pub struct Uplink {
    datagrams: Vec<Datagram>,
}

impl Uplink {
    /// How many datagrams it holds.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }
}

impl SimRoom {
    /// Publisher `i` builds and encrypts one audio packet of `len` payload bytes; what its
    /// connection would send is returned instead of put on the link.
    pub fn prepare_audio(&mut self, i: usize, len: usize) -> Result<Uplink> {
        self.now += Duration::from_micros(20);
        let now = self.now;
        self.clients[i].write_audio(len, now)?;
        self.take_uplink(i)
    }

    /// Publisher `i` builds and encrypts a one-packet VP8 delta frame of `len` payload bytes
    /// (see [`SimRoom::prepare_audio`]).
    pub fn prepare_video(&mut self, i: usize, len: usize) -> Result<Uplink> {
        self.now += Duration::from_micros(20);
        let now = self.now;
        self.clients[i].write_video_frame(false, 1, len, now)?;
        self.take_uplink(i)
    }

    fn take_uplink(&mut self, i: usize) -> Result<Uplink> {
        let key = self.clients[i].key.ok_or(Error::ParticipantGone)?;
        let from = self.clients[i].public;
        let at = self.now;
        let mut datagrams = Vec::with_capacity(1);
        while let Some(msg) = self.clients[i].pc.poll_write() {
            datagrams.push(Datagram {
                key,
                data: msg.message,
                from,
                at,
                tcp: None,
            });
        }
        Ok(Uplink { datagrams })
    }

    /// The server handles what a client sent (decrypt, route, rewrite, encrypt per
    /// subscriber); what it sends is counted and dropped. Returns the datagrams it sent.
    pub fn server_receive(&mut self, uplink: Uplink) -> usize {
        for datagram in uplink.datagrams {
            self.shard.receive(datagram);
        }
        self.shard.take_transmits(&mut self.transmits);
        let sent = self.transmits.len();
        self.transmits.clear();
        sent
    }

    /// The server takes what a client sent the way its driver does (`Shard::admit`): video
    /// waits in the backlog, everything else is handled at once. Returns what the server sent
    /// (which client, how many bytes), in order; it is on its way to the clients.
    pub fn server_admit(&mut self, uplink: Uplink) -> Vec<(usize, usize)> {
        for datagram in uplink.datagrams {
            self.shard.admit(datagram);
        }
        self.dispatched()
    }

    /// The server forwards admitted video until `until` datagrams wait to be sent
    /// (`Shard::forward_backlog`); returns what it sent, as [`SimRoom::server_admit`] does.
    pub fn server_forward_backlog(&mut self, until: usize) -> Vec<(usize, usize)> {
        self.shard.forward_backlog(until);
        self.dispatched()
    }

    /// Puts what the server sent on the links; returns each datagram's client and size.
    fn dispatched(&mut self) -> Vec<(usize, usize)> {
        let mut sent = Vec::new();
        self.dispatch_transmits(Some(&mut sent));
        sent
    }

    /// Video datagrams the server admitted and has not forwarded yet.
    pub fn server_backlog(&self) -> usize {
        self.shard.backlog()
    }
}
