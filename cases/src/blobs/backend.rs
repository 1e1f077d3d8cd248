//! What every backend shares, so a blob is named, ranged and hashed the same wherever it is
//! kept. Public because a backend may live outside this crate: the S3 client is at the edge
//! (`accord_signaling::storage`), where an HTTP stack is allowed.

use std::path::Path;

use super::Blob;
use crate::error::{Error, Result};

/// Whether `name` can be a blob's name: 64 lowercase hex digits. Anything else (a path, an
/// uppercase hash) names no blob, so it can never reach the file system or a bucket.
fn is_blob_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The sharded relative location of the blob named `sha256`: `ab/cd/abcd…`, so no folder
/// or key prefix grows too large to list. `None` unless the name is 64 lowercase hex
/// digits: anything else (a path, an uppercase hash) names no blob, so it can never reach
/// the file system or a bucket.
pub fn sharded(sha256: &str) -> Option<[&str; 3]> {
    is_blob_name(sha256).then(|| [&sha256[0..2], &sha256[2..4], sha256])
}

/// The byte range [`super::BlobStore::open_range`] serves, from a request and the blob's
/// size: `None` when the start is at or past the end (an empty read).
pub fn clamp_range(
    start: u64,
    end_inclusive: Option<u64>,
    total: u64,
) -> Result<Option<(u64, u64)>> {
    if end_inclusive.is_some_and(|end| end < start) {
        return Err(Error::BadRequest("the range ends before it starts".into()));
    }
    if start >= total {
        return Ok(None);
    }
    let last = total - 1;
    Ok(Some((
        start,
        end_inclusive.map_or(last, |end| end.min(last)),
    )))
}

/// The running hash of a blob being written. A write that failed or was cancelled half-way
/// leaves stored bytes the hash did not see (or the reverse), so the blob could no longer be
/// named by its content: its writer refuses to go on.
#[derive(Default)]
pub struct ContentHash {
    hasher: sha2::Sha256,
    size: u64,
    interrupted: bool,
}

impl ContentHash {
    /// Call before storing a chunk; [`ContentHash::wrote`] once it is stored. Fails when an
    /// earlier write began and never reported back.
    pub fn begin_write(&mut self) -> Result<()> {
        if self.interrupted {
            return Err(Error::Internal(
                "blob store: a write to this blob failed; start it again".into(),
            ));
        }
        self.interrupted = true;
        Ok(())
    }

    /// Counts a chunk that is now stored.
    pub fn wrote(&mut self, chunk: &[u8]) {
        use sha2::Digest;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.interrupted = false;
    }

    /// Bytes counted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The blob the counted bytes make; fails after a write that was cut off.
    pub fn finish(&mut self) -> Result<Blob> {
        use sha2::Digest;
        self.begin_write()?;
        Ok(Blob {
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            size: self.size,
        })
    }
}

/// The size of the chunks a backend reads a local file in; large enough that hashing, not
/// system calls, dominates, small enough to keep memory flat.
pub const FILE_CHUNK: usize = 1024 * 1024;

/// Hashes a local file without blocking the runtime: its SHA-256 and size.
pub async fn hash_file(path: &Path) -> Result<Blob> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(|e| io_error("opening", &path, e))?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0; FILE_CHUNK];
        let mut size = 0u64;
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|e| io_error("reading", &path, e))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        Ok(Blob {
            sha256: hex::encode(hasher.finalize()),
            size,
        })
    })
    .await
    .map_err(|e| Error::Internal(format!("blob store: hashing a file: {e}")))?
}

/// The store's error for a failed file operation: `what` ("opening", "reading") and where.
pub fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("blob store: {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_to_the_blob() -> Result<()> {
        assert_eq!(clamp_range(0, Some(0), 10)?, Some((0, 0)));
        assert_eq!(clamp_range(3, None, 10)?, Some((3, 9)));
        assert_eq!(clamp_range(3, Some(99), 10)?, Some((3, 9)));
        assert_eq!(clamp_range(10, None, 10)?, None);
        assert_eq!(clamp_range(0, None, 0)?, None);
        assert!(clamp_range(5, Some(4), 10).is_err());
        Ok(())
    }

    #[test]
    fn a_blob_whose_write_was_cut_off_cannot_be_finished() -> Result<()> {
        let mut hash = ContentHash::default();
        hash.begin_write()?;
        hash.wrote(b"hello world");
        assert_eq!(hash.size(), 11);
        // A write that began and never reported success (an error, a cancelled future).
        hash.begin_write()?;
        assert!(hash.begin_write().is_err());
        assert!(hash.finish().is_err());
        Ok(())
    }

    #[test]
    fn only_lowercase_hex_hashes_name_blobs() {
        assert!(is_blob_name(&"ab".repeat(32)));
        assert!(!is_blob_name(&"AB".repeat(32)));
        assert!(!is_blob_name("../../etc/passwd"));
        assert!(!is_blob_name(&"a".repeat(63)));
        let name = "ab".repeat(32);
        assert_eq!(sharded(&name), Some(["ab", "ab", name.as_str()]));
        assert_eq!(sharded("../../etc/passwd"), None);
    }
}
