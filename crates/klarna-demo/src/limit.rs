//! The bound on open checkouts per client: every started checkout is a Klarna session and a
//! row, so one client (by peer address) may hold at most a configured number open at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use klarna_payments::PaymentId;

/// Each client's started checkouts, and those being started right now.
#[derive(Debug)]
pub(crate) struct OpenCheckouts {
    max: usize,
    clients: Mutex<HashMap<IpAddr, Slots>>,
}

#[derive(Debug, Default)]
struct Slots {
    started: Vec<PaymentId>,
    starting: usize,
}

/// A slot held while a checkout starts; dropped without [`Slot::started`], it is given back.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    bound: &'a OpenCheckouts,
    client: IpAddr,
}

impl OpenCheckouts {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Slots>) -> T) -> T {
        f(&mut self.clients.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The client's checkouts counted as open (the caller re-checks them against the store).
    pub(crate) fn started(&self, client: IpAddr) -> Vec<PaymentId> {
        self.with(|c| {
            c.get(&client)
                .map(|s| s.started.clone())
                .unwrap_or_default()
        })
    }

    /// Stops counting checkouts that were completed or cancelled.
    pub(crate) fn closed(&self, client: IpAddr, closed: &[PaymentId]) {
        self.with(|c| {
            if let Some(s) = c.get_mut(&client) {
                s.started.retain(|p| !closed.contains(p));
                if s.started.is_empty() && s.starting == 0 {
                    c.remove(&client);
                }
            }
        });
    }

    /// A slot for one more checkout, or `None` when the client is at the bound.
    pub(crate) fn reserve(&self, client: IpAddr) -> Option<Slot<'_>> {
        self.with(|c| {
            let s = c.entry(client).or_default();
            if s.started.len().saturating_add(s.starting) >= self.max {
                return None;
            }
            s.starting = s.starting.saturating_add(1);
            Some(Slot {
                bound: self,
                client,
            })
        })
    }
}

impl Slot<'_> {
    /// The checkout started: it counts until it is closed.
    pub(crate) fn started(self, payment: PaymentId) {
        self.bound.with(|c| {
            c.entry(self.client).or_default().started.push(payment);
        });
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.bound.with(|c| {
            if let Some(s) = c.get_mut(&self.client) {
                s.starting = s.starting.saturating_sub(1);
                if s.started.is_empty() && s.starting == 0 {
                    c.remove(&self.client);
                }
            }
        });
    }
}
