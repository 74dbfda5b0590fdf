//! A stateful local Klarna: the simulator for offline runs and tests.
//!
//! `klarna-simulator` is a real HTTP server (axum) that behaves like Klarna Payments, the
//! Customer Token API and Order Management for every operation of `shared/klarna/API.md` §0
//! (P1–P6, T1–T3, O1–O18): Klarna's paths, status codes, error bodies
//! (`error_code`, `error_messages`, `correlation_id`) and a `Klarna-Correlation-Id` header on
//! every response. It keeps state (sessions, authorizations, customer tokens, orders with
//! captures and refunds), validates requests the way Klarna does (independently of
//! `klarna-domain`, so the two check each other), replays idempotent requests, runs lifetimes on
//! a controllable clock, and injects faults.
//!
//! # Starting it in your own integration tests
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use klarna_simulator::{ShopperDecision, Simulator};
//!
//! // Binds 127.0.0.1 on a free port; credentials default to sim_user / sim_password.
//! let sim = Simulator::start().await?;
//! let http = reqwest::Client::new();
//! let session: serde_json::Value = http
//!     .post(format!("{}/payments/v1/sessions", sim.base_url()))
//!     .basic_auth(sim.username(), Some(sim.password()))
//!     .json(&serde_json::json!({
//!         "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
//!         "order_amount": 10000, "order_tax_amount": 2000,
//!         "order_lines": [{"name": "Socks", "quantity": 1, "unit_price": 10000,
//!                          "tax_rate": 2500, "total_amount": 10000, "total_tax_amount": 2000}]
//!     }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let session_id = session["session_id"].as_str().unwrap_or_default();
//!
//! // The shopper's browser step, without a browser:
//! let auth = sim.authorize(session_id, ShopperDecision::approve())?;
//! let token = auth.authorization_token.unwrap_or_default();
//! assert!(!token.is_empty());
//!
//! // Inspect what your code did:
//! assert!(sim.orders().is_empty());
//! sim.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! Other ways to run it: [`Simulator::builder`] (credentials, address), and [`serve`] /
//! [`serve_with_shutdown`] / [`run`] for a command line (`klarna sim`), which serve on a listener
//! you bound.
//!
//! # Behaviour
//!
//! * **Authentication**: HTTP Basic with the configured credentials on every Klarna path, else
//!   `401`. Default credentials: username `sim_user`, password `sim_password`.
//! * **Limits**: bodies over 1 MB → `413 REQUEST_TOO_LARGE`; malformed JSON → `400 BAD_REQUEST`;
//!   field validation (§1.8, §1.9, §2.7) → `400 BAD_VALUE` with `Bad value: <field path>`, e.g.
//!   `Bad value: order_lines[2].total_tax_amount`.
//! * **Sessions** live 48 h from creation or the last update (`expires_at` in P2), then `404
//!   NOT_FOUND "Invalid session id"`. Updates are refused with `404 SESSION_COMPLETED` once an
//!   order (or, for `tokenize`, a customer token) exists.
//! * **Authorizations** (from the shopper step) live 60 minutes; each shopper step issues a new
//!   token and the old one is gone (`404`). One order per token (`403 INVALID_OPERATION
//!   "Authorization token already consumed"`); with `buy_and_tokenize` one P5 and one P6 each.
//!   P6 on intent `buy` and P5 on intent `tokenize` → `403 INVALID_OPERATION`. A cart, currency,
//!   country or address that differs from the authorized one → `409 BAD_VALUE "Not matching
//!   fields: [...]"`.
//! * **Customer tokens** are `ACTIVE` until T3 cancels them (`202`, plain text); charging a
//!   cancelled token → `403 TOKEN_CANCELED`, an unknown one → `404 TOKEN_NOT_FOUND`.
//! * **Orders** (UUID ids) follow `AUTHORIZED → PART_CAPTURED → CAPTURED`, `CANCELLED`,
//!   `EXPIRED` (28 days without capture), `CLOSED` (after releasing the remaining authorization,
//!   or expiry after a partial capture), with Klarna's 403 codes (`CAPTURE_NOT_ALLOWED`,
//!   `REFUND_NOT_ALLOWED`, `CANCEL_NOT_ALLOWED`, `NOT_ALLOWED`) and `404 NO_SUCH_ORDER`. Captures
//!   are refused while fraud status is not `ACCEPTED`. A fraud `REJECTED`/`STOPPED` decision
//!   cancels the order.
//! * **Idempotency**: a repeated `Klarna-Idempotency-Key` on any mutating call (every non-GET
//!   operation, *including* P1–P6, where Klarna does not document it but our client sends it:
//!   replaying is the safe behaviour) replays the first response — status, headers, body — for
//!   24 h of simulator time. Matching is by key only, as at Klarna. 5xx answers are not
//!   recorded.
//! * **Clock**: simulator time = real time + an offset that only grows
//!   ([`Simulator::advance_clock`], `POST /sim/clock/advance`).
//! * **Memory**: expired state is evicted by a lazy sweep (at most once per simulated minute):
//!   sessions 48 h after expiry, authorizations a day after theirs, idempotency entries after
//!   24 h. Customer tokens and orders are kept. Sessions are stored as typed fields over one
//!   string buffer each.
//! * **Callbacks**: after an approving shopper step, if the session has
//!   `merchant_urls.authorization`, the simulator POSTs `{"authorization_token", "session_id"}`
//!   there (spawned, up to 3 attempts, 1 s/2 s back-off). Resolving fraud review POSTs
//!   `{"order_id", "event_type"}` to the order's `merchant_urls.notification` (from P5, else the
//!   session), with `{order.id}`/`{session.id}` substituted.
//!
//! # Simulator-only endpoints (`/sim/...`, no authentication)
//!
//! | endpoint | meaning |
//! |---|---|
//! | `POST /sim/sessions/{id}/authorize` | shopper step, body [`ShopperDecision`] `{"approve": bool, "billing_address"?, "shipping_address"?, "customer"?, "fraud_status"?: "ACCEPTED"\|"PENDING"\|"REJECTED"}` → `200 {"approved": true, "show_form": true, "authorization_token": "...", "finalize_required": false}` or `{"approved": false, "show_form": false}`; CORS-enabled for the JS stand-in |
//! | `POST /sim/clock/advance` | body `{"seconds": N}` → `{"now": "<RFC 3339>"}` |
//! | `GET /sim/clock` | `{"now": "<RFC 3339>"}` |
//! | `POST /sim/faults` | add one [`FaultRule`] or an array of them → `{"rules": [...]}` |
//! | `GET /sim/faults` | the live rules |
//! | `DELETE /sim/faults` | clear all rules (`204`) |
//! | `GET /sim/orders` | every order as [`OrderSummary`] (amounts, status, `merchant_reference1/2`, [`OrderSource`]) |
//! | `GET /sim/orders/{id}` | one [`OrderSummary`] |
//! | `POST /sim/orders/{id}/fraud` | body `{"decision": "ACCEPTED"\|"REJECTED"\|"STOPPED"}` resolves a `PENDING` order (`204`) and notifies |
//! | `GET /sim/stats` | [`Stats`]: requests per operation name |
//! | `GET /sim/js/klarna-payments.js` | the `window.Klarna.Payments` stand-in (`init`, `load`, `authorize`, `reauthorize`, `finalize`); set `window.KLARNA_SIM_DECLINE = true` to decline, `window.KLARNA_SIM_FRAUD_STATUS = "PENDING"` for fraud review |
//! | `GET /sim/redirect/{order_id}` | the order's `redirect_url`: `302` to `merchant_urls.confirmation` |
//!
//! The `client_token` is JWT-shaped (`header.payload.signature`, base64url); its payload holds
//! `session_id` and `base_url`, which is how the JS stand-in finds the session.
//!
//! # Fault injection
//!
//! A [`FaultRule`] applies a [`Fault`] to the next `times` calls whose operation name (see
//! [`Operation::name`], e.g. `payments.create_order`, `orders.capture`, `tokens.create_order`)
//! matches `operation` — exactly, by prefix (`orders.*`), or `*` for all. Rules are consulted in
//! insertion order; the first live match is used up by one. JSON:
//!
//! ```json
//! {"operation": "orders.capture", "times": 2, "fault": {"kind": "status", "status": 503}}
//! {"operation": "*", "fault": {"kind": "latency", "ms": 1500}}
//! {"operation": "tokens.create_order", "fault": {"kind": "rate_limit", "retry_after": 3}}
//! {"operation": "payments.create_order", "fault": {"kind": "drop_after_effect"}}
//! {"operation": "payments.create_order", "fault": {"kind": "drop_before_effect"}}
//! ```
//!
//! `latency` waits (real time) then answers normally; `status` answers that status with a Klarna
//! error body without doing anything; `rate_limit` answers `429` with `Retry-After`;
//! `drop_after_effect` performs the operation (recording its idempotent response) and then
//! aborts the connection, so the client sees a transport error although the effect happened;
//! `drop_before_effect` aborts without doing anything. `times` defaults to 1.
//!
//! # Performance
//!
//! Measured on the 2-core build machine (shared with other jobs), release build:
//! `cargo bench -p klarna-simulator --bench throughput` — create-session over keep-alive on
//! loopback ≈ 26,000/s with 64 requests in flight (≈ 9,800/s one at a time), read-session
//! ≈ 28,000/s (≈ 33,000/s one at a time), client included on the same cores.
//! `cargo run --release -p klarna-simulator --example memory` — 100,000 live sessions with
//! Klarna's example cart: ≈ 144 MiB resident growth (≈ 1.5 KB per session).

mod clock;
mod engine;
mod faults;
mod http;
mod js;
mod listener;
mod ops;
mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use engine::{
    Engine, FraudDecision, OrderSource, OrderSummary, Population, ReplayPolicy, Reply,
    ShopperDecision, Stats,
};
pub use faults::{Fault, FaultRule};
pub use ops::Operation;

/// Username used when none is configured.
pub const DEFAULT_USERNAME: &str = "sim_user";
/// Password used when none is configured.
pub const DEFAULT_PASSWORD: &str = "sim_password";

/// Configuration for [`serve`] and the builder.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Basic-auth username the simulator accepts.
    pub username: String,
    /// Basic-auth password the simulator accepts.
    pub password: String,
    /// Base URL to advertise (in `Location`, `redirect_url`, the client token); default
    /// `http://<bound address>`.
    pub public_base_url: Option<String>,
    /// Which operations are replayed by `Klarna-Idempotency-Key` (default
    /// [`ReplayPolicy::Pessimistic`]; switchable later with `POST /sim/faults`).
    pub replay: ReplayPolicy,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            username: DEFAULT_USERNAME.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            public_base_url: None,
            replay: ReplayPolicy::default(),
        }
    }
}

impl std::fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("public_base_url", &self.public_base_url)
            .field("replay", &self.replay)
            .finish()
    }
}

/// Result of the shopper step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopperOutcome {
    /// Whether the authorization was approved.
    pub approved: bool,
    /// The new authorization token when approved.
    pub authorization_token: Option<String>,
}

/// Why a simulator control call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The simulator refused, with Klarna's error code and message.
    #[error("simulator refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status it would have answered.
        status: u16,
        /// Klarna-style `error_code`.
        code: String,
        /// First error message.
        message: String,
    },
}

impl SimError {
    fn from_reply(r: &Reply) -> Self {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        Self::Refused {
            status: r.status,
            code: v
                .get("error_code")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            message: v
                .pointer("/error_messages/0")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

fn base_url_for(addr: SocketAddr, config: &SimulatorConfig) -> String {
    config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned()
}

fn shared_for(
    base_url: &str,
    config: &SimulatorConfig,
    gate: Arc<listener::Gate>,
) -> Arc<http::Shared> {
    let engine = Engine::new(base_url);
    engine.set_replay_policy(config.replay);
    Arc::new(http::Shared::new(
        engine,
        config.username.clone(),
        config.password.clone(),
        gate,
    ))
}

/// Serves the simulator on `listener` until the process ends.
///
/// # Errors
///
/// I/O errors from the listener.
pub async fn serve(listener: TcpListener, config: SimulatorConfig) -> std::io::Result<()> {
    serve_with_shutdown(listener, config, std::future::pending()).await
}

/// Serves the simulator on `listener` until `shutdown` completes (then stops gracefully).
///
/// A listener you bound to port 0 yourself loses its port while a connection refusal is armed
/// and binds it again afterwards (see "Connection refusal" in the crate docs); [`run`] and
/// [`Simulator::builder`] bind so that the port stays reserved.
///
/// # Errors
///
/// I/O errors from the listener.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: SimulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let gate = Arc::new(listener::Gate::new(&listener)?);
    let shared = shared_for(&base_url_for(addr, &config), &config, Arc::clone(&gate));
    listener::serve(listener, http::router(shared), gate, shutdown).await;
    Ok(())
}

/// Binds `addr` and serves until the process ends; calls `on_bound` with the base URL first
/// (a CLI prints it).
///
/// # Errors
///
/// Binding or listener I/O errors.
pub async fn run(
    addr: SocketAddr,
    config: SimulatorConfig,
    on_bound: impl FnOnce(&str),
) -> std::io::Result<()> {
    let listener = listener::bind(addr)?;
    let base = base_url_for(listener.local_addr()?, &config);
    on_bound(&base);
    serve(listener, config).await
}

/// Builder for an in-process [`Simulator`].
#[derive(Debug, Clone)]
pub struct SimulatorBuilder {
    config: SimulatorConfig,
    addr: SocketAddr,
}

impl SimulatorBuilder {
    /// Credentials the simulator accepts.
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.username = username.into();
        self.config.password = password.into();
        self
    }

    /// Address to bind (default `127.0.0.1:0`, an ephemeral port).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Base URL to advertise instead of `http://<bound address>`.
    #[must_use]
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_base_url = Some(url.into());
        self
    }

    /// Which operations are replayed by `Klarna-Idempotency-Key`: the default
    /// [`ReplayPolicy::Pessimistic`] (Order Management writes and T2 only), or
    /// [`ReplayPolicy::Optimistic`] (every mutating call, P1–P6 included).
    #[must_use]
    pub fn replay(mut self, policy: ReplayPolicy) -> Self {
        self.config.replay = policy;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// Binding errors.
    pub async fn start(self) -> std::io::Result<Simulator> {
        let listener = listener::bind(self.addr)?;
        let addr = listener.local_addr()?;
        let base_url = base_url_for(addr, &self.config);
        let gate = Arc::new(listener::Gate::new(&listener)?);
        let shared = shared_for(&base_url, &self.config, Arc::clone(&gate));
        let (tx, rx) = oneshot::channel::<()>();
        let app = http::router(Arc::clone(&shared));
        let task = tokio::spawn(listener::serve(listener, app, gate, async {
            let _ = rx.await;
        }));
        Ok(Simulator {
            shared,
            config: self.config,
            base_url,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running in-process simulator. Stops when dropped or on [`Simulator::shutdown`].
pub struct Simulator {
    shared: Arc<http::Shared>,
    config: SimulatorConfig,
    base_url: String,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts a simulator on `127.0.0.1:0` with the default credentials.
    ///
    /// # Errors
    ///
    /// Binding errors.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder with the defaults (`127.0.0.1:0`, `sim_user` / `sim_password`).
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder {
            config: SimulatorConfig::default(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The username the simulator accepts.
    pub fn username(&self) -> &str {
        &self.config.username
    }

    /// The password the simulator accepts.
    pub fn password(&self) -> &str {
        &self.config.password
    }

    /// The state engine (for direct inspection or in-process calls).
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The shopper's step for a session (same as `POST /sim/sessions/{id}/authorize`).
    ///
    /// # Errors
    ///
    /// [`SimError::Refused`] for an unknown, expired or completed session or bad shopper data.
    pub fn authorize(
        &self,
        session_id: &str,
        decision: ShopperDecision,
    ) -> Result<ShopperOutcome, SimError> {
        let v = http::authorize(&self.shared, session_id, &decision)
            .map_err(|r| SimError::from_reply(&r))?;
        Ok(ShopperOutcome {
            approved: v
                .get("approved")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            authorization_token: v
                .get("authorization_token")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Resolves a `PENDING` order's fraud review and sends the notification.
    ///
    /// # Errors
    ///
    /// [`SimError::Refused`] for an unknown order or one that is not `PENDING`.
    pub fn resolve_fraud(&self, order_id: &str, decision: FraudDecision) -> Result<(), SimError> {
        http::resolve_fraud(&self.shared, order_id, decision).map_err(|r| SimError::from_reply(&r))
    }

    /// Moves the simulated clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.engine.advance_clock(by);
    }

    /// Which operations are replayed by key now.
    pub fn replay_policy(&self) -> ReplayPolicy {
        self.shared.engine.replay_policy()
    }

    /// Switches the replay policy while running (same as `POST /sim/faults {"replay": ...}`).
    pub fn set_replay_policy(&self, policy: ReplayPolicy) {
        self.shared.engine.set_replay_policy(policy);
    }

    /// Refuses TCP connections for `window` of real time from now: connection attempts fail
    /// with `ECONNREFUSED` (a client's connect error), idle keep-alive connections are closed.
    /// A window already running is extended, never shortened; [`Duration::MAX`] refuses until
    /// [`Simulator::accept_connections`]. The `/sim/...` endpoints share the port, so they are
    /// unreachable meanwhile too.
    pub fn refuse_connections(&self, window: Duration) {
        self.shared.gate.refuse_for(window);
    }

    /// Ends any connection refusal now: when this returns, the simulator listens again (or, in
    /// the rare case that its port was taken meanwhile, keeps retrying every 50 ms).
    pub fn accept_connections(&self) {
        self.shared.gate.accept();
    }

    /// Whether connections are being refused now.
    pub fn refusing_connections(&self) -> bool {
        self.shared.gate.refusing()
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults().add(rule);
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Every order, oldest first.
    pub fn orders(&self) -> Vec<OrderSummary> {
        self.shared.engine.orders()
    }

    /// One order by id.
    pub fn order(&self, order_id: &str) -> Option<OrderSummary> {
        self.shared.engine.order(order_id)
    }

    /// Request counts per operation.
    pub fn stats(&self) -> Stats {
        self.shared.engine.stats()
    }

    /// Stops serving and waits (up to 5 s) for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
