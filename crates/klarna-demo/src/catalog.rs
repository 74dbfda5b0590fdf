//! The demo shop's products and the carts built from them: prices live on the server only.

use klarna_payments::{Cart, CartError, Interval, Market, Money, OrderLine};

/// A product of the demo shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    /// Stable SKU, also used in element ids (`qty-<sku>`).
    pub sku: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Price in minor units (öre), tax included.
    pub unit_price: i64,
    /// VAT in basis points (`2500` = 25 %).
    pub tax_rate: i64,
    /// Whether the product is a monthly subscription (bought through `tokenize`).
    pub subscription: bool,
}

/// What the shop sells (Sweden, SEK).
pub const PRODUCTS: [Product; 3] = [
    Product {
        sku: "shoe",
        name: "Trail shoe",
        unit_price: 89_900,
        tax_rate: 2_500,
        subscription: false,
    },
    Product {
        sku: "socks",
        name: "Wool socks",
        unit_price: 14_900,
        tax_rate: 2_500,
        subscription: false,
    },
    Product {
        sku: "coffee",
        name: "Coffee beans, monthly",
        unit_price: 19_900,
        tax_rate: 1_200,
        subscription: true,
    },
];

/// The shop's market: Sweden, SEK, Swedish.
///
/// # Errors
/// Never in practice (a fixed, valid combination); the error names the field otherwise.
pub fn market() -> Result<Market, klarna_payments::domain::MarketError> {
    Market::parse("SE", "SEK", "sv-SE")
}

/// Money in the shop's currency.
#[must_use]
pub fn sek(minor: i64) -> Money {
    Money::new(minor, klarna_payments::domain::Currency::Sek)
}

/// Looks a product up by SKU.
#[must_use]
pub fn product(sku: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.sku == sku)
}

/// Why a cart could not be built from a request.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Unknown product.
    #[error("unknown product {0:?}")]
    UnknownProduct(String),
    /// The cart would be empty.
    #[error("the cart is empty: choose at least one item")]
    Empty,
    /// A quantity is outside 0..=99.
    #[error("qty-{sku}: quantity must be between 0 and 99, got {quantity}")]
    Quantity {
        /// The product.
        sku: String,
        /// What was asked for.
        quantity: i64,
    },
    /// Klarna's arithmetic refused the cart (names the field).
    #[error(transparent)]
    Cart(#[from] CartError),
    /// The market does not parse.
    #[error(transparent)]
    Market(#[from] klarna_payments::domain::MarketError),
}

/// A cart from `(sku, quantity)` pairs; quantity 0 lines are left out.
///
/// # Errors
/// [`CatalogError`] naming the product or field.
pub fn cart(items: &[(&str, i64)]) -> Result<Cart, CatalogError> {
    let mut lines = Vec::new();
    for (sku, quantity) in items {
        let p = product(sku).ok_or_else(|| CatalogError::UnknownProduct((*sku).to_owned()))?;
        if !(0..=99).contains(quantity) {
            return Err(CatalogError::Quantity {
                sku: p.sku.to_owned(),
                quantity: *quantity,
            });
        }
        if *quantity == 0 {
            continue;
        }
        let mut b = OrderLine::builder(p.name, *quantity, p.unit_price)
            .tax_rate(p.tax_rate)
            .reference(p.sku);
        if p.subscription {
            b = b.subscription(p.name, Interval::Month, 1);
        }
        lines.push(b.build()?);
    }
    if lines.is_empty() {
        return Err(CatalogError::Empty);
    }
    Ok(Cart::new(market()?, lines)?)
}
