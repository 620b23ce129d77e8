//! Diagnostics: the one place that writes ralph-hook's own lines to stderr.

use std::io::Write;

/// Prints one line on stderr, prefixed with the program name. Line breaks are folded so
/// that a host showing the first line shows all of it; a closed stderr is ignored, since
/// a hook must never fail for want of somewhere to complain.
pub fn warn(message: impl std::fmt::Display) {
    let text = message.to_string().replace('\n', " ");
    let _ = writeln!(std::io::stderr().lock(), "ralph-hook: {text}");
}
