//! What the WHIP and WHEP tests share: a room with a WHIP publisher whose media a WebSocket
//! member receives, the checks of the HTTP contract (201 with `Location` and an SDP answer;
//! refusals with a code), and the SDP edits the standards tests make to offers. The tests
//! themselves stay in `tests/tests/e2e/whip_publisher_is_seen_and_whep_viewer_receives.rs`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::client::{WhipHttp, WhipPublisher, WhipResponse};
use crate::media::VideoSize;
use crate::protocol::ServerFrame;
use crate::scenario::MediaExpectation;
use crate::{ClientOptions, TestClient, TestServer, TokenRequest, VideoPublish};

/// How long a WHIP or WHEP peer may take to connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a room member may wait to be told of a newcomer.
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the WHIP/WHEP success contract: `201 Created`, a `Location` under `/whip/` or
/// `/whep/`, and an SDP answer as `application/sdp`.
pub fn expect_created(response: &WhipResponse, kind: &str) -> Result<String> {
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

/// Checks a refusal: its status and its machine-readable code.
pub fn expect_refused(response: &WhipResponse, status: u16, code: &str, what: &str) -> Result<()> {
    ensure!(
        response.status == status && response.json()["code"] == code,
        "{what} answered {} instead of {status} {code}: {}",
        response.status,
        response.body
    );
    Ok(())
}

/// A token for someone who only watches (observers never publish).
pub fn watcher(room: &str, identity: &str) -> TokenRequest {
    let mut request = TokenRequest::new(room, identity, "observer");
    request.can_publish = false;
    request
}

/// The first ICE ufrag and mid of an SDP, for a trickle fragment.
pub fn sdp_attribute(sdp: &str, prefix: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned))
}

/// A room with a WHIP publisher (Opus + VP8) whose media a WebSocket member already
/// receives, so its publications exist when a test posts a WHEP offer or restarts ICE.
pub struct PublishingRoom {
    /// The room's id.
    pub room: String,
    /// The server it is on.
    pub server: TestServer,
    /// For WHIP and WHEP requests to that server.
    pub http: WhipHttp,
    /// The WebSocket member receiving the publisher's media.
    pub member: TestClient,
    /// The WHIP publisher.
    pub publisher: WhipPublisher,
    /// The publisher's participant id.
    pub publisher_id: String,
    /// The publisher's join token.
    pub token: String,
    /// The publisher's 201 answer.
    pub created: WhipResponse,
    /// The publisher's WHIP resource (its `Location`).
    pub resource: String,
}

impl PublishingRoom {
    /// The room with a mediator as the member.
    pub async fn start(room: &str) -> Result<Self> {
        Self::start_with(room, ClientOptions::new("ws-member", "mediator")).await
    }

    /// The same with the member joining as `member` says.
    pub async fn start_with(room: &str, member: ClientOptions) -> Result<Self> {
        let server = TestServer::start().await?;
        let http = WhipHttp::new(&server.http_url())?;
        let member = TestClient::join(&server, room, member).await?;
        let token = server
            .mint(&TokenRequest::new(room, "whip-publisher", "guest"))
            .await?;
        // Variants are per participant so payloads identify their sender; this one is not
        // a TestClient, so take one far from theirs.
        let publisher =
            WhipPublisher::offer(true, VideoPublish::Single(VideoSize::Quarter), 7).await?;
        let created = http
            .post_offer("/whip", &token, publisher.offer_sdp())
            .await?;
        let resource = expect_created(&created, "whip")?;
        publisher.accept(&created).await?;
        publisher.wait_connected(CONNECT_TIMEOUT).await?;
        let publisher_id = wait_joined(&member, "whip-publisher").await?;
        let exp = MediaExpectation::default();
        for (kind, min) in [("audio", exp.audio_packets), ("video", exp.video_packets)] {
            member
                .wait_for_media_from(&publisher_id, kind, min, exp.timeout)
                .await
                .with_context(|| format!("the WS member receiving the WHIP {kind}"))?;
        }
        Ok(Self {
            room: room.to_owned(),
            server,
            http,
            member,
            publisher,
            publisher_id,
            token,
            created,
            resource,
        })
    }

    /// Posts `sdp` to `path` with a new token for `identity`: a guest's for `/whip`, an
    /// observer's for `/whep`.
    pub async fn post_as(&self, path: &str, identity: &str, sdp: &str) -> Result<WhipResponse> {
        let room = &self.room;
        let request = if path.starts_with("/whip") {
            TokenRequest::new(room, identity, "guest")
        } else {
            watcher(room, identity)
        };
        let token = self.server.mint(&request).await?;
        self.http.post_offer(path, &token, sdp).await
    }

    /// Hangs up the publisher, closes the member and stops the server.
    pub async fn stop(self) -> Result<()> {
        self.publisher.close().await?;
        self.member.close().await?;
        self.server.stop().await
    }
}

/// Waits until `member` is told `identity` joined; its participant id.
pub async fn wait_joined(member: &TestClient, identity: &str) -> Result<String> {
    let joined = member
        .wait_for_frame(
            &format!("participant_joined for {identity}"),
            ANNOUNCE_TIMEOUT,
            |f| {
                matches!(f, ServerFrame::ParticipantJoined { participant }
                if participant.identity == identity)
            },
        )
        .await?;
    match joined {
        ServerFrame::ParticipantJoined { participant } => Ok(participant.id),
        _ => anyhow::bail!("wait_for_frame returned another frame"),
    }
}

/// The media sections of an SDP as (media, direction), the direction `sendrecv` when the
/// section names none.
pub fn section_directions(sdp: &str) -> Vec<(String, String)> {
    sdp.split("\nm=")
        .skip(1)
        .map(|section| {
            let media = section.split_whitespace().next().unwrap_or("").to_owned();
            let direction = section
                .lines()
                .map(str::trim)
                .find(|l| {
                    matches!(
                        *l,
                        "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
                    )
                })
                .map_or("sendrecv", |l| &l[2..])
                .to_owned();
            (media, direction)
        })
        .collect()
}

/// `sdp` with every direction attribute of its media sections replaced by `direction`.
pub fn with_direction(sdp: &str, direction: &str) -> String {
    sdp.lines()
        .map(|l| match l.trim() {
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive" => {
                format!("a={direction}\r\n")
            }
            other => format!("{other}\r\n"),
        })
        .collect()
}

/// `sdp` with its video section cut down to the payload types of one codec.
pub fn video_only_as(sdp: &str, codec: &str) -> Result<String> {
    let (head, rest) = sdp.split_once("\nm=video ").context("no video section")?;
    let (video, tail) = match rest.split_once("\nm=") {
        Some((v, t)) => (v, Some(t)),
        None => (rest, None),
    };
    let keep: Vec<String> = video
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=rtpmap:"))
        .filter_map(|m| {
            let (pt, name) = m.split_once(' ')?;
            name.to_ascii_uppercase()
                .starts_with(&format!("{}/", codec.to_ascii_uppercase()))
                .then(|| pt.to_owned())
        })
        .collect();
    ensure!(!keep.is_empty(), "the offer has no {codec} to keep");
    let mut lines = video.lines().map(str::trim);
    let m_line = lines.next().context("empty video section")?;
    let words: Vec<&str> = m_line.split_whitespace().collect();
    ensure!(words.len() > 2, "short m= line {m_line:?}");
    let mut out = format!(
        "{head}\nm=video {} {} {}\r\n",
        words[0],
        words[1],
        keep.join(" ")
    );
    for line in lines {
        let pt = ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .and_then(|v| v.split([' ', ':']).next());
        if pt.is_none_or(|pt| keep.iter().any(|k| k == pt)) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    if let Some(tail) = tail {
        out.push_str("m=");
        out.push_str(tail);
    }
    Ok(out)
}
