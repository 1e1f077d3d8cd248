//! Six participants, everyone publishing: every subscriber receives every other participant's
//! audio and video.

use accord_tests::media::VideoSize;
use accord_tests::scenario::{MediaExpectation, close_all, expect_full_mesh, expect_no_errors};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Result, ensure};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_participant_receives_every_other_participant() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "six-way";
    let mut clients = Vec::new();
    for i in 0..6 {
        let (identity, role) = if i == 0 {
            ("mediator".to_owned(), "mediator")
        } else {
            (format!("party-{i}"), "party")
        };
        // Small video keeps six publishers and thirty subscriptions cheap on a test machine.
        let options = ClientOptions::new(&identity, role)
            .with_video(VideoPublish::Single(VideoSize::Quarter));
        clients.push(TestClient::join(&server, room, options).await?);
    }
    let refs: Vec<&TestClient> = clients.iter().collect();

    // Everybody ends up knowing the five others.
    for c in &refs {
        accord_tests::wait::wait_until(
            Duration::from_secs(10),
            &format!("{} to know five other participants", c.identity()),
            || Ok((c.participants().len() >= 5).then_some(())),
            || c.describe(),
        )
        .await?;
    }

    let exp = MediaExpectation {
        audio_packets: 75,
        video_packets: 30,
        timeout: Duration::from_secs(20),
        ..MediaExpectation::default()
    };
    expect_full_mesh(&refs, &exp).await?;
    expect_no_errors(&refs)?;
    for c in &refs {
        let tracks = c.received().len();
        ensure!(
            tracks >= 10,
            "{} should receive 10 tracks (audio and video of five others), got {tracks}: {}",
            c.identity(),
            c.describe()
        );
    }
    close_all(clients).await?;
    server.stop().await
}
