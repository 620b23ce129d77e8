//! A minimal client of `codex app-server` (JSON-RPC, one JSON object per line on stdio):
//! `initialize`, `initialized`, then `hooks/list`, which reports each hook's trust `key`,
//! `currentHash` and `trustStatus` as Codex itself computes them. Every wait is bounded
//! and the child is always reaped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

/// How long one exchange with the app-server may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

/// One hook as `hooks/list` reports it (unknown fields tolerated: Codex adds fields).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListedHook {
    /// The trust key: `<abs hooks.json>:<event>:<group>:<handler>`.
    pub key: String,
    /// The command line of a command handler.
    #[serde(default)]
    pub command: Option<String>,
    /// `sha256:…` of the handler as it is now.
    #[serde(default)]
    pub current_hash: Option<String>,
    /// `trusted`, `untrusted`, or another state a newer Codex may add.
    #[serde(default)]
    pub trust_status: Option<String>,
    /// The file the hook comes from.
    #[serde(default)]
    pub source_path: Option<PathBuf>,
    /// The plugin the hook comes with (`ralph-hook@<marketplace>`), if any.
    #[serde(default)]
    pub plugin_id: Option<String>,
}

/// Why the app-server could not answer.
#[derive(Debug)]
pub(super) enum AppServerError {
    /// There is no codex executable to run.
    NotFound(String),
    /// It ran but did not give a usable answer.
    Failed(String),
}

impl std::fmt::Display for AppServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppServerError::NotFound(message) | AppServerError::Failed(message) => {
                f.write_str(message)
            }
        }
    }
}

/// Asks a fresh `codex app-server` with `CODEX_HOME=codex_home` for the hooks that apply
/// in `cwd`, and the problems Codex found in the hook files.
pub(super) fn list_hooks(
    codex: &Path,
    codex_home: &Path,
    cwd: &Path,
) -> Result<(Vec<ListedHook>, Vec<String>), AppServerError> {
    let mut child = Command::new(codex)
        .arg("app-server")
        .env("CODEX_HOME", codex_home)
        .current_dir(codex_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                AppServerError::NotFound(format!("{} not found", codex.display()))
            }
            _ => AppServerError::Failed(format!("could not run {}: {err}", codex.display())),
        })?;
    let result = exchange(&mut child, cwd);
    finish(child);
    result
}

fn exchange(
    child: &mut Child,
    cwd: &Path,
) -> Result<(Vec<ListedHook>, Vec<String>), AppServerError> {
    let lines = spawn_line_reader(child.stdout.take());
    let stderr = spawn_line_reader(child.stderr.take());
    let requests = [
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "ralph-hook", "version": env!("CARGO_PKG_VERSION")}}}),
        json!({"method": "initialized"}),
        json!({"id": 2, "method": "hooks/list", "params": {"cwds": [cwd]}}),
    ];
    {
        let Some(stdin) = child.stdin.as_mut() else {
            return Err(AppServerError::Failed(
                "no stdin to codex app-server".into(),
            ));
        };
        for request in &requests {
            writeln!(stdin, "{request}")
                .and_then(|()| stdin.flush())
                .map_err(|err| AppServerError::Failed(format!("codex app-server: {err}")))?;
        }
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(AppServerError::Failed(format!(
                    "codex app-server gave no answer within {} s",
                    TIMEOUT.as_secs()
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let last: Vec<String> = stderr.try_iter().collect();
                let last = last.last().cloned().unwrap_or_default();
                return Err(AppServerError::Failed(format!(
                    "codex app-server exited without answering {last}"
                )));
            }
        };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let id = message.get("id").and_then(Value::as_i64);
        if let Some(error) = message.get("error")
            && id.is_some()
        {
            return Err(AppServerError::Failed(format!(
                "codex app-server refused the request: {error}"
            )));
        }
        if id == Some(2) {
            return parse_list(&message);
        }
    }
}

/// Reads the `hooks/list` result: hooks and errors of every cwd.
fn parse_list(message: &Value) -> Result<(Vec<ListedHook>, Vec<String>), AppServerError> {
    let data = message
        .pointer("/result/data")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            AppServerError::Failed(format!("unexpected hooks/list answer: {message}"))
        })?;
    let mut hooks = Vec::new();
    let mut problems = Vec::new();
    for entry in data {
        for hook in entry
            .get("hooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Ok(hook) = serde_json::from_value::<ListedHook>(hook.clone()) {
                hooks.push(hook);
            }
        }
        for key in ["errors", "warnings"] {
            for problem in entry
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                problems.push(match problem.as_str() {
                    Some(text) => text.to_owned(),
                    None => problem.to_string(),
                });
            }
        }
    }
    Ok((hooks, problems))
}

fn spawn_line_reader(
    stream: Option<impl std::io::Read + Send + 'static>,
) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    receiver
}

/// Closes stdin (the app-server exits on end of input), waits a little, then kills.
fn finish(mut child: Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_answer_of_codex_0_169_is_understood() {
        let text = include_str!("../../tests/fixtures/install/app-server-hooks-list.response.json");
        let message: Value = serde_json::from_str(text).unwrap();
        let (hooks, problems) = parse_list(&message).unwrap();
        assert!(problems.is_empty());
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].key, "/home/dev/.codex/hooks.json:stop:0:0");
        assert_eq!(hooks[0].trust_status.as_deref(), Some("trusted"));
        assert_eq!(
            hooks[0].current_hash.as_deref(),
            Some("sha256:21c46a4a6ca1b5198cea84fbdc18aa06bcc10802f2cb22812c8964d548ab7a4f")
        );
    }
}
