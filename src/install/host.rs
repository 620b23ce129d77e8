//! Planning install and uninstall for one host: which files change and how. Nothing is
//! written here; the plan is printed and applied by the caller.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::block_cap;
use super::command_line::{HookEvent, hook_command};
use super::config_toml;
use super::hooks_json::{self, HooksFile};
use super::json_text;
use super::layout::Layout;
use super::plan::{self, Change, Content, Plan};
use super::plugin;
use super::record::InstallRecord;
use super::skill;
use crate::agent::Agent;
use crate::error::{Error, Result};

/// The entry point for Stop dispatchers, as it is in the repository's `hooks/` folder.
pub const ENTRY_POINT: &str = include_str!("../../hooks/ralph-loop-stop.sh");

/// How the binary gets into the host's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A copy of the running executable: keeps working when the build folder goes.
    Copy,
    /// A symlink to the running executable: a rebuilt binary is picked up at once.
    Symlink,
}

/// What install puts into one host's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything a loop needs: the binary, the hook handlers, the skill, and the host's
    /// settings (Codex's entry point and hooks feature, Claude Code's block cap).
    Full,
    /// The ralph-hook plugin is enabled there and brings the hooks and the skill, so only
    /// what a plugin cannot do for itself: Claude Code's block cap, Codex's hooks feature
    /// and (after the plan) trust of the plugin's hooks. Installing both would run
    /// ralph-hook twice for every prompt and stop.
    PluginCompanion,
}

/// What one host's install or uninstall will do.
#[derive(Debug)]
pub struct HostPlan {
    /// The host and its home.
    pub layout: Layout,
    /// What install puts there (uninstall: always `Full`).
    pub scope: Scope,
    /// The file changes.
    pub plan: Plan,
    /// What the user should know beyond the changes.
    pub notes: Vec<String>,
}

/// Plans installing ralph-hook into one host's home. Where the ralph-hook plugin is
/// enabled and install has not put hooks of its own, install only completes the plugin.
pub fn plan_install(layout: &Layout, mode: Mode, exe: &Path) -> Result<HostPlan> {
    let record_path = layout.record();
    let record_before = plan::read(&record_path, false)?;
    let mut record = InstallRecord::load(&record_path)?;
    let loaded = record.clone();
    record.version = env!("CARGO_PKG_VERSION").into();
    let mut plan = Plan::default();
    let mut notes = Vec::new();

    let plugins = plugin::enabled(layout)?;
    let scope = if plugins.is_empty() || plugin::has_own_handlers(layout)? {
        Scope::Full
    } else {
        Scope::PluginCompanion
    };
    let ids = plugins.join(", ");
    let name = layout.agent.display_name();
    match (scope, plugins.first()) {
        (Scope::PluginCompanion, _) => notes.push(format!(
            "the ralph-hook plugin ({ids}) is enabled in {name}: it brings the hooks and the skill, so install adds no hooks of its own, only what the plugin cannot set itself"
        )),
        (Scope::Full, Some(id)) => notes.push(format!(
            "the ralph-hook plugin ({ids}) is enabled in {name} too: ralph-hook runs twice for every prompt and stop (each is still acted on once). Keep one: `ralph-hook uninstall {flags}` then `ralph-hook install {flags}` keeps the plugin; `{remove}` keeps this install",
            flags = layout.flags(),
            remove = plugin::remove_command(layout.agent, id),
        )),
        (Scope::Full, None) => {}
    }

    let dirs = match scope {
        Scope::Full => vec![layout.hooks_dir(), layout.skill_dir()],
        Scope::PluginCompanion => vec![layout.hooks_dir()],
    };
    for dir in dirs {
        for missing in plan::missing_dirs(&dir) {
            plan.create_dir(missing.clone());
            if !record.created_dirs.contains(&missing) {
                record.created_dirs.push(missing);
            }
        }
    }

    let binary = layout.binary();
    plan_hooks_file(layout, scope, &binary, &mut plan, &mut record, &mut notes)?;
    match layout.agent {
        Agent::Codex => plan_feature_flag(layout, &mut plan, &mut record)?,
        Agent::Claude => {}
    }
    if scope == Scope::PluginCompanion {
        if !plan.changes.is_empty() || record != loaded {
            plan.push(record.change(&record_path, record_before)?);
        }
        return Ok(HostPlan {
            layout: layout.clone(),
            scope,
            plan,
            notes,
        });
    }

    let skill_path = layout.skill();
    plan.push(Change {
        before: plan::read(&skill_path, true)?,
        after: Content::text(skill::render(&binary)?),
        path: skill_path,
        follow_links: true,
        backup: false,
        mode: 0o644,
        summary: format!(
            "write the ralph-loop skill (version {})",
            env!("CARGO_PKG_VERSION")
        ),
    });

    if mode == Mode::Symlink && exe == binary {
        return Err(Error::usage(format!(
            "--mode symlink would point {} at itself; run install from the build output (e.g. target/release/ralph-hook)",
            binary.display()
        )));
    }
    let (after, summary) = match mode {
        Mode::Copy => (
            Content::Bytes(
                std::fs::read(exe).map_err(|err| Error::io("read the running binary", exe, err))?,
            ),
            format!("copy of {}", exe.display()),
        ),
        Mode::Symlink => (
            Content::Symlink(exe.to_path_buf()),
            format!("symlink to {}", exe.display()),
        ),
    };
    plan.push(Change {
        before: plan::read(&binary, false)?,
        after,
        path: binary.clone(),
        follow_links: false,
        backup: false,
        mode: 0o755,
        summary,
    });

    match layout.agent {
        Agent::Codex => {
            let entry = layout.entry_point();
            plan.push(Change {
                before: plan::read(&entry, false)?,
                after: Content::text(ENTRY_POINT),
                path: entry,
                follow_links: false,
                backup: false,
                mode: 0o755,
                summary: "write the Stop entry point for dispatchers".into(),
            });
        }
        Agent::Claude => {}
    }

    if !plan.changes.is_empty() || record != loaded {
        plan.push(record.change(&record_path, record_before)?);
    }
    Ok(HostPlan {
        layout: layout.clone(),
        scope,
        plan,
        notes,
    })
}

/// Adds the two handlers (for `Scope::Full`) and Claude's block cap to hooks.json /
/// settings.json.
fn plan_hooks_file(
    layout: &Layout,
    scope: Scope,
    binary: &Path,
    plan: &mut Plan,
    record: &mut InstallRecord,
    notes: &mut Vec<String>,
) -> Result<()> {
    let path = layout.hooks_file();
    let before = plan::read_text(&path)?;
    let text = before.as_deref().unwrap_or("");
    let mut value = json_text::parse(&path, text)?;
    let original = value.clone();
    if scope == Scope::Full {
        let mut wanted = Vec::new();
        for event in HookEvent::ALL {
            let command = hook_command(binary, event, layout.agent)?;
            wanted.push((event, hooks_json::handler(event, &command)));
        }
        let (file, dispatcher_owns_stop) = match layout.agent {
            Agent::Codex => (HooksFile::CodexHooks, true),
            Agent::Claude => (HooksFile::ClaudeSettings, false),
        };
        notes.extend(hooks_json::install(
            &mut value,
            &path,
            file,
            &wanted,
            dispatcher_owns_stop,
        )?);
    }
    let had_ours = !hooks_json::find(&original, &path)?.ours.is_empty();
    let mut parts = Vec::new();
    if original.get("hooks") != value.get("hooks") {
        parts.push(if had_ours {
            "update ralph-hook's hook handlers".to_owned()
        } else {
            "add ralph-hook's UserPromptSubmit and Stop handlers".to_owned()
        });
    }
    match layout.agent {
        Agent::Claude => {
            if let Some(raised) = block_cap::raise(&mut value, &path)? {
                parts.push(format!(
                    "set env.{} to \"{}\" (was {})",
                    block_cap::VARIABLE,
                    block_cap::INSTALLED_CAP,
                    raised
                        .original
                        .as_ref()
                        .map_or("unset".to_owned(), Value::to_string)
                ));
                record.block_cap = Some(raised);
            }
        }
        Agent::Codex => {}
    }
    if value == original {
        return Ok(());
    }
    let style = match &before {
        Some(text) => json_text::detect_style(text),
        None => json_text::JsonStyle::default(),
    };
    let new_text = json_text::render(&value, &style)?;
    record.note_edit(
        layout.hooks_file_name(),
        before.as_deref(),
        &new_text,
        !had_ours,
    );
    plan.push(Change::config_edit(
        path,
        before,
        Some(new_text),
        parts.join("; "),
    ));
    Ok(())
}

/// Switches Codex's hooks feature on in config.toml.
fn plan_feature_flag(layout: &Layout, plan: &mut Plan, record: &mut InstallRecord) -> Result<()> {
    let path = layout.config_toml();
    let before = plan::read_text(&path)?;
    let text = before.as_deref().unwrap_or("");
    let mut doc = config_toml::parse(&path, text)?;
    let changes = config_toml::enable_hooks(&mut doc, &path)?;
    if changes.is_empty() {
        return Ok(());
    }
    let new_text = config_toml::render(&doc, text);
    record.note_edit("config.toml", before.as_deref(), &new_text, true);
    let keys: Vec<String> = changes
        .iter()
        .map(|change| format!("features.{} = true", change.key))
        .collect();
    for change in changes {
        if !record.features.iter().any(|known| known.key == change.key) {
            record.features.push(change);
        }
    }
    plan.push(Change::config_edit(
        path,
        before,
        Some(new_text),
        format!("turn hooks on ({})", keys.join(", ")),
    ));
    Ok(())
}

/// Plans removing exactly what install added from one host's home.
pub fn plan_uninstall(layout: &Layout) -> Result<HostPlan> {
    let record_path = layout.record();
    let record = InstallRecord::load(&record_path)?;
    let mut plan = Plan::default();
    let mut notes = Vec::new();

    let path = layout.hooks_file();
    let mut stale_keys = Vec::new();
    if let Some(before) = plan::read_text(&path)? {
        let value = json_text::parse(&path, &before)?;
        let found = hooks_json::find(&value, &path)?;
        let source = path.to_string_lossy();
        stale_keys = found
            .ours
            .iter()
            .map(|p| {
                format!(
                    "{source}:{}:{}:{}",
                    p.event.trust_key_name(),
                    p.group,
                    p.handler
                )
            })
            .collect();
        if let Some(dispatcher) = &found.dispatcher
            && layout.agent == Agent::Codex
        {
            notes.push(format!(
                "the Stop dispatcher `{dispatcher}` still calls hooks/ralph-loop-stop.sh, which is removed now"
            ));
        }
        let exact = record
            .files
            .get(layout.hooks_file_name())
            .filter(|exact| exact.after == before);
        let after = match exact {
            Some(exact) => exact.before.clone(),
            _ => {
                let mut value = value;
                let original = value.clone();
                hooks_json::remove(&mut value, &path)?;
                if let (Agent::Claude, Some(raised)) = (layout.agent, &record.block_cap) {
                    block_cap::restore(&mut value, raised);
                }
                if value == original {
                    Some(before.clone())
                } else {
                    Some(json_text::render(
                        &value,
                        &json_text::detect_style(&before),
                    )?)
                }
            }
        };
        plan.push(uninstall_edit(
            path,
            before,
            after,
            "remove ralph-hook's entries",
            exact.is_some(),
        ));
    }

    match layout.agent {
        Agent::Codex => plan_config_toml_removal(layout, &record, &stale_keys, &mut plan)?,
        Agent::Claude => {}
    }

    let skill_path = layout.skill();
    if let Some(text) = plan::read_text(&skill_path)? {
        if skill::installed_version(&text).is_some() {
            plan.push(removal(
                &skill_path,
                Content::text(text),
                "remove the ralph-loop skill",
            ));
        } else {
            notes.push(format!(
                "{} was not written by ralph-hook; left alone",
                skill_path.display()
            ));
        }
    }
    let binary = layout.binary();
    let before = plan::read(&binary, false)?;
    plan.push(removal(&binary, before, "remove the binary"));
    if layout.agent == Agent::Codex {
        let entry = layout.entry_point();
        let before = plan::read(&entry, false)?;
        if before == Content::text(ENTRY_POINT) || before == Content::Missing {
            plan.push(removal(&entry, before, "remove the Stop entry point"));
        } else {
            notes.push(format!(
                "{} is not the one ralph-hook writes; left alone",
                entry.display()
            ));
        }
    }
    let before = plan::read(&record_path, false)?;
    plan.push(removal(&record_path, before, "remove the install record"));
    plan.remove_dirs = std::iter::once(layout.skill_dir())
        .chain(record.created_dirs.iter().rev().cloned())
        .collect::<Vec<PathBuf>>();
    plan.remove_dirs.dedup();
    Ok(HostPlan {
        layout: layout.clone(),
        scope: Scope::Full,
        plan,
        notes,
    })
}

/// Takes ralph-hook's trust entries and feature flags back out of config.toml.
fn plan_config_toml_removal(
    layout: &Layout,
    record: &InstallRecord,
    stale_keys: &[String],
    plan: &mut Plan,
) -> Result<()> {
    let path = layout.config_toml();
    let Some(before) = plan::read_text(&path)? else {
        return Ok(());
    };
    let exact = record
        .files
        .get("config.toml")
        .filter(|exact| exact.after == before);
    let after = match exact {
        Some(exact) => exact.before.clone(),
        _ => {
            let mut doc = config_toml::parse(&path, &before)?;
            let untouched = doc.to_string();
            config_toml::untrust(&mut doc, &record.trust, stale_keys);
            config_toml::restore_features(&mut doc, &record.features);
            // Nothing of ours was in it: keep the bytes (rendering alone can differ,
            // e.g. toml_edit adds a final newline the user's file did not have).
            if doc.to_string() == untouched {
                Some(before.clone())
            } else {
                Some(config_toml::render(&doc, &before))
            }
        }
    };
    plan.push(uninstall_edit(
        path,
        before,
        after,
        "remove ralph-hook's trust entries and feature flags",
        exact.is_some(),
    ));
    Ok(())
}

/// Undoing install's edit of a config file. Restoring the recorded original (`exact`)
/// loses nothing; a file edited since install gets a backup first.
fn uninstall_edit(
    path: PathBuf,
    before: String,
    after: Option<String>,
    partial: &str,
    exact: bool,
) -> Change {
    let summary = match &after {
        None => "remove (install created it)",
        Some(_) => partial,
    };
    let change = Change::config_edit(path, Some(before), after, summary);
    if exact {
        change.without_backup()
    } else {
        change
    }
}

fn removal(path: &Path, before: Content, summary: &str) -> Change {
    Change {
        path: path.to_path_buf(),
        before,
        after: Content::Missing,
        follow_links: false,
        backup: false,
        mode: 0o644,
        summary: summary.into(),
    }
}
