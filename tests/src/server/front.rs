//! The one address in front of a cluster's nodes, as a deployment's load balancer is (Caddy,
//! nginx, a Kubernetes Service): each TCP connection goes to the next node in turn, WebSocket
//! upgrades counted apart from other requests so that the participants of one session land
//! on both nodes. Invite links name it (`http.public_url`), as they name the balancer.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long the first bytes of a request may take to decide where it goes.
const PEEK_WITHIN: Duration = Duration::from_secs(2);
/// How long reaching a node may take before the next one is tried.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// See the module docs. Stops accepting when dropped; connections already passed on end
/// when either side closes.
#[derive(Debug)]
pub(super) struct Front {
    addr: SocketAddr,
    accepting: JoinHandle<()>,
}

/// A bound listener whose address the nodes are told before they start.
pub(super) struct Bound(TcpListener, SocketAddr);

impl Bound {
    pub(super) async fn new() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the cluster's front address")?;
        let addr = listener.local_addr()?;
        Ok(Self(listener, addr))
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.1
    }

    /// Starts passing connections on to `nodes`.
    pub(super) fn serve(self, nodes: Vec<SocketAddr>) -> Front {
        let Self(listener, addr) = self;
        let nodes: Arc<[SocketAddr]> = nodes.into();
        let turns = Arc::new(Turns::default());
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let nodes = nodes.clone();
                let turns = turns.clone();
                tokio::spawn(async move {
                    let _ = pass_on(client, &nodes, &turns).await;
                });
            }
        });
        Front { addr, accepting }
    }
}

impl Front {
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

#[derive(Default)]
struct Turns {
    sockets: AtomicUsize,
    requests: AtomicUsize,
}

/// Sends `client` to the next node in turn (the one after, if that one does not answer).
async fn pass_on(mut client: TcpStream, nodes: &[SocketAddr], turns: &Turns) -> Result<()> {
    let mut head = [0u8; 7];
    let seen = match tokio::time::timeout(PEEK_WITHIN, client.peek(&mut head)).await {
        Ok(seen) => seen?,
        Err(_) => 0,
    };
    let counter = if head[..seen] == *b"GET /ws" {
        &turns.sockets
    } else {
        &turns.requests
    };
    let first = counter.fetch_add(1, Ordering::Relaxed);
    for attempt in 0..nodes.len() {
        let node = nodes[(first + attempt) % nodes.len()];
        let Ok(Ok(mut upstream)) =
            tokio::time::timeout(CONNECT_WITHIN, TcpStream::connect(node)).await
        else {
            continue;
        };
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    anyhow::bail!("no node answered")
}
