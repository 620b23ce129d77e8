//! Driving Claude Code (2.1.328, now pinned at 2.1.330) against the mock with `claude -p`.
//!
//! Measured while writing this harness:
//! - `ANTHROPIC_BASE_URL` + `ANTHROPIC_API_KEY` (any value) + a temporary `HOME` is all
//!   `-p` needs: no onboarding, no login, no trust prompt for the hooks in
//!   `~/.claude/settings.json`. `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` keeps it from
//!   calling anything but the model. It POSTs `/v1/messages?beta=true` with
//!   `"stream": true` and `tools` (Bash among them); in `-p` mode with these settings we
//!   saw no side requests (title, topic) — the mock still answers tool-less requests
//!   without touching the script, should a version send them.
//! - A UserPromptSubmit hook's `additionalContext` lands in the *system prompt*
//!   ("UserPromptSubmit hook additional context: …"), not in a message. A Stop hook's
//!   block reason comes back as a user message `"Stop hook feedback:\n<reason>"` (plus a
//!   `system`-role message "Stop hook blocking error from command: …"). 2.1.332 wraps the
//!   same text in a `<system-reminder>` that first says a hook set up by the user wrote it
//!   (`mock::Request::hook_prompts` reads both).
//! - `/ralph-loop …` with no such skill installed reaches the model with a
//!   system-reminder saying the command does not exist; the hook still sees the raw text.
//! - The Bash tool runs unsandboxed in the session cwd with `CLAUDE_CODE_SESSION_ID`
//!   (= the hooks' `session_id`) set. As root `--dangerously-skip-permissions` is refused,
//!   so the harness passes `--allowedTools Bash`.
//! - `--output-format stream-json --verbose` prints one JSON event per line on stdout:
//!   the `session_id`, every message, and a Stop hook's `systemMessage` as
//!   `{"type":"system","subtype":"informational","content":"Stop says: …"}`.
//! - Consecutive Stop blocks are capped at 8 unless `CLAUDE_CODE_STOP_HOOK_BLOCK_CAP` is
//!   raised (the installer sets it in `settings.json` `env`).

use std::path::Path;

use serde_json::Value;

use super::mock::MockServer;
use super::proc::Finished;
use super::world::World;

/// The variables that point Claude Code at `mock` and keep it offline.
pub fn env(mock: &MockServer) -> Vec<(String, String)> {
    vec![
        ("ANTHROPIC_BASE_URL".into(), mock.url()),
        ("ANTHROPIC_API_KEY".into(), "sk-ant-e2e-mock".into()),
        (
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
            "1".into(),
        ),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
        ("DISABLE_TELEMETRY".into(), "1".into()),
    ]
}

/// Runs `claude -p` in `cwd` against `mock`, with the Bash tool allowed.
pub fn print(world: &World, mock: &MockServer, cwd: &Path, prompt: &str) -> Finished {
    run_print(world, mock, cwd, prompt, None)
}

/// Runs `claude -p --resume SESSION PROMPT` in `cwd`: the user's next prompt in an earlier
/// session.
pub fn print_resume(world: &World, cwd: &Path, session: &str, prompt: &str) -> Finished {
    run_print(world, &world.mock, cwd, prompt, Some(session))
}

fn run_print(
    world: &World,
    mock: &MockServer,
    cwd: &Path,
    prompt: &str,
    resume: Option<&str>,
) -> Finished {
    let mut cmd = world.command(&world.bin);
    cmd.current_dir(cwd);
    for (k, v) in env(mock) {
        cmd.env(k, v);
    }
    cmd.args(["-p", prompt]);
    if let Some(session) = resume {
        cmd.args(["--resume", session]);
    }
    cmd.args([
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Bash",
    ]);
    let resumed = resume.map(|s| format!(" --resume {s}")).unwrap_or_default();
    world.run_recorded(
        cmd,
        &format!("claude -p{resumed} in {} with {prompt:?}", cwd.display()),
        world.client_deadline(),
    )
}

/// The events of a `stream-json` run.
pub fn events(run: &Finished) -> Vec<Value> {
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The session id from the stream's events.
pub fn session_id(run: &Finished) -> Option<String> {
    events(run)
        .iter()
        .find_map(|e| e["session_id"].as_str().map(str::to_string))
}

/// The `systemMessage`s of the run's hooks, as Claude Code reported them.
pub fn system_messages(run: &Finished) -> Vec<String> {
    events(run)
        .iter()
        .filter(|e| e["type"] == "system" && e["subtype"] == "informational")
        .filter_map(|e| e["content"].as_str().map(str::to_string))
        .collect()
}

/// What the session's Stop hooks wrote on stderr, oldest first, as Claude Code keeps it in
/// the session's transcripts under `~/.claude/projects`. Measured on 2.1.330 and 2.1.332:
/// only a stop that allowed is kept this way (a `hook_success` attachment with `stderr`);
/// a blocking stop's stderr is not.
pub fn stop_hook_stderr(world: &World) -> Vec<String> {
    fn jsonl(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                jsonl(&path, out);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    jsonl(&world.claude_home.join("projects"), &mut files);
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|l| {
            l["attachment"]["type"] == "hook_success" && l["attachment"]["hookEvent"] == "Stop"
        })
        .filter_map(|l| l["attachment"]["stderr"].as_str().map(str::to_string))
        .collect()
}
