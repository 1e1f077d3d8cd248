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

use anyhow::{Context, Result, anyhow, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

/// Largest datagram relayed; WebRTC keeps packets well under this.
const MAX_DATAGRAM: usize = 2048;
/// TCP is relayed in pieces no larger than this, so a rate cap paces a stream smoothly.
const TCP_CHUNK: usize = 4096;
/// How often a stalled TCP stream looks whether its cut is over.
const CUT_POLL: Duration = Duration::from_millis(10);

/// Which way a datagram travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a client to the server.
    ToServer,
    /// From the server to a client.
    ToClient,
}

impl Direction {
    /// Both directions, client to server first.
    pub const BOTH: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

    fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// How one direction of the proxy treats datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConditions {
    /// Probability (0.0–1.0) that a datagram is dropped, independently of the others.
    pub loss: f64,
    /// Added to every datagram that passes (one way).
    pub delay: Duration,
    /// Bottleneck rate in bits per second; `None` for unlimited. Datagrams queue behind each
    /// other at this rate, and are dropped once the queue holds more than `max_queue_delay`.
    pub rate_bps: Option<u64>,
    /// Longest a datagram may wait for the rate cap before it is dropped (a bounded buffer,
    /// as in a real router, rather than latency growing without end).
    pub max_queue_delay: Duration,
}

impl Default for LinkConditions {
    /// A perfect link: no loss, no delay, no cap.
    fn default() -> Self {
        Self {
            loss: 0.0,
            delay: Duration::ZERO,
            rate_bps: None,
            max_queue_delay: Duration::from_millis(500),
        }
    }
}

impl LinkConditions {
    /// A link that drops each datagram with probability `loss`.
    pub fn lossy(loss: f64) -> Self {
        Self {
            loss,
            ..Self::default()
        }
    }

    /// The same link with a one-way delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same link with a rate cap in bits per second.
    pub fn with_rate(mut self, bits_per_second: u64) -> Self {
        self.rate_bps = Some(bits_per_second);
        self
    }

    /// When the last of `len` bytes entering now leaves a bottleneck busy until `busy_until`,
    /// and the new busy time; `None` for an unlimited link.
    fn serialise(&self, len: usize, now: Instant, busy_until: Instant) -> Option<Instant> {
        let rate = self.rate_bps.filter(|r| *r > 0)?;
        let bits = len as u64 * 8;
        let transmit = Duration::from_nanos(bits.saturating_mul(1_000_000_000) / rate);
        Some(busy_until.max(now) + transmit)
    }
}

/// What one direction of the proxy (or of one flow) has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Datagrams relayed.
    pub passed: u64,
    /// Bytes relayed (UDP payload).
    pub bytes_passed: u64,
    /// Datagrams dropped by the random loss.
    pub dropped_loss: u64,
    /// Datagrams dropped because the queue was full (rate cap or too many in flight).
    pub dropped_queue: u64,
    /// Datagrams dropped because their flow was cut.
    pub dropped_cut: u64,
}

impl LinkCounters {
    /// Every datagram that entered the link.
    pub fn offered(&self) -> u64 {
        self.passed + self.dropped()
    }

    /// Datagrams dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_queue + self.dropped_cut
    }

    /// What happened between `earlier` (a snapshot of the same link) and `self`.
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            passed: self.passed.saturating_sub(earlier.passed),
            bytes_passed: self.bytes_passed.saturating_sub(earlier.bytes_passed),
            dropped_loss: self.dropped_loss.saturating_sub(earlier.dropped_loss),
            dropped_queue: self.dropped_queue.saturating_sub(earlier.dropped_queue),
            dropped_cut: self.dropped_cut.saturating_sub(earlier.dropped_cut),
        }
    }

    /// Share of offered datagrams dropped for any reason (0.0 when nothing was offered).
    pub fn drop_rate(&self) -> f64 {
        self.dropped() as f64 / self.offered().max(1) as f64
    }
}

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

/// Conditions plus the state a rate cap and random loss need: one bottleneck.
#[derive(Debug)]
struct LinkState {
    conditions: LinkConditions,
    /// When the bottleneck finishes sending what is queued (rate cap only).
    busy_until: Instant,
    rng: StdRng,
}

/// Why a datagram did not pass.
#[derive(Debug, Clone, Copy)]
enum DropReason {
    Loss,
    Queue,
    Cut,
}

impl LinkState {
    fn new(conditions: LinkConditions, seed: u64) -> Self {
        Self {
            conditions,
            busy_until: Instant::now(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Decides a datagram's fate: when it leaves the link, or why it is dropped.
    fn admit(&mut self, len: usize, now: Instant) -> Result<Instant, DropReason> {
        let conditions = self.conditions;
        if conditions.loss > 0.0 && self.rng.random::<f64>() < conditions.loss {
            return Err(DropReason::Loss);
        }
        let mut leaves = now;
        if let Some(busy) = conditions.serialise(len, now, self.busy_until) {
            if self.busy_until.saturating_duration_since(now) > conditions.max_queue_delay {
                return Err(DropReason::Queue);
            }
            self.busy_until = busy;
            leaves = busy;
        }
        Ok(leaves + conditions.delay)
    }
}

/// Atomic counters behind a [`LinkCounters`] snapshot.
#[derive(Debug, Default)]
struct Counters {
    passed: AtomicU64,
    bytes_passed: AtomicU64,
    dropped_loss: AtomicU64,
    dropped_queue: AtomicU64,
    dropped_cut: AtomicU64,
}

impl Counters {
    fn pass(&self, len: usize) {
        self.passed.fetch_add(1, Ordering::Relaxed);
        self.bytes_passed.fetch_add(len as u64, Ordering::Relaxed);
    }

    fn drop(&self, why: DropReason) {
        let counter = match why {
            DropReason::Loss => &self.dropped_loss,
            DropReason::Queue => &self.dropped_queue,
            DropReason::Cut => &self.dropped_cut,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LinkCounters {
        LinkCounters {
            passed: self.passed.load(Ordering::Relaxed),
            bytes_passed: self.bytes_passed.load(Ordering::Relaxed),
            dropped_loss: self.dropped_loss.load(Ordering::Relaxed),
            dropped_queue: self.dropped_queue.load(Ordering::Relaxed),
            dropped_cut: self.dropped_cut.load(Ordering::Relaxed),
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

/// One client address and its upstream socket.
#[derive(Debug)]
struct Flow {
    client: SocketAddr,
    /// Replaced on a rebind; datagrams toward the server always leave from the current one.
    upstream: Mutex<Arc<UdpSocket>>,
    /// The task reading the server's replies on the current upstream socket.
    reader: Mutex<Option<AbortHandle>>,
    counters: [Counters; 2],
    /// Per direction: one FIFO, so a flow's datagrams are never reordered and a delayed flow
    /// never holds up another.
    queues: [mpsc::Sender<Packet>; 2],
}

impl Flow {
    fn upstream(&self) -> Arc<UdpSocket> {
        Arc::clone(&lock(&self.upstream))
    }

    fn upstream_addr(&self) -> SocketAddr {
        self.upstream()
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
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

/// Changes conditions, cuts flows and reads counters of a running [`ImpairProxy`]. Cheap to
/// clone; it does not keep the proxy running.
#[derive(Debug, Clone)]
pub struct ImpairHandle {
    shared: Arc<Shared>,
    control: mpsc::Sender<Control>,
}

impl ImpairHandle {
    /// Replaces the default conditions of one direction; applies to the next datagram of
    /// every flow without conditions of its own.
    pub fn set(&self, direction: Direction, conditions: LinkConditions) {
        lock(&self.shared.defaults[direction.index()]).conditions = conditions;
    }

    /// Replaces the default conditions of both directions.
    pub fn set_both(&self, conditions: LinkConditions) {
        self.set(Direction::ToServer, conditions);
        self.set(Direction::ToClient, conditions);
    }

    /// The current default conditions of one direction.
    pub fn conditions(&self, direction: Direction) -> LinkConditions {
        lock(&self.shared.defaults[direction.index()]).conditions
    }

    /// What one direction has done so far, over every flow.
    pub fn counters(&self, direction: Direction) -> LinkCounters {
        self.shared.totals[direction.index()].snapshot()
    }

    /// Gives `client`'s flow conditions of its own in one direction, with a bottleneck of its
    /// own (its rate cap is not shared with anyone). The flow need not exist yet. Also applies
    /// to a TCP connection from that address (delay and rate only).
    pub fn set_flow(&self, client: SocketAddr, direction: Direction, conditions: LinkConditions) {
        let seed = self.shared.rule_seed(client, direction);
        let mut rules = lock(&self.shared.rules);
        let slot = &mut rules.entry(client).or_default().links[direction.index()];
        match slot {
            Some(link) => link.conditions = conditions,
            None => *slot = Some(LinkState::new(conditions, seed)),
        }
    }

    /// `client`'s own conditions in one direction, if it has any.
    pub fn flow_conditions(
        &self,
        client: SocketAddr,
        direction: Direction,
    ) -> Option<LinkConditions> {
        lock(&self.shared.rules)
            .get(&client)
            .and_then(|r| r.links[direction.index()].as_ref())
            .map(|link| link.conditions)
    }

    /// Puts `client`'s flow back under the default conditions (a cut stays).
    pub fn clear_flow(&self, client: SocketAddr) {
        let mut rules = lock(&self.shared.rules);
        if let Some(r) = rules.get_mut(&client) {
            r.links = [None, None];
        }
    }

    /// Puts every client back under the default conditions (cuts stay).
    pub fn clear_flows(&self) {
        for r in lock(&self.shared.rules).values_mut() {
            r.links = [None, None];
        }
    }

    /// Drops every datagram of `client`'s flow both ways, or of every flow with `None`, until
    /// [`restore`](Self::restore). A TCP connection from `client` stalls meanwhile (its bytes
    /// wait, as in a TCP stream whose path is gone); with `None`, TCP goes on unless
    /// [`cut_tcp`](Self::cut_tcp) stalls it too.
    pub fn cut(&self, client: Option<SocketAddr>) {
        match client {
            Some(client) => lock(&self.shared.rules).entry(client).or_default().cut = true,
            None => self.shared.cut_all_udp.store(true, Ordering::Relaxed),
        }
    }

    /// Stalls every TCP connection until [`restore`](Self::restore) with `None`.
    pub fn cut_tcp(&self) {
        self.shared.cut_all_tcp.store(true, Ordering::Relaxed);
    }

    /// Ends the cut of `client` (with `None`: every cut, UDP and TCP; a client's restore
    /// leaves a cut of everything in place). With `rebind`, each
    /// restored flow first gets a new upstream socket, so the server sees the client come
    /// back from a new port; the old socket is closed. Returns the restored flows (for a
    /// client without a flow yet, none).
    pub async fn restore(&self, client: Option<SocketAddr>, rebind: bool) -> Result<Vec<FlowInfo>> {
        if rebind {
            if let Some(client) = client {
                if self.shared.flow(client).is_none() {
                    bail!("no flow from {client} to rebind");
                }
            }
            let (reply, answer) = oneshot::channel();
            self.control
                .send(Control::Rebind { client, reply })
                .await
                .map_err(|_| anyhow!("the proxy has stopped"))?;
            answer
                .await
                .context("the proxy stopped during a rebind")??;
        }
        match client {
            Some(client) => {
                if let Some(r) = lock(&self.shared.rules).get_mut(&client) {
                    r.cut = false;
                }
            }
            None => {
                self.shared.cut_all_udp.store(false, Ordering::Relaxed);
                self.shared.cut_all_tcp.store(false, Ordering::Relaxed);
                for r in lock(&self.shared.rules).values_mut() {
                    r.cut = false;
                }
            }
        }
        Ok(match client {
            Some(client) => self.flow(client).into_iter().collect(),
            None => self.flows(),
        })
    }

    /// Every flow seen so far, in the order of their client addresses.
    pub fn flows(&self) -> Vec<FlowInfo> {
        let flows: Vec<Arc<Flow>> = lock(&self.shared.flows).values().cloned().collect();
        let mut infos: Vec<FlowInfo> = flows.iter().map(|f| self.shared.info(f)).collect();
        infos.sort_by_key(|f| f.client);
        infos
    }

    /// The flow from `client`, if it has sent anything.
    pub fn flow(&self, client: SocketAddr) -> Option<FlowInfo> {
        self.shared.flow(client).map(|f| self.shared.info(&f))
    }

    /// What the TCP relay has done so far.
    pub fn tcp_counters(&self) -> TcpCounters {
        TcpCounters {
            connections: self.shared.tcp_connections.load(Ordering::Relaxed),
            bytes_to_server: self.shared.tcp_bytes[0].load(Ordering::Relaxed),
            bytes_to_client: self.shared.tcp_bytes[1].load(Ordering::Relaxed),
        }
    }
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
        let task = tokio::spawn(run(Arc::new(socket), target, shared, config, control_rx));
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
            .push(tokio::spawn(accept_tcp(listener, target, shared)));
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

/// Receives from clients, creating a flow per client address; carries out rebinds.
async fn run(
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

/// Accepts TCP connections and relays each to `target`.
async fn accept_tcp(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
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
            if to.write_all(&chunk.data).await.is_err() {
                return;
            }
            shared.tcp_bytes[direction.index()]
                .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
        }
        // The other side closed its sending half: pass that on once everything is through.
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

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
