//! The programs ralph-hook runs, and how: found on absolute PATH entries only, shell
//! commands through `/bin/sh`, each child in a process group of its own that is killed
//! at its deadline.
//!
//! The hooks run with the workspace as their working folder, so a relative PATH entry
//! (`.`, `node_modules/.bin`) would make a bare `git` or `sh` mean a file the agent
//! planted. One lookup for every program, one way of starting a shell command.

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The shell every `--verify` and `--notify` command runs in: a fixed path, never a
/// PATH lookup.
pub(crate) const SHELL: &str = "/bin/sh";

/// True when `path` is a file someone may execute (on Unix: any execute bit set).
pub(crate) fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The first executable `name` in the absolute entries of `$PATH`; relative and empty
/// entries are skipped (they would name a file in whatever folder the hook runs in).
pub(crate) fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    find_in(name, &path)
}

/// [`find`] over the PATH value `path`.
pub(crate) fn find_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The relative (or empty) entries of `$PATH`, which ralph-hook never searches: `doctor`
/// names them, since the user's shell does search them.
pub(crate) fn relative_path_entries() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .filter(|dir| !dir.is_absolute())
                .collect()
        })
        .unwrap_or_default()
}

/// `/bin/sh -c <script>`: the one way ralph-hook starts a user's shell command.
pub(crate) fn shell(script: &str) -> Command {
    let mut command = Command::new(SHELL);
    command.arg("-c").arg(script);
    command
}

/// Puts `command`'s process at the head of a process group of its own, so the group can
/// be killed with everything the command started.
pub(crate) fn own_group(command: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command
}

/// Kills the process group led by `pid` when dropped: on return, and while unwinding.
pub(crate) struct GroupGuard(pub u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Sends SIGKILL to the process group led by `pid`.
#[cfg(unix)]
pub(crate) fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: killpg only sends a signal; the group is the one the child leads.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

/// Sends SIGKILL to the process group led by `pid` (nothing to do off Unix).
#[cfg(not(unix))]
pub fn kill_group(_pid: u32) {}

/// Waits for `child` until `deadline`; `Ok(None)` when it is still running then. Polls
/// from 1 ms up to 20 ms, so a quick command costs about its own time.
pub(crate) fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Runs `command` (stdin empty, stderr discarded) in a group of its own for at most
/// `timeout`, and returns its stdout when it exits 0. At the deadline the whole group is
/// killed and the answer is `None`: nothing it started outlives this call.
pub(crate) fn output_within(command: &mut Command, timeout: Duration) -> Option<Vec<u8>> {
    let mut out = tempfile::tempfile().ok()?;
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().ok()?)
        .stderr(Stdio::null());
    own_group(command);
    let mut child = command.spawn().ok()?;
    let group = GroupGuard(child.id());
    let started = Instant::now();
    let deadline = started.checked_add(timeout).unwrap_or(started);
    let status = wait_until(&mut child, deadline);
    drop(group);
    let Ok(Some(status)) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    if !status.success() {
        return None;
    }
    let mut bytes = Vec::new();
    out.seek(SeekFrom::Start(0)).ok()?;
    out.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_entries_are_never_searched() {
        // The hooks run in the workspace: `.` or `node_modules/.bin` first in PATH must
        // not make `git` mean a file the agent planted there.
        let temp = tempfile::tempdir().unwrap();
        let planted = temp.path().join("bin");
        fs_err::create_dir_all(&planted).unwrap();
        let fake = planted.join("git");
        fs_err::write(&fake, "#!/bin/sh\necho planted\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let real = temp.path().join("real");
        fs_err::create_dir_all(&real).unwrap();
        let path = std::env::join_paths([Path::new("bin"), Path::new("."), &real]).unwrap();
        assert_eq!(find_in("git", &path), None);
        let path = std::env::join_paths([&planted, &real]).unwrap();
        assert_eq!(find_in("git", &path), Some(fake.clone()));
        // A folder of that name is no program.
        fs_err::create_dir_all(real.join("tool")).unwrap();
        let path = std::env::join_paths([&real]).unwrap();
        assert_eq!(find_in("tool", &path), None);
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_with_its_children() {
        let temp = tempfile::tempdir().unwrap();
        let pid_file = temp.path().join("pid");
        let started = Instant::now();
        let out = output_within(
            &mut shell(&format!(
                "sleep 300 & echo $! > '{}'; wait",
                pid_file.display()
            )),
            Duration::from_millis(300),
        );
        assert_eq!(out, None);
        assert!(started.elapsed() < Duration::from_secs(30));
        let pid = fs_err::read_to_string(&pid_file).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let alive = || {
            shell(&format!("ps -o stat= -p {} | grep -qv Z", pid.trim()))
                .status()
                .unwrap()
                .success()
        };
        while alive() {
            assert!(Instant::now() < deadline, "the command's child outlived it");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_quick_command_gives_its_output() {
        assert_eq!(
            output_within(&mut shell("printf hi"), Duration::from_secs(30)),
            Some(b"hi".to_vec())
        );
        assert_eq!(
            output_within(&mut shell("exit 1"), Duration::from_secs(30)),
            None
        );
    }
}
