//! The impairment proxy's per-flow controls, with real sockets on loopback: one client's
//! flow gets its own conditions while another's is untouched; a cut drops one flow both
//! ways and is counted; a restore with rebind brings the flow back from a new upstream port;
//! the TCP relay adds its delay in each direction and applies the rate cap. Then the same
//! through the `accord-impair` binary's JSON lines, including what it says to bad commands.

use accord_tests::impair::{Direction, ImpairProxy, LinkConditions, ProxyConfig};
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

/// A UDP echo server that remembers where each datagram came from and can send on its own.
struct EchoServer {
    socket: Arc<UdpSocket>,
    sources: Arc<Mutex<Vec<SocketAddr>>>,
    task: JoinHandle<()>,
}

impl EchoServer {
    async fn start() -> Result<Self> {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let sources = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let socket = Arc::clone(&socket);
            let sources = Arc::clone(&sources);
            async move {
                let mut buf = [0u8; 2048];
                while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                    if let Ok(mut s) = sources.lock() {
                        s.push(from);
                    }
                    let _ = socket.send_to(&buf[..len], from).await;
                }
            }
        });
        Ok(Self {
            socket,
            sources,
            task,
        })
    }

    fn addr(&self) -> Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn last_source(&self) -> Option<SocketAddr> {
        self.sources.lock().ok()?.last().copied()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn client(proxy: SocketAddr) -> Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(proxy).await?;
    Ok(socket)
}

/// Sends `payload` and waits for its echo (other datagrams are skipped).
async fn round_trip(socket: &UdpSocket, payload: &[u8], timeout: Duration) -> Result<bool> {
    socket.send(payload).await?;
    let mut buf = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => return Ok(false),
            Ok(received) => {
                if buf[..received?] == *payload {
                    return Ok(true);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_has_conditions_of_its_own() -> Result<()> {
    let server = EchoServer::start().await?;
    let proxy = ImpairProxy::start(
        "127.0.0.1:0".parse()?,
        server.addr()?,
        ProxyConfig {
            seed: Some(11),
            ..ProxyConfig::default()
        },
    )
    .await?;
    let handle = proxy.handle();
    let (a, b) = (
        client(proxy.listen_addr()).await?,
        client(proxy.listen_addr()).await?,
    );
    ensure!(round_trip(&a, b"a0", WAIT).await? && round_trip(&b, b"b0", WAIT).await?);

    // A's flow loses everything toward the server; B, on the defaults, loses nothing.
    handle.set_flow(
        a.local_addr()?,
        Direction::ToServer,
        LinkConditions::lossy(1.0),
    );
    for i in 0..20u8 {
        ensure!(!round_trip(&a, &[b'a', i], Duration::from_millis(50)).await?);
        ensure!(round_trip(&b, &[b'b', i], WAIT).await?, "B lost an echo");
    }
    let flow_a = handle.flow(a.local_addr()?).context("no flow for A")?;
    let flow_b = handle.flow(b.local_addr()?).context("no flow for B")?;
    assert_eq!(flow_a.to_server.dropped_loss, 20, "{flow_a:?}");
    assert_eq!(flow_b.to_server.dropped(), 0, "{flow_b:?}");
    assert_eq!(flow_a.own_conditions[0], Some(LinkConditions::lossy(1.0)));
    assert_eq!(flow_b.own_conditions, [None, None]);
    assert_eq!(handle.counters(Direction::ToServer).dropped_loss, 20);

    // A delayed flow does not hold up another: B's echo overtakes A's sent just before.
    handle.set_flow(
        a.local_addr()?,
        Direction::ToServer,
        LinkConditions::default().with_delay(Duration::from_millis(300)),
    );
    let sent = Instant::now();
    a.send(b"slow").await?;
    ensure!(round_trip(&b, b"fast", WAIT).await?);
    let mut buf = [0u8; 64];
    let len = tokio::time::timeout(WAIT, a.recv(&mut buf)).await??;
    assert_eq!(&buf[..len], b"slow");
    assert!(sent.elapsed() >= Duration::from_millis(300));

    // Cleared, A follows the defaults again.
    handle.clear_flow(a.local_addr()?);
    ensure!(round_trip(&a, b"a-back", WAIT).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_drops_one_flow_both_ways_and_a_rebind_moves_it_to_a_new_port() -> Result<()> {
    let server = EchoServer::start().await?;
    let proxy = ImpairProxy::start(
        "127.0.0.1:0".parse()?,
        server.addr()?,
        ProxyConfig::default(),
    )
    .await?;
    let handle = proxy.handle();
    let (a, b) = (
        client(proxy.listen_addr()).await?,
        client(proxy.listen_addr()).await?,
    );
    ensure!(round_trip(&a, b"a0", WAIT).await?);
    let a_upstream = server.last_source().context("the server saw nothing")?;
    ensure!(round_trip(&b, b"b0", WAIT).await?);
    assert_eq!(
        handle.flow(a.local_addr()?).map(|f| f.upstream),
        Some(a_upstream)
    );

    handle.cut(Some(a.local_addr()?));
    for i in 0..5u8 {
        ensure!(!round_trip(&a, &[b'a', i], Duration::from_millis(50)).await?);
        ensure!(round_trip(&b, &[b'b', i], WAIT).await?, "B was cut with A");
        // The server's own datagrams to A are dropped too.
        server.socket.send_to(b"to-a", a_upstream).await?;
    }
    let flow = handle.flow(a.local_addr()?).context("no flow for A")?;
    assert!(flow.cut);
    assert_eq!(flow.to_server.dropped_cut, 5, "{flow:?}");
    // Sent from the server's socket, so read asynchronously by the proxy: wait for them.
    let deadline = Instant::now() + WAIT;
    while handle
        .flow(a.local_addr()?)
        .is_some_and(|f| f.to_client.dropped_cut < 5)
    {
        ensure!(
            Instant::now() < deadline,
            "the server's datagrams to A were not dropped by the cut"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut buf = [0u8; 64];
    ensure!(
        tokio::time::timeout(Duration::from_millis(100), a.recv(&mut buf))
            .await
            .is_err(),
        "A received something through its cut"
    );

    let restored = handle.restore(Some(a.local_addr()?), true).await?;
    assert_eq!(restored.len(), 1);
    assert!(!restored[0].cut);
    assert_ne!(
        restored[0].upstream, a_upstream,
        "the rebind kept the old port"
    );
    ensure!(round_trip(&a, b"a-back", WAIT).await?);
    assert_eq!(server.last_source(), Some(restored[0].upstream));
    // The server answers on the new address, and that reaches A too.
    server
        .socket
        .send_to(b"hello", restored[0].upstream)
        .await?;
    let len = tokio::time::timeout(WAIT, a.recv(&mut buf)).await??;
    assert_eq!(&buf[..len], b"hello");

    // Everything at once, then back without a rebind: the same port again.
    handle.cut(None);
    ensure!(!round_trip(&b, b"b-cut", Duration::from_millis(100)).await?);
    let b_upstream = handle
        .flow(b.local_addr()?)
        .context("no flow for B")?
        .upstream;
    let flows = handle.restore(None, false).await?;
    assert_eq!(flows.len(), 2);
    ensure!(round_trip(&b, b"b-back", WAIT).await?);
    assert_eq!(server.last_source(), Some(b_upstream));
    Ok(())
}

/// A TCP echo server.
async fn tcp_echo() -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok((addr, task))
}

async fn tcp_round_trip(stream: &mut TcpStream, payload: &[u8]) -> Result<Duration> {
    let sent = Instant::now();
    stream.write_all(payload).await?;
    let mut got = vec![0u8; payload.len()];
    tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut got)).await??;
    ensure!(got == payload, "the TCP relay changed the bytes");
    Ok(sent.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tcp_relay_delays_each_direction_and_caps_the_rate() -> Result<()> {
    let server = EchoServer::start().await?;
    let (tcp_server, echo) = tcp_echo().await?;
    let mut proxy = ImpairProxy::start(
        "127.0.0.1:0".parse()?,
        server.addr()?,
        ProxyConfig::default(),
    )
    .await?;
    let relay = proxy.relay_tcp("127.0.0.1:0".parse()?, tcp_server).await?;
    let handle = proxy.handle();
    let mut stream = TcpStream::connect(relay).await?;
    tcp_round_trip(&mut stream, b"warm-up").await?;

    // Loss is for datagrams: a TCP stream only gets the delay, once per direction.
    handle.set(
        Direction::ToServer,
        LinkConditions::lossy(1.0).with_delay(Duration::from_millis(120)),
    );
    handle.set(
        Direction::ToClient,
        LinkConditions::default().with_delay(Duration::from_millis(80)),
    );
    let took = tcp_round_trip(&mut stream, b"delayed").await?;
    assert!(took >= Duration::from_millis(200), "{took:?}");

    // 20 kB at 160 kbit/s toward the server take a second at least.
    handle.set(
        Direction::ToServer,
        LinkConditions::default().with_rate(160_000),
    );
    handle.set(Direction::ToClient, LinkConditions::default());
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let took = tcp_round_trip(&mut stream, &payload).await?;
    assert!(took >= Duration::from_millis(950), "{took:?}");

    // A peer's own conditions apply to its connection only.
    handle.set(Direction::ToServer, LinkConditions::default());
    handle.set_flow(
        stream.local_addr()?,
        Direction::ToServer,
        LinkConditions::default().with_delay(Duration::from_millis(150)),
    );
    let mut other = TcpStream::connect(relay).await?;
    let took = tcp_round_trip(&mut stream, b"own").await?;
    assert!(took >= Duration::from_millis(150), "{took:?}");
    tcp_round_trip(&mut other, b"other").await?;

    let tcp = handle.tcp_counters();
    assert_eq!(tcp.connections, 2);
    let expected = (b"warm-up".len() + b"delayed".len() + payload.len() + 3 + 5) as u64;
    assert_eq!(
        (tcp.bytes_to_server, tcp.bytes_to_client),
        (expected, expected)
    );
    echo.abort();
    Ok(())
}

/// The binary with its stdin and stdout.
struct Impair {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Impair {
    async fn start(target: SocketAddr, tcp_target: SocketAddr) -> Result<(Self, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_accord-impair"))
            .args(["--listen", "127.0.0.1:0", "--target", &target.to_string()])
            .args(["--tcp-listen", "127.0.0.1:0", "--tcp-target"])
            .arg(tcp_target.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting accord-impair")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let ready = tokio::time::timeout(WAIT, stdout.next_line())
            .await??
            .context("accord-impair said nothing")?;
        Ok((
            Self {
                child,
                stdin,
                stdout,
            },
            ready,
        ))
    }

    async fn send_line(&mut self, line: &str) -> Result<Value> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        let answer = tokio::time::timeout(WAIT, self.stdout.next_line())
            .await??
            .context("accord-impair stopped answering")?;
        Ok(serde_json::from_str(&answer)?)
    }

    async fn send(&mut self, command: Value) -> Result<Value> {
        self.send_line(&command.to_string()).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_takes_json_lines() -> Result<()> {
    let server = EchoServer::start().await?;
    let (tcp_server, echo) = tcp_echo().await?;
    let (mut impair, ready) = Impair::start(server.addr()?, tcp_server).await?;
    let Some(rest) = ready.strip_prefix("ACCORD_IMPAIR_READY udp=") else {
        bail!("not a ready line: {ready}");
    };
    let (udp, tcp) = rest
        .split_once(" tcp=")
        .context("no tcp= in the ready line")?;
    let (udp, tcp): (SocketAddr, SocketAddr) = (udp.parse()?, tcp.parse()?);

    let a = client(udp).await?;
    ensure!(round_trip(&a, b"hello", WAIT).await?);
    let mut stream = TcpStream::connect(tcp).await?;
    tcp_round_trip(&mut stream, b"over tcp").await?;
    let me = a.local_addr()?.to_string();

    let set = impair
        .send(json!({"cmd": "set", "direction": "to_server", "loss": 1.0, "client": me}))
        .await?;
    assert_eq!(set["ok"], json!(true), "{set}");
    ensure!(!round_trip(&a, b"lost", Duration::from_millis(100)).await?);
    let counters = impair
        .send(json!({"cmd": "counters", "client": me}))
        .await?;
    assert_eq!(
        counters["to_server"]["dropped_loss"],
        json!(1),
        "{counters}"
    );
    assert_eq!(counters["flows"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        counters["flows"][0]["conditions"]["to_server"]["loss"],
        json!(1.0)
    );
    assert_eq!(counters["tcp"]["connections"], json!(1));
    let old_upstream = counters["flows"][0]["upstream"].clone();

    assert_eq!(
        impair.send(json!({"cmd": "clear", "client": me})).await?["ok"],
        json!(true)
    );
    impair
        .send(json!({"cmd": "set", "direction": "to_client", "delay_ms": 5, "client": me}))
        .await?;
    assert_eq!(
        impair.send(json!({"cmd": "clear"})).await?["ok"],
        json!(true)
    );
    let cleared = impair
        .send(json!({"cmd": "counters", "client": me}))
        .await?;
    assert_eq!(
        cleared["flows"][0]["conditions"],
        json!({"to_server": null, "to_client": null}),
        "{cleared}"
    );
    assert_eq!(
        impair.send(json!({"cmd": "cut", "client": me})).await?["ok"],
        json!(true)
    );
    ensure!(!round_trip(&a, b"cut", Duration::from_millis(100)).await?);
    let restored = impair
        .send(json!({"cmd": "restore", "client": me, "rebind": true}))
        .await?;
    assert_eq!(restored["ok"], json!(true), "{restored}");
    let new_upstream = restored["flows"][0]["upstream"].clone();
    assert_ne!(new_upstream, old_upstream);
    ensure!(round_trip(&a, b"back", WAIT).await?);
    assert_eq!(
        server.last_source().map(|s| s.to_string()),
        new_upstream.as_str().map(str::to_owned)
    );
    let all = impair.send(json!({"cmd": "counters"})).await?;
    assert_eq!(all["to_server"]["dropped_cut"], json!(1), "{all}");
    assert_eq!(all["to_server"]["dropped_loss"], json!(1), "{all}");

    // Whatever comes in, the answer is one JSON line with an error, and the proxy goes on.
    for bad in [
        "not json",
        "{}",
        r#"{"cmd":"fly"}"#,
        r#"{"cmd":"set","loss":2}"#,
        r#"{"cmd":"set","rate_kbps":0}"#,
        r#"{"cmd":"set","delay_ms":-5}"#,
        r#"{"cmd":"set","direction":"sideways"}"#,
        r#"{"cmd":"set","client":"nowhere"}"#,
        r#"{"cmd":"counters","client":"127.0.0.1:1"}"#,
        r#"{"cmd":"restore","client":"127.0.0.1:1","rebind":true}"#,
        r#"{"cmd":"cut","bogus":true}"#,
        r#"[1,2,3]"#,
    ] {
        let answer = impair.send_line(bad).await?;
        assert!(answer["error"].is_string(), "{bad} answered {answer}");
    }
    ensure!(round_trip(&a, b"still here", WAIT).await?);

    // The end of stdin stops it.
    drop(impair.stdin.take());
    let status = tokio::time::timeout(WAIT, impair.child.wait()).await??;
    assert!(status.success(), "{status}");
    echo.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_stops_on_sigterm() -> Result<()> {
    let server = EchoServer::start().await?;
    let (tcp_server, echo) = tcp_echo().await?;
    let (mut impair, _) = Impair::start(server.addr()?, tcp_server).await?;
    let pid = impair.child.id().context("no pid")?;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(status.success());
    let status = tokio::time::timeout(WAIT, impair.child.wait()).await??;
    assert!(status.success(), "{status}");
    echo.abort();
    Ok(())
}
