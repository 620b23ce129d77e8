//! `run --fresh` (issue 22) below the real clients: a fresh loop's stop decided by the
//! one stop transaction but answered with "allow" and a hand-over; the hand-off note as
//! hostile input (a link, a FIFO, a huge file, control characters); the workspace summary
//! taken with git that runs nothing the repository names; the next session's first prompt.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ralph_hook::testing::engine::fresh::{
    self, FreshMode, HANDOFF_CAP, HANDOFF_CHARS, Handoff, read_handoff, workspace_summary,
};
use ralph_hook::testing::engine::render::{FreshContext, fresh_prompt};
use ralph_hook::testing::engine::sample::SampleLoop;
use serde_json::{Value, json};

use crate::support::{World, assert_allow_with_message, assert_block, codex_stop, private_tempdir};

const CONTINUE: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";

/// Makes the world's Codex loop a fresh one, as `run --fresh` does, in the user's record.
fn make_fresh(world: &World) {
    let path = world
        .loop_dirs()
        .into_iter()
        .find(|dir| {
            dir.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("codex-"))
        })
        .expect("a loop folder")
        .join("record.json");
    let mut record: Value = serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    record["fresh"] = json!({"mode": "iteration", "sessions": 1});
    fs_err::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
}

#[test]
fn a_fresh_loops_continue_ends_the_turn_and_leaves_the_continuation_for_the_next_session() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "5"]);
    make_fresh(&world);
    let out = world.stop(&codex_stop(
        "S1",
        &world.workspace,
        Some(&format!("Step one. {CONTINUE}")),
    ));
    let message = assert_allow_with_message(&out);
    assert!(message.contains("new session"), "{message}");
    let record = world.record().expect("the loop goes on");
    assert_eq!(record["state"]["iteration"], 1);
    let next = record["fresh"]["next"].as_str().expect("a hand-over");
    assert!(next.contains("Fix the failing tests"), "{next}");
    assert!(next.contains(CONTINUE), "the signals: {next}");
    let history = world.history();
    let last = history.last().unwrap();
    assert_eq!(last["event"], "stop");
    assert_eq!(last["decision"], "next_session");
    assert_eq!(world.state()["last_decision"]["decision"], "next_session");
    let ws = world.workspace.to_str().unwrap();
    let show = world.run(&["show", "--workspace", ws]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains(
            "a new session per iteration (run --fresh), 1 so far; the next one is starting"
        ),
        "{show}"
    );
    assert!(
        show.contains("the next iteration starts in a new session"),
        "{show}"
    );
}

#[test]
fn a_fresh_loops_completion_and_caps_end_it_as_in_any_loop() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "1"]);
    make_fresh(&world);
    let out = world.stop(&codex_stop("S1", &world.workspace, Some(CONTINUE)));
    assert_allow_with_message(&out);
    let out = world.stop(&codex_stop("S1", &world.workspace, Some(CONTINUE)));
    let message = assert_allow_with_message(&out);
    assert!(message.contains("iteration cap"), "{message}");
    assert!(world.record().is_none(), "the loop ended");
}

#[test]
fn a_same_session_loop_still_blocks() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "5"]);
    let out = world.stop(&codex_stop("S1", &world.workspace, Some(CONTINUE)));
    assert_block(&out);
    assert!(world.record().unwrap().get("fresh").is_none());
}

#[test]
fn the_end_of_a_handed_over_session_does_not_orphan_the_fresh_loop() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "5"]);
    make_fresh(&world);
    assert_allow_with_message(&world.stop(&codex_stop("S1", &world.workspace, Some(CONTINUE))));
    let payload = json!({
        "session_id": "S1", "cwd": world.workspace, "hook_event_name": "SessionEnd",
        "reason": "other", "transcript_path": null,
    });
    let out = world
        .cmd()
        .args(["session-end", "--agent", "codex"])
        .write_stdin(payload.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(world.record().unwrap()["state"].get("orphaned").is_none());
}

fn workspace_with_note(bytes: &[u8]) -> tempfile::TempDir {
    let dir = private_tempdir();
    fs_err::create_dir(dir.path().join(".ralph")).unwrap();
    fs_err::write(dir.path().join(".ralph/handoff.md"), bytes).unwrap();
    dir
}

#[test]
fn a_handoff_note_is_read_as_escaped_text() {
    let dir = workspace_with_note(b"did A\n\x1b]0;owned\x07 next: B\n");
    assert_eq!(
        read_handoff(dir.path()),
        Handoff::Note {
            text: "did A\n\\u{1b}]0;owned\\u{7} next: B".into(),
            cut: false
        }
    );
    let empty = private_tempdir();
    assert_eq!(read_handoff(empty.path()), Handoff::Missing);
}

#[test]
fn a_long_handoff_note_is_cut_and_a_huge_one_not_read() {
    let long = workspace_with_note("x".repeat(HANDOFF_CHARS + 10).as_bytes());
    match read_handoff(long.path()) {
        Handoff::Note { text, cut } => {
            assert!(cut);
            assert_eq!(text.chars().count(), HANDOFF_CHARS);
        }
        other => panic!("{other:?}"),
    }
    let huge = workspace_with_note(&vec![b'y'; usize::try_from(HANDOFF_CAP).unwrap() + 1]);
    match read_handoff(huge.path()) {
        Handoff::Refused(why) => assert!(why.contains("larger than"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_handoff_note_that_is_a_link_or_in_a_linked_folder_is_not_followed() {
    let secret = private_tempdir();
    fs_err::write(secret.path().join("secret"), "TOP SECRET").unwrap();
    let dir = private_tempdir();
    fs_err::create_dir(dir.path().join(".ralph")).unwrap();
    std::os::unix::fs::symlink(
        secret.path().join("secret"),
        dir.path().join(".ralph/handoff.md"),
    )
    .unwrap();
    match read_handoff(dir.path()) {
        Handoff::Refused(why) => assert!(why.contains("symlink"), "{why}"),
        other => panic!("{other:?}"),
    }
    let linked = private_tempdir();
    fs_err::write(secret.path().join("handoff.md"), "TOP SECRET").unwrap();
    std::os::unix::fs::symlink(secret.path(), linked.path().join(".ralph")).unwrap();
    match read_handoff(linked.path()) {
        Handoff::Refused(why) => assert!(!why.contains("TOP SECRET"), "{why}"),
        other => panic!("a linked .ralph folder was followed: {other:?}"),
    }
}

#[test]
fn a_handoff_note_that_is_a_fifo_is_refused_at_once() {
    let dir = private_tempdir();
    fs_err::create_dir(dir.path().join(".ralph")).unwrap();
    let fifo = dir.path().join(".ralph/handoff.md");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo only creates a file at a valid, NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    match read_handoff(dir.path()) {
        Handoff::Refused(why) => assert!(why.contains("not a regular file"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it waited on the FIFO"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn the_workspace_summary_runs_nothing_the_repository_names() {
    let dir = private_tempdir();
    let ws = dir.path().join("ws");
    fs_err::create_dir(&ws).unwrap();
    git(&ws, &["init", "-q", "-b", "main"]);
    fs_err::write(ws.join("a.txt"), "one\n").unwrap();
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "first"]);
    let base = fresh::head(&ws).expect("a HEAD");
    // Everything a hostile repository can name to run, each leaving a mark if it ran.
    let mark = dir.path().join("ran");
    let script = dir.path().join("evil.sh");
    fs_err::write(
        &script,
        format!("#!/bin/sh\ntouch {}\ncat\n", mark.display()),
    )
    .unwrap();
    fs_err::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let evil = script.display().to_string();
    for (key, value) in [
        ("core.fsmonitor", evil.as_str()),
        ("diff.external", evil.as_str()),
        ("diff.evil.textconv", evil.as_str()),
        ("filter.evil.clean", evil.as_str()),
        ("filter.evil.smudge", evil.as_str()),
        ("core.pager", evil.as_str()),
    ] {
        git(&ws, &["config", key, value]);
    }
    fs_err::write(ws.join(".gitattributes"), "* diff=evil filter=evil\n").unwrap();
    fs_err::write(ws.join("a.txt"), "one\ntwo\n").unwrap();
    git(
        &ws,
        &[
            "-c",
            "filter.evil.clean=cat",
            "add",
            "a.txt",
            ".gitattributes",
        ],
    );
    git(
        &ws,
        &[
            "-c",
            "filter.evil.clean=cat",
            "commit",
            "-qm",
            "second \x1b[2J",
        ],
    );
    fs_err::write(ws.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    fs_err::write(ws.join("new.txt"), "new\n").unwrap();
    let _ = fs_err::remove_file(&mark);

    let summary = workspace_summary(&ws, true, Some(&base)).expect("a summary");
    assert!(
        !mark.exists(),
        "something the repository named ran:\n{summary}"
    );
    assert!(
        summary.contains("second \\u{1b}[2J"),
        "the commit, escaped: {summary}"
    );
    assert!(summary.contains("a.txt"), "{summary}");
    assert!(summary.contains("new.txt"), "the untracked file: {summary}");
    assert!(
        summary.contains("a.txt          | 2 ++"),
        "the uncommitted edit is in the stat: {summary}"
    );
    // `.git/info/attributes` applies whatever the options: the work tree is not read.
    fs_err::create_dir_all(ws.join(".git/info")).unwrap();
    fs_err::write(ws.join(".git/info/attributes"), "* filter=evil diff=evil\n").unwrap();
    fs_err::write(ws.join("a.txt"), "one\ntwo\nfour\n").unwrap();
    let summary = workspace_summary(&ws, true, Some(&base)).expect("a summary");
    assert!(
        !mark.exists(),
        "something the repository named ran:\n{summary}"
    );
    assert!(summary.contains("the work tree was not read"), "{summary}");
    assert_eq!(workspace_summary(&ws, false, Some(&base)), None);
}

#[test]
fn the_next_sessions_prompt_carries_the_task_the_last_message_and_the_note_as_information() {
    let state = SampleLoop::default().build();
    let context = FreshContext {
        mode: FreshMode::Iteration,
        summary: Some("Commits since the loop started:\n  abc1234 did it".into()),
        last_message: Some(fresh::last_message("Step one done \x1b[31m. next: two")),
        handoff: Some(Handoff::Note {
            text: "NOTE: do two".into(),
            cut: false,
        }),
        handoff_unchanged: false,
    };
    let prompt = fresh_prompt(
        &state,
        "Task:\nthe task\n",
        Path::new("/w/.codex/ralph-loop-state.json"),
        Path::new("/w"),
        &context,
    );
    for part in [
        "in a new session",
        "the task",
        "abc1234 did it",
        "Step one done \\u{1b}[31m",
        "NOTE: do two",
        "not as instructions",
        ".ralph/handoff.md",
    ] {
        assert!(prompt.contains(part), "{part:?} missing from:\n{prompt}");
    }
    let refused = FreshContext {
        mode: FreshMode::Task,
        summary: None,
        last_message: None,
        handoff: Some(Handoff::Refused("it is a symlink".into())),
        handoff_unchanged: false,
    };
    let prompt = fresh_prompt(&state, "", Path::new("/s"), Path::new("/w"), &refused);
    assert!(prompt.contains("was not read: it is a symlink"), "{prompt}");
    assert!(prompt.contains("Before you check an item"), "{prompt}");
}

#[test]
fn fresh_task_without_a_task_list_is_refused_before_anything_starts() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["run", "--workspace", ws, "--fresh=task", "Build it"]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tasks FILE"), "{err}");
    assert!(world.record().is_none(), "nothing was recorded");
    let out = world.run(&["run", "--workspace", ws, "--fresh=sometimes", "Build it"]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let out = world.run(&["run", "--resume", "--fresh"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "--fresh belongs to a new run: {out:?}"
    );
}
