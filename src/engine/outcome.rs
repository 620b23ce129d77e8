//! How a loop ends: the one list of outcomes. The decision ends a loop with one
//! ([`crate::engine::decide::Decision::Finish`]), the history writes its code as the
//! reason ([`crate::engine::history::Reason::Ended`]), the final message and the notify
//! command name it, and `wait` maps each to its exit code. Every one of those matches on
//! it without a catch-all, so a new outcome is a compile error wherever it is not yet
//! handled.

/// Why a loop ended. Each has its own code in the history, `show` and the final message.
///
/// A new outcome is added here, to [`Outcome::ALL`] (through which the history reads its
/// code back) and to [`Outcome::code`]; the compiler then names each match that must say
/// what it means (the final message, `wait`'s exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The completion signal arrived (no verify command).
    Completed,
    /// The completion signal arrived and the verify command passed.
    Verified,
    /// The iteration cap was reached.
    IterationCap,
    /// The time budget ran out.
    TimeLimit,
    /// The token budget ran out.
    TokenLimit,
    /// The money budget ran out, or a response's model has no price.
    CostLimit,
    /// The same message came back too often.
    RepeatedMessage,
    /// The git workspace did not change for too long.
    UnchangedWorkspace,
    /// Someone ran `cancel` (or asked for it from the agent's sandbox).
    Cancelled,
    /// A new loop started in its place.
    Replaced,
    /// The hook could not run the loop (a broken record …).
    Error,
    /// `ralph-hook run` restarted the dead client `--max-restarts` times and it died again.
    RestartsExhausted,
    /// An item of the task list used up `--max-iterations-per-task` (`--on-stuck-task
    /// stop`, or the last open items were all skipped as stuck).
    StuckTask,
}

impl Outcome {
    /// Every outcome, for reading codes back, tests and docs.
    pub const ALL: [Outcome; 13] = [
        Outcome::Completed,
        Outcome::Verified,
        Outcome::IterationCap,
        Outcome::TimeLimit,
        Outcome::TokenLimit,
        Outcome::CostLimit,
        Outcome::RepeatedMessage,
        Outcome::UnchangedWorkspace,
        Outcome::Cancelled,
        Outcome::Replaced,
        Outcome::Error,
        Outcome::RestartsExhausted,
        Outcome::StuckTask,
    ];

    /// The stable reason code scripts read from the history and `show --json`.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Verified => "verified",
            Outcome::IterationCap => "max_iterations",
            Outcome::TimeLimit => "max_duration",
            Outcome::TokenLimit => "max_tokens",
            Outcome::CostLimit => "max_cost",
            Outcome::RepeatedMessage => "no_progress_message",
            Outcome::UnchangedWorkspace => "no_progress_workspace",
            Outcome::Cancelled => "cancelled",
            Outcome::Replaced => "replaced",
            Outcome::Error => "error",
            Outcome::RestartsExhausted => "restarts_exhausted",
            Outcome::StuckTask => "stuck_task",
        }
    }

    /// The outcome whose [`Outcome::code`] is `code`.
    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_its_outcome_and_no_two_share_one() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_code(outcome.code()), Some(outcome));
        }
        let mut codes: Vec<&str> = Outcome::ALL.iter().map(Outcome::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Outcome::ALL.len(), "two outcomes share a code");
        assert_eq!(Outcome::from_code("completion_rejected"), None);
        assert_eq!(Outcome::from_code(""), None);
    }
}
