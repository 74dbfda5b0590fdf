//! Connecting: the options builder, URL parsing, SQLite pragmas, pool sizes, migrations.

use std::fmt;
use std::time::Duration;

use crate::db::Pool;
use crate::key::{Crypto, StoreKey};
use crate::store::SqlStore;

/// How hard SQLite flushes a commit to disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=FULL` (the default): every commit is fsynced before it returns, so a
    /// commit that returned survives power loss. Use it when "never lose an order Klarna
    /// created" matters (it does).
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits survive a crash of the application, but the last ones
    /// may roll back after power loss or an OS crash. Faster; an explicit opt-in.
    Normal,
}

/// A store failed to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlStoreError {
    /// The URL is neither `sqlite:` nor `postgres://`/`postgresql://`.
    #[error("unsupported database URL scheme {0:?}: use sqlite:... or postgres://...")]
    UnsupportedUrl(String),
    /// The URL names a backend whose feature is off.
    #[error("the {0} backend is not compiled in: enable the `{0}` feature of klarna-store-sql")]
    BackendDisabled(&'static str),
    /// The URL or an option does not parse.
    #[error("invalid option {field}: {reason}")]
    InvalidOption {
        /// What is wrong where.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The database could not be reached or opened. Retry later or fix the URL.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// Applying the schema failed.
    #[error("migration failed: {0}")]
    Migrate(String),
}

/// Options for [`SqlStore`]: URL, key, pool size, SQLite durability, PostgreSQL schema.
///
/// ```no_run
/// # async fn demo() -> Result<(), klarna_store_sql::SqlStoreError> {
/// use klarna_store_sql::{SqlStoreOptions, StoreKey};
/// let store = SqlStoreOptions::new("sqlite://payments.db?mode=rwc", StoreKey::generate())
///     .max_connections(4)
///     .connect()
///     .await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlStoreOptions {
    url: String,
    key: StoreKey,
    max_connections: Option<u32>,
    synchronous: Synchronous,
    busy_timeout: Duration,
    pg_schema: Option<String>,
}

impl fmt::Debug for SqlStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: show its scheme only.
        f.debug_struct("SqlStoreOptions")
            .field("scheme", &scheme(&self.url))
            .field("key", &self.key)
            .field("max_connections", &self.max_connections)
            .field("synchronous", &self.synchronous)
            .field("busy_timeout", &self.busy_timeout)
            .field("pg_schema", &self.pg_schema)
            .finish()
    }
}

fn scheme(url: &str) -> &str {
    url.split_once(':').map_or("", |(s, _)| s)
}

#[cfg(any(feature = "sqlite", test))]
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl SqlStoreOptions {
    /// Options for `url`:
    /// - `sqlite://path/to/file.db?mode=rwc` (create if missing), `sqlite:path.db`;
    /// - `sqlite::memory:`: one private in-memory database. Each pooled connection to a memory
    ///   URL would be its own database, so the pool is forced to one connection, kept open for
    ///   the life of the store (nothing survives it);
    /// - `postgres://user:pass@host:port/db` (also `postgresql://`).
    #[must_use]
    pub fn new(url: impl Into<String>, key: StoreKey) -> Self {
        Self {
            url: url.into(),
            key,
            max_connections: None,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            pg_schema: None,
        }
    }

    /// Pool size (default 4 for SQLite files, 10 for PostgreSQL; always 1 for SQLite memory).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n.max(1));
        self
    }

    /// SQLite durability (default [`Synchronous::Full`]).
    #[must_use]
    pub fn synchronous(mut self, s: Synchronous) -> Self {
        self.synchronous = s;
        self
    }

    /// How long a SQLite writer waits for the write lock before "database is locked"
    /// (default 5 s).
    #[must_use]
    pub fn busy_timeout(mut self, t: Duration) -> Self {
        self.busy_timeout = t;
        self
    }

    /// PostgreSQL: keep the tables in this schema (sets `search_path` on every connection),
    /// so several stores can share one database. Letters, digits and `_` only. The schema
    /// must exist.
    #[must_use]
    pub fn pg_schema(mut self, schema: impl Into<String>) -> Self {
        self.pg_schema = Some(schema.into());
        self
    }

    /// Opens the pool (SQLite: WAL, the chosen `synchronous`, busy timeout, foreign keys).
    /// Call [`SqlStore::migrate`] before first use.
    ///
    /// # Errors
    /// [`SqlStoreError`] when the URL does not parse, its backend is not compiled in, or
    /// the database cannot be reached.
    pub async fn connect(self) -> Result<SqlStore, SqlStoreError> {
        let crypto = Crypto::new(&self.key).map_err(|reason| SqlStoreError::InvalidOption {
            field: "key",
            reason,
        })?;
        let pool = match scheme(&self.url) {
            "sqlite" => self.connect_sqlite().await?,
            "postgres" | "postgresql" => self.connect_pg().await?,
            other => return Err(SqlStoreError::UnsupportedUrl(other.to_owned())),
        };
        Ok(SqlStore::from_parts(pool, crypto))
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(&self) -> Result<Pool, SqlStoreError> {
        use std::str::FromStr as _;

        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };

        let memory = is_memory(&self.url);
        let mut opts = SqliteConnectOptions::from_str(&self.url)
            .map_err(|e| SqlStoreError::InvalidOption {
                field: "url",
                reason: e.to_string(),
            })?
            .synchronous(match self.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true);
        if !memory {
            opts = opts.journal_mode(SqliteJournalMode::Wal);
        }
        let pool = if memory {
            // Each connection to a memory URL is its own database: one connection, never
            // closed for idleness or age, or the data would vanish.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(self.max_connections.unwrap_or(4))
        }
        .connect_with(opts)
        .await
        .map_err(|e| SqlStoreError::Connect(e.to_string()))?;
        Ok(Pool::Sqlite(
            pool,
            std::sync::Arc::new(tokio::sync::Mutex::new(())),
        ))
    }

    #[cfg(not(feature = "sqlite"))]
    #[allow(clippy::unused_async, reason = "same shape as the enabled variant")]
    async fn connect_sqlite(&self) -> Result<Pool, SqlStoreError> {
        Err(SqlStoreError::BackendDisabled("sqlite"))
    }

    #[cfg(feature = "postgres")]
    async fn connect_pg(&self) -> Result<Pool, SqlStoreError> {
        use std::str::FromStr as _;

        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

        let mut opts =
            PgConnectOptions::from_str(&self.url).map_err(|e| SqlStoreError::InvalidOption {
                field: "url",
                reason: e.to_string(),
            })?;
        if let Some(schema) = &self.pg_schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(SqlStoreError::InvalidOption {
                    field: "pg_schema",
                    reason: "use letters, digits and _ only".to_owned(),
                });
            }
            opts = opts.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections.unwrap_or(10))
            .connect_with(opts)
            .await
            .map_err(|e| SqlStoreError::Connect(e.to_string()))?;
        Ok(Pool::Pg(pool))
    }

    #[cfg(not(feature = "postgres"))]
    #[allow(clippy::unused_async, reason = "same shape as the enabled variant")]
    async fn connect_pg(&self) -> Result<Pool, SqlStoreError> {
        Err(SqlStoreError::BackendDisabled("postgres"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_url_credentials_and_key() {
        let o = SqlStoreOptions::new("postgres://u:hunter2@h/db", StoreKey::generate());
        let d = format!("{o:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("postgres") && d.contains("REDACTED"), "{d}");
    }

    #[test]
    fn recognises_memory_urls() {
        assert!(is_memory("sqlite::memory:"));
        assert!(is_memory("sqlite://x.db?mode=memory"));
        assert!(!is_memory("sqlite://x.db?mode=rwc"));
    }
}
