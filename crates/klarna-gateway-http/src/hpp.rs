//! The Hosted Payment Page API v1 on [`KlarnaClient`] (`docs/klarna/hpp.md`): create (H1), read
//! (H2), disable (H3) and distribute (H4) an HPP session, with every input checked before
//! anything is sent, and [`KlarnaClient::payment_session_url`], the KP session's URL an HPP
//! session needs.
//!
//! No HPP operation documents `Klarna-Idempotency-Key`; the mutating ones carry one anyway (as
//! every mutating call does) but are never retried after an unknown outcome
//! ([`Operation::retry_safe`]): a repeated create makes a second HPP session, a repeated
//! distribution a second message to the shopper.

use bytes::Bytes;
use klarna_api::hpp::{
    DistributionMethod, DistributionRequest, MerchantUrls, SessionCreationRequest,
    SessionCreationResponse, SessionResponse,
};
use klarna_domain::IdempotencyKey;

use crate::client::{KlarnaClient, Response, build_path, is_loopback};
use crate::error::KlarnaError;
use crate::operation::Operation;

fn invalid(field: &'static str, reason: impl Into<String>) -> KlarnaError {
    KlarnaError::InvalidInput {
        field,
        reason: reason.into(),
    }
}

/// Parses an absolute `https` URL (plain `http` only to a loopback host, as for the client's
/// base URL), without credentials.
fn web_url(field: &'static str, raw: &str) -> Result<url::Url, KlarnaError> {
    let url = url::Url::parse(raw).map_err(|e| invalid(field, format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                field,
                "https is required: plain http is allowed for loopback hosts only",
            ));
        }
        _ => return Err(invalid(field, "scheme must be https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "must have a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(field, "must not contain credentials"));
    }
    Ok(url)
}

/// Checks an H1 body as [`KlarnaClient::create_hpp_session`] does before sending it:
/// `payment_session_url` is an https URL of a KP session (`…/payments/v1/sessions/{id}`), and
/// every merchant URL is an https URL (plain http only to loopback).
///
/// # Errors
///
/// [`KlarnaError::InvalidInput`] naming the field, e.g. `payment_session_url` or
/// `merchant_urls.success`.
pub fn validate_session_request(body: &SessionCreationRequest) -> Result<(), KlarnaError> {
    const FIELD: &str = "payment_session_url";
    if body.payment_session_url.trim().is_empty() {
        return Err(invalid(FIELD, "missing"));
    }
    let url = web_url(FIELD, &body.payment_session_url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(FIELD, "must not have a query or fragment"));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    let kp_session = matches!(
        segments.as_slice(),
        [.., "payments", "v1", "sessions", id] if !id.is_empty()
    );
    if !kp_session {
        return Err(invalid(
            FIELD,
            "must name a Klarna Payments session: …/payments/v1/sessions/{session_id}",
        ));
    }
    if let Some(urls) = &body.merchant_urls {
        validate_merchant_urls(urls)?;
    }
    Ok(())
}

fn validate_merchant_urls(urls: &MerchantUrls) -> Result<(), KlarnaError> {
    for (field, value) in [
        ("merchant_urls.success", &urls.success),
        ("merchant_urls.cancel", &urls.cancel),
        ("merchant_urls.back", &urls.back),
        ("merchant_urls.failure", &urls.failure),
        ("merchant_urls.error", &urls.error),
        ("merchant_urls.status_update", &urls.status_update),
    ] {
        if let Some(raw) = value {
            web_url(field, raw)?;
        }
    }
    Ok(())
}

/// A trimmed, non-empty field.
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Checks an H4 body as [`KlarnaClient::distribute_hpp_session`] does before sending it: the
/// contact field its method needs is present and well-formed (`contact_information.email` for
/// `email`, `phone` and a two-letter `phone_country` for `sms`, `access_id` for `token`).
///
/// # Errors
///
/// [`KlarnaError::InvalidInput`] naming the field (never its value: contact data is personal).
pub fn validate_distribution(body: &DistributionRequest) -> Result<(), KlarnaError> {
    let contact = &body.contact_information;
    match &body.method {
        DistributionMethod::Email => {
            let email = present(&contact.email)
                .ok_or_else(|| invalid("contact_information.email", "missing"))?;
            let well_formed = email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                && !email.chars().any(char::is_whitespace);
            if !well_formed {
                return Err(invalid(
                    "contact_information.email",
                    "not an e-mail address",
                ));
            }
        }
        DistributionMethod::Sms => {
            let phone = present(&contact.phone)
                .ok_or_else(|| invalid("contact_information.phone", "missing"))?;
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
            if !allowed || digits < 5 {
                return Err(invalid("contact_information.phone", "not a phone number"));
            }
            let country = present(&contact.phone_country)
                .ok_or_else(|| invalid("contact_information.phone_country", "missing"))?;
            if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(invalid(
                    "contact_information.phone_country",
                    "must be an ISO 3166 alpha-2 country code",
                ));
            }
        }
        DistributionMethod::Token => {
            present(&contact.access_id)
                .ok_or_else(|| invalid("contact_information.access_id", "missing"))?;
        }
        _ => {
            return Err(invalid("method", "must be sms, email or token"));
        }
    }
    Ok(())
}

impl KlarnaClient {
    /// The URL of a KP session as H1's `payment_session_url` wants it:
    /// `{base_url}/payments/v1/sessions/{kp_session_id}` on this client's base URL (the id
    /// percent-encoded as one path segment).
    ///
    /// # Errors
    ///
    /// [`KlarnaError::InvalidInput`] (`session_id`) for an empty or dot-segment id.
    pub fn payment_session_url(&self, kp_session_id: &str) -> Result<String, KlarnaError> {
        let path = build_path(Operation::ReadSession, &[kp_session_id])?;
        Ok(format!("{}{path}", self.base_url()))
    }

    /// H1: creates an HPP session for a KP session (201). The body is checked first
    /// ([`validate_session_request`]).
    ///
    /// # Errors
    ///
    /// [`KlarnaError::InvalidInput`] naming the field, nothing sent; otherwise
    /// [`KlarnaError`]: 404 when the KP session expired, 400 for a field Klarna refuses.
    pub async fn create_hpp_session(
        &self,
        body: &SessionCreationRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<SessionCreationResponse>, KlarnaError> {
        validate_session_request(body)?;
        let op = Operation::CreateHppSession;
        let bytes = Self::encode(body)?;
        let raw = self
            .execute(op, build_path(op, &[])?, Some(bytes), key)
            .await?;
        let parsed = raw.decode(op)?;
        Ok(raw.into_response(parsed))
    }

    /// H2: reads an HPP session (its status, and once `COMPLETED` the authorization token or
    /// the order id).
    ///
    /// # Errors
    ///
    /// [`KlarnaError`]; 404 once the session expired (one hour before its KP session).
    pub async fn read_hpp_session(
        &self,
        hpp_session_id: &str,
    ) -> Result<Response<SessionResponse>, KlarnaError> {
        let op = Operation::ReadHppSession;
        let raw = self
            .execute(op, build_path(op, &[hpp_session_id])?, None, None)
            .await?;
        let parsed = raw.decode(op)?;
        Ok(raw.into_response(parsed))
    }

    /// H3: disables an HPP session (204). The KP session is untouched.
    ///
    /// # Errors
    ///
    /// [`KlarnaError`]; 400 when the session is already `COMPLETED`, 404 when it expired.
    pub async fn disable_hpp_session(
        &self,
        hpp_session_id: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        let op = Operation::DisableHppSession;
        let raw = self
            .execute(op, build_path(op, &[hpp_session_id])?, None, key)
            .await?;
        Ok(raw.into_response(()))
    }

    /// H4: sends the shopper a link to the page by e-mail or SMS (Klarna answers 201 or 204;
    /// any 2xx is success). The body is checked first ([`validate_distribution`]).
    ///
    /// # Errors
    ///
    /// [`KlarnaError::InvalidInput`] naming the missing or malformed contact field, nothing
    /// sent; otherwise [`KlarnaError`]: 400 for contact data Klarna refuses or a disabled
    /// session, 404 when the session expired.
    pub async fn distribute_hpp_session(
        &self,
        hpp_session_id: &str,
        body: &DistributionRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Response<()>, KlarnaError> {
        validate_distribution(body)?;
        let op = Operation::DistributeHppSession;
        let path = build_path(op, &[hpp_session_id])?;
        let bytes: Bytes = Self::encode(body)?;
        let raw = self.execute(op, path, Some(bytes), key).await?;
        Ok(raw.into_response(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klarna_api::hpp::DistributionContact;

    fn request(url: &str) -> SessionCreationRequest {
        SessionCreationRequest {
            payment_session_url: url.to_owned(),
            ..SessionCreationRequest::default()
        }
    }

    fn field_of(r: Result<(), KlarnaError>) -> &'static str {
        match r {
            Err(KlarnaError::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn payment_session_url_must_name_a_kp_session_over_https() {
        let ok = "https://api.klarna.com/payments/v1/sessions/92d97f60";
        assert!(validate_session_request(&request(ok)).is_ok());
        assert!(
            validate_session_request(&request("http://127.0.0.1:4000/payments/v1/sessions/x"))
                .is_ok()
        );
        for bad in [
            "",
            "  ",
            "not a url",
            "http://api.klarna.com/payments/v1/sessions/1",
            "ftp://api.klarna.com/payments/v1/sessions/1",
            "https://api.klarna.com/payments/v1/sessions/",
            "https://api.klarna.com/checkout/v3/orders/1",
            "https://api.klarna.com/payments/v1/sessions/1?x=1",
            "https://u:p@api.klarna.com/payments/v1/sessions/1",
        ] {
            assert_eq!(
                field_of(validate_session_request(&request(bad))),
                "payment_session_url",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn merchant_urls_must_be_https_except_to_loopback() {
        let mut r = request("https://api.klarna.com/payments/v1/sessions/1");
        r.merchant_urls = Some(MerchantUrls {
            success: Some(
                "https://shop.example/ok?hpp={{session_id}}&t={{authorization_token}}".into(),
            ),
            cancel: Some("http://localhost:8080/cancel".into()),
            ..MerchantUrls::default()
        });
        assert!(validate_session_request(&r).is_ok());
        for (name, set) in [
            ("merchant_urls.success", 0),
            ("merchant_urls.cancel", 1),
            ("merchant_urls.back", 2),
            ("merchant_urls.failure", 3),
            ("merchant_urls.error", 4),
            ("merchant_urls.status_update", 5),
        ] {
            let mut urls = MerchantUrls::default();
            let bad = Some("http://shop.example/x".to_owned());
            match set {
                0 => urls.success = bad,
                1 => urls.cancel = bad,
                2 => urls.back = bad,
                3 => urls.failure = bad,
                4 => urls.error = bad,
                _ => urls.status_update = bad,
            }
            r.merchant_urls = Some(urls);
            assert_eq!(field_of(validate_session_request(&r)), name);
        }
    }

    #[test]
    fn distributions_need_their_methods_contact_field() {
        assert!(validate_distribution(&DistributionRequest::email("a@b.se")).is_ok());
        assert!(validate_distribution(&DistributionRequest::sms("+46 70 000 21 23", "SE")).is_ok());
        let cases = [
            (DistributionRequest::email(""), "contact_information.email"),
            (
                DistributionRequest::email("no-at.se"),
                "contact_information.email",
            ),
            (
                DistributionRequest::email("a b@c.se"),
                "contact_information.email",
            ),
            (
                DistributionRequest::sms("", "SE"),
                "contact_information.phone",
            ),
            (
                DistributionRequest::sms("call me", "SE"),
                "contact_information.phone",
            ),
            (
                DistributionRequest::sms("0700021234", ""),
                "contact_information.phone_country",
            ),
            (
                DistributionRequest::sms("0700021234", "SWE"),
                "contact_information.phone_country",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(validate_distribution(&body)), field);
        }
        let token = DistributionRequest {
            contact_information: DistributionContact::default(),
            method: DistributionMethod::Token,
            template: None,
        };
        assert_eq!(
            field_of(validate_distribution(&token)),
            "contact_information.access_id"
        );
        let email_method_with_phone = DistributionRequest {
            method: DistributionMethod::Email,
            ..DistributionRequest::sms("0700021234", "SE")
        };
        assert_eq!(
            field_of(validate_distribution(&email_method_with_phone)),
            "contact_information.email"
        );
    }

    #[test]
    fn errors_never_quote_the_contact_data() {
        let e = validate_distribution(&DistributionRequest::email("secret-person.example"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("contact_information.email"), "{e}");
        assert!(!e.contains("secret-person"), "{e}");
    }
}
