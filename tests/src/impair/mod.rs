//! A userspace UDP impairment proxy: random loss, a fixed delay and an optional rate cap
//! between WebRTC clients and the server's media port, plus an optional TCP relay with the
//! same delay and rate cap.
//!
//! Why userspace: the kernels these tests run on have no `netem` qdisc, so loss and delay
//! cannot come from `tc`. The proxy sits where the server says it is: start the server with
//! `ACCORD_MEDIA_ANNOUNCE=<proxy ip>` so its only ICE candidate is `<proxy ip>:<media port>`,
//! and bind the proxy there with the real media address as the target. Clients then send
//! every datagram (STUN, DTLS, SRTP, SRTCP) through it without knowing.
//!
//! Each client source address is a *flow* with its own upstream socket, so the server sees
//! one distinct address per client (as with real NATs) and its replies come back on that
//! socket, which tells the proxy which client they belong to.
//!
//! Both directions have default conditions ([`LinkConditions`]) that all flows share, like
//! clients behind one bottleneck. A flow may get conditions of its own
//! ([`ImpairHandle::set_flow`]): one phone on a bad network while the others are fine. A flow
//! (or every flow) can be cut ([`ImpairHandle::cut`]) and restored, optionally on a new
//! upstream socket so that the server sees the client come back from another port, as after a
//! NAT rebinding or a move to another network. Counters say what the proxy did, in total and
//! per flow, so a test can prove the impairment was real. Dropping the [`ImpairProxy`] stops
//! every task and closes every socket.
//!
//! The `accord-impair` binary drives all of this from JSON lines on stdin, for browser tests.

mod handle;
mod link;
mod tcp;
mod udp;

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use handle::ImpairHandle;
use link::{Counters, DropReason, LinkState};
pub use link::{Direction, LinkConditions, LinkCounters};
use udp::Flow;

/// One client flow as the proxy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowInfo {
    /// The client's source address (what it sends from, as seen by the proxy).
    pub client: SocketAddr,
    /// The proxy's local address for this flow toward the server: what the server sees.
    pub upstream: SocketAddr,
    /// Whether the flow is cut, by itself or with every flow.
    pub cut: bool,
    /// Conditions of the flow's own, if any, per direction (client to server first).
    pub own_conditions: [Option<LinkConditions>; 2],
    /// What the flow's datagrams met toward the server.
    pub to_server: LinkCounters,
    /// What the flow's datagrams met toward the client.
    pub to_client: LinkCounters,
}

/// What the TCP relay has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes relayed from clients to the server.
    pub bytes_to_server: u64,
    /// Bytes relayed from the server to clients.
    pub bytes_to_client: u64,
}

/// Proxy settings; [`ProxyConfig::default`] relays perfectly.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Conditions from clients to the server.
    pub to_server: LinkConditions,
    /// Conditions from the server to clients.
    pub to_client: LinkConditions,
    /// Datagrams that may be in flight (delayed or queued) per flow and direction; more are
    /// dropped.
    pub queue_packets: usize,
    /// Distinct client addresses served; datagrams from further ones are dropped.
    pub max_flows: usize,
    /// Seed for the loss decisions, for reproducible drop patterns; `None` seeds randomly.
    pub seed: Option<u64>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            to_server: LinkConditions::default(),
            to_client: LinkConditions::default(),
            queue_packets: 4096,
            max_flows: 256,
            seed: None,
        }
    }
}

impl ProxyConfig {
    /// The same conditions in both directions.
    pub fn symmetric(conditions: LinkConditions) -> Self {
        Self {
            to_server: conditions,
            to_client: conditions,
            ..Self::default()
        }
    }
}

/// What applies to one client address rather than to everyone. Kept apart from the flows so
/// that rules can be set before the client's first datagram, and for TCP peers too.
#[derive(Debug, Default)]
struct ClientRules {
    links: [Option<LinkState>; 2],
    cut: bool,
}

/// A datagram waiting for its time on one flow and direction.
struct Packet {
    at: Instant,
    data: Vec<u8>,
}

/// What the proxy's tasks and every [`ImpairHandle`] share.
#[derive(Debug)]
struct Shared {
    defaults: [Mutex<LinkState>; 2],
    totals: [Counters; 2],
    rules: Mutex<HashMap<SocketAddr, ClientRules>>,
    cut_all_udp: AtomicBool,
    cut_all_tcp: AtomicBool,
    flows: Mutex<HashMap<SocketAddr, Arc<Flow>>>,
    tcp_connections: AtomicU64,
    tcp_bytes: [AtomicU64; 2],
    seed: u64,
}

/// A poisoned lock only means a panicking test thread; what it guards is still valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn rule_seed(&self, client: SocketAddr, direction: Direction) -> u64 {
        let port = u64::from(client.port());
        self.seed ^ (port << 8) ^ direction.index() as u64 ^ 0x9e37_79b9_7f4a_7c15
    }

    fn udp_cut(&self, client: SocketAddr) -> bool {
        self.cut_all_udp.load(Ordering::Relaxed)
            || lock(&self.rules).get(&client).is_some_and(|r| r.cut)
    }

    fn tcp_cut(&self, peer: SocketAddr) -> bool {
        self.cut_all_tcp.load(Ordering::Relaxed)
            || lock(&self.rules).get(&peer).is_some_and(|r| r.cut)
    }

    /// Loss, rate cap and cut for one datagram of `client`'s flow.
    fn admit(
        &self,
        client: SocketAddr,
        direction: Direction,
        len: usize,
        now: Instant,
    ) -> Result<Instant, DropReason> {
        let mut rules = lock(&self.rules);
        let own = rules.get_mut(&client);
        if self.cut_all_udp.load(Ordering::Relaxed) || own.as_ref().is_some_and(|r| r.cut) {
            return Err(DropReason::Cut);
        }
        match own.and_then(|r| r.links[direction.index()].as_mut()) {
            Some(link) => link.admit(len, now),
            None => {
                drop(rules);
                lock(&self.defaults[direction.index()]).admit(len, now)
            }
        }
    }

    /// Conditions a TCP peer's stream meets in one direction.
    fn tcp_conditions(&self, peer: SocketAddr, direction: Direction) -> LinkConditions {
        let rules = lock(&self.rules);
        match rules
            .get(&peer)
            .and_then(|r| r.links[direction.index()].as_ref())
        {
            Some(link) => link.conditions,
            None => {
                drop(rules);
                lock(&self.defaults[direction.index()]).conditions
            }
        }
    }

    fn count_drop(&self, flow: Option<&Flow>, direction: Direction, why: DropReason) {
        self.totals[direction.index()].drop(why);
        if let Some(flow) = flow {
            flow.counters[direction.index()].drop(why);
        }
    }

    /// Applies loss, cut and the rate cap, then queues the datagram on its flow.
    fn offer(&self, flow: &Flow, direction: Direction, data: &[u8]) {
        let at = match self.admit(flow.client, direction, data.len(), Instant::now()) {
            Ok(at) => at,
            Err(why) => return self.count_drop(Some(flow), direction, why),
        };
        let packet = Packet {
            at,
            data: data.to_vec(),
        };
        if flow.queues[direction.index()].try_send(packet).is_err() {
            self.count_drop(Some(flow), direction, DropReason::Queue);
        }
    }

    fn flow(&self, client: SocketAddr) -> Option<Arc<Flow>> {
        lock(&self.flows).get(&client).cloned()
    }

    fn info(&self, flow: &Flow) -> FlowInfo {
        let rules = lock(&self.rules);
        let own = rules.get(&flow.client);
        let own_conditions = [0, 1].map(|i| {
            own.and_then(|r| r.links[i].as_ref())
                .map(|link| link.conditions)
        });
        let cut = self.cut_all_udp.load(Ordering::Relaxed) || own.is_some_and(|r| r.cut);
        drop(rules);
        FlowInfo {
            client: flow.client,
            upstream: flow.upstream_addr(),
            cut,
            own_conditions,
            to_server: flow.counters[0].snapshot(),
            to_client: flow.counters[1].snapshot(),
        }
    }
}

/// Requests only the proxy's main task can carry out, because it owns every task.
enum Control {
    Rebind {
        client: Option<SocketAddr>,
        reply: oneshot::Sender<Result<Vec<FlowInfo>>>,
    },
}

/// A running proxy; see the module docs. Stops when dropped.
#[derive(Debug)]
pub struct ImpairProxy {
    listen: SocketAddr,
    target: SocketAddr,
    handle: ImpairHandle,
    task: JoinHandle<()>,
    tcp_tasks: Vec<JoinHandle<()>>,
}

impl ImpairProxy {
    /// Binds `listen` and relays to `target` under `config`.
    pub async fn start(
        listen: SocketAddr,
        target: SocketAddr,
        config: ProxyConfig,
    ) -> Result<Self> {
        let socket = UdpSocket::bind(listen)
            .await
            .with_context(|| format!("binding the impairment proxy on {listen}"))?;
        let listen = socket.local_addr().context("reading the proxy's address")?;
        let seed = config.seed.unwrap_or_else(rand::random);
        let shared = Arc::new(Shared {
            defaults: [
                Mutex::new(LinkState::new(config.to_server, seed)),
                Mutex::new(LinkState::new(config.to_client, seed ^ 0x5eed)),
            ],
            totals: Default::default(),
            rules: Mutex::default(),
            cut_all_udp: AtomicBool::new(false),
            cut_all_tcp: AtomicBool::new(false),
            flows: Mutex::default(),
            tcp_connections: AtomicU64::new(0),
            tcp_bytes: Default::default(),
            seed,
        });
        let (control, control_rx) = mpsc::channel(16);
        let handle = ImpairHandle {
            shared: Arc::clone(&shared),
            control,
        };
        let task = tokio::spawn(udp::run(
            Arc::new(socket),
            target,
            shared,
            config,
            control_rx,
        ));
        Ok(Self {
            listen,
            target,
            handle,
            task,
            tcp_tasks: Vec::new(),
        })
    }

    /// Also relays TCP from `listen` to `target`, each direction of each connection delayed
    /// and rate-capped as the UDP default conditions (or the connecting address's own) say.
    /// Loss does not apply: TCP would only retransmit. Returns the bound address.
    pub async fn relay_tcp(
        &mut self,
        listen: SocketAddr,
        target: SocketAddr,
    ) -> Result<SocketAddr> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the TCP relay on {listen}"))?;
        let bound = listener
            .local_addr()
            .context("reading the TCP relay's address")?;
        let shared = Arc::clone(&self.handle.shared);
        self.tcp_tasks
            .push(tokio::spawn(tcp::accept_tcp(listener, target, shared)));
        Ok(bound)
    }

    /// Where clients send (the address the server announces).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Where the proxy relays to (the server's real media address).
    pub fn target_addr(&self) -> SocketAddr {
        self.target
    }

    /// A handle to change conditions and read counters.
    pub fn handle(&self) -> ImpairHandle {
        self.handle.clone()
    }

    /// What one direction has done so far.
    pub fn counters(&self, direction: Direction) -> LinkCounters {
        self.handle.counters(direction)
    }
}

impl Drop for ImpairProxy {
    fn drop(&mut self) {
        // The main task owns every flow's tasks in a `JoinSet`, the accept loops own their
        // connections': aborting them drops those. The flows themselves are also listed in
        // the shared state, which a handle may outlive the proxy with: forget them, so their
        // sockets close now.
        self.task.abort();
        for task in &self.tcp_tasks {
            task.abort();
        }
        lock(&self.handle.shared.flows).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::udp::MAX_DATAGRAM;
    use super::*;
    use std::time::Duration;

    async fn echo_server() -> Result<(SocketAddr, JoinHandle<()>)> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let task = tokio::spawn(async move {
            let mut buf = [0u8; MAX_DATAGRAM];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(&buf[..len], from).await;
            }
        });
        Ok((addr, task))
    }

    #[tokio::test]
    async fn relays_both_ways_and_counts() -> Result<()> {
        let (server, echo) = echo_server().await?;
        let proxy =
            ImpairProxy::start("127.0.0.1:0".parse()?, server, ProxyConfig::default()).await?;
        let client = UdpSocket::bind("127.0.0.1:0").await?;
        client.connect(proxy.listen_addr()).await?;
        let mut buf = [0u8; 64];
        for i in 0..20u8 {
            client.send(&[i; 10]).await?;
            let len = tokio::time::timeout(Duration::from_secs(2), client.recv(&mut buf))
                .await
                .context("no echo through the proxy")??;
            assert_eq!(&buf[..len], &[i; 10]);
        }
        let up = proxy.counters(Direction::ToServer);
        let down = proxy.counters(Direction::ToClient);
        assert_eq!((up.passed, down.passed), (20, 20));
        assert_eq!(up.bytes_passed, 200);
        let flows = proxy.handle().flows();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].client, client.local_addr()?);
        assert_eq!(flows[0].to_client.passed, 20);
        echo.abort();
        Ok(())
    }

    #[tokio::test]
    async fn loss_delay_and_rate_cap_apply() -> Result<()> {
        let (server, echo) = echo_server().await?;
        let config = ProxyConfig {
            seed: Some(7),
            ..ProxyConfig::default()
        };
        let proxy = ImpairProxy::start("127.0.0.1:0".parse()?, server, config).await?;
        let handle = proxy.handle();
        let client = UdpSocket::bind("127.0.0.1:0").await?;
        client.connect(proxy.listen_addr()).await?;

        // Total loss toward the server: nothing comes back, everything is counted.
        handle.set(Direction::ToServer, LinkConditions::lossy(1.0));
        for _ in 0..10 {
            client.send(b"x").await?;
        }
        let mut buf = [0u8; 64];
        let got = tokio::time::timeout(Duration::from_millis(200), client.recv(&mut buf)).await;
        assert!(got.is_err(), "a datagram passed a link with 100% loss");
        assert_eq!(proxy.counters(Direction::ToServer).dropped_loss, 10);

        // A delay is added once per direction.
        handle.set(
            Direction::ToServer,
            LinkConditions::default().with_delay(Duration::from_millis(60)),
        );
        let sent = Instant::now();
        client.send(b"y").await?;
        tokio::time::timeout(Duration::from_secs(2), client.recv(&mut buf)).await??;
        assert!(sent.elapsed() >= Duration::from_millis(60));

        // 80 kbit/s with a 100 ms queue holds about 1000 bytes: most of a burst of
        // 20 × 500 bytes is dropped, and what passes is spread out.
        handle.set(
            Direction::ToServer,
            LinkConditions {
                max_queue_delay: Duration::from_millis(100),
                ..LinkConditions::default().with_rate(80_000)
            },
        );
        for _ in 0..20 {
            client.send(&[0u8; 500]).await?;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        let up = proxy.counters(Direction::ToServer);
        assert!(up.dropped_queue >= 15, "{up:?}");
        drop(proxy);
        echo.abort();
        Ok(())
    }
}
