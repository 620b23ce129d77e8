//! ralph-hook: one binary that is the Stop and UserPromptSubmit hook of Codex CLI and
//! Claude Code, plus the commands around it.
//!
//! Where things live (the modules are private: `cargo doc --document-private-items`):
//! - `engine`: the loop core. The stop is decided in `engine::decide`; the core never
//!   imports a front end.
//! - `hook`: the two hook commands (`stop`, `prompt`) and the hosts' JSON (`hook::wire`).
//! - `commands`: the commands people and scripts run (`start`, `show`, `log`, `cancel` …).
//! - `install`: wiring the hooks into `~/.codex` and `~/.claude`, `uninstall`, `doctor`.
//! - `supervise`: `run`, the only front end that starts clients (headless, supervised).
//! - `cli` the command line; `error`, `messages`, `shell`, `style`, `agent`,
//!   `clock`, `regular_file`, `did_you_mean`, `program` are small shared leaves.

mod agent;
mod cli;
mod clock;
mod commands;
mod did_you_mean;
mod engine;
mod error;
mod hook;
mod install;
mod messages;
mod program;
mod regular_file;
mod shell;
mod style;
#[cfg(unix)]
mod supervise;
mod worktree;

/// What the integration tests, benches and fuzz targets drive besides [`run`]: the loop
/// core's modules and the hosts' wire types, re-exported in one place so the rest of the
/// crate can stay private (and rustc can tell what is unused). Not a stable API.
#[doc(hidden)]
pub mod testing {
    pub use crate::commands::list_rows;

    /// Codex or Claude Code.
    pub mod agent {
        pub use crate::agent::*;
    }
    /// The command line, as clap parses it.
    pub mod cli {
        pub use crate::cli::*;
    }
    /// Times as the commands print them.
    pub mod clock {
        pub use crate::clock::*;
    }
    /// Errors and exit codes.
    pub mod error {
        pub use crate::error::*;
    }

    /// The loop core's modules the tests drive.
    pub mod engine {
        pub use crate::engine::{
            action, config, decide, digest, files, fingerprint, flush, fresh, lifecycle, ownership,
            prices, render, settings, signal, state, store, supervision, tasks, transcript, usage,
        };

        #[cfg(feature = "testing")]
        pub use crate::engine::sample;
    }

    /// The hosts' JSON and the prompt-box grammar.
    pub mod hook {
        pub use crate::hook::{loop_command, wire};
    }
}

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::error::Result;

/// Runs the program with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    // The status line runs on every prompt: straight to it, before clap builds the
    // whole command line.
    if args.len() == 2 && args[1] == "statusline" {
        return commands::statusline(None);
    }
    let hook_mode = cli::is_hook_invocation(&args);
    let parsed = if cli::invoked_as_stop_entry_point(&args) {
        Cli::try_parse_from(["ralph-hook", "stop", "--agent", "codex"])
    } else {
        Cli::try_parse_from(&args)
    };
    let cli = match parsed {
        Ok(cli) => cli,
        // `--help` and `--version` are answers, not errors (clap reports them as errors).
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return 0;
        }
        Err(err) if hook_mode => {
            messages::warn(format!(
                "allowing the stop: bad hook command line ({}); fix the command in hooks.json or settings.json (`ralph-hook stop --agent codex`)",
                err.kind()
            ));
            return 0;
        }
        Err(err) => {
            // Never clap's own exit code 2: a host would read it as "block and continue".
            let _ = err.print();
            return error::EXIT_USAGE;
        }
    };
    style::set_choice(match cli.color {
        clap::ColorChoice::Auto => style::ColorChoice::Auto,
        clap::ColorChoice::Always => style::ColorChoice::Always,
        clap::ColorChoice::Never => style::ColorChoice::Never,
    });
    match execute(cli.command) {
        Ok(code) => code,
        Err(err) => {
            messages::say_err(format!("ralph-hook: {err}"));
            err.code()
        }
    }
}

fn execute(command: Command) -> Result<i32> {
    match command {
        Command::Install(args) => install::run_install(&args).map(|()| 0),
        Command::Uninstall(args) => install::run_uninstall(&args).map(|()| 0),
        Command::Doctor(args) => install::run_doctor(&args),
        Command::Stop(args) => Ok(hook::run(hook::Hook::Stop, args.agent)),
        Command::Prompt(args) => Ok(hook::run(hook::Hook::Prompt, args.agent)),
        Command::SessionEnd(args) => Ok(hook::run(hook::Hook::SessionEnd, args.agent)),
        Command::StopFailure(args) => Ok(hook::run(hook::Hook::StopFailure, args.agent)),
        Command::Start(args) => commands::start(args),
        Command::Show(args) => commands::show(args),
        Command::Cancel(args) => commands::cancel(args),
        Command::Log(args) => commands::log(args),
        Command::Adopt(args) => commands::adopt(args),
        Command::Pause(args) => commands::pause(args, true),
        Command::Resume(args) => commands::pause(args, false),
        Command::Wait(args) => commands::wait(args),
        Command::List(args) => commands::list(&args),
        Command::Worktrees(args) => commands::worktrees(&args),
        Command::Statusline(args) => Ok(commands::statusline(args.workspace.as_deref())),
        Command::Top => commands::top(),
        Command::Logs(args) => commands::logs(&args),
        #[cfg(unix)]
        Command::Run(args) => supervise::run(args),
        #[cfg(unix)]
        Command::Supervise(args) => supervise::supervise(&args),
        #[cfg(not(unix))]
        Command::Run(_) | Command::Supervise(_) => Err(error::Error::Failed(
            "`ralph-hook run` needs process groups and sessions: it runs on Linux and macOS".into(),
        )),
        Command::Completions(args) => commands::completions(&args),
        Command::Man(args) => commands::man(&args),
        Command::Config(ConfigCommand::Path) => commands::config_path(),
        Command::Config(ConfigCommand::Check) => commands::config_check(),
        Command::Config(ConfigCommand::Prices) => commands::config_prices(),
        Command::NotifyRun(args) => commands::notify_run(args),
    }
}
