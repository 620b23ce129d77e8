//! Whole-binary tests of the budgets and verified completion: the time limit, the
//! no-progress brake, `--verify`, and pause/resume.

use std::process::Command as StdCommand;

use crate::support::*;

const DONE: &str = "<promise>DONE</promise>";
const T0: u64 = 1_790_000_000;

fn at(minutes: u64) -> String {
    (T0 + minutes * 60).to_string()
}

#[test]
fn the_time_budget_ends_the_loop_on_the_first_stop_past_it() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    let out = world
        .cmd()
        .env("RALPH_HOOK_NOW", at(0))
        .args([
            "start",
            "--workspace",
            ws,
            "--session",
            "S",
            "--prompt",
            "t",
            "--max-duration",
            "1h30m",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(world.state()["max_duration_secs"], 5400);
    let reason = assert_block(&world.stop_with(
        &codex_stop("S", &world.workspace, Some("a")),
        &[("RALPH_HOOK_NOW", &at(89))],
    ));
    assert!(
        reason.contains("1m of 1h30m"),
        "the budget is stated: {reason}"
    );
    let message = assert_allow_with_message(&world.stop_with(
        &codex_stop("S", &world.workspace, Some("b")),
        &[("RALPH_HOOK_NOW", &at(90))],
    ));
    assert!(
        message.contains("[max_duration]") && message.contains("1h30m"),
        "{message}"
    );
    assert_eq!(world.history().last().unwrap()["reason"], "max_duration");
}

#[test]
fn identical_messages_trip_the_no_progress_brake() {
    let world = World::new();
    world.start("S", &["--no-progress", "3"]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("I am stuck"))));
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("I am  stuck"))));
    let message = assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("I am stuck\n"),
    )));
    assert!(message.contains("[no_progress_message]"), "{message}");
}

/// Runs git in the world's workspace (with the world's home), asserting it worked.
#[track_caller]
fn git(world: &World, args: &[&str]) {
    let status = StdCommand::new("git")
        .args(args)
        .current_dir(&world.workspace)
        .env("HOME", &world.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

/// A world whose workspace is a real git repository with `work.txt` committed.
fn git_world() -> World {
    let world = World::new();
    fs_err::remove_dir_all(world.workspace.join(".git")).unwrap();
    git(&world, &["init", "-q"]);
    fs_err::write(world.workspace.join("work.txt"), "a\n").unwrap();
    git(&world, &["add", "work.txt"]);
    git(&world, &["commit", "-qm", "one"]);
    world
}

fn append(world: &World, path: &str, text: &str) {
    use std::io::Write;
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(world.workspace.join(path))
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[test]
fn an_unchanged_git_workspace_trips_the_no_progress_brake() {
    let world = git_world();
    world.start("S", &["--no-progress", "2"]);
    // A change is progress; two stops without one end the loop.
    fs_err::write(world.workspace.join("work.txt"), "2").unwrap();
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("edited a"))));
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("thinking"))));
    let message = assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("still thinking"),
    )));
    assert!(message.contains("[no_progress_workspace]"), "{message}");
    assert!(
        message.contains("the last change it saw was work.txt at iteration 0"),
        "the outcome names the last change: {message}"
    );
}

/// Issue 11: every stop of a loop that appends to the same tracked file is progress.
#[test]
fn appending_to_the_same_tracked_file_every_turn_never_trips_the_brake() {
    let world = git_world();
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&[
        "start",
        "--workspace",
        ws,
        "--session",
        "S",
        "--prompt",
        "p",
        "--max-iterations",
        "10",
    ]));
    for i in 1..=8 {
        append(&world, "work.txt", &format!("{i}\n"));
        let message = format!("x{i} <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>");
        let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(&message))));
        assert!(
            reason.contains(&format!("iteration {i}/10")),
            "stop {i}: {reason}"
        );
        assert!(!reason.contains("Warning"), "stop {i} warned: {reason}");
    }
    let history = world.history();
    assert!(
        history.iter().all(|h| h["decision"] != "finish"),
        "{history:#?}"
    );
    assert_eq!(world.state()["progress"]["last_change"]["what"], "work.txt");
}

/// The same for an untracked file the agent keeps editing, and for a turn that only
/// reads between edits.
#[test]
fn editing_an_untracked_file_again_is_progress_and_one_idle_turn_is_not_the_end() {
    let world = git_world();
    world.start("S", &[]);
    let ws = world.workspace.to_str().unwrap();
    for i in 1..=4 {
        append(&world, "notes.md", &format!("step {i}\n"));
        assert_block(&world.stop(&codex_stop(
            "S",
            &world.workspace,
            Some(&format!("step {i}")),
        )));
    }
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("only read"))));
    let show = stdout(&world.run(&["show", "--workspace", ws]));
    assert!(
        show.contains(
            "no progress: 2 more stops without a change end the loop (last change: notes.md, iteration 3)"
        ),
        "{show}"
    );
    append(&world, "notes.md", "step 5\n");
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("step 5"))));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&world.run(&["show", "--workspace", ws, "--json"]))).unwrap();
    assert_eq!(shown["unchanged_stops_left"], 3, "{shown:#}");
}

#[test]
fn the_prompt_warns_when_the_next_unchanged_stop_ends_the_loop() {
    let world = git_world();
    world.start("S", &[]);
    let ws = world.workspace.to_str().unwrap();
    let first = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("a"))));
    assert!(!first.contains("Warning"), "{first}");
    let second = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("b"))));
    assert!(
        second.contains("the next stop that finds the workspace unchanged"),
        "{second}"
    );
    let show = stdout(&world.run(&["show", "--workspace", ws]));
    assert!(
        show.contains(
            "the next stop without a change ends the loop (no change seen since the loop started)"
        ),
        "{show}"
    );
    let message =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("c"))));
    assert!(
        message.contains("it saw no change since the loop started"),
        "{message}"
    );
}

#[test]
fn verify_pass_completes_and_verify_fail_continues_with_its_output() {
    let world = World::new();
    world.start(
        "S",
        &[
            "--verify",
            "test -f ok.txt || { echo missing-ok-file-42; exit 3; }",
        ],
    );
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(DONE))));
    assert!(reason.contains("rejected"), "{reason}");
    assert!(
        reason.contains("exit code 3") && reason.contains("missing-ok-file-42"),
        "{reason}"
    );
    let last = world.history().pop().unwrap();
    assert_eq!(last["reason"], "completion_rejected");
    fs_err::write(world.workspace.join("ok.txt"), "").unwrap();
    let message =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some(DONE))));
    assert!(message.contains("[verified]"), "{message}");
}

#[test]
fn a_verify_command_that_hangs_is_killed_with_its_children() {
    let world = World::new();
    let pid_file = world.workspace.join("child.pid");
    world.start(
        "S",
        &[
            "--verify",
            "sleep 300 & echo $! > child.pid; wait",
            "--verify-timeout",
            "1",
        ],
    );
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(DONE))));
    assert!(reason.contains("timed out after 1s"), "{reason}");
    let pid = fs_err::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    // The grandchild is gone (or a zombie awaiting its reaper), not sleeping on.
    let alive = StdCommand::new("sh")
        .args(["-c", &format!("ps -o stat= -p {pid} | grep -qv Z")])
        .status()
        .unwrap()
        .success();
    assert!(
        !alive,
        "the verify command's child {pid} outlived the timeout"
    );
}

#[test]
fn a_verify_command_that_cannot_run_is_not_a_pass() {
    let world = World::new();
    world.start("S", &["--verify", "no-such-command-for-ralph"]);
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(DONE))));
    assert!(reason.contains("could not start"), "{reason}");
    assert!(world.state_path().exists());
}

#[test]
fn pause_and_resume_keep_the_iteration_count() {
    let world = World::new();
    world.start("S", &[]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("a"))));
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&["pause", "--workspace", ws]));
    assert!(stdout(&world.run(&["show", "--workspace", ws])).contains("PAUSED"));
    for text in ["b", "c"] {
        assert_silent_allow(&world.stop(&codex_stop("S", &world.workspace, Some(text))));
    }
    assert_eq!(world.state()["iteration"], 1);
    assert_success(&world.run(&["resume", "--workspace", ws]));
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("d"))));
    assert!(reason.contains("iteration 2/50"), "{reason}");
    assert_eq!(
        world.run(&["resume", "--workspace", ws]).status.code(),
        Some(1)
    );
}

#[test]
fn a_terminal_loop_claimed_on_a_verified_stop_stays_bound_to_that_session() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&[
        "start",
        "--workspace",
        ws,
        "--prompt",
        "t",
        "--verify",
        "false",
    ]));
    assert_block(&world.stop(&codex_stop("FIRST", &world.workspace, Some(DONE))));
    assert_eq!(world.state()["session_id"], "FIRST");
    assert_eq!(world.state()["iteration"], 1);
    assert_silent_allow(&world.stop(&codex_stop("SECOND", &world.workspace, Some(DONE))));
}
