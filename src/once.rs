//! Acting on each host event once when ralph-hook is installed twice.
//!
//! A user who has the plugin and also ran `ralph-hook install` has two Stop hooks (and two
//! UserPromptSubmit hooks) that run ralph-hook for the same event. Measured with Codex
//! 0.169.0 and Claude Code 2.1.328: both hosts start the two hooks at the same moment, and
//! when both block, the model is sent both reasons, as two continuation prompts. So the
//! run that takes the loop's lock first acts on the event; a run of the same event by the
//! other installation then answers as a silent allow, which the host combines with the
//! first run's answer into exactly one continuation prompt (or one message).
//!
//! No single field names a stop: Codex's `turn_id` and Claude Code's `prompt_id` stay the
//! same for every stop of one user turn (a block continues that turn). The key is the
//! session, that id, `stop_hook_active`, the transcript and the message. Two different
//! stops can still share it, when the model repeats a message word for word; what tells
//! them apart is who runs: each installation runs once per event, so the same
//! installation running for the same key again is a new event.

use std::ffi::OsString;

use crate::digest;
use crate::state::HandledEvent;
use crate::wire::{PromptInput, StopInput};

/// One run of ralph-hook for one host event: what the event is, and which installation
/// runs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRun {
    key: String,
    origin: String,
}

impl EventRun {
    /// This process's run for a Stop event.
    pub fn stop(input: &StopInput) -> Self {
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
        EventRun {
            key: key(&[
                b"stop",
                input.session_id.as_bytes(),
                turn(input.turn_id.as_deref(), input.prompt_id.as_deref()),
                active.as_bytes(),
                transcript,
                message,
            ]),
            origin: this_installation(),
        }
    }

    /// This process's run for a UserPromptSubmit event.
    pub fn prompt(input: &PromptInput) -> Self {
        EventRun {
            key: key(&[
                b"prompt",
                input.session_id.as_bytes(),
                turn(input.turn_id.as_deref(), input.prompt_id.as_deref()),
                input.prompt.as_bytes(),
            ]),
            origin: this_installation(),
        }
    }

    /// True when another installation already acted on this event, so this run must not;
    /// either way `handled` records this run.
    pub fn seen_again(&self, handled: &mut Option<HandledEvent>) -> bool {
        match handled {
            Some(event) if event.key == self.key && !event.by.contains(&self.origin) => {
                event.by.push(self.origin.clone());
                true
            }
            _ => {
                *handled = Some(HandledEvent {
                    key: self.key.clone(),
                    by: vec![self.origin.clone()],
                });
                false
            }
        }
    }
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

/// Which installation of ralph-hook this process runs for: the plugin's folder (both hosts
/// set `CLAUDE_PLUGIN_ROOT` for a plugin's hooks, Codex also `PLUGIN_ROOT`, and neither
/// sets them for hooks of settings.json or hooks.json), else the binary's own path.
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

    impl EventRun {
        fn new(key: &str, origin: &str) -> Self {
            EventRun {
                key: key.into(),
                origin: origin.into(),
            }
        }
    }

    #[test]
    fn the_second_installation_on_the_same_event_is_a_repeat_and_is_recorded() {
        let mut handled = None;
        assert!(!EventRun::new("stop-1", "plugin").seen_again(&mut handled));
        assert!(EventRun::new("stop-1", "install").seen_again(&mut handled));
        assert_eq!(
            handled,
            Some(HandledEvent {
                key: "stop-1".into(),
                by: vec!["plugin".into(), "install".into()],
            })
        );
    }

    #[test]
    fn the_same_installation_again_is_a_new_event_even_with_the_same_key() {
        // A model that repeats itself word for word: one installation, two stops.
        let mut handled = None;
        let run = EventRun::new("same-message", "install");
        assert!(!run.seen_again(&mut handled));
        assert!(!run.seen_again(&mut handled));

        // Installed twice, the repeat is again acted on once, whichever runs first.
        let mut handled = None;
        for (first, second) in [("a", "b"), ("b", "a"), ("a", "b")] {
            assert!(!EventRun::new("same-message", first).seen_again(&mut handled));
            assert!(EventRun::new("same-message", second).seen_again(&mut handled));
        }
    }

    #[test]
    fn a_different_event_starts_over() {
        let mut handled = None;
        assert!(!EventRun::new("stop-1", "a").seen_again(&mut handled));
        assert!(!EventRun::new("stop-2", "b").seen_again(&mut handled));
        assert_eq!(handled.map(|event| event.by), Some(vec!["b".to_string()]));
    }

    #[test]
    fn stops_of_one_turn_differ_by_message_and_continuation() {
        let first: StopInput = serde_json::from_str(include_str!(
            "../tests/fixtures/hosts/codex-0.169.0/stop-first.json"
        ))
        .unwrap();
        let mut continued = first.clone();
        continued.stop_hook_active = true;
        let mut other_message = first.clone();
        other_message.last_assistant_message = Some("something else".into());
        let key = |input: &StopInput| EventRun::stop(input).key;
        assert_eq!(key(&first), key(&first.clone()));
        assert_ne!(key(&first), key(&continued));
        assert_ne!(key(&first), key(&other_message));
        let claude: StopInput = serde_json::from_str(include_str!(
            "../tests/fixtures/hosts/claude-2.1.328/stop-first.json"
        ))
        .unwrap();
        let mut other_prompt = claude.clone();
        other_prompt.prompt_id = Some("another prompt".into());
        assert_ne!(key(&claude), key(&other_prompt));
    }
}
