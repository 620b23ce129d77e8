//! The history of a workspace's loops: one JSON line per decision or change, kept with
//! the user's record (never in the workspace), read by `log` and `show`.
//!
//! The vocabulary is typed: every event, decision and reason is an enum, so a line
//! names one of a known set and scripts can rely on the words.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::engine::outcome::Outcome;

pub(crate) use crate::engine::action::Action;
use crate::engine::signal::Tag;
use crate::engine::state::LoopState;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A loop was started (or replaced an older one).
    Start,
    /// A Stop hook decided.
    Stop,
    /// A session claimed a loop started without one.
    Claim,
    /// `cancel` ended the loop.
    Cancel,
    /// `adopt` made a file the user read a loop of theirs.
    Adopt,
    /// `pause`.
    Pause,
    /// `resume`, or the user's prompt that answered a blocked agent.
    Resume,
    /// The user's `--notify` command ran.
    Notify,
    /// A `$ralph-loop` prompt the prompt hook could not act on (a typo, a live loop in
    /// the way): `codex exec` shows the user nothing, so the history must.
    Prompt,
    /// `ralph-hook run` resumed the session after its client died, or took over a loop
    /// whose supervisor died (`run --resume`).
    Restart,
    /// The host's SessionEnd: the session is gone.
    SessionEnd,
    /// Claude Code's StopFailure: the turn ended on an API error.
    StopFailure,
}

/// Why: the outcome a loop ended with, or what became of a stop that did not end it.
/// Written as its code (`max_iterations`, `completion_rejected` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The loop ended with this outcome (a finish line).
    Ended(Outcome),
    /// The agent claimed completion and verify said no; the loop went on.
    CompletionRejected,
    /// The agent said it is blocked on the user; the loop paused.
    Blocked,
    /// An item of the task list was checked but not accepted (no change since it began,
    /// or the verify command failed); the loop went on with it.
    TaskRejected,
}

impl From<Outcome> for Reason {
    fn from(outcome: Outcome) -> Self {
        Reason::Ended(outcome)
    }
}

impl Reason {
    /// The word written to the history (the same as in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ended(outcome) => outcome.code(),
            Reason::CompletionRejected => "completion_rejected",
            Reason::Blocked => "blocked",
            Reason::TaskRejected => "task_rejected",
        }
    }

    /// The reason whose word is `word`.
    pub fn from_word(word: &str) -> Option<Reason> {
        match word {
            "completion_rejected" => Some(Reason::CompletionRejected),
            "blocked" => Some(Reason::Blocked),
            "task_rejected" => Some(Reason::TaskRejected),
            code => Outcome::from_code(code).map(Reason::Ended),
        }
    }

    /// The outcome of a finish, `None` for a stop that did not end the loop.
    pub fn outcome(self) -> Option<Outcome> {
        match self {
            Reason::Ended(outcome) => Some(outcome),
            Reason::CompletionRejected | Reason::Blocked | Reason::TaskRejected => None,
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = String::deserialize(deserializer)?;
        Reason::from_word(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown reason `{word}`")))
    }
}

impl Event {
    /// The word written to the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Stop => "stop",
            Event::Claim => "claim",
            Event::Cancel => "cancel",
            Event::Adopt => "adopt",
            Event::Pause => "pause",
            Event::Resume => "resume",
            Event::Notify => "notify",
            Event::Prompt => "prompt",
            Event::Restart => "restart",
            Event::SessionEnd => "session_end",
            Event::StopFailure => "stop_failure",
        }
    }
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339).
    pub at: String,
    /// What happened.
    pub event: Event,
    /// What was decided.
    pub decision: Action,
    /// Why (a finish, or a rejected completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// The session that made the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The iteration after the decision.
    #[serde(default)]
    pub iteration: u32,
    /// The cap (0 = none).
    #[serde(default)]
    pub max_iterations: u32,
    /// Which signal the assistant's message carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    /// Anything else worth keeping (verify's result, where a bad record went …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Tokens the session used in the turn this stop ended (with a token budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// The loop's running total of tokens after this line (with a token budget): what
    /// `log`, `show` and `wait` report beside the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_used: Option<u64>,
    /// The token budget (`--max-tokens`), on the lines of a loop that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// What the responses of the turn this stop ended cost, in nanodollars (with a money
    /// budget): the history's per-iteration cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_nanos: Option<u64>,
    /// The loop's spend after this line, in nanodollars (with a money budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_used_nanos: Option<u64>,
    /// The money budget (`--max-cost`) in nanodollars, on the lines of a loop that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_nanos: Option<u64>,
}

impl HistoryEntry {
    /// An entry about `state` at `now`.
    pub fn about(state: &LoopState, event: Event, decision: Action, now: SystemTime) -> Self {
        HistoryEntry {
            at: clock::format(now),
            event,
            decision,
            reason: None,
            loop_id: state.loop_id.clone(),
            session_id: state.session_id.clone(),
            iteration: state.iteration,
            max_iterations: state.max_iterations,
            tag: None,
            detail: None,
            tokens: None,
            tokens_used: state.max_tokens.map(|_| state.tokens_used),
            max_tokens: state.max_tokens,
            cost_nanos: None,
            cost_used_nanos: state.max_cost_nanos.map(|_| state.cost_nanos),
            max_cost_nanos: state.max_cost_nanos,
        }
    }

    /// Sets the cost of the responses counted at this stop.
    pub fn cost(mut self, cost: Option<u64>) -> Self {
        self.cost_nanos = cost;
        self
    }

    /// Sets the tokens counted at this stop.
    pub fn tokens(mut self, tokens: Option<u64>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<Reason>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the tag.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.tag = Some(tag);
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the session that acted.
    pub fn session(mut self, session: Option<&str>) -> Self {
        self.session_id = session.map(str::to_string);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_written_with_its_own_reason_code() {
        for outcome in Outcome::ALL {
            let reason = Reason::from(outcome);
            assert_eq!(reason.as_str(), outcome.code());
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::Value::from(outcome.code())
            );
            assert_eq!(reason.outcome(), Some(outcome));
        }
    }

    #[test]
    fn every_reason_reads_back_from_its_word_and_an_unknown_word_is_refused() {
        let reasons = Outcome::ALL
            .map(Reason::Ended)
            .into_iter()
            .chain([Reason::CompletionRejected, Reason::Blocked]);
        for reason in reasons {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), reason);
        }
        assert_eq!(Reason::CompletionRejected.outcome(), None);
        assert_eq!(Reason::Blocked.outcome(), None);
        let err = serde_json::from_str::<Reason>("\"retired\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown reason `retired`"),
            "{err}"
        );
        assert!(serde_json::from_str::<Reason>("3").is_err());
    }

    #[test]
    fn the_words_in_the_json_are_the_words_log_prints() {
        for event in [
            Event::Start,
            Event::Stop,
            Event::Claim,
            Event::Cancel,
            Event::Adopt,
            Event::Pause,
            Event::Resume,
            Event::Notify,
            Event::Prompt,
            Event::Restart,
            Event::SessionEnd,
            Event::StopFailure,
        ] {
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::Value::from(event.as_str())
            );
        }
        for action in Action::ALL {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
    }
}
