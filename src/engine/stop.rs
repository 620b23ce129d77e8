//! One stop, as a transaction: what [`crate::engine::decide::decide`] needs is gathered,
//! it decides, and what the decision means is written — the record, the history, the
//! notice to the user. The hook (`hook::stop`) only parses the host's payload into a
//! [`StopRequest`] and renders the [`StopAnswer`].
//!
//! Order of work, cheapest first, and no subprocess under the loop's lock (a `cancel`
//! waits at most 10 s for it, and a FIFO named `.gitignore` or a huge repository keeps
//! git busy up to its deadline): find the loop and judge the stop on an unlocked read
//! ([`locate`]: another session's stop takes no lock and writes nothing); take the git
//! fingerprint, still unlocked, for the loop as that read saw it ([`Look`]); lock; read
//! the record and any cancel request again; gather what else the decision will read
//! (the transcript's message, the tokens) and keep the fingerprint only if the loop is
//! still the one, at the iteration, it was taken for (a cancel, a pause, another stop or
//! a new loop meanwhile: the stop is judged on the record as it is now, without it);
//! decide; write; answer. A verify command runs after the lock is released and the
//! stop is decided again under it (`Decision::MovedOn` when the loop moved meanwhile).
//! Nothing in the workspace decides anything: what runs and what limits come from the
//! record.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::agent::Agent;
use crate::engine::config::UserConfig;
use crate::engine::decide::{self, Cost, Decision, Request, StopEvent, Verification, Verified};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::flush;
use crate::engine::fresh::FreshMode;
use crate::engine::history::{Action, Event, HistoryEntry, Reason};
use crate::engine::lifecycle::{self, Ending};
use crate::engine::once::EventRun;
use crate::engine::ownership::{self, LoopRecord, Registry, Standing};
use crate::engine::prices::PriceTable;
use crate::engine::render;
use crate::engine::state::LoopState;
use crate::engine::store::{self, Loaded, Located, LockGuard, Mirror, Store};
use crate::engine::tasks::{self, Note, TaskLook, TaskProgress};
use crate::engine::transcript;
use crate::engine::usage::Spent;
use crate::engine::verify;
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::messages::warn;
use crate::shell;

/// What a Stop event brings, as the hook read it from the host's payload.
#[derive(Debug, Clone)]
pub(crate) struct StopRequest {
    /// The stop's session (bound to the loop when it claims it).
    pub session: String,
    /// The assistant's last message as the host sent it; without one, the transcript's
    /// last assistant message stands in.
    pub message: Option<String>,
    /// The session's transcript, as the host named it: the tokens are counted there, and
    /// its mtime is the loop's sign of life.
    pub transcript: Option<PathBuf>,
    /// This run of ralph-hook for this event: the other installation's run of the same
    /// event stands back.
    pub event: EventRun,
    /// Background work of the session that still runs (Claude Code's `background_tasks`
    /// and `session_crons`), in a few bounded words: such a stop waits, uncounted.
    pub background: Option<String>,
    /// The loop `ralph-hook run` launched this stop's client for, from the environment
    /// the hook inherited ([`ownership::RUN_LOOP_ENV`]).
    pub launched_for: Option<String>,
}

impl StopRequest {
    /// How this stop stands toward `state`'s loop.
    fn standing(&self, state: &LoopState) -> Standing {
        ownership::judge(state, &self.session, self.launched_for.as_deref())
    }
}

/// What the hook answers the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopAnswer {
    /// Let the turn end, saying this to the user if anything.
    Allow(Option<String>),
    /// Continue the turn with this prompt.
    Block(String),
}

/// Where a stop's loop is: the user's record, or a state file no record backs.
#[derive(Debug)]
pub(crate) struct Target {
    registry: Registry,
    found: Located,
    /// The record as the lookup read it, unlocked: what the stop prepares for before it
    /// takes the lock.
    seen: Option<LoopRecord>,
}

/// Finds the loop a stop of `session` in `cwd` belongs to (see [`store::locate`]);
/// `launched_for` as in [`StopRequest::launched_for`].
/// `None` when there is none, or no state folder (so no record, so nothing here is the
/// user's loop), or the loop is another session's: most stops end here, with nothing
/// written, nothing said, and nothing more of the payload looked at.
pub(crate) fn locate(
    cwd: &Path,
    agent: Agent,
    session: &str,
    launched_for: Option<&str>,
    now: SystemTime,
) -> Option<Target> {
    if cwd.as_os_str().is_empty() {
        return None;
    }
    let registry = Registry::open()?;
    let found = store::locate(cwd, agent, &registry)?;
    // Every write is an atomic rename, so an unlocked read sees a whole file; one that
    // cannot be read is judged again under the lock.
    let seen = match &found {
        Located::Record(store) => store.load().ok().flatten(),
        Located::Mirror(_) => None,
    };
    if seen
        .as_ref()
        .is_some_and(|seen| another_sessions(seen, session, launched_for, now))
    {
        return None;
    }
    Some(Target {
        registry,
        found,
        seen,
    })
}

/// True when the loop is another session's: its stop takes no lock and writes nothing.
fn another_sessions(
    seen: &LoopRecord,
    session: &str,
    launched_for: Option<&str>,
    now: SystemTime,
) -> bool {
    let event = StopEvent {
        standing: ownership::judge(&seen.state, session, launched_for),
        session,
        ..StopEvent::default()
    };
    decide::decide(&seen.state, event, now).decision == Decision::Ignore
}

/// What a stop looks at in the workspace before the lock, for the loop and iteration the
/// unlocked read saw (it judges that stop only): the git fingerprint of the no-progress
/// brake, and the task list with the evidence for its current item (`--tasks`).
#[derive(Debug)]
struct Look {
    fingerprint: Option<Fingerprint>,
    tasks: Option<TaskLook>,
    loop_id: String,
    iteration: u32,
}

impl Look {
    /// Looks at the workspace when the stop will need it: the owner's (or a claiming)
    /// stop, not a repeat of one already handled, of a running loop with the brake on or
    /// a task list, in a workspace that was a repository when the loop began (git never
    /// runs in one the agent made since).
    fn take(store: &Store, seen: &LoopRecord, request: &StopRequest) -> Option<Look> {
        let state = &seen.state;
        let owned = matches!(request.standing(state), Standing::Owner | Standing::Claim);
        let needed = owned
            && state.active
            && !state.paused
            && (state.no_progress > 0 || state.tasks.is_some())
            && !request.event.seen_again(&mut state.handled.clone());
        if !needed {
            return None;
        }
        let fingerprint = seen
            .git
            .then(|| Fingerprint::take(store.workspace()))
            .flatten();
        let tasks = state
            .tasks
            .as_ref()
            .map(|progress| tasks::look(store.workspace(), progress, fingerprint.as_ref()));
        if fingerprint.is_none() && tasks.is_none() {
            return None;
        }
        Some(Look {
            fingerprint,
            tasks,
            loop_id: seen.loop_id.clone(),
            iteration: state.iteration,
        })
    }

    /// The look, if `record` is still the loop, at the iteration, it was taken for.
    fn of(&self, record: &LoopRecord) -> Option<&Look> {
        (record.loop_id == self.loop_id && record.state.iteration == self.iteration).then_some(self)
    }
}

/// Runs one stop of the loop at `target`: decides it and writes what that means.
pub(crate) fn run(target: &Target, request: StopRequest, now: SystemTime) -> Result<StopAnswer> {
    match &target.found {
        Located::Mirror(store) => Ok(not_followed(store, &request, &target.registry, now)),
        Located::Record(store) => run_loop_stop(store, target.seen.as_ref(), &request, now),
    }
}

/// A state file with no record of the user's: never obeyed, never touched. The first
/// stop that meets it (per file and content) says how to adopt it; an unreadable one is
/// not a loop at all and gets silence.
fn not_followed(
    store: &Store,
    request: &StopRequest,
    registry: &Registry,
    now: SystemTime,
) -> StopAnswer {
    let Mirror::Found(state) = store.read_mirror() else {
        return StopAnswer::Allow(None);
    };
    let event = StopEvent {
        standing: Standing::Untrusted(ownership::judge_unrecorded(&state)),
        session: &request.session,
        ..StopEvent::default()
    };
    match decide::decide(&state, event, now).decision {
        Decision::NotFollowed(why) => {
            let key = format!(
                "{}\n{}\n{}",
                state.created_at, state.prompt, state.completion_signal
            );
            let first = registry.first_hint(&store.state_path(), key.as_bytes());
            StopAnswer::Allow(first.then(|| adopt_hint(store, why.why())))
        }
        Decision::Ignore
        | Decision::Allow
        | Decision::Duplicate
        | Decision::MovedOn
        | Decision::Block(_)
        | Decision::Blocked(_)
        | Decision::Finish(_)
        | Decision::Verify
        | Decision::Wait(_) => StopAnswer::Allow(None),
    }
}

fn run_loop_stop(
    store: &Store,
    seen: Option<&LoopRecord>,
    request: &StopRequest,
    now: SystemTime,
) -> Result<StopAnswer> {
    // git runs before the lock; under it, the decision reads only what was gathered.
    let look = seen.and_then(|seen| Look::take(store, seen, request));
    let lock = store.lock()?;
    let Some(mut record) = loaded(store.load_or_set_aside(&lock, Event::Stop, now)?)? else {
        return Ok(StopAnswer::Allow(None));
    };
    let standing = request.standing(&record.state);
    let owned = matches!(standing, Standing::Owner | Standing::Claim);
    // This run's mark goes into the state whether or not the other installation ran
    // first: a later run of the same stop must find it.
    let seen_again = owned && request.event.seen_again(&mut record.state.handled);
    // What follows is read only for a decision that will look at it: a stop of another
    // session or a duplicate reads no transcript and counts nothing (nor ran git, by
    // `Look::take`'s same judgement on the unlocked read).
    let gather = owned && !seen_again;
    let cancel_request = if gather {
        workspace::read_cancel_request(store.workspace())
    } else {
        None
    };
    let fallback;
    let message = match request.message.as_deref() {
        Some(message) => Some(message),
        None if gather => {
            fallback = request
                .transcript
                .as_deref()
                .and_then(transcript::last_assistant_text);
            fallback.as_deref()
        }
        None => None,
    };
    if gather && let Some(transcript) = &request.transcript {
        // The host names the session's transcript: its mtime is the loop's sign of life
        // when another session wants the workspace (see `engine::liveness`).
        record.transcript = Some(transcript.clone());
    }
    let counting =
        gather && record.state.active && !record.state.paused && record.state.counts_usage();
    let used = if counting {
        count_tokens(&mut record, request.message.as_deref())
    } else {
        None
    };
    let prices = (used.is_some()
        && (record.state.max_cost_nanos.is_some() || record.state.count_weighted))
        .then(prices_in_force);
    let tokens = match (&used, &prices) {
        (Some((_, spent)), Some(table)) if record.state.count_weighted => {
            Some(table.weighted(spent))
        }
        (Some((tokens, _)), _) => Some(*tokens),
        (None, _) => None,
    };
    let priced = match (&used, &prices, record.state.max_cost_nanos) {
        (Some((_, spent)), Some(table), Some(_)) => Some(table.cost(spent)),
        _ => None,
    };
    let unpriced_words = match &priced {
        Some(Err(why)) => why.to_string(),
        Some(Ok(_)) | None => String::new(),
    };
    let cost = match &priced {
        Some(Ok(nanos)) => Some(Cost::Priced(*nanos)),
        Some(Err(_)) => Some(Cost::Unpriced(&unpriced_words)),
        None => None,
    };
    // The loop changed since the look (cancelled, paused, moved on by another stop,
    // replaced): the stop is judged on the record as it is, and the brake does not count
    // this stop's workspace either way.
    let look = look
        .as_ref()
        .filter(|_| gather)
        .and_then(|look| look.of(&record));
    let event = StopEvent {
        standing,
        session: &request.session,
        seen_again,
        cancel_request: cancel_request.as_deref(),
        message,
        workspace: look.and_then(|look| look.fingerprint.as_ref()),
        verification: None,
        tokens,
        cost,
        background: request.background.as_deref(),
        tasks: look.and_then(|look| look.tasks.as_ref()),
    };
    let step = decide::decide(&record.state, event, now);
    settle_request(store, &step.request, cancel_request.as_deref());
    if step.claimed {
        record.state.session_id = step.state.session_id.clone();
        lifecycle::append(
            store,
            &lock,
            &HistoryEntry::about(&step.state, Event::Claim, Action::Bind, now),
        );
    }
    // A claim must stick even when the stop writes nothing else; and before verify runs
    // (without the lock) the record says this stop is taken, so a second installation's
    // run of it stands back.
    if step.decision == Decision::Verify || (step.claimed && step.decision == Decision::Allow) {
        save(store, &lock, &mut record)?;
    }
    if step.decision != Decision::Verify {
        return apply(store, &lock, record, step, request, None, now);
    }
    // The verify command may run for minutes: not under the lock. Afterwards the loop
    // must still be where it was, or another stop already moved it on (`decide` judges).
    drop(lock);
    let command = record.state.verify.clone().unwrap_or_default();
    let result = verify::run(&command, store.workspace(), record.state.verify_timeout());
    let lock = store.lock()?;
    let Some(current) = loaded(store.load_or_set_aside(&lock, Event::Stop, now)?)? else {
        return Ok(StopAnswer::Allow(None));
    };
    let event = StopEvent {
        standing: request.standing(&current.state),
        seen_again: false,
        cancel_request: None,
        verification: Some(Verified::of(&result, &record.state)),
        ..event
    };
    let step = decide::decide(&current.state, event, now);
    apply(store, &lock, current, step, request, Some(&result), now)
}

/// The record a stop goes on with: `None` when the user has none here; a record set
/// aside is the stop's error (the user is told, and the stop allowed).
fn loaded(loaded: Loaded) -> Result<Option<LoopRecord>> {
    match loaded {
        Loaded::Record(record) => Ok(Some(*record)),
        Loaded::Missing => Ok(None),
        Loaded::SetAside(message) => Err(Error::Failed(message)),
    }
}

/// The tokens the session used since the previous counted stop, read from what was
/// appended to its transcript since; the cursor in `record` moves on (it is saved with
/// the stop's decision). `None` when nothing could be counted this time: no transcript
/// known, or a loop whose count starts at this stop (started from a terminal). `reply` is
/// the turn's last reply from the payload: the count waits (bounded) for it to reach the
/// transcript.
fn count_tokens(record: &mut LoopRecord, reply: Option<&str>) -> Option<(u64, Vec<Spent>)> {
    let Some(cursor) = record.usage.as_ref() else {
        record.usage = lifecycle::start_count(record);
        return None;
    };
    let path = record.transcript.as_deref()?;
    match flush::read(path, record.agent, cursor, reply) {
        Ok(reading) => {
            if let Some(restart) = reading.restarted {
                warn(format!(
                    "{restart} ({}); tokens are counted from its end on",
                    path.display()
                ));
            }
            record.usage = Some(reading.cursor);
            Some((reading.tokens, reading.spent))
        }
        Err(err) => {
            warn(format!(
                "cannot count tokens in the transcript {}: {err}; this turn's tokens are not counted",
                path.display()
            ));
            None
        }
    }
}

/// The prices in force: the built-in table and the user's config file's
/// `[prices."model"]` (a config file that cannot be read is warned about, and the
/// built-in table prices the stop).
fn prices_in_force() -> PriceTable {
    match UserConfig::load() {
        Ok(config) => config.prices(),
        Err(err) => {
            warn(format!(
                "{err}; this stop prices its responses with ralph-hook's built-in table"
            ));
            PriceTable::built_in()
        }
    }
}

/// A cancel request is used once, by the loop it names: removed when the stop honoured
/// it. One naming another loop id is left for that loop (Codex's and Claude Code's loops
/// in one workspace share the file); only one that names no loop at all is removed.
fn settle_request(store: &Store, request: &Request, named: Option<&str>) {
    match request {
        Request::None => {}
        Request::Honoured => remove_request(store),
        Request::OtherLoop if named.is_some_and(workspace::is_loop_id) => {}
        Request::OtherLoop => {
            warn(format!(
                "removed the cancel request {}: it names no loop ({})",
                workspace::cancel_request_path(store.workspace()).display(),
                render::printable(named.unwrap_or_default())
            ));
            remove_request(store);
        }
    }
}

fn remove_request(store: &Store) {
    let _ = std::fs::remove_file(workspace::cancel_request_path(store.workspace()));
}

/// Writes what the decision means and builds the answer.
fn apply(
    store: &Store,
    lock: &LockGuard,
    mut record: LoopRecord,
    step: decide::Step,
    request: &StopRequest,
    verification: Option<&Verification>,
    now: SystemTime,
) -> Result<StopAnswer> {
    let tokens = step.tokens;
    let cost = step.cost;
    let session = Some(request.session.as_str());
    let verify_detail = verification.map(|v| format!("verify {}", v.summary()));
    match step.decision {
        // A paused loop's stop is let through and recorded, so `show` and `wait` tell
        // a headless user that the turn ended.
        Decision::Allow if step.state.last_decision != record.state.last_decision => {
            lifecycle::record_paused_stop(store, lock, record, step.state, session, now)?;
            Ok(StopAnswer::Allow(None))
        }
        Decision::Ignore
        | Decision::NotFollowed(_)
        | Decision::Allow
        | Decision::MovedOn
        | Decision::Verify => Ok(StopAnswer::Allow(None)),
        Decision::Duplicate => {
            // Only the mark of this run is new; the other installation wrote the rest.
            save(store, lock, &mut record)?;
            Ok(StopAnswer::Allow(None))
        }
        Decision::Wait(work) => {
            record.state = step.state;
            save(store, lock, &mut record)?;
            lifecycle::append(
                store,
                lock,
                &HistoryEntry::about(&record.state, Event::Stop, Action::Wait, now)
                    .session(session)
                    .tag(step.tag)
                    .detail(format!("background work still runs: {work}"))
                    .tokens(tokens)
                    .cost(cost),
            );
            Ok(StopAnswer::Allow(None))
        }
        Decision::Block(how) => {
            let before = record.state.tasks.take();
            record.state = step.state;
            // A fresh loop: the same decision, but the turn ends here and the supervisor
            // starts the next session with what the continuation would have said.
            let hand_over = hands_over(&record, before.as_ref());
            if hand_over {
                if let Some(last) = record.state.last_decision.as_mut() {
                    last.decision = Action::NextSession.into();
                }
                let body = render::continuation_body(&record.state, &how, &store.state_path(), now);
                if let Some(fresh) = record.fresh.as_mut() {
                    fresh.next = Some(body);
                }
            }
            save(store, lock, &mut record)?;
            append_task_lines(store, lock, &record.state, before.as_ref(), session, now);
            let action = if hand_over {
                Action::NextSession
            } else {
                Action::Block
            };
            let mut entry = HistoryEntry::about(&record.state, Event::Stop, action, now)
                .session(session)
                .tag(step.tag)
                .tokens(tokens)
                .cost(cost);
            // The completion signal rejected is the line's reason first; a checked item
            // that was not accepted next.
            let open = how
                .tasks
                .iter()
                .find(|note| matches!(note, Note::CompletionWhileOpen { .. }));
            let not_accepted = how.tasks.iter().find(|note| {
                matches!(
                    note,
                    Note::CheckedWithoutChange { .. } | Note::VerifyFailed { .. }
                )
            });
            if let Some(note) = open.or(not_accepted) {
                let reason = match note {
                    Note::CompletionWhileOpen { .. } => Reason::CompletionRejected,
                    _ => Reason::TaskRejected,
                };
                let mut detail = how
                    .tasks
                    .iter()
                    .filter(|note| !matches!(note, Note::Accepted { .. }))
                    .map(tasks::note_why)
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Some(verify) = &verify_detail {
                    detail.push_str(&format!(" ({verify})"));
                }
                entry = entry.reason(reason).detail(detail);
            } else if let Some(detail) = verify_detail {
                entry = entry.reason(Reason::CompletionRejected).detail(detail);
            } else if let Some(progress) = &record.state.tasks {
                entry = entry.detail(task_line(progress));
            }
            lifecycle::append(store, lock, &entry);
            for warning in &how.warnings {
                let words = render::budget_warning_text(&record.state, warning, now);
                lifecycle::notify_budget_warning(store, lock, &record, warning.budget, &words, now);
            }
            if hand_over {
                return Ok(StopAnswer::Allow(Some(format!(
                    "ralph-loop: this session's part is over; `ralph-hook run` starts iteration {} in a new session",
                    render::iteration_label(&record.state)
                ))));
            }
            Ok(StopAnswer::Block(render::continuation_prompt(
                &record.state,
                &how,
                &store.state_path(),
                now,
            )))
        }
        Decision::Blocked(reason) => {
            record.state = step.state;
            save(store, lock, &mut record)?;
            lifecycle::append(
                store,
                lock,
                &HistoryEntry::about(&record.state, Event::Stop, Action::Pause, now)
                    .session(session)
                    .tag(step.tag)
                    .reason(Reason::Blocked)
                    .detail(reason.clone())
                    .tokens(tokens)
                    .cost(cost),
            );
            lifecycle::notify_user(
                store,
                lock,
                &record,
                &record.state,
                ("blocked", &reason),
                request.message.as_deref(),
                now,
            );
            Ok(StopAnswer::Allow(Some(render::blocked_message(
                &record.state,
                &reason,
                store.agent(),
            ))))
        }
        Decision::Finish(outcome) => {
            let detail = match step.request {
                Request::Honoured => Some("cancel requested from the agent's sandbox".to_string()),
                Request::None | Request::OtherLoop => verify_detail,
            };
            let ending = Ending {
                outcome,
                event: Event::Stop,
                session: session.map(str::to_string),
                tag: Some(step.tag),
                detail,
                tokens,
                cost,
                unpriced: step.unpriced.clone(),
                message: request.message.clone(),
            };
            append_task_lines(
                store,
                lock,
                &step.state,
                record.state.tasks.as_ref(),
                session,
                now,
            );
            let message = lifecycle::end(store, lock, &record, &step.state, ending, now)?;
            Ok(StopAnswer::Allow(Some(message)))
        }
    }
}

/// Where a task list stands, for a block's history line: items accepted / total and
/// the current item.
fn task_line(progress: &TaskProgress) -> String {
    format!(
        "tasks {} accepted, current: {}",
        progress.count(),
        tasks::shown(progress.current.as_deref().unwrap_or("none"))
    )
}

/// One history line per task item this stop accepted or left open as stuck: what
/// `state`'s task list holds beyond `before`'s.
fn append_task_lines(
    store: &Store,
    lock: &LockGuard,
    state: &LoopState,
    before: Option<&TaskProgress>,
    session: Option<&str>,
    now: SystemTime,
) {
    let (Some(after), Some(before)) = (&state.tasks, before) else {
        return;
    };
    let lines = [
        (
            Action::Accept,
            &after.accepted,
            before.accepted.len(),
            "accepted",
        ),
        (
            Action::Skip,
            &after.stuck,
            before.stuck.len(),
            "left open as stuck",
        ),
    ];
    for (action, items, seen, what) in lines {
        for (index, item) in items.iter().enumerate().skip(seen) {
            let detail = match action {
                Action::Accept => format!(
                    "task item {}/{} {what}: {}",
                    index + 1,
                    after.total,
                    tasks::shown(item)
                ),
                _ => format!("task item {what}: {}", tasks::shown(item)),
            };
            lifecycle::append(
                store,
                lock,
                &HistoryEntry::about(state, Event::Stop, action, now)
                    .session(session)
                    .detail(detail),
            );
        }
    }
}

/// True when a stop that continues the loop ends the session instead (`run --fresh`):
/// with `--fresh`, every iteration goes to a new session; with `--fresh=task`, the next
/// item does (this stop accepted an item, or left one open as stuck), while one item is
/// worked on in the same session. `before` is the task list before this stop.
fn hands_over(record: &LoopRecord, before: Option<&TaskProgress>) -> bool {
    record.fresh.as_ref().is_some_and(|fresh| match fresh.mode {
        FreshMode::Iteration => true,
        FreshMode::Task => match (before, &record.state.tasks) {
            (Some(before), Some(after)) => {
                after.accepted.len() > before.accepted.len()
                    || after.stuck.len() > before.stuck.len()
            }
            _ => false,
        },
    })
}

/// Saves the record (an error keeps the previous one intact); a mirror that could not be
/// written is only a warning, since the record is what runs.
fn save(store: &Store, lock: &LockGuard, record: &mut LoopRecord) -> Result<()> {
    match store.save(lock, record) {
        Ok(Some(mirror)) => {
            warn(format!("{mirror}; the loop goes on from your record"));
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(err) => Err(Error::Failed(format!(
            "{err} (the loop's previous state is intact)"
        ))),
    }
}

fn adopt_hint(store: &Store, why: &str) -> String {
    format!(
        "ralph-loop: not following {}: {why}. Read it with `ralph-hook show --workspace {ws}`; if you trust it, `ralph-hook adopt --workspace {ws}` and the next stop will continue it.",
        render::printable(&store.state_path().display().to_string()),
        ws = shell::word(store.workspace())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fresh::Fresh;
    use crate::engine::sample::SampleLoop;

    #[test]
    fn a_fresh_loop_hands_over_every_iteration_or_at_each_accepted_or_stuck_item() {
        let mut record =
            LoopRecord::new(SampleLoop::default().build(), Agent::Codex, Path::new("/w"));
        assert!(!hands_over(&record, None), "a same-session loop blocks");
        record.fresh = Some(Fresh::new(FreshMode::Iteration, None));
        assert!(hands_over(&record, None));

        record.fresh = Some(Fresh::new(FreshMode::Task, None));
        let before = TaskProgress {
            accepted: vec!["one".into()],
            ..TaskProgress::default()
        };
        record.state.tasks = Some(before.clone());
        assert!(!hands_over(&record, Some(&before)), "the same item goes on");
        let mut accepted = before.clone();
        accepted.accepted.push("two".into());
        record.state.tasks = Some(accepted);
        assert!(hands_over(&record, Some(&before)), "an item was accepted");
        let mut stuck = before.clone();
        stuck.stuck.push("two".into());
        record.state.tasks = Some(stuck);
        assert!(
            hands_over(&record, Some(&before)),
            "an item was left as stuck"
        );
        record.state.tasks = None;
        assert!(!hands_over(&record, Some(&before)), "no task list, no item");
    }

    fn look_at(record: &LoopRecord) -> Look {
        Look {
            fingerprint: Some(Fingerprint::from_status(
                Path::new("/w"),
                b"# branch.oid abc\0",
            )),
            tasks: None,
            loop_id: record.loop_id.clone(),
            iteration: record.state.iteration,
        }
    }

    #[test]
    fn a_look_judges_only_the_loop_and_iteration_it_was_taken_for() {
        let record = LoopRecord::new(SampleLoop::default().build(), Agent::Codex, Path::new("/w"));
        let look = look_at(&record);
        assert!(look.of(&record).is_some());

        // Another stop counted an iteration meanwhile.
        let mut moved = record.clone();
        moved.state.iteration += 1;
        assert!(look.of(&moved).is_none());

        // A new loop replaced it meanwhile.
        let mut replaced = record.clone();
        replaced.loop_id = "another".into();
        assert!(look.of(&replaced).is_none());
    }
}
