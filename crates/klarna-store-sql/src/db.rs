//! One thin layer over the two sqlx backends: bind values, run a statement, read plain cells.
//!
//! The store's logic is written once against [`Pool`] and [`Tx`]; only the statements that
//! differ (sequence numbers, `SKIP LOCKED`) are chosen per backend by the caller.
//!
//! Statements are [`SqlSafeStr`]: a `&'static str` literal, or a string the caller built from
//! its own identifiers and wrapped in [`sqlx::AssertSqlSafe`]; values are always bound.

use klarna_ports::{StoreError, Unique};
use sqlx::Row as _;
use sqlx::{SqlSafeStr, SqlStr};

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgArguments, PgPool, PgRow, Postgres};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{Sqlite, SqliteArguments, SqlitePool, SqliteRow};
#[cfg(feature = "sqlite")]
use std::sync::Arc;
#[cfg(feature = "sqlite")]
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Which database a store talks to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (one file, or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A value to bind.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    I64(i64),
    Text(String),
    OptText(Option<String>),
    Blob(Vec<u8>),
    Bool(bool),
}

/// The type of a column to read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Col {
    I64,
    Text,
    Blob,
}

/// A read row: one cell per requested column, in order.
pub(crate) type Cells = Vec<Val>;

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// The pool, and the gate its writers pass one at a time (see [`Pool::begin_write`]).
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool, Arc<Mutex<()>>),
    #[cfg(feature = "postgres")]
    Pg(PgPool),
}

/// An open write transaction. Dropping it without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub(crate) enum Tx {
    /// The transaction, and the write gate held until it ends.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, Sqlite>, OwnedMutexGuard<()>),
    #[cfg(feature = "postgres")]
    Pg(sqlx::Transaction<'static, Postgres>),
}

#[cfg(feature = "sqlite")]
fn bind_sqlite(sql: SqlStr, args: &[Val]) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Val::I64(v) => q.bind(*v),
            Val::Text(s) => q.bind(s.as_str()),
            Val::OptText(s) => q.bind(s.as_deref()),
            Val::Blob(b) => q.bind(b.as_slice()),
            Val::Bool(b) => q.bind(*b),
        };
    }
    q
}

#[cfg(feature = "postgres")]
fn bind_pg(sql: SqlStr, args: &[Val]) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Val::I64(v) => q.bind(*v),
            Val::Text(s) => q.bind(s.as_str()),
            Val::OptText(s) => q.bind(s.as_deref()),
            Val::Blob(b) => q.bind(b.as_slice()),
            Val::Bool(b) => q.bind(*b),
        };
    }
    q
}

#[cfg(feature = "sqlite")]
fn cells_sqlite(row: &SqliteRow, cols: &[Col]) -> Result<Cells, sqlx::Error> {
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c {
                Col::I64 => Val::I64(row.try_get(i)?),
                Col::Text => Val::Text(row.try_get(i)?),
                Col::Blob => Val::Blob(row.try_get(i)?),
            })
        })
        .collect()
}

#[cfg(feature = "postgres")]
fn cells_pg(row: &PgRow, cols: &[Col]) -> Result<Cells, sqlx::Error> {
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c {
                Col::I64 => Val::I64(row.try_get(i)?),
                Col::Text => Val::Text(row.try_get(i)?),
                Col::Blob => Val::Blob(row.try_get(i)?),
            })
        })
        .collect()
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(..) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Self::Pg(_) => Backend::Postgres,
        }
    }

    /// Runs a read outside any explicit transaction (SQLite WAL readers never wait for the
    /// writer; PostgreSQL reads the latest committed rows).
    pub(crate) async fn fetch(
        &self,
        sql: impl SqlSafeStr,
        args: &[Val],
        cols: &[Col],
    ) -> Result<Vec<Cells>, StoreError> {
        let sql = sql.into_sql_str();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p, _) => bind_sqlite(sql, args)
                .fetch_all(p)
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| cells_sqlite(r, cols).map_err(map_err))
                .collect(),
            #[cfg(feature = "postgres")]
            Self::Pg(p) => bind_pg(sql, args)
                .fetch_all(p)
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| cells_pg(r, cols).map_err(map_err))
                .collect(),
        }
    }

    /// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite (take the write lock up front,
    /// waiting up to the busy timeout, instead of failing at the first write with "database
    /// is locked"), a plain READ COMMITTED `BEGIN` on PostgreSQL.
    ///
    /// SQLite has one writer at a time, and a writer that finds the lock taken polls for it
    /// with growing sleeps (its busy handler), which wastes most of the time under
    /// contention. So the writers of one store first queue on an in-process gate, in order
    /// and without polling; the busy timeout is left to arbitrate between processes or pools.
    pub(crate) async fn begin_write(&self) -> Result<Tx, StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p, gate) => {
                let turn = Arc::clone(gate).lock_owned().await;
                let tx = p.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
                Ok(Tx::Sqlite(tx, turn))
            }
            #[cfg(feature = "postgres")]
            Self::Pg(p) => Ok(Tx::Pg(p.begin().await.map_err(map_err)?)),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p, _) => p.close().await,
            #[cfg(feature = "postgres")]
            Self::Pg(p) => p.close().await,
        }
    }
}

impl Tx {
    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn exec(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Val],
    ) -> Result<u64, StoreError> {
        let sql = sql.into_sql_str();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t, _) => Ok(bind_sqlite(sql, args)
                .execute(&mut **t)
                .await
                .map_err(map_err)?
                .rows_affected()),
            #[cfg(feature = "postgres")]
            Self::Pg(t) => Ok(bind_pg(sql, args)
                .execute(&mut **t)
                .await
                .map_err(map_err)?
                .rows_affected()),
        }
    }

    /// Runs a query inside the transaction.
    pub(crate) async fn fetch(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Val],
        cols: &[Col],
    ) -> Result<Vec<Cells>, StoreError> {
        let sql = sql.into_sql_str();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t, _) => bind_sqlite(sql, args)
                .fetch_all(&mut **t)
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| cells_sqlite(r, cols).map_err(map_err))
                .collect(),
            #[cfg(feature = "postgres")]
            Self::Pg(t) => bind_pg(sql, args)
                .fetch_all(&mut **t)
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| cells_pg(r, cols).map_err(map_err))
                .collect(),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            // The gate opens when the guard drops, after the commit or rollback.
            Self::Sqlite(t, _turn) => t.commit().await.map_err(map_err),
            #[cfg(feature = "postgres")]
            Self::Pg(t) => t.commit().await.map_err(map_err),
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t, _turn) => t.rollback().await.map_err(map_err),
            #[cfg(feature = "postgres")]
            Self::Pg(t) => t.rollback().await.map_err(map_err),
        }
    }

    /// Commits when `result` is `Ok`, rolls back otherwise, and returns `result`.
    pub(crate) async fn finish<T>(self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(v) => {
                self.commit().await?;
                Ok(v)
            }
            Err(e) => {
                // The refusal is the answer; a failed rollback only means the connection is
                // gone, and the database discards the open transaction by itself then.
                if let Err(rb) = self.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

/// Which unique constraint a constraint name (PostgreSQL) or message (SQLite:
/// `UNIQUE constraint failed: payments.order_id`) names.
fn unique_from(name: &str) -> Option<Unique> {
    if name.contains("auth_token_hash") {
        Some(Unique::AuthorizationToken)
    } else if name.contains("idempotency_keys") {
        Some(Unique::IdempotencyKey)
    } else if name.contains("customer_tokens") {
        Some(Unique::CustomerToken)
    } else if name.contains("managed_orders")
        || name.contains("payments.order_id")
        || name.contains("payments_order_id")
    {
        Some(Unique::OrderId)
    } else if name.contains("payments.id") || name.contains("payments_pkey") {
        Some(Unique::PaymentId)
    } else {
        None
    }
}

/// Maps a sqlx error into the port's error: unique violations name their constraint, cells
/// of the wrong type are corruption, the rest is a backend failure.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let name = db.constraint().unwrap_or_else(|| db.message());
        if let Some(u) = unique_from(name) {
            return StoreError::Duplicate(u);
        }
    }
    match e {
        sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
            id: format!("(column {index})"),
            reason: source.to_string(),
        },
        other => StoreError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_constraint_of_both_backends() {
        let cases = [
            ("UNIQUE constraint failed: payments.id", Unique::PaymentId),
            ("payments_pkey", Unique::PaymentId),
            (
                "UNIQUE constraint failed: payments.order_id",
                Unique::OrderId,
            ),
            ("payments_order_id_key", Unique::OrderId),
            (
                "UNIQUE constraint failed: managed_orders.order_id",
                Unique::OrderId,
            ),
            ("managed_orders_pkey", Unique::OrderId),
            (
                "UNIQUE constraint failed: payments.auth_token_hash",
                Unique::AuthorizationToken,
            ),
            ("payments_auth_token_hash_key", Unique::AuthorizationToken),
            (
                "UNIQUE constraint failed: idempotency_keys.key",
                Unique::IdempotencyKey,
            ),
            ("idempotency_keys_pkey", Unique::IdempotencyKey),
            (
                "UNIQUE constraint failed: customer_tokens.lookup_hash",
                Unique::CustomerToken,
            ),
            ("customer_tokens_pkey", Unique::CustomerToken),
        ];
        for (name, want) in cases {
            assert_eq!(unique_from(name), Some(want), "{name}");
        }
        assert_eq!(unique_from("something_else"), None);
    }
}
