//! The copy of ralph-hook that `install/install.sh` puts on PATH (`~/.local/bin` by
//! default). The script tells `install` where it put it (`--path-copy FILE`); the record
//! in the user's state folder lets `doctor` check that copy and `uninstall --purge`
//! remove exactly it — never a `ralph-hook` someone else put on PATH.

use std::path::{Path, PathBuf};

use crate::engine::ownership;
use crate::error::{Error, Result};

/// The record's file name in the user's state folder.
pub(super) const FILE_NAME: &str = "path-copy";

/// Where the record lives: `<user state folder>/path-copy`.
pub(super) fn record_file() -> Option<PathBuf> {
    ownership::user_state_dir().map(|dir| dir.join(FILE_NAME))
}

/// Records that install placed `binary` on PATH.
pub(super) fn record(binary: &Path) -> Result<()> {
    let binary = std::path::absolute(binary)
        .map_err(|err| Error::io("find the absolute path of", binary, err))?;
    let file = record_file()
        .ok_or_else(|| Error::Failed("no home folder to keep the install record in".into()))?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    // Private like every file in the state folder, and never written through a link.
    let folder = crate::engine::files::Dir::create_all(dir, 0o700).map_err(|err| {
        Error::io(
            "create the user's state folder",
            dir,
            std::io::Error::from(err),
        )
    })?;
    folder
        .write_atomic(
            FILE_NAME,
            format!("{}\n", binary.display()).as_bytes(),
            0o600,
            None,
        )
        .map_err(|err| Error::io("record the copy on PATH", &file, err))
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
    crate::program::find("ralph-hook")
}

pub(super) use super::plugin::version_of;

/// This binary's own `--version` line.
pub(super) fn own_version() -> String {
    format!("ralph-hook {}", env!("CARGO_PKG_VERSION"))
}
