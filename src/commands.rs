//! The commands people and scripts run: `start`, `show`, `cancel`, `log`, `adopt`,
//! `pause`, `resume`, `wait`, `completions`, `man`. Each checks its arguments, calls [`crate::engine::lifecycle`] or reads
//! the store, and prints; errors go back to `main` with their exit code.

mod generate;
mod list;
mod logs;
mod statusline;
mod top;
mod wait;
mod worktrees;

pub(crate) use generate::{completions, man};
pub(crate) use list::list;
pub use list::rows as list_rows;
pub(crate) use logs::logs;
pub(crate) use statusline::statusline;
pub(crate) use top::top;
pub(crate) use wait::{final_report, wait};
pub(crate) use worktrees::{check_worktree_name, in_worktree, worktrees};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use crate::agent::Agent;
use crate::cli::{self, ShowArgs, StartArgs, WorkspaceArgs};
use crate::clock;
use crate::engine::config::{self, UserConfig};
use crate::engine::decide;
use crate::engine::history::{Action, Event, HistoryEntry, Reason};
use crate::engine::lifecycle::{self, Cancelled, Replace};
use crate::engine::lookup::{self, Found, MirrorCheck};
use crate::engine::notify;
use crate::engine::outcome::Outcome;
use crate::engine::ownership::Registry;
use crate::engine::prices::{money, per_million};
use crate::engine::render::{self, printable};
use crate::engine::state::{LoopState, StartedBy};
use crate::engine::status::{self, LoopStanding};
use crate::engine::store::Store;
use crate::engine::supervision::{self, Phase, Supervision, Timings};
use crate::engine::verify;
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::messages::{say, warn};
use crate::style;

/// `ralph-hook start`.
pub(crate) fn start(args: StartArgs) -> Result<i32> {
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
    let settings = UserConfig::load()?.settings(&task, &args.flags)?;
    // The flags checked first: a worktree is made only for a loop that will start.
    let workspace = match &args.worktree {
        Some(name) => in_worktree(&workspace, name, false)?,
        None => workspace,
    };
    let agent = args.agent.or_else(agent_from_env).unwrap_or(Agent::Codex);
    let session = args
        .session
        .filter(|s| !s.trim().is_empty())
        .or_else(|| session_from_env(agent));
    let store = lookup::open_store(&workspace, agent)?;
    let replace = if args.force {
        Replace::Always
    } else {
        Replace::Never
    };
    let started = lifecycle::begin(
        &store,
        &settings,
        lifecycle::Binding {
            session,
            transcript: None,
        },
        StartedBy::Start,
        replace,
        None,
        clock::now(),
    )?;
    if settings.uncapped {
        warn(format!(
            "warning: --max-iterations 0 means no iteration cap: {}",
            render::UNCAPPED_WARNING
        ));
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
    say(render::labelled(&render::understood(
        state,
        settings.notify.as_deref(),
    )));
    if let Some(id) = &state.loop_id {
        say(format!(
            "  loop id:     {} (`ralph-hook wait --loop {}` answers about this loop only)",
            printable(id),
            printable(id)
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
pub(crate) fn show(args: ShowArgs) -> Result<i32> {
    let found = target(&args.target)?;
    let now = clock::now();
    if args.json {
        say(render::json_safe(status_json(&found, now).to_string()));
    } else {
        let mut view = status::status_view(&found, now);
        if let Some(line) = supervisor_line(&found, now) {
            view.lines
                .push(("supervisor", printable(&line).into_owned()));
        }
        person(&styled_status(&view))?;
    }
    Ok(0)
}

/// `ralph-hook cancel`.
pub(crate) fn cancel(args: WorkspaceArgs) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
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
pub(crate) fn log(args: ShowArgs) -> Result<i32> {
    let found = target(&args.target)?;
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
    let mut text = String::new();
    if entries.is_empty() {
        let workspace = printable(&found.store.workspace().display().to_string()).into_owned();
        let chosen = args.target.agent.is_some()
            || found.store.history_path().exists()
            || workspace::state_dir(found.store.workspace(), found.store.agent()).is_dir();
        text = if chosen {
            format!(
                "No history of a {} loop in {workspace}.",
                found.store.agent().display_name()
            )
        } else {
            format!("No ralph loop history in {workspace} (neither host has run a loop there).")
        };
    }
    let lines: Vec<String> = entries.iter().map(history_line).collect();
    text.push_str(&lines.join("\n"));
    person(&text)?;
    Ok(0)
}

/// `ralph-hook adopt`.
pub(crate) fn adopt(args: WorkspaceArgs) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
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
pub(crate) fn pause(args: WorkspaceArgs, paused: bool) -> Result<i32> {
    let found = target(&args)?;
    let workspace = found.store.workspace().to_path_buf();
    let state = lifecycle::set_paused(&found.store, paused, clock::now())?;
    say(format!(
        "{} the ralph loop in {} at iteration {}.",
        if paused { "Paused" } else { "Resumed" },
        printable(&workspace.display().to_string()),
        render::iteration_label(&state)
    ));
    if paused {
        say(
            "  Its stops are allowed now: the session ends its turn (a headless `codex exec` or `claude -p` exits), and `ralph-hook wait` answers 12.",
        );
    } else {
        say(format!(
            "  {}",
            printable(&render::to_continue(&state, found.store.agent()))
        ));
    }
    Ok(0)
}

/// `ralph-hook config path`: where the user's defaults are read from.
pub(crate) fn config_path() -> Result<i32> {
    let path = config::config_path().ok_or_else(|| {
        Error::Failed(format!(
            "no home folder, so no config file; set {} to one",
            config::CONFIG_ENV
        ))
    })?;
    say(path.display().to_string());
    Ok(0)
}

/// `ralph-hook config check`: reads the user's defaults and says what they set, or what
/// is wrong and where.
pub(crate) fn config_check() -> Result<i32> {
    let config = UserConfig::load()?;
    let Some(path) = config.path() else {
        say(format!(
            "No config file at {}: every loop flag has ralph-hook's default.",
            config::config_path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(no home folder)".into())
        ));
        return Ok(0);
    };
    say(format!("{} is valid.", path.display()));
    for (key, sourced) in config.values() {
        say(format!(
            "  {:<20}{} ({})",
            key.key,
            printable(&sourced.value),
            sourced.source
        ));
    }
    Ok(0)
}

/// `ralph-hook config prices`: the price table in force, one row per model, and where
/// each row came from.
pub(crate) fn config_prices() -> Result<i32> {
    let config = UserConfig::load()?;
    let table = config.prices();
    say(
        "Prices --max-cost uses, USD per million tokens (a model is found by its name, or by the longest name here it starts with followed by -, [ or @):",
    );
    say(format!(
        "  {:<20}{:>8}{:>11}{:>12}{:>8}{:>11}  source",
        "model", "input", "cache_read", "cache_write", "output", "reasoning"
    ));
    for row in table.rows() {
        let price = row.price;
        say(format!(
            "  {:<20}{:>8}{:>11}{:>12}{:>8}{:>11}  {}",
            printable(&row.model),
            per_million(price.input),
            per_million(price.cache_read),
            per_million(price.cache_write),
            per_million(price.output),
            per_million(price.reasoning),
            row.source
        ));
    }
    Ok(0)
}

/// `ralph-hook notify-run` (hidden): started detached by a hook to run the user's
/// `--notify` command; its failure goes to the loop's history, where `log` shows it.
pub(crate) fn notify_run(args: cli::NotifyRunArgs) -> Result<i32> {
    let dir = if args.workspace.is_dir() {
        args.workspace.as_path()
    } else {
        Path::new("/")
    };
    let result = verify::run(&args.command, dir, notify::NOTIFY_TIMEOUT);
    if result == decide::Verification::Passed {
        return Ok(0);
    }
    let store = lookup::open_store(&args.workspace, args.agent)?;
    let lock = store.lock()?;
    let tail = render::bounded_tail(result.tail());
    let mut detail = format!("the notify command `{}` {}", args.command, result.summary());
    if !tail.is_empty() {
        detail.push_str(&format!(": {}", tail.lines().last().unwrap_or_default()));
    }
    let entry = HistoryEntry {
        at: clock::format(clock::now()),
        event: Event::Notify,
        decision: Action::Failed,
        reason: None,
        loop_id: Some(args.loop_id),
        session_id: None,
        iteration: std::env::var("RALPH_ITERATION")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        max_iterations: 0,
        tag: None,
        detail: Some(detail),
        tokens: None,
        tokens_used: None,
        max_tokens: None,
        cost_nanos: None,
        cost_used_nanos: None,
        max_cost_nanos: None,
    };
    lifecycle::append(&store, &lock, &entry);
    Ok(1)
}

fn status_json(found: &Found, now: SystemTime) -> serde_json::Value {
    let store = &found.store;
    let state = found.state();
    let standing = LoopStanding::of(found).map(LoopStanding::as_str);
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
        "tokens_left": state.and_then(LoopState::tokens_left),
        "cost_left_nanos": state.and_then(LoopState::cost_left),
        "settings_from": found.record.as_ref().map(|record| &record.sources),
        "unchanged_stops_left": state.and_then(LoopState::unchanged_stops_left),
        "repeated_messages_left": state.and_then(LoopState::repeated_messages_left),
        "state": state,
        "last_history": store.last_history_entry(),
        "run": run_json(found, now),
    })
}

/// How the loop stands in the one vocabulary of `list` and `wait` (`state`), with its
/// supervisor's pids when `ralph-hook run` supervises it.
fn run_json(found: &Found, now: SystemTime) -> serde_json::Value {
    let sup = Supervision::read(found.store.loop_dir()).filter(|sup| {
        found
            .record
            .as_ref()
            .is_some_and(|record| record.loop_id == sup.loop_id)
    });
    let phase = supervision::phase(
        found.record.as_ref(),
        sup.as_ref(),
        now,
        &Timings::from_env(),
    );
    json!({
        "state": phase,
        "supervisor_pid": sup.as_ref().map(|s| s.pid),
        "client_pid": sup.as_ref().and_then(|s| s.client_pid),
        "restarts": sup.as_ref().map(|s| s.restarts),
        "next_attempt": sup.as_ref().and_then(|s| s.next_attempt.clone()),
        "heartbeat": sup.map(|s| s.heartbeat),
    })
}

/// The `show` line about the loop's supervisor, when `ralph-hook run` supervises it.
fn supervisor_line(found: &Found, now: SystemTime) -> Option<String> {
    let record = found.record.as_ref()?;
    let timings = Timings::from_env();
    let Some(sup) =
        Supervision::read(found.store.loop_dir()).filter(|s| s.loop_id == record.loop_id)
    else {
        return (supervision::phase(Some(record), None, now, &timings) == Phase::Idle).then(|| {
            format!(
                "none; IDLE: the session has shown no sign of life for {} (closed or crashed?)",
                clock::human(timings.idle_after)
            )
        });
    };
    Some(
        match supervision::phase(Some(record), Some(&sup), now, &timings) {
            Phase::Crashed => format!(
                "CRASHED: ralph-hook run (pid {}) is gone, last heartbeat {}; `ralph-hook run --resume --workspace {}` picks the loop up in the same session",
                sup.pid,
                sup.heartbeat,
                found.store.workspace().display()
            ),
            phase => format!(
                "ralph-hook run, pid {}{}, {} restart{} ({})",
                sup.pid,
                sup.client_pid
                    .map(|pid| format!(", client pid {pid}"))
                    .unwrap_or_default(),
                sup.restarts,
                if sup.restarts == 1 { "" } else { "s" },
                phase.as_str()
            ),
        },
    )
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
    match writeln!(style::stdout(), "{text}") {
        // A reader that went away (`ralph-hook log | head -1`) is not a failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|err| Error::io("write the output", "stdout", err)),
    }
}

/// `show`'s text: the title in bold, a pause or an untrusted file called out, labels quiet.
fn styled_status(view: &status::StatusView) -> String {
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
    let tone = match (entry.decision, entry.reason) {
        (Action::Finish, Some(Reason::Ended(Outcome::Completed | Outcome::Verified))) => {
            style::GOOD
        }
        (Action::Finish, _) => style::BAD,
        (Action::Block, _) => style::NOTE,
        _ => style::TITLE,
    };
    let mut line = format!(
        "{}  {:<7} {} {:<7}",
        style::paint(style::QUIET, printable(&entry.at)),
        entry.event.as_str(),
        style::paint(tone, format!("{:<7}", entry.decision.as_str())),
        iteration
    );
    if let Some(tag) = entry.tag {
        line.push_str(&format!(" tag={}", tag.as_str()));
    }
    match (entry.tokens_used, entry.max_tokens) {
        (Some(used), Some(max)) => {
            line.push_str(&format!(
                " tokens={}/{}",
                render::token_count(used),
                render::token_count(max)
            ));
            if let Some(tokens) = entry.tokens {
                line.push_str(&format!(" (+{} this stop)", render::token_count(tokens)));
            }
        }
        _ => {
            if let Some(tokens) = entry.tokens {
                line.push_str(&format!(" tokens={}", render::token_count(tokens)));
            }
        }
    }
    match (entry.cost_used_nanos, entry.max_cost_nanos) {
        (Some(used), Some(max)) => {
            line.push_str(&format!(" cost={}/{}", money(used), money(max)));
            if let Some(cost) = entry.cost_nanos {
                line.push_str(&format!(" (+{} this stop)", money(cost)));
            }
        }
        _ => {
            if let Some(cost) = entry.cost_nanos {
                line.push_str(&format!(" cost={}", money(cost)));
            }
        }
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

/// The workspace and the loop a command acts on: the host given with `--agent`, else
/// the one whose files are there (see [`present_agent`]).
fn target(args: &WorkspaceArgs) -> Result<Found> {
    let workspace = target_workspace(args)?;
    let agent = args.agent.or_else(|| present_agent(&workspace));
    lookup::find(&workspace, agent)
}

/// The host whose loop files a workspace holds, judged by what exists: the user's record
/// (the newest, if both hosts have one), else the user's history (the newest), else a
/// state file, else the only host folder there. `None` when nothing tells.
pub(crate) fn present_agent(workspace: &Path) -> Option<Agent> {
    let registry = Registry::open()?;
    let workspace = &workspace::canonical(workspace).ok()?;
    let newest = |path: &dyn Fn(&Store) -> PathBuf| {
        Agent::ALL
            .into_iter()
            .filter_map(|agent| {
                let modified = path(&Store::new(workspace, agent, &registry))
                    .symlink_metadata()
                    .ok()?
                    .modified()
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Some((modified, agent))
            })
            .max_by_key(|(modified, _)| *modified)
            .map(|(_, agent)| agent)
    };
    // The user's own files first: a state file in the workspace is the agent's to write,
    // so it only tells when the user has nothing of a loop here.
    newest(&|store| store.record_path())
        .or_else(|| newest(&|store| store.history_path()))
        .or_else(|| newest(&|store| store.state_path()))
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
