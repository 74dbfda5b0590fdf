//! Ports of the Klarna toolkit: the payment gateway, the stores, the clock and idempotency keys.
