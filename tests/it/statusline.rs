//! `ralph-hook statusline` (issue 23): the line for Claude Code's status line and a shell
//! prompt, read from the record alone; and `install --statusline`, which sets it in
//! Claude Code's settings.json only where the user has none, reversibly.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{World, assert_success, stdout};

/// Runs `statusline` with `input` piped on stdin, from `cwd`.
fn statusline_piped(world: &World, cwd: &Path, input: &[u8]) -> String {
    let out = world
        .cmd()
        .arg("statusline")
        .current_dir(cwd)
        .write_stdin(input.to_vec())
        .output()
        .expect("run");
    assert_success(&out);
    stdout(&out)
}

/// The binary as a std command in `world` (to hold its stdin open).
fn std_command(world: &World) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("ralph-hook"));
    command
        .env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .current_dir(&world.workspace);
    command
}

fn edit_record(world: &World, edit: impl FnOnce(&mut Value)) {
    let path = world.loop_dir().join("record.json");
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("record")).expect("record JSON");
    edit(&mut record);
    std::fs::write(&path, serde_json::to_vec(&record).expect("encode")).expect("write");
}

#[test]
fn no_loop_prints_nothing() {
    let world = World::new();
    let out = world
        .cmd()
        .arg("statusline")
        .write_stdin("")
        .output()
        .expect("run");
    assert_success(&out);
    assert_eq!(stdout(&out), "");
}

#[test]
fn a_loop_shows_iteration_tokens_and_elapsed_from_a_subfolder() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "20", "--max-tokens", "2M"]);
    edit_record(&world, |record| {
        record["state"]["iteration"] = json!(3);
        record["state"]["tokens_used"] = json!(41_000);
    });
    let sub = world.workspace.join("src");
    std::fs::create_dir_all(&sub).expect("mkdir");
    // As a plain command (stdin empty), from a folder inside the workspace.
    let out = world
        .cmd()
        .arg("statusline")
        .current_dir(&sub)
        .write_stdin("")
        .output()
        .expect("run");
    assert_success(&out);
    let line = stdout(&out);
    assert!(line.starts_with("ralph 3/20 · 41k/2M tok · "), "{line:?}");
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn claude_codes_json_names_the_workspace() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "5"]);
    let elsewhere = world.temp.path().join("tmp");
    let input = json!({
        "session_id": "S1",
        "cwd": "/nowhere",
        "workspace": {"current_dir": world.workspace, "project_dir": world.workspace},
    });
    let line = statusline_piped(&world, &elsewhere, input.to_string().as_bytes());
    assert!(line.starts_with("ralph 0/5 · "), "{line:?}");
    // Not JSON: the current folder counts.
    assert_eq!(statusline_piped(&world, &elsewhere, b"garbage"), "");
    assert!(statusline_piped(&world, &world.workspace, b"garbage").starts_with("ralph 0/5"));
}

#[test]
fn a_blocked_loop_says_why_on_one_escaped_line() {
    let world = World::new();
    world.start("S1", &[]);
    edit_record(&world, |record| {
        record["state"]["blocked"] = json!("need the API key\n\u{1b}[2J");
    });
    let line = statusline_piped(&world, &world.workspace, b"");
    assert!(
        line.starts_with("ralph blocked: need the API key"),
        "{line:?}"
    );
    assert_eq!(line.lines().count(), 1, "{line:?}");
    assert!(!line.contains('\u{1b}'), "{line:?}");
}

#[test]
fn a_stdin_nobody_writes_to_does_not_hang_it() {
    let world = World::new();
    world.start("S1", &["--max-iterations", "5"]);
    let started = Instant::now();
    // The writing end stays open (held by this test) and silent.
    let child = std_command(&world)
        .arg("statusline")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.wait_with_output_keeping_stdin();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.starts_with("ralph 0/5"), "{out:?}");
}

/// Waits for a child whose stdin is kept open (and silent) until it has exited.
trait KeepStdin {
    fn wait_with_output_keeping_stdin(self) -> String;
}

impl KeepStdin for std::process::Child {
    fn wait_with_output_keeping_stdin(mut self) -> String {
        let stdin = self.stdin.take();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut self.stdout.take().expect("stdout"), &mut text)
            .expect("read");
        assert!(self.wait().expect("wait").success());
        drop(stdin);
        text
    }
}

/// `install`/`uninstall --agent claude` with temp homes.
fn installer(world: &World, args: &[&str]) -> std::process::Output {
    let claude = world.home.join(".claude");
    let codex = world.home.join(".codex");
    world
        .cmd()
        .args(args)
        .arg("--agent")
        .arg("claude")
        .arg("--claude-home")
        .arg(&claude)
        .arg("--codex-home")
        .arg(&codex)
        .env("CODEX_HOME", &codex)
        .env("XDG_DATA_HOME", world.home.join(".local/share"))
        .env_remove("CLAUDE_CONFIG_DIR")
        .output()
        .expect("run")
}

#[test]
fn install_statusline_sets_it_and_uninstall_restores_the_bytes() {
    let world = World::new();
    let settings = world.home.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().expect("parent")).expect("mkdir");
    let original = "{\n  \"model\": \"opus\"\n}\n";
    std::fs::write(&settings, original).expect("write");
    assert_success(&installer(&world, &["install", "--statusline"]));
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    let command = installed["statusLine"]["command"]
        .as_str()
        .expect("command");
    assert!(command.ends_with("ralph-hook\" statusline"), "{command}");
    assert_eq!(installed["statusLine"]["type"], "command");
    assert_eq!(installed["model"], "opus");
    assert!(
        world
            .home
            .join(".claude/settings.json.ralph-hook.bak")
            .exists()
    );
    assert_success(&installer(&world, &["uninstall"]));
    assert_eq!(std::fs::read_to_string(&settings).expect("read"), original);
}

#[test]
fn install_statusline_names_the_users_own_and_leaves_it() {
    let world = World::new();
    let settings = world.home.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &settings,
        r#"{"statusLine": {"type": "command", "command": "~/bin/my-line.sh"}}"#,
    )
    .expect("write");
    let out = installer(&world, &["install", "--statusline"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("~/bin/my-line.sh"),
        "{}",
        stdout(&out)
    );
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    assert_eq!(installed["statusLine"]["command"], "~/bin/my-line.sh");
    assert_success(&installer(&world, &["uninstall"]));
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    assert_eq!(after["statusLine"]["command"], "~/bin/my-line.sh");
}
