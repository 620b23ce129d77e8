//! Whether the user's state folder is really the user's alone, checked before any
//! record in it is obeyed or written (like ssh's `StrictModes` and git's
//! `safe.directory`).
//!
//! A record there names commands (verify, notify) that a stop runs unsandboxed as the
//! user, so a folder someone else can write is a way to run code as the user:
//! - inside the workspace, or under a temp folder (`/tmp`, `$TMPDIR`): Codex's sandbox
//!   lets the agent write both;
//! - a relative `RALPH_HOOK_STATE_DIR`: it would be taken from whatever folder the hook
//!   runs in, the workspace;
//! - owned by another user, or writable by group or others (a shared `XDG_STATE_HOME`),
//!   or under a folder another user can write without a sticky bit.

use std::path::{Component, Path, PathBuf};

/// The temp folders Codex's sandbox makes writable to the agent: `/tmp` and `$TMPDIR`.
fn temp_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("/tmp")];
    if let Some(dir) = std::env::var_os("TMPDIR").filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() && dir.parent().is_some() {
            roots.push(dir);
        }
    }
    roots
        .into_iter()
        .filter_map(|root| std::fs::canonicalize(&root).ok())
        .collect()
}

/// `path` with its existing part resolved (links followed, as the kernel will when
/// writing) and the part not yet made appended.
fn resolved(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in missing.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Why the state folder `dir` (and, within it, `inside`: the loop's folder and record)
/// may not hold a record obeyed for the canonical `workspace`; `None` when it may. `env`
/// names the variable that moves the folder, for the fix.
pub(crate) fn refusal(
    dir: &Path,
    workspace: &Path,
    inside: &[PathBuf],
    env: &str,
) -> Option<String> {
    let fix = format!(
        "set {env} to a folder of your own outside every workspace and temp folder (for example ~/.local/state/ralph-hook), mode 0700"
    );
    if !dir.is_absolute() || dir.components().any(|part| part == Component::ParentDir) {
        return Some(format!(
            "the user's state folder {} is not an absolute path, so it would be taken from the workspace the hook runs in; {fix}",
            dir.display()
        ));
    }
    let real = resolved(dir);
    if real.starts_with(workspace) {
        return Some(format!(
            "the user's state folder {} is inside the workspace {}, where the agent could write its own loop's record; {fix}",
            dir.display(),
            workspace.display()
        ));
    }
    if let Some(temp) = temp_roots().into_iter().find(|temp| real.starts_with(temp)) {
        return Some(format!(
            "the user's state folder {} is under the temp folder {}, which an agent's sandbox may write; {fix}",
            dir.display(),
            temp.display()
        ));
    }
    ownership_refusal(&real, inside, &fix)
}

#[cfg(unix)]
fn ownership_refusal(real: &Path, inside: &[PathBuf], fix: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid only reads the process's own credentials.
    let me = unsafe { libc::geteuid() };
    // The folders above: the user's or root's, and nobody else's to rename or replace
    // (group/other-writable only with the sticky bit, like /var/tmp).
    for above in real.ancestors().skip(1) {
        let Ok(meta) = above.symlink_metadata() else {
            continue;
        };
        let writable_by_others = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
        if (meta.uid() != me && meta.uid() != 0) || writable_by_others {
            return Some(format!(
                "the folder {} above the user's state folder {} is {}, so another user could replace what is in it; {fix}",
                above.display(),
                real.display(),
                if writable_by_others {
                    format!("writable by others (mode {:o})", meta.mode() & 0o7777)
                } else {
                    format!("owned by uid {}", meta.uid())
                }
            ));
        }
    }
    // The folder itself and everything of the loop's in it: the user's, and writable by
    // the user only; and no link among them.
    let mut own = vec![real.to_path_buf()];
    own.extend(inside.iter().cloned());
    for path in own {
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let problem = if meta.file_type().is_symlink() && path != real {
            Some("a symbolic link".to_string())
        } else if meta.uid() != me {
            Some(format!(
                "owned by uid {}, not by you (uid {me})",
                meta.uid()
            ))
        } else if meta.mode() & 0o022 != 0 {
            Some(format!(
                "writable by group or others (mode {:o})",
                meta.mode() & 0o7777
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Some(format!(
                "{} in the user's state folder is {problem}: another user could have written it, so no loop there is obeyed; remove it, or {fix}",
                path.display()
            ));
        }
    }
    None
}

#[cfg(not(unix))]
fn ownership_refusal(_real: &Path, _inside: &[PathBuf], _fix: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_or_workspace_state_folder_is_refused() {
        let ws = Path::new("/nonexistent-ralph/ws");
        let why = refusal(Path::new("state"), ws, &[], "X").unwrap();
        assert!(why.contains("not an absolute path"), "{why}");
        let why = refusal(&ws.join(".state"), ws, &[], "X").unwrap();
        assert!(why.contains("inside the workspace"), "{why}");
        let why = refusal(Path::new("/tmp/ralph-state-x"), ws, &[], "X").unwrap();
        assert!(why.contains("under the temp folder"), "{why}");
    }
}
