//! Loops in git worktrees (issue 23): the git plumbing behind `run --worktree NAME`,
//! `start --worktree NAME` and `ralph-hook worktrees`.
//!
//! A loop's worktree lives beside the repository, at `<parent>/<repo>.ralph/NAME`, on a
//! new branch `ralph/NAME` that starts at the current HEAD and tracks the branch checked
//! out there (its base: `git status` in the worktree says how far ahead it is). Nothing
//! here deletes work: [`remove`] takes only a worktree whose branch is merged into its
//! base and that has no uncommitted change, and git itself refuses a dirty one.
//!
//! Every git run is hardened ([`git`]): the repository is hostile input.

pub(crate) mod git;
pub(crate) mod name;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use git::{CHECKOUT_DEADLINE, Git};

/// The prefix of every loop branch.
pub(crate) const BRANCH_PREFIX: &str = "ralph/";

/// A worktree [`create`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Created {
    /// Its folder (canonical).
    pub(crate) path: PathBuf,
    /// Its branch, `ralph/NAME`.
    pub(crate) branch: String,
    /// The branch it started from and tracks.
    pub(crate) base: String,
}

/// One loop worktree of a repository, as `ralph-hook worktrees` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its folder.
    pub(crate) path: PathBuf,
    /// Its branch, `ralph/NAME`.
    pub(crate) branch: String,
    /// The branch it tracks (`None`: no upstream, or it is gone).
    pub(crate) base: Option<String>,
    /// Commits on the branch that the base does not have.
    pub(crate) ahead: Option<u32>,
    /// Whether the branch is merged into the base.
    pub(crate) merged: bool,
    /// Uncommitted changes (untracked files count; ignored ones do not); `None` when
    /// the folder is gone or git could not look.
    pub(crate) changes: Option<u32>,
    /// git keeps it locked (`git worktree lock`).
    pub(crate) locked: bool,
}

/// The folder of the loop worktree `name` of the repository whose main worktree is
/// `root`: `<parent>/<repo>.ralph/<name>`.
pub(crate) fn place(root: &Path, name: &str) -> Result<PathBuf> {
    let (Some(parent), Some(repo)) = (root.parent(), root.file_name()) else {
        return Err(Error::usage(format!(
            "{} has no parent folder to hold its worktrees",
            root.display()
        )));
    };
    let mut folder = repo.to_os_string();
    folder.push(".ralph");
    Ok(parent.join(folder).join(name))
}

/// The repository of `workspace`: git for it and its main worktree's top level.
/// `workspace` must be a repository's top level (a main worktree or another worktree).
pub(crate) fn repository(workspace: &Path) -> Result<(Git, PathBuf)> {
    let not_repo = || {
        Error::usage(format!(
            "{} is not a git repository (no .git there): a loop worktree is made from a repository's top level; pass `--workspace` the folder that holds `.git`, or run `git init` and commit first",
            workspace.display()
        ))
    };
    if workspace.join(".git").symlink_metadata().is_err() {
        return Err(not_repo());
    }
    let git = Git::for_repo(workspace).ok_or_else(|| {
        Error::Failed("no git on an absolute PATH entry: install git (ralph-hook never runs a git from a relative PATH entry)".into())
    })?;
    let top = git.run(
        workspace,
        &["rev-parse", "--show-toplevel"],
        git::QUERY_DEADLINE,
    )?;
    if !top.success {
        return Err(not_repo());
    }
    let common = git.ok(
        workspace,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        "find the repository",
    )?;
    let common = PathBuf::from(common.text());
    let root = match (common.file_name(), common.parent()) {
        (Some(name), Some(parent)) if name == ".git" => parent.to_path_buf(),
        _ => {
            return Err(Error::usage(format!(
                "the repository of {} keeps its git folder at {}, not in a `.git` of a main worktree (a bare repository?): make the worktree with git itself",
                workspace.display(),
                common.display()
            )));
        }
    };
    let root =
        std::fs::canonicalize(&root).map_err(|e| Error::io("resolve the repository", &root, e))?;
    Ok((git, root))
}

/// Makes the loop worktree `name` of `workspace`'s repository: the branch `ralph/NAME`
/// from the current HEAD, tracking the branch checked out, at [`place`].
pub(crate) fn create(workspace: &Path, name: &str) -> Result<Created> {
    let name = name::check(name)?;
    let (git, root) = repository(workspace)?;
    let head = git.run(
        workspace,
        &["symbolic-ref", "-q", "--short", "HEAD"],
        git::QUERY_DEADLINE,
    )?;
    if !head.success {
        return Err(Error::usage(format!(
            "HEAD in {} is detached: check out the branch the loop's work should merge into (`git switch main`), then try again",
            workspace.display()
        )));
    }
    let base = head.text();
    let commit = git.run(
        workspace,
        &["rev-parse", "--verify", "-q", "HEAD^{commit}"],
        git::QUERY_DEADLINE,
    )?;
    if !commit.success {
        return Err(Error::usage(format!(
            "{base} in {} has no commit yet: commit once, then start the loop in a worktree",
            workspace.display()
        )));
    }
    let branch = format!("{BRANCH_PREFIX}{name}");
    let full = format!("refs/heads/{branch}");
    let valid = git.run(
        workspace,
        &["check-ref-format", full.as_str()],
        git::QUERY_DEADLINE,
    )?;
    if !valid.success {
        return Err(Error::usage(format!(
            "--worktree {name}: git does not take `{branch}` as a branch name; pick another name"
        )));
    }
    let exists = git.run(
        workspace,
        &["rev-parse", "--verify", "-q", full.as_str()],
        git::QUERY_DEADLINE,
    )?;
    if exists.success {
        return Err(Error::usage(format!(
            "the branch {branch} exists already in {}: pick another name, or look at it with `ralph-hook worktrees` (`git branch -d {branch}` removes it once merged)",
            root.display()
        )));
    }
    let path = place(&root, name)?;
    if path.symlink_metadata().is_ok() {
        return Err(Error::usage(format!(
            "{} exists already: pick another name, or look at it with `ralph-hook worktrees`",
            path.display()
        )));
    }
    let holder = path.parent().unwrap_or(&root);
    match holder.symlink_metadata() {
        Ok(meta) if !meta.is_dir() => {
            return Err(Error::Failed(format!(
                "{} is not a folder (a link?): ralph-hook keeps loop worktrees in a real folder there; move it away",
                holder.display()
            )));
        }
        Ok(_) => {}
        Err(_) => std::fs::create_dir(holder)
            .map_err(|e| Error::io("make the folder of loop worktrees", holder, e))?,
    }
    let path_arg = path.as_os_str().to_os_string();
    let out = git.run(
        workspace,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--track".as_ref(),
            "-b".as_ref(),
            branch.as_ref(),
            path_arg.as_os_str(),
            base.as_ref(),
        ] as &[&std::ffi::OsStr],
        CHECKOUT_DEADLINE,
    )?;
    if !out.success {
        return Err(Error::Failed(format!(
            "git could not make the worktree {} on {branch}: {}",
            path.display(),
            out.stderr
        )));
    }
    let path =
        std::fs::canonicalize(&path).map_err(|e| Error::io("resolve the worktree", &path, e))?;
    Ok(Created { path, branch, base })
}

/// Which paths `git status` lists are not the user's work (ralph-hook's own state files).
pub(crate) type NotWork = fn(&[u8]) -> bool;

/// Every loop worktree (branch `ralph/…`) of `workspace`'s repository, its changes
/// counted without the paths `not_work` names.
pub(crate) fn list(workspace: &Path, not_work: NotWork) -> Result<(PathBuf, Vec<Entry>)> {
    let (git, root) = repository(workspace)?;
    let out = git.ok(
        &root,
        &["worktree", "list", "--porcelain", "-z"],
        "list the worktrees",
    )?;
    let mut entries = Vec::new();
    for record in records(&out.stdout) {
        let Some(branch) = record.branch.strip_prefix("refs/heads/") else {
            continue;
        };
        if !branch.starts_with(BRANCH_PREFIX) {
            continue;
        }
        entries.push(look(
            &git,
            &root,
            record.path,
            branch.to_string(),
            record.locked,
            not_work,
        )?);
    }
    Ok((root, entries))
}

/// What git knows of one worktree.
fn look(
    git: &Git,
    root: &Path,
    path: PathBuf,
    branch: String,
    locked: bool,
    not_work: NotWork,
) -> Result<Entry> {
    let full = format!("refs/heads/{branch}");
    let upstream = git
        .run(
            root,
            &[
                "for-each-ref",
                "--format=%(upstream)%00%(upstream:short)",
                full.as_str(),
            ],
            git::QUERY_DEADLINE,
        )?
        .success_text();
    let base = upstream.as_deref().and_then(|text| text.split_once('\0'));
    let (ahead, merged) = match base {
        Some((base_ref, _)) => {
            let range = format!("{base_ref}..{full}");
            let ahead = git
                .run(
                    root,
                    &["rev-list", "--count", range.as_str()],
                    git::QUERY_DEADLINE,
                )?
                .success_text()
                .and_then(|n| n.parse().ok());
            let merged = git
                .run(
                    root,
                    &["merge-base", "--is-ancestor", full.as_str(), base_ref],
                    git::QUERY_DEADLINE,
                )?
                .success;
            (ahead, merged)
        }
        None => (None, false),
    };
    let base = base.map(|(_, short)| short.to_string());
    let changes = if path.is_dir() {
        let git_here = Git::for_repo(&path).unwrap_or_else(|| git.clone());
        let status = git_here.run(
            &path,
            &["status", "--porcelain", "-z", "--untracked-files=all"],
            git::QUERY_DEADLINE,
        )?;
        status
            .success
            .then(|| count_status(&status.stdout, not_work))
    } else {
        None
    };
    Ok(Entry {
        path,
        branch,
        base,
        ahead,
        merged,
        changes,
        locked,
    })
}

/// Removes the loop worktree `entry` and its branch: only one whose branch is merged
/// into its base and that has no uncommitted change ([`keep_reason`] says why not);
/// `git worktree remove` without `--force` refuses a dirty one again, and `git branch
/// -d` a branch not merged into its upstream.
pub(crate) fn remove(root: &Path, entry: &Entry) -> Result<()> {
    if let Some(why) = keep_reason(entry) {
        return Err(Error::Failed(format!(
            "{} is kept: {why}",
            entry.path.display()
        )));
    }
    let git = Git::for_repo(root)
        .ok_or_else(|| Error::Failed("no git on an absolute PATH entry".into()))?;
    let path = entry.path.as_os_str().to_os_string();
    let out = git.run(
        root,
        &["worktree".as_ref(), "remove".as_ref(), path.as_os_str()] as &[&std::ffi::OsStr],
        CHECKOUT_DEADLINE,
    )?;
    if !out.success {
        return Err(Error::Failed(format!(
            "git kept {}: {}",
            entry.path.display(),
            out.stderr
        )));
    }
    git.ok(
        root,
        &["branch", "-d", entry.branch.as_str()],
        "delete the merged branch",
    )?;
    Ok(())
}

/// Why `entry` must stay (its work is not all in its base), or `None` when removing it
/// loses nothing. A loop still running in it is the caller's to check.
pub(crate) fn keep_reason(entry: &Entry) -> Option<String> {
    if entry.locked {
        return Some("git keeps it locked (`git worktree unlock` first)".into());
    }
    let Some(base) = &entry.base else {
        return Some(format!(
            "{} tracks no base branch, so nothing says where its work went",
            entry.branch
        ));
    };
    let Some(changes) = entry.changes else {
        return Some("its folder is gone or git could not look at it (`git worktree prune` forgets a folder that is gone)".into());
    };
    if !entry.merged {
        let ahead = entry
            .ahead
            .map_or_else(|| "commits".to_string(), |n| plural(n, "commit"));
        return Some(format!("{ahead} not merged into {base}"));
    }
    if changes > 0 {
        return Some(format!("{} not committed", plural(changes, "change")));
    }
    None
}

/// `1 commit`, `2 commits`.
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Entries in `git status --porcelain -z` (`XY path`), minus the paths `not_work` names:
/// NUL-separated, a rename's record followed by its source path (not a change of its own).
fn count_status(out: &[u8], not_work: NotWork) -> u32 {
    let mut count = 0;
    let mut skip = false;
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        if skip {
            skip = false;
            continue;
        }
        if matches!(record.first(), Some(b'R' | b'C')) {
            skip = true;
        }
        if !not_work(record.get(3..).unwrap_or_default()) {
            count += 1;
        }
    }
    count
}

/// One record of `git worktree list --porcelain -z`.
#[derive(Debug, Default)]
struct Record {
    path: PathBuf,
    branch: String,
    locked: bool,
}

/// The records of `git worktree list --porcelain -z`: NUL-ended lines, an empty one
/// between records.
fn records(out: &[u8]) -> Vec<Record> {
    let mut all = Vec::new();
    let mut current: Option<Record> = None;
    for line in out.split(|b| *b == 0) {
        if line.is_empty() {
            all.extend(current.take());
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if let Some(path) = path_of(line) {
            all.extend(current.take());
            current = Some(Record {
                path,
                ..Record::default()
            });
        } else if let (Some(record), Some(branch)) =
            (current.as_mut(), text.strip_prefix("branch "))
        {
            record.branch = branch.to_string();
        } else if let (Some(record), true) = (current.as_mut(), text.starts_with("locked")) {
            record.locked = true;
        }
    }
    all.extend(current);
    all
}

/// The path of a `worktree <path>` line, byte for byte.
fn path_of(line: &[u8]) -> Option<PathBuf> {
    let rest = line.strip_prefix(b"worktree ")?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(rest)))
    }
    #[cfg(not(unix))]
    {
        Some(PathBuf::from(String::from_utf8_lossy(rest).into_owned()))
    }
}

impl git::Output {
    /// Standard output as trimmed text when git succeeded and printed something.
    fn success_text(&self) -> Option<String> {
        let text = self.text();
        (self.success && !text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_is_beside_the_repository() {
        assert_eq!(
            place(Path::new("/src/proj"), "parser").unwrap(),
            PathBuf::from("/src/proj.ralph/parser")
        );
    }

    #[test]
    fn worktree_records_are_parsed_with_their_branch_and_lock() {
        let out = b"worktree /r\0HEAD abc\0branch refs/heads/main\0\0worktree /r.ralph/a b\0HEAD def\0branch refs/heads/ralph/a\0locked\0\0worktree /d\0HEAD 123\0detached\0\0";
        let all = records(out);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].path, PathBuf::from("/r.ralph/a b"));
        assert_eq!(all[1].branch, "refs/heads/ralph/a");
        assert!(all[1].locked && !all[0].locked);
        assert_eq!(all[2].branch, "");
    }

    #[test]
    fn a_rename_counts_once() {
        let none: NotWork = |_| false;
        assert_eq!(count_status(b"R  new\0old\0?? x\0 M y\0", none), 3);
        assert_eq!(count_status(b"", none), 0);
        let own: NotWork = |path| path.starts_with(b".codex/");
        assert_eq!(
            count_status(b"?? .codex/ralph-loop-state.json\0?? x\0", own),
            1
        );
    }

    #[test]
    fn work_not_in_the_base_keeps_a_worktree() {
        let entry = Entry {
            path: "/r.ralph/a".into(),
            branch: "ralph/a".into(),
            base: Some("main".into()),
            ahead: Some(0),
            merged: true,
            changes: Some(0),
            locked: false,
        };
        assert_eq!(keep_reason(&entry), None);
        let unmerged = Entry {
            merged: false,
            ahead: Some(2),
            ..entry.clone()
        };
        assert_eq!(
            keep_reason(&unmerged).unwrap(),
            "2 commits not merged into main"
        );
        let dirty = Entry {
            changes: Some(1),
            ..entry.clone()
        };
        assert_eq!(keep_reason(&dirty).unwrap(), "1 change not committed");
        let gone = Entry {
            changes: None,
            ..entry.clone()
        };
        assert!(keep_reason(&gone).unwrap().contains("folder is gone"));
        let no_base = Entry {
            base: None,
            ..entry.clone()
        };
        assert!(keep_reason(&no_base).unwrap().contains("no base"));
        let locked = Entry {
            locked: true,
            ..entry
        };
        assert!(keep_reason(&locked).unwrap().contains("locked"));
    }
}
