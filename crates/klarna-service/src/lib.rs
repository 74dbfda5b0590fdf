//! Klarna payment use cases over the ports: checkout, recurring charges, order management, reconciliation.
//!
//! [`PaymentService`] is the only place that sequences gateway and store calls. It is generic
//! over the ports, so any adapter (or a mock) can stand in. Every mutation at Klarna follows
//! the exactly-once protocol of DESIGN.md §5:
//!
//! 1. one idempotency key per logical operation, persisted with the pending stage in a
//!    compare-and-set before the call — only one caller wins, the others see
//!    [`ServiceError::InProgress`] or the stored result;
//! 2. the call is sent with that key and no transaction open;
//! 3. the outcome is classified: success is recorded, a refusal on an unambiguous first
//!    attempt is recorded, anything else stays pending ([`ServiceError::OutcomeUnknown`]);
//! 4. retries — here and in [`PaymentService::reconcile`] — reuse the key and rebuild the
//!    same body from the stored, immutable cart;
//! 5. what cannot be resolved goes to `NeedsReview`, never to failed.
//!
//! Nothing waits on a message alone: a payment in fraud review whose notification never
//! came is polled by the reconciler after [`ServiceConfig::fraud_poll_interval`]
//! ([`PaymentService::poll_fraud_reviews`]).
//!
//! Every order carries our payment id as `merchant_reference1`.
#![warn(clippy::wildcard_enum_match_arm)]

mod checkout;
mod error;
mod fraud_poll;
mod link;
mod notifications;
mod operator;
mod orders;
mod reconcile;
mod recurring;
mod step;

use std::sync::Arc;

use klarna_domain::{Region, Span};
use klarna_ports::{ByRegion, Clock, IdempotencyKeys, MerchantUrls, PaymentGateway, PaymentStore};

pub use checkout::{AuthorizedVia, Checkout};
pub use error::{RecordId, ServiceError};
pub use fraud_poll::FraudPollReport;
pub use link::{LinkOutcome, PaymentLink};
pub use orders::{Capture, Refund};
pub use reconcile::ReconcileReport;
pub use recurring::ChargeRequest;

/// FNV-1a 64 over configured parts of a request, each absent or length-prefixed (so no two
/// lists share a fingerprint by concatenation). Stable across processes and versions, unlike
/// `std`'s hasher, because it is stored with pending operations.
fn configured(parts: &[Option<&str>]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for part in parts {
        match part {
            None => eat(&[0]),
            Some(s) => {
                eat(&[1]);
                eat(&(s.len() as u64).to_le_bytes());
                eat(s.as_bytes());
            }
        }
    }
    h
}

/// Settings of the service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Callback URLs sent with every session and order.
    pub urls: MerchantUrls,
    /// Description of customer tokens (shown to the shopper), 1..=255 characters.
    pub token_description: String,
    /// The longest one gateway call may take, every retry and `Retry-After` wait included
    /// (the HTTP client's deadline; the facade sets it from the client). Each pending
    /// operation is fenced until its start plus this, and the reconciler never takes it
    /// earlier: it cannot race a call still in flight. Too short is unsafe, too long only
    /// delays reconciliation.
    pub call_deadline: Span,
    /// The reconciler leaves operations younger than this to their caller (on top of the
    /// fence).
    pub reconcile_grace: Span,
    /// How long a reconciler's claim on a record lasts. Records are claimed one at a time, and
    /// the lease is at least three call deadlines (a replay and the reads that decide it), so
    /// it outlives the work on the record.
    pub claim_lease: Span,
    /// How often a use case re-reads and retries after losing a compare-and-set.
    pub max_cas_retries: u32,
    /// How long a payment under fraud review waits for Klarna's notification before the
    /// reconciler reads its order at Klarna, and then how long between two reads
    /// ([`PaymentService::poll_fraud_reviews`]). Default 15 minutes.
    pub fraud_poll_interval: Span,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            urls: MerchantUrls::default(),
            token_description: "Subscription".to_owned(),
            call_deadline: Span::minutes(2),
            reconcile_grace: Span::seconds(30),
            claim_lease: Span::seconds(60),
            max_cas_retries: 8,
            fraud_poll_interval: Span::minutes(15),
        }
    }
}

/// The use cases, generic over the ports. Cheap to clone: the ports are shared.
#[derive(Debug)]
pub struct PaymentService<G: ?Sized, S: ?Sized, C: ?Sized, K: ?Sized> {
    gateways: ByRegion<Arc<G>>,
    store: Arc<S>,
    clock: Arc<C>,
    keys: Arc<K>,
    config: ServiceConfig,
}

impl<G: ?Sized, S: ?Sized, C: ?Sized, K: ?Sized> Clone for PaymentService<G, S, C, K> {
    fn clone(&self) -> Self {
        Self {
            gateways: self.gateways.clone(),
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            keys: Arc::clone(&self.keys),
            config: self.config.clone(),
        }
    }
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Wires the service from its ports: `gateway` serves every region (one account, a
    /// simulator, a proxy that routes by itself). For one account per region, see
    /// [`Self::regional`].
    pub fn new(
        gateway: Arc<G>,
        store: Arc<S>,
        clock: Arc<C>,
        keys: Arc<K>,
        config: ServiceConfig,
    ) -> Self {
        Self::regional(ByRegion::everywhere(gateway), store, clock, keys, config)
    }

    /// Wires the service with a gateway per Klarna region: each payment is served by the
    /// gateway of its purchase country's region (API.md §11.9), and a payment in a region
    /// without one is refused before any call ([`ServiceError::RegionNotConfigured`]).
    pub fn regional(
        gateways: ByRegion<Arc<G>>,
        store: Arc<S>,
        clock: Arc<C>,
        keys: Arc<K>,
        config: ServiceConfig,
    ) -> Self {
        Self {
            gateways,
            store,
            clock,
            keys,
            config,
        }
    }

    /// The regions this service can sell in.
    pub fn regions(&self) -> Vec<Region> {
        self.gateways.regions()
    }

    /// The gateway of `region`.
    pub(crate) fn gateway(&self, region: Region) -> Result<&G, ServiceError> {
        self.gateways
            .get(region)
            .map(AsRef::as_ref)
            .ok_or(ServiceError::RegionNotConfigured { region })
    }

    /// The gateway of `region` for a call of a pending operation (`operation`, e.g.
    /// `payments.create_order`): without one (the configuration changed since the operation
    /// began) the call is not sent, an error that certainly never reached Klarna, so the
    /// operation rolls back, or stays pending when an earlier attempt is in doubt.
    pub(crate) fn routed(
        &self,
        region: Region,
        operation: &'static str,
    ) -> Result<&G, klarna_ports::GatewayError> {
        self.gateways.get(region).map(AsRef::as_ref).ok_or_else(|| {
            let mut e =
                klarna_ports::GatewayError::new(operation, klarna_ports::ErrorAction::Retry, false);
            e.messages = vec![format!(
                "no Klarna account is configured for region {region}; nothing was sent"
            )];
            e
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Fingerprint of what a create order (P5) takes from configuration: the callback URLs.
    pub(crate) fn order_request(&self) -> u64 {
        let u = &self.config.urls;
        configured(&[
            u.authorization.as_deref(),
            u.notification.as_deref(),
            u.confirmation.as_deref(),
            u.push.as_deref(),
        ])
    }

    /// Fingerprint of what a create customer token (P6) takes from configuration.
    pub(crate) fn token_request(&self) -> u64 {
        configured(&[Some(self.config.token_description.as_str())])
    }

    /// The fence of an operation begun at `now`: its call may run for the whole call deadline,
    /// and its caller then has the grace to record the answer. No reconciler takes it before.
    pub(crate) fn fence_from(&self, now: klarna_domain::Timestamp) -> klarna_domain::Timestamp {
        now.plus(self.config.call_deadline)
            .plus(self.config.reconcile_grace)
    }
}
