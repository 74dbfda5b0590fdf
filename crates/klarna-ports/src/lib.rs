//! Ports of the Klarna toolkit: the payment gateway, the stores, the clock and idempotency keys.
//!
//! The service depends only on these traits; adapters implement them: `klarna-gateway-http`
//! (Klarna over HTTP), `klarna-store-memory` and `klarna-store-sql` (storage), your own. Each
//! trait states its contract in MUST/SHOULD words. With the `test-util` feature this crate also
//! ships mockall mocks (`MockPaymentGateway`, `MockPaymentStore`, `MockClock`,
//! `MockIdempotencyKeys`) and the store contract suite ([`contract`]) that every store
//! adapter runs against itself, and [`fake::FakeKlarna`], a scripted in-memory Klarna with
//! fault injection for property tests of the service.

pub mod clock;
pub mod gateway;
pub mod keys;
pub mod regions;
pub mod store;

#[cfg(feature = "test-util")]
pub mod contract;
#[cfg(feature = "test-util")]
pub mod fake;
#[cfg(feature = "test-util")]
pub mod forward;

pub use clock::{Clock, ManualClock, SystemClock};
pub use gateway::{
    ChargeToken, CreateCustomerToken, CreatedSession, ErrorAction, GatewayError, HostedPage,
    HostedPageState, MerchantUrls, NewSession, OrderPlaced, PaymentGateway, PlaceOrder, Refusal,
    RemoteOrder, SessionProgress, SessionState,
};
pub use keys::{IdempotencyKeys, SequentialKeys};
pub use regions::ByRegion;
pub use store::{Alongside, InstallationId, PaymentStore, StoreError, Unique, Versioned};

#[cfg(feature = "test-util")]
pub use clock::MockClock;
#[cfg(feature = "test-util")]
pub use forward::{HookedStore, Write};
#[cfg(feature = "test-util")]
pub use gateway::MockPaymentGateway;
#[cfg(feature = "test-util")]
pub use keys::MockIdempotencyKeys;
#[cfg(feature = "test-util")]
pub use store::MockPaymentStore;
