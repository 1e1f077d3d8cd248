//! Signing, without the database: the challenge a signer's phone signs, the check of that
//! signature against the key the phone registered, one-time codes, masked names, and the
//! statement the organisation's seal key signs.
//!
//! The phone's key is a WebCrypto P-256 key that never leaves it: the server only ever sees
//! its public half (SPKI DER) and signatures in the 64-byte `r||s` form WebCrypto produces.
//! The seal is Ed25519: the organisation's key signs the statement, and the platform's key
//! (held by `accord-recordings`, which this crate must not depend on) countersigns the same
//! bytes at the edge.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::rules::Rule;
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, OrganisationId};

/// How long a signing challenge may be answered.
pub const CHALLENGE_TTL_MS: i64 = 10 * 60_000;
/// How long a one-time code is good for.
pub const CODE_TTL_MS: i64 = 5 * 60_000;
/// The least time between two codes for one signer.
pub const CODE_RESEND_MS: i64 = 60_000;
/// Wrong tries after which a code is dead.
pub const CODE_MAX_ATTEMPTS: i64 = 5;

/// What a signer's phone signs: which text (by version and hash), who signs, when, and a
/// nonce that lets the server take each answer once. Serialised with exactly these keys in
/// this order and no spaces, so the phone can show and sign the string the server issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// The case, `CA_…`.
    pub case: CaseId,
    /// The final version signed.
    pub version: i64,
    /// SHA-256 of that version's canonical text, lowercase hex.
    pub text_sha256: String,
    /// `PT_…` or `ST_…`.
    pub signer: String,
    /// When the challenge was issued, Unix ms.
    pub time: i64,
    /// Random, unique per challenge.
    pub nonce: String,
}

impl Payload {
    /// The exact string that is signed.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a payload the way [`Payload::to_json`] wrote it and in no other form: keys
    /// reordered, spaces or escapes spelled differently would mean the phone signed bytes
    /// other than the ones issued.
    pub fn parse(text: &str) -> Result<Payload, Rule> {
        let payload: Payload = serde_json::from_str(text).map_err(|_| Rule::ChallengeExpired)?;
        if payload.to_json() != text {
            return Err(Rule::ChallengeExpired);
        }
        Ok(payload)
    }
}

/// Checks `signature_b64` (64-byte P1363 `r||s`) over `payload` with the P-256 public key
/// `spki_der_b64`. ECDSA over SHA-256 of the payload's bytes, as WebCrypto's
/// `{name: "ECDSA", hash: "SHA-256"}` signs.
pub fn verify_device_signature(
    spki_der_b64: &str,
    payload: &str,
    signature_b64: &str,
) -> Result<(), Rule> {
    use p256::ecdsa::signature::Verifier;
    let key = device_key(spki_der_b64).ok_or(Rule::BadSignature)?;
    let bytes = BASE64
        .decode(signature_b64.trim())
        .map_err(|_| Rule::BadSignature)?;
    let signature = p256::ecdsa::Signature::from_slice(&bytes).map_err(|_| Rule::BadSignature)?;
    key.verify(payload.as_bytes(), &signature)
        .map_err(|_| Rule::BadSignature)
}

fn device_key(spki_der_b64: &str) -> Option<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    let der = BASE64.decode(spki_der_b64.trim()).ok()?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok()
}

/// Refuses a device key that is not a P-256 public key in SPKI DER, base64.
pub fn check_device_key(spki_der_b64: &str) -> Result<()> {
    match device_key(spki_der_b64) {
        Some(_) => Ok(()),
        None => Err(Error::field(
            "public_key",
            "must be a P-256 public key in SPKI DER form, base64",
        )),
    }
}

/// Whether two base64 SPKI keys are the same key (whatever whitespace surrounds them).
pub fn same_device_key(a: &str, b: &str) -> bool {
    match (BASE64.decode(a.trim()), BASE64.decode(b.trim())) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A 6-digit one-time code from the operating system's CSPRNG.
pub fn new_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// A challenge nonce: 128 bits and more of randomness.
pub fn new_nonce() -> String {
    crate::random_token(24)
}

/// Compares two strings in time that depends only on their lengths, so a wrong code's
/// hash gives away nothing of the right one through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A name as strangers may see it on the public verification page: `张三` → `张*`,
/// `John Smith` → `J*** Smith`. Enough for a signer to recognise themselves, not enough
/// to find them.
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() <= 1 {
        let mut chars = name.chars();
        return match chars.next() {
            None => String::new(),
            Some(first) if first.is_ascii() => format!("{first}***"),
            Some(first) => {
                let rest = chars.count().max(1);
                format!("{first}{}", "*".repeat(rest))
            }
        };
    }
    let last = words.len() - 1;
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            if i == last {
                (*word).to_owned()
            } else {
                let first = word.chars().next().unwrap_or('*');
                format!("{first}***")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One signature as the seal statement lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementSignature {
    /// `PT_…` or `ST_…`.
    pub signer: String,
    /// SHA-256 of the signature's bytes, hex.
    pub signature_sha256: String,
    /// Unix ms.
    pub signed_at: i64,
}

/// What the organisation's seal key signs and the platform key countersigns: which text,
/// whose signatures, from when it is in force, under which key. Serialised as JSON with
/// this key order and no spaces; the bytes are stored beside the signatures so anyone can
/// check them later without rebuilding them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SealStatement {
    /// `AG_…`.
    pub agreement: AgreementId,
    /// `CA_…`.
    pub case: CaseId,
    /// The version sealed.
    pub version: i64,
    /// Its canonical text's SHA-256.
    pub text_sha256: String,
    /// Every signature, in the order signed.
    pub signatures: Vec<StatementSignature>,
    /// Unix ms.
    pub effective_at: i64,
    /// `OR_…`.
    pub organisation: OrganisationId,
    /// The seal key's id.
    pub key_id: String,
}

impl SealStatement {
    /// The bytes signed.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// SHA-256 of a base64 signature's bytes (of the text itself if it is not base64), hex.
pub fn signature_sha256(signature_b64: &str) -> String {
    use sha2::Digest;
    let bytes = BASE64
        .decode(signature_b64.trim())
        .unwrap_or_else(|_| signature_b64.as_bytes().to_vec());
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// A fresh Ed25519 seal key: (secret, public), both base64 of their 32 bytes.
pub fn new_seal_key() -> (String, String) {
    use rand::RngCore;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = ed25519_dalek::SigningKey::from_bytes(&secret);
    (
        BASE64.encode(secret),
        BASE64.encode(key.verifying_key().to_bytes()),
    )
}

/// Signs `statement` with the seal key whose secret is `secret_b64`; the signature in base64.
pub fn seal_sign(secret_b64: &str, statement: &[u8]) -> Result<String> {
    use ed25519_dalek::Signer;
    let secret: [u8; 32] = BASE64
        .decode(secret_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Internal("a seal key's secret is not 32 bytes".into()))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&secret);
    Ok(BASE64.encode(key.sign(statement).to_bytes()))
}

/// Whether `signature_b64` is the seal key `public_key_b64`'s Ed25519 signature of
/// `statement`.
pub fn verify_seal(public_key_b64: &str, statement: &[u8], signature_b64: &str) -> bool {
    let Some(public): Option<[u8; 32]> = BASE64
        .decode(public_key_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
    else {
        return false;
    };
    let Some(signature): Option<[u8; 64]> = BASE64
        .decode(signature_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
    else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
        return false;
    };
    key.verify_strict(statement, &ed25519_dalek::Signature::from_bytes(&signature))
        .is_ok()
}

#[cfg(test)]
mod tests;
