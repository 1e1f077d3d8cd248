//! A subscriber's `track_settings` picks the simulcast layer it receives: small tiles get the
//! quarter layer, large ones the full layer, and a disabled tile gets no video at all. Every
//! switch keeps one SSRC and continuous sequence numbers and timestamps.

use accord_tests::media::{VIDEO_CLOCK_RATE, VIDEO_FPS};
use accord_tests::scenario::{MediaExpectation, close_all, expect_no_errors, expect_receives};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

const SWITCH_TIMEOUT: Duration = Duration::from_secs(8);
/// RTP timestamp ticks between two video frames.
const FRAME_TICKS: u32 = VIDEO_CLOCK_RATE / VIDEO_FPS;

/// Checks every layer switch in `party`'s packet log of `mediator`'s video: the first packet
/// of the new layer follows the last packet of the old one with the next sequence number, a
/// timestamp at most two frame intervals later (and not earlier or equal: that would be the
/// same picture), and the same SSRC, which also holds across the whole log. A player sees one
/// continuous stream: no gap to NACK, no jump to resynchronise. Returns a description of
/// each switch it saw.
fn check_switches(party: &TestClient, mediator: &TestClient) -> Result<Vec<String>> {
    let log = party.packet_log_from(mediator.id(), "video");
    ensure!(
        !log.is_empty(),
        "the packet log of the mediator's video is empty"
    );
    let ssrcs: std::collections::BTreeSet<u32> = log.iter().map(|p| p.ssrc).collect();
    ensure!(
        ssrcs.len() == 1,
        "the subscriber saw SSRCs {ssrcs:?}; one stream must keep one SSRC"
    );
    let layer = |hash: Option<u64>| hash.and_then(|h| mediator.ledger().layer_of(h)).flatten();
    let mut switches = Vec::new();
    for pair in log.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let (Some(from), Some(to)) = (layer(before.hash), layer(after.hash)) else {
            continue;
        };
        if from == to {
            continue;
        }
        let seq_step = after.seq.wrapping_sub(before.seq);
        let ts_step = after.timestamp.wrapping_sub(before.timestamp) as i32;
        let what = format!(
            "switch {from}→{to}: last {from} packet seq {} ts {}, first {to} packet seq {} ts {} \
             (keyframe: {})",
            before.seq, before.timestamp, after.seq, after.timestamp, after.keyframe
        );
        ensure!(
            seq_step == 1,
            "{what}: the sequence number moved by {seq_step}, not 1"
        );
        ensure!(
            ts_step > 0 && ts_step <= 2 * FRAME_TICKS as i32,
            "{what}: the timestamp moved by {ts_step} ticks, not within (0, {}] \
             (two frame intervals)",
            2 * FRAME_TICKS
        );
        ensure!(
            after.keyframe,
            "{what}: the new layer did not start on a keyframe"
        );
        switches.push(format!("{from}→{to} (+{ts_step} ticks)"));
    }
    Ok(switches)
}

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
    // Every packet, to look at each layer switch up close.
    party.start_packet_log();

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
    // The aggregate counters above would forgive a single small gap or jump; a switch must
    // not have even that. Look at the packets on either side of each one.
    let switches = check_switches(&party, &mediator)?;
    println!("layer switches seen by the party: {switches:?}");
    ensure!(
        switches.len() >= 3,
        "expected at least the three requested layer switches in the packet log, saw {switches:?}"
    );

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
