//! Payment links (Klarna's Hosted Payment Page, `docs/klarna/hpp.md`): who places the order when the shopper has paid, where the page sends the shopper, and what the page reports; checked before any call.
//!
//! A payment link wraps a payment's Klarna session: the shopper opens Klarna's page (sent by
//! e-mail or SMS, shown as a QR code, a kiosk's screen) instead of the shop's checkout.
//!
//! ```
//! use klarna_domain::{Intent, LinkUrls, PaymentLinkRequest, PlaceOrderMode};
//!
//! let urls = LinkUrls::new("https://shop.example/paid?link={{session_id}}")?
//!     .cancel("https://shop.example/cancelled")?;
//! let link = PaymentLinkRequest::new(PlaceOrderMode::PlaceOrder, urls);
//! assert!(link.check(Intent::Buy).is_ok());
//! // A subscription's token comes from the authorization: Klarna must not consume it.
//! assert!(link.check(Intent::Tokenize).is_err());
//! # Ok::<(), klarna_domain::LinkError>(())
//! ```

use crate::decision::Decision;
use crate::ids::HostedPageId;
use crate::payment::{AnyPayment, Intent, LifecycleError};
use crate::time::Timestamp;

/// The longest merchant URL accepted (Klarna's limit on `merchant_urls.*` in Payments).
pub const MAX_LINK_URL_LEN: usize = 2_000;

/// Who places the order once the shopper has paid on the hosted page (`options.place_order_mode`).
///
/// Klarna's `CAPTURE_ORDER` (place and capture at once) is not offered: the read of the hosted
/// page names the order, not the capture, so the toolkit's ledger could not record the capture
/// with Klarna's id. Place the order, then capture it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum PlaceOrderMode {
    /// `PLACE_ORDER`: Klarna places the order; the service finds it, checks it with Order
    /// Management and records it (it never places one itself). One-time purchases only.
    PlaceOrder,
    /// `NONE`: Klarna hands the authorization back; the service places the order (or makes the
    /// customer token) exactly as for the widget. Every intent.
    None,
}

impl PlaceOrderMode {
    /// Klarna's wire value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlaceOrder => "PLACE_ORDER",
            Self::None => "NONE",
        }
    }
}

/// Why a payment link request was refused, before anything was sent.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A merchant URL is not `https://…` (plain `http` only to a loopback host), or too long.
    #[error("link.merchant_urls.{field}: {reason}")]
    Url {
        /// `success`, `cancel`, `back`, `failure`, `error` or `status_update`.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The place-order mode does not fit the payment's intent.
    #[error(
        "link.place_order_mode: {mode} is for one-time purchases; intent {intent} needs NONE (its customer token is made from the authorization)"
    )]
    ModeForIntent {
        /// The mode asked for.
        mode: &'static str,
        /// The payment's intent.
        intent: &'static str,
    },
}

impl LinkError {
    /// The offending field as a path (`link.merchant_urls.success`).
    #[must_use]
    pub fn field(&self) -> String {
        match self {
            Self::Url { field, .. } => format!("link.merchant_urls.{field}"),
            Self::ModeForIntent { .. } => "link.place_order_mode".to_owned(),
        }
    }
}

fn checked(field: &'static str, url: String) -> Result<String, LinkError> {
    let refuse = |reason| LinkError::Url { field, reason };
    if url.len() > MAX_LINK_URL_LEN {
        return Err(refuse("longer than 2000 characters"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse("has spaces or control characters"));
    }
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let loopback = name == "localhost" || name == "[::1]" || name.starts_with("127.");
        if !loopback {
            return Err(refuse("must be https (plain http only to a loopback host)"));
        }
        rest
    } else {
        return Err(refuse("must be an absolute https URL"));
    };
    if rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(refuse("has no host"));
    }
    Ok(url)
}

/// Where the hosted page sends the shopper, and the URL Klarna calls on every status change.
/// `{{session_id}}` (the link's id) and `{{authorization_token}}` are filled in by Klarna.
/// The status-update URL carries no authentication of its own: put a secret in its query.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkUrls {
    success: String,
    cancel: Option<String>,
    back: Option<String>,
    failure: Option<String>,
    error: Option<String>,
    status_update: Option<String>,
}

impl std::fmt::Debug for LinkUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The status-update URL may carry the merchant's secret; the others are shown.
        f.debug_struct("LinkUrls")
            .field("success", &self.success)
            .field("cancel", &self.cancel)
            .field("back", &self.back)
            .field("failure", &self.failure)
            .field("error", &self.error)
            .field(
                "status_update",
                &self.status_update.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl LinkUrls {
    /// The URLs, with the one the shopper reaches after paying.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `success`.
    pub fn new(success: impl Into<String>) -> Result<Self, LinkError> {
        Ok(Self {
            success: checked("success", success.into())?,
            cancel: None,
            back: None,
            failure: None,
            error: None,
            status_update: None,
        })
    }
    /// After the shopper cancels.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `cancel`.
    pub fn cancel(mut self, url: impl Into<String>) -> Result<Self, LinkError> {
        self.cancel = Some(checked("cancel", url.into())?);
        Ok(self)
    }
    /// After the shopper goes back to the shop.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `back`.
    pub fn back(mut self, url: impl Into<String>) -> Result<Self, LinkError> {
        self.back = Some(checked("back", url.into())?);
        Ok(self)
    }
    /// After Klarna declined the shopper.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `failure`.
    pub fn failure(mut self, url: impl Into<String>) -> Result<Self, LinkError> {
        self.failure = Some(checked("failure", url.into())?);
        Ok(self)
    }
    /// After a system error.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `error`.
    pub fn error(mut self, url: impl Into<String>) -> Result<Self, LinkError> {
        self.error = Some(checked("error", url.into())?);
        Ok(self)
    }
    /// Klarna POSTs each status change here.
    ///
    /// # Errors
    /// [`LinkError::Url`] naming `status_update`.
    pub fn status_update(mut self, url: impl Into<String>) -> Result<Self, LinkError> {
        self.status_update = Some(checked("status_update", url.into())?);
        Ok(self)
    }
    /// `success`.
    #[must_use]
    pub fn success_url(&self) -> &str {
        &self.success
    }
    /// `cancel`.
    #[must_use]
    pub fn cancel_url(&self) -> Option<&str> {
        self.cancel.as_deref()
    }
    /// `back`.
    #[must_use]
    pub fn back_url(&self) -> Option<&str> {
        self.back.as_deref()
    }
    /// `failure`.
    #[must_use]
    pub fn failure_url(&self) -> Option<&str> {
        self.failure.as_deref()
    }
    /// `error`.
    #[must_use]
    pub fn error_url(&self) -> Option<&str> {
        self.error.as_deref()
    }
    /// `status_update`.
    #[must_use]
    pub fn status_update_url(&self) -> Option<&str> {
        self.status_update.as_deref()
    }
}

/// A payment link to make for a payment: who places the order, and the shopper's URLs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentLinkRequest {
    mode: PlaceOrderMode,
    urls: LinkUrls,
}

impl PaymentLinkRequest {
    /// A link whose order `mode` places, sending the shopper to `urls`.
    #[must_use]
    pub fn new(mode: PlaceOrderMode, urls: LinkUrls) -> Self {
        Self { mode, urls }
    }
    /// The place-order mode.
    #[must_use]
    pub fn mode(&self) -> PlaceOrderMode {
        self.mode
    }
    /// The URLs.
    #[must_use]
    pub fn urls(&self) -> &LinkUrls {
        &self.urls
    }
    /// Whether the link fits a payment of `intent`: `PLACE_ORDER` only for `buy` (a
    /// recurring intent makes its customer token from the authorization, which Klarna's own
    /// order would consume).
    ///
    /// # Errors
    /// [`LinkError::ModeForIntent`].
    pub fn check(&self, intent: Intent) -> Result<(), LinkError> {
        match (self.mode, intent) {
            (PlaceOrderMode::None, _) | (PlaceOrderMode::PlaceOrder, Intent::Buy) => Ok(()),
            (PlaceOrderMode::PlaceOrder, Intent::Tokenize | Intent::BuyAndTokenize) => {
                Err(LinkError::ModeForIntent {
                    mode: self.mode.as_str(),
                    intent: intent.as_str(),
                })
            }
        }
    }
}

impl AnyPayment {
    /// Records the payment link Klarna made for an open payment's session (a later link
    /// replaces an earlier one). The same link again is done; any other stage is refused
    /// naming it, and an expired session is refused.
    pub fn decide_link(self, page: HostedPageId, now: Timestamp) -> Decision<AnyPayment> {
        match self {
            Self::Open(p) if p.session().hosted_page() == Some(&page) => Decision::Done(p.into()),
            Self::Open(p) => match p.with_hosted_page(page, now) {
                Ok(p) => Decision::Next(p.into()),
                Err(e) => Decision::Refused(e.error),
            },
            other @ (Self::Authorized(_)
            | Self::OrderPending(_)
            | Self::TokenPending(_)
            | Self::FraudReview(_)
            | Self::Ordered(_)
            | Self::Stopped(_)
            | Self::Tokenized(_)
            | Self::Cancelled(_)
            | Self::Expired(_)
            | Self::Refused(_)
            | Self::NeedsReview(_)) => Decision::Refused(LifecycleError::WrongStage {
                operation: "making a payment link",
                stage: other.kind(),
            }),
        }
    }
}

/// What a hosted page reports (`status` of the read).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum HostedPageStatus {
    /// Made; the shopper has not opened it.
    Waiting,
    /// The shopper opened it.
    InProgress,
    /// The shopper went back to the shop (they may come again).
    Back,
    /// Waiting for a manual identification check.
    ManualIdCheck,
    /// The shopper was authorized (final).
    Completed,
    /// The shopper cancelled (final).
    Cancelled,
    /// Klarna declined the shopper; the page stays open for another try.
    Failed,
    /// The merchant disabled the link (final).
    Disabled,
    /// A system error while paying; the page stays open.
    Error,
}

impl HostedPageStatus {
    /// The status for Klarna's wire value; `None` for one this version does not know.
    #[must_use]
    pub fn parse(wire: &str) -> Option<Self> {
        Some(match wire {
            "WAITING" => Self::Waiting,
            "IN_PROGRESS" => Self::InProgress,
            "BACK" => Self::Back,
            "MANUAL_ID_CHECK" => Self::ManualIdCheck,
            "COMPLETED" => Self::Completed,
            "CANCELLED" => Self::Cancelled,
            "FAILED" => Self::Failed,
            "DISABLED" => Self::Disabled,
            "ERROR" => Self::Error,
            _ => return None,
        })
    }
    /// Klarna's wire value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::InProgress => "IN_PROGRESS",
            Self::Back => "BACK",
            Self::ManualIdCheck => "MANUAL_ID_CHECK",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
            Self::Disabled => "DISABLED",
            Self::Error => "ERROR",
        }
    }
    /// Whether the page's status can change no more (`COMPLETED`, `CANCELLED`, `DISABLED`;
    /// Klarna keeps a `FAILED`, `ERROR` or `BACK` page open for another try).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Disabled)
    }
}

impl std::fmt::Display for HostedPageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_and_are_named() {
        assert!(LinkUrls::new("https://shop.example/ok?id={{session_id}}").is_ok());
        assert!(LinkUrls::new("http://127.0.0.1:8080/ok").is_ok());
        assert!(LinkUrls::new("http://localhost/ok").is_ok());
        let bad = |url: &str| LinkUrls::new(url).unwrap_err();
        assert_eq!(
            bad("http://shop.example/ok").field(),
            "link.merchant_urls.success"
        );
        assert!(matches!(bad("shop.example/ok"), LinkError::Url { .. }));
        assert!(matches!(bad("https:///path"), LinkError::Url { .. }));
        assert!(matches!(bad("https://a.example/ b"), LinkError::Url { .. }));
        assert!(matches!(
            bad(&format!(
                "https://a.example/{}",
                "x".repeat(MAX_LINK_URL_LEN)
            )),
            LinkError::Url { .. }
        ));
        let e = LinkUrls::new("https://a.example")
            .and_then(|u| u.status_update("http://evil.example/cb?secret=s"))
            .unwrap_err();
        assert_eq!(e.field(), "link.merchant_urls.status_update");
        let urls = LinkUrls::new("https://a.example")
            .and_then(|u| u.status_update("https://a.example/cb?secret=s3cr3t"))
            .unwrap();
        assert!(!format!("{urls:?}").contains("s3cr3t"));
    }

    #[test]
    fn place_order_is_for_one_time_purchases() {
        let urls = LinkUrls::new("https://a.example").unwrap();
        let place = PaymentLinkRequest::new(PlaceOrderMode::PlaceOrder, urls.clone());
        let none = PaymentLinkRequest::new(PlaceOrderMode::None, urls);
        assert!(place.check(Intent::Buy).is_ok());
        for intent in [Intent::Tokenize, Intent::BuyAndTokenize] {
            assert_eq!(
                place.check(intent).unwrap_err().field(),
                "link.place_order_mode"
            );
            assert!(none.check(intent).is_ok());
        }
    }

    #[test]
    fn statuses_round_trip_and_know_which_are_final() {
        for s in [
            HostedPageStatus::Waiting,
            HostedPageStatus::InProgress,
            HostedPageStatus::Back,
            HostedPageStatus::ManualIdCheck,
            HostedPageStatus::Completed,
            HostedPageStatus::Cancelled,
            HostedPageStatus::Failed,
            HostedPageStatus::Disabled,
            HostedPageStatus::Error,
        ] {
            assert_eq!(HostedPageStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(HostedPageStatus::parse("SOMETHING_NEW"), None);
        assert!(HostedPageStatus::Completed.is_final());
        assert!(!HostedPageStatus::Back.is_final());
        assert!(!HostedPageStatus::Failed.is_final(), "open for another try");
    }
}
