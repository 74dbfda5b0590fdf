//! The real `KlarnaGateway` against the in-process simulator: every port method, then the
//! service end to end over it (one-time, recurring, buy-and-tokenize, a lost answer
//! reconciled), and the error mapping against scripted answers (wiremock).

use std::sync::Arc;
use std::time::Duration;

use klarna_domain::{
    Amount, AnyPayment, AuthorizationToken, Cart, Completed, FraudStatus, IdempotencyKey, Intent,
    Interval, Market, OrderId, OrderLine, OrderStatus, PaymentId, Purchase, SessionId, StageKind,
    TokenStatus, Tokenization,
};
use klarna_gateway_http::{Credentials, KlarnaClient, KlarnaGateway, RetryConfig, UuidKeys};
use klarna_ports::{
    ChargeToken, Clock, CreateCustomerToken, ErrorAction, ManualClock, MerchantUrls, NewSession,
    PaymentGateway, PlaceOrder, Refusal, SystemClock,
};
use klarna_service::{ChargeRequest, PaymentService, ServiceConfig, ServiceError};
use klarna_simulator::{Fault, FaultRule, ReplayPolicy, ShopperDecision, Simulator};
use klarna_store_memory::InMemoryStore;

/// A positive amount (the tests' amounts are literals).
fn amt(minor: i64) -> Amount {
    Amount::new(minor).unwrap()
}

fn gateway_for(base_url: &str, user: &str, password: &str) -> KlarnaGateway {
    let retry = RetryConfig {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        retry_after_cap: Duration::from_millis(50),
        ..RetryConfig::default()
    };
    let client = KlarnaClient::builder(Credentials::new(user, password))
        .base_url(base_url)
        .retry(retry)
        .build()
        .unwrap();
    KlarnaGateway::new(client)
}

fn gateway(sim: &Simulator) -> KlarnaGateway {
    gateway_for(sim.base_url(), sim.username(), sim.password())
}

fn cart(subscription: bool) -> Cart {
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let mut shoe = OrderLine::builder("Trail shoe", 2, 89_900)
        .tax_rate(2_500)
        .discount(10_000)
        .reference("SHOE-1")
        .quantity_unit("pcs");
    if subscription {
        shoe = shoe.subscription("Shoe club", Interval::Month, 1);
    }
    let shipping = OrderLine::builder("Delivery", 1, 4_900)
        .kind(klarna_domain::LineKind::ShippingFee)
        .tax_rate(2_500)
        .build()
        .unwrap();
    Cart::new(market, vec![shoe.build().unwrap(), shipping]).unwrap()
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

async fn authorized_session(
    sim: &Simulator,
    gw: &KlarnaGateway,
    payment: &str,
    intent: Intent,
) -> (SessionId, AuthorizationToken) {
    let created = gw
        .create_session(&NewSession {
            merchant: Default::default(),
            payment_id: PaymentId::new(payment).unwrap(),
            intent,
            cart: cart(intent != Intent::Buy),
            urls: MerchantUrls::default(),
        })
        .await
        .unwrap();
    let token = sim
        .authorize(created.session_id.as_str(), ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    (created.session_id, AuthorizationToken::new(token).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_payments_port_method_against_the_simulator() {
    let sim = Simulator::start().await.unwrap();
    let gw = gateway(&sim);

    // P1, P2, P3.
    let created = gw
        .create_session(&NewSession {
            merchant: Default::default(),
            payment_id: PaymentId::new("pay_gw_1").unwrap(),
            intent: Intent::Buy,
            cart: cart(false),
            urls: MerchantUrls {
                confirmation: Some("https://shop.example/thanks".into()),
                ..MerchantUrls::default()
            },
        })
        .await
        .unwrap();
    assert!(!created.payment_method_categories.is_empty());
    assert!(created.client_token.expose_secret().contains('.'));
    let state = gw.read_session(&created.session_id).await.unwrap();
    assert_eq!(state.progress, klarna_ports::SessionProgress::Incomplete);
    assert!(state.expires_at.is_some());
    gw.update_session(&created.session_id, &cart(false))
        .await
        .unwrap();

    // P5 with the authorized cart.
    let token = sim
        .authorize(created.session_id.as_str(), ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let place = PlaceOrder {
        merchant: Default::default(),
        payment_id: PaymentId::new("pay_gw_1").unwrap(),
        cart: cart(false),
        authorization: AuthorizationToken::new(token).unwrap(),
        urls: MerchantUrls::default(),
    };
    let placed = gw.place_order(&place, &key("gw-order-1")).await.unwrap();
    assert_eq!(placed.fraud_status, FraudStatus::Accepted);
    assert_eq!(
        gw.read_session(&created.session_id).await.unwrap().progress,
        klarna_ports::SessionProgress::Complete
    );
    let at_sim = sim.order(placed.order_id.as_str()).unwrap();
    assert_eq!(at_sim.merchant_reference1.as_deref(), Some("pay_gw_1"));
    assert_eq!(at_sim.order_amount, cart(false).total().minor());

    // The token is consumed: a second order is a re-authorization case.
    let again = gw
        .place_order(&place, &key("gw-order-2"))
        .await
        .unwrap_err();
    assert_eq!(again.action, ErrorAction::Reauthorize);
    assert_eq!(again.status, Some(403));

    // P4 on a fresh authorization, after which it cannot become an order.
    let (_, token) = authorized_session(&sim, &gw, "pay_gw_2", Intent::Buy).await;
    gw.cancel_authorization(&token).await.unwrap();
    let refused = gw
        .place_order(
            &PlaceOrder {
                merchant: Default::default(),
                payment_id: PaymentId::new("pay_gw_2").unwrap(),
                cart: cart(false),
                authorization: token,
                urls: MerchantUrls::default(),
            },
            &key("gw-order-3"),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.action, ErrorAction::Reauthorize);
    assert_eq!(refused.status, Some(404));
    assert!(refused.correlation_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_management_port_method_against_the_simulator() {
    let sim = Simulator::start().await.unwrap();
    let gw = gateway(&sim);
    let place = |payment: &str, token: AuthorizationToken| PlaceOrder {
        merchant: Default::default(),
        payment_id: PaymentId::new(payment).unwrap(),
        cart: cart(false),
        authorization: token,
        urls: MerchantUrls::default(),
    };
    let (_, token) = authorized_session(&sim, &gw, "pay_om_1", Intent::Buy).await;
    let order = gw
        .place_order(&place("pay_om_1", token), &key("om-1"))
        .await
        .unwrap()
        .order_id;

    let remote = gw.read_order(&order).await.unwrap();
    assert_eq!(remote.status, OrderStatus::Authorized);
    assert_eq!(remote.order_amount, 174_700);
    assert_eq!(remote.merchant_reference1.as_deref(), Some("pay_om_1"));
    assert_eq!(remote.fraud_status, Some(FraudStatus::Accepted));
    assert!(remote.expires_at.is_some());

    gw.extend_authorization_time(&order, &key("om-1-extend"))
        .await
        .unwrap();
    // The same key twice: one capture (Klarna replays the first answer).
    let capture = gw
        .capture(&order, &amt(100_000).into(), &key("om-1-cap"))
        .await
        .unwrap();
    let replay = gw
        .capture(&order, &amt(100_000).into(), &key("om-1-cap"))
        .await
        .unwrap();
    assert_eq!(capture, replay);
    let refund = gw
        .refund(&order, &amt(20_000).into(), &key("om-1-ref"))
        .await
        .unwrap();
    let remote = gw.read_order(&order).await.unwrap();
    assert_eq!(remote.status, OrderStatus::PartCaptured);
    assert_eq!(remote.captures, vec![(capture, 100_000)]);
    assert_eq!(remote.refunds, vec![(refund, 20_000)]);
    assert_eq!(
        (remote.captured_amount, remote.refunded_amount),
        (100_000, 20_000)
    );
    gw.release_remaining_authorization(&order, &key("om-1-release"))
        .await
        .unwrap();
    assert_eq!(
        gw.read_order(&order).await.unwrap().status,
        OrderStatus::Closed
    );
    let over = gw
        .capture(&order, &amt(1).into(), &key("om-1-cap-2"))
        .await
        .unwrap_err();
    assert_eq!(over.action, ErrorAction::Rejected(Refusal::NotAllowed));
    assert_eq!(over.code.as_deref(), Some("CAPTURE_NOT_ALLOWED"));

    let (_, token) = authorized_session(&sim, &gw, "pay_om_2", Intent::Buy).await;
    let second = gw
        .place_order(&place("pay_om_2", token), &key("om-2"))
        .await
        .unwrap()
        .order_id;
    gw.cancel_order(&second, &key("om-2-cancel")).await.unwrap();
    assert_eq!(
        gw.read_order(&second).await.unwrap().status,
        OrderStatus::Cancelled
    );
    // A well-formed id Klarna does not know is 404; a malformed one is 400 INVALID_ORDER_ID.
    let missing = gw
        .read_order(&OrderId::new("6d4b8f4e-0c1a-4e8b-9a3e-5f0a1b2c3d4e").unwrap())
        .await
        .unwrap_err();
    assert_eq!(missing.action, ErrorAction::NotFound);
    let malformed = gw
        .read_order(&OrderId::new("no-such-order").unwrap())
        .await
        .unwrap_err();
    assert_eq!(malformed.action, ErrorAction::InvalidRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_token_port_method_against_the_simulator() {
    let sim = Simulator::start().await.unwrap();
    let gw = gateway(&sim);
    let (_, token) = authorized_session(&sim, &gw, "pay_tok_1", Intent::Tokenize).await;
    let customer = gw
        .create_customer_token(
            &CreateCustomerToken {
                merchant: Default::default(),
                payment_id: PaymentId::new("pay_tok_1").unwrap(),
                market: cart(true).market(),
                description: "Shoe club".into(),
                authorization: token,
            },
            &key("tok-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        gw.read_customer_token(&customer).await.unwrap(),
        TokenStatus::Active
    );
    let charge = |payment: &str| ChargeToken {
        merchant: Default::default(),
        payment_id: PaymentId::new(payment).unwrap(),
        token: customer.clone(),
        cart: cart(true),
    };
    let first = gw
        .charge_customer_token(&charge("pay_tok_c1"), &key("tok-c1"))
        .await
        .unwrap();
    let second = gw
        .charge_customer_token(&charge("pay_tok_c2"), &key("tok-c2"))
        .await
        .unwrap();
    assert_ne!(first.order_id, second.order_id);
    assert_eq!(sim.orders().len(), 2);
    gw.cancel_customer_token(&customer).await.unwrap();
    assert_eq!(
        gw.read_customer_token(&customer).await.unwrap(),
        TokenStatus::Cancelled
    );
    let refused = gw
        .charge_customer_token(&charge("pay_tok_c3"), &key("tok-c3"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.action,
        ErrorAction::Rejected(Refusal::TokenUnusable(TokenStatus::Cancelled))
    );
    assert_eq!(refused.code.as_deref(), Some("TOKEN_CANCELED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_unreachable_klarna_map_to_actions() {
    let sim = Simulator::start().await.unwrap();
    let wrong = gateway_for(sim.base_url(), sim.username(), "wrong-password");
    let e = wrong
        .read_order(&OrderId::new("o-1").unwrap())
        .await
        .unwrap_err();
    assert_eq!((e.action, e.status), (ErrorAction::Unauthorized, Some(401)));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = gateway_for(&format!("http://127.0.0.1:{port}"), "u", "p");
    let e = closed
        .capture(
            &OrderId::new("o-1").unwrap(),
            &amt(1).into(),
            &key("k-closed"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.action, ErrorAction::Retry);
    assert!(!e.may_have_reached_klarna);

    // The answer is lost after the effect: a mutation in doubt.
    let gw = gateway(&sim);
    let (_, token) = authorized_session(&sim, &gw, "pay_drop", Intent::Buy).await;
    sim.add_fault(FaultRule::new(
        "payments.create_order",
        1,
        Fault::DropAfterEffect,
    ));
    let e = gw
        .place_order(
            &PlaceOrder {
                merchant: Default::default(),
                payment_id: PaymentId::new("pay_drop").unwrap(),
                cart: cart(false),
                authorization: token,
                urls: MerchantUrls::default(),
            },
            &key("k-drop"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.action, ErrorAction::OutcomeUnknown);
    assert!(e.may_have_reached_klarna);
    assert_eq!(sim.orders().len(), 1);
}

// ----- the service end to end over the real gateway -----

type Service = PaymentService<KlarnaGateway, InMemoryStore, SystemClock, UuidKeys>;

fn service(sim: &Simulator, config: ServiceConfig) -> Service {
    PaymentService::new(
        Arc::new(gateway(sim)),
        Arc::new(InMemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidKeys::new(uuid::Uuid::from_u128(0x6b6c_6172_6e61))),
        config,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_one_time_checkout_capture_refund() {
    let sim = Simulator::start().await.unwrap();
    let svc = service(&sim, ServiceConfig::default());
    let checkout = svc
        .start_checkout(Purchase::new(Intent::Buy, cart(false)).unwrap())
        .await
        .unwrap();
    let token = crate::approve(&sim, &checkout.session_id);
    let ordered = svc.complete(&checkout.payment_id, token).await.unwrap();
    assert!(matches!(ordered, Completed::Order(_)), "{ordered:?}");
    assert_eq!(
        svc.payment(&checkout.payment_id).await.unwrap().kind(),
        StageKind::Ordered
    );
    let order_id = ordered.order().unwrap().order_id().clone();
    let at_sim = sim.order(order_id.as_str()).unwrap();
    assert_eq!(
        at_sim.merchant_reference1.as_deref(),
        Some(checkout.payment_id.as_str())
    );
    let amount = |minor| Amount::new(minor).unwrap();
    let managed = svc.capture(&order_id, amount(174_700)).await.unwrap().order;
    assert_eq!(managed.captured(), 174_700);
    let managed = svc.refund(&order_id, amount(4_900)).await.unwrap().order;
    assert_eq!(managed.refunded(), 4_900);
    let at_sim = sim.order(order_id.as_str()).unwrap();
    assert_eq!(
        (at_sim.captured_amount, at_sim.refunded_amount),
        (174_700, 4_900)
    );
    assert_eq!(at_sim.status, "CAPTURED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tokenize_charge_twice_and_cancel() {
    let sim = Simulator::start().await.unwrap();
    let svc = service(&sim, ServiceConfig::default());
    let checkout = svc
        .start_checkout(Purchase::new(Intent::Tokenize, cart(true)).unwrap())
        .await
        .unwrap();
    let token = crate::approve(&sim, &checkout.session_id);
    let done = svc.complete(&checkout.payment_id, token).await.unwrap();
    assert!(matches!(done, Completed::Token(_)), "{done:?}");
    assert_eq!(
        svc.payment(&checkout.payment_id).await.unwrap().kind(),
        StageKind::Tokenized
    );
    let customer = done.token().unwrap().clone();
    assert!(sim.orders().is_empty(), "tokenize places no order");
    let mut last = None;
    for month in ["2026-11", "2026-12"] {
        let payment_id = PaymentId::new(format!("sub-1-{month}")).unwrap();
        let charged = svc
            .charge_customer_token(ChargeRequest {
                merchant: Default::default(),
                payment_id: payment_id.clone(),
                token: customer.clone(),
                cart: cart(true),
            })
            .await
            .unwrap();
        assert_eq!(
            svc.payment(&payment_id).await.unwrap().kind(),
            StageKind::Ordered
        );
        last = Some(charged);
    }
    // Charging the same month again returns the first charge: still two orders.
    let payment_id = PaymentId::new("sub-1-2026-12").unwrap();
    let again = svc
        .charge_customer_token(ChargeRequest {
            merchant: Default::default(),
            payment_id: payment_id.clone(),
            token: customer.clone(),
            cart: cart(true),
        })
        .await
        .unwrap();
    assert_eq!(
        svc.payment(&payment_id).await.unwrap().kind(),
        StageKind::Ordered
    );
    assert_eq!(Some(again.order_id()), last.as_ref().map(|o| o.order_id()));
    assert_eq!(sim.orders().len(), 2);
    let cancelled = svc.cancel_customer_token(&customer).await.unwrap();
    assert_eq!(cancelled.status(), TokenStatus::Cancelled);
    assert_eq!(
        gateway(&sim).read_customer_token(&customer).await.unwrap(),
        TokenStatus::Cancelled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_buy_and_tokenize_completes_both() {
    let sim = Simulator::start().await.unwrap();
    let svc = service(&sim, ServiceConfig::default());
    let checkout = svc
        .start_checkout(Purchase::new(Intent::BuyAndTokenize, cart(true)).unwrap())
        .await
        .unwrap();
    let token = crate::approve(&sim, &checkout.session_id);
    let done = svc.complete(&checkout.payment_id, token).await.unwrap();
    let Completed::OrderAndToken {
        token: Some(made), ..
    } = &done
    else {
        panic!("expected an order and a token, got {done:?}");
    };
    let payment = svc.payment(&checkout.payment_id).await.unwrap();
    let AnyPayment::Ordered(p) = &payment else {
        panic!("expected an ordered payment, got {:?}", payment.kind());
    };
    let Tokenization::Done(customer) = p.tokenization() else {
        panic!("expected a customer token");
    };
    assert_eq!(customer, made);
    assert_eq!(
        gateway(&sim).read_customer_token(customer).await.unwrap(),
        TokenStatus::Active
    );
    assert_eq!(sim.orders().len(), 1);
}

/// A create order whose answer is lost after Klarna made the order, against both Klarnas.
/// Pessimistic (the default, as Klarna documents no key on the Payments API): the reconciler's
/// replay meets a consumed authorization and a complete session, so the payment goes to review
/// with its evidence, and the operator's resolution (the order found by `merchant_reference1`,
/// checked with Order Management) records it. Optimistic: the replay answers the first order.
/// The service's clock is manual: the reconciler runs after the fence (call deadline plus
/// grace, at their real defaults), as a real one would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_order_answer_is_reconciled_to_exactly_one_order() {
    for policy in [ReplayPolicy::Pessimistic, ReplayPolicy::Optimistic] {
        let sim = Simulator::builder().replay(policy).start().await.unwrap();
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let svc = PaymentService::new(
            Arc::new(gateway(&sim)),
            Arc::new(InMemoryStore::new()),
            Arc::clone(&clock),
            Arc::new(UuidKeys::new(uuid::Uuid::from_u128(0x6b6c_6172_6e61))),
            ServiceConfig::default(),
        );
        let checkout = svc
            .start_checkout(Purchase::new(Intent::Buy, cart(false)).unwrap())
            .await
            .unwrap();
        let token = crate::approve(&sim, &checkout.session_id);
        sim.add_fault(FaultRule::new(
            "payments.create_order",
            1,
            Fault::DropAfterEffect,
        ));
        let err = svc.complete(&checkout.payment_id, token).await.unwrap_err();
        assert!(
            matches!(err, ServiceError::OutcomeUnknown { .. }),
            "{policy:?}: expected OutcomeUnknown, got {err:?}"
        );
        assert_eq!(
            sim.orders().len(),
            1,
            "{policy:?}: the order exists at Klarna"
        );
        let early = svc.reconcile_all().await.unwrap();
        assert_eq!(
            early.examined, 0,
            "{policy:?}: fenced while its call may run"
        );
        let config = ServiceConfig::default();
        clock.advance(config.call_deadline);
        clock.advance(config.reconcile_grace);
        let report = svc.reconcile_all().await.unwrap();
        let orders = sim.orders();
        let payment = match policy {
            ReplayPolicy::Pessimistic => {
                assert_eq!((report.needs_review, report.resolved), (1, 0), "{report:?}");
                let AnyPayment::NeedsReview(r) = svc.payment(&checkout.payment_id).await.unwrap()
                else {
                    panic!("expected review")
                };
                assert!(r.reason().contains("merchant_reference1"), "{}", r.reason());
                let found = OrderId::new(orders[0].order_id.clone()).unwrap();
                svc.resolve_with_order(&checkout.payment_id, &found)
                    .await
                    .unwrap()
            }
            _ => {
                assert_eq!(report.resolved, 1, "{report:?}");
                svc.payment(&checkout.payment_id).await.unwrap()
            }
        };
        assert_eq!(payment.kind(), StageKind::Ordered, "{policy:?}");
        assert_eq!(orders.len(), 1, "{policy:?}: exactly one order at Klarna");
        assert_eq!(
            payment.order_id().map(OrderId::as_str),
            Some(orders[0].order_id.as_str())
        );
    }
}

// ----- error mapping against scripted answers -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_mapping_table_over_http() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let cases: &[(u16, Option<&str>, ErrorAction)] = &[
        (400, Some("BAD_VALUE"), ErrorAction::InvalidRequest),
        (401, None, ErrorAction::Unauthorized),
        (403, Some("MERCHANT_INACTIVE"), ErrorAction::Unauthorized),
        (403, Some("INVALID_OPERATION"), ErrorAction::Reauthorize),
        (
            403,
            Some("REJECTED"),
            ErrorAction::Rejected(Refusal::Declined),
        ),
        (404, Some("NOT_FOUND"), ErrorAction::Reauthorize),
        (409, Some("BAD_VALUE"), ErrorAction::Reauthorize),
        (
            422,
            Some("UNPROCESSABLE_ENTITY"),
            ErrorAction::OutcomeUnknown,
        ),
        (429, None, ErrorAction::Retry),
        (
            500,
            Some("INTERNAL_SERVER_ERROR"),
            ErrorAction::OutcomeUnknown,
        ),
        (503, None, ErrorAction::OutcomeUnknown),
    ];
    for &(status, code, expected) in cases {
        let server = MockServer::start().await;
        let body = serde_json::json!({
            "error_code": code, "error_messages": ["scripted"], "correlation_id": "corr-1"
        });
        Mock::given(method("POST"))
            .and(path_regex("^/payments/v1/authorizations/.+/order$"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let gw = gateway_for(&server.uri(), "u", "p");
        let e = gw
            .place_order(
                &PlaceOrder {
                    merchant: Default::default(),
                    payment_id: PaymentId::new("pay_map").unwrap(),
                    cart: cart(false),
                    authorization: AuthorizationToken::new("tok").unwrap(),
                    urls: MerchantUrls::default(),
                },
                &key("k-map"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.action, expected, "HTTP {status} {code:?}");
        assert_eq!(e.status, Some(status));
        assert_eq!(e.code.as_deref(), code);
        assert_eq!(e.messages, vec!["scripted".to_owned()]);
        assert_eq!(e.correlation_id.as_deref(), Some("corr-1"));
        assert!(e.may_have_reached_klarna);
        assert_eq!(e.operation, "payments.create_order");
        // The key went out as given, on every attempt (429 is retried, P5 5xx is not).
        let requests = server.received_requests().await.unwrap();
        assert!(!requests.is_empty());
        for r in &requests {
            assert_eq!(
                r.headers.get("klarna-idempotency-key").unwrap(),
                "k-map",
                "HTTP {status}"
            );
        }
    }

    // Reads: 5xx is retried and then `Retry`; 404 is `NotFound`.
    for (status, expected) in [(503, ErrorAction::Retry), (404, ErrorAction::NotFound)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/ordermanagement/v1/orders/.+$"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let e = gateway_for(&server.uri(), "u", "p")
            .read_order(&OrderId::new("o-1").unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.action, expected, "GET {status}");
    }
}
