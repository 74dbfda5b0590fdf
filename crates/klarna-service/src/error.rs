//! Errors of the use cases: each variant says what the caller can do, names the record by its typed id, and keeps its cause as `source`.
//!
//! `Display` describes this layer only; the cause (a [`GatewayError`], a [`StoreError`], a
//! domain error) is the [`std::error::Error::source`], so a caller that prints the chain sees
//! every layer once. Wrappers that add nothing are `transparent`.

use std::fmt;

use klarna_domain::order::LedgerError;
use klarna_domain::payment::LifecycleError;
use klarna_domain::token::TokenNotChargeable;
use klarna_domain::{
    CartError, Currency, LinkError, MerchantDataError, OrderId, PaymentId, Region, ResolveMismatch,
    SessionId, StageKind,
};
use klarna_ports::{GatewayError, StoreError};

/// A stored record, named by its typed id (a customer token is never named: it is a secret).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RecordId {
    /// A payment.
    Payment(PaymentId),
    /// A managed order.
    Order(OrderId),
    /// The payment that holds a Klarna order.
    PaymentOfOrder(OrderId),
    /// The payment of a Klarna session.
    Session(SessionId),
    /// A customer token.
    CustomerToken,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Payment(id) => write!(f, "payment {id}"),
            Self::Order(id) => write!(f, "order {id}"),
            Self::PaymentOfOrder(id) => write!(f, "payment of order {id}"),
            Self::Session(id) => write!(f, "payment of session {id}"),
            Self::CustomerToken => f.write_str("customer token"),
        }
    }
}

/// Why a use case did not complete. Nothing is lost in any of these: the payment is stored in
/// the stage the error describes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The cart is invalid: fix the named field.
    #[error(transparent)]
    Cart(#[from] CartError),
    /// Invalid merchant data (the error names the field); nothing was sent.
    #[error(transparent)]
    MerchantData(#[from] MerchantDataError),
    /// The payment link is invalid or does not fit the payment (checked before any call).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A token charge in another currency than the token's (field `purchase_currency`).
    #[error("purchase_currency: the token charges {token}, the cart is in {cart}")]
    CurrencyMismatch {
        /// The token's currency.
        token: Currency,
        /// The cart's currency.
        cart: Currency,
    },
    /// The payment's purchase country is served by a Klarna region this service has no gateway
    /// (credentials) for; nothing was sent. Configure that region's account.
    #[error(
        "no Klarna account is configured for region {region}, which serves this purchase country"
    )]
    RegionNotConfigured {
        /// The region (API.md §11.9: US, CA, MX → na; AU, NZ → oc; else eu).
        region: Region,
    },
    /// No such payment, order or token.
    #[error("{0} not found")]
    NotFound(RecordId),
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
    #[error("payment {payment_id}: outcome unknown, the reconciler will resolve it")]
    OutcomeUnknown {
        /// The payment.
        payment_id: PaymentId,
        /// What the gateway said.
        #[source]
        source: GatewayError,
    },
    /// The shopper must authorize again (the authorization expired, was replaced, or does not
    /// match); the payment is open again.
    #[error("payment {payment_id}: the shopper must authorize again")]
    Reauthorize {
        /// The payment.
        payment_id: PaymentId,
        /// What the gateway said.
        #[source]
        source: GatewayError,
    },
    /// Klarna answered and refused definitively; the payment records the refusal.
    #[error("Klarna refused the operation")]
    Refused(#[source] GatewayError),
    /// Klarna could not be reached; nothing happened there, and nothing is left pending (the
    /// payment or order is back where it was). Try again later.
    #[error("Klarna is unavailable; nothing is pending")]
    Unavailable(#[source] GatewayError),
    /// The request did not reach Klarna, and the operation stays pending: the reconciler sends
    /// it with the same idempotency key (a customer-token charge has no earlier stage to go back
    /// to). Do not charge again with a new payment id.
    #[error("payment {payment_id}: not sent yet; queued for the reconciler")]
    Queued {
        /// The payment.
        payment_id: PaymentId,
        /// What the gateway said.
        #[source]
        source: GatewayError,
    },
    /// Klarna's order shows the effect of an operation, but not the id it created: evidence
    /// that contradicts itself. The operation stays pending.
    #[error("order {0}: Klarna shows the operation's effect but no new capture or refund id")]
    ContradictoryEvidence(OrderId),
    /// Klarna did it, but the store could not record it (tried again, then given up): the
    /// operation stays pending, the reconciler resolves it, and the error log names Klarna's
    /// id. Never do it again under a new id.
    #[error("{record}: Klarna succeeded but the store could not record it; the reconciler will")]
    NotRecorded {
        /// The payment or order.
        record: RecordId,
        /// What the store said.
        #[source]
        source: StoreError,
    },
    /// The order an operator named for a payment in review does not fit it (the source names
    /// the field: `merchant_reference1`, `order_amount`, …); nothing was written.
    #[error("payment {payment_id}: Klarna's order does not fit the payment")]
    OrderMismatch {
        /// The payment in review.
        payment_id: PaymentId,
        /// What differs.
        #[source]
        mismatch: ResolveMismatch,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store kept changing under us (heavy contention on one record): try again.
    #[error("{0} is contended; try again")]
    Contended(RecordId),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use klarna_ports::ErrorAction;

    use super::*;

    /// Every layer's message, outermost first.
    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut next = e.source();
        while let Some(s) = next {
            out.push(s.to_string());
            next = s.source();
        }
        out
    }

    #[test]
    fn each_layer_is_printed_once_and_the_cause_is_the_source() {
        let gateway = GatewayError::new("payments.create_order", ErrorAction::OutcomeUnknown, true);
        let e = ServiceError::OutcomeUnknown {
            payment_id: PaymentId::new("pay-1").unwrap(),
            source: gateway.clone(),
        };
        let links = chain(&e);
        assert_eq!(
            links,
            vec![
                "payment pay-1: outcome unknown, the reconciler will resolve it".to_owned(),
                gateway.to_string(),
            ]
        );
        for (i, outer) in links.iter().enumerate() {
            for inner in &links[i + 1..] {
                assert!(
                    !outer.contains(inner.as_str()),
                    "{outer:?} repeats its cause {inner:?}"
                );
            }
        }
        for e in [
            ServiceError::Refused(gateway.clone()),
            ServiceError::Unavailable(gateway.clone()),
            ServiceError::Reauthorize {
                payment_id: PaymentId::new("pay-1").unwrap(),
                source: gateway.clone(),
            },
        ] {
            let links = chain(&e);
            assert_eq!(links.len(), 2, "{links:?}");
            assert!(!links[0].contains(&links[1]), "{links:?}");
            assert!(e.source().is_some());
        }
    }

    #[test]
    fn records_are_named_by_typed_id_and_tokens_never() {
        let e = ServiceError::NotFound(RecordId::Order(OrderId::new("o-1").unwrap()));
        assert_eq!(e.to_string(), "order o-1 not found");
        let e = ServiceError::Contended(RecordId::CustomerToken);
        assert_eq!(e.to_string(), "customer token is contended; try again");
    }
}
