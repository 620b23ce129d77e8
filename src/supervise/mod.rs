//! `ralph-hook run`: a supervised headless loop. It records the loop (as `start` does),
//! launches the host headless in the workspace ([`host`]), binds the session from the
//! client's own events ([`events`]) before the first stop, and lets the installed hooks
//! decide every stop. When the client dies with the loop still active it resumes the same
//! session, with a backoff and at most `--max-restarts` times ([`policy`]); whatever ends
//! the loop, the client's whole process group goes with it ([`group`]).
//!
//! The engine decides; this front end only starts and ends clients. Its own state is the
//! supervisor file beside the record ([`crate::engine::supervision`]): a detached
//! supervisor (`--detach`, its own session) and `run --resume` (after the supervisor
//! died) read what to launch from there.

pub(crate) mod events;
pub(crate) mod group;
pub(crate) mod host;
pub(crate) mod log;
pub(crate) mod policy;
pub(crate) mod record;
pub(crate) mod signals;
pub(crate) mod supervisor;
pub(crate) mod tree;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::agent::Agent;
use crate::cli::{RunArgs, SuperviseArgs};
use crate::clock;
use crate::commands::{check_worktree_name, in_worktree};
use crate::engine::config::UserConfig;
use crate::engine::fresh::{self, Fresh, FreshMode};
use crate::engine::history::{Action, Event, HistoryEntry};
use crate::engine::lifecycle::{self, Binding, Replace};
use crate::engine::lookup;
use crate::engine::render::{self, printable};
use crate::engine::settings::LoopSettings;
use crate::engine::state::StartedBy;
use crate::engine::store::Store;
use crate::engine::supervision::{RUN_LOG, RunSpec, Supervision, Timings};
use crate::engine::workspace;
use crate::error::{Error, Result};
use crate::install::doctor::{self, Status};
use crate::messages::{say, warn};

pub(crate) use supervisor::client_log;

/// How long `run --detach` waits for its supervisor to take over.
const DETACH_WAIT: Duration = Duration::from_secs(10);

/// `claude --bare` skips every hook, so no stop of the run would be decided: refused
/// before anything is recorded or launched.
fn refuse_bare(client_args: &[String]) -> Result<()> {
    if client_args.iter().any(|arg| arg == "--bare") {
        return Err(Error::usage(
            "`--bare` makes Claude Code skip every hook, so ralph-hook could not decide a single stop of the run; drop it from the client arguments after `--`",
        ));
    }
    Ok(())
}

/// `--fresh=task` starts a new session per task item: without a task list (`--tasks`)
/// there are no items, so it is refused before anything is recorded or launched.
fn refuse_fresh_task(fresh: Option<FreshMode>, settings: &LoopSettings) -> Result<()> {
    match fresh {
        Some(FreshMode::Task) if settings.tasks.is_none() => Err(Error::usage(
            "`--fresh=task` starts a new session for each task item and needs the task list: add `--tasks FILE` (e.g. `--tasks PRD.md`), or use `--fresh` for a new session per iteration",
        )),
        Some(FreshMode::Task | FreshMode::Iteration) | None => Ok(()),
    }
}

/// `ralph-hook run`.
pub(crate) fn run(args: RunArgs) -> Result<i32> {
    if args.resume {
        return resume(args);
    }
    refuse_bare(&args.client_args)?;
    check_worktree_name(args.worktree.as_deref())?;
    let workspace = resolve_workspace(args.workspace.as_deref())?;
    let task = args.task.clone().unwrap_or_default();
    let settings = UserConfig::load()?.settings(&task, &args.flags)?;
    refuse_fresh_task(args.fresh, &settings)?;
    let agent = args.agent.unwrap_or(Agent::Codex);
    let client = host::find_client(agent, args.client.as_deref())?;
    check_hooks(agent, &client, &workspace)?;
    // Everything checked first: a worktree is made only for a loop that will start.
    let workspace = match &args.worktree {
        Some(name) => in_worktree(&workspace, name, false)?,
        None => workspace,
    };
    let store = lookup::open_store(&workspace, agent)?;
    let now = clock::now();
    let started = lifecycle::begin(
        &store,
        &settings,
        Binding::default(),
        StartedBy::Run,
        Replace::Never,
        None,
        now,
    )?;
    for warning in &started.warnings {
        warn(format!("warning: {warning}"));
    }
    let state = &started.state;
    let loop_id = state.loop_id.clone().unwrap_or_default();
    let rules = match args.fresh {
        Some(mode) => {
            let base = store
                .load()
                .ok()
                .flatten()
                .filter(|record| record.git)
                .and_then(|_| fresh::head(store.workspace()));
            record::set_fresh(&store, &loop_id, Fresh::new(mode, base))?;
            render::fresh_rules(state, mode, &started.state_path, "ralph-hook show")
        }
        None => render::rules(state, &started.state_path, "ralph-hook show"),
    };
    let first_prompt = format!("{task}\n\n{rules}");
    let sup = Supervision {
        loop_id,
        agent,
        workspace: store.workspace().to_path_buf(),
        spec: RunSpec {
            client,
            client_args: args.client_args.clone(),
            max_restarts: args.max_restarts,
            first_prompt,
        },
        pid: std::process::id(),
        heartbeat: clock::format(now),
        detached: args.detach,
        client_pid: None,
        launches: 0,
        restarts: 0,
        next_attempt: None,
        last_output: None,
        exited: None,
    };
    sup.write(store.loop_dir())
        .map_err(|err| Error::io("write the supervisor file", store.loop_dir(), err))?;
    say(format!(
        "[ralph] started loop {} in {} ({}), iteration cap {}{}",
        sup.loop_id,
        printable(&store.workspace().display().to_string()),
        agent.display_name(),
        render::iteration_label(state),
        match args.fresh {
            Some(FreshMode::Iteration) => ", a new session per iteration",
            Some(FreshMode::Task) => ", a new session per task item",
            None => "",
        }
    ));
    start_supervising(store, sup, args.detach)
}

/// `ralph-hook run --resume`: takes over the workspace's loop whose supervisor died.
fn resume(args: RunArgs) -> Result<i32> {
    let workspace = resolve_workspace(args.workspace.as_deref())?;
    let workspace = match &args.worktree {
        Some(name) => in_worktree(&workspace, name, true)?,
        None => workspace,
    };
    let agents: Vec<Agent> = match args.agent {
        Some(agent) => vec![agent],
        None => Agent::ALL.to_vec(),
    };
    let now = clock::now();
    let timings = Timings::from_env();
    let mut found = None;
    for agent in agents {
        let store = lookup::open_store(&workspace, agent)?;
        if let Ok(Some(record)) = store.load()
            && let Some(sup) = Supervision::read(store.loop_dir())
            && sup.loop_id == record.loop_id
        {
            found = Some((store, record, sup));
            break;
        }
    }
    let Some((store, record, mut sup)) = found else {
        return Err(Error::Failed(format!(
            "no loop started by `ralph-hook run` is active in {}; start one with `ralph-hook run TASK`",
            workspace.display()
        )));
    };
    if sup.alive(now, &timings) {
        return Err(Error::LoopActive(format!(
            "the loop in {} is still supervised by `ralph-hook run` (pid {}); `ralph-hook cancel` ends it",
            workspace.display(),
            sup.pid
        )));
    }
    if let Some(client) = args.client.as_deref() {
        sup.spec.client = host::find_client(sup.agent, Some(client))?;
    }
    check_hooks(sup.agent, &sup.spec.client, store.workspace())?;
    if let Some(pid) = sup.client_pid.take()
        && group::group_alive(pid)
    {
        say(format!(
            "[ralph] ending the client the dead supervisor left running (process group {pid})"
        ));
        group::end_all(pid, pid, timings.kill_grace, &mut || {});
    }
    let old = sup.pid;
    {
        let lock = store.lock()?;
        lifecycle::append(
            &store,
            &lock,
            &HistoryEntry::about(&record.state, Event::Restart, Action::Restart, now).detail(
                format!(
                    "`ralph-hook run --resume` took over from the supervisor (pid {old}) that died"
                ),
            ),
        );
    }
    sup.pid = std::process::id();
    sup.heartbeat = clock::format(now);
    sup.detached = args.detach;
    sup.next_attempt = None;
    sup.exited = None;
    sup.write(store.loop_dir())
        .map_err(|err| Error::io("write the supervisor file", store.loop_dir(), err))?;
    say(format!(
        "[ralph] resuming loop {} in {} at iteration {}",
        sup.loop_id,
        printable(&store.workspace().display().to_string()),
        render::iteration_label(&record.state)
    ));
    start_supervising(store, sup, args.detach)
}

/// Supervises in this process, or starts a detached supervisor and returns.
fn start_supervising(store: Store, sup: Supervision, detach: bool) -> Result<i32> {
    if detach {
        return detach_supervisor(&store, &sup);
    }
    supervisor::Supervisor::new(store, sup, Timings::from_env())?.drive()
}

/// `ralph-hook supervise` (hidden): the detached supervisor, in its own session.
pub(crate) fn supervise(args: &SuperviseArgs) -> Result<i32> {
    signals::install(true);
    let _ = nix::unistd::setsid();
    let store = lookup::open_store(&args.workspace, args.agent)?;
    let mut sup = Supervision::read(store.loop_dir())
        .filter(|sup| sup.loop_id == args.loop_id)
        .ok_or_else(|| {
            Error::Failed(format!(
                "no supervisor file for loop {} in {}",
                args.loop_id,
                store.loop_dir().display()
            ))
        })?;
    sup.pid = std::process::id();
    sup.detached = true;
    supervisor::Supervisor::new(store, sup, Timings::from_env())?.drive()
}

/// Starts `ralph-hook supervise` in its own session, its output in `run.log`, and waits
/// until it has taken over.
fn detach_supervisor(store: &Store, sup: &Supervision) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|err| Error::io("find ralph-hook's own executable", "/proc/self/exe", err))?;
    let log_path = store.loop_dir().join(RUN_LOG);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&log_path)
        .map_err(|err| Error::io("open the run log", &log_path, err))?;
    let err_log = log
        .try_clone()
        .map_err(|err| Error::io("open the run log", &log_path, err))?;
    let child = Command::new(&exe)
        .arg("supervise")
        .arg("--workspace")
        .arg(store.workspace())
        .args(["--agent", sup.agent.as_str(), "--loop-id", &sup.loop_id])
        .current_dir(store.workspace())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .spawn()
        .map_err(|err| Error::io("start the detached supervisor", &exe, err))?;
    let pid = child.id();
    let deadline = Instant::now() + DETACH_WAIT;
    loop {
        if Supervision::read(store.loop_dir()).is_some_and(|s| s.pid == pid) {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::Failed(format!(
                "the detached supervisor (pid {pid}) did not start within {}; see {}",
                clock::human(DETACH_WAIT),
                log_path.display()
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
    say(format!("loop:        {}", sup.loop_id));
    say(format!("supervisor:  pid {pid} (detached)"));
    say(format!(
        "client log:  {}   (ralph-hook logs -f --workspace {})",
        client_log(store).display(),
        store.workspace().display()
    ));
    say(format!("run log:     {}", log_path.display()));
    say(format!(
        "wait:        ralph-hook wait --workspace {}",
        store.workspace().display()
    ));
    Ok(0)
}

/// Refuses to launch a client whose hooks would not decide its stops, with doctor's fix.
fn check_hooks(agent: Agent, client: &Path, workspace: &Path) -> Result<()> {
    let codex = match agent {
        Agent::Codex => client.to_path_buf(),
        Agent::Claude => PathBuf::from("codex"),
    };
    let failed: Vec<String> = doctor::host_checks(agent, &codex, Some(workspace))?
        .into_iter()
        .filter(|check| check.status == Status::Fail)
        .map(|check| match check.fix {
            Some(fix) => format!("{} (fix: {fix})", check.label),
            None => check.label,
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::Failed(format!(
        "{}'s hooks would not run the loop, so nothing was launched: {}",
        agent.display_name(),
        failed.join("; ")
    )))
}

fn resolve_workspace(dir: Option<&Path>) -> Result<PathBuf> {
    match dir {
        Some(dir) if !dir.is_dir() => Err(Error::usage(format!(
            "--workspace {} is not an existing directory",
            dir.display()
        ))),
        Some(dir) => {
            std::fs::canonicalize(dir).map_err(|err| Error::io("resolve the workspace", dir, err))
        }
        None => {
            let cwd = std::env::current_dir()
                .map_err(|err| Error::io("read the current directory", ".", err))?;
            Ok(workspace::root_of(&cwd))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;

    #[test]
    fn a_bare_client_is_refused_as_a_usage_error() {
        let err = refuse_bare(&["--model".into(), "x".into(), "--bare".into()]).unwrap_err();
        assert_eq!(err.code(), error::EXIT_USAGE);
        assert!(err.to_string().contains("skip every hook"), "{err}");
        assert!(refuse_bare(&["--model".into(), "bare".into()]).is_ok());
    }
}
