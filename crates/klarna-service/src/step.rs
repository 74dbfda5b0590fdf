//! The step every use case takes: load a record, ask the domain's decision, write it with compare-and-set, retry a lost race.
//!
//! A use case supplies only the decision (a closure over the stored value and the time that
//! calls one of the domain's `decide_*` methods) and what to do after the write; the loop,
//! the compare-and-set, the records written alongside, the retries and the final
//! [`ServiceError::Contended`] live here once. The same module classifies the outcome of a
//! call to Klarna for the domain ([`attempt`]) and turns an unsuccessful one into the
//! caller's error ([`failure`]).

use std::future::Future;
use std::pin::Pin;

use klarna_domain::{
    AnyPayment, Attempt, CustomerToken, CustomerTokenId, Decision, LifecycleError, ManagedOrder,
    OrderId, PaymentId, Settled, StageKind, Timestamp,
};
use klarna_ports::{
    Alongside, Clock, ErrorAction, GatewayError, IdempotencyKeys, PaymentGateway, PaymentStore,
    StoreError, Versioned,
};
use tracing::{error, info, warn};

/// How often recording Klarna's success is tried again after a store failure.
pub(crate) const SETTLE_STORE_RETRIES: u32 = 3;

use crate::error::RecordId;
use crate::{PaymentService, ServiceError};

/// A store call's future (the store traits are `async_trait`s, so this is what they return).
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A kind of stored record the step can load and compare-and-set.
pub(crate) trait Record<S: PaymentStore + ?Sized> {
    /// What finds it.
    type Key: ?Sized + Sync;
    /// The stored value.
    type Value: Send + Sync;
    /// What is written in the same transaction.
    type With: Default + Send + Sync;
    /// Loads the record.
    fn load<'a>(
        store: &'a S,
        key: &'a Self::Key,
    ) -> StoreFuture<'a, Option<Versioned<Self::Value>>>;
    /// Compare-and-set.
    fn write<'a>(
        store: &'a S,
        version: u64,
        value: &'a Self::Value,
        with: &'a Self::With,
    ) -> StoreFuture<'a, u64>;
    /// The record, named for an error (never a secret).
    fn id(key: &Self::Key) -> RecordId;
}

/// A payment, by its id.
pub(crate) struct Payments;
/// The payment that holds a Klarna order, by the order id.
pub(crate) struct PaymentOfOrder;
/// A managed order, by its Klarna id.
pub(crate) struct Orders;
/// A customer token.
pub(crate) struct Tokens;

impl<S: PaymentStore + ?Sized> Record<S> for Payments {
    type Key = PaymentId;
    type Value = AnyPayment;
    type With = Alongside;
    fn load<'a>(
        store: &'a S,
        key: &'a PaymentId,
    ) -> StoreFuture<'a, Option<Versioned<AnyPayment>>> {
        store.load_payment(key)
    }
    fn write<'a>(
        store: &'a S,
        version: u64,
        value: &'a AnyPayment,
        with: &'a Alongside,
    ) -> StoreFuture<'a, u64> {
        store.update_payment(version, value, with)
    }
    fn id(key: &PaymentId) -> RecordId {
        RecordId::Payment(key.clone())
    }
}

impl<S: PaymentStore + ?Sized> Record<S> for PaymentOfOrder {
    type Key = OrderId;
    type Value = AnyPayment;
    type With = Alongside;
    fn load<'a>(store: &'a S, key: &'a OrderId) -> StoreFuture<'a, Option<Versioned<AnyPayment>>> {
        store.find_payment_by_order(key)
    }
    fn write<'a>(
        store: &'a S,
        version: u64,
        value: &'a AnyPayment,
        with: &'a Alongside,
    ) -> StoreFuture<'a, u64> {
        store.update_payment(version, value, with)
    }
    fn id(key: &OrderId) -> RecordId {
        RecordId::PaymentOfOrder(key.clone())
    }
}

impl<S: PaymentStore + ?Sized> Record<S> for Orders {
    type Key = OrderId;
    type Value = ManagedOrder;
    type With = ();
    fn load<'a>(
        store: &'a S,
        key: &'a OrderId,
    ) -> StoreFuture<'a, Option<Versioned<ManagedOrder>>> {
        store.load_order(key)
    }
    fn write<'a>(
        store: &'a S,
        version: u64,
        value: &'a ManagedOrder,
        (): &'a (),
    ) -> StoreFuture<'a, u64> {
        store.update_order(version, value)
    }
    fn id(key: &OrderId) -> RecordId {
        RecordId::Order(key.clone())
    }
}

impl<S: PaymentStore + ?Sized> Record<S> for Tokens {
    type Key = CustomerTokenId;
    type Value = CustomerToken;
    type With = ();
    fn load<'a>(
        store: &'a S,
        key: &'a CustomerTokenId,
    ) -> StoreFuture<'a, Option<Versioned<CustomerToken>>> {
        store.load_customer_token(key)
    }
    fn write<'a>(
        store: &'a S,
        version: u64,
        value: &'a CustomerToken,
        (): &'a (),
    ) -> StoreFuture<'a, u64> {
        store.update_customer_token(version, value)
    }
    fn id(_: &CustomerTokenId) -> RecordId {
        RecordId::CustomerToken
    }
}

/// What a decision asks the step to do.
pub(crate) enum Plan<V, W, T> {
    /// Write `value` (with `with`) by compare-and-set, then answer `output`.
    Write {
        /// The next value.
        value: V,
        /// Records written in the same transaction.
        with: W,
        /// The answer once written.
        output: T,
    },
    /// Write after Klarna's success: a unique-constraint refusal means a racing settle of the
    /// same answer recorded it first, so re-read and decide again instead of failing.
    WriteSettled {
        /// The next value.
        value: V,
        /// Records written in the same transaction.
        with: W,
        /// The answer once written.
        output: T,
    },
    /// Nothing to write: answer now.
    Answer(T),
}

impl<V, W: Default, T> Plan<V, W, T> {
    /// Write `value` alone and answer `output`.
    pub(crate) fn write(value: V, output: T) -> Self {
        Self::Write {
            value,
            with: W::default(),
            output,
        }
    }
}

/// A step that ended: the record's version after it, and the answer.
pub(crate) struct Stepped<T> {
    /// The version now stored (the loaded one when nothing was written).
    pub(crate) version: u64,
    /// The decision's answer.
    pub(crate) output: T,
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Loads a record or fails with [`ServiceError::NotFound`].
    pub(crate) async fn fetch<R: Record<S>>(
        &self,
        key: &R::Key,
    ) -> Result<Versioned<R::Value>, ServiceError> {
        R::load(&self.store, key)
            .await?
            .ok_or_else(|| ServiceError::NotFound(R::id(key)))
    }

    /// The step: load (or take the `known` value just written), decide, compare-and-set,
    /// and on a lost race re-read and decide again, at most `max_cas_retries` more times.
    pub(crate) async fn step<R, T>(
        &self,
        key: &R::Key,
        mut known: Option<Versioned<R::Value>>,
        mut decide: impl FnMut(R::Value, Timestamp) -> Result<Plan<R::Value, R::With, T>, ServiceError>,
    ) -> Result<Stepped<T>, ServiceError>
    where
        R: Record<S>,
    {
        for _ in 0..=self.config.max_cas_retries {
            let Versioned { version, value } = match known.take() {
                Some(v) => v,
                None => self.fetch::<R>(key).await?,
            };
            let (value, with, output, settled) = match decide(value, self.clock.now())? {
                Plan::Answer(output) => return Ok(Stepped { version, output }),
                Plan::Write {
                    value,
                    with,
                    output,
                } => (value, with, output, false),
                Plan::WriteSettled {
                    value,
                    with,
                    output,
                } => (value, with, output, true),
            };
            match R::write(&self.store, version, &value, &with).await {
                Ok(version) => return Ok(Stepped { version, output }),
                Err(StoreError::VersionConflict) => {}
                Err(StoreError::Duplicate(_)) if settled => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(R::id(key)))
    }
}

impl<G, S, C, K> PaymentService<G, S, C, K>
where
    G: PaymentGateway + ?Sized,
    S: PaymentStore + ?Sized,
    C: Clock + ?Sized,
    K: IdempotencyKeys + ?Sized,
{
    /// Applies the outcome of a call to the payment's pending operation (`known`: the value
    /// just written, else it is loaded), through the domain's `settle` decision. `recovering`
    /// marks reconciler replays: every earlier attempt is then in doubt, because a crash may
    /// have hidden it. `success` makes the domain's record of Klarna's answer; `evidence`
    /// names it for the log (never a secret) when the store cannot record it: a store failure
    /// after Klarna's success is tried again, then logged at error level and answered
    /// [`ServiceError::NotRecorded`], the operation still pending for the reconciler.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site per operation kind; a struct would only rename the arguments"
    )]
    pub(crate) async fn settle_payment<T, U: Clone>(
        &self,
        id: &PaymentId,
        mut known: Option<Versioned<AnyPayment>>,
        result: Result<T, GatewayError>,
        recovering: bool,
        success: impl Fn(&T, Timestamp) -> U,
        settle: impl Fn(AnyPayment, Attempt<U>, Timestamp) -> Decision<Settled>,
        what: &'static str,
        evidence: impl Fn(&T) -> String,
    ) -> Result<AnyPayment, ServiceError> {
        let mut failures = 0;
        let stepped = loop {
            let stepped = self
                .step::<Payments, _>(id, known.take(), |p, now| {
                    let in_doubt = recovering || p.pending_op().is_some_and(|op| op.in_doubt());
                    let attempt = attempt(&result, in_doubt, |t| success(t, now));
                    decided(
                        id,
                        settle(p, attempt.clone(), now),
                        |s| Ok(settled_plan(s, attempt)),
                        |p| (p, None),
                    )
                })
                .await;
            match stepped {
                Err(ServiceError::Store(e)) if result.is_ok() => {
                    failures += 1;
                    if failures > SETTLE_STORE_RETRIES {
                        // Klarna's ids are not secrets: the log keeps what the store lost.
                        error!(payment = %id, what, klarna = %result.as_ref().map(&evidence).unwrap_or_default(), error = %e,
                            "Klarna succeeded but the store failed; the operation stays pending for the reconciler");
                        return Err(ServiceError::NotRecorded {
                            record: RecordId::Payment(id.clone()),
                            source: e,
                        });
                    }
                    warn!(payment = %id, what, error = %e, "recording Klarna's success failed; trying again");
                }
                other => break other?,
            }
        };
        let (next, attempt) = stepped.output;
        let Some(attempt) = attempt else {
            // Someone else (the reconciler, a racing caller) resolved it first.
            return Ok(next);
        };
        info!(payment = %id, stage = %next.kind(), what, "attempt settled");
        if let Ok(t) = &result
            && next.kind() == StageKind::NeedsReview
        {
            // Klarna's ids are not secrets: the log keeps what a human needs.
            warn!(payment = %id, what, klarna = %evidence(t),
                "Klarna's success arrived after the operation was resolved otherwise; the payment needs review");
        }
        let reopened = next.kind() == StageKind::Open;
        let queued = next.pending_op().is_some();
        finished(result, next, &attempt, id, reopened, queued)
    }
}

/// The write of a settled answer: after Klarna's success a duplicate means a racing settle
/// of the same answer landed first (re-read), otherwise it is a plain compare-and-set.
fn settled_plan<U>(
    s: Settled,
    attempt: Attempt<U>,
) -> Plan<AnyPayment, Alongside, (AnyPayment, Option<Attempt<U>>)> {
    let with = Alongside {
        order: s.order,
        token: s.token,
    };
    let succeeded = attempt.succeeded();
    let output = (s.payment.clone(), Some(attempt));
    if succeeded {
        Plan::WriteSettled {
            value: s.payment,
            with,
            output,
        }
    } else {
        Plan::Write {
            value: s.payment,
            with,
            output,
        }
    }
}

/// The answer to the caller once an attempt's outcome is recorded: the value after Klarna's
/// success, else the error the attempt means.
/// `queued`: the operation is still pending after the attempt.
pub(crate) fn finished<T, V, U>(
    result: Result<T, GatewayError>,
    next: V,
    attempt: &Attempt<U>,
    id: &PaymentId,
    reopened: bool,
    queued: bool,
) -> Result<V, ServiceError> {
    match result {
        Ok(_) => Ok(next),
        Err(e) => Err(failure(id, e, attempt, reopened, queued)),
    }
}

/// Reads a domain decision about a payment for the step: `Done` answers the stored value,
/// `InProgress` and `Refused` become the caller's error, `Next` goes to `next`.
pub(crate) fn decided<T, O>(
    id: &PaymentId,
    decision: Decision<T>,
    next: impl FnOnce(T) -> Result<Plan<AnyPayment, Alongside, O>, ServiceError>,
    done: impl FnOnce(AnyPayment) -> O,
) -> Result<Plan<AnyPayment, Alongside, O>, ServiceError> {
    match decision {
        Decision::Next(t) => next(t),
        Decision::Done(p) => Ok(Plan::Answer(done(p))),
        Decision::InProgress => Err(ServiceError::InProgress(id.clone())),
        Decision::Refused(e) => Err(refused(id, e)),
    }
}

/// A gateway error of a call that changes nothing at Klarna on its own (a read, a session
/// update, a link), as the caller's: Klarna's refusal is an answer ([`ServiceError::Refused`]),
/// anything else an outage ([`ServiceError::Unavailable`]: nothing was written, trying again is
/// safe).
pub(crate) fn refused_or_unavailable(e: GatewayError) -> ServiceError {
    if e.action.is_refusal() {
        ServiceError::Refused(e)
    } else {
        ServiceError::Unavailable(e)
    }
}

/// A lifecycle refusal as the caller's error: a wrong stage names the payment.
pub(crate) fn refused(id: &PaymentId, e: LifecycleError) -> ServiceError {
    if let LifecycleError::WrongStage { operation, stage } = e {
        ServiceError::WrongStage {
            payment_id: id.clone(),
            stage,
            operation,
        }
    } else {
        ServiceError::Lifecycle(e)
    }
}

/// Classifies the outcome of a call for the domain. A refusal is definitive only when no
/// earlier attempt of the operation is in doubt (DESIGN.md §5, rule 3), and so is "not
/// reached" (the domain rolls the stage back on it): after an earlier attempt in doubt, any
/// failure is "unknown".
pub(crate) fn attempt<T, U>(
    result: &Result<T, GatewayError>,
    in_doubt: bool,
    success: impl FnOnce(&T) -> U,
) -> Attempt<U> {
    match result {
        Ok(t) => Attempt::Succeeded(success(t)),
        Err(e) if e.action.is_refusal() && !in_doubt => Attempt::Refused {
            reason: e.refusal_text().to_owned(),
            reauthorize: e.action == ErrorAction::Reauthorize,
        },
        Err(e) if !e.may_have_reached_klarna && !in_doubt => Attempt::NotReached,
        Err(_) => Attempt::Unknown,
    }
}

/// The caller's error for an attempt that did not succeed, once its outcome is recorded.
/// `reopened`: the payment is open again (the shopper must authorize again).
fn failure<U>(
    id: &PaymentId,
    e: GatewayError,
    attempt: &Attempt<U>,
    reopened: bool,
    queued: bool,
) -> ServiceError {
    match attempt {
        Attempt::Refused {
            reauthorize: true, ..
        } if reopened => ServiceError::Reauthorize {
            payment_id: id.clone(),
            source: e,
        },
        Attempt::Refused { .. } | Attempt::Succeeded(_) => ServiceError::Refused(e),
        Attempt::NotReached if queued => ServiceError::Queued {
            payment_id: id.clone(),
            source: e,
        },
        Attempt::NotReached => ServiceError::Unavailable(e),
        Attempt::Unknown => ServiceError::OutcomeUnknown {
            payment_id: id.clone(),
            source: e,
        },
    }
}
