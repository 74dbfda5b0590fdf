//! Klarna HTTP gateway: a typed reqwest client and the PaymentGateway adapter.
