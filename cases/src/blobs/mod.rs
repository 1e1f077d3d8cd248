//! The blob store: files (evidence, powers of attorney, recordings and packages) kept by the
//! SHA-256 of their content.
//!
//! One interface, [`BlobStore`], with two backends: a local directory ([`LocalBlobs`], the
//! default) and S3-compatible object storage. [`BlobStoreConfig`] says which one the service
//! uses. The S3 client is not here: it brings an HTTP stack (reqwest, hyper, tower) that the
//! domain crate does not depend on, so it lives at the edge (`accord_signaling::storage`,
//! beside the SMS gateway), which also opens the configured store. Every backend keeps a
//! blob under a key derived from its hash (`ab/cd/abcd…`, see [`backend`]), so the same
//! content stored twice is kept once.
//!
//! Writing goes through a [`BlobWriter`] that hashes while the bytes stream in; only
//! [`BlobWriter::finish`] makes a blob visible, so a dropped upload (a client that went away,
//! a file refused half-way) leaves nothing behind. A finished file on local disk (a recorded
//! track) is stored with [`BlobStore::put_file`]. Reads are whole ([`BlobStore::open`]) or by
//! byte range ([`BlobStore::open_range`], for HTTP range requests on recordings).

pub mod backend;
mod config;
mod local;

use std::path::Path;
use std::pin::Pin;

use tokio::io::AsyncRead;

use crate::error::Result;

pub use config::{BlobStoreConfig, S3Config};
pub use local::LocalBlobs;

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
    /// before `start` is [`Error::BadRequest`](crate::error::Error::BadRequest).
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
