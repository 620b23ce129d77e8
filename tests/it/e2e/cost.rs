//! Issue 25 in the real clients: a `--max-cost` loop ends with `max_cost` at the response
//! the price table predicts. The mock reports usage with cache reads and writes and a
//! model name (Claude Code: `claude-sonnet-4-5`, priced by ralph-hook's built-in table;
//! Codex: its configured `mock-model`, priced by the user's `[prices."mock-model"]`), and
//! each stop's cost in the history is exactly what the table says those tokens cost,
//! cache reads at their own price.

use super::clients::Client;
use super::mock::{text, text_then_command};
use super::scenarios::{
    CONTINUE, assert_clean_exit, assert_no_state, assert_turns, last_stop, stops,
};
use super::usage::USAGE;
use super::world::World;
use ralph_hook::testing::engine::config::CONFIG_ENV;
use ralph_hook::testing::engine::flush::WAIT_ENV;

/// The user's prices for Codex's `mock-model`, USD per million tokens.
pub(super) const MOCK_PRICES: &str =
    "[prices.\"mock-model\"]\ninput = 2.0\ncache_read = 0.2\ncache_write = 2.5\noutput = 8.0\n";

/// What one response of the mock's [`USAGE`] (900 fresh input, 300 cache reads, 200 cache
/// writes, 100 output, 20 of it reasoning on Codex) costs, in nanodollars, by the table.
pub(super) fn per_response(client: Client) -> u64 {
    // tokens × USD per million = µ$ … ×1000 for nanodollars: (tokens × price) / 1000.
    let (input, read, write, output) = match client {
        // Sonnet 4.5, built in: $3, $0.30, $3.75, $15.
        Client::Claude => (3.0, 0.3, 3.75, 15.0),
        // mock-model from the config above (reasoning is billed as output).
        Client::Codex => (2.0, 0.2, 2.5, 8.0),
    };
    let usd = (USAGE.input as f64 * input
        + USAGE.cache_read as f64 * read
        + USAGE.cache_write as f64 * write
        + USAGE.output as f64 * output)
        / 1e6;
    (usd * 1e9).round() as u64
}

fn mark(client: Client) -> &'static str {
    match client {
        Client::Codex => "$ralph-loop",
        Client::Claude => "/ralph-loop",
    }
}

/// Writes the user's config with [`MOCK_PRICES`] (private to the user, as ralph-hook
/// asks) and points the world at it.
pub(super) fn use_mock_prices(world: &World) {
    let config = world.root.join("ralph-config.toml");
    std::fs::write(&config, MOCK_PRICES).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    world.set_env(CONFIG_ENV, config.to_str().unwrap());
}

/// Each turn is two model responses. The budget lies between two and three turns' cost,
/// so the first two stops continue and the third ends the loop with `max_cost`, though
/// the iteration cap and the script allow more.
pub fn cost_budget(client: Client, test: &str) {
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
    world.set_env(WAIT_ENV, "10s");
    use_mock_prices(&world);
    let turn = 2 * per_response(client);
    // Halfway between two and three turns.
    let budget_nanos = 2 * turn + turn / 2;
    let budget = format!(
        "{}.{:09}",
        budget_nanos / 1_000_000_000,
        budget_nanos % 1_000_000_000
    );
    let prompt = format!(
        "{} Write the notes --max-iterations 10 --max-cost {budget}",
        mark(client)
    );
    let run = world.run_agent(&prompt);
    assert_clean_exit(&run);
    assert_turns(&world, 6);
    let history = world.history();
    let costs: Vec<u64> = stops(&history)
        .iter()
        .map(|h| h["cost_nanos"].as_u64().expect("each stop prices its turn"))
        .collect();
    assert_eq!(
        costs, [turn; 3],
        "each stop costs what the table says its two responses cost: {history:#?}"
    );
    let last = last_stop(&history);
    assert_eq!(last["reason"], "max_cost", "{history:#?}");
    assert_eq!(last["cost_used_nanos"].as_u64(), Some(3 * turn));
    assert_eq!(last["max_cost_nanos"].as_u64(), Some(budget_nanos));
    assert_no_state(&world);
}

/// `--wrap-up on` with `--max-tokens 7k`: the first two stops continue (3,000, then 6,000
/// used); the third finds the budget spent and hands over one wrap-up continuation; the
/// fourth ends the loop with `max_tokens`, though the agent asks to go on. Budget warnings
/// at 50% and 80% notify once each.
pub fn wrap_up(client: Client, test: &str) {
    let mut script = Vec::new();
    for turn in 1..=5 {
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
    world.set_env(WAIT_ENV, "10s");
    let out = world.root.join("notified");
    let notify = format!(
        "printf '%s|%s\\n' \"$RALPH_OUTCOME\" \"$RALPH_BUDGET\" >> {}",
        super::scenarios::q(&out)
    );
    // One word of `$ralph-loop …`, as the user would quote it.
    let notify = format!("\"{}\"", notify.replace('\\', "\\\\").replace('"', "\\\""));
    let prompt = format!(
        "{} Write the notes --max-iterations 10 --max-tokens 7k --wrap-up on --notify {}",
        mark(client),
        notify
    );
    let run = world.run_agent(&prompt);
    assert_clean_exit(&run);
    assert_turns(&world, 8);
    let history = world.history();
    assert_eq!(super::scenarios::blocks(&history).len(), 3, "{history:#?}");
    assert_eq!(last_stop(&history)["reason"], "max_tokens", "{history:#?}");
    let prompts = super::scenarios::hook_prompts(&world);
    let wraps: Vec<&String> = prompts
        .iter()
        .filter(|p| {
            p.contains(
                "The token budget is spent: commit what works, write the hand-off note, and stop.",
            )
        })
        .collect();
    assert_eq!(wraps.len(), 1, "exactly one wrap-up turn: {prompts:#?}");
    assert!(
        prompts.last().is_some_and(|p| wraps.contains(&p)),
        "{prompts:#?}"
    );
    assert_no_state(&world);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let lines = loop {
        let mut lines: Vec<String> = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() >= 3 || std::time::Instant::now() > deadline {
            lines.sort();
            break lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        lines,
        [
            "budget_warning|tokens",
            "budget_warning|tokens",
            "max_tokens|"
        ],
        "50% and 80% once each, then the end"
    );
}
