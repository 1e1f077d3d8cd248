//! # accord-sfu: the media plane
//!
//! A selective forwarding unit on webrtc-rs's sans-I/O engine (`rtc` 0.21). It knows rooms,
//! participants and tracks; it knows nothing of cases, tokens or HTTP.
//!
//! ## How it runs
//! - **One UDP port** for every peer. A reader thread owns the socket's receive side and a
//!   routing table: STUN binding requests from new addresses are routed by the ICE ufrag we
//!   gave that participant, and datagrams from a known address go to their participant's
//!   shard over a channel.
//! - **Shards**: one thread per core, each owning whole rooms and every peer connection in
//!   them. A room lives on one shard, so forwarding inside a room takes no lock. A shard is a
//!   sans-I/O core (`shard`: datagrams, commands and the time in; datagrams to send out) and
//!   a driver (`shard::driver`) that owns its thread and sockets.
//! - **A socket per participant**: once a participant's media path is known, its shard opens
//!   a socket on the same port connected to it (`SO_REUSEPORT`), and reads it itself
//!   (`recvmmsg`, one `epoll` for all of them), so media does not cross threads. The reader
//!   and its channel carry only what has no such socket yet (first checks, a moved path,
//!   ICE-TCP). Everything is sent from the shared socket in `sendmmsg` batches, the packets
//!   of a frame to one peer as one segmented datagram (UDP GSO).
//! - **ICE-lite**: we never gather or check; our candidates are the announced addresses on
//!   the one port (so NAT 1:1 is configuration, not a feature of the engine).
//! - **One peer connection per participant**, publishing and subscribing. The client offers
//!   what it publishes; the server offers what it forwards (it is the impolite peer in
//!   perfect negotiation: a client offer that crosses ours is refused with
//!   [`Error::Glare`]).
//!
//! ## Forwarding
//! Every subscriber has a `forward` state per track: which simulcast layer it gets (chosen
//! from the size it renders and what arrives), switched only at a keyframe, with sequence
//! numbers, timestamps and VP8 picture ids rewritten so the stream is continuous.
//! Keyframe requests (PLI/FIR) from subscribers are relayed to the publisher, at most one per
//! layer per second. NACKs are answered by the engine's responder from its send history, and
//! generated toward publishers by its generator.
//!
//! ## Recording
//! A room's recorder gets a tap ([`Sfu::tap_room`]), not a seat: each published track's
//! packets after loss repair toward the publisher, with arrival times and the publisher's
//! sender reports, one simulcast layer per video track (nearest the recorder's preferred
//! size, switched at keyframes, numbered continuously). With private rooms unrecorded, the
//! shard withholds every packet published outside the joint room, as it isolates caucus
//! rooms from each other. With no tap, the packet path pays one `Option` check.
//!
//! ## Using it
//! [`Sfu::start`] inside a tokio runtime; [`Sfu::join`] for each participant returns a
//! [`ParticipantHandle`] (offers, answers, candidates, settings, leave) and a stream of
//! [`SfuEvent`]s for the signaling layer to relay. Dropping the handle leaves the room.
//!
//! ## Where things are
//! - `startup`: binding the UDP port and ICE-TCP listener, the announced candidates, and
//!   spawning the shard, reader and ICE-TCP threads ([`Sfu::start`]).
//! - `server`: [`Sfu`] as signaling uses it: which shard a room lives on, joining, reports.
//! - `handle`: [`ParticipantHandle`], one typed request per thing signaling may ask.
//! - `shard`: a shard's sans-I/O core, and `shard::driver`, the thread and sockets around it;
//!   under it, `commands` (the command channel, its dispatch,
//!   join and the small setters), `requests` (one type per request, naming its reply),
//!   `negotiation` (offers and answers both ways, reading SDP), `viewer` (WHEP viewers),
//!   `membership`, `spaces`, `forwarding`, `publication`, `participant`, `health`, `speaker`.
//! - `sim` (feature `sim`, and in tests): a shard and rtc clients on a simulated network in
//!   virtual time, for tests and the forwarding benchmark.
//! - `net`: the UDP reader and router, ICE-TCP framing, the shared sending socket, and the
//!   TURN credentials handed out with a join ([`TurnConfig`], [`ice_servers_for`]).
//! - [`sdp`]: reading what WHIP and WHEP clients send (offers, trickle fragments).
//! - `peer`: building one peer connection: codecs, header extensions, interceptors.
//! - `forward`: per-subscriber rewriting of one track (layers, sequence numbers, VP8 ids).
//! - `tap`: the recorder tap ([`Sfu::tap_room`], [`RecorderTap`], [`TapEvent`]); the shard's
//!   side is `shard::tap` (per-track forwarder, caucus policy, sender reports), fed from the
//!   packet path in `shard::forwarding` and from sender reports the interceptor chain keeps
//!   (`peer::interceptors`).
//! - `events`, `ids`, `config`, `error`, `stats`, `health`: the types the API is made of.

mod config;
mod error;
mod events;
pub(crate) mod forward;
mod handle;
mod health;
mod ids;
mod net;
mod peer;
mod placement;
pub mod sdp;
mod server;
mod shard;
#[cfg(any(test, feature = "sim"))]
#[doc(hidden)]
pub mod sim;
mod startup;
mod stats;
mod tap;

pub use config::{SfuConfig, TcpListen};
pub use error::{Error, Result};
pub use events::{
    AudioOnlyReason, IceCandidate, IceRestartReason, JoinRequest, ReceivedFrom, SfuEvent, Speaker,
    SubscriberReport, TrackDeclaration, TrackInfo,
};
pub use handle::ParticipantHandle;
pub use health::{LinkHealth, LinkQuality};
pub use ids::{Layer, MediaKind, ParticipantId, RoomId, Space, TrackId, TrackSource};
pub use net::turn::{IceServer, TurnConfig, ice_servers_for};
pub use server::{EVENT_QUEUE, Joined, Sfu};
pub use shard::HEALTH_INTERVAL;
pub use stats::{DELAY_BOUNDS_US, DelaySnapshot, SfuStats, SfuStatsSnapshot};
pub use tap::{RecorderTap, TapCodec, TapConfig, TapCounters, TapEvent, TapPacket, TapStopReason};

/// Random ASCII letters and digits, from the thread-local CSPRNG (ICE credentials, ids,
/// secrets).
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
