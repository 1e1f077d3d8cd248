//! A WHIP publisher (OBS, GStreamer, another WebRTC stack) shows up in the room like anyone
//! else: WebSocket participants see it join, receive its audio and video intact, and see it
//! leave when it hangs up. A WHEP viewer watching a WebSocket participant receives that
//! participant's audio and video. The HTTP contract (201 + `Location` + SDP answer, 204 for
//! trickle, 200 then 404 for hang-up, 401 for a bad token, 404 when there is nothing to
//! watch) holds, because WHIP tools rely on it. So do the finer points of RFC 9725, the
//! WHEP draft and RFC 3264 that standard clients check: refusals with a reason (no media,
//! a codec nobody sends, an ICE restart), `ETag` and `If-Match`, `WWW-Authenticate` on 401
//! with the scheme matched in any case, and answer directions.

use accord_tests::client::{WhepViewer, WhipPublisher};
use accord_tests::media::VideoSize;
use accord_tests::payload::PayloadKind;
use accord_tests::protocol::ServerFrame;
use accord_tests::scenario::{MediaExpectation, expect_no_errors};
use accord_tests::whip_world::{
    ANNOUNCE_TIMEOUT, CONNECT_TIMEOUT, PublishingRoom, expect_created, expect_refused,
    sdp_attribute, section_directions, video_only_as, wait_joined, watcher, with_direction,
};
use accord_tests::{ClientOptions, VideoPublish};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn whip_publisher_is_seen_and_whep_viewer_receives() -> Result<()> {
    let room = "whip-room";
    // --- WHIP in ---------------------------------------------------------------------
    let PublishingRoom {
        server,
        http,
        member,
        publisher,
        publisher_id: whip_id,
        token: whip_token,
        resource: whip_resource,
        ..
    } = PublishingRoom::start_with(
        room,
        ClientOptions::new("ws-member", "mediator")
            .with_video(VideoPublish::Single(VideoSize::Quarter)),
    )
    .await?;
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

// --- Standards: RFC 9725 (WHIP), the WHEP draft, RFC 3264 -----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn whep_offer_in_a_codec_nobody_sends_is_refused_with_a_reason() -> Result<()> {
    let room = PublishingRoom::start("whep-codec-room").await?;
    let token = room
        .server
        .mint(&watcher("whep-codec-room", "h264-viewer"))
        .await?;
    let viewer = WhepViewer::offer().await?;
    let h264_only = video_only_as(viewer.offer_sdp(), "H264")?;
    let refused = room.http.post_offer("/whep", &token, &h264_only).await?;
    expect_refused(
        &refused,
        422,
        "codec_mismatch",
        "an H.264-only WHEP offer to a VP8 publisher",
    )?;
    let message = refused.json()["message"].as_str().unwrap_or("").to_owned();
    ensure!(
        message.contains("VP8") && message.contains("H264"),
        "the refusal should name the codec sent and the one offered: {message:?}"
    );
    // The refused viewer holds no seat: the same token watches once it offers VP8.
    let created = room
        .http
        .post_offer("/whep", &token, viewer.offer_sdp())
        .await?;
    expect_created(&created, "whep")?;
    viewer.close().await?;
    room.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_asking_for_an_ice_restart_is_refused_and_the_session_goes_on() -> Result<()> {
    let room = PublishingRoom::start("whip-restart-room").await?;
    // New credentials, as a WHIP client restarting ICE sends them (RFC 9725 §4.3.1).
    let mid = sdp_attribute(room.publisher.offer_sdp(), "a=mid:").context("no mid")?;
    let restart = format!(
        "a=ice-ufrag:R3st\r\na=ice-pwd:aNewPasswordOf24CharsXYZ\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:{mid}\r\n\
         a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
    );
    let bearer = format!("Bearer {}", room.token);
    let refused = room
        .http
        .request(
            reqwest::Method::PATCH,
            &room.resource,
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/trickle-ice-sdpfrag"),
                ("If-Match", "*"),
            ],
            &restart,
        )
        .await?;
    expect_refused(
        &refused,
        422,
        "ice_restart_unsupported",
        "a PATCH asking for an ICE restart",
    )?;
    // RFC 9725: a refused restart does not end the session; its media goes on.
    let exp = MediaExpectation::default();
    let received = room
        .member
        .wait_for_media_from(&room.publisher_id, "video", exp.video_packets, exp.timeout)
        .await?;
    room.member
        .wait_for_media_from(
            &room.publisher_id,
            "video",
            received.packets + exp.video_packets,
            exp.timeout,
        )
        .await
        .context("video after the refused restart")?;
    let deleted = room.http.delete(&room.resource, &room.token).await?;
    ensure!(
        deleted.status == 200,
        "DELETE after the refused restart answered {}: {}",
        deleted.status,
        deleted.body
    );
    room.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn session_resources_have_etags_and_patch_honours_if_match() -> Result<()> {
    let room = PublishingRoom::start("whip-etag-room").await?;
    let etag = room
        .created
        .header("etag")
        .context("the 201 carries no ETag")?
        .to_owned();
    ensure!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "the ETag {etag:?} is not a quoted entity tag"
    );
    let ufrag = sdp_attribute(room.publisher.offer_sdp(), "a=ice-ufrag:").context("ufrag")?;
    let pwd = sdp_attribute(room.publisher.offer_sdp(), "a=ice-pwd:").context("pwd")?;
    let trickle = format!("a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=end-of-candidates\r\n");
    let bearer = format!("Bearer {}", room.token);
    for (if_match, expected) in [
        (etag.as_str(), 204),
        ("*", 204),
        ("\"not-the-current-tag\"", 412),
    ] {
        let answered = room
            .http
            .request(
                reqwest::Method::PATCH,
                &room.resource,
                &[
                    ("Authorization", &bearer),
                    ("Content-Type", "application/trickle-ice-sdpfrag"),
                    ("If-Match", if_match),
                ],
                &trickle,
            )
            .await?;
        ensure!(
            answered.status == expected,
            "PATCH with If-Match {if_match} answered {} instead of {expected}: {}",
            answered.status,
            answered.body
        );
        if expected == 412 {
            expect_refused(&answered, 412, "precondition_failed", "a stale If-Match")?;
        }
    }
    room.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn offer_without_audio_or_video_takes_no_seat() -> Result<()> {
    let room = PublishingRoom::start("whip-no-media-room").await?;
    let offer = accord_tests::client::whip::data_channel_only_offer().await?;
    for path in ["/whip", "/whep"] {
        let refused = room.post_as(path, "data-only", &offer).await?;
        expect_refused(
            &refused,
            422,
            "no_media",
            &format!("POST {path} with a data-channel-only offer"),
        )?;
    }
    // Frames arrive in order: by the time a later publisher is announced, a seat taken by
    // the refused offers would have been announced before it.
    let later = WhipPublisher::offer(true, VideoPublish::Single(VideoSize::Quarter), 8).await?;
    let created = room
        .post_as("/whip", "later-publisher", later.offer_sdp())
        .await?;
    expect_created(&created, "whip")?;
    later.accept(&created).await?;
    wait_joined(&room.member, "later-publisher").await?;
    let seated = room
        .member
        .wait_for_frame(
            "a participant_joined for the refused offer",
            Duration::ZERO,
            |f| {
                matches!(f, ServerFrame::ParticipantJoined { participant }
                if participant.identity == "data-only")
            },
        )
        .await;
    ensure!(
        seated.is_err(),
        "the refused data-channel-only offer was given a seat"
    );
    later.close().await?;
    room.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_send_and_receive_only_where_the_offer_allows() -> Result<()> {
    let room = PublishingRoom::start("whep-direction-room").await?;
    // WHIP: whatever the publisher offers, we only receive.
    let whip_sections = section_directions(&room.created.body);
    ensure!(
        !whip_sections.is_empty() && whip_sections.iter().all(|(_, d)| d == "recvonly"),
        "the answer to a WHIP offer should be recvonly everywhere: {whip_sections:?}"
    );
    let sendonly_publisher =
        WhipPublisher::offer(true, VideoPublish::Single(VideoSize::Quarter), 8).await?;
    // It also says it only multiplexes RTCP (RFC 8858), as WHIP clients may.
    let offer = with_direction(sendonly_publisher.offer_sdp(), "sendonly")
        .replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\na=rtcp-mux-only\r\n");
    ensure!(offer.contains("a=rtcp-mux-only"), "no a=rtcp-mux to add to");
    let answered = room.post_as("/whip", "sendonly-publisher", &offer).await?;
    expect_created(&answered, "whip")?;
    let sections = section_directions(&answered.body);
    ensure!(
        sections.iter().all(|(_, d)| d == "recvonly"),
        "the answer to a sendonly WHIP offer should be recvonly: {sections:?}"
    );
    // An answerer says a=rtcp-mux and never a=rtcp-mux-only (RFC 8858 §5.2).
    ensure!(
        answered.body.matches("a=rtcp-mux\r\n").count() == sections.len()
            && !answered.body.contains("a=rtcp-mux-only"),
        "every answered section should say a=rtcp-mux, none a=rtcp-mux-only:\n{}",
        answered.body
    );
    sendonly_publisher.close().await?;

    // WHEP, a receive-only offer: we only send.
    let viewer = WhepViewer::offer().await?;
    let answered = room
        .post_as(
            &format!("/whep?participant={}", room.publisher_id),
            "viewer",
            viewer.offer_sdp(),
        )
        .await?;
    expect_created(&answered, "whep")?;
    let sections = section_directions(&answered.body);
    ensure!(
        sections.len() == 2 && sections.iter().all(|(_, d)| d == "sendonly"),
        "the answer to a recvonly WHEP offer should be sendonly: {sections:?}"
    );
    viewer.accept(&answered).await?;
    viewer.wait_connected(CONNECT_TIMEOUT).await?;
    let exp = MediaExpectation::default();
    viewer
        .wait_for_media(PayloadKind::Vp8, exp.video_packets, exp.timeout)
        .await?;
    viewer.close().await?;

    // WHEP, an offer that only sends: nothing may be sent to it, and we take nothing.
    let backwards = WhepViewer::offer().await?;
    let answered = room
        .post_as(
            "/whep",
            "backwards-viewer",
            &with_direction(backwards.offer_sdp(), "sendonly"),
        )
        .await?;
    ensure!(
        answered.status == 201,
        "a sendonly WHEP offer answered {}: {}",
        answered.status,
        answered.body
    );
    let sections = section_directions(&answered.body);
    ensure!(
        !sections.is_empty() && sections.iter().all(|(_, d)| d == "inactive"),
        "the answer to a sendonly WHEP offer should be inactive: {sections:?}"
    );
    backwards.close().await?;

    // The same offers as aiortc 1.16 makes them (captured; they carry their tracks' ssrc and
    // msid): the engine answered sendrecv to sendrecv, and recvonly to sendonly, taking
    // media from a viewer.
    const AIORTC_OFFER: &str = include_str!("data/aiortc-1.16-whep-offer.sdp");
    for (offered, answer) in [("sendrecv", "sendonly"), ("sendonly", "inactive")] {
        let answered = room
            .post_as(
                "/whep",
                &format!("aiortc-{offered}"),
                &with_direction(AIORTC_OFFER, offered),
            )
            .await?;
        expect_created(&answered, "whep")?;
        let sections = section_directions(&answered.body);
        ensure!(
            sections.len() == 2 && sections.iter().all(|(_, d)| d == answer),
            "the answer to aiortc's {offered} WHEP offer should be {answer}: {sections:?}"
        );
    }
    room.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_names_the_bearer_scheme_and_the_scheme_is_case_insensitive() -> Result<()> {
    let room = PublishingRoom::start("whip-auth-room").await?;
    let offer = WhepViewer::offer().await?;
    for (path, authorization) in [
        ("/whep", "Bearer not-a-join-token"),
        ("/whep", ""),
        ("/api/v1/tokens", "Bearer not-the-api-key"),
    ] {
        let mut headers = vec![("Content-Type", "application/sdp")];
        if !authorization.is_empty() {
            headers.push(("Authorization", authorization));
        }
        let refused = room
            .http
            .request(reqwest::Method::POST, path, &headers, offer.offer_sdp())
            .await?;
        ensure!(
            refused.status == 401
                && refused
                    .header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
            "POST {path} with Authorization {authorization:?} answered {} with \
             WWW-Authenticate {:?}",
            refused.status,
            refused.header("www-authenticate")
        );
    }
    offer.close().await?;
    for (i, scheme) in ["bearer", "BEARER", "bEaReR"].into_iter().enumerate() {
        let viewer = WhepViewer::offer().await?;
        let token = room
            .server
            .mint(&watcher("whip-auth-room", &format!("viewer-{i}")))
            .await?;
        let answered = room
            .http
            .request(
                reqwest::Method::POST,
                "/whep",
                &[
                    ("Content-Type", "application/sdp"),
                    ("Authorization", &format!("{scheme} {token}")),
                ],
                viewer.offer_sdp(),
            )
            .await?;
        ensure!(
            answered.status == 201,
            "POST /whep with the scheme spelt {scheme:?} answered {}: {}",
            answered.status,
            answered.body
        );
        viewer.close().await?;
    }
    room.stop().await
}
