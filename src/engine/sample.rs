//! Sample loops for tests, benches and fuzz targets, compiled only for them (the
//! `testing` feature, which the crate's dev-dependency on itself turns on).

use std::time::SystemTime;

use crate::agent::Agent;
use crate::engine::settings::{LoopSettings, RawLoopFlags};
use crate::engine::state::{LoopState, Origin, StartedBy};

/// A loop as tests and benchmarks need one, built the way `start` builds it: the task
/// and flags go through [`LoopSettings::parse`], so a sample never holds a loop the
/// command line would refuse. One builder instead of a copy per test file; the binary
/// never uses it.
#[derive(Debug, Clone)]
pub struct SampleLoop {
    task: String,
    flags: RawLoopFlags,
    session: Option<String>,
    started_by: StartedBy,
    at: SystemTime,
}

impl Default for SampleLoop {
    /// "Fix the failing tests", default flags, bound to session `S`, started by the
    /// prompt hook in `/w` at the Unix epoch.
    fn default() -> Self {
        SampleLoop {
            task: "Fix the failing tests".into(),
            flags: RawLoopFlags::default(),
            session: Some("S".into()),
            started_by: StartedBy::PromptHook,
            at: std::time::UNIX_EPOCH,
        }
    }
}

impl SampleLoop {
    /// The task.
    #[must_use]
    pub fn task(mut self, task: &str) -> Self {
        self.task = task.into();
        self
    }

    /// Sets flags as the user would type them.
    #[must_use]
    pub fn flags(mut self, edit: impl FnOnce(&mut RawLoopFlags)) -> Self {
        edit(&mut self.flags);
        self
    }

    /// The session the loop is bound to (`None`: unbound, to be claimed).
    #[must_use]
    pub fn session(mut self, session: Option<&str>) -> Self {
        self.session = session.map(str::to_string);
        self
    }

    /// Which command started it.
    #[must_use]
    pub fn started_by(mut self, started_by: StartedBy) -> Self {
        self.started_by = started_by;
        self
    }

    /// When it started.
    #[must_use]
    pub fn at(mut self, at: SystemTime) -> Self {
        self.at = at;
        self
    }

    /// The loop.
    ///
    /// # Panics
    /// When the flags would be refused: a sample must be a loop `start` could make.
    pub fn build(self) -> LoopState {
        let settings = match LoopSettings::parse(&self.task, &self.flags) {
            Ok(settings) => settings,
            Err(err) => panic!("a sample loop's flags must parse: {err}"),
        };
        LoopState::new(
            &settings,
            Origin {
                loop_id: "L".into(),
                agent: Agent::Codex,
                session_id: self.session,
                workspace: "/w".into(),
                started_by: self.started_by,
            },
            self.at,
        )
    }
}
