//! The extractors that take a join token (or the API key) from the bearer header, so a
//! handler's signature says who may call it: [`Participant`] (a join token that still
//! admits), [`JoinBearer`] (a join token, checked only for signature and times) and
//! [`ApiKey`]. Staff are extracted in [`crate::staff`]. What a token grants and how it is
//! signed is the domain's ([`accord_cases::tokens`]); this module only finds it.

use std::ops::Deref;

use accord_cases::tokens::{JoinClaims, constant_time_eq};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::{Error, Result};

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case (RFC 9110 §11.1), so `bearer` and `BEARER` work as clients send them.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A bearer join token whose signature, audience and times check out, nothing more: for
/// acting on what the same identity already opened (a WHIP or WHEP resource). 401 without
/// one.
#[derive(Clone, Debug)]
pub struct JoinBearer(pub JoinClaims);

/// A participant: a bearer join token that still admits, whose invite is live, whose
/// session is not over, whose bearer was not removed and whose staff account (for a
/// mediator's own seat) is enabled ([`crate::casework::check_join`]). For everything a
/// participant opens or does over HTTP.
#[derive(Clone, Debug)]
pub struct Participant(pub JoinClaims);

/// The caller presented the configured API key, the one credential that mints join tokens
/// over HTTP. 404 while no key is configured (the endpoint is off), 401 without the key or
/// with another.
#[derive(Clone, Copy, Debug)]
pub struct ApiKey;

impl FromRequestParts<AppState> for JoinBearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer_token(&parts.headers)
            .ok_or(Error::Unauthorized("send the join token as a bearer token"))?;
        Ok(Self(state.keys().verify(token)?))
    }
}

impl FromRequestParts<AppState> for Participant {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let JoinBearer(claims) = JoinBearer::from_request_parts(parts, state).await?;
        crate::casework::check_join(state, &claims).await?;
        Ok(Self(claims))
    }
}

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Some(expected) = state.config().api_key.as_deref() else {
            return Err(Error::NotFound(
                "token minting over HTTP is disabled: set auth.api_key",
            ));
        };
        let presented = bearer_token(&parts.headers)
            .ok_or(Error::Unauthorized("send the API key as a bearer token"))?;
        if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            Ok(Self)
        } else {
            Err(Error::Unauthorized("the API key is not valid"))
        }
    }
}

/// The claims are what handlers read of a participant (`participant.room`, `.sub`).
impl Deref for Participant {
    type Target = JoinClaims;

    fn deref(&self) -> &JoinClaims {
        &self.0
    }
}

/// A join token as read-only routes about a case after its session take it (the agreement
/// as a party's phone shows it when the session ended, its PDF): a party's token as
/// [`crate::agreements::caller::Caller`] takes it for reads (a case link, or a session link even of an ended session, never a
/// revoked or expired one), anyone else's as joining a room does
/// ([`crate::casework::check_join`]).
#[derive(Clone, Debug)]
pub struct CaseReader(pub JoinClaims);

impl FromRequestParts<AppState> for CaseReader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer_token(&parts.headers)
            .ok_or(Error::Unauthorized("send the join token as a bearer token"))?;
        let claims = state.keys().verify(token)?;
        if claims.role == accord_cases::tokens::Role::Party && claims.case.is_some() {
            crate::casework::check_party_link(state, &claims).await?;
        } else {
            crate::casework::check_join(state, &claims).await?;
        }
        Ok(Self(claims))
    }
}
