//! `ralph-hook session-end`: the SessionEnd hook of both hosts. The session is gone, so
//! its loop is orphaned at once rather than guessed idle after ten minutes. Prints
//! nothing (both hosts ignore SessionEnd output) and never fails the host.

use std::io::Read;

use crate::agent::Agent;
use crate::clock;
use crate::engine::lookup;
use crate::engine::session_events;
use crate::hook::wire::{self, SessionEndInput};
use crate::messages::warn;

/// Reads a SessionEnd payload from `stdin` and marks the session's loop orphaned.
pub(crate) fn answer(stdin: impl Read, agent: Option<Agent>) {
    let input: SessionEndInput = match wire::read_payload(stdin)
        .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
    {
        Ok(input) => input,
        Err(why) => {
            warn(format!("could not read the SessionEnd payload: {why}"));
            return;
        }
    };
    if !wire::is_event(input.hook_event_name.as_deref(), wire::SESSION_END_EVENT) {
        warn(
            "a payload of another event reached `ralph-hook session-end`; fix the event in hooks.json or settings.json",
        );
        return;
    }
    if input.cwd.as_os_str().is_empty() || input.session_id.is_empty() {
        return;
    }
    let agent = agent.unwrap_or_else(|| wire::agent_of(input.turn_id.as_ref()));
    let Some(store) = lookup::record_at(&input.cwd, agent) else {
        return;
    };
    let reason = input.reason.as_deref().unwrap_or("no reason given");
    if let Err(err) = session_events::orphan(&store, &input.session_id, reason, clock::now()) {
        warn(format!(
            "could not mark the loop of the ended session: {err}"
        ));
    }
}
