//! The one home of SIGINT, SIGTERM and SIGHUP in oneshot. A closed terminal or a cancelled job
//! is an interruption like Ctrl-C.
//!
//! Long-running commands call [`install`] first thing: a handler for the three signals (whichever
//! thread the kernel picks runs it; it only writes to a pipe) wakes one thread, which sets a flag
//! that commands check between operations ([`check`]) and wakes the [`subscribe`]rs: the agent's
//! supervision loop, which stops the agent, and the verify command's wait, which ends the
//! command's process group. No signal is blocked anywhere, so none can be missed, and the
//! programs oneshot starts get the default actions back at `exec` (a blocked mask, by contrast,
//! would be inherited and make them deaf to SIGTERM).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::sys::signal::Signal;

use crate::error::{Error, ErrorKind, Result};

/// Someone to tell when a signal arrives; called on the signal thread, so it must only pass the
/// news on (send on a channel), never block.
type Notify = Box<dyn Fn(Signal) + Send>;

struct Listeners {
    /// The signals received so far, in order (bounded: only the first few matter).
    received: Vec<Signal>,
    next_id: u64,
    subscribers: Vec<(u64, Notify)>,
}

static LISTENERS: Mutex<Listeners> = Mutex::new(Listeners {
    received: Vec::new(),
    next_id: 0,
    subscribers: Vec::new(),
});
static COUNT: AtomicU64 = AtomicU64::new(0);
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn listeners() -> MutexGuard<'static, Listeners> {
    // A subscriber that panicked leaves the data intact.
    LISTENERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts catching SIGINT, SIGTERM and SIGHUP for the rest of the process (once). The handlers
/// are in place when this returns. Returns whether the signals are caught; when they cannot be,
/// the default stays (the signal ends the process at once).
pub fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return false;
        };
        // Registered here, before returning, so that no signal can slip in between.
        let registered = runtime.block_on(async {
            (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            )
        });
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = registered else {
            return false;
        };
        std::thread::Builder::new()
            .name("oneshot-signals".into())
            .spawn(move || {
                runtime.block_on(async {
                    loop {
                        let signal = tokio::select! {
                            _ = int.recv() => Signal::SIGINT,
                            _ = term.recv() => Signal::SIGTERM,
                            _ = hup.recv() => Signal::SIGHUP,
                        };
                        deliver(signal);
                    }
                });
            })
            .is_ok()
    })
}

fn deliver(signal: Signal) {
    let mut l = listeners();
    COUNT.fetch_add(1, Ordering::SeqCst);
    if l.received.len() < 8 {
        l.received.push(signal);
    }
    for (_, notify) in &l.subscribers {
        notify(signal);
    }
}

/// Whether a signal arrived since [`install`].
pub fn interrupted() -> bool {
    COUNT.load(Ordering::SeqCst) > 0
}

/// An `Interrupted` error if a signal arrived since [`install`]: the check point of the
/// commands, between operations.
pub fn check() -> Result<()> {
    if interrupted() { Err(error()) } else { Ok(()) }
}

/// The error a command ends with once a signal stopped it (exit 130).
pub fn error() -> Error {
    let which = listeners()
        .received
        .first()
        .map_or_else(|| "a signal".to_string(), |s| s.as_str().to_string());
    Error::new(ErrorKind::Interrupted, format!("interrupted by {which}"))
}

/// While the returned guard lives, `notify` is called with every signal oneshot receives. A
/// signal that arrived before is passed on at once (once), so that nothing slips in between a
/// [`check`] and the subscription. `notify` runs on the signal thread: it must not block.
pub fn subscribe(notify: impl Fn(Signal) + Send + 'static) -> Subscription {
    let mut l = listeners();
    if let Some(first) = l.received.first() {
        notify(*first);
    }
    let id = l.next_id;
    l.next_id += 1;
    l.subscribers.push((id, Box::new(notify)));
    Subscription { id }
}

/// Ends a [`subscribe`] when dropped.
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        listeners().subscribers.retain(|(id, _)| *id != self.id);
    }
}

/// A command's result once it has returned: after a signal, a failure is the interruption's
/// (the failure was most likely its effect: a verify command or a git command that was ended),
/// so its kind becomes `Interrupted` and its facts are kept. A command that finished its work
/// stays a success: nothing was left undone.
pub fn settle(result: Result<()>) -> Result<()> {
    match result {
        Err(mut e) if interrupted() && e.kind != ErrorKind::Interrupted => {
            e.kind = ErrorKind::Interrupted;
            Err(e.cause(format!("oneshot was {}", error().message)))
        }
        other => other,
    }
}
