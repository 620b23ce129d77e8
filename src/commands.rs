//! The commands people and scripts run: `start`, `show`, `cancel`, `log`, `adopt`,
//! `pause`, `resume`, `wait`, `completions`, `man`. Each checks its arguments, calls [`crate::engine::lifecycle`] or reads
//! the store, and prints; errors go back to `main` with their exit code.

mod generate;
mod wait;

pub use generate::{completions, man};
pub use wait::{WaitCode, wait};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use crate::agent::Agent;
use crate::cli::{ShowArgs, StartArgs, WorkspaceArgs};
use crate::clock;
use crate::engine::lifecycle::{self, Cancelled, Found, Replace};
use crate::engine::ownership::{self, Standing};
use crate::engine::render;
use crate::engine::settings::LoopSettings;
use crate::engine::state::{LoopState, StartedBy};
use crate::engine::store::{HistoryEntry, Store};
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::style;

/// `ralph-hook start`.
pub fn start(args: StartArgs) -> Result<i32> {
    if args.show || args.cancel {
        let target = WorkspaceArgs {
            workspace: args.workspace,
            agent: args.agent,
        };
        return if args.show {
            show(ShowArgs {
                target,
                json: false,
            })
        } else {
            cancel(target)
        };
    }
    let workspace = match &args.workspace {
        Some(dir) => checked_workspace(dir)?,
        None => default_workspace()?,
    };
    let task = read_task(&args)?;
    let settings = LoopSettings::parse(&task, &args.flags)?;
    let agent = args.agent.or_else(agent_from_env).unwrap_or(Agent::Codex);
    let session = args
        .session
        .filter(|s| !s.trim().is_empty())
        .or_else(|| session_from_env(agent));
    let store = Store::new(&workspace, agent);
    let replace = if args.force {
        Replace::Always
    } else {
        Replace::Never
    };
    let started = lifecycle::begin(
        &store,
        &settings,
        session,
        StartedBy::Start,
        replace,
        None,
        clock::now(),
    )?;
    if settings.uncapped {
        crate::messages::warn(format!(
            "warning: --max-iterations 0 means no iteration cap: {}",
            render::UNCAPPED_WARNING
        ));
    }
    for warning in &started.warnings {
        eprintln!("ralph-hook: warning: {warning}");
    }
    let state = &started.state;
    println!(
        "Started a ralph loop in {} ({}).",
        workspace.display(),
        agent.display_name()
    );
    match &state.session_id {
        Some(session) => println!("  session:     {session} (only its stops follow the loop)"),
        None => println!(
            "  session:     none yet; the first {} session that stops in this workspace claims it",
            agent.display_name()
        ),
    }
    println!("{}", render::labelled(&render::understood(state)));
    println!("  state file:  {}", started.state_path.display());
    if let Some(kept) = &started.set_aside {
        println!("  kept aside:  {}", kept.display());
    }
    Ok(0)
}

/// `ralph-hook show`.
pub fn show(args: ShowArgs) -> Result<i32> {
    let found = target(&args.target)?;
    let now = clock::now();
    if args.json {
        println!("{}", status_json(&found, now));
    } else {
        let view = render::status_view(&found.store, found.state.as_ref(), now);
        person(&styled_status(&view))?;
    }
    Ok(0)
}

/// `ralph-hook cancel`.
pub fn cancel(args: WorkspaceArgs) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
    match lifecycle::cancel(&found.store, clock::now())? {
        Cancelled::Removed(state) => println!(
            "Cancelled the ralph loop in {} at iteration {}: {}",
            workspace.display(),
            render::iteration_label(&state),
            render::task_headline(&state.prompt, 1)
        ),
        Cancelled::Requested(state, path) => println!(
            "The loop folder is read-only here (the agent's sandbox), so a cancel request for the loop at iteration {} was left in {}; the next stop ends the loop.",
            render::iteration_label(&state),
            path.display()
        ),
    }
    Ok(0)
}

/// `ralph-hook log`.
pub fn log(args: ShowArgs) -> Result<i32> {
    let found = target(&args.target)?;
    let entries = found.store.history()?;
    if args.json {
        for entry in &entries {
            println!("{}", serde_json::to_string(entry).unwrap_or_default());
        }
        return Ok(0);
    }
    let mut text = String::new();
    if entries.is_empty() {
        let history = found.store.history_path();
        let chosen = args.target.agent.is_some() || history.parent().is_some_and(Path::is_dir);
        text = if chosen {
            format!("No history in {}.", history.display())
        } else {
            format!(
                "No ralph loop history in {} (neither .codex/ nor .claude/ holds one).",
                found.store.workspace().display()
            )
        };
    }
    let lines: Vec<String> = entries.iter().map(history_line).collect();
    text.push_str(&lines.join("\n"));
    person(&text)?;
    Ok(0)
}

/// `ralph-hook adopt`.
pub fn adopt(args: WorkspaceArgs) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
    let state = lifecycle::adopt(&found.store, clock::now())?;
    println!(
        "Adopted the loop in {} (iteration {}): the next {} session that stops there continues it.",
        workspace.display(),
        render::iteration_label(&state),
        found.store.agent().display_name()
    );
    println!("  task: {}", render::task_headline(&state.prompt, 3));
    Ok(0)
}

/// `ralph-hook pause` (`paused = true`) and `ralph-hook resume`.
pub fn pause(args: WorkspaceArgs, paused: bool) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
    let state = lifecycle::set_paused(&found.store, paused, clock::now())?;
    println!(
        "{} the ralph loop in {} at iteration {}.",
        if paused { "Paused" } else { "Resumed" },
        workspace.display(),
        render::iteration_label(&state)
    );
    Ok(0)
}

fn status_json(found: &Found, now: SystemTime) -> serde_json::Value {
    let store = &found.store;
    let standing = found
        .state
        .as_ref()
        .map(|state| match ownership::judge_from_outside(state) {
            Standing::Untrusted(_) => "untrusted",
            Standing::Claim => "unclaimed",
            Standing::Owner | Standing::OtherSession => "bound",
        });
    json!({
        "workspace": store.workspace(),
        "agent": store.agent(),
        "state_file": store.state_path(),
        "active": found.state.as_ref().is_some_and(|s| s.active),
        "standing": standing,
        "elapsed_secs": found.state.as_ref().map(|s| s.elapsed(now).as_secs()),
        "unchanged_stops_left": found.state.as_ref().and_then(LoopState::unchanged_stops_left),
        "repeated_messages_left": found.state.as_ref().and_then(LoopState::repeated_messages_left),
        "state": found.state,
        "last_history": store.last_history_entry(),
    })
}

/// Writes `text` and a line break for a person: coloured on a terminal (see
/// [`style`]), with ASCII marks where the locale is not UTF-8.
fn person(text: &str) -> Result<()> {
    use std::io::Write;
    let text = if style::unicode() {
        text.to_string()
    } else {
        style::ascii_marks(text)
    };
    writeln!(style::stdout(), "{text}").map_err(|err| Error::io("write the output", "stdout", err))
}

/// `show`'s text: the title in bold, a pause or an untrusted file called out, labels quiet.
fn styled_status(view: &render::StatusView) -> String {
    let mut text = style::paint(style::TITLE, &view.title);
    if view.paused {
        text.push_str(&style::paint(style::NOTE, " — PAUSED"));
    }
    for (label, value) in &view.lines {
        let value = if *label == "session" && view.untrusted {
            style::paint(style::BAD, value)
        } else {
            value.clone()
        };
        text.push_str(&format!(
            "\n  {}{value}",
            style::paint(style::QUIET, format!("{:<13}", format!("{label}:")))
        ));
    }
    text
}

fn history_line(entry: &HistoryEntry) -> String {
    let iteration = if entry.max_iterations == 0 {
        entry.iteration.to_string()
    } else {
        format!("{}/{}", entry.iteration, entry.max_iterations)
    };
    let tone = match (entry.decision.as_str(), entry.reason.as_deref()) {
        ("finish", Some("completed" | "verified")) => style::GOOD,
        ("finish", _) => style::BAD,
        ("block", _) => style::NOTE,
        _ => style::TITLE,
    };
    let mut line = format!(
        "{}  {:<7} {} {:<7}",
        style::paint(style::QUIET, &entry.at),
        entry.event,
        style::paint(tone, format!("{:<7}", entry.decision)),
        iteration
    );
    if let Some(tag) = &entry.tag {
        line.push_str(&format!(" tag={tag}"));
    }
    if let Some(reason) = &entry.reason {
        line.push_str(&format!(" reason={reason}"));
    }
    if let Some(detail) = &entry.detail {
        line.push_str(&format!(" ({detail})"));
    }
    line.trim_end().to_string()
}

fn target_workspace(args: &WorkspaceArgs) -> Result<PathBuf> {
    match &args.workspace {
        Some(dir) => checked_workspace(dir),
        None => default_workspace(),
    }
}

/// The workspace and the loop a command acts on: the host given with `--agent`, else
/// the one whose files are there (see [`present_agent`]).
fn target(args: &WorkspaceArgs) -> Result<Found> {
    let workspace = target_workspace(args)?;
    let agent = args.agent.or_else(|| present_agent(&workspace));
    lifecycle::find(&workspace, agent)
}

/// The host whose loop files a workspace holds, judged by what exists: a state file
/// (the newest, if both hosts have one), else a history (the newest), else the only
/// host folder there. `None` when nothing tells.
pub fn present_agent(workspace: &Path) -> Option<Agent> {
    let newest = |path: &dyn Fn(&Store) -> PathBuf| {
        Agent::ALL
            .into_iter()
            .filter_map(|agent| {
                let modified = path(&Store::new(workspace, agent))
                    .symlink_metadata()
                    .ok()?
                    .modified()
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Some((modified, agent))
            })
            .max_by_key(|(modified, _)| *modified)
            .map(|(_, agent)| agent)
    };
    newest(&|store| store.state_path().to_path_buf())
        .or_else(|| newest(&|store| store.history_path()))
        .or_else(|| {
            let mut present = Agent::ALL
                .into_iter()
                .filter(|agent| workspace::state_dir(workspace, *agent).is_dir());
            match (present.next(), present.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
}

/// A `--workspace` value: an existing directory, relative ones taken from the current
/// directory (as git, cargo and gh take them).
fn checked_workspace(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "--workspace {} is not an existing directory",
            dir.display()
        )));
    }
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    std::fs::canonicalize(dir).map_err(|err| Error::io("resolve the workspace", dir, err))
}

fn default_workspace() -> Result<PathBuf> {
    let cwd =
        std::env::current_dir().map_err(|err| Error::io("read the current directory", ".", err))?;
    Ok(workspace::root_of(&cwd))
}

fn read_task(args: &StartArgs) -> Result<String> {
    let task = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| Error::io("read the task from stdin", "-", err))?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|err| Error::usage(format!("--prompt-file {}: {err}", path.display())))?,
        (None, None) => args.words.join(" "),
    };
    if task.trim().is_empty() {
        return Err(Error::usage(
            "no task: give it with --prompt TEXT, --prompt-file FILE, or as words after --",
        ));
    }
    Ok(task.trim_end_matches('\n').to_string())
}

fn agent_from_env() -> Option<Agent> {
    Agent::ALL.into_iter().find(|agent| {
        agent
            .session_env_vars()
            .iter()
            .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
    })
}

fn session_from_env(agent: Agent) -> Option<String> {
    agent
        .session_env_vars()
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
}
