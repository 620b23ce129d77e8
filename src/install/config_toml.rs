//! Pure edits of Codex's config.toml with toml_edit, which keeps comments, ordering,
//! dotted keys and inline tables: the hooks feature flag, and the `[hooks.state]` trust
//! entries Codex reads before it runs a user hook.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table, TableLike, value};

use super::json_text::BOM;
use crate::error::{Error, Result};

/// The feature keys that switch hooks on: `hooks` (stable) and the deprecated alias
/// `codex_hooks` that older Codex releases read.
const FEATURE_KEYS: [&str; 2] = ["hooks", "codex_hooks"];

/// One feature key install changed, and what it was before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FeatureChange {
    /// The key under `[features]`.
    pub key: String,
    /// Its value before install (absent when there was none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<bool>,
}

/// One trust entry install wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrustEntry {
    /// Codex's key: `<abs hooks.json>:<event>:<group>:<handler>`.
    pub key: String,
    /// The `trusted_hash` written (`sha256:…`).
    pub hash: String,
    /// The hash that was there before, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Parses config.toml; malformed text is an input error naming file, line and column.
pub(super) fn parse(path: &Path, text: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|err| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        let message = err.message().trim().to_owned();
        Error::input(
            format!("{}:{line}:{column}", path.display()),
            format!("malformed TOML: {message}; fix the file (nothing was changed)"),
        )
    })
}

/// Renders the document, keeping CRLF line endings and a leading byte order mark when the
/// original had them (toml_edit drops the mark when it parses).
pub(super) fn render(doc: &DocumentMut, original: &str) -> String {
    let text = doc.to_string();
    let mut text = if original.contains("\r\n") {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text
    };
    if original.starts_with(BOM) && !text.starts_with(BOM) {
        text.insert(0, BOM);
    }
    text
}

/// Switches hooks on: `[features] hooks = true`, and `codex_hooks = true` when that key is
/// present (an alias the user set must not contradict the new name).
pub(super) fn enable_hooks(doc: &mut DocumentMut, path: &Path) -> Result<Vec<FeatureChange>> {
    let features = doc
        .entry("features")
        .or_insert_with(|| Item::Table(Table::new()));
    let inline = features.is_inline_table();
    let features = features
        .as_table_like_mut()
        .ok_or_else(|| not_a_table(path, "features"))?;
    let mut changes = Vec::new();
    for key in FEATURE_KEYS {
        let present = features.get(key);
        if key == "codex_hooks" && present.is_none() {
            continue;
        }
        let previous = present.and_then(Item::as_bool);
        if previous == Some(true) {
            continue;
        }
        set_bool(features, key, true, inline);
        changes.push(FeatureChange {
            key: key.into(),
            previous,
        });
    }
    Ok(changes)
}

/// Whether hooks are on: neither key says `false` (on by default since Codex 0.169).
pub(super) fn hooks_enabled(doc: &DocumentMut) -> bool {
    let Some(features) = doc.get("features").and_then(Item::as_table_like) else {
        return true;
    };
    FEATURE_KEYS
        .iter()
        .all(|key| features.get(key).and_then(Item::as_bool) != Some(false))
}

/// Whether config.toml itself says `[features] hooks = true` (else hooks are on only by
/// Codex's default).
pub(super) fn hooks_set_on(doc: &DocumentMut) -> bool {
    doc.get("features")
        .and_then(Item::as_table_like)
        .and_then(|features| features.get(FEATURE_KEYS[0]))
        .and_then(Item::as_bool)
        == Some(true)
}

/// The feature keys that switch hooks off (`hooks = false`, `codex_hooks = false`).
pub(super) fn disabled_keys(doc: &DocumentMut) -> Vec<&'static str> {
    let Some(features) = doc.get("features").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    FEATURE_KEYS
        .into_iter()
        .filter(|key| features.get(key).and_then(Item::as_bool) == Some(false))
        .collect()
}

/// Undoes [`enable_hooks`] for keys that still hold what install set; drops a
/// `[features]` table left empty.
pub(super) fn restore_features(doc: &mut DocumentMut, changes: &[FeatureChange]) {
    let Some(features) = doc.get_mut("features") else {
        return;
    };
    let inline = features.is_inline_table();
    let Some(features) = features.as_table_like_mut() else {
        return;
    };
    for change in changes {
        if features.get(&change.key).and_then(Item::as_bool) != Some(true) {
            continue;
        }
        match change.previous {
            Some(previous) => set_bool(features, &change.key, previous, inline),
            None => {
                let removed = features.remove(&change.key);
                let suffix = removed
                    .as_ref()
                    .and_then(Item::as_value)
                    .and_then(|removed| removed.decor().suffix().cloned());
                if inline
                    && let Some(suffix) = suffix
                    && let Some((_, last)) = features.iter_mut().last()
                    && let Some(last) = last.as_value_mut()
                {
                    last.decor_mut().set_suffix(suffix);
                }
            }
        }
    }
    if features.is_empty() {
        doc.remove("features");
    }
}

/// The `trusted_hash` recorded for a trust key, if any.
pub(super) fn trusted_hash(doc: &DocumentMut, key: &str) -> Option<String> {
    doc.get("hooks")?
        .get("state")?
        .get(key)?
        .get("trusted_hash")?
        .as_str()
        .map(str::to_owned)
}

/// Records each `(key, hash)` as trusted under `[hooks.state."<key>"]`, as Codex's own
/// `/hooks` does. Returns the entries written (with what they replaced).
pub(super) fn trust(
    doc: &mut DocumentMut,
    path: &Path,
    wanted: &[(String, String)],
) -> Result<Vec<TrustEntry>> {
    let mut written = Vec::new();
    for (key, hash) in wanted {
        let previous = trusted_hash(doc, key);
        if previous.as_deref() == Some(hash.as_str()) {
            continue;
        }
        let state = state_table(doc, path)?;
        match state.get_mut(key).and_then(Item::as_table_like_mut) {
            Some(entry) => {
                entry.insert("trusted_hash", value(hash.as_str()));
            }
            None => {
                let mut entry = Table::new();
                entry.insert("trusted_hash", value(hash.as_str()));
                state.insert(key, Item::Table(entry));
            }
        }
        written.push(TrustEntry {
            key: key.clone(),
            hash: hash.clone(),
            previous,
        });
    }
    Ok(written)
}

/// Removes trust entries for these keys: an entry install wrote goes back to what it
/// replaced; a key listed without a hash goes whatever it holds. Then drops a
/// `[hooks.state]` and `[hooks]` left empty.
pub(super) fn untrust(doc: &mut DocumentMut, entries: &[TrustEntry], stale_keys: &[String]) {
    let Some(state) = doc
        .get_mut("hooks")
        .and_then(|hooks| hooks.get_mut("state"))
        .and_then(Item::as_table_like_mut)
    else {
        return;
    };
    for entry in entries {
        let current = state
            .get(&entry.key)
            .and_then(|item| item.get("trusted_hash"))
            .and_then(Item::as_str);
        if current != Some(entry.hash.as_str()) {
            continue;
        }
        match &entry.previous {
            Some(previous) => {
                if let Some(table) = state.get_mut(&entry.key).and_then(Item::as_table_like_mut) {
                    table.insert("trusted_hash", value(previous.as_str()));
                }
            }
            None => {
                state.remove(&entry.key);
            }
        }
    }
    for key in stale_keys {
        if !entries.iter().any(|entry| &entry.key == key) {
            state.remove(key);
        }
    }
    if state.is_empty() {
        if let Some(hooks) = doc.get_mut("hooks").and_then(Item::as_table_like_mut) {
            hooks.remove("state");
        }
        if doc
            .get("hooks")
            .and_then(Item::as_table_like)
            .is_some_and(TableLike::is_empty)
        {
            doc.remove("hooks");
        }
    }
}

/// `[hooks.state]`, created as implicit tables (no header of their own) when missing.
fn state_table<'d>(doc: &'d mut DocumentMut, path: &Path) -> Result<&'d mut Table> {
    let hooks = doc.entry("hooks").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let hooks = hooks
        .as_table_mut()
        .ok_or_else(|| not_a_table(path, "hooks"))?;
    let state = hooks.entry("state").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    state
        .as_table_mut()
        .ok_or_else(|| not_a_table(path, "hooks.state"))
}

fn set_bool(table: &mut dyn TableLike, key: &str, flag: bool, inline: bool) {
    match table.get_mut(key) {
        Some(Item::Value(existing)) => {
            let decor = existing.decor().clone();
            *existing = toml_edit::Value::from(flag);
            *existing.decor_mut() = decor;
        }
        _ => {
            // In an inline table the last value carries the space before `}`: hand it on
            // to the new last value, so `{ a = 1 }` becomes `{ a = 1, b = true }`.
            let mut new_value = toml_edit::Value::from(flag);
            if inline
                && let Some((_, last)) = table.iter_mut().last()
                && let Some(last) = last.as_value_mut()
                && let Some(suffix) = last.decor().suffix().cloned()
            {
                last.decor_mut().set_suffix("");
                new_value.decor_mut().set_suffix(suffix);
            }
            table.insert(key, Item::Value(new_value));
        }
    }
}

fn not_a_table(path: &Path, key: &str) -> Error {
    Error::input(
        path.display().to_string(),
        format!(
            "`{key}` must be a table written as [{key}] for ralph-hook to edit it (nothing was changed)"
        ),
    )
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;

    fn enable(text: &str) -> String {
        let mut doc = parse(Path::new("config.toml"), text).unwrap();
        enable_hooks(&mut doc, Path::new("config.toml")).unwrap();
        render(&doc, text)
    }

    #[test]
    fn a_missing_file_gets_a_features_table() {
        assert_eq!(enable(""), "[features]\nhooks = true\n");
    }

    #[test]
    fn comments_and_order_stay() {
        let text = "# top\nmodel = \"o3\" # inline\n\n[features] # mine\n# note\nother = 1 # c\n\n[x]\ny = 2\n";
        assert_eq!(
            enable(text),
            "# top\nmodel = \"o3\" # inline\n\n[features] # mine\n# note\nother = 1 # c\nhooks = true\n\n[x]\ny = 2\n"
        );
    }

    #[test]
    fn dotted_keys_stay_dotted_and_the_alias_is_kept_consistent() {
        let text = "model = \"o3\"\nfeatures.codex_hooks = false\n";
        assert_eq!(
            enable(text),
            "model = \"o3\"\nfeatures.codex_hooks = true\nfeatures.hooks = true\n"
        );
    }

    #[test]
    fn inline_tables_stay_inline() {
        let text = "features = { codex_hooks = false, web = true }\n";
        assert_eq!(
            enable(text),
            "features = { codex_hooks = true, web = true, hooks = true }\n"
        );
    }

    #[test]
    fn no_trailing_newline_and_crlf_are_kept() {
        assert_eq!(enable("a = 1"), "a = 1\n\n[features]\nhooks = true\n");
        assert_eq!(
            enable("a = 1\r\n[features]\r\nhooks = false # off\r\n"),
            "a = 1\r\n[features]\r\nhooks = true # off\r\n"
        );
    }

    #[test]
    fn a_file_already_enabled_is_unchanged() {
        let text = "[features]\nhooks = true\n";
        let mut doc = parse(Path::new("c"), text).unwrap();
        assert!(enable_hooks(&mut doc, Path::new("c")).unwrap().is_empty());
        assert_eq!(render(&doc, text), text);
    }

    #[test]
    fn features_restore_exactly() {
        for text in [
            "",
            "a = 1\n",
            "[features]\nhooks = false\n",
            "features.codex_hooks = false\n",
            "features = { web = true }\n",
        ] {
            let mut doc = parse(Path::new("c"), text).unwrap();
            let changes = enable_hooks(&mut doc, Path::new("c")).unwrap();
            let mut back = parse(Path::new("c"), &render(&doc, text)).unwrap();
            restore_features(&mut back, &changes);
            assert_eq!(render(&back, text), text, "{text:?}");
        }
    }

    #[test]
    fn trust_entries_are_added_and_removed() {
        let text = "[features]\nhooks = true\n";
        let mut doc = parse(Path::new("c"), text).unwrap();
        let wanted = vec![("/h/hooks.json:stop:0:0".to_owned(), "sha256:abc".to_owned())];
        let written = trust(&mut doc, Path::new("c"), &wanted).unwrap();
        let trusted = render(&doc, text);
        assert_eq!(
            trusted,
            "[features]\nhooks = true\n\n[hooks.state.\"/h/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:abc\"\n"
        );
        let mut doc = parse(Path::new("c"), &trusted).unwrap();
        assert!(trust(&mut doc, Path::new("c"), &wanted).unwrap().is_empty());
        untrust(&mut doc, &written, &[]);
        assert_eq!(render(&doc, text), text);
    }

    #[test]
    fn trust_joins_an_existing_hooks_state_table() {
        let text = "[hooks.state]\n\n[hooks.state.\"/o:stop:0:0\"]\ntrusted_hash = \"sha256:1\"\n";
        let mut doc = parse(Path::new("c"), text).unwrap();
        let written = trust(
            &mut doc,
            Path::new("c"),
            &[("/h:stop:1:0".into(), "sha256:2".into())],
        )
        .unwrap();
        assert_eq!(
            render(&doc, text),
            format!("{text}\n[hooks.state.\"/h:stop:1:0\"]\ntrusted_hash = \"sha256:2\"\n")
        );
        untrust(&mut doc, &written, &[]);
        assert_eq!(render(&doc, text), text);
    }

    #[test]
    fn malformed_toml_names_line_and_column() {
        let err = parse(Path::new("/h/config.toml"), "a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(err.code(), error::EXIT_DATA);
        assert!(err.to_string().starts_with("/h/config.toml:2:"), "{err}");
    }
}
