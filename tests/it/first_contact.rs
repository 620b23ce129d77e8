//! What a new user trips over (issue 12), each point through the real binary: in the
//! agent through the prompt hook with the hosts' real payloads, on the command line as
//! people and scripts run it.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;

const DONE: &str = "<promise>DONE</promise>";

/// The prompt hook's answer to `prompt` from `host` in session `session`.
fn ask(world: &World, host: &str, session: &str, prompt: &str) -> Value {
    let out = world.prompt(&prompt_payload(host, session, &world.workspace, prompt));
    assert_success(&out);
    json_out(&out)
}

/// The reason of a prompt the hook refused (no model turn), asserting it was refused.
#[track_caller]
fn refused(answer: &Value) -> String {
    assert_eq!(answer["decision"], "block", "{answer}");
    assert!(answer.get("hookSpecificOutput").is_none(), "{answer}");
    answer["reason"].as_str().expect("reason").to_string()
}

fn loop_command(host: &str) -> &'static str {
    match host {
        "codex" => "$ralph-loop",
        _ => "/ralph-loop",
    }
}

fn other_loop_command(host: &str) -> &'static str {
    match host {
        "codex" => "/ralph-loop",
        _ => "$ralph-loop",
    }
}

fn state_file(world: &World, host: &str) -> PathBuf {
    world
        .workspace
        .join(format!(".{host}"))
        .join("ralph-loop-state.json")
}

// ---- 1. help in the agent ----

#[test]
fn help_in_the_agent_answers_with_the_usage_and_starts_nothing() {
    for host in ["codex", "claude"] {
        let cmd = loop_command(host);
        for form in ["help", "--help", "-h"] {
            let world = World::new();
            let reason = refused(&ask(&world, host, "S", &format!("{cmd} {form}")));
            for expected in [
                format!("Usage: {cmd} TASK [FLAGS]"),
                "--max-iterations <N>".to_string(),
                "[default: 50]".to_string(),
                "--completion-promise".to_string(),
                "--max-duration".to_string(),
                "--no-progress".to_string(),
                "--verify-timeout".to_string(),
                format!("{cmd} Fix the failing tests --max-iterations 20"),
                format!("{cmd} status"),
                format!("{cmd} cancel"),
            ] {
                assert!(
                    reason.contains(&expected),
                    "{host} {form}: no {expected:?} in\n{reason}"
                );
            }
            assert!(
                !reason.contains(other_loop_command(host)),
                "{host}: the other host's syntax in\n{reason}"
            );
            assert!(
                !state_file(&world, host).exists(),
                "{host} {form} started a loop"
            );
        }
    }
}

// ---- 2. a mistyped flag, and what a started loop understood ----

#[test]
fn a_mistyped_flag_in_the_agent_is_refused_with_the_flag_it_was_meant_as() {
    for host in ["codex", "claude"] {
        let world = World::new();
        let cmd = loop_command(host);
        let reason = refused(&ask(
            &world,
            host,
            "S",
            &format!("{cmd} Fix the tests --max-iteration 3"),
        ));
        assert!(
            reason.contains("did you mean `--max-iterations`?"),
            "{reason}"
        );
        assert!(reason.contains("Nothing was started"), "{reason}");
        assert!(reason.contains(&format!("`{cmd} help`")), "{reason}");
        assert!(!state_file(&world, host).exists());
    }
}

#[test]
fn other_double_dash_words_stay_in_the_task() {
    let world = World::new();
    let answer = ask(
        &world,
        "codex",
        "S",
        "$ralph-loop add a --verbose flag to the CLI --max-iterations 4",
    );
    assert!(answer.get("decision").is_none(), "{answer}");
    assert_eq!(world.state()["prompt"], "add a --verbose flag to the CLI");
    assert_eq!(world.state()["max_iterations"], 4);
}

#[test]
fn a_started_loop_tells_the_user_what_was_understood() {
    let world = World::new();
    let answer = ask(
        &world,
        "claude",
        "S",
        "/ralph-loop Fix the tests --max-iterations 7 --completion-promise 'ALL DONE' \
         --max-duration 90m --no-progress 2 --verify 'cargo test'",
    );
    let note = answer["systemMessage"].as_str().expect("systemMessage");
    for expected in [
        "task:        Fix the tests",
        "iterations:  at most 7",
        "<promise>ALL DONE</promise>",
        "time limit:  1h30m",
        "after 2 stops without progress",
        "`cargo test` must pass",
        "`/ralph-loop status`",
        "`/ralph-loop cancel`",
    ] {
        assert!(note.contains(expected), "no {expected:?} in\n{note}");
    }
    assert!(!note.contains("$ralph-loop"), "{note}");
}

// ---- 3. the host's own syntax ----

#[test]
fn a_refusal_names_the_cancel_command_in_the_hosts_syntax() {
    for host in ["codex", "claude"] {
        let world = World::new();
        let cmd = loop_command(host);
        ask(&world, host, "A", &format!("{cmd} first task"));
        let reason = refused(&ask(&world, host, "B", &format!("{cmd} second task")));
        assert!(reason.contains("already active"), "{reason}");
        assert!(reason.contains(&format!("`{cmd} cancel`")), "{reason}");
        assert!(
            !reason.contains(other_loop_command(host)),
            "{host}: the other host's syntax in {reason}"
        );
    }
}

// ---- 5. words for a person ----

#[test]
fn an_uncapped_loop_from_the_agent_says_so_with_the_warning() {
    let world = World::new();
    let answer = ask(
        &world,
        "codex",
        "S",
        "$ralph-loop Fix it --max-iterations 0",
    );
    let note = answer["systemMessage"].as_str().expect("systemMessage");
    assert!(note.contains("iterations:  no cap (warning:"), "{note}");
    assert!(note.contains("only the completion signal"), "{note}");
    assert!(!note.contains("at most"), "{note}");
    assert_eq!(world.state()["max_iterations"], 0);
}

#[test]
fn show_reads_as_sentences_without_trailing_spaces() {
    let world = World::new();
    ask(
        &world,
        "codex",
        "S",
        "$ralph-loop Fix it --max-iterations 0",
    );
    let reason = assert_block(&world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some("working <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>"),
    )));
    assert!(reason.contains("iteration 1"), "{reason}");
    let text = stdout(&world.run(&["show"]));
    for line in text.lines() {
        assert_eq!(line, line.trim_end(), "trailing space in {line:?}");
    }
    assert!(text.contains("iteration:   1 (no cap)\n"), "{text}");
    let last = text
        .lines()
        .find(|line| line.contains("last stop:"))
        .unwrap_or_else(|| panic!("no last stop in\n{text}"));
    assert!(
        last.contains("ago, sent the agent a continuation prompt: the agent's message ended with the continuation signal"),
        "{last}"
    );
    assert!(!last.contains("message carried"), "{last}");
}

// ---- 6. help of the hook commands ----

#[test]
fn the_hook_commands_print_their_help() {
    let world = World::new();
    for hook in ["stop", "prompt"] {
        for flag in ["--help", "-h"] {
            let out = world.run(&[hook, flag]);
            assert_success(&out);
            let text = stdout(&out);
            assert!(
                text.contains(&format!("Usage: ralph-hook {hook}")),
                "{hook} {flag}: {text}"
            );
            assert!(text.contains("--agent"), "{text}");
            assert!(!stderr(&out).contains("bad hook command line"));
        }
    }
}

// ---- 7. relative workspaces, and the host whose files exist ----

#[test]
fn start_takes_a_relative_workspace_as_git_and_cargo_do() {
    let world = World::new();
    let sub = world.workspace.join("sub");
    fs_err::create_dir_all(&sub).unwrap();
    let out = world
        .cmd()
        .args([
            "start",
            "--workspace",
            ".",
            "--session",
            "S",
            "--prompt",
            "t",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(world.state()["prompt"], "t");
    let ws = world.workspace.canonicalize().unwrap();
    assert_eq!(world.state()["workspace"], ws.to_str().unwrap());
    let out = world
        .cmd()
        .current_dir(&sub)
        .args(["show", "--workspace", ".."])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("task:        t"), "{}", stdout(&out));
    let out = world.run(&["show", "--workspace", "no/such/dir"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not an existing directory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn show_and_log_pick_the_host_whose_loop_files_exist() {
    let world = World::new();
    // A Claude-only repository: the loop runs in Claude Code and ends there.
    ask(
        &world,
        "claude",
        "C",
        "/ralph-loop claude task --max-iterations 1",
    );
    let stop = claude_stop("C", &world.workspace, Some("one"));
    assert_block(&world.stop(&stop));
    world.stop(&stop);
    assert!(!world.workspace.join(".codex").exists());
    let show = stdout(&world.run(&["show"]));
    assert!(
        show.contains("The last one ended") && show.contains("max_iterations"),
        "{show}"
    );
    let log = stdout(&world.run(&["log"]));
    assert!(log.contains("reason=max_iterations"), "{log}");

    // An old Codex history beside a newer Claude one: the newer one is shown. (Histories
    // live with the user's record, one folder per host and workspace.)
    let workspace = std::fs::canonicalize(&world.workspace).unwrap();
    let codex = ralph_hook::testing::engine::ownership::Registry::at(&world.state_dir)
        .loop_dir(&workspace, ralph_hook::testing::agent::Agent::Codex);
    fs_err::create_dir_all(&codex).unwrap();
    let old = codex.join("history.jsonl");
    fs_err::write(
        &old,
        "{\"at\":\"2020-01-01T00:00:00Z\",\"event\":\"stop\",\"decision\":\"finish\",\"reason\":\"cancelled\",\"iteration\":9,\"max_iterations\":9}\n",
    )
    .unwrap();
    let file = std::fs::File::options().write(true).open(&old).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800))
        .unwrap();
    let log = stdout(&world.run(&["log"]));
    assert!(
        log.contains("reason=max_iterations") && !log.contains("cancelled"),
        "{log}"
    );
    let codex_log = stdout(&world.run(&["log", "--agent", "codex"]));
    assert!(codex_log.contains("cancelled"), "{codex_log}");

    // Nothing at all: the message does not send the user to a file of the wrong host.
    let empty = World::new();
    fs_err::create_dir_all(empty.workspace.join(".claude")).unwrap();
    let text = stdout(&empty.run(&["log"]));
    assert!(text.contains("No history of a Claude Code loop"), "{text}");
}

// ---- 8. on PATH, doctor, uninstall ----

/// A folder holding an executable `ralph-hook`: a copy of the binary under test, or a
/// script that claims `version`.
fn bin_dir(world: &World, name: &str, version: Option<&str>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = world.temp.path().join(name);
    fs_err::create_dir_all(&dir).unwrap();
    let target = dir.join("ralph-hook");
    match version {
        None => {
            fs_err::copy(assert_cmd::cargo::cargo_bin("ralph-hook"), &target).unwrap();
        }
        Some(version) => {
            fs_err::write(&target, format!("#!/bin/sh\necho 'ralph-hook {version}'\n")).unwrap();
        }
    }
    fs_err::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn homes(world: &World) -> Vec<String> {
    vec![
        "--codex-home".into(),
        world.home.join(".codex").display().to_string(),
        "--claude-home".into(),
        world.home.join(".claude").display().to_string(),
        "--codex-bin".into(),
        "/nonexistent/codex".into(),
    ]
}

fn doctor_with_path(world: &World, path: &str) -> Output {
    world
        .cmd()
        .arg("doctor")
        .args(homes(world))
        .env("PATH", path)
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap()
}

#[test]
fn doctor_checks_that_ralph_hook_is_on_path_at_this_version() {
    let world = World::new();
    let own = format!("ralph-hook {}", env!("CARGO_PKG_VERSION"));
    let out = doctor_with_path(&world, "/usr/bin:/bin");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("✗ `ralph-hook` is not on PATH"), "{text}");
    assert!(text.contains("fix: install/install.sh"), "{text}");

    let good = bin_dir(&world, "good-bin", None);
    let text = stdout(&doctor_with_path(
        &world,
        &format!("{}:/usr/bin:/bin", good.display()),
    ));
    assert!(
        text.contains(&format!(
            "✓ `ralph-hook` on PATH is {}/ralph-hook ({own})",
            good.display()
        )),
        "{text}"
    );

    let old = bin_dir(&world, "old-bin", Some("0.0.1"));
    let text = stdout(&doctor_with_path(
        &world,
        &format!("{}:{}:/usr/bin:/bin", old.display(), good.display()),
    ));
    assert!(
        text.contains(&format!("is ralph-hook 0.0.1, this is {own}")),
        "{text}"
    );
}

#[test]
fn doctor_names_the_path_fix_for_the_copy_install_placed() {
    let world = World::new();
    let placed = bin_dir(&world, "local-bin", None).join("ralph-hook");
    let mut args = vec!["install", "--agent", "claude", "--no-trust", "--path-copy"];
    let placed_str = placed.display().to_string();
    args.push(&placed_str);
    let homes = homes(&world);
    let out = world.cmd().args(&args).args(&homes[..4]).output().unwrap();
    assert_success(&out);
    let text = stdout(&doctor_with_path(&world, "/usr/bin:/bin"));
    assert!(
        text.contains(&format!(
            "fix: export PATH=\"{}:$PATH\"",
            placed.parent().unwrap().display()
        )),
        "{text}"
    );
}

#[test]
fn uninstall_says_what_it_leaves_and_purge_removes_the_path_copy_and_loop_records() {
    let world = World::new();
    let placed = bin_dir(&world, "local-bin", None).join("ralph-hook");
    let placed_str = placed.display().to_string();
    let homes = homes(&world);
    let path = format!("{}:/usr/bin:/bin", placed.parent().unwrap().display());
    let run = |args: &[&str]| {
        world
            .cmd()
            .args(args)
            .args(&homes[..4])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    assert_success(&run(&[
        "install",
        "--agent",
        "claude",
        "--no-trust",
        "--path-copy",
        &placed_str,
    ]));
    // A loop this user started leaves a record in the user's state folder.
    world.start("S", &[]);
    assert!(
        world
            .state_dir
            .join("workspaces")
            .read_dir()
            .unwrap()
            .next()
            .is_some()
    );

    let out = run(&["uninstall", "--agent", "claude"]);
    assert_success(&out);
    let text = stdout(&out);
    for expected in [
        "left in place: backups".to_string(),
        format!("left in place: {placed_str} on PATH (`ralph-hook uninstall --purge` removes it)"),
        format!(
            "left in place: your loop records and histories in {}",
            world.state_dir.display()
        ),
        "left in place: loop state files inside workspaces".to_string(),
    ] {
        assert!(text.contains(&expected), "no {expected:?} in\n{text}");
    }
    assert!(placed.exists());

    // Purge's removals are part of uninstall's plan: listed by --dry-run, then applied.
    let removals = [
        format!("  {placed_str}: remove the copy install/install.sh put on PATH"),
        format!(
            "  {}: remove your loop records",
            world.state_dir.join("workspaces").display()
        ),
        format!(
            "  {}: remove the record of the copy on PATH",
            world.state_dir.join("path-copy").display()
        ),
    ];
    let assert_listed = |text: &str, heading: &str| {
        let listed = text
            .split_once(&format!(
                "{heading} the copy on PATH, the man pages and your loop records:\n"
            ))
            .map(|(_, listed)| listed)
            .unwrap_or_else(|| panic!("no {heading:?} part in\n{text}"));
        for removal in &removals {
            assert!(
                listed.contains(removal.as_str()),
                "no {removal:?} in\n{text}"
            );
        }
    };
    let out = run(&["uninstall", "--purge", "--dry-run"]);
    assert_success(&out);
    assert_listed(&stdout(&out), "would purge");
    assert!(placed.exists() && world.state_dir.join("workspaces").exists());
    assert!(world.state_dir.join("path-copy").exists());

    let out = run(&["uninstall", "--purge"]);
    assert_success(&out);
    let text = stdout(&out);
    assert_listed(&text, "purge");
    assert!(!world.state_dir.join("path-copy").exists());
    assert!(!placed.exists(), "the copy on PATH is still there");
    assert!(!world.state_dir.join("workspaces").exists());
    assert!(!text.contains("left in place: your loop records"), "{text}");
    // The workspace's own loop files are the user's: purge does not touch them.
    assert!(world.state_path().exists());
}

#[test]
fn purge_never_removes_a_ralph_hook_that_install_did_not_place() {
    let world = World::new();
    let other = bin_dir(&world, "cargo-bin", None).join("ralph-hook");
    let out = world
        .cmd()
        .args(["uninstall", "--purge"])
        .args(&homes(&world)[..4])
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", other.parent().unwrap().display()),
        )
        .output()
        .unwrap();
    assert_success(&out);
    assert!(other.exists());
    assert!(
        stdout(&out).contains("install/install.sh did not put it there"),
        "{}",
        stdout(&out)
    );
}

/// install/install.sh as a user runs it, with a stand-in `cargo` that "builds" the binary
/// under test into `CARGO_TARGET_DIR`: the copy on PATH, the man pages, the record.
#[test]
fn install_sh_places_the_binary_the_man_pages_and_records_the_copy() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let tools = world.temp.path().join("tools");
    let target = world.temp.path().join("target");
    fs_err::create_dir_all(&tools).unwrap();
    fs_err::create_dir_all(target.join("release")).unwrap();
    let cargo = tools.join("cargo");
    fs_err::write(
        &cargo,
        format!(
            "#!/bin/sh\ncp '{}' \"$CARGO_TARGET_DIR/release/ralph-hook\"\n",
            assert_cmd::cargo::cargo_bin("ralph-hook").display()
        ),
    )
    .unwrap();
    fs_err::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    fs_err::create_dir_all(world.home.join(".claude")).unwrap();
    let bin = world.home.join(".local/bin");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install/install.sh");
    let out = StdCommand::new("bash")
        .arg(&script)
        .args(["--agent", "claude", "--claude-home"])
        .arg(world.home.join(".claude"))
        .env_clear()
        .env("HOME", &world.home)
        .env("PATH", format!("{}:/usr/bin:/bin", tools.display()))
        .env("CARGO_TARGET_DIR", &target)
        .env("XDG_DATA_HOME", world.home.join(".local/share"))
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    let said = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(bin.join("ralph-hook").is_file(), "{said}");
    assert!(said.contains("is not on your PATH"), "{said}");
    let man = world.home.join(".local/share/man/man1");
    assert!(man.join("ralph-hook.1").is_file(), "{said}");
    assert!(man.join("ralph-hook-wait.1").is_file(), "{said}");
    assert!(said.contains("completions"), "{said}");
    assert!(world.home.join(".claude/settings.json").is_file(), "{said}");
    let record = fs_err::read_to_string(world.state_dir.join("path-copy")).unwrap();
    assert_eq!(record.trim(), bin.join("ralph-hook").display().to_string());
    // doctor (run by the script) named the fix for PATH.
    assert!(
        said.contains(&format!("export PATH=\"{}:$PATH\"", bin.display())),
        "{said}"
    );
    // man does not look in this folder: the script says the MANPATH line, not `man ralph-hook`.
    assert!(
        said.contains(&format!(
            "export MANPATH=\"{}:$MANPATH\"",
            world.home.join(".local/share/man").display()
        )),
        "{said}"
    );
    assert!(!said.contains("(man ralph-hook)"), "{said}");
    // `uninstall --purge` removes ralph-hook's pages and only those.
    fs_err::write(man.join("other.1"), ".TH other 1\n").unwrap();
    fs_err::write(man.join("ralph-hook-extra.1"), ".TH someone-else 1\n").unwrap();
    let out = world
        .cmd()
        .args(["uninstall", "--purge", "--agent", "claude", "--claude-home"])
        .arg(world.home.join(".claude"))
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("remove a man page install/install.sh wrote"),
        "{}",
        stdout(&out)
    );
    assert!(!man.join("ralph-hook.1").exists(), "{}", stdout(&out));
    assert!(!man.join("ralph-hook-wait.1").exists());
    assert!(
        man.join("other.1").is_file(),
        "another program's page was removed"
    );
    assert!(
        man.join("ralph-hook-extra.1").is_file(),
        "a page not ours was removed"
    );
    assert!(!world.state_dir.join("man-pages").exists());
}

// ---- 9. wait ----

/// `ralph-hook wait ARGS` in the world's workspace, started now.
fn spawn_wait(world: &World, args: &[&str]) -> std::process::Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("ralph-hook"))
        .arg("wait")
        .args(args)
        .current_dir(&world.workspace)
        .env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env_remove("RALPH_HOOK_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Flags of `start`, the messages of the stops that follow, `wait`'s exit code and tag.
type WaitCase<'a> = (&'a [&'a str], &'a [Option<&'a str>], i32, &'a str);

#[test]
fn wait_reports_how_the_last_loop_ended_with_its_exit_code() {
    let cases: [WaitCase; 4] = [
        (
            &["--max-iterations", "1"],
            &[Some("a"), Some("b")],
            3,
            "[max_iterations]",
        ),
        (&[], &[Some(DONE)], 0, "[completed]"),
        (&["--max-duration", "1s"], &[], 4, "[max_duration]"),
        (
            &["--no-progress", "2"],
            &[Some("same"), Some("same")],
            5,
            "[no_progress_message]",
        ),
    ];
    for (flags, messages, code, tag) in cases {
        let world = World::new();
        world.start("S", flags);
        if flags.contains(&"--max-duration") {
            let later = (std::time::SystemTime::now() + Duration::from_secs(5))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string();
            world.stop_with(
                &codex_stop("S", &world.workspace, Some("late")),
                &[("RALPH_HOOK_NOW", &later)],
            );
        }
        for message in messages {
            world.stop(&codex_stop("S", &world.workspace, *message));
        }
        assert!(
            !world.state_path().exists(),
            "{flags:?}: the loop still runs"
        );
        let out = world.run(&["wait"]);
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {}", stdout(&out));
        assert!(stdout(&out).contains(tag), "{}", stdout(&out));
    }
}

#[test]
fn wait_blocks_until_the_running_loop_ends() {
    let world = World::new();
    world.start("S", &["--max-iterations", "5"]);
    let child = spawn_wait(&world, &[]);
    std::thread::sleep(Duration::from_millis(600));
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("one"))));
    std::thread::sleep(Duration::from_millis(400));
    let ended = Instant::now();
    world.stop(&codex_stop(
        "S",
        &world.workspace,
        Some(&format!("done {DONE}")),
    ));
    let out = child.wait_with_output().unwrap();
    assert!(ended.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("after 1 iteration [completed]"), "{text}");
}

#[test]
fn a_cancelled_loop_ends_wait_with_6_and_a_timeout_with_8() {
    let world = World::new();
    world.start("S", &[]);
    let out = world.run(&["wait", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(8), "{}", stdout(&out));
    assert!(stdout(&out).contains("still runs"), "{}", stdout(&out));
    let child = spawn_wait(&world, &[]);
    std::thread::sleep(Duration::from_millis(400));
    assert_success(&world.run(&["cancel"]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
    assert!(stdout(&out).contains("[cancelled]"), "{}", stdout(&out));
}

#[test]
fn wait_without_any_loop_exits_9_and_a_bad_timeout_is_a_usage_error() {
    let world = World::new();
    let out = world.run(&["wait"]);
    assert_eq!(out.status.code(), Some(9), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("No ralph loop runs"),
        "{}",
        stdout(&out)
    );
    let out = world.run(&["wait", "--timeout", "soon"]);
    assert!(!out.status.success());
    assert!(![0, 3, 4, 5, 6, 7, 8, 9].contains(&out.status.code().unwrap_or(0)));
    assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
}

// ---- 10. completions and man ----

#[test]
fn completions_cover_every_shell_and_command() {
    let world = World::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = world.run(&["completions", shell]);
        assert_success(&out);
        let text = stdout(&out);
        for word in ["wait", "doctor", "max-iterations", "completions"] {
            assert!(text.contains(word), "{shell}: no {word}");
        }
    }
    let out = world.run(&["completions", "tcsh"]);
    assert!(!out.status.success());
}

#[test]
fn man_prints_the_page_and_writes_one_per_command() {
    let world = World::new();
    let out = world.run(&["man"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains(".TH ralph-hook 1"), "{text}");
    assert!(text.contains("ralph\\-hook\\-wait(1)"), "{text}");
    let dir = world.temp.path().join("man1");
    assert_success(&world.run(&["man", "--dir", dir.to_str().unwrap()]));
    let start = fs_err::read_to_string(dir.join("ralph-hook-start.1")).unwrap();
    assert!(start.contains("max\\-iterations"), "{start}");
    assert!(dir.join("ralph-hook-wait.1").is_file());
}

// ---- 11. colour and marks ----

#[test]
fn colour_only_where_asked_or_on_a_terminal() {
    let world = World::new();
    world.start("S", &[]);
    let show = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = world.cmd();
        cmd.args(args);
        for (key, value) in env {
            cmd.env(key, value);
        }
        stdout(&cmd.output().unwrap())
    };
    let escape = "\u{1b}[";
    assert!(
        !show(&["show"], &[]).contains(escape),
        "piped output is plain"
    );
    assert!(show(&["show", "--color", "always"], &[]).contains(escape));
    assert!(show(&["log", "--color", "always"], &[]).contains(escape));
    assert!(show(&["show"], &[("CLICOLOR_FORCE", "1")]).contains(escape));
    assert!(!show(&["show"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(escape));
    assert!(!show(&["show", "--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains(escape));
    let plain = show(&["show", "--color", "never"], &[]);
    assert!(
        plain.contains("task:        Fix the failing tests"),
        "{plain}"
    );
}

#[test]
fn marks_are_ascii_when_the_locale_is_not_utf8() {
    let world = World::new();
    let doctor = |lang: &str| {
        stdout(
            &world
                .cmd()
                .arg("doctor")
                .args(homes(&world))
                .env("LANG", lang)
                .env_remove("LC_ALL")
                .env_remove("LC_CTYPE")
                .output()
                .unwrap(),
        )
    };
    let utf8 = doctor("en_US.UTF-8");
    assert!(utf8.contains("✗ "), "{utf8}");
    let ascii = doctor("C");
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(ascii.contains("XX binary"), "{ascii}");
    let ws = world.workspace.to_str().unwrap();
    assert_success(&world.run(&[
        "start",
        "--workspace",
        ws,
        "--session",
        "S",
        "--prompt",
        "a\nb\nc\nd",
    ]));
    let show = world.cmd().arg("show").env("LANG", "C").output().unwrap();
    let text = stdout(&show);
    assert!(text.contains("..."), "{text}");
    assert!(!text.contains('…'), "{text}");
}

// ---- 12. cargo install ----

#[test]
fn the_manifest_carries_what_crates_io_and_cargo_install_show() {
    let manifest: toml_edit::DocumentMut =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let package = &manifest["package"];
    for key in ["description", "license", "keywords", "categories", "readme"] {
        assert!(
            package.get(key).is_some(),
            "Cargo.toml has no package.{key}"
        );
    }
    let categories = package["categories"].as_array().unwrap();
    assert!(
        categories
            .iter()
            .any(|c| c.as_str() == Some("command-line-utilities")),
        "{categories}"
    );
}
