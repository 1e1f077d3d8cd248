//! A WHIP publisher (OBS, GStreamer, another WebRTC stack) shows up in the room like anyone
//! else: WebSocket participants see it join, receive its audio and video intact, and see it
//! leave when it hangs up. A WHEP viewer watching a WebSocket participant receives that
//! participant's audio and video. The HTTP contract (201 + `Location` + SDP answer, 204 for
//! trickle, 200 then 404 for hang-up, 401 for a bad token, 404 when there is nothing to
//! watch) holds, because WHIP tools rely on it.

use accord_tests::client::{WhepViewer, WhipHttp, WhipPublisher, WhipResponse};
use accord_tests::media::VideoSize;
use accord_tests::payload::PayloadKind;
use accord_tests::protocol::ServerFrame;
use accord_tests::scenario::{MediaExpectation, expect_no_errors};
use accord_tests::{ClientOptions, TestClient, TestServer, TokenRequest, VideoPublish};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the WHIP/WHEP success contract: `201 Created`, a `Location` under `/whip/` or
/// `/whep/`, and an SDP answer as `application/sdp`.
fn expect_created(response: &WhipResponse, kind: &str) -> Result<String> {
    ensure!(
        response.status == 201,
        "POST /{kind} answered {} instead of 201: {}",
        response.status,
        response.body
    );
    let location = response
        .location
        .clone()
        .with_context(|| format!("POST /{kind} answered 201 without a Location header"))?;
    ensure!(
        location.starts_with(&format!("/{kind}/")) && location.len() > kind.len() + 2,
        "POST /{kind} gave Location {location:?}, not a resource under /{kind}/"
    );
    ensure!(
        response
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/sdp")),
        "POST /{kind} answered with Content-Type {:?}, not application/sdp",
        response.content_type
    );
    ensure!(
        response.body.starts_with("v=0") && response.body.contains("a=candidate:"),
        "POST /{kind} answered a body that is not an SDP answer with candidates:\n{}",
        response.body
    );
    Ok(location)
}

/// A token for someone who only watches (observers never publish).
fn watcher(room: &str, identity: &str) -> TokenRequest {
    let mut request = TokenRequest::new(room, identity, "observer");
    request.can_publish = false;
    request
}

/// The first ICE ufrag and mid of an SDP, for a trickle fragment.
fn sdp_attribute(sdp: &str, prefix: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn whip_publisher_is_seen_and_whep_viewer_receives() -> Result<()> {
    let server = TestServer::start().await?;
    let http = WhipHttp::new(&server.http_url())?;
    let room = "whip-room";
    let member = TestClient::join(
        &server,
        room,
        ClientOptions::new("ws-member", "mediator")
            .with_video(VideoPublish::Single(VideoSize::Quarter)),
    )
    .await?;

    // --- WHIP in ---------------------------------------------------------------------
    let whip_token = server
        .mint(&TokenRequest::new(room, "whip-publisher", "guest"))
        .await?;
    // Variants are per participant so payloads identify their sender; this one is not a
    // TestClient, so take one far from theirs.
    let publisher = WhipPublisher::offer(true, VideoPublish::Single(VideoSize::Quarter), 7).await?;
    let response = http
        .post_offer("/whip", &whip_token, publisher.offer_sdp())
        .await?;
    let whip_resource = expect_created(&response, "whip")?;
    publisher.accept(&response).await?;
    publisher.wait_connected(CONNECT_TIMEOUT).await?;

    let joined = member
        .wait_for_frame(
            "participant_joined for the WHIP publisher",
            ANNOUNCE_TIMEOUT,
            |f| {
                matches!(f, ServerFrame::ParticipantJoined { participant }
                    if participant.identity == "whip-publisher")
            },
        )
        .await?;
    let ServerFrame::ParticipantJoined { participant } = joined else {
        anyhow::bail!("wait_for_frame returned another frame");
    };
    let whip_id = participant.id;
    let exp = MediaExpectation::default();
    for (kind, min) in [("audio", exp.audio_packets), ("video", exp.video_packets)] {
        let rx = member
            .wait_for_media_from(&whip_id, kind, min, exp.timeout)
            .await
            .with_context(|| format!("the WS member receiving the WHIP {kind}"))?;
        ensure!(
            rx.ssrcs.len() == 1 && rx.timestamp_jumps == 0,
            "the WHIP {kind} as received: {}",
            rx.summary()
        );
    }
    let checked =
        member.check_payloads_against(&whip_id, "the WHIP publisher", publisher.ledger())?;
    ensure!(checked > 0, "no WHIP payload was checked");
    let whip_tracks: Vec<String> = member
        .known_tracks()
        .into_iter()
        .filter(|t| t.participant_id == whip_id)
        .map(|t| t.id)
        .collect();
    ensure!(
        whip_tracks.len() == 2,
        "the WHIP publisher should have published two tracks; the member knows {whip_tracks:?}"
    );

    // --- WHEP out --------------------------------------------------------------------
    let viewer_token = server.mint(&watcher(room, "whep-viewer")).await?;
    let viewer = WhepViewer::offer().await?;
    let response = http
        .post_offer(
            &format!("/whep?participant={}", member.id()),
            &viewer_token,
            viewer.offer_sdp(),
        )
        .await?;
    let whep_resource = expect_created(&response, "whep")?;
    viewer.accept(&response).await?;
    viewer.wait_connected(CONNECT_TIMEOUT).await?;
    viewer
        .wait_for_media(PayloadKind::Opus, exp.audio_packets, exp.timeout)
        .await?;
    viewer
        .wait_for_media(PayloadKind::Vp8, exp.video_packets, exp.timeout)
        .await?;
    // Every payload is the WS member's (not the WHIP publisher's, who also publishes).
    let checked = viewer.check_payloads(member.ledger())?;
    ensure!(checked > 0, "the WHEP viewer checked no payloads");
    let video = viewer
        .received()
        .into_iter()
        .find(|r| r.kind == PayloadKind::Vp8)
        .context("no video at the viewer")?;
    ensure!(
        video.keyframes > 0,
        "the viewer got no keyframe: {}",
        video.summary()
    );

    // --- Trickle, hang-up, and the error answers -----------------------------------
    // A trickled candidate for the WHIP session (RFC 8840 fragment) is accepted.
    let ufrag = sdp_attribute(publisher.offer_sdp(), "a=ice-ufrag:").context("no ufrag")?;
    let pwd = sdp_attribute(publisher.offer_sdp(), "a=ice-pwd:").context("no ice-pwd")?;
    let mid = sdp_attribute(publisher.offer_sdp(), "a=mid:").context("no mid")?;
    let fragment = format!(
        "a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
         a=mid:{mid}\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n\
         a=end-of-candidates\r\n"
    );
    let patched = http
        .patch(
            &whip_resource,
            &whip_token,
            "application/trickle-ice-sdpfrag",
            &fragment,
        )
        .await?;
    ensure!(
        patched.status == 204,
        "PATCH with a trickle fragment answered {}: {}",
        patched.status,
        patched.body
    );

    let deleted = http.delete(&whip_resource, &whip_token).await?;
    ensure!(
        deleted.status == 200,
        "DELETE {whip_resource} answered {}: {}",
        deleted.status,
        deleted.body
    );
    member
        .wait_for_frame(
            "participant_left for the WHIP publisher",
            ANNOUNCE_TIMEOUT,
            |f| {
                matches!(f, ServerFrame::ParticipantLeft { participant_id, reason }
                if *participant_id == whip_id && reason == "left")
            },
        )
        .await?;
    for track in &whip_tracks {
        member
            .wait_for_frame(
                &format!("track_unpublished for WHIP track {track}"),
                ANNOUNCE_TIMEOUT,
                |f| matches!(f, ServerFrame::TrackUnpublished { track_id } if track_id == track),
            )
            .await?;
    }
    let again = http.delete(&whip_resource, &whip_token).await?;
    ensure!(
        again.status == 404,
        "a second DELETE {whip_resource} answered {} instead of 404: {}",
        again.status,
        again.body
    );

    // A token the server never signed is refused before anything else.
    let refused = http
        .post_offer("/whip", "not-a-join-token", publisher.offer_sdp())
        .await?;
    ensure!(
        refused.status == 401 && refused.json()["code"] == "unauthorized",
        "POST /whip with a bad token answered {}: {}",
        refused.status,
        refused.body
    );

    // Nobody publishes in an empty room, so there is nothing to watch.
    let lonely_token = server
        .mint(&watcher("whep-empty-room", "lonely-viewer"))
        .await?;
    let lonely = WhepViewer::offer().await?;
    let nothing = http
        .post_offer("/whep", &lonely_token, lonely.offer_sdp())
        .await?;
    ensure!(
        nothing.status == 404 && nothing.json()["code"] == "not_found",
        "POST /whep in an empty room answered {}: {}",
        nothing.status,
        nothing.body
    );
    lonely.close().await?;

    // The WHEP session ends the same way.
    let deleted = http.delete(&whep_resource, &viewer_token).await?;
    ensure!(
        deleted.status == 200,
        "DELETE {whep_resource} answered {}: {}",
        deleted.status,
        deleted.body
    );

    expect_no_errors(&[&member])?;
    publisher.close().await?;
    viewer.close().await?;
    member.close().await?;
    server.stop().await
}
