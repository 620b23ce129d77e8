//! `ralph-hook install / uninstall / doctor` driven as a user would, against temporary
//! homes only: the child process gets its own HOME, CODEX_HOME and XDG folders, and every
//! command names its homes with flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

use crate::support::{make_git_dir, private_tempdir};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A temporary user: a home with `.codex` and `.claude` folders that the tests create as
/// each case needs.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            dir: private_tempdir(),
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn codex(&self) -> PathBuf {
        self.home().join(".codex")
    }

    fn claude(&self) -> PathBuf {
        self.home().join(".claude")
    }

    /// The binary with a sealed environment and both homes named.
    fn ralph(&self, args: &[&str]) -> Command {
        self.run(&assert_cmd::cargo::cargo_bin("ralph-hook"), args)
    }

    /// `program` (a ralph-hook binary) with the sealed environment and both homes named.
    fn run(&self, program: &Path, args: &[&str]) -> Command {
        self.sealed(Command::new(program), args)
    }

    /// `command` with these arguments, the sealed environment and both homes named.
    fn sealed(&self, mut command: Command, args: &[&str]) -> Command {
        let home = self.home();
        std::fs::create_dir_all(&home).expect("home");
        command
            .args(args)
            .arg("--codex-home")
            .arg(self.codex())
            .arg("--claude-home")
            .arg(self.claude())
            .env("HOME", &home)
            .env("CODEX_HOME", self.codex())
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("RALPH_HOOK_STATE_DIR", home.join("state"))
            .env_remove("CLAUDE_CONFIG_DIR")
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env_remove("CLICOLOR_FORCE")
            .current_dir(self.dir.path());
        command
    }

    /// `install --agent all --no-trust` plus extra flags.
    fn install(&self, extra: &[&str]) -> Command {
        let mut args = vec!["install", "--agent", "all", "--no-trust"];
        args.extend_from_slice(extra);
        self.ralph(&args)
    }

    fn uninstall(&self) -> Command {
        self.ralph(&["uninstall", "--agent", "all"])
    }

    #[track_caller]
    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Every file and link under the sandbox with its content, to compare whole trees.
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut files = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut files);
        files
    }
}

fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).expect("under root").to_path_buf();
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("link");
            files.insert(relative, format!("-> {}", target.display()));
        } else if meta.is_dir() {
            files.insert(relative, "<dir>".into());
            walk(root, &path, files);
        } else {
            let bytes = std::fs::read(&path).expect("read");
            files.insert(relative, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

#[track_caller]
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_fresh_install_wires_both_hosts() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let codex = sandbox.codex();
    let claude = sandbox.claude();
    let hooks: serde_json::Value = serde_json::from_str(&read(&codex.join("hooks.json"))).unwrap();
    let bin = codex.join("hooks/ralph-hook");
    assert_eq!(
        hooks["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        format!("\"{}\" prompt --agent codex", bin.display())
    );
    assert_eq!(
        hooks["hooks"]["Stop"][0]["hooks"][0]["command"],
        format!("\"{}\" stop --agent codex", bin.display())
    );
    assert_eq!(hooks["hooks"]["Stop"][0]["hooks"][0]["timeout"], 600);
    assert_eq!(
        read(&codex.join("config.toml")),
        "[features]\nhooks = true\n"
    );
    assert_eq!(
        read(&codex.join("hooks/ralph-loop-stop.sh")),
        read(&Path::new(REPO).join("hooks/ralph-loop-stop.sh"))
    );
    let settings: serde_json::Value =
        serde_json::from_str(&read(&claude.join("settings.json"))).unwrap();
    assert_eq!(
        settings["hooks"]["Stop"][0]["hooks"][0]["command"],
        format!(
            "\"{}\" stop --agent claude",
            claude.join("hooks/ralph-hook").display()
        )
    );
    assert_eq!(settings["env"]["CLAUDE_CODE_STOP_HOOK_BLOCK_CAP"], "1000");
    for home in [&codex, &claude] {
        let skill = read(&home.join("skills/ralph-loop/SKILL.md"));
        assert!(skill.contains(&format!(
            "ralph-hook-version: {}",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(skill.contains(&format!(
            "\"{}\" show",
            home.join("hooks/ralph-hook").display()
        )));
        Command::new(home.join("hooks/ralph-hook"))
            .arg("--version")
            .assert()
            .success()
            .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for path in [
            codex.join("hooks/ralph-hook"),
            codex.join("hooks/ralph-loop-stop.sh"),
        ] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{} is executable", path.display());
        }
    }
}

#[test]
fn installing_twice_writes_nothing_the_second_time() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let first = sandbox.snapshot();
    let output = sandbox.install(&[]).assert().success().get_output().clone();
    assert_eq!(
        stdout_of(&output).matches("nothing to change").count(),
        2,
        "{}",
        stdout_of(&output)
    );
    assert_eq!(sandbox.snapshot(), first);
}

#[test]
fn install_then_uninstall_restores_every_byte() {
    let sandbox = Sandbox::new();
    let fixtures = Path::new(REPO).join("tests/fixtures/install");
    sandbox.write(
        &sandbox.codex().join("hooks.json"),
        &read(&fixtures.join("hooks-json/other-hooks/in.json")),
    );
    sandbox.write(
        &sandbox.codex().join("config.toml"),
        &read(&fixtures.join("config-toml/comments/in.toml")),
    );
    sandbox.write(
        &sandbox.claude().join("settings.json"),
        &read(&fixtures.join("settings-json/user-settings/in.json")),
    );
    let before = sandbox.snapshot();
    sandbox.install(&[]).assert().success();
    assert_ne!(sandbox.snapshot(), before);
    sandbox.uninstall().assert().success();
    let mut after = sandbox.snapshot();
    // The backups install kept stay; everything else is as it was.
    for name in [
        ".codex/hooks.json",
        ".codex/config.toml",
        ".claude/settings.json",
    ] {
        let backup = PathBuf::from(format!("home/{name}.ralph-hook.bak"));
        let original = before.get(&PathBuf::from(format!("home/{name}"))).unwrap();
        assert_eq!(after.remove(&backup).as_ref(), Some(original), "{name}");
    }
    assert_eq!(after, before);
}

#[test]
fn install_then_uninstall_in_empty_homes_leaves_them_empty() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.codex()).unwrap();
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    let before = sandbox.snapshot();
    sandbox.install(&[]).assert().success();
    sandbox.uninstall().assert().success();
    assert_eq!(sandbox.snapshot(), before);
}

#[test]
fn uninstall_after_user_edits_removes_only_ralph_hooks_entries() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let hooks_path = sandbox.codex().join("hooks.json");
    let mut hooks: serde_json::Value = serde_json::from_str(&read(&hooks_path)).unwrap();
    hooks["hooks"]["SessionStart"] =
        serde_json::json!([{"hooks": [{"type": "command", "command": "echo hi"}]}]);
    sandbox.write(&hooks_path, &serde_json::to_string_pretty(&hooks).unwrap());
    let config = sandbox.codex().join("config.toml");
    sandbox.write(&config, &format!("model = \"o3\"\n{}", read(&config)));
    let settings_path = sandbox.claude().join("settings.json");
    let mut settings: serde_json::Value = serde_json::from_str(&read(&settings_path)).unwrap();
    settings["model"] = "opus".into();
    sandbox.write(
        &settings_path,
        &serde_json::to_string_pretty(&settings).unwrap(),
    );

    sandbox.uninstall().assert().success();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&read(&hooks_path)).unwrap(),
        serde_json::json!({"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "echo hi"}]}]}})
    );
    assert_eq!(read(&config), "model = \"o3\"\n");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&read(&settings_path)).unwrap(),
        serde_json::json!({"model": "opus"})
    );
    assert!(!sandbox.codex().join("hooks/ralph-hook").exists());
    assert!(!sandbox.codex().join("skills/ralph-loop").exists());
}

/// Compares a file install wrote with a fixture in which `$HOME_DIR` stands for the home.
#[track_caller]
fn assert_fixture(actual: &Path, expected: &Path, home: &Path) {
    let expected = read(expected).replace("$HOME_DIR", &home.display().to_string());
    assert_eq!(read(actual), expected, "{}", actual.display());
}

#[test]
fn other_hooks_keep_their_places_and_indentation() {
    let sandbox = Sandbox::new();
    let case = Path::new(REPO).join("tests/fixtures/install/hooks-json/other-hooks");
    let hooks = sandbox.codex().join("hooks.json");
    sandbox.write(&hooks, &read(&case.join("in.json")));
    let output = sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains("joins their reasons"),
        "{}",
        stdout_of(&output)
    );
    assert_fixture(&hooks, &case.join("out.json"), &sandbox.codex());
}

#[test]
fn a_cmux_owned_stop_is_left_alone_and_the_entry_point_installed() {
    let sandbox = Sandbox::new();
    let case = Path::new(REPO).join("tests/fixtures/install/hooks-json/cmux-dispatcher");
    let hooks = sandbox.codex().join("hooks.json");
    sandbox.write(&hooks, &read(&case.join("in.json")));
    let output = sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains("owned by the dispatcher"),
        "{}",
        stdout_of(&output)
    );
    assert_fixture(&hooks, &case.join("out.json"), &sandbox.codex());
    assert_eq!(
        read(&sandbox.codex().join("hooks/ralph-loop-stop.sh")),
        read(&Path::new(REPO).join("hooks/ralph-loop-stop.sh"))
    );
}

#[test]
fn claude_settings_keep_the_users_values_and_tabs() {
    let sandbox = Sandbox::new();
    let case = Path::new(REPO).join("tests/fixtures/install/settings-json/user-settings");
    let settings = sandbox.claude().join("settings.json");
    sandbox.write(&settings, &read(&case.join("in.json")));
    sandbox
        .ralph(&["install", "--agent", "claude"])
        .assert()
        .success();
    assert_fixture(&settings, &case.join("out.json"), &sandbox.claude());
    sandbox
        .ralph(&["uninstall", "--agent", "claude"])
        .assert()
        .success();
    assert_eq!(read(&settings), read(&case.join("in.json")));
}

#[test]
fn a_higher_block_cap_of_the_user_is_left_alone() {
    let sandbox = Sandbox::new();
    let settings = sandbox.claude().join("settings.json");
    let text = "{\n  \"env\": {\n    \"CLAUDE_CODE_STOP_HOOK_BLOCK_CAP\": \"5000\"\n  }\n}\n";
    sandbox.write(&settings, text);
    sandbox
        .ralph(&["install", "--agent", "claude"])
        .assert()
        .success();
    let value: serde_json::Value = serde_json::from_str(&read(&settings)).unwrap();
    assert_eq!(value["env"]["CLAUDE_CODE_STOP_HOOK_BLOCK_CAP"], "5000");
}

#[test]
fn tricky_config_toml_files_are_edited_and_restored_exactly() {
    let cases = Path::new(REPO).join("tests/fixtures/install/config-toml");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    assert!(names.len() >= 6);
    for case in names {
        let sandbox = Sandbox::new();
        let config = sandbox.codex().join("config.toml");
        let input = std::fs::read(case.join("in.toml")).unwrap();
        std::fs::create_dir_all(sandbox.codex()).unwrap();
        std::fs::write(&config, &input).unwrap();
        // Some cases switch hooks off; the flag lets install switch them on.
        sandbox
            .ralph(&[
                "install",
                "--agent",
                "codex",
                "--no-trust",
                "--enable-hooks",
            ])
            .assert()
            .success();
        assert_eq!(
            String::from_utf8(std::fs::read(&config).unwrap()).unwrap(),
            read(&case.join("out.toml")),
            "case {}",
            case.display()
        );
        sandbox
            .ralph(&["uninstall", "--agent", "codex"])
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&config).unwrap(),
            input,
            "case {}",
            case.display()
        );
    }
}

#[test]
fn malformed_files_stop_everything_with_file_line_and_column() {
    let cases: [(&str, &str, &str); 4] = [
        (
            ".codex/hooks.json",
            "{\n  \"hooks\": {\n    \"Stop\": [,]\n  }\n}\n",
            "hooks.json:3:14",
        ),
        (
            ".codex/config.toml",
            "model = \"o3\"\n[features\nhooks = true\n",
            "config.toml:2:",
        ),
        (
            ".claude/settings.json",
            "{\"env\": {\"A\": 1,}}",
            "settings.json:1:17",
        ),
        (
            ".codex/hooks.json",
            "{\"hooks\": {}, \"version\": 2}",
            "\"version\"",
        ),
    ];
    for (file, text, expected) in cases {
        let sandbox = Sandbox::new();
        sandbox.write(&sandbox.home().join(file), text);
        std::fs::create_dir_all(sandbox.claude()).unwrap();
        std::fs::create_dir_all(sandbox.codex()).unwrap();
        let before = sandbox.snapshot();
        sandbox
            .install(&[])
            .assert()
            .code(65)
            .stderr(predicate::str::contains(expected));
        assert_eq!(
            sandbox.snapshot(),
            before,
            "{file}: nothing written anywhere"
        );
    }
}

#[test]
fn a_stop_event_that_is_not_an_array_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.write(
        &sandbox.codex().join("hooks.json"),
        "{\"hooks\": {\"Stop\": {\"hooks\": []}}}",
    );
    let before = sandbox.snapshot();
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .code(65)
        .stderr(predicate::str::contains("\"Stop\" must be an array"));
    assert_eq!(sandbox.snapshot(), before);
}

#[test]
fn an_unwritable_place_leaves_no_half_done_install() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    // `skills` is a file where install needs a folder: the Codex part cannot be written.
    sandbox.write(&sandbox.codex().join("skills"), "not a folder");
    let before = sandbox.snapshot();
    sandbox
        .install(&[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing was changed"));
    assert_eq!(sandbox.snapshot(), before);
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_file_is_edited_through_the_link() {
    let sandbox = Sandbox::new();
    let real = sandbox.dir.path().join("dotfiles/hooks.json");
    sandbox.write(&real, "{}\n");
    std::fs::create_dir_all(sandbox.codex()).unwrap();
    let link = sandbox.codex().join("hooks.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(read(&real).contains("ralph-hook\\\" stop --agent codex"));
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(read(&real), "{}\n");
}

#[cfg(unix)]
#[test]
fn symlink_mode_follows_a_rebuilt_binary() {
    let sandbox = Sandbox::new();
    let build = sandbox.dir.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    let built = build.join("ralph-hook");
    std::fs::copy(assert_cmd::cargo::cargo_bin("ralph-hook"), &built).unwrap();
    sandbox
        .run(
            &built,
            &[
                "install",
                "--agent",
                "codex",
                "--no-trust",
                "--mode",
                "symlink",
            ],
        )
        .assert()
        .success();
    let installed = sandbox.codex().join("hooks/ralph-hook");
    assert_eq!(
        std::fs::read_link(&installed).unwrap(),
        std::fs::canonicalize(&built).unwrap()
    );
    // A rebuild replaces the file at the same path; the installed link runs the new one.
    std::fs::remove_file(&built).unwrap();
    std::fs::write(&built, "#!/bin/sh\necho rebuilt\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&built, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Command::new(&installed)
        .assert()
        .success()
        .stdout("rebuilt\n");
}

#[test]
fn dry_run_prints_the_plan_and_diffs_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let fixtures = Path::new(REPO).join("tests/fixtures/install");
    sandbox.write(
        &sandbox.codex().join("config.toml"),
        &read(&fixtures.join("config-toml/comments/in.toml")),
    );
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    let before = sandbox.snapshot();
    let output = sandbox
        .ralph(&["install", "--agent", "all", "--dry-run"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = stdout_of(&output);
    assert!(stdout.contains("+hooks = true"), "{stdout}");
    assert!(stdout.contains("--- /dev/null"), "{stdout}");
    assert!(stdout.contains("dry run: nothing was written"), "{stdout}");
    assert_eq!(sandbox.snapshot(), before);

    sandbox.install(&[]).assert().success();
    let installed = sandbox.snapshot();
    let output = sandbox
        .ralph(&["uninstall", "--agent", "all", "--dry-run"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains("-hooks = true"),
        "{}",
        stdout_of(&output)
    );
    assert_eq!(sandbox.snapshot(), installed);
}

#[test]
fn dry_run_lists_the_path_copy_record_and_the_trust_step_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let copy = sandbox.dir.path().join("bin/ralph-hook");
    let copy_arg = copy.display().to_string();
    let record = sandbox.home().join("state/path-copy");
    let config = sandbox.codex().join("config.toml");
    std::fs::create_dir_all(sandbox.codex()).unwrap();
    let before = sandbox.snapshot();
    let args = [
        "install",
        "--agent",
        "codex",
        "--codex-bin",
        "/nonexistent/codex",
        "--path-copy",
        &copy_arg,
        "--dry-run",
    ];
    let output = sandbox.ralph(&args).assert().success().get_output().clone();
    let stdout = stdout_of(&output);
    for expected in [
        format!("would install for the copy on PATH, {copy_arg}:"),
        format!(
            "  {}: record where the copy is (`ralph-hook uninstall --purge` removes exactly it)",
            record.display()
        ),
        format!("+{copy_arg}"),
        format!("would trust for Codex in {}:", sandbox.codex().display()),
        format!(
            "  {}: trust ralph-hook's handlers that Codex does not trust yet",
            config.display()
        ),
        format!(
            "  {}: note the trust entries",
            sandbox
                .codex()
                .join("hooks/ralph-hook.install.json")
                .display()
        ),
    ] {
        assert!(stdout.contains(&expected), "no {expected:?} in\n{stdout}");
    }
    assert_eq!(sandbox.snapshot(), before);

    let mut no_trust = args.to_vec();
    no_trust.push("--no-trust");
    let output = sandbox
        .ralph(&no_trust)
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        !stdout_of(&output).contains("would trust"),
        "{}",
        stdout_of(&output)
    );

    // The record is written with the hooks, in the same plan.
    sandbox
        .ralph(&args[..args.len() - 1])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "install for the copy on PATH, {copy_arg}:"
        )));
    assert_eq!(read(&record), format!("{copy_arg}\n"));
}

#[test]
fn a_path_copy_record_that_cannot_be_written_leaves_no_half_done_install() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    let blocker = sandbox.dir.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let before = sandbox.snapshot();
    let copy = sandbox.dir.path().join("bin/ralph-hook");
    sandbox
        .install(&["--path-copy", copy.to_str().unwrap()])
        .env("RALPH_HOOK_STATE_DIR", blocker.join("state"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("nothing was changed"));
    assert_eq!(sandbox.snapshot(), before);
}

#[test]
fn the_snippets_in_hooks_match_what_install_writes() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let repo = Path::new(REPO).join("hooks");
    let codex = read(&sandbox.codex().join("hooks.json"))
        .replace(&sandbox.codex().display().to_string(), "$HOME/.codex");
    assert_eq!(codex, read(&repo.join("codex-hooks.json")));
    let claude = read(&sandbox.claude().join("settings.json"))
        .replace(&sandbox.claude().display().to_string(), "$HOME/.claude");
    assert_eq!(claude, read(&repo.join("claude-settings.json")));
    assert_eq!(
        std::fs::read(sandbox.codex().join("hooks/ralph-loop-stop.sh")).unwrap(),
        std::fs::read(repo.join("ralph-loop-stop.sh")).unwrap()
    );
}

#[test]
fn without_codex_install_succeeds_and_says_how_to_trust() {
    let sandbox = Sandbox::new();
    let missing = sandbox.dir.path().join("no-codex-here");
    sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            missing.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("/hooks"));
}

#[test]
fn doctor_fails_with_fixes_when_nothing_is_installed() {
    let sandbox = Sandbox::new();
    sandbox
        .ralph(&["doctor", "--codex-bin", "/nonexistent/codex"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("✗ binary"))
        .stdout(predicate::str::contains(
            "fix: ralph-hook install --agent codex",
        ));
}

#[test]
fn doctor_reports_untrusted_hooks_and_a_low_block_cap() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let settings = sandbox.claude().join("settings.json");
    let text = read(&settings).replace("\"1000\"", "\"20\"");
    sandbox.write(&settings, &text);
    let output = sandbox
        .ralph(&["doctor", "--codex-bin", "/nonexistent/codex"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = stdout_of(&output);
    assert!(stdout.contains("✓ UserPromptSubmit handler"), "{stdout}");
    assert!(stdout.contains("✗ no trust entries"), "{stdout}");
    assert!(
        stdout.contains("✗ Claude Code's Stop block cap is 20"),
        "{stdout}"
    );
}

/// The Codex CLI the end-to-end tests use: `$RALPH_E2E_AGENTS` (default `<repo>/.e2e-agents`),
/// else `codex` on PATH.
fn find_codex() -> Option<PathBuf> {
    let agents = std::env::var_os("RALPH_E2E_AGENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO).join(".e2e-agents"));
    let pinned = agents.join("node_modules/.bin/codex");
    if pinned.is_file() {
        return Some(pinned);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("codex"))
        .find(|candidate| candidate.is_file())
}

#[test]
fn the_real_codex_app_server_reports_the_installed_hooks_as_trusted() {
    let Some(codex) = find_codex() else {
        if std::env::var("RALPH_E2E_REQUIRE").as_deref() == Ok("1") {
            panic!(
                "codex 0.169.0 not installed and RALPH_E2E_REQUIRE=1: run install/e2e-agents.sh"
            );
        }
        eprintln!("SKIP: codex 0.169.0 not installed: run install/e2e-agents.sh");
        return;
    };
    let codex = codex.to_str().expect("UTF-8 path");
    let sandbox = Sandbox::new();
    // Another Stop hook first, so ralph-hook's handler is not at index 0.
    let original = "{\"hooks\": {\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"true\"}]}]}}\n";
    sandbox.write(&sandbox.codex().join("hooks.json"), original);
    sandbox
        .ralph(&["install", "--agent", "codex", "--codex-bin", codex])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "codex app-server confirms they are trusted",
        ))
        // The trust entries are a second phase of the plan, printed before they apply.
        .stdout(predicate::str::contains(format!(
            "trust for Codex in {}:\n  {}: trust ralph-hook's 3 handler(s)\n",
            sandbox.codex().display(),
            sandbox.codex().join("config.toml").display()
        )));
    let config = read(&sandbox.codex().join("config.toml"));
    let hooks_json = sandbox.codex().join("hooks.json");
    for key in ["user_prompt_submit:0:0", "stop:1:0"] {
        assert!(
            config.contains(&format!("[hooks.state.\"{}:{key}\"]", hooks_json.display())),
            "{config}"
        );
    }
    sandbox
        .ralph(&["install", "--agent", "codex", "--codex-bin", codex])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "already trusts ralph-hook's 3 handler(s)",
        ));
    sandbox
        .ralph(&["doctor", "--codex-bin", codex])
        .assert()
        .stdout(predicate::str::contains(
            "✓ Codex trusts ralph-hook's 3 handler(s)",
        ));
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    assert_eq!(read(&hooks_json), original);
    assert!(
        !sandbox.codex().join("config.toml").exists(),
        "install created it; uninstall removes it"
    );
}

#[test]
fn doctor_says_whether_a_stop_in_the_workspace_would_obey_its_loop() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let workspace = sandbox.dir.path().join("ws");
    make_git_dir(&workspace);
    let ws = workspace.to_str().expect("UTF-8 path");
    // A loop this user started, bound to a session: obeyed by that session.
    let mut start = Command::new(assert_cmd::cargo::cargo_bin("ralph-hook"));
    start
        .args([
            "start",
            "--workspace",
            ws,
            "--session",
            "S-1",
            "--prompt",
            "t",
        ])
        .env("HOME", sandbox.home())
        .env("RALPH_HOOK_STATE_DIR", sandbox.home().join("state"));
    start.assert().success();
    let output = sandbox
        .ralph(&[
            "doctor",
            "--workspace",
            ws,
            "--codex-bin",
            "/nonexistent/codex",
        ])
        .output()
        .expect("doctor");
    let text = stdout_of(&output);
    assert!(
        text.contains("✓ Codex loop at iteration 0/50: a stop of session S-1 there continues it"),
        "{text}"
    );
    // The same file seen by another user (another state folder) is not obeyed.
    let output = sandbox
        .ralph(&[
            "doctor",
            "--workspace",
            ws,
            "--codex-bin",
            "/nonexistent/codex",
        ])
        .env("RALPH_HOOK_STATE_DIR", sandbox.home().join("someone-else"))
        .output()
        .expect("doctor");
    assert_eq!(output.status.code(), Some(1));
    let text = stdout_of(&output);
    assert!(text.contains("NOT obeyed"), "{text}");
    assert!(
        text.contains(&format!("ralph-hook adopt --workspace {ws}")),
        "{text}"
    );
}

// ---- issue 15: other tools' trust, inline hooks, switched-off hooks, leftovers ----

/// The real codex, or `None` after printing why the test is skipped (a failure when
/// `RALPH_E2E_REQUIRE=1`).
fn real_codex() -> Option<PathBuf> {
    let found = find_codex();
    if found.is_none() {
        if std::env::var("RALPH_E2E_REQUIRE").as_deref() == Ok("1") {
            panic!(
                "codex 0.169.0 not installed and RALPH_E2E_REQUIRE=1: run install/e2e-agents.sh"
            );
        }
        eprintln!("SKIP: codex 0.169.0 not installed: run install/e2e-agents.sh");
    }
    found
}

/// What `codex app-server` answers to `hooks/list` for a Codex home: each hook as
/// `(key, command, trustStatus, currentHash)`, and the warnings and errors it reported.
struct HookList {
    hooks: Vec<(String, String, String, String)>,
    problems: Vec<String>,
}

impl HookList {
    #[track_caller]
    fn get(codex: &Path, home: &Path) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let mut child = std::process::Command::new(codex)
            .arg("app-server")
            .env("CODEX_HOME", home)
            .current_dir(home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run codex app-server");
        let mut stdin = child.stdin.take().expect("stdin");
        let cwd = home.display().to_string();
        for request in [
            serde_json::json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "install-test", "version": "0"}}}),
            serde_json::json!({"method": "initialized"}),
            serde_json::json!({"id": 2, "method": "hooks/list", "params": {"cwds": [cwd]}}),
        ] {
            writeln!(stdin, "{request}").expect("write to app-server");
        }
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if message["id"] == 2 {
                    let _ = sender.send(message);
                    return;
                }
            }
        });
        let answer = receiver.recv_timeout(std::time::Duration::from_secs(60));
        drop(stdin);
        let _ = child.kill();
        let _ = child.wait();
        let answer = answer.expect("hooks/list answered within 60 s");
        let mut list = HookList {
            hooks: Vec::new(),
            problems: Vec::new(),
        };
        for entry in answer["result"]["data"].as_array().expect("data") {
            for hook in entry["hooks"].as_array().expect("hooks") {
                let text = |key: &str| hook[key].as_str().unwrap_or_default().to_owned();
                list.hooks.push((
                    text("key"),
                    text("command"),
                    text("trustStatus"),
                    text("currentHash"),
                ));
            }
            for key in ["warnings", "errors"] {
                for problem in entry[key].as_array().into_iter().flatten() {
                    list.problems.push(problem.to_string());
                }
            }
        }
        list
    }

    /// The hook whose command is `command`: `(key, trustStatus, currentHash)`.
    #[track_caller]
    fn hook(&self, command: &str) -> (String, String, String) {
        let (key, _, status, hash) = self
            .hooks
            .iter()
            .find(|hook| hook.1 == command)
            .unwrap_or_else(|| panic!("codex lists no hook `{command}`: {:?}", self.hooks));
        (key.clone(), status.clone(), hash.clone())
    }
}

/// Trusts a hook as Codex's own /hooks does: its key and current hash in config.toml.
#[track_caller]
fn trust_as_codex_does(codex: &Path, home: &Path, command: &str) -> String {
    let (key, _, hash) = HookList::get(codex, home).hook(command);
    let config = home.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(&format!(
        "\n[hooks.state.\"{key}\"]\ntrusted_hash = \"{hash}\"\n"
    ));
    std::fs::write(&config, text).expect("write config.toml");
    assert_eq!(HookList::get(codex, home).hook(command).1, "trusted");
    key
}

#[track_caller]
fn append_stop_group(hooks_json: &Path, command: &str) {
    let mut value: serde_json::Value = serde_json::from_str(&read(hooks_json)).unwrap();
    value["hooks"]["Stop"]
        .as_array_mut()
        .expect("Stop array")
        .push(serde_json::json!({"hooks": [{"type": "command", "command": command}]}));
    std::fs::write(hooks_json, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[test]
fn uninstall_moves_the_trust_of_hooks_added_after_ours_with_them() {
    let sandbox = Sandbox::new();
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success();
    let hooks = sandbox.codex().join("hooks.json");
    // Two other tools append Stop groups after ralph-hook's and trust them; a third
    // tool's PreToolUse hook is trusted too.
    append_stop_group(&hooks, "/opt/a/notify");
    append_stop_group(&hooks, "/opt/b/audit");
    let mut value: serde_json::Value = serde_json::from_str(&read(&hooks)).unwrap();
    value["hooks"]["PreToolUse"] =
        serde_json::json!([{"hooks": [{"type": "command", "command": "/opt/c/guard"}]}]);
    std::fs::write(&hooks, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let h = hooks.display();
    let config = sandbox.codex().join("config.toml");
    let trusted = format!(
        "{}\n[hooks.state.\"{h}:stop:0:0\"]\ntrusted_hash = \"sha256:ours\"\n\n[hooks.state.\"{h}:stop:1:0\"]\ntrusted_hash = \"sha256:a\"\n\n[hooks.state.\"{h}:stop:2:0\"]\ntrusted_hash = \"sha256:b\"\nenabled = true\n\n[hooks.state.\"{h}:pre_tool_use:0:0\"]\ntrusted_hash = \"sha256:c\"\n",
        read(&config)
    );
    sandbox.write(&config, &trusted);

    let output = sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains("2 trust entries in config.toml moved"),
        "{}",
        stdout_of(&output)
    );
    assert_eq!(
        read(&config),
        format!(
            "[hooks.state.\"{h}:stop:0:0\"]\ntrusted_hash = \"sha256:a\"\n\n[hooks.state.\"{h}:stop:1:0\"]\ntrusted_hash = \"sha256:b\"\nenabled = true\n\n[hooks.state.\"{h}:pre_tool_use:0:0\"]\ntrusted_hash = \"sha256:c\"\n"
        )
    );
    let value: serde_json::Value = serde_json::from_str(&read(&hooks)).unwrap();
    assert_eq!(
        value["hooks"]["Stop"][0]["hooks"][0]["command"],
        "/opt/a/notify"
    );
    assert_eq!(
        value["hooks"]["Stop"][1]["hooks"][0]["command"],
        "/opt/b/audit"
    );
}

#[test]
fn install_moves_the_trust_of_a_hook_after_a_duplicate_it_removes() {
    let sandbox = Sandbox::new();
    let bin = sandbox.codex().join("hooks/ralph-hook");
    let stop = format!("\"{}\" stop --agent codex", bin.display());
    let hooks = sandbox.codex().join("hooks.json");
    sandbox.write(
        &hooks,
        &serde_json::to_string_pretty(&serde_json::json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": stop, "timeout": 600, "statusMessage": "ralph-hook: checking the loop"}]},
            {"hooks": [{"type": "command", "command": "/old/ralph-hook stop"}]},
            {"hooks": [{"type": "command", "command": "/opt/a/notify"}]},
        ]}}))
        .unwrap(),
    );
    let h = hooks.display();
    let config = sandbox.codex().join("config.toml");
    sandbox.write(
        &config,
        &format!(
            "[features]\nhooks = true\n\n[hooks.state.\"{h}:stop:1:0\"]\ntrusted_hash = \"sha256:old\"\n\n[hooks.state.\"{h}:stop:2:0\"]\ntrusted_hash = \"sha256:a\"\n"
        ),
    );
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success();
    let value: serde_json::Value = serde_json::from_str(&read(&hooks)).unwrap();
    assert_eq!(
        value["hooks"]["Stop"][1]["hooks"][0]["command"],
        "/opt/a/notify"
    );
    assert_eq!(value["hooks"]["Stop"].as_array().unwrap().len(), 2);
    assert_eq!(
        read(&config),
        format!(
            "[features]\nhooks = true\n\n[hooks.state.\"{h}:stop:1:0\"]\ntrusted_hash = \"sha256:a\"\n"
        )
    );
}

#[test]
fn the_real_codex_still_trusts_a_hook_added_after_ours_once_ralph_hook_is_uninstalled() {
    let Some(codex) = real_codex() else {
        return;
    };
    let sandbox = Sandbox::new();
    let home = sandbox.codex();
    std::fs::create_dir_all(&home).unwrap();
    sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            codex.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "codex app-server confirms they are trusted",
        ));
    append_stop_group(&home.join("hooks.json"), "/opt/other-tool/stop-hook");
    let key = trust_as_codex_does(&codex, &home, "/opt/other-tool/stop-hook");
    assert!(key.ends_with("hooks.json:stop:1:0"), "{key}");

    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    let list = HookList::get(&codex, &home);
    let (key, status, _) = list.hook("/opt/other-tool/stop-hook");
    assert!(key.ends_with("hooks.json:stop:0:0"), "{key}");
    assert_eq!(status, "trusted", "{:?}", list.hooks);
    assert_eq!(list.hooks.len(), 1, "{:?}", list.hooks);
}

#[test]
fn doctor_names_a_hook_whose_trust_stayed_behind_when_it_moved() {
    let Some(codex) = real_codex() else {
        return;
    };
    let sandbox = Sandbox::new();
    let home = sandbox.codex();
    sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            codex.to_str().unwrap(),
        ])
        .assert()
        .success();
    let hooks = home.join("hooks.json");
    append_stop_group(&hooks, "/opt/first/hook");
    append_stop_group(&hooks, "/opt/second/hook");
    let key = trust_as_codex_does(&codex, &home, "/opt/second/hook");
    // Another tool's uninstaller drops its group without moving anyone's trust.
    let mut value: serde_json::Value = serde_json::from_str(&read(&hooks)).unwrap();
    value["hooks"]["Stop"].as_array_mut().unwrap().remove(1);
    std::fs::write(&hooks, serde_json::to_string_pretty(&value).unwrap()).unwrap();

    let output = sandbox
        .ralph(&["doctor", "--codex-bin", codex.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "✗ `/opt/second/hook` lost its trust: it is {}:stop:1:0 now, but config.toml trusts it as {key}",
            hooks.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ Codex trusts ralph-hook's 3 handler(s)"),
        "{stdout}"
    );
}

#[test]
fn hooks_inline_in_config_toml_get_ours_inline_too_and_no_hooks_json() {
    let sandbox = Sandbox::new();
    let case = Path::new(REPO).join("tests/fixtures/install/inline-hooks");
    let config = sandbox.codex().join("config.toml");
    sandbox.write(&config, &read(&case.join("in.toml")));
    let output = sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains("your Codex hooks are written in config.toml"),
        "{}",
        stdout_of(&output)
    );
    assert_fixture(&config, &case.join("out.toml"), &sandbox.codex());
    assert!(!sandbox.codex().join("hooks.json").exists());
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to change"));
    sandbox
        .ralph(&["doctor", "--codex-bin", "/nonexistent/codex"])
        .assert()
        .stdout(predicate::str::contains(format!(
            "✓ Stop handler in {} runs the binary",
            config.display()
        )));
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    assert_eq!(read(&config), read(&case.join("in.toml")));
    assert!(!sandbox.codex().join("hooks.json").exists());
}

#[test]
fn the_real_codex_trusts_inline_hooks_without_a_warning_and_keeps_the_users_trusted() {
    let Some(codex) = real_codex() else {
        return;
    };
    let sandbox = Sandbox::new();
    let home = sandbox.codex();
    let config = home.join("config.toml");
    sandbox.write(
        &config,
        "model = \"o3\"\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"/opt/mine/stop\"\n",
    );
    trust_as_codex_does(&codex, &home, "/opt/mine/stop");
    sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            codex.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "codex app-server confirms they are trusted",
        ));
    assert!(!home.join("hooks.json").exists());
    let list = HookList::get(&codex, &home);
    assert!(list.problems.is_empty(), "{:?}", list.problems);
    // The user's Stop, and ralph-hook's UserPromptSubmit, Stop and SessionEnd.
    assert_eq!(list.hooks.len(), 4, "{:?}", list.hooks);
    for (key, command, status, _) in &list.hooks {
        assert!(key.starts_with(&config.display().to_string()), "{key}");
        assert_eq!(status, "trusted", "{command}");
    }
    // The user adds a hook after ralph-hook's and trusts it; uninstall keeps it trusted.
    let mut text = read(&config);
    text.push_str("\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"/opt/mine/later\"\n");
    std::fs::write(&config, text).unwrap();
    let key = trust_as_codex_does(&codex, &home, "/opt/mine/later");
    assert!(key.ends_with("config.toml:stop:2:0"), "{key}");
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    let list = HookList::get(&codex, &home);
    assert_eq!(list.hooks.len(), 2, "{:?}", list.hooks);
    assert_eq!(list.hook("/opt/mine/stop").1, "trusted");
    let (key, status, _) = list.hook("/opt/mine/later");
    assert!(key.ends_with("config.toml:stop:1:0"), "{key}");
    assert_eq!(status, "trusted");
    assert!(!read(&config).contains("ralph-hook"), "{}", read(&config));
}

#[test]
fn hooks_switched_off_are_switched_on_only_with_enable_hooks_and_off_again_on_uninstall() {
    let sandbox = Sandbox::new();
    let config = sandbox.codex().join("config.toml");
    let original = "model = \"o3\"\n\n[features]\nhooks = false # not now\n";
    sandbox.write(&config, original);
    sandbox.write(
        &sandbox.codex().join("hooks.json"),
        "{\"hooks\": {\"PreToolUse\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"/opt/guard\"}]}]}}\n",
    );
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    let before = sandbox.snapshot();
    sandbox
        .install(&[])
        .assert()
        .code(65)
        .stderr(predicate::str::contains(
            "`hooks = false` switches every Codex hook off",
        ))
        .stderr(predicate::str::contains(
            "re-enables every other hook you have too (1 other handler(s)",
        ))
        .stderr(predicate::str::contains("--enable-hooks"));
    assert_eq!(
        sandbox.snapshot(),
        before,
        "nothing written for either host"
    );

    sandbox.install(&["--enable-hooks"]).assert().success();
    assert_eq!(
        read(&config),
        "model = \"o3\"\n\n[features]\nhooks = true # not now\n"
    );
    sandbox.uninstall().assert().success();
    assert_eq!(read(&config), original);
}

#[test]
fn doctor_says_enable_hooks_when_hooks_are_switched_off() {
    let sandbox = Sandbox::new();
    sandbox.install(&[]).assert().success();
    let config = sandbox.codex().join("config.toml");
    sandbox.write(&config, "[features]\nhooks = false\n");
    sandbox
        .ralph(&["doctor", "--codex-bin", "/nonexistent/codex"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "fix: ralph-hook install --enable-hooks --agent codex",
        ));
}

#[test]
fn a_fresh_codex_home_gets_no_backup_and_loses_the_config_toml_install_created() {
    // After install, Codex itself trusted ralph-hook's Stop handler (its own /hooks
    // writes config.toml), so the file is no longer byte for byte what install wrote.
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.codex()).unwrap();
    let before = sandbox.snapshot();
    sandbox
        .ralph(&["install", "--agent", "codex", "--no-trust"])
        .assert()
        .success();
    let config = sandbox.codex().join("config.toml");
    let key = format!("{}:stop:0:0", sandbox.codex().join("hooks.json").display());
    sandbox.write(
        &config,
        &format!(
            "[features]\nhooks = true\n\n[hooks.state.\"{key}\"]\ntrusted_hash = \"sha256:1\"\n"
        ),
    );
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    assert_eq!(sandbox.snapshot(), before);
}

#[test]
fn the_real_codex_trust_step_leaves_no_backup_of_a_config_toml_the_user_never_had() {
    let Some(codex) = real_codex() else {
        return;
    };
    let sandbox = Sandbox::new();
    let home = sandbox.codex();
    std::fs::create_dir_all(&home).unwrap();
    sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            codex.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "codex app-server confirms they are trusted",
        ));
    sandbox
        .ralph(&["uninstall", "--agent", "codex"])
        .assert()
        .success();
    // codex app-server keeps its own databases in the home; ralph-hook leaves nothing.
    for name in [
        "config.toml",
        "config.toml.ralph-hook.bak",
        "hooks.json",
        "hooks.json.ralph-hook.bak",
        "hooks",
        "skills/ralph-loop",
    ] {
        assert!(!home.join(name).exists(), "{name} is left behind");
    }
}

#[test]
fn a_byte_order_mark_is_kept_and_dropped_only_where_codex_cannot_read_it() {
    let sandbox = Sandbox::new();
    let settings = sandbox.claude().join("settings.json");
    let config = sandbox.codex().join("config.toml");
    let hooks = sandbox.codex().join("hooks.json");
    let settings_text = "\u{feff}{\n  \"model\": \"opus\"\n}\n";
    let config_text = "\u{feff}model = \"o3\"\n";
    let hooks_text = "\u{feff}{\"hooks\": {}}\n";
    sandbox.write(&settings, settings_text);
    sandbox.write(&config, config_text);
    sandbox.write(&hooks, hooks_text);
    let output = sandbox.install(&[]).assert().success().get_output().clone();
    assert!(
        read(&settings).starts_with('\u{feff}'),
        "{}",
        read(&settings)
    );
    assert!(read(&settings).contains("\"model\": \"opus\""));
    assert!(
        read(&config).starts_with("\u{feff}model = \"o3\"\n"),
        "{}",
        read(&config)
    );
    // Codex 0.169 reports "expected value at line 1 column 1" for a hooks.json with a BOM.
    assert!(read(&hooks).starts_with('{'), "{}", read(&hooks));
    assert!(
        stdout_of(&output).contains("byte order mark, which Codex 0.169 cannot read"),
        "{}",
        stdout_of(&output)
    );
    sandbox.uninstall().assert().success();
    assert_eq!(read(&settings), settings_text);
    assert_eq!(read(&config), config_text);
    assert_eq!(read(&hooks), hooks_text);
}

#[test]
fn uninstall_after_claude_code_rewrote_settings_leaves_no_empty_hooks_object() {
    // Claude Code rewrites settings.json on start; then uninstall cannot restore bytes and
    // removes entries one by one.
    let claude_rewrite = |path: &Path| {
        let value: serde_json::Value = serde_json::from_str(&read(path)).unwrap();
        std::fs::write(path, serde_json::to_string(&value).unwrap()).unwrap();
    };
    let sandbox = Sandbox::new();
    let settings = sandbox.claude().join("settings.json");
    sandbox.write(&settings, "{\n  \"model\": \"opus\"\n}\n");
    sandbox
        .ralph(&["install", "--agent", "claude"])
        .assert()
        .success();
    claude_rewrite(&settings);
    sandbox
        .ralph(&["uninstall", "--agent", "claude"])
        .assert()
        .success();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&read(&settings)).unwrap(),
        serde_json::json!({"model": "opus"})
    );

    // A settings.json install created goes, without a backup, when nothing else is in it.
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.claude()).unwrap();
    let before = sandbox.snapshot();
    let settings = sandbox.claude().join("settings.json");
    sandbox
        .ralph(&["install", "--agent", "claude"])
        .assert()
        .success();
    claude_rewrite(&settings);
    sandbox
        .ralph(&["uninstall", "--agent", "claude"])
        .assert()
        .success();
    assert_eq!(sandbox.snapshot(), before);
}

/// Runs `ralph-hook` as a user without root's power to write any file: as itself when
/// the tests run unprivileged, else as `nobody` through setpriv, with the sandbox handed
/// to that user.
#[cfg(unix)]
struct Unprivileged {
    /// The uid and gid to run as, when switching from root.
    switch_to: Option<(u32, u32)>,
    /// A copy of the binary that user can run (the build folder may be closed to it).
    bin: TempDir,
}

#[cfg(unix)]
impl Unprivileged {
    /// `None` (after saying why) when running as root without setpriv.
    fn new(sandbox: &Sandbox) -> Option<Self> {
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<u32>().ok())?;
        let switch_to = if uid == 0 {
            let setpriv = std::process::Command::new("setpriv")
                .arg("--version")
                .output();
            if !setpriv.is_ok_and(|out| out.status.success()) {
                eprintln!(
                    "SKIP: running as root without setpriv: cannot test as an unprivileged user"
                );
                return None;
            }
            Some((65534, 65534))
        } else {
            None
        };
        let bin = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            assert_cmd::cargo::cargo_bin("ralph-hook"),
            bin.path().join("ralph-hook"),
        )
        .expect("copy the binary");
        std::fs::create_dir_all(sandbox.home()).unwrap();
        if let Some(ids) = switch_to {
            chown_tree(bin.path(), ids);
            chown_tree(sandbox.dir.path(), ids);
        }
        Some(Unprivileged { switch_to, bin })
    }

    /// The binary as that user, with the sandbox's environment and homes.
    fn ralph(&self, sandbox: &Sandbox, args: &[&str]) -> Command {
        let bin = self.bin.path().join("ralph-hook");
        match self.switch_to {
            None => sandbox.run(&bin, args),
            Some((uid, gid)) => {
                let mut setpriv = Command::new("setpriv");
                setpriv
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(&bin);
                sandbox.sealed(setpriv, args)
            }
        }
    }
}

#[cfg(unix)]
fn chown_tree(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("chown");
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir()) {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&entry.path(), (uid, gid));
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_config_file_is_refused_and_the_message_says_how_to_proceed() {
    for (agent, file) in [
        ("codex", ".codex/config.toml"),
        ("claude", ".claude/settings.json"),
    ] {
        let text = if file.ends_with(".toml") {
            "model = \"o3\"\n"
        } else {
            "{\n  \"model\": \"opus\"\n}\n"
        };
        // The same files, writable: the unprivileged user installs and uninstalls fine.
        let sandbox = Sandbox::new();
        sandbox.write(&sandbox.home().join(file), text);
        let Some(user) = Unprivileged::new(&sandbox) else {
            return;
        };
        user.ralph(&sandbox, &["install", "--agent", agent, "--no-trust"])
            .assert()
            .success();
        user.ralph(&sandbox, &["uninstall", "--agent", agent])
            .assert()
            .success();
        assert_eq!(read(&sandbox.home().join(file)), text);

        // Read-only (as a dotfiles manager leaves it): refused, nothing written.
        let sandbox = Sandbox::new();
        let path = sandbox.home().join(file);
        sandbox.write(&path, text);
        let user = Unprivileged::new(&sandbox).expect("as above");
        set_mode(&path, 0o444);
        let before = sandbox.snapshot();
        user.ralph(&sandbox, &["install", "--agent", agent, "--no-trust"])
            .assert()
            .code(65)
            .stderr(predicate::str::contains(format!(
                "{}: is read-only (mode 0444), so ralph-hook leaves it alone (nothing was changed)",
                path.display()
            )))
            .stderr(predicate::str::contains(format!(
                "chmod u+w {}",
                path.display()
            )));
        assert_eq!(sandbox.snapshot(), before, "{file}");

        // Made read-only after install: uninstall refuses the same way.
        set_mode(&path, 0o644);
        user.ralph(&sandbox, &["install", "--agent", agent, "--no-trust"])
            .assert()
            .success();
        set_mode(&path, 0o444);
        let installed = sandbox.snapshot();
        user.ralph(&sandbox, &["uninstall", "--agent", agent])
            .assert()
            .code(65)
            .stderr(predicate::str::contains("is read-only (mode 0444)"));
        assert_eq!(sandbox.snapshot(), installed, "{file}");
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_config_toml_gets_the_trust_entries_to_add_by_hand() {
    let Some(codex) = real_codex() else {
        return;
    };
    let sandbox = Sandbox::new();
    let home = sandbox.codex();
    let config = home.join("config.toml");
    sandbox.write(&config, "[features]\nhooks = true\n");
    set_mode(&config, 0o444);
    let output = sandbox
        .ralph(&[
            "install",
            "--agent",
            "codex",
            "--codex-bin",
            codex.to_str().unwrap(),
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = stdout_of(&output);
    assert!(stdout.contains("is read-only (mode 0444)"), "{stdout}");
    assert_eq!(read(&config), "[features]\nhooks = true\n");
    let (_, entries) = stdout
        .split_once("add these entries to config.toml (or its source):\n")
        .unwrap_or_else(|| panic!("{stdout}"));
    // The user adds them (in the dotfiles source, then deploys): Codex trusts the hooks.
    set_mode(&config, 0o644);
    sandbox.write(&config, &format!("[features]\nhooks = true\n\n{entries}"));
    let list = HookList::get(&codex, &home);
    // UserPromptSubmit, Stop and SessionEnd.
    assert_eq!(list.hooks.len(), 3, "{:?}", list.hooks);
    assert!(
        list.hooks.iter().all(|hook| hook.2 == "trusted"),
        "{:?}",
        list.hooks
    );
}
