//! The baseline path: one publisher connected straight to one receiver over loopback, no
//! SFU, with the same client stack, media and stamps. It runs during the measured window, so
//! it sees the same CPU contention as the SFU path; the difference between the two is what
//! the SFU adds (its processing plus one more UDP hop).

use super::pacer::{self, MediaPlan, SentCounter};
use super::recorder::Recorder;
use crate::client::VideoPublish;
use crate::client::peer;
use crate::client::publish::LocalMedia;
use crate::client::state::{RtpTap, Shared};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

/// A running direct pair; [`Baseline::close`] at the end.
pub struct Baseline {
    tx: Arc<dyn PeerConnection>,
    rx: Arc<dyn PeerConnection>,
    stop: watch::Sender<bool>,
    /// Held so the pacers' ready signal stays valid.
    _ready: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Baseline {
    /// Connects the pair (offer, answer, candidates) and starts publishing audio and three
    /// video layers, which the receiver hands to `recorder`.
    pub async fn start(plan: MediaPlan, recorder: Arc<Recorder>) -> Result<Self> {
        let rx_shared = Arc::new(Shared::default());
        rx_shared.lock().tap = Some(recorder as Arc<dyn RtpTap>);
        let tx = peer::build(Arc::new(Shared::default()), false).await?;
        let rx = peer::build(rx_shared, false).await?;
        let local = LocalMedia::create(&tx.pc, "baseline", true, VideoPublish::Simulcast).await?;

        let offer = tx.pc.create_offer(None).await?;
        tx.pc.set_local_description(offer).await?;
        let offer = tx.pc.local_description().await.context("no local offer")?;
        rx.pc.set_remote_description(offer).await?;
        let answer = rx.pc.create_answer(None).await?;
        rx.pc.set_local_description(answer).await?;
        let answer_sdp = rx
            .pc
            .local_description()
            .await
            .context("no local answer")?
            .sdp;
        tx.pc
            .set_remote_description(RTCSessionDescription::answer(answer_sdp)?)
            .await?;
        let mut tasks = vec![
            forward_candidates(tx.candidates, Arc::clone(&rx.pc)),
            forward_candidates(rx.candidates, Arc::clone(&tx.pc)),
        ];
        for mut state in [tx.state.clone(), rx.state.clone()] {
            tokio::time::timeout(
                Duration::from_secs(15),
                state.wait_for(|s| *s == RTCPeerConnectionState::Connected),
            )
            .await
            .context("the baseline pair did not connect within 15 s")?
            .context("baseline connection state closed")?;
        }
        let (ready_tx, ready) = watch::channel(true);
        let (stop, stop_rx) = watch::channel(false);
        // Its packets are not the SFU's load: they are counted nowhere.
        let sent = Arc::new(SentCounter::default());
        tasks.extend(pacer::start(&local, plan, 40, sent, ready, stop_rx));
        Ok(Self {
            tx: tx.pc,
            rx: rx.pc,
            stop,
            _ready: ready_tx,
            tasks,
        })
    }

    /// Stops the pacers and closes both ends.
    pub async fn close(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.abort();
        }
        for pc in [self.tx, self.rx] {
            let _ = tokio::time::timeout(Duration::from_secs(5), pc.close()).await;
        }
    }
}

fn forward_candidates(
    mut from: mpsc::UnboundedReceiver<RTCIceCandidateInit>,
    to: Arc<dyn PeerConnection>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(candidate) = from.recv().await {
            let _ = to.add_ice_candidate(candidate).await;
        }
    })
}
