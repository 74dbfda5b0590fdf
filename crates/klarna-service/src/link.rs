//! Pay by link (Klarna's Hosted Payment Page): a payment whose shopper pays on Klarna's page, sent by e-mail, SMS or a QR code, settled exactly once whoever places the order.
//!
//! [`PaymentService::start_payment_link`] opens the payment's session (as
//! [`PaymentService::start_checkout`] does) and makes a link for it; the link's id is stored
//! with the payment. [`PaymentService::settle_payment_link`] reads the link and records what
//! the shopper did, whoever asks first (the success page, Klarna's status callback, the
//! reconciler's sweep of open links):
//!
//! * `PLACE_ORDER`: Klarna placed the order. It is read from Order Management, checked (the
//!   payment's `merchant_reference1`, the cart's total, untouched) and recorded with one
//!   compare-and-set. The service never places an order for such a payment, so there is
//!   nothing to place twice.
//! * `NONE`: the page hands the authorization back; the service authorizes and completes the
//!   payment as for the widget ([`PaymentService::complete`]: exactly once, with its key).
//!
//! A page that ended without a payment (cancelled, disabled) leaves the payment
//! open: make a new link ([`PaymentService::link_payment`]) or cancel it.

use klarna_domain::{
    AnyPayment, HostedPageId, HostedPageStatus, OrderId, PaymentId, PaymentLinkRequest, Purchase,
    SessionId, StageKind, Timestamp,
};
use klarna_ports::{Clock, IdempotencyKeys, PaymentGateway, PaymentStore, Versioned};
use tracing::info;

use crate::checkout::AuthorizedVia;
use crate::step::{Payments, Plan, decided, refused_or_unavailable};
use crate::{PaymentService, ServiceError};

/// A payment link made for a payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentLink {
    /// Our payment id.
    pub payment_id: PaymentId,
    /// Klarna's payment session the link serves.
    pub session_id: SessionId,
    /// Klarna's id of the link (the hosted page session; `{{session_id}}` in its URLs).
    pub hosted_page: HostedPageId,
    /// The page to send the shopper to.
    pub redirect_url: String,
    /// When the page stops taking payments, when Klarna says.
    pub expires_at: Option<Timestamp>,
}

/// What a payment link came to.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum LinkOutcome {
    /// The shopper has not finished (`WAITING`, `IN_PROGRESS`, `BACK`, `FAILED` and `ERROR`,
    /// which Klarna keeps open for another try, `MANUAL_ID_CHECK`, a status this version does
    /// not know, or `COMPLETED` without the order or authorization yet): ask again later.
    /// Nothing was written.
    Waiting(Option<HostedPageStatus>),
    /// The page ended without a payment (`CANCELLED`, `DISABLED`). The payment stays open:
    /// make a new link, or cancel it.
    Ended(HostedPageStatus),
    /// Paid: the payment as it is now (ordered, in fraud review, tokenized, …).
    Paid(Box<AnyPayment>),
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Opens a payment for `purchase` and makes a payment link for it: send
    /// [`PaymentLink::redirect_url`] to the shopper. The link is checked against the intent
    /// first (`PLACE_ORDER` is for one-time purchases), before any call.
    ///
    /// # Errors
    /// [`ServiceError::Link`] for a link that does not fit, nothing sent; as
    /// [`Self::start_checkout`]; as [`Self::link_payment`] (the payment then stays open, and
    /// `link_payment` may try again).
    pub async fn start_payment_link(
        &self,
        purchase: Purchase,
        link: &PaymentLinkRequest,
    ) -> Result<PaymentLink, ServiceError> {
        link.check(purchase.intent())?;
        let checkout = self.start_checkout(purchase).await?;
        self.link_payment(&checkout.payment_id, link).await
    }

    /// Makes a (new) payment link for an open payment and stores its id with the payment. A
    /// repeat after a lost answer makes a second link for the same session; the stored one is
    /// the last, and both can authorize only that session's one payment.
    ///
    /// # Errors
    /// [`ServiceError::Link`] for a link that does not fit the intent; [`ServiceError::WrongStage`]
    /// unless the payment is open; [`ServiceError::Refused`] / [`ServiceError::Unavailable`]
    /// when Klarna refuses or cannot be reached (nothing written); store errors.
    pub async fn link_payment(
        &self,
        id: &PaymentId,
        link: &PaymentLinkRequest,
    ) -> Result<PaymentLink, ServiceError> {
        let stored = self.fetch::<Payments>(id).await?;
        link.check(stored.value.intent())?;
        let AnyPayment::Open(open) = &stored.value else {
            return Err(ServiceError::WrongStage {
                payment_id: id.clone(),
                stage: stored.value.kind(),
                operation: "making a payment link",
            });
        };
        let session = open.session().id().clone();
        let gateway = self.gateway(stored.value.cart().market().region())?;
        let page = gateway
            .create_hosted_page(&session, link)
            .await
            .map_err(refused_or_unavailable)?;
        let hosted = page.id.clone();
        self.step::<Payments, _>(id, Some(stored), |p, now| {
            decided(
                id,
                p.decide_link(hosted.clone(), now),
                |next| Ok(Plan::write(next.clone(), ())),
                |_| (),
            )
        })
        .await?;
        info!(payment = %id, hosted_page = %page.id, mode = link.mode().as_str(), "payment link made");
        Ok(PaymentLink {
            payment_id: id.clone(),
            session_id: session,
            hosted_page: page.id,
            redirect_url: page.redirect_url,
            expires_at: page.expires_at,
        })
    }

    /// Reads the payment's link at Klarna and records what the shopper did: the order Klarna
    /// placed (`PLACE_ORDER`), or the order (or customer token) the service places from the
    /// authorization the page handed back (`NONE`). Safe to call any number of times, from
    /// the success page, Klarna's status callback and the reconciler at once: each records
    /// once. A payment already paid answers [`LinkOutcome::Paid`] without a call.
    ///
    /// # Errors
    /// [`ServiceError::WrongStage`] for a payment without a link; [`ServiceError::OrderMismatch`]
    /// when the order Klarna names does not fit the payment (nothing written: review it);
    /// [`ServiceError::Unavailable`] when Klarna cannot be reached; as [`Self::complete`] for
    /// `NONE`; store errors.
    pub async fn settle_payment_link(&self, id: &PaymentId) -> Result<LinkOutcome, ServiceError> {
        let stored = self.fetch::<Payments>(id).await?;
        self.settle_link(stored).await
    }

    /// [`Self::settle_payment_link`] for a payment just read from the store.
    async fn settle_link(
        &self,
        stored: Versioned<AnyPayment>,
    ) -> Result<LinkOutcome, ServiceError> {
        let id = &stored.value.id().clone();
        let Some(page) = stored.value.hosted_page().cloned() else {
            return match stored.value.kind() {
                StageKind::Ordered
                | StageKind::FraudReview
                | StageKind::Stopped
                | StageKind::Tokenized => Ok(LinkOutcome::Paid(Box::new(stored.value))),
                stage @ (StageKind::Open
                | StageKind::Authorized
                | StageKind::OrderPending
                | StageKind::TokenPending
                | StageKind::Cancelled
                | StageKind::Expired
                | StageKind::Refused
                | StageKind::NeedsReview) => Err(ServiceError::WrongStage {
                    payment_id: id.clone(),
                    stage,
                    operation: "settling a payment link",
                }),
            };
        };
        let gateway = self.gateway(stored.value.cart().market().region())?;
        let state = gateway
            .read_hosted_page(&page)
            .await
            .map_err(refused_or_unavailable)?;
        let status = state.status;
        match (status, state.order_id, state.authorization_token) {
            (Some(HostedPageStatus::Completed), Some(order), _) => {
                let paid = self.record_link_order(stored, &order).await?;
                Ok(LinkOutcome::Paid(Box::new(paid)))
            }
            (Some(HostedPageStatus::Completed), None, Some(token)) => {
                if matches!(stored.value, AnyPayment::Open(_)) {
                    self.authorize(AuthorizedVia::Browser(id), token.clone())
                        .await?;
                }
                self.complete(id, token).await?;
                Ok(LinkOutcome::Paid(Box::new(self.payment(id).await?)))
            }
            (Some(s), _, _) if s.is_final() && s != HostedPageStatus::Completed => {
                Ok(LinkOutcome::Ended(s))
            }
            (other, _, _) => Ok(LinkOutcome::Waiting(other)),
        }
    }

    /// The order a `PLACE_ORDER` link placed: read from Order Management and recorded.
    async fn record_link_order(
        &self,
        stored: Versioned<AnyPayment>,
        order: &OrderId,
    ) -> Result<AnyPayment, ServiceError> {
        let id = &stored.value.id().clone();
        let gateway = self.gateway(stored.value.cart().market().region())?;
        let remote = gateway
            .read_order(order)
            .await
            .map_err(refused_or_unavailable)?;
        let evidence = remote.evidence();
        let recorded = self
            .record_order(id, Some(stored), |p, now| {
                p.decide_ordered_by_link(&evidence, now)
            })
            .await?;
        info!(payment = %id, %order, stage = %recorded.kind(), "the order a payment link placed is recorded");
        Ok(recorded)
    }

    /// The reconciler's sweep of open payments with a link: each is settled as the success
    /// page would, so a payment whose shopper paid while the shop missed both the redirect
    /// and Klarna's callback is recorded all the same. Errors are counted, not returned (the
    /// next pass tries again). Returns how many were paid.
    pub(crate) async fn sweep_payment_links(&self, limit: usize) -> Result<usize, ServiceError> {
        let mut paid = 0;
        for kind in [StageKind::Open, StageKind::Authorized] {
            for p in self.store.list_payments_in_stage(kind, limit).await? {
                if p.value.hosted_page().is_none() {
                    continue;
                }
                let id = p.value.id().clone();
                match self.settle_link(p).await {
                    Ok(LinkOutcome::Paid(_)) => paid += 1,
                    Ok(LinkOutcome::Waiting(_) | LinkOutcome::Ended(_)) => {}
                    Err(e) => {
                        tracing::warn!(payment = %id, error = %e, "payment link not settled; tried again on the next pass");
                    }
                }
            }
        }
        Ok(paid)
    }
}
