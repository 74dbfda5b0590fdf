//! Klarna HTTP gateway: `KlarnaClient`, a typed reqwest client for every operation of
//! Klarna's Payments, Customer Token and Order Management APIs (API.md §0) and of its
//! Settlements API (payouts, transactions, reports, with paginated streams; `docs/klarna/
//! settlements.md`), and
//! [`KlarnaGateway`], the service's `PaymentGateway` port implemented on top of it (with
//! [`UuidKeys`], the `IdempotencyKeys` port).
//!
//! What every call does (DESIGN.md §6, `docs/klarna/gateway-facts.md`):
//!
//! * HTTP Basic from [`Credentials`] (header built once, marked sensitive), `Accept` and
//!   `User-Agent: Library/klarna-gateway-http_<v> Language/Rust_<v> OS/<os>`,
//!   `Content-Type: application/json` only with a body;
//! * ids percent-encoded as one path segment; no redirects followed; response bodies capped;
//! * mutating calls carry `Klarna-Idempotency-Key` (yours or a fresh UUID v4, the same on
//!   every retry of the call);
//! * retries by the pure policy [`retry::decide`]: transport errors, 429 and 5xx only, only
//!   when safe ([`Operation::retry_safe`]), exponential backoff with jitter, `Retry-After`
//!   honoured and capped;
//! * one deadline per call over every attempt and wait ([`KlarnaClientBuilder::deadline`],
//!   default [`DEFAULT_DEADLINE`], 60 s; [`KlarnaClient::deadline`] and
//!   [`KlarnaGateway::deadline`] tell a reconciler how long a call can still be in flight): no
//!   retry is started that could end past it, an attempt in flight at the deadline is cut and
//!   the call ends `MaybeSent`;
//! * once an attempt may have taken effect, the call never ends "not sent" or refused: a later
//!   connect failure or 4xx of a retry makes it `MaybeSent`;
//! * plain `http://` base URLs only for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`):
//!   anything else is refused by `build()` (field `base_url`) before anything is sent;
//! * errors are one [`KlarnaError`] with [`KlarnaError::action`] (the port's `ErrorAction`,
//!   from the one table, see [`gateway_error`]) and [`KlarnaError::may_have_reached_klarna`]; successes are a [`Response`] carrying the
//!   `Klarna-Correlation-Id`;
//! * a `tracing` span `klarna` per call with `operation`, `method`, `path` (the template, never
//!   the real path: it carries tokens), `attempt`, `status`, `correlation_id`.
//!
//! # Example
//!
//! ```no_run
//! use klarna_gateway_http::{Credentials, Environment, KlarnaClient, Region};
//!
//! # async fn run(session: klarna_api::SessionCreate) -> Result<(), klarna_gateway_http::KlarnaError> {
//! let client = KlarnaClient::builder(Credentials::new("PK0001_abc", "secret"))
//!     .region(Region::Eu)
//!     .environment(Environment::Playground)
//!     .build()?;
//! let created = client.create_session(&session, None).await?;
//! println!("session {} (correlation {:?})", created.body.session_id, created.correlation_id);
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;
pub mod gateway;
pub mod hpp;
mod keys;
mod operation;
mod ops;
mod outcome;
pub mod retry;
mod settlements;

pub use client::{
    CaptureCreated, DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, KlarnaClient,
    KlarnaClientBuilder, RefundCreated, Response,
};
pub use config::{Credentials, Environment, Timeouts};
pub use error::KlarnaError;
pub use gateway::KlarnaGateway;
pub use keys::UuidKeys;
/// The `Klarna-Idempotency-Key` type: the domain's, re-exported so the client's users keep
/// one path.
pub use klarna_domain::IdempotencyKey;
/// Where a merchant account lives: the domain's, re-exported.
pub use klarna_domain::Region;
pub use operation::{HttpMethod, Operation};
pub use outcome::gateway_error;
pub use retry::RetryConfig;
pub use settlements::{
    DEFAULT_PAGE_SIZE, DateRange, MAX_PAGE_SIZE, Page, PayoutFilter, Report, StreamError,
    TransactionFilter,
};

/// The wire models this client speaks, re-exported for convenience.
pub use klarna_api as api;
