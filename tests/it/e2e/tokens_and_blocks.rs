//! Issue 13 in the real clients: a `--max-tokens` loop ends with `max_tokens` at the turn
//! the mock's reported usage says; an agent that writes the blocked signal pauses the
//! loop, and the user's next prompt in that session resumes it to completion; `--notify`
//! runs once per loop end (and once per block) with the right variables.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::clients::Client;
use super::mock::{text, text_then_command};
use super::scenarios::{
    CONTINUE, PROMISE, assert_clean_exit, assert_no_state, assert_turns, blocks, hook_prompts,
    last_stop, q, stops,
};
use super::usage::USAGE;
use super::world::World;
use ralph_hook::testing::engine::flush::WAIT_ENV;

/// Tokens per response on both hosts for the mock's [`USAGE`] (input 900, cache reads
/// 300, cache writes 200, output 100).
const PER_RESPONSE: u64 = 1_500;

/// The `--notify` command: one line per run with every variable, appended to `out`.
fn notify_into(out: &Path) -> String {
    format!(
        r#"printf '%s|%s|%s|%s|%s\n' "$RALPH_OUTCOME" "$RALPH_REASON" "$RALPH_ITERATION" "$RALPH_WORKSPACE" "$RALPH_TASK" >> {}"#,
        q(out)
    )
}

/// The notify lines once `n` are there (the command is detached: give it a moment), or
/// whatever is there after 20 s.
fn notified(path: &Path, n: usize) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Vec<String>> = text
            .lines()
            .map(|l| l.split('|').map(str::to_string).collect())
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mark(client: Client) -> &'static str {
    match client {
        Client::Codex => "$ralph-loop",
        Client::Claude => "/ralph-loop",
    }
}

fn same_dir(a: &str, b: &Path) -> bool {
    PathBuf::from(a).canonicalize().ok() == b.canonicalize().ok()
}

/// Each turn is two model responses (text and a command, then text): 3,000 tokens. With
/// `--max-tokens 7k` the first two stops continue (3,000, then 6,000 used) and the third
/// ends the loop (9,000), though the iteration cap and the script allow more.
///
/// Exact on every client version because the stop waits for the turn's last reply
/// (`engine::flush`). Measured (docs/MEASURED.md): Claude Code 2.1.330 starts the Stop hook
/// before that reply is always in its transcript — it lands a few to a few hundred
/// milliseconds later, so without the wait a stop counted one response short and, on an
/// idle machine, the loop ran a fourth turn; 2.1.332, Codex 0.169.0 and 0.171.0 write it
/// before the hook starts.
pub fn token_budget(client: Client, test: &str) {
    let mut script = Vec::new();
    for turn in 1..=4 {
        script.push(text_then_command(
            format!("Turn {turn}: editing."),
            format!("echo 'step {turn}' >> notes.txt"),
        ));
        script.push(text(format!("Turn {turn} done, more to do. {CONTINUE}")));
    }
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(USAGE);
    // The longest wait ralph-hook allows (the default is 2 s): a loaded machine does not
    // make a stop give up on the reply.
    world.set_env(WAIT_ENV, "10s");
    let out = world.root.join("notified");
    let prompt = format!(
        "{} Write the notes --max-iterations 10 --max-tokens 7k --notify {}",
        mark(client),
        shell_word(&notify_into(&out))
    );
    let run = world.run_agent(&prompt);
    assert_clean_exit(&run);
    assert_turns(&world, 6);
    let history = world.history();
    let counted: Vec<u64> = stops(&history)
        .iter()
        .map(|h| h["tokens"].as_u64().expect("each stop counts tokens"))
        .collect();
    assert_eq!(
        counted,
        [2 * PER_RESPONSE; 3],
        "each stop counts its own turn: {history:#?}"
    );
    if client == Client::Claude {
        // The stop that ended the loop found the reply in time and had nothing to warn
        // about (Claude Code keeps only an allowing stop's stderr).
        let stderr = super::claude::stop_hook_stderr(&world);
        assert_eq!(stderr, [""], "the Stop hooks' stderr");
    }
    assert_eq!(blocks(&history).len(), 2, "{history:#?}");
    assert_eq!(last_stop(&history)["reason"], "max_tokens", "{history:#?}");
    let prompts = hook_prompts(&world);
    assert_eq!(prompts.len(), 2, "{prompts:#?}");
    assert!(!prompts[0].contains("tokens of"), "4k left: {}", prompts[0]);
    assert!(
        prompts[1].contains("1k tokens of 7k"),
        "the prompt states what is left once under a fifth is: {}",
        prompts[1]
    );
    assert_no_state(&world);
    // The default `--warn-at 50,80,100`: the second stop (6k of 7k) crossed 50% and 80%,
    // each notified once (issue 25), beside the one notice of the loop's end.
    let all = notified(&out, 3);
    let warnings = all.iter().filter(|l| l[0] == "budget_warning").count();
    assert_eq!(warnings, 2, "one notice per threshold: {all:?}");
    let lines: Vec<Vec<String>> = all
        .into_iter()
        .filter(|l| l[0] != "budget_warning")
        .collect();
    assert_eq!(lines.len(), 1, "one notice per loop end: {lines:?}");
    assert_eq!(lines[0][0], "max_tokens");
    assert!(lines[0][1].contains("7k"), "{:?}", lines[0]);
    assert_eq!(lines[0][2], "2");
    assert!(same_dir(&lines[0][3], &world.workspace), "{:?}", lines[0]);
    assert_eq!(lines[0][4], "Write the notes");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(notified(&out, 4).len(), 3, "notified again");
}

/// The agent works a turn, then says it is blocked: the client's run ends with the loop
/// paused and the user notified. The user's next prompt in that session is the answer:
/// the loop resumes, and runs to the promise.
pub fn blocked_then_answered(client: Client, test: &str) {
    let reason = "Need the deploy key for staging";
    let script = vec![
        text(format!("Prepared the release notes. {CONTINUE}")),
        text(format!(
            "I cannot deploy without the key.\n\n<ralph-blocked>{reason}</ralph-blocked>"
        )),
        text(format!("Deployed with the key. {CONTINUE}")),
        text(format!("Deployed and checked.\n{PROMISE}")),
        text("This turn must never happen."),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    let out = world.root.join("notified");
    let prompt = format!(
        "{} Deploy the release --max-iterations 5 --notify {}",
        mark(client),
        shell_word(&notify_into(&out))
    );
    let first = world.run_agent(&prompt);
    assert_clean_exit(&first);
    assert_turns(&world, 2);
    let session = world.session_of(&first);
    let state = world.state().expect("a paused loop keeps its state");
    assert_eq!(state["paused"], true, "{state:#}");
    assert_eq!(state["blocked"], reason, "{state:#}");
    assert_eq!(state["iteration"], 1, "{state:#}");
    assert_eq!(
        state["orphaned"], "the session ended (other)",
        "the client's SessionEnd marks the loop at once: {state:#}"
    );
    let lines = notified(&out, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0][..3], ["blocked", reason, "1"]);
    if client == Client::Claude {
        let messages = super::claude::system_messages(&first);
        assert!(
            messages.iter().any(|m| m.contains(reason)),
            "the user sees why: {messages:#?}"
        );
    }

    let second = world.resume_agent(&session, "The key is in the team vault as staging-deploy.");
    assert_clean_exit(&second);
    assert_eq!(world.session_of(&second), session, "the same session");
    assert_turns(&world, 4);
    let resumed = world.mock.turns()[2].text();
    assert!(
        resumed.contains("resumes") && resumed.contains(reason),
        "the agent is told the loop goes on with the user's answer"
    );
    assert!(
        resumed.contains("staging-deploy"),
        "the answer is in context"
    );
    assert_no_state(&world);
    let history = world.history();
    let events: Vec<(String, String)> = history
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap_or("").to_string(),
                h["decision"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected = [
        ("start", "start"),
        ("stop", "block"),
        ("stop", "pause"),
        // The client's run ended: its SessionEnd hook orphaned the paused loop, and the
        // same session coming back took it up again.
        ("session_end", "orphan"),
        ("resume", "resume"),
        ("stop", "block"),
        ("stop", "finish"),
    ]
    .map(|(e, d)| (e.to_string(), d.to_string()));
    assert_eq!(events, expected, "{history:#?}");
    assert_eq!(last_stop(&history)["reason"], "completed");
    let lines = notified(&out, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1][0], "completed");
    assert_eq!(lines[1][2], "2");
}

/// Quotes `text` as one word of the `$ralph-loop` prompt.
fn shell_word(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
