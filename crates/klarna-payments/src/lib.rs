//! Klarna Payments for Rust in one dependency: re-exports, adapter features and a builder that
//! wires a ready [`Klarna`] service from configuration.
//!
//! # The whole server-side integration
//!
//! Klarna Payments takes three steps (DESIGN.md §1): the server opens a session, the shopper's
//! browser authorizes in Klarna's widget, the server turns the authorization into an order (or
//! a customer token for recurring charges). With this crate that is one screen of code:
//!
//! ```no_run
//! use klarna_payments::{
//!     Amount, AuthorizationToken, AuthorizedVia, Cart, Completed, Intent, KlarnaBuilder, Market,
//!     OrderLine, Purchase,
//! };
//!
//! # async fn shop(token_from_browser: String) -> Result<(), Box<dyn std::error::Error>> {
//! // KLARNA_USERNAME / KLARNA_PASSWORD / KLARNA_REGION, KLARNA_STORE_URL / KLARNA_STORE_KEY.
//! let klarna = KlarnaBuilder::new().from_env()?.build().await?;
//!
//! // 1. Initiate: the server opens a session for a validated purchase.
//! let market = Market::parse("SE", "SEK", "sv-SE")?;
//! let shoe = OrderLine::builder("Trail shoe", 1, 89_900).tax_rate(2_500).build()?;
//! let purchase = Purchase::new(Intent::Buy, Cart::new(market, vec![shoe])?)?;
//! let checkout = klarna.start_checkout(purchase).await?;
//! // Render `checkout.client_token.expose_secret()` into the page for
//! // `Klarna.Payments.init({client_token})`; keep `checkout.payment_id` in the shopper's session.
//!
//! // 2. Check out: the browser calls `Klarna.Payments.authorize(...)` and posts the
//! //    `authorization_token` back to you (Klarna's callback may bring it too:
//! //    `klarna.authorize(AuthorizedVia::Callback(&session_id), token)`).
//! let token = AuthorizationToken::new(token_from_browser)?;
//!
//! // 3. Create the order: exactly once, however often this is called.
//! if let Completed::Order(order) = klarna.complete(&checkout.payment_id, token).await? {
//!     // After shipping:
//!     let capture = klarna.capture(order.order_id(), Amount::new(89_900)?).await?;
//!     println!("captured {}", capture.order.captured());
//! }
//! # let _ = AuthorizedVia::Browser(&checkout.payment_id);
//! # Ok(()) }
//! ```
//!
//! The shop's order number, second reference, customer, addresses, Extra Merchant Data and
//! widget options go on the purchase with [`Purchase::with_merchant`] (a [`MerchantData`]
//! built and validated by [`MerchantData::builder`]), and on a token charge in
//! [`ChargeRequest::merchant`].
//!
//! Recurring payments use `Intent::Tokenize`: [`Klarna::complete`](PaymentService::complete)
//! answers [`Completed::Token`], and [`PaymentService::charge_customer_token`] charges it
//! whenever a period is due; see `examples/recurring.rs`. Klarna's authorization callback
//! (`merchant_urls.authorization`) goes to [`PaymentService::authorize`] with
//! [`AuthorizedVia::Callback`].
//!
//! # Settlements
//!
//! With `http`, [`settlements`] reconciles what the store recorded with what Klarna paid out:
//! [`settled_transactions`] reads the transactions of the payouts in a [`DateRange`] through
//! [`KlarnaClient`]'s paginated streams, and [`reconcile`] matches them to the managed orders'
//! captures and refunds ([`ManagedOrder::captures`], [`ManagedOrder::refunds`]) into a
//! [`SettlementReport`]: matched, unsettled after N days, awaiting, unknown to us, and the fees
//! and totals of each payout. `docs/guide.md` ("Settlements") shows the client and the streams.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | yes | `KlarnaGateway` over HTTPS and `UuidKeys`; the low-level client as `http` |
//! | `sqlite` | yes | `SqlStore` on `sqlite://file.db` |
//! | `postgres` | | `SqlStore` on `postgres://…` |
//! | `memory` | | `InMemoryStore` on `memory:` |
//! | `simulator` | | the in-process Klarna as `simulator`, and `KlarnaBuilder::simulator` |
//! | `test-util` | | mockall mocks of the ports, `FakeKlarna`, the store contract suite, proptest strategies |
//!
//! # Configuration
//!
//! [`KlarnaBuilder::from_env`] reads:
//!
//! | variable | meaning |
//! |---|---|
//! | `KLARNA_USERNAME`, `KLARNA_PASSWORD` | API credentials (playground credentials for the playground) |
//! | `KLARNA_REGION` | `eu` (default), `na`, `oc`: the region of the main account |
//! | `KLARNA_EU_USERNAME`, `KLARNA_EU_PASSWORD`, `KLARNA_EU_BASE_URL` (and `NA`, `OC`) | the account of another region ([`KlarnaBuilder::region_account`]): payments go to their purchase country's region |
//! | `KLARNA_PRODUCTION` | `1`/`true` for the live system; the default is the playground |
//! | `KLARNA_BASE_URL` | any base URL instead of the region's (the simulator, a proxy) |
//! | `KLARNA_STORE_URL` | `memory:`, `sqlite://file.db?mode=rwc`, `postgres://…` |
//! | `KLARNA_STORE_KEY` | 64 hex digits: the key that encrypts tokens at rest in SQL stores |
//! | `KLARNA_KEY_NAMESPACE` | a UUID naming this installation's idempotency keys (default: derived from the store's installation id, made once and kept in the store) |
//!
//! Every setting also has a builder method, and your own adapters plug in with
//! [`KlarnaBuilder::gateway`], [`KlarnaBuilder::store`], [`KlarnaBuilder::clock`] and
//! [`KlarnaBuilder::keys`] (see `examples/custom_store.rs` and `examples/custom_gateway.rs`).

mod builder;
#[cfg(feature = "http")]
pub mod settlements;

use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore};

pub use builder::{BuildError, KlarnaBuilder, StoreUrl, Target};

/// The pure domain model (carts, money, markets, lifecycles).
pub use klarna_domain as domain;
/// The ports the service runs on; implement them to plug in your own adapters.
pub use klarna_ports as ports;
/// The use cases.
pub use klarna_service as service;

pub use klarna_domain::{
    Address, Amount, AnyPayment, Attachment, AuthorizationToken, CaptureId, Cart, CartError,
    ClientToken, Completed, Customer, CustomerAccountInfo, CustomerKind, CustomerToken,
    CustomerTokenId, Emd, EmdSubscription, FraudStatus, Gender, Intent, Interval, LineKind,
    ManagedOrder, Market, MarketplaceSellerInfo, MerchantData, MerchantDataError, Money, OrderId,
    OrderLine, OrderStatus, OrganizationType, PaymentId, PlacedOrder, Purchase, RefundId, Region,
    SessionId, StageKind, TokenStatus, WidgetOptions,
};
/// Order Management requests: captures and refunds with lines, shipping info, upsells.
pub use klarna_domain::{
    AuthorizationUpdate, CaptureRequest, MerchantReferences, OmLine, OmRequestError, RefundRequest,
    ShippingInfo, ShippingInfoInput, ShippingInfoUpdate, ShippingMethod,
};
/// Payment links (Klarna's Hosted Payment Page).
pub use klarna_domain::{
    HostedPageId, HostedPageStatus, LinkError, LinkUrls, PaymentLinkRequest, PlaceOrderMode,
};
pub use klarna_ports::{
    GatewayError, HostedPage, HostedPageState, ManualClock, MerchantUrls, SequentialKeys,
    StoreError, SystemClock, Versioned,
};
pub use klarna_service::{
    AuthorizedVia, Capture, ChargeRequest, Checkout, LinkOutcome, PaymentLink, PaymentService,
    ReconcileReport, RecordId, Refund, ServiceConfig, ServiceError,
};

/// The low-level typed HTTP client and Klarna's wire models.
#[cfg(feature = "http")]
pub use klarna_gateway_http as http;
#[cfg(feature = "http")]
pub use klarna_gateway_http::{Credentials, Environment, KlarnaGateway, UuidKeys};
/// The Settlements API's inputs and the reconciliation report.
#[cfg(feature = "http")]
pub use klarna_gateway_http::{DateRange, KlarnaClient, Page, PayoutFilter, TransactionFilter};
#[cfg(feature = "http")]
pub use settlements::{
    ReconcileOptions, SettlementError, SettlementReport, reconcile, settled_transactions,
};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use klarna_store_sql::{SqlStore, StoreKey};

#[cfg(feature = "memory")]
pub use klarna_store_memory::InMemoryStore;

/// The in-process Klarna simulator.
#[cfg(feature = "simulator")]
pub use klarna_simulator as simulator;

/// The entry point: the payment service over trait objects, one type whatever the adapters, so
/// switching the store or the gateway is configuration, not a type change. Built by
/// [`KlarnaBuilder`]; cheap to clone.
pub type Klarna =
    PaymentService<dyn PaymentGateway, dyn PaymentStore, dyn Clock, dyn IdempotencyKeys>;
