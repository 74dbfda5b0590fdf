//! The router and its handlers: the browser's payment endpoints and Klarna's callbacks, each a thin call into the service.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use klarna_payments::{
    AnyPayment, AuthorizationToken, AuthorizedVia, Cart, Completed, Klarna, OrderId, PaymentId,
    ServiceError, SessionId,
};
use serde::Serialize;
use tower::limit::GlobalConcurrencyLimitLayer;
use tracing::{info, warn};

use crate::extract::{AllowedOrigin, CallbackSecret, JsonBody, PaymentCapability, Shared};
use crate::input::{
    AuthorizationCallback, CompletePayment, OrderNotification, StartPayment, UpdateCart,
};
use crate::{ApiError, RoutesConfig};

/// The routes a merchant nests under a path of an axum app:
///
/// | route | caller | authenticated by |
/// |---|---|---|
/// | `POST /payments` | the shop's page | the allowed origins |
/// | `PUT /payments/{id}/cart` | the shop's page | the payment secret |
/// | `POST /payments/{id}/complete` | the shop's page | the payment secret |
/// | `POST /callbacks/authorization` | Klarna | the callback secret in `?secret=` |
/// | `POST /callbacks/notification` | Klarna | the callback secret in `?secret=` |
///
/// Every one takes `Content-Type: application/json` only, within the body limit, and at most
/// the configured number of requests run at once.
#[derive(Clone, Debug)]
pub struct KlarnaRoutes {
    shared: Shared,
    browser_start: bool,
}

impl KlarnaRoutes {
    /// The routes over the service and their configuration.
    #[must_use]
    pub fn new(klarna: Arc<Klarna>, config: RoutesConfig) -> Self {
        Self {
            shared: Shared {
                klarna,
                config: Arc::new(config),
                cart_check: None,
                on_complete: None,
            },
            browser_start: true,
        }
    }

    /// Leaves `POST /payments` out of the router: for a shop that starts payments on its
    /// server, from its own catalog ([`Klarna::start_checkout`], then
    /// [`RoutesConfig::payment_secret`] into the page), so that no browser can open a Klarna
    /// session with a cart of its own making. The other routes stay.
    #[must_use]
    pub fn without_browser_start(mut self) -> Self {
        self.browser_start = false;
        self
    }

    /// Checks every cart the browser sends (`POST /payments`, `PUT /payments/{id}/cart`)
    /// before anything is sent to Klarna or stored: the place to hold prices, names and tax
    /// rates to your catalog, since the browser's cart is the shopper's to change. Refuse
    /// with [`ApiError::InvalidInput`] naming the field (`cart.order_lines[0].unit_price`).
    #[must_use]
    pub fn cart_check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Cart) -> Result<(), ApiError> + Send + Sync + 'static,
    {
        self.shared.cart_check = Some(Arc::new(check));
        self
    }

    /// Runs `step` after `POST /payments/{id}/complete` completed a payment, before it
    /// answers: the place for what the shop does next with what completing made (charge a
    /// subscription's first period with the new customer token, send the confirmation).
    ///
    /// It runs on **every** successful call, a repeat included (the browser retried, the
    /// shopper reloaded), with the same [`Completed`]: make it idempotent, for example by
    /// charging under a payment id derived from the payment's. An error is the endpoint's
    /// answer; the completion itself stays recorded, so the browser's retry completes nothing
    /// twice and runs `step` again.
    #[must_use]
    pub fn on_complete<F, Fut>(mut self, step: F) -> Self
    where
        F: Fn(PaymentId, Completed) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
    {
        self.shared.on_complete = Some(Arc::new(move |id, done| Box::pin(step(id, done))));
        self
    }

    /// The configuration (for [`RoutesConfig::merchant_urls`] and
    /// [`RoutesConfig::payment_secret`]).
    #[must_use]
    pub fn config(&self) -> &RoutesConfig {
        &self.shared.config
    }

    /// The router, ready to `nest` (`Router::new().nest("/klarna", routes.router())`).
    pub fn router(&self) -> Router {
        let limit = self.shared.config.body_limit_bytes();
        let in_flight = self.shared.config.in_flight();
        let router = if self.browser_start {
            Router::new().route("/payments", post(start))
        } else {
            Router::new()
        };
        router
            .route("/payments/{id}/cart", put(update_cart))
            .route("/payments/{id}/complete", post(complete))
            .route("/callbacks/authorization", post(authorization))
            .route("/callbacks/notification", post(notification))
            .with_state(self.shared.clone())
            .layer(DefaultBodyLimit::max(limit))
            // One semaphore for every route: `Router::layer` applies the layer route by route.
            .layer(GlobalConcurrencyLimitLayer::new(in_flight))
    }
}

/// What `POST /payments` answers: what the page needs for Klarna's widget, and the payment's
/// secret it sends back to change or complete the payment.
#[derive(Serialize)]
struct Started {
    payment_id: String,
    session_id: String,
    client_token: String,
    payment_method_categories: Vec<String>,
    payment_secret: String,
}

async fn start(
    State(s): State<Shared>,
    _origin: AllowedOrigin,
    JsonBody(body): JsonBody<StartPayment>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let purchase = body.into_purchase()?;
    s.check(purchase.cart())?;
    let c = s.klarna.start_checkout(purchase).await?;
    let payment_secret = s.config.payment_secret(&c.payment_id);
    Ok((
        StatusCode::CREATED,
        Json(Started {
            payment_id: c.payment_id.to_string(),
            session_id: c.session_id.to_string(),
            // The browser's token for `Klarna.Payments.init`: handing it over is the point.
            client_token: c.client_token.expose_secret().to_owned(),
            payment_method_categories: c.payment_method_categories,
            payment_secret,
        }),
    ))
}

/// A payment as the browser may see it: ids and stage, never a token.
#[derive(Serialize)]
struct PaymentView {
    payment_id: String,
    stage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fraud_status: Option<&'static str>,
    /// Whether a customer token exists (recurring); the token itself stays on the server.
    tokenized: bool,
}

impl PaymentView {
    fn of(p: &AnyPayment, completed: Option<&Completed>) -> Self {
        let order = completed.and_then(Completed::order);
        Self {
            payment_id: p.id().to_string(),
            stage: p.kind().to_string(),
            order_id: p
                .order_id()
                .or_else(|| order.map(|o| o.order_id()))
                .map(ToString::to_string),
            fraud_status: order.map(|o| o.fraud_status().as_str()),
            tokenized: p.customer_token().is_some()
                || completed.is_some_and(|c| c.token().is_some()),
        }
    }
}

async fn update_cart(
    State(s): State<Shared>,
    _origin: AllowedOrigin,
    PaymentCapability(id): PaymentCapability,
    JsonBody(body): JsonBody<UpdateCart>,
) -> Result<Json<PaymentView>, ApiError> {
    let cart = body.cart.into_cart()?;
    s.check(&cart)?;
    let p = s.klarna.update_cart(&id, cart).await?;
    Ok(Json(PaymentView::of(&p, None)))
}

async fn complete(
    State(s): State<Shared>,
    _origin: AllowedOrigin,
    PaymentCapability(id): PaymentCapability,
    JsonBody(body): JsonBody<CompletePayment>,
) -> Result<Json<PaymentView>, ApiError> {
    let token = AuthorizationToken::new(body.authorization_token.trim())
        .map_err(|e| ApiError::invalid("authorization_token", e))?;
    // Exactly once: a second call answers what the first one made.
    let done = s.klarna.complete(&id, token).await?;
    if let Some(step) = &s.on_complete {
        step(id.clone(), done.clone()).await?;
    }
    let p = s.klarna.payment(&id).await?;
    Ok(Json(PaymentView::of(&p, Some(&done))))
}

/// Klarna's server-side copy of the authorization. Duplicates change nothing (the service
/// records the same token once); a refusal that a retry by Klarna cannot change answers 204
/// too, so Klarna stops retrying.
async fn authorization(
    State(s): State<Shared>,
    _secret: CallbackSecret,
    JsonBody(body): JsonBody<AuthorizationCallback>,
) -> Result<StatusCode, ApiError> {
    let session =
        SessionId::new(body.session_id).map_err(|e| ApiError::invalid("session_id", e))?;
    let token = AuthorizationToken::new(body.authorization_token)
        .map_err(|e| ApiError::invalid("authorization_token", e))?;
    match s
        .klarna
        .authorize(AuthorizedVia::Callback(&session), token)
        .await
    {
        Ok(id) => {
            info!(payment = %id, "authorization callback recorded");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e @ (ServiceError::WrongStage { .. } | ServiceError::Lifecycle(_))) => {
            // The payment moved on (completed, cancelled, expired): nothing to record.
            warn!(session = %session, error = %e, "authorization callback not recorded");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => Err(e.into()),
    }
}

/// Klarna's order notification: only a hint; the service re-reads the order at Klarna and
/// applies what it says (accepted, rejected, stopped). A repeat reads again and changes
/// nothing.
async fn notification(
    State(s): State<Shared>,
    _secret: CallbackSecret,
    JsonBody(body): JsonBody<OrderNotification>,
) -> Result<StatusCode, ApiError> {
    let order = OrderId::new(body.order_id).map_err(|e| ApiError::invalid("order_id", e))?;
    let p = s.klarna.handle_fraud_notification(&order).await?;
    info!(payment = %p.id(), order = %order, event = body.event_type.as_deref().unwrap_or(""), stage = %p.kind(), "order notification handled");
    Ok(StatusCode::NO_CONTENT)
}
