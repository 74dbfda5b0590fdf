//! One async method per Klarna operation (API.md §0), wire models in and out.
//!
//! Mutating methods take `key: Option<IdempotencyKey>`: `None` mints a fresh UUID v4 once per
//! call; either way the same key goes out on every retry of that call. Pass your own key when
//! you may need to repeat the call later (after an `OutcomeUnknown` error, for instance).

use bytes::Bytes;
use klarna_api::{
    Capture, CaptureObject, CreateOrderRequest, CustomerToken, CustomerTokenCreationRequest,
    CustomerTokenCreationResponse, CustomerTokenOrder, ExtendDueDateOptions, ExtendDueDateRequest,
    MerchantSession, OmOrder, Order, Refund, RefundObject, SessionCreate, SessionRead,
    SessionUpdate, TokenStatusUpdate, UpdateAuthorization, UpdateConsumer,
    UpdateMerchantReferences, UpdateShippingInfo,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{
    CaptureCreated, KlarnaClient, RawResponse, RefundCreated, Response, build_path, created_id,
};
use crate::error::KlarnaError;
use crate::operation::Operation;
use klarna_domain::IdempotencyKey;

impl KlarnaClient {
    async fn call(
        &self,
        op: Operation,
        ids: &[&str],
        body: Option<Bytes>,
        key: Option<IdempotencyKey>,
    ) -> Result<RawResponse, KlarnaError> {
        let path = build_path(op, ids)?;
        self.execute(op, path, body, key).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        op: Operation,
        ids: &[&str],
        body: Option<Bytes>,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<T>, KlarnaError> {
        let raw = self.call(op, ids, body, key).await?;
        let parsed = raw.decode(op)?;
        Ok(raw.into_response(parsed))
    }

    async fn empty(
        &self,
        op: Operation,
        ids: &[&str],
        body: Option<Bytes>,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        // 204 (and T3's 202 with a plain-text body): nothing to parse.
        let raw = self.call(op, ids, body, key).await?;
        Ok(raw.into_response(()))
    }

    fn body<B: Serialize>(body: &B) -> Result<Option<Bytes>, KlarnaError> {
        Self::encode(body).map(Some)
    }

    // ----- Payments API v1 -----

    /// P1: creates a payment session.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn create_session(
        &self,
        body: &SessionCreate,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<MerchantSession>, KlarnaError> {
        self.json(Operation::CreateSession, &[], Self::body(body)?, key)
            .await
    }

    /// P2: reads a payment session.
    ///
    /// # Errors
    /// [`KlarnaError`]; 404 `NOT_FOUND` once the session expired.
    pub async fn read_session(
        &self,
        session_id: &str,
    ) -> Result<Response<SessionRead>, KlarnaError> {
        self.json(Operation::ReadSession, &[session_id], None, None)
            .await
    }

    /// P3: updates a payment session (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn update_session(
        &self,
        session_id: &str,
        body: &SessionUpdate,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::UpdateSession,
            &[session_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// P4: cancels (releases) an authorization (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn cancel_authorization(
        &self,
        authorization_token: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::CancelAuthorization,
            &[authorization_token],
            None,
            key,
        )
        .await
    }

    /// P5: creates an order from an authorization token.
    ///
    /// # Errors
    /// [`KlarnaError`]; 409 "Not matching fields" → `Conflict`, expired/consumed token →
    /// `NeedsReauthorization`, 5xx/timeout → `OutcomeUnknown` (not retried).
    pub async fn create_order(
        &self,
        authorization_token: &str,
        body: &CreateOrderRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<Order>, KlarnaError> {
        self.json(
            Operation::CreateOrder,
            &[authorization_token],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// P6: creates a customer token from an authorization token.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn create_customer_token(
        &self,
        authorization_token: &str,
        body: &CustomerTokenCreationRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<CustomerTokenCreationResponse>, KlarnaError> {
        self.json(
            Operation::CreateCustomerToken,
            &[authorization_token],
            Self::body(body)?,
            key,
        )
        .await
    }

    // ----- Customer Token API v1 -----

    /// T1: reads a customer token.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn read_customer_token(
        &self,
        customer_token: &str,
    ) -> Result<Response<CustomerToken>, KlarnaError> {
        self.json(Operation::ReadCustomerToken, &[customer_token], None, None)
            .await
    }

    /// T2: charges a customer token (creates an order). Retried under the same key.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn create_token_order(
        &self,
        customer_token: &str,
        body: &CustomerTokenOrder,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<Order>, KlarnaError> {
        self.json(
            Operation::CreateTokenOrder,
            &[customer_token],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// T3: cancels a customer token (202, irreversible).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn cancel_customer_token(
        &self,
        customer_token: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::CancelCustomerToken,
            &[customer_token],
            Self::body(&TokenStatusUpdate::cancel())?,
            key,
        )
        .await
    }

    // ----- Order Management API v1 -----

    /// O1: reads an order.
    ///
    /// # Errors
    /// [`KlarnaError`]; 404 `NO_SUCH_ORDER` → `NotFound`.
    pub async fn get_order(&self, order_id: &str) -> Result<Response<OmOrder>, KlarnaError> {
        self.json(Operation::GetOrder, &[order_id], None, None)
            .await
    }

    /// O2: captures (201; id from `Capture-Id` or `Location`).
    ///
    /// # Errors
    /// [`KlarnaError`]; 403 `CAPTURE_NOT_ALLOWED` → `Rejected`; a 201 without id headers →
    /// `MalformedResponse`.
    pub async fn capture_order(
        &self,
        order_id: &str,
        body: &CaptureObject,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<CaptureCreated>, KlarnaError> {
        let op = Operation::CaptureOrder;
        let raw = self.call(op, &[order_id], Self::body(body)?, key).await?;
        let (capture_id, location) = created_id(&raw, op, "capture-id")?;
        Ok(raw.into_response(CaptureCreated {
            capture_id,
            location,
        }))
    }

    /// O3: lists the captures of an order.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn list_captures(
        &self,
        order_id: &str,
    ) -> Result<Response<Vec<Capture>>, KlarnaError> {
        self.json(Operation::ListCaptures, &[order_id], None, None)
            .await
    }

    /// O4: reads one capture.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn get_capture(
        &self,
        order_id: &str,
        capture_id: &str,
    ) -> Result<Response<Capture>, KlarnaError> {
        self.json(Operation::GetCapture, &[order_id, capture_id], None, None)
            .await
    }

    /// O5: refunds (201; id from `Refund-Id` or `Location`).
    ///
    /// # Errors
    /// [`KlarnaError`]; 403 `REFUND_NOT_ALLOWED` → `Rejected`; a 201 without id headers →
    /// `MalformedResponse`.
    pub async fn refund_order(
        &self,
        order_id: &str,
        body: &RefundObject,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<RefundCreated>, KlarnaError> {
        let op = Operation::RefundOrder;
        let raw = self.call(op, &[order_id], Self::body(body)?, key).await?;
        let (refund_id, location) = created_id(&raw, op, "refund-id")?;
        Ok(raw.into_response(RefundCreated {
            refund_id,
            location,
        }))
    }

    /// O6: reads one refund.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn get_refund(
        &self,
        order_id: &str,
        refund_id: &str,
    ) -> Result<Response<Refund>, KlarnaError> {
        self.json(Operation::GetRefund, &[order_id, refund_id], None, None)
            .await
    }

    /// O7: cancels an uncaptured order (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; 403 `CANCEL_NOT_ALLOWED` → `Rejected`.
    pub async fn cancel_order(
        &self,
        order_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(Operation::CancelOrder, &[order_id], None, key)
            .await
    }

    /// O8: releases the remaining authorization (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn release_remaining_authorization(
        &self,
        order_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::ReleaseRemainingAuthorization,
            &[order_id],
            None,
            key,
        )
        .await
    }

    /// O9: extends the authorization time (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn extend_authorization_time(
        &self,
        order_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(Operation::ExtendAuthorizationTime, &[order_id], None, key)
            .await
    }

    /// O10: changes the order amount and lines (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn update_authorization(
        &self,
        order_id: &str,
        body: &UpdateAuthorization,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::UpdateAuthorization,
            &[order_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O11: updates merchant references (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn update_merchant_references(
        &self,
        order_id: &str,
        body: &UpdateMerchantReferences,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::UpdateMerchantReferences,
            &[order_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O12: updates the shipping address (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn update_customer_details(
        &self,
        order_id: &str,
        body: &UpdateConsumer,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::UpdateCustomerDetails,
            &[order_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O13: appends shipping info to an order (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn add_shipping_info(
        &self,
        order_id: &str,
        body: &UpdateShippingInfo,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::AddShippingInfo,
            &[order_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O14: appends shipping info to a capture (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn add_capture_shipping_info(
        &self,
        order_id: &str,
        capture_id: &str,
        body: &UpdateShippingInfo,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::AddCaptureShippingInfo,
            &[order_id, capture_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O15: re-sends customer communication for a capture (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn trigger_send_out(
        &self,
        order_id: &str,
        capture_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::TriggerSendOut,
            &[order_id, capture_id],
            None,
            key,
        )
        .await
    }

    /// O16: lists due-date extension options of a capture.
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn get_extend_due_date_options(
        &self,
        order_id: &str,
        capture_id: &str,
    ) -> Result<Response<ExtendDueDateOptions>, KlarnaError> {
        self.json(
            Operation::GetExtendDueDateOptions,
            &[order_id, capture_id],
            None,
            None,
        )
        .await
    }

    /// O17: extends a capture's due date (204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn extend_due_date(
        &self,
        order_id: &str,
        capture_id: &str,
        body: &ExtendDueDateRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(
            Operation::ExtendDueDate,
            &[order_id, capture_id],
            Self::body(body)?,
            key,
        )
        .await
    }

    /// O18: acknowledges an order (Klarna Checkout orders only, 204).
    ///
    /// # Errors
    /// [`KlarnaError`]; see [`KlarnaError::action`].
    pub async fn acknowledge_order(
        &self,
        order_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        self.empty(Operation::AcknowledgeOrder, &[order_id], None, key)
            .await
    }
}
