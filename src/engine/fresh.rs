//! `ralph-hook run --fresh`: every iteration in a new session under the one record. A
//! stop of a fresh loop is decided by the same transaction as any other
//! (`engine::stop`); when that decision is "continue", the turn is allowed instead
//! of blocked and what the continuation would have said is kept here, in the record, for
//! the supervisor, which starts the next session with it.
//!
//! What else a new session is given is read here: the hand-off note the previous session
//! left (`.ralph/handoff.md`, hostile input: opened through [`crate::engine::files`], never
//! followed, size-capped, shown as escaped text) and a summary of the workspace since the
//! loop began (commits and `git diff --stat`, from the hardened git of
//! [`crate::engine::fingerprint`], the work tree read with no repository attributes, so
//! no filter driver, textconv or external diff a repository names ever runs).

use std::path::Path;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::engine::files::{Dir, ReadError};
use crate::engine::fingerprint::{git_command, git_deadline};
use crate::engine::visible;
use crate::program;

/// The folder of the hand-off note, in the workspace.
pub const HANDOFF_DIR: &str = ".ralph";
/// The hand-off note's name in [`HANDOFF_DIR`].
pub const HANDOFF_FILE: &str = "handoff.md";
/// The largest hand-off note read (bytes); a larger one is not read at all.
pub const HANDOFF_CAP: u64 = 64 * 1024;
/// The most of a hand-off note handed to the next session (characters).
pub const HANDOFF_CHARS: usize = 4_000;
/// The most of the previous session's last message handed on (characters, its end).
pub const MESSAGE_CHARS: usize = 2_000;
/// The most lines of each part of the workspace summary.
const SUMMARY_LINES: usize = 30;

/// When a fresh loop starts a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FreshMode {
    /// Every iteration in a new session.
    Iteration,
    /// A new session for each task item (`--tasks`), the same one while an item is worked on.
    Task,
}

impl FreshMode {
    /// The word of the mode, as `--fresh=WORD` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FreshMode::Iteration => "iteration",
            FreshMode::Task => "task",
        }
    }
}

/// The fresh part of a loop's record: the mode, where the workspace stood when the loop
/// began, and the hand-over a stop left for the next session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fresh {
    /// When a new session starts.
    pub mode: FreshMode,
    /// `HEAD` when the loop began (a git workspace with a commit): the summary's base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Set by a stop that ended its session's iteration: what the continuation says (the
    /// task, the budgets left, a rejected verify). The supervisor starts the next session
    /// with it; the new session's binding clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The sessions the loop has had so far.
    #[serde(default)]
    pub sessions: u32,
}

impl Fresh {
    /// A fresh loop of `mode` whose workspace summary counts from `base`.
    pub fn new(mode: FreshMode, base: Option<String>) -> Self {
        Fresh {
            mode,
            base,
            next: None,
            sessions: 0,
        }
    }
}

/// The hand-off note as the next session is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handoff {
    /// There is none.
    Missing,
    /// Its text (control characters escaped, bounded), and whether it was cut.
    Note {
        /// The text handed on.
        text: String,
        /// True when the note was longer than [`HANDOFF_CHARS`].
        cut: bool,
    },
    /// It could not be read as a note, and why (a link, a FIFO, too big …).
    Refused(String),
}

/// The path of the hand-off note in `workspace`, for messages.
pub fn handoff_path(workspace: &Path) -> std::path::PathBuf {
    workspace.join(HANDOFF_DIR).join(HANDOFF_FILE)
}

/// Reads the hand-off note in `workspace`: never through a link (the folder or the file),
/// never a FIFO or device, at most [`HANDOFF_CAP`] bytes, as text only.
pub fn read_handoff(workspace: &Path) -> Handoff {
    let dir = match Dir::open(workspace).and_then(|ws| ws.child(HANDOFF_DIR)) {
        Ok(Some(dir)) => dir,
        Ok(None) => return Handoff::Missing,
        Err(err) => return Handoff::Refused(format!("{HANDOFF_DIR}/: {err}")),
    };
    match dir.read(HANDOFF_FILE, HANDOFF_CAP) {
        Ok(None) => Handoff::Missing,
        Ok(Some(bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            if text.is_empty() {
                return Handoff::Missing;
            }
            let cut = text.chars().count() > HANDOFF_CHARS;
            let kept: String = text.chars().take(HANDOFF_CHARS).collect();
            Handoff::Note {
                text: escaped_lines(&kept),
                cut,
            }
        }
        Err(err @ (ReadError::NotRegular(_) | ReadError::TooBig { .. } | ReadError::Io(_))) => {
            Handoff::Refused(err.to_string())
        }
    }
}

/// The end of the previous session's last message, bounded and escaped.
pub fn last_message(text: &str) -> String {
    let text = text.trim();
    let count = text.chars().count();
    let kept: String = text
        .chars()
        .skip(count.saturating_sub(MESSAGE_CHARS))
        .collect();
    let mut out = escaped_lines(&kept);
    if count > MESSAGE_CHARS {
        out.insert_str(0, "[…] ");
    }
    out
}

/// `text` with its line breaks kept and every other hidden character escaped.
fn escaped_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

/// `line` with every character that could change how a terminal or a reader sees the
/// rest made visible as `\u{…}` (as `render::printable` does; render reads this module).
fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for ch in line.chars() {
        if visible::is_hidden(ch) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(ch)));
        } else {
            out.push(ch);
        }
    }
    out
}

/// `HEAD` of the git workspace, if it has a commit.
pub fn head(workspace: &Path) -> Option<String> {
    git_text(
        workspace,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )
    .map(|out| out.trim().to_string())
    .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Options for a git run that reads the work tree: attributes only from the empty tree,
/// no user attributes file, so no filter driver or diff driver a repository names is
/// ever picked (with `--no-ext-diff` and `--no-textconv` on the diff itself). git before
/// 2.40 lacks `--attr-source` and refuses the run: the summary then goes without it.
const NO_ATTRIBUTES: [&str; 3] = [
    "--attr-source=4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "-c",
    "core.attributesFile=/dev/null",
];

/// What changed in the workspace since the loop began, for a new session: the commits
/// since `base` and `git diff --stat` of the workspace against `base` (uncommitted edits
/// of tracked files included), and the untracked files. `None` when the workspace is no
/// git repository.
///
/// Nothing a repository names runs: the work tree is read with attributes from the
/// empty tree only (`NO_ATTRIBUTES`), and not at all when `.git/info/attributes` (which
/// no option turns off) exists; then only the commits are compared, tree to tree.
pub fn workspace_summary(workspace: &Path, git: bool, base: Option<&str>) -> Option<String> {
    if !git {
        return None;
    }
    let head = head(workspace);
    let mut out = String::new();
    let range = match (base, head.as_deref()) {
        (Some(base), Some(head)) if base != head => Some(format!("{base}..{head}")),
        (None, Some(head)) => Some(head.to_string()),
        _ => None,
    };
    match &range {
        Some(range) => {
            let log = git_text(
                workspace,
                &[
                    "log",
                    "--no-color",
                    "--no-show-signature",
                    "--format=%h %s",
                    "--max-count=200",
                    range,
                    "--",
                ],
            )
            .unwrap_or_default();
            out.push_str("Commits since the loop started:\n");
            out.push_str(&bounded_lines(&log));
        }
        None => out.push_str("No commit since the loop started.\n"),
    }
    let from = base.or(head.as_deref());
    let stat = |tree_args: &[&str], worktree: bool| {
        let mut args: Vec<&str> = Vec::new();
        if worktree {
            args.extend(NO_ATTRIBUTES);
        }
        args.extend([
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--stat=100",
        ]);
        args.extend(tree_args);
        args.push("--");
        git_text(workspace, &args)
    };
    let worktree_stat = from
        .filter(|_| !has_info_attributes(workspace))
        .and_then(|from| stat(&[from], true));
    match (worktree_stat, base, head.as_deref()) {
        (Some(text), _, _) => {
            out.push_str("\n`git diff --stat` of the workspace against where it started:\n");
            out.push_str(&bounded_lines(&text));
            let untracked = git_text(
                workspace,
                &[
                    &NO_ATTRIBUTES[..],
                    &["ls-files", "--others", "--exclude-standard", "--"],
                ]
                .concat(),
            )
            .unwrap_or_default();
            out.push_str("Untracked files:\n");
            out.push_str(&bounded_lines(&untracked));
        }
        (None, Some(base), Some(head)) if base != head => {
            let text = stat(&[base, head], false).unwrap_or_default();
            out.push_str("\n`git diff --stat` of those commits (the work tree was not read):\n");
            out.push_str(&bounded_lines(&text));
        }
        (None, _, _) => {}
    }
    Some(out.trim_end().to_string())
}

/// True when the repository has `info/attributes`, which applies whatever the options.
fn has_info_attributes(workspace: &Path) -> bool {
    let Some(path) = git_text(workspace, &["rev-parse", "--git-path", "info/attributes"]) else {
        return true;
    };
    let path = Path::new(path.trim());
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        workspace.join(path)
    };
    path.symlink_metadata()
        .is_ok_and(|meta| meta.len() > 0 || !meta.is_file())
}

/// At most [`SUMMARY_LINES`] lines of `text`, each escaped, with a count of the rest.
fn bounded_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = String::new();
    for line in lines.iter().take(SUMMARY_LINES) {
        let short: String = line.chars().take(200).collect();
        out.push_str("  ");
        out.push_str(&printable(&short));
        out.push('\n');
    }
    if lines.len() > SUMMARY_LINES {
        out.push_str(&format!(
            "  [… {} more lines]\n",
            lines.len() - SUMMARY_LINES
        ));
    }
    if lines.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// The stdout of a hardened git run in `workspace`, as text.
fn git_text(workspace: &Path, args: &[&str]) -> Option<String> {
    let mut command = git_command(workspace)?;
    let out = program::output_within(command.args(args), git_deadline())?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_last_message_keeps_its_end() {
        let text = format!("{}END", "x".repeat(MESSAGE_CHARS * 2));
        let out = last_message(&text);
        assert!(out.starts_with("[…] ") && out.ends_with("END"), "{out}");
        assert!(out.chars().count() <= MESSAGE_CHARS + 4);
        assert_eq!(last_message("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\nc");
    }

    #[test]
    fn summary_lines_are_bounded_and_escaped() {
        let many: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let out = bounded_lines(&many);
        assert_eq!(out.lines().count(), SUMMARY_LINES + 1);
        assert!(out.contains("[… 70 more lines]"));
        assert!(bounded_lines("a\u{7}b").contains("a\\u{7}b"));
    }

    #[test]
    fn fresh_modes_read_back_from_their_words() {
        for mode in [FreshMode::Iteration, FreshMode::Task] {
            assert_eq!(
                serde_json::to_value(mode).unwrap(),
                serde_json::Value::from(mode.as_str())
            );
        }
    }
}
