//! Field paths such as `order_lines[2].total_tax_amount`, so every error names what to fix.

use std::fmt;

/// The path of a request field in Klarna's own naming (`order_lines[2].total_tax_amount`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FieldPath(String);

impl FieldPath {
    /// A top-level field.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The field `name` of order line `index` (zero-based, as Klarna writes it).
    #[must_use]
    pub fn line(index: usize, name: &str) -> Self {
        Self(format!("order_lines[{index}].{name}"))
    }

    /// The path under a prefix: `billing_address` + `postal_code` → `billing_address.postal_code`.
    #[must_use]
    pub fn under(prefix: &str, name: &str) -> Self {
        Self(format!("{prefix}.{name}"))
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
