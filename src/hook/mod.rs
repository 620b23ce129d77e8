//! The two hook commands. Both read one JSON payload on stdin and print at most one JSON
//! object on stdout, and both fail open: whatever goes wrong, they exit 0, allow, and
//! say why in one line on stderr — never exit 2, which both hosts would read as "block
//! and continue with this text".

pub(crate) mod event;
pub mod loop_command;
pub(crate) mod prompt;
pub(crate) mod session_end;
pub(crate) mod stop;
pub(crate) mod stop_failure;
pub mod wire;

use std::panic::{self, AssertUnwindSafe};

use crate::agent::Agent;
use crate::messages;

/// Which hook is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    /// The Stop hook.
    Stop,
    /// The UserPromptSubmit hook.
    Prompt,
    /// The SessionEnd hook.
    SessionEnd,
    /// Claude Code's StopFailure hook.
    StopFailure,
}

/// Runs a hook with stdin as its payload, prints its answer, and returns exit code 0 —
/// also when it panics.
pub(crate) fn run(hook: Hook, agent: Option<Agent>) -> i32 {
    panic::set_hook(Box::new(|info| {
        messages::warn(format!("internal error, allowing the stop: {info}"));
    }));
    let stdin = std::io::stdin().lock();
    let answer = panic::catch_unwind(AssertUnwindSafe(|| match hook {
        Hook::Stop => stop::answer(stdin, agent).render(),
        Hook::Prompt => prompt::answer(stdin, agent).render(),
        Hook::SessionEnd => {
            session_end::answer(stdin, agent);
            String::new()
        }
        Hook::StopFailure => {
            stop_failure::answer(stdin, agent);
            String::new()
        }
    }));
    if let Ok(text) = answer
        && !text.is_empty()
    {
        messages::say(text);
    }
    0
}
