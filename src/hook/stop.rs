//! `ralph-hook stop`: the IO around [`crate::engine::decide::decide`].
//!
//! Order of work, cheapest first: parse the payload, look for a state file from `cwd`
//! upward (the common case ends here, with nothing printed), lock, judge trust, decide,
//! write, answer.

use std::io::Read;
use std::time::SystemTime;

use crate::agent::Agent;
use crate::clock;
use crate::engine::decide::{self, Decision, Outcome, StopEvent, Verification};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::ownership::{LoopRecord, Registry, Standing};
use crate::engine::render;
use crate::engine::state::LoopState;
use crate::engine::store::{HistoryEntry, LoadError, Store};
use crate::engine::transcript;
use crate::engine::verify;
use crate::engine::workspace;
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
    let Some((workspace, _)) = workspace::find_state(&input.cwd, agent) else {
        return StopOutput::allow(None);
    };
    let store = Store::new(&workspace, agent);
    match run_loop_stop(&store, &input, clock::now()) {
        Ok(output) => output,
        Err(why) => {
            warn(format!("{why}; allowing the stop"));
            StopOutput::allow(Some(format!("ralph-loop: {why}; the stop was allowed.")))
        }
    }
}

fn run_loop_stop(store: &Store, input: &StopInput, now: SystemTime) -> Result<StopOutput, String> {
    let registry = Registry::open();
    // Trust is judged on an unlocked read first (every write is an atomic rename, so a
    // read sees a whole file): a stop of another session, or of a file nobody here
    // trusts, takes no lock and writes nothing into the workspace.
    if let Ok(Some(peek)) = store.load() {
        let (standing, _) = standing(&peek, input, registry.as_ref());
        if let Some(answer) = answer_if_not_ours(store, &peek, &standing, registry.as_ref()) {
            return Ok(answer);
        }
    }
    let guard = store.lock().map_err(|err| err.to_string())?;
    let Some(mut state) = load_or_set_aside(store, now)? else {
        return Ok(StopOutput::allow(None));
    };
    let (standing, record) = standing(&state, input, registry.as_ref());
    if let Some(answer) = answer_if_not_ours(store, &state, &standing, registry.as_ref()) {
        return Ok(answer);
    }
    if standing == Standing::Claim {
        state.session_id = Some(input.session_id.clone());
        store.save(&state).map_err(|err| err.to_string())?;
        if let (Some(registry), Some(mut record)) = (registry.as_ref(), record) {
            record.session_id = state.session_id.clone();
            let _ = registry.put(&record);
        }
        append(store, &HistoryEntry::about(&state, "claim", "bind", now));
    }
    if crate::hook::event::stop(input).seen_again(&mut state.handled) {
        // The other installation of ralph-hook (plugin and `install` both in place) acted
        // on this stop already; its answer is the one the host needs.
        store.save(&state).map_err(|err| err.to_string())?;
        return Ok(StopOutput::allow(None));
    }
    if let Some(output) = honour_cancel_request(store, &state, registry.as_ref(), now)? {
        return Ok(output);
    }

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
    let look = (state.active && !state.paused && state.no_progress > 0)
        .then(|| Fingerprint::take(store.workspace()))
        .flatten();
    let event = StopEvent {
        message,
        workspace: look.as_ref(),
        verification: None,
    };
    let step = decide::decide(&state, event, now);
    if step.decision != Decision::Verify {
        let output = apply(store, step, input, None, registry.as_ref(), now);
        drop(guard);
        return output;
    }
    // The verify command may run for minutes: not under the lock. Afterwards the loop
    // must still be where it was, or another stop already moved it on. Saved first, so a
    // second installation's run of this stop sees it is taken.
    store.save(&state).map_err(|err| err.to_string())?;
    drop(guard);
    let command = state.verify.clone().unwrap_or_default();
    let result = verify::run(&command, store.workspace(), state.verify_timeout());
    let _guard = store.lock().map_err(|err| err.to_string())?;
    let Some(current) = load_or_set_aside(store, now)? else {
        return Ok(StopOutput::allow(None));
    };
    if current.loop_id != state.loop_id || current.iteration != state.iteration {
        return Ok(StopOutput::allow(None));
    }
    let event = StopEvent {
        verification: Some(&result),
        ..event
    };
    let step = decide::decide(&current, event, now);
    apply(store, step, input, Some(&result), registry.as_ref(), now)
}

/// How this stop stands toward `state`, and the user's record of the loop.
fn standing(
    state: &LoopState,
    input: &StopInput,
    registry: Option<&Registry>,
) -> (Standing, Option<LoopRecord>) {
    let record = state
        .loop_id
        .as_deref()
        .and_then(|id| registry.and_then(|registry| registry.get(id)));
    let standing = crate::engine::ownership::judge(state, &input.session_id, record.as_ref());
    (standing, record)
}

/// The answer to a stop whose loop this session must not follow: silence for another
/// session's loop, the adopt hint (once) for a file nobody here started.
fn answer_if_not_ours(
    store: &Store,
    state: &LoopState,
    standing: &Standing,
    registry: Option<&Registry>,
) -> Option<StopOutput> {
    match standing {
        Standing::Owner | Standing::Claim => None,
        Standing::OtherSession => Some(StopOutput::allow(None)),
        Standing::Untrusted(why) => {
            let first =
                registry.is_some_and(|registry| registry.first_hint(store.state_path(), state));
            Some(StopOutput::allow(first.then(|| adopt_hint(store, why))))
        }
    }
}

/// Writes what the decision means and builds the answer.
fn apply(
    store: &Store,
    step: decide::Step,
    input: &StopInput,
    verification: Option<&Verification>,
    registry: Option<&Registry>,
    now: SystemTime,
) -> Result<StopOutput, String> {
    let session = Some(input.session_id.as_str());
    let verify_detail = verification.map(|v| format!("verify {}", v.summary()));
    match step.decision {
        Decision::Allow | Decision::Verify => Ok(StopOutput::allow(None)),
        Decision::Block(how) => {
            store
                .save(&step.state)
                .map_err(|err| format!("{err} (the loop's previous state is intact)"))?;
            let mut entry = HistoryEntry::about(&step.state, "stop", "block", now)
                .session(session)
                .tag(step.tag.as_str());
            if let Some(detail) = verify_detail {
                entry = entry.reason("completion_rejected").detail(detail);
            }
            append(store, &entry);
            Ok(StopOutput::block(render::continuation_prompt(
                &step.state,
                &how,
                store.state_path(),
                now,
            )))
        }
        Decision::Finish(outcome) => {
            finish(store, &step.state, &outcome, registry, now, |entry| {
                let entry = entry.session(session).tag(step.tag.as_str());
                match verify_detail {
                    Some(detail) => entry.detail(detail),
                    None => entry,
                }
            })?;
            Ok(StopOutput::allow(Some(render::outcome_message(
                &step.state,
                &outcome,
            ))))
        }
    }
}

/// Ends a loop: the state file goes, the outcome stays in the history.
pub fn finish(
    store: &Store,
    state: &LoopState,
    outcome: &Outcome,
    registry: Option<&Registry>,
    now: SystemTime,
    edit: impl FnOnce(HistoryEntry) -> HistoryEntry,
) -> Result<(), String> {
    store.remove().map_err(|err| err.to_string())?;
    if let (Some(registry), Some(loop_id)) = (registry, state.loop_id.as_deref()) {
        registry.remove(loop_id);
    }
    let entry = HistoryEntry::about(state, "stop", "finish", now).reason(outcome.code());
    append(store, &edit(entry));
    Ok(())
}

/// Loads the loop; an unusable file is moved aside (never deleted) and reported.
fn load_or_set_aside(store: &Store, now: SystemTime) -> Result<Option<LoopState>, String> {
    match store.load() {
        Ok(state) => Ok(state),
        Err(LoadError::Io(err)) => Err(err.to_string()),
        Err(LoadError::Unusable(why)) => {
            let kept = store.set_aside("corrupt", now).map_err(|err| {
                format!(
                    "{} is unusable ({why}) and {err}",
                    store.state_path().display()
                )
            })?;
            let message = format!(
                "the loop state {} is unusable ({why}); it was moved to {} and the loop is off",
                store.state_path().display(),
                kept.display()
            );
            let entry = HistoryEntry {
                at: clock::format(now),
                event: "stop".into(),
                decision: "finish".into(),
                reason: Some(Outcome::Error.code().into()),
                loop_id: None,
                session_id: None,
                iteration: 0,
                max_iterations: 0,
                tag: None,
                detail: Some(message.clone()),
            };
            append(store, &entry);
            Err(message)
        }
    }
}

/// A cancel asked for from inside a sandbox that cannot write the state (see `cancel`).
fn honour_cancel_request(
    store: &Store,
    state: &LoopState,
    registry: Option<&Registry>,
    now: SystemTime,
) -> Result<Option<StopOutput>, String> {
    let path = workspace::cancel_request_path(store.workspace());
    let Ok(requested) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let _ = std::fs::remove_file(&path);
    if state.loop_id.as_deref() != Some(requested.trim()) {
        warn(format!("ignored {}: it names another loop", path.display()));
        return Ok(None);
    }
    let final_state = decide::finish_now(state, Outcome::Cancelled, now);
    finish(
        store,
        &final_state,
        &Outcome::Cancelled,
        registry,
        now,
        |entry| entry.detail("cancel requested from the agent's sandbox"),
    )?;
    Ok(Some(StopOutput::allow(Some(render::outcome_message(
        &final_state,
        &Outcome::Cancelled,
    )))))
}

fn adopt_hint(store: &Store, why: &str) -> String {
    format!(
        "ralph-loop: not following {}: {why}. If you trust it, run `ralph-hook adopt --workspace {}` and the next stop will continue it.",
        store.state_path().display(),
        crate::shell::word(store.workspace())
    )
}

fn append(store: &Store, entry: &HistoryEntry) {
    if let Err(err) = store.append_history(entry) {
        warn(err);
    }
}
