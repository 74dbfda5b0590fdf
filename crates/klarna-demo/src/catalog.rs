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

/// The line of `quantity` units of `p`, at the catalog's price.
fn cart_line(p: &Product, quantity: i64) -> Result<OrderLine, CartError> {
    let mut b = OrderLine::builder(p.name, quantity, p.unit_price)
        .tax_rate(p.tax_rate)
        .reference(p.sku);
    if p.subscription {
        b = b.subscription(p.name, Interval::Month, 1);
    }
    b.build()
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
        lines.push(cart_line(p, *quantity)?);
    }
    if lines.is_empty() {
        return Err(CatalogError::Empty);
    }
    Ok(Cart::new(market()?, lines)?)
}

/// A cart line that this catalog does not make, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Mismatch {
    /// `cart.order_lines[0].unit_price`.
    pub field: String,
    /// Why.
    pub message: String,
}

/// Whether `cart` is one [`cart`] makes: the shop's market, and every line a product (by its
/// `reference`, the SKU) at the catalog's name, price, tax and subscription. What the browser
/// sends back to the Klarna routes is checked with it, so a changed price is refused.
///
/// # Errors
/// The first [`Mismatch`].
pub fn check(cart: &Cart) -> Result<(), Mismatch> {
    let mismatch = |field: String, message: &str| Mismatch {
        field,
        message: message.to_owned(),
    };
    if market().ok() != Some(cart.market()) {
        return Err(mismatch(
            "cart.purchase_country".to_owned(),
            "the shop sells in Sweden, in SEK, in Swedish only",
        ));
    }
    for (i, line) in cart.lines().iter().enumerate() {
        let at = |f: &str| format!("cart.order_lines[{i}].{f}");
        let sku = line.fields().reference.as_deref().unwrap_or_default();
        let Some(p) = product(sku) else {
            return Err(mismatch(at("reference"), "not a product of this shop"));
        };
        let ours =
            cart_line(p, line.quantity()).map_err(|e| mismatch(at("quantity"), &e.to_string()))?;
        for (field, same) in [
            ("name", ours.name() == line.name()),
            ("unit_price", ours.unit_price() == line.unit_price()),
            ("tax_rate", ours.tax_rate() == line.tax_rate()),
            (
                "total_discount_amount",
                ours.total_discount_amount() == line.total_discount_amount(),
            ),
            ("subscription", ours.subscription() == line.subscription()),
            ("type", ours.kind() == line.kind()),
        ] {
            if !same {
                return Err(mismatch(at(field), "differs from the shop's catalog"));
            }
        }
    }
    Ok(())
}
