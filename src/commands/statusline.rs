//! `ralph-hook statusline`: one short line about the current workspace's loop, for
//! Claude Code's status line, a shell prompt or a multiplexer's status bar
//! (`ralph 3/20 · 41k/2M tok · 12m`, `ralph blocked: need the API key`, nothing when
//! there is no loop).
//!
//! It runs on every prompt, so it does the least work that answers: it reads the
//! loop's record and nothing else (never git, never the transcript, never the history),
//! and `run` dispatches it before the command line is parsed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::agent::Agent;
use crate::clock;
use crate::engine::files::Dir;
use crate::engine::ownership::{LoopRecord, Registry};
use crate::engine::prices::money;
use crate::engine::render::{printable, token_count};
use crate::engine::store::RECORD_FILE;
use crate::engine::workspace;

/// The most of stdin read: Claude Code's status JSON is a few hundred bytes.
const STDIN_CAP: usize = 64 * 1024;
/// How long stdin may stay silent before the line is made without it: a shell prompt
/// may leave stdin on a pipe nobody writes to.
const STDIN_WAIT: Duration = Duration::from_millis(200);
/// The largest record read.
const RECORD_CAP: u64 = 16 * 1024 * 1024;
/// The longest blocked reason shown, in characters.
const REASON_WIDTH: usize = 60;

/// `ralph-hook statusline [--workspace DIR]`: prints the line (or nothing) and exits 0;
/// a status line never fails loudly.
pub(crate) fn statusline(workspace: Option<&Path>) -> i32 {
    let dir = match workspace {
        Some(dir) => Some(dir.to_path_buf()),
        None => stdin_json().and_then(|json| dir_from_json(&json)),
    };
    let Some(dir) = dir.or_else(|| std::env::current_dir().ok()) else {
        return 0;
    };
    if let Some(line) = line_for(&dir, clock::now()) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
    0
}

/// The line for the loop whose workspace holds `dir`, at `now`; `None` without a loop.
pub(crate) fn line_for(dir: &Path, now: SystemTime) -> Option<String> {
    let registry = Registry::open()?;
    line_in(&registry, dir, now)
}

/// [`line_for`] in `registry`.
pub(crate) fn line_in(registry: &Registry, dir: &Path, now: SystemTime) -> Option<String> {
    let root = workspace::root_of(&workspace::canonical(dir).ok()?);
    let record = Agent::ALL
        .into_iter()
        .filter_map(|agent| read_record(registry, &root, agent))
        .max_by(|a, b| a.state.updated_at.cmp(&b.state.updated_at))?;
    (record.workspace == root && record.state.active).then(|| render_line(&record, now))
}

fn read_record(registry: &Registry, root: &Path, agent: Agent) -> Option<LoopRecord> {
    let folder = Dir::open(&registry.loop_dir(root, agent)).ok()?;
    let bytes = folder.read(RECORD_FILE, RECORD_CAP).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// The line for one record: the blocked reason when the agent is blocked, else the
/// iteration, tokens and elapsed time.
pub(crate) fn render_line(record: &LoopRecord, now: SystemTime) -> String {
    let state = &record.state;
    if let Some(reason) = &state.blocked {
        let reason: String = printable(reason.trim())
            .chars()
            .take(REASON_WIDTH)
            .collect();
        return format!("ralph blocked: {reason}");
    }
    let mut parts = vec![if state.max_iterations == 0 {
        format!("ralph {}", state.iteration)
    } else {
        format!("ralph {}/{}", state.iteration, state.max_iterations)
    }];
    if state.paused {
        parts[0].push_str(" paused");
    }
    match state.max_tokens {
        Some(budget) => parts.push(format!(
            "{}/{} tok",
            token_count(state.tokens_used),
            token_count(budget)
        )),
        None if state.tokens_used > 0 => {
            parts.push(format!("{} tok", token_count(state.tokens_used)));
        }
        None => {}
    }
    if let Some(budget) = state.max_cost_nanos {
        parts.push(format!("{}/{}", money(state.cost_nanos), money(budget)));
    }
    parts.push(short_duration(state.elapsed(now)));
    parts.join(" · ")
}

/// A duration in its largest unit only: `45s`, `12m`, `3h`, `2d`.
fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// The folder Claude Code's statusLine JSON names: `workspace.current_dir`, else `cwd`.
pub(crate) fn dir_from_json(json: &[u8]) -> Option<PathBuf> {
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    value
        .pointer("/workspace/current_dir")
        .or_else(|| value.get("cwd"))
        .and_then(serde_json::Value::as_str)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// What stdin holds, read up to [`STDIN_CAP`] and for at most [`STDIN_WAIT`]; `None`
/// when stdin is a terminal (a person at a prompt types nothing for us) or empty.
fn stdin_json() -> Option<Vec<u8>> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return None;
    }
    let deadline = Instant::now() + STDIN_WAIT;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut lock = stdin.lock();
    while out.len() < STDIN_CAP {
        if !readable_before(deadline) {
            break;
        }
        match lock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether stdin has something to read (or its end) before `deadline`.
#[cfg(unix)]
fn readable_before(deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, its count 1.
    let ready = unsafe { libc::poll(&raw mut fd, 1, millis) };
    ready > 0
}

/// Without poll, stdin is read as it comes (a Windows console is never piped here).
#[cfg(not(unix))]
fn readable_before(_deadline: Instant) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::SampleLoop;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn the_line_says_iteration_tokens_and_elapsed() {
        let mut state = SampleLoop::default().task("t").at(at(0)).build();
        state.iteration = 3;
        state.max_iterations = 20;
        state.tokens_used = 41_000;
        state.max_tokens = Some(2_000_000);
        let record = LoopRecord::new(state, Agent::Claude, Path::new("/w"));
        assert_eq!(
            render_line(&record, at(12 * 60 + 5)),
            "ralph 3/20 · 41k/2M tok · 12m"
        );
    }

    #[test]
    fn a_money_budget_shows_the_spend_and_the_budget() {
        let mut state = SampleLoop::default().task("t").at(at(0)).build();
        state.iteration = 2;
        state.max_iterations = 20;
        state.cost_nanos = 1_250_000_000;
        state.max_cost_nanos = Some(5_000_000_000);
        let record = LoopRecord::new(state, Agent::Codex, Path::new("/w"));
        assert_eq!(
            render_line(&record, at(90)),
            "ralph 2/20 · $1.25/$5.00 · 1m"
        );
    }

    #[test]
    fn a_blocked_loop_says_why_escaped_and_short() {
        let mut state = SampleLoop::default().task("t").at(at(0)).build();
        state.blocked = Some(format!("need the API key\x1b[31m{}", "x".repeat(200)));
        let record = LoopRecord::new(state, Agent::Codex, Path::new("/w"));
        let line = render_line(&record, at(1));
        assert!(
            line.starts_with("ralph blocked: need the API key"),
            "{line}"
        );
        assert!(!line.contains('\x1b'), "{line}");
        assert!(line.chars().count() <= "ralph blocked: ".len() + REASON_WIDTH);
    }

    #[test]
    fn claude_code_json_names_the_folder() {
        let json = br#"{"cwd":"/a","workspace":{"current_dir":"/b","project_dir":"/c"}}"#;
        assert_eq!(dir_from_json(json), Some(PathBuf::from("/b")));
        assert_eq!(dir_from_json(br#"{"cwd":"/a"}"#), Some(PathBuf::from("/a")));
        assert_eq!(dir_from_json(b"not json"), None);
    }
}
