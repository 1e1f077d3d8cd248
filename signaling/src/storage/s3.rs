//! Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, OSS and COS in S3 mode), through
//! the `object_store` crate.
//!
//! Keys mirror the local layout under an optional prefix: `<prefix>/blobs/ab/cd/abcd…`. A
//! writer does not know its key until the last byte, so a blob larger than one part streams
//! to `<prefix>/tmp/<random>.part` as a multipart upload, is copied to its key once hashed,
//! and the temporary object is deleted; a blob that fits in one part is sent with one PUT
//! straight to its key. A file already on disk is hashed first and uploaded to its key
//! directly. Memory stays bounded: one part buffered plus `PARTS_IN_FLIGHT` uploading.
//!
//! A process killed mid-upload can leave a temporary object or an unfinished multipart
//! upload behind; a bucket lifecycle rule on `<prefix>/tmp/` and on incomplete multipart
//! uploads (a day is plenty) cleans those up. Server-side copy is one request, which S3
//! limits to 5 GiB: larger blobs must come through [`BlobStore::put_file`].

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

use accord_cases::blobs::backend::{
    ContentHash, FILE_CHUNK, clamp_range, hash_file, io_error, sharded,
};
use accord_cases::blobs::{Blob, BlobReader, BlobStore, BlobWriter, S3Config};
// The `BlobStore` interface speaks the domain's error, so the backend does too.
use accord_cases::{Error, Result};

/// The size of each part of a multipart upload. S3 wants at least 5 MiB for every part
/// but the last; 8 MiB keeps a 2-hour recording well under S3's 10,000-part limit.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts one upload sends at a time; with the part being filled, this bounds a writer's
/// memory to (1 + this) × `PART_SIZE`.
const PARTS_IN_FLIGHT: usize = 2;

/// Blobs in an S3 bucket. See the module docs.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    /// The configured prefix; blobs live under `<root>/blobs`, temporary objects under
    /// `<root>/tmp`.
    root: Key,
    bucket: String,
}

impl std::fmt::Debug for S3Blobs {
    // By hand: the client's own Debug would print its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket)
            .field("prefix", &self.root.as_ref())
            .finish()
    }
}

impl S3Blobs {
    /// Connects to the bucket and lists the prefix once, so a wrong bucket, endpoint or
    /// credential is reported now rather than at the first upload.
    pub async fn open(config: &S3Config) -> Result<Self> {
        let region = if config.region.is_empty() {
            "us-east-1"
        } else {
            config.region.as_str()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(region)
            .with_allow_http(config.allow_http);
        if !config.endpoint.is_empty() {
            builder = builder.with_endpoint(&config.endpoint);
        }
        if !config.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&config.access_key_id)
                .with_secret_access_key(&config.secret_access_key);
        }
        let store = builder
            .build()
            .map_err(|e| Error::Internal(format!("blob store: configuring S3: {e}")))?;
        let root = Key::parse(config.prefix.trim_matches('/')).map_err(|e| {
            Error::Internal(format!(
                "blob store: the S3 prefix {:?} is not a key prefix: {e}",
                config.prefix
            ))
        })?;
        let blobs = Self {
            store: Arc::new(store),
            root,
            bucket: config.bucket.clone(),
        };
        let probe = (!blobs.root.as_ref().is_empty()).then_some(&blobs.root);
        blobs.store.list_with_delimiter(probe).await.map_err(|e| {
            Error::Internal(format!(
                "blob store: cannot list bucket {:?}: {e}",
                blobs.bucket
            ))
        })?;
        Ok(blobs)
    }

    /// The object key of the blob with this hash (`<prefix>/blobs/ab/cd/abcd…`).
    pub fn key_of(&self, sha256: &str) -> Result<Key> {
        let Some(parts) = sharded(sha256) else {
            return Err(Error::NotFound("no blob has this name"));
        };
        Ok(parts
            .into_iter()
            .fold(self.root.child("blobs"), |key, part| key.child(part)))
    }

    /// The store the blobs are kept in, for inspection (tests, maintenance tools).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn temp_key(&self) -> Key {
        self.root
            .child("tmp")
            .child(format!("{}.part", accord_cases::random_token(24)))
    }

    /// The object's size, or `None` when there is no such object.
    async fn head(&self, key: &Key) -> Result<Option<u64>> {
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error("reading", key, e)),
        }
    }

    async fn put(&self, key: &Key, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(key, bytes.into())
            .await
            .map(drop)
            .map_err(|e| s3_error("storing", key, e))
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Blobs {
    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(S3Writer {
            blobs: self.clone(),
            pending: Vec::new(),
            upload: None,
            hash: ContentHash::default(),
        }))
    }

    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>> {
        let Ok(key) = self.key_of(sha256) else {
            return Ok(None);
        };
        match self.store.get(&key).await {
            Ok(result) => Ok(Some(reader_of(result))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error("reading", &key, e)),
        }
    }

    async fn open_range(
        &self,
        sha256: &str,
        start: u64,
        end_inclusive: Option<u64>,
    ) -> Result<Option<(BlobReader, u64)>> {
        let Ok(key) = self.key_of(sha256) else {
            return Ok(None);
        };
        // The size is not known before the request; this only refuses a reversed range.
        clamp_range(start, end_inclusive, u64::MAX)?;
        let range = match end_inclusive {
            Some(end) => Some(GetRange::Bounded(start..end.saturating_add(1))),
            None if start > 0 => Some(GetRange::Offset(start)),
            None => None,
        };
        let options = GetOptions {
            range,
            ..GetOptions::default()
        };
        match self.store.get_opts(&key, options).await {
            Ok(result) => {
                let total = result.meta.size;
                Ok(Some((reader_of(result), total)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // S3 refuses a range that starts past the end (416); that is an empty read of a
            // blob that exists, which only its size can tell from a real failure.
            Err(e) => match self.head(&key).await? {
                None => Ok(None),
                Some(total) if start >= total => Ok(Some((Box::pin(tokio::io::empty()), total))),
                Some(_) => Err(s3_error("reading", &key, e)),
            },
        }
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        match self.key_of(sha256) {
            Ok(key) => self.head(&key).await,
            Err(_) => Ok(None),
        }
    }

    async fn put_file(&self, path: &std::path::Path) -> Result<Blob> {
        let expected = hash_file(path).await?;
        let key = self.key_of(&expected.sha256)?;
        if self.head(&key).await?.is_some() {
            return Ok(expected);
        }
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| io_error("opening", path, e))?;
        let mut sink = if expected.size <= PART_SIZE as u64 {
            // One part or less: one PUT, no multipart bookkeeping.
            Sink::OnePut(Vec::new())
        } else {
            Sink::Multipart(Multipart::start(&self.store, &key).await?)
        };
        let mut hash = ContentHash::default();
        let mut buffer = vec![0; FILE_CHUNK];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(|e| io_error("reading", path, e))?;
            if read == 0 {
                break;
            }
            let chunk = &buffer[..read];
            hash.wrote(chunk);
            match &mut sink {
                Sink::OnePut(bytes) if bytes.len() + read <= PART_SIZE => {
                    bytes.extend_from_slice(chunk);
                }
                // The file grew past one part since it was hashed: the hashes will differ.
                Sink::OnePut(_) => break,
                Sink::Multipart(upload) => upload.write(chunk).await?,
            }
        }
        if hash.finish()? != expected {
            // Dropping the upload aborts it: nothing is stored under a name that lies.
            return Err(Error::Conflict(format!(
                "{} changed while it was being stored",
                path.display()
            )));
        }
        match sink {
            Sink::OnePut(bytes) => self.put(&key, bytes).await?,
            Sink::Multipart(upload) => upload.complete(&key).await?,
        }
        Ok(expected)
    }

    async fn delete(&self, sha256: &str) -> Result<bool> {
        let Ok(key) = self.key_of(sha256) else {
            return Ok(false);
        };
        // S3 answers a delete the same whether or not the object existed.
        if self.head(&key).await?.is_none() {
            return Ok(false);
        }
        self.store
            .delete(&key)
            .await
            .map_err(|e| s3_error("deleting", &key, e))?;
        Ok(true)
    }
}

/// Where `put_file` sends a file's bytes.
enum Sink {
    OnePut(Vec<u8>),
    Multipart(Multipart),
}

/// A blob being written to S3. See the module docs.
struct S3Writer {
    blobs: S3Blobs,
    /// Bytes of a blob that still fits in one part.
    pending: Vec<u8>,
    /// Once the blob outgrows one part: its multipart upload to a temporary key.
    upload: Option<(Key, Multipart)>,
    hash: ContentHash,
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hash.begin_write()?;
        if let Some((_, upload)) = self.upload.as_mut() {
            upload.write(chunk).await?;
        } else if self.pending.len() + chunk.len() <= PART_SIZE {
            self.pending.extend_from_slice(chunk);
        } else {
            let temp = self.blobs.temp_key();
            let mut upload = Multipart::start(&self.blobs.store, &temp).await?;
            upload.write(&std::mem::take(&mut self.pending)).await?;
            upload.write(chunk).await?;
            self.upload = Some((temp, upload));
        }
        self.hash.wrote(chunk);
        Ok(())
    }

    fn written(&self) -> u64 {
        self.hash.size()
    }

    async fn finish(mut self: Box<Self>) -> Result<Blob> {
        let blob = self.hash.finish()?;
        let blobs = &self.blobs;
        let key = blobs.key_of(&blob.sha256)?;
        let Some((temp, upload)) = self.upload.take() else {
            if blobs.head(&key).await?.is_none() {
                blobs.put(&key, std::mem::take(&mut self.pending)).await?;
            }
            return Ok(blob);
        };
        upload.complete(&temp).await?;
        let copied = match blobs.head(&key).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => blobs
                .store
                .copy(&temp, &key)
                .await
                .map_err(|e| s3_error("storing", &key, e)),
            Err(e) => Err(e),
        };
        let removed = blobs
            .store
            .delete(&temp)
            .await
            .map_err(|e| s3_error("deleting", &temp, e));
        copied.and(removed).map(|()| blob)
    }
}

/// A multipart upload that is aborted when dropped before it completes, so an abandoned
/// upload does not leave parts in the bucket.
struct Multipart(Option<WriteMultipart>);

impl Multipart {
    async fn start(store: &Arc<dyn ObjectStore>, key: &Key) -> Result<Self> {
        let upload = store
            .put_multipart(key)
            .await
            .map_err(|e| s3_error("starting an upload to", key, e))?;
        Ok(Self(Some(WriteMultipart::new_with_chunk_size(
            upload, PART_SIZE,
        ))))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(upload) = self.0.as_mut() else {
            return Err(Error::Internal(
                "blob store: writing a finished upload".into(),
            ));
        };
        // Back-pressure: wait for a part to finish rather than buffer without bound.
        upload
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| Error::Internal(format!("blob store: uploading a part: {e}")))?;
        upload.write(bytes);
        Ok(())
    }

    async fn complete(mut self, key: &Key) -> Result<()> {
        let Some(upload) = self.0.take() else {
            return Err(Error::Internal(
                "blob store: finishing an upload twice".into(),
            ));
        };
        upload
            .finish()
            .await
            .map(drop)
            .map_err(|e| s3_error("finishing the upload to", key, e))
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        let Some(upload) = self.0.take() else {
            return;
        };
        // Best effort, in the background: Drop cannot wait, and without a runtime there is
        // nothing to send the abort with (the lifecycle rule then cleans up).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "blob store: aborting an abandoned S3 upload");
                }
            });
        }
    }
}

/// An object's content as an [`tokio::io::AsyncRead`].
fn reader_of(result: GetResult) -> BlobReader {
    Box::pin(StreamReader {
        stream: result.into_stream(),
        current: bytes::Bytes::new(),
    })
}

/// Reads a stream of byte chunks as one byte stream.
struct StreamReader {
    stream: futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl tokio::io::AsyncRead for StreamReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while self.current.is_empty() {
            match self.stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.current = chunk,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(std::io::Error::other(e))),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let take = buf.remaining().min(self.current.len());
        let chunk = self.current.split_to(take);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

fn s3_error(what: &str, key: &Key, e: object_store::Error) -> Error {
    Error::Internal(format!("blob store: {what} S3 key {key}: {e}"))
}
