//! [`LoadClient`]: a lean participant for load runs, assembled from the test client's parts
//! (peer connection, perfect-negotiation signaling, send-only transceivers) but publishing
//! synthetic stamped media and handing received packets to a [`Recorder`] instead of hashing
//! them.

use super::pacer::{self, MediaPlan, SentCounter};
use super::recorder::Recorder;
use crate::client::VideoPublish;
use crate::client::publish::LocalMedia;
use crate::client::signaling::{Command, Signaling, open_and_join};
use crate::client::state::{RtpTap, Shared};
use crate::client::{media_ready, peer};
use crate::protocol::{ClientFrame, ServerFrame};
use anyhow::Result;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// How long the WebSocket handshake and `join` → `joined` may take.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a client looks for newly announced video tracks to send `track_settings` for.
const SETTINGS_POLL: Duration = Duration::from_millis(50);

/// The size a subscriber renders a remote video at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// A thumbnail, 320x180: the q layer.
    Small,
    /// The speaker view, 1280x720: the f layer.
    Large,
}

impl Tile {
    fn size(self) -> (u32, u32) {
        match self {
            Tile::Small => (320, 180),
            Tile::Large => (1280, 720),
        }
    }
}

/// How one load participant behaves.
#[derive(Debug, Clone)]
pub struct LoadClientOptions {
    /// Token identity.
    pub identity: String,
    /// Publishes audio and 3-layer simulcast video.
    pub publish: bool,
    /// Index used to alternate tiles: the n-th remote video this client sees is rendered
    /// [`Tile::Small`] when `tile_phase + n` is even, [`Tile::Large`] otherwise.
    pub tile_phase: usize,
    /// What to publish.
    pub plan: MediaPlan,
    /// Audio level sent in the audio-level extension (-dBov).
    pub audio_level: u8,
}

/// One connected load participant; call [`LoadClient::close`] at the end.
pub struct LoadClient {
    /// Token identity.
    pub identity: String,
    /// Server-assigned participant id.
    pub id: String,
    /// What this client receives.
    pub recorder: Arc<Recorder>,
    /// When `join` was sent.
    pub join_sent: Instant,
    /// Whether media was already published in the room when it joined (only then does
    /// "join to first media" make sense).
    pub media_at_join: bool,
    connected_at: Arc<Mutex<Option<Instant>>>,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl LoadClient {
    /// Connects to `ws_url` with `token`, joins, and starts publishing and subscribing.
    /// Returns once `joined` arrived; media follows as negotiation completes.
    pub async fn connect(
        ws_url: &str,
        token: &str,
        options: LoadClientOptions,
        recorder: Arc<Recorder>,
        sent: Arc<SentCounter>,
    ) -> Result<Self> {
        let who = options.identity.clone();
        let shared = Arc::new(Shared::default());
        shared.lock().tap = Some(Arc::clone(&recorder) as Arc<dyn RtpTap>);
        let (socket, joined, join_sent) =
            open_and_join(ws_url, token, None, &who, &shared, JOIN_TIMEOUT).await?;
        let media_at_join = !joined.tracks.is_empty();

        let peer = peer::build(Arc::clone(&shared), false).await?;
        let pc = Arc::clone(&peer.pc);
        let stream_id = format!("accord-load-{who}");
        let video = if options.publish {
            VideoPublish::Simulcast
        } else {
            VideoPublish::None
        };
        let local = match LocalMedia::create(&pc, &stream_id, options.publish, video).await {
            Ok(local) => Arc::new(local),
            Err(err) => {
                let _ = pc.close().await;
                return Err(err);
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let (answered_tx, answered_rx) = watch::channel(0u64);
        let ready = media_ready(answered_rx, peer.state.clone());
        let mut tasks = pacer::start(
            &local,
            options.plan,
            options.audio_level,
            sent,
            ready,
            stop_rx.clone(),
        );
        let connected_at = Arc::new(Mutex::new(None));
        tasks.push(tokio::spawn(watch_connected(
            peer.state.clone(),
            Arc::clone(&connected_at),
        )));
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let signaling = Signaling::new(
            who.clone(),
            socket,
            Arc::clone(&pc),
            Arc::clone(&shared),
            local,
            commands_rx,
            peer.candidates,
            answered_tx,
        );
        tasks.push(tokio::spawn(signaling.run()));
        tasks.push(tokio::spawn(send_track_settings(
            Arc::clone(&shared),
            commands.clone(),
            joined.participant.id.clone(),
            options.tile_phase,
            stop_rx,
        )));
        Ok(Self {
            identity: who,
            id: joined.participant.id,
            recorder,
            join_sent,
            media_at_join,
            connected_at,
            pc,
            shared,
            commands,
            stop,
            tasks,
        })
    }

    /// When the peer connection reached `connected` (ICE and DTLS done).
    pub fn connected_at(&self) -> Option<Instant> {
        self.connected_at.lock().ok().and_then(|g| *g)
    }

    /// Server `error` frames (other than `glare`, which is part of negotiation) and local
    /// errors, for the report.
    pub fn errors(&self) -> Vec<String> {
        let state = self.shared.lock();
        let mut out: Vec<String> = state
            .frames
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Error(e) if e.code != "glare" => {
                    Some(format!("server {}: {}", e.code, e.message))
                }
                _ => None,
            })
            .collect();
        out.extend(state.local_errors.iter().map(|e| format!("local: {e}")));
        out
    }

    /// Stops publishing, closes the socket and the peer connection, each step bounded.
    pub async fn close(mut self) {
        self.stop.send_replace(true);
        let _ = self.commands.send(Command::Close);
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.pc.close()).await;
    }
}

impl Drop for LoadClient {
    fn drop(&mut self) {
        // Only reached without `close` when a run is abandoned: stop what we can.
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
        if !self.tasks.is_empty()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let pc = Arc::clone(&self.pc);
            handle.spawn(async move {
                let _ = pc.close().await;
            });
        }
    }
}

async fn watch_connected(
    mut state: watch::Receiver<RTCPeerConnectionState>,
    at: Arc<Mutex<Option<Instant>>>,
) {
    if state
        .wait_for(|s| *s == RTCPeerConnectionState::Connected)
        .await
        .is_ok()
        && let Ok(mut slot) = at.lock()
    {
        *slot = Some(Instant::now());
    }
}

/// Sends `track_settings` once for every remote video track as it is announced, alternating
/// small and large tiles, as a gallery with one speaker view would.
async fn send_track_settings(
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    own_id: String,
    phase: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut done: HashSet<String> = HashSet::new();
    let mut ticker = tokio::time::interval(SETTINGS_POLL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut new: Vec<String> = {
            let state = shared.lock();
            // Only tracks the server has offered us: before that there is no subscription
            // for the settings to apply to, and the server would answer `unknown_track`.
            let offered: HashSet<&String> = state.mid_map.values().collect();
            state
                .tracks
                .values()
                .filter(|t| t.kind == "video" && t.participant_id != own_id)
                .filter(|t| offered.contains(&t.id) && !done.contains(&t.id))
                .map(|t| t.id.clone())
                .collect()
        };
        new.sort();
        for track_id in new {
            let tile = if (phase + done.len()).is_multiple_of(2) {
                Tile::Small
            } else {
                Tile::Large
            };
            let (width, height) = tile.size();
            let frame = ClientFrame::TrackSettings {
                track_id: track_id.clone(),
                width,
                height,
                enabled: None,
            };
            let (tx, rx) = oneshot::channel();
            if commands.send(Command::Send(frame, tx)).is_err() {
                return;
            }
            match rx.await {
                Ok(Ok(())) => {
                    done.insert(track_id);
                }
                // The socket is gone; nothing more to send.
                _ => return,
            }
        }
    }
}
