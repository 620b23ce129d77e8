//! Hooks written inline in Codex's config.toml: `[[hooks.Stop]]` tables with
//! `[[hooks.Stop.hooks]]` handlers, or `hooks.Stop = [{ hooks = [{ … }] }]` arrays. Codex
//! 0.169 reads these as well as hooks.json, keys their trust as
//! `<abs config.toml>:<event>:<group>:<handler>`, and warns when both files hold hooks
//! ("prefer a single representation for this layer"); so when the user keeps hooks
//! here, ralph-hook's go here too, in the style the user's already have.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::command_line::{HookEvent, ralph_hook_event};
use super::config_toml;
use super::hook_edit::{self, Edit, Found, HandlerPosition, HookTable};
use super::hooks_json;
use super::json_text;
use super::layout::Layout;
use super::plan;
use crate::error::{Error, Result};

/// The key under `[hooks]` that holds trust, not an event.
const STATE: &str = "state";

/// Whether config.toml holds hook handlers of any event.
pub(super) fn has_hooks(doc: &DocumentMut) -> bool {
    hooks(doc).is_some_and(|hooks| {
        hooks
            .iter()
            .any(|(key, item)| key != STATE && groups(item).is_some())
    })
}

/// ralph-hook's handlers in config.toml, a Stop dispatcher, and the other Stop handlers.
pub(super) fn find(doc: &DocumentMut, path: &Path) -> Result<Found> {
    let mut found = Found::default();
    let Some(hooks) = hooks(doc) else {
        return Ok(found);
    };
    for event in HookEvent::ALL {
        let name = event.json_name();
        let Some(item) = hooks.get(name) else {
            continue;
        };
        let event_groups = groups(item).ok_or_else(|| {
            shape_error(
                path,
                &format!("`hooks.{name}` must be an array of handler groups ([[hooks.{name}]])"),
            )
        })?;
        for (group_index, group) in event_groups.into_iter().enumerate() {
            let handlers = group.get("hooks").and_then(groups).ok_or_else(|| {
                shape_error(
                    path,
                    &format!(
                        "group {group_index} of `hooks.{name}` must hold a `hooks` array of handlers ([[hooks.{name}.hooks]])"
                    ),
                )
            })?;
            for (handler_index, handler) in handlers.into_iter().enumerate() {
                let command = command_of(handler);
                found.note(event, group_index, handler_index, command);
            }
        }
    }
    Ok(found)
}

/// Makes config.toml hold exactly `wanted` as ralph-hook's handlers (see
/// [`hook_edit::install`]).
pub(super) fn install(
    doc: &mut DocumentMut,
    path: &Path,
    wanted: &[(HookEvent, Json)],
    dispatcher_owns_stop: bool,
) -> Result<Edit> {
    hook_edit::install(&mut TomlHooks { doc, path }, wanted, dispatcher_owns_stop)
}

/// Removes every ralph-hook handler, the groups and events that only held it, and a
/// `[hooks]` table this left empty.
pub(super) fn remove(doc: &mut DocumentMut, path: &Path) -> Result<Edit> {
    let edit = hook_edit::remove_ours(&mut TomlHooks { doc, path })?;
    if !edit.removed.is_empty()
        && doc
            .get("hooks")
            .and_then(Item::as_table_like)
            .is_some_and(TableLike::is_empty)
    {
        doc.remove("hooks");
    }
    Ok(edit)
}

/// How many handlers of anyone but ralph-hook config.toml holds, over every event.
pub(super) fn other_handlers(doc: &DocumentMut) -> usize {
    let Some(hooks) = hooks(doc) else {
        return 0;
    };
    hooks
        .iter()
        .filter(|(key, _)| *key != STATE)
        .filter_map(|(_, item)| groups(item))
        .flatten()
        .filter_map(|group| group.get("hooks").and_then(groups))
        .flatten()
        .filter(|handler| ralph_hook_event(command_of(*handler)).is_none())
        .count()
}

/// The file that holds (or would hold) ralph-hook's Codex handlers, and what is in it:
/// hooks.json, unless ralph-hook's handlers are inline in config.toml.
pub(super) fn codex_handlers(layout: &Layout) -> Result<(PathBuf, Found)> {
    let json_path = layout.hooks_file();
    let in_json = match plan::read_text(&json_path)? {
        Some(text) => hooks_json::find(&json_text::parse(&json_path, &text)?, &json_path)?,
        None => Found::default(),
    };
    if !in_json.ours.is_empty() {
        return Ok((json_path, in_json));
    }
    let toml_path = layout.config_toml();
    if let Some(text) = plan::read_text(&toml_path)? {
        let inline = find(&config_toml::parse(&toml_path, &text)?, &toml_path)?;
        if !inline.ours.is_empty() {
            return Ok((toml_path, inline));
        }
    }
    Ok((json_path, in_json))
}

fn hooks(doc: &DocumentMut) -> Option<&dyn TableLike> {
    doc.get("hooks")?.as_table_like()
}

/// The tables of an array of tables, or of an array of inline tables.
fn groups(item: &Item) -> Option<Vec<&dyn TableLike>> {
    match item {
        Item::ArrayOfTables(array) => Some(array.iter().map(|t| t as &dyn TableLike).collect()),
        Item::Value(Value::Array(array)) => array
            .iter()
            .map(|value| value.as_inline_table().map(|t| t as &dyn TableLike))
            .collect(),
        _ => None,
    }
}

fn groups_mut(item: &mut Item) -> Option<Vec<&mut dyn TableLike>> {
    match item {
        Item::ArrayOfTables(array) => {
            Some(array.iter_mut().map(|t| t as &mut dyn TableLike).collect())
        }
        Item::Value(Value::Array(array)) => array
            .iter_mut()
            .map(|value| value.as_inline_table_mut().map(|t| t as &mut dyn TableLike))
            .collect(),
        _ => None,
    }
}

/// The document position of the last `[[hooks.<event>]]` or `[[hooks.<event>.hooks]]`
/// table, if any has one.
fn last_hook_table_position(hooks: &dyn TableLike) -> Option<isize> {
    hooks
        .iter()
        .filter(|(key, _)| *key != STATE)
        .filter_map(|(_, item)| item.as_array_of_tables())
        .flat_map(|groups| groups.iter())
        .flat_map(|group| {
            let nested = group
                .get("hooks")
                .and_then(Item::as_array_of_tables)
                .into_iter()
                .flat_map(|handlers| handlers.iter().map(Table::position));
            std::iter::once(group.position()).chain(nested)
        })
        .flatten()
        .max()
}

fn len(item: &Item) -> usize {
    match item {
        Item::ArrayOfTables(array) => array.len(),
        Item::Value(Value::Array(array)) => array.len(),
        _ => 0,
    }
}

fn remove_at(item: &mut Item, index: usize) {
    match item {
        Item::ArrayOfTables(array) if index < array.len() => {
            array.remove(index);
        }
        Item::Value(Value::Array(array)) if index < array.len() => {
            array.remove(index);
        }
        _ => {}
    }
}

fn command_of(handler: &dyn TableLike) -> &str {
    handler
        .get("command")
        .and_then(Item::as_str)
        .unwrap_or_default()
}

/// A TOML value for a JSON scalar of a handler (strings and whole numbers are all
/// ralph-hook writes).
fn toml_value(value: &Json) -> Option<Value> {
    match value {
        Json::String(text) => Some(Value::from(text.as_str())),
        Json::Number(number) => number.as_i64().map(Value::from),
        Json::Bool(flag) => Some(Value::from(*flag)),
        _ => None,
    }
}

fn handler_fields(handler: &Json) -> Vec<(&str, Value)> {
    handler
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.as_str(), toml_value(value)?)))
        .collect()
}

fn shape_error(path: &Path, message: &str) -> Error {
    Error::input(
        path.display().to_string(),
        format!("{message} (nothing was changed)"),
    )
}

/// The config.toml side of [`HookTable`].
struct TomlHooks<'a> {
    doc: &'a mut DocumentMut,
    path: &'a Path,
}

impl TomlHooks<'_> {
    fn event_mut(&mut self, event: HookEvent) -> Option<&mut Item> {
        self.doc
            .get_mut("hooks")?
            .as_table_like_mut()?
            .get_mut(event.json_name())
    }
}

impl HookTable for TomlHooks<'_> {
    fn find(&self) -> Result<Found> {
        find(self.doc, self.path)
    }

    fn group_sizes(&self, event: HookEvent) -> Vec<usize> {
        hooks(self.doc)
            .and_then(|hooks| hooks.get(event.json_name()))
            .and_then(groups)
            .into_iter()
            .flatten()
            .map(|group| group.get("hooks").map_or(0, len))
            .collect()
    }

    fn replace(&mut self, position: &HandlerPosition, handler: &Json) {
        let Some(item) = self.event_mut(position.event) else {
            return;
        };
        let Some(mut groups) = groups_mut(item) else {
            return;
        };
        let Some(handlers) = groups
            .get_mut(position.group)
            .and_then(|group| group.get_mut("hooks"))
        else {
            return;
        };
        let Some(mut handlers) = groups_mut(handlers) else {
            return;
        };
        if let Some(slot) = handlers.get_mut(position.handler) {
            slot.clear();
            for (key, value) in handler_fields(handler) {
                slot.insert(key, Item::Value(value));
            }
        }
    }

    fn append(&mut self, event: HookEvent, handler: &Json) -> Result<()> {
        let path = self.path;
        let hooks_item = self.doc.entry("hooks").or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        });
        let hooks_inline = hooks_item.is_inline_table();
        let hooks = hooks_item
            .as_table_like_mut()
            .ok_or_else(|| shape_error(path, "`hooks` must be a table"))?;
        // The user's style: inline arrays when the event (or any other) is written so.
        let inline = match hooks.get(event.json_name()) {
            Some(Item::Value(Value::Array(_))) => true,
            Some(Item::ArrayOfTables(_)) => false,
            Some(_) => {
                return Err(shape_error(
                    path,
                    &format!(
                        "`hooks.{}` must be an array of handler groups",
                        event.json_name()
                    ),
                ));
            }
            None => {
                hooks_inline
                    || hooks
                        .iter()
                        .any(|(key, item)| key != STATE && item.is_array())
            }
        };
        let fields = handler_fields(handler);
        if inline {
            let mut handler = InlineTable::new();
            for (key, value) in fields {
                handler.insert(key, value);
            }
            let mut handlers = Array::new();
            handlers.push(handler);
            let mut group = InlineTable::new();
            group.insert("hooks", Value::Array(handlers));
            let groups = hooks
                .entry(event.json_name())
                .or_insert_with(|| Item::Value(Value::Array(Array::new())));
            if let Some(groups) = groups.as_array_mut() {
                // A new group starts as the last one does (on its own line in an array
                // written one group per line).
                let prefix = groups
                    .iter()
                    .last()
                    .and_then(|last| last.decor().prefix().cloned())
                    .filter(|prefix| prefix.as_str().is_some_and(|text| text.contains('\n')));
                match prefix {
                    Some(prefix) => {
                        let mut group = Value::InlineTable(group);
                        group.decor_mut().set_prefix(prefix);
                        group.decor_mut().set_suffix("");
                        groups.push_formatted(group);
                    }
                    None => groups.push(group),
                }
            }
        } else {
            let mut handler = Table::new();
            handler.decor_mut().set_prefix("");
            for (key, value) in fields {
                handler.insert(key, Item::Value(value));
            }
            let mut handlers = ArrayOfTables::new();
            handlers.push(handler);
            let mut group = Table::new();
            group.insert("hooks", Item::ArrayOfTables(handlers));
            if !hooks.contains_key(event.json_name()) {
                // A new event goes right after the user's hook tables, not after
                // whatever follows them (toml_edit places a table without a position
                // after the last table it visited before it).
                group.set_position(last_hook_table_position(hooks));
            }
            let groups = hooks
                .entry(event.json_name())
                .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
            if let Some(groups) = groups.as_array_of_tables_mut() {
                groups.push(group);
            }
        }
        Ok(())
    }

    fn remove(&mut self, positions: &[&HandlerPosition]) {
        for position in positions.iter().rev() {
            let Some(item) = self.event_mut(position.event) else {
                continue;
            };
            let emptied = groups_mut(item)
                .and_then(|mut groups| {
                    let handlers = groups.get_mut(position.group)?.get_mut("hooks")?;
                    let before = len(handlers);
                    remove_at(handlers, position.handler);
                    Some(before > 0 && len(handlers) == 0)
                })
                .unwrap_or(false);
            if emptied {
                remove_at(item, position.group);
            }
            if len(item) == 0
                && let Some(hooks) = self.doc.get_mut("hooks").and_then(Item::as_table_like_mut)
            {
                hooks.remove(position.event.json_name());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;
    use crate::install::hooks_json::handler;

    const STOP: &str = "\"/h/hooks/ralph-hook\" stop --agent codex";
    const PROMPT: &str = "\"/h/hooks/ralph-hook\" prompt --agent codex";

    fn wanted() -> Vec<(HookEvent, Json)> {
        vec![
            (HookEvent::Prompt, handler(HookEvent::Prompt, PROMPT)),
            (HookEvent::Stop, handler(HookEvent::Stop, STOP)),
        ]
    }

    fn install_into(text: &str) -> (String, Edit) {
        let mut doc: DocumentMut = text.parse().unwrap();
        let edit = install(&mut doc, Path::new("/h/config.toml"), &wanted(), true).unwrap();
        (doc.to_string(), edit)
    }

    #[test]
    fn tables_of_the_user_get_tables_of_ours_after_them() {
        let text = "model = \"o3\"\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"/bin/other\"\n\n[profiles.x]\nmodel = \"y\"\n";
        let (after, edit) = install_into(text);
        assert_eq!(
            after,
            "model = \"o3\"\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"/bin/other\"\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = '\"/h/hooks/ralph-hook\" stop --agent codex'\ntimeout = 600\nstatusMessage = \"ralph-hook: checking the loop\"\n\n[[hooks.UserPromptSubmit]]\n[[hooks.UserPromptSubmit.hooks]]\ntype = \"command\"\ncommand = '\"/h/hooks/ralph-hook\" prompt --agent codex'\ntimeout = 30\nstatusMessage = \"ralph-hook: reading the prompt\"\n\n[profiles.x]\nmodel = \"y\"\n"
        );
        assert!(edit.removed.is_empty() && edit.shifts.is_empty());
        let doc: DocumentMut = after.parse().unwrap();
        let found = find(&doc, Path::new("c")).unwrap();
        assert_eq!(found.ours.len(), 2);
        assert_eq!((found.ours[1].group, found.ours[1].handler), (1, 0));
        assert_eq!(found.other_stop_handlers, 1);
        assert_eq!(other_handlers(&doc), 1);
    }

    #[test]
    fn inline_arrays_of_the_user_get_inline_groups() {
        let text =
            "[hooks]\nStop = [{ hooks = [{ type = \"command\", command = \"/bin/other\" }] }]\n";
        let (after, _) = install_into(text);
        let doc: DocumentMut = after.parse().unwrap();
        assert!(doc["hooks"]["Stop"].is_array(), "{after}");
        assert!(doc["hooks"]["UserPromptSubmit"].is_array(), "{after}");
        assert_eq!(find(&doc, Path::new("c")).unwrap().ours.len(), 2);
    }

    #[test]
    fn installing_twice_changes_nothing_and_removing_restores_the_text() {
        let text = "# mine\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"/bin/other\"\n";
        let (once, _) = install_into(text);
        let (twice, _) = install_into(&once);
        assert_eq!(once, twice);
        let mut doc: DocumentMut = once.parse().unwrap();
        let edit = remove(&mut doc, Path::new("c")).unwrap();
        assert_eq!(edit.removed.len(), 2);
        assert!(edit.shifts.is_empty());
        assert_eq!(doc.to_string(), text);
    }

    #[test]
    fn removing_our_group_before_another_reports_the_shift() {
        let text = format!(
            "[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ncommand = '{STOP}'\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ncommand = \"/bin/later\"\n"
        );
        let mut doc: DocumentMut = text.parse().unwrap();
        let edit = remove(&mut doc, Path::new("c")).unwrap();
        assert_eq!(
            edit.shifts,
            vec![hook_edit::Shift {
                event: HookEvent::Stop,
                from: (1, 0),
                to: (0, 0)
            }]
        );
        assert_eq!(
            doc.to_string(),
            "\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ncommand = \"/bin/later\"\n"
        );
    }

    #[test]
    fn only_event_arrays_count_as_hooks() {
        let with_state: DocumentMut = "[hooks.state.\"k\"]\ntrusted_hash = \"x\"\n"
            .parse()
            .unwrap();
        assert!(!has_hooks(&with_state));
        let inline: DocumentMut = "hooks.PreToolUse = []\n".parse().unwrap();
        assert!(has_hooks(&inline));
    }

    #[test]
    fn a_stop_that_is_not_an_array_is_refused() {
        let mut doc: DocumentMut = "[hooks.Stop]\ncommand = \"x\"\n".parse().unwrap();
        let err = install(&mut doc, Path::new("/h/config.toml"), &wanted(), true).unwrap_err();
        assert_eq!(err.code(), error::EXIT_DATA);
        assert!(err.to_string().contains("hooks.Stop"), "{err}");
    }
}
