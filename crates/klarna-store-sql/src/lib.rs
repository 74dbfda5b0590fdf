//! SQL store adapter for the Klarna toolkit: SQLite (embedded default) and PostgreSQL.
//!
//! [`SqlStore`] implements [`klarna_ports::PaymentStore`] on either database and passes the
//! ports' store contract suite on both. Features: `sqlite` (default) and `postgres`; both may
//! be on, and the URL picks the backend at run time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use klarna_store_sql::{SqlStore, StoreKey};
//! let key = StoreKey::from_env("KLARNA_STORE_KEY")?; // 64 hex digits, kept out of the DB
//! let store = SqlStore::connect("sqlite://payments.db?mode=rwc", key).await?;
//! store.migrate().await?; // once at start-up
//! # Ok(()) }
//! ```
//!
//! # Schema
//! Migrations are embedded (`migrations/sqlite`, `migrations/postgres`) and applied by
//! [`SqlStore::migrate`]. Both backends have the same tables and columns:
//!
//! | table | columns |
//! |---|---|
//! | `payments` | `id` PK, `version`, `stage` (indexed with `created_seq`, for stage queries), `snapshot` (encrypted), `order_id` UNIQUE NULL, `auth_token_hash` UNIQUE NULL, `pending_key`, `session_id` (indexed), `has_pending`, `claimed_until` (ms, the in-doubt claims' lease and the pending operation's fence), `fraud_claimed_until` (ms, the fraud-review polls' lease; partial index on stage `FraudReview`), `created_seq` |
//! | `managed_orders` | `order_id` PK, `version`, `data` (JSON), `pending_key`, `has_pending`, `claimed_until`, `created_seq` |
//! | `customer_tokens` | `lookup_hash` PK, `version`, `token_enc` (encrypted token), `data` (JSON: origin, market, status, created) |
//! | `idempotency_keys` | `key` PK, `owner` (`payment:<id>` or `order:<id>`): the keys of pending operations, unique across payments and orders |
//! | `klarna_meta` | `id` PK (always 1), `installation_id` (16 random bytes: the default namespace of idempotency keys, made on first use by insert-if-absent and kept) |
//!
//! Migrations are never edited once shipped; a change is a new file in both folders.
//! A managed order's `data` written before `op_seq` existed loads with the next operation
//! number at 2^20 plus its recorded captures and refunds, never 0, so it cannot re-mint a key
//! already used.
//!
//! # Consistency
//! - Every change is a compare-and-set: `UPDATE … SET version = version + 1 … WHERE id = ?
//!   AND version = ?`; no row changed means [`klarna_ports::StoreError::VersionConflict`]
//!   (or `NotFound` when the row is missing).
//! - A payment update, its idempotency key and its [`klarna_ports::Alongside`] records are one
//!   transaction. Unique violations come back as
//!   [`klarna_ports::StoreError::Duplicate`] naming the constraint.
//! - Transactions span their own statements only; encryption happens before they begin.
//! - SQLite: WAL, `synchronous=FULL` (opt into `NORMAL` with [`Synchronous::Normal`]),
//!   busy timeout 5 s, foreign keys on, and every write transaction starts with
//!   `BEGIN IMMEDIATE`, so writers queue on the busy timeout instead of failing with
//!   "database is locked". Writers of one store also queue on an in-process gate first, so
//!   they wait in order instead of polling SQLite's busy handler. `sqlite::memory:` uses
//!   exactly one connection (each connection would otherwise be its own database).
//! - PostgreSQL: READ COMMITTED plus compare-and-set; claims lease rows with
//!   `FOR UPDATE SKIP LOCKED`, so several instances can reconcile one database. Instances
//!   starting at once agree on the installation id: `INSERT … ON CONFLICT DO NOTHING` waits
//!   for the winner's commit, and the loser reads the winner's row.
//!
//! # Secrets at rest
//! A [`StoreKey`] (32 bytes, kept outside the database) derives an AES-256-GCM key and an
//! HMAC-SHA256 key. The payment snapshot (client token, authorization token, customer
//! tokens) and the customer token itself are encrypted, bound to their row; the
//! authorization token and customer token are looked up by keyed hash. A database dump
//! alone shows ids, stages, amounts and Klarna order ids, never a token.
//!
//! Loading rebuilds values through the domain's constructors; a row that does not decrypt,
//! parse or validate is a [`klarna_ports::StoreError::Corrupt`], never a panic.

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("klarna-store-sql: enable at least one of the features `sqlite` and `postgres`");

mod codec;
mod db;
mod key;
mod options;
mod store;

pub use db::Backend;
pub use key::{KeyError, StoreKey};
pub use options::{SqlStoreError, SqlStoreOptions, Synchronous};
pub use store::SqlStore;
