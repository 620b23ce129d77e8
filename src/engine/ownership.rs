//! Trust: whose stops a loop may steer.
//!
//! The hooks run in every repository the user opens, so a state file that arrived with a
//! clone must not steer the agent. Every loop this user starts is recorded under the
//! user's own state folder (outside any repository); a state file is obeyed only by its
//! own session, or — for a loop started from a plain terminal — by the first session
//! that stops in its workspace while that record says nobody has claimed it yet.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::engine::digest;
use crate::engine::state::LoopState;
use crate::error::{Error, Result};

/// Environment variable that overrides the user's state folder (tests use a temp home).
pub const STATE_DIR_ENV: &str = "RALPH_HOOK_STATE_DIR";

/// The user's own record of a loop they started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopRecord {
    /// The loop's id, as in its state file.
    pub loop_id: String,
    /// The workspace it was started in.
    pub workspace: PathBuf,
    /// The host.
    pub agent: Agent,
    /// The session bound at start, if any.
    #[serde(default)]
    pub session_id: Option<String>,
    /// When it was started.
    pub created_at: String,
}

/// How a stop stands toward the loop it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// This session's loop: decide.
    Owner,
    /// A loop this user started without a session: this session claims it, then decides.
    Claim,
    /// Another of this user's sessions owns the loop: allow, say nothing.
    OtherSession,
    /// Nobody this user trusts started it: allow, and say how to adopt it.
    Untrusted(&'static str),
}

/// Judges a stop by `session` on `state`, given the user's record of the loop (if any).
pub fn judge(state: &LoopState, session: &str, record: Option<&LoopRecord>) -> Standing {
    let Some(loop_id) = state.loop_id.as_deref() else {
        return Standing::Untrusted(
            "it was written by the old bash skill or another tool, not started by this user's ralph-hook",
        );
    };
    let record = record.filter(|record| record.loop_id == loop_id);
    match (state.session_id.as_deref(), record) {
        (Some(owner), _) if owner == session => Standing::Owner,
        (Some(_), Some(_)) => Standing::OtherSession,
        (None, Some(record)) if record.session_id.is_none() => Standing::Claim,
        (None, Some(_)) => {
            Standing::Untrusted("its session binding was removed from the state file")
        }
        (Some(_), None) => Standing::Untrusted(
            "it is bound to a session this user's ralph-hook never started (was it copied or committed here?)",
        ),
        (None, None) => {
            Standing::Untrusted("this user never started it (was it copied or committed here?)")
        }
    }
}

/// How a stop of some other session would stand toward `state`, judged with this user's
/// records: trusted (bound, or waiting to be claimed) or not. For `show` and `doctor`.
pub fn judge_from_outside(state: &LoopState) -> Standing {
    let record = state
        .loop_id
        .as_deref()
        .and_then(|id| Registry::open().and_then(|registry| registry.get(id)));
    judge(state, "\u{0}", record.as_ref())
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

/// The records of loops this user started.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// The registry in the user's state folder.
    pub fn open() -> Option<Self> {
        user_state_dir().map(|dir| Registry { dir })
    }

    /// A registry in `dir` (tests).
    pub fn at(dir: &Path) -> Self {
        Registry {
            dir: dir.to_path_buf(),
        }
    }

    fn record_path(&self, loop_id: &str) -> PathBuf {
        self.dir
            .join("loops")
            .join(format!("{}.json", sanitize(loop_id)))
    }

    /// The record of `loop_id`, if this user has one.
    pub fn get(&self, loop_id: &str) -> Option<LoopRecord> {
        let text = std::fs::read_to_string(self.record_path(loop_id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records a loop this user started.
    pub fn put(&self, record: &LoopRecord) -> Result<()> {
        let path = self.record_path(&record.loop_id);
        let dir = self.dir.join("loops");
        std::fs::create_dir_all(&dir)
            .map_err(|err| Error::io("create the user's loop registry", &dir, err))?;
        let text = serde_json::to_string_pretty(record)
            .map_err(|err| Error::Failed(format!("could not encode a loop record: {err}")))?;
        std::fs::write(&path, text).map_err(|err| Error::io("record the loop", &path, err))
    }

    /// Forgets a finished loop.
    pub fn remove(&self, loop_id: &str) {
        let _ = std::fs::remove_file(self.record_path(loop_id));
    }

    /// Records that the adopt hint was shown for this file, and says whether it was new.
    pub fn first_hint(&self, state_path: &Path, state: &LoopState) -> bool {
        let key = format!(
            "{}\n{}\n{}",
            state_path.display(),
            state.created_at,
            state.prompt
        );
        let path = self.dir.join("hinted").join(digest::hex(key.as_bytes()));
        if path.exists() {
            return false;
        }
        let _ = std::fs::create_dir_all(self.dir.join("hinted"));
        let _ = std::fs::write(&path, state_path.display().to_string());
        true
    }
}

fn sanitize(loop_id: &str) -> String {
    loop_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A fresh random loop id (not a secret: it only has to be unguessable for a file
/// planted in a repository ahead of time).
pub fn new_loop_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        hasher.write_u32(std::process::id());
        hasher.write_usize(i);
        *part = hasher.finish();
    }
    format!("{:016x}{:016x}", parts[0], parts[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::settings::{LoopSettings, RawLoopFlags};
    use crate::engine::state::{Origin, StartedBy};

    fn loop_state(session: Option<&str>) -> LoopState {
        let settings = LoopSettings::parse("task", &RawLoopFlags::default()).unwrap();
        LoopState::new(
            &settings,
            Origin {
                loop_id: "L1".into(),
                agent: Agent::Codex,
                session_id: session.map(str::to_string),
                workspace: "/w".into(),
                started_by: StartedBy::Start,
            },
            std::time::UNIX_EPOCH,
        )
    }

    fn record(session: Option<&str>) -> LoopRecord {
        LoopRecord {
            loop_id: "L1".into(),
            workspace: "/w".into(),
            agent: Agent::Codex,
            session_id: session.map(str::to_string),
            created_at: String::new(),
        }
    }

    #[test]
    fn the_bound_session_owns_its_loop_even_without_a_record() {
        assert_eq!(judge(&loop_state(Some("A")), "A", None), Standing::Owner);
    }

    #[test]
    fn another_session_of_the_same_user_is_left_alone() {
        let standing = judge(&loop_state(Some("A")), "B", Some(&record(Some("A"))));
        assert_eq!(standing, Standing::OtherSession);
    }

    #[test]
    fn an_unbound_loop_this_user_started_is_claimed_by_the_first_session() {
        assert_eq!(
            judge(&loop_state(None), "B", Some(&record(None))),
            Standing::Claim
        );
    }

    #[test]
    fn a_planted_file_is_not_trusted() {
        assert!(matches!(
            judge(&loop_state(None), "B", None),
            Standing::Untrusted(_)
        ));
        assert!(matches!(
            judge(&loop_state(Some("X")), "B", None),
            Standing::Untrusted(_)
        ));
        let mut legacy = loop_state(None);
        legacy.loop_id = None;
        assert!(matches!(
            judge(&legacy, "B", Some(&record(None))),
            Standing::Untrusted(_)
        ));
    }

    #[test]
    fn loop_ids_differ_between_calls() {
        assert_ne!(new_loop_id(), new_loop_id());
        assert_eq!(new_loop_id().len(), 32);
    }
}
