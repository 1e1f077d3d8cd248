//! The mediator's console knows how each party's connection is doing, as court video-hearing
//! systems show the presiding judge: every two seconds the server reports loss, round trip
//! and bitrates per participant, measured on the real packets. A party sees only its own.
//! A party on a costly or weak link can ask for no video ("save data"): it is told it is
//! audio-only, its video stops while its audio keeps flowing, and comes back when it asks.
//!
//! The loss is real: the server announces 127.0.0.2 and the userspace impairment proxy there
//! drops 6% of what the parties send.

use accord_tests::impair::{Direction, ImpairProxy, LinkConditions, ProxyConfig};
use accord_tests::protocol::{ClientFrame, ConnectionHealth, ServerFrame};
use accord_tests::{Bystander, ClientOptions, TestClient, TestServer, TokenRequest};
use anyhow::{Context, Result, ensure};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const UPLINK_LOSS: f64 = 0.06;
const NOTICE: Duration = Duration::from_secs(10);

fn health_entries(frames: &[ServerFrame]) -> Vec<Vec<ConnectionHealth>> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::ConnectionHealth { participants } => Some(participants.clone()),
            _ => None,
        })
        .collect()
}

fn packets(client: &TestClient, from: &str, kind: &str) -> u64 {
    client.received_from(from, kind).map_or(0, |r| r.packets)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mediator_sees_each_partys_link_and_a_party_can_save_data() -> Result<()> {
    // A proxy in front of one node's media port.
    let server = TestServer::start_with_env(&[
        accord_tests::ONE_PROCESS,
        ("ACCORD_MEDIA_LISTEN", "127.0.0.1:0"),
        ("ACCORD_MEDIA_ANNOUNCE", "127.0.0.2"),
        ("ACCORD_MEDIA_TCP_LISTEN", "off"),
    ])
    .await?;
    let media = server.media_addr();
    let announced = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), media.port());
    let proxy = ImpairProxy::start(announced, media, ProxyConfig::default()).await?;
    let room = "health";

    let token = server
        .mint(&TokenRequest::new(room, "mediator", "mediator"))
        .await?;
    let mediator = Bystander::join(&server.ws_url(), &token, None, "mediator").await?;
    let zhang = TestClient::join(&server, room, ClientOptions::new("zhang", "party")).await?;
    let li = TestClient::join(&server, room, ClientOptions::new("li", "party")).await?;
    zhang.wait_connected(Duration::from_secs(15)).await?;
    li.wait_connected(Duration::from_secs(15)).await?;
    li.wait_for_media_from(zhang.id(), "video", 30, Duration::from_secs(15))
        .await?;
    let (zhang_id, li_id) = (zhang.id().to_owned(), li.id().to_owned());

    proxy
        .handle()
        .set(Direction::ToServer, LinkConditions::lossy(UPLINK_LOSS));
    let lossy_since = mediator.frames().len();
    // Reports under loss: the first may straddle the change, the next three cover only lossy
    // seconds. One report counts some 220 packets, of which random loss drops 13.5 on average;
    // about one report in forty shows under 3 %. The mean of three is checked (under 3 % about
    // once in two thousand).
    let mut seen: Option<ConnectionHealth> = None;
    let mut losses: Vec<f64> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let frames = mediator.frames();
        let reports = health_entries(&frames[lossy_since.min(frames.len())..]);
        if reports.len() >= 4 {
            let latest = reports.last().context("a report")?;
            seen = latest
                .iter()
                .find(|h| h.participant_id == zhang_id)
                .cloned();
            ensure!(
                latest.iter().any(|h| h.participant_id == li_id),
                "the mediator's report leaves out a party: {latest:?}"
            );
            losses = reports[1..4]
                .iter()
                .filter_map(|r| r.iter().find(|h| h.participant_id == zhang_id))
                .filter_map(|h| h.uplink_loss_percent)
                .collect();
            break;
        }
    }
    let zhang_health = seen.context("no health report about zhang reached the mediator")?;
    println!(
        "zhang's link as the mediator sees it under {UPLINK_LOSS} uplink loss: {zhang_health:?}; \
         uplink loss in three lossy reports: {losses:?}"
    );
    ensure!(
        losses.len() == 3,
        "three reports under loss should each give zhang's uplink loss: {losses:?}"
    );
    let loss = losses.iter().sum::<f64>() / 3.0;
    ensure!(
        (3.0..=10.0).contains(&loss),
        "reported uplink loss {loss}% on average for a link that drops {}%",
        UPLINK_LOSS * 100.0
    );
    ensure!(
        zhang_health.quality == "fair" || zhang_health.quality == "poor",
        "a link losing 6% of its packets is reported {:?}",
        zhang_health.quality
    );
    ensure!(
        zhang_health.send_kbps > 50 && zhang_health.receive_kbps > 50,
        "bitrates missing: {zhang_health:?}"
    );
    proxy.handle().set_both(LinkConditions::default());

    // A party hears only about itself.
    for reports in health_entries(&li.frames()) {
        ensure!(
            reports.iter().all(|h| h.participant_id == li_id),
            "a party was told about someone else's connection: {reports:?}"
        );
    }
    ensure!(
        !health_entries(&li.frames()).is_empty(),
        "no health report reached the party about itself"
    );

    // Save data: no video to li, audio goes on.
    li.send(ClientFrame::SaveData { enabled: true }).await?;
    li.wait_for_frame("audio_only for saving data", NOTICE, |f| {
        matches!(f, ServerFrame::AudioOnly { active: true, reason } if reason.as_deref() == Some("save_data"))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (video0, audio0) = (
        packets(&li, &zhang_id, "video"),
        packets(&li, &zhang_id, "audio"),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (video1, audio1) = (
        packets(&li, &zhang_id, "video"),
        packets(&li, &zhang_id, "audio"),
    );
    println!(
        "saving data for 2 s: video +{} audio +{} packets",
        video1 - video0,
        audio1 - audio0
    );
    ensure!(
        video1 == video0,
        "video kept coming while saving data: {video0}→{video1}"
    );
    ensure!(
        audio1 > audio0 + 50,
        "audio stalled while saving data: {audio0}→{audio1}"
    );

    li.send(ClientFrame::SaveData { enabled: false }).await?;
    li.wait_for_frame("audio_only lifted", NOTICE, |f| {
        matches!(f, ServerFrame::AudioOnly { active: false, .. })
    })
    .await?;
    li.wait_for_media_from(&zhang_id, "video", video1 + 30, NOTICE)
        .await
        .context("video did not come back after saving data ended")?;

    zhang.close().await?;
    li.close().await?;
    Ok(())
}
