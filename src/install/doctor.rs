//! `ralph-hook doctor`: checks, one line each with ✓ or ✗ and the command that fixes it,
//! that everything a loop needs is in place: `ralph-hook` on PATH at this version, each
//! host's wiring, and a workspace's loop.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::app_server::AppServerError;
use super::block_cap;
use super::command_line::{HookEvent, hook_command};
use super::config_toml;
use super::hooks_json;
use super::host::ENTRY_POINT;
use super::json_text;
use super::layout::Layout;
use super::path_copy;
use super::plan::{self, Content};
use super::skill;
use super::trust;
use crate::agent::Agent;
use crate::engine::ownership::{self, Standing};
use crate::engine::render;
use crate::engine::settings::DEFAULT_MAX_ITERATIONS;
use crate::engine::store::{LoadError, Store};
use crate::error::Result;
use crate::style::{self, Mark};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In place.
    Pass,
    /// Missing or wrong: a loop will not work until it is fixed.
    Fail,
    /// Worth knowing, not needed.
    Info,
}

/// One line of doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// How it came out.
    pub status: Status,
    /// What was checked and what was found.
    pub label: String,
    /// The command (or step) that fixes a failed check.
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn pass(label: impl Into<String>) -> Self {
        Check {
            status: Status::Pass,
            label: label.into(),
            fix: None,
        }
    }

    /// A check that failed, with its fix.
    pub fn fail(label: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            status: Status::Fail,
            label: label.into(),
            fix: Some(fix.into()),
        }
    }

    /// A line that informs without deciding the exit code.
    pub fn info(label: impl Into<String>) -> Self {
        Check {
            status: Status::Info,
            label: label.into(),
            fix: None,
        }
    }
}

/// The workspace part of doctor: each host's loop there, and whether a stop would obey it.
pub fn workspace_checks(workspace: &Path) -> Vec<Check> {
    Agent::ALL
        .iter()
        .map(|agent| loop_check(&Store::new(workspace, *agent)))
        .collect()
}

fn loop_check(store: &Store) -> Check {
    let name = store.agent().display_name();
    let path = store.state_path().display();
    let ws = crate::shell::word(store.workspace());
    let state = match store.load() {
        Ok(Some(state)) => state,
        Ok(None) => {
            let last = store
                .last_history_entry()
                .map(|entry| {
                    format!(
                        "; the last one ended {}: {}",
                        entry.at,
                        entry.reason.as_deref().unwrap_or(&entry.decision)
                    )
                })
                .unwrap_or_default();
            return Check::info(format!(
                "no {name} loop in {}{last}",
                store.workspace().display()
            ));
        }
        Err(LoadError::Unusable(why)) => {
            return Check::fail(
                format!("{name} loop state {path} is unusable: {why}"),
                format!("mv {path} {path}.bad   # then start a new loop"),
            );
        }
        Err(LoadError::Io(err)) => {
            return Check::fail(
                format!("{name} loop state: {err}"),
                format!("check the permissions of {path}"),
            );
        }
    };
    let iteration = render::iteration_label(&state);
    if state.paused {
        return Check::info(format!(
            "{name} loop at iteration {iteration} is paused: stops are allowed, not counted (resume: ralph-hook resume --workspace {ws})"
        ));
    }
    match (ownership::judge_from_outside(&state), &state.session_id) {
        (Standing::Untrusted(why), _) => Check::fail(
            format!("{name} loop in {path} is NOT obeyed: {why}"),
            format!("read it, then: ralph-hook adopt --workspace {ws}"),
        ),
        (_, Some(session)) => Check::pass(format!(
            "{name} loop at iteration {iteration}: a stop of session {session} there continues it"
        )),
        (_, None) => Check::pass(format!(
            "{name} loop at iteration {iteration}: the first {name} session that stops there claims it"
        )),
    }
}

/// Runs every check for these hosts (and the workspace) and prints them; returns the exit
/// code: 0 when everything a loop needs is in place.
pub fn run(
    layouts: &[Layout],
    workspace: Option<&Path>,
    codex: &Path,
    out: &mut dyn Write,
) -> Result<i32> {
    let mut failed = false;
    let mut sections: Vec<(String, Vec<Check>)> = Vec::new();
    let mut own = path_checks();
    if layouts.is_empty() {
        own.push(Check::fail(
            "ralph-hook is installed for neither Codex (~/.codex) nor Claude Code (~/.claude)",
            "ralph-hook install",
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

/// Whether a shell finds `ralph-hook` by name, and whether it is this version; and what
/// became of the copy install placed on PATH.
fn path_checks() -> Vec<Check> {
    let own = path_copy::own_version();
    let placed = path_copy::recorded();
    let update = "install/install.sh from a checkout   (or: cargo install --path . --force)";
    let found = path_copy::on_path();
    let mut checks = vec![match &found {
        None => {
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
        Some(found) => match path_copy::version_of(found) {
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
    }];
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
    checks
}

fn stdout_error(err: std::io::Error) -> crate::error::Error {
    crate::error::Error::io("write the report", "stdout", err)
}

fn codex_checks(layout: &Layout, codex: &Path) -> Result<Vec<Check>> {
    let fix = format!("ralph-hook install {}", layout.flags());
    let mut checks = vec![binary_check(layout, &fix)];
    let entry = layout.entry_point();
    checks.push(match plan::read(&entry, true)? {
        Content::Bytes(bytes) if bytes == ENTRY_POINT.as_bytes() && is_executable(&entry) => {
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
    checks.extend(handler_checks(layout, &fix)?);
    let config = layout.config_toml();
    let doc = match plan::read_text(&config)? {
        Some(text) => Some(config_toml::parse(&config, &text)?),
        None => None,
    };
    checks.push(if doc.as_ref().is_none_or(config_toml::hooks_enabled) {
        Check::pass("hooks feature on in config.toml")
    } else {
        Check::fail(
            "hooks are switched off in config.toml ([features] hooks = false)",
            &fix,
        )
    });
    checks.push(trust_check(layout, codex, doc.as_ref(), &fix)?);
    checks.push(skill_check(layout, &fix)?);
    Ok(checks)
}

fn claude_checks(layout: &Layout, workspace: Option<&Path>) -> Result<Vec<Check>> {
    let fix = format!("ralph-hook install {}", layout.flags());
    let mut checks = vec![binary_check(layout, &fix)];
    checks.extend(handler_checks(layout, &fix)?);
    checks.push(skill_check(layout, &fix)?);
    let path = layout.hooks_file();
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
    Ok(checks)
}

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

fn handler_checks(layout: &Layout, fix: &str) -> Result<Vec<Check>> {
    let path = layout.hooks_file();
    let value = match plan::read_text(&path)? {
        Some(text) => json_text::parse(&path, &text)?,
        None => Value::Object(serde_json::Map::new()),
    };
    let found = hooks_json::find(&value, &path)?;
    let mut checks = Vec::new();
    for event in HookEvent::ALL {
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

fn trust_check(
    layout: &Layout,
    codex: &Path,
    doc: Option<&toml_edit::DocumentMut>,
    fix: &str,
) -> Result<Check> {
    let fix = format!("{fix}   (or in Codex: /hooks, then trust the ralph-hook hooks)");
    Ok(match trust::listed_handlers(layout, codex)? {
        Ok((hooks, 0)) if hooks.is_empty() => Check::fail("no ralph-hook handlers to trust", fix),
        Ok((hooks, _)) => {
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
        Err(AppServerError::NotFound(reason)) => {
            let recorded = doc.is_some_and(|doc| recorded_trust(layout, doc));
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
    })
}

/// Whether config.toml holds a trust entry for each of ralph-hook's handlers at their
/// current positions (the hash can only be checked by Codex).
fn recorded_trust(layout: &Layout, doc: &toml_edit::DocumentMut) -> bool {
    let path = layout.hooks_file();
    let Ok(Some(text)) = plan::read_text(&path) else {
        return false;
    };
    let Ok(value) = json_text::parse(&path, &text) else {
        return false;
    };
    let Ok(found) = hooks_json::find(&value, &path) else {
        return false;
    };
    !found.ours.is_empty()
        && found.ours.iter().all(|p| {
            let key = format!(
                "{}:{}:{}:{}",
                path.display(),
                p.event.trust_key_name(),
                p.group,
                p.handler
            );
            config_toml::trusted_hash(doc, &key).is_some()
        })
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
    let state = Store::new(workspace, Agent::Claude).load().ok()??;
    Some(u64::from(state.max_iterations))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    true
}
