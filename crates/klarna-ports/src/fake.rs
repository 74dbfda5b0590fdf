//! A scripted fake Klarna implementing `PaymentGateway` in memory: idempotent keys, a ledger, fault injection.
//!
//! Behaves like Klarna where the service's correctness depends on it, and where Klarna's
//! behaviour is undocumented it takes the less convenient answer: an authorization that made
//! an order is consumed (a second order, or a customer token after the order, is refused);
//! keys replay the first answer only where Klarna documents `Klarna-Idempotency-Key` (Order
//! Management and token charges), not on the Payments API (create order, create customer
//! token) — [`FakeKlarna::optimistic`] replays every keyed call, for comparison; captures and
//! refunds respect the ledger. Faults
//! are scripted per call ([`Fault`]), so property tests can lose responses, time out, fail
//! with 5xx or refuse, and then check the fake's records ([`FakeKlarna::orders`]) against the
//! store: no duplicate orders, no lost orders, no over-captures.
#![allow(clippy::expect_used, reason = "a poisoned fake is a failed test")]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use klarna_domain::{
    AuthorizationToken, AuthorizationUpdate, CaptureId, CaptureRequest, Cart, ClientToken,
    CustomerTokenId, FraudStatus, HostedPageId, HostedPageStatus, IdempotencyKey,
    MerchantReferences, OrderId, OrderStatus, PaymentLinkRequest, PlaceOrderMode, RefundId,
    RefundRequest, SessionId, ShippingInfoUpdate, TokenStatus,
};

use crate::gateway::{
    ChargeToken, CreateCustomerToken, CreatedSession, ErrorAction, GatewayError, HostedPage,
    HostedPageState, NewSession, OrderPlaced, PaymentGateway, PlaceOrder, Refusal, RemoteOrder,
    SessionProgress, SessionState,
};

/// What happens to one call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// The call works.
    None,
    /// Klarna performs the call, but the answer is lost (timeout after the effect).
    LostResponse,
    /// The request times out before Klarna acts.
    TimeoutBefore,
    /// Klarna answers 5xx without acting.
    ServerError,
    /// The connection is refused: the request never leaves.
    Unreachable,
    /// Klarna answers 403 `REJECTED` without acting (a definitive refusal).
    Refuse,
    /// Klarna performs the call, and its answer arrives only once [`FakeKlarna::release`] is
    /// called: a call still in flight, answering late (past any grace).
    Held,
}

/// One order at the fake.
#[derive(Clone, Debug)]
pub struct FakeOrder {
    /// Order id.
    pub order_id: OrderId,
    /// `merchant_reference1` (the order number, else our payment id).
    pub merchant_reference1: String,
    /// Authorized amount.
    pub amount: i64,
    /// Σ captures.
    pub captured: i64,
    /// Σ refunds.
    pub refunded: i64,
    /// Status.
    pub status: OrderStatus,
    /// Captures.
    pub captures: Vec<(CaptureId, i64)>,
    /// Refunds.
    pub refunds: Vec<(RefundId, i64)>,
    /// The authorization token or customer token it came from.
    pub source: String,
    /// The capture requests as received, in the order of `captures`.
    pub capture_requests: Vec<CaptureRequest>,
    /// The refund requests as received, in the order of `refunds`.
    pub refund_requests: Vec<RefundRequest>,
    /// Shipping info added to captures later, as received.
    pub shipping_added: Vec<ShippingInfoUpdate>,
    /// `merchant_reference2`.
    pub merchant_reference2: Option<String>,
}

/// A payment link at the fake.
#[derive(Clone, Debug)]
struct FakePage {
    session: String,
    mode: PlaceOrderMode,
    status: HostedPageStatus,
    authorization: Option<String>,
    order: Option<OrderId>,
}

#[derive(Clone, Debug)]
enum Answer {
    Page(HostedPage),
    Order(OrderPlaced),
    Token(CustomerTokenId),
    Capture(CaptureId),
    Refund(RefundId),
    Done,
    Refused(GatewayError),
}

#[derive(Debug, Default)]
struct State {
    seq: u64,
    sessions: HashMap<String, (Cart, bool)>,
    /// Each session's `merchant_reference1` (the order number, else the payment id).
    references: HashMap<String, String>,
    /// Payment links by id.
    pages: HashMap<String, FakePage>,
    /// authorization token → (session, used for order, used for token)
    authorizations: HashMap<String, (String, bool, bool)>,
    orders: Vec<FakeOrder>,
    tokens: HashMap<String, TokenStatus>,
    replies: HashMap<String, Answer>,
    script: VecDeque<Fault>,
    calls: Vec<(&'static str, Option<String>)>,
    fraud: VecDeque<FraudStatus>,
    /// The call just run was scripted [`Fault::Held`].
    held: bool,
    /// Orders placed with fraud status `PENDING` that [`FakeKlarna::decide_fraud`] has not
    /// decided: reads answer `PENDING` for them, as Klarna does until its review ends.
    fraud_pending: Vec<OrderId>,
    /// Orders Klarna stopped after accepting them ([`FakeKlarna::stop_order`]): reads answer
    /// `STOPPED` and captures are refused until [`FakeKlarna::lift_stop`].
    fraud_stopped: Vec<OrderId>,
}

/// The fake. See the module docs.
#[derive(Debug, Default)]
pub struct FakeKlarna {
    state: Mutex<State>,
    /// Releases held answers.
    release: tokio::sync::Notify,
    /// Replay keys on the Payments API too (Klarna does not document it).
    optimistic: bool,
}

/// Whether Klarna documents idempotency keys on the operation (API.md §1.4): Order
/// Management and token charges; not the Payments API.
fn keyed(op: &str) -> bool {
    op.starts_with("ordermanagement.") || op == "customer_token.create_order"
}

const NOT_ALLOWED: ErrorAction = ErrorAction::Rejected(Refusal::NotAllowed);
const TOKEN_CANCELLED: ErrorAction =
    ErrorAction::Rejected(Refusal::TokenUnusable(TokenStatus::Cancelled));

fn refused(op: &'static str, status: u16, action: ErrorAction, code: &str) -> GatewayError {
    GatewayError::new(op, action, true).with_answer(status, Some(code.to_owned()), Vec::new())
}

impl FakeKlarna {
    /// A fake with no faults scripted, pessimistic about replay.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake that also replays keys on the Payments API (create order, create customer
    /// token), where Klarna documents none: the kinder Klarna, for comparison figures.
    #[must_use]
    pub fn optimistic() -> Self {
        Self {
            optimistic: true,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake Klarna lock")
    }

    /// Appends faults for the next calls (one per call, in order; then calls work).
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().script.extend(faults);
    }

    /// Drops the faults not yet used.
    pub fn clear_script(&self) {
        self.lock().script.clear();
    }

    /// The fraud status of the next orders (default `ACCEPTED`).
    pub fn next_fraud_statuses(&self, s: impl IntoIterator<Item = FraudStatus>) {
        self.lock().fraud.extend(s);
    }

    /// Shopper step: authorizes a session, returning the token.
    ///
    /// # Panics
    /// When the session does not exist (a test bug).
    #[must_use]
    pub fn authorize(&self, session: &SessionId) -> AuthorizationToken {
        let mut s = self.lock();
        assert!(
            s.sessions.contains_key(session.as_str()),
            "fake: unknown session {session}"
        );
        s.seq += 1;
        let token = format!("fake-auth-{}", s.seq);
        s.authorizations
            .insert(token.clone(), (session.to_string(), false, false));
        AuthorizationToken::new(token).expect("valid token")
    }

    /// Shopper step on a payment link: pays on the hosted page. `PLACE_ORDER`: the fake places
    /// the order itself (the authorization is consumed, the read names the order); `NONE`:
    /// the read hands the authorization token back. The page is `COMPLETED` either way.
    ///
    /// # Panics
    /// When the page does not exist or is already final (a test bug).
    pub fn pay_link(&self, page: &HostedPageId) {
        let mut s = self.lock();
        let p = s
            .pages
            .get(page.as_str())
            .cloned()
            .expect("fake: unknown page");
        assert!(!p.status.is_final(), "fake: page {page} is {}", p.status);
        s.seq += 1;
        let token = format!("fake-auth-{}", s.seq);
        let order = match p.mode {
            PlaceOrderMode::None => {
                s.authorizations
                    .insert(token.clone(), (p.session.clone(), false, false));
                None
            }
            _ => {
                s.authorizations
                    .insert(token.clone(), (p.session.clone(), true, false));
                if let Some(entry) = s.sessions.get_mut(&p.session) {
                    entry.1 = true;
                }
                let reference = s.references.get(&p.session).cloned().unwrap_or_default();
                let amount = s
                    .sessions
                    .get(&p.session)
                    .map_or(0, |(c, _)| c.total().minor());
                Some(Self::new_order(&mut s, reference, amount, token.clone()).order_id)
            }
        };
        if let Some(entry) = s.pages.get_mut(page.as_str()) {
            entry.status = HostedPageStatus::Completed;
            entry.authorization = Some(token);
            entry.order = order;
        }
    }

    /// Shopper step on a payment link that does not pay: `status` (`CANCELLED`, `BACK`,
    /// `FAILED`, `IN_PROGRESS`, …).
    ///
    /// # Panics
    /// When the page does not exist (a test bug).
    pub fn set_link_status(&self, page: &HostedPageId, status: HostedPageStatus) {
        self.lock()
            .pages
            .get_mut(page.as_str())
            .expect("fake: unknown page")
            .status = status;
    }

    /// Every order created, in order.
    #[must_use]
    pub fn orders(&self) -> Vec<FakeOrder> {
        self.lock().orders.clone()
    }

    /// Every call made: operation and key.
    #[must_use]
    pub fn calls(&self) -> Vec<(&'static str, Option<String>)> {
        self.lock().calls.clone()
    }

    /// Resolves a PENDING order's fraud review.
    pub fn decide_fraud(&self, order: &OrderId, accept: bool) {
        self.lock().fraud_pending.retain(|o| o != order);
        if accept {
            return;
        }
        if let Some(o) = self.lock().orders.iter_mut().find(|o| &o.order_id == order) {
            o.status = OrderStatus::Cancelled;
        }
    }

    /// Klarna stops an order (fraud status `STOPPED`, as after a `FRAUD_RISK_STOPPED`
    /// notification): reads answer `STOPPED`, captures are refused with 403
    /// `CAPTURE_NOT_ALLOWED`, and the order stays as it is (Klarna does not cancel it).
    pub fn stop_order(&self, order: &OrderId) {
        let mut s = self.lock();
        s.fraud_pending.retain(|o| o != order);
        if !s.fraud_stopped.contains(order) {
            s.fraud_stopped.push(order.clone());
        }
    }

    /// Klarna lifts the stop of an order (reads answer `ACCEPTED` again).
    pub fn lift_stop(&self, order: &OrderId) {
        self.lock().fraud_stopped.retain(|o| o != order);
    }

    /// Applies the next scripted fault around `act`, with key replay.
    fn run(
        &self,
        op: &'static str,
        key: Option<&IdempotencyKey>,
        act: impl FnOnce(&mut State) -> Answer,
    ) -> Result<Answer, GatewayError> {
        let mut s = self.lock();
        s.calls.push((op, key.map(ToString::to_string)));
        let fault = s.script.pop_front().unwrap_or(Fault::None);
        let unknown = |reached| GatewayError::new(op, ErrorAction::OutcomeUnknown, reached);
        match fault {
            Fault::Unreachable => return Err(GatewayError::new(op, ErrorAction::Retry, false)),
            Fault::TimeoutBefore => return Err(unknown(true)),
            Fault::ServerError => {
                return Err(unknown(true).with_answer(
                    500,
                    Some("INTERNAL_SERVER_ERROR".into()),
                    Vec::new(),
                ));
            }
            Fault::Refuse => return Err(refused(op, 403, NOT_ALLOWED, "REJECTED")),
            Fault::Held => s.held = true,
            Fault::None | Fault::LostResponse => {}
        }
        let key = key.filter(|_| self.optimistic || keyed(op));
        let answer = match key.and_then(|k| s.replies.get(k.as_str()).cloned()) {
            Some(a) => a,
            None => {
                let a = act(&mut s);
                if let Some(k) = key {
                    s.replies.insert(k.to_string(), a.clone());
                }
                a
            }
        };
        if fault == Fault::LostResponse {
            return Err(unknown(true));
        }
        match answer {
            Answer::Refused(e) => Err(e),
            a => Ok(a),
        }
    }

    /// [`Self::run`], then waits for [`Self::release`] if the call was [`Fault::Held`].
    async fn run_held(
        &self,
        op: &'static str,
        key: Option<&IdempotencyKey>,
        act: impl FnOnce(&mut State) -> Answer + Send,
    ) -> Result<Answer, GatewayError> {
        let answer = self.run(op, key, act);
        if std::mem::take(&mut self.lock().held) {
            self.release.notified().await;
        }
        answer
    }

    /// An Order Management write to one order that answers nothing, run like every keyed call
    /// (scripted, replayed, held): `apply` checks the order's state and changes it, or answers
    /// Klarna's refusal; an unknown order is `404 NO_SUCH_ORDER`.
    async fn order_write(
        &self,
        op: &'static str,
        order: &OrderId,
        key: &IdempotencyKey,
        apply: impl FnOnce(&mut FakeOrder) -> Result<(), GatewayError> + Send,
    ) -> Result<(), GatewayError> {
        let answer = self
            .run_held(op, Some(key), |s| {
                match s.orders.iter_mut().find(|o| &o.order_id == order) {
                    Some(o) => apply(o).map_or_else(Answer::Refused, |()| Answer::Done),
                    None => {
                        Answer::Refused(refused(op, 404, ErrorAction::NotFound, "NO_SUCH_ORDER"))
                    }
                }
            })
            .await?;
        match answer {
            Answer::Done => Ok(()),
            _ => Err(unexpected(op)),
        }
    }

    /// Lets the held answer (see [`Fault::Held`]) arrive.
    pub fn release(&self) {
        self.release.notify_one();
    }

    fn new_order(s: &mut State, reference: String, amount: i64, source: String) -> OrderPlaced {
        s.seq += 1;
        let order_id = OrderId::new(format!("fake-order-{}", s.seq)).expect("valid id");
        let fraud = s.fraud.pop_front().unwrap_or(FraudStatus::Accepted);
        if fraud == FraudStatus::Pending {
            s.fraud_pending.push(order_id.clone());
        }
        s.orders.push(FakeOrder {
            order_id: order_id.clone(),
            merchant_reference1: reference,
            amount,
            captured: 0,
            refunded: 0,
            status: OrderStatus::Authorized,
            captures: Vec::new(),
            refunds: Vec::new(),
            source,
            capture_requests: Vec::new(),
            refund_requests: Vec::new(),
            shipping_added: Vec::new(),
            merchant_reference2: None,
        });
        OrderPlaced {
            order_id,
            fraud_status: fraud,
            redirect_url: None,
        }
    }
}

fn unexpected(op: &'static str) -> GatewayError {
    GatewayError::new(op, ErrorAction::InvalidRequest, false)
}

#[async_trait]
impl PaymentGateway for FakeKlarna {
    async fn create_session(&self, request: &NewSession) -> Result<CreatedSession, GatewayError> {
        let mut s = self.lock();
        s.calls.push(("payments.create_session", None));
        s.seq += 1;
        let id = format!("fake-session-{}", s.seq);
        s.sessions.insert(id.clone(), (request.cart.clone(), false));
        let reference = request
            .merchant
            .order_number()
            .map_or_else(|| request.payment_id.to_string(), ToOwned::to_owned);
        s.references.insert(id.clone(), reference);
        Ok(CreatedSession {
            session_id: SessionId::new(id.clone()).expect("valid id"),
            client_token: ClientToken::new(format!("client-{id}")).expect("valid token"),
            payment_method_categories: vec!["pay_later".to_owned()],
        })
    }

    async fn read_session(&self, session: &SessionId) -> Result<SessionState, GatewayError> {
        let s = self.lock();
        let (_, complete) = s.sessions.get(session.as_str()).ok_or_else(|| {
            refused(
                "payments.read_session",
                404,
                ErrorAction::NotFound,
                "NOT_FOUND",
            )
        })?;
        Ok(SessionState {
            progress: if *complete {
                SessionProgress::Complete
            } else {
                SessionProgress::Incomplete
            },
            expires_at: None,
            authorization_token: None,
        })
    }

    async fn update_session(&self, session: &SessionId, cart: &Cart) -> Result<(), GatewayError> {
        let mut s = self.lock();
        match s.sessions.get_mut(session.as_str()) {
            Some((_, true)) => Err(refused(
                "payments.update_session",
                404,
                NOT_ALLOWED,
                "SESSION_COMPLETED",
            )),
            Some(entry) => {
                entry.0 = cart.clone();
                Ok(())
            }
            None => Err(refused(
                "payments.update_session",
                404,
                ErrorAction::NotFound,
                "NOT_FOUND",
            )),
        }
    }

    async fn cancel_authorization(
        &self,
        authorization: &AuthorizationToken,
    ) -> Result<(), GatewayError> {
        self.lock()
            .authorizations
            .remove(authorization.expose_secret());
        Ok(())
    }

    async fn place_order(
        &self,
        request: &PlaceOrder,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        const OP: &str = "payments.create_order";
        let token = request.authorization.expose_secret().to_owned();
        let reference = request
            .merchant
            .order_number()
            .map_or_else(|| request.payment_id.to_string(), ToOwned::to_owned);
        let amount = request.cart.total().minor();
        match self
            .run_held(OP, Some(key), |s| {
                match s.authorizations.get(&token).cloned() {
                    None => {
                        Answer::Refused(refused(OP, 404, ErrorAction::Reauthorize, "NOT_FOUND"))
                    }
                    Some((_, true, _)) => {
                        Answer::Refused(refused(OP, 403, NOT_ALLOWED, "INVALID_OPERATION"))
                    }
                    Some((session, false, tok)) => {
                        s.authorizations
                            .insert(token.clone(), (session.clone(), true, tok));
                        if let Some(entry) = s.sessions.get_mut(&session) {
                            entry.1 = true;
                        }
                        Answer::Order(Self::new_order(s, reference, amount, token.clone()))
                    }
                }
            })
            .await?
        {
            Answer::Order(o) => Ok(o),
            _ => Err(unexpected(OP)),
        }
    }

    async fn create_customer_token(
        &self,
        request: &CreateCustomerToken,
        key: &IdempotencyKey,
    ) -> Result<CustomerTokenId, GatewayError> {
        const OP: &str = "payments.create_customer_token";
        let token = request.authorization.expose_secret().to_owned();
        match self
            .run_held(OP, Some(key), |s| {
                match s.authorizations.get(&token).cloned() {
                    None => {
                        Answer::Refused(refused(OP, 404, ErrorAction::Reauthorize, "NOT_FOUND"))
                    }
                    // A token already made from it, or an order (the authorization is consumed).
                    Some((_, _, true) | (_, true, _)) => {
                        Answer::Refused(refused(OP, 403, NOT_ALLOWED, "INVALID_OPERATION"))
                    }
                    Some((session, ordered, false)) => {
                        s.authorizations
                            .insert(token.clone(), (session, ordered, true));
                        s.seq += 1;
                        let id = format!("fake-ct-{}", s.seq);
                        s.tokens.insert(id.clone(), TokenStatus::Active);
                        Answer::Token(CustomerTokenId::new(id).expect("valid id"))
                    }
                }
            })
            .await?
        {
            Answer::Token(t) => Ok(t),
            _ => Err(unexpected(OP)),
        }
    }

    async fn read_customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<TokenStatus, GatewayError> {
        self.lock()
            .tokens
            .get(token.expose_secret())
            .copied()
            .ok_or_else(|| {
                refused(
                    "customer_token.read",
                    404,
                    ErrorAction::NotFound,
                    "NOT_FOUND",
                )
            })
    }

    async fn cancel_customer_token(&self, token: &CustomerTokenId) -> Result<(), GatewayError> {
        match self.lock().tokens.get_mut(token.expose_secret()) {
            Some(t) => {
                *t = TokenStatus::Cancelled;
                Ok(())
            }
            None => Err(refused(
                "customer_token.cancel",
                404,
                ErrorAction::NotFound,
                "NOT_FOUND",
            )),
        }
    }

    async fn charge_customer_token(
        &self,
        request: &ChargeToken,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        const OP: &str = "customer_token.create_order";
        let token = request.token.expose_secret().to_owned();
        let reference = request
            .merchant
            .order_number()
            .map_or_else(|| request.payment_id.to_string(), ToOwned::to_owned);
        let amount = request.cart.total().minor();
        match self
            .run_held(OP, Some(key), |s| match s.tokens.get(&token) {
                Some(TokenStatus::Active) => {
                    Answer::Order(Self::new_order(s, reference, amount, token.clone()))
                }
                Some(_) => Answer::Refused(refused(OP, 403, TOKEN_CANCELLED, "TOKEN_CANCELED")),
                None => Answer::Refused(refused(OP, 404, ErrorAction::NotFound, "TOKEN_NOT_FOUND")),
            })
            .await?
        {
            Answer::Order(o) => Ok(o),
            _ => Err(unexpected(OP)),
        }
    }

    async fn read_order(&self, order: &OrderId) -> Result<RemoteOrder, GatewayError> {
        let s = self.lock();
        let o = s
            .orders
            .iter()
            .find(|o| &o.order_id == order)
            .ok_or_else(|| {
                refused(
                    "ordermanagement.get_order",
                    404,
                    ErrorAction::NotFound,
                    "NO_SUCH_ORDER",
                )
            })?;
        Ok(RemoteOrder {
            order_id: o.order_id.clone(),
            status: o.status,
            fraud_status: Some(if s.fraud_stopped.contains(&o.order_id) {
                FraudStatus::Stopped
            } else if s.fraud_pending.contains(&o.order_id) {
                FraudStatus::Pending
            } else if o.status == OrderStatus::Cancelled {
                FraudStatus::Rejected
            } else {
                FraudStatus::Accepted
            }),
            order_amount: o.amount,
            captured_amount: o.captured,
            refunded_amount: o.refunded,
            merchant_reference1: Some(o.merchant_reference1.clone()),
            captures: o.captures.clone(),
            refunds: o.refunds.clone(),
            expires_at: None,
        })
    }

    async fn capture(
        &self,
        order: &OrderId,
        request: &CaptureRequest,
        key: &IdempotencyKey,
    ) -> Result<CaptureId, GatewayError> {
        let amount = request.amount().minor();
        const OP: &str = "ordermanagement.capture";
        match self
            .run_held(OP, Some(key), |s| {
                s.seq += 1;
                let id = CaptureId::new(format!("fake-capture-{}", s.seq)).expect("valid id");
                if s.fraud_stopped.contains(order) {
                    return Answer::Refused(refused(OP, 403, NOT_ALLOWED, "CAPTURE_NOT_ALLOWED"));
                }
                match s.orders.iter_mut().find(|o| &o.order_id == order) {
                    Some(o)
                        if o.status.capturable()
                            && o.captured + amount <= o.amount
                            && amount > 0 =>
                    {
                        o.captured += amount;
                        o.captures.push((id.clone(), amount));
                        o.capture_requests.push(request.clone());
                        o.status = if o.captured == o.amount {
                            OrderStatus::Captured
                        } else {
                            OrderStatus::PartCaptured
                        };
                        Answer::Capture(id)
                    }
                    Some(_) => {
                        Answer::Refused(refused(OP, 403, NOT_ALLOWED, "CAPTURE_NOT_ALLOWED"))
                    }
                    None => {
                        Answer::Refused(refused(OP, 404, ErrorAction::NotFound, "NO_SUCH_ORDER"))
                    }
                }
            })
            .await?
        {
            Answer::Capture(c) => Ok(c),
            _ => Err(unexpected(OP)),
        }
    }

    async fn refund(
        &self,
        order: &OrderId,
        request: &RefundRequest,
        key: &IdempotencyKey,
    ) -> Result<RefundId, GatewayError> {
        let amount = request.amount().minor();
        const OP: &str = "ordermanagement.refund";
        match self
            .run_held(OP, Some(key), |s| {
                s.seq += 1;
                let id = RefundId::new(format!("fake-refund-{}", s.seq)).expect("valid id");
                match s.orders.iter_mut().find(|o| &o.order_id == order) {
                    // A return fee only on an order captured in full in one capture (API.md §4.3).
                    Some(o)
                        if request.has_return_fee()
                            && (o.captures.len() != 1 || o.captured != o.amount) =>
                    {
                        Answer::Refused(refused(OP, 403, NOT_ALLOWED, "REFUND_NOT_ALLOWED"))
                    }
                    Some(o) if o.refunded + amount <= o.captured && amount > 0 => {
                        o.refunded += amount;
                        o.refunds.push((id.clone(), amount));
                        o.refund_requests.push(request.clone());
                        Answer::Refund(id)
                    }
                    Some(_) => Answer::Refused(refused(OP, 403, NOT_ALLOWED, "REFUND_NOT_ALLOWED")),
                    None => {
                        Answer::Refused(refused(OP, 404, ErrorAction::NotFound, "NO_SUCH_ORDER"))
                    }
                }
            })
            .await?
        {
            Answer::Refund(r) => Ok(r),
            _ => Err(unexpected(OP)),
        }
    }

    async fn add_shipping_info(
        &self,
        order: &OrderId,
        update: &ShippingInfoUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.add_capture_shipping_info";
        self.order_write(OP, order, key, |o| {
            if !o.captures.iter().any(|(c, _)| c == update.capture()) {
                return Err(refused(OP, 404, ErrorAction::NotFound, "NO_SUCH_CAPTURE"));
            }
            o.shipping_added.push(update.clone());
            Ok(())
        })
        .await
    }

    async fn update_authorization(
        &self,
        order: &OrderId,
        update: &AuthorizationUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.update_authorization";
        let amount = update.order_amount();
        self.order_write(OP, order, key, |o| {
            if !(o.status.capturable() && amount >= o.captured) {
                return Err(refused(OP, 403, NOT_ALLOWED, "NOT_ALLOWED"));
            }
            o.amount = amount;
            if o.captured > 0 && o.captured >= amount {
                o.status = OrderStatus::Captured;
            }
            Ok(())
        })
        .await
    }

    async fn update_merchant_references(
        &self,
        order: &OrderId,
        references: &MerchantReferences,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.update_merchant_references";
        self.order_write(OP, order, key, |o| {
            if o.status == OrderStatus::Cancelled {
                return Err(refused(OP, 403, NOT_ALLOWED, "NOT_ALLOWED"));
            }
            if let Some(r) = references.merchant_reference1() {
                r.clone_into(&mut o.merchant_reference1);
            }
            if let Some(r) = references.merchant_reference2() {
                o.merchant_reference2 = (!r.is_empty()).then(|| r.to_owned());
            }
            Ok(())
        })
        .await
    }

    async fn cancel_order(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.cancel";
        self.order_write(OP, order, key, |o| {
            if o.status != OrderStatus::Authorized {
                return Err(refused(OP, 403, NOT_ALLOWED, "CANCEL_NOT_ALLOWED"));
            }
            o.status = OrderStatus::Cancelled;
            Ok(())
        })
        .await
    }

    async fn release_remaining_authorization(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.release_remaining_authorization";
        self.order_write(OP, order, key, |o| {
            if o.status != OrderStatus::PartCaptured {
                return Err(refused(OP, 403, NOT_ALLOWED, "NOT_ALLOWED"));
            }
            o.status = OrderStatus::Closed;
            Ok(())
        })
        .await
    }

    async fn extend_authorization_time(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        const OP: &str = "ordermanagement.extend_authorization_time";
        self.order_write(OP, order, key, |o| {
            if o.status.capturable() {
                Ok(())
            } else {
                Err(refused(OP, 403, NOT_ALLOWED, "NOT_ALLOWED"))
            }
        })
        .await
    }

    async fn create_hosted_page(
        &self,
        session: &SessionId,
        link: &PaymentLinkRequest,
    ) -> Result<HostedPage, GatewayError> {
        const OP: &str = "hpp.create_session";
        let session = session.to_string();
        let mode = link.mode();
        match self.run(OP, None, |s| {
            if !s.sessions.contains_key(&session) {
                return Answer::Refused(refused(OP, 404, ErrorAction::NotFound, "NOT_FOUND"));
            }
            s.seq += 1;
            let id = format!("fake-hpp-{}", s.seq);
            s.pages.insert(
                id.clone(),
                FakePage {
                    session: session.clone(),
                    mode,
                    status: HostedPageStatus::Waiting,
                    authorization: None,
                    order: None,
                },
            );
            Answer::Page(HostedPage {
                id: HostedPageId::new(id.clone()).expect("valid id"),
                redirect_url: format!("https://fake.klarna.example/hpp/{id}"),
                expires_at: None,
            })
        })? {
            Answer::Page(p) => Ok(p),
            _ => Err(unexpected(OP)),
        }
    }

    async fn read_hosted_page(&self, page: &HostedPageId) -> Result<HostedPageState, GatewayError> {
        const OP: &str = "hpp.read_session";
        let mut s = self.lock();
        s.calls.push((OP, None));
        let p = s
            .pages
            .get(page.as_str())
            .ok_or_else(|| refused(OP, 404, ErrorAction::NotFound, "NOT_FOUND"))?;
        Ok(HostedPageState {
            status: Some(p.status),
            authorization_token: p
                .authorization
                .as_deref()
                .filter(|_| p.order.is_none())
                .map(|t| AuthorizationToken::new(t).expect("valid token")),
            order_id: p.order.clone(),
        })
    }

    async fn disable_hosted_page(&self, page: &HostedPageId) -> Result<(), GatewayError> {
        const OP: &str = "hpp.disable_session";
        let mut s = self.lock();
        s.calls.push((OP, None));
        match s.pages.get_mut(page.as_str()) {
            None => Err(refused(OP, 404, ErrorAction::NotFound, "NOT_FOUND")),
            Some(p) if p.status == HostedPageStatus::Completed => {
                Err(refused(OP, 400, NOT_ALLOWED, "BAD_VALUE"))
            }
            Some(p) => {
                p.status = HostedPageStatus::Disabled;
                Ok(())
            }
        }
    }
}
