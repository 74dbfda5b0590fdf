//! Merchant data end to end, through the facade against the simulator: the shop's order
//! number, second reference, addresses, a B2B customer, EMD, `merchant_data` and widget options
//! on a one-time payment, checked at the simulator's order record (still 3 HTTP requests and
//! 3 store writes); a subscription tokenized and charged with a shipping address; a missing
//! subscription refused before any call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use klarna_payments::ports::{HookedStore, PaymentStore};
use klarna_payments::simulator::{ShopperDecision, Simulator};
use klarna_payments::{
    Address, Attachment, AuthorizationToken, Cart, ChargeRequest, Completed, Customer,
    CustomerAccountInfo, Emd, EmdSubscription, InMemoryStore, Intent, Interval, Klarna,
    KlarnaBuilder, LineKind, Market, MarketplaceSellerInfo, MerchantData, OrderLine,
    OrganizationType, PaymentId, Purchase, ServiceError, WidgetOptions,
};
use serde_json::Value;

async fn klarna(sim: &Simulator, writes: &Arc<AtomicUsize>) -> Klarna {
    let counted = Arc::clone(writes);
    let store: Arc<dyn PaymentStore> =
        Arc::new(HookedStore::new(InMemoryStore::new(), move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        }));
    KlarnaBuilder::new()
        .simulator(sim)
        .store(store)
        .build()
        .await
        .expect("klarna")
}

fn address(given: &str) -> Address {
    Address {
        given_name: Some(given.into()),
        family_name: Some("Andersson".into()),
        organization_name: Some("Kafferosteriet AB".into()),
        attention: Some("Inköp".into()),
        email: Some("inkop@example.se".into()),
        phone: Some("+46701740605".into()),
        street_address: Some("Sveavägen 1".into()),
        postal_code: Some("11157".into()),
        city: Some("Stockholm".into()),
        country: Some("SE".into()),
        ..Address::default()
    }
}

fn requests(sim: &Simulator) -> u64 {
    sim.stats().requests.values().sum()
}

#[tokio::test]
async fn a_one_time_payment_carries_the_shops_merchant_data_to_the_order() {
    let sim = Simulator::start().await.expect("simulator");
    let writes = Arc::new(AtomicUsize::new(0));
    let klarna = klarna(&sim, &writes).await;
    let m = Market::parse("SE", "SEK", "sv-SE").unwrap();
    let cart = Cart::new(
        m,
        vec![
            OrderLine::builder("Kaffebryggare", 1, 150_000)
                .tax_rate(2_500)
                .build()
                .unwrap(),
        ],
    )
    .unwrap();
    let merchant = MerchantData::builder()
        .order_number("SO-2026-000418")
        .reference2("cart-7f3c9d")
        .merchant_data("{\"campaign\":\"winter\"}")
        .customer(Customer {
            organization_entity_type: Some(OrganizationType::LimitedCompany),
            vat_id: Some("SE556036079301".into()),
            ..Customer::organization("556036-0793")
        })
        .billing_address(address("Eva"))
        .shipping_address(address("Olle"))
        .attachment(Attachment::Emd(Emd {
            customer_account_info: vec![CustomerAccountInfo {
                unique_account_identifier: "account-418".into(),
                account_registration_date: Some("2024-01-02T10:00:00Z".into()),
                account_last_modified: Some("2026-11-30T09:00:00Z".into()),
            }],
            marketplace_seller_info: vec![MarketplaceSellerInfo {
                sub_merchant_id: "roastery-9".into(),
                product_category: "Kitchen".into(),
                product_name: "Kaffebryggare".into(),
                number_of_trades: Some(120),
            }],
            ..Emd::default()
        }))
        .options(WidgetOptions {
            color_border: Some("#D8D8D8".into()),
            radius_border: Some("4px".into()),
            ..WidgetOptions::default()
        })
        .build()
        .unwrap();
    let purchase = Purchase::new(Intent::Buy, cart)
        .unwrap()
        .with_merchant(merchant)
        .unwrap();
    let (r0, writes_before) = (requests(&sim), writes.load(Ordering::SeqCst));
    let c = klarna.start_checkout(purchase).await.unwrap();
    let r1 = requests(&sim);
    let token = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let r2 = requests(&sim);
    let done = klarna
        .complete(&c.payment_id, AuthorizationToken::new(token).unwrap())
        .await
        .unwrap();
    let Completed::Order(order) = done else {
        panic!("an order: {done:?}")
    };
    // P1 and P5 from us (the shopper's step between is the third request of the flow); one
    // write each for the session, the authorization with the pending order, and the order.
    assert_eq!(
        (r1 - r0, requests(&sim) - r2),
        (1, 1),
        "P1 and P5, nothing more"
    );
    assert_eq!(
        writes.load(Ordering::SeqCst) - writes_before,
        3,
        "3 store writes"
    );

    let rec = sim
        .order(order.order_id().as_str())
        .expect("order at Klarna");
    assert_eq!(rec.merchant_reference1.as_deref(), Some("SO-2026-000418"));
    assert_eq!(rec.merchant_reference2.as_deref(), Some("cart-7f3c9d"));
    assert_eq!(
        rec.merchant_data.as_deref(),
        Some("{\"campaign\":\"winter\"}")
    );
    let customer = rec.customer.expect("customer");
    assert_eq!(customer["type"], "organization");
    assert_eq!(customer["organization_registration_id"], "556036-0793");
    assert_eq!(customer["organization_entity_type"], "LIMITED_COMPANY");
    assert_eq!(customer["vat_id"], "SE556036079301");
    assert_eq!(rec.billing_address.expect("billing")["given_name"], "Eva");
    assert_eq!(
        rec.shipping_address.expect("shipping")["given_name"],
        "Olle"
    );
    let attachment = rec.attachment.expect("attachment");
    assert_eq!(
        attachment["content_type"],
        "application/vnd.klarna.internal.emd-v2+json"
    );
    let emd: Value = serde_json::from_str(attachment["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        emd["marketplace_seller_info"][0]["sub_merchant_id"],
        "roastery-9"
    );
    assert_eq!(rec.options.expect("options")["radius_border"], "4px");
    // Our own records know the order by the shop's number.
    let p = klarna.payment(&c.payment_id).await.unwrap();
    assert_eq!(p.merchant_reference1(), "SO-2026-000418");
    assert_ne!(c.payment_id.as_str(), "SO-2026-000418");
}

fn subscription_cart(with_subscription: bool) -> Cart {
    let m = Market::parse("US", "USD", "en-US").unwrap();
    let mut beans = OrderLine::builder("Coffee beans", 1, 2_499);
    if with_subscription {
        beans = beans.subscription("Coffee club", Interval::Month, 1);
    }
    let tax = OrderLine::builder("Sales tax", 1, 212)
        .kind(LineKind::SalesTax)
        .build()
        .unwrap();
    let plan = OrderLine::builder("Plan", 1, 0)
        .kind(LineKind::Digital)
        .subscription("Coffee club", Interval::Month, 1)
        .build()
        .unwrap();
    Cart::new(m, vec![plan, beans.build().unwrap(), tax]).unwrap()
}

#[tokio::test]
async fn a_subscription_is_tokenized_and_charged_with_its_lines_and_a_shipping_address() {
    let sim = Simulator::start().await.expect("simulator");
    let writes = Arc::new(AtomicUsize::new(0));
    let klarna = klarna(&sim, &writes).await;
    let shipping = Address {
        region: Some("IL".into()),
        country: Some("US".into()),
        city: Some("Chicago".into()),
        ..address("Jordan")
    };
    let c = klarna
        .start_checkout(Purchase::new(Intent::Tokenize, subscription_cart(true)).unwrap())
        .await
        .unwrap();
    let token = sim
        .authorize(c.session_id.as_str(), ShopperDecision::approve())
        .unwrap()
        .authorization_token
        .unwrap();
    let done = klarna
        .complete(&c.payment_id, AuthorizationToken::new(token).unwrap())
        .await
        .unwrap();
    let ct = done.token().cloned().expect("tokenized");
    let charge = ChargeRequest {
        payment_id: PaymentId::new("sub-42-2026-12").unwrap(),
        token: ct.clone(),
        cart: subscription_cart(true),
        merchant: MerchantData::builder()
            .order_number("SUB-42-2026-12")
            .reference2("plan-coffee")
            .shipping_address(shipping)
            .attachment(Attachment::Emd(Emd {
                subscription: vec![EmdSubscription {
                    subscription_name: "Coffee club".into(),
                    start_time: "2026-11-01T00:00:00Z".into(),
                    end_time: "2027-11-01T00:00:00Z".into(),
                    auto_renewal_of_subscription: true,
                }],
                ..Emd::default()
            }))
            .build()
            .unwrap(),
    };
    let placed = klarna.charge_customer_token(charge).await.unwrap();
    let rec = sim
        .order(placed.order_id().as_str())
        .expect("order at Klarna");
    assert_eq!(rec.merchant_reference1.as_deref(), Some("SUB-42-2026-12"));
    assert_eq!(rec.merchant_reference2.as_deref(), Some("plan-coffee"));
    let ship = rec.shipping_address.expect("shipping");
    assert_eq!(ship["region"], "IL");
    assert_eq!(ship["city"], "Chicago");
    assert_eq!(rec.lines[0]["subscription"]["name"], "Coffee club");
    assert_eq!(rec.lines[1]["subscription"]["interval"], "MONTH");
    assert!(rec.lines[2].get("subscription").is_none(), "tax needs none");
    let emd: Value = serde_json::from_str(
        rec.attachment.expect("attachment")["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(emd["subscription"][0]["auto_renewal_of_subscription"], true);

    // A charge whose good lacks its subscription is refused naming the line, before any call.
    let before = (requests(&sim), writes.load(Ordering::SeqCst));
    let e = klarna
        .charge_customer_token(ChargeRequest {
            payment_id: PaymentId::new("sub-42-2027-01").unwrap(),
            token: ct,
            cart: subscription_cart(false),
            merchant: MerchantData::default(),
        })
        .await
        .unwrap_err();
    let ServiceError::Cart(cart_error) = &e else {
        panic!("a cart error: {e}")
    };
    assert_eq!(cart_error.field().as_str(), "order_lines[1].subscription");
    assert!(e.to_string().contains("Coffee beans"), "{e}");
    assert_eq!(
        (requests(&sim), writes.load(Ordering::SeqCst)),
        before,
        "nothing sent, nothing written"
    );
}

#[tokio::test]
async fn a_recurring_session_without_a_lines_subscription_is_refused_before_any_call() {
    let sim = Simulator::start().await.expect("simulator");
    let e = Purchase::new(Intent::Tokenize, subscription_cart(false)).unwrap_err();
    assert_eq!(e.field().as_str(), "order_lines[1].subscription");
    assert!(e.to_string().contains("Coffee beans"), "{e}");
    assert_eq!(
        requests(&sim),
        0,
        "a purchase that does not exist sends nothing"
    );
    // A US shipping address without its region is refused where the purchase is made.
    let no_region = MerchantData::builder()
        .shipping_address(Address {
            country: None,
            ..address("Jordan")
        })
        .build()
        .unwrap();
    let e = Purchase::new(Intent::Tokenize, subscription_cart(true))
        .unwrap()
        .with_merchant(no_region)
        .unwrap_err();
    assert_eq!(e.field().as_str(), "shipping_address.region");
}
