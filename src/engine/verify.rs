//! Running a loop's `--verify` command when the agent claims completion.
//!
//! The command runs through `/bin/sh -c` ([`program::shell`]) in the workspace, in its own process group, with its
//! output (stdout and stderr together) going to a temporary file whose tail goes back to
//! the agent on failure. The whole group is killed when the command ends, at the
//! timeout, and on every other way out of this function (a guard's `Drop`, so a panic
//! too): nothing it started outlives the hook. The timeout is clamped to what the hook
//! may wait, and the deadline is computed with checked arithmetic.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::engine::decide::Verification;
use crate::engine::render;
use crate::engine::settings::MAX_VERIFY_TIMEOUT_SECS;
use crate::program::{self, GroupGuard};

/// Keep at most this much of the output's end.
const TAIL_BYTES: u64 = 64 * 1024;

/// Runs `command` in `workspace` for at most `timeout`.
pub(crate) fn run(command: &str, workspace: &Path, timeout: Duration) -> Verification {
    let output = match tempfile::tempfile() {
        Ok(file) => file,
        Err(err) => {
            return Verification::CouldNotStart {
                error: format!("no temporary file for its output: {err}"),
            };
        }
    };
    let (stdout, stderr) = match (output.try_clone(), output.try_clone()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(err), _) | (_, Err(err)) => {
            return Verification::CouldNotStart {
                error: format!("could not share its output file: {err}"),
            };
        }
    };
    let mut child_command = program::shell(command);
    child_command
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    program::own_group(&mut child_command);
    let mut child = match child_command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Verification::CouldNotStart {
                error: format!(
                    "{} -c could not start in {}: {err}",
                    program::SHELL,
                    workspace.display()
                ),
            };
        }
    };
    let group = GroupGuard(child.id());
    let timeout = timeout.min(Duration::from_secs(MAX_VERIFY_TIMEOUT_SECS));
    let started = Instant::now();
    let deadline = started.checked_add(timeout).unwrap_or(started);
    let status = match program::wait_until(&mut child, deadline) {
        Ok(status) => status,
        Err(err) => {
            return Verification::CouldNotStart {
                error: format!("lost track of the command: {err}"),
            };
        }
    };
    // Whether it finished or not, nothing it started may outlive the hook.
    drop(group);
    let tail = read_tail(output);
    match status {
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Verification::TimedOut {
                after: timeout,
                tail,
            }
        }
        Some(status) if status.success() => Verification::Passed,
        Some(status) => match status.code() {
            // `sh` exits 127 when the command does not exist, 126 when it cannot run.
            Some(127) | Some(126) => Verification::CouldNotStart {
                error: format!(
                    "the shell could not run it (exit code {}): {}",
                    status.code().unwrap_or_default(),
                    render::bounded_tail(&tail).lines().last().unwrap_or("")
                ),
            },
            Some(code) => Verification::Failed {
                status: format!("exit code {code}"),
                tail,
            },
            None => Verification::Failed {
                status: "killed by a signal".into(),
                tail,
            },
        },
    }
}

fn read_tail(mut file: std::fs::File) -> String {
    let len = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::thread;

    #[test]
    fn a_passing_command_passes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            run("true", dir.path(), Duration::from_secs(10)),
            Verification::Passed
        );
    }

    #[test]
    fn a_failing_command_reports_its_code_and_output() {
        let dir = tempfile::tempdir().unwrap();
        match run(
            "echo out; echo err >&2; exit 3",
            dir.path(),
            Duration::from_secs(10),
        ) {
            Verification::Failed { status, tail } => {
                assert_eq!(status, "exit code 3");
                assert!(tail.contains("out") && tail.contains("err"), "{tail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_command_is_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let result = run("no-such-command-ralph", dir.path(), Duration::from_secs(10));
        assert!(
            matches!(result, Verification::CouldNotStart { .. }),
            "{result:?}"
        );
    }

    #[test]
    fn a_huge_timeout_neither_panics_nor_waits_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            run("true", dir.path(), Duration::from_secs(u64::MAX)),
            Verification::Passed
        );
    }

    #[test]
    #[cfg(unix)]
    fn the_group_is_killed_when_the_caller_unwinds() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!(
            "sleep 300 & echo $! > {}; wait",
            pid_file.display()
        ));
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().unwrap();
        let pid = child.id();
        let panicked = std::panic::catch_unwind(|| {
            let _group = GroupGuard(pid);
            while !pid_file.exists() {
                thread::sleep(Duration::from_millis(5));
            }
            panic!("a panic while the command runs");
        });
        assert!(panicked.is_err());
        let _ = child.wait();
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let alive = Command::new("sh")
            .arg("-c")
            .arg(format!("ps -o stat= -p {} | grep -qv Z", pid.trim()))
            .status()
            .unwrap()
            .success();
        assert!(!alive, "the verify command's child outlived a panic");
    }

    #[test]
    fn a_missing_workspace_is_reported_as_could_not_start() {
        let result = run(
            "true",
            Path::new("/nonexistent/ralph"),
            Duration::from_secs(10),
        );
        assert!(
            matches!(result, Verification::CouldNotStart { .. }),
            "{result:?}"
        );
    }
}
