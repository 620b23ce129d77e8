//! Issue 28 in the real clients: background work on Claude Code's Stop waits without
//! spending an iteration, and the host brings the session back when the work is done;
//! the user taking the wheel pauses the loop and `resume` goes on with their words.

use std::time::Duration;

use serde_json::Value;

use super::clients::Client;
use super::mock::{Usage, api_error, background, held, text, text_then_command};
use super::scenarios::{
    CONTINUE, PROMISE, ReleaseOnDrop, assert_clean_exit, assert_no_state, loop_prompt,
};
use super::world::World;

fn mark(client: Client) -> &'static str {
    match client {
        Client::Codex => "$ralph-loop",
        Client::Claude => "/ralph-loop",
    }
}

fn events(history: &[Value]) -> Vec<(String, String)> {
    history
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap_or("").to_string(),
                h["decision"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The agent starts a slow job in the background and ends its turn: the Stop says so
/// (`background_tasks`), ralph-hook lets the turn end without counting it, and Claude
/// Code brings the session back with the job's notification; the loop goes on from that
/// turn and completes. The two stops carry the same message and `--no-progress 2` is
/// set: had the waiting stop counted, the second would have ended the loop.
pub fn background_work(client: Client, test: &str) {
    let same = format!("Working on the slow job. {CONTINUE}");
    let script = vec![
        background("sleep 3; echo finished > job.txt"),
        text(same.clone()),
        text(same),
        text(format!("Checked job.txt: all done.\n{PROMISE}")),
        text("This turn must never happen."),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    let run = world.run_agent(&format!(
        "{} Run the slow job and check it --max-iterations 5 --no-progress 2",
        mark(client)
    ));
    assert_clean_exit(&run);
    let history = world.history();
    world.note(format!("history: {history:#?}"));
    let seen = events(&history);
    assert!(
        seen.contains(&("stop".into(), "wait".into())),
        "the stop with background work waited: {seen:?}"
    );
    let wait = history.iter().find(|h| h["decision"] == "wait").unwrap();
    assert_eq!(wait["iteration"], 0, "waiting spends no iteration: {wait}");
    assert!(
        wait["detail"].as_str().unwrap_or("").contains("background"),
        "{wait}"
    );
    let last = history.iter().rev().find(|h| h["event"] == "stop").unwrap();
    assert_eq!(last["reason"], "completed", "{history:#?}");
    assert_eq!(last["iteration"], 1, "{history:#?}");
    assert!(world.workspace.join("job.txt").exists());
    assert_no_state(&world);
}

/// The user interrupts a running loop (here: the client is killed mid-turn, as after
/// Esc or a crash) and types a plain prompt into its session: the loop pauses for that
/// turn, which ends without a continuation. `$ralph-loop resume` then goes on with what
/// the user said in the agent's context, to the promise.
pub fn user_takes_the_wheel(client: Client, test: &str) {
    let words = "Use the v2 schema for the users table, not v1.";
    let script = vec![
        held(text("This reply never arrives.")),
        text("Switched the users table to the v2 schema as you asked."),
        text(format!("Migrated the rest with v2. {CONTINUE}")),
        text(format!("All migrated and checked.\n{PROMISE}")),
        text("This turn must never happen."),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    let first = std::thread::scope(|s| {
        let _release = ReleaseOnDrop(&world.mock);
        world.set_client_deadline(Duration::from_secs(20));
        let run = s.spawn(|| world.run_agent(&loop_prompt(client, "Migrate the data", 5)));
        assert!(
            world.mock.wait_for_turns(1, Duration::from_secs(20)),
            "the session never reached the model"
        );
        run.join().unwrap()
    });
    assert!(first.status.is_none(), "meant to be interrupted: {first:?}");
    world.set_client_deadline(super::world::CLIENT_DEADLINE);
    let state = world.state().expect("the interrupted loop is active");
    let session = state["session_id"].as_str().unwrap_or_default().to_string();
    assert!(!session.is_empty(), "{state}");

    let steer = world.resume_agent(&session, words);
    assert_clean_exit(&steer);
    let state = world.state().expect("the steered loop is kept");
    assert_eq!(state["paused"], true, "{state:#}");
    assert_eq!(state["steering"], words, "{state:#}");
    assert_eq!(
        state["iteration"], 0,
        "the user's turn is not counted: {state:#}"
    );
    let steered = world.mock.turns().last().unwrap().text();
    assert!(
        steered.contains("taken the wheel"),
        "the agent is told the user steers"
    );

    let resumed = world.resume_agent(&session, &format!("{} resume", mark(client)));
    assert_clean_exit(&resumed);
    let turns = world.mock.turns();
    let after_resume = turns[turns.len() - 2].text();
    assert!(
        after_resume.contains("resumes") && after_resume.contains(words),
        "the loop goes on with the user's words in context"
    );
    assert_no_state(&world);
    let history = world.history();
    world.note(format!("history: {history:#?}"));
    let seen = events(&history);
    for wanted in [
        ("prompt", "pause"),
        ("resume", "resume"),
        ("stop", "block"),
        ("stop", "finish"),
    ] {
        assert!(
            seen.contains(&(wanted.0.to_string(), wanted.1.to_string())),
            "{wanted:?} in {seen:?}"
        );
    }
    assert_eq!(
        history.iter().rev().find(|h| h["event"] == "stop").unwrap()["reason"],
        "completed"
    );
}

/// The model's API fails mid-loop (a rate limit): Claude Code ends the turn with
/// StopFailure instead of Stop. The history keeps the error's kind, the loop stays
/// active and unpaused, and the same session resumed goes on to the promise.
pub fn api_error_mid_loop(client: Client, test: &str) {
    let script = vec![
        text(format!("First pass done. {CONTINUE}")),
        api_error(429, "rate_limit_error"),
        text(format!("Back after the rate limit. {CONTINUE}")),
        text(format!("All done.\n{PROMISE}")),
        text("This turn must never happen."),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    // No retries: the first error ends the turn.
    world.set_env("CLAUDE_CODE_MAX_RETRIES", "0");
    let first = world.run_agent(&loop_prompt(client, "Survive the rate limit", 5));
    // Claude Code may exit before its StopFailure hook has written: give the hook a bounded
    // moment to land before reading the history.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut history = world.history();
    while !history.iter().any(|h| h["event"] == "stop_failure")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        history = world.history();
    }
    world.note(format!("history: {history:#?}"));
    let failure = history
        .iter()
        .find(|h| h["event"] == "stop_failure")
        .unwrap_or_else(|| panic!("no StopFailure in the history: {history:#?}"));
    assert_eq!(failure["decision"], "error", "{failure}");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap_or("")
            .contains("rate_limit"),
        "{failure}"
    );
    let state = world.state().expect("the loop stays after an API error");
    assert_eq!(state["active"], true, "{state:#}");
    assert_eq!(state["paused"], Value::Null, "{state:#}");
    let session = world.session_of(&first);
    let second = world.resume_agent(&session, "go on");
    assert_clean_exit(&second);
    assert_no_state(&world);
    let history = world.history();
    assert_eq!(
        history.iter().rev().find(|h| h["event"] == "stop").unwrap()["reason"],
        "completed",
        "{history:#?}"
    );
}

/// The session compacts its context mid-loop (a small auto-compact limit, and a mock
/// that reports large prompts): the continuation prompt restates the task every time, so
/// the turns after the compaction still have it, and the loop completes.
pub fn compaction_mid_loop(client: Client, test: &str) {
    let task = "Rename every widget to gadget in the catalogue";
    let mut script = Vec::new();
    for (n, words) in ["the first widgets", "more widgets", "the rest"]
        .iter()
        .enumerate()
    {
        script.push(text_then_command(
            format!("Renaming {words}."),
            format!("echo 'pass {n}' >> catalogue.txt"),
        ));
        script.push(text(format!("Renamed {words}. {CONTINUE}")));
    }
    script.push(text(format!("All widgets are gadgets now.\n{PROMISE}")));
    script.push(text("This turn must never happen."));
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(Usage {
        input: 150_000,
        cache_read: 0,
        cache_write: 0,
        output: 100,
        reasoning: 0,
    });
    match client {
        Client::Codex => {
            let path = world.codex_home.join("config.toml");
            let mut doc: toml_edit::DocumentMut =
                std::fs::read_to_string(&path).unwrap().parse().unwrap();
            doc["model_auto_compact_token_limit"] = toml_edit::value(50_000);
            doc["model_context_window"] = toml_edit::value(200_000);
            std::fs::write(&path, doc.to_string()).unwrap();
        }
        Client::Claude => world.set_env("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "60000"),
    }
    // Large prompts for the first two replies only: one compaction, not a client that
    // compacts every turn (Claude Code stops such "thrashing" with an error).
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            world.mock.wait_for_turns(2, Duration::from_secs(60));
            world.mock.set_usage(Usage::default());
        });
        world.run_agent(&loop_prompt(client, task, 6))
    });
    assert_clean_exit(&run);
    assert!(
        world.mock.compactions() > 0,
        "the client never compacted (the test would prove nothing)"
    );
    let turns = world.mock.turns();
    let last = turns.last().unwrap().text();
    assert!(
        last.contains(super::mock::COMPACTION_SUMMARY),
        "the last turn comes after a compaction"
    );
    assert!(
        last.contains(task),
        "the turn after the compaction still has the task"
    );
    assert_no_state(&world);
    let history = world.history();
    world.note(format!("history: {history:#?}"));
    let finish = history.iter().rev().find(|h| h["event"] == "stop").unwrap();
    assert_eq!(finish["reason"], "completed", "{history:#?}");
    assert_eq!(finish["iteration"], 3, "{history:#?}");
}
