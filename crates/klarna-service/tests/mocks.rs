//! Interaction tests with mockall mocks: where what the service sends is the assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::{Arc, Mutex};

use klarna_domain::{
    AuthorizationToken, Cart, ClientToken, Completed, FraudStatus, Intent, Market, OrderId,
    OrderLine, Purchase, SessionId, Span, StageKind, Timestamp,
};
use klarna_ports::{
    CreatedSession, ErrorAction, GatewayError, ManualClock, MockPaymentGateway, OrderPlaced,
    Refusal, SequentialKeys, SessionState,
};
use klarna_service::{PaymentService, ServiceConfig, ServiceError};
use klarna_store_memory::InMemoryStore;

fn cart() -> Cart {
    let m = Market::parse("DE", "EUR", "de-DE").unwrap();
    Cart::new(
        m,
        vec![
            OrderLine::builder("Buch", 1, 2_000)
                .tax_rate(700)
                .build()
                .unwrap(),
        ],
    )
    .unwrap()
}

fn gateway_with_session() -> MockPaymentGateway {
    let mut g = MockPaymentGateway::new();
    g.expect_create_session().returning(|req| {
        Ok(CreatedSession {
            session_id: SessionId::new(format!("s-{}", req.payment_id)).unwrap(),
            client_token: ClientToken::new("ct").unwrap(),
            payment_method_categories: vec![],
        })
    });
    g
}

fn service(
    g: MockPaymentGateway,
    clock: Arc<ManualClock>,
) -> PaymentService<MockPaymentGateway, InMemoryStore, ManualClock, SequentialKeys> {
    PaymentService::new(
        Arc::new(g),
        Arc::new(InMemoryStore::new()),
        clock,
        Arc::new(SequentialKeys::new("pay")),
        ServiceConfig::default(),
    )
}

fn placed() -> OrderPlaced {
    OrderPlaced {
        order_id: OrderId::new("o-1").unwrap(),
        fraud_status: FraudStatus::Accepted,
        redirect_url: None,
    }
}

#[tokio::test]
async fn the_key_is_the_same_on_every_attempt_and_reference1_is_the_payment_id() {
    let keys = Arc::new(Mutex::new(Vec::new()));
    let mut g = gateway_with_session();
    let seen = Arc::clone(&keys);
    let mut first = true;
    g.expect_place_order()
        .times(2)
        .withf(|req, _| req.payment_id.as_str() == "pay-1" && req.cart.total().minor() == 2_000)
        .returning(move |_, key| {
            seen.lock().unwrap().push(key.to_string());
            if std::mem::take(&mut first) {
                Err(GatewayError::new(
                    "payments.create_order",
                    ErrorAction::OutcomeUnknown,
                    true,
                ))
            } else {
                Ok(placed())
            }
        });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
    let svc = service(g, Arc::clone(&clock));
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let err = svc
        .complete(&c.payment_id, AuthorizationToken::new("a").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::OutcomeUnknown { .. }));
    clock.advance(Span::minutes(3));
    svc.reconcile_all().await.unwrap();
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the retry reused the key");
    assert_eq!(
        svc.payment(&c.payment_id).await.unwrap().kind(),
        StageKind::Ordered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_callers_call_klarna_once() {
    let mut g = gateway_with_session();
    g.expect_place_order()
        .times(1)
        .returning(|_, _| Ok(placed()));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
    let svc = service(g, clock);
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let token = AuthorizationToken::new("a").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (svc, id, token) = (svc.clone(), c.payment_id.clone(), token.clone());
        tasks.push(tokio::spawn(async move { svc.complete(&id, token).await }));
    }
    let mut ordered = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(done) => {
                assert!(matches!(done, Completed::Order(_)), "{done:?}");
                assert_eq!(done.order().map(|o| o.order_id().as_str()), Some("o-1"));
                ordered += 1;
            }
            Err(ServiceError::InProgress(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(ordered >= 1, "at least the winner sees the order");
    // mockall verifies `times(1)` when the service (and its gateway) drop.
}

#[tokio::test]
async fn a_refusal_after_an_unknown_attempt_is_not_a_failure() {
    let mut g = gateway_with_session();
    let mut first = true;
    g.expect_place_order().times(2).returning(move |_, _| {
        if std::mem::take(&mut first) {
            Err(GatewayError::new(
                "payments.create_order",
                ErrorAction::OutcomeUnknown,
                true,
            ))
        } else {
            // The replay is refused: "already consumed" — the first attempt probably worked.
            Err(GatewayError::new(
                "payments.create_order",
                ErrorAction::Rejected(Refusal::NotAllowed),
                true,
            )
            .with_answer(403, Some("INVALID_OPERATION".into()), vec![]))
        }
    });
    g.expect_read_session().times(1).returning(|_| {
        Ok(SessionState {
            progress: klarna_ports::SessionProgress::Complete,
            expires_at: None,
            authorization_token: None,
        })
    });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
    let svc = service(g, Arc::clone(&clock));
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let _ = svc
        .complete(&c.payment_id, AuthorizationToken::new("a").unwrap())
        .await;
    clock.advance(Span::minutes(3));
    let report = svc.reconcile_all().await.unwrap();
    assert_eq!(report.needs_review, 1);
    let p = svc.payment(&c.payment_id).await.unwrap();
    assert_eq!(
        p.kind(),
        StageKind::NeedsReview,
        "ambiguity never resolves to failed"
    );
}

#[tokio::test]
async fn a_first_attempt_refusal_is_definitive() {
    let mut g = gateway_with_session();
    g.expect_place_order().times(1).returning(|_, _| {
        Err(GatewayError::new(
            "payments.create_order",
            ErrorAction::Rejected(Refusal::Declined),
            true,
        )
        .with_answer(403, Some("REJECTED".into()), vec![]))
    });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
    let svc = service(g, clock);
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let err = svc
        .complete(&c.payment_id, AuthorizationToken::new("a").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Refused(_)));
    assert_eq!(
        svc.payment(&c.payment_id).await.unwrap().kind(),
        StageKind::Refused
    );
    assert_eq!(
        svc.reconcile_all().await.unwrap().examined,
        0,
        "nothing left in doubt"
    );
}

#[test]
fn invalid_carts_never_reach_the_gateway() {
    // A purchase that breaks the rule cannot be built, so no call to the service (and its
    // gateway) can carry it; its error is the service's cart error wherever `?` meets it.
    let err: ServiceError = Purchase::new(Intent::Tokenize, cart()).unwrap_err().into();
    let ServiceError::Cart(e) = err else {
        panic!("expected a cart error, got {err:?}");
    };
    assert_eq!(e.field().to_string(), "order_lines");
}

/// Defect 4 of the exactly-once issue: only a session that says, explicitly, `incomplete`
/// (after a refusal that does not mean "consumed") is evidence that an in-doubt create order
/// made nothing. An absent or unknown status, or `incomplete` next to a consumed authorization
/// (a lagging read), keeps the operation pending.
#[tokio::test]
async fn only_an_explicit_incomplete_session_clears_an_in_doubt_order() {
    use klarna_ports::SessionProgress;
    let not_found = || {
        GatewayError::new("payments.create_order", ErrorAction::Reauthorize, true).with_answer(
            404,
            Some("NOT_FOUND".into()),
            vec![],
        )
    };
    let consumed = || {
        GatewayError::new(
            "payments.create_order",
            ErrorAction::Rejected(Refusal::NotAllowed),
            true,
        )
        .with_answer(403, Some("INVALID_OPERATION".into()), vec![])
    };
    type Refusal_ = fn() -> GatewayError;
    let cases: [(&str, Refusal_, SessionProgress, StageKind); 4] = [
        (
            "unknown status",
            not_found,
            SessionProgress::Unknown,
            StageKind::OrderPending,
        ),
        (
            "lagging read",
            consumed,
            SessionProgress::Incomplete,
            StageKind::OrderPending,
        ),
        (
            "explicit incomplete",
            not_found,
            SessionProgress::Incomplete,
            StageKind::Open,
        ),
        (
            "complete",
            not_found,
            SessionProgress::Complete,
            StageKind::NeedsReview,
        ),
    ];
    for (name, replay, progress, expected) in cases {
        let mut g = gateway_with_session();
        let mut first = true;
        g.expect_place_order().times(2).returning(move |_, _| {
            if std::mem::take(&mut first) {
                Err(GatewayError::new(
                    "payments.create_order",
                    ErrorAction::OutcomeUnknown,
                    true,
                ))
            } else {
                Err(replay())
            }
        });
        g.expect_read_session().times(1).returning(move |_| {
            Ok(SessionState {
                progress,
                expires_at: None,
                authorization_token: None,
            })
        });
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
        let svc = service(g, Arc::clone(&clock));
        let c = svc
            .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
            .await
            .unwrap();
        let _ = svc
            .complete(&c.payment_id, AuthorizationToken::new("a").unwrap())
            .await;
        clock.advance(Span::minutes(3));
        svc.reconcile(10).await.unwrap();
        assert_eq!(
            svc.payment(&c.payment_id).await.unwrap().kind(),
            expected,
            "{name}"
        );
    }
}

/// Klarna refusing a cart update (the session is gone there) is a refusal, not "Klarna is
/// unavailable, try later"; an update that never left is. Neither changes the stored cart.
#[tokio::test]
async fn a_refused_cart_update_is_refused_and_an_unreachable_one_unavailable() {
    let mut g = gateway_with_session();
    let mut answers = vec![
        GatewayError::new("payments.update_session", ErrorAction::Retry, false),
        GatewayError::new("payments.update_session", ErrorAction::NotFound, true),
    ];
    g.expect_update_session()
        .times(2)
        .returning(move |_, _| Err(answers.pop().unwrap()));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )));
    let svc = service(g, clock);
    let c = svc
        .start_checkout(Purchase::new(Intent::Buy, cart()).unwrap())
        .await
        .unwrap();
    let bigger = Cart::new(
        cart().market(),
        vec![
            OrderLine::builder("Buch", 2, 2_000)
                .tax_rate(700)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let err = svc
        .update_cart(&c.payment_id, bigger.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Refused(_)), "{err}");
    let err = svc.update_cart(&c.payment_id, bigger).await.unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err}");
    let p = svc.payment(&c.payment_id).await.unwrap();
    assert_eq!(
        p.cart().total().minor(),
        2_000,
        "the stored cart is unchanged"
    );
}
