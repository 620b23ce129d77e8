//! `ralph-hook wait`: blocks until a workspace's loop ends and exits with a code per
//! outcome, for scripts. `codex exec` shows none of what the hooks say (no
//! `systemMessage`, no refusal, no reason a loop ended) and exits 0 whatever happened;
//! `wait` reads the loop's state and history instead, which every outcome ends in.

use std::io::IsTerminal;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::WaitArgs;
use crate::clock;
use crate::engine::history::{Action, HistoryEntry, Reason};
use crate::engine::lifecycle;
use crate::engine::state::LoopState;
use crate::engine::store::{LoadError, Store};
use crate::error::{Error, Result};
use crate::messages::say;

/// How often the user's record is looked at while a loop runs.
const POLL: Duration = Duration::from_millis(200);
/// How long to look for the outcome line once the record is gone: a loop's end removes
/// the record first and appends the history line right after.
const OUTCOME_GRACE: Duration = Duration::from_secs(2);

/// The exit codes of `wait`, one per way a loop ends. Documented in the README; scripts
/// depend on them, so they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCode {
    /// The completion signal arrived (and `--verify` passed): 0.
    Done = 0,
    /// The iteration cap was reached: 3.
    IterationCap = 3,
    /// The time budget (`--max-duration`) ran out: 4.
    TimeLimit = 4,
    /// The no-progress brake ended it: 5.
    NoProgress = 5,
    /// Cancelled, or replaced by a new loop: 6.
    Cancelled = 6,
    /// The loop ended on an error (a bad state file …): 7.
    LoopError = 7,
    /// `--timeout` passed while the loop still runs: 8.
    TimedOut = 8,
    /// No loop runs in the workspace and none has ended there: 9.
    NoLoop = 9,
    /// The token budget (`--max-tokens`) ran out: 10.
    TokenLimit = 10,
    /// The loop is paused because the agent is blocked on the user: 11. It goes on once
    /// they answer in the session (or `ralph-hook resume`).
    Blocked = 11,
    /// The loop's session ended (the host's SessionEnd) with the loop still active: 12.
    /// It goes on if that session is resumed; a new loop in the workspace replaces it.
    SessionEnded = 12,
}

impl WaitCode {
    /// The exit code for a finish reason of the history (`Outcome::code`, or
    /// `replaced`); an unknown reason counts as an error.
    pub fn for_reason(reason: &str) -> WaitCode {
        match reason {
            "completed" | "verified" => WaitCode::Done,
            "max_iterations" => WaitCode::IterationCap,
            "max_duration" => WaitCode::TimeLimit,
            "max_tokens" => WaitCode::TokenLimit,
            "no_progress_message" | "no_progress_workspace" => WaitCode::NoProgress,
            "cancelled" | "replaced" => WaitCode::Cancelled,
            _ => WaitCode::LoopError,
        }
    }
}

/// `ralph-hook wait`.
pub fn wait(args: WaitArgs) -> Result<i32> {
    let timeout = args.timeout.as_deref().map(parse_timeout).transpose()?;
    let started = Instant::now();
    let found = super::target(&args.target)?;
    let store = found.store;
    let workspace = store.workspace().to_path_buf();
    let running = found.record.map(|record| record.state);
    let Some(state) = running else {
        return Ok(report_last(&store, &workspace));
    };
    if std::io::stderr().is_terminal() {
        crate::messages::warn(format!(
            "waiting for the loop in {} (iteration {}) to end…",
            workspace.display(),
            crate::engine::render::iteration_label(&state)
        ));
    }
    loop {
        match still_running(&store, &state)? {
            Running::Yes => {}
            Running::No => break,
            Running::Blocked(current) => {
                say(format!(
                    "ralph-loop in {} is paused at iteration {}: the agent is blocked on you: {} [blocked]",
                    workspace.display(),
                    crate::engine::render::iteration_label(&current),
                    crate::engine::render::printable(current.blocked.as_deref().unwrap_or(""))
                ));
                return Ok(WaitCode::Blocked as i32);
            }
            Running::Orphaned(current) => {
                say(format!(
                    "ralph-loop in {} is orphaned at iteration {}: {} [session_ended]",
                    workspace.display(),
                    crate::engine::render::iteration_label(&current),
                    crate::engine::render::printable(current.orphaned.as_deref().unwrap_or(""))
                ));
                return Ok(WaitCode::SessionEnded as i32);
            }
        }
        if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            let now = lifecycle::find(&workspace, Some(store.agent()))
                .ok()
                .and_then(|found| found.record)
                .map(|record| record.state)
                .unwrap_or(state);
            say(format!(
                "ralph-loop in {} still runs after {} (iteration {}) [timeout]",
                workspace.display(),
                clock::human(started.elapsed()),
                crate::engine::render::iteration_label(&now)
            ));
            return Ok(WaitCode::TimedOut as i32);
        }
        thread::sleep(POLL);
    }
    let deadline = Instant::now() + OUTCOME_GRACE;
    loop {
        if let Some(entry) = finish_of(&store, state.loop_id.as_deref())? {
            return Ok(report(&workspace, &entry));
        }
        if Instant::now() >= deadline {
            say(format!(
                "ralph-loop in {} ended without a recorded outcome (its record is gone and {} says nothing) [error]",
                workspace.display(),
                store.history_path().display()
            ));
            return Ok(WaitCode::LoopError as i32);
        }
        thread::sleep(POLL);
    }
}

/// Whether a loop still runs.
enum Running {
    /// It does.
    Yes,
    /// It ended (or another loop replaced it).
    No,
    /// It waits for the user, who must answer the agent: nothing happens until they do.
    Blocked(Box<LoopState>),
    /// Its session ended: nothing happens unless that session is resumed.
    Orphaned(Box<LoopState>),
}

/// Whether `state`'s loop is still the workspace's running loop. A record that does not
/// parse is still a loop until the next stop sets it aside and records the error.
fn still_running(store: &Store, state: &LoopState) -> Result<Running> {
    match store.load() {
        Ok(Some(current)) if current.state.loop_id != state.loop_id => Ok(Running::No),
        Ok(Some(current)) if current.state.paused && current.state.blocked.is_some() => {
            Ok(Running::Blocked(Box::new(current.state)))
        }
        Ok(Some(current)) if current.state.orphaned.is_some() => {
            Ok(Running::Orphaned(Box::new(current.state)))
        }
        Ok(Some(_)) | Err(LoadError::Unusable(_)) => Ok(Running::Yes),
        Ok(None) => Ok(Running::No),
        Err(LoadError::Io(err)) => Err(err),
    }
}

/// The history line that ended loop `loop_id`: its own finish line, or the error line a
/// stop writes (naming no loop) when the state file went bad after the loop's last line.
fn finish_of(store: &Store, loop_id: Option<&str>) -> Result<Option<HistoryEntry>> {
    for entry in store.history()?.into_iter().rev() {
        let finish = entry.decision == Action::Finish;
        if entry.loop_id.as_deref() == loop_id {
            return Ok(finish.then_some(entry));
        }
        if entry.loop_id.is_none() && finish {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// No loop runs: says how the last one ended (its exit code), or that there was none.
fn report_last(store: &Store, workspace: &Path) -> i32 {
    let last = store.history().ok().and_then(|entries| {
        entries
            .into_iter()
            .rev()
            .find(|e| e.decision == Action::Finish)
    });
    match last {
        Some(entry) => report(workspace, &entry),
        None => {
            say(format!(
                "No ralph loop runs in {} and none has ended there [no_loop]",
                workspace.display()
            ));
            WaitCode::NoLoop as i32
        }
    }
}

/// Prints the outcome line and returns its exit code.
fn report(workspace: &Path, entry: &HistoryEntry) -> i32 {
    let reason = entry.reason.map_or("error", Reason::as_str);
    let code = WaitCode::for_reason(reason);
    let words = match code {
        WaitCode::Done if reason == "verified" => {
            "the completion signal arrived and the verify command passed"
        }
        WaitCode::Done => "the agent wrote the completion signal",
        WaitCode::IterationCap => "the iteration cap was reached",
        WaitCode::TimeLimit => "the time budget ran out",
        WaitCode::TokenLimit => "the token budget ran out",
        WaitCode::NoProgress => "no progress over the last stops",
        WaitCode::Cancelled if reason == "replaced" => "a new loop replaced it",
        WaitCode::Cancelled => "it was cancelled",
        WaitCode::LoopError
        | WaitCode::TimedOut
        | WaitCode::NoLoop
        | WaitCode::Blocked
        | WaitCode::SessionEnded => "of an error",
    };
    let when = clock::parse(&entry.at)
        .and_then(|at| clock::now().duration_since(at).ok())
        .map(|ago| format!("{} ago", clock::human(ago)))
        .unwrap_or_else(|| entry.at.clone());
    let mut line = format!(
        "ralph-loop in {} ended {when} after {} iteration{} [{reason}]: {words}",
        workspace.display(),
        entry.iteration,
        if entry.iteration == 1 { "" } else { "s" },
    );
    if let Some(detail) = &entry.detail {
        line.push_str(&format!(" ({})", crate::engine::render::printable(detail)));
    }
    say(format!("{line}."));
    code as i32
}

fn parse_timeout(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|err| {
        Error::usage(format!(
            "--timeout {text:?} is not a duration ({err}): write it like `90s`, `30m` or `2h`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finish_reason_has_its_own_exit_code() {
        for (reason, code) in [
            ("completed", 0),
            ("verified", 0),
            ("max_iterations", 3),
            ("max_duration", 4),
            ("max_tokens", 10),
            ("no_progress_message", 5),
            ("no_progress_workspace", 5),
            ("cancelled", 6),
            ("replaced", 6),
            ("error", 7),
            ("something new", 7),
        ] {
            assert_eq!(WaitCode::for_reason(reason) as i32, code, "{reason}");
        }
    }
}
