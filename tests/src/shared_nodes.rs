//! What the `accord serve` nodes of one test cluster share: one database, one keys folder (as
//! nodes share the mounted keys), one blob folder (as they share S3) and one Redis under a
//! key prefix of the test's own, so nothing else in that Redis is touched and what the nodes
//! leave expires with their leases.

use std::path::{Path, PathBuf};

/// `ACCORD_TEST_REDIS_URL`, default the Redis on 127.0.0.1.
pub fn redis_url() -> String {
    std::env::var("ACCORD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The shared part of every node's environment; each node adds its id and its own extras.
#[derive(Debug, Clone)]
pub struct SharedNodes {
    /// `ACCORD_DATABASE_URL`: one PostgreSQL database for every node.
    pub database_url: String,
    /// `ACCORD_KEYS_DIR`: where the token secret and the signing keys live.
    pub keys: PathBuf,
    /// `ACCORD_BLOBS_DIR`: evidence and recording pieces.
    pub blobs: PathBuf,
    /// `ACCORD_CLUSTER_REDIS_URL`.
    pub redis_url: String,
    /// `ACCORD_CLUSTER_PREFIX`: this test's own corner of the Redis.
    pub prefix: String,
    /// Further variables every node gets (a short lease, a short resume grace, ...).
    pub every_node: Vec<(&'static str, String)>,
}

impl SharedNodes {
    /// Keys in `shared_dir/keys`, blobs in `shared_dir/blobs`, the Redis of [`redis_url`] and
    /// a fresh prefix `accord-<prefix_tag>-<hex>`.
    pub fn new(database_url: &str, shared_dir: &Path, prefix_tag: &str) -> Self {
        Self::with_dirs(
            database_url,
            shared_dir.join("keys"),
            shared_dir.join("blobs"),
            prefix_tag,
        )
    }

    /// Like [`SharedNodes::new`], but with keys straight in `shared_dir` and blobs in
    /// `shared_dir/blobs`, as one node's data folder holds them: a test that looks for a key
    /// or a blob under a data folder finds it whether it runs on one node or several.
    pub fn laid_out_as_data_dir(database_url: &str, shared_dir: &Path, prefix_tag: &str) -> Self {
        Self::with_dirs(
            database_url,
            shared_dir.to_path_buf(),
            shared_dir.join("blobs"),
            prefix_tag,
        )
    }

    fn with_dirs(database_url: &str, keys: PathBuf, blobs: PathBuf, prefix_tag: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            keys,
            blobs,
            redis_url: redis_url(),
            prefix: format!("accord-{prefix_tag}-{:016x}", rand::random::<u64>()),
            every_node: Vec::new(),
        }
    }

    /// The same nodes on another Redis (the load tool takes its Redis from its command line).
    pub fn with_redis_url(mut self, redis_url: &str) -> Self {
        redis_url.clone_into(&mut self.redis_url);
        self
    }

    /// The same nodes with a lease of `seconds` (`ACCORD_CLUSTER_LEASE_SECONDS`): a test that
    /// kills a node wants the others to notice within seconds.
    pub fn with_lease_seconds(self, seconds: u32) -> Self {
        self.with_var("ACCORD_CLUSTER_LEASE_SECONDS", &seconds.to_string())
    }

    /// The same nodes with `key=value` on every one of them.
    pub fn with_var(mut self, key: &'static str, value: &str) -> Self {
        self.every_node.push((key, value.to_owned()));
        self
    }

    /// The variables node `node_id` starts with; the caller pushes what only this node gets
    /// (listen addresses, the token secret of the first node).
    pub fn node_env(&self, node_id: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("ACCORD_DATABASE_URL", self.database_url.clone()),
            ("ACCORD_KEYS_DIR", self.keys.to_string_lossy().into_owned()),
            (
                "ACCORD_BLOBS_DIR",
                self.blobs.to_string_lossy().into_owned(),
            ),
            ("ACCORD_CLUSTER_REDIS_URL", self.redis_url.clone()),
            ("ACCORD_CLUSTER_PREFIX", self.prefix.clone()),
            ("ACCORD_CLUSTER_NODE_ID", node_id.to_owned()),
        ];
        env.extend(self.every_node.iter().cloned());
        env
    }
}

/// An owned environment as the `(&str, &str)` pairs [`crate::TestServer`] starts with.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_shares_all_but_its_id() {
        let shared =
            SharedNodes::new("postgres://db", Path::new("/tmp/s"), "test").with_lease_seconds(3);
        let a = shared.node_env("N_a");
        let b = shared.node_env("N_b");
        let differ: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).collect();
        assert_eq!(differ.len(), 1);
        assert_eq!(differ[0].0.0, "ACCORD_CLUSTER_NODE_ID");
        assert!(shared.prefix.starts_with("accord-test-"));
        let refs = env_refs(&a);
        assert!(refs.contains(&("ACCORD_KEYS_DIR", "/tmp/s/keys")));
        assert!(refs.contains(&("ACCORD_CLUSTER_LEASE_SECONDS", "3")));
    }

    #[test]
    fn a_data_folder_layout_keeps_the_keys_at_its_root() {
        let shared = SharedNodes::laid_out_as_data_dir("sqlite://x", Path::new("/tmp/d"), "t")
            .with_redis_url("redis://elsewhere:1");
        assert_eq!(shared.keys, Path::new("/tmp/d"));
        assert_eq!(shared.blobs, Path::new("/tmp/d/blobs"));
        assert_eq!(shared.redis_url, "redis://elsewhere:1");
        let env = shared.node_env("N_a");
        assert!(
            env.iter()
                .all(|(k, _)| *k != "ACCORD_CLUSTER_LEASE_SECONDS")
        );
    }
}
