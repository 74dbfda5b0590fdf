//! Errors of the use cases: each variant says what the caller can do.

use klarna_domain::order::LedgerError;
use klarna_domain::payment::LifecycleError;
use klarna_domain::token::TokenNotChargeable;
use klarna_domain::{CartError, PaymentId, StageKind};
use klarna_ports::{GatewayError, StoreError};

/// Why a use case did not complete. Nothing is lost in any of these: the payment is stored in
/// the stage the error describes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The input is invalid: fix it (the field is named).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The cart is invalid: fix the named field.
    #[error("invalid cart: {0}")]
    Cart(#[from] CartError),
    /// No such payment, order or token.
    #[error("{0} not found")]
    NotFound(String),
    /// The payment is not in a stage that allows the operation.
    #[error("{operation} is not possible: payment {payment_id} is {stage}")]
    WrongStage {
        /// The payment.
        payment_id: PaymentId,
        /// Its stage.
        stage: StageKind,
        /// The refused operation.
        operation: &'static str,
    },
    /// The lifecycle refuses the transition (expired, wrong intent, cart changed).
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The order's ledger refuses the operation (over-capture, over-refund, wrong status).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The customer token cannot be charged.
    #[error(transparent)]
    Token(#[from] TokenNotChargeable),
    /// Another caller is performing this operation right now: wait and read the payment again.
    #[error("payment {0} has an operation in progress")]
    InProgress(PaymentId),
    /// The request may have reached Klarna without an answer. The operation stays pending and
    /// the reconciler resolves it with the same idempotency key: never retry with a new one.
    #[error("payment {payment_id}: outcome unknown, the reconciler will resolve it ({source})")]
    OutcomeUnknown {
        /// The payment.
        payment_id: PaymentId,
        /// What the gateway said.
        #[source]
        source: GatewayError,
    },
    /// The shopper must authorize again (the authorization expired, was replaced, or does not
    /// match); the payment is open again.
    #[error("payment {payment_id}: the shopper must authorize again ({source})")]
    Reauthorize {
        /// The payment.
        payment_id: PaymentId,
        /// What the gateway said.
        #[source]
        source: GatewayError,
    },
    /// Klarna answered and refused definitively; the payment records the refusal.
    #[error("Klarna refused: {0}")]
    Refused(#[source] GatewayError),
    /// Klarna could not be reached; nothing happened there. Try again later.
    #[error("Klarna unavailable: {0}")]
    Unavailable(#[source] GatewayError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store kept changing under us (heavy contention on one payment): try again.
    #[error("payment {0} is contended; try again")]
    Contended(String),
}
