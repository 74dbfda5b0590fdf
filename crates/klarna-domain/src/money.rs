//! Money in integer minor units, and the tax arithmetic Klarna checks (API.md §1.8).

use std::fmt;

use crate::market::Currency;

/// An amount in minor units of a currency (`2500` SEK = 25.00 SEK).
///
/// Klarna's amounts are `i64` minor units; discount and gift-card lines are negative.
/// There are no floats anywhere in this crate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` minor units of `currency`.
    #[must_use]
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
    /// The amount in minor units.
    #[must_use]
    pub const fn minor(&self) -> i64 {
        self.minor
    }
    /// The currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    /// `1747.00 SEK`, `-100.50 EUR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale = 10_u64.pow(self.currency.exponent());
        write!(
            f,
            "{sign}{}.{:02} {}",
            abs / scale,
            abs % scale,
            self.currency
        )
    }
}

/// A positive amount in minor units: what a capture or refund takes (the currency is the
/// order's). Parse, don't validate: an `Amount` that exists is at least one minor unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "i64", into = "i64")
)]
pub struct Amount(i64);

impl From<Amount> for i64 {
    fn from(amount: Amount) -> Self {
        amount.0
    }
}

/// An amount that is not positive.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("amount: is {0}, must be at least 1 minor unit")]
pub struct NotPositive(pub i64);

impl Amount {
    /// `minor` minor units.
    ///
    /// # Errors
    /// [`NotPositive`] for zero or less.
    pub const fn new(minor: i64) -> Result<Self, NotPositive> {
        if minor < 1 {
            Err(NotPositive(minor))
        } else {
            Ok(Self(minor))
        }
    }
    /// The amount in minor units.
    #[must_use]
    pub const fn minor(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Amount {
    type Error = NotPositive;
    fn try_from(minor: i64) -> Result<Self, NotPositive> {
        Self::new(minor)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod amount_tests {
    use super::*;

    #[test]
    fn an_amount_is_positive() {
        assert_eq!(Amount::new(0), Err(NotPositive(0)));
        assert_eq!(Amount::new(-5), Err(NotPositive(-5)));
        assert_eq!(Amount::new(1).map(Amount::minor), Ok(1));
        assert_eq!(
            NotPositive(0).to_string(),
            "amount: is 0, must be at least 1 minor unit"
        );
    }
}

/// Tax rates in basis points with two implicit decimals: `2500` = 25 %.
pub const MAX_TAX_RATE: i64 = 10_000;

/// The tax contained in a tax-inclusive `total_amount` at `tax_rate` basis points, rounded
/// half away from zero: `total × rate / (10000 + rate)`.
///
/// This is the value Klarna's formula `total − total × 10000 / (10000 + rate)` approximates;
/// Klarna accepts any `total_tax_amount` within ±1 of it.
///
/// Returns `None` when `tax_rate` is outside `0..=10000`.
#[must_use]
pub fn tax_included(total_amount: i64, tax_rate: i64) -> Option<i64> {
    if !(0..=MAX_TAX_RATE).contains(&tax_rate) {
        return None;
    }
    let n = i128::from(total_amount) * i128::from(tax_rate);
    let d = i128::from(MAX_TAX_RATE + tax_rate);
    let rounded = (2 * n + n.signum() * d) / (2 * d);
    i64::try_from(rounded).ok()
}

/// Whether `total_tax_amount` is within ±1 of the exact tax contained in `total_amount` at
/// `tax_rate` (Klarna's tolerance, API.md §1.8). Exact rational arithmetic, no rounding.
#[must_use]
pub fn tax_within_tolerance(total_amount: i64, tax_rate: i64, total_tax_amount: i64) -> bool {
    if !(0..=MAX_TAX_RATE).contains(&tax_rate) {
        return false;
    }
    let d = i128::from(MAX_TAX_RATE + tax_rate);
    let diff = i128::from(total_tax_amount) * d - i128::from(total_amount) * i128::from(tax_rate);
    diff.abs() <= d
}

/// US sales tax on a tax-exclusive `taxable` amount at `rate` basis points, rounded half away
/// from zero. Add it to a cart with [`crate::Cart::with_sales_tax`].
///
/// Returns `None` when `rate` is outside `0..=10000`.
#[must_use]
pub fn sales_tax(taxable: i64, rate: i64) -> Option<i64> {
    if !(0..=MAX_TAX_RATE).contains(&rate) {
        return None;
    }
    let n = i128::from(taxable) * i128::from(rate);
    let d = i128::from(MAX_TAX_RATE);
    i64::try_from((2 * n + n.signum() * d) / (2 * d)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klarna_worked_example() {
        assert_eq!(tax_included(169_800, 2_500), Some(33_960));
        assert_eq!(tax_included(4_900, 2_500), Some(980));
        assert_eq!(tax_included(-10_000, 2_500), Some(-2_000));
        assert_eq!(tax_included(100, 10_001), None);
        assert!(tax_within_tolerance(169_800, 2_500, 33_961));
        assert!(tax_within_tolerance(169_800, 2_500, 33_959));
        assert!(!tax_within_tolerance(169_800, 2_500, 33_962));
        assert!(tax_within_tolerance(0, 0, 0));
        assert!(!tax_within_tolerance(1000, 0, 2));
    }

    #[test]
    fn sales_tax_rounds() {
        assert_eq!(sales_tax(2_499, 850), Some(212));
        assert_eq!(sales_tax(0, 850), Some(0));
    }

    #[test]
    fn money_displays_major_units() {
        assert_eq!(
            Money::new(174_700, Currency::Sek).to_string(),
            "1747.00 SEK"
        );
        assert_eq!(Money::new(-5, Currency::Eur).to_string(), "-0.05 EUR");
    }
}
