//! The `code` of an `error` frame: one enum, so a refusal cannot be sent with a code the
//! clients do not know.

use serde::{Deserialize, Serialize};

/// Declares the error codes once: the enum, its wire names and the list of all of them.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)+) => {
        /// Why a frame was refused: the `code` of an `error` frame, snake_case on the wire.
        /// `tests/src/protocol/` and `web-client/src/signal/messages.ts` list the same codes,
        /// and `docs/protocol/examples/error_codes.json` holds them for their tests.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as written on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }
        }
    };
}

error_codes! {
    /// Not JSON, or not an object with a known `type` and valid fields.
    BadJson = "bad_json",
    /// Over [`crate::MAX_FRAME_BYTES`] (fatal).
    FrameTooLarge = "frame_too_large",
    /// The first frame was not `join` (fatal).
    NotJoined = "not_joined",
    /// A second `join` on the same socket.
    AlreadyJoined = "already_joined",
    /// `protocol` is not [`crate::PROTOCOL_VERSION`] (fatal).
    UnsupportedProtocol = "unsupported_protocol",
    /// The token is malformed, forged, expired, or refused for this session (fatal).
    InvalidToken = "invalid_token",
    /// The token's grants or the seat's role do not allow this.
    Forbidden = "forbidden",
    /// No free seat (fatal).
    RoomFull = "room_full",
    /// The SDP could not be parsed or applied.
    BadSdp = "bad_sdp",
    /// The candidate could not be parsed.
    BadCandidate = "bad_candidate",
    /// No such track.
    UnknownTrack = "unknown_track",
    /// A client offer crossed a server offer.
    Glare = "glare",
    /// An answer with no server offer waiting for one.
    NoOfferOutstanding = "no_offer_outstanding",
    /// The seat no longer exists in the media server (fatal).
    Gone = "gone",
    /// The `resume` token matched no seat; joined as new.
    ResumeFailed = "resume_failed",
    /// The server failed; details are in its log only.
    Internal = "internal",
    /// The room is locked and the sender was not in it (fatal).
    RoomLocked = "room_locked",
    /// No such seat, or not one the sender may act on.
    UnknownParticipant = "unknown_participant",
    /// The party has not agreed to online mediation and recording (fatal).
    ConsentRequired = "consent_required",
    /// A frame with an invalid value.
    BadRequest = "bad_request",
    /// A frame other than `ping` or `leave` from the waiting room.
    NotAdmitted = "not_admitted",
    /// Beyond the sender's limit; `retry_after_ms` says when one is taken again.
    RateLimited = "rate_limited",
    /// The client stopped taking frames; its seat is given up (fatal).
    SlowConsumer = "slow_consumer",
    /// The mediator's staff account was disabled or its tokens revoked (fatal).
    AccountDisabled = "account_disabled",
    /// Recording cannot start now (no disk space, storage down); the message says which.
    RecordingUnavailable = "recording_unavailable",
    /// A `record` action that does not fit the recording's state (start while on, pause
    /// while paused, …).
    RecordingState = "recording_state",
    /// A draft frame the agreement refuses: not an editor, no such draft, an update that
    /// does not decode, or an agreement in force. The message says which.
    DraftRejected = "draft_rejected",
    /// The update could not be stored; it was not applied. Send it again.
    DraftNotStored = "draft_not_stored",
    /// This node is draining (shutting down) and takes no new room; the socket closes
    /// (fatal). The room is not refused for good: join again after `retry_after_ms`, when
    /// another node (or this one, restarted) takes it.
    NodeDraining = "node_draining",
    /// The node running the session cannot serve it now: the node this socket reached could
    /// not reach it (it may have died, and its placement not yet run out), or it is still
    /// taking the session over. The socket closes (fatal), but the session is not refused:
    /// join again after `retry_after_ms`.
    SessionUnavailable = "session_unavailable",
}
