//! Whatever a client sends, the server answers with the documented error frame (closing the
//! socket only when the protocol says the error is fatal) and carries on: nothing panics, and
//! a room next door with real media does not notice. The HTTP API answers bad requests with
//! the right status and a `{code, message}` body.
//!
//! The bad input goes over raw WebSockets, since the test client only sends what is valid.

use accord_tests::client::WhepViewer;
use accord_tests::scenario::{
    MediaExpectation, close_all, expect_full_mesh, expect_no_errors, expect_receives,
};
use accord_tests::{ClientOptions, TestClient, TestServer, TokenRequest};
use anyhow::{Context, Result, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long the server may take to answer one frame.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the neighbouring room's media may pause while the bad input goes on.
const MAX_STALL: Duration = Duration::from_secs(1);
/// Room frames a raw socket may get at any time; they are not replies to what it sent.
const ROOM_FRAMES: [&str; 6] = [
    "participant_joined",
    "participant_left",
    "track_published",
    "track_unpublished",
    "active_speakers",
    "layer_demand",
];

/// A WebSocket that sends whatever it is told to.
struct Raw {
    label: &'static str,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Raw {
    async fn open(server: &TestServer, label: &'static str) -> Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .with_context(|| format!("{label}: connecting"))?;
        Ok(Self { label, ws })
    }

    /// Opens a socket and joins `room` as `identity`.
    async fn joined(server: &TestServer, label: &'static str, room: &str) -> Result<Self> {
        let token = server
            .mint(&TokenRequest::new(room, label, "party"))
            .await?;
        let mut raw = Self::open(server, label).await?;
        raw.send(json!({"type": "join", "protocol": 1, "token": token, "request_id": "r-join"}))
            .await?;
        let joined = raw.reply().await?;
        ensure!(
            joined["type"] == "joined" && joined["request_id"] == "r-join",
            "{label}: expected `joined` echoing r-join, got {joined}"
        );
        Ok(raw)
    }

    async fn send(&mut self, frame: Value) -> Result<()> {
        self.send_text(frame.to_string()).await
    }

    async fn send_text(&mut self, text: String) -> Result<()> {
        self.ws
            .send(Message::text(text))
            .await
            .with_context(|| format!("{}: sending", self.label))
    }

    /// The next JSON frame that is not a room notice; `None` once the socket is closed.
    async fn next(&mut self) -> Result<Option<Value>> {
        loop {
            let msg = match tokio::time::timeout(REPLY_TIMEOUT, self.ws.next()).await {
                Err(_) => bail!("{}: nothing arrived within {REPLY_TIMEOUT:?}", self.label),
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return Ok(None),
                Ok(Some(Ok(msg))) => msg,
            };
            let Message::Text(text) = msg else { continue };
            let frame: Value = serde_json::from_str(text.as_str())
                .with_context(|| format!("{}: the server sent non-JSON {text}", self.label))?;
            if !ROOM_FRAMES.iter().any(|t| frame["type"] == *t) {
                return Ok(Some(frame));
            }
        }
    }

    async fn reply(&mut self) -> Result<Value> {
        let label = self.label;
        self.next()
            .await?
            .with_context(|| format!("{label}: the socket closed instead of replying"))
    }

    /// Expects an `error` frame with `code`, `request_id` echoed (or absent) and `fatal`.
    async fn expect_error(
        &mut self,
        code: &str,
        request_id: Option<&str>,
        fatal: bool,
    ) -> Result<Value> {
        let frame = self.reply().await?;
        let label = self.label;
        ensure!(
            frame["type"] == "error" && frame["code"] == code,
            "{label}: expected error `{code}`, got {frame}"
        );
        ensure!(
            frame["request_id"].as_str() == request_id,
            "{label}: error `{code}` should echo request_id {request_id:?}: {frame}"
        );
        ensure!(
            frame["fatal"].as_bool() == Some(fatal),
            "{label}: error `{code}` should have fatal={fatal}: {frame}"
        );
        ensure!(
            frame["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{label}: error `{code}` has no message: {frame}"
        );
        Ok(frame)
    }

    /// Expects the socket to close with nothing else arriving first.
    async fn expect_closed(&mut self) -> Result<()> {
        match self.next().await? {
            None => Ok(()),
            Some(frame) => bail!("{}: expected the socket to close, got {frame}", self.label),
        }
    }

    /// Proves the socket is still usable: `ping` gets `pong` with the same request id.
    async fn expect_alive(&mut self, request_id: &str) -> Result<()> {
        self.send(json!({"type": "ping", "request_id": request_id}))
            .await?;
        let pong = self.reply().await?;
        ensure!(
            pong["type"] == "pong" && pong["request_id"] == request_id,
            "{}: expected pong echoing {request_id}, got {pong}",
            self.label
        );
        Ok(())
    }
}

/// Errors on a socket that has joined: none of them fatal except the last.
async fn errors_after_joining(server: &TestServer) -> Result<()> {
    let mut raw = Raw::joined(server, "raw-joined", "bad-input").await?;

    raw.send_text(r#"{"type":"ping","#.to_owned()).await?;
    raw.expect_error("bad_json", None, false).await?;
    raw.ws.send(Message::binary(vec![1u8, 2, 3])).await?;
    raw.expect_error("bad_json", None, false).await?;
    raw.send(json!({"type": "dance", "request_id": "r-unknown"}))
        .await?;
    raw.expect_error("bad_json", Some("r-unknown"), false)
        .await?;
    raw.send(json!({"type": "ping", "colour": "blue", "request_id": "r-field"}))
        .await?;
    raw.expect_error("bad_json", Some("r-field"), false).await?;

    raw.send(
        json!({"type": "offer", "sdp": "this is not SDP", "tracks": [], "request_id": "r-sdp"}),
    )
    .await?;
    raw.expect_error("bad_sdp", Some("r-sdp"), false).await?;
    raw.expect_alive("r-after-sdp").await?;

    // A real offer, so that candidates have a session to go to.
    let peer = WhepViewer::offer().await?;
    raw.send(
        json!({"type": "offer", "sdp": peer.offer_sdp(), "tracks": [], "request_id": "r-offer"}),
    )
    .await?;
    let answer = raw.reply().await?;
    peer.close().await?;
    ensure!(
        answer["type"] == "answer" && answer["request_id"] == "r-offer",
        "a valid offer should get an answer echoing r-offer: {answer}"
    );
    raw.send(json!({
        "type": "candidate",
        "candidate": {"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0},
        "request_id": "r-candidate",
    }))
    .await?;
    raw.expect_error("bad_candidate", Some("r-candidate"), false)
        .await?;

    raw.send(json!({
        "type": "track_settings", "track_id": "TR_nobody", "width": 640, "height": 360,
        "request_id": "r-track",
    }))
    .await?;
    raw.expect_error("unknown_track", Some("r-track"), false)
        .await?;

    // The server offers only when this participant's subscriptions change; alone in its
    // room, it never did. (`no_offer_outstanding` is the server's code for this.)
    raw.send(json!({"type": "answer", "sdp": "v=0\r\n", "request_id": "r-answer"}))
        .await?;
    raw.expect_error("no_offer_outstanding", Some("r-answer"), false)
        .await?;

    let token = server
        .mint(&TokenRequest::new("bad-input", "raw-joined", "party"))
        .await?;
    raw.send(json!({"type": "join", "protocol": 1, "token": token, "request_id": "r-join-2"}))
        .await?;
    raw.expect_error("already_joined", Some("r-join-2"), false)
        .await?;
    raw.expect_alive("r-still-here").await?;

    // Over 128 KiB: refused unread (so no request id to echo), and the socket is closed.
    let big = json!({"type": "ping", "pad": "x".repeat(130 * 1024)});
    raw.send(big).await?;
    raw.expect_error("frame_too_large", None, true).await?;
    raw.expect_closed().await
}

/// What a socket may not start with.
async fn errors_before_joining(server: &TestServer) -> Result<()> {
    let mut raw = Raw::open(server, "raw-ping-first").await?;
    raw.send(json!({"type": "ping", "request_id": "r-first"}))
        .await?;
    raw.expect_error("not_joined", Some("r-first"), true)
        .await?;
    raw.expect_closed().await?;

    let token = server
        .mint(&TokenRequest::new("bad-input", "raw-protocol-2", "party"))
        .await?;
    let mut raw = Raw::open(server, "raw-protocol-2").await?;
    raw.send(json!({"type": "join", "protocol": 2, "token": token, "request_id": "r-proto"}))
        .await?;
    raw.expect_error("unsupported_protocol", Some("r-proto"), true)
        .await?;
    raw.expect_closed().await?;

    // A token with valid claims signed with another secret, and one signed with the
    // server's secret that expired an hour ago.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let claims = |exp: u64| {
        json!({
            "sub": "raw-token", "name": "raw-token", "room": "bad-input", "role": "party",
            "can_publish": true, "can_subscribe": true, "hidden": false, "aud": "accord-join",
            "iat": exp - 7200, "nbf": exp - 7200, "exp": exp,
        })
    };
    let sign = |claims: &Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .context("signing a test token")
    };
    let forged = sign(
        &claims(now + 3600),
        "another secret, at least 32 bytes long",
    )?;
    let expired = sign(&claims(now - 3600), server.token_secret())?;
    for (label, token, id) in [
        ("raw-forged", forged, "r-forged"),
        ("raw-expired", expired, "r-expired"),
    ] {
        let mut raw = Raw::open(server, label).await?;
        raw.send(json!({"type": "join", "protocol": 1, "token": token, "request_id": id}))
            .await?;
        let error = raw.expect_error("invalid_token", Some(id), true).await?;
        if label == "raw-expired" {
            ensure!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("expired")),
                "an expired token should be called expired: {error}"
            );
        }
        raw.expect_closed().await?;
    }

    // Over 256 KiB the transport itself refuses the frame and drops the connection.
    let mut raw = Raw::joined(server, "raw-huge", "bad-input").await?;
    raw.send(json!({"type": "ping", "pad": "x".repeat(300 * 1024)}))
        .await?;
    match raw.next().await? {
        None => Ok(()),
        Some(frame) if frame["code"] == "frame_too_large" => raw.expect_closed().await,
        Some(frame) => bail!("a 300 KiB frame should close the socket, got {frame}"),
    }
}

/// The HTTP API's answers to bad requests.
async fn http_errors(server: &TestServer) -> Result<()> {
    let http = reqwest::Client::new();
    let tokens = format!("{}/api/v1/tokens", server.http_url());
    let request = json!({"room": "bad-input", "identity": "someone"});
    let check = |what: &str, status: u16, body: &Value, want_status: u16, want_code: &str| {
        ensure!(
            status == want_status
                && body["code"] == want_code
                && body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: expected {want_status} with code {want_code} and a message, got {status} {body}"
        );
        Ok(())
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let text = response.text().await.context("reading an error body")?;
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("the error body is not JSON: {text}"))?;
        Ok::<_, anyhow::Error>((status, body))
    };

    let (status, body) = answer(http.post(&tokens).json(&request).send().await?).await?;
    check(
        "POST /api/v1/tokens without a key",
        status,
        &body,
        401,
        "unauthorized",
    )?;
    let (status, body) = answer(
        http.post(&tokens)
            .bearer_auth("not-the-api-key")
            .json(&request)
            .send()
            .await?,
    )
    .await?;
    check(
        "POST /api/v1/tokens with a wrong key",
        status,
        &body,
        401,
        "unauthorized",
    )?;

    let invalid = json!({"room": "", "identity": "someone", "ttl_seconds": 0});
    let (status, body) = answer(
        http.post(&tokens)
            .bearer_auth(server.api_key())
            .json(&invalid)
            .send()
            .await?,
    )
    .await?;
    check(
        "POST /api/v1/tokens with invalid fields",
        status,
        &body,
        422,
        "invalid",
    )?;
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        fields.contains(&"room") && fields.contains(&"ttl_seconds"),
        "the 422 should name room and ttl_seconds in `fields`: {body}"
    );

    let (status, body) = answer(
        http.post(&tokens)
            .bearer_auth(server.api_key())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(r#"{"room": "#)
            .send()
            .await?,
    )
    .await?;
    check(
        "POST /api/v1/tokens with malformed JSON",
        status,
        &body,
        400,
        "bad_request",
    )?;

    let nowhere = format!("{}/api/v1/nowhere", server.http_url());
    let (status, body) = answer(http.get(&nowhere).send().await?).await?;
    check("GET an unknown route", status, &body, 404, "not_found")
}

/// Samples the packet counters of every stream between `a` and `b` until `done`, and
/// returns the longest time any of them stood still (with its name).
async fn longest_stall(a: &TestClient, b: &TestClient, done: &AtomicBool) -> (Duration, String) {
    let streams = [
        (a, b, "audio"),
        (a, b, "video"),
        (b, a, "audio"),
        (b, a, "video"),
    ];
    let mut last: Vec<(u64, Instant)> = vec![(0, Instant::now()); streams.len()];
    let mut worst = (Duration::ZERO, String::new());
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = Instant::now();
        for (i, (rx, tx, kind)) in streams.iter().enumerate() {
            let packets = rx.received_from(tx.id(), kind).map_or(0, |r| r.packets);
            if packets != last[i].0 {
                last[i] = (packets, now);
            }
            let still = now - last[i].1;
            if still > worst.0 {
                worst = (
                    still,
                    format!("{} → {} {kind}", tx.identity(), rx.identity()),
                );
            }
        }
    }
    worst
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_error_frames_not_panics() -> Result<()> {
    let mut server = TestServer::start().await?;
    let a = TestClient::join(
        &server,
        "unaffected",
        ClientOptions::new("steady-a", "mediator"),
    )
    .await?;
    let b = TestClient::join(
        &server,
        "unaffected",
        ClientOptions::new("steady-b", "party"),
    )
    .await?;
    let exp = MediaExpectation::default();
    expect_full_mesh(&[&a, &b], &exp).await?;

    let done = AtomicBool::new(false);
    let abuse = async {
        let result = async {
            errors_after_joining(&server).await?;
            errors_before_joining(&server).await?;
            http_errors(&server).await
        }
        .await;
        done.store(true, Ordering::Relaxed);
        result
    };
    let (abused, (stall, stream)) = tokio::join!(abuse, longest_stall(&a, &b, &done));
    abused?;
    ensure!(
        stall < MAX_STALL,
        "the neighbouring room's media ({stream}) stood still for {stall:?} during the bad input"
    );

    // Still flowing, still intact, and nobody in the good room saw an error.
    let more = |kind: &str, publisher: &TestClient| {
        b.received_from(publisher.id(), kind)
            .map_or(0, |r| r.packets)
    };
    let later = MediaExpectation {
        audio_packets: more("audio", &a) + 25,
        video_packets: more("video", &a) + 15,
        ..exp
    };
    expect_receives(&b, &a, &later).await?;
    expect_no_errors(&[&a, &b])?;

    ensure!(
        server.is_running(),
        "the server exited: {}",
        server.log_tail(40)
    );
    let log = std::fs::read_to_string(server.log_path()).context("reading the server log")?;
    ensure!(
        !log.contains("panicked"),
        "the server log reports a panic:\n{}",
        server.log_tail(60)
    );
    close_all(vec![a, b]).await?;
    server.stop().await
}

/// A malformed candidate is the client's error even before it has offered anything (its
/// offer may have lost a glare and been rolled back): it must hear `bad_candidate`, not
/// silence. Separate from the test above so that one finding does not hide the others.
#[tokio::test(flavor = "multi_thread")]
async fn garbage_candidate_before_any_offer_is_reported() -> Result<()> {
    let server = TestServer::start().await?;
    let mut raw = Raw::joined(&server, "raw-early-candidate", "bad-input").await?;
    raw.send(json!({
        "type": "candidate",
        "candidate": {"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0},
        "request_id": "r-early-candidate",
    }))
    .await?;
    raw.expect_error("bad_candidate", Some("r-early-candidate"), false)
        .await
        .context("a garbage candidate sent before any offer")?;
    raw.expect_alive("r-after-candidate").await?;
    server.stop().await
}
