//! The store contract suite: one set of checks that every `PaymentStore` adapter runs against itself.
//!
//! Use the [`store_contract_tests!`](crate::store_contract_tests) macro in an adapter's tests;
//! it expands to one `#[tokio::test]` per check, each with a fresh store from your expression:
//!
//! ```text
//! klarna_ports::store_contract_tests!(klarna_store_memory::InMemoryStore::new());
//! ```
//!
//! Every check panics (fails the test) with a message naming the broken rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a contract check fails by panicking, like a test"
)]

use std::sync::Arc;

use klarna_domain::order::{OmOperation, OmResult};
use klarna_domain::{
    AnyPayment, AuthorizationToken, CaptureId, Cart, ClientToken, CustomerToken, CustomerTokenId,
    FraudStatus, IdempotencyKey, Intent, ManagedOrder, Market, Money, OrderId, OrderLine, Payment,
    PaymentId, PlacedOrder, Session, SessionId, Span, StageKind, Timestamp, TokenStatus,
};

use crate::store::{Alongside, PaymentStore, StoreError, Unique};

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);

fn cart() -> Cart {
    let market = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let line = OrderLine::builder("Shoe", 2, 89_900)
        .tax_rate(2_500)
        .discount(10_000)
        .build()
        .unwrap();
    Cart::new(market, vec![line]).unwrap()
}

/// A payment with an open session; ids derive from `n`.
#[must_use]
pub fn open_payment(n: u32, intent: Intent) -> Payment<klarna_domain::payment::Open> {
    let session = Session::new(
        SessionId::new(format!("session-{n}")).unwrap(),
        ClientToken::new(format!("client-token-{n}")).unwrap(),
        T0.plus(Span::hours(48)),
    );
    Payment::open(
        PaymentId::new(format!("pay-{n}")).unwrap(),
        intent,
        cart(),
        session,
        T0,
    )
}

/// A payment authorized with token `auth-{token}`.
#[must_use]
pub fn authorized(n: u32, token: &str) -> Payment<klarna_domain::payment::Authorized> {
    open_payment(n, Intent::Buy)
        .authorize(
            AuthorizationToken::new(format!("auth-{token}")).unwrap(),
            T0,
        )
        .unwrap()
}

/// A payment whose order request is pending with `key`.
#[must_use]
pub fn pending(n: u32, token: &str, key: &str) -> Payment<klarna_domain::payment::OrderPending> {
    authorized(n, token)
        .begin_order(IdempotencyKey::new(key).unwrap(), T0)
        .unwrap()
}

/// A payment with Klarna order `order`.
#[must_use]
pub fn ordered(n: u32, order: &str) -> AnyPayment {
    pending(n, &format!("t{n}"), &format!("k{n}"))
        .record_order(PlacedOrder::new(
            OrderId::new(order).unwrap(),
            FraudStatus::Accepted,
            T0,
        ))
        .into_any()
}

/// A managed order of 1 000 SEK.
#[must_use]
pub fn managed(order: &str, payment: u32) -> ManagedOrder {
    ManagedOrder::new(
        OrderId::new(order).unwrap(),
        PaymentId::new(format!("pay-{payment}")).unwrap(),
        Money::new(1_000, klarna_domain::Currency::Sek),
        T0,
    )
}

/// A customer token.
#[must_use]
pub fn token(id: &str) -> CustomerToken {
    CustomerToken::issued(
        CustomerTokenId::new(id).unwrap(),
        PaymentId::new("pay-origin").unwrap(),
        Market::parse("SE", "SEK", "sv-SE").unwrap(),
        T0,
    )
}

fn dup(r: Result<u64, StoreError>, which: Unique, rule: &str) {
    match r {
        Err(StoreError::Duplicate(u)) => assert_eq!(u, which, "{rule}: wrong constraint reported"),
        other => panic!("{rule}: expected Duplicate({which:?}), got {other:?}"),
    }
}

/// Payments in every kind of stage round-trip unchanged, at version 1.
pub async fn round_trips_payments<S: PaymentStore>(s: S) {
    // buy_and_tokenize: the customer token first, then the order (with the token).
    let tokenized = |n: u32| {
        open_payment(n, Intent::BuyAndTokenize)
            .authorize(AuthorizationToken::new(format!("auth-bt{n}")).unwrap(), T0)
            .unwrap()
            .begin_tokenization(IdempotencyKey::new(format!("k-ct{n}")).unwrap(), T0)
            .unwrap()
            .record_token_before_order(CustomerTokenId::new(format!("ct-bt{n}")).unwrap())
    };
    let b_and_t = tokenized(7)
        .begin_order(IdempotencyKey::new("k-bt").unwrap(), T0)
        .unwrap()
        .attempted(true)
        .record_order(PlacedOrder::new(
            OrderId::new("o-bt").unwrap(),
            FraudStatus::Pending,
            T0,
        ))
        .into_any();
    let cases: Vec<AnyPayment> = vec![
        open_payment(1, Intent::Buy).into(),
        authorized(2, "a2").into(),
        pending(3, "a3", "k3").attempted(true).into(),
        ordered(4, "o-4"),
        open_payment(5, Intent::Tokenize).cancel(T0).into(),
        b_and_t,
        tokenized(8).into(),
        tokenized(9)
            .begin_order(IdempotencyKey::new("k-bt9").unwrap(), T0)
            .unwrap()
            .fenced_until(T0.plus(Span::minutes(2)))
            .into(),
    ];
    for p in cases {
        assert_eq!(
            s.insert_payment(&p).await.unwrap(),
            1,
            "inserts store version 1"
        );
        let back = s
            .load_payment(p.id())
            .await
            .unwrap()
            .expect("inserted payment loads");
        assert_eq!(back.version, 1);
        assert_eq!(back.value, p, "payment round-trips unchanged");
    }
    assert!(
        s.load_payment(&PaymentId::new("nope").unwrap())
            .await
            .unwrap()
            .is_none(),
        "unknown id loads None"
    );
}

/// Merchant data with every part set, for the round trip (public: the SQL adapter checks its
/// row for the personal data in it).
#[must_use]
pub fn full_merchant_data() -> klarna_domain::MerchantData {
    use klarna_domain::{
        Address, Attachment, Customer, CustomerAccountInfo, Emd, MarketplaceSellerInfo,
        MerchantData, OrganizationType, WidgetOptions,
    };
    let address = Address {
        given_name: Some("Maja".into()),
        family_name: Some("Canarysson".into()),
        email: Some("maja.canary@example.se".into()),
        phone: Some("+46701740605".into()),
        street_address: Some("Canarygatan 7".into()),
        postal_code: Some("11157".into()),
        city: Some("Stockholm".into()),
        country: Some("SE".into()),
        ..Address::default()
    };
    MerchantData::builder()
        .order_number("SO-77")
        .reference2("cart-77")
        .merchant_data("opaque-77")
        .customer(Customer {
            organization_entity_type: Some(OrganizationType::LimitedCompany),
            vat_id: Some("SE556036079301".into()),
            ..Customer::organization("556036-0793")
        })
        .billing_address(address.clone())
        .shipping_address(address)
        .attachment(Attachment::Emd(Emd {
            customer_account_info: vec![CustomerAccountInfo {
                unique_account_identifier: "canary-account".into(),
                account_registration_date: Some("2020-11-24T15:00".into()),
                account_last_modified: None,
            }],
            marketplace_seller_info: vec![MarketplaceSellerInfo {
                sub_merchant_id: "seller-1".into(),
                product_category: "Shoes".into(),
                product_name: "Trail shoe".into(),
                number_of_trades: Some(3),
            }],
            ..Emd::default()
        }))
        .options(WidgetOptions {
            color_border: Some("#D8D8D8".into()),
            ..WidgetOptions::default()
        })
        .build()
        .unwrap()
}

/// Merchant data (order number, customer, addresses, EMD, options) round-trips with the
/// payment in every stage it moves through.
pub async fn round_trips_merchant_data<S: PaymentStore>(s: S) {
    let m = full_merchant_data();
    let p: AnyPayment = open_payment(1, Intent::Buy).with_merchant(m.clone()).into();
    s.insert_payment(&p).await.unwrap();
    let back = s.load_payment(p.id()).await.unwrap().unwrap();
    assert_eq!(back.value.merchant(), &m, "merchant data round-trips");
    assert_eq!(back.value.merchant_reference1(), "SO-77");
    let next: AnyPayment = pending(1, "a1", "k1").with_merchant(m.clone()).into();
    s.update_payment(1, &next, &Alongside::default())
        .await
        .unwrap();
    let back = s.load_payment(p.id()).await.unwrap().unwrap();
    assert_eq!(
        back.value, next,
        "a pending payment keeps its merchant data"
    );
    let plain: AnyPayment = open_payment(2, Intent::Buy).into();
    s.insert_payment(&plain).await.unwrap();
    let back = s.load_payment(plain.id()).await.unwrap().unwrap();
    assert!(back.value.merchant().is_empty(), "none stays none");
    assert_eq!(back.value.merchant_reference1(), "pay-2");
}

/// Inserting a payment id twice is refused.
pub async fn refuses_duplicate_payment_ids<S: PaymentStore>(s: S) {
    s.insert_payment(&open_payment(1, Intent::Buy).into())
        .await
        .unwrap();
    dup(
        s.insert_payment(&open_payment(1, Intent::Buy).into()).await,
        Unique::PaymentId,
        "payment id unique",
    );
}

/// Updates are compare-and-set on the version.
pub async fn updates_are_compare_and_set<S: PaymentStore>(s: S) {
    let p: AnyPayment = open_payment(1, Intent::Buy).into();
    s.insert_payment(&p).await.unwrap();
    let a: AnyPayment = authorized(1, "a1").into();
    assert_eq!(
        s.update_payment(1, &a, &Alongside::default())
            .await
            .unwrap(),
        2,
        "update bumps the version"
    );
    let stale = s.update_payment(1, &p, &Alongside::default()).await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict)),
        "stale version refused, got {stale:?}"
    );
    let now = s.load_payment(a.id()).await.unwrap().unwrap();
    assert_eq!(
        (now.version, now.value),
        (2, a),
        "a refused update changes nothing"
    );
    let missing = s
        .update_payment(
            1,
            &open_payment(9, Intent::Buy).into(),
            &Alongside::default(),
        )
        .await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound | StoreError::VersionConflict)
        ),
        "updating an unknown payment fails, got {missing:?}"
    );
}

/// Of many concurrent updates from the same version, exactly one wins.
pub async fn one_winner_among_concurrent_updates<S: PaymentStore + 'static>(s: S) {
    let s = Arc::new(s);
    s.insert_payment(&authorized(1, "a1").into()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let p: AnyPayment = pending(1, "a1", &format!("race-{i}")).into();
            s.update_payment(1, &p, &Alongside::default()).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, 2);
                wins += 1;
            }
            Err(StoreError::VersionConflict) => {}
            Err(e) => panic!("concurrent CAS: unexpected error {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one concurrent compare-and-set wins");
}

/// A Klarna order id belongs to one payment.
pub async fn refuses_duplicate_order_ids<S: PaymentStore>(s: S) {
    s.insert_payment(&ordered(1, "o-same")).await.unwrap();
    dup(
        s.insert_payment(&ordered(2, "o-same")).await,
        Unique::OrderId,
        "order id unique on insert",
    );
    s.insert_payment(&pending(3, "t3", "k3").into())
        .await
        .unwrap();
    dup(
        s.update_payment(1, &ordered(3, "o-same"), &Alongside::default())
            .await,
        Unique::OrderId,
        "order id unique on update",
    );
    assert!(
        s.find_payment_by_order(&OrderId::new("o-same").unwrap())
            .await
            .unwrap()
            .is_some_and(|p| p.value.id().as_str() == "pay-1")
    );
}

/// An authorization token belongs to one payment.
pub async fn refuses_duplicate_authorization_tokens<S: PaymentStore>(s: S) {
    s.insert_payment(&authorized(1, "same").into())
        .await
        .unwrap();
    dup(
        s.insert_payment(&authorized(2, "same").into()).await,
        Unique::AuthorizationToken,
        "authorization unique",
    );
    s.insert_payment(&open_payment(3, Intent::Buy).into())
        .await
        .unwrap();
    dup(
        s.update_payment(1, &authorized(3, "same").into(), &Alongside::default())
            .await,
        Unique::AuthorizationToken,
        "authorization unique on update",
    );
}

/// An idempotency key belongs to one pending operation.
pub async fn refuses_duplicate_idempotency_keys<S: PaymentStore>(s: S) {
    s.insert_payment(&pending(1, "t1", "same-key").into())
        .await
        .unwrap();
    dup(
        s.insert_payment(&pending(2, "t2", "same-key").into()).await,
        Unique::IdempotencyKey,
        "key unique",
    );
    s.insert_order(
        &managed("o-9", 9)
            .begin(
                OmOperation::Capture(klarna_domain::Amount::new(10).expect("positive").into()),
                IdempotencyKey::new("om-key").unwrap(),
                T0,
            )
            .unwrap(),
    )
    .await
    .unwrap();
    dup(
        s.insert_payment(&pending(3, "t3", "om-key").into()).await,
        Unique::IdempotencyKey,
        "key unique across orders",
    );
}

/// A payment update and the records it creates land together or not at all.
pub async fn writes_also_atomically<S: PaymentStore>(s: S) {
    s.insert_payment(&pending(1, "t1", "k1").into())
        .await
        .unwrap();
    s.insert_order(&managed("o-taken", 5)).await.unwrap();
    let with_taken = Alongside {
        order: Some(managed("o-taken", 1)),
        token: None,
    };
    let r = s.update_payment(1, &ordered(1, "o-1"), &with_taken).await;
    assert!(
        matches!(r, Err(StoreError::Duplicate(Unique::OrderId))),
        "duplicate order in Alongside refused, got {r:?}"
    );
    let still = s
        .load_payment(&PaymentId::new("pay-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        still.version, 1,
        "a refused Alongside leaves the payment unchanged"
    );
    let also = Alongside {
        order: Some(managed("o-1", 1)),
        token: Some(token("ct-1")),
    };
    assert_eq!(
        s.update_payment(1, &ordered(1, "o-1"), &also)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.load_order(&OrderId::new("o-1").unwrap())
            .await
            .unwrap()
            .unwrap()
            .version,
        1,
        "order inserted with payment"
    );
    let t = s
        .load_customer_token(&CustomerTokenId::new("ct-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.value, token("ct-1"), "token inserted with payment");
}

/// Lookups by order and session find the right payment.
pub async fn finds_by_order_and_session<S: PaymentStore>(s: S) {
    s.insert_payment(&open_payment(1, Intent::Buy).into())
        .await
        .unwrap();
    s.insert_payment(&open_payment(2, Intent::Buy).into())
        .await
        .unwrap();
    s.update_payment(1, &ordered(2, "o-2"), &Alongside::default())
        .await
        .unwrap();
    let by_session = s
        .find_payment_by_session(&SessionId::new("session-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_session.value.id().as_str(), "pay-1");
    let by_order = s
        .find_payment_by_order(&OrderId::new("o-2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_order.value.id().as_str(), "pay-2");
    assert!(
        s.find_payment_by_order(&OrderId::new("o-x").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let all = s.list_payments(10).await.unwrap();
    assert_eq!(all.len(), 2, "list returns every payment");
    assert_eq!(
        s.list_payments(1).await.unwrap().len(),
        1,
        "list honours the limit"
    );
}

/// Stage queries select by stage before the limit (an old payment in review is found under
/// any number of newer ones), newest first, and follow updates into and out of the stage.
pub async fn lists_payments_by_stage<S: PaymentStore>(s: S) {
    let review = |n: u32| -> AnyPayment {
        pending(n, &format!("t{n}"), &format!("k{n}"))
            .attempted(true)
            .needs_review("in doubt", T0)
            .into()
    };
    s.insert_payment(&review(1)).await.unwrap();
    for n in 2..7 {
        s.insert_payment(&open_payment(n, Intent::Buy).into())
            .await
            .unwrap();
    }
    s.insert_payment(&pending(7, "t7", "k7").into())
        .await
        .unwrap();
    for n in 8..12 {
        s.insert_payment(&open_payment(n, Intent::Buy).into())
            .await
            .unwrap();
    }
    let ids = |v: Vec<crate::store::Versioned<AnyPayment>>| -> Vec<String> {
        v.into_iter().map(|p| p.value.id().to_string()).collect()
    };
    assert!(
        !ids(s.list_payments(3).await.unwrap()).contains(&"pay-1".to_owned()),
        "setup: the newest 3 do not hold the old payment in review"
    );
    assert_eq!(
        ids(s
            .list_payments_in_stage(StageKind::NeedsReview, 3)
            .await
            .unwrap()),
        vec!["pay-1"],
        "the stage is selected before the limit"
    );
    // pay-7 goes to review by an update: the stage follows the write.
    s.update_payment(1, &review(7), &Alongside::default())
        .await
        .unwrap();
    assert_eq!(
        ids(s
            .list_payments_in_stage(StageKind::NeedsReview, 10)
            .await
            .unwrap()),
        vec!["pay-7", "pay-1"],
        "newest first"
    );
    assert_eq!(
        ids(s
            .list_payments_in_stage(StageKind::NeedsReview, 1)
            .await
            .unwrap()),
        vec!["pay-7"],
        "the limit holds"
    );
    assert!(
        s.list_payments_in_stage(StageKind::OrderPending, 10)
            .await
            .unwrap()
            .is_empty(),
        "pay-7 left order_pending"
    );
    assert_eq!(
        s.list_payments_in_stage(StageKind::Open, 100)
            .await
            .unwrap()
            .len(),
        9,
        "every open payment"
    );
    // Resolved: pay-1 leaves the queue.
    s.update_payment(1, &ordered(1, "o-1"), &Alongside::default())
        .await
        .unwrap();
    let left = s
        .list_payments_in_stage(StageKind::NeedsReview, 10)
        .await
        .unwrap();
    assert_eq!(ids(left.clone()), vec!["pay-7"], "pay-1 left the queue");
    assert_eq!(left[0].version, 2, "versions come with the list");
    assert_eq!(left[0].value, review(7), "the payment round-trips");
    assert!(
        s.list_payments_in_stage(StageKind::NeedsReview, 0)
            .await
            .unwrap()
            .is_empty(),
        "limit 0"
    );
}

/// Claims return in-doubt payments only, once per lease, and disjointly to racing claimers.
pub async fn claims_in_doubt_payments_once_per_lease<S: PaymentStore + 'static>(s: S) {
    s.insert_payment(&open_payment(1, Intent::Buy).into())
        .await
        .unwrap();
    for n in 2..12 {
        s.insert_payment(&pending(n, &format!("t{n}"), &format!("k{n}")).into())
            .await
            .unwrap();
    }
    let lease = Span::minutes(5);
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.claim_in_doubt_payments(T0, lease, 100).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(
            t.await
                .unwrap()
                .into_iter()
                .map(|p| p.value.id().to_string()),
        );
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(
        before,
        seen.len(),
        "no payment claimed twice within a lease"
    );
    assert_eq!(
        seen.len(),
        10,
        "every pending payment claimed, the open one not"
    );
    assert!(
        s.claim_in_doubt_payments(T0.plus(Span::minutes(1)), lease, 100)
            .await
            .unwrap()
            .is_empty(),
        "lease holds"
    );
    let again = s
        .claim_in_doubt_payments(T0.plus(Span::minutes(6)), lease, 3)
        .await
        .unwrap();
    assert_eq!(
        again.len(),
        3,
        "after the lease, claims resume and honour the limit"
    );
}

/// A pending operation's fence rides on its write: the record is not claimable before it
/// (the caller's call may still run), whether written by an insert or an update, for payments
/// and orders alike; after it, claims take it as usual.
pub async fn claims_wait_for_the_fence<S: PaymentStore>(s: S) {
    let fence = T0.plus(Span::minutes(10));
    let lease = Span::minutes(5);
    s.insert_payment(&pending(1, "t1", "k1").fenced_until(fence).into())
        .await
        .unwrap();
    s.insert_payment(&authorized(2, "t2").into()).await.unwrap();
    let begun = authorized(2, "t2")
        .begin_order(IdempotencyKey::new("k2").unwrap(), T0)
        .unwrap()
        .fenced_until(fence);
    s.update_payment(1, &begun.into(), &Alongside::default())
        .await
        .unwrap();
    let o = managed("o-1", 1);
    s.insert_order(&o).await.unwrap();
    let capturing = o
        .begin(
            OmOperation::Capture(klarna_domain::Amount::new(600).expect("positive").into()),
            IdempotencyKey::new("cap-1").unwrap(),
            T0,
        )
        .unwrap()
        .fenced_until(fence);
    s.update_order(1, &capturing).await.unwrap();
    let early = T0.plus(Span::minutes(9));
    assert!(
        s.claim_in_doubt_payments(early, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "no payment claimed before its fence"
    );
    assert!(
        s.claim_in_doubt_orders(early, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "no order claimed before its fence"
    );
    assert_eq!(
        s.claim_in_doubt_payments(fence, lease, 10)
            .await
            .unwrap()
            .len(),
        2,
        "both payments claimed at the fence"
    );
    let claimed = s.claim_in_doubt_orders(fence, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "the order claimed at the fence");
    // Its operation settles and a new one begins: the old lease does not hold the new one.
    let next_fence = fence.plus(Span::minutes(1));
    let next = claimed[0]
        .value
        .clone()
        .attempted(false)
        .complete(OmResult::Captured(CaptureId::new("c-1").unwrap()), fence)
        .unwrap()
        .begin(
            OmOperation::Capture(klarna_domain::Amount::new(100).expect("positive").into()),
            IdempotencyKey::new("cap-2").unwrap(),
            fence,
        )
        .unwrap()
        .fenced_until(next_fence);
    s.update_order(claimed[0].version, &next).await.unwrap();
    assert_eq!(
        s.claim_in_doubt_orders(next_fence, lease, 10)
            .await
            .unwrap()
            .len(),
        1,
        "a new operation waits for its own fence, not the old lease"
    );
}

/// Customer tokens: insert, load, compare-and-set, uniqueness.
pub async fn stores_customer_tokens<S: PaymentStore>(s: S) {
    assert_eq!(s.insert_customer_token(&token("ct-1")).await.unwrap(), 1);
    dup(
        s.insert_customer_token(&token("ct-1")).await,
        Unique::CustomerToken,
        "token unique",
    );
    let cancelled = token("ct-1").cancel();
    assert_eq!(s.update_customer_token(1, &cancelled).await.unwrap(), 2);
    assert!(matches!(
        s.update_customer_token(1, &token("ct-1")).await,
        Err(StoreError::VersionConflict)
    ));
    let back = s
        .load_customer_token(&CustomerTokenId::new("ct-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.value.status(), TokenStatus::Cancelled);
    assert!(
        s.load_customer_token(&CustomerTokenId::new("ct-x").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// Managed orders: insert, load, compare-and-set, claims of pending operations.
pub async fn stores_managed_orders<S: PaymentStore>(s: S) {
    let o = managed("o-1", 1);
    assert_eq!(s.insert_order(&o).await.unwrap(), 1);
    dup(
        s.insert_order(&o).await,
        Unique::OrderId,
        "managed order unique",
    );
    let capturing = o
        .clone()
        .begin(
            OmOperation::Capture(klarna_domain::Amount::new(600).expect("positive").into()),
            IdempotencyKey::new("cap-1").unwrap(),
            T0,
        )
        .unwrap();
    assert_eq!(s.update_order(1, &capturing).await.unwrap(), 2);
    assert!(matches!(
        s.update_order(1, &o).await,
        Err(StoreError::VersionConflict)
    ));
    let claimed = s
        .claim_in_doubt_orders(T0, Span::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the order with a pending capture is claimed"
    );
    assert_eq!(claimed.first().map(|c| &c.value), Some(&capturing));
    assert!(
        s.claim_in_doubt_orders(T0, Span::minutes(5), 10)
            .await
            .unwrap()
            .is_empty(),
        "lease holds"
    );
    let done = capturing
        .complete(OmResult::Captured(CaptureId::new("c-1").unwrap()), T0)
        .unwrap();
    assert_eq!(s.update_order(2, &done).await.unwrap(), 3);
    let back = s
        .load_order(&OrderId::new("o-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.version, back.value.captured()), (3, 600));
    assert!(
        s.claim_in_doubt_orders(T0.plus(Span::hours(1)), Span::minutes(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
    keeps_capture_and_refund_details(&s, back.value).await;
}

/// What a capture and a refund sent (lines, shipping info, references, shipping info added
/// later) comes back from the store as it was recorded.
async fn keeps_capture_and_refund_details<S: PaymentStore>(s: &S, o: ManagedOrder) {
    use klarna_domain::{
        Amount, CaptureRequest, RefundId, RefundRequest, ShippingInfo, ShippingInfoInput,
        ShippingInfoUpdate,
    };
    let line = OrderLine::builder("Shoe", 1, 400).build().unwrap();
    let info = |n: &str| {
        ShippingInfo::new(ShippingInfoInput {
            shipping_company: Some("PostNord SE".to_owned()),
            tracking_number: Some(n.to_owned()),
            ..ShippingInfoInput::default()
        })
        .unwrap()
    };
    let capture = CaptureRequest::builder(Amount::new(400).unwrap())
        .lines([line.clone()])
        .shipping_info(info("TRACK-1"))
        .reference("cap-ref-1")
        .build()
        .unwrap();
    let c2 = CaptureId::new("c-2").unwrap();
    let mut o = o
        .begin(
            OmOperation::Capture(capture),
            IdempotencyKey::new("cap-2").unwrap(),
            T0,
        )
        .unwrap()
        .complete(OmResult::Captured(c2.clone()), T0)
        .unwrap();
    o = o
        .begin(
            OmOperation::AddShippingInfo(
                ShippingInfoUpdate::new(c2.clone(), vec![info("TRACK-2")]).unwrap(),
            ),
            IdempotencyKey::new("ship-1").unwrap(),
            T0,
        )
        .unwrap()
        .complete(OmResult::Done, T0)
        .unwrap();
    let refund = RefundRequest::builder(Amount::new(400).unwrap())
        .lines([line])
        .reference("ref-ref-1")
        .build()
        .unwrap();
    o = o
        .begin(
            OmOperation::Refund(refund),
            IdempotencyKey::new("ref-1").unwrap(),
            T0,
        )
        .unwrap()
        .complete(OmResult::Refunded(RefundId::new("r-1").unwrap()), T0)
        .unwrap();
    let id = o.order_id().clone();
    let version = s.load_order(&id).await.unwrap().unwrap().version;
    s.update_order(version, &o).await.unwrap();
    let back = s.load_order(&id).await.unwrap().unwrap().value;
    assert_eq!(back, o, "the ledger comes back whole");
    let c = back.captures().iter().find(|c| c.id == c2).unwrap();
    assert_eq!(
        (c.lines.len(), c.shipping_info.len(), c.reference.as_deref()),
        (1, 2, Some("cap-ref-1")),
        "the capture keeps its lines, both shipping infos and its reference"
    );
    let r = back.refunds().first().unwrap();
    assert_eq!(
        (r.lines.len(), r.reference.as_deref()),
        (1, Some("ref-ref-1"))
    );
}

/// The installation id is made once: the same on every call, also for racing first callers.
pub async fn keeps_one_installation_id<S: PaymentStore + 'static>(s: S) {
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(
            async move { s.installation_id().await.unwrap() },
        ));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let first = ids[0];
    assert!(
        ids.iter().all(|id| *id == first),
        "racing first calls agree on one installation id"
    );
    assert_eq!(
        s.installation_id().await.unwrap(),
        first,
        "the installation id stays the same"
    );
    assert_ne!(
        first.to_bytes(),
        [0; 16],
        "the installation id is random, not zero"
    );
    s.insert_payment(&open_payment(1, Intent::Buy).into())
        .await
        .unwrap();
    assert_eq!(
        s.installation_id().await.unwrap(),
        first,
        "writes leave the installation id alone"
    );
}

/// Fraud-review claims return payments under fraud review only, once per lease, disjointly to
/// racing claimers, oldest first, and independently of the in-doubt claims.
pub async fn claims_fraud_reviews_once_per_lease<S: PaymentStore + 'static>(s: S) {
    let review = |n: u32| {
        pending(n, &format!("t{n}"), &format!("k{n}"))
            .record_order(PlacedOrder::new(
                OrderId::new(format!("o-{n}")).unwrap(),
                FraudStatus::Pending,
                T0,
            ))
            .into_any()
    };
    s.insert_payment(&ordered(1, "o-1")).await.unwrap();
    s.insert_payment(&pending(2, "t2", "k2").into())
        .await
        .unwrap();
    for n in 3..9 {
        let p = review(n);
        assert_eq!(p.kind(), klarna_domain::StageKind::FraudReview);
        s.insert_payment(&p).await.unwrap();
    }
    let lease = Span::minutes(15);
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.claim_fraud_reviews(T0, lease, 100).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(
            t.await
                .unwrap()
                .into_iter()
                .map(|p| p.value.id().to_string()),
        );
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(
        before,
        seen.len(),
        "no fraud review claimed twice within a lease"
    );
    assert_eq!(
        seen,
        ["pay-3", "pay-4", "pay-5", "pay-6", "pay-7", "pay-8"],
        "every payment under fraud review claimed, no other"
    );
    assert!(
        s.claim_fraud_reviews(T0.plus(Span::minutes(14)), lease, 100)
            .await
            .unwrap()
            .is_empty(),
        "the fraud-review lease holds"
    );
    let in_doubt = s
        .claim_in_doubt_payments(T0, Span::minutes(5), 100)
        .await
        .unwrap();
    assert_eq!(
        in_doubt
            .iter()
            .map(|p| p.value.id().as_str())
            .collect::<Vec<_>>(),
        ["pay-2"],
        "fraud-review claims leave the in-doubt claims alone"
    );
    let again = s
        .claim_fraud_reviews(T0.plus(Span::minutes(15)), lease, 2)
        .await
        .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|p| p.value.id().as_str())
            .collect::<Vec<_>>(),
        ["pay-3", "pay-4"],
        "after the lease, claims resume oldest first and honour the limit"
    );
    let rest = s
        .claim_fraud_reviews(T0.plus(Span::minutes(15)), lease, 100)
        .await
        .unwrap();
    assert_eq!(
        rest.len(),
        4,
        "the others come next, not the ones just claimed"
    );
    let accepted = match review(3) {
        AnyPayment::FraudReview(p) => p.resolve(true, T0),
        other => panic!("expected fraud review, got {:?}", other.kind()),
    };
    s.update_payment(1, &accepted, &Alongside::default())
        .await
        .unwrap();
    let later = s
        .claim_fraud_reviews(T0.plus(Span::hours(1)), lease, 100)
        .await
        .unwrap();
    assert_eq!(
        later.len(),
        5,
        "a payment out of fraud review is no longer claimed"
    );
    assert!(
        later.iter().all(|p| p.value.id().as_str() != "pay-3"),
        "the accepted payment is left out"
    );
    assert!(
        s.claim_fraud_reviews(T0, lease, 0)
            .await
            .unwrap()
            .is_empty(),
        "a limit of 0 claims nothing"
    );
}

/// A pending Order Management operation keeps its whole request (lines, shipping info,
/// references, an authorization update), so a replay sends the same body.
pub async fn keeps_pending_om_requests<S: PaymentStore>(s: S) {
    use klarna_domain::{
        AuthorizationUpdate, CaptureRequest, MerchantReferences, OmLine, OrderLine, RefundRequest,
        ShippingInfo, ShippingInfoInput, ShippingMethod,
    };
    let line = OrderLine::builder("Shoe", 1, 1_000)
        .tax_rate(2_500)
        .quantity_unit("pcs")
        .build()
        .unwrap();
    let capture = CaptureRequest::builder(klarna_domain::Amount::new(1_000).expect("positive"))
        .line(line.clone())
        .shipping_info(
            ShippingInfo::new(ShippingInfoInput {
                shipping_company: Some("PostNord".into()),
                shipping_method: Some(ShippingMethod::Home),
                tracking_number: Some("0037071234".into()),
                tracking_uri: Some("https://tracking.example/0037071234".into()),
                ..ShippingInfoInput::default()
            })
            .unwrap(),
        )
        .reference("SHIP-1")
        .description("All items shipped")
        .build()
        .unwrap();
    let o = managed("o-lines", 1);
    s.insert_order(&o).await.unwrap();
    let capturing = o
        .begin(
            OmOperation::Capture(capture),
            IdempotencyKey::new("cap-lines").unwrap(),
            T0,
        )
        .unwrap();
    let v = s.update_order(1, &capturing).await.unwrap();
    let loaded = s.load_order(capturing.order_id()).await.unwrap().unwrap();
    assert_eq!(loaded.value, capturing, "the capture request round-trips");
    let captured = loaded
        .value
        .complete(OmResult::Captured(CaptureId::new("c-1").unwrap()), T0)
        .unwrap();
    let refund = RefundRequest::builder(klarna_domain::Amount::new(900).expect("positive"))
        .line(line)
        .line(OmLine::return_fee("Return fee", 100, 2_500).unwrap())
        .reference("RET-1")
        .build()
        .unwrap();
    let refunding = captured
        .begin(
            OmOperation::Refund(refund),
            IdempotencyKey::new("ref-lines").unwrap(),
            T0,
        )
        .unwrap();
    let v = s.update_order(v, &refunding).await.unwrap();
    let loaded = s.load_order(refunding.order_id()).await.unwrap().unwrap();
    assert_eq!(
        loaded.value, refunding,
        "the refund with its return fee round-trips"
    );
    let refunded = loaded
        .value
        .complete(
            OmResult::Refunded(klarna_domain::RefundId::new("r-1").unwrap()),
            T0,
        )
        .unwrap();
    let refs = MerchantReferences::new(None, Some("ERP-42".into())).unwrap();
    let updating = refunded
        .begin(
            OmOperation::UpdateMerchantReferences(refs),
            IdempotencyKey::new("refs-1").unwrap(),
            T0,
        )
        .unwrap();
    s.update_order(v, &updating).await.unwrap();
    let loaded = s.load_order(updating.order_id()).await.unwrap().unwrap();
    assert_eq!(loaded.value, updating, "the merchant references round-trip");
    let o = managed("o-upsell", 2);
    s.insert_order(&o).await.unwrap();
    let up = AuthorizationUpdate::new(1_500, Vec::new())
        .unwrap()
        .with_description("Upsell")
        .unwrap();
    let upselling = o
        .begin(
            OmOperation::UpdateAuthorization(up),
            IdempotencyKey::new("up-1").unwrap(),
            T0,
        )
        .unwrap();
    s.update_order(1, &upselling).await.unwrap();
    let loaded = s.load_order(upselling.order_id()).await.unwrap().unwrap();
    assert_eq!(
        loaded.value, upselling,
        "the authorization update round-trips"
    );
}

/// Expands to one `#[tokio::test]` per contract check, each on a fresh store from `$make`
/// (an expression, evaluated once per test; `.await` is allowed in it).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@each $make;
            round_trips_payments, round_trips_merchant_data, refuses_duplicate_payment_ids, updates_are_compare_and_set,
            one_winner_among_concurrent_updates, refuses_duplicate_order_ids,
            refuses_duplicate_authorization_tokens, refuses_duplicate_idempotency_keys,
            writes_also_atomically, finds_by_order_and_session, lists_payments_by_stage,
            claims_in_doubt_payments_once_per_lease,
            stores_customer_tokens, stores_managed_orders, claims_wait_for_the_fence,
            keeps_one_installation_id, claims_fraud_reviews_once_per_lease,
            keeps_pending_om_requests);
    };
    (@each $make:expr; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::contract::$check($make).await;
            }
        )+
    };
}
