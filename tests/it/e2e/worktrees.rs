//! Issue 23's done-when: two `run --detach --worktree` loops in one repository, with the
//! real client, at the same time; `wait --all` returns once both ended; `worktrees
//! --prune` keeps the one whose branch holds an unmerged commit and removes the other.
//!
//! Each loop talks to a mock of its own (the second through `-c
//! model_providers.mock.base_url=…` after `--`), so each plays its own script whatever
//! order the two clients ask in. The agent that commits runs with `--sandbox
//! danger-full-access`: a worktree's `.git` is a file naming `<repo>/.git/worktrees/NAME`,
//! outside the worktree, and Codex's `workspace-write` sandbox lets the agent write only
//! inside its workspace (and keeps `.git` read-only there), so `git commit` fails under it.
//! Measured with Codex 0.171.0: under `workspace-write` the agent's `git add` fails with
//! `fatal: Unable to create '<repo>/.git/worktrees/feature/index.lock': Read-only file
//! system`, and `--add-dir <repo>/.git` does not change that (Codex keeps any `.git`
//! read-only); with `--sandbox danger-full-access` the commit lands on `ralph/feature`.

use std::path::Path;
use std::thread;
use std::time::Duration;

use super::clients::Client;
use super::mock::{MockServer, command, held, text};
use super::proc::Finished;
use super::scenarios::PROMISE;
use super::world::{World, hook_source};

/// Longest a `run --detach` or the `wait --all` may take.
const DEADLINE: Duration = Duration::from_secs(240);

/// `git ARGS` in `dir` with the world's environment; must succeed.
#[track_caller]
fn git(world: &World, dir: &Path, args: &[&str]) -> String {
    let mut cmd = world.command("git");
    cmd.current_dir(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args);
    let done = world.run_recorded(cmd, &format!("git {}", args.join(" ")), DEADLINE);
    assert!(done.success(), "git {args:?}: {}", done.stderr);
    done.stdout.trim().to_string()
}

/// The ralph-hook under test with `args`, to its end.
fn ralph(world: &World, args: &[&str]) -> Finished {
    let mut cmd = world.command(hook_source());
    cmd.args(args);
    world.run_recorded(cmd, &format!("ralph-hook {}", args.join(" ")), DEADLINE)
}

/// `run --detach --worktree NAME` in the world's repository against `mock`, with
/// `client_args` after `--`.
fn launch(world: &World, name: &str, mock: &MockServer, task: &str, client_args: &[&str]) {
    let base_url = format!("model_providers.mock.base_url=\"{}/v1\"", mock.url());
    let workspace = world.workspace.display().to_string();
    let bin = world.bin.display().to_string();
    let mut args = vec![
        "run",
        "--agent",
        world.client.name(),
        "--workspace",
        &workspace,
        "--worktree",
        name,
        "--detach",
        "--client",
        &bin,
        "--max-iterations",
        "5",
        task,
        "--",
        "-c",
        &base_url,
    ];
    args.extend_from_slice(client_args);
    let run = ralph(world, &args);
    assert!(run.success(), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("on branch ralph/{name} (from main)")),
        "{}",
        run.stdout
    );
}

/// The done-when of "loops in worktrees" and `wait --all`.
pub fn two_loops_in_worktrees(client: Client, test: &str) {
    let Some(world) = World::setup(client, test, Vec::new()) else {
        return;
    };
    for (key, value) in [
        ("RALPH_HOOK_RUN_BACKOFF", "300ms"),
        ("RALPH_HOOK_RUN_HEARTBEAT", "500ms"),
        ("RALPH_HOOK_RUN_KILL_GRACE", "3s"),
    ] {
        world.set_env(key, value);
    }
    let repo = &world.workspace;
    git(&world, repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "the project\n").unwrap();
    git(&world, repo, &["add", "README"]);
    git(&world, repo, &["commit", "-qm", "init"]);
    let commit = "printf 'the work\\n' > work.txt && git add work.txt && git -c user.name=agent -c user.email=agent@example.com commit -qm 'the agent work' && git log --oneline -1";
    world.mock.set_script(vec![
        held(command(commit)),
        text(format!("Committed the work. {PROMISE}")),
    ]);
    let docs = world.extra_mock(vec![held(text(format!(
        "The docs need no change. {PROMISE}"
    )))]);
    launch(
        &world,
        "feature",
        &world.mock,
        "Add work.txt and commit it",
        &["--sandbox", "danger-full-access"],
    );
    launch(&world, "docs", &docs, "Check the docs", &[]);
    // Both clients are in their first model turn at once.
    for (mock, name) in [(&world.mock, "feature"), (&docs, "docs")] {
        assert!(
            mock.wait_for_turns(1, Duration::from_secs(120)),
            "the {name} loop's client never asked its model"
        );
    }
    let listed = ralph(&world, &["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let holder = repo.parent().unwrap().join("workspace.ralph");
    for name in ["feature", "docs"] {
        let path = holder.join(name).display().to_string();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["workspace"] == path.as_str())
            .unwrap_or_else(|| panic!("{name} is not listed: {rows:#}"));
        assert_ne!(row["state"], "ended", "{row}");
    }
    thread::scope(|scope| {
        let waiting = scope.spawn(|| ralph(&world, &["wait", "--all", "--timeout", "200s"]));
        thread::sleep(Duration::from_secs(1));
        assert!(
            !waiting.is_finished(),
            "wait --all returned with both loops running"
        );
        world.mock.release();
        docs.release();
        let wait = waiting.join().unwrap();
        assert_eq!(
            wait.status.and_then(|s| s.code()),
            Some(0),
            "{}\n{}",
            wait.stdout,
            wait.stderr
        );
        let lines: Vec<&str> = wait.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "one line each: {}", wait.stdout);
        for name in ["feature", "docs"] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("workspace.ralph/{name} ended"))
                        && l.contains("[completed]")),
                "{}",
                wait.stdout
            );
        }
    });
    assert_eq!(
        git(&world, repo, &["log", "--format=%s", "main..ralph/feature"]),
        "the agent work"
    );
    let prune = ralph(&world, &["worktrees", "--prune"]);
    assert!(prune.success(), "{}\n{}", prune.stdout, prune.stderr);
    assert!(
        prune
            .stdout
            .contains("ralph/feature): 1 commit not merged into main"),
        "{}",
        prune.stdout
    );
    assert!(
        prune.stdout.contains("removed") && prune.stdout.contains("ralph/docs"),
        "{}",
        prune.stdout
    );
    assert!(holder.join("feature/work.txt").is_file());
    assert!(!holder.join("docs").exists());
}
