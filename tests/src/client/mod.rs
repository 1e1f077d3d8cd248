//! [`TestClient`]: one participant on the async `webrtc` crate, speaking the Accord signaling
//! protocol, publishing generated media and recording what it receives.
//!
//! Lifecycle: [`TestClient::join`] (or [`TestClient::connect`]) opens the WebSocket, sends
//! `join`, waits for `joined`, builds the peer connection, adds the requested tracks and hands
//! the socket to the signaling task, which offers them. Media starts flowing once the
//! connection is up and the server answered. Call [`TestClient::close`] (or
//! [`TestClient::leave`]) at the end: the crate's driver does not stop on drop.

mod bystander;
mod inspect;
mod options;
// `pub(crate)` so the load tool (`crate::load`) can build lean participants from the same parts.
pub(crate) mod peer;
pub(crate) mod publish;
mod receive;
pub(crate) mod signaling;
pub(crate) mod state;
pub mod whip;

#[cfg(test)]
mod loopback_test;

pub use bystander::Bystander;
pub use options::{ClientOptions, VideoPublish};
pub use signaling::JoinRefused;
pub use state::{PacketRecord, RECENT_PAYLOADS, ReceivedTrack};
pub use whip::{WhepViewer, WhipHttp, WhipPublisher, WhipResponse};

use crate::payload::{PayloadKind, PayloadLedger};
use crate::protocol::{
    ClientFrame, ErrorFrame, Joined, Participant, ServerFrame, Speaker, TrackInfo,
};
use crate::server::{TestServer, TokenRequest};
use crate::wait::{wait_until, within};
use anyhow::{Context, Result, anyhow, bail};
use signaling::{Command, Signaling};
use state::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// How long `join` may take to produce `joined`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// One participant; see the module docs.
pub struct TestClient {
    options: ClientOptions,
    joined: Joined,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    ledger: Arc<PayloadLedger>,
    commands: mpsc::UnboundedSender<Command>,
    connection: watch::Receiver<RTCPeerConnectionState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestClient {
    /// Mints a token for `room` on `server` and connects with it.
    pub async fn join(server: &TestServer, room: &str, options: ClientOptions) -> Result<Self> {
        let mut request = TokenRequest::new(room, &options.identity, &options.role);
        request.can_publish = options.can_publish;
        request.can_subscribe = options.can_subscribe;
        let token = server
            .mint(&request)
            .await
            .with_context(|| format!("minting a token for {}", options.identity))?;
        Self::connect(&server.ws_url(), &token, options).await
    }

    /// Connects to `ws_url` with `token`; returns once `joined` arrived. The signaling task
    /// then offers our tracks, and media starts once the connection is up and answered.
    pub async fn connect(ws_url: &str, token: &str, options: ClientOptions) -> Result<Self> {
        Self::connect_resuming(ws_url, token, None, options).await
    }

    /// Like [`TestClient::connect`], asking for the seat `resume` (a resume token) back, as a
    /// client does after its socket dropped. A server that no longer holds the seat seats it
    /// anew (with a `resume_failed` error frame before `joined`) on a new peer connection.
    /// A fatal refusal is a [`JoinRefused`].
    pub async fn connect_resuming(
        ws_url: &str,
        token: &str,
        resume: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self> {
        crate::init_logging();
        let who = options.identity.clone();
        // Frames before `joined` (a waiting room, a refused resume) are kept for the record.
        let shared = Arc::new(Shared::default());
        let (socket, joined, _) =
            signaling::open_and_join(ws_url, token, resume, &who, &shared, JOIN_TIMEOUT).await?;

        let peer = peer::build(Arc::clone(&shared), options.tcp_only).await?;
        let pc = Arc::clone(&peer.pc);
        let stream_id = format!("accord-test-{}", options.identity);
        let local = match publish::LocalMedia::create(&pc, &stream_id, options.audio, options.video)
            .await
        {
            Ok(local) => Arc::new(local),
            Err(err) => {
                let _ = pc.close().await;
                return Err(err);
            }
        };

        let ledger = Arc::new(PayloadLedger::default());
        let (stop, stop_rx) = watch::channel(false);
        let (answered_tx, answered_rx) = watch::channel(0u64);
        let ready = media_ready(answered_rx, peer.state.clone());
        let mut tasks = match local
            .start_pacers(
                options.variant,
                options.audio_level,
                Arc::clone(&ledger),
                ready,
                stop_rx,
            )
            .await
        {
            Ok(tasks) => tasks,
            Err(err) => {
                let _ = pc.close().await;
                return Err(err);
            }
        };
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let signaling = Signaling::new(
            who,
            socket,
            Arc::clone(&pc),
            Arc::clone(&shared),
            local,
            commands_rx,
            peer.candidates,
            answered_tx,
        )
        .dialing_tcp(options.tcp_only);
        tasks.push(tokio::spawn(signaling.run()));
        Ok(Self {
            options,
            joined,
            pc,
            shared,
            ledger,
            commands,
            connection: peer.state,
            stop,
            tasks,
        })
    }

    /// Our participant id.
    pub fn id(&self) -> &str {
        &self.joined.participant.id
    }

    /// Our identity.
    pub fn identity(&self) -> &str {
        &self.options.identity
    }

    /// The options this client was created with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The `joined` frame.
    pub fn joined(&self) -> &Joined {
        &self.joined
    }

    /// Hashes of every payload we sent.
    pub fn ledger(&self) -> &Arc<PayloadLedger> {
        &self.ledger
    }

    /// Every server frame received, in order.
    pub fn frames(&self) -> Vec<ServerFrame> {
        self.shared.lock().frames.clone()
    }

    /// The text of every server frame received, in order.
    pub fn raw_frames(&self) -> Vec<String> {
        self.shared.lock().raw_frames.clone()
    }

    /// `error` frames received.
    pub fn server_errors(&self) -> Vec<ErrorFrame> {
        self.shared.server_errors()
    }

    /// Problems on the client side (SDP that failed to apply, undecodable frames, ...).
    pub fn local_errors(&self) -> Vec<String> {
        self.shared.lock().local_errors.clone()
    }

    /// Other participants as the server described them.
    pub fn participants(&self) -> Vec<Participant> {
        self.shared.lock().participants.values().cloned().collect()
    }

    /// Publications currently announced (ours included if the server announces them to us).
    pub fn known_tracks(&self) -> Vec<TrackInfo> {
        self.shared.lock().tracks.values().cloned().collect()
    }

    /// The latest `active_speakers` list.
    pub fn active_speakers(&self) -> Vec<Speaker> {
        self.shared.lock().active_speakers.clone()
    }

    /// Receive statistics of every publication we got packets for.
    pub fn received(&self) -> Vec<ReceivedTrack> {
        self.shared.lock().received.values().cloned().collect()
    }

    /// Receive statistics of `publisher`'s track of `kind` (`audio`/`video`), if any arrived.
    pub fn received_from(&self, publisher: &str, kind: &str) -> Option<ReceivedTrack> {
        let state = self.shared.lock();
        state
            .tracks
            .values()
            .filter(|t| t.participant_id == publisher && t.kind == kind)
            .find_map(|t| state.received.get(&t.id).cloned())
    }

    /// The current peer connection state.
    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.connection.borrow()
    }

    /// Waits until the peer connection is connected.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.connection.clone();
        let what = format!("{}'s peer connection to connect", self.identity());
        match within(
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
        .await
        {
            Ok(Ok(state)) if *state == RTCPeerConnectionState::Connected => Ok(()),
            Ok(Ok(state)) => bail!("{what}, but it became {}; {}", *state, self.describe()),
            Ok(Err(_)) => bail!("{what}, but the connection went away"),
            Err(err) => Err(err.context(self.describe())),
        }
    }

    /// Waits until at least `min_packets` RTP packets of `publisher`'s `kind` track arrived.
    pub async fn wait_for_media_from(
        &self,
        publisher: &str,
        kind: &str,
        min_packets: u64,
        timeout: Duration,
    ) -> Result<ReceivedTrack> {
        let what = format!(
            "{} to receive {min_packets} {kind} packets from participant {publisher}",
            self.identity()
        );
        wait_until(
            timeout,
            &what,
            || {
                self.check_health()?;
                Ok(self
                    .received_from(publisher, kind)
                    .filter(|r| r.packets >= min_packets))
            },
            || self.describe(),
        )
        .await
    }

    /// Waits for a server frame matching `pred` (already received ones count).
    pub async fn wait_for_frame(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerFrame) -> bool,
    ) -> Result<ServerFrame> {
        self.shared
            .wait_for_frame(self.identity(), what, timeout, pred, || self.describe())
            .await
    }

    /// Sends `track_settings` for a remote video track.
    pub async fn send_track_settings(&self, track_id: &str, width: u32, height: u32) -> Result<()> {
        self.send(ClientFrame::TrackSettings {
            track_id: track_id.to_owned(),
            width,
            height,
            enabled: None,
        })
        .await
    }

    /// Sends any frame.
    pub async fn send(&self, frame: ClientFrame) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Send(frame, tx))
            .map_err(|_| anyhow!("{}: the signaling task has ended", self.identity()))?;
        within(Duration::from_secs(5), "a frame to be sent", rx)
            .await?
            .map_err(|_| anyhow!("{}: the signaling task dropped a send", self.identity()))?
    }

    /// Makes the client offer again (same tracks), as a browser does after a track change.
    /// Useful to provoke glare with a server offer.
    pub fn renegotiate(&self) -> Result<()> {
        self.commands
            .send(Command::Renegotiate)
            .map_err(|_| anyhow!("{}: the signaling task has ended", self.identity()))
    }

    /// Sends `leave`, waits (5 s) for `left`, then closes everything.
    pub async fn leave(self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let sent = self.commands.send(Command::Leave(tx));
        let result = match sent {
            Ok(()) => match within(Duration::from_secs(5), "`left` after `leave`", rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(anyhow!("the signaling task ended before `left`")),
                Err(err) => Err(err),
            },
            Err(_) => Err(anyhow!("the signaling task has ended")),
        };
        let closed = self.close().await;
        result.and(closed)
    }

    /// Stops publishing, closes the socket and the peer connection.
    pub async fn close(mut self) -> Result<()> {
        self.shutdown().await
    }

    /// Fails at once on a condition no amount of waiting will fix.
    fn check_health(&self) -> Result<()> {
        let state = self.shared.lock();
        if let Some(fatal) = state.frames.iter().find_map(|f| match f {
            ServerFrame::Error(e) if e.fatal => Some(e.clone()),
            _ => None,
        }) {
            bail!("{} got a fatal error: {fatal:?}", self.identity());
        }
        drop(state);
        if self.connection_state() == RTCPeerConnectionState::Failed {
            bail!(
                "{}'s peer connection failed; {}",
                self.identity(),
                self.describe()
            );
        }
        Ok(())
    }

    async fn shutdown(&mut self) -> Result<()> {
        self.stop.send_replace(true);
        let _ = self.commands.send(Command::Close);
        for task in self.tasks.drain(..) {
            // Pacers and the signaling task end on their own; don't let one hang the test.
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
            .map_err(|e| anyhow!("{}: closing the peer connection: {e}", self.identity()))
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        // Best effort for a test that failed before `close`: stop the tasks and close the
        // connection on the runtime if there still is one.
        self.stop.send_replace(true);
        let _ = self.commands.send(Command::Close);
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let pc = Arc::clone(&self.pc);
            handle.spawn(async move {
                let _ = pc.close().await;
            });
        }
    }
}

/// A watch that turns true once the connection is up and the server answered our offer.
pub(crate) fn media_ready(
    mut answered: watch::Receiver<u64>,
    mut connection: watch::Receiver<RTCPeerConnectionState>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let answered_ok = answered.wait_for(|n| *n > 0).await.is_ok();
        let connected_ok = connection
            .wait_for(|s| *s == RTCPeerConnectionState::Connected)
            .await
            .is_ok();
        if answered_ok && connected_ok {
            tx.send_replace(true);
        }
    });
    rx
}

/// Convenience for tests: the payload kind of a track kind string.
pub fn payload_kind(kind: &str) -> PayloadKind {
    if kind == "audio" {
        PayloadKind::Opus
    } else {
        PayloadKind::Vp8
    }
}
