//! Codex's hook trust keys, `<abs path of the hooks file>:<event>:<group>:<handler>`
//! (measured on Codex 0.169.0 for hooks.json and for hooks inline in config.toml), and
//! keeping `[hooks.state."<key>"]` entries with their handlers when positions change.
//! The trusted hash depends only on the handler's content, so a moved entry stays valid.

use std::path::Path;

use toml_edit::{DocumentMut, Item, TableLike};

use super::command_line::HookEvent;
use super::hook_edit::{HandlerPosition, Shift};

/// The spellings of one hooks file that may begin its trust keys: the path as ralph-hook
/// knows it and, when it differs, the path with symlinks resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SourceNames(Vec<String>);

impl SourceNames {
    /// The names of the file at `path` (reads the filesystem to resolve links).
    pub(super) fn of(path: &Path) -> Self {
        let mut names = vec![path.to_string_lossy().into_owned()];
        if let Ok(real) = std::fs::canonicalize(path) {
            let real = real.to_string_lossy().into_owned();
            if !names.contains(&real) {
                names.push(real);
            }
        }
        SourceNames(names)
    }
}

/// Splits a trust key into its source path, event name, group and handler index.
pub(super) fn parse(key: &str) -> Option<(&str, &str, usize, usize)> {
    let mut parts = key.rsplitn(4, ':');
    let handler = parts.next()?.parse().ok()?;
    let group = parts.next()?.parse().ok()?;
    let event = parts.next()?;
    let source = parts.next()?;
    Some((source, event, group, handler))
}

/// `[hooks.state]`, whichever way it is written.
fn state(doc: &DocumentMut) -> Option<&dyn TableLike> {
    doc.get("hooks")?.get("state")?.as_table_like()
}

fn state_mut(doc: &mut DocumentMut) -> Option<&mut dyn TableLike> {
    doc.get_mut("hooks")?.get_mut("state")?.as_table_like_mut()
}

/// Every `[hooks.state]` key with its `trusted_hash`, in file order.
pub(super) fn entries(doc: &DocumentMut) -> Vec<(String, Option<String>)> {
    state(doc)
        .map(|state| {
            state
                .iter()
                .map(|(key, item)| {
                    let hash = item
                        .get("trusted_hash")
                        .and_then(Item::as_str)
                        .map(str::to_owned);
                    (key.to_owned(), hash)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The keys in `[hooks.state]` that name this position of the file.
pub(super) fn keys_at(
    doc: &DocumentMut,
    names: &SourceNames,
    event: HookEvent,
    group: usize,
    handler: usize,
) -> Vec<String> {
    entries(doc)
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| {
            parse(key).is_some_and(|(source, name, g, h)| {
                names.0.iter().any(|known| known == source)
                    && name == event.trust_key_name()
                    && (g, h) == (group, handler)
            })
        })
        .collect()
}

/// The keys of these (removed) positions of ralph-hook's handlers.
pub(super) fn keys_of(
    doc: &DocumentMut,
    names: &SourceNames,
    positions: &[HandlerPosition],
) -> Vec<String> {
    positions
        .iter()
        .flat_map(|p| keys_at(doc, names, p.event, p.group, p.handler))
        .collect()
}

/// Moves the trust entry of each shifted handler to its new key (replacing whatever is
/// there: a stale entry of a handler that is gone). Returns how many moved.
pub(super) fn apply_shifts(doc: &mut DocumentMut, names: &SourceNames, shifts: &[Shift]) -> usize {
    let mut moves = Vec::new();
    for shift in shifts {
        for old in keys_at(doc, names, shift.event, shift.from.0, shift.from.1) {
            let Some((source, event, _, _)) = parse(&old) else {
                continue;
            };
            let new = format!("{source}:{event}:{}:{}", shift.to.0, shift.to.1);
            moves.push((old, new));
        }
    }
    let Some(state) = state_mut(doc) else {
        return 0;
    };
    let taken: Vec<(String, Item)> = moves
        .into_iter()
        .filter_map(|(old, new)| state.remove(&old).map(|item| (new, item)))
        .collect();
    let count = taken.len();
    for (new, item) in taken {
        state.insert(&new, item);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &str) -> SourceNames {
        SourceNames(vec![path.to_owned()])
    }

    #[test]
    fn keys_split_from_the_right_so_paths_may_hold_colons() {
        assert_eq!(
            parse("/h/a:b/hooks.json:stop:2:1"),
            Some(("/h/a:b/hooks.json", "stop", 2, 1))
        );
        assert_eq!(parse("/h/hooks.json:stop:x:1"), None);
    }

    #[test]
    fn shifted_entries_move_and_keep_their_hash_and_place() {
        let text = "model = \"o3\"\n\n[hooks.state.\"/h/hooks.json:stop:1:0\"]\ntrusted_hash = \"sha256:ours\"\n\n[hooks.state.\"/h/hooks.json:stop:2:0\"]\ntrusted_hash = \"sha256:theirs\"\nenabled = true\n\n[hooks.state.\"/other/hooks.json:stop:2:0\"]\ntrusted_hash = \"sha256:elsewhere\"\n";
        let mut doc: DocumentMut = text.parse().unwrap();
        let state = doc["hooks"]["state"].as_table_like_mut().unwrap();
        state.remove("/h/hooks.json:stop:1:0");
        let moved = apply_shifts(
            &mut doc,
            &names("/h/hooks.json"),
            &[Shift {
                event: HookEvent::Stop,
                from: (2, 0),
                to: (1, 0),
            }],
        );
        assert_eq!(moved, 1);
        assert_eq!(
            doc.to_string(),
            "model = \"o3\"\n\n[hooks.state.\"/h/hooks.json:stop:1:0\"]\ntrusted_hash = \"sha256:theirs\"\nenabled = true\n\n[hooks.state.\"/other/hooks.json:stop:2:0\"]\ntrusted_hash = \"sha256:elsewhere\"\n"
        );
    }

    #[test]
    fn a_chain_of_shifts_moves_every_entry_once() {
        let text = "[hooks.state.\"/h:stop:1:0\"]\ntrusted_hash = \"b\"\n[hooks.state.\"/h:stop:2:0\"]\ntrusted_hash = \"c\"\n";
        let mut doc: DocumentMut = text.parse().unwrap();
        let shift = |from: usize| Shift {
            event: HookEvent::Stop,
            from: (from, 0),
            to: (from - 1, 0),
        };
        apply_shifts(&mut doc, &names("/h"), &[shift(1), shift(2)]);
        let entries = entries(&doc);
        assert_eq!(
            entries,
            vec![
                ("/h:stop:0:0".to_owned(), Some("b".to_owned())),
                ("/h:stop:1:0".to_owned(), Some("c".to_owned())),
            ]
        );
    }
}
