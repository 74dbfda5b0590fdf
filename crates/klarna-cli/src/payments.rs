//! `klarna payments …`: the operator's commands over the payment store (`KLARNA_STORE_URL`): list, show, reconcile, resolve a review.
//!
//! The service is wired by `KlarnaBuilder::from_env` (store URL and key, credentials, region)
//! with the global options on top. Output is one JSON object on stdout; a failure is one JSON
//! object on stderr (`{"error": KIND, "message": …}` plus the fields of the kind). Exit codes:
//! `0` done; `1` Klarna refused (an unknown order); `2` invalid usage, or the service refused
//! (unknown payment, wrong stage, an order that does not fit): nothing was written; `3` no
//! answer could be had from Klarna or the store. Nothing printed is a secret: authorization,
//! client and customer tokens are never shown (`has_customer_token` says whether one exists).

use std::process::ExitCode;

use clap::Subcommand;
use klarna_payments::domain::Tokenization;
use klarna_payments::domain::snapshot::StageSnapshot;
use klarna_payments::{
    AnyPayment, GatewayError, Klarna, KlarnaBuilder, OrderId, PaymentId, Region, ServiceError,
    StageKind,
};
use serde_json::{Map, Value, json};

use crate::{EXIT_USAGE, Global, RegionArg};

/// Exit code: Klarna answered with an error.
const EXIT_KLARNA: u8 = 1;
/// Exit code: no answer could be had (Klarna or the store).
const EXIT_NO_ANSWER: u8 = 3;

/// `klarna payments …`
#[derive(Debug, Subcommand)]
pub(crate) enum Payments {
    /// Payments in the store, newest first (`--review`: only those in review, however old;
    /// `--stage STAGE`: only those in that stage, e.g. `stopped`).
    List {
        /// Only the payments in review (`needs_review`): a human must decide them.
        #[arg(long, conflicts_with = "stage")]
        review: bool,
        /// Only the payments in this stage (`open`, `authorized`, `order_pending`,
        /// `token_pending`, `fraud_review`, `ordered`, `stopped`, `tokenized`, `cancelled`,
        /// `expired`, `refused`, `needs_review`), however old.
        #[arg(long, value_name = "STAGE", value_parser = parse_stage)]
        stage: Option<StageKind>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
    },
    /// One payment: stage, Klarna ids, pending operation, review evidence, its order.
    Show {
        /// Our payment id (Klarna's `merchant_reference1`).
        payment_id: String,
    },
    /// One reconciler pass over the store: resolves in-doubt operations from evidence.
    Reconcile,
    /// Settles a payment in review: `--order ORDER_ID` (checked with Order Management: its
    /// merchant_reference1 must be the payment id and its amount the payment's total) or
    /// `--no-order` (you made sure that Klarna holds no order for it).
    Resolve {
        /// The payment in review.
        payment_id: String,
        /// Klarna's order for this payment (find it in the Merchant Portal by
        /// merchant_reference1 = the payment id).
        #[arg(long, value_name = "ORDER_ID", required_unless_present = "no_order")]
        order: Option<String>,
        /// No order exists at Klarna: the payment ends cancelled, without an order.
        #[arg(long, conflicts_with = "order")]
        no_order: bool,
        /// Why (with `--no-order`; logged with the payment id).
        #[arg(long, value_name = "TEXT", requires = "no_order")]
        reason: Option<String>,
    },
}

/// Parses a stage name as `klarna payments list --stage` takes it.
fn parse_stage(s: &str) -> Result<StageKind, String> {
    StageKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = StageKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown stage `{s}`; one of {}", names.join(", "))
    })
}

/// A failure, as printed.
struct Failure {
    code: u8,
    body: Map<String, Value>,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("error".to_owned(), json!("usage"));
        body.insert("message".to_owned(), json!(message.into()));
        Self {
            code: EXIT_USAGE,
            body,
        }
    }
}

/// Runs a `klarna payments` command.
pub(crate) async fn run(global: &Global, command: Payments) -> ExitCode {
    match execute(global, command).await {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("{}", Value::Object(f.body));
            ExitCode::from(f.code)
        }
    }
}

async fn execute(global: &Global, command: Payments) -> Result<Value, Failure> {
    // Ids are checked before anything is opened.
    let ids = match &command {
        Payments::Show { payment_id } | Payments::Resolve { payment_id, .. } => {
            Some(PaymentId::new(payment_id.clone()).map_err(|e| Failure::usage(e.to_string()))?)
        }
        Payments::List { .. } | Payments::Reconcile => None,
    };
    let klarna = service(global).await?;
    match (command, ids) {
        (
            Payments::List {
                review,
                stage,
                limit,
            },
            _,
        ) => {
            let payments = match (review, stage) {
                (true, _) => klarna.payments_in_review(limit).await,
                (false, Some(stage)) => klarna.payments_in_stage(stage, limit).await,
                (false, None) => klarna.payments(limit).await,
            }
            .map_err(|e| failure(&e))?;
            Ok(json!({"payments": payments.iter().map(payment_json).collect::<Vec<_>>()}))
        }
        (Payments::Show { .. }, Some(id)) => {
            let p = klarna.payment(&id).await.map_err(|e| failure(&e))?;
            let mut v = payment_json(&p);
            if let Some(order) = p.order_id() {
                let o = klarna.order(order).await.map_err(|e| failure(&e))?;
                v.insert(
                    "order".to_owned(),
                    json!({
                        "order_id": o.order_id().as_str(),
                        "status": o.status().as_str(),
                        "order_amount": o.order_amount(),
                        "captured": o.captured(),
                        "refunded": o.refunded(),
                        "pending": o.pending().map(|p| p.operation.name()),
                    }),
                );
            }
            Ok(Value::Object(v))
        }
        (Payments::Reconcile, _) => {
            let r = klarna.reconcile_all().await.map_err(|e| failure(&e))?;
            Ok(json!({
                "examined": r.examined,
                "resolved": r.resolved,
                "still_pending": r.still_pending,
                "needs_review": r.needs_review,
                "too_young": r.too_young,
            }))
        }
        (
            Payments::Resolve {
                order,
                no_order,
                reason,
                ..
            },
            Some(id),
        ) => {
            let resolved = match (order, no_order) {
                (Some(order), false) => {
                    let order = OrderId::new(order).map_err(|e| Failure::usage(e.to_string()))?;
                    klarna.resolve_with_order(&id, &order).await
                }
                (None, true) => {
                    let reason = reason.unwrap_or_else(|| "resolved by an operator".to_owned());
                    klarna.resolve_no_order(&id, &reason).await
                }
                (Some(_), true) | (None, false) => {
                    return Err(Failure::usage("give exactly one of --order and --no-order"));
                }
            }
            .map_err(|e| failure(&e))?;
            Ok(Value::Object(payment_json(&resolved)))
        }
        (Payments::Show { .. } | Payments::Resolve { .. }, None) => {
            Err(Failure::usage("a payment id is required"))
        }
    }
}

/// The service over the store and Klarna named by the environment and the global options.
async fn service(global: &Global) -> Result<Klarna, Failure> {
    let mut builder = KlarnaBuilder::new()
        .from_env()
        .map_err(|e| Failure::usage(e.to_string()))?;
    builder = match &global.base_url {
        Some(url) => builder.base_url(url.clone()),
        None => builder
            .region(match global.region {
                RegionArg::Eu => Region::Eu,
                RegionArg::Na => Region::Na,
                RegionArg::Oc => Region::Oc,
            })
            .production(global.production),
    };
    builder.build().await.map_err(|e| {
        // The chain, never the URL or key themselves (BuildError names settings only).
        let mut f = Failure::usage(chain(&e));
        if matches!(e, klarna_payments::BuildError::Store(_)) {
            f.code = EXIT_NO_ANSWER;
            f.body.insert("error".to_owned(), json!("store"));
        }
        f
    })
}

/// Every layer's message, outermost first, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

fn gateway_fields(body: &mut Map<String, Value>, g: &GatewayError) {
    body.insert("http_status".to_owned(), json!(g.status));
    body.insert("error_code".to_owned(), json!(g.code));
    body.insert("correlation_id".to_owned(), json!(g.correlation_id));
    body.insert(
        "may_have_reached_klarna".to_owned(),
        json!(g.may_have_reached_klarna),
    );
}

/// A service error as printed: its kind, its message chain, the fields of its kind.
fn failure(e: &ServiceError) -> Failure {
    let mut body = Map::new();
    body.insert("message".to_owned(), json!(chain(e)));
    let (kind, code) = match e {
        ServiceError::OrderMismatch {
            payment_id,
            mismatch,
        } => {
            body.insert("payment_id".to_owned(), json!(payment_id.as_str()));
            body.insert("order_id".to_owned(), json!(mismatch.order_id.as_str()));
            body.insert("field".to_owned(), json!(mismatch.field));
            body.insert("ours".to_owned(), json!(mismatch.ours));
            body.insert("klarna".to_owned(), json!(mismatch.klarna));
            ("order_mismatch", EXIT_USAGE)
        }
        ServiceError::WrongStage {
            payment_id, stage, ..
        } => {
            body.insert("payment_id".to_owned(), json!(payment_id.as_str()));
            body.insert("stage".to_owned(), json!(stage.as_str()));
            ("wrong_stage", EXIT_USAGE)
        }
        ServiceError::NotFound(_) => ("not_found", EXIT_USAGE),
        ServiceError::Lifecycle(_) => ("lifecycle", EXIT_USAGE),
        ServiceError::InProgress(_) => ("in_progress", EXIT_USAGE),
        ServiceError::Refused(g) => {
            gateway_fields(&mut body, g);
            ("klarna_refused", EXIT_KLARNA)
        }
        ServiceError::Unavailable(g) | ServiceError::OutcomeUnknown { source: g, .. } => {
            gateway_fields(&mut body, g);
            ("no_answer", EXIT_NO_ANSWER)
        }
        ServiceError::Queued { source: g, .. } => {
            gateway_fields(&mut body, g);
            ("queued", EXIT_NO_ANSWER)
        }
        ServiceError::Store(_) | ServiceError::Contended(_) | ServiceError::NotRecorded { .. } => {
            ("store", EXIT_NO_ANSWER)
        }
        _ => ("service", EXIT_KLARNA),
    };
    body.insert("error".to_owned(), json!(kind));
    Failure { code, body }
}

/// What an operator sees of a payment: ids, stage, amounts, the pending operation and the
/// review's evidence; never a token.
fn payment_json(p: &AnyPayment) -> Map<String, Value> {
    let total = p.cart().total();
    let mut v = Map::new();
    let mut put = |k: &str, value: Value| {
        v.insert(k.to_owned(), value);
    };
    put("payment_id", json!(p.id().as_str()));
    put("stage", json!(p.kind().as_str()));
    put("intent", json!(p.intent().as_str()));
    put("amount", json!(total.minor()));
    put("currency", json!(total.currency().code()));
    put("created_at", json!(timestamp(p.created_at())));
    put("session_id", json!(p.session_id().map(|s| s.as_str())));
    put("order_id", json!(p.order_id().map(OrderId::as_str)));
    put("has_customer_token", json!(p.customer_token().is_some()));
    put(
        "pending",
        json!(p.pending_op().map(|op| json!({
            "idempotency_key": op.key().as_str(),
            "attempts": op.attempts(),
            "in_doubt": op.in_doubt(),
            "started_at": timestamp(op.started_at()),
        }))),
    );
    match p {
        AnyPayment::NeedsReview(r) => {
            let at = match p.snapshot().stage {
                StageSnapshot::NeedsReview { at, .. } => Some(timestamp(at)),
                _ => None,
            };
            put(
                "review",
                json!({
                    "reason": r.reason(),
                    "idempotency_key": r.key().map(|k| k.as_str()),
                    "at": at,
                }),
            );
        }
        AnyPayment::Ordered(o) => {
            put("fraud_status", json!(o.order().fraud_status().as_str()));
            put("token_step", json!(token_step(o.tokenization())));
        }
        AnyPayment::FraudReview(o) => {
            put("fraud_status", json!(o.order().fraud_status().as_str()));
        }
        AnyPayment::Stopped(s) => {
            put("fraud_status", json!(s.order().fraud_status().as_str()));
            put("token_step", json!(token_step(s.tokenization())));
            put(
                "stopped",
                json!({
                    "at": timestamp(s.stopped_at()),
                    "reply_by": timestamp(s.reply_by()),
                    "action": "do not ship; cancel the order or reply to Klarna before reply_by",
                }),
            );
        }
        AnyPayment::Cancelled(c) => {
            put("cancel_reason", json!(format!("{:?}", c.reason())));
        }
        AnyPayment::Refused(r) => put("refusal", json!(r.code())),
        AnyPayment::Open(_)
        | AnyPayment::Authorized(_)
        | AnyPayment::OrderPending(_)
        | AnyPayment::TokenPending(_)
        | AnyPayment::Tokenized(_)
        | AnyPayment::Expired(_) => {}
    }
    v
}

fn token_step(t: &Tokenization) -> Value {
    match t {
        Tokenization::NotRequested => json!("not_requested"),
        Tokenization::Due(_) => json!("due"),
        Tokenization::Pending(..) => json!("pending"),
        Tokenization::Done(_) => json!("done"),
        Tokenization::Refused(why) => json!({"refused": why}),
    }
}

/// RFC 3339 (UTC), or the milliseconds when out of range.
fn timestamp(t: klarna_payments::domain::Timestamp) -> Value {
    let ms = i128::from(t.unix_millis());
    time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or_else(|| json!(ms), Value::String)
}
