//! The demo shop (axum): cart, checkout with Klarna's JS SDK, subscription with "charge
//! again", admin page, and Klarna's callbacks. Prices come from the server's catalog only; bad
//! input gets a clear message and changes nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klarna_axum::{ApiError, KlarnaRoutes, RoutesConfig};
use klarna_payments::{
    Amount, AnyPayment, CaptureId, CaptureRequest, Cart, ChargeRequest, Completed, CustomerTokenId,
    Intent, Klarna, MerchantData, OrderId, PaymentId, PlacedOrder, Purchase, ServiceError,
    ShippingInfo, ShippingInfoInput, ShippingInfoUpdate, StageKind,
};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::admin_auth::{self, Operator};
use crate::backend::{self, Backend, StoreConfig};
use crate::catalog::{self, PRODUCTS};
use crate::csrf::{self, CsrfToken};
use crate::guard::{self, OwnHosts};
use crate::limit::OpenCheckouts;
use crate::pages::{self, AdminRow, ChargeView, CheckoutView, PaymentView};
use crate::secret;
use crate::{DemoError, ServeOptions};

/// Klarna's real SDK (API.md §5).
const KLARNA_SDK: &str = "https://x.klarnacdn.net/kp/lib/v1/api.js";

struct Inner {
    backend: Backend,
    sdk_url: String,
    /// The Klarna routes' configuration: the payment secrets the checkout page carries.
    routes: RoutesConfig,
    /// Payment method categories Klarna offered per payment (the widget must load one of them).
    categories: Mutex<HashMap<String, Vec<String>>>,
    /// The shop's order numbers: one per checkout started (`SO-SHOP-0001`, …).
    orders: std::sync::atomic::AtomicU32,
    /// The operator token and sessions of the admin.
    operator: Arc<Operator>,
    /// Open checkouts per client address.
    open: OpenCheckouts,
    /// Reached over https (the public URL): cookies are `Secure`.
    https: bool,
}

#[derive(Clone)]
struct App(Arc<Inner>);

impl App {
    fn payments(&self) -> &Klarna {
        &self.0.backend.payments
    }
    fn simulator(&self) -> bool {
        self.0.backend.sim.is_some()
    }
}

/// How often the shop's reconciler looks for operations whose outcome was unknown.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// A running demo shop. Stops on [`Shop::shutdown`] or when dropped.
pub struct Shop {
    url: String,
    app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    reconciler: JoinHandle<()>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.reconciler.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Shop {
    /// The shop's base URL (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The service behind the shop (to inspect the store in tests).
    #[must_use]
    pub fn payments(&self) -> &Klarna {
        self.app.payments()
    }

    /// The in-process simulator's base URL, when the shop runs on it.
    #[must_use]
    pub fn simulator_url(&self) -> Option<&str> {
        self.app.0.backend.sim.as_ref().map(|s| s.base_url())
    }

    /// The operator token: `POST /admin/login` with it opens an admin session. Printed by
    /// [`serve`]; `KLARNA_DEMO_ADMIN_TOKEN` when set, else random for this run.
    #[must_use]
    pub fn operator_token(&self) -> &str {
        self.app.0.operator.token()
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        self.reconciler.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Starts the shop on `options.addr` (port 0 picks a free one) and returns at once.
///
/// # Errors
/// Binding the address, starting the simulator, opening the store, or (with `playground`)
/// missing credentials.
pub async fn start_shop(options: ServeOptions) -> Result<Shop, DemoError> {
    let listener = TcpListener::bind(options.addr).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let public = options
        .public_url
        .clone()
        .unwrap_or_else(|| url.clone())
        .trim_end_matches('/')
        .to_owned();
    let store = StoreConfig::new(options.store_url, options.store_key)?;
    // Klarna's callbacks carry no authentication: a secret in the URL is the documented way to
    // recognise them (API.md §1.10). It must outlive a restart (callbacks for payments made
    // before it still arrive), so it is derived from the store key unless configured; so is
    // the key of the payment secrets the checkout pages carry.
    let secret = match std::env::var("KLARNA_DEMO_CALLBACK_SECRET") {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => secret::callback_secret(store.key()),
    };
    let own = OwnHosts::new(addr, options.public_url.as_deref());
    let https = public.starts_with("https://");
    let config = RoutesConfig::new(secret::capability_key(store.key()), secret)
        .and_then(|c| c.allowed_origins(own.origins().iter().cloned()))
        .map_err(|e| {
            DemoError::Config(format!("KLARNA_DEMO_CALLBACK_SECRET or --public-url: {e}"))
        })?;
    let mut urls = config.merchant_urls(&format!("{public}/klarna"));
    urls.confirmation = Some(format!("{public}/"));
    let backend = backend::start(options.playground, store, urls).await?;
    let sdk_url = match &backend.sim {
        Some(sim) => format!("{}/sim/js/klarna-payments.js", sim.base_url()),
        None => KLARNA_SDK.to_owned(),
    };
    // The shop starts payments on its server, from its catalog; the routes complete them
    // (the first month of a subscription charged right after) and take Klarna's callbacks.
    let service = backend.payments.clone();
    let klarna_routes = KlarnaRoutes::new(Arc::new(backend.payments.clone()), config.clone())
        .without_browser_start()
        .cart_check(|cart| catalog::check(cart).map_err(|m| ApiError::invalid(m.field, m.message)))
        .on_complete(move |id, done| {
            let service = service.clone();
            async move {
                if let Completed::Token(token) = done {
                    first_charge(&service, &id, token).await?;
                }
                Ok(())
            }
        })
        .router();
    let app = App(Arc::new(Inner {
        backend,
        sdk_url,
        routes: config,
        categories: Mutex::new(HashMap::new()),
        orders: std::sync::atomic::AtomicU32::new(0),
        operator: Arc::new(Operator::from_env(https)),
        open: OpenCheckouts::new(options.max_open_checkouts),
        https,
    }));
    let router = router(app.clone(), own, klarna_routes);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    // Operations whose outcome was unknown (a timeout after Klarna acted) stay pending with
    // their idempotency key; the reconciler settles them, as a real shop must.
    let payments = app.payments().clone();
    let reconciler = tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = payments.reconcile_all().await {
                warn!(error = %e, "reconciler pass failed");
            }
        }
    });
    Ok(Shop {
        url,
        app,
        shutdown: Some(tx),
        task: Some(task),
        reconciler,
    })
}

/// Serves the demo shop until Ctrl-C, printing its URLs.
///
/// # Errors
/// As [`start_shop`].
pub async fn serve(options: ServeOptions) -> Result<(), DemoError> {
    let shop = start_shop(options).await?;
    println!("demo shop: {}/", shop.url());
    println!("  admin:   {}/admin", shop.url());
    // The operator needs the token to log in; it is printed once, here, never logged.
    println!(
        "  operator token (log in at /admin/login): {}",
        shop.operator_token()
    );
    if let Some(sim) = shop.simulator_url() {
        println!("  Klarna:  simulator at {sim} (its JS stand-in replaces Klarna's SDK)");
    } else {
        println!("  Klarna:  playground, with Klarna's SDK from {KLARNA_SDK}");
    }
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    shop.shutdown().await;
    Ok(())
}

/// The routes, in layers that each stand alone: the `Host`/`Origin` guard around everything;
/// inside it the shop's pages and forms behind CSRF tokens (the operator's login in front of
/// the admin), and the Klarna routes of `klarna-axum` under `/klarna`, which take JSON only
/// and authenticate with the payment's secret or the callback secret instead.
fn router(app: App, own: OwnHosts, klarna_routes: Router) -> Router {
    let admin = Router::new()
        .route("/admin", get(admin))
        .route("/admin/orders/{order}/capture", post(admin_capture))
        .route("/admin/orders/{order}/refund", post(admin_refund))
        .route("/admin/orders/{order}/cancel", post(admin_cancel_order))
        .route("/admin/payments/{id}/cancel", post(admin_cancel_payment))
        .route(
            "/admin/payments/{id}/complete",
            post(admin_complete_payment),
        )
        .route(
            "/admin/payments/{id}/resolve-order",
            post(admin_resolve_with_order),
        )
        .route(
            "/admin/payments/{id}/resolve-none",
            post(admin_resolve_no_order),
        )
        .route(
            "/admin/orders/{order}/captures/{capture}/shipping-info",
            post(admin_add_shipping_info),
        )
        .route_layer(from_fn_with_state(
            app.0.operator.clone(),
            admin_auth::require,
        ))
        .with_state(app.clone());
    Router::new()
        .route("/", get(home))
        .route("/checkout", post(checkout_cart))
        .route("/subscribe", post(subscribe))
        .route("/checkout/{id}", get(checkout_page))
        .route("/payments/{id}", get(payment_page))
        .route("/subscriptions/{id}/charge", post(charge_again))
        .with_state(app.clone())
        .merge(admin)
        .merge(admin_auth::routes(app.0.operator.clone()))
        .layer(from_fn_with_state(
            csrf::Cookies { https: app.0.https },
            csrf::protect,
        ))
        // Nested after the CSRF layer, so outside it.
        .nest("/klarna", klarna_routes)
        .layer(from_fn_with_state(own, guard::check))
}

fn page(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

fn bad_request(title: &str, message: &str, next: Option<(&str, &str)>) -> Response {
    page(StatusCode::BAD_REQUEST, pages::error(title, message, next))
}

/// An error of the service as a page that says what the shopper can do.
fn service_error(e: &ServiceError, payment: Option<&str>) -> Response {
    let retry = payment.map(|p| format!("/checkout/{p}"));
    let again = retry.as_deref().map(|r| (r, "Authorize again"));
    match e {
        ServiceError::Reauthorize { .. } | ServiceError::Lifecycle(_) => page(
            StatusCode::CONFLICT,
            pages::error(
                "Please authorize again",
                &format!(
                    "Your Klarna authorization expired or no longer matches the cart ({e}). Nothing was charged."
                ),
                again,
            ),
        ),
        ServiceError::Refused(_) => page(
            StatusCode::PAYMENT_REQUIRED,
            pages::error(
                "Klarna refused",
                &format!("Klarna refused this payment ({e}). Nothing was charged."),
                Some(("/", "Back to the shop")),
            ),
        ),
        ServiceError::OutcomeUnknown { payment_id, .. } | ServiceError::InProgress(payment_id) => {
            page(
                StatusCode::ACCEPTED,
                pages::error(
                    "Still confirming",
                    &format!(
                        "We could not confirm payment {payment_id} with Klarna yet. It is recorded and will be resolved automatically: do not pay again."
                    ),
                    Some((&format!("/payments/{payment_id}"), "Check the payment")),
                ),
            )
        }
        ServiceError::NotFound(what) => page(
            StatusCode::NOT_FOUND,
            pages::error(
                "Not found",
                &format!("{what} does not exist."),
                Some(("/", "Back to the shop")),
            ),
        ),
        ServiceError::CurrencyMismatch { .. }
        | ServiceError::Cart(_)
        | ServiceError::Ledger(_)
        | ServiceError::Token(_)
        | ServiceError::WrongStage { .. } => bad_request(
            "Not possible",
            &format!("{e}. Nothing was changed."),
            Some(("/", "Back to the shop")),
        ),
        // The request never left and nothing is pending: "nothing was charged" is true.
        ServiceError::Unavailable(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error(
                "Please try again",
                &format!("Klarna is unavailable ({e}). Nothing was sent and nothing was charged."),
                Some(("/", "Back to the shop")),
            ),
        ),
        // Queued or not yet recorded: the operation is pending, so never "nothing happened".
        ServiceError::Queued { payment_id, .. } => page(
            StatusCode::ACCEPTED,
            pages::error(
                "Still confirming",
                &format!(
                    "Payment {payment_id} is queued and will be sent to Klarna shortly: do not pay again."
                ),
                Some((&format!("/payments/{payment_id}"), "Check the payment")),
            ),
        ),
        _ => page(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error(
                "Not confirmed yet",
                &format!(
                    "Your payment is not confirmed yet ({e}). It is recorded and will be resolved: check it before paying again."
                ),
                Some(("/", "Back to the shop")),
            ),
        ),
    }
}

async fn home(State(app): State<App>, csrf: CsrfToken) -> Html<String> {
    Html(pages::home(app.simulator(), csrf.as_str()))
}

/// Reads `qty-<sku>` and checks `price-<sku>` against the catalog: a tampered price is
/// refused with a message, never used.
fn cart_from_form(
    form: &HashMap<String, String>,
    skus: &[&str],
) -> Result<klarna_payments::Cart, String> {
    let mut items = Vec::new();
    for sku in skus {
        let p = catalog::product(sku).ok_or_else(|| format!("unknown product {sku}"))?;
        if let Some(sent) = form.get(&format!("price-{sku}"))
            && sent.trim() != p.unit_price.to_string()
        {
            return Err(format!(
                "price-{sku}: the request says {:?} but {} costs {}. The shop never takes prices from the browser; nothing was charged.",
                sent,
                p.name,
                catalog::sek(p.unit_price)
            ));
        }
        let quantity = match form.get(&format!("qty-{sku}")) {
            None => 1,
            Some(q) => q
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("qty-{sku}: {q:?} is not a whole number"))?,
        };
        items.push((*sku, quantity));
    }
    catalog::cart(&items).map_err(|e| e.to_string())
}

/// Counts the client's checkouts still open (open or authorized, not yet completed or
/// cancelled) and holds a slot for one more, or answers 429.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished page, returned at once by the handler"
)]
async fn slot(app: &App, client: IpAddr) -> Result<crate::limit::Slot<'_>, Response> {
    let mut closed = Vec::new();
    for pid in app.0.open.started(client) {
        let open = app
            .payments()
            .payment(&pid)
            .await
            .is_ok_and(|p| matches!(p.kind(), StageKind::Open | StageKind::Authorized));
        if !open {
            closed.push(pid);
        }
    }
    app.0.open.closed(client, &closed);
    app.0.open.reserve(client).ok_or_else(|| {
        page(
            StatusCode::TOO_MANY_REQUESTS,
            pages::error(
                "Too many open checkouts",
                "You have too many checkouts open. Finish or abandon one first; nothing was started.",
                Some(("/", "Back to the shop")),
            ),
        )
    })
}

async fn start(app: &App, client: IpAddr, intent: Intent, cart: klarna_payments::Cart) -> Response {
    let purchase = match Purchase::new(intent, cart) {
        Ok(p) => p,
        Err(e) => return service_error(&ServiceError::Cart(e), None),
    };
    let slot = match slot(app, client).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // The shop's own order number is what Klarna shows the shopper (`merchant_reference1`).
    let n = app
        .0
        .orders
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .saturating_add(1);
    let purchase = match MerchantData::builder()
        .order_number(format!("SO-SHOP-{n:04}"))
        .build()
        .and_then(|m| purchase.with_merchant(m))
    {
        Ok(p) => p,
        Err(e) => return service_error(&ServiceError::MerchantData(e), None),
    };
    match app.payments().start_checkout(purchase).await {
        Ok(c) => {
            app.0
                .categories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(c.payment_id.to_string(), c.payment_method_categories);
            slot.started(c.payment_id.clone());
            Redirect::to(&format!("/checkout/{}", c.payment_id)).into_response()
        }
        Err(e) => service_error(&e, None),
    }
}

async fn checkout_cart(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let skus: Vec<&str> = PRODUCTS
        .iter()
        .filter(|p| !p.subscription)
        .map(|p| p.sku)
        .collect();
    match cart_from_form(&form, &skus) {
        Ok(cart) => start(&app, peer.ip(), Intent::Buy, cart).await,
        Err(m) => bad_request(
            "Please check your cart",
            &m,
            Some(("/", "Back to the cart")),
        ),
    }
}

async fn subscribe(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match cart_from_form(&form, &["coffee"]) {
        Ok(cart) => start(&app, peer.ip(), Intent::Tokenize, cart).await,
        Err(m) => bad_request(
            "Please check your subscription",
            &m,
            Some(("/", "Back to the shop")),
        ),
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished page, returned at once by the handler"
)]
fn payment_id(id: &str) -> Result<PaymentId, Response> {
    PaymentId::new(id).map_err(|e| {
        bad_request(
            "Bad payment id",
            &e.to_string(),
            Some(("/", "Back to the shop")),
        )
    })
}

async fn checkout_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let pid = match payment_id(&id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let payment = match app.payments().payment(&pid).await {
        Ok(p) => p,
        Err(e) => return service_error(&e, None),
    };
    let session = match &payment {
        AnyPayment::Open(p) => p.session().clone(),
        AnyPayment::Authorized(p) => p.session().clone(),
        _ => return Redirect::to(&format!("/payments/{pid}")).into_response(),
    };
    // Klarna's combined category when the offer is not known here (a restarted shop): the
    // widget says so if the session does not offer it.
    let categories = app
        .0
        .categories
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(pid.as_str())
        .filter(|c| !c.is_empty())
        .cloned()
        .unwrap_or_else(|| vec!["klarna".to_owned()]);
    Html(pages::checkout(&CheckoutView {
        payment_id: pid.as_str(),
        intent: payment.intent().as_str(),
        cart: payment.cart(),
        client_token: session.client_token().expose_secret(),
        categories: &categories,
        sdk_url: &app.0.sdk_url,
        payment_secret: &app.0.routes.payment_secret(&pid),
    }))
    .into_response()
}

/// The charges of a subscription: `<origin>-period-1`, `-2`, … until the first missing one.
/// `charge_again` takes only the next of these, so there is no gap and this lists them all.
async fn charges(app: &App, origin: &PaymentId) -> Vec<ChargeView> {
    let mut out = Vec::new();
    for n in 1..=1_000 {
        let Ok(id) = PaymentId::new(format!("{origin}-period-{n}")) else {
            break;
        };
        let Ok(p) = app.payments().payment(&id).await else {
            break;
        };
        out.push(ChargeView {
            id: id.to_string(),
            stage: p.kind().to_string(),
            order: p.order_id().map(ToString::to_string).unwrap_or_default(),
            amount: p.cart().total().to_string(),
        });
    }
    out
}

#[derive(Deserialize)]
struct PaymentQuery {
    charged: Option<String>,
}

async fn payment_page(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<PaymentQuery>,
    csrf: CsrfToken,
) -> Response {
    let pid = match payment_id(&id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let payment = match app.payments().payment(&pid).await {
        Ok(p) => p,
        Err(e) => return service_error(&e, None),
    };
    let charges = if payment.customer_token().is_some() {
        charges(&app, &pid).await
    } else {
        Vec::new()
    };
    let next = payment
        .customer_token()
        .map(|_| format!("{pid}-period-{}", charges.len() + 1));
    let message = q.charged.map(|c| format!("Charged {c}."));
    Html(pages::payment(&PaymentView {
        payment: &payment,
        charges: &charges,
        next_charge_id: next,
        message: message.as_deref(),
        csrf: csrf.as_str(),
    }))
    .into_response()
}

/// The first month of a subscription, charged with the customer token its completion made.
/// Idempotent (the charge's payment id is the period's), so the routes' repeat of a
/// completion charges nothing twice.
async fn first_charge(
    service: &Klarna,
    origin: &PaymentId,
    token: CustomerTokenId,
) -> Result<(), ApiError> {
    let cart = catalog::cart(&[("coffee", 1)]).map_err(|e| ApiError::invalid("cart", e))?;
    let id = PaymentId::new(format!("{origin}-period-1"))
        .map_err(|e| ApiError::invalid("payment_id", e))?;
    charge(service, id, token, cart).await?;
    Ok(())
}

/// One month of the subscription, under the period's payment id.
async fn charge(
    service: &Klarna,
    payment_id: PaymentId,
    token: CustomerTokenId,
    cart: Cart,
) -> Result<PlacedOrder, ServiceError> {
    service
        .charge_customer_token(ChargeRequest {
            merchant: MerchantData::default(),
            payment_id,
            token,
            cart,
        })
        .await
}

async fn charge_again(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let pid = match payment_id(&id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/payments/{pid}");
    let Some(charge_id) = form.get("charge_id").map(|c| c.trim().to_owned()) else {
        return bad_request(
            "Cannot charge",
            "charge_id: missing. Nothing was charged.",
            Some((&back, "Back")),
        );
    };
    let origin = match app.payments().payment(&pid).await {
        Ok(p) => p,
        Err(e) => return service_error(&e, None),
    };
    // Only the next period: a new suffix would charge the stored token again, unseen. The
    // charge just made may come again (a second click): it is shown, not charged twice.
    let made = charges(&app, &pid).await.len();
    let last = format!("{pid}-period-{made}");
    if made > 0 && charge_id == last {
        return Redirect::to(&format!(
            "/payments/{pid}?charged={}",
            pages::query_encode(&charge_id)
        ))
        .into_response();
    }
    let next = format!("{pid}-period-{}", made.saturating_add(1));
    if charge_id != next {
        return bad_request(
            "Cannot charge",
            &format!(
                "charge_id: {charge_id:?} is not the next charge of this subscription ({next:?}). Nothing was charged."
            ),
            Some((&back, "Back")),
        );
    }
    let Some(token) = origin.customer_token().cloned() else {
        return bad_request(
            "Cannot charge",
            "This payment has no customer token. Nothing was charged.",
            Some((&back, "Back")),
        );
    };
    let (cart, id) = match (catalog::cart(&[("coffee", 1)]), PaymentId::new(&charge_id)) {
        (Ok(cart), Ok(id)) => (cart, id),
        (Err(e), _) => return bad_request("Cannot charge", &e.to_string(), Some((&back, "Back"))),
        (_, Err(e)) => return bad_request("Cannot charge", &e.to_string(), Some((&back, "Back"))),
    };
    match charge(app.payments(), id, token, cart).await {
        Ok(_) => Redirect::to(&format!(
            "/payments/{pid}?charged={}",
            pages::query_encode(&charge_id)
        ))
        .into_response(),
        Err(e) => service_error(&e, Some(pid.as_str())),
    }
}

#[derive(Deserialize)]
struct AdminQuery {
    msg: Option<String>,
    err: Option<String>,
}

async fn admin(State(app): State<App>, Query(q): Query<AdminQuery>, csrf: CsrfToken) -> Response {
    let listed = match app.payments().payments(200).await {
        Ok(l) => l,
        Err(e) => return service_error(&e, None),
    };
    let review = match app
        .payments()
        .payments_in_stage(StageKind::NeedsReview, 100)
        .await
    {
        Ok(l) => l,
        Err(e) => return service_error(&e, None),
    };
    let mut rows = Vec::with_capacity(listed.len());
    for payment in listed {
        let order = match payment.order_id() {
            Some(o) => app.payments().order(o).await.ok(),
            None => None,
        };
        rows.push(AdminRow { payment, order });
    }
    Html(pages::admin(
        &review,
        &rows,
        q.msg.as_deref(),
        q.err.as_deref(),
        csrf.as_str(),
    ))
    .into_response()
}

fn back_to_admin(result: Result<String, String>) -> Response {
    match result {
        Ok(m) => Redirect::to(&format!("/admin?msg={}", pages::query_encode(&m))).into_response(),
        Err(e) => Redirect::to(&format!("/admin?err={}", pages::query_encode(&e))).into_response(),
    }
}

fn order_id(order: &str) -> Result<OrderId, String> {
    OrderId::new(order).map_err(|e| e.to_string())
}

/// The form's field `name`, trimmed, when it is not empty.
fn filled<'f>(form: &'f HashMap<String, String>, name: &str) -> Option<&'f str> {
    form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Shipping info from the admin's `shipping_company` and `tracking_number` fields: `None`
/// when both are empty.
fn shipping_from_form(form: &HashMap<String, String>) -> Result<Option<ShippingInfo>, String> {
    let field = |name| filled(form, name).map(str::to_owned);
    let (company, tracking) = (field("shipping_company"), field("tracking_number"));
    if company.is_none() && tracking.is_none() {
        return Ok(None);
    }
    ShippingInfo::new(ShippingInfoInput {
        shipping_company: company,
        tracking_number: tracking,
        ..ShippingInfoInput::default()
    })
    .map(Some)
    .map_err(|e| format!("shipping info: {e}. Nothing was changed."))
}

/// Captures what remains of the order. The first capture of the whole order sends the cart's
/// lines (what ships), with the shipping info the form gives.
async fn admin_capture(
    State(app): State<App>,
    Path(order): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let id = order_id(&order)?;
        let o = app.payments().order(&id).await.map_err(|e| e.to_string())?;
        let failed = |e: &dyn std::fmt::Display| {
            format!("capture of order {id} failed: {e}. Nothing was changed.")
        };
        let amount = Amount::new(o.remaining()).map_err(|e| failed(&e))?;
        let mut request = CaptureRequest::builder(amount);
        if o.captured() == 0 && o.remaining() == o.order_amount() {
            let p = app
                .payments()
                .payment(o.payment_id())
                .await
                .map_err(|e| failed(&e))?;
            request = request.lines(p.cart().lines().iter().cloned());
        }
        if let Some(info) = shipping_from_form(&form)? {
            request = request.shipping_info(info);
        }
        let request = request.build().map_err(|e| failed(&e))?;
        let c = app
            .payments()
            .capture(&id, request)
            .await
            .map_err(|e| failed(&e))?;
        Ok(format!(
            "Captured {} of order {id} (capture {}); order is {}.",
            klarna_payments::Money::new(amount.minor(), c.order.currency()),
            c.capture_id,
            c.order.status().as_str()
        ))
    }
    .await;
    back_to_admin(result)
}

/// Adds shipping info to a capture made earlier (a second parcel, a tracking number known
/// later).
async fn admin_add_shipping_info(
    State(app): State<App>,
    Path((order, capture)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let id = order_id(&order)?;
        let capture = CaptureId::new(capture).map_err(|e| e.to_string())?;
        let Some(info) = shipping_from_form(&form)? else {
            return Err(
                "shipping_company, tracking_number: give at least one. Nothing was changed."
                    .to_owned(),
            );
        };
        let update = ShippingInfoUpdate::new(capture.clone(), vec![info])
            .map_err(|e| format!("shipping info: {e}. Nothing was changed."))?;
        app.payments()
            .add_shipping_info(&id, update)
            .await
            .map_err(|e| {
                format!(
                    "adding shipping info to capture {capture} failed: {e}. Nothing was changed."
                )
            })?;
        Ok(format!(
            "Shipping info added to capture {capture} of order {id}."
        ))
    }
    .await;
    back_to_admin(result)
}

/// An operator found the payment's order at Klarna (Merchant Portal, by the payment id in
/// `merchant_reference1`): checked with Order Management before anything is recorded.
async fn admin_resolve_with_order(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let pid = PaymentId::new(id).map_err(|e| e.to_string())?;
        let order = filled(&form, "order_id")
            .ok_or_else(|| "order_id: give Klarna's order id. Nothing was changed.".to_owned())?;
        let order =
            OrderId::new(order).map_err(|e| format!("order_id: {e}. Nothing was changed."))?;
        let p = app
            .payments()
            .resolve_with_order(&pid, &order)
            .await
            .map_err(|e| format!("resolving payment {pid} failed: {e}. Nothing was changed."))?;
        Ok(format!(
            "Payment {pid} resolved with Klarna order {order}: it is {}.",
            p.kind()
        ))
    }
    .await;
    back_to_admin(result)
}

/// An operator made sure no order exists at Klarna: the payment ends cancelled, the reason
/// logged with it.
async fn admin_resolve_no_order(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let pid = PaymentId::new(id).map_err(|e| e.to_string())?;
        let reason = filled(&form, "reason").ok_or_else(|| {
            "reason: say how you know there is no order. Nothing was changed.".to_owned()
        })?;
        let p = app
            .payments()
            .resolve_no_order(&pid, reason)
            .await
            .map_err(|e| format!("resolving payment {pid} failed: {e}. Nothing was changed."))?;
        Ok(format!(
            "Payment {pid} resolved without an order: it is {}.",
            p.kind()
        ))
    }
    .await;
    back_to_admin(result)
}

/// `149`, `149.5`, `149.00` → minor units, without floats.
fn parse_amount(text: &str, exponent: u32) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("amount: {t:?} is not an amount like 149.00");
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let places = usize::try_from(exponent).map_err(|_| bad())?;
    if frac.len() > places {
        return Err(format!("amount: {t:?} has more than {places} decimals"));
    }
    let scale = 10_i64.pow(exponent);
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let mut frac_digits = frac.to_owned();
    while frac_digits.len() < places {
        frac_digits.push('0');
    }
    let frac: i64 = if frac_digits.is_empty() {
        0
    } else {
        frac_digits.parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .filter(|a| *a > 0)
        .ok_or_else(|| format!("amount: {t:?} must be positive and not absurdly large"))
}

async fn admin_refund(
    State(app): State<App>,
    Path(order): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let id = order_id(&order)?;
        let o = app.payments().order(&id).await.map_err(|e| e.to_string())?;
        let amount = parse_amount(
            form.get("amount").map_or("", String::as_str),
            o.currency().exponent(),
        )?;
        let amount = Amount::new(amount).map_err(|e| e.to_string())?;
        let r = app
            .payments()
            .refund(&id, amount)
            .await
            .map_err(|e| format!("refund of order {id} failed: {e}. Nothing was changed."))?;
        Ok(format!(
            "Refunded {} of order {id} (refund {}); refunded in total {}.",
            klarna_payments::Money::new(amount.minor(), r.order.currency()),
            r.refund_id,
            klarna_payments::Money::new(r.order.refunded(), r.order.currency())
        ))
    }
    .await;
    back_to_admin(result)
}

async fn admin_cancel_order(State(app): State<App>, Path(order): Path<String>) -> Response {
    let result =
        async {
            let id = order_id(&order)?;
            let o =
                app.payments().cancel_order(&id).await.map_err(|e| {
                    format!("cancelling order {id} failed: {e}. Nothing was changed.")
                })?;
            let p =
                app.payments().payment(o.payment_id()).await.map_err(|e| {
                    format!("order {id} is cancelled; reading its payment failed: {e}")
                })?;
            Ok(format!(
                "Cancelled order {id}; payment {} is {}.",
                p.id(),
                p.kind()
            ))
        }
        .await;
    back_to_admin(result)
}

async fn admin_cancel_payment(State(app): State<App>, Path(id): Path<String>) -> Response {
    let result = async {
        let pid = PaymentId::new(id).map_err(|e| e.to_string())?;
        let p =
            app.payments().cancel(&pid).await.map_err(|e| {
                format!("cancelling payment {pid} failed: {e}. Nothing was changed.")
            })?;
        Ok(format!("Payment {pid} is {}.", p.kind()))
    }
    .await;
    back_to_admin(result)
}

/// Finishes a payment Klarna's callback authorized (the browser never came back), with the
/// authorization the callback recorded.
async fn admin_complete_payment(State(app): State<App>, Path(id): Path<String>) -> Response {
    let result = async {
        let pid = PaymentId::new(id).map_err(|e| e.to_string())?;
        let failed = |e: &dyn std::fmt::Display| {
            format!("completing payment {pid} failed: {e}. Nothing was changed.")
        };
        let p = app.payments().payment(&pid).await.map_err(|e| failed(&e))?;
        let Some(token) = p.authorization_token().cloned() else {
            // Completed already (a second click) is the answer; anything else has nothing to
            // complete with.
            return match p.completed() {
                Some(_) => Ok(format!("Payment {pid} is {}.", p.kind())),
                None => Err(failed(&format_args!(
                    "payment is {}, it holds no authorization",
                    p.kind()
                ))),
            };
        };
        app.payments()
            .complete(&pid, token)
            .await
            .map_err(|e| failed(&e))?;
        let p = app.payments().payment(&pid).await.map_err(|e| failed(&e))?;
        Ok(format!("Payment {pid} is {}.", p.kind()))
    }
    .await;
    back_to_admin(result)
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_parse_without_floats() {
        assert_eq!(parse_amount("149", 2), Ok(14_900));
        assert_eq!(parse_amount("149.5", 2), Ok(14_950));
        assert_eq!(parse_amount(" 0.01 ", 2), Ok(1));
        assert!(parse_amount("1.001", 2).is_err());
        assert!(parse_amount("-1", 2).is_err());
        assert!(parse_amount("0", 2).is_err());
        assert!(parse_amount("1e3", 2).is_err());
        assert!(parse_amount("", 2).is_err());
        assert!(parse_amount("99999999999999999999", 2).is_err());
    }
}
