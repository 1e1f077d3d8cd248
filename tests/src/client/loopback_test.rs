//! Self-test of the publishing and receiving halves without a server: two peer connections in
//! one process, the publisher offering its tracks directly to the receiver.

use super::VideoPublish;
use super::peer;
use super::publish::LocalMedia;
use super::state::Shared;
use crate::payload::{PayloadKind, PayloadLedger};
use anyhow::{Context, Result, ensure};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::peer_connection::{RTCPeerConnectionState, RTCSessionDescription};

async fn connected(state: &mut watch::Receiver<RTCPeerConnectionState>) -> Result<()> {
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == RTCPeerConnectionState::Connected),
    )
    .await
    .context("loopback connection timed out")?
    .context("state channel closed")?;
    Ok(())
}

async fn run_loopback(video: VideoPublish) -> Result<(Arc<Shared>, Arc<PayloadLedger>, String)> {
    crate::init_logging();
    let tx_shared = Arc::new(Shared::default());
    let rx_shared = Arc::new(Shared::default());
    let mut tx = peer::build(Arc::clone(&tx_shared), false).await?;
    let mut rx = peer::build(Arc::clone(&rx_shared), false).await?;
    let local = LocalMedia::create(&tx.pc, "loopback", true, video).await?;

    let offer = tx.pc.create_offer(None).await?;
    tx.pc.set_local_description(offer).await?;
    let offer_sdp = tx.pc.local_description().await.context("no offer")?.sdp;
    let described = local.describe().await?;
    ensure!(described.len() == 2, "tracks described: {described:?}");

    rx.pc
        .set_remote_description(RTCSessionDescription::offer(offer_sdp.clone())?)
        .await?;
    let answer = rx.pc.create_answer(None).await?;
    rx.pc.set_local_description(answer).await?;
    let answer_sdp = rx.pc.local_description().await.context("no answer")?.sdp;
    tx.pc
        .set_remote_description(RTCSessionDescription::answer(answer_sdp)?)
        .await?;
    // Host candidates only get exchanged through the descriptions' trickle here; hand them
    // over explicitly.
    let forward = |mut from: tokio::sync::mpsc::UnboundedReceiver<_>,
                   to: Arc<dyn webrtc::peer_connection::PeerConnection>| {
        tokio::spawn(async move {
            while let Some(c) = from.recv().await {
                let _ = to.add_ice_candidate(c).await;
            }
        })
    };
    let f1 = forward(tx.candidates, Arc::clone(&rx.pc));
    let f2 = forward(rx.candidates, Arc::clone(&tx.pc));
    connected(&mut tx.state).await?;
    connected(&mut rx.state).await?;

    let ledger = Arc::new(PayloadLedger::default());
    let (_ready_tx, ready) = watch::channel(true);
    let (stop_tx, stop) = watch::channel(false);
    let pacers = local
        .start_pacers(3, 20, Arc::clone(&ledger), ready, stop)
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_tx.send_replace(true);
    for p in pacers {
        let _ = p.await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    f1.abort();
    f2.abort();
    tx.pc.close().await?;
    rx.pc.close().await?;
    Ok((rx_shared, ledger, offer_sdp))
}

#[tokio::test(flavor = "multi_thread")]
async fn single_layer_media_arrives_intact() -> Result<()> {
    let (rx, ledger, _) = run_loopback(VideoPublish::Single(crate::media::VideoSize::Half)).await?;
    let state = rx.lock();
    ensure!(state.local_errors.is_empty(), "{:?}", state.local_errors);
    let tracks: Vec<_> = state.received.values().collect();
    ensure!(tracks.len() == 2, "received: {tracks:#?}");
    for t in tracks {
        eprintln!("{}", t.summary());
        ensure!(t.packets > 50, "{}", t.summary());
        ensure!(t.ssrcs.len() == 1, "{}", t.summary());
        ensure!(t.timestamp_jumps == 0, "{}", t.summary());
        ensure!(
            ledger.unknown(&t.payload_hashes).is_empty(),
            "{}",
            t.summary()
        );
        if t.kind == PayloadKind::Vp8 {
            ensure!(t.keyframes >= 1, "{}", t.summary());
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn simulcast_sends_three_rids() -> Result<()> {
    let (rx, ledger, offer) = run_loopback(VideoPublish::Simulcast).await?;
    ensure!(
        offer.contains("a=simulcast:send q;h;f"),
        "offer lacks the simulcast line:\n{offer}"
    );
    let state = rx.lock();
    ensure!(state.local_errors.is_empty(), "{:?}", state.local_errors);
    let video = state
        .received
        .values()
        .find(|t| t.kind == PayloadKind::Vp8)
        .context("no video received")?;
    ensure!(video.ssrcs.len() == 3, "{}", video.summary());
    ensure!(
        ledger.unknown(&video.payload_hashes).is_empty(),
        "{}",
        video.summary()
    );
    Ok(())
}
