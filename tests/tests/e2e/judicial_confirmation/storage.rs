//! Where a world's data lives in the deployment under test (`ACCORD_TEST_DEPLOYMENT`): made
//! before any node starts, so the store can be seeded through it, and owned by the world
//! rather than the harness, so a deployment killed with SIGKILL starts again on the same
//! database, keys and blobs.
//!
//! - `sqlite`: one data folder (database, keys, blobs), one node.
//! - `postgres`: a fresh PostgreSQL database and one data folder (keys, blobs), one node.
//! - `cluster`: a fresh PostgreSQL database and one folder of keys and blobs that both nodes
//!   share (as they share the mounted keys and S3); each node keeps a data folder of its own,
//!   which the harness makes.

use std::path::{Path, PathBuf};

use accord_tests::Deployment;
use accord_tests::scratch_db::ScratchDatabase;
use accord_tests::server::DEPLOYMENT_VAR;
use anyhow::{Context, Result};

/// See the module docs.
pub struct Storage {
    deployment: Deployment,
    /// The single node's data folder; `None` on two nodes.
    data_dir: Option<PathBuf>,
    /// The keys (PII, audit, platform signing) every node loads.
    keys_dir: PathBuf,
    /// What command-line tools (`accord audit verify`) use as their data folder.
    tool_dir: PathBuf,
    database: Option<ScratchDatabase>,
    database_url: String,
}

impl Storage {
    /// Lays the storage out under `root` for this process's deployment.
    pub async fn create(root: &Path) -> Result<Storage> {
        let deployment = Deployment::from_env()?;
        let made = |dir: PathBuf| -> Result<PathBuf> {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(dir)
        };
        let storage = match deployment {
            Deployment::Sqlite => {
                let data_dir = made(root.join("data"))?;
                Storage {
                    deployment,
                    database_url: format!("sqlite://{}", data_dir.join("accord.db").display()),
                    keys_dir: data_dir.clone(),
                    tool_dir: data_dir.clone(),
                    data_dir: Some(data_dir),
                    database: None,
                }
            }
            Deployment::Postgres => {
                let data_dir = made(root.join("data"))?;
                let database = ScratchDatabase::create("accord_e2e_jc").await?;
                Storage {
                    deployment,
                    database_url: database.url.clone(),
                    keys_dir: data_dir.clone(),
                    tool_dir: data_dir.clone(),
                    data_dir: Some(data_dir),
                    database: Some(database),
                }
            }
            Deployment::Cluster => {
                let shared = made(root.join("shared"))?;
                made(shared.join("blobs"))?;
                let database = ScratchDatabase::create("accord_e2e_jc").await?;
                Storage {
                    deployment,
                    database_url: database.url.clone(),
                    keys_dir: shared,
                    tool_dir: made(root.join("tool"))?,
                    data_dir: None,
                    database: Some(database),
                }
            }
        };
        Ok(storage)
    }

    /// The deployment it is laid out for.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The store's URL, to seed it.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The folder of keys every node loads.
    pub fn keys_dir(&self) -> &Path {
        &self.keys_dir
    }

    /// The binary's variables that point it at this storage.
    fn binary_env(&self) -> Vec<(&'static str, String)> {
        let path = |p: &Path| p.display().to_string();
        let mut env = Vec::new();
        if let Some(data_dir) = &self.data_dir {
            env.push(("ACCORD_DATA_DIR", path(data_dir)));
        }
        if self.database.is_some() {
            env.push(("ACCORD_DATABASE_URL", self.database_url.clone()));
        }
        if self.data_dir.is_none() {
            env.push(("ACCORD_KEYS_DIR", path(&self.keys_dir)));
            env.push(("ACCORD_BLOBS_DIR", path(&self.keys_dir.join("blobs"))));
        }
        env
    }

    /// What `TestServer::start_with_args` is given: the deployment, named (a storage of the
    /// test's own would otherwise mean one process), and where its data is.
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![(DEPLOYMENT_VAR, self.deployment.to_string())];
        env.extend(self.binary_env());
        env
    }

    /// The variables of a command-line tool run against it.
    pub fn tool_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.binary_env();
        if self.data_dir.is_none() {
            env.push(("ACCORD_DATA_DIR", self.tool_dir.display().to_string()));
        }
        env
    }

    /// Drops the database (kept with `ACCORD_TEST_KEEP`), at the end of a passing test.
    pub async fn remove(mut self) -> Result<()> {
        match self.database.take() {
            Some(database) if std::env::var_os("ACCORD_TEST_KEEP").is_none() => {
                database.drop().await
            }
            Some(database) => {
                eprintln!("kept the test database {}", database.name());
                Ok(())
            }
            None => Ok(()),
        }
    }
}

// A failed test drops its world without `remove`: the database goes all the same, or a
// failing suite would pile them up on the server.
impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(database) = self.database.take() {
            if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
                database.drop_detached();
            } else {
                eprintln!("kept the test database {}", database.name());
            }
        }
    }
}
