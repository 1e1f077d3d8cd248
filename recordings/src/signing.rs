//! The platform's Ed25519 signing keys: they sign recording manifests so that a court can
//! check, offline, that a recording is the one the platform made.
//!
//! Keys live in one directory (`<data>/keys/signing/`, see [`signing_dir`]), one file per key,
//! named `<created_at_ms>-<key_id>.key` and holding the base64 32-byte seed, readable by the
//! owner only. The newest key signs; older keys stay, so that what they signed still verifies
//! against the published list ([`PlatformKeys::published`]). A key id is the first 16 hex
//! digits of the SHA-256 of the public key ([`key_id_of`]), so anyone can recompute it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The only algorithm these keys use, as it is named in published lists and signatures.
pub const ALGORITHM: &str = "Ed25519";

const KEY_SUFFIX: &str = ".key";

/// Where the signing keys are kept inside the server's data directory (beside its other keys).
pub fn signing_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("signing")
}

/// The key id of an Ed25519 public key: the first 16 hex digits of its SHA-256.
pub fn key_id_of(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    hex::encode(&digest[..8])
}

/// A public key as the platform publishes it (`/.well-known/accord/signing-keys.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// Its key id ([`key_id_of`]).
    pub id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, base64.
    pub public_key: String,
    /// When it was created (unix ms).
    pub created_at_ms: u64,
    /// Whether it is the key that signs now.
    pub current: bool,
}

impl PublicKeyInfo {
    /// A bare base64 public key (as given to `accord verify --key`), described like a
    /// published one.
    pub fn from_public_key(public_key: &str) -> Result<Self> {
        let key = decode_public_key(public_key)?;
        Ok(Self {
            id: key_id_of(key.as_bytes()),
            algorithm: ALGORITHM.to_owned(),
            public_key: BASE64.encode(key.as_bytes()),
            created_at_ms: 0,
            current: false,
        })
    }
}

/// The published list: `{"keys": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKeys {
    /// Every key the platform has signed with, oldest first.
    pub keys: Vec<PublicKeyInfo>,
}

impl PublishedKeys {
    /// Parses a saved copy of the published list (`signing-keys.json`).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("signing keys: {e}")))
    }
}

/// A detached signature, as written to `manifest.sig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id.
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The signing key's public half, base64, so that the file checks without a lookup.
    pub public_key: String,
    /// The 64-byte signature, base64.
    pub signature: String,
}

struct KeyFile {
    id: String,
    created_at_ms: u64,
    key: SigningKey,
}

/// The platform's signing keys, loaded from their directory.
pub struct PlatformKeys {
    /// The keys that signed before, oldest first.
    older: Vec<KeyFile>,
    /// The key that signs now: the newest.
    current: KeyFile,
}

/// Seeds must never reach a log, so only ids are shown.
impl std::fmt::Debug for PlatformKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKeys")
            .field("current", &self.current.id)
            .field(
                "older",
                &self.older.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PlatformKeys {
    /// Loads the keys in `dir`, creating the directory (0700) and a first key (0600) when
    /// there is none yet.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        let mut older = read_keys(dir)?;
        let current = match older.pop() {
            Some(newest) => newest,
            None => new_key_file(dir)?,
        };
        Ok(Self { older, current })
    }

    /// Makes a new key the current one. Older keys stay in `dir`, for verifying what they
    /// signed and to stay published. A running server picks the new key up when it next
    /// loads its keys.
    pub fn rotate(dir: &Path) -> Result<PublicKeyInfo> {
        create_private_dir(dir)?;
        let created = new_key_file(dir)?;
        Ok(public_info(&created, true))
    }

    /// The id of the key that signs now.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Signs `bytes` with the current key.
    pub fn sign(&self, bytes: &[u8]) -> Signature {
        let current = &self.current;
        Signature {
            key_id: current.id.clone(),
            algorithm: ALGORITHM.to_owned(),
            public_key: BASE64.encode(current.key.verifying_key().as_bytes()),
            signature: BASE64.encode(current.key.sign(bytes).to_bytes()),
        }
    }

    /// Every key's public half, oldest first, the current one marked.
    pub fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.older
            .iter()
            .map(|k| public_info(k, false))
            .chain(std::iter::once(public_info(&self.current, true)))
            .collect()
    }

    /// The document served at `/.well-known/accord/signing-keys.json`.
    pub fn published(&self) -> PublishedKeys {
        PublishedKeys {
            keys: self.public_keys(),
        }
    }
}

/// Decodes a base64 Ed25519 public key.
pub fn decode_public_key(public_key: &str) -> Result<VerifyingKey> {
    let bytes = BASE64
        .decode(public_key.trim())
        .map_err(|_| Error::Malformed("public key: not base64".into()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Malformed("public key: not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| Error::Malformed("public key: not an Ed25519 point".into()))
}

/// Checks `signature` over `bytes`: the algorithm, that the key id belongs to the public key,
/// and the signature itself. The error says which, in words for a report.
pub fn verify_signature(signature: &Signature, bytes: &[u8]) -> std::result::Result<(), String> {
    if signature.algorithm != ALGORITHM {
        return Err(format!(
            "algorithm {:?} is not Ed25519",
            signature.algorithm
        ));
    }
    let key = decode_public_key(&signature.public_key).map_err(|e| e.to_string())?;
    if key_id_of(key.as_bytes()) != signature.key_id {
        return Err(format!(
            "key id {} does not belong to the public key it names",
            signature.key_id
        ));
    }
    let raw = BASE64
        .decode(signature.signature.trim())
        .map_err(|_| "signature is not base64".to_owned())?;
    let raw: [u8; 64] = raw
        .try_into()
        .map_err(|_| "signature is not 64 bytes".to_owned())?;
    key.verify(bytes, &ed25519_dalek::Signature::from_bytes(&raw))
        .map_err(|_| format!("signature by key {} does not verify", signature.key_id))
}

fn public_info(key: &KeyFile, current: bool) -> PublicKeyInfo {
    PublicKeyInfo {
        id: key.id.clone(),
        algorithm: ALGORITHM.to_owned(),
        public_key: BASE64.encode(key.key.verifying_key().as_bytes()),
        created_at_ms: key.created_at_ms,
        current,
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes a fresh key. Its file name starts with its creation time, which orders the keys;
/// two rotations in one millisecond take the next free millisecond, so the order stays total.
fn new_key_file(dir: &Path) -> Result<KeyFile> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let id = key_id_of(key.verifying_key().as_bytes());
    let newest = read_keys(dir)?.last().map_or(0, |k| k.created_at_ms);
    let mut created_at_ms = now_ms().max(newest.saturating_add(1));
    loop {
        let path = dir.join(format!("{created_at_ms}-{id}{KEY_SUFFIX}"));
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match opened {
            Ok(mut file) => {
                file.write_all(BASE64.encode(seed).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                tracing::info!(key_id = %id, "signing key created");
                return Ok(KeyFile {
                    id,
                    created_at_ms,
                    key,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                created_at_ms = created_at_ms.saturating_add(1);
            }
            Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
        }
    }
}

/// Every key in `dir`, oldest first. A file whose seed does not match the id in its name is
/// refused: signing with a key other than the one published would make manifests unverifiable.
fn read_keys(dir: &Path) -> Result<Vec<KeyFile>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut keys = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(KEY_SUFFIX)) else {
            continue;
        };
        let Some((created, id)) = stem.split_once('-') else {
            continue;
        };
        let Ok(created_at_ms) = created.parse::<u64>() else {
            continue;
        };
        let path = entry.path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let seed: [u8; 32] = BASE64
            .decode(text.trim())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::Malformed(format!("signing key file {}", path.display())))?;
        let key = SigningKey::from_bytes(&seed);
        if key_id_of(key.verifying_key().as_bytes()) != id {
            return Err(Error::Malformed(format!(
                "signing key file {}: its key is not {id}",
                path.display()
            )));
        }
        keys.push(KeyFile {
            id: id.to_owned(),
            created_at_ms,
            key,
        });
    }
    keys.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn first_load_creates_a_private_key_that_reloads_the_same() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = signing_dir(tmp.path());
        let keys = PlatformKeys::load_or_create(&dir).expect("create");
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
        assert_eq!(files.len(), 1);
        let file = files[0].as_ref().expect("entry").path();
        assert_eq!(mode(&file), 0o600);
        let again = PlatformKeys::load_or_create(&dir).expect("reload");
        assert_eq!(keys.current_key_id(), again.current_key_id());
        assert_eq!(keys.current_key_id().len(), 16);
    }

    #[test]
    fn rotation_signs_with_the_new_key_and_keeps_the_old_published() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = PlatformKeys::load_or_create(tmp.path()).expect("create");
        let old_signature = first.sign(b"manifest");
        let rotated = PlatformKeys::rotate(tmp.path()).expect("rotate");
        let keys = PlatformKeys::load_or_create(tmp.path()).expect("reload");
        assert_eq!(keys.current_key_id(), rotated.id);
        assert_ne!(rotated.id, first.current_key_id());
        let published = keys.published().keys;
        assert_eq!(published.len(), 2);
        assert_eq!(published[0].id, first.current_key_id());
        assert!(!published[0].current && published[1].current);
        assert_eq!(verify_signature(&old_signature, b"manifest"), Ok(()));
        assert_eq!(keys.sign(b"x").key_id, rotated.id);
    }

    #[test]
    fn a_changed_message_or_a_borrowed_key_id_fails() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = PlatformKeys::load_or_create(tmp.path()).expect("create");
        let signature = keys.sign(b"manifest");
        assert!(verify_signature(&signature, b"manifesT").is_err());
        let other = tempfile::tempdir().expect("tempdir");
        let other = PlatformKeys::load_or_create(other.path()).expect("create");
        let mut forged = other.sign(b"manifest");
        forged.key_id = keys.current_key_id().to_owned();
        let refused = verify_signature(&forged, b"manifest").expect_err("forged id");
        assert!(refused.contains("does not belong"), "{refused}");
    }

    #[test]
    fn debug_shows_ids_not_seeds() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = PlatformKeys::load_or_create(tmp.path()).expect("create");
        let shown = format!("{keys:?}");
        assert!(shown.contains(keys.current_key_id()));
        assert!(!shown.contains("SigningKey"));
    }
}
