//! The man pages `install/install.sh` writes (`ralph-hook man --dir DIR`). The script
//! tells `install` the folder (`--man-pages DIR`); the record in the user's state folder
//! lets `uninstall --purge` remove exactly ralph-hook's own pages there, never another
//! program's page in the same folder.

use std::path::{Path, PathBuf};

use super::plan::{self, Change, Content, Plan};
use crate::engine::ownership;
use crate::error::{Error, Result};

/// The record's file name in the user's state folder.
const FILE_NAME: &str = "man-pages";

/// Where the record lives: `<user state folder>/man-pages`.
pub(super) fn record_file() -> Option<PathBuf> {
    ownership::user_state_dir().map(|dir| dir.join(FILE_NAME))
}

/// Plans recording that install.sh wrote the man pages into `dir`.
pub(super) fn plan_record(dir: &Path) -> Result<Plan> {
    let dir =
        std::path::absolute(dir).map_err(|err| Error::io("find the absolute path of", dir, err))?;
    let file = record_file()
        .ok_or_else(|| Error::Failed("no home folder to keep the install record in".into()))?;
    let mut plan = Plan::default();
    if let Some(parent) = file.parent() {
        for missing in plan::missing_dirs(parent) {
            plan.create_dir(missing);
        }
    }
    plan.push(Change {
        before: plan::read(&file, false)?,
        after: Content::text(format!("{}\n", dir.display())),
        path: file,
        follow_links: false,
        backup: false,
        mode: 0o644,
        summary: "record where the man pages are (`ralph-hook uninstall --purge` removes them)"
            .into(),
    });
    Ok(plan)
}

/// The folder install.sh wrote the man pages into, if it recorded one.
pub(super) fn recorded() -> Option<PathBuf> {
    let text = std::fs::read_to_string(record_file()?).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// ralph-hook's own pages in `dir`: `ralph-hook.1` and `ralph-hook-*.1`, regular files
/// whose title line is ralph-hook's (`.TH ralph-hook…`), sorted.
pub(super) fn own_pages(dir: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| is_own_page(path))
        .collect();
    pages.sort();
    pages
}

fn is_own_page(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let named = name == "ralph-hook.1" || (name.starts_with("ralph-hook-") && name.ends_with(".1"));
    let regular = path.symlink_metadata().is_ok_and(|meta| meta.is_file());
    named
        && regular
        && std::fs::read_to_string(path).is_ok_and(|text| {
            text.lines()
                .take(5)
                .any(|line| line.starts_with(".TH ralph-hook"))
        })
}

/// Plans removing the recorded folder's pages of ralph-hook and the record.
pub(super) fn plan_removal(plan: &mut Plan) -> Result<()> {
    if let Some(dir) = recorded() {
        for page in own_pages(&dir) {
            let before = plan::read(&page, false)?;
            plan.push(Change::removal(
                &page,
                before,
                "remove a man page install/install.sh wrote",
            ));
        }
    }
    if let Some(file) = record_file().filter(|file| file.is_file()) {
        let before = plan::read(&file, false)?;
        plan.push(Change::removal(
            &file,
            before,
            "remove the record of the man pages",
        ));
    }
    Ok(())
}
