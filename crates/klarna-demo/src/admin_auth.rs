//! The demo shop's admin login: an operator token (printed at start, or
//! `KLARNA_DEMO_ADMIN_TOKEN`) exchanged at `POST /admin/login` for a random session id in an
//! HttpOnly, `SameSite=Strict` cookie (`Secure` when the shop is reached over https), kept in
//! memory; `POST /admin/logout` ends it. Without a session `GET /admin…` redirects to the login
//! and every other admin request answers 403.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::csrf::{self, CsrfToken};
use crate::{pages, secret};

/// The cookie that carries the operator's session id.
const COOKIE: &str = "klarna_demo_operator";
/// The login page (the one admin path open without a session).
pub(crate) const LOGIN: &str = "/admin/login";
/// Where the operator logs out.
pub(crate) const LOGOUT: &str = "/admin/logout";
/// Sessions kept at once; a login beyond it ends the oldest.
const MAX_SESSIONS: usize = 64;

/// The operator token and the sessions it opened.
pub(crate) struct Operator {
    token: String,
    sessions: Mutex<VecDeque<String>>,
    /// `; Secure` for the session cookie when the shop is reached over https.
    secure: &'static str,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Operator([REDACTED])")
    }
}

impl Operator {
    /// `KLARNA_DEMO_ADMIN_TOKEN` when set and not empty, else a random token. `https`: the
    /// shop's public URL is https, so its cookies are `Secure`.
    pub(crate) fn from_env(https: bool) -> Self {
        let token = match std::env::var("KLARNA_DEMO_ADMIN_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => secret::random_token(),
        };
        Self {
            token,
            sessions: Mutex::new(VecDeque::new()),
            secure: if https { "; Secure" } else { "" },
        }
    }

    /// The operator token (printed at start; tests log in with it).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    fn signed_in(&self, req: &Request) -> bool {
        let Some(given) = csrf::cookie(req.headers(), COOKIE) else {
            return false;
        };
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|s| secret::same(s, given))
    }

    fn close_session(&self, req: &Request) {
        if let Some(given) = csrf::cookie(req.headers(), COOKIE) {
            self.sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|s| !secret::same(s, given));
        }
    }

    fn open_session(&self) -> String {
        let id = secret::random_token();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(id.clone());
        id
    }
}

/// The middleware in front of the admin routes.
pub(crate) async fn require(
    State(operator): State<Arc<Operator>>,
    req: Request,
    next: Next,
) -> Response {
    if operator.signed_in(&req) {
        return next.run(req).await;
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Redirect::to(LOGIN).into_response();
    }
    (
        StatusCode::FORBIDDEN,
        Html(pages::error(
            "Operators only",
            "This needs an operator session. Nothing was changed.",
            Some((LOGIN, "Log in")),
        )),
    )
        .into_response()
}

/// `GET /admin/login`, `POST /admin/login` and `POST /admin/logout`.
pub(crate) fn routes(operator: Arc<Operator>) -> Router {
    Router::new()
        .route(LOGIN, get(login_page).post(login))
        .route(LOGOUT, post(logout))
        .with_state(operator)
}

/// Ends the operator's session (behind the CSRF layer like every form) and clears its cookie.
async fn logout(State(operator): State<Arc<Operator>>, req: Request) -> Response {
    operator.close_session(&req);
    let mut response = Redirect::to(LOGIN).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict{}",
        operator.secure
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn login_page(csrf: CsrfToken) -> Html<String> {
    Html(pages::login(csrf.as_str(), None))
}

async fn login(
    State(operator): State<Arc<Operator>>,
    csrf: CsrfToken,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let given = form.get("token").map_or("", |t| t.trim());
    if !secret::same(operator.token(), given) {
        return (
            StatusCode::FORBIDDEN,
            Html(pages::login(
                csrf.as_str(),
                Some("That is not the operator token (printed when the shop started)."),
            )),
        )
            .into_response();
    }
    let id = operator.open_session();
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict{}",
        operator.secure
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
