//! The commands people and scripts run: `start`, `show`, `cancel`, `log`, `adopt`,
//! `pause`, `resume`. Each checks its arguments, calls [`crate::engine::lifecycle`] or reads
//! the store, and prints; errors go back to `main` with their exit code.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use crate::agent::Agent;
use crate::cli::{ShowArgs, StartArgs, WorkspaceArgs};
use crate::clock;
use crate::engine::history::HistoryEntry;
use crate::engine::lifecycle::{self, Cancelled, Found, MirrorCheck, Replace};
use crate::engine::render::{self, printable};
use crate::engine::settings::{LoopSettings, RawLoopFlags};
use crate::engine::state::StartedBy;
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::messages::{say, warn};

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
    let raw = RawLoopFlags {
        max_iterations: args.max_iterations,
        completion_promise: args.completion_promise,
        magic_word: args.magic_word,
        max_duration: args.max_duration,
        no_progress: args.no_progress,
        verify: args.verify,
        verify_timeout: args.verify_timeout,
    };
    let settings = LoopSettings::parse(&task, &raw)?;
    let agent = args.agent.or_else(agent_from_env).unwrap_or(Agent::Codex);
    let session = args
        .session
        .filter(|s| !s.trim().is_empty())
        .or_else(|| session_from_env(agent));
    let store = lifecycle::open_store(&workspace, agent)?;
    let replace = if args.force {
        Replace::Always
    } else {
        Replace::Never
    };
    let started = lifecycle::begin(
        &store,
        &settings,
        session,
        None,
        StartedBy::Start,
        replace,
        clock::now(),
    )?;
    if settings.uncapped {
        warn(
            "warning: --max-iterations 0 means no iteration cap; only the completion signal or another budget ends this loop",
        );
    }
    for warning in &started.warnings {
        warn(format!("warning: {warning}"));
    }
    let state = &started.state;
    say(format!(
        "Started a ralph loop in {} ({}).",
        printable(&store.workspace().display().to_string()),
        agent.display_name()
    ));
    match &state.session_id {
        Some(session) => say(format!(
            "  session:     {} (only its stops follow the loop)",
            printable(session)
        )),
        None => say(format!(
            "  session:     none yet; the first {} session that stops in this workspace claims it",
            agent.display_name()
        )),
    };
    say(format!(
        "  task:        {}",
        render::indented_task(&state.prompt)
    ));
    say(format!(
        "  iterations:  {}",
        if state.max_iterations == 0 {
            "no cap".to_string()
        } else {
            format!("at most {}", state.max_iterations)
        }
    ));
    say(format!(
        "  done when:   {}",
        printable(&state.completion_signal)
    ));
    say(format!(
        "  continue:    {}",
        printable(&state.continue_signal)
    ));
    if let Some(limit) = state.max_duration() {
        say(format!("  time limit:  {}", clock::human(limit)));
    }
    if let Some(verify) = &state.verify {
        say(format!(
            "  verify:      {} (timeout {}s)",
            printable(verify),
            state.verify_timeout_secs
        ));
    }
    say(format!(
        "  state file:  {}",
        printable(&started.state_path.display().to_string())
    ));
    if let Some(kept) = &started.set_aside {
        say(format!(
            "  kept aside:  {}",
            printable(&kept.display().to_string())
        ));
    }
    Ok(0)
}

/// `ralph-hook show`.
pub fn show(args: ShowArgs) -> Result<i32> {
    let workspace = target_workspace(&args.target)?;
    let found = lifecycle::find(&workspace, args.target.agent)?;
    let now = clock::now();
    if args.json {
        say(render::json_safe(status_json(&found, now).to_string()));
    } else {
        say(render::status_text(&found, now));
    }
    Ok(0)
}

/// `ralph-hook cancel`.
pub fn cancel(args: WorkspaceArgs) -> Result<i32> {
    let workspace = target_workspace(&args)?;
    let found = lifecycle::find(&workspace, args.agent)?;
    match lifecycle::cancel(&found.store, clock::now())? {
        Cancelled::Removed(state) => say(format!(
            "Cancelled the ralph loop in {} at iteration {}: {}",
            printable(&workspace.display().to_string()),
            render::iteration_label(&state),
            printable(&render::task_headline(&state.prompt, 1))
        )),
        Cancelled::Requested(state, path) => say(format!(
            "Your loop folder is read-only here (the agent's sandbox), so a cancel request for the loop at iteration {} was left in {}; the next stop ends the loop.",
            render::iteration_label(&state),
            printable(&path.display().to_string())
        )),
    };
    Ok(0)
}

/// `ralph-hook log`.
pub fn log(args: ShowArgs) -> Result<i32> {
    let workspace = target_workspace(&args.target)?;
    let found = lifecycle::find(&workspace, args.target.agent)?;
    let entries = found.store.history()?;
    if args.json {
        for entry in &entries {
            if !say(render::json_safe(
                serde_json::to_string(entry).unwrap_or_default(),
            )) {
                break;
            }
        }
        return Ok(0);
    }
    if entries.is_empty() {
        say(format!(
            "No history of a {} loop in {}.",
            found.store.agent().display_name(),
            printable(&found.store.workspace().display().to_string())
        ));
    }
    for entry in &entries {
        if !say(history_line(entry)) {
            break;
        }
    }
    Ok(0)
}

/// `ralph-hook adopt`.
pub fn adopt(args: WorkspaceArgs) -> Result<i32> {
    let workspace = target_workspace(&args)?;
    let found = lifecycle::find(&workspace, args.agent)?;
    let state = lifecycle::adopt(&found.store, clock::now())?;
    say(format!(
        "Adopted the loop in {} (iteration {}): the next {} session that stops there continues it.",
        printable(&workspace.display().to_string()),
        render::iteration_label(&state),
        found.store.agent().display_name()
    ));
    say(format!(
        "  task:        {}",
        render::indented_task(&state.prompt)
    ));
    say(format!(
        "  done when:   {}",
        printable(&state.completion_signal)
    ));
    if let Some(verify) = &state.verify {
        say(format!(
            "  verify:      {} (runs in the workspace when the agent claims completion; timeout {}s)",
            printable(verify),
            state.verify_timeout_secs
        ));
    }
    Ok(0)
}

/// `ralph-hook pause` (`paused = true`) and `ralph-hook resume`.
pub fn pause(args: WorkspaceArgs, paused: bool) -> Result<i32> {
    let workspace = target_workspace(&args)?;
    let found = lifecycle::find(&workspace, args.agent)?;
    let state = lifecycle::set_paused(&found.store, paused, clock::now())?;
    say(format!(
        "{} the ralph loop in {} at iteration {}.",
        if paused { "Paused" } else { "Resumed" },
        printable(&workspace.display().to_string()),
        render::iteration_label(&state)
    ));
    Ok(0)
}

fn status_json(found: &Found, now: SystemTime) -> serde_json::Value {
    let store = &found.store;
    let state = found.state();
    let standing = match (&found.record, state) {
        (None, Some(_)) => Some("untrusted"),
        (Some(record), _) if record.state.session_id.is_none() => Some("unclaimed"),
        (Some(_), _) => Some("bound"),
        (None, None) => None,
    };
    let file = found.mirror_check().map(|check| match check {
        MirrorCheck::Same => json!({"state": "same"}),
        MirrorCheck::Missing => json!({"state": "missing"}),
        MirrorCheck::Edited(fields) => json!({"state": "edited", "fields": fields}),
        MirrorCheck::Unusable(why) => json!({"state": "unusable", "why": why}),
    });
    json!({
        "workspace": store.workspace(),
        "agent": store.agent(),
        "state_file": store.state_path(),
        "record": found.record.as_ref().map(|_| store.record_path()),
        "active": found.record.is_some(),
        "standing": standing,
        "state_file_check": file,
        "elapsed_secs": state.map(|s| s.elapsed(now).as_secs()),
        "state": state,
        "last_history": store.last_history_entry(),
    })
}

fn history_line(entry: &HistoryEntry) -> String {
    let iteration = if entry.max_iterations == 0 {
        entry.iteration.to_string()
    } else {
        format!("{}/{}", entry.iteration, entry.max_iterations)
    };
    let mut line = format!(
        "{}  {:<7} {:<7} {:<7}",
        printable(&entry.at),
        entry.event.as_str(),
        entry.decision.as_str(),
        iteration
    );
    if let Some(tag) = entry.tag {
        line.push_str(&format!(" tag={}", tag.as_str()));
    }
    if let Some(reason) = entry.reason {
        line.push_str(&format!(" reason={}", reason.as_str()));
    }
    if let Some(detail) = &entry.detail {
        line.push_str(&format!(" ({})", printable(detail)));
    }
    line.trim_end().to_string()
}

fn target_workspace(args: &WorkspaceArgs) -> Result<PathBuf> {
    match &args.workspace {
        Some(dir) => checked_workspace(dir),
        None => default_workspace(),
    }
}

fn checked_workspace(dir: &Path) -> Result<PathBuf> {
    if !dir.is_absolute() {
        return Err(Error::usage(format!(
            "--workspace {} is relative: give an absolute path, e.g. --workspace \"$PWD\"",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "--workspace {} is not an existing directory",
            dir.display()
        )));
    }
    Ok(dir.to_path_buf())
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
        (None, Some(path)) => read_prompt_file(path)?,
        (None, None) => args.words.join(" "),
    };
    if task.trim().is_empty() {
        return Err(Error::usage(
            "no task: give it with --prompt TEXT, --prompt-file FILE, or as words after --",
        ));
    }
    Ok(task.trim_end_matches('\n').to_string())
}

/// The largest task file read.
const PROMPT_FILE_CAP: u64 = 16 * 1024 * 1024;

/// Reads `--prompt-file` (a FIFO such as `<(…)` is fine: the user named it), at most
/// 16 MiB.
fn read_prompt_file(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path)
        .map_err(|err| Error::usage(format!("--prompt-file {}: {err}", path.display())))?;
    let mut text = String::new();
    file.take(PROMPT_FILE_CAP + 1)
        .read_to_string(&mut text)
        .map_err(|err| Error::usage(format!("--prompt-file {}: {err}", path.display())))?;
    if text.len() as u64 > PROMPT_FILE_CAP {
        return Err(Error::usage(format!(
            "--prompt-file {} is over {} MiB",
            path.display(),
            PROMPT_FILE_CAP / (1024 * 1024)
        )));
    }
    Ok(text)
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
