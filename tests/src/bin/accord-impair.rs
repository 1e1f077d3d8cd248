//! `accord-impair`: the impairment proxy of `accord_tests::impair` as a process, for browser
//! tests (which cannot link Rust) and for trying a weak network by hand.
//!
//! ```text
//! accord-impair --listen 127.0.0.2:40000 --target 127.0.0.1:40000 \
//!     [--tcp-listen 127.0.0.2:8080 --tcp-target 127.0.0.1:8080] [--seed N]
//! ```
//!
//! Prints `ACCORD_IMPAIR_READY udp=<addr> tcp=<addr|none>`, then reads one JSON command per
//! line on stdin and answers each with one JSON line on stdout (`{"ok":true,…}` or
//! `{"error":"…"}`). `client` is always a flow's client address as the proxy sees it
//! (`"ip:port"`); without it a command concerns every flow.
//!
//! - `{"cmd":"set","direction":"both"|"to_server"|"to_client","loss":0.05,"delay_ms":150,
//!   "rate_kbps":400,"max_queue_ms":500,"client":"…"}`: replaces the conditions (omitted
//!   numbers mean none); with `client`, for that flow alone, which then has its own
//!   bottleneck. TCP connections follow the defaults, or their peer address's own.
//! - `{"cmd":"clear","client":"…"}`: the flow follows the defaults again (every client
//!   without `client`).
//! - `{"cmd":"cut","client":"…","tcp":false}`: drops every datagram of the flow (or of all
//!   flows) both ways; with `"tcp":true` and no client, TCP connections stall too.
//! - `{"cmd":"restore","client":"…","rebind":true}`: ends the cut; `rebind` first moves the
//!   flow to a new upstream socket, so the server sees the client from a new port.
//! - `{"cmd":"counters","client":"…"}`: what each direction did (`passed`, `bytes`,
//!   `dropped_loss`, `dropped_queue`, `dropped_cut`) and the flows.
//!
//! Stops at the end of stdin or on SIGTERM/SIGINT.

use accord_tests::impair::{
    Direction, FlowInfo, ImpairHandle, ImpairProxy, LinkConditions, LinkCounters, ProxyConfig,
};
use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;

/// A userspace network impairment proxy (UDP, optionally TCP) driven by JSON lines on stdin.
#[derive(Parser, Debug)]
#[command(name = "accord-impair")]
struct Args {
    /// UDP address to receive clients' datagrams on (the address the server announces).
    #[arg(long)]
    listen: SocketAddr,
    /// UDP address to relay to (the server's real media address).
    #[arg(long)]
    target: SocketAddr,
    /// TCP address to accept connections on.
    #[arg(long, requires = "tcp_target")]
    tcp_listen: Option<SocketAddr>,
    /// TCP address to relay connections to.
    #[arg(long, requires = "tcp_listen")]
    tcp_target: Option<SocketAddr>,
    /// Seed for the loss decisions, for a reproducible drop pattern.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Deserialize, Debug)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Set {
        #[serde(default)]
        direction: Directions,
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        delay_ms: f64,
        rate_kbps: Option<f64>,
        max_queue_ms: Option<f64>,
        client: Option<SocketAddr>,
    },
    Clear {
        client: Option<SocketAddr>,
    },
    Cut {
        client: Option<SocketAddr>,
        #[serde(default)]
        tcp: bool,
    },
    Restore {
        client: Option<SocketAddr>,
        #[serde(default)]
        rebind: bool,
    },
    Counters {
        client: Option<SocketAddr>,
    },
}

#[derive(Deserialize, Debug, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Directions {
    #[default]
    Both,
    ToServer,
    ToClient,
}

impl Directions {
    fn list(self) -> &'static [Direction] {
        match self {
            Directions::Both => &Direction::BOTH,
            Directions::ToServer => &[Direction::ToServer],
            Directions::ToClient => &[Direction::ToClient],
        }
    }
}

fn milliseconds(what: &str, ms: f64) -> Result<Duration> {
    if !ms.is_finite() || !(0.0..=600_000.0).contains(&ms) {
        bail!("{what} must be between 0 and 600000 ms, not {ms}");
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

fn conditions(
    loss: f64,
    delay_ms: f64,
    rate_kbps: Option<f64>,
    max_queue_ms: Option<f64>,
) -> Result<LinkConditions> {
    if !(0.0..=1.0).contains(&loss) {
        bail!("loss must be between 0 and 1, not {loss}");
    }
    let mut link = LinkConditions::lossy(loss).with_delay(milliseconds("delay_ms", delay_ms)?);
    if let Some(kbps) = rate_kbps {
        if !kbps.is_finite() || kbps <= 0.0 {
            bail!("rate_kbps must be above 0 (leave it out for no cap), not {kbps}");
        }
        link = link.with_rate((kbps * 1000.0).round().max(1.0) as u64);
    }
    if let Some(ms) = max_queue_ms {
        link.max_queue_delay = milliseconds("max_queue_ms", ms)?;
    }
    Ok(link)
}

fn link_json(c: &LinkConditions) -> Value {
    json!({
        "loss": c.loss,
        "delay_ms": c.delay.as_secs_f64() * 1000.0,
        "rate_kbps": c.rate_bps.map(|b| b as f64 / 1000.0),
        "max_queue_ms": c.max_queue_delay.as_secs_f64() * 1000.0,
    })
}

fn counters_json(c: &LinkCounters) -> Value {
    json!({
        "passed": c.passed,
        "bytes": c.bytes_passed,
        "dropped_loss": c.dropped_loss,
        "dropped_queue": c.dropped_queue,
        "dropped_cut": c.dropped_cut,
    })
}

fn flow_json(f: &FlowInfo) -> Value {
    json!({
        "client": f.client.to_string(),
        "upstream": f.upstream.to_string(),
        "cut": f.cut,
        "conditions": {
            "to_server": f.own_conditions[0].as_ref().map(link_json),
            "to_client": f.own_conditions[1].as_ref().map(link_json),
        },
        "to_server": counters_json(&f.to_server),
        "to_client": counters_json(&f.to_client),
    })
}

async fn execute(handle: &ImpairHandle, command: Command) -> Result<Value> {
    Ok(match command {
        Command::Set {
            direction,
            loss,
            delay_ms,
            rate_kbps,
            max_queue_ms,
            client,
        } => {
            let link = conditions(loss, delay_ms, rate_kbps, max_queue_ms)?;
            for d in direction.list() {
                match client {
                    Some(client) => handle.set_flow(client, *d, link),
                    None => handle.set(*d, link),
                }
            }
            json!({ "ok": true, "client": client.map(|c| c.to_string()), "conditions": link_json(&link) })
        }
        Command::Clear { client } => {
            match client {
                Some(client) => handle.clear_flow(client),
                None => handle.clear_flows(),
            }
            json!({ "ok": true, "client": client.map(|c| c.to_string()) })
        }
        Command::Cut { client, tcp } => {
            if tcp && client.is_some() {
                bail!(
                    "\"tcp\" goes with a cut of everything; a client's cut already stalls its TCP"
                );
            }
            handle.cut(client);
            if tcp {
                handle.cut_tcp();
            }
            json!({ "ok": true, "cut": client.map_or("all".to_owned(), |c| c.to_string()), "known": client.is_none_or(|c| handle.flow(c).is_some()) })
        }
        Command::Restore { client, rebind } => {
            let flows = handle.restore(client, rebind).await?;
            json!({ "ok": true, "flows": flows.iter().map(flow_json).collect::<Vec<_>>() })
        }
        Command::Counters { client } => {
            let flows = match client {
                Some(client) => vec![
                    handle
                        .flow(client)
                        .ok_or_else(|| anyhow!("no flow from {client}"))?,
                ],
                None => handle.flows(),
            };
            let (to_server, to_client) = match client {
                Some(_) => (flows[0].to_server, flows[0].to_client),
                None => (
                    handle.counters(Direction::ToServer),
                    handle.counters(Direction::ToClient),
                ),
            };
            let tcp = handle.tcp_counters();
            json!({
                "ok": true,
                "to_server": counters_json(&to_server),
                "to_client": counters_json(&to_client),
                "defaults": {
                    "to_server": link_json(&handle.conditions(Direction::ToServer)),
                    "to_client": link_json(&handle.conditions(Direction::ToClient)),
                },
                "flows": flows.iter().map(flow_json).collect::<Vec<_>>(),
                "tcp": {
                    "connections": tcp.connections,
                    "to_server": { "bytes": tcp.bytes_to_server },
                    "to_client": { "bytes": tcp.bytes_to_client },
                },
            })
        }
    })
}

async fn answer(handle: &ImpairHandle, line: &str) -> Value {
    let command = match serde_json::from_str::<Command>(line) {
        Ok(command) => command,
        Err(err) => return json!({ "error": format!("bad command: {err}") }),
    };
    match execute(handle, command).await {
        Ok(value) => value,
        Err(err) => json!({ "error": format!("{err:#}") }),
    }
}

fn say(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")?;
    out.flush()?;
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let config = ProxyConfig {
        seed: args.seed,
        ..ProxyConfig::default()
    };
    let mut proxy = ImpairProxy::start(args.listen, args.target, config).await?;
    let tcp = match (args.tcp_listen, args.tcp_target) {
        (Some(listen), Some(target)) => Some(proxy.relay_tcp(listen, target).await?),
        _ => None,
    };
    let handle = proxy.handle();
    // Listening for SIGTERM before saying ready: whoever waits for the ready line may stop
    // us at once, and a signal with no handler yet would kill us with a failure status.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "ACCORD_IMPAIR_READY udp={} tcp={}",
            proxy.listen_addr(),
            tcp.map_or("none".to_owned(), |a| a.to_string())
        )?;
        out.flush()?;
    }
    let mut lines = stdin_lines();
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { break };
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                say(&answer(&handle, line).await)?;
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(proxy);
    Ok(())
}

/// Lines of stdin, read on a thread of their own; the channel closes at the end of stdin (or
/// when stdin cannot be read any more).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("accord-impair: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_millis(200));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("accord-impair: {err:#}");
            ExitCode::FAILURE
        }
    }
}
