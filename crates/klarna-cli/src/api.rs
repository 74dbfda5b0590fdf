//! The API commands: one per operation of Klarna's API (API.md §0, CLI.md), with bodies parsed
//! into `klarna-api` models and validated locally before anything is sent.
//!
//! Tokens (authorization and customer tokens) are secrets in the URL path: an argument `-`
//! reads one from standard input, `@FILE` from a file (one trailing newline dropped), so it
//! stays out of `ps` and shell history. A mutating call's `Klarna-Idempotency-Key` is fixed
//! before sending (`--idempotency-key` or a fresh UUID v4) and named on exit 1 (in the JSON
//! object, `idempotency_key`) and exit 3 (a line on stderr), so the operator can repeat the
//! same operation with `--idempotency-key`.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use clap::Subcommand;
use klarna_api as wire;
use klarna_cli::validate::{self, ValidationError};
use klarna_gateway_http::{
    Credentials, Environment, IdempotencyKey, KlarnaClient, KlarnaError, Region, UuidKeys,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{EXIT_USAGE, Global, RegionArg};

/// Exit code: Klarna answered with an error.
const EXIT_KLARNA: u8 = 1;
/// Exit code: no answer could be had.
const EXIT_NO_ANSWER: u8 = 3;

/// Help of every authorization-token argument.
const AUTH_TOKEN_HELP: &str = "The authorization token. `-` reads it from standard input, `@FILE` \
     from a file (one trailing newline is dropped), so it stays out of `ps` and shell history";
/// Help of every customer-token argument.
const CUSTOMER_TOKEN_HELP: &str = "The customer token. `-` reads it from standard input, `@FILE` \
     from a file (one trailing newline is dropped), so it stays out of `ps` and shell history";

/// `klarna sessions …`
#[derive(Debug, Subcommand)]
pub(crate) enum Sessions {
    /// P1: create a payment session (POST /payments/v1/sessions).
    Create {
        /// JSON `session_create` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// P2: read a payment session.
    Get {
        /// The session id.
        session_id: String,
    },
    /// P3: update a payment session (partial; send the whole cart when it changes).
    Update {
        /// The session id.
        session_id: String,
        /// JSON `session` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
}

/// `klarna authorizations …`
#[derive(Debug, Subcommand)]
pub(crate) enum Authorizations {
    /// P4: cancel (release) an authorization.
    Cancel {
        /// The authorization token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = AUTH_TOKEN_HELP, value_name = "AUTH_TOKEN")]
        auth_token: String,
    },
    /// P5: create an order from an authorization.
    CreateOrder {
        /// The authorization token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = AUTH_TOKEN_HELP, value_name = "AUTH_TOKEN")]
        auth_token: String,
        /// JSON `create_order_request` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// P6: create a customer token from an authorization.
    CreateCustomerToken {
        /// The authorization token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = AUTH_TOKEN_HELP, value_name = "AUTH_TOKEN")]
        auth_token: String,
        /// JSON `customer_token_creation_request` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
}

/// `klarna customer-tokens …`
#[derive(Debug, Subcommand)]
pub(crate) enum CustomerTokens {
    /// T1: read a customer token.
    Get {
        /// The customer token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = CUSTOMER_TOKEN_HELP, value_name = "TOKEN")]
        token: String,
    },
    /// T2: charge a customer token (create an order).
    CreateOrder {
        /// The customer token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = CUSTOMER_TOKEN_HELP, value_name = "TOKEN")]
        token: String,
        /// JSON `customer_token_order` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// T3: cancel a customer token (irreversible).
    Cancel {
        /// The customer token, literally, `-` (standard input) or `@FILE`.
        #[arg(help = CUSTOMER_TOKEN_HELP, value_name = "TOKEN")]
        token: String,
    },
}

/// `klarna orders …`
#[derive(Debug, Subcommand)]
pub(crate) enum Orders {
    /// O1: read an order.
    Get {
        /// The order id.
        order_id: String,
    },
    /// O2: capture (prints `{"capture_id", "location"}`).
    Capture {
        /// The order id.
        order_id: String,
        /// JSON `CaptureObject` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// O3: list the captures of an order.
    ListCaptures {
        /// The order id.
        order_id: String,
    },
    /// O4: read one capture.
    GetCapture {
        /// The order id.
        order_id: String,
        /// The capture id.
        capture_id: String,
    },
    /// O5: refund (prints `{"refund_id", "location"}`).
    Refund {
        /// The order id.
        order_id: String,
        /// JSON `RefundObject` body; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// O6: read one refund.
    GetRefund {
        /// The order id.
        order_id: String,
        /// The refund id.
        refund_id: String,
    },
    /// O7: cancel an order with nothing captured.
    Cancel {
        /// The order id.
        order_id: String,
    },
    /// O8: release the remaining authorization after a partial capture.
    ReleaseRemainingAuthorization {
        /// The order id.
        order_id: String,
    },
    /// O9: extend the authorization time.
    ExtendAuthorizationTime {
        /// The order id.
        order_id: String,
    },
    /// O10: change the order amount and lines.
    UpdateAuthorization {
        /// The order id.
        order_id: String,
        /// JSON body `{order_amount, description?, order_lines?}`; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// O11: update merchant references.
    UpdateMerchantReferences {
        /// The order id.
        order_id: String,
        /// JSON body `{merchant_reference1?, merchant_reference2?}`; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// O12: update the shipping address.
    UpdateCustomerDetails {
        /// The order id.
        order_id: String,
        /// JSON body `{shipping_address}`; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
    /// O13: append shipping info to an order.
    AddShippingInfo {
        /// The order id.
        order_id: String,
        /// JSON body `{shipping_info: [...]}`; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: String,
    },
}

/// One API command of any group.
#[derive(Debug)]
pub(crate) enum ApiCommand {
    Sessions(Sessions),
    Authorizations(Authorizations),
    CustomerTokens(CustomerTokens),
    Orders(Orders),
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage or configuration: nothing sent.
    Usage(String),
    /// The body is invalid: nothing sent.
    Invalid(ValidationError),
    /// The client failed (Klarna refused, or no answer); with the `Klarna-Idempotency-Key` the
    /// call used, for a mutating call.
    Klarna(KlarnaError, Option<IdempotencyKey>),
}

impl From<ValidationError> for Failure {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e)
    }
}

impl From<KlarnaError> for Failure {
    fn from(e: KlarnaError) -> Self {
        match e {
            // Bad local input (an id, a key, the base URL): nothing was sent.
            KlarnaError::InvalidInput { field, reason } => {
                Self::Usage(format!("invalid {field}: {reason}"))
            }
            other => Self::Klarna(other, None),
        }
    }
}

/// Runs an API command and reports as CLI.md asks.
pub(crate) async fn run(global: &Global, command: ApiCommand) -> ExitCode {
    match execute(global, command).await {
        Ok(value) => print_json(&value),
        Err(failure) => report(&failure),
    }
}

pub(crate) fn print_json(value: &Value) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned());
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

pub(crate) fn report(failure: &Failure) -> ExitCode {
    match failure {
        Failure::Usage(message) => {
            eprintln!("klarna: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Failure::Invalid(e) => {
            eprintln!(
                "klarna: invalid body: {}: {} (nothing was sent)",
                e.field(),
                e.reason()
            );
            ExitCode::from(EXIT_USAGE)
        }
        Failure::Klarna(e, key) => klarna_failure(e, key.as_ref()),
    }
}

fn reached_text(e: &KlarnaError) -> &'static str {
    if e.may_have_reached_klarna() {
        "the request may have reached Klarna and may have taken effect: check before repeating it"
    } else {
        "the request did not reach Klarna: nothing happened there"
    }
}

fn klarna_failure(e: &KlarnaError, key: Option<&IdempotencyKey>) -> ExitCode {
    match e {
        KlarnaError::Api {
            status,
            error_code,
            error_messages,
            correlation_id,
            ..
        } if *status < 500 => {
            let mut body = json!({
                "http_status": status,
                "error_code": error_code,
                "error_messages": error_messages,
                "correlation_id": correlation_id,
            });
            // Still one JSON object: the key rides in it (repeat with `--idempotency-key`).
            if let (Some(key), Some(fields)) = (key, body.as_object_mut()) {
                fields.insert("idempotency_key".to_owned(), json!(key.as_str()));
            }
            eprintln!("{body}");
            ExitCode::from(EXIT_KLARNA)
        }
        // 5xx after the retries, transport failures, unreadable answers: no usable answer.
        other => {
            eprintln!("klarna: no answer: {other}; {}", reached_text(other));
            if let Some(key) = key {
                eprintln!(
                    "klarna: idempotency key: {key}; to repeat this same operation (not a new \
                     one), run the command again with --idempotency-key {key}",
                    key = key.as_str()
                );
            }
            ExitCode::from(EXIT_NO_ANSWER)
        }
    }
}

pub(crate) fn client(global: &Global) -> Result<KlarnaClient, Failure> {
    let (Some(username), Some(password)) = (
        std::env::var("KLARNA_USERNAME")
            .ok()
            .filter(|u| !u.is_empty()),
        std::env::var("KLARNA_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty()),
    ) else {
        return Err(Failure::Usage(
            "API commands need credentials: set KLARNA_USERNAME and KLARNA_PASSWORD".to_owned(),
        ));
    };
    let region = match global.region {
        RegionArg::Eu => Region::Eu,
        RegionArg::Na => Region::Na,
        RegionArg::Oc => Region::Oc,
    };
    let environment = if global.production {
        Environment::Production
    } else {
        Environment::Playground
    };
    let mut builder = KlarnaClient::builder(Credentials::new(username, password))
        .region(region)
        .environment(environment);
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url.clone());
    }
    Ok(builder.build()?)
}

/// Reads and parses a `--body` argument (`-` = standard input).
pub(crate) fn body<T: DeserializeOwned>(source: &str) -> Result<T, Failure> {
    let text = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read the body from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Failure::Usage(format!("cannot read --body {source}: {e}")))?
    };
    // The path names the field (`order_lines[0].quantity`) when a value has the wrong type.
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            Failure::Usage(format!("invalid body (nothing was sent): {inner}"))
        } else {
            Failure::Usage(format!("invalid body (nothing was sent): {path}: {inner}"))
        }
    })
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value)
        .map_err(|e| Failure::Usage(format!("cannot print the response: {e}")))
}

fn empty() -> Result<Value, Failure> {
    Ok(json!({}))
}

async fn execute(global: &Global, command: ApiCommand) -> Result<Value, Failure> {
    let given = global
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::new)
        .transpose()
        .map_err(|e| Failure::Usage(format!("invalid {e}")))?;
    // Parse and validate the body before credentials or network: invalid input never leaves.
    let prepared = prepare(command)?;
    let client = client(global)?;
    // A mutating call's key is fixed here (the given one or a fresh one), so that a failure
    // can name it and the operator can repeat the same operation with it.
    let key = prepared
        .is_mutating()
        .then(|| given.unwrap_or_else(UuidKeys::random_key));
    send(&client, prepared, key.clone())
        .await
        .map_err(|failure| match failure {
            Failure::Klarna(e, _) => Failure::Klarna(e, key),
            other => other,
        })
}

/// A command with its body parsed and validated.
enum Prepared {
    CreateSession(wire::SessionCreate),
    ReadSession(String),
    UpdateSession(String, wire::SessionUpdate),
    CancelAuthorization(String),
    CreateOrder(String, wire::CreateOrderRequest),
    CreateCustomerToken(String, wire::CustomerTokenCreationRequest),
    ReadToken(String),
    TokenOrder(String, wire::CustomerTokenOrder),
    CancelToken(String),
    GetOrder(String),
    Capture(String, wire::CaptureObject),
    ListCaptures(String),
    GetCapture(String, String),
    Refund(String, wire::RefundObject),
    GetRefund(String, String),
    CancelOrder(String),
    Release(String),
    Extend(String),
    UpdateAuthorization(String, wire::UpdateAuthorization),
    MerchantReferences(String, wire::UpdateMerchantReferences),
    CustomerDetails(String, wire::UpdateConsumer),
    ShippingInfo(String, wire::UpdateShippingInfo),
}

impl Prepared {
    /// Whether the call changes state at Klarna (and so carries `Klarna-Idempotency-Key`).
    fn is_mutating(&self) -> bool {
        !matches!(
            self,
            Self::ReadSession(_)
                | Self::ReadToken(_)
                | Self::GetOrder(_)
                | Self::ListCaptures(_)
                | Self::GetCapture(..)
                | Self::GetRefund(..)
        )
    }
}

/// Where a token argument comes from: `-` is standard input, `@FILE` a file, anything else the
/// token itself.
enum TokenSource {
    Stdin,
    File(String),
    Literal(String),
}

impl TokenSource {
    fn of(arg: String) -> Self {
        if arg == "-" {
            Self::Stdin
        } else if let Some(path) = arg.strip_prefix('@') {
            Self::File(path.to_owned())
        } else {
            Self::Literal(arg)
        }
    }
}

/// Drops one trailing newline (`\n` or `\r\n`), as `echo` and editors leave it.
fn trim_one_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Reads a token argument (`what` names it in messages, never its value). `body` is the
/// command's `--body`, if any: only one of them can read standard input.
fn token(arg: String, what: &str, body: Option<&str>) -> Result<String, Failure> {
    let text = match TokenSource::of(arg) {
        TokenSource::Literal(token) => return Ok(token),
        TokenSource::Stdin => {
            if body == Some("-") {
                return Err(Failure::Usage(format!(
                    "the {what} and --body cannot both be read from standard input (`-`): \
                     give one of them as @FILE / FILE"
                )));
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("cannot read the {what} from stdin: {e}")))?;
            text
        }
        TokenSource::File(path) => std::fs::read_to_string(&path)
            .map_err(|e| Failure::Usage(format!("cannot read the {what} from {path}: {e}")))?,
    };
    let token = trim_one_newline(text);
    if token.is_empty() {
        return Err(Failure::Usage(format!("the {what} is empty")));
    }
    Ok(token)
}

const AUTH: &str = "authorization token";
const CUSTOMER: &str = "customer token";

fn checked<T>(
    source: &str,
    check: impl FnOnce(&T) -> Result<(), ValidationError>,
) -> Result<T, Failure>
where
    T: DeserializeOwned,
{
    let parsed: T = body(source)?;
    check(&parsed)?;
    Ok(parsed)
}

fn prepare(command: ApiCommand) -> Result<Prepared, Failure> {
    use Prepared as P;
    Ok(match command {
        ApiCommand::Sessions(c) => match c {
            Sessions::Create { body } => {
                P::CreateSession(checked(&body, validate::session_create)?)
            }
            Sessions::Get { session_id } => P::ReadSession(session_id),
            Sessions::Update { session_id, body } => {
                P::UpdateSession(session_id, checked(&body, validate::session_update)?)
            }
        },
        ApiCommand::Authorizations(c) => match c {
            Authorizations::Cancel { auth_token } => {
                P::CancelAuthorization(token(auth_token, AUTH, None)?)
            }
            Authorizations::CreateOrder { auth_token, body } => {
                let auth_token = token(auth_token, AUTH, Some(&body))?;
                P::CreateOrder(auth_token, checked(&body, validate::create_order)?)
            }
            Authorizations::CreateCustomerToken { auth_token, body } => {
                let auth_token = token(auth_token, AUTH, Some(&body))?;
                P::CreateCustomerToken(
                    auth_token,
                    checked(&body, validate::customer_token_creation)?,
                )
            }
        },
        ApiCommand::CustomerTokens(c) => match c {
            CustomerTokens::Get { token: t } => P::ReadToken(token(t, CUSTOMER, None)?),
            CustomerTokens::CreateOrder { token: t, body } => {
                let t = token(t, CUSTOMER, Some(&body))?;
                P::TokenOrder(t, checked(&body, validate::token_order)?)
            }
            CustomerTokens::Cancel { token: t } => P::CancelToken(token(t, CUSTOMER, None)?),
        },
        ApiCommand::Orders(c) => match c {
            Orders::Get { order_id } => P::GetOrder(order_id),
            Orders::Capture { order_id, body } => {
                P::Capture(order_id, checked(&body, validate::capture)?)
            }
            Orders::ListCaptures { order_id } => P::ListCaptures(order_id),
            Orders::GetCapture {
                order_id,
                capture_id,
            } => P::GetCapture(order_id, capture_id),
            Orders::Refund { order_id, body } => {
                P::Refund(order_id, checked(&body, validate::refund)?)
            }
            Orders::GetRefund {
                order_id,
                refund_id,
            } => P::GetRefund(order_id, refund_id),
            Orders::Cancel { order_id } => P::CancelOrder(order_id),
            Orders::ReleaseRemainingAuthorization { order_id } => P::Release(order_id),
            Orders::ExtendAuthorizationTime { order_id } => P::Extend(order_id),
            Orders::UpdateAuthorization { order_id, body } => {
                P::UpdateAuthorization(order_id, checked(&body, validate::update_authorization)?)
            }
            Orders::UpdateMerchantReferences { order_id, body } => {
                P::MerchantReferences(order_id, checked(&body, validate::merchant_references)?)
            }
            Orders::UpdateCustomerDetails { order_id, body } => {
                P::CustomerDetails(order_id, checked(&body, validate::customer_details)?)
            }
            Orders::AddShippingInfo { order_id, body } => {
                P::ShippingInfo(order_id, checked(&body, validate::shipping_info_update)?)
            }
        },
    })
}

async fn send(
    client: &KlarnaClient,
    prepared: Prepared,
    key: Option<IdempotencyKey>,
) -> Result<Value, Failure> {
    use Prepared as P;
    match prepared {
        P::CreateSession(b) => to_json(&client.create_session(&b, key).await?.body),
        P::ReadSession(id) => to_json(&client.read_session(&id).await?.body),
        P::UpdateSession(id, b) => {
            client.update_session(&id, &b, key).await?;
            empty()
        }
        P::CancelAuthorization(t) => {
            client.cancel_authorization(&t, key).await?;
            empty()
        }
        P::CreateOrder(t, b) => to_json(&client.create_order(&t, &b, key).await?.body),
        P::CreateCustomerToken(t, b) => {
            to_json(&client.create_customer_token(&t, &b, key).await?.body)
        }
        P::ReadToken(t) => to_json(&client.read_customer_token(&t).await?.body),
        P::TokenOrder(t, b) => to_json(&client.create_token_order(&t, &b, key).await?.body),
        P::CancelToken(t) => {
            client.cancel_customer_token(&t, key).await?;
            empty()
        }
        P::GetOrder(id) => to_json(&client.get_order(&id).await?.body),
        P::Capture(id, b) => to_json(&client.capture_order(&id, &b, key).await?.body),
        P::ListCaptures(id) => to_json(&client.list_captures(&id).await?.body),
        P::GetCapture(id, c) => to_json(&client.get_capture(&id, &c).await?.body),
        P::Refund(id, b) => to_json(&client.refund_order(&id, &b, key).await?.body),
        P::GetRefund(id, r) => to_json(&client.get_refund(&id, &r).await?.body),
        P::CancelOrder(id) => {
            client.cancel_order(&id, key).await?;
            empty()
        }
        P::Release(id) => {
            client.release_remaining_authorization(&id, key).await?;
            empty()
        }
        P::Extend(id) => {
            client.extend_authorization_time(&id, key).await?;
            empty()
        }
        P::UpdateAuthorization(id, b) => {
            client.update_authorization(&id, &b, key).await?;
            empty()
        }
        P::MerchantReferences(id, b) => {
            client.update_merchant_references(&id, &b, key).await?;
            empty()
        }
        P::CustomerDetails(id, b) => {
            client.update_customer_details(&id, &b, key).await?;
            empty()
        }
        P::ShippingInfo(id, b) => {
            client.add_shipping_info(&id, &b, key).await?;
            empty()
        }
    }
}
