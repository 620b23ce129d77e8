//! The history of a workspace's loops: one JSON line per decision or change, kept with
//! the user's record (never in the workspace), read by `log` and `show`.
//!
//! The vocabulary is typed: every event, decision and reason is an enum, so a line
//! names one of a known set and scripts can rely on the words.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::engine::decide::Outcome;
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
    /// A UserPromptSubmit hook saw a prompt (one it ignored, or the user steering).
    Prompt,
    /// The host's SessionEnd: the session is gone.
    SessionEnd,
    /// Claude Code's StopFailure: the turn ended on an API error.
    StopFailure,
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A loop began.
    Start,
    /// The turn was continued with a prompt.
    Block,
    /// The loop ended.
    Finish,
    /// The loop was bound to a session.
    Bind,
    /// The loop was adopted.
    Adopt,
    /// The loop was paused.
    Pause,
    /// The loop was resumed.
    Resume,
    /// Something the user asked for did not work (the notify command failed).
    Failed,
    /// The turn ended while background work runs; the loop waits for it, uncounted.
    Wait,
    /// A prompt that was not the user's own words was ignored.
    Ignore,
    /// The loop's session ended; the loop is orphaned.
    Orphan,
    /// The turn ended on an API error; the loop stays resumable.
    Error,
}

/// Why: the reason code of a finish, or of a rejected completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The completion signal arrived.
    Completed,
    /// The completion signal arrived and verify passed.
    Verified,
    /// The iteration cap was reached.
    MaxIterations,
    /// The time budget ran out.
    MaxDuration,
    /// The token budget ran out.
    MaxTokens,
    /// The same message came back too often.
    NoProgressMessage,
    /// The git workspace did not change for too long.
    NoProgressWorkspace,
    /// Someone cancelled the loop.
    Cancelled,
    /// A new loop replaced it.
    Replaced,
    /// The loop could not go on (a broken record …).
    Error,
    /// The agent claimed completion and verify said no; the loop went on.
    CompletionRejected,
    /// The agent said it is blocked on the user; the loop paused.
    Blocked,
}

impl From<Outcome> for Reason {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Completed => Reason::Completed,
            Outcome::Verified => Reason::Verified,
            Outcome::IterationCap => Reason::MaxIterations,
            Outcome::TimeLimit => Reason::MaxDuration,
            Outcome::TokenLimit => Reason::MaxTokens,
            Outcome::RepeatedMessage => Reason::NoProgressMessage,
            Outcome::UnchangedWorkspace => Reason::NoProgressWorkspace,
            Outcome::Cancelled => Reason::Cancelled,
            Outcome::Replaced => Reason::Replaced,
            Outcome::Error => Reason::Error,
        }
    }
}

impl Reason {
    /// The word written to the history (the same as in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Completed => "completed",
            Reason::Verified => "verified",
            Reason::MaxIterations => "max_iterations",
            Reason::MaxDuration => "max_duration",
            Reason::MaxTokens => "max_tokens",
            Reason::NoProgressMessage => "no_progress_message",
            Reason::NoProgressWorkspace => "no_progress_workspace",
            Reason::Cancelled => "cancelled",
            Reason::Replaced => "replaced",
            Reason::Error => "error",
            Reason::CompletionRejected => "completion_rejected",
            Reason::Blocked => "blocked",
        }
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
            Event::SessionEnd => "session_end",
            Event::StopFailure => "stop_failure",
        }
    }
}

impl Action {
    /// The word written to the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Block => "block",
            Action::Finish => "finish",
            Action::Bind => "bind",
            Action::Adopt => "adopt",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Failed => "failed",
            Action::Wait => "wait",
            Action::Ignore => "ignore",
            Action::Orphan => "orphan",
            Action::Error => "error",
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
        }
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
        }
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
            Event::SessionEnd,
            Event::StopFailure,
        ] {
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::Value::from(event.as_str())
            );
        }
        for action in [
            Action::Start,
            Action::Block,
            Action::Finish,
            Action::Bind,
            Action::Adopt,
            Action::Pause,
            Action::Resume,
            Action::Failed,
            Action::Wait,
            Action::Ignore,
            Action::Orphan,
            Action::Error,
        ] {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
    }
}
