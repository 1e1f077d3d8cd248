//! The SFU's one error type.

/// Everything that can go wrong in the SFU that a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The media socket could not be opened.
    #[error("cannot open the media socket on {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: std::net::SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The configuration cannot work (e.g. no address to announce).
    #[error("invalid media configuration: {0}")]
    Config(String),
    /// The remote SDP could not be parsed or applied.
    #[error("the session description was refused: {0}")]
    BadSdp(String),
    /// The ICE candidate could not be parsed or applied.
    #[error("the ICE candidate was refused: {0}")]
    BadCandidate(String),
    /// The client's offer crossed an offer of ours; it should roll back and retry.
    #[error("an offer from the server is outstanding; roll back and answer it first")]
    Glare,
    /// An answer arrived while no offer of ours was outstanding.
    #[error("no offer is outstanding to answer")]
    NoOfferOutstanding,
    /// The participant's grants do not allow what was asked.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// A viewer asked to watch, but nobody (or not the named participant) publishes.
    #[error("nobody in the room publishes anything to watch")]
    NothingToWatch,
    /// A viewer's offer cannot carry what is published: none of the codecs it accepts for
    /// a kind of media is the one the publisher sends.
    #[error("{0}")]
    CodecMismatch(String),
    /// The named track does not exist in this room.
    #[error("unknown track")]
    UnknownTrack,
    /// The room already has a recorder tap; a room is recorded once.
    #[error("the room is already being recorded")]
    AlreadyTapped,
    /// The participant is no longer in the SFU (left, removed, or the SFU is shutting down).
    #[error("the participant is gone")]
    ParticipantGone,
    /// The SFU is shutting down.
    #[error("the media server is shutting down")]
    ShuttingDown,
    /// The WebRTC engine failed in a way we did not expect.
    #[error("webrtc engine: {0}")]
    Engine(String),
}

impl From<rtc::shared::error::Error> for Error {
    fn from(e: rtc::shared::error::Error) -> Self {
        Error::Engine(e.to_string())
    }
}

/// Results of SFU operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
