//! `active_speakers` lists who is speaking, loudest first, from the audio levels publishers
//! put in their packets; a silent participant is not listed.

use accord_tests::scenario::{MediaExpectation, close_all, expect_receives};
use accord_tests::wait::wait_until;
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::Result;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn the_loudest_participant_is_listed_first_and_silence_is_not_listed() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "speakers";
    // Levels are -dBov: 10 is loud, 45 is ordinary speech, 127 is silence.
    let audio_only = |identity: &str, role: &str, level: u8| {
        ClientOptions::new(identity, role)
            .with_video(VideoPublish::None)
            .with_audio_level(level)
    };
    let loud = TestClient::join(&server, room, audio_only("loud", "mediator", 10)).await?;
    let normal = TestClient::join(&server, room, audio_only("normal", "party", 45)).await?;
    let silent = TestClient::join(&server, room, audio_only("silent", "party", 127)).await?;
    let quick = MediaExpectation {
        audio_packets: 25,
        ..MediaExpectation::default()
    };
    expect_receives(&silent, &loud, &quick).await?;

    let expected = vec![loud.id().to_owned(), normal.id().to_owned()];
    for observer in [&loud, &normal, &silent] {
        wait_until(
            Duration::from_secs(5),
            &format!(
                "{} to see active speakers [loud, normal] = {expected:?}",
                observer.identity()
            ),
            || {
                let now: Vec<String> = observer
                    .active_speakers()
                    .into_iter()
                    .map(|s| s.participant_id)
                    .collect();
                Ok((now == expected).then_some(()))
            },
            || format!("latest active_speakers {:?}", observer.active_speakers()),
        )
        .await?;
    }

    close_all(vec![loud, normal, silent]).await?;
    server.stop().await
}
