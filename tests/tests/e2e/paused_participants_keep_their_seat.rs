//! A phone sent to the background or interrupted by a call says `pause`; the others see it as
//! "away", and the seat survives however long its media stays quiet. Without the pause, the
//! same outage first gets the client asked to restart ICE (after the media timeout) and then
//! ends its seat (after `media.lost_after_seconds`, shortened here). A dropped socket shows as
//! "reconnecting" until the seat is resumed, and a newcomer sees both states in `joined`.
//!
//! The outage is real: the server announces 127.0.0.2 as its only ICE candidate and the
//! userspace impairment proxy ([`accord_tests::impair`]) listening there drops everything.
//! The watching participants have no media path ([`Bystander`]), so the outage cannot touch
//! them.

use accord_tests::impair::{ImpairProxy, LinkConditions, ProxyConfig};
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::{Bystander, ClientOptions, TestClient, TestServer, TokenRequest};
use anyhow::{Result, ensure};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use webrtc::peer_connection::RTCPeerConnectionState;

/// How long silence may last before the seat is given up, as this test configures it.
const LOST_AFTER: &str = "6";
/// That plus a tick and some slack.
const LONGER_THAN_MEDIA_TIMEOUT: Duration = Duration::from_secs(9);
const NOTICE: Duration = Duration::from_secs(5);

fn paused_frame(frame: &ServerFrame, who: &str, paused: bool, why: Option<&str>) -> bool {
    matches!(frame, ServerFrame::ParticipantPaused { participant_id, paused: p, reason }
        if participant_id == who && *p == paused && reason.as_deref() == why)
}

fn saw_leave(frames: &[ServerFrame], who: &str) -> bool {
    frames
        .iter()
        .any(|f| matches!(f, ServerFrame::ParticipantLeft { participant_id, .. } if participant_id == who))
}

async fn bystander(server: &TestServer, room: &str, identity: &str) -> Result<Bystander> {
    let token = server
        .mint(&TokenRequest::new(room, identity, "mediator"))
        .await?;
    Bystander::join(&server.ws_url(), &token, None, identity).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_phone_keeps_its_seat_through_a_long_silence() -> Result<()> {
    // A proxy in front of one node's media port.
    let server = TestServer::start_with_env(&[
        accord_tests::ONE_PROCESS,
        ("ACCORD_MEDIA_LISTEN", "127.0.0.1:0"),
        ("ACCORD_MEDIA_ANNOUNCE", "127.0.0.2"),
        ("ACCORD_MEDIA_LOST_AFTER_SECONDS", LOST_AFTER),
    ])
    .await?;
    let media = server.media_addr();
    let announced = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), media.port());
    let proxy = ImpairProxy::start(announced, media, ProxyConfig::default()).await?;
    let network = proxy.handle();
    let room = "paused-phone";

    let mediator = bystander(&server, room, "mediator").await?;
    let phone = TestClient::join(&server, room, ClientOptions::new("phone", "party")).await?;
    let other = TestClient::join(&server, room, ClientOptions::new("other", "party")).await?;
    phone.wait_connected(Duration::from_secs(15)).await?;
    other.wait_connected(Duration::from_secs(15)).await?;
    let (phone_id, other_id) = (phone.id().to_owned(), other.id().to_owned());

    phone.send(ClientFrame::Pause { paused: true }).await?;
    mediator
        .wait_for_frame("the phone away", NOTICE, |f| {
            paused_frame(f, &phone_id, true, Some("away"))
        })
        .await?;

    // One outage for both: the one that did not pause is asked to restart ICE, and, as it
    // does not, given up.
    network.set_both(LinkConditions::lossy(1.0));
    other
        .wait_for_frame(
            "the silent participant asked to restart ICE",
            NOTICE * 2,
            |f| matches!(f, ServerFrame::IceRestart { reason } if reason == "media_silent"),
        )
        .await?;
    mediator
        .wait_for_frame(
            "the silent, unpaused participant to be reported gone",
            LONGER_THAN_MEDIA_TIMEOUT + NOTICE,
            |f| matches!(f, ServerFrame::ParticipantLeft { participant_id, reason } if *participant_id == other_id && reason == "disconnected"),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        !saw_leave(&mediator.frames(), &phone_id),
        "the mediator saw the paused phone leave"
    );
    ensure!(
        !phone
            .frames()
            .iter()
            .any(|f| matches!(f, ServerFrame::Left { .. })),
        "the paused phone was put out of the room"
    );

    network.set_both(LinkConditions::default());
    phone.send(ClientFrame::Pause { paused: false }).await?;
    mediator
        .wait_for_frame("the phone back", NOTICE, |f| {
            paused_frame(f, &phone_id, false, None)
        })
        .await?;
    accord_tests::wait::wait_until(
        Duration::from_secs(15),
        "the phone's media path to come back",
        || Ok((phone.connection_state() == RTCPeerConnectionState::Connected).then_some(())),
        || format!("{:?}", phone.connection_state()),
    )
    .await?;
    ensure!(
        mediator.participants().iter().any(|p| p.id == phone_id),
        "the phone is no longer in the mediator's list"
    );

    drop((phone, other));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_socket_shows_as_reconnecting_until_the_seat_is_resumed() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "reconnecting-phone";
    let mediator = bystander(&server, room, "mediator").await?;
    let phone_token = server
        .mint(&TokenRequest::new(room, "phone", "party"))
        .await?;
    let phone = Bystander::join(&server.ws_url(), &phone_token, None, "phone").await?;
    let phone_id = phone.id().to_owned();
    let resume = phone.drop_socket();

    mediator
        .wait_for_frame("the phone reconnecting", NOTICE, |f| {
            paused_frame(f, &phone_id, true, Some("reconnecting"))
        })
        .await?;
    let newcomer = bystander(&server, room, "newcomer").await?;
    let seen = newcomer
        .joined()
        .participants
        .iter()
        .find(|p| p.id == phone_id)
        .map(|p| p.paused.clone());
    ensure!(
        seen == Some(Some("reconnecting".to_owned())),
        "a newcomer should see the phone reconnecting in `joined`, saw {seen:?}"
    );

    let phone = Bystander::join(&server.ws_url(), &phone_token, Some(&resume), "phone").await?;
    ensure!(phone.id() == phone_id, "the phone got a new seat");
    for watcher in [&mediator, &newcomer] {
        watcher
            .wait_for_frame("the phone back", NOTICE, |f| {
                paused_frame(f, &phone_id, false, None)
            })
            .await?;
        ensure!(
            !saw_leave(&watcher.frames(), &phone_id),
            "a watcher saw the phone leave"
        );
        ensure!(
            watcher
                .participants()
                .iter()
                .any(|p| p.id == phone_id && p.paused.is_none()),
            "a watcher's list lacks the returned phone: {:?}",
            watcher.participants()
        );
    }
    server.stop().await
}
