//! The ralph-hook plugin as a host has it: whether it is enabled, where its data folder
//! is, which binary its launcher (`plugins/ralph-hook/hooks/ralph-hook.sh`) would run,
//! and whether `ralph-hook install` put its own hooks beside it.
//!
//! Measured with Claude Code 2.1.328 and Codex 0.169.0: `claude plugin install` records
//! `"enabledPlugins": {"ralph-hook@<marketplace>": true}` in `~/.claude/settings.json`;
//! `codex plugin add` records `[plugins."ralph-hook@<marketplace>"] enabled = true` in
//! config.toml. Both give the plugin's hooks the data folder
//! `<home>/plugins/data/ralph-hook-<marketplace>`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::config_toml;
use super::hooks_json;
use super::json_text;
use super::layout::Layout;
use super::plan;
use crate::agent::Agent;
use crate::error::Result;
use crate::program;

/// The plugin's name in both hosts' manifests.
pub(super) const NAME: &str = "ralph-hook";

/// The ids (`ralph-hook@<marketplace>`) of the ralph-hook plugin enabled in this home.
pub(super) fn enabled(layout: &Layout) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    match layout.agent {
        Agent::Claude => {
            let path = layout.hooks_file();
            if let Some(text) = plan::read_text(&path)? {
                let settings = json_text::parse(&path, &text)?;
                if let Some(plugins) = settings.get("enabledPlugins").and_then(Value::as_object) {
                    for (id, on) in plugins {
                        if is_ours(id) && on.as_bool() == Some(true) {
                            ids.push(id.clone());
                        }
                    }
                }
            }
        }
        Agent::Codex => {
            let path = layout.config_toml();
            if let Some(text) = plan::read_text(&path)? {
                let doc = config_toml::parse(&path, &text)?;
                if let Some(plugins) = doc.get("plugins").and_then(|item| item.as_table_like()) {
                    for (id, entry) in plugins.iter() {
                        let on = entry
                            .get("enabled")
                            .and_then(toml_edit::Item::as_bool)
                            .unwrap_or(true);
                        if is_ours(id) && on {
                            ids.push(id.to_owned());
                        }
                    }
                }
            }
        }
    }
    Ok(ids)
}

/// Whether a plugin id names the ralph-hook plugin, from whichever marketplace.
pub(super) fn is_ours(id: &str) -> bool {
    id.split_once('@').is_some_and(|(name, _)| name == NAME)
}

/// Whether the host's hooks file holds ralph-hook's own handlers (`ralph-hook install`).
pub(super) fn has_own_handlers(layout: &Layout) -> Result<bool> {
    let path = layout.hooks_file();
    let Some(text) = plan::read_text(&path)? else {
        return Ok(false);
    };
    let value = json_text::parse(&path, &text)?;
    Ok(!hooks_json::find(&value, &path)?.ours.is_empty())
}

/// The data folder a host gives the plugin's hooks (`PLUGIN_DATA`, `CLAUDE_PLUGIN_DATA`).
pub(super) fn data_dir(layout: &Layout, id: &str) -> PathBuf {
    layout
        .home
        .join("plugins")
        .join("data")
        .join(id.replace('@', "-"))
}

/// The ralph-hook binary the plugin's launcher would run, searched in its order: PATH,
/// cargo's bin folder, then the plugin's data folder.
pub(super) fn launcher_binary(layout: &Layout, ids: &[String]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(NAME));
    let cargo = std::env::var_os("CARGO_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".cargo")))
        .map(|dir| dir.join("bin").join(NAME));
    let home_cargo = dirs::home_dir().map(|home| home.join(".cargo/bin").join(NAME));
    let data = ids
        .iter()
        .map(|id| data_dir(layout, id).join("bin").join(NAME));
    on_path
        .chain(cargo)
        .chain(home_cargo)
        .chain(data)
        .find(|candidate| program::is_executable(candidate))
}

/// The version line `--version` prints, when the binary runs.
pub(super) fn version_of(binary: &Path) -> std::result::Result<String, String> {
    match Command::new(binary).arg("--version").output() {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        Ok(output) => Err(format!("it fails to run ({})", output.status)),
        Err(err) => Err(format!("it cannot run: {err}")),
    }
}

/// The host's own command that removes the plugin, for fix lines.
pub(super) fn remove_command(agent: Agent, id: &str) -> String {
    match agent {
        Agent::Codex => format!("codex plugin remove {id}"),
        Agent::Claude => format!("claude plugin uninstall {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(agent: Agent, home: &Path) -> Layout {
        Layout::new(agent, Some(home)).unwrap()
    }

    #[test]
    fn the_plugin_is_found_as_each_host_records_it() {
        let home = tempfile::tempdir().unwrap();
        let claude = layout(Agent::Claude, home.path());
        assert!(enabled(&claude).unwrap().is_empty());
        fs_err::write(
            claude.hooks_file(),
            r#"{"enabledPlugins": {"ralph-hook@ralph-hook": true, "other@x": true, "ralph-hook@off": false}}"#,
        )
        .unwrap();
        assert_eq!(enabled(&claude).unwrap(), ["ralph-hook@ralph-hook"]);

        let codex = layout(Agent::Codex, home.path());
        fs_err::write(
            codex.config_toml(),
            "[plugins.\"ralph-hook@ralph-hook\"]\nenabled = true\n\n[plugins.\"ralph-hook@off\"]\nenabled = false\n\n[plugins.\"ralph-hooks@x\"]\nenabled = true\n",
        )
        .unwrap();
        assert_eq!(enabled(&codex).unwrap(), ["ralph-hook@ralph-hook"]);
    }

    #[test]
    fn the_data_folder_is_named_after_plugin_and_marketplace() {
        let claude = layout(Agent::Claude, Path::new("/h/.claude"));
        assert_eq!(
            data_dir(&claude, "ralph-hook@ralph-hook"),
            Path::new("/h/.claude/plugins/data/ralph-hook-ralph-hook")
        );
    }
}
