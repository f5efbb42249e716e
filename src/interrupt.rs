//! Ctrl-C, SIGTERM and SIGHUP during commands that create things: the signal is caught and turned into
//! a flag that the command checks between operations, so that it can undo what it created
//! instead of dying halfway.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Starts catching SIGINT, SIGTERM and SIGHUP (once per process): a closed terminal or a
/// cancelled job is an interruption like Ctrl-C. The handlers are in place when this
/// returns; a thread then waits for the signals.
pub fn install() {
    INSTALLED.get_or_init(|| {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
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
            // Without handlers the default stays: the signal ends the process at once, which
            // is what happens without oneshot's handling anyway.
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async {
                    loop {
                        tokio::select! {
                            _ = int.recv() => {}
                            _ = term.recv() => {}
                            _ = hup.recv() => {}
                        }
                        INTERRUPTED.store(true, Ordering::SeqCst);
                    }
                });
            });
    });
}

/// An `Interrupted` error if a signal arrived since start.
pub fn check() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(Error::new(ErrorKind::Interrupted, "interrupted"))
    } else {
        Ok(())
    }
}
