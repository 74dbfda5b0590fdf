//! The managed order (Order Management) and its ledger: captured ≤ authorized, refunded ≤ captured.

use crate::ids::{CaptureId, IdempotencyKey, OrderId, PaymentId, RefundId};
use crate::market::Currency;
use crate::money::Money;
use crate::om::{
    AuthorizationUpdate, CaptureRequest, MerchantReferences, OmLine, RefundRequest, ShippingInfo,
    ShippingInfoUpdate,
};
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

/// An Order Management operation, with the whole request it sends (persisted with the
/// pending operation, so a replay sends the same body).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OmOperation {
    /// Capture (an amount, optionally lines, shipping info and references).
    Capture(CaptureRequest),
    /// Refund (an amount, optionally lines, a return fee among them).
    Refund(RefundRequest),
    /// Cancel the order.
    Cancel,
    /// Release the remaining authorization.
    ReleaseRemaining,
    /// Extend the authorization time.
    ExtendAuthorization,
    /// Add shipping info to a capture made earlier.
    AddShippingInfo(ShippingInfoUpdate),
    /// Change the order amount and lines (e.g. an upsell).
    UpdateAuthorization(AuthorizationUpdate),
    /// Change the merchant references.
    UpdateMerchantReferences(MerchantReferences),
}

impl OmOperation {
    /// Name for logs and errors.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Capture(_) => "capture",
            Self::Refund(_) => "refund",
            Self::Cancel => "cancel",
            Self::ReleaseRemaining => "release remaining authorization",
            Self::ExtendAuthorization => "extend authorization",
            Self::AddShippingInfo(_) => "add shipping info",
            Self::UpdateAuthorization(_) => "update authorization",
            Self::UpdateMerchantReferences(_) => "update merchant references",
        }
    }
}

/// A recorded capture: what was sent, as Klarna accepted it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CaptureRecord {
    /// Klarna's id.
    pub id: CaptureId,
    /// Amount captured.
    pub amount: i64,
    /// When.
    pub at: Timestamp,
    /// The lines captured (what was shipped); empty for a capture of a bare amount.
    pub lines: Vec<OmLine>,
    /// Shipping info: the capture's own, then what [`OmOperation::AddShippingInfo`] appended.
    pub shipping_info: Vec<ShippingInfo>,
    /// The capture's `reference` (in settlement files).
    pub reference: Option<String>,
}

impl CaptureRecord {
    /// The record of `request`, captured by Klarna as `id` at `at`.
    #[must_use]
    pub fn of(id: CaptureId, request: &CaptureRequest, at: Timestamp) -> Self {
        Self {
            id,
            amount: request.amount().minor(),
            at,
            lines: request.order_lines().to_vec(),
            shipping_info: request.shipping_info().to_vec(),
            reference: request.reference().map(str::to_owned),
        }
    }
}

/// A recorded refund: what was sent, as Klarna accepted it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundRecord {
    /// Klarna's id.
    pub id: RefundId,
    /// Amount refunded.
    pub amount: i64,
    /// When.
    pub at: Timestamp,
    /// The lines refunded (a return fee among them); empty for a refund of a bare amount.
    pub lines: Vec<OmLine>,
    /// The refund's `reference` (in settlement files).
    pub reference: Option<String>,
}

impl RefundRecord {
    /// The record of `request`, refunded by Klarna as `id` at `at`.
    #[must_use]
    pub fn of(id: RefundId, request: &RefundRequest, at: Timestamp) -> Self {
        Self {
            id,
            amount: request.amount().minor(),
            at,
            lines: request.order_lines().to_vec(),
            reference: request.reference().map(str::to_owned),
        }
    }
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
    /// Shipping info for a capture this order does not hold.
    #[error("capture_id: {0} is not a capture of this order")]
    UnknownCapture(CaptureId),
    /// A new order amount below what was already captured.
    #[error("order_amount: {requested} is below the captured amount {captured}")]
    BelowCaptured {
        /// Requested.
        requested: i64,
        /// Captured so far.
        captured: i64,
    },
    /// A return fee is possible only when the order was captured in full in one capture
    /// (API.md §4.3).
    #[error(
        "order_lines: a return_fee needs the order captured in full in one capture (it has {captures} captures, {captured} of {order_amount} captured)"
    )]
    ReturnFeeNeedsOneCapture {
        /// Captures made.
        captures: usize,
        /// Captured so far.
        captured: i64,
        /// The order amount.
        order_amount: i64,
    },
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
        let name = operation.name();
        let not_allowed = |status| LedgerError::NotAllowed {
            operation: name,
            status,
        };
        match &operation {
            OmOperation::Capture(request) => {
                let amount = request.amount().minor();
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
            OmOperation::Refund(request) => {
                let amount = request.amount().minor();
                if request.has_return_fee()
                    && (self.captures.len() != 1 || self.captured() != self.order_amount)
                {
                    return Err(LedgerError::ReturnFeeNeedsOneCapture {
                        captures: self.captures.len(),
                        captured: self.captured(),
                        order_amount: self.order_amount,
                    });
                }
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
            OmOperation::AddShippingInfo(update) => {
                if !self.captures.iter().any(|c| &c.id == update.capture()) {
                    return Err(LedgerError::UnknownCapture(update.capture().clone()));
                }
            }
            OmOperation::UpdateAuthorization(update) => {
                if !self.status.capturable() {
                    return Err(not_allowed(self.status));
                }
                if now >= self.expires_at {
                    return Err(LedgerError::Expired);
                }
                if update.order_amount() < self.captured() {
                    return Err(LedgerError::BelowCaptured {
                        requested: update.order_amount(),
                        captured: self.captured(),
                    });
                }
            }
            OmOperation::UpdateMerchantReferences(_) => {
                if self.status == OrderStatus::Cancelled {
                    return Err(not_allowed(self.status));
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
            (OmOperation::Capture(request), OmResult::Captured(id)) => {
                self.captures.push(CaptureRecord::of(id, &request, now));
                self.status = if self.captured() >= self.order_amount {
                    OrderStatus::Captured
                } else {
                    OrderStatus::PartCaptured
                };
            }
            (OmOperation::Refund(request), OmResult::Refunded(id)) => {
                self.refunds.push(RefundRecord::of(id, &request, now));
            }
            (OmOperation::Cancel, OmResult::Done) => self.status = OrderStatus::Cancelled,
            (OmOperation::ReleaseRemaining, OmResult::Done) => self.status = OrderStatus::Closed,
            (OmOperation::ExtendAuthorization, OmResult::Done) => {
                let cap = self.created_at.plus(lifetimes::ORDER_EXTENSION_WINDOW);
                self.expires_at = now.plus(lifetimes::ORDER_AUTHORIZATION).min(cap);
            }
            (OmOperation::UpdateAuthorization(update), OmResult::Done) => {
                // Only Klarna's acceptance changes the amount (a refusal releases the pending
                // operation through `refused`). An amount now equal to what was captured
                // leaves nothing to capture.
                self.order_amount = update.order_amount();
                if self.captured() > 0 && self.captured() >= self.order_amount {
                    self.status = OrderStatus::Captured;
                }
            }
            (OmOperation::AddShippingInfo(update), OmResult::Done) => {
                // `begin` checked that the capture is ours; Klarna appends, so do we.
                if let Some(c) = self.captures.iter_mut().find(|c| &c.id == update.capture()) {
                    c.shipping_info.extend_from_slice(update.shipping_info());
                }
            }
            (OmOperation::UpdateMerchantReferences(_), OmResult::Done) => {}
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
    use crate::money::Amount;

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
            .begin(OmOperation::Capture(amt(600).into()), key("k1"), T)
            .unwrap();
        assert!(matches!(
            o.clone()
                .begin(OmOperation::Capture(amt(1).into()), key("k2"), T),
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
                .begin(OmOperation::Capture(amt(401).into()), key("k3"), T),
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
            o.clone()
                .begin(OmOperation::Refund(amt(601).into()), key("k3"), T),
            Err(LedgerError::OverRefund { .. })
        ));
        let o = o
            .begin(OmOperation::Refund(amt(100).into()), key("k4"), T)
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
        assert!(
            o.begin(OmOperation::Capture(amt(1).into()), key("k6"), T)
                .is_err()
        );
    }

    #[test]
    fn refusal_after_doubt_is_not_definitive() {
        let o = order()
            .begin(OmOperation::Capture(amt(10).into()), key("k"), T)
            .unwrap()
            .attempted(true);
        assert_eq!(o.clone().refused(), Err(LedgerError::NotDefinitive));
        let o = order()
            .begin(OmOperation::Capture(amt(10).into()), key("k"), T)
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
    fn upsell_changes_the_amount_only_when_accepted() {
        use crate::om::AuthorizationUpdate;
        let o = order()
            .begin(OmOperation::Capture(amt(600).into()), key("k1"), T)
            .unwrap()
            .complete(OmResult::Captured(CaptureId::new("c1").unwrap()), T)
            .unwrap();
        let up = |n| OmOperation::UpdateAuthorization(AuthorizationUpdate::new(n, vec![]).unwrap());
        assert_eq!(
            o.clone().begin(up(599), key("k2"), T).unwrap_err(),
            LedgerError::BelowCaptured {
                requested: 599,
                captured: 600
            }
        );
        let refused = o
            .clone()
            .begin(up(1_500), key("k2"), T)
            .unwrap()
            .attempted(false)
            .refused()
            .unwrap();
        assert_eq!((refused.order_amount(), refused.remaining()), (1_000, 400));
        let raised = o
            .begin(up(1_500), key("k2"), T)
            .unwrap()
            .complete(OmResult::Done, T)
            .unwrap();
        assert_eq!((raised.order_amount(), raised.remaining()), (1_500, 900));
        assert!(ManagedOrder::restore(raised.parts()).is_ok());
    }

    #[test]
    fn return_fee_and_shipping_info_follow_the_captures() {
        use crate::om::{
            OmLine, RefundRequest, ShippingInfo, ShippingInfoInput, ShippingInfoUpdate,
        };
        let fee_refund = || {
            RefundRequest::builder(amt(100))
                .line(OmLine::return_fee("Fee", 100, 0).unwrap())
                .line(
                    crate::cart::OrderLine::builder("Shoe", 1, 200)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let c1 = CaptureId::new("c1").unwrap();
        let part = order()
            .begin(OmOperation::Capture(amt(600).into()), key("k1"), T)
            .unwrap()
            .complete(OmResult::Captured(c1.clone()), T)
            .unwrap();
        assert!(matches!(
            part.clone()
                .begin(OmOperation::Refund(fee_refund()), key("k2"), T),
            Err(LedgerError::ReturnFeeNeedsOneCapture { captures: 1, .. })
        ));
        let info = ShippingInfo::new(ShippingInfoInput::default()).unwrap();
        let other = ShippingInfoUpdate::new(CaptureId::new("c9").unwrap(), vec![info.clone()]);
        assert!(matches!(
            part.clone()
                .begin(OmOperation::AddShippingInfo(other.unwrap()), key("k2"), T),
            Err(LedgerError::UnknownCapture(_))
        ));
        let same = ShippingInfoUpdate::new(c1, vec![info]).unwrap();
        let added = part
            .clone()
            .begin(OmOperation::AddShippingInfo(same), key("k2"), T)
            .unwrap()
            .complete(OmResult::Done, T)
            .unwrap();
        assert_eq!((added.captured(), added.order_amount()), (600, 1_000));
        let full = order()
            .begin(OmOperation::Capture(amt(1_000).into()), key("k1"), T)
            .unwrap()
            .complete(OmResult::Captured(CaptureId::new("c1").unwrap()), T)
            .unwrap()
            .begin(OmOperation::Refund(fee_refund()), key("k2"), T)
            .unwrap()
            .complete(OmResult::Refunded(RefundId::new("r1").unwrap()), T)
            .unwrap();
        assert_eq!(full.refunded(), 100);
    }

    #[test]
    fn restore_checks_the_ledger() {
        let mut parts = order().parts();
        parts.refunds.push(RefundRecord {
            id: RefundId::new("r").unwrap(),
            amount: 1,
            at: T,
            lines: Vec::new(),
            reference: None,
        });
        assert!(ManagedOrder::restore(parts).is_err());
        assert!(ManagedOrder::restore(order().parts()).is_ok());
    }
}
