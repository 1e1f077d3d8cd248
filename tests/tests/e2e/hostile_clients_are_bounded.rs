//! What one hostile or broken client can do to a room and to the server is bounded: a
//! chat flood is refused (and not stored) past the rate limit, evidence uploads are limited
//! per minute and per session, a client that stops reading its socket is dropped and its
//! seat given up while the server's memory stays flat, and the first connectivity check of a
//! new participant is routed rather than dropped.

use std::time::{Duration, Instant};

use accord_tests::case_world::tiny_png;
use accord_tests::protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use accord_tests::session_world::{APPLICANT, RESPONDENT, SessionWorld, join_admitted};
use accord_tests::{Bystander, ClientOptions, TestClient, TestServer, TokenRequest, VideoPublish};
use anyhow::{Context, Result, bail, ensure};
use futures_util::SinkExt;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

/// The chat frames (ours or others') a client has received.
fn chats(client: &Bystander) -> usize {
    client
        .frames()
        .iter()
        .filter(|f| matches!(f, ServerFrame::Chat { .. }))
        .count()
}

#[tokio::test]
async fn a_chat_flood_is_refused_past_the_limit_and_the_excess_is_not_stored() -> Result<()> {
    let world = SessionWorld::new().await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let party = join_admitted(&world, &mediator, APPLICANT).await?;

    // 200 messages in about two seconds, as a script would send them.
    let started = Instant::now();
    for i in 0..200 {
        party
            .send(ClientFrame::Chat {
                text: format!("刷屏 {i}"),
            })
            .await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "flood: 200 chats sent in {} ms",
        started.elapsed().as_millis()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let limited: Vec<_> = party
        .raw_frames()
        .into_iter()
        .filter(|f| f.contains(r#""code":"rate_limited""#))
        .collect();
    ensure!(
        limited.len() >= 150,
        "most of the flood is refused with rate_limited: {} refusals",
        limited.len()
    );
    let first: serde_json::Value = serde_json::from_str(&limited[0])?;
    ensure!(
        first["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0) && first["fatal"] == false,
        "a refusal says when to try again and keeps the socket: {first}"
    );
    let stored = world
        .timeline()
        .await?
        .into_iter()
        .filter(|e| e["kind"] == "chat")
        .count();
    let delivered = chats(&mediator);
    eprintln!(
        "flood: {stored} of 200 stored, {delivered} delivered, {} refused",
        limited.len()
    );
    ensure!(
        stored + limited.len() == 200,
        "every message is either stored or refused ({stored} + {})",
        limited.len()
    );
    ensure!(
        stored <= 30,
        "far fewer than 200 stored: {stored} (the limit is 10 in a burst, 5/s)"
    );
    ensure!(
        delivered == stored,
        "the mediator saw exactly what was stored: {delivered} vs {stored}"
    );
    ensure!(
        party
            .frames()
            .iter()
            .all(|f| !matches!(f, ServerFrame::Left { .. })),
        "the flooder keeps its seat"
    );
    world.world.server.stop().await
}

#[tokio::test]
async fn evidence_uploads_are_limited_per_minute_and_per_session() -> Result<()> {
    // A 1 MiB share per session, so the cap is reached with a few files.
    let world =
        SessionWorld::new_with_env(&[("ACCORD_SIGNALING_EVIDENCE_SESSION_MIB", "1")]).await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let _applicant = join_admitted(&world, &mediator, APPLICANT).await?;
    let respondent = join_admitted(&world, &mediator, RESPONDENT).await?;
    let api = &world.world.api;
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let token = world.token(name).map(str::to_owned);
        async move {
            api.upload(
                "/api/v1/room/evidence",
                "photo.png",
                "image/png",
                bytes,
                &token?,
            )
            .await
        }
    };

    // 40 small files as fast as they go: the first ten in a minute are taken.
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..40 {
        let answer = upload(APPLICANT, tiny_png()).await?;
        if answer.status == StatusCode::TOO_MANY_REQUESTS && refusal.is_none() {
            refusal = Some(answer.body.clone());
        }
        statuses.push(answer.status.as_u16());
    }
    let created = statuses.iter().filter(|&&s| s == 201).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    eprintln!("uploads: {created} created, {limited} refused with 429 of 40");
    ensure!(
        created == 10 && limited == 30,
        "ten uploads a minute per participant: {statuses:?}"
    );
    ensure!(
        statuses[..10].iter().all(|&s| s == 201),
        "the first ten are taken"
    );
    let refusal = refusal.context("a 429 body")?;
    ensure!(
        refusal["code"] == "too_many_requests" && refusal["message"].is_string(),
        "{refusal}"
    );

    // The other side shares big files until the session's 1 MiB is used up.
    let mut big = tiny_png();
    big.resize(400 * 1024, 0);
    // Each file different, so each would be a blob of its own.
    let mut big_file = |n: u8| {
        big[1000] = n;
        big.clone()
    };
    let blobs = world.world.server.data_dir().join("blobs");
    let first = upload(RESPONDENT, big_file(1)).await?;
    let second = upload(RESPONDENT, big_file(2)).await?;
    let kept = files_under(&blobs)?;
    let third = upload(RESPONDENT, big_file(3)).await?;
    eprintln!(
        "session cap: {} / {} / {} ({})",
        first.status, second.status, third.status, third.body
    );
    ensure!(first.status == StatusCode::CREATED && second.status == StatusCode::CREATED);
    ensure!(
        third.status == StatusCode::PAYLOAD_TOO_LARGE
            && third.body["code"] == "payload_too_large"
            && third.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("session")),
        "past the session's share: {} {}",
        third.status,
        third.body
    );
    ensure!(
        files_under(&blobs)? == kept,
        "a refused file leaves nothing in the blob store"
    );
    let shared = respondent
        .raw_frames()
        .iter()
        .filter(|f| f.contains(r#""type":"evidence_shared""#))
        .count();
    ensure!(
        shared == 12,
        "the room was shown the 12 files taken, and no refused one: {shared}"
    );
    world.world.server.stop().await
}

/// Files in a folder and its subfolders.
fn files_under(dir: &std::path::Path) -> Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        count += if entry.file_type()?.is_dir() {
            files_under(&entry.path())?
        } else {
            1
        };
    }
    Ok(count)
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS in /proc/<pid>/status")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_dropped_and_memory_stays_flat() -> Result<()> {
    // Chat limits out of the way: this is about a flood the server must carry.
    let server = TestServer::start_with_env(&[
        accord_tests::ONE_PROCESS,
        ("ACCORD_SIGNALING_CHAT_PER_SECOND", "10000"),
        ("ACCORD_SIGNALING_CHAT_PER_MINUTE", "100000"),
    ])
    .await?;
    let pid = server.pid().context("server pid")?;
    let room = "stalled";
    let token = |identity: &str| {
        let request = TokenRequest::new(room, identity, "party");
        let server = &server;
        async move { server.mint(&request).await }
    };
    let watcher =
        Bystander::join(&server.ws_url(), &token("watcher").await?, None, "watcher").await?;

    // A raw socket with a tiny receive buffer, which joins and then never reads again.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let tcp = socket.connect(server.http_addr()).await?;
    let (mut stalled, _) = tokio_tungstenite::client_async(server.ws_url(), tcp).await?;
    let join = serde_json::json!({
        "type": "join", "protocol": PROTOCOL_VERSION, "token": token("stalled").await?,
    });
    stalled.send(Message::text(join.to_string())).await?;
    let joined = watcher
        .wait_for_frame("the stalled client joins", WAIT, |f| {
            matches!(f, ServerFrame::ParticipantJoined { participant } if participant.name == "stalled")
        })
        .await?;
    let ServerFrame::ParticipantJoined { participant } = joined else {
        bail!("not a join");
    };
    let stalled_id = participant.id;

    let mut flooders = Vec::new();
    for i in 0..3 {
        let who = format!("flooder{i}");
        flooders.push(Bystander::join(&server.ws_url(), &token(&who).await?, None, &who).await?);
    }
    let before = rss_kib(pid)?;
    let text: String = "漏".repeat(2000);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut dropped_after = None;
    while started.elapsed() < Duration::from_secs(45) {
        for f in &flooders {
            f.send(ClientFrame::Chat { text: text.clone() }).await?;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let left = watcher.frames().iter().any(|f| {
            matches!(f, ServerFrame::ParticipantLeft { participant_id, .. } if *participant_id == stalled_id)
        });
        if left && dropped_after.is_none() {
            dropped_after = Some(started.elapsed());
        }
        // Keep flooding a while after the drop: memory must stay flat either way.
        if dropped_after.is_some_and(|d| started.elapsed() > d + Duration::from_secs(5)) {
            break;
        }
    }
    let after = rss_kib(pid)?;
    eprintln!(
        "stalled reader: {sent} chats of {} bytes sent in {} ms; server RSS {} MiB before, {} MiB after; dropped after {:?}",
        text.len(),
        started.elapsed().as_millis(),
        before / 1024,
        after / 1024,
        dropped_after
    );
    let dropped_after = dropped_after
        .context("the stalled client was never dropped: the others never saw it leave")?;
    ensure!(
        dropped_after < Duration::from_secs(40),
        "dropped within 40 s (after {dropped_after:?})"
    );
    ensure!(
        after.saturating_sub(before) < 64 * 1024,
        "server memory grew by {} MiB under the flood",
        after.saturating_sub(before) / 1024
    );
    let everyone_else = watcher.participants();
    ensure!(
        everyone_else.iter().all(|p| p.id != stalled_id) && everyone_else.len() == 3,
        "its seat is given up, the flooders keep theirs: {everyone_else:?}"
    );
    for f in &flooders {
        ensure!(
            f.frames()
                .iter()
                .all(|f| !matches!(f, ServerFrame::Left { .. })),
            "a client that reads keeps its seat"
        );
    }
    drop(stalled);
    server.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_connectivity_check_of_each_join_is_routed() -> Result<()> {
    // Datagrams sent straight at one node's media port.
    let server = TestServer::start_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let unrouted = || async {
        Ok::<f64, anyhow::Error>(
            server
                .metric("accord_unrouted_datagrams_total")
                .await?
                .unwrap_or(0.0),
        )
    };
    let before = unrouted().await?;
    let mut clients = Vec::new();
    for i in 0..8 {
        let options = ClientOptions::new(&format!("c{i}"), "party").with_video(VideoPublish::None);
        let client = TestClient::join(&server, &format!("routing-{i}"), options).await?;
        client.wait_connected(WAIT).await?;
        clients.push(client);
    }
    let after = unrouted().await?;
    eprintln!("unrouted datagrams over 8 joins: {before} before, {after} after");
    ensure!(
        after == before,
        "{} datagrams of 8 joins went unrouted (a first binding request dropped)",
        after - before
    );
    for c in clients {
        c.close().await?;
    }
    server.stop().await
}
