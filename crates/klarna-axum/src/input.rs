//! The JSON the browser sends, as serde types that turn into the domain's `Cart`, `OrderLine` and `MerchantData` through their constructors, errors naming the field.

use klarna_payments::{
    Cart, CartError, Intent, Interval, LineKind, Market, MerchantData, MerchantDataError,
    OrderLine, Purchase,
};
use serde::Deserialize;

use crate::ApiError;

/// `POST /payments`: a new payment for the shopper's cart.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartPayment {
    /// `buy`, `tokenize` or `buy_and_tokenize`.
    pub(crate) intent: String,
    /// The cart.
    pub(crate) cart: CartInput,
    /// The shop's references for the payment.
    #[serde(default)]
    pub(crate) merchant: Option<MerchantInput>,
}

/// `PUT /payments/{id}/cart`: the new cart.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateCart {
    /// The cart.
    pub(crate) cart: CartInput,
}

/// A cart as JSON: the market and the lines; totals and taxes are computed, and checked when
/// the line declares them.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CartInput {
    /// `SE`.
    pub(crate) purchase_country: String,
    /// `SEK`.
    pub(crate) purchase_currency: String,
    /// `sv-SE`.
    pub(crate) locale: String,
    /// The lines.
    pub(crate) order_lines: Vec<LineJson>,
}

/// One order line as JSON, in Klarna's field names; amounts in minor units.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineJson {
    /// `physical` (default), `digital`, `shipping_fee`, `discount`, …
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// Display name.
    pub(crate) name: String,
    /// SKU.
    #[serde(default)]
    pub(crate) reference: Option<String>,
    /// Quantity.
    pub(crate) quantity: i64,
    /// `pcs`.
    #[serde(default)]
    pub(crate) quantity_unit: Option<String>,
    /// Unit price incl. tax.
    pub(crate) unit_price: i64,
    /// Basis points (`2500` = 25 %).
    #[serde(default)]
    pub(crate) tax_rate: i64,
    /// Discount incl. tax on the whole line.
    #[serde(default)]
    pub(crate) total_discount_amount: i64,
    /// When given, must equal the computed total.
    #[serde(default)]
    pub(crate) total_amount: Option<i64>,
    /// When given, must be within the domain's tolerance of the computed tax.
    #[serde(default)]
    pub(crate) total_tax_amount: Option<i64>,
    /// Opaque merchant data.
    #[serde(default)]
    pub(crate) merchant_data: Option<String>,
    /// Product page.
    #[serde(default)]
    pub(crate) product_url: Option<String>,
    /// Product image.
    #[serde(default)]
    pub(crate) image_url: Option<String>,
    /// For recurring lines.
    #[serde(default)]
    pub(crate) subscription: Option<SubscriptionJson>,
}

/// A line's `subscription`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionJson {
    /// Name shown to the shopper.
    pub(crate) name: String,
    /// `DAY`, `WEEK`, `MONTH`, `YEAR`.
    pub(crate) interval: String,
    /// Units between renewals.
    pub(crate) interval_count: u32,
}

/// The shop's references Klarna shows the shopper.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct MerchantInput {
    /// The shop's order number (`merchant_reference1`, shown to the shopper).
    #[serde(default)]
    pub(crate) order_number: Option<String>,
    /// `merchant_reference2` (settlement files).
    #[serde(default)]
    pub reference2: Option<String>,
    /// Opaque merchant data.
    #[serde(default)]
    pub(crate) merchant_data: Option<String>,
}

/// `POST /payments/{id}/complete`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompletePayment {
    /// What `Klarna.Payments.authorize` (or `finalize`) answered.
    pub(crate) authorization_token: String,
}

/// Klarna's authorization callback (API.md §1.10).
#[derive(Deserialize)]
pub(crate) struct AuthorizationCallback {
    /// The new authorization token.
    pub(crate) authorization_token: String,
    /// Klarna's session id.
    pub(crate) session_id: String,
}

/// Klarna's order notification (API.md §1.10): only a hint, the order is re-read.
#[derive(Deserialize, Debug)]
pub(crate) struct OrderNotification {
    /// Klarna's order id.
    pub(crate) order_id: String,
    /// `FRAUD_RISK_ACCEPTED`, `FRAUD_RISK_REJECTED`, `FRAUD_RISK_STOPPED`, or one we do not
    /// know: the read decides, not the event.
    #[serde(default)]
    pub(crate) event_type: Option<String>,
}

fn cart_error(prefix: &str, e: &CartError) -> ApiError {
    ApiError::invalid(format!("{prefix}{}", e.field()), e.problem())
}

fn merchant_error(e: &MerchantDataError) -> ApiError {
    ApiError::invalid(format!("merchant.{}", e.field()), e.problem())
}

impl LineJson {
    fn into_line(self, index: usize) -> Result<OrderLine, ApiError> {
        let at = |f: &str| format!("cart.order_lines[{index}].{f}");
        let mut b = OrderLine::builder(self.name, self.quantity, self.unit_price)
            .tax_rate(self.tax_rate)
            .discount(self.total_discount_amount);
        if let Some(kind) = self.kind {
            let k = LineKind::parse(&kind).ok_or_else(|| {
                ApiError::invalid(
                    at("type"),
                    "is not a Klarna order line type (`physical`, …)",
                )
            })?;
            b = b.kind(k);
        }
        if let Some(r) = self.reference {
            b = b.reference(r);
        }
        if let Some(u) = self.quantity_unit {
            b = b.quantity_unit(u);
        }
        if let Some(s) = self.subscription {
            let interval = Interval::parse(&s.interval).ok_or_else(|| {
                ApiError::invalid(
                    at("subscription.interval"),
                    "must be DAY, WEEK, MONTH or YEAR",
                )
            })?;
            b = b.subscription(s.name, interval, s.interval_count);
        }
        let prefix = format!("cart.order_lines[{index}].");
        let built = b.build().map_err(|e| cart_error(&prefix, &e))?;
        let extra = self.total_amount.is_some()
            || self.total_tax_amount.is_some()
            || self.merchant_data.is_some()
            || self.product_url.is_some()
            || self.image_url.is_some();
        if !extra {
            return Ok(built);
        }
        // Declared totals and the fields the builder has no setter for go through the
        // validating constructor, which checks them against the computed ones.
        let mut fields = built.fields().clone();
        if let Some(t) = self.total_amount {
            fields.total_amount = t;
        }
        if let Some(t) = self.total_tax_amount {
            fields.total_tax_amount = t;
        }
        fields.merchant_data = self.merchant_data;
        fields.product_url = self.product_url;
        fields.image_url = self.image_url;
        OrderLine::from_input(fields).map_err(|e| cart_error(&prefix, &e))
    }
}

impl CartInput {
    /// The domain's cart, validated by its constructors.
    ///
    /// # Errors
    /// [`ApiError::InvalidInput`] naming the field (`cart.order_lines[1].tax_rate`).
    pub(crate) fn into_cart(self) -> Result<Cart, ApiError> {
        let market = Market::parse(
            &self.purchase_country,
            &self.purchase_currency,
            &self.locale,
        )
        .map_err(|e| ApiError::invalid(format!("cart.{}", e.field()), &e))?;
        let lines = self
            .order_lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| l.into_line(i))
            .collect::<Result<Vec<_>, _>>()?;
        Cart::new(market, lines).map_err(|e| cart_error("cart.", &e))
    }
}

impl StartPayment {
    /// The domain's purchase.
    ///
    /// # Errors
    /// [`ApiError::InvalidInput`] naming the field.
    pub(crate) fn into_purchase(self) -> Result<Purchase, ApiError> {
        let intent = Intent::parse(&self.intent).ok_or_else(|| {
            ApiError::invalid(
                "intent".to_owned(),
                "must be buy, tokenize or buy_and_tokenize",
            )
        })?;
        let cart = self.cart.into_cart()?;
        let purchase = Purchase::new(intent, cart).map_err(|e| cart_error("cart.", &e))?;
        let Some(m) = self.merchant else {
            return Ok(purchase);
        };
        let mut b = MerchantData::builder();
        if let Some(v) = m.order_number {
            b = b.order_number(v);
        }
        if let Some(v) = m.reference2 {
            b = b.reference2(v);
        }
        if let Some(v) = m.merchant_data {
            b = b.merchant_data(v);
        }
        b.build()
            .and_then(|data| purchase.with_merchant(data))
            .map_err(|e| merchant_error(&e))
    }
}
