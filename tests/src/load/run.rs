//! One load run, start to finish: server, joins, warm-up, the measured window, teardown.

use super::baseline::Baseline;
use super::client::{LoadClient, LoadClientOptions};
use super::config::{Args, Scenario, Spread};
use super::floor;
use super::nodes::Placement;
use super::pacer::{MediaPlan, SentCounter};
use super::procfs;
use super::recorded_room::RecordedRoom;
use super::recorder::{Gate, Latency, Recorder, StreamStats};
use super::report::{Cpu, Durations, Loss, PathLatency, Report};
use super::target::Target;
use crate::server::TokenRequest;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Longest one participant's join (WebSocket, `joined`, peer connection set-up) may take.
const JOIN_LIMIT: Duration = Duration::from_secs(30);
/// Longest we wait for every stream to flow after the last join.
const SETTLE_LIMIT: Duration = Duration::from_secs(20);
/// Client errors kept in the report.
const MAX_ERRORS: usize = 10;

/// Runs the load `args` describes and returns the report. Always stops a server it started,
/// and never runs longer than the joins, warm-up and window need plus 90 s.
pub async fn run(args: &Args) -> Result<Report> {
    let scenario = args.scenario()?;
    let plan = MediaPlan {
        keyframe_interval: args.keyframe_interval,
        ..MediaPlan::default()
    };
    let room_limit = scenario.room_size().max(20);
    let mut target = if !args.url.is_empty() {
        Target::external(
            &args.url,
            args.api_key.as_deref().unwrap_or_default(),
            &args.server_pid,
        )?
    } else if args.nodes > 1 {
        Target::start_pair(&server_bin(args)?, room_limit, &args.redis_url).await?
    } else {
        Target::start(&server_bin(args)?, room_limit).await?
    };
    let joins = scenario.participants() as u64 * args.join_interval_ms / 1000;
    // Recording adds its notice before the joins and finalising after the window.
    let recording = if args.record { 150 } else { 0 };
    let limit = Duration::from_secs(joins + args.warmup + args.duration + 90 + recording);
    let outcome = tokio::time::timeout(limit, measure(args, scenario, plan, &mut target)).await;
    let server_bin = target.is_own().then(|| server_bin(args).ok()).flatten();
    let stopped = target.stop().await;
    let mut report = match outcome {
        Ok(report) => report?,
        Err(_) => bail!("the run did not finish within its limit of {limit:?}"),
    };
    stopped.context("stopping the server")?;
    report.server_bin = server_bin.map(|p| p.display().to_string());
    if args.floor {
        report.floor = Some(measure_floor(&report, args.duration).await?);
    }
    report.evaluate();
    Ok(report)
}

/// The floor at the rate the server received media in the window and with its fan-out,
/// once the server is gone (at most 20 s: the figure settles within a few).
async fn measure_floor(report: &Report, duration: u64) -> Result<floor::FloorFigures> {
    let rate = report.sent_pps;
    if rate < 1.0 || report.forwarded_pps <= 0.0 {
        bail!("--floor needs media sent and forwarded in the window");
    }
    let plan = floor::FloorPlan {
        rate,
        copies: report.forwarded_pps / rate,
        duration: Duration::from_secs(duration.clamp(1, 20)),
    };
    tokio::task::spawn_blocking(move || floor::measure(plan))
        .await
        .context("the floor probe")?
}

/// `--server-bin`, else the release build if there is one, else the debug build.
fn server_bin(args: &Args) -> Result<PathBuf> {
    if let Some(bin) = &args.server_bin {
        return Ok(bin.clone());
    }
    let target = crate::target_dir()?;
    let release = target.join("release").join("accord");
    if release.is_file() {
        return Ok(release);
    }
    let debug = target.join("debug").join("accord");
    if debug.is_file() {
        return Ok(debug);
    }
    bail!("no accord binary: run `cargo build --release --bins` or pass --server-bin")
}

/// One participant to create.
struct Planned {
    room: String,
    /// The node its WebSocket goes to.
    node: usize,
    options: LoadClientOptions,
}

/// `recorded_room`, when given, is the name of the first room (the recorded one). Clients
/// go to `nodes` nodes as `spread` says.
fn plan_participants(
    scenario: Scenario,
    plan: MediaPlan,
    recorded_room: Option<&str>,
    (spread, nodes): (Spread, usize),
) -> Vec<Planned> {
    let run_id = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let room_name = |suffix: String, first: bool| match recorded_room {
        Some(name) if first => name.to_owned(),
        _ => format!("load-{run_id}-{suffix}"),
    };
    let make = |room: String, identity: String, publish: bool, phase: usize, node: usize| Planned {
        room,
        node,
        options: LoadClientOptions {
            identity,
            publish,
            tile_phase: phase,
            plan,
            audio_level: 20 + (phase % 60) as u8,
        },
    };
    match scenario {
        // Round-robin over rooms, so rooms fill at the same time and every joiner after the
        // first of a room finds media already flowing there.
        Scenario::Rooms {
            rooms,
            participants,
        } => (0..participants)
            .flat_map(|p| (0..rooms).map(move |r| (r, p)))
            .map(|(r, p)| {
                make(
                    room_name(format!("room{r}"), r == 0),
                    format!("r{r}-p{p}"),
                    true,
                    p,
                    spread.node(r, p, nodes),
                )
            })
            .collect(),
        Scenario::FanOut { subscribers } => {
            let room = room_name("fanout".into(), true);
            std::iter::once(make(room.clone(), "publisher".into(), true, 0, 0))
                .chain((0..subscribers).map(|s| {
                    let node = spread.node(0, s + 1, nodes);
                    make(room.clone(), format!("sub{s}"), false, s, node)
                }))
                .collect()
        }
    }
}

struct Shared {
    gate: Arc<Gate>,
    sfu: Arc<Latency>,
    sent: Arc<SentCounter>,
}

async fn join_one(ws: String, token: String, p: Planned, s: &Shared) -> Result<LoadClient> {
    let recorder = Arc::new(Recorder::new(Arc::clone(&s.gate), Arc::clone(&s.sfu)));
    let who = p.options.identity.clone();
    let sent = Arc::clone(&s.sent);
    tokio::time::timeout(
        JOIN_LIMIT,
        LoadClient::connect(&ws, &token, p.options, recorder, sent),
    )
    .await
    .with_context(|| format!("{who}: join took over {JOIN_LIMIT:?}"))?
}

async fn measure(
    args: &Args,
    scenario: Scenario,
    plan: MediaPlan,
    target: &mut Target,
) -> Result<Report> {
    let shared = Arc::new(Shared {
        gate: Arc::new(Gate::default()),
        sfu: Arc::new(Latency::default()),
        sent: Arc::new(SentCounter::default()),
    });
    let pids = target.pids();
    let known_pids: Vec<u32> = pids.iter().flatten().copied().collect();
    // Every node's, added up; unknown unless every pid is known.
    let rss = || -> Option<u64> {
        pids.iter()
            .map(|p| p.and_then(|p| procfs::rss_kib(p).ok()))
            .sum()
    };
    let cpu = || -> Vec<Option<f64>> {
        pids.iter()
            .map(|p| p.and_then(|p| procfs::cpu_seconds(Some(p)).ok()))
            .collect()
    };
    let threads = || {
        let mut all = BTreeMap::new();
        for pid in &known_pids {
            for (name, seconds) in procfs::thread_cpu_seconds(*pid) {
                *all.entry(name).or_insert(0.0) += seconds;
            }
        }
        all
    };
    let rss_before = rss();

    // The recording runs before anyone joins, so every track of its room is recorded.
    let mut recorded = match args.record {
        true => Some(
            RecordedRoom::open(target.http_url(), &target.ws_url(), scenario.room_size()).await?,
        ),
        false => None,
    };

    // Tokens first, so minting is not part of join time.
    let planned = plan_participants(
        scenario,
        plan,
        recorded.as_ref().map(RecordedRoom::room),
        (args.spread, target.node_count()),
    );
    let mut sockets = vec![0usize; target.node_count()];
    for p in &planned {
        sockets[p.node] += 1;
    }
    let mut tokens = Vec::with_capacity(planned.len());
    for p in &planned {
        if let Some(room) = recorded.as_mut().filter(|r| r.room() == p.room) {
            tokens.push(room.next_invite().context("an invite for each seat")?);
            continue;
        }
        let mut request = TokenRequest::new(&p.room, &p.options.identity, "party");
        if !p.options.publish {
            request.role = "observer".into();
            request.can_publish = false;
        }
        tokens.push(target.mint(&request).await?);
    }

    let interval = Duration::from_millis(args.join_interval_ms);
    let total = planned.len();
    let mut clients = Vec::new();
    let mut failures = Vec::new();
    let mut handles = Vec::new();
    for (i, (p, token)) in planned.into_iter().zip(tokens).enumerate() {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        let ws = target.ws_url_of(p.node);
        if matches!(scenario, Scenario::FanOut { .. }) && i == 0 {
            // The publisher first, and streaming, before anyone subscribes.
            let publisher = join_one(ws, token, p, &shared).await?;
            let deadline = Instant::now() + Duration::from_secs(15);
            while publisher.connected_at().is_none() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            clients.push(publisher);
            continue;
        }
        let shared = Arc::clone(&shared);
        handles.push(tokio::spawn(async move {
            join_one(ws, token, p, &shared).await
        }));
    }
    for handle in handles {
        match handle.await {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(err)) => failures.push(format!("{err:#}")),
            Err(err) => failures.push(format!("join task failed: {err}")),
        }
    }
    target.check_alive()?;
    if let Some(room) = recorded.as_mut() {
        room.stop_admitting();
    }
    settle(scenario, &clients).await;

    let baseline_latency = Arc::new(Latency::default());
    let mut client_errors = Vec::new();
    let baseline = if args.no_baseline {
        None
    } else {
        let recorder = Arc::new(Recorder::new(
            Arc::clone(&shared.gate),
            Arc::clone(&baseline_latency),
        ));
        match Baseline::start(plan, recorder).await {
            Ok(b) => Some(b),
            Err(err) => {
                client_errors.push(format!("baseline: {err:#}"));
                None
            }
        }
    };
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;

    // The measured window.
    let counters_before = target.node_counters().await?;
    let cpu_before = cpu();
    let threads_before = threads();
    let tool_before = procfs::cpu_seconds(None)?;
    let machine_before = procfs::machine_busy_seconds()?;
    let rss_joined = rss();
    shared.gate.set(true);
    shared.sent.counting.store(true, Relaxed);
    let started = Instant::now();
    let window = Duration::from_secs(args.duration);
    while started.elapsed() < window {
        tokio::time::sleep((window - started.elapsed()).min(Duration::from_secs(1))).await;
        target.check_alive()?;
    }
    shared.gate.set(false);
    shared.sent.counting.store(false, Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let tool_after = procfs::cpu_seconds(None)?;
    let machine_after = procfs::machine_busy_seconds()?;
    let cpu_after = cpu();
    let threads_after = threads();
    let counters_after = target.node_counters().await?;
    let rss_end = rss();
    let node_window: Vec<_> = counters_after
        .iter()
        .zip(&counters_before)
        .map(|(after, before)| after.since(before))
        .collect();
    let node_cpu: Vec<Option<f64>> = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(before, after)| Some((*after)? - (*before)?))
        .collect();

    let mut report = Report {
        scenario: scenario.describe(),
        machine: procfs::machine(),
        participants: total,
        joined: clients.len(),
        join_failures: failures.into_iter().take(MAX_ERRORS).collect(),
        window_seconds: seconds,
        sent_pps: shared.sent.packets.load(Relaxed) as f64 / seconds,
        ..Report::default()
    };
    report.server_counters = super::target::ServerCounters::sum(&node_window);
    let forwarded = report.server_counters.forwarded_packets;
    report.forwarded_pps = forwarded / seconds;
    if target.node_count() > 1 {
        let urls = (0..target.node_count())
            .map(|n| target.http_url_of(n).to_owned())
            .collect();
        report.placement = Some(Placement::of(
            args.spread,
            urls,
            &sockets,
            &node_window,
            &node_cpu,
        ));
    }
    fill_streams(&mut report, &clients);
    fill_joins(&mut report, &clients);
    let sfu = PathLatency::of(&shared.sfu.snapshot());
    if baseline.is_some() {
        let base = PathLatency::of(&baseline_latency.snapshot());
        if base.all.count > 0 && sfu.all.count > 0 {
            report.added_latency_us = Some([
                sfu.all.p50_us - base.all.p50_us,
                sfu.all.p95_us - base.all.p95_us,
                sfu.all.p99_us - base.all.p99_us,
            ]);
        }
        report.latency_baseline = Some(base);
    }
    report.latency_sfu = sfu;
    if let Some(used) = node_cpu.iter().copied().sum::<Option<f64>>() {
        report.server_cpu = Some(Cpu {
            seconds: used,
            cores: used / seconds,
        });
        if forwarded > 0.0 {
            report.server_cpu_us_per_forwarded = Some(used * 1e6 / forwarded);
        }
    }
    report.server_threads = thread_deltas(&threads_before, &threads_after);
    if let Some(room) = recorded {
        // Stopped while the participants still send, so every track ends at the stop.
        let mut figures = room.stop().await?;
        figures.recorded_packets = report.server_counters.recorded_packets;
        figures.recorder_thread_seconds = report
            .server_threads
            .get("recorder")
            .copied()
            .unwrap_or(0.0);
        report.recording = Some(figures);
    }
    if let (Some(before), Some(joined), Some(end)) = (rss_before, rss_joined, rss_end) {
        report.server_rss_kib = Some([before, joined, end]);
        report.server_rss_per_participant_kib =
            Some(joined.saturating_sub(before) as f64 / clients.len().max(1) as f64);
    }
    report.tool_cpu = Cpu {
        seconds: tool_after - tool_before,
        cores: (tool_after - tool_before) / seconds,
    };
    let server_seconds = report.server_cpu.as_ref().map_or(0.0, |c| c.seconds);
    let other =
        (machine_after - machine_before - server_seconds - report.tool_cpu.seconds).max(0.0);
    report.other_cpu = Cpu {
        seconds: other,
        cores: other / seconds,
    };
    client_errors.extend(clients.iter().flat_map(|c| {
        c.errors()
            .into_iter()
            .map(|e| format!("{}: {e}", c.identity))
    }));
    report.client_errors = client_errors.into_iter().take(MAX_ERRORS).collect();

    futures_util::future::join_all(clients.into_iter().map(LoadClient::close)).await;
    if let Some(b) = baseline {
        b.close().await;
    }
    Ok(report)
}

/// Waits (bounded) until every client is connected and receives every stream it should.
async fn settle(scenario: Scenario, clients: &[LoadClient]) {
    let expected = |c: &LoadClient| match scenario {
        Scenario::Rooms { participants, .. } => 2 * (participants - 1),
        Scenario::FanOut { .. } if c.identity == "publisher" => 0,
        Scenario::FanOut { .. } => 2,
    };
    let deadline = Instant::now() + SETTLE_LIMIT;
    while Instant::now() < deadline {
        let ready = clients
            .iter()
            .all(|c| c.connected_at().is_some() && c.recorder.streams().len() >= expected(c));
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!("not every stream flows after {SETTLE_LIMIT:?}; measuring anyway");
}

fn fill_streams(report: &mut Report, clients: &[LoadClient]) {
    let mut streams: Vec<(String, StreamStats)> = clients
        .iter()
        .flat_map(|c| {
            c.recorder
                .streams()
                .into_iter()
                .map(|s| (c.identity.clone(), s))
        })
        .filter(|(_, s)| s.packets + s.lost > 0)
        .collect();
    streams.sort_by(|a, b| a.1.loss().total_cmp(&b.1.loss()));
    let received: u64 = streams.iter().map(|(_, s)| s.packets).sum();
    report.received_pps = received as f64 / report.window_seconds;
    for (_, s) in &streams {
        for (sum, n) in report.layers_received.iter_mut().zip(s.layers) {
            *sum += n;
        }
    }
    report.unstamped_packets = clients.iter().map(|c| c.recorder.unstamped()).sum();
    let median = streams
        .get(streams.len() / 2)
        .map_or(0.0, |(_, s)| s.loss());
    let worst = streams.last();
    report.loss = Loss {
        streams: streams.len(),
        median_percent: median * 100.0,
        worst_percent: worst.map_or(0.0, |(_, s)| s.loss() * 100.0),
        worst_stream: worst.map_or_else(String::new, |(who, s)| {
            format!("{who} ← {} (ssrc {})", s.track_id, s.ssrc)
        }),
        lost_packets: streams.iter().map(|(_, s)| s.lost).sum(),
        late_packets: streams.iter().map(|(_, s)| s.late).sum(),
    };
}

fn fill_joins(report: &mut Report, clients: &[LoadClient]) {
    let ms = |from: Instant, to: Option<Instant>| {
        to.map(|t| t.saturating_duration_since(from).as_secs_f64() * 1000.0)
    };
    let with_media = || clients.iter().filter(|c| c.media_at_join);
    report.join_to_first_media = Durations::of(
        with_media()
            .filter_map(|c| ms(c.join_sent, c.recorder.first_packet_at()))
            .collect(),
    );
    report.join_to_first_video = Durations::of(
        with_media()
            .filter_map(|c| ms(c.join_sent, c.recorder.first_video_at()))
            .collect(),
    );
    report.join_to_connected = Durations::of(
        clients
            .iter()
            .filter_map(|c| ms(c.join_sent, c.connected_at()))
            .collect(),
    );
}

fn thread_deltas(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, s)| (name.clone(), s - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}
