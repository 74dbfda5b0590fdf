//! [`run`]: the scenarios through the real service and HTTP gateway, printing each stage
//! as it happens, checking each against the simulator's own records, and a summary table.

use std::fmt::Display;
use std::time::Instant;

use klarna_payments::simulator::{ShopperDecision, Simulator};
use klarna_payments::{
    Amount, AuthorizationToken, AuthorizedVia, CaptureRequest, Cart, ChargeRequest, Completed,
    CustomerTokenId, Intent, Klarna, Market, MerchantData, MerchantUrls, Money, OmLine, OrderId,
    OrderLine, PaymentId, Purchase, RefundRequest, Region, ServiceError, SessionId, ShippingInfo,
    ShippingInfoInput, ShippingMethod,
};

use crate::catalog::{self, sek};
use crate::report::{DemoReport, Outcome, StepReport};
use crate::{DemoError, DemoOptions, backend};

/// Why a scenario stopped early.
enum Stop {
    /// A step did not land: (step, what happened).
    Failed(String, String),
    /// A step cannot run here: (step, why).
    Skipped(String, String),
}

fn failed(step: &str, why: impl Display) -> Stop {
    Stop::Failed(step.to_owned(), why.to_string())
}

/// Fails the step unless `ok`.
fn ensure(ok: bool, step: &str, why: impl FnOnce() -> String) -> Result<(), Stop> {
    if ok { Ok(()) } else { Err(failed(step, why())) }
}

/// What a landed step shows.
#[derive(Default)]
struct Row {
    stage: String,
    id: String,
    amount: String,
}

fn row(stage: impl Display, id: impl Display, amount: impl Display) -> Row {
    Row {
        stage: stage.to_string(),
        id: id.to_string(),
        amount: amount.to_string(),
    }
}

struct Ctx<'a> {
    payments: &'a Klarna,
    /// The account of region `eu`.
    sim: Option<&'a Simulator>,
    /// The account of region `na`.
    sim_na: Option<&'a Simulator>,
    report: DemoReport,
    scenario: String,
    started: Instant,
    /// Sessions opened so far: the shop's order numbers count them.
    orders: u32,
}

impl Ctx<'_> {
    fn begin(&mut self, scenario: &str, title: &str) {
        self.scenario = scenario.to_owned();
        println!();
        println!("{scenario} — {title}");
    }

    /// Prints what is about to be sent, and starts the step's clock.
    fn sent(&mut self, what: impl Display) {
        println!("    → {what}");
        self.started = Instant::now();
    }

    fn push(&mut self, step: &str, outcome: Outcome, r: Row) {
        self.report.steps.push(StepReport {
            scenario: self.scenario.clone(),
            step: step.to_owned(),
            outcome,
            stage: r.stage,
            klarna_id: r.id,
            amount: r.amount,
        });
    }

    fn landed(&mut self, step: &str, r: Row) {
        let ms = self.started.elapsed().as_millis();
        let mut line = format!("    ✓ {step}: {}", r.stage);
        if !r.id.is_empty() {
            line.push_str(&format!(" · {}", r.id));
        }
        if !r.amount.is_empty() {
            line.push_str(&format!(" · {}", r.amount));
        }
        println!("{line} ({ms} ms)");
        self.push(step, Outcome::Landed, r);
    }

    fn stop(&mut self, stop: Stop) {
        match stop {
            Stop::Failed(step, why) => {
                println!("    ✗ {step}: {why}");
                self.push(&step, Outcome::Failed(why), Row::default());
            }
            Stop::Skipped(step, why) => {
                println!("    – {step}: skipped ({why})");
                self.push(&step, Outcome::Skipped(why), Row::default());
            }
        }
    }

    /// The shopper's step in the browser, played by the simulator of region `eu`.
    fn shopper(
        &mut self,
        session: &SessionId,
        approve: bool,
    ) -> Result<Option<AuthorizationToken>, Stop> {
        self.shopper_at(self.sim, session, approve)
    }

    /// The shopper's step in the browser, played by the simulator `sim` (the account whose
    /// session it is).
    fn shopper_at(
        &mut self,
        sim: Option<&Simulator>,
        session: &SessionId,
        approve: bool,
    ) -> Result<Option<AuthorizationToken>, Stop> {
        let step = if approve {
            "shopper authorizes"
        } else {
            "shopper declines"
        };
        let Some(sim) = sim else {
            return Err(Stop::Skipped(
                step.to_owned(),
                "the playground's shopper step needs a browser: try `klarna demo --serve --playground`"
                    .to_owned(),
            ));
        };
        self.sent(format!(
            "Klarna.Payments.authorize() in the browser (simulator's shopper step, {})",
            if approve { "approve" } else { "decline" }
        ));
        let decision = if approve {
            ShopperDecision::approve()
        } else {
            ShopperDecision::decline()
        };
        let outcome = sim
            .authorize(session.as_str(), decision)
            .map_err(|e| failed(step, e))?;
        match (approve, outcome.approved, outcome.authorization_token) {
            (true, true, Some(t)) => {
                let token = AuthorizationToken::new(t).map_err(|e| failed(step, e))?;
                self.landed(
                    step,
                    row("approved, authorization_token issued (60 min)", "", ""),
                );
                Ok(Some(token))
            }
            (false, false, None) => {
                self.landed(step, row("declined, no authorization_token", "", ""));
                Ok(None)
            }
            (_, approved, token) => Err(failed(
                step,
                format!(
                    "unexpected shopper outcome: approved={approved}, token {}",
                    if token.is_some() { "issued" } else { "missing" }
                ),
            )),
        }
    }

    /// Step 1: opens a session.
    async fn open(&mut self, intent: Intent, cart: &Cart) -> Result<(PaymentId, SessionId), Stop> {
        let step = "create session";
        self.sent(format!(
            "P1 create session: intent {}, {} line(s), order_amount {}, order_tax_amount {}, {}/{}/{}",
            intent.as_str(),
            cart.lines().len(),
            cart.total(),
            Money::new(cart.order_tax_amount(), cart.market().currency()),
            cart.market().country(),
            cart.market().currency(),
            cart.market().locale(),
        ));
        // The shop's own order number goes to Klarna as `merchant_reference1` (shown to the
        // shopper); our payment id stays ours.
        self.orders += 1;
        let number = format!("SO-DEMO-{:04}", self.orders);
        let merchant = MerchantData::builder()
            .order_number(number.clone())
            .reference2(format!("demo-{}", self.scenario))
            .build()
            .map_err(|e| failed(step, e))?;
        let purchase = Purchase::new(intent, cart.clone())
            .map_err(|e| failed(step, e))?
            .with_merchant(merchant)
            .map_err(|e| failed(step, e))?;
        println!("      shop order number: {number}");
        let checkout = self
            .payments
            .start_checkout(purchase)
            .await
            .map_err(|e| failed(step, e))?;
        let stage = self.stage(&checkout.payment_id).await?;
        ensure(stage == "open", step, || {
            format!("payment is {stage}, expected open")
        })?;
        println!("      our payment id: {}", checkout.payment_id);
        self.landed(
            step,
            row(
                &stage,
                format!("session {}", checkout.session_id),
                cart.total(),
            ),
        );
        Ok((checkout.payment_id, checkout.session_id))
    }

    /// Records the shopper's authorization as the browser posted it, and answers the payment.
    async fn authorize(
        &self,
        step: &str,
        id: &PaymentId,
        token: AuthorizationToken,
    ) -> Result<klarna_payments::AnyPayment, Stop> {
        let id = self
            .payments
            .authorize(AuthorizedVia::Browser(id), token)
            .await
            .map_err(|e| failed(step, e))?;
        self.payments
            .payment(&id)
            .await
            .map_err(|e| failed(step, e))
    }

    /// Step 3 for `id` with the shopper's token (the step fails without one).
    async fn complete(
        &self,
        step: &str,
        id: &PaymentId,
        token: Option<AuthorizationToken>,
    ) -> Result<Completed, Stop> {
        let token = token.ok_or_else(|| failed(step, "no token"))?;
        self.payments
            .complete(id, token)
            .await
            .map_err(|e| failed(step, e))
    }

    async fn stage(&self, id: &PaymentId) -> Result<String, Stop> {
        self.payments
            .payment(id)
            .await
            .map(|p| p.kind().to_string())
            .map_err(|e| failed("read payment", e))
    }

    /// The simulator's own record of an order (independent evidence that the step landed).
    fn sim_order(
        &self,
        step: &str,
        order: &OrderId,
    ) -> Result<Option<klarna_payments::simulator::OrderSummary>, Stop> {
        match self.sim {
            None => Ok(None),
            Some(sim) => sim
                .order(order.as_str())
                .map(Some)
                .ok_or_else(|| failed(step, format!("Klarna has no order {order}"))),
        }
    }
}

fn order_of(step: &str, done: &Completed) -> Result<OrderId, Stop> {
    done.order()
        .map(|o| o.order_id().clone())
        .ok_or_else(|| failed(step, format!("completed with {done:?}, expected an order")))
}

fn token_of(step: &str, done: &Completed) -> Result<CustomerTokenId, Stop> {
    done.token()
        .cloned()
        .ok_or_else(|| failed(step, "completed without a customer token"))
}

fn amount(step: &str, minor: i64) -> Result<Amount, Stop> {
    Amount::new(minor).map_err(|e| failed(step, e))
}

fn build_cart(step: &str, items: &[(&str, i64)]) -> Result<Cart, Stop> {
    catalog::cart(items).map_err(|e| failed(step, e))
}

async fn one_time(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "1 one-time",
        "session → shopper authorizes → order → capture → partial refund",
    );
    let cart = build_cart("cart", &[("shoe", 1), ("socks", 2)])?;
    let (id, session) = cx.open(Intent::Buy, &cart).await?;
    let token = cx.shopper(&session, true)?;

    let step = "record authorization";
    cx.sent("authorization_token from the browser → the server (never logged)");
    let token = token.ok_or_else(|| failed(step, "no token"))?;
    let p = cx.authorize(step, &id, token.clone()).await?;
    ensure(p.kind().as_str() == "authorized", step, || {
        format!("payment is {}", p.kind())
    })?;
    cx.landed(step, row(p.kind(), "", p.cart().total()));

    let step = "create order";
    cx.sent(format!(
        "P5 create order from the authorization: {} (Klarna-Idempotency-Key)",
        cart.total()
    ));
    let done = cx.complete(step, &id, Some(token)).await?;
    let order = order_of(step, &done)?;
    let stage = cx.stage(&id).await?;
    ensure(stage == "ordered", step, || format!("payment is {stage}"))?;
    let fraud = cx
        .sim_order(step, &order)?
        .map(|o| o.fraud_status)
        .unwrap_or_default();
    cx.landed(
        step,
        row(
            format!("{stage} (fraud {fraud})"),
            format!("order {order}"),
            cart.total(),
        ),
    );

    let step = "capture";
    cx.sent(format!(
        "O2 capture {} of order {order}, with its lines and PostNord tracking",
        cart.total()
    ));
    let tracking = ShippingInfo::new(ShippingInfoInput {
        shipping_company: Some("PostNord".into()),
        shipping_method: Some(ShippingMethod::Home),
        tracking_number: Some("00370712345678901234".into()),
        tracking_uri: Some("https://tracking.example/00370712345678901234".into()),
        ..ShippingInfoInput::default()
    })
    .map_err(|e| failed(step, e))?;
    let capture = CaptureRequest::builder(amount(step, cart.total().minor())?)
        .lines(cart.lines().iter().cloned())
        .shipping_info(tracking)
        .reference(format!("SHIP-{id}"))
        .description("All items shipped")
        .build()
        .map_err(|e| failed(step, e))?;
    let managed = cx
        .payments
        .capture(&order, capture)
        .await
        .map_err(|e| failed(step, e))?
        .order;
    if let Some(o) = cx.sim_order(step, &order)? {
        ensure(
            o.captured_amount == cart.total().minor() && o.status == "CAPTURED",
            step,
            || {
                format!(
                    "Klarna shows {} captured, status {}",
                    sek(o.captured_amount),
                    o.status
                )
            },
        )?;
    }
    cx.landed(
        step,
        row(
            managed.status().as_str(),
            format!("order {order}"),
            sek(managed.captured()),
        ),
    );

    let step = "partial refund";
    // One pair of socks comes back; the shop keeps a SEK 29.00 return fee.
    let fee = 2_900;
    let refund = 14_900 - fee;
    cx.sent(format!(
        "O5 refund {} (one pair of socks, less a {} return fee) of order {order}",
        sek(refund),
        sek(fee)
    ));
    let socks = OrderLine::builder("Wool socks", 1, 14_900)
        .tax_rate(2_500)
        .build()
        .map_err(|e| failed(step, e))?;
    let request = RefundRequest::builder(amount(step, refund)?)
        .line(socks)
        .line(OmLine::return_fee("Return fee", fee, 2_500).map_err(|e| failed(step, e))?)
        .reference(format!("RET-{id}"))
        .build()
        .map_err(|e| failed(step, e))?;
    let managed = cx
        .payments
        .refund(&order, request)
        .await
        .map_err(|e| failed(step, e))?
        .order;
    if let Some(o) = cx.sim_order(step, &order)? {
        ensure(o.refunded_amount == refund, step, || {
            format!("Klarna shows {} refunded", sek(o.refunded_amount))
        })?;
    }
    ensure(managed.refunded() == refund, step, || {
        format!("store shows {} refunded", sek(managed.refunded()))
    })?;
    cx.landed(
        step,
        row(
            format!(
                "{}, refunded {} of {}",
                managed.status().as_str(),
                sek(managed.refunded()),
                sek(managed.captured())
            ),
            format!("order {order}"),
            sek(refund),
        ),
    );
    Ok(())
}

async fn charge(
    cx: &mut Ctx<'_>,
    step: &str,
    id: &str,
    token: &CustomerTokenId,
    cart: &Cart,
) -> Result<OrderId, Stop> {
    let payment_id = PaymentId::new(id).map_err(|e| failed(step, e))?;
    cx.sent(format!(
        "T2 charge the customer token: {} as payment {payment_id} (shopper absent)",
        cart.total()
    ));
    let placed = cx
        .payments
        .charge_customer_token(ChargeRequest {
            merchant: MerchantData::builder()
                .order_number(format!("SO-{id}"))
                .build()
                .map_err(|e| failed(step, e))?,
            payment_id: payment_id.clone(),
            token: token.clone(),
            cart: cart.clone(),
        })
        .await
        .map_err(|e| failed(step, e))?;
    let order = placed.order_id().clone();
    if let Some(o) = cx.sim_order(step, &order)? {
        ensure(o.order_amount == cart.total().minor(), step, || {
            format!("Klarna's order is {}", sek(o.order_amount))
        })?;
        let number = format!("SO-{id}");
        ensure(
            o.merchant_reference1.as_deref() == Some(number.as_str()),
            step,
            || format!("Klarna's order number is {:?}", o.merchant_reference1),
        )?;
    }
    let stage = cx.stage(&payment_id).await?;
    cx.landed(step, row(stage, format!("order {order}"), cart.total()));
    Ok(order)
}

async fn recurring(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "2 recurring",
        "tokenize → authorize → customer token → two charges → cancel the token",
    );
    let cart = build_cart("cart", &[("coffee", 1)])?;
    let (id, session) = cx.open(Intent::Tokenize, &cart).await?;
    let token = cx.shopper(&session, true)?;

    let step = "create customer token";
    cx.sent("P6 customer token from the authorization (description, SE/SEK)");
    let done = cx.complete(step, &id, token).await?;
    let customer_token = token_of(step, &done)?;
    let stage = cx.stage(&id).await?;
    cx.landed(
        step,
        row(
            stage,
            "customer token stored (encrypted; never printed)",
            "",
        ),
    );

    let first = charge(
        cx,
        "charge #1",
        &format!("{id}-period-1"),
        &customer_token,
        &cart,
    )
    .await?;
    let second = charge(
        cx,
        "charge #2",
        &format!("{id}-period-2"),
        &customer_token,
        &cart,
    )
    .await?;
    let step = "charge #2 again (same id)";
    let before = cx.sim.map(|s| s.orders().len());
    let again = charge(cx, step, &format!("{id}-period-2"), &customer_token, &cart).await?;
    ensure(again == second && again != first, step, || {
        "a repeated charge id created another order".to_owned()
    })?;
    ensure(before == cx.sim.map(|s| s.orders().len()), step, || {
        "Klarna has a new order".to_owned()
    })?;

    let step = "cancel the token";
    cx.sent("T3 cancel the customer token");
    let t = cx
        .payments
        .cancel_customer_token(&customer_token)
        .await
        .map_err(|e| failed(step, e))?;
    ensure(t.status().as_str() == "CANCELLED", step, || {
        format!("token is {}", t.status().as_str())
    })?;
    cx.landed(step, row(format!("token {}", t.status().as_str()), "", ""));

    let step = "charge a cancelled token";
    cx.sent("T2 charge the cancelled token (must be refused before any call)");
    let refused = cx
        .payments
        .charge_customer_token(ChargeRequest {
            merchant: MerchantData::default(),
            payment_id: PaymentId::new(format!("{id}-period-3")).map_err(|e| failed(step, e))?,
            token: customer_token.clone(),
            cart: cart.clone(),
        })
        .await;
    match refused {
        Err(ServiceError::Token(e)) => cx.landed(step, row(format!("refused: {e}"), "", "")),
        Err(e) => return Err(failed(step, format!("refused for the wrong reason: {e}"))),
        Ok(placed) => {
            return Err(failed(
                step,
                format!("charged anyway: Klarna order {}", placed.order_id()),
            ));
        }
    }
    Ok(())
}

async fn buy_and_tokenize(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "3 buy_and_tokenize",
        "one authorization → an order now and a token for later",
    );
    let cart = build_cart("cart", &[("shoe", 1), ("coffee", 1)])?;
    let (id, session) = cx.open(Intent::BuyAndTokenize, &cart).await?;
    let token = cx.shopper(&session, true)?;

    let step = "order + customer token";
    cx.sent(format!(
        "P6 customer token, then P5 create order ({}), from one authorization",
        cart.total()
    ));
    let done = cx.complete(step, &id, token).await?;
    let order = order_of(step, &done)?;
    let customer_token = token_of(step, &done)?;
    cx.sim_order(step, &order)?;
    let stage = cx.stage(&id).await?;
    cx.landed(
        step,
        row(
            format!("{stage} with a customer token"),
            format!("order {order}"),
            cart.total(),
        ),
    );

    let refill = build_cart("cart", &[("coffee", 1)])?;
    charge(
        cx,
        "next month's charge",
        &format!("{id}-period-2"),
        &customer_token,
        &refill,
    )
    .await?;
    Ok(())
}

async fn cart_change(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "4a cart change",
        "authorize → the cart changes → re-authorize → order for the new cart",
    );
    let cart = build_cart("cart", &[("shoe", 1)])?;
    let (id, session) = cx.open(Intent::Buy, &cart).await?;
    let token = cx.shopper(&session, true)?;
    let step = "record authorization";
    cx.sent("authorization_token from the browser → the server");
    let old_token = token.ok_or_else(|| failed(step, "no token"))?;
    let p = cx.authorize(step, &id, old_token.clone()).await?;
    cx.landed(step, row(p.kind(), "", p.cart().total()));

    let step = "cart changes";
    let bigger = build_cart(step, &[("shoe", 1), ("socks", 1)])?;
    cx.sent(format!(
        "P3 update session: {} → {} (the old authorization is released)",
        cart.total(),
        bigger.total()
    ));
    let p = cx
        .payments
        .update_cart(&id, bigger.clone())
        .await
        .map_err(|e| failed(step, e))?;
    ensure(p.kind().as_str() == "open", step, || {
        format!("payment is {}, expected open", p.kind())
    })?;
    cx.landed(
        step,
        row(
            "open: the shopper must authorize again",
            format!("session {session}"),
            bigger.total(),
        ),
    );

    let step = "order without re-authorization";
    let recorded = cx
        .payments
        .payment(&id)
        .await
        .map_err(|e| failed(step, e))?
        .authorization_token()
        .is_some();
    ensure(!recorded, step, || {
        "the payment still holds the old authorization".to_owned()
    })?;
    cx.sent("P5 create order with the released authorization (Klarna must refuse it)");
    match cx.payments.complete(&id, old_token).await {
        Err(ServiceError::Reauthorize { .. }) => {
            let stage = cx.stage(&id).await?;
            ensure(stage == "open", step, || {
                format!("payment is {stage}, expected open")
            })?;
            cx.landed(
                step,
                row(
                    format!("refused: authorize again, payment is {stage}"),
                    "",
                    "",
                ),
            );
        }
        Err(e) => return Err(failed(step, format!("refused for the wrong reason: {e}"))),
        Ok(done) => {
            return Err(failed(step, format!("ordered anyway: {done:?}")));
        }
    }

    let token = cx.shopper(&session, true)?;
    let step = "create order (new cart)";
    cx.sent(format!(
        "P5 create order with the new authorization: {}",
        bigger.total()
    ));
    let done = cx.complete(step, &id, token).await?;
    let order = order_of(step, &done)?;
    if let Some(o) = cx.sim_order(step, &order)? {
        ensure(o.order_amount == bigger.total().minor(), step, || {
            format!(
                "Klarna's order is {}, the cart {}",
                sek(o.order_amount),
                bigger.total()
            )
        })?;
    }
    let stage = cx.stage(&id).await?;
    cx.landed(step, row(stage, format!("order {order}"), bigger.total()));
    Ok(())
}

async fn declined(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "4b declined shopper",
        "the shopper is declined → nothing ordered, nothing lost",
    );
    let cart = build_cart("cart", &[("socks", 1)])?;
    let (id, session) = cx.open(Intent::Buy, &cart).await?;
    let token = cx.shopper(&session, false)?;
    let step = "payment after the decline";
    ensure(token.is_none(), step, || {
        "a declined shopper got a token".to_owned()
    })?;
    let stage = cx.stage(&id).await?;
    ensure(stage == "open", step, || {
        format!("payment is {stage}, expected open")
    })?;
    if let Some(sim) = cx.sim {
        let orders = sim
            .orders()
            .iter()
            .filter(|o| o.merchant_reference1.as_deref() == Some(id.as_str()))
            .count();
        ensure(orders == 0, step, || {
            format!("Klarna has {orders} order(s) for it")
        })?;
    }
    cx.landed(
        step,
        row(
            "open: still payable another way, no order at Klarna",
            "",
            cart.total(),
        ),
    );

    let step = "cancel the payment";
    cx.sent("the shopper leaves: cancel the payment");
    let p = cx.payments.cancel(&id).await.map_err(|e| failed(step, e))?;
    ensure(p.kind().as_str() == "cancelled", step, || {
        format!("payment is {}", p.kind())
    })?;
    cx.landed(step, row(p.kind(), "", cart.total()));
    Ok(())
}

/// The requests each simulator has answered so far.
fn requests(sim: Option<&Simulator>) -> u64 {
    sim.map_or(0, |s| s.stats().requests.values().sum())
}

async fn second_region(cx: &mut Ctx<'_>) -> Result<(), Stop> {
    cx.begin(
        "5 second region",
        "an American purchase goes to the na account; a country without an account is refused",
    );
    let step = "create session (na)";
    let Some(na) = cx.sim_na else {
        return Err(Stop::Skipped(
            step.to_owned(),
            "the playground's second region needs its own account: set KLARNA_NA_USERNAME and \
             KLARNA_NA_PASSWORD, and play the shopper with `klarna demo --serve --playground`"
                .to_owned(),
        ));
    };
    let market = Market::parse("US", "USD", "en-US").map_err(|e| failed(step, e))?;
    let boots = OrderLine::builder("Trail boots", 1, 12_900)
        .build()
        .map_err(|e| failed(step, e))?;
    let cart = Cart::new(market, vec![boots]).map_err(|e| failed(step, e))?;
    let eu_before = requests(cx.sim);
    let (id, session) = cx.open(Intent::Buy, &cart).await?;
    let token = cx.shopper_at(Some(na), &session, true)?;

    let step = "create order (na)";
    let token = token.ok_or_else(|| failed(step, "no token"))?;
    cx.sent(format!(
        "P5 create order at the na account (api-na): {}",
        cart.total()
    ));
    let done = cx.complete(step, &id, Some(token)).await?;
    let order = order_of(step, &done)?;
    ensure(na.order(order.as_str()).is_some(), step, || {
        format!("the na account has no order {order}")
    })?;
    ensure(requests(cx.sim) == eu_before, step, || {
        "a call of the American payment reached the eu account".to_owned()
    })?;
    cx.landed(
        step,
        row(
            "ordered at the na account",
            format!("order {order}"),
            cart.total(),
        ),
    );

    let step = "capture (na)";
    cx.sent(format!("O2 capture at the na account: {}", cart.total()));
    let amount = amount(step, cart.total().minor())?;
    cx.payments
        .capture(&order, amount)
        .await
        .map_err(|e| failed(step, e))?;
    let captured = na.order(order.as_str()).map_or(0, |o| o.captured_amount);
    ensure(captured == cart.total().minor(), step, || {
        format!("the na account captured {captured}")
    })?;
    cx.landed(
        step,
        row("CAPTURED", format!("order {order}"), cart.total()),
    );

    let step = "a purchase in Australia";
    cx.sent("P1 create session for AU/AUD: region oc has no account here");
    let au = Market::parse("AU", "AUD", "en-AU").map_err(|e| failed(step, e))?;
    let hat = OrderLine::builder("Sun hat", 1, 3_500)
        .build()
        .map_err(|e| failed(step, e))?;
    let cart = Cart::new(au, vec![hat]).map_err(|e| failed(step, e))?;
    let before = (requests(cx.sim), requests(Some(na)));
    let purchase = Purchase::new(Intent::Buy, cart.clone()).map_err(|e| failed(step, e))?;
    match cx.payments.start_checkout(purchase).await {
        Err(ServiceError::RegionNotConfigured { region: Region::Oc }) => {}
        other => {
            return Err(failed(
                step,
                format!(
                    "expected no account for region oc, got {:?}",
                    other.map(|c| c.payment_id)
                ),
            ));
        }
    }
    ensure(
        (requests(cx.sim), requests(Some(na))) == before,
        step,
        || "a call reached Klarna".to_owned(),
    )?;
    cx.landed(
        step,
        row(
            "refused before any call: no account for region oc",
            "",
            cart.total(),
        ),
    );
    Ok(())
}

/// Runs the scenarios (see the crate docs), printing each stage as it happens and a
/// summary table at the end.
///
/// # Errors
/// [`DemoError`] when the demo cannot start (configuration, store, simulator). A step that
/// does not land is not an error: check [`DemoReport::all_landed`].
pub async fn run(options: DemoOptions) -> Result<DemoReport, DemoError> {
    println!("klarna demo: the three steps of Klarna Payments, one-time and recurring, end to end");
    let store = backend::StoreConfig::new(options.store_url, options.store_key)?;
    let backend = backend::start(options.playground, store, MerchantUrls::default()).await?;
    println!("  Klarna: {}", backend.klarna_label);
    println!("  store:  {}", backend.store_label);
    println!(
        "  path:   PaymentService → KlarnaGateway (HTTP) → Klarna; payments stored after every stage"
    );
    let mut cx = Ctx {
        payments: &backend.payments,
        sim: backend.sim.as_ref(),
        sim_na: backend.sim_na.as_ref(),
        report: DemoReport::default(),
        scenario: String::new(),
        started: Instant::now(),
        orders: 0,
    };
    if let Err(s) = one_time(&mut cx).await {
        cx.stop(s);
    }
    if let Err(s) = recurring(&mut cx).await {
        cx.stop(s);
    }
    if let Err(s) = buy_and_tokenize(&mut cx).await {
        cx.stop(s);
    }
    if let Err(s) = cart_change(&mut cx).await {
        cx.stop(s);
    }
    if let Err(s) = declined(&mut cx).await {
        cx.stop(s);
    }
    if let Err(s) = second_region(&mut cx).await {
        cx.stop(s);
    }
    let report = cx.report;
    println!();
    println!("{report}");
    if report.all_landed() {
        println!("every step landed where it should");
    } else {
        println!("some steps did NOT land where they should (see ✗ above)");
    }
    if let Some(sim) = backend.sim {
        sim.shutdown().await;
    }
    if let Some(sim) = backend.sim_na {
        sim.shutdown().await;
    }
    Ok(report)
}
