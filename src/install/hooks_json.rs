//! Pure edits of the `hooks` object shared by Codex's hooks.json and Claude Code's
//! settings.json: add ralph-hook's two handlers, find them, remove them. Every other event,
//! group and handler stays where it was.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::command_line::{HookEvent, ralph_hook_event};
use super::hook_edit::{self, HookTable};
pub(super) use super::hook_edit::{Edit, Found, HandlerPosition};
use crate::error::{Error, Result};

/// Which file is being edited: Codex's hooks.json only allows `hooks` and `description`
/// at its root; Claude Code's settings.json holds everything else too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HooksFile {
    /// `<codex home>/hooks.json`.
    CodexHooks,
    /// `<claude home>/settings.json`.
    ClaudeSettings,
}

/// The handler object ralph-hook writes for one event.
pub(super) fn handler(event: HookEvent, command: &str) -> Value {
    json!({
        "type": "command",
        "command": command,
        "timeout": event.timeout_secs(),
        "statusMessage": event.status_message(),
    })
}

/// Checks the root of the file: an object, and for hooks.json no keys Codex rejects.
pub(super) fn check_root(root: &Value, path: &Path, file: HooksFile) -> Result<()> {
    let Some(object) = root.as_object() else {
        return Err(shape_error(path, "the file must hold a JSON object"));
    };
    match file {
        HooksFile::CodexHooks => {
            if let Some(key) = object
                .keys()
                .find(|key| *key != "hooks" && *key != "description")
            {
                return Err(shape_error(
                    path,
                    &format!(
                        "unknown top-level key {key:?}: Codex rejects a hooks.json whose root has keys other than \"hooks\" and \"description\"; move or remove it, then run install again"
                    ),
                ));
            }
        }
        HooksFile::ClaudeSettings => {}
    }
    if let Some(hooks) = object.get("hooks")
        && !hooks.is_object()
    {
        return Err(shape_error(path, "\"hooks\" must be an object of events"));
    }
    Ok(())
}

/// Lists ralph-hook's handlers and any Stop dispatcher, checking the shape of the two
/// events ralph-hook uses.
pub(super) fn find(root: &Value, path: &Path) -> Result<Found> {
    let mut found = Found::default();
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return Ok(found);
    };
    for event in HookEvent::ALL {
        let Some(groups) = hooks.get(event.json_name()) else {
            continue;
        };
        let groups = groups.as_array().ok_or_else(|| {
            shape_error(
                path,
                &format!(
                    "\"hooks\".{:?} must be an array of handler groups",
                    event.json_name()
                ),
            )
        })?;
        for (group_index, group) in groups.iter().enumerate() {
            let handlers = group_handlers(group).ok_or_else(|| {
                shape_error(
                    path,
                    &format!(
                        "\"hooks\".{:?}[{group_index}] must be an object with a \"hooks\" array",
                        event.json_name()
                    ),
                )
            })?;
            for (handler_index, handler) in handlers.iter().enumerate() {
                let command = handler
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                found.note(event, group_index, handler_index, command);
            }
        }
    }
    Ok(found)
}

/// Makes the file hold exactly `wanted` as ralph-hook's handlers (see
/// [`hook_edit::install`]), creating the `hooks` object when there is none.
pub(super) fn install(
    root: &mut Value,
    path: &Path,
    file: HooksFile,
    wanted: &[(HookEvent, Value)],
    dispatcher_owns_stop: bool,
) -> Result<Edit> {
    check_root(root, path, file)?;
    root.as_object_mut()
        .ok_or_else(|| shape_error(path, "the file must hold a JSON object"))?
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    hook_edit::install(&mut JsonHooks { root, path }, wanted, dispatcher_owns_stop)
}

/// Removes every ralph-hook handler, then the groups and events that only held it.
pub(super) fn remove(root: &mut Value, path: &Path) -> Result<Edit> {
    hook_edit::remove_ours(&mut JsonHooks { root, path })
}

/// Whether the file holds any hook event at all.
pub(super) fn has_hooks(root: &Value) -> bool {
    root.get("hooks")
        .and_then(Value::as_object)
        .is_some_and(|hooks| !hooks.is_empty())
}

/// How many handlers of anyone but ralph-hook the file holds, over every event.
pub(super) fn other_handlers(root: &Value) -> usize {
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return 0;
    };
    hooks
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(group_handlers)
        .flatten()
        .filter(|handler| {
            let command = handler.get("command").and_then(Value::as_str);
            command.and_then(ralph_hook_event).is_none()
        })
        .count()
}

/// Drops a `hooks` object that is empty: for uninstall, when install created it.
pub(super) fn drop_empty_hooks(root: &mut Value) {
    if let Some(object) = root.as_object_mut()
        && object
            .get("hooks")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        object.shift_remove("hooks");
    }
}

/// The JSON side of [`HookTable`].
struct JsonHooks<'a> {
    root: &'a mut Value,
    path: &'a Path,
}

impl JsonHooks<'_> {
    fn hooks_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.root.get_mut("hooks").and_then(Value::as_object_mut)
    }
}

impl HookTable for JsonHooks<'_> {
    fn find(&self) -> Result<Found> {
        find(self.root, self.path)
    }

    fn group_sizes(&self, event: HookEvent) -> Vec<usize> {
        self.root
            .get("hooks")
            .and_then(|hooks| hooks.get(event.json_name()))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|group| group_handlers(group).map_or(0, Vec::len))
            .collect()
    }

    fn replace(&mut self, position: &HandlerPosition, handler: &Value) {
        let slot = self
            .hooks_mut()
            .and_then(|hooks| hooks.get_mut(position.event.json_name()))
            .and_then(|groups| groups.get_mut(position.group))
            .and_then(|group| group.get_mut("hooks"))
            .and_then(|handlers| handlers.get_mut(position.handler));
        if let Some(slot) = slot {
            *slot = handler.clone();
        }
    }

    fn append(&mut self, event: HookEvent, handler: &Value) -> Result<()> {
        let path = self.path;
        let hooks = self
            .hooks_mut()
            .ok_or_else(|| shape_error(path, "\"hooks\" must be an object of events"))?;
        let groups = hooks
            .entry(event.json_name())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(groups) = groups.as_array_mut() {
            groups.push(json!({ "hooks": [handler] }));
        }
        Ok(())
    }

    fn remove(&mut self, positions: &[&HandlerPosition]) {
        if let Some(hooks) = self.hooks_mut() {
            remove_positions(hooks, positions);
        }
    }
}

/// Removes handlers at these positions, back to front so indexes stay valid, dropping a
/// group or event that this emptied (never one that was empty already).
fn remove_positions(hooks: &mut Map<String, Value>, positions: &[&HandlerPosition]) {
    for position in positions.iter().rev() {
        let name = position.event.json_name();
        let Some(groups) = hooks.get_mut(name).and_then(Value::as_array_mut) else {
            continue;
        };
        if let Some(handlers) = groups
            .get_mut(position.group)
            .and_then(|group| group.get_mut("hooks"))
            .and_then(Value::as_array_mut)
            && position.handler < handlers.len()
        {
            handlers.remove(position.handler);
            if handlers.is_empty() {
                groups.remove(position.group);
            }
        }
        if groups.is_empty() {
            hooks.shift_remove(name);
        }
    }
}

fn group_handlers(group: &Value) -> Option<&Vec<Value>> {
    group.as_object()?.get("hooks")?.as_array()
}

fn shape_error(path: &Path, message: &str) -> Error {
    Error::input(
        path.display().to_string(),
        format!("{message} (nothing was changed)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;

    const PROMPT: &str = "\"/h/hooks/ralph-hook\" prompt --agent codex";
    const STOP: &str = "\"/h/hooks/ralph-hook\" stop --agent codex";

    fn wanted() -> Vec<(HookEvent, Value)> {
        vec![
            (HookEvent::Prompt, handler(HookEvent::Prompt, PROMPT)),
            (HookEvent::Stop, handler(HookEvent::Stop, STOP)),
        ]
    }

    fn install_into(mut root: Value) -> Result<(Value, Vec<String>)> {
        let edit = install(
            &mut root,
            Path::new("/h/hooks.json"),
            HooksFile::CodexHooks,
            &wanted(),
            true,
        )?;
        Ok((root, edit.notes))
    }

    #[test]
    fn an_empty_file_gets_both_handlers() {
        let (root, notes) = install_into(json!({})).unwrap();
        assert_eq!(
            root,
            json!({"hooks": {
                "UserPromptSubmit": [{"hooks": [{"type": "command", "command": PROMPT, "timeout": 30, "statusMessage": "ralph-hook: reading the prompt"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": STOP, "timeout": 600, "statusMessage": "ralph-hook: checking the loop"}]}],
            }})
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn other_handlers_keep_their_places_and_ours_go_last() {
        let before = json!({"description": "mine", "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "/bin/other"}]}],
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "x"}]}],
        }});
        let (root, notes) = install_into(before).unwrap();
        assert_eq!(
            root,
            json!({"description": "mine", "hooks": {
                "Stop": [
                    {"hooks": [{"type": "command", "command": "/bin/other"}]},
                    {"hooks": [handler(HookEvent::Stop, STOP)]},
                ],
                "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "x"}]}],
                "UserPromptSubmit": [{"hooks": [handler(HookEvent::Prompt, PROMPT)]}],
            }})
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("joins their reasons"));
    }

    #[test]
    fn installing_twice_changes_nothing() {
        let (once, _) = install_into(json!({})).unwrap();
        let (twice, _) = install_into(once.clone()).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn an_old_handler_is_updated_in_place_and_duplicates_go() {
        let before = json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "/old/ralph-hook stop", "timeout": 5}]},
            {"hooks": [{"type": "command", "command": "/bin/other"}]},
            {"hooks": [{"type": "command", "command": "/old2/ralph-hook stop"}]},
        ]}});
        let (root, _) = install_into(before).unwrap();
        assert_eq!(
            root["hooks"]["Stop"],
            json!([
                {"hooks": [handler(HookEvent::Stop, STOP)]},
                {"hooks": [{"type": "command", "command": "/bin/other"}]},
            ])
        );
    }

    #[test]
    fn a_cmux_dispatcher_keeps_the_stop_event() {
        let stop = json!([{"hooks": [{"type": "command", "command": "bash /h/hooks/cmux-stop-dispatch.sh"}]}]);
        let (root, notes) = install_into(json!({"hooks": {"Stop": stop.clone()}})).unwrap();
        assert_eq!(root["hooks"]["Stop"], stop);
        assert!(root["hooks"]["UserPromptSubmit"].is_array());
        assert!(notes[0].contains("owned by the dispatcher"), "{notes:?}");
    }

    #[test]
    fn unknown_root_keys_are_refused_in_hooks_json() {
        let err = install_into(json!({"hooks": {}, "version": 1})).unwrap_err();
        assert_eq!(err.code(), error::EXIT_DATA);
        assert!(err.to_string().contains("\"version\""), "{err}");
    }

    #[test]
    fn a_stop_that_is_not_an_array_is_refused() {
        let err = install_into(json!({"hooks": {"Stop": {"hooks": []}}})).unwrap_err();
        assert!(err.to_string().contains("must be an array"), "{err}");
    }

    #[test]
    fn remove_takes_only_ours_and_the_groups_it_emptied() {
        let before = json!({"hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "/bin/other"}, handler(HookEvent::Stop, STOP)]}],
            "UserPromptSubmit": [{"hooks": [handler(HookEvent::Prompt, PROMPT)]}],
            "SessionStart": [],
        }});
        let mut root = before;
        let edit = remove(&mut root, Path::new("x")).unwrap();
        assert_eq!(edit.removed.len(), 2);
        assert!(edit.shifts.is_empty());
        assert_eq!(
            root,
            json!({"hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": "/bin/other"}]}],
                "SessionStart": [],
            }})
        );
    }
}
