//! Blobs in a local directory.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::backend::{ContentHash, FILE_CHUNK, clamp_range, io_error, sharded};
use super::{Blob, BlobReader, BlobStore, BlobWriter};
use crate::error::{Error, Result};

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
        let Some(parts) = sharded(sha256) else {
            return Err(Error::NotFound("no blob has this name"));
        };
        Ok(parts
            .iter()
            .fold(self.root.clone(), |path, part| path.join(part)))
    }

    /// A new, unique file in the temporary area.
    fn temp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.part", crate::random_token(24)))
    }

    /// Moves a finished, synced temporary file to the blob's place, or removes it when the
    /// same content is already stored.
    async fn place(&self, temp: &Path, sha256: &str) -> Result<()> {
        let target = self.path_of(sha256)?;
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return tokio::fs::remove_file(temp)
                .await
                .map_err(|e| io_error("removing", temp, e));
        }
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
        tokio::fs::rename(temp, &target)
            .await
            .map_err(|e| io_error("storing", &target, e))
    }

    /// The blob's file, or `None` if there is none.
    async fn file_of(&self, sha256: &str) -> Result<Option<(tokio::fs::File, PathBuf)>> {
        let Ok(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Some((file, path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("opening", &path, e)),
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobs {
    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        let temp = self.temp_path();
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let file = options
            .open(&temp)
            .await
            .map_err(|e| io_error("creating", &temp, e))?;
        Ok(Box::new(LocalWriter {
            blobs: self.clone(),
            temp: TempFile(temp),
            file: Some(file),
            hash: ContentHash::default(),
        }))
    }

    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>> {
        Ok(self
            .file_of(sha256)
            .await?
            .map(|(file, _)| Box::pin(file) as BlobReader))
    }

    async fn open_range(
        &self,
        sha256: &str,
        start: u64,
        end_inclusive: Option<u64>,
    ) -> Result<Option<(BlobReader, u64)>> {
        let Some((mut file, path)) = self.file_of(sha256).await? else {
            return Ok(None);
        };
        let total = file
            .metadata()
            .await
            .map_err(|e| io_error("reading", &path, e))?
            .len();
        let Some((first, last)) = clamp_range(start, end_inclusive, total)? else {
            return Ok(Some((Box::pin(tokio::io::empty()), total)));
        };
        file.seek(std::io::SeekFrom::Start(first))
            .await
            .map_err(|e| io_error("seeking in", &path, e))?;
        Ok(Some((Box::pin(file.take(last - first + 1)), total)))
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        let Ok(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("reading", &path, e)),
        }
    }

    async fn put_file(&self, path: &Path) -> Result<Blob> {
        // A copy, not a hard link: a link would share the inode, so a later change to the
        // source (a tampered or rewritten recording folder) would change the stored blob too.
        let temp = TempFile(self.temp_path());
        let blob = {
            let (source, temp) = (path.to_owned(), temp.0.clone());
            tokio::task::spawn_blocking(move || copy_hashing(&source, &temp))
                .await
                .map_err(|e| Error::Internal(format!("blob store: copying a file: {e}")))??
        };
        self.place(&temp.0, &blob.sha256).await?;
        Ok(blob)
    }

    async fn delete(&self, sha256: &str) -> Result<bool> {
        let Ok(path) = self.path_of(sha256) else {
            return Ok(false);
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("deleting", &path, e)),
        }
    }
}

/// A temporary file, removed when dropped unless it was moved into place first (then the
/// removal finds nothing). Best effort: a leftover `.part` file is never read as a blob.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Copies `source` to a new owner-only file `temp`, hashing what it writes, and syncs it.
fn copy_hashing(source: &Path, temp: &Path) -> Result<Blob> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut from = std::fs::File::open(source).map_err(|e| io_error("opening", source, e))?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| io_error("creating", temp, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; FILE_CHUNK];
    let mut size = 0u64;
    loop {
        let read = from
            .read(&mut buffer)
            .map_err(|e| io_error("reading", source, e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        to.write_all(&buffer[..read])
            .map_err(|e| io_error("writing", temp, e))?;
        size += read as u64;
    }
    // On disk before it becomes visible: a crash must not leave a named blob whose content
    // does not match its name.
    to.sync_all().map_err(|e| io_error("syncing", temp, e))?;
    Ok(Blob {
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

struct LocalWriter {
    blobs: LocalBlobs,
    temp: TempFile,
    /// `None` once finished.
    file: Option<tokio::fs::File>,
    hash: ContentHash,
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::Internal("writing to a finished blob".into()));
        };
        self.hash.begin_write()?;
        file.write_all(chunk)
            .await
            .map_err(|e| io_error("writing", &self.temp.0, e))?;
        self.hash.wrote(chunk);
        Ok(())
    }

    fn written(&self) -> u64 {
        self.hash.size()
    }

    async fn finish(mut self: Box<Self>) -> Result<Blob> {
        let Some(mut file) = self.file.take() else {
            return Err(Error::Internal("finishing a blob twice".into()));
        };
        let temp = &self.temp.0;
        file.flush()
            .await
            .map_err(|e| io_error("writing", temp, e))?;
        // On disk before it becomes visible: a crash must not leave a named blob whose
        // content does not match its name.
        file.sync_all()
            .await
            .map_err(|e| io_error("syncing", temp, e))?;
        drop(file);
        let blob = self.hash.finish()?;
        self.blobs.place(temp, &blob.sha256).await?;
        Ok(blob)
    }
}

/// Folders only their owner may list or enter, created with any missing parents.
fn private_dirs() -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
