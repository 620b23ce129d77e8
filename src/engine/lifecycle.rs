//! Starting, ending, pausing and adopting a loop: the changes a person (or the prompt
//! hook on their behalf) makes, shared by the prompt hook, the stop
//! (`engine::stop`) and the commands. Finding a loop is
//! `engine::lookup`'s.
//!
//! There is one way to end a loop, [`end`]: a stop's finish, `cancel`, the sandbox's
//! cancel request and the replacement by a new loop all go through it, under the lock,
//! and each leaves one typed line in the history.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::agent::Agent;
use crate::clock;
use crate::engine::config::UserConfig;
use crate::engine::decide::{self, Outcome};
use crate::engine::files::Dir;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::history::{Action, Event, HistoryEntry};
use crate::engine::liveness;
use crate::engine::notify;
use crate::engine::once::EventRun;
use crate::engine::ownership::{self, LoopRecord, Standing};
use crate::engine::prices::Unpriced;
use crate::engine::render;
use crate::engine::settings::{self, LoopSettings};
use crate::engine::signal::Tag;
use crate::engine::state::{LastDecision, LoopState, Origin, STATE_VERSION, StartedBy};
use crate::engine::store::{Loaded, LockGuard, Mirror, Store};
use crate::engine::tasks::{self, Checklist, TaskProgress};
use crate::engine::usage::{self, Cursor};
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::messages::warn;

/// What to do when a loop is already active where a new one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Refuse (`start` without `--force`).
    Never,
    /// Replace it (`start --force`).
    Always,
    /// The user's `$ralph-loop` in a session: replace that session's own loop, one no
    /// session has claimed yet, and another session's loop that has shown no sign of
    /// life for `liveness::IDLE_AFTER` (its session crashed or was killed); refuse
    /// another session's live loop unless `anyway` (the prompt said `--replace`).
    Prompt {
        /// The prompt said `--replace`.
        anyway: bool,
    },
}

/// Why a new loop could replace the one it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Because {
    /// It was the same session's loop.
    SameSession,
    /// No session had claimed it.
    Unclaimed,
    /// Its session showed no sign of life for `liveness::IDLE_AFTER`.
    Idle,
    /// The user asked (`--force`, `--replace`).
    Asked,
    /// The host said its session ended (SessionEnd).
    SessionEnded,
}

/// The session a new loop is bound to, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// The session whose stops the loop obeys (`None`: the first to stop claims it).
    pub session: Option<String>,
    /// That session's transcript, as the host named it: its sign of life.
    pub transcript: Option<PathBuf>,
}

/// A loop that a new one replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// Its session (`None`: none had claimed it).
    pub session: Option<String>,
    /// Why it could be replaced.
    pub because: Because,
    /// Its last sign of life (`None`: none that could be read).
    pub last_active: Option<SystemTime>,
    /// How long it had been idle when it was replaced.
    pub idle: Duration,
}

/// A loop that was started.
#[derive(Debug)]
pub struct Started {
    /// Its state as recorded.
    pub state: LoopState,
    /// Where its mirror was written.
    pub state_path: PathBuf,
    /// Where an older state file was moved, if one was in the way.
    pub set_aside: Option<PathBuf>,
    /// A loop of the user's that this one replaced.
    pub replaced: Option<Replaced>,
    /// Things the user should know (the mirror could not be written …).
    pub warnings: Vec<String>,
    /// The other installation of ralph-hook already started this loop for the same
    /// prompt (plugin and `install` both in place): nothing new was started.
    pub again: bool,
}

/// Starts a loop in `store` bound to `session` (if known). `event` is the prompt hook's
/// run for the user's prompt: a second run for the same prompt keeps the loop the first
/// one started.
pub fn begin(
    store: &Store,
    settings: &LoopSettings,
    bound: Binding,
    started_by: StartedBy,
    replace: Replace,
    event: Option<&EventRun>,
    now: SystemTime,
) -> Result<Started> {
    let Binding {
        session,
        transcript,
    } = bound;
    if store.loop_dir().starts_with(store.workspace()) {
        return Err(Error::Failed(format!(
            "the user's state folder {} is inside the workspace {}, where the agent could edit its own loop's record; set {} to a folder outside it",
            store.loop_dir().display(),
            store.workspace().display(),
            ownership::STATE_DIR_ENV
        )));
    }
    store.check_mirror_place()?;
    let price_note = check_price(settings, transcript.as_deref(), store.agent())?;
    // The first look at the workspace runs git: before the lock, since no subprocess
    // runs while a loop's lock is held (a `cancel` waits at most 10 s for it).
    let git = workspace::is_git_repository(store.workspace());
    let task_list = settings
        .tasks
        .as_deref()
        .map(|file| read_task_list(store.workspace(), file, git))
        .transpose()?;
    let first_look = ((settings.no_progress > 0 || task_list.is_some()) && git)
        .then(|| Fingerprint::take(store.workspace()))
        .flatten();
    let lock = store.lock().map_err(sandbox_hint)?;
    store.sweep_stale_temp_files(&lock);
    let mut set_aside = None;
    let mut replaced = None;
    match store
        .load_or_set_aside(&lock, Event::Start, now)
        .map_err(sandbox_hint)?
    {
        Loaded::Missing => {}
        Loaded::SetAside(message) => warn(message),
        Loaded::Record(mut existing) => {
            if let Some(run) = event
                && existing.state.session_id.is_some()
                && existing.state.session_id == session
                && run.seen_again(&mut existing.state.handled)
            {
                if let Some(err) = store.save(&lock, &mut existing).map_err(sandbox_hint)? {
                    warn(err);
                }
                return Ok(Started {
                    state: existing.state,
                    state_path: store.state_path(),
                    set_aside: None,
                    replaced: None,
                    warnings: Vec::new(),
                    again: true,
                });
            }
            // A loop of `run` waiting for its session is never "unclaimed" to a prompt.
            let standing =
                ownership::judge(&existing.state, session.as_deref().unwrap_or(""), None);
            let idle = liveness::idle_for(&existing, now);
            let because = match (replace, standing) {
                (Replace::Never, _) => None,
                (Replace::Always, _) | (Replace::Prompt { anyway: true }, _) => {
                    Some(Because::Asked)
                }
                (Replace::Prompt { .. }, Standing::Owner) => Some(Because::SameSession),
                (Replace::Prompt { .. }, Standing::Claim) => Some(Because::Unclaimed),
                (Replace::Prompt { anyway: false }, Standing::OtherSession)
                | (Replace::Prompt { anyway: false }, Standing::Untrusted(_)) => {
                    if existing.state.orphaned.is_some() {
                        Some(Because::SessionEnded)
                    } else {
                        (idle >= liveness::IDLE_AFTER).then_some(Because::Idle)
                    }
                }
            };
            let Some(because) = because else {
                return Err(already_active(store, &existing, replace, idle));
            };
            let mut ending = Ending::new(Outcome::Replaced, Event::Start);
            ending.session = session.clone();
            ending.detail = Some(match because {
                Because::SameSession => "the same session started a new loop".to_string(),
                Because::Unclaimed => {
                    "a session started a new loop before any claimed this one".to_string()
                }
                Because::Idle => format!(
                    "another session started a new loop after this one's session was idle for {}",
                    clock::human(idle)
                ),
                Because::Asked => "the user asked to replace it".to_string(),
                Because::SessionEnded => {
                    "another session started a new loop after this one's session ended".to_string()
                }
            });
            let last = decide::finish_now(&existing.state, ending.outcome, now);
            end(store, &lock, &existing, &last, ending, now)?;
            replaced = Some(Replaced {
                session: existing.state.session_id.clone(),
                because,
                last_active: liveness::last_sign_of_life(&existing),
                idle,
            });
        }
    }
    // Whatever still stands at the mirror's place is not a loop of the user's (a
    // planted file, the bash skill's, a folder): kept aside, never deleted.
    if store.has_mirror() {
        set_aside = Some(store.set_aside_mirror(&lock, "replaced", now)?);
    }

    let origin = Origin {
        loop_id: ownership::new_loop_id(),
        agent: store.agent(),
        session_id: session,
        workspace: store.workspace().to_path_buf(),
        started_by,
    };
    let mut record = LoopRecord::new(
        LoopState::new(settings, origin, now),
        store.agent(),
        store.workspace(),
    );
    if let Some(run) = event {
        run.seen_again(&mut record.state.handled);
    }
    // git runs only where the user's loop is, and only in a repository that was there
    // when the loop began (one the agent made later is never run).
    record.git = workspace::is_git_repository(store.workspace());
    record.transcript = transcript;
    record.notify.clone_from(&settings.notify);
    record.sources.clone_from(&settings.sources);
    if record.state.counts_usage() {
        record.usage = start_count(&record);
    }
    if record.state.no_progress > 0
        && record.git
        && let Some(look) = &first_look
    {
        record.state.progress.remember_workspace(look);
    }
    if let Some((file, list)) = &task_list {
        record.state.tasks = TaskProgress::begin(
            file,
            list,
            first_look.as_ref(),
            settings.max_iterations_per_task,
            settings.on_stuck_task,
        );
    }
    let mut warnings: Vec<String> = price_note.into_iter().collect();
    if let Some(err) = store.save(&lock, &mut record).map_err(sandbox_hint)? {
        warnings.push(format!(
            "{err} (the loop runs from your record; `ralph-hook show` shows it)"
        ));
    }
    append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Start, Action::Start, now),
    );
    Ok(Started {
        state: record.state,
        state_path: store.state_path(),
        set_aside,
        replaced,
        warnings,
        again: false,
    })
}

/// The task list `file` of a loop starting in `workspace`, checked before anything
/// starts: a file of the workspace that can be read, in a git workspace (the evidence an
/// item is done is read from git), with at least one item open.
fn read_task_list(workspace: &Path, file: &str, git: bool) -> Result<(String, Checklist)> {
    let bad = |err: tasks::TaskFileError| Error::input(format!("--tasks {}", err.file), err.why);
    let relative = tasks::resolve(workspace, file).map_err(bad)?;
    let list = tasks::read(workspace, &relative).map_err(bad)?;
    if !git {
        return Err(Error::usage(format!(
            "--tasks needs a git workspace: an item counts as done only on evidence (a commit, or a changed file other than the task file), which ralph-hook reads from git, and {} is not a repository; run `git init` there first",
            workspace.display()
        )));
    }
    let open = list.items.iter().filter(|item| !item.checked).count();
    if open == 0 {
        return Err(Error::input(
            format!("--tasks {}", tasks::shown(&relative)),
            if list.items.is_empty() {
                "has no checklist items: write one `- [ ] item` line per task".to_string()
            } else {
                format!(
                    "has no open item: all {} are checked already; uncheck the ones to work on (`- [ ] item`)",
                    list.items.len()
                )
            },
        ));
    }
    Ok((relative, list))
}

fn already_active(store: &Store, existing: &LoopRecord, replace: Replace, idle: Duration) -> Error {
    let state = &existing.state;
    let whose = state
        .session_id
        .as_deref()
        .map(|s| format!("session {}", render::printable(s)))
        .unwrap_or_else(|| "no session yet".into());
    let what = format!(
        "a loop is already active in {} ({whose}, iteration {}, started {}",
        store.workspace().display(),
        render::iteration_label(state),
        state.created_at,
    );
    match replace {
        Replace::Never | Replace::Always => Error::LoopActive(format!(
            "{what}); replace it with --force, or end it with `ralph-hook cancel`"
        )),
        Replace::Prompt { .. } => {
            let command = store.agent().loop_command();
            let active = if idle == Duration::MAX {
                "no sign of life could be read".to_string()
            } else {
                format!("last active {} ago", clock::human(idle))
            };
            Error::LoopActive(format!(
                "{what}, {active}); that session still looks live, so its loop was left alone. To replace it anyway, send `{command} --replace TASK`, or end it with `{command} cancel` and start again; a loop whose session shows no sign of life for {} is replaced without asking",
                clock::human(liveness::IDLE_AFTER)
            ))
        }
    }
}

/// How a loop ends: why, which event ended it, and what the history line adds.
#[derive(Debug, Clone)]
pub struct Ending {
    /// Why.
    pub outcome: Outcome,
    /// What ended it: a stop, `cancel`, a new loop's start.
    pub event: Event,
    /// The session that acted (default: the loop's own).
    pub session: Option<String>,
    /// The signal the last message carried (a stop's finish).
    pub tag: Option<Tag>,
    /// More to keep (verify's result, where a request came from …).
    pub detail: Option<String>,
    /// Tokens used in the turn the stop ended (with a token budget).
    pub tokens: Option<u64>,
    /// What the turn the stop ended cost, in nanodollars (with a money budget).
    pub cost: Option<u64>,
    /// Why that turn could not be priced, when that ended the loop.
    pub unpriced: Option<String>,
    /// The agent's last message, when a stop ended the loop (for the notify command).
    pub message: Option<String>,
}

impl Ending {
    /// An ending for `outcome` by `event`, nothing else said.
    pub fn new(outcome: Outcome, event: Event) -> Self {
        Ending {
            outcome,
            event,
            session: None,
            tag: None,
            detail: None,
            tokens: None,
            cost: None,
            unpriced: None,
            message: None,
        }
    }
}

/// Ends the loop of `record`, whose final state (`active: false`, the last decision) is
/// `last`: the record goes first (from then on no stop obeys it), then its mirror (and
/// the `.codex`/`.claude` folder if ralph-hook created it and it is empty); the outcome
/// stays in the history, and the user's notify command hears of it. The one way a loop
/// ends; the lock proves the caller holds it. Returns the outcome in words (for the
/// user, and the notice).
pub fn end(
    store: &Store,
    lock: &LockGuard,
    record: &LoopRecord,
    last: &LoopState,
    ending: Ending,
    now: SystemTime,
) -> Result<String> {
    store.remove_record(lock)?;
    if let Err(err) = store.remove_mirror(lock, record.created_state_dir) {
        warn(format!("the loop ended, but {err}"));
    }
    let mut entry =
        HistoryEntry::about(last, ending.event, Action::Finish, now).reason(ending.outcome);
    if let Some(session) = ending.session.as_deref() {
        entry = entry.session(Some(session));
    }
    if let Some(tag) = ending.tag {
        entry = entry.tag(tag);
    }
    let unpriced = ending.unpriced.as_deref().map(render::printable);
    let detail = match &unpriced {
        Some(why) => Some(format!("a response could not be priced: {why}")),
        None => ending_detail(last, ending.outcome, ending.detail),
    };
    if let Some(detail) = detail {
        entry = entry.detail(detail);
    }
    entry = entry.tokens(ending.tokens).cost(ending.cost);
    append(store, lock, &entry);
    let reason = match &unpriced {
        Some(why) => render::unpriced_message(last, why),
        None => render::outcome_message(last, &ending.outcome),
    };
    notify_user(
        store,
        lock,
        record,
        last,
        (ending.outcome.code(), &reason),
        ending.message.as_deref(),
        now,
    );
    Ok(reason)
}

/// What the finish line adds to its reason: how many stops made no progress, which
/// verify command passed (the reason `verified` already says that one did), or what the
/// caller gave.
fn ending_detail(last: &LoopState, outcome: Outcome, given: Option<String>) -> Option<String> {
    match outcome {
        Outcome::RepeatedMessage => Some(format!(
            "the same message came back {} stops in a row",
            last.no_progress
        )),
        Outcome::UnchangedWorkspace => Some(format!(
            "the workspace did not change over {} stops",
            last.no_progress
        )),
        Outcome::Verified => last.verify.as_ref().map(|cmd| format!("`{cmd}` passed")),
        Outcome::Completed | Outcome::StuckTask => given.or_else(|| {
            last.tasks
                .as_ref()
                .map(|tasks| format!("task list {}", tasks.status()))
        }),
        Outcome::IterationCap
        | Outcome::TimeLimit
        | Outcome::TokenLimit
        | Outcome::CostLimit
        | Outcome::Cancelled
        | Outcome::Replaced
        | Outcome::Error
        | Outcome::RestartsExhausted => given,
    }
}

/// Runs the user's `--notify` command, if the loop has one, for a loop that ended or
/// blocked (`outcome` as in the history, `reason` in words). It is started detached and
/// never waited for; a failure to start it goes to the history.
pub fn notify_user(
    store: &Store,
    lock: &LockGuard,
    record: &LoopRecord,
    state: &LoopState,
    (outcome, reason): (&str, &str),
    message: Option<&str>,
    now: SystemTime,
) {
    notify_about(
        store,
        lock,
        record,
        state,
        (outcome, reason, None),
        message,
        now,
    );
}

/// Runs the user's `--notify` command for a budget warning (`RALPH_OUTCOME` is
/// `budget_warning`, `RALPH_BUDGET` the budget's name), as [`notify_user`] does.
pub fn notify_budget_warning(
    store: &Store,
    lock: &LockGuard,
    record: &LoopRecord,
    budget: &str,
    reason: &str,
    now: SystemTime,
) {
    let state = &record.state;
    notify_about(
        store,
        lock,
        record,
        state,
        ("budget_warning", reason, Some(budget)),
        None,
        now,
    );
}

fn notify_about(
    store: &Store,
    lock: &LockGuard,
    record: &LoopRecord,
    state: &LoopState,
    (outcome, reason, budget): (&str, &str, Option<&str>),
    message: Option<&str>,
    now: SystemTime,
) {
    let Some(command) = record.notify.as_deref() else {
        return;
    };
    let notice = notify::Notice {
        outcome,
        reason,
        iteration: state.iteration,
        workspace: store.workspace(),
        task: &state.prompt,
        tokens: state.max_tokens.map(|max| (state.tokens_used, max)),
        cost: state.max_cost_nanos.map(|max| (state.cost_nanos, max)),
        budget,
        message,
    };
    if let Err(err) = notify::launch(command, &notice, record.agent, &record.loop_id) {
        append(
            store,
            lock,
            &HistoryEntry::about(state, Event::Notify, Action::Failed, now).detail(err.to_string()),
        );
    }
}

/// What a cancel did.
#[derive(Debug)]
pub enum Cancelled {
    /// The loop ended; this was its state.
    Removed(LoopState),
    /// The user's loop folder is read-only here (the agent's sandbox): a request was
    /// left in the workspace root for the next stop to carry out.
    Requested(LoopState, PathBuf),
}

/// Cancels the loop in `store`. The record is read under the lock, so a cancel racing
/// `start --force` ends the loop it reports, never the new one.
pub fn cancel(store: &Store, now: SystemTime) -> Result<Cancelled> {
    let lock = match store.lock() {
        Ok(lock) => lock,
        Err(err) if is_refused(&err) => return request_cancel(store),
        Err(err) => return Err(err),
    };
    let record = match store.load_or_set_aside(&lock, Event::Cancel, now)? {
        Loaded::Record(record) => record,
        Loaded::Missing => return Err(nothing_to(store, "cancel")),
        Loaded::SetAside(message) => return Err(Error::Failed(message)),
    };
    let state = record.state.clone();
    let ending = Ending::new(Outcome::Cancelled, Event::Cancel);
    let last = decide::finish_now(&record.state, ending.outcome, now);
    end(store, &lock, &record, &last, ending, now)?;
    Ok(Cancelled::Removed(state))
}

/// Inside the agent's sandbox: names the loop in a request file the next stop honours.
fn request_cancel(store: &Store) -> Result<Cancelled> {
    let Some(record) = store.read_record()? else {
        return Err(nothing_to(store, "cancel"));
    };
    let path = workspace::cancel_request_path(store.workspace());
    Dir::open(store.workspace())
        .map_err(io::Error::from)
        .and_then(|dir| {
            dir.write_atomic(
                workspace::CANCEL_REQUEST_FILE,
                format!("{}\n", record.loop_id).as_bytes(),
                0o644,
                None,
            )
        })
        .map_err(|err| Error::io("leave a cancel request", &path, err))?;
    Ok(Cancelled::Requested(record.state, path))
}

/// The error for a command that needs the user's loop where there is none.
fn nothing_to(store: &Store, what: &str) -> Error {
    Error::NoLoop {
        action: what.to_string(),
        workspace: store.workspace().to_path_buf(),
        unadopted: store.has_mirror().then(|| store.state_path()),
    }
}

/// With a money budget, the model the session answers with must have a price: a model
/// the transcript names and the table lacks refuses the loop (what to add, where); a
/// model not known yet (no transcript, no response so far) is a note that the first
/// response's model is priced and one without a price ends the loop.
fn check_price(
    settings: &LoopSettings,
    transcript: Option<&Path>,
    agent: Agent,
) -> Result<Option<String>> {
    if settings.max_cost.is_none() {
        return Ok(None);
    }
    let model = transcript
        .and_then(|path| usage::start(path, agent).ok())
        .and_then(|cursor| cursor.model);
    let Some(model) = model else {
        return Ok(Some(
            "--max-cost: the session's model is not known yet; the first response's model is priced (`ralph-hook config prices`), and a model without a price ends the loop".to_string(),
        ));
    };
    let prices = UserConfig::load()?.prices();
    if prices.find(&model).is_none() {
        return Err(Error::usage(format!(
            "--max-cost cannot keep a budget for this session: {}",
            Unpriced::Model(render::printable(&model).into_owned())
        )));
    }
    Ok(None)
}

/// Where the token count of `record`'s loop starts: at the end of its session's
/// transcript as it is now, so nothing used before counts. `None` when the transcript is
/// not known yet (a loop started from a terminal): the first stop starts it.
pub fn start_count(record: &LoopRecord) -> Option<Cursor> {
    let transcript = record.transcript.as_deref()?;
    match usage::start(transcript, record.agent) {
        Ok(cursor) => Some(cursor),
        Err(err) => {
            warn(format!(
                "cannot count tokens in the transcript {}: {err}; counting starts at the next stop",
                transcript.display()
            ));
            None
        }
    }
}

/// Pauses (`true`) or resumes (`false`) the loop in `store`, returning it.
pub fn set_paused(store: &Store, paused: bool, now: SystemTime) -> Result<LoopState> {
    let lock = store.lock().map_err(sandbox_hint)?;
    let mut record = load_existing(store, if paused { "pause" } else { "resume" })?;
    if record.state.paused == paused {
        return Err(Error::Failed(format!(
            "the loop in {} is already {}",
            store.workspace().display(),
            if paused { "paused" } else { "running" }
        )));
    }
    record.state.paused = paused;
    record.state.updated_at = clock::format(now);
    if !paused {
        resume_counting(&mut record);
        // Until the next stop, the session's next prompt continues the loop (it is not
        // the user steering a running turn).
        record.state.last_decision = Some(LastDecision {
            at: record.state.updated_at.clone(),
            decision: Action::Resume.into(),
            why: "resumed; the session's next prompt continues the loop".into(),
        });
    }
    if let Some(err) = store.save(&lock, &mut record).map_err(sandbox_hint)? {
        warn(err);
    }
    let (event, action) = if paused {
        (Event::Pause, Action::Pause)
    } else {
        (Event::Resume, Action::Resume)
    };
    append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, event, action, now),
    );
    Ok(record.state)
}

/// Records the stop a paused loop let through (`state` is the loop after it, from the
/// decision): the record says so and the history has the line, so `show` and `wait` tell
/// a headless user that nothing continues until they resume it.
pub fn record_paused_stop(
    store: &Store,
    lock: &LockGuard,
    mut record: LoopRecord,
    state: LoopState,
    session: Option<&str>,
    now: SystemTime,
) -> Result<()> {
    record.state = state;
    if let Some(err) = store.save(lock, &mut record)? {
        warn(err);
    }
    append(
        store,
        lock,
        &HistoryEntry::about(&record.state, Event::Stop, Action::Pause, now)
            .session(session)
            .detail(format!(
                "{}; `ralph-hook resume`, then a prompt in the session, continues it",
                decide::PAUSED_STOP
            )),
    );
    Ok(())
}

/// What a resumed loop forgets: why the agent was blocked, and the tokens used while it
/// was paused (the count goes on from the transcript's end as it is now).
fn resume_counting(record: &mut LoopRecord) {
    record.state.blocked = None;
    record.state.steering = None;
    record.state.orphaned = None;
    if record.state.counts_usage() {
        record.usage = start_count(record);
    }
}

/// The user's prompt in the session whose agent said it was blocked: the loop goes on
/// from this prompt, which carries their answer. Returns the resumed loop and what the
/// agent was blocked on; `None` when
/// the session has no blocked loop here (the common case: a record lookup, no lock).
pub fn resume_blocked(
    store: &Store,
    session: &str,
    transcript: Option<&Path>,
    now: SystemTime,
) -> Result<Option<(LoopState, String)>> {
    let waiting = |record: &LoopRecord| {
        let state = &record.state;
        state.active
            && state.paused
            && state.blocked.is_some()
            && !session.is_empty()
            && state.session_id.as_deref() == Some(session)
    };
    match store.load() {
        Ok(Some(record)) if waiting(&record) => {}
        Ok(_) | Err(_) => return Ok(None),
    }
    let lock = store.lock()?;
    let mut record = match store.load() {
        Ok(Some(record)) if waiting(&record) => record,
        Ok(_) | Err(_) => return Ok(None),
    };
    let reason = record.state.blocked.clone().unwrap_or_default();
    record.state.paused = false;
    record.state.updated_at = clock::format(now);
    if let Some(transcript) = transcript {
        record.transcript = Some(transcript.to_path_buf());
    }
    resume_counting(&mut record);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Resume, Action::Resume, now)
            .session(Some(session))
            .detail(format!(
                "the user answered what the agent was blocked on: {reason}"
            )),
    );
    Ok(Some((record.state, reason)))
}

/// Makes a state file this user did not start a loop of theirs — the one door for a
/// file from elsewhere: upgraded to version 2, unbound, and recorded, so the next
/// session that stops here claims it. Its task, budgets and verify command become the
/// user's record, so `show` it first.
pub fn adopt(store: &Store, now: SystemTime) -> Result<LoopState> {
    let lock = store.lock().map_err(sandbox_hint)?;
    match store.load_or_set_aside(&lock, Event::Adopt, now)? {
        Loaded::Record(_) => {
            return Err(Error::Failed(format!(
                "the loop in {} is already yours; nothing to adopt",
                store.workspace().display()
            )));
        }
        Loaded::Missing => {}
        Loaded::SetAside(message) => warn(message),
    }
    let mut state = match store.read_mirror() {
        Mirror::Found(state) => *state,
        Mirror::Missing => {
            return Err(Error::Failed(format!(
                "no state file to adopt in {}",
                store.workspace().display()
            )));
        }
        Mirror::Unusable(why) => {
            return Err(Error::input(store.state_path().display().to_string(), why));
        }
    };
    // What the agent will read is what `show` displayed: nothing invisible in it.
    state.prompt = render::revealed(&state.prompt);
    settings::check_task_signal(&state.prompt, &state.completion_signal)?;
    state.loop_id = Some(ownership::new_loop_id());
    // A planted dedupe key would make the host's next prompt event look handled.
    state.handled = None;
    state.state_version = STATE_VERSION;
    state.session_id = None;
    state.started_by = Some(StartedBy::Adopt);
    state.active = true;
    state.paused = false;
    state.blocked = None;
    state.tokens_used = 0;
    state.updated_at = clock::format(now);
    if state.created_at.is_empty() || clock::parse(&state.created_at).is_none() {
        state.created_at = state.updated_at.clone();
    }
    let mut record = LoopRecord::new(state, store.agent(), store.workspace());
    record.git = workspace::is_git_repository(store.workspace());
    if let Some(err) = store.save(&lock, &mut record).map_err(sandbox_hint)? {
        warn(err);
    }
    append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Adopt, Action::Adopt, now),
    );
    Ok(record.state)
}

fn load_existing(store: &Store, what: &str) -> Result<LoopRecord> {
    store.read_record()?.ok_or_else(|| nothing_to(store, what))
}

/// True when a write was refused because the folder is read-only or not ours (the
/// agent's sandbox).
fn is_refused(err: &Error) -> bool {
    match err {
        Error::Io { source, .. } => {
            matches!(
                source.kind(),
                io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
            ) || source.raw_os_error() == Some(30)
        }
        Error::Usage(_)
        | Error::Input { .. }
        | Error::NoLoop { .. }
        | Error::LoopActive(_)
        | Error::Failed(_) => false,
    }
}

/// Turns a refused write into the error that explains the agent's sandbox.
pub fn sandbox_hint(err: Error) -> Error {
    if is_refused(&err) {
        err.with_hint(
            "inside the agent's sandbox the user's loop folder is read-only: loops are started by the prompt hook — write `$ralph-loop TASK` (Claude Code: `/ralph-loop TASK`) as your prompt — and `ralph-hook show` tells whether one runs",
        )
    } else {
        err
    }
}

/// The longest first line of a refused prompt the history keeps.
const REFUSED_PROMPT_CHARS: usize = 200;

/// Records that the prompt hook refused the user's `prompt` (`why`, and `fix`: what to
/// do instead), so `log`, `show` and `wait` can say what `codex exec` and `claude -p`
/// never show. The history keeps the prompt's first line, bounded. Like every history
/// line this is worth a warning when it fails, never the refusal itself.
pub fn record_refusal(
    store: &Store,
    session: Option<&str>,
    prompt: &str,
    why: &str,
    fix: &str,
    now: SystemTime,
) {
    let lock = match store.lock() {
        Ok(lock) => lock,
        Err(err) => {
            warn(format!("could not record the refused prompt: {err}"));
            return;
        }
    };
    let first: String = prompt
        .trim()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(REFUSED_PROMPT_CHARS)
        .collect();
    let entry = HistoryEntry {
        at: clock::format(now),
        event: Event::Prompt,
        decision: Action::Refuse,
        reason: None,
        loop_id: None,
        session_id: session.filter(|s| !s.is_empty()).map(str::to_string),
        iteration: 0,
        max_iterations: 0,
        tag: None,
        detail: Some(format!("`{first}`: {why}; {fix}")),
        tokens: None,
        tokens_used: None,
        max_tokens: None,
        cost_nanos: None,
        cost_used_nanos: None,
        max_cost_nanos: None,
    };
    append(store, &lock, &entry);
}

/// Appends a history line; a failure is worth a warning, never the operation.
pub fn append(store: &Store, lock: &LockGuard, entry: &HistoryEntry) {
    if let Err(err) = store.append_history(lock, entry) {
        warn(err);
    }
}
