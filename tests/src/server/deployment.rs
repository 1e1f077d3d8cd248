//! The three deployments the end-to-end suite runs in, chosen by `ACCORD_TEST_DEPLOYMENT`,
//! and the environment each gives its nodes.

use anyhow::{Result, bail};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::scratch_db::ScratchDatabase;
use crate::shared_nodes::SharedNodes;

/// The harness-only variable that picks the deployment.
pub const DEPLOYMENT_VAR: &str = "ACCORD_TEST_DEPLOYMENT";

/// Put in a test's environment (`TestServer::start_with_env(&[ONE_PROCESS])`, or a world's
/// `new_with_env`) by tests that are about one process by nature: killing it, draining it,
/// restarting it on its folder, a proxy in front of its media port. They get one node on
/// SQLite whatever `ACCORD_TEST_DEPLOYMENT` says.
pub const ONE_PROCESS: (&str, &str) = (DEPLOYMENT_VAR, "sqlite");

/// Variables with which a test sets up its own storage or cluster; a test passing one gets
/// one process with exactly that, as if it had asked for [`ONE_PROCESS`].
const OWN_SETUP: [&str; 3] = [
    "ACCORD_DATA_DIR",
    "ACCORD_DATABASE_URL",
    "ACCORD_CLUSTER_REDIS_URL",
];

/// Where a [`crate::TestServer`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// One node, its database SQLite in its data folder (the default).
    Sqlite,
    /// One node on a fresh PostgreSQL database of its own.
    Postgres,
    /// Two nodes sharing a fresh PostgreSQL database, Redis (a fresh key prefix), one keys
    /// folder and one blob folder; each has a data folder of its own.
    Cluster,
}

impl Deployment {
    /// `ACCORD_TEST_DEPLOYMENT` of this process; `sqlite` when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(DEPLOYMENT_VAR) {
            Ok(value) => Self::parse(&value),
            Err(std::env::VarError::NotPresent) => Ok(Self::Sqlite),
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("{DEPLOYMENT_VAR} is not UTF-8: expected sqlite, postgres or cluster")
            }
        }
    }

    /// `sqlite`, `postgres` or `cluster`.
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim() {
            "" | "sqlite" => Ok(Self::Sqlite),
            "postgres" => Ok(Self::Postgres),
            "cluster" => Ok(Self::Cluster),
            other => {
                bail!("{DEPLOYMENT_VAR}={other:?}: expected sqlite, postgres or cluster")
            }
        }
    }

    /// The deployment for a server started with `extra_env`: the test's own choice
    /// ([`ONE_PROCESS`], or a setup of its own), else this process's.
    pub fn for_test(extra_env: &[(&str, &str)]) -> Result<Self> {
        if let Some((_, value)) = extra_env.iter().find(|(key, _)| *key == DEPLOYMENT_VAR) {
            return Self::parse(value);
        }
        if extra_env.iter().any(|(key, _)| OWN_SETUP.contains(key)) {
            return Ok(Self::Sqlite);
        }
        Self::from_env()
    }

    /// How many `accord` processes it runs.
    pub fn nodes(self) -> usize {
        match self {
            Self::Sqlite | Self::Postgres => 1,
            Self::Cluster => 2,
        }
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Cluster => "cluster",
        })
    }
}

pub use crate::shared_nodes::redis_url;

/// What a deployment's nodes share and what each has of its own.
pub(super) struct Layout {
    /// The scratch database the harness made (dropped when the server stops).
    pub(super) database: Option<ScratchDatabase>,
    /// The store's URL as a test would open it.
    pub(super) database_url: String,
    /// What [`crate::TestServer::data_dir`] answers.
    pub(super) data_dir: PathBuf,
    /// Each node's variables, before the test's own.
    pub(super) nodes: Vec<Vec<(String, String)>>,
}

/// Lays out `deployment` under `dir`. `own_data_dir`, `own_database_url`: the test's own
/// `ACCORD_DATA_DIR` and `ACCORD_DATABASE_URL`, if any. A test that names the deployment
/// ([`DEPLOYMENT_VAR`]) and brings its own PostgreSQL database (one it seeded before the
/// nodes start, or one a restarted deployment must find again after
/// `TestServer::kill_hard`) gets that database, which the harness then neither makes nor
/// drops. On one PostgreSQL node its own data folder is used as well; two nodes keep a data
/// folder each, so a cluster's shared keys and blobs come as `ACCORD_KEYS_DIR` and
/// `ACCORD_BLOBS_DIR`.
pub(super) async fn lay_out(
    deployment: Deployment,
    dir: &Path,
    own_data_dir: Option<&str>,
    own_database_url: Option<&str>,
) -> Result<Layout> {
    let var = |key: &str, value: &Path| (key.to_owned(), value.to_string_lossy().into_owned());
    match deployment {
        Deployment::Sqlite => {
            let data_dir = match own_data_dir {
                Some(own) => PathBuf::from(own),
                None => super::node::data_dir_in(dir, "node")?,
            };
            let database_url = own_database_url.map_or_else(
                || format!("sqlite://{}", data_dir.join("accord.db").display()),
                str::to_owned,
            );
            Ok(Layout {
                database: None,
                database_url,
                nodes: vec![vec![var("ACCORD_DATA_DIR", &data_dir)]],
                data_dir,
            })
        }
        Deployment::Postgres => {
            let data_dir = match own_data_dir {
                Some(own) => PathBuf::from(own),
                None => super::node::data_dir_in(dir, "node")?,
            };
            let (database, database_url) = database_for(own_database_url).await?;
            Ok(Layout {
                nodes: vec![vec![
                    var("ACCORD_DATA_DIR", &data_dir),
                    ("ACCORD_DATABASE_URL".into(), database_url.clone()),
                ]],
                database_url,
                database,
                data_dir,
            })
        }
        Deployment::Cluster => {
            // The keys and the blobs in one folder, as nodes share the mounted keys and S3;
            // laid out as one node's data folder holds them, so a test that looks for a key
            // or a blob under `data_dir()` finds it whatever the deployment.
            let shared = dir.join("shared");
            let mut cluster = SharedNodes::laid_out_as_data_dir("", &shared, "test");
            // Before the scratch database exists, so a failure here leaves none behind.
            std::fs::create_dir_all(&cluster.blobs)?;
            let (database, database_url) = database_for(own_database_url).await?;
            cluster.database_url.clone_from(&database_url);
            let mut nodes = Vec::new();
            for name in ["N_a", "N_b"] {
                let data = super::node::data_dir_in(dir, name)?;
                let mut env = vec![var("ACCORD_DATA_DIR", &data)];
                env.extend(
                    cluster
                        .node_env(name)
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value)),
                );
                nodes.push(env);
            }
            Ok(Layout {
                database_url,
                database,
                data_dir: shared,
                nodes,
            })
        }
    }
}

/// The test's own database, else a scratch one the harness makes (and later drops).
async fn database_for(own: Option<&str>) -> Result<(Option<ScratchDatabase>, String)> {
    match own {
        Some(url) => Ok((None, url.to_owned())),
        None => {
            let database = ScratchDatabase::create("accord_e2e").await?;
            let url = database.url.clone();
            Ok((Some(database), url))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Deployment::parse("").ok(), Some(Deployment::Sqlite));
        assert_eq!(
            Deployment::parse("postgres").ok(),
            Some(Deployment::Postgres)
        );
        assert_eq!(Deployment::parse("cluster").ok(), Some(Deployment::Cluster));
        assert!(Deployment::parse("mysql").is_err());
    }

    #[test]
    fn a_test_with_its_own_setup_is_one_process() {
        let own = [("ACCORD_DATA_DIR", "/tmp/x")];
        assert_eq!(Deployment::for_test(&own).ok(), Some(Deployment::Sqlite));
        assert_eq!(
            Deployment::for_test(&[ONE_PROCESS]).ok(),
            Some(Deployment::Sqlite)
        );
        assert_eq!(
            Deployment::for_test(&[(DEPLOYMENT_VAR, "cluster")]).ok(),
            Some(Deployment::Cluster)
        );
    }
}
