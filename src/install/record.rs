//! The install record, `<home>/hooks/ralph-hook.install.json`: what install found and
//! changed, so that uninstall can undo exactly that — the user's original bytes when the
//! file is still as install left it, and only ralph-hook's own entries otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::block_cap::CapRaised;
use super::config_toml::{FeatureChange, TrustEntry};
use super::plan::{self, Change, Content};
use crate::error::{self, Result};

/// File name of the record inside `<home>/hooks/`.
pub(super) const FILE_NAME: &str = "ralph-hook.install.json";

/// A config file's text before install first edited it and after install last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FileRecord {
    /// The text before (absent when install created the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The text install wrote last.
    pub after: String,
}

/// Everything uninstall needs to know about one host's install.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InstallRecord {
    /// The ralph-hook version that wrote the record.
    #[serde(default)]
    pub version: String,
    /// Config files by name (`hooks.json`, `config.toml`, `settings.json`).
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
    /// Feature keys install switched on in config.toml.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureChange>,
    /// Trust entries install wrote in config.toml.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<TrustEntry>,
    /// The Claude block cap install raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_cap: Option<CapRaised>,
    /// Folders install created, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<PathBuf>,
    /// Config files (by name) that did not exist before install wrote them: uninstall
    /// removes one that holds nothing else, and never backs up install's own text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_files: Vec<String>,
    /// Config files (by name) whose `hooks` object install created: uninstall drops it
    /// when nothing else is left in it, even after the host rewrote the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_hooks: Vec<String>,
}

impl InstallRecord {
    /// Reads the record; a missing or unreadable one counts as empty (uninstall then
    /// removes ralph-hook's entries one by one instead of restoring bytes).
    pub(super) fn load(path: &Path) -> Result<Self> {
        Ok(plan::read_text(path)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    /// Notes that install changed file `name` from `before` to `after`. The original text
    /// is kept when the file is still as the last install left it; a file that already
    /// held ralph-hook's entries (`clean == false`) gets no exact restore.
    pub(super) fn note_edit(&mut self, name: &str, before: Option<&str>, after: &str, clean: bool) {
        if before.is_none() {
            note_name(&mut self.created_files, name);
        }
        match self.files.get_mut(name) {
            Some(record) if Some(record.after.as_str()) == before => {
                record.after = after.to_owned();
            }
            _ if clean => {
                self.files.insert(
                    name.to_owned(),
                    FileRecord {
                        before: before.map(str::to_owned),
                        after: after.to_owned(),
                    },
                );
            }
            _ => {
                self.files.remove(name);
            }
        }
    }

    /// Whether file `name` holds exactly what install last wrote into it.
    pub(super) fn is_as_installed(&self, name: &str, text: Option<&str>) -> bool {
        self.files
            .get(name)
            .is_some_and(|record| Some(record.after.as_str()) == text)
    }

    /// Notes that install created the `hooks` object of file `name`.
    pub(super) fn note_created_hooks(&mut self, name: &str) {
        note_name(&mut self.created_hooks, name);
    }

    /// The change that writes this record (or nothing, when it is unchanged).
    pub(super) fn change(&self, path: &Path, before: Content) -> Result<Change> {
        let mut text = serde_json::to_string_pretty(self).map_err(|err| {
            error::Error::Failed(format!("could not render the install record: {err}"))
        })?;
        text.push('\n');
        let after = Content::text(text);
        let summary = if before == Content::Missing {
            "write the install record (what uninstall restores)"
        } else {
            "update the install record"
        };
        Ok(Change {
            path: path.to_path_buf(),
            before,
            after,
            follow_links: false,
            backup: false,
            mode: 0o644,
            summary: summary.into(),
        })
    }
}

fn note_name(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|known| known == name) {
        names.push(name.to_owned());
    }
}
