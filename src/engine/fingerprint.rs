//! The workspace fingerprint of the no-progress brake: one value that changes whenever the
//! work in a git workspace changes, and stays put when nothing did.
//!
//! `git status --porcelain=v2` alone is not enough (issue 11): for a changed file it names
//! the HEAD and index objects, not the working-tree content, and for an untracked file only
//! its path, so a second edit to an already-modified or untracked file changed nothing in
//! it and real loops hit the brake. The fingerprint is the status (HEAD, branch, every
//! listed path with its index state) plus, for each listed path, the file's size,
//! modification and change times in nanoseconds, inode, device and mode (`lstat`, never
//! followed or opened). So it changes on any content change to a tracked or untracked
//! (not ignored) file, a new commit, a branch switch or a staged change, and costs one
//! `git status` plus one `lstat` per changed path, whatever the size of the repository or
//! of the files. A same-size rewrite within one filesystem timestamp tick of the previous
//! look is the one edit it cannot see; between two stops there is a whole model turn.
//!
//! git runs unsandboxed as the user, so it runs hardened (`Git`, the same switches as
//! the worktree plumbing): no fsmonitor, no hooks, no filter driver the repository's
//! config names (a `clean` driver runs on `git status` for a file whose stat changed), no
//! pager, no prompt, no optional locks, none of the caller's `GIT_*` variables, never
//! into a submodule (a submodule's repository, or the gitfile pointing at it, is the
//! agent's to write, and git would obey its config: a `filter.*.clean` driver is a
//! command), never where the workspace's own gitfile points into the workspace, found
//! on an absolute PATH entry only, and killed with its children at a deadline (a FIFO
//! named `.gitignore` would block it forever).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::agent::Agent;
use crate::engine::digest;
use crate::engine::visible;
use crate::engine::workspace::{
    self, CANCEL_REQUEST_FILE, HISTORY_FILE, LOCK_FILE, STATE_FILE, TEMP_PREFIX,
};
use crate::program;
use crate::worktree::git::Git;

/// How many of the most recently changed paths a loop's state remembers, to name the
/// path a later change touched. A bound, so a workspace with thousands of untracked files
/// does not grow the state file that every stop rewrites.
pub const REMEMBERED_PATHS: usize = 32;

/// A workspace as the brake sees it at one stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hex digest of everything below: two looks with the same digest saw the same work.
    pub digest: String,
    /// HEAD as `git status` names it: `<branch> <commit>` (`(detached)`, `(initial)` …).
    pub head: String,
    /// One mark per path `git status` listed, minus ralph-hook's own files, sorted by path.
    pub paths: Vec<PathMark>,
}

/// One listed path and what the fingerprint saw of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMark {
    /// The path relative to the workspace, as text (lossy for non-UTF-8 names).
    pub path: String,
    /// Digest of its status record and its file's metadata, as 16 hex digits.
    pub mark: String,
    /// Its file's change time in nanoseconds since the epoch (for a deleted file, its
    /// folder's): orders paths by how recently they changed. 0 when unknown.
    pub changed_ns: i64,
}

impl Fingerprint {
    /// Looks at `workspace`: `None` when it is not the top level of a git repository or
    /// git cannot run there.
    pub fn take(workspace: &Path) -> Option<Fingerprint> {
        // `.git` itself, not followed: a link there could lead git anywhere; a gitfile
        // into the workspace would lead it into the agent's own repository.
        if !workspace::git_dir_outside_agent_reach(workspace) {
            return None;
        }
        let output = git_status(workspace)?;
        Some(Fingerprint::from_status(workspace, &output))
    }

    /// Builds the fingerprint from the output of [`STATUS_ARGS`] run in `workspace`,
    /// reading each listed path's metadata.
    pub fn from_status(workspace: &Path, output: &[u8]) -> Fingerprint {
        let mut head_oid = "";
        let mut head_name = "";
        let mut paths = Vec::new();
        let mut records = output.split(|b| *b == 0);
        while let Some(record) = records.next() {
            let Some(kind) = record.first() else {
                continue;
            };
            let fields = match kind {
                b'#' => {
                    let text = std::str::from_utf8(record).unwrap_or("");
                    if let Some(oid) = text.strip_prefix("# branch.oid ") {
                        head_oid = oid;
                    } else if let Some(name) = text.strip_prefix("# branch.head ") {
                        head_name = name;
                    }
                    continue;
                }
                b'1' => 9,
                // A rename or copy: its original path follows as the next record.
                b'2' => 10,
                b'u' => 11,
                b'?' | b'!' => 2,
                _ => continue,
            };
            let Some(path) = record.splitn(fields, |b| *b == b' ').nth(fields - 1) else {
                continue;
            };
            let original = (*kind == b'2').then(|| records.next()).flatten();
            if is_own_file(path) {
                continue;
            }
            let (meta_hash, changed_ns) = metadata_mark(workspace, path);
            let mut hash = digest::fnv1a(record);
            if let Some(original) = original {
                hash = digest::fnv1a_more(hash, original);
            }
            hash = digest::fnv1a_more(hash, &meta_hash.to_le_bytes());
            paths.push(PathMark {
                path: String::from_utf8_lossy(path).into_owned(),
                mark: format!("{hash:016x}"),
                changed_ns,
            });
        }
        paths.sort_by(|a, b| a.path.cmp(&b.path));
        let head = format!("{head_name} {head_oid}");
        let mut hash = digest::fnv1a(head.as_bytes());
        for mark in &paths {
            hash = digest::fnv1a_more(hash, mark.path.as_bytes());
            hash = digest::fnv1a_more(hash, &[0]);
            hash = digest::fnv1a_more(hash, mark.mark.as_bytes());
        }
        Fingerprint {
            digest: format!("{hash:016x}"),
            head,
            paths,
        }
    }

    /// The paths a loop's state keeps for naming later changes: the
    /// [`REMEMBERED_PATHS`] most recently changed, path → mark.
    pub fn remembered_paths(&self) -> BTreeMap<String, String> {
        let mut recent: Vec<&PathMark> = self.paths.iter().collect();
        recent.sort_by(|a, b| b.changed_ns.cmp(&a.changed_ns).then(a.path.cmp(&b.path)));
        recent
            .into_iter()
            .take(REMEMBERED_PATHS)
            .map(|mark| (mark.path.clone(), mark.mark.clone()))
            .collect()
    }

    /// Names what changed since a look that saw HEAD as `head` and `paths` (as kept by
    /// [`Fingerprint::remembered_paths`]): a commit or branch switch, else the most
    /// recently changed path whose mark differs, else a path that left the list.
    pub fn change_since(&self, head: Option<&str>, paths: &BTreeMap<String, String>) -> String {
        let mut parts = Vec::new();
        let moved = head.is_some_and(|before| before != self.head);
        if let Some(before) = head.filter(|_| moved) {
            parts.push(head_change(before, &self.head));
        }
        let changed = self
            .paths
            .iter()
            .filter(|mark| paths.get(&mark.path) != Some(&mark.mark))
            .max_by(|a, b| a.changed_ns.cmp(&b.changed_ns).then(b.path.cmp(&a.path)));
        if let Some(mark) = changed {
            parts.push(printable(&mark.path));
        } else if let Some(gone) = paths.keys().filter(|_| !moved).find(|path| {
            self.paths
                .binary_search_by(|mark| mark.path.as_str().cmp(path))
                .is_err()
        }) {
            parts.push(format!(
                "{} (back to its committed state, or removed)",
                printable(gone)
            ));
        }
        if parts.is_empty() {
            "the workspace's git status".into()
        } else {
            parts.join(" and ")
        }
    }
}

/// `git status` as the fingerprint reads it: NUL-separated porcelain v2 records with the
/// branch header, every untracked file listed, no rename detection and no ahead/behind
/// count (both cost time and neither is work).
pub const STATUS_ARGS: [&str; 8] = [
    "status",
    "--porcelain=v2",
    "-z",
    "--branch",
    "--no-ahead-behind",
    "--untracked-files=all",
    "--no-renames",
    "--ignore-submodules=all",
];

/// Options that keep git from running anything a repository's files could name.
pub const HARDENING_ARGS: [&str; 12] = [
    "--no-pager",
    "--no-optional-locks",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.pager=cat",
    "-c",
    "submodule.recurse=false",
    "-c",
    "diff.ignoreSubmodules=all",
];

/// How long one git run may take before it is killed with its children, well inside
/// any host's hook timeout and the 10 s another command waits for the loop's lock.
pub const GIT_DEADLINE: Duration = Duration::from_secs(5);

/// Shortens [`GIT_DEADLINE`] (milliseconds), for tests of a git that hangs.
pub const GIT_DEADLINE_ENV: &str = "RALPH_HOOK_GIT_DEADLINE_MS";

/// The deadline of one git run: [`GIT_DEADLINE`], or shorter by [`GIT_DEADLINE_ENV`].
pub fn git_deadline() -> Duration {
    std::env::var(GIT_DEADLINE_ENV)
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(Duration::from_millis)
        .map_or(GIT_DEADLINE, |asked| asked.min(GIT_DEADLINE))
}

/// The hardened git command for `workspace`: `Git`'s (git from an absolute PATH entry,
/// every repository-named command switched off, each filter driver too, a clean `GIT_*`
/// environment, no stdin, no terminal prompt) plus the arguments above. `None` when no
/// absolute PATH entry holds git. Reading the filter drivers' names is one more git run
/// (`git config`), under the same deadline.
pub fn git_command(workspace: &Path) -> Option<Command> {
    let mut command = Git::for_repo_within(workspace, git_deadline())?.command(workspace);
    command.args(HARDENING_ARGS).stderr(Stdio::null());
    Some(command)
}

fn git_status(workspace: &Path) -> Option<Vec<u8>> {
    let mut command = git_command(workspace)?;
    program::output_within(command.args(STATUS_ARGS), git_deadline())
}

/// ralph-hook's own files in a workspace: the brake must not see its own writes (every
/// stop rewrites the state and appends to the history), nor does a task item's evidence
/// (an agent's `git add -A` commits the state file too).
pub(crate) fn is_own_file(path: &[u8]) -> bool {
    if path == CANCEL_REQUEST_FILE.as_bytes() {
        return true;
    }
    Agent::ALL.iter().any(|agent| {
        let Some(name) = path
            .strip_prefix(agent.state_dir_name().as_bytes())
            .and_then(|rest| rest.strip_prefix(b"/"))
        else {
            return false;
        };
        // The state, its temp files and set-aside copies, the history, the lock.
        [STATE_FILE, HISTORY_FILE, LOCK_FILE, TEMP_PREFIX]
            .iter()
            .any(|own| name.starts_with(own.as_bytes()))
    })
}

/// A path for a message: control characters escaped, at most 200 characters.
fn printable(path: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    for (count, c) in path.chars().enumerate() {
        if count == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else if visible::is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `main 1a2b…` → `main 3c4d…` in words.
fn head_change(before: &str, after: &str) -> String {
    let (before_name, _) = before.split_once(' ').unwrap_or((before, ""));
    let (after_name, after_oid) = after.split_once(' ').unwrap_or((after, ""));
    let short: String = after_oid.chars().take(7).collect();
    if before_name != after_name {
        format!("a switch to {after_name} ({short})")
    } else {
        format!("commit {short} on {after_name}")
    }
}

/// Digest of a path's metadata and its change time; a missing file hashes as missing
/// and takes its folder's change time (deleting a file changes its folder).
fn metadata_mark(workspace: &Path, path: &[u8]) -> (u64, i64) {
    let full = workspace.join(path_from_bytes(path));
    match full.symlink_metadata() {
        Ok(meta) => stat_mark(&meta),
        Err(_) => {
            let folder_ns = full
                .parent()
                .and_then(|folder| folder.symlink_metadata().ok())
                .map_or(0, |meta| stat_mark(&meta).1);
            (digest::fnv1a(b"missing"), folder_ns)
        }
    }
}

/// A path `git status` printed, as the platform spells it. One function with a body per
/// platform, so mutation testing on one platform does not mutate code it never builds.
fn path_from_bytes(bytes: &[u8]) -> std::path::PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        std::path::PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Digest of a file's metadata, and its change time in nanoseconds.
fn stat_mark(meta: &std::fs::Metadata) -> (u64, i64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let fields = [
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
            meta.ino(),
            meta.dev(),
            u64::from(meta.mode()),
        ];
        let hash = fields.iter().fold(digest::fnv1a(b"file"), |hash, field| {
            digest::fnv1a_more(hash, &field.to_le_bytes())
        });
        let changed = meta
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec());
        (hash, changed)
    }
    #[cfg(not(unix))]
    {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        let hash = digest::fnv1a_more(digest::fnv1a(b"file"), &meta.len().to_le_bytes());
        (digest::fnv1a_more(hash, &modified.to_le_bytes()), modified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    struct Repo {
        _temp: tempfile::TempDir,
        root: std::path::PathBuf,
    }

    impl Repo {
        fn new() -> Repo {
            let temp = tempfile::tempdir().unwrap();
            let root = temp.path().to_path_buf();
            let repo = Repo { _temp: temp, root };
            repo.git(&["init", "-q", "-b", "main"]);
            repo.write("work.txt", "start\n");
            repo.write("other.txt", "other\n");
            repo.git(&["add", "."]);
            repo.git(&["commit", "-qm", "init"]);
            repo
        }

        fn git(&self, args: &[&str]) {
            let out = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(&self.root)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", &self.root)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
        }

        fn write(&self, path: &str, text: &str) {
            let full = self.root.join(path);
            fs_err::create_dir_all(full.parent().unwrap()).unwrap();
            fs_err::write(full, text).unwrap();
        }

        fn append(&self, path: &str, text: &str) {
            use std::io::Write;
            let mut file = fs_err::OpenOptions::new()
                .append(true)
                .open(self.root.join(path))
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        fn look(&self) -> Fingerprint {
            Fingerprint::take(&self.root).expect("a git workspace has a fingerprint")
        }
    }

    /// Asserts that `change` moves the fingerprint, and returns the new one.
    #[track_caller]
    fn assert_changes(repo: &Repo, what: &str, change: impl FnOnce(&Repo)) -> Fingerprint {
        let before = repo.look();
        change(repo);
        let after = repo.look();
        assert_ne!(before.digest, after.digest, "{what} left the fingerprint");
        after
    }

    #[test]
    fn a_filter_driver_in_the_repository_config_never_runs_on_the_brakes_git_status() {
        let repo = Repo::new();
        repo.write(".gitattributes", "* filter=evil\n");
        repo.git(&["add", ".gitattributes"]);
        repo.git(&["commit", "-qm", "attributes"]);
        let outside = tempfile::tempdir().unwrap();
        let marker = outside.path().join("ran");
        let driver = format!("sh -c 'echo ran >> {}; cat'", marker.display());
        repo.git(&["config", "filter.evil.clean", &driver]);
        repo.git(&["config", "filter.evil.process", &driver]);
        repo.git(&["config", "filter.evil.required", "true"]);
        // A stat change makes git status read (and so clean) the file.
        repo.append("work.txt", "more\n");
        let seen = repo.look();
        assert!(!seen.paths.is_empty());
        repo.look();
        assert!(!marker.exists(), "the repository's filter driver ran");
        // The test bites: git without the switches does run it.
        let _ = Command::new("git")
            .args(["hash-object", "work.txt"])
            .current_dir(&repo.root)
            .env("HOME", &repo.root)
            .output();
        assert!(marker.exists(), "the driver would have run");
    }

    #[test]
    fn nothing_changed_means_the_same_fingerprint() {
        let repo = Repo::new();
        repo.append("work.txt", "1\n");
        repo.write("new.txt", "n\n");
        assert_eq!(repo.look(), repo.look());
    }

    #[test]
    fn every_edit_of_an_already_modified_tracked_file_is_a_change() {
        let repo = Repo::new();
        for i in 0..4 {
            assert_changes(&repo, "appending to work.txt", |r| {
                r.append("work.txt", &format!("{i}\n"));
            });
        }
    }

    #[test]
    fn every_edit_of_an_untracked_file_is_a_change() {
        let repo = Repo::new();
        assert_changes(&repo, "a new file", |r| r.write("notes/new.txt", "a\n"));
        assert_changes(&repo, "a second edit", |r| r.append("notes/new.txt", "b\n"));
    }

    #[test]
    fn a_same_size_rewrite_is_a_change() {
        let repo = Repo::new();
        repo.write("work.txt", "aaaa\n");
        let before = repo.look();
        // A new file under the same name (an editor's save): same size, new inode.
        repo.write("work.tmp", "bbbb\n");
        fs_err::rename(repo.root.join("work.tmp"), repo.root.join("work.txt")).unwrap();
        assert_ne!(before.digest, repo.look().digest);
    }

    #[test]
    fn a_same_size_rewrite_in_place_after_a_pause_is_a_change() {
        let repo = Repo::new();
        repo.write("work.txt", "aaaa\n");
        let before = repo.look();
        // Between two stops there is a model turn; 50 ms is well past the filesystem's
        // timestamp tick (ext4: a few ms), so the nanosecond times differ.
        std::thread::sleep(Duration::from_millis(50));
        repo.write("work.txt", "bbbb\n");
        assert_ne!(before.digest, repo.look().digest);
    }

    #[test]
    fn commits_branch_switches_and_staging_are_changes() {
        let repo = Repo::new();
        repo.append("work.txt", "1\n");
        assert_changes(&repo, "staging", |r| r.git(&["add", "work.txt"]));
        let after = assert_changes(&repo, "a commit", |r| r.git(&["commit", "-qm", "two"]));
        assert!(after.paths.is_empty(), "{after:?}");
        assert_changes(&repo, "a branch switch", |r| {
            r.git(&["switch", "-q", "-c", "feature"]);
        });
        assert_changes(&repo, "a deletion", |r| {
            fs_err::remove_file(r.root.join("other.txt")).unwrap();
        });
    }

    #[test]
    fn every_edit_of_a_file_in_a_merge_conflict_is_a_change() {
        let repo = Repo::new();
        repo.git(&["switch", "-q", "-c", "side"]);
        repo.write("work.txt", "side\n");
        repo.git(&["commit", "-qam", "side"]);
        repo.git(&["switch", "-q", "main"]);
        repo.write("work.txt", "main\n");
        repo.git(&["commit", "-qam", "main"]);
        let merge = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "merge",
                "-q",
                "side",
            ])
            .current_dir(&repo.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &repo.root)
            .output()
            .unwrap();
        assert!(!merge.status.success(), "the merge conflicts: {merge:?}");
        let look = repo.look();
        let names: Vec<&str> = look.paths.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["work.txt"]);
        assert_changes(&repo, "resolving the conflict by hand", |r| {
            r.append("work.txt", "resolved\n");
        });
    }

    #[test]
    fn ignored_files_and_the_loops_own_files_are_not_work() {
        let repo = Repo::new();
        repo.write(".gitignore", "build/\n");
        repo.git(&["add", ".gitignore"]);
        repo.git(&["commit", "-qm", "ignore"]);
        let before = repo.look();
        repo.write("build/out.o", "x");
        repo.write(".codex/ralph-loop-state.json", "{}");
        repo.write(".codex/ralph-loop-history.jsonl", "{}\n");
        repo.write(".codex/ralph-loop.lock", "");
        repo.write(".claude/ralph-loop-state.json.corrupt-1", "x");
        repo.write(".codex/.ralph-loop-state.abc.tmp", "x");
        repo.write(".ralph-loop-cancel", "L");
        assert_eq!(before, repo.look());
        repo.append(".codex/ralph-loop-history.jsonl", "{}\n");
        assert_eq!(before, repo.look());
        // The agent's own files in the same folders are work.
        assert_changes(&repo, "a skill the agent wrote", |r| {
            r.write(".codex/skills/x.md", "x");
        });
    }

    #[test]
    fn odd_paths_are_listed_whole() {
        let repo = Repo::new();
        repo.write("a b/c d.txt", "x");
        repo.write("tab\there.txt", "x");
        let look = repo.look();
        let names: Vec<&str> = look.paths.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["a b/c d.txt", "tab\there.txt"]);
        assert_changes(&repo, "editing a path with spaces", |r| {
            r.append("a b/c d.txt", "y");
        });
    }

    #[test]
    fn not_a_repository_has_no_fingerprint() {
        let temp = tempfile::tempdir().unwrap();
        assert!(Fingerprint::take(temp.path()).is_none());
    }

    #[test]
    fn the_change_names_the_path_that_changed() {
        let repo = Repo::new();
        repo.append("other.txt", "1\n");
        repo.write("notes.txt", "n\n");
        let before = repo.look();
        let remembered = before.remembered_paths();
        repo.append("other.txt", "2\n");
        let after = repo.look();
        assert_eq!(
            after.change_since(Some(&before.head), &remembered),
            "other.txt"
        );
        fs_err::remove_file(repo.root.join("notes.txt")).unwrap();
        let gone = repo.look();
        assert_eq!(
            gone.change_since(Some(&after.head), &after.remembered_paths()),
            "notes.txt (back to its committed state, or removed)"
        );
        repo.git(&["add", "."]);
        repo.git(&["commit", "-qm", "c"]);
        let committed = repo.look();
        let said = committed.change_since(Some(&gone.head), &gone.remembered_paths());
        assert!(
            said.starts_with("commit ") && said.ends_with(" on main"),
            "{said}"
        );
    }

    #[test]
    fn a_path_with_control_characters_is_escaped_in_messages() {
        assert_eq!(printable("a\u{1b}[2Kb\n"), "a\\u{1b}[2Kb\\n");
        assert_eq!(printable(&"x".repeat(200)), "x".repeat(200));
        assert_eq!(printable(&"x".repeat(201)), format!("{}…", "x".repeat(200)));
    }

    #[test]
    fn the_state_remembers_a_bounded_number_of_paths() {
        let repo = Repo::new();
        for i in 0..(REMEMBERED_PATHS + 10) {
            repo.write(&format!("many/{i:03}.txt"), "x");
        }
        let look = repo.look();
        assert_eq!(look.paths.len(), REMEMBERED_PATHS + 10);
        assert_eq!(look.remembered_paths().len(), REMEMBERED_PATHS);
    }
}
