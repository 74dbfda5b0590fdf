//! The axum layer: Basic auth, body limits, fault injection and routing to the engine for Klarna's
//! paths, plus the simulator-only `/sim/...` endpoints and the callbacks to merchants.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{
    Callback, Engine, FraudDecision, ReplayPolicy, Reply, ShopperDecision, random_uuid,
};
use crate::faults::{Fault, FaultRule, Faults};
use crate::js::KLARNA_PAYMENTS_JS;
use crate::listener::Gate;
use crate::ops::Operation;

/// Klarna's request body limit (API.md §1.6).
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) faults: Mutex<Faults>,
    /// Whether the listener accepts connections (the `refuse_connections` fault).
    pub(crate) gate: Arc<Gate>,
    username: String,
    password: String,
    http: reqwest::Client,
}

impl Shared {
    pub(crate) fn new(engine: Engine, username: String, password: String, gate: Arc<Gate>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            engine,
            faults: Mutex::new(Faults::default()),
            gate,
            username,
            password,
            http,
        }
    }

    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(enc) = v
            .strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
        else {
            return false;
        };
        let Ok(raw) = STANDARD.decode(enc.trim()) else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(&raw) else {
            return false;
        };
        text.split_once(':')
            .is_some_and(|(u, p)| u == self.username && p == self.password)
    }

    /// Sends a callback on a spawned task: up to 3 attempts, backing off 1 s then 2 s, as Klarna
    /// does for the authorization callback (API.md §1.10). Best effort: failures are only logged.
    pub(crate) fn spawn_callback(&self, cb: Callback) {
        let http = self.http.clone();
        tokio::spawn(async move {
            for attempt in 0u32..3 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                }
                match http.post(&cb.url).json(&cb.body).send().await {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::debug!(status = r.status().as_u16(), attempt, "callback refused")
                    }
                    Err(_) => tracing::debug!(attempt, "callback failed"),
                }
            }
        });
    }
}

/// Builds the router for one simulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/sim/sessions/{id}/authorize",
            post(sim_authorize).options(preflight),
        )
        .route(
            "/sim/sessions/{id}/finalize",
            post(sim_finalize).options(preflight),
        )
        .route(
            "/sim/sessions/{id}/summary",
            get(sim_summary).options(preflight),
        )
        .route("/sim/clock/advance", post(sim_advance))
        .route("/sim/clock", get(sim_clock))
        .route(
            "/sim/faults",
            post(sim_add_faults)
                .get(sim_list_faults)
                .delete(sim_clear_faults),
        )
        .route("/sim/connections/refuse", post(sim_refuse_connections))
        .route("/sim/orders", get(sim_orders))
        .route("/sim/orders/{id}", get(sim_order))
        .route("/sim/orders/{id}/fraud", post(sim_fraud))
        .route("/sim/stats", get(sim_stats))
        .route("/sim/js/klarna-payments.js", get(sim_js))
        .route("/sim/redirect/{id}", get(sim_redirect))
        .route("/settlements/v1/{*rest}", get(settlements))
        .merge(crate::hpp_page::routes())
        .fallback(klarna)
        .layer(axum::middleware::map_response(add_correlation_id))
        .with_state(shared)
}

/// Every response carries `Klarna-Correlation-Id` (the engine sets it on Klarna answers; this
/// covers `/sim` answers and transport-level refusals).
async fn add_correlation_id(mut resp: Response) -> Response {
    let name = HeaderName::from_static("klarna-correlation-id");
    if !resp.headers().contains_key(&name)
        && let Ok(v) = HeaderValue::from_str(&random_uuid().to_string())
    {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// Converts an engine reply to an HTTP response.
pub(crate) fn to_response(reply: Reply) -> Response {
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(HeaderName::from_static(k), v);
        }
    }
    resp
}

/// A response whose body fails at once: hyper aborts the connection, so the client gets a
/// transport error instead of an answer.
fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped response",
        ))
    });
    Response::new(Body::from_stream(stream))
}

fn fault_reply(status: u16) -> Reply {
    let (code, msg) = match status {
        500 => ("INTERNAL_SERVER_ERROR", "Internal error"),
        502..=504 => ("TEMPORARILY_UNAVAILABLE", "Service temporarily unavailable"),
        429 => ("TOO_MANY_REQUESTS", "Too many requests"),
        _ => ("SIMULATED_FAULT", "Simulated fault"),
    };
    Reply::error(status, code, msg)
}

/// Klarna's refusal of an operation it does not allow (the `refuse` fault).
fn refusal_reply(op: &str) -> Reply {
    let code = match op {
        "orders.capture" => "CAPTURE_NOT_ALLOWED",
        "orders.refund" => "REFUND_NOT_ALLOWED",
        "orders.cancel" => "CANCEL_NOT_ALLOWED",
        _ => "NOT_ALLOWED",
    };
    Reply::error(
        403,
        code,
        "Not allowed. Decision is based on order state and outcome of risk assessment.",
    )
}

/// Klarna's own paths.
async fn klarna(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if !sh.authorized(&parts.headers) {
        let mut r = to_response(Reply::error(401, "UNAUTHORIZED", "Bad credentials"));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Klarna simulator\""),
        );
        return r;
    }
    let Some((op, params)) = Operation::route(parts.method.as_str(), parts.uri.path()) else {
        return to_response(Reply::error(404, "NOT_FOUND", "No such resource"));
    };
    sh.engine.count(op);
    let too_large = || {
        to_response(Reply::error(
            413,
            "REQUEST_TOO_LARGE",
            "Request body exceeds 1 MB",
        ))
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return too_large();
    }
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return too_large();
    };
    let key = parts
        .headers
        .get("klarna-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A replayed key is in flight from here until the answer is out; a duplicate meanwhile is
    // answered 409 CONFLICT without using up a fault.
    let mut in_flight = match sh.engine.enter_key(op, key.as_deref()) {
        Ok(marked) => InFlight {
            shared: Arc::clone(&sh),
            key: marked,
            held: None,
        },
        Err(conflict) => return to_response(conflict),
    };
    let fault = sh.faults().take(op.name());
    let mut after = After::Answer;
    match fault {
        None => {}
        Some(Fault::Latency { ms }) => in_flight.hold(op, ms).await,
        Some(Fault::Status { status }) => return to_response(fault_reply(status)),
        Some(Fault::Refuse) => return to_response(refusal_reply(op.name())),
        Some(Fault::RateLimit { retry_after }) => {
            let mut reply = fault_reply(429);
            reply.headers.push(("retry-after", retry_after.to_string()));
            return to_response(reply);
        }
        Some(Fault::DropBeforeEffect) => return dropped(),
        Some(Fault::DropAfterEffect) => after = After::Drop,
        Some(Fault::LatencyAfterEffect { ms }) => after = After::Hold(ms),
        Some(Fault::RefuseConnections { ms, after_effect }) => {
            if after_effect {
                sh.engine.dispatch(op, &params, key.as_deref(), &bytes);
            }
            // Refusing before this call's connection is closed: the client's retry is refused.
            sh.gate.refuse_for(Duration::from_millis(ms));
            return dropped();
        }
    }
    let reply = sh.engine.dispatch(op, &params, key.as_deref(), &bytes);
    match after {
        After::Answer => {}
        After::Drop => return dropped(),
        After::Hold(ms) => {
            // The hold runs on its own task, which owns the in-flight mark: the key stays in
            // flight for the whole hold even if the client gives up and its connection closes.
            let (tx, rx) = oneshot::channel::<()>();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                drop(in_flight);
                let _ = tx.send(());
            });
            let _ = rx.await;
            return to_response(reply);
        }
    }
    drop(in_flight);
    to_response(reply)
}

/// The Settlements API (engine `settlements`): Basic auth, then the engine's answer. Its reads
/// are outside [`Operation`], so faults and stats do not cover them.
async fn settlements(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    if !sh.authorized(req.headers()) {
        return to_response(Reply::error(401, "UNAUTHORIZED", "Bad credentials"));
    }
    to_response(sh.engine.settlements(req.uri().path(), req.uri().query()))
}

/// What happens to a call's answer after the effect.
enum After {
    /// Sent at once.
    Answer,
    /// Lost: the connection is aborted.
    Drop,
    /// Sent after this many milliseconds.
    Hold(u64),
}

/// A call being handled: its key marked in flight by [`Engine::enter_key`], if any, and whether
/// a `latency` fault holds it before its effect. The mark is cleared when this is dropped (also
/// when the handler is dropped because the client went away).
struct InFlight {
    shared: Arc<Shared>,
    key: Option<String>,
    /// The operation, while a `latency` fault holds the call.
    held: Option<Operation>,
}

impl InFlight {
    /// Holds the call `ms` of real time before its effect, counted in [`crate::Stats::held`]
    /// once the hold has begun. hyper drops the handler, and with it this hold, when it sees
    /// the client's connection close (it reads on while a request is in progress): the call is
    /// then abandoned before its effect, as [`Drop`] counts. Whether the call goes on is decided
    /// on the handler's one task: either the hold ends and the effect follows without another
    /// await, or the handler is dropped inside the hold; never both.
    async fn hold(&mut self, op: Operation, ms: u64) {
        self.held = Some(op);
        self.shared.engine.count_held(op);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.held = None;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.shared.engine.leave_key(&k);
        }
        // After the key left flight: whoever waits for the count finds the key free.
        if let Some(op) = self.held.take() {
            self.shared.engine.count_abandoned(op);
        }
    }
}

fn sim_error(status: u16, code: &str, msg: impl Into<String>) -> Response {
    to_response(Reply::error(status, code, msg))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(sim_error(400, "BAD_REQUEST", format!("Invalid body: {e}"))))
}

fn cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    resp
}

async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

async fn sim_authorize(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let decision: ShopperDecision = match parse_json(&body) {
        Ok(d) => d,
        Err(r) => return cors(*r),
    };
    cors(match authorize(&sh, &id, &decision) {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => to_response(r),
    })
}

async fn sim_finalize(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let decision: ShopperDecision = match parse_json(&body) {
        Ok(d) => d,
        Err(r) => return cors(*r),
    };
    cors(match finalize(&sh, &id, &decision) {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => to_response(r),
    })
}

/// `GET /sim/sessions/{id}/summary`: what the stand-in's dialog shows, for the holder of the
/// session's client token (`Authorization: Bearer <client_token>`).
async fn sim_summary(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let mut resp = match sh.engine.session_summary(&id, bearer) {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => {
            let unauthorized = r.status == 401;
            let mut resp = to_response(r);
            if unauthorized {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"Klarna simulator\""),
                );
            }
            resp
        }
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(resp)
}

/// The shopper step shared by the HTTP endpoint and [`crate::Simulator::authorize`].
pub(crate) fn authorize(
    sh: &Shared,
    session_id: &str,
    decision: &ShopperDecision,
) -> Result<Value, Reply> {
    let (result, callback) = sh.engine.authorize_session(session_id, decision);
    if let Some(cb) = callback {
        sh.spawn_callback(cb);
    }
    result
}

/// The shopper's `finalize()`, shared by the HTTP endpoint and [`crate::Simulator::finalize`].
pub(crate) fn finalize(
    sh: &Shared,
    session_id: &str,
    decision: &ShopperDecision,
) -> Result<Value, Reply> {
    let (result, callback) = sh.engine.finalize_session(session_id, decision);
    if let Some(cb) = callback {
        sh.spawn_callback(cb);
    }
    result
}

/// Resolves fraud review, shared by the HTTP endpoint and [`crate::Simulator::resolve_fraud`].
pub(crate) fn resolve_fraud(
    sh: &Shared,
    order_id: &str,
    decision: FraudDecision,
) -> Result<(), Reply> {
    if let Some(cb) = sh.engine.resolve_fraud(order_id, decision)? {
        sh.spawn_callback(cb);
    }
    Ok(())
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

async fn sim_advance(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<Advance>(&body) {
        Ok(a) => {
            sh.engine.advance_clock(Duration::from_secs(a.seconds));
            axum::Json(json!({"now": sh.engine.now()})).into_response()
        }
        Err(r) => *r,
    }
}

async fn sim_clock(State(sh): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"now": sh.engine.now()})).into_response()
}

/// The body of `POST /sim/faults`: one rule, an array of rules, or an object with optional
/// `rules` and `replay` (the [`ReplayPolicy`] switch).
#[derive(Deserialize)]
#[serde(untagged)]
enum FaultConfig {
    One(FaultRule),
    Many(Vec<FaultRule>),
    Settings(FaultSettings),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSettings {
    #[serde(default)]
    rules: Vec<FaultRule>,
    #[serde(default)]
    replay: Option<ReplayPolicy>,
}

/// `{"rules": [...], "replay": "pessimistic"|"optimistic"}`: what `/sim/faults` answers.
fn fault_state(sh: &Shared) -> Response {
    let rules = sh.faults().list();
    axum::Json(json!({"rules": rules, "replay": sh.engine.replay_policy()})).into_response()
}

async fn sim_add_faults(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let (rules, replay) = match parse_json::<FaultConfig>(&body) {
        Ok(FaultConfig::One(r)) => (vec![r], None),
        Ok(FaultConfig::Many(v)) => (v, None),
        Ok(FaultConfig::Settings(s)) => (s.rules, s.replay),
        Err(r) => return *r,
    };
    if let Some(policy) = replay {
        sh.engine.set_replay_policy(policy);
    }
    {
        let mut f = sh.faults();
        for r in rules {
            f.add(r);
        }
    }
    fault_state(&sh)
}

async fn sim_list_faults(State(sh): State<Arc<Shared>>) -> Response {
    fault_state(&sh)
}

async fn sim_clear_faults(State(sh): State<Arc<Shared>>) -> Response {
    sh.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct RefuseBody {
    ms: u64,
}

/// `POST /sim/connections/refuse {"ms": N}`: answers, then refuses connections for N ms.
async fn sim_refuse_connections(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<RefuseBody>(&body) {
        Ok(b) => {
            sh.gate.refuse_for(Duration::from_millis(b.ms));
            let mut r = axum::Json(json!({"refusing_ms": b.ms})).into_response();
            // This connection is closed after the answer (the refusal closes idle ones anyway).
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        Err(r) => *r,
    }
}

async fn sim_orders(State(sh): State<Arc<Shared>>) -> Response {
    axum::Json(sh.engine.orders()).into_response()
}

async fn sim_order(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match sh.engine.order(&id) {
        Some(o) => axum::Json(o).into_response(),
        None => sim_error(404, "NO_SUCH_ORDER", "No such order"),
    }
}

#[derive(Deserialize)]
struct FraudBody {
    decision: FraudDecision,
}

async fn sim_fraud(State(sh): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    let b: FraudBody = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match resolve_fraud(&sh, &id, b.decision) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => to_response(r),
    }
}

async fn sim_stats(State(sh): State<Arc<Shared>>) -> Response {
    axum::Json(sh.engine.stats()).into_response()
}

async fn sim_js() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        KLARNA_PAYMENTS_JS,
    )
        .into_response()
}

async fn sim_redirect(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match sh
        .engine
        .confirmation_url(&id)
        .and_then(|u| HeaderValue::from_str(&u).ok())
    {
        Some(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        None => sim_error(404, "NOT_FOUND", "No confirmation URL for this order"),
    }
}
