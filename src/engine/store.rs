//! The state store: reading, locking and atomically replacing a workspace's loop state,
//! moving a bad file aside instead of deleting it, and appending to the history.
//!
//! Every change happens under an advisory lock on `ralph-loop.lock` beside the state,
//! and every write is a temp file in the same folder renamed over the old one, so two
//! hooks at once never lose an update and a crash never leaves a torn file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::clock;
use crate::engine::state::LoopState;
use crate::engine::workspace::{self, HISTORY_FILE, LOCK_FILE, STATE_FILE};
use crate::error::{Error, Result};

/// How long a command waits for another ralph-hook process to release the lock before
/// giving up (and, in a hook, allowing the stop).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The loop files of one host in one workspace.
#[derive(Debug, Clone)]
pub struct Store {
    workspace: PathBuf,
    agent: Agent,
    dir: PathBuf,
    state_path: PathBuf,
}

/// Why a state file could not be read as a loop.
#[derive(Debug)]
pub enum LoadError {
    /// The file is there but is not a loop (bad JSON, a directory, a symlink …): it is
    /// kept aside, never deleted.
    Unusable(String),
    /// Reading failed for another reason (permissions …).
    Io(Error),
}

/// Holds the store's lock until dropped.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

impl Store {
    /// The store of `agent` in `workspace` (nothing is touched yet).
    pub fn new(workspace: &Path, agent: Agent) -> Self {
        let dir = workspace::state_dir(workspace, agent);
        Store {
            workspace: workspace.to_path_buf(),
            agent,
            state_path: dir.join(STATE_FILE),
            dir,
        }
    }

    /// The workspace.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The host.
    pub fn agent(&self) -> Agent {
        self.agent
    }

    /// `<workspace>/.codex/ralph-loop-state.json` (or `.claude/…`).
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// `ralph-loop-history.jsonl` beside the state.
    pub fn history_path(&self) -> PathBuf {
        self.dir.join(HISTORY_FILE)
    }

    /// True when a state file (or something in its place) exists.
    pub fn exists(&self) -> bool {
        self.state_path.symlink_metadata().is_ok()
    }

    /// Creates the state folder if needed.
    pub fn ensure_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|err| Error::io("create the loop folder", &self.dir, err))
    }

    /// Takes the exclusive lock, waiting up to ten seconds for another process.
    pub fn lock(&self) -> Result<LockGuard> {
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| Error::io("open the lock file", &path, err))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(LockGuard { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(2));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Failed(format!(
                        "another ralph-hook process held {} for over {}s",
                        path.display(),
                        LOCK_WAIT.as_secs()
                    )));
                }
                Err(TryLockError::Error(err)) => {
                    return Err(Error::io("lock the loop state", &path, err));
                }
            }
        }
    }

    /// Reads the loop. `Ok(None)` when there is no state file.
    pub fn load(&self) -> Result<Option<LoopState>, LoadError> {
        let meta = match self.state_path.symlink_metadata() {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(LoadError::Io(Error::io(
                    "read the loop state",
                    &self.state_path,
                    err,
                )));
            }
        };
        if meta.file_type().is_symlink() {
            return Err(LoadError::Unusable(
                "it is a symlink; ralph-hook only follows a state file that lives in the workspace"
                    .into(),
            ));
        }
        if meta.is_dir() {
            return Err(LoadError::Unusable("it is a directory, not a file".into()));
        }
        let text = match std::fs::read_to_string(&self.state_path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                return Err(LoadError::Unusable("it is not UTF-8 text".into()));
            }
            Err(err) => {
                return Err(LoadError::Io(Error::io(
                    "read the loop state",
                    &self.state_path,
                    err,
                )));
            }
        };
        LoopState::from_json(&text)
            .map(Some)
            .map_err(|why| LoadError::Unusable(format!("it is not a valid loop state: {why}")))
    }

    /// Atomically replaces the state file with `state`.
    pub fn save(&self, state: &LoopState) -> Result<()> {
        if self
            .state_path
            .symlink_metadata()
            .is_ok_and(|meta| meta.file_type().is_symlink())
        {
            return Err(Error::Failed(format!(
                "{} is a symlink; refusing to write through it (move it away, then retry)",
                self.state_path.display()
            )));
        }
        let mut temp = tempfile::Builder::new()
            .prefix(".ralph-loop-state.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|err| Error::io("write the loop state", &self.dir, err))?;
        pause_point("save:temp-created");
        let json = state.to_json();
        let (head, tail) = json.as_bytes().split_at(json.len() / 2);
        for (part, point) in [(head, "save:half-written"), (tail, "save:before-rename")] {
            temp.write_all(part)
                .map_err(|err| Error::io("write the loop state", temp.path(), err))?;
            pause_point(point);
        }
        temp.persist(&self.state_path)
            .map_err(|err| Error::io("replace the loop state", &self.state_path, err.error))?;
        pause_point("save:after-rename");
        Ok(())
    }

    /// Removes temp files that a killed writer left behind (older than a minute, so a
    /// write in progress is never touched). Run when a loop starts, not on every stop.
    pub fn sweep_stale_temp_files(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let cutoff = SystemTime::now() - Duration::from_secs(60);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stale = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified < cutoff);
            if name.starts_with(".ralph-loop-state.") && name.ends_with(".tmp") && stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Removes the state file of a finished loop (its outcome stays in the history).
    pub fn remove(&self) -> Result<()> {
        pause_point("remove:before");
        let removed = std::fs::remove_file(&self.state_path);
        pause_point("remove:after");
        match removed {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Error::io(
                "remove the finished loop's state",
                &self.state_path,
                err,
            )),
            _ => Ok(()),
        }
    }

    /// Moves an unusable state file aside as `<state>.<label>-<time>` and returns the
    /// new path. Nothing is deleted.
    pub fn set_aside(&self, label: &str, now: SystemTime) -> Result<PathBuf> {
        let stamp = clock::format(now).replace(':', "");
        let mut target = self
            .state_path
            .with_file_name(format!("{STATE_FILE}.{label}-{stamp}"));
        let mut n = 1;
        while target.symlink_metadata().is_ok() {
            n += 1;
            target = self
                .state_path
                .with_file_name(format!("{STATE_FILE}.{label}-{stamp}-{n}"));
        }
        std::fs::rename(&self.state_path, &target)
            .map_err(|err| Error::io("move the unusable state aside", &self.state_path, err))?;
        Ok(target)
    }

    /// Appends one line to the history.
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<()> {
        let path = self.history_path();
        let mut line = serde_json::to_string(entry)
            .map_err(|err| Error::Failed(format!("could not encode a history line: {err}")))?;
        line.push('\n');
        pause_point("history:before-append");
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(|err| Error::io("append to the loop history", &path, err))
    }

    /// The last history entry, read from the end of the file (it may be long).
    pub fn last_history_entry(&self) -> Option<HistoryEntry> {
        let mut file = File::open(self.history_path()).ok()?;
        let len = file.metadata().ok()?.len();
        let start = len.saturating_sub(64 * 1024);
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).ok()?;
        String::from_utf8_lossy(&tail)
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
    }

    /// Every history entry, oldest first; lines that do not parse are skipped.
    pub fn history(&self) -> Result<Vec<HistoryEntry>> {
        let path = self.history_path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io("read the loop history", &path, err)),
        };
        Ok(BufReader::new(file)
            .lines()
            .map_while(std::result::Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
            .collect())
    }
}

/// Environment variable read by debug builds only: the name of a point on the write
/// path where the process stops (see [`pause_point`]).
pub const PAUSE_AT_ENV: &str = "RALPH_HOOK_TEST_PAUSE_AT";

/// For the crash-safety tests: in a debug build, when `RALPH_HOOK_TEST_PAUSE_AT` names
/// this point, the process says `ralph-hook: paused at <point>` on stderr and sleeps,
/// so a test can kill -9 it at exactly that point of the write path. Release builds
/// compile this to nothing.
#[cfg(debug_assertions)]
fn pause_point(point: &str) {
    if std::env::var(PAUSE_AT_ENV).is_ok_and(|wanted| wanted == point) {
        eprintln!("ralph-hook: paused at {point}");
        thread::sleep(Duration::from_secs(60));
    }
}

#[cfg(not(debug_assertions))]
fn pause_point(_point: &str) {}

/// One line of `ralph-loop-history.jsonl`: a decision or a change of the loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339).
    pub at: String,
    /// What happened: `start`, `stop`, `cancel`, `adopt`, `pause`, `resume`, `claim`.
    pub event: String,
    /// What was decided: `block`, `finish`, `allow`, `start` …
    pub decision: String,
    /// The reason code of a finish (see `Outcome::code`), or a short reason otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// The session that made the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The iteration after the decision.
    #[serde(default)]
    pub iteration: u32,
    /// The cap (0 = none).
    #[serde(default)]
    pub max_iterations: u32,
    /// Which signal the assistant's message carried: `promise`, `continue` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Anything else worth keeping (verify output summary, where a bad file went …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl HistoryEntry {
    /// An entry about `state` at `now`.
    pub fn about(state: &LoopState, event: &str, decision: &str, now: SystemTime) -> Self {
        HistoryEntry {
            at: clock::format(now),
            event: event.into(),
            decision: decision.into(),
            reason: None,
            loop_id: state.loop_id.clone(),
            session_id: state.session_id.clone(),
            iteration: state.iteration,
            max_iterations: state.max_iterations,
            tag: None,
            detail: None,
        }
    }

    /// Sets the reason code.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the session that acted.
    pub fn session(mut self, session: Option<&str>) -> Self {
        self.session_id = session.map(str::to_string);
        self
    }
}
