//! The managed order (Order Management) and its ledger: captured ≤ authorized, refunded ≤ captured.

use crate::ids::{CaptureId, IdempotencyKey, OrderId, PaymentId, RefundId};
use crate::market::Currency;
use crate::money::{Amount, Money};
use crate::payment::PendingOp;
use crate::time::{Timestamp, lifetimes};

/// Klarna's order status (Order Management).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OrderStatus {
    /// Nothing captured.
    Authorized,
    /// Some captured; authorization remains.
    PartCaptured,
    /// Fully captured.
    Captured,
    /// Cancelled before any capture.
    Cancelled,
    /// The authorization ran out.
    Expired,
    /// No further captures (remaining authorization released).
    Closed,
}

impl OrderStatus {
    /// Klarna's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "AUTHORIZED",
            Self::PartCaptured => "PART_CAPTURED",
            Self::Captured => "CAPTURED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Closed => "CLOSED",
        }
    }
    /// Parses Klarna's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Authorized,
            Self::PartCaptured,
            Self::Captured,
            Self::Cancelled,
            Self::Expired,
            Self::Closed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    /// Whether more captures are possible in this status.
    #[must_use]
    pub const fn capturable(self) -> bool {
        matches!(self, Self::Authorized | Self::PartCaptured)
    }
}

/// An Order Management operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OmOperation {
    /// Capture this amount.
    Capture(Amount),
    /// Refund this amount.
    Refund(Amount),
    /// Cancel the order.
    Cancel,
    /// Release the remaining authorization.
    ReleaseRemaining,
    /// Extend the authorization time.
    ExtendAuthorization,
}

impl OmOperation {
    /// Name for logs and errors.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Capture(_) => "capture",
            Self::Refund(_) => "refund",
            Self::Cancel => "cancel",
            Self::ReleaseRemaining => "release remaining authorization",
            Self::ExtendAuthorization => "extend authorization",
        }
    }
}

/// A recorded capture.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CaptureRecord {
    /// Klarna's id.
    pub id: CaptureId,
    /// Amount captured.
    pub amount: i64,
    /// When.
    pub at: Timestamp,
}

/// A recorded refund.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundRecord {
    /// Klarna's id.
    pub id: RefundId,
    /// Amount refunded.
    pub amount: i64,
    /// When.
    pub at: Timestamp,
}

/// Why the ledger refuses an operation. Checked before any call to Klarna.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Capture over the remaining authorization.
    #[error("captured_amount: {requested} exceeds the remaining authorization {remaining}")]
    OverCapture {
        /// Requested.
        requested: i64,
        /// Remaining.
        remaining: i64,
    },
    /// Refund over what was captured and not yet refunded.
    #[error("refunded_amount: {requested} exceeds the refundable {refundable}")]
    OverRefund {
        /// Requested.
        requested: i64,
        /// Refundable.
        refundable: i64,
    },
    /// Not allowed in this status.
    #[error("{operation} is not allowed on a {status:?} order")]
    NotAllowed {
        /// The operation.
        operation: &'static str,
        /// The order's status.
        status: OrderStatus,
    },
    /// The authorization ran out.
    #[error("the order's authorization expired")]
    Expired,
    /// Extension is only possible within 180 days of creation.
    #[error("the authorization can only be extended within 180 days of the order's creation")]
    ExtensionWindowClosed,
    /// Another operation on this order is in flight.
    #[error("another operation ({0}) is in progress on this order")]
    Busy(&'static str),
    /// Nothing is pending.
    #[error("no operation is pending on this order")]
    NothingPending,
    /// A refusal after an in-doubt attempt is not definitive.
    #[error("a refusal after an in-doubt attempt is not definitive; reconcile instead")]
    NotDefinitive,
}

/// An in-flight Order Management operation, its key persisted before the call.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingOm {
    /// What is being done.
    pub operation: OmOperation,
    /// Key and attempts.
    pub op: PendingOp,
}

/// An order under management, with its ledger.
///
/// Invariants, held by every method: `0 ≤ refunded ≤ captured ≤ order_amount`; at most one
/// operation in flight; a pending capture or refund reserves its amount.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ManagedOrder {
    order_id: OrderId,
    payment_id: PaymentId,
    currency: Currency,
    order_amount: i64,
    status: OrderStatus,
    captures: Vec<CaptureRecord>,
    refunds: Vec<RefundRecord>,
    pending: Option<PendingOm>,
    op_seq: u32,
    created_at: Timestamp,
    expires_at: Timestamp,
}

/// The parts of a stored order, for adapters that rebuild one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ManagedOrderParts {
    /// Klarna's order id.
    pub order_id: OrderId,
    /// Our payment.
    pub payment_id: PaymentId,
    /// Currency.
    pub currency: Currency,
    /// Authorized amount.
    pub order_amount: i64,
    /// Status.
    pub status: OrderStatus,
    /// Captures.
    pub captures: Vec<CaptureRecord>,
    /// Refunds.
    pub refunds: Vec<RefundRecord>,
    /// In-flight operation.
    pub pending: Option<PendingOm>,
    /// Operations begun so far.
    pub op_seq: u32,
    /// Creation.
    pub created_at: Timestamp,
    /// Capture deadline.
    pub expires_at: Timestamp,
}

/// A stored order that breaks the ledger's invariants.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("stored order {order_id} violates its ledger: {what}")]
pub struct CorruptOrder {
    order_id: String,
    what: &'static str,
}

impl ManagedOrder {
    /// A new order of `order_amount`, authorized for 28 days from `now`.
    #[must_use]
    pub fn new(order_id: OrderId, payment_id: PaymentId, amount: Money, now: Timestamp) -> Self {
        Self {
            order_id,
            payment_id,
            currency: amount.currency(),
            order_amount: amount.minor(),
            status: OrderStatus::Authorized,
            captures: Vec::new(),
            refunds: Vec::new(),
            pending: None,
            op_seq: 0,
            created_at: now,
            expires_at: now.plus(lifetimes::ORDER_AUTHORIZATION),
        }
    }

    /// Rebuilds a stored order, checking the ledger.
    ///
    /// # Errors
    /// [`CorruptOrder`] when the parts break an invariant.
    pub fn restore(p: ManagedOrderParts) -> Result<Self, CorruptOrder> {
        let o = Self {
            order_id: p.order_id,
            payment_id: p.payment_id,
            currency: p.currency,
            order_amount: p.order_amount,
            status: p.status,
            captures: p.captures,
            refunds: p.refunds,
            pending: p.pending,
            op_seq: p.op_seq,
            created_at: p.created_at,
            expires_at: p.expires_at,
        };
        let bad = |what| {
            Err(CorruptOrder {
                order_id: o.order_id.to_string(),
                what,
            })
        };
        if o.order_amount < 0 {
            return bad("negative order amount");
        }
        let captured = o.captured_checked();
        let refunded = o.refunded_checked();
        match (captured, refunded) {
            (Some(c), Some(r)) if 0 <= r && r <= c && c <= o.order_amount => Ok(o),
            _ => bad("refunded <= captured <= order_amount does not hold"),
        }
    }

    /// The parts, for storage.
    #[must_use]
    pub fn parts(&self) -> ManagedOrderParts {
        ManagedOrderParts {
            order_id: self.order_id.clone(),
            payment_id: self.payment_id.clone(),
            currency: self.currency,
            order_amount: self.order_amount,
            status: self.status,
            captures: self.captures.clone(),
            refunds: self.refunds.clone(),
            pending: self.pending.clone(),
            op_seq: self.op_seq,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }

    fn captured_checked(&self) -> Option<i64> {
        self.captures
            .iter()
            .try_fold(0_i64, |a, c| a.checked_add(c.amount))
    }
    fn refunded_checked(&self) -> Option<i64> {
        self.refunds
            .iter()
            .try_fold(0_i64, |a, r| a.checked_add(r.amount))
    }

    /// Klarna's order id.
    #[must_use]
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    /// Our payment.
    #[must_use]
    pub fn payment_id(&self) -> &PaymentId {
        &self.payment_id
    }
    /// Currency.
    #[must_use]
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// Status.
    #[must_use]
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    /// Authorized amount.
    #[must_use]
    pub fn order_amount(&self) -> i64 {
        self.order_amount
    }
    /// Σ captures.
    #[must_use]
    pub fn captured(&self) -> i64 {
        self.captured_checked().unwrap_or(i64::MAX)
    }
    /// Σ refunds.
    #[must_use]
    pub fn refunded(&self) -> i64 {
        self.refunded_checked().unwrap_or(i64::MAX)
    }
    /// What can still be captured (0 unless the status allows captures).
    #[must_use]
    pub fn remaining(&self) -> i64 {
        if self.status.capturable() {
            self.order_amount - self.captured()
        } else {
            0
        }
    }
    /// Captures.
    #[must_use]
    pub fn captures(&self) -> &[CaptureRecord] {
        &self.captures
    }
    /// Refunds.
    #[must_use]
    pub fn refunds(&self) -> &[RefundRecord] {
        &self.refunds
    }
    /// The in-flight operation.
    #[must_use]
    pub fn pending(&self) -> Option<&PendingOm> {
        self.pending.as_ref()
    }
    /// The sequence number the next operation gets: mint its idempotency key with it.
    #[must_use]
    pub fn next_op_seq(&self) -> u32 {
        self.op_seq
    }
    /// Creation time.
    #[must_use]
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// Capture deadline.
    #[must_use]
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Applies the clock: a capturable order past its deadline expires (a pending operation
    /// keeps it as it is until resolved).
    #[must_use]
    pub fn expire(mut self, now: Timestamp) -> Self {
        if self.status.capturable() && now >= self.expires_at && self.pending.is_none() {
            self.status = OrderStatus::Expired;
        }
        self
    }

    /// Checks and reserves an operation; the key is persisted with the result before the call.
    ///
    /// # Errors
    /// A [`LedgerError`] when the ledger or status forbids it.
    pub fn begin(
        mut self,
        operation: OmOperation,
        key: IdempotencyKey,
        now: Timestamp,
    ) -> Result<Self, LedgerError> {
        if let Some(p) = &self.pending {
            return Err(LedgerError::Busy(p.operation.name()));
        }
        let not_allowed = |status| LedgerError::NotAllowed {
            operation: operation.name(),
            status,
        };
        match operation {
            OmOperation::Capture(amount) => {
                let amount = amount.minor();
                if !self.status.capturable() {
                    return Err(not_allowed(self.status));
                }
                if now >= self.expires_at {
                    return Err(LedgerError::Expired);
                }
                let remaining = self.remaining();
                if amount > remaining {
                    return Err(LedgerError::OverCapture {
                        requested: amount,
                        remaining,
                    });
                }
            }
            OmOperation::Refund(amount) => {
                let amount = amount.minor();
                let refundable = self.captured() - self.refunded();
                if amount > refundable {
                    return Err(LedgerError::OverRefund {
                        requested: amount,
                        refundable,
                    });
                }
            }
            OmOperation::Cancel => {
                if self.status != OrderStatus::Authorized || self.captured() > 0 {
                    return Err(not_allowed(self.status));
                }
            }
            OmOperation::ReleaseRemaining => {
                if self.status != OrderStatus::PartCaptured {
                    return Err(not_allowed(self.status));
                }
            }
            OmOperation::ExtendAuthorization => {
                if !self.status.capturable() {
                    return Err(not_allowed(self.status));
                }
                if now >= self.expires_at {
                    return Err(LedgerError::Expired);
                }
                if now >= self.created_at.plus(lifetimes::ORDER_EXTENSION_WINDOW) {
                    return Err(LedgerError::ExtensionWindowClosed);
                }
            }
        }
        self.pending = Some(PendingOm {
            operation,
            op: PendingOp::new(key, now),
        });
        self.op_seq = self.op_seq.saturating_add(1);
        Ok(self)
    }

    /// Fences the pending operation until `until` (see [`PendingOp::fenced_until`]).
    #[must_use]
    pub fn fenced_until(mut self, until: Timestamp) -> Self {
        if let Some(p) = self.pending.take() {
            self.pending = Some(PendingOm {
                operation: p.operation,
                op: p.op.fenced_until(until),
            });
        }
        self
    }

    /// Records an attempt of the pending operation.
    #[must_use]
    pub fn attempted(mut self, outcome_unknown: bool) -> Self {
        if let Some(p) = self.pending.take() {
            self.pending = Some(PendingOm {
                operation: p.operation,
                op: p.op.attempted(outcome_unknown),
            });
        }
        self
    }

    /// Records the pending operation's success. `capture_id`/`refund_id` go with captures and
    /// refunds; other operations ignore them.
    ///
    /// # Errors
    /// [`LedgerError::NothingPending`].
    pub fn complete(mut self, result: OmResult, now: Timestamp) -> Result<Self, LedgerError> {
        let p = self.pending.take().ok_or(LedgerError::NothingPending)?;
        match (p.operation, result) {
            (OmOperation::Capture(amount), OmResult::Captured(id)) => {
                self.captures.push(CaptureRecord {
                    id,
                    amount: amount.minor(),
                    at: now,
                });
                self.status = if self.captured() >= self.order_amount {
                    OrderStatus::Captured
                } else {
                    OrderStatus::PartCaptured
                };
            }
            (OmOperation::Refund(amount), OmResult::Refunded(id)) => {
                self.refunds.push(RefundRecord {
                    id,
                    amount: amount.minor(),
                    at: now,
                });
            }
            (OmOperation::Cancel, OmResult::Done) => self.status = OrderStatus::Cancelled,
            (OmOperation::ReleaseRemaining, OmResult::Done) => self.status = OrderStatus::Closed,
            (OmOperation::ExtendAuthorization, OmResult::Done) => {
                let cap = self.created_at.plus(lifetimes::ORDER_EXTENSION_WINDOW);
                self.expires_at = now.plus(lifetimes::ORDER_AUTHORIZATION).min(cap);
            }
            (op, _) => {
                // A result of the wrong kind: keep the operation pending so nothing is lost.
                self.pending = Some(PendingOm {
                    operation: op,
                    op: p.op,
                });
                return Err(LedgerError::NothingPending);
            }
        }
        Ok(self)
    }

    /// Records Klarna's definitive refusal of the pending operation (the reservation is released).
    ///
    /// # Errors
    /// [`LedgerError::NotDefinitive`] after an in-doubt attempt; [`LedgerError::NothingPending`].
    pub fn refused(mut self) -> Result<Self, LedgerError> {
        match &self.pending {
            None => Err(LedgerError::NothingPending),
            Some(p) if p.op.in_doubt() => Err(LedgerError::NotDefinitive),
            Some(_) => {
                self.pending = None;
                Ok(self)
            }
        }
    }

    /// Evidence (a read of the order at Klarna) shows the pending operation did not happen:
    /// the reservation is released even after an in-doubt attempt.
    ///
    /// # Errors
    /// [`LedgerError::NothingPending`].
    pub fn not_applied(mut self) -> Result<Self, LedgerError> {
        self.pending.take().ok_or(LedgerError::NothingPending)?;
        Ok(self)
    }

    /// Adopts the status Klarna reports (e.g. after fraud rejection or an expiry we did not see).
    #[must_use]
    pub fn observe_status(mut self, status: OrderStatus) -> Self {
        self.status = status;
        self
    }
}

/// The result of a completed Order Management operation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OmResult {
    /// A capture with Klarna's id.
    Captured(CaptureId),
    /// A refund with Klarna's id.
    Refunded(RefundId),
    /// An operation without a result id.
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(minor: i64) -> Amount {
        Amount::new(minor).unwrap()
    }

    fn order() -> ManagedOrder {
        ManagedOrder::new(
            OrderId::new("o").unwrap(),
            PaymentId::new("p").unwrap(),
            Money::new(1_000, Currency::Sek),
            Timestamp::EPOCH,
        )
    }
    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::new(s).unwrap()
    }
    const T: Timestamp = Timestamp::EPOCH;

    #[test]
    fn capture_refund_ledger() {
        let o = order()
            .begin(OmOperation::Capture(amt(600)), key("k1"), T)
            .unwrap();
        assert!(matches!(
            o.clone().begin(OmOperation::Capture(amt(1)), key("k2"), T),
            Err(LedgerError::Busy(_))
        ));
        let o = o
            .complete(OmResult::Captured(CaptureId::new("c1").unwrap()), T)
            .unwrap();
        assert_eq!(
            (o.status(), o.captured(), o.remaining()),
            (OrderStatus::PartCaptured, 600, 400)
        );
        assert!(matches!(
            o.clone()
                .begin(OmOperation::Capture(amt(401)), key("k3"), T),
            Err(LedgerError::OverCapture {
                requested: 401,
                remaining: 400
            })
        ));
        assert!(matches!(
            o.clone().begin(OmOperation::Cancel, key("k3"), T),
            Err(LedgerError::NotAllowed { .. })
        ));
        assert!(matches!(
            o.clone().begin(OmOperation::Refund(amt(601)), key("k3"), T),
            Err(LedgerError::OverRefund { .. })
        ));
        let o = o
            .begin(OmOperation::Refund(amt(100)), key("k4"), T)
            .unwrap();
        let o = o
            .complete(OmResult::Refunded(RefundId::new("r1").unwrap()), T)
            .unwrap();
        assert_eq!(o.refunded(), 100);
        let o = o
            .begin(OmOperation::ReleaseRemaining, key("k5"), T)
            .unwrap()
            .complete(OmResult::Done, T)
            .unwrap();
        assert_eq!(o.status(), OrderStatus::Closed);
        assert!(o.begin(OmOperation::Capture(amt(1)), key("k6"), T).is_err());
    }

    #[test]
    fn refusal_after_doubt_is_not_definitive() {
        let o = order()
            .begin(OmOperation::Capture(amt(10)), key("k"), T)
            .unwrap()
            .attempted(true);
        assert_eq!(o.clone().refused(), Err(LedgerError::NotDefinitive));
        let o = order()
            .begin(OmOperation::Capture(amt(10)), key("k"), T)
            .unwrap()
            .attempted(false);
        assert!(o.refused().unwrap().pending().is_none());
    }

    #[test]
    fn expiry_and_extension_window() {
        let day = crate::time::Span::days(1);
        let o = order().expire(T.plus(lifetimes::ORDER_AUTHORIZATION));
        assert_eq!(o.status(), OrderStatus::Expired);
        let o = order()
            .begin(OmOperation::ExtendAuthorization, key("k"), T.plus(day))
            .unwrap()
            .complete(OmResult::Done, T.plus(day))
            .unwrap();
        assert_eq!(
            o.expires_at(),
            T.plus(day).plus(lifetimes::ORDER_AUTHORIZATION)
        );
    }

    #[test]
    fn restore_checks_the_ledger() {
        let mut parts = order().parts();
        parts.refunds.push(RefundRecord {
            id: RefundId::new("r").unwrap(),
            amount: 1,
            at: T,
        });
        assert!(ManagedOrder::restore(parts).is_err());
        assert!(ManagedOrder::restore(order().parts()).is_ok());
    }
}
