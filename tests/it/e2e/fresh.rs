//! Issue 22 in the real clients: `ralph-hook run --fresh` runs every iteration in a new
//! client process and a new session, under one record — the iteration count, the token
//! budget summed over the sessions, `--verify` and the outcome as for a same-session run.
//! Each new session starts with the task, the iteration, the previous session's last
//! message and the hand-off note it left (`.ralph/handoff.md`).
//!
//! `fresh_costs` (ignored; run it by name) prints what each style costs on the mock
//! servers: context size, tokens and start-up time per iteration, for the README.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;

use super::clients::Client;
use super::cost::{per_response, use_mock_prices};
use super::mock::{command, held, text, text_then_command};
use super::run::{
    list_row, ralph_run, restarts, run_args, running_saved_client, setup, signal, wait_until,
};
use super::scenarios::{CONTINUE, PROMISE, assert_turns, last_stop, stops};
use super::usage::USAGE;
use super::world::TOOL_DEADLINE;

/// Tokens per response on both hosts for the mock's [`USAGE`].
const PER_RESPONSE: u64 = 1_500;

/// The sessions the stops of `history` were decided for, in order, one entry per stop.
fn stop_sessions(history: &[Value]) -> Vec<String> {
    stops(history)
        .iter()
        .map(|h| h["session_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `run --fresh --max-cost`: a money budget alone (no token budget) counts each new
/// session's transcript from its top, so every session's turn is priced whole and the
/// spend is summed over the sessions.
pub fn run_fresh_with_a_money_budget(client: Client, test: &str) {
    let script = vec![
        text(format!("Session one. {CONTINUE}")),
        text(format!("Session two. {CONTINUE}")),
        text(format!("Session three, done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(USAGE);
    world.set_env("RALPH_HOOK_REPLY_WAIT", "10s");
    use_mock_prices(&world);
    let args = run_args(
        &world,
        &["--fresh", "--max-iterations", "5", "--max-cost", "1"],
        "Spend a little in each session",
    );
    let run = ralph_run(&world, &args);
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert_turns(&world, 3);
    let history = world.history();
    let sessions: BTreeSet<String> = stop_sessions(&history).into_iter().collect();
    assert_eq!(sessions.len(), 3, "{history:#?}");
    let costs: Vec<u64> = stops(&history)
        .iter()
        .map(|h| h["cost_nanos"].as_u64().expect("each stop prices its turn"))
        .collect();
    let one = per_response(client);
    assert_eq!(
        costs, [one; 3],
        "each session's turn priced whole: {history:#?}"
    );
    assert_eq!(
        last_stop(&history)["cost_used_nanos"].as_u64(),
        Some(3 * one)
    );
    assert_eq!(last_stop(&history)["reason"], "completed");
}

/// Done when (1): a 3-iteration task under `run --fresh`: three sessions with three
/// different ids, one record, the tokens summed over them, a completion the verify
/// command rejected (the next session is told why) and then accepted.
pub fn run_fresh_three_sessions(client: Client, test: &str) {
    let script = vec![
        // Session 1: work, a hand-off note, the continuation signal.
        text_then_command(
            "Iteration one: starting.",
            "mkdir -p .ralph && echo 'NOTE-ONE: step 1 done, do step 2' > .ralph/handoff.md && echo 1 >> work.txt",
        ),
        text(format!("Step one is in work.txt. {CONTINUE}")),
        // Session 2: claims completion too early; the verify command rejects it.
        text_then_command(
            "Iteration two: working.",
            "echo 'NOTE-TWO: step 2 done, done.txt missing' > .ralph/handoff.md && echo 2 >> work.txt",
        ),
        text(format!("I think it is finished. {PROMISE}")),
        // Session 3: finishes for real.
        text_then_command("Iteration three: finishing.", "touch done.txt"),
        text(format!("done.txt is there now. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(USAGE);
    world.set_env("RALPH_HOOK_REPLY_WAIT", "10s");
    let args = run_args(
        &world,
        &[
            "--fresh",
            "--max-iterations",
            "5",
            "--max-tokens",
            "100k",
            "--verify",
            "test -f done.txt",
        ],
        "Write work.txt, then done.txt",
    );
    let run = ralph_run(&world, &args);
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("[verified]"), "{}", run.stdout);
    assert_turns(&world, 6);

    let history = world.history();
    let loops: BTreeSet<&str> = history
        .iter()
        .filter_map(|h| h["loop_id"].as_str())
        .collect();
    assert_eq!(loops.len(), 1, "one record: {history:#?}");
    let sessions = stop_sessions(&history);
    assert_eq!(sessions.len(), 3, "{history:#?}");
    let distinct: BTreeSet<&String> = sessions.iter().collect();
    assert_eq!(distinct.len(), 3, "three sessions: {sessions:?}");
    let binds: Vec<&Value> = history.iter().filter(|h| h["decision"] == "bind").collect();
    assert_eq!(binds.len(), 3, "each session bound: {history:#?}");
    for (bind, session) in binds.iter().zip(&sessions) {
        assert_eq!(bind["session_id"], session.as_str(), "{history:#?}");
    }
    let decisions: Vec<&str> = stops(&history)
        .iter()
        .map(|h| h["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(decisions, ["next_session", "next_session", "finish"]);
    assert_eq!(stops(&history)[1]["reason"], "completion_rejected");
    assert_eq!(last_stop(&history)["reason"], "verified");
    assert_eq!(last_stop(&history)["iteration"], 2, "two continuations");
    let counted: Vec<u64> = stops(&history)
        .iter()
        .map(|h| h["tokens"].as_u64().expect("each stop counts tokens"))
        .collect();
    assert_eq!(
        counted,
        [2 * PER_RESPONSE; 3],
        "each session's turn counted whole: {history:#?}"
    );
    assert_eq!(
        last_stop(&history)["tokens_used"],
        6 * PER_RESPONSE,
        "the budget is summed over the sessions: {history:#?}"
    );
    assert!(
        history
            .iter()
            .all(|h| h["decision"] != "restart" && h["decision"] != "orphan"),
        "a new session is not a restart, nor an ended session an orphan: {history:#?}"
    );

    // What each new session was given first.
    let turns = world.mock.turns();
    let second = turns[2].text();
    assert!(second.contains("in a new session"), "{second}");
    assert!(second.contains("iteration 1/5"), "{second}");
    assert!(second.contains("NOTE-ONE"), "the hand-off note: {second}");
    assert!(
        second.contains("Step one is in work.txt"),
        "the previous message: {second}"
    );
    assert!(
        !second.contains("Iteration one: starting."),
        "the new session carries the old conversation: {second}"
    );
    let third = turns[4].text();
    assert!(third.contains("iteration 2/5"), "{third}");
    assert!(third.contains("NOTE-TWO"), "{third}");
    assert!(
        third.contains("Your completion signal was rejected"),
        "the rejected verify: {third}"
    );
    assert!(
        run.stdout.contains("starts in a new session"),
        "{}",
        run.stdout
    );

    let wait = world.ralph(&[
        "wait",
        "--workspace",
        &world.workspace.display().to_string(),
    ]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        wait.stdout
    );
    let row = list_row(&world).expect("the ended run is listed");
    assert_eq!(row["outcome"], "verified", "{row}");
}

/// The cost of each style on the mock servers, printed for the README: the same
/// 3-iteration task same-session, `--fresh` and `--fresh=task` (one item per iteration,
/// so a new session each time; a longer item stays in one). For each: the size of each
/// model request (bytes of JSON: the whole context the client sends, tools included; a
/// model's input tokens grow with it), their sum, and the start-up of each later
/// iteration (from the model's last reply of one iteration to the first request of the
/// next: the stop, and for a fresh loop the client's exit and a new process).
pub fn fresh_costs(client: Client, test: &str) {
    for style in ["same-session", "--fresh", "--fresh=task"] {
        let mut script = Vec::new();
        for item in ["one", "two", "three"] {
            script.push(command(format!(
                "echo {item} >> work.txt && {}",
                check(&format!("write {item}"))
            )));
            script.push(text(format!("Step {item} done. {CONTINUE}")));
        }
        let Some(world) = setup(
            client,
            &format!("{test}-{}", style.trim_start_matches('-')),
            script,
        ) else {
            return;
        };
        std::fs::write(
            world.workspace.join("PRD.md"),
            "- [ ] write one\n- [ ] write two\n- [ ] write three\n",
        )
        .unwrap();
        for args in [
            &["init", "-q"][..],
            &["add", "PRD.md"],
            &[
                "-c",
                "user.name=e2e",
                "-c",
                "user.email=e2e@e2e",
                "commit",
                "-qm",
                "PRD",
            ],
        ] {
            let mut cmd = world.command("git");
            cmd.args(args);
            assert!(world.run_recorded(cmd, "git", TOOL_DEADLINE).success());
        }
        let mut extra = vec!["--max-iterations", "5", "--tasks", "PRD.md"];
        if style != "same-session" {
            extra.insert(0, style);
        }
        let args = run_args(&world, &extra, "Write the three lines the PRD lists");
        let mut seen: Vec<Instant> = Vec::new();
        let run = std::thread::scope(|scope| {
            let run = scope.spawn(|| ralph_run(&world, &args));
            while !run.is_finished() {
                while seen.len() < world.mock.turns().len() {
                    seen.push(Instant::now());
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            run.join().unwrap()
        });
        assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
        let turns = world.mock.turns();
        assert_eq!(turns.len(), 6);
        let sizes: Vec<usize> = turns.iter().map(|t| t.body.len()).collect();
        let startups: Vec<String> = [2, 4]
            .iter()
            .map(|&i| format!("{:.2}s", (seen[i] - seen[i - 1]).as_secs_f64()))
            .collect();
        println!(
            "COST {} {style}: request sizes (bytes) {sizes:?}, sum {} bytes; start-up of iterations 2 and 3: {}",
            client.name(),
            sizes.iter().sum::<usize>(),
            startups.join(", ")
        );
    }
}

/// The checklist of the `--fresh=task` run: three open items.
const PRD: &str = "# PRD\n\n- [ ] write alpha\n- [ ] write beta\n- [ ] write gamma\n";

/// A shell command that checks `item` in PRD.md.
fn check(item: &str) -> String {
    format!("sed -i 's/- \\[ \\] {item}/- [x] {item}/' PRD.md")
}

/// Done when (2): `run --fresh=task --tasks PRD.md` with three items: each item in its own
/// session, an item checked without any change rejected and redone in the same session,
/// the loop ends `completed` with all three accepted.
pub fn run_fresh_task_items(client: Client, test: &str) {
    let script = vec![
        // Session 1, item 1: the work, the check.
        command(format!(
            "echo alpha > alpha.txt && {}",
            check("write alpha")
        )),
        text(format!("Alpha is written. {CONTINUE}")),
        // Session 2, item 2: checked without a change (rejected), then done for real.
        command(check("write beta")),
        text(format!("Beta is written. {CONTINUE}")),
        command("echo beta > beta.txt"),
        text(format!("Beta is really written now. {CONTINUE}")),
        // Session 3, item 3.
        command(format!(
            "echo gamma > gamma.txt && {}",
            check("write gamma")
        )),
        text(format!("Gamma is written; all done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    std::fs::write(world.workspace.join("PRD.md"), PRD).unwrap();
    for args in [
        &["init", "-q"][..],
        &["config", "user.name", "Ralph E2E"],
        &["config", "user.email", "e2e@example.com"],
        &["add", "PRD.md"],
        &["commit", "-qm", "the PRD"],
    ] {
        let mut cmd = world.command("git");
        cmd.args(args);
        let done = world.run_recorded(cmd, &format!("git {}", args.join(" ")), TOOL_DEADLINE);
        assert!(done.success(), "git {args:?} failed");
    }
    let args = run_args(
        &world,
        &[
            "--fresh=task",
            "--tasks",
            "PRD.md",
            "--max-iterations",
            "10",
        ],
        "Build what the PRD lists",
    );
    let run = ralph_run(&world, &args);
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("[completed]"), "{}", run.stdout);
    assert_turns(&world, 8);

    let history = world.history();
    let decided: Vec<(String, String)> = stops(&history)
        .iter()
        .filter(|h| h["decision"] != "accept")
        .map(|h| {
            (
                format!(
                    "{}:{}",
                    h["decision"].as_str().unwrap_or(""),
                    h["reason"].as_str().unwrap_or("")
                ),
                h["session_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let what: Vec<&str> = decided.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        what,
        [
            "next_session:",
            "block:task_rejected",
            "next_session:",
            "finish:completed"
        ],
        "{history:#?}"
    );
    let sessions: Vec<&str> = decided.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        sessions[1], sessions[2],
        "one item, one session: {sessions:?}"
    );
    let distinct: BTreeSet<&str> = sessions.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "one session per item: {sessions:?}");
    let accepted: Vec<&Value> = history
        .iter()
        .filter(|h| h["decision"] == "accept")
        .collect();
    assert_eq!(accepted.len(), 3, "{history:#?}");
    let turns = world.mock.turns();
    let second = turns[2].text();
    assert!(second.contains("in a new session"), "{second}");
    assert!(second.contains("write beta"), "the current item: {second}");
    let third = turns[6].text();
    assert!(third.contains("write gamma"), "{third}");
}

/// A fresh loop's client killed mid-iteration is restarted as in a same-session run: the
/// same (second) session is resumed, the restart is in the history, and a new session
/// comes only with the next iteration.
pub fn run_fresh_survives_a_killed_client(client: Client, test: &str) {
    let script = vec![
        text(format!("Iteration one. {CONTINUE}")),
        held(text("The killed client never says this.")),
        text(format!("Done after the restart. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let args = run_args(
        &world,
        &["--fresh", "--max-iterations", "5"],
        "Survive a kill in a fresh session",
    );
    let run = std::thread::scope(|s| {
        let run = s.spawn(|| ralph_run(&world, &args));
        let (pid, _) = running_saved_client(&world, 2, 2);
        signal(pid, "KILL");
        world.note(format!("SIGKILLed the client, pid {pid}"));
        wait_until(
            std::time::Duration::from_secs(30),
            "a restart in the history",
            || !restarts(&world.history()).is_empty(),
        );
        world.mock.release();
        run.join().unwrap()
    });
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert_turns(&world, 3);
    let history = world.history();
    assert_eq!(restarts(&history).len(), 1, "{history:#?}");
    let binds: Vec<&str> = history
        .iter()
        .filter(|h| h["decision"] == "bind")
        .filter_map(|h| h["session_id"].as_str())
        .collect();
    assert_eq!(binds.len(), 2, "two sessions: {history:#?}");
    assert_ne!(binds[0], binds[1]);
    let sessions = stop_sessions(&history);
    assert_eq!(sessions, [binds[0], binds[1]], "{history:#?}");
    assert_eq!(last_stop(&history)["reason"], "completed");
    assert!(run.stdout.contains("[ralph] resumed"), "{}", run.stdout);
}
