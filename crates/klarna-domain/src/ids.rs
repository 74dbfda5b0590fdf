//! Ids and secrets: opaque non-empty strings in newtypes; secret ones redact and have no `Display`.

use std::fmt;

use crate::field::FieldPath;

/// Longest id or token accepted (Klarna's `client_token` may be 4096 characters).
pub const MAX_ID_LEN: usize = 4096;

/// An id or token that is empty, too long or contains control characters.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: must be 1..={MAX_ID_LEN} printable characters")]
pub struct IdError {
    field: FieldPath,
}

impl IdError {
    /// The offending field.
    #[must_use]
    pub fn field(&self) -> &FieldPath {
        &self.field
    }
}

fn check(field: &str, s: &str) -> Result<(), IdError> {
    if s.is_empty()
        || s.len() > MAX_ID_LEN
        || s.chars().any(char::is_control)
        || s.trim().is_empty()
    {
        Err(IdError {
            field: FieldPath::new(field),
        })
    } else {
        Ok(())
    }
}

macro_rules! opaque_id {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Accepts any non-empty printable string: Klarna owns the format.
            ///
            /// # Errors
            /// [`IdError`] when empty, longer than 4096 bytes, or containing control characters.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check($field, &s)?;
                Ok(Self(s))
            }
            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

macro_rules! secret_id {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        $(#[$m])*
        ///
        /// A secret: `Debug` prints a redaction marker, there is no `Display`, and the only way
        /// to the text is [`Self::expose_secret`].
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps the token.
            ///
            /// # Errors
            /// [`IdError`] when empty, longer than 4096 bytes, or containing control characters.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check($field, &s)?;
                Ok(Self(s))
            }
            /// The secret text. Call it only where the value must leave the process (the HTTP
            /// request that needs it, an encrypted store column).
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}([REDACTED])", stringify!($name))
            }
        }
    };
}

opaque_id!(
    /// Our own id for a payment; also sent to Klarna as `merchant_reference1`.
    PaymentId, "payment_id"
);
opaque_id!(
    /// Klarna's payment session id.
    SessionId, "session_id"
);
opaque_id!(
    /// Klarna's order id, the key for Order Management.
    OrderId, "order_id"
);
opaque_id!(
    /// Klarna's id of a capture.
    CaptureId, "capture_id"
);
opaque_id!(
    /// Klarna's id of a refund.
    RefundId, "refund_id"
);
opaque_id!(
    /// A `Klarna-Idempotency-Key`: one per logical operation, the same on every retry.
    IdempotencyKey, "idempotency_key"
);

secret_id!(
    /// The `client_token` the shopper's browser hands to Klarna's widget.
    ClientToken, "client_token"
);
secret_id!(
    /// The single-use `authorization_token` from the shopper's authorization (60 minutes).
    AuthorizationToken, "authorization_token"
);
secret_id!(
    /// A `customer_token` (Klarna's `token_id`): lets the merchant charge the shopper again.
    CustomerTokenId, "customer_token"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_redact_and_ids_show() {
        let t = AuthorizationToken::new("tok-123-secret").unwrap();
        assert_eq!(format!("{t:?}"), "AuthorizationToken([REDACTED])");
        assert_eq!(t.expose_secret(), "tok-123-secret");
        let o = OrderId::new("o-1").unwrap();
        assert_eq!(o.to_string(), "o-1");
    }

    #[test]
    fn empty_or_control_ids_are_refused() {
        assert_eq!(
            SessionId::new("").unwrap_err().field().as_str(),
            "session_id"
        );
        assert!(OrderId::new("a\nb").is_err());
        assert!(CustomerTokenId::new("   ").is_err());
        assert!(ClientToken::new("x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
