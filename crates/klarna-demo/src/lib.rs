//! The Klarna toolkit's demo: payment scenarios end to end (four, and a second region), and a small demo shop.
//!
//! Two entry points, both filled from plain option structs (the `klarna demo` command line
//! maps its flags onto them):
//!
//! * [`run`] — with no configuration it starts the Klarna simulator in-process (two: the
//!   accounts of regions `eu` and `na`), opens a SQLite file in a temporary directory, and
//!   runs through the real [`klarna_payments::Klarna`] service and the real HTTP gateway:
//!   (1) a one-time purchase with capture and partial refund, (2) a subscription
//!   (`tokenize`) with two token charges and a cancelled token, (3) `buy_and_tokenize`,
//!   (4) a cart change after authorization and a declined shopper, (5) a US purchase at the
//!   `na` account and an Australian one refused (no `oc` account).
//!   It prints every stage as it happens and a summary table, and returns a [`DemoReport`]
//!   that says which steps landed where they should.
//! * [`serve`] — a demo shop (cart, checkout with Klarna's JS SDK or the simulator's
//!   stand-in, a subscription with "charge again", an admin page with capture / refund /
//!   cancel behind the operator's login) on `http://127.0.0.1:8080`. [`start_shop`] does the
//!   same on any address and hands back a [`Shop`] handle (tests use it).
//!
//! ```no_run
//! # async fn demo() -> Result<(), klarna_demo::DemoError> {
//! let report = klarna_demo::run(klarna_demo::DemoOptions::default()).await?;
//! std::process::exit(if report.all_landed() { 0 } else { 1 });
//! # }
//! ```
//!
//! # The demo shop's pages
//!
//! Locked down in three layers, each its own module: `guard` refuses a `Host` that is not the
//! shop's (the bound address, `localhost:<port>`, the host of [`ServeOptions::public_url`]) with
//! 421 and a non-`GET` whose `Origin` is another site's with 403; `csrf` gives every client a
//! token in an HttpOnly, `SameSite=Strict` cookie, every form carries it in a hidden `csrf`
//! field, and a `POST` without the matching field is 403 before any handler runs (the Klarna
//! routes under `/klarna` sit outside it: `klarna-axum` takes JSON only, checks the `Origin`
//! and authenticates with the payment's or the callback secret); `admin_auth` puts every `/admin` route
//! behind an operator session. Open checkouts are bounded per client address
//! ([`ServeOptions::max_open_checkouts`]).
//!
//! | route | what | stable element ids |
//! |---|---|---|
//! | any | a foreign `Host` → 421; a `POST` with a foreign `Origin` or without the client's CSRF token → 403, nothing changed | |
//! | `GET /` | cart and subscription | `qty-<sku>`, `checkout-button`, `subscribe-button` |
//! | `POST /checkout`, `POST /subscribe` | open a session (intent `buy` / `tokenize`), redirect to the checkout | (a tampered `price-<sku>` or bad `qty-<sku>` → 400 page with `error`; more open checkouts than the bound from this client → 429, nothing started) |
//! | `GET /checkout/{payment}` | Klarna's widget with `klarna-axum`'s snippets: `init` → `load` for the chosen category → `authorize` (Klarna's window: approve, decline, close, fix a field) → `finalize` when Klarna asks; the snippet posts the token with the payment's secret to `/klarna/payments/{payment}/complete`, then the page follows to the confirmation | `klarna-payments-container`, `klarna-status`, `authorize-button`, `category-<id>`, `klarna-error`, `klarna-review`, `finalize-button`, `payment-id`, `cart-total` |
//! | `/klarna/…` | the routes of `klarna-axum` ([`klarna_axum::KlarnaRoutes`], without the browser's start: the shop starts payments from its catalog): `PUT /klarna/payments/{payment}/cart` (held to the catalog), `POST /klarna/payments/{payment}/complete` (order, or customer token and the first month's charge), `POST /klarna/callbacks/authorization?secret=…` and `/notification?secret=…` (the secret is `KLARNA_DEMO_CALLBACK_SECRET` or derived from the store key, so it survives a restart with the store, compared in constant time) | JSON errors `{error, field?, message}` |
//! | `GET /payments/{payment}` | confirmation, subscription charges | `confirmation`, `payment-id`, `payment-stage`, `order-id`, `charge-again-button`, `charge-result` |
//! | `POST /subscriptions/{payment}/charge` | charge the customer token for the next period only (`charge_id` = `{payment}-period-{n+1}` after n charges; the last one again is shown, not charged; any other → 400) | |
//! | `GET /admin/login`, `POST /admin/login`, `POST /admin/logout` | the operator's login: `token` = [`Shop::operator_token`] (printed at start, or `KLARNA_DEMO_ADMIN_TOKEN`), compared in constant time; sets an HttpOnly, `SameSite=Strict` session cookie (`Secure` when [`ServeOptions::public_url`] is https; a wrong token → 403); the logout ends the session at the shop | `admin-token`, `login-button`, `error`, `logout-button` |
//! | `GET /admin` | the **review queue** (payments in `NeedsReview`, their reference at Klarna and why) and every payment with stage, amounts, Klarna ids, and under each order its captures (lines, shipping info) and refunds (lines) | `review-queue`, rows `review-<id>`, `review-empty`; `admin-payments`, rows `payment-<id>`, `capture-<id>` (with `capture-carrier-<id>`, `capture-tracking-<id>`), `refund-<id>`, `refund-amount-<id>`, `cancel-<id>`, `complete-<id>`, `ledger-<id>` with `capture-record-<capture>` and `refund-record-<refund>`, `message`, `error` (without an operator session: a redirect to `/admin/login`; every `POST /admin/…` → 403) |
//! | `POST /admin/orders/{order}/capture` | capture what remains; the first capture of the whole order sends the cart's lines, with the shipping info of `shipping_company` / `tracking_number` | |
//! | `POST /admin/orders/{order}/captures/{capture}/shipping-info` | add shipping info to a capture made earlier | `ship-carrier-<capture>`, `ship-tracking-<capture>`, `ship-<capture>` |
//! | `POST /admin/payments/{payment}/resolve-order`, `…/resolve-none` | resolve a payment in review: `order_id` (Klarna's order, checked with Order Management before anything is written; a mismatch is refused) or `reason` (no order exists: the payment ends cancelled) | `resolve-order-id-<id>`, `resolve-order-<id>`, `resolve-reason-<id>`, `resolve-none-<id>` |
//!
//! With `playground: true` and `KLARNA_USERNAME` / `KLARNA_PASSWORD` (and `KLARNA_REGION`) set,
//! both target Klarna's playground instead. The shopper's step then needs a real browser:
//! [`run`] does what is possible server-side (it opens the sessions and prints their ids) and
//! reports the rest as skipped; [`serve`] loads Klarna's real SDK from
//! `https://x.klarnacdn.net/kp/lib/v1/api.js`.

mod admin_auth;
mod backend;
pub mod catalog;
mod csrf;
mod guard;
mod limit;
mod pages;
mod report;
mod scenarios;
mod secret;
mod shop;

use std::net::SocketAddr;

use klarna_payments::StoreKey;

pub use report::{DemoReport, Outcome, StepReport};
pub use scenarios::run;
pub use shop::{Shop, serve, start_shop};

/// Options of [`run`]. `Default` is the offline demo: simulator in-process, SQLite in a
/// temporary directory.
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    /// Target Klarna's playground with `KLARNA_USERNAME` / `KLARNA_PASSWORD` (and
    /// `KLARNA_REGION`) instead of the in-process simulator.
    pub playground: bool,
    /// The store: `sqlite://klarna-demo.db?mode=rwc`, `memory:`, `postgres://…`. Default: a
    /// SQLite file in a temporary directory, removed afterwards. A store that outlives the run
    /// (a file you name, PostgreSQL) needs an explicit key, [`DemoOptions::store_key`] or
    /// `KLARNA_STORE_KEY`; otherwise the run is a [`DemoError::Config`]. No key file is
    /// written.
    pub store_url: Option<String>,
    /// The key that encrypts the store's tokens; default `KLARNA_STORE_KEY` (64 hex digits),
    /// else, for a store that dies with the run, a key generated for it.
    pub store_key: Option<StoreKey>,
}

/// Options of [`serve`] and [`start_shop`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// As [`DemoOptions::playground`]; the checkout then loads Klarna's real SDK.
    pub playground: bool,
    /// As [`DemoOptions::store_url`].
    pub store_url: Option<String>,
    /// As [`DemoOptions::store_key`]. The callback secret in Klarna's callback URLs is
    /// derived from it (unless `KLARNA_DEMO_CALLBACK_SECRET` is set), so it survives a
    /// restart exactly when the store's tokens do.
    pub store_key: Option<StoreKey>,
    /// Where to listen (default `127.0.0.1:8080`; port `0` picks a free one).
    pub addr: SocketAddr,
    /// The shop's public base URL, for Klarna's callbacks (`merchant_urls.authorization`).
    /// Default `http://<addr>`; against the playground it must be an HTTPS URL Klarna can
    /// reach (a tunnel), else the callback is simply not received and the browser's copy of
    /// the authorization is used.
    ///
    /// Its host is also one the shop answers to: requests whose `Host` is not the bound
    /// address, `localhost:<port>` or this URL's host are refused (DNS rebinding).
    pub public_url: Option<String>,
    /// At most this many open checkouts (sessions started, not yet completed or cancelled) per
    /// client address; beyond it `POST /checkout` and `POST /subscribe` answer 429 and start
    /// nothing. Default 20. The address is the TCP peer's: behind a tunnel or proxy every
    /// shopper shares the tunnel's.
    pub max_open_checkouts: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            playground: false,
            store_url: None,
            store_key: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_open_checkouts: 20,
        }
    }
}

/// Why the demo could not run (a step that does not land is not an error: it is in the
/// [`DemoReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The configuration is incomplete or invalid (e.g. `--playground` without credentials).
    #[error("configuration: {0}")]
    Config(String),
    /// The service could not be wired (store, gateway).
    #[error(transparent)]
    Build(#[from] klarna_payments::BuildError),
    /// Starting the simulator or binding the shop's address failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
