//! `install --statusline`: ralph-hook's status line in Claude Code's settings.json
//! (`"statusLine": {"type": "command", "command": "<binary> statusline"}`), set only
//! where the user has none of their own, and taken out again by uninstall.

use std::path::Path;

use serde_json::{Value, json};

use super::command_line::utf8_path;
use crate::error::Result;
use crate::shell;

/// The settings.json key Claude Code reads its status line from.
pub(super) const KEY: &str = "statusLine";

/// What adding the status line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Added {
    /// It was not there and now is.
    Set,
    /// ralph-hook's own was there already.
    Already,
    /// The user has a status line of their own, this command: left as it is.
    Theirs(String),
}

/// The command the status line runs.
pub(super) fn command(binary: &Path) -> Result<String> {
    Ok(format!("{} statusline", shell::quote(utf8_path(binary)?)))
}

/// Whether a status line entry is ralph-hook's: a command whose first word is a file
/// called `ralph-hook`, followed by `statusline`.
pub(super) fn is_ours(entry: &Value) -> bool {
    let Some(command) = entry.get("command").and_then(Value::as_str) else {
        return false;
    };
    let Some((program, rest)) = shell::first_word(command.trim_start()) else {
        return false;
    };
    (program == "ralph-hook" || program.ends_with("/ralph-hook"))
        && rest.split_whitespace().next() == Some("statusline")
}

/// Sets ralph-hook's status line in `settings` unless one is there.
pub(super) fn add(settings: &mut Value, binary: &Path) -> Result<Added> {
    let wanted = json!({ "type": "command", "command": command(binary)? });
    let Some(object) = settings.as_object_mut() else {
        return Ok(Added::Theirs("settings.json is not an object".into()));
    };
    match object.get(KEY) {
        None => {
            object.insert(KEY.into(), wanted);
            Ok(Added::Set)
        }
        Some(entry) if is_ours(entry) => {
            if *entry != wanted {
                object.insert(KEY.into(), wanted);
                return Ok(Added::Set);
            }
            Ok(Added::Already)
        }
        Some(entry) => Ok(Added::Theirs(
            entry
                .get("command")
                .and_then(Value::as_str)
                .map_or_else(|| entry.to_string(), str::to_owned),
        )),
    }
}

/// Takes ralph-hook's status line out of `settings`; a status line of the user's stays.
/// True when one was removed.
pub(super) fn remove(settings: &mut Value) -> bool {
    let Some(object) = settings.as_object_mut() else {
        return false;
    };
    if object.get(KEY).is_some_and(is_ours) {
        object.remove(KEY);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_only_where_there_is_none_and_removed_only_when_ours() {
        let binary = Path::new("/h/.claude/hooks/ralph-hook");
        let mut settings = json!({"model": "x"});
        assert_eq!(add(&mut settings, binary).unwrap(), Added::Set);
        assert_eq!(add(&mut settings, binary).unwrap(), Added::Already);
        assert!(remove(&mut settings));
        assert_eq!(settings, json!({"model": "x"}));

        let mut theirs = json!({"statusLine": {"type": "command", "command": "~/bin/line.sh"}});
        let before = theirs.clone();
        assert_eq!(
            add(&mut theirs, binary).unwrap(),
            Added::Theirs("~/bin/line.sh".into())
        );
        assert!(!remove(&mut theirs));
        assert_eq!(theirs, before);
    }
}
