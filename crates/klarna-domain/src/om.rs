//! Order Management requests as merchants send them: captures and refunds with lines, shipping info, authorization updates and merchant references, each valid by construction under Klarna's OM limits.
//!
//! Limits come from Klarna's OpenAPI document (`order-management-v1.yml`) and API.md §4.2–§4.6
//! and §11: `reference`/`description` ≤ 255, at most 1000 lines and 500 shipping infos,
//! `shipping_company`/`tracking_number` ≤ 100, `tracking_uri` ≤ 1024, OM `quantity_unit` ≤ 10.
//! Where Klarna documents no rule we take the stricter one: lines given with a capture, refund or
//! authorization update must add up to its amount, and a `return_fee` line appears only on a
//! refund.

use crate::cart::{CartError, LineInput, LineKind, OrderLine, Problem, validate_om_line};
use crate::field::FieldPath;
use crate::ids::CaptureId;
use crate::money::{self, Amount};

/// The largest amount of a capture, refund or authorized order (OM spec).
pub const MAX_OM_AMOUNT: i64 = 200_000_000;
/// Most order lines in one OM request.
pub const MAX_OM_LINES: usize = 1_000;
/// Most shipping infos in one OM request.
pub const MAX_SHIPPING_INFO: usize = 500;
/// Longest `reference`, `description` and merchant reference.
pub const MAX_REFERENCE: usize = 255;

/// An invalid Order Management request: the field to fix and what is wrong with it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct OmRequestError {
    field: FieldPath,
    problem: Problem,
}

impl OmRequestError {
    fn new(field: FieldPath, problem: Problem) -> Self {
        Self { field, problem }
    }
    /// The offending field, e.g. `shipping_info[0].tracking_number`.
    #[must_use]
    pub fn field(&self) -> &FieldPath {
        &self.field
    }
    /// What is wrong.
    #[must_use]
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl From<CartError> for OmRequestError {
    fn from(e: CartError) -> Self {
        Self::new(e.field().clone(), e.problem().clone())
    }
}

fn text(field: FieldPath, value: Option<&str>, max: usize) -> Result<(), OmRequestError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(OmRequestError::new(field, Problem::TooLong { max }))
        }
        _ => Ok(()),
    }
}

fn count(name: &str, actual: usize, max: usize) -> Result<(), OmRequestError> {
    if actual > max {
        return Err(OmRequestError::new(
            FieldPath::new(name),
            Problem::Count {
                min: 0,
                max,
                actual,
            },
        ));
    }
    Ok(())
}

/// An Order Management order line: a Payments line's shape under OM limits, and the
/// `return_fee` type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OmLine(LineInput);

impl OmLine {
    /// Validates a line given field for field, under Order Management limits.
    ///
    /// # Errors
    /// A [`CartError`] naming the first offending field (bare name, e.g. `quantity_unit`).
    pub fn from_input(input: LineInput) -> Result<Self, CartError> {
        validate_om_line(None, &input)?;
        Ok(Self(input))
    }

    /// A `return_fee` line keeping `fee` (minor units, positive, tax included at `tax_rate`
    /// basis points) from a refund: one unit at `-fee`, its tax computed.
    ///
    /// # Errors
    /// A [`CartError`] naming `unit_price` (fee not within 1..=200 000 000), `tax_rate` or
    /// `name`.
    pub fn return_fee(name: impl Into<String>, fee: i64, tax_rate: i64) -> Result<Self, CartError> {
        if !(1..=MAX_OM_AMOUNT).contains(&fee) {
            return Err(CartError::new(
                FieldPath::new("unit_price"),
                Problem::OutOfRange {
                    min: -MAX_OM_AMOUNT,
                    max: -1,
                    actual: fee.saturating_neg(),
                },
            ));
        }
        let tax = money::tax_included(-fee, tax_rate).ok_or_else(|| {
            CartError::new(
                FieldPath::new("tax_rate"),
                Problem::OutOfRange {
                    min: 0,
                    max: money::MAX_TAX_RATE,
                    actual: tax_rate,
                },
            )
        })?;
        Self::from_input(LineInput {
            kind: LineKind::ReturnFee,
            name: name.into(),
            quantity: 1,
            unit_price: -fee,
            tax_rate,
            total_amount: -fee,
            total_tax_amount: tax,
            ..LineInput::default()
        })
    }

    /// The line's fields.
    #[must_use]
    pub fn fields(&self) -> &LineInput {
        &self.0
    }
    /// Line type.
    #[must_use]
    pub fn kind(&self) -> LineKind {
        self.0.kind
    }
    /// Line total.
    #[must_use]
    pub fn total_amount(&self) -> i64 {
        self.0.total_amount
    }
}

/// A Payments line is a valid OM line (OM limits are wider).
impl From<OrderLine> for OmLine {
    fn from(line: OrderLine) -> Self {
        Self(line.fields().clone())
    }
}

/// Checks a request's lines: each under OM limits (named `order_lines[i]`), at most
/// [`MAX_OM_LINES`], `return_fee` only where allowed, and Σ totals = `amount` when any are given.
fn check_lines(
    lines: &[OmLine],
    amount: i64,
    amount_field: &str,
    return_fee: bool,
) -> Result<(), OmRequestError> {
    count("order_lines", lines.len(), MAX_OM_LINES)?;
    let mut sum: i128 = 0;
    for (i, l) in lines.iter().enumerate() {
        validate_om_line(Some(i), &l.0)?;
        if !return_fee && l.kind() == LineKind::ReturnFee {
            return Err(OmRequestError::new(
                FieldPath::line(i, "type"),
                Problem::NotAccepted {
                    reason: "return_fee is only accepted on refunds",
                },
            ));
        }
        sum += i128::from(l.total_amount());
    }
    if !lines.is_empty() && sum != i128::from(amount) {
        let expected = i64::try_from(sum).unwrap_or(i64::MAX);
        return Err(OmRequestError::new(
            FieldPath::new(amount_field),
            Problem::Mismatch {
                expected,
                actual: amount,
            },
        ));
    }
    Ok(())
}

/// How a capture is shipped (`shipping_method`, API.md §4.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ShippingMethod {
    /// `PickUpStore`.
    PickUpStore,
    /// `Home`.
    Home,
    /// `BoxReg`.
    BoxReg,
    /// `BoxUnreg`.
    BoxUnreg,
    /// `PickUpPoint`.
    PickUpPoint,
    /// `Own`.
    Own,
    /// `Postal`.
    Postal,
    /// `DHLPackstation`.
    DhlPackstation,
    /// `Digital`.
    Digital,
    /// `Undefined`.
    Undefined,
    /// `PickUpWarehouse`.
    PickUpWarehouse,
    /// `ClickCollect`.
    ClickCollect,
    /// `PalletDelivery`.
    PalletDelivery,
}

impl ShippingMethod {
    /// Every method Klarna documents.
    pub const ALL: [Self; 13] = [
        Self::PickUpStore,
        Self::Home,
        Self::BoxReg,
        Self::BoxUnreg,
        Self::PickUpPoint,
        Self::Own,
        Self::Postal,
        Self::DhlPackstation,
        Self::Digital,
        Self::Undefined,
        Self::PickUpWarehouse,
        Self::ClickCollect,
        Self::PalletDelivery,
    ];

    /// Klarna's spelling (`DHLPackstation`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PickUpStore => "PickUpStore",
            Self::Home => "Home",
            Self::BoxReg => "BoxReg",
            Self::BoxUnreg => "BoxUnreg",
            Self::PickUpPoint => "PickUpPoint",
            Self::Own => "Own",
            Self::Postal => "Postal",
            Self::DhlPackstation => "DHLPackstation",
            Self::Digital => "Digital",
            Self::Undefined => "Undefined",
            Self::PickUpWarehouse => "PickUpWarehouse",
            Self::ClickCollect => "ClickCollect",
            Self::PalletDelivery => "PalletDelivery",
        }
    }

    /// Parses Klarna's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Unvalidated shipping info, field for field as Klarna receives it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShippingInfoInput {
    /// Carrier, ≤ 100 (be specific: `DHL US`, not `DHL`).
    pub shipping_company: Option<String>,
    /// How it ships.
    pub shipping_method: Option<ShippingMethod>,
    /// Tracking number, ≤ 100.
    pub tracking_number: Option<String>,
    /// Tracking page, ≤ 1024.
    pub tracking_uri: Option<String>,
    /// Carrier of the return, ≤ 100.
    pub return_shipping_company: Option<String>,
    /// Tracking number of the return, ≤ 100.
    pub return_tracking_number: Option<String>,
    /// Tracking page of the return, ≤ 1024.
    pub return_tracking_uri: Option<String>,
}

/// Valid shipping info for a capture.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ShippingInfo(ShippingInfoInput);

impl ShippingInfo {
    /// Validates shipping info (bare field names in errors).
    ///
    /// # Errors
    /// An [`OmRequestError`] naming the field that is too long.
    pub fn new(input: ShippingInfoInput) -> Result<Self, OmRequestError> {
        Self::checked(None, input)
    }

    fn checked(index: Option<usize>, input: ShippingInfoInput) -> Result<Self, OmRequestError> {
        let at = |name: &str| match index {
            Some(i) => FieldPath::new(&format!("shipping_info[{i}].{name}")),
            None => FieldPath::new(name),
        };
        let i = &input;
        for (name, value, max) in [
            ("shipping_company", &i.shipping_company, 100),
            ("tracking_number", &i.tracking_number, 100),
            ("tracking_uri", &i.tracking_uri, 1024),
            ("return_shipping_company", &i.return_shipping_company, 100),
            ("return_tracking_number", &i.return_tracking_number, 100),
            ("return_tracking_uri", &i.return_tracking_uri, 1024),
        ] {
            text(at(name), value.as_deref(), max)?;
        }
        Ok(Self(input))
    }

    /// The fields.
    #[must_use]
    pub fn fields(&self) -> &ShippingInfoInput {
        &self.0
    }
}

fn check_shipping(infos: &[ShippingInfo], min: usize) -> Result<(), OmRequestError> {
    if infos.len() < min || infos.len() > MAX_SHIPPING_INFO {
        return Err(OmRequestError::new(
            FieldPath::new("shipping_info"),
            Problem::Count {
                min,
                max: MAX_SHIPPING_INFO,
                actual: infos.len(),
            },
        ));
    }
    for (i, s) in infos.iter().enumerate() {
        ShippingInfo::checked(Some(i), s.0.clone())?;
    }
    Ok(())
}

fn check_texts(reference: Option<&str>, description: Option<&str>) -> Result<(), OmRequestError> {
    text(FieldPath::new("reference"), reference, MAX_REFERENCE)?;
    text(FieldPath::new("description"), description, MAX_REFERENCE)
}

/// A capture (O2): the amount, and what Klarna shows and settles with it.
///
/// `From<Amount>` gives a bare capture of the amount.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "data::CaptureData", try_from = "data::CaptureData")
)]
pub struct CaptureRequest {
    amount: Amount,
    order_lines: Vec<OmLine>,
    shipping_info: Vec<ShippingInfo>,
    reference: Option<String>,
    description: Option<String>,
}

impl CaptureRequest {
    /// Starts a capture of `amount` (minor units of the order's currency).
    #[must_use]
    pub fn builder(amount: Amount) -> CaptureBuilder {
        CaptureBuilder(Self::from(amount))
    }
    /// `captured_amount`.
    #[must_use]
    pub fn amount(&self) -> Amount {
        self.amount
    }
    /// `order_lines` (what was shipped).
    #[must_use]
    pub fn order_lines(&self) -> &[OmLine] {
        &self.order_lines
    }
    /// `shipping_info`.
    #[must_use]
    pub fn shipping_info(&self) -> &[ShippingInfo] {
        &self.shipping_info
    }
    /// `reference` (appears in settlement files).
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    /// `description` (shown to the shopper).
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl From<Amount> for CaptureRequest {
    fn from(amount: Amount) -> Self {
        Self {
            amount,
            order_lines: Vec::new(),
            shipping_info: Vec::new(),
            reference: None,
            description: None,
        }
    }
}

/// Builds a [`CaptureRequest`]; [`CaptureBuilder::build`] validates it.
#[derive(Clone, Debug)]
pub struct CaptureBuilder(CaptureRequest);

impl CaptureBuilder {
    /// Adds an order line (a cart's [`OrderLine`] converts).
    #[must_use]
    pub fn line(mut self, line: impl Into<OmLine>) -> Self {
        self.0.order_lines.push(line.into());
        self
    }
    /// Adds order lines.
    #[must_use]
    pub fn lines<L: Into<OmLine>>(mut self, lines: impl IntoIterator<Item = L>) -> Self {
        self.0.order_lines.extend(lines.into_iter().map(Into::into));
        self
    }
    /// Adds shipping info.
    #[must_use]
    pub fn shipping_info(mut self, info: ShippingInfo) -> Self {
        self.0.shipping_info.push(info);
        self
    }
    /// Sets the `reference`.
    #[must_use]
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.0.reference = Some(reference.into());
        self
    }
    /// Sets the `description`.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.0.description = Some(description.into());
        self
    }
    /// Validates the capture.
    ///
    /// # Errors
    /// An [`OmRequestError`] naming the field: `captured_amount` (over 200 000 000, or not
    /// the sum of the lines), `order_lines[i].*` (a line, or a `return_fee` line),
    /// `shipping_info[i].*`, `reference`, `description`, or a count.
    pub fn build(self) -> Result<CaptureRequest, OmRequestError> {
        let c = self.0;
        check_amount("captured_amount", c.amount.minor())?;
        check_lines(&c.order_lines, c.amount.minor(), "captured_amount", false)?;
        check_shipping(&c.shipping_info, 0)?;
        check_texts(c.reference.as_deref(), c.description.as_deref())?;
        Ok(c)
    }
}

fn check_amount(field: &str, amount: i64) -> Result<(), OmRequestError> {
    if !(0..=MAX_OM_AMOUNT).contains(&amount) {
        return Err(OmRequestError::new(
            FieldPath::new(field),
            Problem::OutOfRange {
                min: 0,
                max: MAX_OM_AMOUNT,
                actual: amount,
            },
        ));
    }
    Ok(())
}

/// A refund (O5): the amount, and the lines it gives back (a `return_fee` line keeps a fee).
///
/// `From<Amount>` gives a bare refund of the amount.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "data::RefundData", try_from = "data::RefundData")
)]
pub struct RefundRequest {
    amount: Amount,
    order_lines: Vec<OmLine>,
    reference: Option<String>,
    description: Option<String>,
}

impl RefundRequest {
    /// Starts a refund of `amount` (minor units; with a return fee, what the shopper gets back).
    #[must_use]
    pub fn builder(amount: Amount) -> RefundBuilder {
        RefundBuilder(Self::from(amount))
    }
    /// `refunded_amount`.
    #[must_use]
    pub fn amount(&self) -> Amount {
        self.amount
    }
    /// `order_lines`.
    #[must_use]
    pub fn order_lines(&self) -> &[OmLine] {
        &self.order_lines
    }
    /// Whether a `return_fee` line is among the lines.
    #[must_use]
    pub fn has_return_fee(&self) -> bool {
        self.order_lines
            .iter()
            .any(|l| l.kind() == LineKind::ReturnFee)
    }
    /// `reference`.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    /// `description`.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl From<Amount> for RefundRequest {
    fn from(amount: Amount) -> Self {
        Self {
            amount,
            order_lines: Vec::new(),
            reference: None,
            description: None,
        }
    }
}

/// Builds a [`RefundRequest`]; [`RefundBuilder::build`] validates it.
#[derive(Clone, Debug)]
pub struct RefundBuilder(RefundRequest);

impl RefundBuilder {
    /// Adds an order line.
    #[must_use]
    pub fn line(mut self, line: impl Into<OmLine>) -> Self {
        self.0.order_lines.push(line.into());
        self
    }
    /// Adds order lines.
    #[must_use]
    pub fn lines<L: Into<OmLine>>(mut self, lines: impl IntoIterator<Item = L>) -> Self {
        self.0.order_lines.extend(lines.into_iter().map(Into::into));
        self
    }
    /// Sets the `reference`.
    #[must_use]
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.0.reference = Some(reference.into());
        self
    }
    /// Sets the `description`.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.0.description = Some(description.into());
        self
    }
    /// Validates the refund.
    ///
    /// # Errors
    /// An [`OmRequestError`] naming the field: `refunded_amount` (over 200 000 000, or not the
    /// sum of the lines, return fee included), `order_lines[i].*`, `reference`,
    /// `description`, or a count.
    pub fn build(self) -> Result<RefundRequest, OmRequestError> {
        let r = self.0;
        check_amount("refunded_amount", r.amount.minor())?;
        check_lines(&r.order_lines, r.amount.minor(), "refunded_amount", true)?;
        check_texts(r.reference.as_deref(), r.description.as_deref())?;
        Ok(r)
    }
}

/// Shipping info added to a capture after it was made (O14).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(
        into = "data::ShippingUpdateData",
        try_from = "data::ShippingUpdateData"
    )
)]
pub struct ShippingInfoUpdate {
    capture: CaptureId,
    shipping_info: Vec<ShippingInfo>,
}

impl ShippingInfoUpdate {
    /// Shipping info (1..=500 entries) for `capture`.
    ///
    /// # Errors
    /// `shipping_info` (count) or `shipping_info[i].*`.
    pub fn new(
        capture: CaptureId,
        shipping_info: Vec<ShippingInfo>,
    ) -> Result<Self, OmRequestError> {
        check_shipping(&shipping_info, 1)?;
        Ok(Self {
            capture,
            shipping_info,
        })
    }
    /// The capture.
    #[must_use]
    pub fn capture(&self) -> &CaptureId {
        &self.capture
    }
    /// The shipping info to append.
    #[must_use]
    pub fn shipping_info(&self) -> &[ShippingInfo] {
        &self.shipping_info
    }
}

/// A new order amount and lines after the order (O10), e.g. an upsell. Klarna runs a new risk
/// check on an increase and may refuse it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(
        into = "data::AuthorizationUpdateData",
        try_from = "data::AuthorizationUpdateData"
    )
)]
pub struct AuthorizationUpdate {
    order_amount: i64,
    order_lines: Vec<OmLine>,
    description: Option<String>,
}

impl AuthorizationUpdate {
    /// The order's new amount (minor units) and its lines, which replace the stored ones
    /// (Klarna deletes stored lines a request omits, so give them all).
    ///
    /// # Errors
    /// `order_amount` (outside 0..=200 000 000, or not the sum of the lines),
    /// `order_lines[i].*` (a line, or a `return_fee` line), `order_lines` (count).
    pub fn new(order_amount: i64, order_lines: Vec<OmLine>) -> Result<Self, OmRequestError> {
        check_amount("order_amount", order_amount)?;
        check_lines(&order_lines, order_amount, "order_amount", false)?;
        Ok(Self {
            order_amount,
            order_lines,
            description: None,
        })
    }
    /// With a `description` (≤ 255).
    ///
    /// # Errors
    /// `description`.
    pub fn with_description(
        mut self,
        description: impl Into<String>,
    ) -> Result<Self, OmRequestError> {
        let d = description.into();
        text(FieldPath::new("description"), Some(&d), MAX_REFERENCE)?;
        self.description = Some(d);
        Ok(self)
    }
    /// `order_amount`.
    #[must_use]
    pub fn order_amount(&self) -> i64 {
        self.order_amount
    }
    /// `order_lines`.
    #[must_use]
    pub fn order_lines(&self) -> &[OmLine] {
        &self.order_lines
    }
    /// `description`.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

/// New merchant references (O11): a given one overwrites, `Some("")` clears it, `None` keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "data::ReferencesData", try_from = "data::ReferencesData")
)]
pub struct MerchantReferences {
    merchant_reference1: Option<String>,
    merchant_reference2: Option<String>,
}

impl MerchantReferences {
    /// The references to set (each ≤ 255 characters).
    ///
    /// # Errors
    /// `merchant_reference1` or `merchant_reference2` too long, or neither given.
    pub fn new(
        merchant_reference1: Option<String>,
        merchant_reference2: Option<String>,
    ) -> Result<Self, OmRequestError> {
        text(
            FieldPath::new("merchant_reference1"),
            merchant_reference1.as_deref(),
            MAX_REFERENCE,
        )?;
        text(
            FieldPath::new("merchant_reference2"),
            merchant_reference2.as_deref(),
            MAX_REFERENCE,
        )?;
        if merchant_reference1.is_none() && merchant_reference2.is_none() {
            return Err(OmRequestError::new(
                FieldPath::new("merchant_reference1"),
                Problem::Empty,
            ));
        }
        Ok(Self {
            merchant_reference1,
            merchant_reference2,
        })
    }
    /// `merchant_reference1`.
    #[must_use]
    pub fn merchant_reference1(&self) -> Option<&str> {
        self.merchant_reference1.as_deref()
    }
    /// `merchant_reference2`.
    #[must_use]
    pub fn merchant_reference2(&self) -> Option<&str> {
        self.merchant_reference2.as_deref()
    }
}

#[cfg(feature = "serde")]
mod data {
    //! The storage form of the requests (a pending operation persists its request), rebuilt
    //! through the constructors above. A capture or refund stored before lines existed is a
    //! bare amount and still loads.

    use serde::{Deserialize, Serialize};

    use super::{
        AuthorizationUpdate, CaptureRequest, MerchantReferences, OmLine, RefundRequest,
        ShippingInfo, ShippingInfoInput, ShippingInfoUpdate,
    };
    use crate::cart::LineInput;
    use crate::ids::CaptureId;
    use crate::money::Amount;

    fn lines(l: &[OmLine]) -> Vec<LineInput> {
        l.iter().map(|l| l.fields().clone()).collect()
    }
    fn om_lines(l: Vec<LineInput>) -> Result<Vec<OmLine>, String> {
        l.into_iter()
            .map(|l| OmLine::from_input(l).map_err(|e| e.to_string()))
            .collect()
    }
    fn infos(s: &[ShippingInfo]) -> Vec<ShippingInfoInput> {
        s.iter().map(|s| s.fields().clone()).collect()
    }
    fn shipping(s: Vec<ShippingInfoInput>) -> Result<Vec<ShippingInfo>, String> {
        s.into_iter()
            .map(|s| ShippingInfo::new(s).map_err(|e| e.to_string()))
            .collect()
    }

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum CaptureData {
        Bare(Amount),
        Full {
            amount: Amount,
            #[serde(default)]
            order_lines: Vec<LineInput>,
            #[serde(default)]
            shipping_info: Vec<ShippingInfoInput>,
            #[serde(default)]
            reference: Option<String>,
            #[serde(default)]
            description: Option<String>,
        },
    }

    impl From<CaptureRequest> for CaptureData {
        fn from(c: CaptureRequest) -> Self {
            Self::Full {
                amount: c.amount,
                order_lines: lines(&c.order_lines),
                shipping_info: infos(&c.shipping_info),
                reference: c.reference,
                description: c.description,
            }
        }
    }

    impl TryFrom<CaptureData> for CaptureRequest {
        type Error = String;
        fn try_from(d: CaptureData) -> Result<Self, String> {
            match d {
                CaptureData::Bare(a) => Ok(Self::from(a)),
                CaptureData::Full {
                    amount,
                    order_lines,
                    shipping_info,
                    reference,
                    description,
                } => {
                    let mut b = Self::builder(amount).lines(om_lines(order_lines)?);
                    for s in shipping(shipping_info)? {
                        b = b.shipping_info(s);
                    }
                    if let Some(r) = reference {
                        b = b.reference(r);
                    }
                    if let Some(d) = description {
                        b = b.description(d);
                    }
                    b.build().map_err(|e| e.to_string())
                }
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum RefundData {
        Bare(Amount),
        Full {
            amount: Amount,
            #[serde(default)]
            order_lines: Vec<LineInput>,
            #[serde(default)]
            reference: Option<String>,
            #[serde(default)]
            description: Option<String>,
        },
    }

    impl From<RefundRequest> for RefundData {
        fn from(r: RefundRequest) -> Self {
            Self::Full {
                amount: r.amount,
                order_lines: lines(&r.order_lines),
                reference: r.reference,
                description: r.description,
            }
        }
    }

    impl TryFrom<RefundData> for RefundRequest {
        type Error = String;
        fn try_from(d: RefundData) -> Result<Self, String> {
            match d {
                RefundData::Bare(a) => Ok(Self::from(a)),
                RefundData::Full {
                    amount,
                    order_lines,
                    reference,
                    description,
                } => {
                    let mut b = Self::builder(amount).lines(om_lines(order_lines)?);
                    if let Some(r) = reference {
                        b = b.reference(r);
                    }
                    if let Some(d) = description {
                        b = b.description(d);
                    }
                    b.build().map_err(|e| e.to_string())
                }
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct ShippingUpdateData {
        capture: String,
        shipping_info: Vec<ShippingInfoInput>,
    }

    impl From<ShippingInfoUpdate> for ShippingUpdateData {
        fn from(u: ShippingInfoUpdate) -> Self {
            Self {
                capture: u.capture.to_string(),
                shipping_info: infos(&u.shipping_info),
            }
        }
    }

    impl TryFrom<ShippingUpdateData> for ShippingInfoUpdate {
        type Error = String;
        fn try_from(d: ShippingUpdateData) -> Result<Self, String> {
            let capture = CaptureId::new(d.capture).map_err(|e| e.to_string())?;
            Self::new(capture, shipping(d.shipping_info)?).map_err(|e| e.to_string())
        }
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct AuthorizationUpdateData {
        order_amount: i64,
        order_lines: Vec<LineInput>,
        #[serde(default)]
        description: Option<String>,
    }

    impl From<AuthorizationUpdate> for AuthorizationUpdateData {
        fn from(u: AuthorizationUpdate) -> Self {
            Self {
                order_amount: u.order_amount,
                order_lines: lines(&u.order_lines),
                description: u.description,
            }
        }
    }

    impl TryFrom<AuthorizationUpdateData> for AuthorizationUpdate {
        type Error = String;
        fn try_from(d: AuthorizationUpdateData) -> Result<Self, String> {
            let u =
                Self::new(d.order_amount, om_lines(d.order_lines)?).map_err(|e| e.to_string())?;
            match d.description {
                Some(text) => u.with_description(text).map_err(|e| e.to_string()),
                None => Ok(u),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct ReferencesData {
        merchant_reference1: Option<String>,
        merchant_reference2: Option<String>,
    }

    impl From<MerchantReferences> for ReferencesData {
        fn from(r: MerchantReferences) -> Self {
            Self {
                merchant_reference1: r.merchant_reference1,
                merchant_reference2: r.merchant_reference2,
            }
        }
    }

    impl TryFrom<ReferencesData> for MerchantReferences {
        type Error = String;
        fn try_from(d: ReferencesData) -> Result<Self, String> {
            Self::new(d.merchant_reference1, d.merchant_reference2).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(minor: i64) -> Amount {
        Amount::new(minor).unwrap()
    }
    fn shoe() -> OrderLine {
        OrderLine::builder("Shoe", 1, 10_000)
            .tax_rate(2_500)
            .build()
            .unwrap()
    }
    fn info(input: ShippingInfoInput) -> Result<ShippingInfo, OmRequestError> {
        ShippingInfo::new(input)
    }

    #[test]
    fn capture_lines_must_add_up_to_the_amount() {
        let ok = CaptureRequest::builder(amt(10_000)).line(shoe()).build();
        assert_eq!(ok.unwrap().order_lines().len(), 1);
        let err = CaptureRequest::builder(amt(9_999))
            .line(shoe())
            .build()
            .unwrap_err();
        assert_eq!(err.field().as_str(), "captured_amount");
        assert_eq!(
            err.problem(),
            &Problem::Mismatch {
                expected: 10_000,
                actual: 9_999
            }
        );
        // No lines: nothing to add up.
        assert!(CaptureRequest::builder(amt(1)).build().is_ok());
    }

    #[test]
    fn a_return_fee_only_goes_on_a_refund() {
        let fee = OmLine::return_fee("Return fee", 2_000, 2_500).unwrap();
        assert_eq!(
            (fee.total_amount(), fee.fields().total_tax_amount),
            (-2_000, -400)
        );
        let refund = RefundRequest::builder(amt(8_000))
            .line(shoe())
            .line(fee.clone())
            .build()
            .unwrap();
        assert!(refund.has_return_fee());
        let err = RefundRequest::builder(amt(10_000))
            .line(shoe())
            .line(fee.clone())
            .build()
            .unwrap_err();
        assert_eq!(err.field().as_str(), "refunded_amount");
        let err = CaptureRequest::builder(amt(8_000))
            .line(shoe())
            .line(fee.clone())
            .build()
            .unwrap_err();
        assert_eq!(err.field().as_str(), "order_lines[1].type");
        let err = AuthorizationUpdate::new(8_000, vec![shoe().into(), fee]).unwrap_err();
        assert_eq!(err.field().as_str(), "order_lines[1].type");
        assert_eq!(
            OmLine::return_fee("Fee", 0, 0)
                .unwrap_err()
                .field()
                .as_str(),
            "unit_price"
        );
        // A cart never takes one.
        let cart_line = OrderLine::builder("Fee", 1, -100)
            .kind(LineKind::ReturnFee)
            .build();
        assert_eq!(cart_line.unwrap_err().field().as_str(), "type");
    }

    #[test]
    fn om_quantity_unit_allows_ten_characters() {
        let mut input = shoe().fields().clone();
        input.quantity_unit = Some("x".repeat(10));
        assert!(OrderLine::from_input(input.clone()).is_err());
        assert!(OmLine::from_input(input.clone()).is_ok());
        input.quantity_unit = Some("x".repeat(11));
        assert_eq!(
            OmLine::from_input(input).unwrap_err().field().as_str(),
            "quantity_unit"
        );
    }

    #[test]
    fn references_and_shipping_limits_name_the_field() {
        let err = CaptureRequest::builder(amt(1))
            .reference("r".repeat(256))
            .build()
            .unwrap_err();
        assert_eq!(err.field().as_str(), "reference");
        assert!(
            CaptureRequest::builder(amt(1))
                .reference("r".repeat(255))
                .description("d".repeat(255))
                .build()
                .is_ok()
        );
        let err = RefundRequest::builder(amt(1))
            .description("d".repeat(256))
            .build()
            .unwrap_err();
        assert_eq!(err.field().as_str(), "description");
        for (field, input) in [
            (
                "tracking_number",
                ShippingInfoInput {
                    tracking_number: Some("1".repeat(101)),
                    ..ShippingInfoInput::default()
                },
            ),
            (
                "tracking_uri",
                ShippingInfoInput {
                    tracking_uri: Some("u".repeat(1025)),
                    ..ShippingInfoInput::default()
                },
            ),
            (
                "shipping_company",
                ShippingInfoInput {
                    shipping_company: Some("c".repeat(101)),
                    ..ShippingInfoInput::default()
                },
            ),
            (
                "return_tracking_uri",
                ShippingInfoInput {
                    return_tracking_uri: Some("u".repeat(1025)),
                    ..ShippingInfoInput::default()
                },
            ),
        ] {
            assert_eq!(info(input).unwrap_err().field().as_str(), field);
        }
        let ok = info(ShippingInfoInput {
            tracking_number: Some("1".repeat(100)),
            tracking_uri: Some("u".repeat(1024)),
            ..ShippingInfoInput::default()
        });
        assert!(ok.is_ok());
        let capture = CaptureId::new("c").unwrap();
        let err = ShippingInfoUpdate::new(capture, Vec::new()).unwrap_err();
        assert_eq!(err.field().as_str(), "shipping_info");
        let err = MerchantReferences::new(Some("m".repeat(256)), None).unwrap_err();
        assert_eq!(err.field().as_str(), "merchant_reference1");
        let err = MerchantReferences::new(None, Some("m".repeat(256))).unwrap_err();
        assert_eq!(err.field().as_str(), "merchant_reference2");
        assert!(MerchantReferences::new(None, None).is_err());
        assert_eq!(
            AuthorizationUpdate::new(MAX_OM_AMOUNT + 1, Vec::new())
                .unwrap_err()
                .field()
                .as_str(),
            "order_amount"
        );
    }

    #[test]
    fn shipping_methods_round_trip() {
        for m in ShippingMethod::ALL {
            assert_eq!(ShippingMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(
            ShippingMethod::parse("DHLPackstation"),
            Some(ShippingMethod::DhlPackstation)
        );
        assert_eq!(ShippingMethod::parse("Drone"), None);
    }
}
