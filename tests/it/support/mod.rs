//! A small harness for whole-binary tests: a fresh temp home, user state folder and
//! workspace per test, and helpers that run the real binary the way a host does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};

/// Session variables of the hosts; never inherited by the binary under test.
const SESSION_VARS: [&str; 3] = [
    "CODEX_THREAD_ID",
    "CODEX_SESSION_ID",
    "CLAUDE_CODE_SESSION_ID",
];

/// What the hosts set for a plugin's hooks; ralph-hook reads them to tell installations
/// apart, so the binary under test never inherits them.
pub const PLUGIN_VARS: [&str; 4] = [
    "PLUGIN_ROOT",
    "CLAUDE_PLUGIN_ROOT",
    "PLUGIN_DATA",
    "CLAUDE_PLUGIN_DATA",
];

/// Where tests keep homes and state folders: not under `/tmp` or `$TMPDIR`, which
/// ralph-hook refuses as a state folder (an agent's sandbox can write them). `/var/tmp`
/// (sticky, root's) where it exists, else cargo's own temp folder for tests.
pub fn temp_root() -> PathBuf {
    let var_tmp = Path::new("/var/tmp");
    if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    }
}

/// A fresh private folder under [`temp_root`], removed when dropped.
pub fn private_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ralph-it-")
        .tempdir_in(temp_root())
        .expect("temp dir")
}

/// Makes `dir/.git` the smallest folder ralph-hook takes for a repository (a `HEAD` in
/// it; git itself finds no objects there, so no fingerprint is taken). An empty `.git`
/// is not one: Codex's sandbox leaves empty ones behind.
pub fn make_git_dir(dir: &Path) {
    fs_err::create_dir_all(dir.join(".git")).expect("create .git");
    fs_err::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").expect("write HEAD");
}

/// One test's world.
pub struct World {
    pub temp: tempfile::TempDir,
    pub home: PathBuf,
    pub state_dir: PathBuf,
    pub workspace: PathBuf,
}

impl World {
    /// A fresh world whose workspace is a git top level.
    pub fn new() -> Self {
        let temp = private_tempdir();
        let home = temp.path().join("home");
        let state_dir = temp.path().join("user-state");
        let workspace = temp.path().join("ws");
        for dir in [&home, &state_dir, &temp.path().join("tmp")] {
            fs_err::create_dir_all(dir).expect("create dir");
        }
        make_git_dir(&workspace);
        World {
            temp,
            home,
            state_dir,
            workspace,
        }
    }

    /// The binary, with a temp home and no host session variables.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("ralph-hook").expect("binary");
        cmd.env("HOME", &self.home)
            .env("RALPH_HOOK_STATE_DIR", &self.state_dir)
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env_remove("RALPH_HOOK_NOW")
            // The user's own defaults never reach a test: no config unless a test writes one.
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env_remove("RALPH_HOOK_CONFIG")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .env("TMPDIR", self.temp.path().join("tmp"))
            .current_dir(&self.workspace);
        for var in SESSION_VARS.iter().chain(&PLUGIN_VARS) {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs the binary with these arguments.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run")
    }

    /// Runs the Stop hook on `payload`.
    pub fn stop(&self, payload: &Value) -> Output {
        self.stop_with(payload, &[])
    }

    /// Runs the Stop hook on `payload` with extra environment. Whatever it prints must
    /// be an output Codex accepts.
    pub fn stop_with(&self, payload: &Value, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(["stop"]).write_stdin(payload.to_string());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().expect("run stop");
        assert_valid_output(HookSchema::Stop, &stdout(&out));
        out
    }

    /// Runs the prompt hook on `payload`. Whatever it prints must be an output Codex
    /// accepts.
    pub fn prompt(&self, payload: &Value) -> Output {
        self.prompt_with(payload, &[])
    }

    /// Runs the prompt hook on `payload` with extra environment.
    pub fn prompt_with(&self, payload: &Value, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.cmd();
        cmd.arg("prompt").write_stdin(payload.to_string());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().expect("run prompt");
        assert_valid_output(HookSchema::Prompt, &stdout(&out));
        out
    }

    /// Path of the Codex state file.
    pub fn state_path(&self) -> PathBuf {
        self.workspace.join(".codex/ralph-loop-state.json")
    }

    /// The Codex state, parsed.
    pub fn state(&self) -> Value {
        let text = fs_err::read_to_string(self.state_path()).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    /// The Codex history, parsed (read with `ralph-hook log --json`: it lives with the
    /// user's record, not in the workspace).
    pub fn history(&self) -> Vec<Value> {
        let ws = self.workspace.to_str().expect("utf-8 path");
        let out = self.run(&["log", "--json", "--agent", "codex", "--workspace", ws]);
        assert_success(&out);
        stdout(&out)
            .lines()
            .map(|line| serde_json::from_str(line).expect("history line is JSON"))
            .collect()
    }

    /// The user's loop folders under the state dir (one per host and workspace).
    pub fn loop_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = fs_err::read_dir(self.state_dir.join("workspaces"))
            .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    /// The user's loop folder of the Codex loop in this workspace.
    #[track_caller]
    pub fn loop_dir(&self) -> PathBuf {
        self.loop_dirs()
            .into_iter()
            .find(|dir| {
                dir.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("codex-ws-"))
            })
            .expect("a loop folder of the codex loop in ws")
    }

    /// The user's record of the Codex loop (the authority), parsed; `None` when there is
    /// no loop.
    pub fn record(&self) -> Option<Value> {
        let dir = self.loop_dirs().into_iter().find(|dir| {
            dir.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("codex-ws-"))
        })?;
        let text = fs_err::read_to_string(dir.join("record.json")).ok()?;
        Some(serde_json::from_str(&text).expect("the record is JSON"))
    }

    /// Starts a Codex loop from a terminal bound to `session`.
    #[track_caller]
    pub fn start(&self, session: &str, extra: &[&str]) {
        let ws = self.workspace.to_str().expect("utf-8 path");
        let mut args = vec![
            "start",
            "--workspace",
            ws,
            "--session",
            session,
            "--prompt",
            "Fix the failing tests",
        ];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert_success(&out);
    }
}

/// A Codex Stop payload (the real fixture) for `session` in `cwd` with `message`.
pub fn codex_stop(session: &str, cwd: &Path, message: Option<&str>) -> Value {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../../fixtures/hosts/codex-0.169.0/stop-first.json"
    ))
    .expect("fixture");
    payload["session_id"] = json!(session);
    payload["cwd"] = json!(cwd);
    payload["last_assistant_message"] = json!(message);
    payload
}

/// A Claude Code Stop payload (the real fixture) for `session` in `cwd` with `message`.
pub fn claude_stop(session: &str, cwd: &Path, message: Option<&str>) -> Value {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../../fixtures/hosts/claude-2.1.328/stop-first.json"
    ))
    .expect("fixture");
    payload["session_id"] = json!(session);
    payload["cwd"] = json!(cwd);
    payload["last_assistant_message"] = json!(message);
    payload
}

/// A UserPromptSubmit payload of `host` ("codex" or "claude") with this prompt text.
pub fn prompt_payload(host: &str, session: &str, cwd: &Path, prompt: &str) -> Value {
    let fixture = match host {
        "codex" => include_str!("../../fixtures/hosts/codex-0.169.0/user-prompt-submit.json"),
        _ => include_str!("../../fixtures/hosts/claude-2.1.328/user-prompt-submit.json"),
    };
    let mut payload: Value = serde_json::from_str(fixture).expect("fixture");
    payload["session_id"] = json!(session);
    payload["cwd"] = json!(cwd);
    payload["prompt"] = json!(prompt);
    payload
}

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stdout parsed as the one JSON object a hook prints.
#[track_caller]
pub fn json_out(out: &Output) -> Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|err| panic!("stdout is not one JSON object ({err}): {}", stdout(out)))
}

/// Asserts exit 0.
#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// Asserts a hook answered "block" and returns the continuation prompt.
#[track_caller]
pub fn assert_block(out: &Output) -> String {
    assert_success(out);
    let answer = json_out(out);
    assert_eq!(answer["decision"], "block", "{answer}");
    let reason = answer["reason"].as_str().expect("reason").to_string();
    assert!(!reason.trim().is_empty());
    reason
}

/// Asserts a hook allowed the stop silently.
#[track_caller]
pub fn assert_silent_allow(out: &Output) {
    assert_success(out);
    assert_eq!(stdout(out), "", "stderr: {}", stderr(out));
}

/// Asserts a hook allowed the stop with a systemMessage, and returns it.
#[track_caller]
pub fn assert_allow_with_message(out: &Output) -> String {
    assert_success(out);
    let answer = json_out(out);
    assert!(answer.get("decision").is_none(), "{answer}");
    answer["systemMessage"]
        .as_str()
        .expect("systemMessage")
        .to_string()
}

/// The output schemas of Codex 0.169.0's hook commands, taken from its binary.
#[derive(Debug, Clone, Copy)]
pub enum HookSchema {
    /// `stop.command.output`.
    Stop,
    /// `user-prompt-submit.command.output`.
    Prompt,
}

impl HookSchema {
    fn validator(self) -> &'static jsonschema::Validator {
        static STOP: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
        static PROMPT: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
        let (cell, text) = match self {
            HookSchema::Stop => (
                &STOP,
                include_str!(
                    "../../fixtures/hosts/codex-0.169.0/schemas/stop.command.output.schema.json"
                ),
            ),
            HookSchema::Prompt => (
                &PROMPT,
                include_str!(
                    "../../fixtures/hosts/codex-0.169.0/schemas/user-prompt-submit.command.output.schema.json"
                ),
            ),
        };
        cell.get_or_init(|| {
            let schema: Value = serde_json::from_str(text).expect("schema is JSON");
            jsonschema::validator_for(&schema).expect("schema compiles")
        })
    }

    /// The schema's complaints about `output` (empty when Codex accepts it).
    pub fn errors(self, output: &Value) -> Vec<String> {
        self.validator()
            .iter_errors(output)
            .map(|err| format!("{err} at {}", err.instance_path()))
            .collect()
    }
}

/// Asserts a hook's stdout is empty or exactly one JSON object the schema accepts, with a
/// non-empty reason whenever it blocks (Codex checks that while parsing).
#[track_caller]
pub fn assert_valid_output(schema: HookSchema, stdout: &str) {
    if stdout.is_empty() {
        return;
    }
    let value: Value = serde_json::from_str(stdout.trim_end_matches('\n'))
        .unwrap_or_else(|err| panic!("hook stdout is not one JSON object ({err}): {stdout}"));
    let errors = schema.errors(&value);
    assert!(
        errors.is_empty(),
        "{schema:?} output rejected: {errors:?}\n{stdout}"
    );
    if value.get("decision").is_some() {
        let reason = value["reason"].as_str().unwrap_or_default();
        assert!(
            !reason.trim().is_empty(),
            "a block without a reason: {stdout}"
        );
    }
}
