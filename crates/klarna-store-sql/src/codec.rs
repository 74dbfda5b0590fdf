//! Row formats: domain values to column values and back, only through the domain's constructors.

use klarna_domain::order::{
    CaptureRecord, ManagedOrderParts, OmOperation, PendingOm, RefundRecord,
};
use klarna_domain::payment::PendingOp;
use klarna_domain::snapshot::PaymentSnapshot;
use klarna_domain::{
    AnyPayment, CaptureId, Currency, CustomerToken, CustomerTokenId, IdempotencyKey, LineInput,
    ManagedOrder, Market, OmLine, OrderId, OrderStatus, PaymentId, RefundId, ShippingInfo,
    ShippingInfoInput, StageKind, Timestamp, TokenStatus,
};
use klarna_ports::StoreError;
use serde::{Deserialize, Serialize};

use crate::key::Crypto;

/// Lookup-hash domain of authorization tokens.
const AUTH_DOMAIN: &str = "authorization_token";
/// Lookup-hash domain of customer tokens.
const TOKEN_DOMAIN: &str = "customer_token";

pub(crate) fn corrupt(id: impl Into<String>, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.into(),
        reason: reason.to_string(),
    }
}

/// An error and its causes, each layer once (`a: b: c`): a stored record's reason keeps the
/// field a nested error names.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn backend(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(reason.to_string())
}

/// The owner column of `idempotency_keys` for a payment.
pub(crate) fn payment_owner(id: &str) -> String {
    format!("payment:{id}")
}

/// The owner column of `idempotency_keys` for a managed order.
pub(crate) fn order_owner(id: &str) -> String {
    format!("order:{id}")
}

fn payment_aad(id: &str) -> String {
    format!("payments:{id}")
}

fn token_aad(lookup: &str) -> String {
    format!("customer_tokens:{lookup}")
}

/// The columns of a payment row.
#[derive(Debug)]
pub(crate) struct PaymentRow {
    pub(crate) id: String,
    pub(crate) stage: String,
    pub(crate) snapshot: Vec<u8>,
    pub(crate) order_id: Option<String>,
    pub(crate) auth_token_hash: Option<String>,
    pub(crate) pending_key: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) has_pending: bool,
    /// The pending operation's fence (ms): the row is not claimable before it.
    pub(crate) fence_ms: i64,
}

/// The `stage` column's value for a stage (what [`payment_row`] writes and stage queries match).
pub(crate) fn stage_cell(kind: StageKind) -> String {
    format!("{kind:?}")
}

pub(crate) fn payment_row(c: &Crypto, p: &AnyPayment) -> Result<PaymentRow, StoreError> {
    let id = p.id().to_string();
    // The whole snapshot is encrypted: it holds the client token, the authorization token
    // (needed to place the order within 60 minutes) and customer tokens.
    let json = serde_json::to_vec(&p.snapshot()).map_err(backend)?;
    let snapshot = c.seal(&payment_aad(&id), &json).map_err(backend)?;
    Ok(PaymentRow {
        stage: stage_cell(p.kind()),
        snapshot,
        order_id: p.order_id().map(ToString::to_string),
        auth_token_hash: p
            .authorization_token()
            .map(|t| c.lookup(AUTH_DOMAIN, t.expose_secret())),
        pending_key: p.pending_op().map(|o| o.key().to_string()),
        session_id: p.session_id().map(ToString::to_string),
        has_pending: p.pending_op().is_some(),
        fence_ms: p.pending_op().map_or(0, |o| o.fence().unix_millis()),
        id,
    })
}

pub(crate) fn payment_from_row(
    c: &Crypto,
    id: &str,
    snapshot: &[u8],
) -> Result<AnyPayment, StoreError> {
    let json = c
        .open(&payment_aad(id), snapshot)
        .map_err(|e| corrupt(id, e))?;
    // serde's message may quote a value, and the snapshot holds tokens: report only where.
    let snap: PaymentSnapshot = serde_json::from_slice(&json).map_err(|e| {
        corrupt(
            id,
            format!(
                "snapshot does not parse ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        )
    })?;
    let p = snap.restore().map_err(|e| corrupt(id, chain(&e)))?;
    if p.id().as_str() != id {
        return Err(corrupt(id, "the snapshot belongs to another payment"));
    }
    Ok(p)
}

/// A capture or refund record. Records stored before lines were kept have none and load.
#[derive(Serialize, Deserialize)]
struct RecordData {
    id: String,
    amount: i64,
    at: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lines: Vec<LineInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    shipping_info: Vec<ShippingInfoInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
}

fn line_data(lines: &[OmLine]) -> Vec<LineInput> {
    lines.iter().map(|l| l.fields().clone()).collect()
}

fn om_lines(lines: Vec<LineInput>) -> Result<Vec<OmLine>, String> {
    lines
        .into_iter()
        .map(|l| OmLine::from_input(l).map_err(|e| e.to_string()))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct PendingData {
    operation: OmOperation,
    key: String,
    attempts: u32,
    in_doubt: bool,
    started_at: Timestamp,
    /// Until when the caller's call may run (absent in rows written before it existed).
    #[serde(default)]
    fence: Option<Timestamp>,
}

/// The `data` column of a managed order (plain JSON: amounts and Klarna ids, no secrets).
#[derive(Serialize, Deserialize)]
struct OrderData {
    payment_id: String,
    currency: Currency,
    order_amount: i64,
    status: OrderStatus,
    captures: Vec<RecordData>,
    refunds: Vec<RecordData>,
    pending: Option<PendingData>,
    /// Operations begun so far. Absent (or null) in rows written before it existed: such a
    /// row loads with [`legacy_op_seq`], never with 0.
    #[serde(default)]
    op_seq: Option<u32>,
    created_at: Timestamp,
    expires_at: Timestamp,
}

/// Where the operation numbers of an order row without `op_seq` start again.
///
/// Such a row's operations were keyed with numbers we no longer know, and a key is
/// `IdempotencyKeys::key(payment, operation, seq)`: restarting at 0 would send a new capture
/// under the key of one already made, and Klarna would answer by replaying the old capture
/// instead of capturing. `ManagedOrder::begin` raises the number by exactly one per
/// operation begun, so a row can only have reached seq N after N operations, each a call to
/// Klarna within the order's authorization (28 days, extendable). 2^20 (over a million
/// operations on one order) is far beyond anything reachable, so no key already minted for
/// the order can be at or above the floor.
pub(crate) const LEGACY_OP_SEQ_FLOOR: u32 = 1 << 20;

/// The next operation number for an order row without `op_seq` (see
/// [`LEGACY_OP_SEQ_FLOOR`]): the floor plus the captures and refunds recorded. The records
/// move it on if the row ever loses its `op_seq` again (an older build writing it back after
/// this one keyed an operation at the floor): each such operation that completed left one.
fn legacy_op_seq(captures: usize, refunds: usize) -> u32 {
    let recorded = u32::try_from(captures.saturating_add(refunds)).unwrap_or(u32::MAX);
    LEGACY_OP_SEQ_FLOOR.saturating_add(recorded)
}

/// The columns of a managed-order row.
#[derive(Debug)]
pub(crate) struct OrderRow {
    pub(crate) order_id: String,
    pub(crate) data: String,
    pub(crate) pending_key: Option<String>,
    pub(crate) has_pending: bool,
    /// The pending operation's fence (ms): the row is not claimable before it.
    pub(crate) fence_ms: i64,
}

pub(crate) fn order_row(o: &ManagedOrder) -> Result<OrderRow, StoreError> {
    let p = o.parts();
    let data = OrderData {
        payment_id: p.payment_id.to_string(),
        currency: p.currency,
        order_amount: p.order_amount,
        status: p.status,
        captures: p
            .captures
            .iter()
            .map(|c| RecordData {
                id: c.id.to_string(),
                amount: c.amount,
                at: c.at,
                lines: line_data(&c.lines),
                shipping_info: c.shipping_info.iter().map(|s| s.fields().clone()).collect(),
                reference: c.reference.clone(),
            })
            .collect(),
        refunds: p
            .refunds
            .iter()
            .map(|r| RecordData {
                id: r.id.to_string(),
                amount: r.amount,
                at: r.at,
                lines: line_data(&r.lines),
                shipping_info: Vec::new(),
                reference: r.reference.clone(),
            })
            .collect(),
        pending: p.pending.as_ref().map(|pm| PendingData {
            operation: pm.operation.clone(),
            key: pm.op.key().to_string(),
            attempts: pm.op.attempts(),
            in_doubt: pm.op.in_doubt(),
            started_at: pm.op.started_at(),
            fence: Some(pm.op.fence()),
        }),
        op_seq: Some(p.op_seq),
        created_at: p.created_at,
        expires_at: p.expires_at,
    };
    Ok(OrderRow {
        order_id: o.order_id().to_string(),
        data: serde_json::to_string(&data).map_err(backend)?,
        pending_key: o.pending().map(|pm| pm.op.key().to_string()),
        has_pending: o.pending().is_some(),
        fence_ms: o.pending().map_or(0, |p| p.op.fence().unix_millis()),
    })
}

pub(crate) fn order_from_row(order_id: &str, data: &str) -> Result<ManagedOrder, StoreError> {
    let bad = |e: &dyn std::fmt::Display| corrupt(order_id, e);
    let d: OrderData = serde_json::from_str(data).map_err(|e| bad(&e))?;
    let captures = d
        .captures
        .into_iter()
        .map(|c| {
            Ok(CaptureRecord {
                id: CaptureId::new(c.id).map_err(|e| e.to_string())?,
                amount: c.amount,
                at: c.at,
                lines: om_lines(c.lines)?,
                shipping_info: c
                    .shipping_info
                    .into_iter()
                    .map(|s| ShippingInfo::new(s).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
                reference: c.reference,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| bad(&e))?;
    let refunds = d
        .refunds
        .into_iter()
        .map(|r| {
            Ok(RefundRecord {
                id: RefundId::new(r.id).map_err(|e| e.to_string())?,
                amount: r.amount,
                at: r.at,
                lines: om_lines(r.lines)?,
                reference: r.reference,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| bad(&e))?;
    let op_seq = d
        .op_seq
        .unwrap_or_else(|| legacy_op_seq(captures.len(), refunds.len()));
    let pending = match d.pending {
        None => None,
        Some(pd) => Some(PendingOm {
            operation: pd.operation,
            op: PendingOp::restore(
                IdempotencyKey::new(pd.key).map_err(|e| bad(&e))?,
                pd.attempts,
                pd.in_doubt,
                pd.started_at,
            )
            .fenced_until(pd.fence.unwrap_or(pd.started_at)),
        }),
    };
    ManagedOrder::restore(ManagedOrderParts {
        order_id: OrderId::new(order_id).map_err(|e| bad(&e))?,
        payment_id: PaymentId::new(d.payment_id).map_err(|e| bad(&e))?,
        currency: d.currency,
        order_amount: d.order_amount,
        status: d.status,
        captures,
        refunds,
        pending,
        op_seq,
        created_at: d.created_at,
        expires_at: d.expires_at,
    })
    .map_err(|e| bad(&e))
}

/// The `data` column of a customer token (plain JSON: no secret in it).
#[derive(Serialize, Deserialize)]
struct TokenData {
    origin: String,
    country: String,
    currency: String,
    locale: String,
    status: TokenStatus,
    created_at: Timestamp,
}

/// The columns of a customer-token row.
#[derive(Debug)]
pub(crate) struct TokenRow {
    pub(crate) lookup_hash: String,
    pub(crate) token_enc: Vec<u8>,
    pub(crate) data: String,
}

pub(crate) fn token_lookup(c: &Crypto, id: &CustomerTokenId) -> String {
    c.lookup(TOKEN_DOMAIN, id.expose_secret())
}

pub(crate) fn token_row(c: &Crypto, t: &CustomerToken) -> Result<TokenRow, StoreError> {
    let lookup_hash = token_lookup(c, t.id());
    let token_enc = c
        .seal(&token_aad(&lookup_hash), t.id().expose_secret().as_bytes())
        .map_err(backend)?;
    let m = t.market();
    let data = TokenData {
        origin: t.origin().to_string(),
        country: m.country().code().to_owned(),
        currency: m.currency().code().to_owned(),
        locale: m.locale().to_string(),
        status: t.status(),
        created_at: t.created_at(),
    };
    Ok(TokenRow {
        lookup_hash,
        token_enc,
        data: serde_json::to_string(&data).map_err(backend)?,
    })
}

pub(crate) fn token_from_row(
    c: &Crypto,
    lookup_hash: &str,
    token_enc: &[u8],
    data: &str,
) -> Result<CustomerToken, StoreError> {
    // The id in errors is the lookup hash: the clear token never goes into an error or a log.
    let bad = |e: &dyn std::fmt::Display| corrupt(format!("customer_token {lookup_hash}"), e);
    let clear = c
        .open(&token_aad(lookup_hash), token_enc)
        .map_err(|e| bad(&e))?;
    let clear = String::from_utf8(clear).map_err(|e| bad(&e))?;
    let id = CustomerTokenId::new(clear).map_err(|e| bad(&e))?;
    let d: TokenData = serde_json::from_str(data).map_err(|e| bad(&e))?;
    let market = Market::parse(&d.country, &d.currency, &d.locale).map_err(|e| bad(&e))?;
    let origin = PaymentId::new(d.origin).map_err(|e| bad(&e))?;
    Ok(CustomerToken::restore(
        id,
        origin,
        market,
        d.status,
        d.created_at,
    ))
}

#[cfg(test)]
mod tests {
    use klarna_domain::snapshot::RestoreError;
    use klarna_domain::{Cart, Market};

    use super::{chain, payment_from_row, payment_row};
    use crate::key::{Crypto, StoreKey};

    #[test]
    fn a_corrupt_record_keeps_the_field_its_cause_names() {
        let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
        let cause = Cart::new(market, Vec::new()).unwrap_err();
        let field = cause.field().to_string();
        let text = chain(&RestoreError::Cart(cause));
        assert!(
            text.starts_with("stored payment has an invalid cart: "),
            "{text}"
        );
        assert!(text.contains(&field), "{text} names {field}");
        assert_eq!(text.matches("invalid cart").count(), 1, "{text}");
    }

    /// A payment snapshot without `op_seq` never loads as 0 (that would re-mint the payment's
    /// old keys): it is corrupt, named, and the rest of the store goes on.
    #[test]
    fn a_payment_snapshot_without_op_seq_is_corrupt_not_zero() {
        let c = Crypto::new(&StoreKey::generate()).unwrap();
        let p = klarna_ports::contract::ordered(1, "o-1");
        let row = payment_row(&c, &p).unwrap();
        assert!(payment_from_row(&c, &row.id, &row.snapshot).is_ok());
        let mut json: serde_json::Value = serde_json::to_value(p.snapshot()).unwrap();
        assert!(json.as_object_mut().unwrap().remove("op_seq").is_some());
        let sealed = c
            .seal(
                &super::payment_aad(&row.id),
                &serde_json::to_vec(&json).unwrap(),
            )
            .unwrap();
        match payment_from_row(&c, &row.id, &sealed) {
            Err(klarna_ports::StoreError::Corrupt { id, reason }) => {
                assert_eq!(id, row.id);
                assert!(reason.contains("does not parse"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
