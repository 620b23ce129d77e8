//! What the hosts say about a loop's session besides its stops, through the binary:
//! Claude Code's prompt `source` (only the user's own words act on a loop), background
//! work on Claude Code's Stop (a wait, never counted), the user taking the wheel
//! (pause, then `resume` with their words), SessionEnd (orphaned at once) and
//! StopFailure (kept in the history, `--notify` runs, the loop stays).

use std::process::Output;

use serde_json::{Value, json};

use crate::support::*;

const BLOCKED: &str = "I cannot reach the staging database.\n\n<ralph-blocked>Need the staging database password</ralph-blocked>";
const CONTINUE: &str = "Step done. <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";

fn claude_state(world: &World) -> Value {
    let text = fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json"))
        .expect("the Claude state file");
    serde_json::from_str(&text).expect("state is JSON")
}

fn claude_history(world: &World) -> Vec<Value> {
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["log", "--json", "--agent", "claude", "--workspace", ws]);
    assert_success(&out);
    stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn claude_prompt(world: &World, session: &str, text: &str, source: Option<&str>) -> Output {
    let mut payload = prompt_payload("claude", session, &world.workspace, text);
    if let Some(source) = source {
        payload["source"] = json!(source);
    }
    let out = world.prompt(&payload);
    assert_success(&out);
    out
}

fn start_claude(world: &World, session: &str) {
    let out = claude_prompt(
        world,
        session,
        "/ralph-loop migrate the staging data --max-iterations 10 --no-progress 2",
        None,
    );
    assert!(
        json_out(&out)["hookSpecificOutput"]["additionalContext"].is_string(),
        "{}",
        stdout(&out)
    );
}

fn hook(world: &World, name: &str, payload: &Value) -> Output {
    let out = world
        .cmd()
        .arg(name)
        .write_stdin(payload.to_string())
        .output()
        .expect("run the hook");
    assert_success(&out);
    assert_eq!(stdout(&out), "", "{name} prints nothing");
    out
}

#[test]
fn a_prompt_that_is_not_the_users_never_resumes_starts_or_cancels_a_loop() {
    let world = World::new();
    start_claude(&world, "S");
    assert_allow_with_message(&world.stop(&claude_stop("S", &world.workspace, Some(BLOCKED))));
    assert_eq!(claude_state(&world)["paused"], true);
    let loop_id = claude_state(&world)["loop_id"].clone();
    for source in [
        "sdk",
        "system",
        "loop_wakeup",
        "schedule_wakeup",
        "poll_event",
    ] {
        for text in [
            "wake up: check the deploy",
            "/ralph-loop cancel",
            "/ralph-loop resume",
            "/ralph-loop something else --replace",
        ] {
            let out = claude_prompt(&world, "S", text, Some(source));
            assert_eq!(stdout(&out), "", "{source}: {text}");
            let state = claude_state(&world);
            assert_eq!(state["paused"], true, "{source}: {text}");
            assert_eq!(state["loop_id"], loop_id, "{source}: {text}");
        }
        let last = claude_history(&world).last().cloned().unwrap();
        assert_eq!(
            (last["event"].as_str(), last["decision"].as_str()),
            (Some("prompt"), Some("ignore")),
            "{last}"
        );
        let detail = last["detail"].as_str().unwrap();
        assert!(
            detail.contains(source) && detail.contains("not the user's own words"),
            "{detail}"
        );
    }
    // The user's own answer still resumes it, with or without `source`.
    let out = claude_prompt(&world, "S", "The password is in the vault.", Some("user"));
    assert!(
        json_out(&out)["systemMessage"]
            .as_str()
            .unwrap()
            .contains("resumed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(claude_state(&world)["paused"], json!(null));
}

#[test]
fn a_prompt_from_a_program_starts_no_loop() {
    let world = World::new();
    let out = claude_prompt(&world, "S", "/ralph-loop do it all", Some("sdk"));
    assert_eq!(stdout(&out), "");
    assert!(
        !world
            .workspace
            .join(".claude/ralph-loop-state.json")
            .exists(),
        "no loop was started"
    );
}

fn with_background(mut payload: Value) -> Value {
    payload["background_tasks"] = json!([
        {"id": "b1", "type": "shell", "status": "running", "description": "npm test -- --slow"}
    ]);
    payload["session_crons"] = json!([]);
    payload
}

#[test]
fn stops_with_background_work_spend_no_iteration_and_never_trip_the_brake() {
    let world = World::new();
    start_claude(&world, "S");
    assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
    assert_eq!(claude_state(&world)["iteration"], 1);
    // Five identical stops while the tests run in the background: with --no-progress 2
    // they would end the loop if they counted.
    for _ in 0..5 {
        let out = world.stop(&with_background(claude_stop(
            "S",
            &world.workspace,
            Some("The slow tests run in the background; I will look when they finish."),
        )));
        assert_silent_allow(&out);
        let state = claude_state(&world);
        assert_eq!(state["active"], true);
        assert_eq!(state["iteration"], 1, "no iteration spent");
        assert!(
            state["waiting"]
                .as_str()
                .unwrap()
                .contains("npm test -- --slow"),
            "{state}"
        );
    }
    let last = claude_history(&world).last().cloned().unwrap();
    assert_eq!(last["decision"], "wait", "{last}");
    let show = stdout(&world.run(&["show", "--agent", "claude"]));
    assert!(
        show.contains("waiting") && show.contains("background work"),
        "{show}"
    );
    // The host's wake-up prompt does not pause the loop, and the turn it brings goes on.
    assert_eq!(
        stdout(&claude_prompt(
            &world,
            "S",
            "<task-notification>npm test finished</task-notification>",
            None
        )),
        ""
    );
    let reason = assert_block(&world.stop(&claude_stop(
        "S",
        &world.workspace,
        Some("Tests finished: 2 fail. <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>"),
    )));
    assert!(reason.contains("iteration 2/10"), "{reason}");
    assert_eq!(claude_state(&world)["waiting"], json!(null));
}

#[test]
fn the_user_taking_the_wheel_pauses_the_loop_and_resume_goes_on_with_their_words() {
    let world = World::new();
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop migrate the staging data --max-iterations 10",
    ));
    assert_success(&out);
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(CONTINUE))));

    // Another session's prompt is not steering this loop.
    let other = world.prompt(&prompt_payload("codex", "OTHER", &world.workspace, "hi"));
    assert_eq!(stdout(&other), "");
    assert_eq!(world.state()["paused"], json!(null));

    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "Stop: use the v2 schema for the users table, not v1.",
    ));
    let answer = json_out(&out);
    assert_eq!(
        answer["systemMessage"],
        "ralph-loop paused while you steer; `$ralph-loop resume` goes on."
    );
    let context = answer["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(context.contains("taken the wheel"), "{context}");
    let state = world.state();
    assert_eq!(state["paused"], true);
    assert_eq!(
        state["steering"],
        "Stop: use the v2 schema for the users table, not v1."
    );
    let last = world.history().last().cloned().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["decision"].as_str()),
        (Some("prompt"), Some("pause"))
    );

    // The turn the user steers ends without a continuation, and counts nothing.
    assert_silent_allow(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("Switched to the v2 schema."),
    )));
    assert_eq!(world.state()["iteration"], 1);
    // A second plain prompt while paused leaves it paused.
    assert_eq!(
        stdout(&world.prompt(&prompt_payload("codex", "S", &world.workspace, "thanks"))),
        ""
    );

    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop resume",
    ));
    let context = json_out(&out)["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        context.contains("resumes")
            && context.contains("use the v2 schema for the users table, not v1."),
        "the user's words go on with the loop: {context}"
    );
    let state = world.state();
    assert_eq!(state["paused"], json!(null));
    assert_eq!(state["steering"], json!(null));
    let reason = assert_block(&world.stop(&codex_stop("S", &world.workspace, Some(CONTINUE))));
    assert!(reason.contains("iteration 2/10"), "{reason}");
}

fn session_end(session: &str, cwd: &std::path::Path, reason: &str) -> Value {
    json!({
        "session_id": session,
        "transcript_path": null,
        "cwd": cwd,
        "hook_event_name": "SessionEnd",
        "reason": reason,
    })
}

#[test]
fn session_end_orphans_the_loop_at_once_and_a_new_loop_replaces_it_without_asking() {
    let world = World::new();
    start_claude(&world, "S");
    assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
    // Another session's end changes nothing.
    hook(
        &world,
        "session-end",
        &session_end("OTHER", &world.workspace, "other"),
    );
    assert_eq!(claude_state(&world)["orphaned"], json!(null));

    hook(
        &world,
        "session-end",
        &session_end("S", &world.workspace, "prompt_input_exit"),
    );
    let state = claude_state(&world);
    assert!(
        state["orphaned"]
            .as_str()
            .unwrap()
            .contains("prompt_input_exit"),
        "{state}"
    );
    assert_eq!(state["active"], true);
    let last = claude_history(&world).last().cloned().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["decision"].as_str()),
        (Some("session_end"), Some("orphan"))
    );
    let show = stdout(&world.run(&["show", "--agent", "claude"]));
    assert!(
        show.contains("orphaned") && show.contains("session ended"),
        "{show}"
    );
    let ws = world.workspace.to_str().unwrap();
    let wait = world.run(&[
        "wait",
        "--agent",
        "claude",
        "--workspace",
        ws,
        "--timeout",
        "5s",
    ]);
    assert_eq!(wait.status.code(), Some(17), "{}", stdout(&wait));
    assert!(
        stdout(&wait).contains("[session_ended]"),
        "{}",
        stdout(&wait)
    );

    // A new session's loop replaces it at once, without --replace.
    let out = claude_prompt(&world, "NEW", "/ralph-loop the next task", None);
    let note = json_out(&out)["systemMessage"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("whose session had ended"), "{note}");
    let state = claude_state(&world);
    assert_eq!(state["session_id"], "NEW");
    assert_eq!(state["orphaned"], json!(null));
}

#[test]
fn the_ended_session_coming_back_goes_on_with_its_loop() {
    let world = World::new();
    start_claude(&world, "S");
    hook(
        &world,
        "session-end",
        &session_end("S", &world.workspace, "other"),
    );
    assert!(claude_state(&world)["orphaned"].is_string());
    let reason = assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
    assert!(reason.contains("iteration 1/10"), "{reason}");
    assert_eq!(claude_state(&world)["orphaned"], json!(null));
}

#[test]
fn a_stop_failure_is_kept_in_the_history_runs_notify_and_the_loop_stays() {
    let world = World::new();
    let marker = world.home.join("notified");
    let notify = format!(
        r#"printf '%s|%s' "$RALPH_OUTCOME" "$RALPH_REASON" > '{}'"#,
        marker.display()
    );
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&[
        "start",
        "--agent",
        "claude",
        "--workspace",
        ws,
        "--session",
        "S",
        "--prompt",
        "migrate the data",
        "--max-iterations",
        "10",
        "--notify",
        &notify,
    ]));
    let payload = json!({
        "session_id": "S",
        "transcript_path": "/nowhere.jsonl",
        "cwd": world.workspace,
        "hook_event_name": "StopFailure",
        "error": "rate_limit",
        "error_details": "429 Too Many Requests",
        "last_assistant_message": null,
    });
    hook(&world, "stop-failure", &payload);
    let last = claude_history(&world).last().cloned().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["decision"].as_str()),
        (Some("stop_failure"), Some("error")),
        "{last}"
    );
    let detail = last["detail"].as_str().unwrap();
    assert!(
        detail.contains("rate_limit") && detail.contains("429"),
        "{detail}"
    );
    let state = claude_state(&world);
    assert_eq!(
        (state["active"].clone(), state["paused"].clone()),
        (json!(true), json!(null))
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let notice = fs_err::read_to_string(&marker).unwrap_or_default();
    assert!(
        notice.contains("stop_failure"),
        "the notify command ran: {notice:?}"
    );
    assert_eq!(state["stop_failure"], "rate_limit");
    // The user's next words in the session go on with the loop (not steering).
    let out = claude_prompt(&world, "S", "go on", None);
    let answer = json_out(&out);
    assert!(
        answer["systemMessage"]
            .as_str()
            .unwrap()
            .contains("goes on at iteration 0/10 after the API error (rate_limit)"),
        "{answer}"
    );
    let state = claude_state(&world);
    assert_eq!(state["stop_failure"], Value::Null, "{state}");
    assert_eq!(state["paused"], Value::Null, "{state}");
    // The next stop of the session goes on as usual.
    assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
}

#[test]
fn broken_or_foreign_payloads_of_the_new_hooks_fail_open_and_change_nothing() {
    let world = World::new();
    start_claude(&world, "S");
    let before = claude_state(&world);
    for (name, stdin) in [
        ("session-end", "not json".to_string()),
        ("stop-failure", "[1,2]".to_string()),
        (
            "session-end",
            json!({"session_id": "S", "cwd": world.workspace, "hook_event_name": "Stop"})
                .to_string(),
        ),
        (
            "stop-failure",
            json!({"session_id": "S", "cwd": world.workspace, "hook_event_name": "SessionEnd"})
                .to_string(),
        ),
    ] {
        let out = world.cmd().arg(name).write_stdin(stdin).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert_eq!(stdout(&out), "", "{name}");
    }
    assert_eq!(claude_state(&world), before);
}

/// Claude Code 2.1.332 shortens hook output past about 50,000 characters; every answer
/// stays far below it, whatever the task's size.
const OUTPUT_BOUND: usize = 20_000;

#[test]
fn a_huge_task_goes_into_no_hook_answer_whole() {
    for one_line in [true, false] {
        let world = World::new();
        let task = if one_line {
            "x".repeat(1_000_000)
        } else {
            "step\n".repeat(200_000)
        };
        let out = claude_prompt(&world, "S", &format!("/ralph-loop {task}"), None);
        let answer = stdout(&out);
        assert!(
            answer.contains("additionalContext") && answer.len() < OUTPUT_BOUND,
            "the prompt hook's answer is {} characters",
            answer.len()
        );
        assert_eq!(
            claude_state(&world)["prompt"].as_str().map(str::len),
            Some(task.trim().len()),
            "the record keeps the whole task"
        );
        let reason = assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
        assert!(
            reason.len() < OUTPUT_BOUND,
            "a block reason of {}",
            reason.len()
        );
        // Blocked, then answered: the resumed context is bounded too.
        assert_allow_with_message(&world.stop(&claude_stop("S", &world.workspace, Some(BLOCKED))));
        let answer = stdout(&claude_prompt(&world, "S", "the password is hunter2", None));
        assert!(
            answer.contains("resumes") && answer.len() < OUTPUT_BOUND,
            "the resumed context is {} characters",
            answer.len()
        );
        let status = stdout(&claude_prompt(&world, "S", "/ralph-loop status", None));
        assert!(
            status.len() < OUTPUT_BOUND,
            "status is {} characters",
            status.len()
        );
    }
}

#[test]
fn doctor_says_that_claude_bare_skips_every_hook() {
    let world = World::new();
    fs_err::create_dir_all(world.home.join(".claude")).unwrap();
    assert_success(&world.run(&["install", "--agent", "claude"]));
    let out = world.run(&["doctor"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("`claude --bare` skips every hook"), "{text}");
}

#[test]
fn claudes_task_notification_prompt_is_the_hosts_and_never_steers_the_loop() {
    let world = World::new();
    start_claude(&world, "S");
    assert_block(&world.stop(&claude_stop("S", &world.workspace, Some(CONTINUE))));
    let mut payload: Value = serde_json::from_str(include_str!(
        "../fixtures/hosts/claude-2.1.332/user-prompt-submit-task-notification.json"
    ))
    .unwrap();
    payload["session_id"] = json!("S");
    payload["cwd"] = json!(world.workspace);
    let out = world.prompt(&payload);
    assert_success(&out);
    assert_eq!(stdout(&out), "");
    let state = claude_state(&world);
    assert_eq!(state["paused"], Value::Null, "{state}");
    let last = claude_history(&world).last().cloned().unwrap();
    assert_eq!(last["decision"], "ignore", "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("task-notification"),
        "{last}"
    );
}

#[test]
fn a_session_end_under_a_live_run_is_no_end_for_wait() {
    use ralph_hook::testing::agent::Agent;
    use ralph_hook::testing::engine::supervision::{RunSpec, Supervision};
    let world = World::new();
    start_claude(&world, "S");
    // The client of a `ralph-hook run` exited (an API error): its session ended, and the
    // supervisor is about to resume it.
    hook(
        &world,
        "session-end",
        &session_end("S", &world.workspace, "other"),
    );
    let dir = world
        .loop_dirs()
        .into_iter()
        .find(|dir| {
            dir.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("claude-"))
        })
        .expect("the claude loop's folder");
    let supervisor = Supervision {
        loop_id: claude_state(&world)["loop_id"].as_str().unwrap().into(),
        agent: Agent::Claude,
        workspace: world.workspace.clone(),
        spec: RunSpec {
            client: "/bin/true".into(),
            client_args: Vec::new(),
            max_restarts: 5,
            first_prompt: "task".into(),
        },
        // This test's own process stands in for the live supervisor.
        pid: std::process::id(),
        heartbeat: ralph_hook::testing::clock::format(std::time::SystemTime::now()),
        detached: true,
        client_pid: None,
        launches: 1,
        restarts: 0,
        next_attempt: None,
        last_output: None,
        exited: None,
    };
    supervisor.write(&dir).expect("write the supervisor file");
    let ws = world.workspace.to_str().unwrap();
    let wait = world.run(&[
        "wait",
        "--agent",
        "claude",
        "--workspace",
        ws,
        "--timeout",
        "1s",
    ]);
    assert_eq!(wait.status.code(), Some(8), "{}", stdout(&wait));
}
