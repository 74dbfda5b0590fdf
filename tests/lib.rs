//! Support shared by the end-to-end tests and the crash-test child process: databases, wiring, crash points.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a panic is a failed test"
)]

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use klarna_domain::{
    AuthorizationToken, AuthorizationUpdate, CaptureId, CaptureRequest, Cart, CustomerTokenId,
    IdempotencyKey, Interval, Market, MerchantReferences, OrderId, OrderLine, PaymentId, RefundId,
    RefundRequest, SessionId, ShippingInfoUpdate, Span, StageKind, TokenStatus,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway, UuidKeys};
use klarna_ports::{
    ChargeToken, Clock, CreateCustomerToken, CreatedSession, GatewayError, ManualClock, NewSession,
    OrderPlaced, PaymentGateway, PaymentStore, PlaceOrder, RemoteOrder, SessionState, SystemClock,
};
use klarna_service::{PaymentService, ServiceConfig};

/// The forwarding store with a write hook (moved to `klarna-ports`, feature `test-util`).
pub use klarna_ports::{HookedStore, Write};
use klarna_store_sql::{SqlStore, SqlStoreOptions, StoreKey};

/// The service as an application wires it, with optional crash points around its ports and
/// any clock (a restarted service in the crash tests runs on a [`ManualClock`] that stands
/// later than the crash).
pub type Service = PaymentService<CrashingGateway, CrashingStore, dyn Clock, UuidKeys>;

/// A database for one test: a SQLite file in a temp dir, or a fresh schema on PostgreSQL.
#[derive(Debug)]
pub enum Db {
    /// SQLite file (the directory is removed on drop).
    Sqlite(tempfile::TempDir, PathBuf),
    /// A schema on the `DATABASE_URL` server.
    Postgres {
        /// Server URL.
        url: String,
        /// Schema name.
        schema: String,
    },
}

impl Db {
    /// A SQLite file in a fresh temp dir.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klarna.db");
        Self::Sqlite(dir, path)
    }

    /// A fresh schema on `DATABASE_URL`, or `None` on a user's machine without it. In CI (or
    /// with `KLARNA_TEST_REQUIRE_POSTGRES=1`) a missing database fails the test.
    #[must_use]
    pub fn postgres() -> Option<Self> {
        let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
        let Some(url) = url else {
            let required = std::env::var("KLARNA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
                || std::env::var_os("CI").is_some();
            assert!(
                !required,
                "DATABASE_URL is not set but PostgreSQL tests are required"
            );
            eprintln!("SKIPPED: PostgreSQL test (set DATABASE_URL to run it)");
            return None;
        };
        let schema = format!("klarna_e2e_{}_{}", std::process::id(), rand_suffix());
        let status = std::process::Command::new("psql")
            .args([
                url.as_str(),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE SCHEMA {schema}"),
            ])
            .status()
            .expect("psql runs");
        assert!(status.success(), "creating schema {schema} failed");
        Some(Self::Postgres { url, schema })
    }

    /// The connection URL.
    #[must_use]
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(_, path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// The PostgreSQL schema, if any.
    #[must_use]
    pub fn schema(&self) -> Option<&str> {
        match self {
            Self::Sqlite(..) => None,
            Self::Postgres { schema, .. } => Some(schema),
        }
    }

    /// A new pool on this database (migrations applied).
    pub async fn store(&self, key: &StoreKey, max_connections: u32) -> SqlStore {
        connect(&self.url(), self.schema(), key, max_connections).await
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Self::Postgres { url, schema } = self {
            let _ = std::process::Command::new("psql")
                .env("PGOPTIONS", "--client-min-messages=warning")
                .args([
                    url.as_str(),
                    "-q",
                    "-c",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                ])
                .status();
        }
    }
}

fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    format!("{:016x}", h.finish())
}

/// Connects (and migrates) a store on `url`.
pub async fn connect(
    url: &str,
    schema: Option<&str>,
    key: &StoreKey,
    max_connections: u32,
) -> SqlStore {
    let mut opts = SqlStoreOptions::new(url, key.clone()).max_connections(max_connections);
    if let Some(s) = schema {
        opts = opts.pg_schema(s);
    }
    let store = opts.connect().await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// The real HTTP gateway to a Klarna (the simulator) at `base_url`.
#[must_use]
pub fn gateway(base_url: &str) -> KlarnaGateway {
    KlarnaGateway::new(client(base_url))
}

/// The cart of the crash tests (SE, SEK 500.00): with a monthly subscription line for the
/// recurring intents, and for token charges.
#[must_use]
pub fn crash_cart(subscription: bool) -> Cart {
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let mut line = OrderLine::builder("Shoe", 1, 50_000).tax_rate(2_500);
    if subscription {
        line = line.subscription("Shoe club", Interval::Month, 1);
    }
    Cart::new(market, vec![line.build().unwrap()]).unwrap()
}

/// A service over the real gateway and a SQL store, on the system clock, with the production
/// deadline, grace and lease (the fence of a pending operation is its start plus the HTTP
/// client's deadline plus the grace, as the facade wires it).
#[must_use]
pub fn service(base_url: &str, store: SqlStore, crash: CrashPoint) -> Service {
    service_at(base_url, store, crash, Arc::new(SystemClock))
}

/// [`service`] on `clock` (see [`restarted_clock`]).
#[must_use]
pub fn service_at(
    base_url: &str,
    store: SqlStore,
    crash: CrashPoint,
    clock: Arc<dyn Clock>,
) -> Service {
    service_with(&client(base_url), store, crash, clock)
}

/// [`service_at`] over a client made before ([`client`]: building one reads the platform's
/// root certificates, so a test that starts many services shares one).
#[must_use]
pub fn service_with(
    client: &KlarnaClient,
    store: SqlStore,
    crash: CrashPoint,
    clock: Arc<dyn Clock>,
) -> Service {
    PaymentService::new(
        Arc::new(CrashingGateway {
            inner: KlarnaGateway::new(client.clone()),
            crash,
        }),
        Arc::new(HookedStore::new(store, crash_after_write(crash))),
        clock,
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(
            0x6b6c_6172_6e61_2d65_3265,
        ))),
        config_for(client),
    )
}

/// The HTTP client of [`gateway`] and [`service`]: the simulator's credentials, the default
/// deadline.
#[must_use]
pub fn client(base_url: &str) -> KlarnaClient {
    KlarnaClient::builder(Credentials::new("sim_user", "sim_password"))
        .base_url(base_url)
        .build()
        .unwrap()
}

/// The service's settings as production wires them: the call deadline is the HTTP client's;
/// grace and lease are the defaults (never zero).
fn config_for(client: &KlarnaClient) -> ServiceConfig {
    ServiceConfig {
        call_deadline: Span::millis(i64::try_from(client.deadline().as_millis()).unwrap()),
        ..ServiceConfig::default()
    }
}

/// [`service`]'s settings: those of a [`client`] (the default deadline).
fn settings() -> ServiceConfig {
    ServiceConfig {
        call_deadline: Span::millis(
            i64::try_from(klarna_gateway_http::DEFAULT_DEADLINE.as_millis()).unwrap(),
        ),
        ..ServiceConfig::default()
    }
}

/// How long after its start a pending operation is fenced from the reconciler: the client's
/// deadline plus the grace ([`service`]'s settings).
#[must_use]
pub fn fence_span() -> Span {
    let config = settings();
    Span::millis(config.call_deadline.as_millis() + config.reconcile_grace.as_millis())
}

/// The clock of the `restart`-th restart after a crash: real time plus `restart` times the
/// fence and the claim lease (and a second), so every operation begun before it, by the
/// crashed process or by an earlier restart, is past its fence and every claim of an earlier
/// restart has lapsed. Realistic: a restarted service runs later than the crash.
#[must_use]
pub fn restarted_clock(restart: u32) -> Arc<ManualClock> {
    let config = settings();
    let lease = config
        .claim_lease
        .as_millis()
        .max(config.call_deadline.as_millis() * 3);
    let step = fence_span().as_millis().max(lease) + 1_000;
    let clock = ManualClock::new(SystemClock.now());
    clock.advance(Span::millis(step * i64::from(restart)));
    Arc::new(clock)
}

/// Where the crash-test child process aborts (`abort()`: no destructors, no flushing). Each
/// point fires at its first occurrence in the process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CrashPoint {
    /// Never.
    None,
    /// Right after a pending stage (with its key) was written: a payment's order or token
    /// step, or an order's Order Management operation.
    AfterPendingWrite,
    /// Right after a payment's pending order (P5 or T2) was written (in `buy_and_tokenize`,
    /// the second step).
    AfterOrderPendingWrite,
    /// Right after a `buy_and_tokenize` payment's customer token was recorded (the same write
    /// begins its order): between the two steps.
    AfterTokenRecorded,
    /// After Klarna answered a mutation with success, before the answer is recorded.
    AfterAnswer,
    /// After Klarna answered a create order (P5) or token charge (T2) with success, before
    /// the answer is recorded (in `buy_and_tokenize`, the second step).
    AfterOrderAnswer,
}

impl CrashPoint {
    /// Every point.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::AfterPendingWrite,
        Self::AfterOrderPendingWrite,
        Self::AfterTokenRecorded,
        Self::AfterAnswer,
        Self::AfterOrderAnswer,
    ];

    /// Parses the name used between parent and child.
    ///
    /// # Panics
    /// On an unknown name (a typo must not silently disarm a crash test).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .unwrap_or_else(|| panic!("unknown crash point {s:?}"))
    }
    /// The name used between parent and child.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::AfterPendingWrite => "after_pending_write",
            Self::AfterOrderPendingWrite => "after_order_pending_write",
            Self::AfterTokenRecorded => "after_token_recorded",
            Self::AfterAnswer => "after_answer",
            Self::AfterOrderAnswer => "after_order_answer",
        }
    }
}

fn crash_if(enabled: bool) {
    if enabled {
        // abort(): no destructors, no flushing — as close to a power cut as a process gets.
        std::process::abort();
    }
}

/// The store-side crash points as a store hook (called after each successful write).
fn crash_after_write(crash: CrashPoint) -> impl Fn(Write<'_>) + Send + Sync + 'static {
    move |w| {
        let fire = match (crash, w) {
            (CrashPoint::AfterPendingWrite, Write::Payment(p)) => p.pending_op().is_some(),
            (CrashPoint::AfterPendingWrite, Write::Order(o)) => o.pending().is_some(),
            (CrashPoint::AfterOrderPendingWrite, Write::Payment(p)) => p.pending_order().is_some(),
            // The write that records the token also begins the order (one write).
            (CrashPoint::AfterTokenRecorded, Write::Payment(p)) => {
                p.customer_token().is_some()
                    && p.pending_order().is_some_and(|o| o.op().attempts() == 0)
            }
            _ => false,
        };
        crash_if(fire);
    }
}

/// The store of the crash tests.
pub type CrashingStore = HookedStore<SqlStore>;

/// A gateway that can abort the process after Klarna answered a mutation.
#[derive(Debug)]
pub struct CrashingGateway {
    inner: KlarnaGateway,
    crash: CrashPoint,
}

impl CrashingGateway {
    fn after<T>(&self, r: Result<T, GatewayError>) -> Result<T, GatewayError> {
        crash_if(r.is_ok() && self.crash == CrashPoint::AfterAnswer);
        r
    }
    fn after_order<T>(&self, r: Result<T, GatewayError>) -> Result<T, GatewayError> {
        crash_if(r.is_ok() && self.crash == CrashPoint::AfterOrderAnswer);
        self.after(r)
    }
}

#[async_trait]
impl PaymentGateway for CrashingGateway {
    async fn create_session(&self, r: &NewSession) -> Result<CreatedSession, GatewayError> {
        self.inner.create_session(r).await
    }
    async fn read_session(&self, s: &SessionId) -> Result<SessionState, GatewayError> {
        self.inner.read_session(s).await
    }
    async fn update_session(&self, s: &SessionId, c: &Cart) -> Result<(), GatewayError> {
        self.inner.update_session(s, c).await
    }
    async fn cancel_authorization(&self, a: &AuthorizationToken) -> Result<(), GatewayError> {
        self.inner.cancel_authorization(a).await
    }
    async fn place_order(
        &self,
        r: &PlaceOrder,
        k: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        let r = self.inner.place_order(r, k).await;
        self.after_order(r)
    }
    async fn create_customer_token(
        &self,
        r: &CreateCustomerToken,
        k: &IdempotencyKey,
    ) -> Result<CustomerTokenId, GatewayError> {
        let r = self.inner.create_customer_token(r, k).await;
        self.after(r)
    }
    async fn read_customer_token(&self, t: &CustomerTokenId) -> Result<TokenStatus, GatewayError> {
        self.inner.read_customer_token(t).await
    }
    async fn cancel_customer_token(&self, t: &CustomerTokenId) -> Result<(), GatewayError> {
        self.inner.cancel_customer_token(t).await
    }
    async fn charge_customer_token(
        &self,
        r: &ChargeToken,
        k: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        let r = self.inner.charge_customer_token(r, k).await;
        self.after_order(r)
    }
    async fn read_order(&self, o: &OrderId) -> Result<RemoteOrder, GatewayError> {
        self.inner.read_order(o).await
    }
    async fn capture(
        &self,
        o: &OrderId,
        c: &CaptureRequest,
        k: &IdempotencyKey,
    ) -> Result<CaptureId, GatewayError> {
        let r = self.inner.capture(o, c, k).await;
        self.after(r)
    }
    async fn refund(
        &self,
        o: &OrderId,
        r: &RefundRequest,
        k: &IdempotencyKey,
    ) -> Result<RefundId, GatewayError> {
        let r = self.inner.refund(o, r, k).await;
        self.after(r)
    }
    async fn add_shipping_info(
        &self,
        o: &OrderId,
        u: &ShippingInfoUpdate,
        k: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let r = self.inner.add_shipping_info(o, u, k).await;
        self.after(r)
    }
    async fn update_authorization(
        &self,
        o: &OrderId,
        u: &AuthorizationUpdate,
        k: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let r = self.inner.update_authorization(o, u, k).await;
        self.after(r)
    }
    async fn update_merchant_references(
        &self,
        o: &OrderId,
        m: &MerchantReferences,
        k: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let r = self.inner.update_merchant_references(o, m, k).await;
        self.after(r)
    }
    async fn cancel_order(&self, o: &OrderId, k: &IdempotencyKey) -> Result<(), GatewayError> {
        let r = self.inner.cancel_order(o, k).await;
        self.after(r)
    }
    async fn release_remaining_authorization(
        &self,
        o: &OrderId,
        k: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let r = self.inner.release_remaining_authorization(o, k).await;
        self.after(r)
    }
    async fn extend_authorization_time(
        &self,
        o: &OrderId,
        k: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let r = self.inner.extend_authorization_time(o, k).await;
        self.after(r)
    }

    async fn create_hosted_page(
        &self,
        session: &SessionId,
        link: &klarna_domain::PaymentLinkRequest,
    ) -> Result<klarna_ports::HostedPage, GatewayError> {
        let r = self.inner.create_hosted_page(session, link).await;
        self.after(r)
    }

    async fn read_hosted_page(
        &self,
        page: &klarna_domain::HostedPageId,
    ) -> Result<klarna_ports::HostedPageState, GatewayError> {
        let r = self.inner.read_hosted_page(page).await;
        self.after(r)
    }

    async fn disable_hosted_page(
        &self,
        page: &klarna_domain::HostedPageId,
    ) -> Result<(), GatewayError> {
        let r = self.inner.disable_hosted_page(page).await;
        self.after(r)
    }
}

/// The stage a payment has in the store.
pub async fn stage_of(store: &SqlStore, id: &PaymentId) -> StageKind {
    store
        .load_payment(id)
        .await
        .unwrap()
        .expect("payment stored")
        .value
        .kind()
}
