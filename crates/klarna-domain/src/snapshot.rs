//! Snapshots: the plain-data storage form of a payment, rebuilt through the public constructors.
//!
//! Store adapters persist a [`PaymentSnapshot`] (with the `serde` feature, as JSON) and load it
//! back with [`PaymentSnapshot::restore`], which re-validates everything: a corrupted row is
//! an error, never a panic and never an invalid value.

use std::fmt;

use crate::cart::{Cart, CartError, CartFingerprint, LineInput};
use crate::ids::{
    AuthorizationToken, ClientToken, CustomerTokenId, HostedPageId, IdError, IdempotencyKey,
    OrderId, PaymentId, SessionId,
};
use crate::market::{Market, MarketError};
use crate::merchant::{MerchantData, MerchantDataError, MerchantDataParts};
use crate::payment::{
    AnyPayment, Authorization, Authorized, CancelReason, Cancelled, Expired, FraudReview,
    FraudStatus, Intent, NeedsReview, Open, OrderPending, OrderSource, Ordered, Payment, PendingOp,
    PlacedOrder, Refused, Session, Stage, Stopped, TokenPending, Tokenization, Tokenized,
};
use crate::time::Timestamp;

/// Secret text inside a snapshot: redacted in `Debug`, plain in serde (encrypt or hash it in
/// the store where it must not be readable from a dump).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A stored session.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionSnapshot {
    /// Session id.
    pub id: String,
    /// Client token.
    pub client_token: SecretText,
    /// Expiry.
    pub expires_at: Timestamp,
    /// The payment link serving the session (absent in payments stored before links).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub hosted_page: Option<String>,
}

/// A stored authorization.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuthorizationSnapshot {
    /// The token.
    pub token: SecretText,
    /// Fingerprint of the authorized cart.
    pub fingerprint: u64,
    /// When authorized.
    pub authorized_at: Timestamp,
}

/// A stored pending operation.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OpSnapshot {
    /// Idempotency key.
    pub key: String,
    /// Attempts.
    pub attempts: u32,
    /// Whether an attempt is in doubt.
    pub in_doubt: bool,
    /// Start.
    pub started_at: Timestamp,
    /// Until when the caller's call may run (absent in rows written before it existed: the
    /// start).
    #[cfg_attr(feature = "serde", serde(default))]
    pub fence: Option<Timestamp>,
    /// Fingerprint of the request's configured parts as first sent (absent in older rows).
    #[cfg_attr(feature = "serde", serde(default))]
    pub request: Option<u64>,
}

/// A stored order reference.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OrderSnapshot {
    /// Klarna's order id.
    pub order_id: String,
    /// Fraud status.
    pub fraud_status: FraudStatus,
    /// When placed.
    pub placed_at: Timestamp,
}

/// Where a pending order comes from.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SourceSnapshot {
    /// A session's authorization.
    Authorization {
        /// Session.
        session: SessionSnapshot,
        /// Authorization.
        authorization: AuthorizationSnapshot,
    },
    /// A customer token.
    CustomerToken(SecretText),
}

/// The token step of an ordered payment.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TokenizationSnapshot {
    /// None asked.
    NotRequested,
    /// Due.
    Due(AuthorizationSnapshot),
    /// In flight.
    Pending(AuthorizationSnapshot, OpSnapshot),
    /// Done.
    Done(SecretText),
    /// Refused with this code.
    Refused(String),
}

/// The stage part of a snapshot.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(
    missing_docs,
    reason = "variant fields mirror the stage types, documented there"
)]
pub enum StageSnapshot {
    Open {
        session: SessionSnapshot,
    },
    Authorized {
        session: SessionSnapshot,
        authorization: AuthorizationSnapshot,
        /// Absent in rows written before `buy_and_tokenize` made its token first.
        #[cfg_attr(feature = "serde", serde(default))]
        customer_token: Option<SecretText>,
    },
    OrderPending {
        source: SourceSnapshot,
        op: OpSnapshot,
        /// Absent in rows written before `buy_and_tokenize` made its token first.
        #[cfg_attr(feature = "serde", serde(default))]
        customer_token: Option<SecretText>,
    },
    TokenPending {
        session: SessionSnapshot,
        authorization: AuthorizationSnapshot,
        op: OpSnapshot,
    },
    FraudReview {
        order: OrderSnapshot,
        tokenization: TokenizationSnapshot,
    },
    Ordered {
        order: OrderSnapshot,
        tokenization: TokenizationSnapshot,
    },
    /// Added with stopped orders: rows written before never hold it, so they load unchanged.
    Stopped {
        order: OrderSnapshot,
        tokenization: TokenizationSnapshot,
        stopped_at: Timestamp,
    },
    Tokenized {
        customer_token: SecretText,
        at: Timestamp,
    },
    Cancelled {
        reason: CancelReason,
        order_id: Option<String>,
        at: Timestamp,
    },
    Expired {
        at: Timestamp,
        /// Absent in rows written before an expired `buy_and_tokenize` kept its token.
        #[cfg_attr(feature = "serde", serde(default))]
        customer_token: Option<SecretText>,
    },
    Refused {
        code: String,
        at: Timestamp,
        /// Absent in rows written before `buy_and_tokenize` made its token first.
        #[cfg_attr(feature = "serde", serde(default))]
        customer_token: Option<SecretText>,
    },
    NeedsReview {
        reason: String,
        key: Option<String>,
        at: Timestamp,
        /// Absent in rows written before `buy_and_tokenize` made its token first.
        #[cfg_attr(feature = "serde", serde(default))]
        customer_token: Option<SecretText>,
    },
}

/// The storage form of a payment.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PaymentSnapshot {
    /// Our id.
    pub id: String,
    /// Intent.
    pub intent: Intent,
    /// Purchase country code.
    pub country: String,
    /// Currency code.
    pub currency: String,
    /// Locale.
    pub locale: String,
    /// Order lines.
    pub lines: Vec<LineInput>,
    /// Declared order amount.
    pub order_amount: i64,
    /// Declared order tax.
    pub order_tax_amount: i64,
    /// Creation.
    pub created_at: Timestamp,
    /// Operations begun (the next idempotency key's sequence number).
    pub op_seq: u32,
    /// The shop's merchant data (absent when there is none, and in rows written before it
    /// existed). Holds personal data: the SQL store encrypts the whole snapshot.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub merchant: Option<MerchantDataParts>,
    /// Stage.
    pub stage: StageSnapshot,
}

/// A snapshot that does not rebuild into a valid payment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// An id or token is invalid.
    #[error("stored payment has an invalid id")]
    Id(#[from] IdError),
    /// The market is invalid.
    #[error("stored payment has an invalid market")]
    Market(#[from] MarketError),
    /// The cart is invalid.
    #[error("stored payment has an invalid cart")]
    Cart(#[from] CartError),
    /// The merchant data is invalid.
    #[error("stored payment has invalid merchant data")]
    Merchant(#[from] MerchantDataError),
}

fn session_snap(s: &Session) -> SessionSnapshot {
    SessionSnapshot {
        id: s.id().to_string(),
        client_token: SecretText(s.client_token().expose_secret().to_owned()),
        expires_at: s.expires_at(),
        hosted_page: s.hosted_page().map(ToString::to_string),
    }
}
fn auth_snap(a: &Authorization) -> AuthorizationSnapshot {
    AuthorizationSnapshot {
        token: SecretText(a.token().expose_secret().to_owned()),
        fingerprint: a.fingerprint().value(),
        authorized_at: a.authorized_at(),
    }
}
fn secret(t: &CustomerTokenId) -> SecretText {
    SecretText(t.expose_secret().to_owned())
}
fn op_snap(o: &PendingOp) -> OpSnapshot {
    OpSnapshot {
        key: o.key().to_string(),
        attempts: o.attempts(),
        in_doubt: o.in_doubt(),
        started_at: o.started_at(),
        fence: Some(o.fence()),
        request: o.request(),
    }
}
fn order_snap(o: &PlacedOrder) -> OrderSnapshot {
    OrderSnapshot {
        order_id: o.order_id().to_string(),
        fraud_status: o.fraud_status(),
        placed_at: o.placed_at(),
    }
}
fn tok_snap(t: &Tokenization) -> TokenizationSnapshot {
    match t {
        Tokenization::NotRequested => TokenizationSnapshot::NotRequested,
        Tokenization::Due(a) => TokenizationSnapshot::Due(auth_snap(a)),
        Tokenization::Pending(a, o) => TokenizationSnapshot::Pending(auth_snap(a), op_snap(o)),
        Tokenization::Done(c) => {
            TokenizationSnapshot::Done(SecretText(c.expose_secret().to_owned()))
        }
        Tokenization::Refused(code) => TokenizationSnapshot::Refused(code.clone()),
    }
}

fn session(s: SessionSnapshot) -> Result<Session, RestoreError> {
    let session = Session::new(
        SessionId::new(s.id)?,
        ClientToken::new(s.client_token.0)?,
        s.expires_at,
    );
    Ok(match s.hosted_page {
        Some(page) => session.with_hosted_page(HostedPageId::new(page)?),
        None => session,
    })
}
fn auth(a: AuthorizationSnapshot) -> Result<Authorization, RestoreError> {
    Ok(Authorization::new(
        AuthorizationToken::new(a.token.0)?,
        CartFingerprint::from_value(a.fingerprint),
        a.authorized_at,
    ))
}
fn op(o: OpSnapshot) -> Result<PendingOp, RestoreError> {
    Ok(PendingOp::restore(
        IdempotencyKey::new(o.key)?,
        o.attempts,
        o.in_doubt,
        o.started_at,
    )
    .fenced_until(o.fence.unwrap_or(o.started_at))
    .with_request(o.request))
}
fn order(o: OrderSnapshot) -> Result<PlacedOrder, RestoreError> {
    Ok(PlacedOrder::new(
        OrderId::new(o.order_id)?,
        o.fraud_status,
        o.placed_at,
    ))
}
fn tok(t: TokenizationSnapshot) -> Result<Tokenization, RestoreError> {
    Ok(match t {
        TokenizationSnapshot::NotRequested => Tokenization::NotRequested,
        TokenizationSnapshot::Due(a) => Tokenization::Due(auth(a)?),
        TokenizationSnapshot::Pending(a, o) => Tokenization::Pending(auth(a)?, op(o)?),
        TokenizationSnapshot::Done(c) => Tokenization::Done(CustomerTokenId::new(c.0)?),
        TokenizationSnapshot::Refused(code) => Tokenization::Refused(code),
    })
}

impl<S: Stage> Payment<S> {
    fn snap(&self, stage: StageSnapshot) -> PaymentSnapshot {
        let cart = self.cart();
        let m = cart.market();
        PaymentSnapshot {
            id: self.id().to_string(),
            intent: self.intent(),
            country: m.country().code().to_owned(),
            currency: m.currency().code().to_owned(),
            locale: m.locale().to_string(),
            lines: cart.lines().iter().map(|l| l.fields().clone()).collect(),
            order_amount: cart.total().minor(),
            order_tax_amount: cart.order_tax_amount(),
            created_at: self.created_at(),
            op_seq: self.next_op_seq(),
            merchant: (!self.merchant().is_empty()).then(|| self.merchant().parts().clone()),
            stage,
        }
    }
}

impl AnyPayment {
    /// The storage form.
    #[must_use]
    pub fn snapshot(&self) -> PaymentSnapshot {
        match self {
            Self::Open(p) => p.snap(StageSnapshot::Open {
                session: session_snap(p.session()),
            }),
            Self::Authorized(p) => p.snap(StageSnapshot::Authorized {
                session: session_snap(p.session()),
                authorization: auth_snap(p.authorization()),
                customer_token: p.customer_token().map(secret),
            }),
            Self::OrderPending(p) => p.snap(StageSnapshot::OrderPending {
                source: match p.source() {
                    OrderSource::Authorization {
                        session,
                        authorization,
                    } => SourceSnapshot::Authorization {
                        session: session_snap(session),
                        authorization: auth_snap(authorization),
                    },
                    OrderSource::CustomerToken(t) => {
                        SourceSnapshot::CustomerToken(SecretText(t.expose_secret().to_owned()))
                    }
                },
                op: op_snap(p.op()),
                customer_token: p.stage().customer_token.as_ref().map(secret),
            }),
            Self::TokenPending(p) => p.snap(StageSnapshot::TokenPending {
                session: session_snap(p.session()),
                authorization: auth_snap(p.authorization()),
                op: op_snap(p.op()),
            }),
            Self::FraudReview(p) => p.snap(StageSnapshot::FraudReview {
                order: order_snap(p.order()),
                tokenization: tok_snap(&p.stage().tokenization),
            }),
            Self::Ordered(p) => p.snap(StageSnapshot::Ordered {
                order: order_snap(p.order()),
                tokenization: tok_snap(p.tokenization()),
            }),
            Self::Stopped(p) => p.snap(StageSnapshot::Stopped {
                order: order_snap(p.order()),
                tokenization: tok_snap(p.tokenization()),
                stopped_at: p.stopped_at(),
            }),
            Self::Tokenized(p) => p.snap(StageSnapshot::Tokenized {
                customer_token: SecretText(p.customer_token().expose_secret().to_owned()),
                at: p.stage().at,
            }),
            Self::Cancelled(p) => p.snap(StageSnapshot::Cancelled {
                reason: p.reason(),
                order_id: p.order_id().map(ToString::to_string),
                at: p.stage().at,
            }),
            Self::Expired(p) => p.snap(StageSnapshot::Expired {
                at: p.stage().at,
                customer_token: p.stage().customer_token.as_ref().map(secret),
            }),
            Self::Refused(p) => p.snap(StageSnapshot::Refused {
                code: p.code().to_owned(),
                at: p.stage().at,
                customer_token: p.customer_token().map(secret),
            }),
            Self::NeedsReview(p) => p.snap(StageSnapshot::NeedsReview {
                reason: p.reason().to_owned(),
                key: p.key().map(ToString::to_string),
                at: p.stage().at,
                customer_token: p.customer_token().map(secret),
            }),
        }
    }
}

impl PaymentSnapshot {
    /// Rebuilds the payment through the public constructors.
    ///
    /// # Errors
    /// [`RestoreError`] naming what is invalid.
    pub fn restore(self) -> Result<AnyPayment, RestoreError> {
        let market = Market::parse(&self.country, &self.currency, &self.locale)?;
        let cart = Cart::from_input(market, self.lines, self.order_amount, self.order_tax_amount)?;
        let id = PaymentId::new(self.id)?;
        let (intent, created_at, op_seq) = (self.intent, self.created_at, self.op_seq);
        let merchant = self
            .merchant
            .map(MerchantData::from_parts)
            .transpose()?
            .unwrap_or_default();
        Ok(
            restore_stage(id, intent, cart, created_at, op_seq, self.stage)?
                .with_merchant(merchant),
        )
    }
}

fn restore_stage(
    id: PaymentId,
    intent: Intent,
    cart: Cart,
    created_at: Timestamp,
    op_seq: u32,
    stage: StageSnapshot,
) -> Result<AnyPayment, RestoreError> {
    {
        Ok(match stage {
            StageSnapshot::Open { session: s } => AnyPayment::Open(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                Open {
                    session: session(s)?,
                },
            )),
            StageSnapshot::Authorized {
                session: s,
                authorization: a,
                customer_token: t,
            } => AnyPayment::Authorized(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                Authorized {
                    session: session(s)?,
                    authorization: auth(a)?,
                    customer_token: t.map(|t| CustomerTokenId::new(t.0)).transpose()?,
                },
            )),
            StageSnapshot::OrderPending {
                source,
                op: o,
                customer_token: t,
            } => {
                let source = match source {
                    SourceSnapshot::Authorization {
                        session: s,
                        authorization: a,
                    } => OrderSource::Authorization {
                        session: session(s)?,
                        authorization: auth(a)?,
                    },
                    SourceSnapshot::CustomerToken(t) => {
                        OrderSource::CustomerToken(CustomerTokenId::new(t.0)?)
                    }
                };
                AnyPayment::OrderPending(Payment::from_parts(
                    id,
                    intent,
                    cart,
                    created_at,
                    op_seq,
                    OrderPending {
                        source,
                        op: op(o)?,
                        customer_token: t.map(|t| CustomerTokenId::new(t.0)).transpose()?,
                    },
                ))
            }
            StageSnapshot::TokenPending {
                session: s,
                authorization: a,
                op: o,
            } => AnyPayment::TokenPending(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                TokenPending {
                    session: session(s)?,
                    authorization: auth(a)?,
                    op: op(o)?,
                },
            )),
            StageSnapshot::FraudReview {
                order: o,
                tokenization: t,
            } => AnyPayment::FraudReview(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                FraudReview {
                    order: order(o)?,
                    tokenization: tok(t)?,
                },
            )),
            StageSnapshot::Ordered {
                order: o,
                tokenization: t,
            } => AnyPayment::Ordered(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                Ordered {
                    order: order(o)?,
                    tokenization: tok(t)?,
                },
            )),
            StageSnapshot::Stopped {
                order: o,
                tokenization: t,
                stopped_at,
            } => AnyPayment::Stopped(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                Stopped {
                    order: order(o)?,
                    tokenization: tok(t)?,
                    stopped_at,
                },
            )),
            StageSnapshot::Tokenized { customer_token, at } => {
                AnyPayment::Tokenized(Payment::from_parts(
                    id,
                    intent,
                    cart,
                    created_at,
                    op_seq,
                    Tokenized {
                        customer_token: CustomerTokenId::new(customer_token.0)?,
                        at,
                    },
                ))
            }
            StageSnapshot::Cancelled {
                reason,
                order_id,
                at,
            } => {
                let order_id = order_id.map(OrderId::new).transpose()?;
                AnyPayment::Cancelled(Payment::from_parts(
                    id,
                    intent,
                    cart,
                    created_at,
                    op_seq,
                    Cancelled {
                        reason,
                        order_id,
                        at,
                    },
                ))
            }
            StageSnapshot::Expired { at, customer_token } => {
                AnyPayment::Expired(Payment::from_parts(
                    id,
                    intent,
                    cart,
                    created_at,
                    op_seq,
                    Expired {
                        at,
                        customer_token: customer_token
                            .map(|t| CustomerTokenId::new(t.0))
                            .transpose()?,
                    },
                ))
            }
            StageSnapshot::Refused {
                code,
                at,
                customer_token,
            } => AnyPayment::Refused(Payment::from_parts(
                id,
                intent,
                cart,
                created_at,
                op_seq,
                Refused {
                    code,
                    at,
                    customer_token: customer_token
                        .map(|t| CustomerTokenId::new(t.0))
                        .transpose()?,
                },
            )),
            StageSnapshot::NeedsReview {
                reason,
                key,
                at,
                customer_token,
            } => {
                let key = key.map(IdempotencyKey::new).transpose()?;
                let customer_token = customer_token
                    .map(|t| CustomerTokenId::new(t.0))
                    .transpose()?;
                AnyPayment::NeedsReview(Payment::from_parts(
                    id,
                    intent,
                    cart,
                    created_at,
                    op_seq,
                    NeedsReview {
                        reason,
                        key,
                        at,
                        customer_token,
                    },
                ))
            }
        })
    }
}
