//! ralph-hook as a plugin: the manifests both hosts read, the launcher its hooks run, and
//! acting once on each host event when the plugin and `ralph-hook install` both run.

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::*;
use serde_json::{Value, json};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const DONE: &str = "<promise>DONE</promise>";

fn plugin_dir() -> PathBuf {
    Path::new(REPO).join("plugins/ralph-hook")
}

#[track_caller]
fn read_json(path: &Path) -> Value {
    let text = fs_err::read_to_string(path).expect("manifest");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

// ---- the manifests ----

#[test]
fn both_plugin_manifests_carry_the_crate_name_version_description_and_author() {
    for host in [".claude-plugin", ".codex-plugin"] {
        let manifest = read_json(&plugin_dir().join(host).join("plugin.json"));
        assert_eq!(manifest["name"], "ralph-hook", "{host}");
        assert_eq!(
            manifest["version"],
            env!("CARGO_PKG_VERSION"),
            "{host}/plugin.json: bump the version with Cargo.toml"
        );
        assert!(
            manifest["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20)
        );
        assert!(manifest["author"]["name"].as_str().is_some(), "{host}");
    }
}

#[test]
fn the_codex_manifest_points_at_the_skill_and_hooks_that_ship() {
    let manifest = read_json(&plugin_dir().join(".codex-plugin/plugin.json"));
    let skills = manifest["skills"].as_str().expect("skills");
    assert!(
        plugin_dir()
            .join(skills)
            .join("ralph-loop/SKILL.md")
            .is_file()
    );
    let hooks = manifest["hooks"].as_str().expect("hooks");
    assert!(hooks.starts_with("./"), "Codex wants ./-relative paths");
    assert_eq!(
        plugin_dir().join(hooks),
        plugin_dir().join("./hooks/hooks.json")
    );
}

#[test]
fn both_marketplaces_list_the_plugin_under_the_same_name() {
    let claude = read_json(&Path::new(REPO).join(".claude-plugin/marketplace.json"));
    let codex = read_json(&Path::new(REPO).join(".agents/plugins/marketplace.json"));
    // The same name on both hosts gives the same id, ralph-hook@ralph-hook, everywhere.
    assert_eq!(claude["name"], "ralph-hook");
    assert_eq!(codex["name"], claude["name"]);
    assert_eq!(claude["plugins"][0]["name"], "ralph-hook");
    assert_eq!(claude["plugins"][0]["source"], "./plugins/ralph-hook");
    assert_eq!(codex["plugins"][0]["name"], "ralph-hook");
    assert_eq!(
        codex["plugins"][0]["source"],
        json!({"source": "local", "path": "./plugins/ralph-hook"})
    );
    assert_eq!(
        codex["plugins"][0]["policy"]["installation"], "AVAILABLE",
        "Codex lists a plugin only with an installation policy"
    );
}

#[test]
fn every_plugin_hook_runs_the_launcher_from_the_plugin_root() {
    let hooks = read_json(&plugin_dir().join("hooks/hooks.json"));
    let keys: Vec<&str> = hooks
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["description", "hooks"],
        "Codex rejects other root keys"
    );
    let events = hooks["hooks"].as_object().unwrap();
    assert_eq!(events.len(), 4);
    for (event, subcommand) in [
        ("UserPromptSubmit", "prompt"),
        ("Stop", "stop"),
        ("SessionEnd", "session-end"),
        ("StopFailure", "stop-failure"),
    ] {
        let handlers = events[event][0]["hooks"].as_array().unwrap();
        assert_eq!(handlers.len(), 1, "{event}");
        assert_eq!(
            handlers[0]["command"],
            format!("sh \"${{CLAUDE_PLUGIN_ROOT}}/hooks/ralph-hook.sh\" {subcommand}")
        );
    }
    assert!(plugin_dir().join("hooks/ralph-hook.sh").is_file());
}

// ---- the launcher ----

/// A place to run the launcher: a temp home, TMPDIR, plugin data folder and a PATH
/// folder, and nothing from the test's own environment.
struct Launcher {
    temp: tempfile::TempDir,
    shell: String,
}

impl Launcher {
    fn new(shell: &str) -> Self {
        let temp = tempfile::tempdir().unwrap();
        for dir in ["home", "tmp", "data", "path", "cwd"] {
            fs_err::create_dir_all(temp.path().join(dir)).unwrap();
        }
        Launcher {
            temp,
            shell: shell.to_owned(),
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// The launcher run the way a host runs the plugin's hook.
    fn command(&self, root: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.shell);
        cmd.env_clear()
            .arg(root.join("hooks/ralph-hook.sh"))
            .args(args)
            .current_dir(self.dir("cwd"))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir("path").display()),
            )
            .env("HOME", self.dir("home"))
            .env("TMPDIR", self.dir("tmp"))
            .env("CLAUDE_PLUGIN_ROOT", root)
            .env("CLAUDE_PLUGIN_DATA", self.dir("data"));
        cmd
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run_command(self.command(&plugin_dir(), args), stdin)
    }

    fn run_command(&self, mut cmd: Command, stdin: &[u8]) -> Output {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the launcher");
        let mut pipe = child.stdin.take().unwrap();
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }
}

/// The shells the launcher must work in: `sh`, and dash and bash in POSIX mode where
/// they are installed.
fn shells() -> Vec<String> {
    let mut shells = vec!["sh".to_owned()];
    for shell in ["/bin/dash", "/bin/bash"] {
        if Path::new(shell).exists() {
            shells.push(shell.to_owned());
        }
    }
    shells
}

/// A fake `ralph-hook` that says where it is, with its arguments and stdin.
fn fake_program(path: &Path, name: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, format!("#!/bin/sh\necho \"{name} $*\"\ncat\n")).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn payload(session: &str) -> Vec<u8> {
    json!({"session_id": session, "cwd": "/x", "hook_event_name": "Stop"})
        .to_string()
        .into_bytes()
}

#[test]
fn without_the_program_every_stop_is_allowed_and_the_install_command_said_once_per_session() {
    for shell in shells() {
        let launcher = Launcher::new(&shell);
        let first = launcher.run(&["stop"], &payload("session-1"));
        assert_eq!(first.status.code(), Some(0), "{shell}");
        // Said where the hosts show it too: a systemMessage, on an allow.
        assert_valid_output(HookSchema::Stop, &stdout(&first));
        let answer = json_out(&first);
        assert!(answer.get("decision").is_none(), "{shell}: {answer}");
        assert_eq!(
            answer["systemMessage"].as_str().map(str::trim),
            Some(stderr(&first).trim()),
            "{shell}"
        );
        let notice = stderr(&first);
        assert_eq!(notice.lines().count(), 1, "{shell}: {notice}");
        // The plugin sits in a checkout here, so the command builds that checkout.
        assert!(
            notice.contains(&format!("cargo install --locked --path '{REPO}'")),
            "{shell}: {notice}"
        );

        for args in [["stop"], ["prompt"]] {
            let again = launcher.run(&args, &payload("session-1"));
            assert_eq!(again.status.code(), Some(0), "{shell}");
            assert_eq!(stdout(&again), "");
            assert_eq!(stderr(&again), "", "{shell}: said once per session");
        }
        let other = launcher.run(&["stop"], &payload("session-2"));
        assert_eq!(
            stderr(&other).lines().count(),
            1,
            "{shell}: a new session hears it"
        );
        // A session's first prompt: the agent is asked to pass it on, since `codex exec`
        // and plain `claude -p` show the user neither stderr nor a systemMessage.
        let prompt = launcher.run(&["prompt"], &payload("session-3"));
        assert_eq!(prompt.status.code(), Some(0), "{shell}");
        assert_valid_output(HookSchema::Prompt, &stdout(&prompt));
        let answer = json_out(&prompt);
        assert!(answer.get("decision").is_none(), "{shell}: {answer}");
        let context = answer["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap_or_default();
        assert!(context.contains("tell the user"), "{shell}: {context}");
        assert!(
            context.contains(&format!("cargo install --locked --path '{REPO}'")),
            "{shell}: {context}"
        );
    }
}

#[test]
fn a_plugin_copied_out_of_a_checkout_names_cargo_install_from_git() {
    let launcher = Launcher::new("sh");
    // Codex runs plugins from a copy in its cache, far from any checkout.
    let copy = launcher.dir("cache/ralph-hook/0.1.0");
    fs_err::create_dir_all(copy.join("hooks")).unwrap();
    fs_err::copy(
        plugin_dir().join("hooks/ralph-hook.sh"),
        copy.join("hooks/ralph-hook.sh"),
    )
    .unwrap();
    let out = launcher.run_command(launcher.command(&copy, &["stop"]), &payload("s"));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        json_out(&out)["systemMessage"].is_string(),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("cargo install --locked --git "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_huge_payload_is_read_to_the_end_without_the_program() {
    let launcher = Launcher::new("sh");
    let message = "x".repeat(4 * 1024 * 1024);
    let big = json!({"session_id": "big", "last_assistant_message": message}).to_string();
    let out = launcher.run(&["stop"], big.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert!(
        json_out(&out)["systemMessage"].is_string(),
        "{}",
        stdout(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
}

#[test]
fn the_program_is_found_on_path_then_in_cargo_bin_then_in_the_plugin_data_folder() {
    let launcher = Launcher::new("sh");
    let places = [
        (launcher.dir("path/ralph-hook"), "from-path"),
        (launcher.dir("home/.cargo/bin/ralph-hook"), "from-cargo"),
        (launcher.dir("data/bin/ralph-hook"), "from-data"),
    ];
    for (path, name) in &places {
        fake_program(path, name);
    }
    for (path, name) in &places {
        let out = launcher.run(&["stop", "--agent", "codex"], b"{\"payload\":1}");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            stdout(&out),
            format!("{name} stop --agent codex\n{{\"payload\":1}}"),
            "arguments and stdin reach the program"
        );
        fs_err::remove_file(path).unwrap();
    }
}

#[test]
fn a_program_planted_in_the_workspace_is_never_run_through_a_relative_path_entry() {
    let launcher = Launcher::new("sh");
    let marker = launcher.dir("ran");
    let planted = launcher.dir("cwd/ralph-hook");
    fs_err::write(
        &planted,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    fs_err::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = launcher.command(&plugin_dir(), &["stop"]);
    cmd.env("PATH", ".:/usr/bin:/bin");
    let out = launcher.run_command(cmd, &payload("s"));
    assert_eq!(out.status.code(), Some(0));
    assert!(!marker.exists(), "the workspace's ralph-hook ran");
    assert!(stderr(&out).contains("not installed"), "{}", stderr(&out));
}

#[test]
fn a_program_that_exits_2_never_makes_the_hook_exit_2() {
    let launcher = Launcher::new("sh");
    let path = launcher.dir("path/ralph-hook");
    fs_err::write(&path, "#!/bin/sh\necho 'continue with this' >&2\nexit 2\n").unwrap();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = launcher.run(&["stop"], &payload("s"));
    assert_eq!(out.status.code(), Some(1), "exit 2 would block the stop");
}

#[test]
fn through_the_launcher_the_real_binary_runs_the_loop() {
    let world = World::new();
    world.start("S", &[]);
    let launcher = Launcher::new("sh");
    // Where `cargo install --root <plugin data folder>` puts it.
    fs_err::create_dir_all(launcher.dir("data/bin")).unwrap();
    symlink(
        env!("CARGO_BIN_EXE_ralph-hook"),
        launcher.dir("data/bin/ralph-hook"),
    )
    .unwrap();
    let mut cmd = launcher.command(&plugin_dir(), &["stop"]);
    cmd.env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("XDG_STATE_HOME", world.home.join(".local/state"));
    let stop = codex_stop("S", &world.workspace, Some("working on it"));
    let out = launcher.run_command(cmd, stop.to_string().as_bytes());
    let reason = assert_block(&out);
    assert!(reason.contains("iteration 1/50"), "{reason}");
    assert_eq!(world.state()["iteration"], 1);
}

// ---- installed twice: each host event acted on once ----

/// The plugin's folder as the hosts announce it to the plugin's hooks.
const PLUGIN_ROOT: (&str, &str) = ("CLAUDE_PLUGIN_ROOT", "/home/dev/.claude/plugins/ralph-hook");

/// The binary for a Stop or prompt run, as `World::cmd` sets it up, as a std command
/// (to run two at once).
fn hook(world: &World, args: &[&str], plugin: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ralph-hook"));
    cmd.args(args)
        .env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("XDG_STATE_HOME", world.home.join(".local/state"))
        .env_remove("RALPH_HOOK_NOW")
        .current_dir(&world.workspace);
    for var in [
        "CODEX_THREAD_ID",
        "CODEX_SESSION_ID",
        "CLAUDE_CODE_SESSION_ID",
    ]
    .iter()
    .chain(&PLUGIN_VARS)
    {
        cmd.env_remove(var);
    }
    if plugin {
        cmd.env(PLUGIN_ROOT.0, PLUGIN_ROOT.1);
    }
    cmd
}

fn spawn(mut cmd: Command, payload: &Value) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ralph-hook");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    child
}

/// One stop as a host with both installations runs it: the plugin's hook and the
/// installed one at the same moment. Returns (plugin's answer, install's answer).
fn stop_twice(world: &World, payload: &Value) -> (Output, Output) {
    let plugin = spawn(hook(world, &["stop"], true), payload);
    let installed = spawn(hook(world, &["stop"], false), payload);
    (
        plugin.wait_with_output().unwrap(),
        installed.wait_with_output().unwrap(),
    )
}

fn blocks(history: &[Value]) -> usize {
    history
        .iter()
        .filter(|h| h["event"] == "stop" && h["decision"] == "block")
        .count()
}

#[test]
fn installed_twice_each_stop_gives_one_continuation_prompt_and_counts_one_iteration() {
    let world = World::new();
    world.start("S", &["--no-progress", "0"]);
    for i in 1..=12 {
        let mut payload = codex_stop("S", &world.workspace, Some(&format!("step {i}")));
        payload["stop_hook_active"] = json!(i > 1);
        let (plugin, installed) = stop_twice(&world, &payload);
        let answers = [&plugin, &installed];
        let prompts: Vec<String> = answers
            .iter()
            .filter(|out| !stdout(out).is_empty())
            .map(|out| assert_block(out))
            .collect();
        assert_eq!(
            prompts.len(),
            1,
            "stop {i}: exactly one continuation prompt"
        );
        assert!(
            prompts[0].contains(&format!("iteration {i}/50")),
            "{}",
            prompts[0]
        );
        for out in answers {
            assert_success(out);
            assert_eq!(stderr(out), "", "a repeat is silent");
        }
        assert_eq!(world.state()["iteration"], i);
    }
    assert_eq!(blocks(&world.history()), 12, "one history line per stop");
}

#[test]
fn installed_twice_a_message_repeated_word_for_word_is_still_a_new_stop() {
    let world = World::new();
    world.start("S", &["--no-progress", "0"]);
    let mut payload = codex_stop("S", &world.workspace, Some("still working"));
    payload["stop_hook_active"] = json!(true);
    // The same payload three times: three stops of a model that repeats itself, each run
    // by both installations, in either order.
    for (i, plugin_first) in [(1, true), (2, false), (3, true)] {
        let one = spawn(hook(&world, &["stop"], plugin_first), &payload)
            .wait_with_output()
            .unwrap();
        let two = spawn(hook(&world, &["stop"], !plugin_first), &payload)
            .wait_with_output()
            .unwrap();
        assert!(assert_block(&one).contains(&format!("iteration {i}/50")));
        assert_silent_allow(&two);
    }
    assert_eq!(world.state()["iteration"], 3);

    // One installation alone: every run is a stop of its own.
    let world = World::new();
    world.start("S", &["--no-progress", "0"]);
    payload["cwd"] = json!(world.workspace);
    for i in 1..=2 {
        let out = world.stop(&payload);
        assert!(assert_block(&out).contains(&format!("iteration {i}/50")));
    }
}

#[test]
fn installed_twice_a_completion_is_verified_once_and_finishes_once() {
    let world = World::new();
    let runs = world.temp.path().join("verify-runs");
    let verify = format!("echo run >> '{}'; sleep 1", runs.display());
    world.start("S", &["--verify", &verify]);
    let payload = codex_stop("S", &world.workspace, Some(&format!("all done\n{DONE}")));
    let (plugin, installed) = stop_twice(&world, &payload);
    let messages: Vec<String> = [&plugin, &installed]
        .iter()
        .filter(|out| !stdout(out).is_empty())
        .map(|out| assert_allow_with_message(out))
        .collect();
    assert_eq!(
        messages.len(),
        1,
        "one run verified and finished: {messages:?}"
    );
    assert!(messages[0].contains("[verified]"), "{}", messages[0]);
    assert!(!world.state_path().exists());
    let finishes = world
        .history()
        .iter()
        .filter(|h| h["decision"] == "finish")
        .count();
    assert_eq!(finishes, 1);
    let verified = fs_err::read_to_string(&runs).unwrap();
    assert_eq!(verified.lines().count(), 1, "the verify command ran once");
}

#[test]
fn installed_twice_one_prompt_starts_one_loop_and_gives_the_rules_once() {
    let world = World::new();
    let prompt = prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-hook:ralph-loop fix the tests --max-iterations 3",
    );
    let plugin = spawn(hook(&world, &["prompt"], true), &prompt)
        .wait_with_output()
        .unwrap();
    let first_loop = world.state()["loop_id"].clone();
    let installed = spawn(hook(&world, &["prompt"], false), &prompt)
        .wait_with_output()
        .unwrap();
    let answer = json_out(&plugin);
    assert!(
        answer["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .is_some_and(|rules| rules.contains("A ralph loop is now active")),
        "{answer}"
    );
    assert_success(&installed);
    assert_eq!(stdout(&installed), "", "the rules are given once");
    assert_eq!(
        world.state()["loop_id"],
        first_loop,
        "the loop was not replaced"
    );
    assert_eq!(world.state()["max_iterations"], 3);
    let starts = world
        .history()
        .iter()
        .filter(|h| h["event"] == "start")
        .count();
    assert_eq!(starts, 1, "{:#?}", world.history());

    // The user's next prompt in the same session is a new event: it replaces the loop.
    let mut next = prompt.clone();
    next["turn_id"] = json!("a-later-turn");
    next["prompt"] = json!("$ralph-loop another task --max-iterations 5");
    let out = spawn(hook(&world, &["prompt"], false), &next)
        .wait_with_output()
        .unwrap();
    assert!(json_out(&out)["hookSpecificOutput"].is_object());
    assert_eq!(world.state()["max_iterations"], 5);
    assert_ne!(world.state()["loop_id"], first_loop);
}

// ---- install and doctor beside the plugin ----

/// A temporary user for install and doctor: a home with `.claude` and `.codex`, a PATH
/// folder, and nothing of the test's own environment.
struct Homes {
    dir: tempfile::TempDir,
}

impl Homes {
    fn new() -> Self {
        let homes = Homes {
            dir: private_tempdir(),
        };
        for dir in [homes.claude(), homes.codex(), homes.bin()] {
            fs_err::create_dir_all(dir).unwrap();
        }
        homes
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn claude(&self) -> PathBuf {
        self.home().join(".claude")
    }

    fn codex(&self) -> PathBuf {
        self.home().join(".codex")
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// `ralph-hook ARGS [--agent AGENT] --<agent>-home DIR` as the user runs it (doctor
    /// looks at every home it is given).
    fn ralph(&self, args: &[&str], agent: &str) -> Output {
        let home_flag = match agent {
            "claude" => ("--claude-home", self.claude()),
            _ => ("--codex-home", self.codex()),
        };
        let agent_flag: &[&str] = if args[0] == "doctor" {
            &[]
        } else {
            &["--agent", agent]
        };
        Command::new(env!("CARGO_BIN_EXE_ralph-hook"))
            .env_clear()
            .args(args)
            .args(agent_flag)
            .arg(home_flag.0)
            .arg(home_flag.1)
            .env("HOME", self.home())
            .env("CODEX_HOME", self.codex())
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin().display()))
            .env("XDG_STATE_HOME", self.home().join(".local/state"))
            .env("RALPH_HOOK_STATE_DIR", self.home().join("state"))
            .env("LANG", "C.UTF-8")
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

/// settings.json as `claude plugin install` leaves it.
const CLAUDE_SETTINGS_WITH_PLUGIN: &str = r#"{
  "extraKnownMarketplaces": {
    "ralph-hook": {
      "source": {
        "source": "directory",
        "path": "/home/dev/src/ralph-hook"
      }
    }
  },
  "enabledPlugins": {
    "ralph-hook@ralph-hook": true
  }
}
"#;

/// config.toml as `codex plugin add` leaves it.
const CODEX_CONFIG_WITH_PLUGIN: &str = r#"model = "gpt-5"

[marketplaces.ralph-hook]
source_type = "local"
source = "/home/dev/src/ralph-hook"

[plugins."ralph-hook@ralph-hook"]
enabled = true
"#;

#[test]
fn beside_the_claude_plugin_install_only_raises_the_block_cap_and_uninstall_undoes_it() {
    let homes = Homes::new();
    let settings = homes.claude().join("settings.json");
    fs_err::write(&settings, CLAUDE_SETTINGS_WITH_PLUGIN).unwrap();
    let out = homes.ralph(&["install"], "claude");
    assert_success(&out);
    assert!(
        stdout(&out).contains("the ralph-hook plugin (ralph-hook@ralph-hook) is enabled"),
        "{}",
        stdout(&out)
    );
    let after: Value = serde_json::from_str(&fs_err::read_to_string(&settings).unwrap()).unwrap();
    assert!(
        after.get("hooks").is_none(),
        "no hooks beside the plugin's: {after:#}"
    );
    assert_eq!(after["env"]["CLAUDE_CODE_STOP_HOOK_BLOCK_CAP"], "1000");
    assert_eq!(after["enabledPlugins"]["ralph-hook@ralph-hook"], true);
    assert!(
        !homes.claude().join("skills/ralph-loop").exists(),
        "the plugin has the skill"
    );
    assert!(!homes.claude().join("hooks/ralph-hook").exists());

    let again = homes.ralph(&["install"], "claude");
    assert_success(&again);
    assert!(
        stdout(&again).contains("nothing to change"),
        "{}",
        stdout(&again)
    );

    assert_success(&homes.ralph(&["uninstall"], "claude"));
    assert_eq!(
        fs_err::read_to_string(&settings).unwrap(),
        CLAUDE_SETTINGS_WITH_PLUGIN
    );
}

#[test]
fn beside_the_codex_plugin_install_adds_no_hooks_of_its_own() {
    let homes = Homes::new();
    let config = homes.codex().join("config.toml");
    fs_err::write(&config, CODEX_CONFIG_WITH_PLUGIN).unwrap();
    let out = homes.ralph(&["install", "--no-trust"], "codex");
    assert_success(&out);
    assert!(
        stdout(&out).contains("install adds no hooks of its own"),
        "{}",
        stdout(&out)
    );
    assert!(!homes.codex().join("hooks.json").exists());
    assert!(!homes.codex().join("hooks/ralph-hook").exists());
    assert!(!homes.codex().join("skills/ralph-loop").exists());
    let text = fs_err::read_to_string(&config).unwrap();
    assert!(
        text.contains("[plugins.\"ralph-hook@ralph-hook\"]"),
        "{text}"
    );

    assert_success(&homes.ralph(&["uninstall"], "codex"));
    assert_eq!(
        fs_err::read_to_string(&config).unwrap(),
        CODEX_CONFIG_WITH_PLUGIN
    );
}

#[test]
fn doctor_reports_the_plugin_and_install_together_as_installed_twice_with_the_fix() {
    let homes = Homes::new();
    assert_success(&homes.ralph(&["install"], "claude"));
    // Then the user installs the plugin too.
    let settings = homes.claude().join("settings.json");
    let mut value: Value =
        serde_json::from_str(&fs_err::read_to_string(&settings).unwrap()).unwrap();
    value["enabledPlugins"] = json!({"ralph-hook@ralph-hook": true});
    fs_err::write(&settings, value.to_string()).unwrap();

    let out = homes.ralph(&["doctor"], "claude");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    assert!(report.contains("✗ installed twice"), "{report}");
    let flags = format!(
        "--agent claude --claude-home \"{}\"",
        homes.claude().display()
    );
    assert!(
        report.contains(&format!(
            "fix: keep the plugin: ralph-hook uninstall {flags} && ralph-hook install {flags}"
        )),
        "{report}"
    );
    assert!(
        report.contains("claude plugin uninstall ralph-hook@ralph-hook"),
        "{report}"
    );

    // The fix it names, followed: the plugin alone, and nothing reported twice.
    assert_success(&homes.ralph(&["uninstall"], "claude"));
    assert_success(&homes.ralph(&["install"], "claude"));
    fs_err::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ralph-hook"),
        homes.bin().join("ralph-hook"),
    )
    .unwrap();
    let out = homes.ralph(&["doctor"], "claude");
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(!report.contains("installed twice"), "{report}");
    assert!(report.contains("the ralph-hook plugin (ralph-hook@ralph-hook) brings the hooks"));
}

#[test]
fn doctor_checks_the_binary_the_plugin_runs() {
    let homes = Homes::new();
    fs_err::write(
        homes.claude().join("settings.json"),
        CLAUDE_SETTINGS_WITH_PLUGIN,
    )
    .unwrap();
    assert_success(&homes.ralph(&["install"], "claude"));
    let out = homes.ralph(&["doctor"], "claude");
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("✗ the plugin's hooks find no ralph-hook binary"),
        "{report}"
    );
    assert!(report.contains("cargo install --locked --git"), "{report}");

    // `cargo install --root <the plugin's data folder>` puts it where the launcher looks.
    let data_bin = homes
        .claude()
        .join("plugins/data/ralph-hook-ralph-hook/bin");
    fs_err::create_dir_all(&data_bin).unwrap();
    symlink(
        env!("CARGO_BIN_EXE_ralph-hook"),
        data_bin.join("ralph-hook"),
    )
    .unwrap();
    let out = homes.ralph(&["doctor"], "claude");
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!(
            "✓ the plugin's hooks run {}",
            data_bin.join("ralph-hook").display()
        )),
        "{report}"
    ); // Off PATH the loop still runs, so doctor informs instead of failing.
    assert!(
        report.contains("`ralph-hook` is not on PATH: the plugin's hooks run"),
        "{report}"
    );
}

/// The launcher's notice folder: `$TMPDIR/ralph-hook-<uid>`.
fn notice_folder(launcher: &Launcher) -> PathBuf {
    // SAFETY: geteuid only reads the process's own credentials.
    let uid = unsafe { libc::geteuid() };
    launcher.dir("tmp").join(format!("ralph-hook-{uid}"))
}

#[test]
fn the_notice_folder_is_private_and_one_that_is_not_the_users_is_never_used() {
    for shell in shells() {
        // Made by the launcher: 0700, so other users cannot list the session ids.
        let launcher = Launcher::new(&shell);
        let out = launcher.run(&["stop"], &payload("s1"));
        assert_eq!(stderr(&out).lines().count(), 1, "{shell}");
        let mode = fs_err::metadata(notice_folder(&launcher))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{shell}: mode {mode:o}");

        // A link planted there: nothing is made through it, and the notice is still said.
        let launcher = Launcher::new(&shell);
        let elsewhere = launcher.dir("elsewhere");
        fs_err::create_dir_all(&elsewhere).unwrap();
        symlink(&elsewhere, notice_folder(&launcher)).unwrap();
        for _ in 0..2 {
            let out = launcher.run(&["stop"], &payload("s1"));
            // Said every time, on both channels (stderr, and the `systemMessage` the
            // host shows): the stop is still allowed.
            assert!(
                stdout(&out).contains("\"systemMessage\"") && !stdout(&out).contains("block"),
                "{shell}: {}",
                stdout(&out)
            );
            assert_eq!(stderr(&out).lines().count(), 1, "{shell}: said every time");
        }
        assert_eq!(
            fs_err::read_dir(&elsewhere).unwrap().count(),
            0,
            "{shell}: a folder was made through the planted link"
        );

        // A folder someone else can write (as another user's pre-created one would be):
        // never trusted to say the notice was given.
        let launcher = Launcher::new(&shell);
        let open = notice_folder(&launcher);
        fs_err::create_dir_all(&open).unwrap();
        fs_err::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        for _ in 0..2 {
            let out = launcher.run(&["stop"], &payload("s1"));
            assert_eq!(stderr(&out).lines().count(), 1, "{shell}: said every time");
        }
        assert_eq!(fs_err::read_dir(&open).unwrap().count(), 0, "{shell}");
    }
}

#[test]
fn another_users_notice_folder_does_not_silence_the_notice() {
    // SAFETY: geteuid only reads the process's own credentials.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: faking another user's folder needs root (chown)");
        return;
    }
    let launcher = Launcher::new("sh");
    let theirs = notice_folder(&launcher);
    fs_err::create_dir_all(theirs.join("missing.s1")).unwrap();
    fs_err::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    let out = launcher.run(&["stop"], &payload("s1"));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn a_relative_path_entry_never_names_the_program() {
    // The hook runs in the workspace: `.` first in PATH must not run a planted copy.
    let launcher = Launcher::new("sh");
    fake_program(&launcher.dir("cwd").join("ralph-hook"), "planted");
    let mut cmd = launcher.command(&plugin_dir(), &["stop"]);
    cmd.env(
        "PATH",
        format!(".:{}:/usr/bin:/bin", launcher.dir("path").display()),
    );
    let out = launcher.run_command(cmd, &payload("s"));
    assert!(!stdout(&out).contains("planted"), "{}", stdout(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}
