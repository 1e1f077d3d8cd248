//! Which backend keeps the blobs, as plain settings: the domain says what is configured, the
//! binary's edge opens it (`accord_signaling::storage::open_store`).

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

/// Where the bucket is and how to reach it; also the `[blobs.s3]` section of the service's
/// configuration file, hence `Deserialize`.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// The bucket, which must exist.
    pub bucket: String,
    /// The service's URL (`http://127.0.0.1:9000`, `https://oss-cn-hangzhou.aliyuncs.com`);
    /// empty: AWS for the region.
    pub endpoint: String,
    /// The region; empty: `us-east-1`, which most S3-compatible services accept.
    pub region: String,
    /// Key prefix under which everything is kept (`accord/prod`); empty: the bucket's root.
    pub prefix: String,
    /// Allows an `http://` endpoint (a server on loopback or a private network).
    pub allow_http: bool,
    /// Access key id, best set through the environment (`ACCORD_S3_ACCESS_KEY_ID`); empty:
    /// the default AWS credential chain (instance role, web identity).
    pub access_key_id: String,
    /// Secret access key: set it through the environment (`ACCORD_S3_SECRET_ACCESS_KEY`),
    /// not in a file under version control. Never logged: [`std::fmt::Debug`] leaves it out.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .field("credentials", &(!self.access_key_id.is_empty()))
            .finish()
    }
}
