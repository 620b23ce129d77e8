//! The copy of ralph-hook that `install/install.sh` puts on PATH (`~/.local/bin` by
//! default). The script tells `install` where it put it (`--path-copy FILE`); the record
//! in the user's state folder lets `doctor` check that copy and `uninstall --purge`
//! remove exactly it — never a `ralph-hook` someone else put on PATH.

use std::path::{Path, PathBuf};

use super::plan::{self, Change, Content, Plan};
use crate::engine::ownership;
use crate::error::{Error, Result};

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
            plan.create_dir(missing);
        }
    }
    plan.push(Change {
        before: plan::read(&file, false)?,
        after: Content::text(format!("{}\n", binary.display())),
        path: file,
        follow_links: false,
        backup: false,
        mode: 0o644,
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

/// The first `ralph-hook` a shell would run: the first executable of that name in
/// `$PATH`.
pub(super) fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("ralph-hook"))
        .find(|candidate| candidate.is_file() && is_executable(candidate))
}

pub(super) use super::plugin::version_of;

/// This binary's own `--version` line.
pub(super) fn own_version() -> String {
    format!("ralph-hook {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    true
}
