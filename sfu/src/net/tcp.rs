//! ICE-TCP on one port (RFC 6544 passive candidates, RFC 4571 framing), for clients whose
//! network lets no UDP through (some offices, hotels and hospital Wi-Fi). Each accepted
//! connection must open with a STUN binding request; its USERNAME names the participant,
//! exactly as on the UDP port, and from then on every frame goes to that participant's shard
//! as if it were a datagram. Replies go back through a bounded queue per connection, so a
//! stalled client cannot hold a shard up: when its queue is full, packets are dropped as a
//! congested network would drop them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::shard::driver::{Refused, ShardInbox};

use super::masked::Masked;
use super::{Datagram, Routes, stun};
use crate::stats::SfuStats;

/// A client must name itself (send its first binding request) this soon after connecting.
const FIRST_FRAME_WITHIN: Duration = Duration::from_secs(10);
/// A connection with nothing coming in for this long is closed (ICE consent checks alone
/// arrive every few seconds).
const IDLE_FOR: Duration = Duration::from_secs(30);
/// Packets waiting to be written to one connection; more are dropped.
const SEND_QUEUE: usize = 1024;
/// Connections open at once; more are refused at accept.
const MAX_CONNECTIONS: usize = 4096;

/// The send side of one ICE-TCP connection. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct TcpLink {
    queue: mpsc::Sender<Bytes>,
}

impl TcpLink {
    /// Queues one packet; `false` when the connection is congested or gone.
    pub fn send(&self, packet: &[u8]) -> bool {
        self.queue.try_send(Bytes::copy_from_slice(packet)).is_ok()
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Whether two handles write to the same connection.
    pub fn same_as(&self, other: &TcpLink) -> bool {
        self.queue.same_channel(&other.queue)
    }
}

/// Accepts connections until `stop` is set, on the current tokio runtime.
pub(crate) async fn run(
    listener: TcpListener,
    shards: Vec<ShardInbox>,
    routes: Routes,
    stats: Arc<SfuStats>,
    stop: Arc<AtomicBool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let shards = Arc::new(shards);
    while !stop.load(Ordering::Relaxed) {
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        let (stream, from) = match accepted {
            Err(_) => continue,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "ICE-TCP accept");
                continue;
            }
            Ok(Ok(accepted)) => accepted,
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            tracing::warn!(from = %Masked(from), "ICE-TCP connection refused: too many open");
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let (shards, routes, stats, stop, open) = (
            Arc::clone(&shards),
            routes.clone(),
            Arc::clone(&stats),
            Arc::clone(&stop),
            Arc::clone(&open),
        );
        stats.tcp_connections_changed(1);
        tokio::spawn(async move {
            serve(stream, from, &shards, &routes, &stats, &stop).await;
            open.fetch_sub(1, Ordering::Relaxed);
            stats.tcp_connections_changed(-1);
        });
    }
}

/// Why a connection ended, for the log.
#[derive(Debug)]
enum Closed {
    Eof,
    Idle,
    Unnamed,
    FirstFrameNotStun,
    UnknownUfrag,
    ShardGone,
    ReadFailed,
    Stopped,
}

async fn serve(
    stream: TcpStream,
    from: SocketAddr,
    shards: &[ShardInbox],
    routes: &Routes,
    stats: &SfuStats,
    stop: &AtomicBool,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (queue, mut outgoing) = mpsc::channel::<Bytes>(SEND_QUEUE);
    let link = TcpLink { queue };
    let write = tokio::spawn(async move {
        let mut framed = BytesMut::new();
        while let Some(packet) = outgoing.recv().await {
            framed.clear();
            push_frame(&mut framed, &packet);
            // Whatever else is queued goes out in the same write.
            while let Ok(more) = outgoing.try_recv() {
                push_frame(&mut framed, &more);
            }
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });

    let mut frames = FrameReader::default();
    let mut destination = None;
    let closed = loop {
        if stop.load(Ordering::Relaxed) {
            break Closed::Stopped;
        }
        let wait = if destination.is_none() {
            FIRST_FRAME_WITHIN
        } else {
            IDLE_FOR
        };
        let frame = match tokio::time::timeout(wait, frames.next(&mut reader)).await {
            Err(_) if destination.is_none() => break Closed::Unnamed,
            Err(_) => break Closed::Idle,
            Ok(Err(e)) => {
                tracing::debug!(from = %Masked(from), error = %e, "ICE-TCP read");
                break Closed::ReadFailed;
            }
            Ok(Ok(None)) => break Closed::Eof,
            Ok(Ok(Some(frame))) => frame,
        };
        let d = match destination {
            Some(d) => d,
            None => {
                let Some(ufrag) = stun::local_ufrag(&frame) else {
                    break Closed::FirstFrameNotStun;
                };
                match routes.tcp_destination(ufrag) {
                    Some(d) => *destination.insert(d),
                    None => break Closed::UnknownUfrag,
                }
            }
        };
        stats.add_tcp_frame();
        let datagram = Datagram {
            key: d.key,
            data: frame,
            from,
            at: Instant::now(),
            tcp: Some(link.clone()),
        };
        match shards[d.shard].try_send(datagram) {
            Ok(()) => stats.add_handed_over(1),
            Err(Refused::Full) => stats.add_receive_dropped(1),
            Err(Refused::Closed) => break Closed::ShardGone,
        }
    };
    tracing::debug!(from = %Masked(from), ?closed, "ICE-TCP connection closed");
    drop(link);
    write.abort();
}

fn push_frame(out: &mut BytesMut, packet: &[u8]) {
    // RFC 4571: a 16-bit length, then the packet. Nothing we send comes near 64 KiB.
    let len = u16::try_from(packet.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&packet[..usize::from(len)]);
}

/// Splits an RFC 4571 byte stream into packets.
#[derive(Default)]
struct FrameReader {
    buffer: BytesMut,
}

impl FrameReader {
    /// The next whole packet; `None` at a clean end of stream.
    async fn next<R: AsyncReadExt + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> std::io::Result<Option<BytesMut>> {
        loop {
            if let Some(frame) = self.take() {
                return Ok(Some(frame));
            }
            if self.buffer.capacity() - self.buffer.len() < 2048 {
                self.buffer.reserve(8192);
            }
            if reader.read_buf(&mut self.buffer).await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn take(&mut self) -> Option<BytesMut> {
        let header = self.buffer.get(..2)?;
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if self.buffer.len() < 2 + len {
            return None;
        }
        let mut frame = self.buffer.split_to(2 + len);
        Some(frame.split_off(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_survive_arbitrary_splits_of_the_stream() {
        let mut stream = BytesMut::new();
        push_frame(&mut stream, b"first");
        push_frame(&mut stream, b"");
        push_frame(&mut stream, &[7u8; 1500]);
        // Delivered one byte at a time, as a slow link might.
        let (mut client, mut server) = tokio::io::duplex(1);
        let bytes = stream.freeze();
        let feed = tokio::spawn(async move {
            client.write_all(&bytes).await.expect("write");
        });
        let mut frames = FrameReader::default();
        assert_eq!(
            &frames
                .next(&mut server)
                .await
                .expect("read")
                .expect("a frame")[..],
            b"first"
        );
        assert_eq!(
            frames
                .next(&mut server)
                .await
                .expect("read")
                .expect("a frame")
                .len(),
            0
        );
        assert_eq!(
            frames
                .next(&mut server)
                .await
                .expect("read")
                .expect("a frame")
                .len(),
            1500
        );
        feed.await.expect("feeder");
        assert!(frames.next(&mut server).await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_stream_cut_inside_a_frame_is_an_error() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 10, 1, 2, 3]).await.expect("write");
        drop(client);
        let mut frames = FrameReader::default();
        assert!(frames.next(&mut server).await.is_err());
    }
}
