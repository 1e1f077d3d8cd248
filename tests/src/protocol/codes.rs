//! The `error` frame and its codes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares the error codes once: the enum, its wire names and the list of all of them.
macro_rules! error_codes {
    ($($variant:ident = $text:literal,)+) => {
        /// The `code` of an `error` frame, as the server's `ErrorCode` names them
        /// (`docs/protocol/examples/error_codes.json` keeps the two lists equal).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
        #[allow(missing_docs)]
        pub enum ErrorCode {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the server's order.
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
    BadJson = "bad_json",
    FrameTooLarge = "frame_too_large",
    NotJoined = "not_joined",
    AlreadyJoined = "already_joined",
    UnsupportedProtocol = "unsupported_protocol",
    InvalidToken = "invalid_token",
    Forbidden = "forbidden",
    RoomFull = "room_full",
    BadSdp = "bad_sdp",
    BadCandidate = "bad_candidate",
    UnknownTrack = "unknown_track",
    Glare = "glare",
    NoOfferOutstanding = "no_offer_outstanding",
    Gone = "gone",
    ResumeFailed = "resume_failed",
    Internal = "internal",
    RoomLocked = "room_locked",
    UnknownParticipant = "unknown_participant",
    ConsentRequired = "consent_required",
    BadRequest = "bad_request",
    NotAdmitted = "not_admitted",
    RateLimited = "rate_limited",
    SlowConsumer = "slow_consumer",
    AccountDisabled = "account_disabled",
    RecordingUnavailable = "recording_unavailable",
    RecordingState = "recording_state",
    DraftRejected = "draft_rejected",
    DraftNotStored = "draft_not_stored",
    NodeDraining = "node_draining",
    SessionUnavailable = "session_unavailable",
}

/// An `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorFrame {
    /// Echo of the offending frame's `request_id`.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Machine-readable code, e.g. `glare`.
    pub code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Whether the server closes the socket after this.
    #[serde(default)]
    pub fatal: bool,
    /// When a refusal that is not for good may be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorFrame {
    /// The code as a known [`ErrorCode`]; `None` for one this client does not know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        serde_json::from_value(Value::String(self.code.clone())).ok()
    }
}
