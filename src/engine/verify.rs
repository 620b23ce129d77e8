//! Running a loop's `--verify` command when the agent claims completion.
//!
//! The command runs through `sh -c` in the workspace, in its own process group, with its
//! output (stdout and stderr together) going to a temporary file whose tail goes back to
//! the agent on failure. At the timeout the whole group is killed, so a hanging test
//! runner does not outlive the hook.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::engine::decide::Verification;

/// Keep at most this much of the output's end.
const TAIL_BYTES: u64 = 64 * 1024;

/// Runs `command` in `workspace` for at most `timeout`.
pub fn run(command: &str, workspace: &Path, timeout: Duration) -> Verification {
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
    let mut child_command = Command::new("sh");
    child_command
        .arg("-c")
        .arg(command)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        child_command.process_group(0);
    }
    let mut child = match child_command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Verification::CouldNotStart {
                error: format!("sh -c could not start in {}: {err}", workspace.display()),
            };
        }
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                return Verification::CouldNotStart {
                    error: format!("lost track of the command: {err}"),
                };
            }
        }
    };
    // Whether it finished or not, nothing it started may outlive the hook.
    kill_group(child.id());
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
                    crate::engine::render::bounded_tail(&tail)
                        .lines()
                        .last()
                        .unwrap_or("")
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

#[cfg(unix)]
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: killpg only sends a signal; the group is the one the child leads.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

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
