//! Output: ralph-hook's own lines — every warning on stderr, and the lines of [`say`] on
//! stdout, the hooks' one JSON answer among them (`hook::run`). Output made in pieces
//! has a writer of its own instead: the coloured views of `show`, `log` and `doctor`
//! (`style::stdout`, which strips colour where it is off), the installer's reports
//! (`install`, `install::trust`: they take a writer, so tests read them) and the files
//! `generate` prints (bytes as they are). None of those runs in a hook.
//!
//! Neither ever panics: a reader that went away (`ralph-hook log | head -1`) or a closed
//! descriptor is ignored, since no command should fail, and no hook exit 101, for want
//! of somewhere to write.

use std::io::Write;

/// Prints one line on stderr, prefixed with the program name. Line breaks are folded so
/// that a host showing the first line shows all of it.
pub(crate) fn warn(message: impl std::fmt::Display) {
    let text = message.to_string().replace('\n', " ");
    let _ = writeln!(std::io::stderr().lock(), "ralph-hook: {text}");
}

/// Prints `text` and a newline on stdout. Returns false once stdout is gone, so a long
/// listing can stop early.
pub(crate) fn say(text: impl std::fmt::Display) -> bool {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// Prints `text` as is (no prefix, no folding) and a newline on stderr: clap's messages.
pub(crate) fn say_err(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
