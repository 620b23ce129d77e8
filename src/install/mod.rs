//! `install`, `uninstall` and `doctor`: wiring ralph-hook into Codex and Claude Code.

mod app_server;
mod block_cap;
mod command_line;
mod config_toml;
pub mod doctor;
mod hooks_json;
mod host;
mod json_text;
mod layout;
mod path_copy;
mod plan;
mod purge;
mod record;
mod skill;
mod trust;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::agent::Agent;
use crate::error::{Error, Result};
use host::{HostPlan, Mode};
use layout::Layout;
use plan::Plan;
use trust::TrustOutcome;

/// Where each host keeps its configuration, when not in the default place.
#[derive(Debug, Args)]
pub struct Homes {
    /// Codex's home (default: `$CODEX_HOME`, else `~/.codex`).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's home (default: `~/.claude`).
    #[arg(long, value_name = "DIR")]
    pub claude_home: Option<PathBuf>,
}

/// Flags of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Which host to wire up (default: every host found).
    #[arg(long, value_name = "codex|claude|all")]
    pub agent: Option<String>,
    /// Copy the binary (default) or symlink it so a rebuilt binary is picked up.
    #[arg(long, value_name = "copy|symlink")]
    pub mode: Option<String>,
    #[command(flatten)]
    pub homes: Homes,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not mark the hooks trusted in Codex.
    #[arg(long)]
    pub no_trust: bool,
    /// The codex executable used to compute hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
    /// Record that install/install.sh put this copy of ralph-hook on PATH, so `doctor`
    /// checks it and `uninstall --purge` removes it.
    #[arg(long, value_name = "FILE", hide = true)]
    pub path_copy: Option<PathBuf>,
}

/// Flags of `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Which host to unwire (default: every host found).
    #[arg(long, value_name = "codex|claude|all")]
    pub agent: Option<String>,
    #[command(flatten)]
    pub homes: Homes,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the copy of ralph-hook that install/install.sh put on PATH and this
    /// user's loop records.
    #[arg(long)]
    pub purge: bool,
}

/// Flags of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check the loop in this workspace.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    #[command(flatten)]
    pub homes: Homes,
    /// The codex executable used to read hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
}

/// Runs `install`: plans every host first (so a malformed file anywhere stops
/// everything), prints the plan, applies it all-or-nothing, then trusts the Codex hooks.
pub fn run_install(args: &InstallArgs) -> Result<()> {
    let mode = match args.mode.as_deref() {
        None | Some("copy") => Mode::Copy,
        Some("symlink") => Mode::Symlink,
        Some(other) => {
            return Err(Error::usage(format!(
                "--mode {other:?}: use copy or symlink"
            )));
        }
    };
    let layouts = select_hosts(
        args.agent.as_deref(),
        &args.homes.codex_home,
        &args.homes.claude_home,
        "install",
    )?;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|err| Error::io("find the running binary", "ralph-hook", err))?;
    let mut plans = Vec::new();
    for layout in &layouts {
        plans.push(host::plan_install(layout, mode, &exe)?);
    }
    let mut out = std::io::stdout();
    let verb = if args.dry_run {
        "would install"
    } else {
        "install"
    };
    report(&mut out, &plans, verb, args.dry_run)?;
    if args.dry_run {
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
    apply_all(plans)?;
    if let Some(copy) = &args.path_copy {
        path_copy::record(copy)?;
    }
    for layout in layouts.iter().filter(|l| l.agent == Agent::Codex) {
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
        let message = match trust::trust(layout, &codex)? {
            TrustOutcome::NothingToTrust => {
                "trust: no ralph-hook handlers in hooks.json".to_owned()
            }
            TrustOutcome::AlreadyTrusted(n) => {
                format!("trust: Codex already trusts ralph-hook's {n} handler(s)")
            }
            TrustOutcome::Trusted(n) => {
                format!("trust: trusted {n} handler(s); codex app-server confirms they are trusted")
            }
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
        args.agent.as_deref(),
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
    report(&mut out, &plans, verb, args.dry_run)?;
    if !args.dry_run {
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
        if flag.is_some() || layout.binary().exists() || layout.record().exists() {
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
    agent: Option<&str>,
    codex_home: &Option<PathBuf>,
    claude_home: &Option<PathBuf>,
    command: &str,
) -> Result<Vec<Layout>> {
    let wanted: Vec<Agent> = match agent {
        Some("codex") => vec![Agent::Codex],
        Some("claude") => vec![Agent::Claude],
        Some("all") => Agent::ALL.to_vec(),
        Some(other) => {
            return Err(Error::usage(format!(
                "--agent {other:?}: use codex, claude or all"
            )));
        }
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
