//! A participant who sends `leave` gets `left`; one whose socket just closes is reported as
//! disconnected. Either way the others see `participant_left` and `track_unpublished` for
//! every track, and the media stops.

use accord_tests::protocol::ServerFrame;
use accord_tests::scenario::{MediaExpectation, close_all, expect_full_mesh};
use accord_tests::{ClientOptions, TestClient, TestServer};
use anyhow::{Result, ensure};
use std::time::Duration;

const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits until `observer` saw `participant_left` for `gone` with `reason`, and
/// `track_unpublished` for each of `tracks`.
async fn expect_departure(
    observer: &TestClient,
    gone: &str,
    reason: &str,
    tracks: &[String],
) -> Result<()> {
    observer
        .wait_for_frame(
            &format!("participant_left for {gone} with reason {reason}"),
            ANNOUNCE_TIMEOUT,
            |f| {
                matches!(f, ServerFrame::ParticipantLeft { participant_id, reason: r }
                    if participant_id == gone && r == reason)
            },
        )
        .await?;
    for track in tracks {
        observer
            .wait_for_frame(
                &format!("track_unpublished for {track}"),
                ANNOUNCE_TIMEOUT,
                |f| matches!(f, ServerFrame::TrackUnpublished { track_id } if track_id == track),
            )
            .await?;
    }
    ensure!(
        observer.participants().iter().all(|p| p.id != gone),
        "{} still lists {gone} after participant_left",
        observer.identity()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn others_learn_that_a_participant_left_or_disconnected() -> Result<()> {
    // A dropped socket keeps its seat for the resume grace period; shorten it from the
    // default 15 s so the test sees the departure.
    let server =
        TestServer::start_with_env(&[("ACCORD_SIGNALING_RESUME_GRACE_SECONDS", "1")]).await?;
    let room = "leaving";
    let mediator =
        TestClient::join(&server, room, ClientOptions::new("mediator", "mediator")).await?;
    let party = TestClient::join(&server, room, ClientOptions::new("party", "party")).await?;
    let guest = TestClient::join(&server, room, ClientOptions::new("guest", "guest")).await?;
    let quick = MediaExpectation {
        audio_packets: 25,
        video_packets: 15,
        ..MediaExpectation::default()
    };
    expect_full_mesh(&[&mediator, &party, &guest], &quick).await?;

    let track_ids = |who: &TestClient| -> Vec<String> {
        mediator
            .known_tracks()
            .into_iter()
            .filter(|t| t.participant_id == who.id())
            .map(|t| t.id)
            .collect()
    };

    // A polite leave: `left` comes back, the others are told why.
    let (party_id, party_tracks) = (party.id().to_owned(), track_ids(&party));
    ensure!(
        party_tracks.len() == 2,
        "the party's tracks: {party_tracks:?}"
    );
    party.leave().await?;
    expect_departure(&mediator, &party_id, "left", &party_tracks).await?;
    expect_departure(&guest, &party_id, "left", &party_tracks).await?;

    // A dropped socket: no `leave`; after the grace period the server gives the seat up.
    let (guest_id, guest_tracks) = (guest.id().to_owned(), track_ids(&guest));
    guest.close().await?;
    expect_departure(&mediator, &guest_id, "disconnected", &guest_tracks).await?;

    // Nothing more arrives from either of them.
    let departed: Vec<&String> = party_tracks.iter().chain(&guest_tracks).collect();
    let from_departed = || -> u64 {
        mediator
            .received()
            .iter()
            .filter(|r| departed.contains(&&r.track_id))
            .map(|r| r.packets)
            .sum()
    };
    let before = from_departed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = from_departed();
    ensure!(
        before == after,
        "the mediator still received {} packets from departed participants",
        after - before
    );

    close_all(vec![mediator]).await?;
    server.stop().await
}
