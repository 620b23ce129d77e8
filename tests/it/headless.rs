//! Headless and scripted use tells the truth (issue 24): what `codex exec` and
//! `claude -p` never show (a refused prompt, a pause, how a loop ended) is in the
//! history, `log`, `show` and `wait`, and `wait` answers about the script's own loop.

use std::process::Output;

use crate::support::*;
use serde_json::Value;

const DONE: &str = "<promise>DONE</promise>";

fn ws(world: &World) -> &str {
    world.workspace.to_str().expect("utf-8 path")
}

/// The loop id `start` printed.
#[track_caller]
fn started_id(out: &Output) -> String {
    assert_success(out);
    let text = stdout(out);
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("loop id:"))
        .unwrap_or_else(|| panic!("start printed no loop id:\n{text}"));
    line.split_whitespace().nth(2).expect("an id").to_string()
}

#[test]
fn a_refused_prompt_is_recorded_and_log_show_and_wait_say_why() {
    let world = World::new();
    let prompt = "$ralph-loop Fix the tests --max-iteration 3\nsecond line of the prompt";
    let out = world.prompt(&prompt_payload("codex", "S1", &world.workspace, prompt));
    assert_success(&out);
    assert_eq!(json_out(&out)["decision"], "block", "the prompt is refused");
    let history = world.history();
    assert_eq!(history.len(), 1, "{history:#?}");
    let line = &history[0];
    assert_eq!(line["event"], "prompt", "{line}");
    assert_eq!(line["decision"], "refuse", "{line}");
    assert_eq!(line["session_id"], "S1", "{line}");
    let detail = line["detail"].as_str().expect("a detail");
    assert!(
        detail.starts_with("`$ralph-loop Fix the tests --max-iteration 3`: "),
        "the first line of the prompt: {detail}"
    );
    assert!(!detail.contains("second line"), "{detail}");
    assert!(
        detail.contains("did you mean `--max-iterations`"),
        "{detail}"
    );
    assert!(detail.contains("send it again"), "the fix: {detail}");

    let log = stdout(&world.run(&["log", "--workspace", ws(&world)]));
    assert!(log.contains("prompt  refuse"), "{log}");
    assert!(log.contains("--max-iteration 3"), "{log}");
    let show = stdout(&world.run(&["show", "--workspace", ws(&world)]));
    assert!(show.contains("The last loop prompt was refused"), "{show}");
    assert!(show.contains("did you mean `--max-iterations`"), "{show}");
    let out = world.run(&["wait", "--workspace", ws(&world)]);
    assert_eq!(out.status.code(), Some(13), "{}", stdout(&out));
    assert!(stdout(&out).contains("[refused]"), "{}", stdout(&out));
}

#[test]
fn a_prompt_refused_because_a_live_loop_is_in_the_way_is_recorded_too() {
    let world = World::new();
    world.start("S1", &[]);
    assert_block(&world.stop(&codex_stop("S1", &world.workspace, Some("working"))));
    let out = world.prompt(&prompt_payload(
        "codex",
        "S2",
        &world.workspace,
        "$ralph-loop Another task",
    ));
    assert_eq!(json_out(&out)["decision"], "block");
    let history = world.history();
    let last = history.last().expect("a line");
    assert_eq!(last["decision"], "refuse", "{history:#?}");
    assert_eq!(last["session_id"], "S2");
    let show = stdout(&world.run(&["show", "--workspace", ws(&world)]));
    assert!(show.contains("last prompt:"), "{show}");
}

#[test]
fn a_prompt_with_two_bad_flags_reports_both() {
    let world = World::new();
    let out = world.prompt(&prompt_payload(
        "codex",
        "S1",
        &world.workspace,
        "$ralph-loop Fix it --max-iteration 3 --no-progres 2",
    ));
    let reason = json_out(&out)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("`--max-iteration`"), "{reason}");
    assert!(reason.contains("`--no-progres`"), "{reason}");
    let out = world.prompt(&prompt_payload(
        "codex",
        "S1",
        &world.workspace,
        "$ralph-loop Fix it --max-iteration 3 --verify",
    ));
    let reason = json_out(&out)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("`--max-iteration`"), "{reason}");
    assert!(reason.contains("--verify needs a value"), "{reason}");
}

#[test]
fn wait_with_loops_of_both_hosts_and_no_agent_says_so_with_a_usage_code() {
    let world = World::new();
    world.start("S1", &[]);
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    let claude = world.run(&[
        "start",
        "--agent",
        "claude",
        "--workspace",
        ws(&world),
        "--session",
        "C1",
        "--max-iterations",
        "1",
        "--prompt",
        "Other task",
    ]);
    assert_success(&claude);
    world.stop(&claude_stop("C1", &world.workspace, Some("a")));
    world.stop(&claude_stop("C1", &world.workspace, Some("b")));
    let out = world.run(&["wait", "--workspace", ws(&world)]);
    assert_eq!(out.status.code(), Some(64), "{}", stdout(&out));
    assert!(stderr(&out).contains("--agent codex"), "{}", stderr(&out));
    let out = world.run(&["wait", "--workspace", ws(&world), "--agent", "codex"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = world.run(&["wait", "--workspace", ws(&world), "--agent", "claude"]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
}

#[test]
fn start_prints_the_loop_id_and_wait_loop_answers_only_about_that_loop() {
    let world = World::new();
    let start = |extra: &[&str]| {
        let mut args = vec!["start", "--workspace", ws(&world), "--session", "S1"];
        args.extend_from_slice(extra);
        args.extend(["--prompt", "Fix it"]);
        world.run(&args)
    };
    let first = started_id(&start(&[]));
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    let second = started_id(&start(&["--max-iterations", "1"]));
    assert_ne!(first, second);
    // The second loop runs; asking about the first answers how the first ended.
    let out = world.run(&["wait", "--loop", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_success(&world.run(&["cancel"]));
    let out = world.run(&["wait", "--loop", &second]);
    assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
    let out = world.run(&["wait", "--loop", "no-such-loop"]);
    assert_eq!(out.status.code(), Some(9), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("with id no-such-loop"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wait_since_answers_only_about_what_began_after_and_a_refusal_has_its_own_code() {
    let world = World::new();
    world.start("S1", &[]);
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    let later = (std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let out = world.run(&["wait", "--since", &later]);
    assert_eq!(out.status.code(), Some(9), "{}", stdout(&out));
    let out = world.run(&["wait", "--since", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = world.prompt_with(
        &prompt_payload(
            "codex",
            "S2",
            &world.workspace,
            "$ralph-loop Go --max-iteration 3",
        ),
        &[("RALPH_HOOK_NOW", &later)],
    );
    assert_eq!(json_out(&out)["decision"], "block");
    let out = world.run(&["wait", "--since", &later]);
    assert_eq!(out.status.code(), Some(13), "{}", stdout(&out));
    let out = world.run(&["wait", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

#[test]
fn a_paused_loop_records_the_allowed_stop_and_wait_says_paused() {
    let world = World::new();
    world.start("S1", &[]);
    assert_block(&world.stop(&codex_stop("S1", &world.workspace, Some("a"))));
    let pause = world.run(&["pause", "--workspace", ws(&world)]);
    assert_success(&pause);
    assert!(
        stdout(&pause).contains("wait` answers 12"),
        "{}",
        stdout(&pause)
    );
    assert_silent_allow(&world.stop(&codex_stop("S1", &world.workspace, Some("b"))));
    assert_silent_allow(&world.stop(&codex_stop("S1", &world.workspace, Some("c"))));
    let history = world.history();
    let paused: Vec<&Value> = history
        .iter()
        .filter(|h| h["event"] == "stop" && h["decision"] == "pause")
        .collect();
    assert_eq!(
        paused.len(),
        1,
        "one line for the stop let through: {history:#?}"
    );
    let show = stdout(&world.run(&["show", "--workspace", ws(&world)]));
    assert!(show.contains("let the turn end"), "{show}");
    assert!(!show.contains("continuation prompt"), "{show}");
    let out = world.run(&["wait", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(12), "{}", stdout(&out));
    assert!(stdout(&out).contains("[paused]"), "{}", stdout(&out));
    let resume = world.run(&["resume", "--workspace", ws(&world)]);
    assert_success(&resume);
    assert!(
        stdout(&resume).contains("codex exec resume S1 -c 'sandbox_mode=\"workspace-write\"'"),
        "{}",
        stdout(&resume)
    );
    let reason = assert_block(&world.stop(&codex_stop("S1", &world.workspace, Some("d"))));
    assert!(reason.contains("iteration 2/"), "{reason}");
}

#[test]
fn wait_words_say_each_thing_once_and_how_many_stops_made_no_progress() {
    let world = World::new();
    world.start("S1", &["--verify", "true"]);
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    let text = stdout(&world.run(&["wait"]));
    assert!(text.contains("[verified]"), "{text}");
    assert!(!text.contains("(verify passed)"), "{text}");
    let log = stdout(&world.run(&["log"]));
    assert!(log.contains("reason=verified (`true` passed)"), "{log}");

    let world = World::new();
    world.start("S1", &["--no-progress", "2"]);
    for _ in 0..2 {
        world.stop(&codex_stop("S1", &world.workspace, Some("same")));
    }
    let text = stdout(&world.run(&["wait"]));
    assert!(
        text.contains("the same message came back 2 stops in a row"),
        "{text}"
    );

    let world = World::new();
    world.start("S1", &[]);
    assert_success(&world.run(&["cancel"]));
    let text = stdout(&world.run(&["wait"]));
    assert!(
        text.contains("the loop ended; the agent may still finish its turn"),
        "{text}"
    );
}

#[test]
fn doctor_says_hooks_are_on_by_default_and_its_fix_for_hooks_false_is_one_install_takes() {
    let world = World::new();
    let codex_home = world.home.join(".codex");
    fs_err::create_dir_all(&codex_home).unwrap();
    fs_err::write(
        codex_home.join("config.toml"),
        "[features]\nhooks = false\n",
    )
    .unwrap();
    let doctor = stdout(&world.run(&["doctor"]));
    let fix = doctor
        .lines()
        .skip_while(|line| !line.contains("installed for neither"))
        .nth(1)
        .unwrap_or_else(|| panic!("no fix for the missing install:\n{doctor}"))
        .to_string();
    assert!(
        fix.contains("ralph-hook install --enable-hooks"),
        "{doctor}"
    );
    assert!(
        !world
            .run(&["install", "--agent", "codex", "--no-trust"])
            .status
            .success(),
        "plain install refuses while hooks are off (so the fix must not be it)"
    );
    assert_success(&world.run(&[
        "install",
        "--agent",
        "codex",
        "--no-trust",
        "--enable-hooks",
    ]));
    let doctor = stdout(&world.run(&["doctor"]));
    assert!(
        doctor.contains("hooks feature on in config.toml"),
        "{doctor}"
    );
    fs_err::write(codex_home.join("config.toml"), "model = \"x\"\n").unwrap();
    let doctor = stdout(&world.run(&["doctor"]));
    assert!(
        doctor.contains("hooks feature on by default (config.toml does not set [features] hooks)"),
        "{doctor}"
    );
}

#[test]
fn uninstall_beside_the_plugin_names_it_and_the_command_that_removes_it() {
    let world = World::new();
    let claude = world.home.join(".claude");
    fs_err::create_dir_all(&claude).unwrap();
    fs_err::write(
        claude.join("settings.json"),
        "{\n  \"enabledPlugins\": {\"ralph-hook@ralph-hook\": true}\n}\n",
    )
    .unwrap();
    let home = claude.to_str().unwrap();
    assert_success(&world.run(&["install", "--agent", "claude", "--claude-home", home]));
    let out = world.run(&["uninstall", "--agent", "claude", "--claude-home", home]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.contains(
            "the ralph-hook plugin ralph-hook@ralph-hook is still enabled in Claude Code"
        ),
        "{text}"
    );
    assert!(
        text.contains("`claude plugin uninstall ralph-hook@ralph-hook` removes it"),
        "{text}"
    );
}
