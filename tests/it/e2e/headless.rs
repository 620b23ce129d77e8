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
    // A user's repository: `codex exec resume` as printed runs only in one.
    git_init(&world);
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
    // The command `resume` names, run as printed, continues the session.
    let how = resume
        .stdout
        .split("if it has exited, `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("resume names no command: {}", resume.stdout))
        .to_string();
    assert!(how.contains(&session), "{how}");
    link_client(&world);
    let mut bash = world.command("bash");
    bash.args(["-c", &how]);
    let again = world.run_recorded(bash, &how, world.client_deadline());
    assert_clean_exit(&again);
    assert_eq!(world.mock.turns().len(), 3, "the resumed session went on");
    let wait = world.ralph(&["wait", "--workspace", &ws, "--timeout", "5s"]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        wait.stdout
    );
}

/// The README's shell blocks that drive `client` headless, as written.
fn readme_blocks(client: Client) -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let needle = match client {
        Client::Codex => "codex exec ",
        Client::Claude => "claude -p ",
    };
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + "```sh\n".len()..];
        let Some(end) = body.find("\n```") else {
            break;
        };
        let block = &body[..end];
        if block.lines().any(|line| line.starts_with(needle)) {
            blocks.push(block.to_string());
        }
        rest = &body[end..];
    }
    blocks
}

/// Each README block that runs `client` headless, run as written by bash in a git
/// repository with the client and ralph-hook on PATH: the agent's edit lands (the
/// README's flags let it write), the loop completes, and the block's own `wait` says so.
pub fn readme_headless(client: Client, test: &str) {
    let blocks = readme_blocks(client);
    assert!(
        !blocks.is_empty(),
        "the README has no shell block that runs {} headless",
        client.name()
    );
    for (i, block) in blocks.iter().enumerate() {
        let script = vec![
            super::mock::command("echo fixed > fixed.txt"),
            text(format!("Fixed the tests. {PROMISE}")),
        ];
        let Some(world) = World::setup(client, &format!("{test}-{i}"), script) else {
            return;
        };
        world.put_hook_on_path();
        link_client(&world);
        git_init(&world);
        let mut bash = world.command("bash");
        bash.args(["-c", block]);
        let run = world.run_recorded(bash, &format!("README block {i}"), world.client_deadline());
        assert_clean_exit(&run);
        assert!(
            world.workspace.join("fixed.txt").is_file(),
            "the agent could not edit the workspace with the README's command:\n{block}\n{}",
            run.stderr
        );
        assert_eq!(
            run.stdout.lines().last(),
            Some("done"),
            "the README block did not end `done`:\n{block}\nstdout: {}\nstderr: {}",
            run.stdout,
            run.stderr
        );
    }
}

/// Puts the client on the world's PATH under its own name, as a user has it.
fn link_client(world: &World) {
    std::fs::create_dir_all(world.bin_dir()).unwrap();
    let link = world.bin_dir().join(world.client.name());
    if !link.exists() {
        std::os::unix::fs::symlink(&world.bin, &link).unwrap();
    }
}

/// Makes the workspace a git repository, as a user's is.
fn git_init(world: &World) {
    let mut git = world.command("git");
    git.args(["init", "-q"]);
    assert!(
        world
            .run_recorded(git, "git init", Duration::from_secs(30))
            .success()
    );
}
