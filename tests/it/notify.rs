//! `--notify` through the binary: the user's command runs once when a loop ends or blocks,
//! detached, with the outcome in its environment; its failure goes to the history and
//! never changes a decision; a command named in a workspace file never runs.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// A command that appends one line of the variables to `out`.
fn report_to(out: &Path) -> String {
    format!(
        r#"printf '%s|%s|%s|%s|%s\n' "$RALPH_OUTCOME" "$RALPH_REASON" "$RALPH_ITERATION" "$RALPH_WORKSPACE" "$RALPH_TASK" >> '{}'"#,
        out.display()
    )
}

/// Waits (at most 20 s: the command is detached) until `path` has `lines` lines.
fn lines_of(path: &Path, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = fs_err::read_to_string(path).unwrap_or_default();
        let found: Vec<String> = text.lines().map(str::to_string).collect();
        if found.len() >= lines || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_command_runs_once_when_the_loop_completes_with_the_outcome_in_its_environment() {
    let world = World::new();
    let out = world.temp.path().join("notified");
    world.start("S", &["--notify", &report_to(&out)]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("working"))));
    assert!(!out.exists(), "a continued turn notifies nobody");
    assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("done <promise>DONE</promise>"),
    )));
    let lines = lines_of(&out, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(fields[0], "completed");
    assert!(fields[1].contains("[completed]"), "{fields:?}");
    assert_eq!(fields[2], "1");
    assert_eq!(
        Path::new(fields[3]).canonicalize().unwrap(),
        world.workspace.canonicalize().unwrap()
    );
    assert_eq!(fields[4], "Fix the failing tests");
    // Once per end: nothing else runs it again.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines_of(&out, 2).len(), 1);
}

#[test]
fn the_command_runs_when_the_agent_blocks_and_when_the_user_cancels() {
    let world = World::new();
    let out = world.temp.path().join("notified");
    world.start("S", &["--notify", &report_to(&out)]);
    assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("<ralph-blocked>Which region should I deploy to?</ralph-blocked>"),
    )));
    let lines = lines_of(&out, 1);
    assert!(
        lines[0].starts_with("blocked|Which region should I deploy to?|0|"),
        "{lines:?}"
    );
    assert_success(&world.run(&["cancel"]));
    let lines = lines_of(&out, 2);
    assert!(lines[1].starts_with("cancelled|"), "{lines:?}");
}

#[test]
fn a_failing_command_is_in_the_history_and_a_slow_one_does_not_hold_the_stop() {
    let world = World::new();
    world.start("S", &["--notify", "echo no mail server >&2; exit 3"]);
    let message = assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("<promise>DONE</promise>"),
    )));
    assert!(
        message.contains("[completed]"),
        "the decision stands: {message}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let found = world
            .history()
            .into_iter()
            .find(|entry| entry["event"] == "notify");
        if found.is_some() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let failed = failed.expect("the failure is in the history");
    assert_eq!(failed["decision"], "failed");
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("exit code 3") && detail.contains("no mail server"),
        "{detail}"
    );
    assert!(stdout(&world.run(&["log"])).contains("notify"));

    // A command that takes its time: the stop has answered long before it is done.
    let slow = World::new();
    let marker = slow.temp.path().join("finished");
    slow.start(
        "S",
        &[
            "--notify",
            &format!("sleep 3; touch '{}'", marker.display()),
        ],
    );
    let out = slow.stop(&codex_stop(
        "S",
        &slow.workspace,
        Some("<promise>DONE</promise>"),
    ));
    assert_allow_with_message(&out);
    assert!(!marker.exists(), "the stop did not wait for the command");
    assert_eq!(lines_of(&marker, 0).len(), 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(marker.exists(), "the command still ran to its end");
}

#[test]
fn a_notify_command_planted_in_the_workspace_state_file_never_runs() {
    let world = World::new();
    let pwned = world.temp.path().join("pwned");
    fs_err::create_dir_all(world.workspace.join(".codex")).unwrap();
    let planted = serde_json::json!({
        "active": true, "prompt": "t", "iteration": 0, "max_iterations": 5,
        "completion_promise": "DONE", "completion_signal": "<promise>DONE</promise>",
        "continue_signal": "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>",
        "created_at": "2026-11-23T10:00:00Z", "state_version": 2,
        "notify": format!("touch '{}'", pwned.display())
    });
    fs_err::write(world.state_path(), planted.to_string()).unwrap();
    assert_success(&world.run(&["adopt"]));
    assert!(world.record().unwrap().get("notify").is_none());
    assert_success(&world.run(&["cancel"]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !pwned.exists(),
        "a workspace file named a command and it ran"
    );
}
