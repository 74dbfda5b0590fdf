//! `klarna hpp …`: Hosted Payment Page sessions (`docs/klarna/hpp.md`), for payment links by
//! e-mail or SMS, telesales and kiosks.
//!
//! * `create --session KP_SESSION_ID [--success URL] [--cancel URL] [--back URL] [--failure URL]
//!   [--error URL] [--status-update URL] [--place-order-mode none|place-order|capture-order]
//!   [--page-title TEXT]`, or `create --body FILE` (a `SessionCreationRequestV1`): prints H1's
//!   answer (`session_id`, `redirect_url`, …). `--session` builds `payment_session_url` from the
//!   base URL (`KlarnaClient::payment_session_url`);
//! * `get HPP_ID` (H2), `disable HPP_ID` (H3, prints `{}`);
//! * `distribute HPP_ID --email ADDRESS | --sms PHONE --phone-country CC` (H4, prints `{}`).
//!
//! Everything is checked before anything is sent (exit 2 naming the field: a `payment_session_url`
//! that is not a KP session's, a merchant URL that is not https, a distribution without its
//! contact field); exit codes and error output as every API command (`api.rs`).

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use klarna_api::hpp::{
    DistributionRequest, MerchantUrls, Options, PlaceOrderMode, SessionCreationRequest,
};
use klarna_gateway_http::{IdempotencyKey, KlarnaClient, UuidKeys, hpp as checks};
use serde_json::{Value, json};

use crate::Global;
use crate::api::{self, Failure};

/// `--place-order-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// Klarna only authorizes; place the order yourself with the authorization token.
    None,
    /// Klarna places the order.
    PlaceOrder,
    /// Klarna places the order and captures it.
    CaptureOrder,
}

/// `klarna hpp …`
#[derive(Debug, Subcommand)]
pub(crate) enum Hpp {
    /// H1: create an HPP session for a KP session (POST /hpp/v1/sessions).
    Create {
        /// The KP session (from `klarna sessions create`); its URL is built from the base URL.
        #[arg(long, value_name = "KP_SESSION_ID", required_unless_present = "body")]
        session: Option<String>,
        /// Where the shopper goes after paying; `{{session_id}}` and `{{authorization_token}}`
        /// are filled in by Klarna.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        success: Option<String>,
        /// Where the shopper goes after cancelling.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        cancel: Option<String>,
        /// Where the shopper goes after pressing Back.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        back: Option<String>,
        /// Where the shopper goes after a decline.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        failure: Option<String>,
        /// Where the shopper goes after a system error.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        error: Option<String>,
        /// Klarna POSTs every status change here.
        #[arg(long, value_name = "URL", conflicts_with = "body")]
        status_update: Option<String>,
        /// Who places the order (Klarna's default is undocumented: give it).
        #[arg(long, value_enum, value_name = "MODE", conflicts_with = "body")]
        place_order_mode: Option<ModeArg>,
        /// Title of the page.
        #[arg(long, value_name = "TEXT", conflicts_with = "body")]
        page_title: Option<String>,
        /// A whole `SessionCreationRequestV1` JSON body instead; `-` reads standard input.
        #[arg(long, value_name = "FILE", conflicts_with = "session")]
        body: Option<String>,
    },
    /// H2: read an HPP session (status; token or order id once COMPLETED).
    Get {
        /// The HPP session id.
        hpp_id: String,
    },
    /// H3: disable an HPP session (the KP session is untouched).
    Disable {
        /// The HPP session id.
        hpp_id: String,
    },
    /// H4: send the shopper the link by e-mail or SMS.
    Distribute {
        /// The HPP session id.
        hpp_id: String,
        /// E-mail the link to this address.
        #[arg(
            long,
            value_name = "ADDRESS",
            required_unless_present = "sms",
            conflicts_with = "sms"
        )]
        email: Option<String>,
        /// Text the link to this phone number (with --phone-country).
        #[arg(long, value_name = "PHONE", requires = "phone_country")]
        sms: Option<String>,
        /// ISO 3166 alpha-2 country of the phone number, e.g. SE.
        #[arg(long, value_name = "CC", requires = "sms")]
        phone_country: Option<String>,
    },
}

/// A command with its input checked.
enum Prepared {
    Create(Box<SessionCreationRequest>),
    Get(String),
    Disable(String),
    Distribute(String, DistributionRequest),
}

/// Runs a `klarna hpp` command and reports as every API command does.
pub(crate) async fn run(global: &Global, command: Hpp) -> ExitCode {
    match execute(global, command).await {
        Ok(value) => api::print_json(&value),
        Err(failure) => api::report(&failure),
    }
}

fn prepare(client: &KlarnaClient, command: Hpp) -> Result<Prepared, Failure> {
    Ok(match command {
        Hpp::Create {
            session,
            success,
            cancel,
            back,
            failure,
            error,
            status_update,
            place_order_mode,
            page_title,
            body,
        } => {
            let request = match (body, session) {
                (Some(source), _) => api::body::<SessionCreationRequest>(&source)?,
                (None, Some(kp)) => {
                    let urls = MerchantUrls {
                        success,
                        cancel,
                        back,
                        failure,
                        error,
                        status_update,
                    };
                    let mode = place_order_mode.map(|m| match m {
                        ModeArg::None => PlaceOrderMode::None,
                        ModeArg::PlaceOrder => PlaceOrderMode::PlaceOrder,
                        ModeArg::CaptureOrder => PlaceOrderMode::CaptureOrder,
                    });
                    let options = (mode.is_some() || page_title.is_some()).then(|| Options {
                        place_order_mode: mode,
                        page_title,
                        ..Options::default()
                    });
                    SessionCreationRequest {
                        payment_session_url: client.payment_session_url(&kp)?,
                        merchant_urls: (urls != MerchantUrls::default()).then_some(urls),
                        options,
                        profile_id: None,
                    }
                }
                (None, None) => {
                    return Err(Failure::Usage(
                        "hpp create needs --session KP_SESSION_ID or --body FILE".to_owned(),
                    ));
                }
            };
            checks::validate_session_request(&request)?;
            Prepared::Create(Box::new(request))
        }
        Hpp::Get { hpp_id } => Prepared::Get(hpp_id),
        Hpp::Disable { hpp_id } => Prepared::Disable(hpp_id),
        Hpp::Distribute {
            hpp_id,
            email,
            sms,
            phone_country,
        } => {
            let request = match (email, sms) {
                (Some(address), _) => DistributionRequest::email(address),
                (None, Some(phone)) => {
                    DistributionRequest::sms(phone, phone_country.unwrap_or_default())
                }
                (None, None) => {
                    return Err(Failure::Usage(
                        "hpp distribute needs --email ADDRESS or --sms PHONE --phone-country CC"
                            .to_owned(),
                    ));
                }
            };
            checks::validate_distribution(&request)?;
            Prepared::Distribute(hpp_id, request)
        }
    })
}

async fn execute(global: &Global, command: Hpp) -> Result<Value, Failure> {
    let given = global
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::new)
        .transpose()
        .map_err(|e| Failure::Usage(format!("invalid {e}")))?;
    let client = api::client(global)?;
    // Checked before anything is sent: a bad field is exit 2, naming it.
    let prepared = prepare(&client, command)?;
    let key =
        (!matches!(prepared, Prepared::Get(_))).then(|| given.unwrap_or_else(UuidKeys::random_key));
    // A refusal or a lost answer names the key (repeat with --idempotency-key); bad local
    // input (an empty id) stays a usage error.
    let with_key = |e: klarna_gateway_http::KlarnaError| match Failure::from(e) {
        Failure::Klarna(e, _) => Failure::Klarna(e, key.clone()),
        other => other,
    };
    match prepared {
        Prepared::Create(body) => api::to_json(
            &client
                .create_hpp_session(&body, key.clone())
                .await
                .map_err(with_key)?
                .body,
        ),
        Prepared::Get(id) => api::to_json(&client.read_hpp_session(&id).await?.body),
        Prepared::Disable(id) => {
            client
                .disable_hpp_session(&id, key.clone())
                .await
                .map_err(with_key)?;
            Ok(json!({}))
        }
        Prepared::Distribute(id, body) => {
            client
                .distribute_hpp_session(&id, &body, key.clone())
                .await
                .map_err(with_key)?;
            Ok(json!({}))
        }
    }
}
