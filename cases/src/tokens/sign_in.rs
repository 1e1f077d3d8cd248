//! Staff sign-in: first-run setup, login, refresh-token rotation, logout and the password
//! change, as rules over the [`Store`]. The edge finds the body, cookie and headers, counts
//! failures for its rate limits and writes the HTTP answer; what a credential is worth is
//! decided here.
//!
//! A sign-in gives an access token ([`ACCESS_TTL_SECONDS`]) and a refresh token
//! ([`REFRESH_TTL_MS`], stored only as its hash) that gets a new pair once and is then spent.
//! Presenting a spent refresh token means it was copied: the store revokes every refresh
//! token of that account, so the thief and the owner both sign in again. A failed login
//! never says whether the username exists. Passwords and tokens never reach logs.

use serde::Serialize;

use super::staff::{
    ACCESS_TTL_SECONDS, REFRESH_TTL_MS, issue_access, new_refresh_token, refresh_token_hash,
};
use crate::error::{Error, FieldError, Result};
use crate::forms::staff::first_administrator;
use crate::staff_password::{check_new_password, hash_password_blocking, verify_blocking};
use crate::store::model::{Actor, Staff, StaffRole};
use crate::store::{Refreshed, Store, now_ms};
use crate::{OrganisationId, StaffId};

/// The one answer to every failed login, whatever failed.
const BAD_LOGIN: Error = Error::Unauthorized("wrong username or password");
/// The one answer to every refused refresh token.
const BAD_REFRESH: Error = Error::Unauthorized("the refresh token is not valid; sign in again");

/// A staff member as the API shows them (never the password hash).
#[derive(Debug, Serialize)]
pub struct StaffView {
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

/// The answer to setup, login and refresh: a fresh token pair and who it is for.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    /// The access token for `Authorization: Bearer`.
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The refresh token; the edge takes it out when it goes into a cookie instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The signed-in staff member.
    pub staff: StaffView,
}

impl SignedIn {
    fn new(access_token: String, refresh_token: String, staff: Staff) -> Self {
        Self {
            access_token,
            expires_in: ACCESS_TTL_SECONDS,
            refresh_token: Some(refresh_token),
            staff: staff.into(),
        }
    }
}

/// What a step that checks a password came to. A wrong password is told apart from other
/// refusals so the edge can count it against its failure limit before answering.
#[derive(Debug)]
pub enum PasswordAttempt<T> {
    /// The password was right and the step is done.
    Accepted(T),
    /// The password was wrong; answer with this error.
    Wrong(Error),
}

/// Issues an access token and a stored refresh token, and audits the login.
pub async fn sign_in(store: &Store, staff: Staff) -> Result<SignedIn> {
    let access_token = issue_access(store, &staff).await?;
    let (refresh_token, hash) = new_refresh_token();
    store
        .record_login(&staff.id, &hash, now_ms() + REFRESH_TTL_MS)
        .await?;
    Ok(SignedIn::new(access_token, refresh_token, staff))
}

/// Creates the first administrator and signs them in. Once anyone exists this is a
/// conflict, answered before the fields are judged: they no longer matter.
pub async fn set_up_first_administrator(
    store: &Store,
    username: &str,
    display_name: &str,
    password: String,
) -> Result<SignedIn> {
    if store.staff_count().await? > 0 {
        return Err(Error::Conflict("setup has already been completed".into()));
    }
    let (username, display_name) = first_administrator(username, display_name, &password)?;
    let hash = hash_password_blocking(password).await?;
    let staff = store.complete_setup(username, display_name, hash).await?;
    tracing::info!(staff = %staff.id, "first-run setup created the first administrator");
    sign_in(store, staff).await
}

/// Signs in by username (trimmed) and password. Unknown usernames, wrong passwords and
/// disabled accounts get the same [`PasswordAttempt::Wrong`], after the same hashing work.
pub async fn log_in(
    store: &Store,
    username: &str,
    password: String,
) -> Result<PasswordAttempt<SignedIn>> {
    let staff = store.staff_by_username(username.trim()).await?;
    let hash = staff.as_ref().map(|s| s.password_hash.clone());
    let matches = verify_blocking(password, hash).await?;
    match staff {
        Some(staff) if matches && staff.disabled_at.is_none() => {
            Ok(PasswordAttempt::Accepted(sign_in(store, staff).await?))
        }
        _ => Ok(PasswordAttempt::Wrong(BAD_LOGIN)),
    }
}

/// Exchanges the `presented` refresh token for a new pair, once. A spent token presented
/// again has had every refresh token of its account revoked by the store; a disabled
/// account loses its refresh tokens here. Every refusal is the same `Unauthorized`.
pub async fn refresh(store: &Store, presented: Option<&str>) -> Result<SignedIn> {
    let presented = presented.ok_or(BAD_REFRESH)?;
    let (refresh_token, new_hash) = new_refresh_token();
    let expires_at = now_ms() + REFRESH_TTL_MS;
    let outcome = store
        .rotate_refresh_token(&refresh_token_hash(presented), &new_hash, expires_at)
        .await?;
    let staff_id = match outcome {
        Refreshed::Rotated { staff_id } => staff_id,
        Refreshed::Reused { staff_id } => {
            tracing::warn!(staff = %staff_id, "a spent refresh token was presented again; all sessions of that account are revoked");
            return Err(BAD_REFRESH);
        }
        Refreshed::Refused => return Err(BAD_REFRESH),
    };
    let staff = store.staff(&staff_id).await?;
    if staff.disabled_at.is_some() {
        store.revoke_refresh_tokens_of(&staff.id).await?;
        return Err(BAD_REFRESH);
    }
    let access_token = issue_access(store, &staff).await?;
    Ok(SignedIn::new(access_token, refresh_token, staff))
}

/// Revokes each of `tokens`. Tokens already spent, revoked or unknown are no error:
/// logging out twice leaves the same state.
pub async fn log_out(store: &Store, tokens: impl IntoIterator<Item = String>) -> Result<()> {
    for token in tokens {
        store
            .revoke_refresh_token(&refresh_token_hash(&token))
            .await?;
    }
    Ok(())
}

/// Changes `staff_id`'s own password and signs the account out everywhere else: whoever
/// knew the old password loses their refresh tokens. A wrong current password is
/// [`PasswordAttempt::Wrong`], its field error first and any of the new password after it;
/// a right one with a new password the policy refuses is [`Error::Invalid`].
pub async fn change_password(
    store: &Store,
    staff_id: &StaffId,
    current_password: String,
    new_password: String,
) -> Result<PasswordAttempt<()>> {
    let staff = store.staff(staff_id).await?;
    let mut errors = check_new_password("new_password", &new_password, &staff.username);
    let current_ok = verify_blocking(current_password, Some(staff.password_hash.clone())).await?;
    if !current_ok {
        errors.insert(
            0,
            FieldError {
                field: "current_password".into(),
                message: "is not your current password".into(),
            },
        );
        return Ok(PasswordAttempt::Wrong(Error::Invalid(errors)));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let hash = hash_password_blocking(new_password).await?;
    store
        .set_password_hash(&Actor::Staff(staff.id.clone()), &staff.id, &hash)
        .await?;
    store.revoke_refresh_tokens_of(&staff.id).await?;
    Ok(PasswordAttempt::Accepted(()))
}

/// The signed-in staff member as the API shows them, unless the account was disabled
/// since their access token was issued.
pub async fn current_staff(store: &Store, staff_id: &StaffId) -> Result<StaffView> {
    let staff = store.staff(staff_id).await?;
    if staff.disabled_at.is_some() {
        return Err(Error::Unauthorized("this account is disabled"));
    }
    Ok(staff.into())
}
