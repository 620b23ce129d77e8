//! Trusting ralph-hook's handlers in Codex. Codex runs a user hook only when config.toml
//! holds `[hooks.state."<key>"] trusted_hash = "<hash>"` for it, and skips it silently
//! otherwise. Key and hash are Codex's to compute, so we ask `codex app-server`, record
//! its answer, and ask a fresh one to confirm.

use std::path::{Path, PathBuf};

use super::app_server::{self, AppServerError, ListedHook};
use super::command_line::ralph_hook_event;
use super::config_toml;
use super::inline_hooks;
use super::layout::Layout;
use super::plan::{self, Change, Plan};
use super::plugin;
use super::record::InstallRecord;
use crate::error::{Error, Result};
use crate::program;

/// How trusting went.
#[derive(Debug)]
pub(super) enum TrustOutcome {
    /// Neither hooks.json nor config.toml holds ralph-hook's handlers.
    NothingToTrust,
    /// Codex already trusted every handler.
    AlreadyTrusted(usize),
    /// This many handlers were trusted now, and Codex confirmed it.
    Trusted(usize),
    /// Codex could not be asked; the text says why.
    Unavailable(String),
    /// config.toml is read-only: the text says so and gives the entries to add by hand.
    ReadOnly(String),
}

/// Which of ralph-hook's handlers a trust step is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handlers {
    /// The ones `ralph-hook install` wrote into hooks.json.
    Installed,
    /// The ralph-hook plugin's (`ralph-hook@<marketplace>`).
    Plugin,
}

/// How to trust by hand, for when codex cannot be asked.
pub(super) fn manual_instructions(layout: &Layout) -> String {
    format!(
        "Codex runs a hook only after you trust it. Start `codex`, type /hooks and trust the two ralph-hook hooks; or put codex on PATH (or pass --codex-bin PATH) and run `ralph-hook install {}` again",
        layout.flags()
    )
}

/// The codex executable: `--codex-bin`, else `codex` from an absolute PATH entry (a
/// relative one would name a file in whatever folder `install` or `doctor` runs in).
pub(super) fn codex_bin(flag: Option<&Path>) -> PathBuf {
    flag.map_or_else(
        || program::find("codex").unwrap_or_else(|| PathBuf::from("codex")),
        Path::to_path_buf,
    )
}

/// ralph-hook's handlers as Codex lists them, and how many there should be (for
/// `Installed`, how many the file that holds them has — hooks.json, or config.toml when
/// they are inline; for `Plugin`, how many Codex lists).
pub(super) fn listed_handlers(
    layout: &Layout,
    codex: &Path,
    which: Handlers,
) -> Result<std::result::Result<(Vec<ListedHook>, usize), AppServerError>> {
    if which == Handlers::Plugin {
        return Ok(listed_plugin_handlers(layout, codex));
    }
    let (path, found) = inline_hooks::codex_handlers(layout)?;
    let expected = found.ours.len();
    if expected == 0 {
        return Ok(Ok((Vec::new(), 0)));
    }
    let (hooks, problems) = match app_server::list_hooks(codex, &layout.home, &layout.home) {
        Ok(answer) => answer,
        Err(err) => return Ok(Err(err)),
    };
    Ok(select_ours(&path, expected, &hooks, &problems))
}

/// Picks ralph-hook's handlers in `path` out of what `hooks/list` answered; fewer than
/// `expected` means Codex did not load them all, and the problems it reported say why.
pub(super) fn select_ours(
    path: &Path,
    expected: usize,
    hooks: &[ListedHook],
    problems: &[String],
) -> std::result::Result<(Vec<ListedHook>, usize), AppServerError> {
    let canonical = std::fs::canonicalize(path).ok();
    let ours: Vec<ListedHook> = hooks
        .iter()
        .filter(|hook| {
            hook.source_path
                .as_ref()
                .is_some_and(|source| source == path || Some(source) == canonical.as_ref())
                && hook.command.as_deref().and_then(ralph_hook_event).is_some()
        })
        .cloned()
        .collect();
    if ours.len() < expected {
        let mut reason = format!(
            "codex app-server listed {} of ralph-hook's {expected} handlers",
            ours.len()
        );
        if !problems.is_empty() {
            reason.push_str(&format!(" (it reported: {})", problems.join("; ")));
        }
        return Err(AppServerError::Failed(reason));
    }
    Ok((ours, expected))
}

/// The ralph-hook plugin's handlers as Codex lists them.
fn listed_plugin_handlers(
    layout: &Layout,
    codex: &Path,
) -> std::result::Result<(Vec<ListedHook>, usize), AppServerError> {
    let (hooks, problems) = app_server::list_hooks(codex, &layout.home, &layout.home)?;
    let ours: Vec<ListedHook> = hooks
        .into_iter()
        .filter(|hook| hook.plugin_id.as_deref().is_some_and(plugin::is_ours))
        .collect();
    if ours.is_empty() {
        let mut reason = "codex app-server lists no hooks of the ralph-hook plugin (is it installed and enabled? `codex plugin list`)".to_owned();
        if !problems.is_empty() {
            reason.push_str(&format!("; it reported: {}", problems.join("; ")));
        }
        return Err(AppServerError::Failed(reason));
    }
    let count = ours.len();
    Ok((ours, count))
}

/// The `trusted_hash` that makes Codex trust a listed hook. For a plugin's hook Codex
/// 0.169.0 lists `currentHash` as `sha256:<handler>/sha256:<plugin>`, and trusts the hook
/// when config.toml holds the first part; the whole string reads back as "modified"
/// (measured with `hooks/list`). A hook of hooks.json has a single hash.
fn trusted_hash_for(hook: &ListedHook, current: &str) -> String {
    match (&hook.plugin_id, current.split_once('/')) {
        (Some(_), Some((handler, _))) => handler.to_owned(),
        _ => current.to_owned(),
    }
}

/// The second phase of install for a Codex home, planned once the hooks are written:
/// either there is nothing to write (the outcome says why), or the trust entries to
/// write, which [`confirm`] checks with Codex once they are applied.
#[derive(Debug)]
pub(super) enum TrustStep {
    /// Nothing to write.
    Done(TrustOutcome),
    /// config.toml's trust entries and the install record's note of them.
    Write {
        /// The changes, applied like every other plan.
        plan: Plan,
        /// How many handlers they trust.
        count: usize,
    },
}

/// Plans trusting ralph-hook's handlers (install's, or the plugin's) in this Codex home,
/// from what a fresh `codex app-server` lists for the files as they are now.
pub(super) fn plan_trust(layout: &Layout, codex: &Path, which: Handlers) -> Result<TrustStep> {
    let (ours, expected) = match listed_handlers(layout, codex, which)? {
        Ok(found) => found,
        Err(err) => return Ok(TrustStep::Done(TrustOutcome::Unavailable(err.to_string()))),
    };
    if expected == 0 {
        return Ok(TrustStep::Done(TrustOutcome::NothingToTrust));
    }
    let mut wanted = Vec::new();
    for hook in &ours {
        if hook.trust_status.as_deref() == Some("trusted") {
            continue;
        }
        let Some(hash) = &hook.current_hash else {
            return Ok(TrustStep::Done(TrustOutcome::Unavailable(format!(
                "codex app-server gave no hash for {}",
                hook.key
            ))));
        };
        wanted.push((hook.key.clone(), trusted_hash_for(hook, hash)));
    }
    if wanted.is_empty() {
        return Ok(TrustStep::Done(TrustOutcome::AlreadyTrusted(ours.len())));
    }
    if let Err(err) = plan::check_file_writable(&layout.config_toml()) {
        let entries: Vec<String> = wanted
            .iter()
            .map(|(key, hash)| format!("[hooks.state.\"{key}\"]\ntrusted_hash = \"{hash}\""))
            .collect();
        return Ok(TrustStep::Done(TrustOutcome::ReadOnly(format!(
            "{err}\nCodex runs ralph-hook's hooks only once they are trusted; add these entries to config.toml (or its source):\n{}",
            entries.join("\n")
        ))));
    }
    Ok(TrustStep::Write {
        plan: plan_entries(layout, &wanted)?,
        count: wanted.len(),
    })
}

/// What `--dry-run` says of the trust phase: the files it writes. Their content waits for
/// the hooks above to be written, since Codex hashes the handlers as they are on disk.
pub(super) fn preview(layout: &Layout) -> Vec<String> {
    vec![
        format!(
            "{}: trust ralph-hook's handlers that Codex does not trust yet (the keys and hashes `codex app-server` lists once the hooks above are written)",
            layout.config_toml().display()
        ),
        format!(
            "{}: note the trust entries (what uninstall removes)",
            layout.record().display()
        ),
    ]
}

/// Asks a fresh `codex app-server` whether the `count` handlers just trusted are trusted.
pub(super) fn confirm(
    layout: &Layout,
    codex: &Path,
    which: Handlers,
    count: usize,
) -> Result<TrustOutcome> {
    match listed_handlers(layout, codex, which)? {
        Ok((confirmed, _))
            if confirmed
                .iter()
                .all(|hook| hook.trust_status.as_deref() == Some("trusted")) =>
        {
            Ok(TrustOutcome::Trusted(count))
        }
        Ok((confirmed, _)) => {
            let untrusted: Vec<String> = confirmed
                .iter()
                .filter(|hook| hook.trust_status.as_deref() != Some("trusted"))
                .map(|hook| {
                    format!(
                        "{} ({})",
                        hook.key,
                        hook.trust_status.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            Err(Error::Failed(format!(
                "wrote the trust entries, but codex still reports {} as not trusted; {}",
                untrusted.join(", "),
                manual_instructions(layout)
            )))
        }
        Err(err) => Err(Error::Failed(format!(
            "wrote the trust entries but could not confirm them: {err}"
        ))),
    }
}

/// Plans recording the keys and hashes in config.toml and in the install record. The
/// file gets a backup unless it is exactly as install left it: then the backup install
/// kept (or, for a file install created, the lack of one) already is the user's original.
fn plan_entries(layout: &Layout, wanted: &[(String, String)]) -> Result<Plan> {
    let path = layout.config_toml();
    let before = plan::read_text(&path)?;
    let text = before.as_deref().unwrap_or("");
    let mut doc = config_toml::parse(&path, text)?;
    let written = config_toml::trust(&mut doc, &path, wanted)?;
    let new_text = config_toml::render(&doc, text);
    let record_path = layout.record();
    let record_before = plan::read(&record_path, false)?;
    let mut record = InstallRecord::load(&record_path)?;
    let as_installed = record.is_as_installed("config.toml", before.as_deref());
    // A file that holds ralph-hook's handlers inline is no original to restore later.
    let clean = inline_hooks::find(&doc, &path)?.ours.is_empty();
    record.note_edit("config.toml", before.as_deref(), &new_text, clean);
    for entry in written {
        match record.trust.iter_mut().find(|known| known.key == entry.key) {
            Some(known) => known.hash = entry.hash,
            None => record.trust.push(entry),
        }
    }
    let mut plan = Plan::default();
    let change = Change::config_edit(
        path,
        before,
        Some(new_text),
        format!("trust ralph-hook's {} handler(s)", wanted.len()),
    );
    plan.push(if as_installed {
        change.without_backup()
    } else {
        change
    });
    plan.push(record.change(&record_path, record_before)?);
    Ok(plan)
}
