//! `ralph-hook stop`: the IO around [`crate::engine::decide::decide`].
//!
//! Order of work, cheapest first: parse the payload; find the user's record of a loop
//! from `cwd` upward (the common case ends here, with nothing printed); judge the stop on
//! an unlocked read (another session's stop takes no lock and writes nothing); lock;
//! read the record and any cancel request again; decide; write; answer. Nothing in the
//! workspace decides anything: what runs and what limits come from the record.

use std::io::Read;
use std::time::SystemTime;

use crate::agent::Agent;
use crate::clock;
use crate::engine::decide::{self, Decision, Request, StopEvent, Verification};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::history::{Action, Event, HistoryEntry, Reason};
use crate::engine::lifecycle::{self, Ending};
use crate::engine::ownership::{self, LoopRecord, Registry, Standing};
use crate::engine::render;
use crate::engine::store::{self, LoadError, Located, LockGuard, Mirror, Store};
use crate::engine::transcript;
use crate::engine::usage;
use crate::engine::verify;
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::hook::wire::{self, StopInput, StopOutput};
use crate::messages::warn;

/// Reads a Stop payload from `stdin` and returns the answer to print.
pub fn answer(stdin: impl Read, agent: Option<Agent>) -> StopOutput {
    let text = match wire::read_payload(stdin) {
        Ok(text) => text,
        Err(why) => {
            warn(format!("{why}; allowing the stop"));
            return StopOutput::allow(None);
        }
    };
    let input: StopInput = match serde_json::from_str(&text) {
        Ok(input) => input,
        Err(err) => {
            warn(format!(
                "the Stop payload on stdin is not the JSON object hosts send ({err}); allowing the stop"
            ));
            return StopOutput::allow(None);
        }
    };
    // The raw payload can be megabytes; the parsed copy is all that is needed from here.
    drop(text);
    if !wire::is_event(input.hook_event_name.as_deref(), wire::STOP_EVENT) {
        warn(
            "a payload of another event reached `ralph-hook stop`; fix the event in hooks.json or settings.json",
        );
        return StopOutput::allow(None);
    }
    let agent = agent.unwrap_or_else(|| wire::agent_of(input.turn_id.as_ref()));
    if input.cwd.as_os_str().is_empty() {
        return StopOutput::allow(None);
    }
    // Without a state folder there is no record, so nothing here is the user's loop.
    let Some(registry) = Registry::open() else {
        return StopOutput::allow(None);
    };
    let result = match store::locate(&input.cwd, agent, &registry) {
        None => return StopOutput::allow(None),
        Some(Located::Mirror(store)) => Ok(not_followed(&store, &input, &registry)),
        Some(Located::Record(store)) => run_loop_stop(&store, &input, clock::now()),
    };
    match result {
        Ok(output) => output,
        Err(err) => {
            warn(format!("{err}; allowing the stop"));
            StopOutput::allow(Some(format!("ralph-loop: {err}; the stop was allowed.")))
        }
    }
}

/// A state file with no record of the user's: never obeyed, never touched. The first
/// stop that meets it (per file and content) says how to adopt it; an unreadable one is
/// not a loop at all and gets silence.
fn not_followed(store: &Store, input: &StopInput, registry: &Registry) -> StopOutput {
    let Mirror::Found(state) = store.read_mirror() else {
        return StopOutput::allow(None);
    };
    let event = StopEvent {
        standing: Standing::Untrusted(ownership::judge_unrecorded(&state)),
        session: &input.session_id,
        ..StopEvent::default()
    };
    match decide::decide(&state, event, clock::now()).decision {
        Decision::NotFollowed(why) => {
            let key = format!(
                "{}\n{}\n{}",
                state.created_at, state.prompt, state.completion_signal
            );
            let first = registry.first_hint(&store.state_path(), key.as_bytes());
            StopOutput::allow(first.then(|| adopt_hint(store, why.why())))
        }
        Decision::Ignore
        | Decision::Allow
        | Decision::Block(_)
        | Decision::Blocked(_)
        | Decision::Finish(_)
        | Decision::Verify
        | Decision::Wait(_) => StopOutput::allow(None),
    }
}

fn run_loop_stop(store: &Store, input: &StopInput, now: SystemTime) -> Result<StopOutput> {
    // Judged first on an unlocked read (every write is an atomic rename, so a read sees
    // a whole file): another session's stop takes no lock and writes nothing.
    if let Ok(Some(peek)) = store.load() {
        let event = StopEvent {
            standing: ownership::judge(&peek.state, &input.session_id),
            session: &input.session_id,
            ..StopEvent::default()
        };
        if decide::decide(&peek.state, event, now).decision == Decision::Ignore {
            return Ok(StopOutput::allow(None));
        }
    }
    let lock = store.lock()?;
    let Some(mut record) = load_or_set_aside(store, &lock, now)? else {
        return Ok(StopOutput::allow(None));
    };
    let standing = ownership::judge(&record.state, &input.session_id);
    let owned = matches!(standing, Standing::Owner | Standing::Claim);
    if owned && crate::hook::event::stop(input).seen_again(&mut record.state.handled) {
        // The other installation of ralph-hook (plugin and `install` both in place) acted
        // on this stop already; its answer is the one the host needs.
        save(store, &lock, &mut record)?;
        return Ok(StopOutput::allow(None));
    }
    let request = workspace::read_cancel_request(store.workspace());

    let fallback;
    let message = match input.last_assistant_message.as_deref() {
        Some(message) => Some(message),
        None => {
            fallback = input
                .transcript_path
                .as_deref()
                .and_then(transcript::last_assistant_text);
            fallback.as_deref()
        }
    };
    if owned && let Some(transcript) = &input.transcript_path {
        // The host names the session's transcript: its mtime is the loop's sign of life
        // when another session wants the workspace (see `engine::liveness`).
        record.transcript = Some(transcript.clone());
    }
    let counting =
        owned && record.state.active && !record.state.paused && record.state.max_tokens.is_some();
    let tokens = if counting {
        count_tokens(&mut record)
    } else {
        None
    };
    let state = &record.state;
    // git runs only in the record's workspace, and only when it was a repository when
    // the loop began (never in one the agent made since).
    let look = (owned && record.git && state.active && !state.paused && state.no_progress > 0)
        .then(|| Fingerprint::take(store.workspace()))
        .flatten();
    let background = input.background_work();
    let event = StopEvent {
        standing,
        session: &input.session_id,
        cancel_request: request.as_deref(),
        message,
        workspace: look.as_ref(),
        verification: None,
        tokens,
        background: background.as_deref(),
    };
    let step = decide::decide(&record.state, event, now);
    settle_request(store, &step.request, request.as_deref());
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
        return apply(store, &lock, record, step, input, None, now);
    }
    // The verify command may run for minutes: not under the lock. Afterwards the loop
    // must still be where it was, or another stop already moved it on.
    drop(lock);
    let command = record.state.verify.clone().unwrap_or_default();
    let result = verify::run(&command, store.workspace(), record.state.verify_timeout());
    let lock = store.lock()?;
    let Some(current) = load_or_set_aside(store, &lock, now)? else {
        return Ok(StopOutput::allow(None));
    };
    if current.loop_id != record.loop_id || current.state.iteration != record.state.iteration {
        return Ok(StopOutput::allow(None));
    }
    let event = StopEvent {
        standing: ownership::judge(&current.state, &input.session_id),
        cancel_request: None,
        verification: Some(&result),
        ..event
    };
    let step = decide::decide(&current.state, event, now);
    apply(store, &lock, current, step, input, Some(&result), now)
}

/// The tokens the session used since the previous counted stop, read from what was
/// appended to its transcript since; the cursor in `record` moves on (it is saved with
/// the stop's decision). `None` when nothing could be counted this time: no transcript
/// known, or a loop whose count starts at this stop (started from a terminal).
fn count_tokens(record: &mut LoopRecord) -> Option<u64> {
    let Some(cursor) = record.usage.as_ref() else {
        record.usage = lifecycle::start_count(record);
        return None;
    };
    let path = record.transcript.as_deref()?;
    match usage::read(path, record.agent, cursor) {
        Ok(reading) => {
            if let Some(restart) = reading.restarted {
                warn(format!(
                    "{restart} ({}); tokens are counted from its end on",
                    path.display()
                ));
            }
            record.usage = Some(reading.cursor);
            Some(reading.tokens)
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

/// A cancel request is used once: removed when the stop honoured it or found it names
/// another loop.
fn settle_request(store: &Store, request: &Request, named: Option<&str>) {
    match request {
        Request::None => {}
        Request::Honoured => remove_request(store),
        Request::OtherLoop => {
            warn(format!(
                "ignored the cancel request {}: it names another loop ({})",
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
    input: &StopInput,
    verification: Option<&Verification>,
    now: SystemTime,
) -> Result<StopOutput> {
    let tokens = step.tokens;
    let session = Some(input.session_id.as_str());
    let verify_detail = verification.map(|v| format!("verify {}", v.summary()));
    match step.decision {
        Decision::Ignore | Decision::NotFollowed(_) | Decision::Allow | Decision::Verify => {
            Ok(StopOutput::allow(None))
        }
        Decision::Block(how) => {
            record.state = step.state;
            save(store, lock, &mut record)?;
            let mut entry = HistoryEntry::about(&record.state, Event::Stop, Action::Block, now)
                .session(session)
                .tag(step.tag)
                .tokens(tokens);
            if let Some(detail) = verify_detail {
                entry = entry.reason(Reason::CompletionRejected).detail(detail);
            }
            lifecycle::append(store, lock, &entry);
            Ok(StopOutput::block(render::continuation_prompt(
                &record.state,
                &how,
                &store.state_path(),
                now,
            )))
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
                    .tokens(tokens),
            );
            Ok(StopOutput::allow(None))
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
                    .tokens(tokens),
            );
            lifecycle::notify_user(
                store,
                lock,
                &record,
                &record.state,
                ("blocked", &reason),
                now,
            );
            Ok(StopOutput::allow(Some(render::blocked_message(
                &record.state,
                &reason,
                store.agent(),
            ))))
        }
        Decision::Finish(outcome) => {
            record.state = step.state;
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
            };
            let last = lifecycle::end(store, lock, &record, ending, now)?;
            Ok(StopOutput::allow(Some(render::outcome_message(
                &last, &outcome,
            ))))
        }
    }
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

/// Loads the record; an unusable one is moved aside (never deleted) and reported, and
/// the loop is off.
fn load_or_set_aside(
    store: &Store,
    lock: &LockGuard,
    now: SystemTime,
) -> Result<Option<LoopRecord>> {
    match store.load() {
        Ok(record) => Ok(record),
        Err(LoadError::Io(err)) => Err(err),
        Err(LoadError::Unusable(why)) => {
            let shown = store.record_path();
            let kept = store
                .set_aside_record(lock, "corrupt", now)
                .map_err(|err| {
                    Error::Failed(format!("{} is unusable ({why}) and {err}", shown.display()))
                })?;
            let message = format!(
                "the loop's record {} is unusable ({why}); it was moved to {} and the loop is off",
                shown.display(),
                kept.display()
            );
            let entry = HistoryEntry {
                at: clock::format(now),
                event: Event::Stop,
                decision: Action::Finish,
                reason: Some(Reason::Error),
                loop_id: None,
                session_id: None,
                iteration: 0,
                max_iterations: 0,
                tag: None,
                detail: Some(message.clone()),
                tokens: None,
            };
            lifecycle::append(store, lock, &entry);
            Err(Error::Failed(message))
        }
    }
}

fn adopt_hint(store: &Store, why: &str) -> String {
    format!(
        "ralph-loop: not following {}: {why}. Read it with `ralph-hook show --workspace {ws}`; if you trust it, `ralph-hook adopt --workspace {ws}` and the next stop will continue it.",
        render::printable(&store.state_path().display().to_string()),
        ws = crate::shell::word(store.workspace())
    )
}
