//! Test support: fresh SQLite files and fresh PostgreSQL schemas, each owned by a `TestStore`.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of this module"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failed setup fails the test"
)]

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use klarna_domain::{
    AnyPayment, CustomerToken, CustomerTokenId, ManagedOrder, OrderId, PaymentId, SessionId, Span,
    StageKind, Timestamp,
};
use klarna_ports::{Alongside, InstallationId, PaymentStore, StoreError, Versioned};
use klarna_store_sql::{SqlStore, SqlStoreOptions, StoreKey};

/// What a test database must clean up when the store is dropped.
#[derive(Debug)]
enum Guard {
    /// The temporary directory holding the SQLite file (removed on drop).
    Dir(tempfile::TempDir),
    /// The PostgreSQL schema to drop, and the server URL.
    Schema { url: String, schema: String },
}

/// A fresh store and the database it owns; delegates every call to the [`SqlStore`].
#[derive(Debug)]
pub struct TestStore {
    pub store: SqlStore,
    pub key: StoreKey,
    guard: Guard,
}

impl TestStore {
    /// The SQLite file (for tests that read its bytes or open it beside the store).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.guard {
            Guard::Dir(d) => Some(d.path().join("store.db")),
            Guard::Schema { .. } => None,
        }
    }

    /// The URL another pool can use to reach the same database.
    pub fn url(&self) -> String {
        match &self.guard {
            Guard::Dir(d) => sqlite_url(&d.path().join("store.db")),
            Guard::Schema { url, .. } => url.clone(),
        }
    }

    /// The PostgreSQL schema, if any.
    pub fn schema(&self) -> Option<&str> {
        match &self.guard {
            Guard::Schema { schema, .. } => Some(schema),
            Guard::Dir(_) => None,
        }
    }

    /// Another store (its own pool) on the same database and key.
    pub async fn another(&self) -> SqlStore {
        let mut o = SqlStoreOptions::new(self.url(), self.key.clone());
        if let Some(s) = self.schema() {
            o = o.pg_schema(s);
        }
        o.connect().await.unwrap()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Guard::Schema { url, schema } = &self.guard {
            let (url, schema) = (url.clone(), schema.clone());
            // Drop can't await: clean up on a thread with its own runtime.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    use sqlx::Connection as _;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS {schema} CASCADE"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            });
            let _ = done.join();
        }
    }
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A migrated store on a fresh SQLite file in its own temporary directory.
pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let store = SqlStore::connect(&sqlite_url(&dir.path().join("store.db")), key.clone())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    TestStore {
        store,
        key,
        guard: Guard::Dir(dir),
    }
}

/// The PostgreSQL server to test against: `DATABASE_URL`. Unset: fails when
/// `KLARNA_TEST_REQUIRE_POSTGRES=1` or `CI` is set, otherwise prints why and returns `None`.
pub fn pg_url() -> Option<String> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let required = std::env::var("KLARNA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some();
    assert!(
        !required,
        "DATABASE_URL is not set but PostgreSQL tests are required (CI or KLARNA_TEST_REQUIRE_POSTGRES=1)"
    );
    eprintln!("SKIPPED: PostgreSQL test (set DATABASE_URL=postgres://user@host:port/db to run it)");
    None
}

/// A migrated store in a fresh schema on the `DATABASE_URL` server, or `None` (skip).
pub async fn pg_store() -> Option<TestStore> {
    use sqlx::Connection as _;

    let url = pg_url()?;
    let schema = format!("klarna_t_{:016x}", rand::random::<u64>());
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    let key = StoreKey::generate();
    let store = SqlStoreOptions::new(url.clone(), key.clone())
        .pg_schema(&schema)
        .connect()
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(TestStore {
        store,
        key,
        guard: Guard::Schema { url, schema },
    })
}

#[async_trait]
impl PaymentStore for TestStore {
    async fn insert_payment(&self, payment: &AnyPayment) -> Result<u64, StoreError> {
        self.store.insert_payment(payment).await
    }
    async fn load_payment(
        &self,
        id: &PaymentId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.store.load_payment(id).await
    }
    async fn update_payment(
        &self,
        expected: u64,
        payment: &AnyPayment,
        also: &Alongside,
    ) -> Result<u64, StoreError> {
        self.store.update_payment(expected, payment, also).await
    }
    async fn find_payment_by_order(
        &self,
        order: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.store.find_payment_by_order(order).await
    }
    async fn find_payment_by_session(
        &self,
        session: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.store.find_payment_by_session(session).await
    }
    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.store.list_payments(limit).await
    }
    async fn list_payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.store.list_payments_in_stage(kind, limit).await
    }
    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.store.claim_in_doubt_payments(now, lease, limit).await
    }
    async fn insert_customer_token(&self, token: &CustomerToken) -> Result<u64, StoreError> {
        self.store.insert_customer_token(token).await
    }
    async fn load_customer_token(
        &self,
        id: &CustomerTokenId,
    ) -> Result<Option<Versioned<CustomerToken>>, StoreError> {
        self.store.load_customer_token(id).await
    }
    async fn update_customer_token(
        &self,
        expected: u64,
        token: &CustomerToken,
    ) -> Result<u64, StoreError> {
        self.store.update_customer_token(expected, token).await
    }
    async fn insert_order(&self, order: &ManagedOrder) -> Result<u64, StoreError> {
        self.store.insert_order(order).await
    }
    async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<Versioned<ManagedOrder>>, StoreError> {
        self.store.load_order(id).await
    }
    async fn update_order(&self, expected: u64, order: &ManagedOrder) -> Result<u64, StoreError> {
        self.store.update_order(expected, order).await
    }
    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError> {
        self.store.claim_in_doubt_orders(now, lease, limit).await
    }
    async fn claim_fraud_reviews(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.store.claim_fraud_reviews(now, lease, limit).await
    }
    async fn installation_id(&self) -> Result<InstallationId, StoreError> {
        self.store.installation_id().await
    }
}

/// Runs raw SQL on the store's database from a separate connection (to plant corruption).
pub async fn raw_exec(ts: &TestStore, sql: &'static str) -> u64 {
    use sqlx::Connection as _;
    match ts.schema() {
        None => {
            let mut c = sqlx::SqliteConnection::connect(&ts.url()).await.unwrap();
            let n = sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
            n.rows_affected()
        }
        Some(schema) => {
            let mut c = sqlx::PgConnection::connect(&ts.url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
                .execute(&mut c)
                .await
                .unwrap();
            let n = sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
            n.rows_affected()
        }
    }
}
