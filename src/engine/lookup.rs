//! Finding a loop: the store of a workspace, the loop a command acts on, the loop a
//! hook's `cwd` belongs to. Nothing here writes; the changes are [`crate::engine::lifecycle`]'s
//! and the stop's ([`crate::engine::stop`]).

use std::path::Path;

use crate::agent::Agent;
use crate::engine::ownership::{self, LoopRecord, Registry};
use crate::engine::state::LoopState;
use crate::engine::store::{self, Located, Mirror, Store};
use crate::engine::workspace;
use crate::error::{Error, Result};

/// The store of `agent`'s loop in `workspace` (canonicalised), in the user's registry.
pub(crate) fn open_store(workspace: &Path, agent: Agent) -> Result<Store> {
    let registry = Registry::open().ok_or_else(no_registry)?;
    let workspace = workspace::canonical(workspace)
        .map_err(|err| Error::io("resolve the workspace", workspace, err))?;
    Ok(Store::new(&workspace, agent, &registry))
}

fn no_registry() -> Error {
    Error::Failed(format!(
        "no home folder to keep the user's loop records in; set {} to a folder outside your workspaces",
        ownership::STATE_DIR_ENV
    ))
}

/// The store of the user's record that a hook's `cwd` belongs to (see
/// [`store::locate`]); `None` when there is none: no state folder, nothing found, or a
/// state file without a record (never the user's loop). A hook's common case ends here.
pub(crate) fn record_at(cwd: &Path, agent: Agent) -> Option<Store> {
    if cwd.as_os_str().is_empty() {
        return None;
    }
    match store::locate(cwd, agent, &Registry::open()?)? {
        Located::Record(store) => Some(store),
        Located::Mirror(_) => None,
    }
}

/// The loop found for a command: the store, the user's record, and what is at the
/// mirror's place.
#[derive(Debug)]
pub(crate) struct Found {
    pub store: Store,
    /// The user's record (None: no loop of theirs; perhaps a history).
    pub record: Option<LoopRecord>,
    /// The workspace's state file.
    pub mirror: Mirror,
}

/// How the workspace's state file compares with the user's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MirrorCheck {
    /// It shows the record.
    Same,
    /// It is gone (the record still runs).
    Missing,
    /// It was edited: these fields differ from the record (which is what runs).
    Edited(Vec<String>),
    /// Something unreadable is there.
    Unusable(String),
}

impl Found {
    /// The loop's state as `show` presents it: the record's, else the file's.
    pub(crate) fn state(&self) -> Option<&LoopState> {
        match (&self.record, &self.mirror) {
            (Some(record), _) => Some(&record.state),
            (None, Mirror::Found(state)) => Some(state),
            (None, Mirror::Missing | Mirror::Unusable(_)) => None,
        }
    }

    /// Compares the state file with the record (`None` without a record).
    pub(crate) fn mirror_check(&self) -> Option<MirrorCheck> {
        let record = self.record.as_ref()?;
        Some(match &self.mirror {
            Mirror::Missing => MirrorCheck::Missing,
            Mirror::Unusable(why) => MirrorCheck::Unusable(why.clone()),
            Mirror::Found(mirror) => {
                let ours = serde_json::to_value(&record.state).unwrap_or_default();
                let theirs = serde_json::to_value(mirror.as_ref()).unwrap_or_default();
                let empty = serde_json::Map::new();
                let (ours, theirs) = (
                    ours.as_object().unwrap_or(&empty),
                    theirs.as_object().unwrap_or(&empty),
                );
                let mut fields: Vec<String> = ours
                    .keys()
                    .chain(theirs.keys())
                    .filter(|key| ours.get(*key) != theirs.get(*key))
                    .cloned()
                    .collect();
                fields.sort();
                fields.dedup();
                if fields.is_empty() {
                    MirrorCheck::Same
                } else {
                    MirrorCheck::Edited(fields)
                }
            }
        })
    }
}

/// Finds the loop of `workspace`: for `agent` if given, else whichever host has a
/// record there (Codex first), else a state file, else a history.
pub(crate) fn find(workspace: &Path, agent: Option<Agent>) -> Result<Found> {
    let registry = Registry::open().ok_or_else(no_registry)?;
    let workspace = workspace::canonical(workspace)
        .map_err(|err| Error::io("resolve the workspace", workspace, err))?;
    let agents: Vec<Agent> = match agent {
        Some(agent) => vec![agent],
        None => Agent::ALL.to_vec(),
    };
    let stores: Vec<Store> = agents
        .iter()
        .map(|a| Store::new(&workspace, *a, &registry))
        .collect();
    let chosen = stores
        .iter()
        .find(|s| s.has_record())
        .or_else(|| stores.iter().find(|s| s.has_mirror()))
        .or_else(|| stores.iter().find(|s| s.history_path().exists()))
        .unwrap_or(&stores[0])
        .clone();
    let record = chosen.read_record()?;
    let mirror = chosen.read_mirror();
    Ok(Found {
        store: chosen,
        record,
        mirror,
    })
}
