//! The case store: organisations, staff, cases, parties, sessions, evidence and the audit
//! trail, on SQLite (the embedded default) or PostgreSQL.
//!
//! One implementation serves both databases through sqlx's `Any` driver: the queries are
//! written once in the SQL both accept (`$1` parameters, `RETURNING`, `ON CONFLICT`), and
//! times are Unix milliseconds so both return the same values. What differs lives in the
//! two migration sets (`migrations/sqlite`, `migrations/postgres`) and in [`Backend`].
//! Writing every query twice would have doubled the code and its tests for no gain.
//!
//! Every change is made in one transaction together with its audit entry.

mod agreement_comments;
mod agreement_drafts;
mod agreement_history;
mod agreement_seal;
mod agreement_signing;
mod agreement_signing_identity;
pub mod agreement_signing_model;
mod agreement_signing_signers;
mod agreement_templates;
mod agreements;
mod audit;
mod cases;
mod confirmation;
mod confirmation_decisions;
mod confirmation_outbox;
mod evidence;
mod identity_proofs;
mod intake;
mod keys;
pub mod model;
mod parties;
mod people;
mod recording_model;
mod recording_review;
mod recording_segments;
mod recordings;
mod session_record;
mod sessions;
mod staff_auth;
mod vocabulary;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::any::AnyRow;

pub use agreement_signing_model::{
    ESignable, FreeWillAnswer, FreeWillView, IdentityMethod, IdentityProof, IdentityView,
    IssuedOtp, NewFreeWill, PublicSigner, PublicStatus, SealKey, SealOutcome, SealView,
    SignRequest, SignatureRecord, SignerRef, SignerRole, SignerStatus, SignerView,
};
pub use audit::{AuditReport, GENESIS};
pub use cases::{ChinaTime, china_time};
pub use intake::{IntakeFile, NewIntake, StatusStep, Submitted, looks_like_tracking_code};
pub use keys::{StoreKeys, mask_id_number, mask_phone};
pub use recording_model::DEFAULT_RETENTION_DAYS;
pub use recordings::FinishedRecording;
pub use session_record::{CONSENT_VERSION, next_seq};
pub use staff_auth::{Refreshed, SigningKey};

use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file next to the binary's data (or in memory, for tests).
    Sqlite,
    /// A shared server, for production and several nodes.
    Postgres,
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::BadRequest(format!(
                "the database URL must start with sqlite: or postgres://, not `{}`",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// Row lock for read-then-write in a transaction. SQLite needs none: its pool has one
    /// connection, so transactions never interleave.
    fn lock_row(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// See the module docs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    keys: StoreKeys,
}

impl Store {
    /// Connects to `url`, creating an SQLite file if there is none, and applies migrations.
    pub async fn open(url: &str, keys: StoreKeys) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        if backend == Backend::Sqlite {
            restrict_sqlite_files(url)?;
        }
        let (url, connections) = match backend {
            // One connection: SQLite allows one writer, and a second connection's deferred
            // transaction would fail to upgrade to a write rather than wait.
            Backend::Sqlite => (sqlite_url(url), 1),
            Backend::Postgres => (url.to_owned(), 10),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await
            .map_err(|e| Error::Internal(format!("cannot open the database: {e}")))?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let store = Self {
            pool,
            backend,
            keys,
        };
        store.seed_record_seq().await?;
        let sealed = store.seal_clear_phones().await?;
        if sealed > 0 {
            tracing::info!(parties = sealed, "sealed the phones stored in clear");
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for tests that inspect raw rows.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The row `sql` selects with `$1` bound to `key`, or [`Error::NotFound`] saying
    /// `missing`: every fetch of one record by its id or code.
    async fn one(&self, sql: &str, key: &str, missing: &'static str) -> Result<AnyRow> {
        sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound(missing))
    }

    async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite files are created on first run (`mode=rwc`) unless the URL says otherwise.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The database holds personal data: its file, and the WAL and shared-memory files SQLite
/// makes beside it, are for the server's user only. SQLite gives the WAL and `-shm` files
/// the mode of the database file, so creating that one 0600 (before SQLite creates it with
/// the umask's 0644) covers all three; files an older version made are narrowed here.
fn restrict_sqlite_files(url: &str) -> Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    let io = |e: std::io::Error| Error::Internal(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.clone().into_os_string();
            name.push(suffix);
            let file = std::path::PathBuf::from(name);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
    }
    Ok(())
}

/// The file an `sqlite:` URL names, or `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A new record id: a type prefix and 16 random characters, as whichever id type the
/// record's field has ([`crate::ids`]).
pub fn new_id<Id: From<String>>(prefix: &str) -> Id {
    Id::from(format!("{prefix}_{}", crate::random_token(16)))
}
