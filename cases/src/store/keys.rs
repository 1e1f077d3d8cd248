//! The store's two secrets, kept outside the database so that a copy of the database alone
//! neither reveals ID numbers nor lets anyone rewrite the audit trail unnoticed:
//! - the PII key seals ID numbers (AES-256-GCM, a fresh nonce per value);
//! - the audit key MACs the head of the audit chain (HMAC-SHA-256).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

use crate::error::{Error, Result};

const NONCE_LEN: usize = 12;

/// See the module docs.
#[derive(Clone)]
pub struct StoreKeys {
    pii: [u8; 32],
    audit: [u8; 32],
}

impl std::fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKeys(…)")
    }
}

impl StoreKeys {
    /// Keys from 32-byte values.
    pub fn new(pii: [u8; 32], audit: [u8; 32]) -> Self {
        Self { pii, audit }
    }

    /// Fresh random keys (tests).
    pub fn random() -> Self {
        let mut keys = Self::new([0; 32], [0; 32]);
        rand::rng().fill_bytes(&mut keys.pii);
        rand::rng().fill_bytes(&mut keys.audit);
        keys
    }

    /// Reads `<dir>/pii_key` and `<dir>/audit_key` (base64), creating them (mode 0600) on
    /// first run. Losing the PII key makes sealed ID numbers unreadable: back it up with the
    /// database.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        Ok(Self::new(
            key_file(&dir.join("pii_key"))?,
            key_file(&dir.join("audit_key"))?,
        ))
    }

    /// Seals `clear` for the database.
    pub fn seal(&self, clear: &str) -> Result<Vec<u8>> {
        self.seal_bytes(clear.as_bytes())
    }

    /// Seals a file's bytes (a proof of identity) for the blob store: nonce, then the
    /// AES-256-GCM ciphertext and tag.
    pub fn seal_bytes(&self, clear: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new((&self.pii).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), clear)
            .map_err(|_| Error::Internal("sealing a value failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens a value [`seal`](Self::seal)ed with this key.
    pub fn open(&self, sealed: &[u8]) -> Result<String> {
        String::from_utf8(self.open_bytes(sealed)?)
            .map_err(|_| Error::Internal("a sealed value is not text".into()))
    }

    /// Opens bytes [`seal_bytes`](Self::seal_bytes)ed with this key.
    pub fn open_bytes(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or_else(|| Error::Internal("a sealed value is truncated".into()))?;
        let cipher = Aes256Gcm::new((&self.pii).into());
        cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| Error::Internal("a sealed value does not open with this key".into()))
    }

    /// HMAC-SHA-256 of `message` under the audit key, hex.
    pub fn audit_mac(&self, message: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.audit)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn key_file(path: &Path) -> Result<[u8; 32]> {
    let io = |e: std::io::Error| Error::Internal(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = BASE64
                .decode(text.trim())
                .map_err(|_| Error::Internal(format!("{} is not base64", path.display())))?;
            bytes.try_into().map_err(|_| {
                Error::Internal(format!("{} must hold exactly 32 bytes", path.display()))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            write_private(path, &BASE64.encode(key)).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A phone number as logs and lists may show it: `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let keep_end = chars.len() - 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 3 || i >= keep_end { *c } else { '*' })
        .collect()
}

/// An ID number as it may be shown: the first 3 and last 4 characters, the rest as `*`
/// (`440***********1234`); short values are hidden entirely. Fewer than the first 6 (the
/// county of birth) and last 4: enough to tell two parties apart and to check a card held up
/// to the camera, too little to rebuild the number with a birth date.
pub fn mask_id_number(id: &str) -> String {
    const SHOW_FIRST: usize = 3;
    const SHOW_LAST: usize = 4;
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - SHOW_FIRST - SHOW_LAST;
    chars[..SHOW_FIRST]
        .iter()
        .chain(std::iter::repeat_n(&'*', hidden))
        .chain(&chars[chars.len() - SHOW_LAST..])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let keys = StoreKeys::random();
        let sealed = keys.seal("440306199001011234").expect("seal");
        assert!(!String::from_utf8_lossy(&sealed).contains("1990"));
        assert_eq!(keys.open(&sealed).expect("open"), "440306199001011234");
        assert!(StoreKeys::random().open(&sealed).is_err());
        assert!(keys.open(&sealed[..5]).is_err());
    }

    #[test]
    fn sealed_files_keep_no_clear_run_and_fail_when_tampered() {
        let keys = StoreKeys::random();
        let clear: Vec<u8> = b"\x89PNG\r\n\x1a\n"
            .iter()
            .copied()
            .cycle()
            .take(4096)
            .collect();
        let mut sealed = keys.seal_bytes(&clear).expect("seal");
        assert!(!sealed.windows(8).any(|w| w == &clear[..8]));
        assert_eq!(keys.open_bytes(&sealed).expect("open"), clear);
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(
            keys.open_bytes(&sealed).is_err(),
            "a changed byte never opens"
        );
    }

    #[test]
    fn phone_numbers_are_masked_in_the_middle() {
        assert_eq!(mask_phone("13800135678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn id_numbers_are_masked_in_the_middle() {
        assert_eq!(mask_id_number("440306199001011234"), "440***********1234");
        assert_eq!(mask_id_number("12345"), "*****");
    }

    #[test]
    fn key_files_are_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("accord-keys-{}", rand::random::<u64>()));
        let first = StoreKeys::load_or_create(&dir).expect("create");
        let again = StoreKeys::load_or_create(&dir).expect("read");
        assert_eq!(first.pii, again.pii);
        assert_eq!(first.audit, again.audit);
        let _ = std::fs::remove_dir_all(dir);
    }
}
