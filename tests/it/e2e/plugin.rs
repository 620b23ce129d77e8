//! ralph-hook installed as a plugin, with each client's own commands, from this
//! repository as a local marketplace (issue 14).
//!
//! Measured while writing these tests (Claude Code 2.1.328, Codex 0.169.0):
//! - `claude plugin marketplace add <dir>` reads `.claude-plugin/marketplace.json`, and
//!   `claude plugin install ralph-hook@ralph-hook` enables the plugin in settings.json;
//!   the hooks run from the marketplace folder itself (`CLAUDE_PLUGIN_ROOT` is
//!   `<repo>/plugins/ralph-hook`), with `CLAUDE_PLUGIN_DATA` set to
//!   `~/.claude/plugins/data/ralph-hook-ralph-hook`.
//! - `codex plugin marketplace add <dir>` prefers `.agents/plugins/marketplace.json` (it
//!   also reads `.claude-plugin/marketplace.json` when that is the only one), and
//!   `codex plugin add ralph-hook@ralph-hook` copies the plugin to
//!   `$CODEX_HOME/plugins/cache/ralph-hook/ralph-hook/<version>`, expands
//!   `${CLAUDE_PLUGIN_ROOT}` in the commands, and sets `PLUGIN_ROOT`, `PLUGIN_DATA` and
//!   their `CLAUDE_` twins for the hooks. The plugin's hooks are untrusted until
//!   `[hooks.state."ralph-hook@ralph-hook:hooks/hooks.json:<event>:0:0"]` holds the
//!   first part of the `sha256:…/sha256:…` hash `hooks/list` reports.
//! - Both clients start two Stop hooks of one stop at the same moment; when both block,
//!   the model gets two continuation prompts.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::clients::Client;
use super::codex;
use super::mock::{MockServer, held, text};
use super::proc::Finished;
use super::world::{TOOL_DEADLINE, World, hook_source};

/// This repository: the marketplace the tests add.
const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The plugin's id in both clients (marketplace and plugin are both named ralph-hook).
const PLUGIN_ID: &str = "ralph-hook@ralph-hook";
const PROMISE: &str = "<promise>DONE</promise>";

/// Runs the world's client with `args` (its plugin commands), recorded for the report.
fn client(world: &World, args: &[&str]) -> Finished {
    let mut cmd = world.command(&world.bin);
    cmd.args(args);
    world.run_recorded(
        cmd,
        &format!("{} {}", world.client.name(), args.join(" ")),
        TOOL_DEADLINE,
    )
}

/// Adds this repository as a marketplace and installs the plugin from it, as a user does
/// with the client's own commands.
pub fn install_plugin(world: &World) {
    let (add, install): (&[&str], &[&str]) = match world.client {
        Client::Codex => (
            &["plugin", "marketplace", "add", REPO],
            &["plugin", "add", PLUGIN_ID],
        ),
        Client::Claude => (
            &["plugin", "marketplace", "add", REPO],
            &["plugin", "install", PLUGIN_ID],
        ),
    };
    assert!(
        client(world, add).success(),
        "adding the marketplace failed"
    );
    assert!(
        client(world, install).success(),
        "installing the plugin failed"
    );
}

/// `ralph-hook ARGS` for the world's client and its home only (the binary under test, as
/// a user would run the one on their PATH).
fn ralph(world: &World, args: &[&str]) -> Finished {
    let mut cmd = world.command(hook_source());
    cmd.args(args);
    match world.client {
        Client::Codex => {
            cmd.arg("--codex-home")
                .arg(&world.codex_home)
                .arg("--codex-bin")
                .arg(&world.bin);
        }
        Client::Claude => {
            cmd.arg("--claude-home").arg(&world.claude_home);
        }
    }
    world.run_recorded(
        cmd,
        &format!("ralph-hook {}", args.join(" ")),
        TOOL_DEADLINE,
    )
}

/// The plugin's hooks as Codex lists them.
fn codex_plugin_hooks(world: &World) -> Vec<Value> {
    codex::hooks(world)
        .into_iter()
        .filter(|hook| hook["pluginId"] == PLUGIN_ID)
        .collect()
}

/// Trusts the plugin's hooks as a user accepting them in Codex's /hooks would.
fn trust_plugin_hooks_by_hand(world: &World) {
    let path = world.codex_home.join("config.toml");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    for hook in codex_plugin_hooks(world) {
        let (Some(key), Some(hash)) = (hook["key"].as_str(), hook["currentHash"].as_str()) else {
            continue;
        };
        let hash = hash.split('/').next().unwrap_or(hash);
        doc["hooks"]["state"][key]["trusted_hash"] = toml_edit::value(hash);
    }
    std::fs::write(&path, doc.to_string()).unwrap();
}

/// The user's words, in the plugin's namespaced form.
fn plugin_loop_prompt(client: Client, task: &str, max: u32) -> String {
    let mark = match client {
        Client::Codex => "$ralph-hook:ralph-loop",
        Client::Claude => "/ralph-hook:ralph-loop",
    };
    format!("{mark} {task} --max-iterations {max}")
}

fn hook_prompts(world: &World) -> Vec<String> {
    world
        .mock
        .turns()
        .last()
        .map(|turn| turn.hook_prompts(world.client.wire()))
        .unwrap_or_default()
}

fn stops(history: &[Value]) -> Vec<&Value> {
    history.iter().filter(|h| h["event"] == "stop").collect()
}

#[track_caller]
fn assert_loop_ran_to_completion(world: &World, run: &Finished, task: &str) {
    assert!(run.success(), "{} did not exit 0", run.label);
    assert_eq!(world.mock.overruns(), 0, "the loop did not stop");
    assert_eq!(world.mock.turns().len(), 3, "model turns");
    let prompts = hook_prompts(world);
    assert_eq!(
        prompts.len(),
        2,
        "one continuation prompt per stop: {prompts:#?}"
    );
    for (i, prompt) in prompts.iter().enumerate() {
        assert!(prompt.contains(task), "prompt {i} lacks the task: {prompt}");
        assert!(
            prompt.contains(&format!("{}/5", i + 1)),
            "prompt {i} is not iteration {}/5: {prompt}",
            i + 1
        );
    }
    assert!(
        world.state().is_none(),
        "the loop is still on: {:?}",
        world.state()
    );
    let history = world.history();
    let stops = stops(&history);
    assert_eq!(stops.len(), 3, "one history line per stop: {history:#?}");
    assert_eq!(stops[2]["reason"], "completed", "{history:#?}");
    let starts = history.iter().filter(|h| h["event"] == "start").count();
    assert_eq!(starts, 1, "one loop started: {history:#?}");
}

/// The plugin, installed with the client's own commands and completed by
/// `ralph-hook install`, runs a loop to completion with the namespaced skill command.
pub fn plugin_flow(client_: Client, test: &str) {
    let script = vec![
        text("Plugin pass one, more to do."),
        text("Plugin pass two, nearly there."),
        text(format!("All done.\n{PROMISE}")),
    ];
    let Some(world) = World::bare(client_, test, script) else {
        return;
    };
    world.put_hook_on_path();
    install_plugin(&world);

    let install = ralph(&world, &["install", "--agent", client_.name()]);
    assert!(
        install.success(),
        "ralph-hook install beside the plugin failed"
    );
    assert!(
        install.stdout.contains("install adds no hooks of its own"),
        "install did not see the plugin: {}",
        install.stdout
    );
    match client_ {
        Client::Codex => {
            assert!(
                !world.codex_home.join("hooks.json").exists(),
                "install wrote hooks beside the plugin's"
            );
            let hooks = codex_plugin_hooks(&world);
            // UserPromptSubmit, Stop and SessionEnd: Codex skips the plugin's StopFailure,
            // an event it does not have.
            assert_eq!(hooks.len(), 3, "{hooks:#?}");
            assert!(
                hooks.iter().all(|hook| hook["trustStatus"] == "trusted"),
                "install did not trust the plugin's hooks: {hooks:#?}"
            );
        }
        Client::Claude => {
            let settings: Value = serde_json::from_str(
                &std::fs::read_to_string(world.claude_home.join("settings.json")).unwrap(),
            )
            .unwrap();
            assert!(settings.get("hooks").is_none(), "{settings:#}");
            assert_eq!(settings["enabledPlugins"][PLUGIN_ID], true);
        }
    }
    let doctor = ralph(&world, &["doctor"]);
    assert!(
        doctor.success(),
        "doctor finds the plugin set-up incomplete"
    );

    let task = "Make the plugin's loop finish";
    let run = world.run_agent(&plugin_loop_prompt(client_, task, 5));
    assert_loop_ran_to_completion(&world, &run, task);
    // The skill the model was given is the plugin's.
    let first = world.mock.turns()[0].text();
    assert!(
        first.contains("A ralph loop is now active"),
        "the prompt hook's rules did not reach the model"
    );
}

/// Installed twice (`ralph-hook install`, then the plugin): both run for every stop, and
/// each stop still counts once: one iteration, one continuation prompt.
pub fn installed_twice(client_: Client, test: &str) {
    let script = vec![
        text("Twice-installed pass one."),
        held(text("Twice-installed pass two.")),
        text(format!("Done now.\n{PROMISE}")),
    ];
    let Some(world) = World::setup(client_, test, script) else {
        return;
    };
    world.put_hook_on_path();
    install_plugin(&world);
    if client_ == Client::Codex {
        trust_plugin_hooks_by_hand(&world);
        let all = codex::hooks(&world);
        assert_eq!(
            all.len(),
            6,
            "install's three hooks and the plugin's three: {all:#?}"
        );
        assert!(
            all.iter().all(|hook| hook["trustStatus"] == "trusted"),
            "{all:#?}"
        );
    }
    let doctor = ralph(&world, &["doctor"]);
    assert!(!doctor.success(), "doctor passed a double installation");
    assert!(
        doctor.stdout.contains("installed twice"),
        "doctor: {}",
        doctor.stdout
    );

    let task = "Count every stop once";
    let run = std::thread::scope(|s| {
        let _release = ReleaseOnDrop(&world.mock);
        let run = s.spawn(|| world.run_agent(&plugin_loop_prompt(client_, task, 5)));
        assert!(
            world.mock.wait_for_turns(2, Duration::from_secs(60)),
            "the loop never reached its second turn"
        );
        // The first stop is behind us: both installations ran for it, one acted.
        let state = world.state().expect("the loop is on");
        assert_eq!(state["iteration"], 1, "{state:#}");
        let by = state["handled"]["by"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            by.len(),
            2,
            "both installations ran for the stop: {state:#}"
        );
        world.mock.release();
        run.join().unwrap()
    });
    assert_loop_ran_to_completion(&world, &run, task);
    if client_ == Client::Codex {
        let stop_runs = run
            .stderr
            .lines()
            .filter(|line| line.trim() == "hook: Stop")
            .count();
        assert_eq!(stop_runs, 6, "two Stop hooks for each of three stops");
    }
}

/// Codex adds the marketplace from a Git repository too (`codex plugin marketplace add
/// <git url>`): here a repository holding this checkout's marketplace and plugin, served
/// over plain HTTP from 127.0.0.1.
pub fn from_a_repository(client_: Client, test: &str) {
    let script = vec![
        text("From git, pass one."),
        text("From git, pass two."),
        text(format!("Done.\n{PROMISE}")),
    ];
    let Some(world) = World::bare(client_, test, script) else {
        return;
    };
    world.put_hook_on_path();
    let served = world.root.join("served");
    let source = world.root.join("source");
    for part in [".agents", ".claude-plugin", "plugins"] {
        copy_tree(&Path::new(REPO).join(part), &source.join(part));
    }
    let git = |args: &[&str], label: &str| {
        let mut cmd = world.command("git");
        cmd.args([
            "-c",
            "user.name=ralph-e2e",
            "-c",
            "user.email=e2e@localhost",
        ])
        .args(args);
        let run = world.run_recorded(cmd, label, TOOL_DEADLINE);
        assert!(run.success(), "{label} failed");
    };
    let src = source.display().to_string();
    let bare = served.join("ralph-hook.git").display().to_string();
    git(&["init", "-q", &src], "git init");
    git(&["-C", &src, "add", "-A"], "git add");
    git(&["-C", &src, "commit", "-q", "-m", "plugin"], "git commit");
    git(&["clone", "-q", "--bare", &src, &bare], "git clone --bare");
    git(
        &["-C", &bare, "update-server-info"],
        "git update-server-info",
    );
    let server = StaticServer::start(&served);
    let url = format!("{}/ralph-hook.git", server.url());

    assert!(
        client(&world, &["plugin", "marketplace", "add", &url]).success(),
        "adding the marketplace from {url} failed"
    );
    let config = std::fs::read_to_string(world.codex_home.join("config.toml")).unwrap();
    assert!(config.contains("source_type = \"git\""), "{config}");
    assert!(client(&world, &["plugin", "add", PLUGIN_ID]).success());
    assert!(ralph(&world, &["install", "--agent", "codex"]).success());
    let task = "Finish the loop from a repository";
    let run = world.run_agent(&plugin_loop_prompt(client_, task, 5));
    assert_loop_ran_to_completion(&world, &run, task);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A static file server on 127.0.0.1 (Git's "dumb" HTTP protocol needs no more),
/// serving until dropped.
struct StaticServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (root, flag) = (root.to_path_buf(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or("/");
                let file = (!path.contains(".."))
                    .then(|| root.join(path.trim_start_matches('/')))
                    .filter(|file| file.is_file());
                let _ = match file.and_then(|file| std::fs::read(file).ok()) {
                    Some(body) => write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .and_then(|()| stream.write_all(&body)),
                    None => write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                };
            }
        });
        StaticServer { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The marketplace and the plugin pass the real `claude plugin validate --strict`.
pub fn validate(client_: Client, test: &str) {
    let Some(world) = World::bare(client_, test, Vec::new()) else {
        return;
    };
    for target in [
        Path::new(REPO).to_path_buf(),
        Path::new(REPO).join("plugins/ralph-hook"),
    ] {
        let run = client(
            &world,
            &[
                "plugin",
                "validate",
                "--strict",
                &target.display().to_string(),
            ],
        );
        assert!(
            run.success(),
            "claude plugin validate --strict {}",
            target.display()
        );
        assert!(run.stdout.contains("Validation passed"), "{}", run.stdout);
    }
}

/// Releases a mock's held replies when dropped (also while unwinding).
struct ReleaseOnDrop<'a>(&'a MockServer);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The plugin without the ralph-hook program (issue 24): no loop runs, and the install
/// notice reaches the session where the host shows it — the agent is given it as context
/// for its reply (the one thing `codex exec` and plain `claude -p` print), and Claude's
/// stream-json carries it as a systemMessage.
pub fn without_the_program(client_: Client, test: &str) {
    let script = vec![text(
        "The ralph-hook program is not installed; install it first.",
    )];
    let Some(world) = World::bare(client_, test, script) else {
        return;
    };
    install_plugin(&world);
    if client_ == Client::Codex {
        // Codex runs a plugin's hooks only once trusted; the program that trusts them is
        // not where the plugin's launcher looks (PATH, ~/.cargo/bin, the data folder).
        let trust = ralph(&world, &["install", "--agent", "codex"]);
        assert!(trust.success(), "{}", trust.stderr);
    }
    let run = world.run_agent(&plugin_loop_prompt(client_, "Never looped", 5));
    assert!(run.success(), "{} failed: {}", run.label, run.stderr);
    assert!(
        world.state().is_none(),
        "a loop started without the program"
    );
    let first = world
        .mock
        .turns()
        .first()
        .map(super::mock::Request::text)
        .unwrap_or_default();
    assert!(
        first.contains("the ralph-hook program is not installed")
            && first.contains("tell the user"),
        "the notice did not reach the agent as context"
    );
    if client_ == Client::Claude {
        let messages = super::claude::system_messages(&run);
        assert!(
            messages
                .iter()
                .any(|m| m.contains("the ralph-hook program is not installed")),
            "no systemMessage with the notice: {messages:#?}"
        );
    }
}
