//! What the host tells about a loop's session besides its stops: the user taking the
//! wheel, prompts that are not the user's own words, the session's end and a turn that
//! ended on an API error. Each is a small change to the user's record under its lock,
//! and one line in the history; the rules that choose them live in
//! [`crate::engine::decide::decide_prompt`].

use std::time::SystemTime;

use crate::clock;
use crate::engine::decide::{self, PromptDecision, PromptEvent, PromptSource};
use crate::engine::history::{Action, Event, HistoryEntry};
use crate::engine::lifecycle;
use crate::engine::ownership::LoopRecord;
use crate::engine::render;
use crate::engine::state::{LastDecision, LoopState};
use crate::engine::store::Store;
use crate::error::Result;
use crate::messages::warn;

/// The most of the user's steering words a record keeps (and hands back on `resume`).
pub(crate) const STEERING_LIMIT_CHARS: usize = 2000;
/// The most of a prompt an "ignored" history line quotes.
const QUOTE_CHARS: usize = 120;

/// Loads the record when it is this session's active loop (`None` otherwise, and for
/// any error: these events never fail a hook).
fn owned(store: &Store, session: &str) -> Option<LoopRecord> {
    let record = store.load().ok().flatten()?;
    let state = &record.state;
    (state.active && !session.is_empty() && state.session_id.as_deref() == Some(session))
        .then_some(record)
}

/// The user typed `words` into the session of its running loop: the loop pauses for this
/// turn and keeps what they said for `resume`. Returns the paused loop; `None` when the
/// rules (read again under the lock) no longer say steer.
pub(crate) fn steer(
    store: &Store,
    session: &str,
    words: &str,
    now: SystemTime,
) -> Result<Option<LoopState>> {
    let event = PromptEvent {
        session,
        source: PromptSource::User,
        command: false,
    };
    let lock = store.lock()?;
    let Some(mut record) = owned(store, session) else {
        return Ok(None);
    };
    if decide::decide_prompt(Some(&record.state), event) != PromptDecision::Steer {
        return Ok(None);
    }
    let kept = bounded(words, STEERING_LIMIT_CHARS);
    record.state.paused = true;
    record.state.orphaned = None;
    record.state.steering = Some(kept.clone());
    record.state.updated_at = clock::format(now);
    record.state.last_decision = Some(LastDecision {
        at: record.state.updated_at.clone(),
        decision: Action::Pause.into(),
        why: "the user took the wheel: the loop is paused while they steer".into(),
    });
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Prompt, Action::Pause, now)
            .session(Some(session))
            .detail(format!(
                "the user took the wheel: {}",
                bounded(&kept, QUOTE_CHARS)
            )),
    );
    Ok(Some(record.state))
}

/// A prompt that was not the user's own words (`source`) where theirs would have acted:
/// nothing changes, and the history says what was ignored.
pub(crate) fn note_ignored(
    store: &Store,
    session: &str,
    source: &str,
    prompt: &str,
    now: SystemTime,
) {
    let Ok(lock) = store.lock() else {
        return;
    };
    let Ok(Some(record)) = store.load() else {
        return;
    };
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Prompt, Action::Ignore, now)
            .session((!session.is_empty()).then_some(session))
            .detail(format!(
                "a prompt from `{}` is not the user's own words, so it did not start, resume, cancel, replace or pause the loop: {}",
                render::printable(&bounded(source, 40)),
                render::printable(&bounded(prompt, QUOTE_CHARS))
            )),
    );
}

/// The host said `session` ended: its loop is orphaned at once (`show` says so, a new
/// loop in the workspace replaces it without `--replace`, `wait` returns). Returns true
/// when a loop was marked.
pub(crate) fn orphan(store: &Store, session: &str, reason: &str, now: SystemTime) -> Result<bool> {
    if owned(store, session).is_none() {
        return Ok(false);
    }
    let lock = store.lock()?;
    let Some(mut record) = owned(store, session) else {
        return Ok(false);
    };
    if record.state.orphaned.is_some() {
        // The other installation of ralph-hook (plugin and `install`) was first.
        return Ok(false);
    }
    if record
        .fresh
        .as_ref()
        .is_some_and(|fresh| fresh.next.is_some())
    {
        // A fresh loop's session ends after its iteration by design: `ralph-hook run`
        // starts the next one.
        return Ok(false);
    }
    let why = format!("the session ended ({})", bounded(reason, 40));
    record.state.orphaned = Some(why.clone());
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::SessionEnd, Action::Orphan, now)
            .session(Some(session))
            .detail(why),
    );
    Ok(true)
}

/// The loop's turn ended on an API error of `kind` (Claude Code's StopFailure): the
/// history keeps it, `--notify` runs, and the loop stays as it was, ready to go on.
/// Returns true when it was this session's loop.
pub(crate) fn stop_failure(
    store: &Store,
    session: &str,
    kind: &str,
    details: &str,
    now: SystemTime,
) -> Result<bool> {
    if owned(store, session).is_none() {
        return Ok(false);
    }
    let lock = store.lock()?;
    let Some(mut record) = owned(store, session) else {
        return Ok(false);
    };
    let kind = render::printable(&bounded(kind, 40)).into_owned();
    record.state.stop_failure = Some(kind.clone());
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    let mut detail = format!("the turn ended on an API error: {kind}");
    if !details.trim().is_empty() {
        detail.push_str(&format!(
            " ({})",
            render::printable(&bounded(details.trim(), 300))
        ));
    }
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::StopFailure, Action::Error, now)
            .session(Some(session))
            .detail(detail.clone()),
    );
    lifecycle::notify_user(
        store,
        &lock,
        &record,
        &record.state,
        (
            "stop_failure",
            &format!("{detail}; the loop goes on when the session does"),
        ),
        None,
        now,
    );
    Ok(true)
}

/// The user's prompt in the session whose last turn an API error ended: the loop goes
/// on from it (the mark is cleared). Returns the loop and the error's kind; `None` when
/// the rules (read again under the lock) no longer say so.
pub(crate) fn retry(
    store: &Store,
    session: &str,
    now: SystemTime,
) -> Result<Option<(LoopState, String)>> {
    let event = PromptEvent {
        session,
        source: PromptSource::User,
        command: false,
    };
    let lock = store.lock()?;
    let Some(mut record) = owned(store, session) else {
        return Ok(None);
    };
    if decide::decide_prompt(Some(&record.state), event) != PromptDecision::Retry {
        return Ok(None);
    }
    let kind = record.state.stop_failure.take().unwrap_or_default();
    record.state.orphaned = None;
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Prompt, Action::Resume, now)
            .session(Some(session))
            .detail(format!("the user went on after the API error ({kind})")),
    );
    Ok(Some((record.state, kind)))
}

/// `text` cut to `limit` characters, with `…` when it was longer.
pub(crate) fn bounded(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit).collect();
    cut.push('…');
    cut
}
