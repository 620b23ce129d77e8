//! Headless use tells the truth (issue 24), in the real clients: `codex exec` and
//! `claude -p` show none of what the hooks say, so a refused prompt and a pause must be
//! in the history, and `wait` must answer about this host's loop.

use std::time::Duration;

use serde_json::Value;

use super::clients::Client;
use super::mock::{MockServer, held, text};
use super::scenarios::{PROMISE, assert_clean_exit, loop_prompt};
use super::world::World;

/// Releases a mock's held replies when dropped (also while unwinding).
struct ReleaseOnDrop<'a>(&'a MockServer);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The other host's name, for `--agent`.
fn other(client: Client) -> &'static str {
    match client {
        Client::Codex => "claude",
        Client::Claude => "codex",
    }
}

/// A typo'd loop prompt is refused: the client exits 0 and shows nothing, but the
/// history has the prompt's first line and why, and `wait` — which must not pick the
/// other host's earlier loop — says it was refused (13).
pub fn refused_prompt(client: Client, test: &str) {
    let Some(world) = World::setup(client, test, vec![text("The loop must not start.")]) else {
        return;
    };
    let ws = world.workspace.display().to_string();
    // An earlier loop of the other host in the same workspace, ended.
    let earlier = world.ralph(&[
        "start",
        "--agent",
        other(client),
        "--workspace",
        &ws,
        "--prompt",
        "An earlier task",
    ]);
    assert!(earlier.success(), "{}", earlier.stderr);
    assert!(
        world
            .ralph(&["cancel", "--agent", other(client), "--workspace", &ws])
            .success()
    );

    let typo =
        loop_prompt(client, "Fix the tests", 3).replace("--max-iterations", "--max-iteration");
    let run = world.run_agent(&typo);
    assert_clean_exit(&run);
    assert!(
        world.state().is_none(),
        "a loop started from a refused prompt"
    );

    let history = world.history();
    let refused: Vec<&Value> = history
        .iter()
        .filter(|h| h["decision"] == "refuse")
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the refusal is recorded once: {history:#?}"
    );
    let detail = refused[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&typo), "the prompt's first line: {detail}");
    assert!(
        detail.contains("did you mean `--max-iterations`"),
        "why: {detail}"
    );

    let log = world.ralph(&["log", "--agent", client.name(), "--workspace", &ws]);
    assert!(log.stdout.contains("prompt  refuse"), "{}", log.stdout);
    let both = world.ralph(&["wait", "--workspace", &ws]);
    assert_eq!(
        both.status.and_then(|s| s.code()),
        Some(64),
        "wait guessed a host: {}",
        both.stdout
    );
    assert!(both.stderr.contains("--agent"), "{}", both.stderr);
    let wait = world.ralph(&["wait", "--agent", client.name(), "--workspace", &ws]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(13),
        "{}",
        wait.stdout
    );
    assert!(wait.stdout.contains("[refused]"), "{}", wait.stdout);
}

/// `pause` while the headless client runs: the next stop is let through and the client
/// exits; `show` and `wait` say the loop is paused (12); `resume` names the command that
/// continues the session, and running it does.
pub fn paused_headless(client: Client, test: &str) {
    let script = vec![
        text("Pass one, more to do."),
        held(text("Pass two, paused before it ends.")),
        text(format!("Resumed and done. {PROMISE}")),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    let ws = world.workspace.display().to_string();
    let run = std::thread::scope(|s| {
        let _release = ReleaseOnDrop(&world.mock);
        let run = s.spawn(|| world.run_agent(&loop_prompt(client, "Pause me headless", 5)));
        assert!(
            world.mock.wait_for_turns(2, Duration::from_secs(60)),
            "the client never reached its second turn"
        );
        let pause = world.ralph(&["pause", "--workspace", &ws]);
        assert!(pause.success(), "{}", pause.stderr);
        world.mock.release();
        run.join().unwrap()
    });
    assert_clean_exit(&run);
    assert_eq!(
        world.mock.turns().len(),
        2,
        "a paused loop continued the turn"
    );
    let session = world.session_of(&run);

    let history = world.history();
    assert!(
        history
            .iter()
            .any(|h| h["event"] == "stop" && h["decision"] == "pause"),
        "the stop let through is not recorded: {history:#?}"
    );
    let show = world.ralph(&["show", "--workspace", &ws]);
    assert!(show.stdout.contains("let the turn end"), "{}", show.stdout);
    let wait = world.ralph(&["wait", "--workspace", &ws, "--timeout", "5s"]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(12),
        "{}",
        wait.stdout
    );

    let resume = world.ralph(&["resume", "--workspace", &ws]);
    assert!(resume.success(), "{}", resume.stderr);
    let how = match client {
        Client::Codex => format!("codex exec resume {session} -c"),
        Client::Claude => format!("claude -p --resume {session} --allowedTools Bash"),
    };
    assert!(resume.stdout.contains(&how), "{}", resume.stdout);
    let again = world.resume_agent(&session, "Go on with the loop");
    assert_clean_exit(&again);
    let wait = world.ralph(&["wait", "--workspace", &ws, "--timeout", "5s"]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        wait.stdout
    );
}
