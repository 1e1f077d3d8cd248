//! Starting the media server: binding the UDP port and the ICE-TCP listener, choosing the
//! addresses our candidates announce, and spawning the shard, reader and ICE-TCP threads.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use crate::config::{SfuConfig, TcpListen};
use crate::error::{Error, Result};
use crate::net;
use crate::placement::ShardLoads;
use crate::server::{Inner, Sfu};
use crate::shard::driver::{self, DriverSetup};
use crate::shard::{Shard, ShardContext};
use crate::stats::SfuStats;

impl Sfu {
    /// Opens the media port and starts the reader thread and the shard threads.
    pub fn start(config: SfuConfig) -> Result<Sfu> {
        let socket = net::bind(config.listen, config.socket_buffer_bytes)?;
        let bind_error = |source| Error::Bind {
            addr: config.listen,
            source,
        };
        let local_addr = socket
            .local_addr()
            .map_err(bind_error)?
            .as_socket()
            .ok_or_else(|| Error::Config("the media socket has no IP address".into()))?;
        let candidates = announced_candidates(&config, local_addr)?;
        let tcp_listener = bind_tcp(&config, local_addr)?;
        let tcp_addr = match &tcp_listener {
            Some(l) => Some(l.local_addr().map_err(|source| Error::Bind {
                addr: local_addr,
                source,
            })?),
            None => None,
        };
        let tcp_candidates: Vec<SocketAddr> = match tcp_addr {
            Some(tcp) => candidates
                .iter()
                .map(|c| SocketAddr::new(c.ip(), tcp.port()))
                .collect(),
            None => Vec::new(),
        };
        let shard_count = if config.shards == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.shards
        };
        let stats = Arc::new(SfuStats::default());
        let sender = Arc::new(net::MediaSender::new(
            socket.try_clone().map_err(bind_error)?,
            config.udp_segmentation,
        ));
        // Unbounded but bounded in use: one update per join, ICE restart and leave, and the
        // reader drains them at least every `READ_TIMEOUT` and on every unknown ufrag.
        let (router_tx, router_rx) = std::sync::mpsc::channel();
        let routes = net::Routes::new(router_tx);
        let mut shards = Vec::with_capacity(shard_count);
        let loads = Arc::new(ShardLoads::new(shard_count));
        for index in 0..shard_count {
            let ctx = ShardContext {
                index,
                local_addr: candidates[0],
                candidates: candidates.clone(),
                tcp_local_addr: tcp_candidates.first().copied(),
                tcp_candidates: tcp_candidates.clone(),
                router: routes.clone(),
                stats: Arc::clone(&stats),
                media_timeout: config.media_timeout,
                media_lost_after: config.media_lost_after.max(config.media_timeout),
            };
            shards.push(driver::spawn(
                format!("accord-shard-{index}"),
                Shard::new(ctx, std::time::Instant::now()),
                DriverSetup {
                    listen: local_addr,
                    buffer_bytes: config.socket_buffer_bytes,
                    sender: Arc::clone(&sender),
                    loads: Arc::clone(&loads),
                },
            )?);
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(listener) = tcp_listener {
            let (shards, routes, stats, stop) = (
                shards.clone(),
                routes.clone(),
                Arc::clone(&stats),
                Arc::clone(&stop),
            );
            std::thread::Builder::new()
                .name("accord-ice-tcp".into())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let serve = |listener| net::tcp::run(listener, shards, routes, stats, stop);
                    match runtime {
                        Ok(rt) => rt.block_on(async move {
                            match tokio::net::TcpListener::from_std(listener) {
                                Ok(listener) => serve(listener).await,
                                Err(e) => tracing::error!(error = %e, "cannot serve ICE-TCP"),
                            }
                        }),
                        Err(e) => tracing::error!(error = %e, "cannot start ICE-TCP"),
                    }
                })
                .map_err(|e| Error::Config(format!("cannot start the ICE-TCP thread: {e}")))?;
        }
        let reader: std::net::UdpSocket = socket.into();
        let router_stats = Arc::clone(&stats);
        let router_shards = shards.clone();
        let router_stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("accord-media-reader".into())
            .spawn(move || {
                net::run_router(reader, router_shards, router_rx, router_stats, router_stop)
            })
            .map_err(|e| Error::Config(format!("cannot start the media reader thread: {e}")))?;
        tracing::info!(%local_addr, ?tcp_addr, shards = shard_count, candidates = ?candidates, "media server listening");
        Ok(Sfu {
            inner: Arc::new(Inner {
                shards,
                placement: Mutex::new(Default::default()),
                loads,
                shard_fill: config.shard_fill,
                local_addr,
                candidates,
                tcp_addr,
                tcp_candidates,
                stats,
                stop,
            }),
        })
    }
}

/// Opens the ICE-TCP listener the config asks for (see [`TcpListen`]).
fn bind_tcp(config: &SfuConfig, udp: SocketAddr) -> Result<Option<std::net::TcpListener>> {
    let open = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    };
    let bound = match config.tcp {
        TcpListen::Off => return Ok(None),
        TcpListen::At(addr) => open(addr).map_err(|source| Error::Bind { addr, source })?,
        TcpListen::SamePortAsUdp => match open(udp) {
            Ok(listener) => listener,
            // A system-chosen UDP port (tests) says nothing about TCP: take any free one.
            Err(_) if config.listen.port() == 0 => {
                let any = SocketAddr::new(udp.ip(), 0);
                open(any).map_err(|source| Error::Bind { addr: any, source })?
            }
            Err(source) => return Err(Error::Bind { addr: udp, source }),
        },
    };
    Ok(Some(bound))
}

fn announced_candidates(config: &SfuConfig, local: SocketAddr) -> Result<Vec<SocketAddr>> {
    let port = local.port();
    let mut ips: Vec<IpAddr> = config.announce.clone();
    if ips.is_empty() {
        if local.ip().is_unspecified() {
            ips = local_interface_ips();
        } else {
            ips.push(local.ip());
        }
    }
    if ips.is_empty() {
        return Err(Error::Config(
            "no address to announce: set media.announce to the server's public IP".into(),
        ));
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// IPv4 interface addresses, non-loopback first, then loopback (for a browser on the same
/// machine).
fn local_interface_ips() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Ok(interfaces) = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        // The address the kernel would use to reach a public destination; no packet is sent.
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    }) && !interfaces.ip().is_unspecified()
    {
        ips.push(interfaces.ip());
    }
    ips.push(IpAddr::from([127, 0, 0, 1]));
    ips
}
