//! UDP flows: one per client address, each with its own upstream socket toward the server,
//! its queues per direction, and the tasks that read, delay and send its datagrams.

use anyhow::{Context, Result, anyhow};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::link::{Counters, Direction, DropReason};
use super::{Control, FlowInfo, Packet, ProxyConfig, Shared, lock};

/// Largest datagram relayed; WebRTC keeps packets well under this.
pub(super) const MAX_DATAGRAM: usize = 2048;

/// One client address and its upstream socket.
#[derive(Debug)]
pub(super) struct Flow {
    pub(super) client: SocketAddr,
    /// Replaced on a rebind; datagrams toward the server always leave from the current one.
    pub(super) upstream: Mutex<Arc<UdpSocket>>,
    /// The task reading the server's replies on the current upstream socket.
    pub(super) reader: Mutex<Option<AbortHandle>>,
    pub(super) counters: [Counters; 2],
    /// Per direction: one FIFO, so a flow's datagrams are never reordered and a delayed flow
    /// never holds up another.
    pub(super) queues: [mpsc::Sender<Packet>; 2],
}

impl Flow {
    pub(super) fn upstream(&self) -> Arc<UdpSocket> {
        Arc::clone(&lock(&self.upstream))
    }

    pub(super) fn upstream_addr(&self) -> SocketAddr {
        self.upstream()
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

/// Receives from clients, creating a flow per client address; carries out rebinds.
pub(super) async fn run(
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    shared: Arc<Shared>,
    config: ProxyConfig,
    mut control: mpsc::Receiver<Control>,
) {
    let mut tasks = JoinSet::new();
    let queue = config.queue_packets.max(1);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (len, client) = match received {
                    Ok(r) => r,
                    Err(err) => {
                        // ICMP errors from a vanished client surface here on some systems;
                        // they concern one datagram, not the proxy.
                        tracing::debug!("impairment proxy: receive failed: {err}");
                        continue;
                    }
                };
                let flow = match shared.flow(client) {
                    Some(flow) => flow,
                    None => {
                        if lock(&shared.flows).len() >= config.max_flows {
                            shared.count_drop(None, Direction::ToServer, DropReason::Queue);
                            continue;
                        }
                        match open_flow(&mut tasks, &socket, target, client, &shared, queue).await {
                            Ok(flow) => flow,
                            Err(err) => {
                                tracing::warn!("impairment proxy: no upstream socket for {client}: {err:#}");
                                continue;
                            }
                        }
                    }
                };
                shared.offer(&flow, Direction::ToServer, &buf[..len]);
            }
            Some(request) = control.recv() => {
                match request {
                    Control::Rebind { client, reply } => {
                        let result = rebind(&mut tasks, target, client, &shared).await;
                        let _ = reply.send(result);
                    }
                }
                // Aborted readers of replaced sockets end here.
                while tasks.try_join_next().is_some() {}
            }
        }
    }
}

/// A connected socket toward the server on a fresh port.
async fn upstream_socket(target: SocketAddr) -> Result<Arc<UdpSocket>> {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(bind).await.context("binding")?;
    // Connected, so only the server's datagrams come back on it.
    socket.connect(target).await.context("connecting")?;
    Ok(Arc::new(socket))
}

async fn open_flow(
    tasks: &mut JoinSet<()>,
    listen: &Arc<UdpSocket>,
    target: SocketAddr,
    client: SocketAddr,
    shared: &Arc<Shared>,
    queue: usize,
) -> Result<Arc<Flow>> {
    let upstream = upstream_socket(target).await?;
    let (to_server, to_server_rx) = mpsc::channel(queue);
    let (to_client, to_client_rx) = mpsc::channel(queue);
    let flow = Arc::new(Flow {
        client,
        upstream: Mutex::new(Arc::clone(&upstream)),
        reader: Mutex::new(None),
        counters: Default::default(),
        queues: [to_server, to_client],
    });
    let reader = tasks.spawn(read_replies(
        upstream,
        Arc::clone(&flow),
        Arc::clone(shared),
    ));
    *lock(&flow.reader) = Some(reader);
    tasks.spawn(deliver(
        to_server_rx,
        Arc::clone(&flow),
        Arc::clone(shared),
        Direction::ToServer,
        Arc::clone(listen),
    ));
    tasks.spawn(deliver(
        to_client_rx,
        Arc::clone(&flow),
        Arc::clone(shared),
        Direction::ToClient,
        Arc::clone(listen),
    ));
    lock(&shared.flows).insert(client, Arc::clone(&flow));
    Ok(flow)
}

/// Gives `client`'s flow (or every flow) a new upstream socket and closes the old one.
async fn rebind(
    tasks: &mut JoinSet<()>,
    target: SocketAddr,
    client: Option<SocketAddr>,
    shared: &Arc<Shared>,
) -> Result<Vec<FlowInfo>> {
    let flows: Vec<Arc<Flow>> = match client {
        Some(client) => vec![
            shared
                .flow(client)
                .ok_or_else(|| anyhow!("no flow from {client} to rebind"))?,
        ],
        None => lock(&shared.flows).values().cloned().collect(),
    };
    let mut infos = Vec::with_capacity(flows.len());
    for flow in flows {
        let upstream = upstream_socket(target).await?;
        *lock(&flow.upstream) = Arc::clone(&upstream);
        let reader = tasks.spawn(read_replies(
            upstream,
            Arc::clone(&flow),
            Arc::clone(shared),
        ));
        if let Some(old) = lock(&flow.reader).replace(reader) {
            // The old reader holds the old socket's last reference: it closes with it.
            old.abort();
        }
        infos.push(shared.info(&flow));
    }
    Ok(infos)
}

/// Relays the server's datagrams arriving on one upstream socket back to the flow's client.
async fn read_replies(upstream: Arc<UdpSocket>, flow: Arc<Flow>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let len = match upstream.recv(&mut buf).await {
            Ok(len) => len,
            Err(err) => {
                tracing::debug!("impairment proxy: upstream receive failed: {err}");
                continue;
            }
        };
        shared.offer(&flow, Direction::ToClient, &buf[..len]);
    }
}

/// Sends each datagram of one flow and direction when its time comes. Release times never go
/// backwards within a flow except right after its delay is lowered, when newer datagrams wait
/// for older ones, as they would behind a real queue.
async fn deliver(
    mut queue: mpsc::Receiver<Packet>,
    flow: Arc<Flow>,
    shared: Arc<Shared>,
    direction: Direction,
    listen: Arc<UdpSocket>,
) {
    while let Some(packet) = queue.recv().await {
        if packet.at > Instant::now() {
            tokio::time::sleep_until(packet.at).await;
        }
        // A cut also takes what was still in flight.
        if shared.udp_cut(flow.client) {
            shared.count_drop(Some(&flow), direction, DropReason::Cut);
            continue;
        }
        let sent = match direction {
            Direction::ToServer => flow.upstream().send(&packet.data).await,
            Direction::ToClient => listen.send_to(&packet.data, flow.client).await,
        };
        match sent {
            Ok(_) => {
                shared.totals[direction.index()].pass(packet.data.len());
                flow.counters[direction.index()].pass(packet.data.len());
            }
            Err(err) => tracing::debug!(
                "impairment proxy: sending {direction:?} for {} failed: {err}",
                flow.client
            ),
        }
    }
}
