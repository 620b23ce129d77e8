//! The scenarios of issue 21: `ralph-hook run` launching the real client headless,
//! binding its session, restarting it in the same session when it dies, cancel and
//! Ctrl-C ending its process group, `--detach` surviving a hangup, a dead supervisor
//! reported as crashed and taken over by `run --resume`, and `--max-restarts`.
//!
//! Real signals throughout (SIGKILL, SIGHUP, SIGINT); the supervisor's delays come from
//! its settings, shortened here ([`fast`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::clients::Client;
use super::mock::{Reply, api_error, command, held, text};
use super::proc::Finished;
use super::scenarios::{PROMISE, assert_turns, last_stop, q, stops};
use super::usage::{USAGE, jsonl_files};
use super::world::{World, hook_source};

/// Longest a whole `ralph-hook run` may take in these tests.
const RUN_DEADLINE: Duration = Duration::from_secs(240);

/// The supervisor's delays, shortened so each scenario takes seconds.
fn fast(world: &World) {
    world.set_env("RALPH_HOOK_RUN_BACKOFF", "300ms");
    world.set_env("RALPH_HOOK_RUN_MAX_BACKOFF", "1s");
    world.set_env("RALPH_HOOK_RUN_HEARTBEAT", "500ms");
    world.set_env("RALPH_HOOK_RUN_CRASH_AFTER", "3s");
    world.set_env("RALPH_HOOK_RUN_KILL_GRACE", "3s");
}

/// A world for `run`: the hooks installed, the delays shortened.
pub(super) fn setup(client: Client, test: &str, script: Vec<Reply>) -> Option<World> {
    let world = World::setup(client, test, script)?;
    fast(&world);
    Some(world)
}

/// `run --agent … --workspace … --client … EXTRA… TASK -- CLIENT ARGS`.
pub(super) fn run_args(world: &World, extra: &[&str], task: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--agent".into(),
        world.client.name().into(),
        "--workspace".into(),
        world.workspace.display().to_string(),
        "--client".into(),
        world.bin.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_string()));
    args.push(task.into());
    args.push("--".into());
    if world.client == Client::Codex {
        // The world's workspace is not a git repository.
        args.push("--skip-git-repo-check".into());
    }
    args
}

/// The ralph-hook under test with `args`, in the world's environment.
fn ralph_command(world: &World, args: &[String]) -> Command {
    let mut cmd = world.command(hook_source());
    cmd.args(args);
    cmd
}

/// Runs ralph-hook with `args` to its end.
pub(super) fn ralph_run(world: &World, args: &[String]) -> Finished {
    world.run_recorded(
        ralph_command(world, args),
        &format!("ralph-hook {}", args.join(" ")),
        RUN_DEADLINE,
    )
}

/// `ralph-hook list --json`, the row of the world's workspace.
pub(super) fn list_row(world: &World) -> Option<Value> {
    let list = world.ralph(&["list", "--json"]);
    assert!(list.success(), "list failed: {}", list.stderr);
    let rows: Value = serde_json::from_str(&list.stdout).expect("list --json is JSON");
    rows.as_array()?
        .iter()
        .find(|row| row["workspace"] == world.workspace.display().to_string().as_str())
        .cloned()
}

/// Waits until `ready` holds, up to `within`; panics with `what` otherwise.
#[track_caller]
pub(super) fn wait_until(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// The client's pid once the supervisor has one running and the model has had `turns`
/// turns.
pub(super) fn running_client(world: &World, turns: usize) -> u32 {
    assert!(
        world.mock.wait_for_turns(turns, Duration::from_secs(90)),
        "the client never reached model turn {turns}"
    );
    let mut pid = None;
    wait_until(Duration::from_secs(30), "the client's pid in list", || {
        pid = list_row(world).and_then(|row| row["client_pid"].as_u64());
        pid.is_some()
    });
    u32::try_from(pid.unwrap_or_default()).unwrap()
}

/// The files in which the world's host keeps `session` (Claude Code:
/// `projects/<folder>/<id>.jsonl`; Codex: `sessions/<date>/rollout-<time>-<id>.jsonl`).
pub(super) fn saved_session(world: &World, session: &str) -> Vec<PathBuf> {
    let home = match world.client {
        Client::Codex => &world.codex_home,
        Client::Claude => &world.claude_home,
    };
    jsonl_files(home)
        .into_iter()
        .filter(|file| {
            file.file_name()
                .is_some_and(|name| name.to_string_lossy().contains(session))
        })
        .collect()
}

/// The client's pid and session once it reached model turn `turns`, the loop's history
/// holds `binds` session bindings (the last is this client's) and the host has saved the
/// session (so that a resume finds it): a client killed before that leaves nothing to
/// resume, which [`run_starts_over_when_the_host_kept_no_session`] tests on purpose.
pub(super) fn running_saved_client(world: &World, turns: usize, binds: usize) -> (u32, String) {
    let pid = running_client(world, turns);
    let mut session = String::new();
    wait_until(
        Duration::from_secs(30),
        "the host saving the session",
        || {
            let history = world.history();
            let bound: Vec<&str> = history
                .iter()
                .filter(|h| h["decision"] == "bind")
                .filter_map(|h| h["session_id"].as_str())
                .collect();
            session = bound.last().map(|s| (*s).to_string()).unwrap_or_default();
            bound.len() >= binds
                && saved_session(world, &session)
                    .iter()
                    .any(|file| std::fs::metadata(file).is_ok_and(|m| m.len() > 0))
        },
    );
    (pid, session)
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Sends `signal` (`KILL`, `HUP` …) to `pid`.
pub(super) fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The history of the world's loop, and the one session every stop decided for.
#[track_caller]
fn one_session(history: &[Value]) -> String {
    let sessions: Vec<&str> = stops(history)
        .iter()
        .filter_map(|h| h["session_id"].as_str())
        .collect();
    assert!(!sessions.is_empty(), "no stop in {history:#?}");
    assert!(
        sessions.iter().all(|s| *s == sessions[0]),
        "the stops were decided for different sessions: {sessions:?}"
    );
    sessions[0].to_string()
}

/// The loop was bound to `session` from the client's own events, before its first stop.
#[track_caller]
fn assert_bound_before_the_first_stop(history: &[Value], session: &str) {
    let bind = history
        .iter()
        .position(|h| h["decision"] == "bind")
        .unwrap_or_else(|| panic!("no bind in {history:#?}"));
    let first_stop = history
        .iter()
        .position(|h| h["event"] == "stop")
        .unwrap_or(usize::MAX);
    assert!(
        bind < first_stop,
        "bound after the first stop: {history:#?}"
    );
    assert_eq!(history[bind]["session_id"], session, "{history:#?}");
}

/// The restart lines of the history.
pub(super) fn restarts(history: &[Value]) -> Vec<&Value> {
    history
        .iter()
        .filter(|h| h["event"] == "restart" && h["decision"] == "restart")
        .collect()
}

/// Done when (1): a run completes in the foreground with the right outcome and `wait`'s
/// exit code; the task reaches the model verbatim, as one argument.
pub fn run_completes(client: Client, test: &str) {
    let task = r#"Fix "the flaky test"; keep $(echo literal) and ${HOME} and `ticks` as they are"#;
    let script = vec![
        text("Pass one: read the code."),
        text(format!("All green now.\n{PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    world.mock.set_usage(USAGE);
    world.set_env("RALPH_HOOK_REPLY_WAIT", "10s");
    let run = ralph_run(
        &world,
        &run_args(
            &world,
            &["--max-iterations", "5", "--max-tokens", "100k"],
            task,
        ),
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("[completed]"), "{}", run.stdout);
    assert!(run.stdout.contains("agent: Pass one"), "{}", run.stdout);
    assert_turns(&world, 2);
    assert!(
        world.mock.turns()[0].text().contains(task),
        "the task did not reach the model verbatim"
    );
    let history = world.history();
    let session = one_session(&history);
    assert_bound_before_the_first_stop(&history, &session);
    assert_eq!(last_stop(&history)["reason"], "completed");
    assert_eq!(last_stop(&history)["iteration"], 1);
    assert!(restarts(&history).is_empty(), "{history:#?}");
    // The session was launched for the loop: its first turn counts as much as the next.
    let per_response = USAGE.input + USAGE.cache_read + USAGE.cache_write + USAGE.output;
    let counted: Vec<u64> = stops(&history)
        .iter()
        .map(|h| h["tokens"].as_u64().expect("each stop counts tokens"))
        .collect();
    assert_eq!(counted, [per_response; 2], "{history:#?}");
    assert_eq!(last_stop(&history)["tokens_used"], 2 * per_response);
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
    assert_eq!(row["state"], "ended", "{row}");
    assert_eq!(row["outcome"], "completed", "{row}");
}

/// Done when (2): the client is SIGKILLed mid-loop; the loop goes on in the same session
/// and completes, the iteration count carried on and the restart in the history.
pub fn run_survives_a_killed_client(client: Client, test: &str) {
    let script = vec![
        text("Pass one."),
        held(text("The killed client never says this.")),
        text("Pass two, after the restart."),
        text(format!("Done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let args = run_args(&world, &["--max-iterations", "5"], "Survive a kill");
    let run = thread::scope(|s| {
        let run = s.spawn(|| ralph_run(&world, &args));
        let (pid, _) = running_saved_client(&world, 2, 1);
        signal(pid, "KILL");
        world.note(format!("SIGKILLed the client, pid {pid}"));
        wait_until(Duration::from_secs(30), "a restart in the history", || {
            !restarts(&world.history()).is_empty()
        });
        world.mock.release();
        run.join().unwrap()
    });
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert_turns(&world, 4);
    let history = world.history();
    let session = one_session(&history);
    assert_bound_before_the_first_stop(&history, &session);
    let restart = restarts(&history);
    assert_eq!(restart.len(), 1, "{history:#?}");
    assert!(
        restart[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("SIGKILL")),
        "{}",
        restart[0]
    );
    assert_eq!(last_stop(&history)["reason"], "completed");
    assert_eq!(
        last_stop(&history)["iteration"],
        2,
        "the iteration count was not carried on"
    );
    assert!(run.stdout.contains("[ralph] resumed"), "{}", run.stdout);
}

/// Done when (3): the model answers one request with a non-retryable API error; the loop
/// is resumed in the same session and completes. Codex's `exec` ends on the failed turn
/// and is resumed; Claude Code 2.1.330 runs the Stop hook after a failed turn (measured),
/// so the hook continues the same session itself and no restart is needed.
pub fn run_resumes_after_an_api_error(client: Client, test: &str) {
    let script = vec![
        text("Pass one."),
        api_error(400, "invalid_request_error"),
        text("Pass two, after the error."),
        text(format!("Done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let run = ralph_run(
        &world,
        &run_args(&world, &["--max-iterations", "5"], "Survive an API error"),
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert_turns(&world, 4);
    let history = world.history();
    one_session(&history);
    let expected = match client {
        Client::Codex => 1,
        Client::Claude => 0,
    };
    assert_eq!(restarts(&history).len(), expected, "{history:#?}");
    assert_eq!(last_stop(&history)["reason"], "completed");
}

/// Done when (4): `--detach` returns at once, survives its launching shell's exit and a
/// SIGHUP, and `wait` returns the outcome; `logs` prints the client's raw output.
pub fn run_detached_survives_hangup(client: Client, test: &str) {
    let script = vec![
        text("Pass one."),
        held(text("Pass two, after the hangup.")),
        text(format!("Done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let args = run_args(
        &world,
        &["--detach", "--max-iterations", "5"],
        "Run detached",
    );
    let line = args
        .iter()
        .map(|a| q(Path::new(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut shell = world.command("/bin/sh");
    shell.args([
        "-c",
        &format!("{} {line}; echo run-exit=$?; exit", q(&hook_source())),
    ]);
    let launch = world.run_recorded(shell, "sh -c 'ralph-hook run --detach …'", RUN_DEADLINE);
    assert!(launch.success(), "{}", launch.stderr);
    assert!(launch.stdout.contains("run-exit=0"), "{}", launch.stdout);
    assert!(
        launch.elapsed < Duration::from_secs(60),
        "--detach did not return at once"
    );
    let supervisor = launch
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("supervisor:  pid "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no supervisor pid in {}", launch.stdout));
    running_client(&world, 2);
    signal(supervisor, "HUP");
    thread::sleep(Duration::from_millis(500));
    assert!(alive(supervisor), "the detached supervisor died of SIGHUP");
    world.mock.release();
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
    assert_turns(&world, 3);
    let history = world.history();
    let session = one_session(&history);
    assert_eq!(last_stop(&history)["reason"], "completed");
    let logs = world.ralph(&[
        "logs",
        "--workspace",
        &world.workspace.display().to_string(),
    ]);
    assert!(logs.success(), "{}", logs.stderr);
    assert!(logs.stdout.contains(&session), "{}", logs.stdout);
    wait_until(Duration::from_secs(20), "the supervisor to return", || {
        !alive(supervisor)
    });
}

/// Done when (5): `cancel` ends a running loop; no process of the run is alive within
/// 15 s, the agent's long command included.
pub fn run_cancel_leaves_nothing(client: Client, test: &str) {
    stop_a_running_loop(client, test, false);
}

/// Ctrl-C (SIGINT to the foreground `ralph-hook run`) ends the loop as `cancel` does.
pub fn run_ctrl_c_leaves_nothing(client: Client, test: &str) {
    stop_a_running_loop(client, test, true);
}

fn stop_a_running_loop(client: Client, test: &str, ctrl_c: bool) {
    // A command that never ends by itself, named by a file only this test uses (Claude
    // Code refuses chained sleeps and asks before running `&`).
    let marker = format!("hold-{}", client.name());
    let script = vec![command(format!("touch {marker}; tail -f {marker}"))];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let args = run_args(&world, &["--max-iterations", "5"], "Be cancelled");
    let (run, pid) = thread::scope(|s| {
        let run = s.spawn(|| ralph_run(&world, &args));
        let pid = running_client(&world, 1);
        wait_until(Duration::from_secs(60), "the agent's command", || {
            !processes_with(&marker).is_empty()
        });
        if ctrl_c {
            let supervisor = list_row(&world)
                .and_then(|row| row["supervisor_pid"].as_u64())
                .and_then(|pid| u32::try_from(pid).ok())
                .expect("the supervisor's pid in list");
            signal(supervisor, "INT");
        } else {
            let ws = world.workspace.display().to_string();
            let cancel = world.ralph(&["cancel", "--workspace", &ws]);
            assert!(cancel.success(), "{}", cancel.stderr);
        }
        let cancelled = Instant::now();
        wait_until(
            Duration::from_secs(15),
            "every process of the run to end",
            || !alive(pid) && processes_with(&marker).is_empty(),
        );
        world.note(format!("ended {:?} after the cancel", cancelled.elapsed()));
        (run.join().unwrap(), pid)
    });
    assert_eq!(run.status.and_then(|s| s.code()), Some(6), "{}", run.stdout);
    assert!(!alive(pid));
    let history = world.history();
    assert!(
        history.iter().any(|h| h["reason"] == "cancelled"),
        "{history:#?}"
    );
}

/// A tool the agent starts may leave the client's process group and session and outlive
/// its parent (a daemon, or Codex's `bwrap` sandbox in its own session when Codex dies
/// first). When the loop completes, `run` ends it all the same: the supervisor adopts such
/// orphans and ends every process below it but the user's notify command.
pub fn run_leaves_no_daemon(client: Client, test: &str) {
    let marker = format!("daemon-{}", client.name());
    let script = vec![
        command(format!("touch {marker}")),
        command(format!(
            "setsid -f tail -f {marker} > /dev/null 2>&1 < /dev/null"
        )),
        text(format!("Started the watcher.\n{PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let notified = world.workspace.join("notified");
    let notify = format!("sleep 1; touch {}", notified.display());
    let run = ralph_run(
        &world,
        &run_args(
            &world,
            &["--max-iterations", "3", "--notify", &notify],
            "Start a watcher",
        ),
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    // Three model requests: one per tool call, then the message; one stop.
    assert_turns(&world, 3);
    assert_eq!(last_stop(&world.history())["reason"], "completed");
    wait_until(Duration::from_secs(15), "the daemon to be ended", || {
        processes_with(&marker).is_empty()
    });
    // The notify command that reports the end is not cut short with the client's tree.
    wait_until(
        Duration::from_secs(15),
        "the notify command to finish",
        || notified.exists(),
    );
}

/// Done when (6): the supervisor is SIGKILLed; `show` and `wait` say crashed within a
/// minute, then `run --resume` completes the loop in the same session.
pub fn run_crash_then_resume(client: Client, test: &str) {
    let script = vec![
        text("Pass one."),
        held(text("Lost with the supervisor's client.")),
        text("Pass two, after run --resume."),
        text(format!("Done. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let ws = world.workspace.display().to_string();
    let args = run_args(&world, &["--max-iterations", "5"], "Survive the supervisor");
    let mut cmd = ralph_command(&world, &args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut supervisor: Child = cmd.spawn().expect("start ralph-hook run");
    let old_client = running_client(&world, 2);
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    world.note(format!(
        "SIGKILLed the supervisor, pid {}; its client {old_client} lives on",
        supervisor.id()
    ));
    let killed = Instant::now();
    let wait = world.ralph(&["wait", "--workspace", &ws]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(15),
        "{}",
        wait.stdout
    );
    assert!(wait.stdout.contains("crashed"), "{}", wait.stdout);
    assert!(killed.elapsed() < Duration::from_secs(60));
    let show = world.ralph(&["show", "--json", "--workspace", &ws]);
    let shown: Value = serde_json::from_str(&show.stdout).expect("show --json is JSON");
    assert_eq!(shown["run"]["state"], "crashed", "{shown}");
    let text = world.ralph(&["show", "--workspace", &ws]);
    assert!(text.stdout.contains("CRASHED"), "{}", text.stdout);
    assert_eq!(list_row(&world).unwrap()["state"], "crashed");

    let resume = ralph_run(
        &world,
        &[
            "run".to_string(),
            "--resume".into(),
            "--workspace".into(),
            ws.clone(),
        ],
    );
    world.mock.release();
    assert_eq!(
        resume.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        resume.stdout
    );
    assert!(
        !alive(old_client),
        "the dead supervisor's client was left running"
    );
    assert_turns(&world, 4);
    let history = world.history();
    one_session(&history);
    assert!(
        history.iter().any(|h| h["event"] == "restart"
            && h["detail"]
                .as_str()
                .is_some_and(|d| d.contains("took over from the supervisor"))),
        "{history:#?}"
    );
    assert_eq!(last_stop(&history)["reason"], "completed");
    assert_eq!(last_stop(&history)["iteration"], 2);
}

/// Done when (7): with `--max-restarts 1` and an agent that dies twice (SIGKILLed while
/// the model thinks), the loop ends `restarts_exhausted`, `wait`'s own exit code, and
/// notify runs for the restart and the end.
pub fn run_restarts_exhausted(client: Client, test: &str) {
    let script = vec![
        held(text("The first client never says this.")),
        held(text("The second client never says this.")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    let notified = world.root.join("scratch").join("notified");
    let notify = format!("echo \"$RALPH_OUTCOME\" >> {}", q(&notified));
    let args = run_args(
        &world,
        &["--max-restarts", "1", "--notify", &notify],
        "Die twice",
    );
    let run = thread::scope(|s| {
        let _release = ReleaseOnDrop(&world);
        let run = s.spawn(|| ralph_run(&world, &args));
        let (first, _) = running_saved_client(&world, 1, 1);
        signal(first, "KILL");
        let mut second = first;
        wait_until(Duration::from_secs(60), "the restarted client", || {
            second = list_row(&world)
                .and_then(|row| row["client_pid"].as_u64())
                .and_then(|pid| u32::try_from(pid).ok())
                .unwrap_or(first);
            second != first && world.mock.turns().len() >= 2
        });
        signal(second, "KILL");
        run.join().unwrap()
    });
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(14),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[restarts_exhausted]"),
        "{}",
        run.stdout
    );
    assert_turns(&world, 2);
    let history = world.history();
    assert_eq!(restarts(&history).len(), 1, "{history:#?}");
    let end = history.last().unwrap();
    assert_eq!(end["reason"], "restarts_exhausted", "{history:#?}");
    wait_until(Duration::from_secs(20), "both notifications", || {
        std::fs::read_to_string(&notified).is_ok_and(|t| t.lines().count() >= 2)
    });
    let lines = std::fs::read_to_string(&notified).unwrap();
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        ["restarting", "restarts_exhausted"],
        "{lines}"
    );
    let wait = world.ralph(&[
        "wait",
        "--workspace",
        &world.workspace.display().to_string(),
    ]);
    assert_eq!(
        wait.status.and_then(|s| s.code()),
        Some(14),
        "{}",
        wait.stdout
    );
}

/// A client killed before its host saved the session's first turn leaves nothing to
/// resume (seen in CI under load: every `claude -p --resume ID` then ends "No
/// conversation found"). Here the host's session file is removed after the kill, as if it
/// had never been written: the supervisor starts the iteration over in a new session at
/// once, without spending a restart on it, binds the loop to the new id with a history
/// line that says why, and the loop completes.
pub fn run_starts_over_when_the_host_kept_no_session(client: Client, test: &str) {
    let script = vec![
        held(text("The killed client never says this.")),
        text(format!("Done in the new session. {PROMISE}")),
    ];
    let Some(world) = setup(client, test, script) else {
        return;
    };
    // Time enough to remove the session's file between the kill and the resume.
    world.set_env("RALPH_HOOK_RUN_BACKOFF", "3s");
    world.set_env("RALPH_HOOK_RUN_MAX_BACKOFF", "3s");
    let args = run_args(
        &world,
        &["--max-iterations", "5", "--max-restarts", "1"],
        "Start over",
    );
    let run = thread::scope(|s| {
        let _release = ReleaseOnDrop(&world);
        let run = s.spawn(|| ralph_run(&world, &args));
        let (pid, session) = running_saved_client(&world, 1, 1);
        signal(pid, "KILL");
        wait_until(Duration::from_secs(30), "a restart in the history", || {
            !restarts(&world.history()).is_empty()
        });
        for file in saved_session(&world, &session) {
            std::fs::remove_file(&file).unwrap();
            world.note(format!(
                "removed the host's session file {}",
                file.display()
            ));
        }
        world.mock.release();
        run.join().unwrap()
    });
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stdout);
    assert_turns(&world, 2);
    let history = world.history();
    assert_eq!(restarts(&history).len(), 1, "{history:#?}");
    let binds: Vec<&Value> = history.iter().filter(|h| h["decision"] == "bind").collect();
    assert_eq!(binds.len(), 2, "{history:#?}");
    assert_eq!(binds[0]["session_id"], restarts(&history)[0]["session_id"]);
    assert_ne!(binds[0]["session_id"], binds[1]["session_id"]);
    let over = history
        .iter()
        .position(|h| h["event"] == "restart" && h["decision"] == "next_session")
        .unwrap_or_else(|| panic!("no start-over line in {history:#?}"));
    assert!(
        history[over]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("kept no session")
                && d.contains(binds[0]["session_id"].as_str().unwrap())),
        "{}",
        history[over]
    );
    assert_eq!(
        one_session(&history),
        binds[1]["session_id"].as_str().unwrap()
    );
    assert_eq!(last_stop(&history)["reason"], "completed");
    assert!(run.stdout.contains("kept no session"), "{}", run.stdout);
    // The new session is given the task from its start, not a resume's continuation.
    let turns = world.mock.turns();
    assert!(turns[1].body.contains("Start over"), "{}", turns[1].body);
    assert!(
        !turns[1]
            .body
            .contains("Keep working on the task below in this same session")
    );
}

/// Releases the world's held replies when dropped (also while unwinding).
struct ReleaseOnDrop<'a>(&'a World);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.mock.release();
    }
}

/// `run` refuses a mistyped loop flag before anything starts: exit 64, the did-you-mean,
/// no client launched, no loop recorded.
pub fn run_refuses_a_typo(client: Client, test: &str) {
    let Some(world) = setup(client, test, vec![text("never")]) else {
        return;
    };
    let run = ralph_run(&world, &run_args(&world, &["--max-iteration", "5"], "Typo"));
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(64),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--max-iterations"), "{}", run.stderr);
    assert_turns(&world, 0);
    assert!(world.history().is_empty());
}
