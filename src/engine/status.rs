//! How a loop stands, for the people who ask: `show` and `$ralph-loop status`. Built
//! from what `lookup::find` found (the user's record, the workspace's file, the
//! history), in the words of [`render`].

use std::time::SystemTime;

use crate::clock;
use crate::engine::action::Action;
use crate::engine::fresh::FreshMode;
use crate::engine::history::{self, Event, HistoryEntry};
use crate::engine::lookup::{Found, MirrorCheck};
use crate::engine::ownership;
use crate::engine::render::{
    self, brake_status, cost_status, indented_task, iteration_label, labelled, printable,
    progress_bar, token_status,
};
use crate::engine::session_events;
use crate::engine::state::{LastAction, LastDecision, LoopState};
use crate::engine::store::Mirror;
use crate::engine::tasks;

/// How the loop stands, line by line: `show` colours it, `$ralph-loop status` shows it
/// plain ([`status_text`]). Everything that came from a file is shown through
/// [`printable`]: a state file planted in a repository cannot hide a line (`\r`, escape
/// sequences, bidi overrides) from the person reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusView {
    /// The first line: where and which host, or that no loop runs (and how the last one
    /// ended).
    pub title: String,
    /// The loop is paused.
    pub paused: bool,
    /// The loop is not followed by any stop (a file this user did not start).
    pub untrusted: bool,
    /// `(label, value)` lines under the title.
    pub lines: Vec<(&'static str, String)>,
}

/// How a loop found in a workspace stands toward the sessions that stop there: the
/// `standing` of `show --json`, the `session` line of `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopStanding {
    /// A state file the user never started: no stop follows it.
    Untrusted,
    /// The user's loop, not yet bound: the first session that stops claims it.
    Unclaimed,
    /// The user's loop, bound to one session.
    Bound,
}

impl LoopStanding {
    /// How the loop `found` stands; `None` when there is no loop.
    pub(crate) fn of(found: &Found) -> Option<LoopStanding> {
        match (&found.record, found.state()) {
            (None, None) => None,
            (None, Some(_)) => Some(LoopStanding::Untrusted),
            (Some(record), _) if record.state.session_id.is_none() => Some(LoopStanding::Unclaimed),
            (Some(_), _) => Some(LoopStanding::Bound),
        }
    }

    /// The word scripts read: `untrusted`, `unclaimed` or `bound`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LoopStanding::Untrusted => "untrusted",
            LoopStanding::Unclaimed => "unclaimed",
            LoopStanding::Bound => "bound",
        }
    }
}

/// How the loop `found` stands at `now`: the user's record, else a state file nobody
/// here started (shown, never followed).
pub(crate) fn status_view(found: &Found, now: SystemTime) -> StatusView {
    let store = &found.store;
    let workspace = printable(&store.workspace().display().to_string()).into_owned();
    let state_path = printable(&store.state_path().display().to_string()).into_owned();
    let Some(state) = found.state() else {
        let mut title = format!("No ralph loop in {workspace}.");
        if let Mirror::Unusable(why) = &found.mirror {
            title.push_str(&format!(
                " {state_path} is there but is not a loop: {}.",
                printable(why)
            ));
        }
        let last = store.last_history_entry();
        if let Some(refused) = last.as_ref().and_then(refusal_text) {
            title.push_str(&format!(" {refused}."));
        } else if let Some(last) = last {
            title.push_str(&format!(
                " The last one ended {} after {} iteration{}: {}.",
                printable(&last.at),
                last.iteration,
                if last.iteration == 1 { "" } else { "s" },
                last.reason
                    .map(history::Reason::as_str)
                    .unwrap_or(last.decision.as_str())
            ));
            if let Some(total) = render::token_total(&last) {
                title.insert_str(title.len() - 1, &format!(" ({total})"));
            }
            if let Some(total) = render::cost_total(&last) {
                title.insert_str(title.len() - 1, &format!(" ({total})"));
            }
        }
        return StatusView {
            title,
            paused: false,
            untrusted: false,
            lines: Vec::new(),
        };
    };
    let mut lines = vec![("task", indented_task(&state.prompt))];
    let bar = progress_bar(state.iteration, state.max_iterations, 20);
    lines.push((
        "iteration",
        format!("{} {bar}", iteration_label(state))
            .trim_end()
            .to_string(),
    ));
    let elapsed = clock::human(state.elapsed(now));
    lines.push((
        "elapsed",
        match state.max_duration() {
            Some(limit) => format!("{elapsed} of {}", clock::human(limit)),
            None => elapsed,
        },
    ));
    if let Some(tokens) = token_status(state) {
        lines.push(("tokens", tokens));
    }
    if let Some(cost) = cost_status(state) {
        lines.push(("cost", cost));
    }
    if let Some(reason) = &state.blocked {
        lines.push((
            "blocked",
            format!(
                "the agent waits for you: {}; your next message in its session resumes the loop (or `ralph-hook resume`)",
                printable(reason)
            ),
        ));
    }
    if let Some(words) = &state.steering {
        lines.push((
            "steering",
            format!(
                "you took the wheel (\"{}\"); the loop is paused until `resume`",
                printable(&session_events::bounded(words, 80))
            ),
        ));
    }
    if let Some(work) = &state.waiting {
        lines.push((
            "waiting",
            format!(
                "for the session's background work ({}); the host wakes the session when it is done, and this is not counted",
                printable(work)
            ),
        ));
    }
    if let Some(why) = &state.orphaned {
        lines.push((
            "orphaned",
            format!(
                "{}: a new loop in this workspace replaces it without --replace; the same session resuming goes on with it",
                printable(why)
            ),
        ));
    }
    lines.push(("session", standing_text(found, state)));
    if let Some(fresh) = found
        .record
        .as_ref()
        .and_then(|record| record.fresh.as_ref())
    {
        lines.push((
            "fresh",
            format!(
                "a new session per {} (run --fresh), {} so far{}",
                match fresh.mode {
                    FreshMode::Iteration => "iteration",
                    FreshMode::Task => "task item",
                },
                fresh.sessions,
                if fresh.next.is_some() {
                    "; the next one is starting"
                } else {
                    ""
                }
            ),
        ));
    }
    lines.push((
        "done when",
        printable(&state.completion_signal).into_owned(),
    ));
    if let Some(verify) = &state.verify {
        lines.push((
            "verify",
            format!(
                "{} (timeout {}s)",
                printable(verify),
                state.verify_timeout_secs
            ),
        ));
    }
    if let Some(notify) = found.record.as_ref().and_then(|r| r.notify.as_deref()) {
        lines.push((
            "notify",
            format!(
                "{} (runs when the loop ends or the agent is blocked)",
                printable(notify)
            ),
        ));
    }
    lines.push(("no progress", printable(&brake_status(state)).into_owned()));
    if let Some(tasks) = &state.tasks {
        lines.push((
            "task list",
            format!("{}: {}", tasks::shown(&tasks.file), tasks.status()),
        ));
    }
    if let Some(last) = &state.last_decision {
        lines.push((
            "last stop",
            printable(&last_stop_text(last, now)).into_owned(),
        ));
    }
    if let Some(record) = &found.record
        && !record.sources.is_empty()
    {
        lines.push((
            "settings",
            printable(&sources_text(&record.sources)).into_owned(),
        ));
    }
    lines.push(("state file", format!("{state_path}{}", mirror_note(found))));
    if let Some(refused) = store.last_history_entry().as_ref().and_then(refusal_text) {
        lines.push(("last prompt", refused));
    }
    StatusView {
        title: format!(
            "ralph loop in {workspace} ({})",
            store.agent().display_name()
        ),
        paused: state.paused,
        untrusted: LoopStanding::of(found) == Some(LoopStanding::Untrusted),
        lines,
    }
}

/// Where the settings not at ralph-hook's default came from: `max_iterations,
/// max_tokens from flags; max_duration from ~/.config/ralph-hook/config.toml:2`.
fn sources_text(sources: &std::collections::BTreeMap<String, String>) -> String {
    let flags: Vec<&str> = sources
        .iter()
        .filter(|(_, from)| *from == "flag")
        .map(|(name, _)| name.as_str())
        .collect();
    let mut parts = Vec::new();
    if !flags.is_empty() {
        parts.push(format!("{} from flags", flags.join(", ")));
    }
    for (name, from) in sources.iter().filter(|(_, from)| *from != "flag") {
        parts.push(format!("{name} from {from}"));
    }
    parts.push("the rest are ralph-hook's defaults".into());
    parts.join("; ")
}

/// How the loop stands, in plain words, for `$ralph-loop status`.
pub(crate) fn status_text(found: &Found, now: SystemTime) -> String {
    let view = status_view(found, now);
    let mut text = view.title;
    if view.paused {
        text.push_str(" — PAUSED");
    }
    if !view.lines.is_empty() {
        text.push('\n');
        text.push_str(&labelled(&view.lines));
    }
    text
}

/// A refused `$ralph-loop` prompt in words (`None` for any other history line): `codex
/// exec` and `claude -p` never show the refusal, so `show` does.
fn refusal_text(entry: &HistoryEntry) -> Option<String> {
    (entry.event == Event::Prompt && entry.decision == Action::Refuse).then(|| {
        format!(
            "The last loop prompt was refused at {}: {}",
            printable(&entry.at),
            printable(entry.detail.as_deref().unwrap_or("no reason recorded"))
        )
    })
}

/// The last stop decision in words: how long ago, what happened and why.
fn last_stop_text(last: &LastDecision, now: SystemTime) -> String {
    let when = match clock::parse(&last.at).and_then(|at| now.duration_since(at).ok()) {
        Some(ago) => format!("{} ago", clock::human(ago)),
        None => format!("at {}", last.at),
    };
    let what = match &last.decision {
        LastAction::Did(Action::Block) => "sent the agent a continuation prompt",
        LastAction::Did(Action::Finish) => "ended the loop",
        LastAction::Did(Action::Pause) => "let the turn end",
        LastAction::Did(Action::Restart) => "launched the client again in the same session",
        LastAction::Did(Action::Wait) => "let the turn end while background work runs",
        LastAction::Did(Action::NextSession) => {
            "let the turn end; the next iteration starts in a new session"
        }
        LastAction::Did(
            action @ (Action::Start
            | Action::Bind
            | Action::Adopt
            | Action::Resume
            | Action::Failed
            | Action::Refuse
            | Action::Ignore
            | Action::Orphan
            | Action::Error
            | Action::Accept
            | Action::Skip),
        ) => action.as_str(),
        LastAction::Unknown(word) => word,
    };
    format!("{when}, {what}: {}", last.why)
}

/// What `show` says about the state file beside its path.
fn mirror_note(found: &Found) -> String {
    match found.mirror_check() {
        None | Some(MirrorCheck::Same) => String::new(),
        Some(MirrorCheck::Missing) => {
            " (missing; the loop runs from your record, shown above)".to_string()
        }
        Some(MirrorCheck::Edited(fields)) => format!(
            " (EDITED since ralph-hook wrote it: {} differ; your record, shown above, is what runs)",
            printable(&fields.join(", "))
        ),
        Some(MirrorCheck::Unusable(why)) => format!(
            " (unreadable: {}; the loop runs from your record, shown above)",
            printable(&why)
        ),
    }
}

fn standing_text(found: &Found, state: &LoopState) -> String {
    match (LoopStanding::of(found), &state.session_id) {
        (Some(LoopStanding::Untrusted) | None, _) => {
            let why = ownership::judge_unrecorded(state).why();
            format!("NOT FOLLOWED: {why}; read it above, then `ralph-hook adopt` makes it yours")
        }
        (Some(LoopStanding::Bound), Some(session)) => {
            format!("{} (only its stops follow the loop)", printable(session))
        }
        (Some(LoopStanding::Unclaimed | LoopStanding::Bound), _) => {
            "none yet: the first session that stops here claims it".into()
        }
    }
}
