//! Token usage as the real clients write it to their transcripts (issue 13): the mock
//! reports a known usage per response, and `ralph_hook::testing::engine::usage` must read exactly that
//! back from the transcript the session wrote. This is what keeps the captured fixtures
//! in `tests/fixtures/hosts/` honest when a client version changes.
//!
//! `RALPH_E2E_CAPTURE=<dir>` copies each session's transcript there, to refresh the
//! fixtures after raising a client version.

use std::path::{Path, PathBuf};

use ralph_hook::testing::agent::Agent;
use ralph_hook::testing::engine::usage::{self, Cursor};

use super::clients::Client;
use super::mock::{Usage, text, text_then_command};
use super::world::World;

/// What the mock reports for every response: each part distinct, so a client that drops
/// or doubles one shows.
pub const USAGE: Usage = Usage {
    input: 900,
    cache_read: 300,
    cache_write: 200,
    output: 100,
    reasoning: 20,
};

/// Every `*.jsonl` file under `dir`, recursively.
pub(super) fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(jsonl_files(&path));
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    out
}

/// The session's transcript: Codex's rollout under `$CODEX_HOME/sessions`, Claude Code's
/// under `~/.claude/projects`.
fn transcript(world: &World) -> PathBuf {
    let dir = match world.client {
        Client::Codex => world.codex_home.join("sessions"),
        Client::Claude => world.claude_home.join("projects"),
    };
    let files = jsonl_files(&dir);
    assert_eq!(
        files.len(),
        1,
        "one transcript under {}: {files:?}",
        dir.display()
    );
    files.into_iter().next().unwrap_or_default()
}

/// Two responses — text and a command in one, then a final text — read back as exactly
/// twice the reported usage: each response once (Claude Code writes the first one as two
/// lines with one message id), every kind of token counted.
pub fn transcript_usage(client: Client, test: &str) {
    let script = vec![
        text_then_command("Looking at the workspace first.", "echo looked"),
        text("Looked. Nothing else to do."),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(USAGE);
    let agent = match client {
        Client::Codex => Agent::Codex,
        Client::Claude => Agent::Claude,
    };
    let run = world.run_agent("Look at the workspace and say what is there.");
    assert!(run.success(), "{} did not exit 0", run.label);
    assert_eq!(world.mock.turns().len(), 2, "model turns");
    let path = transcript(&world);
    if let Some(dir) = std::env::var_os("RALPH_E2E_CAPTURE").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir).join(format!("{}-{}", client.name(), client.version()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&path, dir.join(path.file_name().unwrap_or_default())).unwrap();
    }
    let per_response = USAGE.input + USAGE.cache_read + USAGE.cache_write + USAGE.output;
    let reading = usage::read(&path, agent, &Cursor::default()).unwrap();
    assert_eq!(
        reading.tokens,
        2 * per_response,
        "tokens read from {}",
        path.display()
    );
    // A loop that started now would count nothing of this session's past.
    let cursor = usage::start(&path, agent).unwrap();
    assert_eq!(usage::read(&path, agent, &cursor).unwrap().tokens, 0);
}
