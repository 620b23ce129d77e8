//! `ralph-hook top` in a real terminal: a tmux session of 80×24 runs it over two loops
//! of a temp home; the screen is read with `capture-pane` and keys sent with
//! `send-keys`, as a person would press them. Without tmux the test says SKIPPED, and
//! fails instead under `RALPH_E2E_REQUIRE=1` (CI installs tmux: install/ci-packages.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{World, assert_success, codex_stop, make_git_dir, stdout};

const BLOCKED: &str = "I cannot reach the staging database.\n\n<ralph-blocked>Need the staging password</ralph-blocked>";

/// A tmux server on its own socket, killed when dropped (also when the test fails).
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        stdout(&self.run(&["capture-pane", "-p", "-t", "top"]))
    }

    fn keys(&self, keys: &str) {
        assert_success(&self.run(&["send-keys", "-t", "top", keys]));
    }

    /// Waits until the screen satisfies `ok`, and returns it; fails naming `what`.
    #[track_caller]
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_missing() -> bool {
    let missing = Command::new("tmux").arg("-V").output().is_err();
    if missing {
        assert!(
            std::env::var("RALPH_E2E_REQUIRE").as_deref() != Ok("1"),
            "tmux is not installed and RALPH_E2E_REQUIRE=1: run install/ci-packages.sh"
        );
        eprintln!("SKIPPED top in a terminal: tmux is not installed (install/ci-packages.sh)");
    }
    missing
}

/// The workspace named in the first table row (the row under the header).
fn first_row(screen: &str) -> String {
    screen
        .lines()
        .nth(2)
        .and_then(|line| line.get(1..))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// The workspace of the selected row (marked `>`).
fn selected(screen: &str) -> String {
    screen
        .lines()
        .find(|line| line.starts_with('>'))
        .and_then(|line| line[1..].split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

fn show(world: &World, workspace: &Path) -> Value {
    let ws = workspace.to_str().expect("utf-8 path");
    let out = world.run(&["show", "--json", "--agent", "codex", "--workspace", ws]);
    assert_success(&out);
    serde_json::from_str(&stdout(&out)).expect("show --json is JSON")
}

#[track_caller]
fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The script the pane runs: `top` in the test's home with `env` (`NAME=value …`), then
/// its exit code and the terminal's line discipline, then a wait (so the pane stays to
/// be read).
fn script(world: &World, env: &str) -> PathBuf {
    let quote = |path: &Path| format!("'{}'", path.display());
    let text = format!(
        "export HOME={home} RALPH_HOOK_STATE_DIR={state} XDG_STATE_HOME={home}/.local/state \
         XDG_CONFIG_HOME={home}/.config TMPDIR={tmp} RALPH_HOOK_TOP_REFRESH=100ms LANG=C LC_ALL=C\n\
         unset NO_COLOR CLICOLOR_FORCE RALPH_HOOK_CONFIG RALPH_HOOK_NOW\n\
         {env} {bin} top\necho \"top exited with $?\"\n\
         stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '\necho\n\
         exec sleep 600\n",
        home = quote(&world.home),
        state = quote(&world.state_dir),
        tmp = quote(&world.temp.path().join("tmp")),
        bin = quote(&assert_cmd::cargo::cargo_bin("ralph-hook")),
        env = env,
    );
    let path = world.temp.path().join("top.sh");
    fs_err::write(&path, text).expect("write the script");
    path
}

/// A tmux session of 80×24 running `top` in `world`'s home.
fn start_top(world: &World) -> Tmux {
    start_top_with(world, "")
}

/// [`start_top`] with `env` (`NAME=value …`) for `top`.
fn start_top_with(world: &World, env: &str) -> Tmux {
    let tmux = Tmux {
        socket: format!(
            "ralph-top-{}",
            world
                .temp
                .path()
                .file_name()
                .expect("a temp dir name")
                .to_string_lossy()
        ),
    };
    let script = script(world, env);
    assert_success(&tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-s",
        "top",
        &format!("sh '{}'", script.display()),
    ]));
    tmux
}

/// The pid of `ralph-hook top`: the pane runs `sh top.sh`, and `top` is its child.
fn top_pid(tmux: &Tmux) -> String {
    let shell: u32 = stdout(&tmux.run(&["display", "-p", "-t", "top", "#{pane_pid}"]))
        .trim()
        .parse()
        .expect("the pane's pid");
    fs_err::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("the shell's children")
        .split_whitespace()
        .next()
        .expect("top runs")
        .to_string()
}

fn alternate_on(tmux: &Tmux) -> String {
    stdout(&tmux.run(&["display", "-p", "-t", "top", "#{alternate_on}"]))
        .trim()
        .to_string()
}

#[test]
fn top_in_a_terminal_shows_two_loops_the_blocked_one_first_and_its_keys_act() {
    if tmux_missing() {
        return;
    }
    let world = World::new();
    let other = world.temp.path().join("other");
    make_git_dir(&other);
    world.start("S1", &["--max-iterations", "20"]);
    let out = world.run(&[
        "start",
        "--workspace",
        other.to_str().expect("utf-8 path"),
        "--session",
        "S2",
        "--prompt",
        "Write the docs",
    ]);
    assert_success(&out);

    let tmux = start_top(&world);
    let screen = tmux.wait_for("both loops", |s| {
        let rows: Vec<String> = s
            .lines()
            .skip(2)
            .take(2)
            .map(|l| first_row(&format!("\n\n{l}")))
            .collect();
        s.contains("2 loops")
            && rows.contains(&"ws".to_string())
            && rows.contains(&"other".to_string())
    });
    assert!(screen.contains("WORKSPACE"), "{screen}");
    assert_eq!(alternate_on(&tmux), "1", "top runs on the alternate screen");

    // The loop not on top becomes blocked and moves to the top; the selection stays on
    // the loop it was on.
    let (top_ws, top_path, blocked_ws, blocked_path, blocked_session) =
        if first_row(&screen) == "ws" {
            ("ws", world.workspace.clone(), "other", other.clone(), "S2")
        } else {
            ("other", other.clone(), "ws", world.workspace.clone(), "S1")
        };
    assert_eq!(selected(&screen), top_ws, "{screen}");
    let out = world.stop(&codex_stop(blocked_session, &blocked_path, Some(BLOCKED)));
    assert_success(&out);
    let screen = tmux.wait_for("the blocked loop on top", |s| {
        first_row(s) == blocked_ws && s.contains("blocked") && s.contains("Need the st")
    });
    assert_eq!(selected(&screen), top_ws, "{screen}");

    // Enter: the selected loop's show text and log; Esc: back.
    tmux.keys("Enter");
    let screen = tmux.wait_for("the detail", |s| {
        s.contains("log (newest last):") && s.contains("task:") && s.contains("session:")
    });
    assert!(screen.contains("Esc/Enter back"), "{screen}");
    assert!(
        screen.contains(if top_ws == "ws" {
            "Fix the failing tests"
        } else {
            "Write the docs"
        }),
        "the selected loop's show text:\n{screen}"
    );
    tmux.keys("Escape");
    tmux.wait_for("the table again", |s| s.contains("2 loops"));

    // p pauses the selected loop, as `ralph-hook pause` does.
    tmux.keys("p");
    wait_until("the loop is paused", || {
        show(&world, &top_path)["state"]["paused"] == Value::Bool(true)
    });
    tmux.wait_for("the pause said", |s| s.contains("Paused the loop"));

    // c asks; y cancels it.
    tmux.keys("c");
    tmux.wait_for("the question", |s| s.contains("y/n"));
    tmux.keys("y");
    wait_until("the loop is cancelled", || {
        show(&world, &top_path)["active"] == Value::Bool(false)
    });
    tmux.wait_for("one loop left", |s| {
        s.contains("1 loop") && s.contains("Cancelled the loop")
    });
    assert_eq!(show(&world, &blocked_path)["active"], Value::Bool(true));

    // q: top ends with 0 and the terminal is the user's again.
    tmux.keys("q");
    let screen = tmux.wait_for("top's exit", |s| s.contains("top exited with 0"));
    assert!(
        !screen.contains("WORKSPACE"),
        "the dashboard is gone:\n{screen}"
    );
    assert_eq!(alternate_on(&tmux), "0", "the alternate screen is left");
}

#[test]
fn top_when_stdout_is_not_a_terminal_prints_list_once() {
    let world = World::new();
    world.start("S1", &[]);
    let out = world.run(&["top"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.starts_with("STATE"), "{text}");
    assert_eq!(text, stdout(&world.run(&["list"])));
}

#[test]
fn sigterm_ends_top_and_gives_the_terminal_back() {
    if tmux_missing() {
        return;
    }
    let world = World::new();
    world.start("S1", &[]);
    let tmux = start_top(&world);
    tmux.wait_for("the loop", |s| s.contains("1 loop") && first_row(s) == "ws");
    assert_eq!(alternate_on(&tmux), "1");
    let top = top_pid(&tmux);
    let out = Command::new("kill")
        .args(["-TERM", &top])
        .output()
        .expect("kill");
    assert_success(&out);
    // 128 + 15, as a shell reports a process SIGTERM ended: a script can tell.
    tmux.wait_for("top's exit", |s| s.contains("top exited with 143"));
    assert_eq!(alternate_on(&tmux), "0", "the alternate screen is left");
}

/// A panic in `top` gives the terminal back before the panic message is printed: the
/// alternate screen is left, the line discipline is cooked again (`icanon`, `echo`), and
/// the message is on the user's screen. Debug builds panic on `RALPH_HOOK_TEST_PANIC=top`.
#[test]
fn a_panic_in_top_gives_the_terminal_back() {
    if tmux_missing() {
        return;
    }
    let world = World::new();
    world.start("S1", &[]);
    let tmux = start_top_with(&world, "RUST_BACKTRACE=0 RALPH_HOOK_TEST_PANIC=top");
    let screen = tmux.wait_for("top's exit", |s| s.contains("top exited with 101"));
    assert_eq!(alternate_on(&tmux), "0", "the alternate screen is left");
    assert!(screen.contains("asked for a panic"), "{screen}");
    let modes = screen
        .lines()
        .find(|line| line.contains("icanon"))
        .unwrap_or_else(|| panic!("no stty line in {screen}"));
    assert!(
        modes.split_whitespace().any(|m| m == "icanon")
            && modes.split_whitespace().any(|m| m == "echo"),
        "raw mode was left on: {modes}"
    );
}

/// Closing the terminal (the tmux server killed, its pane and shell gone) ends `top`: it
/// must not live on, orphaned, polling a hung-up terminal. Checked in the process list.
#[test]
fn a_closed_terminal_ends_top() {
    if tmux_missing() {
        return;
    }
    let world = World::new();
    world.start("S1", &[]);
    let tmux = start_top(&world);
    tmux.wait_for("the loop", |s| s.contains("1 loop") && first_row(s) == "ws");
    let top = top_pid(&tmux);
    drop(tmux);
    wait_until("top to end once its terminal closed", || {
        fs_err::read_to_string(format!("/proc/{top}/stat"))
            .map(|stat| stat.contains(") Z"))
            .unwrap_or(true)
    });
}
