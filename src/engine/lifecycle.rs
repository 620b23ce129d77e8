//! Starting, cancelling, pausing and adopting a loop: the changes a person (or the
//! prompt hook on their behalf) makes, shared by the prompt hook and the commands.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::agent::Agent;
use crate::clock;
use crate::engine::decide::{self, Outcome};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::once::EventRun;
use crate::engine::ownership::{self, LoopRecord, Registry, Standing};
use crate::engine::settings::LoopSettings;
use crate::engine::state::{LoopState, Origin, STATE_VERSION, StartedBy};
use crate::engine::store::{HistoryEntry, LoadError, Store};
use crate::engine::workspace;
use crate::error::{Error, Result};

/// What to do when a loop is already active where a new one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Refuse (`start` without `--force`).
    Never,
    /// Replace it (`start --force`).
    Always,
    /// Replace a loop of `session` (the user re-issued `$ralph-loop` in the same
    /// session) or one nobody trusts; refuse another live session's loop.
    SameSession,
}

/// A loop that was started.
#[derive(Debug)]
pub struct Started {
    /// Its state as written.
    pub state: LoopState,
    /// Where it was written.
    pub state_path: PathBuf,
    /// Where an older state file was moved, if one was in the way.
    pub set_aside: Option<PathBuf>,
    /// A loop of the same session that this one replaced.
    pub replaced: bool,
    /// Things the user should know (no registry record …).
    pub warnings: Vec<String>,
    /// The other installation of ralph-hook already started this loop for the same
    /// prompt (plugin and `install` both in place): nothing new was started.
    pub again: bool,
}

/// Starts a loop in `store` bound to `session` (if known). `event` is the prompt hook's
/// run for the user's prompt: a second run for the same prompt keeps the loop the first
/// one started.
pub fn begin(
    store: &Store,
    settings: &LoopSettings,
    session: Option<String>,
    started_by: StartedBy,
    replace: Replace,
    event: Option<&EventRun>,
    now: SystemTime,
) -> Result<Started> {
    store.ensure_dir().map_err(sandbox_hint)?;
    let _guard = store.lock().map_err(sandbox_hint)?;
    store.sweep_stale_temp_files();
    let registry = Registry::open();
    let mut set_aside = None;
    let mut replaced = false;
    match store.load() {
        Ok(None) => {}
        Ok(Some(mut existing)) => {
            if let Some(run) = event
                && existing.active
                && existing.session_id.is_some()
                && existing.session_id == session
                && run.seen_again(&mut existing.handled)
            {
                store.save(&existing).map_err(sandbox_hint)?;
                return Ok(Started {
                    state: existing,
                    state_path: store.state_path().to_path_buf(),
                    set_aside: None,
                    replaced: false,
                    warnings: Vec::new(),
                    again: true,
                });
            }
            let record = existing
                .loop_id
                .as_deref()
                .and_then(|id| registry.as_ref().and_then(|r| r.get(id)));
            let standing =
                ownership::judge(&existing, session.as_deref().unwrap_or(""), record.as_ref());
            let trusted = !matches!(standing, Standing::Untrusted(_));
            let allowed = match replace {
                Replace::Always => true,
                Replace::Never => !existing.active,
                Replace::SameSession => {
                    // Only a live loop of another session stands in the way; this
                    // session's own, an unclaimed one the user started, or an untrusted
                    // file (set aside below) give way to the user's new prompt.
                    !existing.active || standing != Standing::OtherSession
                }
            };
            if !allowed {
                return Err(Error::Failed(format!(
                    "a loop is already active in {} ({}, iteration {}, started {}){}; {}",
                    store.workspace().display(),
                    existing
                        .session_id
                        .as_deref()
                        .map(|s| format!("session {s}"))
                        .unwrap_or_else(|| "no session yet".into()),
                    crate::engine::render::iteration_label(&existing),
                    existing.created_at,
                    match replace {
                        Replace::SameSession => " in another session",
                        Replace::Never | Replace::Always => "",
                    },
                    match replace {
                        Replace::Never =>
                            "replace it with --force, or end it with `ralph-hook cancel`".into(),
                        Replace::SameSession | Replace::Always => format!(
                            "end it first with `{} cancel` (or `ralph-hook cancel`)",
                            store.agent().loop_command()
                        ),
                    }
                )));
            }
            if trusted && existing.loop_id.is_some() {
                let last = decide::finish_now(&existing, Outcome::Cancelled, now);
                append(
                    store,
                    &HistoryEntry::about(&last, "start", "finish", now).reason("replaced"),
                );
                if let (Some(registry), Some(id)) = (registry.as_ref(), existing.loop_id.as_deref())
                {
                    registry.remove(id);
                }
                replaced = true;
            } else {
                set_aside = Some(store.set_aside("replaced", now)?);
            }
        }
        Err(LoadError::Unusable(_)) => set_aside = Some(store.set_aside("corrupt", now)?),
        Err(LoadError::Io(err)) => return Err(sandbox_hint(err)),
    }

    let origin = Origin {
        loop_id: ownership::new_loop_id(),
        agent: store.agent(),
        session_id: session,
        workspace: store.workspace().to_path_buf(),
        started_by,
    };
    let mut state = LoopState::new(settings, origin, now);
    if let Some(run) = event {
        run.seen_again(&mut state.handled);
    }
    if state.no_progress > 0
        && let Some(look) = Fingerprint::take(store.workspace())
    {
        state.progress.remember_workspace(&look);
    }
    store.save(&state).map_err(sandbox_hint)?;
    let mut warnings = Vec::new();
    record(&state, registry.as_ref(), &mut warnings);
    append(store, &HistoryEntry::about(&state, "start", "start", now));
    Ok(Started {
        state,
        state_path: store.state_path().to_path_buf(),
        set_aside,
        replaced,
        warnings,
        again: false,
    })
}

/// Records the loop in the user's registry; without a record an unbound loop could never
/// be claimed, so that case is an error worth a warning.
fn record(state: &LoopState, registry: Option<&Registry>, warnings: &mut Vec<String>) {
    let Some(loop_id) = state.loop_id.clone() else {
        return;
    };
    let record = LoopRecord {
        loop_id,
        workspace: state.workspace.clone().unwrap_or_default(),
        agent: state.agent.unwrap_or(Agent::Codex),
        session_id: state.session_id.clone(),
        created_at: state.created_at.clone(),
    };
    let result = match registry {
        Some(registry) => registry.put(&record),
        None => Err(Error::Failed(
            "no home folder to keep the user's loop records in".into(),
        )),
    };
    if let Err(err) = result {
        warnings.push(match state.session_id {
            Some(_) => format!("{err} (the loop is bound to its session and works without it)"),
            None => format!(
                "{err}: no session will follow this unbound loop; start it from inside the agent, or set {}",
                ownership::STATE_DIR_ENV
            ),
        });
    }
}

/// The loop found for a command: the store it lives in and the state.
#[derive(Debug)]
pub struct Found {
    /// Where.
    pub store: Store,
    /// What (None: no state file, only perhaps a history).
    pub state: Option<LoopState>,
}

/// Finds the loop of `workspace`: for `agent` if given, else whichever host has one
/// (Codex first), else the first with a history.
pub fn find(workspace: &Path, agent: Option<Agent>) -> Result<Found> {
    let agents: Vec<Agent> = match agent {
        Some(agent) => vec![agent],
        None => Agent::ALL.to_vec(),
    };
    let stores: Vec<Store> = agents.iter().map(|a| Store::new(workspace, *a)).collect();
    let chosen = stores
        .iter()
        .find(|s| s.exists())
        .or_else(|| stores.iter().find(|s| s.history_path().exists()))
        .unwrap_or(&stores[0])
        .clone();
    let state = match chosen.load() {
        Ok(state) => state,
        Err(LoadError::Io(err)) => return Err(err),
        Err(LoadError::Unusable(why)) => {
            return Err(Error::input(
                chosen.state_path().display().to_string(),
                format!("{why}; move it away or fix it, then retry"),
            ));
        }
    };
    Ok(Found {
        store: chosen,
        state,
    })
}

/// What a cancel did.
#[derive(Debug)]
pub enum Cancelled {
    /// The state file was removed; this was the loop.
    Removed(LoopState),
    /// The state folder is read-only here (the agent's sandbox): a request was left in
    /// the workspace root for the next stop to carry out.
    Requested(LoopState, PathBuf),
}

/// Cancels the loop in `store`.
pub fn cancel(store: &Store, now: SystemTime) -> Result<Cancelled> {
    let state = match store.load() {
        Ok(Some(state)) => state,
        Ok(None) => {
            return Err(Error::Failed(format!(
                "no loop to cancel in {}",
                store.workspace().display()
            )));
        }
        Err(LoadError::Unusable(why)) => {
            return Err(Error::input(
                store.state_path().display().to_string(),
                format!("{why}; move it away to end the loop"),
            ));
        }
        Err(LoadError::Io(err)) => return Err(err),
    };
    let locked = store.lock();
    let removal = locked
        .as_ref()
        .map_err(|_| ())
        .and_then(|_| store.remove().map_err(|_| ()));
    match removal {
        Ok(()) => {
            let last = decide::finish_now(&state, Outcome::Cancelled, now);
            if let (Some(registry), Some(id)) = (Registry::open(), state.loop_id.as_deref()) {
                registry.remove(id);
            }
            append(
                store,
                &HistoryEntry::about(&last, "cancel", "finish", now)
                    .reason(Outcome::Cancelled.code()),
            );
            Ok(Cancelled::Removed(state))
        }
        Err(()) => {
            let path = workspace::cancel_request_path(store.workspace());
            let id = state.loop_id.clone().ok_or_else(|| {
                Error::Failed(format!(
                    "cannot remove {} here and it has no loop id to request a cancel for; run `ralph-hook cancel` from a terminal",
                    store.state_path().display()
                ))
            })?;
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|err| Error::io("leave a cancel request", &path, err))?;
            Ok(Cancelled::Requested(state, path))
        }
    }
}

/// Pauses (`true`) or resumes (`false`) the loop in `store`, returning it.
pub fn set_paused(store: &Store, paused: bool, now: SystemTime) -> Result<LoopState> {
    let _guard = store.lock().map_err(sandbox_hint)?;
    let mut state = load_existing(store)?;
    if state.paused == paused {
        return Err(Error::Failed(format!(
            "the loop in {} is already {}",
            store.workspace().display(),
            if paused { "paused" } else { "running" }
        )));
    }
    state.paused = paused;
    state.updated_at = clock::format(now);
    store.save(&state).map_err(sandbox_hint)?;
    let event = if paused { "pause" } else { "resume" };
    append(store, &HistoryEntry::about(&state, event, event, now));
    Ok(state)
}

/// Makes a state file this user did not start a working loop of theirs: upgraded to
/// version 2, unbound, and recorded so the next session that stops here claims it.
pub fn adopt(store: &Store, now: SystemTime) -> Result<LoopState> {
    let _guard = store.lock().map_err(sandbox_hint)?;
    let mut state = load_existing(store)?;
    let registry = Registry::open()
        .ok_or_else(|| Error::Failed("no home folder to keep the user's loop records in".into()))?;
    if let Some(id) = state.loop_id.as_deref()
        && registry.get(id).is_some()
    {
        return Err(Error::Failed(format!(
            "the loop in {} is already yours; nothing to adopt",
            store.workspace().display()
        )));
    }
    state.loop_id = Some(ownership::new_loop_id());
    state.state_version = STATE_VERSION;
    state.agent = Some(store.agent());
    state.session_id = None;
    state.workspace = Some(store.workspace().to_path_buf());
    state.started_by = Some(StartedBy::Adopt);
    state.active = true;
    state.paused = false;
    state.updated_at = clock::format(now);
    if state.created_at.is_empty() || clock::parse(&state.created_at).is_none() {
        state.created_at = state.updated_at.clone();
    }
    store.save(&state).map_err(sandbox_hint)?;
    let mut warnings = Vec::new();
    record(&state, Some(&registry), &mut warnings);
    if let Some(warning) = warnings.pop() {
        return Err(Error::Failed(warning));
    }
    append(store, &HistoryEntry::about(&state, "adopt", "adopt", now));
    Ok(state)
}

fn load_existing(store: &Store) -> Result<LoopState> {
    match store.load() {
        Ok(Some(state)) => Ok(state),
        Ok(None) => Err(Error::Failed(format!(
            "no loop in {}",
            store.workspace().display()
        ))),
        Err(LoadError::Unusable(why)) => {
            Err(Error::input(store.state_path().display().to_string(), why))
        }
        Err(LoadError::Io(err)) => Err(err),
    }
}

/// Turns a refused write into the error that explains the agent's sandbox.
pub fn sandbox_hint(err: Error) -> Error {
    let refused = match &err {
        Error::Io { source, .. } => {
            matches!(
                source.kind(),
                io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
            ) || source.raw_os_error() == Some(30)
        }
        Error::Usage(_) | Error::Input { .. } | Error::Failed(_) => false,
    };
    if refused {
        err.with_hint(
            "inside the agent's sandbox the loop folder is read-only: loops are started by the prompt hook — write `$ralph-loop TASK` (Claude Code: `/ralph-loop TASK`) as your prompt — and `ralph-hook show` tells whether one runs",
        )
    } else {
        err
    }
}

fn append(store: &Store, entry: &HistoryEntry) {
    if let Err(err) = store.append_history(entry) {
        crate::messages::warn(err);
    }
}
