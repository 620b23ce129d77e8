//! The name of a loop's worktree: it becomes a folder (`<repo>.ralph/NAME`) and a branch
//! (`ralph/NAME`), so it is held to the stricter of both: one path component, a valid
//! ref, nothing a shell or a terminal would read as more than a name.

use crate::error::{Error, Result};

/// The longest name.
const MAX_LEN: usize = 64;

/// `name` when it may name a worktree; else a usage error that says which rule it broke
/// and what a good name looks like.
pub(crate) fn check(name: &str) -> Result<&str> {
    let why = problem(name);
    match why {
        None => Ok(name),
        Some(why) => Err(Error::usage(format!(
            "--worktree {name:?} is not a worktree name: {why}; use letters, digits, `-`, `_` and `.` (for example `--worktree fix-parser`)"
        ))),
    }
}

/// What is wrong with `name`, if anything.
fn problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > MAX_LEN {
        return Some("it is longer than 64 characters");
    }
    if name.chars().any(char::is_control) {
        return Some("it holds a control character");
    }
    if name.contains('/') || name.contains('\\') {
        return Some("it holds a `/`: it is one folder and one branch name");
    }
    if name.contains("..") {
        return Some("it holds `..`");
    }
    if name.starts_with('-') {
        return Some("it starts with `-` (git would read it as an option)");
    }
    if name.starts_with('.') {
        return Some("it starts with `.`");
    }
    if name.ends_with('.') || name.ends_with(".lock") {
        return Some("it ends with `.` or `.lock` (git refuses such a branch)");
    }
    if name.contains("@{") || name == "@" {
        return Some("it holds `@{` (git reads it as a ref expression)");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("it holds a character other than letters, digits, `-`, `_` and `.`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass_and_each_bad_one_says_why() {
        for good in ["parser", "fix-2", "a_b.c", "X"] {
            assert_eq!(check(good).ok(), Some(good), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("a/b", "`/`"),
            ("..", "`..`"),
            ("a..b", "`..`"),
            ("-rf", "starts with `-`"),
            (".hidden", "starts with `.`"),
            ("x.lock", "`.lock`"),
            ("x.", "ends with"),
            ("a@{1}", "`@{`"),
            ("tab\there", "control"),
            ("esc\u{1b}[31m", "control"),
            ("a b", "other than"),
            ("a:b", "other than"),
            ("ä", "other than"),
            (&"x".repeat(65), "longer"),
        ] {
            let message = check(bad).unwrap_err().to_string();
            assert!(message.contains(why), "{bad:?}: {message}");
        }
    }
}
