//! podpass's persistent store: roles, policies, OIDC providers, clusters, ServiceAccounts,
//! Secrets and ConfigMaps, keys and S3 bucket policies.
//!
//! One code path over sqlx's `Any` driver with a portable schema (TEXT, BIGINT epoch seconds, BLOB),
//! SQLite embedded by default, PostgreSQL for replicated deployments.

mod cluster;
mod eks;
mod iam;
mod iam_extra;
mod keys;
mod objects;
mod records;
mod resources;
mod s3;
mod users;

pub use records::*;

use std::borrow::Cow;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// Errors of the store, distinguishing what callers turn into API errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed entity does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// An entity with the same identity exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The entity is still referenced (attached policies, inline policies, ...).
    #[error("{0}")]
    Conflict(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// A stored JSON column could not be decoded: the store was written by something else.
    #[error("corrupt stored value in {column}: {source}")]
    Corrupt {
        /// Column that failed to decode.
        column: &'static str,
        /// Decoder error.
        source: serde_json::Error,
    },
    /// A stored column holds a value this version does not know.
    #[error("unknown stored value in {column}: {value}")]
    UnknownValue {
        /// The column.
        column: &'static str,
        /// Its value.
        value: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The schema, in SQL both databases run, except for the name of the byte-string type.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "identity",
        include_str!("../migrations/0001_identity.sql"),
    ),
    (
        2,
        "pod identity",
        include_str!("../migrations/0002_pod_identity.sql"),
    ),
    (
        3,
        "bucket policies",
        include_str!("../migrations/0003_bucket_policies.sql"),
    ),
    (
        4,
        "registered clusters",
        include_str!("../migrations/0004_registered_clusters.sql"),
    ),
    (
        5,
        "cluster objects",
        include_str!("../migrations/0005_cluster_objects.sql"),
    ),
    (
        6,
        "token review",
        include_str!("../migrations/0006_token_review.sql"),
    ),
    (
        7,
        "users and groups",
        include_str!("../migrations/0007_users_groups.sql"),
    ),
    (
        8,
        "cluster resources",
        include_str!("../migrations/0008_cluster_resources.sql"),
    ),
];

/// The databases the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// A migration's SQL for this database: PostgreSQL spells BLOB `BYTEA`.
    fn dialect(self, sql: &'static str) -> Cow<'static, str> {
        match self {
            Backend::Sqlite => Cow::Borrowed(sql),
            Backend::Postgres => Cow::Owned(sql.replace("BLOB", "BYTEA")),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    ///
    /// `url` is a sqlx URL such as `sqlite:///var/lib/podpass/podpass.db?mode=rwc` or
    /// `postgres://podpass@db.internal/podpass`.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url);
        // SQLite serialises writers anyway; a small pool avoids "database is locked" storms.
        // Against PostgreSQL each replica holds at most this many connections.
        let mut options = AnyPoolOptions::new().max_connections(8);
        if backend == Backend::Sqlite {
            // `synchronous` is per connection: FULL syncs the WAL at every commit, so a commit
            // that returned survives power loss, not only the death of the process.
            options = options.after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(connection)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        let store = Self { pool, backend };
        if backend == Backend::Sqlite {
            store.use_wal().await?;
        }
        store.migrate().await?;
        Ok(store)
    }

    /// Puts an SQLite database in WAL mode (persistent in the file): readers (the CLI, other
    /// connections) no longer wait for the writer, and the writer not for them. A commit is
    /// atomic under `kill -9` in either journal mode. An in-memory database stays `memory`.
    async fn use_wal(&self) -> Result<()> {
        // Answers the mode now in force: `wal`, or `memory` for an in-memory database.
        sqlx::query("PRAGMA journal_mode = WAL")
            .fetch_all(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite's journal mode (lowercase, `wal` once the store opened the file) and the
    /// `synchronous` level of a pooled connection (2 is FULL); `None` on PostgreSQL.
    pub async fn sqlite_durability(&self) -> Result<Option<(String, i64)>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let mut connection = self.pool.acquire().await?;
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut *connection)
            .await?;
        let (synchronous,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await?;
        Ok(Some((mode.to_ascii_lowercase(), synchronous)))
    }

    /// Opens the SQLite database file at `path`, creating it if missing.
    pub async fn open_sqlite_file(path: &std::path::Path) -> Result<Self> {
        Self::open(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    async fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    // Our own migration text, not input.
                    AssertSqlSafe(self.backend.dialect(sql)).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads a key of the instance's metadata (account id, instance settings).
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Writes a key of the instance's metadata.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Maps a unique-constraint violation to `AlreadyExists(what)`, anything else to `Db`.
fn unique_violation(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists(what()),
        _ => StoreError::Db(err),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain records of strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

fn from_json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt { column, source })
}
