//! The client's process group: the supervisor starts each client as the leader of a new
//! group and, whenever that client is done with (it exited, the loop was cancelled, the
//! supervisor is told to stop), ends the whole group — SIGTERM, then SIGKILL after the
//! grace — so that no shell or tool the agent started is left behind.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How often a group is looked at while it is ending.
const POLL: Duration = Duration::from_millis(50);
/// How long a group has to go after SIGKILL before the supervisor gives up on it.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// A running client, the leader of its own process group.
#[derive(Debug)]
pub(crate) struct Client {
    child: Child,
    status: Option<ExitStatus>,
}

/// A client just started, with its output.
pub(crate) type Started = (Client, ChildStdout, ChildStderr);

impl Client {
    /// Starts `program args…` in `cwd` as the leader of a new process group, stdin closed,
    /// stdout and stderr piped.
    pub(crate) fn spawn(program: &Path, args: &[String], cwd: &Path) -> io::Result<Started> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("no stderr"))?;
        Ok((
            Client {
                child,
                status: None,
            },
            stdout,
            stderr,
        ))
    }

    /// Its pid, which is also its process group's id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status once it exited (reaping it), else `None`.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Ends the client and everything in its group: SIGTERM, SIGKILL after `grace`.
    /// Returns the client's exit status.
    pub(crate) fn end(&mut self, grace: Duration) -> Option<ExitStatus> {
        let pgid = self.pid();
        end_group(pgid, grace, &mut || {
            self.exited();
        });
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        self.status
    }
}

/// Whether any process is left in group `pgid` (a zombie leader counts until reaped).
pub(crate) fn group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    match killpg(Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(err) => err == Errno::EPERM,
    }
}

/// Ends group `pgid`: SIGTERM, then SIGKILL once `grace` passed with a process left.
/// `reap` runs while waiting, so that a leader that is our child does not linger as a
/// zombie. Returns true when the group is gone.
pub(crate) fn end_group(pgid: u32, grace: Duration, reap: &mut dyn FnMut()) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return true;
    };
    if raw <= 1 {
        return true;
    }
    let pgid_t = Pid::from_raw(raw);
    reap();
    if !group_alive(pgid) {
        return true;
    }
    let _ = killpg(pgid_t, Signal::SIGTERM);
    if wait_gone(pgid, grace, reap) {
        return true;
    }
    let _ = killpg(pgid_t, Signal::SIGKILL);
    wait_gone(pgid, AFTER_KILL, reap)
}

fn wait_gone(pgid: u32, within: Duration, reap: &mut dyn FnMut()) -> bool {
    let deadline = Instant::now() + within;
    loop {
        reap();
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_client_ends_what_it_left_running_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg.pid");
        let script = format!(
            "trap '' TERM; sleep 300 & echo $! > '{}'; wait",
            pidfile.display()
        );
        let (mut client, _out, _err) =
            Client::spawn(Path::new("/bin/sh"), &["-c".into(), script], dir.path()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
            assert!(Instant::now() < deadline, "the script never started");
            thread::sleep(POLL);
        }
        let pgid = client.pid();
        assert!(group_alive(pgid));
        let status = client.end(Duration::from_millis(300));
        assert!(status.is_some());
        assert!(!group_alive(pgid), "a process of the group survived");
    }
}
