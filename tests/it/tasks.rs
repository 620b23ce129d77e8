//! `--tasks FILE` (issue 22): a Markdown checklist worked item by item in a same-session
//! loop, each item accepted only on evidence (checked, and the workspace changed since it
//! began, and `--verify` passing), never on its checkbox alone; and the task file as the
//! hostile input it is (a link out of the workspace, a FIFO, a huge file, control
//! characters).

use std::process::Command as StdCommand;

use crate::support::*;

const DONE: &str = "<promise>DONE</promise>";
const GO: &str = "working <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";
const PRD: &str = "# PRD\n\nContext text.\n\n- [x] set up the repository\n- [ ] write the parser\n  - [ ] handle nested lists\n";

/// Runs git in the world's workspace, asserting it worked.
#[track_caller]
fn git(world: &World, args: &[&str]) {
    let out = StdCommand::new("git")
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
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A world whose workspace is a git repository with `PRD.md` and `work.txt` committed.
fn prd_world(prd: &str) -> World {
    let world = World::new();
    fs_err::remove_dir_all(world.workspace.join(".git")).unwrap();
    git(&world, &["init", "-q"]);
    fs_err::write(world.workspace.join("PRD.md"), prd).unwrap();
    fs_err::write(world.workspace.join("work.txt"), "a\n").unwrap();
    git(&world, &["add", "."]);
    git(&world, &["commit", "-qm", "one"]);
    world
}

fn check(world: &World, item: &str) {
    let path = world.workspace.join("PRD.md");
    let text = fs_err::read_to_string(&path).unwrap();
    let checked = text.replacen(&format!("[ ] {item}"), &format!("[x] {item}"), 1);
    assert_ne!(text, checked, "{item} is in the PRD unchecked");
    fs_err::write(path, checked).unwrap();
}

fn stop(world: &World, message: &str) -> std::process::Output {
    world.stop(&codex_stop("S", &world.workspace, Some(message)))
}

#[test]
fn items_are_accepted_only_on_evidence_and_the_loop_completes_with_the_last() {
    let world = prd_world(PRD);
    world.start("S", &["--tasks", "PRD.md", "--no-progress", "0"]);
    let state = world.state();
    assert_eq!(state["tasks"]["skipped"][0], "set up the repository");
    assert_eq!(state["tasks"]["current"], "write the parser");
    assert_eq!(state["tasks"]["total"], 2);

    // A turn of work that checks nothing: the prompt names the item and the rule.
    let reason = assert_block(&stop(&world, GO));
    assert!(
        reason.contains("0 of 2 items accepted")
            && reason.contains("Current item: \"write the parser\"")
            && reason.contains("never on its checkbox alone"),
        "{reason}"
    );

    // Checked without a change: not accepted, told why, the loop goes on with it.
    check(&world, "write the parser");
    let reason = assert_block(&stop(&world, GO));
    assert!(reason.contains("checked without a change"), "{reason}");
    assert!(
        reason.contains("Current item: \"write the parser\""),
        "{reason}"
    );
    let last = world.history().pop().unwrap();
    assert_eq!(last["reason"], "task_rejected", "{last}");

    // The completion signal while items are open: rejected, with the list.
    let reason = assert_block(&stop(&world, DONE));
    assert!(
        reason.contains("completion signal was rejected: 2 task items are still open")
            && reason.contains("\"handle nested lists\""),
        "{reason}"
    );
    assert_eq!(
        world.history().pop().unwrap()["reason"],
        "completion_rejected"
    );

    // The work shows in the workspace: accepted, and the next item begins.
    fs_err::write(world.workspace.join("work.txt"), "parser\n").unwrap();
    let reason = assert_block(&stop(&world, GO));
    assert!(
        reason.contains("Accepted: the task item \"write the parser\" (evidence: work.txt)")
            && reason.contains("1 of 2 items accepted")
            && reason.contains("Current item: \"handle nested lists\""),
        "{reason}"
    );
    let accepted: Vec<_> = world
        .history()
        .into_iter()
        .filter(|line| line["decision"] == "accept")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert!(
        accepted[0]["detail"]
            .as_str()
            .unwrap()
            .contains("task item 1/2 accepted: write the parser"),
        "{}",
        accepted[0]
    );
    let show = stdout(&world.run(&["show", "--workspace", world.workspace.to_str().unwrap()]));
    assert!(
        show.contains("1/2 items accepted; current: handle nested lists"),
        "{show}"
    );

    let list = stdout(&world.run(&["list"]));
    assert!(
        list.contains("tasks 1/2, current: handle nested lists"),
        "{list}"
    );
    let rows: serde_json::Value =
        serde_json::from_str(&stdout(&world.run(&["list", "--json"]))).unwrap();
    assert_eq!(rows[0]["tasks"], "1/2", "{rows}");
    assert_eq!(rows[0]["task"], "handle nested lists", "{rows}");
    let log = stdout(&world.run(&["log", "--workspace", world.workspace.to_str().unwrap()]));
    assert!(
        log.contains("tasks 1/2 accepted, current: handle nested lists")
            && log.contains("task item 1/2 accepted: write the parser"),
        "{log}"
    );

    // The last item, committed: the loop ends completed, no signal needed.
    check(&world, "handle nested lists");
    fs_err::write(world.workspace.join("lists.txt"), "nested\n").unwrap();
    git(&world, &["add", "."]);
    git(&world, &["commit", "-qm", "nested lists"]);
    let message = assert_allow_with_message(&stop(&world, GO));
    assert!(
        message.contains("[completed]") && message.contains("(2/2)"),
        "{message}"
    );
    let history = world.history();
    assert_eq!(history.last().unwrap()["reason"], "completed");
    let accepted = history
        .iter()
        .filter(|line| line["decision"] == "accept")
        .count();
    assert_eq!(accepted, 2, "a history line per accepted item");
}

#[test]
fn a_commit_that_only_checks_the_box_is_no_evidence() {
    let world = prd_world("- [ ] only item\n");
    world.start("S", &["--tasks", "PRD.md"]);
    check(&world, "only item");
    git(&world, &["commit", "-qam", "check the box"]);
    let reason = assert_block(&stop(&world, GO));
    assert!(reason.contains("checked without a change"), "{reason}");
    fs_err::write(world.workspace.join("work.txt"), "done\n").unwrap();
    git(&world, &["commit", "-qam", "the work"]);
    let message = assert_allow_with_message(&stop(&world, GO));
    assert!(message.contains("[completed]"), "{message}");
}

#[test]
fn verify_must_pass_before_a_checked_item_with_a_change_is_accepted() {
    let world = prd_world("- [ ] make ok\n");
    world.start(
        "S",
        &[
            "--tasks",
            "PRD.md",
            "--verify",
            "test -f ok.txt || { echo no-ok-file; exit 1; }",
        ],
    );
    check(&world, "make ok");
    fs_err::write(world.workspace.join("work.txt"), "changed\n").unwrap();
    let reason = assert_block(&stop(&world, GO));
    assert!(
        reason.contains("The task item \"make ok\" was not accepted: the verify command")
            && reason.contains("no-ok-file"),
        "{reason}"
    );
    assert_eq!(world.history().pop().unwrap()["reason"], "task_rejected");
    fs_err::write(world.workspace.join("ok.txt"), "").unwrap();
    let message = assert_allow_with_message(&stop(&world, GO));
    assert!(message.contains("[completed]"), "{message}");
}

#[test]
fn the_prompt_box_starts_a_task_list_loop_and_says_what_it_skipped() {
    let world = prd_world(PRD);
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop --tasks PRD.md work through the PRD",
    ));
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains("checked at the start, skipped"), "{text}");
    assert!(
        text.contains("Current item: \\\"write the parser\\\""),
        "{text}"
    );
    assert_eq!(world.state()["tasks"]["current"], "write the parser");
}

#[track_caller]
fn refused_start(world: &World, file: &str, expected: &str) {
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&[
        "start",
        "--workspace",
        ws,
        "--session",
        "S",
        "--prompt",
        "t",
        "--tasks",
        file,
    ]);
    assert_eq!(out.status.code(), Some(65), "{file}: {}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{file}: {}", stderr(&out));
    assert!(world.record().is_none(), "nothing started for {file}");
}

#[test]
fn hostile_task_files_are_refused_before_the_loop_starts() {
    let world = prd_world(PRD);
    let outside = world.temp.path().join("outside.md");
    fs_err::write(&outside, "- [ ] exfiltrate\n").unwrap();
    std::os::unix::fs::symlink(&outside, world.workspace.join("link.md")).unwrap();
    std::os::unix::fs::symlink(world.temp.path(), world.workspace.join("up")).unwrap();
    let fifo = std::ffi::CString::new(world.workspace.join("fifo.md").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo only creates a file at a valid, NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    fs_err::write(world.workspace.join("huge.md"), "- [ ] x\n".repeat(40_000)).unwrap();
    fs_err::write(world.workspace.join("done.md"), "- [x] all done\n").unwrap();
    fs_err::write(world.workspace.join("bin.md"), b"- [ ] \xff\xfe\n").unwrap();
    for (file, expected) in [
        ("link.md", "a symlink"),
        ("up/outside.md", "is not inside the workspace"),
        ("../outside.md", "is not inside the workspace"),
        (outside.to_str().unwrap(), "is not inside the workspace"),
        ("fifo.md", "not a regular file"),
        ("huge.md", "larger than 256 KiB"),
        ("missing.md", "does not exist"),
        ("done.md", "has no open item"),
        ("bin.md", "is not UTF-8"),
    ] {
        refused_start(&world, file, expected);
    }
}

#[test]
fn control_characters_in_items_reach_the_agent_escaped() {
    let world = prd_world("- [ ] clear \u{1b}[2J the screen \u{202e}reversed\n");
    world.start("S", &["--tasks", "PRD.md"]);
    let reason = assert_block(&stop(&world, GO));
    assert!(
        reason.contains("clear \\u{1b}[2J the screen \\u{202e}reversed"),
        "{reason:?}"
    );
    assert!(!reason.contains('\u{1b}') && !reason.contains('\u{202e}'));
}

#[test]
fn a_task_file_that_goes_bad_mid_loop_pauses_the_loop_and_says_so() {
    let world = prd_world(PRD);
    world.start("S", &["--tasks", "PRD.md"]);
    assert_block(&stop(&world, GO));
    let outside = world.temp.path().join("outside.md");
    fs_err::write(&outside, "- [x] write the parser\n").unwrap();
    fs_err::remove_file(world.workspace.join("PRD.md")).unwrap();
    std::os::unix::fs::symlink(&outside, world.workspace.join("PRD.md")).unwrap();
    let message = assert_allow_with_message(&stop(&world, GO));
    assert!(
        message.contains("the task list cannot be read") && message.contains("a symlink"),
        "{message}"
    );
    let state = world.state();
    assert_eq!(state["paused"], true);
    assert_eq!(state["tasks"]["accepted"], serde_json::Value::Null);
}

#[test]
fn a_non_git_workspace_is_refused_for_a_task_list() {
    let world = World::new();
    fs_err::remove_dir_all(world.workspace.join(".git")).unwrap();
    fs_err::write(world.workspace.join("PRD.md"), PRD).unwrap();
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&[
        "start",
        "--workspace",
        ws,
        "--session",
        "S",
        "--prompt",
        "t",
        "--tasks",
        "PRD.md",
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs a git workspace"),
        "{}",
        stderr(&out)
    );
}

/// A loop over "hard item" then "easy item" with `--max-iterations-per-task 2`, after
/// two continued turns on the hard one: the next stop is its last allowed.
fn two_turns_on_the_hard_item() -> World {
    let world = prd_world("- [ ] hard item\n- [ ] easy item\n");
    world.start(
        "S",
        &[
            "--tasks",
            "PRD.md",
            "--max-iterations-per-task",
            "2",
            "--no-progress",
            "0",
        ],
    );
    assert_block(&stop(&world, GO));
    assert_block(&stop(&world, GO));
    world
}

#[test]
fn an_item_stuck_past_its_cap_ends_the_loop_naming_it_and_wait_says_18() {
    let world = two_turns_on_the_hard_item();
    let message = assert_allow_with_message(&stop(&world, GO));
    assert!(
        message.contains("[stuck_task]") && message.contains("\"hard item\""),
        "{message}"
    );
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["wait", "--workspace", ws, "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(18), "{}", stderr(&out));
}

/// The stop that would have found the item stuck finds it accepted instead: the item was
/// done in its last allowed turn, so the loop goes on with the next one.
#[test]
fn an_item_accepted_at_its_cap_is_not_stuck() {
    let world = two_turns_on_the_hard_item();
    check(&world, "hard item");
    fs_err::write(world.workspace.join("work.txt"), "hard\n").unwrap();
    let reason = assert_block(&stop(&world, GO));
    assert!(reason.contains("Current item: \"easy item\""), "{reason}");
    assert!(
        world
            .history()
            .iter()
            .all(|line| line["reason"] != "stuck_task"),
        "{:#?}",
        world.history()
    );
}

#[test]
fn on_stuck_task_skip_leaves_the_item_open_and_goes_on_with_the_next() {
    let world = prd_world("- [ ] hard item\n- [ ] easy item\n");
    world.start(
        "S",
        &[
            "--tasks",
            "PRD.md",
            "--max-iterations-per-task",
            "1",
            "--on-stuck-task",
            "skip",
            "--no-progress",
            "0",
        ],
    );
    assert_block(&stop(&world, GO));
    let reason = assert_block(&stop(&world, GO));
    assert!(
        reason.contains("Left open: the task item \"hard item\"")
            && reason.contains("Current item: \"easy item\""),
        "{reason}"
    );
    assert!(
        world.history().iter().any(|line| line["decision"] == "skip"
            && line["detail"].as_str().unwrap().contains("hard item")),
        "a history line says the item was left open"
    );
    check(&world, "easy item");
    fs_err::write(world.workspace.join("work.txt"), "easy\n").unwrap();
    let message = assert_allow_with_message(&stop(&world, GO));
    // Not every item was accepted: the loop ends as stuck, and says which.
    assert!(message.contains("[stuck_task]"), "{message}");
    assert_eq!(world.history().last().unwrap()["reason"], "stuck_task");
}

#[test]
fn the_task_list_can_come_from_the_user_config_and_from_claude_codes_prompt_box() {
    let world = prd_world(PRD);
    let config = world.home.join(".config/ralph-hook/config.toml");
    fs_err::create_dir_all(config.parent().unwrap()).unwrap();
    fs_err::write(
        &config,
        "tasks = \"PRD.md\"\nmax_iterations_per_task = 4\non_stuck_task = \"skip\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = world.prompt(&prompt_payload(
        "claude",
        "S",
        &world.workspace,
        "/ralph-loop work through the PRD",
    ));
    assert_success(&out);
    let state: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["tasks"]["current"], "write the parser", "{state}");
    assert_eq!(state["tasks"]["max_per_task"], 4);
    assert_eq!(state["tasks"]["on_stuck"], "skip");
}
