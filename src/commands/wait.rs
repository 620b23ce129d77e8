//! `ralph-hook wait`: blocks until a workspace's loop ends and exits with a code per
//! outcome, for scripts. `codex exec` shows none of what the hooks say (no
//! `systemMessage`, no refusal, no reason a loop ended) and exits 0 whatever happened;
//! `wait` reads the loop's state and history instead, which every outcome ends in.

use std::io::IsTerminal;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::agent::Agent;
use crate::cli::{WaitArgs, WorkspaceArgs};
use crate::clock;
use crate::engine::history::{Action, Event, HistoryEntry, Reason};
use crate::engine::lookup;
use crate::engine::outcome::Outcome;
use crate::engine::ownership::Registry;
use crate::engine::render;
use crate::engine::state::LoopState;
use crate::engine::store::{LoadError, Store};
use crate::engine::supervision::{self, Phase, Supervision, Timings};
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::messages::{self, say};

mod many;

use many::{Many, many};

/// How often the user's record is looked at while a loop runs.
const POLL: Duration = Duration::from_millis(200);
/// How long to look for the outcome line once the record is gone: a loop's end removes
/// the record first and appends the history line right after.
const OUTCOME_GRACE: Duration = Duration::from_secs(2);

/// The exit codes of `wait`, one per way a loop ends. Documented in the README; scripts
/// depend on them, so they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitCode {
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
    /// The loop is paused (`ralph-hook pause`): its stops are allowed, so a headless
    /// client exits; nothing continues until `resume` and a prompt in its session: 12.
    Paused = 12,
    /// The newest `$ralph-loop` prompt was refused (a typo, a live loop in the way), so
    /// no loop started: 13.
    Refused = 13,
    /// The client of a `ralph-hook run` died more often than `--max-restarts` allowed: 14.
    RestartsExhausted = 14,
    /// The loop's supervisor (`ralph-hook run`) died: 15. `ralph-hook run --resume` picks
    /// the loop up again.
    Crashed = 15,
    /// The loop runs in no supervised client and its session has shown no sign of life
    /// for the idle threshold (`RALPH_HOOK_IDLE_AFTER`, 10 min): 16. Its session closed or
    /// crashed; nothing will continue it until someone does.
    Idle = 16,
    /// The loop's session ended (the host's SessionEnd) with the loop still active: 17.
    /// It goes on if that session is resumed; a new loop in the workspace replaces it.
    SessionEnded = 17,
    /// An item of the task list used up `--max-iterations-per-task`: 18.
    StuckTask = 18,
    /// The money budget (`--max-cost`) ran out, or a response's model had no price: 19.
    CostLimit = 19,
}

impl WaitCode {
    /// The exit code for a loop that ended with `outcome`, and how `wait` says it. Every
    /// outcome is named here, so a new one does not compile until it has its code.
    pub(crate) fn for_outcome(outcome: Outcome) -> (WaitCode, &'static str) {
        match outcome {
            Outcome::Completed => (WaitCode::Done, "the agent wrote the completion signal"),
            Outcome::Verified => (
                WaitCode::Done,
                "the completion signal arrived and the verify command passed",
            ),
            Outcome::IterationCap => (WaitCode::IterationCap, "the iteration cap was reached"),
            Outcome::TimeLimit => (WaitCode::TimeLimit, "the time budget ran out"),
            Outcome::TokenLimit => (WaitCode::TokenLimit, "the token budget ran out"),
            Outcome::CostLimit => (WaitCode::CostLimit, "the money budget ran out"),
            Outcome::RepeatedMessage | Outcome::UnchangedWorkspace => {
                (WaitCode::NoProgress, "no progress")
            }
            Outcome::Cancelled => (
                WaitCode::Cancelled,
                "it was cancelled: the loop ended; the agent may still finish its turn",
            ),
            Outcome::Replaced => (WaitCode::Cancelled, "a new loop replaced it"),
            Outcome::Error => (WaitCode::LoopError, "of an error"),
            Outcome::RestartsExhausted => (
                WaitCode::RestartsExhausted,
                "the agent's client died again after every restart allowed",
            ),
            Outcome::StuckTask => (
                WaitCode::StuckTask,
                "an item of the task list used up --max-iterations-per-task",
            ),
        }
    }
}

/// `ralph-hook wait`.
pub(crate) fn wait(args: WaitArgs) -> Result<i32> {
    let timeout = args.timeout.as_deref().map(parse_timeout).transpose()?;
    let asked = Asked {
        loop_id: args.loop_id.clone(),
        since: args.since.as_deref().map(parse_since).transpose()?,
    };
    let started = Instant::now();
    if let Some(mode) = Many::of(&args)? {
        return many(mode, &args, asked, timeout, started);
    }
    let ended = wait_one(&args.target, &asked, timeout, started)?;
    say(&ended.line);
    Ok(ended.code as i32)
}

/// How one wait ended: the line `wait` prints and its exit code.
#[derive(Debug)]
pub(crate) struct Ended {
    /// Why `wait` returned.
    pub(crate) code: WaitCode,
    /// The line that says where and how.
    pub(crate) line: String,
}

impl Ended {
    fn new(code: WaitCode, line: String) -> Self {
        Ended { code, line }
    }
}

/// Waits for the loop of one workspace (and host) until it ends, or `wait` would return
/// for it (paused, blocked, crashed …), or `timeout` passed since `started`.
fn wait_one(
    target: &WorkspaceArgs,
    asked: &Asked,
    timeout: Option<Duration>,
    started: Instant,
) -> Result<Ended> {
    let found = super::target(&one_host(target, asked)?)?;
    let store = found.store;
    let workspace = store.workspace().to_path_buf();
    let running = found
        .record
        .map(|record| record.state)
        .filter(|state| asked.covers_loop(state));
    let Some(state) = running else {
        return Ok(report_last(&store, &workspace, asked));
    };
    if std::io::stderr().is_terminal() {
        messages::warn(format!(
            "waiting for the loop in {} (iteration {}) to end…",
            shown(&workspace),
            render::iteration_label(&state)
        ));
    }
    loop {
        match still_running(&store, &state)? {
            Running::Yes => {}
            Running::No => break,
            Running::Paused(current) => {
                return Ok(Ended::new(
                    WaitCode::Paused,
                    format!(
                        "ralph-loop in {} is paused at iteration {}: its stops are allowed and nothing continues until `ralph-hook resume` and a prompt in its session [paused]",
                        shown(&workspace),
                        render::iteration_label(&current),
                    ),
                ));
            }
            Running::Idle(current) => {
                return Ok(Ended::new(
                    WaitCode::Idle,
                    format!(
                        "ralph-loop in {} is idle at iteration {}: its session has shown no sign of life for {} (closed or crashed?); continue it in that session, or `ralph-hook cancel` [idle]",
                        shown(&workspace),
                        render::iteration_label(&current),
                        clock::human(Timings::from_env().idle_after)
                    ),
                ));
            }
            Running::Crashed(sup) => {
                return Ok(Ended::new(
                    WaitCode::Crashed,
                    format!(
                        "ralph-loop in {} is crashed: its supervisor (ralph-hook run, pid {}) is gone since {}; `ralph-hook run --resume --workspace {}` picks it up again [crashed]",
                        shown(&workspace),
                        sup.pid,
                        sup.heartbeat,
                        shown(&workspace)
                    ),
                ));
            }
            Running::Blocked(current) => {
                return Ok(Ended::new(
                    WaitCode::Blocked,
                    format!(
                        "ralph-loop in {} is paused at iteration {}: the agent is blocked on you: {} [blocked]",
                        shown(&workspace),
                        render::iteration_label(&current),
                        render::printable(current.blocked.as_deref().unwrap_or(""))
                    ),
                ));
            }
            Running::Orphaned(current) => {
                return Ok(Ended::new(
                    WaitCode::SessionEnded,
                    format!(
                        "ralph-loop in {} is orphaned at iteration {}: {} [session_ended]",
                        shown(&workspace),
                        render::iteration_label(&current),
                        render::printable(current.orphaned.as_deref().unwrap_or(""))
                    ),
                ));
            }
        }
        if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            let now = lookup::find(&workspace, Some(store.agent()))
                .ok()
                .and_then(|found| found.record)
                .map(|record| record.state)
                .unwrap_or(state);
            return Ok(Ended::new(
                WaitCode::TimedOut,
                format!(
                    "ralph-loop in {} still runs after {} (iteration {}) [timeout]",
                    shown(&workspace),
                    clock::human(started.elapsed()),
                    render::iteration_label(&now)
                ),
            ));
        }
        thread::sleep(POLL);
    }
    let deadline = Instant::now() + OUTCOME_GRACE;
    loop {
        if let Some(entry) = finish_of(&store, state.loop_id.as_deref())? {
            return Ok(report(&workspace, &entry));
        }
        if Instant::now() >= deadline {
            return Ok(Ended::new(
                WaitCode::LoopError,
                format!(
                    "ralph-loop in {} ended without a recorded outcome (its record is gone and {} says nothing) [error]",
                    shown(&workspace),
                    store.history_path().display()
                ),
            ));
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
    /// The user paused it: nothing happens until they resume it.
    Paused(Box<LoopState>),
    /// Its supervisor (`ralph-hook run`) died: nothing resumes it until `run --resume`.
    Crashed(Box<Supervision>),
    /// No supervisor, and its session shows no sign of life.
    Idle(Box<LoopState>),
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
        // A pause the user asked for says more than the session's end: a headless client
        // always ends its session when it exits.
        Ok(Some(current)) if current.state.paused => Ok(Running::Paused(Box::new(current.state))),
        Ok(Some(current)) => {
            let sup = Supervision::read(store.loop_dir());
            let timings = Timings::from_env();
            let phase = supervision::phase(Some(&current), sup.as_ref(), clock::now(), &timings);
            match (phase, sup) {
                (Phase::Crashed, Some(sup)) => Ok(Running::Crashed(Box::new(sup))),
                // A live `run` resumes the session whose client exited (and so ended its
                // session): the loop still runs, whatever SessionEnd said.
                (_, Some(_)) => Ok(Running::Yes),
                _ if current.state.orphaned.is_some() => {
                    Ok(Running::Orphaned(Box::new(current.state)))
                }
                (Phase::Idle, None) => Ok(Running::Idle(Box::new(current.state))),
                _ => Ok(Running::Yes),
            }
        }
        Err(LoadError::Unusable(_)) => Ok(Running::Yes),
        Ok(None) => Ok(Running::No),
        Err(LoadError::Io(err)) => Err(err),
    }
}

/// Waits (briefly: the record goes first, the history line right after) for the line
/// that ended loop `loop_id`, prints it as `wait` does, and returns `wait`'s exit code.
pub(crate) fn final_report(store: &Store, loop_id: &str) -> i32 {
    let deadline = Instant::now() + OUTCOME_GRACE;
    loop {
        if let Ok(Some(entry)) = finish_of(store, Some(loop_id)) {
            let ended = report(store.workspace(), &entry);
            say(&ended.line);
            return ended.code as i32;
        }
        if Instant::now() >= deadline {
            say(format!(
                "ralph-loop in {} ended without a recorded outcome [error]",
                store.workspace().display()
            ));
            return WaitCode::LoopError as i32;
        }
        thread::sleep(POLL);
    }
}

/// The history line that ended loop `loop_id`: its own finish line, or the error line a
/// stop writes (naming no loop) when the state file went bad after the loop's last line.
fn finish_of(store: &Store, loop_id: Option<&str>) -> Result<Option<HistoryEntry>> {
    for entry in store.history()?.into_iter().rev() {
        // A notify command's failure is written after the finish it reported.
        if entry.event == Event::Notify {
            continue;
        }
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

/// What a script asked `wait` about: one loop (`--loop`), what began after a time
/// (`--since`), or (neither) the workspace's newest loop.
#[derive(Debug, Default, Clone)]
struct Asked {
    /// `--loop ID`.
    loop_id: Option<String>,
    /// `--since TIME`.
    since: Option<SystemTime>,
}

impl Asked {
    /// Whether the running loop `state` is one asked about.
    fn covers_loop(&self, state: &LoopState) -> bool {
        let id = self
            .loop_id
            .as_deref()
            .is_none_or(|id| state.loop_id.as_deref() == Some(id));
        let recent = self
            .since
            .is_none_or(|since| state.started_at().is_some_and(|at| at >= since));
        id && recent
    }

    /// Whether history line `entry` is one asked about: at or after `--since`, and of
    /// the loop `--loop` names (a refused prompt names no loop, so it counts only
    /// without `--loop`).
    fn covers_line(&self, entry: &HistoryEntry) -> bool {
        let recent = self
            .since
            .is_none_or(|since| clock::parse(&entry.at).is_some_and(|at| at >= since));
        let id = match &self.loop_id {
            Some(id) => entry.loop_id.as_deref() == Some(id.as_str()),
            None => true,
        };
        recent && id
    }

    /// The words that say what was asked about, for "no loop" answers.
    fn scope(&self) -> String {
        let mut words = String::new();
        if let Some(id) = &self.loop_id {
            words.push_str(&format!(" with id {}", render::printable(id)));
        }
        if let Some(since) = self.since {
            words.push_str(&format!(" since {}", clock::format(since)));
        }
        words
    }
}

/// The host `wait` reports on: the one `--agent` names; else the one whose record or
/// history holds the `--loop` asked about; else the only host with a loop (running or
/// ended) in the workspace. With loops of both hosts there and nothing to tell them
/// apart it is a usage error: answering about the newest of them reported another
/// host's loop as the script's own.
fn one_host(target: &WorkspaceArgs, asked: &Asked) -> Result<WorkspaceArgs> {
    let chosen = |agent| WorkspaceArgs {
        workspace: target.workspace.clone(),
        agent: Some(agent),
    };
    if let Some(agent) = target.agent {
        return Ok(chosen(agent));
    }
    let workspace = super::target_workspace(target)?;
    let (Some(registry), Ok(canonical)) = (Registry::open(), workspace::canonical(&workspace))
    else {
        return Ok(chosen_none(target));
    };
    let stores: Vec<Store> = Agent::ALL
        .into_iter()
        .map(|agent| Store::new(&canonical, agent, &registry))
        .collect();
    if let Some(id) = &asked.loop_id {
        let holds = |store: &Store| {
            matches!(store.load(), Ok(Some(record)) if record.state.loop_id.as_deref() == Some(id))
                || store
                    .history()
                    .is_ok_and(|entries| entries.iter().any(|e| e.loop_id.as_deref() == Some(id)))
        };
        if let Some(store) = stores.iter().find(|store| holds(store)) {
            return Ok(chosen(store.agent()));
        }
    }
    let with_loops: Vec<Agent> = stores
        .iter()
        .filter(|store| store.record_path().exists() || store.history_path().exists())
        .map(Store::agent)
        .collect();
    match with_loops.as_slice() {
        [one] => Ok(chosen(*one)),
        [] => Ok(chosen_none(target)),
        _ => Err(Error::usage(format!(
            "both {} have loops in {}, and wait answers about one: say which with `--agent codex` or `--agent claude` (`--loop ID` names one loop)",
            Agent::ALL.map(Agent::display_name).join(" and "),
            workspace.display()
        ))),
    }
}

/// The target as given (no host chosen): `lifecycle::find` then judges by the files.
fn chosen_none(target: &WorkspaceArgs) -> WorkspaceArgs {
    WorkspaceArgs {
        workspace: target.workspace.clone(),
        agent: target.agent,
    }
}

/// No loop asked about runs: says how the newest one asked about ended (its exit
/// code), that the newest loop prompt was refused, or that there was none.
fn report_last(store: &Store, workspace: &Path, asked: &Asked) -> Ended {
    let last = store.history().ok().and_then(|entries| {
        entries
            .into_iter()
            .rev()
            .filter(|e| asked.covers_line(e))
            .find(|e| e.decision == Action::Finish || is_refusal(e))
    });
    match last {
        Some(entry) if is_refusal(&entry) => report_refusal(workspace, &entry),
        Some(entry) => report(workspace, &entry),
        None => Ended::new(
            WaitCode::NoLoop,
            format!(
                "No ralph loop{} runs in {} and none has ended there [no_loop]",
                asked.scope(),
                shown(workspace)
            ),
        ),
    }
}

/// A line of the history that records a refused loop prompt.
fn is_refusal(entry: &HistoryEntry) -> bool {
    entry.event == Event::Prompt && entry.decision == Action::Refuse
}

/// Says that the newest loop prompt was refused and why; nothing started.
fn report_refusal(workspace: &Path, entry: &HistoryEntry) -> Ended {
    Ended::new(
        WaitCode::Refused,
        format!(
            "ralph-loop in {}: the last loop prompt was refused at {} and nothing started [refused]: {}.",
            workspace.display(),
            render::printable(&entry.at),
            render::printable(entry.detail.as_deref().unwrap_or("no reason recorded"))
        ),
    )
}

/// `--since`: RFC 3339 (`2026-03-21T10:05:00Z`) or seconds since the epoch.
fn parse_since(text: &str) -> Result<SystemTime> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    }
    clock::parse(text).ok_or_else(|| {
        Error::usage(format!(
            "--since {text:?} is not a time: write it as RFC 3339 (`$(date -u +%FT%TZ)`) or seconds since the epoch (`$(date +%s)`)"
        ))
    })
}

/// The outcome line and its exit code. A finish line without a reason, or with one that
/// is not an outcome, counts as an error.
fn report(workspace: &Path, entry: &HistoryEntry) -> Ended {
    let reason = entry.reason.map_or("error", Reason::as_str);
    let outcome = entry
        .reason
        .and_then(Reason::outcome)
        .unwrap_or(Outcome::Error);
    let (code, words) = WaitCode::for_outcome(outcome);
    let when = clock::parse(&entry.at)
        .and_then(|at| clock::now().duration_since(at).ok())
        .map(|ago| format!("{} ago", clock::human(ago)))
        .unwrap_or_else(|| entry.at.clone());
    let mut line = format!(
        "ralph-loop in {} ended {when} after {} iteration{} [{reason}]: {words}",
        shown(workspace),
        entry.iteration,
        if entry.iteration == 1 { "" } else { "s" },
    );
    // The words already say that verify passed; a finish line says which command.
    if let Some(detail) = entry
        .detail
        .as_ref()
        .filter(|_| outcome != Outcome::Verified)
    {
        line.push_str(&format!(" ({})", render::printable(detail)));
    }
    if let Some(total) = render::token_total(entry) {
        line.push_str(&format!("; {total}"));
    }
    if let Some(total) = render::cost_total(entry) {
        line.push_str(&format!("; {total}"));
    }
    line.push('.');
    Ended::new(code, line)
}

/// A workspace path for the terminal: control and invisible characters made visible, as
/// `show` and `log` print it.
fn shown(workspace: &Path) -> String {
    render::printable(&workspace.display().to_string()).into_owned()
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
            ("max_cost", 19),
            ("no_progress_message", 5),
            ("no_progress_workspace", 5),
            ("cancelled", 6),
            ("replaced", 6),
            ("error", 7),
            ("restarts_exhausted", 14),
        ] {
            let outcome = Outcome::from_code(reason).expect(reason);
            assert_eq!(WaitCode::for_outcome(outcome).0 as i32, code, "{reason}");
        }
    }

    #[test]
    fn a_finish_line_with_no_reason_or_one_that_is_no_outcome_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let line = |reason: Option<Reason>| HistoryEntry {
            at: "2026-01-01T00:00:00Z".into(),
            event: Event::Stop,
            decision: Action::Finish,
            reason,
            loop_id: None,
            session_id: None,
            iteration: 2,
            max_iterations: 0,
            tag: None,
            detail: None,
            tokens: None,
            tokens_used: None,
            max_tokens: None,
            cost_nanos: None,
            cost_used_nanos: None,
            max_cost_nanos: None,
        };
        assert_eq!(report(dir.path(), &line(None)).code as i32, 7);
        assert_eq!(
            report(dir.path(), &line(Some(Reason::CompletionRejected))).code as i32,
            7
        );
        assert_eq!(
            report(dir.path(), &line(Some(Reason::Blocked))).code as i32,
            7
        );
        assert_eq!(
            report(dir.path(), &line(Some(Reason::Ended(Outcome::Verified)))).code as i32,
            0
        );
    }
}
