//! The TCP relay: each connection relayed to the server with the delay and rate cap of the
//! UDP conditions (loss does not apply; TCP would only retransmit), stalled while cut.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::link::Direction;
use super::{Packet, Shared};

/// TCP is relayed in pieces no larger than this, so a rate cap paces a stream smoothly.
const TCP_CHUNK: usize = 4096;
/// How often a stalled TCP stream looks whether its cut is over.
const CUT_POLL: Duration = Duration::from_millis(10);

/// Accepts TCP connections and relays each to `target`.
pub(super) async fn accept_tcp(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::debug!("impairment proxy: TCP accept failed: {err}");
                tokio::time::sleep(CUT_POLL).await;
                continue;
            }
        };
        shared.tcp_connections.fetch_add(1, Ordering::Relaxed);
        connections.spawn(relay_tcp_connection(
            client,
            peer,
            target,
            Arc::clone(&shared),
        ));
        while connections.try_join_next().is_some() {}
    }
}

async fn relay_tcp_connection(
    client: TcpStream,
    peer: SocketAddr,
    target: SocketAddr,
    shared: Arc<Shared>,
) {
    let server = match TcpStream::connect(target).await {
        Ok(s) => s,
        Err(err) => {
            tracing::debug!("impairment proxy: TCP connect to {target} failed: {err}");
            return;
        }
    };
    // Small writes (WebSocket frames, ICE-TCP packets) must not wait for Nagle on top of the
    // delay the test asked for.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        tcp_pump(
            client_read,
            server_write,
            peer,
            Direction::ToServer,
            Arc::clone(&shared)
        ),
        tcp_pump(server_read, client_write, peer, Direction::ToClient, shared),
    );
}

/// One direction of a TCP connection: a reader paced by the rate cap hands chunks to a
/// writer that releases each after the delay, so the delay is pipelined rather than added
/// per chunk.
async fn tcp_pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    peer: SocketAddr,
    direction: Direction,
    shared: Arc<Shared>,
) {
    let (chunks, mut pending) = mpsc::channel::<Packet>(1024);
    let reader_shared = Arc::clone(&shared);
    let reader = async move {
        let shared = reader_shared;
        let mut buf = vec![0u8; TCP_CHUNK];
        let mut busy_until = Instant::now();
        loop {
            let len = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(len) => len,
            };
            let conditions = shared.tcp_conditions(peer, direction);
            let now = Instant::now();
            let leaves = match conditions.serialise(len, now, busy_until) {
                Some(busy) => {
                    busy_until = busy;
                    busy
                }
                None => now,
            };
            let chunk = Packet {
                at: leaves + conditions.delay,
                data: buf[..len].to_vec(),
            };
            if chunks.send(chunk).await.is_err() {
                break;
            }
            // A bottleneck takes the next bytes only once it has sent these: the sender
            // feels the cap as back-pressure instead of an ever-growing buffer here.
            if busy_until > Instant::now() {
                tokio::time::sleep_until(busy_until).await;
            }
        }
    };
    let writer = async move {
        while let Some(chunk) = pending.recv().await {
            if chunk.at > Instant::now() {
                tokio::time::sleep_until(chunk.at).await;
            }
            while shared.tcp_cut(peer) {
                tokio::time::sleep(CUT_POLL).await;
            }
            // Counted before the write: whoever has read these bytes at the far end must
            // also see them counted, and the write can complete there before it returns here.
            shared.tcp_bytes[direction.index()]
                .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
            if to.write_all(&chunk.data).await.is_err() {
                return;
            }
        }
        // The other side closed its sending half: pass that on once everything is through.
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
