//! Your own gateway: a wrapper around the HTTP `KlarnaGateway` that logs each call and
//! measures how long it took. The same shape adds metrics, circuit breaking, or a different
//! HTTP stack: implement `PaymentGateway`.
//!
//! `cargo run -p klarna-payments --example custom_gateway`

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use klarna_payments::domain::{
    AuthorizationUpdate, CaptureId, CaptureRequest, IdempotencyKey, MerchantReferences, RefundId,
    RefundRequest, ShippingInfoUpdate,
};
use klarna_payments::http::KlarnaClient;
use klarna_payments::ports::{
    ChargeToken, CreateCustomerToken, CreatedSession, NewSession, OrderPlaced, PaymentGateway,
    PlaceOrder, RemoteOrder, SessionState,
};
use klarna_payments::{
    Amount, AuthorizationToken, Cart, Credentials, CustomerTokenId, GatewayError, Intent,
    KlarnaBuilder, KlarnaGateway, Market, OrderId, OrderLine, Purchase, SessionId, StoreKey,
    TokenStatus,
};
use klarna_simulator::{ShopperDecision, Simulator};

/// Times every call of the wrapped gateway. Logs operation names and outcomes only: never
/// tokens, bodies or personal data.
#[derive(Debug)]
struct TimedGateway<G> {
    inner: G,
    calls: Mutex<Vec<(&'static str, Duration, bool)>>,
}

impl<G> TimedGateway<G> {
    fn new(inner: G) -> Self {
        Self {
            inner,
            calls: Mutex::new(Vec::new()),
        }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        let started = Instant::now();
        let result = call.await;
        let took = started.elapsed();
        println!(
            "  [gateway] {operation}: {} in {took:?}",
            if result.is_ok() { "ok" } else { "error" }
        );
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((operation, took, result.is_ok()));
        result
    }
}

#[async_trait]
impl<G: PaymentGateway> PaymentGateway for TimedGateway<G> {
    async fn create_session(&self, request: &NewSession) -> Result<CreatedSession, GatewayError> {
        self.timed("create_session", self.inner.create_session(request))
            .await
    }
    async fn read_session(&self, session: &SessionId) -> Result<SessionState, GatewayError> {
        self.timed("read_session", self.inner.read_session(session))
            .await
    }
    async fn update_session(&self, session: &SessionId, cart: &Cart) -> Result<(), GatewayError> {
        self.timed("update_session", self.inner.update_session(session, cart))
            .await
    }
    async fn cancel_authorization(
        &self,
        authorization: &AuthorizationToken,
    ) -> Result<(), GatewayError> {
        self.timed(
            "cancel_authorization",
            self.inner.cancel_authorization(authorization),
        )
        .await
    }
    async fn place_order(
        &self,
        request: &PlaceOrder,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        self.timed("place_order", self.inner.place_order(request, key))
            .await
    }
    async fn create_customer_token(
        &self,
        request: &CreateCustomerToken,
        key: &IdempotencyKey,
    ) -> Result<CustomerTokenId, GatewayError> {
        self.timed(
            "create_customer_token",
            self.inner.create_customer_token(request, key),
        )
        .await
    }
    async fn read_customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<TokenStatus, GatewayError> {
        self.timed("read_customer_token", self.inner.read_customer_token(token))
            .await
    }
    async fn cancel_customer_token(&self, token: &CustomerTokenId) -> Result<(), GatewayError> {
        self.timed(
            "cancel_customer_token",
            self.inner.cancel_customer_token(token),
        )
        .await
    }
    async fn charge_customer_token(
        &self,
        request: &ChargeToken,
        key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        self.timed(
            "charge_customer_token",
            self.inner.charge_customer_token(request, key),
        )
        .await
    }
    async fn read_order(&self, order: &OrderId) -> Result<RemoteOrder, GatewayError> {
        self.timed("read_order", self.inner.read_order(order)).await
    }
    async fn capture(
        &self,
        order: &OrderId,
        request: &CaptureRequest,
        key: &IdempotencyKey,
    ) -> Result<CaptureId, GatewayError> {
        self.timed("capture", self.inner.capture(order, request, key))
            .await
    }
    async fn refund(
        &self,
        order: &OrderId,
        request: &RefundRequest,
        key: &IdempotencyKey,
    ) -> Result<RefundId, GatewayError> {
        self.timed("refund", self.inner.refund(order, request, key))
            .await
    }
    async fn add_shipping_info(
        &self,
        order: &OrderId,
        update: &ShippingInfoUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed(
            "add_shipping_info",
            self.inner.add_shipping_info(order, update, key),
        )
        .await
    }
    async fn update_authorization(
        &self,
        order: &OrderId,
        update: &AuthorizationUpdate,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed(
            "update_authorization",
            self.inner.update_authorization(order, update, key),
        )
        .await
    }
    async fn update_merchant_references(
        &self,
        order: &OrderId,
        references: &MerchantReferences,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed(
            "update_merchant_references",
            self.inner
                .update_merchant_references(order, references, key),
        )
        .await
    }
    async fn cancel_order(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed("cancel_order", self.inner.cancel_order(order, key))
            .await
    }
    async fn release_remaining_authorization(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed(
            "release_remaining_authorization",
            self.inner.release_remaining_authorization(order, key),
        )
        .await
    }
    async fn extend_authorization_time(
        &self,
        order: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        self.timed(
            "extend_authorization_time",
            self.inner.extend_authorization_time(order, key),
        )
        .await
    }

    async fn create_hosted_page(
        &self,
        session: &SessionId,
        link: &klarna_payments::PaymentLinkRequest,
    ) -> Result<klarna_payments::HostedPage, GatewayError> {
        self.timed(
            "create_hosted_page",
            self.inner.create_hosted_page(session, link),
        )
        .await
    }

    async fn read_hosted_page(
        &self,
        page: &klarna_payments::HostedPageId,
    ) -> Result<klarna_payments::HostedPageState, GatewayError> {
        self.timed("read_hosted_page", self.inner.read_hosted_page(page))
            .await
    }

    async fn disable_hosted_page(
        &self,
        page: &klarna_payments::HostedPageId,
    ) -> Result<(), GatewayError> {
        self.timed("disable_hosted_page", self.inner.disable_hosted_page(page))
            .await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    // The real HTTP gateway, pointed at the simulator, wrapped.
    let client = KlarnaClient::builder(Credentials::new(sim.username(), sim.password()))
        .base_url(sim.base_url())
        .build()?;
    let gateway = Arc::new(TimedGateway::new(KlarnaGateway::new(client)));
    let klarna = KlarnaBuilder::new()
        .gateway(gateway.clone())
        .store_url("sqlite::memory:")
        .store_key(&StoreKey::generate())
        .build()
        .await?;

    let cart = Cart::new(
        Market::parse("SE", "SEK", "sv-SE")?,
        vec![
            OrderLine::builder("Trail shoe", 1, 89_900)
                .tax_rate(2_500)
                .build()?,
        ],
    )?;
    let checkout = klarna
        .start_checkout(Purchase::new(Intent::Buy, cart)?)
        .await?;
    let shopper = sim.authorize(checkout.session_id.as_str(), ShopperDecision::approve())?;
    let token = AuthorizationToken::new(shopper.authorization_token.unwrap_or_default())?;
    let completed = klarna.complete(&checkout.payment_id, token).await?;
    let order = completed.order().ok_or("no order")?.order_id();
    klarna.capture(order, Amount::new(89_900)?).await?;

    let calls = gateway
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    println!("{calls} gateway calls, every one timed");
    sim.shutdown().await;
    Ok(())
}
