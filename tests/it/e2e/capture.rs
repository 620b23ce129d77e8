//! Captures the hook payloads a real client sends, for `tests/fixtures/hosts/<client>-<version>/`:
//! a loop that blocks once and completes, a stop with background work (Claude Code), an
//! API error (Claude Code's StopFailure) and the session's end. Run by hand:
//!
//!   RALPH_E2E_CAPTURE_DIR=/tmp/cap cargo test --test it -- --ignored e2e::capture
//!
//! Each payload lands in `<dir>/<client>-<version>/<event>.<n>.json`, beside ralph-hook's
//! own handlers (which still run the loop).

use std::path::Path;

use serde_json::{Value, json};

use super::clients::Client;
use super::mock::{api_error, background, text};
use super::scenarios::{CONTINUE, PROMISE, loop_prompt, q};
use super::world::World;

const EVENTS: [&str; 4] = ["UserPromptSubmit", "Stop", "SessionEnd", "StopFailure"];

fn capture_handlers(root: &mut Value, dir: &Path) {
    for event in EVENTS {
        let command = format!(
            "cat > \"$(mktemp {}/{}.XXXXXX)\"",
            q(dir),
            event.to_ascii_lowercase()
        );
        let groups = root["hooks"][event].as_array().cloned().unwrap_or_default();
        let mut groups = groups;
        groups.push(json!({"hooks": [{"type": "command", "command": command, "timeout": 10}]}));
        root["hooks"][event] = Value::Array(groups);
    }
}

fn trust_every_hook(world: &World) {
    let path = world.codex_home.join("config.toml");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    for hook in super::codex::hooks(world) {
        let (Some(key), Some(hash)) = (hook["key"].as_str(), hook["currentHash"].as_str()) else {
            continue;
        };
        doc["hooks"]["state"][key]["trusted_hash"] = toml_edit::value(hash);
    }
    std::fs::write(&path, doc.to_string()).unwrap();
}

fn capture(client: Client) {
    let Some(base) = std::env::var_os("RALPH_E2E_CAPTURE_DIR") else {
        panic!("set RALPH_E2E_CAPTURE_DIR to the folder the payloads go to");
    };
    let dir = Path::new(&base).join(format!("{}-{}", client.name(), client.version()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = vec![
        text(format!("First pass. {CONTINUE}")),
        background("sleep 2; echo done > job.txt"),
        text(format!("The job runs in the background. {CONTINUE}")),
        text(format!("The job finished. {CONTINUE}")),
        text(format!("All done.\n{PROMISE}")),
        text(format!("Second loop, first pass. {CONTINUE}")),
        api_error(429, "rate_limit_error"),
    ];
    let world = World::setup(client, "capture", script).expect("the client is installed");
    let settings = match client {
        Client::Codex => world.codex_home.join("hooks.json"),
        Client::Claude => world.claude_home.join("settings.json"),
    };
    let mut root: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    capture_handlers(&mut root, &dir);
    std::fs::write(&settings, serde_json::to_string_pretty(&root).unwrap()).unwrap();
    if client == Client::Codex {
        trust_every_hook(&world);
    }
    world.set_env("CLAUDE_CODE_MAX_RETRIES", "0");
    let first = world.run_agent(&loop_prompt(client, "fix the tests", 5));
    let session = world.session_of(&first);
    world.resume_agent(&session, &loop_prompt(client, "another task", 5));
    let seen: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    println!("{}", world.report());
    println!("captured into {}: {seen:?}", dir.display());
    assert!(!seen.is_empty());
}

#[test]
#[ignore = "a tool: captures fixtures into $RALPH_E2E_CAPTURE_DIR"]
fn codex() {
    capture(Client::Codex);
}

#[test]
#[ignore = "a tool: captures fixtures into $RALPH_E2E_CAPTURE_DIR"]
fn claude() {
    capture(Client::Claude);
}
