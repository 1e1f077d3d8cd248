//! WHIP publishing and WHEP viewing: one HTTP offer/answer each, no WebSocket. Built from the
//! same parts as [`TestClient`](super::TestClient): the browser-like peer connection, paced
//! generated media with its payload ledger, and the receive bookkeeping.
//!
//! Both sides offer without trickle: they wait until ICE gathering is complete so every
//! candidate is in the offer, as WHIP clients usually do. The HTTP exchange is left to the
//! caller through [`WhipHttp`], so tests can assert on status codes and headers:
//! `offer()` → `WhipHttp::post_offer` → `accept(&response)`.

use super::peer;
use super::publish::LocalMedia;
use super::state::Shared;
use super::{ReceivedTrack, VideoPublish};
use crate::payload::{PayloadKind, PayloadLedger};
use crate::wait::{wait_until, within};
use anyhow::{Context, Result, anyhow, bail, ensure};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::peer_connection::{
    PeerConnection, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
};

/// How long ICE gathering may take (host candidates on loopback only: milliseconds).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server answered to a WHIP/WHEP request.
#[derive(Debug, Clone)]
pub struct WhipResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `Location` header (the session's resource URL), if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body (an SDP answer on success, `{code, message}` JSON on failure).
    pub body: String,
    /// Every header, for the ones a test names (`ETag`, `WWW-Authenticate`).
    pub headers: reqwest::header::HeaderMap,
}

impl WhipResponse {
    /// The body as JSON (error bodies are `{code, message}`), `Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The HTTP side of WHIP and WHEP against one server.
#[derive(Debug, Clone)]
pub struct WhipHttp {
    client: reqwest::Client,
    base: String,
}

impl WhipHttp {
    /// A client for the server at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the WHIP HTTP client")?;
        Ok(Self {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `path` (`/whip`, `/whep?participant=…`, or a `Location` value) as an absolute URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// `POST` an SDP offer with `Authorization: Bearer <token>`.
    pub async fn post_offer(&self, path: &str, token: &str, sdp: &str) -> Result<WhipResponse> {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/sdp")
            .body(sdp.to_owned());
        Self::send(request, "POST", path).await
    }

    /// `PATCH` a session resource (trickle ICE: `application/trickle-ice-sdpfrag`).
    pub async fn patch(
        &self,
        resource: &str,
        token: &str,
        content_type: &str,
        body: &str,
    ) -> Result<WhipResponse> {
        let request = self
            .client
            .patch(self.url(resource))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_owned());
        Self::send(request, "PATCH", resource).await
    }

    /// Any request with exactly the headers given (no bearer token added): for checking
    /// how the server treats `Authorization` and `If-Match` as clients spell them.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<WhipResponse> {
        let mut request = self
            .client
            .request(method.clone(), self.url(path))
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::send(request, method.as_str(), path).await
    }

    /// `DELETE` a session resource (hang up).
    pub async fn delete(&self, resource: &str, token: &str) -> Result<WhipResponse> {
        let request = self.client.delete(self.url(resource)).bearer_auth(token);
        Self::send(request, "DELETE", resource).await
    }

    async fn send(
        request: reqwest::RequestBuilder,
        method: &str,
        path: &str,
    ) -> Result<WhipResponse> {
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let location = header(reqwest::header::LOCATION);
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        Ok(WhipResponse {
            status,
            location,
            content_type,
            body,
            headers,
        })
    }
}

/// Creates and applies an offer, then waits for ICE gathering so the offer holds every
/// candidate (no trickle).
async fn gathered_offer(
    pc: &Arc<dyn PeerConnection>,
    mut gathering: watch::Receiver<RTCIceGatheringState>,
) -> Result<String> {
    let offer = pc.create_offer(None).await.context("creating an offer")?;
    pc.set_local_description(offer)
        .await
        .context("applying our offer")?;
    within(
        GATHER_TIMEOUT,
        "ICE gathering to complete",
        gathering.wait_for(|s| *s == RTCIceGatheringState::Complete),
    )
    .await?
    .map_err(|_| anyhow!("the peer connection went away while gathering"))?;
    let sdp = pc
        .local_description()
        .await
        .context("no local description after gathering")?
        .sdp;
    ensure!(
        sdp.contains("a=candidate:"),
        "the gathered offer has no candidate:\n{sdp}"
    );
    Ok(sdp)
}

/// Applies a `201 Created` answer; anything else is an error naming what came back.
async fn apply_answer(pc: &Arc<dyn PeerConnection>, response: &WhipResponse) -> Result<()> {
    if response.status != 201 {
        bail!(
            "expected 201 Created with an SDP answer, got {}: {}",
            response.status,
            response.body
        );
    }
    let answer = RTCSessionDescription::answer(response.body.clone())
        .map_err(|e| anyhow!("the answer is not valid SDP ({e}): {}", response.body))?;
    pc.set_remote_description(answer)
        .await
        .context("applying the server's answer")
}

/// Waits until `state` is connected, failing early on `Failed`/`Closed`.
async fn wait_connected(
    state: &watch::Receiver<RTCPeerConnectionState>,
    who: &str,
    timeout: Duration,
) -> Result<()> {
    let mut rx = state.clone();
    let what = format!("the {who} peer connection to connect");
    let state = within(
        timeout,
        &what,
        rx.wait_for(|s| {
            matches!(
                s,
                RTCPeerConnectionState::Connected
                    | RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
            )
        }),
    )
    .await?
    .map_err(|_| anyhow!("{what}, but the connection went away"))?;
    ensure!(
        *state == RTCPeerConnectionState::Connected,
        "{what}, but it became {}",
        *state
    );
    Ok(())
}

/// A WHIP publisher: paced VP8 and/or Opus on send-only transceivers, every payload recorded.
pub struct WhipPublisher {
    pc: Arc<dyn PeerConnection>,
    ledger: Arc<PayloadLedger>,
    state: watch::Receiver<RTCPeerConnectionState>,
    answered: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    offer_sdp: String,
}

impl WhipPublisher {
    /// Builds the connection and its tracks and makes the offer. Media starts once
    /// [`WhipPublisher::accept`] applied the answer and the connection is up.
    pub async fn offer(audio: bool, video: VideoPublish, variant: u32) -> Result<Self> {
        crate::init_logging();
        let peer = peer::build(Arc::new(Shared::default()), false).await?;
        let pc = Arc::clone(&peer.pc);
        let ledger = Arc::new(PayloadLedger::default());
        let (stop, stop_rx) = watch::channel(false);
        let (answered, answered_rx) = watch::channel(0u64);
        let ready = super::media_ready(answered_rx, peer.state.clone());
        let prepared = async {
            let local = LocalMedia::create(&pc, "accord-whip", audio, video).await?;
            let tasks = local
                .start_pacers(variant, 30, Arc::clone(&ledger), ready, stop_rx)
                .await?;
            let sdp = gathered_offer(&pc, peer.gathering.clone()).await?;
            Ok::<_, anyhow::Error>((tasks, sdp))
        };
        let (tasks, offer_sdp) = match prepared.await {
            Ok(r) => r,
            Err(err) => {
                stop.send_replace(true);
                let _ = pc.close().await;
                return Err(err);
            }
        };
        Ok(Self {
            pc,
            ledger,
            state: peer.state,
            answered,
            stop,
            tasks,
            offer_sdp,
        })
    }

    /// The offer to `POST` to `/whip`.
    pub fn offer_sdp(&self) -> &str {
        &self.offer_sdp
    }

    /// Applies the server's `201` answer; media starts once connected.
    pub async fn accept(&self, response: &WhipResponse) -> Result<()> {
        apply_answer(&self.pc, response).await?;
        self.answered.send_replace(1);
        Ok(())
    }

    /// Hashes of every payload sent.
    pub fn ledger(&self) -> &Arc<PayloadLedger> {
        &self.ledger
    }

    /// Waits until the peer connection is connected.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        wait_connected(&self.state, "WHIP publisher's", timeout).await
    }

    /// Stops the media and closes the connection (without telling the server: that is
    /// `DELETE` on the resource).
    pub async fn close(mut self) -> Result<()> {
        self.stop.send_replace(true);
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.pc
            .close()
            .await
            .map_err(|e| anyhow!("closing the WHIP peer connection: {e}"))
    }
}

impl Drop for WhipPublisher {
    fn drop(&mut self) {
        // The crate's driver does not stop on drop; close on the runtime if there still is one.
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
        close_in_background(&self.pc);
    }
}

/// A WHEP viewer: receive-only audio and video transceivers, every packet recorded. Its
/// offer is a plain receive-only offer, also usable wherever a valid client offer is needed.
pub struct WhepViewer {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    state: watch::Receiver<RTCPeerConnectionState>,
    offer_sdp: String,
}

impl WhepViewer {
    /// Builds the connection with receive-only audio and video and makes the offer.
    pub async fn offer() -> Result<Self> {
        crate::init_logging();
        let shared = Arc::new(Shared::default());
        let peer = peer::build(Arc::clone(&shared), false).await?;
        let pc = Arc::clone(&peer.pc);
        let prepared = async {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                pc.add_transceiver_from_kind(
                    kind,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        streams: vec![],
                        send_encodings: vec![],
                    }),
                )
                .await
                .with_context(|| format!("adding a receive-only {kind} transceiver"))?;
            }
            gathered_offer(&pc, peer.gathering.clone()).await
        };
        let offer_sdp = match prepared.await {
            Ok(sdp) => sdp,
            Err(err) => {
                let _ = pc.close().await;
                return Err(err);
            }
        };
        Ok(Self {
            pc,
            shared,
            state: peer.state,
            offer_sdp,
        })
    }

    /// The offer to `POST` to `/whep`.
    pub fn offer_sdp(&self) -> &str {
        &self.offer_sdp
    }

    /// Applies the server's `201` answer.
    pub async fn accept(&self, response: &WhipResponse) -> Result<()> {
        apply_answer(&self.pc, response).await
    }

    /// Waits until the peer connection is connected.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        wait_connected(&self.state, "WHEP viewer's", timeout).await
    }

    /// Receive statistics per stream (WHEP has no track map: they are named `mid:<mid>`).
    pub fn received(&self) -> Vec<ReceivedTrack> {
        self.shared.lock().received.values().cloned().collect()
    }

    /// Waits until at least `min_packets` packets of `kind` arrived.
    pub async fn wait_for_media(
        &self,
        kind: PayloadKind,
        min_packets: u64,
        timeout: Duration,
    ) -> Result<ReceivedTrack> {
        wait_until(
            timeout,
            &format!("the WHEP viewer to receive {min_packets} {kind:?} packets"),
            || {
                if let Some(err) = self.shared.lock().local_errors.first() {
                    bail!("the WHEP viewer failed: {err}");
                }
                Ok(self
                    .received()
                    .into_iter()
                    .find(|r| r.kind == kind && r.packets >= min_packets))
            },
            || {
                format!(
                    "{:?}",
                    self.received()
                        .iter()
                        .map(|r| r.summary())
                        .collect::<Vec<_>>()
                )
            },
        )
        .await
    }

    /// Checks every received payload against `ledger` (what the watched participant sent):
    /// the number of distinct payloads checked. Fails on any payload it never sent.
    pub fn check_payloads(&self, ledger: &PayloadLedger) -> Result<usize> {
        let mut checked = 0;
        for rx in self.received() {
            let unknown = ledger.unknown(&rx.payload_hashes);
            ensure!(
                unknown.is_empty() && rx.unparsable == 0,
                "the WHEP viewer received {} of {} distinct payloads that the watched \
                 participant never sent, and {} unparsable ones: {}",
                unknown.len(),
                rx.payload_hashes.len(),
                rx.unparsable,
                rx.summary()
            );
            checked += rx.payload_hashes.len();
        }
        Ok(checked)
    }

    /// Closes the connection (without telling the server: that is `DELETE`).
    pub async fn close(self) -> Result<()> {
        self.pc
            .close()
            .await
            .map_err(|e| anyhow!("closing the WHEP peer connection: {e}"))
    }
}

impl Drop for WhepViewer {
    fn drop(&mut self) {
        close_in_background(&self.pc);
    }
}

/// A gathered offer with a data channel and no audio or video, as a tool that gets WHIP
/// wrong might send. The connection is closed once the offer is made.
pub async fn data_channel_only_offer() -> Result<String> {
    crate::init_logging();
    let peer = peer::build(Arc::new(Shared::default()), false).await?;
    let made = async {
        peer.pc
            .create_data_channel("chat", None)
            .await
            .context("adding a data channel")?;
        gathered_offer(&peer.pc, peer.gathering.clone()).await
    }
    .await;
    let _ = peer.pc.close().await;
    made
}

fn close_in_background(pc: &Arc<dyn PeerConnection>) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let pc = Arc::clone(pc);
        handle.spawn(async move {
            let _ = pc.close().await;
        });
    }
}
