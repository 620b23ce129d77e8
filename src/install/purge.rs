//! What `uninstall` leaves behind, and `uninstall --purge`, which also removes the copy
//! of ralph-hook that install/install.sh put on PATH and this user's loop records.
//!
//! Purge removes only what ralph-hook itself made: the copy named in the install record
//! (and only while it still is a ralph-hook binary), and the `workspaces/` (each loop's
//! record, history and lock), `hinted/`, older versions' `loops/`, and record files in
//! the user's state folder, which goes too once it is empty. A
//! `ralph-hook` someone else put on PATH (cargo, a package manager) is named, not removed.

use std::path::{Path, PathBuf};

use super::path_copy;
use super::plan::BACKUP_SUFFIX;
use crate::engine::ownership;
use crate::error::{Error, Result};

/// The folders of the user's state folder that hold loop records (`loops` is where
/// versions before the record kept theirs).
const RECORD_DIRS: [&str; 3] = ["workspaces", "loops", "hinted"];

/// Removes (or, for a dry run, names) the copy on PATH and the loop records; returns one
/// line per thing done.
pub(super) fn run(dry_run: bool) -> Result<Vec<String>> {
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut lines = Vec::new();
    if let Some(copy) = path_copy::recorded() {
        if !copy.is_file() {
            lines.push(format!(
                "purge: the copy install placed at {} is already gone",
                copy.display()
            ));
        } else if path_copy::version_of(&copy).is_ok_and(|v| v.starts_with("ralph-hook ")) {
            if !dry_run {
                std::fs::remove_file(&copy)
                    .map_err(|err| Error::io("remove the copy on PATH", &copy, err))?;
            }
            lines.push(format!(
                "purge: {verb} {} (the copy install/install.sh put on PATH)",
                copy.display()
            ));
        } else {
            lines.push(format!(
                "purge: left {}: it is no longer a ralph-hook binary",
                copy.display()
            ));
        }
    }
    let Some(state_dir) = ownership::user_state_dir() else {
        return Ok(lines);
    };
    let mut records: Vec<PathBuf> = RECORD_DIRS
        .iter()
        .map(|name| state_dir.join(name))
        .filter(|dir| dir.is_dir())
        .collect();
    records.extend(path_copy::record_file().filter(|file| file.is_file()));
    for path in &records {
        if !dry_run {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            removed.map_err(|err| Error::io("remove the loop records", path, err))?;
        }
    }
    if !records.is_empty() {
        lines.push(format!(
            "purge: {verb} your loop records in {}",
            state_dir.display()
        ));
    }
    if !dry_run {
        // Only when nothing else is in it: the folder may be one the user named.
        let _ = std::fs::remove_dir(&state_dir);
    }
    Ok(lines)
}

/// What uninstall does not remove, each with how to remove it.
pub(super) fn left_behind(purged: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "left in place: backups (*{BACKUP_SUFFIX}) beside the files they saved"
    )];
    let placed = path_copy::recorded().filter(|copy| copy.is_file());
    if let Some(copy) = placed.as_ref().filter(|_| !purged) {
        lines.push(format!(
            "left in place: {} on PATH (`ralph-hook uninstall --purge` removes it)",
            copy.display()
        ));
    }
    if let Some(found) = path_copy::on_path().filter(|found| !is_placed(found, placed.as_deref())) {
        lines.push(format!(
            "left in place: {} on PATH; install/install.sh did not put it there (if cargo did: `cargo uninstall ralph-hook`)",
            found.display()
        ));
    }
    if !purged
        && let Some(dir) = ownership::user_state_dir()
        && RECORD_DIRS.iter().any(|name| dir.join(name).is_dir())
    {
        lines.push(format!(
            "left in place: your loop records and histories in {} (`ralph-hook uninstall --purge` removes them)",
            dir.display()
        ));
    }
    lines.push(
        "left in place: loop state files inside workspaces (.codex/ralph-loop-* and .claude/ralph-loop-*; older versions kept the history there too); remove them per workspace once no loop runs there"
            .into(),
    );
    lines
}

fn is_placed(found: &Path, placed: Option<&Path>) -> bool {
    placed.is_some_and(|placed| {
        found == placed || std::fs::canonicalize(found).ok() == std::fs::canonicalize(placed).ok()
    })
}
