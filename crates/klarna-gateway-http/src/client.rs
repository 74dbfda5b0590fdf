//! `KlarnaClient` and its builder: the request pipeline shared by every operation
//! (headers, idempotency key, retries under one deadline, capped body reading, error mapping,
//! tracing).
//!
//! Every call has one deadline ([`KlarnaClientBuilder::deadline`], default
//! [`DEFAULT_DEADLINE`]) over all its attempts, backoffs and `Retry-After` waits: a retry is
//! started only when its wait plus one attempt's whole-request timeout end before the deadline,
//! and an attempt still in flight at the deadline is cut (the call then ends `MaybeSent`). So a
//! call started at `t` is over by `t + deadline`, which is what a reconciler must wait for
//! before it takes the call's operation over ([`KlarnaClient::deadline`]).
//!
//! Once an attempt may have taken effect (sent without a usable answer, a 5xx), the call can no
//! longer end in "nothing happened": a later refusal (4xx, 429) or connect failure of a retry
//! makes the outcome `MaybeSent` (DESIGN.md §5, rule 3).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use klarna_domain::Region;

use crate::config::{Credentials, Environment, Timeouts};
use crate::error::KlarnaError;
use crate::keys::UuidKeys;
use crate::operation::Operation;
use crate::retry::{AttemptOutcome, Decision, RetryConfig, decide, parse_retry_after};
use klarna_domain::IdempotencyKey;

/// Default cap on response bodies: Klarna's documents are small; anything bigger is wrong.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Default deadline of one call, all attempts and waits included: 60 s, twice the default
/// whole-request timeout. With the defaults (3 attempts of at most 30 s) a call that fails fast
/// (5xx, 429, refused connection) is retried, one whose first attempt timed out is not.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

const IDEMPOTENCY_HEADER: &str = "klarna-idempotency-key";
const CORRELATION_HEADER: &str = "klarna-correlation-id";

/// Everything except RFC 3986 unreserved characters is escaped, so an id is always exactly
/// one path segment (`/`, `?`, `#`, `%` cannot change the URL's shape).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `User-Agent` in Klarna's SDK convention (API.md §1.3).
fn user_agent() -> String {
    format!(
        "Library/klarna-gateway-http_{} Language/Rust_{} OS/{}",
        env!("CARGO_PKG_VERSION"),
        option_env!("KLARNA_GATEWAY_RUSTC_VERSION").unwrap_or("unknown"),
        std::env::consts::OS
    )
}

/// A successful answer: the typed body plus what Klarna said about the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<T> {
    /// The typed body (`()` for 202/204 answers).
    pub body: T,
    /// HTTP status (200, 201, 202 or 204).
    pub status: u16,
    /// `Klarna-Correlation-Id` response header; quote it to Klarna support.
    pub correlation_id: Option<String>,
    /// The `Klarna-Idempotency-Key` sent (the caller's or a minted one); `None` for reads.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl<T> Response<T> {
    /// Drops the metadata.
    pub fn into_body(self) -> T {
        self.body
    }
}

/// Result of O2 (capture): Klarna answers 201 with ids in headers only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureCreated {
    /// From `Capture-Id`, else the last segment of `Location`.
    pub capture_id: String,
    /// The `Location` header.
    pub location: Option<String>,
}

/// Result of O5 (refund): Klarna answers 201 with ids in headers only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundCreated {
    /// From `Refund-Id`, else the last segment of `Location`.
    pub refund_id: String,
    /// The `Location` header.
    pub location: Option<String>,
}

/// Builder of a [`KlarnaClient`]. Defaults: EU playground, 10 s connect / 30 s total
/// timeouts, [`RetryConfig::default`], a [`DEFAULT_DEADLINE`] of 60 s per call, 4 MiB response
/// cap.
#[derive(Debug, Clone)]
pub struct KlarnaClientBuilder {
    credentials: Credentials,
    region: Region,
    environment: Environment,
    base_url: Option<String>,
    timeouts: Timeouts,
    retry: RetryConfig,
    deadline: Option<Duration>,
    max_response_bytes: usize,
}

impl KlarnaClientBuilder {
    /// Starts a builder with the given credentials and the defaults above.
    #[must_use]
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            region: Region::default(),
            environment: Environment::default(),
            base_url: None,
            timeouts: Timeouts::default(),
            retry: RetryConfig::default(),
            deadline: Some(DEFAULT_DEADLINE),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Region of the merchant account.
    #[must_use]
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Playground or production.
    #[must_use]
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Sends to this base URL instead of the region's (the simulator, a proxy). Overrides
    /// region and environment. It must be `https`, except for a loopback host (`127.0.0.0/8`,
    /// `::1`, `localhost`), where plain `http` is allowed ([`build`](Self::build) refuses
    /// anything else, so credentials never go out in clear on a typo).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Both timeouts at once.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// Whole-request timeout.
    #[must_use]
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = Some(timeout);
        self
    }

    /// Retry policy settings.
    #[must_use]
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The deadline of one call: every attempt, backoff and `Retry-After` wait of the call
    /// ends within it (default [`DEFAULT_DEADLINE`]). No retry is started that could end past
    /// it (its wait plus one attempt's whole-request timeout), no `Retry-After` wait is taken
    /// that would end past it, and an attempt still in flight at the deadline is cut; a call
    /// cut so, or ending at its deadline after an attempt that may have been sent, is
    /// [`KlarnaError::MaybeSent`]. Must be longer than zero and at least the connect and
    /// whole-request timeouts ([`build`](Self::build) checks it).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// No deadline per call (only the attempts, timeouts and waits bound it); then
    /// [`KlarnaClient::deadline`] answers [`Duration::MAX`]. Only for tests on a paused tokio
    /// clock, where any pending timer fires as soon as the runtime waits for a socket; never in
    /// production, where a reconciler relies on the deadline.
    #[must_use]
    pub fn without_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Cap on a response body in bytes.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`KlarnaError::InvalidInput`] for a bad base URL (field `base_url`: not http(s), plain
    /// `http` to a host that is not loopback, no host, has credentials, query or fragment), a
    /// deadline of zero or shorter than a timeout (field `deadline`), credentials that do not
    /// fit in a header (field `credentials`), or an HTTP stack that cannot start (field
    /// `http_client`).
    pub fn build(self) -> Result<KlarnaClient, KlarnaError> {
        validate_deadline(self.deadline, self.timeouts)?;
        let (base, custom) = match &self.base_url {
            Some(url) => (validate_base_url(url)?, true),
            None => (
                self.environment
                    .base_url(self.region)
                    .trim_end_matches('/')
                    .to_owned(),
                false,
            ),
        };
        let auth = basic_auth(&self.credentials)?;
        let mut http = reqwest::Client::builder()
            .user_agent(user_agent())
            .redirect(reqwest::redirect::Policy::none())
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .https_only(!custom);
        if let Some(connect) = self.timeouts.connect {
            http = http.connect_timeout(connect);
        }
        if let Some(total) = self.timeouts.total {
            http = http.timeout(total);
        }
        let http = http.build().map_err(|e| KlarnaError::InvalidInput {
            field: "http_client",
            reason: e.without_url().to_string(),
        })?;
        Ok(KlarnaClient {
            http,
            base,
            auth,
            retry: self.retry,
            deadline: self.deadline,
            attempt_timeout: self.timeouts.total,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

fn validate_deadline(deadline: Option<Duration>, timeouts: Timeouts) -> Result<(), KlarnaError> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let invalid = |reason: String| KlarnaError::InvalidInput {
        field: "deadline",
        reason,
    };
    if deadline.is_zero() {
        return Err(invalid("must be longer than zero".to_owned()));
    }
    for (name, timeout) in [("connect", timeouts.connect), ("total", timeouts.total)] {
        if let Some(timeout) = timeout
            && deadline < timeout
        {
            return Err(invalid(format!(
                "{} ms is shorter than the {name} timeout of one attempt ({} ms)",
                deadline.as_millis(),
                timeout.as_millis()
            )));
        }
    }
    Ok(())
}

/// Whether `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn validate_base_url(raw: &str) -> Result<String, KlarnaError> {
    let invalid = |reason: &str| KlarnaError::InvalidInput {
        field: "base_url",
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("must have a host"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(invalid(
            "https is required: plain http is allowed for loopback hosts only \
             (127.0.0.0/8, ::1, localhost), so credentials never go out in clear",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `Authorization: Basic base64(username:password)`, built once and marked sensitive so that
/// `Debug` prints `Sensitive` and HTTP/2 never indexes it.
fn basic_auth(credentials: &Credentials) -> Result<HeaderValue, KlarnaError> {
    let raw = format!(
        "{}:{}",
        credentials.username,
        credentials.password.expose_secret()
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
        KlarnaError::InvalidInput {
            field: "credentials",
            reason: "cannot be encoded in an HTTP header".to_owned(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The low-level typed Klarna client: one async method per operation of API.md §0
/// (P1–P6, T1–T3, O1–O18). Cheap to clone; share one per process.
#[derive(Clone)]
pub struct KlarnaClient {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    retry: RetryConfig,
    /// `None` only through [`KlarnaClientBuilder::without_deadline`].
    deadline: Option<Duration>,
    /// The whole-request timeout of one attempt, if any.
    attempt_timeout: Option<Duration>,
    max_response_bytes: usize,
}

impl fmt::Debug for KlarnaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KlarnaClient")
            .field("base_url", &self.base)
            .field("retry", &self.retry)
            .field("deadline", &self.deadline)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// A response with a success status, body read.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) correlation_id: Option<String>,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub(crate) fn into_response<T>(self, body: T) -> Response<T> {
        Response {
            body,
            status: self.status,
            correlation_id: self.correlation_id,
            idempotency_key: self.idempotency_key,
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, op: Operation) -> Result<T, KlarnaError> {
        serde_json::from_slice(&self.body).map_err(|e| KlarnaError::MalformedResponse {
            operation: op,
            status: self.status,
            correlation_id: self.correlation_id.clone(),
            detail: describe_json_error(&e),
        })
    }
}

/// Describes a serde_json error without quoting the body: serde's messages may include a
/// value ("invalid type: string \"…\""), which could be personal data. Only "missing field"
/// messages, which name a field of our own model, are kept verbatim.
fn describe_json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field `") {
        return message;
    }
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Builds the request path from the operation's template, percent-encoding each id as one
/// path segment.
pub(crate) fn build_path(op: Operation, ids: &[&str]) -> Result<String, KlarnaError> {
    let mut rest: &'static str = op.path_template();
    let mut out = String::with_capacity(rest.len() + 64);
    let mut ids = ids.iter();
    while let Some((before, after)) = rest.split_once('{') {
        let Some((name, tail)) = after.split_once('}') else {
            break;
        };
        out.push_str(before);
        let id = ids.next().ok_or(KlarnaError::InvalidInput {
            field: name,
            reason: "missing".to_owned(),
        })?;
        validate_id(name, id)?;
        out.extend(utf8_percent_encode(id, SEGMENT));
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

fn validate_id(field: &'static str, id: &str) -> Result<(), KlarnaError> {
    let reason = if id.is_empty() {
        "must not be empty"
    } else if id == "." || id == ".." {
        // URL parsers resolve these (even percent-encoded) as relative segments.
        "must not be a dot segment"
    } else if id.len() > 4096 {
        "longer than 4096 bytes"
    } else {
        return Ok(());
    };
    Err(KlarnaError::InvalidInput {
        field,
        reason: reason.to_owned(),
    })
}

enum ReadError {
    TooLarge,
    Transport(String),
}

impl KlarnaClient {
    /// Starts a builder.
    #[must_use]
    pub fn builder(credentials: Credentials) -> KlarnaClientBuilder {
        KlarnaClientBuilder::new(credentials)
    }

    /// The base URL requests go to (without trailing slash).
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The deadline of one call ([`KlarnaClientBuilder::deadline`]): a call started at `t` has
    /// ended, with every attempt, by `t + deadline`. [`Duration::MAX`] only after
    /// [`KlarnaClientBuilder::without_deadline`].
    #[must_use]
    pub fn deadline(&self) -> Duration {
        self.deadline.unwrap_or(Duration::MAX)
    }

    /// Serializes a request body.
    pub(crate) fn encode<B: Serialize>(body: &B) -> Result<Bytes, KlarnaError> {
        serde_json::to_vec(body)
            .map(Bytes::from)
            .map_err(|e| KlarnaError::InvalidInput {
                field: "body",
                reason: describe_json_error(&e),
            })
    }

    /// Sends one operation with retries; returns the successful response with its body read.
    pub(crate) async fn execute(
        &self,
        op: Operation,
        path: String,
        body: Option<Bytes>,
        key: Option<IdempotencyKey>,
    ) -> Result<RawResponse, KlarnaError> {
        // The key is fixed here, once per call, so every retry carries the same one.
        let key = op
            .is_mutating()
            .then(|| key.unwrap_or_else(UuidKeys::random_key));
        let url = reqwest::Url::parse(&format!("{}{}", self.base, path)).map_err(|_| {
            KlarnaError::InvalidInput {
                field: "path",
                reason: "does not form a valid URL".to_owned(),
            }
        })?;
        let span = tracing::info_span!(
            "klarna",
            operation = op.name(),
            method = op.method().as_str(),
            path = op.path_template(),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        self.attempts(op, url, body, key).instrument(span).await
    }

    async fn attempts(
        &self,
        op: Operation,
        url: reqwest::Url,
        body: Option<Bytes>,
        key: Option<IdempotencyKey>,
    ) -> Result<RawResponse, KlarnaError> {
        let span = tracing::Span::current();
        let deadline = self
            .deadline
            .and_then(|d| tokio::time::Instant::now().checked_add(d));
        let mut attempt: u32 = 0;
        // Whether an earlier attempt of this call may have had its effect at Klarna.
        let mut earlier_uncertain = false;
        loop {
            attempt = attempt.saturating_add(1);
            span.record("attempt", attempt);
            tracing::debug!(attempt, "sending request");
            let sending = self.attempt(op, &url, body.as_ref(), key.as_ref());
            let result = match deadline {
                // Cut at the deadline when the attempt's own timeout could outlast it.
                Some(at) if self.may_outlast(at) => {
                    match tokio::time::timeout_at(at, sending).await {
                        Ok(result) => result,
                        Err(_elapsed) => {
                            tracing::info!(attempt, "deadline reached with the request in flight");
                            return Err(self.cut_at_deadline(op));
                        }
                    }
                }
                _ => sending.await,
            };
            let (error, outcome, retry_after) = match result {
                Ok(raw) => {
                    tracing::debug!(attempt, status = raw.status, "request succeeded");
                    return Ok(raw);
                }
                Err(failure) => failure,
            };
            let jitter = rand::random::<u32>() % 1001;
            let delay = match decide(
                attempt,
                outcome,
                op.retry_safe(),
                retry_after,
                &self.retry,
                jitter,
            ) {
                Decision::GiveUp => {
                    tracing::info!(attempt, error = %error, "request failed");
                    return Err(outcome_after_uncertain(op, earlier_uncertain, error));
                }
                Decision::RetryAfter(delay) => delay,
            };
            if let Some(at) = deadline
                && !self.room_for_retry(at, delay)
            {
                tracing::info!(
                    attempt,
                    error = %error,
                    "request failed; the call's deadline leaves no room for another attempt"
                );
                return Err(outcome_after_uncertain(op, earlier_uncertain, error));
            }
            earlier_uncertain |= may_have_taken_effect(&error);
            tracing::warn!(
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Whether an attempt started now could still be running at `deadline` (no whole-request
    /// timeout, or one that ends past it).
    fn may_outlast(&self, deadline: tokio::time::Instant) -> bool {
        self.attempt_timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t))
            .is_none_or(|end| end > deadline)
    }

    /// Whether a retry after `delay` (its wait plus one whole attempt) ends before `deadline`.
    fn room_for_retry(&self, deadline: tokio::time::Instant, delay: Duration) -> bool {
        tokio::time::Instant::now()
            .checked_add(delay)
            .and_then(|t| t.checked_add(self.attempt_timeout.unwrap_or(Duration::ZERO)))
            .is_some_and(|end| end < deadline)
    }

    /// The error of an attempt cut at the call's deadline: it may have been sent.
    fn cut_at_deadline(&self, op: Operation) -> KlarnaError {
        KlarnaError::MaybeSent {
            operation: op,
            detail: format!(
                "deadline: the call's deadline of {} ms passed with an attempt in flight",
                self.deadline().as_millis()
            ),
        }
    }

    /// One attempt. On failure returns the error, the outcome for the retry policy and the
    /// server's retry hint.
    async fn attempt(
        &self,
        op: Operation,
        url: &reqwest::Url,
        body: Option<&Bytes>,
        key: Option<&IdempotencyKey>,
    ) -> Result<RawResponse, (KlarnaError, AttemptOutcome, Option<Duration>)> {
        let mut request = self
            .http
            .request(op.method().to_reqwest(), url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, op.accept());
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_HEADER, key.as_str());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let sent = !e.is_connect();
                let detail = describe_transport_error(&e);
                let error = if sent {
                    KlarnaError::MaybeSent {
                        operation: op,
                        detail,
                    }
                } else {
                    KlarnaError::NotSent {
                        operation: op,
                        detail,
                    }
                };
                return Err((error, AttemptOutcome::Transport { sent }, None));
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let correlation_id = headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(id) = &correlation_id {
            span.record("correlation_id", id.as_str());
        }
        tracing::debug!(
            status,
            correlation_id = correlation_id.as_deref(),
            "response received"
        );

        let read = self.read_capped(response).await;
        if (200..300).contains(&status) {
            return match read {
                Ok(body) => Ok(RawResponse {
                    status,
                    headers,
                    body,
                    correlation_id,
                    idempotency_key: key.cloned(),
                }),
                Err(ReadError::TooLarge) => Err((
                    KlarnaError::ResponseTooLarge {
                        operation: op,
                        status,
                        correlation_id,
                        limit: self.max_response_bytes,
                    },
                    // Retrying would fetch the same oversized answer.
                    AttemptOutcome::Status(status),
                    None,
                )),
                Err(ReadError::Transport(detail)) => Err((
                    KlarnaError::MaybeSent {
                        operation: op,
                        detail,
                    },
                    AttemptOutcome::Transport { sent: true },
                    None,
                )),
            };
        }

        // Error bodies are parsed leniently: absent, oversized or non-JSON bodies still give
        // a typed error with the status.
        let parsed: klarna_api::ErrorResponse = match &read {
            Ok(bytes) => serde_json::from_slice(bytes).unwrap_or_default(),
            Err(_) => klarna_api::ErrorResponse::default(),
        };
        let retry_after = header_str(&headers, "retry-after")
            .and_then(parse_retry_after)
            .or_else(|| {
                (status == 429)
                    .then(|| header_str(&headers, "x-ratelimit-reset").and_then(parse_retry_after))
                    .flatten()
            });
        let error_messages = parsed.messages();
        let error = KlarnaError::Api {
            operation: op,
            status,
            error_code: parsed.error_code,
            error_messages,
            correlation_id: parsed.correlation_id.or(correlation_id),
            retry_after,
        };
        Err((error, AttemptOutcome::Status(status), retry_after))
    }

    /// Reads the body in chunks, stopping as soon as it would exceed the cap.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Bytes, ReadError> {
        let limit = self.max_response_bytes;
        if let Some(length) = response.content_length()
            && usize::try_from(length).map_or(true, |l| l > limit)
        {
            return Err(ReadError::TooLarge);
        }
        let mut buffer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if buffer.len().saturating_add(chunk.len()) > limit {
                        return Err(ReadError::TooLarge);
                    }
                    buffer.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(buffer)),
                Err(e) => return Err(ReadError::Transport(describe_transport_error(&e))),
            }
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A transport error as text, without the URL (which carries tokens): the kind plus the
/// source chain (e.g. "connect: tcp connect error: Connection refused").
fn describe_transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "transport"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Extracts a created resource's id from its dedicated header, else from the last segment of
/// `Location` (API.md §4.2/§4.3).
pub(crate) fn created_id(
    raw: &RawResponse,
    op: Operation,
    id_header: &str,
) -> Result<(String, Option<String>), KlarnaError> {
    let location = raw.header("location");
    let from_header = raw.header(id_header).filter(|id| !id.trim().is_empty());
    let from_location = || {
        let location = location.as_deref()?;
        let path = location.split(['?', '#']).next()?;
        let last = path.trim_end_matches('/').rsplit('/').next()?;
        let decoded = percent_encoding::percent_decode_str(last)
            .decode_utf8()
            .ok()?;
        (!decoded.is_empty()).then(|| decoded.into_owned())
    };
    match from_header.or_else(from_location) {
        Some(id) => Ok((id, location)),
        None => Err(KlarnaError::MalformedResponse {
            operation: op,
            status: raw.status,
            correlation_id: raw.correlation_id.clone(),
            detail: format!("neither a {id_header} header nor a usable Location header"),
        }),
    }
}

/// Whether a failed attempt may still have had its effect at Klarna.
fn may_have_taken_effect(error: &KlarnaError) -> bool {
    match error {
        KlarnaError::MaybeSent { .. }
        | KlarnaError::MalformedResponse { .. }
        | KlarnaError::ResponseTooLarge { .. } => true,
        KlarnaError::Api { status, .. } => *status >= 500 || (300..400).contains(status),
        KlarnaError::NotSent { .. } | KlarnaError::InvalidInput { .. } => false,
    }
}

/// The call's outcome once an earlier attempt may have taken effect: whatever the last attempt
/// ended with, it cannot say "nothing happened". A 4xx (429 included) is no refusal: the first
/// attempt may have succeeded (a capture done, then refused as over the remaining amount; an
/// order created, then "already consumed"); a connect failure (`NotSent`) only says the *last*
/// attempt did not leave. The outcome is unknown, `MaybeSent` (DESIGN.md §5, rule 3). Errors
/// that already say "may have reached Klarna" (5xx, timeouts, unusable answers) stay as they
/// are.
fn outcome_after_uncertain(
    op: Operation,
    earlier_uncertain: bool,
    error: KlarnaError,
) -> KlarnaError {
    if !(earlier_uncertain && op.is_mutating()) {
        return error;
    }
    match &error {
        KlarnaError::Api {
            status: 400..=499, ..
        }
        | KlarnaError::NotSent { .. } => KlarnaError::MaybeSent {
            operation: op,
            detail: format!(
                "an earlier attempt may have reached Klarna, then a retry failed ({error})"
            ),
        },
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_encoded_segment() {
        let path = build_path(Operation::GetCapture, &["a/b?c#d%e f", "ü~._-"]).unwrap();
        assert_eq!(
            path,
            "/ordermanagement/v1/orders/a%2Fb%3Fc%23d%25e%20f/captures/%C3%BC~._-"
        );
        assert_eq!(
            build_path(Operation::CreateSession, &[]).unwrap(),
            "/payments/v1/sessions"
        );
    }

    #[test]
    fn bad_ids_are_typed_errors_naming_the_field() {
        for bad in ["", ".", ".."] {
            let err = build_path(Operation::GetOrder, &[bad]).unwrap_err();
            assert!(
                matches!(
                    err,
                    KlarnaError::InvalidInput {
                        field: "order_id",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        let err = build_path(Operation::CreateOrder, &[]).unwrap_err();
        assert!(matches!(
            err,
            KlarnaError::InvalidInput { field: "token", .. }
        ));
    }

    #[test]
    fn base_url_validation() {
        assert_eq!(
            validate_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            validate_base_url("https://proxy.example/klarna/").unwrap(),
            "https://proxy.example/klarna"
        );
        // Plain http only for loopback hosts.
        for loopback in [
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://127.5.6.7/",
            "http://[::1]:9000/",
        ] {
            assert!(validate_base_url(loopback).is_ok(), "{loopback}");
        }
        for clear in [
            "http://api.klarna.com/",
            "http://10.0.0.1/",
            "http://localhost.evil.example/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            let err = validate_base_url(clear).unwrap_err();
            assert!(
                matches!(&err, KlarnaError::InvalidInput { field: "base_url", reason } if reason.contains("https is required")),
                "{clear}: {err:?}"
            );
        }
        for bad in [
            "ftp://x/",
            "not a url",
            "https://user:pw@x/",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            assert!(
                matches!(
                    validate_base_url(bad),
                    Err(KlarnaError::InvalidInput {
                        field: "base_url",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_by_build() {
        let err = KlarnaClient::builder(Credentials::new("u", "p"))
            .base_url("http://api.playground.klarna.com/")
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                KlarnaError::InvalidInput {
                    field: "base_url",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("https is required"), "{err}");
    }

    #[test]
    fn the_deadline_is_checked_and_exposed() {
        let builder = || KlarnaClient::builder(Credentials::new("u", "p"));
        assert_eq!(builder().build().unwrap().deadline(), DEFAULT_DEADLINE);
        assert!(DEFAULT_DEADLINE >= Timeouts::default().total.unwrap());
        let client = builder().deadline(Duration::from_secs(45)).build().unwrap();
        assert_eq!(client.deadline(), Duration::from_secs(45));
        assert!(format!("{client:?}").contains("deadline"));
        for (deadline, timeouts) in [
            (Duration::ZERO, Timeouts::default()),
            (Duration::from_secs(29), Timeouts::default()),
            (
                Duration::from_secs(5),
                Timeouts {
                    connect: Some(Duration::from_secs(10)),
                    total: None,
                },
            ),
        ] {
            let err = builder()
                .timeouts(timeouts)
                .deadline(deadline)
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    KlarnaError::InvalidInput {
                        field: "deadline",
                        ..
                    }
                ),
                "{deadline:?}: {err:?}"
            );
        }
        // Equal to the whole-request timeout is enough: one attempt fits.
        assert!(builder().deadline(Duration::from_secs(30)).build().is_ok());
        assert_eq!(
            builder().without_deadline().build().unwrap().deadline(),
            Duration::MAX
        );
    }

    #[test]
    fn after_an_uncertain_attempt_nothing_says_nothing_happened() {
        let op = Operation::CaptureOrder;
        let not_sent = || KlarnaError::NotSent {
            operation: op,
            detail: "connect".into(),
        };
        let api = |status| KlarnaError::Api {
            operation: op,
            status,
            error_code: None,
            error_messages: vec![],
            correlation_id: None,
            retry_after: None,
        };
        for last in [not_sent(), api(403), api(429), api(404)] {
            let e = outcome_after_uncertain(op, true, last);
            assert!(matches!(e, KlarnaError::MaybeSent { .. }), "{e:?}");
            assert!(e.may_have_reached_klarna());
        }
        // Without earlier uncertainty, or for a read, the last error stands.
        assert!(matches!(
            outcome_after_uncertain(op, false, not_sent()),
            KlarnaError::NotSent { .. }
        ));
        assert!(matches!(
            outcome_after_uncertain(
                Operation::GetOrder,
                true,
                KlarnaError::NotSent {
                    operation: Operation::GetOrder,
                    detail: "connect".into()
                }
            ),
            KlarnaError::NotSent { .. }
        ));
        assert!(matches!(
            outcome_after_uncertain(op, true, api(503)),
            KlarnaError::Api { status: 503, .. }
        ));
    }

    #[test]
    fn user_agent_follows_klarna_convention() {
        let ua = user_agent();
        assert!(ua.starts_with("Library/klarna-gateway-http_"), "{ua}");
        assert!(ua.contains(" Language/Rust_"), "{ua}");
        assert!(
            ua.ends_with(&format!(" OS/{}", std::env::consts::OS)),
            "{ua}"
        );
    }

    #[test]
    fn basic_auth_is_sensitive_and_correct() {
        let value = basic_auth(&Credentials::new("user", "pass")).unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(!format!("{value:?}").contains("dXNlcjpwYXNz"));
    }

    #[test]
    fn json_errors_never_quote_values() {
        let err = serde_json::from_str::<klarna_api::Order>(r#"{"order_id": 5}"#).unwrap_err();
        let text = describe_json_error(&err);
        assert!(text.starts_with("Data error at line 1"), "{text}");
        let err = serde_json::from_str::<klarna_api::Order>("{}").unwrap_err();
        assert_eq!(
            describe_json_error(&err),
            "missing field `order_id` at line 1 column 2"
        );
    }
}
