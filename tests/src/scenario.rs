//! Assertions shared by the end-to-end tests: "this participant receives that one's media,
//! intact and well-formed".

use crate::client::{ReceivedTrack, TestClient, VideoPublish};
use anyhow::{Context, Result, bail};
use futures_util::future::try_join_all;
use std::time::Duration;

/// How much media counts as "receives".
#[derive(Debug, Clone)]
pub struct MediaExpectation {
    /// Audio packets (20 ms each) to wait for.
    pub audio_packets: u64,
    /// Video packets to wait for.
    pub video_packets: u64,
    /// Deadline for each publisher → receiver pair.
    pub timeout: Duration,
    /// Largest tolerated share of lost packets (sequence gaps), 0.0–1.0.
    pub max_loss: f64,
}

impl Default for MediaExpectation {
    /// Two seconds of audio, a couple of seconds of video, within 15 s, at most 2 % loss.
    fn default() -> Self {
        Self {
            audio_packets: 100,
            video_packets: 60,
            timeout: Duration::from_secs(15),
            max_loss: 0.02,
        }
    }
}

/// Waits until `receiver` gets `publisher`'s audio and video (whatever it publishes), then
/// checks each stream: one SSRC, no timestamp jumps, bounded loss, a keyframe for video, and
/// every payload one that `publisher` sent.
pub async fn expect_receives(
    receiver: &TestClient,
    publisher: &TestClient,
    exp: &MediaExpectation,
) -> Result<()> {
    let mut kinds = Vec::new();
    if publisher.options().audio {
        kinds.push(("audio", exp.audio_packets));
    }
    if publisher.options().video != VideoPublish::None {
        kinds.push(("video", exp.video_packets));
    }
    for (kind, min) in kinds {
        let rx = receiver
            .wait_for_media_from(publisher.id(), kind, min, exp.timeout)
            .await?;
        check_stream(receiver, publisher, kind, &rx, exp)?;
    }
    let checked = receiver.check_payloads_from(publisher)?;
    if checked == 0 {
        bail!(
            "{} checked no payloads from {}",
            receiver.identity(),
            publisher.identity()
        );
    }
    Ok(())
}

fn check_stream(
    receiver: &TestClient,
    publisher: &TestClient,
    kind: &str,
    rx: &ReceivedTrack,
    exp: &MediaExpectation,
) -> Result<()> {
    let who = format!(
        "{}'s {kind} as received by {}",
        publisher.identity(),
        receiver.identity()
    );
    if rx.ssrcs.len() != 1 {
        bail!(
            "{who} arrived on {} SSRCs {:?}; an SFU should present one stream per subscription: {}",
            rx.ssrcs.len(),
            rx.ssrcs,
            rx.summary()
        );
    }
    if rx.timestamp_jumps > 0 {
        bail!("{who} has timestamp jumps: {}", rx.summary());
    }
    let expected = rx.packets + rx.lost_packets;
    let loss = rx.lost_packets as f64 / expected.max(1) as f64;
    if loss > exp.max_loss {
        bail!(
            "{who} lost {:.1}% of packets (limit {:.1}%): {}",
            loss * 100.0,
            exp.max_loss * 100.0,
            rx.summary()
        );
    }
    if kind == "video" && rx.keyframes == 0 {
        bail!("{who} carried no keyframe: {}", rx.summary());
    }
    Ok(())
}

/// [`expect_receives`] for every ordered pair of distinct clients, all waits running at once.
pub async fn expect_full_mesh(clients: &[&TestClient], exp: &MediaExpectation) -> Result<()> {
    let mut checks = Vec::new();
    for receiver in clients {
        for publisher in clients {
            if receiver.id() != publisher.id() {
                checks.push(async move {
                    expect_receives(receiver, publisher, exp)
                        .await
                        .with_context(|| {
                            format!("{} → {}", publisher.identity(), receiver.identity())
                        })
                });
            }
        }
    }
    try_join_all(checks).await.map(|_| ())
}

/// Fails if any client recorded a server `error` frame or a client-side error. `glare` is
/// not an error: it is part of perfect negotiation.
pub fn expect_no_errors(clients: &[&TestClient]) -> Result<()> {
    for c in clients {
        let server: Vec<_> = c
            .server_errors()
            .into_iter()
            .filter(|e| e.code != "glare")
            .collect();
        let local = c.local_errors();
        if !server.is_empty() || !local.is_empty() {
            bail!(
                "{} saw errors: server {server:?}, local {local:?}",
                c.identity()
            );
        }
    }
    Ok(())
}

/// Closes every client, reporting the first failure after trying them all.
pub async fn close_all(clients: Vec<TestClient>) -> Result<()> {
    let mut first_err = None;
    for c in clients {
        if let Err(err) = c.close().await
            && first_err.is_none()
        {
            first_err = Some(err);
        }
    }
    match first_err {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
