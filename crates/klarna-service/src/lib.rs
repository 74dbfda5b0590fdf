//! Klarna payment use cases over the ports: checkout, recurring charges, order management, reconciliation.
