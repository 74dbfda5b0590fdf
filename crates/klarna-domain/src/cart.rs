//! Order lines and carts that can only exist when they satisfy Klarna's arithmetic (API.md §1.8).

use std::fmt;

use crate::field::FieldPath;
use crate::market::Market;
use crate::money::{self, Money};

/// Largest absolute `unit_price` / `total_amount` of a line (Payments and OM specs).
pub const MAX_LINE_AMOUNT: i64 = 200_000_000;
/// Most order lines a cart may have.
pub const MAX_LINES: usize = 1_000;

/// What a line is. Klarna's `type` of an order line.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LineKind {
    /// A physical good (Klarna's default reading).
    #[default]
    Physical,
    /// A discount line (negative amounts).
    Discount,
    /// Shipping.
    ShippingFee,
    /// US-style sales tax: the tax of the whole order as one line.
    SalesTax,
    /// A digital good.
    Digital,
    /// A gift card used as payment (negative amounts).
    GiftCard,
    /// Store credit used as payment (negative amounts).
    StoreCredit,
    /// A surcharge.
    Surcharge,
    /// A return fee kept from a refund (negative amounts): Order Management refunds only,
    /// never in a cart.
    ReturnFee,
}

impl LineKind {
    /// Klarna's spelling (`shipping_fee`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Physical => "physical",
            Self::Discount => "discount",
            Self::ShippingFee => "shipping_fee",
            Self::SalesTax => "sales_tax",
            Self::Digital => "digital",
            Self::GiftCard => "gift_card",
            Self::StoreCredit => "store_credit",
            Self::Surcharge => "surcharge",
            Self::ReturnFee => "return_fee",
        }
    }

    /// Parses Klarna's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Physical,
            Self::Discount,
            Self::ShippingFee,
            Self::SalesTax,
            Self::Digital,
            Self::GiftCard,
            Self::StoreCredit,
            Self::Surcharge,
            Self::ReturnFee,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// How often a subscription renews.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Interval {
    /// Daily.
    Day,
    /// Weekly.
    Week,
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

impl Interval {
    /// Klarna's spelling (`MONTH`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
            Self::Year => "YEAR",
        }
    }
    /// Parses Klarna's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Day, Self::Week, Self::Month, Self::Year]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
}

/// The `subscription` of a recurring line.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Subscription {
    /// Name of the subscription, 1..=255 characters.
    pub name: String,
    /// Renewal unit.
    pub interval: Interval,
    /// Units between renewals, at least 1.
    pub interval_count: u32,
}

/// Optional product identifiers (`product_identifiers`).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProductIdentifiers {
    /// Brand, ≤ 70.
    pub brand: Option<String>,
    /// Category path, segments separated by `" > "`, ≤ 750.
    pub category_path: Option<String>,
    /// GTIN/EAN/ISBN/UPC, ≤ 50.
    pub global_trade_item_number: Option<String>,
    /// Manufacturer part number, ≤ 70.
    pub manufacturer_part_number: Option<String>,
    /// Colour, ≤ 64.
    pub color: Option<String>,
    /// Size, ≤ 64.
    pub size: Option<String>,
}

/// An unvalidated order line, field for field as Klarna receives it.
///
/// Turn it into an [`OrderLine`] with [`OrderLine::from_input`], or build a whole cart with
/// [`Cart::from_input`], which names offending fields as `order_lines[i].field`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LineInput {
    /// Line type.
    pub kind: LineKind,
    /// Display name, 1..=255.
    pub name: String,
    /// SKU or article number, ≤ 255.
    pub reference: Option<String>,
    /// Quantity, ≥ 0.
    pub quantity: i64,
    /// Unit (`pcs`): 1..=8 characters in the Payments API, 0..=10 in Order Management
    /// ([`OrderLine::from_om_input`]).
    pub quantity_unit: Option<String>,
    /// Unit price incl. tax, excl. discount, minor units.
    pub unit_price: i64,
    /// Tax rate in basis points, 0..=10000.
    pub tax_rate: i64,
    /// `quantity × unit_price − total_discount_amount`.
    pub total_amount: i64,
    /// Discount incl. tax, ≥ 0.
    pub total_discount_amount: i64,
    /// Tax, within ±1 of the rate formula (ignored for `sales_tax` lines).
    pub total_tax_amount: i64,
    /// Opaque merchant data, ≤ 1024.
    pub merchant_data: Option<String>,
    /// Product page, ≤ 1024.
    pub product_url: Option<String>,
    /// Product image, ≤ 1024.
    pub image_url: Option<String>,
    /// Product identifiers.
    pub product_identifiers: Option<ProductIdentifiers>,
    /// Subscription details for recurring lines.
    pub subscription: Option<Subscription>,
}

/// What is wrong with a field.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Problem {
    /// Required text is empty.
    Empty,
    /// Text longer than allowed.
    TooLong {
        /// Maximum length in characters.
        max: usize,
    },
    /// A number outside its range.
    OutOfRange {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
        /// What was given.
        actual: i64,
    },
    /// A number that must equal a computed value.
    Mismatch {
        /// The computed value.
        expected: i64,
        /// What was given.
        actual: i64,
    },
    /// A tax amount further than ±1 from the rate formula.
    TaxOutOfTolerance {
        /// The tax the formula gives (rounded).
        expected: i64,
        /// What was given.
        actual: i64,
    },
    /// A count outside its range (lines in a cart).
    Count {
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// Arithmetic does not fit in `i64`.
    Overflow,
    /// A recurring intent needs at least one line with a `subscription`.
    SubscriptionRequired {
        /// The intent (`tokenize`, `buy_and_tokenize`).
        intent: &'static str,
    },
    /// A recurring line (a good, physical or digital, on a recurring session or a token
    /// charge) without its `subscription` (API.md §11.7).
    SubscriptionMissing {
        /// The line's name.
        line: String,
    },
    /// Text that is not in the expected form.
    Format {
        /// What was expected (`a colour #RRGGBB`).
        expected: &'static str,
    },
    /// A value Klarna does not accept in this request (e.g. a `return_fee` line in a cart).
    NotAccepted {
        /// Why, in a few words.
        reason: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max } => write!(f, "must be at most {max} characters"),
            Self::OutOfRange { min, max, actual } => {
                write!(f, "is {actual}, must be within {min}..={max}")
            }
            Self::Mismatch { expected, actual } => write!(f, "is {actual}, expected {expected}"),
            Self::TaxOutOfTolerance { expected, actual } => {
                write!(
                    f,
                    "is {actual}, expected {expected} (±1) for the line's total and tax rate"
                )
            }
            Self::Count { min, max, actual } => {
                write!(f, "has {actual} items, must have {min}..={max}")
            }
            Self::Overflow => f.write_str("arithmetic overflow"),
            Self::SubscriptionRequired { intent } => write!(
                f,
                "intent `{intent}` needs at least one line with a subscription"
            ),
            Self::SubscriptionMissing { line } => write!(
                f,
                "line `{line}` is a recurring line and needs a subscription (name, interval, interval_count)"
            ),
            Self::Format { expected } => write!(f, "must be {expected}"),
            Self::NotAccepted { reason } => f.write_str(reason),
        }
    }
}

/// An invalid cart or line: the field to fix and what is wrong with it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct CartError {
    field: FieldPath,
    problem: Problem,
}

impl CartError {
    pub(crate) fn new(field: FieldPath, problem: Problem) -> Self {
        Self { field, problem }
    }
    /// The offending field, e.g. `order_lines[2].total_tax_amount`.
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

/// Field naming for one line: bare names for a lone line, `order_lines[i].` inside a cart.
#[derive(Clone, Copy)]
struct LinePath(Option<usize>);

impl LinePath {
    fn at(self, name: &str) -> FieldPath {
        match self.0 {
            Some(i) => FieldPath::line(i, name),
            None => FieldPath::new(name),
        }
    }
}

fn check_text(
    path: LinePath,
    name: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), CartError> {
    let len = value.chars().count();
    if len < min {
        return Err(CartError::new(path.at(name), Problem::Empty));
    }
    if len > max {
        return Err(CartError::new(path.at(name), Problem::TooLong { max }));
    }
    Ok(())
}

fn check_opt_text(
    path: LinePath,
    name: &str,
    value: Option<&String>,
    min: usize,
    max: usize,
) -> Result<(), CartError> {
    value.map_or(Ok(()), |v| check_text(path, name, v, min, max))
}

fn check_range(
    path: LinePath,
    name: &str,
    actual: i64,
    min: i64,
    max: i64,
) -> Result<(), CartError> {
    if (min..=max).contains(&actual) {
        Ok(())
    } else {
        Err(CartError::new(
            path.at(name),
            Problem::OutOfRange { min, max, actual },
        ))
    }
}

/// A valid order line: its total and tax agree with its price, quantity, discount and rate.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OrderLine(LineInput);

impl OrderLine {
    /// Starts a line of `quantity` × `unit_price` whose total and tax are computed for you.
    #[must_use]
    pub fn builder(name: impl Into<String>, quantity: i64, unit_price: i64) -> LineBuilder {
        LineBuilder(LineInput {
            name: name.into(),
            quantity,
            unit_price,
            ..LineInput::default()
        })
    }

    /// Validates a line given field for field.
    ///
    /// # Errors
    /// A [`CartError`] naming the first offending field (bare name, e.g. `total_tax_amount`).
    pub fn from_input(input: LineInput) -> Result<Self, CartError> {
        validate_line(LinePath(None), &input, LineRules::Payments)?;
        Ok(Self(input))
    }

    /// Validates a line as Order Management takes it (captures, refunds, authorization
    /// updates): the same rules, but `quantity_unit` may be empty and up to 10 characters
    /// (order-management-v1.yml; the Payments API allows 1..=8).
    ///
    /// # Errors
    /// A [`CartError`] naming the first offending field (bare name).
    pub fn from_om_input(input: LineInput) -> Result<Self, CartError> {
        validate_line(LinePath(None), &input, LineRules::OrderManagement)?;
        Ok(Self(input))
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
    /// Name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// Quantity.
    #[must_use]
    pub fn quantity(&self) -> i64 {
        self.0.quantity
    }
    /// Unit price.
    #[must_use]
    pub fn unit_price(&self) -> i64 {
        self.0.unit_price
    }
    /// Tax rate in basis points.
    #[must_use]
    pub fn tax_rate(&self) -> i64 {
        self.0.tax_rate
    }
    /// Line total.
    #[must_use]
    pub fn total_amount(&self) -> i64 {
        self.0.total_amount
    }
    /// Line discount.
    #[must_use]
    pub fn total_discount_amount(&self) -> i64 {
        self.0.total_discount_amount
    }
    /// Line tax.
    #[must_use]
    pub fn total_tax_amount(&self) -> i64 {
        self.0.total_tax_amount
    }
    /// Subscription details, on recurring lines.
    #[must_use]
    pub fn subscription(&self) -> Option<&Subscription> {
        self.0.subscription.as_ref()
    }

    /// What this line adds to the order's tax: its tax, or for a `sales_tax` line its total.
    fn tax_contribution(&self) -> i64 {
        match self.0.kind {
            LineKind::SalesTax => self.0.total_amount,
            LineKind::Physical
            | LineKind::Discount
            | LineKind::ShippingFee
            | LineKind::Digital
            | LineKind::GiftCard
            | LineKind::StoreCredit
            | LineKind::Surcharge
            | LineKind::ReturnFee => self.0.total_tax_amount,
        }
    }
}

/// Builds an [`OrderLine`] whose total and tax are computed from price, quantity, discount and rate.
#[derive(Clone, Debug)]
pub struct LineBuilder(LineInput);

impl LineBuilder {
    /// Sets the line type (default `physical`).
    #[must_use]
    pub fn kind(mut self, kind: LineKind) -> Self {
        self.0.kind = kind;
        self
    }
    /// Sets the tax rate in basis points (`2500` = 25 %).
    #[must_use]
    pub fn tax_rate(mut self, basis_points: i64) -> Self {
        self.0.tax_rate = basis_points;
        self
    }
    /// Sets the tax-inclusive discount on the whole line.
    #[must_use]
    pub fn discount(mut self, amount: i64) -> Self {
        self.0.total_discount_amount = amount;
        self
    }
    /// Sets the SKU.
    #[must_use]
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.0.reference = Some(reference.into());
        self
    }
    /// Sets the quantity unit (`pcs`).
    #[must_use]
    pub fn quantity_unit(mut self, unit: impl Into<String>) -> Self {
        self.0.quantity_unit = Some(unit.into());
        self
    }
    /// Marks the line as a subscription.
    #[must_use]
    pub fn subscription(mut self, name: impl Into<String>, interval: Interval, count: u32) -> Self {
        self.0.subscription = Some(Subscription {
            name: name.into(),
            interval,
            interval_count: count,
        });
        self
    }

    /// Computes total and tax and validates the line.
    ///
    /// # Errors
    /// A [`CartError`] naming the offending field.
    pub fn build(mut self) -> Result<OrderLine, CartError> {
        let path = LinePath(None);
        check_range(path, "tax_rate", self.0.tax_rate, 0, money::MAX_TAX_RATE)?;
        let total = i128::from(self.0.quantity) * i128::from(self.0.unit_price)
            - i128::from(self.0.total_discount_amount);
        let total = i64::try_from(total)
            .map_err(|_| CartError::new(path.at("total_amount"), Problem::Overflow))?;
        self.0.total_amount = total;
        self.0.total_tax_amount = match self.0.kind {
            LineKind::SalesTax => 0,
            LineKind::Physical
            | LineKind::Discount
            | LineKind::ShippingFee
            | LineKind::Digital
            | LineKind::GiftCard
            | LineKind::StoreCredit
            | LineKind::Surcharge
            | LineKind::ReturnFee => money::tax_included(total, self.0.tax_rate)
                .ok_or_else(|| CartError::new(path.at("total_tax_amount"), Problem::Overflow))?,
        };
        OrderLine::from_input(self.0)
    }
}

/// Whose limits a line is checked against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRules {
    /// Payments (and Customer Token) lines: `name` 1..=255, `quantity_unit` ≤ 8, no `return_fee`.
    Payments,
    /// Order Management lines (API.md §4.6, §11.5): `name` 0..=255, `quantity_unit` ≤ 10,
    /// `return_fee` accepted (where it may appear is the request's rule).
    OrderManagement,
}

/// Validates one Order Management line; `index` names it `order_lines[index]` in errors.
pub(crate) fn validate_om_line(index: Option<usize>, l: &LineInput) -> Result<(), CartError> {
    validate_line(LinePath(index), l, LineRules::OrderManagement)
}

fn validate_line(path: LinePath, l: &LineInput, rules: LineRules) -> Result<(), CartError> {
    // `quantity_unit`: 1..=8 characters in the Payments API, 0..=10 in Order Management.
    let (min_name, min_unit, max_unit) = match rules {
        LineRules::Payments => (1, 1, 8),
        LineRules::OrderManagement => (0, 0, 10),
    };
    if rules == LineRules::Payments && l.kind == LineKind::ReturnFee {
        return Err(CartError::new(
            path.at("type"),
            Problem::NotAccepted {
                reason: "return_fee is only accepted on Order Management refunds",
            },
        ));
    }
    check_text(path, "name", &l.name, min_name, 255)?;
    check_opt_text(path, "reference", l.reference.as_ref(), 0, 255)?;
    check_opt_text(
        path,
        "quantity_unit",
        l.quantity_unit.as_ref(),
        min_unit,
        max_unit,
    )?;
    check_opt_text(path, "merchant_data", l.merchant_data.as_ref(), 0, 1024)?;
    check_opt_text(path, "product_url", l.product_url.as_ref(), 0, 1024)?;
    check_opt_text(path, "image_url", l.image_url.as_ref(), 0, 1024)?;
    if let Some(p) = &l.product_identifiers {
        let sub = |name: &str| format!("product_identifiers.{name}");
        check_opt_text(path, &sub("brand"), p.brand.as_ref(), 0, 70)?;
        check_opt_text(
            path,
            &sub("category_path"),
            p.category_path.as_ref(),
            0,
            750,
        )?;
        check_opt_text(
            path,
            &sub("global_trade_item_number"),
            p.global_trade_item_number.as_ref(),
            0,
            50,
        )?;
        check_opt_text(
            path,
            &sub("manufacturer_part_number"),
            p.manufacturer_part_number.as_ref(),
            0,
            70,
        )?;
        check_opt_text(path, &sub("color"), p.color.as_ref(), 0, 64)?;
        check_opt_text(path, &sub("size"), p.size.as_ref(), 0, 64)?;
    }
    if let Some(s) = &l.subscription {
        check_text(path, "subscription.name", &s.name, 1, 255)?;
        check_range(
            path,
            "subscription.interval_count",
            i64::from(s.interval_count),
            1,
            i64::from(u32::MAX),
        )?;
    }
    check_range(path, "quantity", l.quantity, 0, i64::MAX)?;
    check_range(
        path,
        "unit_price",
        l.unit_price,
        -MAX_LINE_AMOUNT,
        MAX_LINE_AMOUNT,
    )?;
    check_range(path, "tax_rate", l.tax_rate, 0, money::MAX_TAX_RATE)?;
    check_range(
        path,
        "total_discount_amount",
        l.total_discount_amount,
        0,
        MAX_LINE_AMOUNT,
    )?;
    check_range(
        path,
        "total_amount",
        l.total_amount,
        -MAX_LINE_AMOUNT,
        MAX_LINE_AMOUNT,
    )?;
    let expected =
        i128::from(l.quantity) * i128::from(l.unit_price) - i128::from(l.total_discount_amount);
    if expected != i128::from(l.total_amount) {
        let expected =
            i64::try_from(expected).unwrap_or(if expected < 0 { i64::MIN } else { i64::MAX });
        return Err(CartError::new(
            path.at("total_amount"),
            Problem::Mismatch {
                expected,
                actual: l.total_amount,
            },
        ));
    }
    match l.kind {
        // A sales-tax line is the tax itself; its own tax fields carry nothing (API.md §1.8, US style).
        LineKind::SalesTax => {
            check_range(path, "tax_rate", l.tax_rate, 0, 0)?;
        }
        LineKind::Physical
        | LineKind::Discount
        | LineKind::ShippingFee
        | LineKind::Digital
        | LineKind::GiftCard
        | LineKind::StoreCredit
        | LineKind::Surcharge
        | LineKind::ReturnFee => {
            if !money::tax_within_tolerance(l.total_amount, l.tax_rate, l.total_tax_amount) {
                let expected = money::tax_included(l.total_amount, l.tax_rate).unwrap_or(0);
                return Err(CartError::new(
                    path.at("total_tax_amount"),
                    Problem::TaxOutOfTolerance {
                        expected,
                        actual: l.total_tax_amount,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// A fingerprint of everything in a cart that an authorization covers.
///
/// Klarna refuses an order whose cart differs from the authorized one (409 "Not matching
/// fields"); comparing fingerprints catches that before any call. FNV-1a 64 over a canonical
/// encoding: stable across releases and platforms, not a security measure.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CartFingerprint(u64);

impl CartFingerprint {
    /// The raw value (for storage).
    #[must_use]
    pub const fn value(self) -> u64 {
        self.0
    }
    /// Rebuilds a stored fingerprint.
    #[must_use]
    pub const fn from_value(v: u64) -> Self {
        Self(v)
    }
}

impl fmt::Debug for CartFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CartFingerprint({:016x})", self.0)
    }
}

impl fmt::Display for CartFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn text(&mut self, s: &str) {
        self.int(i64::try_from(s.len()).unwrap_or(i64::MAX));
        self.bytes(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&String>) {
        match s {
            Some(s) => {
                self.bytes(&[1]);
                self.text(s);
            }
            None => self.bytes(&[0]),
        }
    }
    fn int(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
}

/// A valid cart: a market, 1..=1000 valid lines, and order totals that are exact sums.
///
/// ```
/// use klarna_domain::{Cart, LineKind, Market, OrderLine};
/// let market = Market::parse("SE", "SEK", "sv-SE")?;
/// let cart = Cart::new(market, vec![
///     OrderLine::builder("Trail shoe", 2, 89_900).tax_rate(2_500).discount(10_000).build()?,
///     OrderLine::builder("Delivery", 1, 4_900).kind(LineKind::ShippingFee).tax_rate(2_500).build()?,
/// ])?;
/// assert_eq!((cart.total().minor(), cart.order_tax_amount()), (174_700, 34_940));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Cart {
    market: Market,
    lines: Vec<OrderLine>,
    order_amount: i64,
    order_tax_amount: i64,
}

impl Cart {
    /// A cart of valid lines; the order totals are computed.
    ///
    /// # Errors
    /// `order_lines` when there are 0 or more than 1000 lines; `order_amount` /
    /// `order_tax_amount` when a sum overflows or is negative.
    pub fn new(market: Market, lines: Vec<OrderLine>) -> Result<Self, CartError> {
        let (amount, tax) = Self::sums(&lines)?;
        Self::assemble(market, lines, amount, tax)
    }

    /// Validates a cart given field for field, with the totals the caller declares.
    ///
    /// # Errors
    /// A [`CartError`] naming the first offending field: `order_lines[i].field`,
    /// `order_amount` or `order_tax_amount` (which must be the exact sums).
    pub fn from_input(
        market: Market,
        lines: Vec<LineInput>,
        order_amount: i64,
        order_tax_amount: i64,
    ) -> Result<Self, CartError> {
        let mut valid = Vec::with_capacity(lines.len());
        for (i, l) in lines.into_iter().enumerate() {
            validate_line(LinePath(Some(i)), &l, LineRules::Payments)?;
            valid.push(OrderLine(l));
        }
        let (amount, tax) = Self::sums(&valid)?;
        if order_amount != amount {
            return Err(CartError::new(
                FieldPath::new("order_amount"),
                Problem::Mismatch {
                    expected: amount,
                    actual: order_amount,
                },
            ));
        }
        if order_tax_amount != tax {
            return Err(CartError::new(
                FieldPath::new("order_tax_amount"),
                Problem::Mismatch {
                    expected: tax,
                    actual: order_tax_amount,
                },
            ));
        }
        Self::assemble(market, valid, amount, tax)
    }

    fn sums(lines: &[OrderLine]) -> Result<(i64, i64), CartError> {
        let count = lines.len();
        if !(1..=MAX_LINES).contains(&count) {
            return Err(CartError::new(
                FieldPath::new("order_lines"),
                Problem::Count {
                    min: 1,
                    max: MAX_LINES,
                    actual: count,
                },
            ));
        }
        let overflow = |f: &str| CartError::new(FieldPath::new(f), Problem::Overflow);
        let mut amount: i64 = 0;
        let mut tax: i64 = 0;
        for l in lines {
            amount = amount
                .checked_add(l.total_amount())
                .ok_or_else(|| overflow("order_amount"))?;
            tax = tax
                .checked_add(l.tax_contribution())
                .ok_or_else(|| overflow("order_tax_amount"))?;
        }
        Ok((amount, tax))
    }

    fn assemble(
        market: Market,
        lines: Vec<OrderLine>,
        amount: i64,
        tax: i64,
    ) -> Result<Self, CartError> {
        if amount < 0 {
            return Err(CartError::new(
                FieldPath::new("order_amount"),
                Problem::OutOfRange {
                    min: 0,
                    max: i64::MAX,
                    actual: amount,
                },
            ));
        }
        if tax < 0 {
            return Err(CartError::new(
                FieldPath::new("order_tax_amount"),
                Problem::OutOfRange {
                    min: 0,
                    max: i64::MAX,
                    actual: tax,
                },
            ));
        }
        Ok(Self {
            market,
            lines,
            order_amount: amount,
            order_tax_amount: tax,
        })
    }

    /// This cart plus a US-style `sales_tax` line of `amount` ("Sales Tax", quantity 1).
    ///
    /// # Errors
    /// When the line is invalid (amount out of range) or the cart would exceed 1000 lines.
    pub fn with_sales_tax(self, amount: i64) -> Result<Self, CartError> {
        let line = OrderLine::builder("Sales Tax", 1, amount)
            .kind(LineKind::SalesTax)
            .build()?;
        let mut lines = self.lines;
        lines.push(line);
        Self::new(self.market, lines)
    }

    /// The market.
    #[must_use]
    pub fn market(&self) -> Market {
        self.market
    }
    /// The lines.
    #[must_use]
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    /// Σ line taxes (sales-tax lines count their total), minor units.
    #[must_use]
    pub fn order_tax_amount(&self) -> i64 {
        self.order_tax_amount
    }
    /// The order amount (Σ line totals, Klarna's `order_amount`) as money; `.minor()` for
    /// minor units.
    #[must_use]
    pub fn total(&self) -> Money {
        Money::new(self.order_amount, self.market.currency())
    }
    /// Whether any line carries a subscription (needed for recurring intents).
    #[must_use]
    pub fn has_subscription(&self) -> bool {
        self.lines.iter().any(|l| l.subscription().is_some())
    }

    /// Checks the cart of a `tokenize` session or of a token charge: every good (a `physical` or `digital` line) carries its `subscription`, as
    /// Klarna asks of recurring lines (API.md §11.7). Adjustments (discounts, shipping, tax,
    /// gift cards, store credit, surcharges) need none. A `buy_and_tokenize` cart may hold a
    /// one-off good bought now; there only the lines with a subscription are recurring.
    ///
    /// # Errors
    /// [`Problem::SubscriptionMissing`] on `order_lines[i].subscription`, naming the line.
    pub fn check_recurring(&self) -> Result<(), CartError> {
        for (i, line) in self.lines.iter().enumerate() {
            let good = match line.kind() {
                LineKind::Physical | LineKind::Digital => true,
                LineKind::Discount
                | LineKind::ShippingFee
                | LineKind::SalesTax
                | LineKind::GiftCard
                | LineKind::StoreCredit
                | LineKind::Surcharge
                | LineKind::ReturnFee => false,
            };
            if good && line.subscription().is_none() {
                return Err(CartError::new(
                    FieldPath::line(i, "subscription"),
                    Problem::SubscriptionMissing {
                        line: line.name().to_owned(),
                    },
                ));
            }
        }
        Ok(())
    }

    /// Checks the limits the Customer Token API puts on a token charge's lines (T2,
    /// `customer-token-v1.yml`), tighter than the Payments API's: `unit_price` and
    /// `total_amount` at most 100,000,000 minor units, `merchant_data` at most 255 characters.
    ///
    /// # Errors
    /// [`Problem::OutOfRange`] or [`Problem::TooLong`] on `order_lines[i].<field>`.
    pub fn check_for_token_charge(&self) -> Result<(), CartError> {
        /// T2's `unit_price` and `total_amount` maximum.
        const MAX_T2_AMOUNT: i64 = 100_000_000;
        for (i, line) in self.lines.iter().enumerate() {
            let path = LinePath(Some(i));
            check_range(path, "unit_price", line.unit_price(), 0, MAX_T2_AMOUNT)?;
            check_range(
                path,
                "total_amount",
                line.total_amount(),
                -MAX_T2_AMOUNT,
                MAX_T2_AMOUNT,
            )?;
            check_opt_text(
                path,
                "merchant_data",
                line.fields().merchant_data.as_ref(),
                0,
                255,
            )?;
        }
        Ok(())
    }

    /// The fingerprint of everything an authorization covers: market, lines and totals.
    #[must_use]
    pub fn fingerprint(&self) -> CartFingerprint {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.text(self.market.country().code());
        h.text(self.market.currency().code());
        h.text(&self.market.locale().to_string());
        h.int(self.order_amount);
        h.int(self.order_tax_amount);
        for l in &self.lines {
            let f = l.fields();
            h.text(f.kind.as_str());
            h.text(&f.name);
            h.opt(f.reference.as_ref());
            h.int(f.quantity);
            h.int(f.unit_price);
            h.int(f.tax_rate);
            h.int(f.total_amount);
            h.int(f.total_discount_amount);
            h.int(f.total_tax_amount);
            match &f.subscription {
                Some(s) => {
                    h.text(&s.name);
                    h.text(s.interval.as_str());
                    h.int(i64::from(s.interval_count));
                }
                None => h.bytes(&[0]),
            }
        }
        CartFingerprint(h.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> Market {
        Market::parse("SE", "SEK", "sv-SE").unwrap()
    }

    fn shoe() -> LineInput {
        LineInput {
            name: "Shoe".into(),
            quantity: 2,
            unit_price: 89_900,
            tax_rate: 2_500,
            total_amount: 169_800,
            total_discount_amount: 10_000,
            total_tax_amount: 33_960,
            ..LineInput::default()
        }
    }

    #[test]
    fn order_management_lines_take_quantity_units_of_0_to_10_payments_lines_1_to_8() {
        let with_unit = |unit: &str| LineInput {
            quantity_unit: Some(unit.into()),
            ..shoe()
        };
        for unit in ["", "cartonbox1"] {
            assert!(
                OrderLine::from_om_input(with_unit(unit)).is_ok(),
                "{unit:?}"
            );
            let e = OrderLine::from_input(with_unit(unit)).unwrap_err();
            assert_eq!(e.field().as_str(), "quantity_unit", "{unit:?}");
        }
        assert!(OrderLine::from_input(with_unit("pcs")).is_ok());
        let e = OrderLine::from_om_input(with_unit("cartonbox12")).unwrap_err();
        assert_eq!(e.field().as_str(), "quantity_unit");
        assert_eq!(e.problem(), &Problem::TooLong { max: 10 });
    }

    #[test]
    fn klarna_example_cart_is_valid() {
        let ship = LineInput {
            kind: LineKind::ShippingFee,
            name: "Delivery".into(),
            quantity: 1,
            unit_price: 4_900,
            tax_rate: 2_500,
            total_amount: 4_900,
            total_tax_amount: 980,
            ..LineInput::default()
        };
        let cart = Cart::from_input(market(), vec![shoe(), ship], 174_700, 34_940).unwrap();
        assert_eq!(cart.lines().len(), 2);
        assert_eq!(cart.total().to_string(), "1747.00 SEK");
    }

    #[test]
    fn errors_name_the_field() {
        let mut bad = shoe();
        bad.total_tax_amount = 33_000;
        let err = Cart::from_input(market(), vec![shoe(), bad], 339_600, 66_960).unwrap_err();
        assert_eq!(err.field().as_str(), "order_lines[1].total_tax_amount");
        assert!(
            err.to_string()
                .starts_with("order_lines[1].total_tax_amount: is 33000")
        );

        let mut bad = shoe();
        bad.total_amount = 1;
        let err = Cart::from_input(market(), vec![bad], 1, 0).unwrap_err();
        assert_eq!(err.field().as_str(), "order_lines[0].total_amount");

        let err = Cart::from_input(market(), vec![shoe()], 169_801, 33_960).unwrap_err();
        assert_eq!(err.field().as_str(), "order_amount");
        let err = Cart::from_input(market(), vec![shoe()], 169_800, 33_961).unwrap_err();
        assert_eq!(err.field().as_str(), "order_tax_amount");
        let err = Cart::from_input(market(), vec![], 0, 0).unwrap_err();
        assert_eq!(err.field().as_str(), "order_lines");

        let mut bad = shoe();
        bad.name = String::new();
        assert_eq!(
            OrderLine::from_input(bad).unwrap_err().field().as_str(),
            "name"
        );
    }

    #[test]
    fn us_sales_tax_line() {
        let m = Market::parse("US", "USD", "en-US").unwrap();
        let sub = OrderLine::builder("Coffee box", 1, 2_499)
            .subscription("Coffee", Interval::Month, 1)
            .build()
            .unwrap();
        let cart = Cart::new(m, vec![sub]).unwrap();
        let tax = money::sales_tax(cart.total().minor(), 850).unwrap();
        let cart = cart.with_sales_tax(tax).unwrap();
        assert_eq!(
            (cart.total().minor(), cart.order_tax_amount()),
            (2_711, 212)
        );
        assert!(cart.has_subscription());
    }

    #[test]
    fn fingerprint_tracks_changes() {
        let a = Cart::from_input(market(), vec![shoe()], 169_800, 33_960).unwrap();
        let mut l = shoe();
        l.name = "Shoe 2".into();
        let b = Cart::from_input(market(), vec![l], 169_800, 33_960).unwrap();
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}

#[cfg(test)]
mod recurring_tests {
    use super::*;
    use crate::payment::{Intent, Purchase};

    fn line(name: &str, kind: LineKind, subscription: bool) -> OrderLine {
        let mut b = OrderLine::builder(name, 1, 1_000).kind(kind);
        if subscription {
            b = b.subscription(name, Interval::Month, 1);
        }
        b.build().unwrap()
    }

    fn cart(lines: Vec<OrderLine>) -> Cart {
        Cart::new(Market::parse("SE", "SEK", "sv-SE").unwrap(), lines).unwrap()
    }

    #[test]
    fn a_recurring_good_without_a_subscription_is_named_by_index_and_name() {
        let c = cart(vec![
            line("Coffee", LineKind::Physical, true),
            line("Shipping", LineKind::ShippingFee, false),
            line("Mug", LineKind::Physical, false),
        ]);
        let e = c.check_recurring().unwrap_err();
        assert_eq!(e.field().as_str(), "order_lines[2].subscription");
        assert_eq!(
            e.problem(),
            &Problem::SubscriptionMissing { line: "Mug".into() }
        );
        assert!(e.to_string().contains("`Mug`"), "{e}");
        let e = Purchase::new(Intent::Tokenize, c.clone()).unwrap_err();
        assert_eq!(e.field().as_str(), "order_lines[2].subscription");
        assert!(
            Purchase::new(Intent::BuyAndTokenize, c.clone()).is_ok(),
            "buy_and_tokenize may buy a one-off good now beside the subscription"
        );
        assert!(
            Purchase::new(Intent::Buy, c).is_ok(),
            "a one-time buy needs none"
        );
    }

    #[test]
    fn adjustments_need_no_subscription() {
        let c = cart(vec![
            line("Plan", LineKind::Digital, true),
            line("Shipping", LineKind::ShippingFee, false),
            line("Fee", LineKind::Surcharge, false),
        ]);
        assert!(c.check_recurring().is_ok());
        assert!(Purchase::new(Intent::Tokenize, c).is_ok());
    }
}
