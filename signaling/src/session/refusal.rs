//! A protocol error frame the session sends back, and how the media server's errors become one.

use std::time::Duration;

use accord_protocol::ErrorCode;

/// A protocol error frame, and whether the socket closes after it.
pub(super) struct Refusal {
    pub(super) code: ErrorCode,
    pub(super) message: String,
    pub(super) fatal: bool,
    pub(super) retry_after: Option<Duration>,
}

impl Refusal {
    pub(super) fn new(code: ErrorCode, message: impl Into<String>, fatal: bool) -> Self {
        Self {
            code,
            message: message.into(),
            fatal,
            retry_after: None,
        }
    }

    /// A frame sent more often than its limit; it was not carried out.
    pub(super) fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::RateLimited,
                "too many of these too fast; this one was not carried out",
                false,
            )
        }
    }
}

impl From<accord_sfu::Error> for Refusal {
    fn from(e: accord_sfu::Error) -> Self {
        use accord_sfu::Error as E;
        match e {
            E::BadSdp(m) => Refusal::new(ErrorCode::BadSdp, m, false),
            E::BadCandidate(m) => Refusal::new(ErrorCode::BadCandidate, m, false),
            E::Glare => Refusal::new(ErrorCode::Glare, e.to_string(), false),
            E::NoOfferOutstanding => {
                Refusal::new(ErrorCode::NoOfferOutstanding, e.to_string(), false)
            }
            E::Forbidden(m) => Refusal::new(ErrorCode::Forbidden, m, false),
            E::UnknownTrack => Refusal::new(ErrorCode::UnknownTrack, e.to_string(), false),
            E::ParticipantGone | E::ShuttingDown => {
                Refusal::new(ErrorCode::Gone, e.to_string(), true)
            }
            other => {
                tracing::error!(error = %other, "media server failed a request");
                Refusal::new(
                    ErrorCode::Internal,
                    "the media server failed; try again",
                    false,
                )
            }
        }
    }
}
