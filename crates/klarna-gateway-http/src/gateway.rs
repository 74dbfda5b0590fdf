//! `KlarnaGateway`: the `PaymentGateway` port implemented on [`KlarnaClient`], with the
//! conversions domain ↔ wire; errors map to [`GatewayError`] through [`gateway_error`].
//!
//! What goes out is exactly the [`Cart`] given (every field of each line), the shop's order
//! number as `merchant_reference1` (our payment id when it gave none), its merchant data, and the port's idempotency key as the call's key, so the client's own
//! retries reuse it.
//!
//! Errors map through [`gateway_error`], the one table from Klarna's answers to the port's
//! [`ErrorAction`].

use async_trait::async_trait;
use klarna_api as api;
use klarna_domain::{
    AuthorizationToken, AuthorizationUpdate, CaptureId, CaptureRequest, Cart, ClientToken,
    CustomerTokenId, FraudStatus, HostedPageId, HostedPageStatus, IdempotencyKey, LineInput,
    LineKind, MerchantData, MerchantReferences, OmLine, OrderId, OrderLine, OrderStatus,
    PaymentLinkRequest, RefundId, RefundRequest, SessionId, ShippingInfo, ShippingInfoUpdate,
    Timestamp, TokenStatus,
};
use klarna_ports::{
    ChargeToken, CreateCustomerToken, CreatedSession, ErrorAction, GatewayError, HostedPage,
    HostedPageState, MerchantUrls, NewSession, OrderPlaced, PaymentGateway, PlaceOrder,
    RemoteOrder, SessionProgress, SessionState,
};

use crate::client::KlarnaClient;
use crate::operation::Operation;
use crate::outcome::gateway_error;

/// Klarna as the service's [`PaymentGateway`], over a [`KlarnaClient`].
///
/// ```no_run
/// use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway};
/// # fn run() -> Result<(), klarna_gateway_http::KlarnaError> {
/// let client = KlarnaClient::builder(Credentials::new("user", "secret")).build()?;
/// let gateway = KlarnaGateway::new(client);
/// # let _ = gateway;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KlarnaGateway {
    client: KlarnaClient,
}

impl KlarnaGateway {
    /// Wraps a client.
    #[must_use]
    pub fn new(client: KlarnaClient) -> Self {
        Self { client }
    }

    /// The low-level client (for operations the port does not cover).
    #[must_use]
    pub fn client(&self) -> &KlarnaClient {
        &self.client
    }

    /// The deadline of one port call ([`KlarnaClient::deadline`]): a call started at `t` has
    /// ended, every attempt with it, by `t + deadline`, so an operation it left pending may be
    /// taken over only after that.
    #[must_use]
    pub fn deadline(&self) -> std::time::Duration {
        self.client.deadline()
    }
}

// ----- errors -----

/// An answer we could not use (a required id missing or invalid): for a mutation the effect
/// may exist, so it is `OutcomeUnknown`.
fn malformed(op: Operation, what: &str) -> GatewayError {
    tracing::warn!(operation = op.name(), what, "unusable answer from Klarna");
    GatewayError::new(
        op.name(),
        if op.is_mutating() {
            ErrorAction::OutcomeUnknown
        } else {
            ErrorAction::Retry
        },
        true,
    )
}

// ----- domain → wire -----

fn wire_line(line: &OrderLine) -> api::OrderLine {
    wire_fields(line.fields())
}

fn wire_fields(f: &LineInput) -> api::OrderLine {
    // US style: a sales-tax line is the tax itself and carries no rate or tax of its own.
    let sales_tax = f.kind == LineKind::SalesTax;
    api::OrderLine {
        r#type: Some(api::OrderLineType::from(f.kind.as_str())),
        reference: f.reference.clone(),
        name: f.name.clone(),
        quantity: f.quantity,
        quantity_unit: f.quantity_unit.clone(),
        unit_price: f.unit_price,
        tax_rate: (!sales_tax).then_some(f.tax_rate),
        total_amount: f.total_amount,
        total_discount_amount: Some(f.total_discount_amount),
        total_tax_amount: (!sales_tax).then_some(f.total_tax_amount),
        merchant_data: f.merchant_data.clone(),
        product_url: f.product_url.clone(),
        image_url: f.image_url.clone(),
        product_identifiers: f
            .product_identifiers
            .as_ref()
            .map(|p| api::ProductIdentifiers {
                brand: p.brand.clone(),
                category_path: p.category_path.clone(),
                global_trade_item_number: p.global_trade_item_number.clone(),
                manufacturer_part_number: p.manufacturer_part_number.clone(),
                color: p.color.clone(),
                size: p.size.clone(),
            }),
        subscription: f.subscription.as_ref().map(|s| api::Subscription {
            name: s.name.clone(),
            interval: Some(api::SubscriptionInterval::from(s.interval.as_str())),
            interval_count: i64::from(s.interval_count),
        }),
    }
}

/// The cart's `order_lines` as Klarna receives them.
#[must_use]
pub fn wire_lines(cart: &Cart) -> Vec<api::OrderLine> {
    cart.lines().iter().map(wire_line).collect()
}

/// Order Management lines as Klarna receives them (`None` when there are none, so the
/// field is left out rather than sent empty).
fn wire_om_lines(lines: &[OmLine]) -> Option<Vec<api::OrderLine>> {
    (!lines.is_empty()).then(|| lines.iter().map(|l| wire_fields(l.fields())).collect())
}

fn wire_shipping(infos: &[ShippingInfo]) -> Vec<api::ShippingInfo> {
    infos
        .iter()
        .map(|i| {
            let f = i.fields();
            api::ShippingInfo {
                shipping_company: f.shipping_company.clone(),
                shipping_method: f
                    .shipping_method
                    .map(|m| api::ShippingMethod::from(m.as_str())),
                tracking_number: f.tracking_number.clone(),
                tracking_uri: f.tracking_uri.clone(),
                return_shipping_company: f.return_shipping_company.clone(),
                return_tracking_number: f.return_tracking_number.clone(),
                return_tracking_uri: f.return_tracking_uri.clone(),
            }
        })
        .collect()
}

/// The O2 body: the capture exactly as requested.
#[must_use]
pub fn capture_body(request: &CaptureRequest) -> api::CaptureObject {
    let shipping = wire_shipping(request.shipping_info());
    api::CaptureObject {
        captured_amount: request.amount().minor(),
        reference: request.reference().map(str::to_owned),
        description: request.description().map(str::to_owned),
        order_lines: wire_om_lines(request.order_lines()),
        shipping_info: (!shipping.is_empty()).then_some(shipping),
        ..api::CaptureObject::default()
    }
}

/// The O5 body: the refund exactly as requested.
#[must_use]
pub fn refund_body(request: &RefundRequest) -> api::RefundObject {
    api::RefundObject {
        refunded_amount: request.amount().minor(),
        reference: request.reference().map(str::to_owned),
        description: request.description().map(str::to_owned),
        order_lines: wire_om_lines(request.order_lines()),
    }
}

/// The O10 body. The lines are always sent, empty when none are given: Klarna deletes the
/// stored lines of a request that omits them, and an empty list says so explicitly.
#[must_use]
pub fn update_authorization_body(update: &AuthorizationUpdate) -> api::UpdateAuthorization {
    api::UpdateAuthorization {
        order_amount: update.order_amount(),
        description: update.description().map(str::to_owned),
        order_lines: Some(
            update
                .order_lines()
                .iter()
                .map(|l| wire_fields(l.fields()))
                .collect(),
        ),
    }
}

fn wire_urls(urls: &MerchantUrls) -> Option<api::MerchantUrls> {
    let wire = api::MerchantUrls {
        confirmation: urls.confirmation.clone(),
        notification: urls.notification.clone(),
        push: urls.push.clone(),
        authorization: urls.authorization.clone(),
    };
    (wire != api::MerchantUrls::default()).then_some(wire)
}

fn wire_address(a: &klarna_domain::Address) -> api::Address {
    api::Address {
        title: a.title.clone(),
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        organization_name: a.organization_name.clone(),
        attention: a.attention.clone(),
        email: a.email.clone(),
        phone: a.phone.clone(),
        street_address: a.street_address.clone(),
        street_address2: a.street_address2.clone(),
        postal_code: a.postal_code.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        country: a.country.clone(),
    }
}

fn wire_customer(c: &klarna_domain::Customer) -> api::Customer {
    use klarna_domain::CustomerKind;
    api::Customer {
        date_of_birth: c.date_of_birth.clone(),
        gender: c.gender.map(|g| g.as_str().to_owned()),
        title: c.title.clone(),
        r#type: Some(match c.kind {
            CustomerKind::Person => api::CustomerType::Person,
            CustomerKind::Organization => api::CustomerType::Organization,
        }),
        national_identification_number: c.national_identification_number.clone(),
        last_four_ssn: c.last_four_ssn.clone(),
        organization_registration_id: c.organization_registration_id.clone(),
        organization_entity_type: c
            .organization_entity_type
            .map(|t| api::OrganizationEntityType::from(t.as_str())),
        vat_id: c.vat_id.clone(),
    }
}

fn wire_options(o: &klarna_domain::WidgetOptions) -> api::SessionOptions {
    api::SessionOptions {
        color_border: o.color_border.clone(),
        color_border_selected: o.color_border_selected.clone(),
        color_details: o.color_details.clone(),
        color_text: o.color_text.clone(),
        radius_border: o.radius_border.clone(),
    }
}

fn wire_attachment(a: &klarna_domain::Attachment) -> api::Attachment {
    api::Attachment {
        content_type: a.content_type().to_owned(),
        body: a.body(),
    }
}

/// `merchant_reference1`: the shop's order number, else our payment id.
fn reference1(merchant: &MerchantData, payment_id: &klarna_domain::PaymentId) -> String {
    merchant
        .order_number()
        .unwrap_or_else(|| payment_id.as_str())
        .to_owned()
}

/// The P1 body for a new session.
#[must_use]
pub fn session_body(request: &NewSession) -> api::SessionCreate {
    let cart = &request.cart;
    let m = &request.merchant;
    let market = cart.market();
    api::SessionCreate {
        intent: Some(api::Intent::from(request.intent.as_str())),
        purchase_country: market.country().code().to_owned(),
        purchase_currency: market.currency().code().to_owned(),
        locale: Some(market.locale().to_string()),
        order_amount: cart.total().minor(),
        order_tax_amount: Some(cart.order_tax_amount()),
        order_lines: wire_lines(cart),
        merchant_urls: wire_urls(&request.urls),
        merchant_reference1: Some(reference1(m, &request.payment_id)),
        merchant_reference2: m.reference2().map(ToOwned::to_owned),
        merchant_data: m.merchant_data().map(ToOwned::to_owned),
        billing_address: m.billing_address().map(wire_address),
        shipping_address: m.shipping_address().map(wire_address),
        customer: m.customer().map(wire_customer),
        options: m.options().map(wire_options),
        attachment: m.attachment().map(wire_attachment),
        ..api::SessionCreate::default()
    }
}

/// The P5 body: the authorized cart, unchanged, with the references, the URLs and the
/// merchant data sent on the session (without `options`, which P5 does not take, and without
/// `attachment`, which its spec does not list: it stays on the session).
#[must_use]
pub fn order_body(request: &PlaceOrder) -> api::CreateOrderRequest {
    let cart = &request.cart;
    let m = &request.merchant;
    let market = cart.market();
    api::CreateOrderRequest {
        purchase_country: market.country().code().to_owned(),
        purchase_currency: market.currency().code().to_owned(),
        locale: Some(market.locale().to_string()),
        order_amount: cart.total().minor(),
        order_tax_amount: Some(cart.order_tax_amount()),
        order_lines: wire_lines(cart),
        merchant_urls: wire_urls(&request.urls),
        merchant_reference1: Some(reference1(m, &request.payment_id)),
        merchant_reference2: m.reference2().map(ToOwned::to_owned),
        merchant_data: m.merchant_data().map(ToOwned::to_owned),
        billing_address: m.billing_address().map(wire_address),
        shipping_address: m.shipping_address().map(wire_address),
        customer: m.customer().map(wire_customer),
        ..api::CreateOrderRequest::default()
    }
}

/// The P6 body, with the billing address and customer the spec lists.
#[must_use]
pub fn customer_token_body(request: &CreateCustomerToken) -> api::CustomerTokenCreationRequest {
    let market = request.market;
    let m = &request.merchant;
    api::CustomerTokenCreationRequest {
        purchase_country: market.country().code().to_owned(),
        purchase_currency: market.currency().code().to_owned(),
        locale: market.locale().to_string(),
        description: request.description.clone(),
        intended_use: Some(api::IntendedUse::Subscription),
        billing_address: m.billing_address().map(wire_address),
        customer: m.customer().map(wire_customer),
        ..api::CustomerTokenCreationRequest::default()
    }
}

/// The T2 body, with the charge's references, `merchant_data`, attachment and shipping
/// address.
#[must_use]
pub fn token_order_body(request: &ChargeToken) -> api::CustomerTokenOrder {
    let cart = &request.cart;
    let m = &request.merchant;
    api::CustomerTokenOrder {
        purchase_currency: cart.market().currency().code().to_owned(),
        locale: Some(cart.market().locale().to_string()),
        order_amount: cart.total().minor(),
        order_tax_amount: cart.order_tax_amount(),
        order_lines: wire_lines(cart),
        merchant_reference1: Some(reference1(m, &request.payment_id)),
        merchant_reference2: m.reference2().map(ToOwned::to_owned),
        merchant_data: m.merchant_data().map(ToOwned::to_owned),
        shipping_address: m.shipping_address().map(wire_address),
        attachment: m.attachment().map(wire_attachment),
        ..api::CustomerTokenOrder::default()
    }
}

// ----- wire → domain -----

/// Parses an RFC 3339 time as Klarna sends it (`2026-11-26T10:00:00.000Z`).
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(Timestamp::from_unix_millis(millis))
}

/// Klarna's fraud status; an unknown or missing value reads as `Pending`, the safe reading
/// (hold the shipment until Klarna decides).
fn fraud(status: Option<&api::FraudStatus>) -> FraudStatus {
    status
        .and_then(|s| FraudStatus::parse(s.as_str()))
        .unwrap_or(FraudStatus::Pending)
}

fn placed(op: Operation, order: api::Order) -> Result<OrderPlaced, GatewayError> {
    let order_id = OrderId::new(order.order_id).map_err(|_| malformed(op, "order_id"))?;
    Ok(OrderPlaced {
        order_id,
        fraud_status: fraud(order.fraud_status.as_ref()),
        redirect_url: order.redirect_url,
    })
}

fn remote_order(requested: &OrderId, o: api::OmOrder) -> Result<RemoteOrder, GatewayError> {
    let op = Operation::GetOrder;
    let order_id = match o.order_id {
        Some(id) => OrderId::new(id).map_err(|_| malformed(op, "order_id"))?,
        None => requested.clone(),
    };
    let status = o
        .status
        .as_ref()
        .and_then(|s| OrderStatus::parse(s.as_str()))
        .ok_or_else(|| malformed(op, "status"))?;
    let captures = o
        .captures
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let id = CaptureId::new(c.capture_id?).ok()?;
            Some((id, c.captured_amount.unwrap_or(0)))
        })
        .collect();
    let refunds = o
        .refunds
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            let id = RefundId::new(r.refund_id?).ok()?;
            Some((id, r.refunded_amount.unwrap_or(0)))
        })
        .collect();
    Ok(RemoteOrder {
        order_id,
        status,
        fraud_status: o.fraud_status.as_ref().map(|s| fraud(Some(s))),
        order_amount: o.order_amount.unwrap_or(0),
        captured_amount: o.captured_amount.unwrap_or(0),
        refunded_amount: o.refunded_amount.unwrap_or(0),
        merchant_reference1: o.merchant_reference1,
        captures,
        refunds,
        expires_at: o.expires_at.as_deref().and_then(parse_timestamp),
    })
}

#[async_trait]
impl PaymentGateway for KlarnaGateway {
    async fn create_session(&self, request: &NewSession) -> Result<CreatedSession, GatewayError> {
        let op = Operation::CreateSession;
        let created = self
            .client
            .create_session(&session_body(request), None)
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        Ok(CreatedSession {
            session_id: SessionId::new(created.session_id)
                .map_err(|_| malformed(op, "session_id"))?,
            client_token: ClientToken::new(created.client_token)
                .map_err(|_| malformed(op, "client_token"))?,
            payment_method_categories: created
                .payment_method_categories
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| c.identifier.map(|i| i.as_str().to_owned()))
                .collect(),
        })
    }

    async fn read_session(&self, session: &SessionId) -> Result<SessionState, GatewayError> {
        let read = self
            .client
            .read_session(session.as_str())
            .await
            .map_err(|e| gateway_error(Operation::ReadSession, &e))?
            .body;
        Ok(SessionState {
            // Only an explicit status is evidence; an absent or unknown one is not "no order".
            progress: match read.status {
                Some(api::SessionStatus::Complete) => SessionProgress::Complete,
                Some(api::SessionStatus::Incomplete) => SessionProgress::Incomplete,
                Some(_) | None => SessionProgress::Unknown,
            },
            expires_at: read.expires_at.as_deref().and_then(parse_timestamp),
            authorization_token: read
                .authorization_token
                .and_then(|t| AuthorizationToken::new(t).ok()),
        })
    }

    async fn update_session(&self, session: &SessionId, cart: &Cart) -> Result<(), GatewayError> {
        let market = cart.market();
        let body = api::SessionUpdate {
            purchase_country: Some(market.country().code().to_owned()),
            purchase_currency: Some(market.currency().code().to_owned()),
            locale: Some(market.locale().to_string()),
            order_amount: Some(cart.total().minor()),
            order_tax_amount: Some(cart.order_tax_amount()),
            order_lines: Some(wire_lines(cart)),
            ..api::SessionUpdate::default()
        };
        self.client
            .update_session(session.as_str(), &body, None)
            .await
            .map_err(|e| gateway_error(Operation::UpdateSession, &e))?;
        Ok(())
    }

    async fn cancel_authorization(
        &self,
        authorization: &AuthorizationToken,
    ) -> Result<(), GatewayError> {
        self.client
            .cancel_authorization(authorization.expose_secret(), None)
            .await
            .map_err(|e| gateway_error(Operation::CancelAuthorization, &e))?;
        Ok(())
    }

    async fn place_order(
        &self,
        request: &PlaceOrder,
        idempotency_key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        let op = Operation::CreateOrder;
        let order = self
            .client
            .create_order(
                request.authorization.expose_secret(),
                &order_body(request),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        placed(op, order)
    }

    async fn create_customer_token(
        &self,
        request: &CreateCustomerToken,
        idempotency_key: &IdempotencyKey,
    ) -> Result<CustomerTokenId, GatewayError> {
        let op = Operation::CreateCustomerToken;
        let created = self
            .client
            .create_customer_token(
                request.authorization.expose_secret(),
                &customer_token_body(request),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        CustomerTokenId::new(created.token_id).map_err(|_| malformed(op, "token_id"))
    }

    async fn read_customer_token(
        &self,
        token: &CustomerTokenId,
    ) -> Result<TokenStatus, GatewayError> {
        let read = self
            .client
            .read_customer_token(token.expose_secret())
            .await
            .map_err(|e| gateway_error(Operation::ReadCustomerToken, &e))?
            .body;
        // An unknown status is read as SUSPENDED: not chargeable now, not necessarily gone.
        Ok(TokenStatus::parse(read.status.as_str()).unwrap_or(TokenStatus::Suspended))
    }

    async fn cancel_customer_token(&self, token: &CustomerTokenId) -> Result<(), GatewayError> {
        self.client
            .cancel_customer_token(token.expose_secret(), None)
            .await
            .map_err(|e| gateway_error(Operation::CancelCustomerToken, &e))?;
        Ok(())
    }

    async fn charge_customer_token(
        &self,
        request: &ChargeToken,
        idempotency_key: &IdempotencyKey,
    ) -> Result<OrderPlaced, GatewayError> {
        let op = Operation::CreateTokenOrder;
        let order = self
            .client
            .create_token_order(
                request.token.expose_secret(),
                &token_order_body(request),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        placed(op, order)
    }

    async fn read_order(&self, order: &OrderId) -> Result<RemoteOrder, GatewayError> {
        let read = self
            .client
            .get_order(order.as_str())
            .await
            .map_err(|e| gateway_error(Operation::GetOrder, &e))?
            .body;
        remote_order(order, read)
    }

    async fn capture(
        &self,
        order: &OrderId,
        request: &CaptureRequest,
        idempotency_key: &IdempotencyKey,
    ) -> Result<CaptureId, GatewayError> {
        let op = Operation::CaptureOrder;
        let created = self
            .client
            .capture_order(
                order.as_str(),
                &capture_body(request),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        CaptureId::new(created.capture_id).map_err(|_| malformed(op, "capture_id"))
    }

    async fn refund(
        &self,
        order: &OrderId,
        request: &RefundRequest,
        idempotency_key: &IdempotencyKey,
    ) -> Result<RefundId, GatewayError> {
        let op = Operation::RefundOrder;
        let created = self
            .client
            .refund_order(
                order.as_str(),
                &refund_body(request),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        RefundId::new(created.refund_id).map_err(|_| malformed(op, "refund_id"))
    }

    async fn add_shipping_info(
        &self,
        order: &OrderId,
        update: &ShippingInfoUpdate,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::AddCaptureShippingInfo;
        let body = api::UpdateShippingInfo {
            shipping_info: wire_shipping(update.shipping_info()),
        };
        self.client
            .add_capture_shipping_info(
                order.as_str(),
                update.capture().as_str(),
                &body,
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn update_authorization(
        &self,
        order: &OrderId,
        update: &AuthorizationUpdate,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::UpdateAuthorization;
        self.client
            .update_authorization(
                order.as_str(),
                &update_authorization_body(update),
                Some(idempotency_key.clone()),
            )
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn update_merchant_references(
        &self,
        order: &OrderId,
        references: &MerchantReferences,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::UpdateMerchantReferences;
        let body = api::UpdateMerchantReferences {
            merchant_reference1: references.merchant_reference1().map(str::to_owned),
            merchant_reference2: references.merchant_reference2().map(str::to_owned),
        };
        self.client
            .update_merchant_references(order.as_str(), &body, Some(idempotency_key.clone()))
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn cancel_order(
        &self,
        order: &OrderId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::CancelOrder;
        self.client
            .cancel_order(order.as_str(), Some(idempotency_key.clone()))
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn release_remaining_authorization(
        &self,
        order: &OrderId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::ReleaseRemainingAuthorization;
        self.client
            .release_remaining_authorization(order.as_str(), Some(idempotency_key.clone()))
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn extend_authorization_time(
        &self,
        order: &OrderId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(), GatewayError> {
        let op = Operation::ExtendAuthorizationTime;
        self.client
            .extend_authorization_time(order.as_str(), Some(idempotency_key.clone()))
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }

    async fn create_hosted_page(
        &self,
        session: &SessionId,
        link: &PaymentLinkRequest,
    ) -> Result<HostedPage, GatewayError> {
        let op = Operation::CreateHppSession;
        let urls = link.urls();
        let body = api::hpp::SessionCreationRequest {
            payment_session_url: self
                .client
                .payment_session_url(session.as_str())
                .map_err(|e| gateway_error(op, &e))?,
            merchant_urls: Some(api::hpp::MerchantUrls {
                success: Some(urls.success_url().to_owned()),
                cancel: urls.cancel_url().map(ToOwned::to_owned),
                back: urls.back_url().map(ToOwned::to_owned),
                failure: urls.failure_url().map(ToOwned::to_owned),
                error: urls.error_url().map(ToOwned::to_owned),
                status_update: urls.status_update_url().map(ToOwned::to_owned),
            }),
            options: Some(api::hpp::Options {
                place_order_mode: Some(api::hpp::PlaceOrderMode::from(link.mode().as_str())),
                ..api::hpp::Options::default()
            }),
            profile_id: None,
        };
        let created = self
            .client
            .create_hpp_session(&body, None)
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        Ok(HostedPage {
            id: HostedPageId::new(created.session_id).map_err(|_| malformed(op, "session_id"))?,
            redirect_url: created
                .redirect_url
                .ok_or_else(|| malformed(op, "redirect_url"))?,
            expires_at: created.expires_at.as_deref().and_then(parse_timestamp),
        })
    }

    async fn read_hosted_page(&self, page: &HostedPageId) -> Result<HostedPageState, GatewayError> {
        let op = Operation::ReadHppSession;
        let read = self
            .client
            .read_hpp_session(page.as_str())
            .await
            .map_err(|e| gateway_error(op, &e))?
            .body;
        Ok(HostedPageState {
            status: read
                .status
                .as_ref()
                .and_then(|s| HostedPageStatus::parse(s.as_str())),
            authorization_token: read
                .authorization_token
                .and_then(|t| AuthorizationToken::new(t).ok()),
            order_id: read.order_id.and_then(|o| OrderId::new(o).ok()),
        })
    }

    async fn disable_hosted_page(&self, page: &HostedPageId) -> Result<(), GatewayError> {
        let op = Operation::DisableHppSession;
        self.client
            .disable_hpp_session(page.as_str(), None)
            .await
            .map_err(|e| gateway_error(op, &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klarna_domain::{Interval, Market, PaymentId};

    fn us_cart() -> Cart {
        let market = Market::parse("US", "USD", "en-US").unwrap();
        let plan = OrderLine::builder("Plan", 1, 1000)
            .kind(LineKind::Digital)
            .reference("SKU-1")
            .quantity_unit("pcs")
            .subscription("Plan", Interval::Month, 1)
            .build()
            .unwrap();
        Cart::new(market, vec![plan])
            .unwrap()
            .with_sales_tax(85)
            .unwrap()
    }

    #[test]
    fn cart_goes_out_field_for_field() {
        let cart = us_cart();
        let order = order_body(&PlaceOrder {
            merchant: Default::default(),
            payment_id: PaymentId::new("pay_1").unwrap(),
            cart: cart.clone(),
            authorization: AuthorizationToken::new("tok").unwrap(),
            urls: MerchantUrls {
                confirmation: Some("https://shop.example/done".into()),
                ..MerchantUrls::default()
            },
        });
        assert_eq!(order.purchase_country, "US");
        assert_eq!(order.purchase_currency, "USD");
        assert_eq!(order.locale.as_deref(), Some("en-US"));
        assert_eq!(order.order_amount, 1085);
        assert_eq!(order.order_tax_amount, Some(85));
        assert_eq!(order.merchant_reference1.as_deref(), Some("pay_1"));
        assert_eq!(
            order
                .merchant_urls
                .as_ref()
                .and_then(|u| u.confirmation.as_deref()),
            Some("https://shop.example/done")
        );
        let plan = &order.order_lines[0];
        assert_eq!(plan.r#type, Some(api::OrderLineType::Digital));
        assert_eq!(plan.reference.as_deref(), Some("SKU-1"));
        assert_eq!(plan.quantity_unit.as_deref(), Some("pcs"));
        assert_eq!(plan.tax_rate, Some(0));
        let sub = plan.subscription.as_ref().unwrap();
        assert_eq!(sub.interval, Some(api::SubscriptionInterval::Month));
        assert_eq!(sub.interval_count, 1);
        let tax = &order.order_lines[1];
        assert_eq!(tax.r#type, Some(api::OrderLineType::SalesTax));
        assert_eq!((tax.tax_rate, tax.total_tax_amount), (None, None));
        assert_eq!(tax.total_amount, 85);
        // That it passes the CLI's local validation is checked in klarna-cli's tests.
    }

    #[test]
    fn wire_orders_read_back() {
        let o: api::OmOrder = serde_json::from_str(
            r#"{"order_id":"o-1","status":"PART_CAPTURED","fraud_status":"SOMETHING_NEW",
                "order_amount":1000,"captured_amount":400,"refunded_amount":100,
                "merchant_reference1":"pay_1","expires_at":"2026-12-24T10:00:00.000Z",
                "captures":[{"capture_id":"c-1","captured_amount":400}],
                "refunds":[{"refund_id":"r-1","refunded_amount":100}]}"#,
        )
        .unwrap();
        let r = remote_order(&OrderId::new("o-1").unwrap(), o).unwrap();
        assert_eq!(r.status, OrderStatus::PartCaptured);
        assert_eq!(r.fraud_status, Some(FraudStatus::Pending));
        assert_eq!(
            (r.order_amount, r.captured_amount, r.refunded_amount),
            (1000, 400, 100)
        );
        assert_eq!(r.captures, vec![(CaptureId::new("c-1").unwrap(), 400)]);
        assert_eq!(r.refunds, vec![(RefundId::new("r-1").unwrap(), 100)]);
        assert_eq!(r.merchant_reference1.as_deref(), Some("pay_1"));
        assert_eq!(
            r.expires_at,
            Some(Timestamp::from_unix_millis(1_798_106_400_000))
        );
        let bad: api::OmOrder = serde_json::from_str(r#"{"status":"WHATEVER"}"#).unwrap();
        let e = remote_order(&OrderId::new("o-1").unwrap(), bad).unwrap_err();
        assert_eq!(e.action, ErrorAction::Retry);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn fraud_status_reading() {
        assert_eq!(
            fraud(Some(&api::FraudStatus::Accepted)),
            FraudStatus::Accepted
        );
        assert_eq!(
            fraud(Some(&api::FraudStatus::RejectedAfterReview)),
            FraudStatus::Rejected
        );
        assert_eq!(fraud(None), FraudStatus::Pending);
        let placed = placed(
            Operation::CreateOrder,
            api::Order {
                order_id: String::new(),
                ..api::Order::default()
            },
        )
        .unwrap_err();
        assert_eq!(placed.action, ErrorAction::OutcomeUnknown);
    }
}
