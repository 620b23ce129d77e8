//! What `uninstall` leaves behind, and `uninstall --purge`, which also removes the copy
//! of ralph-hook that install/install.sh put on PATH and this user's loop records.
//!
//! Purge removes only what ralph-hook itself made: the copy named in the install record
//! (and only while it still is a ralph-hook binary), and the `workspaces/` (each loop's
//! record, history and lock), `hinted/`, older versions' `loops/`, and record files in
//! the user's state folder, which goes too once it is empty. A
//! `ralph-hook` someone else put on PATH (cargo, a package manager) is named, not removed.

use std::path::Path;

use super::path_copy;
use super::plan::{self, BACKUP_SUFFIX, Change, Plan};
use crate::engine::ownership;
use crate::error::Result;

/// The folders of the user's state folder that hold loop records (`loops` is where
/// versions before the record kept theirs).
const RECORD_DIRS: [&str; 3] = ["workspaces", "loops", "hinted"];

/// What `--purge` removes, as changes of the uninstall plan, and notes on what it leaves.
pub(super) struct PurgePlan {
    pub plan: Plan,
    /// A recorded copy that is gone, or that is no ralph-hook binary any more.
    pub notes: Vec<String>,
}

/// Plans removing the copy on PATH and the loop records; nothing is removed here.
pub(super) fn plan() -> Result<PurgePlan> {
    let mut plan = Plan::default();
    let mut notes = Vec::new();
    if let Some(copy) = path_copy::recorded() {
        if !copy.is_file() {
            notes.push(format!(
                "the copy install placed at {} is already gone",
                copy.display()
            ));
        } else if path_copy::version_of(&copy).is_ok_and(|v| v.starts_with("ralph-hook ")) {
            plan.push(Change::removal(
                &copy,
                plan::read(&copy, false)?,
                "remove the copy install/install.sh put on PATH",
            ));
        } else {
            notes.push(format!(
                "left {}: it is no longer a ralph-hook binary",
                copy.display()
            ));
        }
    }
    let Some(state_dir) = ownership::user_state_dir() else {
        return Ok(PurgePlan { plan, notes });
    };
    for dir in RECORD_DIRS
        .iter()
        .map(|name| state_dir.join(name))
        .filter(|dir| dir.is_dir())
    {
        plan.push(Change::folder_removal(&dir, "remove your loop records"));
    }
    if let Some(file) = path_copy::record_file().filter(|file| file.is_file()) {
        let before = plan::read(&file, false)?;
        plan.push(Change::removal(
            &file,
            before,
            "remove the record of the copy on PATH",
        ));
    }
    super::man_pages::plan_removal(&mut plan)?;
    // Only when nothing else is in it: the folder may be one the user named.
    plan.remove_dirs.push(state_dir);
    Ok(PurgePlan { plan, notes })
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
    if let Some(dir) = super::man_pages::recorded().filter(|_| !purged)
        && !super::man_pages::own_pages(&dir).is_empty()
    {
        lines.push(format!(
            "left in place: the man pages install/install.sh wrote in {} (`ralph-hook uninstall --purge` removes them)",
            dir.display()
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
