//! The blob store's backends that need a network client. The interface, the local folder and
//! the settings are the domain's ([`accord_cases::blobs`]); the S3 client ([`S3Blobs`], on
//! `object_store`) brings reqwest, hyper and tower, so it lives here at the edge, beside the
//! SMS gateway ([`crate::notify`]), and the domain crate carries no HTTP stack.

mod s3;

use std::sync::Arc;

use accord_cases::blobs::{BlobStore, BlobStoreConfig, LocalBlobs};

use crate::error::Result;

pub use s3::S3Blobs;

/// Opens the configured blob store. For S3 this lists the key prefix once, so a wrong
/// bucket, endpoint or credential stops the service at start rather than at the first upload.
pub async fn open_store(config: &BlobStoreConfig) -> Result<Arc<dyn BlobStore>> {
    Ok(match config {
        BlobStoreConfig::Local { dir } => Arc::new(LocalBlobs::open(dir.clone())?),
        BlobStoreConfig::S3(s3) => Arc::new(S3Blobs::open(s3).await?),
    })
}
