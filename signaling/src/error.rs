//! The one error type of the HTTP API and the signaling protocol, mapped once to HTTP
//! responses (`{code, message, fields?}`) and to protocol error frames.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refused request. Internal details are logged, never sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Credentials are missing, malformed, forged or expired.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Valid credentials that do not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Nothing by that name.
    #[error("{0}")]
    NotFound(&'static str),
    /// An idempotency key already used for a request with a different body: nothing was
    /// stored, and the record the key made is not shown.
    #[error(
        "this Idempotency-Key was used for a different request; nothing was stored: send it again with a new key"
    )]
    IdempotencyKeyReused,
    /// The body is well-formed JSON but some fields are wrong.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// The request conflicts with what is stored (a duplicate, or a step the record's state
    /// does not allow).
    #[error("{0}")]
    Conflict(String),
    /// The body is not of a type this endpoint takes.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// The body, or a file in it, is larger than this endpoint takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not the JSON we expect.
    #[error("{0}")]
    BadRequest(String),
    /// A conditional request (`If-Match`) names a version the resource no longer has.
    #[error("{0}")]
    PreconditionFailed(&'static str),
    /// Well-formed, but not something we can serve, with a code of its own for clients to
    /// switch on (`codec_mismatch`, `no_media`).
    #[error("{message}")]
    Unprocessable {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// An agreement rule refused the request; its code says which.
    #[error("{}", .0.message())]
    Rule(accord_cases::agreements::Rule),
    /// Too many requests from this client or for this account; try again after a while.
    #[error("too many attempts; try again in {retry_after_seconds} seconds")]
    TooManyRequests {
        /// Seconds until the limit resets.
        retry_after_seconds: u64,
    },
    /// A service we depend on (a notification gateway) failed or refused.
    #[error("{0}")]
    Upstream(String),
    /// We cannot do this now for a reason of our own that will pass (a nearly full disk).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on our side.
    #[error("internal error")]
    Internal(String),
}

/// One invalid field and why: the domain's type, so a refusal from the case store and one
/// from a handler carry the same fields.
pub use accord_cases::FieldError;

impl Error {
    /// A 422 naming one field.
    pub fn field(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid(vec![FieldError::new(field, message)])
    }

    /// The machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::Invalid(_) => "invalid",
            Error::Conflict(_) => "conflict",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::BadRequest(_) => "bad_request",
            Error::PreconditionFailed(_) => "precondition_failed",
            Error::Unprocessable { code, .. } => code,
            Error::Rule(rule) => rule.code(),
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::Upstream(_) => "upstream_failed",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::IdempotencyKeyReused => StatusCode::CONFLICT,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Rule(rule) => match rule.kind() {
                accord_cases::agreements::RuleKind::Conflict => StatusCode::CONFLICT,
                accord_cases::agreements::RuleKind::Forbidden => StatusCode::FORBIDDEN,
                accord_cases::agreements::RuleKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            },
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let fields = match &self {
            Error::Invalid(f) => Some(f.as_slice()),
            _ => None,
        };
        let body = Body {
            code: self.code(),
            message: self.to_string(),
            fields,
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Error::Unauthorized(_) = self {
            // RFC 9110 §11.6.1: a 401 names the scheme that would succeed (RFC 6750).
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"accord\""),
            );
        }
        if let Error::TooManyRequests {
            retry_after_seconds,
        } = self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_seconds),
            );
        }
        response
    }
}

impl From<axum::extract::rejection::JsonRejection> for Error {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        Error::BadRequest(rejection.body_text())
    }
}

impl From<accord_sfu::Error> for Error {
    fn from(e: accord_sfu::Error) -> Self {
        use accord_sfu::Error as E;
        match e {
            E::BadSdp(m) => Error::BadRequest(format!("the SDP was refused: {m}")),
            E::BadCandidate(m) => Error::BadRequest(format!("the candidate was refused: {m}")),
            E::NothingToWatch => Error::NotFound("nobody in the room publishes anything to watch"),
            E::CodecMismatch(message) => Error::Unprocessable {
                code: "codec_mismatch",
                message,
            },
            E::Forbidden(m) => Error::Forbidden(m),
            E::ParticipantGone => Error::NotFound("the session has ended"),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// The recorder's failures: a full disk is a service problem (503-like, said plainly), a
/// recording whose files do not match is a conflict the caller should see, the rest internal.
impl From<accord_recordings::Error> for Error {
    fn from(e: accord_recordings::Error) -> Self {
        use accord_recordings::Error as E;
        match e {
            E::DiskFull { .. } => Error::Unavailable(e.to_string()),
            E::Integrity(m) => Error::Conflict(m),
            E::Storage(m) => Error::Internal(format!("storage: {m}")),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        accord_cases::Error::from(e).into()
    }
}

/// A notification gateway that failed or refused: the words name its answer, never its
/// address.
impl From<accord_cases::notify::DeliveryError> for Error {
    fn from(e: accord_cases::notify::DeliveryError) -> Self {
        Error::Upstream(e.to_string())
    }
}

/// The one place the domain's refusals become HTTP ones.
impl From<accord_cases::Error> for Error {
    fn from(e: accord_cases::Error) -> Self {
        use accord_cases::Error as E;
        match e {
            E::Unauthorized(m) => Error::Unauthorized(m),
            E::Forbidden(m) => Error::Forbidden(m),
            E::NotFound(m) => Error::NotFound(m),
            E::IdempotencyKeyReused => Error::IdempotencyKeyReused,
            E::Invalid(fields) => Error::Invalid(fields),
            E::Conflict(m) => Error::Conflict(m),
            E::PayloadTooLarge(m) => Error::PayloadTooLarge(m),
            E::BadRequest(m) => Error::BadRequest(m),
            E::TooManyRequests {
                retry_after_seconds,
            } => Error::TooManyRequests {
                retry_after_seconds,
            },
            E::Rule(rule) => Error::Rule(rule),
            E::Database(m) => Error::Internal(format!("database: {m}")),
            E::Internal(m) => Error::Internal(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// Results of API handlers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A JSON request body as handlers take it: a malformed one is answered 400 with
/// `{code, message}` (not axum's plain text), a well-formed one is handed on for
/// field-by-field validation (422).
pub(crate) type JsonBody<T> =
    std::result::Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

/// The value of a [`JsonBody`], or the error that answers it.
pub(crate) fn json_body<T>(body: JsonBody<T>) -> Result<T> {
    Ok(body?.0)
}
