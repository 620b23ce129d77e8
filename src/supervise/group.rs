//! The client's process group: the supervisor starts each client as the leader of a new
//! group and, whenever that client is done with (it exited, the loop was cancelled, the
//! supervisor is told to stop), ends the whole group and every other process below the
//! supervisor (see `tree`: a sandbox in a session of its own, an orphan the supervisor
//! adopted) — SIGTERM, then SIGKILL after the grace — so that no shell or tool the agent
//! started is left behind.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::tree;

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
    /// Starts `program args…` in `cwd` with `env` added to the environment, as the leader
    /// of a new process group, stdin closed, stdout and stderr piped.
    pub(crate) fn spawn(
        program: &Path,
        args: &[String],
        cwd: &Path,
        env: &[(&str, &str)],
    ) -> io::Result<Started> {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
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

    /// Ends the client, everything in its group and every other process below `owner`
    /// (the supervisor, which adopts the client's orphans): SIGTERM, SIGKILL after
    /// `grace`. Returns the client's exit status.
    pub(crate) fn end(&mut self, owner: u32, grace: Duration) -> Option<ExitStatus> {
        let pgid = self.pid();
        end_all(owner, pgid, grace, &mut || {
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

/// Ends group `pgid` and every process below `owner` but the user's notify commands:
/// SIGTERM, then SIGKILL once `grace` passed with a process left. `reap` runs while
/// waiting, so that a leader that is our child does not linger as a zombie; the other
/// children of ours that died (adopted orphans) are reaped here. A process seen below
/// `owner` stays a target after its parent died, wherever it was reparented. Returns true
/// when all are gone.
pub(crate) fn end_all(owner: u32, pgid: u32, grace: Duration, reap: &mut dyn FnMut()) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return true;
    };
    if raw <= 1 {
        return true;
    }
    let mut tree = Targets {
        owner,
        pgid,
        known: Vec::new(),
    };
    reap();
    tree.reap_adopted();
    if tree.gone() {
        return true;
    }
    tree.signal(raw, Signal::SIGTERM);
    if tree.wait_gone(grace, reap) {
        return true;
    }
    tree.signal(raw, Signal::SIGKILL);
    tree.wait_gone(AFTER_KILL, reap)
}

/// The processes being ended: the group and what was ever seen below the owner.
struct Targets {
    owner: u32,
    pgid: u32,
    known: Vec<tree::Proc>,
}

impl Targets {
    /// Looks again: adds what is below the owner now, drops what is gone.
    fn refresh(&mut self) {
        for process in tree::descendants(self.owner) {
            if !self.known.iter().any(|known| known.pid == process.pid) {
                self.known.push(process);
            }
        }
        self.known = self.known.iter().filter_map(tree::Proc::now).collect();
    }

    fn signal(&mut self, pgid: i32, signal: Signal) {
        let _ = killpg(Pid::from_raw(pgid), signal);
        self.refresh();
        for process in &self.known {
            if let (false, Ok(pid)) = (process.zombie, i32::try_from(process.pid)) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
    }

    /// Whether the group is gone and nothing but zombies is left of the rest.
    fn gone(&mut self) -> bool {
        self.refresh();
        !group_alive(self.pgid) && self.known.iter().all(|process| process.zombie)
    }

    /// Reaps the dead children of this process among them other than the client, whose
    /// status its own `Child` collects.
    fn reap_adopted(&mut self) {
        self.refresh();
        let me = std::process::id();
        for process in &self.known {
            if process.zombie
                && process.ppid == me
                && process.pid != self.pgid
                && let Ok(pid) = i32::try_from(process.pid)
            {
                let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
            }
        }
    }

    fn wait_gone(&mut self, within: Duration, reap: &mut dyn FnMut()) -> bool {
        let deadline = Instant::now() + within;
        loop {
            reap();
            self.reap_adopted();
            if self.gone() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts `sh -c script` as a client and waits for the script to write a pid to
    /// `pidfile`; returns the client and that pid.
    fn started(script: String, pidfile: &Path) -> (Client, i32) {
        let dir = pidfile.parent().unwrap();
        let (client, _out, _err) =
            Client::spawn(Path::new("/bin/sh"), &["-c".into(), script], dir, &[]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let written = std::fs::read_to_string(pidfile).unwrap_or_default();
            if let Ok(pid) = written.trim().parse() {
                return (client, pid);
            }
            assert!(Instant::now() < deadline, "the script never started");
            thread::sleep(POLL);
        }
    }

    #[test]
    fn ending_a_client_ends_what_it_left_running_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg.pid");
        let script = format!(
            "trap '' TERM; sleep 300 & echo $! > '{}'; wait",
            pidfile.display()
        );
        let (mut client, _sleeper) = started(script, &pidfile);
        let pgid = client.pid();
        assert!(group_alive(pgid));
        let status = client.end(pgid, Duration::from_millis(300));
        assert!(status.is_some());
        assert!(!group_alive(pgid), "a process of the group survived");
    }

    #[test]
    fn ending_a_client_ends_what_it_started_in_a_session_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("escaped.pid");
        // As Codex's bwrap sandbox does: a tool in a new session, out of the group.
        let script = format!(
            "setsid sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 300' & wait",
            pidfile.display()
        );
        let (mut client, pid) = started(script, &pidfile);
        let escaped = pid;
        let pgid = client.pid();
        assert!(kill(Pid::from_raw(escaped), None).is_ok());
        assert!(client.end(pgid, Duration::from_millis(300)).is_some());
        let left = tree::descendants(pgid);
        let alive = kill(Pid::from_raw(escaped), None).is_ok()
            && std::fs::read_to_string(format!("/proc/{escaped}/stat"))
                .map(|stat| !stat.contains(") Z"))
                .unwrap_or(false);
        assert!(!alive, "the process in its own session survived: {left:?}");
    }
}
