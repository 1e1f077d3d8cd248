//! The one error type of the case domain. It says what went wrong in the domain's terms;
//! `accord-signaling` maps it to an HTTP status and a machine-readable code, once, in its
//! `error.rs`. Messages in `&'static str` and `String` payloads are for people and may be
//! shown to the caller; [`Error::Internal`] and [`Error::Database`] details are logged only.

use serde::Serialize;

/// A refused or failed domain operation.
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
    #[error("an idempotency key was reused for a different request")]
    IdempotencyKeyReused,
    /// Some fields of the request are wrong.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// The request conflicts with what is stored (a duplicate, or a step the record's state
    /// does not allow).
    #[error("{0}")]
    Conflict(String),
    /// A file is larger than the domain takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A value the caller passed is not one the domain understands (a cursor, a URL).
    #[error("{0}")]
    BadRequest(String),
    /// Too many attempts for this account; try again after a while.
    #[error("too many attempts; try again in {retry_after_seconds} seconds")]
    TooManyRequests {
        /// Seconds until the limit resets.
        retry_after_seconds: u64,
    },
    /// An agreement rule refused the request; the rule names its machine-readable code.
    #[error("{}", .0.message())]
    Rule(crate::agreements::Rule),
    /// The database failed (not a missing row or a duplicate: those are [`Error::NotFound`]
    /// and [`Error::Conflict`]).
    #[error("database: {0}")]
    Database(String),
    /// Something failed on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One invalid field and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// The field's name in the request.
    pub field: std::borrow::Cow<'static, str>,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error, for a fixed field name or one built at run time (`parties[1].name`).
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Error {
    /// An [`Error::Invalid`] naming one field.
    pub fn field(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Error::NotFound("no such record"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("a record with these values exists already".into())
            }
            _ => Error::Database(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Internal(format!("database migration: {e}"))
    }
}

/// Results of domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
