//! Task lists (`--tasks FILE`): a Markdown checklist worked item by item, each item
//! accepted only on evidence, never on its checkbox alone.
//!
//! The file is workspace input, so hostile: it must be a regular file inside the
//! workspace (no link followed, no FIFO), at most [`TASK_FILE_CAP`] bytes of UTF-8, and
//! nothing in it is ever executed; its text reaches the agent and the user with control
//! characters escaped (`render::printable`).
//!
//! The API, in the order a loop uses it:
//! - [`parse`] a checklist, [`read`] it from the workspace (the hostile-file rules);
//! - [`TaskProgress::begin`]: a loop's progress at its start (items checked then are
//!   skipped), [`TaskProgress::current`]: the item being worked on;
//! - [`look`] (the edge, before the loop's lock: reads the file and runs git): what a
//!   stop saw — the list and the [`Evidence`] that the workspace changed since the
//!   current item began;
//! - [`judge`] (pure, called by `decide`): [`Verdict`] of that look; then
//!   [`TaskProgress::accept`] or [`TaskProgress::skip`] moves on to the next item.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::digest;
use crate::engine::files::{self, ReadError};
use crate::engine::fingerprint::{self, Fingerprint};
use crate::engine::visible;
use crate::program;

/// The largest task file read (256 KiB): a PRD checklist is a few KiB; a bigger file is
/// a mistake or an attack, and every stop reads it.
pub const TASK_FILE_CAP: u64 = 256 * 1024;

/// How much of an item's text goes into a prompt or a status line.
pub const ITEM_LIMIT_CHARS: usize = 300;

/// How many of the most recently changed paths an item's start remembers, to name the
/// file whose change is the evidence.
const REMEMBERED_PATHS: usize = 32;

/// One checklist item of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item's text after its checkbox, trimmed (raw: escape it before showing it).
    pub text: String,
    /// `- [x]` (or `- [X]`).
    pub checked: bool,
    /// Its line in the file, from 1.
    pub line: usize,
    /// How deep it is nested (0 = top level), from its indentation.
    pub depth: usize,
}

/// The checklist items of a Markdown file, in file order (nested items where they
/// stand); any other text, and checkboxes inside fenced code blocks, are not items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checklist {
    /// The items.
    pub items: Vec<Item>,
}

/// Reads the checklist of `text`: list items (`-`, `*`, `+`, `1.`, `1)`) that open with
/// `[ ]`, `[x]` or `[X]`.
pub fn parse(text: &str) -> Checklist {
    let mut items = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let indent_chars = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        if let Some(marker) = fence_marker(rest) {
            match fence {
                None => fence = Some(marker),
                Some((ch, len)) if ch == marker.0 && marker.1 >= len => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_some() {
            continue;
        }
        let Some((checked, item_text)) = checkbox(rest) else {
            continue;
        };
        let width: usize = line[..indent_chars]
            .chars()
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum();
        items.push(Item {
            text: item_text.trim().to_string(),
            checked,
            line: index + 1,
            depth: width / 2,
        });
    }
    Checklist { items }
}

/// A fence line (three or more backticks or tildes): its character and length.
fn fence_marker(line: &str) -> Option<(char, usize)> {
    let ch = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = line.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

/// `- [ ] text` → (false, "text"); `1. [x] text` → (true, "text").
fn checkbox(line: &str) -> Option<(bool, &str)> {
    let after_marker = if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        line[digits..].strip_prefix(['.', ')'])?
    };
    if !after_marker.starts_with([' ', '\t']) {
        return None;
    }
    let boxed = after_marker.trim_start();
    let checked = match boxed.get(..3)? {
        "[ ]" => false,
        "[x]" | "[X]" => true,
        _ => return None,
    };
    let text = &boxed[3..];
    if !(text.is_empty() || text.starts_with([' ', '\t'])) {
        return None;
    }
    Some((checked, text))
}

/// Why a task file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFileError {
    /// The file as the user named it (escaped for showing).
    pub file: String,
    /// What is wrong and how to fix it.
    pub why: String,
}

impl std::fmt::Display for TaskFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the task file {} {}", self.file, self.why)
    }
}

/// `file` (as given: relative to the workspace, or absolute inside it) as a path relative
/// to `workspace`, which must be canonical: refused when it leaves the workspace, by
/// `..` or through a folder that is a link out of it.
pub fn resolve(workspace: &Path, file: &str) -> Result<String, TaskFileError> {
    let error = |why: String| TaskFileError {
        file: shown(file),
        why,
    };
    if file.trim().is_empty() || file.contains('\0') {
        return Err(error("is not a file name".into()));
    }
    let path = Path::new(file);
    let relative: PathBuf = if path.is_absolute() {
        let parent = path.parent().unwrap_or(path);
        let real_parent = std::fs::canonicalize(parent).map_err(|err| {
            error(format!(
                "cannot be found ({err}): give a file inside the workspace, e.g. `--tasks PRD.md`"
            ))
        })?;
        let name = path
            .file_name()
            .ok_or_else(|| error("names no file".into()))?;
        real_parent
            .strip_prefix(workspace)
            .map_err(|_| error(outside(workspace)))?
            .join(name)
    } else {
        path.to_path_buf()
    };
    let mut clean = PathBuf::new();
    for part in relative.components() {
        match part {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(error(outside(workspace)));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(error("names no file".into()));
    }
    // A folder on the way may be a link: where it really leads must still be inside.
    if let Some(parent) = clean.parent().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::canonicalize(workspace.join(parent)) {
            Ok(real) if real.starts_with(workspace) => {}
            Ok(_) => return Err(error(outside(workspace))),
            Err(err) => return Err(error(format!("cannot be found ({err})"))),
        }
    }
    clean
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| error("has a name that is not UTF-8".into()))
}

fn outside(workspace: &Path) -> String {
    format!(
        "is not inside the workspace {}: a task list must be a file of the workspace (no `..`, no link out of it)",
        shown(&workspace.display().to_string())
    )
}

/// Reads the checklist at `relative` (from [`resolve`]) in `workspace`: never through a
/// link, never a FIFO or a device, at most [`TASK_FILE_CAP`] bytes, UTF-8 text only.
pub fn read(workspace: &Path, relative: &str) -> Result<Checklist, TaskFileError> {
    let error = |why: String| TaskFileError {
        file: shown(relative),
        why,
    };
    let full = workspace.join(relative);
    if let Some(parent) = full.parent()
        && !std::fs::canonicalize(parent).is_ok_and(|real| real.starts_with(workspace))
    {
        return Err(error(outside(workspace)));
    }
    match files::read_path(&full, TASK_FILE_CAP, false) {
        Ok(Some(bytes)) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| error("is not UTF-8 text: a task list is a Markdown file".into()))?;
            Ok(parse(&text))
        }
        Ok(None) => Err(error(
            "does not exist: create it (a Markdown checklist of `- [ ] item` lines) or name another with --tasks".into(),
        )),
        Err(ReadError::TooBig { limit }) => Err(error(format!(
            "is larger than {} KiB: a task list is a short checklist; split it",
            limit / 1024
        ))),
        Err(err @ ReadError::NotRegular(_)) => Err(error(format!("cannot be used: {err}"))),
        Err(ReadError::Io(err)) => Err(error(format!("cannot be read: {err}"))),
    }
}

/// `text` for a message: control and invisible characters escaped, cut at
/// [`ITEM_LIMIT_CHARS`].
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count == ITEM_LIMIT_CHARS {
            out.push('…');
            break;
        }
        if visible::is_hidden(ch) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(ch)));
        } else {
            out.push(ch);
        }
    }
    out
}

/// What to do with an item that used up `--max-iterations-per-task`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStuck {
    /// End the loop with the outcome `stuck_task`, naming the item.
    #[default]
    Stop,
    /// Leave the item open, say so, and go on with the next.
    Skip,
}

/// Where the workspace stood when an item began: what its evidence is judged against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// HEAD as the fingerprint names it (`<branch> <commit>`); `None` without a look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Digest of every listed path's mark except the task file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<String>,
    /// The most recently changed of those paths, path → mark, to name a change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paths: BTreeMap<String, String>,
}

impl Baseline {
    /// The workspace as `look` saw it, leaving the task file `file` out.
    pub fn of(look: &Fingerprint, file: &str) -> Baseline {
        let mut hash = digest::fnv1a(b"work");
        let mut recent: Vec<_> = look.paths.iter().filter(|m| m.path != file).collect();
        for mark in &recent {
            hash = digest::fnv1a_more(hash, mark.path.as_bytes());
            hash = digest::fnv1a_more(hash, &[0]);
            hash = digest::fnv1a_more(hash, mark.mark.as_bytes());
        }
        recent.sort_by(|a, b| b.changed_ns.cmp(&a.changed_ns).then(a.path.cmp(&b.path)));
        Baseline {
            head: Some(look.head.clone()),
            work: Some(format!("{hash:016x}")),
            paths: recent
                .into_iter()
                .take(REMEMBERED_PATHS)
                .map(|m| (m.path.clone(), m.mark.clone()))
                .collect(),
        }
    }
}

/// A loop's task list as its state keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// The task file, relative to the workspace (from [`resolve`]).
    pub file: String,
    /// The items accepted so far, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
    /// The items already checked when the loop started: skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The items left open after `--max-iterations-per-task` (`--on-stuck-task skip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stuck: Vec<String>,
    /// How many items the list had at the last look, minus those skipped at the start.
    #[serde(default)]
    pub total: u32,
    /// The item being worked on (its text at the last look).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The workspace when the current item began.
    #[serde(default)]
    pub since: Baseline,
    /// Continuation prompts spent on the current item.
    #[serde(default)]
    pub iterations: u32,
    /// Most continuation prompts per item (0 = no cap).
    #[serde(default)]
    pub max_per_task: u32,
    /// What a stuck item does.
    #[serde(default)]
    pub on_stuck: OnStuck,
    /// Why the current item's checkbox was last not accepted ("checked without a
    /// change"), for `show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

impl TaskProgress {
    /// The progress of a loop that starts on `list` from `file`: items checked now are
    /// skipped; the workspace as `look` saw it is where the first item begins. `None`
    /// when no item is open.
    pub fn begin(
        file: &str,
        list: &Checklist,
        look: Option<&Fingerprint>,
        max_per_task: u32,
        on_stuck: OnStuck,
    ) -> Option<TaskProgress> {
        let mut progress = TaskProgress {
            file: file.to_string(),
            skipped: list
                .items
                .iter()
                .filter(|item| item.checked)
                .map(|item| item.text.clone())
                .collect(),
            since: look.map(|l| Baseline::of(l, file)).unwrap_or_default(),
            max_per_task,
            on_stuck,
            ..TaskProgress::default()
        };
        progress.refresh(list);
        progress.current.is_some().then_some(progress)
    }

    /// The items not yet done (accepted, skipped at the start, or left as stuck), in
    /// file order.
    pub fn open<'a>(&self, list: &'a Checklist) -> Vec<&'a Item> {
        let mut done: Vec<&str> = self
            .accepted
            .iter()
            .chain(&self.skipped)
            .chain(&self.stuck)
            .map(String::as_str)
            .collect();
        list.items
            .iter()
            .filter(
                |item| match done.iter().position(|text| *text == item.text) {
                    Some(at) => {
                        done.swap_remove(at);
                        false
                    }
                    None => true,
                },
            )
            .collect()
    }

    /// The item being worked on: the first open one.
    pub fn current<'a>(&self, list: &'a Checklist) -> Option<&'a Item> {
        self.open(list).into_iter().next()
    }

    /// Updates the total and the current item from the list as it is now.
    pub fn refresh(&mut self, list: &Checklist) {
        let all = u32::try_from(list.items.len()).unwrap_or(u32::MAX);
        let skipped = u32::try_from(self.skipped.len()).unwrap_or(u32::MAX);
        self.total = all.saturating_sub(skipped);
        self.current = self.current(list).map(|item| item.text.clone());
    }

    /// How many items are accepted.
    pub fn done(&self) -> u32 {
        u32::try_from(self.accepted.len()).unwrap_or(u32::MAX)
    }

    /// Accepts the current item of `list`; the next begins at `look`. Returns the item
    /// accepted.
    pub fn accept(&mut self, list: &Checklist, look: Option<&Fingerprint>) -> Option<String> {
        let item = self.current(list)?.text.clone();
        self.accepted.push(item.clone());
        self.move_on(list, look);
        Some(item)
    }

    /// Leaves the current item open as stuck and goes on with the next. Returns it.
    pub fn skip(&mut self, list: &Checklist, look: Option<&Fingerprint>) -> Option<String> {
        let item = self.current(list)?.text.clone();
        self.stuck.push(item.clone());
        self.move_on(list, look);
        Some(item)
    }

    fn move_on(&mut self, list: &Checklist, look: Option<&Fingerprint>) {
        self.iterations = 0;
        self.rejected = None;
        if let Some(look) = look {
            self.since = Baseline::of(look, &self.file);
        }
        self.refresh(list);
    }

    /// `accepted/total` for `show`, `list` and `log`.
    pub fn count(&self) -> String {
        format!("{}/{}", self.done(), self.total)
    }

    /// One line for `show`: items accepted / total and the current item.
    pub fn status(&self) -> String {
        let mut out = format!("{} items accepted", self.count());
        match &self.current {
            Some(item) => out.push_str(&format!("; current: {}", shown(item))),
            None => out.push_str("; none open"),
        }
        if !self.skipped.is_empty() {
            out.push_str(&format!(
                "; {} checked at the start, skipped",
                self.skipped.len()
            ));
        }
        if !self.stuck.is_empty() {
            out.push_str(&format!(
                "; left open as stuck: {}",
                self.stuck
                    .iter()
                    .map(|item| shown(item))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(why) = &self.rejected {
            out.push_str(&format!("; last check not accepted: {why}"));
        }
        out
    }
}

/// The evidence that the workspace changed since the current item began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// It changed: a commit or a file other than the task file, named.
    Changed(String),
    /// Nothing but (at most) the task file changed.
    Unchanged,
    /// The workspace could not be looked at (git failed, or no look at the item's start).
    Unknown(String),
}

/// What a stop saw of the task list: the file's checklist (or why it could not be read)
/// and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLook {
    /// The checklist as the file is now.
    pub list: Result<Checklist, TaskFileError>,
    /// Whether the workspace changed since the current item began.
    pub evidence: Evidence,
}

/// Looks at the task list of a loop at a stop, at the edge: reads the file and, when
/// HEAD moved, asks git which files the new commits touched. `fingerprint` is the
/// stop's look at the workspace (`None`: not a git workspace, or git failed).
pub fn look(
    workspace: &Path,
    progress: &TaskProgress,
    fingerprint: Option<&Fingerprint>,
) -> TaskLook {
    let list = read(workspace, &progress.file);
    let evidence = match fingerprint {
        None => Evidence::Unknown("ralph-hook could not read the workspace's git status".into()),
        Some(now) => evidence(&progress.since, now, &progress.file, |from, to| {
            committed_paths(workspace, from, to)
        }),
    };
    TaskLook { list, evidence }
}

/// The evidence between `since` and `now` (pure but for `commits`, which lists the paths
/// the commits between two heads touched, `None` when git cannot say).
pub fn evidence(
    since: &Baseline,
    now: &Fingerprint,
    file: &str,
    commits: impl FnOnce(&str, &str) -> Option<Vec<String>>,
) -> Evidence {
    let (Some(head), Some(work)) = (&since.head, &since.work) else {
        return Evidence::Unknown("the workspace was not looked at when the item began".into());
    };
    let current = Baseline::of(now, file);
    if current.head.as_deref() != Some(head.as_str()) {
        let before = oid(head);
        let after = oid(&now.head);
        let short: String = after.chars().take(7).collect();
        match commits(before, after) {
            None => return Evidence::Changed(format!("a new commit {short}")),
            Some(paths) => {
                if let Some(path) = paths
                    .iter()
                    .find(|p| p.as_str() != file && !fingerprint::is_own_file(p.as_bytes()))
                {
                    return Evidence::Changed(format!("commit {short} ({})", shown(path)));
                }
            }
        }
    }
    if current.work.as_deref() != Some(work.as_str()) {
        let changed = now
            .paths
            .iter()
            .filter(|m| m.path != file && since.paths.get(&m.path) != Some(&m.mark))
            .max_by(|a, b| a.changed_ns.cmp(&b.changed_ns).then(b.path.cmp(&a.path)))
            .map_or_else(
                || "a file back to its committed state".to_string(),
                |m| shown(&m.path),
            );
        return Evidence::Changed(changed);
    }
    Evidence::Unchanged
}

/// The commit of `<branch> <commit>`.
fn oid(head: &str) -> &str {
    head.rsplit_once(' ').map_or(head, |(_, oid)| oid)
}

/// git's empty tree: what a repository without commits is diffed from.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The paths the commits from `from` to `to` touched (hardened git, with its deadline).
fn committed_paths(workspace: &Path, from: &str, to: &str) -> Option<Vec<String>> {
    let is_oid = |s: &str| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit());
    if !is_oid(to) {
        return None;
    }
    let from = if is_oid(from) { from } else { EMPTY_TREE };
    let mut command = fingerprint::git_command(workspace)?;
    command.args(["diff", "--name-only", "-z", "--no-renames", from, to, "--"]);
    let output = program::output_within(&mut command, fingerprint::git_deadline())?;
    Some(
        output
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
    )
}

/// What a stop did with the task list, for the continuation prompt and the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The current item was accepted on this evidence.
    Accepted {
        /// The item.
        item: String,
        /// What changed.
        evidence: String,
    },
    /// The current item is checked but was not accepted: "checked without a change".
    CheckedWithoutChange {
        /// The item.
        item: String,
        /// Why.
        why: String,
    },
    /// The current item is checked with a change, but the verify command failed (its
    /// result is the continuation's `rejected`).
    VerifyFailed {
        /// The item.
        item: String,
    },
    /// The completion signal came while these items were still open: rejected.
    CompletionWhileOpen {
        /// The open items, in order.
        open: Vec<String>,
    },
    /// The item used up `--max-iterations-per-task` and was left open (`--on-stuck-task
    /// skip`).
    Stuck {
        /// The item.
        item: String,
    },
}

/// Why a stop with `note` continued, for `last_decision` and `show`.
pub fn note_why(note: &Note) -> String {
    match note {
        Note::Accepted { item, evidence } => {
            format!(
                "the task item \"{}\" was accepted ({evidence})",
                shown(item)
            )
        }
        Note::CheckedWithoutChange { item, .. } => format!(
            "the task item \"{}\" was checked without a change, so it was not accepted",
            shown(item)
        ),
        Note::VerifyFailed { item } => format!(
            "the task item \"{}\" was not accepted: the verify command failed",
            shown(item)
        ),
        Note::CompletionWhileOpen { open } => format!(
            "the completion signal was rejected: {} task item{} still open",
            open.len(),
            if open.len() == 1 { " is" } else { "s are" }
        ),
        Note::Stuck { item } => format!(
            "the task item \"{}\" used up --max-iterations-per-task and was left open",
            shown(item)
        ),
    }
}

/// What a stop's look means for the current item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file cannot be read now: the stop says so and fails open.
    Unreadable(String),
    /// No item is open (every one accepted, skipped or stuck).
    AllDone,
    /// The current item is not checked yet: work goes on.
    Working,
    /// The current item is checked and the workspace changed: accept it (after verify).
    Candidate {
        /// The item.
        item: String,
        /// What changed, in words.
        evidence: String,
    },
    /// The current item is checked, but there is no evidence: not accepted, and why.
    CheckedWithoutChange {
        /// The item.
        item: String,
        /// Why it was not accepted.
        why: String,
    },
}

/// Judges a stop's look at the task list of `progress` (pure).
pub fn judge(progress: &TaskProgress, look: &TaskLook) -> Verdict {
    let list = match &look.list {
        Ok(list) => list,
        Err(err) => return Verdict::Unreadable(err.to_string()),
    };
    let Some(item) = progress.current(list) else {
        return Verdict::AllDone;
    };
    if !item.checked {
        return Verdict::Working;
    }
    match &look.evidence {
        Evidence::Changed(what) => Verdict::Candidate {
            item: item.text.clone(),
            evidence: what.clone(),
        },
        Evidence::Unchanged => Verdict::CheckedWithoutChange {
            item: item.text.clone(),
            why: format!(
                "it is checked in {} but nothing in the workspace changed since it began (no commit, no changed file other than the task file)",
                shown(&progress.file)
            ),
        },
        Evidence::Unknown(why) => Verdict::CheckedWithoutChange {
            item: item.text.clone(),
            why: format!("it is checked, but {why}, so there is no evidence of the work"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fingerprint::PathMark;

    const PRD: &str = "# PRD\n\nSome text.\n\n- [x] set up the project\n- [ ] add the parser\n  - [ ] nested: handle tabs\n* [X] star item\n1. [ ] numbered item\n- [] not an item\n- [y] not an item\n-[ ] not an item\n```\n- [ ] inside a fence\n```\n- [ ]\n";

    #[test]
    fn a_prd_reads_as_its_checklist_items_in_order() {
        let list = parse(PRD);
        let got: Vec<(&str, bool, usize, usize)> = list
            .items
            .iter()
            .map(|i| (i.text.as_str(), i.checked, i.line, i.depth))
            .collect();
        assert_eq!(
            got,
            vec![
                ("set up the project", true, 5, 0),
                ("add the parser", false, 6, 0),
                ("nested: handle tabs", false, 7, 1),
                ("star item", true, 8, 0),
                ("numbered item", false, 9, 0),
                ("", false, 16, 0),
            ]
        );
    }

    fn mark(path: &str, mark: &str) -> PathMark {
        PathMark {
            path: path.into(),
            mark: mark.into(),
            changed_ns: 1,
        }
    }

    fn fp(head: &str, paths: Vec<PathMark>) -> Fingerprint {
        Fingerprint {
            digest: String::new(),
            head: head.into(),
            paths,
        }
    }

    #[test]
    fn items_checked_at_the_start_are_skipped_and_the_first_open_one_is_current() {
        let list = parse(PRD);
        let progress = TaskProgress::begin("PRD.md", &list, None, 0, OnStuck::Stop).unwrap();
        assert_eq!(progress.skipped, vec!["set up the project", "star item"]);
        assert_eq!(progress.current.as_deref(), Some("add the parser"));
        assert_eq!(progress.total, 4);
        let all_checked = parse("- [x] a\n- [x] b\n");
        assert!(TaskProgress::begin("PRD.md", &all_checked, None, 0, OnStuck::Stop).is_none());
        assert!(
            TaskProgress::begin("PRD.md", &Checklist::default(), None, 0, OnStuck::Stop).is_none()
        );
    }

    #[test]
    fn only_a_change_other_than_the_task_file_is_evidence() {
        let since = Baseline::of(&fp("main aaaaaaa", vec![mark("PRD.md", "1")]), "PRD.md");
        let none = |_: &str, _: &str| -> Option<Vec<String>> { panic!("no commit was made") };
        // Only the task file changed.
        let only_box = fp("main aaaaaaa", vec![mark("PRD.md", "2")]);
        assert_eq!(
            evidence(&since, &only_box, "PRD.md", none),
            Evidence::Unchanged
        );
        // Another file changed.
        let edited = fp(
            "main aaaaaaa",
            vec![mark("PRD.md", "2"), mark("src/a.rs", "3")],
        );
        assert_eq!(
            evidence(&since, &edited, "PRD.md", none),
            Evidence::Changed("src/a.rs".into())
        );
        // A commit of the task file alone is no evidence; one with other files is.
        let committed = fp("main bbbbbbbbb", vec![]);
        assert_eq!(
            evidence(&since, &committed, "PRD.md", |_, _| Some(vec![
                "PRD.md".into()
            ])),
            Evidence::Unchanged
        );
        // A change to another file committed away since the look is still a change.
        let dirty = Baseline::of(&fp("main aaaaaaa", vec![mark("src/a.rs", "1")]), "PRD.md");
        assert_eq!(
            evidence(&dirty, &fp("main aaaaaaa", vec![]), "PRD.md", none),
            Evidence::Changed("a file back to its committed state".into())
        );
        assert_eq!(
            evidence(&since, &committed, "PRD.md", |from, to| {
                assert_eq!((from, to), ("aaaaaaa", "bbbbbbbbb"));
                Some(vec!["PRD.md".into(), "src/b.rs".into()])
            }),
            Evidence::Changed("commit bbbbbbb (src/b.rs)".into())
        );
        // git cannot say what the commits touched: a new commit still counts.
        // Nor is one of the task file and ralph-hook's own state file (`git add -A`).
        assert_eq!(
            evidence(&since, &committed, "PRD.md", |_, _| Some(vec![
                ".claude/ralph-loop-state.json".into(),
                "PRD.md".into()
            ])),
            Evidence::Unchanged
        );
        assert_eq!(
            evidence(&since, &committed, "PRD.md", |_, _| None),
            Evidence::Changed("a new commit bbbbbbb".into())
        );
        // No look when the item began.
        assert!(matches!(
            evidence(&Baseline::default(), &edited, "PRD.md", none),
            Evidence::Unknown(_)
        ));
    }

    #[test]
    fn a_commit_of_only_the_checkbox_with_the_box_file_clean_is_no_evidence() {
        let since = Baseline::of(&fp("main aaaaaaa", vec![]), "PRD.md");
        let committed = fp("main bbbbbbb", vec![]);
        assert_eq!(
            evidence(&since, &committed, "PRD.md", |_, _| Some(vec![
                "PRD.md".into()
            ])),
            Evidence::Unchanged
        );
    }

    #[test]
    fn judging_accepts_only_a_checked_item_with_evidence() {
        let open = parse("- [ ] one\n- [ ] two\n");
        let mut progress = TaskProgress::begin("T.md", &open, None, 0, OnStuck::Stop).unwrap();
        let look = |text: &str, evidence: Evidence| TaskLook {
            list: Ok(parse(text)),
            evidence,
        };
        assert_eq!(
            judge(
                &progress,
                &look("- [ ] one\n- [ ] two\n", Evidence::Changed("x".into()))
            ),
            Verdict::Working
        );
        assert_eq!(
            judge(
                &progress,
                &look("- [x] one\n- [ ] two\n", Evidence::Changed("x".into()))
            ),
            Verdict::Candidate {
                item: "one".into(),
                evidence: "x".into()
            }
        );
        assert!(matches!(
            judge(&progress, &look("- [x] one\n- [ ] two\n", Evidence::Unchanged)),
            Verdict::CheckedWithoutChange { item, .. } if item == "one"
        ));
        let checked = parse("- [x] one\n- [x] two\n");
        assert_eq!(progress.accept(&checked, None).as_deref(), Some("one"));
        assert_eq!(progress.current.as_deref(), Some("two"));
        assert_eq!(progress.count(), "1/2");
        assert_eq!(progress.skip(&checked, None).as_deref(), Some("two"));
        assert_eq!(
            judge(
                &progress,
                &look("- [x] one\n- [x] two\n", Evidence::Unchanged)
            ),
            Verdict::AllDone
        );
        let broken = TaskLook {
            list: Err(TaskFileError {
                file: "T.md".into(),
                why: "does not exist".into(),
            }),
            evidence: Evidence::Unchanged,
        };
        assert_eq!(
            judge(&progress, &broken),
            Verdict::Unreadable("the task file T.md does not exist".into())
        );
    }

    #[test]
    fn control_characters_in_items_are_shown_escaped() {
        assert_eq!(shown("a\u{1b}[2Jb\u{202e}"), "a\\u{1b}[2Jb\\u{202e}");
        assert!(shown(&"x".repeat(400)).ends_with('…'));
    }

    #[test]
    fn a_task_file_outside_the_workspace_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(dir.path()).unwrap();
        for bad in ["../x.md", "/etc/passwd", "", "a/../../x.md"] {
            assert!(resolve(&ws, bad).is_err(), "{bad}");
        }
        assert_eq!(resolve(&ws, "./PRD.md").unwrap(), "PRD.md");
        let inside = ws.join("PRD.md");
        assert_eq!(resolve(&ws, inside.to_str().unwrap()).unwrap(), "PRD.md");
    }
}
