//! Who supervises a loop started by `ralph-hook run`, and the one vocabulary of how any
//! loop stands (`starting`, `running`, `idle`, `blocked`, `paused`, `restarting`,
//! `crashed`, `ended`) that `list`, `show --json`, `doctor` and `wait` share.
//!
//! The supervisor keeps `supervisor.json` beside the loop's record in the user's state
//! folder (never in the workspace): what it runs (the client and its arguments, so that
//! `run --resume` can take over), its own pid and a heartbeat, the client's pid and
//! process group, and its restarts. Only the supervisor writes it; readers judge a
//! supervisor dead when its pid is gone or its heartbeat is older than
//! [`Timings::crash_after`]. The phase itself is a pure function of the record, this file
//! and the clock ([`phase`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::clock;
use crate::engine::files::{Dir, ReadError};
use crate::engine::liveness;
use crate::engine::ownership::LoopRecord;

/// The supervisor file's name in the loop folder.
pub const SUPERVISOR_FILE: &str = "supervisor.json";
/// The client's raw output, in the loop folder.
pub const CLIENT_LOG: &str = "client.log";
/// A detached supervisor's own digest, in the loop folder.
pub const RUN_LOG: &str = "run.log";
/// The largest supervisor file read.
const SUPERVISOR_CAP: u64 = 1024 * 1024;

/// The delays of `run`, each from an environment variable (a duration such as `10s`) so
/// tests and impatient users can shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// The first restart's backoff; each later one doubles, with jitter
    /// (`RALPH_HOOK_RUN_BACKOFF`, default 5 s).
    pub backoff: Duration,
    /// The longest backoff (`RALPH_HOOK_RUN_MAX_BACKOFF`, default 5 min).
    pub max_backoff: Duration,
    /// How often the supervisor writes its heartbeat (`RALPH_HOOK_RUN_HEARTBEAT`, 10 s).
    pub heartbeat: Duration,
    /// A heartbeat older than this means the supervisor died
    /// (`RALPH_HOOK_RUN_CRASH_AFTER`, 45 s).
    pub crash_after: Duration,
    /// How long the client's group has after SIGTERM before SIGKILL
    /// (`RALPH_HOOK_RUN_KILL_GRACE`, 10 s).
    pub kill_grace: Duration,
    /// No client output and no transcript write for this long reads as `idle`
    /// (`RALPH_HOOK_IDLE_AFTER`, 10 min).
    pub idle_after: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
            heartbeat: Duration::from_secs(10),
            crash_after: Duration::from_secs(45),
            kill_grace: Duration::from_secs(10),
            idle_after: liveness::IDLE_AFTER,
        }
    }
}

impl Timings {
    /// The defaults, with each variable that is set and parses taking its place.
    pub fn from_env() -> Self {
        let read = |name: &str, default: Duration| {
            std::env::var(name)
                .ok()
                .and_then(|text| humantime::parse_duration(text.trim()).ok())
                .unwrap_or(default)
        };
        let d = Timings::default();
        Timings {
            backoff: read("RALPH_HOOK_RUN_BACKOFF", d.backoff),
            max_backoff: read("RALPH_HOOK_RUN_MAX_BACKOFF", d.max_backoff),
            heartbeat: read("RALPH_HOOK_RUN_HEARTBEAT", d.heartbeat),
            crash_after: read("RALPH_HOOK_RUN_CRASH_AFTER", d.crash_after),
            kill_grace: read("RALPH_HOOK_RUN_KILL_GRACE", d.kill_grace),
            idle_after: read("RALPH_HOOK_IDLE_AFTER", d.idle_after),
        }
    }
}

/// What `run` launches, kept so that `run --resume` launches the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The client executable (absolute).
    pub client: PathBuf,
    /// The user's client arguments (after `--`), passed through as they are.
    #[serde(default)]
    pub client_args: Vec<String>,
    /// The most restarts (0 = never restart).
    pub max_restarts: u32,
    /// The first prompt: the task and the loop's rules.
    pub first_prompt: String,
}

/// The supervisor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervision {
    /// The loop it supervises: a file for another loop is stale.
    pub loop_id: String,
    /// The host.
    pub agent: Agent,
    /// The canonical workspace.
    pub workspace: PathBuf,
    /// What it runs.
    pub spec: RunSpec,
    /// The supervisor's pid.
    pub pid: u32,
    /// Its last heartbeat (RFC 3339).
    pub heartbeat: String,
    /// Whether it runs detached (its own session).
    #[serde(default)]
    pub detached: bool,
    /// The client's pid (the leader of its process group), while one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_pid: Option<u32>,
    /// How many clients were launched (the first and each restart).
    #[serde(default)]
    pub launches: u32,
    /// How many restarts so far.
    #[serde(default)]
    pub restarts: u32,
    /// When the next attempt starts, while the supervisor waits to restart (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    /// When the client last printed anything (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_output: Option<String>,
    /// Set when the supervisor returned: it no longer runs, by its own choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited: Option<String>,
}

impl Supervision {
    /// Reads the supervisor file of the loop folder `dir`; `None` when there is none or
    /// it is not one (a reader never fails on it).
    pub fn read(dir: &Path) -> Option<Supervision> {
        Supervision::read_in(&Dir::open(dir).ok()?)
    }

    /// [`Supervision::read`] in a loop folder already open.
    pub fn read_in(dir: &Dir) -> Option<Supervision> {
        match dir.read(SUPERVISOR_FILE, SUPERVISOR_CAP) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
            Ok(None)
            | Err(ReadError::NotRegular(_) | ReadError::Io(_) | ReadError::TooBig { .. }) => None,
        }
    }

    /// Writes it atomically into the loop folder `dir` (private to the user).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        Dir::open(dir).map_err(std::io::Error::from)?.write_atomic(
            SUPERVISOR_FILE,
            &text,
            0o600,
            None,
        )
    }

    /// Whether the supervisor still runs at `now`: it did not return, its pid is there
    /// and its heartbeat is fresh.
    pub fn alive(&self, now: SystemTime, timings: &Timings) -> bool {
        if self.exited.is_some() || !pid_alive(self.pid) {
            return false;
        }
        clock::parse(&self.heartbeat)
            .is_some_and(|beat| now.duration_since(beat).unwrap_or_default() < timings.crash_after)
    }
}

/// Whether a process with this pid exists (signal 0; a pid of another user counts).
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) => true,
            Err(err) => err == nix::errno::Errno::EPERM,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// How a loop stands: the one vocabulary of `list`, `show --json`, `doctor` and `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `run` recorded it and its client has not spoken yet.
    Starting,
    /// Its session shows signs of life.
    Running,
    /// No client output and no transcript write for [`Timings::idle_after`].
    Idle,
    /// The agent is blocked on the user; the loop is paused until they answer.
    Blocked,
    /// Paused by the user.
    Paused,
    /// The client died; the supervisor waits to resume the session.
    Restarting,
    /// Its supervisor died (pid gone or heartbeat stale): `run --resume` picks it up.
    Crashed,
    /// It ended (the history holds the outcome).
    Ended,
}

impl Phase {
    /// The word scripts read.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Idle => "idle",
            Phase::Blocked => "blocked",
            Phase::Paused => "paused",
            Phase::Restarting => "restarting",
            Phase::Crashed => "crashed",
            Phase::Ended => "ended",
        }
    }
}

/// How the loop of `record` stands at `now`, given its supervisor file (`None`: the loop
/// runs in an interactive session, or `run` is not involved) and `timings`.
pub fn phase(
    record: Option<&LoopRecord>,
    supervision: Option<&Supervision>,
    now: SystemTime,
    timings: &Timings,
) -> Phase {
    let Some(record) = record else {
        return Phase::Ended;
    };
    let state = &record.state;
    if state.paused && state.blocked.is_some() {
        return Phase::Blocked;
    }
    if state.paused {
        return Phase::Paused;
    }
    let supervision = supervision.filter(|s| s.loop_id == record.loop_id);
    let mut last_sign = liveness::last_sign_of_life(record);
    if let Some(sup) = supervision {
        if !sup.alive(now, timings) {
            return Phase::Crashed;
        }
        if sup.next_attempt.is_some() {
            return Phase::Restarting;
        }
        let output = sup.last_output.as_deref().and_then(clock::parse);
        if output.is_none() && state.last_decision.is_none() {
            return Phase::Starting;
        }
        last_sign = last_sign.max(output);
    }
    match last_sign {
        Some(at) if now.duration_since(at).unwrap_or_default() < timings.idle_after => {
            Phase::Running
        }
        _ => Phase::Idle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::SampleLoop;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn record(started: SystemTime) -> LoopRecord {
        let state = SampleLoop::default()
            .task("task")
            .session(Some("S"))
            .at(started)
            .build();
        LoopRecord::new(state, Agent::Codex, Path::new("/w"))
    }

    fn supervision(record: &LoopRecord, beat: SystemTime) -> Supervision {
        Supervision {
            loop_id: record.loop_id.clone(),
            agent: Agent::Codex,
            workspace: "/w".into(),
            spec: RunSpec {
                client: "/bin/codex".into(),
                client_args: Vec::new(),
                max_restarts: 5,
                first_prompt: "task".into(),
            },
            pid: std::process::id(),
            heartbeat: clock::format(beat),
            detached: false,
            client_pid: None,
            launches: 1,
            restarts: 0,
            next_attempt: None,
            last_output: Some(clock::format(beat)),
            exited: None,
        }
    }

    #[test]
    fn an_interactive_loop_is_running_until_it_shows_no_sign_of_life() {
        let timings = Timings::default();
        let record = record(at(0));
        assert_eq!(phase(Some(&record), None, at(60), &timings), Phase::Running);
        assert_eq!(
            phase(Some(&record), None, at(11 * 60), &timings),
            Phase::Idle
        );
        assert_eq!(phase(None, None, at(60), &timings), Phase::Ended);
    }

    #[test]
    fn a_supervised_loop_is_crashed_when_the_heartbeat_is_stale_or_the_pid_gone() {
        let timings = Timings::default();
        let record = record(at(0));
        let mut sup = supervision(&record, at(100));
        assert_eq!(
            phase(Some(&record), Some(&sup), at(110), &timings),
            Phase::Running
        );
        assert_eq!(
            phase(Some(&record), Some(&sup), at(100 + 46), &timings),
            Phase::Crashed
        );
        sup.pid = u32::MAX;
        assert_eq!(
            phase(Some(&record), Some(&sup), at(110), &timings),
            Phase::Crashed
        );
    }

    #[test]
    fn restarting_paused_and_blocked_are_their_own_states() {
        let timings = Timings::default();
        let mut record = record(at(0));
        let mut sup = supervision(&record, at(100));
        sup.next_attempt = Some(clock::format(at(130)));
        assert_eq!(
            phase(Some(&record), Some(&sup), at(110), &timings),
            Phase::Restarting
        );
        record.state.paused = true;
        assert_eq!(
            phase(Some(&record), Some(&sup), at(110), &timings),
            Phase::Paused
        );
        record.state.blocked = Some("needs a key".into());
        assert_eq!(
            phase(Some(&record), Some(&sup), at(110), &timings),
            Phase::Blocked
        );
    }

    #[test]
    fn a_supervisor_file_of_another_loop_is_ignored() {
        let timings = Timings::default();
        let record = record(at(0));
        let mut sup = supervision(&record, at(0));
        sup.loop_id = "other".into();
        sup.pid = u32::MAX;
        assert_eq!(
            phase(Some(&record), Some(&sup), at(60), &timings),
            Phase::Running
        );
    }

    #[test]
    fn a_supervisor_whose_client_has_not_spoken_is_starting() {
        let timings = Timings::default();
        let record = record(at(0));
        let mut sup = supervision(&record, at(5));
        sup.last_output = None;
        assert_eq!(
            phase(Some(&record), Some(&sup), at(6), &timings),
            Phase::Starting
        );
    }
}
