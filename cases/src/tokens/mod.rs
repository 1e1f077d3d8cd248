//! Tokens: what a credential grants and how it is signed and checked. The edge only finds a
//! token in a request (a bearer header, a WebSocket's first frame) and hands it here.
//!
//! - [`join`]: join tokens, HS256 JWTs with the audience `accord-join` that admit one
//!   identity to one room as a [`Role`] with a set of grants. They are signed with the
//!   service's token secret ([`TokenKeys`]); an API caller asks for one with a
//!   [`TokenRequest`], invites build their [`JoinClaims`] themselves.
//! - [`staff`]: staff access tokens, HS256 JWTs of 15 minutes with the audience
//!   `accord-staff` and a `kid` naming the stored signing key, and opaque refresh tokens
//!   stored only as their SHA-256.
//! - [`sign_in`]: what staff credentials are worth: setup, login, refresh-token rotation
//!   with reuse detection, logout and the password change.
//!
//! The two kinds never pass for each other: different audiences, different secrets, and
//! only staff tokens carry a `kid`. Every refusal is [`crate::Error::Unauthorized`] with a
//! sentence for people; it never says which check failed beyond "expired" or "not valid".

pub mod join;
mod role;
pub mod sign_in;
pub mod staff;

pub use join::{JoinClaims, TokenKeys, TokenRequest};
pub use role::Role;

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Unix seconds now, as JWT times are counted.
fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
