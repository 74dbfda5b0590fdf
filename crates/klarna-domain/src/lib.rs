//! Pure Klarna Payments domain model: money, markets, carts, ids, secrets and lifecycles.
