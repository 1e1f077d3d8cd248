//! Staff accounts' sign-in routes (setup, login, refresh, logout, password change) and the
//! extractors every staff endpoint takes: [`StaffSession`] for anyone signed in, and the
//! role-checked [`CaseWorker`], [`Administrator`] and [`SystemAdministrator`] ([`roles`]).
//!
//! What a credential is worth (token pairs, refresh-token rotation with reuse detection, the
//! password rules) is decided in [`accord_cases::tokens::sign_in`]; this module finds the
//! body, cookie and headers, counts failures for the rate limits and writes the answer.
//! An access token rides in `Authorization: Bearer` (see [`tokens`]).
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
use crate::error::Result;
use crate::limits::ClientAddress;
use accord_cases::tokens::sign_in::{self, PasswordAttempt, SignedIn, StaffView};
use accord_cases::tokens::staff::REFRESH_TTL_MS;

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
    let signed = sign_in::set_up_first_administrator(
        state.store(),
        &request.username,
        &request.display_name,
        request.password,
    )
    .await?;
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
    let username = request.username.trim();
    // Failures count per account and address: guessing one account's password stops after a
    // few tries, while nobody else can lock that account out from elsewhere.
    let failures = format!("{}|{}", client.key(), username.to_lowercase());
    limits.login_failures.check(&failures, now)?;
    match sign_in::log_in(state.store(), username, request.password).await? {
        PasswordAttempt::Accepted(signed) => Ok(deliver(
            &state,
            &headers,
            StatusCode::OK,
            signed,
            request.refresh_cookie,
        )),
        PasswordAttempt::Wrong(refusal) => {
            limits.login_failures.hit(&failures, now)?;
            Err(refusal.into())
        }
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
    let presented = request.refresh_token.or_else(|| cookie_token(&headers));
    let signed = sign_in::refresh(state.store(), presented.as_deref()).await?;
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
    let tokens = request
        .refresh_token
        .into_iter()
        .chain(cookie_token(&headers));
    sign_in::log_out(state.store(), tokens).await?;
    let forget = refresh_cookie(&state, &headers, None);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, forget)]).into_response())
}

/// Changes the password and signs the account out everywhere else.
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
    let attempt = sign_in::change_password(
        state.store(),
        &session.sub,
        request.current_password,
        request.new_password,
    )
    .await?;
    match attempt {
        PasswordAttempt::Accepted(()) => Ok(StatusCode::NO_CONTENT),
        PasswordAttempt::Wrong(refusal) => {
            state.limits().login_failures.hit(&failures, now)?;
            Err(refusal.into())
        }
    }
}

async fn me(State(state): State<AppState>, session: StaffSession) -> Result<Json<StaffView>> {
    Ok(Json(
        sign_in::current_staff(state.store(), &session.sub).await?,
    ))
}
