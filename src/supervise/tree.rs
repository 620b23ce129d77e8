//! The processes a client left outside its process group. A client's tools may start
//! their own session or group (Codex's `bwrap` sandbox does, with `--new-session`), and a
//! process whose parent died is adopted by the nearest subreaper. The supervisor makes
//! itself that subreaper, so everything the client ever started stays its descendant, and
//! ending a client ends that whole tree, not only the group.
//!
//! Read from `/proc` (Linux); elsewhere the tree is empty and the group is all there is.
//! The user's own notify commands are spared: `engine::notify` marks them in their
//! environment, and a loop's end must not cut short the command that reports it.

use crate::engine::notify::NOTIFY_MARK;

/// One process of the tree, as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// Dead, waiting for its parent to reap it.
    pub(crate) zombie: bool,
    /// When it started (clock ticks since boot): with the pid, which process this is, so
    /// that a pid reused by an unrelated process is never taken for it.
    pub(crate) started: u64,
}

impl Proc {
    /// The same process as it is now, or `None` once it is gone (or its pid was reused).
    pub(crate) fn now(&self) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        parse_stat(self.pid, &stat).filter(|now| now.started == self.started)
    }
}

/// Makes this process the subreaper of its descendants: an orphan among them is adopted
/// by it instead of init, so it can still be found and ended. Best effort (Linux only).
pub(crate) fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Every process below `root` (not `root` itself) that is not one of the user's notify
/// commands, parents before children.
pub(crate) fn descendants(root: u32) -> Vec<Proc> {
    let all = processes();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for child in all.iter().filter(|p| p.ppid == parent && p.pid != root) {
            if found.iter().any(|p: &Proc| p.pid == child.pid) || spared(child.pid) {
                continue;
            }
            found.push(*child);
            frontier.push(child.pid);
        }
    }
    found
}

/// Every process `/proc` lists, with its parent.
fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &stat)
        })
        .collect()
}

/// The state and parent in a `/proc/PID/stat` line: `pid (comm) S ppid …`, where comm
/// may itself hold spaces and parentheses, so the fields are read after the last `)`.
fn parse_stat(pid: u32, stat: &str) -> Option<Proc> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    // starttime is field 22 of the line, the 20th after the comm.
    let started = fields.nth(17)?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        zombie: state == "Z" || state == "X",
        started,
    })
}

/// Whether `pid` is one of the user's notify commands (or started by one).
fn spared(pid: u32) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let mark = format!("{NOTIFY_MARK}=1");
    environ
        .split(|byte| *byte == 0)
        .any(|entry| entry == mark.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::thread;
    use std::time::{Duration, Instant};

    #[test]
    fn a_stat_line_is_read_after_the_last_parenthesis() {
        let line =
            "4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 9 9";
        assert_eq!(
            parse_stat(4242, line),
            Some(Proc {
                pid: 4242,
                ppid: 17,
                zombie: false,
                started: 987654,
            })
        );
        let zombie = "9 (sh) Z 3 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 1 1";
        assert!(parse_stat(9, zombie).unwrap().zombie);
        assert_eq!(parse_stat(9, "9 (sh"), None);
        assert_eq!(parse_stat(9, "9 (sh) S notanumber"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_grandchild_in_its_own_session_is_a_descendant_and_a_notify_command_is_not() {
        let mut shell = Command::new("/bin/sh")
            .args([
                "-c",
                "setsid sleep 300 & RALPH_HOOK_NOTIFY=1 sleep 301 & wait",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let root = shell.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        // Both children must have become `sleep`: a forked shell not yet exec'd still has
        // its parent's environment, without the notify mark.
        let sleeping = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        };
        let found = loop {
            let children: Vec<u32> = processes()
                .iter()
                .filter(|p| p.ppid == root)
                .map(|p| p.pid)
                .collect();
            if children.len() >= 2 && children.iter().all(|pid| sleeping(*pid)) {
                break descendants(root);
            }
            assert!(Instant::now() < deadline, "the children never started");
            thread::sleep(Duration::from_millis(20));
        };
        let all = processes();
        let children: Vec<u32> = all
            .iter()
            .filter(|p| p.ppid == root)
            .map(|p| p.pid)
            .collect();
        let kept: Vec<u32> = found.iter().map(|p| p.pid).collect();
        assert_eq!(
            kept.len(),
            1,
            "only the setsid sleep: {kept:?} of {children:?}"
        );
        for pid in &children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = shell.wait();
    }
}
