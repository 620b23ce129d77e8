//! The blocked signal through the binary: the agent's `<ralph-blocked>reason</ralph-blocked>`
//! lets the turn end and pauses the loop with the reason shown to the user; the user's
//! next prompt in that session resumes it with their answer; `resume` and `cancel` work
//! as they say; a blocked tag in code or a placeholder is not a block.

use crate::support::*;

const BLOCKED: &str = "I cannot reach the staging database from here.\n\n<ralph-blocked>Need the staging database password</ralph-blocked>";

fn start(world: &World) {
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop migrate the staging data --max-iterations 10",
    ));
    assert_success(&out);
    let context = json_out(&out)["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        context.contains("<ralph-blocked>") && context.contains("not a way out of hard"),
        "the rules say when to block and when not: {context}"
    );
}

fn stop(world: &World, session: &str, message: &str) -> std::process::Output {
    world.stop(&codex_stop(session, &world.workspace, Some(message)))
}

fn prompt(world: &World, session: &str, text: &str) -> std::process::Output {
    let out = world.prompt(&prompt_payload("codex", session, &world.workspace, text));
    assert_success(&out);
    out
}

#[test]
fn a_blocked_agent_pauses_the_loop_and_the_users_next_prompt_resumes_it_to_completion() {
    let world = World::new();
    start(&world);
    assert_block(&stop(
        &world,
        "S",
        "Step one done. <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>",
    ));

    let message = assert_allow_with_message(&stop(&world, "S", BLOCKED));
    assert!(
        message.contains("Need the staging database password") && message.contains("resume"),
        "the user sees why and how to go on: {message}"
    );
    let state = world.state();
    assert_eq!(state["paused"], true);
    assert_eq!(state["blocked"], "Need the staging database password");
    assert_eq!(state["iteration"], 1, "waiting on the user is not counted");
    let entry = world.history().last().cloned().unwrap();
    assert_eq!(
        (entry["decision"].as_str(), entry["reason"].as_str()),
        (Some("pause"), Some("blocked"))
    );
    assert_eq!(entry["detail"], "Need the staging database password");
    let show = stdout(&world.run(&["show"]));
    assert!(
        show.contains("PAUSED") && show.contains("Need the staging database password"),
        "{show}"
    );

    // Stops while the user has not answered are allowed and change nothing.
    assert_silent_allow(&stop(&world, "S", "Waiting for the password."));
    assert_eq!(world.state()["iteration"], 1);

    // Another session's prompt is not the answer.
    assert_eq!(stdout(&prompt(&world, "OTHER", "hello")), "");
    assert_eq!(world.state()["paused"], true);

    let out = prompt(
        &world,
        "S",
        "The password is in the team vault under staging-db.",
    );
    let answer = json_out(&out);
    let context = answer["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(
        context.contains("resumes") && context.contains("Need the staging database password"),
        "{context}"
    );
    assert!(
        answer["systemMessage"]
            .as_str()
            .unwrap()
            .contains("resumed"),
        "{answer}"
    );
    let state = world.state();
    assert_eq!(state["paused"], json!(null));
    assert_eq!(state["blocked"], json!(null));
    assert_eq!(world.history().last().unwrap()["event"], "resume");

    // The next plain prompt is the user taking the wheel again (see
    // `session_events`), not an answer: the loop goes on from the resumed turn's stop.
    let reason = assert_block(&stop(
        &world,
        "S",
        "Migrated half. <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>",
    ));
    assert!(reason.contains("iteration 2/10"), "{reason}");
    let done = assert_allow_with_message(&stop(
        &world,
        "S",
        "All migrated.\n\n<promise>DONE</promise>",
    ));
    assert!(done.contains("[completed]"), "{done}");
}

#[test]
fn a_blocked_tag_in_code_a_mention_or_the_placeholder_is_not_a_block() {
    let world = World::new();
    start(&world);
    for message in [
        "I could write `<ralph-blocked>Need a password</ralph-blocked>` but I will not.",
        "```\n<ralph-blocked>Need a password</ralph-blocked>\n```",
        "<ralph-blocked>what you need from the user</ralph-blocked>",
        "<ralph-blocked>   </ralph-blocked>",
    ] {
        assert_block(&stop(&world, "S", message));
        assert_eq!(world.state()["paused"], json!(null), "{message:?}");
    }
}

#[test]
fn resume_from_the_prompt_or_a_terminal_and_cancel_of_a_blocked_loop() {
    let world = World::new();
    start(&world);
    assert_allow_with_message(&stop(&world, "S", BLOCKED));
    let out = prompt(&world, "S", "$ralph-loop resume");
    assert!(
        json_out(&out)["systemMessage"]
            .as_str()
            .unwrap()
            .contains("resumed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.state()["paused"], json!(null));

    assert_allow_with_message(&stop(&world, "S", BLOCKED));
    assert_success(&world.run(&["resume"]));
    let state = world.state();
    assert_eq!(
        (state["paused"].clone(), state["blocked"].clone()),
        (json!(null), json!(null))
    );

    assert_allow_with_message(&stop(&world, "S", BLOCKED));
    let out = prompt(&world, "S", "$ralph-loop cancel");
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));
    assert!(world.record().is_none(), "the loop ended");
    assert_eq!(world.history().last().unwrap()["reason"], "cancelled");
}

#[test]
fn a_user_pause_is_not_resumed_by_the_next_prompt() {
    let world = World::new();
    start(&world);
    assert_success(&world.run(&["pause"]));
    assert_eq!(stdout(&prompt(&world, "S", "what next?")), "");
    assert_eq!(world.state()["paused"], true);
}

use serde_json::json;

#[test]
fn wait_answers_11_with_the_reason_while_the_agent_is_blocked() {
    let world = World::new();
    start(&world);
    assert_allow_with_message(&stop(&world, "S", BLOCKED));
    let out = world.run(&["wait", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(11), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Need the staging database password")
            && stdout(&out).contains("[blocked]"),
        "{}",
        stdout(&out)
    );
}
