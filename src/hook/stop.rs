//! `ralph-hook stop`: the host's Stop payload in, its answer out. Parsing, finding the
//! loop, one call of [`crate::engine::stop::run`] (which runs git and the verify command
//! outside the loop's lock, decides the stop under it and writes what that means),
//! rendering. The common cases — no loop here, or another session's — end at the
//! lookup, with nothing printed, no lock taken and no git run.

use std::io::Read;

use crate::agent::Agent;
use crate::clock;
use crate::engine::ownership;
use crate::engine::stop::{self, StopAnswer, StopRequest};
use crate::hook::event;
use crate::hook::wire::{self, StopInput, StopOutput};
use crate::messages::warn;

/// Reads a Stop payload from `stdin` and returns the answer to print.
pub(crate) fn answer(stdin: impl Read, agent: Option<Agent>) -> StopOutput {
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
    let now = clock::now();
    let launched_for = std::env::var(ownership::RUN_LOOP_ENV).ok();
    let Some(target) = stop::locate(
        &input.cwd,
        agent,
        &input.session_id,
        launched_for.as_deref(),
        now,
    ) else {
        return StopOutput::allow(None);
    };
    match stop::run(&target, request(input, launched_for), now) {
        Ok(StopAnswer::Allow(message)) => StopOutput::allow(message),
        Ok(StopAnswer::Block(prompt)) => StopOutput::block(prompt),
        Err(err) => {
            warn(format!("{err}; allowing the stop"));
            StopOutput::allow(Some(format!("ralph-loop: {err}; the stop was allowed.")))
        }
    }
}

/// The stop as the engine takes it, from the host's payload and the loop its client was
/// launched for.
fn request(input: StopInput, launched_for: Option<String>) -> StopRequest {
    let event = event::stop(&input);
    let background = input.background_work();
    StopRequest {
        session: input.session_id,
        message: input.last_assistant_message,
        transcript: input.transcript_path,
        event,
        background,
        launched_for,
    }
}
