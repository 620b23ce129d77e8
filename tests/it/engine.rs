//! Whole-binary tests of the loop engine: the hooks and commands as hosts and people run
//! them, on the real captured payloads.

use std::os::unix::fs::symlink;

use crate::support::*;
use serde_json::{Value, json};

const DONE: &str = "<promise>DONE</promise>";
const CONTINUE: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";

// ---- ports of the bash skill's own tests ----

#[test]
fn no_state_means_no_output() {
    let world = World::new();
    assert_silent_allow(&world.stop(&codex_stop("S", &world.workspace, Some("hi"))));
    assert!(
        !world.workspace.join(".codex").exists(),
        "nothing may be written"
    );
}

#[test]
fn start_stores_the_bash_defaults() {
    let world = World::new();
    world.start("S", &[]);
    let state = world.state();
    assert_eq!(state["active"], true);
    assert_eq!(state["auto_continue"], true);
    assert_eq!(state["prompt"], "Fix the failing tests");
    assert_eq!(state["iteration"], 0);
    assert_eq!(state["max_iterations"], 50);
    assert_eq!(state["completion_promise"], "DONE");
    assert_eq!(state["completion_signal"], DONE);
    assert_eq!(state["continue_magic_word"], "RALPH_AUTO_CONTINUE");
    assert_eq!(state["continue_signal"], CONTINUE);
    assert_eq!(state["state_version"], 2);
    assert_eq!(state["session_id"], "S");
    assert_eq!(state["agent"], "codex");
    assert!(state["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn a_stop_from_another_process_cwd_blocks_with_the_continue_tag_and_iteration_1() {
    let world = World::new();
    world.start("S", &[]);
    let out = world
        .cmd()
        .current_dir("/")
        .arg("stop")
        .write_stdin(codex_stop("S", &world.workspace, Some("working")).to_string())
        .output()
        .unwrap();
    let reason = assert_block(&out);
    assert!(reason.contains(CONTINUE), "{reason}");
    assert!(reason.contains("iteration 1/50"), "{reason}");
    assert!(reason.contains("Fix the failing tests"));
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn the_promise_ends_the_loop_and_removes_the_state() {
    let world = World::new();
    world.start("S", &[]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("step one"))));
    let message = assert_allow_with_message(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some(&format!("all green\n{DONE}")),
    )));
    assert!(message.contains("[completed]"), "{message}");
    assert!(!world.state_path().exists());
    let last = world.history().pop().unwrap();
    assert_eq!(last["decision"], "finish");
    assert_eq!(last["reason"], "completed");
    assert_eq!(last["tag"], "promise");
}

#[test]
fn a_custom_magic_word_is_stored_and_used() {
    let world = World::new();
    world.start("S", &["--magic-word", "KEEP.GOING-1"]);
    assert_eq!(
        world.state()["continue_signal"],
        "<ralph-continue>KEEP.GOING-1</ralph-continue>"
    );
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(reason.contains("<ralph-continue>KEEP.GOING-1</ralph-continue>"));
    let out = world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("more <ralph-continue>KEEP.GOING-1</ralph-continue>"),
    ));
    assert!(!assert_block(&out).contains("Reminder"));
    assert_eq!(world.history().last().unwrap()["tag"], "continue");
}

#[test]
fn max_one_blocks_the_first_stop_and_ends_at_the_cap_on_the_second() {
    let world = World::new();
    world.start("S", &["--max-iterations", "1"]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("one"))));
    let message =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("two"))));
    assert!(message.contains("iteration cap of 1"), "{message}");
    assert!(message.contains("[max_iterations]"));
    assert!(!world.state_path().exists());
}

#[test]
fn show_and_cancel_report_and_end_the_loop() {
    let world = World::new();
    world.start("S", &["--max-iterations", "4"]);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("one"))));
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["show", "--workspace", ws]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains("Fix the failing tests"), "{text}");
    assert!(text.contains("1/4 [#####...............]"), "{text}");
    assert!(
        text.contains("S (only its stops follow the loop)"),
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&stdout(&world.run(&["show", "--workspace", ws, "--json"]))).unwrap();
    assert_eq!(json["state"]["iteration"], 1);
    assert_eq!(json["standing"], "bound");

    let out = world.run(&["cancel", "--workspace", ws]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("Cancelled the ralph loop"),
        "{}",
        stdout(&out)
    );
    assert!(!world.state_path().exists());
    assert_silent_allow(&world.stop(&codex_stop("S", &world.workspace, Some("three"))));
    let text = stdout(&world.run(&["show", "--workspace", ws]));
    assert!(
        text.contains("The last one ended") && text.contains("cancelled"),
        "{text}"
    );
    // start --show / --cancel do the same.
    world.start("S", &[]);
    assert!(
        stdout(&world.run(&["start", "--show", "--workspace", ws])).contains("iteration:   0/50")
    );
    assert_success(&world.run(&["start", "--cancel", "--workspace", ws]));
    assert!(!world.state_path().exists());
}

// ---- the prompt hook ----

#[test]
fn the_prompt_hook_starts_a_loop_from_both_hosts_prompt_forms() {
    for (host, prefix, dir) in [
        ("codex", "$ralph-loop", ".codex"),
        ("claude", "/ralph-loop", ".claude"),
    ] {
        let world = World::new();
        let task = "Fix \"quoted\" $(rm -rf ~) `tick`\nsecond line — ünïcødé 🚀";
        let prompt = format!("{prefix} {task} --max-iterations 3 --completion-promise 'ALL DONE'");
        let out = world.prompt(&prompt_payload(
            host,
            "S-1",
            &world.workspace.join("sub"),
            &prompt,
        ));
        assert_success(&out);
        let answer = json_out(&out);
        let context = answer["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap();
        assert_eq!(
            answer["hookSpecificOutput"]["hookEventName"],
            "UserPromptSubmit"
        );
        assert!(context.contains("<promise>ALL DONE</promise>"), "{context}");
        let state: Value = serde_json::from_str(
            &fs_err::read_to_string(world.workspace.join(dir).join("ralph-loop-state.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(state["prompt"], task, "the task is kept verbatim");
        assert_eq!(state["max_iterations"], 3);
        assert_eq!(state["session_id"], "S-1");
        assert_eq!(state["agent"], host);
        assert_eq!(state["started_by"], "prompt_hook");
    }
}

#[test]
fn an_ordinary_prompt_writes_nothing_and_prints_nothing() {
    let world = World::new();
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "fix the tests",
    ));
    assert_silent_allow(&out);
    assert!(!world.workspace.join(".codex").exists());
}

#[test]
fn a_prompt_whose_flags_do_not_parse_starts_nothing_and_says_why() {
    let world = World::new();
    for (prompt, expected) in [
        (
            "$ralph-loop fix --max-iterations lots",
            "--max-iterations needs a whole number",
        ),
        ("$ralph-loop fix --magic-word 'a b'", "--magic-word"),
        ("$ralph-loop --max-iterations 3", "the task is empty"),
        ("$ralph-loop fix --verify", "--verify needs a value"),
    ] {
        let out = world.prompt(&prompt_payload("codex", "S", &world.workspace, prompt));
        assert_success(&out);
        let answer = json_out(&out);
        assert_eq!(answer["decision"], "block", "{answer}");
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.contains(expected) && reason.contains("Nothing was started"),
            "{reason}"
        );
        assert!(!world.state_path().exists());
    }
}

#[test]
fn cancel_and_status_from_the_prompt_box() {
    let world = World::new();
    world.prompt(&prompt_payload(
        "claude",
        "C",
        &world.workspace,
        "/ralph-loop do it",
    ));
    let claude_state = world.workspace.join(".claude/ralph-loop-state.json");
    assert!(claude_state.exists());
    let status = json_out(&world.prompt(&prompt_payload(
        "claude",
        "C",
        &world.workspace,
        "/ralph-loop status",
    )));
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("iteration:   0/50"),
        "{status}"
    );
    let cancel = json_out(&world.prompt(&prompt_payload(
        "claude",
        "C",
        &world.workspace,
        "/ralph-loop cancel",
    )));
    assert!(
        cancel["reason"]
            .as_str()
            .unwrap()
            .contains("cancelled the loop"),
        "{cancel}"
    );
    assert!(!claude_state.exists());
}

#[test]
fn a_new_prompt_loop_from_another_session_does_not_replace_a_live_one() {
    let world = World::new();
    world.prompt(&prompt_payload(
        "codex",
        "A",
        &world.workspace,
        "$ralph-loop first task",
    ));
    let out = world.prompt(&prompt_payload(
        "codex",
        "B",
        &world.workspace,
        "$ralph-loop second task",
    ));
    let answer = json_out(&out);
    assert_eq!(answer["decision"], "block");
    let reason = answer["reason"].as_str().unwrap();
    for part in [
        "already active",
        "session A",
        "last active",
        "still looks live",
        "`$ralph-loop --replace TASK`",
        "`$ralph-loop cancel`",
        "10m",
    ] {
        assert!(reason.contains(part), "{part:?} missing from: {reason}");
    }
    assert_eq!(world.state()["prompt"], "first task");
    // The same session may restart its own loop.
    world.prompt(&prompt_payload(
        "codex",
        "A",
        &world.workspace,
        "$ralph-loop third task",
    ));
    assert_eq!(world.state()["prompt"], "third task");
}

/// Unix seconds `offset` seconds from the real now, for `RALPH_HOOK_NOW`.
fn now_plus(offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (now + offset).to_string()
}

/// A prompt payload without a transcript (so only the record's times are signs of life).
fn bare_prompt(host: &str, session: &str, cwd: &std::path::Path, prompt: &str) -> Value {
    let mut payload = prompt_payload(host, session, cwd, prompt);
    payload["transcript_path"] = Value::Null;
    payload
}

#[test]
fn a_loop_whose_session_went_idle_is_replaced_by_another_sessions_prompt() {
    let world = World::new();
    let then = now_plus(-3_600);
    let out = world.prompt_with(
        &bare_prompt("codex", "A", &world.workspace, "$ralph-loop first task"),
        &[("RALPH_HOOK_NOW", &then)],
    );
    assert_eq!(
        json_out(&out)["hookSpecificOutput"]["hookEventName"],
        "UserPromptSubmit"
    );
    // Session A was killed an hour ago; session B asks for a loop now.
    let out = world.prompt(&bare_prompt(
        "codex",
        "B",
        &world.workspace,
        "$ralph-loop second task",
    ));
    let answer = json_out(&out);
    assert!(answer.get("decision").is_none(), "{answer}");
    let note = answer["systemMessage"].as_str().unwrap();
    assert!(
        note.contains("replaced the loop of session A, idle since"),
        "{note}"
    );
    assert!(note.contains("1h"), "{note}");
    assert_eq!(world.state()["prompt"], "second task");
    assert_eq!(world.state()["session_id"], "B");
    let history = world.history();
    let ended = history
        .iter()
        .find(|h| h["decision"] == "finish")
        .expect("the old loop's end");
    assert_eq!(ended["reason"], "replaced", "{ended}");
    assert_eq!(ended["session_id"], "B", "{ended}");
    assert_ne!(ended["loop_id"], world.state()["loop_id"], "{ended}");
    let detail = ended["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("idle for 1h"), "{ended}");
    // A's late stop is another session's now: allowed, silently, nothing written.
    let before = world.record().unwrap();
    assert_silent_allow(&world.stop(&codex_stop("A", &world.workspace, Some("back"))));
    assert_eq!(world.record().unwrap(), before);
    // B's loop runs.
    assert_block(&world.stop(&codex_stop("B", &world.workspace, Some("working"))));
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn a_session_writing_its_transcript_is_live_and_its_loop_is_kept() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout-A.jsonl");
    fs_err::write(&transcript, "{}\n").unwrap();
    let then = now_plus(-3_600);
    // The loop started an hour ago and no stop came since (a long turn) …
    let mut payload = prompt_payload("codex", "A", &world.workspace, "$ralph-loop first task");
    payload["transcript_path"] = json!(transcript);
    world.prompt_with(&payload, &[("RALPH_HOOK_NOW", &then)]);
    assert_eq!(world.record().unwrap()["transcript"], json!(transcript));
    // … but A's transcript was written just now: A is mid-turn, B is refused.
    let second = bare_prompt("codex", "B", &world.workspace, "$ralph-loop second task");
    let soon = now_plus(120);
    let out = world.prompt_with(&second, &[("RALPH_HOOK_NOW", &soon)]);
    let answer = json_out(&out);
    assert_eq!(answer["decision"], "block", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("session A"), "{reason}");
    assert!(
        reason.contains("last active 1m") || reason.contains("last active 2m"),
        "{reason}"
    );
    assert_eq!(world.state()["prompt"], "first task");
    // Once the transcript has been quiet past the threshold, B's prompt replaces it.
    let quiet = std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 60);
    fs_err::File::options()
        .write(true)
        .open(&transcript)
        .unwrap()
        .file()
        .set_modified(quiet)
        .unwrap();
    let out = world.prompt_with(&second, &[("RALPH_HOOK_NOW", &soon)]);
    let note = json_out(&out)["systemMessage"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("replaced the loop of session A"), "{note}");
    assert_eq!(world.state()["prompt"], "second task");
}

#[test]
fn a_symlinked_transcript_is_not_a_sign_of_life() {
    let world = World::new();
    let fresh = world.temp.path().join("fresh.jsonl");
    fs_err::write(&fresh, "{}\n").unwrap();
    let link = world.temp.path().join("link.jsonl");
    symlink(&fresh, &link).unwrap();
    let mut payload = prompt_payload("codex", "A", &world.workspace, "$ralph-loop first");
    payload["transcript_path"] = json!(link);
    world.prompt_with(&payload, &[("RALPH_HOOK_NOW", &now_plus(-7_200))]);
    // The link's target is fresh, but the link itself is not followed: its own mtime
    // (now) is what counts, and it is not a regular file, so A has only its record.
    let out = world.prompt(&bare_prompt(
        "codex",
        "B",
        &world.workspace,
        "$ralph-loop second",
    ));
    assert!(json_out(&out).get("decision").is_none(), "{}", stdout(&out));
    assert_eq!(world.state()["prompt"], "second");
}

#[test]
fn a_stop_keeps_the_sessions_transcript_as_its_sign_of_life() {
    let world = World::new();
    world.prompt(&bare_prompt(
        "codex",
        "A",
        &world.workspace,
        "$ralph-loop task",
    ));
    assert!(world.record().unwrap().get("transcript").is_none());
    let transcript = world.temp.path().join("rollout-A.jsonl");
    fs_err::write(&transcript, "{}\n").unwrap();
    let mut stop = codex_stop("A", &world.workspace, Some("working"));
    stop["transcript_path"] = json!(transcript);
    assert_block(&world.stop(&stop));
    assert_eq!(world.record().unwrap()["transcript"], json!(transcript));
    // Another session's stop never sets it.
    let mut other = codex_stop("B", &world.workspace, Some("x"));
    other["transcript_path"] = json!("/elsewhere/b.jsonl");
    assert_silent_allow(&world.stop(&other));
    assert_eq!(world.record().unwrap()["transcript"], json!(transcript));
}

#[test]
fn replace_takes_over_a_live_loop_when_the_user_says_so_in_the_hosts_syntax() {
    let world = World::new();
    world.prompt(&prompt_payload(
        "claude",
        "A",
        &world.workspace,
        "/ralph-loop first",
    ));
    let out = world.prompt(&prompt_payload(
        "claude",
        "B",
        &world.workspace,
        "/ralph-loop second",
    ));
    let reason = json_out(&out)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("`/ralph-loop --replace TASK`"), "{reason}");
    assert!(!reason.contains("$ralph-loop"), "{reason}");
    let out = world.prompt(&prompt_payload(
        "claude",
        "B",
        &world.workspace,
        "/ralph-loop --replace second",
    ));
    let answer = json_out(&out);
    let note = answer["systemMessage"].as_str().unwrap();
    assert!(
        note.contains("replaced the loop of session A, as --replace asked"),
        "{note}"
    );
    let state: Value = serde_json::from_str(
        &fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["prompt"], "second");
    assert_eq!(state["session_id"], "B");
    assert_silent_allow(&world.stop(&claude_stop("A", &world.workspace, Some("late"))));
}

// ---- where and whose ----

#[test]
fn a_stop_in_a_subdirectory_finds_the_workspace_loop() {
    let world = World::new();
    world.start("S", &[]);
    let deep = world.workspace.join("src/a/b");
    fs_err::create_dir_all(&deep).unwrap();
    assert_block(&world.stop(&codex_stop("S", &deep, Some("working"))));
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn two_sessions_in_one_workspace_only_the_owner_is_continued() {
    let world = World::new();
    world.start("A", &[]);
    assert_silent_allow(&world.stop(&codex_stop("B", &world.workspace, Some("other work"))));
    assert_eq!(world.state()["iteration"], 0);
    assert_block(&world.stop(&codex_stop("A", &world.workspace, Some("loop work"))));
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn a_loop_started_without_a_session_is_claimed_by_the_first_session_that_stops() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&["start", "--workspace", ws, "--", "do", "the", "thing"]));
    assert_eq!(world.state()["session_id"], Value::Null);
    assert_eq!(world.state()["prompt"], "do the thing");
    assert_block(&world.stop(&codex_stop("FIRST", &world.workspace, Some("a"))));
    assert_eq!(world.state()["session_id"], "FIRST");
    assert_silent_allow(&world.stop(&codex_stop("SECOND", &world.workspace, Some("b"))));
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn start_inside_an_agent_binds_to_the_session_variable() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    let out = world
        .cmd()
        .env("CLAUDE_CODE_SESSION_ID", "claude-sess")
        .args(["start", "--workspace", ws, "--prompt", "t"])
        .output()
        .unwrap();
    assert_success(&out);
    let state: Value = serde_json::from_str(
        &fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["session_id"], "claude-sess");
    assert_eq!(state["agent"], "claude");
    assert_block(&world.stop(&claude_stop("claude-sess", &world.workspace, Some("x"))));
}

#[test]
fn a_planted_state_file_is_not_obeyed_until_adopted() {
    let world = World::new();
    // Another user's loop, copied into the repository.
    let other = World::new();
    other.start("THEIRS", &[]);
    fs_err::create_dir_all(world.workspace.join(".codex")).unwrap();
    fs_err::copy(other.state_path(), world.state_path()).unwrap();

    let hint =
        assert_allow_with_message(&world.stop(&codex_stop("MINE", &world.workspace, Some("x"))));
    assert!(hint.contains("ralph-hook adopt --workspace"), "{hint}");
    assert_silent_allow(&world.stop(&codex_stop("MINE", &world.workspace, Some("y"))));
    assert_eq!(
        world.state()["iteration"],
        0,
        "an untrusted loop never counts"
    );
    let shown = stdout(&world.run(&["show", "--workspace", world.workspace.to_str().unwrap()]));
    assert!(shown.contains("NOT FOLLOWED"), "{shown}");

    assert_success(&world.run(&["adopt", "--workspace", world.workspace.to_str().unwrap()]));
    assert_block(&world.stop(&codex_stop("MINE", &world.workspace, Some("z"))));
    assert_eq!(world.state()["session_id"], "MINE");
}

#[test]
fn a_version_1_state_from_the_bash_skill_is_shown_and_adoptable() {
    let world = World::new();
    fs_err::create_dir_all(world.workspace.join(".codex")).unwrap();
    fs_err::write(
        world.state_path(),
        include_str!("../fixtures/hosts/legacy-v1-state.json"),
    )
    .unwrap();
    let ws = world.workspace.to_str().unwrap();
    let shown = stdout(&world.run(&["show", "--workspace", ws]));
    assert!(
        shown.contains("Fix the failing tests and stop only when they pass"),
        "{shown}"
    );
    assert!(shown.contains("0/50"), "{shown}");
    let hint =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(hint.contains("old bash skill"), "{hint}");
    assert_success(&world.run(&["adopt", "--workspace", ws]));
    let state = world.state();
    assert_eq!(state["state_version"], 2);
    assert_eq!(state["created_at"], "2026-03-21T10:00:00Z");
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(reason.contains("Fix the failing tests and stop only when they pass"));
}

// ---- what counts as done ----

#[test]
fn a_promise_in_a_code_block_or_a_bare_done_does_not_end_the_loop() {
    let world = World::new();
    world.start("S", &[]);
    for message in [
        "When finished I will write:\n```\n<promise>DONE</promise>\n```",
        "the signal is `<promise>DONE</promise>`",
        "DONE",
    ] {
        assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(message))));
    }
    assert_eq!(world.state()["iteration"], 3);
    assert!(
        world
            .history()
            .iter()
            .all(|entry| entry["tag"] != "promise")
    );
}

#[test]
fn a_missing_message_is_read_from_the_end_of_the_transcript() {
    let world = World::new();
    world.start("S", &[]);
    let transcript = world.temp.path().join("rollout.jsonl");
    let line = json!({"type":"response_item","payload":{"type":"message","role":"assistant",
        "content":[{"type":"output_text","text": format!("finished {DONE}")}]}});
    fs_err::write(
        &transcript,
        format!("{{\"type\":\"session_meta\"}}\n{line}\n"),
    )
    .unwrap();
    let mut payload = codex_stop("S", &world.workspace, None);
    payload["transcript_path"] = json!(transcript);
    let message = assert_allow_with_message(&world.stop(&payload));
    assert!(message.contains("[completed]"), "{message}");
}

#[test]
fn thirty_two_stop_hooks_at_once_count_exactly_thirty_two_iterations() {
    let world = World::new();
    world.start("S", &["--max-iterations", "100", "--no-progress", "0"]);
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let mut cmd = world.cmd();
            cmd.arg("stop").write_stdin(
                codex_stop("S", &world.workspace, Some(&format!("turn {i}"))).to_string(),
            );
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for handle in handles {
        assert_block(&handle.join().unwrap());
    }
    assert_eq!(world.state()["iteration"], 32);
    let blocks = world
        .history()
        .iter()
        .filter(|e| e["decision"] == "block")
        .count();
    assert_eq!(blocks, 32);
}

// ---- bad input never traps ----

#[test]
fn garbage_on_stdin_allows_the_stop_with_one_stderr_line() {
    let world = World::new();
    world.start("S", &[]);
    for input in ["", "not json", "[1,2]", "{\"cwd\": 5}"] {
        let out = world.cmd().arg("stop").write_stdin(input).output().unwrap();
        assert_silent_allow(&out);
        assert_eq!(
            stderr(&out).lines().count(),
            1,
            "{input:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(world.state()["iteration"], 0);
}

#[test]
fn an_oversized_payload_allows_the_stop() {
    let world = World::new();
    let huge = format!(
        "{{\"cwd\":\"/\",\"last_assistant_message\":\"{}\"}}",
        "x".repeat(33 * 1024 * 1024)
    );
    let out = world.cmd().arg("stop").write_stdin(huge).output().unwrap();
    assert_silent_allow(&out);
    assert!(stderr(&out).contains("over 32 MiB"), "{}", stderr(&out));
}

#[test]
fn a_corrupt_state_file_nobody_started_is_left_alone_and_the_stop_allowed() {
    for bad in ["{ not json", "{\"active\": true}", "\u{0}\u{1}"] {
        let world = World::new();
        fs_err::create_dir_all(world.workspace.join(".codex")).unwrap();
        fs_err::write(world.state_path(), bad).unwrap();
        let out = world.stop(&codex_stop("S", &world.workspace, Some("x")));
        assert_silent_allow(&out);
        assert_eq!(stderr(&out), "", "{bad:?}");
        assert_eq!(fs_err::read_to_string(world.state_path()).unwrap(), bad);
        let names: Vec<_> = fs_err::read_dir(world.workspace.join(".codex"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "nothing was written beside it: {names:?}");
    }
}

#[test]
fn a_corrupt_record_is_moved_aside_and_the_stop_allowed() {
    let world = World::new();
    world.start("S", &[]);
    let record = world.loop_dir().join("record.json");
    fs_err::write(&record, "{ not json").unwrap();
    let out = world.stop(&codex_stop("S", &world.workspace, Some("x")));
    let message = assert_allow_with_message(&out);
    assert!(message.contains("unusable"), "{message}");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(!record.exists());
    let kept: Vec<_> = fs_err::read_dir(world.loop_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("record.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "the bad record is kept, not deleted");
    assert_eq!(fs_err::read_to_string(&kept[0]).unwrap(), "{ not json");
    // The loop is off; its state file is left for the user, who may adopt it.
    let hint =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("y"))));
    assert!(hint.contains("ralph-hook adopt"), "{hint}");
}

#[test]
fn a_corrupt_record_is_set_aside_by_the_same_rule_in_a_stop_and_in_start() {
    for command in ["stop", "start"] {
        let world = World::new();
        world.start("S", &[]);
        let record = world.loop_dir().join("record.json");
        fs_err::write(&record, "{ not json").unwrap();
        let ws = world.workspace.to_str().unwrap();
        let out = match command {
            "stop" => world.stop(&codex_stop("S", &world.workspace, Some("x"))),
            _ => world.run(&["start", "--workspace", ws, "--prompt", "Another task"]),
        };
        let said = stderr(&out);
        assert!(
            said.contains("is unusable")
                && said.contains("moved to")
                && said.contains("the loop is off"),
            "{command}: {said}"
        );
        assert!(out.status.success(), "{command}: {said}");
        let kept: Vec<_> = fs_err::read_dir(world.loop_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("record.json.corrupt-"))
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "{command}: the bad record is kept, not deleted"
        );
        assert_eq!(fs_err::read_to_string(&kept[0]).unwrap(), "{ not json");
        let history = world.history();
        let error = history
            .iter()
            .find(|line| line["reason"] == "error")
            .unwrap_or_else(|| panic!("{command}: no error line in {history:?}"));
        assert_eq!(error["event"], command, "{command}");
        assert_eq!(error["decision"], "finish", "{command}");
        assert!(
            error["detail"]
                .as_str()
                .is_some_and(|d| d.contains("moved to")),
            "{command}: {error}"
        );
        // A stop leaves the loop off; `start` goes on to start the new one.
        assert_eq!(world.record().is_some(), command == "start", "{command}");
    }
}

#[test]
fn a_corrupt_record_is_only_looked_at_by_cancel_adopt_and_show_which_say_how_to_get_past_it() {
    for command in ["cancel", "adopt", "show", "pause"] {
        let world = World::new();
        world.start("S", &[]);
        let record = world.loop_dir().join("record.json");
        fs_err::write(&record, "{ not json").unwrap();
        let out = world.run(&[command, "--workspace", world.workspace.to_str().unwrap()]);
        assert!(!out.status.success(), "{command}");
        assert!(
            stderr(&out).contains("move it away (the loop is then off) or fix it"),
            "{command}: {}",
            stderr(&out)
        );
        assert_eq!(
            fs_err::read_to_string(&record).unwrap(),
            "{ not json",
            "{command}"
        );
    }
}

#[test]
fn a_state_path_that_is_a_directory_or_a_symlink_is_not_followed() {
    // Nobody's loop: nothing is obeyed, nothing touched.
    let world = World::new();
    fs_err::create_dir_all(world.state_path()).unwrap();
    assert_silent_allow(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(world.state_path().is_dir());

    let world = World::new();
    let outside = world.temp.path().join("outside.json");
    let other = World::new();
    other.start("S", &[]);
    fs_err::copy(other.state_path(), &outside).unwrap();
    let before = fs_err::read_to_string(&outside).unwrap();
    fs_err::create_dir_all(world.workspace.join(".codex")).unwrap();
    symlink(&outside, world.state_path()).unwrap();
    let out = world.stop(&codex_stop("S", &world.workspace, Some("x")));
    assert_success(&out);
    assert_eq!(
        stdout(&out),
        "",
        "a linked file is not a loop to hint about"
    );
    assert_eq!(fs_err::read_to_string(&outside).unwrap(), before);

    // The user's own loop whose state file became a link: the loop goes on from the
    // record, and the link is replaced, never written through.
    let world = World::new();
    world.start("S", &[]);
    let target = world.temp.path().join("target.txt");
    fs_err::write(&target, "keep me").unwrap();
    fs_err::remove_file(world.state_path()).unwrap();
    symlink(&target, world.state_path()).unwrap();
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert_eq!(fs_err::read_to_string(&target).unwrap(), "keep me");
    assert!(!world.state_path().is_symlink());
    assert_eq!(world.state()["iteration"], 1);
}

#[test]
fn hook_commands_never_exit_2_even_on_a_bad_command_line() {
    let world = World::new();
    for args in [
        vec!["stop", "--bogus"],
        vec!["stop", "--agent", "nope"],
        vec!["prompt", "--agent"],
        vec!["prompt", "extra", "words"],
    ] {
        let out = world.cmd().args(&args).write_stdin("{}").output().unwrap();
        assert_silent_allow(&out);
        assert!(
            stderr(&out).contains("allowing the stop"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_ralph_loop_stop_entry_point_acts_as_the_codex_stop_hook() {
    let world = World::new();
    world.start("S", &[]);
    let link = world.temp.path().join("ralph-loop-stop.sh");
    symlink(assert_cmd::cargo::cargo_bin("ralph-hook"), &link).unwrap();
    let out = std::process::Command::new(&link)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let payload = claude_stop("S", &world.workspace, Some("x")).to_string();
            child.stdin.take().unwrap().write_all(payload.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    // A payload without turn_id would mean Claude; the entry point says Codex.
    assert_block(&out);
}

// ---- start's own checks ----

#[test]
fn start_refuses_bad_arguments_with_exit_64_and_writes_nothing() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    let missing = world.temp.path().join("missing");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["start", "--workspace", "relative/dir", "--prompt", "t"],
            "relative/dir is not an existing directory",
        ),
        (
            vec![
                "start",
                "--workspace",
                missing.to_str().unwrap(),
                "--prompt",
                "t",
            ],
            "not an existing directory",
        ),
        (
            vec!["start", "--workspace", ws, "--prompt", "  "],
            "no task",
        ),
        (
            vec![
                "start",
                "--workspace",
                ws,
                "--prompt",
                "t",
                "--magic-word",
                "bad word",
            ],
            "--magic-word",
        ),
        (
            vec![
                "start",
                "--workspace",
                ws,
                "--prompt",
                "t",
                "--max-iterations",
                "-3",
            ],
            "--max-iterations",
        ),
        (
            vec![
                "start",
                "--workspace",
                ws,
                "--prompt",
                "t",
                "--max-duration",
                "soon",
            ],
            "--max-duration",
        ),
        (
            vec![
                "start",
                "--workspace",
                ws,
                "--prompt",
                "t",
                "--no-progress",
                "-1",
            ],
            "--no-progress",
        ),
        (
            vec!["start", "--workspace", ws, "--prompt", "t", "--verify", ""],
            "--verify",
        ),
        (vec!["start", "--workspace", ws, "--bogus"], "--bogus"),
    ];
    for (args, expected) in cases {
        let out = world.run(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !world.workspace.join(".codex").exists(),
            "{args:?} wrote something"
        );
    }
}

#[test]
fn start_refuses_to_replace_an_active_loop_without_force() {
    let world = World::new();
    world.start("S", &[]);
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["start", "--workspace", ws, "--prompt", "other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(world.state()["prompt"], "Fix the failing tests");
    assert_success(&world.run(&["start", "--workspace", ws, "--prompt", "other", "--force"]));
    assert_eq!(world.state()["prompt"], "other");
}

#[test]
fn uncapped_loops_need_an_explicit_zero_and_get_a_warning() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&[
        "start",
        "--workspace",
        ws,
        "--prompt",
        "t",
        "--max-iterations",
        "0",
    ]);
    assert_success(&out);
    assert!(stderr(&out).contains("no iteration cap"));
    assert_eq!(world.state()["max_iterations"], 0);
}

#[test]
fn log_prints_one_line_per_decision() {
    let world = World::new();
    world.start("S", &["--max-iterations", "1"]);
    world.stop(&codex_stop("S", &world.workspace, Some("a")));
    world.stop(&codex_stop("S", &world.workspace, Some("b")));
    let ws = world.workspace.to_str().unwrap();
    let text = stdout(&world.run(&["log", "--workspace", ws]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("start"));
    assert!(
        lines[1].contains("block") && lines[1].contains("1/1") && lines[1].contains("tag=none")
    );
    assert!(lines[2].contains("finish") && lines[2].contains("reason=max_iterations"));
    let json = stdout(&world.run(&["log", "--workspace", ws, "--json"]));
    assert_eq!(json.lines().count(), 3);
}

/// Runs `ralph-hook ARGS` with `dir` mounted read-only in a private mount namespace, as
/// the agent's sandbox mounts it; `None` when this machine cannot make one.
fn run_with_read_only(
    world: &World,
    dir: &std::path::Path,
    args: &str,
) -> Option<std::process::Output> {
    if !std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!(
            "SKIP: cannot create a mount namespace here (unshare -m), so no read-only workspace"
        );
        return None;
    }
    let bin = assert_cmd::cargo::cargo_bin("ralph-hook");
    let script = format!(
        "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' && exec '{bin}' {args}",
        d = dir.display(),
        bin = bin.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("HOME", &world.home)
        .env("CODEX_THREAD_ID", "sandboxed-session")
        .output()
        .unwrap();
    Some(out)
}

#[test]
fn start_in_a_read_only_sandbox_explains_that_the_prompt_hook_starts_loops() {
    let world = World::new();
    let args = format!(
        "start --workspace '{}' --prompt task",
        world.workspace.display()
    );
    // The sandbox: the user's state folder (under $HOME) is read-only.
    let Some(out) = run_with_read_only(&world, &world.state_dir, &args) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(
        err.contains("$ralph-loop TASK") && err.contains("ralph-hook show"),
        "{err}"
    );
    assert!(
        !world.workspace.join(".codex").exists(),
        "nothing half-written"
    );
}

#[test]
fn cancel_from_a_sandbox_that_cannot_write_the_loop_folder_ends_the_loop_at_the_next_stop() {
    let world = World::new();
    world.start("S", &[]);
    let args = format!("cancel --workspace '{}'", world.workspace.display());
    let Some(out) = run_with_read_only(&world, &world.state_dir, &args) else {
        return;
    };
    assert_success(&out);
    assert!(
        stdout(&out).contains("the next stop ends the loop"),
        "{}",
        stdout(&out)
    );
    assert!(
        world.record().is_some(),
        "the sandbox could not remove the record"
    );
    let message =
        assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(message.contains("[cancelled]"), "{message}");
    assert!(!world.state_path().exists());
    assert!(
        !world.workspace.join(".ralph-loop-cancel").exists(),
        "the request is consumed"
    );
}

#[test]
fn a_cancel_request_naming_another_loop_is_ignored() {
    let world = World::new();
    world.start("S", &[]);
    fs_err::write(
        world.workspace.join(".ralph-loop-cancel"),
        "someone-elses-loop\n",
    )
    .unwrap();
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("x"))));
    assert!(!world.workspace.join(".ralph-loop-cancel").exists());
}

#[test]
fn starting_a_loop_sweeps_temp_files_a_killed_writer_left_behind() {
    let world = World::new();
    let dir = world.workspace.join(".codex");
    fs_err::create_dir_all(&dir).unwrap();
    let stale = dir.join(".ralph-loop-state.abc123.tmp");
    fs_err::write(&stale, "{\"half\":").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs_err::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = dir.join(".ralph-loop-state.def456.tmp");
    fs_err::write(&fresh, "in progress").unwrap();
    world.start("S", &[]);
    assert!(!stale.exists(), "an hour-old temp file is swept");
    assert!(
        fresh.exists(),
        "a write that may be in progress is left alone"
    );
}

#[test]
fn a_prompt_loop_replaces_an_unclaimed_loop_the_user_started_from_a_terminal() {
    let world = World::new();
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&["start", "--workspace", ws, "--prompt", "old task"]));
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop new task",
    ));
    assert!(
        json_out(&out)["hookSpecificOutput"].is_object(),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.state()["prompt"], "new task");
    assert_eq!(world.state()["session_id"], "S");
    let replaced = world
        .history()
        .iter()
        .filter(|e| e["reason"] == "replaced")
        .count();
    assert_eq!(replaced, 1, "the old loop's end is in the history");
}

#[test]
fn a_state_file_that_cannot_be_written_does_not_stop_the_users_loop() {
    let world = World::new();
    world.start("S", &[]);
    fs_err::remove_file(world.state_path()).unwrap();
    fs_err::create_dir_all(world.state_path().join("in-the-way")).unwrap();
    let out = world.stop(&codex_stop("S", &world.workspace, Some("working")));
    let reason = assert_block(&out);
    assert!(reason.contains("iteration 1/50"), "{reason}");
    assert!(
        stderr(&out).contains("goes on from your record"),
        "{}",
        stderr(&out)
    );
    assert_eq!(world.record().unwrap()["state"]["iteration"], 1);
}

#[test]
fn start_refuses_a_state_folder_inside_the_workspace() {
    let world = World::new();
    let inside = world.workspace.join("state");
    let out = world
        .cmd()
        .env("RALPH_HOOK_STATE_DIR", &inside)
        .args(["start", "--workspace", world.workspace.to_str().unwrap()])
        .args(["--prompt", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inside the workspace"),
        "{}",
        stderr(&out)
    );
    assert!(!inside.exists() && !world.state_path().exists());
}

#[test]
fn commands_without_a_loop_fail_with_an_error_scripts_can_match() {
    use ralph_hook::testing::engine::{lifecycle, ownership::Registry, store::Store};
    use ralph_hook::testing::error::Error;
    let world = World::new();
    let registry = Registry::at(&world.state_dir);
    let store = Store::new(
        &world.workspace,
        ralph_hook::testing::agent::Agent::Codex,
        &registry,
    );
    let now = std::time::SystemTime::now();
    match lifecycle::cancel(&store, now) {
        Err(Error::NoLoop {
            action,
            unadopted: None,
            ..
        }) => assert_eq!(action, "cancel"),
        other => panic!("{other:?}"),
    }
    match lifecycle::set_paused(&store, true, now) {
        Err(err @ Error::NoLoop { .. }) => {
            assert_eq!(err.code(), 1);
            assert!(err.to_string().starts_with("no loop to pause in "), "{err}");
        }
        other => panic!("{other:?}"),
    }
    world.start("S", &[]);
    let out = world.run(&[
        "start",
        "--workspace",
        world.workspace.to_str().unwrap(),
        "--prompt",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a loop is already active"),
        "{}",
        stderr(&out)
    );
}
