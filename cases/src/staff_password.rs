//! Staff passwords: hashing (argon2id, salted, PHC strings) and the rules new passwords
//! follow. Domain rules, not HTTP: the edge's sign-in, password change and account forms,
//! and the demo data, all hash and check through here.

use std::sync::OnceLock;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::RngCore;

use crate::error::{Error, FieldError, Result};

/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longer ones too: hashing cost grows with length, and nobody types more.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The field errors of a proposed password, for `field` of a request.
pub fn check_new_password(field: &'static str, password: &str, username: &str) -> Vec<FieldError> {
    let chars = password.chars().count();
    let message = if chars < MIN_PASSWORD_CHARS {
        format!("at least {MIN_PASSWORD_CHARS} characters")
    } else if chars > MAX_PASSWORD_CHARS {
        format!("at most {MAX_PASSWORD_CHARS} characters")
    } else if password.trim().is_empty() {
        "not only spaces".to_owned()
    } else if password.eq_ignore_ascii_case(username) {
        "must differ from the username".to_owned()
    } else {
        return Vec::new();
    };
    vec![FieldError {
        field: field.into(),
        message,
    }]
}

/// Hashes with argon2id and a random salt. Slow on purpose: run it off the async workers
/// ([`hash_password_blocking`]).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Internal(format!("encoding a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash`. The argon2 crate compares the
/// digests in constant time; a malformed stored hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        tracing::warn!("a stored password hash does not parse");
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Checks a password for an account that may not exist, taking as long either way, so the
/// answer time does not tell which usernames exist.
pub fn verify_or_waste_time(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match hash {
        Some(hash) => verify_password(password, hash),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("no such account").unwrap_or_default());
            verify_password(password, dummy);
            false
        }
    }
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_password_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}

/// [`verify_or_waste_time`] on the blocking pool.
pub async fn verify_blocking(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || verify_or_waste_time(&password, hash.as_deref()))
        .await
        .map_err(|e| Error::Internal(format!("password check task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").expect("hashing works");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn short_long_blank_or_username_passwords_are_refused() {
        assert_eq!(check_new_password("password", "short", "ann").len(), 1);
        assert_eq!(
            check_new_password("password", &"x".repeat(257), "ann").len(),
            1
        );
        assert_eq!(check_new_password("password", "         ", "ann").len(), 1);
        assert_eq!(
            check_new_password("password", "Annabelle", "annabelle").len(),
            1
        );
        assert!(check_new_password("password", "long enough", "ann").is_empty());
    }
}
