//! The blob store: files (evidence, powers of attorney, later recordings and packages) kept
//! by the SHA-256 of their content.
//!
//! One interface, [`BlobStore`], so an object store can stand in for the local directory
//! ([`LocalBlobs`]) without callers changing. Writing goes through a [`BlobWriter`] that
//! hashes while the bytes stream in; only [`BlobWriter::finish`] makes a blob visible, so a
//! dropped upload (a client that went away, a file refused half-way) leaves nothing behind.
//! The same content stored twice is kept once.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::error::{Error, Result};

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

/// Blobs in a local directory, sharded by the first two byte pairs of the hash
/// (`ab/cd/abcd…`) so no directory grows too large to list.
#[derive(Clone, Debug)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Blobs under `root` (created, with its temporary area, if missing). Blobs are
    /// evidence and recordings of people's disputes: their folders are the owner's alone
    /// (0700) and each file is created 0600.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        private_dirs()
            .create(root.join("tmp"))
            .map_err(|e| Error::Internal(format!("creating {}: {e}", root.display())))?;
        Ok(Self { root })
    }

    /// Where the blob with this hash is (or would be) kept.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(Error::NotFound("no blob has this name"));
        }
        Ok(self
            .root
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobs {
    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        let temp = self
            .root
            .join("tmp")
            .join(format!("{}.part", crate::random_token(24)));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let file = options
            .open(&temp)
            .await
            .map_err(|e| io_error("creating", &temp, e))?;
        Ok(Box::new(LocalWriter {
            blobs: self.clone(),
            temp: Some(temp),
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
        }))
    }

    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>> {
        let path = match self.path_of(sha256) {
            Ok(path) => path,
            Err(_) => return Ok(None),
        };
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Some(Box::pin(file))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("opening", &path, e)),
        }
    }
}

struct LocalWriter {
    blobs: LocalBlobs,
    /// `None` once finished: nothing left to clean up.
    temp: Option<PathBuf>,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    size: u64,
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let (Some(file), Some(temp)) = (self.file.as_mut(), self.temp.as_ref()) else {
            return Err(Error::Internal("writing to a finished blob".into()));
        };
        file.write_all(chunk)
            .await
            .map_err(|e| io_error("writing", temp, e))?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.size
    }

    async fn finish(mut self: Box<Self>) -> Result<Blob> {
        let (Some(mut file), Some(temp)) = (self.file.take(), self.temp.clone()) else {
            return Err(Error::Internal("finishing a blob twice".into()));
        };
        file.flush()
            .await
            .map_err(|e| io_error("writing", &temp, e))?;
        // On disk before it becomes visible: a crash must not leave a named blob whose
        // content does not match its name.
        file.sync_all()
            .await
            .map_err(|e| io_error("syncing", &temp, e))?;
        drop(file);
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let target = self.blobs.path_of(&sha256)?;
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            // Already stored: the temporary copy is removed on drop.
        } else {
            if let Some(dir) = target.parent() {
                let dir = dir.to_owned();
                tokio::task::spawn_blocking({
                    let dir = dir.clone();
                    move || private_dirs().create(dir)
                })
                .await
                .map_err(|e| Error::Internal(format!("blob store: creating a folder: {e}")))?
                .map_err(|e| io_error("creating", &dir, e))?;
            }
            tokio::fs::rename(&temp, &target)
                .await
                .map_err(|e| io_error("storing", &target, e))?;
            self.temp = None;
        }
        Ok(Blob {
            sha256,
            size: self.size,
        })
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            // Best effort: a leftover `.part` file is harmless and never read as a blob.
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Folders only their owner may list or enter, created with any missing parents.
fn private_dirs() -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("blob store: {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn temp_root() -> PathBuf {
        std::env::temp_dir().join(format!("accord-blobs-{}", crate::random_token(12)))
    }

    async fn put(blobs: &LocalBlobs, parts: &[&[u8]]) -> Result<Blob> {
        let mut writer = blobs.writer().await?;
        for part in parts {
            writer.write(part).await?;
        }
        writer.finish().await
    }

    #[tokio::test]
    async fn stores_by_hash_in_shards_and_reads_back() -> Result<()> {
        let root = temp_root();
        let blobs = LocalBlobs::open(&root)?;
        let blob = put(&blobs, &[b"hello ", b"world"]).await?;
        assert_eq!(
            blob.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(blob.size, 11);
        assert!(root.join("b9/4d").join(&blob.sha256).is_file());
        let mut content = Vec::new();
        let Some(mut reader) = blobs.open(&blob.sha256).await? else {
            panic!("the blob just stored is missing");
        };
        reader
            .read_to_end(&mut content)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        assert_eq!(content, b"hello world");
        let _ = std::fs::remove_dir_all(root);
        Ok(())
    }

    #[tokio::test]
    async fn blobs_and_their_folders_are_the_owners_alone() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let root = temp_root();
        let blobs = LocalBlobs::open(&root)?;
        let blob = put(&blobs, &[b"a photo of the damaged wall"]).await?;
        let mode = |path: &Path| -> Result<u32> {
            Ok(std::fs::metadata(path)
                .map_err(|e| Error::Internal(e.to_string()))?
                .permissions()
                .mode()
                & 0o777)
        };
        assert_eq!(mode(&blobs.path_of(&blob.sha256)?)?, 0o600);
        let shard = root.join(&blob.sha256[0..2]);
        for folder in [
            &root,
            &root.join("tmp"),
            &shard,
            &shard.join(&blob.sha256[2..4]),
        ] {
            assert_eq!(mode(folder)?, 0o700, "{}", folder.display());
        }
        let _ = std::fs::remove_dir_all(root);
        Ok(())
    }

    #[tokio::test]
    async fn same_content_is_kept_once_and_dropped_writes_leave_nothing() -> Result<()> {
        let root = temp_root();
        let blobs = LocalBlobs::open(&root)?;
        let first = put(&blobs, &[b"evidence"]).await?;
        let second = put(&blobs, &[b"evi", b"dence"]).await?;
        assert_eq!(first, second);
        let mut abandoned = blobs.writer().await?;
        abandoned.write(b"half a photo").await?;
        drop(abandoned);
        let leftovers = std::fs::read_dir(root.join("tmp"))
            .map_err(|e| Error::Internal(e.to_string()))?
            .count();
        assert_eq!(leftovers, 0);
        assert!(blobs.open(&"0".repeat(64)).await?.is_none());
        assert!(blobs.open("../../etc/passwd").await?.is_none());
        let _ = std::fs::remove_dir_all(root);
        Ok(())
    }
}
