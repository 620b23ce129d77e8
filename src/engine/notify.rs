//! Telling the user that a loop ended or blocked: the user's own `--notify` command (from
//! their own record or config, never from a workspace file), run through `sh -c` with
//! the outcome in its environment — enough for `notify-send`, ntfy or a mail.
//!
//! A hook starts it through [`launch`]: a detached `ralph-hook notify-run` (a session of
//! its own, so a host that kills the hook's process group at a timeout does not kill it;
//! no terminal, stdin from `/dev/null`), which runs the command for at most
//! [`NOTIFY_TIMEOUT`] (then it is killed with its children) and writes a failure, with the
//! end of its output, to the loop's history, where `log` shows it. Nobody in the hook
//! waits for it, so a slow or failing command never delays or changes a stop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::agent::Agent;
use crate::engine::prices::usd_decimal;
use crate::engine::visible;
use crate::error::{Error, Result};
use crate::program;

/// How long the notify command may run before it is killed with its children.
pub(crate) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(120);

/// The hidden subcommand of ralph-hook that runs a notify command and records how it
/// went (see [`launch`]).
pub(crate) const RUNNER: &str = "notify-run";

/// The longest value, in characters, put in one variable: an environment string near the
/// kernel's limit (128 KiB on Linux) would make the command fail to start.
pub(crate) const MAX_VALUE_CHARS: usize = 4096;

/// Set (to `1`) in the environment of every notify command and its runner: `ralph-hook
/// run`, ending what a client left running, spares the command that reports the loop's
/// end (`supervise::tree`).
pub(crate) const NOTIFY_MARK: &str = "RALPH_HOOK_NOTIFY";

/// What the command is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Notice<'a> {
    /// How the loop ended, as in the history (`completed`, `max_iterations`, `blocked` …):
    /// `RALPH_OUTCOME`.
    pub outcome: &'a str,
    /// Why, in words (the agent's reason when it blocked): `RALPH_REASON`.
    pub reason: &'a str,
    /// The iterations counted: `RALPH_ITERATION`.
    pub iteration: u32,
    /// The loop's workspace, where the command runs: `RALPH_WORKSPACE`.
    pub workspace: &'a Path,
    /// The task; its first line becomes `RALPH_TASK`.
    pub task: &'a str,
    /// The tokens the loop used and its budget, with a token budget: `RALPH_TOKENS` and
    /// `RALPH_MAX_TOKENS` (empty without one).
    pub tokens: Option<(u64, u64)>,
    /// The money the loop spent and its budget, in nanodollars, with a money budget:
    /// `RALPH_COST` and `RALPH_MAX_COST`, in US dollars (`0.0123`; empty without one).
    pub cost: Option<(u64, u64)>,
    /// The budget a `budget_warning` is about (`iterations`, `duration`, `tokens`,
    /// `cost`): `RALPH_BUDGET` (empty otherwise).
    pub budget: Option<&'a str>,
    /// The agent's last message, when a stop ended the loop: `RALPH_MESSAGE` (empty
    /// otherwise). `RALPH_REASON` is ralph-hook's own summary of the outcome.
    pub message: Option<&'a str>,
}

impl Notice<'_> {
    /// The variables the command gets, in addition to the hook's own environment. Values
    /// lose NUL characters (an environment cannot hold them), show escape sequences and
    /// invisible characters as `\u{…}`, and are cut at [`MAX_VALUE_CHARS`].
    pub(crate) fn env(&self) -> [(&'static str, String); 11] {
        let first_line = self
            .task
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("");
        [
            ("RALPH_OUTCOME", clean(self.outcome)),
            ("RALPH_REASON", clean(self.reason)),
            ("RALPH_ITERATION", self.iteration.to_string()),
            (
                "RALPH_WORKSPACE",
                clean(&self.workspace.display().to_string()),
            ),
            ("RALPH_TASK", clean(first_line)),
            (
                "RALPH_TOKENS",
                self.tokens
                    .map(|(used, _)| used.to_string())
                    .unwrap_or_default(),
            ),
            (
                "RALPH_MAX_TOKENS",
                self.tokens
                    .map(|(_, max)| max.to_string())
                    .unwrap_or_default(),
            ),
            (
                "RALPH_COST",
                self.cost
                    .map(|(used, _)| usd_decimal(used))
                    .unwrap_or_default(),
            ),
            (
                "RALPH_MAX_COST",
                self.cost
                    .map(|(_, max)| usd_decimal(max))
                    .unwrap_or_default(),
            ),
            ("RALPH_BUDGET", self.budget.unwrap_or("").to_string()),
            ("RALPH_MESSAGE", clean(self.message.unwrap_or(""))),
        ]
    }
}

/// A value for the command's environment: no NUL, the agent's escape sequences and
/// invisible characters made visible (a command that prints or shows a value must not
/// let the agent drive a terminal), at most [`MAX_VALUE_CHARS`].
fn clean(value: &str) -> String {
    let kept: String = value.chars().filter(|c| *c != '\0').collect();
    visible::revealed(&kept)
        .chars()
        .take(MAX_VALUE_CHARS)
        .collect()
}

/// Starts the user's `command` for `notice` and returns at once: a detached
/// `ralph-hook notify-run` runs it and records a failure in the history of `agent`'s loop
/// `loop_id`. When the runner cannot start (its own executable gone, say, after an
/// upgrade), the command is started by itself, with no record of how it went.
pub(crate) fn launch(
    command: &str,
    notice: &Notice<'_>,
    agent: Agent,
    loop_id: &str,
) -> Result<()> {
    if let Ok(exe) = std::env::current_exe() {
        let mut runner = Command::new(exe);
        runner
            .arg(RUNNER)
            .arg("--workspace")
            .arg(notice.workspace)
            .arg("--agent")
            .arg(agent.as_str())
            .arg("--loop-id")
            .arg(loop_id)
            .arg("--")
            .arg(command)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .envs(notice.env());
        detach(&mut runner);
        if runner.spawn().is_ok() {
            return Ok(());
        }
    }
    spawn(command, notice).map(drop)
}

/// Makes `command`'s process the leader of a session of its own: no terminal, and out of
/// the hook's process group, which a host may kill at its timeout; marked with
/// [`NOTIFY_MARK`].
fn detach(command: &mut Command) {
    command.env(NOTIFY_MARK, "1");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
    }
    #[cfg(not(unix))]
    let _ = command;
}

/// Starts `command` for `notice`, detached, with no input and its output discarded, and
/// returns at once. The returned child is never to be waited on by a hook; a hook process
/// exits soon after and the command lives on.
pub(crate) fn spawn(command: &str, notice: &Notice<'_>) -> Result<Child> {
    let workspace = if notice.workspace.is_dir() {
        notice.workspace
    } else {
        Path::new("/")
    };
    let mut child = program::shell(command);
    child
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .envs(notice.env());
    detach(&mut child);
    child.spawn().map_err(|err| {
        Error::Failed(format!(
            "could not start the notify command `{}` in {}: {err}; check it with `sh -c` by hand",
            command.replace('\0', "\\0"),
            workspace.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// Writes each variable on its own line, then a line per run to `runs`.
    const REPORT: &str = r#"printf '%s\n' "$RALPH_OUTCOME" "$RALPH_REASON" "$RALPH_ITERATION" "$RALPH_WORKSPACE" "$RALPH_TASK" > report.tmp && mv report.tmp report; echo run >> runs"#;

    fn notice<'a>(workspace: &'a Path, task: &'a str) -> Notice<'a> {
        Notice {
            outcome: "blocked",
            reason: "need the staging password",
            iteration: 7,
            workspace,
            task,
            tokens: None,
            cost: None,
            budget: None,
            message: None,
        }
    }

    fn wait_exit(child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the command did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn lines(path: PathBuf) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_command_runs_once_in_the_workspace_with_the_outcome_in_its_environment() {
        let ws = tempfile::tempdir().unwrap();
        let task = "\n  Fix the flaky test  \nthen the docs";
        let mut child = spawn(REPORT, &notice(ws.path(), task)).unwrap();
        wait_exit(&mut child);
        assert_eq!(
            lines(ws.path().join("report")),
            [
                "blocked".to_string(),
                "need the staging password".to_string(),
                "7".to_string(),
                ws.path().display().to_string(),
                "Fix the flaky test".to_string(),
            ]
        );
        assert_eq!(lines(ws.path().join("runs")), ["run"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_command_is_detached_in_its_own_session_and_not_waited_for() {
        let ws = tempfile::tempdir().unwrap();
        let mut child = spawn("sleep 60", &notice(ws.path(), "t")).unwrap();
        // spawn returned while the command still runs.
        assert!(child.try_wait().unwrap().is_none());
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: getsid and getpgid only read the process table.
        let (sid, pgid, own_sid) =
            unsafe { (libc::getsid(pid), libc::getpgid(pid), libc::getsid(0)) };
        assert_eq!(sid, pid, "the command leads a session of its own");
        assert_eq!(pgid, pid, "and a process group of its own");
        assert_ne!(sid, own_sid);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn its_stdin_is_empty() {
        let ws = tempfile::tempdir().unwrap();
        // `cat` ends at once on an empty stdin; with a terminal or a pipe it would wait.
        let mut child = spawn("cat > seen; echo done >> seen", &notice(ws.path(), "t")).unwrap();
        wait_exit(&mut child);
        assert_eq!(lines(ws.path().join("seen")), ["done"]);
    }

    #[test]
    fn a_command_that_cannot_start_is_an_error_that_names_it() {
        let ws = tempfile::tempdir().unwrap();
        let err = spawn("notify\0me", &notice(ws.path(), "t")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("could not start the notify command `notify\\0me`"),
            "{text}"
        );
    }

    #[test]
    fn a_failing_command_is_not_an_error() {
        let ws = tempfile::tempdir().unwrap();
        let mut child = spawn("exit 3", &notice(ws.path(), "t")).unwrap();
        wait_exit(&mut child);
    }

    #[test]
    fn hostile_values_still_reach_the_command() {
        let ws = tempfile::tempdir().unwrap();
        let reason = format!("a\0b $(touch pwned) {}", "r".repeat(200_000));
        let task = "`rm -rf ~` \0 'quoted' \"double\"";
        let notice = Notice {
            reason: &reason,
            ..notice(ws.path(), task)
        };
        let mut child = spawn(REPORT, &notice).unwrap();
        wait_exit(&mut child);
        let report = lines(ws.path().join("report"));
        assert_eq!(report[4], "`rm -rf ~`  'quoted' \"double\"");
        assert!(report[1].starts_with("ab $(touch pwned) rrr"));
        assert_eq!(report[1].chars().count(), MAX_VALUE_CHARS);
        assert!(!ws.path().join("pwned").exists(), "a value was run as code");
    }

    #[test]
    fn the_agents_escape_sequences_reach_the_command_made_visible() {
        // RALPH_REASON is the agent's text: a command that prints it (to a terminal, a
        // mail, a notification) must not let the agent drive the terminal.
        let ws = tempfile::tempdir().unwrap();
        let reason = "stuck\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}";
        let env = Notice {
            reason,
            ..notice(ws.path(), "t")
        }
        .env();
        assert_eq!(env[1].1, "stuck\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}");
    }

    #[test]
    fn a_missing_workspace_runs_the_command_from_the_root() {
        let ws = tempfile::tempdir().unwrap();
        let out = ws.path().join("cwd");
        let gone = ws.path().join("gone");
        let command = format!("pwd > '{}'", out.display());
        let mut child = spawn(&command, &notice(&gone, "t")).unwrap();
        wait_exit(&mut child);
        assert_eq!(lines(out), ["/"]);
    }
}
