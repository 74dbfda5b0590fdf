//! Order lines (API.md §1.8): each line's ranges and arithmetic, the list, and the limits that
//! differ per API.

use serde_json::{Map, Value};

use super::{BadValue, Check, bad, opt_enum, opt_i64, opt_obj, opt_str, path, req_i64, req_str};

/// Which API's limits apply to order lines (they differ, API.md §9 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineLimits {
    /// Payments API v1.
    Payments,
    /// Customer Token API v1.
    CustomerToken,
    /// Order Management API v1.
    OrderManagement,
}

impl LineLimits {
    fn max_amount(self) -> i64 {
        match self {
            Self::Payments | Self::OrderManagement => 200_000_000,
            Self::CustomerToken => 100_000_000,
        }
    }
    fn max_reference(self) -> usize {
        match self {
            Self::CustomerToken => 256,
            Self::Payments | Self::OrderManagement => 255,
        }
    }
    fn max_merchant_data(self) -> usize {
        match self {
            Self::CustomerToken => 255,
            Self::Payments | Self::OrderManagement => 1024,
        }
    }
    /// `quantity_unit` length: Payments 1..=8 (payments-v1.yml), Order Management 0..=10
    /// (order-management-v1.yml, API.md §11.5). The Customer Token document gives no limits;
    /// the Payments ones are assumed (the stricter reading).
    fn quantity_unit(self) -> (usize, usize) {
        match self {
            Self::OrderManagement => (0, 10),
            Self::Payments | Self::CustomerToken => (1, 8),
        }
    }
    fn min_name(self) -> usize {
        match self {
            Self::OrderManagement => 0,
            Self::Payments | Self::CustomerToken => 1,
        }
    }
    fn min_lines(self) -> usize {
        match self {
            Self::OrderManagement => 0,
            Self::Payments | Self::CustomerToken => 1,
        }
    }
}

/// Validates one order line (range checks first, then the arithmetic of §1.8).
pub(crate) fn check_line(line: &Value, index: usize, limits: LineLimits) -> Check {
    let prefix = format!("order_lines[{index}]");
    let Some(obj) = line.as_object() else {
        return Err(bad(prefix));
    };
    let p = prefix.as_str();
    let max = limits.max_amount();
    let mut types = vec![
        "physical",
        "discount",
        "shipping_fee",
        "sales_tax",
        "digital",
        "gift_card",
        "store_credit",
        "surcharge",
    ];
    if limits == LineLimits::OrderManagement {
        types.push("return_fee");
    }
    opt_enum(obj, "type", p, &types)?;
    opt_str(obj, "reference", p, 0, limits.max_reference())?;
    req_str(obj, "name", p, limits.min_name(), 255)?;
    let quantity = req_i64(obj, "quantity", p)?;
    if quantity < 0 {
        return Err(bad(path(p, "quantity")));
    }
    let (unit_min, unit_max) = limits.quantity_unit();
    opt_str(obj, "quantity_unit", p, unit_min, unit_max)?;
    let unit_price = req_i64(obj, "unit_price", p)?;
    if unit_price.unsigned_abs() > max.unsigned_abs() {
        return Err(bad(path(p, "unit_price")));
    }
    let tax_rate = opt_i64(obj, "tax_rate", p)?.unwrap_or(0);
    if !(0..=10_000).contains(&tax_rate) {
        return Err(bad(path(p, "tax_rate")));
    }
    let discount = opt_i64(obj, "total_discount_amount", p)?.unwrap_or(0);
    if !(0..=max).contains(&discount) {
        return Err(bad(path(p, "total_discount_amount")));
    }
    let total = req_i64(obj, "total_amount", p)?;
    if total.unsigned_abs() > max.unsigned_abs() {
        return Err(bad(path(p, "total_amount")));
    }
    let tax = opt_i64(obj, "total_tax_amount", p)?;
    if tax.is_some_and(|t| t.unsigned_abs() > max.unsigned_abs()) {
        return Err(bad(path(p, "total_tax_amount")));
    }
    opt_str(obj, "merchant_data", p, 0, limits.max_merchant_data())?;
    opt_str(obj, "product_url", p, 0, 1024)?;
    opt_str(obj, "image_url", p, 0, 1024)?;
    if let Some(ids) = opt_obj(obj, "product_identifiers", p)? {
        let ip = path(p, "product_identifiers");
        for (k, n) in [
            ("brand", 70),
            ("category_path", 750),
            ("global_trade_item_number", 50),
            ("manufacturer_part_number", 70),
            ("color", 64),
            ("size", 64),
        ] {
            opt_str(ids, k, &ip, 0, n)?;
        }
    }
    if let Some(sub) = opt_obj(obj, "subscription", p)? {
        let sp = path(p, "subscription");
        req_str(sub, "name", &sp, 1, 255)?;
        let interval = req_str(sub, "interval", &sp, 1, 10)?;
        if !["DAY", "WEEK", "MONTH", "YEAR"].contains(&interval) {
            return Err(bad(path(&sp, "interval")));
        }
        if req_i64(sub, "interval_count", &sp)? < 1 {
            return Err(bad(path(&sp, "interval_count")));
        }
    }
    // Arithmetic in i128: quantity × unit_price cannot overflow there.
    let expected_total = i128::from(quantity) * i128::from(unit_price) - i128::from(discount);
    if expected_total != i128::from(total) {
        return Err(bad(path(p, "total_amount")));
    }
    let is_sales_tax = obj.get("type").and_then(Value::as_str) == Some("sales_tax");
    if let Some(tax) = tax.filter(|_| !is_sales_tax) {
        let t = i128::from(total);
        let expected_tax = t - t * 10_000 / (10_000 + i128::from(tax_rate));
        if (i128::from(tax) - expected_tax).abs() > 1 {
            return Err(bad(path(p, "total_tax_amount")));
        }
    }
    Ok(())
}

/// Validates `order_lines` (count and each line) and returns (Σ total_amount, Σ tax) where the
/// tax sum counts a US `sales_tax` line without `total_tax_amount` by its `total_amount`.
pub(crate) fn check_lines(
    obj: &Map<String, Value>,
    limits: LineLimits,
    required: bool,
) -> Result<Option<(i128, i128)>, BadValue> {
    let lines = match obj.get("order_lines") {
        None | Some(Value::Null) if !required => return Ok(None),
        Some(Value::Array(a)) => a,
        _ => return Err(bad("order_lines")),
    };
    if lines.len() < limits.min_lines() || lines.len() > 1000 {
        return Err(bad("order_lines"));
    }
    let mut sum = 0i128;
    let mut tax_sum = 0i128;
    for (i, line) in lines.iter().enumerate() {
        check_line(line, i, limits)?;
        let total = line
            .get("total_amount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        sum += i128::from(total);
        // A US `sales_tax` line is the tax itself: it adds its total to the order's tax, and its
        // own tax fields carry nothing (API.md §1.8, US style).
        if line.get("type").and_then(Value::as_str) == Some("sales_tax") {
            tax_sum += i128::from(total);
        } else {
            tax_sum += i128::from(
                line.get("total_tax_amount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            );
        }
    }
    Ok(Some((sum, tax_sum)))
}
