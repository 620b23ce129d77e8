//! Which host event a hook run is for, and which installation of ralph-hook runs it: the
//! key and origin of [`EventRun`], so that the plugin and `ralph-hook install`, both in
//! place, act on each event once.
//!
//! No single field names a stop: Codex's `turn_id` and Claude Code's `prompt_id` stay the
//! same for every stop of one user turn (a block continues that turn; measured with Codex
//! 0.169.0 and Claude Code 2.1.328). The key is the session, that id,
//! `stop_hook_active`, the transcript and the message. The installation is the plugin's
//! folder (both hosts set `CLAUDE_PLUGIN_ROOT` for a plugin's hooks, Codex also
//! `PLUGIN_ROOT`, and neither sets them for hooks of settings.json or hooks.json), else
//! the binary's own path.

use std::ffi::OsString;

use crate::engine::digest;
use crate::engine::once::EventRun;
use crate::hook::wire::{PromptInput, StopInput};

/// This process's run for a Stop event.
pub(crate) fn stop(input: &StopInput) -> EventRun {
    let active = if input.stop_hook_active { "1" } else { "0" };
    let transcript = input
        .transcript_path
        .as_ref()
        .map(|path| path.as_os_str().as_encoded_bytes())
        .unwrap_or_default();
    let message = match &input.last_assistant_message {
        Some(message) => message.as_bytes(),
        None => b"\0none",
    };
    EventRun::new(
        key(&[
            b"stop",
            input.session_id.as_bytes(),
            turn(input.turn_id.as_deref(), input.prompt_id.as_deref()),
            active.as_bytes(),
            transcript,
            message,
        ]),
        this_installation(),
    )
}

/// This process's run for a UserPromptSubmit event.
pub(crate) fn prompt(input: &PromptInput) -> EventRun {
    EventRun::new(
        key(&[
            b"prompt",
            input.session_id.as_bytes(),
            turn(input.turn_id.as_deref(), input.prompt_id.as_deref()),
            input.prompt.as_bytes(),
        ]),
        this_installation(),
    )
}

/// The id of the user turn: Codex's `turn_id`, else Claude Code's `prompt_id`.
fn turn<'a>(turn_id: Option<&'a str>, prompt_id: Option<&'a str>) -> &'a [u8] {
    turn_id.or(prompt_id).unwrap_or_default().as_bytes()
}

/// Digest of the parts, each ended by a NUL so that no two lists give the same bytes.
fn key(parts: &[&[u8]]) -> String {
    let mut bytes = Vec::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
    for part in parts {
        bytes.extend_from_slice(part);
        bytes.push(0);
    }
    digest::hex(&bytes)
}

/// Which installation of ralph-hook this process runs for, as a digest.
fn this_installation() -> String {
    let plugin_root = ["PLUGIN_ROOT", "CLAUDE_PLUGIN_ROOT"]
        .iter()
        .find_map(|name| std::env::var_os(name).filter(|value| !value.is_empty()));
    let mut place = OsString::new();
    match plugin_root {
        Some(root) => {
            place.push("plugin:");
            place.push(root);
        }
        None => {
            place.push("binary:");
            if let Ok(exe) = std::env::current_exe() {
                place.push(exe);
            }
        }
    }
    digest::hex(place.as_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_of_one_turn_differ_by_message_and_continuation() {
        let first: StopInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/codex-0.169.0/stop-first.json"
        ))
        .unwrap();
        let mut continued = first.clone();
        continued.stop_hook_active = true;
        let mut other_message = first.clone();
        other_message.last_assistant_message = Some("something else".into());
        let key = |input: &StopInput| stop(input).key().to_owned();
        assert_eq!(key(&first), key(&first.clone()));
        assert_ne!(key(&first), key(&continued));
        assert_ne!(key(&first), key(&other_message));
        let claude: StopInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/claude-2.1.328/stop-first.json"
        ))
        .unwrap();
        let mut other_prompt = claude.clone();
        other_prompt.prompt_id = Some("another prompt".into());
        assert_ne!(key(&claude), key(&other_prompt));
    }
}
