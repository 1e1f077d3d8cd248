//! The signaling task: owns the WebSocket after `joined`, applies server frames in order, and
//! runs the *polite* side of perfect negotiation (the server is the impolite peer).
//!
//! Everything that touches the session descriptions happens on this one task, so offers,
//! answers and rollbacks can never interleave.

use super::publish::LocalMedia;
use super::state::Shared;
use crate::protocol::{ClientFrame, ServerFrame, parse_server_frame};
use anyhow::{Context, Result, anyhow};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

/// The WebSocket type the client uses.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server refused a join with a fatal error frame; its `retry_after_ms` says whether
/// and when it may be tried again.
#[derive(Debug)]
pub struct JoinRefused {
    /// Which client.
    pub who: String,
    /// The refusal.
    pub frame: crate::protocol::ErrorFrame,
}

impl std::fmt::Display for JoinRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: join refused: {:?}", self.who, self.frame)
    }
}

impl std::error::Error for JoinRefused {}

/// Opens the signaling socket, sends `join` (with `resume`, a resume token, to take back a
/// seat) and waits for `joined`; frames before it go into `shared`. Each of the two steps may take `timeout`. Returns the socket, the
/// `joined` frame and when `join` was sent.
pub(crate) async fn open_and_join(
    ws_url: &str,
    token: &str,
    resume: Option<&str>,
    who: &str,
    shared: &Shared,
    timeout: Duration,
) -> Result<(Socket, crate::protocol::Joined, std::time::Instant)> {
    let (mut socket, _) = crate::wait::within(
        timeout,
        "the WebSocket handshake",
        tokio_tungstenite::connect_async(ws_url),
    )
    .await?
    .with_context(|| format!("{who}: connecting to {ws_url}"))?;
    let join = ClientFrame::Join {
        protocol: crate::protocol::PROTOCOL_VERSION,
        token: token.to_owned(),
        resume: resume.map(str::to_owned),
    };
    let join_sent = std::time::Instant::now();
    socket
        .send(Message::text(join.to_json(None)?))
        .await
        .with_context(|| format!("{who}: sending join"))?;
    let joined = crate::wait::within(timeout, &format!("`joined` for {who}"), async {
        loop {
            let msg = socket
                .next()
                .await
                .ok_or_else(|| anyhow!("{who}: socket closed before `joined`"))?
                .with_context(|| format!("{who}: reading the join reply"))?;
            let Message::Text(text) = msg else { continue };
            shared.record_raw(text.as_str());
            let frame = parse_server_frame(text.as_str())?;
            shared.apply_frame(&frame);
            match frame {
                ServerFrame::Joined(joined) => return Ok::<_, anyhow::Error>(joined),
                ServerFrame::Error(frame) if frame.fatal => {
                    return Err(JoinRefused {
                        who: who.to_owned(),
                        frame,
                    }
                    .into());
                }
                // Not fatal (`resume_failed`: the seat is new): `joined` follows.
                _ => {}
            }
        }
    })
    .await??;
    Ok((socket, joined, join_sent))
}

/// Application-level keep-alive, well inside the server's 45 s idle limit.
const PING_EVERY: Duration = Duration::from_secs(10);
/// Delay before re-offering after `glare` when no server offer has come to answer.
const GLARE_RETRY: Duration = Duration::from_millis(300);

/// Requests from the [`TestClient`](super::TestClient) handle to the signaling task.
pub(crate) enum Command {
    /// Send a frame as is.
    Send(ClientFrame, oneshot::Sender<Result<()>>),
    /// Send a new offer (after local tracks changed).
    Renegotiate,
    /// Send `leave` and report whether `left` arrived.
    Leave(oneshot::Sender<Result<()>>),
    /// Close the socket and end the task.
    Close,
}

pub(crate) struct Signaling {
    /// Identity of the client, to tell clients apart in logs.
    who: String,
    sink: SplitSink<Socket, Message>,
    stream: SplitStream<Socket>,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    local: Arc<LocalMedia>,
    commands: mpsc::UnboundedReceiver<Command>,
    candidates: mpsc::UnboundedReceiver<RTCIceCandidateInit>,
    /// Counts our offers the server answered; pacers start once it is non-zero.
    answered: watch::Sender<u64>,
    /// Request id of our offer awaiting an answer.
    outstanding_offer: Option<String>,
    /// Server offers seen when `outstanding_offer` was sent, to attribute a `glare` error
    /// that carries no request id.
    server_offers_at_send: u64,
    server_offers: u64,
    /// Our tracks changed (or a rollback discarded our offer): offer again when stable.
    need_offer: bool,
    /// Candidates wait until the server has one of our descriptions to attach them to.
    described: bool,
    held_candidates: Vec<RTCIceCandidateInit>,
    offers_sent: u64,
    pending_leave: Option<oneshot::Sender<Result<()>>>,
    /// When to retry an offer refused with `glare`.
    reoffer_at: Option<tokio::time::Instant>,
    /// Connect to the server's passive ICE-TCP candidates (a client with no UDP), and which
    /// ones we already did.
    dial_tcp: bool,
    dialed_tcp: Vec<String>,
}

impl Signaling {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        who: String,
        socket: Socket,
        pc: Arc<dyn PeerConnection>,
        shared: Arc<Shared>,
        local: Arc<LocalMedia>,
        commands: mpsc::UnboundedReceiver<Command>,
        candidates: mpsc::UnboundedReceiver<RTCIceCandidateInit>,
        answered: watch::Sender<u64>,
    ) -> Self {
        let (sink, stream) = socket.split();
        let need_offer = !local.tracks.is_empty();
        Self {
            who,
            sink,
            stream,
            pc,
            shared,
            local,
            commands,
            candidates,
            answered,
            outstanding_offer: None,
            server_offers_at_send: 0,
            server_offers: 0,
            need_offer,
            described: false,
            held_candidates: Vec::new(),
            offers_sent: 0,
            pending_leave: None,
            reoffer_at: None,
            dial_tcp: false,
            dialed_tcp: Vec::new(),
        }
    }

    /// Connects to the server's passive ICE-TCP candidates (for a client gathering TCP only).
    pub(crate) fn dialing_tcp(mut self, dial: bool) -> Self {
        self.dial_tcp = dial;
        self
    }

    /// Runs until the socket closes or [`Command::Close`].
    pub(crate) async fn run(mut self) {
        if self.need_offer {
            self.offer_or_record().await;
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = self.stream.next() => match msg {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        self.shared.local_error(format!("websocket read failed: {err}"));
                        break;
                    }
                },
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Send(frame, reply)) => {
                        let _ = reply.send(self.send(&frame, None).await);
                    }
                    Some(Command::Renegotiate) => {
                        self.need_offer = true;
                        if self.outstanding_offer.is_none() {
                            self.offer_or_record().await;
                        }
                    }
                    Some(Command::Leave(reply)) => {
                        match self.send(&ClientFrame::Leave, None).await {
                            Ok(()) => self.pending_leave = Some(reply),
                            Err(err) => {
                                let _ = reply.send(Err(err));
                            }
                        }
                    }
                    Some(Command::Close) | None => {
                        let _ = self.sink.send(Message::Close(None)).await;
                        break;
                    }
                },
                Some(candidate) = self.candidates.recv() => {
                    if self.described {
                        self.send_candidate(candidate).await;
                    } else {
                        self.held_candidates.push(candidate);
                    }
                }
                _ = sleep_until_opt(self.reoffer_at) => {
                    self.reoffer_at = None;
                    if self.need_offer && self.outstanding_offer.is_none() {
                        self.offer_or_record().await;
                    }
                }
                _ = ping.tick() => {
                    let _ = self.send(&ClientFrame::Ping, None).await;
                }
            }
        }
        self.shared.lock().socket_closed = true;
        if let Some(reply) = self.pending_leave.take() {
            let left = self
                .shared
                .lock()
                .frames
                .iter()
                .any(|f| matches!(f, ServerFrame::Left { .. }));
            let _ = reply.send(if left {
                Ok(())
            } else {
                Err(anyhow!(
                    "the socket closed after `leave` without a `left` frame"
                ))
            });
        }
    }

    async fn send(&mut self, frame: &ClientFrame, request_id: Option<&str>) -> Result<()> {
        let text = frame.to_json(request_id).context("serializing a frame")?;
        tracing::debug!(target: "accord_tests::signaling", "{} send {text}", self.who);
        self.sink
            .send(Message::text(text))
            .await
            .context("websocket send failed")
    }

    async fn on_text(&mut self, text: &str) {
        tracing::debug!(target: "accord_tests::signaling", "{} recv {text}", self.who);
        self.shared.record_raw(text);
        let frame = match parse_server_frame(text) {
            Ok(frame) => frame,
            Err(err) => {
                self.shared.local_error(err.to_string());
                return;
            }
        };
        self.shared.apply_frame(&frame);
        let result = match frame {
            ServerFrame::Offer { sdp, .. } => self.on_server_offer(sdp).await,
            ServerFrame::Answer { sdp, request_id } => self.on_answer(sdp, request_id).await,
            ServerFrame::Error(err) if err.code == "glare" => self.on_glare(err.request_id).await,
            ServerFrame::Left { .. } => {
                if let Some(reply) = self.pending_leave.take() {
                    let _ = reply.send(Ok(()));
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(err) = result {
            self.shared.local_error(format!("{err:#}"));
        }
    }

    /// Polite peer: a server offer wins over ours. Roll ours back, answer, then offer again.
    async fn on_server_offer(&mut self, sdp: String) -> Result<()> {
        self.server_offers += 1;
        if self.outstanding_offer.take().is_some() {
            let rollback = RTCSessionDescription::rollback(None)
                .map_err(|e| anyhow!("building a rollback description: {e}"))?;
            self.pc
                .set_local_description(rollback)
                .await
                .context("rolling back our offer for the server's")?;
            self.shared.lock().rollbacks += 1;
            self.need_offer = true;
        }
        let offer = RTCSessionDescription::offer(sdp.clone())
            .map_err(|e| anyhow!("the server's offer is not valid SDP: {e}"))?;
        self.pc
            .set_remote_description(offer)
            .await
            .context("applying the server's offer")?;
        self.dial_passive_tcp_candidates(&sdp).await?;
        let answer = self
            .pc
            .create_answer(None)
            .await
            .context("creating an answer to the server's offer")?;
        self.pc
            .set_local_description(answer)
            .await
            .context("applying our answer")?;
        let sdp = self
            .pc
            .local_description()
            .await
            .context("no local description after answering")?
            .sdp;
        self.send(&ClientFrame::Answer { sdp }, None).await?;
        self.shared.lock().offers_answered += 1;
        self.after_description_sent().await;
        if self.need_offer {
            self.offer().await?;
        }
        Ok(())
    }

    /// Hands the server's passive ICE-TCP candidates from a description to the engine as if
    /// trickled: webrtc 0.21 only opens the TCP connection to a passive candidate that
    /// arrives through `add_ice_candidate`, never to one inside the SDP (browsers do both).
    async fn dial_passive_tcp_candidates(&mut self, sdp: &str) -> Result<()> {
        if !self.dial_tcp {
            return Ok(());
        }
        for line in sdp.lines().filter_map(|l| l.strip_prefix("a=")) {
            let is_passive_tcp = line.starts_with("candidate:")
                && line.split_whitespace().nth(2) == Some("tcp")
                && line.contains("tcptype passive");
            if !is_passive_tcp || self.dialed_tcp.iter().any(|d| d == line) {
                continue;
            }
            self.dialed_tcp.push(line.to_owned());
            self.pc
                .add_ice_candidate(RTCIceCandidateInit {
                    candidate: line.to_owned(),
                    sdp_mid: Some("0".to_owned()),
                    sdp_mline_index: Some(0),
                    ..RTCIceCandidateInit::default()
                })
                .await
                .context("dialling the server's ICE-TCP candidate")?;
        }
        Ok(())
    }

    async fn on_answer(&mut self, sdp: String, request_id: Option<String>) -> Result<()> {
        let Some(outstanding) = self.outstanding_offer.take() else {
            return Err(anyhow!(
                "the server sent an answer (request_id {request_id:?}) with no offer of ours \
                 outstanding"
            ));
        };
        if let Some(id) = &request_id
            && *id != outstanding
        {
            self.shared.local_error(format!(
                "the server's answer echoes request_id {id}, but our outstanding offer is \
                 {outstanding}"
            ));
        }
        let answer = RTCSessionDescription::answer(sdp.clone())
            .map_err(|e| anyhow!("the server's answer is not valid SDP: {e}"))?;
        self.pc
            .set_remote_description(answer)
            .await
            .context("applying the server's answer")?;
        self.dial_passive_tcp_candidates(&sdp).await?;
        self.shared.lock().answers_applied += 1;
        self.answered.send_modify(|n| *n += 1);
        if self.need_offer {
            self.offer().await?;
        }
        Ok(())
    }

    /// A `glare` error refers to our current offer if it echoes its request id, or, without a
    /// request id, if no server offer arrived since we sent it (had one arrived, we would have
    /// rolled that offer back already and the error is about the old one).
    async fn on_glare(&mut self, request_id: Option<String>) -> Result<()> {
        let Some(outstanding) = self.outstanding_offer.clone() else {
            return Ok(());
        };
        let ours = match &request_id {
            Some(id) => *id == outstanding,
            None => self.server_offers == self.server_offers_at_send,
        };
        if !ours {
            return Ok(());
        }
        self.outstanding_offer = None;
        let rollback = RTCSessionDescription::rollback(None)
            .map_err(|e| anyhow!("building a rollback description: {e}"))?;
        self.pc
            .set_local_description(rollback)
            .await
            .context("rolling back our offer after glare")?;
        self.shared.lock().rollbacks += 1;
        self.need_offer = true;
        // The server's offer should be on its way, and answering it re-offers. Should it never
        // come, offer again shortly anyway rather than wait forever.
        self.reoffer_at = Some(tokio::time::Instant::now() + GLARE_RETRY);
        Ok(())
    }

    async fn offer_or_record(&mut self) {
        if let Err(err) = self.offer().await {
            self.shared.local_error(format!("{err:#}"));
        }
    }

    /// Creates, applies and sends an offer describing our tracks.
    async fn offer(&mut self) -> Result<()> {
        let offer = self
            .pc
            .create_offer(None)
            .await
            .context("creating our offer")?;
        self.pc
            .set_local_description(offer)
            .await
            .context("applying our offer")?;
        let sdp = self
            .pc
            .local_description()
            .await
            .context("no local description after offering")?
            .sdp;
        let tracks = self.local.describe().await?;
        self.offers_sent += 1;
        let request_id = format!("offer-{}", self.offers_sent);
        self.send(&ClientFrame::Offer { sdp, tracks }, Some(&request_id))
            .await?;
        self.outstanding_offer = Some(request_id);
        self.server_offers_at_send = self.server_offers;
        self.need_offer = false;
        self.after_description_sent().await;
        Ok(())
    }

    async fn after_description_sent(&mut self) {
        if self.described {
            return;
        }
        self.described = true;
        for candidate in std::mem::take(&mut self.held_candidates) {
            self.send_candidate(candidate).await;
        }
    }

    async fn send_candidate(&mut self, candidate: RTCIceCandidateInit) {
        // Exactly the browser's `RTCIceCandidateInit` fields. `to_json` leaves sdpMid empty;
        // a browser names the first (bundled) m-section and the ICE ufrag.
        let (mut mid, mut ufrag) = (None, None);
        if let Some(local) = self.pc.local_description().await {
            mid = first_attribute(&local.sdp, "a=mid:");
            ufrag = first_attribute(&local.sdp, "a=ice-ufrag:");
        }
        let value = serde_json::json!({
            "candidate": candidate.candidate,
            "sdpMid": mid,
            "sdpMLineIndex": 0,
            "usernameFragment": ufrag,
        });
        if let Err(err) = self
            .send(&ClientFrame::Candidate { candidate: value }, None)
            .await
        {
            self.shared
                .local_error(format!("sending a candidate: {err:#}"));
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn first_attribute(sdp: &str, prefix: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix))
        .map(str::to_owned)
}
