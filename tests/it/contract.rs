//! Every answer ralph-hook can give is one Codex 0.169.0 accepts: checked against the
//! JSON Schemas built into that Codex binary (tests/fixtures/hosts/codex-0.169.0/schemas).
//! The hook runs in the support harness validate every stdout of the whole suite too.

use crate::support::{self, HookSchema, World, assert_valid_output, codex_stop, prompt_payload};
use ralph_hook::testing::hook::wire::{PromptOutput, StopOutput};
use serde_json::{Value, json};

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).expect("one JSON object")
}

#[test]
fn every_stop_answer_matches_the_codex_schema() {
    for output in [
        StopOutput::allow(Some("ralph-loop: done".into())),
        StopOutput::block("Continue the task.".into()),
    ] {
        assert_valid_output(HookSchema::Stop, &output.render());
    }
    assert_eq!(StopOutput::allow(None).render(), "");
}

#[test]
fn every_prompt_answer_matches_the_codex_schema() {
    for output in [
        PromptOutput::context("rules".into(), None),
        PromptOutput::context("rules".into(), Some("started".into())),
        PromptOutput::refuse("ralph-loop: no loop to cancel".into()),
    ] {
        assert_valid_output(HookSchema::Prompt, &output.render());
    }
}

#[test]
fn the_schemas_reject_what_codex_rejects() {
    let stop_bad = [
        json!({"decision": "allow"}),
        json!({"decision": "block", "reason": "x", "extra": 1}),
        json!({"systemMessage": null}),
    ];
    for bad in stop_bad {
        assert!(!HookSchema::Stop.errors(&bad).is_empty(), "{bad}");
    }
    let prompt_bad =
        json!({"hookSpecificOutput": {"hookEventName": "Stop", "additionalContext": "x"}});
    assert!(!HookSchema::Prompt.errors(&prompt_bad).is_empty());
    assert!(
        HookSchema::Stop
            .errors(&parsed(r#"{"decision":"block","reason":"go on"}"#))
            .is_empty()
    );
}

#[test]
fn a_whole_loop_through_the_binary_answers_only_in_the_schema() {
    let world = World::new();
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop Fix the tests --max-iterations 2",
    ));
    support::assert_success(&out);
    assert!(support::stdout(&out).contains("additionalContext"));
    let block = world.stop(&codex_stop("S", &world.workspace, Some("working")));
    support::assert_block(&block);
    let done = world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("all green <promise>DONE</promise>"),
    ));
    support::assert_allow_with_message(&done);
    let refused = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop fix --max-iterations",
    ));
    assert!(support::stdout(&refused).contains("\"decision\":\"block\""));
}

#[test]
fn a_payload_of_another_event_does_nothing() {
    let world = World::new();
    world.start("S", &[]);
    let mut payload = codex_stop("S", &world.workspace, Some("working"));
    payload["hook_event_name"] = json!("UserPromptSubmit");
    let out = world.stop(&payload);
    support::assert_silent_allow(&out);
    assert_eq!(world.state()["iteration"], 0);
    let mut prompt = prompt_payload("codex", "S", &world.workspace, "$ralph-loop cancel");
    prompt["hook_event_name"] = json!("Stop");
    let out = world.prompt(&prompt);
    assert_eq!(support::stdout(&out), "");
    assert!(world.state_path().exists(), "the loop was not cancelled");
}
