//! The web side of a Klarna Payments integration for axum: a router a merchant nests, with the endpoints the shop's page and Klarna call, authenticated, idempotent and locked down.
//!
//! [`KlarnaRoutes`] serves, over the facade's [`Klarna`] service:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /payments` | `{intent, cart, merchant?}` | 201 `{payment_id, session_id, client_token, payment_method_categories, payment_secret}` |
//! | `PUT /payments/{id}/cart` | `{cart}` | 200 the payment (`{payment_id, stage, order_id?, fraud_status?, tokenized}`) |
//! | `POST /payments/{id}/complete` | `{authorization_token}` | 200 the completed payment |
//! | `POST /callbacks/authorization?secret=…` | Klarna's `{authorization_token, session_id}` | 204 |
//! | `POST /callbacks/notification?secret=…` | Klarna's `{order_id, event_type}` | 204 |
//!
//! A cart is `{purchase_country, purchase_currency, locale, order_lines: [{name, quantity,
//! unit_price, tax_rate?, total_discount_amount?, type?, reference?, subscription?, …}]}` in
//! minor units; totals and taxes are computed by the domain (and checked when declared).
//! **Prices come from the browser**: hold them to your catalog with
//! [`KlarnaRoutes::cart_check`], which sees every cart before anything is sent or stored.
//!
//! # Security model
//!
//! * **The payment secret.** `POST /payments` answers `payment_secret`, an HMAC-SHA256 of the
//!   payment id under the configured capability key. Changing the cart and completing require
//!   it in the [`PAYMENT_SECRET_HEADER`] header (401 without, 403 when wrong, compared in
//!   constant time); nothing is stored, so it survives restarts as long as the key does.
//! * **Callbacks.** Klarna's callbacks carry no authentication of their own (API.md §1.10):
//!   their URLs carry a secret in `?secret=` ([`RoutesConfig::merchant_urls`]), compared in
//!   constant time. They are idempotent: a repeat changes nothing and answers 204.
//! * **Cross-site requests.** Every endpoint takes `Content-Type: application/json` only (415
//!   otherwise), which an HTML form on another site cannot send without a CORS preflight; and
//!   the browser endpoints refuse an `Origin` outside the allowed origins (403). Callbacks come
//!   server to server, so they have no origin check: the secret authenticates them.
//! * **Limits.** A body limit (413, nothing stored) and a bound on requests in flight.
//! * **Errors** are [`ApiError`]: `{"error": code, "field"?: …, "message": …}` with the
//!   status the service's error calls for. No body or log line carries a token, a secret or
//!   personal data.
//!
//! # Mount it
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::Router;
//! use klarna_axum::{KlarnaRoutes, RoutesConfig};
//! use klarna_payments::KlarnaBuilder;
//!
//! # async fn run(capability_key: Vec<u8>, callback_secret: String) -> Result<(), Box<dyn std::error::Error>> {
//! // Both secrets come from your secret store and stay the same across restarts.
//! let config = RoutesConfig::new(capability_key, callback_secret)?
//!     .allowed_origins(["https://shop.example"])?;
//! let klarna = KlarnaBuilder::new()
//!     .from_env()?
//!     .merchant_urls(config.merchant_urls("https://shop.example/klarna"))
//!     .build()
//!     .await?;
//! let routes = KlarnaRoutes::new(Arc::new(klarna), config);
//! let app: Router = Router::new().nest("/klarna", routes.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The page then calls `POST /klarna/payments`, runs [`js::init`] and [`js::load`] with the
//! answer, and [`js::authorize`] when the shopper clicks Buy; the snippet posts the token to
//! `/klarna/payments/{id}/complete` with the secret. `examples/shop.rs` is a whole shop.
//!
//! A server-rendered shop that builds the cart from its own catalog may start the payment
//! itself ([`Klarna::start_checkout`]) and render the page with
//! [`RoutesConfig::payment_secret`]; the routes then complete it and take Klarna's callbacks,
//! and [`KlarnaRoutes::without_browser_start`] leaves `POST /payments` out (the demo shop,
//! `crates/klarna-demo`, does this). [`KlarnaRoutes::on_complete`] runs the
//! shop's next step (a subscription's first charge) when a payment completes.

mod config;
mod error;
mod extract;
mod input;
pub mod js;
mod routes;

pub use config::{
    ConfigError, DEFAULT_BODY_LIMIT, DEFAULT_MAX_IN_FLIGHT, MIN_CALLBACK_SECRET,
    MIN_CAPABILITY_KEY, RoutesConfig,
};
pub use error::ApiError;
pub use routes::KlarnaRoutes;

#[doc(no_inline)]
pub use klarna_payments::Klarna;

/// The request header that carries a payment's secret.
pub const PAYMENT_SECRET_HEADER: &str = "x-payment-secret";
