//! Planning install and uninstall for one host: which files change and how. Nothing is
//! written here; the plan is printed and applied by the caller.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::block_cap;
use super::command_line::{HookEvent, hook_command};
use super::config_toml;
use super::hook_edit::Edit;
use super::hooks_json::{self, HooksFile};
use super::inline_hooks;
use super::json_text;
use super::layout::Layout;
use super::plan::{self, Change, Content, Plan};
use super::plugin;
use super::record::InstallRecord;
use super::skill;
use super::status_line::{self, Added};
use super::trust_key::{self, SourceNames};
use crate::agent::Agent;
use crate::engine::render::printable;
use crate::error::{Error, Result};

/// The entry point for Stop dispatchers, as it is in the repository's `hooks/` folder.
pub(super) const ENTRY_POINT: &str = include_str!("../../hooks/ralph-loop-stop.sh");

/// How the binary gets into the host's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A copy of the running executable: keeps working when the build folder goes.
    Copy,
    /// A symlink to the running executable: a rebuilt binary is picked up at once.
    Symlink,
}

/// What install puts into one host's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
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
pub(super) struct HostPlan {
    /// The host and its home.
    pub layout: Layout,
    /// What install puts there (uninstall: always `Full`).
    pub scope: Scope,
    pub plan: Plan,
    /// What the user should know beyond the changes.
    pub notes: Vec<String>,
}

/// Plans installing ralph-hook into one host's home. `enable_hooks` allows switching on
/// Codex hooks that the user switched off. Where the ralph-hook plugin is enabled and
/// install has not put hooks of its own, install only completes the plugin.
pub(super) fn plan_install(
    layout: &Layout,
    mode: Mode,
    exe: &Path,
    enable_hooks: bool,
    statusline: bool,
) -> Result<HostPlan> {
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
    match layout.agent {
        Agent::Codex => plan_codex_hooks(
            layout,
            scope,
            &binary,
            enable_hooks,
            &mut plan,
            &mut record,
            &mut notes,
        )?,
        Agent::Claude => {
            let wanted = ClaudeWanted { scope, statusline };
            plan_claude_settings(layout, wanted, &binary, &mut plan, &mut record, &mut notes)?;
        }
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

/// ralph-hook's handlers for this host, as they are written.
fn wanted_handlers(layout: &Layout, binary: &Path) -> Result<Vec<(HookEvent, Value)>> {
    HookEvent::for_agent(layout.agent)
        .iter()
        .copied()
        .map(|event| {
            let command = hook_command(binary, event, layout.agent)?;
            Ok((event, hooks_json::handler(event, &command)))
        })
        .collect()
}

/// What install puts into Claude Code's settings.json.
#[derive(Debug, Clone, Copy)]
struct ClaudeWanted {
    scope: Scope,
    /// `--statusline`.
    statusline: bool,
}

/// Adds the two handlers (for `Scope::Full`; the plugin brings its own), raises the
/// block cap in Claude Code's settings.json, and with `--statusline` sets the status line.
fn plan_claude_settings(
    layout: &Layout,
    ClaudeWanted { scope, statusline }: ClaudeWanted,
    binary: &Path,
    plan: &mut Plan,
    record: &mut InstallRecord,
    notes: &mut Vec<String>,
) -> Result<()> {
    let path = layout.hooks_file();
    let name = layout.hooks_file_name();
    let before = plan::read_text(&path)?;
    let mut value = json_text::parse(&path, before.as_deref().unwrap_or(""))?;
    let original = value.clone();
    if scope == Scope::Full {
        let wanted = wanted_handlers(layout, binary)?;
        let edit =
            hooks_json::install(&mut value, &path, HooksFile::ClaudeSettings, &wanted, false)?;
        notes.extend(edit.notes);
    }
    let had_ours = !hooks_json::find(&original, &path)?.ours.is_empty();
    let mut parts = Vec::new();
    if original.get("hooks") != value.get("hooks") {
        parts.push(handlers_summary(had_ours));
    }
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
    if statusline {
        match status_line::add(&mut value, binary)? {
            Added::Set => parts.push("set the status line to `ralph-hook statusline`".into()),
            Added::Already => {}
            Added::Theirs(command) => notes.push(format!(
                "settings.json has a status line of your own ({}); left as it is. To see the loop there too, have it run `{} statusline --workspace <dir>`",
                printable(&command),
                binary.display()
            )),
        }
    }
    if value == original {
        return Ok(());
    }
    if original.get("hooks").is_none() {
        record.note_created_hooks(name);
    }
    let style = before
        .as_deref()
        .map_or_else(json_text::JsonStyle::default, json_text::detect_style);
    let new_text = json_text::render(&value, &style)?;
    record.note_edit(name, before.as_deref(), &new_text, !had_ours);
    plan.push(Change::config_edit(
        path,
        before,
        Some(new_text),
        parts.join("; "),
    ));
    Ok(())
}

fn handlers_summary(had_ours: bool) -> String {
    if had_ours {
        "update ralph-hook's hook handlers".to_owned()
    } else {
        "add ralph-hook's hook handlers (UserPromptSubmit, Stop, SessionEnd; StopFailure in Claude Code)".to_owned()
    }
}

/// Adds the two handlers for Codex where the user's hooks live (hooks.json, or inline in
/// config.toml when the user keeps them there), keeps the trust of every handler that
/// moves, and switches the hooks feature on — unless the user switched it off and did
/// not pass `--enable-hooks`.
fn plan_codex_hooks(
    layout: &Layout,
    scope: Scope,
    binary: &Path,
    enable_hooks: bool,
    plan: &mut Plan,
    record: &mut InstallRecord,
    notes: &mut Vec<String>,
) -> Result<()> {
    let json_path = layout.hooks_file();
    let toml_path = layout.config_toml();
    let json_before = plan::read_text(&json_path)?;
    let toml_before = plan::read_text(&toml_path)?;
    let toml_text = toml_before.as_deref().unwrap_or("");
    let mut json = json_text::parse(&json_path, json_before.as_deref().unwrap_or(""))?;
    hooks_json::check_root(&json, &json_path, HooksFile::CodexHooks)?;
    let mut doc = config_toml::parse(&toml_path, toml_text)?;
    let json_original = json.clone();
    let doc_original = doc.to_string();
    let in_json = hooks_json::find(&json, &json_path)?;
    let in_toml = inline_hooks::find(&doc, &toml_path)?;

    let disabled = config_toml::disabled_keys(&doc);
    if !disabled.is_empty() && !enable_hooks {
        let others =
            hooks_json::other_handlers(&json_original) + inline_hooks::other_handlers(&doc);
        let settings: Vec<String> = disabled
            .iter()
            .map(|key| format!("`{key} = false`"))
            .collect();
        return Err(Error::input(
            toml_path.display().to_string(),
            format!(
                "[features] {} switches every Codex hook off, and ralph-hook needs hooks on. Turning them on re-enables every other hook you have too ({others} other handler(s) in hooks.json and config.toml), not only ralph-hook's. To turn hooks on anyway, run install again with --enable-hooks (uninstall sets `false` back); or install for Claude Code only with --agent claude. Nothing was changed",
                settings.join(" and ")
            ),
        ));
    }

    let inline = in_json.ours.is_empty()
        && (!in_toml.ours.is_empty()
            || (inline_hooks::has_hooks(&doc) && !hooks_json::has_hooks(&json)));
    let wanted = wanted_handlers(layout, binary)?;
    let (json_edit, toml_edit) = if scope == Scope::PluginCompanion {
        (Edit::default(), Edit::default())
    } else if inline {
        (
            hooks_json::remove(&mut json, &json_path)?,
            inline_hooks::install(&mut doc, &toml_path, &wanted, true)?,
        )
    } else {
        (
            hooks_json::install(&mut json, &json_path, HooksFile::CodexHooks, &wanted, true)?,
            inline_hooks::remove(&mut doc, &toml_path)?,
        )
    };
    let moved = follow_trust(&mut doc, &SourceNames::of(&json_path), &json_edit)
        + follow_trust(&mut doc, &SourceNames::of(&toml_path), &toml_edit);
    notes.extend(json_edit.notes);
    notes.extend(toml_edit.notes);
    if inline && in_toml.ours.is_empty() {
        notes.push(
            "your Codex hooks are written in config.toml, so ralph-hook's go there too (no hooks.json: Codex warns when both hold hooks)".to_owned(),
        );
    } else if !inline && inline_hooks::has_hooks(&doc) {
        notes.push(format!(
            "both {} and {} hold hooks; Codex warns \"prefer a single representation\" until you keep them in one",
            json_path.display(),
            toml_path.display()
        ));
    }
    let features = config_toml::enable_hooks(&mut doc, &toml_path)?;

    if json != json_original {
        let mut style = json_before
            .as_deref()
            .map_or_else(json_text::JsonStyle::default, json_text::detect_style);
        if style.bom {
            style.bom = false;
            notes.push(format!(
                "{} started with a byte order mark, which Codex 0.169 cannot read (\"expected value at line 1 column 1\"); it is written without one",
                json_path.display()
            ));
        }
        let new_text = json_text::render(&json, &style)?;
        if json_original.get("hooks").is_none() {
            record.note_created_hooks("hooks.json");
        }
        record.note_edit(
            "hooks.json",
            json_before.as_deref(),
            &new_text,
            in_json.ours.is_empty(),
        );
        let summary = if inline {
            "remove ralph-hook's handlers (they are in config.toml now)".to_owned()
        } else {
            handlers_summary(!in_json.ours.is_empty())
        };
        plan.push(Change::config_edit(
            json_path,
            json_before,
            Some(new_text),
            summary,
        ));
    }

    if doc.to_string() != doc_original {
        let new_text = config_toml::render(&doc, toml_text);
        record.note_edit(
            "config.toml",
            toml_before.as_deref(),
            &new_text,
            in_toml.ours.is_empty(),
        );
        let mut parts = Vec::new();
        if inline {
            parts.push(format!(
                "{} inline",
                handlers_summary(!in_toml.ours.is_empty())
            ));
        } else if !toml_edit.removed.is_empty() {
            parts.push("remove ralph-hook's handlers (they are in hooks.json)".to_owned());
        }
        if moved > 0 {
            parts.push(format!(
                "move {moved} trust entr{} with the hooks that moved",
                if moved == 1 { "y" } else { "ies" }
            ));
        }
        if !features.is_empty() {
            let keys: Vec<String> = features
                .iter()
                .map(|change| format!("features.{} = true", change.key))
                .collect();
            parts.push(format!("turn hooks on ({})", keys.join(", ")));
        }
        for change in features {
            if !record.features.iter().any(|known| known.key == change.key) {
                record.features.push(change);
            }
        }
        plan.push(Change::config_edit(
            toml_path,
            toml_before,
            Some(new_text),
            parts.join("; "),
        ));
    }
    Ok(())
}

/// Keeps config.toml's trust in step with an edit of a hooks file: the entries of
/// ralph-hook's removed handlers go, the entries of handlers that moved move with them.
/// Returns how many moved.
fn follow_trust(doc: &mut toml_edit::DocumentMut, names: &SourceNames, edit: &Edit) -> usize {
    let stale = trust_key::keys_of(doc, names, &edit.removed);
    config_toml::untrust(doc, &[], &stale);
    trust_key::apply_shifts(doc, names, &edit.shifts)
}

/// Plans removing exactly what install added from one host's home.
pub(super) fn plan_uninstall(layout: &Layout) -> Result<HostPlan> {
    let record_path = layout.record();
    let record = InstallRecord::load(&record_path)?;
    let mut plan = Plan::default();
    let mut notes = Vec::new();

    match layout.agent {
        Agent::Codex => plan_codex_removal(layout, &record, &mut plan, &mut notes)?,
        Agent::Claude => {
            plan_json_removal(layout, &record, &mut plan)?;
        }
    }

    let skill_path = layout.skill();
    if let Some(text) = plan::read_text(&skill_path)? {
        if skill::installed_version(&text).is_some() {
            plan.push(Change::removal(
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
    plan.push(Change::removal(&binary, before, "remove the binary"));
    if layout.agent == Agent::Codex {
        let entry = layout.entry_point();
        let before = plan::read(&entry, false)?;
        if before == Content::text(ENTRY_POINT) || before == Content::Missing {
            plan.push(Change::removal(
                &entry,
                before,
                "remove the Stop entry point",
            ));
        } else {
            notes.push(format!(
                "{} is not the one ralph-hook writes; left alone",
                entry.display()
            ));
        }
    }
    let before = plan::read(&record_path, false)?;
    plan.push(Change::removal(
        &record_path,
        before,
        "remove the install record",
    ));
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

/// Takes ralph-hook's handlers out of hooks.json / settings.json (and puts Claude's
/// block cap back). Returns what the removal did, for config.toml's trust entries.
fn plan_json_removal(layout: &Layout, record: &InstallRecord, plan: &mut Plan) -> Result<Edit> {
    let path = layout.hooks_file();
    let name = layout.hooks_file_name();
    let Some(before) = plan::read_text(&path)? else {
        return Ok(Edit::default());
    };
    let value = json_text::parse(&path, &before)?;
    let mut edited = value.clone();
    let edit = hooks_json::remove(&mut edited, &path)?;
    if let (Agent::Claude, Some(raised)) = (layout.agent, &record.block_cap) {
        block_cap::restore(&mut edited, raised);
    }
    if layout.agent == Agent::Claude {
        status_line::remove(&mut edited);
    }
    if record.created_hooks.iter().any(|known| known == name) {
        hooks_json::drop_empty_hooks(&mut edited);
    }
    let exact = record.files.get(name).filter(|exact| exact.after == before);
    let created = record.created_files.iter().any(|known| known == name);
    let after = match exact {
        Some(exact) => exact.before.clone(),
        None if edited == value => Some(before.clone()),
        None if created && edited.as_object().is_some_and(serde_json::Map::is_empty) => None,
        None => Some(json_text::render(
            &edited,
            &json_text::detect_style(&before),
        )?),
    };
    plan.push(uninstall_edit(
        path,
        before,
        after,
        "remove ralph-hook's entries",
        exact.is_some(),
    ));
    Ok(edit)
}

/// Takes ralph-hook's handlers out of hooks.json and config.toml, and its trust entries
/// and feature flags out of config.toml; the trust entries of other handlers that move
/// up when ralph-hook's go move with them, so Codex keeps trusting them.
fn plan_codex_removal(
    layout: &Layout,
    record: &InstallRecord,
    plan: &mut Plan,
    notes: &mut Vec<String>,
) -> Result<()> {
    let json_path = layout.hooks_file();
    if let Some(text) = plan::read_text(&json_path)?
        && let Some(dispatcher) =
            hooks_json::find(&json_text::parse(&json_path, &text)?, &json_path)?.dispatcher
    {
        notes.push(format!(
            "the Stop dispatcher `{dispatcher}` still calls hooks/ralph-loop-stop.sh, which is removed now"
        ));
    }
    let json_edit = plan_json_removal(layout, record, plan)?;

    let path = layout.config_toml();
    let Some(before) = plan::read_text(&path)? else {
        return Ok(());
    };
    let json_names = SourceNames::of(&json_path);
    let toml_names = SourceNames::of(&path);
    let mut doc = config_toml::parse(&path, &before)?;
    let untouched = doc.to_string();
    let inline_edit = inline_hooks::remove(&mut doc, &path)?;
    let mut stale = trust_key::keys_of(&doc, &json_names, &json_edit.removed);
    stale.extend(trust_key::keys_of(&doc, &toml_names, &inline_edit.removed));
    config_toml::untrust(&mut doc, &record.trust, &stale);
    config_toml::restore_features(&mut doc, &record.features);
    let shift_all = |doc: &mut toml_edit::DocumentMut| {
        trust_key::apply_shifts(doc, &json_names, &json_edit.shifts)
            + trust_key::apply_shifts(doc, &toml_names, &inline_edit.shifts)
    };
    let mut moved = shift_all(&mut doc);
    let exact = record
        .files
        .get("config.toml")
        .filter(|exact| exact.after == before);
    let created = record
        .created_files
        .iter()
        .any(|known| known == "config.toml");
    let after = match exact {
        // As install left it: the original, with the trust of moved handlers following.
        Some(exact) => match &exact.before {
            None => None,
            Some(original) => {
                let mut restored = config_toml::parse(&path, original)?;
                let plain = restored.to_string();
                moved = shift_all(&mut restored);
                if restored.to_string() == plain {
                    Some(original.clone())
                } else {
                    Some(config_toml::render(&restored, original))
                }
            }
        },
        // Nothing of ours was in it: keep the bytes (rendering alone can differ, e.g.
        // toml_edit adds a final newline the user's file did not have).
        None if doc.to_string() == untouched => Some(before.clone()),
        None if created && doc.to_string().trim().is_empty() => None,
        None => {
            let text = config_toml::render(&doc, &before);
            // Blank lines at the top of a file install created are what its own
            // tables left behind.
            Some(if created {
                text.trim_start_matches(['\r', '\n']).to_owned()
            } else {
                text
            })
        }
    };
    if moved > 0 {
        notes.push(format!(
            "{moved} trust entr{} in config.toml moved with the hooks that moved up, so Codex still trusts them",
            if moved == 1 { "y" } else { "ies" }
        ));
    }
    let summary = if inline_edit.removed.is_empty() {
        "remove ralph-hook's trust entries and feature flags"
    } else {
        "remove ralph-hook's handlers, trust entries and feature flags"
    };
    plan.push(uninstall_edit(
        path,
        before,
        after,
        summary,
        exact.is_some(),
    ));
    Ok(())
}

/// Undoing install's edit of a config file. Restoring the recorded original (`exact`)
/// loses nothing, nor does removing a file that holds nothing else; a file edited since
/// install that keeps other content gets a backup first.
fn uninstall_edit(
    path: PathBuf,
    before: String,
    after: Option<String>,
    partial: &str,
    exact: bool,
) -> Change {
    let summary = match &after {
        None => "remove (install created it, and nothing else is in it)",
        Some(_) => partial,
    };
    let keep_backup = !exact && after.is_some();
    let change = Change::config_edit(path, Some(before), after, summary);
    if keep_backup {
        change
    } else {
        change.without_backup()
    }
}
