//! Workspaces: which folder a loop belongs to, finding a stop's loop from any
//! subdirectory, the sandbox's cancel request, and the one place git runs.
//!
//! The stop's search runs on every turn in every repository, so it only stats files.

use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::engine::files;

/// The state file's name inside the host's folder (`.codex/` or `.claude/`).
pub(crate) const STATE_FILE: &str = "ralph-loop-state.json";
/// The history's name beside the state in versions before the user's record (ralph-hook
/// no longer writes it; the brake still ignores it).
pub(crate) const HISTORY_FILE: &str = "ralph-loop-history.jsonl";
/// The lock's name beside the state in versions before the user's record (likewise).
pub(crate) const LOCK_FILE: &str = "ralph-loop.lock";
/// How the state's temp files start, beside the state (they end in `.tmp`).
pub(crate) const TEMP_PREFIX: &str = ".ralph-loop-state.";
/// A cancel request left in the workspace root by `cancel` when the agent's sandbox
/// cannot write the user's loop folder; the next stop honours it if it names the loop.
pub(crate) const CANCEL_REQUEST_FILE: &str = ".ralph-loop-cancel";
/// The largest cancel request read (it holds one loop id).
const CANCEL_REQUEST_CAP: u64 = 4096;

/// The workspace of `dir`: its git top level (the nearest folder that
/// [`is_git_repository`]), else `dir` itself. An empty `.git` is not one: Codex's
/// sandbox leaves empty `.git`, `.codex` and `.agents` folders in its writable roots
/// (`/tmp`), and they must not make `/tmp` the workspace of everything under it.
pub(crate) fn root_of(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|candidate| is_git_repository(candidate))
        .unwrap_or(dir)
        .to_path_buf()
}

/// The folder holding `agent`'s state file in `workspace` (`.codex/` or `.claude/`).
pub(crate) fn state_dir(workspace: &Path, agent: Agent) -> PathBuf {
    workspace.join(agent.state_dir_name())
}

/// The canonical form of a workspace path (symlinks resolved), the one a record keeps.
///
/// On Linux the folder is opened once and its path read back from
/// `/proc/self/fd` — three system calls however deep it is, where `realpath` reads
/// every component — falling back to `realpath` when `/proc` cannot say.
pub(crate) fn canonical(dir: &Path) -> std::io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    if let Some(path) = canonical_from_proc(dir) {
        return Ok(path);
    }
    std::fs::canonicalize(dir)
}

/// How the fast path opens a folder: a bare handle (`O_PATH`: nothing is read, so a FIFO
/// cannot block it), only if it is a folder (`O_DIRECTORY`), never inherited by a child.
#[cfg(target_os = "linux")]
const FOLDER_HANDLE: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;

#[cfg(target_os = "linux")]
fn canonical_from_proc(dir: &Path) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(FOLDER_HANDLE)
        .open(dir)
        .ok()?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", handle.as_raw_fd())).ok()?;
    // A folder deleted meanwhile reads back with a " (deleted)" suffix; anything not
    // absolute is not a path at all (another mount namespace): ask realpath instead.
    let usable = path.is_absolute() && !path.to_string_lossy().ends_with(" (deleted)");
    usable.then_some(path)
}

/// Where `cancel` leaves a request it could not carry out itself.
pub(crate) fn cancel_request_path(workspace: &Path) -> PathBuf {
    workspace.join(CANCEL_REQUEST_FILE)
}

/// The loop id a cancel request in `workspace` names, if there is one. The file is read
/// like every workspace file: no link followed, no FIFO waited on, at most 4 KiB.
pub(crate) fn read_cancel_request(workspace: &Path) -> Option<String> {
    let bytes = files::read_path(&cancel_request_path(workspace), CANCEL_REQUEST_CAP, false);
    match bytes {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).trim().to_string()),
        Ok(None) => None,
        // Something unreadable there is still a request of no loop: it gets removed.
        Err(_) => Some(String::new()),
    }
}

/// The largest gitfile read (`gitdir: <path>`).
const GITFILE_CAP: u64 = 4096;

/// True when `text` has the form of a loop id (32 lowercase hex digits): a cancel
/// request naming one is left for that loop, whichever host's it is.
pub(crate) fn is_loop_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when `workspace` itself is a git repository as git would see it: `.git` a folder
/// holding a `HEAD`, or a gitfile (`gitdir: …`) naming a folder holding one; never a
/// link. Recorded when a loop starts, so git later runs only where the user's loop is.
/// Costs two `lstat`s for a folder, a read of at most 4 KiB for a gitfile.
pub(crate) fn is_git_repository(workspace: &Path) -> bool {
    git_dir(workspace).is_some()
}

/// The repository folder `workspace`'s `.git` stands for (see [`is_git_repository`]).
pub(crate) fn git_dir(workspace: &Path) -> Option<PathBuf> {
    let dot_git = workspace.join(".git");
    let meta = dot_git.symlink_metadata().ok()?;
    let dir = if meta.is_dir() {
        dot_git
    } else if meta.is_file() {
        let bytes = files::read_path(&dot_git, GITFILE_CAP, false).ok()??;
        let text = String::from_utf8(bytes).ok()?;
        let target = text.strip_prefix("gitdir:")?.trim();
        if target.is_empty() {
            return None;
        }
        workspace.join(target)
    } else {
        return None;
    };
    dir.join("HEAD")
        .symlink_metadata()
        .is_ok_and(|head| head.is_file())
        .then_some(dir)
}

/// Where git may run for `workspace` without obeying a configuration the agent can
/// write: a repository whose folder is not inside the workspace unless it is the
/// workspace's own `.git` folder (a gitfile the agent rewrites to point at a repository
/// of its own in the workspace would carry its config, filters and all).
pub(crate) fn git_dir_outside_agent_reach(workspace: &Path) -> bool {
    let Some(dir) = git_dir(workspace) else {
        return false;
    };
    if dir == workspace.join(".git") {
        return true;
    }
    match (canonical(&dir), canonical(workspace)) {
        (Ok(dir), Ok(workspace)) => !dir.starts_with(&workspace),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fingerprint;
    use crate::engine::ownership::Registry;
    use crate::engine::store::{Located, locate};

    #[test]
    fn a_record_is_found_from_a_deep_subdirectory_past_a_planted_state_file() {
        let temp = tempfile::tempdir().unwrap();
        let workspace = canonical(temp.path()).unwrap().join("ws");
        let registry = Registry::at(&temp.path().join("state"));
        let record_dir = registry.loop_dir(&workspace, Agent::Codex);
        fs_err::create_dir_all(&record_dir).unwrap();
        fs_err::write(record_dir.join("record.json"), "{}").unwrap();
        let deep = workspace.join("a/b/c");
        fs_err::create_dir_all(deep.join(".codex")).unwrap();
        fs_err::write(deep.join(".codex").join(STATE_FILE), "{}").unwrap();
        match locate(&deep, Agent::Codex, &registry) {
            Some(Located::Record(store)) => assert_eq!(store.workspace(), workspace),
            other => panic!("{other:?}"),
        }
        assert!(locate(&deep, Agent::Claude, &registry).is_none());
    }

    #[test]
    fn a_state_file_without_a_record_is_found_but_only_as_a_mirror() {
        let temp = tempfile::tempdir().unwrap();
        let workspace = canonical(temp.path()).unwrap();
        fs_err::create_dir_all(workspace.join(".codex")).unwrap();
        fs_err::write(workspace.join(".codex").join(STATE_FILE), "{}").unwrap();
        let registry = Registry::at(&workspace.join("state"));
        assert!(matches!(
            locate(&workspace.join("."), Agent::Codex, &registry),
            Some(Located::Mirror(_))
        ));
    }

    #[test]
    fn the_canonical_path_resolves_links_like_realpath() {
        let temp = tempfile::tempdir().unwrap();
        let real = temp.path().join("real/deep");
        fs_err::create_dir_all(&real).unwrap();
        let link = temp.path().join("link");
        std::os::unix::fs::symlink(temp.path().join("real"), &link).unwrap();
        let via_link = link.join("deep");
        assert_eq!(
            canonical(&via_link).unwrap(),
            std::fs::canonicalize(&real).unwrap()
        );
        assert!(canonical(&temp.path().join("missing")).is_err());
    }

    #[test]
    fn the_search_stops_at_the_git_top_level() {
        let temp = tempfile::tempdir().unwrap();
        let top = canonical(temp.path()).unwrap();
        fs_err::create_dir_all(top.join(".codex")).unwrap();
        fs_err::write(top.join(".codex").join(STATE_FILE), "{}").unwrap();
        let repo = top.join("repo");
        fs_err::create_dir_all(repo.join(".git")).unwrap();
        fs_err::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs_err::create_dir_all(repo.join("src")).unwrap();
        let registry = Registry::at(&top.join("state"));
        assert!(locate(&repo.join("src"), Agent::Codex, &registry).is_none());
        assert_eq!(root_of(&repo.join("src")), repo);
    }

    #[test]
    fn a_deleted_folder_has_no_canonical_path() {
        // A workspace removed while its loop runs: `/proc` names it with a " (deleted)"
        // suffix, which is no path of anything; a record must never be keyed by it.
        let temp = tempfile::tempdir().unwrap();
        let gone = temp.path().join("gone");
        fs_err::create_dir(&gone).unwrap();
        let handle = std::fs::File::open(&gone).unwrap();
        fs_err::remove_dir(&gone).unwrap();
        let through_fd = PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&handle)
        ));
        let answer = canonical(&through_fd);
        assert!(answer.is_err(), "{answer:?}");
    }

    #[test]
    fn a_fifo_given_as_a_folder_does_not_hang_the_canonical_path() {
        // Opening a FIFO to read waits for a writer: the folder is opened as a path
        // (`O_PATH`) and only as a folder, so a FIFO is refused at once.
        let temp = tempfile::tempdir().unwrap();
        let fifo = temp.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let (send, receive) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || send.send(canonical(&path).map_err(|err| err.kind())));
        let answer = receive
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the canonical path of a FIFO hung");
        assert_eq!(answer, Ok(std::fs::canonicalize(&fifo).unwrap()));
    }

    #[test]
    fn only_a_git_folder_or_gitfile_of_its_own_makes_a_git_workspace() {
        // git runs unsandboxed where a loop's workspace is a repository: a `.git` that is
        // a link could lead it into any repository on the machine, so a link is not one.
        let temp = tempfile::tempdir().unwrap();
        let real = temp.path().join("real");
        fs_err::create_dir_all(&real).unwrap();
        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(&real)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", temp.path())
            .output()
            .unwrap();
        assert!(init.status.success(), "{init:?}");
        assert!(is_git_repository(&real));
        let plain = temp.path().join("plain");
        fs_err::create_dir_all(&plain).unwrap();
        assert!(!is_git_repository(&plain));
        let worktree = temp.path().join("worktree");
        fs_err::create_dir_all(&worktree).unwrap();
        fs_err::write(worktree.join(".git"), "gitdir: ../real/.git\n").unwrap();
        assert!(is_git_repository(&worktree));
        let linked = temp.path().join("linked");
        fs_err::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(real.join(".git"), linked.join(".git")).unwrap();
        assert!(!is_git_repository(&linked));
        assert!(fingerprint::Fingerprint::take(&linked).is_none());
    }

    #[test]
    fn the_empty_folders_codex_leaves_in_tmp_make_no_workspace() {
        // `codex exec --sandbox workspace-write` leaves empty `.git`, `.codex`, `.agents`
        // and `.aws` folders in its writable roots: a workspace below must stay itself.
        let temp = tempfile::tempdir().unwrap();
        let top = canonical(temp.path()).unwrap();
        for name in [".git", ".codex", ".agents", ".aws"] {
            fs_err::create_dir_all(top.join(name)).unwrap();
        }
        let ws = top.join("scratch/ws");
        fs_err::create_dir_all(&ws).unwrap();
        assert!(!is_git_repository(&top));
        assert_eq!(root_of(&ws), ws);
        // A gitfile naming nothing, or not a gitfile at all, is no repository either.
        fs_err::remove_dir(top.join(".git")).unwrap();
        fs_err::write(top.join(".git"), "gitdir: ./missing\n").unwrap();
        assert_eq!(root_of(&ws), ws);
        fs_err::write(top.join(".git"), "").unwrap();
        assert_eq!(root_of(&ws), ws);
        let registry = Registry::at(&top.join("state"));
        fs_err::write(top.join(".codex").join(STATE_FILE), "{}").unwrap();
        // Past the placeholders, the search goes on to `/`: a state file there is found
        // only as a mirror (never obeyed), and the workspace stays the folder itself.
        assert!(!matches!(
            locate(&ws, Agent::Codex, &registry),
            Some(Located::Record(_))
        ));
    }

    #[test]
    fn the_fast_path_answers_for_a_folder_and_only_for_a_folder() {
        // Every stop canonicalises its folder: `/proc` answers in three system calls
        // however deep the folder is; realpath is only the fallback. A file is not a
        // workspace: the fast path refuses it (`O_DIRECTORY`) and leaves it to realpath.
        let temp = tempfile::tempdir().unwrap();
        let deep = temp.path().join("a/b/c");
        fs_err::create_dir_all(&deep).unwrap();
        assert_eq!(
            canonical_from_proc(&deep),
            Some(std::fs::canonicalize(&deep).unwrap())
        );
        let file = deep.join("file.txt");
        fs_err::write(&file, "x").unwrap();
        assert_eq!(canonical_from_proc(&file), None);
    }
}
