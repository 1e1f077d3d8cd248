//! The floor: what this machine's kernel charges to receive a datagram and send it on, with
//! nothing in between. A forwarder thread receives 1,200-byte datagrams over loopback with
//! `recvmmsg` (up to [`BATCH`] per call) and sends each on to a sink `copies` times with
//! `sendmmsg`, the least any SFU must do per packet. Its own CPU time (thread clock), divided
//! by the datagrams it sent, is the figure a server's CPU per forwarded packet is held
//! against, measured in the same minutes so that both move with the machine's speed.
//!
//! The generator paces datagrams at the rate the scenario's publishers sent, and the fan-out
//! is the scenario's forwarded ÷ received, so batches are about as full, and wake-ups as
//! frequent, as the server's could be at that load.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg};
use nix::time::{ClockId, clock_gettime};
use serde::Serialize;

/// Datagrams per `recvmmsg` and per `sendmmsg`, as the floor names it.
pub const BATCH: usize = 32;
/// The floor's datagram size.
pub const DATAGRAM_BYTES: usize = 1_200;
/// The most copies of one datagram the probe sends (a room of 100 is the server's limit).
const MAX_COPIES: f64 = 100.0;
/// The highest input rate the probe accepts, datagrams per second.
const MAX_RATE: f64 = 200_000.0;

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct FloorPlan {
    /// Datagrams per second into the forwarder.
    pub rate: f64,
    /// Datagrams sent per datagram received (may be fractional: 1.43 sends 1 or 2).
    pub copies: f64,
    /// Length of the measured run.
    pub duration: Duration,
}

/// What the probe measured.
#[derive(Clone, Debug, Serialize)]
pub struct FloorFigures {
    /// Datagrams the forwarder received.
    pub received: u64,
    /// Datagrams it sent on.
    pub sent: u64,
    /// Datagrams the sink got (loopback may drop under overload; a gap means the figure is
    /// unreliable).
    pub delivered: u64,
    /// The forwarder thread's CPU time, seconds.
    pub cpu_seconds: f64,
    /// Its CPU time per datagram sent, microseconds: the floor.
    pub cpu_us_per_sent: f64,
    /// Datagrams per `recvmmsg` call, on average.
    pub mean_receive_batch: f64,
    /// The plan it ran.
    pub rate: f64,
    /// Copies per received datagram, as planned.
    pub copies: f64,
}

/// Runs the probe on loopback: a generator, the forwarder and a sink, each a thread.
pub fn measure(plan: FloorPlan) -> Result<FloorFigures> {
    if !(1.0..=MAX_RATE).contains(&plan.rate) {
        bail!("floor rate must be 1–{MAX_RATE} datagrams/s");
    }
    if !(0.0..=MAX_COPIES).contains(&plan.copies) || plan.copies == 0.0 {
        bail!("floor copies must be above 0 and at most {MAX_COPIES}");
    }
    let sink = UdpSocket::bind("127.0.0.1:0").context("binding the floor's sink")?;
    let forwarder = UdpSocket::bind("127.0.0.1:0").context("binding the floor's forwarder")?;
    let generator = UdpSocket::bind("127.0.0.1:0").context("binding the floor's generator")?;
    for s in [&sink, &forwarder] {
        s.set_read_timeout(Some(Duration::from_millis(50)))?;
    }
    let sink_addr = sink.local_addr()?;
    generator.connect(forwarder.local_addr()?)?;
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));

    let sink_thread = {
        let (stop, delivered) = (stop.clone(), delivered.clone());
        std::thread::Builder::new()
            .name("floor-sink".into())
            .spawn(move || drain(&sink, &stop, &delivered))?
    };
    let forward_thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("floor-forwarder".into())
            .spawn(move || forward(&forwarder, sink_addr, plan.copies, &stop))?
    };
    let generated = generate(&generator, plan.rate, plan.duration);
    // Let the last datagrams through before stopping the forwarder and the sink.
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let forwarded = forward_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the floor's forwarder panicked"))??;
    sink_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the floor's sink panicked"))??;
    generated?;
    if forwarded.sent == 0 {
        bail!("the floor's forwarder sent nothing");
    }
    Ok(FloorFigures {
        received: forwarded.received,
        sent: forwarded.sent,
        delivered: delivered.load(Ordering::Relaxed),
        cpu_seconds: forwarded.cpu.as_secs_f64(),
        cpu_us_per_sent: forwarded.cpu.as_secs_f64() * 1e6 / forwarded.sent as f64,
        mean_receive_batch: forwarded.received as f64 / forwarded.calls.max(1) as f64,
        rate: plan.rate,
        copies: plan.copies,
    })
}

/// Sends numbered datagrams at `rate` for `duration`, in the bursts a 1 ms tick allows: at
/// 13,680 datagrams/s about 14 per `recvmmsg`, which is as kind to the floor's batching as
/// a video frame's packets arriving together; the floor is the lower for it.
fn generate(socket: &UdpSocket, rate: f64, duration: Duration) -> Result<()> {
    let start = Instant::now();
    let mut payload = vec![0u8; DATAGRAM_BYTES];
    let mut sent: u64 = 0;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            payload[..8].copy_from_slice(&sent.to_be_bytes());
            // A full buffer is loss the figures show; the generator never waits on it.
            let _ = socket.send(&payload);
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

struct Forwarded {
    received: u64,
    sent: u64,
    calls: u64,
    cpu: Duration,
}

/// The forwarder: batches in, copies out, until stopped. Its clock starts at the first
/// datagram, so thread start-up is not counted.
fn forward(
    socket: &UdpSocket,
    to: SocketAddr,
    copies: f64,
    stop: &AtomicBool,
) -> Result<Forwarded> {
    let SocketAddr::V4(to) = to else {
        bail!("the floor runs on IPv4 loopback");
    };
    let to = SockaddrIn::from(to);
    let fd = socket.as_raw_fd();
    let mut buffers = vec![[0u8; 2048]; BATCH];
    let mut receive_headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut lengths = [0usize; BATCH];
    let mut owed = 0.0f64;
    let (mut received, mut sent, mut calls) = (0u64, 0u64, 0u64);
    let mut started: Option<Duration> = None;
    while !stop.load(Ordering::Relaxed) {
        let count = {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            match recvmmsg(
                fd,
                &mut receive_headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(results) => {
                    let mut n = 0;
                    for (i, msg) in results.enumerate() {
                        lengths[i] = msg.bytes;
                        n += 1;
                    }
                    n
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("recvmmsg: {e}"),
            }
        };
        if started.is_none() {
            started = Some(thread_cpu()?);
        }
        calls += 1;
        received += count as u64;
        // Which received datagram each outgoing one copies.
        let mut outgoing: Vec<usize> = Vec::with_capacity(BATCH);
        for i in 0..count {
            owed += copies;
            while owed >= 1.0 {
                owed -= 1.0;
                outgoing.push(i);
                if outgoing.len() == BATCH {
                    sent += send(fd, &mut send_headers, &buffers, &lengths, &outgoing, to)?;
                    outgoing.clear();
                }
            }
        }
        if !outgoing.is_empty() {
            sent += send(fd, &mut send_headers, &buffers, &lengths, &outgoing, to)?;
        }
    }
    let cpu = thread_cpu()?.saturating_sub(started.unwrap_or_default());
    Ok(Forwarded {
        received,
        sent,
        calls,
        cpu,
    })
}

/// One `sendmmsg` of the listed datagrams; a full send buffer drops the rest, as a
/// non-blocking server would.
fn send(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrIn>,
    buffers: &[[u8; 2048]],
    lengths: &[usize],
    which: &[usize],
    to: SockaddrIn,
) -> Result<u64> {
    let slices: Vec<[IoSlice<'_>; 1]> = which
        .iter()
        .map(|&i| [IoSlice::new(&buffers[i][..lengths[i]])])
        .collect();
    let addresses = vec![Some(to); which.len()];
    match sendmmsg(
        fd,
        headers,
        slices.iter(),
        addresses,
        [],
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(results) => Ok(results.count() as u64),
        Err(nix::errno::Errno::EAGAIN) => Ok(0),
        Err(e) => bail!("sendmmsg: {e}"),
    }
}

/// The sink: counts what arrives, until stopped.
fn drain(socket: &UdpSocket, stop: &AtomicBool, delivered: &AtomicU64) -> Result<()> {
    let mut buffer = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv(&mut buffer) {
            Ok(_) => {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).context("the floor's sink"),
        }
    }
    Ok(())
}

/// CPU time of the calling thread.
fn thread_cpu() -> Result<Duration> {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).context("thread CPU clock")?;
    Ok(Duration::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_every_datagram_the_planned_number_of_times() {
        let figures = measure(FloorPlan {
            rate: 2_000.0,
            copies: 1.5,
            duration: Duration::from_millis(500),
        })
        .expect("the probe runs");
        assert!(
            (900..=1_100).contains(&figures.received),
            "about 1000 datagrams in 0.5 s at 2000/s: {figures:?}"
        );
        let expected = (figures.received as f64 * 1.5) as u64;
        assert!(
            figures.sent.abs_diff(expected) <= 1,
            "1.5 copies each: {figures:?}"
        );
        assert_eq!(figures.delivered, figures.sent, "nothing lost on loopback");
        assert!(figures.cpu_us_per_sent > 0.0, "{figures:?}");
    }

    #[test]
    fn refuses_plans_outside_its_bounds() {
        let plan = |rate, copies| FloorPlan {
            rate,
            copies,
            duration: Duration::from_millis(10),
        };
        assert!(measure(plan(0.0, 1.0)).is_err());
        assert!(measure(plan(1e9, 1.0)).is_err());
        assert!(measure(plan(100.0, 0.0)).is_err());
        assert!(measure(plan(100.0, 101.0)).is_err());
    }
}
