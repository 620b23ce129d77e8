//! `install`, `uninstall` and `doctor`: wiring ralph-hook into Codex and Claude Code.

mod app_server;
mod block_cap;
mod command_line;
mod config_toml;
pub(crate) mod doctor;
mod hook_edit;
mod hooks_json;
mod host;
mod inline_hooks;
mod json_text;
mod layout;
mod man_pages;
mod path_copy;
mod plan;
mod plugin;
mod purge;
mod record;
mod skill;
mod status_line;
mod trust;
mod trust_key;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::cli::{DoctorArgs, HostChoice, InstallArgs, InstallMode, UninstallArgs};
use crate::error::{Error, Result};
use crate::style;
use host::{HostPlan, Mode, Scope};
use layout::Layout;
use plan::Plan;
use trust::{Handlers, TrustOutcome, TrustStep};

/// Runs `install` in two phases. First every host is planned (so a malformed file
/// anywhere stops everything) with the record of the copy on PATH, printed, and applied
/// all-or-nothing; then, since Codex hashes the hooks as written, the trust entries are
/// planned from what `codex app-server` lists, printed, applied the same way and confirmed.
pub(crate) fn run_install(args: &InstallArgs) -> Result<()> {
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
        plans.push(host::plan_install(
            layout,
            mode,
            &exe,
            args.enable_hooks,
            args.statusline,
        )?);
    }
    let verb = if args.dry_run {
        "would install"
    } else {
        "install"
    };
    let mut parts = Vec::new();
    if let Some(copy) = &args.path_copy {
        parts.push(Part {
            heading: format!("{verb} for the copy on PATH, {}:", copy.display()),
            plan: path_copy::plan_record(copy)?,
            notes: Vec::new(),
        });
    }
    if let Some(dir) = &args.man_pages {
        parts.push(Part {
            heading: format!("{verb} for the man pages in {}:", dir.display()),
            plan: man_pages::plan_record(dir)?,
            notes: Vec::new(),
        });
    }
    let mut out = std::io::stdout();
    if !args.dry_run {
        check_writable(&plans)?;
    }
    report(&mut out, &plans, verb, args.dry_run)?;
    for part in &parts {
        part.print(&mut out, args.dry_run)?;
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
    if args.dry_run {
        report_unwritable(&mut out, &plans)?;
        if !args.no_trust {
            for (layout, _) in &codex_hosts {
                say(
                    &mut out,
                    &format!("would trust for Codex in {}:", layout.home.display()),
                )?;
                for line in trust::preview(layout) {
                    say(&mut out, &format!("  {line}"))?;
                }
            }
        }
        return say(&mut out, "dry run: nothing was written");
    }
    apply_all(plans, parts)?;
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
        let outcome = match trust::plan_trust(layout, &codex, *which)? {
            TrustStep::Done(outcome) => outcome,
            TrustStep::Write { plan, count } => {
                let part = Part {
                    heading: format!("trust for Codex in {}:", layout.home.display()),
                    plan,
                    notes: Vec::new(),
                };
                part.print(&mut out, false)?;
                apply_all(Vec::new(), vec![part])?;
                trust::confirm(layout, &codex, *which, count)?
            }
        };
        let message = match outcome {
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
/// install/install.sh placed and the user's loop records, in the same plan.
pub(crate) fn run_uninstall(args: &UninstallArgs) -> Result<()> {
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
    let mut parts = Vec::new();
    if args.purge {
        let purge = purge::plan()?;
        parts.push(Part {
            heading: format!(
                "{} the copy on PATH, the man pages and your loop records:",
                if args.dry_run { "would purge" } else { "purge" }
            ),
            plan: purge.plan,
            notes: purge.notes,
        });
    }
    if !args.dry_run {
        check_writable(&plans)?;
    }
    report(&mut out, &plans, verb, args.dry_run)?;
    for part in &parts {
        part.print(&mut out, args.dry_run)?;
    }
    if args.dry_run {
        report_unwritable(&mut out, &plans)?;
    } else {
        apply_all(plans, parts)?;
    }
    for line in purge::left_behind(args.purge) {
        say(&mut out, &line)?;
    }
    for line in plugins_left(&args.homes.codex_home, &args.homes.claude_home) {
        say(&mut out, &line)?;
    }
    if args.dry_run {
        say(&mut out, "dry run: nothing was written")?;
    }
    Ok(())
}

/// The ralph-hook plugin still enabled in either host after uninstall, each with the
/// host's command that removes it: uninstall removes only what `install` wrote, and the
/// plugin's hooks go on running loops (Claude Code's block cap back at 8).
fn plugins_left(codex_home: &Option<PathBuf>, claude_home: &Option<PathBuf>) -> Vec<String> {
    let mut lines = Vec::new();
    for agent in Agent::ALL {
        let flag = match agent {
            Agent::Codex => codex_home.as_deref(),
            Agent::Claude => claude_home.as_deref(),
        };
        let Ok(layout) = Layout::new(agent, flag) else {
            continue;
        };
        for id in plugin::enabled(&layout).unwrap_or_default() {
            lines.push(format!(
                "left in place: the ralph-hook plugin {id} is still enabled in {}, and its hooks still run loops; `{}` removes it",
                agent.display_name(),
                plugin::remove_command(agent, &id)
            ));
        }
    }
    lines
}

/// Runs `doctor` and returns its exit code.
pub(crate) fn run_doctor(args: &DoctorArgs) -> Result<i32> {
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
    doctor::run(&layouts, workspace.as_deref(), &codex, &mut style::stdout())
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
        let heading = format!(
            "{verb} for {} in {}:",
            host.layout.agent.display_name(),
            host.layout.home.display()
        );
        print_part(out, &heading, &host.plan, &host.notes, diffs)?;
    }
    Ok(())
}

/// A part of a command's plan that belongs to no host: the record of the copy on PATH,
/// `--purge`'s removals, the trust entries.
struct Part {
    heading: String,
    plan: Plan,
    notes: Vec<String>,
}

impl Part {
    fn print(&self, out: &mut dyn Write, diffs: bool) -> Result<()> {
        print_part(out, &self.heading, &self.plan, &self.notes, diffs)
    }
}

/// Prints a heading, one line per change (with diffs under `--dry-run`) and the notes.
fn print_part(
    out: &mut dyn Write,
    heading: &str,
    plan: &Plan,
    notes: &[String],
    diffs: bool,
) -> Result<()> {
    say(out, heading)?;
    if plan.is_empty() {
        say(out, "  nothing to change")?;
    }
    plan.print(out, diffs).map_err(stdout_error)?;
    for note in notes {
        say(out, &format!("  note: {note}"))?;
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

/// Applies every host's plan and the other parts as one, so a failure anywhere leaves
/// every file as it was: the one place the installer's changes are applied.
fn apply_all(plans: Vec<HostPlan>, parts: Vec<Part>) -> Result<()> {
    let mut all = Plan::default();
    for plan in plans
        .into_iter()
        .map(|host| host.plan)
        .chain(parts.into_iter().map(|part| part.plan))
    {
        all.extend(plan);
    }
    all.apply()
}

fn say(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(stdout_error)
}

fn stdout_error(err: std::io::Error) -> Error {
    Error::io("write the report", "stdout", err)
}
