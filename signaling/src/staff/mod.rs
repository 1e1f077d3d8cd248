//! Staff accounts' sign-in: first-run setup, login, refresh, logout, password change, and
//! the extractors every staff endpoint takes: [`StaffSession`] for anyone signed in, and the
//! role-checked [`CaseWorker`], [`Administrator`] and [`SystemAdministrator`] ([`roles`]).
//!
//! An access token (15 minutes, see [`tokens`]) rides in `Authorization: Bearer`; a refresh
//! token (30 days, opaque, stored hashed) gets a new pair once and is then spent. Presenting
//! a spent refresh token means it was copied: every refresh token of that account is
//! revoked, so the thief and the owner both sign in again. Failures of login never say
//! whether the username exists. Passwords and tokens never reach logs or the audit trail.
//!
//! The browser app asks for its refresh token in a cookie instead of the body
//! (`refresh_cookie: true`): HttpOnly, so no script of the page can read it (it is never in
//! `localStorage`), SameSite=Strict and scoped to `/api/v1/auth`, so only our own pages send it
//! and only to these routes. API clients keep the token in the body as before.

pub mod roles;
pub mod tokens;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use roles::{Administrator, CaseWorker, SystemAdministrator};
pub use tokens::StaffSession;

use crate::AppState;
use crate::error::{Error, FieldError, Result};
use crate::limits::ClientAddress;
use accord_cases::forms::staff::first_administrator;
use accord_cases::staff_password::{check_new_password, hash_password_blocking, verify_blocking};
use accord_cases::store::Refreshed;
use accord_cases::store::model::{Staff, StaffRole};
use accord_cases::tokens::staff::{
    ACCESS_TTL_SECONDS, REFRESH_TTL_MS, issue_access, new_refresh_token, refresh_token_hash,
};
use accord_cases::{OrganisationId, StaffId};

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
    /// The refresh token goes into the cookie, not the body.
    #[serde(default)]
    refresh_cookie: bool,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
    /// The refresh token goes into the cookie, not the body.
    #[serde(default)]
    refresh_cookie: bool,
}

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`: the token in the body, or
/// none there and the cookie's.
#[derive(Debug, Deserialize)]
struct RefreshRequest {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The cookie that carries a browser's refresh token.
const REFRESH_COOKIE: &str = "accord_refresh";
/// The only routes that need it.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

/// `POST /api/v1/auth/password`.
#[derive(Debug, Deserialize)]
struct PasswordRequest {
    current_password: String,
    new_password: String,
}

/// A staff member as the API shows them (never the password hash).
#[derive(Debug, Serialize)]
pub(crate) struct StaffView {
    id: StaffId,
    username: String,
    display_name: String,
    role: StaffRole,
    organisation_id: Option<OrganisationId>,
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
    /// Absent when it went into the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    staff: StaffView,
}

/// The `Set-Cookie` value that keeps `token` in the browser, or forgets it (`None`). `Secure`
/// whenever the browser reached us over HTTPS, so a plain-HTTP development server still works.
fn refresh_cookie(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> HeaderValue {
    let https = state
        .config()
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    let (value, max_age) = match token {
        Some(token) => (token, REFRESH_TTL_MS / 1000),
        None => ("", 0),
    };
    let cookie = format!(
        "{REFRESH_COOKIE}={value}; Path={REFRESH_COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    // The token is URL-safe base64, so the value is always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The refresh token of the request's cookie, if it has one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == REFRESH_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// Answers a sign-in with the refresh token in the body, or only in the cookie.
fn deliver(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    mut signed: SignedIn,
    in_cookie: bool,
) -> Response {
    if !in_cookie {
        return (status, Json(signed)).into_response();
    }
    let cookie = refresh_cookie(state, headers, signed.refresh_token.take().as_deref());
    (status, [(header::SET_COOKIE, cookie)], Json(signed)).into_response()
}

async fn setup_status(State(state): State<AppState>) -> Result<Json<SetupStatus>> {
    let needed = state.store().staff_count().await? == 0;
    Ok(Json(SetupStatus { needed }))
}

async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Json<SetupRequest>, JsonRejection>,
) -> Result<Response> {
    let Json(request) = body?;
    // Answer "already done" before judging the fields: they no longer matter.
    if state.store().staff_count().await? > 0 {
        return Err(Error::Conflict("setup has already been completed".into()));
    }
    let (username, display_name) =
        first_administrator(&request.username, &request.display_name, &request.password)?;
    let hash = hash_password_blocking(request.password).await?;
    let staff = state
        .store()
        .complete_setup(username, display_name, hash)
        .await?;
    tracing::info!(staff = %staff.id, "first-run setup created the first administrator");
    let signed = sign_in(&state, staff).await?;
    Ok(deliver(
        &state,
        &headers,
        StatusCode::CREATED,
        signed,
        request.refresh_cookie,
    ))
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    body: std::result::Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response> {
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
            let signed = sign_in(&state, staff).await?;
            Ok(deliver(
                &state,
                &headers,
                StatusCode::OK,
                signed,
                request.refresh_cookie,
            ))
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
    let expires_at = accord_cases::store::now_ms() + REFRESH_TTL_MS;
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
        refresh_token: Some(refresh_token),
        staff: staff.into(),
    }
}

async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Response> {
    let Json(request) = body?;
    // A token in the body is answered in the body (API clients); the cookie's in the cookie.
    let in_cookie = request.refresh_token.is_none();
    let presented = request
        .refresh_token
        .or_else(|| cookie_token(&headers))
        .ok_or(BAD_REFRESH)?;
    let (refresh_token, new_hash) = new_refresh_token();
    let expires_at = accord_cases::store::now_ms() + REFRESH_TTL_MS;
    let outcome = state
        .store()
        .rotate_refresh_token(&refresh_token_hash(&presented), &new_hash, expires_at)
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
    let signed = signed_in(access_token, refresh_token, staff);
    Ok(deliver(&state, &headers, StatusCode::OK, signed, in_cookie))
}

/// Always 204: logging out twice, or with a token already gone, leaves the same state. The
/// cookie is forgotten too.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Response> {
    let Json(request) = body?;
    for token in request
        .refresh_token
        .into_iter()
        .chain(cookie_token(&headers))
    {
        state
            .store()
            .revoke_refresh_token(&refresh_token_hash(&token))
            .await?;
    }
    let forget = refresh_cookie(&state, &headers, None);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, forget)]).into_response())
}

/// Changes the password and signs the account out everywhere else: whoever knew the old
/// password loses their refresh tokens.
async fn change_password(
    State(state): State<AppState>,
    session: StaffSession,
    body: std::result::Result<Json<PasswordRequest>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(request) = body?;
    // A stolen access token must not become a way to guess the password it does not carry:
    // wrong current passwords count like failed logins, per account.
    let now = std::time::Instant::now();
    let failures = format!("password-change|{}", session.sub);
    state.limits().login_failures.check(&failures, now)?;
    let staff = state.store().staff(&session.sub).await?;
    let mut errors = check_new_password("new_password", &request.new_password, &staff.username);
    let current_ok =
        verify_blocking(request.current_password, Some(staff.password_hash.clone())).await?;
    if !current_ok {
        state.limits().login_failures.hit(&failures, now)?;
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
    let staff = state.store().staff(&session.sub).await?;
    if staff.disabled_at.is_some() {
        return Err(Error::Unauthorized("this account is disabled"));
    }
    Ok(Json(staff.into()))
}
