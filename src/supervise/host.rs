//! What `run` launches for each host: the headless command line of the first run and of
//! a resumed one, and where the client binary is.
//!
//! Measured on Codex 0.169.0 and Claude Code 2.1.330 (see DESIGN.md, "Newest clients and
//! headless facts"): `codex exec --json` prints `thread.started` with the `thread_id`, and
//! `codex exec resume` takes no `--sandbox` (the same setting goes in as
//! `-c sandbox_mode=…`); `claude -p --output-format stream-json --verbose` prints the
//! `session_id` in every event and `--resume ID` continues the session. The prompt always
//! comes last, after `--`, as one argument: a task that starts with `-` is never read as
//! a flag, and nothing goes through a shell.

use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::engine::supervision::RunSpec;
use crate::error::{Error, Result};
use crate::program;

/// The default sandbox of a Codex run: the agent edits the workspace and runs commands
/// in it, and nothing outside.
const CODEX_SANDBOX: &str = "workspace-write";
/// The default permission mode of a Claude Code run: edits are accepted.
const CLAUDE_PERMISSION_MODE: &str = "acceptEdits";
/// The tools a Claude Code run may use without asking, beyond edits.
const CLAUDE_ALLOWED_TOOLS: &str = "Bash";

/// The arguments of a client run: the first (`session: None`) or a resumed one.
pub(crate) fn arguments(
    agent: Agent,
    spec: &RunSpec,
    session: Option<&str>,
    prompt: &str,
) -> Vec<String> {
    let user = &spec.client_args;
    let mut args: Vec<String> = Vec::new();
    let push = |args: &mut Vec<String>, words: &[&str]| {
        args.extend(words.iter().map(|w| (*w).to_string()));
    };
    match agent {
        Agent::Codex => {
            let own_sandbox = has_flag(user, &["--sandbox", "-s"])
                || has_flag(user, &["--dangerously-bypass-approvals-and-sandbox"]);
            match session {
                None => {
                    push(&mut args, &["exec", "--json"]);
                    if !own_sandbox {
                        push(&mut args, &["--sandbox", CODEX_SANDBOX]);
                    }
                    args.extend(user.iter().cloned());
                    push(&mut args, &["--", prompt]);
                }
                Some(id) => {
                    push(&mut args, &["exec", "resume", "--json"]);
                    if !own_sandbox {
                        let setting = format!("sandbox_mode=\"{CODEX_SANDBOX}\"");
                        push(&mut args, &["-c", &setting]);
                    }
                    args.extend(codex_resume_args(user));
                    push(&mut args, &["--", id, prompt]);
                }
            }
        }
        Agent::Claude => {
            push(
                &mut args,
                &["-p", "--output-format", "stream-json", "--verbose"],
            );
            if !has_flag(
                user,
                &["--permission-mode", "--dangerously-skip-permissions"],
            ) {
                push(&mut args, &["--permission-mode", CLAUDE_PERMISSION_MODE]);
            }
            if !has_flag(user, &["--allowedTools", "--allowed-tools"]) {
                push(&mut args, &["--allowedTools", CLAUDE_ALLOWED_TOOLS]);
            }
            if let Some(id) = session {
                push(&mut args, &["--resume", id]);
            }
            args.extend(user.iter().cloned());
            push(&mut args, &["--", prompt]);
        }
    }
    args
}

/// True when `line` of the client's stderr says the host has no session by the id it
/// was asked to resume: a client killed before it saved its session's first turn leaves
/// nothing to resume (measured: Claude Code 2.1.332 ends `--resume ID` with "No
/// conversation found with session ID: ID" on stderr; Codex 0.171.0 ends `exec resume
/// ID` with "Error: thread/resume: thread/resume failed: no rollout found for thread id
/// ID (code -32600)"). Only a line that begins so counts: the agent's own words never
/// reach stderr, and quoting them would not start a line this way.
pub(crate) fn says_no_such_session(agent: Agent, line: &str) -> bool {
    let line = line.trim_start();
    match agent {
        Agent::Codex => {
            line.starts_with("Error: thread/resume")
                && line.contains("no rollout found for thread id")
        }
        Agent::Claude => line.starts_with("No conversation found with session ID"),
    }
}

/// True when the user's arguments hold one of `names` (`--name value` or `--name=value`).
fn has_flag(args: &[String], names: &[&str]) -> bool {
    args.iter().any(|arg| {
        names
            .iter()
            .any(|name| arg == name || arg.starts_with(&format!("{name}=")))
    })
}

/// The user's Codex arguments for `exec resume`, which has no `--sandbox`: that one
/// becomes the same setting as a config value; the rest pass as they are.
fn codex_resume_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        let value = if arg == "--sandbox" || arg == "-s" {
            words.next().cloned()
        } else {
            arg.strip_prefix("--sandbox=").map(str::to_string)
        };
        match value {
            Some(mode) => {
                out.push("-c".to_string());
                out.push(format!("sandbox_mode=\"{mode}\""));
            }
            None if arg == "--sandbox" || arg == "-s" => {}
            None => out.push(arg.clone()),
        }
    }
    out
}

/// The client executable: `--client PATH`, else the host's command on PATH (absolute
/// PATH entries only: a relative entry would make the workspace pick the binary).
pub(crate) fn find_client(agent: Agent, flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = flag {
        let path =
            std::path::absolute(path).map_err(|err| Error::io("find the client", path, err))?;
        if !program::is_executable(&path) {
            return Err(Error::usage(format!(
                "--client {} is not an executable file",
                path.display()
            )));
        }
        return Ok(path);
    }
    let name = agent.as_str();
    program::find(name).ok_or_else(|| {
        Error::usage(format!(
            "`{name}` is not on PATH: install {} or name it with --client PATH",
            agent.display_name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> RunSpec {
        RunSpec {
            client: "/bin/client".into(),
            client_args: args.iter().map(|a| (*a).to_string()).collect(),
            max_restarts: 5,
            first_prompt: "task".into(),
        }
    }

    #[test]
    fn codex_runs_headless_in_the_workspace_sandbox_with_the_prompt_last() {
        assert_eq!(
            arguments(Agent::Codex, &spec(&["-m", "o3"]), None, "-rf fix it"),
            [
                "exec",
                "--json",
                "--sandbox",
                "workspace-write",
                "-m",
                "o3",
                "--",
                "-rf fix it"
            ]
        );
    }

    #[test]
    fn a_resumed_codex_session_gets_the_users_sandbox_as_a_config_value() {
        assert_eq!(
            arguments(
                Agent::Codex,
                &spec(&["--sandbox", "read-only", "--skip-git-repo-check"]),
                Some("T1"),
                "go on"
            ),
            [
                "exec",
                "resume",
                "--json",
                "-c",
                "sandbox_mode=\"read-only\"",
                "--skip-git-repo-check",
                "--",
                "T1",
                "go on"
            ]
        );
        assert_eq!(
            arguments(
                Agent::Codex,
                &spec(&["--sandbox=danger-full-access"]),
                None,
                "t"
            )[2],
            "--sandbox=danger-full-access"
        );
    }

    #[test]
    fn claude_streams_json_allows_edits_and_bash_and_resumes_by_id() {
        assert_eq!(
            arguments(Agent::Claude, &spec(&[]), Some("S1"), "go on"),
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Bash",
                "--resume",
                "S1",
                "--",
                "go on"
            ]
        );
        let own = arguments(
            Agent::Claude,
            &spec(&["--permission-mode", "plan", "--allowedTools", "Read"]),
            None,
            "t",
        );
        assert_eq!(own.iter().filter(|a| *a == "--permission-mode").count(), 1);
        assert_eq!(own.iter().filter(|a| *a == "--allowedTools").count(), 1);
        assert!(own.contains(&"plan".to_string()) && own.contains(&"Read".to_string()));
    }

    #[test]
    fn each_hosts_words_for_a_session_it_never_saved_are_recognised() {
        assert!(says_no_such_session(
            Agent::Claude,
            "No conversation found with session ID: 3f1c"
        ));
        // An agent's message that quotes the words is not the host saying them.
        assert!(!says_no_such_session(
            Agent::Claude,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"No conversation found with session ID: 3f1c"}]}}"#
        ));
        assert!(!says_no_such_session(
            Agent::Codex,
            "agent said: no rollout found for thread id 3f1c"
        ));
        assert!(says_no_such_session(
            Agent::Codex,
            "Error: thread/resume: thread/resume failed: no rollout found for thread id 3f1c (code -32600)"
        ));
        assert!(!says_no_such_session(
            Agent::Codex,
            "No conversation found with session ID: 3f1c"
        ));
        assert!(!says_no_such_session(Agent::Claude, "API Error: 500"));
    }

    #[test]
    fn a_relative_path_entry_never_supplies_the_client() {
        let err = find_client(Agent::Codex, Some(Path::new("/nonexistent/codex"))).unwrap_err();
        assert!(err.to_string().contains("not an executable"), "{err}");
    }
}
