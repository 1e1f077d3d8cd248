//! A mediator publishing simulcast and four parties publishing single-layer video: the mediator
//! receives every party, and every party receives the mediator on one layer, intact.

use accord_tests::scenario::{MediaExpectation, close_all, expect_no_errors, expect_receives};
use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Context, Result, ensure};
use futures_util::future::try_join_all;

#[tokio::test(flavor = "multi_thread")]
async fn mediator_receives_four_parties_and_they_receive_the_mediator() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "mediation-four-parties";
    let mediator = TestClient::join(
        &server,
        room,
        ClientOptions::new("mediator", "mediator").with_video(VideoPublish::Simulcast),
    )
    .await?;
    let mut parties = Vec::new();
    for i in 1..=4 {
        let identity = format!("party-{i}");
        parties
            .push(TestClient::join(&server, room, ClientOptions::new(&identity, "party")).await?);
    }

    let exp = MediaExpectation::default();
    let mediator_gets_parties = parties.iter().map(|p| {
        let exp = &exp;
        let mediator = &mediator;
        async move {
            expect_receives(mediator, p, exp)
                .await
                .with_context(|| format!("{} → mediator", p.identity()))
        }
    });
    let parties_get_mediator = parties.iter().map(|p| {
        let exp = &exp;
        let mediator = &mediator;
        async move {
            expect_receives(p, mediator, exp)
                .await
                .with_context(|| format!("mediator → {}", p.identity()))
        }
    });
    try_join_all(mediator_gets_parties).await?;
    try_join_all(parties_get_mediator).await?;

    // The mediator's camera is announced as simulcast; each party gets exactly one layer of it
    // (checked by `expect_receives`: one SSRC, no timestamp jumps, payloads from the mediator).
    for p in &parties {
        let video = p
            .known_tracks()
            .into_iter()
            .find(|t| t.participant_id == mediator.id() && t.kind == "video")
            .with_context(|| format!("{} knows no video track of the mediator", p.identity()))?;
        ensure!(
            video.simulcast,
            "the mediator publishes three rids, but {} sees its track as {video:?}",
            p.identity()
        );
    }

    let mut all: Vec<&TestClient> = parties.iter().collect();
    all.push(&mediator);
    expect_no_errors(&all)?;

    parties.push(mediator);
    close_all(parties).await?;
    server.stop().await
}
