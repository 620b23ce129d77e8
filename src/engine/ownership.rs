//! Trust: the user's own record of each loop, and whose stops a loop obeys.
//!
//! The hooks run, unsandboxed and as the user, in every repository the user opens, so
//! nothing in a workspace may steer them: a cloned repository's files are not the user's,
//! and the agent is not the user. The authority over a loop is its record in the user's
//! state folder (outside every workspace and outside the agent's sandbox): loop id, host,
//! canonical workspace, bound session, task, signals, budgets, verify command and
//! counters. The workspace's `ralph-loop-state.json` is only the loop's visible mirror.
//!
//! A stop obeys a loop only through a record kept for exactly that host and canonical
//! workspace, and only for the record's session (or, for a loop started without one,
//! the first session that stops there, which claims it). A state file without a record
//! is never obeyed: `show` displays it and `adopt` is the one door that makes it a loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::engine::digest;
use crate::engine::files;
use crate::engine::fresh::Fresh;
use crate::engine::private;
use crate::engine::state::{LoopState, StartedBy};
use crate::engine::usage::Cursor;

/// Environment variable that overrides the user's state folder (tests use a temp home).
pub const STATE_DIR_ENV: &str = "RALPH_HOOK_STATE_DIR";

/// Environment variable in which `ralph-hook run` names its loop to the client it
/// launches; the client's hooks inherit it. A stop that carries it comes from a session
/// the loop's own supervisor started.
pub const RUN_LOOP_ENV: &str = "RALPH_HOOK_RUN_LOOP";

/// The version of the record format this binary writes.
pub const RECORD_VERSION: u32 = 1;

/// The user's record of a loop: the authority. Everything a stop runs (verify) or is
/// limited by (caps, durations, no-progress) comes from here, never from the workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopRecord {
    /// The record format's version.
    pub record_version: u32,
    /// The loop's id (also in its mirror, so a person can tell loops apart).
    pub loop_id: String,
    /// The host whose stops the loop steers.
    pub agent: Agent,
    /// The canonical workspace: the record is obeyed only there.
    pub workspace: PathBuf,
    /// Whether ralph-hook created the workspace's `.codex`/`.claude` folder for this
    /// loop; if so the folder goes (when empty) once the loop ends.
    #[serde(default)]
    pub created_state_dir: bool,
    /// Whether the workspace was a git repository when the loop started: only then does
    /// the no-progress brake run git, and only in the workspace itself.
    #[serde(default)]
    pub git: bool,
    /// The bound session's transcript, as the host named it in the payloads of the
    /// prompt that started the loop and of the stops it decided: its mtime is the
    /// session's sign of life (see `engine::liveness`). Never opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<PathBuf>,
    /// The user's `--notify` command: kept here only, never in the workspace's mirror,
    /// so no file in a repository can name a command to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// Where the token count stands in the session's transcript (with `--max-tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Cursor>,
    /// Where each setting not at ralph-hook's default came from (`flag`, or the config
    /// file and line), for `show`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// A loop of `ralph-hook run --fresh`: a new session per iteration (or task item),
    /// and the hand-over a stop left for the next one. `None` for a same-session loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<Fresh>,
    /// The loop itself: session, task, signals, budgets, verify, counters.
    pub state: LoopState,
}

impl LoopRecord {
    /// A record of `state` for `agent` in the canonical `workspace`. The state's own
    /// identity fields are set from the record's, so the two never disagree.
    pub fn new(state: LoopState, agent: Agent, workspace: &Path) -> Self {
        let loop_id = state.loop_id.clone().unwrap_or_else(new_loop_id);
        let mut record = LoopRecord {
            record_version: RECORD_VERSION,
            loop_id,
            agent,
            workspace: workspace.to_path_buf(),
            created_state_dir: false,
            git: false,
            transcript: None,
            notify: None,
            usage: None,
            sources: BTreeMap::new(),
            fresh: None,
            state,
        };
        record.align();
        record
    }

    /// Makes the state's loop id, host and workspace the record's.
    pub fn align(&mut self) {
        self.state.loop_id = Some(self.loop_id.clone());
        self.state.agent = Some(self.agent);
        self.state.workspace = Some(self.workspace.clone());
    }
}

/// Why a state file is not obeyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// No loop id: the bash skill (or another tool) wrote it.
    Legacy,
    /// This user has no record of a loop in this workspace: it was copied, committed,
    /// or written by someone other than the user's ralph-hook.
    NoRecord,
}

impl Untrusted {
    /// The reason, in words, for the adopt hint, `show` and `doctor`.
    pub fn why(self) -> &'static str {
        match self {
            Untrusted::Legacy => {
                "it was written by the old bash skill or another tool, not started by this user's ralph-hook"
            }
            Untrusted::NoRecord => {
                "this user never started a loop here (was it copied or committed here, or written by the agent?)"
            }
        }
    }
}

/// How a stop stands toward the loop it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// This session's loop: decide.
    Owner,
    /// A loop this user started without a session: this session claims it, then decides.
    Claim,
    /// Another session owns the loop: allow, say nothing, write nothing.
    OtherSession,
    /// A state file without the user's record: allow, and say (once) how to adopt it.
    Untrusted(Untrusted),
}

/// Judges a stop by `session` on a loop the user's record holds. `launched_for` is the
/// loop id the stop's client was launched for ([`RUN_LOOP_ENV`]): a loop of `ralph-hook
/// run` waiting for the session its supervisor is starting is claimed by that session
/// only, never by another one in the same workspace.
pub fn judge(record: &LoopState, session: &str, launched_for: Option<&str>) -> Standing {
    match record.session_id.as_deref() {
        Some(owner) if owner == session => Standing::Owner,
        Some(_) => Standing::OtherSession,
        // A payload without a session id cannot be bound to anything.
        None if session.is_empty() => Standing::OtherSession,
        None if record.started_by == Some(StartedBy::Run)
            && launched_for != record.loop_id.as_deref() =>
        {
            Standing::OtherSession
        }
        None => Standing::Claim,
    }
}

/// Judges a state file for which this user has no record.
pub fn judge_unrecorded(mirror: &LoopState) -> Untrusted {
    if mirror.loop_id.is_none() {
        Untrusted::Legacy
    } else {
        Untrusted::NoRecord
    }
}

/// The user's state folder: `$RALPH_HOOK_STATE_DIR`, else `$XDG_STATE_HOME/ralph-hook`,
/// else `~/.local/state/ralph-hook`.
pub fn user_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join(".local").join("state")))
        .map(|dir| dir.join("ralph-hook"))
}

/// The user's state folder, where each loop's record, lock and history live.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
    guarded: bool,
}

impl Registry {
    /// The registry in the user's state folder (`None` without a home folder). Every
    /// record read or written through it is checked to be the user's alone
    /// (`engine::private`).
    pub fn open() -> Option<Self> {
        user_state_dir().map(|dir| Registry { dir, guarded: true })
    }

    /// A registry in `dir`, without the checks of a real state folder (tests, which
    /// keep theirs in a temp folder).
    pub fn at(dir: &Path) -> Self {
        Registry {
            dir: dir.to_path_buf(),
            guarded: false,
        }
    }

    /// Why a record in this state folder for the canonical `workspace` may not be
    /// obeyed, with the loop folder and record to check as well; `None` when it may.
    pub fn refusal(&self, workspace: &Path, inside: &[PathBuf]) -> Option<String> {
        if !self.guarded {
            return None;
        }
        let mut all = vec![self.loops_dir()];
        all.extend(inside.iter().cloned());
        private::refusal(&self.dir, workspace, &all, STATE_DIR_ENV)
    }

    /// The state folder itself.
    #[cfg(any(test, feature = "testing"))]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of `agent`'s loops in the canonical `workspace`:
    /// `<state>/workspaces/<agent>-<name>-<digest>`. The record inside repeats the
    /// workspace, and a record that names another one is not obeyed.
    pub fn loop_dir(&self, workspace: &Path, agent: Agent) -> PathBuf {
        self.loops_dir()
            .join(Registry::loop_dir_name(workspace, agent))
    }

    /// The folder holding every loop folder.
    pub fn loops_dir(&self) -> PathBuf {
        self.dir.join("workspaces")
    }

    /// The name of `agent`'s loop folder for the canonical `workspace`.
    pub fn loop_dir_name(workspace: &Path, agent: Agent) -> String {
        let name: String = workspace
            .file_name()
            .map(|name| name.to_string_lossy())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let key = digest::hex(workspace.as_os_str().as_encoded_bytes());
        format!("{}-{name}-{key}", agent.as_str())
    }

    /// Records that the adopt hint was shown for this file (keyed by its path and
    /// content), and says whether it was the first time.
    pub fn first_hint(&self, state_path: &Path, content: &[u8]) -> bool {
        let mut key = state_path.as_os_str().as_encoded_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(content);
        let name = digest::hex(&key);
        let hinted = self.dir.join("hinted");
        let workspace = state_path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(state_path);
        // No hint through a folder that is not the user's alone, nor through a link.
        if self
            .refusal(workspace, std::slice::from_ref(&hinted))
            .is_some()
        {
            return false;
        }
        if hinted.join(&name).symlink_metadata().is_ok() {
            return false;
        }
        let Ok(dir) = files::Dir::create_all(&hinted, 0o700) else {
            return false;
        };
        let _ = dir.write_atomic(
            &name,
            state_path.as_os_str().as_encoded_bytes(),
            0o600,
            None,
        );
        true
    }
}

/// A fresh random loop id (not a secret: it only names a loop): 32 hex digits.
pub fn new_loop_id() -> String {
    format!("{}{}", files::random_hex(), files::random_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::SampleLoop;

    fn loop_state(session: Option<&str>) -> LoopState {
        SampleLoop::default()
            .task("task")
            .session(session)
            .started_by(StartedBy::Start)
            .build()
    }

    #[test]
    fn the_bound_session_owns_its_loop_and_no_other() {
        assert_eq!(judge(&loop_state(Some("A")), "A", None), Standing::Owner);
        assert_eq!(
            judge(&loop_state(Some("A")), "B", None),
            Standing::OtherSession
        );
    }

    #[test]
    fn an_unbound_loop_is_claimed_by_a_session_with_an_id() {
        assert_eq!(judge(&loop_state(None), "B", None), Standing::Claim);
        assert_eq!(judge(&loop_state(None), "", None), Standing::OtherSession);
    }

    #[test]
    fn an_unbound_loop_of_run_is_claimed_only_by_the_session_its_supervisor_launched() {
        let mut run = loop_state(None);
        run.started_by = Some(StartedBy::Run);
        let id = run.loop_id.clone().unwrap();
        assert_eq!(judge(&run, "B", Some(&id)), Standing::Claim);
        assert_eq!(judge(&run, "B", None), Standing::OtherSession);
        assert_eq!(
            judge(&run, "B", Some("another-loop")),
            Standing::OtherSession
        );
        assert_eq!(judge(&run, "", Some(&id)), Standing::OtherSession);
        // Once bound, the marker changes nothing: the owner is the owner.
        run.session_id = Some("B".into());
        assert_eq!(judge(&run, "C", Some(&id)), Standing::OtherSession);
        assert_eq!(judge(&run, "B", None), Standing::Owner);
    }

    #[test]
    fn a_file_without_a_record_says_whether_it_is_the_bash_skills() {
        let mut legacy = loop_state(None);
        legacy.loop_id = None;
        assert_eq!(judge_unrecorded(&legacy), Untrusted::Legacy);
        assert_eq!(
            judge_unrecorded(&loop_state(Some("X"))),
            Untrusted::NoRecord
        );
    }

    #[test]
    fn each_workspace_and_host_has_its_own_loop_folder() {
        let registry = Registry::at(Path::new("/state"));
        let a = registry.loop_dir(Path::new("/w/proj"), Agent::Codex);
        assert_ne!(a, registry.loop_dir(Path::new("/w/proj/sub"), Agent::Codex));
        assert_ne!(a, registry.loop_dir(Path::new("/w/proj"), Agent::Claude));
        assert!(a.starts_with("/state/workspaces"));
        assert!(
            a.to_string_lossy().contains("codex-proj-"),
            "{}",
            a.display()
        );
    }

    #[test]
    fn a_record_aligns_its_states_identity() {
        let mut state = loop_state(Some("S"));
        state.workspace = Some("/elsewhere".into());
        state.agent = Some(Agent::Claude);
        let record = LoopRecord::new(state, Agent::Codex, Path::new("/w"));
        assert_eq!(record.state.workspace.as_deref(), Some(Path::new("/w")));
        assert_eq!(record.state.agent, Some(Agent::Codex));
        assert_eq!(record.state.loop_id.as_deref(), Some("L"));
    }

    #[test]
    fn loop_ids_differ_between_calls() {
        assert_ne!(new_loop_id(), new_loop_id());
        assert_eq!(new_loop_id().len(), 32);
    }

    #[test]
    fn a_loop_folder_name_keeps_only_portable_characters_of_the_workspace_name() {
        // The folder's name shows in `show` and `doctor` and is a path component: a
        // workspace named with dots, spaces, control characters or other scripts must not
        // carry them into the user's state folder.
        for (workspace, expected) in [
            ("/w/my.proj v2", "codex-my_proj_v2-"),
            ("/w/...", "codex-___-"),
            ("/w/a\nb\u{1b}[2K", "codex-a_b__2K-"),
            ("/w/ünï-cødé", "codex-_n_-c_d_-"),
        ] {
            let name = Registry::loop_dir_name(Path::new(workspace), Agent::Codex);
            assert!(name.starts_with(expected), "{workspace:?} → {name:?}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{workspace:?} → {name:?}"
            );
        }
        let long =
            Registry::loop_dir_name(Path::new(&format!("/w/{}", "x".repeat(100))), Agent::Claude);
        assert!(
            long.starts_with(&format!("claude-{}-", "x".repeat(32))),
            "{long}"
        );
        assert_eq!(long.len(), "claude-".len() + 32 + 1 + 16);
    }
}
