//! A stateful local Klarna: the simulator for offline runs and tests.
//!
//! `klarna-simulator` is a real HTTP server (axum) that behaves like Klarna Payments, the
//! Customer Token API and Order Management for every operation of `shared/klarna/API.md` §0
//! (P1–P6, T1–T3, O1–O18): Klarna's paths, status codes, error bodies
//! (`error_code`, `error_messages`, `correlation_id`) and a `Klarna-Correlation-Id` header on
//! every response. It keeps state (sessions, authorizations, customer tokens, orders with
//! captures and refunds), validates requests the way Klarna does (independently of
//! `klarna-domain`, so the two check each other), replays requests by idempotency key where
//! Klarna documents it (pessimistic by default, see [`ReplayPolicy`]), runs lifetimes on a
//! controllable clock, and injects faults, down to refused connections.
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
//! Other ways to run it: [`Simulator::builder`] (credentials, address, replay policy), and [`serve`] /
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
//!   token and the old one is gone (`404`). An order (P5) consumes the authorization: a second
//!   P5, same key or not, and any later P6 get `403 INVALID_OPERATION "Authorization token
//!   already consumed"` (API.md §2.5, §11.2). With `buy_and_tokenize` the customer token comes
//!   first, as Klarna's recurring guide and the WooCommerce integration do it: P6, then P5, on
//!   the same authorization (P2 says `incomplete` between the two and `complete` after the
//!   order). With `tokenize` P6 consumes it (a second P6 → `403`). P6 on intent `buy` and P5 on
//!   intent `tokenize` → `403 INVALID_OPERATION`. A cart, currency,
//!   country or address that differs from the authorized one → `409 BAD_VALUE "Not matching
//!   fields: [...]"`.
//! * **Customer tokens** are `ACTIVE` until T3 cancels them (`202`, plain text); charging a
//!   cancelled token → `403 TOKEN_CANCELED`, an unknown one → `404 TOKEN_NOT_FOUND`.
//! * **Orders** (UUID ids) follow `AUTHORIZED → PART_CAPTURED → CAPTURED`, `CANCELLED`,
//!   `EXPIRED` (28 days without capture), `CLOSED` (after releasing the remaining authorization,
//!   or expiry after a partial capture), with Klarna's 403 codes (`CAPTURE_NOT_ALLOWED`,
//!   `REFUND_NOT_ALLOWED`, `CANCEL_NOT_ALLOWED`, `NOT_ALLOWED`) and `404 NO_SUCH_ORDER`. Captures
//!   are refused while fraud status is not `ACCEPTED`. A fraud `REJECTED` decision cancels the
//!   order. Klarna can stop an order it accepted (`STOPPED`, API.md §11.3): the order stays as
//!   it is (pessimistic: Klarna documents no cancel), reads show `fraud_status` `STOPPED`,
//!   captures are refused (`403 CAPTURE_NOT_ALLOWED`), and `FRAUD_RISK_STOPPED` is sent; an
//!   `ACCEPTED` decision lifts the stop.
//! * **Idempotency**, by [`ReplayPolicy`]. The default, [`ReplayPolicy::Pessimistic`], honours
//!   `Klarna-Idempotency-Key` only where Klarna documents it (API.md §1.4): Order Management
//!   writes and the token charge T2 ([`Operation::documents_idempotency_key`]). A repeated key
//!   there replays the first response — status, headers, body — for 24 h of simulator time.
//!   A Payments API call (P1–P6) or T3 sent again with the same key runs again and answers
//!   whatever the state says now: a second P5 is `403` "already consumed", so a client that
//!   lost a P5 answer cannot recover the order id by retrying. [`ReplayPolicy::Optimistic`]
//!   (opt-in: [`SimulatorBuilder::replay`], [`SimulatorConfig::replay`],
//!   [`Simulator::set_replay_policy`], `POST /sim/faults {"replay": "optimistic"}`,
//!   `klarna sim --optimistic-replay`) replays every mutating operation, P1–P6 included, as
//!   the simulator did before. Either way matching is by key only, as at Klarna, and 5xx
//!   answers are not recorded.
//! * **Keys in flight**: while a request with a replayed key is being handled (from its
//!   acceptance until its answer is handed to the connection, so across `latency` and
//!   `latency_after_effect`), a second request with that key is answered `409 CONFLICT` ("A
//!   request with the same idempotency key is still being processed") without running and
//!   without being recorded, as Klarna's Order Management does. Only keys the policy replays
//!   are marked: under the default, two concurrent P5 with one key both run.
//! * **Settlements** (Settlements API v1, `/settlements/v1/...`, `docs/klarna/settlements.md`
//!   §5, module [`settlements`]): captures and refunds recorded on UTC day `D` settle in the
//!   payout dated `D+1T00:00:00Z`, which exists once the clock is at or past it (nothing
//!   recorded today is settled); one payout per currency and day, `payment_reference`
//!   `SIM-<CURRENCY>-<YYYYMMDD>`; per capture a `SALE` and two `FEE`s (2.9 % rounded half up
//!   in integer arithmetic, and a fixed 1.00), per refund a `RETURN`; `settlement_amount =
//!   sale − return − fee`. Filters, `size` (default 20, 1–500, else `400 BAD_VALUE`) and
//!   `offset`, `404 NOT_FOUND` for an unknown payout, CSV reports (a header row and one row
//!   per transaction) and a PDF placeholder. Faults and stats do not cover these reads.
//! * **Clock**: simulator time = real time + an offset that only grows
//!   ([`Simulator::advance_clock`], `POST /sim/clock/advance`).
//! * **Memory**: expired state is evicted by a lazy sweep (at most once per simulated minute):
//!   sessions 48 h after expiry, authorizations a day after theirs, idempotency entries after
//!   24 h. Customer tokens and orders are kept. Sessions are stored as typed fields over one
//!   string buffer each.
//! * **Callbacks**: after a shopper step that issues a token (an approving `authorize`, or
//!   the `finalize` one awaited), if the session has
//!   `merchant_urls.authorization`, the simulator POSTs `{"authorization_token", "session_id"}`
//!   there (spawned, up to 3 attempts, 1 s/2 s back-off). Resolving fraud review POSTs
//!   `{"order_id", "event_type"}` to the order's `merchant_urls.notification` (from P5, else the
//!   session), with `{order.id}`/`{session.id}` substituted.
//!
//! # Simulator-only endpoints (`/sim/...`, no authentication)
//!
//! | endpoint | meaning |
//! |---|---|
//! | `POST /sim/sessions/{id}/authorize` | the shopper's `authorize()`, body [`ShopperDecision`] `{"approve": bool, "payment_method_category"?: "klarna"\|"pay_now"\|"pay_over_time", "auto_finalize"?: bool, "invalid_fields"?: [...], "billing_address"?, "shipping_address"?, "customer"?, "order_amount"?, "order_tax_amount"?, "order_lines"?, "fraud_status"?: "ACCEPTED"\|"PENDING"\|"REJECTED"}` → `200 {"approved": true, "show_form": true, "authorization_token": "...", "finalize_required": false}`; for `pay_now` with `auto_finalize: false` `{"approved": true, "show_form": true, "finalize_required": true}` (no token); a fixable decline `{"approved": false, "show_form": true, "error": {"invalid_fields": [...]}}`; a decline `{"approved": false, "show_form": false}`. A cart in the body updates the session (checked as P3 is). CORS-enabled for the JS stand-in |
//! | `POST /sim/sessions/{id}/finalize` | the shopper's `finalize()`, same body: issues the token an `authorize` left awaiting (`{"approved": true, "show_form": true, "authorization_token": "..."}`), or declines; `403 INVALID_OPERATION` when nothing awaits or after 60 minutes |
//! | `GET /sim/sessions/{id}/summary` | what the JS stand-in's dialog shows, for the holder of the session's client token (`Authorization: Bearer <client_token>`; without it or with another session's `401 UNAUTHORIZED`, an unknown or expired session `404 NOT_FOUND`): `200 {"purchase_currency", "locale", "order_amount", "order_tax_amount", "order_lines": [{"name", "quantity", "total_amount"}], "payment_method_categories": [{"identifier", "name", "needs_finalize"}], "billing_address"?, "customer"?: {"type"}}` — the billing address as P2 shows it (the shopper's own, which the dialog prefills and sends back with the e-mail), of the customer only `type` (no date of birth or national id), no shipping address. `needs_finalize`: the category answers `finalize_required` with `auto_finalize: false`. CORS-enabled, `Cache-Control: no-store` |
//! | `POST /sim/clock/advance` | body `{"seconds": N}` → `{"now": "<RFC 3339>"}` |
//! | `GET /sim/clock` | `{"now": "<RFC 3339>"}` |
//! | `POST /sim/faults` | add one [`FaultRule`], an array of them, or `{"rules"?: [...], "replay"?: "pessimistic"\|"optimistic"}` (the [`ReplayPolicy`] switch) → `{"rules": [...], "replay": "..."}` |
//! | `GET /sim/faults` | the live rules and the replay policy |
//! | `DELETE /sim/faults` | clear all rules (`204`; the replay policy stays) |
//! | `POST /sim/connections/refuse` | body `{"ms": N}` → `200 {"refusing_ms": N}`, then connections are refused for N ms (this endpoint shares the port, so it is unreachable meanwhile too) |
//! | `GET /sim/orders` | every order as [`OrderSummary`] (amounts, status, `merchant_reference1/2`, [`OrderSource`]) |
//! | `GET /sim/orders/{id}` | one [`OrderSummary`] |
//! | `POST /sim/orders/{id}/fraud` | body `{"decision": "ACCEPTED"\|"REJECTED"\|"STOPPED"}` resolves a `PENDING` order, `STOPPED` also stops an `ACCEPTED` open one, `ACCEPTED` lifts a stop (`204`), and notifies; otherwise `409 CONFLICT` |
//! | `GET /sim/stats` | [`Stats`]: per operation name, requests, calls held by `latency` and held calls abandoned |
//! | `GET /sim/js/klarna-payments.js` | the `window.Klarna.Payments` stand-in (`init`, `load`, `authorize`, `reauthorize`, `finalize`, Klarna's error names, `window.klarnaAsyncCallback`). `authorize`/`reauthorize` open a shopper's dialog (`#klarna-sim-modal`: the cart, the shopper, the categories, Pay, a "Simulator" section to decline or pick the fraud status, Close/Escape), `finalize` one to confirm. Automation mode, no dialog: `window.KLARNA_SIM_HEADLESS = true`, or set `window.KLARNA_SIM_DECLINE` (`true` declines), `window.KLARNA_SIM_INVALID_FIELDS = ["billing_address.email"]` (a fixable decline) or `window.KLARNA_SIM_FRAUD_STATUS = "PENDING"` (fraud review). Ids and answers: the stand-in's docs in `src/js.rs` |
//! | `GET /sim/redirect/{order_id}` | the order's `redirect_url`: `302` to `merchant_urls.confirmation` |
//! | `GET /sim/hpp/{id}` | an HPP session as [`HppSessionState`]: `{"session_id", "payment_session_id", "status", "place_order_mode", "expires_at", "expired", "order_id", "authorized", "distributions": [{"method", "contact_information", "at"}]}` (`404` unknown) |
//!
//! # Hosted Payment Page (`docs/klarna/hpp.md`)
//!
//! Klarna's HPP API v1, with Basic auth like every Klarna path (HPP calls are not counted in
//! [`Stats`] and not subject to fault rules; `Klarna-Idempotency-Key` is ignored there):
//!
//! | endpoint | answer |
//! |---|---|
//! | `POST /hpp/v1/sessions` | `201 {"session_id", "redirect_url": "{base}/hpp/pay/{id}", "session_url": "{base}/hpp/v1/sessions/{id}", "distribution_url": "…/distribution", "qr_code_url": "{base}/hpp/pay/{id}/qr", "expires_at"}` (KP session expiry − 1 h). `payment_session_url` must be `{base}/payments/v1/sessions/{kp_id}` of this simulator (else `400 BAD_VALUE "Bad value: payment_session_url"`, also for a KP session already `complete`); an unknown or expired KP session (or one expiring within the hour) is `404 NOT_FOUND "Payment session has expired"`; `merchant_urls.*` must be absolute http(s) URLs (`400 BAD_VALUE "Bad value: merchant_urls.success"`), `options.place_order_mode` one of `NONE` (the default), `PLACE_ORDER`, `CAPTURE_ORDER` |
//! | `GET /hpp/v1/sessions/{id}` | `200 {"session_id", "status", "updated_at", "expires_at", "authorization_token"?, "order_id"?}`; `404 NOT_FOUND` past `expires_at`, whatever the status |
//! | `DELETE /hpp/v1/sessions/{id}` | `204`, status `DISABLED` (again: `204`); `400 BAD_REQUEST` when `COMPLETED` or `CANCELLED` or while a payment runs; `404` past expiry |
//! | `POST /hpp/v1/sessions/{id}/distribution` | `{"method": "email"\|"sms"\|"token", "contact_information": {...}}` → `201`, recorded (nothing is sent; see `GET /sim/hpp/{id}`); `400 MISSING_CONTACT_DATA "Missing contact data: contact_information.email"` (or `.phone`, `.phone_country`, `.access_id`), `400 CONSTRAINT_VIOLATION` for a malformed e-mail, phone, country or method, `400 BAD_REQUEST` once final, `404` past expiry |
//!
//! The hosted page (no authentication, plain HTML, no script or external assets, every session
//! value escaped as text; `Content-Security-Policy: default-src 'none'`):
//!
//! | endpoint | meaning |
//! |---|---|
//! | `GET /hpp/pay/{id}` | the page: title (`options.page_title`), `#hpp-status`, the lines and `#hpp-total` (`"1747.00 SEK"`), buttons `#hpp-pay`, `#hpp-cancel`, `#hpp-back` and, in a "Simulator" section, `#hpp-decline`. Opening it moves `WAITING`, `BACK`, `FAILED` or `ERROR` to `IN_PROGRESS`. A final session shows `#hpp-closed` and no buttons; an expired one `#hpp-expired` (`404`) |
//! | `POST /hpp/pay/{id}/pay` | the shopper's approving step on the KP session (the same as `POST /sim/sessions/{id}/authorize` with `{"approve": true}`, including its authorization callback), then by `place_order_mode`: `NONE` → `COMPLETED` with `authorization_token`; `PLACE_ORDER` → the engine's P5 with the authorized data (the order carries the session's `merchant_reference1` etc.; the token is consumed) → `COMPLETED` with `order_id`; `CAPTURE_ORDER` → the same with `auto_capture` (captured fully when fraud status is `ACCEPTED`). `303` to `merchant_urls.success` with `{{session_id}}`, `{{authorization_token}}` and `{{order_id}}` replaced (percent-encoded), or to the result page. If the KP session refuses (expired, completed elsewhere) or P5 does: `ERROR` → `error` URL |
//! | `POST /hpp/pay/{id}/decline` | "Simulate a decline": a declining shopper step → `FAILED` (not final: Pay again works) → `failure` URL |
//! | `POST /hpp/pay/{id}/cancel` | `CANCELLED` (final) → `cancel` URL |
//! | `POST /hpp/pay/{id}/back` | `BACK` (not final) → `back` URL |
//! | `GET /hpp/pay/{id}/result` | the simulator's result page (no merchant URL for the outcome): `#hpp-result` with `data-status`, `#hpp-order` when an order was placed |
//! | `GET /hpp/pay/{id}/qr` | an SVG placeholder for `qr_code_url` (not a real QR code) |
//!
//! An action on a final or busy session changes nothing and shows the page again (`409`); on an
//! expired one, `404`. Every status change POSTs `merchant_urls.status_update` (placeholders
//! filled) with `{"event_id": "<uuid>", "session": {"session_id", "status", "updated_at",
//! "expires_at", "authorization_token"?, "order_id"?}}`, spawned, up to 3 attempts (as the other
//! callbacks); creation sends none.
//!
//! The `client_token` is JWT-shaped (`header.payload.signature`, base64url); its payload holds
//! `session_id`, `base_url` and the session's `payment_method_categories` (identifiers), which
//! is how the JS stand-in finds the session and checks categories.
//!
//! Every session offers three payment method categories, in this order: `klarna` (pay later,
//! one step), `pay_now`, which with `auto_finalize: false` needs `finalize()` (API.md §5,
//! §11.10), and `pay_over_time` (pay in parts or finance, one step).
//! [`ShopperDecision::in_category`], [`ShopperDecision::without_auto_finalize`],
//! [`ShopperDecision::fixable`] and [`Simulator::finalize`] drive the same steps in-process.
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
//! {"operation": "orders.refund", "fault": {"kind": "latency_after_effect", "ms": 40000}}
//! {"operation": "payments.create_order", "fault": {"kind": "refuse_connections", "ms": 2000, "after_effect": true}}
//! {"operation": "orders.update_authorization", "fault": {"kind": "refuse"}}
//! ```
//!
//! | fault | before or after the effect | what the client sees |
//! |---|---|---|
//! | `latency` | waits `ms` (real time), then handles the call normally | a slow answer; if the client gives up during the wait, the simulator normally notices the closed connection and abandons the call before its effect (not promised: a test waits for [`Stats::abandoned`], counted once the call's key left flight, not for time; [`Stats::held`] counts a hold once begun) |
//! | `status` | instead of the effect | that status with a Klarna error body |
//! | `rate_limit` | instead of the effect | `429` with `Retry-After` |
//! | `refuse` | instead of the effect | `403` with the operation's documented refusal code (`CAPTURE_NOT_ALLOWED`, `REFUND_NOT_ALLOWED`, `CANCEL_NOT_ALLOWED`, else `NOT_ALLOWED`): e.g. Klarna's risk check declining to raise an authorization |
//! | `drop_before_effect` | instead of the effect | a transport error (the connection is aborted) |
//! | `drop_after_effect` | after the effect (its replay entry recorded) | a transport error although the effect happened |
//! | `latency_after_effect` | after the effect (its replay entry recorded), the answer is held `ms` | a timeout if its whole deadline is shorter; the key stays in flight for the whole hold even if the client leaves, so its retry meanwhile gets `409 CONFLICT` |
//! | `refuse_connections` | after the effect if `after_effect` (default `false`: no effect) | this call: a transport error; every connection attempt for the next `ms` ms: a connect error (`ECONNREFUSED`) |
//!
//! The rule holds throughout: a call dropped before its effect leaves nothing at Klarna (no
//! state, no replay entry, no in-flight mark). `times` defaults to 1.
//!
//! # Connection refusal
//!
//! A TCP connection the kernel accepted is not "refused", whatever the server does next, so the
//! simulator serves through its own accept loop and refuses by not listening: it calls
//! `shutdown(SHUT_RD)` on its listening socket (Linux ends the listen state; attempts get a
//! reset, which clients see as `ECONNREFUSED`, reqwest as `is_connect()`) and `listen()` again
//! on the same socket when the refusal ends. The socket stays bound meanwhile, so the port
//! cannot be taken by anyone else: [`Simulator::builder`] and [`run`] bind an explicit port
//! (for `:0`, a free port is picked, then bound explicitly). A listener bound to port 0 by the
//! caller of [`serve`] loses its port while not listening; it is bound again afterwards, with a
//! retry every 50 ms if the port was taken. When a refusal starts, idle keep-alive connections
//! are closed (busy ones after their answer) so pooled clients must connect again; a request
//! sent on a pooled connection at that very moment may still get through.
//!
//! The refusal is a window of real time, not a count of attempts (a socket that does not listen
//! cannot count what it refuses): the `refuse_connections` fault (armed by the call it matches,
//! before that call's connection is closed, so the client's retry is refused),
//! [`Simulator::refuse_connections`] (a window, or until [`Simulator::accept_connections`] with
//! [`Duration::MAX`]), or `POST /sim/connections/refuse`. Windows extend, never shorten, one
//! another. Elsewhere than Linux the listening socket may not stop listening; the simulator
//! then logs a warning and keeps accepting.
//!
//! # Performance
//!
//! Measured on the 2-core build machine (shared with other jobs), release build, before the
//! simulator had its own accept loop (which serves each connection as `axum::serve` did):
//! `cargo bench -p klarna-simulator --bench throughput` — create-session over keep-alive on
//! loopback ≈ 26,000/s with 64 requests in flight (≈ 9,800/s one at a time), read-session
//! ≈ 28,000/s (≈ 33,000/s one at a time), client included on the same cores.
//! `cargo run --release -p klarna-simulator --example memory` — 100,000 live sessions with
//! Klarna's example cart: ≈ 144 MiB resident growth (≈ 1.5 KB per session).

mod clock;
mod engine;
mod faults;
mod hpp_page;
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

pub use engine::settlements;
pub use engine::{
    Engine, FraudDecision, HppPageAction, HppSessionState, OrderSource, OrderSummary, Population,
    ReplayPolicy, Reply, ShopperDecision, Stats,
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

/// Result of the shopper step, as Klarna's SDK hands it to the `authorize` / `finalize`
/// callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopperOutcome {
    /// Whether the authorization was approved.
    pub approved: bool,
    /// The new authorization token when approved (and no finalize pending).
    pub authorization_token: Option<String>,
    /// `false` after a final decline (remove Klarna from the page); `true` otherwise, also for
    /// a fixable decline.
    pub show_form: bool,
    /// `true` when the approval waits for [`Simulator::finalize`] and there is no token yet.
    pub finalize_required: bool,
    /// The fields a fixable decline names (`error.invalid_fields`); empty otherwise.
    pub invalid_fields: Vec<String>,
}

impl ShopperOutcome {
    fn from_json(v: &serde_json::Value) -> Self {
        let flag = |k: &str| v.get(k).and_then(serde_json::Value::as_bool);
        Self {
            approved: flag("approved").unwrap_or(false),
            authorization_token: v
                .get("authorization_token")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            show_form: flag("show_form").unwrap_or(false),
            finalize_required: flag("finalize_required").unwrap_or(false),
            invalid_fields: v
                .pointer("/error/invalid_fields")
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(serde_json::Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
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
        Ok(ShopperOutcome::from_json(&v))
    }

    /// The shopper's `finalize()` for a session whose `authorize` answered `finalize_required`
    /// (same as `POST /sim/sessions/{id}/finalize`): an approving decision issues the token.
    ///
    /// # Errors
    ///
    /// [`SimError::Refused`]: `403 INVALID_OPERATION` when no authorization awaits finalize (or
    /// the wait is over 60 minutes old), `400 BAD_VALUE` for another category or bad shopper
    /// data, and as [`Simulator::authorize`] for the session itself.
    pub fn finalize(
        &self,
        session_id: &str,
        decision: ShopperDecision,
    ) -> Result<ShopperOutcome, SimError> {
        let v = http::finalize(&self.shared, session_id, &decision)
            .map_err(|r| SimError::from_reply(&r))?;
        Ok(ShopperOutcome::from_json(&v))
    }

    /// Resolves a `PENDING` order's fraud review, stops an `ACCEPTED` order
    /// ([`FraudDecision::Stopped`]) or lifts a stop ([`FraudDecision::Accepted`]), and sends
    /// the notification.
    ///
    /// # Errors
    ///
    /// [`SimError::Refused`] for an unknown order or a decision that does not apply to its
    /// fraud status.
    pub fn resolve_fraud(&self, order_id: &str, decision: FraudDecision) -> Result<(), SimError> {
        http::resolve_fraud(&self.shared, order_id, decision).map_err(|r| SimError::from_reply(&r))
    }

    /// Makes a customer token forbidden to this merchant: its charges answer
    /// `403 TOKEN_FORBIDDEN` from now on. `false` for an unknown token.
    pub fn forbid_token(&self, token_id: &str) -> bool {
        self.shared.engine.forbid_token(token_id)
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

    /// One Hosted Payment Page session's state (status, mode, order, recorded distributions),
    /// as `GET /sim/hpp/{id}` answers it; `None` for an unknown id.
    pub fn hpp_session(&self, hpp_session_id: &str) -> Option<HppSessionState> {
        self.shared.engine.hpp_session(hpp_session_id)
    }

    /// The shopper opens the hosted page of an HPP session (as `GET /hpp/pay/{id}`): `WAITING`,
    /// `BACK`, `FAILED` or `ERROR` move to `IN_PROGRESS`, with the status callback. `false` for
    /// an unknown id.
    pub fn hpp_open(&self, hpp_session_id: &str) -> bool {
        match self.shared.engine.hpp_open(hpp_session_id) {
            Some((_, callback)) => {
                if let Some(cb) = callback {
                    self.shared.spawn_callback(cb);
                }
                true
            }
            None => false,
        }
    }

    /// The shopper presses a button of the hosted page (as `POST /hpp/pay/{id}/pay`, …), with
    /// the callbacks it owes. Answers where the browser would be sent: the merchant URL of the
    /// outcome with its placeholders filled, or `None` for the simulator's result page.
    ///
    /// # Errors
    ///
    /// [`SimError::Refused`] (`409 CONFLICT`) when the session is final or a payment is running,
    /// (`404 NOT_FOUND`) when it is unknown or expired; nothing changes then.
    pub fn hpp_act(
        &self,
        hpp_session_id: &str,
        action: HppPageAction,
    ) -> Result<Option<String>, SimError> {
        match self.shared.engine.hpp_action(hpp_session_id, action) {
            Ok(outcome) => {
                for cb in outcome.callbacks {
                    self.shared.spawn_callback(cb);
                }
                Ok(outcome.redirect)
            }
            Err(Some(view)) if !view.expired => Err(SimError::Refused {
                status: 409,
                code: "CONFLICT".to_owned(),
                message: "The HPP session is closed or a payment is running".to_owned(),
            }),
            Err(_) => Err(SimError::Refused {
                status: 404,
                code: "NOT_FOUND".to_owned(),
                message: "HPP session has expired or could not be found".to_owned(),
            }),
        }
    }

    /// Request counts per operation, and the calls `latency` faults held and abandoned.
    pub fn stats(&self) -> Stats {
        self.shared.engine.stats()
    }

    /// Waits until the counters satisfy `ready` (checked now, then after every change) and
    /// answers them: for a test to wait for a call to be held, or abandoned, rather than poll
    /// or guess. It waits for ever if they never do: bound it with a timeout.
    pub async fn stats_when(&self, ready: impl FnMut(&Stats) -> bool) -> Stats {
        self.shared.engine.stats_when(ready).await
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
