//! Driving Codex CLI 0.169.0 against the mock: its config, hook trust through
//! `codex app-server`, and `codex exec`.
//!
//! Measured while writing this harness:
//! - A custom `model_provider` with `wire_api = "responses"` and no `env_key` needs no
//!   credentials. Codex POSTs `/v1/responses` with `"stream": true`; `input` holds the
//!   whole conversation each time: developer messages (its instructions, the skills list,
//!   a UserPromptSubmit hook's `additionalContext`), the user's prompt, the
//!   `environment_context`, earlier `function_call` / `function_call_output` items, and a
//!   Stop hook's block reason as a user message
//!   `<hook_prompt hook_run_id="stop:…">REASON</hook_prompt>`.
//! - The unknown model `mock-model` only earns a warning ("Model metadata … not found").
//!   It is offered the `exec_command` tool; a `function_call` with `{"cmd": …}` runs
//!   through `/bin/bash -lc` in the session cwd, and the next request carries its output.
//! - `codex exec` prints its transcript to stderr in human mode, including
//!   `session id: <uuid>` and one `hook: Stop` / `hook: Stop Blocked` /
//!   `hook: Stop Completed` line per hook run — the best diagnostic we get. It does not
//!   print a Stop hook's `systemMessage`. `--json` prints `thread.started` with the same id
//!   but no hook lines, so the harness uses human mode.
//! - `--sandbox workspace-write` is the interactive default: the agent's shell may write
//!   the workspace, `/tmp` and `$TMPDIR` only; `<workspace>/.codex`, `.git` and `.agents`
//!   stay read-only ("Read-only file system"). Commands see `CODEX_THREAD_ID` (= the hooks'
//!   `session_id`). Hooks run outside the sandbox, in the session cwd, with the client's
//!   environment (and Codex's own helper dir first on `PATH`).
//! - Codex uses its bundled bubblewrap when none is on `PATH` (a warning says so); the
//!   sandbox needs unprivileged user namespaces or root.
//! - Hooks in a fresh `$CODEX_HOME` are untrusted and skipped without a word, even in
//!   `exec`; `app-server`'s `hooks/list` reports each one's `key`, `currentHash` and
//!   `trustStatus`, and `[hooks.state."<key>"] trusted_hash = "<currentHash>"` in
//!   `config.toml` trusts it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::mock::MockServer;
use super::proc::Finished;
use super::world::World;

/// Writes `$CODEX_HOME/config.toml` pointing Codex at the world's mock. The installer
/// edits this file afterwards (feature flag, hook trust), as it would a user's.
pub fn write_config(world: &World) {
    let config = format!(
        r#"# Written by the ralph-hook e2e harness: Codex talks to a local mock model.
model = "mock-model"
model_provider = "mock"
approval_policy = "never"

[model_providers.mock]
name = "mock"
base_url = "{}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 60000
"#,
        world.mock.url()
    );
    std::fs::write(world.codex_home.join("config.toml"), config).unwrap();
}

/// Runs `codex exec` in `cwd` with the default interactive sandbox (`workspace-write`),
/// talking to `mock`.
pub fn exec(world: &World, mock: &MockServer, cwd: &Path, prompt: &str) -> Finished {
    run_exec(world, mock, cwd, prompt, None)
}

/// Runs `codex exec resume SESSION PROMPT` in `cwd`: the user's next prompt in an earlier
/// session, with the same sandbox as [`exec`].
pub fn exec_resume(world: &World, cwd: &Path, session: &str, prompt: &str) -> Finished {
    run_exec(world, &world.mock, cwd, prompt, Some(session))
}

fn run_exec(
    world: &World,
    mock: &MockServer,
    cwd: &Path,
    prompt: &str,
    resume: Option<&str>,
) -> Finished {
    let mut cmd = world.command(&world.bin);
    cmd.current_dir(cwd).arg("exec");
    if resume.is_some() {
        // `exec resume` takes no --sandbox; the same setting as a config value.
        cmd.args(["resume", "-c", "sandbox_mode=\"workspace-write\""]);
    } else {
        cmd.args(["--sandbox", "workspace-write"]);
    }
    cmd.args([
        "--skip-git-repo-check",
        "-c",
        &format!("model_providers.mock.base_url=\"{}/v1\"", mock.url()),
    ]);
    cmd.args(resume);
    cmd.arg(prompt);
    let resumed = resume.map(|s| format!(" resume {s}")).unwrap_or_default();
    world.run_recorded(
        cmd,
        &format!("codex exec{resumed} in {} with {prompt:?}", cwd.display()),
        world.client_deadline(),
    )
}

/// The session id from `codex exec`'s banner (`session id: <uuid>` on stderr).
pub fn session_id(run: &Finished) -> Option<String> {
    run.stderr
        .lines()
        .chain(run.stdout.lines())
        .find_map(|l| l.trim().strip_prefix("session id: "))
        .map(|s| s.trim().to_string())
}

/// Asks `codex app-server` for the hooks Codex sees from `cwd` (`hooks/list`), the way a
/// client of the app-server does: `initialize`, `initialized`, then the request, one JSON
/// object per line. Returns the response's `result`.
pub fn hooks_list(world: &World, cwd: &Path) -> Value {
    let mut cmd = world.command(&world.bin);
    cmd.arg("app-server")
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start codex app-server");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let requests = [
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "ralph-e2e", "version": "0"}}}),
        json!({"method": "initialized"}),
        json!({"id": 2, "method": "hooks/list", "params": {"cwds": [cwd.display().to_string()]}}),
    ];
    for r in requests {
        writeln!(stdin, "{r}").unwrap();
    }
    stdin.flush().unwrap();
    let mut answer = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["id"] == 2 {
            answer = Some(v);
            break;
        }
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let answer = answer.expect("codex app-server answered hooks/list within 30 s");
    world.note(format!("hooks/list from {}: {answer}", cwd.display()));
    answer["result"].clone()
}

/// The hooks Codex sees from the workspace, flattened.
pub fn hooks(world: &World) -> Vec<Value> {
    let result = hooks_list(world, &world.workspace);
    result["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["hooks"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Trusts every hook Codex sees, as a user accepting them in the TUI would: writes
/// `[hooks.state."<key>"] trusted_hash` from `hooks/list`. Used where a test changes
/// hooks.json itself (the dispatcher scenario); the loop's own hooks are trusted by
/// `ralph-hook install`.
pub fn trust_all(world: &World) {
    let path = world.codex_home.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc: toml_edit::DocumentMut = text.parse().expect("config.toml parses");
    for hook in hooks(world) {
        if hook["trustStatus"] == "trusted" {
            continue;
        }
        let (Some(key), Some(hash)) = (hook["key"].as_str(), hook["currentHash"].as_str()) else {
            continue;
        };
        let hooks = doc
            .entry("hooks")
            .or_insert(toml_edit::table())
            .as_table_mut()
            .unwrap();
        let state = hooks
            .entry("state")
            .or_insert(toml_edit::table())
            .as_table_mut()
            .unwrap();
        state.set_implicit(true);
        let mut entry = toml_edit::Table::new();
        entry["trusted_hash"] = toml_edit::value(hash);
        state.insert(key, toml_edit::Item::Table(entry));
    }
    std::fs::write(&path, doc.to_string()).unwrap();
}
