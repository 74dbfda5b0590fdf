//! Driven port: Klarna, as the service sees it — business verbs, domain types, typed errors.

use std::fmt;

use async_trait::async_trait;
use klarna_domain::{
    AuthorizationToken, AuthorizationUpdate, CaptureId, CaptureRequest, Cart, ClientToken,
    CustomerTokenId, FraudStatus, HostedPageId, HostedPageStatus, IdempotencyKey, Intent, Market,
    MerchantData, MerchantReferences, OrderEvidence, OrderId, OrderStatus, PaymentId,
    PaymentLinkRequest, RefundId, RefundRequest, SessionId, ShippingInfoUpdate, Timestamp,
    TokenStatus,
};

/// The merchant's callback URLs for a session (API.md §1.10, §2.10).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MerchantUrls {
    /// Where Klarna POSTs `{authorization_token, session_id}` after the shopper authorized.
    pub authorization: Option<String>,
    /// Where Klarna POSTs fraud decisions for pending orders.
    pub notification: Option<String>,
    /// Where the shopper lands after the order.
    pub confirmation: Option<String>,
    /// Order-completed push.
    pub push: Option<String>,
}

/// Create a payment session (P1).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewSession {
    /// Our payment id; sent as `merchant_reference1`.
    pub payment_id: PaymentId,
    /// `buy`, `tokenize` or `buy_and_tokenize`.
    pub intent: Intent,
    /// The cart (market, lines, totals).
    pub cart: Cart,
    /// Callback URLs.
    pub urls: MerchantUrls,
    /// The shop's merchant data: all of it goes on the session (its order number, when
    /// given, as `merchant_reference1` instead of the payment id).
    pub merchant: MerchantData,
}

/// Klarna's answer to P1.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreatedSession {
    /// The session id.
    pub session_id: SessionId,
    /// The token for the browser widget.
    pub client_token: ClientToken,
    /// Payment method category identifiers offered (`pay_later`, ...).
    pub payment_method_categories: Vec<String>,
}

/// Whether an order was placed from a session, as its read (P2) says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SessionProgress {
    /// `status: complete`: an order exists.
    Complete,
    /// `status: incomplete`, said explicitly: no order yet (as far as this read knows; a read
    /// right after an order may lag, so the service asks only after the call's deadline).
    Incomplete,
    /// The status was absent or one this crate does not know: no evidence either way.
    Unknown,
}

/// What reading a session (P2) tells.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SessionState {
    /// Whether an order was placed from the session.
    pub progress: SessionProgress,
    /// Klarna's expiry, when returned.
    pub expires_at: Option<Timestamp>,
    /// The latest authorization token, when Klarna returns it.
    pub authorization_token: Option<AuthorizationToken>,
}

/// Turn an authorization into an order (P5).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlaceOrder {
    /// Our payment id; sent as `merchant_reference1`.
    pub payment_id: PaymentId,
    /// The authorized cart, unchanged.
    pub cart: Cart,
    /// The shopper's authorization.
    pub authorization: AuthorizationToken,
    /// Callback URLs (`confirmation`, `notification`).
    pub urls: MerchantUrls,
    /// The payment's merchant data, as sent on the session: references, `merchant_data`,
    /// customer and addresses (Klarna's create-order body has no `options`, and its spec no
    /// `attachment`: those stay on the session).
    pub merchant: MerchantData,
}

/// Turn an authorization into a customer token (P6).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreateCustomerToken {
    /// Our payment id.
    pub payment_id: PaymentId,
    /// The market the token was authorized in.
    pub market: Market,
    /// What the token is for (1..=255 characters), shown to the shopper.
    pub description: String,
    /// The shopper's authorization.
    pub authorization: AuthorizationToken,
    /// The payment's merchant data: its billing address and customer are sent (the rest of
    /// the token request has no place for merchant data).
    pub merchant: MerchantData,
}

/// Charge a customer token (T2).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChargeToken {
    /// Our id of the new payment; sent as `merchant_reference1`.
    pub payment_id: PaymentId,
    /// The token.
    pub token: CustomerTokenId,
    /// What to charge.
    pub cart: Cart,
    /// The charge's merchant data: references, `merchant_data`, attachment and shipping
    /// address (a charge has no billing address, customer or widget).
    pub merchant: MerchantData,
}

/// An order Klarna created (P5, T2).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderPlaced {
    /// Klarna's order id.
    pub order_id: OrderId,
    /// Klarna's fraud decision.
    pub fraud_status: FraudStatus,
    /// Where to send the shopper's browser, when given.
    pub redirect_url: Option<String>,
}

/// A payment link Klarna made (HPP's create session): the page the shopper opens.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostedPage {
    /// Klarna's id of the hosted page session.
    pub id: HostedPageId,
    /// The page to send the shopper to (by e-mail, SMS, a QR code, a redirect).
    pub redirect_url: String,
    /// When the page stops taking payments (Klarna's: an hour before the session's end).
    pub expires_at: Option<Timestamp>,
}

/// What a payment link reports (HPP's read session).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostedPageState {
    /// The page's status; `None` for one this version does not know (treated as not final).
    pub status: Option<HostedPageStatus>,
    /// The authorization the shopper gave on the page (`NONE`: the merchant places the order).
    pub authorization_token: Option<AuthorizationToken>,
    /// The order Klarna placed (`PLACE_ORDER`).
    pub order_id: Option<OrderId>,
}

/// An order as Order Management reports it (O1): the evidence for reconciliation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RemoteOrder {
    /// Klarna's order id.
    pub order_id: OrderId,
    /// Status.
    pub status: OrderStatus,
    /// Fraud status, when reported.
    pub fraud_status: Option<FraudStatus>,
    /// Current authorized total.
    pub order_amount: i64,
    /// Σ captures.
    pub captured_amount: i64,
    /// Σ refunds.
    pub refunded_amount: i64,
    /// `merchant_reference1`: the shop's order number, or our payment id when none was given.
    pub merchant_reference1: Option<String>,
    /// Captures (id, amount).
    pub captures: Vec<(CaptureId, i64)>,
    /// Refunds (id, amount).
    pub refunds: Vec<(RefundId, i64)>,
    /// Capture deadline, when reported.
    pub expires_at: Option<Timestamp>,
}

impl RemoteOrder {
    /// What the order says, as the evidence a resolution or a payment link's order is checked
    /// against.
    #[must_use]
    pub fn evidence(self) -> OrderEvidence {
        OrderEvidence {
            order_id: self.order_id,
            merchant_reference1: self.merchant_reference1,
            order_amount: self.order_amount,
            status: self.status,
            fraud_status: self.fraud_status,
            captured_amount: self.captured_amount,
            refunded_amount: self.refunded_amount,
            expires_at: self.expires_at,
        }
    }
}

/// Why Klarna refused an operation it understood: the few reasons the service acts on
/// differently. The adapter reads Klarna's codes; the service reads only this.
///
/// Exhaustive on purpose, and small: a new reason must break every match that decides.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Refusal {
    /// Klarna declined to pay: a risk or credit decision (P5 `REJECTED`, T2
    /// `PAYMENT_METHOD_FAILED`). Nothing was created.
    Declined,
    /// The customer token cannot be charged; its status at Klarna (cancelled or suspended).
    TokenUnusable(TokenStatus),
    /// The customer token's payment method cannot be charged in the order's currency (T2
    /// `PAYMENT_METHOD_CURRENCY_MISMATCH`, `UNAVAILABLE_PAYMENT_METHOD`): charge in the
    /// token's currency, or ask the shopper for a new token. Nothing was created.
    CurrencyMismatch,
    /// Klarna forbids this merchant to use the customer token (T2 `TOKEN_FORBIDDEN`): the
    /// token cannot be charged here; ask the shopper for a new one. Nothing was created.
    TokenForbidden,
    /// The object's state or the account does not allow the operation (capture, refund or
    /// cancel not allowed, the session already completed, a conflict with the order's state).
    NotAllowed,
}

impl Refusal {
    /// A stable machine word for the reason (`declined`, `token_cancelled`, …), e.g. the
    /// refusal recorded on a payment.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Declined => "declined",
            Self::TokenUnusable(TokenStatus::Cancelled) => "token_cancelled",
            Self::TokenUnusable(TokenStatus::Suspended) => "token_suspended",
            Self::TokenUnusable(TokenStatus::Active) => "token_unusable",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::TokenForbidden => "token_forbidden",
            Self::NotAllowed => "not_allowed",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller can do about a failed gateway call.
///
/// Exhaustive on purpose: a new action must break every match that decides what to do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ErrorAction {
    /// Transient and certainly not processed (e.g. the connection was refused, 429): retry
    /// later with the same key.
    Retry,
    /// The request may have been processed without us seeing the answer (timeout, reset,
    /// 5xx): keep the operation pending and reconcile. Never treat as failed.
    OutcomeUnknown,
    /// The authorization is unusable (expired, superseded, consumed, or the cart differs from
    /// the authorized one): the shopper must authorize again.
    Reauthorize,
    /// Klarna answered and refused, for the reason given.
    Rejected(Refusal),
    /// The request is invalid (a field is wrong): fix the input.
    InvalidRequest,
    /// The credentials were refused (401) or the merchant is not allowed (403 MERCHANT_INACTIVE).
    Unauthorized,
    /// The object does not exist at Klarna (unknown order, session or token).
    NotFound,
}

impl ErrorAction {
    /// Whether Klarna's answer is a definitive refusal (as opposed to no answer).
    #[must_use]
    pub const fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::Reauthorize
                | Self::Rejected(_)
                | Self::InvalidRequest
                | Self::Unauthorized
                | Self::NotFound
        )
    }

    /// A stable machine word for the action (`reauthorize`, `not_found`, …; a rejection gives
    /// its [`Refusal`]'s word).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::Reauthorize => "reauthorize",
            Self::Rejected(r) => r.as_str(),
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
        }
    }
}

/// A failed gateway call: what to do, whether it may have reached Klarna, and Klarna's words.
///
/// The caller decides on [`Self::action`] and [`Self::may_have_reached_klarna`] only;
/// `status`, `code`, `messages` and `correlation_id` are opaque evidence for logs, `Display`
/// and support cases.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {action:?}{}{}", .code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default(), .status.map(|s| format!(" [HTTP {s}]")).unwrap_or_default())]
pub struct GatewayError {
    /// The operation, e.g. `payments.create_order`.
    pub operation: &'static str,
    /// What the caller can do.
    pub action: ErrorAction,
    /// Whether the request may have reached Klarna (and had an effect).
    pub may_have_reached_klarna: bool,
    /// HTTP status, when Klarna answered.
    pub status: Option<u16>,
    /// Klarna's `error_code` (evidence only: decide on [`Self::action`]).
    pub code: Option<String>,
    /// Klarna's `error_messages` (English, for logs, not for shoppers).
    pub messages: Vec<String>,
    /// Klarna's correlation id, for support cases.
    pub correlation_id: Option<String>,
}

impl GatewayError {
    /// An error with just an action (for fakes and tests).
    #[must_use]
    pub fn new(
        operation: &'static str,
        action: ErrorAction,
        may_have_reached_klarna: bool,
    ) -> Self {
        Self {
            operation,
            action,
            may_have_reached_klarna,
            status: None,
            code: None,
            messages: Vec::new(),
            correlation_id: None,
        }
    }
    /// Adds Klarna's answer.
    #[must_use]
    pub fn with_answer(mut self, status: u16, code: Option<String>, messages: Vec<String>) -> Self {
        self.status = Some(status);
        self.code = code;
        self.messages = messages;
        self
    }
    /// Whether the outcome is unknown: the operation must stay pending.
    #[must_use]
    pub fn outcome_unknown(&self) -> bool {
        self.action == ErrorAction::OutcomeUnknown
    }
    /// The refusal as text made from the typed action (never Klarna's raw code), for a
    /// payment's recorded refusal: e.g. `declined`, `token_cancelled`, `reauthorize`.
    #[must_use]
    pub const fn refusal_text(&self) -> &'static str {
        self.action.as_str()
    }
    /// The reason, when Klarna rejected the operation.
    #[must_use]
    pub const fn refusal(&self) -> Option<Refusal> {
        match self.action {
            ErrorAction::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Debug for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayError")
            .field("operation", &self.operation)
            .field("action", &self.action)
            .field("may_have_reached_klarna", &self.may_have_reached_klarna)
            .field("status", &self.status)
            .field("code", &self.code)
            .field("messages", &self.messages)
            .field("correlation_id", &self.correlation_id)
            .finish()
    }
}

/// Klarna, as the service sees it: every operation it needs, by business verb.
///
/// # Contract
/// - Implementations MUST validate nothing the domain already guarantees, and MUST NOT change
///   amounts or lines: what is sent is exactly the [`Cart`] given.
/// - Every mutating call that takes an [`IdempotencyKey`] MUST send it as
///   `Klarna-Idempotency-Key` on every attempt, and MUST reuse it (and identical body bytes)
///   on its own retries. Implementations MUST NOT mint a different key for a retry.
/// - MUST return [`ErrorAction::OutcomeUnknown`] whenever a mutating request may have reached
///   Klarna but no definitive answer was read (timeouts, resets, 5xx after retries).
/// - MUST return a refusal action ([`ErrorAction::is_refusal`]) only when Klarna answered
///   with a 4xx.
/// - MUST set [`GatewayError::may_have_reached_klarna`] truthfully: `false` only when the
///   request certainly never left (connect refused, DNS failure, invalid input).
/// - SHOULD retry transient failures internally (transport errors, 429, 5xx) for safe calls
///   only (reads, or calls carrying a key), with bounded backoff.
/// - MUST NOT log credentials, tokens, request bodies or personal data.
#[cfg_attr(feature = "test-util", mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// P1: creates a payment session.
    async fn create_session(&self, request: &NewSession) -> Result<CreatedSession, GatewayError>;
    /// P2: reads a session (the fallback when the authorization callback is lost).
    async fn read_session(&self, session: &SessionId) -> Result<SessionState, GatewayError>;
    /// P3: replaces the session's cart (before authorization, or before re-authorization).
    async fn update_session(&self, session: &SessionId, cart: &Cart) -> Result<(), GatewayError>;
    /// P4: releases an authorization that will not become an order.
    async fn cancel_authorization(
        &self,
        authorization: &AuthorizationToken,
    ) -> Result<(), GatewayError>;
    /// P5: turns an authorization into an order.
    async fn place_order(
        &self,
        request: &PlaceOrder,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError>;
    /// P6: turns an authorization into a customer token.
    async fn create_customer_token(
        &self,
        request: &CreateCustomerToken,
        key: &IdempotencyKey,
    ) -> Result<CustomerTokenId, GatewayError>;
    /// T1: reads a customer token's status.
    async fn read_customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<TokenStatus, GatewayError>;
    /// T3: cancels a customer token for good.
    async fn cancel_customer_token(&self, token: &CustomerTokenId) -> Result<(), GatewayError>;
    /// T2: charges a customer token, shopper absent.
    async fn charge_customer_token(
        &self,
        request: &ChargeToken,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError>;
    /// O1: reads an order.
    async fn read_order(&self, order: &OrderId) -> Result<RemoteOrder, GatewayError>;
    /// O2: captures an order: the amount, and the request's lines, shipping info and
    /// references exactly as given.
    async fn capture(
        &self,
        order: &OrderId,
        request: &CaptureRequest,
        key: &IdempotencyKey,
    ) -> Result<CaptureId, GatewayError>;
    /// O5: refunds an order: the amount, and the request's lines (a return fee among them)
    /// and references exactly as given.
    async fn refund(
        &self,
        order: &OrderId,
        request: &RefundRequest,
        key: &IdempotencyKey,
    ) -> Result<RefundId, GatewayError>;
    /// O14: appends shipping info to a capture.
    async fn add_shipping_info(
        &self,
        order: &OrderId,
        update: &ShippingInfoUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError>;
    /// O10: sets a new order amount and lines. Klarna may refuse an increase after its risk
    /// check: [`Refusal::NotAllowed`].
    async fn update_authorization(
        &self,
        order: &OrderId,
        update: &AuthorizationUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError>;
    /// O11: updates the merchant references.
    async fn update_merchant_references(
        &self,
        order: &OrderId,
        references: &MerchantReferences,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError>;
    /// O7: cancels an order with nothing captured.
    async fn cancel_order(&self, order: &OrderId, key: &IdempotencyKey)
    -> Result<(), GatewayError>;
    /// O8: releases the remaining authorization after a partial capture.
    async fn release_remaining_authorization(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError>;
    /// O9: extends the order's authorization time.
    async fn extend_authorization_time(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError>;
    /// H1: makes a payment link (a Hosted Payment Page session) for a payment session. Klarna
    /// takes no idempotency key here: a repeat makes a second page for the same session,
    /// which can authorize nothing the first could not (one session, one order).
    async fn create_hosted_page(
        &self,
        session: &SessionId,
        link: &PaymentLinkRequest,
    ) -> Result<HostedPage, GatewayError>;
    /// H2: reads a payment link.
    async fn read_hosted_page(&self, page: &HostedPageId) -> Result<HostedPageState, GatewayError>;
    /// H3: disables a payment link (refused by Klarna once it completed).
    async fn disable_hosted_page(&self, page: &HostedPageId) -> Result<(), GatewayError>;
}
