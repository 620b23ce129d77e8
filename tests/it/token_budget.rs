//! `--max-tokens` through the binary, on transcripts in the shapes the real clients write
//! (`tests/fixtures/hosts/`): counting starts at the end of the session's transcript when
//! the loop starts, each stop counts only what the host appended since, and the loop ends
//! with `max_tokens` at the first stop that finds the budget used up. Each stop's payload
//! names the turn's last reply, and the transcript has it, as with the real hosts; a
//! reply the host writes only after the stop started is waited for (`engine::flush`).

use std::path::Path;

use serde_json::json;

use crate::support::*;

/// A Codex `token_count` line with the session's cumulative total.
fn codex_total(total: u64) -> String {
    let usage = json!({
        "input_tokens": total - total / 10, "cached_input_tokens": 0,
        "cache_write_input_tokens": 0, "output_tokens": total / 10,
        "reasoning_output_tokens": 0, "total_tokens": total
    });
    let line = json!({
        "timestamp": "2026-11-23T10:35:16.841Z", "type": "event_msg",
        "payload": {"type": "token_count", "info": {
            "total_token_usage": usage, "last_token_usage": usage,
            "model_context_window": 258_400
        }, "rate_limits": null}
    });
    format!("{line}\n")
}

/// Codex's lines of a turn's last response: the reply, then the session's new total.
fn codex_turn(total: u64, reply: &str) -> String {
    let line = json!({
        "timestamp": "2026-11-23T10:35:16.840Z", "type": "response_item",
        "payload": {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": reply}]}
    });
    format!("{line}\n{}", codex_total(total))
}

/// Claude Code's lines of one response: one per content block, the same id and usage; the
/// last block's text is `reply`.
fn claude_response(id: &str, blocks: usize, input: u64, output: u64, reply: &str) -> String {
    let mut out = String::new();
    for block in 0..blocks {
        let text = if block + 1 == blocks {
            reply.to_string()
        } else {
            format!("block {block}")
        };
        let line = json!({
            "type": "assistant", "sessionId": "S",
            "message": {"id": id, "type": "message", "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": output}}
        });
        out.push_str(&format!("{line}\n"));
    }
    out
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

/// Starts a loop from the user's prompt in `host`'s session S with this transcript.
fn start_from_prompt(world: &World, host: &str, transcript: &Path, flags: &str) {
    let payload = with_transcript(
        prompt_payload(
            host,
            "S",
            &world.workspace,
            &format!("$ralph-loop fix it {flags}"),
        ),
        transcript,
    );
    let out = world.prompt(&payload);
    assert_success(&out);
    assert!(
        stdout(&out).contains("additionalContext"),
        "the loop started: {}",
        stdout(&out)
    );
}

fn codex_stop_in(world: &World, transcript: &Path, message: &str) -> std::process::Output {
    world.stop(&with_transcript(
        codex_stop("S", &world.workspace, Some(message)),
        transcript,
    ))
}

/// The tokens of each stop in the history of `agent`'s loop.
fn history_tokens(world: &World, agent: &str) -> Vec<Option<u64>> {
    stdout(&world.run(&["log", "--json", "--agent", agent]))
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["event"] == "stop")
        .map(|entry| entry["tokens"].as_u64())
        .collect()
}

#[test]
fn a_codex_loop_ends_with_max_tokens_at_the_stop_that_uses_up_the_budget() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout.jsonl");
    // The session used 50k tokens before the loop: none of them count.
    append(&transcript, &codex_total(50_000));
    start_from_prompt(&world, "codex", &transcript, "--max-tokens 10k");
    assert_eq!(world.state()["max_tokens"], 10_000);

    append(&transcript, &codex_turn(54_000, "step one"));
    let prompt = assert_block(&codex_stop_in(&world, &transcript, "step one"));
    assert!(
        !prompt.contains("tokens of"),
        "not yet near the end: {prompt}"
    );
    assert_eq!(world.state()["tokens_used"], 4_000);

    append(&transcript, &codex_turn(58_500, "step two"));
    let prompt = assert_block(&codex_stop_in(&world, &transcript, "step two"));
    assert!(
        prompt.contains("1.5k tokens of 10k"),
        "under a fifth left is stated: {prompt}"
    );
    let show = stdout(&world.run(&["show"]));
    assert!(show.contains("8.5k of 10k (85%)"), "{show}");

    append(&transcript, &codex_turn(60_000, "step three"));
    let message = assert_allow_with_message(&codex_stop_in(&world, &transcript, "step three"));
    assert!(
        message.contains("[max_tokens]") && message.contains("10k"),
        "{message}"
    );
    let last = world.history().last().cloned().unwrap();
    assert_eq!(last["reason"], "max_tokens");
    assert_eq!(
        history_tokens(&world, "codex"),
        [Some(4_000), Some(4_500), Some(1_500)]
    );
    let log = stdout(&world.run(&["log"]));
    assert!(
        log.contains("tokens=8.5k/10k (+4.5k this stop)"),
        "log shows tokens per stop: {log}"
    );
}

#[test]
fn claude_code_counts_each_response_once_however_many_lines_it_wrote() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    append(
        &transcript,
        &claude_response("msg_before", 2, 5_000, 500, "before"),
    );
    start_from_prompt(&world, "claude", &transcript, "--max-tokens 2500");
    let stop = |message: &str| {
        world.stop(&with_transcript(
            claude_stop("S", &world.workspace, Some(message)),
            &transcript,
        ))
    };
    append(&transcript, &claude_response("msg_1", 3, 900, 100, "one"));
    assert_block(&stop("one"));
    append(&transcript, &claude_response("msg_2", 1, 900, 100, "two"));
    assert_block(&stop("two"));
    let mirror = fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json"))
        .expect("a running Claude loop has its state file");
    let mirror: serde_json::Value = serde_json::from_str(&mirror).unwrap();
    assert_eq!(mirror["tokens_used"], 2_000);
    append(&transcript, &claude_response("msg_3", 2, 400, 100, "three"));
    let message = assert_allow_with_message(&stop("three"));
    assert!(message.contains("[max_tokens]"), "{message}");
    assert_eq!(
        history_tokens(&world, "claude"),
        [Some(1_000), Some(1_000), Some(500)]
    );
}

#[test]
fn a_loop_without_a_token_budget_never_reads_the_transcript() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout.jsonl");
    append(&transcript, &codex_total(1_000));
    start_from_prompt(&world, "codex", &transcript, "--max-iterations 5");
    append(&transcript, &codex_total(9_000_000));
    assert_block(&codex_stop_in(&world, &transcript, "work"));
    assert!(world.state().get("tokens_used").is_none());
    assert!(world.record().unwrap().get("usage").is_none());
    assert_eq!(history_tokens(&world, "codex"), [None]);
}

#[test]
fn a_transcript_that_is_a_symlink_or_a_fifo_is_not_read_and_the_loop_goes_on() {
    let world = World::new();
    let real = world.temp.path().join("rollout.jsonl");
    append(&real, &codex_total(1_000));
    start_from_prompt(&world, "codex", &real, "--max-tokens 5k");
    // The payload now names a symbolic link to a transcript that would spend the budget,
    // then a FIFO nobody writes to: neither is followed nor waited on.
    let link = world.temp.path().join("link.jsonl");
    let mut huge = String::new();
    huge.push_str(&codex_total(1_000));
    huge.push_str(&codex_total(900_000));
    fs_err::write(world.temp.path().join("elsewhere.jsonl"), huge).unwrap();
    std::os::unix::fs::symlink(world.temp.path().join("elsewhere.jsonl"), &link).unwrap();
    let out = codex_stop_in(&world, &link, "work");
    assert_block(&out);
    assert!(
        stderr(&out).contains("cannot count tokens"),
        "{}",
        stderr(&out)
    );
    let fifo = world.temp.path().join("fifo.jsonl");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = codex_stop_in(&world, &fifo, "more work");
    assert_block(&out);
    assert_eq!(
        history_tokens(&world, "codex"),
        [None, None],
        "a stop that could not read the transcript records no count, not 0"
    );
    assert_eq!(world.state()["tokens_used"], json!(null));
    assert!(world.state()["active"].as_bool().unwrap());
}

#[test]
fn a_loop_started_from_a_terminal_counts_from_its_first_stop_on() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout.jsonl");
    append(&transcript, &codex_total(70_000));
    world.start("S", &["--max-tokens", "1k"]);
    // The first stop finds where the session stands; what came before is not the loop's.
    assert_block(&codex_stop_in(&world, &transcript, "first"));
    append(&transcript, &codex_turn(70_600, "second"));
    assert_block(&codex_stop_in(&world, &transcript, "second"));
    append(&transcript, &codex_turn(71_000, "third"));
    let message = assert_allow_with_message(&codex_stop_in(&world, &transcript, "third"));
    assert!(message.contains("[max_tokens]"), "{message}");
}

/// A Claude stop in session S naming `reply` as the turn's last, with `env` set.
fn claude_stop_with(
    world: &World,
    transcript: &Path,
    reply: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    world.stop_with(
        &with_transcript(claude_stop("S", &world.workspace, Some(reply)), transcript),
        env,
    )
}

/// Appends `text` to `path` from another thread after `delay`: the host writing the turn's
/// last reply after it started the Stop hook (Claude Code 2.1.330).
fn append_later(
    path: &Path,
    delay: std::time::Duration,
    text: String,
) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        append(&path, &text);
    })
}

#[test]
fn a_reply_written_after_the_stop_started_is_counted_at_that_stop() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    append(&transcript, &claude_response("msg_0", 1, 10, 0, "hello"));
    start_from_prompt(&world, "claude", &transcript, "--max-tokens 10k");
    let wait = [("RALPH_HOOK_REPLY_WAIT", "10s")];
    // The turn: a response with a command, then the reply, which the host writes 300 ms
    // into the Stop hook.
    append(
        &transcript,
        &claude_response("msg_1", 2, 1_400, 100, "editing"),
    );
    let writer = append_later(
        &transcript,
        std::time::Duration::from_millis(300),
        claude_response("msg_2", 1, 1_400, 100, "Turn one done."),
    );
    let out = claude_stop_with(&world, &transcript, "Turn one done.", &wait);
    writer.join().unwrap();
    assert_block(&out);
    assert_eq!(stderr(&out), "", "the stop found the reply");
    append(
        &transcript,
        &claude_response("msg_3", 1, 1_400, 100, "Turn two done."),
    );
    assert_block(&claude_stop_with(
        &world,
        &transcript,
        "Turn two done.",
        &wait,
    ));
    assert_eq!(
        history_tokens(&world, "claude"),
        [Some(3_000), Some(1_500)],
        "each turn's responses at its own stop, none twice"
    );
}

#[test]
fn a_reply_later_than_the_wait_is_counted_at_the_next_stop_and_the_stop_says_so() {
    let world = World::new();
    let transcript = world.temp.path().join("session.jsonl");
    append(&transcript, &claude_response("msg_0", 1, 10, 0, "hello"));
    start_from_prompt(&world, "claude", &transcript, "--max-tokens 10k");
    let wait = [("RALPH_HOOK_REPLY_WAIT", "200ms")];
    append(
        &transcript,
        &claude_response("msg_1", 2, 1_400, 100, "editing"),
    );
    let out = claude_stop_with(&world, &transcript, "Turn one done.", &wait);
    assert_block(&out);
    assert!(
        stderr(&out).contains("the turn's last reply was not in the transcript")
            && stderr(&out).contains("counted at the next stop"),
        "{}",
        stderr(&out)
    );
    // The reply lands after the stop gave up; the next turn follows.
    append(
        &transcript,
        &claude_response("msg_2", 1, 1_400, 100, "Turn one done."),
    );
    append(
        &transcript,
        &claude_response("msg_3", 1, 1_400, 100, "Turn two done."),
    );
    let out = claude_stop_with(&world, &transcript, "Turn two done.", &wait);
    assert_block(&out);
    assert_eq!(stderr(&out), "");
    assert_eq!(
        history_tokens(&world, "claude"),
        [Some(1_500), Some(3_000)],
        "the late reply counted once, at the next stop"
    );
    let mirror = fs_err::read_to_string(world.workspace.join(".claude/ralph-loop-state.json"))
        .expect("a running Claude loop has its state file");
    let mirror: serde_json::Value = serde_json::from_str(&mirror).unwrap();
    assert_eq!(mirror["tokens_used"], 4_500);
}

#[test]
fn the_running_total_and_the_budget_are_in_log_show_wait_and_the_notify_variables() {
    let world = World::new();
    let transcript = world.temp.path().join("rollout.jsonl");
    let report = world.temp.path().join("notified");
    append(&transcript, &codex_total(1_000));
    start_from_prompt(
        &world,
        "codex",
        &transcript,
        &format!(
            "--max-tokens 2k --notify 'printf \"%s|%s|%s\" \"$RALPH_TOKENS\" \"$RALPH_MAX_TOKENS\" \"$RALPH_MESSAGE\" > {}.tmp && mv {}.tmp {}'",
            report.display(),
            report.display(),
            report.display()
        ),
    );
    append(&transcript, &codex_total(2_200));
    assert_block(&codex_stop_in(&world, &transcript, "step one"));
    append(&transcript, &codex_total(3_400));
    assert_allow_with_message(&codex_stop_in(&world, &transcript, "my last words"));
    let log = stdout(&world.run(&["log"]));
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("tokens=2.4k/2k (+1.2k this stop)"),
        "the last line shows the total and the budget: {log}"
    );
    let show = stdout(&world.run(&["show"]));
    assert!(show.contains("(2.4k of 2k tokens used)"), "{show}");
    let wait = world.run(&["wait"]);
    assert_eq!(wait.status.code(), Some(10));
    assert!(
        stdout(&wait).contains("2.4k of 2k tokens used"),
        "{}",
        stdout(&wait)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !report.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let notified = fs_err::read_to_string(&report).expect("the notify command ran");
    assert_eq!(notified, "2400|2000|my last words");
}
