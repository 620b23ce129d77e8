//! `install`, `uninstall` and `doctor`: wiring ralph-hook into Codex and Claude Code.

use std::path::PathBuf;

use clap::Args;

use crate::agent::Agent;
use crate::error::{Error, Result};

/// Flags of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Which host to wire up (default: every host found).
    #[arg(long, value_name = "codex|claude|all")]
    pub agent: Option<String>,
    /// Copy the binary (default) or symlink it so a rebuilt binary is picked up.
    #[arg(long, value_name = "copy|symlink")]
    pub mode: Option<String>,
    /// Codex's home (default: `$CODEX_HOME`, else `~/.codex`).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's home (default: `~/.claude`).
    #[arg(long, value_name = "DIR")]
    pub claude_home: Option<PathBuf>,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not mark the hooks trusted in Codex.
    #[arg(long)]
    pub no_trust: bool,
    /// The codex executable used to compute hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
}

/// Flags of `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Which host to unwire (default: every host found).
    #[arg(long, value_name = "codex|claude|all")]
    pub agent: Option<String>,
    /// Codex's home (default: `$CODEX_HOME`, else `~/.codex`).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's home (default: `~/.claude`).
    #[arg(long, value_name = "DIR")]
    pub claude_home: Option<PathBuf>,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check the loop in this workspace.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Codex's home (default: `$CODEX_HOME`, else `~/.codex`).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's home (default: `~/.claude`).
    #[arg(long, value_name = "DIR")]
    pub claude_home: Option<PathBuf>,
    /// The codex executable used to read hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
}

/// Runs `install`.
pub fn run_install(_args: &InstallArgs) -> Result<()> {
    let _ = Agent::ALL;
    Err(Error::Failed("install is not built yet".into()))
}

/// Runs `uninstall`.
pub fn run_uninstall(_args: &UninstallArgs) -> Result<()> {
    Err(Error::Failed("uninstall is not built yet".into()))
}

/// Runs `doctor` and returns its exit code.
pub fn run_doctor(_args: &DoctorArgs) -> Result<i32> {
    Err(Error::Failed("doctor is not built yet".into()))
}
