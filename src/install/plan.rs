//! The change plan: every file an install or uninstall touches, computed in full before
//! anything is written, printed (with a unified diff under `--dry-run`), then applied
//! all-or-nothing — backups first, each new file staged beside its target, then renamed
//! into place, with a roll-back if any step fails.
//!
//! This is the installer's only writer: the hook files of each host, the record of the
//! copy on PATH, `--purge`'s removals and (in a second phase, once the hooks are written
//! and Codex can hash them) the trust entries are all changes in a plan, so `--dry-run`
//! shows each of them and one apply backs up, writes and undoes them all
//! (tests/it/architecture.rs fails if another installer module touches a file).

use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::error::{Error, Result};
use crate::shell;

/// What a path holds, before or after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Content {
    Missing,
    /// A regular file with these bytes.
    Bytes(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(PathBuf),
    /// A folder and everything in it; only ever what a removal takes away (`--purge`'s
    /// loop records), set aside whole until the plan has applied, so it can come back.
    Folder,
}

impl Content {
    /// A text file.
    pub(super) fn text(text: impl Into<String>) -> Self {
        Content::Bytes(text.into().into_bytes())
    }
}

/// One path to change.
#[derive(Debug, Clone)]
pub(super) struct Change {
    /// The path as the user knows it.
    pub path: PathBuf,
    /// What it holds now.
    pub before: Content,
    /// What it will hold.
    pub after: Content,
    /// Edit the file a symlink points at (config files) instead of replacing the link
    /// (the installed binary, which may be a symlink from `--mode symlink`).
    pub follow_links: bool,
    /// Keep `<path>.ralph-hook.bak` before the first edit.
    pub backup: bool,
    /// Permission bits for a new file (an existing file keeps its own).
    pub mode: u32,
    /// One line saying what changes, for the report.
    pub summary: String,
}

impl Change {
    /// An edit of a user's config file: follows symlinks to the real file, keeps a backup
    /// before the first edit, and creates a missing file as 0644. `None` means missing.
    pub(super) fn config_edit(
        path: PathBuf,
        before: Option<String>,
        after: Option<String>,
        summary: impl Into<String>,
    ) -> Self {
        Change {
            path,
            before: before.map_or(Content::Missing, Content::text),
            after: after.map_or(Content::Missing, Content::text),
            follow_links: true,
            backup: true,
            mode: 0o644,
            summary: summary.into(),
        }
    }

    /// Removing a file or link ralph-hook itself wrote (no backup: it is not the user's).
    pub(super) fn removal(path: &Path, before: Content, summary: impl Into<String>) -> Self {
        Change {
            path: path.to_path_buf(),
            before,
            after: Content::Missing,
            follow_links: false,
            backup: false,
            mode: 0o644,
            summary: summary.into(),
        }
    }

    /// Removing a folder ralph-hook made, with everything in it.
    pub(super) fn folder_removal(path: &Path, summary: impl Into<String>) -> Self {
        Change {
            before: Content::Folder,
            ..Change::removal(path, Content::Missing, summary)
        }
    }

    /// Skips the backup (restoring a recorded original loses nothing).
    pub(super) fn without_backup(mut self) -> Self {
        self.backup = false;
        self
    }
}

/// Everything one command will change.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// The changes, in the order they are reported and applied.
    pub changes: Vec<Change>,
    /// Folders to create first (parents before children).
    pub create_dirs: Vec<PathBuf>,
    /// Folders to remove afterwards when empty (children before parents).
    pub remove_dirs: Vec<PathBuf>,
    /// Those of `create_dirs` that are the user's private state folder: made 0700, so
    /// no other user can read or plant a record there.
    pub private_dirs: Vec<PathBuf>,
}

/// Creates one folder with these permission bits (the umask may clear more).
fn create_dir_with_mode(dir: &Path, mode: u32) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir)
}

/// Suffix of the backup kept beside a file before its first edit.
pub(super) const BACKUP_SUFFIX: &str = ".ralph-hook.bak";

/// Reads what a path holds. With `follow_links`, a symlink counts as the file it points at.
pub(super) fn read(path: &Path, follow_links: bool) -> Result<Content> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if is_missing(&err) => return Ok(Content::Missing),
        Err(err) => return Err(Error::io("read", path, err)),
    };
    if meta.file_type().is_symlink() && !follow_links {
        let target = std::fs::read_link(path).map_err(|err| Error::io("read", path, err))?;
        return Ok(Content::Symlink(target));
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Content::Bytes(bytes)),
        Err(err) if is_missing(&err) => Ok(Content::Missing),
        Err(err) => Err(Error::io("read", path, err)),
    }
}

/// Not there: no such file, or a parent that is a file (then writing fails later, with a
/// clear error, before anything changes).
fn is_missing(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Reads a text file (missing → `None`); a file that is not UTF-8 is an input error.
pub(super) fn read_text(path: &Path) -> Result<Option<String>> {
    match read(path, true)? {
        Content::Missing => Ok(None),
        Content::Bytes(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Error::input(
                path.display().to_string(),
                "not UTF-8 text (nothing was changed)",
            )
        }),
        Content::Symlink(_) | Content::Folder => Ok(None),
    }
}

/// The folders missing on the way to `dir`, outermost first.
pub(super) fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|ancestor| !ancestor.as_os_str().is_empty() && !ancestor.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

impl Plan {
    /// Adds everything `other` changes after what this plan changes, so both apply as one.
    pub(super) fn extend(&mut self, other: Plan) {
        self.changes.extend(other.changes);
        for dir in other.create_dirs {
            self.create_dir(dir);
        }
        for dir in other.private_dirs {
            self.create_private_dir(dir);
        }
        self.remove_dirs.extend(other.remove_dirs);
    }

    /// Adds a change unless it changes nothing.
    pub(super) fn push(&mut self, change: Change) {
        if change.before != change.after {
            self.changes.push(change);
        }
    }

    /// Adds a folder to create, once.
    pub(super) fn create_dir(&mut self, dir: PathBuf) {
        if !self.create_dirs.contains(&dir) {
            self.create_dirs.push(dir);
        }
    }

    /// Adds a folder to create, once, readable and writable by the user alone.
    pub(super) fn create_private_dir(&mut self, dir: PathBuf) {
        self.create_dir(dir.clone());
        if !self.private_dirs.contains(&dir) {
            self.private_dirs.push(dir);
        }
    }

    /// True when applying the plan would change nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.create_dirs.is_empty()
            && self.remove_dirs.iter().all(|dir| !is_empty_dir(dir))
    }

    /// Prints one line per change; with `diffs`, a unified diff of each text file.
    pub(super) fn print(&self, out: &mut dyn Write, diffs: bool) -> std::io::Result<()> {
        for dir in &self.create_dirs {
            writeln!(out, "  {}: create folder", dir.display())?;
        }
        for change in &self.changes {
            writeln!(out, "  {}: {}", change.path.display(), change.summary)?;
            if diffs {
                write_diff(out, change)?;
            }
        }
        for dir in &self.remove_dirs {
            if is_empty_dir(dir) {
                writeln!(out, "  {}: remove empty folder", dir.display())?;
            }
        }
        Ok(())
    }

    /// Refuses a plan that would replace a config file the user cannot write: a file
    /// made read-only (a dotfiles manager does that on purpose) would otherwise be
    /// replaced anyway, since renaming over it needs only a writable folder.
    pub(super) fn check_writable(&self) -> Result<()> {
        for change in self.changes.iter().filter(|change| change.follow_links) {
            if matches!(change.before, Content::Bytes(_)) {
                check_writable(&resolve_links(&change.path)?, &change.path)?;
            }
        }
        Ok(())
    }

    /// Applies the plan: all changes, or none of them.
    pub(super) fn apply(&self) -> Result<()> {
        self.check_writable()?;
        let mut undo = Undo::default();
        match self.try_apply(&mut undo) {
            Ok(()) => {
                let set_aside = undo.discard();
                let left = set_aside
                    .iter()
                    .filter_map(|(aside, target)| {
                        std::fs::remove_dir_all(aside).err().map(|err| {
                            format!(
                                "{} was removed, but its set-aside copy {} could not be deleted ({err}); delete it by hand",
                                target.display(),
                                aside.display()
                            )
                        })
                    })
                    .collect::<Vec<_>>();
                for dir in &self.remove_dirs {
                    if is_empty_dir(dir) {
                        let _ = std::fs::remove_dir(dir);
                    }
                }
                if left.is_empty() {
                    Ok(())
                } else {
                    Err(Error::Failed(left.join("\n")))
                }
            }
            Err(err) => {
                undo.roll_back();
                Err(err.with_hint("nothing was changed; fix the cause and run the command again"))
            }
        }
    }

    fn try_apply(&self, undo: &mut Undo) -> Result<()> {
        for dir in &self.create_dirs {
            if !dir.exists() {
                let mode = if self.private_dirs.contains(dir) {
                    0o700
                } else {
                    0o755
                };
                create_dir_with_mode(dir, mode)
                    .map_err(|err| io_error("create the folder", dir, err))?;
                undo.created_dirs.push(dir.clone());
            }
        }
        let mut staged = Vec::new();
        for change in &self.changes {
            let target = if change.follow_links {
                resolve_links(&change.path)?
            } else {
                change.path.clone()
            };
            if change.backup && matches!(change.before, Content::Bytes(_)) {
                let backup = backup_path(&change.path);
                if std::fs::symlink_metadata(&backup).is_err() {
                    fs::copy(&target, &backup)
                        .map_err(|err| io_error("keep a backup", &backup, err))?;
                    undo.created_files.push(backup);
                }
            }
            let temp = match &change.after {
                Content::Missing | Content::Folder => None,
                Content::Bytes(bytes) => {
                    let temp = temp_path(&target);
                    undo.created_files.push(temp.clone());
                    write_file(&temp, bytes, &target, change.mode)?;
                    Some(temp)
                }
                Content::Symlink(link_target) => {
                    let temp = temp_path(&target);
                    undo.created_files.push(temp.clone());
                    make_symlink(link_target, &temp)?;
                    Some(temp)
                }
            };
            staged.push((change, target, temp));
        }
        for (change, target, temp) in staged {
            match temp {
                Some(temp) => {
                    fs::rename(&temp, &target).map_err(|err| io_error("write", &target, err))?;
                }
                None if change.before == Content::Folder => {
                    if std::fs::symlink_metadata(&target).is_err() {
                        continue;
                    }
                    let aside = temp_path(&target);
                    fs::rename(&target, &aside).map_err(|err| io_error("remove", &target, err))?;
                    undo.set_aside.push((aside, target));
                    continue;
                }
                None => match std::fs::remove_file(&target) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(Error::io("remove", &target, err)),
                },
            }
            undo.committed
                .push((target, change.before.clone(), change.mode));
        }
        Ok(())
    }
}

/// What to take back if a later step fails.
#[derive(Default)]
struct Undo {
    created_dirs: Vec<PathBuf>,
    created_files: Vec<PathBuf>,
    committed: Vec<(PathBuf, Content, u32)>,
    /// Folders being removed, renamed aside: (where they are now, where they were).
    set_aside: Vec<(PathBuf, PathBuf)>,
}

impl Undo {
    /// Success: the staged temp files were renamed away; what is left is deleting the
    /// folders set aside, which this returns.
    fn discard(self) -> Vec<(PathBuf, PathBuf)> {
        self.set_aside
    }

    fn roll_back(self) {
        for (aside, target) in self.set_aside.into_iter().rev() {
            let _ = std::fs::rename(aside, target);
        }
        for (target, before, mode) in self.committed.into_iter().rev() {
            let _ = std::fs::remove_file(&target);
            match before {
                Content::Missing | Content::Folder => {}
                Content::Bytes(bytes) => {
                    let _ = write_file(&target, &bytes, &target, mode);
                }
                Content::Symlink(link_target) => {
                    let _ = make_symlink(&link_target, &target);
                }
            }
        }
        for file in self.created_files.into_iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.created_dirs.into_iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Refuses the config file at `path` (followed through links) when it exists and is
/// read-only or not writable by this user.
pub(super) fn check_file_writable(path: &Path) -> Result<()> {
    check_writable(&resolve_links(path)?, path)
}

/// Refuses `target` (reached as `path`) when it is read-only or not writable by this user.
/// Root may write a 0444 file, so the permission bits are judged first.
fn check_writable(target: &Path, path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    let why = if meta.permissions().readonly() {
        format!("is read-only ({})", describe_mode(&meta))
    } else {
        match std::fs::OpenOptions::new().write(true).open(target) {
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                format!("is not writable by you ({})", describe_mode(&meta))
            }
            Err(_) => return Ok(()),
        }
    };
    let shown = if target == path {
        path.display().to_string()
    } else {
        format!(
            "{} (the target of the link {})",
            target.display(),
            path.display()
        )
    };
    Err(Error::input(
        shown,
        format!(
            "{why}, so ralph-hook leaves it alone (nothing was changed). If you made it read-only on purpose, or a dotfiles manager did, add the entries in its source (`--dry-run` prints them); otherwise make it writable (chmod u+w {}) and run the command again",
            shell::word(target)
        ),
    ))
}

#[cfg(unix)]
fn describe_mode(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::PermissionsExt;
    format!("mode {:04o}", meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn describe_mode(_meta: &std::fs::Metadata) -> String {
    "read-only attribute".to_owned()
}

/// `<path>.ralph-hook.bak`, beside the path the user knows.
pub(super) fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// Follows symlinks to the file they name (which may not exist yet).
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)
                    .map_err(|err| io_error("follow the symlink", &current, err))?;
                current = match current.parent() {
                    Some(parent) => parent.join(target),
                    None => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::Failed(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.ralph-hook-tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` with the permissions of `like` if it exists, else `mode`.
fn write_file(path: &Path, bytes: &[u8], like: &Path, mode: u32) -> Result<()> {
    let mut file = fs::File::create(path).map_err(|err| io_error("write", path, err))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| Error::io("write", path, err))?;
    match std::fs::metadata(like) {
        Ok(meta) if like != path => fs::set_permissions(path, meta.permissions())
            .map_err(|err| io_error("set permissions of", path, err)),
        _ => set_mode(path, mode),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|err| io_error("set permissions of", path, err))
}

/// Elsewhere a new file keeps the default permissions.
#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link)
        .map_err(|err| Error::io("create the symlink", link, err))
}

#[cfg(not(unix))]
fn make_symlink(_target: &Path, link: &Path) -> Result<()> {
    Err(Error::usage(format!(
        "{}: --mode symlink needs a Unix system; use --mode copy",
        link.display()
    )))
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// An IO error with fs-err's message (which names the path) as its source.
fn io_error(action: &str, path: &Path, err: std::io::Error) -> Error {
    let kind = err.kind();
    let mut error = Error::io(action, path, std::io::Error::new(kind, root_cause(&err)));
    if kind == std::io::ErrorKind::PermissionDenied {
        error = error.with_hint("the folder is not writable by you; fix its permissions");
    }
    error
}

fn root_cause(err: &std::io::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => source.to_string(),
        None => err.to_string(),
    }
}

fn write_diff(out: &mut dyn Write, change: &Change) -> std::io::Result<()> {
    let old = describe_for_diff(&change.before);
    let new = describe_for_diff(&change.after);
    if change.before == Content::Folder {
        return writeln!(out, "    (a folder and everything in it; no diff)");
    }
    let (Some(old), Some(new)) = (old, new) else {
        return writeln!(out, "    (binary content; no diff)");
    };
    let name = change.path.display().to_string();
    let old_name = if change.before == Content::Missing {
        "/dev/null".to_owned()
    } else {
        format!("a{name}")
    };
    let new_name = if change.after == Content::Missing {
        "/dev/null".to_owned()
    } else {
        format!("b{name}")
    };
    let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str());
    write!(
        out,
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
    )?;
    if !old.is_empty() && !old.ends_with('\n') || !new.is_empty() && !new.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

fn describe_for_diff(content: &Content) -> Option<String> {
    match content {
        Content::Missing => Some(String::new()),
        Content::Bytes(bytes) => String::from_utf8(bytes.clone()).ok(),
        Content::Symlink(target) => Some(format!("symlink -> {}\n", target.display())),
        Content::Folder => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &Path, before: Content, after: Content) -> Change {
        Change {
            path: path.to_path_buf(),
            before,
            after,
            follow_links: true,
            backup: true,
            mode: 0o644,
            summary: "edit".into(),
        }
    }

    #[test]
    fn a_failing_change_leaves_every_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(&good, "old").unwrap();
        let bad = dir.path().join("no-such-folder").join("bad.json");
        let mut plan = Plan::default();
        plan.push(change(&good, Content::text("old"), Content::text("new")));
        plan.push(change(&bad, Content::Missing, Content::text("x")));
        assert!(plan.apply().is_err());
        assert_eq!(std::fs::read_to_string(&good).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no backup or temp file left: {names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_edited_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut plan = Plan::default();
        plan.push(change(
            &link,
            read(&link, true).unwrap(),
            Content::text("new"),
        ));
        plan.apply().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(backup_path(&link)).unwrap(), "old");
    }

    #[test]
    fn a_removed_folder_comes_back_whole_when_a_later_step_fails() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("workspaces");
        std::fs::create_dir_all(records.join("one")).unwrap();
        std::fs::write(records.join("one/state.json"), "{}").unwrap();
        let bad = dir.path().join("no-such-folder").join("bad.json");
        let mut plan = Plan::default();
        plan.push(Change::folder_removal(&records, "remove"));
        plan.push(change(&bad, Content::Missing, Content::text("x")));
        assert!(plan.apply().is_err());
        assert_eq!(
            std::fs::read_to_string(records.join("one/state.json")).unwrap(),
            "{}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "nothing set aside is left: {names:?}");

        let mut plan = Plan::default();
        plan.push(Change::folder_removal(&records, "remove"));
        plan.remove_dirs.push(dir.path().to_path_buf());
        plan.apply().unwrap();
        assert!(
            !dir.path().exists(),
            "the folder, then its emptied parent, went"
        );
    }

    #[test]
    fn a_backup_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "first").unwrap();
        for (before, after) in [("first", "second"), ("second", "third")] {
            let mut plan = Plan::default();
            plan.push(change(&file, Content::text(before), Content::text(after)));
            plan.apply().unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(backup_path(&file)).unwrap(),
            "first"
        );
    }
}
