//! `ralph-hook stop-failure`: Claude Code's StopFailure hook. The turn ended on an API
//! error (rate limit, overload, a server error) instead of a stop, so no Stop hook ran:
//! the history keeps the error's kind, `--notify` runs, and the loop stays active for
//! the session (or a supervisor) to go on. Prints nothing.

use std::io::Read;

use crate::agent::Agent;
use crate::clock;
use crate::engine::lookup;
use crate::engine::session_events;
use crate::hook::wire::{self, StopFailureInput};
use crate::messages::warn;

/// Reads a StopFailure payload from `stdin` and records it with the session's loop.
pub(crate) fn answer(stdin: impl Read, agent: Option<Agent>) {
    let input: StopFailureInput = match wire::read_payload(stdin)
        .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
    {
        Ok(input) => input,
        Err(why) => {
            warn(format!("could not read the StopFailure payload: {why}"));
            return;
        }
    };
    if !wire::is_event(input.hook_event_name.as_deref(), wire::STOP_FAILURE_EVENT) {
        warn(
            "a payload of another event reached `ralph-hook stop-failure`; fix the event in hooks.json or settings.json",
        );
        return;
    }
    if input.cwd.as_os_str().is_empty() || input.session_id.is_empty() {
        return;
    }
    let agent = agent.unwrap_or(Agent::Claude);
    let Some(store) = lookup::record_at(&input.cwd, agent) else {
        return;
    };
    let kind = input.error.as_deref().unwrap_or("unknown");
    let details = match &input.error_details {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    if let Err(err) =
        session_events::stop_failure(&store, &input.session_id, kind, &details, clock::now())
    {
        warn(format!(
            "could not record the API error with the loop: {err}"
        ));
    }
}
