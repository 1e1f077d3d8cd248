//! Perfect negotiation: clients keep re-offering while others join, so their offers cross
//! the server's. The client (polite) rolls back and answers, the server (impolite) refuses
//! crossed client offers with `glare`; in the end every offer settles and media flows both
//! ways between everyone.

use accord_tests::media::VideoSize;
use accord_tests::scenario::{MediaExpectation, close_all, expect_full_mesh, expect_no_errors};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::Result;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn negotiation_settles_when_offers_cross() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "glare";
    let small = |identity: &str, role: &str| {
        ClientOptions::new(identity, role).with_video(VideoPublish::Single(VideoSize::Quarter))
    };
    let mut clients = vec![
        TestClient::join(&server, room, small("mediator", "mediator")).await?,
        TestClient::join(&server, room, small("party-1", "party")).await?,
    ];
    // Each newcomer makes the server offer to everyone already there; meanwhile those keep
    // offering too, every few milliseconds.
    for i in 2..=4 {
        let joining = TestClient::join(&server, room, small(&format!("party-{i}"), "party"));
        let storm = async {
            for _ in 0..20 {
                for c in &clients {
                    c.renegotiate()?;
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            Ok::<_, anyhow::Error>(())
        };
        let (joined, stormed) = tokio::join!(joining, storm);
        stormed?;
        clients.push(joined?);
    }

    let refs: Vec<&TestClient> = clients.iter().collect();
    let exp = MediaExpectation {
        audio_packets: 50,
        video_packets: 20,
        timeout: Duration::from_secs(20),
        ..MediaExpectation::default()
    };
    expect_full_mesh(&refs, &exp).await?;
    expect_no_errors(&refs)?;
    let rollbacks: u64 = refs.iter().map(|c| c.rollbacks()).sum();
    let glares: usize = refs
        .iter()
        .map(|c| {
            c.server_errors()
                .iter()
                .filter(|e| e.code == "glare")
                .count()
        })
        .sum();
    // Timing decides whether offers actually crossed; report it so a run that never
    // exercised rollback is visible.
    eprintln!("offers rolled back: {rollbacks}; glare errors: {glares}");

    close_all(clients).await?;
    server.stop().await
}
