//! `top`'s terminal: raw mode and the alternate screen while it runs, and the user's
//! terminal given back however it ends — a return, an error, a panic (a panic hook) or
//! SIGTERM/SIGHUP (a flag the loop reads, so the restore runs on the main thread and
//! not in a signal handler).

use std::io::{Stdout, stdout};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::error::{Error, Result};

/// The terminal is ours (raw, alternate screen): a panic must give it back.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The SIGTERM or SIGHUP that arrived (0: none): `top` should end, with the shell's
/// exit code for a process a signal ended (128 + its number).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// The terminal while `top` runs; dropping it restores the user's terminal.
pub(crate) struct Session {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Session {
    /// Takes the terminal: raw mode, the alternate screen, hooks for panics and signals.
    pub(crate) fn enter() -> Result<Self> {
        install_panic_hook();
        install_signal_handlers();
        enable_raw_mode()
            .map_err(|err| Error::io("put the terminal in raw mode", "stdout", err))?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(err) = execute!(stdout(), EnterAlternateScreen) {
            restore();
            return Err(Error::io("switch to the alternate screen", "stdout", err));
        }
        match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(terminal) => Ok(Session { terminal }),
            Err(err) => {
                restore();
                Err(Error::io("set up the terminal", "stdout", err))
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// The exit code `top` ends with once SIGTERM or SIGHUP arrived (143, 129); `None`
/// before.
pub(crate) fn signalled() -> Option<i32> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(128 + signal),
    }
}

/// Gives the user's terminal back (once: later calls do nothing).
/// Ends `top` from a watcher thread when the main loop cannot: the terminal closed (the
/// process that started `top` is gone, and a hung-up tty can keep the key reader busy), or
/// a SIGTERM/SIGHUP the loop has not acted on within a second.
pub(crate) fn watch_for_the_end() {
    let parent = nix::unistd::getppid();
    std::thread::spawn(move || {
        let mut signalled_since: Option<std::time::Instant> = None;
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let code = signalled();
            if code.is_some() {
                let since = *signalled_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < std::time::Duration::from_secs(1) {
                    continue;
                }
            } else if nix::unistd::getppid() == parent {
                continue;
            }
            restore();
            std::process::exit(code.unwrap_or(0));
        }
    });
}

fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

#[cfg(unix)]
fn install_signal_handlers() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    extern "C" fn on_signal(signal: libc::c_int) {
        SIGNALLED.store(signal, Ordering::SeqCst);
    }
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
}

#[cfg(not(unix))]
fn install_signal_handlers() {}
