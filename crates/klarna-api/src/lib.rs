//! Klarna Payments, Customer Token and Order Management wire models (serde).
