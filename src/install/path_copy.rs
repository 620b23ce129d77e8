//! The copy of ralph-hook that `install/install.sh` puts on PATH (`~/.local/bin` by
//! default). The script tells `install` where it put it (`--path-copy FILE`); the record
//! in the user's state folder lets `doctor` check that copy and `uninstall --purge`
//! remove exactly it — never a `ralph-hook` someone else put on PATH.

use std::path::{Path, PathBuf};

use super::plan::{self, Change, Content, Plan};
use crate::engine::ownership;
use crate::error::{Error, Result};
use crate::program;

/// The record's file name in the user's state folder.
pub(super) const FILE_NAME: &str = "path-copy";

/// Where the record lives: `<user state folder>/path-copy`.
pub(super) fn record_file() -> Option<PathBuf> {
    ownership::user_state_dir().map(|dir| dir.join(FILE_NAME))
}

/// Plans recording that install placed `binary` on PATH: the record file, and the state
/// folder it goes in when that is missing.
pub(super) fn plan_record(binary: &Path) -> Result<Plan> {
    let binary = std::path::absolute(binary)
        .map_err(|err| Error::io("find the absolute path of", binary, err))?;
    let file = record_file()
        .ok_or_else(|| Error::Failed("no home folder to keep the install record in".into()))?;
    let mut plan = Plan::default();
    if let Some(dir) = file.parent() {
        for missing in plan::missing_dirs(dir) {
            if missing == dir {
                plan.create_private_dir(missing);
            } else {
                plan.create_dir(missing);
            }
        }
    }
    plan.push(Change {
        before: plan::read(&file, false)?,
        after: Content::text(format!("{}\n", binary.display())),
        path: file,
        follow_links: false,
        backup: false,
        mode: 0o600,
        summary: "record where the copy is (`ralph-hook uninstall --purge` removes exactly it)"
            .into(),
    });
    Ok(plan)
}

/// The copy install placed on PATH, if it recorded one.
pub(super) fn recorded() -> Option<PathBuf> {
    let text = std::fs::read_to_string(record_file()?).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// The first `ralph-hook` a shell would run from any folder: the first executable of
/// that name in an absolute `$PATH` entry (a relative one would mean a file in the
/// current folder, which may be a workspace's).
pub(super) fn on_path() -> Option<PathBuf> {
    program::find("ralph-hook")
}

pub(super) use super::plugin::version_of;

/// This binary's own `--version` line.
pub(super) fn own_version() -> String {
    format!("ralph-hook {}", env!("CARGO_PKG_VERSION"))
}
