//! What the hosts send on stdin and accept on stdout, field for field.
//!
//! Inputs tolerate unknown fields (hosts add them in new versions) and treat nullable
//! ones as `Option`. Outputs serialise only the fields that are set, with the exact
//! names: Codex rejects an object with a key it does not know and then ignores the
//! hook's decision.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::engine::render;

/// The largest payload read from stdin (a 1 MB assistant message fits many times over).
pub const MAX_PAYLOAD_BYTES: u64 = 32 * 1024 * 1024;

/// The Stop hook's input, as Codex 0.169 and Claude Code 2.1.328 send it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopInput {
    /// The session (Codex: the thread id).
    #[serde(default)]
    pub session_id: String,
    /// Codex only: the turn. Its presence tells the hosts apart.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Claude Code only: the user prompt this stop belongs to (the same for every stop
    /// of one turn, like Codex's `turn_id`).
    #[serde(default)]
    pub prompt_id: Option<String>,
    /// The session's transcript (a fallback for the last message).
    #[serde(default)]
    pub transcript_path: Option<PathBuf>,
    /// Where the session runs; may be a subdirectory of the workspace.
    #[serde(default)]
    pub cwd: PathBuf,
    /// True on stops that follow a block.
    #[serde(default)]
    pub stop_hook_active: bool,
    /// The assistant's last message.
    #[serde(default)]
    pub last_assistant_message: Option<String>,
    /// `Stop`; another name means the payload was routed to the wrong hook.
    #[serde(default)]
    pub hook_event_name: Option<String>,
    /// Claude Code only: the session's running or pending background tasks (`id`, `type`,
    /// `status`, `description` …; Claude Code 2.1.332 lists only unfinished ones). Kept
    /// as raw JSON so that a shape a new version sends never fails the stop.
    #[serde(default)]
    pub background_tasks: Option<serde_json::Value>,
    /// Claude Code only: the session's scheduled wake-ups (`id`, `schedule`, `recurring`,
    /// `prompt`).
    #[serde(default)]
    pub session_crons: Option<serde_json::Value>,
}

/// How many background tasks [`StopInput::background_work`] names.
const NAMED_TASKS: usize = 3;
/// How much of each task's description it keeps.
const TASK_DESCRIPTION_CHARS: usize = 80;

impl StopInput {
    /// The background work the session leaves running, in a few bounded words (`2
    /// background tasks (npm test, …) and 1 scheduled wake-up`); `None` when there is
    /// none. The host wakes the session when a task finishes or a wake-up is due.
    pub fn background_work(&self) -> Option<String> {
        let entries = |value: &Option<serde_json::Value>| -> Vec<serde_json::Value> {
            match value {
                Some(serde_json::Value::Array(items)) => items.clone(),
                Some(_) | None => Vec::new(),
            }
        };
        let tasks = entries(&self.background_tasks);
        let crons = entries(&self.session_crons);
        if tasks.is_empty() && crons.is_empty() {
            return None;
        }
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let mut parts = Vec::new();
        if !tasks.is_empty() {
            let mut named: Vec<String> = tasks
                .iter()
                .take(NAMED_TASKS)
                .filter_map(|task| task.get("description").and_then(|d| d.as_str()))
                .map(|d| {
                    render::printable(&d.chars().take(TASK_DESCRIPTION_CHARS).collect::<String>())
                        .into_owned()
                })
                .collect();
            if tasks.len() > NAMED_TASKS && !named.is_empty() {
                named.push("…".into());
            }
            let mut text = plural(tasks.len(), "background task");
            if !named.is_empty() {
                text.push_str(&format!(" ({})", named.join(", ")));
            }
            parts.push(text);
        }
        if !crons.is_empty() {
            parts.push(plural(crons.len(), "scheduled wake-up"));
        }
        Some(parts.join(" and "))
    }
}

/// The UserPromptSubmit hook's input.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PromptInput {
    /// The session.
    #[serde(default)]
    pub session_id: String,
    /// Codex only.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Claude Code only: the prompt's id.
    #[serde(default)]
    pub prompt_id: Option<String>,
    /// Where the session runs.
    #[serde(default)]
    pub cwd: PathBuf,
    /// The user's raw prompt text.
    #[serde(default)]
    pub prompt: String,
    /// Claude Code only: who wrote the prompt (`user`, `sdk`, `system`, `loop_wakeup`,
    /// `schedule_wakeup`, `poll_event`); absent in Codex and older Claude Code versions,
    /// which counts as the user.
    #[serde(default)]
    pub source: Option<String>,
    /// The session's transcript: kept in the new loop's record as its sign of life.
    #[serde(default)]
    pub transcript_path: Option<PathBuf>,
    /// `UserPromptSubmit`; another name means the payload was routed to the wrong hook.
    #[serde(default)]
    pub hook_event_name: Option<String>,
}

/// The SessionEnd hook's input (both hosts; Claude Code's `reason` is `clear`, `resume`,
/// `logout`, `prompt_input_exit` or `other`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionEndInput {
    /// The session that ended.
    #[serde(default)]
    pub session_id: String,
    /// Codex only.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Where the session ran.
    #[serde(default)]
    pub cwd: PathBuf,
    /// Why it ended, as the host says.
    #[serde(default)]
    pub reason: Option<String>,
    /// `SessionEnd`; another name means the payload was routed to the wrong hook.
    #[serde(default)]
    pub hook_event_name: Option<String>,
}

/// Claude Code's StopFailure input: the turn ended on an API error instead of a stop.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopFailureInput {
    /// The session.
    #[serde(default)]
    pub session_id: String,
    /// Where the session runs.
    #[serde(default)]
    pub cwd: PathBuf,
    /// The kind of error: `rate_limit`, `overloaded`, `server_error`, `billing_error`,
    /// `authentication_failed`, `max_output_tokens` …
    #[serde(default)]
    pub error: Option<String>,
    /// The error's own words.
    #[serde(default)]
    pub error_details: Option<serde_json::Value>,
    /// `StopFailure`; another name means the payload was routed to the wrong hook.
    #[serde(default)]
    pub hook_event_name: Option<String>,
}

/// Which host sent a payload, when `--agent` did not say: Codex sends `turn_id`.
pub fn agent_of(turn_id: Option<&String>) -> Agent {
    match turn_id {
        Some(_) => Agent::Codex,
        None => Agent::Claude,
    }
}

/// Reads a payload from `reader`, refusing one over the size limit.
pub fn read_payload(reader: impl Read) -> Result<String, String> {
    let mut text = String::new();
    reader
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|err| format!("could not read the hook payload from stdin: {err}"))?;
    if text.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "the hook payload on stdin is over {} MiB",
            MAX_PAYLOAD_BYTES / (1024 * 1024)
        ));
    }
    Ok(text)
}

/// The fields every hook answer may carry, whatever the event (Codex's
/// `stop.command.output` and `user-prompt-submit.command.output` share them), flattened
/// into each event's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommonOutput {
    /// `false` ends the whole session, not just the turn; ralph-hook never sets it.
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_session: Option<bool>,
    /// Why the session was ended, with `continue: false`.
    #[serde(rename = "stopReason", skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Hide the hook's output from the transcript.
    #[serde(rename = "suppressOutput", skip_serializing_if = "Option::is_none")]
    pub suppress_output: Option<bool>,
    /// A line for the user.
    #[serde(rename = "systemMessage", skip_serializing_if = "Option::is_none")]
    pub system_message: Option<String>,
}

/// The one decision a hook may write: both hosts know only `"block"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDecision {
    /// Stop: continue the turn with `reason`. UserPromptSubmit: drop the prompt and show
    /// `reason` to the user.
    Block,
}

/// The Stop hook's answer. A silent allow prints nothing (`{}` is never printed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StopOutput {
    /// Set to continue the turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<BlockDecision>,
    /// The continuation prompt; never empty when blocking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fields any answer may carry.
    #[serde(flatten)]
    pub common: CommonOutput,
}

impl StopOutput {
    /// Let the turn end, optionally telling the user something.
    pub fn allow(system_message: Option<String>) -> Self {
        StopOutput {
            common: CommonOutput {
                system_message,
                ..CommonOutput::default()
            },
            ..StopOutput::default()
        }
    }

    /// Continue the turn with `reason` as the next prompt. An empty reason is a bug
    /// (hosts reject it), replaced by a minimal prompt.
    pub fn block(reason: String) -> Self {
        debug_assert!(!reason.trim().is_empty(), "a block needs a prompt");
        let reason = if reason.trim().is_empty() {
            "Continue working on the task.".to_string()
        } else {
            reason
        };
        StopOutput {
            decision: Some(BlockDecision::Block),
            reason: Some(reason),
            common: CommonOutput::default(),
        }
    }

    /// The text for stdout: nothing for a silent allow, else one JSON object.
    pub fn render(&self) -> String {
        render(self, *self == StopOutput::default())
    }
}

/// The UserPromptSubmit hook's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PromptOutput {
    /// Set to stop the prompt from reaching the model (both hosts show `reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<BlockDecision>,
    /// Shown to the user when blocking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fields any answer may carry.
    #[serde(flatten)]
    pub common: CommonOutput,
    /// Context for the model.
    #[serde(rename = "hookSpecificOutput", skip_serializing_if = "Option::is_none")]
    pub hook_specific_output: Option<PromptContext>,
}

/// `hookSpecificOutput` of a UserPromptSubmit answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptContext {
    /// Always `UserPromptSubmit`.
    #[serde(rename = "hookEventName")]
    pub hook_event_name: &'static str,
    /// Text the host adds to the turn for the model.
    #[serde(rename = "additionalContext")]
    pub additional_context: String,
}

impl PromptOutput {
    /// Adds `text` to the turn as context for the model.
    pub fn context(text: String, system_message: Option<String>) -> Self {
        PromptOutput {
            common: CommonOutput {
                system_message,
                ..CommonOutput::default()
            },
            hook_specific_output: Some(PromptContext {
                hook_event_name: PROMPT_EVENT,
                additional_context: text,
            }),
            ..PromptOutput::default()
        }
    }

    /// Stops the prompt and shows `reason` to the user (no model turn is spent).
    pub fn refuse(reason: String) -> Self {
        PromptOutput {
            decision: Some(BlockDecision::Block),
            reason: Some(reason),
            ..PromptOutput::default()
        }
    }

    /// The text for stdout: nothing when there is nothing to say, else one JSON object.
    pub fn render(&self) -> String {
        render(self, *self == PromptOutput::default())
    }
}

/// The event name a Stop payload carries.
pub const STOP_EVENT: &str = "Stop";
/// The event name a UserPromptSubmit payload carries.
pub const PROMPT_EVENT: &str = "UserPromptSubmit";
/// The event name a SessionEnd payload carries.
pub const SESSION_END_EVENT: &str = "SessionEnd";
/// The event name a StopFailure payload carries.
pub const STOP_FAILURE_EVENT: &str = "StopFailure";

/// True unless the payload names another event than `expected`: a hooks.json that routes
/// the wrong event to a ralph-hook command must do nothing rather than act on it.
pub fn is_event(named: Option<&str>, expected: &str) -> bool {
    named.is_none_or(|name| name == expected)
}

fn render(output: &impl Serialize, silent: bool) -> String {
    if silent {
        String::new()
    } else {
        serde_json::to_string(output).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODEX_STOP: &str =
        include_str!("../../tests/fixtures/hosts/codex-0.169.0/stop-first.json");
    const CLAUDE_STOP: &str =
        include_str!("../../tests/fixtures/hosts/claude-2.1.328/stop-continued.json");
    const CODEX_PROMPT: &str =
        include_str!("../../tests/fixtures/hosts/codex-0.169.0/user-prompt-submit.json");
    const CLAUDE_PROMPT: &str =
        include_str!("../../tests/fixtures/hosts/claude-2.1.328/user-prompt-submit.json");

    #[test]
    fn real_stop_payloads_of_both_hosts_parse_and_tell_the_host() {
        let codex: StopInput = serde_json::from_str(CODEX_STOP).unwrap();
        assert_eq!(agent_of(codex.turn_id.as_ref()), Agent::Codex);
        assert_eq!(codex.cwd, PathBuf::from("/home/dev/proj/sub"));
        assert_eq!(
            codex.last_assistant_message.as_deref(),
            Some("first turn, not done yet")
        );
        let claude: StopInput = serde_json::from_str(CLAUDE_STOP).unwrap();
        assert_eq!(agent_of(claude.turn_id.as_ref()), Agent::Claude);
        assert!(claude.stop_hook_active);
    }

    #[test]
    fn real_prompt_payloads_of_both_hosts_parse() {
        let codex: PromptInput = serde_json::from_str(CODEX_PROMPT).unwrap();
        assert_eq!(codex.prompt, "$ralph-loop fix the tests --max-iterations 3");
        let claude: PromptInput = serde_json::from_str(CLAUDE_PROMPT).unwrap();
        assert_eq!(
            claude.prompt,
            "/ralph-loop fix the tests --max-iterations 3"
        );
    }

    #[test]
    fn null_and_unknown_fields_are_tolerated() {
        let payload = r#"{"session_id":"s","cwd":"/x","transcript_path":null,
            "last_assistant_message":null,"brand_new_field":{"a":1}}"#;
        let input: StopInput = serde_json::from_str(payload).unwrap();
        assert_eq!(input.last_assistant_message, None);
    }

    #[test]
    fn background_work_is_read_from_claudes_stop_in_a_few_bounded_words() {
        let none: StopInput = serde_json::from_str(CLAUDE_STOP).unwrap();
        assert_eq!(none.background_work(), None);
        let empty: StopInput =
            serde_json::from_str(r#"{"background_tasks":[],"session_crons":[]}"#).unwrap();
        assert_eq!(empty.background_work(), None);
        let long = "x".repeat(10_000);
        let payload = serde_json::json!({
            "background_tasks": [
                {"id": "b1", "type": "shell", "status": "running", "description": "npm test"},
                {"id": "b2", "type": "subagent", "status": "pending", "description": long},
                {"id": "b3", "type": "monitor", "status": "running"},
                {"id": "b4", "type": "workflow", "status": "running", "description": "late"}
            ],
            "session_crons": [{"id": "c1", "schedule": "*/5 * * * *", "recurring": true, "prompt": "check"}]
        });
        let input: StopInput = serde_json::from_value(payload).unwrap();
        let work = input.background_work().unwrap();
        assert!(
            work.starts_with("4 background tasks (npm test, xxx"),
            "{work}"
        );
        assert!(work.ends_with(", …) and 1 scheduled wake-up"), "{work}");
        assert!(work.len() < 300, "bounded: {}", work.len());
        // A shape a new version might send never fails the stop.
        let odd: StopInput =
            serde_json::from_str(r#"{"background_tasks":{"a":1},"session_crons":"x"}"#).unwrap();
        assert_eq!(odd.background_work(), None);
    }

    #[test]
    fn the_newest_clients_payloads_parse_with_what_ralph_hook_reads() {
        let background: StopInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/claude-2.1.332/stop-background.json"
        ))
        .unwrap();
        assert_eq!(
            background.background_work().as_deref(),
            Some("1 background task (scripted background command)")
        );
        let first: StopInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/claude-2.1.332/stop-first.json"
        ))
        .unwrap();
        assert_eq!(first.background_work(), None, "empty lists are no work");
        let failure: StopFailureInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/claude-2.1.332/stop-failure.json"
        ))
        .unwrap();
        assert_eq!(failure.error.as_deref(), Some("rate_limit"));
        assert!(is_event(
            failure.hook_event_name.as_deref(),
            STOP_FAILURE_EVENT
        ));
        for text in [
            include_str!("../../tests/fixtures/hosts/claude-2.1.332/session-end.json"),
            include_str!("../../tests/fixtures/hosts/codex-0.171.0/session-end.json"),
        ] {
            let end: SessionEndInput = serde_json::from_str(text).unwrap();
            assert_eq!(end.reason.as_deref(), Some("other"));
            assert!(!end.session_id.is_empty() && end.cwd.is_absolute());
            assert!(is_event(end.hook_event_name.as_deref(), SESSION_END_EVENT));
        }
        for text in [
            include_str!("../../tests/fixtures/hosts/claude-2.1.332/user-prompt-submit.json"),
            include_str!("../../tests/fixtures/hosts/codex-0.171.0/user-prompt-submit.json"),
        ] {
            let prompt: PromptInput = serde_json::from_str(text).unwrap();
            assert_eq!(prompt.source, None, "neither client sends `source` yet");
        }
        let codex: StopInput = serde_json::from_str(include_str!(
            "../../tests/fixtures/hosts/codex-0.171.0/stop-first.json"
        ))
        .unwrap();
        assert_eq!(agent_of(codex.turn_id.as_ref()), Agent::Codex);
    }

    #[test]
    fn a_block_prints_exactly_decision_and_reason() {
        let text = StopOutput::block("go on".into()).render();
        assert_eq!(text, r#"{"decision":"block","reason":"go on"}"#);
    }

    #[test]
    fn a_silent_allow_prints_nothing() {
        assert_eq!(StopOutput::allow(None).render(), "");
        assert_eq!(
            StopOutput::allow(Some("done".into())).render(),
            r#"{"systemMessage":"done"}"#
        );
    }

    #[test]
    fn prompt_context_uses_the_shape_both_hosts_accept() {
        let text = PromptOutput::context("rules".into(), None).render();
        assert_eq!(
            text,
            r#"{"hookSpecificOutput":{"hookEventName":"UserPromptSubmit","additionalContext":"rules"}}"#
        );
    }
}
