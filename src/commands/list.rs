//! `ralph-hook list`: every loop of this user, across workspaces and both hosts, active
//! and recently ended, each with its state in the one vocabulary of
//! [`crate::engine::supervision::Phase`], so an orchestrator polls this instead of
//! scraping a terminal pane.
//!
//! It reads only the user's state folder: per loop folder the record, the supervisor
//! file, and for an ended loop the tail of its history.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::agent::Agent;
use crate::cli::ListArgs;
use crate::clock;
use crate::engine::files::Dir;
use crate::engine::history::{Action, HistoryEntry};
use crate::engine::liveness;
use crate::engine::ownership::{LoopRecord, Registry, STATE_DIR_ENV};
use crate::engine::prices::money;
use crate::engine::render::{self, printable};
use crate::engine::store::{HISTORY_FILE, RECORD_FILE, Store};
use crate::engine::supervision::{self, Phase, Supervision, Timings};
use crate::engine::tasks::{self, TaskProgress};
use crate::error::{Error, Result};
use crate::messages::say;

/// How long an ended loop stays in the list.
const RECENT: Duration = Duration::from_secs(24 * 3600);
/// The largest record read.
const RECORD_CAP: u64 = 16 * 1024 * 1024;

/// One loop, as `list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopRow {
    /// The workspace (canonical).
    pub workspace: PathBuf,
    pub agent: Agent,
    /// The loop's id.
    pub loop_id: Option<String>,
    /// How it stands.
    pub state: Phase,
    /// How it ended (with `state: ended`).
    pub outcome: Option<String>,
    /// The bound session.
    pub session_id: Option<String>,
    /// Continuation prompts so far.
    pub iteration: u32,
    /// The cap (0 = none).
    pub max_iterations: u32,
    /// Tokens counted (with a token budget).
    pub tokens_used: u64,
    /// The token budget.
    pub max_tokens: Option<u64>,
    /// What the session's responses cost so far, in nanodollars (with a money budget).
    pub cost_nanos: u64,
    /// The money budget in nanodollars.
    pub max_cost_nanos: Option<u64>,
    /// Seconds since it started.
    pub elapsed_secs: Option<u64>,
    /// Its last sign of life (RFC 3339).
    pub last_activity: Option<String>,
    /// The last stop's decision and why.
    pub last_decision: Option<String>,
    /// What the agent is blocked on.
    pub blocked: Option<String>,
    /// The supervisor's pid (`ralph-hook run`).
    pub supervisor_pid: Option<u32>,
    /// The client's pid (leader of its process group).
    pub client_pid: Option<u32>,
    /// Restarts so far.
    pub restarts: Option<u32>,
    /// When the next attempt starts (`state: restarting`).
    pub next_attempt: Option<String>,
    /// Items of the task list accepted / total (`--tasks`), e.g. `1/3`.
    pub tasks: Option<String>,
    /// The task list's current item.
    pub task: Option<String>,
}

/// `ralph-hook list`.
pub(crate) fn list(args: &ListArgs) -> Result<i32> {
    let registry = Registry::open().ok_or_else(|| {
        Error::Failed(format!(
            "no home folder, so no loop records; set {STATE_DIR_ENV} to a folder"
        ))
    })?;
    let rows = rows(&registry, clock::now(), &Timings::from_env());
    if args.json {
        let text = serde_json::to_string(&rows)
            .map_err(|err| Error::Failed(format!("could not encode the list: {err}")))?;
        say(render::json_safe(text));
        return Ok(0);
    }
    if rows.is_empty() {
        say("No ralph loops (none active, none ended in the last day).");
        return Ok(0);
    }
    say(format!(
        "{:<11} {:<7} {:<10} {:<8} {:<9} {:<16} {:<22} WORKSPACE",
        "STATE", "HOST", "ITERATION", "ELAPSED", "PIDS", "OUTCOME", "SPENT"
    ));
    for row in &rows {
        let iteration = if row.max_iterations == 0 {
            row.iteration.to_string()
        } else {
            format!("{}/{}", row.iteration, row.max_iterations)
        };
        let pids = match (row.supervisor_pid, row.client_pid) {
            (Some(s), Some(c)) => format!("{s}/{c}"),
            (Some(s), None) => s.to_string(),
            _ => "-".into(),
        };
        let tasks = match (&row.tasks, &row.task) {
            (Some(count), Some(task)) => {
                format!("  tasks {count}, current: {}", tasks::shown(task))
            }
            (Some(count), None) => format!("  tasks {count}"),
            _ => String::new(),
        };
        let mut spent = Vec::new();
        if let Some(max) = row.max_tokens {
            spent.push(format!(
                "{}/{}",
                render::token_count(row.tokens_used),
                render::token_count(max)
            ));
        }
        if let Some(max) = row.max_cost_nanos {
            spent.push(format!("{}/{}", money(row.cost_nanos), money(max)));
        }
        let spent = if spent.is_empty() {
            "-".to_string()
        } else {
            spent.join(" ")
        };
        say(format!(
            "{:<11} {:<7} {:<10} {:<8} {:<9} {:<16} {:<22} {}{tasks}",
            row.state.as_str(),
            row.agent.as_str(),
            iteration,
            row.elapsed_secs
                .map(|s| clock::human(Duration::from_secs(s)))
                .unwrap_or_else(|| "-".into()),
            pids,
            row.outcome.as_deref().unwrap_or("-"),
            spent,
            printable(&row.workspace.display().to_string())
        ));
    }
    Ok(0)
}

/// Every loop in `registry` at `now`: active ones first, then those ended within a day.
pub fn rows(registry: &Registry, now: SystemTime, timings: &Timings) -> Vec<LoopRow> {
    let Ok(loops) = Dir::open(&registry.loops_dir()) else {
        return Vec::new();
    };
    let mut rows: Vec<LoopRow> = loops
        .names()
        .into_iter()
        .filter_map(|name| row(&loops.path().join(name), now, timings))
        .collect();
    rows.sort_by(|a, b| {
        (a.state == Phase::Ended)
            .cmp(&(b.state == Phase::Ended))
            .then_with(|| b.last_activity.cmp(&a.last_activity))
    });
    rows
}

fn row(dir: &std::path::Path, now: SystemTime, timings: &Timings) -> Option<LoopRow> {
    let folder = Dir::open(dir).ok()?;
    let record: Option<LoopRecord> = folder
        .read(RECORD_FILE, RECORD_CAP)
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let sup = Supervision::read_in(&folder);
    let Some(record) = record else {
        return ended_row(dir, &folder, sup, now);
    };
    let sup = sup.filter(|s| s.loop_id == record.loop_id);
    let state = &record.state;
    let phase = supervision::phase(Some(&record), sup.as_ref(), now, timings);
    let last_activity = liveness::last_sign_of_life(&record)
        .max(
            sup.as_ref()
                .and_then(|s| s.last_output.as_deref())
                .and_then(clock::parse),
        )
        .map(clock::format);
    Some(LoopRow {
        workspace: record.workspace.clone(),
        agent: record.agent,
        loop_id: Some(record.loop_id.clone()),
        state: phase,
        outcome: None,
        session_id: state.session_id.clone(),
        iteration: state.iteration,
        max_iterations: state.max_iterations,
        tokens_used: state.tokens_used,
        max_tokens: state.max_tokens,
        cost_nanos: state.cost_nanos,
        max_cost_nanos: state.max_cost_nanos,
        elapsed_secs: Some(state.elapsed(now).as_secs()),
        last_activity,
        last_decision: state
            .last_decision
            .as_ref()
            .map(|d| format!("{}: {}", d.decision.as_str(), d.why)),
        blocked: state.blocked.clone(),
        supervisor_pid: sup.as_ref().map(|s| s.pid),
        client_pid: sup.as_ref().and_then(|s| s.client_pid),
        restarts: sup.as_ref().map(|s| s.restarts),
        next_attempt: sup.and_then(|s| s.next_attempt),
        tasks: state.tasks.as_ref().map(TaskProgress::count),
        task: state.tasks.as_ref().and_then(|t| t.current.clone()),
    })
}

/// A loop folder without a record: a loop `run` started that ended (its supervisor file
/// names the workspace), shown while its end is recent.
fn ended_row(
    dir: &std::path::Path,
    folder: &Dir,
    sup: Option<Supervision>,
    now: SystemTime,
) -> Option<LoopRow> {
    let sup = sup?;
    if !folder.exists(HISTORY_FILE) {
        return None;
    }
    let registry = Registry::at(dir.parent()?.parent()?);
    let last: HistoryEntry =
        Store::new(&sup.workspace, sup.agent, &registry).last_history_entry()?;
    let at = clock::parse(&last.at)?;
    if now.duration_since(at).unwrap_or_default() > RECENT {
        return None;
    }
    let outcome = (last.decision == Action::Finish)
        .then(|| last.reason.map(|r| r.as_str().to_string()))
        .flatten();
    Some(LoopRow {
        workspace: sup.workspace,
        agent: sup.agent,
        loop_id: last.loop_id.clone(),
        state: Phase::Ended,
        outcome,
        session_id: last.session_id.clone(),
        iteration: last.iteration,
        max_iterations: last.max_iterations,
        tokens_used: last.tokens_used.unwrap_or(0),
        max_tokens: last.max_tokens,
        cost_nanos: last.cost_used_nanos.unwrap_or(0),
        max_cost_nanos: last.max_cost_nanos,
        elapsed_secs: None,
        last_activity: Some(last.at.clone()),
        last_decision: None,
        blocked: None,
        supervisor_pid: None,
        client_pid: None,
        restarts: Some(sup.restarts),
        next_attempt: None,
        tasks: None,
        task: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::SampleLoop;
    use crate::engine::supervision::RunSpec;
    use std::path::Path;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn put_record(registry: &Registry, workspace: &Path, agent: Agent) -> LoopRecord {
        let state = SampleLoop::default()
            .task("task")
            .session(Some("S"))
            .at(at(0))
            .build();
        let record = LoopRecord::new(state, agent, workspace);
        let dir = registry.loop_dir(workspace, agent);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(RECORD_FILE), serde_json::to_vec(&record).unwrap()).unwrap();
        record
    }

    fn supervision(loop_id: &str, workspace: &Path, pid: u32) -> Supervision {
        Supervision {
            loop_id: loop_id.into(),
            agent: Agent::Codex,
            workspace: workspace.into(),
            spec: RunSpec {
                client: "/bin/codex".into(),
                client_args: Vec::new(),
                max_restarts: 5,
                first_prompt: "task".into(),
            },
            pid,
            heartbeat: clock::format(at(50)),
            detached: true,
            client_pid: Some(pid),
            launches: 1,
            restarts: 2,
            next_attempt: None,
            last_output: Some(clock::format(at(50))),
            exited: None,
        }
    }

    #[test]
    fn every_loop_is_listed_with_its_state_active_ones_first() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::at(dir.path());
        let timings = Timings::default();
        let interactive = put_record(&registry, Path::new("/w/a"), Agent::Claude);
        let running = put_record(&registry, Path::new("/w/b"), Agent::Codex);
        supervision(&running.loop_id, Path::new("/w/b"), std::process::id())
            .write(&registry.loop_dir(Path::new("/w/b"), Agent::Codex))
            .unwrap();
        let crashed = put_record(&registry, Path::new("/w/c"), Agent::Codex);
        supervision(&crashed.loop_id, Path::new("/w/c"), u32::MAX)
            .write(&registry.loop_dir(Path::new("/w/c"), Agent::Codex))
            .unwrap();
        let ended = registry.loop_dir(Path::new("/w/d"), Agent::Codex);
        std::fs::create_dir_all(&ended).unwrap();
        supervision("L-ended", Path::new("/w/d"), 1)
            .write(&ended)
            .unwrap();
        std::fs::write(
            ended.join(HISTORY_FILE),
            format!(
                "{{\"at\":\"{}\",\"event\":\"restart\",\"decision\":\"finish\",\"reason\":\"restarts_exhausted\",\"loop_id\":\"L-ended\",\"iteration\":4,\"max_iterations\":9}}\n",
                clock::format(at(40))
            ),
        )
        .unwrap();

        let rows = rows(&registry, at(60), &timings);
        let by_ws = |ws: &str| {
            rows.iter()
                .find(|r| r.workspace == Path::new(ws))
                .unwrap_or_else(|| panic!("{ws} not listed: {rows:#?}"))
        };
        assert_eq!(rows.len(), 4);
        assert_eq!(by_ws("/w/a").state, Phase::Running);
        assert_eq!(by_ws("/w/a").loop_id, Some(interactive.loop_id));
        assert_eq!(by_ws("/w/a").supervisor_pid, None);
        assert_eq!(by_ws("/w/b").state, Phase::Running);
        assert_eq!(by_ws("/w/b").restarts, Some(2));
        assert_eq!(by_ws("/w/c").state, Phase::Crashed);
        let done = by_ws("/w/d");
        assert_eq!(done.state, Phase::Ended);
        assert_eq!(done.outcome.as_deref(), Some("restarts_exhausted"));
        assert_eq!(done.iteration, 4);
        assert_eq!(rows.last().unwrap().state, Phase::Ended);
        assert!(
            super::rows(&registry, at(60 + 2 * 24 * 3600), &timings)
                .iter()
                .all(|r| r.workspace != Path::new("/w/d"))
        );
    }
}
