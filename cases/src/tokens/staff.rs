//! Staff access tokens: HS256 JWTs of 15 minutes with a `kid` header naming the stored key
//! that signed them, and opaque refresh tokens stored only as their SHA-256.
//!
//! Rotation: [`Store::add_signing_key`] makes a new current key; tokens of older keys keep
//! verifying until [`Store::retire_signing_key`]. Staff tokens carry the audience
//! `accord-staff` and a `kid`; join tokens carry `accord-join`, no `kid` and another secret,
//! so neither is ever taken for the other.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::now_seconds;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::model::{Staff, StaffRole};
use crate::{OrganisationId, StaffId};

/// The audience of every staff access token.
pub const STAFF_AUDIENCE: &str = "accord-staff";
/// How long an access token lives.
pub const ACCESS_TTL_SECONDS: u64 = 15 * 60;
/// How long a refresh token lives.
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// What an access token says about its bearer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffClaims {
    /// The staff id.
    pub sub: StaffId,
    /// Their role when the token was issued.
    pub role: StaffRole,
    /// Their organisation.
    pub organisation_id: Option<OrganisationId>,
    /// For court users: their court.
    pub court: Option<String>,
    /// Always [`STAFF_AUDIENCE`].
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// Signs an access token for `staff` valid from `iat` (Unix seconds) for
/// [`ACCESS_TTL_SECONDS`], creating the first signing key when there is none. Tests pass a
/// past `iat` to get an expired token.
pub async fn issue_access_at(store: &Store, staff: &Staff, iat: u64) -> Result<String> {
    let key = match store.current_signing_key().await? {
        Some(key) => key,
        None => store.add_signing_key(&random_bytes::<32>()).await?,
    };
    let claims = StaffClaims {
        sub: staff.id.clone(),
        role: staff.role,
        organisation_id: staff.organisation_id.clone(),
        court: staff.court.clone(),
        aud: STAFF_AUDIENCE.to_owned(),
        iat,
        exp: iat + ACCESS_TTL_SECONDS,
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.secret))
        .map_err(|e| Error::Internal(format!("signing an access token: {e}")))
}

/// Signs an access token for `staff` valid from now.
pub async fn issue_access(store: &Store, staff: &Staff) -> Result<String> {
    issue_access_at(store, staff, now_seconds()).await
}

/// Checks an access token's key, signature, audience and expiry.
pub async fn verify_access(store: &Store, token: &str) -> Result<StaffClaims> {
    const INVALID: Error = Error::Unauthorized("the access token is not valid");
    let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
    if header.alg != Algorithm::HS256 {
        return Err(INVALID);
    }
    let kid = header.kid.ok_or(INVALID)?;
    let key = match store.signing_key(&kid).await? {
        Some(key) if key.retired_at.is_none() => key,
        _ => return Err(INVALID),
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[STAFF_AUDIENCE]);
    validation.leeway = 5;
    jsonwebtoken::decode::<StaffClaims>(token, &DecodingKey::from_secret(&key.secret), &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Error::Unauthorized("the access token has expired")
            }
            _ => INVALID,
        })
}

/// A new opaque refresh token and the hash to store for it.
pub fn new_refresh_token() -> (String, String) {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let hash = refresh_token_hash(&token);
    (token, hash)
}

/// The SHA-256 (hex) a refresh token is stored and looked up by.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}
