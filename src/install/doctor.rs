//! `ralph-hook doctor`: checks, one line each with ✓ or ✗ and the command that fixes it,
//! that everything a loop needs is in place: `ralph-hook` on PATH at this version, each
//! host's wiring, and a workspace's loop.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::app_server::{self, AppServerError, ListedHook};
use super::block_cap;
use super::command_line::{HookEvent, hook_command, ralph_hook_event};
use super::config_toml;
use super::hooks_json;
use super::host::ENTRY_POINT;
use super::inline_hooks;
use super::json_text;
use super::layout::Layout;
use super::path_copy;
use super::plan::{self, Content};
use super::plugin;
use super::skill;
use super::trust::{self, Handlers};
use super::trust_key::{self, SourceNames};
use crate::agent::Agent;
use crate::clock;
use crate::engine::history;
use crate::engine::lookup::{self, Found, MirrorCheck};
use crate::engine::ownership;
use crate::engine::render;
use crate::engine::settings::DEFAULT_MAX_ITERATIONS;
use crate::engine::store::Mirror;
use crate::engine::supervision::{self, Phase, Supervision, Timings};
use crate::error::{self, Result};
use crate::program;
use crate::shell;
use crate::style::{self, Mark};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pass,
    /// Missing or wrong: a loop will not work until it is fixed.
    Fail,
    /// Worth knowing, not needed.
    Info,
}

/// One line of doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    /// How it came out.
    pub status: Status,
    /// What was checked and what was found.
    pub label: String,
    /// The command (or step) that fixes a failed check.
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    pub(crate) fn pass(label: impl Into<String>) -> Self {
        Check {
            status: Status::Pass,
            label: label.into(),
            fix: None,
        }
    }

    /// A check that failed, with its fix.
    pub(crate) fn fail(label: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            status: Status::Fail,
            label: label.into(),
            fix: Some(fix.into()),
        }
    }

    /// A line that informs without deciding the exit code.
    pub(crate) fn info(label: impl Into<String>) -> Self {
        Check {
            status: Status::Info,
            label: label.into(),
            fix: None,
        }
    }
}

/// The workspace part of doctor: each host's loop there, and whether a stop would obey it.
pub(crate) fn workspace_checks(workspace: &Path) -> Vec<Check> {
    Agent::ALL
        .iter()
        .map(|agent| match lookup::find(workspace, Some(*agent)) {
            Ok(found) => loop_check(&found),
            Err(err) => Check::fail(
                format!(
                    "{} loop in {}: {err}",
                    agent.display_name(),
                    workspace.display()
                ),
                "move the named file away, then start a new loop".to_string(),
            ),
        })
        .collect()
}

fn loop_check(found: &Found) -> Check {
    let store = &found.store;
    let name = store.agent().display_name();
    let path = render::printable(&store.state_path().display().to_string()).into_owned();
    let ws = shell::word(store.workspace());
    let Some(record) = &found.record else {
        return match &found.mirror {
            Mirror::Found(state) => Check::fail(
                format!(
                    "{name} loop in {path} is NOT obeyed: {}",
                    ownership::judge_unrecorded(state).why()
                ),
                format!(
                    "read it (ralph-hook show --workspace {ws}), then: ralph-hook adopt --workspace {ws}"
                ),
            ),
            Mirror::Unusable(why) => Check::info(format!(
                "{path} is not a loop ({}); ralph-hook ignores it",
                render::printable(why)
            )),
            Mirror::Missing => {
                let last = store
                    .last_history_entry()
                    .map(|entry| {
                        format!(
                            "; the last one ended {}: {}",
                            entry.at,
                            entry
                                .reason
                                .map(history::Reason::as_str)
                                .unwrap_or(entry.decision.as_str())
                        )
                    })
                    .unwrap_or_default();
                Check::info(format!(
                    "no {name} loop in {}{last}",
                    store.workspace().display()
                ))
            }
        };
    };
    let state = &record.state;
    let iteration = render::iteration_label(state);
    if let Some(MirrorCheck::Edited(fields)) = found.mirror_check() {
        return Check::fail(
            format!(
                "{name} loop at iteration {iteration}: {path} was edited ({} differ from your record, which is what runs)",
                fields.join(", ")
            ),
            format!(
                "ralph-hook show --workspace {ws}   # the record; the file is rewritten at the next stop"
            ),
        );
    }
    let now = clock::now();
    let timings = Timings::from_env();
    let sup = Supervision::read(store.loop_dir()).filter(|sup| sup.loop_id == record.loop_id);
    match supervision::phase(Some(record), sup.as_ref(), now, &timings) {
        Phase::Crashed => {
            return Check::fail(
                format!(
                    "{name} loop at iteration {iteration} is CRASHED: its supervisor (ralph-hook run, pid {}) is gone, so nothing resumes its client",
                    sup.as_ref().map_or(0, |sup| sup.pid)
                ),
                format!("ralph-hook run --resume --workspace {ws}"),
            );
        }
        Phase::Idle => {
            return Check::info(format!(
                "{name} loop at iteration {iteration} is idle: its session has shown no sign of life for {} (a closed or crashed session? `ralph-hook cancel --workspace {ws}` ends it)",
                clock::human(timings.idle_after)
            ));
        }
        Phase::Starting
        | Phase::Running
        | Phase::Blocked
        | Phase::Paused
        | Phase::Restarting
        | Phase::Ended => {}
    }
    if state.paused {
        return Check::info(format!(
            "{name} loop at iteration {iteration} is paused: stops are allowed, not counted (resume: ralph-hook resume --workspace {ws})"
        ));
    }
    match &state.session_id {
        Some(session) => Check::pass(format!(
            "{name} loop at iteration {iteration}: a stop of session {} there continues it",
            render::printable(session)
        )),
        None => Check::pass(format!(
            "{name} loop at iteration {iteration}: the first {name} session that stops there claims it"
        )),
    }
}

/// Runs every check for these hosts (and the workspace) and prints them; returns the exit
/// code: 0 when everything a loop needs is in place.
pub(crate) fn run(
    layouts: &[Layout],
    workspace: Option<&Path>,
    codex: &Path,
    out: &mut dyn Write,
) -> Result<i32> {
    let mut failed = false;
    let mut sections: Vec<(String, Vec<Check>)> = Vec::new();
    let mut own = path_checks(layouts);
    if layouts.is_empty() {
        own.push(Check::fail(
            "ralph-hook is installed for neither Codex (~/.codex) nor Claude Code (~/.claude)",
            first_install_fix(),
        ));
    }
    sections.push(("ralph-hook".into(), own));
    for layout in layouts {
        let checks = match layout.agent {
            Agent::Codex => codex_checks(layout, codex)?,
            Agent::Claude => claude_checks(layout, workspace)?,
        };
        sections.push((
            format!(
                "{} ({})",
                layout.agent.display_name(),
                layout.home.display()
            ),
            checks,
        ));
    }
    if let Some(workspace) = workspace {
        sections.push((
            format!("workspace {}", workspace.display()),
            workspace_checks(workspace),
        ));
    }
    let unicode = style::unicode();
    for (title, checks) in sections {
        writeln!(out, "{}", style::paint(style::TITLE, title)).map_err(stdout_error)?;
        for check in checks {
            let mark = match check.status {
                Status::Pass => Mark::Pass,
                Status::Fail => {
                    failed = true;
                    Mark::Fail
                }
                Status::Info => Mark::Info,
            };
            writeln!(out, "  {} {}", mark.render(unicode), check.label).map_err(stdout_error)?;
            if let Some(fix) = check.fix {
                writeln!(out, "      {} {fix}", style::paint(style::NOTE, "fix:"))
                    .map_err(stdout_error)?;
            }
        }
    }
    let verdict = if failed {
        style::paint(style::BAD, "some checks failed: run the fixes above")
    } else {
        style::paint(style::GOOD, "everything a loop needs is in place")
    };
    writeln!(out, "{verdict}").map_err(stdout_error)?;
    Ok(i32::from(failed))
}

/// The checks of one host's wiring, as `doctor` prints them under the host: `run`
/// refuses to launch a client whose hooks would not run (not installed, untrusted …).
pub(crate) fn host_checks(
    agent: Agent,
    codex: &Path,
    workspace: Option<&Path>,
) -> Result<Vec<Check>> {
    let layout = Layout::new(agent, None)?;
    match agent {
        Agent::Codex => codex_checks(&layout, codex),
        Agent::Claude => claude_checks(&layout, workspace),
    }
}

/// Whether a shell finds `ralph-hook` by name, and whether it is this version; and what
/// became of the copy install placed on PATH. Off PATH, a binary the plugin's hooks find
/// elsewhere still runs the loop, so that case informs instead of failing.
fn path_checks(layouts: &[Layout]) -> Vec<Check> {
    let own = path_copy::own_version();
    let placed = path_copy::recorded();
    let update = "install/install.sh from a checkout   (or: cargo install --path . --force)";
    let found = path_copy::on_path();
    let plugin_binary = || {
        layouts.iter().find_map(|layout| {
            let ids = plugin::enabled(layout).ok().filter(|ids| !ids.is_empty())?;
            plugin::launcher_binary(layout, &ids)
        })
    };
    let mut checks = vec![
        match (&found, found.is_none().then(plugin_binary).flatten()) {
            (None, Some(binary)) => Check::info(format!(
                "`ralph-hook` is not on PATH: the plugin's hooks run {}, but you and scripts cannot run `ralph-hook` by name (export PATH=\"{}:$PATH\" lets you)",
                binary.display(),
                binary.parent().unwrap_or(Path::new("/")).display()
            )),
            (None, None) => {
                let fix = match placed
                    .as_deref()
                    .filter(|p| p.is_file())
                    .and_then(Path::parent)
                {
                    Some(dir) => format!(
                        "export PATH=\"{}:$PATH\"   (and put that line in your shell's profile)",
                        dir.display()
                    ),
                    None => update.to_string(),
                };
                Check::fail(
                    "`ralph-hook` is not on PATH: you, scripts and the agent cannot run it by name",
                    fix,
                )
            }
            (Some(found), _) => match path_copy::version_of(found) {
                Ok(version) if version == own => Check::pass(format!(
                    "`ralph-hook` on PATH is {} ({version})",
                    found.display()
                )),
                Ok(version) => Check::fail(
                    format!(
                        "`ralph-hook` on PATH ({}) is {version}, this is {own}",
                        found.display()
                    ),
                    update,
                ),
                Err(why) => Check::fail(
                    format!("`ralph-hook` on PATH ({}): {why}", found.display()),
                    update,
                ),
            },
        },
    ];
    if let Some(placed) = placed {
        let same = |a: &Path, b: &Path| {
            a == b || std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
        };
        if !placed.exists() {
            checks.push(Check::info(format!(
                "the copy install placed at {} is gone",
                placed.display()
            )));
        } else if let Some(found) = found.as_deref().filter(|found| !same(found, &placed)) {
            checks.push(Check::info(format!(
                "the copy install placed at {} is shadowed by {}, earlier on PATH",
                placed.display(),
                found.display()
            )));
        }
    }
    let relative = program::relative_path_entries();
    if !relative.is_empty() {
        let entries: Vec<String> = relative
            .iter()
            .map(|entry| {
                if entry.as_os_str().is_empty() {
                    "(empty: the current folder)".to_string()
                } else {
                    render::printable(&entry.display().to_string()).into_owned()
                }
            })
            .collect();
        checks.push(Check::info(format!(
            "PATH has relative entries ({}): ralph-hook never runs a program found through them (in a workspace they would name the agent's files), but your shell does",
            entries.join(", ")
        )));
    }
    checks
}

fn stdout_error(err: std::io::Error) -> error::Error {
    error::Error::io("write the report", "stdout", err)
}

/// How ralph-hook is wired into a host: by `ralph-hook install`, by the plugin, or both.
fn wiring(layout: &Layout) -> Result<(Vec<String>, bool)> {
    Ok((plugin::enabled(layout)?, plugin::has_own_handlers(layout)?))
}

/// The line that reports ralph-hook wired in twice, with the fix.
fn installed_twice(layout: &Layout, ids: &[String]) -> Check {
    let flags = layout.flags();
    let remove = ids
        .iter()
        .map(|id| plugin::remove_command(layout.agent, id))
        .collect::<Vec<_>>()
        .join(" && ");
    Check::fail(
        format!(
            "installed twice: the ralph-hook plugin ({}) and `ralph-hook install`'s handlers in {} both run on every prompt and stop (each is still acted on once, but every stop runs ralph-hook twice)",
            ids.join(", "),
            layout.hooks_file().display()
        ),
        format!(
            "keep the plugin: ralph-hook uninstall {flags} && ralph-hook install {flags}   (or keep this install: {remove})"
        ),
    )
}

/// The checks of a host where the plugin brings the hooks and the skill.
fn plugin_checks(layout: &Layout, ids: &[String]) -> Vec<Check> {
    let mut checks = vec![Check::pass(format!(
        "the ralph-hook plugin ({}) brings the hooks and the ralph-loop skill",
        ids.join(", ")
    ))];
    let own = format!("ralph-hook {}", env!("CARGO_PKG_VERSION"));
    let copy_fix = match std::env::current_exe() {
        Ok(exe) => format!(
            "cargo install --locked --git <ralph-hook's repository> ralph-hook   (or: mkdir -p ~/.cargo/bin && cp {} ~/.cargo/bin/)",
            shell::word(&exe)
        ),
        Err(_) => "cargo install --locked --git <ralph-hook's repository> ralph-hook".to_owned(),
    };
    checks.push(match plugin::launcher_binary(layout, ids) {
        None => Check::fail(
            "the plugin's hooks find no ralph-hook binary (on PATH, in ~/.cargo/bin or in the plugin's data folder/bin), so they allow every stop",
            copy_fix,
        ),
        Some(binary) => match plugin::version_of(&binary) {
            Ok(version) if version == own => Check::pass(format!(
                "the plugin's hooks run {} ({version})",
                binary.display()
            )),
            Ok(version) => Check::fail(
                format!(
                    "the plugin's hooks run {}, which is {version}; this is {own}",
                    binary.display()
                ),
                copy_fix,
            ),
            Err(why) => Check::fail(
                format!("the plugin's hooks run {}, but {why}", binary.display()),
                copy_fix,
            ),
        },
    });
    checks
}

fn codex_checks(layout: &Layout, codex: &Path) -> Result<Vec<Check>> {
    let fix = format!("ralph-hook install {}", layout.flags());
    let (plugins, own) = wiring(layout)?;
    if !plugins.is_empty() && !own {
        let mut checks = plugin_checks(layout, &plugins);
        let doc = config_doc(layout)?;
        checks.push(feature_check(layout, doc.as_ref()));
        checks.push(plugin_trust_check(layout, codex, &fix)?);
        return Ok(checks);
    }
    let mut checks = Vec::new();
    if !plugins.is_empty() {
        checks.push(installed_twice(layout, &plugins));
    }
    checks.push(binary_check(layout, &fix));
    let entry = layout.entry_point();
    checks.push(match plan::read(&entry, true)? {
        Content::Bytes(bytes)
            if bytes == ENTRY_POINT.as_bytes() && program::is_executable(&entry) =>
        {
            Check::pass(format!("entry point {}", entry.display()))
        }
        Content::Missing => {
            Check::fail(format!("entry point {} is missing", entry.display()), &fix)
        }
        _ => Check::fail(
            format!(
                "entry point {} is not ralph-hook's (or not executable)",
                entry.display()
            ),
            &fix,
        ),
    });
    let (hooks_path, found) = inline_hooks::codex_handlers(layout)?;
    checks.extend(handler_checks(layout, &hooks_path, &found, &fix)?);
    let doc = config_doc(layout)?;
    checks.push(feature_check(layout, doc.as_ref()));
    let listing = app_server::list_hooks(codex, &layout.home, &layout.home);
    checks.push(trust_check(
        &listing,
        &hooks_path,
        &found,
        doc.as_ref(),
        &fix,
    ));
    if let (Ok((hooks, problems)), Some(doc)) = (&listing, &doc) {
        checks.extend(lost_trust_checks(hooks, doc));
        checks.extend(
            problems
                .iter()
                .map(|problem| Check::info(format!("Codex says: {problem}"))),
        );
    }
    checks.push(skill_check(layout, &fix)?);
    Ok(checks)
}

/// Codex's config.toml, parsed, when there is one.
fn config_doc(layout: &Layout) -> Result<Option<toml_edit::DocumentMut>> {
    let config = layout.config_toml();
    Ok(match plan::read_text(&config)? {
        Some(text) => Some(config_toml::parse(&config, &text)?),
        None => None,
    })
}

/// The install that works where nothing is installed yet: plain `install` refuses while
/// Codex's config.toml switches hooks off, so the fix must say `--enable-hooks`.
fn first_install_fix() -> &'static str {
    let hooks_off = Layout::new(Agent::Codex, None)
        .ok()
        .and_then(|layout| config_doc(&layout).ok().flatten())
        .is_some_and(|doc| !config_toml::hooks_enabled(&doc));
    if hooks_off {
        "ralph-hook install --enable-hooks   (Codex's config.toml switches hooks off and this switches every other hook on too; or: ralph-hook install --agent claude)"
    } else {
        "ralph-hook install"
    }
}

fn feature_check(layout: &Layout, doc: Option<&toml_edit::DocumentMut>) -> Check {
    if doc.is_none_or(config_toml::hooks_enabled) {
        if doc.is_some_and(config_toml::hooks_set_on) {
            Check::pass("hooks feature on in config.toml")
        } else {
            Check::pass("hooks feature on by default (config.toml does not set [features] hooks)")
        }
    } else {
        Check::fail(
            "hooks are switched off in config.toml ([features] hooks = false)",
            format!(
                "ralph-hook install --enable-hooks {}   (this switches every other hook on too)",
                layout.flags()
            ),
        )
    }
}

fn claude_checks(layout: &Layout, workspace: Option<&Path>) -> Result<Vec<Check>> {
    let fix = format!("ralph-hook install {}", layout.flags());
    let (plugins, own) = wiring(layout)?;
    let mut checks = Vec::new();
    let path = layout.hooks_file();
    if !plugins.is_empty() && !own {
        checks.extend(plugin_checks(layout, &plugins));
    } else {
        if !plugins.is_empty() {
            checks.push(installed_twice(layout, &plugins));
        }
        checks.push(binary_check(layout, &fix));
        let found = match plan::read_text(&path)? {
            Some(text) => hooks_json::find(&json_text::parse(&path, &text)?, &path)?,
            None => hooks_json::Found::default(),
        };
        checks.extend(handler_checks(layout, &path, &found, &fix)?);
        checks.push(skill_check(layout, &fix)?);
    }
    let settings = match plan::read_text(&path)? {
        Some(text) => json_text::parse(&path, &text)?,
        None => Value::Null,
    };
    let cap = block_cap::effective_cap(&settings);
    let (needed, source) = workspace.and_then(loop_max_iterations).map_or(
        (
            u64::from(DEFAULT_MAX_ITERATIONS),
            "the default max iterations",
        ),
        |n| (n, "the workspace loop's max iterations"),
    );
    let needed_cap = if needed == 0 {
        block_cap::INSTALLED_CAP
    } else {
        needed
    };
    checks.push(if cap >= needed_cap {
        Check::pass(format!(
            "Claude Code's Stop block cap {cap} covers {source} ({needed})"
        ))
    } else {
        Check::fail(
            format!(
                "Claude Code's Stop block cap is {cap}: a loop is cut after {cap} continuations ({source}: {needed})"
            ),
            &fix,
        )
    });
    checks.push(Check::info(BARE_NOTE));
    Ok(checks)
}

/// `claude --bare` runs no hook at all (Claude Code 2.1.332's `--help`): said once in
/// doctor, since nothing on disk can show it.
pub(crate) const BARE_NOTE: &str =
    "`claude --bare` skips every hook: no loop runs in a --bare session (start it without --bare)";

fn binary_check(layout: &Layout, fix: &str) -> Check {
    let binary = layout.binary();
    if !binary.exists() {
        return Check::fail(format!("binary {} is missing", binary.display()), fix);
    }
    match Command::new(&binary).arg("--version").output() {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            let own = format!("ralph-hook {}", env!("CARGO_PKG_VERSION"));
            if version == own {
                Check::pass(format!("binary {} runs ({version})", binary.display()))
            } else {
                Check::fail(
                    format!("binary {} is {version}, this is {own}", binary.display()),
                    fix,
                )
            }
        }
        Ok(output) => Check::fail(
            format!(
                "binary {} fails to run ({})",
                binary.display(),
                output.status
            ),
            fix,
        ),
        Err(err) => Check::fail(
            format!("binary {} cannot run: {err}", binary.display()),
            fix,
        ),
    }
}

fn handler_checks(
    layout: &Layout,
    path: &Path,
    found: &hooks_json::Found,
    fix: &str,
) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for &event in HookEvent::for_agent(layout.agent) {
        let expected = hook_command(&layout.binary(), event, layout.agent)?;
        let name = event.json_name();
        let ours = found.ours.iter().filter(|p| p.event == event);
        checks.push(if ours.clone().any(|p| p.command == expected) {
            Check::pass(format!(
                "{name} handler in {} runs the binary",
                path.display()
            ))
        } else if event == HookEvent::Stop
            && layout.agent == Agent::Codex
            && let Some(dispatcher) = &found.dispatcher
        {
            Check::pass(format!(
                "Stop goes through the dispatcher `{dispatcher}` to hooks/ralph-loop-stop.sh"
            ))
        } else if let Some(other) = ours.clone().next() {
            Check::fail(
                format!(
                    "{name} handler in {} runs `{}`, not the installed binary",
                    path.display(),
                    other.command
                ),
                fix,
            )
        } else {
            Check::fail(
                format!("no ralph-hook {name} handler in {}", path.display()),
                fix,
            )
        });
    }
    Ok(checks)
}

/// What `hooks/list` answered: every hook and the problems Codex found, or why not.
type Listing = std::result::Result<(Vec<ListedHook>, Vec<String>), AppServerError>;

fn trust_check(
    listing: &Listing,
    path: &Path,
    found: &hooks_json::Found,
    doc: Option<&toml_edit::DocumentMut>,
    fix: &str,
) -> Check {
    let fix = format!("{fix}   (or in Codex: /hooks, then trust the ralph-hook hooks)");
    let expected = found.ours.len();
    if expected == 0 {
        return Check::fail("no ralph-hook handlers to trust", fix);
    }
    let selected = match listing {
        Ok((hooks, problems)) => trust::select_ours(path, expected, hooks, problems),
        Err(AppServerError::NotFound(reason)) => Err(AppServerError::NotFound(reason.clone())),
        Err(AppServerError::Failed(reason)) => Err(AppServerError::Failed(reason.clone())),
    };
    match selected {
        Ok((hooks, _)) => trust_verdict(&hooks, fix),
        Err(AppServerError::NotFound(reason)) => {
            let recorded = doc.is_some_and(|doc| recorded_trust(path, found, doc));
            if recorded {
                Check::pass(format!(
                    "trust entries recorded in config.toml (not verified: {reason})"
                ))
            } else {
                Check::fail(
                    format!("no trust entries for ralph-hook in config.toml ({reason})"),
                    fix,
                )
            }
        }
        Err(AppServerError::Failed(reason)) => Check::fail(
            format!("could not read hook trust from Codex: {reason}"),
            fix,
        ),
    }
}

/// Trust of the plugin's hooks, as `codex app-server` lists them.
fn plugin_trust_check(layout: &Layout, codex: &Path, fix: &str) -> Result<Check> {
    let fix = format!("{fix}   (or in Codex: /hooks, then trust the ralph-hook hooks)");
    Ok(
        match trust::listed_handlers(layout, codex, Handlers::Plugin)? {
            Ok((hooks, _)) if hooks.is_empty() => {
                Check::fail("no ralph-hook plugin handlers to trust", fix)
            }
            Ok((hooks, _)) => trust_verdict(&hooks, fix),
            Err(AppServerError::NotFound(reason) | AppServerError::Failed(reason)) => Check::fail(
                format!("could not read hook trust from Codex: {reason}"),
                fix,
            ),
        },
    )
}

/// Pass when Codex trusts every one of `hooks`, else the untrusted ones and the fix.
fn trust_verdict(hooks: &[ListedHook], fix: String) -> Check {
    let untrusted: Vec<String> = hooks
        .iter()
        .filter(|hook| hook.trust_status.as_deref() != Some("trusted"))
        .map(|hook| {
            format!(
                "{} is {}",
                hook.key,
                hook.trust_status.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if untrusted.is_empty() {
        Check::pass(format!(
            "Codex trusts ralph-hook's {} handler(s)",
            hooks.len()
        ))
    } else {
        Check::fail(
            format!("not trusted by Codex: {}", untrusted.join(", ")),
            fix,
        )
    }
}

/// Whether config.toml holds a trust entry for each of ralph-hook's handlers at their
/// current positions (the hash can only be checked by Codex).
fn recorded_trust(path: &Path, found: &hooks_json::Found, doc: &toml_edit::DocumentMut) -> bool {
    let names = SourceNames::of(path);
    !found.ours.is_empty()
        && found
            .ours
            .iter()
            .all(|p| !trust_key::keys_at(doc, &names, p.event, p.group, p.handler).is_empty())
}

/// The user's handlers that Codex no longer runs although they were trusted: one whose
/// trust entry sits under another position (it moved when a handler before it went), or
/// one that changed since it was trusted. Codex skips both without a word.
fn lost_trust_checks(hooks: &[ListedHook], doc: &toml_edit::DocumentMut) -> Vec<Check> {
    let entries = trust_key::entries(doc);
    let mut checks = Vec::new();
    for hook in hooks {
        let command = hook.command.as_deref().unwrap_or("?");
        if ralph_hook_event(command).is_some() {
            continue;
        }
        let source = hook
            .source_path
            .as_ref()
            .map(|path| path.display().to_string());
        let fix = format!(
            "in Codex: /hooks, review `{command}` and trust it again (or move its [hooks.state] entry in config.toml to \"{}\")",
            hook.key
        );
        match hook.trust_status.as_deref() {
            Some("modified") => checks.push(Check::fail(
                format!(
                    "`{command}` ({}) changed since it was trusted: Codex skips it",
                    hook.key
                ),
                fix,
            )),
            Some("untrusted") => {
                // An entry with this handler's hash under another position of the same
                // file, which no identical handler there uses.
                let moved_from = entries.iter().find(|(key, hash)| {
                    *key != hook.key
                        && hash.is_some()
                        && *hash == hook.current_hash
                        && trust_key::parse(key)
                            .is_some_and(|(from, ..)| source.as_deref() == Some(from))
                        && !hooks
                            .iter()
                            .any(|other| other.key == *key && other.current_hash == *hash)
                });
                if let Some((old, _)) = moved_from {
                    checks.push(Check::fail(
                        format!(
                            "`{command}` lost its trust: it is {} now, but config.toml trusts it as {old} (it moved when a hook before it was removed), so Codex skips it",
                            hook.key
                        ),
                        fix,
                    ));
                }
            }
            _ => {}
        }
    }
    checks
}

fn skill_check(layout: &Layout, fix: &str) -> Result<Check> {
    let path = layout.skill();
    let own = env!("CARGO_PKG_VERSION");
    Ok(match plan::read_text(&path)? {
        None => Check::fail(format!("skill {} is missing", path.display()), fix),
        Some(text) => match skill::installed_version(&text) {
            Some(version) if version == own => {
                Check::pass(format!("skill {} (version {version})", path.display()))
            }
            Some(version) => Check::fail(
                format!(
                    "skill {} is version {version}, the binary is {own}",
                    path.display()
                ),
                fix,
            ),
            None => Check::fail(
                format!("skill {} was not written by ralph-hook", path.display()),
                fix,
            ),
        },
    })
}

/// `max_iterations` of a loop state file, when there is one.
fn loop_max_iterations(workspace: &Path) -> Option<u64> {
    let record = lookup::find(workspace, Some(Agent::Claude)).ok()?.record?;
    Some(u64::from(record.state.max_iterations))
}
