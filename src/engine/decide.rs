//! Where the stop is decided: the pure core of ralph-hook.
//!
//! [`decide`] takes the loop, what the stop event says (how the stop stands toward the
//! loop, whether the other installation already answered it, any cancel request, the
//! message, the verify command's result and where the loop stood when it started) and
//! the time, and returns what happens and the loop's next state. The whole truth table
//! is here, trust included; it does no IO: finding the record, reading the request, the
//! verify command and the git fingerprint happen around it, in `engine::stop`, which
//! also writes what the decision means.

use std::time::{Duration, SystemTime};

use crate::clock;
use crate::engine::action::Action;
use crate::engine::digest;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::ownership::{Standing, Untrusted};
use crate::engine::settings::WrapUp;
use crate::engine::signal::{self, Signal, Tag};
use crate::engine::state::{LastChange, LastDecision, LoopState, StartedBy};
use crate::engine::tasks::{self, Note, OnStuck, TaskLook, Verdict};

pub use crate::engine::outcome::Outcome;

/// What a stop brings to the decision.
#[derive(Debug, Clone, Copy)]
pub struct StopEvent<'a> {
    /// How the stop stands toward the loop (judged with the user's record).
    pub standing: Standing,
    /// The stop's session (bound to the loop when it claims it).
    pub session: &'a str,
    /// The other installation of ralph-hook (plugin and `install` both in place) acted
    /// on this stop already (see `engine::once`); the state carries the mark that says so.
    pub seen_again: bool,
    /// The loop id a cancel request in the workspace names, if there is one.
    pub cancel_request: Option<&'a str>,
    /// The assistant's last message, if the host sent it or the transcript had it.
    pub message: Option<&'a str>,
    /// The git workspace's fingerprint, when the brake needs it.
    pub workspace: Option<&'a Fingerprint>,
    /// The verify command's result, once it has run for this stop.
    pub verification: Option<Verified<'a>>,
    /// Tokens the session used since the previous counted stop (read from the host's
    /// transcript when the loop has a token budget).
    pub tokens: Option<u64>,
    /// What the session's responses since the previous counted stop cost (priced at the
    /// edge, from the transcript, when the loop has a money budget).
    pub cost: Option<Cost<'a>>,
    /// The background work the session leaves running as its turn ends (Claude Code's
    /// `background_tasks` and `session_crons`), in words; `None` when there is none.
    pub background: Option<&'a str>,
    /// What the stop saw of the loop's task list (`--tasks`), when it has one.
    pub tasks: Option<&'a TaskLook>,
}

impl Default for StopEvent<'_> {
    /// The loop owner's stop with nothing in it: no message, no request.
    fn default() -> Self {
        StopEvent {
            standing: Standing::Owner,
            session: "",
            seen_again: false,
            cancel_request: None,
            message: None,
            workspace: None,
            verification: None,
            tokens: None,
            cost: None,
            background: None,
            tasks: None,
        }
    }
}

/// What a stop's responses cost, as the edge priced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost<'a> {
    /// This many nanodollars.
    Priced(u64),
    /// A response could not be priced, for this reason (a model without a price): never
    /// a silent zero, so a loop with a money budget ends.
    Unpriced(&'a str),
}

/// A verify command's result, and where the loop stood when the command was started:
/// the result judges that stop only, so it counts only while the loop is still there.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    /// How the command went.
    pub result: &'a Verification,
    /// The loop it ran for.
    pub loop_id: Option<&'a str>,
    /// That loop's iteration when it started.
    pub iteration: u32,
}

impl<'a> Verified<'a> {
    /// `result` of the command started for the loop as `state` was then.
    pub fn of(result: &'a Verification, state: &'a LoopState) -> Self {
        Verified {
            result,
            loop_id: state.loop_id.as_deref(),
            iteration: state.iteration,
        }
    }

    /// True when `state` is still the loop, at the iteration, that the command ran for.
    fn still_for(&self, state: &LoopState) -> bool {
        state.loop_id.as_deref() == self.loop_id && state.iteration == self.iteration
    }
}

/// How a `--verify` command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// It exited 0.
    Passed,
    /// It exited otherwise; `status` says how, `tail` is the end of its output.
    Failed {
        /// "exit code 1", "killed by signal 9" …
        status: String,
        /// The last lines of stdout and stderr.
        tail: String,
    },
    /// It ran past its timeout and was killed with its children.
    TimedOut {
        /// The limit it hit.
        after: Duration,
        /// The last lines of its output.
        tail: String,
    },
    /// It could not be started at all (no shell, no such directory …).
    CouldNotStart {
        /// Why.
        error: String,
    },
}

impl Verification {
    /// One line saying how the verify command went.
    pub fn summary(&self) -> String {
        match self {
            Verification::Passed => "passed".into(),
            Verification::Failed { status, .. } => format!("failed ({status})"),
            Verification::TimedOut { after, .. } => {
                format!("timed out after {}", clock::human(*after))
            }
            Verification::CouldNotStart { error } => format!("could not start ({error})"),
        }
    }

    /// The end of the command's output, if it produced any.
    pub fn tail(&self) -> &str {
        match self {
            Verification::Failed { tail, .. } | Verification::TimedOut { tail, .. } => tail,
            Verification::Passed | Verification::CouldNotStart { .. } => "",
        }
    }
}

/// What the stop does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Another session's loop: let the turn end, say nothing, write nothing.
    Ignore,
    /// A state file the user never started: let the turn end and leave it alone (the
    /// hook says once how to adopt it).
    NotFollowed(Untrusted),
    /// Let the turn end and leave the loop as it is (a paused or inactive loop).
    Allow,
    /// The other installation of ralph-hook acted on this stop already and its answer is
    /// the one the host needs: let the turn end silently, keeping only the mark that says
    /// this installation ran too.
    Duplicate,
    /// While the verify command ran, another stop moved the loop on (or it ended or was
    /// replaced): the result is for a loop that no longer stands there, so let the turn
    /// end and change nothing.
    MovedOn,
    /// Hand back a continuation prompt; the loop goes on.
    Block(Continuation),
    /// The agent is blocked on the user, for this reason: let the turn end and pause the
    /// loop until the user answers.
    Blocked(String),
    /// Let the turn end and finish the loop for this reason.
    Finish(Outcome),
    /// The completion signal arrived and a verify command must judge it first: run it
    /// and decide again with its result.
    Verify,
    /// The turn ended while the session's background work still runs: let it end without
    /// spending an iteration or moving the no-progress brake; the host wakes the session
    /// when that work is done and the loop goes on from that turn's stop.
    Wait(String),
}

/// What the continuation prompt must say beyond the usual.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Continuation {
    /// The last message carried neither signal: remind the agent of the contract.
    pub missing_signal: bool,
    /// The agent claimed completion (or an item of the task list) but the verify command
    /// rejected it.
    pub rejected: Option<Verification>,
    /// What the stop did with the task list: an item accepted or not, a completion
    /// signal rejected while items are open, an item left as stuck.
    pub tasks: Vec<Note>,
    /// The budget thresholds this stop crossed (`--warn-at`), each given once per loop.
    pub warnings: Vec<BudgetWarning>,
    /// This is the wrap-up turn (`--wrap-up`): the named budget is spent, and the loop
    /// ends after this turn.
    pub wrap_up: Option<&'static str>,
}

/// A budget crossed one of the loop's `--warn-at` thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetWarning {
    /// `iterations`, `duration`, `tokens` or `cost`.
    pub budget: &'static str,
    /// The threshold crossed, percent.
    pub percent: u8,
}

/// The thresholds `next` has crossed and not been warned of (marked as warned in it).
fn budget_warnings(next: &mut LoopState, now: SystemTime) -> Vec<BudgetWarning> {
    let used = [
        (
            "iterations",
            u128::from(next.iteration),
            u128::from(next.max_iterations),
        ),
        (
            "duration",
            next.elapsed(now).as_secs().into(),
            next.max_duration_secs.unwrap_or(0).into(),
        ),
        (
            "tokens",
            next.tokens_used.into(),
            next.max_tokens.unwrap_or(0).into(),
        ),
        (
            "cost",
            next.cost_nanos.into(),
            next.max_cost_nanos.unwrap_or(0).into(),
        ),
    ];
    let mut warnings = Vec::new();
    for (budget, spent, limit) in used {
        if limit == 0 {
            continue;
        }
        let percent = spent.saturating_mul(100) / limit;
        for threshold in next.warn_at.clone() {
            let key = format!("{budget}:{threshold}");
            if percent >= u128::from(threshold) && !next.warned.contains(&key) {
                next.warned.push(key);
                warnings.push(BudgetWarning {
                    budget,
                    percent: threshold,
                });
            }
        }
    }
    warnings
}

/// What became of a cancel request the stop found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// There was none (or the stop did not get to it).
    None,
    /// It named this loop, which ends.
    Honoured,
    /// It named another loop: ignored (and removed).
    OtherLoop,
}

/// The result of one decision: what happens, the loop's next state, and the tag the
/// message carried (for the history).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the stop does.
    pub decision: Decision,
    /// The loop after this stop (for `Finish`, the final state, with `active: false`).
    pub state: LoopState,
    /// Which signal the message carried.
    pub tag: Tag,
    /// This stop's session claimed the loop (it is bound in `state`).
    pub claimed: bool,
    /// What became of the cancel request.
    pub request: Request,
    /// The tokens this stop added to the loop's count (`None`: nothing counted, e.g. a
    /// paused loop, or no reading of the transcript).
    pub tokens: Option<u64>,
    /// The nanodollars this stop added to the loop's spend (`None`: nothing priced).
    pub cost: Option<u64>,
    /// Why this stop's responses could not be priced, when that ended the loop.
    pub unpriced: Option<String>,
}

impl Step {
    /// A step that only decides: no claim, no cancel request, nothing counted or priced
    /// (the counts are added where a stop reads the transcript).
    fn plain(decision: Decision, state: LoopState, tag: Tag) -> Step {
        Step {
            decision,
            state,
            tag,
            claimed: false,
            request: Request::None,
            tokens: None,
            cost: None,
            unpriced: None,
        }
    }
}

/// Decides one stop: `state` is the loop as the user's record holds it (for a state
/// file without a record, as the file says), `event` how the stop stands and what it
/// brings.
pub fn decide(state: &LoopState, event: StopEvent<'_>, now: SystemTime) -> Step {
    let untouched = |decision| Step::plain(decision, state.clone(), Tag::None);
    let claimed = match event.standing {
        Standing::Untrusted(why) => return untouched(Decision::NotFollowed(why)),
        Standing::OtherSession => return untouched(Decision::Ignore),
        Standing::Claim => true,
        Standing::Owner => false,
    };
    if event.verification.is_some_and(|ran| !ran.still_for(state)) {
        return untouched(Decision::MovedOn);
    }
    if event.seen_again {
        return untouched(Decision::Duplicate);
    }
    let mut next = state.clone();
    if claimed {
        next.session_id = Some(event.session.to_string());
    }
    let request = match event.cancel_request {
        None => Request::None,
        Some(id) if state.loop_id.as_deref() == Some(id) => Request::Honoured,
        Some(_) => Request::OtherLoop,
    };
    if request == Request::Honoured {
        let mut step = finish(next, Outcome::Cancelled, Tag::None, now);
        step.claimed = claimed;
        step.request = request;
        return step;
    }
    let mut step = decide_owned(state, next, event, now);
    step.claimed = claimed;
    step.request = request;
    // Only a running loop counts what the session used.
    let running = state.active && !state.paused;
    step.tokens = event.tokens.filter(|_| running);
    step.cost = match event.cost {
        Some(Cost::Priced(nanos)) if running => Some(nanos),
        Some(Cost::Priced(_) | Cost::Unpriced(_)) | None => None,
    };
    step
}

/// How far past `--max-duration` a loop may be and still get its wrap-up turn: a turn
/// that overran the time budget by more is cut there (the loop ends at once).
pub const WRAP_UP_BOUND: Duration = Duration::from_secs(10 * 60);

/// Why a paused loop's stop was let through, as `last_decision` and `show` say it.
pub const PAUSED_STOP: &str =
    "the loop is paused, so the stop was allowed and the session ended its turn";

/// Whether the paused loop `state` already let a stop through since it was paused.
fn paused_stop_seen(state: &LoopState) -> bool {
    state
        .last_decision
        .as_ref()
        .is_some_and(|last| last.why == PAUSED_STOP)
}

/// The owner's stop: paused, signals, budgets, brakes.
fn decide_owned(
    state: &LoopState,
    mut next: LoopState,
    event: StopEvent<'_>,
    now: SystemTime,
) -> Step {
    let signal = event.message.map_or(Signal::None, |message| {
        signal::classify_signal(message, &state.completion_signal, &state.continue_signal)
    });
    let tag = signal.tag();
    if !state.active || state.paused {
        if state.active && state.blocked.is_none() && !paused_stop_seen(state) {
            // The first stop after `pause` lets the turn end: a headless client exits
            // here, so the record must say so (not "sent a continuation prompt").
            next.updated_at = clock::format(now);
            next.last_decision = Some(LastDecision {
                at: next.updated_at.clone(),
                decision: Action::Pause.into(),
                why: PAUSED_STOP.to_string(),
            });
        }
        return Step::plain(Decision::Allow, next, tag);
    }
    next.updated_at = clock::format(now);
    // The session stops here again: it was not gone for good (`claude -p --resume`).
    next.orphaned = None;
    next.stop_failure = None;
    if let Some(tokens) = event.tokens {
        next.tokens_used = state.tokens_used.saturating_add(tokens);
    }
    let mut unpriced = None;
    match event.cost {
        Some(Cost::Priced(nanos)) => next.cost_nanos = state.cost_nanos.saturating_add(nanos),
        Some(Cost::Unpriced(why)) if state.max_cost_nanos.is_some() => unpriced = Some(why),
        Some(Cost::Unpriced(_)) | None => {}
    }

    let mut rejected = None;
    let mut notes = Vec::new();
    if state.tasks.is_some() {
        match judge_tasks(state, &mut next, event, tag, &mut notes) {
            TaskStep::Go => {}
            TaskStep::Rejected(failed) => rejected = Some(failed),
            TaskStep::Done(outcome) => return finish(next, outcome, tag, now),
            TaskStep::Verify => {
                return Step::plain(Decision::Verify, next, tag);
            }
            TaskStep::Unreadable(why) => {
                // Fail open: the turn ends, the loop waits for the user to fix the file.
                let reason = format!("the task list cannot be read: {why}; fix the file");
                next.paused = true;
                next.blocked = Some(reason.clone());
                next.last_decision = Some(LastDecision {
                    at: next.updated_at.clone(),
                    decision: Action::Pause.into(),
                    why: reason.clone(),
                });
                return Step::plain(Decision::Blocked(reason), next, tag);
            }
        }
    } else if tag == Tag::Promise {
        match (&state.verify, event.verification.map(|ran| ran.result)) {
            (None, _) => return finish(next, Outcome::Completed, tag, now),
            (Some(_), None) => {
                return Step::plain(Decision::Verify, next, tag);
            }
            (Some(_), Some(Verification::Passed)) => {
                return finish(next, Outcome::Verified, tag, now);
            }
            (Some(_), Some(failed)) => rejected = Some(failed.clone()),
        }
    }

    if let Some(why) = unpriced {
        let mut step = finish(next, Outcome::CostLimit, tag, now);
        step.unpriced = Some(why.to_string());
        return step;
    }
    if let Some(outcome) = state.wrapping_up.as_deref().and_then(Outcome::from_code) {
        // The wrap-up turn is over: the loop ends with the budget's outcome.
        return finish(next, outcome, tag, now);
    }
    let spent = if state
        .max_duration()
        .is_some_and(|limit| state.elapsed(now) >= limit)
    {
        Some((Outcome::TimeLimit, "time budget", WrapUp::Budgets))
    } else if state
        .max_tokens
        .is_some_and(|budget| next.tokens_used >= budget)
    {
        Some((Outcome::TokenLimit, "token budget", WrapUp::Budgets))
    } else if state
        .max_cost_nanos
        .is_some_and(|budget| next.cost_nanos >= budget)
    {
        Some((Outcome::CostLimit, "money budget", WrapUp::Budgets))
    } else if state.max_iterations > 0 && state.iteration >= state.max_iterations {
        Some((Outcome::IterationCap, "iteration cap", WrapUp::All))
    } else {
        None
    };
    if let Some((outcome, budget, needs)) = spent {
        let wraps = match (state.wrap_up, needs) {
            (WrapUp::All, _) | (WrapUp::Budgets, WrapUp::Budgets) => true,
            (WrapUp::Off, _) | (WrapUp::Budgets, WrapUp::All | WrapUp::Off) => false,
        };
        // A turn that ran far past the time budget gets no more time.
        let too_late = outcome == Outcome::TimeLimit
            && state
                .max_duration()
                .is_some_and(|limit| state.elapsed(now) > limit.saturating_add(WRAP_UP_BOUND));
        if !wraps || too_late || state.wrapping_up.is_some() || tag == Tag::Blocked {
            return finish(next, outcome, tag, now);
        }
        next.wrapping_up = Some(outcome.code().to_string());
        next.iteration = state.iteration.saturating_add(1);
        next.last_decision = Some(LastDecision {
            at: next.updated_at.clone(),
            decision: Action::Block.into(),
            why: format!("the {budget} is spent: one wrap-up turn, then the loop ends"),
        });
        return Step::plain(
            Decision::Block(Continuation {
                wrap_up: Some(budget),
                ..Continuation::default()
            }),
            next,
            tag,
        );
    }
    if let Signal::Blocked(reason) = signal {
        // Waiting on the user is not a turn of work: nothing is counted, the brakes do
        // not move, and the user's next prompt in the session resumes the loop.
        next.paused = true;
        next.blocked = Some(reason.clone());
        next.last_decision = Some(LastDecision {
            at: next.updated_at.clone(),
            decision: Action::Pause.into(),
            why: format!("the agent is blocked on the user: {reason}"),
        });
        return Step::plain(Decision::Blocked(reason), next, tag);
    }
    if let Some(work) = event.background {
        // Claude Code's Stop hook fires while the session's background work runs; the
        // host wakes the session when it finishes (a task notification), so this is not
        // a turn that made no progress, and blocking would only make the agent poll.
        next.waiting = Some(work.to_string());
        next.last_decision = Some(LastDecision {
            at: next.updated_at.clone(),
            decision: Action::Wait.into(),
            why: format!("the session's background work still runs: {work}"),
        });
        return Step::plain(Decision::Wait(work.to_string()), next, tag);
    }
    next.waiting = None;
    if state.no_progress > 0 {
        track_progress(&mut next, event);
        if next.progress.same_message_stops >= state.no_progress {
            return finish(next, Outcome::RepeatedMessage, tag, now);
        }
        if next.progress.unchanged_workspace_stops >= state.no_progress {
            return finish(next, Outcome::UnchangedWorkspace, tag, now);
        }
    }

    if let Some(outcome) = stuck_task(state, &mut next, event, &mut notes) {
        return finish(next, outcome, tag, now);
    }
    if let Some(tasks) = &mut next.tasks {
        tasks.iterations = tasks.iterations.saturating_add(1);
    }
    next.iteration = state.iteration.saturating_add(1);
    let warnings = budget_warnings(&mut next, now);
    let why = match notes.first() {
        Some(note) => tasks::note_why(note),
        None => default_why(&rejected, tag),
    };
    next.last_decision = Some(LastDecision {
        at: next.updated_at.clone(),
        decision: Action::Block.into(),
        why,
    });
    Step::plain(
        Decision::Block(Continuation {
            missing_signal: tag == Tag::None && rejected.is_none(),
            rejected,
            tasks: notes,
            warnings,
            wrap_up: None,
        }),
        next,
        tag,
    )
}

/// What the task list makes of a stop, before the budgets.
enum TaskStep {
    /// Go on with the usual decision (notes may say what happened).
    Go,
    /// The current item is a candidate and the verify command failed.
    Rejected(Verification),
    /// The loop ends: the last item was accepted (or left as stuck).
    Done(Outcome),
    /// The current item is a candidate: run the verify command first.
    Verify,
    /// The task file cannot be read now.
    Unreadable(String),
}

/// Judges the loop's task list on the stop's look at it: accepts the current item on
/// evidence (after verify), says why a checked item is not accepted, rejects the
/// completion signal while items are open, and ends the loop once none is.
fn judge_tasks(
    state: &LoopState,
    next: &mut LoopState,
    event: StopEvent<'_>,
    tag: Tag,
    notes: &mut Vec<Note>,
) -> TaskStep {
    let (Some(progress), Some(tasks)) = (&state.tasks, next.tasks.as_mut()) else {
        return TaskStep::Go;
    };
    let look = event.tasks;
    let list = look.and_then(|look| look.list.as_ref().ok());
    let mut step = TaskStep::Go;
    match look.map(|look| tasks::judge(progress, look)) {
        Some(Verdict::Unreadable(why)) => return TaskStep::Unreadable(why),
        Some(Verdict::AllDone) => {
            return TaskStep::Done(if tasks.stuck.is_empty() {
                Outcome::Completed
            } else {
                Outcome::StuckTask
            });
        }
        Some(Verdict::Candidate { item, evidence }) => {
            match (&state.verify, event.verification.map(|ran| ran.result)) {
                (Some(_), None) => return TaskStep::Verify,
                (Some(_), Some(failed)) if *failed != Verification::Passed => {
                    notes.push(Note::VerifyFailed { item });
                    step = TaskStep::Rejected(failed.clone());
                }
                (None, _) | (Some(_), Some(_)) => {
                    if let Some(list) = list {
                        tasks.accept(list, event.workspace);
                    }
                    notes.push(Note::Accepted { item, evidence });
                    if tasks.current.is_none() {
                        return TaskStep::Done(if tasks.stuck.is_empty() {
                            Outcome::Completed
                        } else {
                            Outcome::StuckTask
                        });
                    }
                }
            }
        }
        Some(Verdict::CheckedWithoutChange { item, why }) => {
            tasks.rejected = Some(format!("\"{}\": {why}", tasks::shown(&item)));
            notes.push(Note::CheckedWithoutChange { item, why });
        }
        Some(Verdict::Working) => {
            if let Some(list) = list {
                tasks.refresh(list);
            }
        }
        None => {}
    }
    if tag == Tag::Promise {
        let open = match list {
            Some(list) => tasks
                .open(list)
                .iter()
                .map(|item| item.text.clone())
                .collect(),
            None => tasks.current.iter().cloned().collect(),
        };
        notes.push(Note::CompletionWhileOpen { open });
    }
    step
}

/// The current item used up `--max-iterations-per-task`: `stop` ends the loop
/// (`stuck_task`), `skip` leaves it open and goes on (the loop ends once no item is
/// left). Not when this stop accepted an item (its count starts again).
fn stuck_task(
    state: &LoopState,
    next: &mut LoopState,
    event: StopEvent<'_>,
    notes: &mut Vec<Note>,
) -> Option<Outcome> {
    let before = state.tasks.as_ref()?;
    let tasks = next.tasks.as_mut()?;
    let accepted_now = tasks.accepted.len() > before.accepted.len();
    if tasks.max_per_task == 0 || accepted_now || before.iterations < tasks.max_per_task {
        return None;
    }
    match tasks.on_stuck {
        OnStuck::Stop => Some(Outcome::StuckTask),
        OnStuck::Skip => {
            let list = event.tasks.and_then(|look| look.list.as_ref().ok())?;
            let item = tasks.skip(list, event.workspace)?;
            notes.push(Note::Stuck { item });
            tasks.current.is_none().then_some(Outcome::StuckTask)
        }
    }
}

/// Why a plain continuation was sent, for `last_decision`.
fn default_why(rejected: &Option<Verification>, tag: Tag) -> String {
    match (rejected, tag) {
        (Some(verification), _) => format!(
            "the completion signal was rejected because the verify command {}",
            verification.summary()
        ),
        (None, Tag::Continue) => "the agent's message ended with the continuation signal".into(),
        (None, Tag::Promise | Tag::Blocked | Tag::None) => {
            "the agent's message carried neither signal, so it was reminded of them".into()
        }
    }
}

/// Who wrote a prompt, as the host says: Claude Code's UserPromptSubmit `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptSource<'a> {
    /// The user's own words (`user`; also a payload without `source`: Codex, and Claude
    /// Code versions before the field).
    User,
    /// Anything else (`sdk`, `system`, `loop_wakeup`, `schedule_wakeup`, `poll_event` …):
    /// the host or a program wrote it, not the user.
    Other(&'a str),
}

impl<'a> PromptSource<'a> {
    /// The source a payload's `source` field names.
    pub fn of(source: Option<&'a str>) -> Self {
        match source {
            None | Some("user") => PromptSource::User,
            Some(other) => PromptSource::Other(other),
        }
    }
}

/// What a prompt brings to the prompt hook's decision.
#[derive(Debug, Clone, Copy)]
pub struct PromptEvent<'a> {
    /// The prompt's session.
    pub session: &'a str,
    /// Who wrote it.
    pub source: PromptSource<'a>,
    /// It is a `$ralph-loop …` command (start, cancel, resume …).
    pub command: bool,
}

/// What the prompt hook does with a prompt, given the workspace's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptDecision {
    /// Nothing to do with the loop: a command goes its way, a plain prompt is left alone.
    Pass,
    /// Not the user's words, where the user's would have acted (a command, or a prompt in
    /// the session of a blocked or running loop): ignored, and the history says so.
    Ignore,
    /// The user answers what the agent was blocked on: the loop goes on from this prompt.
    Resume,
    /// The user types into the session of a running loop: they take the wheel, and the
    /// loop pauses for this turn.
    Steer,
    /// The user types into the session whose last turn an API error ended (StopFailure):
    /// the loop goes on from this prompt.
    Retry,
}

/// Decides what a prompt does to `state`, the user's record of the workspace's loop (if
/// any): only the user's own words start, resume, cancel, replace or steer a loop.
pub fn decide_prompt(state: Option<&LoopState>, event: PromptEvent<'_>) -> PromptDecision {
    let ours = state.filter(|state| {
        state.active
            && !event.session.is_empty()
            && state.session_id.as_deref() == Some(event.session)
    });
    match (event.source, event.command, ours) {
        (PromptSource::Other(_), true, _) => PromptDecision::Ignore,
        (PromptSource::Other(_), false, Some(state))
            if !state.paused || state.blocked.is_some() =>
        {
            PromptDecision::Ignore
        }
        (PromptSource::Other(_), false, _) | (PromptSource::User, true, _) => PromptDecision::Pass,
        (PromptSource::User, false, None) => PromptDecision::Pass,
        (PromptSource::User, false, Some(state)) => match (state.paused, &state.blocked) {
            (true, Some(_)) => PromptDecision::Resume,
            (true, None) => PromptDecision::Pass,
            // While the session waits for its background work, the prompt that wakes it
            // is the host's (Claude Code 2.1.332 sends no `source` yet): the loop goes on.
            (false, _) if state.waiting.is_some() => PromptDecision::Pass,
            (false, _) if state.stop_failure.is_some() => PromptDecision::Retry,
            // `ralph-hook run` sends every prompt of its session itself: no user steers.
            (false, _) if state.started_by == Some(StartedBy::Run) => PromptDecision::Pass,
            // Resumed from a terminal and no turn since: the session's next prompt is
            // what continues the loop (headless, `codex exec resume …`), not steering.
            (false, _)
                if state
                    .last_decision
                    .as_ref()
                    .is_some_and(|last| last.decision == Action::Resume.into()) =>
            {
                PromptDecision::Pass
            }
            (false, _) => PromptDecision::Steer,
        },
    }
}

/// Finishes a loop for a reason decided outside a stop (`cancel`, a replacement).
pub fn finish_now(state: &LoopState, outcome: Outcome, now: SystemTime) -> LoopState {
    finish(state.clone(), outcome, Tag::None, now).state
}

fn finish(mut next: LoopState, outcome: Outcome, tag: Tag, now: SystemTime) -> Step {
    next.active = false;
    next.updated_at = clock::format(now);
    next.last_decision = Some(LastDecision {
        at: next.updated_at.clone(),
        decision: Action::Finish.into(),
        why: outcome.code().into(),
    });
    Step::plain(Decision::Finish(outcome), next, tag)
}

/// Updates the no-progress counters with this stop's message and workspace fingerprint;
/// a changed workspace also records what changed.
fn track_progress(next: &mut LoopState, event: StopEvent<'_>) {
    let iteration = next.iteration;
    let at = next.updated_at.clone();
    let progress = &mut next.progress;
    if let Some(message) = event.message {
        let digest = digest::normalized_text_hex(message);
        if progress.message_digest.as_deref() == Some(digest.as_str()) {
            progress.same_message_stops = progress.same_message_stops.saturating_add(1);
        } else {
            progress.message_digest = Some(digest);
            progress.same_message_stops = 1;
        }
    }
    if let Some(look) = event.workspace {
        if progress.workspace_digest.as_deref() == Some(look.digest.as_str()) {
            progress.unchanged_workspace_stops =
                progress.unchanged_workspace_stops.saturating_add(1);
        } else {
            if progress.workspace_digest.is_some() {
                progress.last_change = Some(LastChange {
                    what: look.change_since(
                        progress.workspace_head.as_deref(),
                        &progress.workspace_paths,
                    ),
                    iteration,
                    at,
                });
            }
            progress.remember_workspace(look);
            progress.unchanged_workspace_stops = 0;
        }
    }
}
