//! Where a loop lives on disk.
//!
//! - The **record** (the authority), the **lock** and the **history** live in the user's
//!   state folder, one folder per host and canonical workspace
//!   ([`Registry::loop_dir`]). Only the user writes there.
//! - The **mirror**, `<workspace>/.codex/ralph-loop-state.json` (Claude Code:
//!   `.claude/…`), shows the loop in the bash version's fields. It is written after the
//!   record and never read to decide anything; when it disagrees with the record, the
//!   record wins.
//!
//! Every change happens under the lock, and every write is a temp file renamed over the
//! old one in the same real folder ([`crate::engine::files`]): two hooks at once never
//! lose an update, a crash never leaves a torn file, and nothing is written through a
//! link.

use std::collections::HashSet;
use std::fs::{File, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::agent::Agent;
use crate::clock;
use crate::engine::files::{self, Dir, DirError, ReadError};
use crate::engine::history::{Action, Event, HistoryEntry, Reason};
use crate::engine::outcome::Outcome;
use crate::engine::ownership::{LoopRecord, RECORD_VERSION, Registry};
use crate::engine::state::LoopState;
use crate::engine::workspace::{self, STATE_FILE, TEMP_PREFIX};
use crate::error::{Error, Result};
use crate::messages::warn;

pub use crate::engine::files::PAUSE_AT_ENV;

/// The record's file name in the loop folder.
pub const RECORD_FILE: &str = "record.json";
/// The history's file name in the loop folder.
pub const HISTORY_FILE: &str = "history.jsonl";
/// The lock's file name in the loop folder.
pub const LOCK_FILE: &str = "lock";
/// The largest record read (a task of megabytes fits many times over).
const RECORD_CAP: u64 = 16 * 1024 * 1024;
/// The largest mirror read (for `show`, `adopt` and the adopt hint).
pub const MIRROR_CAP: u64 = 8 * 1024 * 1024;
/// How long a command waits for another ralph-hook process to release the lock before
/// giving up (and, in a hook, allowing the stop).
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// The user's loop folders are theirs alone.
const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;
/// The mirror is meant to be read.
const MIRROR_MODE: u32 = 0o644;
const MIRROR_DIR_MODE: u32 = 0o755;

/// One host's loop in one canonical workspace: its record folder and its mirror.
#[derive(Debug, Clone)]
pub struct Store {
    workspace: PathBuf,
    agent: Agent,
    loop_dir: PathBuf,
    registry: Registry,
}

/// Why a record could not be read as a loop.
#[derive(Debug)]
pub enum LoadError {
    /// The record is there but is not a loop of this workspace: it is kept aside,
    /// never deleted.
    Unusable(String),
    /// Reading failed for another reason (permissions …).
    Io(Error),
}

/// The record as read under the lock ([`Store::load_or_set_aside`]).
#[derive(Debug)]
pub enum Loaded {
    /// The user's loop.
    Record(Box<LoopRecord>),
    /// No loop of the user's here.
    Missing,
    /// The record was unusable: it was moved aside (never deleted), the history says
    /// so, and the loop is off. The words say why and where it went.
    SetAside(String),
}

/// What is at the mirror's place in the workspace.
#[derive(Debug)]
pub enum Mirror {
    /// Nothing.
    Missing,
    /// Something that is not a loop state ralph-hook can read (and the reason).
    Unusable(String),
    /// A state file, parsed.
    Found(Box<LoopState>),
}

/// Holds the loop's lock until dropped; functions that change a loop ask for it. It
/// keeps the user's loop folder open, so every write under the lock goes through the
/// same handle.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    dir: Dir,
}

impl Store {
    /// The store of `agent` in the canonical `workspace` (nothing is touched yet).
    pub fn new(workspace: &Path, agent: Agent, registry: &Registry) -> Self {
        Store {
            workspace: workspace.to_path_buf(),
            agent,
            loop_dir: registry.loop_dir(workspace, agent),
            registry: registry.clone(),
        }
    }

    /// Refuses a state folder that is not the user's alone (inside the workspace, under
    /// a temp folder, another user's, writable by others, a link inside it): every read
    /// and write of the record goes through here first.
    pub fn check_private(&self) -> Result<()> {
        let inside = [
            self.loop_dir.clone(),
            self.record_path(),
            self.history_path(),
            self.loop_dir.join(LOCK_FILE),
        ];
        match self.registry.refusal(&self.workspace, &inside) {
            Some(why) => Err(Error::Failed(why)),
            None => Ok(()),
        }
    }

    /// The canonical workspace.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The host.
    pub fn agent(&self) -> Agent {
        self.agent
    }

    /// The user's folder of this loop (record, lock, history).
    pub fn loop_dir(&self) -> &Path {
        &self.loop_dir
    }

    /// The record's path.
    pub fn record_path(&self) -> PathBuf {
        self.loop_dir.join(RECORD_FILE)
    }

    /// The history's path.
    pub fn history_path(&self) -> PathBuf {
        self.loop_dir.join(HISTORY_FILE)
    }

    /// `<workspace>/.codex/ralph-loop-state.json` (or `.claude/…`): the mirror.
    pub fn state_path(&self) -> PathBuf {
        self.workspace
            .join(self.agent.state_dir_name())
            .join(STATE_FILE)
    }

    /// True when the user has a record here: a stat, for the stop's search.
    pub fn has_record(&self) -> bool {
        self.record_path().symlink_metadata().is_ok()
    }

    /// True when something is at the mirror's place (a stat through the path, for the
    /// stop's search; reading it goes through [`Store::read_mirror`]).
    pub fn has_mirror(&self) -> bool {
        self.state_path().symlink_metadata().is_ok()
    }

    fn open_loop_dir(&self) -> Result<Dir> {
        Dir::create_all(&self.loop_dir, PRIVATE_DIR).map_err(|err| {
            Error::io(
                "open the user's loop folder",
                &self.loop_dir,
                io::Error::from(err),
            )
        })
    }

    /// Takes the loop's exclusive lock, waiting up to ten seconds for another process.
    pub fn lock(&self) -> Result<LockGuard> {
        self.check_private()?;
        let dir = self.open_loop_dir()?;
        let path = self.loop_dir.join(LOCK_FILE);
        let file = dir
            .lock_file(LOCK_FILE, PRIVATE_FILE)
            .map_err(|err| Error::io("open the loop's lock", &path, err))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(LockGuard { _file: file, dir }),
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
                    return Err(Error::io("lock the loop", &path, err));
                }
            }
        }
    }

    /// Reads the record. `Ok(None)` when the user has no loop here.
    pub fn load(&self) -> Result<Option<LoopRecord>, LoadError> {
        self.check_private().map_err(LoadError::Io)?;
        let path = self.record_path();
        let bytes = match files::read_path(&path, RECORD_CAP, false) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(ReadError::Io(err)) => {
                return Err(LoadError::Io(Error::io(
                    "read the loop's record",
                    &path,
                    err,
                )));
            }
            Err(other) => return Err(LoadError::Unusable(other.to_string())),
        };
        let mut record: LoopRecord = serde_json::from_slice(&bytes)
            .map_err(|err| LoadError::Unusable(format!("it is not a loop record: {err}")))?;
        if record.record_version == 0 || record.record_version > RECORD_VERSION {
            return Err(LoadError::Unusable(format!(
                "record_version {} is not one this ralph-hook reads; upgrade ralph-hook",
                record.record_version
            )));
        }
        if record.agent != self.agent || record.workspace != self.workspace {
            return Err(LoadError::Unusable(format!(
                "it is the record of {} in {}, not of this workspace",
                record.agent,
                record.workspace.display()
            )));
        }
        record.state = record
            .state
            .checked()
            .map_err(|why| LoadError::Unusable(format!("it is not a valid loop: {why}")))?;
        record.align();
        Ok(Some(record))
    }

    /// Reads the record for a look without the lock, so an unusable one is never moved:
    /// it is an error that says how to get past it.
    pub fn read_record(&self) -> Result<Option<LoopRecord>> {
        match self.load() {
            Ok(record) => Ok(record),
            Err(LoadError::Io(err)) => Err(err),
            Err(LoadError::Unusable(why)) => Err(Error::input(
                self.record_path().display().to_string(),
                format!("{why}; move it away (the loop is then off) or fix it, then retry"),
            )),
        }
    }

    /// Reads the record under the lock. An unusable one is moved aside as
    /// `record.json.corrupt-<time>` (never deleted) and the history gets a line for it
    /// (by `event`, naming no loop): the one way every change of a loop meets a broken
    /// record, with the same words for all of them.
    pub fn load_or_set_aside(
        &self,
        lock: &LockGuard,
        event: Event,
        now: SystemTime,
    ) -> Result<Loaded> {
        let why = match self.load() {
            Ok(Some(record)) => return Ok(Loaded::Record(Box::new(record))),
            Ok(None) => return Ok(Loaded::Missing),
            Err(LoadError::Io(err)) => return Err(err),
            Err(LoadError::Unusable(why)) => why,
        };
        let shown = self.record_path();
        let kept = self.set_aside_record(lock, "corrupt", now).map_err(|err| {
            Error::Failed(format!("{} is unusable ({why}) and {err}", shown.display()))
        })?;
        let message = format!(
            "the loop's record {} is unusable ({why}); it was moved to {} and the loop is off",
            shown.display(),
            kept.display()
        );
        let entry = HistoryEntry {
            at: clock::format(now),
            event,
            decision: Action::Finish,
            reason: Some(Reason::Ended(Outcome::Error)),
            loop_id: None,
            session_id: None,
            iteration: 0,
            max_iterations: 0,
            tag: None,
            detail: Some(message.clone()),
            tokens: None,
            tokens_used: None,
            max_tokens: None,
            cost_nanos: None,
            cost_used_nanos: None,
            max_cost_nanos: None,
        };
        if let Err(err) = self.append_history(lock, &entry) {
            warn(err);
        }
        Ok(Loaded::SetAside(message))
    }

    /// Writes the record, then its mirror. A record that cannot be written is an error
    /// (the previous one is intact); a mirror that cannot be written is returned as a
    /// warning, since the record is what runs.
    pub fn save(&self, lock: &LockGuard, record: &mut LoopRecord) -> Result<Option<Error>> {
        let mirror_dir = self.open_mirror_dir(true);
        if let Ok((_, true)) = &mirror_dir {
            record.created_state_dir = true;
        }
        self.write_record(lock, record)?;
        let warning = match mirror_dir {
            Ok((dir, _)) => dir
                .write_atomic(
                    STATE_FILE,
                    record.state.to_json().as_bytes(),
                    MIRROR_MODE,
                    Some("mirror"),
                )
                .err()
                .map(|err| Error::io("update the loop's state file", self.state_path(), err)),
            Err(err) => Some(err),
        };
        Ok(warning)
    }

    fn write_record(&self, lock: &LockGuard, record: &LoopRecord) -> Result<()> {
        let json = serde_json::to_string_pretty(record)
            .map_err(|err| Error::Failed(format!("could not encode the loop's record: {err}")))?;
        lock.dir
            .write_atomic(RECORD_FILE, json.as_bytes(), PRIVATE_FILE, Some("save"))
            .map_err(|err| Error::io("write the loop state", self.record_path(), err))
    }

    /// Opens the workspace's `.codex`/`.claude` folder, refusing a symlink; with
    /// `create`, makes it when missing (and says so).
    fn open_mirror_dir(&self, create: bool) -> Result<(Dir, bool)> {
        let name = self.agent.state_dir_name();
        let folder = self.workspace.join(name);
        let fail = |err: DirError| match err {
            DirError::Io(err) => Error::io("open the loop folder", &folder, err),
            other => Error::Failed(format!("{}: {other}", folder.display())),
        };
        let workspace = Dir::open(&self.workspace).map_err(|err| match err {
            DirError::Io(err) => Error::io("open the workspace", &self.workspace, err),
            other => Error::Failed(format!("{}: {other}", self.workspace.display())),
        })?;
        if create {
            workspace
                .child_or_create(name, MIRROR_DIR_MODE)
                .map_err(fail)
        } else {
            match workspace.child(name).map_err(fail)? {
                Some(dir) => Ok((dir, false)),
                None => Err(Error::io(
                    "open the loop folder",
                    &folder,
                    io::Error::from(io::ErrorKind::NotFound),
                )),
            }
        }
    }

    /// Checks that a loop's files can live here: the `.codex`/`.claude` folder, if
    /// there, is a real folder.
    pub fn check_mirror_place(&self) -> Result<()> {
        match self.open_mirror_dir(false) {
            Ok(_) => Ok(()),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Reads what is at the mirror's place, without following links or blocking.
    pub fn read_mirror(&self) -> Mirror {
        let dir = match self.open_mirror_dir(false) {
            Ok((dir, _)) => dir,
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Mirror::Missing;
            }
            Err(err) => return Mirror::Unusable(err.to_string()),
        };
        match dir.read(STATE_FILE, MIRROR_CAP) {
            Ok(None) => Mirror::Missing,
            Ok(Some(bytes)) => match std::str::from_utf8(&bytes) {
                Err(_) => Mirror::Unusable("it is not UTF-8 text".into()),
                Ok(text) => match LoopState::from_json(text) {
                    Ok(state) => Mirror::Found(Box::new(state)),
                    Err(why) => Mirror::Unusable(format!("it is not a valid loop state: {why}")),
                },
            },
            Err(err) => Mirror::Unusable(err.to_string()),
        }
    }

    /// Removes the mirror of a loop that ended, and its folder when ralph-hook created
    /// it and nothing else is in it.
    pub fn remove_mirror(&self, _lock: &LockGuard, created_dir: bool) -> Result<()> {
        let name = self.agent.state_dir_name();
        let workspace = match Dir::open(&self.workspace) {
            Ok(workspace) => workspace,
            Err(DirError::Io(err)) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(Error::Failed(format!(
                    "{}: {err}",
                    self.workspace.display()
                )));
            }
        };
        let dir = match workspace.child(name) {
            Ok(Some(dir)) => dir,
            Ok(None) => return Ok(()),
            Err(err) => {
                return Err(Error::Failed(format!(
                    "{}: {err}",
                    self.workspace.join(name).display()
                )));
            }
        };
        dir.remove(STATE_FILE)
            .map_err(|err| Error::io("remove the loop's state file", self.state_path(), err))?;
        drop(dir);
        if created_dir {
            let _ = workspace.remove_empty_dir(name);
        }
        Ok(())
    }

    /// Removes the record of a loop that ended: from here on no stop obeys it.
    pub fn remove_record(&self, lock: &LockGuard) -> Result<()> {
        files::pause_point("remove:before");
        let removed = lock.dir.remove(RECORD_FILE);
        files::pause_point("remove:after");
        removed
            .map(|_| ())
            .map_err(|err| Error::io("remove the finished loop's record", self.record_path(), err))
    }

    /// Moves an unusable record aside as `record.json.<label>-<time>`, never deleting
    /// it, and returns the new path.
    pub fn set_aside_record(
        &self,
        lock: &LockGuard,
        label: &str,
        now: SystemTime,
    ) -> Result<PathBuf> {
        set_aside(&lock.dir, RECORD_FILE, label, now)
            .map_err(|err| Error::io("move the unusable record aside", self.record_path(), err))
    }

    /// Moves whatever is at the mirror's place aside as
    /// `ralph-loop-state.json.<label>-<time>` (in the same real folder).
    pub fn set_aside_mirror(
        &self,
        _lock: &LockGuard,
        label: &str,
        now: SystemTime,
    ) -> Result<PathBuf> {
        let (dir, _) = self.open_mirror_dir(false)?;
        set_aside(&dir, STATE_FILE, label, now)
            .map_err(|err| Error::io("move the old state file aside", self.state_path(), err))
    }

    /// Removes temp files that a killed writer left behind (older than a minute, so a
    /// write in progress is never touched). Run when a loop starts, not on every stop.
    pub fn sweep_stale_temp_files(&self, lock: &LockGuard) {
        let cutoff = SystemTime::now() - Duration::from_secs(60);
        let mirror = self.open_mirror_dir(false).ok().map(|(dir, _)| dir);
        for dir in mirror.iter().chain([&lock.dir]) {
            for name in dir.names() {
                let ours = (name.starts_with(TEMP_PREFIX) || name.starts_with(".record."))
                    && name.ends_with(".tmp");
                if ours && dir.modified(&name).is_some_and(|at| at < cutoff) {
                    let _ = dir.remove(&name);
                }
            }
        }
    }

    /// Appends one line to the history.
    pub fn append_history(&self, lock: &LockGuard, entry: &HistoryEntry) -> Result<()> {
        let path = self.history_path();
        let mut line = serde_json::to_string(entry)
            .map_err(|err| Error::Failed(format!("could not encode a history line: {err}")))?;
        line.push('\n');
        files::pause_point("history:before-append");
        lock.dir
            .append(HISTORY_FILE, line.as_bytes(), PRIVATE_FILE)
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

fn set_aside(dir: &Dir, name: &str, label: &str, now: SystemTime) -> io::Result<PathBuf> {
    let stamp = clock::format(now).replace(':', "");
    let mut target = format!("{name}.{label}-{stamp}");
    let mut n = 1;
    while dir.exists(&target) {
        n += 1;
        target = format!("{name}.{label}-{stamp}-{n}");
    }
    dir.rename(name, &target)?;
    Ok(dir.path().join(target))
}
/// What a stop found from its `cwd`.
#[derive(Debug)]
pub enum Located {
    /// The user's record of a loop here: the loop to judge.
    Record(Store),
    /// Only a state file, with no record of the user's: never obeyed.
    Mirror(Store),
}

/// Finds the loop a stop in `cwd` belongs to: walking up from the canonical `cwd` to
/// the git top level, the nearest folder with a record of the user's wins; failing
/// that, the nearest state file without one (never obeyed; the stop may say how to
/// adopt it). A state file in a subfolder never hides the user's loop above it.
///
/// The user's loop folders are listed once (one directory read, whatever the depth);
/// each folder on the way up then costs a lookup in that list and two `stat`s.
pub fn locate(cwd: &Path, agent: Agent, registry: &Registry) -> Option<Located> {
    let cwd = workspace::canonical(cwd).ok()?;
    let known: HashSet<String> = std::fs::read_dir(registry.loops_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut unrecorded = None;
    for dir in cwd.ancestors() {
        if !known.is_empty() && known.contains(&Registry::loop_dir_name(dir, agent)) {
            let store = Store::new(dir, agent, registry);
            if store.has_record() {
                return Some(Located::Record(store));
            }
        }
        if unrecorded.is_none()
            && dir
                .join(agent.state_dir_name())
                .join(STATE_FILE)
                .symlink_metadata()
                .is_ok()
        {
            unrecorded = Some(Store::new(dir, agent, registry));
        }
        if workspace::is_git_repository(dir) {
            break;
        }
    }
    unrecorded.map(Located::Mirror)
}
