//! `SqlStore`: the `PaymentStore` port over SQLite or PostgreSQL, every change a compare-and-set.

use std::fmt;

use async_trait::async_trait;
use klarna_domain::{
    AnyPayment, CustomerToken, CustomerTokenId, ManagedOrder, OrderId, PaymentId, SessionId, Span,
    StageKind, Timestamp,
};
use klarna_ports::{Alongside, InstallationId, PaymentStore, StoreError, Versioned};
use sqlx::AssertSqlSafe;

use crate::codec::{
    OrderRow, PaymentRow, TokenRow, corrupt, order_from_row, order_owner, order_row,
    payment_from_row, payment_owner, payment_row, stage_cell, token_from_row, token_lookup,
    token_row,
};
use crate::db::{Backend, Cells, Col, Pool, Tx, Val};
use crate::key::{Crypto, StoreKey};
use crate::options::{SqlStoreError, SqlStoreOptions};

#[cfg(feature = "sqlite")]
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
#[cfg(feature = "postgres")]
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A durable [`PaymentStore`] on SQLite or PostgreSQL. See the crate docs for the schema.
///
/// Cheap to clone (the pool is shared). Construct with [`SqlStore::connect`] or
/// [`SqlStoreOptions`], then call [`SqlStore::migrate`] once at start-up.
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
    crypto: Crypto,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.pool.backend())
            .finish_non_exhaustive()
    }
}

const PAYMENT_COLS: &[Col] = &[Col::Text, Col::I64, Col::Blob];
const ORDER_COLS: &[Col] = &[Col::Text, Col::I64, Col::Text];
const TOKEN_COLS: &[Col] = &[Col::Text, Col::I64, Col::Blob, Col::Text];

fn text(v: Option<Val>) -> Result<String, StoreError> {
    match v {
        Some(Val::Text(s)) => Ok(s),
        _ => Err(corrupt("(row)", "expected a text cell")),
    }
}

fn blob(v: Option<Val>) -> Result<Vec<u8>, StoreError> {
    match v {
        Some(Val::Blob(b)) => Ok(b),
        _ => Err(corrupt("(row)", "expected a blob cell")),
    }
}

fn int(v: Option<Val>) -> Result<i64, StoreError> {
    match v {
        Some(Val::I64(n)) => Ok(n),
        _ => Err(corrupt("(row)", "expected an integer cell")),
    }
}

fn version(id: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(id, format!("negative version {v}")))
}

/// The version to compare against, as stored; a version no row can have is a conflict.
fn expected_i64(expected: u64) -> Result<i64, StoreError> {
    i64::try_from(expected).map_err(|_| StoreError::VersionConflict)
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Connects with default options (see [`SqlStoreOptions::new`] for the URL forms).
    ///
    /// # Errors
    /// [`SqlStoreError`] when the URL does not parse or the database cannot be reached.
    pub async fn connect(url: &str, key: StoreKey) -> Result<Self, SqlStoreError> {
        SqlStoreOptions::new(url, key).connect().await
    }

    pub(crate) fn from_parts(pool: Pool, crypto: Crypto) -> Self {
        Self { pool, crypto }
    }

    /// Applies the crate's migrations (embedded, one folder per backend); safe to call on
    /// every start-up and from several instances (PostgreSQL serialises them with an
    /// advisory lock).
    ///
    /// # Errors
    /// [`SqlStoreError::Migrate`] when a migration fails or the database holds migrations
    /// this version does not know.
    pub async fn migrate(&self) -> Result<(), SqlStoreError> {
        let r = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p, _) => SQLITE_MIGRATOR.run(p).await,
            #[cfg(feature = "postgres")]
            Pool::Pg(p) => PG_MIGRATOR.run(p).await,
        };
        r.map_err(|e| SqlStoreError::Migrate(e.to_string()))
    }

    /// Which database this store talks to.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The expression for a new `created_seq`: SQLite takes the next number inside its
    /// single-writer transaction; PostgreSQL uses a sequence.
    fn seq(&self, table: &'static str) -> String {
        match self.pool.backend() {
            Backend::Sqlite => format!("(SELECT COALESCE(MAX(created_seq), 0) + 1 FROM {table})"),
            Backend::Postgres => "nextval('klarna_created_seq')".to_owned(),
        }
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has it (SQLite has one writer anyway).
    fn skip_locked(&self) -> &'static str {
        match self.pool.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    fn payment_cells(&self, row: Cells) -> Result<Versioned<AnyPayment>, StoreError> {
        let mut it = row.into_iter();
        let id = text(it.next())?;
        let v = version(&id, int(it.next())?)?;
        let snapshot = blob(it.next())?;
        Ok(Versioned {
            version: v,
            value: payment_from_row(&self.crypto, &id, &snapshot)?,
        })
    }

    fn order_cells(row: Cells) -> Result<Versioned<ManagedOrder>, StoreError> {
        let mut it = row.into_iter();
        let id = text(it.next())?;
        let v = version(&id, int(it.next())?)?;
        let data = text(it.next())?;
        Ok(Versioned {
            version: v,
            value: order_from_row(&id, &data)?,
        })
    }

    fn token_cells(&self, row: Cells) -> Result<Versioned<CustomerToken>, StoreError> {
        let mut it = row.into_iter();
        let lookup = text(it.next())?;
        let v = version(&lookup, int(it.next())?)?;
        let enc = blob(it.next())?;
        let data = text(it.next())?;
        Ok(Versioned {
            version: v,
            value: token_from_row(&self.crypto, &lookup, &enc, &data)?,
        })
    }

    async fn one_payment(
        &self,
        sql: &'static str,
        args: &[Val],
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.pool
            .fetch(sql, args, PAYMENT_COLS)
            .await?
            .into_iter()
            .next()
            .map(|r| self.payment_cells(r))
            .transpose()
    }

    /// Replaces the idempotency key held by `owner` (none, or its pending operation's).
    async fn set_key(tx: &mut Tx, owner: &str, key: Option<&String>) -> Result<(), StoreError> {
        tx.exec(
            "DELETE FROM idempotency_keys WHERE owner = $1",
            &[Val::Text(owner.to_owned())],
        )
        .await?;
        if let Some(k) = key {
            tx.exec(
                "INSERT INTO idempotency_keys (key, owner) VALUES ($1, $2)",
                &[Val::Text(k.clone()), Val::Text(owner.to_owned())],
            )
            .await?;
        }
        Ok(())
    }

    /// After a compare-and-set changed no row: was the row missing or at another version?
    async fn why_not(tx: &mut Tx, sql: &'static str, id: &str) -> StoreError {
        match tx
            .fetch(sql, &[Val::Text(id.to_owned())], &[Col::I64])
            .await
        {
            Ok(rows) if rows.is_empty() => StoreError::NotFound,
            Ok(_) => StoreError::VersionConflict,
            Err(e) => e,
        }
    }

    async fn insert_payment_in(&self, tx: &mut Tx, r: PaymentRow) -> Result<(), StoreError> {
        // Only our own identifiers are spliced in (`&'static str`); every value is bound.
        let sql = AssertSqlSafe(format!(
            "INSERT INTO payments (id, version, stage, snapshot, order_id, auth_token_hash, \
             pending_key, session_id, has_pending, claimed_until, created_seq) \
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, {})",
            self.seq("payments")
        ));
        let owner = payment_owner(&r.id);
        let key = r.pending_key.clone();
        tx.exec(
            sql,
            &[
                Val::Text(r.id),
                Val::Text(r.stage),
                Val::Blob(r.snapshot),
                Val::OptText(r.order_id),
                Val::OptText(r.auth_token_hash),
                Val::OptText(r.pending_key),
                Val::OptText(r.session_id),
                Val::Bool(r.has_pending),
                Val::I64(r.fence_ms),
            ],
        )
        .await?;
        if let Some(k) = key {
            tx.exec(
                "INSERT INTO idempotency_keys (key, owner) VALUES ($1, $2)",
                &[Val::Text(k), Val::Text(owner)],
            )
            .await?;
        }
        Ok(())
    }

    async fn insert_order_in(&self, tx: &mut Tx, r: OrderRow) -> Result<(), StoreError> {
        // Only our own identifiers are spliced in (`&'static str`); every value is bound.
        let sql = AssertSqlSafe(format!(
            "INSERT INTO managed_orders (order_id, version, data, pending_key, has_pending, \
             claimed_until, created_seq) VALUES ($1, 1, $2, $3, $4, $5, {})",
            self.seq("managed_orders")
        ));
        let owner = order_owner(&r.order_id);
        let key = r.pending_key.clone();
        tx.exec(
            sql,
            &[
                Val::Text(r.order_id),
                Val::Text(r.data),
                Val::OptText(r.pending_key),
                Val::Bool(r.has_pending),
                Val::I64(r.fence_ms),
            ],
        )
        .await?;
        if let Some(k) = key {
            tx.exec(
                "INSERT INTO idempotency_keys (key, owner) VALUES ($1, $2)",
                &[Val::Text(k), Val::Text(owner)],
            )
            .await?;
        }
        Ok(())
    }

    async fn insert_token_in(tx: &mut Tx, r: TokenRow) -> Result<(), StoreError> {
        tx.exec(
            "INSERT INTO customer_tokens (lookup_hash, version, token_enc, data) \
             VALUES ($1, 1, $2, $3)",
            &[
                Val::Text(r.lookup_hash),
                Val::Blob(r.token_enc),
                Val::Text(r.data),
            ],
        )
        .await?;
        Ok(())
    }

    async fn update_payment_in(
        &self,
        tx: &mut Tx,
        expected: i64,
        r: PaymentRow,
        order: Option<OrderRow>,
        token: Option<TokenRow>,
    ) -> Result<(), StoreError> {
        let owner = payment_owner(&r.id);
        let id = r.id.clone();
        let key = r.pending_key.clone();
        // `session_id` keeps the session once the stage stops naming it, so the
        // authorization callback finds the payment for its whole life. The claim: the same
        // pending operation keeps its lease (and at least its fence); a new or finished one
        // drops the old lease and waits for its own fence (SET reads the old row).
        let n = tx
            .exec(
                "UPDATE payments SET version = version + 1, stage = $3, snapshot = $4, \
                 order_id = $5, auth_token_hash = $6, pending_key = $7, \
                 session_id = COALESCE($8, session_id), has_pending = $9, \
                 claimed_until = CASE WHEN pending_key = $7 THEN \
                 (CASE WHEN $10 > claimed_until THEN $10 ELSE claimed_until END) ELSE $10 END \
                 WHERE id = $1 AND version = $2",
                &[
                    Val::Text(r.id),
                    Val::I64(expected),
                    Val::Text(r.stage),
                    Val::Blob(r.snapshot),
                    Val::OptText(r.order_id),
                    Val::OptText(r.auth_token_hash),
                    Val::OptText(r.pending_key),
                    Val::OptText(r.session_id),
                    Val::Bool(r.has_pending),
                    Val::I64(r.fence_ms),
                ],
            )
            .await?;
        if n != 1 {
            return Err(Self::why_not(tx, "SELECT version FROM payments WHERE id = $1", &id).await);
        }
        Self::set_key(tx, &owner, key.as_ref()).await?;
        if let Some(o) = order {
            self.insert_order_in(tx, o).await?;
        }
        if let Some(t) = token {
            Self::insert_token_in(tx, t).await?;
        }
        Ok(())
    }

    async fn update_order_in(tx: &mut Tx, expected: i64, r: OrderRow) -> Result<(), StoreError> {
        let owner = order_owner(&r.order_id);
        let id = r.order_id.clone();
        let key = r.pending_key.clone();
        let n = tx
            .exec(
                "UPDATE managed_orders SET version = version + 1, data = $3, pending_key = $4, \
                 has_pending = $5, \
                 claimed_until = CASE WHEN pending_key = $4 THEN \
                 (CASE WHEN $6 > claimed_until THEN $6 ELSE claimed_until END) ELSE $6 END \
                 WHERE order_id = $1 AND version = $2",
                &[
                    Val::Text(r.order_id),
                    Val::I64(expected),
                    Val::Text(r.data),
                    Val::OptText(r.pending_key),
                    Val::Bool(r.has_pending),
                    Val::I64(r.fence_ms),
                ],
            )
            .await?;
        if n != 1 {
            return Err(Self::why_not(
                tx,
                "SELECT version FROM managed_orders WHERE order_id = $1",
                &id,
            )
            .await);
        }
        Self::set_key(tx, &owner, key.as_ref()).await
    }

    async fn update_token_in(tx: &mut Tx, expected: i64, r: TokenRow) -> Result<(), StoreError> {
        let id = r.lookup_hash.clone();
        let n = tx
            .exec(
                "UPDATE customer_tokens SET version = version + 1, token_enc = $3, data = $4 \
                 WHERE lookup_hash = $1 AND version = $2",
                &[
                    Val::Text(r.lookup_hash),
                    Val::I64(expected),
                    Val::Blob(r.token_enc),
                    Val::Text(r.data),
                ],
            )
            .await?;
        if n != 1 {
            return Err(Self::why_not(
                tx,
                "SELECT version FROM customer_tokens WHERE lookup_hash = $1",
                &id,
            )
            .await);
        }
        Ok(())
    }

    /// Leases up to `limit` rows of `table` with a pending operation whose lease ended, in
    /// one short write transaction; returns the rows (decoded by the caller) oldest first.
    async fn claim(
        &self,
        table: &'static str,
        id_col: &'static str,
        data_col: &'static str,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Cells>, StoreError> {
        let data = if table == "payments" {
            Col::Blob
        } else {
            Col::Text
        };
        self.lease_rows(
            Leased {
                table,
                id_col,
                data_col,
                data,
                which: "has_pending = TRUE",
                lease_col: "claimed_until",
            },
            now,
            lease,
            limit,
        )
        .await
    }

    /// Leases up to `limit` rows that `rows.which` selects and whose lease (`rows.lease_col`)
    /// ended, in one short write transaction; returns them oldest first, without the sort key.
    async fn lease_rows(
        &self,
        rows: Leased,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Cells>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Leased {
            table,
            id_col,
            data_col,
            data,
            which,
            lease_col,
        } = rows;
        // One statement picks and leases the rows. On PostgreSQL `SKIP LOCKED` lets racing
        // claimers pass over each other's rows, and a row whose lease another claimer just
        // committed fails the re-checked lease condition; on SQLite the `BEGIN IMMEDIATE`
        // transaction runs alone. Only our own constants are spliced in (`&'static str`);
        // every value is bound. The picked ids are a MATERIALIZED CTE: as a plain
        // `IN (subquery)`, PostgreSQL may rescan the subquery per row it updates, skipping the
        // rows this statement just leased, so more than `limit` rows would be leased (and
        // those not returned would sit out a whole lease: the reconciler claims one at a time).
        let sql = AssertSqlSafe(format!(
            "WITH picked AS MATERIALIZED (\
             SELECT {id_col} FROM {table} WHERE {which} AND {lease_col} <= $2 \
             ORDER BY created_seq LIMIT $3{skip}) \
             UPDATE {table} SET {lease_col} = $1 \
             WHERE {id_col} IN (SELECT {id_col} FROM picked) \
             AND {which} AND {lease_col} <= $2 \
             RETURNING {id_col}, version, {data_col}, created_seq",
            skip = self.skip_locked()
        ));
        let mut tx = self.pool.begin_write().await?;
        let r = tx
            .fetch(
                sql,
                &[
                    Val::I64(now.plus(lease).unix_millis()),
                    Val::I64(now.unix_millis()),
                    Val::I64(limit_i64(limit)),
                ],
                &[Col::Text, Col::I64, data, Col::I64],
            )
            .await;
        let mut rows = tx.finish(r).await?;
        // RETURNING has no order: sort by creation, then drop the sort key.
        rows.sort_by_key(|r| match r.get(3) {
            Some(Val::I64(n)) => *n,
            _ => i64::MAX,
        });
        for r in &mut rows {
            r.truncate(3);
        }
        Ok(rows)
    }
}

/// Which rows a claim leases, and on which column (only our own constants: they are spliced
/// into SQL).
struct Leased {
    table: &'static str,
    id_col: &'static str,
    data_col: &'static str,
    data: Col,
    /// The rows' condition.
    which: &'static str,
    /// The lease column.
    lease_col: &'static str,
}

/// The payments under fraud review, as the claim's condition: the stage column as
/// `payment_row` writes it (`format!("{:?}", StageKind::FraudReview)`); the partial index
/// `payments_fraud_reviews` names it too.
const FRAUD_REVIEW_WHERE: &str = "stage = 'FraudReview'";

impl SqlStore {
    /// Leases up to `limit` payments under fraud review whose fraud-review lease ended, in one
    /// short write transaction, as [`SqlStore::claim`] does for in-doubt records (on its own
    /// column, `fraud_claimed_until`, so the two leases never delay each other).
    async fn claim_fraud(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Cells>, StoreError> {
        // The stage is a literal so PostgreSQL can use the partial index.
        self.lease_rows(
            Leased {
                table: "payments",
                id_col: "id",
                data_col: "snapshot",
                data: Col::Blob,
                which: FRAUD_REVIEW_WHERE,
                lease_col: "fraud_claimed_until",
            },
            now,
            lease,
            limit,
        )
        .await
    }

    /// The installation id in a row read from `klarna_meta`.
    fn installation_cells(rows: Vec<Cells>) -> Result<Option<InstallationId>, StoreError> {
        rows.into_iter()
            .next()
            .map(|r| {
                let bytes = blob(r.into_iter().next())?;
                <[u8; 16]>::try_from(bytes.as_slice())
                    .map(InstallationId::from_bytes)
                    .map_err(|_| {
                        corrupt(
                            "klarna_meta",
                            format!("installation_id has {} bytes, not 16", bytes.len()),
                        )
                    })
            })
            .transpose()
    }
}

const INSTALLATION_SQL: &str = "SELECT installation_id FROM klarna_meta WHERE id = 1";

/// Decodes claimed rows. A corrupt row is logged and left out (its lease keeps it from
/// being handed out again until the lease ends), so one bad row cannot stop reconciliation
/// of all the others.
fn keep_decodable<T>(
    rows: Vec<Cells>,
    decode: impl Fn(Cells) -> Result<Versioned<T>, StoreError>,
) -> Vec<Versioned<T>> {
    rows.into_iter()
        .filter_map(|r| match decode(r) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %e, "claimed record does not load; skipped until its lease ends");
                None
            }
        })
        .collect()
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn insert_payment(&self, payment: &AnyPayment) -> Result<u64, StoreError> {
        let row = payment_row(&self.crypto, payment)?;
        let mut tx = self.pool.begin_write().await?;
        let r = self.insert_payment_in(&mut tx, row).await;
        tx.finish(r).await.map(|()| 1)
    }

    async fn load_payment(
        &self,
        id: &PaymentId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.one_payment(
            "SELECT id, version, snapshot FROM payments WHERE id = $1",
            &[Val::Text(id.to_string())],
        )
        .await
    }

    async fn update_payment(
        &self,
        expected: u64,
        payment: &AnyPayment,
        also: &Alongside,
    ) -> Result<u64, StoreError> {
        // Encrypt and serialise before the transaction, so it holds the lock for its
        // statements only.
        let row = payment_row(&self.crypto, payment)?;
        let order = also.order.as_ref().map(order_row).transpose()?;
        let token = also
            .token
            .as_ref()
            .map(|t| token_row(&self.crypto, t))
            .transpose()?;
        let exp = expected_i64(expected)?;
        let next = expected.checked_add(1).ok_or(StoreError::VersionConflict)?;
        let mut tx = self.pool.begin_write().await?;
        let r = self
            .update_payment_in(&mut tx, exp, row, order, token)
            .await;
        tx.finish(r).await.map(|()| next)
    }

    async fn find_payment_by_order(
        &self,
        order: &OrderId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.one_payment(
            "SELECT id, version, snapshot FROM payments WHERE order_id = $1",
            &[Val::Text(order.to_string())],
        )
        .await
    }

    async fn find_payment_by_session(
        &self,
        session: &SessionId,
    ) -> Result<Option<Versioned<AnyPayment>>, StoreError> {
        self.one_payment(
            "SELECT id, version, snapshot FROM payments WHERE session_id = $1 \
             ORDER BY created_seq DESC LIMIT 1",
            &[Val::Text(session.to_string())],
        )
        .await
    }

    async fn list_payments(&self, limit: usize) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.pool
            .fetch(
                "SELECT id, version, snapshot FROM payments ORDER BY created_seq DESC LIMIT $1",
                &[Val::I64(limit_i64(limit))],
                PAYMENT_COLS,
            )
            .await?
            .into_iter()
            .map(|r| self.payment_cells(r))
            .collect()
    }

    async fn list_payments_in_stage(
        &self,
        kind: StageKind,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        self.pool
            .fetch(
                "SELECT id, version, snapshot FROM payments WHERE stage = $1 \
                 ORDER BY created_seq DESC LIMIT $2",
                &[Val::Text(stage_cell(kind)), Val::I64(limit_i64(limit))],
                PAYMENT_COLS,
            )
            .await?
            .into_iter()
            .map(|r| self.payment_cells(r))
            .collect()
    }

    async fn claim_in_doubt_payments(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let rows = self
            .claim("payments", "id", "snapshot", now, lease, limit)
            .await?;
        Ok(keep_decodable(rows, |r| self.payment_cells(r)))
    }

    async fn insert_customer_token(&self, token: &CustomerToken) -> Result<u64, StoreError> {
        let row = token_row(&self.crypto, token)?;
        let mut tx = self.pool.begin_write().await?;
        let r = Self::insert_token_in(&mut tx, row).await;
        tx.finish(r).await.map(|()| 1)
    }

    async fn load_customer_token(
        &self,
        id: &CustomerTokenId,
    ) -> Result<Option<Versioned<CustomerToken>>, StoreError> {
        self.pool
            .fetch(
                "SELECT lookup_hash, version, token_enc, data FROM customer_tokens \
                 WHERE lookup_hash = $1",
                &[Val::Text(token_lookup(&self.crypto, id))],
                TOKEN_COLS,
            )
            .await?
            .into_iter()
            .next()
            .map(|r| self.token_cells(r))
            .transpose()
    }

    async fn update_customer_token(
        &self,
        expected: u64,
        token: &CustomerToken,
    ) -> Result<u64, StoreError> {
        let row = token_row(&self.crypto, token)?;
        let exp = expected_i64(expected)?;
        let next = expected.checked_add(1).ok_or(StoreError::VersionConflict)?;
        let mut tx = self.pool.begin_write().await?;
        let r = Self::update_token_in(&mut tx, exp, row).await;
        tx.finish(r).await.map(|()| next)
    }

    async fn insert_order(&self, order: &ManagedOrder) -> Result<u64, StoreError> {
        let row = order_row(order)?;
        let mut tx = self.pool.begin_write().await?;
        let r = self.insert_order_in(&mut tx, row).await;
        tx.finish(r).await.map(|()| 1)
    }

    async fn load_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<Versioned<ManagedOrder>>, StoreError> {
        self.pool
            .fetch(
                "SELECT order_id, version, data FROM managed_orders WHERE order_id = $1",
                &[Val::Text(id.to_string())],
                ORDER_COLS,
            )
            .await?
            .into_iter()
            .next()
            .map(Self::order_cells)
            .transpose()
    }

    async fn update_order(&self, expected: u64, order: &ManagedOrder) -> Result<u64, StoreError> {
        let row = order_row(order)?;
        let exp = expected_i64(expected)?;
        let next = expected.checked_add(1).ok_or(StoreError::VersionConflict)?;
        let mut tx = self.pool.begin_write().await?;
        let r = Self::update_order_in(&mut tx, exp, row).await;
        tx.finish(r).await.map(|()| next)
    }

    async fn claim_in_doubt_orders(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<ManagedOrder>>, StoreError> {
        let rows = self
            .claim("managed_orders", "order_id", "data", now, lease, limit)
            .await?;
        Ok(keep_decodable(rows, Self::order_cells))
    }

    async fn claim_fraud_reviews(
        &self,
        now: Timestamp,
        lease: Span,
        limit: usize,
    ) -> Result<Vec<Versioned<AnyPayment>>, StoreError> {
        let rows = self.claim_fraud(now, lease, limit).await?;
        Ok(keep_decodable(rows, |r| self.payment_cells(r)))
    }

    /// Insert-if-absent in one write transaction: the first caller's random bytes win, and a
    /// racing caller (another instance starting on the same PostgreSQL) waits for the
    /// winner's commit at the insert, inserts nothing, and reads the winner's value.
    async fn installation_id(&self) -> Result<InstallationId, StoreError> {
        let stored = self.pool.fetch(INSTALLATION_SQL, &[], &[Col::Blob]).await?;
        if let Some(id) = Self::installation_cells(stored)? {
            return Ok(id);
        }
        let fresh = StoreKey::random_16().map_err(StoreError::Backend)?;
        let mut tx = self.pool.begin_write().await?;
        let r = async {
            tx.exec(
                "INSERT INTO klarna_meta (id, installation_id) VALUES (1, $1) \
                 ON CONFLICT (id) DO NOTHING",
                &[Val::Blob(fresh.to_vec())],
            )
            .await?;
            let rows = tx.fetch(INSTALLATION_SQL, &[], &[Col::Blob]).await?;
            Self::installation_cells(rows)?
                .ok_or_else(|| corrupt("klarna_meta", "no installation id after inserting one"))
        }
        .await;
        tx.finish(r).await
    }
}
