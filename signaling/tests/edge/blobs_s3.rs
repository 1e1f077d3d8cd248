//! The blob-store behaviour suite of `accord-cases` (`cases/tests/blobs/suite.rs`) on a real
//! S3-compatible server (moto, started on loopback), through the S3 client that lives here
//! at the edge. The local folder runs the same suite in `cases/tests/blobs.rs`.

#[path = "../../../cases/tests/blobs/moto.rs"]
mod moto;
#[path = "../../../cases/tests/blobs/suite.rs"]
mod suite;

use std::sync::Arc;

use accord_cases::blobs::S3Config;
use accord_signaling::storage::S3Blobs;
use futures_util::TryStreamExt;
use moto::MotoServer;
use object_store::path::Path as Key;
use suite::{Backend, Inside, Store};

const BUCKET: &str = "accord-test";

/// Stores under their own key prefixes in one bucket of one moto server.
struct Bucket {
    server: MotoServer,
}

/// A store's prefix in the bucket, looked at through the object API and moto's S3 API.
struct Prefix<'a> {
    s3: S3Blobs,
    prefix: String,
    server: &'a MotoServer,
}

#[async_trait::async_trait]
impl Backend for Bucket {
    async fn store(&self, name: &str) -> Store<'_> {
        let prefix = format!("suite/{name}");
        let config = S3Config {
            bucket: BUCKET.into(),
            endpoint: self.server.endpoint(),
            region: "us-east-1".into(),
            prefix: prefix.clone(),
            allow_http: true,
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        };
        let s3 = S3Blobs::open(&config).await.expect("the bucket answers");
        Store {
            blobs: Arc::new(s3.clone()),
            inside: Box::new(Prefix {
                s3,
                prefix,
                server: &self.server,
            }),
        }
    }
}

impl Prefix<'_> {
    /// Every object under `under`, each as `describe` names it.
    async fn list(&self, under: &str, describe: fn(&Key) -> String) -> Vec<String> {
        let under = Key::from(format!("{}/{under}", self.prefix));
        self.s3
            .object_store()
            .list(Some(&under))
            .map_ok(|meta| describe(&meta.location))
            .try_collect()
            .await
            .expect("listing the bucket")
    }
}

#[async_trait::async_trait]
impl Inside for Prefix<'_> {
    async fn blob_names(&self) -> Vec<String> {
        let mut names = self
            .list("blobs", |key| key.filename().unwrap_or_default().to_owned())
            .await;
        names.sort();
        names
    }

    async fn leftovers(&self) -> Vec<String> {
        let mut left = self.list("tmp", |key| key.to_string()).await;
        // Unfinished multipart uploads are not objects; only this request sees them.
        let (status, body) = self
            .server
            .request("GET", &format!("/{BUCKET}?uploads&prefix={}/", self.prefix))
            .await
            .expect("listing multipart uploads");
        assert_eq!(status, 200, "{body}");
        left.extend(
            body.split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Key>"))
                .map(|(key, _)| format!("unfinished upload to {key}")),
        );
        left
    }

    /// From the object's ETag: `"<md5>-<parts>"` after a multipart upload, a plain
    /// `"<md5>"` after one PUT.
    async fn upload_parts(&self, sha256: &str) -> Option<usize> {
        let key = self.s3.key_of(sha256).expect("a blob name");
        let meta = self
            .s3
            .object_store()
            .head(&key)
            .await
            .expect("the blob exists");
        let etag = meta.e_tag.expect("S3 gives every object an ETag");
        let parts = match etag.trim_matches('"').rsplit_once('-') {
            Some((_, parts)) => parts.parse().expect("a part count"),
            None => 1,
        };
        Some(parts)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_bucket_on_a_real_server_passes_the_blob_suite() {
    let Some(server) = MotoServer::start(BUCKET).await else {
        return;
    };
    suite::run_suite(&Bucket { server }).await;
}
