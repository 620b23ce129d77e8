//! The changes the supervisor makes to its loop's record, each under the lock and each
//! with its history line: binding the session the client reported, a restart, and the
//! end when restarts are spent. The engine decides every stop; these only keep the record
//! true to what the supervisor saw.

use std::time::SystemTime;

use crate::clock;
use crate::engine::decide::{self, Outcome};
use crate::engine::fresh::Fresh;
use crate::engine::history::{Action, Event, HistoryEntry};
use crate::engine::lifecycle::{self, Ending};
use crate::engine::ownership::LoopRecord;
use crate::engine::render;
use crate::engine::store::Store;
use crate::engine::usage::Cursor;
use crate::error::Result;
use crate::messages::warn;

/// The loop's record while it is this loop's (`None` once it ended or another replaced it).
pub(crate) fn current(store: &Store, loop_id: &str) -> Option<LoopRecord> {
    match store.load() {
        Ok(Some(record)) if record.loop_id == loop_id => Some(record),
        Ok(_) | Err(_) => None,
    }
}

/// Binds the loop to `session`, the id the client's own events carry, unless it is
/// bound to it already. A loop bound to another id (a host that gave the resumed session
/// a new one) follows the new id, and the history says so. Returns what changed, in words.
pub(crate) fn bind(
    store: &Store,
    loop_id: &str,
    session: &str,
    now: SystemTime,
) -> Result<Option<String>> {
    let lock = store.lock()?;
    let Some(mut record) = current(store, loop_id) else {
        return Ok(None);
    };
    let detail = match record.state.session_id.as_deref() {
        Some(bound) if bound == session => return Ok(None),
        None => match &record.fresh {
            Some(fresh) => format!(
                "iteration {} in a new session {session} (session {} of this loop, run --fresh)",
                render::iteration_label(&record.state),
                fresh.sessions
            ),
            None => format!("bound to session {session}, from the client's own events"),
        },
        Some(old) => format!(
            "the host gave the resumed session a new id: {old} became {session}; the loop follows the new one"
        ),
    };
    record.state.session_id = Some(session.to_string());
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Claim, Action::Bind, now).detail(detail.clone()),
    );
    Ok(Some(detail))
}

/// The supervisor is about to launch a new session for the loop (the first, a fresh
/// loop's next, or one in place of a session that cannot be resumed): the loop is
/// unbound, to be claimed by that session only (its client carries the loop's id, see
/// [`crate::engine::ownership::judge`]) — by its first stop or by the supervisor reading
/// its id, whichever comes first; a fresh loop's hand-over is taken; and the token count
/// starts at the top of the new session's transcript, its first turn included.
pub(crate) fn expect_new_session(store: &Store, loop_id: &str, now: SystemTime) -> Result<()> {
    let lock = store.lock()?;
    let Some(mut record) = current(store, loop_id) else {
        return Ok(());
    };
    record.state.session_id = None;
    if let Some(fresh) = record.fresh.as_mut() {
        fresh.next = None;
        fresh.sessions = fresh.sessions.saturating_add(1);
    }
    start_counting_anew(&mut record);
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    Ok(())
}

/// The host kept no session `lost` to resume (its client died before saving it): the
/// loop lets go of it, the history says so, and the supervisor starts a new session in
/// its place ([`expect_new_session`]). Returns false when the record is no longer this loop's or
/// is bound to another session.
pub(crate) fn start_over(
    store: &Store,
    loop_id: &str,
    lost: &str,
    now: SystemTime,
) -> Result<bool> {
    let lock = store.lock()?;
    let Some(mut record) = current(store, loop_id) else {
        return Ok(false);
    };
    if record.state.session_id.as_deref() != Some(lost) {
        return Ok(false);
    }
    // Unbound, the next launch is a new session, never a resume of this one again.
    record.state.session_id = None;
    record.state.updated_at = clock::format(now);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    let detail = format!(
        "{} kept no session {lost} to resume (its client died before saving it): iteration {} starts over in a new session",
        record.agent.display_name(),
        render::iteration_label(&record.state)
    );
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Restart, Action::NextSession, now)
            .detail(detail),
    );
    Ok(true)
}

/// A new session's transcript is the loop's sign of life and what its budgets count, from
/// its first line (the first stop names it).
fn start_counting_anew(record: &mut LoopRecord) {
    record.transcript = None;
    record.state.orphaned = None;
    if record.state.counts_usage() {
        record.usage = Some(Cursor::default());
    }
}

/// Makes the loop a fresh one (`run --fresh`): each iteration in a new session, the
/// workspace summary counted from `fresh.base`.
pub(crate) fn set_fresh(store: &Store, loop_id: &str, fresh: Fresh) -> Result<()> {
    let lock = store.lock()?;
    let Some(mut record) = current(store, loop_id) else {
        return Ok(());
    };
    record.fresh = Some(fresh);
    if let Some(err) = store.save(&lock, &mut record)? {
        warn(err);
    }
    Ok(())
}

/// Records a restart (`detail`: its cause) and runs the user's `--notify` with outcome
/// `restarting`.
pub(crate) fn restart(store: &Store, loop_id: &str, detail: &str, now: SystemTime) -> Result<bool> {
    let lock = store.lock()?;
    let Some(record) = current(store, loop_id) else {
        return Ok(false);
    };
    lifecycle::append(
        store,
        &lock,
        &HistoryEntry::about(&record.state, Event::Restart, Action::Restart, now).detail(detail),
    );
    lifecycle::notify_user(
        store,
        &lock,
        &record,
        &record.state,
        ("restarting", detail),
        None,
        now,
    );
    Ok(true)
}

/// Ends the loop with `outcome` (`restarts_exhausted`, or `error` when no client could
/// start), `detail` saying why.
pub(crate) fn end(
    store: &Store,
    loop_id: &str,
    outcome: Outcome,
    detail: String,
    now: SystemTime,
) -> Result<()> {
    let lock = store.lock()?;
    let Some(record) = current(store, loop_id) else {
        return Ok(());
    };
    let mut ending = Ending::new(outcome, Event::Restart);
    ending.detail = Some(detail);
    let last = decide::finish_now(&record.state, outcome, now);
    lifecycle::end(store, &lock, &record, &last, ending, now)?;
    Ok(())
}
