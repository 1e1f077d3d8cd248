//! Staff accounts' sign-in: first-run setup, login, refresh, logout, password change, and
//! the [`StaffSession`] extractor every staff endpoint takes.
//!
//! An access token (15 minutes, see [`tokens`]) rides in `Authorization: Bearer`; a refresh
//! token (30 days, opaque, stored hashed) gets a new pair once and is then spent. Presenting
//! a spent refresh token means it was copied: every refresh token of that account is
//! revoked, so the thief and the owner both sign in again. Failures of login never say
//! whether the username exists. Passwords and tokens never reach logs or the audit trail.

pub mod password;
pub mod tokens;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use tokens::{StaffClaims, StaffSession, issue_access, issue_access_at, verify_access};

use crate::AppState;
use crate::error::{Error, FieldError, Result};
use crate::limits::ClientAddress;
use crate::store::Refreshed;
use crate::store::model::{Staff, StaffRole};
use password::{check_new_password, hash_password_blocking, verify_blocking};
use tokens::{ACCESS_TTL_SECONDS, REFRESH_TTL_MS, new_refresh_token, refresh_token_hash};

/// The one answer to every failed login, whatever failed.
const BAD_LOGIN: Error = Error::Unauthorized("wrong username or password");
/// The one answer to every refused refresh token.
const BAD_REFRESH: Error = Error::Unauthorized("the refresh token is not valid; sign in again");

/// The setup, auth and session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup", get(setup_status).post(setup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password", post(change_password))
        .route("/api/v1/auth/me", get(me))
}

/// `GET /api/v1/setup`.
#[derive(Debug, Serialize)]
struct SetupStatus {
    /// True until the first administrator exists.
    needed: bool,
}

/// `POST /api/v1/setup`.
#[derive(Debug, Deserialize)]
struct SetupRequest {
    username: String,
    display_name: String,
    password: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`.
#[derive(Debug, Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

/// `POST /api/v1/auth/password`.
#[derive(Debug, Deserialize)]
struct PasswordRequest {
    current_password: String,
    new_password: String,
}

/// A staff member as the API shows them (never the password hash).
#[derive(Debug, Serialize)]
pub(crate) struct StaffView {
    id: String,
    username: String,
    display_name: String,
    role: StaffRole,
    organisation_id: Option<String>,
    court: Option<String>,
    /// Set once the account was switched off.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_at: Option<i64>,
}

impl From<Staff> for StaffView {
    fn from(staff: Staff) -> Self {
        Self {
            id: staff.id,
            username: staff.username,
            display_name: staff.display_name,
            role: staff.role,
            organisation_id: staff.organisation_id,
            court: staff.court,
            disabled_at: staff.disabled_at,
        }
    }
}

/// The answer to setup, login and refresh.
#[derive(Debug, Serialize)]
struct SignedIn {
    access_token: String,
    /// Seconds the access token lives.
    expires_in: u64,
    refresh_token: String,
    staff: StaffView,
}

async fn setup_status(State(state): State<AppState>) -> Result<Json<SetupStatus>> {
    let needed = state.store().staff_count().await? == 0;
    Ok(Json(SetupStatus { needed }))
}

async fn setup(
    State(state): State<AppState>,
    body: std::result::Result<Json<SetupRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SignedIn>)> {
    let Json(request) = body?;
    // Answer "already done" before judging the fields: they no longer matter.
    if state.store().staff_count().await? > 0 {
        return Err(Error::Conflict("setup has already been completed".into()));
    }
    let username = request.username.trim().to_owned();
    let display_name = request.display_name.trim().to_owned();
    let mut errors = Vec::new();
    check_username(&username, &mut errors);
    if display_name.is_empty() || display_name.chars().count() > 64 {
        errors.push(FieldError {
            field: "display_name".into(),
            message: "1–64 characters".into(),
        });
    }
    errors.extend(check_new_password("password", &request.password, &username));
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let hash = hash_password_blocking(request.password).await?;
    let staff = state
        .store()
        .complete_setup(username, display_name, hash)
        .await?;
    tracing::info!(staff = %staff.id, "first-run setup created the first administrator");
    Ok((StatusCode::CREATED, Json(sign_in(&state, staff).await?)))
}

pub(crate) fn check_username(username: &str, errors: &mut Vec<FieldError>) {
    let ok_chars = username
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.@".contains(c));
    if username.is_empty() || username.chars().count() > 64 || !ok_chars {
        errors.push(FieldError {
            field: "username".into(),
            message: "1–64 letters, digits or - _ . @".into(),
        });
    }
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddress,
    body: std::result::Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<SignedIn>> {
    let now = std::time::Instant::now();
    let limits = state.limits();
    limits.login_per_address.hit(&client.key(), now)?;
    let Json(request) = body?;
    let username = request.username.trim().to_owned();
    // Failures count per account and address: guessing one account's password stops after a
    // few tries, while nobody else can lock that account out from elsewhere.
    let failures = format!("{}|{}", client.key(), username.to_lowercase());
    limits.login_failures.check(&failures, now)?;
    let staff = state.store().staff_by_username(&username).await?;
    let hash = staff.as_ref().map(|s| s.password_hash.clone());
    let matches = verify_blocking(request.password, hash).await?;
    match staff {
        Some(staff) if matches && staff.disabled_at.is_none() => {
            Ok(Json(sign_in(&state, staff).await?))
        }
        _ => {
            limits.login_failures.hit(&failures, now)?;
            Err(BAD_LOGIN)
        }
    }
}

/// Issues an access token and a stored refresh token, and audits the login.
async fn sign_in(state: &AppState, staff: Staff) -> Result<SignedIn> {
    let access_token = issue_access(state.store(), &staff).await?;
    let (refresh_token, hash) = new_refresh_token();
    let expires_at = crate::store::now_ms() + REFRESH_TTL_MS;
    state
        .store()
        .record_login(&staff.id, &hash, expires_at)
        .await?;
    Ok(signed_in(access_token, refresh_token, staff))
}

fn signed_in(access_token: String, refresh_token: String, staff: Staff) -> SignedIn {
    SignedIn {
        access_token,
        expires_in: ACCESS_TTL_SECONDS,
        refresh_token,
        staff: staff.into(),
    }
}

async fn refresh(
    State(state): State<AppState>,
    body: std::result::Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<SignedIn>> {
    let Json(request) = body?;
    let (refresh_token, new_hash) = new_refresh_token();
    let expires_at = crate::store::now_ms() + REFRESH_TTL_MS;
    let outcome = state
        .store()
        .rotate_refresh_token(
            &refresh_token_hash(&request.refresh_token),
            &new_hash,
            expires_at,
        )
        .await?;
    let staff_id = match outcome {
        Refreshed::Rotated { staff_id } => staff_id,
        Refreshed::Reused { staff_id } => {
            tracing::warn!(staff = %staff_id, "a spent refresh token was presented again; all sessions of that account are revoked");
            return Err(BAD_REFRESH);
        }
        Refreshed::Refused => return Err(BAD_REFRESH),
    };
    let staff = state.store().staff(&staff_id).await?;
    if staff.disabled_at.is_some() {
        state.store().revoke_refresh_tokens_of(&staff.id).await?;
        return Err(BAD_REFRESH);
    }
    let access_token = issue_access(state.store(), &staff).await?;
    Ok(Json(signed_in(access_token, refresh_token, staff)))
}

/// Always 204: logging out twice, or with a token already gone, leaves the same state.
async fn logout(
    State(state): State<AppState>,
    body: std::result::Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(request) = body?;
    state
        .store()
        .revoke_refresh_token(&refresh_token_hash(&request.refresh_token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password and signs the account out everywhere else: whoever knew the old
/// password loses their refresh tokens.
async fn change_password(
    State(state): State<AppState>,
    session: StaffSession,
    body: std::result::Result<Json<PasswordRequest>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(request) = body?;
    let staff = state.store().staff(&session.0.sub).await?;
    let mut errors = check_new_password("new_password", &request.new_password, &staff.username);
    let current_ok =
        verify_blocking(request.current_password, Some(staff.password_hash.clone())).await?;
    if !current_ok {
        errors.insert(
            0,
            FieldError {
                field: "current_password".into(),
                message: "is not your current password".into(),
            },
        );
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let hash = hash_password_blocking(request.new_password).await?;
    state
        .store()
        .set_password_hash(&session.actor(), &staff.id, &hash)
        .await?;
    state.store().revoke_refresh_tokens_of(&staff.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, session: StaffSession) -> Result<Json<StaffView>> {
    let staff = state.store().staff(&session.0.sub).await?;
    if staff.disabled_at.is_some() {
        return Err(Error::Unauthorized("this account is disabled"));
    }
    Ok(Json(staff.into()))
}
