//! Workspaces: which folder a loop belongs to, and finding its state from any
//! subdirectory. This runs on every stop in every repository, so it only stats files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::agent::Agent;
use crate::engine::digest;

/// The state file's name inside the host's folder (`.codex/` or `.claude/`).
pub const STATE_FILE: &str = "ralph-loop-state.json";
/// The history file's name, beside the state.
pub const HISTORY_FILE: &str = "ralph-loop-history.jsonl";
/// The lock file's name, beside the state.
pub const LOCK_FILE: &str = "ralph-loop.lock";
/// A cancel request left in the workspace root by `cancel` when the agent's sandbox
/// cannot write the state folder; the next stop honours it if it names the loop.
pub const CANCEL_REQUEST_FILE: &str = ".ralph-loop-cancel";

/// The workspace of `dir`: its git top level (the nearest folder holding `.git`), else
/// `dir` itself.
pub fn root_of(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|candidate| candidate.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

/// The folder holding `agent`'s loop files in `workspace`.
pub fn state_dir(workspace: &Path, agent: Agent) -> PathBuf {
    workspace.join(agent.state_dir_name())
}

/// Where `cancel` leaves a request it could not carry out itself.
pub fn cancel_request_path(workspace: &Path) -> PathBuf {
    workspace.join(CANCEL_REQUEST_FILE)
}

/// Finds the nearest state file from `cwd` upward, stopping at the git top level (a
/// state file above the repository belongs to another workspace). Returns the
/// workspace and the state file path.
pub fn find_state(cwd: &Path, agent: Agent) -> Option<(PathBuf, PathBuf)> {
    for dir in cwd.ancestors() {
        let candidate = state_dir(dir, agent).join(STATE_FILE);
        if candidate.symlink_metadata().is_ok() {
            return Some((dir.to_path_buf(), candidate));
        }
        if dir.join(".git").symlink_metadata().is_ok() {
            return None;
        }
    }
    None
}

/// Digest of a git workspace's HEAD and status, for the no-progress brake. `None`
/// when `workspace` is not a git repository or git is not available.
pub fn git_digest(workspace: &Path) -> Option<String> {
    if !workspace.join(".git").exists() {
        return None;
    }
    let output = Command::new("git")
        .args([
            "-c",
            "core.quotePath=false",
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=all",
        ])
        .current_dir(workspace)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then(|| digest::hex(&output.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_found_from_a_deep_subdirectory() {
        let temp = tempfile::tempdir().unwrap();
        let workspace = temp.path();
        fs_err::create_dir_all(workspace.join(".codex")).unwrap();
        fs_err::write(workspace.join(".codex").join(STATE_FILE), "{}").unwrap();
        let deep = workspace.join("a/b/c");
        fs_err::create_dir_all(&deep).unwrap();
        let (found_ws, found) = find_state(&deep, Agent::Codex).unwrap();
        assert_eq!(found_ws, workspace);
        assert_eq!(found, workspace.join(".codex").join(STATE_FILE));
        assert!(find_state(&deep, Agent::Claude).is_none());
    }

    #[test]
    fn the_search_stops_at_the_git_top_level() {
        let temp = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(temp.path().join(".codex")).unwrap();
        fs_err::write(temp.path().join(".codex").join(STATE_FILE), "{}").unwrap();
        let repo = temp.path().join("repo");
        fs_err::create_dir_all(repo.join(".git")).unwrap();
        fs_err::create_dir_all(repo.join("src")).unwrap();
        assert!(find_state(&repo.join("src"), Agent::Codex).is_none());
        assert_eq!(root_of(&repo.join("src")), repo);
    }
}
