//! The user's defaults in `~/.config/ralph-hook/config.toml`: `config path` names the
//! file, its values fill the flags not given (to `start` and `$ralph-loop` alike), `show`
//! says where each setting came from, and a bad value is an error naming the file, line
//! and key — while the Stop hook, which never reads it, goes on.

use crate::support::*;

fn config_file(world: &World) -> std::path::PathBuf {
    world.home.join(".config/ralph-hook/config.toml")
}

fn write_config(world: &World, text: &str) {
    let path = config_file(world);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

#[test]
fn config_path_prints_the_xdg_place_or_the_override() {
    let world = World::new();
    let out = world.run(&["config", "path"]);
    assert_success(&out);
    assert_eq!(
        stdout(&out).trim(),
        config_file(&world).display().to_string()
    );
    let out = world
        .cmd()
        .args(["config", "path"])
        .env("RALPH_HOOK_CONFIG", "/etc/ralph.toml")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "/etc/ralph.toml");
}

#[test]
fn defaults_fill_the_flags_not_given_and_show_says_where_each_came_from() {
    let world = World::new();
    write_config(
        &world,
        "# my loops\nmax_iterations = 7\nmax_tokens = \"2M\"\nmax_duration = \"2h\"\n",
    );
    let check = world.run(&["config", "check"]);
    assert_success(&check);
    let file = config_file(&world).display().to_string();
    assert!(
        stdout(&check).contains(&format!("2M ({file}:3)")),
        "config check names each value and its line: {}",
        stdout(&check)
    );
    world.start("S", &["--max-duration", "30m"]);
    let state = world.state();
    assert_eq!(state["max_iterations"], 7);
    assert_eq!(state["max_tokens"], 2_000_000);
    assert_eq!(state["max_duration_secs"], 1800, "the flag wins");
    let show = stdout(&world.run(&["show"]));
    assert!(show.contains("max_duration from flags"), "{show}");
    assert!(
        show.contains(&format!("max_iterations from {file}:2")),
        "{show}"
    );
    assert!(
        show.contains(&format!("max_tokens from {file}:3")),
        "{show}"
    );

    // The prompt hook reads the same defaults.
    let other = World::new();
    write_config(&other, "max_iterations = 4\n");
    let out = other.prompt(&prompt_payload(
        "codex",
        "S",
        &other.workspace,
        "$ralph-loop tidy up",
    ));
    assert_success(&out);
    assert_eq!(other.state()["max_iterations"], 4);
}

#[test]
fn a_bad_value_is_an_error_naming_file_line_and_key_and_nothing_starts() {
    let world = World::new();
    write_config(&world, "max_iterations = 5\nmax_tokens = \"lots\"\n");
    let ws = world.workspace.to_str().unwrap();
    let out = world.run(&["start", "--workspace", ws, "--prompt", "t"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    let at = format!("{}:2", config_file(&world).display());
    assert!(err.contains(&at) && err.contains("max_tokens"), "{err}");
    assert!(world.record().is_none());
    let check = world.run(&["config", "check"]);
    assert_eq!(check.status.code(), Some(65));
    assert!(stderr(&check).contains(&at), "{}", stderr(&check));

    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "$ralph-loop t",
    ));
    assert_success(&out);
    let answer = json_out(&out);
    assert_eq!(
        answer["decision"], "block",
        "the prompt is refused: {answer}"
    );
    assert!(answer["reason"].as_str().unwrap().contains(&at), "{answer}");
    assert!(world.record().is_none());
}

#[test]
fn a_config_broken_after_the_start_does_not_touch_a_running_loop() {
    let world = World::new();
    world.start("S", &[]);
    write_config(&world, "this is not toml [");
    assert_block(&world.stop(&codex_stop("S", &world.workspace, Some("working"))));
    let out = world.prompt(&prompt_payload(
        "codex",
        "S",
        &world.workspace,
        "an ordinary prompt",
    ));
    // The user's plain prompt in the loop's session steers it; the broken config plays
    // no part in that.
    assert_success(&out);
    let answer = stdout(&out);
    assert!(answer.contains("paused while you steer"), "{answer}");
    assert!(!answer.contains("toml"), "{answer}");
}

/// The flag table is the one place a loop flag is added: every flag of it (read from its
/// clap definition, so a new one is in this loop at once) is a key of the config file, a
/// flag of `$ralph-loop …` and a flag of `start`, with the same value in all three, and
/// a flag given overrides the file's value.
#[test]
fn every_flag_of_the_table_is_a_config_key_a_prompt_flag_and_a_start_flag() {
    use clap::Parser as _;
    use ralph_hook::testing::cli::{Cli, Command};
    use ralph_hook::testing::engine::config::{Source, UserConfig};
    use ralph_hook::testing::engine::settings::RawLoopFlags;
    use ralph_hook::testing::hook::loop_command::{self, LoopCommand};

    let path = std::path::Path::new("/home/u/.config/ralph-hook/config.toml");
    let command = RawLoopFlags::command();
    let flags: Vec<_> = command.get_arguments().collect();
    assert!(flags.len() >= 9, "{flags:?}");
    for arg in flags {
        let id = arg.get_id().as_str();
        let flag = format!("--{}", arg.get_long().expect("a loop flag is a long flag"));
        let key = RawLoopFlags::key(id).unwrap_or_else(|| panic!("{flag} has no config key"));

        // A config key: its example line reads back as the flag's value.
        let config = UserConfig::parse(path, &key.example_line())
            .unwrap_or_else(|err| panic!("{flag} as a config key: {err}"));
        let value = config.get(id).expect("the key's value").value;
        let settings = config.settings("task", &RawLoopFlags::default()).unwrap();
        assert_eq!(
            settings.sources.get(id).map(String::as_str),
            Some(format!("{}:1", path.display()).as_str()),
            "{flag}"
        );

        // A prompt flag.
        let prompt = format!("$ralph-loop task {flag} '{value}'");
        let Some(Ok(LoopCommand::Start { task, flags, .. })) = loop_command::parse(&prompt) else {
            panic!("{prompt:?} does not start a loop");
        };
        assert_eq!(task, "task");
        assert_eq!(flags.given(), [(id, value.as_str())], "{prompt}");

        // A start flag.
        let cli = Cli::try_parse_from(["ralph-hook", "start", &flag, &value, "--", "task"])
            .unwrap_or_else(|err| panic!("start {flag}: {err}"));
        let Command::Start(args) = cli.command else {
            panic!("start {flag} is not start");
        };
        assert_eq!(args.flags, flags, "start {flag} reads as the prompt does");

        // Given, it overrides the file.
        let (raw, sources) = config.apply(&flags).unwrap();
        assert_eq!(raw, flags, "{flag}");
        assert!(sources.contains(&(id, Source::Flag)), "{flag}: {sources:?}");
    }
}
