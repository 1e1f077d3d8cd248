//! A party whose network lets no UDP through (some offices, hotels, hospital Wi-Fi) still
//! takes part: its client gathers TCP candidates only (it has no UDP socket at all), reaches
//! the server's passive ICE-TCP candidate on the one TCP port, and sends and receives audio
//! and video like anyone else, intact.

use accord_tests::scenario::{MediaExpectation, close_all, expect_full_mesh, expect_no_errors};
use accord_tests::{ClientOptions, TestClient, TestServer};
use anyhow::{Result, ensure};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_can_only_use_tcp_joins_and_exchanges_media() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "udp-blocked";
    let mediator =
        TestClient::join(&server, room, ClientOptions::new("mediator", "mediator")).await?;
    let party = TestClient::join(
        &server,
        room,
        ClientOptions::new("party-behind-firewall", "party").tcp_only(),
    )
    .await?;

    party.wait_connected(Duration::from_secs(20)).await?;
    expect_full_mesh(&[&mediator, &party], &MediaExpectation::default()).await?;
    expect_no_errors(&[&mediator, &party])?;

    // The path really is TCP: the server holds the connection and took packets over it.
    let open = server
        .metric("accord_ice_tcp_connections")
        .await?
        .unwrap_or_default();
    let packets = server
        .metric("accord_ice_tcp_packets_total")
        .await?
        .unwrap_or_default();
    ensure!(
        open >= 1.0,
        "no ICE-TCP connection open on the server ({open})"
    );
    ensure!(
        packets > 100.0,
        "only {packets} packets arrived over ICE-TCP"
    );

    // And it keeps flowing both ways.
    let video = |to: &TestClient, from: &TestClient| {
        to.received_from(from.id(), "video")
            .map_or(0, |r| r.packets)
    };
    let (before, sent_before) = (video(&party, &mediator), video(&mediator, &party));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, sent_after) = (video(&party, &mediator), video(&mediator, &party));
    ensure!(
        after > before + 20 && sent_after > sent_before + 20,
        "video over ICE-TCP stalled: to the party {before}→{after}, from it {sent_before}→{sent_after}"
    );
    println!(
        "ICE-TCP: {packets} packets received over TCP; video to the party +{} and from it +{} packets in 2 s",
        after - before,
        sent_after - sent_before
    );
    close_all(vec![mediator, party]).await
}
