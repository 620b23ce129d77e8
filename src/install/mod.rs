//! `install`, `uninstall` and `doctor`: wiring ralph-hook into Codex and Claude Code.

mod app_server;
mod block_cap;
mod command_line;
mod config_toml;
pub mod doctor;
mod hook_edit;
mod hooks_json;
mod host;
mod inline_hooks;
mod json_text;
mod layout;
mod path_copy;
mod plan;
mod plugin;
mod purge;
mod record;
mod skill;
mod trust;
mod trust_key;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::cli::{DoctorArgs, HostChoice, InstallArgs, InstallMode, UninstallArgs};
use crate::error::{Error, Result};
use host::{HostPlan, Mode, Scope};
use layout::Layout;
use plan::Plan;
use trust::{Handlers, TrustOutcome};

/// Runs `install`: plans every host first (so a malformed file anywhere stops
/// everything), prints the plan, applies it all-or-nothing, then trusts the Codex hooks.
pub fn run_install(args: &InstallArgs) -> Result<()> {
    let mode = match args.mode {
        InstallMode::Copy => Mode::Copy,
        InstallMode::Symlink => Mode::Symlink,
    };
    let layouts = select_hosts(
        args.agent,
        &args.homes.codex_home,
        &args.homes.claude_home,
        "install",
    )?;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|err| Error::io("find the running binary", "ralph-hook", err))?;
    let mut plans = Vec::new();
    for layout in &layouts {
        plans.push(host::plan_install(layout, mode, &exe, args.enable_hooks)?);
    }
    let mut out = std::io::stdout();
    let verb = if args.dry_run {
        "would install"
    } else {
        "install"
    };
    if !args.dry_run {
        check_writable(&plans)?;
    }
    report(&mut out, &plans, verb, args.dry_run)?;
    if args.dry_run {
        report_unwritable(&mut out, &plans)?;
        for layout in layouts.iter().filter(|l| l.agent == Agent::Codex) {
            if !args.no_trust {
                say(
                    &mut out,
                    &format!(
                        "{}: would ask `codex app-server` for the hooks' trust keys and record them in config.toml",
                        layout.home.display()
                    ),
                )?;
            }
        }
        return say(&mut out, "dry run: nothing was written");
    }
    let codex_hosts: Vec<(Layout, Handlers)> = plans
        .iter()
        .filter(|host| host.layout.agent == Agent::Codex)
        .map(|host| {
            let which = match host.scope {
                Scope::Full => Handlers::Installed,
                Scope::PluginCompanion => Handlers::Plugin,
            };
            (host.layout.clone(), which)
        })
        .collect();
    apply_all(plans)?;
    if let Some(copy) = &args.path_copy {
        path_copy::record(copy)?;
    }
    for (layout, which) in &codex_hosts {
        if args.no_trust {
            say(
                &mut out,
                &format!(
                    "trust skipped (--no-trust). {}",
                    trust::manual_instructions(layout)
                ),
            )?;
            continue;
        }
        let codex = trust::codex_bin(args.codex_bin.as_deref());
        let message = match trust::trust(layout, &codex, *which)? {
            TrustOutcome::NothingToTrust => {
                "trust: no ralph-hook handlers in hooks.json or config.toml".to_owned()
            }
            TrustOutcome::AlreadyTrusted(n) => {
                format!("trust: Codex already trusts ralph-hook's {n} handler(s)")
            }
            TrustOutcome::Trusted(n) => {
                format!("trust: trusted {n} handler(s); codex app-server confirms they are trusted")
            }
            TrustOutcome::ReadOnly(message) => format!("trust: {message}"),
            TrustOutcome::Unavailable(reason) => format!(
                "trust: could not ask Codex ({reason}). {}",
                trust::manual_instructions(layout)
            ),
        };
        say(&mut out, &message)?;
    }
    Ok(())
}

/// Runs `uninstall`: removes exactly what install added, for every selected host, and
/// says what it leaves behind; `--purge` also removes the copy on PATH that
/// install/install.sh placed and the user's loop records.
pub fn run_uninstall(args: &UninstallArgs) -> Result<()> {
    let mut out = std::io::stdout();
    let layouts = match select_hosts(
        args.agent,
        &args.homes.codex_home,
        &args.homes.claude_home,
        "uninstall",
    ) {
        Ok(layouts) => layouts,
        // With --purge there is still something to do when no host is wired.
        Err(_) if args.purge && args.agent.is_none() => Vec::new(),
        Err(err) => return Err(err),
    };
    let mut plans = Vec::new();
    for layout in &layouts {
        plans.push(host::plan_uninstall(layout)?);
    }
    let verb = if args.dry_run {
        "would uninstall"
    } else {
        "uninstall"
    };
    if !args.dry_run {
        check_writable(&plans)?;
    }
    report(&mut out, &plans, verb, args.dry_run)?;
    if args.dry_run {
        report_unwritable(&mut out, &plans)?;
    } else {
        apply_all(plans)?;
    }
    if args.purge {
        for line in purge::run(args.dry_run)? {
            say(&mut out, &line)?;
        }
    }
    for line in purge::left_behind(args.purge) {
        say(&mut out, &line)?;
    }
    if args.dry_run {
        say(&mut out, "dry run: nothing was written")?;
    }
    Ok(())
}

/// Runs `doctor` and returns its exit code.
pub fn run_doctor(args: &DoctorArgs) -> Result<i32> {
    let mut layouts = Vec::new();
    for agent in Agent::ALL {
        let flag = match agent {
            Agent::Codex => args.homes.codex_home.as_deref(),
            Agent::Claude => args.homes.claude_home.as_deref(),
        };
        let layout = Layout::new(agent, flag)?;
        if flag.is_some()
            || layout.binary().exists()
            || layout.record().exists()
            || plugin::enabled(&layout).is_ok_and(|ids| !ids.is_empty())
        {
            layouts.push(layout);
        }
    }
    let codex = trust::codex_bin(args.codex_bin.as_deref());
    let workspace = match &args.workspace {
        Some(dir) => Some(
            std::path::absolute(dir).map_err(|err| Error::io("find the workspace", dir, err))?,
        ),
        None => None,
    };
    doctor::run(
        &layouts,
        workspace.as_deref(),
        &codex,
        &mut crate::style::stdout(),
    )
}

/// The hosts a command acts on: the one asked for, both for `all`, or by default every
/// host whose home exists (or was named with a flag).
fn select_hosts(
    agent: Option<HostChoice>,
    codex_home: &Option<PathBuf>,
    claude_home: &Option<PathBuf>,
    command: &str,
) -> Result<Vec<Layout>> {
    let wanted: Vec<Agent> = match agent {
        Some(HostChoice::Codex) => vec![Agent::Codex],
        Some(HostChoice::Claude) => vec![Agent::Claude],
        Some(HostChoice::All) => Agent::ALL.to_vec(),
        None => Vec::new(),
    };
    let mut layouts = Vec::new();
    for candidate in Agent::ALL {
        let flag = match candidate {
            Agent::Codex => codex_home.as_deref(),
            Agent::Claude => claude_home.as_deref(),
        };
        let layout = Layout::new(candidate, flag)?;
        let chosen = if agent.is_some() {
            wanted.contains(&candidate)
        } else {
            flag.is_some() || layout.home.is_dir()
        };
        if chosen {
            check_home(&layout.home)?;
            layouts.push(layout);
        }
    }
    if layouts.is_empty() {
        return Err(Error::usage(format!(
            "found neither Codex ($CODEX_HOME or ~/.codex) nor Claude Code (~/.claude); run `ralph-hook {command} --agent codex|claude|all`"
        )));
    }
    Ok(layouts)
}

/// A home that exists must be a folder.
fn check_home(home: &Path) -> Result<()> {
    if home.exists() && !home.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a folder; pass the host's home folder",
            home.display()
        )));
    }
    Ok(())
}

/// Prints each host's plan, file by file, and its notes.
fn report(out: &mut dyn Write, plans: &[HostPlan], verb: &str, diffs: bool) -> Result<()> {
    for host in plans {
        say(
            out,
            &format!(
                "{verb} for {} in {}:",
                host.layout.agent.display_name(),
                host.layout.home.display()
            ),
        )?;
        if host.plan.is_empty() {
            say(out, "  nothing to change")?;
        }
        host.plan.print(out, diffs).map_err(stdout_error)?;
        for note in &host.notes {
            say(out, &format!("  note: {note}"))?;
        }
    }
    Ok(())
}

/// Refuses to start when a config file that would change is read-only or not writable.
fn check_writable(plans: &[HostPlan]) -> Result<()> {
    plans.iter().try_for_each(|host| host.plan.check_writable())
}

/// Under `--dry-run`, says which file would stop the real run.
fn report_unwritable(out: &mut dyn Write, plans: &[HostPlan]) -> Result<()> {
    for host in plans {
        if let Err(err) = host.plan.check_writable() {
            say(out, &format!("the real run would stop here: {err}"))?;
        }
    }
    Ok(())
}

/// Applies every host's plan as one, so a failure anywhere leaves every file as it was.
fn apply_all(plans: Vec<HostPlan>) -> Result<()> {
    let mut all = Plan::default();
    for host in plans {
        all.changes.extend(host.plan.changes);
        all.create_dirs.extend(host.plan.create_dirs);
        all.remove_dirs.extend(host.plan.remove_dirs);
    }
    all.apply()
}

fn say(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(stdout_error)
}

fn stdout_error(err: std::io::Error) -> Error {
    Error::io("write the report", "stdout", err)
}
