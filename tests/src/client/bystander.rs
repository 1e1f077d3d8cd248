//! A participant with a WebSocket and no peer connection: it sees the room the way signaling
//! describes it, and can lose its socket and resume its seat like a phone on a bad network.
//! Because it has no media path, the server's media timeouts never concern it, so it can
//! watch a room while the network of someone else in it is cut.

use super::signaling::{Socket, open_and_join};
use super::state::Shared;
use crate::protocol::{ClientFrame, Joined, Participant, ServerFrame, parse_server_frame};
use anyhow::{Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// See the module docs.
pub struct Bystander {
    who: String,
    joined: Joined,
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    writer: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    /// Tells the reader the network is gone (see [`Bystander::lose_network`]).
    network_lost: Option<oneshot::Sender<()>>,
}

impl Bystander {
    /// Joins with `token`; with `resume` (a resume token) it asks for an earlier seat back.
    pub async fn join(ws_url: &str, token: &str, resume: Option<&str>, who: &str) -> Result<Self> {
        crate::init_logging();
        let shared = Arc::new(Shared::default());
        let (socket, joined, _) =
            open_and_join(ws_url, token, resume, who, &shared, JOIN_TIMEOUT).await?;
        let (network_lost, lost) = oneshot::channel();
        let (writer, stream) = socket.split();
        let reader = tokio::spawn(read_frames(stream, Arc::clone(&shared), lost));
        Ok(Self {
            who: who.to_owned(),
            joined,
            shared,
            reader,
            writer: tokio::sync::Mutex::new(writer),
            network_lost: Some(network_lost),
        })
    }

    /// The `joined` frame.
    pub fn joined(&self) -> &Joined {
        &self.joined
    }

    /// Our seat.
    pub fn id(&self) -> &str {
        &self.joined.participant.id
    }

    /// Sends a frame.
    pub async fn send(&self, frame: ClientFrame) -> Result<()> {
        let text = frame.to_json(None)?;
        self.writer
            .lock()
            .await
            .send(Message::text(text))
            .await
            .with_context(|| format!("{}: sending a frame", self.who))
    }

    /// The text of every frame received, in order.
    pub fn raw_frames(&self) -> Vec<String> {
        self.shared.lock().raw_frames.clone()
    }

    /// Everyone else in the room now.
    pub fn participants(&self) -> Vec<Participant> {
        self.shared.lock().participants.values().cloned().collect()
    }

    /// Every frame received so far, `joined` first.
    pub fn frames(&self) -> Vec<ServerFrame> {
        self.shared.lock().frames.clone()
    }

    /// Waits for a frame matching `pred` (already received ones count).
    pub async fn wait_for_frame(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerFrame) -> bool,
    ) -> Result<ServerFrame> {
        self.shared
            .wait_for_frame(&self.who, what, timeout, pred, || {
                format!("frames: {:?}", self.frames())
            })
            .await
    }

    /// The socket vanishes without a close frame, as when a phone loses its network.
    pub fn drop_socket(self) -> String {
        self.reader.abort();
        self.joined.resume_token.clone().unwrap_or_default()
    }

    /// The network goes away under the socket and the server is not told: the connection stays
    /// open but nothing more is read or answered (not even pings) until this bystander is
    /// dropped, as with a phone that lost its signal. Returns the resume token.
    pub fn lose_network(&mut self) -> String {
        if let Some(lost) = self.network_lost.take() {
            let _ = lost.send(());
        }
        self.joined.resume_token.clone().unwrap_or_default()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(
    mut socket: SplitStream<Socket>,
    shared: Arc<Shared>,
    network_lost: oneshot::Receiver<()>,
) {
    tokio::select! {
        // The socket is kept (and so stays open) while nothing reads it.
        Ok(()) = network_lost => std::future::pending::<()>().await,
        () = read_until_closed(&mut socket, &shared) => {}
    }
}

async fn read_until_closed(socket: &mut SplitStream<Socket>, shared: &Shared) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        shared.record_raw(text.as_str());
        match parse_server_frame(text.as_str()).context("an unparsable server frame") {
            Ok(frame) => shared.apply_frame(&frame),
            Err(err) => shared.local_error(format!("{err:#}")),
        }
    }
}
