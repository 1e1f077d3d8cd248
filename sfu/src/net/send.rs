//! Sending media: everything a shard produced leaves the one UDP port in `sendmmsg` calls,
//! and the packets of a frame to one subscriber leave as one segmented datagram (UDP generic
//! segmentation offload, `UDP_SEGMENT`).
//!
//! **Why segmentation.** A forwarded video frame is several RTP packets of the same size
//! going to the same address (the packetizer cuts a frame into equal pieces and a shorter
//! last one). Sent one by one, each pays the kernel's whole UDP/IP send path; handed over as
//! one buffer with a segment size, the kernel (or the network card) cuts it after the route,
//! the firewall and the socket's accounting, so each packet past the first costs little more
//! than a copy. Receivers see ordinary datagrams. In a profile of ten four-person rooms,
//! `sendmmsg` was a quarter of the server's time.
//!
//! Packets to one address keep their order; packets to different addresses may leave in
//! another order than the shard made them, as they may arrive in any order anyway.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use socket2::Socket;

use crate::shard::Transmit;
use crate::stats::SfuStats;

/// Messages per `sendmmsg` call.
const SEND_BATCH: usize = 64;
/// Packets one segmented datagram carries at most (the kernel's `UDP_MAX_SEGMENTS` is 64 on
/// older kernels, 128 on newer ones).
const MAX_SEGMENTS: usize = 64;
/// Bytes one segmented datagram carries at most: the largest UDP payload, with room to spare.
const MAX_SEGMENTED_BYTES: usize = 60_000;
/// Buffers one `sendmmsg` call gathers from at most.
const MAX_BUFFERS: usize = 512;

/// The send side of the media socket, shared by every shard.
pub(crate) struct MediaSender {
    socket: Socket,
    /// Whether the kernel and the route take segmented datagrams; turned off for good the
    /// first time a segmented send is refused.
    segmentation: AtomicBool,
}

/// A shard's reusable state for sending, so that the packet path allocates nothing here.
pub(crate) struct SendScratch {
    /// Headers for calls without control messages.
    plain: MultiHeaders<SockaddrStorage>,
    /// Headers with room for one `UDP_SEGMENT` control message each.
    segmented: MultiHeaders<SockaddrStorage>,
    /// The UDP transmits' indices, with their destination ahead for sorting.
    order: Vec<(u64, u32)>,
}

impl SendScratch {
    /// Made on the thread that uses it: the headers hold raw pointers.
    pub fn new() -> Self {
        Self {
            plain: MultiHeaders::preallocate(SEND_BATCH, None),
            segmented: MultiHeaders::preallocate(SEND_BATCH, Some(nix::cmsg_space!(u16))),
            order: Vec::new(),
        }
    }
}

/// One datagram on the wire: `len` consecutive entries of the sorted order, all to one
/// address; more than one is sent segmented at the first one's size.
#[derive(Clone, Copy, Default)]
struct Message {
    start: usize,
    len: usize,
}

/// Messages gathered for one `sendmmsg` call; they all share its segment size (`None`: one
/// packet each, no control message).
struct Call {
    messages: [Message; SEND_BATCH],
    count: usize,
    buffers: usize,
    segment: Option<u16>,
}

impl Call {
    fn new() -> Self {
        Self {
            messages: [Message::default(); SEND_BATCH],
            count: 0,
            buffers: 0,
            segment: None,
        }
    }

    fn fits(&self, message: Message, segment: Option<u16>) -> bool {
        self.count == 0
            || (self.segment == segment
                && self.count < SEND_BATCH
                && self.buffers + message.len <= MAX_BUFFERS)
    }
}

impl MediaSender {
    pub fn new(socket: Socket, segmentation: bool) -> Self {
        Self {
            socket,
            segmentation: AtomicBool::new(segmentation),
        }
    }

    /// Sends every transmit without ever blocking the shard: a datagram the kernel's full
    /// send buffer refuses is dropped (as the network would) and counted.
    pub fn send_all(&self, transmits: &[Transmit], stats: &SfuStats, scratch: &mut SendScratch) {
        let mut order = std::mem::take(&mut scratch.order);
        order.clear();
        for (i, t) in transmits.iter().enumerate() {
            match &t.tcp {
                Some(link) => {
                    if !link.send(&t.data) {
                        stats.add_send_dropped(1);
                    }
                }
                None => order.push((destination_key(t.to), i as u32)),
            }
        }
        // Grouped by address, each address's packets in the order they were made.
        order.sort_unstable();
        let segmentation = self.segmentation.load(Relaxed);
        let mut start = 0;
        let messages = std::iter::from_fn(|| {
            if start == order.len() {
                return None;
            }
            let message = if segmentation {
                next_run(transmits, &order, start)
            } else {
                Message { start, len: 1 }
            };
            start += message.len;
            Some(message)
        });
        self.send_messages(messages, transmits, &order, stats, scratch);
        scratch.order = order;
    }

    fn send_call(
        &self,
        transmits: &[Transmit],
        order: &[(u64, u32)],
        call: &Call,
        stats: &SfuStats,
        scratch: &mut SendScratch,
    ) {
        let messages = &call.messages[..call.count];
        let mut buffers = [IoSlice::new(&[]); MAX_BUFFERS];
        let mut addresses = [None::<SockaddrStorage>; SEND_BATCH];
        let mut used = 0;
        for (m, address) in messages.iter().zip(&mut addresses) {
            for &(_, i) in &order[m.start..m.start + m.len] {
                buffers[used] = IoSlice::new(&transmits[i as usize].data);
                used += 1;
            }
            *address = Some(SockaddrStorage::from(
                transmits[order[m.start].1 as usize].to,
            ));
        }
        let mut gathers: [&[IoSlice<'_>]; SEND_BATCH] = [&[]; SEND_BATCH];
        let mut at = 0;
        for (gather, m) in gathers.iter_mut().zip(messages) {
            *gather = &buffers[at..at + m.len];
            at += m.len;
        }
        let fd = self.socket.as_raw_fd();
        let mut from = 0;
        while from < messages.len() {
            let result = match call.segment {
                None => sendmmsg(
                    fd,
                    &mut scratch.plain,
                    gathers[from..messages.len()].iter(),
                    &addresses[from..messages.len()],
                    [],
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count()),
                Some(size) => sendmmsg(
                    fd,
                    &mut scratch.segmented,
                    gathers[from..messages.len()].iter(),
                    &addresses[from..messages.len()],
                    [ControlMessage::UdpGsoSegments(&size)],
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count()),
            };
            let sent = match result {
                Ok(sent) => {
                    if call.segment.is_some() {
                        let packets: usize =
                            messages[from..from + sent].iter().map(|m| m.len).sum();
                        stats.add_segmented(packets as u64);
                    }
                    sent
                }
                Err(nix::errno::Errno::EAGAIN) => {
                    // The first message found the send buffer full: it is dropped.
                    stats.add_send_dropped(messages[from].len as u64);
                    1
                }
                Err(e) if call.segment.is_some() && refuses_segmentation(e) => {
                    // This kernel or route does not take segmented datagrams (no checksum
                    // offload, a path MTU below the segment size): send these, and every
                    // later one, a packet at a time.
                    if self.segmentation.swap(false, Relaxed) {
                        tracing::warn!(error = %e, "UDP segmentation refused; sending packets one by one");
                    }
                    let singles = messages[from..].iter().flat_map(|m| {
                        (m.start..m.start + m.len).map(|start| Message { start, len: 1 })
                    });
                    self.send_messages(singles, transmits, order, stats, scratch);
                    return;
                }
                Err(e) => {
                    // ICMP errors from earlier sends surface here on Linux; not fatal.
                    tracing::debug!(error = %e, "media send failed");
                    1
                }
            };
            from += sent.max(1);
        }
    }

    /// Sends messages in as few calls as their segment sizes allow: a call's messages all
    /// share one (a run's first packet's size, or none for a single packet).
    fn send_messages(
        &self,
        messages: impl Iterator<Item = Message>,
        transmits: &[Transmit],
        order: &[(u64, u32)],
        stats: &SfuStats,
        scratch: &mut SendScratch,
    ) {
        let mut call = Call::new();
        for message in messages {
            let segment = (message.len > 1)
                .then(|| transmits[order[message.start].1 as usize].data.len() as u16);
            if !call.fits(message, segment) {
                self.send_call(transmits, order, &call, stats, scratch);
                call.count = 0;
                call.buffers = 0;
            }
            call.segment = segment;
            call.messages[call.count] = message;
            call.count += 1;
            call.buffers += message.len;
        }
        if call.count > 0 {
            self.send_call(transmits, order, &call, stats, scratch);
        }
    }
}

/// Errors with which the kernel turns down segmentation itself, rather than one datagram.
fn refuses_segmentation(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        e,
        Errno::EIO | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP
    )
}

/// The longest run from `start` that the kernel can cut back into the same packets: one
/// address, every packet the first one's size except a shorter last one.
fn next_run(transmits: &[Transmit], order: &[(u64, u32)], start: usize) -> Message {
    let first = &transmits[order[start].1 as usize];
    let size = first.data.len();
    let mut total = size;
    let mut len = 1;
    while len < MAX_SEGMENTS {
        let Some(&(_, i)) = order.get(start + len) else {
            break;
        };
        let next = &transmits[i as usize];
        let next_size = next.data.len();
        if next.to != first.to
            || next_size > size
            || next_size == 0
            || total + next_size > MAX_SEGMENTED_BYTES
        {
            break;
        }
        total += next_size;
        len += 1;
        if next_size < size {
            break;
        }
    }
    Message { start, len }
}

/// A sort key that keeps one address's packets together (a fold of the address for IPv6;
/// two addresses that share a key stay correct, as runs compare the addresses themselves).
fn destination_key(to: SocketAddr) -> u64 {
    let ip = match to {
        SocketAddr::V4(a) => u64::from(a.ip().to_bits()),
        SocketAddr::V6(a) => {
            let bits = a.ip().to_bits();
            (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17)
        }
    };
    (ip << 16) ^ u64::from(to.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn transmit(to: SocketAddr, tag: u8, index: u8, size: usize) -> Transmit {
        let mut data = BytesMut::zeroed(size);
        data[0] = tag;
        data[1] = index;
        Transmit {
            to,
            data,
            tcp: None,
        }
    }

    fn receive_all(socket: &UdpSocket) -> Vec<(u8, u8, usize)> {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = socket.recv(&mut buf) {
            got.push((buf[0], buf[1], n));
        }
        got
    }

    #[test]
    fn frames_to_each_address_arrive_whole_and_in_order() {
        // Loopback takes segmented datagrams: a's runs 4 + 3 and b's run of 3.
        assert_eq!(send_frames(true), 10, "packets sent segmented");
    }

    #[test]
    fn with_segmentation_off_every_packet_still_arrives() {
        assert_eq!(send_frames(false), 0, "packets sent segmented");
    }

    /// Sends two subscribers' interleaved frames, checks each gets its packets whole and in
    /// order, and returns how many went out segmented.
    fn send_frames(segmentation: bool) -> u64 {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind a");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind b");
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
        }
        let (to_a, to_b) = (a.local_addr().expect("a"), b.local_addr().expect("b"));
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .expect("socket");
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("addr").into())
            .expect("bind");
        let sender = MediaSender::new(socket, segmentation);
        // Interleaved as a fan-out makes them: two frames of equal packets with a shorter
        // last one, an audio packet between, and a packet larger than the frame's.
        let sizes_a = [1200, 1200, 1200, 700, 1200, 1200, 90, 1300];
        let sizes_b = [1100, 1100, 400, 90];
        let mut transmits = Vec::new();
        for i in 0..sizes_a.len().max(sizes_b.len()) {
            if let Some(&s) = sizes_a.get(i) {
                transmits.push(transmit(to_a, b'a', i as u8, s));
            }
            if let Some(&s) = sizes_b.get(i) {
                transmits.push(transmit(to_b, b'b', i as u8, s));
            }
        }
        let stats = SfuStats::default();
        sender.send_all(&transmits, &stats, &mut SendScratch::new());

        let expect = |tag: u8, sizes: &[usize]| -> Vec<(u8, u8, usize)> {
            sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| (tag, i as u8, s))
                .collect()
        };
        assert_eq!(receive_all(&a), expect(b'a', &sizes_a));
        assert_eq!(receive_all(&b), expect(b'b', &sizes_b));
        assert_eq!(stats.snapshot().send_dropped, 0);
        stats.snapshot().segmented
    }

    #[test]
    fn runs_stop_at_another_address_or_a_larger_packet() {
        let x: SocketAddr = "127.0.0.1:5000".parse().expect("x");
        let y: SocketAddr = "127.0.0.1:5001".parse().expect("y");
        let transmits = vec![
            transmit(x, 0, 0, 1000),
            transmit(x, 0, 1, 1000),
            transmit(x, 0, 2, 1001),
            transmit(y, 0, 3, 1000),
        ];
        let order: Vec<(u64, u32)> = (0..4).map(|i| (0, i)).collect();
        assert_eq!(next_run(&transmits, &order, 0).len, 2);
        assert_eq!(next_run(&transmits, &order, 2).len, 1);
        assert_eq!(next_run(&transmits, &order, 3).len, 1);
    }
}
