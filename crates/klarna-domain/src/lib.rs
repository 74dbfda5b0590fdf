//! Pure Klarna Payments domain model: money, markets, carts, ids, secrets and lifecycles.
//!
//! No I/O, no async, no clock, no randomness: every rule here is a function of its inputs,
//! so it can be property-tested and reused by any adapter. Values are parsed, not validated:
//! a [`Cart`] that exists satisfies Klarna's arithmetic (API.md §1.8), a [`Market`] is one of
//! Klarna's country/currency/locale combinations (§1.9).
//!
//! Build and validate a cart:
//!
//! ```
//! use klarna_domain::{Cart, Market, OrderLine};
//! let market = Market::parse("SE", "SEK", "sv-SE")?;
//! let line = OrderLine::builder("Trail shoe", 2, 89_900).tax_rate(2_500).discount(10_000).build()?;
//! let cart = Cart::new(market, vec![line])?;
//! assert_eq!(cart.total().to_string(), "1698.00 SEK");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(clippy::wildcard_enum_match_arm, clippy::float_arithmetic)]

pub mod cart;
pub mod decision;
pub mod field;
pub mod ids;
pub mod link;
pub mod market;
pub mod merchant;
pub mod money;
pub mod om;
pub mod order;
pub mod payment;
pub mod resolve;
pub mod snapshot;
pub mod time;
pub mod token;

#[cfg(any(test, feature = "test-util"))]
pub mod strategies;

pub use cart::{
    Cart, CartError, CartFingerprint, Interval, LineInput, LineKind, OrderLine, Problem,
    Subscription,
};
pub use decision::{Attempt, Cancellation, Completed, Decision, Settled, TokenStep};
pub use field::FieldPath;
pub use ids::{
    AuthorizationToken, CaptureId, ClientToken, CustomerTokenId, HostedPageId, IdError,
    IdempotencyKey, OrderId, PaymentId, RefundId, SessionId,
};
pub use link::{
    HostedPageStatus, LinkError, LinkUrls, MAX_LINK_URL_LEN, PaymentLinkRequest, PlaceOrderMode,
};
pub use market::{Country, Currency, Locale, Market, MarketError, Region, UnknownRegion};
pub use merchant::{
    Address, Attachment, Customer, CustomerAccountInfo, CustomerKind, Emd, EmdSubscription, Gender,
    MarketplaceSellerInfo, MerchantData, MerchantDataError, OrganizationType, WidgetOptions,
};
pub use money::{Amount, Money, NotPositive};
pub use om::{
    AuthorizationUpdate, CaptureRequest, MerchantReferences, OmLine, OmRequestError, RefundRequest,
    ShippingInfo, ShippingInfoInput, ShippingInfoUpdate, ShippingMethod,
};
pub use order::{LedgerError, ManagedOrder, OmOperation, OmResult, OrderStatus};
pub use payment::{
    AnyPayment, Authorization, FraudStatus, Intent, LifecycleError, OrderOutcome, OrderSource,
    Payment, PendingOp, PlacedOrder, Purchase, Session, StageKind, Tokenization, TransitionFailed,
};
pub use resolve::{OrderEvidence, ResolveMismatch};
pub use time::{Span, Timestamp};
pub use token::{CustomerToken, TokenStatus};
