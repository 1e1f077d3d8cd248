//! A PostgreSQL database of a test's own on the local server (`ACCORD_TEST_POSTGRES_URL`,
//! default the `test` database on 127.0.0.1), created empty and dropped when the test is done:
//! a server under test migrates it as it would a production database.

use anyhow::{Context, Result, bail};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// See the module docs.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    /// Its `postgres://` URL.
    pub url: String,
}

// By name only: the URLs may carry the server's password.
impl std::fmt::Debug for ScratchDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScratchDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScratchDatabase {
    /// Its name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates `<prefix>_<random>` on the server.
    pub async fn create(prefix: &str) -> Result<Self> {
        let admin =
            std::env::var("ACCORD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let name = format!("{prefix}_{:016x}", rand::random::<u64>());
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .with_context(|| format!("PostgreSQL at {admin} is needed for this test"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await?;
        pool.close().await;
        let Some((server, _database)) = admin.split('?').next().and_then(|u| u.rsplit_once('/'))
        else {
            bail!("ACCORD_TEST_POSTGRES_URL names no database: {admin}");
        };
        let url = format!("{server}/{name}");
        Ok(Self { admin, name, url })
    }

    /// Drops it, closing whatever connections are left.
    pub async fn drop(self) -> Result<()> {
        let pool = sqlx::PgPool::connect(&self.admin).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&pool)
        .await?;
        pool.close().await;
        Ok(())
    }

    /// Drops it from code that cannot wait (a `Drop` of a failed test's server): on a thread
    /// with a runtime of its own, waited for up to 10 s so the test process does not end
    /// before it is done.
    pub fn drop_detached(self) {
        let name = self.name.clone();
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async {
                    tokio::time::timeout(std::time::Duration::from_secs(10), self.drop()).await
                }),
                Err(err) => Ok(Err(err.into())),
            }
        });
        match dropping.join() {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => eprintln!("could not drop the test database {name}: {err:#}"),
            Ok(Err(_)) => eprintln!("dropping the test database {name} took over 10 s"),
            Err(_) => eprintln!("dropping the test database {name} panicked"),
        }
    }
}
