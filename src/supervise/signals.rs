//! The signals the supervisor answers: SIGINT (Ctrl-C) and SIGTERM end the loop cleanly
//! (cancelled, the client's group ended); SIGHUP does the same in the foreground and is
//! ignored once detached, so closing the terminal never ends a detached run. The handler
//! only records the signal; the supervisor's loop acts on it.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The last signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(signal: i32) {
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Installs the handlers; `detached` ignores SIGHUP instead.
pub(crate) fn install(detached: bool) {
    let handler = SigAction::new(
        SigHandler::Handler(record),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for (signal, action) in [
        (Signal::SIGINT, &handler),
        (Signal::SIGTERM, &handler),
        (Signal::SIGHUP, if detached { &ignore } else { &handler }),
    ] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(signal, action) };
    }
}

/// The signal received since the last call, if any.
pub(crate) fn take() -> Option<Signal> {
    match RECEIVED.swap(0, Ordering::SeqCst) {
        0 => None,
        raw => Signal::try_from(raw).ok(),
    }
}
