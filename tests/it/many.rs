//! Several loops at once (issue 23): `wait --any` and `wait --all` over workspaces,
//! and loops in git worktrees (`run --worktree`, `ralph-hook worktrees`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use crate::support::*;

const DONE: &str = "<promise>DONE</promise>";

/// A second workspace beside the world's, with a Codex loop bound to `session` in it.
fn second_workspace(world: &World, session: &str, extra: &[&str]) -> PathBuf {
    let ws2 = world.temp.path().join("ws2");
    make_git_dir(&ws2);
    let mut args = vec![
        "start",
        "--workspace",
        ws2.to_str().unwrap(),
        "--session",
        session,
        "--prompt",
        "Port the parser",
    ];
    args.extend_from_slice(extra);
    assert_success(&world.run(&args));
    ws2
}

/// `ralph-hook wait ARGS` in the world, started now, its output piped.
fn spawn_wait(world: &World, args: &[&str]) -> Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("ralph-hook"))
        .arg("wait")
        .args(args)
        .current_dir(&world.workspace)
        .env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("XDG_CONFIG_HOME", world.home.join(".config"))
        .env_remove("RALPH_HOOK_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether `child` is still running after a moment.
fn still_waits(child: &mut Child) -> bool {
    std::thread::sleep(Duration::from_millis(700));
    child.try_wait().unwrap().is_none()
}

fn ws(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn wait_all_returns_once_every_named_loop_ended_with_the_worst_code() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &["--max-iterations", "1"]);
    let mut child = spawn_wait(&world, &["--all", ws(&world.workspace), ws(&ws2)]);
    assert!(still_waits(&mut child), "both loops still run");
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    assert!(still_waits(&mut child), "the second loop still runs");
    world.stop(&codex_stop("S2", &ws2, Some("one")));
    world.stop(&codex_stop("S2", &ws2, Some("two")));
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    // Completed (0) and the iteration cap (3): the cap is the worse.
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(text.lines().count(), 2, "one line each: {text}");
    assert!(text.contains("[completed]"), "{text}");
    assert!(text.contains("[max_iterations]"), "{text}");
    assert!(text.contains(ws(&ws2)), "{text}");
}

#[test]
fn wait_any_without_workspaces_watches_every_active_loop_and_names_the_first_to_end() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &[]);
    let mut child = spawn_wait(&world, &["--any"]);
    assert!(still_waits(&mut child), "no loop has ended");
    assert_success(&world.run(&["cancel", "--workspace", ws(&ws2)]));
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(6), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&format!("in {}", ws(&ws2))), "{text}");
    assert!(text.contains("[cancelled]"), "{text}");
    // The other loop runs on.
    assert!(world.record().is_some());
}

#[test]
fn wait_all_with_a_timeout_reports_the_loop_that_still_runs() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &[]);
    world.stop(&codex_stop("S2", &ws2, Some(DONE)));
    let out = world.run(&[
        "wait",
        "--all",
        "--timeout",
        "500ms",
        ws(&world.workspace),
        ws(&ws2),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(text.contains("still runs after"), "{text}");
    assert!(text.contains("[completed]"), "{text}");
    let out = world.run(&["wait", "--any", "--timeout", "300ms", ws(&world.workspace)]);
    assert_eq!(out.status.code(), Some(8), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("none of the 1 loops ended"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wait_many_without_loops_exits_9_and_bad_combinations_are_usage_errors() {
    let world = World::new();
    let out = world.run(&["wait", "--all"]);
    assert_eq!(out.status.code(), Some(9), "{}", stdout(&out));
    assert!(stdout(&out).contains("No ralph loop runs in any workspace"));
    let out = world.run(&["wait", ws(&world.workspace)]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--any"), "{}", stderr(&out));
    for args in [
        &["wait", "--any", "--all"][..],
        &["wait", "--all", "--loop", "abc"][..],
    ] {
        let out = world.run(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
    }
}
