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
//! The state remembers the last event it acted on ([`HandledEvent`]) and which
//! installations ran for it. Two different events can share a key (a model that repeats a
//! message word for word); each installation runs once per event, so the same
//! installation running for the same key again is a new event. What the key and the
//! installation are is the hook's to say (`crate::hook::event`).

use crate::engine::state::HandledEvent;

/// One run of ralph-hook for one host event: what the event is, and which installation
/// runs for it (both as digests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRun {
    key: String,
    origin: String,
}

impl EventRun {
    /// A run of the installation `origin` for the event `key`.
    pub fn new(key: impl Into<String>, origin: impl Into<String>) -> Self {
        EventRun {
            key: key.into(),
            origin: origin.into(),
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

    /// The event's key.
    #[cfg(any(test, feature = "testing"))]
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
