//! Ids and secrets: opaque non-empty strings in newtypes; secret ones redact and have no `Display`.

use std::fmt;

use crate::field::FieldPath;

/// Longest id or token accepted (Klarna's `client_token` may be 4096 characters).
pub const MAX_ID_LEN: usize = 4096;

/// Longest text Klarna accepts in `merchant_reference1` (API.md §2.1), so the longest
/// [`PaymentId`].
pub const MAX_PAYMENT_ID_LEN: usize = 255;

/// Longest `Klarna-Idempotency-Key` accepted (it travels in an HTTP header).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An id or token that is empty, too long or contains characters its rule forbids.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{field}: must be {rule}")]
pub struct IdError {
    field: FieldPath,
    rule: Rule,
}

impl IdError {
    /// The offending field.
    #[must_use]
    pub fn field(&self) -> &FieldPath {
        &self.field
    }
}

/// What one kind of id accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    /// 1..=max characters, not all blank, no control characters.
    Printable(usize),
    /// 1..=max visible ASCII characters (no spaces): fits an HTTP header as it is.
    VisibleAscii(usize),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Printable(max) => write!(f, "1..={max} printable characters"),
            Self::VisibleAscii(max) => write!(f, "1..={max} visible ASCII characters"),
        }
    }
}

impl Rule {
    fn check(self, field: &str, s: &str) -> Result<(), IdError> {
        let ok = match self {
            Self::Printable(max) => {
                !s.is_empty()
                    && s.chars().count() <= max
                    && s.len() <= MAX_ID_LEN
                    && !s.chars().any(char::is_control)
                    && !s.trim().is_empty()
            }
            Self::VisibleAscii(max) => {
                !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
            }
        };
        if ok {
            Ok(())
        } else {
            Err(IdError {
                field: FieldPath::new(field),
                rule: self,
            })
        }
    }
}

macro_rules! opaque_id {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        opaque_id!($(#[$m])* $name, $field, Rule::Printable(MAX_ID_LEN),
            "[`IdError`] when empty, longer than 4096 bytes, or containing control characters.");
    };
    ($(#[$m:meta])* $name:ident, $field:literal, $rule:expr, $errors:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_LEN: usize = match $rule {
                Rule::Printable(max) | Rule::VisibleAscii(max) => max,
            };

            /// Accepts the text if it follows this id's rule.
            ///
            /// # Errors
            #[doc = $errors]
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $rule.check($field, &s)?;
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
                Rule::Printable(MAX_ID_LEN).check($field, &s)?;
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
    /// Our own id for a payment; also sent to Klarna as `merchant_reference1`, so it carries
    /// that field's limit: at most 255 characters.
    PaymentId, "payment_id", Rule::Printable(MAX_PAYMENT_ID_LEN),
    "[`IdError`] when empty, longer than 255 characters, or containing control characters."
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
    /// Klarna's id of a Hosted Payment Page session (a payment link).
    HostedPageId, "hosted_page_id"
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
    ///
    /// It follows the wire's rule when made (non-empty visible ASCII, at most 255 bytes), so a
    /// key held by a saved pending operation can always be sent. Klarna replays the first
    /// answer for 24 h to any request with the same key, ignoring the body (API.md §1.4), so
    /// one key must serve exactly one logical operation.
    IdempotencyKey, "idempotency_key", Rule::VisibleAscii(MAX_IDEMPOTENCY_KEY_LEN),
    "[`IdError`] when empty, longer than 255 bytes, or not visible ASCII (spaces included)."
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

    #[test]
    fn idempotency_keys_follow_the_wire_rule() {
        assert!(IdempotencyKey::new("abc-123:capture:0").is_ok());
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        for bad in ["", "has space", "tab\t", "ünicode", &"k".repeat(256)] {
            let err = IdempotencyKey::new(bad).unwrap_err();
            assert_eq!(err.field().as_str(), "idempotency_key", "{bad:?}");
        }
        assert_eq!(
            IdempotencyKey::new("a b").unwrap_err().to_string(),
            "idempotency_key: must be 1..=255 visible ASCII characters"
        );
    }

    #[test]
    fn payment_ids_carry_the_merchant_reference_limit() {
        assert_eq!(PaymentId::MAX_LEN, 255);
        assert!(PaymentId::new("p".repeat(255)).is_ok());
        assert!(PaymentId::new("ü".repeat(255)).is_ok());
        let err = PaymentId::new("p".repeat(256)).unwrap_err();
        assert_eq!(err.field().as_str(), "payment_id");
        assert_eq!(
            err.to_string(),
            "payment_id: must be 1..=255 printable characters"
        );
        assert!(PaymentId::new("p".repeat(4096)).is_err());
        // Klarna's own ids keep the wide limit.
        assert!(OrderId::new("o".repeat(4096)).is_ok());
    }
}
