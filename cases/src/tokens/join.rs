//! Join tokens: HS256 JWTs that admit one identity to one room with a set of grants.
//! [`TokenKeys::mint`] validates what an API caller asks for ([`TokenRequest`]) and signs
//! it; [`TokenKeys::sign`] signs claims an invite or a mediator's own seat built;
//! [`TokenKeys::verify`] checks signature, audience and times. Whether a verified token
//! still admits (its invite, session and bearer) is [`crate::store::Store::admits`].

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Role, now_seconds};
use crate::error::{Error, FieldError, Result};

/// The audience every join token carries, so other tokens signed with the same secret
/// (staff sessions, later) can never be used to join.
const JOIN_AUDIENCE: &str = "accord-join";
/// Longest lifetime a minted join token may have.
pub const MAX_TOKEN_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// Lifetime when the caller does not say.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 6 * 3600;

/// The claims of a join token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The participant's stable identity (a person or tool id, not a display name).
    pub sub: String,
    /// Display name shown to others.
    pub name: String,
    /// The room it admits to.
    pub room: String,
    /// What they are.
    pub role: Role,
    /// May publish audio and video.
    pub can_publish: bool,
    /// Receives others' media.
    pub can_subscribe: bool,
    /// Present without being announced (recorders, supervisors).
    pub hidden: bool,
    /// For invite links: the case the session belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// For invite links: the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// For invite links: the invite, whose revocation stops the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inv: Option<String>,
    /// Audience, always `accord-join`.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not valid before.
    pub nbf: u64,
    /// Expires at.
    pub exp: u64,
}

/// What a caller asks a token for; validated before signing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Room to admit to.
    pub room: String,
    /// Stable identity.
    pub identity: String,
    /// Display name; defaults to the identity.
    #[serde(default)]
    pub name: Option<String>,
    /// Role; defaults to `party`.
    #[serde(default)]
    pub role: Option<Role>,
    /// Defaults to true, except for observers.
    #[serde(default)]
    pub can_publish: Option<bool>,
    /// Defaults to true.
    #[serde(default)]
    pub can_subscribe: Option<bool>,
    /// Defaults to false.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// Defaults to six hours; at most a week.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// Signs and verifies join tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The secret, keyed once, for the keys [`TokenKeys::derive_key`] derives from it.
    derivation: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

fn check_id(field: &'static str, value: &str, errors: &mut Vec<FieldError>) {
    let ok_chars = value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
    if value.is_empty() || value.chars().count() > 128 || !ok_chars {
        errors.push(FieldError::new(field, "1–128 letters, digits or - _ . : @"));
    }
}

impl TokenKeys {
    /// Keys from a shared secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            derivation: <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length")),
        }
    }

    /// A key for another use of the same shared secret: HMAC-SHA256(secret, `label`). Nodes
    /// that share the token secret derive the same key without another file to distribute,
    /// and a key derived for one label tells nothing about the secret or another label's key.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut mac = self.derivation.clone();
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Validates a request and signs a token for it.
    pub fn mint(&self, request: TokenRequest) -> Result<String> {
        let mut errors = Vec::new();
        check_id("room", &request.room, &mut errors);
        check_id("identity", &request.identity, &mut errors);
        let name = request.name.unwrap_or_else(|| request.identity.clone());
        if name.trim().is_empty() || name.chars().count() > 64 {
            errors.push(FieldError {
                field: "name".into(),
                message: "1–64 characters".into(),
            });
        }
        let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS);
        if ttl == 0 || ttl > MAX_TOKEN_TTL_SECONDS {
            errors.push(FieldError {
                field: "ttl_seconds".into(),
                message: format!("1–{MAX_TOKEN_TTL_SECONDS}"),
            });
        }
        let role = request.role.unwrap_or(Role::Party);
        let can_publish = request.can_publish.unwrap_or(role != Role::Observer);
        if role == Role::Observer && can_publish {
            errors.push(FieldError {
                field: "can_publish".into(),
                message: "observers never publish".into(),
            });
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let now = now_seconds();
        let claims = JoinClaims {
            sub: request.identity,
            name: name.trim().to_owned(),
            room: request.room,
            role,
            can_publish,
            can_subscribe: request.can_subscribe.unwrap_or(true),
            hidden: request.hidden.unwrap_or(false),
            case: None,
            session: None,
            inv: None,
            aud: JOIN_AUDIENCE.to_owned(),
            iat: now,
            nbf: now.saturating_sub(5),
            exp: now + ttl,
        };
        self.sign(&claims)
    }

    /// Signs claims the caller built and checked (invites, a mediator's own seat). The
    /// audience is set here. The same claims always give the same token, so an invite's
    /// link can be shown again without storing it.
    pub fn sign(&self, claims: &JoinClaims) -> Result<String> {
        let claims = JoinClaims {
            aud: JOIN_AUDIENCE.to_owned(),
            ..claims.clone()
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Checks signature, audience and times; returns the claims.
    pub fn verify(&self, token: &str) -> Result<JoinClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[JOIN_AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        jsonwebtoken::decode::<JoinClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                tracing::debug!(error = %e, "join token refused");
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        Error::Unauthorized("the join token has expired")
                    }
                    _ => Error::Unauthorized("the join token is not valid"),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> TokenRequest {
        TokenRequest {
            room: "case-42".into(),
            identity: "party-1".into(),
            name: Some("张三".into()),
            role: None,
            can_publish: None,
            can_subscribe: None,
            hidden: None,
            ttl_seconds: Some(60),
        }
    }

    #[test]
    fn a_minted_token_verifies_with_its_grants() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let claims = keys
            .verify(&keys.mint(request()).expect("mint"))
            .expect("verify");
        assert_eq!(claims.room, "case-42");
        assert_eq!(claims.name, "张三");
        assert_eq!(claims.role, Role::Party);
        assert!(claims.can_publish && claims.can_subscribe && !claims.hidden);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let ours = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let theirs = TokenKeys::new(b"ffffffffffffffffffffffffffffffff");
        let forged = theirs.mint(request()).expect("mint");
        assert!(matches!(ours.verify(&forged), Err(Error::Unauthorized(_))));
        assert!(ours.verify("not.a.jwt").is_err());
    }

    #[test]
    fn bad_requests_name_their_fields() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let mut r = request();
        r.room = String::new();
        r.ttl_seconds = Some(0);
        r.role = Some(Role::Observer);
        r.can_publish = Some(true);
        let Err(Error::Invalid(fields)) = keys.mint(r) else {
            panic!("expected field errors");
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_ref()).collect();
        assert_eq!(names, ["room", "ttl_seconds", "can_publish"]);
    }
}
