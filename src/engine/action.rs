//! What a decision did: the word in the history's `decision` and in the state file's
//! `last_decision`, one typed list for both.

use serde::{Deserialize, Serialize};

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
    /// The user's `$ralph-loop` prompt was refused: nothing started.
    Refuse,
    /// `ralph-hook run` launched the client again in the same session.
    Restart,
    /// The turn ended while background work runs; the loop waits for it, uncounted.
    Wait,
    /// A prompt that was not the user's own words was ignored by the loop.
    Ignore,
    /// The loop's session ended (SessionEnd): the loop is orphaned.
    Orphan,
    /// The turn ended on an API error (StopFailure); the loop stays resumable.
    Error,
    /// A fresh loop's turn ended its session's iteration (`run --fresh`): the stop was
    /// allowed and the next iteration starts in a new session.
    NextSession,
    /// An item of the task list (`--tasks`) was accepted on evidence.
    Accept,
    /// An item of the task list used up its cap and was left open (`--on-stuck-task skip`).
    Skip,
}

impl Action {
    /// Every action, for reading words back.
    pub const ALL: [Action; 17] = [
        Action::Start,
        Action::Block,
        Action::Finish,
        Action::Bind,
        Action::Adopt,
        Action::Pause,
        Action::Resume,
        Action::Failed,
        Action::Refuse,
        Action::Restart,
        Action::Wait,
        Action::Ignore,
        Action::Orphan,
        Action::Error,
        Action::NextSession,
        Action::Accept,
        Action::Skip,
    ];

    /// The action whose word is `word`.
    pub fn from_word(word: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == word)
    }

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
            Action::Refuse => "refuse",
            Action::Restart => "restart",
            Action::Wait => "wait",
            Action::Ignore => "ignore",
            Action::Orphan => "orphan",
            Action::Error => "error",
            Action::NextSession => "next_session",
            Action::Accept => "accept",
            Action::Skip => "skip",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_word() {
        for action in Action::ALL {
            assert_eq!(Action::from_word(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
        assert_eq!(Action::from_word("allow"), None);
    }
}
