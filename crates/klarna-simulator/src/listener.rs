//! The simulator's own accept loop, and the gate that makes connection attempts fail with a real
//! `ECONNREFUSED` (the `refuse_connections` fault, [`crate::Simulator::refuse_connections`]).
//!
//! # How a refusal works
//!
//! A TCP connection that the kernel accepted is not refused, whatever the server does next, so
//! the simulator refuses *before* the kernel accepts: it stops listening. On Linux,
//! `shutdown(SHUT_RD)` on a listening socket ends the listen state (connection attempts are
//! answered with a reset, which a client sees as `ECONNREFUSED`; connections queued but not yet
//! accepted are reset too) while the socket stays open, so listening resumes on the *same
//! socket* with `listen()` again. A socket bound to an explicit port keeps that port reserved
//! while it is not listening (the simulator binds its own listeners so: see [`bind`]), so no
//! other process can take the port and resuming cannot fail for that reason. A listener bound
//! elsewhere to port 0 loses its port reservation when it stops listening; resuming then binds
//! the same port again, and if that fails (another socket took the port meanwhile) the gate
//! keeps refusing and retries every [`RETRY`] until it succeeds.
//!
//! While a refusal is armed the simulator also closes its idle keep-alive connections (busy
//! ones close after their answer), so a client with a connection pool must connect again and is
//! refused. A client that sends on a pooled connection at the very moment the refusal is armed
//! may still get through, or see a transport error.
//!
//! The refusal is a window of real time (or "until cleared"), not a number of attempts: a
//! socket that does not listen cannot count the attempts it refuses.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a failed resume is retried.
pub(crate) const RETRY: Duration = Duration::from_millis(50);

/// The listen backlog.
const BACKLOG: i32 = 1024;

/// How many fresh ports [`bind`] tries when a port picked for `:0` is taken meanwhile.
const BIND_TRIES: u32 = 32;

/// The generation of a new gate: no refusal has started.
const FIRST_GENERATION: u64 = 0;

/// Whether connections are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Accepting,
    Until(Instant),
    UntilCleared,
}

#[derive(Debug)]
struct GateState {
    refusal: Refusal,
    /// Bumped each time a refusal starts: connections close when idle.
    generation: u64,
}

/// Controls whether the listening socket listens. Shared by the accept loop, the request
/// handlers (the fault) and the in-process [`crate::Simulator`].
#[derive(Debug)]
pub(crate) struct Gate {
    /// The listening socket (a duplicate of the accept loop's descriptor: same socket); taken
    /// (closed) when serving ends, so a stopped simulator refuses connections as before.
    socket: Mutex<Option<Socket>>,
    addr: SocketAddr,
    state: Mutex<GateState>,
    /// The generation, for the accept loop and the connections to watch.
    changed: watch::Sender<u64>,
}

impl Gate {
    /// A gate over `listener`'s socket. If the socket cannot be duplicated, refusals are logged
    /// and ignored.
    pub(crate) fn new(listener: &TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let socket = match socket2::SockRef::from(listener).try_clone() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "simulator cannot refuse connections on this listener");
                None
            }
        };
        Ok(Self {
            socket: Mutex::new(socket),
            addr,
            state: Mutex::new(GateState {
                refusal: Refusal::Accepting,
                generation: FIRST_GENERATION,
            }),
            changed: watch::channel(FIRST_GENERATION).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses connections for `window` of real time from now (extending a refusal already
    /// armed; a window too large for the clock means until [`Gate::accept`]).
    pub(crate) fn refuse_for(&self, window: Duration) {
        let until = Instant::now()
            .checked_add(window)
            .map_or(Refusal::UntilCleared, Refusal::Until);
        self.refuse(until);
    }

    fn refuse(&self, until: Refusal) {
        let held = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(socket) = held.as_ref() else {
            tracing::warn!("simulator cannot refuse connections (not serving): ignored");
            return;
        };
        let mut st = self.lock();
        let was = st.refusal;
        st.refusal = match (was, until) {
            (Refusal::UntilCleared, _) | (_, Refusal::UntilCleared) => Refusal::UntilCleared,
            (Refusal::Until(a), Refusal::Until(b)) => Refusal::Until(a.max(b)),
            (Refusal::Accepting, u) => u,
            (_, Refusal::Accepting) => was,
        };
        if was == Refusal::Accepting {
            if let Err(e) = socket.shutdown(std::net::Shutdown::Read) {
                tracing::warn!(error = %e, "simulator cannot stop listening: connections are not refused");
            }
            st.generation += 1;
        }
        let generation = st.generation;
        drop(st);
        drop(held);
        self.changed.send_replace(generation);
    }

    /// Closes this gate's handle on the socket (serving has ended).
    fn close(&self) {
        self.socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Accepts connections again now (ends any refusal). If listening cannot resume, the gate
    /// keeps refusing and the accept loop retries.
    pub(crate) fn accept(&self) {
        self.resume(false);
    }

    /// Ends a timed refusal whose window has passed (checked under the lock, so a refusal
    /// extended meanwhile is kept).
    fn accept_if_due(&self) {
        self.resume(true);
    }

    fn resume(&self, only_if_due: bool) {
        // Lock order, here as in `refuse`: the socket, then the state.
        let socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        let mut st = self.lock();
        let due = match st.refusal {
            Refusal::Accepting => return,
            Refusal::Until(t) => t <= Instant::now(),
            Refusal::UntilCleared => false,
        };
        if only_if_due && !due {
            return;
        }
        st.refusal = match listen_again(socket.as_ref(), self.addr) {
            Ok(()) => Refusal::Accepting,
            Err(e) => {
                tracing::warn!(error = %e, addr = %self.addr, "simulator cannot listen again yet; retrying");
                Refusal::Until(Instant::now() + RETRY)
            }
        };
        let generation = st.generation;
        drop(st);
        drop(socket);
        self.changed.send_replace(generation);
    }

    /// Whether connections are being refused now.
    pub(crate) fn refusing(&self) -> bool {
        self.lock().refusal != Refusal::Accepting
    }

    /// The refusal now and how many refusals have started (each one stopped listening,
    /// whether or not the accept loop saw it), read together.
    fn refusal_and_generation(&self) -> (Refusal, u64) {
        let st = self.lock();
        (st.refusal, st.generation)
    }
}

/// Listens again on the same socket: binds the port again first when the socket lost it
/// (`EINVAL` means it is still bound, as for the simulator's own listeners).
fn listen_again(socket: Option<&Socket>, addr: SocketAddr) -> std::io::Result<()> {
    let Some(socket) = socket else {
        return Ok(());
    };
    if let Err(e) = socket.bind(&SockAddr::from(addr))
        && e.kind() != std::io::ErrorKind::InvalidInput
    {
        return Err(e);
    }
    socket.listen(BACKLOG)
}

/// Binds `addr` so that its port stays reserved while a refusal stops listening: an explicit
/// port is bound as given; for port 0 a free port is picked first and then bound explicitly
/// (trying another if that port was taken in between).
///
/// # Errors
///
/// Socket errors, or `AddrInUse` after [`BIND_TRIES`] taken ports.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if addr.port() != 0 {
        return bind_exact(addr);
    }
    let mut last = None;
    for _ in 0..BIND_TRIES {
        let probe = std::net::TcpListener::bind(addr)?;
        let picked = probe.local_addr()?;
        drop(probe);
        match bind_exact(picked) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrInUse)))
}

fn bind_exact(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(std::net::TcpListener::from(socket))
}

/// Serves `router` on `listener` until `shutdown` completes, honouring `gate`: no accepting
/// while it refuses, idle connections closed when a refusal starts. On shutdown it stops
/// accepting, lets every connection finish its request and waits for them.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    gate: Arc<Gate>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    // Every connection holds a clone of `alive_rx`; the loop waits for all to be dropped.
    let (alive_tx, alive_rx) = watch::channel(());
    let mut generation = gate.changed.subscribe();
    let mut stop = stop_rx.clone();
    // The refusal generation the listener was registered with the reactor under: the gate's
    // first, [`FIRST_GENERATION`] (the listener was registered when it was bound, before any
    // refusal), not the generation this loop first reads (a refusal armed before the loop's
    // first poll may already have been seen by the reactor). A refusal that started and ended
    // before this loop looked (armed and cleared in one breath, or a window this loop's worker
    // was too busy to see) still stopped listening, so the registration is stale although the
    // loop never saw the refusal: comparing generations catches it, where a flag set only on
    // an observed refusal did not (the stale registration reported the socket readable for
    // ever and the loop spun in `accept4`, starving a core: the chaos suite's slow and "hung"
    // shards).
    let mut registered = FIRST_GENERATION;
    let mut listener = listener;
    loop {
        if *stop.borrow() {
            break;
        }
        // Read together: a refusal that starts after this read bumps the generation again, so
        // the registration below is renewed once that refusal ends.
        let (refusal, current) = gate.refusal_and_generation();
        if refusal != Refusal::Accepting {
            let due = async {
                match refusal {
                    Refusal::Until(t) => tokio::time::sleep_until(t).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                () = due => gate.accept_if_due(),
                _ = generation.changed() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // A refusal started since the registration, seen by this loop or not: renew it.
        if registered != current {
            // The reactor saw the socket hang up when it stopped listening and would report it
            // readable for ever: register it afresh.
            match listener.into_std().and_then(TcpListener::from_std) {
                Ok(l) => listener = l,
                Err(e) => {
                    tracing::error!(error = %e, "simulator lost its listener");
                    gate.close();
                    drop(alive_rx);
                    alive_tx.closed().await;
                    return;
                }
            }
            registered = current;
        }
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = generation.changed() => continue,
            _ = stop.changed() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if !gate.refusing() {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(RETRY).await;
                }
                continue;
            }
        };
        let svc = TowerToHyperService::new(router.clone());
        let mut close = gate.changed.subscribe();
        let start = *close.borrow_and_update();
        let mut stop = stop_rx.clone();
        let alive = alive_rx.clone();
        tokio::spawn(async move {
            let builder = Builder::new(TokioExecutor::new());
            let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), svc));
            let mut closing = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::trace!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    changed = close.changed(), if !closing => {
                        // A new refusal (not the end of one): close once idle.
                        if changed.is_err() || *close.borrow_and_update() != start {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    changed = stop.changed(), if !closing => {
                        let _ = changed;
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(alive);
        });
    }
    drop(listener);
    gate.close();
    drop(alive_rx);
    alive_tx.closed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_extend_never_shorten_and_only_a_due_window_ends_by_itself() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Gate::new(&listener).unwrap();
        assert_eq!(gate.refusal_and_generation().0, Refusal::Accepting);
        gate.refuse_for(Duration::from_secs(30));
        gate.refuse_for(Duration::from_millis(1));
        let Refusal::Until(t) = gate.refusal_and_generation().0 else {
            panic!("{:?}", gate.refusal_and_generation().0);
        };
        assert!(t > Instant::now() + Duration::from_secs(20), "shortened");
        gate.accept_if_due();
        assert!(gate.refusing(), "not due yet");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        gate.refuse_for(Duration::MAX);
        assert_eq!(gate.refusal_and_generation().0, Refusal::UntilCleared);
        gate.accept_if_due();
        assert!(gate.refusing(), "until cleared is never due");
        gate.accept();
        assert!(!gate.refusing());
        // The same port, listening again: the kernel accepts the connection.
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        assert_eq!(listener.local_addr().unwrap(), addr);
        // Once serving has ended, the gate no longer touches the socket.
        gate.close();
        gate.refuse_for(Duration::MAX);
        assert!(!gate.refusing());
    }

    /// What the accept loop's renewal rests on: a new gate is at [`FIRST_GENERATION`] (the
    /// listener's registration), and every refusal moves the generation, even one armed and
    /// cleared in one breath that the loop never saw.
    #[tokio::test]
    async fn every_refusal_moves_the_generation_even_one_cleared_unseen() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let gate = Gate::new(&listener).unwrap();
        let (_, first) = gate.refusal_and_generation();
        assert_eq!(first, FIRST_GENERATION, "no refusal yet");
        gate.refuse_for(Duration::MAX);
        gate.accept();
        let (refusal, current) = gate.refusal_and_generation();
        assert_eq!(refusal, Refusal::Accepting);
        assert_ne!(current, FIRST_GENERATION, "armed and cleared unseen");
        gate.refuse_for(Duration::from_millis(1));
        gate.accept();
        assert_ne!(gate.refusal_and_generation().1, current);
    }

    #[tokio::test]
    async fn an_explicit_port_is_bound_as_given() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = first.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        // Taken: binding it again fails instead of picking another port.
        assert!(bind(addr).is_err());
        drop(first);
        assert_eq!(bind(addr).unwrap().local_addr().unwrap(), addr);
    }
}
