//! A userspace UDP impairment proxy: random loss, a fixed delay and an optional rate cap
//! between WebRTC clients and the server's media port.
//!
//! Why userspace: the kernels these tests run on have no `netem` qdisc, so loss and delay
//! cannot come from `tc`. The proxy sits where the server says it is: start the server with
//! `ACCORD_MEDIA_ANNOUNCE=<proxy ip>` so its only ICE candidate is `<proxy ip>:<media port>`,
//! and bind the proxy there with the real media address as the target. Clients then send
//! every datagram (STUN, DTLS, SRTP, SRTCP) through it without knowing.
//!
//! Each client source address gets its own upstream socket, so the server sees one distinct
//! address per client (as with real NATs) and its replies come back on that socket, which
//! tells the proxy which client they belong to.
//!
//! Both directions are a [`Link`](LinkConditions): all flows in one direction share it, like
//! clients behind one bottleneck. Conditions change at run time through an [`ImpairHandle`];
//! counters say what the proxy did, so a test can prove the impairment was real. Dropping the
//! [`ImpairProxy`] stops every task and closes every socket.

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Largest datagram relayed; WebRTC keeps packets well under this.
const MAX_DATAGRAM: usize = 2048;

/// Which way a datagram travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a client to the server.
    ToServer,
    /// From the server to a client.
    ToClient,
}

impl Direction {
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
}

/// What one direction of the proxy has done so far.
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
}

impl LinkCounters {
    /// Every datagram that entered the link.
    pub fn offered(&self) -> u64 {
        self.passed + self.dropped_loss + self.dropped_queue
    }

    /// Datagrams dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_queue
    }

    /// What happened between `earlier` (a snapshot of the same link) and `self`.
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            passed: self.passed.saturating_sub(earlier.passed),
            bytes_passed: self.bytes_passed.saturating_sub(earlier.bytes_passed),
            dropped_loss: self.dropped_loss.saturating_sub(earlier.dropped_loss),
            dropped_queue: self.dropped_queue.saturating_sub(earlier.dropped_queue),
        }
    }

    /// Share of offered datagrams dropped for any reason (0.0 when nothing was offered).
    pub fn drop_rate(&self) -> f64 {
        self.dropped() as f64 / self.offered().max(1) as f64
    }
}

/// Proxy settings; [`ProxyConfig::default`] relays perfectly.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Conditions from clients to the server.
    pub to_server: LinkConditions,
    /// Conditions from the server to clients.
    pub to_client: LinkConditions,
    /// Datagrams that may be in flight (delayed or queued) per direction; more are dropped.
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

/// One direction's live settings, counters and rate-cap state.
#[derive(Debug)]
struct Link {
    state: Mutex<LinkState>,
    passed: AtomicU64,
    bytes_passed: AtomicU64,
    dropped_loss: AtomicU64,
    dropped_queue: AtomicU64,
}

#[derive(Debug)]
struct LinkState {
    conditions: LinkConditions,
    /// When the bottleneck finishes sending what is queued (rate cap only).
    busy_until: Instant,
    rng: StdRng,
}

/// Where a datagram goes once it leaves the link.
struct Delivery {
    at: Instant,
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    data: Vec<u8>,
}

impl Link {
    fn new(conditions: LinkConditions, rng: StdRng) -> Self {
        Self {
            state: Mutex::new(LinkState {
                conditions,
                busy_until: Instant::now(),
                rng,
            }),
            passed: AtomicU64::new(0),
            bytes_passed: AtomicU64::new(0),
            dropped_loss: AtomicU64::new(0),
            dropped_queue: AtomicU64::new(0),
        }
    }

    /// A poisoned lock only means a panicking test thread; the settings are still valid.
    fn lock(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides a datagram's fate: `None` to drop it, else when it leaves the link.
    fn admit(&self, len: usize, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        let conditions = state.conditions;
        if conditions.loss > 0.0 && state.rng.random::<f64>() < conditions.loss {
            self.dropped_loss.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut leaves = now;
        if let Some(rate) = conditions.rate_bps.filter(|r| *r > 0) {
            let start = state.busy_until.max(now);
            if start.saturating_duration_since(now) > conditions.max_queue_delay {
                self.dropped_queue.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let bits = len as u64 * 8;
            let transmit = Duration::from_nanos(bits.saturating_mul(1_000_000_000) / rate);
            state.busy_until = start + transmit;
            leaves = state.busy_until;
        }
        Some(leaves + conditions.delay)
    }

    fn counters(&self) -> LinkCounters {
        LinkCounters {
            passed: self.passed.load(Ordering::Relaxed),
            bytes_passed: self.bytes_passed.load(Ordering::Relaxed),
            dropped_loss: self.dropped_loss.load(Ordering::Relaxed),
            dropped_queue: self.dropped_queue.load(Ordering::Relaxed),
        }
    }
}

/// Changes conditions and reads counters of a running [`ImpairProxy`]. Cheap to clone; it
/// does not keep the proxy running.
#[derive(Debug, Clone)]
pub struct ImpairHandle {
    links: Arc<[Link; 2]>,
}

impl ImpairHandle {
    /// Replaces the conditions of one direction; applies to the next datagram.
    pub fn set(&self, direction: Direction, conditions: LinkConditions) {
        self.links[direction.index()].lock().conditions = conditions;
    }

    /// Replaces the conditions of both directions.
    pub fn set_both(&self, conditions: LinkConditions) {
        self.set(Direction::ToServer, conditions);
        self.set(Direction::ToClient, conditions);
    }

    /// The current conditions of one direction.
    pub fn conditions(&self, direction: Direction) -> LinkConditions {
        self.links[direction.index()].lock().conditions
    }

    /// What one direction has done so far.
    pub fn counters(&self, direction: Direction) -> LinkCounters {
        self.links[direction.index()].counters()
    }

    fn link(&self, direction: Direction) -> &Link {
        &self.links[direction.index()]
    }
}

/// A running proxy; see the module docs. Stops when dropped.
#[derive(Debug)]
pub struct ImpairProxy {
    listen: SocketAddr,
    target: SocketAddr,
    handle: ImpairHandle,
    task: JoinHandle<()>,
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
        let handle = ImpairHandle {
            links: Arc::new([
                Link::new(config.to_server, StdRng::seed_from_u64(seed)),
                Link::new(config.to_client, StdRng::seed_from_u64(seed ^ 0x5eed)),
            ]),
        };
        let task = tokio::spawn(run(Arc::new(socket), target, handle.clone(), config));
        Ok(Self {
            listen,
            target,
            handle,
            task,
        })
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
        // The main task owns every other task in a `JoinSet`, and every socket: aborting it
        // drops them all.
        self.task.abort();
    }
}

/// Receives from clients, creating one upstream socket (and its reader) per client address.
async fn run(
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    handle: ImpairHandle,
    config: ProxyConfig,
) {
    let mut tasks = JoinSet::new();
    let queue = config.queue_packets.max(1);
    let (to_server, to_server_rx) = mpsc::channel::<Delivery>(queue);
    let (to_client, to_client_rx) = mpsc::channel::<Delivery>(queue);
    tasks.spawn(deliver(to_server_rx, handle.clone(), Direction::ToServer));
    tasks.spawn(deliver(to_client_rx, handle.clone(), Direction::ToClient));
    let mut flows: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(err) => {
                // ICMP errors from a vanished client surface here on some systems; they
                // concern one datagram, not the proxy.
                tracing::debug!("impairment proxy: receive failed: {err}");
                continue;
            }
        };
        let upstream = match flows.get(&client) {
            Some(s) => Arc::clone(s),
            None => {
                if flows.len() >= config.max_flows {
                    handle
                        .link(Direction::ToServer)
                        .dropped_queue
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match open_flow(target).await {
                    Ok(s) => {
                        tasks.spawn(read_replies(
                            Arc::clone(&s),
                            Arc::clone(&socket),
                            client,
                            handle.clone(),
                            to_client.clone(),
                        ));
                        flows.insert(client, Arc::clone(&s));
                        s
                    }
                    Err(err) => {
                        tracing::warn!(
                            "impairment proxy: no upstream socket for {client}: {err:#}"
                        );
                        continue;
                    }
                }
            }
        };
        enqueue(
            &handle,
            Direction::ToServer,
            &to_server,
            Delivery {
                at: Instant::now(),
                socket: upstream,
                to: target,
                data: buf[..len].to_vec(),
            },
        );
    }
}

async fn open_flow(target: SocketAddr) -> Result<Arc<UdpSocket>> {
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

/// Relays the server's datagrams on one flow back to its client.
async fn read_replies(
    upstream: Arc<UdpSocket>,
    listen: Arc<UdpSocket>,
    client: SocketAddr,
    handle: ImpairHandle,
    to_client: mpsc::Sender<Delivery>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let len = match upstream.recv(&mut buf).await {
            Ok(len) => len,
            Err(err) => {
                tracing::debug!("impairment proxy: upstream receive failed: {err}");
                continue;
            }
        };
        enqueue(
            &handle,
            Direction::ToClient,
            &to_client,
            Delivery {
                at: Instant::now(),
                socket: Arc::clone(&listen),
                to: client,
                data: buf[..len].to_vec(),
            },
        );
    }
}

/// Applies loss and the rate cap, then hands the datagram to the direction's delivery task.
fn enqueue(
    handle: &ImpairHandle,
    direction: Direction,
    queue: &mpsc::Sender<Delivery>,
    mut item: Delivery,
) {
    let link = handle.link(direction);
    let Some(at) = link.admit(item.data.len(), item.at) else {
        return;
    };
    item.at = at;
    if queue.try_send(item).is_err() {
        link.dropped_queue.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends each datagram when its time comes. One FIFO per direction: the delay is the same for
/// all, so release times never go backwards (except right after the delay is lowered, when
/// newer datagrams wait for older ones, as they would behind a real queue).
async fn deliver(mut queue: mpsc::Receiver<Delivery>, handle: ImpairHandle, direction: Direction) {
    let link = handle.link(direction);
    while let Some(item) = queue.recv().await {
        if item.at > Instant::now() {
            tokio::time::sleep_until(item.at).await;
        }
        match item.socket.send_to(&item.data, item.to).await {
            Ok(_) => {
                link.passed.fetch_add(1, Ordering::Relaxed);
                link.bytes_passed
                    .fetch_add(item.data.len() as u64, Ordering::Relaxed);
            }
            Err(err) => tracing::debug!("impairment proxy: send to {} failed: {err}", item.to),
        }
    }
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
