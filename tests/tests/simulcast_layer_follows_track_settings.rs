//! A subscriber's `track_settings` picks the simulcast layer it receives: small tiles get the
//! quarter layer, large ones the full layer, and a disabled tile gets no video at all. Every
//! switch keeps one SSRC and continuous sequence numbers and timestamps.

use accord_tests::scenario::{MediaExpectation, close_all, expect_no_errors, expect_receives};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

const SWITCH_TIMEOUT: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread")]
async fn subscriber_gets_the_layer_that_fits_its_tile() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "simulcast-layers";
    let mediator = TestClient::join(
        &server,
        room,
        ClientOptions::new("mediator", "mediator").with_video(VideoPublish::Simulcast),
    )
    .await?;
    // The party only watches; publishing nothing keeps the test about the mediator's layers.
    let party = TestClient::join(
        &server,
        room,
        ClientOptions::new("party", "party")
            .without_audio()
            .with_video(VideoPublish::None),
    )
    .await?;

    expect_receives(&party, &mediator, &MediaExpectation::default()).await?;
    let video = party
        .track_of(mediator.id(), "video")
        .context("the party knows no video track of the mediator")?;

    for (width, height, rid) in [(320, 180, "q"), (1280, 720, "f"), (640, 360, "h")] {
        party.send_track_settings(&video.id, width, height).await?;
        party
            .wait_for_layer_from(&mediator, rid, SWITCH_TIMEOUT)
            .await
            .with_context(|| format!("after track_settings {width}x{height}"))?;
    }

    // Three switches later the stream still looks like one continuous stream.
    let rx = party
        .received_from(mediator.id(), "video")
        .context("no video")?;
    ensure!(
        rx.ssrcs.len() == 1,
        "layer switches changed the SSRC: {}",
        rx.summary()
    );
    ensure!(
        rx.timestamp_jumps == 0,
        "layer switches broke timestamps: {}",
        rx.summary()
    );
    ensure!(
        rx.lost_packets * 50 <= rx.packets,
        "layer switches left sequence gaps: {}",
        rx.summary()
    );
    ensure!(
        rx.keyframes >= 3,
        "each switch should start on a keyframe: {}",
        rx.summary()
    );
    party.check_payloads_from(&mediator)?;

    // A disabled tile receives no video; enabling it again brings video back.
    party
        .send(accord_tests::protocol::ClientFrame::TrackSettings {
            track_id: video.id.clone(),
            width: 640,
            height: 360,
            enabled: Some(false),
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let paused_at = party
        .received_from(mediator.id(), "video")
        .map_or(0, |r| r.packets);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = party
        .received_from(mediator.id(), "video")
        .map_or(0, |r| r.packets);
    ensure!(
        still == paused_at,
        "video kept flowing after enabled=false: {} more packets",
        still - paused_at
    );
    party.send_track_settings(&video.id, 640, 360).await?;
    let resumed = MediaExpectation {
        video_packets: still + 30,
        ..MediaExpectation::default()
    };
    expect_receives(&party, &mediator, &resumed).await?;
    party
        .wait_for_layer_from(&mediator, "h", SWITCH_TIMEOUT)
        .await?;

    expect_no_errors(&[&mediator, &party])?;
    close_all(vec![mediator, party]).await?;
    server.stop().await
}
