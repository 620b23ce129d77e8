//! The loop state file: what a loop is, as it is stored on disk.
//!
//! Version 2 keeps every field the bash skill wrote (version 1) so that tools reading
//! the old shape keep working, and adds what binding a loop to one session and the
//! budgets need. A version-1 file still parses: `show` displays it, `adopt` upgrades it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::clock;
use crate::engine::action::Action;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::settings::{
    DEFAULT_VERIFY_TIMEOUT_SECS, LoopSettings, MAX_VERIFY_TIMEOUT_SECS, WrapUp,
};
use crate::engine::tasks::TaskProgress;

/// The state version this binary writes.
pub const STATE_VERSION: u32 = 2;

/// One loop, as stored in `<workspace>/.codex/ralph-loop-state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// False once a loop has ended (the bash version kept such files around).
    pub active: bool,
    /// Kept for the bash version's readers; always true for a running loop.
    #[serde(default = "yes")]
    pub auto_continue: bool,
    /// The task, verbatim.
    pub prompt: String,
    /// How many continuation prompts the loop has handed out.
    #[serde(default)]
    pub iteration: u32,
    /// The cap on `iteration`; 0 means no cap.
    #[serde(default)]
    pub max_iterations: u32,
    /// The promise text, e.g. `DONE`.
    #[serde(default)]
    pub completion_promise: String,
    /// The exact text that ends the loop, e.g. `<promise>DONE</promise>`.
    pub completion_signal: String,
    /// The word inside the continuation signal.
    #[serde(default)]
    pub continue_magic_word: String,
    /// The text the agent ends non-final messages with.
    #[serde(default)]
    pub continue_signal: String,
    /// When the loop started (RFC 3339, UTC).
    pub created_at: String,
    /// When the state last changed (RFC 3339, UTC).
    #[serde(default)]
    pub updated_at: String,
    /// 1 for the bash skill's files, 2 for this binary's.
    #[serde(default = "version_one")]
    pub state_version: u32,

    /// A random id that ties the state to the user's own record of starting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// The host whose session runs the loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// The only session whose stops the loop steers; `None` until a session claims it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The workspace the loop was started for (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// How the loop was started, for `show` and for deciding trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<StartedBy>,
    /// A paused loop allows every stop without counting it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// End the loop once it has run this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_secs: Option<u64>,
    /// End the loop after this many stops without progress; 0 turns the brake off.
    #[serde(default)]
    pub no_progress: u32,
    /// A shell command that must exit 0 before a completion is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    /// How long the verify command may run.
    #[serde(default = "default_verify_timeout")]
    pub verify_timeout_secs: u64,
    /// End the loop once the session has used this many tokens since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Tokens the session has used since the loop started (counted only with a budget).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tokens_used: u64,
    /// End the loop once the session's responses since it started cost this many
    /// nanodollars (`--max-cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_nanos: Option<u64>,
    /// What the session's responses have cost since the loop started, in nanodollars
    /// (counted only with a money budget).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost_nanos: u64,
    /// `--count weighted`: the token budget counts each token by its price relative to
    /// the model's input price.
    #[serde(default, skip_serializing_if = "is_false")]
    pub count_weighted: bool,
    /// The budget warnings' thresholds, percent (`--warn-at`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn_at: Vec<u8>,
    /// The warnings given so far, `budget:percent` (`tokens:80`): each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warned: Vec<String>,
    /// Which budgets get a wrap-up turn (`--wrap-up`).
    #[serde(default, skip_serializing_if = "is_off")]
    pub wrap_up: WrapUp,
    /// The outcome code of the budget that ran out, while its wrap-up turn runs: the
    /// next stop ends the loop with it. Set once, so never more than one wrap-up turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapping_up: Option<String>,
    /// Why the agent said it is blocked on the user: the loop is paused until the user's
    /// next prompt in the session (or `resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// The user's own words, typed into the loop's session while it ran: they are
    /// steering, so the loop is paused for that turn and `resume` goes on with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steering: Option<String>,
    /// The background work (Claude Code's `background_tasks`, `session_crons`) the
    /// session's last stop left running: the loop waits for the host to wake the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The host said the loop's session ended (SessionEnd), and why: the loop is orphaned
    /// at once, until that session stops here again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphaned: Option<String>,
    /// The kind of API error that ended the loop's last turn (Claude Code's StopFailure):
    /// the user's next prompt in the session goes on with the loop rather than steering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_failure: Option<String>,
    /// What the no-progress brake has seen so far.
    #[serde(default)]
    pub progress: Progress,
    /// The last decision a stop made, for `show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<LastDecision>,
    /// The host event (a stop, a prompt) the loop last acted on, and which installations
    /// of ralph-hook have run for it: with the plugin and `ralph-hook install` both in
    /// place, each event is acted on once (see `engine::once`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<HandledEvent>,
    /// The task list (`--tasks FILE`): its items accepted so far and the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskProgress>,
}

/// One host event and the installations that have run for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandledEvent {
    /// Digest of what identifies the event (session, turn, message …).
    pub key: String,
    /// Digests of the installations (hook commands) that ran for it.
    pub by: Vec<String>,
}

/// Who started a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartedBy {
    /// The UserPromptSubmit hook, from the user's `$ralph-loop …` prompt.
    PromptHook,
    /// `ralph-hook start`.
    Start,
    /// `ralph-hook adopt`, from a file the user read and accepted.
    Adopt,
    /// `ralph-hook run`, which launched the client headless and supervises it.
    Run,
}

/// What the no-progress brake remembers between stops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Digest of the last assistant message, whitespace-normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<String>,
    /// How many stops in a row carried that same message.
    #[serde(default)]
    pub same_message_stops: u32,
    /// The git workspace's fingerprint (see `fingerprint`) at the last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_digest: Option<String>,
    /// How many stops in a row found the workspace unchanged.
    #[serde(default)]
    pub unchanged_workspace_stops: u32,
    /// HEAD at the last look (`<branch> <commit>`), to name a commit or a branch switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_head: Option<String>,
    /// The most recently changed paths at the last look, path → mark, to name the path
    /// the next change touches (a bounded few, see `fingerprint::REMEMBERED_PATHS`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspace_paths: BTreeMap<String, String>,
    /// The last change the brake saw, so the user can check its verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<LastChange>,
}

/// A change the no-progress brake saw in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastChange {
    /// What changed, in words: a path, a commit, a branch switch.
    pub what: String,
    /// The loop's iteration when the stop saw it.
    pub iteration: u32,
    /// When (RFC 3339).
    pub at: String,
}

impl Progress {
    /// Keeps what a look at the workspace saw, for comparing the next look with.
    pub fn remember_workspace(&mut self, look: &Fingerprint) {
        self.workspace_digest = Some(look.digest.clone());
        self.workspace_head = Some(look.head.clone());
        self.workspace_paths = look.remembered_paths();
    }
}

/// A short record of the last stop decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDecision {
    /// When it was made (RFC 3339).
    pub at: String,
    /// `block`, `finish`, `pause`: the history's word for what the stop did.
    pub decision: LastAction,
    /// Why, in a few words.
    pub why: String,
}

/// What the last stop did: one of the history's actions, written as its word (the
/// state file is the same bytes as when this was a string). A word no ralph-hook writes,
/// from a file someone edited, is kept as it was, so such a file still reads (and `show`
/// can say it was edited) instead of becoming unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastAction {
    /// One of the history's actions.
    Did(Action),
    /// A word that names none.
    Unknown(String),
}

impl LastAction {
    /// The word in the state file.
    pub fn as_str(&self) -> &str {
        match self {
            LastAction::Did(action) => action.as_str(),
            LastAction::Unknown(word) => word,
        }
    }
}

impl From<Action> for LastAction {
    fn from(action: Action) -> Self {
        LastAction::Did(action)
    }
}

impl From<String> for LastAction {
    fn from(word: String) -> Self {
        match Action::from_word(&word) {
            Some(action) => LastAction::Did(action),
            None => LastAction::Unknown(word),
        }
    }
}

impl Serialize for LastAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LastAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(LastAction::from)
    }
}

fn yes() -> bool {
    true
}

fn version_one() -> u32 {
    1
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_off(wrap_up: &WrapUp) -> bool {
    *wrap_up == WrapUp::Off
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn default_verify_timeout() -> u64 {
    DEFAULT_VERIFY_TIMEOUT_SECS
}

impl LoopState {
    /// A fresh version-2 loop from validated settings.
    pub fn new(settings: &LoopSettings, origin: Origin, now: SystemTime) -> Self {
        let stamp = clock::format(now);
        LoopState {
            active: true,
            auto_continue: true,
            prompt: settings.task.clone(),
            iteration: 0,
            max_iterations: settings.max_iterations,
            completion_promise: settings.completion_promise.clone(),
            completion_signal: settings.completion_signal.clone(),
            continue_magic_word: settings.magic_word.clone(),
            continue_signal: settings.continue_signal.clone(),
            created_at: stamp.clone(),
            updated_at: stamp,
            state_version: STATE_VERSION,
            loop_id: Some(origin.loop_id),
            agent: Some(origin.agent),
            session_id: origin.session_id,
            workspace: Some(origin.workspace),
            started_by: Some(origin.started_by),
            paused: false,
            max_duration_secs: settings.max_duration.map(|d| d.as_secs()),
            no_progress: settings.no_progress,
            verify: settings.verify.clone(),
            verify_timeout_secs: settings.verify_timeout.as_secs(),
            max_tokens: settings.max_tokens,
            tokens_used: 0,
            max_cost_nanos: settings.max_cost,
            cost_nanos: 0,
            count_weighted: settings.count_weighted,
            warn_at: settings.warn_at.clone(),
            warned: Vec::new(),
            wrap_up: settings.wrap_up,
            wrapping_up: None,
            blocked: None,
            steering: None,
            waiting: None,
            orphaned: None,
            stop_failure: None,
            progress: Progress::default(),
            last_decision: None,
            handled: None,
            tasks: None,
        }
    }

    /// Parses a state file's text (version 1 or 2), checked as [`LoopState::checked`].
    pub fn from_json(text: &str) -> Result<Self, String> {
        let state: LoopState = serde_json::from_str(text).map_err(|err| err.to_string())?;
        state.checked()
    }

    /// Refuses a loop no ralph-hook could run and clamps its numbers into the ranges a
    /// new loop may have, so that nothing read from a file can overflow a deadline or
    /// keep a command running past the hook's own timeout.
    pub fn checked(mut self) -> Result<Self, String> {
        if self.state_version == 0 || self.state_version > STATE_VERSION {
            return Err(format!(
                "state_version {} is not one this ralph-hook reads (1 or 2); upgrade ralph-hook",
                self.state_version
            ));
        }
        if self.completion_signal.trim().is_empty() {
            return Err("completion_signal is empty".into());
        }
        self.verify_timeout_secs = self.verify_timeout_secs.clamp(1, MAX_VERIFY_TIMEOUT_SECS);
        Ok(self)
    }

    /// The text written to disk: pretty JSON with a trailing newline, like the bash version.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        text.push('\n');
        text
    }

    /// When the loop started, if the stored time parses.
    pub fn started_at(&self) -> Option<SystemTime> {
        clock::parse(&self.created_at)
    }

    /// How long the loop has run at `now`.
    pub fn elapsed(&self, now: SystemTime) -> Duration {
        self.started_at()
            .and_then(|start| now.duration_since(start).ok())
            .unwrap_or_default()
    }

    /// The time budget, if any.
    pub fn max_duration(&self) -> Option<Duration> {
        self.max_duration_secs.map(Duration::from_secs)
    }

    /// Tokens left of the budget (`None`: no token budget).
    pub fn tokens_left(&self) -> Option<u64> {
        self.max_tokens
            .map(|budget| budget.saturating_sub(self.tokens_used))
    }

    /// True when a stop reads the session's transcript for what it used: the loop has a
    /// token or a money budget.
    pub fn counts_usage(&self) -> bool {
        self.max_tokens.is_some() || self.max_cost_nanos.is_some()
    }

    /// Money left of the budget, in nanodollars (`None`: no money budget).
    pub fn cost_left(&self) -> Option<u64> {
        self.max_cost_nanos
            .map(|budget| budget.saturating_sub(self.cost_nanos))
    }

    /// How long the verify command may run (never more than the hook may wait).
    pub fn verify_timeout(&self) -> Duration {
        Duration::from_secs(self.verify_timeout_secs.clamp(1, MAX_VERIFY_TIMEOUT_SECS))
    }

    /// How many more stops without a change to the workspace end the loop (the last of
    /// them ends it); `None` when the brake is off or no git workspace is watched.
    pub fn unchanged_stops_left(&self) -> Option<u32> {
        (self.no_progress > 0 && self.progress.workspace_digest.is_some()).then(|| {
            self.no_progress
                .saturating_sub(self.progress.unchanged_workspace_stops)
        })
    }

    /// How many more stops carrying the last message again end the loop; `None` when the
    /// brake is off or no message was seen yet.
    pub fn repeated_messages_left(&self) -> Option<u32> {
        (self.no_progress > 0 && self.progress.message_digest.is_some()).then(|| {
            self.no_progress
                .saturating_sub(self.progress.same_message_stops)
        })
    }
}

/// Where a new loop comes from: the facts that bind it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The loop's random id.
    pub loop_id: String,
    /// The host.
    pub agent: Agent,
    /// The session it is bound to, if known at start.
    pub session_id: Option<String>,
    /// The workspace, absolute.
    pub workspace: PathBuf,
    /// Which command started it.
    pub started_by: StartedBy,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = include_str!("../../tests/fixtures/hosts/legacy-v1-state.json");

    #[test]
    fn a_version_one_file_from_the_bash_skill_parses_as_legacy() {
        let state = LoopState::from_json(LEGACY).expect("legacy state parses");
        assert_eq!(state.state_version, 1);
        assert!(state.loop_id.is_none());
        assert_eq!(state.completion_signal, "<promise>DONE</promise>");
        assert_eq!(state.max_iterations, 50);
        assert_eq!(state.session_id, None);
        assert_eq!(state.verify_timeout_secs, DEFAULT_VERIFY_TIMEOUT_SECS);
    }

    #[test]
    fn numbers_from_a_file_are_clamped_on_load() {
        let text = LEGACY.replace(
            "\"state_version\": 1",
            "\"state_version\": 1, \"verify_timeout_secs\": 18446744073709551615",
        );
        let state = LoopState::from_json(&text).expect("parses");
        assert_eq!(state.verify_timeout_secs, MAX_VERIFY_TIMEOUT_SECS);
        let text = LEGACY.replace(
            "\"state_version\": 1",
            "\"state_version\": 1, \"verify_timeout_secs\": 0",
        );
        assert_eq!(LoopState::from_json(&text).unwrap().verify_timeout_secs, 1);
    }

    #[test]
    fn a_future_state_version_is_refused_with_the_fix() {
        let text = LEGACY.replace("\"state_version\": 1", "\"state_version\": 9");
        let err = LoopState::from_json(&text).unwrap_err();
        assert!(err.contains("upgrade ralph-hook"), "{err}");
    }

    #[test]
    fn the_last_decision_is_typed_and_written_as_the_same_word() {
        for (word, typed) in [
            ("block", LastAction::Did(Action::Block)),
            ("finish", LastAction::Did(Action::Finish)),
            ("pause", LastAction::Did(Action::Pause)),
            ("allow", LastAction::Unknown("allow".into())),
            ("sp\\u00e4ter", LastAction::Unknown("später".into())),
        ] {
            let last = format!(
                "\"last_decision\": {{\"at\": \"2026-03-21T10:05:00Z\", \"decision\": \"{word}\", \"why\": \"w\"}}"
            );
            let text = LEGACY.replace(
                "\"state_version\": 1",
                &format!("\"state_version\": 1,\n  {last}"),
            );
            let state = LoopState::from_json(&text).expect("parses");
            let decided = state.last_decision.clone().expect("a last decision");
            assert_eq!(decided.decision, typed, "{word}");
            let written = state.to_json();
            let value: serde_json::Value = serde_json::from_str(&written).unwrap();
            assert_eq!(
                value["last_decision"]["decision"],
                serde_json::Value::from(typed.as_str()),
                "{word}"
            );
            assert_eq!(LoopState::from_json(&written).unwrap(), state);
        }
        let mut state = LoopState::from_json(LEGACY).unwrap();
        state.last_decision = Some(LastDecision {
            at: "2026-03-21T10:05:00Z".into(),
            decision: Action::Finish.into(),
            why: "max_iterations".into(),
        });
        assert!(
            state.to_json().contains(
                "\"last_decision\": {\n    \"at\": \"2026-03-21T10:05:00Z\",\n    \"decision\": \"finish\",\n    \"why\": \"max_iterations\"\n  }"
            ),
            "{}",
            state.to_json()
        );
        let number = LEGACY.replace(
            "\"state_version\": 1",
            "\"state_version\": 1, \"last_decision\": {\"at\": \"x\", \"decision\": 5, \"why\": \"w\"}",
        );
        let err = LoopState::from_json(&number).unwrap_err();
        assert!(err.contains("expected a string"), "{err}");
    }
}
