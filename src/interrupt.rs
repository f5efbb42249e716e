//! Ctrl-C and SIGTERM during commands that create things: the signal is caught and turned into
//! a flag that the command checks between operations, so that it can undo what it created
//! instead of dying halfway.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Starts catching SIGINT and SIGTERM (once per process).
pub fn install() {
    INSTALLED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(|| {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = int.recv() => {}
                            _ = term.recv() => {}
                        }
                        INTERRUPTED.store(true, Ordering::SeqCst);
                    }
                });
            });
        // Without the thread the default handlers stay: an interruption then ends the process
        // at once, which is what happens without oneshot's handling anyway.
        drop(spawned);
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
