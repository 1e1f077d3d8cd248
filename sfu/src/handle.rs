//! What signaling holds for one admitted participant: its commands to the shard that owns
//! its room, and leaving when dropped.

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::events::{IceCandidate, TrackDeclaration, TrackInfo};
use crate::ids::{ParticipantId, RoomId, Space, TrackId, TrackSource};
use crate::net::PeerKey;
use crate::server::Sfu;
use crate::shard::Command;

/// Commands for one participant. Dropping it removes the participant from the SFU.
pub struct ParticipantHandle {
    pub(crate) sfu: Sfu,
    pub(crate) shard: usize,
    pub(crate) key: PeerKey,
    pub(crate) room: RoomId,
    pub(crate) left: bool,
}

impl ParticipantHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.sfu.inner.shards[self.shard]
            .send(make(reply))
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.unwrap_or(Err(Error::ShuttingDown))
    }

    /// Applies the client's offer and returns our answer. `tracks` says what its
    /// transceivers carry.
    pub async fn offer(&self, sdp: String, tracks: Vec<TrackDeclaration>) -> Result<String> {
        let key = self.key;
        self.call(|reply| Command::Offer {
            key,
            sdp,
            tracks,
            reply,
        })
        .await
    }

    /// For a receive-only client that cannot renegotiate (WHEP): applies its offer, binds
    /// the audio and video of `watch` (or of the first publisher) to it, and returns our
    /// answer. Such a participant should join with `can_subscribe: false`, so nothing else
    /// is ever offered to it.
    pub async fn viewer_offer(&self, sdp: String, watch: Option<ParticipantId>) -> Result<String> {
        let key = self.key;
        self.call(|reply| Command::ViewerOffer {
            key,
            sdp,
            watch,
            reply,
        })
        .await
    }

    /// Applies the client's answer to our last offer.
    pub async fn answer(&self, sdp: String) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Answer { key, sdp, reply }).await
    }

    /// Adds a trickled client candidate.
    pub async fn add_candidate(&self, candidate: IceCandidate) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Candidate {
            key,
            candidate,
            reply,
        })
        .await
    }

    /// The client renders `track` at this size (0×0: not at all).
    pub async fn track_settings(&self, track: TrackId, width: u32, height: u32) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::TrackSettings {
            key,
            track,
            size: (width, height),
            reply,
        })
        .await
    }

    /// The client muted or unmuted its own source.
    pub async fn set_muted(&self, source: TrackSource, muted: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Mute {
            key,
            source,
            muted,
            reply,
        })
        .await
    }

    /// Silence from this participant is expected (`true`: its app is in the background or its
    /// socket is gone) or no longer (`false`). While paused it is never reported
    /// [`SfuEvent::MediaLost`](crate::SfuEvent::MediaLost); after a pause its media gets a while to come back.
    pub async fn set_paused(&self, paused: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Pause { key, paused, reply })
            .await
    }

    /// The participant wants no video (`true`: its "save data" switch) or video again.
    pub async fn set_save_data(&self, enabled: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::SaveData {
            key,
            enabled,
            reply,
        })
        .await
    }

    /// Moves the participant to another space of its room (see [`Space`]).
    pub async fn move_to(&self, space: Space) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Move { key, space, reply }).await
    }

    /// A moderator mutes one of the participant's sources (`held`), or lifts that: while held
    /// nothing of it is forwarded, until the participant unmutes it themselves.
    pub async fn hold(&self, source: TrackSource, held: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Hold {
            key,
            source,
            held,
            reply,
        })
        .await
    }

    /// Tracks others publish in the room now (for a client that resumes its seat).
    pub async fn room_tracks(&self) -> Result<Vec<TrackInfo>> {
        let key = self.key;
        self.call(|reply| Command::RoomTracks { key, reply }).await
    }

    /// Leaves the room now.
    pub fn leave(mut self) {
        self.leave_once();
    }

    fn leave_once(&mut self) {
        if !self.left {
            self.left = true;
            let _ = self.sfu.inner.shards[self.shard].send(Command::Leave { key: self.key });
            self.sfu.release(&self.room);
        }
    }
}

impl Drop for ParticipantHandle {
    fn drop(&mut self) {
        self.leave_once();
    }
}
