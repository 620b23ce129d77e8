//! `--max-cost` through the binary (issue 25), on transcripts in the shapes the real
//! clients write: each response's tokens by kind times the answering model's prices
//! (ralph-hook's table, or the user's `[prices."model"]`), counted from the loop's start
//! on; the loop ends with `max_cost` at the first stop whose spend reaches the budget, and
//! a response whose model has no price ends it with a message saying how to add one.

use std::path::Path;

use serde_json::json;

use crate::support::*;

/// One Claude Code response of `model`: fresh input, cache reads, cache writes, output.
fn claude_response(id: &str, model: &str, kinds: [u64; 4], reply: &str) -> String {
    let [input, read, write, output] = kinds;
    let line = json!({
        "type": "assistant", "sessionId": "S",
        "message": {"id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": reply}],
            "usage": {"input_tokens": input, "cache_creation_input_tokens": write,
                      "cache_read_input_tokens": read, "output_tokens": output}}
    });
    format!("{line}\n")
}

/// A Codex turn: its `turn_context` naming `model`, the reply, then the session's new
/// cumulative usage (`input` counts the cached tokens too, as Codex does).
fn codex_turn(model: &str, (input, cached, output): (u64, u64, u64), reply: &str) -> String {
    let context = json!({"type": "turn_context", "payload": {"cwd": "/w", "model": model}});
    let message = json!({
        "type": "response_item",
        "payload": {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": reply}]}
    });
    let usage = json!({
        "input_tokens": input, "cached_input_tokens": cached, "output_tokens": output,
        "reasoning_output_tokens": 0, "total_tokens": input + output
    });
    let count = json!({
        "type": "event_msg",
        "payload": {"type": "token_count", "info": {
            "total_token_usage": usage, "last_token_usage": null}}
    });
    format!("{context}\n{message}\n{count}\n")
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = fs_err::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn with_transcript(mut payload: serde_json::Value, transcript: &Path) -> serde_json::Value {
    payload["transcript_path"] = json!(transcript);
    payload
}

fn start_prompt(world: &World, host: &str, transcript: &Path, flags: &str) -> std::process::Output {
    world.prompt(&with_transcript(
        prompt_payload(
            host,
            "S",
            &world.workspace,
            &format!("$ralph-loop fix it {flags}"),
        ),
        transcript,
    ))
}

/// Writes the user's config file (theirs, mode 600).
fn write_config(world: &World, text: &str) {
    let dir = world.home.join(".config/ralph-hook");
    fs_err::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    fs_err::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The Claude loop's state file (its mirror in the workspace).
fn claude_state(world: &World) -> serde_json::Value {
    let text = fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json"))
        .expect("a running Claude loop has its state file");
    serde_json::from_str(&text).unwrap()
}

/// The Claude loop's history.
fn claude_history(world: &World) -> Vec<serde_json::Value> {
    stdout(&world.run(&["log", "--json", "--agent", "claude"]))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn history_costs(world: &World, agent: &str) -> Vec<Option<u64>> {
    stdout(&world.run(&["log", "--json", "--agent", agent]))
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["event"] == "stop")
        .map(|entry| entry["cost_nanos"].as_u64())
        .collect()
}

/// Sonnet 4.5 at ralph-hook's table: $3 input, $0.30 cache reads, $3.75 cache writes,
/// $15 output per million tokens. A response of 10k fresh, 100k cache reads, 2k cache
/// writes and 1k output costs 0.03 + 0.03 + 0.0075 + 0.015 = $0.0825.
const SONNET_RESPONSE: [u64; 4] = [10_000, 100_000, 2_000, 1_000];
const SONNET_RESPONSE_NANOS: u64 = 82_500_000;

#[test]
fn a_claude_loop_ends_with_max_cost_at_the_response_the_price_table_predicts() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    // Spent before the loop: never counted.
    append(
        &transcript,
        &claude_response("msg_0", "claude-sonnet-4-5", [1_000_000, 0, 0, 0], "before"),
    );
    let report = world.temp.path().join("notified");
    let notify = format!(
        "--notify 'printf \"%s|%s|%s\" \"$RALPH_OUTCOME\" \"$RALPH_COST\" \"$RALPH_MAX_COST\" > {0}.tmp && mv {0}.tmp {0}'",
        report.display()
    );
    assert_success(&start_prompt(
        &world,
        "claude",
        &transcript,
        &format!("--max-cost 0.2 {notify}"),
    ));
    assert_eq!(claude_state(&world)["max_cost_nanos"], 200_000_000);
    let stop = |message: &str| {
        world.stop(&with_transcript(
            claude_stop("S", &world.workspace, Some(message)),
            &transcript,
        ))
    };
    // $0.0825, then $0.165: under the $0.20 budget; the third response reaches it.
    append(
        &transcript,
        &claude_response(
            "msg_1",
            "claude-sonnet-4-5-20250929",
            SONNET_RESPONSE,
            "one",
        ),
    );
    assert_block(&stop("one"));
    assert_eq!(claude_state(&world)["cost_nanos"], SONNET_RESPONSE_NANOS);
    let show = stdout(&world.run(&["show", "--agent", "claude"]));
    assert!(show.contains("$0.0825 of $0.20 (41%)"), "{show}");
    append(
        &transcript,
        &claude_response("msg_2", "claude-sonnet-4-5", SONNET_RESPONSE, "two"),
    );
    let prompt = assert_block(&stop("two"));
    assert!(
        prompt.contains("$0.0350 of $0.20"),
        "under a fifth left is stated: {prompt}"
    );
    append(
        &transcript,
        &claude_response("msg_3", "claude-sonnet-4-5", SONNET_RESPONSE, "three"),
    );
    let message = assert_allow_with_message(&stop("three"));
    assert!(
        message.contains("[max_cost]") && message.contains("$0.20"),
        "{message}"
    );
    assert_eq!(claude_history(&world).last().unwrap()["reason"], "max_cost");
    assert_eq!(
        history_costs(&world, "claude"),
        [Some(SONNET_RESPONSE_NANOS); 3],
        "the history keeps each iteration's cost"
    );
    let log = stdout(&world.run(&["log", "--agent", "claude"]));
    assert!(
        log.contains("cost=$0.2475/$0.20 (+$0.0825 this stop)"),
        "log shows the spend per stop: {log}"
    );
    let wait = world.run(&["wait", "--agent", "claude"]);
    assert_eq!(wait.status.code(), Some(19));
    assert!(
        stdout(&wait).contains("$0.2475 of $0.20 spent"),
        "{}",
        stdout(&wait)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !report.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let notified = fs_err::read_to_string(&report).expect("the notify command ran");
    assert_eq!(notified, "max_cost|0.2475|0.2");
}

#[test]
fn a_codex_loop_prices_its_model_from_the_users_config_and_cache_reads_at_their_price() {
    let world = World::new();
    write_config(
        &world,
        "[prices.\"mock-model\"]\ninput = 2.0\ncache_read = 0.2\noutput = 8.0\n",
    );
    let prices = stdout(&world.run(&["config", "prices"]));
    assert!(
        prices.contains("mock-model") && prices.contains("config.toml:1"),
        "{prices}"
    );
    assert!(
        prices.contains("built in: https://platform.claude.com"),
        "{prices}"
    );
    let transcript = world.temp.path().join("rollout.jsonl");
    append(
        &transcript,
        &codex_turn("mock-model", (5_000, 0, 500), "before"),
    );
    assert_success(&start_prompt(&world, "codex", &transcript, "--max-cost 1"));
    // 100k input of which 90k cached, 10k output since the start: 10k × $2 + 90k × $0.20
    // + 10k × $8 per million = 0.02 + 0.018 + 0.08 = $0.118.
    append(
        &transcript,
        &codex_turn("mock-model", (105_000, 90_000, 10_500), "step one"),
    );
    assert_block(&world.stop(&with_transcript(
        codex_stop("S", &world.workspace, Some("step one")),
        &transcript,
    )));
    assert_eq!(world.state()["cost_nanos"], 118_000_000);
    assert_eq!(history_costs(&world, "codex"), [Some(118_000_000)]);
}

#[test]
fn a_response_of_a_model_without_a_price_ends_the_loop_and_says_how_to_add_one() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    assert_success(&start_prompt(&world, "claude", &transcript, "--max-cost 5"));
    append(
        &transcript,
        &claude_response("msg_1", "claude-unknown-9", SONNET_RESPONSE, "one"),
    );
    let message = assert_allow_with_message(&world.stop(&with_transcript(
        claude_stop("S", &world.workspace, Some("one")),
        &transcript,
    )));
    assert!(
        message.contains("[max_cost]")
            && message.contains("claude-unknown-9")
            && message.contains("[prices."),
        "{message}"
    );
    let last = claude_history(&world).last().cloned().unwrap();
    assert_eq!(last["reason"], "max_cost");
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("could not be priced"),
        "{last}"
    );
}

#[test]
fn max_cost_refuses_to_start_for_a_session_whose_model_has_no_price() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    append(
        &transcript,
        &claude_response("msg_0", "claude-unknown-9", [10, 0, 0, 1], "hello"),
    );
    let out = start_prompt(&world, "claude", &transcript, "--max-cost 5");
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("has no price"), "{said}");
    let mirror = world.workspace.join(".claude/ralph-loop-state.json");
    assert!(!mirror.exists(), "no loop started");
    // Without a money budget the same session starts.
    assert_success(&start_prompt(
        &world,
        "claude",
        &transcript,
        "--max-iterations 3",
    ));
    assert!(mirror.exists());
}

#[test]
fn count_weighted_counts_each_token_by_its_price_relative_to_input() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    let stop = |message: &str| {
        world.stop(&with_transcript(
            claude_stop("S", &world.workspace, Some(message)),
            &transcript,
        ))
    };
    assert_success(&start_prompt(
        &world,
        "claude",
        &transcript,
        "--max-tokens 100k --count weighted",
    ));
    // Sonnet 4.5: 10k fresh + 100k cache reads × 0.1 + 2k writes × 1.25 + 1k output × 5
    // = 10k + 10k + 2.5k + 5k = 27.5k weighted tokens (113k raw).
    append(
        &transcript,
        &claude_response("msg_1", "claude-sonnet-4-5", SONNET_RESPONSE, "one"),
    );
    assert_block(&stop("one"));
    assert_eq!(claude_state(&world)["tokens_used"], 27_500);
    let raw = World::new();
    let raw_transcript = raw.temp.path().join("session.jsonl");
    assert_success(&start_prompt(
        &raw,
        "claude",
        &raw_transcript,
        "--max-tokens 100k",
    ));
    append(
        &raw_transcript,
        &claude_response("msg_1", "claude-sonnet-4-5", SONNET_RESPONSE, "one"),
    );
    let out = raw.stop(&with_transcript(
        claude_stop("S", &raw.workspace, Some("one")),
        &raw_transcript,
    ));
    assert_allow_with_message(&out);
    let bad = start_prompt(&world, "codex", &transcript, "--count cheap");
    let said = format!("{}{}", stdout(&bad), stderr(&bad));
    assert!(said.contains("--count"), "{said}");
}

#[test]
fn notify_runs_once_per_threshold_with_budget_warning_and_the_budgets_name() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout.jsonl");
    let report = world.temp.path().join("notified");
    let flags = format!(
        "--max-iterations 4 --no-progress 0 --notify 'printf \"%s|%s\\n\" \"$RALPH_OUTCOME\" \"$RALPH_BUDGET\" >> {}'",
        report.display()
    );
    assert_success(&start_prompt(&world, "codex", &transcript, &flags));
    let mut prompts = Vec::new();
    for n in 1..=4 {
        prompts.push(assert_block(&world.stop(&codex_stop(
            "S",
            &world.workspace,
            Some(&format!("step {n}")),
        ))));
    }
    assert!(
        prompts[1].contains(
            "Budget warning: 50% of the iteration cap is used (iteration 2 of 4; 2 left)"
        ),
        "{}",
        prompts[1]
    );
    assert!(!prompts[2].contains("Budget warning"), "{}", prompts[2]);
    assert!(
        prompts[3].contains("100% of the iteration cap"),
        "{}",
        prompts[3]
    );
    assert_allow_with_message(&world.stop(&codex_stop("S", &world.workspace, Some("step 5"))));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let lines = loop {
        let text = fs_err::read_to_string(&report).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= 4 || std::time::Instant::now() > deadline {
            lines.sort();
            break lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        lines,
        [
            "budget_warning|iterations",
            "budget_warning|iterations",
            "budget_warning|iterations",
            "max_iterations|",
        ],
        "50%, 80% and 100% once each, then the end"
    );
    let state_once = world.history();
    assert_eq!(state_once.last().unwrap()["reason"], "max_iterations");
}
