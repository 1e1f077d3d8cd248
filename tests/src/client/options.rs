//! What a [`TestClient`](super::TestClient) publishes and how it joins.

use crate::media::VideoSize;
use std::sync::atomic::{AtomicU32, Ordering};

/// What video a client publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPublish {
    /// No camera.
    None,
    /// One VP8 stream of this size.
    Single(VideoSize),
    /// Three VP8 layers with rids q (320x180), h (640x360), f (1280x720).
    Simulcast,
}

/// How a [`TestClient`](crate::client::TestClient) joins and what it publishes.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Token identity (also the display name).
    pub identity: String,
    /// `mediator`, `party`, `observer` or `guest`.
    pub role: String,
    /// Publish a microphone track.
    pub audio: bool,
    /// Camera track.
    pub video: VideoPublish,
    /// Which media variant to send; distinct per client so payloads identify the publisher.
    pub variant: u32,
    /// Audio level to put in the ssrc-audio-level extension, in -dBov (0 loudest, 127 silent).
    pub audio_level: u8,
    /// Token grant.
    pub can_publish: bool,
    /// Token grant.
    pub can_subscribe: bool,
    /// Gather only TCP candidates (a network that blocks UDP), so the only path to the
    /// server is its passive ICE-TCP candidate.
    pub tcp_only: bool,
}

impl ClientOptions {
    /// A participant publishing audio and a 640x360 camera, with the next free media variant.
    pub fn new(identity: &str, role: &str) -> Self {
        static NEXT_VARIANT: AtomicU32 = AtomicU32::new(0);
        Self {
            identity: identity.to_owned(),
            role: role.to_owned(),
            audio: true,
            video: VideoPublish::Single(VideoSize::Half),
            variant: NEXT_VARIANT.fetch_add(1, Ordering::Relaxed),
            audio_level: 30,
            can_publish: true,
            can_subscribe: true,
            tcp_only: false,
        }
    }

    /// Sets the camera.
    pub fn with_video(mut self, video: VideoPublish) -> Self {
        self.video = video;
        self
    }

    /// Publishes no microphone.
    pub fn without_audio(mut self) -> Self {
        self.audio = false;
        self
    }

    /// Reaches the server over ICE-TCP only (see [`ClientOptions::tcp_only`]).
    pub fn tcp_only(mut self) -> Self {
        self.tcp_only = true;
        self
    }

    /// Sets the audio level sent in the audio-level extension.
    pub fn with_audio_level(mut self, level: u8) -> Self {
        self.audio_level = level;
        self
    }
}
