//! What signaling holds for one admitted participant: its commands to the shard that owns
//! its room, and leaving when dropped.

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::events::{IceCandidate, TrackDeclaration, TrackInfo};
use crate::ids::{ParticipantId, RoomId, Space, TrackId, TrackSource};
use crate::net::PeerKey;
use crate::server::Sfu;
use crate::shard::{Command, Pending, Request, requests};

/// Commands for one participant. Dropping it removes the participant from the SFU.
pub struct ParticipantHandle {
    pub(crate) sfu: Sfu,
    pub(crate) shard: usize,
    pub(crate) key: PeerKey,
    pub(crate) room: RoomId,
    pub(crate) left: bool,
}

impl ParticipantHandle {
    /// Sends `request` to the shard that owns the room and waits for its reply.
    async fn call<R: Request>(&self, request: R) -> Result<R::Reply> {
        let (reply, answer) = oneshot::channel();
        let call = Box::new(Pending { request, reply });
        self.sfu.inner.shards[self.shard]
            .send(Command::Participant {
                key: self.key,
                call,
            })
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.unwrap_or(Err(Error::ShuttingDown))
    }

    /// Applies the client's offer and returns our answer. `tracks` says what its
    /// transceivers carry.
    pub async fn offer(&self, sdp: String, tracks: Vec<TrackDeclaration>) -> Result<String> {
        self.call(requests::Offer { sdp, tracks }).await
    }

    /// For a receive-only client that cannot renegotiate (WHEP): applies its offer, binds
    /// the audio and video of `watch` (or of the first publisher) to it, and returns our
    /// answer. Such a participant should join with `can_subscribe: false`, so nothing else
    /// is ever offered to it.
    pub async fn viewer_offer(&self, sdp: String, watch: Option<ParticipantId>) -> Result<String> {
        self.call(requests::ViewerOffer { sdp, watch }).await
    }

    /// Applies the client's answer to our last offer.
    pub async fn answer(&self, sdp: String) -> Result<()> {
        self.call(requests::Answer { sdp }).await
    }

    /// Adds a trickled client candidate.
    pub async fn add_candidate(&self, candidate: IceCandidate) -> Result<()> {
        self.call(requests::Candidate { candidate }).await
    }

    /// The client renders `track` at this size (0×0: not at all).
    pub async fn track_settings(&self, track: TrackId, width: u32, height: u32) -> Result<()> {
        self.call(requests::TrackSettings {
            track,
            size: (width, height),
        })
        .await
    }

    /// The client muted or unmuted its own source.
    pub async fn set_muted(&self, source: TrackSource, muted: bool) -> Result<()> {
        self.call(requests::Mute { source, muted }).await
    }

    /// Silence from this participant is expected (`true`: its app is in the background or its
    /// socket is gone) or no longer (`false`). While paused it is never reported
    /// [`SfuEvent::MediaLost`](crate::SfuEvent::MediaLost); after a pause its media gets a while to come back.
    pub async fn set_paused(&self, paused: bool) -> Result<()> {
        self.call(requests::Pause { paused }).await
    }

    /// The participant wants no video (`true`: its "save data" switch) or video again.
    pub async fn set_save_data(&self, enabled: bool) -> Result<()> {
        self.call(requests::SaveData { enabled }).await
    }

    /// Moves the participant to another space of its room (see [`Space`]).
    pub async fn move_to(&self, space: Space) -> Result<()> {
        self.call(requests::Move { space }).await
    }

    /// A moderator mutes one of the participant's sources (`held`), or lifts that: while held
    /// nothing of it is forwarded, until the participant unmutes it themselves.
    pub async fn hold(&self, source: TrackSource, held: bool) -> Result<()> {
        self.call(requests::Hold { source, held }).await
    }

    /// Tracks others publish in the room now (for a client that resumes its seat).
    pub async fn room_tracks(&self) -> Result<Vec<TrackInfo>> {
        self.call(requests::RoomTracks {}).await
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
