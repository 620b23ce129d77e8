//! Several loops at once (issue 23): `wait --any` and `wait --all` over workspaces,
//! and loops in git worktrees (`run --worktree`, `ralph-hook worktrees`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use crate::support::*;

const DONE: &str = "<promise>DONE</promise>";

/// A second workspace beside the world's, with a Codex loop bound to `session` in it.
fn second_workspace(world: &World, session: &str, extra: &[&str]) -> PathBuf {
    let ws2 = world.temp.path().join("ws2");
    make_git_dir(&ws2);
    let mut args = vec![
        "start",
        "--workspace",
        ws2.to_str().unwrap(),
        "--session",
        session,
        "--prompt",
        "Port the parser",
    ];
    args.extend_from_slice(extra);
    assert_success(&world.run(&args));
    ws2
}

/// `ralph-hook wait ARGS` in the world, started now, its output piped.
fn spawn_wait(world: &World, args: &[&str]) -> Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("ralph-hook"))
        .arg("wait")
        .args(args)
        .current_dir(&world.workspace)
        .env("HOME", &world.home)
        .env("RALPH_HOOK_STATE_DIR", &world.state_dir)
        .env("XDG_CONFIG_HOME", world.home.join(".config"))
        .env_remove("RALPH_HOOK_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether `child` is still running after a moment.
fn still_waits(child: &mut Child) -> bool {
    std::thread::sleep(Duration::from_millis(700));
    child.try_wait().unwrap().is_none()
}

fn ws(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn wait_all_returns_once_every_named_loop_ended_with_the_worst_code() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &["--max-iterations", "1"]);
    let mut child = spawn_wait(&world, &["--all", ws(&world.workspace), ws(&ws2)]);
    assert!(still_waits(&mut child), "both loops still run");
    world.stop(&codex_stop("S1", &world.workspace, Some(DONE)));
    assert!(still_waits(&mut child), "the second loop still runs");
    world.stop(&codex_stop("S2", &ws2, Some("one")));
    world.stop(&codex_stop("S2", &ws2, Some("two")));
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    // Completed (0) and the iteration cap (3): the cap is the worse.
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(text.lines().count(), 2, "one line each: {text}");
    assert!(text.contains("[completed]"), "{text}");
    assert!(text.contains("[max_iterations]"), "{text}");
    assert!(text.contains(ws(&ws2)), "{text}");
}

#[test]
fn wait_any_without_workspaces_watches_every_active_loop_and_names_the_first_to_end() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &[]);
    let mut child = spawn_wait(&world, &["--any"]);
    assert!(still_waits(&mut child), "no loop has ended");
    assert_success(&world.run(&["cancel", "--workspace", ws(&ws2)]));
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(6), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&format!("in {}", ws(&ws2))), "{text}");
    assert!(text.contains("[cancelled]"), "{text}");
    // The other loop runs on.
    assert!(world.record().is_some());
}

#[test]
fn wait_all_with_a_timeout_reports_the_loop_that_still_runs() {
    let world = World::new();
    world.start("S1", &[]);
    let ws2 = second_workspace(&world, "S2", &[]);
    world.stop(&codex_stop("S2", &ws2, Some(DONE)));
    let out = world.run(&[
        "wait",
        "--all",
        "--timeout",
        "500ms",
        ws(&world.workspace),
        ws(&ws2),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(text.contains("still runs after"), "{text}");
    assert!(text.contains("[completed]"), "{text}");
    let out = world.run(&["wait", "--any", "--timeout", "300ms", ws(&world.workspace)]);
    assert_eq!(out.status.code(), Some(8), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("none of the 1 loops ended"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wait_many_without_loops_exits_9_and_bad_combinations_are_usage_errors() {
    let world = World::new();
    let out = world.run(&["wait", "--all"]);
    assert_eq!(out.status.code(), Some(9), "{}", stdout(&out));
    assert!(stdout(&out).contains("No ralph loop runs in any workspace"));
    let out = world.run(&["wait", ws(&world.workspace)]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--any"), "{}", stderr(&out));
    for args in [
        &["wait", "--any", "--all"][..],
        &["wait", "--all", "--loop", "abc"][..],
    ] {
        let out = world.run(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
    }
}

// ---- loops in worktrees ----

/// `git ARGS` in `dir`, with a fixed identity and no user config; must succeed.
#[track_caller]
fn git(world: &World, dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("HOME", &world.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real repository `repo` in the world, one commit on `main`.
fn repository(world: &World) -> PathBuf {
    let repo = world.temp.path().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(world, &repo, &["init", "-q", "-b", "main"]);
    fs_err::write(repo.join("README"), "hello\n").unwrap();
    git(world, &repo, &["add", "."]);
    git(world, &repo, &["commit", "-qm", "init"]);
    repo
}

/// `start --worktree NAME` in `repo`, bound to `session`.
fn start_in_worktree(
    world: &World,
    repo: &Path,
    name: &str,
    session: &str,
) -> std::process::Output {
    world.run(&[
        "start",
        "--workspace",
        ws(repo),
        "--worktree",
        name,
        "--session",
        session,
        "--prompt",
        "Port the parser",
    ])
}

#[test]
fn start_worktree_makes_a_branch_and_folder_beside_the_repository_and_loops_there() {
    let world = World::new();
    let repo = repository(&world);
    let out = start_in_worktree(&world, &repo, "parser", "S1");
    assert_success(&out);
    let place = world.temp.path().join("repo.ralph/parser");
    assert!(place.join("README").is_file(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("on branch ralph/parser (from main)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        git(&world, &place, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "ralph/parser"
    );
    assert_eq!(
        git(
            &world,
            &place,
            &["rev-parse", "--abbrev-ref", "@{upstream}"]
        ),
        "main"
    );
    // A second loop at once, each its own workspace.
    assert_success(&start_in_worktree(&world, &repo, "docs", "S2"));
    let listed = json_out(&world.run(&["list", "--json"]));
    let workspaces: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["workspace"].as_str().unwrap().to_string())
        .collect();
    for name in ["parser", "docs"] {
        let path = fs_err::canonicalize(world.temp.path().join("repo.ralph").join(name)).unwrap();
        assert!(
            workspaces.contains(&path.display().to_string()),
            "{workspaces:?}"
        );
    }
    // The repository's own checkout is untouched.
    assert_eq!(
        git(&world, &repo, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
}

#[test]
fn worktree_errors_say_what_is_wrong_and_make_nothing() {
    let world = World::new();
    // The world's workspace has a `.git` git cannot read as a repository.
    let out = start_in_worktree(&world, &world.workspace, "a", "S");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a git repository"),
        "{}",
        stderr(&out)
    );
    let plain = world.temp.path().join("plain");
    fs_err::create_dir_all(&plain).unwrap();
    let out = start_in_worktree(&world, &plain, "a", "S");
    assert!(
        stderr(&out).contains("is not a git repository"),
        "{}",
        stderr(&out)
    );
    let repo = repository(&world);
    for bad in ["a/b", "..", "-x", "a\u{1b}b", "x.lock", "a b"] {
        let out = world.run(&[
            "start",
            "--workspace",
            ws(&repo),
            &format!("--worktree={bad}"),
            "--session",
            "S",
            "--prompt",
            "task",
        ]);
        assert_eq!(out.status.code(), Some(64), "{bad:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is not a worktree name"),
            "{}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains('\u{1b}'),
            "control characters are escaped"
        );
    }
    // `run` refuses the name before it looks for a client or launches anything.
    let out = world.run(&["run", "--workspace", ws(&repo), "--worktree=a/b", "task"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a worktree name"),
        "{}",
        stderr(&out)
    );
    git(&world, &repo, &["branch", "ralph/taken"]);
    let out = start_in_worktree(&world, &repo, "taken", "S");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the branch ralph/taken exists already"),
        "{}",
        stderr(&out)
    );
    fs_err::create_dir_all(world.temp.path().join("repo.ralph/squatted")).unwrap();
    let out = start_in_worktree(&world, &repo, "squatted", "S");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    git(&world, &repo, &["checkout", "-q", "--detach"]);
    let out = start_in_worktree(&world, &repo, "detached", "S");
    assert!(stderr(&out).contains("is detached"), "{}", stderr(&out));
    // No loop started anywhere, no branch made.
    assert_eq!(
        json_out(&world.run(&["list", "--json"])),
        serde_json::json!([])
    );
    assert_eq!(
        git(&world, &repo, &["branch", "--list", "ralph/*"]),
        "ralph/taken"
    );
}

#[test]
fn worktrees_lists_each_with_its_work_and_prune_removes_only_merged_clean_ones() {
    let world = World::new();
    let repo = repository(&world);
    for (name, session) in [("unmerged", "S1"), ("merged", "S2"), ("dirty", "S3")] {
        assert_success(&start_in_worktree(&world, &repo, name, session));
    }
    let root = world.temp.path().join("repo.ralph");
    fs_err::write(root.join("unmerged/work.txt"), "work\n").unwrap();
    git(&world, &root.join("unmerged"), &["add", "."]);
    git(&world, &root.join("unmerged"), &["commit", "-qm", "work"]);
    fs_err::write(root.join("dirty/notes.txt"), "draft\n").unwrap();
    let out = world.run(&["worktrees", "--workspace", ws(&repo)]);
    assert_success(&out);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4, "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("ralph/{name} ")))
            .unwrap_or_else(|| panic!("{name}: {text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // BRANCH BASE AHEAD CHANGES LOOP…
    assert_eq!(line("unmerged")[1..4], ["main", "1", "0"], "{text}");
    assert_eq!(line("dirty")[1..4], ["main", "0", "1"], "{text}");
    assert_eq!(line("merged")[4], "running", "{text}");
    // Asked from inside a worktree, the answer is about the same repository.
    let inside = world.run(&["worktrees", "--workspace", ws(&root.join("dirty"))]);
    assert_eq!(stdout(&inside), text);
    let json = json_out(&world.run(&["worktrees", "--workspace", ws(&repo), "--json"]));
    let unmerged = json
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["branch"] == "ralph/unmerged")
        .unwrap();
    assert_eq!(unmerged["ahead"], 1, "{json:#}");
    assert_eq!(unmerged["merged"], false, "{json:#}");
    assert_eq!(unmerged["loop_active"], true, "{json:#}");
    // A running loop keeps its worktree.
    let out = world.run(&[
        "worktrees",
        "--workspace",
        ws(&repo),
        "--prune",
        "--dry-run",
    ]);
    assert!(
        stdout(&out).contains("its loop still runs"),
        "{}",
        stdout(&out)
    );
    for name in ["unmerged", "merged", "dirty"] {
        let dir = root.join(name);
        assert_success(&world.run(&["cancel", "--workspace", ws(&dir)]));
    }
    let out = world.run(&[
        "worktrees",
        "--workspace",
        ws(&repo),
        "--prune",
        "--dry-run",
    ]);
    let said = stdout(&out);
    assert!(
        said.contains("would remove") && said.contains("ralph/merged"),
        "{said}"
    );
    assert!(root.join("merged").is_dir(), "a dry run removes nothing");
    let out = world.run(&["worktrees", "--workspace", ws(&repo), "--prune"]);
    assert_success(&out);
    let said = stdout(&out);
    assert!(said.contains("1 commit not merged into main"), "{said}");
    assert!(said.contains("1 change not committed"), "{said}");
    assert!(
        said.contains("removed") && said.contains("ralph/merged"),
        "{said}"
    );
    assert!(!root.join("merged").exists());
    assert!(root.join("unmerged/work.txt").is_file());
    assert!(root.join("dirty/notes.txt").is_file());
    assert_eq!(
        git(
            &world,
            &repo,
            &["branch", "--list", "ralph/*", "--format=%(refname:short)"]
        ),
        "ralph/dirty\nralph/unmerged"
    );
    let listed = stdout(&world.run(&["worktrees", "--workspace", ws(&repo)]));
    assert!(listed.contains("ended: cancelled"), "{listed}");
}

#[test]
fn a_hostile_repository_runs_no_filter_hook_or_fsmonitor_of_its_own() {
    let world = World::new();
    let repo = repository(&world);
    fs_err::write(repo.join(".gitattributes"), "* filter=evil\n").unwrap();
    git(&world, &repo, &["add", ".gitattributes"]);
    git(&world, &repo, &["commit", "-qm", "attributes"]);
    let marker = world.temp.path().join("ran");
    let touch = format!("sh -c 'echo ran >> {}; cat'", marker.display());
    for (key, value) in [
        ("filter.evil.smudge", touch.as_str()),
        ("filter.evil.clean", touch.as_str()),
        ("filter.evil.required", "true"),
        ("core.fsmonitor", touch.as_str()),
        ("diff.external", touch.as_str()),
    ] {
        git(&world, &repo, &["config", key, value]);
    }
    let hooks = repo.join(".git/hooks");
    fs_err::create_dir_all(&hooks).unwrap();
    let hook = hooks.join("post-checkout");
    fs_err::write(
        &hook,
        format!("#!/bin/sh\necho hook >> {}\n", marker.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_success(&start_in_worktree(&world, &repo, "hostile", "S"));
    let place = world.temp.path().join("repo.ralph/hostile");
    assert_eq!(
        fs_err::read_to_string(place.join("README")).unwrap(),
        "hello\n"
    );
    fs_err::write(place.join("README"), "changed\n").unwrap();
    let out = world.run(&["worktrees", "--workspace", ws(&repo)]);
    assert_success(&out);
    assert!(stdout(&out).contains("ralph/hostile"), "{}", stdout(&out));
    assert!(
        !marker.exists(),
        "the repository ran: {:?}",
        fs_err::read_to_string(&marker)
    );
}
