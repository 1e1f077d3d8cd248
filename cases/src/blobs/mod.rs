//! The blob store: files (evidence, powers of attorney, recordings and packages) kept by the
//! SHA-256 of their content.
//!
//! One interface, [`BlobStore`], with two backends: a local directory ([`LocalBlobs`], the
//! default) and S3-compatible object storage ([`S3Blobs`]); [`open_store`] picks one from a
//! [`BlobStoreConfig`]. Both keep a blob under a key derived from its hash
//! (`ab/cd/abcd…`), so the same content stored twice is kept once.
//!
//! Writing goes through a [`BlobWriter`] that hashes while the bytes stream in; only
//! [`BlobWriter::finish`] makes a blob visible, so a dropped upload (a client that went away,
//! a file refused half-way) leaves nothing behind. A finished file on local disk (a recorded
//! track) is stored with [`BlobStore::put_file`]. Reads are whole ([`BlobStore::open`]) or by
//! byte range ([`BlobStore::open_range`], for HTTP range requests on recordings).

mod local;
mod s3;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::AsyncRead;

use crate::error::{Error, Result};

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Config};

/// A stored blob: its content hash and length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// A blob's content, read as a stream.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Where blobs live. See the module docs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Starts a new blob; nothing is visible until [`BlobWriter::finish`].
    async fn writer(&self) -> Result<Box<dyn BlobWriter>>;

    /// The blob with this hash, or `None` if there is none.
    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>>;

    /// Bytes `start..=end_inclusive` of the blob (to its end when `end_inclusive` is `None`
    /// or lies past the end), with the blob's total size; `None` if there is no such blob.
    ///
    /// A `start` at or past the end gives an empty reader and the total size, so an HTTP
    /// handler can answer 416 with `Content-Range: bytes */<total>`. An `end_inclusive`
    /// before `start` is [`Error::BadRequest`].
    async fn open_range(
        &self,
        sha256: &str,
        start: u64,
        end_inclusive: Option<u64>,
    ) -> Result<Option<(BlobReader, u64)>>;

    /// The blob's size in bytes, or `None` if there is none.
    async fn size(&self, sha256: &str) -> Result<Option<u64>>;

    /// Stores a finished local file (a recorded track, a package), streamed and hashed; the
    /// file itself is left where it is. The file must not change while this runs: if its
    /// content differs between hashing and storing, nothing is stored and this fails.
    async fn put_file(&self, path: &Path) -> Result<Blob>;

    /// Removes the blob (retention); `false` if there was none.
    async fn delete(&self, sha256: &str) -> Result<bool>;
}

/// A blob being written. Dropping it unfinished discards what was written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, chunk: &[u8]) -> Result<()>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Stores the blob under its hash (or keeps the copy already stored) and returns it.
    async fn finish(self: Box<Self>) -> Result<Blob>;
}

/// Which backend keeps the blobs, with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobStoreConfig {
    /// A folder on local disk.
    Local {
        /// The folder (created, owner-only, if missing).
        dir: std::path::PathBuf,
    },
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// Opens the configured blob store. For S3 this lists the key prefix once, so a wrong
/// bucket, endpoint or credential stops the service at start rather than at the first upload.
pub async fn open_store(config: &BlobStoreConfig) -> Result<Arc<dyn BlobStore>> {
    Ok(match config {
        BlobStoreConfig::Local { dir } => Arc::new(LocalBlobs::open(dir.clone())?),
        BlobStoreConfig::S3(s3) => Arc::new(S3Blobs::open(s3).await?),
    })
}

/// Whether `name` can be a blob's name: 64 lowercase hex digits. Anything else (a path, an
/// uppercase hash) names no blob, so it can never reach the file system or a bucket.
fn is_blob_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The sharded relative location of a blob: `ab/cd/abcd…`.
fn sharded(sha256: &str) -> [&str; 3] {
    [&sha256[0..2], &sha256[2..4], sha256]
}

/// The byte range `open_range` serves, from a request and the blob's size: `None` when the
/// start is at or past the end (an empty read).
fn clamp_range(start: u64, end_inclusive: Option<u64>, total: u64) -> Result<Option<(u64, u64)>> {
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
struct ContentHash {
    hasher: sha2::Sha256,
    size: u64,
    interrupted: bool,
}

impl ContentHash {
    /// Call before storing a chunk; [`ContentHash::wrote`] once it is stored.
    fn begin_write(&mut self) -> Result<()> {
        if self.interrupted {
            return Err(Error::Internal(
                "blob store: a write to this blob failed; start it again".into(),
            ));
        }
        self.interrupted = true;
        Ok(())
    }

    fn wrote(&mut self, chunk: &[u8]) {
        use sha2::Digest;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.interrupted = false;
    }

    fn finish(&mut self) -> Result<Blob> {
        use sha2::Digest;
        self.begin_write()?;
        Ok(Blob {
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            size: self.size,
        })
    }
}

/// The size of the chunks `put_file` reads; large enough that hashing, not system calls,
/// dominates, small enough to keep memory flat.
const FILE_CHUNK: usize = 1024 * 1024;

/// Hashes a local file without blocking the runtime: its SHA-256 and size.
async fn hash_file(path: &Path) -> Result<Blob> {
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

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
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
        assert_eq!(hash.size, 11);
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
    }
}
