//! The payment lifecycle: typed stages inside, one exhaustive enum at rest (DESIGN.md §3).
//!
//! ```text
//!            update_cart                      begin_order            record_order
//!   Open ◄──────────────── Authorized ─────────────────► OrderPending ─────────────► Ordered
//!    │  authorize ─────────►  │ ▲ re-authorize              │  (fraud PENDING) ─────► FraudReview
//!    │                        │ └─┘                         │  definitive refusal ──► Refused
//!    │                        │ begin_tokenization          └─ unresolvable ───────► NeedsReview
//!    │                        ▼
//!    │                   TokenPending ──────────────────────────────────────────────► Tokenized
//!    └── cancel / expire ──► Cancelled / Expired            (buy_and_tokenize: Ordered carries
//!                                                            the token step in `Tokenization`)
//! ```
//!
//! Transitions are pure: they consume the old stage and return the new one, or hand the old
//! stage back inside [`TransitionFailed`]. The gateway call happens in the service; the
//! domain only records its outcome. Expiry is a pure function of a [`Timestamp`] passed in.

use std::fmt;

use crate::cart::{Cart, CartError, CartFingerprint, Problem};
use crate::field::FieldPath;
use crate::ids::{
    AuthorizationToken, ClientToken, CustomerTokenId, HostedPageId, IdempotencyKey, OrderId,
    PaymentId, SessionId,
};
use crate::merchant::{MerchantData, MerchantDataError};
use crate::time::{Timestamp, lifetimes};

/// What the session is for (Klarna's `intent`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Intent {
    /// One-time payment: authorization → order.
    Buy,
    /// Recurring: authorization → customer token, charged later.
    Tokenize,
    /// Both: one authorization gives an order now and a customer token for later.
    BuyAndTokenize,
}

impl Intent {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Tokenize => "tokenize",
            Self::BuyAndTokenize => "buy_and_tokenize",
        }
    }
    /// Parses Klarna's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Buy, Self::Tokenize, Self::BuyAndTokenize]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
    /// Whether an authorization under this intent may become an order.
    #[must_use]
    pub const fn allows_order(self) -> bool {
        matches!(self, Self::Buy | Self::BuyAndTokenize)
    }
    /// Whether an authorization under this intent may become a customer token.
    #[must_use]
    pub const fn allows_token(self) -> bool {
        matches!(self, Self::Tokenize | Self::BuyAndTokenize)
    }
}

/// What the shopper is to pay for, and how: an intent and a cart that the intent accepts.
///
/// Parse, don't validate: a recurring intent (`tokenize`, `buy_and_tokenize`) needs at least
/// one line with a `subscription`, checked here, before any call to Klarna.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Purchase {
    intent: Intent,
    cart: Cart,
    merchant: MerchantData,
}

impl Purchase {
    /// Checks that `intent` accepts `cart`.
    ///
    /// # Errors
    /// [`Problem::SubscriptionRequired`] on the field
    /// `order_lines` when a recurring intent has no line with a subscription;
    /// [`Problem::SubscriptionMissing`] on `order_lines[i].subscription` when intent
    /// `tokenize` has a good without one ([`Cart::check_recurring`]).
    pub fn new(intent: Intent, cart: Cart) -> Result<Self, CartError> {
        if intent.allows_token() {
            if !cart.has_subscription() {
                return Err(CartError::new(
                    FieldPath::new("order_lines"),
                    Problem::SubscriptionRequired {
                        intent: intent.as_str(),
                    },
                ));
            }
            // `tokenize` charges nothing now: every good is the subscription. A
            // `buy_and_tokenize` cart may buy a one-off good now beside it (the demo's shoe
            // and coffee club), so only its subscription lines are recurring.
            if intent == Intent::Tokenize {
                cart.check_recurring()?;
            }
        }
        Ok(Self {
            intent,
            cart,
            merchant: MerchantData::default(),
        })
    }
    /// The same purchase with the shop's merchant data (order number, references, customer,
    /// addresses, EMD, widget options), sent on the session and kept with the payment for the
    /// order or token made from it.
    ///
    /// # Errors
    /// What depends on the market: a US or AU address without `region`.
    pub fn with_merchant(mut self, merchant: MerchantData) -> Result<Self, MerchantDataError> {
        merchant.check_country(self.cart.market().country())?;
        self.merchant = merchant;
        Ok(self)
    }
    /// The merchant data (empty unless [`Self::with_merchant`] set it).
    #[must_use]
    pub fn merchant(&self) -> &MerchantData {
        &self.merchant
    }
    /// The intent.
    #[must_use]
    pub fn intent(&self) -> Intent {
        self.intent
    }
    /// The cart.
    #[must_use]
    pub fn cart(&self) -> &Cart {
        &self.cart
    }
    /// Both parts.
    #[must_use]
    pub fn into_parts(self) -> (Intent, Cart) {
        (self.intent, self.cart)
    }
    /// All three parts.
    #[must_use]
    pub fn into_all_parts(self) -> (Intent, Cart, MerchantData) {
        (self.intent, self.cart, self.merchant)
    }
}

/// Klarna's fraud decision on an order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FraudStatus {
    /// May be shipped and captured.
    Accepted,
    /// Hold shipment until a notification (or a re-read of the order) decides.
    Pending,
    /// Do not fulfil.
    Rejected,
    /// Klarna stopped an order it had accepted (`STOPPED`, with a `FRAUD_RISK_STOPPED`
    /// notification): do not ship; cancel it or reply to Klarna within 24 hours (API.md §11.3).
    Stopped,
}

impl FraudStatus {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Stopped => "STOPPED",
        }
    }
    /// Parses Klarna's spelling (also `ACCEPTED_AFTER_REVIEW` / `REJECTED_AFTER_REVIEW`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACCEPTED" | "ACCEPTED_AFTER_REVIEW" => Some(Self::Accepted),
            "PENDING" => Some(Self::Pending),
            "REJECTED" | "REJECTED_AFTER_REVIEW" => Some(Self::Rejected),
            "STOPPED" => Some(Self::Stopped),
            _ => None,
        }
    }
}

/// An open Klarna payment session.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Session {
    id: SessionId,
    client_token: ClientToken,
    expires_at: Timestamp,
    /// The payment link (Hosted Payment Page session) that serves this session, if any.
    hosted_page: Option<HostedPageId>,
}

impl Session {
    /// A session and its client token, open until `expires_at` (Klarna's, or now + 48 h).
    #[must_use]
    pub fn new(id: SessionId, client_token: ClientToken, expires_at: Timestamp) -> Self {
        Self {
            id,
            client_token,
            expires_at,
            hosted_page: None,
        }
    }
    /// The same session, served by the payment link `page` (a Hosted Payment Page session).
    #[must_use]
    pub fn with_hosted_page(mut self, page: HostedPageId) -> Self {
        self.hosted_page = Some(page);
        self
    }
    /// The payment link that serves this session, if one was made.
    #[must_use]
    pub fn hosted_page(&self) -> Option<&HostedPageId> {
        self.hosted_page.as_ref()
    }
    /// Klarna's session id.
    #[must_use]
    pub fn id(&self) -> &SessionId {
        &self.id
    }
    /// The token for the browser widget.
    #[must_use]
    pub fn client_token(&self) -> &ClientToken {
        &self.client_token
    }
    /// When the session closes.
    #[must_use]
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    /// Whether the session is still open at `now`.
    #[must_use]
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The shopper's authorization: a single-use token for exactly one cart, for 60 minutes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Authorization {
    token: AuthorizationToken,
    fingerprint: CartFingerprint,
    authorized_at: Timestamp,
    expires_at: Timestamp,
}

impl Authorization {
    /// An authorization of the cart with `fingerprint`, given at `authorized_at`.
    #[must_use]
    pub fn new(
        token: AuthorizationToken,
        fingerprint: CartFingerprint,
        authorized_at: Timestamp,
    ) -> Self {
        Self {
            token,
            fingerprint,
            authorized_at,
            expires_at: authorized_at.plus(lifetimes::AUTHORIZATION),
        }
    }
    /// The token.
    #[must_use]
    pub fn token(&self) -> &AuthorizationToken {
        &self.token
    }
    /// The fingerprint of the cart it covers.
    #[must_use]
    pub fn fingerprint(&self) -> CartFingerprint {
        self.fingerprint
    }
    /// When the shopper authorized.
    #[must_use]
    pub fn authorized_at(&self) -> Timestamp {
        self.authorized_at
    }
    /// When the token stops working (60 minutes later).
    #[must_use]
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    /// Whether the token still works at `now`.
    #[must_use]
    pub fn is_valid(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// A Klarna mutation whose key (and the cart that determines its body) was persisted before
/// the call (DESIGN.md §5). Every retry reuses the key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingOp {
    key: IdempotencyKey,
    attempts: u32,
    in_doubt: bool,
    started_at: Timestamp,
    fence: Timestamp,
    request: Option<u64>,
}

impl PendingOp {
    /// A new operation with `key`, not yet attempted.
    #[must_use]
    pub fn new(key: IdempotencyKey, started_at: Timestamp) -> Self {
        Self {
            key,
            attempts: 0,
            in_doubt: false,
            started_at,
            fence: started_at,
            request: None,
        }
    }
    /// Rebuilds a stored operation.
    #[must_use]
    pub fn restore(
        key: IdempotencyKey,
        attempts: u32,
        in_doubt: bool,
        started_at: Timestamp,
    ) -> Self {
        Self {
            key,
            attempts,
            in_doubt,
            started_at,
            fence: started_at,
            request: None,
        }
    }
    /// The same operation, remembering a fingerprint of the parts of its request that come
    /// from configuration rather than from the stored record (callback URLs, a token's
    /// description), as first sent: a replay whose request would differ is not sent under the
    /// same key.
    #[must_use]
    pub fn with_request(mut self, fingerprint: Option<u64>) -> Self {
        self.request = fingerprint;
        self
    }
    /// The fingerprint of the request's configured parts, as first sent.
    #[must_use]
    pub fn request(&self) -> Option<u64> {
        self.request
    }
    /// The same operation, fenced until `until`: the caller's call may run until then (its
    /// whole deadline), and no reconciler takes the operation before. Never earlier than the
    /// start.
    #[must_use]
    pub fn fenced_until(mut self, until: Timestamp) -> Self {
        self.fence = until.max(self.started_at);
        self
    }
    /// Until when the caller's call may still be running: the reconciler waits for it.
    #[must_use]
    pub fn fence(&self) -> Timestamp {
        self.fence
    }
    /// The idempotency key: the same on every attempt.
    #[must_use]
    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }
    /// Attempts recorded so far.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// Whether some attempt may have reached Klarna without an answer. Once true, a later
    /// 4xx is not a definitive refusal (the first attempt may have succeeded).
    #[must_use]
    pub fn in_doubt(&self) -> bool {
        self.in_doubt
    }
    /// When the operation began (the idempotency window runs from here).
    #[must_use]
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }
    /// Whether Klarna still de-duplicates this key at `now` (24 h window).
    #[must_use]
    pub fn key_window_open(&self, now: Timestamp) -> bool {
        now < self.started_at.plus(lifetimes::IDEMPOTENCY_WINDOW)
    }
    /// Records one more attempt; `outcome_unknown` when it may have reached Klarna unanswered.
    #[must_use]
    pub fn attempted(mut self, outcome_unknown: bool) -> Self {
        self.attempts = self.attempts.saturating_add(1);
        self.in_doubt |= outcome_unknown;
        self
    }
}

/// Where an order comes from: the shopper's authorization, or a stored customer token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderSource {
    /// One-time: the authorization of a session.
    Authorization {
        /// The session.
        session: Session,
        /// The authorization being turned into an order.
        authorization: Authorization,
    },
    /// Recurring: a charge of a customer token, the shopper absent.
    CustomerToken(CustomerTokenId),
}

/// An order Klarna created.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlacedOrder {
    order_id: OrderId,
    fraud_status: FraudStatus,
    placed_at: Timestamp,
}

impl PlacedOrder {
    /// Klarna's answer to "create order".
    #[must_use]
    pub fn new(order_id: OrderId, fraud_status: FraudStatus, placed_at: Timestamp) -> Self {
        Self {
            order_id,
            fraud_status,
            placed_at,
        }
    }
    /// Klarna's order id.
    #[must_use]
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    /// Klarna's fraud decision.
    #[must_use]
    pub fn fraud_status(&self) -> FraudStatus {
        self.fraud_status
    }
    /// When the order was recorded.
    #[must_use]
    pub fn placed_at(&self) -> Timestamp {
        self.placed_at
    }
}

/// The customer-token step of an ordered payment (intent `buy_and_tokenize`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Tokenization {
    /// The intent asks for no token.
    NotRequested,
    /// A token is still to be created from this authorization.
    Due(Authorization),
    /// The token request may be in flight.
    Pending(Authorization, PendingOp),
    /// The token exists.
    Done(CustomerTokenId),
    /// Klarna definitively refused the token; the order stands.
    Refused(String),
}

/// Why a payment was cancelled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CancelReason {
    /// The merchant cancelled.
    Merchant,
    /// Klarna rejected the order after fraud review.
    FraudRejected,
}

/// Stage: a session is open; the shopper has not authorized (or must re-authorize).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Open {
    pub(crate) session: Session,
}
/// Stage: the shopper authorized this cart.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Authorized {
    pub(crate) session: Session,
    pub(crate) authorization: Authorization,
    /// Intent `buy_and_tokenize`: the customer token made from this authorization before the
    /// order (Klarna's order of steps: token first, so a refused token never leaves a charged
    /// shopper whose renewals fail).
    pub(crate) customer_token: Option<CustomerTokenId>,
}
/// Stage: the create-order request may be in flight (in doubt until resolved).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderPending {
    pub(crate) source: OrderSource,
    pub(crate) op: PendingOp,
    /// Intent `buy_and_tokenize`: the customer token made before this order.
    pub(crate) customer_token: Option<CustomerTokenId>,
}
/// Stage: the create-customer-token request (intent `tokenize`) may be in flight.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenPending {
    pub(crate) session: Session,
    pub(crate) authorization: Authorization,
    pub(crate) op: PendingOp,
}
/// Stage: Klarna holds the order for fraud review (`PENDING`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FraudReview {
    pub(crate) order: PlacedOrder,
    pub(crate) tokenization: Tokenization,
}
/// Stage: Klarna created the order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ordered {
    pub(crate) order: PlacedOrder,
    pub(crate) tokenization: Tokenization,
}
/// Stage: Klarna stopped the order after accepting it (fraud status `STOPPED`): nothing ships.
/// The merchant cancels the order, or replies to Klarna within 24 hours of the stop (Klarna
/// keeps the risk only then); a later read of the order showing `ACCEPTED` lifts the stop.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stopped {
    pub(crate) order: PlacedOrder,
    pub(crate) tokenization: Tokenization,
    pub(crate) stopped_at: Timestamp,
}
/// Stage: the customer token exists (intent `tokenize`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Tokenized {
    pub(crate) customer_token: CustomerTokenId,
    pub(crate) at: Timestamp,
}
/// Terminal: cancelled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cancelled {
    pub(crate) reason: CancelReason,
    pub(crate) order_id: Option<OrderId>,
    pub(crate) at: Timestamp,
}
/// Terminal: the session or authorization ran out before an order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expired {
    pub(crate) at: Timestamp,
    /// `buy_and_tokenize`: the customer token made before the order that never came (it
    /// exists at Klarna; nobody was charged).
    pub(crate) customer_token: Option<CustomerTokenId>,
}
/// Terminal: Klarna definitively refused the operation on its first, unambiguous attempt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refused {
    pub(crate) code: String,
    pub(crate) at: Timestamp,
    /// `buy_and_tokenize`: the customer token made before the refused order (it exists at
    /// Klarna; nobody was charged).
    pub(crate) customer_token: Option<CustomerTokenId>,
}
/// Evidence contradicts our records or an in-doubt operation could not be resolved: a human
/// decides. Never treated as failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NeedsReview {
    pub(crate) reason: String,
    pub(crate) key: Option<IdempotencyKey>,
    pub(crate) at: Timestamp,
    /// `buy_and_tokenize`: the customer token made before the order in review (kept, so the
    /// resolution keeps it).
    pub(crate) customer_token: Option<CustomerTokenId>,
}

mod sealed {
    pub trait Sealed {}
}

/// Marker for lifecycle stages. Sealed: only this module defines stages.
pub trait Stage: sealed::Sealed + fmt::Debug + Clone {}

macro_rules! stages {
    ($($s:ident),+) => { $(impl sealed::Sealed for $s {} impl Stage for $s {})+ };
}
stages!(
    Open,
    Authorized,
    OrderPending,
    TokenPending,
    FraudReview,
    Ordered,
    Stopped,
    Tokenized,
    Cancelled,
    Expired,
    Refused,
    NeedsReview
);

/// A payment in stage `S`. Common data lives here; stage data lives in `S`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payment<S: Stage> {
    id: PaymentId,
    intent: Intent,
    cart: Cart,
    created_at: Timestamp,
    /// Operations begun so far: the sequence number of the next one's idempotency key.
    op_seq: u32,
    /// The shop's merchant data, sent with every request made for the payment (boxed: most
    /// payments carry none, and stages move often).
    merchant: Box<MerchantData>,
    stage: S,
}

/// A refused transition: the payment, unchanged, and why.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{error}")]
pub struct TransitionFailed<P> {
    /// The payment as it was (boxed: stages are large and errors should be cheap to move).
    pub payment: Box<P>,
    /// Why the transition was refused.
    pub error: LifecycleError,
}

/// Why a lifecycle transition is not allowed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The session closed (48 h).
    #[error("the payment session has expired")]
    SessionExpired,
    /// The authorization token ran out (60 minutes); the shopper must re-authorize.
    #[error("the authorization has expired; the shopper must authorize again")]
    AuthorizationExpired,
    /// The intent does not allow the operation.
    #[error("intent `{intent}` does not allow {operation}")]
    IntentForbids {
        /// The payment's intent.
        intent: &'static str,
        /// The refused operation.
        operation: &'static str,
    },
    /// The cart changed since authorization: re-authorize first.
    #[error("the cart changed after authorization; the shopper must authorize again")]
    CartChanged,
    /// A refusal that followed an attempt with an unknown outcome is not definitive.
    #[error("a refusal after an in-doubt attempt is not definitive; reconcile instead")]
    NotDefinitive,
    /// Klarna stopped the order (fraud status `STOPPED`): nothing may ship, so no capture is
    /// sent. Cancel the order, or reply to Klarna's stop request before `reply_by`.
    #[error(
        "order {order_id} is stopped by Klarna: do not ship; cancel it or reply to Klarna before {} (unix ms)",
        reply_by.unix_millis()
    )]
    OrderStopped {
        /// The stopped order.
        order_id: OrderId,
        /// When Klarna's 24-hour reply window closes.
        reply_by: Timestamp,
    },
    /// The step is not due in this stage.
    #[error("{operation} is not possible in stage {stage}")]
    WrongStage {
        /// The refused operation.
        operation: &'static str,
        /// The current stage.
        stage: StageKind,
    },
}

impl<S: Stage> Payment<S> {
    /// Our payment id (also `merchant_reference1` at Klarna unless the shop gave its own
    /// order number: see [`Self::merchant_reference1`]).
    #[must_use]
    pub fn id(&self) -> &PaymentId {
        &self.id
    }
    /// What Klarna holds as `merchant_reference1` for this payment: the shop's order number
    /// when given, else our payment id. Every check of an order against the payment uses it.
    #[must_use]
    pub fn merchant_reference1(&self) -> &str {
        self.merchant
            .order_number()
            .unwrap_or_else(|| self.id.as_str())
    }
    /// The shop's merchant data (empty by default).
    #[must_use]
    pub fn merchant(&self) -> &MerchantData {
        &self.merchant
    }
    /// The same payment carrying `merchant` (a new payment's data, or a stored one's on load).
    #[must_use]
    pub fn with_merchant(mut self, merchant: MerchantData) -> Self {
        self.merchant = Box::new(merchant);
        self
    }
    /// The intent.
    #[must_use]
    pub fn intent(&self) -> Intent {
        self.intent
    }
    /// The current cart.
    #[must_use]
    pub fn cart(&self) -> &Cart {
        &self.cart
    }
    /// When the payment was created.
    #[must_use]
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// The stage data.
    #[must_use]
    pub fn stage(&self) -> &S {
        &self.stage
    }

    /// The sequence number the next Klarna operation of this payment gets: mint its
    /// idempotency key with it (`keys.key(id, operation, payment.next_op_seq())`), so that no
    /// two operations of a payment ever share a key.
    #[must_use]
    pub fn next_op_seq(&self) -> u32 {
        self.op_seq
    }

    pub(crate) fn from_parts(
        id: PaymentId,
        intent: Intent,
        cart: Cart,
        created_at: Timestamp,
        op_seq: u32,
        stage: S,
    ) -> Self {
        Self {
            id,
            intent,
            cart,
            created_at,
            op_seq,
            merchant: Box::default(),
            stage,
        }
    }

    /// Evidence contradicts the stage (e.g. Klarna's success arrived after the operation was
    /// resolved otherwise): a human decides, with `reason` naming what Klarna said.
    pub(crate) fn contradicted(self, reason: String, now: Timestamp) -> Payment<NeedsReview> {
        self.with(NeedsReview {
            reason,
            key: None,
            at: now,
            customer_token: None,
        })
    }

    fn with<T: Stage>(self, stage: T) -> Payment<T> {
        Payment {
            id: self.id,
            intent: self.intent,
            cart: self.cart,
            created_at: self.created_at,
            op_seq: self.op_seq,
            merchant: self.merchant,
            stage,
        }
    }

    /// Like [`Self::with`], counting one more operation begun.
    fn begin<T: Stage>(mut self, stage: T) -> Payment<T> {
        self.op_seq = self.op_seq.saturating_add(1);
        self.with(stage)
    }

    fn fail<T>(self, error: LifecycleError) -> Result<T, TransitionFailed<Self>> {
        Err(TransitionFailed {
            payment: Box::new(self),
            error,
        })
    }
}

impl Payment<Open> {
    /// A new payment whose Klarna session was just created.
    #[must_use]
    pub fn open(
        id: PaymentId,
        intent: Intent,
        cart: Cart,
        session: Session,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            intent,
            cart,
            created_at: now,
            op_seq: 0,
            merchant: Box::default(),
            stage: Open { session },
        }
    }

    /// The session.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.stage.session
    }

    /// Records the payment link (Hosted Payment Page session) Klarna made for this session;
    /// a later link replaces an earlier one.
    ///
    /// # Errors
    /// [`LifecycleError::SessionExpired`] when the session has closed.
    pub fn with_hosted_page(
        mut self,
        page: HostedPageId,
        now: Timestamp,
    ) -> Result<Self, TransitionFailed<Self>> {
        if !self.stage.session.is_open(now) {
            return self.fail(LifecycleError::SessionExpired);
        }
        self.stage.session = self.stage.session.clone().with_hosted_page(page);
        Ok(self)
    }

    /// Replaces the cart (after Klarna accepted the session update).
    ///
    /// # Errors
    /// [`LifecycleError::SessionExpired`] when the session has closed.
    pub fn update_cart(
        mut self,
        cart: Cart,
        now: Timestamp,
    ) -> Result<Self, TransitionFailed<Self>> {
        if !self.stage.session.is_open(now) {
            return self.fail(LifecycleError::SessionExpired);
        }
        self.cart = cart;
        Ok(self)
    }

    /// Records the shopper's authorization of the current cart.
    ///
    /// # Errors
    /// [`LifecycleError::SessionExpired`] when the session has closed.
    pub fn authorize(
        self,
        token: AuthorizationToken,
        now: Timestamp,
    ) -> Result<Payment<Authorized>, TransitionFailed<Self>> {
        if !self.stage.session.is_open(now) {
            return self.fail(LifecycleError::SessionExpired);
        }
        let authorization = Authorization::new(token, self.cart.fingerprint(), now);
        let session = self.stage.session.clone();
        Ok(self.with(Authorized {
            session,
            authorization,
            customer_token: None,
        }))
    }

    /// Cancels the payment (the session is abandoned).
    #[must_use]
    pub fn cancel(self, now: Timestamp) -> Payment<Cancelled> {
        self.with(Cancelled {
            reason: CancelReason::Merchant,
            order_id: None,
            at: now,
        })
    }
}

impl Payment<Authorized> {
    /// The session.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.stage.session
    }
    /// The authorization.
    #[must_use]
    pub fn authorization(&self) -> &Authorization {
        &self.stage.authorization
    }

    /// Re-authorization: a new token for the same cart replaces the old one.
    ///
    /// # Errors
    /// [`LifecycleError::SessionExpired`] when the session has closed.
    pub fn reauthorize(
        mut self,
        token: AuthorizationToken,
        now: Timestamp,
    ) -> Result<Self, TransitionFailed<Self>> {
        if !self.stage.session.is_open(now) {
            return self.fail(LifecycleError::SessionExpired);
        }
        self.stage.authorization = Authorization::new(token, self.cart.fingerprint(), now);
        Ok(self)
    }

    /// The cart changed: the authorization no longer covers it, so the payment is open again
    /// and the shopper must re-authorize. Returns the dropped authorization so the caller can
    /// release it at Klarna.
    ///
    /// # Errors
    /// [`LifecycleError::SessionExpired`] when the session has closed.
    pub fn update_cart(
        self,
        cart: Cart,
        now: Timestamp,
    ) -> Result<(Payment<Open>, Authorization), TransitionFailed<Self>> {
        if !self.stage.session.is_open(now) {
            return self.fail(LifecycleError::SessionExpired);
        }
        if self.stage.customer_token.is_some() {
            // The token exists at Klarna: a new cart would need a new authorization and a
            // second token. The order is due now; the cart stays.
            return self.fail(LifecycleError::WrongStage {
                operation: "changing the cart after the customer token was made",
                stage: StageKind::Authorized,
            });
        }
        let Authorized {
            session,
            authorization,
            ..
        } = self.stage.clone();
        let mut open = self.with(Open { session });
        open.cart = cart;
        Ok((open, authorization))
    }

    fn check_usable(
        &self,
        now: Timestamp,
        allowed: bool,
        operation: &'static str,
    ) -> Result<(), LifecycleError> {
        if !allowed {
            return Err(LifecycleError::IntentForbids {
                intent: self.intent.as_str(),
                operation,
            });
        }
        if !self.stage.authorization.is_valid(now) {
            return Err(LifecycleError::AuthorizationExpired);
        }
        if self.stage.authorization.fingerprint != self.cart.fingerprint() {
            return Err(LifecycleError::CartChanged);
        }
        Ok(())
    }

    /// Starts "create order": the key is persisted with this stage before the call.
    ///
    /// # Errors
    /// The intent forbids an order, the authorization expired, or the cart changed.
    pub fn begin_order(
        self,
        key: IdempotencyKey,
        now: Timestamp,
    ) -> Result<Payment<OrderPending>, TransitionFailed<Self>> {
        if let Err(e) = self.check_usable(now, self.intent.allows_order(), "an order") {
            return self.fail(e);
        }
        if self.intent == Intent::BuyAndTokenize && self.stage.customer_token.is_none() {
            return self.fail(LifecycleError::WrongStage {
                operation: "placing the order before the customer token",
                stage: StageKind::Authorized,
            });
        }
        let Authorized {
            session,
            authorization,
            customer_token,
        } = self.stage.clone();
        let op = PendingOp::new(key, now);
        Ok(self.begin(OrderPending {
            source: OrderSource::Authorization {
                session,
                authorization,
            },
            op,
            customer_token,
        }))
    }

    /// The customer token made before the order (`buy_and_tokenize`), once it exists.
    #[must_use]
    pub fn customer_token(&self) -> Option<&CustomerTokenId> {
        self.stage.customer_token.as_ref()
    }

    /// Starts "create customer token" for intent `tokenize`, and for `buy_and_tokenize`
    /// before its order (as Klarna documents it: the token first, then the order from the
    /// same authorization).
    ///
    /// # Errors
    /// The intent asks for no token (or it exists), the authorization expired, or the cart
    /// changed.
    pub fn begin_tokenization(
        self,
        key: IdempotencyKey,
        now: Timestamp,
    ) -> Result<Payment<TokenPending>, TransitionFailed<Self>> {
        let allowed = match self.intent {
            Intent::Tokenize => true,
            Intent::BuyAndTokenize => self.stage.customer_token.is_none(),
            Intent::Buy => false,
        };
        if let Err(e) = self.check_usable(now, allowed, "a customer token") {
            return self.fail(e);
        }
        let Authorized {
            session,
            authorization,
            ..
        } = self.stage.clone();
        Ok(self.begin(TokenPending {
            session,
            authorization,
            op: PendingOp::new(key, now),
        }))
    }

    /// Cancels: the caller releases the authorization at Klarna.
    #[must_use]
    pub fn cancel(self, now: Timestamp) -> Payment<Cancelled> {
        self.with(Cancelled {
            reason: CancelReason::Merchant,
            order_id: None,
            at: now,
        })
    }
}

/// What recording an order led to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderOutcome {
    /// The order stands (fraud `ACCEPTED` or `REJECTED`, which the merchant must not fulfil).
    Ordered(Payment<Ordered>),
    /// Klarna holds the order for review.
    FraudReview(Payment<FraudReview>),
}

impl OrderOutcome {
    /// The stored form.
    #[must_use]
    pub fn into_any(self) -> AnyPayment {
        match self {
            Self::Ordered(p) => AnyPayment::Ordered(p),
            Self::FraudReview(p) => AnyPayment::FraudReview(p),
        }
    }
}

impl Payment<OrderPending> {
    /// A charge of a customer token: a new payment, born pending with its key persisted.
    #[must_use]
    pub fn charge(
        id: PaymentId,
        cart: Cart,
        token: CustomerTokenId,
        key: IdempotencyKey,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            intent: Intent::Buy,
            cart,
            created_at: now,
            op_seq: 1,
            merchant: Box::default(),
            stage: OrderPending {
                source: OrderSource::CustomerToken(token),
                op: PendingOp::new(key, now),
                customer_token: None,
            },
        }
    }

    /// Where the order comes from.
    #[must_use]
    pub fn source(&self) -> &OrderSource {
        &self.stage.source
    }
    /// The in-flight operation.
    #[must_use]
    pub fn op(&self) -> &PendingOp {
        &self.stage.op
    }

    /// Records an attempt; `outcome_unknown` when it may have reached Klarna unanswered.
    #[must_use]
    pub fn attempted(mut self, outcome_unknown: bool) -> Self {
        self.stage.op = self.stage.op.clone().attempted(outcome_unknown);
        self
    }

    /// Fences the pending request until `until` (see [`PendingOp::fenced_until`]).
    #[must_use]
    pub fn fenced_until(mut self, until: Timestamp) -> Self {
        self.stage.op = self.stage.op.clone().fenced_until(until);
        self
    }

    /// Remembers the request's configured parts (see [`PendingOp::with_request`]).
    #[must_use]
    pub fn with_request(mut self, fingerprint: Option<u64>) -> Self {
        self.stage.op = self.stage.op.clone().with_request(fingerprint);
        self
    }

    /// Records the order Klarna created.
    #[must_use]
    pub fn record_order(self, order: PlacedOrder) -> OrderOutcome {
        let tokenization = match (&self.stage.source, self.intent, &self.stage.customer_token) {
            (_, Intent::BuyAndTokenize, Some(token)) => Tokenization::Done(token.clone()),
            // A payment stored before tokens came first: the token step follows the order.
            (OrderSource::Authorization { authorization, .. }, Intent::BuyAndTokenize, None) => {
                Tokenization::Due(authorization.clone())
            }
            (OrderSource::Authorization { .. }, Intent::Buy | Intent::Tokenize, _)
            | (OrderSource::CustomerToken(_), _, _) => Tokenization::NotRequested,
        };
        match order.fraud_status {
            // An order born `STOPPED` is not documented: held like a review (nothing ships),
            // and the next read of the order stops it.
            FraudStatus::Pending | FraudStatus::Stopped => {
                OrderOutcome::FraudReview(self.with(FraudReview {
                    order,
                    tokenization,
                }))
            }
            FraudStatus::Accepted | FraudStatus::Rejected => {
                OrderOutcome::Ordered(self.with(Ordered {
                    order,
                    tokenization,
                }))
            }
        }
    }

    /// Records Klarna's refusal. Only definitive when no earlier attempt was in doubt.
    ///
    /// # Errors
    /// [`LifecycleError::NotDefinitive`] after an in-doubt attempt: stay pending and reconcile.
    pub fn record_refusal(
        self,
        code: impl Into<String>,
        now: Timestamp,
    ) -> Result<Payment<Refused>, TransitionFailed<Self>> {
        if self.stage.op.in_doubt() {
            return self.fail(LifecycleError::NotDefinitive);
        }
        let customer_token = self.stage.customer_token.clone();
        Ok(self.with(Refused {
            code: code.into(),
            at: now,
            customer_token,
        }))
    }

    /// Evidence could not resolve the operation: a human decides.
    #[must_use]
    pub fn needs_review(self, reason: impl Into<String>, now: Timestamp) -> Payment<NeedsReview> {
        let key = Some(self.stage.op.key().clone());
        let customer_token = self.stage.customer_token.clone();
        self.with(NeedsReview {
            reason: reason.into(),
            key,
            at: now,
            customer_token,
        })
    }

    /// The request never left (a refused connection, nothing earlier in doubt): the order is
    /// rolled back to the authorization it came from, so "nothing happened, try again" is
    /// true. A customer-token charge has no earlier stage: it stays pending (queued for the
    /// reconciler, which sends it with the same key).
    ///
    /// # Errors
    /// A charge, or an operation with an earlier attempt in doubt: it stays as it is.
    pub fn roll_back(self) -> Result<Payment<Authorized>, TransitionFailed<Self>> {
        if self.stage.op.in_doubt() {
            return self.fail(LifecycleError::NotDefinitive);
        }
        match self.stage.source.clone() {
            OrderSource::Authorization {
                session,
                authorization,
            } => {
                let customer_token = self.stage.customer_token.clone();
                Ok(self.with(Authorized {
                    session,
                    authorization,
                    customer_token,
                }))
            }
            OrderSource::CustomerToken(_) => self.fail(LifecycleError::WrongStage {
                operation: "rolling back a token charge",
                stage: StageKind::OrderPending,
            }),
        }
    }

    /// Evidence (a replay with the same key inside Klarna's window, or a session that is still
    /// incomplete) shows that no earlier attempt took effect: the operation is no longer in doubt.
    #[must_use]
    pub fn cleared_by_evidence(mut self) -> Self {
        let op = &self.stage.op;
        self.stage.op = PendingOp::restore(op.key().clone(), op.attempts(), false, op.started_at());
        self
    }

    /// Klarna definitively refused the authorization itself (expired, superseded, or data not
    /// matching) on an unambiguous first attempt: no order exists, and while the session lives
    /// the shopper may authorize again.
    ///
    /// # Errors
    /// [`LifecycleError::NotDefinitive`] after an in-doubt attempt; [`LifecycleError::WrongStage`]
    /// for a customer-token charge; [`LifecycleError::SessionExpired`] when the session closed.
    pub fn reopen(self, now: Timestamp) -> Result<Payment<Open>, TransitionFailed<Self>> {
        if self.stage.op.in_doubt() {
            return self.fail(LifecycleError::NotDefinitive);
        }
        if self.stage.customer_token.is_some() {
            // The customer token exists: a new authorization would make a second one. The
            // refusal is recorded instead (the token stays in the store's token records).
            return self.fail(LifecycleError::WrongStage {
                operation: "re-authorization after the customer token was made",
                stage: StageKind::OrderPending,
            });
        }
        match self.stage.source.clone() {
            OrderSource::Authorization { session, .. } if session.is_open(now) => {
                Ok(self.with(Open { session }))
            }
            OrderSource::Authorization { .. } => self.fail(LifecycleError::SessionExpired),
            OrderSource::CustomerToken(_) => self.fail(LifecycleError::WrongStage {
                operation: "re-authorization",
                stage: StageKind::OrderPending,
            }),
        }
    }
}

impl Payment<TokenPending> {
    /// The session.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.stage.session
    }
    /// The authorization being tokenized.
    #[must_use]
    pub fn authorization(&self) -> &Authorization {
        &self.stage.authorization
    }
    /// The in-flight operation.
    #[must_use]
    pub fn op(&self) -> &PendingOp {
        &self.stage.op
    }
    /// Records an attempt.
    #[must_use]
    pub fn attempted(mut self, outcome_unknown: bool) -> Self {
        self.stage.op = self.stage.op.clone().attempted(outcome_unknown);
        self
    }
    /// The request never left and nothing earlier is in doubt: back to the authorization.
    #[must_use]
    pub fn roll_back(self) -> Payment<Authorized> {
        let TokenPending {
            session,
            authorization,
            ..
        } = self.stage.clone();
        self.with(Authorized {
            session,
            authorization,
            customer_token: None,
        })
    }

    /// Records the customer token of intent `buy_and_tokenize`: the payment is authorized
    /// again, now with its token, and the order from the same authorization is due.
    #[must_use]
    pub fn record_token_before_order(self, token: CustomerTokenId) -> Payment<Authorized> {
        let TokenPending {
            session,
            authorization,
            ..
        } = self.stage.clone();
        self.with(Authorized {
            session,
            authorization,
            customer_token: Some(token),
        })
    }

    /// Records the customer token Klarna created.
    #[must_use]
    pub fn record_token(self, token: CustomerTokenId, now: Timestamp) -> Payment<Tokenized> {
        self.with(Tokenized {
            customer_token: token,
            at: now,
        })
    }
    /// Records Klarna's refusal, if definitive.
    ///
    /// # Errors
    /// [`LifecycleError::NotDefinitive`] after an in-doubt attempt.
    pub fn record_refusal(
        self,
        code: impl Into<String>,
        now: Timestamp,
    ) -> Result<Payment<Refused>, TransitionFailed<Self>> {
        if self.stage.op.in_doubt() {
            return self.fail(LifecycleError::NotDefinitive);
        }
        Ok(self.with(Refused {
            code: code.into(),
            at: now,
            customer_token: None,
        }))
    }
    /// Unresolvable: a human decides.
    #[must_use]
    pub fn needs_review(self, reason: impl Into<String>, now: Timestamp) -> Payment<NeedsReview> {
        let key = Some(self.stage.op.key().clone());
        self.with(NeedsReview {
            reason: reason.into(),
            key,
            at: now,
            customer_token: None,
        })
    }
}

impl Payment<FraudReview> {
    /// The order under review.
    #[must_use]
    pub fn order(&self) -> &PlacedOrder {
        &self.stage.order
    }
    /// Klarna decided (by notification or a re-read of the order).
    #[must_use]
    pub fn resolve(self, accepted: bool, now: Timestamp) -> AnyPayment {
        let FraudReview {
            order,
            tokenization,
        } = self.stage.clone();
        if accepted {
            let order = PlacedOrder {
                fraud_status: FraudStatus::Accepted,
                ..order
            };
            AnyPayment::Ordered(self.with(Ordered {
                order,
                tokenization,
            }))
        } else {
            let order_id = Some(order.order_id);
            AnyPayment::Cancelled(self.with(Cancelled {
                reason: CancelReason::FraudRejected,
                order_id,
                at: now,
            }))
        }
    }
    /// Klarna stopped the order under review (a read shows `STOPPED`): nothing ships.
    #[must_use]
    pub fn stop(self, now: Timestamp) -> Payment<Stopped> {
        let FraudReview {
            order,
            tokenization,
        } = self.stage.clone();
        self.with(Stopped::new(order, tokenization, now))
    }
    /// The merchant cancels during review; a late accept cannot undo it.
    #[must_use]
    pub fn cancel(self, now: Timestamp) -> Payment<Cancelled> {
        let order_id = Some(self.stage.order.order_id.clone());
        self.with(Cancelled {
            reason: CancelReason::Merchant,
            order_id,
            at: now,
        })
    }
}

impl Payment<Ordered> {
    /// The order.
    #[must_use]
    pub fn order(&self) -> &PlacedOrder {
        &self.stage.order
    }
    /// The customer-token step (intent `buy_and_tokenize`).
    #[must_use]
    pub fn tokenization(&self) -> &Tokenization {
        &self.stage.tokenization
    }

    /// Starts "create customer token" from the order's authorization (`buy_and_tokenize`).
    ///
    /// # Errors
    /// No token is due, or the authorization expired.
    pub fn begin_tokenization(
        mut self,
        key: IdempotencyKey,
        now: Timestamp,
    ) -> Result<Self, TransitionFailed<Self>> {
        match self.stage.tokenization.clone() {
            Tokenization::Due(auth) if auth.is_valid(now) => {
                self.stage.tokenization = Tokenization::Pending(auth, PendingOp::new(key, now));
                self.op_seq = self.op_seq.saturating_add(1);
                Ok(self)
            }
            Tokenization::Due(_) => self.fail(LifecycleError::AuthorizationExpired),
            Tokenization::NotRequested
            | Tokenization::Pending(..)
            | Tokenization::Done(_)
            | Tokenization::Refused(_) => self.fail(LifecycleError::WrongStage {
                operation: "a customer token",
                stage: StageKind::Ordered,
            }),
        }
    }

    /// Records an attempt of the pending token step.
    #[must_use]
    pub fn token_attempted(mut self, outcome_unknown: bool) -> Self {
        if let Tokenization::Pending(auth, op) = self.stage.tokenization.clone() {
            self.stage.tokenization = Tokenization::Pending(auth, op.attempted(outcome_unknown));
        }
        self
    }

    /// Records the customer token of a pending token step.
    ///
    /// # Errors
    /// No token step is pending.
    pub fn record_token(mut self, token: CustomerTokenId) -> Result<Self, TransitionFailed<Self>> {
        if matches!(self.stage.tokenization, Tokenization::Pending(..)) {
            self.stage.tokenization = Tokenization::Done(token);
            Ok(self)
        } else {
            self.fail(LifecycleError::WrongStage {
                operation: "recording a customer token",
                stage: StageKind::Ordered,
            })
        }
    }

    /// Records a definitive refusal of the token step (the order stands).
    ///
    /// # Errors
    /// No token step is pending, or an earlier attempt was in doubt.
    pub fn record_token_refusal(
        mut self,
        code: impl Into<String>,
    ) -> Result<Self, TransitionFailed<Self>> {
        match &self.stage.tokenization {
            Tokenization::Pending(_, op) if !op.in_doubt() => {
                self.stage.tokenization = Tokenization::Refused(code.into());
                Ok(self)
            }
            Tokenization::Pending(..) => self.fail(LifecycleError::NotDefinitive),
            Tokenization::NotRequested
            | Tokenization::Due(_)
            | Tokenization::Done(_)
            | Tokenization::Refused(_) => self.fail(LifecycleError::WrongStage {
                operation: "refusing a customer token",
                stage: StageKind::Ordered,
            }),
        }
    }

    /// The token request never left and nothing earlier is in doubt: the step is due again.
    #[must_use]
    pub fn roll_back_token_step(mut self) -> Self {
        if let Tokenization::Pending(auth, op) = self.stage.tokenization.clone()
            && !op.in_doubt()
        {
            self.stage.tokenization = Tokenization::Due(auth);
        }
        self
    }

    /// Gives up on a pending token step that evidence cannot resolve (a human follows up);
    /// the order stands.
    #[must_use]
    pub fn abandon_token_step(mut self, reason: impl Into<String>) -> Self {
        if matches!(self.stage.tokenization, Tokenization::Pending(..)) {
            self.stage.tokenization = Tokenization::Refused(reason.into());
        }
        self
    }

    /// Klarna stopped the accepted order (`FRAUD_RISK_STOPPED`, fraud status `STOPPED`):
    /// nothing ships from now on.
    ///
    /// # Errors
    /// [`LifecycleError::WrongStage`] while a customer-token request of the order may be in
    /// flight (a payment stored before tokens came first): it stays ordered until that step is
    /// resolved, and the next read of the order stops it (Klarna refuses the captures anyway).
    pub fn stop(self, now: Timestamp) -> Result<Payment<Stopped>, TransitionFailed<Self>> {
        if matches!(self.stage.tokenization, Tokenization::Pending(..)) {
            return self.fail(LifecycleError::WrongStage {
                operation: "stopping an order while its customer token is in flight",
                stage: StageKind::Ordered,
            });
        }
        let Ordered {
            order,
            tokenization,
        } = self.stage.clone();
        Ok(self.with(Stopped::new(order, tokenization, now)))
    }

    /// The order was cancelled through Order Management.
    #[must_use]
    pub fn cancel(self, now: Timestamp) -> Payment<Cancelled> {
        let order_id = Some(self.stage.order.order_id.clone());
        self.with(Cancelled {
            reason: CancelReason::Merchant,
            order_id,
            at: now,
        })
    }
}

impl Stopped {
    fn new(order: PlacedOrder, tokenization: Tokenization, now: Timestamp) -> Self {
        Self {
            order: PlacedOrder {
                fraud_status: FraudStatus::Stopped,
                ..order
            },
            tokenization,
            stopped_at: now,
        }
    }
}

impl Payment<Stopped> {
    /// The stopped order (its fraud status is `STOPPED`).
    #[must_use]
    pub fn order(&self) -> &PlacedOrder {
        &self.stage.order
    }
    /// The customer-token step of the order (intent `buy_and_tokenize`).
    #[must_use]
    pub fn tokenization(&self) -> &Tokenization {
        &self.stage.tokenization
    }
    /// The customer token made with the order, if any.
    #[must_use]
    pub fn customer_token(&self) -> Option<&CustomerTokenId> {
        match &self.stage.tokenization {
            Tokenization::Done(t) => Some(t),
            Tokenization::NotRequested
            | Tokenization::Due(_)
            | Tokenization::Pending(..)
            | Tokenization::Refused(_) => None,
        }
    }
    /// When we learnt of the stop (the notification's or the read's time).
    #[must_use]
    pub fn stopped_at(&self) -> Timestamp {
        self.stage.stopped_at
    }
    /// Until when the merchant can reply to Klarna's stop request and leave the risk with
    /// Klarna: 24 hours after [`Self::stopped_at`] (API.md §11.3). Klarna's own clock started
    /// when it stopped the order, which may be earlier than we learnt of it.
    #[must_use]
    pub fn reply_by(&self) -> Timestamp {
        self.stage.stopped_at.plus(lifetimes::STOP_REPLY)
    }
    /// The error a capture of this order gets: nothing ships while it is stopped.
    #[must_use]
    pub fn capture_refusal(&self) -> LifecycleError {
        LifecycleError::OrderStopped {
            order_id: self.stage.order.order_id.clone(),
            reply_by: self.reply_by(),
        }
    }
    /// Klarna's order reads `ACCEPTED` again (it lifted the stop after the merchant replied;
    /// Klarna documents no such transition, so only an explicit `ACCEPTED` read does this).
    #[must_use]
    pub fn resume(self) -> Payment<Ordered> {
        let Stopped {
            order,
            tokenization,
            ..
        } = self.stage.clone();
        let order = PlacedOrder {
            fraud_status: FraudStatus::Accepted,
            ..order
        };
        self.with(Ordered {
            order,
            tokenization,
        })
    }
    /// The merchant cancelled the stopped order through Order Management.
    #[must_use]
    pub fn cancel(self, now: Timestamp) -> Payment<Cancelled> {
        let order_id = Some(self.stage.order.order_id.clone());
        self.with(Cancelled {
            reason: CancelReason::Merchant,
            order_id,
            at: now,
        })
    }
}

impl Payment<Tokenized> {
    /// The customer token.
    #[must_use]
    pub fn customer_token(&self) -> &CustomerTokenId {
        &self.stage.customer_token
    }
}

impl Payment<Cancelled> {
    /// Why.
    #[must_use]
    pub fn reason(&self) -> CancelReason {
        self.stage.reason
    }
    /// The cancelled order, if one existed.
    #[must_use]
    pub fn order_id(&self) -> Option<&OrderId> {
        self.stage.order_id.as_ref()
    }
}

impl Payment<Refused> {
    /// Why Klarna refused, as the gateway port words it (`declined`, `token_cancelled`, …; never a raw Klarna code).
    #[must_use]
    pub fn code(&self) -> &str {
        &self.stage.code
    }
    /// The customer token made before the refused order (`buy_and_tokenize`), if any.
    #[must_use]
    pub fn customer_token(&self) -> Option<&CustomerTokenId> {
        self.stage.customer_token.as_ref()
    }
}

impl Payment<NeedsReview> {
    /// Why a human must look.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.stage.reason
    }
    /// The key of the unresolved operation.
    #[must_use]
    pub fn key(&self) -> Option<&IdempotencyKey> {
        self.stage.key.as_ref()
    }
    /// Late evidence (Klarna's answer after the review) gave the customer token: record it.
    #[must_use]
    pub fn resolve_with_token(self, token: CustomerTokenId, now: Timestamp) -> Payment<Tokenized> {
        self.with(Tokenized {
            customer_token: token,
            at: now,
        })
    }
    /// The customer token made before the order in review (`buy_and_tokenize`).
    #[must_use]
    pub fn customer_token(&self) -> Option<&CustomerTokenId> {
        self.stage.customer_token.as_ref()
    }
    /// A human (or late evidence) found the order: record it (with the customer token made
    /// before it, if any).
    #[must_use]
    pub fn resolve_with_order(self, order: PlacedOrder) -> Payment<Ordered> {
        let tokenization = match (&self.stage.customer_token, self.intent) {
            (Some(t), _) => Tokenization::Done(t.clone()),
            (None, _) => Tokenization::NotRequested,
        };
        self.with(Ordered {
            order,
            tokenization,
        })
    }
}

/// The name of a stage, for storage columns, logs and errors.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StageKind {
    /// [`Open`].
    Open,
    /// [`Authorized`].
    Authorized,
    /// [`OrderPending`].
    OrderPending,
    /// [`TokenPending`].
    TokenPending,
    /// [`FraudReview`].
    FraudReview,
    /// [`Ordered`].
    Ordered,
    /// [`Stopped`].
    Stopped,
    /// [`Tokenized`].
    Tokenized,
    /// [`Cancelled`].
    Cancelled,
    /// [`Expired`].
    Expired,
    /// [`Refused`].
    Refused,
    /// [`NeedsReview`].
    NeedsReview,
}

impl StageKind {
    /// Every stage.
    pub const ALL: [Self; 12] = [
        Self::Open,
        Self::Authorized,
        Self::OrderPending,
        Self::TokenPending,
        Self::FraudReview,
        Self::Ordered,
        Self::Stopped,
        Self::Tokenized,
        Self::Cancelled,
        Self::Expired,
        Self::Refused,
        Self::NeedsReview,
    ];

    /// Snake-case name (`order_pending`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Authorized => "authorized",
            Self::OrderPending => "order_pending",
            Self::TokenPending => "token_pending",
            Self::FraudReview => "fraud_review",
            Self::Ordered => "ordered",
            Self::Stopped => "stopped",
            Self::Tokenized => "tokenized",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refused => "refused",
            Self::NeedsReview => "needs_review",
        }
    }

    /// Parses [`Self::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Terminal stages absorb: no transition leaves them (a human may resolve `NeedsReview`).
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Tokenized | Self::Cancelled | Self::Expired | Self::Refused
        )
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored form of a payment: one exhaustive enum. The service matches on it once, then
/// works with the typed stage.
#[derive(Clone, PartialEq, Eq, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "stored whole; boxing buys nothing here"
)]
pub enum AnyPayment {
    /// See [`Open`].
    Open(Payment<Open>),
    /// See [`Authorized`].
    Authorized(Payment<Authorized>),
    /// See [`OrderPending`].
    OrderPending(Payment<OrderPending>),
    /// See [`TokenPending`].
    TokenPending(Payment<TokenPending>),
    /// See [`FraudReview`].
    FraudReview(Payment<FraudReview>),
    /// See [`Ordered`].
    Ordered(Payment<Ordered>),
    /// See [`Stopped`].
    Stopped(Payment<Stopped>),
    /// See [`Tokenized`].
    Tokenized(Payment<Tokenized>),
    /// See [`Cancelled`].
    Cancelled(Payment<Cancelled>),
    /// See [`Expired`].
    Expired(Payment<Expired>),
    /// See [`Refused`].
    Refused(Payment<Refused>),
    /// See [`NeedsReview`].
    NeedsReview(Payment<NeedsReview>),
}

macro_rules! each {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            AnyPayment::Open($p) => $e,
            AnyPayment::Authorized($p) => $e,
            AnyPayment::OrderPending($p) => $e,
            AnyPayment::TokenPending($p) => $e,
            AnyPayment::FraudReview($p) => $e,
            AnyPayment::Ordered($p) => $e,
            AnyPayment::Stopped($p) => $e,
            AnyPayment::Tokenized($p) => $e,
            AnyPayment::Cancelled($p) => $e,
            AnyPayment::Expired($p) => $e,
            AnyPayment::Refused($p) => $e,
            AnyPayment::NeedsReview($p) => $e,
        }
    };
}

macro_rules! into_any {
    ($($s:ident),+) => { $(impl From<Payment<$s>> for AnyPayment { fn from(p: Payment<$s>) -> Self { Self::$s(p) } })+ };
}
into_any!(
    Open,
    Authorized,
    OrderPending,
    TokenPending,
    FraudReview,
    Ordered,
    Stopped,
    Tokenized,
    Cancelled,
    Expired,
    Refused,
    NeedsReview
);

impl AnyPayment {
    /// Fences the pending operation, if any, until `until` (see [`PendingOp::fenced_until`]).
    #[must_use]
    pub fn fenced_until(self, until: Timestamp) -> Self {
        self.map_op(|op| op.fenced_until(until))
    }

    /// Remembers the pending request's configured parts (see [`PendingOp::with_request`]).
    #[must_use]
    pub fn with_request(self, fingerprint: Option<u64>) -> Self {
        self.map_op(|op| op.with_request(fingerprint))
    }

    /// Changes the pending operation, if any.
    fn map_op(self, f: impl FnOnce(PendingOp) -> PendingOp) -> Self {
        match self {
            Self::OrderPending(mut p) => {
                p.stage.op = f(p.stage.op.clone());
                Self::OrderPending(p)
            }
            Self::TokenPending(mut p) => {
                p.stage.op = f(p.stage.op.clone());
                Self::TokenPending(p)
            }
            Self::Ordered(mut p) => {
                if let Tokenization::Pending(auth, op) = p.stage.tokenization.clone() {
                    p.stage.tokenization = Tokenization::Pending(auth, f(op));
                }
                Self::Ordered(p)
            }
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::FraudReview(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => other,
        }
    }

    /// Our payment id.
    #[must_use]
    pub fn id(&self) -> &PaymentId {
        each!(self, p => p.id())
    }
    /// Klarna's `merchant_reference1` for the payment (see [`Payment::merchant_reference1`]).
    #[must_use]
    pub fn merchant_reference1(&self) -> &str {
        each!(self, p => p.merchant_reference1())
    }
    /// The shop's merchant data.
    #[must_use]
    pub fn merchant(&self) -> &MerchantData {
        each!(self, p => p.merchant())
    }
    /// The same payment carrying `merchant`.
    #[must_use]
    pub fn with_merchant(self, merchant: MerchantData) -> Self {
        each!(self, p => p.with_merchant(merchant).into())
    }
    /// The intent.
    #[must_use]
    pub fn intent(&self) -> Intent {
        each!(self, p => p.intent())
    }
    /// The cart.
    #[must_use]
    pub fn cart(&self) -> &Cart {
        each!(self, p => p.cart())
    }
    /// When the payment was created.
    #[must_use]
    pub fn created_at(&self) -> Timestamp {
        each!(self, p => p.created_at())
    }

    /// Which stage.
    #[must_use]
    pub fn kind(&self) -> StageKind {
        match self {
            Self::Open(_) => StageKind::Open,
            Self::Authorized(_) => StageKind::Authorized,
            Self::OrderPending(_) => StageKind::OrderPending,
            Self::TokenPending(_) => StageKind::TokenPending,
            Self::FraudReview(_) => StageKind::FraudReview,
            Self::Ordered(_) => StageKind::Ordered,
            Self::Stopped(_) => StageKind::Stopped,
            Self::Tokenized(_) => StageKind::Tokenized,
            Self::Cancelled(_) => StageKind::Cancelled,
            Self::Expired(_) => StageKind::Expired,
            Self::Refused(_) => StageKind::Refused,
            Self::NeedsReview(_) => StageKind::NeedsReview,
        }
    }

    /// The payment link (Hosted Payment Page session) serving the payment's session, while the
    /// payment has its session.
    #[must_use]
    pub fn hosted_page(&self) -> Option<&HostedPageId> {
        match self {
            Self::Open(p) => p.session().hosted_page(),
            Self::Authorized(p) => p.session().hosted_page(),
            Self::TokenPending(p) => p.session().hosted_page(),
            Self::OrderPending(p) => match p.source() {
                OrderSource::Authorization { session, .. } => session.hosted_page(),
                OrderSource::CustomerToken(_) => None,
            },
            Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }
    /// Klarna's session id, while the payment has one in play.
    #[must_use]
    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            Self::Open(p) => Some(p.session().id()),
            Self::Authorized(p) => Some(p.session().id()),
            Self::TokenPending(p) => Some(p.session().id()),
            Self::OrderPending(p) => match p.source() {
                OrderSource::Authorization { session, .. } => Some(session.id()),
                OrderSource::CustomerToken(_) => None,
            },
            Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// The authorization token currently in play (unique per payment in stores).
    #[must_use]
    pub fn authorization_token(&self) -> Option<&AuthorizationToken> {
        match self {
            Self::Authorized(p) => Some(p.authorization().token()),
            Self::TokenPending(p) => Some(p.authorization().token()),
            Self::OrderPending(p) => match p.source() {
                OrderSource::Authorization { authorization, .. } => Some(authorization.token()),
                OrderSource::CustomerToken(_) => None,
            },
            Self::Ordered(p) => match p.tokenization() {
                Tokenization::Due(a) | Tokenization::Pending(a, _) => Some(a.token()),
                Tokenization::NotRequested | Tokenization::Done(_) | Tokenization::Refused(_) => {
                    None
                }
            },
            Self::Open(_)
            | Self::FraudReview(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// Klarna's order id, once known.
    #[must_use]
    pub fn order_id(&self) -> Option<&OrderId> {
        match self {
            Self::FraudReview(p) => Some(p.order().order_id()),
            Self::Ordered(p) => Some(p.order().order_id()),
            Self::Stopped(p) => Some(p.order().order_id()),
            Self::Cancelled(p) => p.order_id(),
            Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::Tokenized(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// The in-flight operation, if any: the payment is in doubt until it resolves.
    #[must_use]
    pub fn pending_op(&self) -> Option<&PendingOp> {
        match self {
            Self::OrderPending(p) => Some(p.op()),
            Self::TokenPending(p) => Some(p.op()),
            Self::Ordered(p) => match p.tokenization() {
                Tokenization::Pending(_, op) => Some(op),
                Tokenization::NotRequested
                | Tokenization::Due(_)
                | Tokenization::Done(_)
                | Tokenization::Refused(_) => None,
            },
            Self::Open(_)
            | Self::Authorized(_)
            | Self::FraudReview(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_) => None,
        }
    }

    /// The customer token this payment created, if any.
    #[must_use]
    pub fn customer_token(&self) -> Option<&CustomerTokenId> {
        fn done(t: &Tokenization) -> Option<&CustomerTokenId> {
            match t {
                Tokenization::Done(t) => Some(t),
                Tokenization::NotRequested
                | Tokenization::Due(_)
                | Tokenization::Pending(..)
                | Tokenization::Refused(_) => None,
            }
        }
        match self {
            Self::Tokenized(p) => Some(p.customer_token()),
            Self::Ordered(p) => done(p.tokenization()),
            Self::FraudReview(p) => done(&p.stage.tokenization),
            Self::Stopped(p) => p.customer_token(),
            Self::Authorized(p) => p.stage.customer_token.as_ref(),
            Self::OrderPending(p) => p.stage.customer_token.as_ref(),
            Self::NeedsReview(p) => p.stage.customer_token.as_ref(),
            Self::Refused(p) => p.stage.customer_token.as_ref(),
            Self::Expired(p) => p.stage.customer_token.as_ref(),
            Self::Open(_) | Self::TokenPending(_) | Self::Cancelled(_) => None,
        }
    }

    /// Applies the clock: an open session past its expiry expires, and so does an authorized
    /// one (whatever its authorization's minutes left); an authorization past its 60 minutes
    /// falls back to `Open` while the session lives (the shopper may re-authorize; with a
    /// `buy_and_tokenize` token made it stays `Authorized`, keeping the token). Pending stages
    /// never expire: they are in doubt, not failed.
    #[must_use]
    pub fn expire(self, now: Timestamp) -> Self {
        match self {
            Self::Open(p) if !p.session().is_open(now) => Self::Expired(p.with(Expired {
                at: now,
                customer_token: None,
            })),
            // The session closed (48 hours), even under an authorization still in its 60
            // minutes: Klarna does not document an order from a closed session, so none is
            // attempted. A `buy_and_tokenize` token made before stays named.
            Self::Authorized(p) if !p.session().is_open(now) => {
                let customer_token = p.stage.customer_token.clone();
                Self::Expired(p.with(Expired {
                    at: now,
                    customer_token,
                }))
            }
            // Without a token the shopper may simply authorize again. A `buy_and_tokenize`
            // payment whose token was made stays authorized instead (the token exists at
            // Klarna), so a new authorization places the order without a second token; placing
            // it on the old one is refused with `AuthorizationExpired` before any call.
            Self::Authorized(p)
                if !p.authorization().is_valid(now) && p.stage.customer_token.is_none() =>
            {
                let session = p.stage.session.clone();
                Self::Open(p.with(Open { session }))
            }
            other @ (Self::Open(_)
            | Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => other,
        }
    }
}
