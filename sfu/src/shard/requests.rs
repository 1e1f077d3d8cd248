//! Everything signaling may ask of one participant's seat, one type per request, each
//! naming its reply and the shard method that carries it out.

use super::Shard;
use super::commands::Request;
use crate::error::Result;
use crate::events::{IceCandidate, TrackDeclaration, TrackInfo};
use crate::ids::{ParticipantId, Space, TrackId, TrackSource};

/// Declares a request type: its fields, its reply, and the shard method that carries it out.
macro_rules! request {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* } -> $reply:ty,
     |$shard:ident, $index:ident| $apply:expr) => {
        $(#[$doc])*
        pub(crate) struct $name {
            $(pub $field: $ty,)*
        }

        impl Request for $name {
            type Reply = $reply;
            fn apply(self, $shard: &mut Shard, $index: usize) -> Result<$reply> {
                let Self { $($field),* } = self;
                $apply
            }
        }
    };
}

request!(
    /// The client's offer, with what its transceivers carry; the reply is our answer.
    Offer { sdp: String, tracks: Vec<TrackDeclaration> } -> String,
    |shard, index| shard.client_offer(index, sdp, tracks)
);
request!(
    /// The client's answer to our last offer.
    Answer { sdp: String } -> (),
    |shard, index| shard.client_answer(index, sdp)
);
request!(
    /// A receive-only viewer's one offer (WHEP); the reply is our answer.
    ViewerOffer { sdp: String, watch: Option<ParticipantId> } -> String,
    |shard, index| shard.viewer_offer(index, sdp, watch)
);
request!(
    /// A trickled client candidate.
    Candidate { candidate: IceCandidate } -> (),
    |shard, index| shard.add_candidate(index, candidate)
);
request!(
    /// The size the client renders a track at (0×0: not at all).
    TrackSettings { track: TrackId, size: (u32, u32) } -> (),
    |shard, index| shard.track_settings(index, &track, size)
);
request!(
    /// The client muted or unmuted its own source.
    Mute { source: TrackSource, muted: bool } -> (),
    |shard, index| shard.mute(index, source, muted)
);
request!(
    /// Silence from the participant is expected, or no longer.
    Pause { paused: bool } -> (),
    |shard, index| shard.pause(index, paused)
);
request!(
    /// The participant's "save data" switch.
    SaveData { enabled: bool } -> (),
    |shard, index| shard.save_data(index, enabled)
);
request!(
    /// The tracks others publish in its room and space now.
    RoomTracks {} -> Vec<TrackInfo>,
    |shard, index| shard.room_tracks(index)
);
request!(
    /// Moves the participant to another space of its room.
    Move { space: Space } -> (),
    |shard, index| shard.move_to(index, space)
);
request!(
    /// A moderator holds (mutes) one of its sources, or lifts that.
    Hold { source: TrackSource, held: bool } -> (),
    |shard, index| shard.hold(index, source, held)
);
