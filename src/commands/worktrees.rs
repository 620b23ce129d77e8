//! `ralph-hook worktrees` and the `--worktree NAME` of `run` and `start`: loops in git
//! worktrees of one repository, so several run at once, each its own workspace. Finished
//! work is never lost: a worktree stays when its loop ends, and `--prune` removes only
//! what is merged into its base and clean, naming each one it keeps and why.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{checked_workspace, default_workspace, present_agent};
use crate::cli::WorktreesArgs;
use crate::clock;
use crate::engine::fingerprint;
use crate::engine::history::Action;
use crate::engine::lookup;
use crate::engine::render::{self, printable};
use crate::engine::supervision::{self, Supervision, Timings};
use crate::error::{Error, Result};
use crate::messages::say;
use crate::worktree::{self, Entry};

/// Refuses a bad `--worktree` name before anything else is checked or launched.
pub(crate) fn check_worktree_name(name: Option<&str>) -> Result<()> {
    name.map_or(Ok(()), |name| worktree::name::check(name).map(|_| ()))
}

/// The workspace a loop started with `--worktree NAME` from `workspace` runs in: a new
/// worktree (said on stdout), or with `existing` (`run --resume`) the one made before.
pub(crate) fn in_worktree(workspace: &Path, name: &str, existing: bool) -> Result<PathBuf> {
    if existing {
        let name = worktree::name::check(name)?;
        let (_, root) = worktree::repository(workspace)?;
        let path = worktree::place(&root, name)?;
        return std::fs::canonicalize(&path).map_err(|_| {
            Error::usage(format!(
                "there is no loop worktree {name} at {} to resume (`ralph-hook worktrees` lists them)",
                path.display()
            ))
        });
    }
    let made = worktree::create(workspace, name)?;
    say(format!(
        "[ralph] worktree {} on branch {} (from {}); `ralph-hook worktrees` lists it",
        printable(&made.path.display().to_string()),
        made.branch,
        made.base
    ));
    Ok(made.path)
}

/// `ralph-hook worktrees [--prune [--dry-run]] [--json]`.
pub(crate) fn worktrees(args: &WorktreesArgs) -> Result<i32> {
    let workspace = match &args.workspace {
        Some(dir) => checked_workspace(dir)?,
        None => default_workspace()?,
    };
    let (root, entries) = worktree::list(&workspace, fingerprint::is_own_file)?;
    let looked: Vec<(Entry, LoopSeen)> = entries
        .into_iter()
        .map(|entry| {
            let seen = loop_seen(&entry.path);
            (entry, seen)
        })
        .collect();
    if args.json {
        let rows: Vec<_> = looked
            .iter()
            .map(|(entry, seen)| {
                json!({
                    "path": entry.path,
                    "branch": entry.branch,
                    "base": entry.base,
                    "ahead": entry.ahead,
                    "merged": entry.merged,
                    "changes": entry.changes,
                    "locked": entry.locked,
                    "loop": seen.text,
                    "loop_active": seen.active,
                })
            })
            .collect();
        say(render::json_safe(
            serde_json::Value::Array(rows).to_string(),
        ));
        return Ok(0);
    }
    if looked.is_empty() {
        say(format!(
            "No loop worktrees in {} (`ralph-hook run --worktree NAME …` makes one).",
            shown(&root)
        ));
        return Ok(0);
    }
    if args.prune {
        return Ok(prune(&root, &looked, args.dry_run));
    }
    say(format!(
        "{:<24} {:<12} {:<6} {:<8} {:<24} PATH",
        "BRANCH", "BASE", "AHEAD", "CHANGES", "LOOP"
    ));
    for (entry, seen) in &looked {
        say(format!(
            "{:<24} {:<12} {:<6} {:<8} {:<24} {}",
            printable(&entry.branch),
            printable(entry.base.as_deref().unwrap_or("-")),
            entry.ahead.map_or_else(|| "-".into(), |n| n.to_string()),
            entry
                .changes
                .map_or_else(|| "gone".into(), |n| n.to_string()),
            seen.text,
            shown(&entry.path)
        ));
    }
    Ok(0)
}

/// Removes each merged, clean worktree with no running loop; names each kept and why.
fn prune(root: &Path, looked: &[(Entry, LoopSeen)], dry_run: bool) -> i32 {
    let mut failed = false;
    for (entry, seen) in looked {
        let keep = if seen.active {
            Some(format!("its loop still runs ({})", seen.text))
        } else {
            worktree::keep_reason(entry)
        };
        let base = entry.base.as_deref().unwrap_or("-");
        match keep {
            Some(why) => say(format!(
                "kept    {} ({}): {why}",
                shown(&entry.path),
                printable(&entry.branch)
            )),
            None if dry_run => say(format!(
                "would remove {} and its branch {} (merged into {base}, nothing uncommitted)",
                shown(&entry.path),
                printable(&entry.branch)
            )),
            None => match worktree::remove(root, entry) {
                Ok(()) => say(format!(
                    "removed {} and its branch {} (merged into {base}, nothing uncommitted)",
                    shown(&entry.path),
                    printable(&entry.branch)
                )),
                Err(err) => {
                    failed = true;
                    say(format!("kept    {}: {err}", shown(&entry.path)))
                }
            },
        };
    }
    i32::from(failed)
}

/// What `worktrees` says of the loop in one worktree.
struct LoopSeen {
    /// `running 3/20`, `ended: completed`, `-` (no loop ran there).
    text: String,
    /// A loop of the user's is active there (prune keeps the worktree).
    active: bool,
}

/// The loop in the worktree at `path`: the record's state if one is active, else how
/// the last one ended.
fn loop_seen(path: &Path) -> LoopSeen {
    let none = || LoopSeen {
        text: "-".into(),
        active: false,
    };
    let Ok(found) = lookup::find(path, present_agent(path)) else {
        return none();
    };
    if let Some(record) = &found.record {
        let sup = Supervision::read(found.store.loop_dir()).filter(|s| s.loop_id == record.loop_id);
        let phase = supervision::phase(
            Some(record),
            sup.as_ref(),
            clock::now(),
            &Timings::from_env(),
        );
        return LoopSeen {
            text: format!(
                "{} {}",
                phase.as_str(),
                render::iteration_label(&record.state)
            ),
            active: true,
        };
    }
    match found.store.last_history_entry() {
        Some(entry) if entry.decision == Action::Finish => LoopSeen {
            text: format!(
                "ended: {}",
                entry.reason.map_or("error", |reason| reason.as_str())
            ),
            active: false,
        },
        Some(_) => none(),
        None => none(),
    }
}

/// A path for the terminal, control characters made visible.
fn shown(path: &Path) -> String {
    printable(&path.display().to_string()).into_owned()
}
