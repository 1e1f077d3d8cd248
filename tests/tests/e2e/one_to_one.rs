//! A mediator and one party in a room: each receives the other's audio and video, intact.

use accord_tests::media::VideoSize;
use accord_tests::scenario::{
    MediaExpectation, close_all, expect_full_mesh, expect_no_errors, expect_receives,
};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn mediator_and_party_receive_each_others_audio_and_video() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "one-to-one";
    let mediator = TestClient::join(
        &server,
        room,
        ClientOptions::new("mediator", "mediator")
            .with_video(VideoPublish::Single(VideoSize::Half)),
    )
    .await?;
    let party = TestClient::join(&server, room, ClientOptions::new("party", "party")).await?;

    // The party joined second, so it learns about the mediator from `joined` and the
    // mediator learns about the party from `participant_joined`.
    ensure!(
        party
            .joined()
            .participants
            .iter()
            .any(|p| p.id == mediator.id() && p.role == "mediator"),
        "the party's `joined` should list the mediator; it listed {:?}",
        party.joined().participants
    );
    mediator
        .wait_for_frame(
            "participant_joined for the party",
            Duration::from_secs(5),
            |f| {
                matches!(f, accord_tests::protocol::ServerFrame::ParticipantJoined { participant }
                if participant.id == party.id())
            },
        )
        .await?;

    let exp = MediaExpectation::default();
    expect_full_mesh(&[&mediator, &party], &exp).await?;
    expect_no_errors(&[&mediator, &party])?;

    // Media keeps flowing: another second later the counters have moved on.
    let before = party
        .received_from(mediator.id(), "video")
        .map(|r| r.packets)
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let longer = MediaExpectation {
        video_packets: before + 20,
        ..exp
    };
    expect_receives(&party, &mediator, &longer).await?;

    // The server's own view agrees: two participants, four tracks, packets forwarded.
    let metric = |name: &'static str| {
        let server = &server;
        async move {
            server
                .metric(name)
                .await?
                .with_context(|| format!("/metrics has no {name}"))
        }
    };
    ensure!(
        metric("accord_participants").await? == 2.0,
        "accord_participants != 2"
    );
    ensure!(metric("accord_tracks").await? == 4.0, "accord_tracks != 4");
    let forwarded = metric("accord_forwarded_packets_total").await?;
    ensure!(
        forwarded > 0.0,
        "accord_forwarded_packets_total is {forwarded}"
    );

    // Media comes in on each participant's own socket, read by its shard, not handed over
    // from the media reader's thread: only the first ICE checks are.
    let direct = metric("accord_direct_datagrams_total").await?;
    let handed_over = metric("accord_handed_over_datagrams_total").await?;
    ensure!(
        direct > 20.0 * handed_over.max(1.0),
        "{direct} datagrams read directly against {handed_over} handed over"
    );
    // Operators see how long media stays in the server (one scrape: the counts move).
    let text = server.metrics_text().await?;
    let sample = |series: &str| accord_tests::server::parse_metric(&text, series);
    let batches = sample("accord_forward_delay_seconds_count");
    let within_inf = sample("accord_forward_delay_seconds_bucket{le=\"+Inf\"}");
    ensure!(
        batches.is_some_and(|n| n > 0.0) && within_inf == batches,
        "forwarding delay histogram: {batches:?} batches, {within_inf:?} in +Inf"
    );

    close_all(vec![mediator, party]).await?;
    server.stop().await
}
